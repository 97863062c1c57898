/**
 * zlib for kdump pages through node:zlib (the C library Node bundles): RFC 1950 streams at level 1
 * with a 4 KiB window (header 48 0d) where compress2(Z_BEST_SPEED) uses 32 KiB (78 01). A page is
 * 4 KiB, so the bigger window finds nothing more (text pages: 3.552 against 3.554 to 1), while
 * the smaller one cut the time per page by 13% (text) to 18% (random). Node 20 bundles Chromium's
 * zlib fork, whose bytes differ from Debian's zlib 1.2.13 on most pages anyway (spec/compression.md),
 * so this codec serves the default flavour only; 'qemu-7.2' dumps keep the pinned pako codec.
 * Every zlib reader (crash, makedumpfile, uncompress(), ours) decodes both headers.
 *
 * deflateSync sets up and frees a whole z_stream per call (about 12 us, a quarter of a text
 * page's cost). So pages go through one deflate handle kept for the process and reset between
 * pages, compressing straight into the caller's buffer. That handle is Node's internal binding
 * behind zlib.createDeflate (`_handle.writeSync`, `_writeState`, `_handle.reset`), which no
 * release promises to keep: it is used only after a self-test shows it present and making
 * deflateSync's exact bytes, and deflateSync remains the fallback.
 */

import { constants, createDeflate, deflateSync, inflateSync } from 'node:zlib';
import { DUMP_DH_COMPRESSED_ZLIB, type PageCodec } from '../dump/kdump/codecs/codec.js';

const DEFLATE_OPTIONS = { level: 1, windowBits: 12 } as const;

/** Compresses `page` into `out`; the stream's length, or -1 when it did not fit or failed. */
type Deflate = (page: Uint8Array, out: Uint8Array) => number;

/** The internal shape the fast path needs; anything else and it is not used. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, out: Uint8Array, outOffset: number, outLength: number): void;
  reset(): void;
}

function hasHandleShape(value: unknown): value is { _handle: ZlibHandle; _writeState: Uint32Array } {
  if (typeof value !== 'object' || value === null) return false;
  const { _handle: handle, _writeState: state } = value as { _handle?: unknown; _writeState?: unknown };
  if (typeof handle !== 'object' || handle === null) return false;
  const { writeSync, reset } = handle as { writeSync?: unknown; reset?: unknown };
  return typeof writeSync === 'function' && typeof reset === 'function' && state instanceof Uint32Array && state.length >= 2;
}

const viaDeflateSync: Deflate = (page, out) => {
  const block = deflateSync(page, DEFLATE_OPTIONS);
  if (block.length > out.length) return -1;
  out.set(block);
  return block.length;
};

/** The reused-handle path, or undefined when this Node lacks it or it makes other bytes. */
function reusedHandle(): Deflate | undefined {
  try {
    const stream: unknown = createDeflate(DEFLATE_OPTIONS);
    if (!hasHandleShape(stream)) return undefined;
    const handle = stream._handle;
    const state = stream._writeState;
    const deflate: Deflate = (page, out) => {
      try {
        handle.writeSync(constants.Z_FINISH, page, 0, page.length, out, 0, out.length);
        // state = [avail_out, avail_in] after the call: all input taken and room left means Z_STREAM_END.
        const availOut = state[0] ?? 0;
        return (state[1] ?? 1) === 0 && availOut > 0 ? out.length - availOut : -1;
      } finally {
        handle.reset();
      }
    };
    return selfTest(deflate) ? deflate : undefined;
  } catch {
    return undefined;
  }
}

/** Same bytes as deflateSync on a text-like, a random and an all-zero page, twice over. */
function selfTest(deflate: Deflate): boolean {
  const pages = [new Uint8Array(4096), new Uint8Array(4096), new Uint8Array(4096)];
  let seed = 0x2545f491;
  for (let i = 0; i < 4096; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    (pages[0] ?? new Uint8Array(0))[i] = 0x61 + ((seed >>> 16) % 7);
    (pages[1] ?? new Uint8Array(0))[i] = seed >>> 24;
  }
  const out = new Uint8Array(8192);
  for (let round = 0; round < 2; round++) {
    for (const page of pages) {
      const expected = deflateSync(page, DEFLATE_OPTIONS);
      const size = deflate(page, out);
      if (size !== expected.length || Buffer.compare(expected, out.subarray(0, size)) !== 0) return false;
    }
  }
  return true;
}

let deflatePage: Deflate | undefined;

export const nodeZlibCodec: PageCodec = {
  name: 'zlib',
  flag: DUMP_DH_COMPRESSED_ZLIB,
  slowToFail: true,
  compress(page, out) {
    deflatePage ??= reusedHandle() ?? viaDeflateSync;
    const size = deflatePage(page, out);
    return size >= page.length ? -1 : size;
  },
  decompress(block, out) {
    const page = inflateSync(block, { maxOutputLength: out.length });
    out.set(page);
    return page.length;
  },
};

/** Whether compress() uses the reused handle (for tests and the bench). */
export function nodeZlibUsesReusedHandle(): boolean {
  deflatePage ??= reusedHandle() ?? viaDeflateSync;
  return deflatePage !== viaDeflateSync;
}
