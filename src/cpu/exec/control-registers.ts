/**
 * MOV to and from CR0, CR2, CR3, CR4, CR8 and DR0-DR7, with QEMU 7.2's rules: CR0 writes switch
 * long mode on (CR0.PG with EFER.LME and CR4.PAE) and off, keep ET set and are not otherwise
 * checked; CR4 writes of bits qemu64 lacks raise #GP; DR6/DR7 keep their fixed-one bits.
 */

import {
  CR0_ET, CR0_PG, CR4_LA57, CR4_PAE, EFER_LMA, EFER_LME, TWO32, type Cpu,
} from '../cpu.js';
import { CpuFault, VEC_GP, VEC_UD } from '../faults.js';

/** CR4 bits qemu64 under TCG accepts: VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT. */
const CR4_VALID = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400;

export function readControl(cpu: Cpu, n: number): number {
  switch (n) {
    case 0: return cpu.cr0 >>> 0;
    case 2: return cpu.cr2;
    case 3: return cpu.cr3;
    case 4: return cpu.cr4 >>> 0;
    case 8: return cpu.cr8;
    default: throw new CpuFault(VEC_UD);
  }
}

export function writeControl(cpu: Cpu, n: number, value: bigint): void {
  switch (n) {
    case 0: writeCr0(cpu, Number(value & 0xffffffffn)); return;
    case 2: cpu.cr2 = Number(BigInt.asIntN(64, value)); return;
    case 3:
      cpu.cr3 = Number(value & 0xfffffffffffffn);
      cpu.pagingChanged(true);
      return;
    case 4: {
      const v = Number(value & 0xffffffffn);
      if ((v & ~CR4_VALID) !== 0 || value > 0xffffffffn) throw new CpuFault(VEC_GP, 0);
      if (((v ^ cpu.cr4) & CR4_LA57) !== 0 && cpu.code64) throw new CpuFault(VEC_GP, 0);
      cpu.cr4 = v;
      cpu.pagingChanged();
      return;
    }
    case 8: cpu.cr8 = Number(value & 0xfn); return;
    default: throw new CpuFault(VEC_UD);
  }
}

function writeCr0(cpu: Cpu, v: number): void {
  const old = cpu.cr0;
  if ((old & CR0_PG) === 0 && (v & CR0_PG) !== 0 && (cpu.efer & EFER_LME) !== 0) {
    // Entering long mode; QEMU ignores the write entirely without PAE.
    if ((cpu.cr4 & CR4_PAE) === 0) return;
    cpu.efer |= EFER_LMA;
  } else if ((old & CR0_PG) !== 0 && (v & CR0_PG) === 0 && (cpu.efer & EFER_LMA) !== 0) {
    cpu.efer &= ~EFER_LMA;
    cpu.ip = cpu.ip >= 0 ? cpu.ip % TWO32 : (cpu.ip % TWO32) + TWO32;
  }
  cpu.cr0 = v | CR0_ET;
  cpu.updateMode();
  cpu.pagingChanged();
}

export function readDebug(cpu: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if ((cpu.cr4 & 0x8) !== 0) throw new CpuFault(VEC_UD);
    n += 2;
  }
  if (n > 7) throw new CpuFault(VEC_UD);
  return cpu.dr[n]!;
}

export function writeDebug(cpu: Cpu, n: number, value: bigint): void {
  if (n === 4 || n === 5) {
    if ((cpu.cr4 & 0x8) !== 0) throw new CpuFault(VEC_UD);
    n += 2;
  }
  if (n > 7) throw new CpuFault(VEC_UD);
  let v = Number(BigInt.asIntN(64, value));
  if (n === 6) v = Number(BigInt.asIntN(64, value | 0xffff0ff0n));
  if (n === 7) v = Number(BigInt.asIntN(64, value | 0x400n));
  cpu.dr[n] = v;
  if (n === 7) cpu.debugChanged();
}
