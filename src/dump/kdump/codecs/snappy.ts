/**
 * Snappy for kdump pages: the raw block format (not framed), as QEMU's snappy_compress and
 * makedumpfile write it. snappyjs is pure JavaScript, synchronous and runs in every runtime;
 * spec/compression.md measured it at about 160 MiB/s on mixed pages.
 */

import { compress, uncompress } from 'snappyjs';
import { DUMP_DH_COMPRESSED_SNAPPY, type PageCodec } from './codec.js';

export const snappyCodec: PageCodec = {
  name: 'snappy',
  flag: DUMP_DH_COMPRESSED_SNAPPY,
  compress(page, out) {
    const block = compress(page);
    if (block.length >= page.length || block.length > out.length) return -1;
    out.set(block);
    return block.length;
  },
  decompress(block, out) {
    // The bound keeps a malformed block from inflating past one page.
    const page = uncompress(block, out.length);
    out.set(page);
    return page.length;
  },
};
