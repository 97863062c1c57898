/**
 * fw_cfg guest drivers, libqos-style: everything goes through I/O ports and guest RAM, exactly as
 * firmware does it. One interface, three implementations:
 *  - PioDriver: 16-bit selector OUTs and byte-wise data INs (QEMU's qtest helpers, Linux reads).
 *  - DmaDriver('seabios'): descriptor on the stack, only the low half OUT to 0x518, poll until
 *    (control & ~ERROR) == 0; offset reads as port select + DMA SKIP + DMA READ.
 *  - DmaDriver('linux'): kmalloc'd descriptor, high half then low half (iowrite32be).
 * DMA results are always the control word read back from guest memory, never a driver copy.
 */
import type { Machine } from '../../src/index.js';
import { bswap32, readU32be, writeU32be } from '../../src/core/bytes.js';
import {
  FW_CFG_DMA_CTL_ERROR,
  FW_CFG_DMA_CTL_READ,
  FW_CFG_DMA_CTL_SELECT,
  FW_CFG_DMA_CTL_SKIP,
  FW_CFG_DMA_CTL_WRITE,
  FW_CFG_FILE_DIR,
} from '../../src/fwcfg/abi.js';
import { SCRATCH } from './machine-fixture.js';

export const FW_CFG_CTL = 0x510;
export const FW_CFG_DATA = 0x511;
export const FW_CFG_DMA_HIGH = 0x514;
export const FW_CFG_DMA_LOW = 0x518;

export interface DirectoryEntry {
  readonly name: string;
  readonly size: number;
  readonly key: number;
}

export interface FwCfgDriver {
  readonly name: string;
  select(key: number): void;
  /** Reads `length` bytes from the current cursor. */
  read(length: number): Uint8Array;
  /** Selects `key` and reads `length` bytes. */
  readItem(key: number, length: number): Uint8Array;
}

export class PioDriver implements FwCfgDriver {
  readonly name = 'pio';
  readonly machine: Machine;

  constructor(machine: Machine) {
    this.machine = machine;
  }

  select(key: number): void {
    this.machine.ports.write(FW_CFG_CTL, 2, key);
  }

  read(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.machine.ports.read(FW_CFG_DATA, 1);
    return out;
  }

  readItem(key: number, length: number): Uint8Array {
    this.select(key);
    return this.read(length);
  }
}

export type DmaStyle = 'seabios' | 'linux';

export interface DmaResult {
  /** The control word as the device left it in guest RAM. */
  readonly control: number;
  readonly data: Uint8Array;
}

export class DmaDriver implements FwCfgDriver {
  readonly name: string;
  readonly machine: Machine;
  readonly style: DmaStyle;
  readonly descriptorGpa: number;
  bufferGpa: number = SCRATCH.buffer;

  constructor(machine: Machine, style: DmaStyle) {
    this.machine = machine;
    this.style = style;
    this.name = `dma-${style}`;
    this.descriptorGpa = style === 'seabios' ? SCRATCH.seabiosDescriptor : SCRATCH.linuxDescriptor;
  }

  /** Writes a descriptor {control, length, address} to guest RAM and triggers it in this style. */
  transfer(control: number, length: number, address: number): number {
    const descriptor = new Uint8Array(16);
    writeU32be(descriptor, 0, control);
    writeU32be(descriptor, 4, length);
    writeU32be(descriptor, 8, Math.floor(address / 2 ** 32));
    writeU32be(descriptor, 12, address >>> 0);
    this.machine.memory.write(this.descriptorGpa, descriptor);
    this.trigger(this.descriptorGpa);
    return this.pollControl();
  }

  /** The OUTs that start a transfer of the descriptor at `gpa`. */
  trigger(gpa: number): void {
    const high = Math.floor(gpa / 2 ** 32);
    if (this.style === 'linux') this.machine.ports.write(FW_CFG_DMA_HIGH, 4, bswap32(high));
    this.machine.ports.write(FW_CFG_DMA_LOW, 4, bswap32(gpa >>> 0));
  }

  /** Polls the control word in guest RAM as SeaBIOS and Linux do; transfers are synchronous. */
  pollControl(): number {
    for (let i = 0; i < 4; i++) {
      const control = readU32be(this.machine.memory.read(this.descriptorGpa, 4), 0);
      if ((control & ~FW_CFG_DMA_CTL_ERROR) === 0) return control;
    }
    throw new Error('fw_cfg DMA transfer did not complete synchronously');
  }

  select(key: number): void {
    this.transfer((key << 16) | FW_CFG_DMA_CTL_SELECT, 0, 0);
  }

  read(length: number): Uint8Array {
    return this.readDma(undefined, length).data;
  }

  readItem(key: number, length: number): Uint8Array {
    return this.readDma(key, length).data;
  }

  /** SELECT|READ (or READ alone when key is undefined) into the scratch buffer. */
  readDma(key: number | undefined, length: number): DmaResult {
    const control = key === undefined ? FW_CFG_DMA_CTL_READ : (key << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
    const result = this.transfer(control, length, this.bufferGpa);
    return { control: result, data: this.machine.memory.read(this.bufferGpa, length) };
  }

  /** SELECT|WRITE (or WRITE alone) of `data` from the scratch buffer. */
  writeDma(key: number | undefined, data: Uint8Array): number {
    this.machine.memory.write(this.bufferGpa, data);
    const control = key === undefined ? FW_CFG_DMA_CTL_WRITE : (key << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE;
    return this.transfer(control, data.length, this.bufferGpa);
  }

  skip(length: number, key?: number): number {
    const control = key === undefined ? FW_CFG_DMA_CTL_SKIP : (key << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP;
    return this.transfer(control, length, 0);
  }

  /** SeaBIOS's read at an offset: select by port, DMA SKIP, DMA READ. */
  readAt(key: number, offset: number, length: number): DmaResult {
    this.machine.ports.write(FW_CFG_CTL, 2, key);
    this.skip(offset);
    return this.readDma(undefined, length);
  }
}

/** QEMU's qfw_cfg_get_file walk over any driver: count, re-select, whole directory, match. */
export function readDirectory(driver: FwCfgDriver): DirectoryEntry[] {
  const count = readU32be(driver.readItem(FW_CFG_FILE_DIR, 4), 0);
  const dir = driver.readItem(FW_CFG_FILE_DIR, 4 + 64 * count);
  const out: DirectoryEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 4 + 64 * i;
    const nameBytes = dir.subarray(at + 8, at + 64);
    const end = nameBytes.indexOf(0);
    out.push({
      size: readU32be(dir, at),
      key: (dir[at + 4] ?? 0) * 256 + (dir[at + 5] ?? 0),
      name: new TextDecoder().decode(nameBytes.subarray(0, end === -1 ? 56 : end)),
    });
  }
  return out;
}

export function findFile(driver: FwCfgDriver, name: string): DirectoryEntry | undefined {
  return readDirectory(driver).find((e) => e.name === name);
}

/** Reads a whole file by name through the driver, or undefined if the directory lacks it. */
export function readFileByName(driver: FwCfgDriver, name: string): Uint8Array | undefined {
  const entry = findFile(driver, name);
  return entry === undefined ? undefined : driver.readItem(entry.key, entry.size);
}

export function allDrivers(machine: Machine): FwCfgDriver[] {
  return [new PioDriver(machine), new DmaDriver(machine, 'seabios'), new DmaDriver(machine, 'linux')];
}
