/**
 * ELF cores (spec §3): ELF64 and ELF32, little-endian, ET_CORE, EM_X86_64 or EM_386. PN_XNUM
 * takes the real program header count from Shdr[0].sh_info. Notes come from every PT_NOTE;
 * memory from the PT_LOADs by p_paddr (p_vaddr is ignored), where several PT_LOADs may alias the
 * same file bytes and p_offset ~0 / p_filesz 0 mean no data (p_memsz past p_filesz reads as 0).
 *
 * Blocks for a DumpSource: in a non-paging dump (p_vaddr = p_paddr everywhere) each PT_LOAD is
 * one of QEMU's guest_phys_blocks, already merged as far as QEMU merges (same memory region), so
 * adjacent PT_LOADs stay separate blocks and a re-dump gives the same PT_LOADs. Overlapping ones,
 * and adjacent ones of a paging dump (virtual mappings, not blocks), are merged.
 */

import { readU16le, readU32le, readU64le } from '../../core/bytes.js';
import type { DumpMachine } from './cpu.js';
import { hex, readError, truncated } from './errors.js';
import { readBytes, type Reads } from './input.js';
import { firstEndingAfter, mergeRanges, type PhysicalMemory, type PhysRange } from './memory.js';
import { MAX_NOTES_BYTES, parseNotes, type ParsedNote } from './notes.js';

const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const ET_CORE = 4;
const EM_386 = 3;
const EM_X86_64 = 62;
const PN_XNUM = 0xffff;
const PT_LOAD = 1;
const PT_NOTE = 4;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface ElfLoad {
  readonly paddr: bigint;
  readonly vaddr: bigint;
  readonly offset: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
}

export interface ElfInfo {
  readonly ehsize: number;
  /** The real count (Shdr[0].sh_info under PN_XNUM). */
  readonly phnum: number;
  readonly shnum: number;
  readonly loads: readonly ElfLoad[];
  /** True when some PT_LOAD has p_vaddr != p_paddr (a paging dump: virtual mappings). */
  readonly paging: boolean;
}

export interface ParsedElf {
  readonly elfClass: 32 | 64;
  readonly machine: DumpMachine;
  readonly info: ElfInfo;
  readonly notes: ParsedNote[];
  readonly memory: PhysicalMemory;
}

/** Field offsets and sizes of the two classes. */
const LAYOUT = {
  64: { ehsize: 64, phoff: 32, shoff: 40, tail: 52, phentsize: 56, shentsize: 64, shInfo: 44, word: 8 },
  32: { ehsize: 52, phoff: 28, shoff: 32, tail: 40, phentsize: 32, shentsize: 40, shInfo: 28, word: 4 },
} as const;

export function* parseElf(fileSize: number): Reads<ParsedElf> {
  const ident = yield* readBytes(0, 16, 'e_ident');
  const cls = ident[4];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw readError('bad-field', 4, `EI_CLASS is ${String(cls)}, neither ELFCLASS32 (1) nor ELFCLASS64 (2)`);
  if (ident[5] === ELFDATA2MSB) throw readError('unsupported', 5, 'EI_DATA is ELFDATA2MSB: big-endian cores are not x86 dumps');
  if (ident[5] !== ELFDATA2LSB) throw readError('bad-field', 5, `EI_DATA is ${String(ident[5])}, not ELFDATA2LSB (1)`);
  const elfClass = cls === ELFCLASS64 ? 64 : 32;
  const L = LAYOUT[elfClass];
  const eh = yield* readBytes(0, L.ehsize, `ELF${elfClass} header`);
  const word = (bytes: Uint8Array, at: number): bigint => (elfClass === 64 ? readU64le(bytes, at) : BigInt(readU32le(bytes, at)));
  const type = readU16le(eh, 16);
  if (type !== ET_CORE) throw readError('bad-field', 16, `e_type is ${type}, not ET_CORE (4)`);
  const em = readU16le(eh, 18);
  if (em !== EM_X86_64 && em !== EM_386) throw readError('unsupported', 18, `e_machine is ${em}, neither EM_X86_64 (62) nor EM_386 (3)`);
  const phoff = word(eh, L.phoff);
  const shoff = word(eh, L.shoff);
  const phentsize = readU16le(eh, L.tail + 2);
  let phnum = readU16le(eh, L.tail + 4);
  const shentsize = readU16le(eh, L.tail + 6);
  const shnum = readU16le(eh, L.tail + 8);
  if (phnum === PN_XNUM) phnum = yield* realPhnum(shoff, shentsize, elfClass, fileSize);
  if (phnum > 0 && phentsize !== L.phentsize) throw readError('bad-field', L.tail + 2, `e_phentsize is ${phentsize}; ELF${elfClass} program headers are ${L.phentsize} bytes`);
  const tableBytes = phnum * L.phentsize;
  if (phoff + BigInt(tableBytes) > BigInt(fileSize)) throw truncated(safeOffset(phoff), `program header table (${phnum} entries)`, tableBytes, fileSize - safeOffset(phoff));
  const table = yield* readBytes(Number(phoff), tableBytes, 'program header table');
  const { notes, loads } = yield* segments(table, { elfClass, phnum, phoff: Number(phoff), fileSize });
  const paging = loads.some((l) => l.vaddr !== l.paddr);
  return {
    elfClass,
    machine: em === EM_X86_64 ? 'x86_64' : 'i386',
    info: { ehsize: readU16le(eh, L.tail), phnum, shnum, loads, paging },
    notes,
    memory: elfMemory(loads, paging),
  };
}

/** The notes of every PT_NOTE and the PT_LOADs, checked against the file. */
function* segments(table: Uint8Array, where: { elfClass: 32 | 64; phnum: number; phoff: number; fileSize: number }): Reads<{ notes: ParsedNote[]; loads: ElfLoad[] }> {
  const { elfClass, phnum, phoff, fileSize } = where;
  const notes: ParsedNote[] = [];
  const loads: ElfLoad[] = [];
  let noteBytes = 0;
  for (let i = 0; i < phnum; i++) {
    const p = programHeader(table, i, elfClass);
    const at = phoff + i * LAYOUT[elfClass].phentsize;
    if (p.type === PT_NOTE && p.filesz !== 0n) {
      noteBytes += Number(p.filesz > MAX_SAFE ? MAX_SAFE : p.filesz);
      if (noteBytes > MAX_NOTES_BYTES) throw readError('bad-field', at, `PT_NOTE ${i} makes ${noteBytes} note bytes, more than the ${MAX_NOTES_BYTES} an x86 dump can have`);
      checkData(p.offset, p.filesz, fileSize, `PT_NOTE ${i} notes`, at);
      const area = yield* readBytes(Number(p.offset), Number(p.filesz), `PT_NOTE ${i} notes`);
      // One at a time: a spread of millions of notes would overflow the call stack.
      for (const n of parseNotes(area, Number(p.offset), `PT_NOTE ${i} segment`)) notes.push(n);
    } else if (p.type === PT_LOAD) {
      if (p.filesz !== 0n) {
        checkData(p.offset, p.filesz, fileSize, `PT_LOAD ${i} (p_paddr ${hex(p.paddr)}) data`, at);
        if (p.filesz > p.memsz) throw readError('bad-field', at, `PT_LOAD ${i} has p_filesz ${hex(p.filesz)} above p_memsz ${hex(p.memsz)}`);
        if (p.paddr + p.filesz > MAX_SAFE) throw readError('bad-field', at, `PT_LOAD ${i} p_paddr ${hex(p.paddr)} + p_filesz ${hex(p.filesz)} lies beyond 2^53`);
      }
      loads.push({ paddr: p.paddr, vaddr: p.vaddr, offset: p.offset, filesz: p.filesz, memsz: p.memsz });
    }
  }
  return { notes, loads };
}

/** Elf64_Phdr / Elf32_Phdr number `i` (spec §3.4). */
function programHeader(table: Uint8Array, i: number, elfClass: 32 | 64): ElfLoad & { type: number } {
  const at = i * LAYOUT[elfClass].phentsize;
  if (elfClass === 64) {
    return { type: readU32le(table, at), offset: readU64le(table, at + 8), vaddr: readU64le(table, at + 16), paddr: readU64le(table, at + 24), filesz: readU64le(table, at + 32), memsz: readU64le(table, at + 40) };
  }
  const u32 = (off: number): bigint => BigInt(readU32le(table, at + off));
  return { type: readU32le(table, at), offset: u32(4), vaddr: u32(8), paddr: u32(12), filesz: u32(16), memsz: u32(20) };
}

/** PN_XNUM: the real count is Shdr[0].sh_info. */
function* realPhnum(shoff: bigint, shentsize: number, elfClass: 32 | 64, fileSize: number): Reads<number> {
  const L = LAYOUT[elfClass];
  if (shoff === 0n) throw readError('bad-field', L.shoff, 'e_phnum is PN_XNUM (0xffff) but e_shoff is 0, so there is no Shdr[0] with the real count');
  if (shentsize !== L.shentsize) throw readError('bad-field', L.tail + 6, `e_shentsize is ${shentsize}; ELF${elfClass} section headers are ${L.shentsize} bytes`);
  if (shoff + BigInt(L.shentsize) > BigInt(fileSize)) throw truncated(safeOffset(shoff), 'section header 0 (real e_phnum under PN_XNUM)', L.shentsize, fileSize - safeOffset(shoff));
  const shdr = yield* readBytes(Number(shoff), L.shentsize, 'section header 0');
  return readU32le(shdr, L.shInfo);
}

function checkData(offset: bigint, size: bigint, fileSize: number, what: string, where: number): void {
  if (offset > MAX_SAFE) throw readError('bad-field', where, `${what} has p_offset ${hex(offset)}, beyond any file`);
  if (offset + size > BigInt(fileSize)) throw truncated(Number(offset), what, size, fileSize - Number(offset));
}

function safeOffset(offset: bigint): number {
  return offset > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(offset);
}

/** A disjoint stretch of physical memory and the file bytes behind it. */
interface Piece {
  readonly gpa: number;
  readonly size: number;
  readonly fileOffset: number;
}

/** Memory of file pieces placed by physical address (also the runs of a win-dmp file). */
export function elfMemory(loads: readonly ElfLoad[], paging: boolean): PhysicalMemory {
  const withData = loads
    .filter((l) => l.filesz > 0n)
    .map((l) => ({ gpa: Number(l.paddr), size: Number(l.filesz), fileOffset: Number(l.offset) }))
    .sort((a, b) => a.gpa - b.gpa);
  const pieces: Piece[] = [];
  const blocks: { gpa: number; size: number }[] = [];
  let coveredEnd = -1;
  for (const l of withData) {
    const end = l.gpa + l.size;
    // An aliased or overlapping PT_LOAD adds only what the ones before did not cover.
    if (l.gpa >= coveredEnd) pieces.push(l);
    else if (end > coveredEnd) pieces.push({ gpa: coveredEnd, size: end - coveredEnd, fileOffset: l.fileOffset + (coveredEnd - l.gpa) });
    const block = blocks.at(-1);
    const joins = block !== undefined && (l.gpa < coveredEnd || (paging && l.gpa === coveredEnd));
    if (joins) block.size = Math.max(block.size, end - block.gpa);
    else blocks.push({ gpa: l.gpa, size: l.size });
    coveredEnd = Math.max(coveredEnd, end);
  }
  const pieceEnd = (i: number): number => (pieces[i]?.gpa ?? 0) + (pieces[i]?.size ?? 0);
  function* fill(gpa: number, dst: Uint8Array): Reads<boolean> {
    dst.fill(0);
    const end = gpa + dst.length;
    let covered = 0;
    for (let i = firstEndingAfter(pieces.length, pieceEnd, gpa), p = pieces[i]; p !== undefined && p.gpa < end; p = pieces[++i]) {
      const from = Math.max(gpa, p.gpa);
      const to = Math.min(end, p.gpa + p.size);
      dst.set(yield* readBytes(p.fileOffset + (from - p.gpa), to - from, `memory at ${hex(from)}`), from - gpa);
      covered += to - from;
    }
    return covered === dst.length;
  }
  function* view(gpa: number, length: number): Reads<Uint8Array> {
    const p = pieces[firstEndingAfter(pieces.length, pieceEnd, gpa)];
    if (p !== undefined && p.gpa <= gpa && p.gpa + p.size >= gpa + length) return yield* readBytes(p.fileOffset + (gpa - p.gpa), length, `memory at ${hex(gpa)}`);
    const out = new Uint8Array(length);
    yield* fill(gpa, out);
    return out;
  }
  const ranges: PhysRange[] = mergeRanges(pieces);
  return { ranges, blocks, fill, view };
}
