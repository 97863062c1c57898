/**
 * `slice86 convert` and `slice86 inspect` on win-dmp (the CLI bundled as in
 * test/unit/dump/read/cli.test.ts): QEMU 7.2's ELF of a Windows-like guest converts to QEMU's
 * exact win-dmp, and inspect shows the header, runs and CONTEXTs of the result.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = new URL('../fixtures/qemu-7.2/win-dmp/', import.meta.url);
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { cases: { name: string; elf: { file: string }; dmp?: { sha256: string } }[] };

let bundleDir = '';
let work = '';
let cli = '';

beforeAll(async () => {
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  bundleDir = mkdtempSync(join(ROOT, 'node_modules/.cache/slice86-windmp-cli-'));
  cli = join(bundleDir, 'slice86.js');
  await build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile: cli, bundle: true, format: 'esm', platform: 'node', target: 'es2022', packages: 'external', logLevel: 'warning' });
  writeFileSync(join(bundleDir, 'package.json'), '{"type":"module"}');
  work = mkdtempSync(join(tmpdir(), 'slice86-windmp-cli-'));
});

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

it.each(['x64-smp2', 'nopae-smp1'])('convert %s QEMU ELF -> win-dmp (QEMU\'s bytes), then inspect it', (name) => {
  const c = index.cases.find((x) => x.name === name);
  const elf = join(work, `${name}.elf`);
  writeFileSync(elf, gunzipSync(readFileSync(new URL(c?.elf.file ?? '', DIR))));
  const out = join(work, `${name}.dmp`);
  const converted = run('convert', elf, out, '--format', 'win-dmp', '--compat', 'qemu-7.2');
  expect({ status: converted.status, stderr: converted.stderr }).toEqual({ status: 0, stderr: '' });
  expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(c?.dmp?.sha256);
  const text = run('inspect', out);
  expect(text.status).toBe(0);
  expect(text.stdout).toContain(`Windows crash dump ${name.startsWith('x64') ? 'PAGEDU64' : 'PAGEDUMP'}`);
  expect(text.stdout).toContain('LIVE_SYSTEM_DUMP');
  const json = JSON.parse(run('inspect', out, '--json').stdout) as { format: string; windows: { contexts: unknown[]; runs: unknown[] } };
  expect(json.format).toBe('win-dmp');
  expect(json.windows.runs).toHaveLength(2);
  expect(json.windows.contexts).toHaveLength(name.endsWith('smp2') ? 2 : 1);
});

it('through ELF and kdump-zlib and back: QEMU\'s win-dmp again (the Windows note travels along)', () => {
  const c = index.cases.find((x) => x.name === 'x64-smp1');
  const dmp = join(work, 'in.dmp');
  writeFileSync(dmp, gunzipSync(readFileSync(new URL(c?.elf.file ?? '', DIR))));
  expect(run('convert', dmp, join(work, 'a.elf'), '--format', 'elf').status).toBe(0);
  expect(run('convert', join(work, 'a.elf'), join(work, 'a.kdump'), '--format', 'kdump-zlib').status).toBe(0);
  expect(run('convert', join(work, 'a.kdump'), join(work, 'b.dmp'), '--format', 'win-dmp', '--compat', 'qemu-7.2').status).toBe(0);
  expect(createHash('sha256').update(readFileSync(join(work, 'b.dmp'))).digest('hex')).toBe(c?.dmp?.sha256);
});

it('a dump without a Windows note: QEMU\'s text on stderr, status 1, no output file', () => {
  const elf = join(work, 'nonote.elf');
  writeFileSync(elf, gunzipSync(readFileSync(new URL('../fixtures/qemu-7.2/dump/nonote.elf.gz', import.meta.url))));
  const out = join(work, 'nonote.dmp');
  const result = run('convert', elf, out, '--format', 'win-dmp');
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('win-dump: invalid vmcoreinfo note size');
  expect(existsSync(out)).toBe(false);
});
