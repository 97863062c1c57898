/**
 * The x86 I/O-port bus: a 64 K-entry dispatch table with QEMU 7.2's access rules.
 *
 * An IN or OUT goes whole to the device holding its first port, as QEMU's address_space_ld/st
 * dispatch it: nothing is split or clipped at the device's last port. QEMU's
 * memory_region_access_valid then decides: the device's `accepts`, natural alignment (unless the
 * device takes unaligned accesses) and its min/max width. A rejected read returns 0 and a rejected
 * write is dropped; ports nobody maps read as all-ones when aligned and 0 when not. Checked
 * against QEMU 7.2 with firmware/golden/fwcfg-probe and unassigned-io (e.g. inl 0x510 = 0,
 * inw 0x511 = 0 without a data read, inw 0x512 = 0xffff, inw 0x513 = 0).
 */

import type { Diagnostics } from './diagnostics.js';
import { PortBusError } from './errors.js';

export type IoSize = 1 | 2 | 4;

/** A device on the bus. Offsets are relative to where it is mapped; neither call may throw. */
export interface PortDevice {
  ioRead(offset: number, size: IoSize): number;
  ioWrite(offset: number, size: IoSize, value: number): void;
}

export interface PortMappingOptions {
  /** Shown in errors and diagnostics, and the handle for `unmap`. */
  readonly name: string;
  /** Narrowest access the device takes (QEMU valid.min_access_size). Default 1. */
  readonly minAccessSize?: IoSize;
  /** Widest access the device takes (QEMU valid.max_access_size). Default 4. */
  readonly maxAccessSize?: IoSize;
  /** True if the device takes unaligned accesses (QEMU valid.unaligned). Default false. */
  readonly unaligned?: boolean;
  /** QEMU's valid.accepts: whether this access reaches the device at all. Default: all. */
  readonly accepts?: (offset: number, size: IoSize, isWrite: boolean) => boolean;
}

export interface PortMapping {
  readonly name: string;
  readonly base: number;
  readonly length: number;
}

interface Mapping extends PortMapping {
  readonly end: number;
  readonly device: PortDevice;
  readonly minAccessSize: IoSize;
  readonly maxAccessSize: IoSize;
  readonly unaligned: boolean;
  readonly accepts: ((offset: number, size: IoSize, isWrite: boolean) => boolean) | undefined;
}

const PORT_COUNT = 0x10000;
const SIZE_MASK = [0, 0xff, 0xffff, 0xffffff, 0xffffffff] as const;

export class PortBus {
  readonly #table: (Mapping | undefined)[] = new Array<Mapping | undefined>(PORT_COUNT).fill(undefined);
  readonly #mappings = new Map<string, Mapping>();
  readonly #diagnostics: Diagnostics;

  constructor(diagnostics: Diagnostics) {
    this.#diagnostics = diagnostics;
  }

  /**
   * Maps `device` at ports base..base+length-1.
   * @throws PortBusError 'invalid-port' for a range outside 0..0xffff, 'port-overlap' if any port
   *   is taken or the name is in use.
   */
  map(base: number, length: number, device: PortDevice, options: PortMappingOptions): PortMapping {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > PORT_COUNT) {
      throw new PortBusError('invalid-port', `port range ${base}+${length} for "${options.name}" is outside 0x0000-0xffff`);
    }
    if (this.#mappings.has(options.name)) {
      throw new PortBusError('port-overlap', `a port mapping named "${options.name}" already exists`);
    }
    for (let port = base; port < base + length; port++) {
      const other = this.#table[port];
      if (other !== undefined) {
        throw new PortBusError('port-overlap', `port 0x${hex4(port)} for "${options.name}" is already mapped to "${other.name}"`);
      }
    }
    const mapping: Mapping = {
      name: options.name,
      base,
      length,
      end: base + length,
      device,
      minAccessSize: options.minAccessSize ?? 1,
      maxAccessSize: options.maxAccessSize ?? 4,
      unaligned: options.unaligned ?? false,
      accepts: options.accepts,
    };
    this.#table.fill(mapping, base, base + length);
    this.#mappings.set(options.name, mapping);
    return { name: mapping.name, base, length };
  }

  /** @throws PortBusError 'unknown-mapping' if nothing is mapped under that name. */
  unmap(name: string): void {
    const mapping = this.#mappings.get(name);
    if (mapping === undefined) throw new PortBusError('unknown-mapping', `no port mapping named "${name}"`);
    this.#table.fill(undefined, mapping.base, mapping.end);
    this.#mappings.delete(name);
  }

  mappings(): PortMapping[] {
    return [...this.#mappings.values()]
      .map(({ name, base, length }) => ({ name, base, length }))
      .sort((a, b) => a.base - b.base);
  }

  /**
   * An IN of `size` bytes at `port`, as the guest executes it.
   * @throws PortBusError 'invalid-port' / 'invalid-size' for arguments no x86 IN can have.
   */
  read(port: number, size: IoSize): number {
    checkAccess(port, size);
    const m = this.#table[port];
    if (m === undefined) {
      this.#diagnostics.report('port-unmapped-read', () => `IN of ${size} at 0x${hex4(port)}`);
      // QEMU's unassigned-I/O region reads all-ones, but rejects misaligned reads like any device.
      return (port & (size - 1)) === 0 ? SIZE_MASK[size] : 0;
    }
    const offset = port - m.base;
    if (!valid(m, offset, size, false)) {
      this.#reportWidth(m, port, size, false);
      return 0;
    }
    return (m.device.ioRead(offset, size) & SIZE_MASK[size]) >>> 0;
  }

  /**
   * An OUT of `size` bytes at `port`; `value` is taken modulo 2^(8*size).
   * @throws PortBusError 'invalid-port' / 'invalid-size' for arguments no x86 OUT can have.
   */
  write(port: number, size: IoSize, value: number): void {
    checkAccess(port, size);
    const m = this.#table[port];
    if (m === undefined) {
      this.#diagnostics.report('port-unmapped-write', () => `OUT of ${size} at 0x${hex4(port)}`);
      return;
    }
    const offset = port - m.base;
    if (!valid(m, offset, size, true)) {
      this.#reportWidth(m, port, size, true);
      return;
    }
    m.device.ioWrite(offset, size, (value & SIZE_MASK[size]) >>> 0);
  }

  #reportWidth(m: Mapping, port: number, size: IoSize, isWrite: boolean): void {
    this.#diagnostics.report('port-width-rejected', () => `${isWrite ? 'OUT' : 'IN'} of ${size} at 0x${hex4(port)} rejected by ${m.name}`);
  }
}

/** QEMU's memory_region_access_valid: accepts, then alignment, then the width range. */
function valid(m: Mapping, offset: number, size: IoSize, isWrite: boolean): boolean {
  if (m.accepts !== undefined && !m.accepts(offset, size, isWrite)) return false;
  if (!m.unaligned && (offset & (size - 1)) !== 0) return false;
  return size >= m.minAccessSize && size <= m.maxAccessSize;
}

function checkAccess(port: number, size: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new PortBusError('invalid-port', `port ${String(port)} is not in 0x0000-0xffff`);
  }
  if (size !== 1 && size !== 2 && size !== 4) {
    throw new PortBusError('invalid-size', `access size ${String(size)} is not 1, 2 or 4`);
  }
}

function hex4(port: number): string {
  return port.toString(16).padStart(4, '0');
}
