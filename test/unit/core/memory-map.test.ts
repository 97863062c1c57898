/**
 * The pc/q35 memory layout against QEMU 7.2's own flat view at reset (`info mtree -f`, captured by
 * scripts/golden/capture-memory-map.mjs) around QEMU's low-memory thresholds and for firmware
 * images of 64 and 256 KiB. Each QEMU line names the backing block and the offset into it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { layoutMemory, parseSize, type MachineType } from '../../../src/index.js';

const DIR = new URL('../../fixtures/qemu-7.2/memory-map/', import.meta.url);
const BACKING_NAME = { ram: 'pc.ram', 'option-rom': 'pc.rom', firmware: 'pc.bios' } as const;

interface FlatRange {
  readonly start: string;
  readonly end: string;
  readonly kind: string;
  readonly block: string;
  readonly offset: string;
}

function qemuRanges(file: string): FlatRange[] {
  return readFileSync(new URL(file, DIR), 'utf8').trim().split('\n').map((line) => {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \(prio \d+, (ram|rom)\): (\S+)(?: @([0-9a-f]+))?$/.exec(line);
    if (m === null) throw new Error(`unexpected flat view line: ${line}`);
    return { start: BigInt(`0x${m[1] ?? ''}`).toString(16), end: BigInt(`0x${m[2] ?? ''}`).toString(16), kind: m[3] ?? '', block: m[4] ?? '', offset: BigInt(`0x${m[5] ?? '0'}`).toString(16) };
  });
}

describe.each(readdirSync(DIR).filter((f) => f.endsWith('.txt')))('memory layout matches QEMU 7.2 for %s', (file) => {
  const [machine = '', memory = '', firmware = ''] = file.replace(/\.txt$/, '').split('-');
  it('has the same ranges, kinds, backing blocks and offsets', () => {
    const layout = layoutMemory(machine as MachineType, parseSize(memory), parseSize(firmware));
    const ours = layout.regions.map((r) => ({
      start: r.gpa.toString(16),
      end: (r.gpa + r.sizeBytes - 1).toString(16),
      kind: r.kind,
      block: BACKING_NAME[r.backing],
      offset: r.backingOffset.toString(16),
    }));
    expect(ours).toEqual(qemuRanges(file));
  });
});

describe('memory layout thresholds', () => {
  it.each([
    ['pc', '3583M', 0xdff0_0000, 0],
    ['pc', '3584M', 0xc000_0000, 0x2000_0000],
    ['q35', '2815M', 0xaff0_0000, 0],
    ['q35', '2816M', 0x8000_0000, 0x3000_0000],
  ] as const)('%s with %s keeps %i bytes below 4 GiB and %i above', (machine, memory, below, above) => {
    const layout = layoutMemory(machine, parseSize(memory), 65536);
    expect([layout.belowFourGiB, layout.aboveFourGiB, layout.aboveFourGiBStart]).toEqual([below, above, 2 ** 32]);
  });

  it('moves RAM above 4 GiB to 1 TiB when it would reach the AMD HyperTransport hole', () => {
    expect(layoutMemory('q35', 900 * 2 ** 30, 65536).aboveFourGiBStart).toBe(2 ** 32);
    expect(layoutMemory('q35', 1000 * 2 ** 30, 65536).aboveFourGiBStart).toBe(2 ** 40);
  });
});
