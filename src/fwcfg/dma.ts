/**
 * One fw_cfg DMA transfer, in QEMU 7.2's exact processing order (hw/nvram/fw_cfg.c
 * fw_cfg_dma_transfer): read the 16-byte big-endian descriptor; on failure store ERROR at it and
 * stop. Then SELECT, then one of READ > WRITE > SKIP (none: length 0) in at most two chunks, the
 * part inside the item and the part past its end (zero fill for READ, ERROR for WRITE), then store
 * the 32-bit big-endian result, 0 or ERROR, at the descriptor. Length and address are never
 * written back. Everything finishes inside the guest's OUT.
 */

import type { DmaMemory } from '../core/guest-memory.js';
import { readU32be, writeU32be } from '../core/bytes.js';
import {
  FW_CFG_DMA_ACCESS_SIZE,
  FW_CFG_DMA_CTL_ERROR,
  FW_CFG_DMA_CTL_READ,
  FW_CFG_DMA_CTL_SELECT,
  FW_CFG_DMA_CTL_SKIP,
  FW_CFG_DMA_CTL_WRITE,
} from './abi.js';
import type { FwCfgCore } from './core.js';

const OP_NONE = 0;
const OP_READ = 1;
const OP_WRITE = 2;
const OP_SKIP = 3;

/** Runs the transfer whose descriptor is at guest-physical `descriptorGpa` (may be any u64 value). */
export function runDmaTransfer(core: FwCfgCore, memory: DmaMemory, descriptorGpa: number): void {
  const descriptor = new Uint8Array(FW_CFG_DMA_ACCESS_SIZE);
  if (!memory.dmaRead(descriptorGpa, descriptor)) {
    core.diagnostics.report('fwcfg-dma-descriptor-unreadable', () => `descriptor at 0x${descriptorGpa.toString(16)}`);
    memory.dmaWrite(descriptorGpa, resultBytes(FW_CFG_DMA_CTL_ERROR));
    return;
  }
  const control = readU32be(descriptor, 0);
  let length = readU32be(descriptor, 4);
  // Above 2^53 a number cannot hold the address exactly; no guest RAM lives there, so any value
  // that large stays unmapped, which is all that matters.
  let address = readU32be(descriptor, 8) * 2 ** 32 + readU32be(descriptor, 12);

  if (control & FW_CFG_DMA_CTL_SELECT) core.select(control >>> 16);

  const op =
    control & FW_CFG_DMA_CTL_READ ? OP_READ
    : control & FW_CFG_DMA_CTL_WRITE ? OP_WRITE
    : control & FW_CFG_DMA_CTL_SKIP ? OP_SKIP
    : OP_NONE;
  if (op === OP_NONE) length = 0;

  let error = false;
  while (length > 0 && !error) {
    const item = core.curItem;
    const offset = core.curOffset;
    let chunk: number;
    if (item === undefined || offset >= item.data.length) {
      // Past the end, or nothing selected: the whole rest at once; the cursor does not move.
      chunk = length;
      if (op === OP_READ) {
        error = !memory.dmaFill(address, chunk, 0);
      } else if (op === OP_WRITE) {
        error = true;
        core.diagnostics.report('fwcfg-dma-write-rejected', () => `write of ${chunk} bytes past the end of key 0x${core.curKey.toString(16)}`);
      }
    } else {
      chunk = Math.min(length, item.data.length - offset);
      if (op === OP_READ) {
        error = !memory.dmaWrite(address, item.data.subarray(offset, offset + chunk));
      } else if (op === OP_WRITE) {
        // Checked in QEMU's order; the guest read is attempted only when the first two pass.
        if (!item.allowWrite || chunk !== length) {
          error = true;
          core.diagnostics.report('fwcfg-dma-write-rejected', () => `write of ${length} bytes at offset ${offset} of key 0x${core.curKey.toString(16)}`);
        } else if (!memory.dmaRead(address, item.data.subarray(offset, offset + chunk))) {
          error = true;
        } else if (item.onWrite !== undefined) {
          const onWrite = item.onWrite;
          core.invoke(() => { onWrite(offset, chunk); });
        }
      }
      // The cursor moves by the in-item chunk even when the chunk failed.
      core.curOffset = offset + chunk;
    }
    address += chunk;
    length -= chunk;
  }
  memory.dmaWrite(descriptorGpa, resultBytes(error ? FW_CFG_DMA_CTL_ERROR : 0));
}

function resultBytes(control: number): Uint8Array {
  const out = new Uint8Array(4);
  writeU32be(out, 0, control);
  return out;
}
