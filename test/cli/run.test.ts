/**
 * `slice86 run`: the exit status follows how the guest stopped (HLT 0, isa-debug-exit's
 * (value << 1) | 1, triple fault 3, budget 124), the debug console goes to stdout or a file, the
 * dump is written when asked, --json reports it all, and a bad image is one line and writes nothing.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputFromBytes, readDump } from '../../src/index.js';
import { bundleCli, type CliBundle } from './bundle.js';

let cli: CliBundle;
let work = '';

/** A 64 KiB -bios image with `code` at the reset vector. */
function image(name: string, code: number[]): string {
  const bytes = new Uint8Array(0x10000);
  bytes.set(code, 0xfff0);
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

beforeAll(async () => {
  cli = await bundleCli();
  work = mkdtempSync(join(tmpdir(), 'slice86-run-'));
});

afterAll(() => {
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

describe('slice86 run', () => {
  it('boots the built-in firmware, prints its debug console and dumps it', async () => {
    const { status, stdout, stderr } = cli.run(work, 'run', '--memory', '32M', '--debugcon', '-', '--dump', 'boot.elf', '--format', 'elf');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout).toContain('vmcoreinfo note at 0000a000 size 0040');
    expect(stdout.endsWith('END\n')).toBe(true);
    const dump = await readDump(inputFromBytes(new Uint8Array(readFileSync(join(work, 'boot.elf')))));
    expect(dump.cpus[0]?.efer).toBe(0x500n);
    expect(dump.vmcoreinfo).toContain('OSRELEASE=6.1.0-slice86');
  });

  it('exits with the isa-debug-exit status', () => {
    const path = image('exit.bin', [0xb0, 0x05, 0xba, 0x01, 0x05, 0xee, 0xf4]); // out 0x501, 5
    expect(cli.run(work, 'run', path, '--memory', '16M').status).toBe(11);
  });

  it('exits 3 on a triple fault and 124 when the budget runs out', () => {
    const triple = image('triple.bin', [0x2e, 0x0f, 0x01, 0x1e, 0x00, 0x00, 0xcc]); // lidt [cs:0] (limit 0); int3
    expect(cli.run(work, 'run', triple, '--memory', '16M').status).toBe(3);
    const spin = image('spin.bin', [0xeb, 0xfe]);
    expect(cli.run(work, 'run', spin, '--memory', '16M', '--max-instructions', '5000').status).toBe(124);
  });

  it('--json reports the stop, the console and the dump', () => {
    const { status, stdout } = cli.run(work, 'run', '--memory', '32M', '--debugcon', '-', '--dump', 'j.flat', '--format', 'kdump-zlib', '--json');
    expect(status).toBe(0);
    const json = JSON.parse(stdout) as { reason: string; status: number; debugcon: string; dump: { format: string; bytes: number } };
    expect(json).toMatchObject({ reason: 'halted', status: 0, dump: { format: 'kdump-zlib' } });
    expect(json.debugcon).toContain('END\n');
    expect(json.dump.bytes).toBe(readFileSync(join(work, 'j.flat')).length);
  });

  it('writes the debug console to a file', () => {
    expect(cli.run(work, 'run', '--memory', '32M', '--debugcon', 'console.txt').status).toBe(0);
    expect(readFileSync(join(work, 'console.txt'), 'latin1')).toContain('slice86 default firmware\n');
  });

  it('refuses an image of the wrong size in one line and writes nothing', () => {
    const dir = mkdtempSync(join(work, 'bad-'));
    writeFileSync(join(dir, 'bad.bin'), new Uint8Array(1000));
    const { status, stdout, stderr } = cli.run(dir, 'run', 'bad.bin', '--dump', 'out.elf', '--format', 'elf');
    expect({ status, stdout }).toEqual({ status: 1, stdout: '' });
    expect(stderr).toBe('slice86: firmware image of 1000 bytes: its size must be a non-zero multiple of 64 KiB, at most 16 MiB (as QEMU\'s -bios requires) (firmware-size)\n');
    expect(readdirSync(dir)).toEqual(['bad.bin']);
    expect(existsSync(join(dir, 'out.elf'))).toBe(false);
  });
});
