/**
 * kdump-compressed files (spec §5), read through a LogicalFile so raw files and reassembled
 * flattened streams are one case. Both header classes: the class is not stored, so it is told
 * apart by where block_size sits (offset 428 for 64-bit, 416 for 32-bit), and when both places
 * hold a page size, by which class's sub-header has offset_note right behind itself, as QEMU and
 * makedumpfile put it. Memory is every page set in the 2nd (dumpable) bitmap; page descriptors
 * follow the bitmaps in pfn order, and page data is raw or compressed by the descriptor's flag.
 */

import { readU32le, readU64le } from '../../core/bytes.js';
import { hex, readError, truncated } from './errors.js';
import type { Reads } from './input.js';
import type { LogicalFile } from './logical.js';
import { MAX_NOTES_BYTES, cText, parseNotes, vmcoreinfoText, type ParsedNote } from './notes.js';
import { prstatusMachine, type DumpMachine } from './cpu.js';
import { kdumpPages, type CodecTable } from './pages.js';
import type { PhysicalMemory } from './memory.js';

export const KDUMP_SIGNATURE = 'KDUMP   ';
const HEADER_SIZE = { 64: 464, 32: 452 } as const;
const SUB_HEADER_SIZE = { 64: 104, 32: 80 } as const;
/** Where the fields after the timestamp start (status, block_size, ...), per class. */
const STATUS_AT = { 64: 424, 32: 412 } as const;
const UTSNAME_AT = 12;
const UTSNAME_FIELD = 65;
const UTSNAME_NAMES = ['sysname', 'nodename', 'release', 'version', 'machine', 'domainname'] as const;
export const KDUMP_PAGE_SIZE = 4096;
/** The largest VMCOREINFO text we read from the sub-header (QEMU caps guest notes at 1 MiB). */
const MAX_VMCOREINFO_BYTES = 1 << 20;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_PHYS_BYTES = 2 ** 52;

export interface KdumpSubHeader {
  readonly physBase: bigint;
  readonly dumpLevel: number;
  readonly split: number;
  readonly startPfn: bigint;
  readonly endPfn: bigint;
  readonly offsetVmcoreinfo: bigint;
  readonly sizeVmcoreinfo: bigint;
  readonly offsetNote: bigint;
  readonly noteSize: bigint;
  readonly offsetEraseinfo: bigint;
  readonly sizeEraseinfo: bigint;
  readonly startPfn64: bigint;
  readonly endPfn64: bigint;
  readonly maxMapnr64: bigint;
}

export interface KdumpInfo {
  readonly headerVersion: number;
  readonly utsname: Readonly<Record<(typeof UTSNAME_NAMES)[number], string>>;
  readonly timestamp: { readonly sec: bigint; readonly usec: bigint };
  /** The header's compression flags (1 zlib, 2 lzo, 4 snappy, 0x20 zstd). */
  readonly status: number;
  readonly compression: string;
  readonly blockSize: number;
  readonly subHdrSize: number;
  readonly bitmapBlocks: number;
  readonly maxMapnr: number;
  readonly totalRamBlocks: number;
  readonly deviceBlocks: number;
  readonly writtenBlocks: number;
  readonly currentCpu: number;
  readonly nrCpus: number;
  readonly subHeader: KdumpSubHeader;
  /** Offsets in the (reassembled) file. */
  readonly bitmapOffset: number;
  readonly descOffset: number;
  readonly dumpablePages: number;
}

export interface ParsedKdump {
  readonly elfClass: 32 | 64;
  readonly machine: DumpMachine;
  readonly info: KdumpInfo;
  readonly notes: ParsedNote[];
  readonly vmcoreinfo: string | undefined;
  readonly memory: PhysicalMemory;
}

/** Compression flags by name, as makedumpfile defines them. */
export const COMPRESSION_FLAGS = { zlib: 0x1, lzo: 0x2, snappy: 0x4, zstd: 0x20 } as const;

export function compressionName(flags: number): string {
  const names = Object.entries(COMPRESSION_FLAGS).filter(([, flag]) => (flags & flag) !== 0).map(([name]) => name);
  return names.length > 0 ? names.join('+') : flags === 0 ? 'none' : `unknown (${hex(flags)})`;
}

export function* parseKdump(file: LogicalFile, codecs: CodecTable): Reads<ParsedKdump> {
  if (file.size < HEADER_SIZE[32]) throw truncated(0, 'disk_dump_header', HEADER_SIZE[32], file.size);
  const head = yield* file.read(0, Math.min(HEADER_SIZE[64], file.size), 'disk_dump_header');
  const signature = cText(head.subarray(0, 8));
  if (signature !== KDUMP_SIGNATURE) throw readError('bad-field', 0, `disk_dump_header signature is ${JSON.stringify(signature)}, not "KDUMP   "`);
  const elfClass = yield* headerClass(head, file);
  const s = STATUS_AT[elfClass];
  const u32 = (at: number): number => readU32le(head, at);
  const blockSize = u32(s + 4);
  if (blockSize !== KDUMP_PAGE_SIZE) throw readError('unsupported', s + 4, `block_size is ${blockSize}; x86 kdump pages are ${KDUMP_PAGE_SIZE} bytes`);
  const subHdrSize = u32(s + 8);
  if (subHdrSize === 0) throw readError('bad-field', s + 8, 'sub_hdr_size is 0: there is no kdump_sub_header');
  const bitmapBlocks = u32(s + 12);
  if (bitmapBlocks % 2 !== 0) throw readError('bad-field', s + 12, `bitmap_blocks is ${bitmapBlocks}, not even: the two bitmaps are the same size`);
  // x86 physical addresses have at most 52 bits: a bitmap for more frames is not a real one.
  if (((bitmapBlocks / 2) * blockSize * 8) * blockSize > MAX_PHYS_BYTES) {
    throw readError('bad-field', s + 12, `bitmap_blocks is ${bitmapBlocks}: its bitmaps would cover more than 2^52 bytes of physical memory`);
  }
  const headerVersion = u32(8) | 0;
  const sub = yield* subHeader(file, elfClass, blockSize);
  const notes = headerVersion >= 4 ? yield* noteArea(file, sub, elfClass, blockSize) : [];
  const bitmapOffset = (1 + subHdrSize) * blockSize;
  const pages = yield* kdumpPages(file, { bitmapOffset, bitmapBytes: (bitmapBlocks / 2) * blockSize, pageSize: blockSize }, codecs);
  const info: KdumpInfo = {
    headerVersion,
    utsname: utsname(head),
    timestamp: elfClass === 64 ? { sec: readU64le(head, 408), usec: readU64le(head, 416) } : { sec: BigInt(u32(404)), usec: BigInt(u32(408)) },
    status: u32(s),
    compression: compressionName(u32(s)),
    blockSize,
    subHdrSize,
    bitmapBlocks,
    maxMapnr: u32(s + 16),
    totalRamBlocks: u32(s + 20),
    deviceBlocks: u32(s + 24),
    writtenBlocks: u32(s + 28),
    currentCpu: u32(s + 32),
    nrCpus: u32(s + 36),
    subHeader: sub,
    bitmapOffset,
    descOffset: pages.descOffset,
    dumpablePages: pages.dumpablePages,
  };
  const machine = prstatusMachine(notes) ?? machineFromUtsname(info.utsname.machine, elfClass);
  const vmcoreinfo = vmcoreinfoText(notes) ?? (headerVersion >= 3 ? yield* subHeaderVmcoreinfo(file, sub, elfClass, blockSize) : undefined);
  return { elfClass, machine, info, notes, vmcoreinfo, memory: pages.memory };
}

/** 64 or 32: which layout has a page-sized block_size (and, if both do, a matching offset_note). */
function* headerClass(head: Uint8Array, file: LogicalFile): Reads<32 | 64> {
  const block64 = head.length >= HEADER_SIZE[64] ? readU32le(head, STATUS_AT[64] + 4) : 0;
  const block32 = readU32le(head, STATUS_AT[32] + 4);
  const ok64 = plausibleBlockSize(block64);
  const ok32 = plausibleBlockSize(block32);
  if (ok64 !== ok32) return ok64 ? 64 : 32;
  if (!ok64) {
    throw readError('bad-field', STATUS_AT[64] + 4, `block_size is ${block64} in the 64-bit header layout (offset 428) and ${block32} in the 32-bit one (offset 416); neither is a page size`);
  }
  for (const cls of [64, 32] as const) {
    const block = cls === 64 ? block64 : block32;
    const at = block + (cls === 64 ? 48 : 32);
    if (at + 8 > file.size) continue;
    const offsetNote = readU64le(yield* file.read(at, 8, 'kdump_sub_header offset_note'), 0);
    if (offsetNote === BigInt(block + SUB_HEADER_SIZE[cls])) return cls;
  }
  return 64;
}

function plausibleBlockSize(size: number): boolean {
  return size >= 512 && size <= 1 << 20 && (size & (size - 1)) === 0;
}

function* subHeader(file: LogicalFile, elfClass: 32 | 64, blockSize: number): Reads<KdumpSubHeader> {
  const b = yield* file.read(blockSize, SUB_HEADER_SIZE[elfClass], 'kdump_sub_header');
  const u64 = (at: number): bigint => readU64le(b, at);
  const u32 = (at: number): bigint => BigInt(readU32le(b, at));
  const i32 = (at: number): number => readU32le(b, at) | 0;
  if (elfClass === 64) {
    return {
      physBase: u64(0), dumpLevel: i32(8), split: i32(12), startPfn: u64(16), endPfn: u64(24),
      offsetVmcoreinfo: u64(32), sizeVmcoreinfo: u64(40), offsetNote: u64(48), noteSize: u64(56),
      offsetEraseinfo: u64(64), sizeEraseinfo: u64(72), startPfn64: u64(80), endPfn64: u64(88), maxMapnr64: u64(96),
    };
  }
  return {
    physBase: u32(0), dumpLevel: i32(4), split: i32(8), startPfn: u32(12), endPfn: u32(16),
    offsetVmcoreinfo: u64(20), sizeVmcoreinfo: u32(28), offsetNote: u64(32), noteSize: u32(40),
    offsetEraseinfo: u64(44), sizeEraseinfo: u32(52), startPfn64: u64(56), endPfn64: u64(64), maxMapnr64: u64(72),
  };
}

/** Sub-header field offsets, for messages. */
const FIELD_AT = {
  64: { offsetVmcoreinfo: 32, sizeVmcoreinfo: 40, offsetNote: 48, noteSize: 56 },
  32: { offsetVmcoreinfo: 20, sizeVmcoreinfo: 28, offsetNote: 32, noteSize: 40 },
} as const;

/** A region the sub-header points at, checked against `max` and the file. */
function* pointedRegion(file: LogicalFile, offset: bigint, size: bigint, max: number, what: string, fieldAt: number): Reads<Uint8Array> {
  if (size > BigInt(max)) throw readError('bad-field', fieldAt, `${what} size is ${hex(size)}, more than the ${hex(max)} bytes slice86 reads`);
  if (offset > MAX_SAFE) throw readError('bad-field', fieldAt, `${what} offset ${hex(offset)} is beyond any file`);
  const at = Number(offset);
  if (at + Number(size) > file.size) throw truncated(at, what, size, file.size - at);
  return yield* file.read(at, Number(size), what);
}

function* noteArea(file: LogicalFile, sub: KdumpSubHeader, elfClass: 32 | 64, blockSize: number): Reads<ParsedNote[]> {
  if (sub.noteSize === 0n) return [];
  const area = yield* pointedRegion(file, sub.offsetNote, sub.noteSize, MAX_NOTES_BYTES, 'note area', blockSize + FIELD_AT[elfClass].noteSize);
  return parseNotes(area, Number(sub.offsetNote), 'note area');
}

function* subHeaderVmcoreinfo(file: LogicalFile, sub: KdumpSubHeader, elfClass: 32 | 64, blockSize: number): Reads<string | undefined> {
  if (sub.sizeVmcoreinfo === 0n) return undefined;
  const text = yield* pointedRegion(file, sub.offsetVmcoreinfo, sub.sizeVmcoreinfo, MAX_VMCOREINFO_BYTES, 'VMCOREINFO text', blockSize + FIELD_AT[elfClass].sizeVmcoreinfo);
  return cText(text);
}

function utsname(head: Uint8Array): KdumpInfo['utsname'] {
  const field = (i: number): string => cText(head.subarray(UTSNAME_AT + UTSNAME_FIELD * i, UTSNAME_AT + UTSNAME_FIELD * (i + 1)));
  return Object.fromEntries(UTSNAME_NAMES.map((name, i) => [name, field(i)])) as Record<(typeof UTSNAME_NAMES)[number], string>;
}

/** Without a prstatus to go by: QEMU's x86 builds write x86_64 or i686. */
function machineFromUtsname(machine: string, elfClass: 32 | 64): DumpMachine {
  if (machine === 'x86_64') return 'x86_64';
  if (/^i[3-6]86$/.test(machine)) return 'i386';
  if (machine === '') return elfClass === 64 ? 'x86_64' : 'i386';
  throw readError('unsupported', UTSNAME_AT + 4 * UTSNAME_FIELD, `utsname.machine is "${machine}", not an x86 machine`);
}
