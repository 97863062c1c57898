/**
 * The note segment of a dump, shared by ELF and kdump (kdump carries the same bytes).
 * QEMU 7.2 order: every CPU's CORE/NT_PRSTATUS, then every CPU's QEMU note, then the guest note.
 * The default flavour also gives each CPU a CORE/NT_PRFPREG right after its NT_PRSTATUS, where
 * gdb and eu-readelf expect a thread's FP registers.
 */

import { concatBytes } from '../core/bytes.js';
import type { CpuSnapshot } from '../cpu/state.js';
import type { GuestNote } from '../devices/vmcoreinfo-note.js';
import { EM_X86_64 } from './elf/layout.js';
import { elfNote, fsaveImage, fxsaveImage, NT_PRFPREG, NT_PRSTATUS, prstatusI386, prstatusX86_64, QEMU_NOTE_TYPE, qemuCpuState } from './elf/notes.js';

export type DumpFlavour = 'default' | 'qemu-7.2';

export interface DumpNotes {
  readonly bytes: Uint8Array;
  /** Offset of the guest note within `bytes`, if there is one. */
  readonly guestNoteOffset: number | undefined;
}

export function buildNotes(cpus: readonly CpuSnapshot[], machine: number, guestNote: GuestNote | undefined, flavour: DumpFlavour): DumpNotes {
  const is64 = machine === EM_X86_64;
  const withFp = flavour === 'default';
  const parts: Uint8Array[] = [];
  cpus.forEach((cpu, i) => {
    parts.push(elfNote('CORE', NT_PRSTATUS, is64 ? prstatusX86_64(cpu, i, withFp) : prstatusI386(cpu, i, withFp)));
    if (withFp) parts.push(elfNote('CORE', NT_PRFPREG, is64 ? fxsaveImage(cpu) : fsaveImage(cpu)));
  });
  for (const cpu of cpus) parts.push(elfNote('QEMU', QEMU_NOTE_TYPE, qemuCpuState(cpu)));
  const cpuBytes = parts.reduce((n, p) => n + p.length, 0);
  if (guestNote !== undefined) parts.push(guestNote.bytes);
  return { bytes: concatBytes(parts), guestNoteOffset: guestNote === undefined ? undefined : cpuBytes };
}
