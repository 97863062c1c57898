/**
 * Guest-physical memory of a dump read back, as disjoint pieces (ELF) or pages (kdump) behind one
 * interface: `fill` reads with DMA rules (holes read as zeros, false if any byte was a hole) and
 * `view` hands out the bytes of a range inside one block, as the dump engine's blocks need.
 */

import type { Reads } from './input.js';

export interface PhysRange {
  readonly gpa: number;
  readonly size: number;
}

export interface PhysicalMemory {
  /** Memory present in the dump: ascending, disjoint, adjacent ranges merged. */
  readonly ranges: readonly PhysRange[];
  /** The blocks a DumpSource gets: ascending and disjoint; adjacent ones may stay separate. */
  readonly blocks: readonly PhysRange[];
  fill(gpa: number, dst: Uint8Array): Reads<boolean>;
  /** Bytes [gpa, gpa+length) of present memory; a view of the input where one read serves. */
  view(gpa: number, length: number): Reads<Uint8Array>;
}

/** Adjacent or overlapping ranges merged, in ascending order. */
export function mergeRanges(ranges: readonly PhysRange[]): PhysRange[] {
  const sorted = [...ranges].filter((r) => r.size > 0).sort((a, b) => a.gpa - b.gpa);
  const out: { gpa: number; size: number }[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last !== undefined && r.gpa <= last.gpa + last.size) last.size = Math.max(last.size, r.gpa + r.size - last.gpa);
    else out.push({ gpa: r.gpa, size: r.size });
  }
  return out;
}

/** Index of the first of `count` ascending items whose end lies after `gpa`. */
export function firstEndingAfter(count: number, endOf: (i: number) => number, gpa: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (endOf(mid) <= gpa) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
