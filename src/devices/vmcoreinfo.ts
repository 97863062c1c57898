/**
 * The vmcoreinfo device (QEMU 7.2 hw/misc/vmcoreinfo.c): a writable 16-byte fw_cfg file
 * "etc/vmcoreinfo" through which the guest tells where its ELF note lies.
 *
 * Layout, little-endian: u16 host_format, u16 guest_format, u32 size, u64 paddr. The guest's bytes
 * are stored as written (host_format included: Linux writes 0 there); the record counts only after
 * a complete 16-byte write at offset 0 with guest_format != 0. Reset zeroes it and sets
 * host_format = 1 (ELF). Size and address are not checked here: the dump engine does that.
 */

import { readU16le, readU32le, readU64le, toHex } from '../core/bytes.js';
import { VmcoreinfoError } from '../core/errors.js';
import { expectState, stateBoolean, stateHex, type Snapshottable, type VersionedState } from '../core/state.js';
import { FW_CFG_VMCOREINFO_FILENAME, FW_CFG_VMCOREINFO_FORMAT_ELF, FW_CFG_VMCOREINFO_FORMAT_NONE } from '../fwcfg/abi.js';
import type { FwCfgCore } from '../fwcfg/core.js';

export const VMCOREINFO_RECORD_SIZE = 16;

/** What the guest registered, decoded. */
export interface VmcoreinfoRecord {
  /** True only after a complete 16-byte write with guest_format != 0, since the last reset. */
  readonly hasVmcoreinfo: boolean;
  readonly hostFormat: number;
  readonly guestFormat: number;
  readonly size: number;
  readonly paddr: bigint;
}

export interface VmcoreinfoState extends VersionedState {
  readonly v: 1;
  readonly hasVmcoreinfo: boolean;
  /** The 16 record bytes as the guest reads them. */
  readonly record: string;
}

export class Vmcoreinfo implements Snapshottable<VmcoreinfoState> {
  /** The fw_cfg item's bytes; the file references this buffer. */
  readonly #bytes = new Uint8Array(VMCOREINFO_RECORD_SIZE);
  #hasVmcoreinfo = false;

  /**
   * Realizes the device on `fwcfg`, with QEMU's checks in QEMU's order.
   * @throws VmcoreinfoError 'vmcoreinfo-duplicate' ("at most one vmcoreinfo device is permitted"),
   *   'vmcoreinfo-requires-dma' ("vmcoreinfo device requires fw_cfg with DMA")
   */
  constructor(fwcfg: FwCfgCore) {
    if (fwcfg.hasFile(FW_CFG_VMCOREINFO_FILENAME)) {
      throw new VmcoreinfoError('vmcoreinfo-duplicate', 'at most one vmcoreinfo device is permitted');
    }
    if (!fwcfg.dmaEnabled) {
      throw new VmcoreinfoError('vmcoreinfo-requires-dma', 'vmcoreinfo device requires fw_cfg with DMA');
    }
    fwcfg.addFile(FW_CFG_VMCOREINFO_FILENAME, this.#bytes, {
      readOnly: false,
      onWrite: (offset, length) => {
        // Compared raw, as QEMU does: a zero guest_format is zero in either byte order.
        this.#hasVmcoreinfo = offset === 0 && length === VMCOREINFO_RECORD_SIZE && readU16le(this.#bytes, 2) !== FW_CFG_VMCOREINFO_FORMAT_NONE;
      },
    });
  }

  get record(): VmcoreinfoRecord {
    return {
      hasVmcoreinfo: this.#hasVmcoreinfo,
      hostFormat: readU16le(this.#bytes, 0),
      guestFormat: readU16le(this.#bytes, 2),
      size: readU32le(this.#bytes, 4),
      paddr: readU64le(this.#bytes, 8),
    };
  }

  reset(): void {
    this.#hasVmcoreinfo = false;
    this.#bytes.fill(0);
    this.#bytes[0] = FW_CFG_VMCOREINFO_FORMAT_ELF;
  }

  saveState(): VmcoreinfoState {
    return { v: 1, hasVmcoreinfo: this.#hasVmcoreinfo, record: toHex(this.#bytes) };
  }

  /** @throws StateError 'bad-state-version' | 'bad-state'; nothing changes when it throws. */
  loadState(state: VmcoreinfoState): void {
    expectState('vmcoreinfo', state, 1);
    const has = stateBoolean('vmcoreinfo', state, 'hasVmcoreinfo');
    const record = stateHex('vmcoreinfo', state, 'record', VMCOREINFO_RECORD_SIZE);
    this.#hasVmcoreinfo = has;
    this.#bytes.set(record);
  }
}
