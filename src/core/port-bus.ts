/**
 * The x86 I/O-port bus: a 64 K-entry dispatch table with QEMU 7.2's access rules.
 *
 * An access is cut where a device's ports end, split into pieces no wider than the device takes
 * and (unless it handles unaligned pieces) no wider than the offset's alignment, and each piece is
 * offered to the device's `accepts`. A rejected read piece reads 0 and a rejected write piece is
 * dropped (QEMU's unassigned_mem_read); ports nobody maps read as all-ones (QEMU's unassigned I/O).
 * The pieces of a read are assembled in address order, little-endian, as an x86 IN sees them.
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
  /** Widest piece the device takes (QEMU valid.max_access_size); wider accesses are split. Default 4. */
  readonly maxAccessSize?: IoSize;
  /** True if the device takes pieces at any alignment (QEMU impl.unaligned). Default false. */
  readonly unaligned?: boolean;
  /** QEMU's valid.accepts: whether this piece reaches the device at all. Default: every piece. */
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
  readonly maxAccessSize: IoSize;
  readonly unaligned: boolean;
  readonly accepts: ((offset: number, size: IoSize, isWrite: boolean) => boolean) | undefined;
}

const PORT_COUNT = 0x10000;
const PIECE_MASK = [0, 0xff, 0xffff, 0xffffff, 0xffffffff] as const;

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
    if (m !== undefined && port + size <= m.end && size <= m.maxAccessSize) {
      const offset = port - m.base;
      if (size === 1 || m.unaligned || (offset & (size - 1)) === 0) {
        if (m.accepts !== undefined && !m.accepts(offset, size, false)) {
          this.#reportWidth(m, port, size, false);
          return 0;
        }
        return m.device.ioRead(offset, size) >>> 0;
      }
    }
    return this.#readPieces(port, size);
  }

  /**
   * An OUT of `size` bytes at `port`; `value` is taken modulo 2^(8*size).
   * @throws PortBusError 'invalid-port' / 'invalid-size' for arguments no x86 OUT can have.
   */
  write(port: number, size: IoSize, value: number): void {
    checkAccess(port, size);
    const piece = (value & PIECE_MASK[size]) >>> 0;
    const m = this.#table[port];
    if (m !== undefined && port + size <= m.end && size <= m.maxAccessSize) {
      const offset = port - m.base;
      if (size === 1 || m.unaligned || (offset & (size - 1)) === 0) {
        if (m.accepts !== undefined && !m.accepts(offset, size, true)) {
          this.#reportWidth(m, port, size, true);
          return;
        }
        m.device.ioWrite(offset, size, piece);
        return;
      }
    }
    this.#writePieces(port, size, piece);
  }

  #readPieces(port: number, size: IoSize): number {
    let value = 0;
    let done = 0;
    while (done < size) {
      const addr = port + done;
      const m = addr < PORT_COUNT ? this.#table[addr] : undefined;
      if (m === undefined) {
        this.#diagnostics.report('port-unmapped-read', () => `IN at 0x${hex4(addr)}`);
        value += 0xff * 2 ** (8 * done);
        done += 1;
        continue;
      }
      const len = pieceLength(m, addr, size - done);
      const offset = addr - m.base;
      let piece = 0;
      if (m.accepts === undefined || m.accepts(offset, len, false)) {
        piece = (m.device.ioRead(offset, len) & PIECE_MASK[len]) >>> 0;
      } else {
        this.#reportWidth(m, addr, len, false);
      }
      value += piece * 2 ** (8 * done);
      done += len;
    }
    return value >>> 0;
  }

  #writePieces(port: number, size: IoSize, value: number): void {
    let done = 0;
    while (done < size) {
      const addr = port + done;
      const m = addr < PORT_COUNT ? this.#table[addr] : undefined;
      if (m === undefined) {
        this.#diagnostics.report('port-unmapped-write', () => `OUT at 0x${hex4(addr)}`);
        done += 1;
        continue;
      }
      const len = pieceLength(m, addr, size - done);
      const offset = addr - m.base;
      const piece = Math.floor(value / 2 ** (8 * done)) & PIECE_MASK[len];
      if (m.accepts === undefined || m.accepts(offset, len, true)) {
        m.device.ioWrite(offset, len, piece >>> 0);
      } else {
        this.#reportWidth(m, addr, len, true);
      }
      done += len;
    }
  }

  #reportWidth(m: Mapping, port: number, size: IoSize, isWrite: boolean): void {
    this.#diagnostics.report('port-width-rejected', () => `${isWrite ? 'OUT' : 'IN'} of ${size} at 0x${hex4(port)} (${m.name})`);
  }
}

/** The piece QEMU's memory_access_size would issue: clipped to the device, its width, its alignment. */
function pieceLength(m: Mapping, addr: number, remaining: number): IoSize {
  let max: number = m.maxAccessSize;
  const offset = addr - m.base;
  if (!m.unaligned) {
    const align = offset & -offset;
    if (align !== 0 && align < max) max = align;
  }
  const len = Math.min(remaining, m.end - addr, max);
  return len >= 4 ? 4 : len >= 2 ? 2 : 1;
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
