/**
 * win-dmp against QEMU 7.2 (test/fixtures/qemu-7.2/win-dmp, scripts/golden/capture-win-dmp.mjs):
 * Windows-like guests (x64, x86 PAE, x86 without PAE; 1 and 2 CPUs; malformed variants) that
 * QEMU ran with -bios, dumped as ELF and then as win-dmp. A slice86 machine loaded with the state
 * of QEMU's ELF (memory and CPUs), and the ELF itself converted, give QEMU's exact file in the
 * compat flavour, QEMU's warnings, and QEMU's exact error text through the QMP entry; guest
 * memory is unchanged after every dump, where QEMU 7.2 leaves CPU 0's CONTEXT patched when a
 * later CPU fails.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createMachine, DumpEngine, DumpError, dumpGuestMemory, dumpSourceFromMachine, inputFromBytes, MemorySink, readDump, type DumpFile, type Machine } from '../../src/index.js';
import { executeQmp } from '../../src/dump/qmp.js';
import { toHex, writeU32le, writeU64le } from '../../src/core/bytes.js';
import { rejection } from '../support/thrown.js';

const DIR = new URL('../fixtures/qemu-7.2/win-dmp/', import.meta.url);
const ROOT = new URL('../../', import.meta.url);

interface WinCase {
  readonly name: string;
  readonly image: string;
  readonly smp: number;
  readonly faults: string;
  readonly elf: { readonly file: string };
  readonly dmp?: { readonly file: string; readonly sha256: string; readonly size: number };
  readonly reply: { readonly return?: unknown; readonly error?: { readonly class: string; readonly desc: string } };
  readonly queryDump: { readonly status: string; readonly completed: number; readonly total: number };
  readonly warnings: readonly string[];
  readonly guestMemoryChangedByQemu: readonly unknown[];
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { cases: WinCase[] };

const NOTE_ADDR = 0x100000;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function qemuElf(c: WinCase): Promise<DumpFile> {
  return readDump(inputFromBytes(new Uint8Array(gunzipSync(readFileSync(new URL(c.elf.file, DIR))))));
}

/** A pc machine with QEMU's guest RAM and the vmcoreinfo record the guest registered. */
async function machineFrom(c: WinCase, dump: DumpFile): Promise<Machine> {
  const machine = createMachine({ machine: 'pc', memorySize: '16M', cpus: c.smp, firmware: new Uint8Array(readFileSync(new URL(c.image, ROOT))) });
  for (const range of dump.ranges) {
    const bytes = new Uint8Array(range.size);
    await dump.readPhysical(range.gpa, bytes);
    machine.memory.write(range.gpa, bytes);
  }
  const record = new Uint8Array(16);
  record[2] = 1;
  writeU32le(record, 4, dump.guestNote?.length ?? 0);
  writeU64le(record, 8, BigInt(NOTE_ADDR));
  machine.vmcoreinfo?.loadState({ v: 1, hasVmcoreinfo: true, record: toHex(record) });
  return machine;
}

function ramHash(machine: Machine): string {
  return sha256(machine.memory.read(0, 16 << 20));
}

describe.each(index.cases.map((c) => [c.name, c] as const))('QEMU 7.2 win-dmp case %s', (_name, c) => {
  it('a machine with the same state: same file or same error text (compat), guest memory unchanged', async () => {
    const dump = await qemuElf(c);
    const machine = await machineFrom(c, dump);
    const before = ramHash(machine);
    const sink = new MemorySink();
    const warnings: string[] = [];
    const run = dumpGuestMemory(dumpSourceFromMachine(machine, dump.cpus), { sink, format: 'win-dmp', compat: 'qemu-7.2', onWarning: (w) => warnings.push(w) });
    if (c.dmp === undefined) {
      const error = await rejection(run);
      expect(error).toBeInstanceOf(DumpError);
      expect((error as DumpError).qemuMessage).toBe(c.reply.error?.desc);
      expect((error as DumpError).code).toMatch(/^win-dump-/);
      expect(sink.aborted).toBe(true);
    } else {
      const result = await run;
      expect(sha256(sink.bytes())).toBe(c.dmp.sha256);
      expect(result.status).toEqual({ status: 'completed', completed: c.queryDump.completed, total: c.queryDump.total });
    }
    // QEMU prints its warnings as "warning: <text>"; "failed to restore" is QEMU's own bug.
    expect(warnings.map((w) => `warning: ${w}`)).toEqual(c.warnings.filter((w) => !w.includes('failed to restore')));
    expect(ramHash(machine)).toBe(before);
  });

  it('convert: the ELF of the same moment gives the same file or error (compat)', async () => {
    const dump = await qemuElf(c);
    const sink = new MemorySink();
    const run = dumpGuestMemory(await dump.toDumpSource(), { sink, format: 'win-dmp', compat: 'qemu-7.2' });
    if (c.dmp === undefined) expect(((await rejection(run)) as DumpError).qemuMessage).toBe(c.reply.error?.desc);
    else {
      await run;
      expect(sha256(sink.bytes())).toBe(c.dmp.sha256);
    }
  });

  it('the QMP entry replies as QEMU did, and query-dump agrees', async () => {
    const dump = await qemuElf(c);
    const machine = await machineFrom(c, dump);
    const engine = new DumpEngine();
    const ctx = { engine, source: () => dumpSourceFromMachine(machine, dump.cpus), openFile: () => new MemorySink(), compat: 'qemu-7.2' as const };
    const reply = await executeQmp({ execute: 'dump-guest-memory', arguments: { paging: false, format: 'win-dmp', protocol: 'file:/tmp/x.dmp' } }, ctx);
    expect(reply).toEqual(c.reply);
    expect(await executeQmp({ execute: 'query-dump' }, ctx)).toEqual({ return: c.queryDump });
  });
});

describe('default flavour on the same guests', () => {
  const byName = (name: string): WinCase => {
    const c = index.cases.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no case ${name}`);
    return c;
  };

  it.each(['x64-smp1', 'x64-smp2', 'x64-kdbg-encoded', 'x64-nproc1-smp2'])('%s: the x64 file is QEMU\'s', async (name) => {
    const c = byName(name);
    const dump = await qemuElf(c);
    const sink = new MemorySink();
    await dumpGuestMemory(await dump.toDumpSource(), { sink, format: 'win-dmp' });
    expect(sha256(sink.bytes())).toBe(c.dmp?.sha256);
  });

  it.each(['pae-smp2', 'nopae-smp2'])('%s: the x86 CONTEXT is the 716-byte Windows structure (QEMU writes 4 bytes more)', async (name) => {
    const c = byName(name);
    const dump = await qemuElf(c);
    const sink = new MemorySink();
    await dumpGuestMemory(await dump.toDumpSource(), { sink, format: 'win-dmp' });
    const ours = sink.bytes();
    const qemu = new Uint8Array(gunzipSync(readFileSync(new URL(c.dmp?.file ?? '', DIR))));
    expect(ours.length).toBe(qemu.length);
    const differing: number[] = [];
    for (let i = 0; i < ours.length; i++) if (ours[i] !== qemu[i]) differing.push(i);
    // Only bytes 716..719 after each CPU's CONTEXT, which QEMU zeroes and we leave as the guest had them.
    expect(differing.length).toBeGreaterThan(0);
    expect(differing.length).toBeLessThanOrEqual(8);
    for (const i of differing) expect(qemu[i]).toBe(0);
  });

  it('runs outside guest RAM are an error, not zeros', async () => {
    const dump = await qemuElf(byName('x64-run-beyond-ram'));
    const error = await rejection(dumpGuestMemory(await dump.toDumpSource(), { sink: new MemorySink(), format: 'win-dmp' }));
    expect(error).toMatchObject({ code: 'win-dump-runs', message: 'win-dump: run #2 (0x0000000001000000-0x000000000100ffff) is not in guest RAM' });
  });

  it('QEMU 7.2 leaves CPU 0\'s CONTEXT patched when CPU 1 fails; slice86 leaves guest memory as it was', async () => {
    const c = byName('x64-prcb1-unmapped-smp2');
    expect(c.guestMemoryChangedByQemu.length).toBeGreaterThan(0);
    const dump = await qemuElf(c);
    const machine = await machineFrom(c, dump);
    const before = ramHash(machine);
    for (const compat of [undefined, 'qemu-7.2'] as const) {
      await rejection(dumpGuestMemory(dumpSourceFromMachine(machine, dump.cpus), { sink: new MemorySink(), format: 'win-dmp', compat }));
      expect(ramHash(machine)).toBe(before);
    }
  });
});
