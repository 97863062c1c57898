/**
 * readDump: opens an x86 guest-memory dump of any format slice86 writes (QEMU 7.2's and ours):
 * an ELF core, a makedumpfile flattened kdump stream, or a raw kdump file, told apart by their
 * first bytes. The result describes the dump (CPUs, notes, VMCOREINFO, memory ranges, headers),
 * reads guest-physical memory, and turns into a DumpSource that the dump engine can write in any
 * format: that is `convert`. Only headers, notes and the kdump bitmap are read up front (and, for
 * a Windows crash dump, the few pages that lead to its CONTEXTs); memory is read when asked for.
 * ELF cores of other machines are not read.
 */

import type { CpuSnapshot } from '../../cpu/state.js';
import { BUILTIN_CODECS } from '../engine.js';
import type { DumpBlock, DumpSource } from '../source.js';
import { cpusFromNotes, type DumpMachine } from './cpu.js';
import { parseElf, type ElfInfo } from './elf.js';
import { readError, truncated } from './errors.js';
import { FLAT_HEADER_SIZE, MAKEDUMPFILE_SIGNATURE, indexFlattened } from './flattened.js';
import { answersSynchronously, asyncInputError, readBytes, runAsync, runSync, type RandomAccessInput, type Reads } from './input.js';
import { KDUMP_SIGNATURE, parseKdump, type KdumpInfo } from './kdump.js';
import { plainFile, type LogicalFile } from './logical.js';
import type { PhysicalMemory, PhysRange } from './memory.js';
import { guestNoteOf, vmcoreinfoText, type DumpNote, type ParsedNote } from './notes.js';
import type { CodecTable } from './pages.js';
import { cpuFromContext, findContexts, parseWinDump, windowsNoteFor, WIN_DUMP_SIGNATURES, type WinDumpInfo } from './windows.js';

export type DumpFileFormat = 'elf' | 'kdump-flattened' | 'kdump-raw' | 'win-dmp';

export interface ReadDumpOptions {
  /** Page codecs by name, added to (or replacing) the engine's built-in ones. */
  readonly codecs?: CodecTable;
}

export interface DumpFile {
  readonly format: DumpFileFormat;
  /** ELF class; for kdump, the header class (which follows the class of the same dump as ELF). */
  readonly elfClass: 32 | 64;
  /** e_machine; for kdump, the prstatus flavour (else utsname.machine). */
  readonly machine: DumpMachine;
  readonly cpus: readonly CpuSnapshot[];
  readonly notes: readonly DumpNote[];
  /** The VMCOREINFO note's text (kdump: else the sub-header's offset_vmcoreinfo text). */
  readonly vmcoreinfo?: string;
  /** The guest's note (the last note, if not CORE/QEMU) exactly as in the dump, padding included. */
  readonly guestNote?: Uint8Array;
  /** kdump sub-header phys_base. */
  readonly physBase?: bigint;
  readonly kdump?: KdumpInfo;
  /** Flattened kdump: how many records the stream has and its header version. */
  readonly flattened?: { readonly records: number; readonly version: bigint };
  readonly elf?: ElfInfo;
  /** Windows crash dump: header fields, runs, and the CONTEXT of each processor. */
  readonly windows?: WinDumpInfo;
  /** Guest-physical memory the dump holds, ascending, adjacent ranges merged. */
  readonly ranges: readonly PhysRange[];
  /**
   * Reads guest-physical memory; bytes the dump does not hold read as zeros.
   * @returns false when any byte was not in the dump.
   * @throws DumpReadError 'bad-page', 'unsupported' (no codec), 'truncated', 'read-failed'
   */
  readPhysical(gpa: number, dst: Uint8Array): Promise<boolean>;
  /**
   * A DumpSource whose blocks read this file lazily, for dumpGuestMemory. Its blocks throw
   * DumpReadError when the data behind them is bad.
   * @throws DumpReadError 'unsupported' when the input answers reads asynchronously.
   */
  toDumpSource(): Promise<DumpSource>;
}

const ELF_MAGIC = '\x7fELF';
const SIGNATURES: readonly (readonly [string, DumpFileFormat, string])[] = [
  [ELF_MAGIC, 'elf', 'ELF magic'],
  [MAKEDUMPFILE_SIGNATURE, 'kdump-flattened', 'makedumpfile signature'],
  [KDUMP_SIGNATURE, 'kdump-raw', 'kdump signature'],
  ...WIN_DUMP_SIGNATURES.map((sig) => [sig, 'win-dmp', 'Windows crash dump signature'] as const),
];
const LATIN1 = new TextDecoder('latin1');

/**
 * Reads a dump's headers and notes.
 * @throws DumpReadError 'unknown-format', 'truncated', 'bad-field', 'unsupported', 'read-failed'
 */
export async function readDump(input: RandomAccessInput, options: ReadDumpOptions = {}): Promise<DumpFile> {
  if (!Number.isSafeInteger(input.size) || input.size < 0) throw readError('read-failed', 0, `the input's size (${String(input.size)}) is not a byte count`);
  const codecs: CodecTable = { ...BUILTIN_CODECS, ...options.codecs };
  const parsed = await runAsync(input, parse(input.size, codecs));
  if (parsed.windows === undefined) return dumpFile(input, parsed);
  const { info, header } = parsed.windows;
  const memory = parsed.memory;
  const found = await findContexts(info, async (gpa, dst) => (isAddress(gpa, dst) ? runAsync(input, memory.fill(gpa, dst)) : false));
  const windows: WinDumpInfo = { ...info, contexts: found.contexts, ...(found.paging === undefined ? {} : { paging: found.paging }) };
  const paging = found.paging;
  const cpus = paging === undefined ? [] : found.contexts.map((c) => cpuFromContext(c, paging, info.directoryTableBase));
  return dumpFile(input, { ...parsed, windows: { info: windows, header } }, cpus, windowsNoteFor(header));
}

interface Parsed {
  readonly format: DumpFileFormat;
  readonly elfClass: 32 | 64;
  readonly machine: DumpMachine;
  readonly notes: ParsedNote[];
  readonly vmcoreinfo: string | undefined;
  readonly memory: PhysicalMemory;
  readonly kdump?: KdumpInfo;
  readonly flattened?: { readonly records: number; readonly version: bigint };
  readonly elf?: ElfInfo;
  readonly windows?: { readonly info: WinDumpInfo; readonly header: Uint8Array };
}

function* parse(size: number, codecs: CodecTable): Reads<Parsed> {
  const format = yield* detect(size);
  if (format === 'win-dmp') {
    const win = yield* parseWinDump(size);
    const x64 = win.info.kind === 'x64';
    return { format, elfClass: x64 ? 64 : 32, machine: x64 ? 'x86_64' : 'i386', notes: [], vmcoreinfo: undefined, memory: win.memory, windows: { info: win.info, header: win.header } };
  }
  if (format === 'elf') {
    const elf = yield* parseElf(size);
    return { format, elfClass: elf.elfClass, machine: elf.machine, notes: elf.notes, vmcoreinfo: vmcoreinfoText(elf.notes), memory: elf.memory, elf: elf.info };
  }
  let file: LogicalFile = plainFile(size);
  let flattened: { records: number; version: bigint } | undefined;
  if (format === 'kdump-flattened') {
    const index = yield* indexFlattened(size);
    flattened = { records: index.records, version: index.version };
    file = index;
    if (file.size >= ELF_MAGIC.length && LATIN1.decode(yield* file.read(0, ELF_MAGIC.length, 'reassembled signature')) === ELF_MAGIC) {
      throw readError('unsupported', FLAT_HEADER_SIZE, 'this flattened stream holds an ELF core; reassemble it (makedumpfile -R) and read the ELF file');
    }
  }
  const kdump = yield* parseKdump(file, codecs);
  return { format, ...kdump, kdump: kdump.info, ...(flattened === undefined ? {} : { flattened }) };
}

function* detect(size: number): Reads<DumpFileFormat> {
  if (size === 0) throw readError('unknown-format', 0, 'the file is empty');
  const headBytes = yield* readBytes(0, Math.min(16, size), 'file signature');
  const head = LATIN1.decode(headBytes);
  for (const [signature, format, name] of SIGNATURES) {
    if (head.length >= signature.length ? head.startsWith(signature) : signature.startsWith(head)) {
      if (head.length < signature.length) throw truncated(0, name, signature.length, size);
      return format;
    }
  }
  const bytes = Array.from(headBytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw readError('unknown-format', 0, `not an ELF core, a makedumpfile flattened stream or a kdump file (first bytes ${bytes})`);
}

/** `cpus` and `windowsNote` (the note a win-dmp's header came from) for Windows crash dumps. */
function dumpFile(input: RandomAccessInput, p: Parsed, windowsCpus?: readonly CpuSnapshot[], windowsNote?: Uint8Array): DumpFile {
  const cpus = windowsCpus ?? cpusFromNotes(p.notes, p.machine);
  const guest = guestNoteOf(p.notes);
  const sourceNote = windowsNote ?? guest?.raw;
  const { memory } = p;
  return {
    format: p.format,
    elfClass: p.elfClass,
    machine: p.machine,
    cpus,
    notes: p.notes.map(({ name, type, desc, offset }) => ({ name, type, desc, offset })),
    ...(p.vmcoreinfo === undefined ? {} : { vmcoreinfo: p.vmcoreinfo }),
    ...(guest === undefined ? {} : { guestNote: guest.raw }),
    ...(p.kdump === undefined ? {} : { physBase: p.kdump.subHeader.physBase, kdump: p.kdump }),
    ...(p.flattened === undefined ? {} : { flattened: p.flattened }),
    ...(p.elf === undefined ? {} : { elf: p.elf }),
    ...(p.windows === undefined ? {} : { windows: p.windows.info }),
    ranges: memory.ranges,
    readPhysical: async (gpa, dst) => (isAddress(gpa, dst) ? runAsync(input, memory.fill(gpa, dst)) : false),
    toDumpSource: () => {
      if (!answersSynchronously(input)) return Promise.reject(asyncInputError());
      const blocks: DumpBlock[] = memory.blocks.map((b) => ({
        gpa: b.gpa,
        sizeBytes: b.size,
        read: (offset, length) => runSync(input, memory.view(b.gpa + offset, length)),
      }));
      const source: DumpSource = {
        blocks,
        cpus,
        guestNote: sourceNote === undefined ? undefined : { kind: 'note', bytes: sourceNote },
        readPhysical: (gpa, dst) => (isAddress(gpa, dst) ? runSync(input, memory.fill(gpa, dst)) : false),
      };
      return Promise.resolve(source);
    },
  };
}

/** False (after zeroing `dst`) for an address no dump can hold: negative or past 2^53. */
function isAddress(gpa: number, dst: Uint8Array): boolean {
  if (Number.isSafeInteger(gpa) && gpa >= 0 && Number.isSafeInteger(gpa + dst.length)) return true;
  dst.fill(0);
  return false;
}
