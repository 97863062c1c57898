/**
 * kdump page codecs backed by the native addon (native-addon.ts), for the Node entry's default
 * flavour: zlib through libdeflate at level 1 (RFC 1950 streams, header 78 01, that every
 * inflate/uncompress() decodes; much faster than zlib's own level 1, and not zlib's bytes, which
 * is why the 'qemu-7.2' flavour keeps the pinned pako codec), LZO1X-1 through a C port of our
 * clean-room compressor (the very same bytes as lzo1x.ts), snappy through libsnappy (what QEMU
 * links) and zstd through libzstd at level 1. Decoding stays with the portable codecs, except
 * zstd's, which the addon does too (the portable one loads asynchronously).
 *
 * A dump compresses through nativeCompressor: one addon call per run of up to 256 pages, which
 * stores the run's blocks and descriptors straight into the kdump writer's caches (or, for a
 * batch, packs the blocks into an arena reused for every batch), so no page costs an N-API call,
 * an allocation or a copy of its own. Each codec object also compresses single pages
 * (PageCodec.compress), for callers outside the dump writer.
 */

import { DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD, type CodecName, type PageCodec } from '../dump/kdump/codecs/codec.js';
import { lzoCodec } from '../dump/kdump/codecs/lzo.js';
import { snappyCodec } from '../dump/kdump/codecs/snappy.js';
import { COMPRESS_BATCH_PAGES, inlineCompressor, type PageCompressor, type StoreResult, type StoreTarget } from '../dump/kdump/compressor.js';
import { PAGE_SIZE } from '../dump/kdump/pages.js';
import { callNative, nativeAddon, NATIVE_SKIP_INCOMPRESSIBLE, NativeCodecError, type NativeAddon } from './native-addon.js';
import { nodeZlibCodec } from './zlib-codec.js';

/** A page codec whose compression runs in the addon; `native` tells them from the portable ones. */
export interface NativePageCodec extends PageCodec {
  readonly native: { readonly addon: NativeAddon; readonly library: string };
}

/** Threads the addon compresses a run on at most (native/src/page-run.h, PAGE_RUN_MAX_THREADS). */
export const MAX_NATIVE_THREADS = 4;

/**
 * `threads` when it is a count the addon takes (1 to MAX_NATIVE_THREADS).
 * @throws RangeError otherwise.
 */
export function checkNativeThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_NATIVE_THREADS) throw new RangeError(`nativeThreads must be an integer from 1 to ${MAX_NATIVE_THREADS}, not ${threads}`);
  return threads;
}

/**
 * Whether the default flavour stores random-looking pages raw untried, per codec. Measured per
 * page in C (bench/native-codecs.bench.ts): the test costs about 1 us; libdeflate and libzstd
 * spend several times that failing on a random page, liblzo-style LZO and snappy give up sooner
 * than the test runs, so those two are always called.
 */
const SKIP_INCOMPRESSIBLE: Readonly<Record<CodecName, boolean>> = { zlib: true, zstd: true, lzo: false, snappy: false };

let codecs: Readonly<Partial<Record<CodecName, NativePageCodec>>> | undefined;

/** The native codecs by name; empty when the addon is not there. */
export function nativeCodecs(): Readonly<Partial<Record<CodecName, NativePageCodec>>> {
  if (codecs !== undefined) return codecs;
  const addon = nativeAddon();
  codecs = addon === undefined
    ? {}
    : {
        zlib: nativeCodec(addon, 'zlib', DUMP_DH_COMPRESSED_ZLIB, `libdeflate ${addon.versions.libdeflate}`, nodeZlibCodec),
        lzo: nativeCodec(addon, 'lzo', DUMP_DH_COMPRESSED_LZO, 'slice86 LZO1X-1 (C)', lzoCodec),
        snappy: nativeCodec(addon, 'snappy', DUMP_DH_COMPRESSED_SNAPPY, 'libsnappy', snappyCodec),
        zstd: nativeCodec(addon, 'zstd', DUMP_DH_COMPRESSED_ZSTD, `libzstd ${addon.versions.zstd}`, zstdDecoder(addon)),
      };
  return codecs;
}

export function isNativeCodec(codec: PageCodec): codec is NativePageCodec {
  return 'native' in codec;
}

/** Decoding half of a codec for zstd frames, through the addon. */
function zstdDecoder(addon: NativeAddon): Pick<PageCodec, 'decompress'> {
  return {
    decompress(block, out) {
      const size = callNative(() => addon.decompressZstd(block, out));
      if (size < 0) throw new Error(`zstd block of ${block.length} bytes is not a frame that decodes into ${out.length} bytes`);
      return size;
    },
  };
}

function nativeCodec(addon: NativeAddon, name: CodecName, flag: number, library: string, decoder: Pick<PageCodec, 'decompress'>): NativePageCodec {
  const sizes = new Int32Array(1);
  return {
    name,
    flag,
    slowToFail: SKIP_INCOMPRESSIBLE[name],
    native: { addon, library },
    compress(page, out) {
      if (page.length !== PAGE_SIZE) throw new NativeCodecError('invalid-pages', `native ${name} compresses 4096-byte pages, not ${page.length} bytes`);
      if (out.length < PAGE_SIZE) throw new NativeCodecError('invalid-arena', `native ${name} needs an output buffer of 4096 bytes or more, not ${out.length}`);
      callNative(() => addon.compressPages(flag, page, out, sizes, 0));
      return sizes[0] ?? -1;
    },
    decompress(block, out) {
      return decoder.decompress(block, out);
    },
  };
}

/**
 * A PageCompressor running `codec` in the addon, a batch per call. With `skipIncompressible`
 * (the default flavour, for codecs where it pays), random-looking pages are stored raw untried
 * by the addon's own copy of kdump/incompressible.ts; the writer's JavaScript test is then left
 * out, which the codec this compressor reports (slowToFail false) tells the writer. With
 * `findZeroPages` it also offers storePages: the addon runs the kdump page loop over a run of
 * pages as one view, zero test included, compressing on `threads` threads (1 unless given), and
 * writes the data and descriptors into the caches.
 * @throws RangeError for a thread count other than 1 to MAX_NATIVE_THREADS.
 */
export function nativeCompressor(codec: NativePageCodec, options: { skipIncompressible: boolean; findZeroPages?: boolean; threads?: number }): PageCompressor {
  const { addon } = codec.native;
  const skipFlag = options.skipIncompressible && codec.slowToFail === true ? NATIVE_SKIP_INCOMPRESSIBLE : 0;
  const reported: PageCodec = { ...codec, slowToFail: false };
  const fallback = inlineCompressor(codec);
  let arena = new Uint8Array(COMPRESS_BATCH_PAGES * PAGE_SIZE);
  let sizes = new Int32Array(COMPRESS_BATCH_PAGES);

  /**
   * Runs the addon over the batch; sizes then holds each page's block length, -1 (raw) or -2
   * (zero). Returns the arena bytes used.
   */
  const run = (pages: Uint8Array | readonly Uint8Array[], count: number, flags: number): number => {
    if (sizes.length < count) {
      arena = new Uint8Array(count * PAGE_SIZE);
      sizes = new Int32Array(count);
    }
    return callNative(() => addon.compressPages(codec.flag, pages, arena, sizes, flags));
  };

  const blocksOf = (count: number): (Uint8Array | undefined)[] => {
    const blocks = new Array<Uint8Array | undefined>(count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const size = sizes[i] ?? -1;
      if (size < 0) continue;
      blocks[i] = arena.subarray(at, at + size);
      at += size;
    }
    return blocks;
  };

  const compressor: PageCompressor = {
    codec: reported,
    compressBatch(pages) {
      // Only whole pages go to C in a batch; anything else (never from the kdump writer) goes page by page.
      if (!pages.every((page) => page.length === PAGE_SIZE)) return fallback.compressBatch(pages);
      run(contiguous(pages) ?? pages, pages.length, skipFlag);
      return blocksOf(pages.length);
    },
  };
  if (options.findZeroPages !== true) return compressor;
  const threads = checkNativeThreads(options.threads ?? 1);
  // storeRun's in/out cursor (addon.c): data offset, zero page offset, page, bytes to each cache, stop.
  const cursor = new Float64Array(6);
  let held: { pages: Uint8Array; id: number } | undefined;
  const compressRun = (pages: Uint8Array): number => callNative(() => addon.compressRun(codec.flag, pages, skipFlag, threads));
  const storeRun = (id: number, pages: Uint8Array, target: StoreTarget): boolean => callNative(() => addon.storeRun(id, pages, target.data, target.descs, cursor));
  return {
    ...compressor,
    storePages(pages, target): StoreResult {
      // A run is compressed once, on its first call; the addon keeps the blocks until it is stored.
      if (target.first === 0 || held?.pages !== pages) held = { pages, id: compressRun(pages) };
      cursor[0] = target.dataOffset;
      cursor[1] = target.zeroOffset;
      cursor[2] = target.first;
      if (!storeRun(held.id, pages, target)) {
        // Another dump in this thread compressed a run since: this one's blocks are made again (the same bytes).
        held = { pages, id: compressRun(pages) };
        if (!storeRun(held.id, pages, target)) throw new NativeCodecError('native-failure', 'the addon lost a run it had just compressed');
      }
      const stop = cursor[5];
      return {
        next: cursor[2],
        dataBytes: cursor[3] ?? 0,
        descBytes: cursor[4] ?? 0,
        dataOffset: cursor[0],
        full: stop === 1 ? 'data' : stop === 2 ? 'descs' : undefined,
      };
    },
  };
}

/**
 * One view over the batch when its pages lie back to back in one buffer (consecutive frames of a
 * RAM block, the usual case), so the addon reads a single array rather than an element per page.
 */
function contiguous(pages: readonly Uint8Array[]): Uint8Array | undefined {
  const first = pages[0];
  if (first === undefined) return undefined;
  const { buffer, byteOffset } = first;
  for (let i = 1; i < pages.length; i++) {
    const page = pages[i];
    if (page?.buffer !== buffer || page.byteOffset !== byteOffset + i * PAGE_SIZE) return undefined;
  }
  return new Uint8Array(buffer, byteOffset, pages.length * PAGE_SIZE);
}
