/**
 * Page codecs for kdump-compressed dumps. One 4096-byte page in, a compressed block out, written
 * into a caller-owned buffer (no per-page allocation where the library allows it). A codec
 * returns -1 when it cannot make the page smaller; the writer then stores the page raw, as QEMU
 * and makedumpfile do. Flags are the page-descriptor and header bits makedumpfile defines.
 */

export const DUMP_DH_COMPRESSED_ZLIB = 0x1;
export const DUMP_DH_COMPRESSED_LZO = 0x2;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

export type CodecName = 'zlib' | 'lzo' | 'snappy' | 'zstd';

export interface PageCodec {
  readonly name: CodecName;
  /** The header status and page-descriptor flag. */
  readonly flag: number;
  /**
   * True for codecs that take long to fail on random pages (zlib, zstd): the default flavour then
   * stores random-looking pages raw without calling them (kdump/incompressible.ts). LZO and
   * snappy give up on such pages faster than that test runs, so they are always called.
   */
  readonly slowToFail?: boolean;
  /** Compresses `page` into `out`; the compressed length, or -1 if it is not smaller than the page. */
  compress(page: Uint8Array, out: Uint8Array): number;
  /** Decompresses a block into `out` (sized to the page); returns the length. Throws on bad data. */
  decompress(block: Uint8Array, out: Uint8Array): number;
}

/** Room for any codec's output of one page (zlib's compressBound for 4096 is 4107). */
export const CODEC_OUT_BYTES = 8192;

/**
 * A PageCodec over a library that returns fresh arrays: the store-raw rule and the output bound
 * are applied here once, for every such codec.
 */
export function blockCodec(
  name: CodecName,
  flag: number,
  compress: (page: Uint8Array) => Uint8Array,
  decompress: (block: Uint8Array, maxLength: number) => Uint8Array,
): PageCodec {
  return {
    name,
    flag,
    compress(page, out) {
      const block = compress(page);
      if (block.length >= page.length || block.length > out.length) return -1;
      out.set(block);
      return block.length;
    },
    decompress(block, out) {
      const page = decompress(block, out.length);
      if (page.length > out.length) throw new Error(`${name} block decompresses to ${page.length} bytes, more than ${out.length}`);
      out.set(page);
      return page.length;
    },
  };
}
