/**
 * `paging: true` against QEMU 7.2 (test/fixtures/qemu-7.2/dump): for every case with a paging ELF,
 * guest memory comes from the plain ELF of the same moment (its PT_LOADs) and the CPUs from its
 * QEMU notes; the mapping list computed from them must be the paging ELF's PT_LOADs, in order, and
 * a whole `paging: true` dump of that source must be QEMU's file byte for byte.
 *
 * The ELF and note parsing here is deliberately local and minimal (the project's dump readers are
 * someone else's work and are not used).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EFER_LMA, EFER_LME, powerOnSnapshot, type CpuSnapshot, type SegmentState } from '../../src/cpu/state.js';
import { pagingMappings, blockProbe } from '../../src/dump/paging-mappings.js';
import { filterMappings, type MemoryMapping } from '../../src/dump/mapping.js';
import { dumpGuestMemory, dumpSourceFromBytes, MemorySink, type DumpSource, type GuestNoteInput } from '../../src/index.js';

const DIR = new URL('../fixtures/qemu-7.2/dump/', import.meta.url);

interface IndexFile {
  readonly file: string;
  readonly case: string;
  readonly sha256: string;
  readonly size: number;
  readonly qmp: { readonly arguments: { readonly paging: boolean; readonly begin?: number; readonly length?: number; readonly format?: string } };
}
interface IndexCase {
  readonly name: string;
  readonly firmwareOption: string;
  readonly guest: { readonly note: { readonly registered: boolean; readonly record?: { readonly guest_format: number; readonly host_format: number; readonly size: string; readonly paddr: string } } };
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { files: IndexFile[]; cases: IndexCase[] };

// ---------------------------------------------------------------------------------------------
// Minimal ELF core reader

interface Phdr {
  readonly type: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: bigint;
}
interface Note {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}
interface Elf {
  readonly bytes: Uint8Array;
  readonly is64: boolean;
  readonly machine: number;
  readonly phdrs: readonly Phdr[];
  readonly notes: readonly Note[];
}

function parseElf(bytes: Uint8Array): Elf {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect([...bytes.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  const is64 = bytes[4] === 2;
  const machine = dv.getUint16(18, true);
  const phoff = is64 ? Number(dv.getBigUint64(32, true)) : dv.getUint32(28, true);
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  const phnum = dv.getUint16(is64 ? 56 : 44, true);
  expect(phnum).toBeLessThan(0xffff);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    phdrs.push(is64
      ? {
          type: dv.getUint32(at, true),
          offset: Number(dv.getBigUint64(at + 8, true)),
          vaddr: dv.getBigUint64(at + 16, true),
          paddr: dv.getBigUint64(at + 24, true),
          filesz: Number(dv.getBigUint64(at + 32, true)),
          memsz: dv.getBigUint64(at + 40, true),
        }
      : {
          type: dv.getUint32(at, true),
          offset: dv.getUint32(at + 4, true),
          vaddr: BigInt(dv.getUint32(at + 8, true)),
          paddr: BigInt(dv.getUint32(at + 12, true)),
          filesz: dv.getUint32(at + 16, true),
          memsz: BigInt(dv.getUint32(at + 20, true)),
        });
  }
  const notes: Note[] = [];
  for (const ph of phdrs.filter((p) => p.type === 4)) {
    let at = ph.offset;
    const end = ph.offset + ph.filesz;
    while (at + 12 <= end) {
      const namesz = dv.getUint32(at, true);
      const descsz = dv.getUint32(at + 4, true);
      const type = dv.getUint32(at + 8, true);
      const nameAt = at + 12;
      const descAt = nameAt + Math.ceil(namesz / 4) * 4;
      const name = new TextDecoder('latin1').decode(bytes.subarray(nameAt, nameAt + namesz)).replace(/\0+$/, '');
      notes.push({ name, type, desc: bytes.subarray(descAt, descAt + descsz) });
      at = descAt + Math.ceil(descsz / 4) * 4;
    }
  }
  return { bytes, is64, machine, phdrs, notes };
}

function loadElf(file: string): Elf {
  return parseElf(new Uint8Array(gunzipSync(readFileSync(new URL(file, DIR)))));
}

const loads = (elf: Elf): Phdr[] => elf.phdrs.filter((p) => p.type === 1);

/** A CPU snapshot whose QEMU note is the given QEMUCPUState (440 bytes); EFER.LMA inferred. */
function snapshotFromQemuNote(desc: Uint8Array, index: number, machine: number): CpuSnapshot {
  const dv = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
  expect(desc.length).toBe(440);
  const u64 = (at: number): bigint => dv.getBigUint64(at, true);
  const seg = (at: number): SegmentState => ({ selector: dv.getUint32(at, true), limit: dv.getUint32(at + 4, true), flags: dv.getUint32(at + 8, true), base: u64(at + 16) });
  const [cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt] = Array.from({ length: 10 }, (_, i) => seg(152 + 24 * i));
  if (cs === undefined || ds === undefined || es === undefined || fs === undefined || gs === undefined || ss === undefined
    || ldt === undefined || tr === undefined || gdt === undefined || idt === undefined) throw new Error('unreachable');
  const cr = [0, 1, 2, 3, 4].map((i) => u64(392 + 8 * i));
  const [cr0 = 0n, , cr2 = 0n, cr3 = 0n, cr4 = 0n] = cr;
  const lma = machine === 62 && (cr0 & (1n << 31n)) !== 0n && (cr4 & (1n << 5n)) !== 0n;
  const base = powerOnSnapshot(index);
  return {
    ...base,
    gpr: {
      rax: u64(8), rbx: u64(16), rcx: u64(24), rdx: u64(32), rsi: u64(40), rdi: u64(48), rsp: u64(56), rbp: u64(64),
      r8: u64(72), r9: u64(80), r10: u64(88), r11: u64(96), r12: u64(104), r13: u64(112), r14: u64(120), r15: u64(128),
    },
    rip: u64(136),
    rflags: u64(144),
    segments: { cs, ds, es, fs, gs, ss, ldt, tr },
    gdt: { base: gdt.base, limit: gdt.limit },
    idt: { base: idt.base, limit: idt.limit },
    cr0, cr2, cr3, cr4,
    efer: lma ? EFER_LME | EFER_LMA : 0n,
    kernelGsBase: u64(432),
  };
}

interface Case {
  readonly name: string;
  readonly pagingFile: IndexFile;
  readonly plainFile: IndexFile;
  readonly indexCase: IndexCase;
}

const CASES: Case[] = index.files
  .filter((f) => f.qmp.arguments.paging && (f.qmp.arguments.format ?? 'elf') === 'elf')
  .map((pagingFile) => {
    const plainFile = index.files.find((f) => f.file === `${pagingFile.case}.elf.gz`);
    const indexCase = index.cases.find((c) => c.name === pagingFile.case);
    if (plainFile === undefined || indexCase === undefined) throw new Error(`no plain dump for ${pagingFile.file}`);
    return { name: pagingFile.file.replace(/\.gz$/, ''), pagingFile, plainFile, indexCase };
  });

interface Source {
  readonly source: DumpSource;
  readonly pflash: boolean;
  readonly plain: Elf;
}

function sourceFor(c: Case): Source {
  const plain = loadElf(c.plainFile.file);
  const blocks = loads(plain).map((p) => {
    expect(BigInt(p.filesz)).toBe(p.memsz);
    return { gpa: Number(p.paddr), bytes: plain.bytes.subarray(p.offset, p.offset + p.filesz) };
  });
  const qemuNotes = plain.notes.filter((n) => n.name === 'QEMU' && n.type === 0);
  const cpus = qemuNotes.map((n, i) => snapshotFromQemuNote(n.desc, i, plain.machine));
  const note = c.indexCase.guest.note;
  const record = note.record;
  const guestNote: GuestNoteInput = record === undefined
    ? { kind: 'vmcoreinfo', record: { hasVmcoreinfo: false, hostFormat: 1, guestFormat: 0, size: 0, paddr: 0n } }
    : { kind: 'vmcoreinfo', record: { hasVmcoreinfo: note.registered, hostFormat: record.host_format, guestFormat: record.guest_format, size: Number(record.size), paddr: BigInt(record.paddr) } };
  const source = dumpSourceFromBytes(blocks, cpus, guestNote);
  const pflash = c.indexCase.firmwareOption.includes('pflash');
  return { source, pflash, plain };
}

/** pflash in ROMD mode is not a dump block but is memory to QEMU's is_io test (64 KiB below 4 GiB). */
function isRamOrRomDevice(s: Source): ((gpa: number) => boolean) | undefined {
  if (!s.pflash) return undefined;
  const inBlock = blockProbe(s.source.blocks);
  return (gpa) => inBlock(gpa) || (gpa >= 0xffff0000 && gpa < 0x100000000);
}

/** What QEMU writes for a mapping: p_vaddr = p_paddr when virt (at field width) is 0. */
function asLoad(m: MemoryMapping, is64: boolean): { paddr: string; vaddr: string; memsz: string } {
  const virt = is64 ? m.virt : m.virt & 0xffffffffn;
  return { paddr: hex(m.phys), vaddr: hex(virt === 0n ? m.phys : virt), memsz: hex(m.length) };
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('paging: true against QEMU 7.2', () => {
  it('covers every paging ELF of the fixtures', () => {
    expect(CASES.map((c) => c.name).sort()).toEqual([
      'long-hex.paging.elf', 'long-smp2.paging.elf', 'long.paging.elf', 'long.paging.filter-200000+5000.elf',
      'nonote.paging.elf', 'pae32.paging.elf', 'pse32-pflash.paging.elf', 'pse32.paging.elf', 'realmode.paging.elf',
    ]);
  });

  describe.each(CASES)('$name', (c) => {
    const s = sourceFor(c);
    const qemu = loadElf(c.pagingFile.file);
    const args = c.pagingFile.qmp.arguments;
    const filter = args.begin !== undefined && args.length !== undefined ? { begin: args.begin, length: args.length } : undefined;

    it('gives QEMU\'s PT_LOADs (paddr, vaddr, memsz, in order) from the plain dump\'s memory and CPU notes', () => {
      const mappings = filterMappings(pagingMappings({ ...s.source, isRamOrRomDevice: isRamOrRomDevice(s) }), filter);
      expect(mappings.map((m) => asLoad(m, qemu.is64))).toEqual(loads(qemu).map((p) => ({ paddr: hex(p.paddr), vaddr: hex(p.vaddr), memsz: hex(p.memsz) })));
    });

    it('dumps QEMU\'s file byte for byte', async () => {
      const sink = new MemorySink();
      // A DumpSource with the optional memory probe the paging walk looks for.
      const source = { ...s.source, isRamOrRomDevice: isRamOrRomDevice(s) };
      await dumpGuestMemory(source, { sink, paging: true, compat: 'qemu-7.2', ...(filter ?? {}) });
      const ours = sink.bytes();
      const diff = firstDifference(ours, qemu.bytes);
      expect({ firstDifferingOffset: diff, size: ours.length }).toEqual({ firstDifferingOffset: -1, size: c.pagingFile.size });
      expect(createHash('sha256').update(ours).digest('hex')).toBe(c.pagingFile.sha256);
    });
  });
});
