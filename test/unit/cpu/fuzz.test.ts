/**
 * Random bytes as code, in real mode, 32-bit protected mode and 64-bit long mode (fast-check):
 * whatever the guest executes, `run` ends with a reason, nothing escapes into the host, the
 * firmware ROM is unchanged (guest writes land in RAM or nowhere), and the CPU can still be
 * snapshotted and dumped.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMachine, dumpGuestMemory, dumpSourceFromMachine, MemorySink, type Machine } from '../../../src/index.js';
import { powerOnSnapshot, type CpuSnapshot } from '../../../src/cpu/state.js';
import { flat32Snapshot } from '../../support/cpu-snapshots.js';

const CODE = 0x1000;
const PML4 = 0x10000;
const REASONS = ['halted', 'debug-exit', 'triple-fault', 'instruction-limit', 'stopped'];

function firmware(): Uint8Array {
  const image = new Uint8Array(0x10000).fill(0xf4); // HLT everywhere
  image.set([0xea, 0x00, 0x10, 0x00, 0x00], 0xfff0); // jmp 0000:1000
  return image;
}

function realMode(): CpuSnapshot {
  const s = powerOnSnapshot(0);
  return { ...s, rip: BigInt(CODE), segments: { ...s.segments, cs: { selector: 0, base: 0n, limit: 0xffff, flags: 0x9b00 } } };
}


function long64(machine: Machine): CpuSnapshot {
  // Identity map of the first 16 MiB with 2 MiB pages.
  const tables = new Uint8Array(0x3000);
  const dv = new DataView(tables.buffer);
  dv.setUint32(0, PML4 + 0x1000 + 0x3, true);
  dv.setUint32(0x1000, PML4 + 0x2000 + 0x3, true);
  for (let i = 0; i < 8; i++) dv.setUint32(0x2000 + i * 8, i * 0x200000 + 0x83, true);
  machine.memory.write(PML4, tables);
  const s = flat32Snapshot(CODE);
  return {
    ...s,
    cr0: 0xe0000011n,
    cr3: BigInt(PML4),
    cr4: 0x20n,
    efer: 0x500n,
    segments: { ...s.segments, cs: { selector: 0x08, base: 0n, limit: 0xffffffff, flags: 0x00af9b00 } },
  };
}

const MODES: readonly [string, (m: Machine) => CpuSnapshot][] = [
  ['real mode', () => realMode()],
  ['32-bit protected mode', () => flat32Snapshot(CODE)],
  ['64-bit long mode', (m) => long64(m)],
];

describe.each(MODES)('random code in %s', (_name, setup) => {
  it('always ends with a reason, never throws, and leaves the ROM alone', async () => {
    const machine = createMachine({ memorySize: '16M', firmware: firmware() });
    const rom = Buffer.from(machine.memory.read(0xffff0000, 0x10000));
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 48 }), fc.uint8Array({ minLength: 0, maxLength: 64 }), async (code, stack) => {
      machine.memory.write(0, new Uint8Array(0x1000)); // IVT/low memory: zero
      machine.memory.write(CODE, new Uint8Array(0x100));
      machine.memory.write(CODE, code);
      machine.memory.write(0x8000, stack);
      machine.bsp.load(setup(machine));
      const result = await machine.run({ maxInstructions: 3000 });
      expect(REASONS).toContain(result.reason);
      // Compared as one string: a deep equal of 64 KiB arrays per run would dominate the test.
      expect(Buffer.from(machine.memory.read(0xffff0000, 0x10000)).equals(rom)).toBe(true);
      const snapshot = machine.bsp.snapshot();
      expect(typeof snapshot.rip).toBe('bigint');
    }), { numRuns: 150 });
    // The machine still dumps after all that.
    const sink = new MemorySink();
    await dumpGuestMemory(dumpSourceFromMachine(machine), { sink, format: 'elf' });
    expect(sink.bytes().length).toBeGreaterThan(16 * 2 ** 20);
  });
});
