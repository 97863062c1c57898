/**
 * Decoding for the decoded-instruction cache: the instructions of fast-ops.ts, in 32-bit code
 * (default operand and address size 4, outside 64-bit mode), without prefixes. Anything else, and
 * any form whose interpreter path raises #UD, becomes a marker that sends the run loop to the
 * interpreter, which keeps the one full implementation of the instruction set.
 */

import { DS, RAX, RBP, RSP, SS } from '../cpu.js';
import { CodeBlock, DecodedOp, MAX_BLOCK, PAGE_BYTES, type CodePage, type OpHandler } from '../code-cache.js';
import * as F from './fast-ops.js';
import { kindOf } from './fast-dispatch.js';

/** Where decoding stopped for lack of bytes or support. */
const FAIL = -1;

/** ModRM decoding state: register form or not, set by modrm(). */
let isReg = false;
/** The ModRM rm field. */
let rmField = 0;

/**
 * Decodes the ModRM byte at offset k (and SIB and displacement) into op (reg, seg, base, index,
 * scale, disp); returns the offset after it, or FAIL.
 */
function modrm(op: DecodedOp, a: Uint8Array, p: number, k: number, avail: number): number {
  if (k >= avail) return FAIL;
  const b = a[p + k]!;
  k++;
  const mod = b >> 6;
  op.reg = (b >> 3) & 7;
  rmField = b & 7;
  isReg = mod === 3;
  if (isReg) return k;
  op.seg = DS;
  op.index = -1;
  op.scale = 0;
  op.disp = 0;
  let base = rmField;
  if (rmField === 4) {
    if (k >= avail) return FAIL;
    const sib = a[p + k]!;
    k++;
    const index = (sib >> 3) & 7;
    base = sib & 7;
    if (index !== 4) {
      op.index = index;
      op.scale = sib >> 6;
    }
    if (base === 5 && mod === 0) {
      if (k + 4 > avail) return FAIL;
      op.disp = i32(a, p + k);
      k += 4;
      base = -1;
    }
  } else if (rmField === 5 && mod === 0) {
    if (k + 4 > avail) return FAIL;
    op.disp = i32(a, p + k);
    k += 4;
    base = -1;
  }
  op.base = base;
  if (base === RSP || base === RBP) op.seg = SS;
  if (mod === 1) {
    if (k >= avail) return FAIL;
    op.disp += (a[p + k]! << 24) >> 24;
    k++;
  } else if (mod === 2) {
    if (k + 4 > avail) return FAIL;
    op.disp += i32(a, p + k);
    k += 4;
  }
  op.disp |= 0;
  return k;
}

function i32(a: Uint8Array, p: number): number {
  return a[p]! | (a[p + 1]! << 8) | (a[p + 2]! << 16) | (a[p + 3]! << 24);
}

/** Sets the handler; returns the length (op.len is set by the caller). */
function use(op: DecodedOp, run: OpHandler, len: number): number {
  op.run = run;
  return len;
}

/** use() for an opcode byte followed by an unsigned 8-bit immediate. */
function useImm8(op: DecodedOp, run: OpHandler, a: Uint8Array, p: number, avail: number): number {
  if (avail < 2) return FAIL;
  op.imm = a[p + 1]!;
  return use(op, run, 2);
}

/** use() for an opcode byte followed by a 32-bit immediate (kept unsigned). */
function useImm32(op: DecodedOp, run: OpHandler, a: Uint8Array, p: number, avail: number): number {
  if (avail < 5) return FAIL;
  op.imm = i32(a, p + 1) >>> 0;
  return use(op, run, 5);
}

/** As use(), for a handler that may change RIP: it ends its block. */
function branch(op: DecodedOp, run: OpHandler, len: number): number {
  op.branch = true;
  op.run = run;
  return len;
}

/**
 * Decodes the block starting at offset `start` of `page` (the code window covers the whole page):
 * instructions up to and including a branch, up to one the cache leaves to the interpreter, or
 * as far as the check words of the block stay within the page. With no instruction at all, the
 * block is a marker covering the first four bytes.
 */
export function buildBlock(page: CodePage, start: number): CodeBlock {
  const a = page.bytes;
  const ops: DecodedOp[] = [];
  let i = start;
  while (ops.length < MAX_BLOCK && i < PAGE_BYTES) {
    const op = new DecodedOp();
    const len = decode32(op, a, i, Math.min(15, PAGE_BYTES - i));
    if (len === FAIL) break;
    const end = i + len;
    if (start + ((end - start + 3) & ~3) > PAGE_BYTES) break;
    op.len = len;
    op.end = end - start;
    op.kind = kindOf(op.run);
    ops.push(op);
    i = end;
    if (op.branch) break;
  }
  return new CodeBlock(ops, a, start, ops.length === 0 ? 4 : i - start);
}

/**
 * Decodes the instruction at a[p] with `avail` bytes of the code window (at most 15) into op;
 * returns its length, or FAIL to leave it to the interpreter.
 */
function decode32(op: DecodedOp, a: Uint8Array, p: number, avail: number): number {
  const b0 = a[p]!;
  if (b0 < 0x40) {
    const form = b0 & 7;
    if (form >= 6) return FAIL; // segment pushes/pops, prefixes, BCD, 0F
    op.sub = b0 >> 3;
    if (form < 4) return aluModrm(op, a, p, avail, form);
    op.reg = RAX;
    if (form === 4) return useImm8(op, F.aluRI8, a, p, avail);
    return useImm32(op, F.aluRI32, a, p, avail);
  }
  if (b0 < 0x50) {
    op.reg = b0 & 7;
    return use(op, b0 < 0x48 ? F.incR32 : F.decR32, 1);
  }
  if (b0 < 0x58) {
    op.reg = b0 & 7;
    return use(op, F.pushR32, 1);
  }
  if (b0 < 0x60) {
    op.reg = b0 & 7;
    return use(op, F.popR32, 1);
  }
  if (b0 >= 0x70 && b0 < 0x80) {
    if (avail < 2) return FAIL;
    op.sub = b0 & 15;
    op.imm = (a[p + 1]! << 24) >> 24;
    return branch(op, F.jcc, 2);
  }
  if (b0 >= 0xb0 && b0 < 0xc0) {
    op.reg = b0 & 7;
    if (b0 < 0xb8) return useImm8(op, F.movRI8, a, p, avail);
    return useImm32(op, F.movRI32, a, p, avail);
  }
  switch (b0) {
    case 0x68:
      return useImm32(op, F.pushI32, a, p, avail);
    case 0x6a:
      if (avail < 2) return FAIL;
      op.imm = ((a[p + 1]! << 24) >> 24) >>> 0;
      return use(op, F.pushI32, 2);
    case 0x80: case 0x81: case 0x82: case 0x83:
      return group1(op, a, p, avail, b0);
    case 0x84: case 0x85: {
      const k = modrm(op, a, p, 1, avail);
      if (k === FAIL) return FAIL;
      op.rm = rmField;
      if (isReg) return use(op, b0 === 0x84 ? F.testRR8 : F.testRR32, k);
      return use(op, b0 === 0x84 ? F.testMR8 : F.testMR32, k);
    }
    case 0x88: case 0x89: { // MOV r/m, reg: register forms move reg into rm
      const k = modrm(op, a, p, 1, avail);
      if (k === FAIL) return FAIL;
      if (isReg) {
        op.rm = op.reg;
        op.reg = rmField;
        return use(op, b0 === 0x88 ? F.movRR8 : F.movRR32, k);
      }
      return use(op, b0 === 0x88 ? F.movMR8 : F.movMR32, k);
    }
    case 0x8a: case 0x8b: {
      const k = modrm(op, a, p, 1, avail);
      if (k === FAIL) return FAIL;
      op.rm = rmField;
      if (isReg) return use(op, b0 === 0x8a ? F.movRR8 : F.movRR32, k);
      return use(op, b0 === 0x8a ? F.movRM8 : F.movRM32, k);
    }
    case 0x8d: {
      const k = modrm(op, a, p, 1, avail);
      if (k === FAIL || isReg) return FAIL;
      return use(op, F.lea32, k);
    }
    case 0x90: return use(op, F.nop, 1);
    case 0x98: return use(op, F.cwde, 1);
    case 0x99: return use(op, F.cdq, 1);
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      if (avail < 5) return FAIL;
      op.disp = i32(a, p + 1) >>> 0;
      const run = b0 === 0xa0 ? F.movAO8 : b0 === 0xa1 ? F.movAO32 : b0 === 0xa2 ? F.movOA8 : F.movOA32;
      return use(op, run, 5);
    }
    case 0xa4: case 0xa5:
      op.imm = b0 === 0xa4 ? 1 : 4;
      return use(op, F.movs, 1);
    case 0xa8:
      return useImm8(op, F.testAI8, a, p, avail);
    case 0xa9:
      return useImm32(op, F.testAI32, a, p, avail);
    case 0xaa:
      op.imm = 1;
      return use(op, F.stos, 1);
    case 0xab: return use(op, F.stosd, 1);
    case 0xac:
      op.imm = 1;
      return use(op, F.lods, 1);
    case 0xad: return use(op, F.lodsd, 1);
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
      return shiftGroup(op, a, p, avail, b0);
    case 0xc2:
      if (avail < 3) return FAIL;
      op.imm = a[p + 1]! | (a[p + 2]! << 8);
      return branch(op, F.ret, 3);
    case 0xc3:
      op.imm = 0;
      return branch(op, F.ret, 1);
    case 0xc6: case 0xc7: {
      const k = modrm(op, a, p, 1, avail);
      if (k === FAIL || op.reg !== 0) return FAIL;
      const immBytes = b0 === 0xc6 ? 1 : 4;
      if (k + immBytes > avail) return FAIL;
      op.imm = b0 === 0xc6 ? a[p + k]! : i32(a, p + k) >>> 0;
      if (isReg) {
        op.reg = rmField;
        return use(op, b0 === 0xc6 ? F.movRI8 : F.movRI32, k + immBytes);
      }
      return use(op, b0 === 0xc6 ? F.movMI8 : F.movMI32, k + immBytes);
    }
    case 0xc9: return use(op, F.leave, 1);
    case 0xe8: case 0xe9:
      if (avail < 5) return FAIL;
      op.imm = i32(a, p + 1);
      return branch(op, b0 === 0xe8 ? F.callRel : F.jmpRel, 5);
    case 0xeb:
      if (avail < 2) return FAIL;
      op.imm = (a[p + 1]! << 24) >> 24;
      return branch(op, F.jmpRel, 2);
    case 0xfc: return use(op, F.cld, 1);
    case 0xfd: return use(op, F.std, 1);
    case 0xfe: case 0xff:
      return group45(op, a, p, avail, b0);
    case 0x0f:
      return twoByte(op, a, p, avail);
    default:
      return FAIL;
  }
}

/** ALU forms 0-3 (r/m,reg and reg,r/m, 8 and 32 bits). */
function aluModrm(op: DecodedOp, a: Uint8Array, p: number, avail: number, form: number): number {
  const k = modrm(op, a, p, 1, avail);
  if (k === FAIL) return FAIL;
  const byte = (form & 1) === 0;
  if (isReg) {
    // The destination goes in reg, the source in rm.
    if (form < 2) {
      op.rm = op.reg;
      op.reg = rmField;
    } else {
      op.rm = rmField;
    }
    return use(op, byte ? F.aluRR8 : F.aluRR32, k);
  }
  if (form < 2) return use(op, byte ? F.aluMR8 : F.aluMR32, k);
  return use(op, byte ? F.aluRM8 : F.aluRM32, k);
}

/** 80-83: ALU r/m, imm. */
function group1(op: DecodedOp, a: Uint8Array, p: number, avail: number, b0: number): number {
  const k = modrm(op, a, p, 1, avail);
  if (k === FAIL) return FAIL;
  op.sub = op.reg;
  const byte = (b0 & 1) === 0;
  const immBytes = b0 === 0x81 ? 4 : 1;
  if (k + immBytes > avail) return FAIL;
  if (b0 === 0x81) op.imm = i32(a, p + k) >>> 0;
  else if (b0 === 0x83) op.imm = ((a[p + k]! << 24) >> 24) >>> 0;
  else op.imm = a[p + k]!;
  if (isReg) {
    op.reg = rmField;
    return use(op, byte ? F.aluRI8 : F.aluRI32, k + immBytes);
  }
  return use(op, byte ? F.aluMI8 : F.aluMI32, k + immBytes);
}

/** C0/C1 (imm8 count), D0/D1 (1), D2/D3 (CL): shifts and rotates; /6 (SAL alias) is left to the interpreter. */
function shiftGroup(op: DecodedOp, a: Uint8Array, p: number, avail: number, b0: number): number {
  let k = modrm(op, a, p, 1, avail);
  if (k === FAIL) return FAIL;
  op.sub = op.reg;
  if (op.sub === 6) return FAIL;
  if (b0 <= 0xc1) {
    if (k >= avail) return FAIL;
    op.imm = a[p + k]!;
    k++;
  } else {
    op.imm = b0 <= 0xd1 ? 1 : -1;
  }
  const byte = (b0 & 1) === 0;
  if (isReg) {
    op.reg = rmField;
    return use(op, byte ? F.shiftR8 : F.shiftR32, k);
  }
  return use(op, byte ? F.shiftM8 : F.shiftM32, k);
}

/** FE /0 /1 (INC/DEC r/m8); FF /0 /1 (INC/DEC r/m32), /2 CALL, /4 JMP, /6 PUSH. */
function group45(op: DecodedOp, a: Uint8Array, p: number, avail: number, b0: number): number {
  const k = modrm(op, a, p, 1, avail);
  if (k === FAIL) return FAIL;
  const sub = op.reg;
  op.sub = sub;
  if (sub <= 1) {
    if (isReg) {
      op.reg = rmField;
      if (b0 === 0xfe) return use(op, F.incDecR8, k);
      return use(op, sub === 0 ? F.incR32 : F.decR32, k);
    }
    return use(op, b0 === 0xfe ? F.incDecM8 : F.incDecM32, k);
  }
  if (b0 === 0xfe) return FAIL;
  op.rm = rmField;
  if (sub === 2) return branch(op, isReg ? F.callR : F.callM, k);
  if (sub === 4) return branch(op, isReg ? F.jmpR : F.jmpM, k);
  if (sub === 6 && !isReg) return use(op, F.pushM32, k);
  return FAIL;
}

/** 0F: Jcc rel32, SETcc, CMOVcc, MOVZX/MOVSX. */
function twoByte(op: DecodedOp, a: Uint8Array, p: number, avail: number): number {
  if (avail < 2) return FAIL;
  const b1 = a[p + 1]!;
  if (b1 >= 0x80 && b1 <= 0x8f) {
    if (avail < 6) return FAIL;
    op.sub = b1 & 15;
    op.imm = i32(a, p + 2);
    return branch(op, F.jcc, 6);
  }
  if (b1 >= 0x90 && b1 <= 0x9f) {
    const k = modrm(op, a, p, 2, avail);
    if (k === FAIL) return FAIL;
    op.sub = b1 & 15;
    op.rm = rmField;
    return use(op, isReg ? F.setccR : F.setccM, k);
  }
  if (b1 >= 0x40 && b1 <= 0x4f) {
    const k = modrm(op, a, p, 2, avail);
    if (k === FAIL) return FAIL;
    op.sub = b1 & 15;
    op.rm = rmField;
    return use(op, isReg ? F.cmovR : F.cmovM, k);
  }
  if (b1 === 0xb6 || b1 === 0xb7 || b1 === 0xbe || b1 === 0xbf) {
    const k = modrm(op, a, p, 2, avail);
    if (k === FAIL) return FAIL;
    op.imm = (b1 & 1) === 0 ? 1 : 2;
    op.sub = b1 >= 0xbe ? 1 : 0;
    op.rm = rmField;
    return use(op, isReg ? F.movxR : F.movxM, k);
  }
  return FAIL;
}
