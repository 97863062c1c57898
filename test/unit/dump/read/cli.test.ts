/**
 * The CLI end to end: src/cli/main.ts bundled as `npm run build` bundles it (into a scratch
 * folder, so dist/ is left alone) and run with node. inspect --json and text on a small dump,
 * convert to kdump (byte-exact with the engine's own dump), and bad input: one line on stderr
 * naming the offset and field, exit status 1, no output file and no temporary file left behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpSourceFromBytes } from '../../../../src/index.js';
import { inputFromBytes } from '../../../../src/dump/read/input.js';
import { readDump } from '../../../../src/dump/read/read-dump.js';
import { dumpBytes, elfNote, firstDifference, longModeCpu, VMCOREINFO, waitingCpu } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ram = Uint8Array.from({ length: 0x8000 }, (_, i) => (i * 11) & 0xff);
const source = dumpSourceFromBytes([{ gpa: 0, bytes: ram }, { gpa: 0x100000, bytes: ram.subarray(0, 0x2000) }], [longModeCpu(0), waitingCpu(1)], { kind: 'note', bytes: elfNote('VMCOREINFO', VMCOREINFO) });

let bundleDir = '';
let work = '';
let cli = '';

beforeAll(async () => {
  // Inside node_modules so the bundle's external packages resolve as they do for dist/cli.
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  bundleDir = mkdtempSync(join(ROOT, 'node_modules/.cache/slice86-cli-test-'));
  cli = join(bundleDir, 'slice86.js');
  await build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile: cli, bundle: true, format: 'esm', platform: 'node', target: 'es2022', packages: 'external', logLevel: 'warning' });
  writeFileSync(join(bundleDir, 'package.json'), '{"type":"module"}');
  work = mkdtempSync(join(tmpdir(), 'slice86-cli-'));
});

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function writeDump(name: string, format: 'elf' | 'kdump-zlib', edit?: (bytes: Uint8Array) => Uint8Array): Promise<string> {
  const bytes = await dumpBytes(source, format, 'qemu-7.2');
  const path = join(work, name);
  writeFileSync(path, edit === undefined ? bytes : edit(bytes));
  return path;
}

describe('slice86 inspect', () => {
  it('--json: format, CPUs with registers, vmcoreinfo keys, ranges, kdump header fields', async () => {
    const path = await writeDump('small.kdump', 'kdump-zlib');
    const { status, stdout, stderr } = run('inspect', path, '--json');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    const json = JSON.parse(stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      format: 'kdump-flattened',
      elfClass: 64,
      machine: 'x86_64',
      cpus: [
        { index: 0, rip: '0xffffffff810007f2', rsp: '0xffffc90000003f58', cr3: '0x1234000', efer: '0x500', eferInferred: true, segments: { cs: { selector: '0x30', flags: '0xaf9a00' }, gs: { base: '0xffff888000012000' } } },
        { index: 1, rip: '0xfff0', rax: '0x1111' },
      ],
      vmcoreinfo: { OSRELEASE: '6.1.0-slice86', 'NUMBER(phys_base)': '16777216', KERNELOFFSET: '2a000000' },
      physBase: '0x16777216',
      ranges: [{ gpa: '0x0', size: '0x8000' }, { gpa: '0x100000', size: '0x2000' }],
      kdump: { headerVersion: 6, blockSize: 4096, nrCpus: 2, compression: 'zlib', utsname: { machine: 'x86_64' }, subHeader: { offsetNote: '0x1068' } },
    });
  });

  it('text: one screen a person reads', async () => {
    const path = await writeDump('small.elf', 'elf');
    const { status, stdout } = run('inspect', path);
    expect(status).toBe(0);
    expect(stdout).toContain(`${path}: elf, ELF class 64, x86_64, 2 CPUs`);
    expect(stdout).toContain('cpu 0: rip 0xffffffff810007f2 rsp 0xffffc90000003f58 rflags 0x240cd7');
    expect(stdout).toContain('  OSRELEASE=6.1.0-slice86');
    expect(stdout).toContain('  0x0000000000100000-0x0000000000101fff  0x2000 bytes');
  });
});

describe('slice86 convert', () => {
  it('ELF -> kdump-zlib --compat qemu-7.2 writes exactly the engine\'s kdump, and no temporary file', async () => {
    const input = await writeDump('in.elf', 'elf');
    const output = join(work, 'out.kdump');
    const { status, stdout, stderr } = run('convert', input, output, '--format', 'kdump-zlib', '--compat', 'qemu-7.2');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout).toContain('-> ');
    expect(firstDifference(new Uint8Array(readFileSync(output)), await dumpBytes(source, 'kdump-zlib', 'qemu-7.2'))).toBe(-1);
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('kdump -> kdump-raw-zlib (positioned writes) reads back to the same memory', async () => {
    const input = await writeDump('in2.kdump', 'kdump-zlib');
    const output = join(work, 'out.raw');
    expect(run('convert', input, output, '--format', 'kdump-raw-zlib').status).toBe(0);
    expect(firstDifference(new Uint8Array(readFileSync(output)), await dumpBytes(source, 'kdump-raw-zlib'))).toBe(-1);
  });

  it('a truncated file: one line naming offset and field, exit 1, no output file', async () => {
    const input = await writeDump('cut.kdump', 'kdump-zlib', (b) => b.subarray(0, 4096 + 16 + 0x1d0 + 16 + 40));
    const output = join(work, 'never.elf');
    const { status, stdout, stderr } = run('convert', input, output, '--format', 'elf');
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('slice86: truncated at offset 0x11f0: flattened record for logical offset 0x1000 needs 104 bytes, file has 40 (truncated)\n');
    expect(readdirSync(work).filter((f) => f.startsWith('never.elf'))).toEqual([]);
  });

  it('a bad page found while writing: one line, exit 1, the temporary file removed', async () => {
    // Point pfn 1's page descriptor past the end (the descriptors are one flattened record).
    const { kdump } = await readDump(inputFromBytes(await dumpBytes(source, 'kdump-zlib', 'qemu-7.2')));
    const descOffset = kdump?.descOffset ?? 0;
    expect(descOffset).toBe(0x4000);
    const input = await writeDump('badpage.kdump', 'kdump-zlib', (bytes) => {
      const raw = bytes.slice();
      const view = new DataView(raw.buffer);
      for (let at = 4096; at + 16 <= raw.length;) {
        const offset = Number(view.getBigInt64(at));
        const size = Number(view.getBigInt64(at + 8));
        if (offset === descOffset) view.setBigUint64(at + 16 + 24, 0xffff0000n, true);
        if (offset < 0) break;
        at += 16 + size;
      }
      return raw;
    });
    const output = join(work, 'bad.elf');
    const { status, stderr } = run('convert', input, output, '--format', 'elf');
    expect(status).toBe(1);
    expect(stderr).toMatch(/^slice86: bad page at offset 0x4018: page descriptor of pfn 0x1 points at 0xffff0000\+0x[0-9a-f]+, past the end of the file \(0x[0-9a-f]+ bytes\) \(bad-page\)\n$/);
    expect(readdirSync(work).filter((f) => f.startsWith('bad.elf'))).toEqual([]);
  });

  it('a file that is not a dump, and one that does not exist', () => {
    writeFileSync(join(work, 'text.txt'), 'hello, world\n');
    const text = run('inspect', join(work, 'text.txt'));
    expect(text.status).toBe(1);
    expect(text.stderr).toBe('slice86: unknown format at offset 0x0: not an ELF core, a makedumpfile flattened stream or a kdump file (first bytes 68 65 6c 6c 6f 2c 20 77) (unknown-format)\n');
    const missing = run('convert', join(work, 'missing'), join(work, 'x'), '--format', 'elf');
    expect(missing.status).toBe(1);
    expect(missing.stderr.split('\n')).toHaveLength(2);
    expect(missing.stderr).toMatch(/^slice86: cannot open .*missing: ENOENT/);
  });

  it('an unknown format is a usage error (exit 2)', async () => {
    const input = await writeDump('in3.elf', 'elf');
    const { status, stderr } = run('convert', input, join(work, 'y'), '--format', 'kdump-bzip2');
    expect(status).toBe(2);
    expect(stderr).toContain("argument 'kdump-bzip2' is invalid");
  });
});
