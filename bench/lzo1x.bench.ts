/**
 * LZO1X-1 compressor throughput, printed, never asserted: MiB/s of input (median of 5 timed passes
 * after one warm-up) over 1024 pages of each set, plus the compression ratio. No tsx here, so run:
 *   npx esbuild bench/lzo1x.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/lzo-bench.mjs && node /tmp/lzo-bench.mjs
 * Sets: zero; text (generated English-ish prose); random (xorshift32); mix (25% random, 25% text,
 * 50% zero, shuffled). "stored" ratio counts a page whose block is not smaller than 4096 as 4096,
 * as makedumpfile stores such pages raw.
 */

import { lzo1xCompress, lzo1xDecompress, lzo1xWorstCase } from '../src/dump/kdump/codecs/lzo1x.js';

const PAGE = 4096;
const PAGES = 1024;
const PASSES = 5;
const MiB = 2 ** 20;

function xorshift32(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const WORDS = (
  'the of and to in is was that for it with as his on be at by had are but from or have an they which one you were her ' +
  'all she there would their we him been has when who will more no if out so said what up its about into than them can ' +
  'only other new some could time these two may then do first any my now such like our over man me even most made after ' +
  'also did many before must through back years where much your way well down should because each just those people how ' +
  'memory page kernel dump guest machine device firmware table entry address physical virtual register interrupt'
).split(' ');

/** Prose-like bytes: Zipf-ish word choice, sentences, commas and line breaks. */
function textBytes(length: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  const out = new Uint8Array(length);
  let i = 0;
  let startOfSentence = true;
  let column = 0;
  while (i < length) {
    // Squaring a uniform pick favours the front of the list, as word frequencies do.
    const r = (next() % 1000) / 1000;
    let word = WORDS[Math.floor(r * r * WORDS.length)] ?? 'the';
    if (startOfSentence) word = word.charAt(0).toUpperCase() + word.slice(1);
    const roll = next() % 16;
    const tail = roll === 0 ? '. ' : roll === 1 ? ', ' : ' ';
    startOfSentence = roll === 0;
    let piece = word + tail;
    column += piece.length;
    if (column > 72) {
      piece = word + '\n';
      column = 0;
    }
    for (let k = 0; k < piece.length && i < length; k++) out[i++] = piece.charCodeAt(k);
  }
  return out;
}

function randomBytes(length: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

function pages(kind: 'zero' | 'text' | 'random' | 'mix'): Uint8Array[] {
  const text = textBytes(PAGES * PAGE, 7);
  const random = randomBytes(PAGES * PAGE, 11);
  const page = (source: Uint8Array, i: number): Uint8Array => source.slice(i * PAGE, (i + 1) * PAGE);
  const result: Uint8Array[] = [];
  const pick = xorshift32(3);
  for (let i = 0; i < PAGES; i++) {
    const k = kind === 'mix' ? (['random', 'text', 'zero', 'zero'] as const)[pick() % 4] ?? 'zero' : kind;
    result.push(k === 'zero' ? new Uint8Array(PAGE) : page(k === 'text' ? text : random, i));
  }
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function bench(kind: 'zero' | 'text' | 'random' | 'mix'): string {
  const set = pages(kind);
  const out = new Uint8Array(lzo1xWorstCase(PAGE));
  const blocks = set.map((p) => out.slice(0, lzo1xCompress(p, out)));
  const raw = blocks.reduce((sum, b) => sum + b.length, 0);
  const stored = blocks.reduce((sum, b) => sum + Math.min(b.length, PAGE), 0);
  const back = new Uint8Array(PAGE);
  for (const [i, b] of blocks.entries()) {
    if (lzo1xDecompress(b, back) !== PAGE || Buffer.compare(back, set[i] ?? back) !== 0) throw new Error(`${kind} page ${i} does not round-trip`);
  }

  const compressPass = (): void => {
    for (const p of set) lzo1xCompress(p, out);
  };
  const decompressPass = (): void => {
    for (const b of blocks) lzo1xDecompress(b, back);
  };
  compressPass();
  decompressPass();
  const compressTimes: number[] = [];
  const decompressTimes: number[] = [];
  for (let r = 0; r < PASSES; r++) {
    compressTimes.push(timed(compressPass));
    decompressTimes.push(timed(decompressPass));
  }
  const bytes = PAGES * PAGE;
  const cols = [
    kind.padEnd(7),
    (bytes / MiB / median(compressTimes)).toFixed(0).padStart(8),
    (bytes / MiB / median(decompressTimes)).toFixed(0).padStart(8),
    (bytes / raw).toFixed(3).padStart(8),
    (bytes / stored).toFixed(3).padStart(8),
  ];
  return cols.join('  ');
}

console.log(`lzo1xCompress, ${PAGES} pages x ${PAGE} B per set, median of ${PASSES} passes (MiB/s of input)`);
console.log('set      compress  decomp.   ratio   stored');
for (const kind of ['zero', 'text', 'random', 'mix'] as const) console.log(bench(kind));
