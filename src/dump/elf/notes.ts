/**
 * ELF notes of an x86 core as QEMU 7.2's target/i386/arch_dump.c writes them, plus NT_PRFPREG.
 *
 *  - CORE/NT_PRSTATUS: Linux's elf_prstatus, x86_64 (336 bytes) or i386 (144), chosen for every CPU
 *    by the first CPU's EFER.LMA; pid = index+1, orig_rax 0.
 *  - QEMU/0: QEMUCPUState version 1, 440 bytes (registers, 10 segment records, CR0-CR4,
 *    KERNEL_GS_BASE).
 *  - CORE/NT_PRFPREG (default flavour only): x86_64 FXSAVE image (512 bytes) or i386 FSAVE
 *    user_i387_struct (108 bytes), so debuggers show x87/SSE state. QEMU writes none.
 */

import { writeU16le, writeU32le, writeU64le } from '../../core/bytes.js';
import type { CpuSnapshot, SegmentState } from '../../cpu/state.js';

export const NT_PRSTATUS = 1;
export const NT_PRFPREG = 2;
export const QEMU_NOTE_TYPE = 0;
export const PRSTATUS_X86_64_SIZE = 336;
export const PRSTATUS_I386_SIZE = 144;
export const QEMUCPUSTATE_SIZE = 440;
export const QEMUCPUSTATE_VERSION = 1;
export const FXSAVE_SIZE = 512;
export const FSAVE_SIZE = 108;

const encoder = new TextEncoder();

/** One note: u32 namesz, descsz, type; name + NUL padded to 4; desc padded to 4 (zero fill). */
export function elfNote(name: string, type: number, desc: Uint8Array): Uint8Array {
  const nameBytes = encoder.encode(`${name}\0`);
  const namePadded = align4(nameBytes.length);
  const out = new Uint8Array(12 + namePadded + align4(desc.length));
  writeU32le(out, 0, nameBytes.length);
  writeU32le(out, 4, desc.length);
  writeU32le(out, 8, type);
  out.set(nameBytes, 12);
  out.set(desc, 12 + namePadded);
  return out;
}

export function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** elf_prstatus for x86_64: pr_pid at 32, pr_reg (27 u64) at 112, pr_fpvalid at 328. */
export function prstatusX86_64(cpu: CpuSnapshot, index: number, fpValid: boolean): Uint8Array {
  const out = new Uint8Array(PRSTATUS_X86_64_SIZE);
  writeU32le(out, 32, index + 1);
  const { gpr, segments: s } = cpu;
  const regs = [
    gpr.r15, gpr.r14, gpr.r13, gpr.r12, gpr.rbp, gpr.rbx, gpr.r11, gpr.r10, gpr.r9, gpr.r8,
    gpr.rax, gpr.rcx, gpr.rdx, gpr.rsi, gpr.rdi, 0n, cpu.rip, BigInt(s.cs.selector), cpu.rflags,
    gpr.rsp, BigInt(s.ss.selector), s.fs.base, s.gs.base, BigInt(s.ds.selector), BigInt(s.es.selector),
    BigInt(s.fs.selector), BigInt(s.gs.selector),
  ];
  regs.forEach((value, i) => { writeU64le(out, 112 + 8 * i, value & 0xffffffffffffffffn); });
  if (fpValid) writeU32le(out, 328, 1);
  return out;
}

/** elf_prstatus for i386: pr_pid at 24, pr_reg (17 u32) at 72, pr_fpvalid at 140. */
export function prstatusI386(cpu: CpuSnapshot, index: number, fpValid: boolean): Uint8Array {
  const out = new Uint8Array(PRSTATUS_I386_SIZE);
  writeU32le(out, 24, index + 1);
  const { gpr, segments: s } = cpu;
  const regs = [
    gpr.rbx, gpr.rcx, gpr.rdx, gpr.rsi, gpr.rdi, gpr.rbp, gpr.rax, BigInt(s.ds.selector), BigInt(s.es.selector),
    BigInt(s.fs.selector), BigInt(s.gs.selector), 0n, cpu.rip, BigInt(s.cs.selector), cpu.rflags, gpr.rsp, BigInt(s.ss.selector),
  ];
  regs.forEach((value, i) => { writeU32le(out, 72 + 4 * i, Number(value & 0xffffffffn)); });
  if (fpValid) writeU32le(out, 140, 1);
  return out;
}

/** QEMUCPUState (target/i386/arch_dump.c), version 1, 440 bytes. */
export function qemuCpuState(cpu: CpuSnapshot): Uint8Array {
  const out = new Uint8Array(QEMUCPUSTATE_SIZE);
  writeU32le(out, 0, QEMUCPUSTATE_VERSION);
  writeU32le(out, 4, QEMUCPUSTATE_SIZE);
  const { gpr, segments: s } = cpu;
  const regs = [gpr.rax, gpr.rbx, gpr.rcx, gpr.rdx, gpr.rsi, gpr.rdi, gpr.rsp, gpr.rbp, gpr.r8, gpr.r9, gpr.r10, gpr.r11, gpr.r12, gpr.r13, gpr.r14, gpr.r15, cpu.rip, cpu.rflags];
  regs.forEach((value, i) => { writeU64le(out, 8 + 8 * i, value); });
  const segs: SegmentState[] = [s.cs, s.ds, s.es, s.fs, s.gs, s.ss, s.ldt, s.tr];
  segs.forEach((seg, i) => { writeSegment(out, 152 + 24 * i, seg); });
  writeSegment(out, 152 + 24 * 8, { selector: 0, base: cpu.gdt.base, limit: cpu.gdt.limit, flags: 0 });
  writeSegment(out, 152 + 24 * 9, { selector: 0, base: cpu.idt.base, limit: cpu.idt.limit, flags: 0 });
  [cpu.cr0, 0n, cpu.cr2, cpu.cr3, cpu.cr4].forEach((value, i) => { writeU64le(out, 392 + 8 * i, value); });
  writeU64le(out, 432, cpu.kernelGsBase);
  return out;
}

function writeSegment(out: Uint8Array, at: number, seg: SegmentState): void {
  writeU32le(out, at, seg.selector);
  writeU32le(out, at + 4, seg.limit >>> 0);
  writeU32le(out, at + 8, seg.flags >>> 0);
  writeU64le(out, at + 16, seg.base);
}

/** The FXSAVE image (user_fpregs_struct on x86_64): what NT_PRFPREG carries for 64-bit cores. */
export function fxsaveImage(cpu: CpuSnapshot): Uint8Array {
  const f = cpu.fpu;
  const out = new Uint8Array(FXSAVE_SIZE);
  writeU16le(out, 0, f.fcw);
  writeU16le(out, 2, f.fsw);
  out[4] = f.ftw & 0xff;
  writeU16le(out, 6, f.fop);
  writeU64le(out, 8, f.fip);
  writeU64le(out, 16, f.fdp);
  writeU32le(out, 24, f.mxcsr);
  writeU32le(out, 28, f.mxcsrMask);
  f.st.forEach((reg, i) => { out.set(reg.subarray(0, 10), 32 + 16 * i); });
  f.xmm.forEach((reg, i) => { out.set(reg.subarray(0, 16), 160 + 16 * i); });
  return out;
}

/**
 * user_i387_struct (FSAVE layout, 108 bytes) for i386 cores: the full tag word is rebuilt from the
 * abridged one by classifying each valid register (valid, zero or special).
 */
export function fsaveImage(cpu: CpuSnapshot): Uint8Array {
  const f = cpu.fpu;
  const out = new Uint8Array(FSAVE_SIZE);
  writeU32le(out, 0, 0xffff0000 | f.fcw);
  writeU32le(out, 4, 0xffff0000 | f.fsw);
  let tags = 0;
  for (let i = 0; i < 8; i++) tags |= (((f.ftw >> i) & 1) === 0 ? 3 : classify(f.st[i])) << (2 * i);
  writeU32le(out, 8, 0xffff0000 | tags);
  writeU32le(out, 12, Number(f.fip & 0xffffffffn));
  writeU32le(out, 16, (f.fop & 0x7ff) << 16);
  writeU32le(out, 20, Number(f.fdp & 0xffffffffn));
  writeU32le(out, 24, 0xffff0000);
  // FSAVE stores ST(0)..ST(7) in stack order: ST(i) is physical register (TOP + i) mod 8.
  const top = (f.fsw >> 11) & 7;
  for (let i = 0; i < 8; i++) out.set((f.st[(top + i) & 7] ?? new Uint8Array(10)).subarray(0, 10), 28 + 10 * i);
  return out;
}

/** x87 tag of a non-empty register: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unnormal). */
function classify(reg: Uint8Array | undefined): number {
  if (reg === undefined) return 1;
  const exponent = ((reg[9] ?? 0) & 0x7f) * 256 + (reg[8] ?? 0);
  const integerBit = ((reg[7] ?? 0) & 0x80) !== 0;
  const mantissaZero = reg.subarray(0, 8).every((b) => b === 0);
  if (exponent === 0) return mantissaZero ? 1 : 2;
  if (exponent === 0x7fff || !integerBit) return 2;
  return 0;
}
