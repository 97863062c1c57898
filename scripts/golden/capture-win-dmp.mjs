#!/usr/bin/env node
// capture-win-dmp.mjs - record golden dump-guest-memory format "win-dmp" fixtures from QEMU 7.2.
//
// For every case this script boots one of the firmware/golden/win-dmp-guest-*.bin images
// (sources win-dmp-guest-*.asm, body win-dmp-guest.inc: a Windows-like guest with kernel page
// tables, KDBG, KiProcessorBlock, PRCBs, contexts and a DUMP_HEADER note registered through
// fw_cfg DMA) in qemu-system-x86_64 (TCG, pc, 16 MiB, -device vmcoreinfo), with the case's
// faults in the fw_cfg file opt/slice86/win-dmp-faults, paused (-S), and over QMP:
//   1. cont; wait for "ready" on the debug console and for CPU 0 to halt
//   2. dump-guest-memory paging false, ELF                  -> <case>.elf.gz (the state before)
//   3. dump-guest-memory format win-dmp                      -> <case>.dmp.gz (when QEMU succeeds)
//      with its reply, events and query-dump
//   4. dump-guest-memory paging false, ELF again (not kept): which guest pages QEMU's win-dmp
//      left changed (QEMU 7.2 bugs: contexts left patched after a failure, garbage restores)
//   5. quit
// index.json lists each case, file (sha256/size of the uncompressed bytes), reply and stderr.
//
// Usage:  node scripts/golden/capture-win-dmp.mjs [--build] [--only x64-smp1,...]
//   QEMU=/path/to/qemu-system-x86_64 overrides the emulator binary.
// Outputs: test/fixtures/qemu-7.2/win-dmp/.

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { parseCaptureArgs } from './capture-args.mjs';
import { hasExited, Qmp, sleep } from './qmp-client.mjs';
import { parseElf } from './dump-inspect.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FW_DIR = path.join(ROOT, 'firmware/golden');
const OUT_DIR = path.join(ROOT, 'test/fixtures/qemu-7.2/win-dmp');
const QEMU = process.env.QEMU ?? 'qemu-system-x86_64';
const TIMEOUT_MS = 60 * 1000;

const IMAGES = { x64: 'MODE_LONG', pae: 'MODE_PAE', nopae: 'MODE_NOPAE' };

// name, image, CPUs, faults (win-dmp-guest.inc), what QEMU is expected to do
const CASES = [
  ['x64-smp1', 'x64', 1, ''],
  ['x64-smp2', 'x64', 2, ''],
  ['pae-smp1', 'pae', 1, ''],
  ['pae-smp2', 'pae', 2, ''],
  ['nopae-smp1', 'nopae', 1, ''],
  ['nopae-smp2', 'nopae', 2, ''],
  ['x64-kdbg-encoded', 'x64', 1, 'E'],
  ['x64-nproc1-smp2', 'x64', 2, 'O'],
  ['x64-nproc2-smp1', 'x64', 1, 'M'],
  ['x64-no-bugcheck', 'x64', 1, 'B'],
  ['x64-run-beyond-ram', 'x64', 1, 'R'],
  ['pae-no-bugcheck', 'pae', 1, 'B'],
  ['nopae-run-beyond-ram', 'nopae', 2, 'R'],
  ['x64-bad-signature', 'x64', 1, 'S'],
  ['x64-bad-validdump', 'x64', 1, 'V'],
  ['pae-bad-validdump', 'pae', 1, 'V'],
  ['x64-note-size', 'x64', 1, 'N'],
  ['x64-kdbg-invalid', 'x64', 1, 'K'],
  ['x64-kdbg-unmapped', 'x64', 1, 'U'],
  ['nopae-kdbg-invalid', 'nopae', 1, 'K'],
  ['x64-prcb1-unmapped-smp2', 'x64', 2, 'P'],
  ['pae-prcb1-unmapped-smp2', 'pae', 2, 'P'],
  ['x64-ctx0-unmapped', 'x64', 1, 'C'],
  ['nopae-ctx0-unmapped', 'nopae', 2, 'C'],
].map(([name, image, smp, faults]) => ({ name, image, smp, faults }));

const imagePath = (image) => path.join(FW_DIR, `win-dmp-guest-${image}.bin`);
const sourcePath = (image) => path.join(FW_DIR, `win-dmp-guest-${image}.asm`);
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function buildImages() {
  for (const image of Object.keys(IMAGES)) {
    execFileSync('nasm', ['-f', 'bin', '-I', `${FW_DIR}/`, '-o', imagePath(image), sourcePath(image)], { stdio: 'inherit' });
    console.log(`built ${path.relative(ROOT, imagePath(image))}`);
  }
}

function qemuArgs(c, debugcon, sock) {
  return [
    '-M', 'pc', '-m', '16M', '-nodefaults', '-nic', 'none', '-display', 'none', '-accel', 'tcg',
    '-bios', imagePath(c.image),
    '-device', 'vmcoreinfo',
    ...(c.faults === '' ? [] : ['-fw_cfg', `name=opt/slice86/win-dmp-faults,string=${c.faults}`]),
    '-debugcon', `file:${debugcon}`,
    '-smp', String(c.smp),
    '-qmp', `unix:${sock},server=on,wait=off`,
    '-S',
  ];
}

async function waitForReady(file, child) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
    if (text.includes('FATAL')) throw new Error(`guest failed: ${JSON.stringify(text)}`);
    if (text.endsWith('ready\n')) return text;
    if (hasExited(child)) throw new Error(`QEMU exited (${child.exitCode ?? child.signalCode}) before the guest was ready`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for "ready": ${JSON.stringify(text)}`);
    await sleep(50);
  }
}

async function waitForHalt(qmp) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const text = await qmp.hmp('info registers');
    if (/HLT=1/.test(text)) return text;
    if (Date.now() > deadline) throw new Error('timed out waiting for CPU 0 to halt');
    await sleep(50);
  }
}

/** Guest-physical pages whose bytes differ between two ELF dumps of the same machine. */
function changedPages(a, b) {
  const ea = parseElf(a);
  const eb = parseElf(b);
  const out = [];
  ea.phdrs.filter((p) => p.type === 1).forEach((p, i) => {
    const q = eb.phdrs.filter((x) => x.type === 1)[i];
    const size = Number(p.filesz);
    for (let off = 0; off < size; off += 4096) {
      const n = Math.min(4096, size - off);
      const x = a.subarray(Number(p.offset) + off, Number(p.offset) + off + n);
      const y = b.subarray(Number(q.offset) + off, Number(q.offset) + off + n);
      if (!x.equals(y)) {
        let first = 0;
        while (x[first] === y[first]) first++;
        let last = n - 1;
        while (x[last] === y[last]) last--;
        out.push({ gpa: `0x${(Number(p.paddr) + off + first).toString(16)}`, bytes: last - first + 1 });
      }
    }
  });
  return out;
}

async function captureCase(c, tmp, index) {
  const debugcon = path.join(tmp, `${c.name}.debugcon`);
  const sock = path.join(tmp, `${c.name}.qmp`);
  const args = qemuArgs(c, debugcon, sock);
  console.log(`[${c.name}] ${QEMU} ${args.join(' ')}`);
  const child = spawn(QEMU, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    stderr += s;
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const entry = { name: c.name, image: path.relative(ROOT, imagePath(c.image)), smp: c.smp, faults: c.faults };
  let qmp;
  try {
    qmp = await Qmp.connect(sock, child);
    await qmp.command('qmp_capabilities');
    await qmp.command('cont');
    entry.debugcon = await waitForReady(debugcon, child);
    await waitForHalt(qmp);
    await qmp.command('stop');
    qmp.takeEvents();

    const elfPath = path.join(tmp, `${c.name}.elf`);
    const elfReply = await qmp.request('dump-guest-memory', { paging: false, protocol: `file:${elfPath}` });
    if (elfReply.error) throw new Error(`ELF dump failed: ${elfReply.error.desc}`);
    const elf = fs.readFileSync(elfPath);
    const elfGz = zlib.gzipSync(elf, { level: 9 });
    fs.writeFileSync(path.join(OUT_DIR, `${c.name}.elf.gz`), elfGz);
    entry.elf = { file: `${c.name}.elf.gz`, sha256: sha256(elf), size: elf.length };
    qmp.takeEvents();

    const dmpPath = path.join(tmp, `${c.name}.dmp`);
    const stderrBefore = stderr.length;
    const reply = await qmp.request('dump-guest-memory', { paging: false, format: 'win-dmp', protocol: `file:${dmpPath}` });
    await sleep(100);
    const ev = qmp.takeEvents();
    entry.request = { execute: 'dump-guest-memory', arguments: { paging: false, format: 'win-dmp', protocol: 'file:$TMP/dump.dmp' } };
    entry.reply = reply;
    entry.events = ev.events;
    entry.queryDump = await qmp.command('query-dump');
    entry.warnings = stderr.slice(stderrBefore).split('\n').filter((l) => l !== '').map((l) => l.replace(/^qemu-system-x86_64: /, ''));
    const dmp = fs.readFileSync(dmpPath);
    if (reply.error === undefined) {
      const gz = zlib.gzipSync(dmp, { level: 9 });
      fs.writeFileSync(path.join(OUT_DIR, `${c.name}.dmp.gz`), gz);
      entry.dmp = { file: `${c.name}.dmp.gz`, sha256: sha256(dmp), size: dmp.length };
      try {
        entry.fileCommand = execFileSync('file', ['-b', dmpPath], { encoding: 'utf8' }).trim();
      } catch {
        entry.fileCommand = null;
      }
    } else {
      entry.dmpFileSize = dmp.length;
    }

    const afterPath = path.join(tmp, `${c.name}.after.elf`);
    const afterReply = await qmp.request('dump-guest-memory', { paging: false, protocol: `file:${afterPath}` });
    if (afterReply.error) throw new Error(`second ELF dump failed: ${afterReply.error.desc}`);
    entry.guestMemoryChangedByQemu = changedPages(elf, fs.readFileSync(afterPath));
    qmp.takeEvents();

    await qmp.command('quit');
    await exited;
    entry.qemuCommandLine = [QEMU, ...args].map((a) => a.split(`${ROOT}/`).join('').split(tmp).join('$TMP'));
    index.cases.push(entry);
    console.log(`[${c.name}] ${JSON.stringify(reply)} warnings ${JSON.stringify(entry.warnings)} changed ${JSON.stringify(entry.guestMemoryChangedByQemu)}`);
  } catch (err) {
    if (stderr) err.message += `\nQEMU stderr:\n${stderr}`;
    throw err;
  } finally {
    qmp?.close();
    if (!hasExited(child)) child.kill('SIGTERM');
    await exited;
  }
}

async function main() {
  const opts = parseCaptureArgs(process.argv.slice(2), 'usage: node scripts/golden/capture-win-dmp.mjs [--build] [--only x64-smp1,...]');
  if (opts.build) buildImages();
  const versionLine = execFileSync(QEMU, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const cases = CASES.filter((c) => !opts.only || opts.only.has(c.name));
  const index = {
    comment: 'Golden win-dmp outputs of QEMU 7.2 with the ELF of the same moment (see README.md). sha256/size are of the uncompressed files.',
    qemuVersionLine: versionLine,
    capturedBy: 'scripts/golden/capture-win-dmp.mjs',
    images: Object.fromEntries(Object.keys(IMAGES).map((k) => [k, { file: path.relative(ROOT, imagePath(k)), source: path.relative(ROOT, sourcePath(k)), sha256: sha256(fs.readFileSync(imagePath(k))) }])),
    cases: [],
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slice86-windmp-'));
  try {
    for (const c of cases) await captureCase(c, tmp, index);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(OUT_DIR, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
