/**
 * Decoded instructions, cached per guest-physical code page. The run loop looks an instruction up
 * by its offset in the code window's page instead of decoding it again, and runs its handler.
 *
 * Nothing has to tell the cache that code changed: every entry keeps the bytes it was decoded
 * from and is used only while the page still holds them (a few word compares per instruction).
 * So guest stores, DMA, the host's writes into guest RAM and page-table updates need no hooks,
 * and self-modifying code sees its new bytes at the next instruction, as on hardware and in QEMU.
 * Entries are for one decoding mode (32-bit code segments); the CPU offers the cache only while
 * that mode is current.
 */

import type { Cpu } from './cpu.js';

export const PAGE_BYTES = 4096;

export type OpHandler = (cpu: Cpu, op: DecodedOp) => void;

/**
 * One decoded instruction. The operand fields mean what the handler makes of them; all are small
 * integers so that every entry has the same shape.
 */
export class DecodedOp {
  /** Bytes recorded: the instruction's length, or for an interpreter marker those examined (at most 4). */
  len = 0;
  /** The instruction bytes, little-endian, four to a word, with masks for a last partial word. */
  w0 = 0;
  m0 = 0;
  w1 = 0;
  m1 = 0;
  w2 = 0;
  m2 = 0;
  w3 = 0;
  m3 = 0;
  /** The handler; null marks an instruction the cache leaves to the interpreter. */
  run: OpHandler | null = null;
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

/** True while the page still holds, at offset i, the bytes `op` was decoded from. */
export function unchanged(op: DecodedOp, view: DataView, i: number): boolean {
  if ((view.getInt32(i, true) & op.m0) !== op.w0) return false;
  const len = op.len;
  if (len <= 4) return true;
  if ((view.getInt32(i + 4, true) & op.m1) !== op.w1) return false;
  if (len <= 8) return true;
  if ((view.getInt32(i + 8, true) & op.m2) !== op.w2) return false;
  if (len <= 12) return true;
  return (view.getInt32(i + 12, true) & op.m3) === op.w3;
}

/** Records the bytes of `op` (its len set) found at a[p]. */
export function recordBytes(op: DecodedOp, a: Uint8Array, p: number): void {
  const word = (k: number): [number, number] => {
    let w = 0;
    let m = 0;
    for (let j = 0; j < 4; j++) {
      if (k + j < op.len) {
        w |= a[p + k + j]! << (8 * j);
        m |= 0xff << (8 * j);
      }
    }
    return [w, m];
  };
  [op.w0, op.m0] = word(0);
  [op.w1, op.m1] = word(4);
  [op.w2, op.m2] = word(8);
  [op.w3, op.m3] = word(12);
}

/** The entry of offsets not decoded yet: it never matches any bytes. */
const MISSING = new DecodedOp();
MISSING.w0 = 1;

/** The last offset with an entry: the first word of an entry is read whole, within the page. */
export const LAST_ENTRY = PAGE_BYTES - 4;

const NO_BYTES = new Uint8Array(PAGE_BYTES);

/** The decoded instructions of one physical page, by offset, and the page's bytes in host memory. */
export class CodePage {
  readonly ops: DecodedOp[] = new Array<DecodedOp>(PAGE_BYTES).fill(MISSING);
  bytes: Uint8Array = NO_BYTES;
  /** The same bytes, for reading the check words whole. */
  view: DataView = new DataView(NO_BYTES.buffer);

  /** Points the page at its host bytes: `page` (4096 bytes) from `offset` in `chunk`. */
  setBytes(chunk: Uint8Array, offset: number): void {
    if (this.bytes.buffer === chunk.buffer && this.bytes.byteOffset === chunk.byteOffset + offset) return;
    this.bytes = chunk.subarray(offset, offset + PAGE_BYTES);
    this.view = new DataView(chunk.buffer, chunk.byteOffset + offset, PAGE_BYTES);
  }
}

/** Code pages by physical page address; dropped as a whole when too many have been seen. */
export class CodePages {
  static readonly MAX_PAGES = 4096;
  readonly #pages = new Map<number, CodePage>();

  /** The page at physical address `physPage`, whose bytes are at `offset` in `chunk`. */
  get(physPage: number, chunk: Uint8Array, offset: number): CodePage {
    let page = this.#pages.get(physPage);
    if (page === undefined) {
      if (this.#pages.size >= CodePages.MAX_PAGES) this.#pages.clear();
      page = new CodePage();
      this.#pages.set(physPage, page);
    }
    page.setBytes(chunk, offset);
    return page;
  }
}
