import { deflateSync } from 'node:zlib';
import { inflate } from 'pako';
import { describe, expect, it } from 'vitest';
import { CODEC_OUT_BYTES } from '../../src/index.js';
import { nodeZlibCodec } from '../../src/node/index.js';
import { nodeZlibUsesReusedHandle } from '../../src/node/zlib-codec.js';
import { fillPage, xorshift } from './support.js';

const PAGE = 4096;

/** Random pages and near-misses (repeats, small alphabets, zero runs, a repeated half), and text. */
function craftedPages(): { label: string; page: Uint8Array }[] {
  const rnd = xorshift(99);
  const random = (): Uint8Array => {
    const page = new Uint8Array(PAGE);
    fillPage(page, 'random', rnd);
    return page;
  };
  const out: { label: string; page: Uint8Array }[] = [];
  for (let i = 0; i < 300; i++) out.push({ label: 'random', page: random() });
  for (const length of [6, 8, 12, 16, 20, 24, 32, 48, 64, 256]) {
    for (let i = 0; i < 20; i++) {
      const page = random();
      const from = rnd() % (PAGE - length);
      page.copyWithin(rnd() % (PAGE - length), from, from + length);
      out.push({ label: `repeat ${length}`, page });
    }
  }
  for (const copies of [2, 3, 4, 6, 8]) {
    for (let i = 0; i < 10; i++) {
      const page = random();
      for (let c = 0; c < copies; c++) {
        const at = rnd() % (PAGE - 8);
        page.copyWithin(rnd() % (PAGE - 8), at, at + 8);
      }
      out.push({ label: `${copies} repeats of 8`, page });
    }
  }
  for (const mask of [0xfe, 0xf7, 0x7f, 0x3f]) {
    for (let i = 0; i < 20; i++) out.push({ label: `alphabet & ${mask}`, page: random().map((b) => b & mask) });
  }
  for (const zeros of [16, 32, 64, 96, 200]) {
    for (let i = 0; i < 20; i++) out.push({ label: `${zeros} zero bytes`, page: random().fill(0, 1000, 1000 + zeros) });
  }
  for (let i = 0; i < 20; i++) {
    const page = random();
    page.copyWithin(2048, 0, 2048);
    out.push({ label: 'repeated half', page });
  }
  for (let i = 0; i < 50; i++) {
    const page = new Uint8Array(PAGE);
    fillPage(page, 'text', rnd);
    out.push({ label: 'text', page });
  }
  return out;
}

describe('nodeZlibCodec', () => {
  it('makes zlib streams with a 4 KiB window (48 0d) that pako inflates, or declines pages it cannot shrink', () => {
    const out = new Uint8Array(CODEC_OUT_BYTES);
    const back = new Uint8Array(PAGE);
    for (const { label, page } of craftedPages()) {
      const size = nodeZlibCodec.compress(page, out);
      const deflated = deflateSync(page, { level: 1, windowBits: 12 });
      expect(size, label).toBe(deflated.length < PAGE ? deflated.length : -1);
      if (size < 0) continue;
      // The reused deflate handle makes deflateSync's exact bytes, page after page.
      expect(Buffer.compare(out.subarray(0, size), deflated), label).toBe(0);
      // RFC 1950: CM 8 with CINFO 4 (a 4 KiB window), FLEVEL 0 (fastest), FCHECK making it a multiple of 31.
      expect([out[0], out[1]]).toEqual([0x48, 0x0d]);
      expect(Buffer.compare(inflate(out.subarray(0, size)), page)).toBe(0);
      expect(nodeZlibCodec.decompress(out.subarray(0, size), back)).toBe(PAGE);
      expect(Buffer.compare(back, page)).toBe(0);
    }
  });

  it('compresses through one reused deflate handle on this Node (deflateSync is the fallback)', () => {
    expect(nodeZlibUsesReusedHandle()).toBe(true);
  });

  it('refuses a block that inflates past the page', () => {
    const block = deflateSync(new Uint8Array(2 * PAGE));
    expect(() => nodeZlibCodec.decompress(block, new Uint8Array(PAGE))).toThrow();
  });
});
