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
   * Optional: takes a batch as one view of whole pages back to back, zero pages included, and
   * finds those itself (a page whose bytes are all zero), so the writer needs neither a view nor
   * a zero test per page. Offered only where that test is the one the dump would use (the Node
   * engine's native compressor, when the caller gave no isZero of its own).
   */
  compressBatchFindingZeros?(pages: Uint8Array): ZeroFindingBatch | Promise<ZeroFindingBatch>;
}

/**
 * compressBatchFindingZeros's answer: `data` is every non-zero page's stored bytes (its block, or
 * the page itself when raw) back to back in page order, and `sizes[i]` says what page i is (a
 * block's length, RAW_PAGE or ZERO_PAGE), so the writer takes the whole batch's data in one piece
 * and makes no view per page. Both views stay valid until the next call.
 */
export interface ZeroFindingBatch {
  readonly data: Uint8Array;
  readonly sizes: Int32Array;
}

/** A ZeroFindingBatch size for a page stored raw (the page's own 4096 bytes). */
export const RAW_PAGE = -1;
/** A ZeroFindingBatch size for a zero page (no data; it points at the shared zero page). */
export const ZERO_PAGE = -2;

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
