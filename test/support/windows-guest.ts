/**
 * The Windows-like guest of firmware/golden/win-dmp-guest.inc, built by the test harness: the
 * same kernel page tables (the header's DirectoryTableBase), KDBG, KiBugcheckData,
 * KiProcessorBlock, PRCBs, CONTEXT areas, the DUMP_HEADER note (filled with "PAGE" as Windows
 * does) and the same fault letters; the note is registered with one fw_cfg DMA write to
 * etc/vmcoreinfo, as the virtio-win driver does. `windowsGuestImage` gives the bytes and CPU
 * states alone (for sources without a machine, such as the benchmark's).
 *
 * Faults: S Signature "PA\0E", V ValidDump "DU32", N descsz + 4, E KdDebuggerDataBlock -> a
 * "KDBX" block (BugcheckParameter1 still the KDBG), K both -> "KDBX", U KDBG unmapped,
 * P KiProcessorBlock at the end of page 14 (CPU #1's PRCB pointer unmapped), C CPU 0's CONTEXT
 * runs into the unmapped page 15, O NumberProcessors 1, M NumberProcessors = CPUs + 1,
 * B KiBugcheckData unmapped, R a third run past 16 MiB.
 */
import type { Machine } from '../../src/index.js';
import { powerOnSnapshot, type CpuSnapshot } from '../../src/cpu/state.js';
import { DmaDriver, findFile } from './fwcfg-driver.js';

export type WindowsGuestMode = 'x64' | 'pae' | 'nopae';

export interface WindowsGuestOptions {
  readonly mode: WindowsGuestMode;
  readonly cpus: number;
  readonly faults?: string;
  /** Replaces the header's run list (BasePage, PageCount) and NumberOfPages (their sum). */
  readonly runs?: readonly (readonly [bigint, bigint])[];
}

export interface WindowsGuestImage {
  /** Guest-physical writes that make the guest, in order. */
  readonly writes: readonly { readonly gpa: number; readonly bytes: Uint8Array }[];
  readonly note: Uint8Array;
  readonly noteGpa: number;
  readonly cpus: CpuSnapshot[];
}

export const NOTE_ADDR = 0x100000;
export const K_PT = 0x20000;
const CPU_PT = 0x10000;
const KPHYS = 0x200000;
const LARGE_PHYS = 0x400000;
const OFFSET_PRCB_CONTEXT = 0x120;

export function kernelBase(mode: WindowsGuestMode): bigint {
  return mode === 'x64' ? 0xfffff80000000000n : 0x80000000n;
}

/** The bytes and CPU states of the guest, as the firmware leaves them. */
export function windowsGuestImage(options: WindowsGuestOptions): WindowsGuestImage {
  const { mode, cpus } = options;
  const faults = options.faults ?? '';
  const has = (f: string): boolean => faults.includes(f);
  const x64 = mode === 'x64';
  const ptr = x64 ? 8 : 4;
  const hdrSize = x64 ? 0x2000 : 0x1000;
  const kbase = kernelBase(mode);
  const largeVa = mode === 'nopae' ? 0x400000 : 0x200000;
  const writes: { gpa: number; bytes: Uint8Array }[] = [];
  const mem = new Map<number, Uint8Array>();
  /** A zeroed page of the image, created on first use. */
  const page = (gpa: number): Uint8Array => {
    const base = gpa - (gpa % 4096);
    let p = mem.get(base);
    if (p === undefined) {
      p = new Uint8Array(4096);
      mem.set(base, p);
    }
    return p;
  };
  const put = (gpa: number, bytes: Uint8Array): void => {
    for (let i = 0; i < bytes.length; i++) {
      const p = page(gpa + i);
      p[(gpa + i) % 4096] = bytes[i] ?? 0;
    }
  };
  const u32 = (gpa: number, v: number): void => { put(gpa, new Uint8Array(new Uint32Array([v >>> 0]).buffer)); };
  const u64 = (gpa: number, v: bigint): void => { put(gpa, new Uint8Array(new BigUint64Array([BigInt.asUintN(64, v)]).buffer)); };
  const kptr = (gpa: number, offset: number): void => {
    if (x64) u64(gpa, kbase + BigInt(offset));
    else u32(gpa, Number(kbase) + offset);
  };

  // kernel pages and the large page's first 4 KiB
  for (let k = 0; k < 16; k++) for (let i = 0; i < 1024; i++) u32(KPHYS + k * 4096 + i * 4, 0x57000000 | (k << 16) | i);
  for (let i = 0; i < 1024; i++) u32(LARGE_PHYS + i * 4, 0x4c000000 | i);

  // the CPU's identity map and the kernel's tables
  if (mode === 'x64') {
    u64(CPU_PT, BigInt(CPU_PT + 0x1003));
    u64(CPU_PT + 0x1000, BigInt(CPU_PT + 0x2003));
    for (let i = 0; i < 8; i++) u64(CPU_PT + 0x2000 + i * 8, BigInt(0x83 + i * 0x200000));
    u64(K_PT + 0x1f0 * 8, BigInt(K_PT + 0x1003));
    u64(K_PT + 0x1000, BigInt(K_PT + 0x2003));
    u64(K_PT + 0x2000, BigInt(K_PT + 0x3003));
    u64(K_PT + 0x2008, BigInt(LARGE_PHYS | 0x83));
    for (let n = 0; n < 15; n++) u64(K_PT + 0x3000 + n * 8, BigInt((n === 6 ? KPHYS + 0xf000 : KPHYS + n * 0x1000) | 3));
  } else if (mode === 'pae') {
    u64(CPU_PT, BigInt(CPU_PT + 0x1001));
    for (let i = 0; i < 8; i++) u64(CPU_PT + 0x1000 + i * 8, BigInt(0x83 + i * 0x200000));
    u64(K_PT + 2 * 8, BigInt(K_PT + 0x1001));
    u64(K_PT + 0x1000, BigInt(K_PT + 0x2003));
    u64(K_PT + 0x1008, BigInt(LARGE_PHYS | 0x83));
    for (let n = 0; n < 15; n++) u64(K_PT + 0x2000 + n * 8, BigInt((n === 6 ? KPHYS + 0xf000 : KPHYS + n * 0x1000) | 3));
  } else {
    for (let i = 0; i < 4; i++) u32(CPU_PT + i * 4, 0x83 + i * 0x400000);
    u32(K_PT + 0x200 * 4, (K_PT + 0x1000) | 3);
    u32(K_PT + 0x201 * 4, LARGE_PHYS | 0x83);
    for (let n = 0; n < 15; n++) u32(K_PT + 0x1000 + n * 4, (n === 6 ? KPHYS + 0xf000 : KPHYS + n * 0x1000) | 3);
  }

  // KDBG and what it points at
  put(KPHYS + 0x10, new TextEncoder().encode('KDBG'));
  put(KPHYS + 0x810, new TextEncoder().encode('KDBX'));
  kptr(KPHYS + 0x88, has('B') ? 0xf000 : 0x1000);
  if (x64) u64(KPHYS + 0xc0, 0xfffffa8000000000n);
  else u32(KPHYS + 0xc0, 0x84000000);
  put(KPHYS + 0x338, new Uint8Array([OFFSET_PRCB_CONTEXT & 0xff, OFFSET_PRCB_CONTEXT >> 8]));
  u32(KPHYS + 0x1000, 0);
  const block = has('P') ? 0xf000 - ptr : 0x2000;
  kptr(KPHYS + 0x218, block);
  kptr(KPHYS + block, 0x3000);
  if (!has('P')) kptr(KPHYS + block + ptr, 0x3800);
  kptr(KPHYS + 0x3000 + OFFSET_PRCB_CONTEXT, has('C') ? 0xef00 : 0x5c00);
  kptr(KPHYS + 0x3800 + OFFSET_PRCB_CONTEXT, largeVa + 0x1f0);

  // the note: header filled with "PAGE", then its fields
  const header = new Uint8Array(hdrSize);
  const h = new DataView(header.buffer);
  for (let i = 0; i < hdrSize; i += 4) header.set([0x50, 0x41, 0x47, 0x45], i);
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  header.set(has('S') ? new Uint8Array([0x50, 0x41, 0, 0x45]) : enc('PAGE'), 0);
  header.set(enc(has('V') ? 'DU32' : x64 ? 'DU64' : 'DUMP'), 4);
  const nproc = has('O') ? 1 : has('M') ? cpus + 1 : cpus;
  const hptr = (at: number, offset: number): void => {
    if (x64) h.setBigUint64(at, kbase + BigInt(offset), true);
    else h.setUint32(at, Number(kbase) + offset, true);
  };
  const runs = options.runs ?? [[0n, 0xa0n], [0x100n, 0xf00n], ...(has('R') ? [[0x1000n, 0x10n] as const] : [])];
  const pages = runs.reduce((n, r) => n + r[1], 0n);
  const kdbgOffset = has('E') || has('K') ? 0x800 : has('U') ? 0xf000 : 0;
  if (x64) {
    h.setUint32(0x08, 0xf, true);
    h.setUint32(0x0c, 0x4a61, true);
    h.setBigUint64(0x10, BigInt(K_PT), true);
    hptr(0x20, 0x8000);
    hptr(0x28, 0x8100);
    h.setUint32(0x30, 0x8664, true);
    h.setUint32(0x34, nproc, true);
    h.setBigUint64(0x38, 0n, true);
    hptr(0x40, has('K') ? 0x800 : 0);
    for (const at of [0x48, 0x50, 0x58]) h.setBigUint64(at, 0n, true);
    hptr(0x80, kdbgOffset);
    h.setUint32(0x88, runs.length, true);
    h.setBigUint64(0x90, pages, true);
    runs.forEach(([base, count], i) => {
      h.setBigUint64(0x98 + 16 * i, base, true);
      h.setBigUint64(0xa0 + 16 * i, count, true);
    });
    h.setUint32(0xf98, 1, true);
    h.setBigUint64(0xfa8, 0x01d9abcd5a5a0000n, true);
    header.set(enc('slice86 win-dmp guest\0'), 0xfb0);
  } else {
    h.setUint32(0x08, 0xf, true);
    h.setUint32(0x0c, 0x1db1, true);
    h.setUint32(0x10, K_PT, true);
    hptr(0x18, 0x8000);
    hptr(0x1c, 0x8100);
    h.setUint32(0x20, 0x14c, true);
    h.setUint32(0x24, nproc, true);
    h.setUint32(0x28, 0, true);
    hptr(0x2c, has('K') ? 0x800 : 0);
    for (const at of [0x30, 0x34, 0x38]) h.setUint32(at, 0, true);
    hptr(0x60, kdbgOffset);
    h.setUint32(0x64, runs.length, true);
    h.setUint32(0x68, Number(pages & 0xffffffffn), true);
    runs.forEach(([base, count], i) => {
      h.setUint32(0x6c + 8 * i, Number(base), true);
      h.setUint32(0x70 + 8 * i, Number(count), true);
    });
  }
  const descSize = hdrSize + (has('N') ? 4 : 0);
  const note = new Uint8Array(24 + descSize);
  const n = new DataView(note.buffer);
  n.setUint32(0, 11, true);
  n.setUint32(4, descSize, true);
  note.set(enc('VMCOREINFO'), 12);
  note.set(header, 24);
  put(NOTE_ADDR, note);

  for (const [gpa, bytes] of [...mem.entries()].sort((a, b) => a[0] - b[0])) writes.push({ gpa, bytes });
  return { writes, note, noteGpa: NOTE_ADDR, cpus: Array.from({ length: cpus }, (_, i) => (i === 0 ? cpu0(mode) : powerOnSnapshot(i))) };
}

/** CPU 0 as the firmware leaves it: halted in the mode, on its identity map. */
function cpu0(mode: WindowsGuestMode): CpuSnapshot {
  const base = powerOnSnapshot(0);
  const x64 = mode === 'x64';
  const flat = (selector: number, flags: number): CpuSnapshot['segments']['cs'] => ({ selector, base: 0n, limit: 0xffffffff, flags });
  const data = flat(0x10, 0xcf9300);
  return {
    ...base,
    gpr: x64
      ? {
          rax: 0xaaaa00000000a0a0n, rbx: 0xbbbb00000000b0b0n, rcx: 0xcccc00000000c0c0n, rdx: 0xdddd00000000d0d0n,
          rsi: 0x5151000000005151n, rdi: 0xd1d100000000d1d1n, rbp: 0xbebe00000000beben, rsp: 0x6f00n,
          r8: 0x0808080800000008n, r9: 0x0909090900000009n, r10: 0x101010100000000an, r11: 0x111111110000000bn,
          r12: 0x121212120000000cn, r13: 0x131313130000000dn, r14: 0x141414140000000en, r15: 0x151515150000000fn,
        }
      : { ...base.gpr, rax: 0xa0a0a0a0n, rbx: 0xb0b0b0b0n, rcx: 0xc0c0c0c0n, rdx: 0xd0d0d0d0n, rsi: 0x51515151n, rdi: 0xd1d1d1d1n, rbp: 0xbebebeben, rsp: 0x6f00n },
    rip: 0xf0700n,
    rflags: 0x46n,
    segments: { ...base.segments, cs: x64 ? flat(0x18, 0xaf9b00) : flat(0x08, 0xcf9b00), ds: data, es: data, ss: data, fs: data, gs: data },
    cr0: 0x80000033n,
    cr3: BigInt(CPU_PT),
    cr4: mode === 'nopae' ? 0x690n : 0x6a0n,
    efer: x64 ? 0xd00n : 0n,
    runState: 'halted',
  };
}

/** Builds the guest in a machine's RAM and registers its note by fw_cfg DMA; returns CPU states. */
export function buildWindowsGuest(machine: Machine, options: WindowsGuestOptions): CpuSnapshot[] {
  const image = windowsGuestImage(options);
  for (const w of image.writes) machine.memory.write(w.gpa, w.bytes);
  const dma = new DmaDriver(machine, 'linux');
  // The driver's scratch buffer (1 MiB by default) would land on the note: move it past it. Its
  // descriptor sits at 16 MiB, so machines need more than 16 MiB.
  dma.bufferGpa = 0x180000;
  const entry = findFile(dma, 'etc/vmcoreinfo');
  if (entry === undefined) throw new Error('the machine has no vmcoreinfo device');
  const record = new Uint8Array(16);
  const r = new DataView(record.buffer);
  r.setUint16(2, 1, true);
  r.setUint32(4, image.note.length, true);
  r.setBigUint64(8, BigInt(image.noteGpa), true);
  if (dma.writeDma(entry.key, record) !== 0) throw new Error('vmcoreinfo registration failed');
  return image.cpus;
}
