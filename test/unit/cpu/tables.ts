/**
 * Hand-built x86 page tables in a Uint8Array-backed physical memory, for the walker tests.
 */
import type { PageTableMemory, PagingControl } from '../../../src/cpu/paging.js';

export const P = 1;
export const RW = 2;
export const US = 4;
export const PWT = 8;
export const A = 0x20;
export const D = 0x40;
export const PS = 0x80;
export const G = 0x100;
/** XD, in the high dword. */
export const XD = 0x80000000;

export const CR0_PE = 1;
export const CR0_WP = 0x10000;
export const CR0_PG = 0x80000000;
export const CR4_PSE = 0x10;
export const CR4_PAE = 0x20;
export const CR4_PGE = 0x80;
export const CR4_LA57 = 0x1000;
export const EFER_LME = 0x100;
export const EFER_LMA = 0x400;
export const EFER_NXE = 0x800;

export const KIB4 = 0x1000;
export const MIB2 = 0x200000;
export const MIB4 = 0x400000;
export const GIB1 = 0x40000000;

/** Physical memory over a byte array; reads past the end give 0 (QEMU's unassigned reads), writes are logged. */
export class Ram implements PageTableMemory {
  readonly bytes: Uint8Array;
  readonly #dv: DataView;
  readonly writes: { gpa: number; value: number }[] = [];

  constructor(size = 0x400000) {
    this.bytes = new Uint8Array(size);
    this.#dv = new DataView(this.bytes.buffer);
  }

  readU32(gpa: number): number {
    return gpa >= 0 && gpa + 4 <= this.bytes.length ? this.#dv.getUint32(gpa, true) : 0;
  }

  writeU32(gpa: number, value: number): void {
    this.writes.push({ gpa, value });
    if (gpa >= 0 && gpa + 4 <= this.bytes.length) this.#dv.setUint32(gpa, value >>> 0, true);
  }

  set32(gpa: number, value: number): void {
    this.#dv.setUint32(gpa, value >>> 0, true);
  }

  set64(gpa: number, lo: number, hi = 0): void {
    this.#dv.setUint32(gpa, lo >>> 0, true);
    this.#dv.setUint32(gpa + 4, hi >>> 0, true);
  }

  /** A copy without the write log. */
  clone(): Ram {
    const copy = new Ram(this.bytes.length);
    copy.bytes.set(this.bytes);
    return copy;
  }
}

/** Tables allocated upward from `next`, one 4 KiB page each. */
class Allocator {
  next: number;
  constructor(start: number) {
    this.next = start;
  }
  page(): number {
    const at = this.next;
    this.next += 0x1000;
    return at;
  }
}

export interface MapOptions {
  /** Leaf low dword flags (default P|RW|US). */
  readonly leaf?: number;
  /** Leaf high dword bits other than the address (e.g. XD). */
  readonly leafHigh?: number;
  /** Flags of newly created non-leaf entries (default P|RW|US). */
  readonly upper?: number;
  readonly upperHigh?: number;
}

/** 4-level or 5-level tables rooted at `root`; returns the gpa of each entry used, top level first. */
export class LongTables {
  readonly ram: Ram;
  readonly root: number;
  readonly levels: 4 | 5;
  readonly #alloc: Allocator;

  constructor(ram: Ram, root: number, levels: 4 | 5, allocFrom: number) {
    this.ram = ram;
    this.root = root;
    this.levels = levels;
    this.#alloc = new Allocator(allocFrom);
  }

  map(va: bigint, pa: number, size: number, options: MapOptions = {}): number[] {
    const leafLevel = size === GIB1 ? 3 : size === MIB2 ? 2 : 1;
    let table = this.root;
    const used: number[] = [];
    for (let level: number = this.levels; ; level--) {
      const index = Number((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
      const at = table + index * 8;
      used.push(at);
      if (level === leafLevel) {
        const flags = (options.leaf ?? P | RW | US) | (leafLevel > 1 ? PS : 0);
        this.ram.set64(at, ((pa % 2 ** 32) | flags) >>> 0, (Math.floor(pa / 2 ** 32) | (options.leafHigh ?? 0)) >>> 0);
        return used;
      }
      const lo = this.ram.readU32(at);
      if ((lo & P) !== 0) {
        table = (lo & 0xfffff000) >>> 0;
      } else {
        table = this.#alloc.page();
        this.ram.set64(at, (table | (options.upper ?? P | RW | US)) >>> 0, options.upperHigh ?? 0);
      }
    }
  }
}

/** Legacy PAE tables: PDPT at `pdpt` (32 bytes), PDs and PTs allocated. */
export class PaeTables {
  readonly ram: Ram;
  readonly pdpt: number;
  readonly #alloc: Allocator;

  constructor(ram: Ram, pdpt: number, allocFrom: number) {
    this.ram = ram;
    this.pdpt = pdpt;
    this.#alloc = new Allocator(allocFrom);
  }

  map(va: number, pa: number, size: number, options: MapOptions = {}): number[] {
    const pdpteAt = this.pdpt + ((va >>> 30) & 3) * 8;
    let pd = (this.ram.readU32(pdpteAt) & 0xfffff000) >>> 0;
    if ((this.ram.readU32(pdpteAt) & P) === 0) {
      pd = this.#alloc.page();
      this.ram.set64(pdpteAt, pd | P, 0);
    }
    const pdeAt = pd + ((va >>> 21) & 0x1ff) * 8;
    const leafHi = (Math.floor(pa / 2 ** 32) | (options.leafHigh ?? 0)) >>> 0;
    if (size === MIB2) {
      this.ram.set64(pdeAt, ((pa % 2 ** 32) | (options.leaf ?? P | RW | US) | PS) >>> 0, leafHi);
      return [pdpteAt, pdeAt];
    }
    let pt = (this.ram.readU32(pdeAt) & 0xfffff000) >>> 0;
    if ((this.ram.readU32(pdeAt) & P) === 0) {
      pt = this.#alloc.page();
      this.ram.set64(pdeAt, (pt | (options.upper ?? P | RW | US)) >>> 0, options.upperHigh ?? 0);
    }
    const pteAt = pt + ((va >>> 12) & 0x1ff) * 8;
    this.ram.set64(pteAt, ((pa % 2 ** 32) | (options.leaf ?? P | RW | US)) >>> 0, leafHi);
    return [pdpteAt, pdeAt, pteAt];
  }
}

/** 32-bit tables: PD at `pd`, PTs allocated; 4 MiB pages take PSE-36 bits from pa bits 32-39. */
export class Tables32 {
  readonly ram: Ram;
  readonly pd: number;
  readonly #alloc: Allocator;

  constructor(ram: Ram, pd: number, allocFrom: number) {
    this.ram = ram;
    this.pd = pd;
    this.#alloc = new Allocator(allocFrom);
  }

  map(va: number, pa: number, size: number, options: MapOptions = {}): number[] {
    const pdeAt = this.pd + (va >>> 22) * 4;
    if (size === MIB4) {
      const high = Math.floor(pa / 2 ** 32) & 0xff;
      this.ram.set32(pdeAt, ((pa % 2 ** 32) | (high << 13) | (options.leaf ?? P | RW | US) | PS) >>> 0);
      return [pdeAt];
    }
    let pt = (this.ram.readU32(pdeAt) & 0xfffff000) >>> 0;
    if ((this.ram.readU32(pdeAt) & P) === 0) {
      pt = this.#alloc.page();
      this.ram.set32(pdeAt, (pt | (options.upper ?? P | RW | US)) >>> 0);
    }
    const pteAt = pt + ((va >>> 12) & 0x3ff) * 4;
    this.ram.set32(pteAt, (pa | (options.leaf ?? P | RW | US)) >>> 0);
    return [pdeAt, pteAt];
  }
}

export function control32(cr3: number, extra: { pse?: boolean; wp?: boolean; a20?: boolean; pge?: boolean; nxe?: boolean } = {}): PagingControl {
  return {
    cr0: (CR0_PG | CR0_PE | (extra.wp === true ? CR0_WP : 0)) >>> 0,
    cr3,
    cr4: (extra.pse === true ? CR4_PSE : 0) | (extra.pge === true ? CR4_PGE : 0),
    efer: extra.nxe === true ? EFER_NXE : 0,
    a20: extra.a20 ?? true,
  };
}

export function controlPae(cr3: number, extra: { nxe?: boolean; wp?: boolean; a20?: boolean; pge?: boolean } = {}): PagingControl {
  return {
    cr0: (CR0_PG | CR0_PE | (extra.wp === true ? CR0_WP : 0)) >>> 0,
    cr3,
    cr4: CR4_PAE | (extra.pge === true ? CR4_PGE : 0),
    efer: extra.nxe === true ? EFER_NXE : 0,
    a20: extra.a20 ?? true,
  };
}

export function controlLong(cr3: number, extra: { la57?: boolean; nxe?: boolean; wp?: boolean; a20?: boolean; pge?: boolean; physAddrBits?: number } = {}): PagingControl {
  return {
    cr0: (CR0_PG | CR0_PE | (extra.wp === true ? CR0_WP : 0)) >>> 0,
    cr3,
    cr4: CR4_PAE | (extra.la57 === true ? CR4_LA57 : 0) | (extra.pge === true ? CR4_PGE : 0),
    efer: EFER_LME | EFER_LMA | (extra.nxe === true ? EFER_NXE : 0),
    a20: extra.a20 ?? true,
    ...(extra.physAddrBits === undefined ? {} : { physAddrBits: extra.physAddrBits }),
  };
}
