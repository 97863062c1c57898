/**
 * kdump pages: the 2nd bitmap says which page frames are in the dump (bit p = byte p/8, bit p%8);
 * the n-th set bit's page has the n-th 24-byte page_desc {u64 offset, u32 size, u32 flags, u64
 * page_flags}. Flags 0 is a raw 4096-byte page; otherwise the codec whose flag matches decodes it
 * (zlib 1, lzo 2, snappy 4, zstd 0x20), looked up in the table the caller gives, so codecs added
 * later (e.g. LZO) plug in. Bitmap bytes no record wrote are zeros, and are not even read.
 */

import { readU32le, readU64le } from '../../core/bytes.js';
import type { CodecName, PageCodec } from '../kdump/codecs/codec.js';
import { describeCause, hex, readError, truncated } from './errors.js';
import type { Reads } from './input.js';
import type { LogicalFile } from './logical.js';
import { mergeRanges, type PhysicalMemory, type PhysRange } from './memory.js';

export type CodecTable = Readonly<Partial<Record<CodecName, PageCodec>>>;

const PAGE_DESC_SIZE = 24;
/** Descriptors read at once: sequential page reads cost one read per 2048 pages. */
const DESC_WINDOW = 2048;
const BITMAP_CHUNK = 64 * 1024;
/** Compressed pages are smaller than a page; anything beyond twice that is not a page. */
const MAX_STORED_FACTOR = 2;
const FLAG_NAMES: readonly [number, CodecName][] = [[0x1, 'zlib'], [0x2, 'lzo'], [0x4, 'snappy'], [0x20, 'zstd']];

export interface PageLayout {
  readonly bitmapOffset: number;
  /** Bytes of one bitmap. */
  readonly bitmapBytes: number;
  readonly pageSize: number;
}

/** Runs of dumpable page frames, with the descriptor index of each run's first frame. */
class PfnRuns {
  readonly first: number[] = [];
  readonly count: number[] = [];
  readonly rank: number[] = [];
  total = 0;

  add(pfn: number, n: number): void {
    const last = this.first.length - 1;
    if (last >= 0 && (this.first[last] ?? 0) + (this.count[last] ?? 0) === pfn) {
      this.count[last] = (this.count[last] ?? 0) + n;
    } else {
      this.first.push(pfn);
      this.count.push(n);
      this.rank.push(this.total);
    }
    this.total += n;
  }

  /** Index of the run holding `pfn`, or of the first run after it (may be the length). */
  find(pfn: number): number {
    let lo = 0;
    let hi = this.first.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.first[mid] ?? 0) + (this.count[mid] ?? 0) <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export interface KdumpPages {
  readonly descOffset: number;
  readonly dumpablePages: number;
  readonly memory: PhysicalMemory;
}

export function* kdumpPages(file: LogicalFile, layout: PageLayout, codecs: CodecTable): Reads<KdumpPages> {
  const { bitmapOffset, bitmapBytes, pageSize } = layout;
  const descOffset = bitmapOffset + 2 * bitmapBytes;
  if (descOffset > file.size) throw truncated(bitmapOffset, 'the pair of page bitmaps', 2 * bitmapBytes, file.size - bitmapOffset);
  const runs = yield* scanBitmap(file, bitmapOffset + bitmapBytes, bitmapBytes);
  const descBytes = PAGE_DESC_SIZE * runs.total;
  if (descOffset + descBytes > file.size) throw truncated(descOffset, `page descriptors of ${runs.total} dumpable pages`, descBytes, file.size - descOffset);
  const ranges: PhysRange[] = runs.first.map((pfn, i) => ({ gpa: pfn * pageSize, size: (runs.count[i] ?? 0) * pageSize }));
  const decoder = pageDecoder(file, { descOffset, pageSize, pages: runs.total }, codecs);

  function* fill(gpa: number, dst: Uint8Array): Reads<boolean> {
    dst.fill(0);
    const end = gpa + dst.length;
    let covered = true;
    let pfn = Math.floor(gpa / pageSize);
    while (pfn * pageSize < end) {
      const r = runs.find(pfn);
      const first = runs.first[r];
      if (first === undefined || first > pfn) {
        // A hole up to the next run (or the end of the request).
        covered = false;
        if (first === undefined) break;
        pfn = first;
        continue;
      }
      const page = yield* decoder.page(pfn, (runs.rank[r] ?? 0) + (pfn - first));
      const pageGpa = pfn * pageSize;
      const from = Math.max(gpa, pageGpa);
      const to = Math.min(end, pageGpa + pageSize);
      dst.set(page.subarray(from - pageGpa, to - pageGpa), from - gpa);
      pfn++;
    }
    return covered;
  }
  function* view(gpa: number, length: number): Reads<Uint8Array> {
    const out = new Uint8Array(length);
    yield* fill(gpa, out);
    return out;
  }
  const memory: PhysicalMemory = { ranges: mergeRanges(ranges), blocks: ranges, fill, view };
  return { descOffset, dumpablePages: runs.total, memory };
}

/** Reads the written parts of the bitmap and collects its set bits as runs. */
function* scanBitmap(file: LogicalFile, offset: number, bytes: number): Reads<PfnRuns> {
  const runs = new PfnRuns();
  for (const part of file.written(offset, offset + bytes)) {
    for (let at = part.start; at < part.end; at += BITMAP_CHUNK) {
      const chunk = yield* file.read(at, Math.min(BITMAP_CHUNK, part.end - at), '2nd page bitmap');
      const firstPfn = (at - offset) * 8;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] ?? 0;
        if (byte === 0) continue;
        if (byte === 0xff) {
          runs.add(firstPfn + 8 * i, 8);
          continue;
        }
        for (let bit = 0; bit < 8; bit++) if ((byte >> bit) & 1) runs.add(firstPfn + 8 * i + bit, 1);
      }
    }
  }
  return runs;
}

interface PageDecoder {
  page(pfn: number, index: number): Reads<Uint8Array>;
}

function pageDecoder(file: LogicalFile, where: { descOffset: number; pageSize: number; pages: number }, codecs: CodecTable): PageDecoder {
  const { descOffset, pageSize, pages } = where;
  let windowStart = -1;
  let window: Uint8Array = new Uint8Array(0);
  const codecList: PageCodec[] = Object.values(codecs);

  function* descriptor(index: number): Reads<Uint8Array> {
    if (windowStart < 0 || index < windowStart || (index - windowStart + 1) * PAGE_DESC_SIZE > window.length) {
      const count = Math.min(DESC_WINDOW, pages - index);
      window = yield* file.read(descOffset + index * PAGE_DESC_SIZE, count * PAGE_DESC_SIZE, 'page descriptors');
      windowStart = index;
    }
    const at = (index - windowStart) * PAGE_DESC_SIZE;
    return window.subarray(at, at + PAGE_DESC_SIZE);
  }

  function* page(pfn: number, index: number): Reads<Uint8Array> {
    const d = yield* descriptor(index);
    const descAt = descOffset + index * PAGE_DESC_SIZE;
    const offset = readU64le(d, 0);
    const size = readU32le(d, 8);
    const flags = readU32le(d, 12);
    const what = `page data of pfn ${hex(pfn)}`;
    if (offset + BigInt(size) > BigInt(file.size)) {
      throw readError('bad-page', descAt, `page descriptor of pfn ${hex(pfn)} points at ${hex(offset)}+${hex(size)}, past the end of the file (${hex(file.size)} bytes)`);
    }
    if (flags === 0) {
      if (size !== pageSize) throw readError('bad-page', descAt, `page descriptor of pfn ${hex(pfn)} stores the page raw (flags 0) with size ${size}, not ${pageSize}`);
      return yield* file.read(Number(offset), size, what);
    }
    const codec = codecList.find((c) => (c.flag & flags) !== 0);
    if (codec === undefined) {
      const name = FLAG_NAMES.find(([flag]) => (flag & flags) !== 0)?.[1];
      if (name === undefined) throw readError('bad-page', descAt, `page descriptor of pfn ${hex(pfn)} has flags ${hex(flags)}, which name no compression`);
      throw readError('unsupported', descAt, `page of pfn ${hex(pfn)} is ${name}-compressed (flags ${hex(flags)}) and no ${name} codec was given`);
    }
    if (size === 0 || size > MAX_STORED_FACTOR * pageSize) throw readError('bad-page', descAt, `page descriptor of pfn ${hex(pfn)} gives a ${codec.name} block of ${size} bytes`);
    const block = yield* file.read(Number(offset), size, what);
    const out = new Uint8Array(pageSize);
    let length: number;
    try {
      length = codec.decompress(block, out);
    } catch (cause) {
      throw readError('bad-page', Number(offset), `${codec.name} data of pfn ${hex(pfn)} (${size} bytes) does not decompress: ${describeCause(cause)}`, cause);
    }
    if (length !== pageSize) throw readError('bad-page', Number(offset), `${codec.name} data of pfn ${hex(pfn)} decompresses to ${String(length)} bytes, not ${pageSize}`);
    return out;
  }
  return { page };
}
