/**
 * The parts of a v86 instance the adapter uses, typed here because v86.d.ts describes only the
 * public V86 class. Checked against v86 0.5.462 (npm, Closure SIMPLE build: property names kept):
 * `emulator.v86.cpu` with its port table (`io`), RAM (`mem8`, `memory_size`, `write_blob`), the
 * typed-array views onto the CPU's registers in wasm memory, and the state and reset methods the
 * adapter wraps. `findV86Internals` feature-detects every one of them, so a renamed or mangled
 * build (v86's ADVANCED browser bundle) fails with one line naming what is missing.
 */

import { V86AdapterError } from './errors.js';

/** What v86 keeps per port: one handler per access width, and the device `this` for them. */
export interface V86PortEntry {
  read8: () => number;
  read16: () => number;
  read32: () => number;
  write8: (value: number) => void;
  write16: (value: number) => void;
  write32: (value: number) => void;
  device: unknown;
}

export interface V86Io {
  readonly ports: V86PortEntry[];
  register_read(port: number, device: object, r8?: () => number, r16?: () => number, r32?: () => number): void;
  register_write(port: number, device: object, w8?: (v: number) => void, w16?: (v: number) => void, w32?: (v: number) => void): void;
}

/** An indexable typed-array view (v86's views are Proxies that rebuild the array on access). */
export interface V86View {
  readonly [index: number]: number;
  readonly length: number;
}

export interface V86Cpu {
  io: V86Io | undefined;
  readonly mem8: Uint8Array;
  readonly memory_size: V86View;
  write_blob(bytes: Uint8Array, gpa: number): void;
  option_roms: { name: string; data: Uint8Array }[];
  get_state(): unknown[];
  set_state(state: unknown[]): void;
  reboot_internal(): void;
  get_eflags(): number;
  get_real_eip(): number;
  fpu_load_status_word(): number;
  fpu_load_tag_word(): number;
  readonly reg32: V86View;
  readonly sreg: V86View;
  readonly segment_offsets: V86View;
  readonly segment_limits: V86View;
  readonly segment_access_bytes: V86View;
  readonly segment_is_null: V86View;
  readonly is_32: V86View;
  readonly stack_size_32: V86View;
  readonly protected_mode: V86View;
  readonly cr: V86View;
  readonly dreg: V86View;
  readonly gdtr_offset: V86View;
  readonly gdtr_size: V86View;
  readonly idtr_offset: V86View;
  readonly idtr_size: V86View;
  readonly in_hlt: V86View;
  readonly fpu_st: V86View;
  readonly fpu_control_word: V86View;
  readonly fpu_opcode: V86View;
  readonly fpu_ip: V86View;
  readonly fpu_dp: V86View;
  readonly reg_xmm32s: V86View;
  readonly mxcsr: V86View;
}

/** The public V86 class, as far as the adapter uses it. */
export interface V86Emulator {
  readonly v86?: { readonly cpu?: V86Cpu } | undefined;
  add_listener?(event: string, listener: (...args: unknown[]) => void): void;
  stop?(): Promise<void>;
  run?(): Promise<void>;
  is_running?(): boolean;
}

const CPU_FUNCTIONS = [
  'write_blob', 'get_state', 'set_state', 'reboot_internal', 'get_eflags', 'get_real_eip', 'fpu_load_status_word', 'fpu_load_tag_word',
] as const;
const CPU_VIEWS = [
  'mem8', 'memory_size', 'reg32', 'sreg', 'segment_offsets', 'segment_limits', 'segment_access_bytes', 'segment_is_null', 'is_32',
  'stack_size_32', 'protected_mode', 'cr', 'dreg', 'gdtr_offset', 'gdtr_size', 'idtr_offset', 'idtr_size', 'in_hlt', 'fpu_st',
  'fpu_control_word', 'fpu_opcode', 'fpu_ip', 'fpu_dp', 'reg_xmm32s', 'mxcsr',
] as const;

/**
 * The CPU of a loaded v86 instance, after checking every internal the adapter touches.
 * @throws V86AdapterError 'v86-internals-missing' (not a v86 instance, or a build without these
 *   names), 'v86-not-loaded' (before v86's "emulator-loaded" event: no RAM or ports yet)
 */
export function findV86Internals(emulator: unknown): V86Cpu {
  if (typeof emulator !== 'object' || emulator === null) {
    throw missing(`expected a V86 instance, got ${emulator === null ? 'null' : typeof emulator}`);
  }
  const v86 = (emulator as { v86?: unknown }).v86;
  const cpu = typeof v86 === 'object' && v86 !== null ? (v86 as { cpu?: unknown }).cpu : undefined;
  if (typeof cpu !== 'object' || cpu === null) {
    throw missing('emulator.v86.cpu is missing: not a V86 instance, or one not loaded yet (attach after its "emulator-loaded" event)');
  }
  const record = cpu as Record<string, unknown>;
  const absent: string[] = [
    ...CPU_FUNCTIONS.filter((name) => typeof record[name] !== 'function'),
    ...CPU_VIEWS.filter((name) => name !== 'mem8' && !isView(record[name])),
  ];
  if (!Array.isArray(record['option_roms'])) absent.push('option_roms');
  if (absent.length > 0) throw missing(`emulator.v86.cpu lacks ${absent.join(', ')}`);
  const io = record['io'] as { ports?: unknown; register_read?: unknown; register_write?: unknown } | undefined;
  if (io === undefined) {
    throw new V86AdapterError('v86-not-loaded', 'v86 instance is not loaded yet: attach after its "emulator-loaded" event (or await attachToV86)');
  }
  if (!Array.isArray(io.ports) || io.ports.length !== 0x10000 || typeof io.register_read !== 'function' || typeof io.register_write !== 'function') {
    throw missing('emulator.v86.cpu.io lacks ports, register_read or register_write');
  }
  if (!isView(record['mem8']) || ((record['memory_size'] as V86View)[0] ?? 0) === 0) {
    throw new V86AdapterError('v86-not-loaded', 'v86 instance has no guest RAM yet: attach after its "emulator-loaded" event');
  }
  return cpu as V86Cpu;
}

function isView(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { length?: unknown }).length === 'number';
}

function missing(what: string): V86AdapterError {
  return new V86AdapterError('v86-internals-missing', `v86 internals not reachable (${what}); slice86 needs the npm v86 build (libv86.mjs), not a renamed or ADVANCED-compiled one`);
}
