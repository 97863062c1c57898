/** The 0F opcode map: system instructions, Jcc/SETcc/CMOVcc, bit operations, MOVZX/MOVSX and the rest. */

import {
  CR0_EM, CR0_PE, CR0_TS, CR4_OSFXSR, CS, F_CF, F_VM, FS, GS, LDTR, RAX, RDX, SS, TR, TWO32, type Cpu, EFER_LMA,
} from '../cpu.js';
import { CpuFault, VEC_GP, VEC_NM, VEC_UD } from '../faults.js';
import { condition, setArith, szp, CC_LOGIC } from '../flags.js';
import { alu, alu64, M64, shiftDouble, shiftDouble64 } from './alu.js';
import {
  d, fetch8, fetchSigned, lin, linAt, modrm, peek, peek8, push, readReg, readRm, readRm64, writeReg, writeRm, writeRm64, addSp,
} from './decode.js';
import { imulTo, jumpTo, loadFarPointer, restoreCc, saveCc } from './step.js';
import { descBase, descLimit, loadSegment, readDescriptor } from './system.js';
import { cpuid } from '../cpuid.js';
import { readMsr, writeMsr } from '../msr.js';
import { readControl, readDebug, writeControl, writeDebug } from './control-registers.js';
import { sse } from './sse.js';
import { mulFlags64 } from './alu.js';

function requirePm(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) === 0 || (cpu.fl & F_VM) !== 0) throw new CpuFault(VEC_UD);
}

function requireCpl0(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) !== 0 && cpu.cpl !== 0) throw new CpuFault(VEC_GP, 0);
}

export function twoByte(cpu: Cpu): void {
  const op = fetch8(cpu);
  const osz = d.osz;
  if (d.lock && !lockable(op)) throw new CpuFault(VEC_UD);
  if (op >= 0x80 && op <= 0x8f) {
    const rel = fetchSigned(cpu, cpu.code64 ? 4 : Math.min(osz, 4));
    if (condition(cpu, op & 15)) jumpTo(cpu, cpu.ip + rel);
    return;
  }
  if (op >= 0x40 && op <= 0x4f) {
    modrm(cpu);
    if (osz === 8) {
      const v = readRm64(cpu);
      if (condition(cpu, op & 15)) cpu.set64(d.reg, v);
      return;
    }
    const v = readRm(cpu, osz);
    if (condition(cpu, op & 15)) writeReg(cpu, osz, v);
    else if (osz === 4) cpu.rh[d.reg] = 0; // a 32-bit CMOV zero-extends even when it does not move
    return;
  }
  if (op >= 0x90 && op <= 0x9f) {
    modrm(cpu);
    writeRm(cpu, 1, condition(cpu, op & 15) ? 1 : 0);
    return;
  }
  if (op >= 0xc8 && op <= 0xcf) { // BSWAP
    const reg = (op & 7) | ((d.rex & 1) << 3);
    if (osz === 8) {
      const lo = cpu.r[reg]!;
      const hi = cpu.rh[reg]!;
      cpu.r[reg] = bswap32(hi);
      cpu.rh[reg] = bswap32(lo);
    } else if (osz === 4) {
      cpu.set32(reg, bswap32(cpu.r[reg]!));
    } else {
      cpu.set16(reg, 0); // BSWAP of a 16-bit register: undefined; QEMU and hardware give 0
    }
    return;
  }
  switch (op) {
    case 0x00: group6(cpu); return;
    case 0x01: group7(cpu); return;
    case 0x02: case 0x03: larLsl(cpu, op === 0x02); return;
    case 0x06: requireCpl0(cpu); cpu.cr0 &= ~CR0_TS; return;
    case 0x08: case 0x09: requireCpl0(cpu); return;
    case 0x0b: case 0xb9: case 0xff: throw new CpuFault(VEC_UD);
    case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      modrm(cpu); // hint NOPs and PREFETCH: decode the operand, do nothing
      return;
    case 0x20: case 0x21: case 0x22: case 0x23: {
      const b = fetch8(cpu);
      const reg = ((b >> 3) & 7) | ((d.rex & 4) << 1);
      const rm = (b & 7) | ((d.rex & 1) << 3);
      requireCpl0(cpu);
      if ((cpu.fl & F_VM) !== 0) throw new CpuFault(VEC_GP, 0);
      const wide = cpu.code64;
      if (op === 0x20) {
        const v = readControl(cpu, reg);
        if (wide) cpu.setNum(rm, v); else cpu.set32(rm, v);
      } else if (op === 0x21) {
        const v = readDebug(cpu, reg);
        if (wide) cpu.setNum(rm, v); else cpu.set32(rm, v);
      } else if (op === 0x22) {
        writeControl(cpu, reg, wide ? cpu.get64(rm) : BigInt(cpu.r[rm]! >>> 0));
      } else {
        writeDebug(cpu, reg, wide ? cpu.get64(rm) : BigInt(cpu.r[rm]! >>> 0));
      }
      return;
    }
    case 0x30: { // WRMSR
      requireCpl0(cpu);
      const value = (BigInt(cpu.r[RDX]! >>> 0) << 32n) | BigInt(cpu.r[RAX]! >>> 0);
      writeMsr(cpu, cpu.r[1]! >>> 0, value);
      return;
    }
    case 0x31: { // RDTSC
      if ((cpu.cr4 & 4) !== 0 && (cpu.cr0 & CR0_PE) !== 0 && cpu.cpl !== 0) throw new CpuFault(VEC_GP, 0);
      const tsc = readMsr(cpu, 0x10);
      cpu.set32(RAX, Number(tsc & 0xffffffffn));
      cpu.set32(RDX, Number(tsc >> 32n));
      return;
    }
    case 0x32: { // RDMSR
      requireCpl0(cpu);
      const v = readMsr(cpu, cpu.r[1]! >>> 0);
      cpu.set32(RAX, Number(v & 0xffffffffn));
      cpu.set32(RDX, Number((v >> 32n) & 0xffffffffn));
      return;
    }
    case 0xa0: push(cpu, cpu.code64 && osz !== 2 ? 8 : osz, cpu.sel[FS]!); return;
    case 0xa8: push(cpu, cpu.code64 && osz !== 2 ? 8 : osz, cpu.sel[GS]!); return;
    case 0xa1: case 0xa9: {
      const size = cpu.code64 && osz !== 2 ? 8 : osz;
      const v = peek(cpu, 0, size) & 0xffff;
      loadSegment(cpu, op === 0xa1 ? FS : GS, v);
      addSp(cpu, size);
      return;
    }
    case 0xa2: cpuid(cpu); return;
    case 0xa3: case 0xab: case 0xb3: case 0xbb: bitOp(cpu, op, false); return;
    case 0xba: bitOp(cpu, op, true); return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      modrm(cpu, op === 0xa4 || op === 0xac ? 1 : 0);
      const count = (op & 1) === 0 ? fetch8(cpu) : cpu.r[1]! & 0xff;
      const left = op < 0xa8;
      if (osz === 8) {
        const c = count & 0x3f;
        if (c === 0) { readRm64(cpu); return; }
        const v = readRm64(cpu);
        const sv = saveCc(cpu);
        const r = shiftDouble64(cpu, left, v, cpu.get64(d.reg), c);
        try { writeRm64(cpu, r); } catch (e) { restoreCc(cpu, sv); throw e; }
        return;
      }
      const c = count & 0x1f;
      const v = readRm(cpu, osz);
      if (c === 0) return;
      const sv = saveCc(cpu);
      const r = shiftDouble(cpu, left, v, readReg(cpu, osz), c, osz);
      try { writeRm(cpu, osz, r); } catch (e) { restoreCc(cpu, sv); throw e; }
      return;
    }
    case 0xaf: {
      modrm(cpu);
      if (osz === 8) {
        const p = BigInt.asIntN(64, cpu.get64(d.reg)) * BigInt.asIntN(64, readRm64(cpu));
        const low = p & M64;
        cpu.set64(d.reg, low);
        mulFlags64(cpu, low, BigInt.asIntN(64, low) !== p);
        return;
      }
      imulTo(cpu, readReg(cpu, osz), readRm(cpu, osz), osz);
      return;
    }
    case 0xb0: case 0xb1: cmpxchg(cpu, op === 0xb0 ? 1 : osz); return;
    case 0xb2: case 0xb4: case 0xb5: {
      modrm(cpu);
      if (d.isReg) throw new CpuFault(VEC_UD);
      loadFarPointer(cpu, op === 0xb2 ? SS : op === 0xb4 ? FS : GS);
      return;
    }
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      modrm(cpu);
      const srcSize = (op & 1) === 0 ? 1 : 2;
      let v = readRm(cpu, srcSize);
      if (op >= 0xbe) v = srcSize === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
      if (osz === 8) cpu.setNum(d.reg, v);
      else writeReg(cpu, osz, osz === 2 ? v & 0xffff : v >>> 0);
      return;
    }
    case 0xbc: case 0xbd: {
      modrm(cpu);
      if (osz === 8) {
        const v = readRm64(cpu);
        if (v !== 0n) {
          const s = v.toString(2);
          cpu.set64(d.reg, op === 0xbc ? BigInt(s.length - 1 - s.lastIndexOf('1')) : BigInt(s.length - 1));
        }
        setArith(cpu, (v === 0n ? 0x40 : 0) | ((v >> 63n) !== 0n ? 0x80 : 0) | (szp(Number(v & 0xffn), 1) & 4));
        return;
      }
      const v = readRm(cpu, osz);
      if (v !== 0) writeReg(cpu, osz, op === 0xbc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v));
      else if (osz === 4) cpu.rh[d.reg] = 0;
      // QEMU: flags as a logic operation on the source (ZF is the only defined one).
      cpu.ccOp = CC_LOGIC;
      cpu.ccR = v;
      cpu.ccSz = osz;
      return;
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op === 0xc0 ? 1 : osz;
      modrm(cpu);
      if (d.lock && d.isReg) throw new CpuFault(VEC_UD);
      if (size === 8) {
        const dst = readRm64(cpu);
        const src = cpu.get64(d.reg);
        const sum = alu64(cpu, 0, dst, src);
        writeRm64(cpu, sum);
        cpu.set64(d.reg, dst);
        return;
      }
      const dst = readRm(cpu, size);
      const src = readReg(cpu, size);
      const sv = saveCc(cpu);
      const sum = alu(cpu, 0, dst, src, size);
      try { writeRm(cpu, size, sum); } catch (e) { restoreCc(cpu, sv); throw e; }
      writeReg(cpu, size, dst);
      return;
    }
    case 0xc3: { // MOVNTI
      modrm(cpu);
      if (d.isReg) throw new CpuFault(VEC_UD);
      if (osz === 8) writeRm64(cpu, cpu.get64(d.reg)); else writeRm(cpu, 4, cpu.r[d.reg]! >>> 0);
      return;
    }
    case 0xc7: cmpxchg8b(cpu); return;
    case 0xae: group15(cpu); return;
    default:
      if (sse(cpu, op)) return;
      cpu.bus.diagnostics.report('cpu-undefined-opcode', () => `0F ${op.toString(16).padStart(2, '0')} at ${cpu.sel[CS]!.toString(16)}:${cpu.startIp.toString(16)} raised #UD`);
      throw new CpuFault(VEC_UD);
  }
}

function lockable(op: number): boolean {
  return op === 0xab || op === 0xb3 || op === 0xbb || op === 0xba || op === 0xb0 || op === 0xb1 || op === 0xc0 || op === 0xc1 || op === 0xc7;
}

function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff);
}

function bitOp(cpu: Cpu, op: number, imm: boolean): void {
  const osz = d.osz;
  modrm(cpu, imm ? 1 : 0);
  let kind: number;
  let bitOffset: number;
  if (imm) {
    kind = d.reg & 7;
    if (kind < 4) throw new CpuFault(VEC_UD);
    kind -= 4;
    bitOffset = fetch8(cpu) & (osz * 8 - 1);
  } else {
    kind = op === 0xa3 ? 0 : op === 0xab ? 1 : op === 0xb3 ? 2 : 3;
    bitOffset = osz === 8 ? cpu.getNum(d.reg) : osz === 4 ? cpu.r[d.reg]! | 0 : (cpu.r[d.reg]! << 16) >> 16;
  }
  if (d.lock && (kind === 0 || d.isReg)) throw new CpuFault(VEC_UD);
  const bits = osz * 8;
  if (!d.isReg && !imm) {
    // Register bit offsets address a bit string: move the operand by whole units.
    const unit = Math.floor(bitOffset / bits);
    d.off += unit * osz;
    if (d.asz === 2) d.off &= 0xffff;
    else if (d.asz === 4) d.off >>>= 0;
    bitOffset -= unit * bits;
  } else {
    bitOffset &= bits - 1;
  }
  if (osz === 8) {
    const v = readRm64(cpu);
    const mask = 1n << BigInt(bitOffset);
    const cf = (v & mask) !== 0n ? 1 : 0;
    if (kind !== 0) writeRm64(cpu, kind === 1 ? v | mask : kind === 2 ? v & ~mask : v ^ mask);
    cpu.fl = (cpu.getFlags() & ~F_CF) | cf;
    return;
  }
  const v = readRm(cpu, osz);
  const mask = (1 << bitOffset) >>> 0;
  const cf = (v & mask) !== 0 ? 1 : 0;
  if (kind !== 0) {
    const r = kind === 1 ? v | mask : kind === 2 ? v & ~mask : v ^ mask;
    writeRm(cpu, osz, osz === 4 ? r >>> 0 : r & 0xffff);
  }
  cpu.fl = (cpu.getFlags() & ~F_CF) | cf;
}

function cmpxchg(cpu: Cpu, size: number): void {
  modrm(cpu);
  if (d.lock && d.isReg) throw new CpuFault(VEC_UD);
  if (size === 8) {
    const dst = readRm64(cpu);
    const acc = cpu.get64(RAX);
    alu64(cpu, 7, acc, dst);
    if (acc === dst) writeRm64(cpu, cpu.get64(d.reg));
    else {
      writeRm64(cpu, dst);
      cpu.set64(RAX, dst);
    }
    return;
  }
  const dst = readRm(cpu, size);
  const acc = size === 1 ? cpu.r[RAX]! & 0xff : size === 2 ? cpu.r[RAX]! & 0xffff : cpu.r[RAX]! >>> 0;
  const sv = saveCc(cpu);
  alu(cpu, 7, acc, dst, size);
  try {
    if (acc === dst) writeRm(cpu, size, readReg(cpu, size));
    else {
      writeRm(cpu, size, dst);
      if (size === 1) cpu.set8(RAX, false, dst); else if (size === 2) cpu.set16(RAX, dst); else cpu.set32(RAX, dst);
    }
  } catch (e) {
    restoreCc(cpu, sv);
    throw e;
  }
}

function cmpxchg8b(cpu: Cpu): void {
  modrm(cpu);
  if (d.isReg || (d.reg & 7) !== 1) throw new CpuFault(VEC_UD);
  if (d.rexW) {
    if ((d.off % 16) !== 0) throw new CpuFault(VEC_GP, 0);
    const a = lin(cpu, 16);
    const lo = cpu.read64(a);
    const hi = cpu.read64(a + 8);
    const eq = lo === cpu.get64(RAX) && hi === cpu.get64(RDX);
    if (eq) {
      cpu.probeWrite(a, 16);
      writeQ(cpu, a, cpu.get64(3));
      writeQ(cpu, a + 8, cpu.get64(1));
    } else {
      cpu.probeWrite(a, 16);
      writeQ(cpu, a, lo);
      writeQ(cpu, a + 8, hi);
      cpu.set64(RAX, lo);
      cpu.set64(RDX, hi);
    }
    cpu.fl = (cpu.getFlags() & ~0x40) | (eq ? 0x40 : 0);
    return;
  }
  const a = lin(cpu, 8);
  const lo = cpu.read32(a);
  const hi = cpu.read32(cpu.code64 ? a + 4 : (a + 4) % TWO32);
  const eq = lo === cpu.r[RAX]! >>> 0 && hi === cpu.r[RDX]! >>> 0;
  if (eq) cpu.write64(a, cpu.r[3]!, cpu.r[1]!);
  else {
    cpu.write64(a, lo, hi);
    cpu.set32(RAX, lo);
    cpu.set32(RDX, hi);
  }
  cpu.fl = (cpu.getFlags() & ~0x40) | (eq ? 0x40 : 0);
}

function writeQ(cpu: Cpu, a: number, v: bigint): void {
  cpu.write64(a, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
}

function group6(cpu: Cpu): void {
  modrm(cpu);
  requirePm(cpu);
  const sub = d.reg & 7;
  switch (sub) {
    case 0: case 1: { // SLDT, STR
      const v = cpu.sel[sub === 0 ? LDTR : TR]!;
      if (d.isReg) cpu.setReg(d.rm, d.osz === 8 ? 4 : d.osz, v);
      else writeRm(cpu, 2, v);
      return;
    }
    case 2: requireCpl0(cpu); lldt(cpu, readRm(cpu, 2)); return;
    case 3: requireCpl0(cpu); ltr(cpu, readRm(cpu, 2)); return;
    case 4: case 5: { // VERR, VERW
      const sel = readRm(cpu, 2);
      cpu.fl = (cpu.getFlags() & ~0x40) | (verify(cpu, sel, sub === 5) ? 0x40 : 0);
      return;
    }
    default: throw new CpuFault(VEC_UD);
  }
}

function verify(cpu: Cpu, sel: number, write: boolean): boolean {
  if ((sel & 0xfffc) === 0) return false;
  const desc = readDescriptor(cpu, sel);
  if (desc === undefined) return false;
  const e2 = desc[1];
  if ((e2 & 0x1000) === 0) return false;
  const dpl = (e2 >> 13) & 3;
  const code = (e2 & 0x800) !== 0;
  const conforming = code && (e2 & 0x400) !== 0;
  if (!conforming && (dpl < cpu.cpl || dpl < (sel & 3))) return false;
  if (write) return !code && (e2 & 0x200) !== 0;
  return !code || (e2 & 0x200) !== 0;
}

/**
 * The GDT entry LLDT or LTR names (never the LDT): its checks (#GP, #NP), and its base, with the
 * upper half from the 16-byte form in long mode. Returns the dwords and the entry's address.
 */
function gdtSystemDescriptor(cpu: Cpu, selector: number, types: readonly number[]): { e1: number; e2: number; at: number; base: number; long: boolean } {
  const err = selector & 0xfffc;
  if ((selector & 4) !== 0) throw new CpuFault(VEC_GP, err);
  const long = (cpu.efer & EFER_LMA) !== 0;
  const index = selector & ~7;
  if (index + (long ? 15 : 7) > cpu.gdtLimit) throw new CpuFault(VEC_GP, err);
  const at = cpu.gdtBase + index;
  const e1 = cpu.readSystem32(at);
  const e2 = cpu.readSystem32(at + 4);
  if ((e2 & 0x1000) !== 0 || !types.includes((e2 >> 8) & 0xf)) throw new CpuFault(VEC_GP, err);
  if ((e2 & 0x8000) === 0) throw new CpuFault(11, err);
  let base = descBase(e1, e2);
  if (long) base += (cpu.readSystem32(at + 8) | 0) * TWO32;
  return { e1, e2, at, base, long };
}

function lldt(cpu: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) {
    cpu.sel[LDTR] = selector;
    cpu.segBase[LDTR] = 0;
    cpu.segLimit[LDTR] = 0;
    return;
  }
  const { e1, e2, base } = gdtSystemDescriptor(cpu, selector, [2]);
  cpu.setSegment(LDTR, selector, base, descLimit(e1, e2), e2);
}

function ltr(cpu: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) {
    cpu.setSegment(TR, selector, 0, 0, 0);
    return;
  }
  const { e1, e2, at, base, long } = gdtSystemDescriptor(cpu, selector, [1, 9]);
  if (long && ((cpu.readSystem32(at + 12) >> 8) & 0xf) !== 0) throw new CpuFault(VEC_GP, selector & 0xfffc);
  // The cache keeps the descriptor as read; memory gets the busy bit.
  cpu.setSegment(TR, selector, base, descLimit(e1, e2), e2);
  cpu.writeSystem32(at + 4, e2 | 0x200);
}

function larLsl(cpu: Cpu, lar: boolean): void {
  requirePm(cpu);
  modrm(cpu);
  const sel = readRm(cpu, 2);
  const f = cpu.getFlags() & ~0x40;
  const desc = (sel & 0xfffc) === 0 ? undefined : readDescriptor(cpu, sel);
  let ok = false;
  if (desc !== undefined) {
    const [e1, e2] = desc;
    const dpl = (e2 >> 13) & 3;
    const conformingCode = (e2 & 0x1800) === 0x1800 && (e2 & 0x400) !== 0;
    let typeOk: boolean;
    if ((e2 & 0x1000) !== 0) typeOk = true;
    else {
      const type = (e2 >> 8) & 0xf;
      typeOk = lar ? [1, 2, 3, 4, 5, 9, 11, 12].includes(type) : [1, 2, 3, 9, 11].includes(type);
    }
    if (typeOk && (conformingCode || (dpl >= cpu.cpl && dpl >= (sel & 3)))) {
      ok = true;
      const v = lar ? (e2 & 0x00f0ff00) >>> 0 : descLimit(e1, e2) >>> 0;
      if (d.osz === 8) cpu.setNum(d.reg, v); else writeReg(cpu, d.osz, d.osz === 2 ? v & 0xffff : v);
    }
  }
  cpu.fl = f | (ok ? 0x40 : 0);
}

function group7(cpu: Cpu): void {
  const b = peek8(cpu);
  if (b >= 0xc0) {
    fetch8(cpu);
    switch (b) {
      case 0xf8: // SWAPGS
        if (!cpu.code64) throw new CpuFault(VEC_UD);
        requireCpl0(cpu);
        [cpu.segBase[GS], cpu.kernelGsBase] = [cpu.kernelGsBase, cpu.segBase[GS]!];
        return;
      case 0xd0: throw new CpuFault(VEC_UD); // XGETBV: no XSAVE on qemu64
      default: break;
    }
    const sub = (b >> 3) & 7;
    const rm = (b & 7) | ((d.rex & 1) << 3);
    if (sub === 4) { // SMSW reg
      const v = cpu.cr0 >>> 0;
      if (d.osz === 2) cpu.set16(rm, v); else if (d.osz === 4) cpu.set32(rm, v); else cpu.setNum(rm, v);
      return;
    }
    if (sub === 6) { // LMSW reg
      requireCpl0(cpu);
      lmsw(cpu, cpu.r[rm]! & 0xffff);
      return;
    }
    throw new CpuFault(VEC_UD);
  }
  modrm(cpu);
  const sub = d.reg & 7;
  switch (sub) {
    case 0: case 1: { // SGDT, SIDT
      const base = sub === 0 ? cpu.gdtBase : cpu.idtBase;
      const limit = sub === 0 ? cpu.gdtLimit : cpu.idtLimit;
      const a = lin(cpu, 2);
      cpu.probeWrite(a, cpu.code64 ? 10 : 6);
      cpu.write16(a, limit);
      if (cpu.code64) cpu.write64Num(linAt(cpu, 2, 8), base);
      else cpu.write32(linAt(cpu, 2, 4), d.osz === 2 ? base & 0xffffff : base >>> 0);
      return;
    }
    case 2: case 3: { // LGDT, LIDT
      requireCpl0(cpu);
      const limit = cpu.read16(lin(cpu, 2));
      let base: number;
      if (cpu.code64) base = cpu.read64Num(linAt(cpu, 2, 8));
      else {
        base = cpu.read32(linAt(cpu, 2, 4));
        if (d.osz === 2) base &= 0xffffff;
      }
      if (sub === 2) { cpu.gdtBase = base; cpu.gdtLimit = limit; } else { cpu.idtBase = base; cpu.idtLimit = limit; }
      return;
    }
    case 4: writeRm(cpu, 2, cpu.cr0 & 0xffff); return; // SMSW m16
    case 6: requireCpl0(cpu); lmsw(cpu, readRm(cpu, 2)); return;
    case 7: // INVLPG
      requireCpl0(cpu);
      cpu.invalidatePage(cpu.code64 ? (d.seg >= FS ? cpu.segBase[d.seg]! + d.off : d.off) : (cpu.segBase[d.seg]! + d.off) % TWO32);
      return;
    default: throw new CpuFault(VEC_UD);
  }
}

function lmsw(cpu: Cpu, v: number): void {
  // LMSW changes PE, MP, EM, TS and can set but not clear PE.
  const cr0 = ((cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & 1)) >>> 0;
  writeControl(cpu, 0, BigInt(cr0));
}


function group15(cpu: Cpu): void {
  const b = peek8(cpu);
  if (b >= 0xc0) {
    fetch8(cpu);
    const sub = (b >> 3) & 7;
    if (sub >= 5) return; // LFENCE, MFENCE, SFENCE
    throw new CpuFault(VEC_UD);
  }
  modrm(cpu);
  const sub = d.reg & 7;
  if (sub === 7) return; // CLFLUSH
  if (sub > 3) throw new CpuFault(VEC_UD);
  // FXSAVE/FXRSTOR: #NM for EM or TS; LDMXCSR/STMXCSR: #UD for EM or no OSFXSR, #NM for TS.
  if (sub <= 1) {
    if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0) throw new CpuFault(VEC_NM);
  } else {
    if ((cpu.cr0 & CR0_EM) !== 0 || (cpu.cr4 & CR4_OSFXSR) === 0) throw new CpuFault(VEC_UD);
    if ((cpu.cr0 & CR0_TS) !== 0) throw new CpuFault(VEC_NM);
  }
  const a = lin(cpu, sub >= 2 ? 4 : 512);
  switch (sub) {
    case 0: fxsave(cpu, a); return;
    case 1: fxrstor(cpu, a); return;
    case 2: {
      const v = cpu.read32(a);
      if ((v & ~0xffff) !== 0) throw new CpuFault(VEC_GP, 0);
      cpu.mxcsr = v;
      return;
    }
    default: cpu.write32(a, cpu.mxcsr); return;
  }
}

/** FXSAVE as QEMU 7.2 writes it: FIP/FDP/FOP as zeros, XMM8-15 only in 64-bit mode, reserved bytes untouched. */
function fxsave(cpu: Cpu, a: number): void {
  if (a % 16 !== 0) throw new CpuFault(VEC_GP, 0);
  cpu.probeWrite(a, 512);
  cpu.write16(a, cpu.fcw);
  cpu.write16(a + 2, cpu.fsw);
  cpu.write16(a + 4, cpu.ftw & 0xff);
  cpu.write64(a + 8, 0, 0);
  cpu.write64(a + 16, 0, 0);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 10; j++) cpu.write8(a + 32 + i * 16 + j, cpu.st[i * 10 + j]!);
  if ((cpu.cr4 & CR4_OSFXSR) !== 0) {
    cpu.write32(a + 24, cpu.mxcsr);
    cpu.write32(a + 28, 0xffff);
    const n = cpu.code64 ? 16 : 8;
    for (let i = 0; i < n * 16; i++) cpu.write8(a + 160 + i, cpu.xmm[i]!);
  }
}

function fxrstor(cpu: Cpu, a: number): void {
  if (a % 16 !== 0) throw new CpuFault(VEC_GP, 0);
  const mxcsr = cpu.read32(a + 24);
  if ((cpu.cr4 & CR4_OSFXSR) !== 0 && (mxcsr & ~0xffff) !== 0) throw new CpuFault(VEC_GP, 0);
  cpu.fcw = cpu.read16(a);
  cpu.fsw = cpu.read16(a + 2);
  cpu.ftw = cpu.read8(a + 4);
  for (let i = 0; i < 80; i++) cpu.st[i] = cpu.read8(a + 32 + Math.floor(i / 10) * 16 + (i % 10));
  if ((cpu.cr4 & CR4_OSFXSR) !== 0) {
    cpu.mxcsr = mxcsr;
    const n = cpu.code64 ? 16 : 8;
    for (let i = 0; i < n * 16; i++) cpu.xmm[i] = cpu.read8(a + 160 + i);
  }
}

