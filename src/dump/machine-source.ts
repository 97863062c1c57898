/**
 * A DumpSource over a slice86 machine: its guest-physical blocks as QEMU lists them (views into
 * guest RAM and ROM, no copies), its CPUs' snapshots, and its vmcoreinfo registration.
 * While the dump reads, the machine holds: a run waits, as QEMU stops the VM for a dump.
 */

import type { Machine } from '../machine.js';
import type { CpuSnapshot } from '../cpu/state.js';
import { readFromBlocks, type DumpBlock, type DumpSource } from './source.js';

export function dumpSourceFromMachine(machine: Machine, cpus?: readonly CpuSnapshot[]): DumpSource {
  const blocks: DumpBlock[] = machine.memory.blocks().map((b) => ({
    gpa: b.gpa,
    sizeBytes: b.sizeBytes,
    // A view when the range sits in one backing chunk (always, for page-aligned 1 MiB reads of
    // RAM); a copy only where a read straddles two chunks or regions.
    read: (offset, length) => machine.memory.view(b.gpa + offset, length) ?? machine.memory.read(b.gpa + offset, length),
  }));
  const record = machine.vmcoreinfo?.record;
  return {
    blocks,
    cpus: cpus ?? machine.cpuSnapshots(),
    guestNote: record === undefined ? undefined : { kind: 'vmcoreinfo', record },
    readPhysical: (gpa, dst) => readFromBlocks(blocks, gpa, dst),
    hold: () => machine.hold(),
  };
}
