/**
 * Guest-physical memory: RAM and ROM regions over chunked backing stores.
 *
 * Three kinds of access, for three kinds of caller:
 *  - host (`read`, `write`): an embedder or test; out-of-range throws MemoryError, ROM is writable.
 *  - all-or-nothing (`readInto`, `writeFrom`): false and no change unless every byte is RAM/ROM.
 *  - DMA (`dmaRead`, `dmaWrite`, `dmaFill`): QEMU's address_space_rw. Each byte goes where it maps;
 *    bytes in holes read 0, and writes to holes or ROM are dropped; false if any byte was refused.
 * Backing stores are split into 1 GiB chunks so guests larger than one ArrayBuffer work.
 */

import type { Diagnostics } from './diagnostics.js';
import { MemoryError } from './errors.js';

export type RegionKind = 'ram' | 'rom';

/** Contiguous bytes that regions view: guest RAM, or one firmware image. */
export class BackingStore {
  static readonly CHUNK_BYTES = 2 ** 30;
  readonly name: string;
  readonly sizeBytes: number;
  readonly chunks: readonly Uint8Array[];

  constructor(name: string, sizeBytes: number) {
    this.name = name;
    this.sizeBytes = sizeBytes;
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < sizeBytes; at += BackingStore.CHUNK_BYTES) {
      chunks.push(new Uint8Array(Math.min(BackingStore.CHUNK_BYTES, sizeBytes - at)));
    }
    this.chunks = chunks;
  }

  /** Calls `visit` for each chunk piece of [offset, offset+length), in order. */
  forEachPiece(offset: number, length: number, visit: (chunk: Uint8Array, chunkOffset: number, doneBytes: number, pieceBytes: number) => void): void {
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = Math.floor(at / BackingStore.CHUNK_BYTES);
      const chunk = this.chunks[index];
      if (chunk === undefined) return;
      const chunkOffset = at - index * BackingStore.CHUNK_BYTES;
      const piece = Math.min(length - done, chunk.length - chunkOffset);
      visit(chunk, chunkOffset, done, piece);
      done += piece;
    }
  }
}

/** One guest-physical range and what backs it. Regions are sorted and disjoint. */
export interface MemoryRegion {
  /** QEMU's region name: ram-below-4g, ram-above-4g, pc.bios, isa-bios, pc.rom ... */
  readonly name: string;
  readonly gpa: number;
  readonly sizeBytes: number;
  readonly kind: RegionKind;
  readonly backing: BackingStore;
  readonly backingOffset: number;
}

/** A maximal run of regions that are contiguous both in guest-physical space and in backing. */
export interface GuestPhysBlock {
  readonly gpa: number;
  readonly sizeBytes: number;
  readonly regions: readonly MemoryRegion[];
}

/**
 * What a DMA-capable device needs of guest memory: QEMU's address_space_rw rules (see the DMA
 * methods of GuestMemory). An embedder's own RAM (the v86 adapter's) implements it too.
 */
export interface DmaMemory {
  dmaRead(gpa: number, dst: Uint8Array): boolean;
  dmaWrite(gpa: number, src: Uint8Array): boolean;
  dmaFill(gpa: number, length: number, value: number): boolean;
}

export class GuestMemory implements DmaMemory {
  readonly regions: readonly MemoryRegion[];
  readonly #diagnostics: Diagnostics;

  constructor(regions: readonly MemoryRegion[], diagnostics: Diagnostics) {
    this.regions = [...regions].sort((a, b) => a.gpa - b.gpa);
    this.#diagnostics = diagnostics;
  }

  /**
   * Guest-physical blocks as QEMU's guest_phys_blocks lists them for a dump: adjacent regions
   * merge when their backing bytes are adjacent too.
   */
  blocks(): GuestPhysBlock[] {
    const out: { gpa: number; sizeBytes: number; regions: MemoryRegion[] }[] = [];
    for (const region of this.regions) {
      const last = out.at(-1);
      const prev = last?.regions.at(-1);
      if (
        last !== undefined &&
        prev !== undefined &&
        last.gpa + last.sizeBytes === region.gpa &&
        prev.backing === region.backing &&
        prev.backingOffset + prev.sizeBytes === region.backingOffset
      ) {
        last.sizeBytes += region.sizeBytes;
        last.regions.push(region);
      } else {
        out.push({ gpa: region.gpa, sizeBytes: region.sizeBytes, regions: [region] });
      }
    }
    return out;
  }

  /** Copy of `length` bytes for the host. @throws MemoryError 'out-of-range' unless all mapped. */
  read(gpa: number, length: number): Uint8Array {
    checkRange(gpa, length);
    const out = new Uint8Array(length);
    if (!this.readInto(gpa, out)) throw outOfRange(gpa, length);
    return out;
  }

  /** Host write (ROM included). @throws MemoryError 'out-of-range' unless all mapped; nothing written then. */
  write(gpa: number, bytes: Uint8Array): void {
    checkRange(gpa, bytes.length);
    if (!this.writeFrom(gpa, bytes)) throw outOfRange(gpa, bytes.length);
  }

  /** All-or-nothing read: false, and `dst` untouched, unless every byte is mapped. */
  readInto(gpa: number, dst: Uint8Array): boolean {
    if (!this.#covered(gpa, dst.length)) return false;
    this.#visit(gpa, dst.length, (chunk, chunkOffset, done, piece) => {
      dst.set(chunk.subarray(chunkOffset, chunkOffset + piece), done);
    });
    return true;
  }

  /** All-or-nothing host write (ROM included): false, and nothing written, unless all mapped. */
  writeFrom(gpa: number, src: Uint8Array): boolean {
    if (!this.#covered(gpa, src.length)) return false;
    this.#visit(gpa, src.length, (chunk, chunkOffset, done, piece) => {
      chunk.set(src.subarray(done, done + piece), chunkOffset);
    });
    return true;
  }

  /**
   * Zero-copy window on guest bytes, or undefined if the range is not inside one region and one
   * backing chunk. Writes through the view bypass ROM protection: host use only.
   */
  view(gpa: number, length: number): Uint8Array | undefined {
    const region = this.#regionAt(gpa);
    if (region === undefined || gpa + length > region.gpa + region.sizeBytes) return undefined;
    const offset = region.backingOffset + (gpa - region.gpa);
    const index = Math.floor(offset / BackingStore.CHUNK_BYTES);
    const chunk = region.backing.chunks[index];
    const chunkOffset = offset - index * BackingStore.CHUNK_BYTES;
    if (chunk === undefined || chunkOffset + length > chunk.length) return undefined;
    return chunk.subarray(chunkOffset, chunkOffset + length);
  }

  /** DMA read: bytes in holes read as 0. False if any byte was not mapped. */
  dmaRead(gpa: number, dst: Uint8Array): boolean {
    // Widened: the visitor below clears it, which flow analysis cannot see.
    let ok = true as boolean;
    this.#visitMapped(gpa, dst.length, false, (refused, chunk, chunkOffset, done, piece) => {
      if (refused !== MAPPED || chunk === undefined) {
        dst.fill(0, done, done + piece);
        ok = false;
      } else {
        dst.set(chunk.subarray(chunkOffset, chunkOffset + piece), done);
      }
    });
    if (!ok) this.#diagnostics.report('memory-unmapped-read', () => `DMA read of ${dst.length} bytes at 0x${gpa.toString(16)}`);
    return ok;
  }

  /** DMA write: RAM bytes are written; bytes over holes or ROM are dropped. False if any were. */
  dmaWrite(gpa: number, src: Uint8Array): boolean {
    let refusedBy: Refusal = MAPPED;
    this.#visitMapped(gpa, src.length, true, (refused, chunk, chunkOffset, done, piece) => {
      if (refused !== MAPPED || chunk === undefined) refusedBy = Math.max(refusedBy, refused) as Refusal;
      else chunk.set(src.subarray(done, done + piece), chunkOffset);
    });
    return this.#reportWrite(refusedBy, () => `DMA write of ${src.length} bytes at 0x${gpa.toString(16)}`);
  }

  /** DMA fill of `length` bytes with `value`, with dmaWrite's rules; no buffer of that size is made. */
  dmaFill(gpa: number, length: number, value: number): boolean {
    let refusedBy: Refusal = MAPPED;
    this.#visitMapped(gpa, length, true, (refused, chunk, chunkOffset, _done, piece) => {
      if (refused !== MAPPED || chunk === undefined) refusedBy = Math.max(refusedBy, refused) as Refusal;
      else chunk.fill(value, chunkOffset, chunkOffset + piece);
    });
    return this.#reportWrite(refusedBy, () => `DMA fill of ${length} bytes at 0x${gpa.toString(16)}`);
  }

  #reportWrite(refusedBy: Refusal, detail: () => string): boolean {
    if (refusedBy === HOLE) this.#diagnostics.report('memory-unmapped-write', detail);
    if (refusedBy === ROM) this.#diagnostics.report('memory-rom-write', detail);
    return refusedBy === MAPPED;
  }

  /** The region holding `gpa`, if any. */
  regionAt(gpa: number): MemoryRegion | undefined {
    return this.#regionAt(gpa);
  }

  #regionAt(gpa: number): MemoryRegion | undefined {
    for (const region of this.regions) {
      if (gpa < region.gpa) return undefined;
      if (gpa < region.gpa + region.sizeBytes) return region;
    }
    return undefined;
  }

  /** Whether every byte of the range is RAM or ROM. */
  #covered(gpa: number, length: number): boolean {
    if (!validRange(gpa, length)) return false;
    let at = gpa;
    const end = gpa + length;
    while (at < end) {
      const region = this.#regionAt(at);
      if (region === undefined) return false;
      at = region.gpa + region.sizeBytes;
    }
    return true;
  }

  /** Visits the backing pieces of a fully mapped range (callers check coverage first). */
  #visit(gpa: number, length: number, visit: (chunk: Uint8Array, chunkOffset: number, done: number, piece: number) => void): void {
    let done = 0;
    while (done < length) {
      const at = gpa + done;
      const region = this.#regionAt(at);
      if (region === undefined) return;
      const inRegion = Math.min(length - done, region.gpa + region.sizeBytes - at);
      const base = done;
      region.backing.forEachPiece(region.backingOffset + (at - region.gpa), inRegion, (chunk, chunkOffset, pieceDone, piece) => {
        visit(chunk, chunkOffset, base + pieceDone, piece);
      });
      done += inRegion;
    }
  }

  /**
   * Visits [gpa, gpa+length) as mapped pieces and refused pieces (holes, and ROM when writing),
   * jumping over holes by region boundaries so a 4 GiB length over a small guest stays cheap.
   */
  #visitMapped(
    gpa: number,
    length: number,
    writing: boolean,
    visit: (refused: Refusal, chunk: Uint8Array | undefined, chunkOffset: number, done: number, piece: number) => void,
  ): void {
    if (!Number.isFinite(gpa) || gpa < 0 || length <= 0) {
      if (length > 0) visit(HOLE, undefined, 0, 0, length);
      return;
    }
    let done = 0;
    for (const region of this.regions) {
      if (done >= length) break;
      const regionEnd = region.gpa + region.sizeBytes;
      const at = gpa + done;
      if (regionEnd <= at) continue;
      if (region.gpa >= gpa + length) break;
      if (region.gpa > at) {
        const gap = region.gpa - at;
        visit(HOLE, undefined, 0, done, gap);
        done += gap;
      }
      const piece = Math.min(gpa + length, regionEnd) - (gpa + done);
      if (writing && region.kind === 'rom') {
        visit(ROM, undefined, 0, done, piece);
      } else {
        const base = done;
        region.backing.forEachPiece(region.backingOffset + (gpa + done - region.gpa), piece, (chunk, chunkOffset, pieceDone, pieceBytes) => {
          visit(MAPPED, chunk, chunkOffset, base + pieceDone, pieceBytes);
        });
      }
      done += piece;
    }
    if (done < length) visit(HOLE, undefined, 0, done, length - done);
  }
}

/** Why a DMA piece was refused; the larger value wins when a range has several. */
const MAPPED = 0;
const HOLE = 1;
const ROM = 2;
type Refusal = typeof MAPPED | typeof HOLE | typeof ROM;

function validRange(gpa: number, length: number): boolean {
  return Number.isSafeInteger(gpa) && gpa >= 0 && Number.isSafeInteger(length) && length >= 0;
}

function checkRange(gpa: number, length: number): void {
  if (!validRange(gpa, length)) {
    throw new MemoryError('invalid-address', `guest range ${String(gpa)}+${String(length)} is not a pair of non-negative safe integers`);
  }
}

function outOfRange(gpa: number, length: number): MemoryError {
  return new MemoryError('out-of-range', `guest range 0x${gpa.toString(16)}+0x${length.toString(16)} is not entirely guest RAM or ROM`);
}
