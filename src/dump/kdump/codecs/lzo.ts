/**
 * LZO1X-1 for kdump pages, as QEMU's lzo1x_1_compress and makedumpfile use it: our clean-room
 * codec (lzo1x.ts), written from the published stream format and proven with liblzo2's decoder.
 */

import { DUMP_DH_COMPRESSED_LZO, type PageCodec } from './codec.js';
import { lzo1xCompress, lzo1xDecompress, lzo1xWorstCase } from './lzo1x.js';

const scratch = new Uint8Array(lzo1xWorstCase(4096));

export const lzoCodec: PageCodec = {
  name: 'lzo',
  flag: DUMP_DH_COMPRESSED_LZO,
  compress(page, out) {
    // lzo1xCompress needs room for its worst case, which exceeds a page; compress aside, then copy.
    const buffer = page.length <= 4096 ? scratch : new Uint8Array(lzo1xWorstCase(page.length));
    const size = lzo1xCompress(page, buffer);
    if (size >= page.length || size > out.length) return -1;
    out.set(buffer.subarray(0, size));
    return size;
  },
  decompress(block, out) {
    return lzo1xDecompress(block, out);
  },
};
