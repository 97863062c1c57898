/**
 * The page-table walker on hand-built tables: the debug walk (QEMU's x86_cpu_get_phys_page_attrs_debug)
 * in every mode and page size, the architectural walk's faults, error codes and A/D updates, the
 * TLB's flush rules, A20; fast-check for robustness and for agreement of the two walks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  pagingControl,
  pagingMode,
  Tlb,
  translate,
  translateDebug,
  type PageTableMemory,
  type PagingControl,
  type TranslationFault,
} from '../../../src/cpu/paging.js';
import { powerOnSnapshot } from '../../../src/cpu/state.js';
import {
  A, CR0_PE, CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PGE, CR4_PSE, D, EFER_LMA, EFER_LME, EFER_NXE, G, GIB1, KIB4, LongTables, MIB2, MIB4, P, PaeTables, PS, Ram, RW,
  Tables32, US, XD, control32, controlLong, controlPae,
} from './tables.js';

const READ = 0;
const WRITE = ACCESS_WRITE;
const USER = ACCESS_USER;
const FETCH = ACCESS_FETCH;

function fault(result: number | TranslationFault): TranslationFault {
  if (typeof result === 'number') throw new Error(`expected a fault, got pa 0x${result.toString(16)}`);
  return result;
}

function pf(result: number | TranslationFault): number {
  const f = fault(result);
  expect(f.vector).toBe(14);
  return f.errorCode;
}

describe('modes', () => {
  it('selects the walk from CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57', () => {
    expect(pagingMode({ cr0: CR0_PE, cr3: 0, cr4: CR4_PAE, efer: EFER_LMA, a20: true })).toBe('off');
    expect(pagingMode(control32(0))).toBe('32-bit');
    expect(pagingMode(controlPae(0))).toBe('pae');
    expect(pagingMode(controlLong(0))).toBe('4-level');
    expect(pagingMode(controlLong(0, { la57: true }))).toBe('5-level');
  });

  it('takes the control state from a CPU snapshot', () => {
    const cpu = { ...powerOnSnapshot(), cr0: 0x80050033n, cr3: 0xfff0_0000_0001_0018n, cr4: 0x7fcn, efer: 0xd01n, a20: false };
    expect(pagingControl(cpu)).toEqual({ cr0: 0x80050033, cr3: 0x10018, cr4: 0x7fc, efer: 0xd01, a20: false, physAddrBits: 40 });
    expect(pagingMode(pagingControl(cpu))).toBe('4-level');
  });
});

describe('debug walk', () => {
  it('is the identity with paging off, A20 masking bit 20 and keeping bits 32-51 of the address', () => {
    const ram = new Ram();
    const off: PagingControl = { cr0: CR0_PE, cr3: 0, cr4: 0, efer: 0, a20: true };
    expect(translateDebug(ram, off, 0x123456)).toEqual({ pa: 0x123456, pageSize: KIB4 });
    expect(translateDebug(ram, { ...off, a20: false }, 0x123456)).toEqual({ pa: 0x023456, pageSize: KIB4 });
    expect(translateDebug(ram, off, 0x1_2345_6789n)).toEqual({ pa: 0x1_2345_6789, pageSize: KIB4 });
  });

  it('walks 32-bit paging: 4 KiB pages, 4 MiB pages only with CR4.PSE, PSE-36 high bits', () => {
    const ram = new Ram();
    const t = new Tables32(ram, 0x1000, 0x2000);
    t.map(0x00403000, 0x5000, KIB4);
    t.map(0x00800000, 0x00c00000, MIB4);
    t.map(0x00c00000, 0x1_0040_0000, MIB4);
    expect(translateDebug(ram, control32(0x1000), 0x00403123)).toEqual({ pa: 0x5123, pageSize: KIB4 });
    expect(translateDebug(ram, control32(0x1000, { pse: true }), 0x00856789)).toEqual({ pa: 0xc56789, pageSize: MIB4 });
    expect(translateDebug(ram, control32(0x1000, { pse: true }), 0x00c12345)).toEqual({ pa: 0x1_0041_2345, pageSize: MIB4 });
    // Without CR4.PSE the PS bit is ignored: the PDE points at a page table (here the 4 MiB frame at 0xC00000: zeros).
    expect(translateDebug(ram, control32(0x1000), 0x00856789)).toBeUndefined();
    // Not present at PDE and at PTE level.
    expect(translateDebug(ram, control32(0x1000), 0x01000000)).toBeUndefined();
    expect(translateDebug(ram, control32(0x1000), 0x00404000)).toBeUndefined();
  });

  it('walks PAE paging: PDPT at CR3 & ~0x1f, 2 MiB and 4 KiB pages, XD and bits 52-62 ignored', () => {
    const ram = new Ram();
    const t = new PaeTables(ram, 0x3020, 0x4000);
    t.map(0xc0000000, 0x00200000, MIB2);
    t.map(0xc0201000, 0x1_2345_6000, KIB4, { leafHigh: XD | 0x7ff00000 });
    t.map(0x00001000, 0x7000, KIB4);
    const ctl = controlPae(0x3020 | 0x18);
    expect(translateDebug(ram, ctl, 0xc01fffff)).toEqual({ pa: 0x003fffff, pageSize: MIB2 });
    expect(translateDebug(ram, ctl, 0xc0201abc)).toEqual({ pa: 0x1_2345_6abc, pageSize: KIB4 });
    expect(translateDebug(ram, ctl, 0x1fff)).toEqual({ pa: 0x7fff, pageSize: KIB4 });
    expect(translateDebug(ram, ctl, 0x40000000)).toBeUndefined();
  });

  it('walks 4-level paging: 1 GiB, 2 MiB and 4 KiB pages, upper-half addresses as bigint or negative number', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    t.map(0xffffff8000000000n, 0, GIB1);
    t.map(0x0n, 0, MIB2);
    t.map(0xffffffff81000000n, 0x200000, KIB4);
    t.map(0xffffffff81001000n, 0xf_ffff_f000, KIB4, { leafHigh: XD | 0x7ff00000 });
    const ctl = controlLong(0x10000 | 0x18);
    expect(translateDebug(ram, ctl, 0xffffff8012345678n)).toEqual({ pa: 0x12345678, pageSize: GIB1 });
    expect(translateDebug(ram, ctl, 0x1fffff)).toEqual({ pa: 0x1fffff, pageSize: MIB2 });
    expect(translateDebug(ram, ctl, 0xffffffff81000010n)).toEqual({ pa: 0x200010, pageSize: KIB4 });
    expect(translateDebug(ram, ctl, -0x7f000000 + 0x10)).toEqual({ pa: 0x200010, pageSize: KIB4 });
    expect(translateDebug(ram, ctl, 0xffffffff81001008n)).toEqual({ pa: 0xf_ffff_f008, pageSize: KIB4 });
    expect(translateDebug(ram, ctl, 0xffffffff81002000n)).toBeUndefined();
    expect(translateDebug(ram, ctl, 0x200000)).toBeUndefined();
    // Non-canonical: bits 63..47 not all equal.
    expect(translateDebug(ram, ctl, 0x0000800000000000n)).toBeUndefined();
    expect(translateDebug(ram, ctl, 0x7fffff8000000000n)).toBeUndefined();
  });

  it('walks 5-level paging with the canonical check on bit 56', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x20000, 5, 0x21000);
    t.map(0xff12345678000000n, 0x400000, MIB2);
    t.map(0x0001000000001000n, 0x9000, KIB4);
    const ctl = controlLong(0x20000, { la57: true });
    expect(translateDebug(ram, ctl, 0xff12345678012345n)).toEqual({ pa: 0x412345, pageSize: MIB2 });
    expect(translateDebug(ram, ctl, 0x0001000000001234n)).toEqual({ pa: 0x9234, pageSize: KIB4 });
    // Canonical with LA57, but not with 4 levels.
    expect(translateDebug(ram, { ...ctl, cr4: CR4_PAE }, 0x0001000000001234n)).toBeUndefined();
    expect(translateDebug(ram, ctl, 0x0100000000000000n)).toBeUndefined();
  });

  it('masks table addresses with A20, and the final address only in 32-bit mode (QEMU)', () => {
    const ram = new Ram();
    // 32-bit: CR3 0x101000 reads the PD at 0x001000; the PTE's frame 0x105000 becomes 0x005000.
    const t32 = new Tables32(ram, 0x1000, 0x2000);
    t32.map(0x00403000, 0x105000, KIB4);
    expect(translateDebug(ram, control32(0x101000, { a20: false }), 0x00403123)).toEqual({ pa: 0x005123, pageSize: KIB4 });
    expect(translateDebug(ram, control32(0x101000), 0x00403123)).toBeUndefined();
    // 4-level: tables masked, the 4 KiB leaf frame 0x105000 kept.
    const t4 = new LongTables(ram, 0x10000, 4, 0x11000);
    t4.map(0x1000n, 0x105000, KIB4);
    expect(translateDebug(ram, controlLong(0x110000, { a20: false }), 0x1123)).toEqual({ pa: 0x105123, pageSize: KIB4 });
    // The architectural walk masks the final address too.
    expect(translate(ram, controlLong(0x110000, { a20: false }), 0x1123, READ)).toBe(0x005123);
  });

  it('sets no A/D bits and writes nothing', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    t.map(0x5000n, 0x6000, KIB4);
    const before = ram.bytes.slice();
    expect(translateDebug(ram, controlLong(0x10000), 0x5000)).toEqual({ pa: 0x6000, pageSize: KIB4 });
    expect(ram.writes).toEqual([]);
    expect(ram.bytes.every((byte, i) => byte === before[i])).toBe(true);
  });
});

describe('architectural walk', () => {
  function long(options: Parameters<LongTables['map']>[3] = {}, size = KIB4): { ram: Ram; entries: number[]; va: bigint } {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    const va = 0xffffffff81234000n;
    return { ram, entries: t.map(va, 0x300000, size, options), va };
  }
  const lo32 = (ram: Ram, at: number): number => ram.readU32(at);

  it('translates and sets A in every entry on a read, D only in the leaf on a write', () => {
    const { ram, entries, va } = long();
    const ctl = controlLong(0x10000);
    expect(translate(ram, ctl, va + 0x45n, READ)).toBe(0x300045);
    expect(entries.map((at) => lo32(ram, at) & (A | D))).toEqual([A, A, A, A]);
    expect(translate(ram, ctl, va + 0x45n, WRITE)).toBe(0x300045);
    expect(entries.map((at) => lo32(ram, at) & (A | D))).toEqual([A, A, A, A | D]);
    // Nothing more to set: no writes.
    ram.writes.length = 0;
    expect(translate(ram, ctl, va, { write: true })).toBe(0x300000);
    expect(ram.writes).toEqual([]);
  });

  it('sets A and D in the leaf of 2 MiB and 1 GiB pages', () => {
    for (const size of [MIB2, GIB1]) {
      const ram = new Ram();
      const t = new LongTables(ram, 0x10000, 4, 0x11000);
      const entries = t.map(0x40000000n, 0, size);
      expect(translate(ram, controlLong(0x10000), 0x40000000 + 0x1234, WRITE)).toBe(0x1234);
      expect(entries.map((at) => lo32(ram, at) & (A | D | PS))).toEqual([A, ...entries.slice(1, -1).map(() => A), A | D | PS]);
    }
  });

  it('reports not-present faults with W/R, U/S and I/D (I/D only with NXE and PAE)', () => {
    const { ram, va } = long();
    const ctl = controlLong(0x10000, { nxe: true });
    const absent = va + 0x1000n;
    expect(pf(translate(ram, ctl, absent, READ))).toBe(0);
    expect(pf(translate(ram, ctl, absent, WRITE))).toBe(2);
    expect(pf(translate(ram, ctl, absent, WRITE | USER))).toBe(6);
    expect(pf(translate(ram, ctl, absent, FETCH))).toBe(0x10);
    expect(pf(translate(ram, controlLong(0x10000), absent, FETCH | USER))).toBe(4);
    expect(fault(translate(ram, ctl, absent, READ))).toEqual({ vector: 14, errorCode: 0, cr2: 0xffffffff81235000n });
    // 32-bit paging: no I/D bit even with EFER.NXE.
    const ram32 = new Ram();
    new Tables32(ram32, 0x1000, 0x2000).map(0x1000, 0x1000, KIB4);
    expect(pf(translate(ram32, control32(0x1000, { nxe: true }), 0x2000, FETCH))).toBe(0);
  });

  it('faults writes to read-only pages: always for user, for supervisor only with CR0.WP', () => {
    const { ram, entries, va } = long({ leaf: P | US });
    expect(pf(translate(ram, controlLong(0x10000), va, WRITE | USER))).toBe(7);
    expect(pf(translate(ram, controlLong(0x10000, { wp: true }), va, WRITE))).toBe(3);
    expect(lo32(ram, entries[3] ?? 0) & (A | D)).toBe(0);
    expect(translate(ram, controlLong(0x10000), va, WRITE)).toBe(0x300000);
    expect(lo32(ram, entries[3] ?? 0) & (A | D)).toBe(A | D);
    // A read-only upper level makes the page read-only too.
    const upper = long({ upper: P | US });
    expect(pf(translate(upper.ram, controlLong(0x10000), upper.va, WRITE | USER))).toBe(7);
    expect(translate(upper.ram, controlLong(0x10000), upper.va, READ | USER)).toBe(0x300000);
  });

  it('faults user accesses to supervisor pages, at any level', () => {
    const leafSup = long({ leaf: P | RW });
    expect(pf(translate(leafSup.ram, controlLong(0x10000), leafSup.va, USER))).toBe(5);
    expect(pf(translate(leafSup.ram, controlLong(0x10000), leafSup.va, USER | WRITE))).toBe(7);
    expect(translate(leafSup.ram, controlLong(0x10000), leafSup.va, WRITE)).toBe(0x300000);
    const upperSup = long({ upper: P | RW });
    expect(pf(translate(upperSup.ram, controlLong(0x10000), upperSup.va, USER))).toBe(5);
    // Supervisor may fetch from and write to user pages (no SMEP/SMAP).
    const userPage = long();
    expect(translate(userPage.ram, controlLong(0x10000, { wp: true }), userPage.va, FETCH)).toBe(0x300000);
  });

  it('faults fetches from XD pages with EFER.NXE, at the leaf or any upper level', () => {
    const leafXd = long({ leafHigh: XD });
    const ctl = controlLong(0x10000, { nxe: true });
    expect(pf(translate(leafXd.ram, ctl, leafXd.va, FETCH))).toBe(0x11);
    expect(pf(translate(leafXd.ram, ctl, leafXd.va, FETCH | USER))).toBe(0x15);
    expect(translate(leafXd.ram, ctl, leafXd.va, READ | USER)).toBe(0x300000);
    const upperXd = long({ upperHigh: XD });
    expect(pf(translate(upperXd.ram, ctl, upperXd.va, FETCH))).toBe(0x11);
    // PAE paging too.
    const ram = new Ram();
    new PaeTables(ram, 0x3000, 0x4000).map(0x00400000, 0x00600000, MIB2, { leafHigh: XD });
    expect(pf(translate(ram, controlPae(0x3000, { nxe: true }), 0x00400000, FETCH))).toBe(0x11);
  });

  it('faults on reserved bits with RSVD|P', () => {
    const ctl = controlLong(0x10000, { nxe: true });
    // XD without EFER.NXE.
    const xd = long({ leafHigh: XD });
    expect(pf(translate(xd.ram, controlLong(0x10000), xd.va, READ))).toBe(9);
    // An address bit at or above MAXPHYADDR (40 by default), in the leaf and in an upper level.
    const high = long({ leafHigh: 0x100 });
    expect(pf(translate(high.ram, ctl, high.va, WRITE))).toBe(0xb);
    expect(translate(high.ram, controlLong(0x10000, { physAddrBits: 46 }), high.va, READ)).toBe(0x100_0030_0000);
    const upperHigh = long({ upperHigh: 0x80000 });
    expect(pf(translate(upperHigh.ram, ctl, upperHigh.va, READ))).toBe(9);
    // Bits 52-62 are ignored in 4-level entries.
    const sw = long({ leafHigh: 0x7ff00000 });
    expect(translate(sw.ram, ctl, sw.va, READ)).toBe(0x300000);
    // Low bits of a large-page frame (bit 13), except PAT (bit 12).
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    t.map(0x200000n, 0x200000 | 0x2000, MIB2);
    t.map(0x400000n, 0x400000 | 0x1000, MIB2);
    t.map(0x80000000n, 0x2000, GIB1);
    expect(pf(translate(ram, ctl, 0x200000, READ))).toBe(9);
    expect(translate(ram, ctl, 0x400000, READ)).toBe(0x400000);
    expect(pf(translate(ram, ctl, 0x80000000, READ | USER))).toBe(0xd);
    // PS in a PML4E.
    const ps = new Ram();
    new LongTables(ps, 0x10000, 4, 0x11000).map(0x1000n, 0x1000, KIB4, { upper: P | RW | US | PS });
    expect(pf(translate(ps, ctl, 0x1000, READ))).toBe(9);
  });

  it('reserves bits 52-63 of PAE PDPTEs, 52-62 of PAE PDEs/PTEs, bit 21 of 32-bit 4 MiB PDEs', () => {
    const ram = new Ram();
    const t = new PaeTables(ram, 0x3000, 0x4000);
    t.map(0x1000, 0x5000, KIB4, { leafHigh: 0x00100000 });
    expect(pf(translate(ram, controlPae(0x3000), 0x1000, READ))).toBe(9);
    expect(translateDebug(ram, controlPae(0x3000), 0x1000)).toEqual({ pa: 0x5000, pageSize: KIB4 });
    ram.set64(0x3000, ram.readU32(0x3000), 0x80000000);
    expect(pf(translate(ram, controlPae(0x3000, { nxe: true }), 0x1000, READ))).toBe(9);
    const ram32 = new Ram();
    const t32 = new Tables32(ram32, 0x1000, 0x2000);
    t32.map(0x00400000, 0x00800000, MIB4);
    ram32.set32(0x1004, ram32.readU32(0x1004) | 0x200000);
    expect(pf(translate(ram32, control32(0x1000, { pse: true }), 0x00400000, WRITE))).toBe(0xb);
    t32.map(0x00800000, 0xff_0000_0000, MIB4);
    expect(translate(ram32, control32(0x1000, { pse: true }), 0x00812345, READ)).toBe(0xff_0001_2345);
    expect(pf(translate(ram32, { ...control32(0x1000, { pse: true }), physAddrBits: 36 }, 0x00812345, READ))).toBe(9);
  });

  it('sets A in upper levels that passed before a deeper fault, never in the faulting entry', () => {
    // Not present PTE: PML4E, PDPTE, PDE accessed.
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    const entries = t.map(0x1000n, 0x1000, KIB4);
    expect(pf(translate(ram, controlLong(0x10000), 0x2000, READ))).toBe(0);
    expect(entries.map((at) => ram.readU32(at) & A)).toEqual([A, A, A, 0]);
    // Protection fault at the leaf: the leaf stays untouched.
    const sup = long({ leaf: P | RW });
    expect(pf(translate(sup.ram, controlLong(0x10000), sup.va, USER))).toBe(5);
    expect(sup.entries.map((at) => sup.ram.readU32(at) & A)).toEqual([A, A, A, 0]);
    // Reserved bits in the PDE: PML4E and PDPTE accessed, the PDE not.
    const rsvd = new Ram();
    const e = new LongTables(rsvd, 0x10000, 4, 0x11000).map(0x200000n, 0x200000 | 0x4000, MIB2);
    expect(pf(translate(rsvd, controlLong(0x10000), 0x200000, READ))).toBe(9);
    expect(e.map((at) => rsvd.readU32(at) & A)).toEqual([A, A, 0]);
    // 32-bit: the PDE is accessed before the PTE is read.
    const r32 = new Ram();
    const [pde] = new Tables32(r32, 0x1000, 0x2000).map(0x1000, 0x1000, KIB4);
    expect(pf(translate(r32, control32(0x1000), 0x2000, READ))).toBe(0);
    expect(r32.readU32(pde ?? 0) & A).toBe(A);
  });

  it('gives #GP(0) for non-canonical long-mode addresses', () => {
    const { ram } = long();
    expect(fault(translate(ram, controlLong(0x10000), 0x0000800000000000n, READ))).toEqual({ vector: 13, errorCode: 0 });
    expect(fault(translate(ram, controlLong(0x10000, { la57: true }), 0x0100000000000000n, READ))).toEqual({ vector: 13, errorCode: 0 });
  });

  it('works on read-only memory (no writeU32): translations without A/D updates', () => {
    const { ram, entries, va } = long();
    const readOnly: PageTableMemory = { readU32: (gpa) => ram.readU32(gpa) };
    expect(translate(readOnly, controlLong(0x10000), va, WRITE)).toBe(0x300000);
    expect(entries.map((at) => ram.readU32(at) & (A | D))).toEqual([0, 0, 0, 0]);
  });

  it('masks the final address with A20 in every mode; paging off gives the 32-bit address', () => {
    const ram = new Ram();
    const t = new PaeTables(ram, 0x3000, 0x4000);
    t.map(0x1000, 0x105000, KIB4);
    t.map(0x00200000, 0x00200000, MIB2);
    expect(translate(ram, controlPae(0x3000, { a20: false }), 0x1234, READ)).toBe(0x005234);
    expect(translateDebug(ram, controlPae(0x3000, { a20: false }), 0x1234)).toEqual({ pa: 0x105234, pageSize: KIB4 });
    expect(translate(ram, controlPae(0x3000, { a20: false }), 0x00312345, READ)).toBe(0x00212345);
    const off: PagingControl = { cr0: CR0_PE, cr3: 0, cr4: 0, efer: 0, a20: false };
    expect(translate(ram, off, 0x1_0012_3456n, WRITE | USER)).toBe(0x023456);
  });
});

describe('TLB', () => {
  function setup(global = false, pge = false): { ram: Ram; t: LongTables; tlb: Tlb; pte: number } {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    const entries = t.map(0x7000n, 0x8000, KIB4, { leaf: P | RW | US | (global ? G : 0) });
    return { ram, t, tlb: new Tlb(ram, controlLong(0x10000, { pge })), pte: entries[3] ?? 0 };
  }

  it('caches a translation until the page is flushed', () => {
    const { ram, tlb, pte } = setup();
    expect(tlb.translate(0x7123, READ)).toBe(0x8123);
    expect(tlb.size).toBe(1);
    ram.set64(pte, 0x9000 | P | RW | US | A, 0);
    expect(tlb.translate(0x7123, READ)).toBe(0x8123);
    expect(translate(ram, tlb.control, 0x7123, READ)).toBe(0x9123);
    tlb.flushPage(0x7fff);
    expect(tlb.translate(0x7123, READ)).toBe(0x9123);
  });

  it('walks again for the first write to a clean page, setting D', () => {
    const { ram, tlb, pte } = setup();
    expect(tlb.translate(0x7000, READ)).toBe(0x8000);
    expect(ram.readU32(pte) & (A | D)).toBe(A);
    ram.writes.length = 0;
    expect(tlb.translate(0x7004, WRITE)).toBe(0x8004);
    expect(ram.readU32(pte) & (A | D)).toBe(A | D);
    ram.writes.length = 0;
    expect(tlb.translate(0x7008, WRITE)).toBe(0x8008);
    expect(ram.writes).toEqual([]);
  });

  it('walks again for accesses the cached entry does not allow, and faults from the tables', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    const [, , , pte] = t.map(0x7000n, 0x8000, KIB4, { leaf: P | RW });
    const tlb = new Tlb(ram, controlLong(0x10000, { wp: true }));
    expect(tlb.translate(0x7000, READ)).toBe(0x8000);
    expect(pf(tlb.translate(0x7000, USER))).toBe(5);
    expect(tlb.size).toBe(0);
    ram.set64(pte ?? 0, 0x8000 | P | US | A, 0);
    expect(tlb.translate(0x7000, USER)).toBe(0x8000);
    expect(pf(tlb.translate(0x7000, WRITE))).toBe(3);
  });

  it('drops non-global entries on CR3 writes, keeps global ones (G with CR4.PGE), and flushAll drops all', () => {
    const global = setup(true, true);
    expect(global.tlb.translate(0x7000, READ)).toBe(0x8000);
    global.ram.set64(global.pte, 0x9000 | P | RW | US | A | G, 0);
    global.tlb.writeCr3(0x10000);
    expect(global.tlb.translate(0x7000, READ)).toBe(0x8000);
    global.tlb.setControl({ ...global.tlb.control, cr3: 0x10018 });
    expect(global.tlb.translate(0x7000, READ)).toBe(0x8000);
    global.tlb.flushAll();
    expect(global.tlb.translate(0x7000, READ)).toBe(0x9000);

    for (const [g, pge] of [[false, true], [true, false]] as const) {
      const s = setup(g, pge);
      expect(s.tlb.translate(0x7000, READ)).toBe(0x8000);
      s.ram.set64(s.pte, 0x9000 | P | RW | US | A, 0);
      s.tlb.writeCr3(0x10000);
      expect(s.tlb.translate(0x7000, READ)).toBe(0x9000);
    }
  });

  it('INVLPG drops a global entry too', () => {
    const { ram, tlb, pte } = setup(true, true);
    expect(tlb.translate(0x7000, READ)).toBe(0x8000);
    ram.set64(pte, 0x9000 | P | RW | US | A | G, 0);
    tlb.flushPage(0x7000n);
    expect(tlb.translate(0x7000, READ)).toBe(0x9000);
  });

  it('flushes everything on paging-relevant CR0, CR4, EFER and A20 changes, not on others', () => {
    const changes: ((c: PagingControl) => PagingControl)[] = [
      (c) => ({ ...c, cr0: (c.cr0 ^ CR0_WP) >>> 0 }),
      (c) => ({ ...c, cr4: c.cr4 ^ CR4_PGE }),
      (c) => ({ ...c, cr4: c.cr4 ^ CR4_PSE }),
      (c) => ({ ...c, efer: c.efer ^ EFER_NXE }),
      (c) => ({ ...c, a20: !c.a20 }),
      (c) => ({ ...c, physAddrBits: 46 }),
    ];
    for (const change of changes) {
      const { ram, tlb, pte } = setup(true, true);
      expect(tlb.translate(0x7000, READ)).toBe(0x8000);
      ram.set64(pte, 0x9000 | P | RW | US | A | G, 0);
      tlb.setControl(change(tlb.control));
      expect(tlb.size).toBe(0);
    }
    const { tlb } = setup(true, true);
    tlb.translate(0x7000, READ);
    tlb.setControl({ ...tlb.control, cr0: (tlb.control.cr0 | 0x20) >>> 0, cr4: tlb.control.cr4 | 0x200 });
    expect(tlb.size).toBe(1);
  });

  it('caches large pages per 4 KiB piece and INVLPG anywhere in the page drops every piece', () => {
    const ram = new Ram();
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    const [, , pde] = t.map(0x40000000n, 0x200000, MIB2);
    t.map(0x7000n, 0x8000, KIB4);
    const tlb = new Tlb(ram, controlLong(0x10000));
    expect(tlb.translate(0x40000000, READ)).toBe(0x200000);
    expect(tlb.translate(0x40123456, READ)).toBe(0x323456);
    expect(tlb.translate(0x7000, READ)).toBe(0x8000);
    expect(tlb.size).toBe(3);
    ram.set64(pde ?? 0, 0x600000 | P | RW | US | PS | A, 0);
    tlb.flushPage(0x401ff000);
    expect(tlb.size).toBe(1);
    expect(tlb.translate(0x40123456, READ)).toBe(0x723456);
    expect(tlb.translate(0x7000, READ)).toBe(0x8000);
  });

  it('does not cache with paging off; is direct-mapped (a page evicts the one in its slot)', () => {
    const ram = new Ram();
    const off = new Tlb(ram, { cr0: CR0_PE, cr3: 0, cr4: 0, efer: 0, a20: false });
    expect(off.translate(0x123456, WRITE)).toBe(0x023456);
    expect(off.size).toBe(0);
    const t = new LongTables(ram, 0x10000, 4, 0x11000);
    for (let i = 0; i < 8; i++) t.map(BigInt(i * 0x1000), 0x100000 + i * 0x1000, KIB4);
    const small = new Tlb(ram, controlLong(0x10000), 4);
    for (let i = 0; i < 8; i++) expect(small.translate(i * 0x1000 + 1, READ)).toBe(0x100001 + i * 0x1000);
    expect(small.size).toBe(4);
    ram.writes.length = 0;
    expect(small.translate(0x7001, READ)).toBe(0x107001);
    expect(small.translate(0x0001, READ)).toBe(0x100001);
    expect(small.size).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random tables

const PAGES = 16;

/** 64-bit entries biased toward present entries that point inside the memory. */
const entryArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      page: fc.nat(PAGES - 1),
      flags: fc.nat(0xfff),
      high: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, fc.constantFrom(0x80000000, 0x7ff00000, 0x100, 0x1)),
      ps: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, fc.constant(true)),
    }).map(({ page, flags, high, ps }) => [((page << 12) | (flags & ~PS) | P | (ps ? PS : 0)) >>> 0, high] as const),
  },
  { weight: 1, arbitrary: fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff)) },
);

/** PAGES pages of 64-bit entries: 128 generated entries scattered over every slot by a seeded xorshift. */
const memoryArb = fc.tuple(fc.array(entryArb, { minLength: 128, maxLength: 128 }), fc.integer({ min: 1, max: 0x7fffffff })).map(([entries, seed]) => {
  const ram = new Ram(PAGES * 4096);
  let x = seed;
  for (let i = 0; i < (PAGES * 4096) / 8; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const [lo, hi] = entries[(x >>> 0) % entries.length] ?? [0, 0];
    ram.set64(i * 8, lo, hi);
  }
  return ram;
});

const controlArb = fc.record({
  mode: fc.constantFrom('off', '32-bit', 'pae', '4-level', '5-level'),
  cr3: fc.nat(PAGES - 1).map((p) => p * 4096),
  cr3Low: fc.nat(0xfff),
  pse: fc.boolean(),
  pge: fc.boolean(),
  nxe: fc.boolean(),
  wp: fc.boolean(),
  a20: fc.boolean(),
}).map(({ mode, cr3, cr3Low, pse, pge, nxe, wp, a20 }): PagingControl => ({
  cr0: (CR0_PE | (mode === 'off' ? 0 : CR0_PG) | (wp ? CR0_WP : 0)) >>> 0,
  cr3: cr3 | cr3Low,
  cr4: (pse ? CR4_PSE : 0) | (pge ? CR4_PGE : 0) | (mode === 'pae' || mode === '4-level' || mode === '5-level' ? CR4_PAE : 0) | (mode === '5-level' ? CR4_LA57 : 0),
  efer: (mode === '4-level' || mode === '5-level' ? EFER_LME | EFER_LMA : 0) | (nxe ? EFER_NXE : 0),
  a20,
}));

/** Linear addresses: any 64-bit value, canonical ones, and small ones. */
const vaArb = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: -(1n << 47n), max: (1n << 47n) - 1n }).map((v) => BigInt.asUintN(64, v)),
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
);

const accessArb = fc.record({ write: fc.boolean(), user: fc.boolean(), fetch: fc.boolean() });

describe('properties', () => {
  it('the debug walk never throws and returns a physical address below 2^52 and a page size', () => {
    fc.assert(fc.property(memoryArb, controlArb, fc.array(vaArb, { minLength: 1, maxLength: 20 }), (ram, ctl, vas) => {
      for (const va of vas) {
        const r = translateDebug(ram, ctl, va);
        if (r === undefined) continue;
        expect([KIB4, MIB2, MIB4, GIB1]).toContain(r.pageSize);
        expect(Number.isSafeInteger(r.pa) && r.pa >= 0 && r.pa < 2 ** 52).toBe(true);
        expect(r.pa % 4096).toBe(Number(va & 0xfffn));
      }
      expect(ram.writes).toEqual([]);
    }), { numRuns: 200 });
  });

  it('a successful architectural walk agrees with the debug walk (A20 on); a not-present fault means the debug walk fails', () => {
    fc.assert(fc.property(memoryArb, controlArb, fc.array(fc.tuple(vaArb, accessArb), { minLength: 1, maxLength: 40 }), (ram, control, accesses) => {
      const ctl = { ...control, a20: true };
      for (const [va0, access] of accesses) {
        // Without paging the architectural address is 32-bit (no long mode); the debug one keeps bits 32-51.
        const va = pagingMode(ctl) === 'off' ? va0 & 0xffffffffn : va0;
        const arch = translate(ram, ctl, va, access);
        const debug = translateDebug(ram, ctl, va);
        if (typeof arch === 'number') {
          expect(debug?.pa).toBe(arch);
        } else if (arch.vector === 13 || (arch.errorCode & 1) === 0) {
          expect(debug).toBeUndefined();
        }
      }
    }), { numRuns: 300 });
  });

  it('the TLB gives what direct walks give, for any sequence of accesses on unchanged tables', () => {
    fc.assert(fc.property(memoryArb, controlArb, fc.array(fc.tuple(vaArb, accessArb), { minLength: 1, maxLength: 40 }), (ram, ctl, accesses) => {
      const direct = ram.clone();
      const tlb = new Tlb(ram, ctl);
      for (const [va, access] of accesses) {
        const a = tlb.translate(va, access);
        const b = translate(direct, ctl, va, access);
        expect(a).toEqual(b);
      }
    }), { numRuns: 200 });
  });
});
