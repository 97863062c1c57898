/**
 * `slice86 demo`, `convert --json`, `--help` and the command-line rules of every command: sizes
 * as 512M/4G, one-line errors with a non-zero status, nothing written on bad input, and Ctrl-C
 * leaving no partial file (status 130).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createZstdCodec, DUMP_FORMATS, DumpEngine, dumpSourceFromBytes, inputFromBytes, MemorySink, powerOnSnapshot, readDump } from '../../src/index.js';
import { missingTool } from '../support/tools.js';
import { bundleCli, type CliBundle } from './bundle.js';

let cli: CliBundle;
let work = '';

beforeAll(async () => {
  cli = await bundleCli();
  work = mkdtempSync(join(tmpdir(), 'slice86-demo-'));
});

afterAll(() => {
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

interface DemoJson {
  machine: string;
  ramSize: number;
  fwcfg: { files: { name: string }[] };
  vmcoreinfo: { hasVmcoreinfo: boolean };
  debugcon: string;
  dumps: { format: string; file: string; bytes: number; ok: boolean; refused?: string; checkedBy: string }[];
}

describe('slice86 demo', () => {
  it('--json: boots, lists fw_cfg, and writes every format, each read back and checked', async () => {
    const out = join(work, 'json');
    const { status, stdout, stderr } = cli.run(work, 'demo', '--memory', '32M', '--out', out, '--json');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    const json = JSON.parse(stdout) as DemoJson;
    expect(json.ramSize).toBe(32 * 2 ** 20);
    expect(json.fwcfg.files.map((f) => f.name)).toContain('etc/vmcoreinfo');
    expect(json.vmcoreinfo.hasVmcoreinfo).toBe(true);
    expect(json.debugcon).toContain('vmcoreinfo note at 0000a000 size 0040');
    expect(json.dumps.map((d) => d.format)).toEqual([...DUMP_FORMATS]);
    expect(json.dumps.every((d) => d.ok)).toBe(true);
    // win-dmp needs a Windows guest (QEMU refuses it for any other): a row, but no file.
    expect(json.dumps.filter((d) => d.refused !== undefined).map((d) => [d.format, d.refused])).toEqual([['win-dmp', 'win-dump: invalid vmcoreinfo note size']]);
    const written = json.dumps.filter((d) => d.refused === undefined);
    expect(readdirSync(out).sort()).toEqual(written.map((d) => d.file.slice(out.length + 1)).sort());
    // Independently of the demo's own check: every file is the format it claims.
    const codecs = { zstd: await createZstdCodec() };
    for (const d of written) {
      const dump = await readDump(inputFromBytes(new Uint8Array(readFileSync(d.file))), { codecs });
      expect(dump.format).toBe(d.format === 'elf' ? 'elf' : d.format.includes('raw') ? 'kdump-raw' : 'kdump-flattened');
      expect(readFileSync(d.file).length).toBe(d.bytes);
    }
  });

  it('text: the fw_cfg directory, the debug console and the table of dumps', () => {
    const out = join(work, 'text');
    const { status, stdout, stderr } = cli.run(work, 'demo', '--machine', 'q35', '--memory', '64M', '--out', out);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout).toContain('machine q35, 64M RAM, 1 CPU(s)');
    expect(stdout).toContain('etc/smi/features-ok');
    expect(stdout).toContain('  | vmcoreinfo note at 0000a000 size 0040');
    expect(stdout).toMatch(/ {2}format +file +size +time +checked by\n/);
    expect(stdout).toMatch(/ {2}kdump-raw-zstd +vmcore-zstd\.kdump +[\d.]+ KiB +[\d.]+ s +slice86 readDump: kdump-raw zstd, 2 ranges, 64.0625 MiB equal, VMCOREINFO, 1 CPU(; file\(1\): Kdump compressed dump v6)?\n/);
    // file(1), where installed, is a second opinion on every file.
    if (missingTool('file') === undefined) {
      expect(stdout).toContain('vmcore.elf           64.1 MiB');
      expect(stdout).toMatch(/slice86 readDump: elf, 2 ranges, 64.0625 MiB equal, VMCOREINFO, 1 CPU; file\(1\): ELF 64-bit LSB core file\n/);
      expect(stdout).toMatch(/1 CPU; file\(1\): Flattened kdump compressed dump v6\n/);
    }
    expect(stdout).toMatch(/ {2}win-dmp +- +- +[\d.]+ s +not written: win-dump: invalid vmcoreinfo note size\n/);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('9 dumps written and checked; win-dmp not written (the format does not fit this guest)');
  });

  it('--no-dumps writes nothing', () => {
    const { status } = cli.run(work, 'demo', '--no-dumps', '--out', join(work, 'none'));
    expect(status).toBe(0);
    expect(readdirSync(work)).not.toContain('none');
  });

  it('sizes: 512M, 4G, a bare MiB count; anything else is one line and exit 2', () => {
    expect(JSON.parse(cli.run(work, 'demo', '--no-dumps', '--json', '--memory', '4G').stdout)).toMatchObject({ ramSize: 4 * 2 ** 30 });
    expect(JSON.parse(cli.run(work, 'demo', '--no-dumps', '--json', '--memory', '48').stdout)).toMatchObject({ ramSize: 48 * 2 ** 20 });
    const bad = cli.run(work, 'demo', '--memory', '12Q');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`error: option '--memory <size>' argument '12Q' is invalid. memory size "12Q" is not a size like 512M or 4G\n`);
  });

  it('Ctrl-C during the dumps: exit 130, one line, no partial or temporary file', async () => {
    const out = join(work, 'cancel');
    const child = spawn(process.execPath, [cli.path, 'demo', '--memory', '256M', '--out', out], { cwd: work });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Interrupt as soon as a dump is being written (its temporary file exists).
    await until(() => {
      try {
        return readdirSync(out).some((n) => n.includes('.tmp-'));
      } catch {
        return false;
      }
    });
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr).toBe('slice86: cancelled; no partial file left\n');
    const left = readdirSync(out);
    expect(left.filter((n) => n.includes('.tmp-'))).toEqual([]);
    // What is left are dumps that had finished before the interrupt, each complete.
    expect(left.length).toBeLessThan(DUMP_FORMATS.length);
    for (const name of left) await readDump(inputFromBytes(new Uint8Array(readFileSync(join(out, name)))), { codecs: { zstd: await createZstdCodec() } });
  });
});

/** Polls `condition` every 5 ms; gives up (the test then fails on the exit status) after 30 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** An ELF core of 48 MiB of noise: slow to compress, so a conversion is caught mid-write. */
async function noisyElf(path: string): Promise<void> {
  const ram = new Uint8Array(48 * 2 ** 20);
  const words = new Uint32Array(ram.buffer);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  const sink = new MemorySink();
  await new DumpEngine().dump(dumpSourceFromBytes([{ gpa: 0, bytes: ram }], [powerOnSnapshot()]), { sink, format: 'elf' });
  writeFileSync(path, sink.bytes());
}

describe('Ctrl-C in convert', () => {
  it('mid-write: exit 130, one line, neither the output nor its temporary file exists', async () => {
    const dir = mkdtempSync(join(work, 'cancel-convert-'));
    await noisyElf(join(dir, 'noise.elf'));
    const child = spawn(process.execPath, [cli.path, 'convert', 'noise.elf', 'noise.flat', '--format', 'kdump-zlib'], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await until(() => readdirSync(dir).some((n) => n.includes('.tmp-')));
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr).toBe('slice86: cancelled; no partial file left\n');
    expect(readdirSync(dir)).toEqual(['noise.elf']);
  });
});

describe('every command', () => {
  it('--help for the tool and each command, exit 0', () => {
    const top = cli.run(work, '--help');
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/Usage: slice86 \[options\] \[command\]/);
    for (const command of ['demo', 'inspect', 'convert']) expect(top.stdout).toContain(`  ${command} `);
    for (const command of ['demo', 'inspect', 'convert']) {
      const help = cli.run(work, command, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`Usage: slice86 ${command}`);
      expect(help.stdout).toContain('--json');
    }
  });

  it('convert --json reports the conversion; a foreign file leaves nothing behind', () => {
    const dir = mkdtempSync(join(work, 'convert-'));
    expect(cli.run(dir, 'demo', '--memory', '16M', '--out', 'd', '--json').status).toBe(0);
    const converted = cli.run(dir, 'convert', 'd/vmcore.elf', 'again.flat', '--format', 'kdump-snappy', '--json');
    expect(converted.stderr).toBe('');
    expect(JSON.parse(converted.stdout)).toMatchObject({ input: 'd/vmcore.elf', inputFormat: 'elf', output: 'again.flat', format: 'kdump-snappy', compat: null, cpus: 1 });
    writeFileSync(join(dir, 'photo.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]));
    const before = readdirSync(dir).sort();
    const foreign = cli.run(dir, 'convert', 'photo.jpg', 'out.elf', '--format', 'elf', '--json');
    expect(foreign.status).toBe(1);
    expect(foreign.stdout).toBe('');
    expect(foreign.stderr).toBe('slice86: unknown format at offset 0x0: not an ELF core, a makedumpfile flattened stream or a kdump file (first bytes ff d8 ff e0 00 10 4a 46) (unknown-format)\n');
    expect(readdirSync(dir).sort()).toEqual(before);
    // Cut inside the kdump header: inspect says where, in one line.
    writeFileSync(join(dir, 'cut.kdump'), readFileSync(join(dir, 'd/vmcore-zlib.kdump')).subarray(0, 100));
    const cut = cli.run(dir, 'inspect', 'cut.kdump');
    expect(cut.status).toBe(1);
    expect(cut.stderr.split('\n')).toEqual([expect.stringMatching(/^slice86: truncated at offset 0x0: .*\(truncated\)$/), '']);
  });
});
