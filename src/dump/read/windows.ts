/**
 * Windows crash dumps read back: "PAGEDU64" and "PAGEDUMP" complete memory dumps (QEMU's win-dmp
 * and ours). The header's fields and its run list (physical memory: run after run right behind
 * the header), and each processor's CONTEXT, found as QEMU placed it: KdDebuggerDataBlock ->
 * KiProcessorBlock[i] -> PRCB + OffsetPrcbContext, walked through the header's
 * DirectoryTableBase with the debug page walk, as long as they carry the architecture's CONTEXT flag (4-level for DU64; for DUMP, PAE when that finds
 * the KDBG, else 32-bit paging with PSE). The CONTEXTs become CPU snapshots (registers a CONTEXT
 * does not hold keep their power-on values; CR3 is the DirectoryTableBase, CR0/CR4/EFER say the
 * paging mode found), so a win-dmp converts to ELF or kdump, and back to win-dmp.
 */

import { pagingControl, translateDebug } from '../../cpu/paging.js';
import { CR0_PE, CR0_PG, CR4_PAE, CR4_PSE, EFER_LMA, EFER_LME, powerOnSnapshot, type CpuSnapshot, type GprName, type SegmentName } from '../../cpu/state.js';
import { HEADER32, HEADER64, KDBG, PAGE_SIZE, readField, type HeaderLayout, type WinDumpKind } from '../windows/layout.js';
import { elfMemory } from './elf.js';
import { readError, truncated } from './errors.js';
import { readBytes, type Reads } from './input.js';
import type { PhysicalMemory } from './memory.js';

export const WIN_DUMP_SIGNATURES = ['PAGEDU64', 'PAGEDUMP'] as const;

export interface WinDumpRunInfo {
  readonly basePage: bigint;
  readonly pageCount: bigint;
  /** Where the run's first byte is in the file. */
  readonly fileOffset: number;
}

/** What a CONTEXT record says, as numbers (x86 values zero-extended). */
export interface WinContextInfo {
  readonly cpu: number;
  /** Guest-virtual address of the record. */
  readonly address: bigint;
  readonly contextFlags: number;
  readonly mxcsr: number | undefined;
  readonly rip: bigint;
  readonly rsp: bigint;
  readonly rflags: bigint;
  readonly gpr: Readonly<Record<GprName, bigint>>;
  readonly selectors: Readonly<Record<'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss', number>>;
  /** DR0-DR3, DR6, DR7. */
  readonly debugRegisters: readonly bigint[];
}

export interface WinDumpInfo {
  readonly kind: WinDumpKind;
  readonly signature: string;
  readonly headerSize: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  readonly directoryTableBase: bigint;
  readonly pfnDatabase: bigint;
  readonly psLoadedModuleList: bigint;
  readonly psActiveProcessHead: bigint;
  readonly machineImageType: number;
  readonly numberProcessors: number;
  readonly bugcheckCode: number;
  readonly bugcheckParameters: readonly bigint[];
  readonly kdDebuggerDataBlock: bigint;
  readonly numberOfRuns: number;
  readonly numberOfPages: bigint;
  readonly runs: readonly WinDumpRunInfo[];
  readonly requiredDumpSpace: bigint;
  /** x64 only. */
  readonly dumpType?: number;
  readonly systemTime?: bigint;
  readonly comment?: string;
  /** The paging mode the CONTEXTs were found with, or undefined when the KDBG was not found. */
  readonly paging?: 'x64' | 'pae' | '32-bit';
  readonly contexts: readonly WinContextInfo[];
}

export interface ParsedWinDump {
  readonly info: WinDumpInfo;
  readonly header: Uint8Array;
  readonly memory: PhysicalMemory;
}

/** Header and runs; the CONTEXTs come later (findContexts), once memory can be read. */
export function* parseWinDump(fileSize: number): Reads<ParsedWinDump> {
  const head = yield* readBytes(0, 8, 'DUMP_HEADER signature');
  const layout: HeaderLayout = String.fromCharCode(...head.subarray(4, 8)) === 'DU64' ? HEADER64 : HEADER32;
  if (fileSize < layout.size) throw truncated(0, `DUMP_HEADER (${layout.validDump})`, layout.size, fileSize);
  const header = (yield* readBytes(0, layout.size, 'DUMP_HEADER')).slice();
  const ptr = layout.ptrSize;
  const f = (offset: number, size: 8 | 4 | 2 = ptr): bigint => readField(header, offset, size);
  const numberOfRuns = Number(f(layout.numberOfRuns, 4));
  if (numberOfRuns > layout.maxRuns) {
    throw readError('bad-field', layout.numberOfRuns, `NumberOfRuns is ${numberOfRuns}; the ${layout.validDump} header holds at most ${layout.maxRuns} runs`);
  }
  const half = (layout.runSize / 2) as 8 | 4;
  const runs: WinDumpRunInfo[] = [];
  let offset = layout.size;
  for (let i = 0; i < numberOfRuns; i++) {
    const at = layout.runs + i * layout.runSize;
    const basePage = f(at, half);
    const pageCount = f(at + half, half);
    const bytes = pageCount * BigInt(PAGE_SIZE);
    if (BigInt(offset) + bytes > BigInt(fileSize)) throw truncated(offset, `run #${i} (${pageCount} pages)`, bytes, fileSize - offset);
    runs.push({ basePage, pageCount, fileOffset: offset });
    offset += Number(bytes);
  }
  const memory = elfMemory(runs.map((r) => ({
    paddr: r.basePage * BigInt(PAGE_SIZE), vaddr: 0n, offset: BigInt(r.fileOffset), filesz: r.pageCount * BigInt(PAGE_SIZE), memsz: r.pageCount * BigInt(PAGE_SIZE),
  })), false);
  const x64 = layout.kind === 'x64';
  const info: WinDumpInfo = {
    kind: layout.kind,
    signature: `PAGE${layout.validDump}`,
    headerSize: layout.size,
    majorVersion: Number(f(0x08, 4)),
    minorVersion: Number(f(0x0c, 4)),
    directoryTableBase: f(layout.directoryTableBase),
    pfnDatabase: f(layout.pfnDatabase),
    psLoadedModuleList: f(layout.psLoadedModuleList),
    psActiveProcessHead: f(layout.psActiveProcessHead),
    machineImageType: Number(f(layout.machineImageType, 4)),
    numberProcessors: Number(f(layout.numberProcessors, 4)),
    bugcheckCode: Number(f(layout.bugcheckCode, 4)),
    bugcheckParameters: [0, 1, 2, 3].map((i) => f(layout.bugcheckParameter1 + i * ptr)),
    kdDebuggerDataBlock: f(layout.kdDebuggerDataBlock),
    numberOfRuns,
    numberOfPages: f(layout.numberOfPages, x64 ? 8 : 4),
    runs,
    requiredDumpSpace: f(layout.requiredDumpSpace, x64 ? 8 : 4),
    ...(layout.dumpType === undefined || layout.systemTime === undefined || layout.comment === undefined
      ? {}
      : { dumpType: Number(f(layout.dumpType, 4)), systemTime: f(layout.systemTime, 8), comment: cString(header.subarray(layout.comment, layout.comment + 128)) }),
    contexts: [],
  };
  return { info, header, memory };
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return String.fromCharCode(...(end === -1 ? bytes : bytes.subarray(0, end)));
}

/** Asynchronous physical reads (the DumpFile's readPhysical). */
export type PhysicalRead = (gpa: number, dst: Uint8Array) => Promise<boolean>;

type Mode = NonNullable<WinDumpInfo['paging']>;
const CONTROL: Record<Mode, { cr0: bigint; cr4: bigint; efer: bigint }> = {
  x64: { cr0: CR0_PG | CR0_PE, cr4: CR4_PAE, efer: EFER_LMA | EFER_LME },
  pae: { cr0: CR0_PG | CR0_PE, cr4: CR4_PAE, efer: 0n },
  '32-bit': { cr0: CR0_PG | CR0_PE, cr4: CR4_PSE, efer: 0n },
};

/**
 * The debug walk over memory that is read asynchronously: the walker's table reads come from a
 * cache, and a walk that missed is repeated once the missing dwords are fetched.
 */
class AsyncWalker {
  readonly #cache = new Map<number, number>();
  readonly #read: PhysicalRead;
  readonly #control: ReturnType<typeof pagingControl>;

  constructor(read: PhysicalRead, mode: Mode, dtb: bigint) {
    this.#read = read;
    this.#control = pagingControl({ ...powerOnSnapshot(0), ...CONTROL[mode], cr3: dtb });
  }

  async translate(va: bigint): Promise<number | undefined> {
    for (;;) {
      const missing: number[] = [];
      const result = translateDebug({
        readU32: (gpa) => {
          const v = this.#cache.get(gpa);
          if (v === undefined) missing.push(gpa);
          return v ?? 0;
        },
      }, this.#control, va);
      if (missing.length === 0) return result?.pa;
      for (const gpa of missing) {
        const word = new Uint8Array(4);
        await this.#read(gpa, word);
        this.#cache.set(gpa, new DataView(word.buffer).getUint32(0, true));
      }
    }
  }

  /** Page by page, as cpu_memory_rw_debug; false if a page does not translate or is not in the dump. */
  async readVirtual(va: bigint, dst: Uint8Array): Promise<boolean> {
    let done = 0;
    while (done < dst.length) {
      const at = BigInt.asUintN(64, va + BigInt(done));
      const n = Math.min(dst.length - done, PAGE_SIZE - Number(at & BigInt(PAGE_SIZE - 1)));
      const pa = await this.translate(at);
      if (pa === undefined || !(await this.#read(pa, dst.subarray(done, done + n)))) return false;
      done += n;
    }
    return true;
  }
}

const MAX_CONTEXTS = 4096;

/** The CONTEXT of each processor, with the paging mode that found the KDBG; none if none did. */
export async function findContexts(info: WinDumpInfo, read: PhysicalRead): Promise<{ paging: Mode | undefined; contexts: WinContextInfo[] }> {
  const layout = info.kind === 'x64' ? HEADER64 : HEADER32;
  const modes: Mode[] = info.kind === 'x64' ? ['x64'] : ['pae', '32-bit'];
  const ptr = layout.ptrSize;
  for (const mode of modes) {
    const walker = new AsyncWalker(read, mode, info.directoryTableBase);
    const kdbg = info.kdDebuggerDataBlock;
    const tag = new Uint8Array(4);
    if (!(await walker.readVirtual(kdbg + BigInt(KDBG.ownerTag), tag)) || String.fromCharCode(...tag) !== 'KDBG') continue;
    const readPtr = async (va: bigint): Promise<bigint | undefined> => {
      const b = new Uint8Array(ptr);
      return (await walker.readVirtual(va, b)) ? readField(b, 0, ptr) : undefined;
    };
    const contexts: WinContextInfo[] = [];
    const block = await readPtr(kdbg + BigInt(KDBG.kiProcessorBlock));
    const offsetBytes = new Uint8Array(2);
    if (block === undefined || !(await walker.readVirtual(kdbg + BigInt(KDBG.offsetPrcbContext), offsetBytes))) return { paging: mode, contexts };
    const offset = readField(offsetBytes, 0, 2);
    for (let i = 0; i < Math.min(info.numberProcessors, MAX_CONTEXTS); i++) {
      const prcb = await readPtr(block + BigInt(i * ptr));
      const address = prcb === undefined ? undefined : await readPtr(prcb + offset);
      if (address === undefined) break;
      const bytes = new Uint8Array(layout.contextSize);
      if (!(await walker.readVirtual(address, bytes))) break;
      const ctx = parseContext(layout, bytes, i, address);
      // A record without CONTEXT_AMD64 / CONTEXT_i386 in its flags was never written (a header
      // that counts more processors than the machine had).
      if ((ctx.contextFlags & (layout.kind === 'x64' ? 0x100000 : 0x10000)) === 0) break;
      contexts.push(ctx);
    }
    return { paging: mode, contexts };
  }
  return { paging: undefined, contexts: [] };
}

const X64_GPRS: readonly GprName[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

function parseContext(layout: HeaderLayout, bytes: Uint8Array, cpu: number, address: bigint): WinContextInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number): bigint => BigInt(view.getUint32(at, true));
  const zero = Object.fromEntries(X64_GPRS.map((n) => [n, 0n])) as Record<GprName, bigint>;
  if (layout.kind === 'x64') {
    const gpr = { ...zero };
    X64_GPRS.forEach((n, i) => (gpr[n] = view.getBigUint64(0x78 + 8 * i, true)));
    const sel = (i: number): number => view.getUint16(0x38 + 2 * i, true);
    return {
      cpu, address,
      contextFlags: view.getUint32(0x30, true),
      mxcsr: view.getUint32(0x34, true),
      rip: view.getBigUint64(0xf8, true),
      rsp: gpr.rsp,
      rflags: u32(0x44),
      gpr,
      selectors: { cs: sel(0), ds: sel(1), es: sel(2), fs: sel(3), gs: sel(4), ss: sel(5) },
      debugRegisters: [0, 1, 2, 3, 4, 5].map((i) => view.getBigUint64(0x48 + 8 * i, true)),
    };
  }
  const w = (i: number): bigint => u32(0x8c + 4 * i);
  const gpr = { ...zero, rdi: w(4), rsi: w(5), rbx: w(6), rdx: w(7), rcx: w(8), rax: w(9), rbp: w(10), rsp: w(14) };
  return {
    cpu, address,
    contextFlags: view.getUint32(0, true),
    mxcsr: undefined,
    rip: w(11),
    rsp: w(14),
    rflags: w(13),
    gpr,
    selectors: { gs: Number(w(0)), fs: Number(w(1)), es: Number(w(2)), ds: Number(w(3)), cs: Number(w(12)), ss: Number(w(15)) },
    debugRegisters: [0, 1, 2, 3, 4, 5].map((i) => u32(0x04 + 4 * i)),
  };
}

/** A CPU snapshot from a CONTEXT; what a CONTEXT lacks keeps its power-on value. */
export function cpuFromContext(ctx: WinContextInfo, mode: Mode, dtb: bigint): CpuSnapshot {
  const base = powerOnSnapshot(ctx.cpu);
  const names: readonly (keyof WinContextInfo['selectors'] & SegmentName)[] = ['cs', 'ds', 'es', 'fs', 'gs', 'ss'];
  const segments = { ...base.segments };
  for (const n of names) segments[n] = { ...segments[n], selector: ctx.selectors[n] };
  const d = ctx.debugRegisters;
  return {
    ...base,
    gpr: ctx.gpr,
    rip: ctx.rip,
    rflags: ctx.rflags,
    segments,
    ...CONTROL[mode],
    cr3: dtb,
    dr: [d[0] ?? 0n, d[1] ?? 0n, d[2] ?? 0n, d[3] ?? 0n, 0n, 0n, d[4] ?? 0n, d[5] ?? 0n],
    fpu: { ...base.fpu, mxcsr: ctx.mxcsr ?? base.fpu.mxcsr },
    runState: 'halted',
  };
}

/** The vmcoreinfo note QEMU would have read: a 24-byte "VMCOREINFO" note head and the header. */
export function windowsNoteFor(header: Uint8Array): Uint8Array {
  const note = new Uint8Array(24 + header.length);
  const view = new DataView(note.buffer);
  view.setUint32(0, 11, true);
  view.setUint32(4, header.length, true);
  note.set(new TextEncoder().encode('VMCOREINFO'), 12);
  note.set(header, 24);
  return note;
}
