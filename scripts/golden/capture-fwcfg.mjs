#!/usr/bin/env node
// capture-fwcfg.mjs - record golden fw_cfg fixtures from QEMU 7.2.
//
// For every configuration (machine pc/q35 x -m 32M/3584M/5G) this script boots
// firmware/golden/fwcfg-probe.bin as the -bios of qemu-system-x86_64 (TCG),
// paused (-S), and talks QMP over a unix socket:
//   1. qmp_capabilities; "info mtree -f" (flat views sorted, see sortFlatViews)
//                                                 -> <machine>-<mem>.mtree.txt
//   2. query-memory-size-summary                  -> ramSize
//   3. cont; the probe writes its trace to the debug console (port 0xE9) and
//      halts; we poll the file until its last line is "end"  -> <cfg>.trace
//   4. dump-guest-memory (paging false, ELF) into a temporary file; read the
//      ELF64 header and program headers, delete the file at once
//                                                 -> <cfg>.blocks.json
//   5. quit
// Outputs go to test/fixtures/qemu-7.2/fwcfg/. The trace format is described in
// that folder's README.md and in firmware/golden/fwcfg-probe.asm.
//
// Usage:  node scripts/golden/capture-fwcfg.mjs [--build] [--only pc-32M,q35-5G]
//   --build   re-assemble the probe first (needs nasm)
//   --only    capture just the named configurations
//   QEMU=/path/to/qemu-system-x86_64 overrides the emulator binary.
// Needs Node 20 and nothing from npm. The 5G dump is ~5 GB on the temporary
// disk for a few seconds.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCaptureArgs } from './capture-args.mjs';
import { hasExited, Qmp, sleep } from './qmp-client.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROBE_ASM = path.join(ROOT, 'firmware/golden/fwcfg-probe.asm');
const PROBE_BIN = path.join(ROOT, 'firmware/golden/fwcfg-probe.bin');
const OUT_DIR = path.join(ROOT, 'test/fixtures/qemu-7.2/fwcfg');
const QEMU = process.env.QEMU ?? 'qemu-system-x86_64';

const MACHINES = ['pc', 'q35'];
const MEMORIES = ['32M', '3584M', '5G'];
const TRACE_TIMEOUT_MS = 10 * 60 * 1000;

// ---------------------------------------------------------------------------
// building the firmware

function buildProbe() {
  execFileSync('nasm', ['-f', 'bin', '-o', PROBE_BIN, PROBE_ASM], { stdio: 'inherit' });
  console.log(`built ${path.relative(ROOT, PROBE_BIN)}`);
}

function checkProbe() {
  const size = fs.statSync(PROBE_BIN).size;
  if (size !== 65536) throw new Error(`${PROBE_BIN} is ${size} bytes, expected 65536`);
}

// The exact QEMU command line for one configuration.
function qemuArgs({ machine, memory, trace, sock }) {
  return [
    '-M', machine,
    '-m', memory,
    '-nodefaults',
    '-nic', 'none',
    '-display', 'none',
    '-accel', 'tcg',
    '-bios', PROBE_BIN,
    '-device', 'vmcoreinfo',
    '-debugcon', `file:${trace}`,
    '-device', 'isa-debug-exit',
    '-qmp', `unix:${sock},server=on,wait=off`,
    '-S',
  ];
}

// ---------------------------------------------------------------------------
// ELF64 core file: header and program headers only

const PT_LOAD = 1;
const PT_NOTE = 4;

function readElfSummary(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const read = (length, position) => {
      const buf = Buffer.alloc(length);
      const n = fs.readSync(fd, buf, 0, length, position);
      if (n !== length) throw new Error(`${file}: short read at ${position}`);
      return buf;
    };
    const eh = read(64, 0);
    if (eh.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
    if (eh[4] !== 2 || eh[5] !== 1) throw new Error(`${file}: not ELF64 little-endian`);
    const phoff = eh.readBigUInt64LE(32);
    const shoff = eh.readBigUInt64LE(40);
    const ehsize = eh.readUInt16LE(52);
    const phentsize = eh.readUInt16LE(54);
    let phnum = eh.readUInt16LE(56);
    const ePhnum = phnum;
    if (phnum === 0xffff) {
      // PN_XNUM: the real count is sh_info of section header 0
      phnum = read(64, Number(shoff)).readUInt32LE(44);
    }
    const ph = read(phnum * phentsize, Number(phoff));
    const loads = [];
    const notes = [];
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const type = ph.readUInt32LE(o);
      const entry = {
        offset: ph.readBigUInt64LE(o + 8),
        vaddr: ph.readBigUInt64LE(o + 16),
        paddr: ph.readBigUInt64LE(o + 24),
        filesz: ph.readBigUInt64LE(o + 32),
        memsz: ph.readBigUInt64LE(o + 40),
      };
      if (type === PT_LOAD) loads.push(entry);
      else if (type === PT_NOTE) notes.push({ ...entry, notes: readNotes(read(Number(entry.filesz), Number(entry.offset))) });
    }
    return { machine: eh.readUInt16LE(18), ehsize, ePhnum, phnum, loads, notes };
  } finally {
    fs.closeSync(fd);
  }
}

// the notes of one PT_NOTE segment: 32-bit namesz/descsz/type words, 4-byte padding
function readNotes(seg) {
  const notes = [];
  const pad4 = (n) => (n + 3) & ~3;
  for (let o = 0; o + 12 <= seg.length; ) {
    const namesz = seg.readUInt32LE(o);
    const descsz = seg.readUInt32LE(o + 4);
    const type = seg.readUInt32LE(o + 8);
    const name = seg.toString('latin1', o + 12, o + 12 + namesz).replace(/\0+$/, '');
    notes.push({ name, type, descsz });
    o += 12 + pad4(namesz) + pad4(descsz);
  }
  return notes;
}

const hex = (n) => `0x${n.toString(16)}`;

// "info mtree -f" prints its flat views in hash-table order, which changes from
// run to run; sort them by their text and renumber so the fixture is stable.
function sortFlatViews(text) {
  const [head, ...views] = text.replace(/\r\n/g, '\n').split(/^FlatView #\d+\n/m);
  const sorted = views.map((v) => v.replace(/\n+$/, '\n')).sort();
  return head + sorted.map((v, i) => `FlatView #${i}\n${v}`).join('\n');
}

// ---------------------------------------------------------------------------
// trace checks

const LINE_RULES = [
  /^# /,
  /^config .+$/,
  /^(in|out)1 [0-9a-f]{4} [0-9a-f]{2}$/,
  /^(in|out)2 [0-9a-f]{4} [0-9a-f]{4}$/,
  /^(in|out)4 [0-9a-f]{4} [0-9a-f]{8}$/,
  /^[wr]mem [0-9a-f]{8} (?:[0-9a-f]{2}){1,64}$/,
  /^file [0-9a-f]{4} [0-9a-f]{8} [\x21-\x7e]+$/,
  /^end$/,
];

function checkTrace(text, name) {
  if (!text.endsWith('\nend\n')) throw new Error(`${name}: trace does not end with "end"`);
  const lines = text.slice(0, -1).split('\n');
  if (!lines[0].startsWith('config ')) throw new Error(`${name}: first line is not "config ..."`);
  lines.forEach((line, i) => {
    if (!LINE_RULES.some((re) => re.test(line))) {
      throw new Error(`${name}:${i + 1}: malformed line ${JSON.stringify(line)}`);
    }
    if (line.startsWith('# FATAL')) throw new Error(`${name}:${i + 1}: probe failed: ${line}`);
  });
  return lines.length;
}

async function waitForTrace(file, child) {
  const deadline = Date.now() + TRACE_TIMEOUT_MS;
  for (;;) {
    if (fs.existsSync(file)) {
      const size = fs.statSync(file).size;
      if (size >= 5) {
        const fd = fs.openSync(file, 'r');
        const tail = Buffer.alloc(5);
        fs.readSync(fd, tail, 0, 5, size - 5);
        fs.closeSync(fd);
        if (tail.toString('latin1') === '\nend\n') return fs.readFileSync(file, 'latin1');
      }
    }
    if (hasExited(child)) throw new Error(`QEMU exited (${child.exitCode ?? child.signalCode}) before the trace ended`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} to end with "end"`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------
// one configuration

async function capture(machine, memory, tmp) {
  const name = `${machine}-${memory}`;
  const trace = path.join(tmp, `${name}.trace`);
  const sock = path.join(tmp, `${name}.qmp`);
  const elf = path.join(tmp, `${name}.elf`);
  const args = qemuArgs({ machine, memory, trace, sock });
  console.log(`[${name}] ${QEMU} ${args.join(' ')}`);

  const child = spawn(QEMU, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    stderr += s;
    process.stderr.write(`[${name}] qemu: ${s}`);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));

  let qmp;
  try {
    qmp = await Qmp.connect(sock, child);
    await qmp.command('qmp_capabilities');
    const version = await qmp.command('query-version');
    const pkg = version.package.trim();
    const qemuVersion = `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}${pkg ? ` (${pkg})` : ''}`;
    const mtree = await qmp.command('human-monitor-command', { 'command-line': 'info mtree -f' });
    const sizes = await qmp.command('query-memory-size-summary');

    await qmp.command('cont');
    const text = await waitForTrace(trace, child);
    const lineCount = checkTrace(text, `${name}.trace`);

    let summary;
    try {
      await qmp.command('dump-guest-memory', { paging: false, protocol: `file:${elf}` });
      summary = readElfSummary(elf);
    } finally {
      fs.rmSync(elf, { force: true });
    }
    await qmp.command('quit');
    await exited;

    const blocks = {
      qemu: qemuVersion,
      machine,
      memory,
      ramSize: sizes['base-memory'],
      ptLoads: summary.loads.map((p) => ({
        paddr: hex(p.paddr),
        size: hex(p.memsz),
        vaddr: hex(p.vaddr),
        offset: hex(p.offset),
        filesz: hex(p.filesz),
        memsz: hex(p.memsz),
      })),
      eMachine: summary.machine,
      eEhsize: summary.ehsize,
      ePhnum: summary.ePhnum,
      ptNoteCount: summary.notes.length,
      ptNotes: summary.notes.map((p) => ({ offset: hex(p.offset), filesz: hex(p.filesz), notes: p.notes })),
    };

    fs.writeFileSync(path.join(OUT_DIR, `${name}.trace`), text, 'latin1');
    fs.writeFileSync(path.join(OUT_DIR, `${name}.mtree.txt`), sortFlatViews(mtree));
    fs.writeFileSync(path.join(OUT_DIR, `${name}.blocks.json`), `${JSON.stringify(blocks, null, 2)}\n`);
    const loads = blocks.ptLoads.map((p) => `${p.paddr}+${p.size}`).join(' ');
    console.log(`[${name}] ${lineCount} trace lines; PT_LOAD ${loads}`);
  } catch (err) {
    if (stderr) err.message += `\nQEMU stderr:\n${stderr}`;
    throw err;
  } finally {
    qmp?.close();
    if (!hasExited(child)) child.kill('SIGTERM');
    await exited;
  }
}


// ---------------------------------------------------------------------------

async function main() {
  const opts = parseCaptureArgs(process.argv.slice(2), 'usage: node scripts/golden/capture-fwcfg.mjs [--build] [--only pc-32M,q35-5G]');
  if (opts.build) buildProbe();
  checkProbe();
  console.log(execFileSync(QEMU, ['--version'], { encoding: 'utf8' }).split('\n')[0]);
  fs.mkdirSync(OUT_DIR, { recursive: true });

  const configs = MACHINES.flatMap((m) => MEMORIES.map((mem) => [m, mem]))
    .filter(([m, mem]) => !opts.only || opts.only.has(`${m}-${mem}`));
  if (configs.length === 0) throw new Error('no configuration selected');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slice86-fwcfg-'));
  try {
    for (const [machine, memory] of configs) await capture(machine, memory, tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
