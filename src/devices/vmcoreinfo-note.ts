/**
 * Reads the guest's vmcoreinfo note for a dump, as QEMU 7.2's dump.c does at dump start
 * (vmcoreinfo_update_phys_base and the guest-note loading in dump_init).
 *
 * Checks, in QEMU's order, each failing with QEMU's warning text and the dump carrying on without
 * the note: not present; size outside 12..1 MiB; guest_format not ELF; a header whose name or
 * descriptor is over 1 MiB or whose padded size exceeds the registered size. Both ELF classes use
 * 12-byte note headers on x86. Never throws on guest data.
 */

import { readU32le } from '../core/bytes.js';
import { FW_CFG_VMCOREINFO_FORMAT_ELF } from '../fwcfg/abi.js';
import type { VmcoreinfoRecord } from './vmcoreinfo.js';

/** Largest note QEMU accepts (dump/dump.c MAX_GUEST_NOTE_SIZE). */
export const MAX_GUEST_NOTE_SIZE = 1 << 20;
/** Elf32_Nhdr and Elf64_Nhdr: three 32-bit words on x86. */
export const NOTE_HEADER_SIZE = 12;
const VMCOREINFO_NAME = 'VMCOREINFO\0';
const PHYS_BASE_PREFIX = 'NUMBER(phys_base)=';
/** One character per byte; never throws, whatever the guest wrote. */
const LATIN1 = new TextDecoder('latin1');

export interface GuestNoteOptions {
  /** phys_base is read only for x86_64 dumps (EM_X86_64), as in QEMU. */
  readonly machine: 'x86_64' | 'i386';
  /**
   * 'qemu-7.2' reads NUMBER(phys_base) as hexadecimal, QEMU's bug; the default reads it the way
   * Linux writes it: decimal, or hexadecimal with a 0x prefix.
   */
  readonly compat?: 'qemu-7.2' | undefined;
}

export interface GuestNote {
  /** The note as it goes into the dump: the computed (4-byte padded) size, not the registered one. */
  readonly bytes: Uint8Array;
  readonly name: string;
  readonly nameSize: number;
  readonly descSize: number;
  /** Offset of the descriptor within `bytes`. */
  readonly descOffset: number;
  /** True for a note named exactly "VMCOREINFO". */
  readonly isVmcoreinfo: boolean;
}

export interface GuestNoteResult {
  readonly note: GuestNote | undefined;
  /** From NUMBER(phys_base) when the note is VMCOREINFO on x86_64; otherwise undefined. */
  readonly physBase: bigint | undefined;
  /** QEMU's warning texts, in order, for everything that was wrong. */
  readonly warnings: readonly string[];
}

/** Guest-physical reads with DMA rules: holes read as zeros. GuestMemory is one. */
export interface PhysicalReader {
  dmaRead(gpa: number, dst: Uint8Array): boolean;
}

/** Loads and validates the registered note. Memory holes read as zeros, as QEMU's unchecked read. */
export function readGuestNote(memory: PhysicalReader, record: VmcoreinfoRecord, options: GuestNoteOptions): GuestNoteResult {
  if (!record.hasVmcoreinfo) return noNote('guest note is not present');
  if (record.size < NOTE_HEADER_SIZE || record.size > MAX_GUEST_NOTE_SIZE) return noNote(`guest note size is invalid: ${record.size}`);
  if (record.guestFormat !== FW_CFG_VMCOREINFO_FORMAT_ELF) return noNote(`guest note format is unsupported: ${record.guestFormat}`);
  // One spare byte, as QEMU allocates size+1, so a descriptor ending at `size` can be terminated.
  const buffer = new Uint8Array(record.size + 1);
  const paddr = record.paddr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(record.paddr) : Number.POSITIVE_INFINITY;
  memory.dmaRead(paddr, buffer.subarray(0, record.size));
  return parseGuestNote(buffer, record.size, options);
}

/**
 * Validates a note already in hand (e.g. read back from a dump file) exactly as a registered one.
 * `buffer` holds the note; its registered size is its length.
 */
export function guestNoteFromBytes(bytes: Uint8Array, options: GuestNoteOptions): GuestNoteResult {
  if (bytes.length < NOTE_HEADER_SIZE || bytes.length > MAX_GUEST_NOTE_SIZE) return noNote(`guest note size is invalid: ${bytes.length}`);
  const buffer = new Uint8Array(bytes.length + 1);
  buffer.set(bytes);
  return parseGuestNote(buffer, bytes.length, options);
}

function noNote(warning: string): GuestNoteResult {
  return { note: undefined, physBase: undefined, warnings: [warning] };
}

/** Header checks and the phys_base line; `buffer` is `size` note bytes plus one spare byte. */
function parseGuestNote(buffer: Uint8Array, size: number, options: GuestNoteOptions): GuestNoteResult {
  const warnings: string[] = [];
  const nameSize = readU32le(buffer, 0);
  const descSize = readU32le(buffer, 4);
  const nameWords = Math.ceil(nameSize / 4);
  const noteSize = (Math.ceil(NOTE_HEADER_SIZE / 4) + nameWords + Math.ceil(descSize / 4)) * 4;
  if (nameSize > MAX_GUEST_NOTE_SIZE || descSize > MAX_GUEST_NOTE_SIZE || noteSize > size) {
    return noNote('Invalid guest note header');
  }
  const descOffset = NOTE_HEADER_SIZE + nameWords * 4;
  const nameBytes = buffer.subarray(NOTE_HEADER_SIZE, NOTE_HEADER_SIZE + nameSize);
  const name = LATIN1.decode(nameBytes);
  const isVmcoreinfo = name === VMCOREINFO_NAME;
  // QEMU NUL-terminates the descriptor of a VMCOREINFO note in its own copy, which is what it
  // writes out: the byte after the text becomes 0 (a padding byte when descsz % 4 != 0).
  if (isVmcoreinfo) buffer[descOffset + descSize] = 0;
  const bytes = buffer.slice(0, noteSize);

  let physBase: bigint | undefined;
  if (isVmcoreinfo && options.machine === 'x86_64') {
    // QEMU splits the descriptor as a C string: the text ends at its first NUL.
    const desc = buffer.subarray(descOffset, descOffset + descSize);
    const nul = desc.indexOf(0);
    const text = LATIN1.decode(nul === -1 ? desc : desc.subarray(0, nul));
    const line = text.split('\n').find((l) => l.startsWith(PHYS_BASE_PREFIX));
    if (line !== undefined) {
      const value = line.slice(PHYS_BASE_PREFIX.length);
      physBase = options.compat === 'qemu-7.2' ? parseQemuHexU64(value) : parseLinuxNumber(value);
      if (physBase === undefined) warnings.push(`Failed to read ${PHYS_BASE_PREFIX}`);
    }
  }
  return {
    note: { bytes, name: name.replace(/\0+$/, ''), nameSize, descSize, descOffset, isVmcoreinfo },
    physBase,
    warnings,
  };
}

const U64_MODULUS = 2n ** 64n;

/**
 * qemu_strtou64(text, NULL, 16): optional leading white space, sign and 0x, then hex digits to
 * the end; a minus negates modulo 2^64, as strtoull does; overflow fails.
 */
export function parseQemuHexU64(text: string): bigint | undefined {
  const match = /^[\t\n\v\f\r ]*([+-]?)(?:0[xX])?([0-9a-fA-F]+)$/.exec(text);
  if (match === null) return undefined;
  const magnitude = BigInt(`0x${match[2] ?? ''}`);
  if (magnitude >= U64_MODULUS) return undefined;
  return match[1] === '-' ? (U64_MODULUS - magnitude) % U64_MODULUS : magnitude;
}

/** NUMBER(phys_base) as Linux prints it (%ld): decimal, possibly negative; or 0x-prefixed hex. */
export function parseLinuxNumber(text: string): bigint | undefined {
  const match = /^(-?)(0[xX][0-9a-fA-F]+|[0-9]+)$/.exec(text.trim());
  if (match === null) return undefined;
  const magnitude = BigInt(match[2] ?? '0');
  if (magnitude >= U64_MODULUS) return undefined;
  return match[1] === '-' ? (U64_MODULUS - magnitude) % U64_MODULUS : magnitude;
}
