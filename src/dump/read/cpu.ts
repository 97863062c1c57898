/**
 * CPU snapshots from a dump's notes (spec §3.5). Per CPU, in note order: the QEMU note
 * (QEMUCPUState: GPRs, RIP, RFLAGS, ten segment records, CR0-CR4, KERNEL_GS_BASE when its size
 * says 440) and, where the dump has one, the FPU from the CPU's CORE/NT_PRFPREG (x86_64 FXSAVE
 * image, or i386 FSAVE image converted back). A dump with CORE/NT_PRSTATUS but no QEMU notes
 * (another producer) gives its GPRs, RIP, RFLAGS, selectors and FS/GS bases. Everything a dump
 * does not carry (CR8, DRs, APIC base, A20, run state, and the FPU without NT_PRFPREG) is
 * powerOnSnapshot's.
 *
 * EFER is not in any note. It is inferred: LMA|LME when the dump is EM_X86_64 and the CPU has
 * CR0.PG and CR4.PAE, i.e. paging in the only mode an x86_64 kernel runs; else 0. QEMU makes a
 * dump EM_X86_64 exactly when CPU 0 has EFER.LMA, so CPU 0's inference is exact; an AP caught in
 * 32-bit PAE mode on its way to long mode would be misread as long mode (NXE/SCE are unknowable).
 */

import { readU16le, readU32le, readU64le } from '../../core/bytes.js';
import { CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, powerOnSnapshot, type CpuSnapshot, type FpuState, type GprName, type SegmentState } from '../../cpu/state.js';
import { readError } from './errors.js';
import type { DumpNote } from './notes.js';

export type DumpMachine = 'x86_64' | 'i386';

const NT_PRSTATUS = 1;
const NT_PRFPREG = 2;
const PRSTATUS_X86_64_SIZE = 336;
const PRSTATUS_I386_SIZE = 144;
/** QEMUCPUState up to and including CR4; KERNEL_GS_BASE follows when `size` is 440. */
const QEMU_STATE_MIN = 432;
const QEMU_STATE_WITH_KGSBASE = 440;
const FXSAVE_SIZE = 512;
const FSAVE_SIZE = 108;
/** Well above QEMU's x86 limit (8192 vCPUs); bounds the snapshots a crafted note area can ask for. */
const MAX_CPUS = 16384;

/** The prstatus flavour of the dump's first NT_PRSTATUS, if it has one QEMU writes. */
export function prstatusMachine(notes: readonly DumpNote[]): DumpMachine | undefined {
  const first = notes.find((n) => n.name === 'CORE' && n.type === NT_PRSTATUS);
  if (first?.desc.length === PRSTATUS_X86_64_SIZE) return 'x86_64';
  if (first?.desc.length === PRSTATUS_I386_SIZE) return 'i386';
  return undefined;
}

interface CoreThread {
  readonly prstatus: DumpNote;
  fpregs: DumpNote | undefined;
}

/**
 * One snapshot per QEMU note, or per NT_PRSTATUS when there are no QEMU notes.
 * @throws DumpReadError 'bad-field' for a QEMU note or prstatus too short for its layout.
 */
export function cpusFromNotes(notes: readonly DumpNote[], machine: DumpMachine): CpuSnapshot[] {
  const threads: CoreThread[] = [];
  for (const note of notes) {
    if (note.name !== 'CORE') continue;
    if (note.type === NT_PRSTATUS) threads.push({ prstatus: note, fpregs: undefined });
    const last = threads.at(-1);
    // NT_PRFPREG belongs to the thread whose NT_PRSTATUS precedes it.
    if (note.type === NT_PRFPREG && last !== undefined) last.fpregs ??= note;
  }
  const qemu = notes.filter((n) => n.name === 'QEMU' && n.type === 0);
  const perCpu = qemu.length > 0 ? qemu : threads.map((t) => t.prstatus);
  const excess = perCpu[MAX_CPUS];
  if (excess !== undefined) throw readError('unsupported', excess.offset, `the dump has ${perCpu.length} CPU notes; slice86 reads at most ${MAX_CPUS} CPUs`);
  const base = qemu.length > 0
    ? qemu.map((note, i) => fromQemuNote(note, i))
    : threads.map((t, i) => fromPrstatus(t.prstatus, i, machine));
  return base.map((cpu, i) => {
    const fpu = fpuFrom(threads[i]?.fpregs, machine, cpu.fpu);
    const efer = machine === 'x86_64' && (cpu.cr0 & CR0_PG) !== 0n && (cpu.cr4 & CR4_PAE) !== 0n ? EFER_LMA | EFER_LME : 0n;
    return { ...cpu, fpu, efer };
  });
}

function fromQemuNote(note: DumpNote, index: number): CpuSnapshot {
  const d = note.desc;
  if (d.length < QEMU_STATE_MIN) throw readError('bad-field', note.offset, `QEMU note of CPU ${index} has descsz ${d.length}; QEMUCPUState needs at least ${QEMU_STATE_MIN} bytes`);
  const u64 = (at: number): bigint => readU64le(d, at);
  const order: GprName[] = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  const gpr = Object.fromEntries(order.map((name, i) => [name, u64(8 + 8 * i)])) as Record<GprName, bigint>;
  const segment = (i: number): SegmentState => {
    const at = 152 + 24 * i;
    return { selector: readU32le(d, at), limit: readU32le(d, at + 4), flags: readU32le(d, at + 8), base: u64(at + 16) };
  };
  const table = (i: number): { base: bigint; limit: number } => ({ base: u64(152 + 24 * i + 16), limit: readU32le(d, 152 + 24 * i + 4) });
  const hasKernelGsBase = readU32le(d, 4) >= QEMU_STATE_WITH_KGSBASE && d.length >= QEMU_STATE_WITH_KGSBASE;
  return {
    ...powerOnSnapshot(index),
    gpr,
    rip: u64(136),
    rflags: u64(144),
    segments: { cs: segment(0), ds: segment(1), es: segment(2), fs: segment(3), gs: segment(4), ss: segment(5), ldt: segment(6), tr: segment(7) },
    gdt: table(8),
    idt: table(9),
    cr0: u64(392),
    cr2: u64(408),
    cr3: u64(416),
    cr4: u64(424),
    kernelGsBase: hasKernelGsBase ? u64(432) : 0n,
  };
}

/** Linux's elf_prstatus pr_reg order, x86_64 (u64 at 112) and i386 (u32 at 72). */
const PR_REG_X86_64 = ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'] as const;
const PR_REG_I386 = ['ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'eax', 'ds', 'es', 'fs', 'gs', 'orig_eax', 'eip', 'cs', 'eflags', 'esp', 'ss'] as const;

/**
 * A snapshot from NT_PRSTATUS alone. Segment limits and attributes are not in it (power-on values
 * stay), bases are 0 except FS/GS on x86_64. A 64-bit prstatus means the thread ran in long mode,
 * so CR0.PE|PG and CR4.PAE are set to make that state consistent (EFER follows from them).
 */
function fromPrstatus(note: DumpNote, index: number, machine: DumpMachine): CpuSnapshot {
  const is64 = machine === 'x86_64';
  const need = is64 ? PRSTATUS_X86_64_SIZE : PRSTATUS_I386_SIZE;
  if (note.desc.length < need) throw readError('bad-field', note.offset, `CORE NT_PRSTATUS of CPU ${index} has descsz ${note.desc.length}; the ${machine} prstatus needs ${need} bytes`);
  const names: readonly string[] = is64 ? PR_REG_X86_64 : PR_REG_I386;
  const reg = (name: string): bigint => {
    const i = names.indexOf(name);
    return is64 ? readU64le(note.desc, 112 + 8 * i) : BigInt(readU32le(note.desc, 72 + 4 * i));
  };
  const power = powerOnSnapshot(index);
  const gpr = { ...power.gpr };
  for (const name of Object.keys(gpr) as GprName[]) {
    const prName = is64 ? name : name.replace(/^r/, 'e');
    if (names.includes(prName)) gpr[name] = reg(prName);
  }
  const seg = (name: 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss', base: bigint): SegmentState => ({ ...power.segments[name], selector: Number(reg(name) & 0xffffn), base });
  return {
    ...power,
    gpr,
    rip: reg(is64 ? 'rip' : 'eip'),
    rflags: reg('eflags'),
    segments: {
      ...power.segments,
      cs: seg('cs', 0n),
      ds: seg('ds', 0n),
      es: seg('es', 0n),
      ss: seg('ss', 0n),
      fs: seg('fs', is64 ? reg('fs_base') : 0n),
      gs: seg('gs', is64 ? reg('gs_base') : 0n),
    },
    cr0: is64 ? power.cr0 | CR0_PE | CR0_PG : power.cr0,
    cr4: is64 ? power.cr4 | CR4_PAE : power.cr4,
  };
}

/** The FPU from NT_PRFPREG when there is one of the expected size, else `fallback`. */
function fpuFrom(note: DumpNote | undefined, machine: DumpMachine, fallback: FpuState): FpuState {
  if (note === undefined) return fallback;
  if (machine === 'x86_64') return note.desc.length >= FXSAVE_SIZE ? fromFxsave(note.desc) : fallback;
  return note.desc.length >= FSAVE_SIZE ? fromFsave(note.desc, fallback) : fallback;
}

/** user_fpregs_struct: the FXSAVE image. */
function fromFxsave(d: Uint8Array): FpuState {
  return {
    fcw: readU16le(d, 0),
    fsw: readU16le(d, 2),
    ftw: d[4] ?? 0,
    fop: readU16le(d, 6),
    fip: readU64le(d, 8),
    fdp: readU64le(d, 16),
    mxcsr: readU32le(d, 24),
    mxcsrMask: readU32le(d, 28),
    st: Array.from({ length: 8 }, (_, i) => d.slice(32 + 16 * i, 32 + 16 * i + 10)),
    xmm: Array.from({ length: 16 }, (_, i) => d.slice(160 + 16 * i, 176 + 16 * i)),
  };
}

/**
 * user_i387_struct (FSAVE): the full tag word becomes the abridged one (empty = tag 3), and the
 * registers go back from stack order (ST(i)) to physical order (R[(TOP + i) mod 8]). SSE state is
 * not in it: MXCSR and XMM stay as `fallback` has them.
 */
function fromFsave(d: Uint8Array, fallback: FpuState): FpuState {
  const fsw = readU16le(d, 4);
  const tags = readU16le(d, 8);
  let ftw = 0;
  for (let i = 0; i < 8; i++) if (((tags >> (2 * i)) & 3) !== 3) ftw |= 1 << i;
  const top = (fsw >> 11) & 7;
  const st = Array.from({ length: 8 }, () => new Uint8Array(10));
  for (let i = 0; i < 8; i++) st[(top + i) & 7] = d.slice(28 + 10 * i, 38 + 10 * i);
  return {
    ...fallback,
    fcw: readU16le(d, 0),
    fsw,
    ftw,
    fop: (readU32le(d, 16) >>> 16) & 0x7ff,
    fip: BigInt(readU32le(d, 12)),
    fdp: BigInt(readU32le(d, 20)),
    st,
  };
}
