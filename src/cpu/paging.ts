/**
 * The x86 page-table walker: one implementation for the interpreter, paging-mode dumps and
 * Windows dumps. Browser-safe; with number addresses the architectural walk and the TLB allocate
 * nothing on success.
 *
 * Two walks over a guest-physical memory:
 *
 * - `translateDebug` is QEMU's x86_cpu_get_phys_page_attrs_debug (target/i386/helper.c, 7.2), what
 *   the monitor, gdbstub and win-dmp use: it checks only Present, never faults, never sets A/D,
 *   rejects non-canonical long-mode addresses, masks every table-entry address with A20 but the
 *   final address only in 32-bit mode and with paging off (PAE and long-mode leaves are not
 *   masked, as in QEMU), and takes table addresses with PG_ADDRESS_MASK (bits 12-51).
 * - `translate` is the architectural walk: Present, reserved bits (address bits MAXPHYADDR..51,
 *   NX without EFER.NXE, PS in PML4E/PML5E, the low bits of large-page frames, PSE-36 bits beyond
 *   MAXPHYADDR and bit 21 in 32-bit 4 MiB PDEs, bits 52-63 of legacy PAE PDPTEs and 52-62 of
 *   PAE PDEs/PTEs), R/W with CR0.WP, U/S and NX (EFER.NXE); the accessed bit is set in each
 *   non-leaf entry as it is used (legacy PAE PDPTEs included, as QEMU 7.2 does) (after its own Present and reserved checks, so a fault deeper
 *   down leaves it set), A and, on writes, D in the leaf only when the access is allowed. The final address is masked with A20. Error codes
 *   carry P, W/R, U/S, RSVD and I/D (I/D for fetches when EFER.NXE and CR4.PAE). A non-canonical
 *   long-mode address gives #GP(0) (the caller turns it into #SS for stack references).
 *   Not modelled: SMEP, SMAP, protection keys, PCID (qemu64 has none of them), and the #GP that
 *   real hardware raises for reserved PDPTE bits at CR3 load time (reported here as a reserved-bit
 *   page fault, as QEMU does).
 *
 * Addresses: a physical address is a number (below 2^52). A linear address is a number or a
 * bigint; a number is taken as a signed 64-bit integer (any safe integer), so canonical upper-half
 * addresses can be passed as negative numbers (0xFFFFFFFF81000000 = -0x7F000000), and a bigint is
 * taken modulo 2^64. 64-bit entries are read as two 32-bit halves.
 */

import type { CpuSnapshot } from './state.js';

/** Guest-physical memory as the walker sees it. */
export interface PageTableMemory {
  /** The little-endian dword at `gpa` (4-byte aligned, below 2^52). Unbacked addresses should read 0, as in QEMU. */
  readU32(gpa: number): number;
  /** Stores the dword at `gpa`; the architectural walk sets A/D bits through it (without it, A/D bits are not set). */
  writeU32?(gpa: number, value: number): void;
}

/** The paging-relevant control state of one CPU, as plain numbers. */
export interface PagingControl {
  /** CR0, low 32 bits (PG 31, WP 16). */
  readonly cr0: number;
  /** CR3, bits 0-51. */
  readonly cr3: number;
  /** CR4, low 32 bits (PSE 4, PAE 5, PGE 7, LA57 12). */
  readonly cr4: number;
  /** EFER, low 32 bits (LMA 10, NXE 11). */
  readonly efer: number;
  /** False when the A20 gate masks physical address bit 20. */
  readonly a20: boolean;
  /** MAXPHYADDR for reserved-bit checks, 32..52; default 40 (QEMU's TCG qemu64). */
  readonly physAddrBits?: number;
}

export type PagingMode = 'off' | '32-bit' | 'pae' | '4-level' | '5-level';

/** A translation of the debug walk: the physical address of the byte and the size of its page. */
export interface DebugTranslation {
  readonly pa: number;
  readonly pageSize: number;
}

export interface PageFault {
  readonly vector: 14;
  /** P 1, W/R 2, U/S 4, RSVD 8, I/D 16. */
  readonly errorCode: number;
  /** The linear address, as CR2 receives it. */
  readonly cr2: bigint;
}

/** A non-canonical long-mode address: #GP(0) (#SS(0) for stack references, the caller's choice). */
export interface GeneralProtectionFault {
  readonly vector: 13;
  readonly errorCode: 0;
}

export type TranslationFault = PageFault | GeneralProtectionFault;

/** Access kinds as bits that are also the page-fault error-code bits (read = 0, supervisor = 0). */
export const ACCESS_WRITE = 2;
export const ACCESS_USER = 4;
export const ACCESS_FETCH = 16;
export type AccessFlags = number;
export interface Access {
  readonly write?: boolean;
  readonly user?: boolean;
  readonly fetch?: boolean;
}

export const PF_PRESENT = 1;
export const PF_WRITE = 2;
export const PF_USER = 4;
export const PF_RSVD = 8;
export const PF_FETCH = 16;

export const DEFAULT_PHYS_ADDR_BITS = 40;

const TWO32 = 4294967296;
const CR0_PG_BIT = 0x80000000;
const CR0_WP_BIT = 0x10000;
const CR0_PE_BIT = 1;
const CR4_PSE_BIT = 0x10;
const CR4_PAE_BIT = 0x20;
const CR4_PGE_BIT = 0x80;
const CR4_LA57_BIT = 0x1000;
const EFER_LMA_BIT = 0x400;
const EFER_NXE_BIT = 0x800;
const PTE_P = 1;
const PTE_RW = 2;
const PTE_US = 4;
const PTE_A = 0x20;
const PTE_D = 0x40;
const PTE_PS = 0x80;
const PTE_G = 0x100;
/** Low-dword A20 masks (the high dword is never masked). */
const A20_OFF = ~0x100000;

export function accessFlags(access: Access): AccessFlags {
  return (access.write === true ? ACCESS_WRITE : 0) | (access.user === true ? ACCESS_USER : 0) | (access.fetch === true ? ACCESS_FETCH : 0);
}

/** The control state of a CPU snapshot. */
export function pagingControl(cpu: CpuSnapshot, physAddrBits: number = DEFAULT_PHYS_ADDR_BITS): PagingControl {
  return {
    cr0: Number(cpu.cr0 & 0xffffffffn),
    cr3: Number(cpu.cr3 & 0xfffffffffffffn),
    cr4: Number(cpu.cr4 & 0xffffffffn),
    efer: Number(cpu.efer & 0xffffffffn),
    a20: cpu.a20,
    physAddrBits,
  };
}

/** Which walk the control state selects (CR0.PG, CR4.PAE, EFER.LMA, CR4.LA57). */
export function pagingMode(ctl: PagingControl): PagingMode {
  if ((ctl.cr0 & CR0_PG_BIT) === 0) return 'off';
  if ((ctl.cr4 & CR4_PAE_BIT) === 0) return '32-bit';
  if ((ctl.efer & EFER_LMA_BIT) === 0) return 'pae';
  return (ctl.cr4 & CR4_LA57_BIT) !== 0 ? '5-level' : '4-level';
}

/** Low 32 bits of a linear address. */
function vaLow(va: number | bigint): number {
  return typeof va === 'number' ? va >>> 0 : Number(BigInt.asUintN(32, va));
}

/** Bits 32-63 of a linear address (two's complement for negative numbers). */
function vaHigh(va: number | bigint): number {
  return typeof va === 'number' ? Math.floor(va / TWO32) >>> 0 : Number(BigInt.asUintN(32, va >> 32n));
}

function highOf(n: number): number {
  return Math.floor(n / TWO32) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Debug walk

/**
 * QEMU's debug translation of linear address `va`: undefined where QEMU returns -1 (not present
 * at some level, or non-canonical in long mode). Sets nothing, checks nothing but Present.
 */
export function translateDebug(mem: PageTableMemory, ctl: PagingControl, va: number | bigint): DebugTranslation | undefined {
  const lo = vaLow(va);
  const hi = vaHigh(va);
  const a20 = ctl.a20 ? -1 : A20_OFF;
  if ((ctl.cr0 & CR0_PG_BIT) === 0) {
    return { pa: (hi & 0xfffff) * TWO32 + ((lo & a20) >>> 0), pageSize: 4096 };
  }
  const cr3Hi = highOf(ctl.cr3);
  const cr3Lo = ctl.cr3 >>> 0;
  if ((ctl.cr4 & CR4_PAE_BIT) === 0) {
    const pdeAddr = cr3Hi * TWO32 + ((((cr3Lo & 0xfffff000) | ((lo >>> 20) & 0xffc)) & a20) >>> 0);
    const pde = mem.readU32(pdeAddr);
    if ((pde & PTE_P) === 0) return undefined;
    if ((pde & PTE_PS) !== 0 && (ctl.cr4 & CR4_PSE_BIT) !== 0) {
      // PSE-36: PDE bits 13-20 are address bits 32-39.
      return { pa: ((pde >>> 13) & 0xff) * TWO32 + (((pde & 0xffc00000) | (lo & 0x3fffff)) >>> 0), pageSize: 0x400000 };
    }
    const pteAddr = ((((pde & 0xfffff000) | ((lo >>> 10) & 0xffc)) & a20) >>> 0);
    const pte = mem.readU32(pteAddr);
    if ((pte & PTE_P) === 0) return undefined;
    return { pa: ((pte & a20 & 0xfffff000) | (lo & 0xfff)) >>> 0, pageSize: 4096 };
  }
  let tHi: number;
  let tLo: number;
  if ((ctl.efer & EFER_LMA_BIT) !== 0) {
    const la57 = (ctl.cr4 & CR4_LA57_BIT) !== 0;
    const sext = la57 ? (hi | 0) >> 24 : (hi | 0) >> 15;
    if (sext !== 0 && sext !== -1) return undefined;
    tHi = cr3Hi & 0xfffff;
    tLo = (cr3Lo & 0xfffff000) >>> 0;
    if (la57) {
      // QEMU takes the PML5 base as CR3 & ~0xfff (bits 52-63 of CR3 are not kept here).
      const at = cr3Hi * TWO32 + ((((cr3Lo & 0xfffff000) | (((hi >>> 16) & 0x1ff) << 3)) & a20) >>> 0);
      const eLo = mem.readU32(at);
      if ((eLo & PTE_P) === 0) return undefined;
      tHi = mem.readU32(at + 4) & 0xfffff;
      tLo = (eLo & 0xfffff000) >>> 0;
    }
    for (let level = 4; level >= 3; level--) {
      const index = level === 4 ? (hi >>> 7) & 0x1ff : ((hi & 0x7f) << 2) | (lo >>> 30);
      const at = tHi * TWO32 + (((tLo | (index << 3)) & a20) >>> 0);
      const eLo = mem.readU32(at);
      if ((eLo & PTE_P) === 0) return undefined;
      const eHi = mem.readU32(at + 4) & 0xfffff;
      if (level === 3 && (eLo & PTE_PS) !== 0) {
        return { pa: eHi * TWO32 + (((eLo & 0xc0000000) | (lo & 0x3fffffff)) >>> 0), pageSize: 0x40000000 };
      }
      tHi = eHi;
      tLo = (eLo & 0xfffff000) >>> 0;
    }
  } else {
    const at = cr3Hi * TWO32 + (((((cr3Lo & ~0x1f) | ((lo >>> 27) & 0x18)) & a20) >>> 0));
    const eLo = mem.readU32(at);
    if ((eLo & PTE_P) === 0) return undefined;
    tHi = mem.readU32(at + 4) & 0xfffff;
    tLo = (eLo & 0xfffff000) >>> 0;
  }
  const pdeAt = tHi * TWO32 + (((tLo | (((lo >>> 21) & 0x1ff) << 3)) & a20) >>> 0);
  const pdeLo = mem.readU32(pdeAt);
  if ((pdeLo & PTE_P) === 0) return undefined;
  const pdeHi = mem.readU32(pdeAt + 4) & 0xfffff;
  if ((pdeLo & PTE_PS) !== 0) {
    return { pa: pdeHi * TWO32 + (((pdeLo & 0xffe00000) | (lo & 0x1fffff)) >>> 0), pageSize: 0x200000 };
  }
  const pteAt = pdeHi * TWO32 + (((((pdeLo & 0xfffff000) | (((lo >>> 12) & 0x1ff) << 3)) & a20) >>> 0));
  const pteLo = mem.readU32(pteAt);
  if ((pteLo & PTE_P) === 0) return undefined;
  const pteHi = mem.readU32(pteAt + 4) & 0xfffff;
  return { pa: pteHi * TWO32 + (((pteLo & 0xfffff000) | (lo & 0xfff)) >>> 0), pageSize: 4096 };
}

// ---------------------------------------------------------------------------------------------
// Architectural walk

/** What the last successful architectural walk found, for the TLB (reused, never allocated). */
interface WalkInfo {
  /** log2(page size / 4096): 0, 9 (2 MiB), 10 (4 MiB), 18 (1 GiB). */
  shift: number;
  /** AND of R/W and U/S over all levels. */
  allow: number;
  /** Some level had XD set (with EFER.NXE). */
  nx: boolean;
  /** The leaf's D bit after the walk. */
  dirty: boolean;
  /** The leaf's G bit with CR4.PGE. */
  global: boolean;
}

const walkInfo: WalkInfo = { shift: 0, allow: 0, nx: false, dirty: false, global: false };
const NON_CANONICAL: GeneralProtectionFault = Object.freeze({ vector: 13, errorCode: 0 });

function pageFault(errorCode: number, hi: number, lo: number): PageFault {
  return { vector: 14, errorCode, cr2: (BigInt(hi) << 32n) | BigInt(lo) };
}

/** Bits of the high dword that are reserved (address bits MAXPHYADDR..51, and XD without NXE). */
function reservedHigh(ctl: PagingControl): number {
  const bits = ctl.physAddrBits ?? DEFAULT_PHYS_ADDR_BITS;
  const addr = (0xfffff << (bits <= 32 ? 0 : bits >= 52 ? 20 : bits - 32)) & 0xfffff;
  return (ctl.efer & EFER_NXE_BIT) !== 0 ? addr : (addr | 0x80000000) >>> 0;
}

/**
 * The architectural translation of linear address `va` for `access` (ACCESS_* bits or an Access):
 * the physical address, or the fault the access raises. Sets A/D bits through `mem.writeU32`.
 */
export function translate(mem: PageTableMemory, ctl: PagingControl, va: number | bigint, access: AccessFlags | Access): number | TranslationFault {
  return walk(mem, ctl, vaHigh(va), vaLow(va), typeof access === 'number' ? access : accessFlags(access));
}

function walk(mem: PageTableMemory, ctl: PagingControl, hi: number, lo: number, access: number): number | TranslationFault {
  const a20 = ctl.a20 ? -1 : A20_OFF;
  const cr0 = ctl.cr0;
  if ((cr0 & CR0_PG_BIT) === 0) {
    walkInfo.shift = 0;
    walkInfo.allow = PTE_RW | PTE_US;
    walkInfo.nx = false;
    walkInfo.dirty = true;
    walkInfo.global = false;
    return (lo & a20) >>> 0;
  }
  const fetch = (access & ACCESS_FETCH) !== 0;
  const write = !fetch && (access & ACCESS_WRITE) !== 0;
  const user = (access & ACCESS_USER) !== 0;
  const cr4 = ctl.cr4;
  const pae = (cr4 & CR4_PAE_BIT) !== 0;
  const nxe = (ctl.efer & EFER_NXE_BIT) !== 0;
  // Error-code bits every fault of this access carries.
  const baseError = (write ? PF_WRITE : 0) | (user ? PF_USER : 0) | (fetch && nxe && pae ? PF_FETCH : 0);
  const cr3Lo = ctl.cr3 >>> 0;
  const cr3Hi = highOf(ctl.cr3);

  if (!pae) {
    // 32-bit paging: PD, then a 4 MiB page (CR4.PSE, PSE-36) or a PT.
    const pdeAt = cr3Hi * TWO32 + ((((cr3Lo & 0xfffff000) | ((lo >>> 20) & 0xffc)) & a20) >>> 0);
    const pde = mem.readU32(pdeAt);
    if ((pde & PTE_P) === 0) return pageFault(baseError, hi, lo);
    if ((pde & PTE_PS) !== 0 && (cr4 & CR4_PSE_BIT) !== 0) {
      const bits = Math.min(40, Math.max(32, ctl.physAddrBits ?? DEFAULT_PHYS_ADDR_BITS));
      const rsvd = 0x200000 | (0x1fe000 & ~((1 << (13 + bits - 32)) - 1));
      if ((pde & rsvd) !== 0) return pageFault(baseError | PF_RSVD | PF_PRESENT, hi, lo);
      const paHi = (pde >>> 13) & 0xff;
      const paLo = (pde & 0xffc00000) | (lo & 0x3fffff);
      return leaf(mem, ctl, pdeAt, pde, pde & (PTE_RW | PTE_US), false, write, user, fetch, baseError, hi, lo, 10, paHi * TWO32 + ((paLo & a20) >>> 0));
    }
    if ((pde & PTE_A) === 0) mem.writeU32?.(pdeAt, (pde | PTE_A) >>> 0);
    const pteAt = (((pde & 0xfffff000) | ((lo >>> 10) & 0xffc)) & a20) >>> 0;
    const pte = mem.readU32(pteAt);
    if ((pte & PTE_P) === 0) return pageFault(baseError, hi, lo);
    const paLo = (pte & 0xfffff000) | (lo & 0xfff);
    return leaf(mem, ctl, pteAt, pte, pde & pte & (PTE_RW | PTE_US), false, write, user, fetch, baseError, hi, lo, 0, (paLo & a20) >>> 0);
  }

  let rsvdHi = reservedHigh(ctl);
  let allow = PTE_RW | PTE_US;
  let nx = false;
  let tHi: number;
  let tLo: number;
  let level: number;
  if ((ctl.efer & EFER_LMA_BIT) !== 0) {
    const la57 = (cr4 & CR4_LA57_BIT) !== 0;
    const sext = la57 ? (hi | 0) >> 24 : (hi | 0) >> 15;
    if (sext !== 0 && sext !== -1) return NON_CANONICAL;
    tHi = cr3Hi & 0xfffff;
    tLo = (cr3Lo & 0xfffff000) >>> 0;
    level = la57 ? 5 : 4;
  } else {
    // Legacy PAE: the PDPTE has no R/W or U/S; bits 52-63 and MAXPHYADDR..51 are reserved.
    // Hardware loads PDPTEs at CR3 time and never sets their A bit; QEMU 7.2's TCG walks them
    // like other levels and sets it, and guest RAM follows QEMU here.
    const at = cr3Hi * TWO32 + ((((cr3Lo & ~0x1f) | ((lo >>> 27) & 0x18)) & a20) >>> 0);
    const eLo = mem.readU32(at);
    if ((eLo & PTE_P) === 0) return pageFault(baseError, hi, lo);
    const eHi = mem.readU32(at + 4);
    if ((eHi & (rsvdHi | 0xfff00000)) !== 0) return pageFault(baseError | PF_RSVD | PF_PRESENT, hi, lo);
    if ((eLo & PTE_A) === 0) mem.writeU32?.(at, (eLo | PTE_A) >>> 0);
    // PAE paging (unlike 4-level) reserves bits 52-62 of PDEs and PTEs too.
    rsvdHi = (rsvdHi | 0x7ff00000) >>> 0;
    tHi = eHi & 0xfffff;
    tLo = (eLo & 0xfffff000) >>> 0;
    level = 2;
  }
  for (;;) {
    let index: number;
    switch (level) {
      case 5: index = (hi >>> 16) & 0x1ff; break;
      case 4: index = (hi >>> 7) & 0x1ff; break;
      case 3: index = ((hi & 0x7f) << 2) | (lo >>> 30); break;
      case 2: index = (lo >>> 21) & 0x1ff; break;
      default: index = (lo >>> 12) & 0x1ff;
    }
    const at = tHi * TWO32 + (((tLo | (index << 3)) & a20) >>> 0);
    const eLo = mem.readU32(at);
    if ((eLo & PTE_P) === 0) return pageFault(baseError, hi, lo);
    const eHi = mem.readU32(at + 4);
    const ps = (eLo & PTE_PS) !== 0;
    let rsvdLo = 0;
    if (level >= 4) rsvdLo = PTE_PS;
    else if (ps && level === 3) rsvdLo = 0x3fffe000;
    else if (ps && level === 2) rsvdLo = 0x1fe000;
    if ((eLo & rsvdLo) !== 0 || (eHi & rsvdHi) !== 0) return pageFault(baseError | PF_RSVD | PF_PRESENT, hi, lo);
    allow &= eLo;
    if ((eHi & 0x80000000) !== 0) nx = true;
    if (level === 1 || (ps && level <= 3)) {
      const frameHi = (eHi & 0xfffff) * TWO32;
      let paLo: number;
      let shift: number;
      if (level === 1) {
        paLo = (eLo & 0xfffff000) | (lo & 0xfff);
        shift = 0;
      } else if (level === 2) {
        paLo = (eLo & 0xffe00000) | (lo & 0x1fffff);
        shift = 9;
      } else {
        paLo = (eLo & 0xc0000000) | (lo & 0x3fffffff);
        shift = 18;
      }
      return leaf(mem, ctl, at, eLo, allow & (PTE_RW | PTE_US), nx, write, user, fetch, baseError, hi, lo, shift, frameHi + ((paLo & a20) >>> 0));
    }
    if ((eLo & PTE_A) === 0) mem.writeU32?.(at, (eLo | PTE_A) >>> 0);
    tHi = eHi & 0xfffff;
    tLo = (eLo & 0xfffff000) >>> 0;
    level--;
  }
}

/** Permission checks on the combined bits, then A (and D on writes) in the leaf entry. */
function leaf(
  mem: PageTableMemory, ctl: PagingControl, at: number, entry: number, allow: number, nx: boolean,
  write: boolean, user: boolean, fetch: boolean, baseError: number, hi: number, lo: number, shift: number, pa: number,
): number | PageFault {
  if (user && (allow & PTE_US) === 0) return pageFault(baseError | PF_PRESENT, hi, lo);
  if (write && (allow & PTE_RW) === 0 && (user || (ctl.cr0 & CR0_WP_BIT) !== 0)) return pageFault(baseError | PF_PRESENT, hi, lo);
  if (fetch && nx) return pageFault(baseError | PF_PRESENT, hi, lo);
  const setDirty = write && (entry & PTE_D) === 0;
  if ((entry & PTE_A) === 0 || setDirty) mem.writeU32?.(at, (entry | PTE_A | (write ? PTE_D : 0)) >>> 0);
  walkInfo.shift = shift;
  walkInfo.allow = allow;
  walkInfo.nx = nx;
  walkInfo.dirty = write || (entry & PTE_D) !== 0;
  walkInfo.global = (entry & PTE_G) !== 0 && (ctl.cr4 & CR4_PGE_BIT) !== 0;
  return pa;
}

// ---------------------------------------------------------------------------------------------
// TLB

/** Permission bits of a TLB entry: which accesses it may serve without a new walk. */
const T_READ = 1;
const T_WRITE = 2;
const T_FETCH = 4;
const T_USER_SHIFT = 3;

/** CR0 bits whose change flushes everything (QEMU: PG, WP, PE). */
const CR0_FLUSH = CR0_PG_BIT | CR0_WP_BIT | CR0_PE_BIT;
/** CR4 bits whose change flushes everything (PSE, PAE, PGE, LA57, and SMEP/SMAP/PCIDE for later). */
const CR4_FLUSH = CR4_PSE_BIT | CR4_PAE_BIT | CR4_PGE_BIT | CR4_LA57_BIT | (1 << 20) | (1 << 21) | (1 << 17);
const EFER_FLUSH = EFER_LMA_BIT | EFER_NXE_BIT;
const NO_TAG = -1;

/**
 * A direct-mapped cache of translations per 4 KiB linear page (typed arrays, no allocation on a
 * hit or a refill). An entry serves an access only if the walk that filled it allowed that access
 * (and, for writes, the leaf was already dirty); anything else walks again, which sets A/D or
 * raises the fault from the tables as they are now (a fault also drops the page's entry). Large
 * pages are cached per 4 KiB piece; INVLPG anywhere in a large page drops all its pieces.
 * Global entries (G with CR4.PGE) survive CR3 writes; flushAll drops them too.
 */
export class Tlb {
  readonly #mem: PageTableMemory;
  #ctl: PagingControl;
  readonly #mask: number;
  /** Linear page number (hi·2^20 + lo>>>12) per slot, NO_TAG when empty. */
  readonly #tags: Float64Array;
  /** Physical address of the 4 KiB page. */
  readonly #pages: Float64Array;
  readonly #perms: Uint8Array;
  /** log2(size of the page the entry came from / 4096). */
  readonly #shifts: Uint8Array;
  readonly #global: Uint8Array;
  #count = 0;
  #large = 0;

  /** @param entries slots, rounded up to a power of two (default 1024). */
  constructor(mem: PageTableMemory, ctl: PagingControl, entries = 1024) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(1, Math.min(entries, 1 << 20))));
    this.#mem = mem;
    this.#ctl = ctl;
    this.#mask = slots - 1;
    this.#tags = new Float64Array(slots).fill(NO_TAG);
    this.#pages = new Float64Array(slots);
    this.#perms = new Uint8Array(slots);
    this.#shifts = new Uint8Array(slots);
    this.#global = new Uint8Array(slots);
  }

  get control(): PagingControl {
    return this.#ctl;
  }

  /** Number of cached 4 KiB translations. */
  get size(): number {
    return this.#count;
  }

  /**
   * New control state: a change of CR0.PG/WP/PE, CR4.PSE/PAE/PGE/LA57/SMEP/SMAP/PCIDE, EFER.LMA/NXE,
   * A20 or MAXPHYADDR flushes everything; a different CR3 flushes non-global entries.
   */
  setControl(ctl: PagingControl): void {
    const old = this.#ctl;
    this.#ctl = ctl;
    if (
      ((old.cr0 ^ ctl.cr0) & CR0_FLUSH) !== 0 || ((old.cr4 ^ ctl.cr4) & CR4_FLUSH) !== 0 || ((old.efer ^ ctl.efer) & EFER_FLUSH) !== 0
      || old.a20 !== ctl.a20 || (old.physAddrBits ?? DEFAULT_PHYS_ADDR_BITS) !== (ctl.physAddrBits ?? DEFAULT_PHYS_ADDR_BITS)
    ) {
      this.flushAll();
    } else if (old.cr3 !== ctl.cr3) {
      this.flushNonGlobal();
    }
  }

  /** MOV to CR3: non-global entries go even when the value is unchanged. */
  writeCr3(cr3: number): void {
    this.#ctl = { ...this.#ctl, cr3 };
    this.flushNonGlobal();
  }

  /** Everything, global entries included. */
  flushAll(): void {
    if (this.#count === 0) return;
    this.#tags.fill(NO_TAG);
    this.#count = 0;
    this.#large = 0;
  }

  /** Every entry but the global ones (what a CR3 write does). */
  flushNonGlobal(): void {
    if (this.#count === 0) return;
    for (let slot = 0; slot <= this.#mask; slot++) {
      if (this.#tags[slot] !== NO_TAG && this.#global[slot] === 0) this.#drop(slot);
    }
  }

  /** INVLPG: the page of `va` (global or not), and every piece of a large page containing it. */
  flushPage(va: number | bigint): void {
    const key = pageKey(vaHigh(va), vaLow(va));
    const slot = key & this.#mask;
    if (this.#tags[slot] === key) this.#drop(slot);
    if (this.#large === 0) return;
    for (let s = 0; s <= this.#mask; s++) {
      const shift = this.#shifts[s] ?? 0;
      const tag = this.#tags[s] ?? NO_TAG;
      if (tag !== NO_TAG && shift !== 0 && Math.floor(tag / 2 ** shift) === Math.floor(key / 2 ** shift)) this.#drop(s);
    }
  }

  /** The architectural translation through the cache. */
  translate(va: number | bigint, access: AccessFlags | Access): number | TranslationFault {
    const flags = typeof access === 'number' ? access : accessFlags(access);
    const lo = vaLow(va);
    const ctl = this.#ctl;
    if ((ctl.cr0 & CR0_PG_BIT) === 0) return (lo & (ctl.a20 ? -1 : A20_OFF)) >>> 0;
    const hi = vaHigh(va);
    const key = pageKey(hi, lo);
    const slot = key & this.#mask;
    const hit = this.#tags[slot] === key;
    if (hit && ((this.#perms[slot] ?? 0) & needBit(flags)) !== 0) return (this.#pages[slot] ?? 0) + (lo & 0xfff);
    const result = walk(this.#mem, ctl, hi, lo, flags);
    if (hit) this.#drop(slot);
    if (typeof result !== 'number') return result;
    if (this.#tags[slot] !== NO_TAG) this.#drop(slot);
    const info = walkInfo;
    const wp = (ctl.cr0 & CR0_WP_BIT) !== 0;
    const rw = (info.allow & PTE_RW) !== 0;
    const us = (info.allow & PTE_US) !== 0;
    let sup = T_READ | (info.nx ? 0 : T_FETCH);
    if (info.dirty && (rw || !wp)) sup |= T_WRITE;
    const usr = us ? T_READ | (info.nx ? 0 : T_FETCH) | (info.dirty && rw ? T_WRITE : 0) : 0;
    this.#tags[slot] = key;
    this.#pages[slot] = result - (lo & 0xfff);
    this.#perms[slot] = sup | (usr << T_USER_SHIFT);
    this.#shifts[slot] = info.shift;
    this.#global[slot] = info.global ? 1 : 0;
    this.#count++;
    if (info.shift !== 0) this.#large++;
    return result;
  }

  #drop(slot: number): void {
    this.#tags[slot] = NO_TAG;
    this.#count--;
    if (this.#shifts[slot] !== 0) this.#large--;
  }
}

function pageKey(hi: number, lo: number): number {
  return hi * 0x100000 + (lo >>> 12);
}

function needBit(flags: number): number {
  const kind = (flags & ACCESS_FETCH) !== 0 ? T_FETCH : (flags & ACCESS_WRITE) !== 0 ? T_WRITE : T_READ;
  return (flags & ACCESS_USER) !== 0 ? kind << T_USER_SHIFT : kind;
}
