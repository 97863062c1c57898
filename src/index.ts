/**
 * slice86: QEMU 7.2's fw_cfg and vmcoreinfo devices on a pc/q35 memory map, for JavaScript
 * emulators and guest-firmware tests. Browser-safe: no Node built-ins behind this entry.
 *
 * @module slice86
 */

export { createMachine, Machine, e820Entries, type MachineOptions, type MachineState, type RunOptions, type RunResult, type RunStopReason } from './machine.js';
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
export {
  powerOnSnapshot,
  inLongMode,
  GPR_NAMES,
  SEGMENT_NAMES,
  type CpuSnapshot,
  type SegmentState,
  type TableRegister,
  type FpuState,
  type GprName,
  type SegmentName,
  type CpuRunState,
} from './cpu/state.js';
export { Cpu, type CpuBus } from './cpu/cpu.js';
export { cpuidLeaf } from './cpu/cpuid.js';
export type { CpuState } from './cpu/cpu-state.js';
export {
  DumpEngine,
  createDumpEngine,
  dumpGuestMemory,
  DUMP_FORMATS,
  BUILTIN_CODECS,
  type DumpFormat,
  type DumpOptions,
  type DumpStatus,
  type DumpCompleted,
  type DumpResult,
  type DumpEngineOptions,
} from './dump/engine.js';
export { DumpError, type DumpErrorCode } from './core/errors.js';
export { MemorySink, type ByteSink } from './dump/sink.js';
export { dumpSourceFromBytes, blockFromBytes, readFromBlocks, type DumpSource, type DumpBlock, type GuestNoteInput } from './dump/source.js';
export { dumpSourceFromMachine } from './dump/machine-source.js';
export { isZeroBytes, type ZeroTest } from './dump/context.js';
export type { PageCodec, CodecName } from './dump/kdump/codecs/codec.js';
export { inlineCompressor, COMPRESS_BATCH_PAGES, type PageCompressor } from './dump/kdump/compressor.js';
export { zlibCodec } from './dump/kdump/codecs/zlib.js';
export { snappyCodec } from './dump/kdump/codecs/snappy.js';
export { lzoCodec } from './dump/kdump/codecs/lzo.js';
export { lzo1xCompress, lzo1xDecompress, lzo1xWorstCase, Lzo1xError, type Lzo1xErrorCode } from './dump/kdump/codecs/lzo1x.js';
export { createZstdCodec } from './dump/kdump/codecs/zstd.js';
export { DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZSTD, CODEC_OUT_BYTES } from './dump/kdump/codecs/codec.js';
export { executeQmp, type QmpCommand, type QmpReply, type QmpContext } from './dump/qmp.js';
export {
  translate,
  translateDebug,
  pagingControl,
  pagingMode,
  accessFlags,
  Tlb,
  ACCESS_WRITE,
  ACCESS_USER,
  ACCESS_FETCH,
  PF_PRESENT,
  PF_WRITE,
  PF_USER,
  PF_RSVD,
  PF_FETCH,
  DEFAULT_PHYS_ADDR_BITS,
  type PageTableMemory,
  type PagingControl,
  type PagingMode,
  type DebugTranslation,
  type PageFault,
  type GeneralProtectionFault,
  type TranslationFault,
  type Access,
  type AccessFlags,
} from './cpu/paging.js';
export { pagingMappings, MemoryMappingList, blockProbe, type PagingMappingSource } from './dump/paging-mappings.js';
export type { MemoryMapping } from './dump/mapping.js';
export { readDump, type DumpFile, type DumpFileFormat, type ReadDumpOptions } from './dump/read/read-dump.js';
export { inputFromBytes, type RandomAccessInput } from './dump/read/input.js';
export { DumpReadError, type DumpReadErrorCode } from './dump/read/errors.js';
export type { DumpNote } from './dump/read/notes.js';
export type { PhysRange } from './dump/read/memory.js';
export type { DumpMachine } from './dump/read/cpu.js';
export type { ElfInfo, ElfLoad } from './dump/read/elf.js';
export type { KdumpInfo, KdumpSubHeader } from './dump/read/kdump.js';
export type { WinDumpInfo, WinDumpRunInfo, WinContextInfo } from './dump/read/windows.js';
export type { CodecTable } from './dump/read/pages.js';
export { bootDefaultFirmware, defaultFirmwareImage, DEFAULT_FIRMWARE_SHA256, type BootReport } from './guest/default-firmware.js';
export type { ProbeReport, ProbeFile, ProbeE820 } from './guest/scripted-probe.js';
