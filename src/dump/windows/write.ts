/**
 * Writes a prepared win-dmp: the patched header, then each run's pages in order (write_runs in
 * QEMU 7.2), read from guest memory with the patched CONTEXT pages laid over it. Bytes outside
 * guest RAM and ROM (possible only in the compat flavour, where the runs are not checked) are
 * written as zeros, as QEMU's bounce buffer gives them.
 */

import { DumpError } from '../../core/errors.js';
import type { DumpContext } from '../context.js';
import { MEMORY_CHUNK_BYTES, writeMemoryChunk } from '../elf/write.js';
import type { DumpBlock, DumpSource } from '../source.js';
import { PAGE_SIZE } from './layout.js';
import type { WinDumpPlan } from './prepare.js';

const TWO64 = 1n << 64n;

export async function writeWinDump(source: DumpSource, plan: WinDumpPlan, ctx: DumpContext): Promise<void> {
  const blocks = [...source.blocks].sort((a, b) => a.gpa - b.gpa);
  // QEMU shifts in 64 bits: a run's address and size wrap modulo 2^64.
  const runs = plan.runs.map((r) => ({ start: (r.basePage << 12n) % TWO64, size: (r.pageCount << 12n) % TWO64 }));
  const total = runs.reduce((n, r) => n + r.size, 0n);
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DumpError('win-dump-runs', `win-dump: the runs add up to ${total} bytes, more than a file can hold here`);
  }
  await ctx.write(plan.header);
  ctx.progress(plan.header.length);
  for (const run of runs) {
    // Physical addresses past 2^53 are never guest RAM: zeros.
    const start = run.start > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(run.start);
    let done = 0;
    const size = Number(run.size);
    while (done < size) {
      ctx.checkAborted();
      const at = start + done;
      const piece = pieceAt(blocks, at, Math.min(MEMORY_CHUNK_BYTES, size - done));
      if (piece.block === undefined) {
        await ctx.writeZeros(piece.length);
      } else {
        await writeMemoryChunk(overlaid(plan, at, piece.block.read(at - piece.block.gpa, piece.length)), ctx);
      }
      ctx.progress(piece.length);
      done += piece.length;
    }
  }
}

/** The block holding `at` (with how much of `length` it holds), or the gap up to the next block. */
function pieceAt(blocks: readonly DumpBlock[], at: number, length: number): { block: DumpBlock | undefined; length: number } {
  for (const b of blocks) {
    if (at < b.gpa) return { block: undefined, length: Math.min(length, b.gpa - at) };
    if (at < b.gpa + b.sizeBytes) return { block: b, length: Math.min(length, b.gpa + b.sizeBytes - at) };
  }
  return { block: undefined, length };
}

/** `bytes` (guest memory at `gpa`) with the patched pages applied: a copy only where one applies. */
function overlaid(plan: WinDumpPlan, gpa: number, bytes: Uint8Array): Uint8Array {
  let out = bytes;
  const first = Math.floor(gpa / PAGE_SIZE);
  const last = Math.floor((gpa + bytes.length - 1) / PAGE_SIZE);
  for (const pfn of plan.memory.patchedPages()) {
    if (pfn < first || pfn > last) continue;
    const page = plan.memory.page(pfn);
    if (page === undefined) continue;
    if (out === bytes) out = bytes.slice();
    const start = Math.max(gpa, pfn * PAGE_SIZE);
    const end = Math.min(gpa + bytes.length, (pfn + 1) * PAGE_SIZE);
    out.set(page.subarray(start - pfn * PAGE_SIZE, end - pfn * PAGE_SIZE), start - gpa);
  }
  return out;
}
