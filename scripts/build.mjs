// Builds slice86 with esbuild: the browser-safe ESM bundle (platform "browser": a Node built-in
// anywhere behind src/index.ts fails the build) and the web demo (scripts/build-web.mjs), the
// Node ESM entries (the portable one and "slice86/node" with its compression worker), the CLI and
// the benchmarks; then the type declarations with tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { buildBrowserBundle, buildWebDemo } from './build-web.mjs';

rmSync('dist', { recursive: true, force: true });
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
await Promise.all([
  // The browser bundle with zstd.wasm beside it, and the demo page (npm run demo:web).
  buildBrowserBundle().then(() => buildWebDemo()),
  build({ ...common, platform: 'node', entryPoints: ['src/index.ts'], outfile: 'dist/node/index.js', packages: 'external' }),
  // "slice86/node", and its compression worker beside it: the pool finds the worker through
  // new URL('./compress-worker.js', import.meta.url).
  build({ ...common, platform: 'node', entryPoints: ['src/node/index.ts'], outfile: 'dist/node/node.js', packages: 'external' }),
  // "slice86/v86": browser-safe, for Node and browsers alike; it takes the embedder's V86 instance
  // and bundles neither v86 nor anything of Node.
  build({ ...common, platform: 'browser', entryPoints: ['src/adapters/v86.ts'], outfile: 'dist/v86/v86.js', packages: 'external' }),
  build({ ...common, platform: 'node', entryPoints: ['src/node/compress-worker.ts'], outfile: 'dist/node/compress-worker.js', packages: 'external' }),
  build({
    ...common,
    platform: 'node',
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli/slice86.js',
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
  }),
  build({ ...common, platform: 'node', entryPoints: ['bench/bench.ts'], outfile: 'dist/bench/bench.js', packages: 'external' }),
]);
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
