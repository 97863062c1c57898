// Command line of the golden capture scripts: --build (re-assemble with nasm first) and
// --only a,b (a subset of the cases).
export function parseCaptureArgs(argv, usage) {
  const opts = { build: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--build') opts.build = true;
    else if (arg === '--only') opts.only = new Set(String(argv[++i] ?? '').split(','));
    else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}`);
  }
  return opts;
}
