/**
 * Guest pages as kdump sees them: every page frame that holds at least one byte of a block is
 * dumpable; bytes of a frame no block covers read as zero. Blocks on x86 are page aligned, so a
 * frame normally lies in one block and is handed out as a view. (A frame shared by two separate
 * unaligned blocks is one page here; QEMU 7.2.6+ emits it twice, which readers cannot use.)
 */

import type { DumpBlock } from '../source.js';

export const PAGE_SIZE = 4096;

export interface PfnRange {
  readonly first: number;
  /** Exclusive. */
  readonly end: number;
}

/** Dumpable page frames as ascending, disjoint ranges. */
export function dumpablePfns(blocks: readonly DumpBlock[]): PfnRange[] {
  const out: { first: number; end: number }[] = [];
  for (const b of blocks) {
    if (b.sizeBytes === 0) continue;
    const first = Math.floor(b.gpa / PAGE_SIZE);
    const end = Math.ceil((b.gpa + b.sizeBytes) / PAGE_SIZE);
    const last = out.at(-1);
    if (last !== undefined && first <= last.end) last.end = Math.max(last.end, end);
    else out.push({ first, end });
  }
  return out;
}

/** floor(end of the last block / page size), QEMU's max_mapnr. */
export function maxMapnr(blocks: readonly DumpBlock[]): number {
  const last = blocks.at(-1);
  return last === undefined ? 0 : Math.floor((last.gpa + last.sizeBytes) / PAGE_SIZE);
}

/** Reads page frame `pfn`: a view of one block when it lies inside one, else assembled in `scratch`. */
export function readPage(blocks: readonly DumpBlock[], pfn: number, scratch: Uint8Array, hint: { index: number }): Uint8Array {
  const start = pfn * PAGE_SIZE;
  const end = start + PAGE_SIZE;
  while (hint.index < blocks.length && (blocks[hint.index]?.gpa ?? 0) + (blocks[hint.index]?.sizeBytes ?? 0) <= start) hint.index++;
  const block = blocks[hint.index];
  if (block !== undefined && block.gpa <= start && block.gpa + block.sizeBytes >= end) return block.read(start - block.gpa, PAGE_SIZE);
  scratch.fill(0);
  for (let i = hint.index; i < blocks.length; i++) {
    const b = blocks[i];
    if (b === undefined || b.gpa >= end) break;
    const from = Math.max(start, b.gpa);
    const to = Math.min(end, b.gpa + b.sizeBytes);
    if (to > from) scratch.set(b.read(from - b.gpa, to - from), from - start);
  }
  return scratch;
}
