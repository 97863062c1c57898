/**
 * Dumps of a v86 machine through slice86's dump engine: v86's RAM as dump blocks (views, no
 * copy), its CPU as a CpuSnapshot, and the vmcoreinfo registration of the attached devices. Like
 * QEMU's dump-guest-memory, a running emulator is stopped for the dump and resumed afterwards.
 */

import type { CpuSnapshot } from '../../cpu/state.js';
import { DumpEngine, createDumpEngine, validateRequest, type DumpOptions, type DumpResult } from '../../dump/engine.js';
import { readFromBlocks, type DumpSource } from '../../dump/source.js';
import { attachmentOf } from './attach.js';
import { readV86Cpu } from './cpu-snapshot.js';
import { findV86Internals, type V86Emulator } from './internals.js';
import { v86DumpBlocks } from './memory.js';

export interface V86DumpOptions extends DumpOptions {
  /** The engine to use (one dump at a time per engine); by default a fresh one (with zstd for kdump-*zstd). */
  readonly engine?: DumpEngine;
}

/**
 * A DumpSource over a stopped v86 instance: its RAM, its CPU now, and the guest note the guest
 * registered with the attached vmcoreinfo device (none when slice86 is not attached).
 * @throws V86AdapterError 'v86-internals-missing' | 'v86-not-loaded'
 */
export function dumpSourceFromV86(emulator: unknown, cpus?: readonly CpuSnapshot[]): DumpSource {
  const cpu = findV86Internals(emulator);
  const blocks = v86DumpBlocks(cpu);
  const record = attachmentOf(emulator as object)?.vmcoreinfo?.record;
  return {
    blocks,
    cpus: cpus ?? [readV86Cpu(cpu)],
    guestNote: record === undefined ? undefined : { kind: 'vmcoreinfo', record },
    readPhysical: (gpa, dst) => readFromBlocks(blocks, gpa, dst),
  };
}

/**
 * Writes a dump of a v86 machine in any format of the dump engine (elf, kdump-*, kdump-raw-*).
 * @throws V86AdapterError before anything is written; DumpError as DumpEngine.dump.
 */
export async function dumpV86(emulator: unknown, options: V86DumpOptions): Promise<DumpResult> {
  findV86Internals(emulator);
  // zstd's WebAssembly module loads only for the formats that need it.
  const engine = options.engine ?? (options.format?.endsWith('zstd') === true ? await createDumpEngine() : new DumpEngine());
  // A request QEMU would refuse is refused before the guest is stopped.
  validateRequest(engine, options);
  const v86 = emulator as V86Emulator;
  const wasRunning = v86.is_running?.() === true;
  if (wasRunning) await v86.stop?.();
  try {
    return await engine.dump(dumpSourceFromV86(emulator), options);
  } finally {
    if (wasRunning) await v86.run?.();
  }
}
