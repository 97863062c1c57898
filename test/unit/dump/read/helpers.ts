/**
 * Shared fixtures for the dump reader tests: a 32 MiB pc machine with recognisable bytes in RAM,
 * a guest-registered VMCOREINFO note, CPU snapshots that differ from power-on in every register a
 * dump carries (long mode, 32-bit paging, real mode), and dumps of them made by the engine.
 */
import { expect } from 'vitest';
import {
  DumpEngine,
  MemorySink,
  createMachine,
  powerOnSnapshot,
  type CpuSnapshot,
  type DumpFormat,
  type DumpSource,
  type FpuState,
  type Machine,
} from '../../../../src/index.js';
import { EFER_LMA, EFER_LME } from '../../../../src/cpu/state.js';
import { DmaDriver, PioDriver, findFile } from '../../../support/fwcfg-driver.js';
import { concatBytes } from '../../../../src/core/bytes.js';

export const FIRMWARE = new Uint8Array(65536).fill(0xf4);
export const NOTE_GPA = 0x90000;
export const VMCOREINFO = 'OSRELEASE=6.1.0-slice86\nPAGESIZE=4096\nNUMBER(phys_base)=16777216\nKERNELOFFSET=2a000000\n';

/** Addresses of recognisable bytes: page 0, unaligned and page-crossing, the last RAM page. */
export const MARKS: readonly { readonly gpa: number; readonly length: number }[] = [
  { gpa: 0x0, length: 64 },
  { gpa: 0x9ff00, length: 0x200 },
  { gpa: 0x123456, length: 3000 },
  { gpa: 0x1fff000, length: 4096 },
];

export function markBytes(gpa: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => ((gpa >>> 4) + i * 7 + 1) & 0xff);
}

/** A pc machine (32 MiB, 64 KiB HLT firmware) with MARKS written and, optionally, a VMCOREINFO note. */
export function markedMachine(options: { cpus?: number; vmcoreinfo?: string } = {}): Machine {
  const machine = createMachine({ machine: 'pc', memorySize: '32M', firmware: FIRMWARE, cpus: options.cpus ?? 1 });
  if (options.vmcoreinfo !== undefined) registerNote(machine, elfNote('VMCOREINFO', options.vmcoreinfo));
  for (const m of MARKS) machine.memory.write(m.gpa, markBytes(m.gpa, m.length));
  return machine;
}

/** A 12-byte-header ELF note, name and desc zero-padded to 4 bytes. */
export function elfNote(name: string, desc: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const descBytes = new TextEncoder().encode(desc);
  const pad = (n: number): number => Math.ceil(n / 4) * 4;
  const out = new Uint8Array(12 + pad(nameBytes.length) + pad(descBytes.length));
  const view = new DataView(out.buffer);
  view.setUint32(0, nameBytes.length, true);
  view.setUint32(4, descBytes.length, true);
  out.set(nameBytes, 12);
  out.set(descBytes, 12 + pad(nameBytes.length));
  return out;
}

/** The guest's side of vmcoreinfo, as Linux does it: note into RAM, then a DMA write of the record. */
export function registerNote(machine: Machine, note: Uint8Array): void {
  machine.memory.write(NOTE_GPA, note);
  const record = new Uint8Array(16);
  const view = new DataView(record.buffer);
  view.setUint16(2, 1, true);
  view.setUint32(4, note.length, true);
  view.setBigUint64(8, BigInt(NOTE_GPA), true);
  const entry = findFile(new PioDriver(machine), 'etc/vmcoreinfo');
  if (entry === undefined) throw new Error('no etc/vmcoreinfo');
  expect(new DmaDriver(machine, 'linux').writeDma(entry.key, record)).toBe(0);
}

/** FPU state unlike power-on: TOP = 5, R5 valid (1.0), R6 zero, SSE values set. */
export function customFpu(): FpuState {
  const st = Array.from({ length: 8 }, (_, i) => Uint8Array.from({ length: 10 }, (_, j) => (i * 16 + j) & 0xff));
  st[5] = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f]);
  st[6] = new Uint8Array(10);
  return {
    fcw: 0x27f,
    fsw: (5 << 11) | 0x20,
    ftw: (1 << 5) | (1 << 6),
    fop: 0x123,
    fip: 0x12345678n,
    fdp: 0x9abcdef0n,
    mxcsr: 0x1fa0,
    mxcsrMask: 0xffbf,
    st,
    xmm: Array.from({ length: 16 }, (_, i) => new Uint8Array(16).fill(0x40 + i)),
  };
}

/** A CPU in 64-bit long mode (Linux-like values), EFER = LMA|LME, what a dump lets us infer. */
export function longModeCpu(index: number, fpu?: FpuState): CpuSnapshot {
  const base = powerOnSnapshot(index);
  const flat = (selector: number, flags: number, segBase = 0n): CpuSnapshot['segments']['cs'] => ({ selector, base: segBase, limit: 0xffffffff, flags });
  return {
    ...base,
    gpr: {
      rax: 0xaaaa000000000a01n, rcx: 0xcccc000000000c03n, rdx: 0xdddd000000000d04n, rbx: 0xbbbb000000000b02n,
      rsp: 0xffffc90000003f58n - BigInt(index) * 0x1000n, rbp: 0xbebe00000000be07n, rsi: 0x5151000000005105n, rdi: 0xd1d1000000000d06n,
      r8: 0x0808080800000008n, r9: 0x0909090900000009n, r10: 0x101010100000000an, r11: 0x111111110000000bn,
      r12: 0x121212120000000cn, r13: 0x131313130000000dn, r14: 0x141414140000000en, r15: 0x151515150000000fn + BigInt(index),
    },
    rip: 0xffffffff810007f2n + BigInt(index),
    rflags: 0x240cd7n,
    segments: {
      es: flat(0x4b, 0x41f345, 0x456000n),
      cs: flat(0x30, 0xaf9a00),
      ss: flat(0x38, 0xcf9300),
      ds: flat(0x43, 0xcff312, 0x123000n),
      fs: flat(0x50, 0xcf9378, 0x7f1234567000n),
      gs: flat(0x5a, 0xdfd3ab, 0xffff888000012000n),
      ldt: { selector: 0, base: 0n, limit: 0xffff, flags: 0x8200 },
      tr: { selector: 0x40, base: 0xfffffe0000003000n, limit: 0x4087, flags: 0x8b00 },
    },
    gdt: { base: 0xfffffe0000001000n, limit: 0x7f },
    idt: { base: 0xfffffe0000000000n, limit: 0xfff },
    cr0: 0x80050033n,
    cr2: 0x7f00deadb000n,
    cr3: 0x1234000n + BigInt(index) * 0x1000n,
    cr4: 0x3606f0n,
    efer: EFER_LMA | EFER_LME,
    kernelGsBase: 0xffff88807fc00000n + BigInt(index),
    ...(fpu === undefined ? {} : { fpu }),
  };
}

/** A CPU in 32-bit protected mode with PSE paging: EFER 0. */
export function protectedCpu(index: number, fpu?: FpuState): CpuSnapshot {
  const base = powerOnSnapshot(index);
  const flat = (selector: number, flags: number): CpuSnapshot['segments']['cs'] => ({ selector, base: 0n, limit: 0xffffffff, flags });
  return {
    ...base,
    gpr: { ...base.gpr, rax: 0xc0de0001n, rbx: 0xc0de0002n, rcx: 0xc0de0003n, rdx: 0xc0de0004n, rsi: 0xc0de0005n, rdi: 0xc0de0006n, rbp: 0xc0de0007n, rsp: 0xc03fff00n },
    rip: 0xc0100000n + BigInt(index),
    rflags: 0x202n,
    segments: { ...base.segments, cs: flat(0x08, 0xcf9b00), ds: flat(0x10, 0xcf9300), es: flat(0x10, 0xcf9300), ss: flat(0x10, 0xcf9300), fs: flat(0, 0), gs: flat(0x18, 0xcf9300) },
    gdt: { base: 0xc0001000n, limit: 0x1f },
    idt: { base: 0xc0002000n, limit: 0x7ff },
    cr0: 0x80000011n,
    cr2: 0xc0ffee00n,
    cr3: 0x9000n,
    cr4: 0x10n,
    ...(fpu === undefined ? {} : { fpu }),
  };
}

/** An AP that has not started: power-on state, but with recognisable GPRs. */
export function waitingCpu(index: number): CpuSnapshot {
  const base = powerOnSnapshot(index);
  return { ...base, gpr: { ...base.gpr, rax: 0x1111n * BigInt(index), rdi: 0xfeedn } };
}

export async function dumpBytes(source: DumpSource, format: DumpFormat, compat?: 'qemu-7.2', engine = new DumpEngine()): Promise<Uint8Array> {
  const sink = new MemorySink();
  await engine.dump(source, { sink, format, ...(compat === undefined ? {} : { compat }) });
  return sink.bytes();
}

/** What reading back should give: the FPU only survives where NT_PRFPREG is written (default flavour). */
export function expectedCpu(cpu: CpuSnapshot, compat: 'qemu-7.2' | undefined, machine: 'x86_64' | 'i386', index: number): CpuSnapshot {
  if (compat === 'qemu-7.2') return { ...cpu, fpu: powerOnSnapshot(index).fpu };
  if (machine === 'i386') {
    // FSAVE carries no SSE state and 32-bit FPU pointers.
    const power = powerOnSnapshot(index).fpu;
    return { ...cpu, fpu: { ...cpu.fpu, mxcsr: power.mxcsr, mxcsrMask: power.mxcsrMask, xmm: power.xmm, fip: cpu.fpu.fip & 0xffffffffn, fdp: cpu.fpu.fdp & 0xffffffffn } };
  }
  return cpu;
}

/** Offset of the first differing byte, or -1; for readable failures on big buffers. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** One ELF note (namesz includes the NUL), as spec §3.5 lays it out. */
export function note(name: string, type: number, desc: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const pad = (n: number): number => Math.ceil(n / 4) * 4;
  const out = new Uint8Array(12 + pad(nameBytes.length) + pad(desc.length));
  const view = new DataView(out.buffer);
  view.setUint32(0, nameBytes.length, true);
  view.setUint32(4, desc.length, true);
  view.setUint32(8, type, true);
  out.set(nameBytes, 12);
  out.set(desc, 12 + pad(nameBytes.length));
  return out;
}

export interface HandLoad {
  readonly paddr: bigint;
  readonly vaddr?: bigint;
  readonly memsz?: bigint;
  /** Bytes of this PT_LOAD, placed after the notes. */
  readonly data?: Uint8Array;
  /** Share the file bytes of an earlier PT_LOAD (its index). */
  readonly aliasOf?: number;
  /** p_offset ~0, p_filesz 0: a mapping outside dumped memory. */
  readonly noData?: boolean;
}

/**
 * A little-endian ELF64 core written by hand from spec §3 (Ehdr at 0, Phdrs at 64, then notes,
 * then the PT_LOAD data), independent of the engine's writer.
 */
export function handElf64(options: { machine?: number; notes: readonly Uint8Array[]; loads: readonly HandLoad[] }): Uint8Array {
  const phnum = 1 + options.loads.length;
  const noteBytes = concat(options.notes);
  const noteOffset = 64 + 56 * phnum;
  let at = noteOffset + noteBytes.length;
  const placed = options.loads.map((l) => {
    const offset = l.data === undefined ? undefined : at;
    at += l.data?.length ?? 0;
    return offset;
  });
  // PN_XNUM (spec §3.2): e_phnum 0xffff, the real count in Shdr[0].sh_info (here at the end).
  const xnum = phnum >= 0xffff;
  const shoff = at;
  const out = new Uint8Array(at + (xnum ? 64 : 0));
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  view.setUint16(16, 4, true);
  view.setUint16(18, options.machine ?? 62, true);
  view.setUint32(20, 1, true);
  view.setBigUint64(32, 64n, true);
  view.setUint16(52, 64, true);
  view.setUint16(54, 56, true);
  view.setUint16(56, Math.min(phnum, 0xffff), true);
  if (xnum) {
    view.setBigUint64(40, BigInt(shoff), true);
    view.setUint16(58, 64, true);
    view.setUint16(60, 1, true);
    view.setUint32(shoff + 44, phnum, true);
  }
  const phdr = (i: number, type: number, offset: bigint, vaddr: bigint, paddr: bigint, filesz: bigint, memsz: bigint): void => {
    const p = 64 + 56 * i;
    view.setUint32(p, type, true);
    view.setBigUint64(p + 8, offset, true);
    view.setBigUint64(p + 16, vaddr, true);
    view.setBigUint64(p + 24, paddr, true);
    view.setBigUint64(p + 32, filesz, true);
    view.setBigUint64(p + 40, memsz, true);
  };
  phdr(0, 4, BigInt(noteOffset), 0n, 0n, BigInt(noteBytes.length), BigInt(noteBytes.length));
  out.set(noteBytes, noteOffset);
  options.loads.forEach((l, i) => {
    const source = l.aliasOf ?? i;
    const offset = placed[source];
    const size = BigInt(options.loads[source]?.data?.length ?? 0);
    if (l.data !== undefined && offset !== undefined) out.set(l.data, offset);
    const noData = l.noData === true || offset === undefined;
    phdr(1 + i, 1, noData ? 0xffffffffffffffffn : BigInt(offset), l.vaddr ?? l.paddr, l.paddr, noData ? 0n : size, l.memsz ?? size);
  });
  return out;
}

/** The parts one after another (the project's concatBytes, under the name these tests use). */
export const concat = concatBytes;

/** Bytes with little-endian fields set: [offset, value, width] triples. */
export function fields(size: number, values: readonly (readonly [number, bigint | number, 2 | 4 | 8])[]): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (const [at, value, width] of values) {
    if (width === 8) view.setBigUint64(at, BigInt(value), true);
    else if (width === 4) view.setUint32(at, Number(value), true);
    else view.setUint16(at, Number(value), true);
  }
  return out;
}
