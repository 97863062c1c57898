/**
 * LZO1X block codec for kdump-lzo pages (what `lzo1x_1_compress` makes and `lzo1x_decompress_safe`
 * reads). Written clean-room from the instruction encoding in Linux's Documentation/staging/lzo.rst
 * ("LZO stream format as understood by Linux's LZO decompressor"); rule names below cite it.
 * Left out: the Linux-only LZO-RLE bitstream (version 1), lzop/python framing (raw blocks only),
 * and liblzo2's exact match choices: our output decodes everywhere but is not byte-identical.
 */

import { Slice86Error } from '../../../core/errors.js';

/** Why a block could not be decoded. */
export type Lzo1xErrorCode =
  /** The stream ends before its end-of-stream marker or in the middle of an instruction. */
  | 'input-overrun'
  /** The stream decodes to more bytes than the output buffer holds. */
  | 'output-overrun'
  /** A match reaches back before the start of the output. */
  | 'lookbehind-overrun'
  /** Bytes follow the end-of-stream marker. */
  | 'bad-stream';

/** A malformed LZO1X block. The decoder checks before every read and write, so it never reads past `src` or writes past `out`. */
export class Lzo1xError extends Slice86Error<Lzo1xErrorCode> {}

// ---------------------------------------------------------------------------------------------
// Format limits (lzo.rst "Instruction encoding").

/** M2 (`0 1 L D D D S S` / `1 L L D D D S S`): length 3..8, distance 1..2048. */
const M2_MAX_LEN = 8;
const M2_MAX_DIST = 2048;
/** M3 (`0 0 1 L L L L L` + LE16): distance 1..16384; 5 length bits, so 31 + 2 before extending. */
const M3_MAX_DIST = 16384;
const M3_MAX_SHORT_LEN = 33;
/** M4 (`0 0 0 1 H L L L` + LE16): distance 16384 + (H << 14) + D; 16384 itself is the end marker. */
const M4_BASE_DIST = 16384;
const M4_MAX_DIST = 49151;
const M4_MAX_SHORT_LEN = 9;
/** A long literal run (`0 0 0 0 L L L L` when state is 0) is 3 + L; L = 0 extends from 18. */
const LONG_LITERALS_MAX_SHORT = 18;
/** The first byte 17 + n copies n literals for n up to 238 (lzo.rst "First byte encoding"). */
const FIRST_BYTE_MAX_LITERALS = 238;

// ---------------------------------------------------------------------------------------------
// Compressor

/** Shortest match we look for: a 4-byte match always costs less than its literals would. */
const MIN_MATCH = 4;
const HASH_BITS = 14;
/** Knuth's multiplicative constant: spreads the 4 hashed bytes over the top HASH_BITS bits. */
const HASH_MULTIPLIER = 0x9e3779b1;
/**
 * Each 32 bytes without a match lengthens the probe step by one (LZO1X-1's trade): incompressible
 * data costs a few hundred probes a page, at the price of missing short repeats after long
 * incompressible stretches, as liblzo2 does too (measured: same ratios on random|text pages).
 */
const SKIP_SHIFT = 5;
/** Below this many bytes a copy loop beats allocating a subarray for `set`/`copyWithin`. */
const BULK_COPY_MIN = 64;

/**
 * Recent positions by 4-byte hash, shared by all calls. Each call stores `position + base`, and the
 * next call starts its base above every value stored before, so stale slots read as negative
 * positions and the table never needs clearing (until the base nears 2^31).
 */
const table = new Int32Array(1 << HASH_BITS);
let nextBase = 1;
/** position + base must stay an Int32 even right after a reset. */
const MAX_INPUT = 0x7fff0000;

/**
 * An upper bound on the block {@link lzo1xCompress} makes from `n` bytes: n + n/16 + 64 + 3, the
 * customary LZO1X-1 bound. Size `out` with it. Ours stays far below: every match (4 bytes or more)
 * costs at least a byte less than its literals, which pays for the next literal run's opcode, so
 * only length-extension bytes (one per 255 literals, one per run of 19 or more) and the first
 * opcode and end marker add up: under n + n/23 + n/255 + 5.
 */
export function lzo1xWorstCase(n: number): number {
  return n + Math.floor(n / 16) + 64 + 3;
}

/**
 * Compresses `src` into one raw LZO1X block (no lzop or length header) that LZO1X-1 decoders
 * (`lzo1x_decompress_safe`, crash, makedumpfile) read back. A greedy single-probe hash matcher in
 * the spirit of LZO1X-1; it allocates nothing.
 *
 * @param src - the bytes to compress, up to 2 GiB (a kdump page is 4096).
 * @param out - receives the block; at least {@link lzo1xWorstCase}(src.length) bytes.
 * @returns the block length written to `out`.
 * @throws RangeError if `src` is too long or `out` is smaller than the worst case.
 */
export function lzo1xCompress(src: Uint8Array, out: Uint8Array): number {
  const n = src.length;
  if (n > MAX_INPUT) throw new RangeError(`LZO1X input of ${n} bytes is over the ${MAX_INPUT}-byte limit`);
  if (out.length < lzo1xWorstCase(n)) throw new RangeError(`LZO1X output buffer of ${out.length} bytes is below the worst case ${lzo1xWorstCase(n)} for ${n} bytes`);
  const base = claimBase(n);
  const lastProbe = n - MIN_MATCH;
  let op = 0;
  let anchor = 0;
  let ip = 0;
  while (ip <= lastProbe) {
    const seq = read32(src, ip);
    const slot = Math.imul(seq, HASH_MULTIPLIER) >>> (32 - HASH_BITS);
    const candidate = (table[slot] ?? 0) - base;
    table[slot] = ip + base;
    const dist = ip - candidate;
    if (candidate < 0 || dist > M4_MAX_DIST || read32(src, candidate) !== seq) {
      ip += 1 + ((ip - anchor) >>> SKIP_SHIFT);
      continue;
    }
    // Grow the match backwards into the pending literals (the skip may have overshot its start).
    let start = ip;
    while (start > anchor && start > dist && src[start - 1] === src[start - 1 - dist]) start--;
    const end = matchEnd(src, ip + MIN_MATCH, dist);
    op = emitLiterals(src, anchor, start, out, op);
    op = emitMatch(out, op, dist, end - start);
    anchor = ip = end;
  }
  op = emitLiterals(src, anchor, n, out, op);
  // End of stream: M4 with distance 16384, i.e. 0001 0 001 then LE16 0 (lzo.rst).
  out[op] = 0x11;
  out[op + 1] = 0;
  out[op + 2] = 0;
  return op + 3;
}

/** Reserves table values for `n` positions above every value stored by earlier calls. */
function claimBase(n: number): number {
  if (nextBase > 0x7fffffff - n) {
    table.fill(0);
    nextBase = 1;
  }
  const base = nextBase;
  nextBase += n;
  return base;
}

function read32(bytes: Uint8Array, i: number): number {
  return (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24);
}

/** First position from `from` on where the match at `dist` stops (or the input ends). */
function matchEnd(src: Uint8Array, from: number, dist: number): number {
  const n = src.length;
  let i = from;
  while (i < n && src[i] === src[i - dist]) i++;
  return i;
}

/**
 * Emits the literals `src[from..to)`. Where they go depends on what came before (lzo.rst):
 * the stream's first byte has its own 17 + n form; after a match, 1..3 literals ride in the
 * match's S bits and longer runs get a `0000LLLL` instruction, read as literals because S was 0.
 */
function emitLiterals(src: Uint8Array, from: number, to: number, out: Uint8Array, op: number): number {
  const t = to - from;
  if (t === 0) return op;
  if (op === 0 && t <= FIRST_BYTE_MAX_LITERALS) {
    out[op++] = 17 + t;
  } else if (op > 0 && t <= 3) {
    // The S bits sit in the last-but-one byte of every match form: M2's opcode, M3/M4's LE16 low byte.
    out[op - 2] = (out[op - 2] ?? 0) | t;
  } else if (t <= LONG_LITERALS_MAX_SHORT) {
    out[op++] = t - 3;
  } else {
    out[op++] = 0;
    op = writeLengthExtension(out, op, t - LONG_LITERALS_MAX_SHORT);
  }
  if (t < BULK_COPY_MIN) {
    for (let i = 0; i < t; i++) out[op + i] = src[from + i] ?? 0;
  } else {
    out.set(src.subarray(from, to), op);
  }
  return op + t;
}

/** Emits a match in the shortest form its length and distance allow, with S = 0 for now. */
function emitMatch(out: Uint8Array, op: number, dist: number, len: number): number {
  if (len <= M2_MAX_LEN && dist <= M2_MAX_DIST) {
    // M2: length - 1 in the top 3 bits (3..8 -> 010..111), the distance's low 3 bits, then the rest.
    const d = dist - 1;
    out[op] = ((len - 1) << 5) | ((d & 7) << 2);
    out[op + 1] = d >>> 3;
    return op + 2;
  }
  let d: number;
  if (dist <= M3_MAX_DIST) {
    d = dist - 1;
    op = writeOpcodeWithLength(out, op, 0x20, len, M3_MAX_SHORT_LEN);
  } else {
    d = dist - M4_BASE_DIST;
    // H is distance bit 14 above the base; the LE16 keeps the low 14 bits.
    op = writeOpcodeWithLength(out, op, 0x10 | ((d >>> 14) << 3), len, M4_MAX_SHORT_LEN);
    d &= 0x3fff;
  }
  // LE16 = D << 2 | S: the distance's low 6 bits share a byte with S.
  out[op] = (d << 2) & 0xff;
  out[op + 1] = d >>> 6;
  return op + 2;
}

/** An M3/M4 opcode: length - 2 fits its bits up to `maxShort`, otherwise 0 and an extension. */
function writeOpcodeWithLength(out: Uint8Array, op: number, opcode: number, len: number, maxShort: number): number {
  if (len <= maxShort) {
    out[op] = opcode | (len - 2);
    return op + 1;
  }
  out[op] = opcode;
  return writeLengthExtension(out, op + 1, len - maxShort);
}

/** Length extension (lzo.rst): one zero byte per 255, then the non-zero remainder (`rest` >= 1). */
function writeLengthExtension(out: Uint8Array, op: number, rest: number): number {
  let r = rest;
  while (r > 255) {
    out[op++] = 0;
    r -= 255;
  }
  out[op] = r;
  return op + 1;
}

// ---------------------------------------------------------------------------------------------
// Decoder

/**
 * Decodes one raw LZO1X block into `out`, checking every read and write, as
 * `lzo1x_decompress_safe` does. Accepts any LZO1X stream (all four match forms), not only ours.
 *
 * @param src - exactly one block: the stream must end with its end marker at `src.length`.
 * @param out - receives the decoded bytes; its length is the most the block may decode to.
 * @returns the decoded length.
 * @throws {@link Lzo1xError} on a malformed block; `out` may then hold partial output.
 */
export function lzo1xDecompress(src: Uint8Array, out: Uint8Array): number {
  return new BlockDecoder(src, out).run();
}

/** Cursor state for one decode; the methods read and write only after their bounds checks. */
class BlockDecoder {
  private readonly src: Uint8Array;
  private readonly out: Uint8Array;
  private ip = 0;
  private op = 0;

  constructor(src: Uint8Array, out: Uint8Array) {
    this.src = src;
    this.out = out;
  }

  run(): number {
    // state: literals copied by the previous instruction (0, 1..3, or 4 meaning "4 or more"),
    // which decides what a 0000xxxx opcode means.
    let state = this.firstLiterals();
    for (;;) {
      const opcode = this.byte();
      if (opcode >= 0x40) {
        this.m2(opcode);
      } else if (opcode >= 0x20) {
        this.m3(opcode);
      } else if (opcode >= 0x10) {
        if (this.m4(opcode)) return this.finish();
      } else if (state === 0) {
        // `0 0 0 0 L L L L` after no literals: a run of 3 + (L ?: 15 + ext) literals.
        this.literals(3 + (opcode === 0 ? 15 + this.lengthExtension() : opcode));
        state = 4;
        continue;
      } else {
        this.m1(opcode, state);
      }
      // After any match, S (its last-but-one byte's low bits) literals follow.
      state = (this.src[this.ip - 2] ?? 0) & 3;
      this.literals(state);
    }
  }

  /**
   * lzo.rst "First byte encoding": 18..255 copies byte - 17 literals; 0..17 is a regular opcode.
   * (Its range labels, "18..21: 0..3 literals", are one off from its own formula byte - 17; the
   * formula is what liblzo2 does: 21 copies 4 literals, checked in the interop test.)
   */
  private firstLiterals(): number {
    const first = this.src[0];
    if (first === undefined || first < 18) return 0;
    this.ip = 1;
    const t = first - 17;
    this.literals(t);
    return Math.min(t, 4);
  }

  /** `0 1 L D D D S S` / `1 L L D D D S S` + H: length 3..8, distance (H << 3) + D + 1. */
  private m2(opcode: number): void {
    const h = this.byte();
    this.copyMatch((h << 3) + ((opcode >>> 2) & 7) + 1, (opcode >>> 5) + 1);
  }

  /** `0 0 1 L L L L L` + LE16: length 2 + (L ?: 31 + ext), distance D + 1. */
  private m3(opcode: number): void {
    const len = 2 + ((opcode & 31) || 31 + this.lengthExtension());
    this.copyMatch((this.le16() >>> 2) + 1, len);
  }

  /** `0 0 0 1 H L L L` + LE16: distance 16384 + (H << 14) + D; true at the end marker (16384). */
  private m4(opcode: number): boolean {
    const len = 2 + ((opcode & 7) || 7 + this.lengthExtension());
    const dist = M4_BASE_DIST + ((opcode & 8) << 11) + (this.le16() >>> 2);
    if (dist === M4_BASE_DIST) return true;
    this.copyMatch(dist, len);
    return false;
  }

  /**
   * `0 0 0 0 D D S S` + H after 1..3 literals: 2 bytes from (H << 2) + D + 1;
   * after 4 or more: 3 bytes from (H << 2) + D + 2049.
   */
  private m1(opcode: number, state: number): void {
    const near = (this.byte() << 2) + ((opcode >>> 2) & 3) + 1;
    if (state < 4) this.copyMatch(near, 2);
    else this.copyMatch(near + 2048, 3);
  }

  private finish(): number {
    if (this.ip !== this.src.length) throw new Lzo1xError('bad-stream', `LZO1X block has ${this.src.length - this.ip} bytes after its end marker at ${this.ip}`);
    return this.op;
  }

  private byte(): number {
    const b = this.src[this.ip];
    if (b === undefined) throw this.inputOverrun(1);
    this.ip++;
    return b;
  }

  private le16(): number {
    if (this.ip + 2 > this.src.length) throw this.inputOverrun(2);
    const v = (this.src[this.ip] ?? 0) | ((this.src[this.ip + 1] ?? 0) << 8);
    this.ip += 2;
    return v;
  }

  /** Zero bytes add 255 each; the first non-zero byte ends the extension and is added too. */
  private lengthExtension(): number {
    let total = 0;
    let b = this.byte();
    while (b === 0) {
      total += 255;
      b = this.byte();
    }
    return total + b;
  }

  private literals(t: number): void {
    if (t === 0) return;
    const { src, out, ip, op } = this;
    if (t > src.length - ip) throw this.inputOverrun(t);
    if (t > out.length - op) throw this.outputOverrun(t);
    if (t < BULK_COPY_MIN) {
      for (let i = 0; i < t; i++) out[op + i] = src[ip + i] ?? 0;
    } else {
      out.set(src.subarray(ip, ip + t), op);
    }
    this.ip = ip + t;
    this.op = op + t;
  }

  private copyMatch(dist: number, len: number): void {
    const { out, op } = this;
    if (dist > op) throw new Lzo1xError('lookbehind-overrun', `LZO1X match at output ${op} reaches back ${dist} bytes, before the start (input offset ${this.ip})`);
    if (len > out.length - op) throw this.outputOverrun(len);
    const from = op - dist;
    if (len < BULK_COPY_MIN) {
      // Byte by byte, so an overlapping match (dist < len) repeats its last `dist` bytes.
      for (let i = 0; i < len; i++) out[op + i] = out[from + i] ?? 0;
    } else {
      // Same result in bulk: [from, op + done) is periodic in dist, so copying its start forward
      // in chunks that double (never overlapping their source) extends the period.
      let done = 0;
      while (done < len) {
        const chunk = Math.min(len - done, op + done - from);
        out.copyWithin(op + done, from, from + chunk);
        done += chunk;
      }
    }
    this.op = op + len;
  }

  private inputOverrun(wanted: number): Lzo1xError {
    return new Lzo1xError('input-overrun', `LZO1X block of ${this.src.length} bytes ends at ${this.ip} where ${wanted} more are needed`);
  }

  private outputOverrun(wanted: number): Lzo1xError {
    return new Lzo1xError('output-overrun', `LZO1X block decodes past its ${this.out.length}-byte output (${wanted} bytes at ${this.op})`);
  }
}
