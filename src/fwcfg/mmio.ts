/**
 * The MMIO transport of fw_cfg (QEMU's fw_cfg_init_mem_wide, as on Arm `virt`): a second front end
 * over the same core and cursor as the x86 ports. Accesses are byte arrays in address order, so no
 * host/guest endianness question arises.
 *
 *  - selector (2 bytes, big-endian): only a 2-byte write at its offset 0 selects.
 *  - data (`dataWidth` bytes): reads at offset 0 of 1..dataWidth bytes return the next item bytes
 *    in order, zero-padded at the end if the item runs out (the cursor advances only by real
 *    bytes); writes are ignored.
 *  - DMA (8 bytes, big-endian): aligned reads give "QEMU CFG"; 4-byte writes at 0/4 latch halves as on x86,
 *    and an 8-byte write at 0 sets the whole address and runs the transfer.
 * Anything else is rejected as QEMU's valid.accepts rejects it: reads give zeros, writes drop.
 */

import type { GuestMemory } from '../core/guest-memory.js';
import { ConfigError } from '../core/errors.js';
import { readU16be, readU32be } from '../core/bytes.js';
import { FW_CFG_DMA_SIGNATURE_BYTES, FW_CFG_DMA_SIZE } from './abi.js';
import type { FwCfgCore } from './core.js';
import { runDmaTransfer } from './dma.js';
import { writeDmaHigh, writeDmaLow } from './dma-ports.js';

export interface FwCfgMmioLayout {
  readonly dataOffset: number;
  readonly selectorOffset: number;
  readonly dmaOffset: number;
  /** 1..8 bytes; `virt` uses 8. */
  readonly dataWidth: number;
}

/** The Arm `virt` layout: data at +0 (8 wide), selector at +8, DMA at +16. */
export const VIRT_FW_CFG_LAYOUT: FwCfgMmioLayout = { dataOffset: 0, selectorOffset: 8, dmaOffset: 16, dataWidth: 8 };

export type MmioSize = 1 | 2 | 4 | 8;

export class FwCfgMmio {
  readonly layout: FwCfgMmioLayout;
  readonly #core: FwCfgCore;
  readonly #memory: GuestMemory;

  /** @throws ConfigError 'invalid-option' for a data width outside 1..8 or overlapping registers. */
  constructor(core: FwCfgCore, memory: GuestMemory, layout: FwCfgMmioLayout = VIRT_FW_CFG_LAYOUT) {
    const { dataOffset, selectorOffset, dmaOffset, dataWidth } = layout;
    const ranges = [[dataOffset, dataWidth], [selectorOffset, 2], [dmaOffset, FW_CFG_DMA_SIZE]] as const;
    const overlaps = ranges.some(([a, la], i) => ranges.some(([b, lb], j) => i !== j && a < b + lb && b < a + la));
    if (!Number.isInteger(dataWidth) || dataWidth < 1 || dataWidth > 8 || overlaps) {
      throw new ConfigError('invalid-option', `fw_cfg MMIO layout ${JSON.stringify(layout)} has a bad data width or overlapping registers`);
    }
    this.layout = layout;
    this.#core = core;
    this.#memory = memory;
  }

  /** An MMIO read of `size` bytes at `offset` from the device base; the bytes in address order. */
  read(offset: number, size: MmioSize): Uint8Array {
    const out = new Uint8Array(size);
    const { dataOffset, dataWidth, dmaOffset } = this.layout;
    if (offset === dataOffset && size <= dataWidth) {
      for (let i = 0; i < size; i++) {
        const item = this.#core.curItem;
        if (item === undefined || this.#core.curOffset >= item.data.length) break;
        out[i] = this.#core.readByte();
      }
    } else if (offset >= dmaOffset && offset + size <= dmaOffset + FW_CFG_DMA_SIZE && (offset - dmaOffset) % size === 0) {
      for (let i = 0; i < size; i++) out[i] = FW_CFG_DMA_SIGNATURE_BYTES[offset - dmaOffset + i] ?? 0;
    } else {
      this.#reject(offset, size, false);
    }
    return out;
  }

  /** An MMIO write of `bytes` (in address order) at `offset` from the device base. */
  write(offset: number, bytes: Uint8Array): void {
    const { dataOffset, dataWidth, selectorOffset, dmaOffset } = this.layout;
    const size = bytes.length;
    if (offset === selectorOffset && size === 2) {
      this.#core.select(readU16be(bytes, 0));
    } else if (offset === dataOffset && size >= 1 && size <= dataWidth) {
      this.#core.diagnostics.report('fwcfg-data-port-write', () => `MMIO data write of ${size} bytes ignored`);
    } else if (offset === dmaOffset && size === 8) {
      this.#core.dmaAddressHigh = 0;
      this.#core.dmaAddressLow = 0;
      runDmaTransfer(this.#core, this.#memory, readU32be(bytes, 0) * 2 ** 32 + readU32be(bytes, 4));
    } else if (offset === dmaOffset && size === 4) {
      writeDmaHigh(this.#core, readU32be(bytes, 0));
    } else if (offset === dmaOffset + 4 && size === 4) {
      writeDmaLow(this.#core, this.#memory, readU32be(bytes, 0));
    } else {
      this.#reject(offset, size, true);
    }
  }

  #reject(offset: number, size: number, isWrite: boolean): void {
    this.#core.diagnostics.report('port-width-rejected', () => `fw_cfg MMIO ${isWrite ? 'write' : 'read'} of ${size} at +0x${offset.toString(16)}`);
  }
}
