/**
 * The vmcoreinfo device as a guest sees it (spec §12, §14.2, §17 cases 41-45 and 51), and the
 * dump side's reading of the registered note (spec §13, §17 cases 46-50) through readGuestNote.
 * A guest registers a note the way Linux does: the note goes into guest RAM, then a 16-byte
 * SELECT|WRITE DMA to etc/vmcoreinfo. Every DMA result is the control word read back from RAM.
 */
import { describe, expect, it } from 'vitest';
import { Vmcoreinfo, VmcoreinfoError, readGuestNote, type GuestNoteOptions, type GuestNoteResult, type Machine, type VmcoreinfoRecord } from '../../src/index.js';
import { bswap32 } from '../../src/core/bytes.js';
import { DmaDriver, PioDriver, findFile } from '../support/fwcfg-driver.js';
import { hex } from '../support/hex.js';
import { makeMachine } from '../support/machine-fixture.js';
import { thrown } from '../support/thrown.js';

const NOTE_GPA = 0x90000;
const MiB = 0x100000;

/** libqos's qfw_cfg_read_file/write_file trigger: low half first, then a zero high half. */
class LibqosDmaDriver extends DmaDriver {
  override readonly name = 'dma-libqos';

  override trigger(gpa: number): void {
    this.machine.ports.write(0x518, 4, bswap32(gpa >>> 0));
    this.machine.ports.write(0x514, 4, bswap32(Math.floor(gpa / 2 ** 32)));
  }
}


function vmcoreinfoKey(machine: Machine): number {
  const entry = findFile(new PioDriver(machine), 'etc/vmcoreinfo');
  if (entry === undefined) throw new Error('etc/vmcoreinfo is not in the directory');
  return entry.key;
}

function record(machine: Machine): VmcoreinfoRecord {
  if (machine.vmcoreinfo === undefined) throw new Error('machine has no vmcoreinfo device');
  return machine.vmcoreinfo.record;
}

/** The 16-byte etc/vmcoreinfo contents a guest writes (all little-endian). */
function vmcoreinfoBytes(fields: { host?: number; guest: number; size: number; paddr: bigint }): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint16(0, fields.host ?? 0, true);
  view.setUint16(2, fields.guest, true);
  view.setUint32(4, fields.size, true);
  view.setBigUint64(8, fields.paddr, true);
  return out;
}

/** A 12-byte-header ELF note as Linux lays it out: name and desc each padded to 4 bytes. */
function elfNote(name: string, desc: string | Uint8Array, overrides: { namesz?: number; descsz?: number } = {}): Uint8Array {
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const descBytes = typeof desc === 'string' ? new TextEncoder().encode(desc) : desc;
  const pad = (n: number): number => Math.ceil(n / 4) * 4;
  const out = new Uint8Array(12 + pad(nameBytes.length) + pad(descBytes.length));
  const view = new DataView(out.buffer);
  view.setUint32(0, overrides.namesz ?? nameBytes.length, true);
  view.setUint32(4, overrides.descsz ?? descBytes.length, true);
  out.set(nameBytes, 12);
  out.set(descBytes, 12 + pad(nameBytes.length));
  return out;
}

/** The guest's side: note into RAM, then SELECT|WRITE of the 16-byte record; returns control. */
function registerNote(machine: Machine, note: Uint8Array | undefined, fields: { host?: number; guest?: number; size?: number; paddr?: bigint } = {}): number {
  const paddr = fields.paddr ?? BigInt(NOTE_GPA);
  if (note !== undefined) machine.memory.write(Number(paddr), note);
  const bytes = vmcoreinfoBytes({ guest: 1, size: note?.length ?? 0, paddr, ...fields });
  return new DmaDriver(machine, 'linux').writeDma(vmcoreinfoKey(machine), bytes);
}

function guestNote(machine: Machine, options: GuestNoteOptions = { machine: 'x86_64' }): GuestNoteResult {
  return readGuestNote(machine.memory, record(machine), options);
}

/** What the guest reads back from etc/vmcoreinfo by DMA (control word checked). */
function readVmcoreinfo(machine: Machine): Uint8Array {
  const { control, data } = new DmaDriver(machine, 'seabios').readDma(vmcoreinfoKey(machine), 16);
  expect(control).toBe(0);
  return data;
}

describe.each([
  { style: 'libqos', driver: (m: Machine): DmaDriver => new LibqosDmaDriver(m, 'linux') },
  { style: 'seabios', driver: (m: Machine): DmaDriver => new DmaDriver(m, 'seabios') },
  { style: 'linux', driver: (m: Machine): DmaDriver => new DmaDriver(m, 'linux') },
])('§14.2 vmcoreinfo-test basic-write, DMA triggered the $style way', ({ driver }) => {
  it('§14.2 vmcoreinfo/basic-write: host_format 1, a 16-byte write, the same bytes back', () => {
    const machine = makeMachine();
    const pio = new PioDriver(machine);
    const dma = driver(machine);
    // qfw_cfg_read_file/write_file: DMA bit in FW_CFG_ID, key from the port directory walk, select
    // by port, then a READ or WRITE descriptor without SELECT.
    expect(pio.readItem(0x01, 4)).toEqual(hex`03 00 00 00`);
    const key = vmcoreinfoKey(machine);

    pio.select(key);
    const initial = dma.readDma(undefined, 16);
    expect(initial.control).toBe(0);
    expect(initial.data).toEqual(hex`01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);

    pio.select(key);
    const written = hex`01 00 01 00 | 00 00 10 00 | 00 FF FF FF 00 00 00 00`; // {1, 1, 1 MiB, 0xFFFFFF00}
    expect(dma.writeDma(undefined, written)).toBe(0);

    pio.select(key);
    const back = dma.readDma(undefined, 16);
    expect(back.control).toBe(0);
    expect(back.data).toEqual(hex`01 00 01 00 00 00 10 00 00 FF FF FF 00 00 00 00`);
  });
});

describe('vmcoreinfo device (§12, §17)', () => {
  it('§17.41 a second vmcoreinfo device is refused: vmcoreinfo-duplicate', () => {
    const machine = makeMachine();
    const directory = new PioDriver(machine).readItem(0x19, 2052);
    const error = thrown(() => new Vmcoreinfo(machine.fwcfg));
    expect(error).toBeInstanceOf(VmcoreinfoError);
    expect(error).toMatchObject({ code: 'vmcoreinfo-duplicate', message: 'at most one vmcoreinfo device is permitted' });
    expect(new PioDriver(machine).readItem(0x19, 2052)).toEqual(directory);
  });

  it('§17.41 vmcoreinfo needs fw_cfg with DMA: vmcoreinfo-requires-dma', () => {
    const machine = makeMachine({ fwcfg: { dma: false }, vmcoreinfo: false });
    const error = thrown(() => new Vmcoreinfo(machine.fwcfg));
    expect(error).toBeInstanceOf(VmcoreinfoError);
    expect(error).toMatchObject({ code: 'vmcoreinfo-requires-dma', message: 'vmcoreinfo device requires fw_cfg with DMA' });
    expect(findFile(new PioDriver(machine), 'etc/vmcoreinfo')).toBeUndefined();
  });

  it('§17.42 after the machine\'s first reset the guest reads 01 00 and 14 zero bytes', () => {
    expect(readVmcoreinfo(makeMachine())).toEqual(hex`01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
  });

  it('§17.42 before its first reset the struct is all zero; reset sets host_format 1', () => {
    const machine = makeMachine({ vmcoreinfo: false });
    const device = new Vmcoreinfo(machine.fwcfg);
    expect(readVmcoreinfo(machine)).toEqual(hex`00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
    device.reset();
    expect(readVmcoreinfo(machine)).toEqual(hex`01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
  });

  it('§17.42 a system reset discards what the guest registered', () => {
    const machine = makeMachine();
    expect(registerNote(machine, undefined, { size: 0x1000 })).toBe(0);
    machine.reset();
    expect(readVmcoreinfo(machine)).toEqual(hex`01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
    expect(record(machine).hasVmcoreinfo).toBe(false);
  });

  it('§17.43 a full 16-byte write with guest_format != 0 registers the note', () => {
    const machine = makeMachine();
    expect(registerNote(machine, undefined, { host: 1, size: 0x1000, paddr: 0x90000n })).toBe(0);
    expect(readVmcoreinfo(machine)).toEqual(hex`01 00 01 00 00 10 00 00 00 00 09 00 00 00 00 00`);
    expect(record(machine)).toEqual({ hasVmcoreinfo: true, hostFormat: 1, guestFormat: 1, size: 0x1000, paddr: 0x90000n });
  });

  it('§17.43 a full write with guest_format 0 disables it', () => {
    const machine = makeMachine();
    registerNote(machine, undefined, { size: 0x1000 });
    expect(registerNote(machine, undefined, { guest: 0, size: 0x1000 })).toBe(0);
    expect(record(machine).hasVmcoreinfo).toBe(false);
  });

  it('§17.43 a partial write at offset 0 clears it, and its bytes stay visible', () => {
    const machine = makeMachine();
    registerNote(machine, undefined, { host: 1, size: 0x1000, paddr: 0x90000n });
    const dma = new DmaDriver(machine, 'seabios');
    expect(dma.writeDma(vmcoreinfoKey(machine), hex`a1 a2 a3 a4 a5 a6 a7 a8`)).toBe(0);
    expect(record(machine).hasVmcoreinfo).toBe(false);
    expect(readVmcoreinfo(machine)).toEqual(hex`a1 a2 a3 a4 a5 a6 a7 a8 00 00 09 00 00 00 00 00`);
  });

  it('§17.43 a write at offset 8 (SKIP 8, WRITE 8) clears it, and its bytes stay visible', () => {
    const machine = makeMachine();
    registerNote(machine, undefined, { host: 1, size: 0x1000, paddr: 0x90000n });
    const dma = new DmaDriver(machine, 'seabios');
    expect(dma.skip(8, vmcoreinfoKey(machine))).toBe(0);
    expect(dma.writeDma(undefined, hex`b1 b2 b3 b4 b5 b6 b7 b8`)).toBe(0);
    expect(record(machine).hasVmcoreinfo).toBe(false);
    expect(readVmcoreinfo(machine)).toEqual(hex`01 00 01 00 00 10 00 00 b1 b2 b3 b4 b5 b6 b7 b8`);
  });

  it('§17.44 a 17-byte write fails with ERROR and changes nothing', () => {
    const machine = makeMachine();
    registerNote(machine, undefined, { host: 1, size: 0x1000, paddr: 0x90000n });
    const dma = new DmaDriver(machine, 'seabios');
    const control = dma.writeDma(vmcoreinfoKey(machine), hex`c1 c2 c3 c4 c5 c6 c7 c8 c9 ca cb cc cd ce cf d0 d1`);
    expect(control).toBe(1);
    expect(readVmcoreinfo(machine)).toEqual(hex`01 00 01 00 00 10 00 00 00 00 09 00 00 00 00 00`);
    expect(record(machine).hasVmcoreinfo).toBe(true);
  });

  it('§17.45 size and paddr are stored without validation', () => {
    const machine = makeMachine();
    expect(registerNote(machine, undefined, { host: 1, size: 0xffffffff, paddr: 0xffffffffffffffffn })).toBe(0);
    expect(readVmcoreinfo(machine)).toEqual(hex`01 00 01 00 FF FF FF FF FF FF FF FF FF FF FF FF`);
    expect(record(machine)).toMatchObject({ hasVmcoreinfo: true, size: 0xffffffff, paddr: 0xffffffffffffffffn });
  });

  it('§12.2 host_format is not protected: Linux writes 0 there and it stays 0 until reset', () => {
    const machine = makeMachine();
    expect(registerNote(machine, undefined, { host: 0, size: 4132, paddr: 0x90000n })).toBe(0);
    expect(readVmcoreinfo(machine)).toEqual(hex`00 00 01 00 24 10 00 00 00 00 09 00 00 00 00 00`);
    expect(record(machine).hasVmcoreinfo).toBe(true);
  });

  it('§17.51 the registration survives a kexec (no reset): the next kernel reads it by port', () => {
    const machine = makeMachine();
    registerNote(machine, undefined, { host: 0, size: 4132, paddr: 0x90000n });
    // The kdump kernel probes fw_cfg again, all by port, and does not write etc/vmcoreinfo.
    const pio = new PioDriver(machine);
    expect(pio.readItem(0x00, 4)).toEqual(hex`51 45 4D 55`);
    expect(pio.readItem(vmcoreinfoKey(machine), 16)).toEqual(hex`00 00 01 00 24 10 00 00 00 00 09 00 00 00 00 00`);
    expect(record(machine).hasVmcoreinfo).toBe(true);
  });

  it('§17.51 the registration migrates: has_vmcoreinfo and the raw fields', () => {
    const source = makeMachine();
    registerNote(source, undefined, { host: 0, size: 4132, paddr: 0x90000n });
    const state = JSON.parse(JSON.stringify(source.saveState())) as ReturnType<Machine['saveState']>;
    const target = makeMachine();
    target.loadState(state);
    expect(readVmcoreinfo(target)).toEqual(hex`00 00 01 00 24 10 00 00 00 00 09 00 00 00 00 00`);
    expect(record(target)).toEqual({ hasVmcoreinfo: true, hostFormat: 0, guestFormat: 1, size: 4132, paddr: 0x90000n });
  });
});

describe('the guest note at dump time: readGuestNote (§13, §17)', () => {
  it('§13.1 nothing registered: "guest note is not present"', () => {
    expect(guestNote(makeMachine())).toEqual({ note: undefined, physBase: undefined, warnings: ['guest note is not present'] });
  });

  it.each([
    [11, 'guest note size is invalid: 11'],
    [0, 'guest note size is invalid: 0'],
    [MiB + 1, 'guest note size is invalid: 1048577'],
  ])('§17.46 registered size %i: "%s"', (size, warning) => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'A=1\n'), { size });
    expect(guestNote(machine)).toEqual({ note: undefined, physBase: undefined, warnings: [warning] });
  });

  it('§17.46 a registered size of exactly 1 MiB is accepted', () => {
    const machine = makeMachine();
    const note = elfNote('VMCOREINFO', 'A=1\n');
    registerNote(machine, note, { size: MiB, paddr: 0x200000n });
    const result = guestNote(machine);
    expect(result.warnings).toEqual([]);
    expect(result.note?.bytes).toEqual(hex`0B 00 00 00 04 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00 | 41 3D 31 0A`);
  });

  it.each([0, 2, 0xffff])('§17.47 guest_format %i: "guest note format is unsupported"', (guest) => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'A=1\n'), { guest });
    // guest_format 0 never registers, so it stops at "not present"; the others reach the format check.
    const warning = guest === 0 ? 'guest note is not present' : `guest note format is unsupported: ${guest}`;
    expect(guestNote(machine)).toEqual({ note: undefined, physBase: undefined, warnings: [warning] });
  });

  it('§13.1 the size check comes before the format check', () => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'A=1\n'), { guest: 2, size: 5 });
    expect(guestNote(machine).warnings).toEqual(['guest note size is invalid: 5']);
  });

  it.each([
    ['descsz past the registered size', { descsz: 100 }],
    ['namesz over 1 MiB', { namesz: MiB + 1 }],
    ['descsz over 1 MiB', { descsz: MiB + 1 }],
  ])('§17.48 %s: "Invalid guest note header", the note is dropped', (_what, overrides) => {
    const machine = makeMachine();
    const note = elfNote('VMCOREINFO', 'A=1\n', overrides);
    registerNote(machine, note, { size: note.length });
    expect(guestNote(machine)).toEqual({ note: undefined, physBase: undefined, warnings: ['Invalid guest note header'] });
  });

  it('§17.49 the note goes out at its computed, 4-byte padded size, not the registered one', () => {
    const machine = makeMachine();
    machine.memory.write(NOTE_GPA, hex`0B 00 00 00 05 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00 | 41 42 43 44 45 00 00 00 | EE EE EE EE`);
    registerNote(machine, undefined, { size: 0x1000 });
    const { note } = guestNote(machine);
    expect(note?.bytes).toEqual(hex`0B 00 00 00 05 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00 | 41 42 43 44 45 00 00 00`);
    expect(note).toMatchObject({ name: 'VMCOREINFO', nameSize: 11, descSize: 5, descOffset: 24, isVmcoreinfo: true });
  });

  it('§13.2 the byte after a VMCOREINFO desc is forced to 0 in the dump, not in guest RAM', () => {
    const machine = makeMachine();
    const inGuest = hex`0B 00 00 00 05 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00 | 41 42 43 44 45 58 59 5A`;
    machine.memory.write(NOTE_GPA, inGuest);
    registerNote(machine, undefined, { size: inGuest.length });
    expect(guestNote(machine).note?.bytes).toEqual(hex`0B 00 00 00 05 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00 | 41 42 43 44 45 00 59 5A`);
    expect(machine.memory.read(NOTE_GPA, inGuest.length)).toEqual(inGuest);
  });

  it('§13.2 a desc that ends at the registered size is terminated there, not by guest RAM', () => {
    const machine = makeMachine();
    const note = elfNote('VMCOREINFO', 'NUMBER(phys_base)=12');
    machine.memory.write(NOTE_GPA + note.length, hex`33 0A`); // "3\n" right after the note
    registerNote(machine, note, { size: note.length });
    const result = guestNote(machine);
    expect(result.warnings).toEqual([]);
    expect(result.physBase).toBe(12n);
    expect(result.note?.bytes).toEqual(note);
  });

  it('§17.50 a note not named exactly "VMCOREINFO" keeps its bytes and gives no phys_base', () => {
    const machine = makeMachine();
    const inGuest = hex`0C 00 00 00 05 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 58 00 | 41 42 43 44 45 58 59 5A`;
    machine.memory.write(NOTE_GPA, inGuest);
    registerNote(machine, undefined, { size: inGuest.length });
    const result = guestNote(machine);
    expect(result.note?.bytes).toEqual(inGuest);
    expect(result.note?.isVmcoreinfo).toBe(false);
    expect(result.physBase).toBeUndefined();
  });

  it('§17.50 a note named "VMCOREINFO" without phys_base gives no phys_base and no warning', () => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'PAGESIZE=4096\n'));
    expect(guestNote(machine)).toMatchObject({ physBase: undefined, warnings: [] });
  });

  it.each([
    ['x86_64, QEMU 7.2 (hex)', { machine: 'x86_64', compat: 'qemu-7.2' }, '16777216', 0x16777216n],
    ['x86_64, as Linux writes it (decimal)', { machine: 'x86_64' }, '16777216', 16777216n],
    ['x86_64, as Linux writes it (0x hex)', { machine: 'x86_64' }, '0x1000000', 0x1000000n],
    ['x86_64, QEMU 7.2 with a 0x prefix', { machine: 'x86_64', compat: 'qemu-7.2' }, '0x1000000', 0x1000000n],
    ['i386: never read', { machine: 'i386' }, '16777216', undefined],
  ] as const)('§17.50 NUMBER(phys_base) on %s', (_title, options, text, physBase) => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', `OSRELEASE=6.1.0\nNUMBER(phys_base)=${text}\nPAGESIZE=4096\n`));
    expect(guestNote(machine, options)).toMatchObject({ physBase, warnings: [] });
  });

  it('§17.50 only the first NUMBER(phys_base)= line counts', () => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'NUMBER(phys_base)=1\nNUMBER(phys_base)=2\n'));
    expect(guestNote(machine, { machine: 'x86_64', compat: 'qemu-7.2' }).physBase).toBe(1n);
  });

  it.each([undefined, 'qemu-7.2'] as const)('§13.2 an unparsable phys_base warns "Failed to read NUMBER(phys_base)=" (compat %s); the note stays', (compat) => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'NUMBER(phys_base)=zz\n'));
    const result = guestNote(machine, { machine: 'x86_64', compat });
    expect(result.warnings).toEqual(['Failed to read NUMBER(phys_base)=']);
    expect(result.physBase).toBeUndefined();
    expect(result.note?.isVmcoreinfo).toBe(true);
  });

  // QEMU splits the desc with g_strsplit, a C-string function: the text ends at its first NUL, so
  // a NUMBER(phys_base)= line after an embedded NUL is never seen.
  it.each([undefined, 'qemu-7.2'] as const)('§13.2 the desc text ends at its first NUL (compat %s)', (compat) => {
    const machine = makeMachine();
    registerNote(machine, elfNote('VMCOREINFO', 'OSRELEASE=6.1.0\0\nNUMBER(phys_base)=0x5\n'));
    expect(guestNote(machine, { machine: 'x86_64', compat })).toMatchObject({ physBase: undefined, warnings: [] });
  });

  it('§13.1 note bytes past the end of RAM read as zeros (QEMU does not check the read)', () => {
    const machine = makeMachine();
    const paddr = 0x2000000 - 24; // header and name in RAM, the 4-byte desc beyond 32 MiB
    machine.memory.write(paddr, hex`0B 00 00 00 04 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00`);
    registerNote(machine, undefined, { size: 28, paddr: BigInt(paddr) });
    const result = guestNote(machine);
    expect(result.warnings).toEqual([]);
    expect(result.note?.bytes).toEqual(hex`0B 00 00 00 04 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00 | 00 00 00 00`);
  });

  it('§13.6 a Linux-shaped note: size 4132, host_format 0, text then an empty terminating header', () => {
    const machine = makeMachine();
    // The note the golden probe registered under QEMU 7.2 (trace section 7), in a Linux-sized buffer.
    const note = hex`
      0B 00 00 00 42 00 00 00 00 00 00 00 | 56 4D 43 4F 52 45 49 4E 46 4F 00 00
      4F 53 52 45 4C 45 41 53 45 3D 36 2E 31 2E 30 2D 73 6C 69 63 65 38 36 0A   # OSRELEASE=6.1.0-slice86\n
      50 41 47 45 53 49 5A 45 3D 34 30 39 36 0A                                  # PAGESIZE=4096\n
      4E 55 4D 42 45 52 28 70 68 79 73 5F 62 61 73 65 29 3D 30 78 31 30 30 30 30 30 30 0A 00 00`;
    const buffer = new Uint8Array(4132);
    buffer.set(note);
    expect(registerNote(machine, buffer, { host: 0, size: 4132 })).toBe(0);
    expect(readVmcoreinfo(machine)).toEqual(hex`00 00 01 00 24 10 00 00 00 00 09 00 00 00 00 00`);

    const result = guestNote(machine);
    expect(result.warnings).toEqual([]);
    expect(result.note?.bytes).toEqual(note);
    expect(result.note).toMatchObject({ name: 'VMCOREINFO', nameSize: 11, descSize: 0x42, descOffset: 24, isVmcoreinfo: true });
    expect(result.physBase).toBe(0x1000000n);
  });
});
