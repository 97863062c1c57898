/**
 * The memory-mapping list of a `paging: true` ELF dump, as QEMU 7.2 builds it
 * (softmmu/memory_mapping.c qemu_get_guest_memory_mapping, target/i386/arch_memory_mapping.c):
 *
 * - the first CPU with CR0.PG and every later CPU walk their page tables into one list (earlier
 *   CPUs are skipped, later non-paging ones add nothing); with no paging CPU, one identity mapping
 *   (virt = phys) per guest block;
 * - the walk checks only Present; table addresses are masked with PLM4_ADDR_MASK (bits 12-51),
 *   except the legacy-PAE page directory (PDPTE & ~0xfff) and 32-bit tables (& ~0xfff), and ANDed
 *   with the A20 mask; leaf addresses keep bits 52-62 (so such leaves point far beyond memory and
 *   are dropped), bit 63 is cleared; a leaf whose first byte is not RAM or a ROM device (MMIO,
 *   unassigned) is dropped, ROM is kept; each leaf counts at its full size;
 * - virtual addresses of 4-level walks carry the prefix 0xFFFF000000000000 and of 5-level walks
 *   0xFE00000000000000, even for the lower half;
 * - leaves are merged by memory_mapping_list_add_merge_sorted (spec §4.2), with QEMU's uint64
 *   arithmetic, its "last mapping" shortcut, its virtual-only widening of overlapping entries, and
 *   insertion before the first entry with phys >= the new one (newest first among equal phys).
 *
 * Table reads go through the source's readPhysical (holes read 0, as QEMU's unassigned reads do);
 * addresses at or above 2^52 read 0 and are never memory.
 */

import { pagingControl, pagingMode, type PagingControl } from '../cpu/paging.js';
import { CR0_PG, type CpuSnapshot } from '../cpu/state.js';
import type { MemoryMapping } from './mapping.js';
import type { DumpBlock } from './source.js';

/** What the walk needs of a DumpSource, plus an optional memory probe. */
export interface PagingMappingSource {
  readonly blocks: readonly DumpBlock[];
  readonly cpus: readonly CpuSnapshot[];
  readPhysical(gpa: number, dst: Uint8Array): boolean;
  /**
   * QEMU's !cpu_physical_memory_is_io: RAM or a ROM device (pflash in ROMD mode counts, though it
   * is not a dump block) at `gpa`. Default: `gpa` lies in one of `blocks`.
   */
  readonly isRamOrRomDevice?: ((gpa: number) => boolean) | undefined;
}

const U64 = (1n << 64n) - 1n;
const PREFIX_4LEVEL = 0xffff000000000000n;
const PREFIX_5LEVEL = 0xfe00000000000000n;
const TWO32 = 4294967296;
const SIZE_4K = 0x1000n;
const SIZE_2M = 0x200000n;
const SIZE_4M = 0x400000n;
const SIZE_1G = 0x40000000n;

interface Entry {
  phys: bigint;
  virt: bigint;
  length: bigint;
}

/** Entries per chunk of the ordered list before it is split (keeps inserts cheap for huge lists). */
const CHUNK = 1024;

/**
 * QEMU's MemoryMappingList with its merge rules; all arithmetic modulo 2^64 as in C. The list is
 * kept in chunks so that a guest with a million scattered pages does not cost a million
 * million-element moves (QEMU's own list is O(n²) there); the order and every merge decision are
 * QEMU's.
 */
export class MemoryMappingList {
  /** Ascending phys, newest first among equal phys; never empty chunks. */
  readonly #chunks: Entry[][] = [];
  #count = 0;
  #last: Entry | undefined;
  /** An upper bound of every entry's length: entries below phys - maxLength can never match. */
  #maxLength = 0n;

  get length(): number {
    return this.#count;
  }

  /** create_new_memory_mapping: a new entry before the first with phys >= `phys`; it becomes "last". */
  create(phys: bigint, virt: bigint, length: bigint): void {
    const entry: Entry = { phys, virt, length };
    const chunks = this.#chunks;
    const [c, i] = this.#lowerBound(phys);
    // Past the end: append to the last chunk.
    const at = c < chunks.length ? c : c - 1;
    const chunk = chunks[at];
    if (chunk === undefined) {
      chunks.push([entry]);
    } else {
      chunk.splice(at === c ? i : chunk.length, 0, entry);
      if (chunk.length > 2 * CHUNK) chunks.splice(at + 1, 0, chunk.splice(CHUNK));
    }
    this.#count++;
    this.#last = entry;
    this.#grow(length);
  }

  /** memory_mapping_list_add_merge_sorted. */
  add(phys: bigint, virt: bigint, length: bigint): void {
    if (this.#count === 0) {
      this.create(phys, virt, length);
      return;
    }
    const last = this.#last;
    if (last !== undefined && contiguous(last, phys, virt)) {
      last.length = (last.length + length) & U64;
      this.#grow(last.length);
      return;
    }
    const end = (phys + length) & U64;
    const chunks = this.#chunks;
    // Entries starting before phys - maxLength end before phys: neither contiguous, nor touching,
    // nor a reason to stop, so the scan may start after them with the same outcome as QEMU's.
    let [c, i] = phys > this.#maxLength ? this.#lowerBound(phys - this.#maxLength) : [0, 0];
    scan: for (; c < chunks.length; c++, i = 0) {
      const chunk = chunks[c] ?? [];
      for (; i < chunk.length; i++) {
        const m = chunk[i];
        if (m === undefined) break scan;
        if (contiguous(m, phys, virt)) {
          m.length = (m.length + length) & U64;
          this.#grow(m.length);
          this.#last = m;
          return;
        }
        if (end < m.phys) break scan;
        const sameRegion = !(end < m.phys || phys >= ((m.phys + m.length) & U64));
        if (sameRegion) {
          if (((virt - m.virt) & U64) !== ((phys - m.phys) & U64)) continue;
          // mapping_merge: widens the virtual span only (phys stays), as QEMU does.
          if (virt < m.virt) {
            m.length = (m.length + m.virt - virt) & U64;
            m.virt = virt;
          }
          if (((virt + length) & U64) > ((m.virt + m.length) & U64)) m.length = (virt + length - m.virt) & U64;
          this.#grow(m.length);
          this.#last = m;
          return;
        }
      }
    }
    this.create(phys, virt, length);
  }

  /** The mappings in list order (ascending phys). */
  mappings(): MemoryMapping[] {
    return this.#chunks.flatMap((chunk) => chunk.map(({ phys, virt, length }) => ({ phys, virt, length })));
  }

  #grow(length: bigint): void {
    if (length > this.#maxLength) this.#maxLength = length;
  }

  /** [chunk, index] of the first entry with phys >= `phys`, or [chunk count, 0]. */
  #lowerBound(phys: bigint): [number, number] {
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid] ?? [];
      if ((chunk[chunk.length - 1]?.phys ?? -1n) < phys) lo = mid + 1;
      else hi = mid;
    }
    const chunk = chunks[lo];
    if (chunk === undefined) return [chunks.length, 0];
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if ((chunk[mid]?.phys ?? 0n) < phys) a = mid + 1;
      else b = mid;
    }
    return [lo, a];
  }
}

function contiguous(m: Entry, phys: bigint, virt: bigint): boolean {
  return phys === ((m.phys + m.length) & U64) && virt === ((m.virt + m.length) & U64);
}

/** QEMU 7.2's mapping list for `paging: true`, before the begin/length filter (filterMappings). */
export function pagingMappings(source: PagingMappingSource): MemoryMapping[] {
  const list = new MemoryMappingList();
  const first = source.cpus.findIndex((cpu) => (cpu.cr0 & CR0_PG) !== 0n);
  if (first < 0) {
    for (const b of source.blocks) list.create(BigInt(b.gpa), BigInt(b.gpa), BigInt(b.sizeBytes));
    return list.mappings();
  }
  const walker = new MappingWalker(source, list, source.isRamOrRomDevice ?? blockProbe(source.blocks));
  for (const cpu of source.cpus.slice(first)) walker.walk(pagingControl(cpu));
  return list.mappings();
}

/** Whether `gpa` lies in one of `blocks` (sorted, disjoint). */
export function blockProbe(blocks: readonly DumpBlock[]): (gpa: number) => boolean {
  const starts = blocks.map((b) => b.gpa);
  const ends = blocks.map((b) => b.gpa + b.sizeBytes);
  return (gpa) => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ends[mid] ?? 0) <= gpa) lo = mid + 1;
      else hi = mid;
    }
    return lo < starts.length && (starts[lo] ?? Infinity) <= gpa;
  };
}

/** arch_memory_mapping.c's walk over the tables of one CPU. */
class MappingWalker {
  readonly #source: PagingMappingSource;
  readonly #list: MemoryMappingList;
  readonly #isMemory: (gpa: number) => boolean;
  /** One 4 KiB table buffer per depth (the walk is depth first). */
  readonly #tables = Array.from({ length: 5 }, () => new Uint8Array(4096));
  #a20 = -1;

  constructor(source: PagingMappingSource, list: MemoryMappingList, isMemory: (gpa: number) => boolean) {
    this.#source = source;
    this.#list = list;
    this.#isMemory = isMemory;
  }

  walk(ctl: PagingControl): void {
    this.#a20 = ctl.a20 ? -1 : ~0x100000;
    const cr3Hi = Math.floor(ctl.cr3 / TWO32);
    const cr3Lo = ctl.cr3 >>> 0;
    switch (pagingMode(ctl)) {
      case 'off':
        return;
      case '32-bit':
        this.#walkPd32(cr3Lo & 0xfffff000, cr3Hi, (ctl.cr4 & 0x10) !== 0);
        return;
      case 'pae':
        this.#walkPdpt32(cr3Hi, cr3Lo & ~0x1f);
        return;
      case '4-level':
        this.#walkPml4(cr3Hi & 0xfffff, cr3Lo & 0xfffff000, PREFIX_4LEVEL, 0);
        return;
      case '5-level':
        this.#walkPml5(cr3Hi & 0xfffff, cr3Lo & 0xfffff000);
        return;
    }
  }

  /** Reads `bytes` of table at hi:lo (A20-masked); at or above 2^52 the table reads as zeros. */
  #table(depth: number, hi: number, lo: number, bytes: number): DataView {
    const buf = this.#tables[depth] ?? new Uint8Array(4096);
    const view = new DataView(buf.buffer, 0, bytes);
    if (hi >= 0x100000) {
      buf.fill(0, 0, bytes);
    } else {
      this.#source.readPhysical(hi * TWO32 + ((lo & this.#a20) >>> 0), buf.subarray(0, bytes));
    }
    return view;
  }

  #leaf(physHi: number, physLo: number, prefix: bigint, virtLow: number, size: bigint): void {
    if (physHi >= 0x100000) return;
    const phys = physHi * TWO32 + (physLo >>> 0);
    if (!this.#isMemory(phys)) return;
    this.#list.add(BigInt(phys), prefix | BigInt(virtLow), size);
  }

  /** 32-bit paging: PD (1024 × 4 B), 4 MiB pages with CR4.PSE (PSE-36), else PTs. */
  #walkPd32(base: number, baseHi: number, pse: boolean): void {
    const pd = this.#table(0, baseHi, base, 4096);
    for (let i = 0; i < 1024; i++) {
      const pde = pd.getUint32(i * 4, true);
      if ((pde & 1) === 0) continue;
      const line = i * 0x400000;
      if ((pde & 0x80) !== 0 && pse) {
        this.#leaf((pde >>> 13) & 0xff, pde & 0xffc00000, 0n, line, SIZE_4M);
        continue;
      }
      const pt = this.#table(1, 0, pde & 0xfffff000, 4096);
      for (let j = 0; j < 1024; j++) {
        const pte = pt.getUint32(j * 4, true);
        if ((pte & 1) !== 0) this.#leaf(0, pte & 0xfffff000, 0n, line + j * 0x1000, SIZE_4K);
      }
    }
  }

  /** Legacy PAE: 4 PDPTEs at CR3 & ~0x1f; the PD is PDPTE & ~0xfff (bits 52-63 kept). */
  #walkPdpt32(hi: number, lo: number): void {
    const pdpt = this.#table(0, hi, lo, 32);
    for (let i = 0; i < 4; i++) {
      const eLo = pdpt.getUint32(i * 8, true);
      if ((eLo & 1) === 0) continue;
      this.#walkPd(1, pdpt.getUint32(i * 8 + 4, true), eLo & 0xfffff000, 0n, i * 0x40000000);
    }
  }

  /** PAE / long-mode PD (512 × 8 B): 2 MiB pages, else PTs at PDE & PLM4_ADDR_MASK. */
  #walkPd(depth: number, hi: number, lo: number, prefix: bigint, line: number): void {
    const pd = this.#table(depth, hi, lo, 4096);
    for (let j = 0; j < 512; j++) {
      const eLo = pd.getUint32(j * 8, true);
      if ((eLo & 1) === 0) continue;
      const eHi = pd.getUint32(j * 8 + 4, true);
      const lineJ = line + j * 0x200000;
      if ((eLo & 0x80) !== 0) {
        this.#leaf(eHi & 0x7fffffff, eLo & 0xffe00000, prefix, lineJ, SIZE_2M);
        continue;
      }
      const pt = this.#table(depth + 1, eHi & 0xfffff, eLo & 0xfffff000, 4096);
      for (let k = 0; k < 512; k++) {
        const pLo = pt.getUint32(k * 8, true);
        if ((pLo & 1) !== 0) this.#leaf(pt.getUint32(k * 8 + 4, true) & 0x7fffffff, pLo & 0xfffff000, prefix, lineJ + k * 0x1000, SIZE_4K);
      }
    }
  }

  /** Long-mode PDPT: 1 GiB pages, else PDs. */
  #walkPdpt(depth: number, hi: number, lo: number, prefix: bigint, line: number): void {
    const pdpt = this.#table(depth, hi, lo, 4096);
    for (let i = 0; i < 512; i++) {
      const eLo = pdpt.getUint32(i * 8, true);
      if ((eLo & 1) === 0) continue;
      const eHi = pdpt.getUint32(i * 8 + 4, true);
      const lineI = line + i * 0x40000000;
      if ((eLo & 0x80) !== 0) {
        this.#leaf(eHi & 0x7fffffff, eLo & 0xc0000000, prefix, lineI, SIZE_1G);
        continue;
      }
      this.#walkPd(depth + 1, eHi & 0xfffff, eLo & 0xfffff000, prefix, lineI);
    }
  }

  #walkPml4(hi: number, lo: number, prefix: bigint, depth: number): void {
    const pml4 = this.#table(depth, hi, lo, 4096);
    for (let l = 0; l < 512; l++) {
      const eLo = pml4.getUint32(l * 8, true);
      if ((eLo & 1) === 0) continue;
      this.#walkPdpt(depth + 1, pml4.getUint32(l * 8 + 4, true) & 0xfffff, eLo & 0xfffff000, prefix, l * 0x8000000000);
    }
  }

  #walkPml5(hi: number, lo: number): void {
    const pml5 = this.#table(0, hi, lo, 4096);
    for (let m = 0; m < 512; m++) {
      const eLo = pml5.getUint32(m * 8, true);
      if ((eLo & 1) === 0) continue;
      this.#walkPml4(pml5.getUint32(m * 8 + 4, true) & 0xfffff, eLo & 0xfffff000, PREFIX_5LEVEL | (BigInt(m) << 48n), 1);
    }
  }
}
