/**
 * Typed errors for host misuse and environment failures.
 *
 * Guest input never produces these: devices answer bad guest input the way the hardware does and
 * report it to diagnostics. Every error carries a literal `code` so callers can branch without
 * parsing messages; messages name the offending value.
 */

/** Base class of every error slice86 throws on purpose. */
export class Slice86Error<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export type ConfigErrorCode =
  | 'invalid-option'
  | 'firmware-size'
  | 'memory-size'
  | 'busy';

/** A machine or device option that cannot be honoured. */
export class ConfigError extends Slice86Error<ConfigErrorCode> {}

export type PortBusErrorCode = 'invalid-port' | 'invalid-size' | 'port-overlap' | 'unknown-mapping';

/** Misuse of the I/O-port bus by the host (bad arguments, overlapping devices). */
export class PortBusError extends Slice86Error<PortBusErrorCode> {}

export type MemoryErrorCode = 'out-of-range' | 'invalid-address';

/** A host access to guest memory that falls outside what the machine has. */
export class MemoryError extends Slice86Error<MemoryErrorCode> {}

export type FwCfgErrorCode =
  | 'duplicate-file'
  | 'name-too-long'
  | 'invalid-name'
  | 'no-free-slot'
  | 'unknown-file'
  | 'invalid-key'
  | 'key-in-use'
  | 'item-too-large'
  | 'invalid-slots';

/** Misuse of the fw_cfg host API. The device is unchanged when one is thrown. */
export class FwCfgError extends Slice86Error<FwCfgErrorCode> {}

export type VmcoreinfoErrorCode = 'vmcoreinfo-requires-dma' | 'vmcoreinfo-duplicate';

/** vmcoreinfo realize failures, with QEMU's own texts. */
export class VmcoreinfoError extends Slice86Error<VmcoreinfoErrorCode> {}

export type StateErrorCode = 'bad-state-version' | 'bad-state';

/** A saved state that cannot be loaded. Nothing is changed when one is thrown. */
export class StateError extends Slice86Error<StateErrorCode> {}

export type DumpErrorCode =
  | 'invalid-argument'
  | 'unsupported-format'
  | 'no-guest-memory'
  | 'dump-in-progress'
  | 'not-seekable'
  | 'sink-failed'
  | 'aborted'
  /** win-dmp: no Windows header note of a size QEMU accepts. */
  | 'win-dump-note'
  /** win-dmp: the header's Signature or ValidDump is wrong. */
  | 'win-dump-header'
  /** win-dmp: no KDBG at KdDebuggerDataBlock nor at BugcheckParameter1. */
  | 'win-dump-kdbg'
  /** win-dmp: a KiProcessorBlock, PRCB or CONTEXT the guest points at cannot be read or written. */
  | 'win-dump-context'
  /** win-dmp: the header's run list is not what the flavour can write. */
  | 'win-dump-runs';

/**
 * A dump that could not be made. `qemuMessage` carries QEMU 7.2's own error text where QEMU
 * refuses the same request, for the QMP-shaped entry.
 */
export class DumpError extends Slice86Error<DumpErrorCode> {
  readonly qemuMessage: string | undefined;

  constructor(code: DumpErrorCode, message: string, options?: { cause?: unknown; qemuMessage?: string }) {
    super(code, message, options);
    this.qemuMessage = options?.qemuMessage;
  }
}

/** A broken internal invariant: a bug in slice86, never reachable from guest input. */
export class InternalError extends Slice86Error<'internal'> {
  constructor(message: string) {
    super('internal', message);
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InternalError(message);
}
