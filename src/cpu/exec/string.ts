/**
 * String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with REP/REPE/REPNE. Each
 * iteration commits RSI/RDI/RCX before the next, so a fault in the middle restarts the
 * instruction with the remaining count, as on hardware. A long REP runs in slices of at most
 * REP_SLICE iterations per step so that instruction budgets and stops stay responsive.
 */

import { ES, F_DF, RAX, RCX, RDI, RSI, type Cpu } from '../cpu.js';
import { alu, alu64 } from './alu.js';
import { d, dataSeg } from './decode.js';
import { checkIo, ioIn, ioOut } from './system.js';
import { getZF } from '../flags.js';

const REP_SLICE = 4096;

function indexValue(cpu: Cpu, reg: number): number {
  const asz = d.asz;
  return asz === 2 ? cpu.r[reg]! & 0xffff : asz === 4 ? cpu.r[reg]! >>> 0 : cpu.getNum(reg);
}

function setIndex(cpu: Cpu, reg: number, v: number): void {
  const asz = d.asz;
  if (asz === 2) cpu.set16(reg, v);
  else if (asz === 4) cpu.set32(reg, v);
  else cpu.setNum(reg, v);
}

function advance(cpu: Cpu, reg: number, size: number): void {
  const delta = (cpu.fl & F_DF) !== 0 ? -size : size;
  const asz = d.asz;
  const v = indexValue(cpu, reg) + delta;
  setIndex(cpu, reg, asz === 2 ? v & 0xffff : asz === 4 ? v >>> 0 : v);
}

/** An element of 1, 2 or 4 bytes (8-byte elements go through readAt64). */
function readAt(cpu: Cpu, seg: number, off: number, size: number): number {
  const a = cpu.linear(seg, off, size);
  if (size === 1) return cpu.read8(a);
  return size === 2 ? cpu.read16(a) : cpu.read32(a);
}

function readAt64(cpu: Cpu, seg: number, off: number): [number, number] {
  const a = cpu.linear(seg, off, 8);
  return [cpu.read32(a), cpu.read32(a + 4)];
}

function writeAt(cpu: Cpu, seg: number, off: number, size: number, v: number, hi = 0): void {
  const a = cpu.linear(seg, off, size);
  if (size === 1) cpu.write8(a, v);
  else if (size === 2) cpu.write16(a, v);
  else if (size === 4) cpu.write32(a, v);
  else cpu.write64(a, v, hi);
}

export function stringOp(cpu: Cpu, op: number): void {
  const size = (op & 1) === 0 ? 1 : d.osz;
  const ioSize = size === 8 ? 4 : size;
  const rep = d.rep;
  const kind = op >> 1;
  if (rep === 0) {
    once(cpu, kind, kind <= 0x37 ? ioSize : size);
    return;
  }
  const conditional = kind === 0x53 || kind === 0x57; // CMPS, SCAS
  for (let n = 0; n < REP_SLICE; n++) {
    if (indexValue(cpu, RCX) === 0) return;
    once(cpu, kind, kind <= 0x37 ? ioSize : size);
    const c = indexValue(cpu, RCX) - 1;
    setIndex(cpu, RCX, c);
    if (conditional && (rep === 0xf3 ? !getZF(cpu) : getZF(cpu))) return;
    if (c === 0) return;
  }
  // More to do: run this instruction again next step.
  cpu.ip = cpu.startIp;
}

function once(cpu: Cpu, kind: number, size: number): void {
  switch (kind) {
    case 0x36: { // INS
      const port = cpu.r[2]! & 0xffff;
      checkIo(cpu, port, size);
      // Probe the destination before the port read has side effects.
      const a = cpu.linear(ES, indexValue(cpu, RDI), size);
      cpu.probeWrite(a, size);
      const v = ioIn(cpu, port, size);
      writeAt(cpu, ES, indexValue(cpu, RDI), size, v);
      advance(cpu, RDI, size);
      return;
    }
    case 0x37: { // OUTS
      const port = cpu.r[2]! & 0xffff;
      checkIo(cpu, port, size);
      const v = readAt(cpu, dataSeg(), indexValue(cpu, RSI), size);
      ioOut(cpu, port, size, v);
      advance(cpu, RSI, size);
      return;
    }
    case 0x52: { // MOVS
      if (size === 8) {
        const [lo, hi] = readAt64(cpu, dataSeg(), indexValue(cpu, RSI));
        writeAt(cpu, ES, indexValue(cpu, RDI), 8, lo, hi);
      } else {
        writeAt(cpu, ES, indexValue(cpu, RDI), size, readAt(cpu, dataSeg(), indexValue(cpu, RSI), size));
      }
      advance(cpu, RSI, size);
      advance(cpu, RDI, size);
      return;
    }
    case 0x53: { // CMPS
      if (size === 8) {
        const a = readAt64(cpu, dataSeg(), indexValue(cpu, RSI));
        const b = readAt64(cpu, ES, indexValue(cpu, RDI));
        cmp64(cpu, a, b);
      } else {
        const a = readAt(cpu, dataSeg(), indexValue(cpu, RSI), size);
        const b = readAt(cpu, ES, indexValue(cpu, RDI), size);
        alu(cpu, 7, a, b, size);
      }
      advance(cpu, RSI, size);
      advance(cpu, RDI, size);
      return;
    }
    case 0x55: { // STOS
      writeAt(cpu, ES, indexValue(cpu, RDI), size, size === 1 ? cpu.r[RAX]! & 0xff : cpu.r[RAX]!, cpu.rh[RAX]);
      advance(cpu, RDI, size);
      return;
    }
    case 0x56: { // LODS
      if (size === 8) {
        const [lo, hi] = readAt64(cpu, dataSeg(), indexValue(cpu, RSI));
        cpu.r[RAX] = lo;
        cpu.rh[RAX] = hi;
      } else {
        const v = readAt(cpu, dataSeg(), indexValue(cpu, RSI), size);
        if (size === 1) cpu.set8(RAX, false, v); else if (size === 2) cpu.set16(RAX, v); else cpu.set32(RAX, v);
      }
      advance(cpu, RSI, size);
      return;
    }
    default: { // SCAS (0x57)
      if (size === 8) {
        cmp64(cpu, [cpu.r[RAX]! >>> 0, cpu.rh[RAX]!], readAt64(cpu, ES, indexValue(cpu, RDI)));
      } else {
        const a = size === 1 ? cpu.r[RAX]! & 0xff : size === 2 ? cpu.r[RAX]! & 0xffff : cpu.r[RAX]! >>> 0;
        alu(cpu, 7, a, readAt(cpu, ES, indexValue(cpu, RDI), size), size);
      }
      advance(cpu, RDI, size);
    }
  }
}

function cmp64(cpu: Cpu, a: [number, number], b: [number, number]): void {
  const big = (x: [number, number]): bigint => (BigInt(x[1] >>> 0) << 32n) | BigInt(x[0] >>> 0);
  alu64(cpu, 7, big(a), big(b));
}
