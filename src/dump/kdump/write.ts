/**
 * Writes a kdump-compressed dump as QEMU 7.2 does, piece by piece in its order: main header,
 * sub-header, notes, bitmap chunks (1st then 2nd, chunk by chunk up to the last dumpable frame),
 * then pages through two 16 KiB caches (page data, pre-loaded with the shared zero page; page
 * descriptors), each flushed as one piece when the next item would not fit, descriptors first at
 * the end. Pieces go out as makedumpfile "flattened" records (a 4096-byte header, then big-endian
 * {offset, size} + bytes per piece, then an all-ones end marker) or, for raw files, as positioned
 * writes, which needs a seekable sink.
 */

import { writeU32le, writeU64be } from '../../core/bytes.js';
import { DumpError } from '../../core/errors.js';
import type { DumpContext } from '../context.js';
import type { DumpSource } from '../source.js';
import { COMPRESS_BATCH_PAGES, type PageCompressor, type StoreResult, type StoreTarget } from './compressor.js';
import { looksIncompressible } from './incompressible.js';
import { diskDumpHeader, kdumpSubHeader, KDUMP_BLOCK_SIZE, PAGE_DESC_SIZE, type KdumpLayout, type SubHeaderFields } from './layout.js';
import { PAGE_SIZE, readPage, type PfnRange } from './pages.js';

export const MAKEDUMPFILE_SIGNATURE = 'makedumpfile';
const TYPE_FLAT_HEADER = 1n;
const VERSION_FLAT_HEADER = 1n;
/** QEMU's DataCache size: the flattened records of a 'qemu-7.2' dump hold at most this much. */
export const QEMU_CACHE_BYTES = 4 * PAGE_SIZE;
/**
 * The default flavour's cache: pieces this large go to a file in one write straight from the
 * cache (no copy into the sink's batches), and a flattened file has 64 times fewer records.
 */
export const DEFAULT_CACHE_BYTES = 1 << 20;
const PFN_PER_BITMAP_CHUNK = 8 * KDUMP_BLOCK_SIZE;
/** What the page loop does with each page of a batch. */
const ZERO = 0;
const RAW = 1;
const COMPRESS = 2;

export interface KdumpWrite {
  readonly layout: KdumpLayout;
  readonly pfns: readonly PfnRange[];
  readonly notes: Uint8Array;
  readonly subHeader: SubHeaderFields;
  readonly compressor: PageCompressor;
  readonly flattened: boolean;
  /** Store random-looking pages raw without trying the codec (the default flavour; QEMU always tries). */
  readonly storeIncompressible?: boolean;
  /** Bytes gathered into each data and descriptor piece; QEMU_CACHE_BYTES unless given. */
  readonly cacheBytes?: number;
}

/** Emits pieces as flattened records or positioned writes. */
class PieceWriter {
  readonly #ctx: DumpContext;
  readonly #flattened: boolean;

  constructor(ctx: DumpContext, flattened: boolean) {
    this.#ctx = ctx;
    this.#flattened = flattened;
  }

  async start(): Promise<void> {
    if (!this.#flattened) return;
    const header = new Uint8Array(KDUMP_BLOCK_SIZE);
    header.set(new TextEncoder().encode(MAKEDUMPFILE_SIGNATURE), 0);
    writeU64be(header, 16, TYPE_FLAT_HEADER);
    writeU64be(header, 24, VERSION_FLAT_HEADER);
    await this.#ctx.write(header);
  }

  async piece(offset: number, bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    if (!this.#flattened) {
      await this.#ctx.writeAt(offset, bytes);
      return;
    }
    const head = new Uint8Array(16);
    writeU64be(head, 0, BigInt(offset));
    writeU64be(head, 8, BigInt(bytes.length));
    await this.#ctx.write(head);
    await this.#ctx.write(bytes);
  }

  async end(): Promise<void> {
    if (this.#flattened) await this.#ctx.write(new Uint8Array(16).fill(0xff));
  }
}

/**
 * QEMU's DataCache: a buffer (16 KiB in QEMU) flushed as one piece when the next item would overflow it.
 * Appends that fit return undefined rather than a settled promise, so the page loop awaits only
 * when a piece goes out (one await per 16 KiB instead of two per page).
 */
class PieceCache {
  readonly #buffer: Uint8Array;
  #used = 0;
  #offset: number;
  readonly #out: PieceWriter;

  constructor(out: PieceWriter, offset: number, bytes: number) {
    this.#out = out;
    this.#offset = offset;
    this.#buffer = new Uint8Array(bytes);
  }

  append(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#used + bytes.length > this.#buffer.length) return this.#flushThen(() => this.append(bytes));
    this.#buffer.set(bytes, this.#used);
    this.#used += bytes.length;
    return undefined;
  }

  /** The free bytes, for a storePages call to fill; commit() then counts what it appended. */
  room(): Uint8Array {
    return this.#buffer.subarray(this.#used);
  }

  commit(bytes: number): void {
    this.#used = Math.min(this.#used + bytes, this.#buffer.length);
  }

  get empty(): boolean {
    return this.#used === 0;
  }

  /** Appends a page_desc (u64 offset, u32 size, u32 flags, u64 page_flags 0) without allocating. */
  appendDescriptor(offset: number, size: number, flags: number): Promise<void> | undefined {
    if (this.#used + PAGE_DESC_SIZE > this.#buffer.length) return this.#flushThen(() => this.appendDescriptor(offset, size, flags));
    const b = this.#buffer;
    const at = this.#used;
    writeU32le(b, at, offset >>> 0);
    writeU32le(b, at + 4, Math.floor(offset / 2 ** 32));
    writeU32le(b, at + 8, size);
    writeU32le(b, at + 12, flags);
    writeU32le(b, at + 16, 0);
    writeU32le(b, at + 20, 0);
    this.#used += PAGE_DESC_SIZE;
    return undefined;
  }

  async #flushThen(next: () => Promise<void> | undefined): Promise<void> {
    await this.flush();
    await next();
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    await this.#out.piece(this.#offset, this.#buffer.subarray(0, this.#used));
    this.#offset += this.#used;
    this.#used = 0;
  }
}

export async function writeKdump(source: DumpSource, plan: KdumpWrite, ctx: DumpContext): Promise<void> {
  if (!plan.flattened && !ctx.seekable) {
    throw new DumpError('not-seekable', 'kdump-raw formats require a seekable file', { qemuMessage: 'kdump-raw formats require a seekable file' });
  }
  const { layout } = plan;
  const out = new PieceWriter(ctx, plan.flattened);
  await out.start();
  await out.piece(0, diskDumpHeader(layout, plan.compressor.codec.flag, source.cpus.length));
  await out.piece(KDUMP_BLOCK_SIZE, kdumpSubHeader(layout, plan.subHeader));
  await out.piece(layout.noteOffset, plan.notes);
  await writeBitmaps(plan.pfns, layout, out);
  await writePages(source, plan, out, ctx);
  await out.end();
}

async function writeBitmaps(pfns: readonly PfnRange[], layout: KdumpLayout, out: PieceWriter): Promise<void> {
  const lastPfn = (pfns.at(-1)?.end ?? 1) - 1;
  const chunks = pfns.length === 0 ? 0 : Math.floor(lastPfn / PFN_PER_BITMAP_CHUNK) + 1;
  const chunk = new Uint8Array(KDUMP_BLOCK_SIZE);
  let range = 0;
  for (let k = 0; k < chunks; k++) {
    chunk.fill(0);
    const first = k * PFN_PER_BITMAP_CHUNK;
    const end = first + PFN_PER_BITMAP_CHUNK;
    while (range < pfns.length && (pfns[range]?.end ?? 0) <= first) range++;
    for (let r = range; r < pfns.length; r++) {
      const p = pfns[r];
      if (p === undefined || p.first >= end) break;
      for (let pfn = Math.max(p.first, first); pfn < Math.min(p.end, end); pfn++) {
        const bit = pfn - first;
        chunk[bit >> 3] = (chunk[bit >> 3] ?? 0) | (1 << (bit & 7));
      }
    }
    await out.piece(layout.bitmapOffset + k * KDUMP_BLOCK_SIZE, chunk);
    await out.piece(layout.bitmapOffset + layout.bitmapBytes + k * KDUMP_BLOCK_SIZE, chunk);
  }
}

async function writePages(source: DumpSource, plan: KdumpWrite, out: PieceWriter, ctx: DumpContext): Promise<void> {
  const { layout, compressor } = plan;
  const cacheBytes = plan.cacheBytes ?? QEMU_CACHE_BYTES;
  const descs = new PieceCache(out, layout.descOffset, cacheBytes);
  const data = new PieceCache(out, layout.dataOffset, cacheBytes);
  await data.append(new Uint8Array(PAGE_SIZE));
  const pages = new PageStore(descs, data, compressor.codec.flag, layout.dataOffset);
  const hint = { index: 0 };
  const store = compressor.storePages?.bind(compressor);
  if (store !== undefined) {
    // The compressor runs the page loop itself over whole runs of frames, one view each.
    for (const run of pageRuns(source, plan.pfns, hint)) {
      ctx.checkAborted();
      await pages.storedRun(run, (target) => compressBatch(compressor, () => store(run, target)));
      ctx.progress(run.length);
    }
  } else {
    const kinds = new Uint8Array(COMPRESS_BATCH_PAGES);
    for (const batch of pageBatches(source, plan.pfns, hint)) {
      ctx.checkAborted();
      const toCompress: Uint8Array[] = [];
      for (let i = 0; i < batch.length; i++) {
        const page = batch[i] ?? new Uint8Array(PAGE_SIZE);
        if (ctx.isZero(page)) kinds[i] = ZERO;
        else if (plan.storeIncompressible === true && looksIncompressible(page)) kinds[i] = RAW;
        else {
          kinds[i] = COMPRESS;
          toCompress.push(page);
        }
      }
      const blocks = toCompress.length === 0 ? [] : await compressBatch(compressor, () => compressor.compressBatch(toCompress));
      let next = 0;
      for (let i = 0; i < batch.length; i++) {
        const page = batch[i] ?? new Uint8Array(PAGE_SIZE);
        const kind = kinds[i];
        const flushing = kind === ZERO ? pages.zero() : pages.stored(kind === COMPRESS ? blocks[next++] : undefined, page);
        if (flushing !== undefined) await flushing;
      }
      ctx.progress(PAGE_SIZE * batch.length);
    }
  }
  await descs.flush();
  await data.flush();
}

/**
 * Page data and descriptors as they go into the two caches. A call returns a promise only when a
 * piece goes out, which the page loop then awaits: an await per page costs more than the copy.
 */
class PageStore {
  readonly #descs: PieceCache;
  readonly #data: PieceCache;
  readonly #flag: number;
  readonly #zeroOffset: number;
  #dataOffset: number;

  constructor(descs: PieceCache, data: PieceCache, flag: number, zeroOffset: number) {
    this.#descs = descs;
    this.#data = data;
    this.#flag = flag;
    this.#zeroOffset = zeroOffset;
    this.#dataOffset = zeroOffset + PAGE_SIZE;
  }

  /** A zero page: a descriptor pointing at the shared zero page. */
  zero(): Promise<void> | undefined {
    return this.#descs.appendDescriptor(this.#zeroOffset, PAGE_SIZE, 0);
  }

  /** A compressed block, or (block undefined) the page stored raw. */
  stored(block: Uint8Array | undefined, page: Uint8Array): Promise<void> | undefined {
    const stored = block ?? page;
    const flags = block === undefined ? 0 : this.#flag;
    // The data piece goes out before the descriptor that follows it, as QEMU writes them.
    const flushing = this.#data.append(stored);
    if (flushing !== undefined) return flushing.then(() => this.#descriptor(stored.length, flags));
    return this.#descriptor(stored.length, flags);
  }

  /**
   * A run stored by the compressor's storePages: it fills the caches' free room and stops at the
   * first page that does not fit; that cache is flushed, as page by page, and the run goes on.
   */
  async storedRun(run: Uint8Array, store: (target: StoreTarget) => Promise<StoreResult>): Promise<void> {
    const count = run.length / PAGE_SIZE;
    for (let first = 0; first < count;) {
      const stored = await store({ data: this.#data.room(), descs: this.#descs.room(), dataOffset: this.#dataOffset, zeroOffset: this.#zeroOffset, first });
      this.#data.commit(stored.dataBytes);
      this.#descs.commit(stored.descBytes);
      this.#dataOffset = stored.dataOffset;
      if (stored.full === undefined && stored.next !== count) throw new DumpError('sink-failed', `kdump page store stopped at page ${stored.next} of ${count} with room left`);
      first = stored.next;
      if (stored.full === undefined) continue;
      const full = stored.full === 'data' ? this.#data : this.#descs;
      // A cache that is empty and still too small would stop here for ever (caches hold 16 KiB or more).
      if (full.empty) throw new DumpError('sink-failed', `kdump ${stored.full} cache cannot hold one page`);
      await full.flush();
    }
  }

  #descriptor(size: number, flags: number): Promise<void> | undefined {
    const offset = this.#dataOffset;
    this.#dataOffset += size;
    return this.#descs.appendDescriptor(offset, size, flags);
  }
}

/**
 * Runs of consecutive dumpable frames inside one block, up to a batch each, as one view of the
 * block's bytes (frames that do not lie inside one block are assembled in a copy).
 */
function* pageRuns(source: DumpSource, pfns: readonly PfnRange[], hint: { index: number }): Generator<Uint8Array> {
  const scratch = new Uint8Array(PAGE_SIZE);
  for (const range of pfns) {
    for (let pfn = range.first; pfn < range.end;) {
      const start = pfn * PAGE_SIZE;
      while (hint.index < source.blocks.length && (source.blocks[hint.index]?.gpa ?? 0) + (source.blocks[hint.index]?.sizeBytes ?? 0) <= start) hint.index++;
      const block = source.blocks[hint.index];
      const inBlock = block === undefined || block.gpa > start ? 0 : Math.floor((block.gpa + block.sizeBytes - start) / PAGE_SIZE);
      const count = Math.min(COMPRESS_BATCH_PAGES, range.end - pfn, Math.max(inBlock, 1));
      if (block !== undefined && inBlock > 0) {
        yield block.read(start - block.gpa, count * PAGE_SIZE);
      } else {
        yield readPage(source.blocks, pfn, scratch, hint).slice();
      }
      pfn += count;
    }
  }
}

/** A codec that fails is an environment failure, reported like a failing sink (architecture §3). */
async function compressBatch<T>(compressor: PageCompressor, compress: () => T | Promise<T>): Promise<T> {
  try {
    return await compress();
  } catch (cause) {
    if (cause instanceof DumpError) throw cause;
    throw new DumpError('sink-failed', `${compressor.codec.name} page compression failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Dumpable pages in pfn order, in batches: views of guest memory, or copies for assembled frames. */
function* pageBatches(source: DumpSource, pfns: readonly PfnRange[], hint: { index: number }): Generator<Uint8Array[]> {
  let batch: Uint8Array[] = [];
  const scratch = new Uint8Array(PAGE_SIZE);
  for (const range of pfns) {
    for (let pfn = range.first; pfn < range.end; pfn++) {
      const page = readPage(source.blocks, pfn, scratch, hint);
      batch.push(page === scratch ? scratch.slice() : page);
      if (batch.length === COMPRESS_BATCH_PAGES) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}
