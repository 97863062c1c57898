/**
 * slice86: QEMU 7.2's fw_cfg and vmcoreinfo devices on a pc/q35 memory map, for JavaScript
 * emulators and guest-firmware tests. Browser-safe: no Node built-ins behind this entry.
 */

export { createMachine, Machine, e820Entries, type MachineOptions, type MachineState } from './machine.js';
export { Diagnostics, GUEST_ANOMALIES, type GuestAnomaly, type AnomalyReport, type AnomalyListener } from './core/diagnostics.js';
export {
  Slice86Error,
  ConfigError,
  PortBusError,
  MemoryError,
  FwCfgError,
  VmcoreinfoError,
  StateError,
  InternalError,
  type ConfigErrorCode,
  type PortBusErrorCode,
  type MemoryErrorCode,
  type FwCfgErrorCode,
  type VmcoreinfoErrorCode,
  type StateErrorCode,
} from './core/errors.js';
export { PortBus, type IoSize, type PortDevice, type PortMapping, type PortMappingOptions } from './core/port-bus.js';
export { GuestMemory, BackingStore, type MemoryRegion, type GuestPhysBlock, type RegionKind } from './core/guest-memory.js';
export { layoutMemory, type MachineType, type MemoryLayout, type LayoutRegion } from './core/memory-map.js';
export { parseSize, formatSize } from './core/size.js';
export type { Snapshottable, VersionedState } from './core/state.js';
export { FwCfgCore, type FwCfgOptions, type FwCfgState, type FwCfgFileInfo, type ItemOptions, type SelectCallback, type WriteCallback } from './fwcfg/core.js';
export { FwCfgMmio, VIRT_FW_CFG_LAYOUT, type FwCfgMmioLayout, type MmioSize } from './fwcfg/mmio.js';
export { buildE820, buildHpet, buildNuma, type E820Entry, type HpetBlock } from './fwcfg/items/x86.js';
export * as fwcfgAbi from './fwcfg/abi.js';
export { Vmcoreinfo, type VmcoreinfoRecord, type VmcoreinfoState } from './devices/vmcoreinfo.js';
export { readGuestNote, MAX_GUEST_NOTE_SIZE, type GuestNote, type GuestNoteOptions, type GuestNoteResult } from './devices/vmcoreinfo-note.js';
export { Debugcon, DEBUGCON_READBACK, type DebugconListener, type DebugconState } from './devices/debugcon.js';
export { DebugExit, type DebugExitState } from './devices/debug-exit.js';
export { Ich9SmiFeatures, type SmiFeaturesState } from './devices/ich9-smi-features.js';
