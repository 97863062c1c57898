/**
 * Our LZO1X codec against liblzo2, the library crash and makedumpfile link: blocks we compress
 * decode with liblzo2's lzo1x_decompress_safe (through Debian's python3-lzo) and with lzop (in a
 * .lzo file we frame ourselves), and blocks liblzo2's lzo1x_1_compress makes decode with ours.
 * Both tools are optional here and skip with a reason; CI sets SLICE86_REQUIRE_TOOLS=1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/core/bytes.js';
import { lzo1xCompress, lzo1xDecompress, lzo1xWorstCase } from '../../src/dump/kdump/codecs/lzo1x.js';
import { hex } from '../support/hex.js';
import { DEBIAN_PYTHON, missingPythonModule, missingTool } from '../support/tools.js';

const PAGE = 4096;

// ---- tools ------------------------------------------------------------------------------------

const lzoMissing = missingPythonModule('lzo');
const lzopMissing = missingTool('lzop');

/**
 * Runs liblzo2 over length-prefixed frames on stdin and answers frames the same way. Decompress
 * frames are (output length, block); compress frames are (data). A failing block answers
 * 0xffffffff and the error text, so one bad page does not hide the others.
 */
const PYTHON_DRIVER = `
import struct, sys, lzo
data = sys.stdin.buffer.read()
mode, at, out = sys.argv[1], 0, []
while at < len(data):
    if mode == 'd':
        size, n = struct.unpack_from('<II', data, at); at += 8
        try: res = lzo.decompress(data[at:at + n], False, size)
        except Exception as e: res = None; err = str(e).encode()
    else:
        (n,) = struct.unpack_from('<I', data, at); at += 4
        res = lzo.compress(data[at:at + n], 1, False)
    at += n
    out.append(struct.pack('<I', len(res)) + res if res is not None else struct.pack('<I', 0xffffffff) + struct.pack('<I', len(err)) + err)
sys.stdout.buffer.write(b''.join(out))
`;

type Answer = Uint8Array | { error: string };

function runPython(mode: 'c' | 'd', frames: Uint8Array[]): Answer[] {
  const stdout = execFileSync(DEBIAN_PYTHON, ['-c', PYTHON_DRIVER, mode], { input: Buffer.concat(frames), maxBuffer: 1 << 30 });
  const answers: Answer[] = [];
  for (let at = 0; at < stdout.length; ) {
    const n = stdout.readUInt32LE(at);
    if (n === 0xffffffff) {
      const m = stdout.readUInt32LE(at + 4);
      answers.push({ error: stdout.subarray(at + 8, at + 8 + m).toString() });
      at += 8 + m;
    } else {
      answers.push(new Uint8Array(stdout.subarray(at + 4, at + 4 + n)));
      at += 4 + n;
    }
  }
  return answers;
}

function u32le(...values: number[]): Uint8Array {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v, 4 * i));
  return b;
}

/** liblzo2's lzo1x_decompress_safe over each block, with the original's length as the buffer. */
function liblzo2Decompress(blocks: readonly { block: Uint8Array; size: number }[]): Answer[] {
  return runPython('d', blocks.flatMap(({ block, size }) => [u32le(size, block.length), block]));
}

/** liblzo2's lzo1x_1_compress over each input. */
function liblzo2Compress(inputs: readonly Uint8Array[]): Uint8Array[] {
  return runPython('c', inputs.flatMap((d) => [u32le(d.length), d])).map((a) => {
    if (a instanceof Uint8Array) return a;
    throw new Error(a.error);
  });
}

// ---- data -------------------------------------------------------------------------------------

function xorshift32(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  return Uint8Array.from({ length: n }, () => next() & 0xff);
}

const WORDS = 'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people'.split(' ');

/** English-ish prose: Zipf-leaning word choice, sentences, commas and line breaks. */
function textBytes(n: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  let s = '';
  let line = 0;
  while (s.length < n) {
    const r = (next() % 1000) / 1000;
    const word = WORDS[Math.floor(r * r * WORDS.length)] ?? 'the';
    const roll = next() % 16;
    const piece = word + (roll === 0 ? '.' : roll === 1 ? ',' : '');
    line += piece.length + 1;
    s += piece + (line > 72 ? '\n' : ' ');
    if (line > 72) line = 0;
  }
  return new TextEncoder().encode(s.slice(0, n));
}

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

/** The page kinds the brief asks for, several of each, all deterministic. */
function pageSet(): { name: string; data: Uint8Array }[] {
  const pages: { name: string; data: Uint8Array }[] = [];
  for (let i = 0; i < 24; i++) {
    const text = textBytes(PAGE, 100 + i);
    const random = randomBytes(PAGE, 200 + i);
    const half = PAGE / 2;
    const cut = 64 + ((i * 389) % (PAGE - 128)); // where a zero prefix ends, varied
    pages.push(
      { name: `random #${i}`, data: random },
      { name: `text #${i}`, data: text },
      { name: `text|random halves #${i}`, data: concat(text.subarray(0, half), random.subarray(0, half)) },
      { name: `random|text halves #${i}`, data: concat(random.subarray(0, half), text.subarray(0, half)) },
      { name: `zero prefix ${cut} + text #${i}`, data: concat(new Uint8Array(cut), text.subarray(cut)) },
      { name: `zero prefix ${cut} + random #${i}`, data: concat(new Uint8Array(cut), random.subarray(cut)) },
      { name: `zero-text stripes #${i}`, data: concat(...Array.from({ length: 8 }, (_, k) => (k % 2 === 0 ? new Uint8Array(PAGE / 8) : text.subarray(k * 512, k * 512 + 512)))) },
    );
  }
  pages.push(
    { name: 'zero page', data: new Uint8Array(PAGE) },
    { name: '0xff page', data: new Uint8Array(PAGE).fill(0xff) },
    { name: 'counting page', data: Uint8Array.from({ length: PAGE }, (_, k) => k & 0xff) },
    { name: 'u32 counter page', data: new Uint8Array(Uint32Array.from({ length: PAGE / 4 }, (_, k) => k * 8).buffer) },
  );
  return pages;
}

/** Odd lengths around the encodings' thresholds, and blocks bigger than a page (M4 distances). */
function oddSizes(): { name: string; data: Uint8Array }[] {
  const sizes = [1, 2, 3, 4, 5, 17, 18, 19, 238, 239, 240, 2049, 8192, 16385, 40000, 65536];
  return sizes.map((n, i) => {
    const data = textBytes(n, 300 + i);
    if (n > 24096) {
      // Random bytes repeated 20000 bytes later: only an M4 distance (> 16384) reaches them.
      data.set(randomBytes(4096, 9));
      data.set(data.subarray(0, 4096), 20000);
    }
    return { name: `${n} bytes`, data };
  });
}

function compress(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(lzo1xWorstCase(data.length));
  return out.slice(0, lzo1xCompress(data, out));
}

function expectSame(name: string, actual: Answer | undefined, expected: Uint8Array): void {
  if (actual === undefined || !(actual instanceof Uint8Array)) throw new Error(`${name}: liblzo2 rejected our block: ${actual?.error ?? 'no answer'}`);
  expect(Buffer.compare(actual, expected), `${name} decodes to other bytes`).toBe(0);
}

// ---- python3-lzo ------------------------------------------------------------------------------

describe.skipIf(lzoMissing !== undefined)(`liblzo2 via python3-lzo${lzoMissing === undefined ? '' : ` (skipped: ${lzoMissing})`}`, () => {
  const cases = [...pageSet(), ...oddSizes()];

  it(`decodes our blocks for ${cases.length} pages and odd sizes with lzo1x_decompress_safe`, () => {
    const blocks = cases.map(({ data }) => ({ block: compress(data), size: data.length }));
    const answers = liblzo2Decompress(blocks);
    expect(answers).toHaveLength(cases.length);
    cases.forEach(({ name, data }, i) => {
      expectSame(name, answers[i], data);
    });
  });

  it('agrees with our decoder on hand-assembled streams for every instruction form', () => {
    const lits = (n: number): Uint8Array => randomBytes(n, n);
    const ext = (rest: number): Uint8Array => {
      const zeros = Math.floor((rest - 1) / 255);
      return concat(new Uint8Array(zeros), Uint8Array.of(rest - zeros * 255));
    };
    const first = (n: number): Uint8Array => concat(Uint8Array.of(0), ext(n - 18));
    const end = hex`11 00 00`;
    const handWritten: [string, Uint8Array, string][] = [
      ['first byte 18: one literal', hex`12 61 | 110000`, 'a'],
      ['first byte 21: four literals', hex`15 61626364 | 110000`, 'abcd'],
      ['first byte 22: five literals', hex`16 6162636465 | 110000`, 'abcde'],
      ['first byte 0000LLLL: 3 + L literals', hex`01 61626364 | 110000`, 'abcd'],
      ['M2 with S = 2', hex`15 61626364 | 6e 00 7879 | 110000`, 'abcdabcdxy'],
      ['M2 length 8, overlapping', hex`14 616263 | e8 00 | 110000`, 'abcabcabcab'],
      ['M2, then a 0000LLLL literal run', hex`15 61626364 | 6c 00 | 01 77787a79 | 110000`, 'abcdabcdwxzy'],
      ['M3 with S = 3', hex`12 61 | 2f 0300 78797a | 110000`, `${'a'.repeat(18)}xyz`],
      ['M3 extension with a zero byte', hex`12 61 | 20 00 0a 0000 | 110000`, 'a'.repeat(299)],
      ['M1 2 bytes after 3 literals, S = 1', hex`14 616263 | 09 00 78 | 110000`, 'abcabx'],
    ];
    const streams: { name: string; block: Uint8Array; expected: Uint8Array }[] = handWritten.map(([name, block, text]) => ({ name, block, expected: new TextEncoder().encode(text) }));
    const a = lits(2049);
    streams.push({ name: 'M1 3 bytes from 2049 after a long first run', block: concat(first(2049), a, hex`00 00`, end), expected: concat(a, a.subarray(0, 3)) });
    const b = lits(32769);
    streams.push({ name: 'M4 with H = 1, extended length', block: concat(first(b.length), b, hex`18 0b 0400`, end), expected: concat(b, b.subarray(0, 20)) });
    const c = lits(49151);
    streams.push({ name: 'M4 at the largest distance, 49151', block: concat(first(c.length), c, hex`1f fcff`, end), expected: concat(c, c.subarray(0, 9)) });

    const answers = liblzo2Decompress(streams.map(({ block, expected }) => ({ block, size: expected.length })));
    streams.forEach(({ name, block, expected }, i) => {
      expectSame(name, answers[i], expected);
      const ours = new Uint8Array(expected.length);
      expect(Buffer.compare(ours.subarray(0, lzo1xDecompress(block, ours)), expected), name).toBe(0);
    });
  });

  it('decodes liblzo2 lzo1x_1_compress blocks (lzo.compress(data, 1, False)) with lzo1xDecompress', () => {
    const blocks = liblzo2Compress(cases.map(({ data }) => data));
    cases.forEach(({ name, data }, i) => {
      const out = new Uint8Array(data.length);
      const block = blocks[i] ?? new Uint8Array(0);
      expect(lzo1xDecompress(block, out), name).toBe(data.length);
      expect(Buffer.compare(out, data), name).toBe(0);
    });
  });

  it('compresses about as well as liblzo2 LZO1X-1 (within 3% over all pages)', () => {
    const pages = pageSet().map(({ data }) => data);
    const ours = pages.reduce((n, p) => n + Math.min(compress(p).length, PAGE), 0);
    const theirs = liblzo2Compress(pages).reduce((n, b) => n + Math.min(b.length, PAGE), 0);
    expect(ours).toBeLessThan(theirs * 1.03);
  });
});

// ---- lzop ---------------------------------------------------------------------------------------

const LZOP_MAGIC = hex`89 4c 5a 4f 00 0d 0a 1a 0a`;
const F_ADLER32_D = 0x1;
const F_ADLER32_C = 0x2;
const F_OS_UNIX = 0x03000000;
const M_LZO1X_1 = 1;

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the longest run before b can overflow 2^32 between reductions (RFC 1950's NMAX).
  for (let i = 0; i < data.length; i += 5552) {
    const end = Math.min(i + 5552, data.length);
    for (let k = i; k < end; k++) {
      a += data[k] ?? 0;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function u32be(...values: number[]): Uint8Array {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v, 4 * i));
  return b;
}

/**
 * An lzop file (format as lzop 1.04 writes it, checked against its own output): magic; header of
 * version 0x1040, library 0x20a0, needed-to-extract 0x0940, method, level, flags, mode, mtime
 * (low, high), an empty name, then the header's Adler-32; per block: uncompressed and compressed
 * sizes, the checksums the flags ask for, the data; a zero size ends the file. A block that did
 * not shrink is stored raw (compressed size = uncompressed size), as lzop requires.
 */
function lzopFile(blocks: readonly Uint8Array[], flags: number): { file: Uint8Array; compressedBlocks: number } {
  const header = concat(hex`1040 20a0 0940`, Uint8Array.of(M_LZO1X_1, 5), u32be(F_OS_UNIX | flags, 0o100644, 0, 0), Uint8Array.of(0));
  const parts = [LZOP_MAGIC, header, u32be(adler32(header))];
  let compressedBlocks = 0;
  for (const data of blocks) {
    const packed = compress(data);
    const stored = packed.length < data.length ? packed : data;
    if (stored === packed) compressedBlocks++;
    parts.push(u32be(data.length, stored.length));
    if (flags & F_ADLER32_D) parts.push(u32be(adler32(data)));
    if (flags & F_ADLER32_C && stored === packed) parts.push(u32be(adler32(packed)));
    parts.push(stored);
  }
  parts.push(u32be(0));
  return { file: concat(...parts), compressedBlocks };
}

describe.skipIf(lzopMissing !== undefined)(`lzop -d${lzopMissing === undefined ? '' : ` (skipped: ${lzopMissing})`}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'slice86-lzop-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const pages = pageSet().map(({ data }) => data);
  // Multi-page blocks too, so M3/M4 distances beyond one page occur.
  const blocks = [...pages, concat(...pages.slice(0, 16)), concat(...pages.slice(28, 44)), ...oddSizes().map(({ data }) => data)];
  const expected = concat(...blocks);

  it.each([
    ['without checksums', 0],
    ['with Adler-32 of the data and of the compressed blocks', F_ADLER32_D | F_ADLER32_C],
    ['with Adler-32 of the data only', F_ADLER32_D],
  ] as const)(`decodes a .lzo file of our blocks %s`, (_name, flags) => {
    const { file, compressedBlocks } = lzopFile(blocks, flags);
    // Most blocks must really be ours, not raw fallbacks (random pages do not shrink).
    expect(compressedBlocks).toBeGreaterThan(blocks.length / 2);
    const path = join(dir, `ours-${flags}.lzo`);
    writeFileSync(path, file);
    const decoded = execFileSync('lzop', ['-d', '-c', path], { maxBuffer: 1 << 30 });
    expect(decoded.length).toBe(expected.length);
    expect(Buffer.compare(decoded, expected)).toBe(0);
  });

  it('rejects a .lzo file whose block checksum is wrong (the checksums are really checked)', () => {
    const { file } = lzopFile([pages[1] ?? new Uint8Array(PAGE)], F_ADLER32_D);
    // The data checksum follows the magic, the 25-byte header, its checksum and the two sizes.
    const at = LZOP_MAGIC.length + 25 + 4 + 8;
    file[at] = (file[at] ?? 0) ^ 1;
    const path = join(dir, 'bad.lzo');
    writeFileSync(path, file);
    const result = spawnSync('lzop', ['-d', '-c', path], { stdio: 'pipe' });
    expect(result.status).not.toBe(0);
    expect(result.stderr.toString()).toMatch(/checksum error/i);
  });
});
