/**
 * The CONTEXT record QEMU 7.2 writes for each CPU (win_dump.c patch_and_save_context): the x64
 * WinContext64 (1232 bytes, ContextFlags 0x10001F) or the x86 WinContext32 (ContextFlags
 * 0x10017), everything not listed zero. QEMU fills only MXCSR of the floating-point state and,
 * for x86, no floating-point state at all; values are truncated to the field widths.
 */

import type { CpuSnapshot, GprName, SegmentName } from '../../cpu/state.js';
import type { HeaderLayout } from './layout.js';

const X64_GPRS: readonly GprName[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const X64_SEGMENTS: readonly SegmentName[] = ['cs', 'ds', 'es', 'fs', 'gs', 'ss'];
/** DR0-DR3, DR6, DR7: the debug registers a CONTEXT holds. */
const DEBUG_REGISTERS = [0, 1, 2, 3, 6, 7] as const;

/** The bytes QEMU writes at the CPU's ContextFrame (layout.contextWriteSize of them). */
export function contextRecord(layout: HeaderLayout, cpu: CpuSnapshot): Uint8Array {
  const bytes = new Uint8Array(layout.contextWriteSize);
  const view = new DataView(bytes.buffer);
  const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));
  const dr = (i: number): bigint => cpu.dr[i] ?? 0n;
  if (layout.kind === 'x64') {
    view.setUint32(0x30, layout.contextFlags, true);
    view.setUint32(0x34, cpu.fpu.mxcsr, true);
    X64_SEGMENTS.forEach((name, i) => { view.setUint16(0x38 + 2 * i, cpu.segments[name].selector & 0xffff, true); });
    view.setUint32(0x44, u32(cpu.rflags), true);
    DEBUG_REGISTERS.forEach((n, i) => { view.setBigUint64(0x48 + 8 * i, BigInt.asUintN(64, dr(n)), true); });
    X64_GPRS.forEach((name, i) => { view.setBigUint64(0x78 + 8 * i, BigInt.asUintN(64, cpu.gpr[name]), true); });
    view.setBigUint64(0xf8, BigInt.asUintN(64, cpu.rip), true);
    // FltSave.MxCsr
    view.setUint32(0x118, cpu.fpu.mxcsr, true);
    return bytes;
  }
  view.setUint32(0x00, layout.contextFlags, true);
  DEBUG_REGISTERS.forEach((n, i) => { view.setUint32(0x04 + 4 * i, u32(dr(n)), true); });
  const s = cpu.segments;
  const g = cpu.gpr;
  const words: readonly (bigint | number)[] = [
    s.gs.selector, s.fs.selector, s.es.selector, s.ds.selector,
    g.rdi, g.rsi, g.rbx, g.rdx, g.rcx, g.rax,
    g.rbp, cpu.rip, s.cs.selector, cpu.rflags, g.rsp, s.ss.selector,
  ];
  words.forEach((w, i) => { view.setUint32(0x8c + 4 * i, u32(BigInt(w)), true); });
  return bytes;
}
