/**
 * One corrupted or missing byte range at a time in small dumps, each with the exact error code
 * and message the reader gives (offset and field named). Layouts per spec §3 and §5: the ELF64
 * dump has 3 program headers at 0xc0 and 816 note bytes at 0x168; the raw kdump has its
 * sub-header at 0x1000, notes at 0x1068, bitmaps at 0x2000 and page descriptors at 0x4000.
 */
import { describe, expect, it } from 'vitest';
import { DumpEngine, MemorySink, dumpSourceFromBytes, type DumpFormat } from '../../../../src/index.js';
import { DumpReadError } from '../../../../src/dump/read/errors.js';
import { inputFromBytes } from '../../../../src/dump/read/input.js';
import { readDump } from '../../../../src/dump/read/read-dump.js';
import { dumpBytes, longModeCpu } from './helpers.js';

const RAM = Uint8Array.from({ length: 0x3000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
const HIGH = Uint8Array.from({ length: 0x1000 }, (_, i) => (i * 7) & 0xff);
const source = dumpSourceFromBytes([{ gpa: 0, bytes: RAM }, { gpa: 0x10000, bytes: HIGH }], [longModeCpu(0)]);

async function small(format: DumpFormat): Promise<Uint8Array> {
  return dumpBytes(source, format, 'qemu-7.2');
}

function patched(bytes: Uint8Array, edits: readonly (readonly [number, number])[]): Uint8Array {
  const out = bytes.slice();
  for (const [at, value] of edits) out[at] = value;
  return out;
}

function le(value: bigint | number, width: number): number[] {
  return Array.from({ length: width }, (_, i) => Number((BigInt(value) >> BigInt(8 * i)) & 0xffn));
}

function at(offset: number, bytes: readonly number[]): [number, number][] {
  return bytes.map((b, i) => [offset + i, b]);
}

async function failure(action: () => Promise<unknown>): Promise<DumpReadError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(DumpReadError);
    return error as DumpReadError;
  }
  throw new Error('expected a DumpReadError');
}

const readAll = async (bytes: Uint8Array): Promise<void> => {
  const dump = await readDump(inputFromBytes(bytes));
  for (const r of dump.ranges) await dump.readPhysical(r.gpa, new Uint8Array(r.size));
};

describe('ELF', () => {
  it('sanity: the small ELF reads', async () => {
    const bytes = await small('elf');
    await readAll(bytes);
    expect(new DataView(bytes.buffer).getBigUint64(32, true)).toBe(0xc0n);
  });

  it.each([
    ['bad magic', [[0, 0x00]], 'unknown-format', 'unknown format at offset 0x0: not an ELF core, a makedumpfile flattened stream or a kdump file (first bytes 00 45 4c 46 02 01 01 00)'],
    ['EI_CLASS 3', [[4, 3]], 'bad-field', 'bad field at offset 0x4: EI_CLASS is 3, neither ELFCLASS32 (1) nor ELFCLASS64 (2)'],
    ['big-endian', [[5, 2]], 'unsupported', 'unsupported at offset 0x5: EI_DATA is ELFDATA2MSB: big-endian cores are not x86 dumps'],
    ['e_type ET_EXEC', [[16, 2]], 'bad-field', 'bad field at offset 0x10: e_type is 2, not ET_CORE (4)'],
    ['e_machine EM_SPARC', [[18, 2]], 'unsupported', 'unsupported at offset 0x12: e_machine is 2, neither EM_X86_64 (62) nor EM_386 (3)'],
    ['e_phentsize 57', [[54, 57]], 'bad-field', 'bad field at offset 0x36: e_phentsize is 57; ELF64 program headers are 56 bytes'],
    ['note descsz 0xffff', at(0x168 + 4, [0xff, 0xff]), 'bad-field', 'bad field at offset 0x168: note (namesz 5, descsz 65535) runs past the end of the PT_NOTE 0 segment (0x330 bytes at 0x168)'],
  ] as const)('%s', async (_name, edits, code, message) => {
    const error = await failure(async () => readDump(inputFromBytes(patched(await small('elf'), edits))));
    expect({ code: error.code, message: error.message }).toEqual({ code, message });
  });

  it('a truncated program header table: truncated', async () => {
    const bytes = (await small('elf')).subarray(0, 0xc0 + 10);
    const error = await failure(async () => readDump(inputFromBytes(bytes)));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'truncated', message: 'truncated at offset 0xc0: program header table (3 entries) needs 168 bytes, file has 10' });
  });

  it('a PT_LOAD past the end of the file: truncated', async () => {
    const bytes = await small('elf');
    const cut = bytes.subarray(0, bytes.length - 0x1000);
    const error = await failure(async () => readDump(inputFromBytes(cut)));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'truncated', message: `truncated at offset 0x3498: PT_LOAD 2 (p_paddr 0x10000) data needs 4096 bytes, file has ${cut.length - 0x3498}` });
  });

  it('a QEMU note too short for QEMUCPUState: bad-field', async () => {
    // Shrink the QEMU note's descsz to 428 and its namesz stays: the note area still parses.
    const bytes = await small('elf');
    const qemuAt = 0x168 + 356;
    const edited = patched(bytes, at(qemuAt + 4, le(428, 4)));
    // The 12 bytes freed at the end of the area become an empty (skipped) note header.
    edited.fill(0, qemuAt + 12 + 8 + 428, qemuAt + 12 + 8 + 440);
    const error = await failure(async () => readDump(inputFromBytes(edited)));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'bad-field', message: 'bad field at offset 0x2cc: QEMU note of CPU 0 has descsz 428; QEMUCPUState needs at least 432 bytes' });
  });

  it('an empty file, and one cut inside the magic', async () => {
    expect((await failure(async () => readDump(inputFromBytes(new Uint8Array(0))))).message).toBe('unknown format at offset 0x0: the file is empty');
    const error = await failure(async () => readDump(inputFromBytes(Uint8Array.of(0x7f, 0x45, 0x4c))));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'truncated', message: 'truncated at offset 0x0: ELF magic needs 4 bytes, file has 3' });
  });
});

describe('raw kdump', () => {
  const DESC = 0x4000;

  it('sanity: the small kdump has the layout these tests assume', async () => {
    const dump = await readDump(inputFromBytes(await small('kdump-raw-zlib')));
    expect(dump.kdump).toMatchObject({ bitmapOffset: 0x2000, descOffset: DESC, dumpablePages: 4, subHeader: { offsetNote: 0x1068n, noteSize: 816n } });
  });

  it('a file cut inside the sub-header: truncated, naming kdump_sub_header', async () => {
    const bytes = (await small('kdump-raw-zlib')).subarray(0, 0x1000 + 12);
    const error = await failure(async () => readDump(inputFromBytes(bytes)));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'truncated', message: 'truncated at offset 0x1000: kdump_sub_header needs 104 bytes, file has 12' });
  });

  it.each([
    ['bad signature', [[4, 0x51]], 'unknown-format', 'unknown format at offset 0x0: not an ELF core, a makedumpfile flattened stream or a kdump file (first bytes 4b 44 55 4d 51 20 20 20)'],
    ['block_size 8192', at(428, le(8192, 4)), 'unsupported', 'unsupported at offset 0x1ac: block_size is 8192; x86 kdump pages are 4096 bytes'],
    ['block_size 4097', at(428, le(4097, 4)), 'bad-field', 'bad field at offset 0x1ac: block_size is 4097 in the 64-bit header layout (offset 428) and 0 in the 32-bit one (offset 416); neither is a page size'],
    ['sub_hdr_size 0', at(432, le(0, 4)), 'bad-field', 'bad field at offset 0x1b0: sub_hdr_size is 0: there is no kdump_sub_header'],
    ['bitmap_blocks odd', at(436, le(3, 4)), 'bad-field', 'bad field at offset 0x1b4: bitmap_blocks is 3, not even: the two bitmaps are the same size'],
    ['offset_note huge', at(0x1000 + 48, le(0x7fffffffffn, 8)), 'truncated', 'truncated at offset 0x7fffffffff: note area needs 816 bytes, file has 0'],
    ['utsname.machine aarch64 without prstatus', [...at(12 + 4 * 65, [0x61, 0x61, 0x72, 0x63, 0x68, 0x36, 0x34]), ...at(0x1068 + 8, le(7, 4))], 'unsupported', 'unsupported at offset 0x110: utsname.machine is "aarch64", not an x86 machine'],
  ] as const)('%s', async (_name, edits, code, message) => {
    const error = await failure(async () => readDump(inputFromBytes(patched(await small('kdump-raw-zlib'), edits))));
    expect({ code: error.code, message: error.message }).toEqual({ code, message });
  });

  it('bitmaps larger than the file: truncated', async () => {
    const bytes = patched(await small('kdump-raw-zlib'), at(436, le(0x10000, 4)));
    const error = await failure(async () => readDump(inputFromBytes(bytes)));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'truncated', message: `truncated at offset 0x2000: the pair of page bitmaps needs 268435456 bytes, file has ${bytes.length - 0x2000}` });
  });

  it.each([
    ['a page descriptor pointing past EOF', at(DESC + 24 + 0, le(0xffff0000, 8)), 0x1000, 'bad page at offset 0x4018: page descriptor of pfn 0x1 points at 0xffff0000+'],
    ['a compressed page marked raw', at(DESC + 24 + 12, le(0, 4)), 0x1000, 'bad page at offset 0x4018: page descriptor of pfn 0x1 stores the page raw (flags 0) with size'],
    ['flags naming no compression', at(DESC + 24 + 12, le(8, 4)), 0x1000, 'bad page at offset 0x4018: page descriptor of pfn 0x1 has flags 0x8, which name no compression'],
    ['a zero-length compressed block', at(DESC + 24 + 8, le(0, 4)), 0x1000, 'bad page at offset 0x4018: page descriptor of pfn 0x1 gives a zlib block of 0 bytes'],
  ] as const)('%s: bad-page when the page is read', async (_name, edits, gpa, message) => {
    const dump = await readDump(inputFromBytes(patched(await small('kdump-raw-zlib'), edits)));
    const error = await failure(async () => dump.readPhysical(gpa, new Uint8Array(16)));
    expect(error.code).toBe('bad-page');
    expect(error.message.startsWith(message)).toBe(true);
  });

  it('page data that does not decompress: bad-page at the data\'s offset', async () => {
    const bytes = await small('kdump-raw-zlib');
    const view = new DataView(bytes.buffer);
    const dataAt = Number(view.getBigUint64(DESC + 24, true));
    const dump = await readDump(inputFromBytes(patched(bytes, [[dataAt, 0x00], [dataAt + 1, 0x00]])));
    const error = await failure(async () => dump.readPhysical(0x1000, new Uint8Array(16)));
    expect(error.code).toBe('bad-page');
    expect(error.message).toMatch(new RegExp(`^bad page at offset 0x${dataAt.toString(16)}: zlib data of pfn 0x1 \\(\\d+ bytes\\) does not decompress: `));
  });

  it('a bad page stops a conversion with the same DumpReadError, and the sink is aborted', async () => {
    const dump = await readDump(inputFromBytes(patched(await small('kdump-raw-zlib'), at(DESC + 24, le(0xffff0000, 8)))));
    const sink = new MemorySink();
    const error = await failure(async () => new DumpEngine().dump(await dump.toDumpSource(), { sink, format: 'elf' }));
    expect(error.code).toBe('bad-page');
    expect(sink.aborted).toBe(true);
  });
});

describe('flattened kdump', () => {
  it.each([
    ['flat header type 2', (b: Uint8Array) => patched(b, [[23, 2]]), 'bad-field', 'bad field at offset 0x10: flat header type is 2, not TYPE_FLAT_HEADER (1)'],
    ['no end marker', (b: Uint8Array) => b.subarray(0, b.length - 16), 'truncated', 'flattened record header (the stream has no end marker) needs 16 bytes, file has 0'],
    ['a record larger than the file', (b: Uint8Array) => patched(b, [[4096 + 8 + 4, 0x7f]]), 'truncated', 'truncated at offset 0x1010: flattened record for logical offset 0x0 needs '],
    ['a negative record offset', (b: Uint8Array) => patched(b, [[4096, 0x80]]), 'bad-field', 'bad field at offset 0x1000: flattened record offset is negative (0x8000000000000000)'],
    ['a flat header cut short', (b: Uint8Array) => b.subarray(0, 100), 'truncated', 'truncated at offset 0x0: makedumpfile flat header needs 4096 bytes, file has 100'],
  ] as const)('%s', async (_name, corrupt, code, message) => {
    const error = await failure(async () => readDump(inputFromBytes(corrupt(await small('kdump-zlib')))));
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
  });
});
