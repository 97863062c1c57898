/**
 * Every page codec round-trips pages, refuses to grow a page (the writer then stores it raw), and
 * makes the stream its format defines (zlib header 78 01, zstd frame magic).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODEC_OUT_BYTES, createZstdCodec, lzoCodec, snappyCodec, zlibCodec, type PageCodec } from '../../../src/index.js';

const textPage = new TextEncoder().encode('NUMBER(phys_base)=16777216\nOSRELEASE=6.1.0\n'.repeat(100)).slice(0, 4096);
const randomPage = (seed: number): Uint8Array => {
  const page = new Uint8Array(4096);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < page.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    page[i] = x & 0xff;
  }
  return page;
};

describe.each([
  ['zlib', () => Promise.resolve(zlibCodec)],
  ['lzo', () => Promise.resolve(lzoCodec)],
  ['snappy', () => Promise.resolve(snappyCodec)],
  ['zstd', createZstdCodec],
] as const)('%s page codec', (_name, make) => {
  const roundTrip = async (codec: PageCodec, page: Uint8Array): Promise<void> => {
    const out = new Uint8Array(CODEC_OUT_BYTES);
    const size = codec.compress(page, out);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(4096);
    const back = new Uint8Array(4096);
    expect(codec.decompress(out.subarray(0, size), back)).toBe(4096);
    expect(back).toEqual(page);
    await Promise.resolve();
  };

  it('round-trips text-like and half-random pages', async () => {
    const codec = await make();
    await roundTrip(codec, textPage);
    const half = randomPage(7);
    half.fill(0, 2048);
    await roundTrip(codec, half);
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 4096, maxLength: 4096 }).map((p) => { p.fill(p[0] ?? 0, 1024); return p; }), (p) => roundTrip(codec, p)), { numRuns: 50 });
  });

  it('returns -1 for a page it cannot shrink', async () => {
    const codec = await make();
    expect(codec.compress(randomPage(1), new Uint8Array(CODEC_OUT_BYTES))).toBe(-1);
  });
});

it('zlib pages are RFC 1950 streams at level 1 (header 78 01), as compress2(Z_BEST_SPEED) writes', () => {
  const out = new Uint8Array(CODEC_OUT_BYTES);
  zlibCodec.compress(textPage, out);
  expect([...out.subarray(0, 2)]).toEqual([0x78, 0x01]);
});

it('zstd pages are zstd frames (magic 28 b5 2f fd)', async () => {
  const codec = await createZstdCodec();
  const out = new Uint8Array(CODEC_OUT_BYTES);
  codec.compress(textPage, out);
  expect([...out.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
});
