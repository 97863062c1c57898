/**
 * One instruction: prefixes, then the one-byte opcode map. Two-byte opcodes are in two-byte.ts,
 * string instructions in string.ts, segment and control transfers in system.ts.
 */

import {
  CS, DS, ES, F_AC, F_AF, F_CF, F_DF, F_IF, F_IOPL, F_NT, F_OF, F_PF, F_RF, F_SF, F_TF, F_VM, F_ZF, F_ID, FS, GS, RAX, RBP, RBX,
  RCX, RDX, RSP, SS, TWO32, CR0_PE, type Cpu,
} from '../cpu.js';
import { CpuFault, VEC_BP, VEC_BR, VEC_DE, VEC_GP, VEC_OF, VEC_UD, VEC_NM, gp } from '../faults.js';
import { condition, getCF, getZF, getOF, materializeFlags, setArith, szp } from '../flags.js';
import {
  OP_CMP, alu, alu64, dec, divS, divU, div64, inc, incDec64, mulFlags, mulFlags64, shift, shift64, M64,
} from './alu.js';
import {
  addSp, d, dataSeg, fetch16, fetch32, fetch8, fetchImm, fetchSigned, lin, linAt, modrm, moveRegToRm64, moveRm64ToReg, peek, pop,
  push, push64, readReg, readRm, readRm64, writeReg, writeRm, writeRm64,
} from './decode.js';
import { stringOp } from './string.js';
import { twoByte } from './two-byte.js';
import {
  enter, farCall, farJump, farReturn, iret, loadSegment, softwareInterrupt, ioIn, ioOut, checkIo, halt, fpuEscape,
} from './system.js';

/** Legacy prefix bytes: 1 segment override, 2 operand size, 3 address size, 4 LOCK, 5 REP/REPNE. */
const PREFIX = new Uint8Array(256);
for (const b of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]) PREFIX[b] = 1;
PREFIX[0x66] = 2;
PREFIX[0x67] = 3;
PREFIX[0xf0] = 4;
PREFIX[0xf2] = 5;
PREFIX[0xf3] = 5;
const SEGMENT_OF = new Int8Array(256).fill(-1);
SEGMENT_OF[0x26] = ES;
SEGMENT_OF[0x2e] = CS;
SEGMENT_OF[0x36] = SS;
SEGMENT_OF[0x3e] = DS;
SEGMENT_OF[0x64] = FS;
SEGMENT_OF[0x65] = GS;

/** Executes one instruction at CS:RIP. Throws CpuFault; the caller delivers it. */
export function step(cpu: Cpu): void {
  cpu.startIp = cpu.ip;
  cpu.startSpLo = cpu.r[RSP]!;
  cpu.startSpHi = cpu.rh[RSP]!;
  cpu.fetched = 0;
  const code64 = cpu.code64;
  const dflt = cpu.codeSize;
  d.segOverride = -1;
  d.rep = 0;
  d.lock = false;
  d.opsizePrefix = false;
  d.rex = 0;
  d.rexW = false;
  let op = fetch8(cpu);
  if (PREFIX[op] === 0 && !(code64 && (op & 0xf0) === 0x40)) {
    // No prefix: the common case.
    d.osz = dflt;
    d.asz = code64 ? 8 : dflt;
    exec(cpu, op);
    return;
  }
  let opsize = false;
  let adsize = false;
  for (;;) {
    const kind = PREFIX[op]!;
    if (kind !== 0) {
      if (kind === 1) d.segOverride = SEGMENT_OF[op]!;
      else if (kind === 2) opsize = true;
      else if (kind === 3) adsize = true;
      else if (kind === 4) d.lock = true;
      else d.rep = op;
      d.rex = 0; // a REX prefix counts only right before the opcode
    } else if (code64 && (op & 0xf0) === 0x40) {
      d.rex = op;
    } else {
      break;
    }
    op = fetch8(cpu);
  }
  if (code64) {
    if (d.segOverride < FS) d.segOverride = -1;
    d.rexW = (d.rex & 8) !== 0;
    d.osz = d.rexW ? 8 : opsize ? 2 : 4;
    d.asz = adsize ? 4 : 8;
  } else {
    d.osz = opsize ? 6 - dflt : dflt;
    d.asz = adsize ? 6 - dflt : dflt;
  }
  d.opsizePrefix = opsize;
  if (d.lock) checkLock(op);
  exec(cpu, op);
}

/** LOCK is allowed only on read-modify-write memory forms (checked again per form where needed). */
function checkLock(op: number): void {
  const lockable = (op <= 0x33 && (op & 7) < 2 && (op & 0x38) !== 0x38) || (op >= 0x80 && op <= 0x83) || op === 0x86 || op === 0x87
    || op === 0xf6 || op === 0xf7 || op === 0xfe || op === 0xff || op === 0x0f;
  if (!lockable) throw new CpuFault(VEC_UD);
}

function lockNeedsMemory(): void {
  if (d.lock && d.isReg) throw new CpuFault(VEC_UD);
}

/** Near branch target: IP masked by the operand size outside 64-bit mode. */
export function jumpTo(cpu: Cpu, target: number): void {
  if (cpu.code64) {
    cpu.ip = d.osz === 2 ? target & 0xffff : target;
  } else {
    const t = d.osz === 2 ? target & 0xffff : target >>> 0;
    if (t > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
    cpu.ip = t;
  }
}

/** Operand size of PUSH/POP: 64 bits by default in 64-bit mode (16 with 66), else the operand size. */
function stackOpSize(cpu: Cpu): number {
  return cpu.code64 ? (d.osz === 2 ? 2 : 8) : d.osz;
}

function invalidIn64(cpu: Cpu): void {
  if (cpu.code64) throw new CpuFault(VEC_UD);
}

function exec(cpu: Cpu, op: number): void {
  const osz = d.osz;
  // One dense switch: V8 compiles it to a jump table.
  switch (op) {
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x08: case 0x09:
    case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x10: case 0x11: case 0x12: case 0x13:
    case 0x14: case 0x15: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x28: case 0x29:
    case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x30: case 0x31: case 0x32: case 0x33:
    case 0x34: case 0x35: case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d: {
      aluForm(cpu, op);
      return;
    }

    case 0x06: case 0x0e: case 0x16: case 0x1e: {
      invalidIn64(cpu);
      push(cpu, osz, cpu.sel[op >> 3]!);
      return;
    }
    case 0x07: case 0x17: case 0x1f: {
      invalidIn64(cpu);
      const seg = op >> 3;
      const v = peek(cpu, 0, osz) & 0xffff;
      loadSegment(cpu, seg, v);
      addSp(cpu, osz);
      return;
    }
    case 0x0f: twoByte(cpu); return;
    case 0x27: invalidIn64(cpu); daa(cpu, false); return;
    case 0x2f: invalidIn64(cpu); daa(cpu, true); return;
    case 0x37: invalidIn64(cpu); aaa(cpu, false); return;
    case 0x3f: invalidIn64(cpu); aaa(cpu, true); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
    // INC/DEC reg (REX prefixes in 64-bit mode never reach here).
    const reg = op & 7;
    if (osz === 8) {
      cpu.set64(reg, incDec64(cpu, cpu.get64(reg), op >= 0x48));
      return;
    }
    const v = cpu.getReg(reg, osz);
    cpu.setReg(reg, osz, op < 0x48 ? inc(cpu, v, osz) : dec(cpu, v, osz));
    return;
    }
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: {
    const reg = (op & 7) | ((d.rex & 1) << 3);
    if (cpu.code64) {
      if (d.osz === 2) push(cpu, 2, cpu.r[reg]! & 0xffff);
      else push64(cpu, cpu.r[reg]!, cpu.rh[reg]!);
    } else {
      push(cpu, osz, cpu.getReg(reg, osz));
    }
    return;
    }
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
    const reg = (op & 7) | ((d.rex & 1) << 3);
    if (cpu.code64 && d.osz !== 2) {
      const sp = cpu.getSp();
      const a = cpu.linear(SS, sp, 8);
      const lo = cpu.read32(a);
      const hi = cpu.read32(a + 4);
      cpu.setSp(sp + 8);
      cpu.r[reg] = lo;
      cpu.rh[reg] = hi;
    } else {
      const v = pop(cpu, osz);
      cpu.setReg(reg, osz, v);
    }
    return;
    }
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
    const rel = fetchSigned(cpu, 1);
    if (condition(cpu, op & 15)) jumpTo(cpu, cpu.ip + rel);
    return;
    }
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
    const reg = (op & 7) | ((d.rex & 1) << 3);
    xchgRegs(cpu, RAX, reg, osz);
    return;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: {
    cpu.set8((op & 7) | ((d.rex & 1) << 3), d.rex !== 0, fetch8(cpu));
    return;
    }
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
    const reg = (op & 7) | ((d.rex & 1) << 3);
    if (osz === 8) {
      const lo = fetch32(cpu);
      const hi = fetch32(cpu);
      cpu.r[reg] = lo;
      cpu.rh[reg] = hi;
    } else {
      cpu.setReg(reg, osz, fetchImm(cpu, osz));
    }
    return;
    }

    case 0x60: { // PUSHA
      invalidIn64(cpu);
      const sp = cpu.getReg(RSP, osz);
      const size = osz;
      const base = cpu.getSp();
      const ss = cpu.stackSize;
      const wrap = (v: number): number => (ss === 2 ? v & 0xffff : v >>> 0);
      for (let i = 0; i < 8; i++) {
        const a = cpu.linear(SS, wrap(base - (i + 1) * size), size);
        const v = i === RSP ? sp : cpu.getReg(i, size);
        if (size === 2) cpu.write16(a, v); else cpu.write32(a, v);
      }
      cpu.setSp(wrap(base - 8 * size));
      return;
    }
    case 0x61: { // POPA
      invalidIn64(cpu);
      const vals: number[] = [];
      for (let i = 0; i < 8; i++) vals.push(peek(cpu, i * osz, osz));
      for (let i = 0; i < 8; i++) if (7 - i !== RSP) cpu.setReg(7 - i, osz, vals[i]!);
      addSp(cpu, 8 * osz);
      return;
    }
    case 0x62: { // BOUND
      invalidIn64(cpu);
      modrm(cpu);
      if (d.isReg) throw new CpuFault(VEC_UD);
      const idx = readReg(cpu, osz);
      const lo = osz === 2 ? cpu.read16(lin(cpu, 2)) : cpu.read32(lin(cpu, 4));
      const hi = osz === 2 ? cpu.read16(linAt(cpu, 2, 2)) : cpu.read32(linAt(cpu, 4, 4));
      const s = (v: number): number => (osz === 2 ? (v << 16) >> 16 : v | 0);
      if (s(idx) < s(lo) || s(idx) > s(hi)) throw new CpuFault(VEC_BR);
      return;
    }
    case 0x63: {
      modrm(cpu);
      if (cpu.code64) { // MOVSXD
        const v = readRm(cpu, 4) | 0;
        if (osz === 8) cpu.setNum(d.reg, v);
        else writeReg(cpu, osz, v);
        return;
      }
      if ((cpu.cr0 & CR0_PE) === 0 || (cpu.fl & F_VM) !== 0) throw new CpuFault(VEC_UD);
      // ARPL
      const dst = readRm(cpu, 2);
      const src = readReg(cpu, 2);
      materializeFlags(cpu);
      if ((dst & 3) < (src & 3)) {
        writeRm(cpu, 2, (dst & ~3) | (src & 3));
        cpu.fl |= F_ZF;
      } else {
        cpu.fl &= ~F_ZF;
      }
      return;
    }
    case 0x68: case 0x6a: {
      const size = stackOpSize(cpu);
      const v = fetchSigned(cpu, op === 0x6a ? 1 : Math.min(size, 4));
      push(cpu, size, size === 2 ? v & 0xffff : size === 4 ? v >>> 0 : v);
      return;
    }
    case 0x69: case 0x6b: {
      modrm(cpu, op === 0x69 ? Math.min(osz, 4) : 1);
      imul3(cpu, op === 0x6b);
      return;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f: case 0xa4: case 0xa5: case 0xa6: case 0xa7:
    case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      stringOp(cpu, op);
      return;
    case 0x80: case 0x81: case 0x82: case 0x83: {
      if (op === 0x82) invalidIn64(cpu);
      const size = (op & 1) === 0 ? 1 : osz;
      const immSize = op === 0x81 ? Math.min(size, 4) : 1;
      modrm(cpu, immSize);
      const aop = d.reg & 7;
      if (aop === OP_CMP && d.lock) throw new CpuFault(VEC_UD);
      lockNeedsMemory();
      if (size === 8) {
        const imm = BigInt.asUintN(64, BigInt(fetchSigned(cpu, immSize)));
        const r = alu64(cpu, aop, readRm64(cpu), imm);
        if (aop !== OP_CMP) writeRm64(cpu, r);
        return;
      }
      let imm = op === 0x83 ? fetchSigned(cpu, 1) : fetchImm(cpu, size);
      if (op === 0x83) imm = size === 1 ? imm & 0xff : size === 2 ? imm & 0xffff : imm >>> 0;
      if (d.isReg) {
        const r = alu(cpu, aop, readRm(cpu, size), imm, size);
        if (aop !== OP_CMP) writeRm(cpu, size, r);
        return;
      }
      const a = lin(cpu, size);
      const v = size === 1 ? cpu.read8(a) : size === 2 ? cpu.read16(a) : cpu.read32(a);
      if (aop === OP_CMP) {
        alu(cpu, aop, v, imm, size);
        return;
      }
      const sv = saveCc(cpu);
      const r = alu(cpu, aop, v, imm, size);
      try {
        if (size === 1) cpu.write8(a, r); else if (size === 2) cpu.write16(a, r); else cpu.write32(a, r);
      } catch (e) {
        restoreCc(cpu, sv);
        throw e;
      }
      return;
    }
    case 0x84: case 0x85: {
      const size = op === 0x84 ? 1 : osz;
      modrm(cpu);
      if (size === 8) alu64(cpu, 4, readRm64(cpu), cpu.get64(d.reg));
      else alu(cpu, 4, readRm(cpu, size), readReg(cpu, size), size);
      return;
    }
    case 0x86: case 0x87: {
      const size = op === 0x86 ? 1 : osz;
      modrm(cpu);
      if (d.isReg) {
        xchgRegsModrm(cpu, size);
        return;
      }
      if (size === 8) {
        const m = readRm64(cpu);
        writeRm64(cpu, cpu.get64(d.reg));
        cpu.set64(d.reg, m);
        return;
      }
      const m = readRm(cpu, size);
      writeRm(cpu, size, readReg(cpu, size));
      writeReg(cpu, size, m);
      return;
    }
    case 0x88: case 0x89: {
      const size = op === 0x88 ? 1 : osz;
      modrm(cpu);
      if (size === 8) moveRegToRm64(cpu, d.reg);
      else writeRm(cpu, size, readReg(cpu, size));
      return;
    }
    case 0x8a: case 0x8b: {
      const size = op === 0x8a ? 1 : osz;
      modrm(cpu);
      if (size === 8) moveRm64ToReg(cpu, d.reg);
      else writeReg(cpu, size, readRm(cpu, size));
      return;
    }
    case 0x8c: {
      modrm(cpu);
      const seg = d.reg & 7;
      if (seg > GS) throw new CpuFault(VEC_UD);
      const v = cpu.sel[seg]!;
      // To a register the whole operand size (zero-extended), to memory always 16 bits.
      if (d.isReg) cpu.setReg(d.rm, osz === 8 ? 4 : osz, v);
      else writeRm(cpu, 2, v);
      return;
    }
    case 0x8d: {
      modrm(cpu);
      if (d.isReg) throw new CpuFault(VEC_UD);
      const ea = d.off;
      if (osz === 8) cpu.setNum(d.reg, ea);
      else writeReg(cpu, osz, osz === 2 ? ea & 0xffff : ea >>> 0);
      return;
    }
    case 0x8e: {
      modrm(cpu);
      const seg = d.reg & 7;
      if (seg === CS || seg > GS) throw new CpuFault(VEC_UD);
      loadSegment(cpu, seg, readRm(cpu, 2));
      return;
    }
    case 0x8f: {
      modrm(cpu);
      if ((d.reg & 7) !== 0) throw new CpuFault(VEC_UD);
      // The pop happens first; the destination address uses the incremented stack pointer.
      const size = stackOpSize(cpu);
      const v = peek(cpu, 0, size);
      const spBefore = [cpu.r[RSP]!, cpu.rh[RSP]!] as const;
      addSp(cpu, size);
      try {
        if (d.isReg) {
          cpu.setReg(d.rm, size, v);
        } else {
          // An RSP-based address uses the incremented stack pointer, as hardware does.
          if (d.base === RSP) d.off = d.asz === 4 ? (d.off + size) >>> 0 : d.off + size;
          const a = cpu.linear(d.seg, d.off, size);
          if (size === 2) cpu.write16(a, v); else if (size === 4) cpu.write32(a, v); else cpu.write64Num(a, v);
        }
      } catch (e) {
        cpu.r[RSP] = spBefore[0];
        cpu.rh[RSP] = spBefore[1];
        throw e;
      }
      return;
    }
    case 0x90:
      if ((d.rex & 1) !== 0) xchgRegs(cpu, RAX, 8, osz);
      // NOP; F3 90 is PAUSE.
      return;
    case 0x98: // CBW/CWDE/CDQE
      if (osz === 2) cpu.set16(RAX, (cpu.r[RAX]! << 24) >> 24);
      else if (osz === 4) cpu.set32(RAX, (cpu.r[RAX]! << 16) >> 16);
      else cpu.setNum(RAX, cpu.r[RAX]!);
      return;
    case 0x99: // CWD/CDQ/CQO
      if (osz === 2) cpu.set16(RDX, (cpu.r[RAX]! & 0x8000) !== 0 ? 0xffff : 0);
      else if (osz === 4) cpu.set32(RDX, cpu.r[RAX]! < 0 ? -1 : 0);
      else {
        const s = cpu.rh[RAX]! < 0 ? -1 : 0;
        cpu.r[RDX] = s;
        cpu.rh[RDX] = s;
      }
      return;
    case 0x9a: { // CALL far ptr16:16/32
      invalidIn64(cpu);
      const off = osz === 2 ? fetch16(cpu) : fetch32(cpu);
      const sel = fetch16(cpu);
      farCall(cpu, sel, off, osz);
      return;
    }
    case 0x9b: // WAIT/FWAIT
      if ((cpu.cr0 & 0xa) === 0xa) throw new CpuFault(VEC_NM);
      return;
    case 0x9c: { // PUSHF
      if ((cpu.fl & F_VM) !== 0 && ((cpu.fl & F_IOPL) >>> 12) < 3) throw gp(0);
      const f = cpu.getFlags() & ~(F_VM | F_RF);
      if (cpu.code64 && osz !== 2) push(cpu, 8, f);
      else push(cpu, osz, osz === 2 ? f & 0xffff : f);
      return;
    }
    case 0x9d: { // POPF
      if ((cpu.fl & F_VM) !== 0 && ((cpu.fl & F_IOPL) >>> 12) < 3) throw gp(0);
      const size = cpu.code64 && osz !== 2 ? 8 : osz;
      const v = pop(cpu, size);
      writeFlagsFromPop(cpu, v, size);
      return;
    }
    case 0x9e: { // SAHF
      const ah = (cpu.r[RAX]! >> 8) & 0xff;
      const f = cpu.getFlags();
      cpu.fl = (f & ~0xd5) | (ah & 0xd5) | 2;
      return;
    }
    case 0x9f: { // LAHF
      const f = cpu.getFlags();
      cpu.r[RAX] = (cpu.r[RAX]! & ~0xff00) | (((f & 0xd5) | 2) << 8);
      return;
    }
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV AL/AX, moffs
      const size = (op & 1) === 0 ? 1 : osz;
      let off: number;
      if (d.asz === 8) {
        const lo = fetch32(cpu);
        const hi = fetch32(cpu) | 0;
        off = hi * TWO32 + lo;
      } else {
        off = d.asz === 4 ? fetch32(cpu) : fetch16(cpu);
      }
      const seg = dataSeg();
      const a = cpu.linear(seg, off, size);
      if (op <= 0xa1) {
        if (size === 1) cpu.set8(RAX, false, cpu.read8(a));
        else if (size === 2) cpu.set16(RAX, cpu.read16(a));
        else if (size === 4) cpu.set32(RAX, cpu.read32(a));
        else { cpu.r[RAX] = cpu.read32(a); cpu.rh[RAX] = cpu.read32(a + 4); }
      } else if (size === 1) cpu.write8(a, cpu.r[RAX]!);
      else if (size === 2) cpu.write16(a, cpu.r[RAX]!);
      else if (size === 4) cpu.write32(a, cpu.r[RAX]!);
      else cpu.write64(a, cpu.r[RAX]!, cpu.rh[RAX]!);
      return;
    }
    case 0xa8: case 0xa9: {
      const size = op === 0xa8 ? 1 : osz;
      if (size === 8) {
        alu64(cpu, 4, cpu.get64(RAX), BigInt.asUintN(64, BigInt(fetchSigned(cpu, 4))));
        return;
      }
      const imm = fetchImm(cpu, size);
      alu(cpu, 4, cpu.getReg(RAX, size === 1 ? 4 : size) & (size === 1 ? 0xff : 0xffffffff), imm, size);
      return;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = (op & 1) === 0 ? 1 : osz;
      modrm(cpu, op <= 0xc1 ? 1 : 0);
      const count = op <= 0xc1 ? fetch8(cpu) : op <= 0xd1 ? 1 : cpu.r[RCX]! & 0xff;
      const sop = d.reg & 7;
      if (size === 8) {
        const v = readRm64(cpu);
        const sv = saveCc(cpu);
        const r = shift64(cpu, sop, v, count);
        try { writeRm64(cpu, r); } catch (e) { restoreCc(cpu, sv); throw e; }
        return;
      }
      const a = d.isReg ? -1 : lin(cpu, size);
      const v = readRm(cpu, size);
      const sv = saveCc(cpu);
      const r = shift(cpu, sop, v, count, size);
      if (a >= 0 && (count & 0x1f) === 0) return;
      try { writeRm(cpu, size, r); } catch (e) { restoreCc(cpu, sv); throw e; }
      return;
    }
    case 0xc2: case 0xc3: { // RET near
      const n = op === 0xc2 ? fetch16(cpu) : 0;
      const size = cpu.code64 && osz !== 2 ? 8 : osz;
      const target = peek(cpu, 0, size);
      jumpTo(cpu, target);
      addSp(cpu, size + n);
      return;
    }
    case 0xc4: case 0xc5: { // LES/LDS
      invalidIn64(cpu);
      modrm(cpu);
      if (d.isReg) throw new CpuFault(VEC_UD);
      loadFarPointer(cpu, op === 0xc4 ? ES : DS);
      return;
    }
    case 0xc6: case 0xc7: {
      const size = op === 0xc6 ? 1 : osz;
      modrm(cpu, Math.min(size, 4));
      if ((d.reg & 7) !== 0) throw new CpuFault(VEC_UD);
      if (size === 8) {
        const v = fetchSigned(cpu, 4);
        if (d.isReg) cpu.setNum(d.rm, v);
        else cpu.write64Num(lin(cpu, 8), v);
        return;
      }
      writeRm(cpu, size, fetchImm(cpu, size));
      return;
    }
    case 0xc8: { // ENTER
      const size = fetch16(cpu);
      const level = fetch8(cpu);
      enter(cpu, size, level);
      return;
    }
    case 0xc9: { // LEAVE
      const ss = cpu.stackSize;
      const bp = ss === 8 ? cpu.getNum(RBP) : ss === 4 ? cpu.r[RBP]! >>> 0 : cpu.r[RBP]! & 0xffff;
      const size = cpu.code64 && osz !== 2 ? 8 : osz;
      const a = cpu.linear(SS, bp, size);
      const v = size === 2 ? cpu.read16(a) : size === 4 ? cpu.read32(a) : cpu.read64Num(a);
      cpu.setSp(bp);
      addSp(cpu, size);
      cpu.setReg(RBP, size, v);
      return;
    }
    case 0xca: case 0xcb: { // RETF
      const n = op === 0xca ? fetch16(cpu) : 0;
      farReturn(cpu, osz, n);
      return;
    }
    case 0xcc: softwareInterrupt(cpu, VEC_BP, 'int3'); return;
    case 0xcd: softwareInterrupt(cpu, fetch8(cpu), 'int'); return;
    case 0xce:
      invalidIn64(cpu);
      if (getOF(cpu)) softwareInterrupt(cpu, VEC_OF, 'into');
      return;
    case 0xcf: iret(cpu, osz); return;
    case 0xd4: { // AAM
      invalidIn64(cpu);
      const base = fetch8(cpu);
      if (base === 0) throw new CpuFault(VEC_DE);
      const al = cpu.r[RAX]! & 0xff;
      const res = al % base;
      cpu.set16(RAX, (Math.floor(al / base) << 8) | res);
      setArith(cpu, szp(res, 1));
      return;
    }
    case 0xd5: { // AAD
      invalidIn64(cpu);
      const base = fetch8(cpu);
      const ax = cpu.r[RAX]!;
      const res = ((ax & 0xff) + ((ax >> 8) & 0xff) * base) & 0xff;
      cpu.set16(RAX, res);
      setArith(cpu, szp(res, 1));
      return;
    }
    case 0xd6: // SALC
      invalidIn64(cpu);
      cpu.set8(RAX, false, getCF(cpu) !== 0 ? 0xff : 0);
      return;
    case 0xd7: { // XLAT
      let off = (d.asz === 8 ? cpu.getNum(RBX) : cpu.r[RBX]! >>> 0) + (cpu.r[RAX]! & 0xff);
      off = d.asz === 2 ? off & 0xffff : d.asz === 4 ? off >>> 0 : off;
      cpu.set8(RAX, false, cpu.read8(cpu.linear(dataSeg(), off, 1)));
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      fpuEscape(cpu, op);
      return;
    case 0xe0: case 0xe1: case 0xe2: { // LOOPNE/LOOPE/LOOP
      const rel = fetchSigned(cpu, 1);
      const asz = d.asz;
      const c = asz === 2 ? (cpu.r[RCX]! - 1) & 0xffff : asz === 4 ? (cpu.r[RCX]! - 1) >>> 0 : cpu.getNum(RCX) - 1;
      if (asz === 2) cpu.set16(RCX, c); else if (asz === 4) cpu.set32(RCX, c); else cpu.setNum(RCX, c);
      const nz = asz === 8 ? cpu.r[RCX] !== 0 || cpu.rh[RCX] !== 0 : c !== 0;
      const take = op === 0xe2 ? nz : op === 0xe1 ? nz && getZF(cpu) : nz && !getZF(cpu);
      if (take) jumpTo(cpu, cpu.ip + rel);
      return;
    }
    case 0xe3: { // JCXZ/JECXZ/JRCXZ
      const rel = fetchSigned(cpu, 1);
      const asz = d.asz;
      const z = asz === 2 ? (cpu.r[RCX]! & 0xffff) === 0 : asz === 4 ? cpu.r[RCX] === 0 : cpu.r[RCX] === 0 && cpu.rh[RCX] === 0;
      if (z) jumpTo(cpu, cpu.ip + rel);
      return;
    }
    case 0xe4: case 0xe5: { // IN AL/eAX, imm8
      const port = fetch8(cpu);
      const size = op === 0xe4 ? 1 : osz === 2 ? 2 : 4;
      checkIo(cpu, port, size);
      const v = ioIn(cpu, port, size);
      if (size === 1) cpu.set8(RAX, false, v); else if (size === 2) cpu.set16(RAX, v); else cpu.set32(RAX, v);
      return;
    }
    case 0xe6: case 0xe7: {
      const port = fetch8(cpu);
      const size = op === 0xe6 ? 1 : osz === 2 ? 2 : 4;
      checkIo(cpu, port, size);
      ioOut(cpu, port, size, cpu.r[RAX]! >>> 0);
      return;
    }
    case 0xe8: { // CALL rel
      const rel = fetchSigned(cpu, cpu.code64 ? 4 : Math.min(osz, 4));
      const ret = cpu.ip;
      const target = ret + rel;
      if (cpu.code64 && osz !== 2) {
        push(cpu, 8, ret);
        cpu.ip = target;
      } else {
        const t = osz === 2 ? target & 0xffff : target >>> 0;
        if (!cpu.code64 && t > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
        push(cpu, osz, ret);
        cpu.ip = t;
      }
      return;
    }
    case 0xe9: {
      const rel = fetchSigned(cpu, cpu.code64 ? 4 : Math.min(osz, 4));
      jumpTo(cpu, cpu.ip + rel);
      return;
    }
    case 0xea: {
      invalidIn64(cpu);
      const off = osz === 2 ? fetch16(cpu) : fetch32(cpu);
      const sel = fetch16(cpu);
      farJump(cpu, sel, off, osz);
      return;
    }
    case 0xeb: {
      const rel = fetchSigned(cpu, 1);
      jumpTo(cpu, cpu.ip + rel);
      return;
    }
    case 0xec: case 0xed: {
      const port = cpu.r[RDX]! & 0xffff;
      const size = op === 0xec ? 1 : osz === 2 ? 2 : 4;
      checkIo(cpu, port, size);
      const v = ioIn(cpu, port, size);
      if (size === 1) cpu.set8(RAX, false, v); else if (size === 2) cpu.set16(RAX, v); else cpu.set32(RAX, v);
      return;
    }
    case 0xee: case 0xef: {
      const port = cpu.r[RDX]! & 0xffff;
      const size = op === 0xee ? 1 : osz === 2 ? 2 : 4;
      checkIo(cpu, port, size);
      ioOut(cpu, port, size, cpu.r[RAX]! >>> 0);
      return;
    }
    case 0xf1: softwareInterrupt(cpu, 1, 'icebp'); return;
    case 0xf4: halt(cpu); return;
    case 0xf5: { const f = cpu.getFlags(); cpu.fl = f ^ F_CF; return; }
    case 0xf6: case 0xf7: group3(cpu, op === 0xf6 ? 1 : osz); return;
    case 0xf8: cpu.fl = cpu.getFlags() & ~F_CF; return;
    case 0xf9: cpu.fl = cpu.getFlags() | F_CF; return;
    case 0xfa: case 0xfb: { // CLI/STI
      const pe = (cpu.cr0 & CR0_PE) !== 0;
      const iopl = (cpu.fl & F_IOPL) >>> 12;
      if (pe && (cpu.fl & F_VM) === 0 ? cpu.cpl > iopl : (cpu.fl & F_VM) !== 0 && iopl < 3) throw gp(0);
      // No interrupt source is modelled, so STI's one-instruction interrupt shadow has no effect.
      if (op === 0xfa) cpu.fl &= ~F_IF;
      else cpu.fl |= F_IF;
      return;
    }
    case 0xfc: cpu.fl &= ~F_DF; return;
    case 0xfd: cpu.fl |= F_DF; return;
    case 0xfe: case 0xff: group45(cpu, op); return;
    default:
      throw new CpuFault(VEC_UD);
  }
}

/** The ALU forms 00-3D: r/m,reg / reg,r/m / accumulator,immediate. */
function aluForm(cpu: Cpu, op: number): void {
  const osz = d.osz;
    // ALU r/m,reg / reg,r/m / acc,imm
    const aop = op >> 3;
    const form = op & 7;
    if (form < 4) {
      const size = (form & 1) === 0 ? 1 : osz;
      modrm(cpu);
      if (form < 2) lockNeedsMemory();
      else if (d.lock) throw new CpuFault(VEC_UD);
      if (size === 8) {
        if (form < 2) {
          const r = alu64(cpu, aop, readRm64(cpu), cpu.get64(d.reg));
          if (aop !== OP_CMP) writeRm64(cpu, r);
        } else {
          const r = alu64(cpu, aop, cpu.get64(d.reg), readRm64(cpu));
          if (aop !== OP_CMP) cpu.set64(d.reg, r);
        }
        return;
      }
      if (form < 2) {
        if (d.isReg) {
          const r = alu(cpu, aop, readRm(cpu, size), readReg(cpu, size), size);
          if (aop !== OP_CMP) writeRm(cpu, size, r);
        } else {
          const a = lin(cpu, size);
          const v = size === 1 ? cpu.read8(a) : size === 2 ? cpu.read16(a) : cpu.read32(a);
          const b = readReg(cpu, size);
          if (aop === OP_CMP) {
            alu(cpu, aop, v, b, size);
          } else {
            const sv = saveCc(cpu);
            const r = alu(cpu, aop, v, b, size);
            try {
              if (size === 1) cpu.write8(a, r); else if (size === 2) cpu.write16(a, r); else cpu.write32(a, r);
            } catch (e) {
              restoreCc(cpu, sv);
              throw e;
            }
          }
        }
      } else {
        const r = alu(cpu, aop, readReg(cpu, size), readRm(cpu, size), size);
        if (aop !== OP_CMP) writeReg(cpu, size, r);
      }
      return;
    }
    const size = form === 4 ? 1 : osz;
    if (size === 8) {
      const imm = BigInt.asUintN(64, BigInt(fetchSigned(cpu, 4)));
      const r = alu64(cpu, aop, cpu.get64(RAX), imm);
      if (aop !== OP_CMP) cpu.set64(RAX, r);
      return;
    }
    const imm = fetchImm(cpu, size);
    const a = size === 1 ? cpu.r[RAX]! & 0xff : size === 2 ? cpu.r[RAX]! & 0xffff : cpu.r[RAX]! >>> 0;
    const r = alu(cpu, aop, a, imm, size);
    if (aop !== OP_CMP) {
      if (size === 1) cpu.set8(RAX, false, r); else if (size === 2) cpu.set16(RAX, r); else cpu.set32(RAX, r);
    }
    return;
}


function xchgRegs(cpu: Cpu, a: number, b: number, size: number): void {
  if (size === 8) {
    const lo = cpu.r[a]!;
    const hi = cpu.rh[a]!;
    cpu.r[a] = cpu.r[b]!;
    cpu.rh[a] = cpu.rh[b]!;
    cpu.r[b] = lo;
    cpu.rh[b] = hi;
    return;
  }
  const va = cpu.getReg(a, size);
  const vb = cpu.getReg(b, size);
  cpu.setReg(a, size, vb);
  cpu.setReg(b, size, va);
}

function xchgRegsModrm(cpu: Cpu, size: number): void {
  if (size === 1) {
    const rex = d.rex !== 0;
    const a = cpu.get8(d.reg, rex);
    const b = cpu.get8(d.rm, rex);
    cpu.set8(d.reg, rex, b);
    cpu.set8(d.rm, rex, a);
    return;
  }
  xchgRegs(cpu, d.reg, d.rm, size);
}

export interface SavedCc { op: number; a: number; b: number; r: number; sz: number; cf: number; fl: number }

/** The flag state before an operation whose memory write may still fault. */
export function saveCc(cpu: Cpu): SavedCc {
  return { op: cpu.ccOp, a: cpu.ccA, b: cpu.ccB, r: cpu.ccR, sz: cpu.ccSz, cf: cpu.ccCf, fl: cpu.fl };
}
export function restoreCc(cpu: Cpu, s: SavedCc): void {
  cpu.ccOp = s.op;
  cpu.ccA = s.a;
  cpu.ccB = s.b;
  cpu.ccR = s.r;
  cpu.ccSz = s.sz;
  cpu.ccCf = s.cf;
  cpu.fl = s.fl;
}

/** POPF/IRET flag rules: which bits the current privilege may change. */
export function writeFlagsFromPop(cpu: Cpu, v: number, size: number): void {
  const old = cpu.getFlags();
  let mask = F_CF | F_PF | F_AF | F_ZF | F_SF | F_TF | F_DF | F_OF | F_NT;
  if (size !== 2) mask |= F_AC | F_ID;
  const pe = (cpu.cr0 & CR0_PE) !== 0;
  if (!pe || cpu.cpl === 0) mask |= F_IOPL | F_IF;
  else if (cpu.cpl <= ((old & F_IOPL) >>> 12)) mask |= F_IF;
  if ((old & F_VM) !== 0) mask = (mask | F_IF) & ~F_IOPL;
  if (size === 2) mask &= 0xffff;
  cpu.setFlags((old & ~mask) | (v & mask));
}

export function loadFarPointer(cpu: Cpu, seg: number): void {
  const osz = d.osz;
  const offSize = osz === 8 ? 8 : osz;
  const off = offSize === 2 ? cpu.read16(lin(cpu, 2)) : offSize === 4 ? cpu.read32(lin(cpu, 4)) : cpu.read64Num(lin(cpu, 8));
  const sel = cpu.read16(linAt(cpu, offSize, 2));
  loadSegment(cpu, seg, sel);
  if (osz === 8) cpu.setNum(d.reg, off);
  else writeReg(cpu, osz, off);
}

function imul3(cpu: Cpu, imm8: boolean): void {
  const osz = d.osz;
  if (osz === 8) {
    const src = BigInt.asIntN(64, readRm64(cpu));
    const imm = BigInt(fetchSigned(cpu, imm8 ? 1 : 4));
    const full = src * imm;
    const low = full & M64;
    cpu.set64(d.reg, low);
    mulFlags64(cpu, low, BigInt.asIntN(64, low) !== full);
    return;
  }
  const src = readRm(cpu, osz);
  const imm = fetchSigned(cpu, imm8 ? 1 : osz);
  imulTo(cpu, src, imm, osz);
}

/** Two- and three-operand IMUL into the ModRM register. */
export function imulTo(cpu: Cpu, a: number, b: number, size: number): void {
  const sa = size === 2 ? (a << 16) >> 16 : a | 0;
  const sb = size === 2 ? (b << 16) >> 16 : b | 0;
  let low: number;
  let overflow: boolean;
  if (size === 2) {
    const p = sa * sb;
    low = p & 0xffff;
    overflow = p !== ((low << 16) >> 16);
  } else {
    const p = BigInt(sa) * BigInt(sb);
    low = Number(BigInt.asUintN(32, p));
    overflow = BigInt.asIntN(32, p) !== p;
  }
  writeReg(cpu, size, low);
  mulFlags(cpu, low, size, overflow);
}

function group3(cpu: Cpu, size: number): void {
  // Only TEST (/0, /1) has an immediate, and the reg field comes with ModRM: a RIP-relative
  // offset is corrected for it afterwards.
  modrm(cpu, 0);
  const sub = d.reg & 7;
  if (sub <= 1 && d.ripRel) d.off += Math.min(size, 4);
  if (d.lock && sub !== 2 && sub !== 3) throw new CpuFault(VEC_UD);
  lockNeedsMemory();
  if (size === 8) {
    group3_64(cpu, sub);
    return;
  }
  const mask = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  switch (sub) {
    case 0: case 1: {
      const v = readRm(cpu, size);
      alu(cpu, 4, v, fetchImm(cpu, size), size);
      return;
    }
    case 2: writeRm(cpu, size, (~readRm(cpu, size) & mask) >>> 0); return;
    case 3: {
      const v = readRm(cpu, size);
      const sv = saveCc(cpu);
      const r = alu(cpu, 5, 0, v, size);
      try { writeRm(cpu, size, r); } catch (e) { restoreCc(cpu, sv); throw e; }
      return;
    }
    case 4: case 5: {
      const v = readRm(cpu, size);
      const signed = sub === 5;
      if (size === 1) {
        const al = cpu.r[RAX]! & 0xff;
        const p = signed ? ((al << 24) >> 24) * ((v << 24) >> 24) : al * v;
        const ax = p & 0xffff;
        cpu.set16(RAX, ax);
        mulFlags(cpu, ax & 0xff, 1, signed ? p !== (((ax & 0xff) << 24) >> 24) : (ax & 0xff00) !== 0);
        return;
      }
      const a = size === 2 ? cpu.r[RAX]! & 0xffff : cpu.r[RAX]! >>> 0;
      let lo: number;
      let hi: number;
      let overflow: boolean;
      if (size === 2) {
        const p = signed ? ((a << 16) >> 16) * ((v << 16) >> 16) : a * v;
        lo = p & 0xffff;
        hi = (p >> 16) & 0xffff;
        overflow = signed ? p !== ((lo << 16) >> 16) : hi !== 0;
      } else {
        const p = signed ? BigInt(a | 0) * BigInt(v | 0) : BigInt(a) * BigInt(v);
        lo = Number(BigInt.asUintN(32, p));
        hi = Number(BigInt.asUintN(32, p >> 32n));
        overflow = signed ? BigInt.asIntN(32, p) !== p : hi !== 0;
      }
      cpu.setReg(RAX, size, lo);
      cpu.setReg(RDX, size, hi);
      mulFlags(cpu, lo, size, overflow);
      return;
    }
    default: {
      const v = readRm(cpu, size);
      const signed = sub === 7;
      if (size === 1) {
        const ax = cpu.r[RAX]! & 0xffff;
        const [q, r] = signed ? divS(ax >> 8, ax & 0xff, v, 1) : divU(ax >> 8, ax & 0xff, v, 1);
        cpu.set16(RAX, (r << 8) | q);
        return;
      }
      const lo = cpu.getReg(RAX, size);
      const hi = cpu.getReg(RDX, size);
      const [q, r] = signed ? divS(hi, lo, v, size) : divU(hi, lo, v, size);
      cpu.setReg(RAX, size, q);
      cpu.setReg(RDX, size, r);
      return;
    }
  }
}

function group3_64(cpu: Cpu, sub: number): void {
  switch (sub) {
    case 0: case 1: alu64(cpu, 4, readRm64(cpu), BigInt.asUintN(64, BigInt(fetchSigned(cpu, 4)))); return;
    case 2: writeRm64(cpu, ~readRm64(cpu) & M64); return;
    case 3: {
      const v = readRm64(cpu);
      const sv = saveCc(cpu);
      const r = alu64(cpu, 5, 0n, v);
      try { writeRm64(cpu, r); } catch (e) { restoreCc(cpu, sv); throw e; }
      return;
    }
    case 4: case 5: {
      const v = readRm64(cpu);
      const a = cpu.get64(RAX);
      const p = sub === 5 ? BigInt.asIntN(64, a) * BigInt.asIntN(64, v) : a * v;
      const lo = p & M64;
      const hi = (p >> 64n) & M64;
      cpu.set64(RAX, lo);
      cpu.set64(RDX, hi);
      mulFlags64(cpu, lo, sub === 5 ? BigInt.asIntN(64, lo) !== p : hi !== 0n);
      return;
    }
    default: {
      const v = readRm64(cpu);
      const [q, r] = div64(cpu.get64(RDX), cpu.get64(RAX), v, sub === 7);
      cpu.set64(RAX, q);
      cpu.set64(RDX, r);
    }
  }
}

function group45(cpu: Cpu, op: number): void {
  const osz = d.osz;
  modrm(cpu);
  const sub = d.reg & 7;
  if (op === 0xfe) {
    if (sub > 1) throw new CpuFault(VEC_UD);
    lockNeedsMemory();
    const v = readRm(cpu, 1);
    const sv = saveCc(cpu);
    const r = sub === 0 ? inc(cpu, v, 1) : dec(cpu, v, 1);
    try { writeRm(cpu, 1, r); } catch (e) { restoreCc(cpu, sv); throw e; }
    return;
  }
  if (d.lock && sub > 1) throw new CpuFault(VEC_UD);
  switch (sub) {
    case 0: case 1: {
      lockNeedsMemory();
      if (osz === 8) {
        const v = readRm64(cpu);
        const sv = saveCc(cpu);
        const r = incDec64(cpu, v, sub === 1);
        try { writeRm64(cpu, r); } catch (e) { restoreCc(cpu, sv); throw e; }
        return;
      }
      const v = readRm(cpu, osz);
      const sv = saveCc(cpu);
      const r = sub === 0 ? inc(cpu, v, osz) : dec(cpu, v, osz);
      try { writeRm(cpu, osz, r); } catch (e) { restoreCc(cpu, sv); throw e; }
      return;
    }
    case 2: { // CALL near r/m
      const size = cpu.code64 ? (osz === 2 ? 2 : 8) : osz;
      const target = size === 8 ? (d.isReg ? cpu.getNum(d.rm) : cpu.read64Num(lin(cpu, 8))) : readRm(cpu, size);
      const ret = cpu.ip;
      if (!cpu.code64) {
        const t = size === 2 ? target & 0xffff : target >>> 0;
        if (t > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
      }
      push(cpu, size, ret);
      cpu.ip = size === 2 ? target & 0xffff : size === 4 ? target >>> 0 : target;
      return;
    }
    case 3: case 5: { // CALL/JMP far m16:16/32/64
      if (d.isReg) throw new CpuFault(VEC_UD);
      const offSize = osz;
      const off = offSize === 2 ? cpu.read16(lin(cpu, 2)) : offSize === 4 ? cpu.read32(lin(cpu, 4)) : cpu.read64Num(lin(cpu, 8));
      const sel = cpu.read16(linAt(cpu, offSize, 2));
      if (sub === 3) farCall(cpu, sel, off, osz);
      else farJump(cpu, sel, off, osz);
      return;
    }
    case 4: { // JMP near r/m
      const size = cpu.code64 ? (osz === 2 ? 2 : 8) : osz;
      const target = size === 8 ? (d.isReg ? cpu.getNum(d.rm) : cpu.read64Num(lin(cpu, 8))) : readRm(cpu, size);
      d.osz = size;
      jumpTo(cpu, target);
      return;
    }
    case 6: { // PUSH r/m
      const size = cpu.code64 ? (osz === 2 ? 2 : 8) : osz;
      const v = size === 8 ? (d.isReg ? cpu.getNum(d.rm) : cpu.read64Num(lin(cpu, 8))) : readRm(cpu, size);
      if (size === 8 && d.isReg) push64(cpu, cpu.r[d.rm]!, cpu.rh[d.rm]!);
      else if (size === 8) {
        const a = lin(cpu, 8);
        push64(cpu, cpu.read32(a), cpu.read32(a + 4));
      } else push(cpu, size, v);
      return;
    }
    default:
      throw new CpuFault(VEC_UD);
  }
}

// -----------------------------------------------------------------------------------------------
// BCD

function daa(cpu: Cpu, sub: boolean): void {
  const f = cpu.getFlags();
  let al = cpu.r[RAX]! & 0xff;
  const oldAl = al;
  const oldCf = f & F_CF;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || (f & F_AF) !== 0) {
    al = sub ? al - 6 : al + 6;
    cf = oldCf | ((sub ? al < 0 : al > 0xff) ? 1 : 0);
    al &= 0xff;
    af = F_AF;
  }
  if (oldAl > 0x99 || oldCf !== 0) {
    al = (sub ? al - 0x60 : al + 0x60) & 0xff;
    cf = 1;
  }
  cpu.set8(RAX, false, al);
  // OF is undefined; QEMU leaves it as computed by its helper (cleared).
  setArith(cpu, cf | af | szp(al, 1));
}

/** AAA/AAS as QEMU 7.2 computes them (AH also takes the carry out of AL); only CF and AF change. */
function aaa(cpu: Cpu, sub: boolean): void {
  const f = cpu.getFlags();
  const ax = cpu.r[RAX]!;
  let al = ax & 0xff;
  let ah = (ax >> 8) & 0xff;
  let flags = f & ~(F_CF | F_AF);
  if ((al & 0x0f) > 9 || (f & F_AF) !== 0) {
    if (sub) {
      ah = (ah - 1 - (al < 6 ? 1 : 0)) & 0xff;
      al = (al - 6) & 0x0f;
    } else {
      ah = (ah + 1 + (al > 0xf9 ? 1 : 0)) & 0xff;
      al = (al + 6) & 0x0f;
    }
    flags |= F_CF | F_AF;
  } else {
    al &= 0x0f;
  }
  cpu.set16(RAX, (ah << 8) | al);
  cpu.fl = flags;
}
