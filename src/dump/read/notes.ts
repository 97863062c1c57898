/**
 * ELF notes as both dump formats carry them (spec §3.5): u32 namesz, descsz, type, then the name
 * and the descriptor, each zero-padded to 4 bytes. QEMU's order is every CORE note, every QEMU
 * note, then the guest's note (VMCOREINFO); the guest note is passed on verbatim, padding included.
 */

import { readU32le } from '../../core/bytes.js';
import { hex, readError } from './errors.js';

export const NOTE_HEADER_SIZE = 12;
/** More note bytes than any x86 dump has (4096 CPUs take 6 MiB; the guest note is at most 1 MiB). */
export const MAX_NOTES_BYTES = 64 << 20;
const LATIN1 = new TextDecoder('latin1');

export interface DumpNote {
  /** The name without its terminating NUL. */
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
  /** File offset of the note header (for flattened kdump: in the reassembled file). */
  readonly offset: number;
}

/** A note and its bytes exactly as in the file: header, name, descriptor and their padding. */
export interface ParsedNote extends DumpNote {
  readonly raw: Uint8Array;
}

/**
 * Parses a note area read from `baseOffset`. Empty notes (namesz = descsz = 0, the zero padding
 * some producers leave) and a tail shorter than a note header are skipped.
 * @throws DumpReadError 'bad-field' for a note that runs past the end of the area.
 */
export function parseNotes(area: Uint8Array, baseOffset: number, areaName: string): ParsedNote[] {
  const notes: ParsedNote[] = [];
  let at = 0;
  while (at + NOTE_HEADER_SIZE <= area.length) {
    const namesz = readU32le(area, at);
    const descsz = readU32le(area, at + 4);
    const type = readU32le(area, at + 8);
    const nameAt = at + NOTE_HEADER_SIZE;
    const descAt = nameAt + align4(namesz);
    const end = descAt + align4(descsz);
    if (end > area.length) {
      throw readError('bad-field', baseOffset + at, `note (namesz ${namesz}, descsz ${descsz}) runs past the end of the ${areaName} (${hex(area.length)} bytes at ${hex(baseOffset)})`);
    }
    if (namesz !== 0 || descsz !== 0) {
      notes.push({
        name: cText(area.subarray(nameAt, nameAt + namesz)),
        type,
        desc: area.slice(descAt, descAt + descsz),
        offset: baseOffset + at,
        raw: area.slice(at, end),
      });
    }
    at = end;
  }
  return notes;
}

/** The guest's note: the last note, when it is neither a CORE nor a QEMU note. */
export function guestNoteOf(notes: readonly ParsedNote[]): ParsedNote | undefined {
  const last = notes.at(-1);
  return last === undefined || last.name === 'CORE' || last.name === 'QEMU' ? undefined : last;
}

/** The VMCOREINFO text: the descriptor up to its first NUL. */
export function vmcoreinfoText(notes: readonly DumpNote[]): string | undefined {
  const note = notes.find((n) => n.name === 'VMCOREINFO');
  return note === undefined ? undefined : cText(note.desc);
}

/** One character per byte, up to the first NUL. */
export function cText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return LATIN1.decode(nul === -1 ? bytes : bytes.subarray(0, nul));
}

export function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
