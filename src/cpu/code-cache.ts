/**
 * Decoded instructions, cached per guest-physical code page as basic blocks: straight-line runs
 * of decoded instructions that end at a branch, before an instruction the cache leaves to the
 * interpreter, or at the page end. The run loop looks a block up by the page offset of RIP and
 * runs its instructions' handlers one after the other, without decoding them again.
 *
 * A block keeps the bytes it was decoded from and is used only while the page still holds them.
 * Comparing them before every use would cost as much as the lookup, so the comparison is made
 * once per "code epoch": the CPU starts a new epoch whenever code bytes may have changed behind
 * the cache's back, that is
 *  - when a run starts (the host, DMA or another emulator may have written guest RAM meanwhile),
 *  - after every instruction the interpreter runs (an OUT can start a DMA, a device can write),
 *  - when the CPU itself writes a page that holds a block (code pages are flagged in the CPU's
 *    write cache), or writes through its slow path or sets page-table A/D bits.
 * Within a block the loop stops as soon as the epoch changes, so code a block's own instruction
 * rewrote is seen at the very next instruction, as on hardware and in QEMU.
 */

import type { Cpu } from './cpu.js';

export const PAGE_BYTES = 4096;

/** The last page offset a block may start at: its first check word is read whole, within the page. */
export const LAST_ENTRY = PAGE_BYTES - 4;

/** Longest block, in instructions. */
export const MAX_BLOCK = 64;

export type OpHandler = (cpu: Cpu, op: DecodedOp) => void;

function unset(): void {
  throw new Error('a decoded instruction without a handler');
}

/**
 * One decoded instruction. The operand fields mean what the handler makes of them; all are small
 * integers so that every instance has the same shape.
 */
export class DecodedOp {
  /** Length in bytes. */
  len = 0;
  /** Offset of its end from the start of its block: RIP while it runs is the block's start plus this. */
  end = 0;
  /** Its handler's kind for the run loop's switch (exec/fast-dispatch.ts), 0 for a call through `run`. */
  kind = 0;
  run: OpHandler = unset;
  /** The handler may change RIP (branches): a block ends with it. */
  branch = false;
  /** ALU operation, condition code or group sub-opcode. */
  sub = 0;
  /** ModRM reg field, or the register of a +r opcode. */
  reg = 0;
  /** ModRM rm register (register forms). */
  rm = 0;
  /** Memory operand: segment, base and index registers (-1 for none), scale shift, displacement. */
  seg = 0;
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Immediate (unsigned for the operand size unless the handler says otherwise). */
  imm = 0;
}

/**
 * A block: its instructions (none for a marker saying "the interpreter runs the instruction
 * here") and the page bytes it covers, as little-endian words, the last one masked.
 */
export class CodeBlock {
  readonly ops: readonly DecodedOp[];
  readonly words: Int32Array;
  readonly lastMask: number;
  /** The code epoch in which the bytes were last found unchanged. */
  epoch = -1;

  constructor(ops: readonly DecodedOp[], bytes: Uint8Array, start: number, length: number) {
    this.ops = ops;
    const count = Math.ceil(length / 4);
    this.words = new Int32Array(count);
    let mask = 0;
    for (let n = 0; n < count; n++) {
      let w = 0;
      for (let j = 0; j < 4 && 4 * n + j < length; j++) {
        w |= bytes[start + 4 * n + j]! << (8 * j);
        if (n === count - 1) mask |= 0xff << (8 * j);
      }
      this.words[n] = w;
    }
    this.lastMask = mask;
  }

  /** True while the page (`view`) still holds the block's bytes at `start`. */
  unchanged(view: DataView, start: number): boolean {
    const w = this.words;
    const last = w.length - 1;
    for (let k = 0; k < last; k++) if (view.getInt32(start + 4 * k, true) !== w[k]) return false;
    return (view.getInt32(start + 4 * last, true) & this.lastMask) === w[last];
  }
}

/** The block of offsets not decoded yet: never current, never unchanged. */
export const MISSING = new CodeBlock([], new Uint8Array(4), 0, 4);

const NO_BYTES = new Uint8Array(PAGE_BYTES);

/** The blocks of one physical page, by start offset, and the page's bytes in host memory. */
export class CodePage {
  readonly blocks: CodeBlock[] = new Array<CodeBlock>(PAGE_BYTES).fill(MISSING);
  /** A block with instructions was built here: the CPU's writes to the page start a new code epoch. */
  isCode = false;
  bytes: Uint8Array = NO_BYTES;
  /** The same bytes, for reading check words whole. */
  view: DataView = new DataView(NO_BYTES.buffer);

  /** Points the page at its host bytes: 4096 bytes from `offset` in `chunk`. */
  setBytes(chunk: Uint8Array, offset: number): void {
    if (this.bytes.buffer === chunk.buffer && this.bytes.byteOffset === chunk.byteOffset + offset) return;
    this.bytes = chunk.subarray(offset, offset + PAGE_BYTES);
    this.view = new DataView(chunk.buffer, chunk.byteOffset + offset, PAGE_BYTES);
  }
}

/** Code pages by physical page address. */
export class CodePages {
  /** Beyond this many pages the CPU drops them all (and every reference to them). */
  static readonly MAX_PAGES = 1024;
  readonly #pages = new Map<number, CodePage>();

  get size(): number {
    return this.#pages.size;
  }

  clear(): void {
    this.#pages.clear();
  }

  /** The page at physical address `physPage`, whose bytes are at `offset` in `chunk`. */
  get(physPage: number, chunk: Uint8Array, offset: number): CodePage {
    let page = this.#pages.get(physPage);
    if (page === undefined) {
      page = new CodePage();
      this.#pages.set(physPage, page);
    }
    page.setBytes(chunk, offset);
    return page;
  }

  /** Whether the page at physical address `physPage` holds blocks with instructions. */
  isCode(physPage: number): boolean {
    return this.#pages.get(physPage)?.isCode === true;
  }
}
