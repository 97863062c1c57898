/**
 * Round trips through the engine and back: a machine with recognisable RAM, a VMCOREINFO note
 * and custom CPU snapshots is dumped as ELF, flattened kdump and raw kdump (zlib), in the default
 * and the qemu-7.2 flavour, then read back: memory at several addresses, holes, ranges, every CPU
 * register a dump carries (1 and 2 CPUs; long mode, 32-bit paging, real mode), the VMCOREINFO
 * text and the kdump phys_base (decimal as Linux writes it, or QEMU 7.2's hex misreading).
 */
import { describe, expect, it } from 'vitest';
import { dumpSourceFromMachine, type CpuSnapshot, type DumpFormat } from '../../../../src/index.js';
import { inputFromBytes } from '../../../../src/dump/read/input.js';
import { readDump, type DumpFile } from '../../../../src/dump/read/read-dump.js';
import { customFpu, dumpBytes, expectedCpu, firstDifference, longModeCpu, markBytes, markedMachine, MARKS, protectedCpu, VMCOREINFO, waitingCpu } from './helpers.js';

const FORMATS: readonly { format: DumpFormat; file: DumpFile['format'] }[] = [
  { format: 'elf', file: 'elf' },
  { format: 'kdump-zlib', file: 'kdump-flattened' },
  { format: 'kdump-raw-zlib', file: 'kdump-raw' },
];
const FLAVOURS = [undefined, 'qemu-7.2'] as const;
const ROM_GPA = 0xffff0000;

interface Case {
  readonly name: string;
  readonly cpus: readonly CpuSnapshot[];
  readonly machine: 'x86_64' | 'i386';
}

const CASES: readonly Case[] = [
  { name: '1 CPU in long mode', cpus: [longModeCpu(0, customFpu())], machine: 'x86_64' },
  { name: '2 CPUs: long mode and an AP waiting for SIPI', cpus: [longModeCpu(0, customFpu()), waitingCpu(1)], machine: 'x86_64' },
  { name: '2 CPUs, both in long mode', cpus: [longModeCpu(0), longModeCpu(1, customFpu())], machine: 'x86_64' },
  { name: '1 CPU in 32-bit protected mode with paging', cpus: [protectedCpu(0, customFpu())], machine: 'i386' },
  { name: '2 CPUs: 32-bit and real mode', cpus: [protectedCpu(0), waitingCpu(1)], machine: 'i386' },
];

async function expectMemory(dump: DumpFile): Promise<void> {
  for (const m of MARKS) {
    const got = new Uint8Array(m.length);
    expect(await dump.readPhysical(m.gpa, got)).toBe(true);
    expect(got).toEqual(markBytes(m.gpa, m.length));
  }
  // Untouched RAM reads zero, the BIOS ROM reads its HLT bytes.
  const zero = new Uint8Array(4096);
  expect(await dump.readPhysical(0x800000, zero)).toBe(true);
  expect(zero.every((b) => b === 0)).toBe(true);
  const rom = new Uint8Array(16);
  expect(await dump.readPhysical(ROM_GPA + 0xfff0, rom)).toBe(true);
  expect(rom).toEqual(new Uint8Array(16).fill(0xf4));
  // A read straddling the end of RAM: the hole reads as zeros and the call says so.
  const straddle = new Uint8Array(0x2000).fill(0xaa);
  expect(await dump.readPhysical(0x1fff000, straddle)).toBe(false);
  expect(straddle.subarray(0, 0x1000)).toEqual(markBytes(0x1fff000, 0x1000));
  expect(straddle.subarray(0x1000).every((b) => b === 0)).toBe(true);
}

describe.each(FORMATS)('$format written by the engine reads back', ({ format, file }) => {
  describe.each(FLAVOURS)('flavour %s', (compat) => {
    it.each(CASES)('$name: memory, CPUs, VMCOREINFO, phys_base', async ({ cpus, machine }) => {
      const vm = markedMachine({ cpus: cpus.length, vmcoreinfo: VMCOREINFO });
      const bytes = await dumpBytes(dumpSourceFromMachine(vm, cpus), format, compat);
      const dump = await readDump(inputFromBytes(bytes));
      expect(dump.format).toBe(file);
      expect(dump.machine).toBe(machine);
      // The pc machine's BIOS ROM ends at 4 GiB, which makes every dump ELF64 (spec §2.2).
      expect(dump.elfClass).toBe(64);
      expect(dump.ranges).toEqual([{ gpa: 0, size: 32 << 20 }, { gpa: ROM_GPA, size: 0x10000 }]);
      expect(dump.cpus).toEqual(cpus.map((c, i) => expectedCpu(c, compat, machine, i)));
      expect(dump.vmcoreinfo).toBe(VMCOREINFO);
      expect(dump.guestNote?.length).toBe(12 + 12 + Math.ceil(VMCOREINFO.length / 4) * 4);
      if (format === 'elf') {
        expect(dump.physBase).toBeUndefined();
      } else {
        // phys_base is read only for x86_64 dumps; QEMU 7.2 reads Linux's decimal as hex.
        const physBase = machine === 'i386' ? 0n : compat === 'qemu-7.2' ? 0x16777216n : 16777216n;
        expect(dump.physBase).toBe(physBase);
        expect(dump.kdump?.nrCpus).toBe(cpus.length);
        expect(dump.kdump?.compression).toBe('zlib');
      }
      await expectMemory(dump);
      // And the same file converted to its own format is the same file.
      const again = await dumpBytes(await dump.toDumpSource(), format, compat);
      expect(firstDifference(again, bytes)).toBe(-1);
    });
  });
});

describe('without a vmcoreinfo note', () => {
  it.each(FORMATS)('$format has no VMCOREINFO, no guest note, phys_base 0', async ({ format }) => {
    const vm = markedMachine();
    const dump = await readDump(inputFromBytes(await dumpBytes(dumpSourceFromMachine(vm, [longModeCpu(0)]), format, 'qemu-7.2')));
    expect(dump.vmcoreinfo).toBeUndefined();
    expect(dump.guestNote).toBeUndefined();
    expect(dump.notes.map((n) => n.name)).toEqual(['CORE', 'QEMU']);
    if (format !== 'elf') expect(dump.physBase).toBe(0n);
    await expectMemory(dump);
  });
});

describe('the DumpSource of a dump read back', () => {
  it('has the dump\'s blocks, CPUs and guest note, and reads lazily from the input', async () => {
    const vm = markedMachine({ vmcoreinfo: VMCOREINFO });
    const bytes = await dumpBytes(dumpSourceFromMachine(vm, [longModeCpu(0)]), 'elf', 'qemu-7.2');
    let reads = 0;
    const input = inputFromBytes(bytes);
    const counted = { size: input.size, read: (o: number, l: number): Uint8Array | Promise<Uint8Array> => { reads += l; return input.read(o, l); } };
    const dump = await readDump(counted);
    const headerReads = reads;
    expect(headerReads).toBeLessThan(8192);
    const source = await dump.toDumpSource();
    expect(reads - headerReads).toBeLessThan(16);
    expect(source.blocks.map((b) => [b.gpa, b.sizeBytes])).toEqual(vm.memory.blocks().map((b) => [b.gpa, b.sizeBytes]));
    expect(source.cpus).toEqual(dump.cpus);
    expect(source.guestNote).toEqual({ kind: 'note', bytes: dump.guestNote });
    const block = source.blocks[0];
    expect(block?.read(0x123456, 3000)).toEqual(markBytes(0x123456, 3000));
    const dst = new Uint8Array(64);
    expect(source.readPhysical(0, dst)).toBe(true);
    expect(dst).toEqual(markBytes(0, 64));
  });
});
