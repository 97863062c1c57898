/**
 * Batch page compression for the kdump writer. The writer hands over batches of non-zero pages in
 * pfn order and writes the results in the same order, so a compressor may work in the calling
 * thread (the default, and the only one in browsers) or spread a batch over worker threads (the
 * Node entry's pool). A result is the compressed block, or undefined to store the page raw.
 */

import { CODEC_OUT_BYTES, type PageCodec } from './codecs/codec.js';

export interface PageCompressor {
  readonly codec: PageCodec;
  compressBatch(pages: readonly Uint8Array[]): (Uint8Array | undefined)[] | Promise<(Uint8Array | undefined)[]>;
}

/** Pages handed to a compressor at once. */
export const COMPRESS_BATCH_PAGES = 256;

/** Compresses in the calling thread, one page at a time, into one reused output buffer. */
export function inlineCompressor(codec: PageCodec): PageCompressor {
  const out = new Uint8Array(CODEC_OUT_BYTES);
  return {
    codec,
    compressBatch: (pages) => pages.map((page) => {
      const size = codec.compress(page, out);
      return size >= 0 && size < page.length ? out.slice(0, size) : undefined;
    }),
  };
}
