// Builds the optional native page compressor (native/: N-API, C, linking libdeflate, libsnappy
// and libzstd) with node-gyp when the package is installed. It can never fail the install: on any
// failure it says in one line that kdump compression uses the JavaScript codecs, and exits 0.
// SLICE86_NATIVE=0 skips the build. Inside npm scripts npm_config_node_gyp is npm's own node-gyp;
// Node's headers are taken from beside the running node when they are there, so no download.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'native');
const fallback = 'kdump compression uses the JavaScript codecs';

function giveUp(reason) {
  console.log(`slice86: native page compressor not built (${reason}); ${fallback}`);
  process.exit(0);
}

try {
  if (process.env.SLICE86_NATIVE === '0') giveUp('SLICE86_NATIVE=0');
  if (!existsSync(join(native, 'binding.gyp'))) giveUp('native/binding.gyp is missing');
  const prefix = join(dirname(process.execPath), '..');
  const gyp = [process.env.npm_config_node_gyp, join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')]
    .find((p) => p !== undefined && p !== '' && existsSync(p));
  if (gyp === undefined) giveUp('node-gyp not found (run through npm, which bundles it)');
  const args = [gyp, 'rebuild'];
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
  const run = spawnSync(process.execPath, args, { cwd: native, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  if (run.status !== 0) {
    const errors = `${run.stderr ?? ''}\n${run.stdout ?? ''}`.split('\n').filter((l) => /error|not found|No such file/i.test(l) && !l.startsWith('gyp info'));
    giveUp(run.error?.message ?? errors[0]?.trim() ?? `node-gyp exited with ${run.status}`);
  }
  console.log('slice86: built the native page compressor (native/build/Release/slice86_native.node)');
} catch (error) {
  giveUp(error instanceof Error ? error.message : String(error));
}
