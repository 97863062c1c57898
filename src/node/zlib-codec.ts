/**
 * zlib for kdump pages through node:zlib (the C library Node bundles): RFC 1950 streams at level 1,
 * header 78 01, as compress2(Z_BEST_SPEED) makes. About 2.5x pako per page on this VM (82 against
 * 30 MiB/s on random and text pages, median of 5 passes). Node 20 bundles Chromium's zlib fork,
 * whose bytes differ from Debian's zlib 1.2.13 on most pages (spec/compression.md), so this codec
 * serves the default flavour only; 'qemu-7.2' dumps keep the pinned pako codec. Every zlib reader
 * (crash, makedumpfile, ours) decodes both.
 */

import { deflateSync, inflateSync } from 'node:zlib';
import { DUMP_DH_COMPRESSED_ZLIB, type PageCodec } from '../dump/kdump/codecs/codec.js';

const DEFLATE_OPTIONS = { level: 1 } as const;

export const nodeZlibCodec: PageCodec = {
  name: 'zlib',
  flag: DUMP_DH_COMPRESSED_ZLIB,
  compress(page, out) {
    const block = deflateSync(page, DEFLATE_OPTIONS);
    if (block.length >= page.length || block.length > out.length) return -1;
    out.set(block);
    return block.length;
  },
  decompress(block, out) {
    const page = inflateSync(block, { maxOutputLength: out.length });
    out.set(page);
    return page.length;
  },
};
