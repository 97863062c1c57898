/**
 * Instruction fetch, prefixes, ModRM/SIB decoding and operand access. The decode state of the
 * instruction being executed lives in the module-level object `d` (one instruction runs at a
 * time on a thread), so the execution functions share it without allocation.
 */

import { CS, DS, RBP, RSP, SS, TWO32, type Cpu } from '../cpu.js';
import { CpuFault, VEC_GP } from '../faults.js';

export const d = {
  /** Operand size in bytes: 2, 4 or 8. */
  osz: 4,
  /** Address size in bytes: 2, 4 or 8. */
  asz: 4,
  /** Segment override (ES..GS) or -1. */
  segOverride: -1,
  /** 0, 0xf2 (REPNE) or 0xf3 (REP/REPE). */
  rep: 0,
  lock: false,
  /** Operand-size prefix present (also selects SSE forms). */
  opsizePrefix: false,
  /** The REX byte, 0 when absent. */
  rex: 0,
  rexW: false,
  // ModRM
  mod: 0,
  /** ModRM reg field, extended by REX.R. */
  reg: 0,
  /** ModRM rm field, extended by REX.B when it names a register. */
  rm: 0,
  isReg: false,
  /** The memory operand is RIP-relative (its offset already counts the immediate passed to modrm). */
  ripRel: false,
  /** The base register of a memory operand (-1 for none); POP r/m needs to know if it is RSP. */
  base: -1,
  /** Effective segment and offset (masked by the address size) of a memory operand. */
  seg: DS,
  off: 0,
};

/** Next instruction byte at CS:RIP. */
export function fetch8(cpu: Cpu): number {
  const ip = cpu.ip;
  const i = ip - cpu.fetchBase;
  if (i >= 0 && i < cpu.fetchLen && cpu.fetched < 15) {
    cpu.fetched++;
    cpu.ip = ip + 1;
    return cpu.fetchArr[cpu.fetchOff + i]!;
  }
  return fetchSlow(cpu);
}

/** Outside the code window: checks the 15-byte and CS limits, moves the window, or reads a hole. */
function fetchSlow(cpu: Cpu): number {
  if (++cpu.fetched > 15) throw new CpuFault(VEC_GP, 0);
  const ip = cpu.ip;
  let lin: number;
  if (cpu.code64) {
    lin = ip;
  } else {
    if (ip > cpu.segLimit[CS]!) throw new CpuFault(VEC_GP, 0);
    lin = cpu.segBase[CS]! + ip;
    if (lin >= TWO32) lin -= TWO32;
  }
  const b = cpu.openCodeWindow(ip, lin) ? cpu.fetchArr[cpu.fetchOff + (ip - cpu.fetchBase)]! : cpu.fetch8(lin);
  cpu.ip = ip + 1;
  return b;
}

/** The next instruction byte without consuming it (to choose between register and memory forms). */
export function peek8(cpu: Cpu): number {
  const ip = cpu.ip;
  const fetched = cpu.fetched;
  const b = fetch8(cpu);
  cpu.ip = ip;
  cpu.fetched = fetched;
  return b;
}

export function fetch16(cpu: Cpu): number {
  const i = cpu.ip - cpu.fetchBase;
  if (i >= 0 && i + 1 < cpu.fetchLen && cpu.fetched < 14) {
    const a = cpu.fetchArr;
    const o = cpu.fetchOff + i;
    cpu.fetched += 2;
    cpu.ip += 2;
    return a[o]! | (a[o + 1]! << 8);
  }
  return fetch8(cpu) | (fetch8(cpu) << 8);
}

export function fetch32(cpu: Cpu): number {
  const i = cpu.ip - cpu.fetchBase;
  if (i >= 0 && i + 3 < cpu.fetchLen && cpu.fetched < 12) {
    const a = cpu.fetchArr;
    const o = cpu.fetchOff + i;
    cpu.fetched += 4;
    cpu.ip += 4;
    return (a[o]! | (a[o + 1]! << 8) | (a[o + 2]! << 16) | (a[o + 3]! << 24)) >>> 0;
  }
  return (fetch16(cpu) | (fetch16(cpu) << 16)) >>> 0;
}

/** Signed immediate of `size` bytes (1, 2, 4) as a number. */
export function fetchSigned(cpu: Cpu, size: number): number {
  if (size === 1) return (fetch8(cpu) << 24) >> 24;
  if (size === 2) return (fetch16(cpu) << 16) >> 16;
  return fetch32(cpu) | 0;
}

/** Immediate for an operand of `size` (8 takes a sign-extended imm32), masked unsigned for 1/2/4. */
export function fetchImm(cpu: Cpu, size: number): number {
  if (size === 1) return fetch8(cpu);
  if (size === 2) return fetch16(cpu);
  if (size === 4) return fetch32(cpu);
  return fetch32(cpu) | 0;
}

/**
 * Decodes ModRM (and SIB and displacement). `immBytes` is the size of the immediate that follows,
 * which RIP-relative addressing needs.
 */
export function modrm(cpu: Cpu, immBytes = 0): void {
  const b = fetch8(cpu);
  const rex = d.rex;
  d.mod = b >> 6;
  d.reg = ((b >> 3) & 7) | ((rex & 4) << 1);
  const rm = b & 7;
  if (d.mod === 3) {
    d.rm = rm | ((rex & 1) << 3);
    d.isReg = true;
    return;
  }
  d.isReg = false;
  d.ripRel = false;
  d.base = -1;
  let seg = DS;
  let off: number;
  if (d.asz === 2) {
    switch (rm) {
      case 0: off = cpu.r[3]! + cpu.r[6]!; break;
      case 1: off = cpu.r[3]! + cpu.r[7]!; break;
      case 2: off = cpu.r[5]! + cpu.r[6]!; seg = SS; break;
      case 3: off = cpu.r[5]! + cpu.r[7]!; seg = SS; break;
      case 4: off = cpu.r[6]!; break;
      case 5: off = cpu.r[7]!; break;
      case 6:
        if (d.mod === 0) off = fetch16(cpu);
        else { off = cpu.r[5]!; seg = SS; }
        break;
      default: off = cpu.r[3]!; break;
    }
    if (d.mod === 1) off += fetchSigned(cpu, 1);
    else if (d.mod === 2) off += fetch16(cpu);
    off &= 0xffff;
  } else {
    const wide = d.asz === 8;
    let base = rm;
    off = 0;
    let ripRelative = false;
    if (rm === 4) {
      const sib = fetch8(cpu);
      const index = ((sib >> 3) & 7) | ((rex & 2) << 2);
      base = sib & 7;
      if (index !== 4) off = (wide ? cpu.getNum(index) : cpu.r[index]! >>> 0) * (1 << (sib >> 6));
      if (base === 5 && d.mod === 0) {
        off += fetchSigned(cpu, 4);
        base = -1;
      }
    } else if (rm === 5 && d.mod === 0) {
      off = fetchSigned(cpu, 4);
      base = -1;
      ripRelative = cpu.code64;
    }
    if (base >= 0) {
      const reg = base | ((rex & 1) << 3);
      off += wide ? cpu.getNum(reg) : cpu.r[reg]! >>> 0;
      d.base = reg;
      if (reg === RSP || reg === RBP) seg = SS;
    }
    if (d.mod === 1) off += fetchSigned(cpu, 1);
    else if (d.mod === 2) off += fetchSigned(cpu, 4);
    if (ripRelative) {
      off += cpu.ip + immBytes;
      d.ripRel = true;
    }
    // A 32-bit address size (also in 64-bit mode) wraps and zero-extends. A 64-bit sum beyond 2^53
    // cannot be canonical unless registers hold huge values; it is made non-canonical (#GP).
    if (!wide) off = off >>> 0;
    else if (!Number.isSafeInteger(off)) off = 2 ** 62;
  }
  d.seg = d.segOverride >= 0 ? d.segOverride : seg;
  d.off = off;
}


/** Linear address of the memory operand for `size` bytes. */
export function lin(cpu: Cpu, size: number): number {
  return cpu.linear(d.seg, d.off, size);
}

/** Linear address of `off + delta` in the operand's segment (for multi-part operands). */
export function linAt(cpu: Cpu, delta: number, size: number): number {
  let off = d.off + delta;
  if (d.asz === 2) off &= 0xffff;
  else if (d.asz === 4) off >>>= 0;
  return cpu.linear(d.seg, off, size);
}

// Operand access: r/m operand of the current ModRM, sizes 1, 2, 4 as unsigned numbers.

export function readRm(cpu: Cpu, size: number): number {
  if (d.isReg) {
    if (size === 1) return cpu.get8(d.rm, d.rex !== 0);
    return size === 2 ? cpu.r[d.rm]! & 0xffff : cpu.r[d.rm]! >>> 0;
  }
  const a = cpu.linear(d.seg, d.off, size);
  return size === 1 ? cpu.read8(a) : size === 2 ? cpu.read16(a) : cpu.read32(a);
}

export function writeRm(cpu: Cpu, size: number, v: number): void {
  if (d.isReg) {
    if (size === 1) cpu.set8(d.rm, d.rex !== 0, v);
    else if (size === 2) cpu.set16(d.rm, v);
    else cpu.set32(d.rm, v);
    return;
  }
  const a = cpu.linear(d.seg, d.off, size);
  if (size === 1) cpu.write8(a, v);
  else if (size === 2) cpu.write16(a, v);
  else cpu.write32(a, v);
}

export function readReg(cpu: Cpu, size: number): number {
  if (size === 1) return cpu.get8(d.reg, d.rex !== 0);
  return size === 2 ? cpu.r[d.reg]! & 0xffff : cpu.r[d.reg]! >>> 0;
}

export function writeReg(cpu: Cpu, size: number, v: number): void {
  if (size === 1) cpu.set8(d.reg, d.rex !== 0, v);
  else if (size === 2) cpu.set16(d.reg, v);
  else cpu.set32(d.reg, v);
}

// 64-bit operands as bigint.

export function readRm64(cpu: Cpu): bigint {
  if (d.isReg) return cpu.get64(d.rm);
  return cpu.read64(cpu.linear(d.seg, d.off, 8));
}

export function writeRm64(cpu: Cpu, v: bigint): void {
  if (d.isReg) {
    cpu.set64(d.rm, v);
    return;
  }
  const a = cpu.linear(d.seg, d.off, 8);
  cpu.write64(a, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
}

/** Copies the 64-bit r/m operand into register `reg` or back, without bigint (MOV). */
export function moveRm64ToReg(cpu: Cpu, reg: number): void {
  if (d.isReg) {
    cpu.r[reg] = cpu.r[d.rm]!;
    cpu.rh[reg] = cpu.rh[d.rm]!;
    return;
  }
  const a = cpu.linear(d.seg, d.off, 8);
  const lo = cpu.read32(a);
  const hi = cpu.read32(cpu.code64 ? a + 4 : (a + 4) % TWO32);
  cpu.r[reg] = lo;
  cpu.rh[reg] = hi;
}

export function moveRegToRm64(cpu: Cpu, reg: number): void {
  if (d.isReg) {
    cpu.r[d.rm] = cpu.r[reg]!;
    cpu.rh[d.rm] = cpu.rh[reg]!;
    return;
  }
  cpu.write64(cpu.linear(d.seg, d.off, 8), cpu.r[reg]!, cpu.rh[reg]!);
}

// Stack.

/** Linear address of the stack slot at stack pointer `sp`. */
function stackLin(cpu: Cpu, sp: number, size: number): number {
  return cpu.linear(SS, sp, size);
}

function spMinus(cpu: Cpu, n: number): number {
  const s = cpu.stackSize;
  const sp = cpu.getSp() - n;
  return s === 2 ? sp & 0xffff : s === 4 ? sp >>> 0 : sp;
}

function spPlus(cpu: Cpu, n: number): number {
  const s = cpu.stackSize;
  const sp = cpu.getSp() + n;
  return s === 2 ? sp & 0xffff : s === 4 ? sp >>> 0 : sp;
}

/** PUSH of `size` bytes (2, 4 or 8; 8 as a number, exact below 2^53). */
export function push(cpu: Cpu, size: number, v: number): void {
  const sp = spMinus(cpu, size);
  const a = stackLin(cpu, sp, size);
  if (size === 2) cpu.write16(a, v);
  else if (size === 4) cpu.write32(a, v);
  else cpu.write64Num(a, v);
  cpu.setSp(sp);
}

/** PUSH of a 64-bit register image (lo/hi dwords). */
export function push64(cpu: Cpu, lo: number, hi: number): void {
  const sp = spMinus(cpu, 8);
  cpu.write64(stackLin(cpu, sp, 8), lo, hi);
  cpu.setSp(sp);
}

export function pop(cpu: Cpu, size: number): number {
  const sp = cpu.getSp();
  const a = stackLin(cpu, sp, size);
  const v = size === 2 ? cpu.read16(a) : size === 4 ? cpu.read32(a) : cpu.read64Num(a);
  cpu.setSp(spPlus(cpu, size));
  return v;
}

/** Reads the stack `delta` bytes above the stack pointer without popping. */
export function peek(cpu: Cpu, delta: number, size: number): number {
  const s = cpu.stackSize;
  let sp = cpu.getSp() + delta;
  sp = s === 2 ? sp & 0xffff : s === 4 ? sp >>> 0 : sp;
  const a = stackLin(cpu, sp, size);
  return size === 2 ? cpu.read16(a) : size === 4 ? cpu.read32(a) : cpu.read64Num(a);
}

/** Adds `n` to the stack pointer (RET imm, LEAVE's pops ...). */
export function addSp(cpu: Cpu, n: number): void {
  cpu.setSp(spPlus(cpu, n));
}

/** Default segment for string sources and XLAT, honouring the override. */
export function dataSeg(): number {
  return d.segOverride >= 0 ? d.segOverride : DS;
}

