/**
 * Wires slice86's devices into a loaded v86 instance. v86 has no device registry, so the adapter
 * uses the hooks its own tests use: the port table (`cpu.io.register_read/register_write`, where
 * a later registration replaces an earlier one per port and width), and wrappers around the CPU's
 * `get_state`/`set_state` (an extra numbered slot in v86's save_state file) and
 * `reboot_internal` (v86's reset path: restart(), the 0xcf9 and 8042 resets).
 *
 * Every width of every port is registered, because v86 does not split wider accesses into bytes
 * and keeps an empty handler for a width left out. Each access goes whole to slice86's port bus,
 * which applies QEMU 7.2's rules (e.g. `inw 0x511` reads 0 and moves no cursor).
 */

import type { CpuSnapshot } from '../../cpu/state.js';
import { ConfigError, StateError } from '../../core/errors.js';
import type { Debugcon } from '../../devices/debugcon.js';
import type { DebugExit } from '../../devices/debug-exit.js';
import type { Vmcoreinfo } from '../../devices/vmcoreinfo.js';
import type { Diagnostics } from '../../core/diagnostics.js';
import type { PortBus } from '../../core/port-bus.js';
import type { FwCfgCore } from '../../fwcfg/core.js';
import { readV86Cpu } from './cpu-snapshot.js';
import { V86Devices, type V86DeviceOptions, type V86DevicesState } from './devices.js';
import { V86AdapterError } from './errors.js';
import { findV86Internals, type V86Cpu, type V86PortEntry } from './internals.js';
import { V86DmaMemory } from './memory.js';

export interface V86AttachOptions extends Omit<V86DeviceOptions, 'ramSize' | 'optionRoms'> {
  /** Index of the adapter's slot in v86's CPU state array; default 200 (v86 itself uses 0..~100). */
  readonly stateSlot?: number;
}

export interface V86Attachment {
  readonly fwcfg: FwCfgCore;
  readonly vmcoreinfo: Vmcoreinfo | undefined;
  /** The first debug console (0xe9 unless configured otherwise). */
  readonly debugcon: Debugcon | undefined;
  readonly debugcons: readonly Debugcon[];
  readonly debugExit: DebugExit | undefined;
  readonly diagnostics: Diagnostics;
  /** slice86's own port bus behind the v86 ports (tests can drive the devices directly). */
  readonly ports: PortBus;
  /** The v86 CPU's registers now, as a CpuSnapshot (stop the emulator first for a consistent one). */
  snapshotCpu(): CpuSnapshot;
  /** Resets the devices, as a v86 reboot does. */
  reset(): void;
  /** Puts v86's own handlers and methods back; the devices keep their state. */
  detach(): void;
}

/** One attachment per emulator: dumpV86 finds the vmcoreinfo registration here. */
const attachments = new WeakMap<object, V86Attachment>();

export function attachmentOf(emulator: object): V86Attachment | undefined {
  return attachments.get(emulator);
}

/**
 * Replaces v86's fw_cfg with slice86's and adds vmcoreinfo and the debug consoles. Call it after
 * v86's "emulator-loaded" event and before the guest runs (create the V86 with autostart: false,
 * or attach inside the event listener, which runs before the first instruction).
 * @throws V86AdapterError 'v86-internals-missing' | 'v86-not-loaded' | 'v86-already-attached' |
 *   'v86-port-in-use', before anything on the emulator changes; ConfigError 'invalid-option' for a
 *   bad `stateSlot`; FwCfgError for bad `files`.
 */
export function attachToV86(emulator: unknown, options: V86AttachOptions = {}): V86Attachment {
  const cpu = findV86Internals(emulator);
  const owner = emulator as object;
  if (attachments.has(owner)) throw new V86AdapterError('v86-already-attached', 'this v86 instance already has slice86 attached; detach() it first');
  const slot = options.stateSlot ?? 200;
  if (!Number.isInteger(slot) || slot < 100 || slot > 0xffff) {
    throw new ConfigError('invalid-option', `stateSlot ${String(slot)} must be an integer from 100 to 65535, clear of v86's own slots`);
  }
  const devices = new V86Devices(new V86DmaMemory(cpu), {
    ...options,
    ramSize: (cpu.memory_size[0] ?? 0) >>> 0,
    optionRoms: cpu.option_roms,
  });
  const ports = devices.ports.mappings().flatMap((m) => Array.from({ length: m.length }, (_, i) => m.base + i));
  checkPortsFree(cpu, ports);

  const restorePorts = registerPorts(cpu, ports, devices.ports);
  const restoreMethods = wrapCpuMethods(cpu, devices, slot);
  const attachment: V86Attachment = {
    fwcfg: devices.fwcfg,
    vmcoreinfo: devices.vmcoreinfo,
    debugcon: devices.debugcons[0],
    debugcons: devices.debugcons,
    debugExit: devices.debugExit,
    diagnostics: devices.diagnostics,
    ports: devices.ports,
    snapshotCpu: () => readV86Cpu(cpu),
    reset: () => { devices.reset(); },
    detach: () => {
      if (attachments.get(owner) !== attachment) return;
      restorePorts();
      restoreMethods();
      attachments.delete(owner);
    },
  };
  attachments.set(owner, attachment);
  return attachment;
}

/** A port may be free, or v86's own fw_cfg's (registered with the CPU as its device). */
function checkPortsFree(cpu: V86Cpu, ports: readonly number[]): void {
  const io = cpu.io;
  if (io === undefined) return;
  for (const port of ports) {
    const device = io.ports[port]?.device;
    if (device !== undefined && device !== cpu) {
      throw new V86AdapterError('v86-port-in-use', `port 0x${port.toString(16)} is already taken by a v86 device; choose other debugcon ports`);
    }
  }
}

function registerPorts(cpu: V86Cpu, ports: readonly number[], bus: PortBus): () => void {
  const io = cpu.io;
  if (io === undefined) return () => undefined;
  const saved = ports.map((port) => [port, { ...io.ports[port] }] as [number, V86PortEntry]);
  // The handlers' `this` in v86; ours close over what they need.
  const device = {};
  for (const port of ports) {
    io.register_read(port, device, () => bus.read(port, 1), () => bus.read(port, 2), () => bus.read(port, 4) | 0);
    io.register_write(port, device, (v) => { bus.write(port, 1, v); }, (v) => { bus.write(port, 2, v); }, (v) => { bus.write(port, 4, v); });
  }
  return () => {
    for (const [port, entry] of saved) Object.assign(io.ports[port] ?? {}, entry);
  };
}

/**
 * v86's save_state walks cpu.get_state(): objects with a get_state() method are saved as the
 * array it returns (a plain {} would not be), and set_state gets that array back.
 */
class V86StateSlot {
  readonly #read: () => string;

  constructor(read: () => string) {
    this.#read = read;
  }

  get_state(): string[] {
    return [this.#read()];
  }
}

function wrapCpuMethods(cpu: V86Cpu, devices: V86Devices, slot: number): () => void {
  const names = ['get_state', 'set_state', 'reboot_internal'] as const;
  const own = names.map((name) => [name, Object.getOwnPropertyDescriptor(cpu, name)] as const);
  const getState = cpu.get_state.bind(cpu);
  const setState = cpu.set_state.bind(cpu);
  const reboot = cpu.reboot_internal.bind(cpu);
  const stateSlot = new V86StateSlot(() => JSON.stringify(devices.saveState()));

  cpu.get_state = () => {
    const state = getState();
    state[slot] = stateSlot;
    return state;
  };
  cpu.set_state = (state) => {
    const before = devices.saveState();
    // Ours first: a bad part throws before v86 has changed anything.
    const part = parseSlot(state[slot]);
    if (part === undefined) devices.reset();
    else devices.loadState(part);
    try {
      setState(state);
    } catch (error) {
      devices.loadState(before);
      throw error;
    }
  };
  cpu.reboot_internal = () => {
    reboot();
    devices.reset();
  };
  return () => {
    for (const [name, descriptor] of own) {
      if (descriptor === undefined) Reflect.deleteProperty(cpu, name);
      else Object.defineProperty(cpu, name, descriptor);
    }
  };
}

/** The devices' part of a v86 state, or undefined for a state saved without slice86. */
function parseSlot(part: unknown): V86DevicesState | undefined {
  if (part === undefined || part === null) return undefined;
  const text: unknown = Array.isArray(part) ? part[0] : undefined;
  if (typeof text !== 'string') throw new StateError('bad-state', 'v86 state slot of slice86 is not [json]');
  try {
    return JSON.parse(text) as V86DevicesState;
  } catch (cause) {
    throw new StateError('bad-state', `v86 state slot of slice86 is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
