/**
 * Host misuse of the fw_cfg host API, the machine options and the bus/memory accessors (spec §9,
 * §11; architecture §3): each throws a typed error with its `code` before anything changes, so the
 * directory a guest reads by port and the host's file list are the same before and after. Also the
 * directory's shape and QEMU's sorted insertion, as a guest walking it sees them.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  FwCfgError,
  MemoryError,
  PortBusError,
  type FwCfgFileInfo,
  type IoSize,
  type Machine,
  type MachineOptions,
  type MachineType,
} from '../../../src/index.js';
import { DmaDriver, PioDriver, readDirectory, readFileByName } from '../../support/fwcfg-driver.js';
import { hex } from '../../support/hex.js';
import { makeMachine } from '../../support/machine-fixture.js';
import { thrown as thrownBy } from '../../support/thrown.js';

type ErrorClass = abstract new (...args: never[]) => Error;


function expectError(action: () => unknown, type: ErrorClass, code: string): void {
  const error = thrownBy(action);
  expect(error).toBeInstanceOf(type);
  expect(error).toMatchObject({ code });
}

/** Everything the guest and the host can see of the directory. */
interface DirectoryView {
  readonly guestBytes: Uint8Array;
  readonly files: FwCfgFileInfo[];
}

/** The whole directory item (4 + 64 * slots bytes, spec §9.1) as a port-I/O guest reads it. */
function directoryView(machine: Machine): DirectoryView {
  return { guestBytes: new PioDriver(machine).readItem(0x19, 4 + 64 * machine.fwcfg.fileSlots), files: machine.fwcfg.files() };
}

/** Host misuse: the typed error, and nothing a guest or the host can see has changed. */
function expectRejected(machine: Machine, action: () => unknown, type: ErrorClass, code: string): void {
  const before = directoryView(machine);
  const stateBefore = machine.saveState();
  expectError(action, type, code);
  expect(machine.saveState()).toEqual(stateBefore);
  expect(directoryView(machine)).toEqual(before);
}

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/** strcmp order, written out here rather than borrowed from the implementation. */
function strcmpOrder(names: readonly string[]): string[] {
  return [...names].sort((a, b) => {
    const x = ascii(a);
    const y = ascii(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = (x[i] ?? 0) - (y[i] ?? 0);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  });
}

describe('adding files', () => {
  it('a duplicate name is refused: duplicate-file', () => {
    const m = makeMachine();
    expectRejected(m, () => m.fwcfg.addFile('etc/e820', new Uint8Array(4)), FwCfgError, 'duplicate-file');
    expectRejected(m, () => m.fwcfg.addFile('etc/vmcoreinfo', new Uint8Array(16)), FwCfgError, 'duplicate-file');
  });

  it('a name of 56 bytes or more is refused (name-too-long); exactly 55 bytes fits, NUL included', () => {
    const m = makeMachine();
    const name55 = `opt/${'n'.repeat(51)}`;
    expectRejected(m, () => m.fwcfg.addFile(`${name55}x`, new Uint8Array(1)), FwCfgError, 'name-too-long');
    // Bytes, not characters: 28 two-byte characters are 56 bytes.
    expectRejected(m, () => m.fwcfg.addFile('é'.repeat(28), new Uint8Array(1)), FwCfgError, 'name-too-long');
    m.fwcfg.addFile(name55, hex`2a`);
    const entry = readDirectory(new PioDriver(m)).find((e) => e.name === name55);
    expect(entry?.size).toBe(1);
    expect(readFileByName(new PioDriver(m), name55)).toEqual(hex`2a`);
  });

  it('an empty name or one containing NUL is refused: invalid-name', () => {
    const m = makeMachine();
    expectRejected(m, () => m.fwcfg.addFile('', new Uint8Array(1)), FwCfgError, 'invalid-name');
    expectRejected(m, () => m.fwcfg.addFile('opt/a\0b', new Uint8Array(1)), FwCfgError, 'invalid-name');
  });

  it('with x-file-slots 0x10, the 17th file finds no free slot: no-free-slot', () => {
    const m = makeMachine({ fwcfg: { fileSlots: 0x10 } });
    for (let i = m.fwcfg.files().length; i < 0x10; i++) m.fwcfg.addFile(`opt/fill/${String(i).padStart(2, '0')}`, new Uint8Array([i]));
    const dir = new PioDriver(m).readItem(0x19, 4);
    expect(dir).toEqual(hex`00 00 00 10`);
    expectRejected(m, () => m.fwcfg.addFile('opt/one-too-many', new Uint8Array(1)), FwCfgError, 'no-free-slot');
  });
});

describe('numeric items and modify', () => {
  it('addItem on a key in use is refused: key-in-use', () => {
    const m = makeMachine();
    expectRejected(m, () => { m.fwcfg.addItem(0x02, new Uint8Array(16)); }, FwCfgError, 'key-in-use');
    expectRejected(m, () => { m.fwcfg.addItem(0x8002, new Uint8Array(4)); }, FwCfgError, 'key-in-use');
  });

  it('addItem on the directory key, a file key, or outside the numeric ranges is refused: invalid-key', () => {
    const m = makeMachine();
    for (const key of [0x19, 0x20, 0x3f, 0x8020, 0x4002, 0x10000, -1]) {
      expectRejected(m, () => { m.fwcfg.addItem(key, new Uint8Array(1)); }, FwCfgError, 'invalid-key');
    }
  });

  it('modifyFile of a name that does not exist is refused: unknown-file', () => {
    const m = makeMachine();
    expectRejected(m, () => m.fwcfg.modifyFile('opt/nothing-here', new Uint8Array(1)), FwCfgError, 'unknown-file');
  });
});

describe('machine options QEMU would refuse', () => {
  const cases: { readonly name: string; readonly options: MachineOptions; readonly type: ErrorClass; readonly code: string }[] = [
    { name: 'x-file-slots 0x0f', options: { fwcfg: { fileSlots: 0x0f } }, type: FwCfgError, code: 'invalid-slots' },
    { name: 'x-file-slots 0x3fe1', options: { fwcfg: { fileSlots: 0x3fe1 } }, type: FwCfgError, code: 'invalid-slots' },
    { name: 'a 1000-byte firmware', options: { firmware: new Uint8Array(1000) }, type: ConfigError, code: 'firmware-size' },
    { name: 'memorySize 1000', options: { memorySize: 1000 }, type: ConfigError, code: 'memory-size' },
    { name: 'a malformed uuid', options: { uuid: '4600cb32-38ec-4b2f-8acb-81c6ea54f2d' }, type: ConfigError, code: 'invalid-option' },
    { name: 'cpus 0', options: { cpus: 0 }, type: ConfigError, code: 'invalid-option' },
    { name: "machine 'isapc'", options: { machine: 'isapc' as MachineType }, type: ConfigError, code: 'invalid-option' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.type.name} ${c.code}`, () => {
      expectError(() => makeMachine(c.options), c.type, c.code);
    });
  }

  it('the slot limits themselves are accepted, and size the directory 4 + 64 * slots', () => {
    expect(makeMachine({ fwcfg: { fileSlots: 0x10 } }).fwcfg.readItem(0x19)?.length).toBe(1028);
    expect(makeMachine({ fwcfg: { fileSlots: 0x3fe0 } }).fwcfg.readItem(0x19)?.length).toBe(4 + 64 * 0x3fe0);
  });
});

describe('bus and memory misuse', () => {
  it('ports.read outside 0..0xffff is invalid-port; a size other than 1, 2, 4 is invalid-size', () => {
    const m = makeMachine();
    expectRejected(m, () => m.ports.read(0x10000, 1), PortBusError, 'invalid-port');
    expectRejected(m, () => m.ports.read(0x510, 3 as IoSize), PortBusError, 'invalid-size');
    expectRejected(m, () => { m.ports.write(0x510, 3 as IoSize, 0x19); }, PortBusError, 'invalid-size');
  });

  it('ports.map over 0x510 is port-overlap and claims none of its ports', () => {
    const m = makeMachine();
    const intruder = { ioRead: () => 0x42, ioWrite: () => undefined };
    expectRejected(m, () => m.ports.map(0x510, 1, intruder, { name: 'intruder' }), PortBusError, 'port-overlap');
    expectRejected(m, () => m.ports.map(0x50f, 2, intruder, { name: 'intruder' }), PortBusError, 'port-overlap');
    expect(m.ports.read(0x50f, 1)).toBe(0xff);
    m.ports.write(0x510, 2, 0x0000);
    expect(new PioDriver(m).read(4)).toEqual(hex`51 45 4d 55`);
  });

  it('memory.read or write outside guest memory is out-of-range, and writes nothing', () => {
    const m = makeMachine();
    const ramEnd = 32 * 1024 * 1024;
    expectRejected(m, () => m.memory.read(ramEnd - 2, 4), MemoryError, 'out-of-range');
    expectRejected(m, () => m.memory.read(0x1_0000_0000, 1), MemoryError, 'out-of-range');
    expectRejected(m, () => { m.memory.write(ramEnd - 2, hex`aa bb cc dd`); }, MemoryError, 'out-of-range');
    expect(m.memory.read(ramEnd - 2, 2)).toEqual(hex`00 00`);
  });
});

describe('the directory as a guest sees it', () => {
  it('is 4 + 64 * slots bytes: a big-endian count, one entry per file, zeros after the last', () => {
    const m = makeMachine();
    const { guestBytes, files } = directoryView(m);
    expect(m.fwcfg.readItem(0x19)?.length).toBe(2052);
    expect(guestBytes.subarray(0, 4)).toEqual(new Uint8Array([0, 0, 0, files.length]));
    expect(guestBytes.subarray(4 + 64 * files.length).every((b) => b === 0)).toBe(true);
    const walked = readDirectory(new PioDriver(m));
    expect(walked).toEqual(files.map((f) => ({ name: f.name, size: f.size, key: f.key })));
    expect(walked.map((e) => e.key)).toEqual(walked.map((_, i) => 0x20 + i));
  });

  it('holds the spec §9.2 entry for etc/e820 once the ACPI files QEMU adds sort in before it', () => {
    const m = makeMachine();
    m.fwcfg.addFile('etc/acpi/rsdp', new Uint8Array(20));
    m.fwcfg.addFile('etc/acpi/tables', new Uint8Array(0x20000));
    const names = readDirectory(new PioDriver(m)).map((e) => e.name);
    // The spec's example assumes QEMU's list: bios-geometry, bootorder, etc/acpi/*, etc/boot-fail-wait.
    expect(names.slice(0, names.indexOf('etc/e820'))).toEqual(['bios-geometry', 'bootorder', 'etc/acpi/rsdp', 'etc/acpi/tables', 'etc/boot-fail-wait']);
    const index = names.indexOf('etc/e820');
    const entry = new PioDriver(m).readItem(0x19, 4 + 64 * (index + 1)).subarray(4 + 64 * index);
    expect(entry).toEqual(hex`00 00 00 28 00 25 00 00 65 74 63 2F 65 38 32 30 ${'00 '.repeat(48)}`);
  });

  it('sorted insertion renumbers every later file, in strcmp order (bytewise, uppercase first, prefix first)', () => {
    const m = makeMachine();
    const pio = new PioDriver(m);
    const before = readDirectory(pio);
    const contents = new Map(before.map((e) => [e.name, pio.readItem(e.key, e.size)]));
    const added = ['opt/a', 'etc/aaa', 'Z', 'etc/e820x', 'etc/e820-'];
    for (const [i, name] of added.entries()) {
      const key = m.fwcfg.addFile(name, new Uint8Array([0xa0 + i]));
      contents.set(name, new Uint8Array([0xa0 + i]));
      const now = readDirectory(pio);
      expect(now.find((e) => e.name === name)?.key).toBe(key);
    }
    const after = readDirectory(pio);
    expect(after.map((e) => e.name)).toEqual(strcmpOrder([...before.map((e) => e.name), ...added]));
    expect(after.map((e) => e.key)).toEqual(after.map((_, i) => 0x20 + i));
    expect(after[0]?.name).toBe('Z');
    const names = after.map((e) => e.name);
    expect(names.indexOf('opt/a')).toBeGreaterThan(Math.max(...names.map((n, i) => (n.startsWith('etc/') ? i : -1))));
    expect(names.indexOf('etc/e820')).toBeLessThan(names.indexOf('etc/e820-'));
    expect(names.indexOf('etc/e820-')).toBeLessThan(names.indexOf('etc/e820x'));
    // Every file still reads back its own bytes under its new key.
    for (const entry of after) expect(pio.readItem(entry.key, entry.size)).toEqual(contents.get(entry.name));
  });

  it('a file added after creation is found by a guest walking the directory, by port and by DMA', () => {
    const m = makeMachine();
    const blob = Uint8Array.from({ length: 300 }, (_, i) => (i * 13) & 0xff);
    m.fwcfg.addFile('opt/slice86/late', blob);
    expect(readFileByName(new PioDriver(m), 'opt/slice86/late')).toEqual(blob);
    expect(readFileByName(new DmaDriver(m, 'seabios'), 'opt/slice86/late')).toEqual(blob);
    expect(readFileByName(new DmaDriver(m, 'linux'), 'opt/slice86/late')).toEqual(blob);
  });
});
