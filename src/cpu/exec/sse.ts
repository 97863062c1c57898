/**
 * The SSE instructions compilers emit for memcpy, memset and zeroing: MOVUPS/MOVAPS/MOVDQU/
 * MOVDQA/MOVNT*, MOVSS/MOVSD, MOVD/MOVQ, and the bitwise AND/ANDN/OR/XOR forms. Floating-point
 * arithmetic is not modelled (it raises #UD and is reported).
 */

import { CR0_EM, CR0_TS, CR4_OSFXSR, type Cpu } from '../cpu.js';
import { CpuFault, VEC_GP, VEC_NM, VEC_UD } from '../faults.js';
import { d, lin, modrm } from './decode.js';

function check(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_EM) !== 0 || (cpu.cr4 & CR4_OSFXSR) === 0) throw new CpuFault(VEC_UD);
  if ((cpu.cr0 & CR0_TS) !== 0) throw new CpuFault(VEC_NM);
}

/** Reads `n` bytes of the r/m operand (an XMM register or memory) into `out`. */
function readOperand(cpu: Cpu, out: Uint8Array, n: number, aligned: boolean): void {
  if (d.isReg) {
    out.set(cpu.xmm.subarray(d.rm * 16, d.rm * 16 + n));
    return;
  }
  if (aligned && d.off % 16 !== 0) throw new CpuFault(VEC_GP, 0);
  const a = lin(cpu, n);
  for (let i = 0; i < n; i++) out[i] = cpu.read8(a + i);
}

function writeOperand(cpu: Cpu, src: Uint8Array, n: number, aligned: boolean): void {
  if (d.isReg) {
    cpu.xmm.set(src.subarray(0, n), d.rm * 16);
    return;
  }
  if (aligned && d.off % 16 !== 0) throw new CpuFault(VEC_GP, 0);
  const a = lin(cpu, n);
  cpu.probeWrite(a, n);
  for (let i = 0; i < n; i++) cpu.write8(a + i, src[i]!);
}

const tmp = new Uint8Array(16);

function xmmReg(cpu: Cpu): Uint8Array {
  return cpu.xmm.subarray(d.reg * 16, d.reg * 16 + 16);
}

/** Executes 0F `op` if it is one of ours; false otherwise. */
export function sse(cpu: Cpu, op: number): boolean {
  const p66 = d.opsizePrefix;
  const f3 = d.rep === 0xf3;
  const f2 = d.rep === 0xf2;
  switch (op) {
    case 0x10: case 0x11: {
      check(cpu);
      modrm(cpu);
      const scalar = f3 ? 4 : f2 ? 8 : 0;
      if (op === 0x10) {
        if (scalar !== 0 && !d.isReg) {
          tmp.fill(0);
          readOperand(cpu, tmp, scalar, false);
          xmmReg(cpu).set(tmp);
        } else {
          readOperand(cpu, tmp, scalar !== 0 ? scalar : 16, false);
          xmmReg(cpu).set(tmp.subarray(0, scalar !== 0 ? scalar : 16));
        }
      } else {
        tmp.set(xmmReg(cpu));
        writeOperand(cpu, tmp, scalar !== 0 ? scalar : 16, false);
      }
      return true;
    }
    case 0x28: case 0x29: case 0x2b: {
      if (f3 || f2) return false;
      check(cpu);
      modrm(cpu);
      if (op === 0x28) {
        readOperand(cpu, tmp, 16, true);
        xmmReg(cpu).set(tmp);
      } else {
        if (op === 0x2b && d.isReg) throw new CpuFault(VEC_UD);
        tmp.set(xmmReg(cpu));
        writeOperand(cpu, tmp, 16, true);
      }
      return true;
    }
    case 0x6f: case 0x7f: case 0xe7: {
      if (!p66 && !f3) return false; // MMX forms are not modelled
      if (op === 0xe7 && !p66) return false;
      check(cpu);
      modrm(cpu);
      const aligned = p66;
      if (op === 0x6f) {
        readOperand(cpu, tmp, 16, aligned);
        xmmReg(cpu).set(tmp);
      } else {
        if (op === 0xe7 && d.isReg) throw new CpuFault(VEC_UD);
        tmp.set(xmmReg(cpu));
        writeOperand(cpu, tmp, 16, aligned);
      }
      return true;
    }
    case 0x6e: {
      if (!p66) return false;
      check(cpu);
      modrm(cpu);
      const n = d.rexW ? 8 : 4;
      tmp.fill(0);
      if (d.isReg) {
        const r = d.rm;
        for (let i = 0; i < 4; i++) tmp[i] = (cpu.r[r]! >>> (i * 8)) & 0xff;
        if (n === 8) for (let i = 0; i < 4; i++) tmp[4 + i] = (cpu.rh[r]! >>> (i * 8)) & 0xff;
      } else {
        const a = lin(cpu, n);
        for (let i = 0; i < n; i++) tmp[i] = cpu.read8(a + i);
      }
      xmmReg(cpu).set(tmp);
      return true;
    }
    case 0x7e: {
      if (f3) { // MOVQ xmm, xmm/m64
        check(cpu);
        modrm(cpu);
        tmp.fill(0);
        readOperand(cpu, tmp, 8, false);
        xmmReg(cpu).set(tmp);
        return true;
      }
      if (!p66) return false;
      check(cpu);
      modrm(cpu);
      const n = d.rexW ? 8 : 4;
      const x = xmmReg(cpu);
      if (d.isReg) {
        const lo = (x[0]! | (x[1]! << 8) | (x[2]! << 16) | (x[3]! << 24)) | 0;
        const hi = (x[4]! | (x[5]! << 8) | (x[6]! << 16) | (x[7]! << 24)) | 0;
        cpu.r[d.rm] = lo;
        cpu.rh[d.rm] = n === 8 ? hi : 0;
      } else {
        const a = lin(cpu, n);
        cpu.probeWrite(a, n);
        for (let i = 0; i < n; i++) cpu.write8(a + i, x[i]!);
      }
      return true;
    }
    case 0xd6: {
      if (!p66) return false;
      check(cpu);
      modrm(cpu);
      tmp.fill(0);
      tmp.set(xmmReg(cpu).subarray(0, 8));
      if (d.isReg) cpu.xmm.set(tmp, d.rm * 16);
      else writeOperand(cpu, tmp, 8, false);
      return true;
    }
    case 0x54: case 0x55: case 0x56: case 0x57: case 0xdb: case 0xdf: case 0xeb: case 0xef: {
      if (f3 || f2) return false;
      if (op >= 0xdb && !p66) return false;
      check(cpu);
      modrm(cpu);
      readOperand(cpu, tmp, 16, true);
      const x = xmmReg(cpu);
      for (let i = 0; i < 16; i++) {
        const a = x[i]!;
        const b = tmp[i]!;
        x[i] = op === 0x54 || op === 0xdb ? a & b : op === 0x55 || op === 0xdf ? ~a & b : op === 0x56 || op === 0xeb ? a | b : a ^ b;
      }
      return true;
    }
    default:
      return false;
  }
}
