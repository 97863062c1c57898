/**
 * The Windows crash-dump structures QEMU 7.2 reads and writes (include/qemu/win_dump_defs.h):
 * the two DUMP_HEADER kinds ("PAGEDU64", 0x2000 bytes, and "PAGEDUMP", 0x1000 bytes), their
 * physical-memory descriptors, the KDDEBUGGER_DATA64 offsets QEMU uses for both, and the CONTEXT
 * sizes. Offsets only: every reader and writer of these structures takes them from here.
 */

export type WinDumpKind = 'x64' | 'x86';

/** The guest note: a 24-byte ELF note head (12-byte header + "VMCOREINFO\0" padded) + the header. */
export const VMCOREINFO_ELF_NOTE_HDR_SIZE = 24;

export const PAGE_SIZE = 4096;
/** BugcheckCode QEMU puts in a header whose guest left it 0. */
export const LIVE_SYSTEM_DUMP = 0x161;

/** KDDEBUGGER_DATA64 field offsets; QEMU uses them for 32-bit guests too (low halves). */
export const KDBG = {
  ownerTag: 0x10,
  kiBugcheckData: 0x88,
  mmPfnDatabase: 0xc0,
  kiProcessorBlock: 0x218,
  offsetPrcbContext: 0x338,
} as const;

export interface HeaderLayout {
  readonly kind: WinDumpKind;
  readonly validDump: 'DU64' | 'DUMP';
  readonly size: number;
  /** Bytes of a guest pointer (and of PfnDatabase, KdDebuggerDataBlock, run fields). */
  readonly ptrSize: 8 | 4;
  readonly directoryTableBase: number;
  readonly pfnDatabase: number;
  readonly psLoadedModuleList: number;
  readonly psActiveProcessHead: number;
  readonly machineImageType: number;
  readonly numberProcessors: number;
  readonly bugcheckCode: number;
  readonly bugcheckParameter1: number;
  /** BugcheckCode..Parameter4 as one block (40 bytes on x64: a u32 pad follows the code). */
  readonly bugcheckDataSize: number;
  readonly kdDebuggerDataBlock: number;
  readonly numberOfRuns: number;
  /** x64 only: PhysicalMemoryBlock.unused, which QEMU zeroes. */
  readonly runsUnused: number | undefined;
  readonly numberOfPages: number;
  readonly runs: number;
  /** Entries of Run[] the structure has (QEMU never checks NumberOfRuns against it). */
  readonly maxRuns: number;
  /** Bytes of one run: BasePage and PageCount, pointer-sized each. */
  readonly runSize: number;
  readonly requiredDumpSpace: number;
  /** x64 only: unused1 before RequiredDumpSpace, which QEMU zeroes. */
  readonly unused1: number | undefined;
  /** x64 only. */
  readonly dumpType: number | undefined;
  readonly systemTime: number | undefined;
  readonly comment: number | undefined;
  /** The CONTEXT QEMU writes: its size, and the Windows structure's own size. */
  readonly contextWriteSize: number;
  readonly contextSize: number;
  readonly contextFlags: number;
}

export const HEADER64: HeaderLayout = {
  kind: 'x64',
  validDump: 'DU64',
  size: 0x2000,
  ptrSize: 8,
  directoryTableBase: 0x10,
  pfnDatabase: 0x18,
  psLoadedModuleList: 0x20,
  psActiveProcessHead: 0x28,
  machineImageType: 0x30,
  numberProcessors: 0x34,
  bugcheckCode: 0x38,
  bugcheckParameter1: 0x40,
  bugcheckDataSize: 40,
  kdDebuggerDataBlock: 0x80,
  numberOfRuns: 0x88,
  runsUnused: 0x8c,
  numberOfPages: 0x90,
  runs: 0x98,
  maxRuns: 43,
  runSize: 16,
  requiredDumpSpace: 0xfa0,
  unused1: 0xf9c,
  dumpType: 0xf98,
  systemTime: 0xfa8,
  comment: 0xfb0,
  contextWriteSize: 1232,
  contextSize: 1232,
  // CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS | FLOATING_POINT | DEBUG_REGISTERS
  contextFlags: 0x0010001f,
};

export const HEADER32: HeaderLayout = {
  kind: 'x86',
  validDump: 'DUMP',
  size: 0x1000,
  ptrSize: 4,
  directoryTableBase: 0x10,
  pfnDatabase: 0x14,
  psLoadedModuleList: 0x18,
  psActiveProcessHead: 0x1c,
  machineImageType: 0x20,
  numberProcessors: 0x24,
  bugcheckCode: 0x28,
  bugcheckParameter1: 0x2c,
  bugcheckDataSize: 20,
  kdDebuggerDataBlock: 0x60,
  numberOfRuns: 0x64,
  runsUnused: undefined,
  numberOfPages: 0x68,
  runs: 0x6c,
  maxRuns: 86,
  runSize: 8,
  requiredDumpSpace: 0xfa0,
  unused1: undefined,
  dumpType: undefined,
  systemTime: undefined,
  comment: undefined,
  // QEMU's WinContext32 is 16-byte aligned: sizeof is 720, the Windows CONTEXT 716.
  contextWriteSize: 720,
  contextSize: 716,
  // CONTEXT_i386 | CONTROL | INTEGER | SEGMENTS | DEBUG_REGISTERS
  contextFlags: 0x00010017,
};

/** The note sizes QEMU accepts (guest_note_size), whatever the header inside says. */
export const WIN_DUMP_NOTE_SIZE64 = VMCOREINFO_ELF_NOTE_HDR_SIZE + HEADER64.size;
export const WIN_DUMP_NOTE_SIZE32 = VMCOREINFO_ELF_NOTE_HDR_SIZE + HEADER32.size;

/** The layout ValidDump selects, or undefined. */
export function layoutFor(validDump: string): HeaderLayout | undefined {
  if (validDump === 'DU64') return HEADER64;
  if (validDump === 'DUMP') return HEADER32;
  return undefined;
}

/** An unsigned pointer-sized field as a bigint. */
export function readField(bytes: Uint8Array, offset: number, size: 8 | 4 | 2): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 8) return view.getBigUint64(offset, true);
  if (size === 4) return BigInt(view.getUint32(offset, true));
  return BigInt(view.getUint16(offset, true));
}

export function writeField(bytes: Uint8Array, offset: number, size: 8 | 4, value: bigint): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 8) view.setBigUint64(offset, BigInt.asUintN(64, value), true);
  else view.setUint32(offset, Number(BigInt.asUintN(32, value)), true);
}

/** QEMU prints 4-character fields with %.4s: the text stops at a NUL. */
export function fourChars(bytes: Uint8Array, offset: number): string {
  let text = '';
  for (let i = 0; i < 4; i++) {
    const c = bytes[offset + i] ?? 0;
    if (c === 0) break;
    text += String.fromCharCode(c);
  }
  return text;
}
