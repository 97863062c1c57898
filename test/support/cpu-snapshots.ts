/** CPU states for tests and benchmarks that start code somewhere other than the reset vector. */
import { powerOnSnapshot, type CpuSnapshot } from '../../src/cpu/state.js';

/** Ring 0, 32-bit protected mode, flat 4 GiB code (0x08) and data (0x10) segments, paging off, at `rip`. */
export function flat32Snapshot(rip: number): CpuSnapshot {
  const s = powerOnSnapshot(0);
  const data = { selector: 0x10, base: 0n, limit: 0xffffffff, flags: 0x00cf9300 };
  return {
    ...s,
    rip: BigInt(rip),
    cr0: 0x60000011n,
    segments: { ...s.segments, cs: { selector: 0x08, base: 0n, limit: 0xffffffff, flags: 0x00cf9b00 }, ss: data, ds: data, es: data, fs: data, gs: data },
  };
}
