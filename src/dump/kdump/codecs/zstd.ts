/**
 * zstd for kdump pages, as makedumpfile defines it (DUMP_DH_COMPRESSED_ZSTD, one zstd frame per
 * page at level 1; QEMU has no zstd). @bokuweb/zstd-wasm runs the reference library as
 * WebAssembly in Node and in browsers; its module loads asynchronously, hence the factory.
 */

import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import { blockCodec, DUMP_DH_COMPRESSED_ZSTD, type PageCodec } from './codec.js';

const ZSTD_LEVEL = 1;
let ready: Promise<void> | undefined;

const zstdCodec: PageCodec = {
  ...blockCodec('zstd', DUMP_DH_COMPRESSED_ZSTD, (page) => compress(page, ZSTD_LEVEL), (block) => decompress(block)),
  slowToFail: true,
};

/** Loads the WebAssembly module once and returns the codec. */
export async function createZstdCodec(): Promise<PageCodec> {
  ready ??= init();
  await ready;
  return zstdCodec;
}
