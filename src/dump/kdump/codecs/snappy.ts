/**
 * Snappy for kdump pages: the raw block format (not framed), as QEMU's snappy_compress and
 * makedumpfile write it. snappyjs is pure JavaScript, synchronous and runs in every runtime;
 * spec/compression.md measured it at about 160 MiB/s on mixed pages.
 */

import { compress, uncompress } from 'snappyjs';
import { blockCodec, DUMP_DH_COMPRESSED_SNAPPY } from './codec.js';

// The length bound keeps a malformed block from inflating past one page.
export const snappyCodec = blockCodec('snappy', DUMP_DH_COMPRESSED_SNAPPY, (page) => compress(page), (block, maxLength) => uncompress(block, maxLength));
