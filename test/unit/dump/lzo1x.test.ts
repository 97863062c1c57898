/**
 * The LZO1X codec against the format in Linux's Documentation/staging/lzo.rst: round trips of our
 * own blocks, hand-assembled streams for every instruction form, and malformed blocks for every
 * error code. liblzo2's own view of these streams is in test/interop/lzo1x-liblzo2.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Lzo1xError, lzo1xCompress, lzo1xDecompress, lzo1xWorstCase, type Lzo1xErrorCode } from '../../../src/dump/kdump/codecs/lzo1x.js';
import { concatBytes } from '../../../src/core/bytes.js';
import { hex } from '../../support/hex.js';

const PAGE = 4096;
const MAX_LEN = 8192;
const END = hex`11 00 00`; // M4 with distance 16384: end of stream

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function compress(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(lzo1xWorstCase(src.length));
  return out.slice(0, lzo1xCompress(src, out));
}

/** Decodes into a buffer of exactly `size` bytes and returns what the block decoded to. */
function decode(block: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  return out.subarray(0, lzo1xDecompress(block, out));
}

/** The error code a decode throws, or 'ok'. */
function decodeError(block: Uint8Array, size: number): Lzo1xErrorCode | 'ok' {
  try {
    decode(block, size);
    return 'ok';
  } catch (e) {
    if (e instanceof Lzo1xError) return e.code;
    throw e;
  }
}

/** Distinct, non-repeating literal bytes, so a hand-written match copies something checkable. */
function literalBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A length extension (lzo.rst): 255 per zero byte, then the non-zero remainder. */
function extension(rest: number): Uint8Array {
  const zeros = Math.floor((rest - 1) / 255);
  return concat(new Uint8Array(zeros), Uint8Array.of(rest - zeros * 255));
}

/** The stream's first instruction for `n` literals at stream start: `00` + extension (n >= 19). */
function longFirstLiterals(n: number): Uint8Array {
  return concat(Uint8Array.of(0), extension(n - 18));
}

// ---- arbitraries: the data kinds a guest page holds -------------------------------------------

const WORDS = ['the', 'page', 'kernel', 'of', 'memory', 'and', 'a', 'dump', 'to', 'is', 'guest', 'in', 'table', 'entry', '\n', 'struct', '0x0000'];

const randomBytes = fc.uint8Array({ maxLength: MAX_LEN });
const runs = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 700 })), { maxLength: 40 })
  .map((rs) => concat(...rs.map(([byte, len]) => new Uint8Array(len).fill(byte))).slice(0, MAX_LEN));
const textLike = fc
  .array(fc.constantFrom(...WORDS), { maxLength: 2000 })
  .map((ws) => new TextEncoder().encode(ws.join(' ')).slice(0, MAX_LEN));
const allZero = fc.integer({ min: 0, max: MAX_LEN }).map((n) => new Uint8Array(n));
const sameByte = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: MAX_LEN })).map(([b, n]) => new Uint8Array(n).fill(b));
const mixed = fc
  .array(fc.oneof(fc.uint8Array({ maxLength: 600 }), runs, textLike), { maxLength: 6 })
  .map((parts) => concat(...parts).slice(0, MAX_LEN));
const anyData = fc.oneof(randomBytes, runs, textLike, allZero, sameByte, mixed);
/** Exactly one kdump page, of any of the kinds above (padded with zeros or cut). */
const page = anyData.map((d) => concat(d, new Uint8Array(PAGE)).slice(0, PAGE));

function roundTrips(data: Uint8Array): void {
  const block = compress(data);
  expect(block.length).toBeLessThanOrEqual(lzo1xWorstCase(data.length));
  expect(decode(block, data.length)).toEqual(data);
}

describe('lzo1xCompress round trips through lzo1xDecompress', () => {
  it.each([
    ['random bytes', randomBytes],
    ['byte runs', runs],
    ['text-like data', textLike],
    ['all-zero data', allZero],
    ['all-same-byte data', sameByte],
    ['mixed data', mixed],
    ['exactly one 4096-byte page', page],
  ] as const)('%s (lengths 0..8192)', (_name, arbitrary) => {
    fc.assert(fc.property(arbitrary, roundTrips), { numRuns: 150 });
  });

  it('handles every short length, where matching has no room', () => {
    for (let n = 0; n <= 40; n++) {
      roundTrips(new Uint8Array(n).fill(7));
      roundTrips(literalBytes(n));
    }
  });

  it('encodes an empty input as the bare end marker', () => {
    expect(compress(new Uint8Array(0))).toEqual(END);
  });

  it('round-trips 64 KiB inputs, whose distances reach the M4 range', () => {
    const text = new TextEncoder().encode(Array.from({ length: 9000 }, (_, i) => WORDS[(i * 7) % WORDS.length]).join(' '));
    // Random bytes repeated 23000 bytes later, twice: only an M4 distance (> 16384) reaches back.
    const lits = literalBytes(3000);
    const far = concat(lits, new Uint8Array(20000), lits, new Uint8Array(20000), lits);
    for (const data of [text.slice(0, 65536), far, concat(far, literalBytes(65536 - far.length))]) {
      roundTrips(data);
    }
    // Both repeats were found: the block is little more than one copy of the random bytes.
    expect(compress(far).length).toBeLessThan(lits.length + 400);
  });

  it('writes within lzo1xWorstCase and refuses a smaller output buffer', () => {
    const data = literalBytes(PAGE);
    const out = new Uint8Array(lzo1xWorstCase(PAGE));
    expect(lzo1xCompress(data, out)).toBeLessThanOrEqual(out.length);
    expect(() => lzo1xCompress(data, out.subarray(1))).toThrow(RangeError);
  });

  it('gives the same block for the same input whatever was compressed before (hash table reuse)', () => {
    fc.assert(
      fc.property(page, fc.array(anyData, { maxLength: 4 }), (target, others) => {
        const first = compress(target);
        for (const other of others) compress(other);
        expect(compress(target)).toEqual(first);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps working after the hash table generation wraps past 2^31 positions', () => {
    const target = new TextEncoder().encode('wrap '.repeat(900));
    const before = compress(target);
    // Random data compresses fast (the probe step grows), so 2^31 positions take a second or so.
    const big = literalBytes(16 * 2 ** 20);
    const out = new Uint8Array(lzo1xWorstCase(big.length));
    for (let i = 0; i < 130; i++) lzo1xCompress(big, out);
    expect(compress(target)).toEqual(before);
    roundTrips(target);
  });
});

describe('lzo1xDecompress reads hand-assembled streams (lzo.rst instruction encoding)', () => {
  const abcd = new TextEncoder().encode('abcd');
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);

  it.each([
    ['only the end marker', END, ''],
    ['first byte 17 + 3: three literals', hex`14 616263 | 110000`, 'abc'],
    ['first byte 17 + 4: four literals', hex`15 61626364 | 110000`, 'abcd'],
    ['first byte 0000LLLL, L = 1: 3 + 1 literals', hex`01 77787a79 | 110000`, 'wxzy'],
    ['M2 (011 DDD SS): length 4, distance 4', hex`15 61626364 | 6c 00 | 110000`, 'abcdabcd'],
    ['M2 with S = 2: two literals ride along', hex`15 61626364 | 6e 00 7879 | 110000`, 'abcdabcdxy'],
    ['M2 (111 DDD SS): length 8, distance 3, overlapping', hex`14 616263 | e8 00 | 110000`, 'abcabcabcab'],
    ['M2 then a 0000LLLL literal run (state 0 after S = 0)', hex`15 61626364 | 6c 00 | 01 77787a79 | 110000`, 'abcdabcdwxzy'],
    ['M3 (001 LLLLL), L = 15: length 17, distance 1', hex`12 61 | 2f 0000 | 110000`, 'a'.repeat(18)],
    ['M3 with S = 3 in its LE16', hex`12 61 | 2f 0300 7879 7a | 110000`, `${'a'.repeat(18)}xyz`],
    ['M3, L = 0, extension 0x43: length 2 + 31 + 67 = 100', hex`12 61 | 20 43 0000 | 110000`, 'a'.repeat(101)],
    ['M3 extension with a zero byte: length 2 + 31 + 255 + 10', hex`12 61 | 20 00 0a 0000 | 110000`, 'a'.repeat(299)],
    ['M1 after 1..3 literals (0000 DD SS + H): 2 bytes from distance 2', hex`14 616263 | 04 00 | 110000`, 'abcbc'],
    ['M1 after 1..3 literals with S = 1', hex`14 616263 | 09 00 78 | 110000`, 'abcabx'],
  ])('%s', (_name, stream, expected) => {
    expect(decode(stream, 1024)).toEqual(text(expected));
    expect(decode(stream, expected.length)).toEqual(text(expected));
  });

  it('reads a long first literal run (00 + extension) followed by M1 from 2049..3072', () => {
    // 2049 literals = 18 + 7 * 255 + 246; then 0000 DD SS + H with D = H = 0: 3 bytes from 2049.
    const lits = literalBytes(2049);
    const stream = concat(hex`00 00000000000000 f6`, lits, hex`00 00`, END);
    expect(longFirstLiterals(2049)).toEqual(hex`00 00000000000000 f6`);
    expect(decode(stream, 4096)).toEqual(concat(lits, lits.subarray(0, 3)));
  });

  it('reads M4 (0001 H LLL + LE16) with H = 0 and H = 1, up to the largest distance 49151', () => {
    // distance 16385 (H = 0, D = 1), length 5: 0001 0 011, LE16 = 1 << 2.
    const a = literalBytes(16385);
    expect(decode(concat(longFirstLiterals(a.length), a, hex`13 0400`, END), 20000)).toEqual(concat(a, a.subarray(0, 5)));
    // distance 32769 (H = 1, D = 1), length 20: 0001 1 000, extension 20 - 9 = 11.
    const b = literalBytes(32769);
    expect(decode(concat(longFirstLiterals(b.length), b, hex`18 0b 0400`, END), 40000)).toEqual(concat(b, b.subarray(0, 20)));
    // distance 49151 (H = 1, D = 16383), length 9: 0001 1 111, LE16 = 16383 << 2 = 0xfffc.
    const c = literalBytes(49151);
    expect(decode(concat(longFirstLiterals(c.length), c, hex`1f fcff`, END), 50000)).toEqual(concat(c, c.subarray(0, 9)));
  });

  it('reads a long M3 match in bulk, overlapping at a distance of 3', () => {
    // 14 "xyz", M3 length 2 + 31 + 255 * 3 + 200 = 998 from distance 3.
    const stream = hex`14 78797a | 20 000000 c8 0800 | 110000`;
    expect(new TextDecoder().decode(decode(stream, 1001))).toBe('xyz'.repeat(334).slice(0, 1001));
  });

  it('matches the forms our compressor picks, worked out by hand', () => {
    // Four literals (17 + 4), then M2 length 4 distance 4 with S = 2 (011 011 10 = 6e, H = 0), "xy".
    expect(compress(concat(abcd, abcd, text('xy')))).toEqual(hex`15 61626364 | 6e 00 7879 | 110000`);
    // A zero page: one literal, then M3 from distance 1 for 4095 = 2 + 31 + 15 * 255 + 237 bytes.
    expect(compress(new Uint8Array(PAGE))).toEqual(concat(hex`12 00 | 20`, new Uint8Array(15), hex`ed 0000 | 110000`));
  });
});

describe('lzo1xDecompress rejects malformed blocks with a typed error', () => {
  it.each([
    ['an empty block', hex``, 16, 'input-overrun'],
    ['a literal run cut short', hex`14 6162`, 16, 'input-overrun'],
    ['a stream without its end marker', hex`14 616263`, 16, 'input-overrun'],
    ['an LE16 distance cut short', hex`14 616263 | 11 00`, 16, 'input-overrun'],
    ['a length extension cut short', hex`12 61 | 20 00 00`, 1024, 'input-overrun'],
    ['an M2 match before the start', hex`12 61 | 6c 00 | 110000`, 16, 'lookbehind-overrun'],
    ['first byte 17, an M4 opcode (not a literal count)', hex`11 0400 | 110000`, 16, 'lookbehind-overrun'],
    ['an M4 match as the very first instruction', hex`10 01 0400 | 110000`, 64, 'lookbehind-overrun'],
    ['an M1 3-byte match from 2049 after 4 literals', hex`15 61626364 | 00 00 | 110000`, 16, 'lookbehind-overrun'],
    ['a match longer than the output', hex`12 61 | 20 43 0000 | 110000`, 50, 'output-overrun'],
    ['literals longer than the output', hex`14 616263 | 110000`, 2, 'output-overrun'],
    ['trailing literals longer than the output', hex`15 61626364 | 6e 00 7879 | 110000`, 9, 'output-overrun'],
    ['bytes after the end marker', hex`14 616263 | 110000 | 00`, 16, 'bad-stream'],
  ] as const)('%s', (_name, stream, size, code) => {
    expect(decodeError(stream, size)).toBe(code);
  });

  it('reports input-overrun for every strict prefix of a valid block', () => {
    fc.assert(
      fc.property(anyData, fc.nat(), (data, cut) => {
        const block = compress(data);
        const prefix = block.subarray(0, cut % block.length);
        expect(decodeError(prefix, data.length)).toBe('input-overrun');
      }),
      { numRuns: 200 },
    );
  });

  it('reports output-overrun when the output is one byte short', () => {
    fc.assert(
      fc.property(anyData.filter((d) => d.length > 0), (data) => {
        expect(decodeError(compress(data), data.length - 1)).toBe('output-overrun');
      }),
      { numRuns: 100 },
    );
  });

  it('never throws anything else, nor writes outside its output, on garbage or corrupted blocks', () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(anyData, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([data, edits]) => {
        const block = compress(data);
        for (const [at, byte] of edits) block[at % block.length] = byte;
        return block;
      }),
    );
    fc.assert(
      fc.property(garbage, fc.integer({ min: 0, max: MAX_LEN }), (block, size) => {
        // The output is a window into a larger buffer; the guard bytes either side must survive.
        const backing = new Uint8Array(size + 64).fill(0xa5);
        const out = backing.subarray(32, 32 + size);
        try {
          expect(lzo1xDecompress(block, out)).toBeLessThanOrEqual(size);
        } catch (e) {
          expect(e).toBeInstanceOf(Lzo1xError);
        }
        expect(backing.subarray(0, 32).every((b) => b === 0xa5)).toBe(true);
        expect(backing.subarray(32 + size).every((b) => b === 0xa5)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives errors a code, a message and the Lzo1xError name', () => {
    const e = (() => {
      try {
        decode(hex`12 61 | 6c 00 | 110000`, 16);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(Lzo1xError);
    expect(e).toMatchObject({ name: 'Lzo1xError', code: 'lookbehind-overrun' });
    expect((e as Error).message).toMatch(/reaches back 4 bytes/);
  });
});
