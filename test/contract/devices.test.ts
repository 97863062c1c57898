/**
 * The save/restore/reset contract (architecture §2 Snapshottable, §3, §5), one suite applied to
 * every device and to the whole machine: reset is idempotent; saveState survives JSON and loads back
 * exactly; a fresh machine that loads it shows the guest the same bytes; a bad version or a
 * malformed field throws StateError with its code and changes nothing, not even a device whose own
 * part of a machine state was fine.
 */
import { describe, expect, it } from 'vitest';
import { StateError, type Machine, type Snapshottable, type VersionedState } from '../../src/index.js';
import { DmaDriver, FW_CFG_DMA_HIGH, PioDriver, findFile, readFileByName } from '../support/fwcfg-driver.js';
import { hex } from '../support/hex.js';
import { SCRATCH, makeMachine } from '../support/machine-fixture.js';

interface Subject {
  readonly machine: Machine;
  readonly device: Snapshottable<VersionedState>;
  /** Changes the device's state the way a guest does: through ports and guest RAM only. */
  exercise(machine: Machine): void;
  /** What of the machine's observable behaviour this device's state decides. */
  readonly facet: Facet;
}

type Factory = () => Subject;

/** Marks a corruption that deletes the field instead of replacing it. */
const REMOVE = Symbol('remove');

/** A dotted path into a saved state (`vmcoreinfo.record`) and what to put there. */
type Corruption = readonly [path: string, value: unknown];

const bswap32 = (value: number): number =>
  (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;

/** Linux's vmcoreinfo registration: host_format 0, guest_format 1 (ELF), size 0x1024, paddr 0x12345000. */
const VMCOREINFO_RECORD = hex`00 00 01 00 | 24 10 00 00 | 00 50 34 12 00 00 00 00`;
const CONSOLE_TEXT = new TextEncoder().encode('hello, contract');

// ---- guest behaviour ---------------------------------------------------------------------------

/** Leaves the fw_cfg cursor 5 bytes into etc/e820 and a high DMA address half latched. */
function exerciseFwCfg(machine: Machine): void {
  const pio = new PioDriver(machine);
  const e820 = findFile(pio, 'etc/e820');
  if (e820 === undefined) throw new Error('etc/e820 is missing from the directory');
  pio.select(e820.key);
  pio.read(5);
  machine.ports.write(FW_CFG_DMA_HIGH, 4, bswap32(0x1));
}

/** Registers a note the way Linux does: DMA SELECT|WRITE of the 16-byte record. */
function exerciseVmcoreinfo(machine: Machine): void {
  const file = findFile(new PioDriver(machine), 'etc/vmcoreinfo');
  if (file === undefined) throw new Error('etc/vmcoreinfo is missing from the directory');
  expect(new DmaDriver(machine, 'linux').writeDma(file.key, VMCOREINFO_RECORD)).toBe(0);
}

function exerciseDebugcon(port: number): (machine: Machine) => void {
  return (machine) => {
    for (const byte of CONSOLE_TEXT) machine.ports.write(port, 1, byte);
  };
}

function exerciseDebugExit(machine: Machine): void {
  machine.ports.write(0x501, 1, 0x10);
}

function exerciseEverything(machine: Machine): void {
  exerciseVmcoreinfo(machine);
  exerciseDebugcon(0xe9)(machine);
  exerciseDebugcon(0x402)(machine);
  exerciseDebugExit(machine);
  exerciseFwCfg(machine);
}

/**
 * Everything the guest can read back, by the device that owns it (the fw_cfg cursor continuing and
 * whether a low-half-only DMA trigger runs at its own address; the vmcoreinfo record; port
 * read-backs), plus the host-side values that have no guest view. Destructive: it moves the cursor
 * and uses DMA, so call it last.
 */
function observe(machine: Machine): Observation {
  const pio = new PioDriver(machine);
  const cursor = Array.from(pio.read(24));
  // A descriptor with no operation bit: control becomes 0 only if it ran where the low half says.
  machine.memory.write(SCRATCH.seabiosDescriptor, hex`00 00 00 20 | 00 00 00 00 | 00 00 00 00 00 00 00 00`);
  new DmaDriver(machine, 'seabios').trigger(SCRATCH.seabiosDescriptor);
  const lowHalfOnlyTriggerRuns = machine.memory.read(SCRATCH.seabiosDescriptor, 4).every((b) => b === 0);
  const vmcoreinfo = readFileByName(pio, 'etc/vmcoreinfo');
  return {
    fwcfg: { cursor, lowHalfOnlyTriggerRuns },
    vmcoreinfo: vmcoreinfo === undefined ? null : Array.from(vmcoreinfo),
    debugcon: machine.debugcons.map((d) => ({ port: d.port, readBack: machine.ports.read(d.port, 1), droppedBytes: d.droppedBytes })),
    debugExit: { readBack: machine.ports.read(0x501, 1), exitCode: machine.debugExit?.exitCode ?? null },
  };
}

interface Observation {
  readonly fwcfg: { readonly cursor: number[]; readonly lowHalfOnlyTriggerRuns: boolean };
  readonly vmcoreinfo: number[] | null;
  readonly debugcon: readonly { readonly port: number; readonly readBack: number; readonly droppedBytes: number }[];
  readonly debugExit: { readonly readBack: number; readonly exitCode: number | null };
}

/** The part of an observation a subject owns. */
type Facet = (observation: Observation) => unknown;

// ---- state helpers -----------------------------------------------------------------------------

const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function corrupt(state: VersionedState, [path, value]: Corruption): VersionedState {
  const copy = structuredClone(state) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let at = copy;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  const last = keys[keys.length - 1] ?? '';
  if (value === REMOVE) Reflect.deleteProperty(at, last);
  else at[last] = value;
  return copy as unknown as VersionedState;
}

function describeCorruption([path, value]: Corruption): string {
  return value === REMOVE ? `${path} missing` : `${path} = ${JSON.stringify(value)}`;
}

/** Every top-level field but `v`, replaced by a string no field accepts, and removed. */
function genericCorruptions(state: VersionedState): Corruption[] {
  return Object.keys(state)
    .filter((key) => key !== 'v')
    .flatMap((key): Corruption[] => [[key, 'zz'], [key, REMOVE]]);
}

// ---- the contract ------------------------------------------------------------------------------

function snapshottableContract(name: string, factory: Factory, malformed: readonly Corruption[] = []): void {
  const exercised = (): Subject => {
    const subject = factory();
    subject.exercise(subject.machine);
    return subject;
  };

  /** Loads `state` into a fresh subject: it must throw StateError(code) and leave everything as it was. */
  function expectRefused(state: unknown, code: 'bad-state-version' | 'bad-state'): void {
    const target = factory();
    const untouched = factory();
    const deviceBefore = target.device.saveState();
    const machineBefore = target.machine.saveState();
    let error: unknown;
    try {
      target.device.loadState(state as VersionedState);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateError);
    expect(error).toMatchObject({ code });
    expect(target.device.saveState()).toEqual(deviceBefore);
    expect(target.machine.saveState()).toEqual(machineBefore);
    expect(observe(target.machine)).toEqual(observe(untouched.machine));
  }

  describe(`${name}: save/restore/reset contract`, () => {
    it('the exercise changes the saved state (so the checks below can see a difference)', () => {
      expect(exercised().device.saveState()).not.toEqual(factory().device.saveState());
    });

    it('reset is idempotent: reset twice equals reset once, saved and as the guest sees it', () => {
      const once = exercised();
      once.device.reset();
      const twice = exercised();
      twice.device.reset();
      twice.device.reset();
      expect(twice.device.saveState()).toEqual(once.device.saveState());
      expect(observe(twice.machine)).toEqual(observe(once.machine));
    });

    it('loadState(saveState()) round-trips, directly and through JSON', () => {
      const subject = exercised();
      const twin = exercised();
      const saved = subject.device.saveState();
      expect(viaJson(saved)).toEqual(saved);
      subject.device.loadState(saved);
      expect(subject.device.saveState()).toEqual(saved);
      subject.device.loadState(viaJson(saved));
      expect(subject.device.saveState()).toEqual(saved);
      expect(observe(subject.machine)).toEqual(observe(twin.machine));
    });

    it('a fresh machine that loads the state shows the guest the same bytes', () => {
      const source = exercised();
      const target = factory();
      target.device.loadState(viaJson(source.device.saveState()));
      expect(target.device.saveState()).toEqual(source.device.saveState());
      expect(target.facet(observe(target.machine))).toEqual(source.facet(observe(source.machine)));
    });

    it('a state of another version throws bad-state-version and changes nothing', () => {
      const saved = exercised().device.saveState();
      for (const v of [0, 2, '1', null, REMOVE]) expectRefused(corrupt(saved, ['v', v]), 'bad-state-version');
    });

    it('a state that is not an object throws bad-state and changes nothing', () => {
      for (const state of [null, undefined, 'zz', 1]) expectRefused(state, 'bad-state');
    });

    const sample = exercised().device.saveState();
    for (const corruption of [...genericCorruptions(sample), ...malformed]) {
      it(`a malformed field (${describeCorruption(corruption)}) throws bad-state and changes nothing`, () => {
        expectRefused(corrupt(exercised().device.saveState(), corruption), 'bad-state');
      });
    }
  });
}

function machineSubject(
  device: (machine: Machine) => Snapshottable<VersionedState> | undefined,
  exercise: (machine: Machine) => void,
  facet: Facet,
): Factory {
  return () => {
    const machine = makeMachine({ debugcon: { maxBytes: 4 } });
    const d = device(machine);
    if (d === undefined) throw new Error('the default machine lacks this device');
    return { machine, device: d, exercise, facet };
  };
}

snapshottableContract('fw_cfg core', machineSubject((m) => m.fwcfg, exerciseFwCfg, (o) => o.fwcfg), [
  ['curKey', 0x10000],
  ['curKey', -1],
  ['curOffset', -1],
  ['curOffset', 1.5],
  ['curOffset', 2 ** 32],
  ['dmaAddressHigh', 2 ** 32],
  ['dmaAddressLow', -1],
  ['writableFiles', null],
  ['writableFiles.etc/vmcoreinfo', '00'.repeat(15)],
  ['writableFiles.etc/vmcoreinfo', '00'.repeat(17)],
  ['writableFiles.etc/vmcoreinfo', 'zz'.repeat(16)],
  ['writableFiles.etc/e820', '00'.repeat(40)],
  ['writableFiles.opt/not-in-this-machine', '00'],
]);

snapshottableContract('vmcoreinfo', machineSubject((m) => m.vmcoreinfo, exerciseVmcoreinfo, (o) => o.vmcoreinfo), [
  ['hasVmcoreinfo', 1],
  ['hasVmcoreinfo', null],
  ['record', '00'.repeat(15)],
  ['record', '00'.repeat(17)],
]);

for (const port of [0xe9, 0x402]) {
  snapshottableContract(`isa-debugcon at 0x${port.toString(16)}`, machineSubject((m) => m.debugcons.find((d) => d.port === port), exerciseDebugcon(port), (o) => o.debugcon.find((d) => d.port === port)), [
    ['droppedBytes', -1],
    ['droppedBytes', 0.5],
  ]);
}

snapshottableContract('isa-debug-exit', machineSubject((m) => m.debugExit, exerciseDebugExit, (o) => o.debugExit), [
  ['exitCode', 2],
  ['exitCode', 0],
  ['exitCode', -1],
  ['exitCode', 1.5],
]);

snapshottableContract('the whole Machine', machineSubject((m) => m, exerciseEverything, (o) => o), [
  // Each device's part bad in turn, with every part loaded before it fine: all must roll back.
  ['fwcfg.curOffset', -1],
  ['vmcoreinfo.record', 'zz'],
  ['debugExit.exitCode', 2],
  ['debugcon.402.droppedBytes', -1],
  ['debugcon.e9', REMOVE],
  ['debugcon', null],
  ['memorySize', 64 * 1024 * 1024],
  ['machine', 'q35'],
  ['cpus', 2],
]);

describe('the whole Machine: a bad vmcoreinfo part after a good fw_cfg part', () => {
  it('leaves fw_cfg exactly as it was (all-or-nothing load)', () => {
    const source = makeMachine({ debugcon: { maxBytes: 4 } });
    exerciseEverything(source);
    const target = makeMachine({ debugcon: { maxBytes: 4 } });
    const fwcfgBefore = target.fwcfg.saveState();
    const vmcoreinfoBefore = target.vmcoreinfo?.saveState();
    const state = corrupt(source.saveState(), ['vmcoreinfo.record', 'zz']);
    expect(() => { target.loadState(state as ReturnType<Machine['saveState']>); }).toThrow(StateError);
    expect(target.fwcfg.saveState()).toEqual(fwcfgBefore);
    expect(target.vmcoreinfo?.saveState()).toEqual(vmcoreinfoBefore);
    expect(observe(target)).toEqual(observe(makeMachine({ debugcon: { maxBytes: 4 } })));
  });
});
