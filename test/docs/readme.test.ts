/**
 * Runs the README's examples (test/docs/examples.ts) as a reader would: the command-line ones with
 * bash, `slice86` on PATH being the CLI bundled from src; the Node ones bundled with 'slice86'
 * resolving to src/index.ts and 'slice86/node' to src/node/index.ts, and run with node. (The
 * browser example runs in Chromium in test/web/demo-web.test.ts.) And the contributors' page
 * names only files that exist.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, ROOT, type CliBundle } from '../cli/bundle.js';
import { readmeExamples } from './examples.js';

const examples = readmeExamples(ROOT);
let cli: CliBundle;
let work = '';
let bin = '';

beforeAll(async () => {
  cli = await bundleCli();
  work = mkdtempSync(join(tmpdir(), 'slice86-readme-'));
  bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'slice86'), `#!/bin/sh\nexec "${process.execPath}" "${cli.path}" "$@"\n`);
  chmodSync(join(bin, 'slice86'), 0o755);
});

afterAll(() => {
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

describe('docs/how-it-is-built.md', () => {
  it('names only paths that exist', () => {
    const text = readFileSync(join(ROOT, 'docs/how-it-is-built.md'), 'utf8');
    const paths = [...text.matchAll(/`((?:src|web|scripts|test|docs)\/[\w./-]*)`/g)].map((m) => m[1] ?? '');
    expect(paths.length).toBeGreaterThan(30);
    // docs/api/ is generated (npm run docs), so a fresh clone does not have it.
    expect(paths.filter((p) => !p.startsWith('docs/api') && !existsSync(join(ROOT, p)))).toEqual([]);
  });
});

describe('README examples', () => {
  it('has examples for the command line, Node and the browser', () => {
    expect(new Set(examples.map((e) => e.kind))).toEqual(new Set(['cli', 'node', 'browser']));
  });

  for (const example of examples.filter((e) => e.kind === 'cli')) {
    it(`command line, README.md:${example.line}`, () => {
      const dir = mkdtempSync(join(work, 'cli-'));
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', example.code], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` } });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    });
  }

  for (const example of examples.filter((e) => e.kind === 'node')) {
    it(`Node, README.md:${example.line}`, async () => {
      const dir = mkdtempSync(join(work, 'node-'));
      // Bundled inside node_modules so the library's own dependencies resolve.
      const scratch = mkdtempSync(join(ROOT, 'node_modules/.cache/slice86-readme-'));
      try {
        writeFileSync(join(scratch, 'example.ts'), example.code);
        await build({
          entryPoints: [join(scratch, 'example.ts')],
          outfile: join(scratch, 'example.mjs'),
          bundle: true,
          format: 'esm',
          platform: 'node',
          target: 'es2022',
          packages: 'external',
          plugins: [{
            name: 'slice86-from-src',
            setup(b) {
              b.onResolve({ filter: /^slice86(\/node)?$/ }, (args) => ({ path: join(ROOT, args.path === 'slice86' ? 'src/index.ts' : 'src/node/index.ts') }));
            },
          }],
          logLevel: 'warning',
        });
        const result = spawnSync(process.execPath, [join(scratch, 'example.mjs')], { cwd: dir, encoding: 'utf8' });
        expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
        expect(result.stdout).not.toBe('');
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
});
