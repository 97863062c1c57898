/**
 * The memory-mapping list of an ELF dump (QEMU's MemoryMappingList): what the PT_LOADs describe.
 * Without paging, one identity mapping (virt 0) per block, clipped to the begin/length filter;
 * with paging, the page-table walker's leaves merged by QEMU's rules (added with the CPU work).
 */

import type { DumpBlock } from './source.js';
import type { Filter } from './elf/layout.js';

export interface MemoryMapping {
  readonly phys: bigint;
  readonly virt: bigint;
  readonly length: bigint;
}

/** paging=false: one mapping per guest block, virt 0 so the PT_LOAD reports vaddr = paddr. */
export function blockMappings(blocks: readonly DumpBlock[]): MemoryMapping[] {
  return blocks.map((b) => ({ phys: BigInt(b.gpa), virt: 0n, length: BigInt(b.sizeBytes) }));
}

/**
 * QEMU's memory_mapping_filter: drop mappings outside [begin, begin+length), clip the rest; virt
 * moves with phys only when it is not 0.
 */
export function filterMappings(mappings: readonly MemoryMapping[], filter: Filter | undefined): MemoryMapping[] {
  if (filter === undefined) return [...mappings];
  const begin = BigInt(filter.begin);
  const end = begin + BigInt(filter.length);
  const out: MemoryMapping[] = [];
  for (const m of mappings) {
    const mEnd = m.phys + m.length;
    if (mEnd <= begin || m.phys >= end) continue;
    const cutStart = m.phys < begin ? begin - m.phys : 0n;
    const phys = m.phys + cutStart;
    const virt = m.virt === 0n ? 0n : m.virt + cutStart;
    const length = (mEnd > end ? end : mEnd) - phys;
    out.push({ phys, virt, length });
  }
  return out;
}
