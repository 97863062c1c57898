/**
 * The I/O-port bus's access rules, as QEMU 7.2 applies them to port I/O (the address_space_lduw
 * family, then memory_region_access_valid): each IN or OUT goes whole to the device owning its
 * first port; `accepts`, natural alignment and the width limits decide; a rejected read is 0, a
 * rejected write is dropped, an unmapped port reads all-ones (0 when misaligned). Nothing is split
 * into pieces: the spec's "derived" splitting rows (§2.3) are contradicted by the QEMU 7.2 golden
 * captures cited below (test/fixtures/qemu-7.2/fwcfg/pc-32M.trace and unassigned-io.txt).
 * Small fake devices log every access they receive, so whether anything was split is visible.
 */
import { describe, expect, it } from 'vitest';
import { Diagnostics, PortBus, PortBusError, type GuestAnomaly, type IoSize, type PortDevice, type PortMappingOptions } from '../../../src/index.js';
import { hex } from '../../support/hex.js';

interface Piece {
  readonly op: 'in' | 'out';
  readonly offset: number;
  readonly size: IoSize;
  readonly value: number;
}

/** Answers reads from a byte table (address order, assembled little-endian) and logs every piece. */
class LoggingDevice implements PortDevice {
  readonly pieces: Piece[] = [];
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  ioRead(offset: number, size: IoSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value += (this.#bytes[offset + i] ?? 0) * 2 ** (8 * i);
    this.pieces.push({ op: 'in', offset, size, value });
    return value;
  }

  ioWrite(offset: number, size: IoSize, value: number): void {
    this.pieces.push({ op: 'out', offset, size, value });
  }
}

interface Bench {
  readonly bus: PortBus;
  readonly diagnostics: Diagnostics;
  readonly device: LoggingDevice;
  /** How much each anomaly kind grew while `action` ran. */
  delta(action: () => void): Partial<Record<GuestAnomaly, number>>;
}

function bench(base: number, bytes: Uint8Array, options: Omit<PortMappingOptions, 'name'> = {}): Bench {
  const diagnostics = new Diagnostics();
  const bus = new PortBus(diagnostics);
  const device = new LoggingDevice(bytes);
  bus.map(base, bytes.length, device, { name: 'fake', ...options });
  return {
    bus,
    diagnostics,
    device,
    delta(action) {
      const before = diagnostics.counts();
      action();
      const after = diagnostics.counts();
      const out: Partial<Record<GuestAnomaly, number>> = {};
      for (const [kind, n] of Object.entries(after) as [GuestAnomaly, number][]) {
        const grew = n - (before[kind] ?? 0);
        if (grew > 0) out[kind] = grew;
      }
      return out;
    },
  };
}

const piece = (op: Piece['op'], offset: number, size: IoSize, value: number): Piece => ({ op, offset, size, value });

/**
 * Expected values marked "trace" are rows of test/fixtures/qemu-7.2/fwcfg/pc-32M.trace, and those
 * marked unassigned-io.txt come from test/fixtures/qemu-7.2/unassigned-io.txt: what QEMU 7.2 itself
 * returned for the same access to the real device these fakes imitate.
 */
describe('a 2-port device that takes only 1-byte reads and 1- or 2-byte writes (the fw_cfg selector/data pair)', () => {
  const make = (): Bench => bench(0x510, hex`a0 a1`, { accepts: (_offset, size, isWrite) => size === 1 || (isWrite && size === 2) });

  it('a 4-byte IN is rejected whole and reads 0, not split over the unmapped ports after it (trace: in4 0510 00000000)', () => {
    const b = make();
    let value = -1;
    const grew = b.delta(() => { value = b.bus.read(0x510, 4); });
    expect(value).toBe(0);
    expect(b.device.pieces).toEqual([]);
    expect(grew).toEqual({ 'port-width-rejected': 1 });
  });

  it('a 2-byte IN at either port is rejected whole and reads 0 (trace: in2 0510 0000, in2 0511 0000 without a data read)', () => {
    const b = make();
    expect([b.bus.read(0x510, 2), b.bus.read(0x511, 2)]).toEqual([0, 0]);
    expect(b.device.pieces).toEqual([]);
  });

  it('1-byte INs reach the device at either port', () => {
    const b = make();
    expect([b.bus.read(0x510, 1), b.bus.read(0x511, 1)]).toEqual([0xa0, 0xa1]);
    expect(b.device.pieces).toEqual([piece('in', 0, 1, 0xa0), piece('in', 1, 1, 0xa1)]);
  });

  it('a 4-byte OUT is dropped whole: its low half is not delivered as a 2-byte write (trace: out4 0510 00000001 selects nothing)', () => {
    const b = make();
    const grew = b.delta(() => { b.bus.write(0x510, 4, 0x12345678); });
    expect(b.device.pieces).toEqual([]);
    expect(grew).toEqual({ 'port-width-rejected': 1 });
  });

  it('a misaligned 2-byte OUT at the second port is dropped; an aligned one and 1-byte OUTs arrive whole', () => {
    const b = make();
    b.bus.write(0x511, 2, 0xbbaa);
    b.bus.write(0x510, 2, 0x0019);
    b.bus.write(0x510, 1, 0x03);
    b.bus.write(0x511, 1, 0x04);
    expect(b.device.pieces).toEqual([piece('out', 0, 2, 0x0019), piece('out', 0, 1, 0x03), piece('out', 1, 1, 0x04)]);
  });

  it('the unmapped ports after it read all-ones at their own widths (trace: in1 0512 ff, in2 0512 ffff)', () => {
    const b = make();
    expect([b.bus.read(0x512, 1), b.bus.read(0x512, 2), b.bus.read(0x513, 1)]).toEqual([0xff, 0xffff, 0xff]);
  });
});

describe('an 8-port register read in address order that takes only aligned 4-byte writes (the fw_cfg DMA register)', () => {
  const make = (): Bench => bench(0x514, hex`51 45 4d 55 20 43 46 47`, {
    accepts: (offset, size, isWrite) => !isWrite || (size === 4 && (offset === 0 || offset === 4)),
  });

  it('naturally aligned INs of every width arrive whole (trace: in2 0514 4551, in2 0516 554d, in2 051a 4746, in4 0514 554d4551, in4 0518 47464320)', () => {
    const b = make();
    const bytes = Array.from({ length: 8 }, (_, i) => b.bus.read(0x514 + i, 1));
    expect(bytes).toEqual([0x51, 0x45, 0x4d, 0x55, 0x20, 0x43, 0x46, 0x47]);
    expect([b.bus.read(0x514, 2), b.bus.read(0x516, 2), b.bus.read(0x51a, 2)]).toEqual([0x4551, 0x554d, 0x4746]);
    expect([b.bus.read(0x514, 4), b.bus.read(0x518, 4)]).toEqual([0x554d4551, 0x47464320]);
    expect(b.device.pieces.slice(8).map((p) => [p.offset, p.size])).toEqual([[0, 2], [2, 2], [6, 2], [0, 4], [4, 4]]);
  });

  it('misaligned INs are rejected whole and read 0, even when they run off the end (trace: in2 0515, in4 0515, in4 0519, in4 051a all 0)', () => {
    const b = make();
    let values: number[] = [];
    const grew = b.delta(() => { values = [b.bus.read(0x515, 2), b.bus.read(0x515, 4), b.bus.read(0x519, 4), b.bus.read(0x51a, 4)]; });
    expect(values).toEqual([0, 0, 0, 0]);
    expect(b.device.pieces).toEqual([]);
    expect(grew).toEqual({ 'port-width-rejected': 4 });
  });

  it('the port after it is unmapped (trace: in1 051c ff)', () => {
    expect(make().bus.read(0x51c, 1)).toBe(0xff);
  });

  it('an aligned 4-byte OUT at offset 0 or 4 reaches the device', () => {
    const b = make();
    b.bus.write(0x514, 4, 0x01020304);
    b.bus.write(0x518, 4, 0x05060708);
    expect(b.device.pieces).toEqual([piece('out', 0, 4, 0x01020304), piece('out', 4, 4, 0x05060708)]);
  });

  it('narrow or misplaced OUTs are dropped whole and counted once each (trace: out1 0518, out2 0518, out4 0519, out4 0515, out2 0514, out1 051b trigger nothing)', () => {
    const b = make();
    const grew = b.delta(() => {
      b.bus.write(0x518, 1, 0x00);
      b.bus.write(0x518, 2, 0x0080);
      b.bus.write(0x519, 4, 0x00800000);
      b.bus.write(0x515, 4, 0x00800000);
      b.bus.write(0x514, 2, 0x0000);
      b.bus.write(0x51b, 1, 0x00);
    });
    expect(b.device.pieces).toEqual([]);
    expect(grew).toEqual({ 'port-width-rejected': 6 });
  });
});

describe('width and alignment options', () => {
  it('maxAccessSize 1 (isa-debugcon) rejects wider accesses whole instead of splitting them into bytes', () => {
    const b = bench(0x100, hex`11 22 33 44`, { maxAccessSize: 1 });
    expect([b.bus.read(0x100, 1), b.bus.read(0x101, 1)]).toEqual([0x11, 0x22]);
    expect([b.bus.read(0x100, 2), b.bus.read(0x100, 4)]).toEqual([0, 0]);
    b.bus.write(0x100, 4, 0xddccbbaa);
    b.bus.write(0x102, 2, 0xbbaa);
    b.bus.write(0x103, 1, 0x1ff);
    expect(b.device.pieces).toEqual([piece('in', 0, 1, 0x11), piece('in', 1, 1, 0x22), piece('out', 3, 1, 0xff)]);
  });

  it('minAccessSize 2 rejects 1-byte accesses', () => {
    const b = bench(0x100, hex`11 22`, { minAccessSize: 2 });
    expect([b.bus.read(0x100, 1), b.bus.read(0x100, 2)]).toEqual([0, 0x2211]);
    b.bus.write(0x101, 1, 0x99);
    expect(b.device.pieces).toEqual([piece('in', 0, 2, 0x2211)]);
  });

  it('an aligned access that runs past the device end still goes whole to the device at its first port', () => {
    const b = bench(0x500, hex`01 02`);
    expect(b.bus.read(0x500, 4)).toBe(0x0201);
    b.bus.write(0x500, 4, 0xaabbccdd);
    expect(b.device.pieces).toEqual([piece('in', 0, 4, 0x0201), piece('out', 0, 4, 0xaabbccdd)]);
  });

  it('an access that starts on an unmapped port never reaches the device it runs into (unassigned-io.txt: inl 0x50e = 0, inw 0x50f = 0)', () => {
    const b = bench(0x510, hex`a0 a1`);
    expect([b.bus.read(0x50f, 2), b.bus.read(0x50e, 4), b.bus.read(0x50f, 1)]).toEqual([0, 0, 0xff]);
    b.bus.write(0x50f, 2, 0x1234);
    b.bus.write(0x50e, 4, 0x12345678);
    expect(b.device.pieces).toEqual([]);
  });

  it('a device that takes unaligned accesses gets them whole', () => {
    const b = bench(0x300, hex`01 02 03 04 05 06 07 08`, { unaligned: true });
    expect(b.bus.read(0x301, 4)).toBe(0x05040302);
    b.bus.write(0x303, 2, 0x1234);
    expect(b.device.pieces).toEqual([piece('in', 1, 4, 0x05040302), piece('out', 3, 2, 0x1234)]);
  });

  it('OUT values are taken modulo 2^(8*size), and a device answer wider than the access is masked', () => {
    const b = bench(0x300, hex`11 22 33 44`);
    b.bus.write(0x300, 1, 0x1ff);
    b.bus.write(0x300, 2, 0x12345);
    b.bus.write(0x300, 4, -1);
    expect(b.device.pieces.map((p) => p.value)).toEqual([0xff, 0x2345, 0xffffffff]);
    const wide = new PortBus(new Diagnostics());
    wide.map(0x80, 1, { ioRead: () => 0x12345678, ioWrite: () => undefined }, { name: 'wide' });
    expect([wide.read(0x80, 1), wide.read(0x80, 2), wide.read(0x80, 4)]).toEqual([0x78, 0x5678, 0x12345678]);
  });
});

describe('unmapped ports', () => {
  it('read as all-ones when aligned and 0 when not, like any QEMU region, and are counted (unassigned-io.txt)', () => {
    const b = bench(0x300, hex`00`);
    let values: number[] = [];
    const grew = b.delta(() => {
      values = [
        b.bus.read(0x513, 1), b.bus.read(0x512, 2), b.bus.read(0x51c, 4), b.bus.read(0xfffc, 4),
        b.bus.read(0x513, 2), b.bus.read(0x512, 4), b.bus.read(0x51e, 4), b.bus.read(0x5ff, 2), b.bus.read(0x5fd, 4), b.bus.read(0xffff, 2),
      ];
    });
    expect(values).toEqual([0xff, 0xffff, 0xffffffff, 0xffffffff, 0, 0, 0, 0, 0, 0]);
    expect(grew['port-unmapped-read']).toBeGreaterThanOrEqual(values.length);
  });

  it('drop writes and count them', () => {
    const b = bench(0x300, hex`00`);
    const grew = b.delta(() => {
      b.bus.write(0x80, 1, 1);
      b.bus.write(0xfffe, 4, 1);
    });
    expect(grew['port-unmapped-write']).toBeGreaterThanOrEqual(2);
    expect(b.device.pieces).toEqual([]);
  });
});

describe('host misuse of the bus', () => {
  const expectBusError = (action: () => unknown, code: string): void => {
    let error: unknown;
    try {
      action();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PortBusError);
    expect(error).toMatchObject({ code });
  };

  it('rejects ports and sizes no x86 IN or OUT can have', () => {
    const b = bench(0x300, hex`00`);
    for (const port of [-1, 0x10000, 1.5, Number.NaN]) {
      expectBusError(() => b.bus.read(port, 1), 'invalid-port');
      expectBusError(() => { b.bus.write(port, 1, 0); }, 'invalid-port');
    }
    for (const size of [0, 3, 8]) {
      expectBusError(() => b.bus.read(0x300, size as IoSize), 'invalid-size');
      expectBusError(() => { b.bus.write(0x300, size as IoSize, 0); }, 'invalid-size');
    }
    expect(b.device.pieces).toEqual([]);
  });

  it('map is all or nothing: an overlapping or out-of-range mapping claims no port', () => {
    const b = bench(0x300, hex`00 00`);
    const other = new LoggingDevice(hex`77 77 77`);
    expectBusError(() => b.bus.map(0x2ff, 2, other, { name: 'overlaps-below' }), 'port-overlap');
    expectBusError(() => b.bus.map(0x301, 3, other, { name: 'overlaps-above' }), 'port-overlap');
    expectBusError(() => b.bus.map(0x500, 1, other, { name: 'fake' }), 'port-overlap');
    expectBusError(() => b.bus.map(0xfffe, 3, other, { name: 'past-the-end' }), 'invalid-port');
    expectBusError(() => b.bus.map(0x400, 0, other, { name: 'empty' }), 'invalid-port');
    expect([b.bus.read(0x2ff, 1), b.bus.read(0x302, 1), b.bus.read(0x500, 1), b.bus.read(0xfffe, 1)]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(b.bus.mappings()).toEqual([{ name: 'fake', base: 0x300, length: 2 }]);
    expect(other.pieces).toEqual([]);
  });

  it('unmap frees the ports by name; an unknown name is an error', () => {
    const b = bench(0x300, hex`42`);
    expectBusError(() => { b.bus.unmap('nobody'); }, 'unknown-mapping');
    b.bus.unmap('fake');
    expect(b.bus.read(0x300, 1)).toBe(0xff);
    b.bus.map(0x300, 1, new LoggingDevice(hex`43`), { name: 'again' });
    expect(b.bus.read(0x300, 1)).toBe(0x43);
  });
});
