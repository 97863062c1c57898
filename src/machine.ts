/**
 * The composition root: a QEMU 7.2-shaped `pc` or `q35` machine with its memory map, I/O-port
 * bus, fw_cfg (ports and DMA), vmcoreinfo, debug consoles and isa-debug-exit, plus reset and
 * save/restore of every device.
 *
 * fw_cfg is populated as QEMU's machine init populates it (common realize, then the x86 items);
 * ACPI and SMBIOS tables are not generated here (an embedder can add them as files). Creating a
 * machine performs the first system reset, as QEMU does before the guest runs.
 *
 * CPUs: `processors[0]` is the bootstrap processor that `run()` executes from the reset vector;
 * the others wait for a SIPI in their INIT state (no APIC is modelled, so they stay there) and
 * appear in dumps as QEMU shows them. A test harness can also leave the CPU idle and drive
 * `ports` and `memory` itself.
 */

import { Diagnostics } from './core/diagnostics.js';
import { ConfigError, InternalError, StateError } from './core/errors.js';
import { BackingStore, GuestMemory, type MemoryRegion } from './core/guest-memory.js';
import { layoutMemory, AMD_HT_SIZE, AMD_HT_START, PC_ROM_SIZE, type MachineType, type MemoryLayout } from './core/memory-map.js';
import { PortBus } from './core/port-bus.js';
import { parseSize } from './core/size.js';
import { expectState, type Snapshottable, type VersionedState } from './core/state.js';
import { asciiBytes, u16le, u32le, u64le } from './core/bytes.js';
import {
  E820_RAM,
  E820_RESERVED,
  FW_CFG_BOOT_MENU,
  FW_CFG_DMA_IO_BASE,
  FW_CFG_HPET,
  FW_CFG_IO_BASE,
  FW_CFG_IRQ0_OVERRIDE,
  FW_CFG_MAX_CPUS,
  FW_CFG_NB_CPUS,
  FW_CFG_NOGRAPHIC,
  FW_CFG_NUMA,
  FW_CFG_RAM_SIZE,
  FW_CFG_UUID,
} from './fwcfg/abi.js';
import { FwCfgCore, type FwCfgState } from './fwcfg/core.js';
import { FwCfgDmaPorts } from './fwcfg/dma-ports.js';
import { FwCfgIoPorts } from './fwcfg/io-ports.js';
import { buildE820, buildHpet, buildNuma, type E820Entry } from './fwcfg/items/x86.js';
import { Debugcon, type DebugconState } from './devices/debugcon.js';
import { Cpu } from './cpu/cpu.js';
import { loadCpuState, saveCpuState, type CpuState } from './cpu/cpu-state.js';
import { runCpu } from './cpu/run.js';
import { powerOnSnapshot, type CpuSnapshot } from './cpu/state.js';
import { DEBUG_EXIT_IOBASE, DEBUG_EXIT_IOSIZE, DebugExit, type DebugExitState } from './devices/debug-exit.js';
import { Ich9SmiFeatures, type SmiFeaturesState } from './devices/ich9-smi-features.js';
import { Vmcoreinfo, type VmcoreinfoState } from './devices/vmcoreinfo.js';

export interface MachineOptions {
  /** Default 'pc', QEMU's default x86 machine. */
  readonly machine?: MachineType;
  /** Bytes, or text like '512M' (no suffix: MiB, as QEMU's -m). Default 128M, QEMU's default. */
  readonly memorySize?: number | string;
  /** Boot CPUs, 1..255. Default 1. */
  readonly cpus?: number;
  /** A -bios image: a non-zero multiple of 64 KiB, mapped below 4 GiB with its tail below 1 MiB. */
  readonly firmware?: Uint8Array;
  /** Add the vmcoreinfo device (QEMU: -device vmcoreinfo). Default true. */
  readonly vmcoreinfo?: boolean;
  /** QEMU -uuid, textual form; default all zero. */
  readonly uuid?: string;
  /** -nographic: FW_CFG_NOGRAPHIC = 1. */
  readonly nographic?: boolean;
  /** -boot menu=on: FW_CFG_BOOT_MENU = 1. */
  readonly bootMenu?: boolean;
  /** -boot splash-time=N (0..65535): adds etc/boot-menu-wait. */
  readonly splashTime?: number;
  /** -boot reboot-timeout=N (-1 or 0..65535) for etc/boot-fail-wait; default -1. */
  readonly rebootTimeout?: number;
  /** OpenFirmware device paths for the bootorder file (regenerated at every reset). */
  readonly bootOrder?: readonly string[];
  /** fw_cfg properties: x-file-slots and dma_enabled. */
  readonly fwcfg?: { readonly fileSlots?: number; readonly dma?: boolean };
  /** Debug console ports (isa-debugcon); default [0xe9, 0x402]; false for none. */
  readonly debugcon?: false | { readonly ports?: readonly number[]; readonly maxBytes?: number };
  /** isa-debug-exit at 0x501; default true. */
  readonly debugExit?: boolean;
  /** The HPET the machine reports through FW_CFG_HPET; default true (QEMU's hpet=on). */
  readonly hpet?: boolean;
  /** Where guest anomalies are counted; a fresh one by default. */
  readonly diagnostics?: Diagnostics;
}

export interface MachineState extends VersionedState {
  readonly v: 1;
  readonly machine: MachineType;
  readonly memorySize: number;
  readonly cpus: number;
  readonly fwcfg: FwCfgState;
  readonly vmcoreinfo: VmcoreinfoState | null;
  readonly debugExit: DebugExitState | null;
  readonly debugcon: Readonly<Record<string, DebugconState>>;
  readonly smiFeatures: SmiFeaturesState | null;
  readonly processors: readonly CpuState[];
}

/** Why `run` returned. */
export type RunStopReason = 'halted' | 'debug-exit' | 'triple-fault' | 'instruction-limit' | 'stopped';

export interface RunOptions {
  /** Stop after this many instructions (a REP string instruction counts once per slice of iterations). */
  readonly maxInstructions?: number;
  /** Checked every `checkEvery` instructions; true stops the run. */
  readonly until?: (machine: Machine) => boolean;
  readonly checkEvery?: number;
  /** Aborting stops the run at the next check. */
  readonly signal?: AbortSignal;
  /** A triple fault resets the machine and goes on ('reset', QEMU's default) or ends the run ('stop', the default here). */
  readonly onTripleFault?: 'reset' | 'stop';
}

export interface RunResult {
  readonly reason: RunStopReason;
  /** Instructions executed by this call. */
  readonly instructions: number;
  /** isa-debug-exit status ((value << 1) | 1, as QEMU exits with) when reason is 'debug-exit'. */
  readonly exitCode?: number;
}

/**
 * etc/system-states of the PIIX4 / ICH9 ACPI PM device, one byte per S0..S5: bit 7 enabled, low
 * bits SLP_TYP. QEMU 7.2 defaults: S3 and S4 enabled (s4_val 2), S1/S2 off. Bytes as QEMU serves them.
 */
const SYSTEM_STATES = new Uint8Array([0x80, 0x00, 0x00, 0x81, 0x82, 0x80]);

/** HPET as QEMU's hpet.c reports it: 3 timers, ID 0x8086a201, at 0xfed00000. */
const HPET_BLOCK = { eventTimerBlockId: 0x8086a201, address: 0xfed00000n, minTick: 0, pageProtection: 0 } as const;

export class Machine implements Snapshottable<MachineState> {
  readonly type: MachineType;
  readonly cpus: number;
  readonly layout: MemoryLayout;
  readonly diagnostics: Diagnostics;
  readonly ports: PortBus;
  readonly memory: GuestMemory;
  readonly fwcfg: FwCfgCore;
  readonly vmcoreinfo: Vmcoreinfo | undefined;
  /** Debug consoles by port; `debugcon` is the first (0xe9 by default). */
  readonly debugcons: readonly Debugcon[];
  readonly debugExit: DebugExit | undefined;
  /** q35 only: the ICH9 SMI feature negotiation files. */
  readonly smiFeatures: Ich9SmiFeatures | undefined;
  /** The CPUs; index 0 is the bootstrap processor. */
  readonly processors: readonly Cpu[];
  readonly #bootOrder: Uint8Array;
  #running = false;
  #holds = 0;
  #released: (() => void) | undefined;

  /** @throws ConfigError for options QEMU would refuse; FwCfgError, VmcoreinfoError as QEMU's realize. */
  constructor(options: MachineOptions = {}) {
    // Checked at run time too: JavaScript callers and the CLI pass plain strings.
    const type: string = options.machine ?? 'pc';
    if (type !== 'pc' && type !== 'q35') throw new ConfigError('invalid-option', `machine type "${type}" is not pc or q35`);
    this.type = type;
    this.cpus = options.cpus ?? 1;
    if (!Number.isInteger(this.cpus) || this.cpus < 1 || this.cpus > 255) {
      throw new ConfigError('invalid-option', `cpus ${String(this.cpus)} must be an integer from 1 to 255`);
    }
    const ramSize = parseSize(options.memorySize ?? '128M', 'memory size');
    this.layout = layoutMemory(this.type, ramSize, options.firmware?.length);
    this.diagnostics = options.diagnostics ?? new Diagnostics();
    this.ports = new PortBus(this.diagnostics);
    this.memory = new GuestMemory(buildRegions(this.layout, options.firmware), this.diagnostics);

    this.fwcfg = new FwCfgCore(this.diagnostics, options.fwcfg);
    this.ports.map(FW_CFG_IO_BASE, FwCfgIoPorts.LENGTH, new FwCfgIoPorts(this.fwcfg), FwCfgIoPorts.MAPPING);
    if (this.fwcfg.dmaEnabled) {
      this.ports.map(FW_CFG_DMA_IO_BASE, FwCfgDmaPorts.LENGTH, new FwCfgDmaPorts(this.fwcfg, this.memory), FwCfgDmaPorts.MAPPING);
    }
    this.#bootOrder = bootOrderBytes(options.bootOrder);
    populateFwCfg(this.fwcfg, this.layout, this.cpus, options);
    this.fwcfg.addFile('etc/system-states', SYSTEM_STATES.slice());
    this.smiFeatures = this.type === 'q35' ? new Ich9SmiFeatures(this.fwcfg) : undefined;
    this.vmcoreinfo = options.vmcoreinfo === false ? undefined : new Vmcoreinfo(this.fwcfg);

    const debugconPorts = options.debugcon === false ? [] : (options.debugcon?.ports ?? [0xe9, 0x402]);
    const maxBytes = options.debugcon === false ? undefined : options.debugcon?.maxBytes;
    this.debugcons = debugconPorts.map((port) => {
      const device = new Debugcon(port, this.diagnostics, maxBytes);
      this.ports.map(port, 1, device, Debugcon.mapping(`isa-debugcon@0x${port.toString(16)}`));
      return device;
    });
    if (options.debugExit !== false) {
      this.debugExit = new DebugExit();
      this.ports.map(DEBUG_EXIT_IOBASE, DEBUG_EXIT_IOSIZE, this.debugExit, DebugExit.MAPPING);
    }
    const bus = { memory: this.memory, ports: this.ports, diagnostics: this.diagnostics };
    this.processors = Array.from({ length: this.cpus }, (_, i) => new Cpu(bus, i));
    this.reset();
  }

  /** The first debug console (port 0xe9 unless configured otherwise). */
  get debugcon(): Debugcon | undefined {
    return this.debugcons[0];
  }

  /** System reset: every device's reset, and the fw_cfg files QEMU regenerates at each reset. */
  reset(): void {
    this.fwcfg.reset();
    // QEMU's fw_cfg machine-reset handler: adds bootorder and bios-geometry at the first reset
    // (renumbering later files) and replaces them, same key, at every later one.
    this.fwcfg.setFile('bootorder', this.#bootOrder);
    this.fwcfg.setFile('bios-geometry', new Uint8Array(0));
    this.vmcoreinfo?.reset();
    this.smiFeatures?.reset();
    this.debugExit?.reset();
    for (const d of this.debugcons) d.reset();
    this.processors.forEach((cpu, i) => {
      cpu.load(powerOnSnapshot(i));
    });
  }

  /** The bootstrap processor, the one `run` executes. */
  get bsp(): Cpu {
    const cpu = this.processors[0];
    if (cpu === undefined) throw new InternalError('a machine always has a bootstrap processor');
    return cpu;
  }

  /** Every CPU's state, as dumps and embedders consume it. */
  cpuSnapshots(): CpuSnapshot[] {
    return this.processors.map((cpu) => cpu.snapshot());
  }

  /**
   * Runs the bootstrap CPU until it halts, the guest writes isa-debug-exit, a triple fault (see
   * `onTripleFault`), the instruction budget, `until`, the signal or `stop()`. Guest code never
   * throws here; a run while another run is active throws ConfigError 'busy'. While a dump holds
   * the machine, the run waits for it to finish (as QEMU stops the VM for a dump).
   */
  async run(options: RunOptions = {}): Promise<RunResult> {
    if (this.#running) throw new ConfigError('busy', 'the machine is already running');
    const max = options.maxInstructions ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(max) || max < 0) throw new ConfigError('invalid-option', `maxInstructions ${String(max)} is not a non-negative integer`);
    const checkEvery = options.checkEvery ?? (options.until === undefined ? 200_000 : 10_000);
    const cpu = this.bsp;
    const exitWrites = (): number => this.debugExit?.writes ?? 0;
    let writesAtStart = exitWrites();
    const stopRequested = (): boolean => exitWrites() !== writesAtStart;
    this.#running = true;
    cpu.stopFlag = false;
    let total = 0;
    let lastYield = Date.now();
    try {
      for (;;) {
        while (this.#holds > 0) await new Promise<void>((resolve) => (this.#released = resolve));
        if (options.signal?.aborted === true) return { reason: 'stopped', instructions: total };
        const budget = Math.min(checkEvery, max - total);
        if (budget <= 0) return { reason: 'instruction-limit', instructions: total };
        const r = runCpu(cpu, budget, stopRequested);
        total += r.executed;
        switch (r.stop) {
          case 'halted':
            return { reason: 'halted', instructions: total };
          case 'triple-fault':
            if (options.onTripleFault !== 'reset') return { reason: 'triple-fault', instructions: total };
            this.reset();
            writesAtStart = exitWrites();
            break;
          case 'stopped':
            if (exitWrites() !== writesAtStart) {
              const exitCode = this.debugExit?.exitCode;
              return exitCode === undefined ? { reason: 'debug-exit', instructions: total } : { reason: 'debug-exit', instructions: total, exitCode };
            }
            return { reason: 'stopped', instructions: total };
          default:
            break;
        }
        if (options.until?.(this) === true) return { reason: 'stopped', instructions: total };
        // Let timers, I/O and abort handlers run during long runs.
        if (Date.now() - lastYield > 50) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          lastYield = Date.now();
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Asks a running `run()` to return ('stopped') after the current instruction. */
  stop(): void {
    const cpu = this.processors[0];
    if (cpu !== undefined) cpu.stopFlag = true;
  }

  /** Keeps guest code from running until the returned release is called (dumps use it). */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      if (this.#holds === 0) {
        const wake = this.#released;
        this.#released = undefined;
        wake?.();
      }
    };
  }

  saveState(): MachineState {
    return {
      v: 1,
      machine: this.type,
      memorySize: this.layout.ramSize,
      cpus: this.cpus,
      fwcfg: this.fwcfg.saveState(),
      vmcoreinfo: this.vmcoreinfo?.saveState() ?? null,
      debugExit: this.debugExit?.saveState() ?? null,
      debugcon: Object.fromEntries(this.debugcons.map((d) => [d.port.toString(16), d.saveState()])),
      smiFeatures: this.smiFeatures?.saveState() ?? null,
      processors: this.processors.map((cpu) => saveCpuState(cpu)),
    };
  }

  /**
   * Loads device state saved from a machine of the same configuration. All or nothing: if any
   * device refuses its part, every device is put back as it was and the error is rethrown.
   * @throws StateError 'bad-state-version' | 'bad-state'
   */
  loadState(state: MachineState): void {
    expectState('machine', state, 1);
    if (state.machine !== this.type || state.memorySize !== this.layout.ramSize || state.cpus !== this.cpus) {
      throw new StateError('bad-state', `machine state is for ${state.machine} with ${String(state.memorySize)} bytes and ${String(state.cpus)} CPUs, not this ${this.type} with ${this.layout.ramSize} and ${this.cpus}`);
    }
    const consoles = state.debugcon as unknown;
    if (typeof consoles !== 'object' || consoles === null) throw new StateError('bad-state', 'machine state field "debugcon" is not an object');
    const present = (part: unknown, device: unknown): boolean => (part === null) === (device === undefined);
    if (!present(state.vmcoreinfo, this.vmcoreinfo) || !present(state.debugExit, this.debugExit) || !present(state.smiFeatures, this.smiFeatures)) {
      throw new StateError('bad-state', 'machine state has a different set of devices');
    }
    const before = this.saveState();
    try {
      this.#loadDevices(state);
    } catch (error) {
      this.#loadDevices(before);
      throw error;
    }
  }

  #loadDevices(state: MachineState): void {
    this.fwcfg.loadState(state.fwcfg);
    if (state.vmcoreinfo !== null) this.vmcoreinfo?.loadState(state.vmcoreinfo);
    if (state.debugExit !== null) this.debugExit?.loadState(state.debugExit);
    if (state.smiFeatures !== null) this.smiFeatures?.loadState(state.smiFeatures);
    if (!Array.isArray(state.processors) || state.processors.length !== this.processors.length) {
      throw new StateError('bad-state', 'machine state has a different number of CPUs');
    }
    this.processors.forEach((cpu, i) => {
      const saved = state.processors[i];
      if (saved === undefined) throw new StateError('bad-state', `machine state has no CPU ${i}`);
      loadCpuState(cpu, saved);
    });
    for (const d of this.debugcons) {
      const saved = state.debugcon[d.port.toString(16)];
      if (saved === undefined) throw new StateError('bad-state', `machine state has no debug console at 0x${d.port.toString(16)}`);
      d.loadState(saved);
    }
  }
}

/** Creates a machine; see MachineOptions. */
export function createMachine(options: MachineOptions = {}): Machine {
  return new Machine(options);
}

function buildRegions(layout: MemoryLayout, firmware: Uint8Array | undefined): MemoryRegion[] {
  let ram: BackingStore;
  try {
    ram = new BackingStore('pc.ram', layout.ramSize);
  } catch (cause) {
    throw new ConfigError('memory-size', `cannot allocate ${layout.ramSize} bytes of guest RAM`, { cause });
  }
  const optionRom = new BackingStore('pc.rom', PC_ROM_SIZE);
  const firmwareStore = new BackingStore('pc.bios', firmware?.length ?? 0);
  if (firmware !== undefined) firmwareStore.forEachPiece(0, firmware.length, (chunk, chunkOffset, done, piece) => {
    chunk.set(firmware.subarray(done, done + piece), chunkOffset);
  });
  const stores = { ram, 'option-rom': optionRom, firmware: firmwareStore } as const;
  return layout.regions.map((r) => ({ name: r.name, gpa: r.gpa, sizeBytes: r.sizeBytes, kind: r.kind, backing: stores[r.backing], backingOffset: r.backingOffset }));
}

/** The e820 table QEMU 7.2 builds for its default TCG CPU (qemu64: AMD vendor, 40 physical bits). */
export function e820Entries(layout: MemoryLayout): E820Entry[] {
  const entries: E820Entry[] = [{ address: AMD_HT_START, length: AMD_HT_SIZE, type: E820_RESERVED }];
  entries.push({ address: 0, length: layout.belowFourGiB, type: E820_RAM });
  if (layout.aboveFourGiB > 0) entries.push({ address: layout.aboveFourGiBStart, length: layout.aboveFourGiB, type: E820_RAM });
  return entries;
}

function populateFwCfg(fwcfg: FwCfgCore, layout: MemoryLayout, cpus: number, options: MachineOptions): void {
  // Common realize (hw/nvram/fw_cfg.c), after SIGNATURE and ID.
  fwcfg.addItem(FW_CFG_UUID, uuidBytes(options.uuid));
  fwcfg.addItem(FW_CFG_NOGRAPHIC, u16le(options.nographic === true ? 1 : 0));
  fwcfg.addItem(FW_CFG_BOOT_MENU, u16le(options.bootMenu === true ? 1 : 0));
  if (options.splashTime !== undefined) {
    checkU16Option('splashTime', options.splashTime);
    fwcfg.addFile('etc/boot-menu-wait', u16le(options.splashTime));
  }
  const rebootTimeout = options.rebootTimeout ?? -1;
  if (rebootTimeout !== -1) checkU16Option('rebootTimeout', rebootTimeout);
  fwcfg.addFile('etc/boot-fail-wait', u32le(rebootTimeout >>> 0));
  // fw_cfg_arch_create (hw/i386/fw_cfg.c), in its order.
  fwcfg.addItem(FW_CFG_NB_CPUS, u16le(cpus));
  fwcfg.addItem(FW_CFG_MAX_CPUS, u16le(cpus));
  fwcfg.addItem(FW_CFG_RAM_SIZE, u64le(BigInt(layout.ramSize)));
  fwcfg.addItem(FW_CFG_IRQ0_OVERRIDE, u32le(1));
  fwcfg.addFile('etc/e820', buildE820(e820Entries(layout)));
  fwcfg.addItem(FW_CFG_HPET, buildHpet(options.hpet === false ? undefined : [HPET_BLOCK]));
  fwcfg.addItem(FW_CFG_NUMA, buildNuma(cpus));
}

function uuidBytes(uuid: string | undefined): Uint8Array {
  const out = new Uint8Array(16);
  if (uuid === undefined) return out;
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex) || !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(uuid)) {
    throw new ConfigError('invalid-option', `uuid "${uuid}" is not of the form 4600cb32-38ec-4b2f-8acb-81c6ea54f2d8`);
  }
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bootOrderBytes(paths: readonly string[] | undefined): Uint8Array {
  return paths === undefined || paths.length === 0 ? new Uint8Array(0) : asciiBytes(`${paths.join('\n')}\0`);
}

function checkU16Option(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new ConfigError('invalid-option', `${name} ${String(value)} must be an integer from 0 to 65535`);
  }
}
