/**
 * makedumpfile's flattened stream (spec §5.7): a 4096-byte header ("makedumpfile", type 1 and
 * version as big-endian int64), then records {int64 BE offset, int64 BE size, bytes} and an end
 * marker (offset -1). Records are indexed once: for each, its logical offset and where its bytes
 * sit in the file. Reassembly applies records in order, so where records overlap the later one
 * wins; the index resolves that up front into disjoint segments (QEMU never overlaps records).
 */

import { readU64be } from '../../core/bytes.js';
import { hex, readError, truncated } from './errors.js';
import { readBytes, type Reads } from './input.js';
import type { Extent, LogicalFile } from './logical.js';

export const FLAT_HEADER_SIZE = 4096;
export const MAKEDUMPFILE_SIGNATURE = 'makedumpfile';
const TYPE_FLAT_HEADER = 1n;
const RECORD_HEADER_SIZE = 16;
const END_OFFSET = 0xffffffffffffffffn;
const SIGN_BIT = 1n << 63n;

export interface FlattenedFile extends LogicalFile {
  readonly records: number;
  readonly version: bigint;
}

/** One stretch of the logical file and where its bytes are in the stream. */
interface Segment {
  readonly logical: number;
  readonly length: number;
  readonly filePos: number;
}

/** Validates the header and indexes every record up to the end marker. */
export function* indexFlattened(fileSize: number): Reads<FlattenedFile> {
  const header = yield* readBytes(0, FLAT_HEADER_SIZE, 'makedumpfile flat header');
  const type = readU64be(header, 16);
  if (type !== TYPE_FLAT_HEADER) throw readError('bad-field', 16, `flat header type is ${type}, not TYPE_FLAT_HEADER (1)`);
  const version = readU64be(header, 24);
  const records: Segment[] = [];
  let pos = FLAT_HEADER_SIZE;
  for (;;) {
    const head = yield* readBytes(pos, RECORD_HEADER_SIZE, 'flattened record header (the stream has no end marker)');
    const offset = readU64be(head, 0);
    const size = readU64be(head, 8);
    if (offset === END_OFFSET) break;
    if ((offset & SIGN_BIT) !== 0n) throw readError('bad-field', pos, `flattened record offset is negative (${hex(offset)})`);
    if ((size & SIGN_BIT) !== 0n) throw readError('bad-field', pos + 8, `flattened record size is negative (${hex(size)})`);
    const dataPos = pos + RECORD_HEADER_SIZE;
    if (size > BigInt(fileSize - dataPos)) throw truncated(dataPos, `flattened record for logical offset ${hex(offset)}`, size, fileSize - dataPos);
    if (offset + size > BigInt(Number.MAX_SAFE_INTEGER)) throw readError('bad-field', pos, `flattened record ${hex(offset)}+${hex(size)} ends beyond 2^53`);
    if (size > 0n) records.push({ logical: Number(offset), length: Number(size), filePos: dataPos });
    pos = dataPos + Number(size);
  }
  return flattenedFile(resolveOverlaps(records), records.length, version);
}

function flattenedFile(segments: readonly Segment[], records: number, version: bigint): FlattenedFile {
  const last = segments.at(-1);
  const size = last === undefined ? 0 : last.logical + last.length;
  /** Index of the first segment ending after `offset`. */
  const firstAfter = (offset: number): number => {
    let lo = 0;
    let hi = segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = segments[mid];
      if (s !== undefined && s.logical + s.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  function* read(offset: number, length: number, what: string): Reads<Uint8Array> {
    if (offset + length > size) throw truncated(offset, `${what} (in the reassembled flattened dump)`, length, size - offset);
    const end = offset + length;
    let i = firstAfter(offset);
    const first = segments[i];
    if (first !== undefined && first.logical <= offset && first.logical + first.length >= end) {
      return yield* readBytes(first.filePos + (offset - first.logical), length, what);
    }
    const out = new Uint8Array(length);
    for (let s = segments[i]; s !== undefined && s.logical < end; s = segments[++i]) {
      const from = Math.max(offset, s.logical);
      const to = Math.min(end, s.logical + s.length);
      out.set(yield* readBytes(s.filePos + (from - s.logical), to - from, what), from - offset);
    }
    return out;
  }
  function written(start: number, end: number): Extent[] {
    const out: Extent[] = [];
    let i = firstAfter(start);
    for (let s = segments[i]; s !== undefined && s.logical < end; s = segments[++i]) {
      out.push({ start: Math.max(start, s.logical), end: Math.min(end, s.logical + s.length) });
    }
    return out;
  }
  return { size, records, version, read, written };
}

/** Disjoint segments in logical order; where records overlap, the later record's bytes count. */
function resolveOverlaps(records: readonly Segment[]): Segment[] {
  const sorted = [...records].sort((a, b) => a.logical - b.logical);
  const overlapping = sorted.some((s, i) => i > 0 && s.logical < (sorted[i - 1]?.logical ?? 0) + (sorted[i - 1]?.length ?? 0));
  return overlapping ? paintLastWins(records) : sorted;
}

/**
 * Overlap resolution in O(n log n): cut the logical axis at every record boundary, then paint the
 * pieces from the last record to the first, skipping painted ones with a union-find "next
 * unpainted piece" pointer, so each piece is painted once.
 */
function paintLastWins(records: readonly Segment[]): Segment[] {
  const cuts = [...new Set(records.flatMap((r) => [r.logical, r.logical + r.length]))].sort((a, b) => a - b);
  const pieces = cuts.length - 1;
  const owner = new Int32Array(pieces).fill(-1);
  const next = Int32Array.from({ length: pieces + 1 }, (_, i) => i);
  const find = (start: number): number => {
    let root = start;
    while ((next[root] ?? root) !== root) root = next[root] ?? root;
    for (let k = start; k !== root;) {
      const up = next[k] ?? root;
      next[k] = root;
      k = up;
    }
    return root;
  };
  const cutIndex = (value: number): number => {
    let lo = 0;
    let hi = cuts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cuts[mid] ?? 0) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (let r = records.length - 1; r >= 0; r--) {
    const rec = records[r];
    if (rec === undefined) continue;
    const last = cutIndex(rec.logical + rec.length);
    for (let k = find(cutIndex(rec.logical)); k < last; k = find(k + 1)) {
      owner[k] = r;
      next[k] = k + 1;
    }
  }
  const out: Segment[] = [];
  for (let k = 0; k < pieces; k++) {
    const rec = records[owner[k] ?? -1];
    if (rec === undefined) continue;
    const start = cuts[k] ?? 0;
    const length = (cuts[k + 1] ?? start) - start;
    const prev = out.at(-1);
    const filePos = rec.filePos + (start - rec.logical);
    if (prev !== undefined && prev.logical + prev.length === start && prev.filePos + prev.length === filePos) {
      out[out.length - 1] = { ...prev, length: prev.length + length };
    } else {
      out.push({ logical: start, length, filePos });
    }
  }
  return out;
}
