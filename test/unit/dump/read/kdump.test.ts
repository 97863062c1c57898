/**
 * kdump files read back: header and sub-header fields against spec §5, both header classes
 * (including the case where block_size's two possible places both hold 4096), flattened records
 * applied in order (a later record wins), page codecs found by descriptor flag in the table the
 * caller gives, the sub-header's VMCOREINFO when no note has it, and a flattened ELF refused.
 */
import { describe, expect, it } from 'vitest';
import { DumpEngine, dumpSourceFromBytes, dumpSourceFromMachine, type PageCodec } from '../../../../src/index.js';
import { DumpReadError } from '../../../../src/dump/read/errors.js';
import { inputFromBytes } from '../../../../src/dump/read/input.js';
import { readDump } from '../../../../src/dump/read/read-dump.js';
import { concat, dumpBytes, longModeCpu, markBytes, markedMachine, protectedCpu, VMCOREINFO } from './helpers.js';
import { rejection } from '../../../support/thrown.js';


/** A flattened record: big-endian offset and size, then the bytes (spec §5.7). */
function record(offset: number, bytes: Uint8Array): Uint8Array {
  const head = new Uint8Array(16);
  const view = new DataView(head.buffer);
  view.setBigUint64(0, BigInt(offset));
  view.setBigUint64(8, BigInt(bytes.length));
  return concat([head, bytes]);
}

const END_MARKER = new Uint8Array(16).fill(0xff);

describe('kdump headers', () => {
  it('64-bit class: every field as spec §5.2/§5.3 give it for QEMU\'s layout', async () => {
    const vm = markedMachine({ vmcoreinfo: VMCOREINFO, cpus: 2 });
    const dump = await readDump(inputFromBytes(await dumpBytes(dumpSourceFromMachine(vm, [longModeCpu(0), longModeCpu(1)]), 'kdump-raw-zlib', 'qemu-7.2')));
    const noteSize = 2 * 816 + 12 + 12 + Math.ceil(VMCOREINFO.length / 4) * 4;
    expect(dump.kdump).toMatchObject({
      headerVersion: 6,
      utsname: { sysname: '', machine: 'x86_64' },
      timestamp: { sec: 0n, usec: 0n },
      status: 1,
      compression: 'zlib',
      blockSize: 4096,
      subHdrSize: 1,
      // max_mapnr = 4 GiB / 4096 (the BIOS ROM ends there): two bitmaps of 0x20000 bytes.
      bitmapBlocks: 64,
      maxMapnr: 0x100000,
      nrCpus: 2,
      bitmapOffset: 0x2000,
      descOffset: 0x42000,
      dumpablePages: 8192 + 16,
      subHeader: {
        physBase: 0x16777216n,
        dumpLevel: 1,
        offsetNote: 0x1068n,
        noteSize: BigInt(noteSize),
        offsetVmcoreinfo: BigInt(0x1068 + noteSize - (12 + 12 + Math.ceil(VMCOREINFO.length / 4) * 4) + 24),
        sizeVmcoreinfo: BigInt(VMCOREINFO.length),
        maxMapnr64: 0x100000n,
      },
    });
  });

  it('32-bit class with max_mapnr 4096: block_size\'s 64-bit place also reads 4096, offset_note decides', async () => {
    const ram = new Uint8Array(16 << 20);
    ram.set(markBytes(0xffd000, 0x3000), 0xffd000);
    const source = dumpSourceFromBytes([{ gpa: 0, bytes: ram }], [protectedCpu(0)]);
    const bytes = await dumpBytes(source, 'kdump-raw-zlib', 'qemu-7.2');
    const view = new DataView(bytes.buffer);
    expect([view.getUint32(416, true), view.getUint32(428, true)]).toEqual([4096, 4096]);
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.elfClass).toBe(32);
    expect(dump.kdump).toMatchObject({ maxMapnr: 4096, nrCpus: 1, subHeader: { offsetNote: 0x1050n, maxMapnr64: 4096n } });
    const got = new Uint8Array(0x3000);
    expect(await dump.readPhysical(0xfff000 - 0x2000, got)).toBe(true);
    expect(got).toEqual(markBytes(0xffd000, 0x3000));
  });
});

describe('flattened records', () => {
  it('are applied in order: a later record overwrites an earlier one', async () => {
    const vm = markedMachine();
    const source = dumpSourceFromMachine(vm, [longModeCpu(0)]);
    const flat = await dumpBytes(source, 'kdump-zlib', 'qemu-7.2');
    const raw = await dumpBytes(source, 'kdump-raw-zlib', 'qemu-7.2');
    const { kdump } = await readDump(inputFromBytes(raw));
    const descOffset = kdump?.descOffset ?? 0;
    // Every page below 32 MiB is dumpable, so pfn n has descriptor n.
    const zeroDesc = raw.slice(descOffset + 0x800 * 24, descOffset + 0x801 * 24);
    const desc123 = descOffset + 0x123 * 24;
    const body = flat.subarray(4096, flat.length - 16);
    const garbage = new Uint8Array(48).fill(0xee);

    // Garbage first, then QEMU's records: QEMU's bytes win.
    const before = concat([flat.subarray(0, 4096), record(desc123 - 12, garbage), body, END_MARKER]);
    const got = new Uint8Array(3000);
    expect(await (await readDump(inputFromBytes(before))).readPhysical(0x123456, got)).toBe(true);
    expect(got).toEqual(markBytes(0x123456, 3000));

    // QEMU's records, then pfn 0x123's descriptor pointing at the shared zero page: zeros win.
    const after = concat([flat.subarray(0, 4096), body, record(desc123, zeroDesc), END_MARKER]);
    const dump = await readDump(inputFromBytes(after));
    expect(dump.flattened?.records).toBe(((await readDump(inputFromBytes(flat))).flattened?.records ?? 0) + 1);
    const page = new Uint8Array(0x2000);
    expect(await dump.readPhysical(0x123000, page)).toBe(true);
    expect(page.subarray(0, 0x1000).every((b) => b === 0)).toBe(true);
    expect(page.subarray(0x1000, 0x1000 + 0x456 + 3000 - 0x1000)).toEqual(markBytes(0x123456, 3000).subarray(0x1000 - 0x456));
  });

  it('holding an ELF core is refused: unsupported', async () => {
    const elf = await dumpBytes(dumpSourceFromBytes([{ gpa: 0, bytes: new Uint8Array(0x1000) }], [longModeCpu(0)]), 'elf');
    const header = new Uint8Array(4096);
    header.set(new TextEncoder().encode('makedumpfile'));
    header[23] = 1;
    header[31] = 1;
    const error = await rejection(readDump(inputFromBytes(concat([header, record(0, elf), END_MARKER]))));
    expect(error).toBeInstanceOf(DumpReadError);
    expect(error).toMatchObject({ code: 'unsupported' });
  });
});

/** A stand-in codec: a page of one repeated byte becomes that byte; anything else is stored raw. */
function toyCodec(name: 'lzo' | 'zstd', flag: number): PageCodec {
  return {
    name,
    flag,
    compress: (page, out) => {
      if (!page.every((b) => b === page[0])) return -1;
      out[0] = page[0] ?? 0;
      return 1;
    },
    decompress: (block, out) => {
      if (block.length !== 1) throw new Error(`a toy block is 1 byte, not ${block.length}`);
      out.fill(block[0] ?? 0);
      return out.length;
    },
  };
}

describe('page codecs are looked up by descriptor flag in the table given', () => {
  it.each([
    { name: 'lzo', flag: 0x2, format: 'kdump-lzo' },
    { name: 'zstd', flag: 0x20, format: 'kdump-raw-zstd' },
  ] as const)('$name (flag $flag) decodes once given; without it, reading such a page is unsupported', async ({ name, flag, format }) => {
    const vm = markedMachine();
    vm.memory.write(0x400000, new Uint8Array(0x1000).fill(0x5a));
    const codec = toyCodec(name, flag);
    const bytes = await dumpBytes(dumpSourceFromMachine(vm, [longModeCpu(0)]), format, undefined, new DumpEngine({ codecs: { [name]: codec } }));
    const withCodec = await readDump(inputFromBytes(bytes), { codecs: { [name]: codec } });
    expect(withCodec.kdump?.compression).toBe(name);
    const page = new Uint8Array(0x1000);
    expect(await withCodec.readPhysical(0x400000, page)).toBe(true);
    expect(page.every((b) => b === 0x5a)).toBe(true);
    // Pages the toy codec stored raw read without it.
    const mark = new Uint8Array(3000);
    expect(await withCodec.readPhysical(0x123456, mark)).toBe(true);
    expect(mark).toEqual(markBytes(0x123456, 3000));
    if (name === 'zstd') {
      // zstd is never built in (its WebAssembly loads asynchronously): reading needs the codec.
      const without = await readDump(inputFromBytes(bytes));
      const error = await rejection(without.readPhysical(0x400000, page));
      expect(error).toBeInstanceOf(DumpReadError);
      expect(error).toMatchObject({ code: 'unsupported', message: expect.stringContaining('page of pfn 0x400 is zstd-compressed (flags 0x20) and no zstd codec was given') as unknown });
    }
  });
});

describe('VMCOREINFO', () => {
  it('comes from the sub-header\'s offset_vmcoreinfo when no note is named VMCOREINFO', async () => {
    const vm = markedMachine({ vmcoreinfo: VMCOREINFO });
    const bytes = await dumpBytes(dumpSourceFromMachine(vm, [longModeCpu(0)]), 'kdump-raw-zlib', 'qemu-7.2');
    const original = await readDump(inputFromBytes(bytes));
    const guest = original.notes.at(-1);
    expect(guest?.name).toBe('VMCOREINFO');
    // Rename the note: "VMCOREINFO" -> "VMCOREINFX".
    bytes[(guest?.offset ?? 0) + 12 + 9] = 'X'.charCodeAt(0);
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.notes.at(-1)?.name).toBe('VMCOREINFX');
    expect(dump.vmcoreinfo).toBe(VMCOREINFO);
  });
});
