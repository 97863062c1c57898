/**
 * kdump-compressed layout (makedumpfile's format as QEMU 7.2 writes it), both header classes:
 *
 *   0            disk_dump_header (464 / 452 bytes), rest of the block unwritten
 *   B = 4096     kdump_sub_header (104 / 80 bytes), then the notes (the ELF note bytes)
 *   (1+S)*B      1st bitmap, L bytes      S = ceil((sub header + notes) / B)
 *   (1+S)*B + L  2nd bitmap, L bytes      L = ceil(ceil(max_mapnr / 8) / B) * B
 *   P            page descriptors, 24 bytes per dumpable page, pfn order
 *   P + 24*n     page data: the shared zero page, then each non-zero page's block
 *
 * The class follows the ELF class of the same dump; utsname.machine is "x86_64" (QEMU's build).
 */

import { writeU32le, writeU64le } from '../../core/bytes.js';

export const KDUMP_BLOCK_SIZE = 4096;
export const DISK_DUMP_HEADER_SIZE = { 64: 464, 32: 452 } as const;
export const KDUMP_SUB_HEADER_SIZE = { 64: 104, 32: 80 } as const;
export const PAGE_DESC_SIZE = 24;
export const KDUMP_HEADER_VERSION = 6;
const UTSNAME_MACHINE_OFFSET = 12 + 4 * 65;

export interface KdumpLayout {
  readonly elfClass: 32 | 64;
  readonly subHeaderBlocks: number;
  readonly bitmapOffset: number;
  readonly bitmapBytes: number;
  readonly maxMapnr: number;
  readonly dumpablePages: number;
  readonly descOffset: number;
  readonly dataOffset: number;
  readonly noteOffset: number;
  readonly noteSize: number;
}

export function layoutKdump(elfClass: 32 | 64, noteSize: number, maxMapnr: number, dumpablePages: number): KdumpLayout {
  const B = KDUMP_BLOCK_SIZE;
  const subHeaderBlocks = Math.ceil((KDUMP_SUB_HEADER_SIZE[elfClass] + noteSize) / B);
  const bitmapBytes = Math.ceil(Math.ceil(maxMapnr / 8) / B) * B;
  const bitmapOffset = (1 + subHeaderBlocks) * B;
  const descOffset = bitmapOffset + 2 * bitmapBytes;
  return {
    elfClass,
    subHeaderBlocks,
    bitmapOffset,
    bitmapBytes,
    maxMapnr,
    dumpablePages,
    descOffset,
    dataOffset: descOffset + PAGE_DESC_SIZE * dumpablePages,
    noteOffset: B + KDUMP_SUB_HEADER_SIZE[elfClass],
    noteSize,
  };
}

/** disk_dump_header: signature, version, utsname, (timestamp 0), status, sizes, CPU count. */
export function diskDumpHeader(layout: KdumpLayout, compressionFlag: number, cpuCount: number): Uint8Array {
  const is64 = layout.elfClass === 64;
  const out = new Uint8Array(DISK_DUMP_HEADER_SIZE[layout.elfClass]);
  out.set(new TextEncoder().encode('KDUMP   '), 0);
  writeU32le(out, 8, KDUMP_HEADER_VERSION);
  out.set(new TextEncoder().encode('x86_64'), UTSNAME_MACHINE_OFFSET);
  const at = is64 ? 424 : 412;
  writeU32le(out, at, compressionFlag);
  writeU32le(out, at + 4, KDUMP_BLOCK_SIZE);
  writeU32le(out, at + 8, layout.subHeaderBlocks);
  writeU32le(out, at + 12, (2 * layout.bitmapBytes) / KDUMP_BLOCK_SIZE);
  writeU32le(out, at + 16, Math.min(layout.maxMapnr, 0xffffffff));
  writeU32le(out, at + 36, cpuCount);
  return out;
}

export interface SubHeaderFields {
  readonly physBase: bigint;
  /** Absolute offset of the VMCOREINFO text, and its length; 0 when there is none. */
  readonly vmcoreinfoOffset: number;
  readonly vmcoreinfoSize: number;
}

/** kdump_sub_header: dump level 1, the note area, the VMCOREINFO text, max_mapnr_64. */
export function kdumpSubHeader(layout: KdumpLayout, fields: SubHeaderFields): Uint8Array {
  const out = new Uint8Array(KDUMP_SUB_HEADER_SIZE[layout.elfClass]);
  if (layout.elfClass === 64) {
    writeU64le(out, 0, fields.physBase);
    writeU32le(out, 8, 1);
    writeU64le(out, 32, BigInt(fields.vmcoreinfoOffset));
    writeU64le(out, 40, BigInt(fields.vmcoreinfoSize));
    writeU64le(out, 48, BigInt(layout.noteOffset));
    writeU64le(out, 56, BigInt(layout.noteSize));
    writeU64le(out, 96, BigInt(layout.maxMapnr));
  } else {
    writeU32le(out, 0, Number(fields.physBase & 0xffffffffn));
    writeU32le(out, 4, 1);
    writeU64le(out, 20, BigInt(fields.vmcoreinfoOffset));
    writeU32le(out, 28, fields.vmcoreinfoSize);
    writeU64le(out, 32, BigInt(layout.noteOffset));
    writeU32le(out, 40, layout.noteSize);
    writeU64le(out, 72, BigInt(layout.maxMapnr));
  }
  return out;
}
