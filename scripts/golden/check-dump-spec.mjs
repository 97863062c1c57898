#!/usr/bin/env node
// check-dump-spec.mjs - recompute the golden QEMU 7.2 dumps in
// test/fixtures/qemu-7.2/dump/ from the rules of shared/spec/dump-formats.md and
// report every place where QEMU's real output differs from the rule.
//
// What is recomputed (spec section in brackets):
//   ELF: header fields [3.2], section headers and .shstrtab [3.3], offsets and
//     file size [3.1], PT_NOTE and PT_LOADs (p_offset/p_filesz/p_vaddr) [3.4],
//     note order, sizes, prstatus vs QEMU note, guest note copy [2.3-2.4, 3.5],
//     the memory section (bytes against the unfiltered dump) [3.6],
//     paging=true mappings by walking the guest page tables found in the dump
//     itself, merged and filtered by the spec's rules [2.5, 4.1, 4.2].
//   kdump: flat header, record sequence including the 16 KiB write caches [5.6,
//     5.7], disk_dump_header and kdump_sub_header values [5.2, 5.3], phys_base
//     [2.4], bitmaps [5.4], descriptors and page data [5.5].
// Usage: node scripts/golden/check-dump-spec.mjs [--verbose]
// Exit code 0 always: the output is a list of findings, "DIFF" lines are
// places where QEMU's bytes disagree with the spec's rule.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { decodeNote, elfPhysReader, hex, loadMaybeGz, parseElf, parseFlattened, parseKdump, reassemble } from './dump-inspect.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = path.join(ROOT, 'test/fixtures/qemu-7.2/dump');
const verbose = process.argv.includes('--verbose');
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8'));

const B = 4096;
const pad4 = (n) => (n + 3) & ~3;
const M64 = (1n << 64n) - 1n;
let diffs = 0;
let oks = 0;

function check(file, what, got, want) {
  const ser = (v) => (typeof v === 'bigint' ? hex(v) : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? hex(x) : x)));
  const g = ser(got);
  const w = ser(want);
  if (g === w) {
    oks++;
    if (verbose) console.log(`ok   ${file}: ${what} = ${g}`);
  } else {
    diffs++;
    console.log(`DIFF ${file}: ${what}: QEMU ${g}, spec ${w}`);
  }
}

// ---------------------------------------------------------------------------
// guest memory blocks = the PT_LOADs of the plain paging=false dump

function blocksOf(elf) {
  return elf.phdrs.filter((p) => p.type === 1).map((p) => ({ start: p.paddr, end: p.paddr + p.memsz }));
}

function filterBlocks(blocks, begin, length) {
  if (begin === undefined) return blocks.map((b) => ({ ...b }));
  const out = [];
  for (const b of blocks) {
    const s = b.start > begin ? b.start : begin;
    const e = b.end < begin + length ? b.end : begin + length;
    if (s < e) out.push({ start: s, end: e });
  }
  return out;
}

// ---------------------------------------------------------------------------
// page-table walk [4.1] and merge [4.2]

const MASK52 = 0x000ffffffffff000n;
const BIT63 = 1n << 63n;

function makeMappingList() {
  const list = [];
  let last = null;
  const contiguous = (m, phys, virt) => phys === m.phys + m.len && virt === m.virt + m.len;
  return {
    list,
    add(phys, virt, len) {
      if (list.length === 0) {
        last = { phys, virt, len };
        list.push(last);
        return;
      }
      if (last && contiguous(last, phys, virt)) {
        last.len += len;
        return;
      }
      for (const m of list) {
        if (contiguous(m, phys, virt)) {
          m.len += len;
          last = m;
          return;
        }
        if (phys + len < m.phys) break;
        const sameRegion = !(phys + len < m.phys || phys >= m.phys + m.len);
        if (sameRegion) {
          if (((virt - m.virt) & M64) !== ((phys - m.phys) & M64)) continue;
          if (virt < m.virt) {
            m.len += m.virt - virt;
            m.virt = virt;
          }
          if (virt + len > m.virt + m.len) m.len = virt + len - m.virt;
          last = m;
          return;
        }
      }
      const n = { phys, virt, len };
      const at = list.findIndex((m) => m.phys >= phys);
      if (at < 0) list.push(n);
      else list.splice(at, 0, n);
      last = n;
    },
  };
}

function walk(read64, read32, cpu, lma, isMemory) {
  const ml = makeMappingList();
  const cr3 = BigInt(cpu.cr[3]);
  const cr4 = BigInt(cpu.cr[4]);
  const pse = (cr4 & 0x10n) !== 0n;
  const pae = (cr4 & 0x20n) !== 0n;
  const leaf = (phys, virt, len) => {
    if (isMemory(phys)) ml.add(phys, virt, len);
  };
  if (!pae) {
    const pd = cr3 & ~0xfffn;
    for (let i = 0n; i < 1024n; i++) {
      const pde = BigInt(read32(pd + 4n * i));
      if (!(pde & 1n)) continue;
      if ((pde & 0x80n) && pse) {
        leaf((pde & 0xffc00000n) | ((pde & 0x1fe000n) << 19n), i << 22n, 1n << 22n);
        continue;
      }
      const pt = pde & ~0xfffn;
      for (let j = 0n; j < 1024n; j++) {
        const pte = BigInt(read32(pt + 4n * j));
        if (pte & 1n) leaf(pte & ~0xfffn, (i << 22n) | (j << 12n), 4096n);
      }
    }
  } else if (!lma) {
    const pdpt = cr3 & ~0x1fn;
    for (let i = 0n; i < 4n; i++) {
      const pdpte = read64(pdpt + 8n * i);
      if (!(pdpte & 1n)) continue;
      const pd = pdpte & ~0xfffn;
      for (let j = 0n; j < 512n; j++) {
        const pde = read64(pd + 8n * j);
        if (!(pde & 1n)) continue;
        if (pde & 0x80n) {
          leaf(pde & ~0x1fffffn & ~BIT63, (i << 30n) | (j << 21n), 1n << 21n);
          continue;
        }
        const pt = pde & MASK52;
        for (let k = 0n; k < 512n; k++) {
          const pte = read64(pt + 8n * k);
          if (pte & 1n) leaf(pte & ~0xfffn & ~BIT63, (i << 30n) | (j << 21n) | (k << 12n), 4096n);
        }
      }
    }
  } else {
    const prefix = 0xffff000000000000n;
    const pml4 = cr3 & MASK52;
    for (let l = 0n; l < 512n; l++) {
      const e4 = read64(pml4 + 8n * l);
      if (!(e4 & 1n)) continue;
      const pdpt = e4 & MASK52;
      for (let i = 0n; i < 512n; i++) {
        const e3 = read64(pdpt + 8n * i);
        if (!(e3 & 1n)) continue;
        if (e3 & 0x80n) {
          leaf(e3 & ~0x3fffffffn & ~BIT63, prefix | (l << 39n) | (i << 30n), 1n << 30n);
          continue;
        }
        const pd = e3 & MASK52;
        for (let j = 0n; j < 512n; j++) {
          const e2 = read64(pd + 8n * j);
          if (!(e2 & 1n)) continue;
          if (e2 & 0x80n) {
            leaf(e2 & ~0x1fffffn & ~BIT63, prefix | (l << 39n) | (i << 30n) | (j << 21n), 1n << 21n);
            continue;
          }
          const pt = e2 & MASK52;
          for (let k = 0n; k < 512n; k++) {
            const e1 = read64(pt + 8n * k);
            if (e1 & 1n) leaf(e1 & ~0xfffn & ~BIT63, prefix | (l << 39n) | (i << 30n) | (j << 21n) | (k << 12n), 4096n);
          }
        }
      }
    }
  }
  return ml.list;
}

function applyFilter(maps, begin, length) {
  if (begin === undefined) return maps;
  const end = begin + length;
  const out = [];
  for (const m0 of maps) {
    const m = { ...m0 };
    if (m.phys >= end || m.phys + m.len <= begin) continue;
    if (m.phys < begin) {
      m.len -= begin - m.phys;
      if (m.virt) m.virt += begin - m.phys;
      m.phys = begin;
    }
    if (m.phys + m.len > end) m.len = end - m.phys;
    out.push(m);
  }
  return out;
}

// ---------------------------------------------------------------------------
// ELF

function checkElf(entry, plain) {
  const f = entry.dump;
  const buf = loadMaybeGz(path.join(DIR, entry.file));
  const elf = parseElf(buf);
  const c = index.cases.find((x) => x.name === entry.case);
  const args = entry.qmp.arguments;
  const begin = args.begin === undefined ? undefined : BigInt(args.begin);
  const length = args.length === undefined ? undefined : BigInt(args.length);
  const allBlocks = blocksOf(plain.elf);
  const blocks = filterBlocks(allBlocks, begin, length);
  const cpu0 = c.qemuNotes.cpuStates[0];
  const ncpu = c.qemuNotes.cpuStates.length;
  const lma = elf.machine === 62;

  // [2.2] class and machine
  const lastEnd = allBlocks.reduce((m, b) => (b.end > m ? b.end : m), 0n);
  check(f, 'ELF class [2.2]', elf.class, lma || lastEnd > 0xffffffffn ? 'ELFCLASS64' : 'ELFCLASS32');
  check(f, 'e_machine [2.2]', elf.machine, c.guest.mode === 'long' ? 62 : 3);
  const is64 = elf.is64;

  // [2.3] note size
  const perCpu = lma ? 816 : 624;
  const guestNote = c.guest.note.registered ? 12 + pad4(11) + pad4(c.guest.note.descsz) : 0;
  const noteSize = perCpu * ncpu + guestNote;

  // mappings
  let maps;
  if (!args.paging) {
    maps = allBlocks.map((b) => ({ phys: b.start, virt: 0n, len: b.end - b.start }));
  } else {
    const read = elfPhysReader(plain.elf, plain.buf);
    const read64 = (a) => read(a, 8).readBigUInt64LE(0);
    const read32 = (a) => read(a, 4).readUInt32LE(0);
    const isMemory = (a) => allBlocks.some((b) => a >= b.start && a < b.end) || (c.firmwareOption.includes('pflash') && a >= 0xffff0000n && a < 0x100000000n);
    const paging = (BigInt(cpu0.cr[0]) & 0x80000000n) !== 0n;
    maps = paging ? walk(read64, read32, cpu0, lma, isMemory) : allBlocks.map((b) => ({ phys: b.start, virt: b.start, len: b.end - b.start }));
  }
  maps = applyFilter(maps, begin, length);
  const phdrNum = 1 + maps.length;

  const phoff = is64 ? 0xc0n : 0x84n;
  const shoff = is64 ? 0x40n : 0x34n;
  const phentsize = is64 ? 56 : 32;
  const noteOffset = phoff + BigInt(phentsize * phdrNum);
  const memOffset = noteOffset + BigInt(noteSize);
  const total = blocks.reduce((n, b) => n + (b.end - b.start), 0n);
  const sectionOffset = memOffset + total;

  // [3.2]
  check(f, 'e_ident [3.2]', elf.ident, `7f454c46${is64 ? '02' : '01'}0101000000000000000000`);
  check(f, 'e_type', elf.type, 4);
  check(f, 'e_version', elf.version, 1);
  check(f, 'e_entry', elf.entry, 0n);
  check(f, 'e_phoff', elf.phoff, phoff);
  check(f, 'e_shoff', elf.shoff, shoff);
  check(f, 'e_flags', elf.flags, 0);
  check(f, 'e_ehsize', elf.ehsize, 8);
  check(f, 'e_phentsize', elf.phentsize, phentsize);
  check(f, 'e_phnum', elf.phnum, Math.min(phdrNum, 0xffff));
  check(f, 'e_shentsize', elf.shentsize, is64 ? 64 : 40);
  check(f, 'e_shnum', elf.shnum, 2);
  check(f, 'e_shstrndx', elf.shstrndx, 1);
  // [3.3]
  const sh0 = elf.shdrs[0];
  check(f, 'Shdr[0] all zero [3.3]', Object.values(sh0).every((v) => v === 0 || v === 0n), true);
  const sh1 = elf.shdrs[1];
  check(f, 'Shdr[1]', { ...sh1, flags: hex(sh1.flags), addr: hex(sh1.addr), offset: hex(sh1.offset), size: hex(sh1.size), addralign: hex(sh1.addralign), entsize: hex(sh1.entsize) },
    { name: 1, type: 3, flags: '0x0', addr: '0x0', offset: hex(sectionOffset), size: '0xb', link: 0, info: 0, addralign: '0x0', entsize: '0x0' });
  check(f, '.shstrtab bytes', elf.shstrtab.toString('hex'), Buffer.from('\0.shstrtab\0', 'latin1').toString('hex'));
  // [3.1]
  check(f, 'file size = section_offset + 11 [3.1]', BigInt(buf.length), sectionOffset + 11n);
  // [3.4]
  const ph0 = elf.phdrs[0];
  check(f, 'PT_NOTE [3.4]', { type: ph0.type, flags: ph0.flags, offset: hex(ph0.offset), vaddr: hex(ph0.vaddr), paddr: hex(ph0.paddr), filesz: hex(ph0.filesz), memsz: hex(ph0.memsz), align: hex(ph0.align) },
    { type: 4, flags: 0, offset: hex(noteOffset), vaddr: '0x0', paddr: '0x0', filesz: hex(noteSize), memsz: hex(noteSize), align: '0x0' });
  const wantLoads = maps.map((m) => {
    let off = memOffset;
    let found = null;
    for (const b of blocks) {
      if (m.phys >= b.start && m.phys < b.end) {
        const avail = b.end - m.phys;
        found = { offset: off + (m.phys - b.start), filesz: m.len < avail ? m.len : avail };
        break;
      }
      off += b.end - b.start;
    }
    const all1 = is64 ? M64 : 0xffffffffn;
    const virt = is64 ? m.virt : m.virt & 0xffffffffn;
    return { type: 1, flags: 0, offset: hex(found ? found.offset : all1), vaddr: hex(virt === 0n ? m.phys : virt), paddr: hex(m.phys), filesz: hex(found ? found.filesz : 0n), memsz: hex(m.len), align: '0x0' };
  });
  const gotLoads = elf.phdrs.slice(1).map((p) => ({ type: p.type, flags: p.flags, offset: hex(p.offset), vaddr: hex(p.vaddr), paddr: hex(p.paddr), filesz: hex(p.filesz), memsz: hex(p.memsz), align: hex(p.align) }));
  check(f, `PT_LOADs (${args.paging ? 'page-table walk [4]' : 'one per block'}) [3.4]`, gotLoads, wantLoads);

  // [3.5] notes
  const names = elf.notes.map((n) => `${n.name}/${n.type}/${n.descsz}`);
  const wantNames = [
    ...Array(ncpu).fill(`CORE/1/${lma ? 336 : 144}`),
    ...Array(ncpu).fill('QEMU/0/440'),
    ...(c.guest.note.registered ? [`VMCOREINFO/0/${c.guest.note.descsz}`] : []),
  ];
  check(f, 'note order and sizes [3.5]', names, wantNames);
  check(f, 'namesz CORE/QEMU = 5', elf.notes.filter((n) => n.name !== 'VMCOREINFO').every((n) => n.namesz === 5), true);
  for (const [i, n] of elf.notes.entries()) {
    const d = decodeNote(n);
    if (d.kind === 'prstatus') {
      const q = decodeNote(elf.notes[i + ncpu]);
      check(f, `prstatus ${i} pid = cpu_index+1`, d.pid, i + 1);
      check(f, `prstatus ${i} other bytes zero`, d.otherNonzeroBytes, []);
      const want = lma
        ? { r15: q.r15, r14: q.r14, r13: q.r13, r12: q.r12, rbp: q.rbp, rbx: q.rbx, r11: q.r11, r10: q.r10, r9: q.r9, r8: q.r8, rax: q.rax, rcx: q.rcx, rdx: q.rdx, rsi: q.rsi, rdi: q.rdi, orig_rax: '0x0', rip: q.rip, cs: q.cs.selector, eflags: q.rflags, rsp: q.rsp, ss: q.ss.selector, fs_base: q.fs.base, gs_base: q.gs.base, ds: q.ds.selector, es: q.es.selector, fs: q.fs.selector, gs: q.gs.selector }
        : Object.fromEntries(Object.entries({ ebx: q.rbx, ecx: q.rcx, edx: q.rdx, esi: q.rsi, edi: q.rdi, ebp: q.rbp, eax: q.rax, ds: q.ds.selector, es: q.es.selector, fs: q.fs.selector, gs: q.gs.selector, orig_eax: '0x0', eip: q.rip, cs: q.cs.selector, eflags: q.rflags, esp: q.rsp, ss: q.ss.selector }).map(([k, v]) => [k, hex(BigInt(v) & 0xffffffffn)]));
      check(f, `prstatus ${i} registers = QEMU note registers [3.5]`, d.regs, want);
    } else if (d.kind === 'QEMUCPUState') {
      check(f, `QEMU note ${i - ncpu} version/size`, [d.version, d.size], [1, 440]);
      check(f, `QEMU note ${i - ncpu} segment pads zero, gdt/idt selector+flags zero`, ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldt', 'tr', 'gdt', 'idt'].every((s) => d[s].pad === 0) && ['gdt', 'idt'].every((s) => d[s].selector === '0x0' && d[s].flags === '0x0'), true);
      check(f, `QEMU note ${i - ncpu} cr1 = 0`, d.cr[1], '0x0');
      const n = elf.notes[i];
      check(f, `QEMU note ${i - ncpu} zero name padding`, buf.subarray(n.offset + 12 + 5, n.offset + 20).toString('hex'), '000000');
    }
  }
  // [2.4] guest note copy
  if (c.guest.note.registered) {
    const gn = elf.notes[elf.notes.length - 1];
    const read = elfPhysReader(plain.elf, plain.buf);
    const ram = read(0x209000n, gn.size);
    const want = Buffer.from(ram);
    want[12 + 12 + gn.descsz] = 0; // NUL after the desc (VMCOREINFO name)
    check(f, 'guest note = guest RAM bytes, byte after desc zeroed [2.4]', buf.subarray(gn.offset, gn.offset + gn.size).toString('hex'), want.toString('hex'));
  }
  // [3.6] memory section
  const plainBlocks = blocksOf(plain.elf);
  const plainMem = plain.buf.subarray(Number(plain.elf.phdrs[1].offset));
  const parts = [];
  for (const b of blocks) {
    let off = 0n;
    for (const pb of plainBlocks) {
      if (b.start >= pb.start && b.end <= pb.end) {
        parts.push(plainMem.subarray(Number(off + (b.start - pb.start)), Number(off + (b.end - pb.start))));
        break;
      }
      off += pb.end - pb.start;
    }
  }
  const mem = Buffer.concat(parts);
  check(f, 'memory section = filtered blocks back to back [3.6]', buf.subarray(Number(memOffset), Number(sectionOffset)).equals(mem), true);
  return { elf, buf };
}

// ---------------------------------------------------------------------------
// kdump

function simulateRecords(kd, hdrSize, subSize) {
  const recs = [[0, hdrSize], [B, subSize], [Number(kd.sub.offset_note), Number(kd.sub.note_size)]];
  const L = kd.bitmapLength;
  const lastPfn = kd.pfns[kd.pfns.length - 1];
  const K = Math.floor(lastPfn / 8 / B);
  for (let k = 0; k <= K; k++) {
    recs.push([kd.bitmapOffset + k * B, B]);
    recs.push([kd.bitmapOffset + L + k * B, B]);
  }
  const CACHE = 4 * B;
  const data = { offset: kd.dataStart, size: B }; // pre-loaded with the zero page
  const desc = { offset: kd.descOffset, size: 0 };
  const append = (c, n) => {
    if (c.size + n > CACHE) {
      recs.push([c.offset, c.size]);
      c.offset += c.size;
      c.size = 0;
    }
    c.size += n;
  };
  for (const d of kd.descs) {
    if (d.offset !== kd.dataStart) append(data, d.size);
    append(desc, 24);
  }
  if (desc.size) recs.push([desc.offset, desc.size]);
  if (data.size) recs.push([data.offset, data.size]);
  return recs;
}

function checkKdump(entry, plainElf) {
  const f = entry.dump;
  const raw = loadMaybeGz(path.join(DIR, entry.file));
  const c = index.cases.find((x) => x.name === entry.case);
  const flat = parseFlattened(raw);
  // [5.7]
  check(f, 'flat header [5.7]', { sig: flat.header.signatureHex, type: flat.header.type, version: flat.header.version, restZero: flat.header.restZero },
    { sig: Buffer.concat([Buffer.from('makedumpfile'), Buffer.alloc(4)]).toString('hex'), type: 1n, version: 1n, restZero: true });
  check(f, 'end marker 16 x 0xFF, nothing after', [flat.end?.bytes, flat.trailingBytes], ['ff'.repeat(16), 0]);
  const kbuf = reassemble(raw, flat);
  const kd = parseKdump(kbuf);
  const is64 = plainElf.elf.is64;
  check(f, 'header flavour follows ELF class [2.2]', kd.header.flavour, is64 ? '64-bit' : '32-bit');
  const hdrSize = is64 ? 464 : 452;
  const subSize = is64 ? 104 : 80;
  const lma = plainElf.elf.machine === 62;
  const ncpu = c.qemuNotes.cpuStates.length;
  const guestNote = c.guest.note.registered ? 12 + 12 + pad4(c.guest.note.descsz) : 0;
  const noteSize = (lma ? 816 : 624) * ncpu + guestNote;
  const blocks = blocksOf(plainElf.elf);
  const maxMapnr = Number(blocks[blocks.length - 1].end / 4096n);
  const L = Math.ceil(Math.ceil(maxMapnr / 8) / B) * B;
  const S = Math.ceil((subSize + noteSize) / B);
  // [5.2]
  const h = kd.header;
  check(f, 'disk_dump_header [5.2]', {
    signature: h.signature, header_version: h.header_version, machine: h.utsname.machine, utsOther: h.utsnameOtherNonzero,
    timestampZero: /^0*$/.test(h.timestampHex), timestampLen: h.timestampHex.length / 2, status: h.status, block_size: h.block_size,
    sub_hdr_size: h.sub_hdr_size, bitmap_blocks: h.bitmap_blocks, max_mapnr: h.max_mapnr, total_ram_blocks: h.total_ram_blocks,
    device_blocks: h.device_blocks, written_blocks: h.written_blocks, current_cpu: h.current_cpu, nr_cpus: h.nr_cpus, restZero: h.restOfBlockZero,
  }, {
    signature: 'KDUMP   ', header_version: 6, machine: 'x86_64', utsOther: false, timestampZero: true, timestampLen: is64 ? 22 : 10,
    status: 1, block_size: 4096, sub_hdr_size: S, bitmap_blocks: (2 * L) / B, max_mapnr: maxMapnr, total_ram_blocks: 0,
    device_blocks: 0, written_blocks: 0, current_cpu: 0, nr_cpus: ncpu, restZero: true,
  });
  // [5.3] + [2.4] phys_base
  let physBase = 0n;
  if (lma && c.guest.note.registered) {
    const t = c.guest.note.physBaseText;
    physBase = BigInt(t.startsWith('0x') ? t : `0x${t}`);
  }
  const offsetNote = BigInt(B + subSize);
  const s = kd.sub;
  check(f, 'kdump_sub_header [5.3]', Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'bigint' ? hex(v) : v])), Object.fromEntries(Object.entries({
    phys_base: physBase, dump_level: 1, split: 0, start_pfn: 0n, end_pfn: 0n,
    offset_vmcoreinfo: c.guest.note.registered ? offsetNote + BigInt(noteSize - guestNote + 12 + 12) : 0n,
    size_vmcoreinfo: c.guest.note.registered ? BigInt(c.guest.note.descsz) : 0n,
    offset_note: offsetNote, note_size: BigInt(noteSize), offset_eraseinfo: 0n, size_eraseinfo: 0n,
    start_pfn_64: 0n, end_pfn_64: 0n, max_mapnr_64: BigInt(maxMapnr), size: subSize,
  }).map(([k, v]) => [k, typeof v === 'bigint' ? hex(v) : v])));
  check(f, 'notes = ELF notes [5.1]', kd.notesBytes.equals(Buffer.concat(plainElf.elf.notes.map((n) => plainElf.buf.subarray(n.offset, n.offset + n.size)))), true);
  // [5.4]
  check(f, 'bitmap offset (1+S)*B, length L [5.1]', [kd.bitmapOffset, kd.bitmapLength], [(1 + S) * B, L]);
  check(f, 'bitmaps identical [5.4]', kd.bitmapsIdentical, true);
  const wantPfns = [];
  for (const b of blocks) for (let p = Number(b.start / 4096n); p < Number((b.end + 4095n) / 4096n); p++) wantPfns.push(p);
  check(f, 'set bits = pages of RAM blocks [5.4]', kd.pfns.join(','), wantPfns.join(','));
  // [5.5]
  const read = elfPhysReader(plainElf.elf, plainElf.buf);
  let next = kd.dataStart + B;
  let bad = 0;
  const rawPfns = [];
  let z = 0;
  for (const d of kd.descs) {
    const page = read(BigInt(d.pfn) * 4096n, 4096);
    const stored = kd.buf.subarray(d.offset, d.offset + d.size);
    if (page.every((x) => x === 0)) {
      if (d.offset !== kd.dataStart || d.size !== 4096 || d.flags !== 0) bad++;
    } else {
      if (d.offset !== next) bad++;
      if (d.flags === 1) {
        z++;
        if (d.size >= 4096 || !zlib.inflateSync(stored).equals(page)) bad++;
      } else if (d.flags === 0) {
        rawPfns.push(hex(d.pfn));
        if (d.size !== 4096 || !stored.equals(page)) bad++;
        // raw only when zlib level 1 cannot make it smaller (Node's zlib as a stand-in)
        if (zlib.deflateSync(page, { level: 1 }).length < 4096) bad++;
      } else bad++;
      next = d.offset + d.size;
    }
    if (d.page_flags !== 0n) bad++;
  }
  check(f, 'descriptors: zero pages share the zero page, data sequential [5.5]', bad, 0);
  check(f, 'page data ends the file', next, kd.fileSize);
  check(f, 'P = (1+S+2L/B)*B [5.1]', kd.descOffset, (1 + S + (2 * L) / B) * B);
  const zhdr = new Set();
  for (const d of kd.descs) if (d.flags === 1) zhdr.add(kd.buf.subarray(d.offset, d.offset + 2).toString('hex'));
  check(f, 'zlib streams start 78 01 (level 1) [5.5]', [...zhdr], ['7801']);
  if (verbose) console.log(`     ${f}: ${z} zlib pages, raw pages ${rawPfns.join(' ')}`);
  // [5.6] record sequence
  const got = flat.records.map((r) => [r.offset, r.size]);
  const want = simulateRecords(kd, hdrSize, subSize);
  check(f, `flattened record sequence (${got.length} records) [5.6]`, got.map(([o, n]) => `${hex(o)}+${hex(n)}`).join(' '), want.map(([o, n]) => `${hex(o)}+${hex(n)}`).join(' '));
}

// ---------------------------------------------------------------------------

const plainByCase = {};
for (const entry of index.files) {
  if (entry.format === 'elf' && !entry.qmp.arguments.paging && entry.qmp.arguments.begin === undefined) {
    const buf = loadMaybeGz(path.join(DIR, entry.file));
    plainByCase[entry.case] = { elf: parseElf(buf), buf };
  }
}
for (const entry of index.files) {
  const plain = plainByCase[entry.case];
  if (entry.format === 'elf') checkElf(entry, plain);
  else checkKdump(entry, plain);
}
console.log(`${oks} checks agree with the spec, ${diffs} differ`);
