/**
 * convert (readDump -> toDumpSource -> dump) is idempotent and byte-exact. A machine with a
 * VMCOREINFO note and two CPUs is dumped; the dump read back and written again in the same format
 * and flavour gives the same bytes, and ELF converted to kdump gives exactly the kdump the machine
 * gives. Then QEMU 7.2's own golden dumps (test/fixtures/qemu-7.2/dump, when present): every
 * non-paging ELF converts to ELF and to kdump-zlib with the sha256 of QEMU's own files, every
 * kdump-zlib converts to itself, and ELF, paging ELF and kdump of one guest read the same memory,
 * CPUs and VMCOREINFO.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dumpSourceFromMachine, type DumpFormat } from '../../src/index.js';
import { inputFromBytes } from '../../src/dump/read/input.js';
import { readDump, type DumpFile } from '../../src/dump/read/read-dump.js';
import { dumpBytes, firstDifference, longModeCpu, markedMachine, VMCOREINFO, waitingCpu } from '../unit/dump/read/helpers.js';

const FIXTURES = new URL('../fixtures/qemu-7.2/dump/', import.meta.url);
const INDEX = new URL('index.json', FIXTURES);
const HAVE_FIXTURES = existsSync(INDEX);

type Compat = 'qemu-7.2' | undefined;

async function convert(bytes: Uint8Array, format: DumpFormat, compat: Compat): Promise<Uint8Array> {
  const dump = await readDump(inputFromBytes(bytes));
  return dumpBytes(await dump.toDumpSource(), format, compat);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where an offset lies in a dump, for a failure message: the structure and field around it. */
async function whereIs(bytes: Uint8Array, offset: number): Promise<string> {
  if (offset < 0) return 'identical';
  const dump = await readDump(inputFromBytes(bytes));
  const note = [...dump.notes].reverse().find((n) => n.offset <= offset);
  if (dump.elf !== undefined) {
    const phoff = 0x40 + 2 * (dump.elfClass === 64 ? 64 : 40);
    const phent = dump.elfClass === 64 ? 56 : 32;
    if (offset < (dump.elfClass === 64 ? 64 : 52)) return `ELF header byte ${offset}`;
    if (offset < phoff) return 'section headers';
    if (offset < phoff + phent * dump.elf.phnum) return `program header ${Math.floor((offset - phoff) / phent)}, byte ${(offset - phoff) % phent}`;
    const load = dump.elf.loads.find((l) => offset >= Number(l.offset) && offset < Number(l.offset + l.filesz));
    if (load !== undefined) return `memory at gpa 0x${(Number(load.paddr) + offset - Number(load.offset)).toString(16)}`;
    return note === undefined ? 'after the memory' : `note ${note.name}/${note.type} at 0x${note.offset.toString(16)}`;
  }
  return `kdump byte 0x${offset.toString(16)} (descriptors at 0x${dump.kdump?.descOffset.toString(16) ?? '?'}; for flattened files this is a stream offset)`;
}

async function expectSameBytes(got: Uint8Array, want: Uint8Array, what: string): Promise<void> {
  const at = firstDifference(got, want);
  expect(at, `${what}: first difference at 0x${at.toString(16)}, ${await whereIs(want, at)}`).toBe(-1);
}

describe('convert is idempotent and byte-exact (a 2-CPU machine with VMCOREINFO)', () => {
  const vm = markedMachine({ cpus: 2, vmcoreinfo: VMCOREINFO });
  const source = dumpSourceFromMachine(vm, [longModeCpu(0), waitingCpu(1)]);

  it.each(['qemu-7.2', undefined] as const)('ELF -> ELF, flavour %s', async (compat) => {
    const elf = await dumpBytes(source, 'elf', compat);
    await expectSameBytes(await convert(elf, 'elf', compat), elf, 'ELF -> ELF');
  });

  it.each([
    ['kdump-zlib', 'qemu-7.2'],
    ['kdump-zlib', undefined],
    ['kdump-raw-zlib', 'qemu-7.2'],
    ['kdump-snappy', undefined],
  ] as const)('ELF -> %s (flavour %s) is the machine\'s own kdump, which converts to itself', async (format, compat) => {
    const elf = await dumpBytes(source, 'elf', compat);
    const kdump = await dumpBytes(source, format, compat);
    await expectSameBytes(await convert(elf, format, compat), kdump, `ELF -> ${format}`);
    await expectSameBytes(await convert(kdump, format, compat), kdump, `${format} -> ${format}`);
  });

  it('kdump -> ELF keeps memory, CPUs and VMCOREINFO (its PT_LOADs are page runs, not QEMU\'s blocks)', async () => {
    const kdump = await dumpBytes(source, 'kdump-zlib', 'qemu-7.2');
    const elf = await readDump(inputFromBytes(await convert(kdump, 'elf', 'qemu-7.2')));
    const original = await readDump(inputFromBytes(await dumpBytes(source, 'elf', 'qemu-7.2')));
    await expectSameContents(elf, original);
  });
});

async function expectSameContents(a: DumpFile, b: DumpFile): Promise<void> {
  expect(a.cpus).toEqual(b.cpus);
  expect(a.vmcoreinfo).toEqual(b.vmcoreinfo);
  expect(a.guestNote).toEqual(b.guestNote);
  expect(a.ranges).toEqual(b.ranges);
  for (const r of a.ranges) {
    const x = new Uint8Array(r.size);
    const y = new Uint8Array(r.size);
    await a.readPhysical(r.gpa, x);
    await b.readPhysical(r.gpa, y);
    expect(firstDifference(x, y), `memory at 0x${r.gpa.toString(16)}`).toBe(-1);
  }
}

interface FixtureFile {
  readonly file: string;
  readonly case: string;
  readonly format: 'elf' | 'kdump-zlib';
  readonly sha256: string;
  readonly size: number;
  readonly qmp: { readonly arguments: { readonly paging: boolean; readonly begin?: number } };
}

interface FixtureCase {
  readonly name: string;
  readonly guest: { readonly registersCpu0?: Record<string, string>; readonly note?: { readonly text?: string } };
}

const index = HAVE_FIXTURES ? (JSON.parse(readFileSync(INDEX, 'utf8')) as { files: FixtureFile[]; cases: FixtureCase[] }) : { files: [], cases: [] };
const cache = new Map<string, Uint8Array>();
function fixture(file: string): Uint8Array {
  let bytes = cache.get(file);
  if (bytes === undefined) {
    bytes = new Uint8Array(gunzipSync(readFileSync(new URL(file, FIXTURES))));
    cache.set(file, bytes);
  }
  return bytes;
}

const isPlain = (f: FixtureFile): boolean => !f.qmp.arguments.paging && f.qmp.arguments.begin === undefined;
const plainOf = (name: string, format: FixtureFile['format']): FixtureFile | undefined => index.files.find((f) => f.case === name && f.format === format && isPlain(f));
const elfFiles = index.files.filter((f) => f.format === 'elf' && !f.qmp.arguments.paging);
const kdumpFiles = index.files.filter((f) => f.format === 'kdump-zlib');
const pagingFiles = index.files.filter((f) => f.qmp.arguments.paging);
const toKdump = elfFiles.filter(isPlain).flatMap((f) => {
  const target = plainOf(f.case, 'kdump-zlib');
  return target === undefined ? [] : [{ file: f.file, target }];
});

describe.skipIf(!HAVE_FIXTURES)(`QEMU 7.2 golden dumps${HAVE_FIXTURES ? '' : ' (skipped: test/fixtures/qemu-7.2/dump/index.json is missing)'}`, () => {
  it('the fixture files are what index.json says', () => {
    for (const f of index.files) expect(sha256(fixture(f.file)), f.file).toBe(f.sha256);
  });

  it.each(elfFiles.map((f) => [f.file, f] as const))('%s converts to elf (qemu-7.2) with QEMU\'s sha256', async (_name, f) => {
    const out = await convert(fixture(f.file), 'elf', 'qemu-7.2');
    if (sha256(out) !== f.sha256) await expectSameBytes(out, fixture(f.file), `${f.file} -> elf`);
    expect(sha256(out)).toBe(f.sha256);
  });

  it.each(toKdump.map((t) => [t.file, t.target.file, t] as const))('%s converts to kdump-zlib (qemu-7.2) with the sha256 of %s', async (_name, _target, t) => {
    const out = await convert(fixture(t.file), 'kdump-zlib', 'qemu-7.2');
    if (sha256(out) !== t.target.sha256) await expectSameBytes(out, fixture(t.target.file), `${t.file} -> kdump-zlib`);
    expect(sha256(out)).toBe(t.target.sha256);
  });

  it.each(kdumpFiles.map((f) => [f.file, f] as const))('%s converts to itself and reads like the ELF of the same guest', async (_name, f) => {
    const out = await convert(fixture(f.file), 'kdump-zlib', 'qemu-7.2');
    if (sha256(out) !== f.sha256) await expectSameBytes(out, fixture(f.file), `${f.file} -> kdump-zlib`);
    expect(sha256(out)).toBe(f.sha256);
    const elf = plainOf(f.case, 'elf');
    if (elf !== undefined) await expectSameContents(await readDump(inputFromBytes(fixture(f.file))), await readDump(inputFromBytes(fixture(elf.file))));
  });

  it.each(pagingFiles.map((f) => [f.file, f] as const))('%s: memory behind its PT_LOADs equals the non-paging dump\'s', async (_name, f) => {
    // A paging dump's PT_LOADs are virtual mappings; converted, it keeps only the memory they
    // reference, so it is compared by contents, not bytes.
    const paging = await readDump(inputFromBytes(fixture(f.file)));
    if (paging.elf?.paging === false) {
      // No CPU had paging on: QEMU wrote identity mappings (spec §2.5), a plain ELF after all.
      expect(sha256(await convert(fixture(f.file), 'elf', 'qemu-7.2'))).toBe(f.sha256);
    }
    const plain = plainOf(f.case, 'elf');
    if (plain === undefined) return;
    const full = await readDump(inputFromBytes(fixture(plain.file)));
    expect(paging.cpus).toEqual(full.cpus);
    for (const r of paging.ranges) {
      const x = new Uint8Array(r.size);
      const y = new Uint8Array(r.size);
      expect(await paging.readPhysical(r.gpa, x)).toBe(true);
      await full.readPhysical(r.gpa, y);
      expect(firstDifference(x, y), `${f.file} memory at 0x${r.gpa.toString(16)}`).toBe(-1);
    }
  });

  it.each(index.cases.map((c) => [c.name, c] as const))('case %s: CPU 0 and VMCOREINFO are what the guest set', async (_name, c) => {
    const file = plainOf(c.name, 'elf');
    if (file === undefined) return;
    const dump = await readDump(inputFromBytes(fixture(file.file)));
    const cpu = dump.cpus[0];
    const set = c.guest.registersCpu0 ?? {};
    const value = (path: string): bigint | number | undefined => {
      if (cpu === undefined) return undefined;
      const [head, field] = path.split('.') as [string, string | undefined];
      if (field !== undefined) {
        const part = head === 'gdt' || head === 'idt' ? cpu[head] : cpu.segments[head as keyof typeof cpu.segments];
        return (part as unknown as Record<string, bigint | number>)[field];
      }
      if (head === 'kernel_gs_base') return cpu.kernelGsBase;
      if (head in cpu.gpr) return cpu.gpr[head as keyof typeof cpu.gpr];
      return (cpu as unknown as Record<string, bigint | number>)[head];
    };
    for (const [name, hex] of Object.entries(set)) expect(BigInt(value(name) ?? -1), `CPU 0 ${name}`).toBe(BigInt(hex));
    if (c.guest.note?.text !== undefined) expect(dump.vmcoreinfo).toBe(c.guest.note.text);
  });
});
