/**
 * Guest-physical memory: DMA accessors with QEMU's address_space_rw rules (holes read 0, writes to
 * holes and ROM dropped, false when anything was refused), all-or-nothing host accessors, zero-copy
 * views, and the dump's merged block list.
 */
import { describe, expect, it } from 'vitest';
import { BackingStore, Diagnostics, GuestMemory, MemoryError, type GuestAnomaly, type MemoryRegion, type RegionKind } from '../../../src/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function region(name: string, gpa: number, sizeBytes: number, kind: RegionKind, backing: BackingStore, backingOffset: number): MemoryRegion {
  return { name, gpa, sizeBytes, kind, backing, backingOffset };
}

/** Backing byte patterns, so every byte says where it came from. */
const ramByte = (backingOffset: number): number => (backingOffset * 7 + 3) & 0xff;
const romByte = (backingOffset: number): number => (backingOffset ^ 0x5a) & 0xff;

/**
 * A small map with every interesting junction:
 *
 *   0x0000 A ram@0x0000 | 0x1000 B ram@0x1000 | 0x2000 C rom@0 | 0x3000 hole |
 *   0x4000 D ram@0x3000 | 0x5000 E ram@0x2000 | 0x6000 end
 *
 * A+B are contiguous in guest and backing; B+C only in guest; D+E only in guest (backing jumps
 * back); B and E are contiguous in backing only.
 */
function smallMemory(): { memory: GuestMemory; diagnostics: Diagnostics; ram: BackingStore; rom: BackingStore } {
  const ram = new BackingStore('ram', 0x4000);
  const rom = new BackingStore('rom', 0x1000);
  ram.forEachPiece(0, ram.sizeBytes, (chunk, chunkOffset, done, piece) => {
    for (let i = 0; i < piece; i++) chunk[chunkOffset + i] = ramByte(done + i);
  });
  rom.forEachPiece(0, rom.sizeBytes, (chunk, chunkOffset, done, piece) => {
    for (let i = 0; i < piece; i++) chunk[chunkOffset + i] = romByte(done + i);
  });
  const diagnostics = new Diagnostics();
  const regions = [
    region('E', 0x5000, 0x1000, 'ram', ram, 0x2000),
    region('C', 0x2000, 0x1000, 'rom', rom, 0),
    region('A', 0x0000, 0x1000, 'ram', ram, 0x0000),
    region('D', 0x4000, 0x1000, 'ram', ram, 0x3000),
    region('B', 0x1000, 0x1000, 'ram', ram, 0x1000),
  ];
  return { memory: new GuestMemory(regions, diagnostics), diagnostics, ram, rom };
}

/** What the guest sees at `gpa` in the small map before any write (0 in the hole). */
function initialByte(gpa: number): number {
  if (gpa < 0x2000) return ramByte(gpa);
  if (gpa < 0x3000) return romByte(gpa - 0x2000);
  if (gpa < 0x4000) return 0;
  if (gpa < 0x5000) return ramByte(gpa - 0x4000 + 0x3000);
  return ramByte(gpa - 0x5000 + 0x2000);
}

function initialBytes(gpa: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => initialByte(gpa + i));
}

function counting(diagnostics: Diagnostics, action: () => void): Partial<Record<GuestAnomaly, number>> {
  const before = diagnostics.counts();
  action();
  const out: Partial<Record<GuestAnomaly, number>> = {};
  for (const [kind, n] of Object.entries(diagnostics.counts()) as [GuestAnomaly, number][]) {
    if (n > (before[kind] ?? 0)) out[kind] = n - (before[kind] ?? 0);
  }
  return out;
}

describe('layout', () => {
  it('sorts regions by guest address', () => {
    expect(smallMemory().memory.regions.map((r) => r.name)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('blocks() merges regions only when they are contiguous in both guest and backing', () => {
    const blocks = smallMemory().memory.blocks();
    expect(blocks.map((b) => ({ gpa: b.gpa, sizeBytes: b.sizeBytes, regions: b.regions.map((r) => r.name) }))).toEqual([
      { gpa: 0x0000, sizeBytes: 0x2000, regions: ['A', 'B'] },
      { gpa: 0x2000, sizeBytes: 0x1000, regions: ['C'] },
      { gpa: 0x4000, sizeBytes: 0x1000, regions: ['D'] },
      { gpa: 0x5000, sizeBytes: 0x1000, regions: ['E'] },
    ]);
  });
});

describe('DMA reads', () => {
  it('fill holes with 0, copy RAM and ROM, and return false', () => {
    const { memory, diagnostics } = smallMemory();
    const dst = new Uint8Array(0x1200).fill(0xcc);
    let ok = true;
    const grew = counting(diagnostics, () => { ok = memory.dmaRead(0x2f00, dst); });
    expect(ok).toBe(false);
    expect(dst).toEqual(initialBytes(0x2f00, 0x1200));
    expect(dst.subarray(0x100, 0x1100).every((b) => b === 0)).toBe(true);
    expect(grew['memory-unmapped-read']).toBeGreaterThan(0);
  });

  it('return true across RAM and ROM, and across regions whose backing is not contiguous', () => {
    const { memory, diagnostics } = smallMemory();
    const a = new Uint8Array(0x200);
    const b = new Uint8Array(0x200);
    const grew = counting(diagnostics, () => {
      expect(memory.dmaRead(0x1f00, a)).toBe(true);
      expect(memory.dmaRead(0x4f00, b)).toBe(true);
    });
    expect(a).toEqual(initialBytes(0x1f00, 0x200));
    expect(b).toEqual(initialBytes(0x4f00, 0x200));
    expect(grew).toEqual({});
  });

  it('read zeros anywhere past the map, up to and beyond 2^53', () => {
    const { memory } = smallMemory();
    for (const gpa of [0x6000, 0x1_0000_0000, 2 ** 53, 2 ** 64 - 16]) {
      const dst = new Uint8Array(16).fill(0xcc);
      expect(memory.dmaRead(gpa, dst)).toBe(false);
      expect(dst).toEqual(new Uint8Array(16));
    }
  });
});

describe('DMA writes', () => {
  it('write the RAM bytes, drop the bytes over ROM and holes, and return false', () => {
    const { memory, diagnostics } = smallMemory();
    const src = new Uint8Array(0x2200).fill(0xee);
    let ok = true;
    const grew = counting(diagnostics, () => { ok = memory.dmaWrite(0x1f00, src); });
    expect(ok).toBe(false);
    const after = memory.read(0x0000, 0x3000);
    expect(after.subarray(0x1f00, 0x2000).every((b) => b === 0xee)).toBe(true);
    expect(after.subarray(0, 0x1f00)).toEqual(initialBytes(0, 0x1f00));
    expect(after.subarray(0x2000, 0x3000)).toEqual(initialBytes(0x2000, 0x1000));
    expect(memory.read(0x4000, 0x100).every((b) => b === 0xee)).toBe(true);
    expect(memory.read(0x4100, 0x100)).toEqual(initialBytes(0x4100, 0x100));
    expect((grew['memory-rom-write'] ?? 0) + (grew['memory-unmapped-write'] ?? 0)).toBeGreaterThan(0);
  });

  it('count a write wholly into ROM as a ROM write and one wholly into a hole as unmapped', () => {
    const { memory, diagnostics } = smallMemory();
    const rom = counting(diagnostics, () => { expect(memory.dmaWrite(0x2100, new Uint8Array(8))).toBe(false); });
    const hole = counting(diagnostics, () => { expect(memory.dmaWrite(0x3100, new Uint8Array(8))).toBe(false); });
    expect(Object.keys(rom)).toEqual(['memory-rom-write']);
    expect(rom['memory-rom-write']).toBeGreaterThan(0);
    expect(Object.keys(hole)).toEqual(['memory-unmapped-write']);
    expect(hole['memory-unmapped-write']).toBeGreaterThan(0);
    expect(memory.read(0x2100, 8)).toEqual(initialBytes(0x2100, 8));
  });

  it('land at the right backing offsets across a backing discontinuity and return true', () => {
    const { memory, ram, diagnostics } = smallMemory();
    const src = Uint8Array.from({ length: 0x200 }, (_, i) => i & 0xff);
    const grew = counting(diagnostics, () => { expect(memory.dmaWrite(0x4f00, src)).toBe(true); });
    expect(grew).toEqual({});
    const chunk = ram.chunks[0] ?? new Uint8Array(0);
    expect(chunk.subarray(0x3f00, 0x4000)).toEqual(src.subarray(0, 0x100));
    expect(chunk.subarray(0x2000, 0x2100)).toEqual(src.subarray(0x100));
  });
});

describe('DMA fill', () => {
  it('fills 0xffffffff bytes over a 32 MiB guest quickly, without a buffer of that size', () => {
    const ram = new BackingStore('ram', 32 * MiB);
    const bios = new BackingStore('bios', 64 * KiB);
    bios.chunks[0]?.fill(0xf4);
    const memory = new GuestMemory(
      [region('ram', 0, 32 * MiB, 'ram', ram, 0), region('bios', 0xffff0000, 64 * KiB, 'rom', bios, 0)],
      new Diagnostics(),
    );
    const started = performance.now();
    expect(memory.dmaFill(0x100, 0xffffffff, 0xa5)).toBe(false);
    expect(memory.dmaFill(2 ** 64 - 0x1000, 0xffffffff, 0xa5)).toBe(false);
    const elapsedMs = performance.now() - started;
    const all = ram.chunks[0] ?? new Uint8Array(0);
    expect(all.subarray(0, 0x100).every((b) => b === 0)).toBe(true);
    expect(all.subarray(0x100).every((b) => b === 0xa5)).toBe(true);
    expect(bios.chunks[0]?.every((b) => b === 0xf4)).toBe(true);
    // Generous: filling 32 MiB takes milliseconds; walking or allocating 4 GiB takes seconds.
    expect(elapsedMs).toBeLessThan(1500);
  });

  it('a fill entirely inside RAM returns true; a zero-length fill anywhere is a no-op success', () => {
    const { memory } = smallMemory();
    expect(memory.dmaFill(0x0ff0, 0x20, 0)).toBe(true);
    expect(memory.read(0x0ff0, 0x20)).toEqual(new Uint8Array(0x20));
    expect(memory.dmaFill(0x3000, 0, 0)).toBe(true);
  });
});

describe('all-or-nothing accessors', () => {
  it('readInto returns false and leaves dst untouched unless every byte is mapped', () => {
    const { memory } = smallMemory();
    const dst = new Uint8Array(0x200).fill(0xcc);
    for (const gpa of [0x2f00, 0x3f00, 0x5f00, -1, Number.NaN, 2 ** 64]) {
      expect(memory.readInto(gpa, dst)).toBe(false);
      expect(dst.every((b) => b === 0xcc)).toBe(true);
    }
    expect(memory.readInto(0x1f00, dst)).toBe(true);
    expect(dst).toEqual(initialBytes(0x1f00, 0x200));
  });

  it('writeFrom returns false and writes nothing unless every byte is mapped; ROM is writable by the host', () => {
    const { memory } = smallMemory();
    const src = new Uint8Array(0x200).fill(0xee);
    for (const gpa of [0x2f00, 0x3f00, 0x5f00]) {
      expect(memory.writeFrom(gpa, src)).toBe(false);
    }
    expect(memory.read(0x2e00, 0x200)).toEqual(initialBytes(0x2e00, 0x200));
    expect(memory.read(0x4000, 0x200)).toEqual(initialBytes(0x4000, 0x200));
    expect(memory.read(0x5e00, 0x200)).toEqual(initialBytes(0x5e00, 0x200));
    expect(memory.writeFrom(0x1f00, src)).toBe(true);
    expect(memory.read(0x1f00, 0x200)).toEqual(src);
  });

  it('host read and write throw MemoryError outside guest memory and change nothing', () => {
    const { memory } = smallMemory();
    const expectMemoryError = (action: () => unknown, code: string): void => {
      let error: unknown;
      try {
        action();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MemoryError);
      expect(error).toMatchObject({ code });
    };
    expectMemoryError(() => memory.read(0x2fff, 2), 'out-of-range');
    expectMemoryError(() => { memory.write(0x2fff, new Uint8Array([1, 2])); }, 'out-of-range');
    expectMemoryError(() => memory.read(-1, 1), 'invalid-address');
    expect(memory.read(0x2fff, 1)).toEqual(initialBytes(0x2fff, 1));
  });
});

describe('view()', () => {
  it('is a zero-copy window inside one region, RAM or ROM', () => {
    const { memory } = smallMemory();
    const view = memory.view(0x1100, 0x10);
    expect(view).toEqual(initialBytes(0x1100, 0x10));
    memory.write(0x1100, new Uint8Array([0xab]));
    expect(view?.[0]).toBe(0xab);
    expect(memory.view(0x2000, 0x1000)).toEqual(initialBytes(0x2000, 0x1000));
  });

  it('is undefined across a region boundary (even a backing-contiguous one), in a hole, or past the end', () => {
    const { memory } = smallMemory();
    expect(memory.view(0x0ff0, 0x20)).toBeUndefined();
    expect(memory.view(0x1ff0, 0x20)).toBeUndefined();
    expect(memory.view(0x2ff0, 0x20)).toBeUndefined();
    expect(memory.view(0x3000, 1)).toBeUndefined();
    expect(memory.view(0x5ff0, 0x20)).toBeUndefined();
  });
});
