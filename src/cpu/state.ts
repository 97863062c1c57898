/**
 * CpuSnapshot: the architectural state of one x86 CPU as plain data, for dumps, embedders and
 * tests. Segment `flags` hold what QEMU keeps: the descriptor's whole high dword as loaded (type
 * 8-11, S 12, DPL 13-14, P 15, AVL 20, L 21, D/B 22, G 23, and the base and limit bits around
 * them; e.g. 0x00cff312 for a data segment based at 0x123000). 64-bit values are bigint.
 *
 * `powerOnSnapshot` is the state QEMU 7.2 gives a qemu64 CPU at reset (checked against the QEMU
 * note of a dump taken at reset); application processors differ only in the APIC base BSP bit and
 * in waiting for a SIPI.
 */

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type GprName = (typeof GPR_NAMES)[number];

/** Segment registers in QEMU's R_ES..R_GS order, then the system segments. */
export const SEGMENT_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldt', 'tr'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

export interface SegmentState {
  readonly selector: number;
  readonly base: bigint;
  readonly limit: number;
  /** QEMU's descriptor word: the high dword as loaded (0x9b00 for the reset CS, 0x00af9a00 for 64-bit code). */
  readonly flags: number;
}

export interface TableRegister {
  readonly base: bigint;
  readonly limit: number;
}

/** x87 and SSE state in FXSAVE terms. */
export interface FpuState {
  readonly fcw: number;
  readonly fsw: number;
  /** Abridged tag word as FXSAVE stores it: bit i set = ST(i) register valid. */
  readonly ftw: number;
  readonly fop: number;
  readonly fip: bigint;
  readonly fdp: bigint;
  readonly mxcsr: number;
  readonly mxcsrMask: number;
  /** ST0..ST7 (physical order R0..R7 as FXSAVE lays them out), 10 bytes each. */
  readonly st: readonly Uint8Array[];
  /** XMM0..XMM15, 16 bytes each. */
  readonly xmm: readonly Uint8Array[];
}

export type CpuRunState = 'running' | 'halted' | 'wait-for-sipi';

export interface CpuSnapshot {
  readonly gpr: Readonly<Record<GprName, bigint>>;
  readonly rip: bigint;
  readonly rflags: bigint;
  readonly segments: Readonly<Record<SegmentName, SegmentState>>;
  readonly gdt: TableRegister;
  readonly idt: TableRegister;
  readonly cr0: bigint;
  readonly cr2: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly cr8: bigint;
  readonly efer: bigint;
  readonly kernelGsBase: bigint;
  /** DR0..DR7; DR4/DR5 alias DR6/DR7 architecturally and are stored as 0, as QEMU does. */
  readonly dr: readonly bigint[];
  readonly apicBase: bigint;
  readonly fpu: FpuState;
  /** False when the A20 gate masks address bit 20. */
  readonly a20: boolean;
  readonly runState: CpuRunState;
}

export const CR0_PE = 1n;
export const CR0_PG = 1n << 31n;
export const CR4_PSE = 1n << 4n;
export const CR4_PAE = 1n << 5n;
export const CR4_LA57 = 1n << 12n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
export const EFER_NXE = 1n << 11n;

/** qemu64's CPUID version (family 15, model 107, stepping 1), which reset leaves in EDX. */
export const QEMU64_CPUID_VERSION = 0x00060fb1n;
const APIC_DEFAULT_BASE = 0xfee00000n;
const MSR_IA32_APICBASE_BSP = 1n << 8n;
const MSR_IA32_APICBASE_ENABLE = 1n << 11n;

const flat = (flags: number): SegmentState => ({ selector: 0, base: 0n, limit: 0xffff, flags });

/** The state QEMU 7.2 gives CPU `index` at reset; CPU 0 is the bootstrap processor. */
export function powerOnSnapshot(index = 0): CpuSnapshot {
  const gpr = Object.fromEntries(GPR_NAMES.map((n) => [n, 0n])) as Record<GprName, bigint>;
  gpr.rdx = QEMU64_CPUID_VERSION;
  return {
    gpr,
    rip: 0xfff0n,
    rflags: 0x2n,
    segments: {
      es: flat(0x9300),
      cs: { selector: 0xf000, base: 0xffff0000n, limit: 0xffff, flags: 0x9b00 },
      ss: flat(0x9300),
      ds: flat(0x9300),
      fs: flat(0x9300),
      gs: flat(0x9300),
      ldt: flat(0x8200),
      tr: flat(0x8b00),
    },
    gdt: { base: 0n, limit: 0xffff },
    idt: { base: 0n, limit: 0xffff },
    cr0: 0x60000010n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    cr8: 0n,
    efer: 0n,
    kernelGsBase: 0n,
    dr: [0n, 0n, 0n, 0n, 0n, 0n, 0xffff0ff0n, 0x400n],
    apicBase: APIC_DEFAULT_BASE | MSR_IA32_APICBASE_ENABLE | (index === 0 ? MSR_IA32_APICBASE_BSP : 0n),
    fpu: {
      fcw: 0x37f,
      fsw: 0,
      ftw: 0,
      fop: 0,
      fip: 0n,
      fdp: 0n,
      mxcsr: 0x1f80,
      mxcsrMask: 0xffff,
      st: Array.from({ length: 8 }, () => new Uint8Array(10)),
      xmm: Array.from({ length: 16 }, () => new Uint8Array(16)),
    },
    a20: true,
    runState: index === 0 ? 'running' : 'wait-for-sipi',
  };
}

/** EFER.LMA: the CPU is in long mode (64-bit or compatibility). */
export function inLongMode(cpu: CpuSnapshot): boolean {
  return (cpu.efer & EFER_LMA) !== 0n;
}
