/**
 * v86's guest RAM as slice86 sees it: one block from physical 0 to `memory_size`, less the VGA
 * window 0xa0000-0xbffff, which v86 routes to its VGA device (MMIO) rather than to RAM. That is
 * what DMA may touch and what a dump contains (QEMU's dumps leave VGA memory out likewise).
 * Everything else v86 maps (the BIOS alias at 0xfff00000, the VGA linear frame buffer, APIC
 * registers) is device memory: DMA treats it as a hole, with QEMU's rules (holes read 0, writes
 * there are dropped, and the transfer reports an error).
 *
 * Writes go through v86's `write_blob`, which also tells its JIT that code in those pages may be
 * stale; reads copy out of `mem8`. `mem8` is read afresh on every call: v86 rebuilds the view
 * whenever its wasm memory grows.
 */

import type { DmaMemory } from '../../core/guest-memory.js';
import type { DumpBlock } from '../../dump/source.js';
import type { V86Cpu } from './internals.js';

export const V86_VGA_WINDOW_START = 0xa0000;
export const V86_VGA_WINDOW_END = 0xc0000;

/** Guest-physical RAM ranges [start, end) of a v86 instance, ascending. */
export function v86RamRanges(cpu: V86Cpu): { start: number; end: number }[] {
  const size = (cpu.memory_size[0] ?? 0) >>> 0;
  const ranges = [{ start: 0, end: Math.min(size, V86_VGA_WINDOW_START) }];
  if (size > V86_VGA_WINDOW_END) ranges.push({ start: V86_VGA_WINDOW_END, end: size });
  return ranges.filter((r) => r.end > r.start);
}

/** Guest memory for fw_cfg DMA over v86's RAM. */
export class V86DmaMemory implements DmaMemory {
  readonly #cpu: V86Cpu;

  constructor(cpu: V86Cpu) {
    this.#cpu = cpu;
  }

  dmaRead(gpa: number, dst: Uint8Array): boolean {
    dst.fill(0);
    return this.#visit(gpa, dst.length, (start, end, done) => {
      dst.set(this.#cpu.mem8.subarray(start, end), done);
    });
  }

  dmaWrite(gpa: number, src: Uint8Array): boolean {
    return this.#visit(gpa, src.length, (start, end, done) => {
      this.#cpu.write_blob(src.subarray(done, done + end - start), start);
    });
  }

  dmaFill(gpa: number, length: number, value: number): boolean {
    const piece = new Uint8Array(Math.min(length, 2 ** 20)).fill(value);
    return this.#visit(gpa, length, (start, end) => {
      for (let at = start; at < end; at += piece.length) this.#cpu.write_blob(piece.subarray(0, Math.min(piece.length, end - at)), at);
    });
  }

  /** Calls `visit` for each RAM piece of [gpa, gpa+length); true if the whole range was RAM. */
  #visit(gpa: number, length: number, visit: (start: number, end: number, done: number) => void): boolean {
    if (length <= 0) return true;
    if (!Number.isFinite(gpa) || gpa < 0) return false;
    let covered = 0;
    for (const r of v86RamRanges(this.#cpu)) {
      const start = Math.max(gpa, r.start);
      const end = Math.min(gpa + length, r.end);
      if (start >= end) continue;
      visit(start, end, start - gpa);
      covered += end - start;
    }
    return covered === length;
  }
}

/** Dump blocks over v86's RAM: views into `mem8`, valid while the emulator is stopped. */
export function v86DumpBlocks(cpu: V86Cpu): DumpBlock[] {
  return v86RamRanges(cpu).map((r) => ({
    gpa: r.start,
    sizeBytes: r.end - r.start,
    read: (offset, length) => cpu.mem8.subarray(r.start + offset, r.start + offset + length),
  }));
}
