/**
 * The adapter's ports as the guest reaches them: through v86's own port dispatch (the functions
 * its wasm calls for IN and OUT), at every width, with QEMU 7.2's answers (README, "What QEMU 7.2
 * showed"); fw_cfg DMA into v86's RAM; the multiboot guest without a BIOS; detach; and host
 * misuse, which throws a one-line typed error and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V86 } from 'v86';
import { attachToV86, dumpV86, snapshotV86Cpu, V86AdapterError, type V86Attachment } from '../../src/adapters/v86.js';
import { DumpError, MemorySink, StateError } from '../../src/index.js';
import { hex } from '../support/hex.js';
import { rejection, thrown } from '../support/thrown.js';
import { fileBuffer, haltOf, loadV86, MULTIBOOT_GUEST } from '../support/v86.js';

interface V86PortDispatch {
  port_read8(port: number): number;
  port_read16(port: number): number;
  port_read32(port: number): number;
  port_write8(port: number, value: number): void;
  port_write16(port: number, value: number): void;
  port_write32(port: number, value: number): void;
  ports: { device: unknown }[];
}

const cpuOf = (emulator: V86): { io: V86PortDispatch } & Record<string, unknown> =>
  (emulator as unknown as { v86: { cpu: { io: V86PortDispatch } & Record<string, unknown> } }).v86.cpu;

describe('ports through v86 dispatch, at every width', () => {
  let emulator: V86;
  let slice: V86Attachment;
  let io: V86PortDispatch;
  const bytes = (n: number): number[] => Array.from({ length: n }, () => io.port_read8(0x511));

  beforeAll(async () => {
    emulator = await loadV86();
    slice = attachToV86(emulator, { debugExit: true, files: { 'opt/org.example/hello': new TextEncoder().encode('hello') } });
    io = cpuOf(emulator).io;
  });
  afterAll(async () => { await emulator.destroy(); });

  it('selector 0x510 (16-bit write) and data 0x511 (8-bit read): signature, ID with the DMA bit', () => {
    io.port_write16(0x510, 0x0000);
    expect(bytes(4)).toEqual([0x51, 0x45, 0x4d, 0x55]);
    io.port_write16(0x510, 0x0001);
    expect(bytes(4)).toEqual([0x03, 0, 0, 0]);
    // Past the end: zeros.
    expect(io.port_read8(0x511)).toBe(0);
  });

  it("QEMU's width rules: 8-bit read at 0x510 is data; inw 0x511, inl 0x510 read 0 and move nothing; outb/outl 0x510 select nothing", () => {
    io.port_write16(0x510, 0x0000);
    expect(io.port_read8(0x510)).toBe(0x51);
    expect(io.port_read16(0x511)).toBe(0);
    expect(io.port_read32(0x510)).toBe(0);
    io.port_write8(0x510, 0x01);
    io.port_write32(0x510, 0x01);
    io.port_write8(0x511, 0x01);
    expect(io.port_read8(0x511)).toBe(0x45);
    expect(slice.diagnostics.count('port-width-rejected')).toBe(3);
    expect(slice.diagnostics.count('fwcfg-data-port-write')).toBe(2);
  });

  it('RAM size and CPU count in QEMU encodings; files from 0x20 in name order', () => {
    io.port_write16(0x510, 0x0003);
    expect(bytes(8)).toEqual([0, 0, 0, 2, 0, 0, 0, 0]);
    io.port_write16(0x510, 0x0005);
    expect(bytes(3)).toEqual([1, 0, 0]);
    io.port_write16(0x510, 0x0019);
    expect(bytes(4)).toEqual([0, 0, 0, 2]);
    expect(slice.fwcfg.files().map((f) => [f.name, f.key])).toEqual([['etc/vmcoreinfo', 0x20], ['opt/org.example/hello', 0x21]]);
  });

  it('the DMA register reads "QEMU CFG" at any width; unaligned reads give 0', () => {
    expect(io.port_read32(0x514) >>> 0).toBe(0x554d4551);
    expect(io.port_read32(0x518) >>> 0).toBe(0x47464320);
    expect(io.port_read8(0x517)).toBe(0x55);
    expect(io.port_read16(0x51a)).toBe(0x4746);
    expect(io.port_read16(0x515)).toBe(0);
    expect(io.port_read32(0x519)).toBe(0);
  });

  it('a DMA READ lands in v86 RAM; 8- and 16-bit writes to the DMA register start nothing', () => {
    const descriptor = hex`00 21 00 0a  00 00 00 05  00 00 00 00 00 00 90 00`; // select 0x21 | SELECT | READ, 5 bytes to 0x9000
    emulator.write_memory(descriptor, 0x8000);
    io.port_write8(0x518, 0x00);
    io.port_write16(0x518, 0x0080);
    expect(emulator.read_memory(0x8000, 4)).toEqual(descriptor.subarray(0, 4));
    io.port_write32(0x514, 0);
    io.port_write32(0x518, 0x00800000); // big-endian 0x8000, as SeaBIOS writes it
    expect(emulator.read_memory(0x8000, 4)).toEqual(hex`00 00 00 00`);
    expect(new TextDecoder().decode(emulator.read_memory(0x9000, 5))).toBe('hello');
  });

  it("a DMA into v86's VGA window or past RAM is refused: the control word reports ERROR", () => {
    for (const target of [hex`00 00 00 00 00 0a 00 00`, hex`00 00 00 00 7f 00 00 00`]) {
      emulator.write_memory(new Uint8Array([...hex`00 21 00 0a  00 00 00 05`, ...target]), 0x8000);
      io.port_write32(0x518, 0x00800000);
      expect(emulator.read_memory(0x8000, 4)).toEqual(hex`00 00 00 01`);
    }
  });

  it('debug consoles at 0xe9 and 0x402 (read back 0xe9, bytes only) and isa-debug-exit at 0x501', () => {
    io.port_write8(0xe9, 0x41);
    io.port_write16(0xe9, 0x4242);
    io.port_write8(0x402, 0x42);
    expect(slice.debugcon?.text()).toBe('A');
    expect(slice.debugcons[1]?.text()).toBe('B');
    expect([io.port_read8(0xe9), io.port_read8(0x402)]).toEqual([0xe9, 0xe9]);
    io.port_write8(0x501, 3);
    expect(slice.debugExit?.exitCode).toBe(7);
  });

  it("detach puts v86's own fw_cfg back (legacy only, no DMA register)", () => {
    slice.detach();
    io.port_write16(0x510, 0x0001);
    expect(bytes(4)).toEqual([0, 0, 0, 0]);
    expect(io.port_read32(0x514)).toBe(-1);
    expect(io.ports[0xe9]?.device).toBeUndefined();
    // And it can be attached again.
    slice = attachToV86(emulator);
    io.port_write16(0x510, 0x0001);
    expect(bytes(1)).toEqual([3]);
  });
});

describe("the devices' part of v86 state", () => {
  it('a malformed part throws StateError before v86 restores anything', async () => {
    const emulator = await loadV86();
    try {
      const slice = attachToV86(emulator);
      const cpu = cpuOf(emulator) as unknown as { set_state(state: unknown[]): void };
      const bad: unknown[] = [];
      bad[200] = ['{"v":1'];
      const error = thrown(() => { cpu.set_state(bad); });
      expect(error).toBeInstanceOf(StateError);
      expect((error as StateError).code).toBe('bad-state');
      bad[200] = [JSON.stringify({ v: 2 })];
      expect((thrown(() => { cpu.set_state(bad); }) as StateError).code).toBe('bad-state-version');
      expect([slice.fwcfg.curKey, slice.fwcfg.curOffset]).toEqual([0, 0]);
    } finally {
      await emulator.destroy();
    }
  });
});

describe('the multiboot guest without a BIOS', () => {
  it('registers its note and halts; dumpV86 stops and resumes a running emulator', async () => {
    const emulator = await loadV86({ multiboot: fileBuffer(MULTIBOOT_GUEST) });
    try {
      const slice = attachToV86(emulator);
      const halted = haltOf(emulator);
      await emulator.run();
      await halted;
      expect(slice.debugcon?.text()).toMatch(/^v86-multiboot-vmcoreinfo v1\nvmcoreinfo key 0020 note [0-9a-f]{8}\nready\n$/);
      expect(slice.vmcoreinfo?.record.hasVmcoreinfo).toBe(true);
      expect(emulator.is_running()).toBe(true);
      const refused = new MemorySink();
      const error = await rejection(dumpV86(emulator, { sink: refused, format: 'kdump-zlib', paging: true }));
      expect([(error as DumpError).code, refused.bytes().length, refused.aborted, emulator.is_running()]).toEqual(['invalid-argument', 0, false, true]);
      const sink = new MemorySink();
      await dumpV86(emulator, { sink, format: 'kdump-lzo' });
      expect(sink.closed).toBe(true);
      expect(emulator.is_running()).toBe(true);
      expect(snapshotV86Cpu(emulator).runState).toBe('halted');
    } finally {
      await emulator.destroy();
    }
  });
});

describe('host misuse: one-line typed errors, nothing changed or written', () => {
  let emulator: V86;
  beforeAll(async () => { emulator = await loadV86(); });
  afterAll(async () => { await emulator.destroy(); });

  const oneLine = (error: unknown, code: string): void => {
    expect(error).toBeInstanceOf(V86AdapterError);
    expect((error as V86AdapterError).code).toBe(code);
    expect((error as Error).message).not.toContain('\n');
  };

  it.each([
    ['an empty object', {}],
    ['null', null],
    ['a V86 not loaded yet', { v86: undefined, add_listener: () => undefined }],
  ])('attachToV86 of %s: v86-internals-missing', (_name, value) => {
    oneLine(thrown(() => attachToV86(value)), 'v86-internals-missing');
  });

  it('a build that lacks an internal (here the CPU register view reg32) is named, and nothing is registered', () => {
    const cpu = cpuOf(emulator);
    const stripped = { v86: { cpu: Object.create(cpu, { reg32: { value: undefined } }) as object } };
    const error = thrown(() => attachToV86(stripped));
    oneLine(error, 'v86-internals-missing');
    expect((error as Error).message).toContain('reg32');
    expect(cpu.io.ports[0x510]?.device).toBe(cpu);
    expect(cpu.io.ports[0x514]?.device).toBeUndefined();
  });

  it('a V86 whose CPU has no port table yet (between wasm load and init): v86-not-loaded', () => {
    const notLoaded = { v86: { cpu: Object.create(cpuOf(emulator), { io: { value: undefined } }) as object } };
    oneLine(thrown(() => attachToV86(notLoaded)), 'v86-not-loaded');
  });

  it('dumpV86 of a non-v86 value writes nothing to the sink', async () => {
    const sink = new MemorySink();
    oneLine(await rejection(dumpV86({ v86: {} }, { sink })), 'v86-internals-missing');
    expect([sink.bytes().length, sink.closed, sink.aborted]).toEqual([0, false, false]);
  });

  it('a port held by another v86 device: v86-port-in-use, before anything is registered', () => {
    const cpu = cpuOf(emulator);
    const other = {};
    (cpu.io as unknown as { register_write(port: number, device: object, w8: () => void): void }).register_write(0x402, other, () => undefined);
    oneLine(thrown(() => attachToV86(emulator)), 'v86-port-in-use');
    expect(cpu.io.ports[0x510]?.device).toBe(cpu);
    const slice = attachToV86(emulator, { debugcon: { ports: [0xe9] } });
    oneLine(thrown(() => attachToV86(emulator)), 'v86-already-attached');
    slice.detach();
  });
});
