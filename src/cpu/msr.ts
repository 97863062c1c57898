/**
 * RDMSR/WRMSR for what firmware touches: EFER, FS/GS/KERNEL_GS base, APIC base, TSC, the
 * SYSCALL/SYSENTER MSRs, PAT and MTRRs (stored). Unknown MSRs read 0 and ignore writes, as QEMU
 * 7.2's TCG does, and are reported to diagnostics.
 */

import { EFER_LMA, FS, GS, type Cpu } from './cpu.js';
import { CpuFault, VEC_GP } from './faults.js';

export const MSR_TSC = 0x10;
export const MSR_APIC_BASE = 0x1b;
export const MSR_EFER = 0xc0000080;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;

/** MSRs stored as written: SYSENTER_CS/ESP/EIP, STAR, LSTAR, CSTAR, FMASK, TSC_AUX, PAT, MTRRs. */
const STORED = new Set<number>([0x174, 0x175, 0x176, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000103, 0x277, 0x2ff, 0xfe]);
for (let i = 0x200; i < 0x210; i++) STORED.add(i);
for (const m of [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f]) STORED.add(m);

/** EFER bits qemu64 has: SCE, LME, LMA, NXE. */
const EFER_WRITABLE = 0x1 | 0x100 | 0x800;

const PAT_DEFAULT = 0x0007040600070406n;
/** TSC ticks per executed instruction: a deterministic clock (QEMU's depends on the host). */
const TSC_PER_INSTRUCTION = 1n;

export function readMsr(cpu: Cpu, msr: number): bigint {
  switch (msr) {
    case MSR_TSC: return BigInt.asUintN(64, BigInt(cpu.instructions) * TSC_PER_INSTRUCTION + cpu.tscOffset);
    case MSR_APIC_BASE: return BigInt.asUintN(64, BigInt(cpu.apicBase));
    case MSR_EFER: return BigInt(cpu.efer >>> 0);
    case MSR_FS_BASE: return BigInt.asUintN(64, BigInt(cpu.segBase[FS]!));
    case MSR_GS_BASE: return BigInt.asUintN(64, BigInt(cpu.segBase[GS]!));
    case MSR_KERNEL_GS_BASE: return BigInt.asUintN(64, BigInt(cpu.kernelGsBase));
    case 0x277: return cpu.msrs.get(msr) ?? PAT_DEFAULT;
    case 0xfe: return 0x508n; // MTRRcap: 8 variable ranges, fixed ranges, write-combining
    default:
      if (STORED.has(msr)) return cpu.msrs.get(msr) ?? 0n;
      cpu.bus.diagnostics.report('cpu-unknown-msr', () => `RDMSR 0x${msr.toString(16)} read 0`);
      return 0n;
  }
}

export function writeMsr(cpu: Cpu, msr: number, value: bigint): void {
  const asNumber = (): number => Number(BigInt.asIntN(64, value));
  switch (msr) {
    case MSR_TSC: cpu.tscOffset = value - BigInt(cpu.instructions) * TSC_PER_INSTRUCTION; return;
    case MSR_APIC_BASE: cpu.apicBase = asNumber(); return;
    case MSR_EFER: {
      const v = Number(value & 0xffffffffn);
      if ((v & ~(EFER_WRITABLE | EFER_LMA)) !== 0 || value > 0xffffffffn) throw new CpuFault(VEC_GP, 0);
      // LMA is read-only: keep the current value.
      cpu.efer = (v & EFER_WRITABLE) | (cpu.efer & EFER_LMA);
      cpu.updateMode();
      cpu.pagingChanged();
      return;
    }
    case MSR_FS_BASE: cpu.segBase[FS] = baseValue(value); return;
    case MSR_GS_BASE: cpu.segBase[GS] = baseValue(value); return;
    case MSR_KERNEL_GS_BASE: cpu.kernelGsBase = baseValue(value); return;
    case 0xfe: throw new CpuFault(VEC_GP, 0);
    default:
      if (STORED.has(msr)) {
        cpu.msrs.set(msr, value);
        return;
      }
      cpu.bus.diagnostics.report('cpu-unknown-msr', () => `WRMSR 0x${msr.toString(16)} ignored`);
  }
}

/** QEMU 7.2 stores FS/GS/KERNEL_GS base writes unchecked (hardware would #GP a non-canonical one). */
function baseValue(value: bigint): number {
  return Number(BigInt.asIntN(64, value));
}
