/**
 * One x86-64 CPU: its architectural state in a fast representation (32-bit halves in typed
 * arrays, lazy arithmetic flags, cached segment bounds), guest memory access through
 * segmentation, the page walker's TLB and a small cache of host views on guest pages, and the
 * conversions to and from CpuSnapshot. The instruction set lives in exec/; this file is the state
 * it works on.
 *
 * Representation: GPR i is `r[i]` (low dword) and `rh[i]` (high dword). RIP, segment bases, CR2
 * and linear addresses are JavaScript numbers: 0..2^32-1 outside long mode, and in long mode the
 * signed value of the 64-bit quantity, so canonical upper-half addresses are negative numbers and
 * stay exact.
 */

import type { Diagnostics } from '../core/diagnostics.js';
import type { GuestMemory } from '../core/guest-memory.js';
import { BackingStore } from '../core/guest-memory.js';
import type { PortBus } from '../core/port-bus.js';
import { ACCESS_FETCH, ACCESS_USER, ACCESS_WRITE, Tlb, type PageTableMemory, type PagingControl } from './paging.js';
import { CpuFault, VEC_GP, VEC_PF, VEC_SS } from './faults.js';
import { CC_NONE, materializeFlags } from './flags.js';
import { CodePages, type CodePage } from './code-cache.js';
import {
  GPR_NAMES, SEGMENT_NAMES, powerOnSnapshot, type CpuRunState, type CpuSnapshot, type GprName, type SegmentName, type SegmentState,
} from './state.js';

export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;
export const LDTR = 6;
export const TR = 7;

export const RAX = 0;
export const RCX = 1;
export const RDX = 2;
export const RBX = 3;
export const RSP = 4;
export const RBP = 5;
export const RSI = 6;
export const RDI = 7;

export const TWO32 = 4294967296;

// EFLAGS bits.
export const F_CF = 0x1;
export const F_PF = 0x4;
export const F_AF = 0x10;
export const F_ZF = 0x40;
export const F_SF = 0x80;
export const F_TF = 0x100;
export const F_IF = 0x200;
export const F_DF = 0x400;
export const F_OF = 0x800;
export const F_IOPL = 0x3000;
export const F_NT = 0x4000;
export const F_RF = 0x10000;
export const F_VM = 0x20000;
export const F_AC = 0x40000;
export const F_ID = 0x200000;
export const F_ARITH = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;

export const CR0_PE = 0x1;
export const CR0_MP = 0x2;
export const CR0_EM = 0x4;
export const CR0_TS = 0x8;
export const CR0_ET = 0x10;
export const CR0_NE = 0x20;
export const CR0_WP = 0x10000;
export const CR0_AM = 0x40000;
export const CR0_NW = 0x20000000;
export const CR0_CD = 0x40000000;
export const CR0_PG = 0x80000000;
export const CR4_PSE = 0x10;
export const CR4_PAE = 0x20;
export const CR4_PGE = 0x80;
export const CR4_OSFXSR = 0x200;
export const CR4_LA57 = 0x1000;
export const EFER_SCE = 0x1;
export const EFER_LME = 0x100;
export const EFER_LMA = 0x400;
export const EFER_NXE = 0x800;

// Descriptor high-dword bits (QEMU's DESC_* layout, kept as each segment's `flags`).
export const DESC_TYPE_SHIFT = 8;
export const DESC_A = 1 << 8;
export const DESC_W = 1 << 9;
export const DESC_E = 1 << 10;
export const DESC_C = 1 << 10;
export const DESC_CS = 1 << 11;
export const DESC_S = 1 << 12;
export const DESC_DPL_SHIFT = 13;
export const DESC_P = 1 << 15;
export const DESC_L = 1 << 21;
export const DESC_B = 1 << 22;
export const DESC_G = 1 << 23;

const CACHE_SLOTS = 256;
const KIND_READ = 0;
const KIND_WRITE = 1;
const KIND_FETCH = 2;
const EMPTY = new Uint8Array(0);

/** What a CPU is wired to. */
export interface CpuBus {
  readonly memory: GuestMemory;
  readonly ports: PortBus;
  readonly diagnostics: Diagnostics;
}

/** Host view on one guest-physical 4 KiB page. */
interface PageView {
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly writable: boolean;
}

export class Cpu {
  readonly index: number;
  readonly bus: CpuBus;

  // General registers, RIP, flags.
  readonly r = new Int32Array(16);
  readonly rh = new Int32Array(16);
  ip = 0;
  /** EFLAGS; the arithmetic bits are valid only while ccOp is CC_NONE (see flags.ts). */
  fl = 2;
  ccOp = CC_NONE;
  ccA = 0;
  ccB = 0;
  ccR = 0;
  /** Operand size in bytes of the lazy operation. */
  ccSz = 4;
  /** CF carried through INC/DEC. */
  ccCf = 0;

  // Segments ES..GS, LDTR, TR.
  readonly sel = new Int32Array(8);
  readonly segBase = new Float64Array(8);
  readonly segLimit = new Float64Array(8);
  readonly segFlags = new Int32Array(8);
  /** Lowest and highest valid offsets (expand-down aware), for data accesses. */
  readonly segLo = new Float64Array(8);
  readonly segHi = new Float64Array(8);
  gdtBase = 0;
  gdtLimit = 0xffff;
  idtBase = 0;
  idtLimit = 0xffff;

  // Control state.
  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  readonly dr = new Float64Array(8);
  kernelGsBase = 0;
  apicBase = 0;
  tscOffset = 0n;
  /** MSRs that are only stored (STAR, LSTAR, SYSENTER_*, PAT ...), by number. */
  readonly msrs = new Map<number, bigint>();
  a20 = true;
  cpl = 0;

  // Mode, derived from CR0, EFER and the CS/SS caches by updateMode().
  /** 64-bit mode (EFER.LMA and CS.L). */
  code64 = false;
  /** Default operand and address size of the code segment: 2 or 4 (4 in 64-bit mode). */
  codeSize = 2;
  /** Stack-pointer width: 2, 4 or 8. */
  stackSize = 2;

  // x87 and SSE.
  fcw = 0x37f;
  fsw = 0;
  ftw = 0;
  fop = 0;
  fip = 0n;
  fdp = 0n;
  mxcsr = 0x1f80;
  readonly st = new Uint8Array(80);
  readonly xmm = new Uint8Array(256);

  runState: CpuRunState = 'running';
  /** DR7 enables a breakpoint: the run loop checks instruction breakpoints and data hits. */
  debugActive = false;
  /** DR7 enables a data breakpoint: page caches stay empty so every access is checked. */
  #watching = 0;
  /** B0-B3 bits of data breakpoints hit by the current instruction. */
  dataHits = 0;
  /** Instructions retired since power-on (the TSC follows it; updated at the end of each run slice). */
  instructions = 0;
  /** OUT/OUTS executed: the run loop asks its stop check only after one. */
  portWrites = 0;
  /** Set by the embedder's stop request; the run loop returns after the current instruction. */
  stopFlag = false;

  // Per-instruction decode state (set by exec/step.ts).
  startIp = 0;
  startSpLo = 0;
  startSpHi = 0;
  /** Instruction bytes fetched so far (15 at most). */
  fetched = 0;

  /**
   * The code window: RIP values fetchBase .. fetchBase+fetchLen-1 read from fetchArr at
   * fetchOff + (RIP - fetchBase). One 4 KiB page (cut at the CS limit); emptied whenever CS, the
   * page caches or the mode change, so fetches only ever see current translations.
   */
  fetchBase = 0;
  fetchLen = 0;
  fetchArr: Uint8Array = EMPTY;
  fetchOff = 0;
  /**
   * The decoded instructions of the code window's physical page while the code segment is a
   * 32-bit one outside 64-bit mode (the mode the cache decodes) and its limit does not cut the
   * window short, else null. Set with the window.
   */
  codePage: CodePage | null = null;
  /** Use the decoded-instruction cache (code-cache.ts); off, every instruction is decoded anew. */
  decodeCache = true;
  /**
   * The code epoch (code-cache.ts): advanced whenever code bytes may have changed, by the run loop
   * and by writes to pages that hold decoded blocks.
   */
  codeEpoch = 0;

  readonly tlb: Tlb;
  readonly #pageTables: PageTableMemory;
  // The page caches, one per access kind (read, write, fetch), each a direct-mapped table by linear
  // page: the page's linear address (tag, -1 for empty), its host bytes and their offset. Separate
  // fields rather than tables indexed by kind: each access is then fewer dependent loads.
  readonly #readTag = new Float64Array(CACHE_SLOTS);
  readonly #readArr = new Array<Uint8Array>(CACHE_SLOTS).fill(EMPTY);
  readonly #readOff = new Int32Array(CACHE_SLOTS);
  readonly #writeTag = new Float64Array(CACHE_SLOTS);
  readonly #writeArr = new Array<Uint8Array>(CACHE_SLOTS).fill(EMPTY);
  readonly #writeOff = new Int32Array(CACHE_SLOTS);
  /** 1 where the write cache's page holds decoded blocks: a write there starts a new code epoch. */
  readonly #writeCode = new Uint8Array(CACHE_SLOTS);
  readonly #fetchTag = new Float64Array(CACHE_SLOTS);
  readonly #fetchArr = new Array<Uint8Array>(CACHE_SLOTS).fill(EMPTY);
  readonly #fetchOff = new Int32Array(CACHE_SLOTS);
  /** The code page of each fetch slot's physical page. */
  readonly #code = new Array<CodePage | null>(CACHE_SLOTS).fill(null);
  readonly #codePages = new CodePages();

  constructor(bus: CpuBus, index = 0) {
    this.bus = bus;
    this.index = index;
    this.#pageTables = {
      readU32: (gpa) => {
        const v = this.physView(gpa);
        if (v === undefined) return 0;
        const b = v.bytes;
        const o = v.offset + (gpa & 0xfff);
        return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
      },
      writeU32: (gpa, value) => {
        const v = this.physView(gpa);
        if (!v?.writable) return;
        this.codeEpoch++; // A/D bits: possibly on a code page
        const b = v.bytes;
        const o = v.offset + (gpa & 0xfff);
        b[o] = value;
        b[o + 1] = value >>> 8;
        b[o + 2] = value >>> 16;
        b[o + 3] = value >>> 24;
      },
    };
    this.tlb = new Tlb(this.#pageTables, this.pagingControl());
    this.#clearCaches();
    this.load(powerOnSnapshot(index));
  }

  // ---------------------------------------------------------------------------------------------
  // Registers

  get8(i: number, rex: boolean): number {
    if (i < 4 || rex) return this.r[i]! & 0xff;
    return (this.r[i - 4]! >> 8) & 0xff;
  }
  set8(i: number, rex: boolean, v: number): void {
    if (i < 4 || rex) this.r[i] = (this.r[i]! & ~0xff) | (v & 0xff);
    else this.r[i - 4] = (this.r[i - 4]! & ~0xff00) | ((v & 0xff) << 8);
  }
  get16(i: number): number {
    return this.r[i]! & 0xffff;
  }
  set16(i: number, v: number): void {
    this.r[i] = (this.r[i]! & ~0xffff) | (v & 0xffff);
  }
  get32(i: number): number {
    return this.r[i]! >>> 0;
  }
  /** 32-bit writes clear the high dword, as on x86-64 (and as QEMU does in every mode). */
  set32(i: number, v: number): void {
    this.r[i] = v;
    this.rh[i] = 0;
  }
  /** The register as a signed 64-bit number (exact below 2^53 in magnitude). */
  getNum(i: number): number {
    return this.rh[i]! * TWO32 + (this.r[i]! >>> 0);
  }
  setNum(i: number, v: number): void {
    this.r[i] = v | 0;
    this.rh[i] = Math.floor(v / TWO32) | 0;
  }
  get64(i: number): bigint {
    return (BigInt(this.rh[i]! >>> 0) << 32n) | BigInt(this.r[i]! >>> 0);
  }
  set64(i: number, v: bigint): void {
    this.r[i] = Number(BigInt.asIntN(32, v));
    this.rh[i] = Number(BigInt.asIntN(32, v >> 32n));
  }
  /** Register of `size` bytes (2, 4, 8 as a number; 8 is exact below 2^53). */
  getReg(i: number, size: number): number {
    return size === 4 ? this.r[i]! >>> 0 : size === 2 ? this.r[i]! & 0xffff : this.getNum(i);
  }
  setReg(i: number, size: number, v: number): void {
    if (size === 4) this.set32(i, v);
    else if (size === 2) this.set16(i, v);
    else this.setNum(i, v);
  }

  /** RSP/ESP/SP by the stack width. */
  getSp(): number {
    const s = this.stackSize;
    return s === 4 ? this.r[RSP]! >>> 0 : s === 2 ? this.r[RSP]! & 0xffff : this.getNum(RSP);
  }
  setSp(v: number): void {
    const s = this.stackSize;
    if (s === 4) this.set32(RSP, v);
    else if (s === 2) this.set16(RSP, v);
    else this.setNum(RSP, v);
  }

  getFlags(): number {
    if (this.ccOp !== CC_NONE) materializeFlags(this);
    return this.fl;
  }
  /** Sets EFLAGS as a whole (the caller has applied the writable-bit rules). */
  setFlags(v: number): void {
    this.ccOp = CC_NONE;
    this.fl = (v & ~0x8028) | 2;
  }

  // ---------------------------------------------------------------------------------------------
  // Modes and segments

  /** Recomputes code64, codeSize and stackSize after CR0, EFER, CS or SS change. */
  updateMode(): void {
    this.closeCodeWindow();
    const csFlags = this.segFlags[CS]!;
    this.code64 = (this.efer & EFER_LMA) !== 0 && (csFlags & DESC_L) !== 0;
    const pe = (this.cr0 & CR0_PE) !== 0;
    this.codeSize = this.code64 ? 4 : pe && (this.fl & F_VM) === 0 && (csFlags & DESC_B) !== 0 ? 4 : (!pe && (csFlags & DESC_B) !== 0 ? 4 : 2);
    this.stackSize = this.code64 ? 8 : (this.segFlags[SS]! & DESC_B) !== 0 ? 4 : 2;
  }

  /** Loads a segment cache and recomputes its bounds. */
  setSegment(seg: number, selector: number, base: number, limit: number, flags: number): void {
    if (seg === CS) this.closeCodeWindow();
    this.sel[seg] = selector & 0xffff;
    this.segBase[seg] = base;
    this.segLimit[seg] = limit;
    this.segFlags[seg] = flags;
    this.#bounds(seg);
    if (seg === CS || seg === SS) this.updateMode();
  }

  /** Real and virtual-8086 mode loads: selector and base only, as QEMU's TCG does. */
  setSegmentReal(seg: number, selector: number): void {
    if (seg === CS) this.closeCodeWindow();
    this.sel[seg] = selector & 0xffff;
    this.segBase[seg] = (selector & 0xffff) * 16;
  }

  #bounds(seg: number): void {
    const flags = this.segFlags[seg]!;
    const limit = this.segLimit[seg]!;
    // Expand-down data segment: valid offsets are limit+1 .. 0xffff or 0xffffffff.
    if ((flags & DESC_S) !== 0 && (flags & DESC_CS) === 0 && (flags & DESC_E) !== 0 && (this.cr0 & CR0_PE) !== 0) {
      this.segLo[seg] = limit + 1;
      this.segHi[seg] = (flags & DESC_B) !== 0 ? 0xffffffff : 0xffff;
    } else {
      this.segLo[seg] = 0;
      this.segHi[seg] = limit;
    }
  }

  /**
   * Linear address of `size` bytes at `off` in segment `seg`, after the limit check (#GP, or #SS
   * for SS) outside 64-bit mode and the canonical check in it.
   */
  linear(seg: number, off: number, size: number): number {
    if (this.code64) {
      const lin = seg >= FS ? this.segBase[seg]! + off : off;
      // A non-canonical address is #GP(0) even through SS: QEMU 7.2 raises #GP where hardware
      // raises #SS, and guests see QEMU's behaviour here.
      if (lin >= 0x800000000000 || lin < -0x800000000000) throw new CpuFault(VEC_GP, 0);
      return lin;
    }
    if (off < this.segLo[seg]! || off + size - 1 > this.segHi[seg]!) throw new CpuFault(seg === SS ? VEC_SS : VEC_GP, 0);
    const lin = this.segBase[seg]! + off;
    return lin >= TWO32 ? lin - TWO32 : lin;
  }

  // ---------------------------------------------------------------------------------------------
  // Physical memory

  /** The host view of the 4 KiB guest-physical page holding `gpa`, or undefined for a hole. */
  physView(gpa: number): PageView | undefined {
    const region = this.bus.memory.regionAt(gpa);
    if (region === undefined) return undefined;
    const page = gpa - (gpa % 4096);
    const offset = region.backingOffset + (page - region.gpa);
    const index = Math.floor(offset / BackingStore.CHUNK_BYTES);
    const bytes = region.backing.chunks[index];
    if (bytes === undefined) return undefined;
    return { bytes, offset: offset - index * BackingStore.CHUNK_BYTES, writable: region.kind === 'ram' };
  }

  physRead8(gpa: number): number {
    const v = this.physView(gpa);
    return v === undefined ? 0 : v.bytes[v.offset + (gpa & 0xfff)]!;
  }
  physWrite8(gpa: number, value: number): void {
    const v = this.physView(gpa);
    if (v?.writable === true) {
      v.bytes[v.offset + (gpa & 0xfff)] = value;
      this.codeEpoch++;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Linear memory

  pagingControl(): PagingControl {
    return { cr0: this.cr0 >>> 0, cr3: this.cr3, cr4: this.cr4 >>> 0, efer: this.efer >>> 0, a20: this.a20 };
  }

  /** After a change to CR0, CR3, CR4, EFER, A20 or CPL: the TLB and the page cache follow. */
  pagingChanged(cr3Written = false): void {
    if (cr3Written) this.tlb.writeCr3(this.cr3);
    this.tlb.setControl(this.pagingControl());
    this.#clearCaches();
  }

  /** INVLPG. */
  invalidatePage(lin: number): void {
    this.tlb.flushPage(lin);
    this.#clearCaches();
  }

  #clearCaches(): void {
    this.#readTag.fill(-1);
    this.#writeTag.fill(-1);
    this.#fetchTag.fill(-1);
    this.closeCodeWindow();
  }

  /** Empties the code window (and with it the decoded-instruction page): the next fetch opens it anew. */
  closeCodeWindow(): void {
    this.fetchLen = 0;
    this.codePage = null;
  }

  /**
   * Sets up the code window for RIP `ip` at linear `lin` (after the caller's limit checks).
   * False when the page has no host view (a hole): the caller fetches byte by byte.
   */
  openCodeWindow(ip: number, lin: number): boolean {
    const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
    const o = lin & 0xfff;
    if (this.#fetchTag[slot] !== lin - o && !this.#fill(lin, KIND_FETCH)) return false;
    this.fetchBase = ip - o;
    let len = 4096;
    if (!this.code64) len = Math.min(len, this.segLimit[CS]! + 1 - this.fetchBase);
    this.fetchLen = len;
    this.fetchArr = this.#fetchArr[slot]!;
    this.fetchOff = this.#fetchOff[slot]!;
    this.codePage = len === 4096 && this.codeSize === 4 && !this.code64 && this.decodeCache ? (this.#code[slot] ?? null) : null;
    return true;
  }

  /** Forgets every code page, and the fetch slots and code window that point to them. */
  #dropCodePages(): void {
    this.#codePages.clear();
    this.#code.fill(null);
    this.#fetchTag.fill(-1);
    this.closeCodeWindow();
  }

  /**
   * `page` now holds a block of decoded instructions: from now on the CPU's writes to it start a
   * new code epoch. Write-cache entries made before do not know that; they are dropped.
   */
  markCodePage(page: CodePage): void {
    page.isCode = true;
    this.#writeTag.fill(-1);
  }

  /**
   * Opens the code window at CS:RIP for the decoded-instruction cache when that takes no fault:
   * in 32-bit code, RIP within the CS limit and the fetch translation allowed (otherwise the
   * interpreter's fetch raises the fault). The walk's side effects (accessed bits, the TLB entry)
   * are those of that fetch. True when the window now covers RIP.
   */
  openCodeWindowAtIp(): boolean {
    const ip = this.ip;
    if (this.code64 || this.codeSize !== 4 || !this.decodeCache || ip > this.segLimit[CS]!) return false;
    let lin = this.segBase[CS]! + ip;
    if (lin >= TWO32) lin -= TWO32;
    if (this.#fetchTag[(lin >>> 12) & (CACHE_SLOTS - 1)] !== lin - (lin & 0xfff)) {
      const flags = ACCESS_FETCH | (this.cpl === 3 ? ACCESS_USER : 0);
      if (typeof this.tlb.translate(lin, flags) !== 'number') return false;
    }
    return this.openCodeWindow(ip, lin);
  }

  /** Physical address of linear `lin` for an access of `kind`, or a thrown #PF/#GP. */
  translate(lin: number, kind: number): number {
    // With paging off the TLB returns the linear address, A20-masked.
    const flags = (kind === KIND_WRITE ? ACCESS_WRITE : kind === KIND_FETCH ? ACCESS_FETCH : 0) | (this.cpl === 3 ? ACCESS_USER : 0);
    const result = this.tlb.translate(lin, flags);
    if (typeof result === 'number') return result;
    if (result.vector === VEC_PF) {
      this.cr2 = lin;
      throw new CpuFault(VEC_PF, result.errorCode);
    }
    throw new CpuFault(VEC_GP, 0);
  }

  /** Fills the page cache for `lin`; false when the page has no host view for this kind. */
  #fill(lin: number, kind: number): boolean {
    const pa = this.translate(lin, kind);
    if (this.#watching !== 0 && kind !== KIND_FETCH) return false;
    const v = this.physView(pa);
    if (v === undefined || (kind === KIND_WRITE && !v.writable)) return false;
    const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
    const tag = lin - (lin & 0xfff);
    if (kind === KIND_READ) {
      this.#readTag[slot] = tag;
      this.#readArr[slot] = v.bytes;
      this.#readOff[slot] = v.offset;
    } else if (kind === KIND_WRITE) {
      this.#writeTag[slot] = tag;
      this.#writeArr[slot] = v.bytes;
      this.#writeOff[slot] = v.offset;
      this.#writeCode[slot] = this.#codePages.isCode(pa - (pa % 4096)) ? 1 : 0;
    } else {
      if (this.#codePages.size >= CodePages.MAX_PAGES) this.#dropCodePages();
      this.#fetchTag[slot] = tag;
      this.#fetchArr[slot] = v.bytes;
      this.#fetchOff[slot] = v.offset;
      this.#code[slot] = this.#codePages.get(pa - (pa % 4096), v.bytes, v.offset);
    }
    return true;
  }

  read8(lin: number): number {
    const o = lin & 0xfff;
    const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
    if (this.#readTag[slot] === lin - o) return this.#readArr[slot]![this.#readOff[slot]! + o]!;
    if (this.#fill(lin, KIND_READ)) return this.read8(lin);
    const pa = this.translate(lin, KIND_READ);
    if ((this.#watching & 2) !== 0) this.#watch(lin, false);
    return this.physRead8(pa);
  }

  /** Debug-register data breakpoints: records which ones the byte at `lin` hits. */
  #watch(lin: number, write: boolean): void {
    const dr7 = this.dr[7]!;
    for (let i = 0; i < 4; i++) {
      if (((dr7 >> (i * 2)) & 3) === 0) continue;
      const rw = (dr7 >> (16 + i * 4)) & 3;
      if (rw !== 1 && rw !== 3) continue;
      if (rw === 1 && !write) continue;
      const lenBits = (dr7 >> (18 + i * 4)) & 3;
      const len = lenBits === 0 ? 1 : lenBits === 1 ? 2 : lenBits === 3 ? 4 : 8;
      const start = this.dr[i]! - (this.dr[i]! % len);
      if (lin >= start && lin < start + len) this.dataHits |= 1 << i;
    }
  }

  /** After a DR7 write: which breakpoints need checking. */
  debugChanged(): void {
    const dr7 = this.dr[7]!;
    this.debugActive = (dr7 & 0xff) !== 0;
    let watching = 0;
    for (let i = 0; i < 4; i++) {
      if (((dr7 >> (i * 2)) & 3) === 0) continue;
      const rw = (dr7 >> (16 + i * 4)) & 3;
      if (rw === 1) watching |= 1;
      if (rw === 3) watching |= 3;
    }
    this.#watching = watching;
    this.#clearCaches();
  }

  fetch8(lin: number): number {
    const o = lin & 0xfff;
    const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
    if (this.#fetchTag[slot] === lin - o) return this.#fetchArr[slot]![this.#fetchOff[slot]! + o]!;
    if (this.#fill(lin, KIND_FETCH)) return this.fetch8(lin);
    return this.physRead8(this.translate(lin, KIND_FETCH));
  }

  read16(lin: number): number {
    const o = lin & 0xfff;
    if (o <= 0xffe) {
      const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
      if (this.#readTag[slot] === lin - o) {
        const a = this.#readArr[slot]!;
        const p = this.#readOff[slot]! + o;
        return a[p]! | (a[p + 1]! << 8);
      }
    }
    return this.read8(lin) | (this.read8(this.#next(lin, 1)) << 8);
  }

  read32(lin: number): number {
    const o = lin & 0xfff;
    if (o <= 0xffc) {
      const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
      if (this.#readTag[slot] === lin - o) {
        const a = this.#readArr[slot]!;
        const p = this.#readOff[slot]! + o;
        return (a[p]! | (a[p + 1]! << 8) | (a[p + 2]! << 16) | (a[p + 3]! << 24)) >>> 0;
      }
    }
    return (this.read16(lin) | (this.read16(this.#next(lin, 2)) << 16)) >>> 0;
  }

  /** 64-bit read as a signed number (exact below 2^53 in magnitude). */
  read64Num(lin: number): number {
    const lo = this.read32(lin);
    return (this.read32(this.#next(lin, 4)) | 0) * TWO32 + lo;
  }
  read64(lin: number): bigint {
    const lo = this.read32(lin);
    return (BigInt(this.read32(this.#next(lin, 4))) << 32n) | BigInt(lo);
  }

  /** Checks that `size` bytes at `lin` can be written (faulting if not) before anything is. */
  probeWrite(lin: number, size: number): void {
    const last = this.#next(lin, size - 1);
    this.#probe(lin);
    if ((last & ~0xfff) !== (lin & ~0xfff)) this.#probe(last);
  }

  #probe(lin: number): void {
    const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
    if (this.#writeTag[slot] === lin - (lin & 0xfff)) return;
    if (!this.#fill(lin, KIND_WRITE)) this.translate(lin, KIND_WRITE);
  }

  write8(lin: number, v: number): void {
    const o = lin & 0xfff;
    const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
    if (this.#writeTag[slot] === lin - o) {
      this.#writeArr[slot]![this.#writeOff[slot]! + o] = v;
      if (this.#writeCode[slot] !== 0) this.codeEpoch++;
      return;
    }
    if (this.#fill(lin, KIND_WRITE)) {
      this.write8(lin, v);
      return;
    }
    const pa = this.translate(lin, KIND_WRITE);
    if (this.#watching !== 0) this.#watch(lin, true);
    this.physWrite8(pa, v);
  }

  write16(lin: number, v: number): void {
    const o = lin & 0xfff;
    if (o <= 0xffe) {
      const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
      if (this.#writeTag[slot] === lin - o) {
        const a = this.#writeArr[slot]!;
        const p = this.#writeOff[slot]! + o;
        a[p] = v;
        a[p + 1] = v >>> 8;
        if (this.#writeCode[slot] !== 0) this.codeEpoch++;
        return;
      }
    }
    this.probeWrite(lin, 2);
    this.write8(lin, v);
    this.write8(this.#next(lin, 1), v >>> 8);
  }

  write32(lin: number, v: number): void {
    const o = lin & 0xfff;
    if (o <= 0xffc) {
      const slot = (lin >>> 12) & (CACHE_SLOTS - 1);
      if (this.#writeTag[slot] === lin - o) {
        const a = this.#writeArr[slot]!;
        const p = this.#writeOff[slot]! + o;
        a[p] = v;
        a[p + 1] = v >>> 8;
        a[p + 2] = v >>> 16;
        a[p + 3] = v >>> 24;
        if (this.#writeCode[slot] !== 0) this.codeEpoch++;
        return;
      }
    }
    this.probeWrite(lin, 4);
    this.write16(lin, v);
    this.write16(this.#next(lin, 2), v >>> 16);
  }

  write64(lin: number, lo: number, hi: number): void {
    this.probeWrite(lin, 8);
    this.write32(lin, lo);
    this.write32(this.#next(lin, 4), hi);
  }

  write64Num(lin: number, v: number): void {
    this.write64(lin, v | 0, Math.floor(v / TWO32) | 0);
  }

  /** lin + n, wrapping at 4 GiB outside long mode. */
  #next(lin: number, n: number): number {
    const x = lin + n;
    return (this.efer & EFER_LMA) !== 0 || x < TWO32 ? x : x - TWO32;
  }

  /** Kernel-privilege linear access for descriptor tables and the TSS (CPL ignored). */
  readSystem32(lin: number): number {
    const cpl = this.cpl;
    this.cpl = 0;
    try {
      return this.read32(lin);
    } finally {
      this.cpl = cpl;
    }
  }
  writeSystem32(lin: number, v: number): void {
    const cpl = this.cpl;
    this.cpl = 0;
    try {
      this.write32(lin, v);
    } finally {
      this.cpl = cpl;
    }
  }

  /** Sets CPL, dropping the page cache (its permissions depend on it). */
  setCpl(cpl: number): void {
    if (cpl === this.cpl) return;
    this.cpl = cpl;
    this.#clearCaches();
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots

  /** The CPU's state as plain data. */
  snapshot(): CpuSnapshot {
    const gpr = {} as Record<GprName, bigint>;
    GPR_NAMES.forEach((name, i) => (gpr[name] = this.get64(i)));
    const segments = {} as Record<SegmentName, SegmentState>;
    SEGMENT_NAMES.forEach((name, i) => {
      segments[name] = { selector: this.sel[i]!, base: u64(this.segBase[i]!), limit: this.segLimit[i]!, flags: this.segFlags[i]! >>> 0 };
    });
    const st: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) st.push(this.st.slice(i * 10, i * 10 + 10));
    const xmm: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) xmm.push(this.xmm.slice(i * 16, i * 16 + 16));
    return {
      gpr,
      rip: u64(this.ip),
      rflags: BigInt(this.getFlags() >>> 0),
      segments,
      gdt: { base: u64(this.gdtBase), limit: this.gdtLimit },
      idt: { base: u64(this.idtBase), limit: this.idtLimit },
      cr0: BigInt(this.cr0 >>> 0),
      cr2: u64(this.cr2),
      cr3: BigInt(this.cr3),
      cr4: BigInt(this.cr4 >>> 0),
      cr8: BigInt(this.cr8),
      efer: BigInt(this.efer >>> 0),
      kernelGsBase: u64(this.kernelGsBase),
      dr: Array.from(this.dr, (d) => u64(d)),
      apicBase: u64(this.apicBase),
      fpu: {
        fcw: this.fcw, fsw: this.fsw, ftw: this.ftw, fop: this.fop, fip: this.fip, fdp: this.fdp,
        mxcsr: this.mxcsr, mxcsrMask: 0xffff, st, xmm,
      },
      a20: this.a20,
      runState: this.runState,
    };
  }

  /** Replaces the whole state with `s`. */
  load(s: CpuSnapshot): void {
    GPR_NAMES.forEach((name, i) => {
      this.set64(i, s.gpr[name]);
    });
    const lma = (s.efer & BigInt(EFER_LMA)) !== 0n;
    const num = (v: bigint): number => (lma ? Number(BigInt.asIntN(64, v)) : Number(BigInt.asUintN(32, v)));
    this.ip = num(s.rip);
    this.setFlags(Number(s.rflags & 0xffffffffn));
    this.cr0 = Number(s.cr0 & 0xffffffffn) | 0;
    this.cr2 = Number(BigInt.asIntN(64, s.cr2));
    this.cr3 = Number(s.cr3 & 0xfffffffffffffn);
    this.cr4 = Number(s.cr4 & 0xffffffffn) | 0;
    this.cr8 = Number(s.cr8 & 0xfn);
    this.efer = Number(s.efer & 0xffffffffn) | 0;
    this.kernelGsBase = Number(BigInt.asIntN(64, s.kernelGsBase));
    s.dr.forEach((d, i) => (this.dr[i] = Number(BigInt.asIntN(64, d))));
    this.apicBase = Number(BigInt.asIntN(64, s.apicBase));
    this.gdtBase = num(s.gdt.base);
    this.gdtLimit = s.gdt.limit;
    this.idtBase = num(s.idt.base);
    this.idtLimit = s.idt.limit;
    SEGMENT_NAMES.forEach((name, i) => {
      const seg = s.segments[name];
      this.sel[i] = seg.selector;
      this.segBase[i] = i === FS || i === GS || i >= LDTR ? Number(BigInt.asIntN(64, seg.base)) : Number(BigInt.asUintN(32, seg.base));
      this.segLimit[i] = seg.limit >>> 0;
      this.segFlags[i] = seg.flags | 0;
      this.#bounds(i);
    });
    const pe = (this.cr0 & CR0_PE) !== 0;
    this.cpl = !pe ? 0 : (this.fl & F_VM) !== 0 ? 3 : (this.segFlags[SS]! >> DESC_DPL_SHIFT) & 3;
    this.fcw = s.fpu.fcw;
    this.fsw = s.fpu.fsw;
    this.ftw = s.fpu.ftw;
    this.fop = s.fpu.fop;
    this.fip = s.fpu.fip;
    this.fdp = s.fpu.fdp;
    this.mxcsr = s.fpu.mxcsr;
    s.fpu.st.forEach((b, i) => {
      this.st.set(b.subarray(0, 10), i * 10);
    });
    s.fpu.xmm.forEach((b, i) => {
      this.xmm.set(b.subarray(0, 16), i * 16);
    });
    this.a20 = s.a20;
    this.runState = s.runState;
    this.updateMode();
    this.pagingChanged(true);
    this.debugChanged();
  }
}

/** A number register image as the unsigned 64-bit value it stands for. */
export function u64(v: number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}
