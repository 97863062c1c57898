/**
 * Guest memory as win-dmp sees it while it patches: a copy-on-write overlay over the dump source.
 * QEMU writes each CPU's CONTEXT into guest RAM, dumps, then writes the saved bytes back; here
 * the writes land in private page copies that the physical reads (page walks included) and the
 * written runs see, and guest RAM is never written at all. The file is the same, and guest memory
 * is unchanged on every path: success, a guest error half-way through, a failing sink, an abort.
 *
 * Virtual access is QEMU's cpu_memory_rw_debug on the first CPU: page by page, each page through
 * the debug walk (translateDebug) with CPU 0's paging controls and the header's DirectoryTableBase
 * as CR3; a page that does not translate, or whose bytes are not all guest RAM or ROM, fails the
 * call, and bytes already copied stay copied (callers that read into the header rely on that).
 */

import { pagingControl, translateDebug, type PagingControl, type PageTableMemory } from '../../cpu/paging.js';
import type { CpuSnapshot } from '../../cpu/state.js';
import type { DumpSource } from '../source.js';
import { PAGE_SIZE } from './layout.js';

const TWO64 = 1n << 64n;

export class PatchedGuestMemory {
  readonly #source: DumpSource;
  /** Written pages by page number: the whole page as it reads after the writes. */
  readonly #pages = new Map<number, Uint8Array>();
  readonly #control: PagingControl;
  readonly #tables: PageTableMemory;
  readonly #word = new Uint8Array(4);

  /** `cr3`: the header's DirectoryTableBase, which replaces CPU 0's CR3 for the walk. */
  constructor(source: DumpSource, cpu0: CpuSnapshot, cr3: bigint) {
    this.#source = source;
    this.#control = pagingControl({ ...cpu0, cr3: BigInt.asUintN(64, cr3) });
    // Page-table reads see the overlay too, and read unbacked addresses as 0 (not present).
    this.#tables = { readU32: (gpa) => (this.readPhysical(gpa, this.#word) ? new DataView(this.#word.buffer).getUint32(0, true) : 0) };
  }

  /** Pages the dump has patched, ascending (for writing the runs). */
  patchedPages(): readonly number[] {
    return [...this.#pages.keys()].sort((a, b) => a - b);
  }

  page(pfn: number): Uint8Array | undefined {
    return this.#pages.get(pfn);
  }

  /** Physical read; false (with holes zeroed) if any byte is not guest RAM or ROM. */
  readPhysical(gpa: number, dst: Uint8Array): boolean {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(gpa + dst.length)) {
      dst.fill(0);
      return false;
    }
    const ok = this.#source.readPhysical(gpa, dst);
    if (this.#pages.size === 0 || dst.length === 0) return ok;
    const first = Math.floor(gpa / PAGE_SIZE);
    const last = Math.floor((gpa + dst.length - 1) / PAGE_SIZE);
    for (let pfn = first; pfn <= last; pfn++) {
      const page = this.#pages.get(pfn);
      if (page === undefined) continue;
      const start = Math.max(gpa, pfn * PAGE_SIZE);
      const end = Math.min(gpa + dst.length, (pfn + 1) * PAGE_SIZE);
      dst.set(page.subarray(start - pfn * PAGE_SIZE, end - pfn * PAGE_SIZE), start - gpa);
    }
    return ok;
  }

  /** Physical write into the overlay; false (nothing written) if any byte is not RAM or ROM. */
  writePhysical(gpa: number, src: Uint8Array): boolean {
    if (!this.#source.readPhysical(gpa, new Uint8Array(src.length))) return false;
    let done = 0;
    while (done < src.length) {
      const at = gpa + done;
      const pfn = Math.floor(at / PAGE_SIZE);
      let page = this.#pages.get(pfn);
      if (page === undefined) {
        page = new Uint8Array(PAGE_SIZE);
        this.#source.readPhysical(pfn * PAGE_SIZE, page);
        this.#pages.set(pfn, page);
      }
      const n = Math.min(src.length - done, PAGE_SIZE - (at % PAGE_SIZE));
      page.set(src.subarray(done, done + n), at % PAGE_SIZE);
      done += n;
    }
    return true;
  }

  /** Physical address of linear `va` (a 64-bit value), or undefined. */
  translate(va: bigint): number | undefined {
    return translateDebug(this.#tables, this.#control, BigInt.asUintN(64, va))?.pa;
  }

  /** cpu_memory_rw_debug read: false on the first page that fails (earlier pages stay copied). */
  readVirtual(va: bigint, dst: Uint8Array): boolean {
    return this.#eachPage(va, dst.length, (pa, offset, length) => this.readPhysical(pa, dst.subarray(offset, offset + length)));
  }

  /** cpu_memory_rw_debug write: false on the first page that fails (earlier pages stay written). */
  writeVirtual(va: bigint, src: Uint8Array): boolean {
    return this.#eachPage(va, src.length, (pa, offset, length) => this.writePhysical(pa, src.subarray(offset, offset + length)));
  }

  #eachPage(va: bigint, length: number, access: (pa: number, offset: number, length: number) => boolean): boolean {
    let done = 0;
    let at = BigInt.asUintN(64, va);
    while (done < length) {
      const inPage = Number(at & BigInt(PAGE_SIZE - 1));
      const n = Math.min(length - done, PAGE_SIZE - inPage);
      const pa = this.translate(at);
      if (pa === undefined) return false;
      if (!access(pa, done, n)) return false;
      done += n;
      at = (at + BigInt(n)) % TWO64;
    }
    return true;
  }
}
