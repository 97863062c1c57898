/**
 * Handlers for the decoded-instruction cache (code-cache.ts): the common instructions of 32-bit
 * code without prefixes, each specialised to one form (register or memory operand, 8 or 32 bits).
 * The run loop has set RIP to the end of the instruction. Each handler does exactly what the
 * interpreter's path for the same bytes does (step.ts, two-byte.ts, string.ts), in the same order,
 * so faults, lazy flags and partial results are the same; only the decoding is skipped. Two rules
 * keep faults precise without the interpreter's bookkeeping: a handler changes RIP and RSP only
 * after everything that can fault (so the run loop rolls back RIP by the length alone), and it
 * never halts, does I/O or changes the mode, paging, TF or debug registers (so the loop needs no
 * checks between cached instructions).
 */

import { CS, ES, DS, F_DF, RAX, RBP, RCX, RDX, RDI, RSI, SS, type Cpu } from '../cpu.js';
import { CpuFault, VEC_GP } from '../faults.js';
import { condition } from '../flags.js';
import { alu, dec, inc, shift, OP_CMP } from './alu.js';
import { addSp, peek, pop, push } from './decode.js';
import type { DecodedOp } from '../code-cache.js';
import { restoreCc, saveCc, type SavedCc } from './step.js';

const OP_TEST = 4; // alu() op for TEST (AND without a result)

// -----------------------------------------------------------------------------------------------
// Operands

/** Offset of the memory operand (32-bit address size: the sum wraps at 4 GiB). */
function ea(cpu: Cpu, op: DecodedOp): number {
  let off = op.disp;
  if (op.base >= 0) off += cpu.r[op.base]!;
  if (op.index >= 0) off += cpu.r[op.index]! << op.scale;
  return off >>> 0;
}

/** Linear address of the memory operand for `size` bytes (limit checks as decode.ts lin()). */
function memLin(cpu: Cpu, op: DecodedOp, size: number): number {
  return cpu.linear(op.seg, ea(cpu, op), size);
}

function readMem(cpu: Cpu, a: number, size: number): number {
  return size === 1 ? cpu.read8(a) : cpu.read32(a);
}

function writeMem(cpu: Cpu, a: number, size: number, v: number): void {
  if (size === 1) cpu.write8(a, v);
  else cpu.write32(a, v);
}

/** The write of a read-modify-write: when it faults, the flags go back to `saved` (from before the operation). */
function writeMemKeepingFlags(cpu: Cpu, a: number, size: number, v: number, saved: SavedCc): void {
  try {
    writeMem(cpu, a, size, v);
  } catch (e) {
    restoreCc(cpu, saved);
    throw e;
  }
}

/** Byte register i (AL..BH) as decode.ts readReg/readRm read it without REX. */
function get8(cpu: Cpu, i: number): number {
  return i < 4 ? cpu.r[i]! & 0xff : (cpu.r[i - 4]! >> 8) & 0xff;
}

/** The near-branch target check of step.ts jumpTo (32-bit operand size, outside 64-bit mode). */
function jump(cpu: Cpu, target: number): void {
  const t = target >>> 0;
  if (t > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
  cpu.ip = t;
}

// -----------------------------------------------------------------------------------------------
// ALU (step.ts aluForm and group 1 80-83; TEST 84/85/A8/A9). `reg` is the destination, `rm` the
// source register of register forms; `sub` the operation.

export function aluRR32(cpu: Cpu, op: DecodedOp): void {
  const r = alu(cpu, op.sub, cpu.r[op.reg]! >>> 0, cpu.r[op.rm]! >>> 0, 4);
  if (op.sub !== OP_CMP) cpu.set32(op.reg, r);
}

export function aluRR8(cpu: Cpu, op: DecodedOp): void {
  const r = alu(cpu, op.sub, get8(cpu, op.reg), get8(cpu, op.rm), 1);
  if (op.sub !== OP_CMP) cpu.set8(op.reg, false, r);
}

/** ALU r/m,reg with a memory destination; the flags come back if the write faults. */
function aluMR(cpu: Cpu, op: DecodedOp, size: number): void {
  const a = memLin(cpu, op, size);
  const v = readMem(cpu, a, size);
  const b = size === 1 ? get8(cpu, op.reg) : cpu.r[op.reg]! >>> 0;
  if (op.sub === OP_CMP) {
    alu(cpu, OP_CMP, v, b, size);
    return;
  }
  aluWrite(cpu, op.sub, a, v, b, size);
}

export function aluMR32(cpu: Cpu, op: DecodedOp): void {
  aluMR(cpu, op, 4);
}
export function aluMR8(cpu: Cpu, op: DecodedOp): void {
  aluMR(cpu, op, 1);
}

/** Read-modify-write of a memory ALU operand; a faulting write leaves the flags as they were. */
function aluWrite(cpu: Cpu, sub: number, a: number, v: number, b: number, size: number): void {
  const saved = saveCc(cpu);
  writeMemKeepingFlags(cpu, a, size, alu(cpu, sub, v, b, size), saved);
}

export function aluRM32(cpu: Cpu, op: DecodedOp): void {
  const v = cpu.read32(memLin(cpu, op, 4));
  const r = alu(cpu, op.sub, cpu.r[op.reg]! >>> 0, v, 4);
  if (op.sub !== OP_CMP) cpu.set32(op.reg, r);
}

export function aluRM8(cpu: Cpu, op: DecodedOp): void {
  const v = cpu.read8(memLin(cpu, op, 1));
  const r = alu(cpu, op.sub, get8(cpu, op.reg), v, 1);
  if (op.sub !== OP_CMP) cpu.set8(op.reg, false, r);
}

/** ALU with an immediate into register `reg` (80-83 register forms, 04/05... accumulator forms). */
export function aluRI32(cpu: Cpu, op: DecodedOp): void {
  const r = alu(cpu, op.sub, cpu.r[op.reg]! >>> 0, op.imm, 4);
  if (op.sub !== OP_CMP) cpu.set32(op.reg, r);
}

export function aluRI8(cpu: Cpu, op: DecodedOp): void {
  const r = alu(cpu, op.sub, get8(cpu, op.reg), op.imm, 1);
  if (op.sub !== OP_CMP) cpu.set8(op.reg, false, r);
}

function aluMI(cpu: Cpu, op: DecodedOp, size: number): void {
  const a = memLin(cpu, op, size);
  const v = readMem(cpu, a, size);
  if (op.sub === OP_CMP) {
    alu(cpu, OP_CMP, v, op.imm, size);
    return;
  }
  aluWrite(cpu, op.sub, a, v, op.imm, size);
}

export function aluMI32(cpu: Cpu, op: DecodedOp): void {
  aluMI(cpu, op, 4);
}
export function aluMI8(cpu: Cpu, op: DecodedOp): void {
  aluMI(cpu, op, 1);
}

export function testRR32(cpu: Cpu, op: DecodedOp): void {
  alu(cpu, OP_TEST, cpu.r[op.rm]! >>> 0, cpu.r[op.reg]! >>> 0, 4);
}
export function testRR8(cpu: Cpu, op: DecodedOp): void {
  alu(cpu, OP_TEST, get8(cpu, op.rm), get8(cpu, op.reg), 1);
}
export function testMR32(cpu: Cpu, op: DecodedOp): void {
  alu(cpu, OP_TEST, cpu.read32(memLin(cpu, op, 4)), cpu.r[op.reg]! >>> 0, 4);
}
export function testMR8(cpu: Cpu, op: DecodedOp): void {
  alu(cpu, OP_TEST, cpu.read8(memLin(cpu, op, 1)), get8(cpu, op.reg), 1);
}

/** TEST EAX/AL, imm (A8/A9). */
export function testAI32(cpu: Cpu, op: DecodedOp): void {
  alu(cpu, OP_TEST, cpu.r[RAX]! >>> 0, op.imm, 4);
}
export function testAI8(cpu: Cpu, op: DecodedOp): void {
  alu(cpu, OP_TEST, cpu.r[RAX]! & 0xff, op.imm, 1);
}

// INC/DEC: 40-4F and group 4/5 /0 /1.

export function incR32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, inc(cpu, cpu.r[op.reg]! >>> 0, 4));
}
export function decR32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, dec(cpu, cpu.r[op.reg]! >>> 0, 4));
}

/** INC/DEC r/m (FE/FF /0 /1) on memory: as step.ts group45, the flags come back if the write faults. */
function incDecMem(cpu: Cpu, op: DecodedOp, size: number): void {
  const a = memLin(cpu, op, size);
  const v = readMem(cpu, a, size);
  const saved = saveCc(cpu);
  writeMemKeepingFlags(cpu, a, size, op.sub === 0 ? inc(cpu, v, size) : dec(cpu, v, size), saved);
}

export function incDecM32(cpu: Cpu, op: DecodedOp): void {
  incDecMem(cpu, op, 4);
}
export function incDecM8(cpu: Cpu, op: DecodedOp): void {
  incDecMem(cpu, op, 1);
}
export function incDecR8(cpu: Cpu, op: DecodedOp): void {
  const v = get8(cpu, op.reg);
  cpu.set8(op.reg, false, op.sub === 0 ? inc(cpu, v, 1) : dec(cpu, v, 1));
}

// -----------------------------------------------------------------------------------------------
// Shifts and rotates by 1, CL or imm8 (C0/C1/D0-D3 /0-/7, step.ts), `imm` the count or -1 for CL.

function shiftCount(cpu: Cpu, op: DecodedOp): number {
  return op.imm >= 0 ? op.imm : cpu.r[RCX]! & 0xff;
}

export function shiftR32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, shift(cpu, op.sub, cpu.r[op.reg]! >>> 0, shiftCount(cpu, op), 4));
}
export function shiftR8(cpu: Cpu, op: DecodedOp): void {
  cpu.set8(op.reg, false, shift(cpu, op.sub, get8(cpu, op.reg), shiftCount(cpu, op), 1));
}

function shiftMem(cpu: Cpu, op: DecodedOp, size: number): void {
  const count = shiftCount(cpu, op);
  const a = memLin(cpu, op, size);
  const v = readMem(cpu, a, size);
  const saved = saveCc(cpu);
  const r = shift(cpu, op.sub, v, count, size);
  // A masked count of 0 changes nothing and writes nothing.
  if ((count & 0x1f) === 0) return;
  writeMemKeepingFlags(cpu, a, size, r, saved);
}

export function shiftM32(cpu: Cpu, op: DecodedOp): void {
  shiftMem(cpu, op, 4);
}
export function shiftM8(cpu: Cpu, op: DecodedOp): void {
  shiftMem(cpu, op, 1);
}

// -----------------------------------------------------------------------------------------------
// Moves

export function movRR32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, cpu.r[op.rm]! >>> 0);
}
export function movRR8(cpu: Cpu, op: DecodedOp): void {
  cpu.set8(op.reg, false, get8(cpu, op.rm));
}
/** MOV r/m, reg to memory (88/89). */
export function movMR32(cpu: Cpu, op: DecodedOp): void {
  cpu.write32(memLin(cpu, op, 4), cpu.r[op.reg]! >>> 0);
}
export function movMR8(cpu: Cpu, op: DecodedOp): void {
  cpu.write8(memLin(cpu, op, 1), get8(cpu, op.reg));
}
/** MOV reg, r/m from memory (8A/8B). */
export function movRM32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, cpu.read32(memLin(cpu, op, 4)));
}
export function movRM8(cpu: Cpu, op: DecodedOp): void {
  cpu.set8(op.reg, false, cpu.read8(memLin(cpu, op, 1)));
}
/** MOV reg, imm (B0-BF and C6/C7 register forms). */
export function movRI32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, op.imm);
}
export function movRI8(cpu: Cpu, op: DecodedOp): void {
  cpu.set8(op.reg, false, op.imm);
}
/** MOV r/m, imm to memory (C6/C7 /0). */
export function movMI32(cpu: Cpu, op: DecodedOp): void {
  cpu.write32(memLin(cpu, op, 4), op.imm);
}
export function movMI8(cpu: Cpu, op: DecodedOp): void {
  cpu.write8(memLin(cpu, op, 1), op.imm);
}

/** MOV EAX/AL, moffs32 and back (A0-A3): DS, the offset in `disp`. */
export function movAO32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(RAX, cpu.read32(cpu.linear(DS, op.disp, 4)));
}
export function movAO8(cpu: Cpu, op: DecodedOp): void {
  cpu.set8(RAX, false, cpu.read8(cpu.linear(DS, op.disp, 1)));
}
export function movOA32(cpu: Cpu, op: DecodedOp): void {
  cpu.write32(cpu.linear(DS, op.disp, 4), cpu.r[RAX]!);
}
export function movOA8(cpu: Cpu, op: DecodedOp): void {
  cpu.write8(cpu.linear(DS, op.disp, 1), cpu.r[RAX]!);
}

export function lea32(cpu: Cpu, op: DecodedOp): void {
  cpu.set32(op.reg, ea(cpu, op));
}

/** MOVZX/MOVSX r32, r/m8 or r/m16 (0F B6/B7/BE/BF): `imm` is the source size, `sub` 1 to sign-extend. */
export function movxR(cpu: Cpu, op: DecodedOp): void {
  const v = op.imm === 1 ? get8(cpu, op.rm) : cpu.r[op.rm]! & 0xffff;
  cpu.set32(op.reg, extend(v, op) >>> 0);
}
export function movxM(cpu: Cpu, op: DecodedOp): void {
  const a = memLin(cpu, op, op.imm);
  const v = op.imm === 1 ? cpu.read8(a) : cpu.read16(a);
  cpu.set32(op.reg, extend(v, op) >>> 0);
}
function extend(v: number, op: DecodedOp): number {
  if (op.sub === 0) return v;
  return op.imm === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
}

/** CMOVcc r32, r/m32 (0F 40-4F): the source is read even when nothing moves; a 32-bit CMOV always clears the high dword. */
export function cmovR(cpu: Cpu, op: DecodedOp): void {
  const v = cpu.r[op.rm]! >>> 0;
  if (condition(cpu, op.sub)) cpu.set32(op.reg, v);
  else cpu.rh[op.reg] = 0;
}
export function cmovM(cpu: Cpu, op: DecodedOp): void {
  const v = cpu.read32(memLin(cpu, op, 4));
  if (condition(cpu, op.sub)) cpu.set32(op.reg, v);
  else cpu.rh[op.reg] = 0;
}

/** SETcc r/m8 (0F 90-9F). */
export function setccR(cpu: Cpu, op: DecodedOp): void {
  cpu.set8(op.rm, false, condition(cpu, op.sub) ? 1 : 0);
}
export function setccM(cpu: Cpu, op: DecodedOp): void {
  const v = condition(cpu, op.sub) ? 1 : 0;
  cpu.write8(memLin(cpu, op, 1), v);
}

export function cwde(cpu: Cpu): void {
  cpu.set32(RAX, (cpu.r[RAX]! << 16) >> 16);
}
export function cdq(cpu: Cpu): void {
  cpu.set32(RDX, cpu.r[RAX]! < 0 ? -1 : 0);
}

export function nop(): void {
  // 90
}

export function cld(cpu: Cpu): void {
  cpu.fl &= ~F_DF;
}
export function std(cpu: Cpu): void {
  cpu.fl |= F_DF;
}

// -----------------------------------------------------------------------------------------------
// Stack and branches. `imm` is the signed displacement of relative branches.

export function pushR32(cpu: Cpu, op: DecodedOp): void {
  push(cpu, 4, cpu.r[op.reg]! >>> 0);
}
export function popR32(cpu: Cpu, op: DecodedOp): void {
  const v = pop(cpu, 4);
  cpu.set32(op.reg, v);
}
export function pushI32(cpu: Cpu, op: DecodedOp): void {
  push(cpu, 4, op.imm);
}
/** PUSH r/m32 from memory (FF /6). */
export function pushM32(cpu: Cpu, op: DecodedOp): void {
  push(cpu, 4, cpu.read32(memLin(cpu, op, 4)));
}

export function jcc(cpu: Cpu, op: DecodedOp): void {
  if (condition(cpu, op.sub)) jump(cpu, cpu.ip + op.imm);
}
export function jmpRel(cpu: Cpu, op: DecodedOp): void {
  jump(cpu, cpu.ip + op.imm);
}
export function callRel(cpu: Cpu, op: DecodedOp): void {
  const ret = cpu.ip;
  const t = (ret + op.imm) >>> 0;
  if (t > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
  push(cpu, 4, ret);
  cpu.ip = t;
}
/** RET and RET imm16 (C3/C2): `imm` the bytes to release besides the return address. */
export function ret(cpu: Cpu, op: DecodedOp): void {
  const target = peek(cpu, 0, 4);
  jump(cpu, target);
  addSp(cpu, 4 + op.imm);
}

/** CALL/JMP near r/m32 (FF /2 /4): register `rm` or the memory operand. */
function callTo(cpu: Cpu, target: number): void {
  const ret = cpu.ip;
  const t = target >>> 0;
  if (t > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
  push(cpu, 4, ret);
  cpu.ip = t;
}
export function callR(cpu: Cpu, op: DecodedOp): void {
  callTo(cpu, cpu.r[op.rm]! >>> 0);
}
export function callM(cpu: Cpu, op: DecodedOp): void {
  callTo(cpu, cpu.read32(memLin(cpu, op, 4)));
}
export function jmpR(cpu: Cpu, op: DecodedOp): void {
  jump(cpu, cpu.r[op.rm]! >>> 0);
}
export function jmpM(cpu: Cpu, op: DecodedOp): void {
  jump(cpu, cpu.read32(memLin(cpu, op, 4)));
}

/** LEAVE (C9) with a 32-bit operand size. */
export function leave(cpu: Cpu): void {
  const ss = cpu.stackSize;
  const bp = ss === 4 ? cpu.r[RBP]! >>> 0 : cpu.r[RBP]! & 0xffff;
  const v = cpu.read32(cpu.linear(SS, bp, 4));
  cpu.setSp(bp);
  addSp(cpu, 4);
  cpu.set32(RBP, v);
}

// -----------------------------------------------------------------------------------------------
// String instructions without REP (string.ts once), 32-bit address size: `imm` is the element
// size (1 or 4).

function advance(cpu: Cpu, reg: number, size: number): void {
  const delta = (cpu.fl & F_DF) !== 0 ? -size : size;
  cpu.set32(reg, ((cpu.r[reg]! >>> 0) + delta) >>> 0);
}

/** LODSD and STOSD, the common case, without the size switch. */
export function lodsd(cpu: Cpu): void {
  const esi = cpu.r[RSI]! >>> 0;
  cpu.set32(RAX, cpu.read32(cpu.linear(DS, esi, 4)));
  cpu.set32(RSI, (esi + ((cpu.fl & F_DF) !== 0 ? -4 : 4)) >>> 0);
}
export function stosd(cpu: Cpu): void {
  const edi = cpu.r[RDI]! >>> 0;
  cpu.write32(cpu.linear(ES, edi, 4), cpu.r[RAX]!);
  cpu.set32(RDI, (edi + ((cpu.fl & F_DF) !== 0 ? -4 : 4)) >>> 0);
}

export function lods(cpu: Cpu, op: DecodedOp): void {
  const size = op.imm;
  const v = readMem(cpu, cpu.linear(DS, cpu.r[RSI]! >>> 0, size), size);
  if (size === 1) cpu.set8(RAX, false, v);
  else cpu.set32(RAX, v);
  advance(cpu, RSI, size);
}

export function stos(cpu: Cpu, op: DecodedOp): void {
  const size = op.imm;
  writeMem(cpu, cpu.linear(ES, cpu.r[RDI]! >>> 0, size), size, size === 1 ? cpu.r[RAX]! & 0xff : cpu.r[RAX]!);
  advance(cpu, RDI, size);
}

export function movs(cpu: Cpu, op: DecodedOp): void {
  const size = op.imm;
  const v = readMem(cpu, cpu.linear(DS, cpu.r[RSI]! >>> 0, size), size);
  writeMem(cpu, cpu.linear(ES, cpu.r[RDI]! >>> 0, size), size, v);
  advance(cpu, RSI, size);
  advance(cpu, RDI, size);
}
