#!/usr/bin/env node
// capture-dumps.mjs - record golden dump-guest-memory fixtures from QEMU 7.2.
//
// For every case this script boots one of the firmware/golden/dump-guest-*.bin
// images (sources dump-guest-*.asm, body dump-guest.inc) in qemu-system-x86_64
// (TCG, pc, 16 MiB; the pse32-pflash case maps the image as pflash) with
// -device vmcoreinfo, paused (-S), and talks QMP over a unix socket:
//   1. qmp_capabilities, query-version, query-dump (before any dump),
//      query-dump-guest-memory-capability, query-status
//   2. cont; wait for "ready" on the debug console, then poll
//      "info registers -a" until CPU 0 shows HLT=1       -> <case>.registers.txt
//   3. dump-guest-memory (VM running; QEMU stops and resumes it itself):
//        paging false, ELF                              -> <case>.elf.gz
//        paging false, kdump-zlib (flattened)           -> <case>.kdump-zlib.gz
//        paging true, ELF                               -> <case>.paging.elf.gz
//      case "long" also: begin/length filters (ELF, with and without paging),
//      a detached dump, and every error request          -> qmp.json
//      After each dump: query-dump, and every event seen up to the reply.
//   4. quit
// Dumps are stored gzip-compressed (level 9); index.json lists each with the
// sha256/size of the uncompressed bytes, QEMU command line, QMP arguments,
// what the guest set, what QEMU's notes say, and a parsed summary.
// Every kdump is reassembled and each page checked against the ELF dump of the
// same case; the guest-set registers are checked against QEMU's notes.
//
// Usage:  node scripts/golden/capture-dumps.mjs [--build] [--only long,pse32]
//   --build   re-assemble the images first (needs nasm)
//   --only    capture just the named cases (index.json/qmp.json then hold only those)
//   QEMU=/path/to/qemu-system-x86_64 overrides the emulator binary.
// Needs Node 20 and nothing from npm. Outputs: test/fixtures/qemu-7.2/dump/.

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { parseCaptureArgs } from './capture-args.mjs';
import { hasExited, Qmp, sleep } from './qmp-client.mjs';

import {
  checkKdumpAgainstElf, decodeNote, hex, parseElf, parseFlattened, parseKdump, reassemble, summarizeElf, summarizeKdump,
} from './dump-inspect.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FW_DIR = path.join(ROOT, 'firmware/golden');
const OUT_DIR = path.join(ROOT, 'test/fixtures/qemu-7.2/dump');
const QEMU = process.env.QEMU ?? 'qemu-system-x86_64';
const HALT_TIMEOUT_MS = 60 * 1000;
const TMP_TOKEN = '$TMP';

// ---------------------------------------------------------------------------
// guests

const NOTE_HEAD = 'OSRELEASE=6.1.0-slice86\nPAGESIZE=4096\nNUMBER(phys_base)=';

const IMAGES = {
  long: { defines: ['MODE_LONG', 'NOTE_DEC'], mode: 'long', physBase: '16777216', pad: 0 },
  'long-hex': { defines: ['MODE_LONG', 'NOTE_HEX', 'NOTE_PAD 0xEE'], mode: 'long', physBase: '0x1000000', pad: 0xee },
  pse32: { defines: ['MODE_PSE32', 'NOTE_HEX'], mode: 'pse32', physBase: '0x1000000', pad: 0 },
  pae32: { defines: ['MODE_PAE32', 'NOTE_DEC'], mode: 'pae32', physBase: '16777216', pad: 0 },
  nonote: { defines: ['MODE_LONG'], mode: 'long', physBase: null, pad: 0 },
  realmode: { defines: ['MODE_REAL', 'NOTE_DEC'], mode: 'realmode', physBase: '16777216', pad: 0 },
};

const CASES = [
  { name: 'long', image: 'long', smp: 1, extras: true },
  { name: 'long-smp2', image: 'long', smp: 2 },
  { name: 'long-hex', image: 'long-hex', smp: 1 },
  { name: 'pse32', image: 'pse32', smp: 1 },
  { name: 'pse32-pflash', image: 'pse32', smp: 1, pflash: true },
  { name: 'pae32', image: 'pae32', smp: 1 },
  { name: 'nonote', image: 'nonote', smp: 1 },
  { name: 'realmode', image: 'realmode', smp: 1 },
];

const imagePath = (image) => path.join(FW_DIR, `dump-guest-${image}.bin`);
const sourcePath = (image) => path.join(FW_DIR, `dump-guest-${image}.asm`);

// What each guest loads before "cli; hlt" (see dump-guest.inc), in the names
// of QEMU's QEMUCPUState note (decodeNote). Hidden-part expectations that the
// guest did not set directly (e.g. segment flags) are not listed.
const GPR32 = { rax: 0xaaaa0a01n, rbx: 0xbbbb0b02n, rcx: 0xcccc0c03n, rdx: 0xdddd0d04n, rsi: 0x51515105n, rdi: 0xd1d10d06n, rbp: 0xbebebe07n };
const KGS = 0xffff88800f000000n;
const EXPECTED = {
  long: {
    rax: 0xaaaa000000000a01n, rbx: 0xbbbb000000000b02n, rcx: 0xcccc000000000c03n, rdx: 0xdddd000000000d04n,
    rsi: 0x5151000000005105n, rdi: 0xd1d1000000000d06n, rbp: 0xbebe00000000be07n, rsp: 0xffffc90000003f58n,
    r8: 0x0808080800000008n, r9: 0x0909090900000009n, r10: 0x101010100000000an, r11: 0x111111110000000bn,
    r12: 0x121212120000000cn, r13: 0x131313130000000dn, r14: 0x141414140000000en, r15: 0x151515150000000fn,
    rip: 0xffffffff810007f2n, rflags: 0x240cd7n,
    'cs.selector': 0x30n, 'ss.selector': 0x38n, 'ds.selector': 0x43n, 'es.selector': 0x4bn, 'fs.selector': 0x50n, 'gs.selector': 0x5an,
    'ds.base': 0x123000n, 'es.base': 0x456000n, 'es.limit': 0x12345n,
    'fs.base': 0x00007f1234567000n, 'gs.base': 0xffff888000012000n,
    'ldt.selector': 0x60n, 'ldt.base': 0xffffffff81004000n, 'ldt.limit': 0x2fn,
    'tr.selector': 0x70n, 'tr.base': 0xffffffff81003000n, 'tr.limit': 0x67n,
    'gdt.base': 0x1000n, 'gdt.limit': 0x8fn, 'idt.base': 0x2000n, 'idt.limit': 0xfffn,
    cr0: 0x80050033n, cr2: 0x00005555deadb000n, cr3: 0x10018n, cr4: 0x7fcn, kernel_gs_base: KGS,
  },
  pse32: {
    ...GPR32, rsp: 0xc0007f58n, rip: 0xc00007f2n, rflags: 0x240cd7n,
    'cs.selector': 0x80n, 'ss.selector': 0x88n, 'ds.selector': 0x43n, 'es.selector': 0x4bn, 'fs.selector': 0x50n, 'gs.selector': 0x5an,
    'ds.base': 0x123000n, 'es.base': 0x456000n, 'es.limit': 0x12345n, 'fs.base': 0x789000n, 'gs.base': 0xabc000n,
    'ldt.selector': 0x60n, 'ldt.base': 0xc0004000n, 'ldt.limit': 0x2fn,
    'tr.selector': 0x70n, 'tr.base': 0xc0003000n, 'tr.limit': 0x67n,
    'gdt.base': 0x1000n, 'gdt.limit': 0x8fn, 'idt.base': 0x2000n, 'idt.limit': 0x7ffn,
    cr0: 0x80050033n, cr2: 0x5555d000n, cr3: 0x10018n, cr4: 0x7dcn, kernel_gs_base: KGS,
  },
  realmode: {
    ...GPR32, rsp: 0x1ff0n, rip: 0xe502n, rflags: 0x240cd7n,
    'cs.selector': 0xf0f0n, 'cs.base': 0xf0f00n, 'ss.selector': 0x600n, 'ss.base': 0x6000n,
    'ds.selector': 0x1234n, 'ds.base': 0x12340n, 'es.selector': 0x2345n, 'es.base': 0x23450n,
    'fs.selector': 0x3456n, 'fs.base': 0x34560n, 'gs.selector': 0x4567n, 'gs.base': 0x45670n,
    'ldt.selector': 0x60n, 'ldt.base': 0x4000n, 'ldt.limit': 0x2fn,
    'tr.selector': 0x70n, 'tr.base': 0x3000n, 'tr.limit': 0x67n,
    'gdt.base': 0x1000n, 'gdt.limit': 0x8fn, 'idt.base': 0x5000n, 'idt.limit': 0x3ffn,
    cr0: 0x50032n, cr2: 0x5555d000n, cr3: 0n, cr4: 0x64cn, kernel_gs_base: KGS,
  },
};
EXPECTED.pae32 = { ...EXPECTED.pse32, cr4: 0x7fcn };

function expectedFor(image) {
  const exp = EXPECTED[IMAGES[image].mode];
  return Object.fromEntries(Object.entries(exp).map(([k, v]) => [k, hex(v)]));
}

function noteFacts(image) {
  const img = IMAGES[image];
  if (img.physBase === null) return { registered: false };
  const text = `${NOTE_HEAD}${img.physBase}\n`;
  return {
    registered: true,
    paddr: '0x209000',
    registeredSize: '0x1024',
    record: { host_format: 0, guest_format: 1, size: '0x1024', paddr: '0x209000' },
    namesz: 11,
    descsz: text.length,
    text,
    physBaseText: img.physBase,
    paddingBytes: Buffer.alloc((4 - (text.length % 4)) % 4, img.pad).toString('hex'),
    followedBy: 'an empty 12-byte note header (Linux final_note)',
  };
}

// ---------------------------------------------------------------------------
// building the firmware

function buildImages() {
  for (const [name, img] of Object.entries(IMAGES)) {
    execFileSync('nasm', ['-f', 'bin', '-I', `${FW_DIR}/`, '-o', imagePath(name), sourcePath(name)], { stdio: 'inherit' });
    console.log(`built ${path.relative(ROOT, imagePath(name))} (${img.defines.join(', ')})`);
  }
}

function checkImages() {
  for (const name of Object.keys(IMAGES)) {
    const size = fs.statSync(imagePath(name)).size;
    if (size !== 65536) throw new Error(`${imagePath(name)} is ${size} bytes, expected 65536`);
  }
}

// The exact QEMU command line for one case.
function qemuArgs({ c, debugcon, sock }) {
  const fw = c.pflash
    ? ['-drive', `if=pflash,format=raw,readonly=on,file=${imagePath(c.image)}`]
    : ['-bios', imagePath(c.image)];
  return [
    '-M', 'pc',
    '-m', '16M',
    '-nodefaults',
    '-nic', 'none',
    '-display', 'none',
    '-accel', 'tcg',
    ...fw,
    '-device', 'vmcoreinfo',
    '-debugcon', `file:${debugcon}`,
    '-smp', String(c.smp),
    '-qmp', `unix:${sock},server=on,wait=off`,
    '-S',
  ];
}

// ---------------------------------------------------------------------------
// ---------------------------------------------------------------------------
// helpers

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// replace the temporary directory in strings (recursively) by $TMP
function normalize(value, tmp) {
  if (typeof value === 'string') return value.split(tmp).join(TMP_TOKEN);
  if (Array.isArray(value)) return value.map((v) => normalize(v, tmp));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, tmp)]));
  return value;
}

function relCommandLine(args) {
  return [QEMU, ...args].map((a) => a.split(`${ROOT}/`).join(''));
}

function fileInfo(file) {
  try {
    const st = fs.statSync(file);
    return { exists: true, size: st.size, mode: `0${(st.mode & 0o777).toString(8)}` };
  } catch {
    return { exists: false };
  }
}

async function waitForReady(file, child) {
  const deadline = Date.now() + HALT_TIMEOUT_MS;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
    if (text.includes('FATAL')) throw new Error(`guest failed: ${JSON.stringify(text)}`);
    if (text.endsWith('ready\n')) return text;
    if (hasExited(child)) throw new Error(`QEMU exited (${child.exitCode ?? child.signalCode}) before the guest was ready`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for "ready" in ${file}: ${JSON.stringify(text)}`);
    await sleep(50);
  }
}

async function waitForHalt(qmp) {
  const deadline = Date.now() + HALT_TIMEOUT_MS;
  for (;;) {
    const text = await qmp.hmp('info registers -a');
    const m = /HLT=(\d)/.exec(text);
    if (m?.[1] === '1') {
      await sleep(100);
      const again = await qmp.hmp('info registers -a');
      if (again === text) return text;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for CPU 0 to halt');
    await sleep(50);
  }
}

function compareRegisters(expected, state) {
  const mismatches = [];
  for (const [key, want] of Object.entries(expected)) {
    const [a, b] = key.split('.');
    let got;
    if (b) got = state[a]?.[b];
    else if (/^cr\d$/.test(a)) got = state.cr[Number(a.slice(2))];
    else got = state[a];
    if (got !== want) mismatches.push({ register: key, guestSet: want, qemuNote: got });
  }
  return mismatches;
}

// ---------------------------------------------------------------------------
// one case

async function captureCase(c, tmp, qmpLog, index) {
  const debugcon = path.join(tmp, `${c.name}.debugcon`);
  const sock = path.join(tmp, `${c.name}.qmp`);
  const args = qemuArgs({ c, debugcon, sock });
  console.log(`[${c.name}] ${QEMU} ${args.join(' ')}`);

  const child = spawn(QEMU, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    stderr += s;
    process.stderr.write(`[${c.name}] qemu: ${s}`);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));

  const caseEntry = {
    name: c.name,
    image: path.relative(ROOT, imagePath(c.image)),
    imageSha256: sha256(fs.readFileSync(imagePath(c.image))),
    source: path.relative(ROOT, sourcePath(c.image)),
    defines: IMAGES[c.image].defines,
    firmwareOption: c.pflash ? '-drive if=pflash' : '-bios',
    smp: c.smp,
    qemuCommandLine: null,
    guest: { mode: IMAGES[c.image].mode, registersCpu0: expectedFor(c.image), note: noteFacts(c.image) },
  };
  const record = (name, request, reply, extra = {}) => {
    qmpLog.push(normalize({ case: c.name, name, request, reply, ...extra }, tmp));
  };

  let qmp;
  try {
    qmp = await Qmp.connect(sock, child);
    await qmp.command('qmp_capabilities');
    const version = await qmp.command('query-version');
    index.qemu ??= `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro} (${version.package.trim()})`;
    if (c.extras) {
      for (const execute of ['query-dump', 'query-dump-guest-memory-capability', 'query-status']) {
        record(`${execute} (at -S, before any dump)`, { execute }, await qmp.request(execute));
      }
    }

    await qmp.command('cont');
    caseEntry.debugcon = await waitForReady(debugcon, child);
    const regs = await waitForHalt(qmp);
    fs.writeFileSync(path.join(OUT_DIR, `${c.name}.registers.txt`), regs.replace(/\r\n/g, '\n'));
    caseEntry.infoRegisters = `${c.name}.registers.txt`;
    caseEntry.statusBeforeDump = await qmp.command('query-status');
    caseEntry.cpus = (await qmp.command('query-cpus-fast')).map((x) => ({ 'cpu-index': x['cpu-index'], 'qom-path': x['qom-path'], target: x.target, props: x.props }));
    qmp.takeEvents();

    // ---- the dumps
    const dumps = [
      { file: `${c.name}.elf`, args: { paging: false } },
      { file: `${c.name}.kdump-zlib`, args: { paging: false, format: 'kdump-zlib' } },
      { file: `${c.name}.paging.elf`, args: { paging: true } },
    ];
    if (c.extras) {
      dumps.push(
        { file: `${c.name}.filter-100000+200000.elf`, args: { paging: false, begin: 0x100000, length: 0x200000 }, why: 'begin 0x100000 length 0x200000: inside one block' },
        { file: `${c.name}.filter-f8000+10000.elf`, args: { paging: false, begin: 0xf8000, length: 0x10000 }, why: 'straddles the end of block [0xf0000,0x100000) into [0x100000,0x1000000)' },
        { file: `${c.name}.filter-ffff8000+10000.elf`, args: { paging: false, begin: 0xffff8000, length: 0x10000 }, why: 'straddles the end of the last block (the BIOS ROM ending at 4 GiB)' },
        { file: `${c.name}.filter-1234+3000.elf`, args: { paging: false, begin: 0x1234, length: 0x3000 }, why: 'not page aligned' },
        { file: `${c.name}.paging.filter-200000+5000.elf`, args: { paging: true, begin: 0x200000, length: 0x5000 }, why: 'paging with a filter: mappings clipped' },
      );
    }
    const elfByFile = {};
    for (const d of dumps) {
      const out = path.join(tmp, d.file);
      const qargs = { ...d.args, protocol: `file:${out}` };
      const reply = await qmp.request('dump-guest-memory', qargs);
      const ev = qmp.takeEvents();
      if (reply.error) throw new Error(`dump ${d.file} failed: ${reply.error.desc}`);
      const queryDump = await qmp.command('query-dump');
      qmp.takeEvents();
      const buf = fs.readFileSync(out);
      const info = fileInfo(out);
      const gz = zlib.gzipSync(buf, { level: 9 });
      fs.writeFileSync(path.join(OUT_DIR, `${d.file}.gz`), gz);
      const entry = {
        file: `${d.file}.gz`,
        case: c.name,
        dump: d.file,
        format: d.args.format ?? 'elf',
        why: d.why,
        qmp: normalize({ execute: 'dump-guest-memory', arguments: qargs }, tmp),
        reply,
        sha256: sha256(buf),
        size: buf.length,
        gzSize: gz.length,
        fileMode: info.mode,
        queryDump,
        events: ev.events,
        sequence: ev.sequence,
      };
      if (buf.readUInt32BE(0) === 0x7f454c46) {
        const elf = parseElf(buf);
        entry.elf = summarizeElf(elf);
        elfByFile[d.file] = { elf, buf };
      } else {
        const flat = parseFlattened(buf);
        const kbuf = reassemble(buf, flat);
        const kd = parseKdump(kbuf);
        entry.flattened = {
          header: { ...flat.header, type: Number(flat.header.type), version: Number(flat.header.version) },
          records: flat.records.map((r) => [hex(r.offset), hex(r.size)]),
          end: flat.end,
          trailingBytes: flat.trailingBytes,
        };
        entry.reassembled = { sha256: sha256(kbuf), size: kbuf.length };
        entry.kdump = summarizeKdump(kd);
        const ref = elfByFile[`${c.name}.elf`];
        entry.checkAgainstElf = checkKdumpAgainstElf(kd, ref.elf, ref.buf);
        if (entry.checkAgainstElf.problems.length) console.warn(`[${c.name}] kdump check: ${entry.checkAgainstElf.problems.slice(0, 5).join('; ')}`);
      }
      index.files.push(entry);
      console.log(`[${c.name}] ${d.file}: ${buf.length} bytes, gz ${gz.length}`);
    }

    // ---- CPU states from the notes of the plain ELF dump; check the guest's values
    const { elf } = elfByFile[`${c.name}.elf`];
    const decoded = elf.notes.map(decodeNote);
    caseEntry.qemuNotes = {
      prstatus: decoded.filter((n) => n.kind === 'prstatus'),
      cpuStates: decoded.filter((n) => n.kind === 'QEMUCPUState'),
      guestNote: decoded.find((n) => n.kind === 'VMCOREINFO') ?? null,
    };
    caseEntry.registerCheck = compareRegisters(caseEntry.guest.registersCpu0, caseEntry.qemuNotes.cpuStates[0]);
    for (const m of caseEntry.registerCheck) console.warn(`[${c.name}] ${m.register}: guest set ${m.guestSet}, QEMU note ${m.qemuNote}`);

    if (c.extras) await errorRequests(c, qmp, tmp, record, elfByFile);

    caseEntry.statusAfterDumps = await qmp.command('query-status');
    await qmp.command('quit');
    await exited;
    caseEntry.qemuCommandLine = normalize(relCommandLine(args), tmp);
    caseEntry.qemuStderr = normalize(stderr, tmp);
    index.cases.push(caseEntry);
  } catch (err) {
    if (stderr) err.message += `\nQEMU stderr:\n${stderr}`;
    throw err;
  } finally {
    qmp?.close();
    if (!hasExited(child)) child.kill('SIGTERM');
    await exited;
  }
}

// bad requests, write errors, detach, HMP - recorded with their exact replies
async function errorRequests(c, qmp, tmp, record, elfByFile) {
  const f = (name) => `file:${path.join(tmp, `err-${name}`)}`;
  const dgm = (args) => ({ execute: 'dump-guest-memory', arguments: args });
  const cases = [
    ['kdump-zlib with paging true', dgm({ paging: true, format: 'kdump-zlib', protocol: f('kdump-paging') })],
    ['kdump-zlib with begin/length', dgm({ paging: false, format: 'kdump-zlib', begin: 0, length: 0x1000, protocol: f('kdump-filter') })],
    ['win-dmp with paging true', dgm({ paging: true, format: 'win-dmp', protocol: f('windmp-paging') })],
    ['win-dmp with begin/length', dgm({ paging: false, format: 'win-dmp', begin: 0, length: 0x1000, protocol: f('windmp-filter') })],
    ['begin without length', dgm({ paging: false, begin: 0x1000, protocol: f('begin-only') })],
    ['length without begin', dgm({ paging: false, length: 0x1000, protocol: f('length-only') })],
    ['length 0', dgm({ paging: false, begin: 0, length: 0, protocol: f('length-0') })],
    ['begin beyond RAM (no overlap)', dgm({ paging: false, begin: 0x20000000, length: 0x1000, protocol: f('beyond') })],
    ['begin in the hole between RAM and the BIOS ROM', dgm({ paging: false, begin: 0x1000000, length: 0x1000, protocol: f('hole') })],
    ['negative begin', dgm({ paging: false, begin: -4096, length: 8192, protocol: f('neg-begin') })],
    ['negative length, begin 0', dgm({ paging: false, begin: 0, length: -1, protocol: f('neg-length') })],
    ['negative length, begin 0x100000', dgm({ paging: false, begin: 0x100000, length: -0x1000, protocol: f('neg-length-2') })],
    ['begin 0, length 2^62 (everything)', dgm({ paging: false, begin: 0, length: 2 ** 62, protocol: f('huge-length') })],
    ['kdump-lzo (not built in Debian)', dgm({ paging: false, format: 'kdump-lzo', protocol: f('lzo') })],
    ['kdump-snappy (not built in Debian)', dgm({ paging: false, format: 'kdump-snappy', protocol: f('snappy') })],
    ['unknown format', dgm({ paging: false, format: 'kdump-zstd', protocol: f('zstd') })],
    ['kdump-raw-zlib (8.2+ only)', dgm({ paging: false, format: 'kdump-raw-zlib', protocol: f('raw-zlib') })],
    ['bad protocol', dgm({ paging: false, protocol: 'foo:bar' })],
    ['fd:nosuch', dgm({ paging: false, protocol: 'fd:nosuch' })],
    ['file in a non-existent directory', dgm({ paging: false, protocol: 'file:/nonexistent-slice86/dump.elf' })],
    ['win-dmp without a Windows note', dgm({ paging: false, format: 'win-dmp', protocol: f('windmp') })],
    ['ELF to /dev/full (write error)', dgm({ paging: false, protocol: 'file:/dev/full' })],
    ['kdump-zlib to /dev/full (write error)', dgm({ paging: false, format: 'kdump-zlib', protocol: 'file:/dev/full' })],
    ['paging missing', dgm({ protocol: f('no-paging') })],
    ['protocol missing', dgm({ paging: false })],
    ['paging not a boolean', dgm({ paging: 'yes', protocol: f('paging-string') })],
    ['begin not an integer', dgm({ paging: false, begin: '0x1000', length: 4096, protocol: f('begin-string') })],
  ];
  for (const [name, req] of cases) {
    qmp.takeEvents();
    const reply = await qmp.request(req.execute, req.arguments);
    // a failure while writing sends DUMP_COMPLETED before the reply; give late events a moment
    await sleep(100);
    const ev = qmp.takeEvents();
    const queryDump = await qmp.request('query-dump');
    qmp.takeEvents();
    const extra = { events: ev.events, sequence: ev.sequence, queryDump: queryDump.return ?? queryDump.error };
    const proto = req.arguments.protocol;
    if (typeof proto === 'string' && proto.startsWith(`file:${tmp}`)) {
      extra.file = fileInfo(proto.slice(5));
      if (reply.return && extra.file.exists) {
        const buf = fs.readFileSync(proto.slice(5));
        extra.file.sha256 = sha256(buf);
        extra.file.bytesEqual = Object.entries(elfByFile).find(([, v]) => v.buf.equals(buf))?.[0] ?? null;
      }
    }
    record(name, req, reply, extra);
    console.log(`[${c.name}] ${name}: ${JSON.stringify(normalize(reply, tmp))}`);
  }

  // a detached ELF dump: {} at once, DUMP_COMPLETED later; bytes as the synchronous one
  {
    qmp.takeEvents();
    const out = path.join(tmp, 'detach.elf');
    const req = dgm({ paging: false, detach: true, protocol: `file:${out}` });
    const reply = await qmp.request(req.execute, req.arguments);
    await qmp.waitEvent('DUMP_COMPLETED');
    await sleep(200);
    const ev = qmp.takeEvents();
    const queryDump = await qmp.command('query-dump');
    const buf = fs.readFileSync(out);
    const same = buf.equals(elfByFile[`${c.name}.elf`].buf);
    record('detached ELF dump', req, reply, { events: ev.events, sequence: ev.sequence, queryDump, bytesEqualSynchronousDump: same });
    console.log(`[${c.name}] detached dump: ${JSON.stringify(reply)} sequence ${ev.sequence.join(',')} same bytes ${same}`);
  }

  // a second dump while a detached one runs (racy: recorded as observed)
  {
    qmp.takeEvents();
    const a = dgm({ paging: false, detach: true, format: 'kdump-zlib', protocol: `file:${path.join(tmp, 'race-1.kdump')}` });
    const b = dgm({ paging: false, protocol: `file:${path.join(tmp, 'race-2.elf')}` });
    const [ra, rb] = await qmp.requestBatch([a, b]);
    await qmp.waitEvent('DUMP_COMPLETED');
    await sleep(300);
    const ev = qmp.takeEvents();
    record('detached kdump-zlib, then at once a second dump (racy)', { first: a, second: b }, { first: ra, second: rb }, { events: ev.events, sequence: ev.sequence, note: 'timing dependent: the second reply is an error only if the detached dump was still running' });
    console.log(`[${c.name}] race: ${JSON.stringify(normalize(rb, tmp))}`);
  }

  // HMP
  for (const line of [
    'info dump',
    `dump-guest-memory -z -w ${path.join(tmp, 'hmp-zw')}`,
    `dump-guest-memory -w -z ${path.join(tmp, 'hmp-wz')}`,
    `dump-guest-memory -z -l ${path.join(tmp, 'hmp-zl')}`,
    `dump-guest-memory -w ${path.join(tmp, 'hmp-w')}`,
    `dump-guest-memory -p -z ${path.join(tmp, 'hmp-pz')}`,
    `dump-guest-memory ${path.join(tmp, 'hmp-filter')} 0x100000`,
  ]) {
    qmp.takeEvents();
    const req = { execute: 'human-monitor-command', arguments: { 'command-line': line } };
    const reply = await qmp.request(req.execute, req.arguments);
    const ev = qmp.takeEvents();
    record(`HMP: ${line.split(tmp).join(TMP_TOKEN)}`, req, reply, { events: ev.events, sequence: ev.sequence });
  }
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = parseCaptureArgs(process.argv.slice(2), 'usage: node scripts/golden/capture-dumps.mjs [--build] [--only long,pse32]');
  if (opts.build) buildImages();
  checkImages();
  const versionLine = execFileSync(QEMU, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  console.log(versionLine);
  fs.mkdirSync(OUT_DIR, { recursive: true });

  const cases = CASES.filter((c) => !opts.only || opts.only.has(c.name));
  if (cases.length === 0) throw new Error('no case selected');

  const index = {
    comment: 'Golden dump-guest-memory outputs of QEMU 7.2 (see README.md). sha256/size are of the uncompressed dump; "$TMP" stands for the temporary directory of the capture run.',
    qemu: null,
    qemuVersionLine: versionLine,
    capturedBy: 'scripts/golden/capture-dumps.mjs',
    images: Object.fromEntries(Object.entries(IMAGES).map(([k, v]) => [k, { file: path.relative(ROOT, imagePath(k)), source: path.relative(ROOT, sourcePath(k)), defines: v.defines, nasm: `nasm -f bin -I firmware/golden/ -o ${path.relative(ROOT, imagePath(k))} ${path.relative(ROOT, sourcePath(k))}`, sha256: sha256(fs.readFileSync(imagePath(k))) }])),
    cases: [],
    files: [],
  };
  const qmpLog = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slice86-dump-'));
  try {
    for (const c of cases) await captureCase(c, tmp, qmpLog, index);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(OUT_DIR, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  if (qmpLog.length) fs.writeFileSync(path.join(OUT_DIR, 'qmp.json'), `${JSON.stringify(qmpLog, null, 2)}\n`);
  const total = index.files.reduce((n, f) => n + f.gzSize, 0);
  console.log(`${index.files.length} dumps, ${total} bytes compressed`);
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
