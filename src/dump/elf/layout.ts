/**
 * ELF core layout, computed whole before anything is written. QEMU 7.2's layout ('qemu-7.2'):
 *
 *   0              Ehdr (64 / 52 bytes)
 *   ehdr size      Shdr[0] (null; sh_info = phdr count under PN_XNUM), Shdr[1] .shstrtab
 *   phdr offset    Phdr[0] PT_NOTE, Phdr[1..] PT_LOAD, one per mapping
 *   note offset    notes: all CORE, all QEMU, the guest note
 *   memory offset  every (filtered) block's bytes, ascending, back to back
 *   section offset "\0.shstrtab\0" (11 bytes), the end of the file
 *
 * The default flavour adds Shdr[2] note0 (SHT_NOTE over the notes, for section-based readers such
 * as eu-readelf) and moves the section headers to the end of the file, after the string table,
 * so the program headers follow the Ehdr as crash requires.
 *
 * QEMU aligns nothing. The default flavour starts guest memory on a 4 KiB file offset (zero
 * padding after the notes): guest pages then fill whole file-system blocks, so a zero page can
 * become a hole (page-sized holes on tmpfs, see the Node file sink), and reads of a page touch one
 * block. PT_LOAD offsets point into the memory section; a mapping outside the dumped memory gets
 * p_offset ~0 and p_filesz 0. The machine and class come from the first CPU.
 */

import { assert } from '../../core/errors.js';
import { inLongMode, type CpuSnapshot } from '../../cpu/state.js';
import type { DumpBlock } from '../source.js';
import type { MemoryMapping } from '../mapping.js';

export const EM_386 = 3;
export const EM_X86_64 = 62;
export const PN_XNUM = 0xffff;
export const SHSTRTAB = new Uint8Array([0, ...new TextEncoder().encode('.shstrtab'), 0]);
/** With the note section: eu-readelf and other section-based readers find the notes through it. */
export const SHSTRTAB_WITH_NOTES = new Uint8Array([...SHSTRTAB, ...new TextEncoder().encode('note0'), 0]);
export const NOTE_SECTION_NAME_OFFSET = SHSTRTAB.length;

/** A block after the begin/length filter, with where its bytes land in the file. */
export interface FilteredBlock {
  readonly block: DumpBlock;
  /** Offset of the first dumped byte within the block. */
  readonly blockOffset: number;
  readonly gpa: number;
  readonly sizeBytes: number;
  readonly fileOffset: number;
}

export interface LoadHeader {
  readonly paddr: bigint;
  readonly vaddr: bigint;
  readonly offset: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
}

export interface ElfLayout {
  readonly elfClass: 32 | 64;
  readonly machine: typeof EM_386 | typeof EM_X86_64;
  readonly ehdrSize: number;
  readonly phentSize: number;
  readonly shentSize: number;
  readonly shdrCount: 2 | 3;
  readonly strtab: Uint8Array;
  readonly phdrCount: number;
  readonly shdrOffset: number;
  readonly phdrOffset: number;
  readonly noteOffset: number;
  readonly noteSize: number;
  readonly memoryOffset: number;
  readonly memorySize: number;
  readonly sectionOffset: number;
  readonly fileSize: number;
  readonly blocks: readonly FilteredBlock[];
  readonly loads: readonly LoadHeader[];
}

export interface Filter {
  readonly begin: number;
  readonly length: number;
}

/** EM_X86_64 if the first CPU is in long mode; else EM_386, ELF64 only when memory reaches 4 GiB. */
export function elfClassFor(cpus: readonly CpuSnapshot[], blocks: readonly DumpBlock[]): { elfClass: 32 | 64; machine: typeof EM_386 | typeof EM_X86_64 } {
  const first = cpus[0];
  if (first !== undefined && inLongMode(first)) return { elfClass: 64, machine: EM_X86_64 };
  const above4g = blocks.some((b) => b.gpa + b.sizeBytes > 0xffffffff);
  return { elfClass: above4g ? 64 : 32, machine: EM_386 };
}

/** The blocks' parts inside the filter (all of them without one), in order. */
export function filterBlocks(blocks: readonly DumpBlock[], filter: Filter | undefined): Omit<FilteredBlock, 'fileOffset'>[] {
  const out: Omit<FilteredBlock, 'fileOffset'>[] = [];
  for (const block of blocks) {
    const start = filter === undefined ? block.gpa : Math.max(block.gpa, filter.begin);
    const end = filter === undefined ? block.gpa + block.sizeBytes : Math.min(block.gpa + block.sizeBytes, filter.begin + filter.length);
    if (end > start) out.push({ block, blockOffset: start - block.gpa, gpa: start, sizeBytes: end - start });
  }
  return out;
}

/** The default flavour's file alignment of guest memory. */
const MEMORY_ALIGN = 4096;

export function layoutElf(
  cpus: readonly CpuSnapshot[],
  allBlocks: readonly DumpBlock[],
  filtered: readonly Omit<FilteredBlock, 'fileOffset'>[],
  mappings: readonly MemoryMapping[],
  noteSize: number,
  noteSection: boolean,
): ElfLayout {
  const { elfClass, machine } = elfClassFor(cpus, allBlocks);
  const ehdrSize = elfClass === 64 ? 64 : 52;
  const phentSize = elfClass === 64 ? 56 : 32;
  const shentSize = elfClass === 64 ? 64 : 40;
  const phdrCount = Math.min(1 + mappings.length, 0xffffffff);
  const shdrCount = noteSection ? 3 : 2;
  const strtab = noteSection ? SHSTRTAB_WITH_NOTES : SHSTRTAB;
  const phdrOffset = noteSection ? ehdrSize : ehdrSize + shdrCount * shentSize;
  const noteOffset = phdrOffset + phentSize * phdrCount;
  const memoryOffset = noteSection ? Math.ceil((noteOffset + noteSize) / MEMORY_ALIGN) * MEMORY_ALIGN : noteOffset + noteSize;
  let at = memoryOffset;
  const blocks = filtered.map((b) => {
    const placed = { ...b, fileOffset: at };
    at += b.sizeBytes;
    return placed;
  });
  const memorySize = at - memoryOffset;
  const fieldMask = elfClass === 64 ? 0xffffffffffffffffn : 0xffffffffn;
  const loads = mappings.map((m) => loadHeader(m, blocks, fieldMask));
  const sectionOffset = memoryOffset + memorySize;
  const shdrOffset = noteSection ? sectionOffset + strtab.length : ehdrSize;
  const fileSize = noteSection ? shdrOffset + shdrCount * shentSize : sectionOffset + strtab.length;
  const layout: ElfLayout = {
    elfClass, machine, ehdrSize, phentSize, shentSize, shdrCount, strtab, phdrCount, shdrOffset, phdrOffset, noteOffset, noteSize,
    memoryOffset, memorySize, sectionOffset, fileSize, blocks, loads,
  };
  assert(layout.blocks.every((b, i) => i === 0 || b.fileOffset === (layout.blocks[i - 1]?.fileOffset ?? 0) + (layout.blocks[i - 1]?.sizeBytes ?? 0)), 'ELF memory blocks are not contiguous');
  return layout;
}

/** QEMU's get_offset_range plus the p_vaddr rule: virt 0 (at field width) reports vaddr = paddr. */
function loadHeader(m: MemoryMapping, blocks: readonly FilteredBlock[], fieldMask: bigint): LoadHeader {
  const phys = m.phys;
  const vaddr = (m.virt & fieldMask) === 0n ? phys : m.virt;
  const b = phys <= BigInt(Number.MAX_SAFE_INTEGER) ? blockHolding(blocks, Number(phys)) : undefined;
  if (b === undefined) return { paddr: phys, vaddr, offset: fieldMask, filesz: 0n, memsz: m.length };
  const start = BigInt(b.gpa);
  const rest = start + BigInt(b.sizeBytes) - phys;
  return { paddr: phys, vaddr, offset: BigInt(b.fileOffset) + (phys - start), filesz: m.length < rest ? m.length : rest, memsz: m.length };
}

/** The block containing `gpa`, by binary search (blocks are sorted and disjoint). */
function blockHolding(blocks: readonly FilteredBlock[], gpa: number): FilteredBlock | undefined {
  let lo = 0;
  let hi = blocks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const b = blocks[mid];
    if (b === undefined) return undefined;
    if (gpa < b.gpa) hi = mid - 1;
    else if (gpa >= b.gpa + b.sizeBytes) lo = mid + 1;
    else return b;
  }
  return undefined;
}
