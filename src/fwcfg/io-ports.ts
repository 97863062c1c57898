/**
 * The x86 selector/data ports 0x510-0x511: QEMU 7.2's combined "fwcfg" I/O region.
 *
 * It accepts 1-byte reads and writes at either port and 2-byte writes (fw_cfg_comb_valid); the
 * bus splits or rejects anything else exactly as QEMU's memory core does. A 1-byte read at either
 * port is a data read; a 2-byte write selects (little-endian); data writes are ignored, as they
 * have been since QEMU 2.4.
 */

import type { IoSize, PortDevice, PortMappingOptions } from '../core/port-bus.js';
import { FW_CFG_CTL_SIZE } from './abi.js';
import type { FwCfgCore } from './core.js';

export class FwCfgIoPorts implements PortDevice {
  static readonly LENGTH = FW_CFG_CTL_SIZE;
  static readonly MAPPING: PortMappingOptions = {
    name: 'fwcfg',
    accepts: (_offset, size, isWrite) => size === 1 || (isWrite && size === 2),
  };

  readonly #core: FwCfgCore;

  constructor(core: FwCfgCore) {
    this.#core = core;
  }

  ioRead(_offset: number, _size: IoSize): number {
    return this.#core.readByte();
  }

  ioWrite(_offset: number, size: IoSize, value: number): void {
    if (size === 2) {
      this.#core.select(value & 0xffff);
    } else {
      this.#core.diagnostics.report('fwcfg-data-port-write', () => `data write 0x${value.toString(16)} ignored`);
    }
  }
}
