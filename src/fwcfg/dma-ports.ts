/**
 * The x86 DMA register at 0x514-0x51b: QEMU 7.2's "fwcfg.dma" region, big-endian.
 *
 * Any read returns the bytes of "QEMU CFG" in address order. Only 4-byte writes at offset 0 (high
 * half: replaces the whole address) and 4 (low half: ORed in, then the transfer runs and the
 * address returns to 0) reach the device; everything else is dropped (fw_cfg_dma_mem_valid).
 * A little-endian CPU writes the big-endian halves byte-swapped, so each value is swapped back.
 */

import type { DmaMemory } from '../core/guest-memory.js';
import type { IoSize, PortDevice, PortMappingOptions } from '../core/port-bus.js';
import { bswap32 } from '../core/bytes.js';
import { FW_CFG_DMA_SIGNATURE_BYTES, FW_CFG_DMA_SIZE } from './abi.js';
import type { FwCfgCore } from './core.js';
import { runDmaTransfer } from './dma.js';

export class FwCfgDmaPorts implements PortDevice {
  static readonly LENGTH = FW_CFG_DMA_SIZE;
  static readonly MAPPING: PortMappingOptions = {
    name: 'fwcfg.dma',
    accepts: (offset, size, isWrite) => !isWrite || (size === 4 && (offset === 0 || offset === 4)),
  };

  readonly #core: FwCfgCore;
  readonly #memory: DmaMemory;

  constructor(core: FwCfgCore, memory: DmaMemory) {
    this.#core = core;
    this.#memory = memory;
  }

  ioRead(offset: number, size: IoSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value += (FW_CFG_DMA_SIGNATURE_BYTES[offset + i] ?? 0) * 2 ** (8 * i);
    return value;
  }

  ioWrite(offset: number, _size: IoSize, value: number): void {
    if (offset === 0) {
      writeDmaHigh(this.#core, bswap32(value));
    } else {
      writeDmaLow(this.#core, this.#memory, bswap32(value));
    }
  }
}

/** The high half replaces the whole latched address, low half included; nothing runs. */
export function writeDmaHigh(core: FwCfgCore, high: number): void {
  core.dmaAddressHigh = high >>> 0;
  core.dmaAddressLow = 0;
}

/** The low half is ORed in and triggers; the latched address is 0 afterwards, whatever happened. */
export function writeDmaLow(core: FwCfgCore, memory: DmaMemory, low: number): void {
  const gpa = core.dmaAddressHigh * 2 ** 32 + ((core.dmaAddressLow | low) >>> 0);
  core.dmaAddressHigh = 0;
  core.dmaAddressLow = 0;
  runDmaTransfer(core, memory, gpa);
}
