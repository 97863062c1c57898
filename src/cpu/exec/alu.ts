/**
 * Integer arithmetic with exact flags: the eight ALU operations, INC/DEC/NEG, shifts and rotates,
 * multiply and divide, for 8/16/32-bit operands as numbers and 64-bit operands as bigint. Where
 * the architecture leaves a flag undefined, the value is QEMU 7.2's (AF 0 after logic, shifts and
 * multiplies; SF/ZF/PF of the low half after MUL; flags untouched by DIV).
 */

import { F_CF, F_OF, type Cpu } from '../cpu.js';
import { CpuFault, VEC_DE } from '../faults.js';
import { CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SUB, PARITY, getCF, maskOf, setArith, signOf, szp } from '../flags.js';

export const OP_ADD = 0;
export const OP_OR = 1;
export const OP_ADC = 2;
export const OP_SBB = 3;
export const OP_AND = 4;
export const OP_SUB = 5;
export const OP_XOR = 6;
export const OP_CMP = 7;

/** One of the eight ALU operations on masked unsigned operands; returns the masked result. */
export function alu(cpu: Cpu, op: number, a: number, b: number, size: number): number {
  switch (op) {
    case OP_ADD:
    case OP_ADC: {
      const raw = a + b + (op === OP_ADC ? getCF(cpu) : 0);
      cpu.ccOp = CC_ADD;
      cpu.ccA = a;
      cpu.ccB = b;
      cpu.ccR = raw;
      cpu.ccSz = size;
      return size === 4 ? raw >>> 0 : raw & maskOf(size);
    }
    case OP_SUB:
    case OP_SBB:
    case OP_CMP: {
      const raw = a - b - (op === OP_SBB ? getCF(cpu) : 0);
      cpu.ccOp = CC_SUB;
      cpu.ccA = a;
      cpu.ccB = b;
      cpu.ccR = raw;
      cpu.ccSz = size;
      return size === 4 ? raw >>> 0 : raw & maskOf(size);
    }
    default: {
      let r = op === OP_OR ? a | b : op === OP_AND ? a & b : a ^ b;
      r = size === 4 ? r >>> 0 : r;
      cpu.ccOp = CC_LOGIC;
      cpu.ccR = r;
      cpu.ccSz = size;
      return r;
    }
  }
}

export function inc(cpu: Cpu, a: number, size: number): number {
  const cf = getCF(cpu);
  const r = size === 4 ? (a + 1) >>> 0 : (a + 1) & maskOf(size);
  cpu.ccOp = CC_INC;
  cpu.ccCf = cf;
  cpu.ccA = a;
  cpu.ccB = 1;
  cpu.ccR = r;
  cpu.ccSz = size;
  return r;
}

export function dec(cpu: Cpu, a: number, size: number): number {
  const cf = getCF(cpu);
  const r = size === 4 ? (a - 1) >>> 0 : (a - 1) & maskOf(size);
  cpu.ccOp = CC_DEC;
  cpu.ccCf = cf;
  cpu.ccA = a;
  cpu.ccB = 1;
  cpu.ccR = r;
  cpu.ccSz = size;
  return r;
}

// -----------------------------------------------------------------------------------------------
// 64-bit ALU (bigint, eager flags)

const M64 = (1n << 64n) - 1n;
const S64 = 1n << 63n;

function flags64(res: bigint): number {
  return (res === 0n ? 0x40 : 0) | ((res & S64) !== 0n ? 0x80 : 0) | PARITY[Number(res & 0xffn)]!;
}

export function alu64(cpu: Cpu, op: number, a: bigint, b: bigint): bigint {
  switch (op) {
    case OP_ADD:
    case OP_ADC: {
      const raw = a + b + (op === OP_ADC ? BigInt(getCF(cpu)) : 0n);
      const r = raw & M64;
      const of = ((a ^ r) & (b ^ r) & S64) !== 0n;
      setArith(cpu, (raw > M64 ? 1 : 0) | flags64(r) | (Number((a ^ b ^ r) & 0x10n)) | (of ? 0x800 : 0));
      return r;
    }
    case OP_SUB:
    case OP_SBB:
    case OP_CMP: {
      const raw = a - b - (op === OP_SBB ? BigInt(getCF(cpu)) : 0n);
      const r = raw & M64;
      const of = ((a ^ b) & (a ^ r) & S64) !== 0n;
      setArith(cpu, (raw < 0n ? 1 : 0) | flags64(r) | Number((a ^ b ^ r) & 0x10n) | (of ? 0x800 : 0));
      return r;
    }
    default: {
      const r = op === OP_OR ? a | b : op === OP_AND ? a & b : a ^ b;
      setArith(cpu, flags64(r));
      return r;
    }
  }
}

export function incDec64(cpu: Cpu, a: bigint, isDec: boolean): bigint {
  const cf = getCF(cpu);
  const r = (isDec ? a - 1n : a + 1n) & M64;
  const of = isDec ? a === S64 : r === S64;
  setArith(cpu, cf | flags64(r) | Number((a ^ 1n ^ r) & 0x10n) | (of ? 0x800 : 0));
  return r;
}

// -----------------------------------------------------------------------------------------------
// Shifts and rotates (group 2): op 0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR, 6 SAL (= SHL), 7 SAR.

/** Shift or rotate of a masked 8/16/32-bit value by a raw count; returns the result. */
export function shift(cpu: Cpu, op: number, v: number, rawCount: number, size: number): number {
  const c = rawCount & 0x1f;
  if (c === 0) return v;
  const bits = size * 8;
  const mask = maskOf(size);
  const sign = signOf(size);
  switch (op) {
    case 0: case 1: {
      const n = c & (bits - 1);
      const r = n === 0 ? v : op === 0 ? ((v << n) | (v >>> (bits - n))) & mask : ((v >>> n) | (v << (bits - n))) & mask;
      const res = size === 4 ? r >>> 0 : r;
      let cf: number;
      let of: number;
      if (op === 0) {
        cf = res & 1;
        of = ((res & sign) !== 0 ? 1 : 0) ^ cf;
      } else {
        cf = (res & sign) !== 0 ? 1 : 0;
        of = cf ^ ((res & (sign >>> 1)) !== 0 ? 1 : 0);
      }
      cpu.fl = (cpu.getFlags() & ~(F_CF | F_OF)) | cf | (of << 11);
      return res;
    }
    case 2: case 3: {
      const n = size === 4 ? c : c % (bits + 1);
      if (n === 0) return v;
      // Rotate through the (bits+1)-bit quantity CF:value.
      const total = BigInt(bits + 1);
      const bn = BigInt(n);
      const wide = BigInt(v) | (BigInt(getCF(cpu)) << BigInt(bits));
      const m = (1n << total) - 1n;
      const rot = op === 2 ? ((wide << bn) | (wide >> (total - bn))) & m : ((wide >> bn) | (wide << (total - bn))) & m;
      const res = Number(rot & BigInt(mask));
      const cf = Number(rot >> BigInt(bits));
      const of = ((v ^ res) & sign) !== 0 ? 1 : 0;
      cpu.fl = (cpu.getFlags() & ~(F_CF | F_OF)) | cf | (of << 11);
      return size === 4 ? res >>> 0 : res;
    }
    case 4: case 6: {
      const tmp = (v << (c - 1)) >>> 0;
      const res = size === 4 ? (v << c) >>> 0 : (v << c) & mask;
      const cf = (tmp >>> (bits - 1)) & 1;
      const of = ((tmp ^ res) >>> (bits - 1)) & 1;
      setArith(cpu, cf | szp(res, size) | (of << 11));
      return res;
    }
    case 5: {
      const tmp = v >>> (c - 1);
      const res = tmp >>> 1;
      const cf = tmp & 1;
      const of = ((tmp ^ res) >>> (bits - 1)) & 1;
      setArith(cpu, cf | szp(res, size) | (of << 11));
      return res;
    }
    default: {
      const sv = size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
      const tmp = sv >> Math.min(c - 1, 31);
      const res = size === 4 ? (tmp >> 1) >>> 0 : (tmp >> 1) & mask;
      const cf = tmp & 1;
      setArith(cpu, cf | szp(res, size));
      return res;
    }
  }
}

export function shift64(cpu: Cpu, op: number, v: bigint, rawCount: number): bigint {
  const c = rawCount & 0x3f;
  if (c === 0) return v;
  const n = BigInt(c);
  switch (op) {
    case 0: case 1: {
      const res = op === 0 ? ((v << n) | (v >> (64n - n))) & M64 : ((v >> n) | (v << (64n - n))) & M64;
      let cf: number;
      let of: number;
      if (op === 0) {
        cf = Number(res & 1n);
        of = Number(res >> 63n) ^ cf;
      } else {
        cf = Number(res >> 63n);
        of = cf ^ Number((res >> 62n) & 1n);
      }
      cpu.fl = (cpu.getFlags() & ~(F_CF | F_OF)) | cf | (of << 11);
      return res;
    }
    case 2: case 3: {
      const cin = BigInt(getCF(cpu));
      const wide = v | (cin << 64n);
      const m = (1n << 65n) - 1n;
      const rot = op === 2 ? ((wide << n) | (wide >> (65n - n))) & m : ((wide >> n) | (wide << (65n - n))) & m;
      const res = rot & M64;
      const cf = Number(rot >> 64n);
      const of = Number(((v ^ res) >> 63n) & 1n);
      cpu.fl = (cpu.getFlags() & ~(F_CF | F_OF)) | cf | (of << 11);
      return res;
    }
    case 4: case 6: {
      const tmp = (v << (n - 1n)) & M64;
      const res = (v << n) & M64;
      const cf = Number(tmp >> 63n);
      const of = Number(((tmp ^ res) >> 63n) & 1n);
      setArith(cpu, cf | flags64(res) | (of << 11));
      return res;
    }
    case 5: {
      const tmp = v >> (n - 1n);
      const res = tmp >> 1n;
      setArith(cpu, Number(tmp & 1n) | flags64(res) | (Number(((tmp ^ res) >> 63n) & 1n) << 11));
      return res;
    }
    default: {
      const sv = BigInt.asIntN(64, v);
      const tmp = sv >> (n - 1n);
      const res = (tmp >> 1n) & M64;
      setArith(cpu, Number(tmp & 1n) | flags64(res));
      return res;
    }
  }
}

/** SHLD/SHRD on 16/32-bit operands (count already masked to 5 bits, nonzero). */
export function shiftDouble(cpu: Cpu, left: boolean, dst: number, src: number, c: number, size: number): number {
  const bits = size * 8;
  const mask = maskOf(size);
  // Concatenate as QEMU does for 16-bit counts above 16 (a 48-bit source), using bigint.
  const B = BigInt(bits);
  let res: bigint;
  let tmp: bigint;
  const n = BigInt(c);
  if (left) {
    let wide = (BigInt(dst) << B) | BigInt(src);
    if (size === 2) wide = (wide << 16n) | BigInt(dst);
    const w = size === 2 ? 48n : 64n;
    const m = (1n << w) - 1n;
    tmp = ((wide << (n - 1n)) & m) >> (w - B);
    res = ((wide << n) & m) >> (w - B);
  } else {
    let wide = (BigInt(src) << B) | BigInt(dst);
    if (size === 2) wide = wide | (BigInt(dst) << 32n);
    tmp = wide >> (n - 1n);
    res = wide >> n;
  }
  const r = Number(res & BigInt(mask));
  const t = Number(tmp & BigInt(mask));
  const sign = signOf(size);
  const cf = left ? ((t & sign) !== 0 ? 1 : 0) : t & 1;
  const of = ((t ^ r) & sign) !== 0 ? 1 : 0;
  setArith(cpu, cf | szp(r, size) | (of << 11));
  return size === 4 ? r >>> 0 : r;
}

export function shiftDouble64(cpu: Cpu, left: boolean, dst: bigint, src: bigint, c: number): bigint {
  const n = BigInt(c);
  let res: bigint;
  let tmp: bigint;
  if (left) {
    const wide = (dst << 64n) | src;
    const m = (1n << 128n) - 1n;
    tmp = ((wide << (n - 1n)) & m) >> 64n;
    res = ((wide << n) & m) >> 64n;
  } else {
    const wide = (src << 64n) | dst;
    tmp = (wide >> (n - 1n)) & M64;
    res = (wide >> n) & M64;
  }
  const cf = left ? Number(tmp >> 63n) : Number(tmp & 1n);
  const of = Number(((tmp ^ res) >> 63n) & 1n);
  setArith(cpu, cf | flags64(res) | (of << 11));
  return res;
}

// -----------------------------------------------------------------------------------------------
// Multiply and divide

/** Flags after MUL/IMUL: CF = OF = overflow; SZP of the low result; AF 0 (QEMU's CC_OP_MUL). */
export function mulFlags(cpu: Cpu, low: number, size: number, overflow: boolean): void {
  setArith(cpu, (overflow ? F_CF | F_OF : 0) | szp(low, size));
}

export function mulFlags64(cpu: Cpu, low: bigint, overflow: boolean): void {
  setArith(cpu, (overflow ? F_CF | F_OF : 0) | flags64(low));
}

/** Unsigned divide of (hi:lo) by `divisor` for 8/16/32-bit sizes; #DE on zero or overflow. */
export function divU(hi: number, lo: number, divisor: number, size: number): [number, number] {
  if (divisor === 0) throw new CpuFault(VEC_DE);
  const bits = size * 8;
  if (size < 4 || hi === 0) {
    const dividend = hi * 2 ** bits + lo;
    const q = Math.floor(dividend / divisor);
    if (q > maskOf(size)) throw new CpuFault(VEC_DE);
    return [q, dividend - q * divisor];
  }
  const dividend = (BigInt(hi) << 32n) | BigInt(lo);
  const bd = BigInt(divisor);
  const q = dividend / bd;
  if (q > 0xffffffffn) throw new CpuFault(VEC_DE);
  return [Number(q), Number(dividend % bd)];
}

/** Signed divide of (hi:lo) by `divisor` (masked unsigned inputs); returns masked quotient and remainder. */
export function divS(hi: number, lo: number, divisor: number, size: number): [number, number] {
  if (divisor === 0) throw new CpuFault(VEC_DE);
  const bits = BigInt(size * 8);
  const dividend = BigInt.asIntN(Number(bits) * 2, (BigInt(hi) << bits) | BigInt(lo));
  const dv = BigInt.asIntN(Number(bits), BigInt(divisor));
  const q = dividend / dv;
  const r = dividend % dv;
  const limit = 1n << (bits - 1n);
  if (q >= limit || q < -limit) throw new CpuFault(VEC_DE);
  const m = (1n << bits) - 1n;
  return [Number(q & m), Number(r & m)];
}

export function div64(hi: bigint, lo: bigint, divisor: bigint, signed: boolean): [bigint, bigint] {
  if (divisor === 0n) throw new CpuFault(VEC_DE);
  if (!signed) {
    const dividend = (hi << 64n) | lo;
    const q = dividend / divisor;
    if (q > M64) throw new CpuFault(VEC_DE);
    return [q, dividend % divisor];
  }
  const dividend = BigInt.asIntN(128, (hi << 64n) | lo);
  const dv = BigInt.asIntN(64, divisor);
  const q = dividend / dv;
  if (q >= S64 || q < -S64) throw new CpuFault(VEC_DE);
  return [q & M64, (dividend % dv) & M64];
}

export { M64, CC_LOGIC };
