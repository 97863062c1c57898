/**
 * Builders of the x86 fw_cfg items QEMU 7.2's pc and q35 machines add (hw/i386/fw_cfg.c,
 * hw/i386/pc.c, hw/timer/hpet.c, hw/i386/e820_memory_layout.c). Pure: data in, bytes out.
 */

import { writeU32le, writeU64le } from '../../core/bytes.js';
import { E820_ENTRY_SIZE } from '../abi.js';

export interface E820Entry {
  readonly address: number;
  readonly length: number;
  /** E820_RAM, E820_RESERVED ... */
  readonly type: number;
}

/** etc/e820: packed 20-byte little-endian {u64 address, u64 length, u32 type} entries. */
export function buildE820(entries: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(entries.length * E820_ENTRY_SIZE);
  entries.forEach((entry, i) => {
    const at = i * E820_ENTRY_SIZE;
    writeU64le(out, at, BigInt(entry.address));
    writeU64le(out, at + 8, BigInt(entry.length));
    writeU32le(out, at + 16, entry.type);
  });
  return out;
}

/**
 * FW_CFG_NUMA: u64 LE [node count, node of each APIC ID below apicIdLimit, memory of each node].
 * Without NUMA nodes it is 1 + apicIdLimit zero words.
 */
export function buildNuma(apicIdLimit: number, nodeCount = 0): Uint8Array {
  return new Uint8Array(8 * (1 + apicIdLimit + nodeCount));
}

/** HPET block as the machine's one HPET reports it to firmware. */
export interface HpetBlock {
  readonly eventTimerBlockId: number;
  readonly address: bigint;
  readonly minTick: number;
  readonly pageProtection: number;
}

/** Number of HPET blocks the fw_cfg item has room for (struct hpet_fw_config). */
export const HPET_MAX_BLOCKS = 8;
const HPET_BLOCK_SIZE = 4 + 8 + 2 + 1;

/**
 * FW_CFG_HPET: packed {u8 count; 8 x {u32 id, u64 address, u16 min_tick, u8 page_prot}}, 121 bytes.
 * The count is 0xff when no HPET was realised.
 */
export function buildHpet(blocks: readonly HpetBlock[] | undefined): Uint8Array {
  const out = new Uint8Array(1 + HPET_MAX_BLOCKS * HPET_BLOCK_SIZE);
  out[0] = blocks === undefined ? 0xff : blocks.length;
  (blocks ?? []).slice(0, HPET_MAX_BLOCKS).forEach((block, i) => {
    const at = 1 + i * HPET_BLOCK_SIZE;
    writeU32le(out, at, block.eventTimerBlockId);
    writeU64le(out, at + 4, block.address);
    out[at + 12] = block.minTick & 0xff;
    out[at + 13] = (block.minTick >>> 8) & 0xff;
    out[at + 14] = block.pageProtection;
  });
  return out;
}
