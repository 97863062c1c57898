/**
 * The published package: `npm pack` (its prepack script builds dist/), the tarball installed into
 * an empty folder with npm, and the `slice86` bin run from there through npx, as a user would after
 * `npm install slice86`. Runtime dependencies come from npm's cache when they are there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingNativeAddon } from '../support/tools.js';
import { ROOT } from './bundle.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work = '';
let app = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'slice86-pack-'));
  const packed = JSON.parse(execFileSync(NPM, ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0]?.filename ?? '');
  app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), '{ "name": "try-slice86", "private": true }\n');
  execFileSync(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
}, 180_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

function npx(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('npx', ['--no-install', 'slice86', ...args], { cwd: app, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The installed bin itself (npx may add npm's own warnings to stderr). */
function bin(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(join(app, 'node_modules/.bin/slice86'), args, { cwd: app, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the packed tarball', () => {
  it('npx slice86 --help', () => {
    const { status, stdout } = npx('--help');
    expect(status).toBe(0);
    expect(stdout).toContain('Usage: slice86 [options] [command]');
    for (const command of ['demo', 'inspect', 'convert']) expect(stdout).toContain(`  ${command} `);
  });

  it('the installed bin runs the demo (dependencies resolve) and refuses a foreign file in one line', () => {
    const demo = bin('demo', '--no-dumps', '--json', '--memory', '16M');
    expect(demo.status).toBe(0);
    expect(JSON.parse(demo.stdout)).toMatchObject({ machine: 'pc', ramSize: 16 * 2 ** 20 });
    const foreign = bin('inspect', 'package.json');
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(/^slice86: unknown format at offset 0x0: .*\(unknown-format\)\n$/);
  });

  const noAddon = missingNativeAddon();
  it.skipIf(noAddon !== undefined)(`its install script built the native page compressor, which the installed package loads${noAddon === undefined ? '' : ` (skipped: ${noAddon})`}`, () => {
    const script = "import('slice86/node').then((m) => { const s = m.nativeAddonStatus(); console.log(s.loaded ? s.path : s.reason); })";
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
    expect(result.stdout.trim()).toBe(join(app, 'node_modules/slice86/native/build/Release/slice86_native.node'));
  });
});
