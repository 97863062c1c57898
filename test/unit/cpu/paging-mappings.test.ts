/**
 * The paging-dump mapping list on hand-built tables: QEMU 7.2's merge rules (memory_mapping.c),
 * which CPUs are walked, the virtual-address prefixes, dropped leaves, A20, and a fast-check
 * comparison of the list with a literal transcription of QEMU's merge loop.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { powerOnSnapshot, type CpuSnapshot } from '../../../src/cpu/state.js';
import { MemoryMappingList, pagingMappings, type PagingMappingSource } from '../../../src/dump/paging-mappings.js';
import { dumpSourceFromBytes } from '../../../src/dump/source.js';
import type { MemoryMapping } from '../../../src/dump/mapping.js';
import { GIB1, KIB4, LongTables, MIB2, MIB4, P, PaeTables, Ram, RW, Tables32, XD } from './tables.js';

const U64 = (1n << 64n) - 1n;

function listOf(adds: readonly (readonly [bigint, bigint, bigint])[]): MemoryMapping[] {
  const list = new MemoryMappingList();
  for (const [phys, virt, length] of adds) list.add(phys, virt, length);
  return list.mappings();
}

describe('merge rules (memory_mapping_list_add_merge_sorted)', () => {
  it('extends the last mapping when contiguous in phys and virt', () => {
    expect(listOf([[0x1000n, 0x5000n, 0x1000n], [0x2000n, 0x6000n, 0x1000n], [0x3000n, 0x7000n, 0x2000n]]))
      .toEqual([{ phys: 0x1000n, virt: 0x5000n, length: 0x4000n }]);
  });

  it('extends an earlier contiguous mapping, which becomes the last one', () => {
    expect(listOf([
      [0x1000n, 0x5000n, 0x1000n],
      [0x8000n, 0x9000n, 0x1000n],
      [0x2000n, 0x6000n, 0x1000n],
      [0x3000n, 0x7000n, 0x1000n],
    ])).toEqual([{ phys: 0x1000n, virt: 0x5000n, length: 0x3000n }, { phys: 0x8000n, virt: 0x9000n, length: 0x1000n }]);
  });

  it('keeps ascending phys order and puts the newest first among equal phys', () => {
    expect(listOf([
      [0x5000n, 0xa000n, 0x1000n],
      [0x1000n, 0xb000n, 0x1000n],
      [0x5000n, 0xc000n, 0x1000n],
      [0x3000n, 0xd000n, 0x1000n],
    ]).map((m) => [m.phys, m.virt])).toEqual([[0x1000n, 0xb000n], [0x3000n, 0xd000n], [0x5000n, 0xc000n], [0x5000n, 0xa000n]]);
  });

  it('widens only the virtual span of an overlapping or touching mapping with the same delta (phys stays)', () => {
    // Touching from below: QEMU moves virt back and grows the length, but leaves phys where it was.
    expect(listOf([[0x2000n, 0x12000n, 0x1000n], [0x1000n, 0x11000n, 0x1000n]])).toEqual([{ phys: 0x2000n, virt: 0x11000n, length: 0x2000n }]);
    // Inside an existing mapping: nothing changes.
    expect(listOf([[0x0n, 0x10000n, 0x200000n], [0x3000n, 0x13000n, 0x1000n]])).toEqual([{ phys: 0x0n, virt: 0x10000n, length: 0x200000n }]);
    // Overlapping the end: grows.
    expect(listOf([[0x0n, 0x10000n, 0x2000n], [0x1000n, 0x11000n, 0x2000n]])).toEqual([{ phys: 0x0n, virt: 0x10000n, length: 0x3000n }]);
  });

  it('adds a separate mapping for an overlap with another delta', () => {
    expect(listOf([[0x0n, 0x10000n, 0x2000n], [0x1000n, 0x50000n, 0x1000n]])).toEqual([
      { phys: 0x0n, virt: 0x10000n, length: 0x2000n },
      { phys: 0x1000n, virt: 0x50000n, length: 0x1000n },
    ]);
  });

  it('computes modulo 2^64: a mapping ending at the top of the address space continues at virtual 0', () => {
    expect(listOf([[0x1000n, 0xfffffffffffff000n, 0x1000n], [0x2000n, 0x0n, 0x1000n]])).toEqual([{ phys: 0x1000n, virt: 0xfffffffffffff000n, length: 0x2000n }]);
  });

  it('create() inserts without merging (the identity list of a guest without paging)', () => {
    const list = new MemoryMappingList();
    list.create(0x1000n, 0x1000n, 0x1000n);
    list.create(0x2000n, 0x2000n, 0x1000n);
    expect(list.length).toBe(2);
  });

  /** QEMU's loop, transcribed without the scan shortcut of the implementation. */
  function reference(adds: readonly (readonly [bigint, bigint, bigint])[]): MemoryMapping[] {
    const list: { phys: bigint; virt: bigint; length: bigint }[] = [];
    let last: { phys: bigint; virt: bigint; length: bigint } | undefined;
    const contiguous = (m: { phys: bigint; virt: bigint; length: bigint }, phys: bigint, virt: bigint): boolean =>
      phys === ((m.phys + m.length) & U64) && virt === ((m.virt + m.length) & U64);
    const create = (phys: bigint, virt: bigint, length: bigint): void => {
      const m = { phys, virt, length };
      const at = list.findIndex((e) => e.phys >= phys);
      list.splice(at < 0 ? list.length : at, 0, m);
      last = m;
    };
    outer: for (const [phys, virt, length] of adds) {
      if (list.length === 0) { create(phys, virt, length); continue; }
      if (last !== undefined && contiguous(last, phys, virt)) { last.length = (last.length + length) & U64; continue; }
      for (const m of list) {
        if (contiguous(m, phys, virt)) { m.length = (m.length + length) & U64; last = m; continue outer; }
        if (((phys + length) & U64) < m.phys) break;
        if (!(((phys + length) & U64) < m.phys || phys >= ((m.phys + m.length) & U64))) {
          if (((virt - m.virt) & U64) !== ((phys - m.phys) & U64)) continue;
          if (virt < m.virt) { m.length = (m.length + m.virt - virt) & U64; m.virt = virt; }
          if (((virt + length) & U64) > ((m.virt + m.length) & U64)) m.length = (virt + length - m.virt) & U64;
          last = m;
          continue outer;
        }
      }
      create(phys, virt, length);
    }
    return list.map(({ phys, virt, length }) => ({ phys, virt, length }));
  }

  it('equals QEMU\'s loop for random leaf sequences', () => {
    const size = fc.constantFrom(0x1000n, 0x1000n, 0x2000n, 0x200000n, 0x400000n);
    const leaf = fc.tuple(fc.nat(64), fc.nat(64), size, fc.constantFrom(0n, 0xffff000000000000n, 0xfffffffffff00000n))
      .map(([p, v, len, prefix]) => [BigInt(p) * 0x1000n, (prefix + BigInt(v) * 0x1000n) & U64, len] as const);
    fc.assert(fc.property(fc.array(leaf, { maxLength: 120 }), (adds) => {
      expect(listOf(adds)).toEqual(reference(adds));
    }), { numRuns: 500 });
  });

  it('equals QEMU\'s loop for thousands of scattered and aliased leaves (a list of several chunks)', () => {
    let x = 0x2545f491;
    const next = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const adds: (readonly [bigint, bigint, bigint])[] = [];
    for (let n = 0; n < 6000; n++) {
      const phys = BigInt(next() % 4096) * 0x1000n;
      const kind = next() % 4;
      const virt = kind === 0 ? 0xffff000000000000n + phys : 0xffffc90000000000n + BigInt(n) * 0x1000n + (kind === 1 ? 0x1000n : 0n);
      adds.push([phys, virt, kind === 3 ? 0x2000n : 0x1000n]);
    }
    const list = listOf(adds);
    expect(list.length).toBeGreaterThan(2100);
    expect(list).toEqual(reference(adds));
  });
});

function cpu(index: number, control: { cr0?: bigint; cr3?: bigint; cr4?: bigint; efer?: bigint; a20?: boolean }): CpuSnapshot {
  return { ...powerOnSnapshot(index), ...control };
}

const CR0_PAGING = 0x80000011n;
const LONG = { cr0: CR0_PAGING, cr4: 0x20n, efer: 0x500n };

function source(ram: Ram, cpus: CpuSnapshot[], extra: Partial<PagingMappingSource> = {}): PagingMappingSource {
  return { ...dumpSourceFromBytes([{ gpa: 0, bytes: ram.bytes }, { gpa: 0xffff0000, bytes: new Uint8Array(0x10000) }], cpus), ...extra };
}

describe('pagingMappings', () => {
  it('without a paging CPU gives one identity mapping per block', () => {
    const ram = new Ram();
    expect(pagingMappings(source(ram, [cpu(0, {}), cpu(1, {})]))).toEqual([
      { phys: 0n, virt: 0n, length: 0x400000n },
      { phys: 0xffff0000n, virt: 0xffff0000n, length: 0x10000n },
    ]);
  });

  it('walks the first paging CPU and every later one, skipping earlier ones', () => {
    const ram = new Ram();
    new LongTables(ram, 0x10000, 4, 0x11000).map(0x1000n, 0x100000, KIB4);
    new LongTables(ram, 0x20000, 4, 0x21000).map(0x2000n, 0x200000, KIB4);
    new LongTables(ram, 0x30000, 4, 0x31000).map(0x3000n, 0x300000, KIB4);
    const cpus = [
      cpu(0, {}),
      cpu(1, { ...LONG, cr3: 0x20000n }),
      cpu(2, {}),
      cpu(3, { ...LONG, cr3: 0x30000n }),
    ];
    expect(pagingMappings(source(ram, cpus))).toEqual([
      { phys: 0x200000n, virt: 0xffff000000002000n, length: 0x1000n },
      { phys: 0x300000n, virt: 0xffff000000003000n, length: 0x1000n },
    ]);
    // The same pages seen by two CPUs merge into one mapping.
    expect(pagingMappings(source(ram, [cpu(0, { ...LONG, cr3: 0x20000n }), cpu(1, { ...LONG, cr3: 0x20000n })]))).toEqual([
      { phys: 0x200000n, virt: 0xffff000000002000n, length: 0x1000n },
    ]);
  });

  it('prefixes 4-level addresses with 0xFFFF000000000000 and 5-level ones with 0xFE00000000000000 plus the PML5 index', () => {
    const ram = new Ram();
    const t4 = new LongTables(ram, 0x10000, 4, 0x11000);
    t4.map(0x0n, 0, MIB2);
    t4.map(0xffffffff81000000n, 0x200000, KIB4);
    expect(pagingMappings(source(ram, [cpu(0, { ...LONG, cr3: 0x10018n })]))).toEqual([
      { phys: 0n, virt: 0xffff000000000000n, length: 0x200000n },
      { phys: 0x200000n, virt: 0xffffffff81000000n, length: 0x1000n },
    ]);
    const t5 = new LongTables(ram, 0x20000, 5, 0x21000);
    t5.map(0x0001000000001000n, 0x5000, KIB4);
    t5.map(0xff00000000000000n, 0x6000, KIB4);
    expect(pagingMappings(source(ram, [cpu(0, { ...LONG, cr4: 0x1020n, cr3: 0x20000n })]))).toEqual([
      { phys: 0x5000n, virt: 0xfe01000000001000n, length: 0x1000n },
      { phys: 0x6000n, virt: 0xff00000000000000n, length: 0x1000n },
    ]);
  });

  it('drops leaves outside memory (MMIO, bits 52-62) but keeps ROM, each at full size, XD ignored', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    t.map(0x1000n, 0xfec00000, KIB4);
    t.map(0x2000n, 0x3000, KIB4, { leafHigh: 0x00100000 });
    t.map(0x3000n, 0xffff0000, KIB4);
    t.map(0x4000n, 0x4000, KIB4, { leafHigh: XD | 0xf });
    t.map(0x80000000n, 0, GIB1);
    const cpus = [cpu(0, { ...LONG, cr3: 0x10000n })];
    expect(pagingMappings(source(ram, cpus))).toEqual([
      { phys: 0n, virt: 0xffff000080000000n, length: 0x40000000n },
      { phys: 0xffff0000n, virt: 0xffff000000003000n, length: 0x1000n },
    ]);
    // An embedder's probe decides what is memory (bit 52+ is never asked about).
    expect(pagingMappings(source(ram, cpus, { isRamOrRomDevice: (gpa) => gpa === 0xfec00000 || gpa === 0xf_0000_4000 }))).toEqual([
      { phys: 0xfec00000n, virt: 0xffff000000001000n, length: 0x1000n },
      { phys: 0xf_0000_4000n, virt: 0xffff000000004000n, length: 0x1000n },
    ]);
  });

  it('walks PAE tables: the PD is PDPTE & ~0xfff, so high bits make it read as zeros', () => {
    const ram = new Ram();
    const t = new PaeTables(ram, 0x3000, 0x4000);
    t.map(0xc0000000, 0x200000, MIB2);
    t.map(0x00001000, 0x5000, KIB4, { leafHigh: XD });
    const cpus = [cpu(0, { cr0: CR0_PAGING, cr4: 0x20n, cr3: 0x3000n })];
    expect(pagingMappings(source(ram, cpus))).toEqual([
      { phys: 0x5000n, virt: 0x1000n, length: 0x1000n },
      { phys: 0x200000n, virt: 0xc0000000n, length: 0x200000n },
    ]);
    ram.set64(0x3018, ram.readU32(0x3018), 0x00100000);
    expect(pagingMappings(source(ram, cpus))).toEqual([{ phys: 0x5000n, virt: 0x1000n, length: 0x1000n }]);
  });

  it('walks 32-bit tables: 4 MiB pages only with CR4.PSE, PSE-36 addresses', () => {
    const ram = new Ram();
    const t = new Tables32(ram, 0x1000, 0x2000);
    t.map(0x00000000, 0x000000, MIB4);
    t.map(0x00400000, 0x1_0000_0000, MIB4);
    t.map(0xc0000000, 0x200000, KIB4, { leaf: P | RW });
    const pse = [cpu(0, { cr0: CR0_PAGING, cr4: 0x10n, cr3: 0x1000n })];
    expect(pagingMappings(source(ram, pse, { isRamOrRomDevice: (gpa) => gpa < 0x400000 || gpa === 0x1_0000_0000 }))).toEqual([
      { phys: 0n, virt: 0n, length: 0x400000n },
      { phys: 0x200000n, virt: 0xc0000000n, length: 0x1000n },
      { phys: 0x1_0000_0000n, virt: 0x400000n, length: 0x400000n },
    ]);
    // Without CR4.PSE the PDEs point at page tables: PDE 0 at the zero page 0, PDE 1 (PSE-36 bit 13
    // set) at 0x2000, which is the page table of 0xC0000000 — so its PTE appears at 0x400000 too,
    // older, hence after the equal-phys mapping found later.
    expect(pagingMappings(source(ram, [cpu(0, { cr0: CR0_PAGING, cr3: 0x1000n })]))).toEqual([
      { phys: 0x200000n, virt: 0xc0000000n, length: 0x1000n },
      { phys: 0x200000n, virt: 0x400000n, length: 0x1000n },
    ]);
  });

  it('masks table addresses with the CPU\'s A20 gate', () => {
    const ram = new Ram();
    new LongTables(ram, 0x10000, 4, 0x11000).map(0x1000n, 0x105000, KIB4);
    const masked = [cpu(0, { ...LONG, cr3: 0x110000n, a20: false })];
    expect(pagingMappings(source(ram, masked))).toEqual([{ phys: 0x105000n, virt: 0xffff000000001000n, length: 0x1000n }]);
    expect(pagingMappings(source(ram, [cpu(0, { ...LONG, cr3: 0x110000n })]))).toEqual([]);
  });

  it('reports every leaf at its full size; a leaf overlapping another with a different delta stays separate', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    t.map(0x0n, 0x3ff000, KIB4);
    t.map(0x200000n, 0x200000, MIB2);
    expect(pagingMappings(source(ram, [cpu(0, { ...LONG, cr3: 0x10000n })]))).toEqual([
      { phys: 0x200000n, virt: 0xffff000000200000n, length: 0x200000n },
      { phys: 0x3ff000n, virt: 0xffff000000000000n, length: 0x1000n },
    ]);
  });
});
