// The browser side of the build, shared by scripts/build.mjs and the browser test (which builds
// into a scratch folder): the browser-safe ESM bundle with the zstd WebAssembly module beside it
// (the zstd codec fetches ./zstd.wasm relative to the bundle), and the demo page in web/ whose
// script imports that bundle as it is, so the page proves the published bundle runs in a browser.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };

/** dist/browser/slice86.js (or `<outdir>/browser/slice86.js`) and zstd.wasm beside it. */
export async function buildBrowserBundle(outdir = join(ROOT, 'dist')) {
  await build({ ...common, platform: 'browser', entryPoints: [join(ROOT, 'src/index.ts')], outfile: join(outdir, 'browser/slice86.js') });
  copyFileSync(join(ROOT, 'node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm'), join(outdir, 'browser/zstd.wasm'));
}

// The page's imports of the library (../src/index.js) become imports of the bundle itself.
const useBundle = {
  name: 'slice86-bundle',
  setup(b) {
    b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '../browser/slice86.js', external: true }));
  },
};

/** `<outdir>/web/`: index.html, demo.js (the page) and sw.js (the download service worker). */
export async function buildWebDemo(outdir = join(ROOT, 'dist')) {
  mkdirSync(join(outdir, 'web'), { recursive: true });
  await Promise.all([
    build({ ...common, platform: 'browser', entryPoints: [join(ROOT, 'web/demo.ts')], outfile: join(outdir, 'web/demo.js'), plugins: [useBundle] }),
    build({ ...common, platform: 'browser', format: 'iife', entryPoints: [join(ROOT, 'web/sw/sw.ts')], outfile: join(outdir, 'web/sw.js') }),
  ]);
  copyFileSync(join(ROOT, 'web/index.html'), join(outdir, 'web/index.html'));
}
