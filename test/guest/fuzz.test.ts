/**
 * Guest fuzzing with fast-check on a pc machine with 32 MiB and the 64 KiB test firmware:
 *  a. random IN/OUT sequences never throw, leave ROM alone, and touch RAM only through DMA;
 *  b. random DMA descriptors (any control bits and key, lengths up to 2^32-1, targets and
 *     descriptors in RAM, ROM, holes, above 4 GiB and at 2^64) do exactly what spec §4.3 says,
 *     checked against a small model written from the spec: every RAM byte, the cursor, the
 *     vmcoreinfo record and the anomaly counters;
 *  c. a DMA READ of a file at any offset gives the same bytes as reading it by port.
 * Expected port values are QEMU 7.2's own (test/fixtures/qemu-7.2/fwcfg/pc-32M.trace, unassigned-io.txt).
 * Not modelled: QEMU's wrap-around of guest addresses past 2^64 (the model never wraps).
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GuestAnomaly, Machine, MachineState } from '../../src/index.js';
import { DmaDriver, PioDriver, readDirectory, type DirectoryEntry } from '../support/fwcfg-driver.js';
import { hex } from '../support/hex.js';
import { makeMachine } from '../support/machine-fixture.js';

// ---- the machine's guest-physical map (pc, 32 MiB, 64 KiB firmware) -------------------------------

/** [start, end) guest-physical. */
type Span = readonly [start: bigint, end: bigint];

const RAM_END = 32 * 2 ** 20;
const TWO_64 = 1n << 64n;
/** From the "memory" FlatView of test/fixtures/qemu-7.2/fwcfg/pc-32M.mtree.txt. */
const RAM: readonly Span[] = [[0x0n, 0xc0000n], [0xe0000n, 0xf0000n], [0x100000n, 0x2000000n]];
const ROM: readonly Span[] = [[0xc0000n, 0xe0000n], [0xf0000n, 0x100000n], [0xffff0000n, 0x1_0000_0000n]];

function overlap(a: Span, b: Span): bigint {
  const start = a[0] > b[0] ? a[0] : b[0];
  const end = a[1] < b[1] ? a[1] : b[1];
  return end > start ? end - start : 0n;
}

/** How many bytes of `span` are RAM, ROM, or neither. */
function coverage(span: Span): { ram: bigint; rom: bigint; hole: bigint } {
  const ram = RAM.reduce((n, r) => n + overlap(span, r), 0n);
  const rom = ROM.reduce((n, r) => n + overlap(span, r), 0n);
  return { ram, rom, hole: span[1] - span[0] - ram - rom };
}

const spanOf = (start: bigint, length: number | bigint): Span => [start, start + BigInt(length)];
const allRam = (span: Span): boolean => coverage(span).ram === span[1] - span[0];
const allMapped = (span: Span): boolean => coverage(span).hole === 0n;

const bswap32 = (value: number): number =>
  (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// ---- fw_cfg as the spec describes it -------------------------------------------------------------

/** Numeric items of a 1-CPU pc machine and their lengths (spec §1.2, §1.3; NUMA is 8*(1+1+0)). */
const NUMERIC_ITEM_LENGTHS: readonly (readonly [key: number, length: number])[] = [
  [0x00, 4], [0x01, 4], [0x02, 16], [0x03, 8], [0x04, 2], [0x05, 2], [0x0d, 16], [0x0e, 2], [0x0f, 2],
  [0x19, 2052], [0x8002, 4], [0x8004, 121],
];
/** The only guest-writable file of a pc machine (spec §10). */
const WRITABLE_FILES = new Set(['etc/vmcoreinfo']);
const INVALID_KEY = 0xffff;
const FIRST_INVALID_INDEX = 0x40;

interface Item {
  readonly data: Uint8Array;
  readonly writable: boolean;
}

interface Cursor {
  readonly key: number;
  readonly offset: number;
}

const tableIndex = (key: number): number => (key & 0x8000) | (key & 0x3fff);

/** select(key) as spec §2.2 has it: offset 0 always; an index past the file slots selects nothing. */
function select(key: number): Cursor {
  return { key: (key & 0x3fff) >= FIRST_INVALID_INDEX ? INVALID_KEY : key, offset: 0 };
}

/** Where the cursor is after `reads` data-port reads: it stops at the item's end. */
function afterPortReads(items: ReadonlyMap<number, Item>, cursor: Cursor, reads: number): Cursor {
  const item = cursor.key === INVALID_KEY ? undefined : items.get(tableIndex(cursor.key));
  return { key: cursor.key, offset: Math.min(cursor.offset + reads, item?.data.length ?? 0) };
}

/** One guest-memory write the device attempts: item bytes, or a zero fill when `data` is absent. */
interface GuestWrite {
  readonly span: Span;
  readonly data?: Uint8Array;
}

interface Transfer {
  readonly descriptorReadable: boolean;
  readonly error: boolean;
  readonly cursor: Cursor;
  /** Attempted writes in order, not counting the control word stored last. */
  readonly writes: readonly GuestWrite[];
  /** Attempted reads: the descriptor, then a WRITE's source. */
  readonly reads: readonly Span[];
  readonly writeRejected: boolean;
  /** A DMA WRITE into an item: where, the bytes it stored, and whether write_cb ran. */
  readonly itemWrite?: { readonly key: number; readonly offset: number; readonly bytes: Uint8Array; readonly callback: boolean };
}

/**
 * fw_cfg_dma_transfer as spec §4.3 lists it. `seen` is the descriptor as the device reads it, or
 * undefined when that read fails; `source` gives guest bytes before the transfer (holes read 0).
 */
function modelTransfer(items: ReadonlyMap<number, Item>, start: Cursor, descriptorGpa: bigint, seen: Uint8Array | undefined, source: (span: Span) => Uint8Array): Transfer {
  const descriptor = spanOf(descriptorGpa, 16);
  if (seen === undefined) {
    return { descriptorReadable: false, error: true, cursor: start, writes: [], reads: [descriptor], writeRejected: false };
  }
  const view = new DataView(seen.buffer, seen.byteOffset, 16);
  const control = view.getUint32(0);
  let length = view.getUint32(4);
  let address = view.getBigUint64(8);
  let cursor = control & 0x08 ? select(control >>> 16) : start;
  const op = control & 0x02 ? 'read' : control & 0x10 ? 'write' : control & 0x04 ? 'skip' : 'none';
  if (op === 'none') length = 0;

  const writes: GuestWrite[] = [];
  const reads: Span[] = [descriptor];
  let error = false;
  let writeRejected = false;
  let itemWrite: Transfer['itemWrite'];
  while (length > 0 && !error) {
    const item = cursor.key === INVALID_KEY ? undefined : items.get(tableIndex(cursor.key));
    let chunk: number;
    if (item === undefined || cursor.offset >= item.data.length) {
      chunk = length;
      if (op === 'read') {
        writes.push({ span: spanOf(address, chunk) });
        error = !allRam(spanOf(address, chunk));
      } else if (op === 'write') {
        error = true;
        writeRejected = true;
      }
    } else {
      chunk = Math.min(length, item.data.length - cursor.offset);
      const span = spanOf(address, chunk);
      if (op === 'read') {
        writes.push({ span, data: item.data.subarray(cursor.offset, cursor.offset + chunk) });
        error = !allRam(span);
      } else if (op === 'write') {
        if (!item.writable || chunk !== length) {
          error = true;
          writeRejected = true;
        } else {
          reads.push(span);
          error = !allMapped(span);
          itemWrite = { key: tableIndex(cursor.key), offset: cursor.offset, bytes: source(span), callback: !error };
        }
      }
      cursor = { key: cursor.key, offset: cursor.offset + chunk };
    }
    address += BigInt(chunk);
    length -= chunk;
  }
  return { descriptorReadable: true, error, cursor, writes, reads, writeRejected, ...(itemWrite === undefined ? {} : { itemWrite }) };
}

// ---- the rig: one machine, restored between runs ---------------------------------------------------

type Counts = Partial<Record<GuestAnomaly, number>>;

/**
 * A machine whose RAM holds a pseudo-random pattern (so zero fills show), its state saved as the
 * baseline every run starts from, and `expected`: a gpa-indexed image of what RAM must hold.
 */
class Rig {
  readonly machine: Machine = makeMachine();
  readonly pio = new PioDriver(this.machine);
  readonly baseline: MachineState;
  readonly directory: readonly DirectoryEntry[];
  readonly items = new Map<number, Item>();
  readonly vmcoreinfoKey: number;
  readonly pristine = new Uint8Array(RAM_END);
  readonly expected = new Uint8Array(RAM_END);
  readonly #rom: { readonly gpa: number; readonly bytes: Uint8Array }[];

  constructor() {
    this.directory = readDirectory(this.pio);
    const vmcoreinfo = this.directory.find((e) => e.name === 'etc/vmcoreinfo');
    if (vmcoreinfo === undefined) throw new Error('etc/vmcoreinfo is missing');
    this.vmcoreinfoKey = vmcoreinfo.key;
    // Registered the way Linux does, so that a later partial write visibly clears has_vmcoreinfo.
    const control = new DmaDriver(this.machine, 'linux').writeDma(vmcoreinfo.key, hex`00 00 01 00 00 10 00 00 00 00 09 00 00 00 00 00`);
    if (control !== 0) throw new Error(`registering vmcoreinfo failed: control ${control}`);
    for (const [key, length] of NUMERIC_ITEM_LENGTHS) this.items.set(key, { data: this.pio.readItem(key, length), writable: false });
    for (const e of this.directory) this.items.set(e.key, { data: this.pio.readItem(e.key, e.size), writable: WRITABLE_FILES.has(e.name) });
    let seed = 0x2545f491;
    for (let gpa = 0; gpa < RAM_END; gpa++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      this.pristine[gpa] = seed & 0xff;
    }
    for (const [start, end] of RAM) this.machine.memory.write(Number(start), this.pristine.subarray(Number(start), Number(end)));
    this.pio.select(0x00);
    this.baseline = this.machine.saveState();
    this.expected.set(this.pristine);
    this.#rom = ROM.map(([start, end]) => ({ gpa: Number(start), bytes: this.machine.memory.read(Number(start), Number(end - start)) }));
  }

  counts(): Counts {
    return this.machine.diagnostics.counts();
  }

  /** Guest bytes of `span` as they are now: RAM from the expected image, ROM, zeros elsewhere. */
  guestBytes(span: Span): Uint8Array {
    const out = new Uint8Array(Number(span[1] - span[0]));
    for (let i = 0; i < out.length; i++) {
      const gpa = span[0] + BigInt(i);
      if (allRam([gpa, gpa + 1n])) out[i] = this.expected[Number(gpa)] ?? 0;
      else out[i] = this.#romByte(gpa);
    }
    return out;
  }

  #romByte(gpa: bigint): number {
    for (const r of this.#rom) {
      const at = Number(gpa) - r.gpa;
      if (at >= 0 && at < r.bytes.length) return r.bytes[at] ?? 0;
    }
    return 0;
  }

  /** Applies a guest write to the expected image (RAM bytes only). */
  expectWrite(span: Span, data?: Uint8Array): void {
    for (const r of RAM) {
      const start = span[0] > r[0] ? span[0] : r[0];
      const end = span[1] < r[1] ? span[1] : r[1];
      if (end <= start) continue;
      if (data === undefined) this.expected.fill(0, Number(start), Number(end));
      else this.expected.set(data.subarray(Number(start - span[0]), Number(end - span[0])), Number(start));
    }
  }

  /** Host write of the RAM part of `span` (a descriptor), mirrored in the expected image. */
  hostWrite(gpa: bigint, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const at = gpa + BigInt(i);
      if (allRam([at, at + 1n])) this.machine.memory.write(Number(at), bytes.subarray(i, i + 1));
    }
    this.expectWrite(spanOf(gpa, bytes.length), bytes);
  }

  expectRamAsExpected(): void {
    for (const [start, end] of RAM) {
      const actual = this.machine.memory.view(Number(start), Number(end - start));
      if (actual === undefined) throw new Error('RAM region is not viewable');
      const wanted = this.expected.subarray(Number(start), Number(end));
      if (!asBuffer(actual).equals(asBuffer(wanted))) {
        const i = actual.findIndex((b, j) => b !== wanted[j]);
        expect.fail(`RAM at 0x${(Number(start) + i).toString(16)} is 0x${actual[i]?.toString(16) ?? '?'}, expected 0x${wanted[i]?.toString(16) ?? '?'}`);
      }
    }
  }

  expectRomUnchanged(): void {
    for (const r of this.#rom) expect(asBuffer(this.machine.memory.read(r.gpa, r.bytes.length)).equals(asBuffer(r.bytes))).toBe(true);
  }

  /** Puts RAM (and the expected image) back to the pattern; `spans` limits the work. */
  restoreRam(spans: readonly Span[] = RAM): void {
    for (const span of spans) {
      for (const r of RAM) {
        const start = Number(span[0] > r[0] ? span[0] : r[0]);
        const end = Number(span[1] < r[1] ? span[1] : r[1]);
        if (end <= start) continue;
        const original = this.pristine.subarray(start, end);
        this.machine.memory.view(start, end - start)?.set(original);
        this.expected.set(original, start);
      }
    }
  }

  /** Runs `body` from the baseline state and puts RAM back afterwards, whatever happened. */
  run(body: () => readonly Span[]): void {
    this.machine.loadState(this.baseline);
    let touched: readonly Span[] = RAM;
    try {
      touched = body();
    } finally {
      this.restoreRam(touched);
    }
  }
}

function grew(before: Counts, after: Counts, kind: GuestAnomaly): number {
  return (after[kind] ?? 0) - (before[kind] ?? 0);
}

/** The spec's and the golden trace's QEMU 7.2 answer to IN of `size` at `port`, or undefined for a data read. */
function expectedIn(port: number, size: 1 | 2 | 4): number | undefined {
  const signature = hex`51 45 4d 55 20 43 46 47`;
  if (port === 0xe9 || port === 0x402) return size === 1 ? 0xe9 : 0;
  if (port === 0x501 || port === 0x502) return 0;
  if (port === 0x510 || port === 0x511) return size === 1 ? undefined : 0;
  if (port >= 0x514 && port <= 0x51b) {
    const offset = port - 0x514;
    if (offset % size !== 0) return 0;
    let value = 0;
    for (let i = 0; i < size; i++) value += (signature[offset + i] ?? 0) * 2 ** (8 * i);
    return value;
  }
  // Unassigned I/O: all-ones, but a misaligned read is rejected like any region's (unassigned-io.txt).
  return port % size === 0 ? [0, 0xff, 0xffff, 0, 0xffffffff][size] : 0;
}

const MAPPED_PORTS = new Set([0xe9, 0x402, 0x501, 0x502, 0x510, 0x511, 0x514, 0x515, 0x516, 0x517, 0x518, 0x519, 0x51a, 0x51b]);

/** Whether the access reaches its device (QEMU's memory_region_access_valid for these devices). */
function accepted(port: number, size: 1 | 2 | 4, isWrite: boolean): boolean {
  if (port === 0xe9 || port === 0x402) return size === 1;
  if (port === 0x501 || port === 0x502) return (port - 0x501) % size === 0;
  if (port === 0x510 || port === 0x511) return size === 1 || (isWrite && size === 2 && port === 0x510);
  if (port >= 0x514 && port <= 0x51b) return isWrite ? size === 4 && (port === 0x514 || port === 0x518) : (port - 0x514) % size === 0;
  return true;
}

const RUN_BUDGET_MS = 1500;

// ---- a. random port sequences ----------------------------------------------------------------------

describe('random port sequences', () => {
  it('the machine has the spec layout this file assumes', () => {
    const spans = makeMachine().memory.regions.map((r) => ({ span: [BigInt(r.gpa), BigInt(r.gpa + r.sizeBytes)], kind: r.kind }));
    expect(spans.filter((r) => r.kind === 'ram').map((r) => r.span)).toEqual(RAM);
    expect(spans.filter((r) => r.kind === 'rom').map((r) => r.span)).toEqual(ROM);
  });

  const portArb = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x50e, max: 0x51f }) },
    { weight: 2, arbitrary: fc.constantFrom(0xe8, 0xe9, 0x401, 0x402, 0x500, 0x501, 0x502, 0x503) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  );
  const ramGpaArb = fc.integer({ min: 0x100000, max: RAM_END - 16 });
  const accessArb = fc.record({
    write: fc.boolean(),
    port: portArb,
    size: fc.constantFrom(1 as const, 2 as const, 4 as const),
    // Sometimes a byte-swapped RAM address, so OUT 0x518 finds a descriptor (random bytes) in RAM.
    value: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), ramGpaArb.map(bswap32), fc.constantFrom(0, 0x19, 0x8000, 0xffff)),
  });

  it('never throw, leave ROM alone, change RAM only through a DMA trigger, and read what QEMU reads', () => {
    const rig = new Rig();
    fc.assert(
      fc.property(fc.array(accessArb, { maxLength: 40 }), (accesses) => {
        rig.run(() => {
          const before = rig.counts();
          let dmaTriggered = false;
          const flags = { unmappedRead: false, unmappedWrite: false, rejected: false };
          for (const { write, port, size, value } of accesses) {
            if (!MAPPED_PORTS.has(port)) flags[write ? 'unmappedWrite' : 'unmappedRead'] = true;
            else if (!accepted(port, size, write)) flags.rejected = true;
            if (write) {
              rig.machine.ports.write(port, size, value);
              dmaTriggered ||= port === 0x518 && size === 4;
            } else {
              const wanted = expectedIn(port, size);
              const got = rig.machine.ports.read(port, size);
              if (wanted !== undefined) expect(got, `IN ${size} at 0x${port.toString(16)}`).toBe(wanted);
            }
          }
          const after = rig.counts();
          expect(grew(before, after, 'port-unmapped-read') > 0).toBe(flags.unmappedRead);
          expect(grew(before, after, 'port-unmapped-write') > 0).toBe(flags.unmappedWrite);
          expect(grew(before, after, 'port-width-rejected') > 0).toBe(flags.rejected);
          rig.expectRomUnchanged();
          if (dmaTriggered) return RAM;
          rig.expectRamAsExpected();
          return [];
        });
      }),
      { numRuns: 200 },
    );
  });

  it('rejected widths on the fw_cfg ports are counted and change no fw_cfg state', () => {
    const rig = new Rig();
    type Access = readonly [port: number, size: 1 | 2 | 4, isWrite: boolean];
    const rejectedArb: fc.Arbitrary<Access> = fc.oneof(
      fc.constantFrom<Access>([0x510, 2, false], [0x510, 4, false], [0x511, 2, false], [0x511, 4, false], [0x510, 4, true], [0x511, 2, true]),
      fc.tuple(fc.integer({ min: 0x514, max: 0x51b }), fc.constantFrom(1 as const, 2 as const), fc.constant(true)),
      fc.tuple(fc.constantFrom(0x515, 0x516, 0x517, 0x519, 0x51a, 0x51b), fc.constant(4 as const), fc.constant(true)),
      fc.tuple(fc.constantFrom(0x515, 0x517, 0x519, 0x51b), fc.constantFrom(2 as const, 4 as const), fc.constant(false)),
    );
    fc.assert(
      fc.property(rejectedArb, fc.integer({ min: 0, max: 0xffffffff }), ([port, size, write], value) => {
        rig.run(() => {
          const fwcfgBefore = rig.machine.fwcfg.saveState();
          const before = rig.counts();
          if (write) rig.machine.ports.write(port, size, value);
          else expect(rig.machine.ports.read(port, size)).toBe(0);
          expect(grew(before, rig.counts(), 'port-width-rejected')).toBe(1);
          expect(rig.machine.fwcfg.saveState()).toEqual(fwcfgBefore);
          rig.expectRamAsExpected();
          return [];
        });
      }),
      { numRuns: 100 },
    );
  });
});

// ---- b. random DMA descriptors ---------------------------------------------------------------------

/** DMA scenarios for `rig`'s machine: where the descriptor sits, what it says, and the cursor before. */
function dmaScenarioArb(rig: Rig) {
  const fileKeys = rig.directory.map((e) => e.key);

  const u64 = (min: bigint, max: bigint): fc.Arbitrary<bigint> => fc.bigInt({ min, max });
  const within = (spans: readonly Span[], tail: bigint): fc.Arbitrary<bigint> => fc.oneof(...spans.map(([s, e]) => u64(s, e - tail)));

  const descriptorGpaArb = fc.oneof(
    { weight: 12, arbitrary: within(RAM, 16n) },
    // RAM running into ROM: readable, but part of the control word lands in RAM only.
    { weight: 1, arbitrary: fc.constantFrom(0xbfff8n, 0xbfffen, 0xefff8n, 0xefffdn) },
    // The very end of RAM, partly outside.
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 15 }).map((k) => BigInt(RAM_END - k)) },
    { weight: 1, arbitrary: u64(BigInt(RAM_END), 0xfffefff0n) },
    { weight: 1, arbitrary: within(ROM, 1n) },
    { weight: 1, arbitrary: u64(1n << 32n, 1n << 44n) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((k) => TWO_64 - BigInt(k)) },
  );

  const keyArb = fc.oneof(
    fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x06, 0x0d, 0x19, 0x1a, 0x1f, 0x4000, 0x4019, 0x8000, 0x8002, 0x8003, 0x8004, 0xc002, 0x8020, 0x803f),
    fc.constantFrom(...fileKeys),
    fc.constant(rig.vmcoreinfoKey),
    fc.integer({ min: 0x40, max: 0xffff }),
  );

  const controlArb = fc
    .record({
      key: keyArb,
      select: fc.boolean(),
      ops: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x10, 0x12, 0x14, 0x16, 0x20), fc.integer({ min: 0, max: 0xffff })),
    })
    .map(({ key, select: withSelect, ops }) => ((key << 16) | (withSelect ? 0x08 : 0) | ops) >>> 0);

  const lengthArb = fc.oneof(
    fc.constantFrom(0, 1, 2, 3, 4, 8, 15, 16, 17, 40, 2052, 2060, 0x10000, 0x7fffffff, 0xfffffff0, 0xffffffff),
    fc.integer({ min: 0, max: 64 }),
    fc.integer({ min: 0, max: 0xffffffff }),
  );

  /** A target, possibly relative to the descriptor (resolved once the descriptor is placed). */
  const targetArb = fc.oneof(
    { weight: 4, arbitrary: within(RAM, 1n).map((gpa) => ({ gpa, relative: false })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 64 }).map((k) => ({ gpa: BigInt(RAM_END - k), relative: false })) },
    { weight: 1, arbitrary: u64(BigInt(RAM_END), 0xfffeffffn).map((gpa) => ({ gpa, relative: false })) },
    { weight: 1, arbitrary: within(ROM, 1n).map((gpa) => ({ gpa, relative: false })) },
    { weight: 1, arbitrary: u64(1n << 32n, 1n << 48n).map((gpa) => ({ gpa, relative: false })) },
    { weight: 1, arbitrary: u64(1n, 1n << 33n).map((k) => ({ gpa: TWO_64 - k, relative: false })) },
    { weight: 2, arbitrary: fc.integer({ min: -16, max: 16 }).map((delta) => ({ gpa: BigInt(delta), relative: true })) },
  );

  // Besides anything at all, plenty of plausible writes to etc/vmcoreinfo (with or without SELECT,
  // so a preselected cursor gives writes at an offset).
  const transferArb = fc.oneof(
    { weight: 3, arbitrary: fc.record({ control: controlArb, length: lengthArb }) },
    {
      weight: 1,
      arbitrary: fc.record({
        control: fc.constantFrom(0x18, 0x1c, 0x10, 0x14).map((ops) => ((rig.vmcoreinfoKey << 16) | ops) >>> 0),
        length: fc.integer({ min: 0, max: 20 }),
      }),
    },
  );

  const scenarioArb = fc.record({
    preselect: fc.option(fc.record({ key: keyArb, reads: fc.integer({ min: 0, max: 48 }) }), { nil: null }),
    descriptorGpa: descriptorGpaArb,
    writeHigh: fc.boolean(),
    transfer: transferArb,
    target: targetArb,
  });
  return scenarioArb;
}

describe('random DMA descriptors', () => {
  let rig: Rig;
  beforeAll(() => {
    rig = new Rig();
  });

  it('do what spec §4.3 says, byte for byte, quickly, with every anomaly counted', () => {
    fc.assert(
      fc.property(dmaScenarioArb(rig), (s) => {
        rig.run(() => {
          const address = s.target.relative ? (s.descriptorGpa + s.target.gpa + TWO_64) % TWO_64 : s.target.gpa;
          let cursor: Cursor = { key: 0, offset: 0 };
          if (s.preselect !== null) {
            rig.pio.select(s.preselect.key);
            rig.pio.read(s.preselect.reads);
            cursor = afterPortReads(rig.items, select(s.preselect.key), s.preselect.reads);
          }
          const descriptor = new Uint8Array(16);
          const view = new DataView(descriptor.buffer);
          view.setUint32(0, s.transfer.control);
          view.setUint32(4, s.transfer.length);
          view.setBigUint64(8, address);
          rig.hostWrite(s.descriptorGpa, descriptor);

          const descriptorSpan = spanOf(s.descriptorGpa, 16);
          const seen = allMapped(descriptorSpan) ? rig.guestBytes(descriptorSpan) : undefined;
          const model = modelTransfer(rig.items, cursor, s.descriptorGpa, seen, (span) => rig.guestBytes(span));
          const before = rig.counts();
          const vmcoreinfoBefore = rig.machine.vmcoreinfo?.record.hasVmcoreinfo;

          const started = performance.now();
          const high = Number(s.descriptorGpa >> 32n);
          if (s.writeHigh || high !== 0) rig.machine.ports.write(0x514, 4, bswap32(high));
          rig.machine.ports.write(0x518, 4, bswap32(Number(s.descriptorGpa & 0xffffffffn)));
          expect(performance.now() - started).toBeLessThan(RUN_BUDGET_MS);

          const controlSpan = spanOf(s.descriptorGpa, 4);
          for (const w of model.writes) rig.expectWrite(w.span, w.data);
          rig.expectWrite(controlSpan, model.error ? hex`00 00 00 01` : hex`00 00 00 00`);
          rig.expectRamAsExpected();
          rig.expectRomUnchanged();
          expectFwCfgState(model);
          expectVmcoreinfo(model, vmcoreinfoBefore);
          expectAnomalies(before, rig.counts(), model, controlSpan);
          return [descriptorSpan, ...model.writes.map((w) => w.span)];
        });
      }),
      { numRuns: 400 },
    );
  });

  function expectFwCfgState(model: Transfer): void {
    const state = rig.machine.fwcfg.saveState();
    expect({ key: state.curKey, offset: state.curOffset }).toEqual(model.cursor);
    expect([state.dmaAddressHigh, state.dmaAddressLow]).toEqual([0, 0]);
  }

  function expectVmcoreinfo(model: Transfer, hadVmcoreinfo: boolean | undefined): void {
    const record = new Uint8Array(rig.items.get(rig.vmcoreinfoKey)?.data ?? []);
    let has = hadVmcoreinfo;
    if (model.itemWrite?.key === rig.vmcoreinfoKey) {
      record.set(model.itemWrite.bytes, model.itemWrite.offset);
      // write_cb: a full 16-byte write at offset 0 with guest_format != 0 registers; any other clears.
      if (model.itemWrite.callback) has = model.itemWrite.offset === 0 && model.itemWrite.bytes.length === 16 && (record[2] !== 0 || record[3] !== 0);
    }
    const saved = rig.machine.fwcfg.saveState().writableFiles['etc/vmcoreinfo'];
    expect(saved).toBe(Buffer.from(record).toString('hex'));
    expect(rig.machine.vmcoreinfo?.record.hasVmcoreinfo).toBe(has);
  }

  function expectAnomalies(before: Counts, after: Counts, model: Transfer, controlSpan: Span): void {
    expect(grew(before, after, 'fwcfg-dma-descriptor-unreadable')).toBe(model.descriptorReadable ? 0 : 1);
    expect(grew(before, after, 'fwcfg-dma-write-rejected')).toBe(model.writeRejected ? 1 : 0);
    const writes = [...model.writes.map((w) => w.span), controlSpan].map(coverage);
    const romWrites = grew(before, after, 'memory-rom-write');
    const holeWrites = grew(before, after, 'memory-unmapped-write');
    // A write that hits both ROM and a hole may be reported as either.
    if (writes.some((c) => c.rom > 0n && c.hole === 0n)) expect(romWrites).toBeGreaterThan(0);
    if (writes.some((c) => c.hole > 0n && c.rom === 0n)) expect(holeWrites).toBeGreaterThan(0);
    if (writes.some((c) => c.hole > 0n && c.rom > 0n)) expect(romWrites + holeWrites).toBeGreaterThan(0);
    if (writes.every((c) => c.rom === 0n)) expect(romWrites).toBe(0);
    if (writes.every((c) => c.hole === 0n)) expect(holeWrites).toBe(0);
    const holeReads = model.reads.some((span) => coverage(span).hole > 0n);
    expect(grew(before, after, 'memory-unmapped-read') > 0).toBe(holeReads);
  }
});

// ---- c. DMA READ versus port reads ----------------------------------------------------------------

describe('a file read by DMA', () => {
  it('gives the same bytes as the port read of that file, at any offset (SKIP + READ)', () => {
    const machine = makeMachine();
    machine.fwcfg.addFile('opt/fuzz/blob', Uint8Array.from({ length: 3000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));
    machine.fwcfg.addFile('opt/fuzz/one', hex`7f`);
    const pio = new PioDriver(machine);
    const files = readDirectory(pio);
    fc.assert(
      fc.property(
        fc.constantFrom(...files),
        fc.integer({ min: 0, max: 3100 }),
        fc.integer({ min: 0, max: 3100 }),
        fc.constantFrom('seabios' as const, 'linux' as const),
        (file, offsetSeed, lengthSeed, style) => {
          const offset = offsetSeed % (file.size + 9);
          const length = lengthSeed % (file.size + 9);
          pio.select(file.key);
          pio.read(offset);
          const byPort = pio.read(length);
          const dma = new DmaDriver(machine, style);
          // Poison the buffer so that bytes the device never wrote cannot pass for zeros.
          machine.memory.write(dma.bufferGpa, new Uint8Array(length).fill(0xa5));
          const { control, data } = dma.readAt(file.key, offset, length);
          expect(control).toBe(0);
          expect(data).toEqual(byPort);
          const tail = byPort.subarray(Math.max(0, file.size - offset));
          expect(tail.every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
