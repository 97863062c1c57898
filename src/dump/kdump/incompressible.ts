/**
 * A cheap test for pages no kdump codec can shrink, so the default flavour stores them raw
 * without running the codec (QEMU and the 'qemu-7.2' flavour always try, then store raw). On
 * random pages it costs under a tenth of what zlib level 1 spends failing on them.
 *
 * A page counts as incompressible when both ways a codec gains fail it:
 *  - entropy coding: its bytes are near uniformly spread. Measured on a 1 KiB sample (128 bytes
 *    of every 512, so no stretch of 384 bytes or more goes unseen): above 7.6 bits a byte, where
 *    random data measures 7.73-7.87 and text, code and tables 4-7, a Huffman code saves at most
 *    about 2% of the page, no more than a deflate block's code tables cost;
 *  - matches: no 32 aligned bytes repeat earlier ones anywhere in the page (hasRepeat). Shorter
 *    repeats in random data did not pay for themselves in zlib; longer ones (a repeated half, a
 *    copied structure, 64 zero bytes) are caught.
 * A miss only costs ratio: the page is stored raw, which every reader takes.
 */

const PIECE_BYTES = 128;
const PIECE_STRIDE = 512;
const SAMPLE_ENTROPY_BAR = 7.6;
const PAGE_BYTES = 4096;
const SAMPLE_BYTES = (PAGE_BYTES / PIECE_STRIDE) * PIECE_BYTES;
/** Repeats of at least this many words (32 bytes) make a page worth trying. */
const MIN_REPEAT_WORDS = 8;
const HASH_BITS = 11;
/** Knuth's multiplicative constant as an int32 (a small integer to V8, where 0x9e3779b1 is a double). */
const HASH_MULTIPLIER = 0x9e3779b1 | 0;

/** Byte counts, four tables side by side (one per byte lane of a word) so increments in a row rarely wait on each other. */
const counts = new Uint32Array(4 * 256);
/** c * log2(c) for every count a sample can have. */
const C_LOG_C = Float64Array.from({ length: SAMPLE_BYTES + 1 }, (_, c) => (c === 0 ? 0 : c * Math.log2(c)));
/** The last 4-byte key seen in each hash slot, and where (position + base). */
const slotKeys = new Int32Array(1 << HASH_BITS);
const slotPositions = new Int32Array(1 << HASH_BITS);
let nextBase = 1;

/** True when `page` (a 4-byte aligned 4 KiB page) is random-looking enough to store raw untried. */
export function looksIncompressible(page: Uint8Array): boolean {
  if (page.length !== PAGE_BYTES || page.byteOffset % 4 !== 0) return false;
  counts.fill(0);
  for (let at = 0; at < PAGE_BYTES; at += PIECE_STRIDE) countBytes(page, at, at + PIECE_BYTES);
  return entropy(SAMPLE_BYTES) > SAMPLE_ENTROPY_BAR && !hasRepeat(page);
}

/** Adds page[from, to) (4-byte aligned) to the counts, a word at a time. */
function countBytes(page: Uint8Array, from: number, to: number): void {
  const words = new Uint32Array(page.buffer, page.byteOffset + from, (to - from) >>> 2);
  const c = counts;
  // An indexed loop: for-of over a typed array ran at a third of the speed here.
  // eslint-disable-next-line @typescript-eslint/prefer-for-of -- speed, as said
  for (let j = 0; j < words.length; j++) {
    const w = words[j] ?? 0;
    const b0 = w & 0xff;
    const b1 = 256 + ((w >>> 8) & 0xff);
    const b2 = 512 + ((w >>> 16) & 0xff);
    const b3 = 768 + (w >>> 24);
    c[b0] = (c[b0] ?? 0) + 1;
    c[b1] = (c[b1] ?? 0) + 1;
    c[b2] = (c[b2] ?? 0) + 1;
    c[b3] = (c[b3] ?? 0) + 1;
  }
}

/** Order-0 entropy of the n counted bytes in bits per byte: log2(n) - sum(c log2 c) / n. */
function entropy(n: number): number {
  let sum = 0;
  for (let b = 0; b < 256; b++) sum += C_LOG_C[(counts[b] ?? 0) + (counts[256 + b] ?? 0) + (counts[512 + b] ?? 0) + (counts[768 + b] ?? 0)] ?? 0;
  return Math.log2(n) - sum / n;
}

/**
 * Whether MIN_REPEAT_WORDS aligned words in a row repeat earlier ones, at a distance that is a
 * multiple of 4 bytes (one hash probe per word, as LZ compressors do per byte). That catches runs
 * of one byte value and copied structures, which are how otherwise random pages repeat in guest
 * memory; a repeat at an odd distance is missed (a quarter of the cost of probing every byte).
 */
function hasRepeat(page: Uint8Array): boolean {
  const words = new Uint32Array(page.buffer, page.byteOffset, page.length >>> 2);
  const n = words.length;
  // Positions are stored as position + base, and each call starts above every earlier value, so
  // slots from earlier pages read as negative positions and the table is never cleared. Kept
  // below 2^30 so positions stay small integers to V8 (larger ones run as doubles).
  if (nextBase > 0x3fff0000) {
    slotPositions.fill(0);
    nextBase = 1;
  }
  const base = nextBase;
  nextBase += n;
  // Locals, not module bindings, so the optimiser sees constants and fixed arrays in the loop.
  const keys = slotKeys;
  const positions = slotPositions;
  const multiplier = HASH_MULTIPLIER;
  const shift = 32 - HASH_BITS;
  for (let j = 0; j < n; j++) {
    const key = (words[j] ?? 0) | 0;
    const slot = Math.imul(key, multiplier) >>> shift;
    if (keys[slot] === key) {
      const earlier = (positions[slot] ?? 0) - base;
      if (earlier >= 0) {
        let length = 1;
        while (length < MIN_REPEAT_WORDS && j + length < n && words[earlier + length] === words[j + length]) length++;
        if (length >= MIN_REPEAT_WORDS) return true;
      }
    }
    keys[slot] = key;
    positions[slot] = j + base;
  }
  return false;
}
