/**
 * Writes an ELF core from its layout: header, section headers, program headers and notes as one
 * buffer, then guest memory streamed block by block (views, never copies), then the string table.
 * Runs of all-zero pages go to the sink's `writeZeros` when it has one, so files become sparse.
 * In the 'qemu-7.2' flavour e_ehsize is 8, QEMU's bug; otherwise it is the real header size, and
 * a note0 section makes the notes visible to section-based readers such as eu-readelf.
 */

import { writeU16le, writeU32le, writeU64le } from '../../core/bytes.js';
import { assert } from '../../core/errors.js';
import type { DumpContext } from '../context.js';
import { NOTE_SECTION_NAME_OFFSET, PN_XNUM, type ElfLayout } from './layout.js';

const ET_CORE = 4;
const PT_LOAD = 1;
const PT_NOTE = 4;
const SHT_STRTAB = 3;
const SHT_NOTE = 7;
/** Notes are 4-byte aligned in x86 cores of either class. */
const NOTE_ALIGN = 4;
/** Bytes handed to the sink per write while streaming memory. */
export const MEMORY_CHUNK_BYTES = 1 << 20;
export const PAGE_SIZE = 4096;

export function elfHeaderBytes(layout: ElfLayout, notes: Uint8Array, qemuEhsize: boolean): Uint8Array {
  assert(notes.length === layout.noteSize, 'note bytes differ from the planned note size');
  // Everything before guest memory: Ehdr, program headers, notes (and QEMU's section headers),
  // and the default flavour's padding up to the aligned memory offset.
  const out = new Uint8Array(layout.memoryOffset);
  const is64 = layout.elfClass === 64;
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], 0);
  writeU16le(out, 16, ET_CORE);
  writeU16le(out, 18, layout.machine);
  writeU32le(out, 20, 1);
  const word = (at64: number, at32: number, value: bigint | number): void => {
    if (is64) writeU64le(out, at64, BigInt(value));
    else writeU32le(out, at32, Number(BigInt(value) & 0xffffffffn));
  };
  word(32, 28, layout.phdrOffset);
  word(40, 32, layout.shdrOffset);
  const tail = is64 ? 52 : 40;
  writeU16le(out, tail, qemuEhsize ? 8 : layout.ehdrSize);
  writeU16le(out, tail + 2, layout.phentSize);
  writeU16le(out, tail + 4, Math.min(layout.phdrCount, PN_XNUM));
  writeU16le(out, tail + 6, layout.shentSize);
  writeU16le(out, tail + 8, layout.shdrCount);
  writeU16le(out, tail + 10, 1);
  if (layout.shdrOffset < layout.phdrOffset) out.set(sectionHeaderBytes(layout), layout.shdrOffset);
  writeProgramHeaders(out, layout);
  out.set(notes, layout.noteOffset);
  return out;
}

/** The section header table, wherever the layout puts it. */
function sectionHeaderBytes(layout: ElfLayout): Uint8Array {
  const out = new Uint8Array(layout.shdrCount * layout.shentSize);
  // Shdr[0] is null except for the real program header count under PN_XNUM.
  if (layout.phdrCount >= PN_XNUM) writeU32le(out, layout.elfClass === 64 ? 44 : 28, layout.phdrCount);
  writeSection(out, layout, 1, { name: 1, type: SHT_STRTAB, offset: layout.sectionOffset, size: layout.strtab.length, align: 0 });
  if (layout.shdrCount === 3) {
    writeSection(out, layout, 2, { name: NOTE_SECTION_NAME_OFFSET, type: SHT_NOTE, offset: layout.noteOffset, size: layout.noteSize, align: NOTE_ALIGN });
  }
  return out;
}

function writeSection(out: Uint8Array, layout: ElfLayout, index: number, s: { name: number; type: number; offset: number; size: number; align: number }): void {
  const at = index * layout.shentSize;
  writeU32le(out, at, s.name);
  writeU32le(out, at + 4, s.type);
  if (layout.elfClass === 64) {
    writeU64le(out, at + 24, BigInt(s.offset));
    writeU64le(out, at + 32, BigInt(s.size));
    writeU64le(out, at + 48, BigInt(s.align));
  } else {
    writeU32le(out, at + 16, s.offset);
    writeU32le(out, at + 20, s.size);
    writeU32le(out, at + 32, s.align);
  }
}

function writeProgramHeaders(out: Uint8Array, layout: ElfLayout): void {
  const headers = [
    { type: PT_NOTE, offset: BigInt(layout.noteOffset), vaddr: 0n, paddr: 0n, filesz: BigInt(layout.noteSize), memsz: BigInt(layout.noteSize) },
    ...layout.loads.map((l) => ({ type: PT_LOAD, ...l })),
  ];
  headers.forEach((h, i) => {
    const at = layout.phdrOffset + i * layout.phentSize;
    if (layout.elfClass === 64) {
      writeU32le(out, at, h.type);
      writeU64le(out, at + 8, h.offset);
      writeU64le(out, at + 16, h.vaddr);
      writeU64le(out, at + 24, h.paddr);
      writeU64le(out, at + 32, h.filesz);
      writeU64le(out, at + 40, h.memsz);
    } else {
      const u32 = (v: bigint): number => Number(v & 0xffffffffn);
      writeU32le(out, at, h.type);
      writeU32le(out, at + 4, u32(h.offset));
      writeU32le(out, at + 8, u32(h.vaddr));
      writeU32le(out, at + 12, u32(h.paddr));
      writeU32le(out, at + 16, u32(h.filesz));
      writeU32le(out, at + 20, u32(h.memsz));
    }
  });
}

/** Streams the whole file; `header` is elfHeaderBytes' result. */
export async function writeElf(layout: ElfLayout, header: Uint8Array, ctx: DumpContext): Promise<void> {
  await ctx.write(header);
  for (const b of layout.blocks) {
    for (let done = 0; done < b.sizeBytes; done += MEMORY_CHUNK_BYTES) {
      ctx.checkAborted();
      const length = Math.min(MEMORY_CHUNK_BYTES, b.sizeBytes - done);
      await writeMemoryChunk(b.block.read(b.blockOffset + done, length), ctx);
      ctx.progress(length);
    }
  }
  await ctx.write(layout.strtab);
  if (layout.shdrOffset > layout.phdrOffset) await ctx.write(sectionHeaderBytes(layout));
}

/**
 * Writes a chunk, turning runs of whole zero pages into `writeZeros` where the sink supports them.
 * Runs shorter than the sink's holeBytes are written as data.
 *
 * Any run long enough to become a hole holds a whole holeBytes-aligned block of zeros, so only
 * those blocks are probed, and a zero block is then widened a page at a time: with 64 KiB holes a
 * chunk of mixed pages costs one test per 64 KiB instead of one per page (the zero test's
 * first-byte check answers most probes). A zero tail becomes a hole whatever its length: the next
 * chunk may continue it.
 */
export async function writeMemoryChunk(chunk: Uint8Array, ctx: DumpContext): Promise<void> {
  if (!ctx.sparse) {
    await ctx.write(chunk);
    return;
  }
  if (ctx.writeSparseNow(chunk)) return;
  const end = chunk.length;
  const holeBytes = ctx.holeBytes;
  // Most data pages start or end with a non-zero byte: two reads spare them a view and a call.
  const zeroAt = (at: number, stop: number): boolean => chunk[at] === 0 && chunk[stop - 1] === 0 && ctx.isZero(chunk.subarray(at, stop));
  let dataStart = 0;
  /** Where the zero pages just before `at` begin (not before dataStart). */
  const zerosBefore = (at: number): number => {
    let start = at;
    while (start - PAGE_SIZE >= dataStart && zeroAt(start - PAGE_SIZE, start)) start -= PAGE_SIZE;
    return start;
  };
  for (let probe = 0; probe < end; ) {
    const probeEnd = Math.min(probe + holeBytes, end);
    if (!zeroAt(probe, probeEnd)) {
      probe = probeEnd;
      continue;
    }
    const start = zerosBefore(probe);
    let stop = probeEnd;
    // Whole probe blocks first: a long zero run costs one test per block, not per page.
    while (stop + holeBytes <= end && zeroAt(stop, stop + holeBytes)) stop += holeBytes;
    while (stop < end && zeroAt(stop, Math.min(stop + PAGE_SIZE, end))) stop = Math.min(stop + PAGE_SIZE, end);
    if (stop - start >= holeBytes || stop === end) {
      // The sink usually takes both at once; only a real wait costs an await (a microtask).
      const data = start > dataStart ? ctx.writeNow(chunk.subarray(dataStart, start)) : undefined;
      if (data !== undefined) await data;
      const hole = ctx.writeZerosNow(stop - start);
      if (hole !== undefined) await hole;
      dataStart = stop;
    }
    probe = stop;
  }
  if (dataStart === end) return;
  // A zero tail too short to hold a probe block.
  const tail = zerosBefore(end);
  if (tail > dataStart) await ctx.writeNow(chunk.subarray(dataStart, tail));
  if (tail < end) await ctx.writeZerosNow(end - tail);
}
