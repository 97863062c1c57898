/**
 * Real readers accept our dumps: binutils readelf, elfutils eu-readelf and eu-elflint, gdb, crash
 * and makedumpfile, and file(1). The guest is a machine whose scripted guest registered a
 * VMCOREINFO note (OSRELEASE=6.1.0-slice86), with recognisable RAM and a long-mode CPU snapshot.
 * The "-node" kdump files come from the Node engine, whose pages the native addon compresses when
 * it was built (libdeflate's zlib, our C LZO1X-1, libsnappy).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDumpEngine, dumpSourceFromMachine, MemorySink, powerOnSnapshot, type CpuSnapshot, type DumpFormat } from '../../src/index.js';
import { runScriptedProbe } from '../../src/guest/scripted-probe.js';
import { createNodeDumpEngine } from '../../src/node/index.js';
import { makeMachine } from '../support/machine-fixture.js';
import { missingTool } from '../support/tools.js';

const GUEST_TEXT = 'hello from guest RAM';
const dir = mkdtempSync(join(tmpdir(), 'slice86-interop-'));

function longModeCpu(): CpuSnapshot {
  const cpu = powerOnSnapshot(0);
  return {
    ...cpu,
    efer: 0x500n,
    cr0: 0x80000011n,
    cr3: 0x1000n,
    cr4: 0x20n,
    rip: 0xffffffff81000000n,
    rflags: 0x246n,
    gpr: { ...cpu.gpr, rax: 0x1122334455667788n, rsp: 0xffffc90000007000n, r15: 0xf15f15n },
    segments: { ...cpu.segments, cs: { selector: 0x10, base: 0n, limit: 0xffffffff, flags: 0xaf9b00 } },
  };
}

const files = new Map<string, string>();
const variants: [string, DumpFormat, 'qemu-7.2' | undefined, ('node' | undefined)?][] = [
  ['elf', 'elf', undefined],
  ['elf-compat', 'elf', 'qemu-7.2'],
  ['kdump-zlib', 'kdump-zlib', undefined],
  ['kdump-raw-zlib', 'kdump-raw-zlib', undefined],
  ['kdump-zlib-compat', 'kdump-zlib', 'qemu-7.2'],
  ['kdump-snappy', 'kdump-snappy', undefined],
  ['kdump-zstd', 'kdump-zstd', undefined],
  ['kdump-zlib-node', 'kdump-zlib', undefined, 'node'],
  ['kdump-raw-zlib-node', 'kdump-raw-zlib', undefined, 'node'],
  ['kdump-lzo-node', 'kdump-lzo', undefined, 'node'],
  ['kdump-snappy-node', 'kdump-snappy', undefined, 'node'],
];

beforeAll(async () => {
  const machine = makeMachine({ cpus: 2 });
  runScriptedProbe(machine, { osRelease: '6.1.0-slice86' });
  machine.memory.write(0x200000, new TextEncoder().encode(GUEST_TEXT));
  const engine = await createDumpEngine();
  const nodeEngine = await createNodeDumpEngine();
  for (const [name, format, compat, which] of variants) {
    const sink = new MemorySink();
    await (which === 'node' ? nodeEngine : engine).dump(dumpSourceFromMachine(machine, [longModeCpu(), powerOnSnapshot(1)]), { sink, format, compat });
    const path = join(dir, name);
    writeFileSync(path, sink.bytes());
    files.set(name, path);
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string): string => files.get(name) ?? '';
const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.skipIf(missingTool('readelf') !== undefined)('binutils readelf', () => {
  it.each(['elf', 'elf-compat'])('%s: lists the notes in QEMU order and the PT_LOADs', (name) => {
    const notes = run('readelf', ['-n', file(name)]);
    const owners = [...notes.matchAll(/^\s+(CORE|QEMU|VMCOREINFO)\s+0x/gm)].map((m) => m[1]);
    expect(owners).toEqual(name === 'elf' ? ['CORE', 'CORE', 'CORE', 'CORE', 'QEMU', 'QEMU', 'VMCOREINFO'] : ['CORE', 'CORE', 'QEMU', 'QEMU', 'VMCOREINFO']);
    expect(run('readelf', ['-lW', file(name)])).toMatch(/LOAD\s+0x[0-9a-f]+ 0x0+ 0x0+ 0x0c0000 0x0c0000/);
  });
});

describe.skipIf(missingTool('eu-readelf') !== undefined)('elfutils', () => {
  it('eu-readelf -n decodes PRSTATUS and FPREGSET through the note0 section (default flavour)', () => {
    const out = run('eu-readelf', ['-n', file('elf')]);
    expect(out).toContain("Note section [ 2] 'note0'");
    expect(out).toMatch(/rax:\s+1234605616436508552/);
    expect(out).toContain('FPREGSET');
  });

  it('eu-elflint finds nothing but the type-0 notes QEMU and Linux define (QEMU, VMCOREINFO)', () => {
    const result = spawnSync('eu-elflint', [file('elf')], { encoding: 'utf8' });
    const other = (result.stdout + result.stderr).split('\n').filter((l) => l.trim() !== '' && !l.includes('unknown core file note type 0 at offset'));
    expect(other).toEqual([]);
  });

  it("eu-elflint reports QEMU's e_ehsize bug in the compat flavour only", () => {
    const result = spawnSync('eu-elflint', [file('elf-compat')], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('invalid ELF header size: 8');
  });
});

describe.skipIf(missingTool('gdb') !== undefined)('gdb', () => {
  it.each(['elf', 'elf-compat'])('%s: registers equal the CPU snapshot and guest bytes read back', (name) => {
    const out = run('gdb', ['-batch', '-nx', '-c', file(name), '-ex', 'info registers rip rax rsp r15 eflags cs', '-ex', 'x/s 0x200000']);
    expect(out).toMatch(/rip\s+0xffffffff81000000/);
    expect(out).toMatch(/rax\s+0x1122334455667788/);
    expect(out).toMatch(/rsp\s+0xffffc90000007000/);
    expect(out).toMatch(/r15\s+0xf15f15/);
    expect(out).toMatch(/eflags\s+0x246/);
    expect(out).toMatch(/cs\s+0x10/);
    expect(out).toContain(`"${GUEST_TEXT}"`);
  });

  it('shows x87/SSE state from NT_PRFPREG in the default flavour', () => {
    const out = run('gdb', ['-batch', '-nx', '-c', file('elf'), '-ex', 'info registers mxcsr fctrl']);
    expect(out).toMatch(/mxcsr\s+0x1f80/);
    expect(out).toMatch(/fctrl\s+0x37f/);
  });
});

describe.skipIf(missingTool('crash') !== undefined)('crash', () => {
  it.each(variants.map(([name]) => name))('%s: crash --osrelease prints the OSRELEASE of the VMCOREINFO note', (name) => {
    // Debian's crash has no snappy or zstd; for those it prints the release once per detection
    // attempt (pages are checked with independent decoders in kdump-pages.test.ts).
    expect(new Set(run('crash', ['--osrelease', file(name)]).trim().split('\n'))).toEqual(new Set(['6.1.0-slice86']));
  });
});

describe.skipIf(missingTool('makedumpfile') !== undefined)('makedumpfile', () => {
  it.each(['', '-node'])('makedumpfile -R turns our flattened output into a file identical to our raw output, which crash reads (kdump-zlib%s)', (suffix) => {
    const rearranged = join(dir, `rearranged${suffix}`);
    execFileSync('makedumpfile', ['-R', rearranged], { input: readFileSync(file(`kdump-zlib${suffix}`)), stdio: ['pipe', 'ignore', 'pipe'] });
    expect(Buffer.compare(readFileSync(rearranged), readFileSync(file(`kdump-raw-zlib${suffix}`)))).toBe(0);
    if (missingTool('crash') === undefined) expect(run('crash', ['--osrelease', rearranged]).trim()).toBe('6.1.0-slice86');
  });
});

describe.skipIf(missingTool('file') !== undefined)('file(1)', () => {
  it.each([
    ['elf', /ELF 64-bit LSB core file, x86-64/],
    ['kdump-zlib', /Flattened kdump compressed dump v6, machine x86_64/],
    ['kdump-raw-zlib', /Kdump compressed dump v6, machine x86_64/],
  ] as const)('identifies %s', (name, pattern) => {
    expect(run('file', ['-b', file(name)])).toMatch(pattern);
  });
});
