/**
 * zlib for kdump pages: RFC 1950 streams (header 78 01, Adler-32 trailer) at level 1, what QEMU's
 * compress2(Z_BEST_SPEED) makes. pako 2.2.0 is pinned because its level-1 output is byte-identical
 * to Debian's zlib 1.2.13, which QEMU 7.2 links (checked page by page against QEMU's own
 * kdump-zlib output); it also runs in browsers. The Node entry may swap in node:zlib for speed.
 */

import { deflate, inflate } from 'pako';
import { blockCodec, DUMP_DH_COMPRESSED_ZLIB, type PageCodec } from './codec.js';

export const zlibCodec: PageCodec = {
  ...blockCodec('zlib', DUMP_DH_COMPRESSED_ZLIB, (page) => deflate(page, { level: 1 }), (block) => inflate(block)),
  slowToFail: true,
};
