/**
 * The devices slice86 puts into a v86 machine, on a port bus of their own: QEMU 7.2's fw_cfg
 * (selector/data ports and DMA), vmcoreinfo, the debug consoles (0xe9 and SeaBIOS's 0x402) and,
 * on request, isa-debug-exit. Their reset and save/restore are one unit, like a slice86 Machine.
 *
 * fw_cfg holds what v86's own fw_cfg serves, in QEMU's encodings: signature, ID (now with the DMA
 * bit), RAM size, one CPU, an empty NUMA table, UUID, NOGRAPHIC and BOOT_MENU. v86's option ROMs
 * (genroms/multiboot.bin, genroms/kernel.bin for bzImage) become files in QEMU's numbering (keys
 * from 0x20, sorted) instead of v86's 0xc000+. Not added, on purpose: etc/e820, the ACPI table
 * loader, HPET, IRQ0 override and bootorder, because they would describe QEMU's hardware to the
 * firmware, not v86's (SeaBIOS would, e.g., move the ACPI PM base away from v86's fixed 0xb000).
 */

import { Diagnostics } from '../../core/diagnostics.js';
import { StateError } from '../../core/errors.js';
import type { DmaMemory } from '../../core/guest-memory.js';
import { PortBus } from '../../core/port-bus.js';
import { expectState, type Snapshottable, type VersionedState } from '../../core/state.js';
import { u16le, u64le } from '../../core/bytes.js';
import { FW_CFG_BOOT_MENU, FW_CFG_DMA_IO_BASE, FW_CFG_IO_BASE, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_NOGRAPHIC, FW_CFG_NUMA, FW_CFG_RAM_SIZE, FW_CFG_UUID } from '../../fwcfg/abi.js';
import { FwCfgCore, type FwCfgState } from '../../fwcfg/core.js';
import { FwCfgDmaPorts } from '../../fwcfg/dma-ports.js';
import { FwCfgIoPorts } from '../../fwcfg/io-ports.js';
import { buildNuma } from '../../fwcfg/items/x86.js';
import { Debugcon, type DebugconState } from '../../devices/debugcon.js';
import { DEBUG_EXIT_IOBASE, DEBUG_EXIT_IOSIZE, DebugExit, type DebugExitState } from '../../devices/debug-exit.js';
import { Vmcoreinfo, type VmcoreinfoState } from '../../devices/vmcoreinfo.js';

export interface V86DeviceOptions {
  /** Guest RAM size in bytes (FW_CFG_RAM_SIZE). */
  readonly ramSize: number;
  /** v86's option ROMs, re-exported as fw_cfg files under the same names. */
  readonly optionRoms: readonly { readonly name: string; readonly data: Uint8Array }[];
  /** Extra read-only fw_cfg files, e.g. { 'opt/org.example/config': bytes }. */
  readonly files?: Readonly<Record<string, Uint8Array>>;
  /** Add the vmcoreinfo device. Default true. */
  readonly vmcoreinfo?: boolean;
  /** Debug console ports; default [0xe9, 0x402]; false for none. */
  readonly debugcon?: false | { readonly ports?: readonly number[]; readonly maxBytes?: number };
  /** isa-debug-exit at 0x501. Default false (v86 has no such device; a test harness may want it). */
  readonly debugExit?: boolean;
  /** FW_CFG_BOOT_MENU; default false. */
  readonly bootMenu?: boolean;
  /** fw_cfg x-file-slots; default 0x20. */
  readonly fileSlots?: number;
  readonly diagnostics?: Diagnostics;
}

export interface V86DevicesState extends VersionedState {
  readonly v: 1;
  readonly fwcfg: FwCfgState;
  readonly vmcoreinfo: VmcoreinfoState | null;
  readonly debugExit: DebugExitState | null;
  readonly debugcon: Readonly<Record<string, DebugconState>>;
}

export class V86Devices implements Snapshottable<V86DevicesState> {
  readonly diagnostics: Diagnostics;
  readonly ports: PortBus;
  readonly fwcfg: FwCfgCore;
  readonly vmcoreinfo: Vmcoreinfo | undefined;
  readonly debugcons: readonly Debugcon[];
  readonly debugExit: DebugExit | undefined;

  /** @throws FwCfgError for bad extra files; PortBusError for overlapping debug console ports. */
  constructor(memory: DmaMemory, options: V86DeviceOptions) {
    this.diagnostics = options.diagnostics ?? new Diagnostics();
    this.ports = new PortBus(this.diagnostics);
    this.fwcfg = new FwCfgCore(this.diagnostics, options.fileSlots === undefined ? {} : { fileSlots: options.fileSlots });
    this.ports.map(FW_CFG_IO_BASE, FwCfgIoPorts.LENGTH, new FwCfgIoPorts(this.fwcfg), FwCfgIoPorts.MAPPING);
    this.ports.map(FW_CFG_DMA_IO_BASE, FwCfgDmaPorts.LENGTH, new FwCfgDmaPorts(this.fwcfg, memory), FwCfgDmaPorts.MAPPING);
    this.fwcfg.addItem(FW_CFG_UUID, new Uint8Array(16));
    this.fwcfg.addItem(FW_CFG_NOGRAPHIC, u16le(0));
    this.fwcfg.addItem(FW_CFG_BOOT_MENU, u16le(options.bootMenu === true ? 1 : 0));
    this.fwcfg.addItem(FW_CFG_NB_CPUS, u16le(1));
    this.fwcfg.addItem(FW_CFG_MAX_CPUS, u16le(1));
    this.fwcfg.addItem(FW_CFG_RAM_SIZE, u64le(BigInt(options.ramSize)));
    this.fwcfg.addItem(FW_CFG_NUMA, buildNuma(1));
    // Copies: v86 keeps its ROM arrays, and fw_cfg items are served from the bytes they hold.
    for (const rom of options.optionRoms) this.fwcfg.addFile(rom.name, rom.data.slice());
    for (const [name, bytes] of Object.entries(options.files ?? {})) this.fwcfg.addFile(name, bytes);
    this.vmcoreinfo = options.vmcoreinfo === false ? undefined : new Vmcoreinfo(this.fwcfg);

    const consolePorts = options.debugcon === false ? [] : (options.debugcon?.ports ?? [0xe9, 0x402]);
    const maxBytes = options.debugcon === false ? undefined : options.debugcon?.maxBytes;
    this.debugcons = consolePorts.map((port) => {
      const device = new Debugcon(port, this.diagnostics, maxBytes);
      this.ports.map(port, 1, device, Debugcon.mapping(`isa-debugcon@0x${port.toString(16)}`));
      return device;
    });
    if (options.debugExit === true) {
      this.debugExit = new DebugExit();
      this.ports.map(DEBUG_EXIT_IOBASE, DEBUG_EXIT_IOSIZE, this.debugExit, DebugExit.MAPPING);
    }
    this.reset();
  }

  reset(): void {
    this.fwcfg.reset();
    this.vmcoreinfo?.reset();
    this.debugExit?.reset();
    for (const d of this.debugcons) d.reset();
  }

  saveState(): V86DevicesState {
    return {
      v: 1,
      fwcfg: this.fwcfg.saveState(),
      vmcoreinfo: this.vmcoreinfo?.saveState() ?? null,
      debugExit: this.debugExit?.saveState() ?? null,
      debugcon: Object.fromEntries(this.debugcons.map((d) => [d.port.toString(16), d.saveState()])),
    };
  }

  /**
   * All or nothing: if a device refuses its part, every device is put back and the error rethrown.
   * @throws StateError 'bad-state-version' | 'bad-state'
   */
  loadState(state: V86DevicesState): void {
    expectState('v86 devices', state, 1);
    const consoles = state.debugcon as unknown;
    if (typeof consoles !== 'object' || consoles === null) throw new StateError('bad-state', 'v86 devices state field "debugcon" is not an object');
    const present = (part: unknown, device: unknown): boolean => (part === null) === (device === undefined);
    if (!present(state.vmcoreinfo, this.vmcoreinfo) || !present(state.debugExit, this.debugExit)) {
      throw new StateError('bad-state', 'v86 devices state has a different set of devices');
    }
    const before = this.saveState();
    try {
      this.#load(state);
    } catch (error) {
      this.#load(before);
      throw error;
    }
  }

  #load(state: V86DevicesState): void {
    this.fwcfg.loadState(state.fwcfg);
    if (state.vmcoreinfo !== null) this.vmcoreinfo?.loadState(state.vmcoreinfo);
    if (state.debugExit !== null) this.debugExit?.loadState(state.debugExit);
    for (const d of this.debugcons) {
      const saved = state.debugcon[d.port.toString(16)];
      if (saved === undefined) throw new StateError('bad-state', `v86 devices state has no debug console at 0x${d.port.toString(16)}`);
      d.loadState(saved);
    }
  }
}
