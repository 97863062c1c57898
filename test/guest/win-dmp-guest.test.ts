/**
 * win-dmp of the harness-built Windows-like guest (test/support/windows-guest.ts, the layout of
 * firmware/golden/win-dmp-guest.inc, its note registered by fw_cfg DMA): every paging mode and CPU
 * count, every fault letter with QEMU's text (the same texts QEMU 7.2 gave the firmware guest),
 * the patched header equal to QEMU's for the same guest, CONTEXTs read back, failing sinks and
 * aborts, and fast-check headers with random run lists, page counts and pointers. Guest memory is
 * compared before and after every dump, failed or not.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DumpEngine, DumpError, dumpSourceFromMachine, inputFromBytes, MemorySink, readDump, type ByteSink, type Machine } from '../../src/index.js';
import type { CpuSnapshot } from '../../src/cpu/state.js';
import { buildWindowsGuest, kernelBase, K_PT, NOTE_ADDR, windowsGuestImage, type WindowsGuestMode } from '../support/windows-guest.js';
import { makeMachine } from '../support/machine-fixture.js';
import { rejection } from '../support/thrown.js';

const DIR = new URL('../fixtures/qemu-7.2/win-dmp/', import.meta.url);
const golden = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as {
  cases: { name: string; image: string; smp: number; faults: string; reply: { error?: { desc: string } }; warnings: string[]; dmp?: { file: string } }[];
};
const MODES: readonly WindowsGuestMode[] = ['x64', 'pae', 'nopae'];
/** Every RAM and ROM block of the machine, hashed. */
function ramHash(m: Machine): string {
  const hash = createHash('sha256');
  for (const b of m.memory.blocks()) hash.update(m.memory.read(b.gpa, b.sizeBytes));
  return hash.digest('hex');
}

function guest(mode: WindowsGuestMode, cpus: number, faults = ''): { machine: Machine; snapshots: CpuSnapshot[] } {
  const machine = makeMachine({ cpus });
  return { machine, snapshots: buildWindowsGuest(machine, { mode, cpus, faults }) };
}

async function dump(machine: Machine, snapshots: readonly CpuSnapshot[], compat?: 'qemu-7.2', sink: ByteSink = new MemorySink(), signal?: AbortSignal) {
  const warnings: string[] = [];
  const result = await new DumpEngine().dump(dumpSourceFromMachine(machine, snapshots), { sink, format: 'win-dmp', compat, signal, onWarning: (w) => warnings.push(w) });
  return { result, warnings };
}

describe.each(MODES.flatMap((mode) => [1, 2].map((cpus) => [mode, cpus] as const)))('%s guest with %d CPU(s)', (mode, cpus) => {
  it('dumps in both flavours, reads back its CONTEXTs, leaves guest memory unchanged', async () => {
    const { machine, snapshots } = guest(mode, cpus);
    const before = ramHash(machine);
    for (const compat of [undefined, 'qemu-7.2'] as const) {
      const sink = new MemorySink();
      const { result, warnings } = await dump(machine, snapshots, compat, sink);
      expect(warnings).toEqual([]);
      const bytes = sink.bytes();
      expect(result.bytesWritten).toBe(bytes.length);
      expect(bytes.length).toBe((mode === 'x64' ? 0x2000 : 0x1000) + 0xfa0 * 4096);
      const back = await readDump(inputFromBytes(bytes));
      const w = back.windows;
      expect(w?.kdDebuggerDataBlock).toBe(kernelBase(mode));
      expect(w?.directoryTableBase).toBe(BigInt(K_PT));
      expect(w?.bugcheckCode).toBe(0x161);
      expect(w?.contexts.map((c) => c.rip)).toEqual(snapshots.map((s) => (mode === 'x64' ? s.rip : s.rip & 0xffffffffn)));
      expect(w?.contexts.map((c) => c.gpr.rbx)).toEqual(snapshots.map((s) => (mode === 'x64' ? s.gpr.rbx : s.gpr.rbx & 0xffffffffn)));
      // Memory outside the CONTEXTs is the guest's own: the kernel's page 1 (KiBugcheckData) at 0x201000.
      const runOffset = (gpa: number): number => (mode === 'x64' ? 0x2000 : 0x1000) + 0xa0 * 4096 + (gpa - 0x100000);
      expect(bytes.subarray(runOffset(0x201000), runOffset(0x201000) + 4096)).toEqual(machine.memory.read(0x201000, 4096));
      expect(ramHash(machine)).toBe(before);
    }
  });

  it('its patched header is QEMU\'s header for the firmware guest', async () => {
    const c = golden.cases.find((x) => x.name === `${mode}-smp${cpus}`);
    const qemu = new Uint8Array(gunzipSync(readFileSync(new URL(c?.dmp?.file ?? '', DIR))));
    const { machine, snapshots } = guest(mode, cpus);
    const sink = new MemorySink();
    await dump(machine, snapshots, 'qemu-7.2', sink);
    const size = mode === 'x64' ? 0x2000 : 0x1000;
    expect(sink.bytes().subarray(0, size)).toEqual(qemu.subarray(0, size));
  });
});

describe('each fault gives QEMU 7.2\'s text or warning, and guest memory stays as it was', () => {
  const cases = golden.cases.filter((c) => c.faults !== '');
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const mode = c.image.includes('x64') ? 'x64' : c.image.includes('nopae') ? 'nopae' : 'pae';
    const { machine, snapshots } = guest(mode, c.smp, c.faults);
    const before = ramHash(machine);
    const run = dump(machine, snapshots, 'qemu-7.2');
    if (c.reply.error !== undefined) {
      const error = await rejection(run);
      expect(error).toBeInstanceOf(DumpError);
      expect((error as DumpError).message).toBe(c.reply.error.desc);
    } else {
      const { warnings } = await run;
      expect(warnings.map((w) => `warning: ${w}`)).toEqual(c.warnings.filter((w) => !w.includes('failed to restore')));
    }
    expect(ramHash(machine)).toBe(before);
  });
});

describe('default-flavour fixes', () => {
  it('a registered size shorter than the note: QEMU 7.2 crashes; here, the note-size error', async () => {
    const machine = makeMachine();
    const image = windowsGuestImage({ mode: 'x64', cpus: 1 });
    for (const w of image.writes) machine.memory.write(w.gpa, w.bytes);
    const record = new Uint8Array(16);
    const r = new DataView(record.buffer);
    r.setUint16(2, 1, true);
    r.setUint32(4, image.note.length - 8, true);
    r.setBigUint64(8, BigInt(NOTE_ADDR), true);
    machine.vmcoreinfo?.loadState({ v: 1, hasVmcoreinfo: true, record: Buffer.from(record).toString('hex') });
    for (const compat of [undefined, 'qemu-7.2'] as const) {
      const warnings: string[] = [];
      const error = await rejection(new DumpEngine().dump(dumpSourceFromMachine(machine, image.cpus), { sink: new MemorySink(), format: 'win-dmp', compat, onWarning: (w) => warnings.push(w) }));
      expect(warnings).toEqual(['Invalid guest note header']);
      expect(error).toMatchObject({ code: 'win-dump-note', message: 'win-dump: invalid vmcoreinfo note size' });
    }
  });

  it('more runs than Run[] holds: an error in the default flavour', async () => {
    const runs = Array.from({ length: 44 }, (_, i) => [BigInt(0x100 + i), 1n] as const);
    const machine = makeMachine();
    const snapshots = buildWindowsGuest(machine, { mode: 'x64', cpus: 1, runs });
    const error = await rejection(dump(machine, snapshots));
    expect(error).toMatchObject({ code: 'win-dump-runs', message: 'win-dump: NumberOfRuns (44) is more than the header holds (43)' });
    // QEMU reads the 44th run from the bytes after Run[] (ContextBuffer, "PAGE" here).
    const compat = await rejection(dump(machine, snapshots, 'qemu-7.2', new MemorySink(), AbortSignal.abort()));
    expect(compat).toMatchObject({ code: 'aborted' });
  });
});

/** Throws once `failAt` bytes are in; remembers abort(). */
class FailingSink implements ByteSink {
  written = 0;
  aborted = false;
  readonly failAt: number;
  constructor(failAt: number) {
    this.failAt = failAt;
  }
  write(chunk: Uint8Array): void {
    if (this.written + chunk.length > this.failAt) throw new Error(`disk full at ${this.failAt}`);
    this.written += chunk.length;
  }
  abort(): void {
    this.aborted = true;
  }
}

describe('failing sinks and aborts', () => {
  it('a sink failing anywhere: sink-failed, sink aborted, guest memory unchanged, a retry gives the same bytes', async () => {
    const { machine, snapshots } = guest('x64', 2);
    const before = ramHash(machine);
    const reference = new MemorySink();
    await dump(machine, snapshots, undefined, reference);
    const size = reference.bytes().length;
    for (const failAt of [0, 1, 0x1fff, 0x2000, 0x2001, 0x5000, size >> 1, size - 1]) {
      const sink = new FailingSink(failAt);
      const error = await rejection(dump(machine, snapshots, undefined, sink));
      expect(error, `fail at ${failAt}`).toMatchObject({ code: 'sink-failed' });
      expect(sink.aborted).toBe(true);
      expect(ramHash(machine)).toBe(before);
    }
    const retry = new MemorySink();
    await dump(machine, snapshots, undefined, retry);
    expect(Buffer.compare(retry.bytes(), reference.bytes())).toBe(0);
  });

  it('an abort part-way: code aborted, guest memory unchanged', async () => {
    const { machine, snapshots } = guest('pae', 2);
    const before = ramHash(machine);
    const controller = new AbortController();
    const sink = new MemorySink();
    const engine = new DumpEngine();
    const error = await rejection(engine.dump(dumpSourceFromMachine(machine, snapshots), {
      sink, format: 'win-dmp', signal: controller.signal, onProgress: (s) => { if (s.completed > 0x300000) controller.abort(); },
    }));
    expect(error).toMatchObject({ code: 'aborted' });
    expect(sink.aborted).toBe(true);
    expect(engine.queryDump().status).toBe('failed');
    expect(ramHash(machine)).toBe(before);
  });
});

/** Counts bytes and stops the dump (through the signal) past 8 MiB, so huge run lists stay cheap. */
class CountingSink implements ByteSink {
  bytes = 0;
  readonly controller: AbortController;
  constructor(controller: AbortController) {
    this.controller = controller;
  }
  write(chunk: Uint8Array): void {
    this.count(chunk.length);
  }
  writeZeros(length: number): void {
    this.count(length);
  }
  count(n: number): void {
    this.bytes += n;
    if (this.bytes > 8 << 20) this.controller.abort();
  }
}

describe('fast-check: random headers never throw out of the engine and never change guest memory', () => {
  it('random run lists, page counts, processors and pointers', async () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const near = fc.oneof(u64, fc.bigInt({ min: 0n, max: 0x20000n }).map((o) => 0xfffff80000000000n + o), fc.bigInt({ min: 0n, max: 0x2000000n }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<WindowsGuestMode>('x64', 'pae', 'nopae'),
        fc.integer({ min: 1, max: 2 }),
        fc.array(fc.tuple(fc.oneof(fc.bigInt({ min: 0n, max: 0x2000n }), u64), fc.oneof(fc.bigInt({ min: 0n, max: 0x400n }), u64)), { maxLength: 50 }),
        fc.record({ pages: u64, nproc: fc.nat(0xffffffff), kdbg: near, param1: near, dtb: fc.oneof(fc.constant(BigInt(K_PT)), u64), processorBlock: near, offset: fc.nat(0xffff), runsCount: fc.nat(0xffffffff) }, { requiredKeys: [] }),
        fc.boolean(),
        async (mode, cpus, runs, patch, compat) => {
          const x64 = mode === 'x64';
          const machine = makeMachine({ cpus, memorySize: '20M' });
          const snapshots = buildWindowsGuest(machine, { mode, cpus, runs: runs.map(([b, c]) => (x64 ? [b, c] : [b & 0xffffffffn, c & 0xffffffffn])) });
          // Patch the registered header and the KDBG in guest RAM, as a confused guest would.
          const h = NOTE_ADDR + 24;
          const put = (gpa: number, value: bigint, size: number): void => {
            const b = new Uint8Array(size);
            new DataView(b.buffer)[size === 8 ? 'setBigUint64' : 'setUint32'](0, (size === 8 ? BigInt.asUintN(64, value) : Number(BigInt.asUintN(32, value))) as never, true);
            machine.memory.write(gpa, b);
          };
          const ptr = x64 ? 8 : 4;
          if (patch.pages !== undefined) put(h + (x64 ? 0x90 : 0x68), patch.pages, ptr);
          if (patch.nproc !== undefined) put(h + (x64 ? 0x34 : 0x24), BigInt(patch.nproc), 4);
          if (patch.kdbg !== undefined) put(h + (x64 ? 0x80 : 0x60), patch.kdbg, ptr);
          if (patch.param1 !== undefined) put(h + (x64 ? 0x40 : 0x2c), patch.param1, ptr);
          if (patch.dtb !== undefined) put(h + 0x10, patch.dtb, ptr);
          if (patch.runsCount !== undefined) put(h + (x64 ? 0x88 : 0x64), BigInt(patch.runsCount), 4);
          if (patch.processorBlock !== undefined) put(0x200218, patch.processorBlock, ptr);
          if (patch.offset !== undefined) machine.memory.write(0x200338, new Uint8Array([patch.offset & 0xff, patch.offset >> 8]));
          const before = ramHash(machine);
          const controller = new AbortController();
          const engine = new DumpEngine();
          try {
            await engine.dump(dumpSourceFromMachine(machine, snapshots), { sink: new CountingSink(controller), format: 'win-dmp', compat: compat ? 'qemu-7.2' : undefined, signal: controller.signal });
          } catch (error) {
            expect(error).toBeInstanceOf(DumpError);
          }
          expect(engine.queryDump().status).not.toBe('active');
          expect(ramHash(machine)).toBe(before);
        },
      ),
      { numRuns: 30 },
    );
  });
});
