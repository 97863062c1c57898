/**
 * The default flavour's store-raw-untried test: it must say yes only to pages zlib level 1 cannot
 * shrink either (checked against pako, the zlib the qemu-7.2 flavour uses), and no to the
 * near-misses that zlib does shrink: long repeats, a repeated half, zero runs, small alphabets.
 */
import { deflate } from 'pako';
import { describe, expect, it } from 'vitest';
import { looksIncompressible } from '../../../src/dump/kdump/incompressible.js';

const PAGE = 4096;

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const rnd = xorshift(0xc0ffee);

function randomPage(): Uint8Array {
  const page = new Uint8Array(PAGE);
  const words = new Uint32Array(page.buffer);
  for (let i = 0; i < words.length; i++) words[i] = rnd();
  return page;
}

function zlibShrinks(page: Uint8Array): boolean {
  return deflate(page, { level: 1 }).length < page.length;
}

describe('looksIncompressible', () => {
  it('says yes to random pages, which zlib cannot shrink either', () => {
    for (let i = 0; i < 100; i++) {
      const page = randomPage();
      expect(looksIncompressible(page)).toBe(true);
      expect(zlibShrinks(page)).toBe(false);
    }
  });

  it('says yes to already-compressed data (a page of a deflate stream)', () => {
    const text = new TextEncoder().encode(Array.from({ length: 6000 }, (_, i) => `line ${i}: value=${(rnd() % 100_000).toString(16)}\n`).join(''));
    const compressed = deflate(text, { level: 9 });
    const page = compressed.slice(PAGE, 2 * PAGE);
    expect(looksIncompressible(page)).toBe(true);
    expect(zlibShrinks(page)).toBe(false);
  });

  const nearMisses: [string, (page: Uint8Array) => void][] = [
    ['a repeated half', (p) => p.copyWithin(2048, 0, 2048)],
    ['a copied 256-byte structure', (p) => p.copyWithin(3072, 96, 352)],
    ['a copied 64-byte structure', (p) => p.copyWithin(3072, 96, 160)],
    ['a run of 64 zero bytes', (p) => p.fill(0, 1000, 1064)],
    ['a run of 0xff words', (p) => p.fill(0xff, 2048, 2304)],
    ['7-bit bytes', (p) => { p.forEach((b, i) => { p[i] = b & 0x7f; }); }],
  ];
  it.each(nearMisses)('says no to random data with %s, which zlib shrinks', (_, tweak) => {
    for (let i = 0; i < 20; i++) {
      const page = randomPage();
      tweak(page);
      expect(zlibShrinks(page)).toBe(true);
      expect(looksIncompressible(page)).toBe(false);
    }
  });

  it('says no to text, zero pages, and pages it cannot test (short, unaligned)', () => {
    const text = new TextEncoder().encode('NUMBER(phys_base)=16777216\nOSRELEASE=6.1.0\n'.repeat(100)).slice(0, PAGE);
    expect(looksIncompressible(text)).toBe(false);
    expect(looksIncompressible(new Uint8Array(PAGE))).toBe(false);
    expect(looksIncompressible(randomPage().subarray(0, 2048))).toBe(false);
    const unaligned = new Uint8Array(PAGE + 1);
    unaligned.set(randomPage(), 1);
    expect(looksIncompressible(unaligned.subarray(1))).toBe(false);
  });
});
