/**
 * fast-check over small dumps of every kind (ELF64, ELF32, flattened and raw kdump in both
 * header classes, with and without FP notes and a VMCOREINFO note): random truncations and random
 * byte changes. Whatever the bytes, reading the headers, every memory range, the DumpSource and
 * its blocks either works or throws DumpReadError; nothing else (no RangeError, no codec error,
 * no stack overflow) may escape.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { dumpSourceFromBytes, type DumpFormat } from '../../../../src/index.js';
import { DumpReadError } from '../../../../src/dump/read/errors.js';
import { inputFromBytes } from '../../../../src/dump/read/input.js';
import { readDump } from '../../../../src/dump/read/read-dump.js';
import { customFpu, dumpBytes, elfNote, longModeCpu, protectedCpu, VMCOREINFO, waitingCpu } from './helpers.js';

/** At most this many bytes of memory are read per case, so a corrupted size cannot stall a run. */
const READ_BUDGET = 256 * 1024;

const ram = Uint8Array.from({ length: 0x6000 }, (_, i) => (i % 17 === 0 ? 0 : (i * 37 + (i >> 9)) & 0xff));
const blocks = [{ gpa: 0, bytes: ram.subarray(0, 0x4000) }, { gpa: 0x9000, bytes: ram.subarray(0x4000, 0x4800) }, { gpa: 0x20000, bytes: new Uint8Array(0x1000) }];
const guestNote = { kind: 'note' as const, bytes: elfNote('VMCOREINFO', VMCOREINFO) };

const SOURCES = {
  long: dumpSourceFromBytes(blocks, [longModeCpu(0, customFpu()), waitingCpu(1)], guestNote),
  protected: dumpSourceFromBytes(blocks, [protectedCpu(0, customFpu())], guestNote),
};
const VARIANTS: readonly { name: string; source: keyof typeof SOURCES; format: DumpFormat; compat?: 'qemu-7.2' }[] = [
  { name: 'ELF64', source: 'long', format: 'elf' },
  { name: 'ELF32 (qemu-7.2)', source: 'protected', format: 'elf', compat: 'qemu-7.2' },
  { name: 'flattened kdump, 64-bit header', source: 'long', format: 'kdump-zlib', compat: 'qemu-7.2' },
  { name: 'flattened kdump, 32-bit header', source: 'protected', format: 'kdump-zlib' },
  { name: 'raw kdump, 64-bit header', source: 'long', format: 'kdump-raw-zlib' },
  { name: 'raw kdump, 32-bit header', source: 'protected', format: 'kdump-raw-zlib', compat: 'qemu-7.2' },
];

/** Everything a user of a DumpFile may do, within the read budget. */
async function exercise(bytes: Uint8Array): Promise<void> {
  const dump = await readDump(inputFromBytes(bytes));
  let budget = READ_BUDGET;
  for (const r of dump.ranges) {
    const length = Math.min(r.size, budget, 0x3000);
    if (length <= 0) break;
    budget -= length;
    await dump.readPhysical(r.gpa, new Uint8Array(length));
  }
  const source = await dump.toDumpSource();
  for (const block of source.blocks) {
    const length = Math.min(block.sizeBytes, budget, 0x3000);
    if (length <= 0) break;
    budget -= length;
    block.read(0, length);
    source.readPhysical(block.gpa, new Uint8Array(Math.min(length, 64)));
  }
}

async function onlyDumpReadErrors(bytes: Uint8Array): Promise<void> {
  try {
    await exercise(bytes);
  } catch (error) {
    if (!(error instanceof DumpReadError)) throw error;
    expect(error.message).toMatch(/^(unknown format|truncated|bad field|bad page|unsupported|read failed)( at offset 0x[0-9a-f]+)?: |^bad field: /);
  }
}

describe.each(VARIANTS)('$name', (variant) => {
  let dump: Uint8Array = new Uint8Array(0);
  beforeAll(async () => {
    dump = await dumpBytes(SOURCES[variant.source], variant.format, variant.compat);
    await exercise(dump);
  });

  it('random truncations throw nothing but DumpReadError', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(), async (n) => {
      await onlyDumpReadErrors(dump.subarray(0, n % dump.length));
    }), { numRuns: 150 });
  });

  it('random byte changes throw nothing but DumpReadError', async () => {
    // Most of a dump is page data; aim half the changes at the headers, notes and tables.
    const position = fc.oneof(fc.nat({ max: Math.min(dump.length - 1, 0x5000) }), fc.nat({ max: dump.length - 1 }));
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(position, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (edits) => {
      const bytes = dump.slice();
      for (const [at, value] of edits) bytes[at] = value;
      await onlyDumpReadErrors(bytes);
    }), { numRuns: 300 });
  });

  it('runs of 0xff or 0x00 over header fields throw nothing but DumpReadError', async () => {
    await fc.assert(fc.asyncProperty(fc.nat({ max: Math.min(dump.length - 1, 0x5000) }), fc.integer({ min: 1, max: 16 }), fc.constantFrom(0x00, 0xff, 0x7f), async (at, length, value) => {
      const bytes = dump.slice();
      bytes.fill(value, at, at + length);
      await onlyDumpReadErrors(bytes);
    }), { numRuns: 200 });
  });
});
