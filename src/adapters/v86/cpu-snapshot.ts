/**
 * A CpuSnapshot of v86's one CPU, read from the typed-array views v86 keeps onto its registers
 * in wasm memory. Take it while the emulator is stopped (or from inside a port handler, where
 * v86 has flushed registers to memory); it is plain data afterwards.
 *
 * v86 is a 32-bit CPU: no EFER (reported 0), no long mode, no CR8, no KERNEL_GS_BASE. It keeps a
 * segment's hidden base, limit and access byte but not the descriptor's flag nibble, so the
 * QEMU-style descriptor word is rebuilt: G from the limit (a limit above 0xfffff needs 4 KiB
 * granularity), D/B from v86's own CS.D and SS.B, and D/B = G for data segments (flat 32-bit
 * data segments set both, 16-bit ones neither). The APIC base is the architectural default.
 */

import { GPR_NAMES, type CpuSnapshot, type FpuState, type GprName, type SegmentName, type SegmentState } from '../../cpu/state.js';
import { findV86Internals, type V86Cpu, type V86View } from './internals.js';

/** v86's segment view index for each of our segment names (ES..GS, then TR 6 and LDTR 7). */
const V86_SEGMENT_INDEX: Readonly<Record<SegmentName, number>> = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5, ldt: 7, tr: 6 };
const APIC_BASE_BSP_ENABLED = 0xfee00900n;
const MXCSR_MASK_SSE3 = 0xffff;

/**
 * The registers of a loaded v86 instance's CPU now.
 * @throws V86AdapterError 'v86-internals-missing' | 'v86-not-loaded'
 */
export function snapshotV86Cpu(emulator: unknown): CpuSnapshot {
  return readV86Cpu(findV86Internals(emulator));
}

export function readV86Cpu(cpu: V86Cpu): CpuSnapshot {
  const gpr = Object.fromEntries(GPR_NAMES.map((name, i) => [name, i < 8 ? u32(cpu.reg32, i) : 0n])) as Record<GprName, bigint>;
  const segments = Object.fromEntries(
    Object.entries(V86_SEGMENT_INDEX).map(([name, index]) => [name, segment(cpu, name as SegmentName, index)]),
  ) as Record<SegmentName, SegmentState>;
  return {
    gpr,
    rip: BigInt(cpu.get_real_eip() >>> 0),
    rflags: BigInt(cpu.get_eflags() >>> 0),
    segments,
    gdt: { base: u32(cpu.gdtr_offset, 0), limit: (cpu.gdtr_size[0] ?? 0) & 0xffff },
    idt: { base: u32(cpu.idtr_offset, 0), limit: (cpu.idtr_size[0] ?? 0) & 0xffff },
    cr0: u32(cpu.cr, 0),
    cr2: u32(cpu.cr, 2),
    cr3: u32(cpu.cr, 3),
    cr4: u32(cpu.cr, 4),
    cr8: 0n,
    efer: 0n,
    kernelGsBase: 0n,
    // DR4/DR5 are stored as 0, as the CpuSnapshot contract (and QEMU) has them.
    dr: Array.from({ length: 8 }, (_, i) => (i === 4 || i === 5 ? 0n : u32(cpu.dreg, i))),
    apicBase: APIC_BASE_BSP_ENABLED,
    fpu: fpuState(cpu),
    a20: true,
    runState: (cpu.in_hlt[0] ?? 0) !== 0 ? 'halted' : 'running',
  };
}

function segment(cpu: V86Cpu, name: SegmentName, index: number): SegmentState {
  const selector = (cpu.sreg[index] ?? 0) & 0xffff;
  const base = (cpu.segment_offsets[index] ?? 0) >>> 0;
  const limit = (cpu.segment_limits[index] ?? 0) >>> 0;
  const access = (cpu.segment_access_bytes[index] ?? 0) & 0xff;
  const isNull = (cpu.segment_is_null[index] ?? 0) !== 0 && (cpu.protected_mode[0] ?? 0) !== 0;
  // A null selector in protected mode holds nothing, as QEMU loads it: base, limit, flags 0.
  if (isNull && index < 6) return { selector, base: 0n, limit: 0, flags: 0 };
  const granular = limit > 0xfffff;
  const rawLimit = granular ? limit >>> 12 : limit;
  const big =
    name === 'cs' ? (cpu.is_32[0] ?? 0) !== 0
    : name === 'ss' ? (cpu.stack_size_32[0] ?? 0) !== 0
    : name === 'tr' || name === 'ldt' ? false
    : granular;
  const flags =
    ((base >>> 16) & 0xff) | (access << 8) | (rawLimit & 0xf0000) | (big ? 1 << 22 : 0) | (granular ? 1 << 23 : 0) | (base & 0xff000000);
  return { selector, base: BigInt(base), limit, flags: flags >>> 0 };
}

function fpuState(cpu: V86Cpu): FpuState {
  const tagWord = cpu.fpu_load_tag_word() & 0xffff;
  let ftw = 0;
  // FXSAVE's abridged tag: bit i set unless physical register i is tagged empty (0b11).
  for (let i = 0; i < 8; i++) if (((tagWord >> (2 * i)) & 3) !== 3) ftw |= 1 << i;
  return {
    fcw: (cpu.fpu_control_word[0] ?? 0) & 0xffff,
    fsw: cpu.fpu_load_status_word() & 0xffff,
    ftw,
    fop: (cpu.fpu_opcode[0] ?? 0) & 0x7ff,
    fip: u32(cpu.fpu_ip, 0),
    fdp: u32(cpu.fpu_dp, 0),
    mxcsr: (cpu.mxcsr[0] ?? 0) >>> 0,
    mxcsrMask: MXCSR_MASK_SSE3,
    // v86 keeps R0..R7 as 16-byte slots (64-bit mantissa, then sign and exponent), physical order.
    st: Array.from({ length: 8 }, (_, i) => viewBytes(cpu.fpu_st, i * 16, 10)),
    xmm: Array.from({ length: 16 }, (_, i) => (i < 8 ? viewBytes(cpu.reg_xmm32s, i * 16, 16) : new Uint8Array(16))),
  };
}

/** Bytes of a typed-array view (v86's views are Proxies: each access yields a live array). */
function viewBytes(view: V86View, byteOffset: number, length: number): Uint8Array {
  const array = view as unknown as ArrayBufferView;
  return new Uint8Array(array.buffer, array.byteOffset + byteOffset, length).slice();
}

function u32(view: V86View, index: number): bigint {
  return BigInt((view[index] ?? 0) >>> 0);
}
