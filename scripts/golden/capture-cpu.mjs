#!/usr/bin/env node
// capture-cpu.mjs - record the QEMU 7.2 oracle for the CPU differential firmware.
//
// Every firmware/cpu/<name>.asm (built to <name>.bin, a 64 KiB -bios image; shared code in
// cpu.inc / cpu-lib.inc) runs in qemu-system-x86_64 (TCG, pc, 32 MiB, -device vmcoreinfo,
// -device isa-debug-exit, debug console on 0xe9 into a file), started paused (-S). Over QMP:
//   1. qmp_capabilities, query-version, cont
//   2. wait until the debug console holds a line "END" (a "FATAL" line fails the capture),
//      then poll "info registers" until the CPU shows HLT=1 twice in a row  -> <name>.registers.txt
//      ("MISSING exception", printed when an expected fault did not happen, fails it too)
//   3. dump-guest-memory {paging: false} (ELF, CPU notes and RAM)         -> <name>.elf.gz
//   4. quit
// and stores the debug console text as <name>.debugcon.txt. Each program runs twice; the two
// runs must give the same debug console text and the same ELF bytes, or the capture fails
// (the programs avoid anything timing-dependent). index.json lists, per program, the image's
// sha256, the exact QEMU command line, and the sha256/size of the debug console text and of
// the uncompressed ELF (gzip level 9 on disk).
//
// Usage:  node scripts/golden/capture-cpu.mjs [--build] [--only default,modes]
//   --build   re-assemble the images first (needs nasm)
//   --only    capture just the named programs (index.json keeps the others' entries)
//   QEMU=/path/to/qemu-system-x86_64 overrides the emulator binary.
// Needs Node 20 and nothing from npm. Outputs: test/fixtures/qemu-7.2/cpu/.

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { parseCaptureArgs } from './capture-args.mjs';
import { hasExited, Qmp, sleep } from './qmp-client.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FW_DIR = path.join(ROOT, 'firmware/cpu');
const OUT_DIR = path.join(ROOT, 'test/fixtures/qemu-7.2/cpu');
const QEMU = process.env.QEMU ?? 'qemu-system-x86_64';
const MEMORY = '32M';
const END_TIMEOUT_MS = 120 * 1000;

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
const imagePath = (name) => path.join(FW_DIR, `${name}.bin`);
const sourcePath = (name) => path.join(FW_DIR, `${name}.asm`);
const rel = (p) => path.relative(ROOT, p);

function programs() {
  return fs.readdirSync(FW_DIR).filter((f) => f.endsWith('.asm')).map((f) => f.slice(0, -4)).sort();
}

function build(name) {
  execFileSync('nasm', ['-f', 'bin', '-I', `${FW_DIR}/`, '-o', imagePath(name), sourcePath(name)], { stdio: 'inherit' });
  console.log(`built ${rel(imagePath(name))}`);
}

// The QEMU command line; paths of the run's own files are replaced by $TMP in index.json.
function qemuArgs(name, debugcon, sock) {
  return [
    '-M', 'pc',
    '-m', MEMORY,
    '-nodefaults',
    '-nic', 'none',
    '-display', 'none',
    '-accel', 'tcg',
    '-bios', imagePath(name),
    '-device', 'vmcoreinfo',
    '-device', 'isa-debug-exit',
    '-debugcon', `file:${debugcon}`,
    '-qmp', `unix:${sock},server=on,wait=off`,
    '-S',
  ];
}

async function waitForEnd(file, child) {
  const deadline = Date.now() + END_TIMEOUT_MS;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
    if (/^FATAL|\nFATAL|MISSING exception/.test(text)) throw new Error(`guest failed:\n${text}`);
    if (text.endsWith('END\n')) return text;
    if (hasExited(child)) throw new Error(`QEMU exited (${child.exitCode ?? child.signalCode}) before END:\n${text}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for END in ${file}:\n${text}`);
    await sleep(50);
  }
}

async function waitForHalt(qmp) {
  const deadline = Date.now() + END_TIMEOUT_MS;
  for (;;) {
    const text = await qmp.hmp('info registers');
    if (/HLT=1/.test(text)) {
      await sleep(100);
      const again = await qmp.hmp('info registers');
      if (again === text) return text;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for the CPU to halt');
    await sleep(50);
  }
}

async function runOnce(name, tmp) {
  const debugcon = path.join(tmp, `${name}.debugcon`);
  const sock = path.join(tmp, `${name}.qmp`);
  const elf = path.join(tmp, `${name}.elf`);
  for (const f of [debugcon, sock, elf]) fs.rmSync(f, { force: true });
  const args = qemuArgs(name, debugcon, sock);
  const child = spawn(QEMU, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => { stderr += s; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let qmp;
  try {
    qmp = await Qmp.connect(sock, child);
    await qmp.command('qmp_capabilities');
    const version = await qmp.command('query-version');
    await qmp.command('cont');
    const text = await waitForEnd(debugcon, child);
    const registers = (await waitForHalt(qmp)).replace(/\r\n/g, '\n');
    const reply = await qmp.request('dump-guest-memory', { paging: false, protocol: `file:${elf}` });
    if (reply.error) throw new Error(`dump-guest-memory failed: ${reply.error.desc}`);
    const dump = fs.readFileSync(elf);
    await qmp.command('quit');
    await exited;
    const commandLine = [QEMU, ...args].map((a) => a.split(tmp).join('$TMP').split(`${ROOT}/`).join(''));
    return { version, text, registers, dump, commandLine };
  } catch (err) {
    if (stderr) err.message += `\nQEMU stderr:\n${stderr}`;
    throw err;
  } finally {
    qmp?.close();
    if (!hasExited(child)) child.kill('SIGTERM');
    await exited;
  }
}

async function capture(name, tmp, index) {
  console.log(`[${name}] ${rel(imagePath(name))}`);
  const first = await runOnce(name, tmp);
  const second = await runOnce(name, tmp);
  if (first.text !== second.text) throw new Error(`[${name}] two runs printed different text`);
  if (!first.dump.equals(second.dump)) throw new Error(`[${name}] two runs dumped different bytes`);
  index.qemu ??= `${first.version.qemu.major}.${first.version.qemu.minor}.${first.version.qemu.micro} (${first.version.package.trim()})`;
  fs.writeFileSync(path.join(OUT_DIR, `${name}.debugcon.txt`), first.text, 'latin1');
  fs.writeFileSync(path.join(OUT_DIR, `${name}.registers.txt`), first.registers);
  fs.writeFileSync(path.join(OUT_DIR, `${name}.elf.gz`), zlib.gzipSync(first.dump, { level: 9 }));
  index.programs[name] = {
    source: rel(sourcePath(name)),
    image: rel(imagePath(name)),
    imageSha256: sha256(fs.readFileSync(imagePath(name))),
    nasm: `nasm -f bin -I firmware/cpu/ -o ${rel(imagePath(name))} ${rel(sourcePath(name))}`,
    qemuCommandLine: first.commandLine,
    memorySize: MEMORY,
    debugcon: { file: `${name}.debugcon.txt`, sha256: sha256(Buffer.from(first.text, 'latin1')), lines: first.text.split('\n').length - 1 },
    elf: { file: `${name}.elf.gz`, sha256: sha256(first.dump), size: first.dump.length, qmp: { paging: false } },
    registers: `${name}.registers.txt`,
  };
  console.log(`[${name}] ${index.programs[name].debugcon.lines} lines, ELF ${first.dump.length} bytes, sha256 ${index.programs[name].elf.sha256}`);
}

async function main() {
  const opts = parseCaptureArgs(process.argv.slice(2), 'usage: node scripts/golden/capture-cpu.mjs [--build] [--only default,modes]');
  const names = programs().filter((n) => !opts.only || opts.only.has(n));
  if (names.length === 0) throw new Error('no program selected');
  if (opts.build) names.forEach(build);
  for (const n of names) {
    const size = fs.statSync(imagePath(n)).size;
    if (size % 65536 !== 0) throw new Error(`${imagePath(n)} is ${size} bytes, not a multiple of 64 KiB`);
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const indexFile = path.join(OUT_DIR, 'index.json');
  const old = fs.existsSync(indexFile) ? JSON.parse(fs.readFileSync(indexFile, 'utf8')) : null;
  const index = {
    comment: 'QEMU 7.2 oracle for the CPU differential firmware (see README.md). elf.sha256/size are of the uncompressed dump-guest-memory ELF (paging false); "$TMP" stands for the temporary directory of the capture run.',
    qemu: null,
    qemuVersionLine: execFileSync(QEMU, ['--version'], { encoding: 'utf8' }).split('\n')[0],
    capturedBy: 'scripts/golden/capture-cpu.mjs',
    programs: { ...(old?.programs ?? {}) },
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slice86-cpu-'));
  try {
    for (const n of names) await capture(n, tmp, index);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  index.programs = Object.fromEntries(Object.entries(index.programs).sort(([a], [b]) => a.localeCompare(b)));
  fs.writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
