/**
 * zstd for kdump pages, as makedumpfile defines it (DUMP_DH_COMPRESSED_ZSTD, one zstd frame per
 * page at level 1; QEMU has no zstd). @bokuweb/zstd-wasm runs the reference library as
 * WebAssembly in Node and in browsers; its module loads asynchronously, hence the factory.
 */

import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import { DUMP_DH_COMPRESSED_ZSTD, type PageCodec } from './codec.js';

const ZSTD_LEVEL = 1;
let ready: Promise<void> | undefined;

/** Loads the WebAssembly module once and returns the codec. */
export async function createZstdCodec(): Promise<PageCodec> {
  ready ??= init();
  await ready;
  return zstdCodec;
}

const zstdCodec: PageCodec = {
  name: 'zstd',
  flag: DUMP_DH_COMPRESSED_ZSTD,
  compress(page, out) {
    const block = compress(page, ZSTD_LEVEL);
    if (block.length >= page.length || block.length > out.length) return -1;
    out.set(block);
    return block.length;
  },
  decompress(block, out) {
    const page = decompress(block);
    if (page.length > out.length) throw new Error(`zstd page decompresses to ${page.length} bytes, more than ${out.length}`);
    out.set(page);
    return page.length;
  },
};
