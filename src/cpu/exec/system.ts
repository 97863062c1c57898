/**
 * Segment loads, far control transfers, interrupt and exception delivery, I/O, HLT, ENTER and the
 * x87 escape. Protected-mode rules follow QEMU 7.2's seg_helper.c, including what it stores in
 * the segment caches (the descriptor's high dword as `flags`), where it sets the accessed bit
 * (data and stack segment loads only) and the TSS busy bit (LTR; the cached TR flags keep the
 * type read before it was set).
 */

import {
  CR0_EM, CR0_PE, CR0_TS, CS, DESC_A, DESC_B, DESC_C, DESC_CS, DESC_DPL_SHIFT, DESC_G, DESC_L, DESC_P, DESC_S, DESC_W, DS, ES,
  EFER_LMA, F_AC, F_DF, F_ID, F_IF, F_IOPL, F_NT, F_RF, F_TF, F_VM, FS, GS, LDTR, RBP, RSP, SS, TR, TWO32, type Cpu,
} from '../cpu.js';
import { CpuFault, VEC_GP, VEC_NM, VEC_NP, VEC_SS, VEC_TS, VEC_UD, pushesErrorCode } from '../faults.js';
import { d } from './decode.js';

const ARITH_AND_DF = 0x8d5 | F_DF;

/** Descriptor at `selector` in the GDT or LDT: [low dword, high dword, linear address], or undefined past the limit. */
export function readDescriptor(cpu: Cpu, selector: number): [number, number, number] | undefined {
  const index = selector & ~7;
  let base: number;
  let limit: number;
  if ((selector & 4) !== 0) {
    base = cpu.segBase[LDTR]!;
    limit = cpu.segLimit[LDTR]!;
  } else {
    base = cpu.gdtBase;
    limit = cpu.gdtLimit;
  }
  if (index + 7 > limit) return undefined;
  const at = (cpu.efer & EFER_LMA) !== 0 ? base + index : (base + index) % TWO32;
  return [cpu.readSystem32(at), cpu.readSystem32(at + 4), at];
}

export function descBase(e1: number, e2: number): number {
  return ((e1 >>> 16) | ((e2 & 0xff) << 16) | (e2 & 0xff000000)) >>> 0;
}

export function descLimit(e1: number, e2: number): number {
  const limit = (e1 & 0xffff) | (e2 & 0xf0000);
  return (e2 & DESC_G) !== 0 ? ((limit * 4096) + 0xfff) : limit;
}

function protectedMode(cpu: Cpu): boolean {
  return (cpu.cr0 & CR0_PE) !== 0 && (cpu.fl & F_VM) === 0;
}

/** MOV/POP to a data or stack segment register (and LDS, LSS ...). */
export function loadSegment(cpu: Cpu, seg: number, selector: number): void {
  selector &= 0xffff;
  if (!protectedMode(cpu)) {
    cpu.setSegmentReal(seg, selector);
    return;
  }
  const cpl = cpu.cpl;
  if ((selector & 0xfffc) === 0) {
    if (seg === SS && (!cpu.code64 || cpl === 3)) throw new CpuFault(VEC_GP, 0);
    cpu.setSegment(seg, selector, 0, 0, 0);
    return;
  }
  const err = selector & 0xfffc;
  const desc = readDescriptor(cpu, selector);
  if (desc === undefined) throw new CpuFault(VEC_GP, err);
  const [e1, at] = [desc[0], desc[2]];
  let e2 = desc[1];
  if ((e2 & DESC_S) === 0) throw new CpuFault(VEC_GP, err);
  const rpl = selector & 3;
  const dpl = (e2 >> DESC_DPL_SHIFT) & 3;
  if (seg === SS) {
    if ((e2 & DESC_CS) !== 0 || (e2 & DESC_W) === 0) throw new CpuFault(VEC_GP, err);
    if (rpl !== cpl || dpl !== cpl) throw new CpuFault(VEC_GP, err);
  } else {
    if ((e2 & (DESC_CS | DESC_W)) === DESC_CS) throw new CpuFault(VEC_GP, err); // execute-only code (R is bit 9)
    if ((e2 & DESC_CS) === 0 || (e2 & DESC_C) === 0) {
      if (dpl < cpl || dpl < rpl) throw new CpuFault(VEC_GP, err);
    }
  }
  if ((e2 & DESC_P) === 0) throw new CpuFault(seg === SS ? VEC_SS : VEC_NP, err);
  if ((e2 & DESC_A) === 0) {
    e2 |= DESC_A;
    cpu.writeSystem32(at + 4, e2);
  }
  cpu.setSegment(seg, selector, descBase(e1, e2), descLimit(e1, e2), e2);
  if (seg === SS) cpu.setCpl(dpl);
}

/** Checks a code-segment descriptor for JMP/CALL far (non-gate); returns [e1, e2]. */
function codeDescriptor(cpu: Cpu, sel: number): [number, number] {
  if ((sel & 0xfffc) === 0) throw new CpuFault(VEC_GP, 0);
  const err = sel & 0xfffc;
  const desc = readDescriptor(cpu, sel);
  if (desc === undefined) throw new CpuFault(VEC_GP, err);
  const [e1, e2] = desc;
  if ((e2 & DESC_S) === 0) throw new CpuFault(VEC_GP, err); // gates and TSS: not supported as targets
  if ((e2 & DESC_CS) === 0) throw new CpuFault(VEC_GP, err);
  const cpl = cpu.cpl;
  const dpl = (e2 >> DESC_DPL_SHIFT) & 3;
  if ((e2 & DESC_C) !== 0) {
    if (dpl > cpl) throw new CpuFault(VEC_GP, err);
  } else {
    if ((sel & 3) > cpl || dpl !== cpl) throw new CpuFault(VEC_GP, err);
  }
  if ((e2 & DESC_P) === 0) throw new CpuFault(VEC_NP, err);
  return [e1, e2];
}

function loadCs(cpu: Cpu, sel: number, e1: number, e2: number): void {
  cpu.setSegment(CS, (sel & 0xfffc) | cpu.cpl, descBase(e1, e2), descLimit(e1, e2), e2);
}

function longCode(cpu: Cpu, e2: number): boolean {
  return (cpu.efer & EFER_LMA) !== 0 && (e2 & DESC_L) !== 0;
}

export function farJump(cpu: Cpu, sel: number, off: number, osz: number): void {
  if (!protectedMode(cpu)) {
    cpu.setSegmentReal(CS, sel);
    cpu.ip = osz === 2 ? off & 0xffff : off >>> 0;
    return;
  }
  const [e1, e2] = codeDescriptor(cpu, sel);
  const limit = descLimit(e1, e2);
  if (off > limit && !longCode(cpu, e2)) throw new CpuFault(VEC_GP, 0);
  loadCs(cpu, sel, e1, e2);
  cpu.ip = osz === 2 ? off & 0xffff : cpu.code64 ? off : off >>> 0;
}

/** Pushes onto the current stack with explicit width and mask; returns the new stack pointer. */
function pushAt(cpu: Cpu, ssBase: number, sp: number, spMask: number, size: number, v: number): number {
  const nsp = spMask === -1 ? sp - size : (sp - size) & spMask;
  const norm = spMask === -1 ? nsp : nsp >>> 0;
  const a = spMask === -1 ? norm : (ssBase + norm) % TWO32;
  if (size === 2) cpu.write16(a, v);
  else if (size === 4) cpu.write32(a, v);
  else cpu.write64Num(a, v);
  return norm;
}

function popAt(cpu: Cpu, ssBase: number, sp: number, spMask: number, size: number): [number, number] {
  const a = spMask === -1 ? sp : (ssBase + sp) % TWO32;
  const v = size === 2 ? cpu.read16(a) : size === 4 ? cpu.read32(a) : cpu.read64Num(a);
  const nsp = spMask === -1 ? sp + size : ((sp + size) & spMask) >>> 0;
  return [v, nsp];
}

function spMaskOf(cpu: Cpu, ssFlags: number): number {
  if (cpu.code64) return -1;
  return (ssFlags & DESC_B) !== 0 ? 0xffffffff : 0xffff;
}

function setSpMasked(cpu: Cpu, sp: number, mask: number): void {
  if (mask === -1) cpu.setNum(RSP, sp);
  else if (mask === 0xffff) cpu.set16(RSP, sp);
  else cpu.set32(RSP, sp);
}

export function farCall(cpu: Cpu, sel: number, off: number, osz: number): void {
  const next = cpu.ip;
  if (!protectedMode(cpu)) {
    // QEMU's helper_lcall_real: the stack width comes from SS, the pushes from the operand size.
    const mask = (cpu.segFlags[SS]! & DESC_B) !== 0 ? 0xffffffff : 0xffff;
    let sp = cpu.getNum(RSP) >>> 0;
    sp &= mask;
    const base = cpu.segBase[SS]!;
    sp = pushAt(cpu, base, sp, mask, osz, cpu.sel[CS]!);
    sp = pushAt(cpu, base, sp, mask, osz, next);
    setSpMasked(cpu, sp, mask);
    cpu.setSegmentReal(CS, sel);
    cpu.ip = osz === 2 ? off & 0xffff : off >>> 0;
    return;
  }
  const [e1, e2] = codeDescriptor(cpu, sel);
  if (osz === 8) {
    let sp = cpu.getNum(RSP);
    sp = pushAt(cpu, 0, sp, -1, 8, cpu.sel[CS]!);
    sp = pushAt(cpu, 0, sp, -1, 8, next);
    cpu.setNum(RSP, sp);
    loadCs(cpu, sel, e1, e2);
    cpu.ip = off;
    return;
  }
  const mask = spMaskOf(cpu, cpu.segFlags[SS]!);
  let sp = mask === -1 ? cpu.getNum(RSP) : (cpu.r[RSP]! >>> 0) & mask;
  const base = cpu.code64 ? 0 : cpu.segBase[SS]!;
  sp = pushAt(cpu, base, sp, mask, osz, cpu.sel[CS]!);
  sp = pushAt(cpu, base, sp, mask, osz, next);
  const limit = descLimit(e1, e2);
  if (off > limit && !longCode(cpu, e2)) throw new CpuFault(VEC_GP, 0);
  setSpMasked(cpu, sp, mask);
  loadCs(cpu, sel, e1, e2);
  cpu.ip = osz === 2 ? off & 0xffff : off >>> 0;
}

export function farReturn(cpu: Cpu, osz: number, addend: number): void {
  if (!protectedMode(cpu)) {
    const mask = (cpu.segFlags[SS]! & DESC_B) !== 0 ? 0xffffffff : 0xffff;
    const base = cpu.segBase[SS]!;
    let sp = (cpu.r[RSP]! >>> 0) & mask;
    const [ip, sp1] = popAt(cpu, base, sp, mask, osz);
    const [cs, sp2] = popAt(cpu, base, sp1, mask, osz);
    sp = sp2;
    setSpMasked(cpu, (sp + addend) & mask, mask);
    cpu.setSegmentReal(CS, cs & 0xffff);
    cpu.ip = ip;
    return;
  }
  returnProtected(cpu, osz, false, addend);
}

export function iret(cpu: Cpu, osz: number): void {
  if ((cpu.cr0 & CR0_PE) === 0) {
    const base = cpu.segBase[SS]!;
    const [ip, sp1] = popAt(cpu, base, cpu.r[RSP]! & 0xffff, 0xffff, osz);
    const [cs, sp2] = popAt(cpu, base, sp1, 0xffff, osz);
    const [fl, sp3] = popAt(cpu, base, sp2, 0xffff, osz);
    cpu.set16(RSP, sp3);
    cpu.setSegmentReal(CS, cs & 0xffff);
    cpu.ip = ip;
    let mask = F_TF | F_IF | F_IOPL | F_RF | F_NT;
    if (osz === 2) mask &= 0xffff;
    else mask |= 0;
    loadEflags(cpu, fl, mask);
    return;
  }
  if ((cpu.fl & F_VM) !== 0) throw new CpuFault(VEC_GP, 0); // virtual-8086 mode is not modelled
  if ((cpu.fl & F_NT) !== 0 && (cpu.efer & EFER_LMA) === 0) throw new CpuFault(VEC_GP, 0); // task return: not modelled
  returnProtected(cpu, osz, true, 0);
}

/** QEMU's cpu_load_eflags: arithmetic flags and DF always, the rest under `mask`. */
export function loadEflags(cpu: Cpu, v: number, mask: number): void {
  const old = cpu.getFlags();
  const m = mask | ARITH_AND_DF;
  cpu.setFlags((old & ~m) | (v & m));
}

function returnProtected(cpu: Cpu, osz: number, isIret: boolean, addend: number): void {
  const mask = spMaskOf(cpu, cpu.segFlags[SS]!);
  const base = cpu.code64 ? 0 : cpu.segBase[SS]!;
  let sp = mask === -1 ? cpu.getNum(RSP) : (cpu.r[RSP]! >>> 0) & mask;
  const [ip, sp1] = popAt(cpu, base, sp, mask, osz);
  const [csRaw, sp2] = popAt(cpu, base, sp1, mask, osz);
  const cs = csRaw & 0xffff;
  sp = sp2;
  let fl = 0;
  if (isIret) [fl, sp] = popAt(cpu, base, sp, mask, osz);
  const err = cs & 0xfffc;
  if (err === 0) throw new CpuFault(VEC_GP, err);
  const desc = readDescriptor(cpu, cs);
  if (desc === undefined) throw new CpuFault(VEC_GP, err);
  const [e1, e2] = desc;
  if ((e2 & DESC_S) === 0 || (e2 & DESC_CS) === 0) throw new CpuFault(VEC_GP, err);
  const cpl = cpu.cpl;
  const rpl = cs & 3;
  if (rpl < cpl) throw new CpuFault(VEC_GP, err);
  const dpl = (e2 >> DESC_DPL_SHIFT) & 3;
  if ((e2 & DESC_C) !== 0 ? dpl > rpl : dpl !== rpl) throw new CpuFault(VEC_GP, err);
  if ((e2 & DESC_P) === 0) throw new CpuFault(VEC_NP, err);
  sp = mask === -1 ? sp + addend : ((sp + addend) & mask) >>> 0;
  let newMask = mask;
  if (rpl === cpl && (!cpu.code64 || !isIret)) {
    cpu.setSegment(CS, cs, descBase(e1, e2), descLimit(e1, e2), e2);
  } else {
    let newSp: number;
    let ss: number;
    [newSp, sp] = popAt(cpu, base, sp, mask, osz);
    [ss, sp] = popAt(cpu, base, sp, mask, osz);
    ss &= 0xffff;
    let ssE2: number;
    if ((ss & 0xfffc) === 0) {
      if (osz === 8 && rpl !== 3 && (cpu.efer & EFER_LMA) !== 0) {
        ssE2 = DESC_G | DESC_B | DESC_P | DESC_S | (rpl << DESC_DPL_SHIFT) | DESC_W | DESC_A;
        cpu.setSegment(SS, ss, 0, 0xffffffff, ssE2);
        ssE2 = DESC_B;
      } else {
        throw new CpuFault(VEC_GP, 0);
      }
    } else {
      if ((ss & 3) !== rpl) throw new CpuFault(VEC_GP, ss & 0xfffc);
      const sd = readDescriptor(cpu, ss);
      if (sd === undefined) throw new CpuFault(VEC_GP, ss & 0xfffc);
      const [s1, s2] = sd;
      if ((s2 & DESC_S) === 0 || (s2 & DESC_CS) !== 0 || (s2 & DESC_W) === 0) throw new CpuFault(VEC_GP, ss & 0xfffc);
      if (((s2 >> DESC_DPL_SHIFT) & 3) !== rpl) throw new CpuFault(VEC_GP, ss & 0xfffc);
      if ((s2 & DESC_P) === 0) throw new CpuFault(VEC_NP, ss & 0xfffc);
      cpu.setSegment(SS, ss, descBase(s1, s2), descLimit(s1, s2), s2);
      ssE2 = s2;
    }
    cpu.setSegment(CS, cs, descBase(e1, e2), descLimit(e1, e2), e2);
    cpu.setCpl(rpl);
    sp = newSp;
    newMask = cpu.code64 ? -1 : (ssE2 & DESC_B) !== 0 ? 0xffffffff : 0xffff;
    if (rpl > cpl) for (const s of [ES, DS, FS, GS]) validateSegment(cpu, s, rpl);
    sp = newMask === -1 ? sp + addend : ((sp + addend) & newMask) >>> 0;
  }
  setSpMasked(cpu, sp, newMask);
  cpu.ip = cpu.code64 ? ip : osz === 2 ? ip & 0xffff : ip >>> 0;
  if (isIret) {
    let m = F_TF | F_AC | F_ID | F_RF | F_NT;
    if (cpl === 0) m |= F_IOPL;
    const iopl = (cpu.fl & F_IOPL) >>> 12;
    if (cpl <= iopl) m |= F_IF;
    if (osz === 2) m &= 0xffff;
    loadEflags(cpu, fl, m);
  }
}

/**
 * After a return to an outer level: data segments the new CPL may not use become null. As in
 * QEMU 7.2, the selector goes to 0 and the cache keeps base and limit with P cleared.
 */
function validateSegment(cpu: Cpu, seg: number, cpl: number): void {
  const flags = cpu.segFlags[seg]!;
  if ((seg === FS || seg === GS) && (cpu.sel[seg]! & 0xfffc) === 0) return;
  const dpl = (flags >> DESC_DPL_SHIFT) & 3;
  if ((flags & DESC_CS) === 0 || (flags & DESC_C) === 0) {
    if (dpl < cpl) cpu.setSegment(seg, 0, cpu.segBase[seg]!, cpu.segLimit[seg]!, flags & ~DESC_P);
  }
}

// -----------------------------------------------------------------------------------------------
// Interrupts and exceptions

/** INT n, INT3, INTO and ICEBP: software interrupts return to the next instruction. */
export function softwareInterrupt(cpu: Cpu, vector: number, _kind: 'int' | 'int3' | 'into' | 'icebp'): void {
  if ((cpu.fl & F_VM) !== 0 && ((cpu.fl & F_IOPL) >>> 12) < 3 && _kind === 'int') throw new CpuFault(VEC_GP, 0);
  deliverInterrupt(cpu, vector, true, -1, cpu.ip);
}

/**
 * Delivers interrupt `vector`: through the IVT in real mode, a 32-bit or 16-bit IDT gate in
 * protected mode, a 64-bit gate in long mode. `errorCode` -1: none. `returnIp`: the RIP pushed.
 * Throws CpuFault when delivery itself faults (the caller applies the double-fault rules).
 */
export function deliverInterrupt(cpu: Cpu, vector: number, isSoftware: boolean, errorCode: number, returnIp: number): void {
  if ((cpu.cr0 & CR0_PE) === 0) {
    realModeInterrupt(cpu, vector, returnIp);
    return;
  }
  if ((cpu.efer & EFER_LMA) !== 0) {
    longModeInterrupt(cpu, vector, isSoftware, errorCode, returnIp);
    return;
  }
  protectedModeInterrupt(cpu, vector, isSoftware, errorCode, returnIp);
}

function realModeInterrupt(cpu: Cpu, vector: number, returnIp: number): void {
  if (vector * 4 + 3 > cpu.idtLimit) throw new CpuFault(VEC_GP, vector * 8 + 2);
  const ptr = cpu.idtBase + vector * 4;
  const off = cpu.read16(ptr % TWO32);
  const sel = cpu.read16((ptr + 2) % TWO32);
  const base = cpu.segBase[SS]!;
  let sp = cpu.r[RSP]! & 0xffff;
  sp = pushAt(cpu, base, sp, 0xffff, 2, cpu.getFlags());
  sp = pushAt(cpu, base, sp, 0xffff, 2, cpu.sel[CS]!);
  sp = pushAt(cpu, base, sp, 0xffff, 2, returnIp);
  cpu.set16(RSP, sp);
  cpu.ip = off;
  cpu.setSegmentReal(CS, sel);
  cpu.fl &= ~(F_IF | F_TF | F_AC | F_RF);
}

function gateTarget(cpu: Cpu, vector: number, isSoftware: boolean, size: number): [number, number, number] {
  const idtErr = vector * 8 + 2;
  if (vector * size + size - 1 > cpu.idtLimit) throw new CpuFault(VEC_GP, idtErr);
  const ptr = cpu.idtBase + vector * size;
  const lin = (cpu.efer & EFER_LMA) !== 0 ? ptr : ptr % TWO32;
  const e1 = cpu.readSystem32(lin);
  const e2 = cpu.readSystem32(lin + 4);
  const e3 = size === 16 ? cpu.readSystem32(lin + 8) : 0;
  return [e1, e2, e3];
}

function protectedModeInterrupt(cpu: Cpu, vector: number, isSoftware: boolean, errorCode: number, returnIp: number): void {
  const idtErr = vector * 8 + 2;
  const [g1, g2] = gateTarget(cpu, vector, isSoftware, 8);
  const type = (g2 >> 8) & 0x1f;
  if (type !== 6 && type !== 7 && type !== 14 && type !== 15) throw new CpuFault(VEC_GP, idtErr); // task gates are not modelled
  const cpl = cpu.cpl;
  if (isSoftware && ((g2 >> DESC_DPL_SHIFT) & 3) < cpl) throw new CpuFault(VEC_GP, idtErr);
  if ((g2 & DESC_P) === 0) throw new CpuFault(VEC_NP, idtErr);
  const selector = g1 >>> 16;
  const offset = ((g2 & 0xffff0000) | (g1 & 0xffff)) >>> 0;
  const [e1, e2] = targetCode(cpu, selector);
  let dpl = (e2 >> DESC_DPL_SHIFT) & 3;
  if ((e2 & DESC_C) !== 0) dpl = cpl;
  const shift = type >> 3;
  const size = shift === 1 ? 4 : 2;
  const hasError = errorCode >= 0;
  const oldSs = cpu.sel[SS]!;
  const oldSp = cpu.r[RSP]! >>> 0;
  let ssBase: number;
  let mask: number;
  let sp: number;
  let newSs = -1;
  let ssE1 = 0;
  let ssE2 = 0;
  if (dpl < cpl) {
    const [ss, esp] = stackFromTss(cpu, dpl);
    if ((ss & 0xfffc) === 0) throw new CpuFault(VEC_TS, ss & 0xfffc);
    if ((ss & 3) !== dpl) throw new CpuFault(VEC_TS, ss & 0xfffc);
    const sd = readDescriptor(cpu, ss);
    if (sd === undefined) throw new CpuFault(VEC_TS, ss & 0xfffc);
    [ssE1, ssE2] = sd;
    if (((ssE2 >> DESC_DPL_SHIFT) & 3) !== dpl || (ssE2 & DESC_S) === 0 || (ssE2 & DESC_CS) !== 0 || (ssE2 & DESC_W) === 0) {
      throw new CpuFault(VEC_TS, ss & 0xfffc);
    }
    if ((ssE2 & DESC_P) === 0) throw new CpuFault(VEC_SS, ss & 0xfffc);
    newSs = ss;
    mask = (ssE2 & DESC_B) !== 0 ? 0xffffffff : 0xffff;
    ssBase = descBase(ssE1, ssE2);
    sp = esp & mask;
  } else {
    mask = (cpu.segFlags[SS]! & DESC_B) !== 0 ? 0xffffffff : 0xffff;
    ssBase = cpu.segBase[SS]!;
    sp = oldSp & mask;
  }
  const flags = cpu.getFlags();
  if (newSs >= 0) {
    sp = pushAt(cpu, ssBase, sp, mask, size, oldSs);
    sp = pushAt(cpu, ssBase, sp, mask, size, oldSp);
  }
  sp = pushAt(cpu, ssBase, sp, mask, size, flags);
  sp = pushAt(cpu, ssBase, sp, mask, size, cpu.sel[CS]!);
  sp = pushAt(cpu, ssBase, sp, mask, size, returnIp);
  if (hasError) sp = pushAt(cpu, ssBase, sp, mask, size, errorCode);
  if ((type & 1) === 0) cpu.fl &= ~F_IF;
  cpu.fl &= ~(F_TF | F_VM | F_RF | F_NT);
  if (newSs >= 0) {
    cpu.setSegment(SS, (newSs & ~3) | dpl, ssBase, descLimit(ssE1, ssE2), ssE2);
    cpu.setCpl(dpl);
  }
  setSpMasked(cpu, sp, mask);
  cpu.setSegment(CS, (selector & ~3) | dpl, descBase(e1, e2), descLimit(e1, e2), e2);
  cpu.ip = offset;
}

function targetCode(cpu: Cpu, selector: number): [number, number] {
  if ((selector & 0xfffc) === 0) throw new CpuFault(VEC_GP, 0);
  const desc = readDescriptor(cpu, selector);
  if (desc === undefined) throw new CpuFault(VEC_GP, selector & 0xfffc);
  const [e1, e2] = desc;
  if ((e2 & DESC_S) === 0 || (e2 & DESC_CS) === 0) throw new CpuFault(VEC_GP, selector & 0xfffc);
  if (((e2 >> DESC_DPL_SHIFT) & 3) > cpu.cpl) throw new CpuFault(VEC_GP, selector & 0xfffc);
  if ((e2 & DESC_P) === 0) throw new CpuFault(VEC_NP, selector & 0xfffc);
  return [e1, e2];
}

function stackFromTss(cpu: Cpu, dpl: number): [number, number] {
  const type = (cpu.segFlags[TR]! >> 8) & 0xf;
  const shift = type >> 3;
  const index = (dpl * 4 + 2) << shift;
  if (index + (4 << shift) - 1 > cpu.segLimit[TR]!) throw new CpuFault(VEC_TS, cpu.sel[TR]! & 0xfffc);
  const base = cpu.segBase[TR]!;
  if (shift === 0) {
    const esp = cpu.read16(base + index) & 0xffff;
    const ss = cpu.read16(base + index + 2);
    return [ss, esp];
  }
  const esp = cpu.readSystem32(base + index);
  const ss = cpu.readSystem32(base + index + 4) & 0xffff;
  return [ss, esp];
}

function longModeInterrupt(cpu: Cpu, vector: number, isSoftware: boolean, errorCode: number, returnIp: number): void {
  const idtErr = vector * 8 + 2;
  const [g1, g2, g3] = gateTarget(cpu, vector, isSoftware, 16);
  const type = (g2 >> 8) & 0x1f;
  if (type !== 14 && type !== 15) throw new CpuFault(VEC_GP, idtErr);
  const cpl = cpu.cpl;
  if (isSoftware && ((g2 >> DESC_DPL_SHIFT) & 3) < cpl) throw new CpuFault(VEC_GP, idtErr);
  if ((g2 & DESC_P) === 0) throw new CpuFault(VEC_NP, idtErr);
  const selector = g1 >>> 16;
  const offset = (g3 | 0) * TWO32 + (((g2 & 0xffff0000) | (g1 & 0xffff)) >>> 0);
  const ist = g2 & 7;
  const [e1, e2] = targetCode(cpu, selector);
  if ((e2 & DESC_L) === 0 || (e2 & DESC_B) !== 0) throw new CpuFault(VEC_GP, selector & 0xfffc);
  let dpl = (e2 >> DESC_DPL_SHIFT) & 3;
  if ((e2 & DESC_C) !== 0) dpl = cpl;
  let sp: number;
  let newStack = false;
  if (dpl < cpl || ist !== 0) {
    newStack = true;
    sp = rspFromTss(cpu, ist !== 0 ? ist + 3 : dpl);
  } else {
    sp = cpu.getNum(RSP);
  }
  sp -= ((sp % 16) + 16) % 16;
  const flags = cpu.getFlags();
  sp = pushAt(cpu, 0, sp, -1, 8, cpu.sel[SS]!);
  sp = pushAt(cpu, 0, sp, -1, 8, cpu.getNum(RSP));
  sp = pushAt(cpu, 0, sp, -1, 8, flags);
  sp = pushAt(cpu, 0, sp, -1, 8, cpu.sel[CS]!);
  sp = pushAt(cpu, 0, sp, -1, 8, returnIp);
  if (errorCode >= 0) sp = pushAt(cpu, 0, sp, -1, 8, errorCode);
  if ((type & 1) === 0) cpu.fl &= ~F_IF;
  cpu.fl &= ~(F_TF | F_VM | F_RF | F_NT);
  if (newStack) {
    cpu.setSegment(SS, dpl, 0, 0, dpl << DESC_DPL_SHIFT);
    cpu.setCpl(dpl);
  }
  cpu.setNum(RSP, sp);
  cpu.setSegment(CS, (selector & ~3) | dpl, descBase(e1, e2), descLimit(e1, e2), e2);
  cpu.ip = offset;
}

function rspFromTss(cpu: Cpu, level: number): number {
  const index = 8 * level + 4;
  if (index + 7 > cpu.segLimit[TR]!) throw new CpuFault(VEC_TS, cpu.sel[TR]! & 0xfffc);
  return cpu.read64Num(cpu.segBase[TR]! + index);
}

/** Whether an exception of this vector pushes an error code in the current mode. */
export function exceptionErrorCode(cpu: Cpu, vector: number, code: number): number {
  if ((cpu.cr0 & CR0_PE) === 0) return -1;
  return pushesErrorCode(vector) ? Math.max(code, 0) : -1;
}

// -----------------------------------------------------------------------------------------------
// I/O, HLT, ENTER, x87

/** #GP unless the current privilege may use these ports (IOPL, then the TSS I/O bitmap). */
export function checkIo(cpu: Cpu, port: number, size: number): void {
  if ((cpu.cr0 & CR0_PE) === 0) return;
  if ((cpu.fl & F_VM) === 0 && cpu.cpl <= ((cpu.fl & F_IOPL) >>> 12)) return;
  const type = (cpu.segFlags[TR]! >> 8) & 0xf;
  if ((type & 7) !== 1 && (type & 7) !== 3) throw new CpuFault(VEC_GP, 0);
  if (cpu.segLimit[TR]! < 103) throw new CpuFault(VEC_GP, 0);
  const ioBase = cpu.read16(cpu.segBase[TR]! + 0x66);
  const at = ioBase + (port >> 3);
  if (at + 1 > cpu.segLimit[TR]!) throw new CpuFault(VEC_GP, 0);
  const bits = cpu.read16(cpu.segBase[TR]! + at);
  if (((bits >> (port & 7)) & ((1 << size) - 1)) !== 0) throw new CpuFault(VEC_GP, 0);
}

export function ioIn(cpu: Cpu, port: number, size: number): number {
  return cpu.bus.ports.read(port, size as 1 | 2 | 4);
}

export function ioOut(cpu: Cpu, port: number, size: number, value: number): void {
  cpu.portWrites++;
  cpu.bus.ports.write(port, size as 1 | 2 | 4, value);
}

export function halt(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) !== 0 && cpu.cpl !== 0) throw new CpuFault(VEC_GP, 0);
  cpu.runState = 'halted';
}

export function enter(cpu: Cpu, size: number, levelRaw: number): void {
  const level = levelRaw & 0x1f;
  const osz = cpu.code64 && d.osz !== 2 ? 8 : d.osz;
  const ss = cpu.stackSize;
  const wrap = (v: number): number => (ss === 2 ? v & 0xffff : ss === 4 ? v >>> 0 : v);
  let sp = cpu.getSp();
  const write = (at: number, v: number): void => {
    const a = cpu.linear(SS, at, osz);
    if (osz === 2) cpu.write16(a, v); else if (osz === 4) cpu.write32(a, v); else cpu.write64Num(a, v);
  };
  const read = (at: number): number => {
    const a = cpu.linear(SS, at, osz);
    return osz === 2 ? cpu.read16(a) : osz === 4 ? cpu.read32(a) : cpu.read64Num(a);
  };
  sp = wrap(sp - osz);
  write(sp, cpu.getReg(RBP, osz));
  const frame = sp;
  if (level > 0) {
    let bp = ss === 8 ? cpu.getNum(RBP) : ss === 4 ? cpu.r[RBP]! >>> 0 : cpu.r[RBP]! & 0xffff;
    for (let i = 1; i < level; i++) {
      bp = wrap(bp - osz);
      sp = wrap(sp - osz);
      write(sp, read(bp));
    }
    sp = wrap(sp - osz);
    write(sp, frame);
  }
  sp = wrap(sp - size);
  // Probe the bottom of the new frame as hardware does before committing.
  cpu.linear(SS, sp, 1);
  cpu.setReg(RBP, osz, ss === 2 && osz !== 2 ? frame : frame);
  cpu.setSp(sp);
}

/**
 * The x87 escape opcodes. Control-word, status-word and init operations are implemented (what
 * firmware uses to probe for and initialise the FPU); arithmetic raises #UD and is reported.
 */
export function fpuEscape(cpu: Cpu, op: number): void {
  if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0) throw new CpuFault(VEC_NM);
  // Peek ModRM without committing: decode it through the normal path.
  fpuModrm(cpu, op);
}

import { fetch8, modrm, peek8 } from './decode.js';

function fpuModrm(cpu: Cpu, op: number): void {
  const b = peek8(cpu);
  if (b >= 0xc0) {
    fetch8(cpu);
    if (op === 0xdb && b === 0xe3) { // FNINIT
      cpu.fcw = 0x37f;
      cpu.fsw = 0;
      cpu.ftw = 0;
      cpu.fop = 0;
      cpu.fip = 0n;
      cpu.fdp = 0n;
      return;
    }
    if (op === 0xdb && b === 0xe2) { cpu.fsw &= 0x7f00; return; } // FNCLEX
    if (op === 0xdf && b === 0xe0) { cpu.set16(0, fsw(cpu)); return; } // FNSTSW AX
    if (op === 0xd9 && b === 0xd0) return; // FNOP
    unimplemented(cpu, op, b);
  }
  modrm(cpu);
  const sub = d.reg & 7;
  if (op === 0xd9 && sub === 7) { cpu.write16(cpu.linear(d.seg, d.off, 2), cpu.fcw); return; } // FNSTCW
  if (op === 0xd9 && sub === 5) { cpu.fcw = cpu.read16(cpu.linear(d.seg, d.off, 2)) | 0x40; return; } // FLDCW
  if (op === 0xdd && sub === 7) { cpu.write16(cpu.linear(d.seg, d.off, 2), fsw(cpu)); return; } // FNSTSW m16
  unimplemented(cpu, op, b);
}

function fsw(cpu: Cpu): number {
  return cpu.fsw & 0xffff;
}


function unimplemented(cpu: Cpu, op: number, b: number): never {
  cpu.bus.diagnostics.report('cpu-undefined-opcode', () => `x87 ${op.toString(16)} ${b.toString(16)} at ${cpu.startIp.toString(16)} raised #UD`);
  throw new CpuFault(VEC_UD);
}
