/**
 * create_win_dump (QEMU 7.2 dump/win_dump.c) up to the first byte of output: the note-size and
 * header checks, the KDBG OwnerTag check with its BugcheckParameter1 fallback, the header patches
 * (RequiredDumpSpace, PfnDatabase, bugcheck data, LIVE_SYSTEM_DUMP) and each CPU's CONTEXT,
 * written through guest-virtual addresses into a copy-on-write view of guest memory
 * (PatchedGuestMemory), never into guest RAM itself. QEMU's error texts; warnings go to `warn`.
 *
 * The default flavour also refuses what QEMU 7.2 gets wrong: a note whose size does not match its
 * ValidDump (QEMU reads past its buffer), more runs than Run[] holds (QEMU reads past the
 * header), and runs outside guest RAM and ROM (QEMU writes zeros for them). Its x86 CONTEXT is
 * the 716-byte Windows structure, where QEMU writes 720 bytes (its struct's alignment padding).
 */

import { DumpError, type DumpErrorCode } from '../../core/errors.js';
import type { DumpSource } from '../source.js';
import type { DumpFlavour } from '../notes.js';
import { contextRecord } from './context-record.js';
import { PatchedGuestMemory } from './guest-view.js';
import {
  KDBG, LIVE_SYSTEM_DUMP, PAGE_SIZE, VMCOREINFO_ELF_NOTE_HDR_SIZE, WIN_DUMP_NOTE_SIZE32, WIN_DUMP_NOTE_SIZE64,
  fourChars, layoutFor, readField, writeField, type HeaderLayout,
} from './layout.js';

export interface WinDumpRun {
  readonly basePage: bigint;
  readonly pageCount: bigint;
}

export interface WinDumpPlan {
  readonly layout: HeaderLayout;
  /** The patched header, as the file starts. */
  readonly header: Uint8Array;
  readonly runs: readonly WinDumpRun[];
  /** Guest memory with the CONTEXTs patched in (guest RAM itself is untouched). */
  readonly memory: PatchedGuestMemory;
  readonly requiredDumpSpace: bigint;
}

type WinDumpErrorCode = Extract<DumpErrorCode, `win-dump-${string}`>;

function fail(code: WinDumpErrorCode, text: string): DumpError {
  return new DumpError(code, text, { qemuMessage: text });
}

const TWO64 = 1n << 64n;
const PAGE_SHIFT = 12n;

/**
 * Checks and patches; nothing is written anywhere.
 * @throws DumpError with a 'win-dump-*' code and QEMU's text (qemuMessage) for what the guest got wrong.
 */
export function prepareWinDump(source: DumpSource, note: Uint8Array | undefined, flavour: DumpFlavour, warn: (text: string) => void): WinDumpPlan {
  const compat = flavour === 'qemu-7.2';
  // A note QEMU dropped (Invalid guest note header) has no size here; QEMU 7.2 kept its size and
  // crashed on the missing buffer. Both flavours answer as for a wrong size.
  if (note === undefined || (note.length !== WIN_DUMP_NOTE_SIZE64 && note.length !== WIN_DUMP_NOTE_SIZE32)) {
    throw fail('win-dump-note', 'win-dump: invalid vmcoreinfo note size');
  }
  const sig = note.subarray(VMCOREINFO_ELF_NOTE_HDR_SIZE, VMCOREINFO_ELF_NOTE_HDR_SIZE + 8);
  if (ascii(sig, 0) !== 'PAGE') throw fail('win-dump-header', `win-dump: invalid header, expected 'PAGE', got '${fourChars(sig, 0)}'`);
  const layout = layoutFor(ascii(sig, 4));
  if (layout === undefined) throw fail('win-dump-header', `win-dump: invalid header, expected 'DUMP' or 'DU64', got '${fourChars(sig, 4)}'`);
  if (!compat && note.length !== VMCOREINFO_ELF_NOTE_HDR_SIZE + layout.size) {
    throw fail('win-dump-note', 'win-dump: invalid vmcoreinfo note size');
  }
  // QEMU patches its own copy of the note; a DU64 header in a 4120-byte note reads past it
  // (compat: those bytes read as zeros here).
  const header = new Uint8Array(layout.size);
  header.set(note.subarray(VMCOREINFO_ELF_NOTE_HDR_SIZE, VMCOREINFO_ELF_NOTE_HDR_SIZE + layout.size));
  const ptr = layout.ptrSize;
  const field = (offset: number): bigint => readField(header, offset, ptr);

  const cpu0 = source.cpus[0];
  if (cpu0 === undefined) throw fail('win-dump-context', 'win-dump: the machine has no CPU');
  const memory = new PatchedGuestMemory(source, cpu0, field(layout.directoryTableBase));
  const readPtr = (va: bigint): bigint | undefined => {
    const bytes = new Uint8Array(ptr);
    return memory.readVirtual(va, bytes) ? readField(bytes, 0, ptr) : undefined;
  };
  const add = (a: bigint, b: bigint | number): bigint => (a + BigInt(b)) % TWO64;

  // check_kdbg: the header's KdDebuggerDataBlock, else the driver's copy in BugcheckParameter1.
  let kdbg = field(layout.kdDebuggerDataBlock);
  for (let attempt = 0; ; attempt++) {
    const tag = new Uint8Array(4);
    if (!memory.readVirtual(add(kdbg, KDBG.ownerTag), tag)) throw fail('win-dump-kdbg', 'win-dump: failed to read OwnerTag');
    if (ascii(tag, 0) === 'KDBG') break;
    if (attempt === 1) throw fail('win-dump-kdbg', `win-dump: invalid KDBG OwnerTag, expected 'KDBG', got '${fourChars(tag, 0)}'`);
    kdbg = field(layout.bugcheckParameter1);
  }
  writeField(header, layout.kdDebuggerDataBlock, ptr, kdbg);

  // patch_header
  const pages = field(layout.numberOfPages);
  const required = layout.kind === 'x64'
    ? (BigInt(layout.size) + ((pages << PAGE_SHIFT) % TWO64)) % TWO64
    : (BigInt(layout.size) + ((pages << PAGE_SHIFT) & 0xffffffffn)) & 0xffffffffn;
  writeField(header, layout.requiredDumpSpace, ptr, required);
  if (layout.runsUnused !== undefined) writeField(header, layout.runsUnused, 4, 0n);
  if (layout.unused1 !== undefined) writeField(header, layout.unused1, 4, 0n);
  // Both reads go straight into the header, so a read failing on its second page leaves the
  // bytes of its first page there, as in QEMU.
  if (!memory.readVirtual(add(kdbg, KDBG.mmPfnDatabase), header.subarray(layout.pfnDatabase, layout.pfnDatabase + ptr))) {
    warn('win-dump: failed to read MmPfnDatabase');
  }
  const bugcheckData = readPtr(add(kdbg, KDBG.kiBugcheckData));
  if (bugcheckData === undefined) {
    warn('win-dump: failed to read KiBugcheckData');
  } else if (!memory.readVirtual(bugcheckData, header.subarray(layout.bugcheckCode, layout.bugcheckCode + layout.bugcheckDataSize))) {
    warn('win-dump: failed to read bugcheck data');
  } else if (readField(header, layout.bugcheckCode, 4) === 0n) {
    writeField(header, layout.bugcheckCode, 4, BigInt(LIVE_SYSTEM_DUMP));
  }

  // patch_and_save_context
  const processorBlock = readPtr(add(kdbg, KDBG.kiProcessorBlock));
  if (processorBlock === undefined) throw fail('win-dump-context', 'win-dump: failed to read KiProcessorBlock');
  const offsetBytes = new Uint8Array(2);
  if (!memory.readVirtual(add(kdbg, KDBG.offsetPrcbContext), offsetBytes)) throw fail('win-dump-context', 'win-dump: failed to read OffsetPrcbContext');
  const offsetPrcbContext = readField(offsetBytes, 0, 2);
  const numberProcessors = readField(header, layout.numberProcessors, 4);
  for (const [i, cpu] of source.cpus.entries()) {
    if (BigInt(i) >= numberProcessors) {
      warn(`win-dump: number of QEMU CPUs is bigger than NumberProcessors (${numberProcessors}) in guest Windows`);
      break;
    }
    const prcb = readPtr(add(processorBlock, i * ptr));
    if (prcb === undefined) throw fail('win-dump-context', `win-dump: failed to read CPU #${i} PRCB location`);
    const contextFrame = readPtr(add(prcb, offsetPrcbContext));
    if (contextFrame === undefined) throw fail('win-dump-context', `win-dump: failed to read CPU #${i} ContextFrame location`);
    const record = contextRecord(layout, cpu);
    const written = compat ? record : record.subarray(0, layout.contextSize);
    if (!memory.readVirtual(contextFrame, new Uint8Array(written.length))) throw fail('win-dump-context', `win-dump: failed to save CPU #${i} context`);
    if (!memory.writeVirtual(contextFrame, written)) throw fail('win-dump-context', `win-dump: failed to write CPU #${i} context`);
  }

  const runs = headerRuns(header, layout, compat);
  if (!compat) checkRunsInMemory(source, runs);
  return { layout, header, runs, memory, requiredDumpSpace: required };
}

function ascii(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + 4));
}

/** PhysicalMemoryBlock.Run[0..NumberOfRuns), read as QEMU does (without a bound in compat). */
function headerRuns(header: Uint8Array, layout: HeaderLayout, compat: boolean): WinDumpRun[] {
  const count = Number(readField(header, layout.numberOfRuns, 4));
  const fit = Math.floor((header.length - layout.runs) / layout.runSize);
  if (count > (compat ? fit : layout.maxRuns)) {
    throw fail('win-dump-runs', `win-dump: NumberOfRuns (${count}) is more than the header holds (${compat ? fit : layout.maxRuns})`);
  }
  const half = layout.runSize / 2 as 8 | 4;
  const runs: WinDumpRun[] = [];
  for (let i = 0; i < count; i++) {
    const at = layout.runs + i * layout.runSize;
    runs.push({ basePage: readField(header, at, half), pageCount: readField(header, at + half, half) });
  }
  return runs;
}

/** Default flavour: every run must be guest RAM or ROM (QEMU silently writes zeros instead). */
function checkRunsInMemory(source: DumpSource, runs: readonly WinDumpRun[]): void {
  const blocks = [...source.blocks].sort((a, b) => a.gpa - b.gpa);
  runs.forEach((run, i) => {
    const start = run.basePage * BigInt(PAGE_SIZE);
    const end = start + run.pageCount * BigInt(PAGE_SIZE);
    let at = start;
    for (const b of blocks) {
      const bStart = BigInt(b.gpa);
      const bEnd = bStart + BigInt(b.sizeBytes);
      if (bStart <= at && at < bEnd) at = bEnd;
    }
    if (at < end) {
      const hex = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;
      throw fail('win-dump-runs', `win-dump: run #${i} (${hex(start)}-${hex(end - 1n)}) is not in guest RAM`);
    }
  });
}
