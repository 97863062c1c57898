/**
 * Lazy arithmetic flags. The common ALU instructions record their operands and raw result
 * (ccOp, ccA, ccB, ccR, ccSz) instead of computing six flags; a flag is computed when something
 * reads it, and materializeFlags folds them into EFLAGS when the whole word is needed.
 *
 * ccR holds the raw result: for CC_ADD the unmasked sum a+b+carry (so CF is ccR > mask), for CC_SUB
 * the unmasked difference a-b-borrow (CF is ccR < 0), otherwise the masked result. INC and DEC
 * keep the CF that was current before them in ccCf.
 */

import type { Cpu } from './cpu.js';

export const CC_NONE = 0;
export const CC_ADD = 1;
export const CC_SUB = 2;
export const CC_LOGIC = 3;
export const CC_INC = 4;
export const CC_DEC = 5;

/** PF for each byte value: 4 when the number of set bits is even. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let b = i; b !== 0; b >>= 1) bits += b & 1;
  PARITY[i] = (bits & 1) === 0 ? 4 : 0;
}

export function maskOf(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}
export function signOf(size: number): number {
  return size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x80000000;
}

function result(cpu: Cpu): number {
  const sz = cpu.ccSz;
  return sz === 4 ? cpu.ccR >>> 0 : cpu.ccR & (sz === 1 ? 0xff : 0xffff);
}

export function getCF(cpu: Cpu): number {
  switch (cpu.ccOp) {
    case CC_NONE: return cpu.fl & 1;
    case CC_ADD: return cpu.ccR > maskOf(cpu.ccSz) ? 1 : 0;
    case CC_SUB: return cpu.ccR < 0 ? 1 : 0;
    case CC_LOGIC: return 0;
    default: return cpu.ccCf;
  }
}

export function getZF(cpu: Cpu): boolean {
  return cpu.ccOp === CC_NONE ? (cpu.fl & 0x40) !== 0 : result(cpu) === 0;
}

export function getSF(cpu: Cpu): boolean {
  return cpu.ccOp === CC_NONE ? (cpu.fl & 0x80) !== 0 : (result(cpu) & signOf(cpu.ccSz)) !== 0;
}

export function getPF(cpu: Cpu): boolean {
  return cpu.ccOp === CC_NONE ? (cpu.fl & 4) !== 0 : PARITY[result(cpu) & 0xff] !== 0;
}

export function getOF(cpu: Cpu): boolean {
  const sign = signOf(cpu.ccSz);
  switch (cpu.ccOp) {
    case CC_NONE: return (cpu.fl & 0x800) !== 0;
    case CC_ADD: {
      const r = result(cpu);
      return ((cpu.ccA ^ r) & (cpu.ccB ^ r) & sign) !== 0;
    }
    case CC_SUB: {
      const r = result(cpu);
      return ((cpu.ccA ^ cpu.ccB) & (cpu.ccA ^ r) & sign) !== 0;
    }
    case CC_LOGIC: return false;
    case CC_INC: return result(cpu) === sign;
    default: return result(cpu) === sign - 1;
  }
}

function getAF(cpu: Cpu): number {
  if (cpu.ccOp === CC_NONE) return cpu.fl & 0x10;
  if (cpu.ccOp === CC_LOGIC) return 0;
  return (cpu.ccA ^ cpu.ccB ^ result(cpu)) & 0x10;
}

/** Folds the lazy flags into cpu.fl. */
export function materializeFlags(cpu: Cpu): void {
  if (cpu.ccOp === CC_NONE) return;
  const f = getCF(cpu) | (getPF(cpu) ? 4 : 0) | getAF(cpu) | (getZF(cpu) ? 0x40 : 0) | (getSF(cpu) ? 0x80 : 0) | (getOF(cpu) ? 0x800 : 0);
  cpu.fl = (cpu.fl & ~0x8d5) | f;
  cpu.ccOp = CC_NONE;
}

/** Sets the six arithmetic flags eagerly (CF 1, PF 4, AF 0x10, ZF 0x40, SF 0x80, OF 0x800). */
export function setArith(cpu: Cpu, f: number): void {
  if (cpu.ccOp !== CC_NONE) materializeFlags(cpu);
  cpu.fl = (cpu.fl & ~0x8d5) | (f & 0x8d5);
}

/** ZF, SF and PF of a masked result, as the bits of EFLAGS. */
export function szp(res: number, size: number): number {
  return (res === 0 ? 0x40 : 0) | ((res & signOf(size)) !== 0 ? 0x80 : 0) | PARITY[res & 0xff]!;
}

/** Condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc). */
export function condition(cpu: Cpu, cc: number): boolean {
  let t: boolean;
  switch (cc >> 1) {
    case 0: t = getOF(cpu); break;
    case 1: t = getCF(cpu) !== 0; break;
    case 2: t = getZF(cpu); break;
    case 3: t = getCF(cpu) !== 0 || getZF(cpu); break;
    case 4: t = getSF(cpu); break;
    case 5: t = getPF(cpu); break;
    case 6: t = getSF(cpu) !== getOF(cpu); break;
    default: t = getZF(cpu) || getSF(cpu) !== getOF(cpu); break;
  }
  return (cc & 1) === 0 ? t : !t;
}
