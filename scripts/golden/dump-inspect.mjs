#!/usr/bin/env node
// dump-inspect.mjs - read QEMU dump-guest-memory output (ELF cores and
// makedumpfile-flattened kdump files) without trusting the spec: every field is
// read at its standard position (ELF gABI, makedumpfile's diskdump_mng.h and
// makedumpfile.h, Linux elf_prstatus, QEMU's QEMUCPUState) and reported as
// found, so the spec's claims can be checked against real files.
//
// Library (used by capture-dumps.mjs):
//   parseElf(buf)            -> header fields, section headers, program headers, notes
//   decodeNote(note, elf)    -> prstatus / QEMUCPUState / VMCOREINFO decoded
//   parseFlattened(buf)      -> flat header, records [{offset, size, at}], end marker
//   reassemble(buf, flat)    -> the logical kdump file (what makedumpfile -R writes)
//   parseKdump(buf)          -> disk_dump_header, kdump_sub_header, bitmaps, descriptors
//   checkKdumpAgainstElf(kd, elf, elfBuf) -> compares every dumped page with the ELF memory
// CLI:
//   node scripts/golden/dump-inspect.mjs FILE[.gz] [--elf ELF[.gz]] [--json]
// Needs Node 20 and nothing from npm.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const hex = (n) => `0x${BigInt(n).toString(16)}`;
const pad4 = (n) => (n + 3) & ~3;

export function loadMaybeGz(file) {
  const buf = fs.readFileSync(file);
  return file.endsWith('.gz') ? zlib.gunzipSync(buf) : buf;
}

// ---------------------------------------------------------------------------
// ELF

const PT_NAMES = { 0: 'PT_NULL', 1: 'PT_LOAD', 4: 'PT_NOTE' };

export function parseElf(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  const cls = buf[4];
  const is64 = cls === 2;
  if (!is64 && cls !== 1) throw new Error(`bad ELF class ${cls}`);
  if (buf[5] !== 1) throw new Error('not little-endian');
  const u16 = (o) => buf.readUInt16LE(o);
  const u32 = (o) => buf.readUInt32LE(o);
  const u64 = (o) => buf.readBigUInt64LE(o);
  const h = is64
    ? { entry: u64(24), phoff: u64(32), shoff: u64(40), flags: u32(48), ehsize: u16(52), phentsize: u16(54), phnum: u16(56), shentsize: u16(58), shnum: u16(60), shstrndx: u16(62) }
    : { entry: BigInt(u32(24)), phoff: BigInt(u32(28)), shoff: BigInt(u32(32)), flags: u32(36), ehsize: u16(40), phentsize: u16(42), phnum: u16(44), shentsize: u16(46), shnum: u16(48), shstrndx: u16(50) };
  const elf = {
    class: is64 ? 'ELFCLASS64' : 'ELFCLASS32',
    is64,
    ident: buf.subarray(0, 16).toString('hex'),
    type: u16(16),
    machine: u16(18),
    version: u32(20),
    ...h,
    shdrs: [],
    phdrs: [],
    notes: [],
  };
  for (let i = 0; i < h.shnum; i++) {
    const o = Number(h.shoff) + i * h.shentsize;
    elf.shdrs.push(is64
      ? { name: u32(o), type: u32(o + 4), flags: u64(o + 8), addr: u64(o + 16), offset: u64(o + 24), size: u64(o + 32), link: u32(o + 40), info: u32(o + 44), addralign: u64(o + 48), entsize: u64(o + 56) }
      : { name: u32(o), type: u32(o + 4), flags: BigInt(u32(o + 8)), addr: BigInt(u32(o + 12)), offset: BigInt(u32(o + 16)), size: BigInt(u32(o + 20)), link: u32(o + 24), info: u32(o + 28), addralign: BigInt(u32(o + 32)), entsize: BigInt(u32(o + 36)) });
  }
  let phnum = h.phnum;
  if (phnum === 0xffff && elf.shdrs.length > 0) phnum = elf.shdrs[0].info; // PN_XNUM
  elf.realPhnum = phnum;
  for (let i = 0; i < phnum; i++) {
    const o = Number(h.phoff) + i * h.phentsize;
    elf.phdrs.push(is64
      ? { type: u32(o), flags: u32(o + 4), offset: u64(o + 8), vaddr: u64(o + 16), paddr: u64(o + 24), filesz: u64(o + 32), memsz: u64(o + 40), align: u64(o + 48) }
      : { type: u32(o), offset: BigInt(u32(o + 4)), vaddr: BigInt(u32(o + 8)), paddr: BigInt(u32(o + 12)), filesz: BigInt(u32(o + 16)), memsz: BigInt(u32(o + 20)), flags: u32(o + 24), align: BigInt(u32(o + 28)) });
  }
  if (h.shstrndx < elf.shdrs.length) {
    const s = elf.shdrs[h.shstrndx];
    elf.shstrtab = buf.subarray(Number(s.offset), Number(s.offset + s.size));
  }
  for (const ph of elf.phdrs.filter((p) => p.type === 4)) {
    elf.notes.push(...parseNotes(buf.subarray(Number(ph.offset), Number(ph.offset + ph.filesz)), Number(ph.offset)));
  }
  return elf;
}

// notes of one segment: 32-bit namesz/descsz/type words, name and desc padded to 4
export function parseNotes(seg, base = 0) {
  const notes = [];
  for (let o = 0; o + 12 <= seg.length;) {
    const namesz = seg.readUInt32LE(o);
    const descsz = seg.readUInt32LE(o + 4);
    const type = seg.readUInt32LE(o + 8);
    const nameBytes = seg.subarray(o + 12, o + 12 + namesz);
    const descOff = o + 12 + pad4(namesz);
    const size = 12 + pad4(namesz) + pad4(descsz);
    notes.push({
      offset: base + o,
      namesz,
      descsz,
      type,
      name: nameBytes.toString('latin1').replace(/\0+$/, ''),
      descOffset: base + descOff,
      desc: seg.subarray(descOff, descOff + descsz),
      padAfterDesc: seg.subarray(descOff + descsz, o + size).toString('hex'),
      size,
    });
    o += size;
  }
  return notes;
}

const X64_PRSTATUS_REGS = ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'];
const I386_PRSTATUS_REGS = ['ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'eax', 'ds', 'es', 'fs', 'gs', 'orig_eax', 'eip', 'cs', 'eflags', 'esp', 'ss'];
const QEMU_GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags'];
const QEMU_SEGS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldt', 'tr', 'gdt', 'idt'];

// Decode a note. NT_PRSTATUS layout by descsz (336 = x86_64, 144 = i386).
export function decodeNote(note) {
  const d = note.desc;
  if (note.name === 'CORE' && note.type === 1) {
    const out = { kind: 'prstatus' };
    const nonzero = [];
    if (note.descsz === 336) {
      out.flavour = 'x86_64';
      out.pid = d.readUInt32LE(32);
      out.regs = {};
      X64_PRSTATUS_REGS.forEach((r, i) => { out.regs[r] = hex(d.readBigUInt64LE(112 + 8 * i)); });
      for (let i = 0; i < 336; i++) if (d[i] && (i < 112 || i >= 328) && !(i >= 32 && i < 36)) nonzero.push(i);
    } else if (note.descsz === 144) {
      out.flavour = 'i386';
      out.pid = d.readUInt32LE(24);
      out.regs = {};
      I386_PRSTATUS_REGS.forEach((r, i) => { out.regs[r] = hex(d.readUInt32LE(72 + 4 * i)); });
      for (let i = 0; i < 144; i++) if (d[i] && (i < 72 || i >= 140) && !(i >= 24 && i < 28)) nonzero.push(i);
    } else {
      out.flavour = `unknown (${note.descsz})`;
    }
    out.otherNonzeroBytes = nonzero;
    return out;
  }
  if (note.name === 'QEMU' && note.type === 0 && note.descsz >= 432) {
    const out = { kind: 'QEMUCPUState', version: d.readUInt32LE(0), size: d.readUInt32LE(4) };
    QEMU_GPRS.forEach((r, i) => { out[r] = hex(d.readBigUInt64LE(8 + 8 * i)); });
    QEMU_SEGS.forEach((s, i) => {
      const o = 152 + 24 * i;
      out[s] = { selector: hex(d.readUInt32LE(o)), limit: hex(d.readUInt32LE(o + 4)), flags: hex(d.readUInt32LE(o + 8)), pad: d.readUInt32LE(o + 12), base: hex(d.readBigUInt64LE(o + 16)) };
    });
    out.cr = [0, 1, 2, 3, 4].map((i) => hex(d.readBigUInt64LE(392 + 8 * i)));
    if (note.descsz >= 440) out.kernel_gs_base = hex(d.readBigUInt64LE(432));
    return out;
  }
  if (note.name === 'VMCOREINFO') {
    return { kind: 'VMCOREINFO', text: d.toString('latin1') };
  }
  return { kind: 'unknown' };
}

export function summarizeElf(elf) {
  return {
    class: elf.class,
    ident: elf.ident,
    e_type: elf.type,
    e_machine: elf.machine,
    e_version: elf.version,
    e_entry: hex(elf.entry),
    e_phoff: hex(elf.phoff),
    e_shoff: hex(elf.shoff),
    e_flags: elf.flags,
    e_ehsize: elf.ehsize,
    e_phentsize: elf.phentsize,
    e_phnum: elf.phnum,
    e_shentsize: elf.shentsize,
    e_shnum: elf.shnum,
    e_shstrndx: elf.shstrndx,
    realPhnum: elf.realPhnum,
    shdrs: elf.shdrs.map((s) => ({ name: s.name, type: s.type, flags: hex(s.flags), addr: hex(s.addr), offset: hex(s.offset), size: hex(s.size), link: s.link, info: s.info, addralign: hex(s.addralign), entsize: hex(s.entsize) })),
    shstrtab: elf.shstrtab?.toString('hex'),
    phdrs: elf.phdrs.map((p) => ({ type: PT_NAMES[p.type] ?? p.type, flags: p.flags, offset: hex(p.offset), vaddr: hex(p.vaddr), paddr: hex(p.paddr), filesz: hex(p.filesz), memsz: hex(p.memsz), align: hex(p.align) })),
    notes: elf.notes.map((n) => ({ offset: hex(n.offset), name: n.name, namesz: n.namesz, type: n.type, descsz: n.descsz, size: n.size, padAfterDesc: n.padAfterDesc || undefined })),
  };
}

// physical address -> file offset, from the PT_LOADs of a paging=false ELF dump
export function elfPhysReader(elf, buf) {
  const loads = elf.phdrs.filter((p) => p.type === 1 && p.filesz > 0n);
  return (paddr, length) => {
    const out = Buffer.alloc(length);
    for (const p of loads) {
      const start = p.paddr > paddr ? p.paddr : paddr;
      const end = p.paddr + p.filesz < paddr + BigInt(length) ? p.paddr + p.filesz : paddr + BigInt(length);
      if (start >= end) continue;
      const src = Number(p.offset + (start - p.paddr));
      buf.copy(out, Number(start - paddr), src, src + Number(end - start));
    }
    return out;
  };
}

// ---------------------------------------------------------------------------
// makedumpfile flattened format

export function parseFlattened(buf) {
  const sig = buf.subarray(0, 16);
  const header = {
    signature: sig.toString('latin1').replace(/\0+$/, ''),
    signatureHex: sig.toString('hex'),
    type: buf.readBigInt64BE(16),
    version: buf.readBigInt64BE(24),
    restZero: buf.subarray(32, 4096).every((b) => b === 0),
  };
  const records = [];
  let o = 4096;
  let end = null;
  while (o + 16 <= buf.length) {
    const offset = buf.readBigInt64BE(o);
    const size = buf.readBigInt64BE(o + 8);
    if (offset === -1n && size === -1n) {
      end = { at: o, bytes: buf.subarray(o, o + 16).toString('hex') };
      o += 16;
      break;
    }
    records.push({ offset: Number(offset), size: Number(size), at: o + 16 });
    o += 16 + Number(size);
  }
  return { header, records, end, trailingBytes: buf.length - o };
}

export function reassemble(buf, flat) {
  let len = 0;
  for (const r of flat.records) len = Math.max(len, r.offset + r.size);
  const out = Buffer.alloc(len);
  for (const r of flat.records) buf.copy(out, r.offset, r.at, r.at + r.size);
  return out;
}

// ---------------------------------------------------------------------------
// kdump-compressed (reassembled)

const UTS_FIELDS = ['sysname', 'nodename', 'release', 'version', 'machine', 'domainname'];

export function parseKdump(buf) {
  if (buf.toString('latin1', 0, 8) !== 'KDUMP   ') throw new Error('no KDUMP signature');
  // flavour: where block_size (4096) sits. Check the 32-bit place first: in the
  // 64-bit header it lies in the zero timestamp, while the 64-bit place (428)
  // holds max_mapnr in the 32-bit header, which can be 4096 too.
  let is64;
  if (buf.readUInt32LE(416) === 4096) is64 = false;
  else if (buf.readUInt32LE(428) === 4096) is64 = true;
  else throw new Error('cannot find block_size');
  const u32 = (o) => buf.readUInt32LE(o);
  const uts = {};
  UTS_FIELDS.forEach((f, i) => { uts[f] = buf.toString('latin1', 12 + 65 * i, 12 + 65 * (i + 1)).replace(/\0+$/, ''); });
  const base = is64 ? 424 : 412;
  const header = {
    flavour: is64 ? '64-bit' : '32-bit',
    signature: buf.toString('latin1', 0, 8),
    header_version: u32(8),
    utsname: uts,
    utsnameOtherNonzero: false,
    timestampHex: buf.subarray(402, base).toString('hex'),
    status: u32(base),
    block_size: u32(base + 4),
    sub_hdr_size: u32(base + 8),
    bitmap_blocks: u32(base + 12),
    max_mapnr: u32(base + 16),
    total_ram_blocks: u32(base + 20),
    device_blocks: u32(base + 24),
    written_blocks: u32(base + 28),
    current_cpu: u32(base + 32),
    nr_cpus: u32(base + 36),
    headerSize: base + 40,
    restOfBlockZero: buf.subarray(base + 40, 4096).every((b) => b === 0),
  };
  // utsname: anything other than the machine field non-zero?
  for (let i = 12; i < 402; i++) {
    if (buf[i] && !(i >= 12 + 65 * 4 && i < 12 + 65 * 5)) header.utsnameOtherNonzero = true;
  }
  const B = header.block_size;
  const s = B;
  const u64 = (o) => buf.readBigUInt64LE(o);
  const sub = is64
    ? { phys_base: u64(s), dump_level: u32(s + 8), split: u32(s + 12), start_pfn: u64(s + 16), end_pfn: u64(s + 24), offset_vmcoreinfo: u64(s + 32), size_vmcoreinfo: u64(s + 40), offset_note: u64(s + 48), note_size: u64(s + 56), offset_eraseinfo: u64(s + 64), size_eraseinfo: u64(s + 72), start_pfn_64: u64(s + 80), end_pfn_64: u64(s + 88), max_mapnr_64: u64(s + 96), size: 104 }
    : { phys_base: BigInt(u32(s)), dump_level: u32(s + 4), split: u32(s + 8), start_pfn: BigInt(u32(s + 12)), end_pfn: BigInt(u32(s + 16)), offset_vmcoreinfo: u64(s + 20), size_vmcoreinfo: BigInt(u32(s + 28)), offset_note: u64(s + 32), note_size: BigInt(u32(s + 40)), offset_eraseinfo: u64(s + 44), size_eraseinfo: BigInt(u32(s + 52)), start_pfn_64: u64(s + 56), end_pfn_64: u64(s + 64), max_mapnr_64: u64(s + 72), size: 80 };
  const notesStart = Number(sub.offset_note);
  const notesBytes = buf.subarray(notesStart, notesStart + Number(sub.note_size));
  const notes = parseNotes(notesBytes, notesStart);
  const bitmapOff = (1 + header.sub_hdr_size) * B;
  const L = (header.bitmap_blocks / 2) * B;
  const bm1 = buf.subarray(bitmapOff, bitmapOff + L);
  const bm2 = buf.subarray(bitmapOff + L, bitmapOff + 2 * L);
  const pfns = [];
  for (let i = 0; i < bm1.length; i++) {
    if (!bm1[i]) continue;
    for (let b = 0; b < 8; b++) if (bm1[i] & (1 << b)) pfns.push(i * 8 + b);
  }
  const P = bitmapOff + 2 * L;
  const descs = [];
  for (let i = 0; i < pfns.length; i++) {
    const o = P + 24 * i;
    descs.push({ pfn: pfns[i], offset: Number(buf.readBigUInt64LE(o)), size: buf.readUInt32LE(o + 8), flags: buf.readUInt32LE(o + 12), page_flags: buf.readBigUInt64LE(o + 16) });
  }
  const dataStart = P + 24 * pfns.length;
  return {
    header,
    sub,
    subHex: buf.subarray(B, B + sub.size).toString('hex'),
    notes,
    notesBytes,
    bitmapOffset: bitmapOff,
    bitmapLength: L,
    bitmapsIdentical: bm1.equals(bm2),
    pfns,
    descOffset: P,
    descs,
    dataStart,
    fileSize: buf.length,
    buf,
  };
}

export function summarizeKdump(kd) {
  const flags = {};
  for (const d of kd.descs) flags[d.flags] = (flags[d.flags] ?? 0) + 1;
  const zeroDesc = kd.descs.filter((d) => d.offset === kd.dataStart).length;
  const ranges = [];
  for (const p of kd.pfns) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === p) last[1] = p + 1;
    else ranges.push([p, p + 1]);
  }
  return {
    header: kd.header,
    subHeader: Object.fromEntries(Object.entries(kd.sub).map(([k, v]) => [k, typeof v === 'bigint' ? hex(v) : v])),
    notes: kd.notes.map((n) => ({ offset: hex(n.offset), name: n.name, type: n.type, descsz: n.descsz })),
    bitmapOffset: hex(kd.bitmapOffset),
    bitmapLength: hex(kd.bitmapLength),
    bitmapsIdentical: kd.bitmapsIdentical,
    dumpablePfnRanges: ranges.map(([a, b]) => [hex(a), hex(b)]),
    numDumpable: kd.pfns.length,
    descOffset: hex(kd.descOffset),
    dataStart: hex(kd.dataStart),
    descriptorFlags: flags,
    zeroPageDescriptors: zeroDesc,
    sharedZeroPageIsZero: kd.buf.subarray(kd.dataStart, kd.dataStart + 4096).every((b) => b === 0),
    pageFlagsAllZero: kd.descs.every((d) => d.page_flags === 0n),
    reassembledSize: kd.fileSize,
  };
}

// Every dumpable page of the kdump against the same page of a paging=false ELF.
export function checkKdumpAgainstElf(kd, elf, elfBuf) {
  const read = elfPhysReader(elf, elfBuf);
  const problems = [];
  let next = kd.dataStart + 4096;
  let zlibStreams = 0;
  const headerBytes = new Set();
  for (const d of kd.descs) {
    const want = read(BigInt(d.pfn) * 4096n, 4096);
    const raw = kd.buf.subarray(d.offset, d.offset + d.size);
    let page;
    if (d.flags === 1) {
      page = zlib.inflateSync(raw);
      zlibStreams++;
      headerBytes.add(raw.subarray(0, 2).toString('hex'));
    } else if (d.flags === 0) page = raw;
    else { problems.push(`pfn ${hex(d.pfn)}: flags ${d.flags}`); continue; }
    if (!page.equals(want)) problems.push(`pfn ${hex(d.pfn)}: data differs from ELF`);
    if (d.offset === kd.dataStart) {
      if (!want.every((b) => b === 0)) problems.push(`pfn ${hex(d.pfn)}: shared zero page for a non-zero page`);
    } else {
      if (want.every((b) => b === 0)) problems.push(`pfn ${hex(d.pfn)}: zero page stored as data`);
      if (d.offset !== next) problems.push(`pfn ${hex(d.pfn)}: data at ${hex(d.offset)}, expected ${hex(next)}`);
      next = d.offset + d.size;
      if (d.flags === 0 && d.size !== 4096) problems.push(`pfn ${hex(d.pfn)}: raw size ${d.size}`);
      if (d.flags === 1 && d.size >= 4096) problems.push(`pfn ${hex(d.pfn)}: compressed size ${d.size}`);
    }
  }
  if (next !== kd.fileSize) problems.push(`page data ends at ${hex(next)}, file ends at ${hex(kd.fileSize)}`);
  const elfNotes = Buffer.concat(elf.notes.map((n) => elfBuf.subarray(n.offset, n.offset + n.size)));
  const notesEqual = elfNotes.equals(kd.notesBytes);
  if (!notesEqual) problems.push('kdump notes differ from the ELF notes');
  return { problems, zlibStreams, zlibHeaders: [...headerBytes], notesEqualElf: notesEqual };
}

// ---------------------------------------------------------------------------
// CLI

async function cli() {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const elfIdx = args.indexOf('--elf');
  const elfFile = elfIdx >= 0 ? args[elfIdx + 1] : null;
  const file = args.find((a, i) => !a.startsWith('--') && (elfIdx < 0 || i !== elfIdx + 1));
  if (!file) {
    console.log('usage: node scripts/golden/dump-inspect.mjs FILE[.gz] [--elf ELF[.gz]] [--json]');
    process.exit(2);
  }
  const buf = loadMaybeGz(file);
  let out;
  if (buf.readUInt32BE(0) === 0x7f454c46) {
    const elf = parseElf(buf);
    out = { file: path.basename(file), size: buf.length, elf: summarizeElf(elf), decoded: elf.notes.map(decodeNote) };
  } else if (buf.toString('latin1', 0, 12) === 'makedumpfile') {
    const flat = parseFlattened(buf);
    const kbuf = reassemble(buf, flat);
    const kd = parseKdump(kbuf);
    out = {
      file: path.basename(file),
      size: buf.length,
      flat: { header: { ...flat.header, type: Number(flat.header.type), version: Number(flat.header.version) }, records: flat.records.map((r) => [hex(r.offset), hex(r.size)]), end: flat.end, trailingBytes: flat.trailingBytes },
      kdump: summarizeKdump(kd),
      decoded: kd.notes.map(decodeNote),
    };
    if (elfFile) {
      const ebuf = loadMaybeGz(elfFile);
      out.checkAgainstElf = checkKdumpAgainstElf(kd, parseElf(ebuf), ebuf);
    }
  } else {
    throw new Error(`${file}: neither ELF nor makedumpfile-flattened`);
  }
  console.log(json ? JSON.stringify(out, null, 2) : JSON.stringify(out, null, 1));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli().catch((err) => {
    console.error(err.stack ?? String(err));
    process.exit(1);
  });
}
