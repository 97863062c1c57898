/**
 * Batch page compression for the kdump writer. The writer hands over batches of non-zero pages in
 * pfn order and writes the results in the same order, so a compressor may work in the calling
 * thread (the default, and the only one in browsers) or spread a batch over worker threads (the
 * Node entry's pool). A result is the compressed block, or undefined to store the page raw; a
 * block may be a view that the compressor reuses from its next batch on.
 */

import { CODEC_OUT_BYTES, type PageCodec } from './codecs/codec.js';

export interface PageCompressor {
  readonly codec: PageCodec;
  compressBatch(pages: readonly Uint8Array[]): (Uint8Array | undefined)[] | Promise<(Uint8Array | undefined)[]>;
  /**
   * Optional: the kdump page loop itself for a run of whole pages back to back (zero pages
   * included), storing each page's data and descriptor straight into the writer's two caches, so
   * the writer makes neither a view, a zero test nor a copy per page. It stops before the first
   * page that does not fit; the writer flushes the cache it names and calls again from there, so
   * the pieces come out exactly as page by page. Offered only where its zero test is the one the
   * dump would use (the Node engine's native compressor, when the caller gave no isZero).
   */
  storePages?(pages: Uint8Array, target: StoreTarget): StoreResult;
}

/** Where storePages puts pages: the free room of the kdump writer's caches, and file offsets. */
export interface StoreTarget {
  /** The data cache's free bytes: stored blocks and raw pages go here, back to back. */
  readonly data: Uint8Array;
  /** The descriptor cache's free bytes: a 24-byte page_desc per page. */
  readonly descs: Uint8Array;
  /** File offset the next stored page's data gets. */
  readonly dataOffset: number;
  /** File offset of the shared zero page, which zero pages' descriptors point at. */
  readonly zeroOffset: number;
  /** First page of the run to store. */
  readonly first: number;
}

export interface StoreResult {
  /** First page not stored: the run's page count when the run is done. */
  readonly next: number;
  readonly dataBytes: number;
  readonly descBytes: number;
  /** File offset the next stored page's data gets. */
  readonly dataOffset: number;
  /** The cache to flush before the rest of the run fits; undefined when the run is done. */
  readonly full: 'data' | 'descs' | undefined;
}

/** Pages handed to a compressor at once. */
export const COMPRESS_BATCH_PAGES = 256;

/**
 * Compresses in the calling thread, one page at a time, each block into one arena reused for
 * every batch: the blocks are views that stay valid until the next compressBatch call (the writer
 * copies them out before it asks again), so no page costs an allocation of its own.
 */
export function inlineCompressor(codec: PageCodec): PageCompressor {
  const out = new Uint8Array(CODEC_OUT_BYTES);
  let arena = new Uint8Array(COMPRESS_BATCH_PAGES * 4096);
  return {
    codec,
    compressBatch: (pages) => {
      const room = pages.reduce((n, page) => n + page.length, 0);
      if (arena.length < room) arena = new Uint8Array(room);
      let used = 0;
      return pages.map((page) => {
        const size = codec.compress(page, out);
        if (size < 0 || size >= page.length) return undefined;
        arena.set(out.subarray(0, size), used);
        used += size;
        return arena.subarray(used - size, used);
      });
    },
  };
}
