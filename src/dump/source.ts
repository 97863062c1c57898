/**
 * DumpSource: what a dump is made of, and nothing live. Guest memory blocks (QEMU's
 * guest_phys_blocks: RAM and ROM, ascending, merged where contiguous), one CpuSnapshot per CPU,
 * and the guest's vmcoreinfo registration. It comes from a machine, from an embedder's own RAM
 * views and registers, or from a dump file read back; the engine never touches a running CPU.
 */

import type { CpuSnapshot } from '../cpu/state.js';
import type { VmcoreinfoRecord } from '../devices/vmcoreinfo.js';

/** One guest-physical block. `read` returns a view where it can (no copy of guest RAM is made). */
export interface DumpBlock {
  readonly gpa: number;
  readonly sizeBytes: number;
  /** Bytes [offset, offset+length) of the block; offset+length never exceeds sizeBytes. */
  read(offset: number, length: number): Uint8Array;
}

/** How the dump finds the guest note: QEMU's way (the vmcoreinfo record), or the note itself. */
export type GuestNoteInput =
  | { readonly kind: 'vmcoreinfo'; readonly record: VmcoreinfoRecord }
  | { readonly kind: 'note'; readonly bytes: Uint8Array };

export interface DumpSource {
  readonly blocks: readonly DumpBlock[];
  readonly cpus: readonly CpuSnapshot[];
  /** Absent when the machine has no vmcoreinfo device. */
  readonly guestNote?: GuestNoteInput | undefined;
  /** Guest-physical read with DMA rules (holes read 0; false if any byte was a hole). */
  readPhysical(gpa: number, dst: Uint8Array): boolean;
  /**
   * Whether `gpa` is RAM or a ROM device, for paging-mode dumps, which drop leaves that point at
   * anything else. Without it, the blocks decide; a source with flash in ROM-device mode (QEMU's
   * pflash, not a dump block) answers true for it, as QEMU's memory_region_is_ram(_device) does.
   */
  readonly isRamOrRomDevice?: ((gpa: number) => boolean) | undefined;
  /**
   * Called before the first byte is read and returns the function to call afterwards, so a
   * machine can stop running guest code for the duration (QEMU stops the VM likewise).
   */
  hold?(): () => void;
}

/** A block over a plain byte array (embedder RAM views, files read back). */
export function blockFromBytes(gpa: number, bytes: Uint8Array): DumpBlock {
  return { gpa, sizeBytes: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * A source from blocks the embedder owns: no copies, reads go straight to its arrays.
 * Blocks must be sorted and disjoint.
 */
export function dumpSourceFromBytes(blocks: readonly { gpa: number; bytes: Uint8Array }[], cpus: readonly CpuSnapshot[], guestNote?: GuestNoteInput): DumpSource {
  const dumpBlocks = blocks.map((b) => blockFromBytes(b.gpa, b.bytes));
  return {
    blocks: dumpBlocks,
    cpus,
    guestNote,
    readPhysical: (gpa, dst) => readFromBlocks(dumpBlocks, gpa, dst),
  };
}

/** DMA-rule read over a block list: holes read as zeros. */
export function readFromBlocks(blocks: readonly DumpBlock[], gpa: number, dst: Uint8Array): boolean {
  dst.fill(0);
  let covered = 0;
  for (const block of blocks) {
    const start = Math.max(gpa, block.gpa);
    const end = Math.min(gpa + dst.length, block.gpa + block.sizeBytes);
    if (start >= end) continue;
    dst.set(block.read(start - block.gpa, end - start), start - gpa);
    covered += end - start;
  }
  return covered === dst.length;
}
