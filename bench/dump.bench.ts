/**
 * Guest-memory dump throughput, printed, never asserted (called from bench/bench.ts).
 *
 *  1. Guests of 1 GiB and 4 GiB, pages shuffled 25% random, 25% text-like, 50% zero. Every
 *     format the Node engine offers (flattened kdump twins only) is dumped to a file in a
 *     temporary directory with the Node file sink: guest GiB/s, median of 3 after one untimed
 *     ELF dump, and peak RSS beyond guest RAM (sampled every MiB of progress, minus the RSS just
 *     before that dump, which holds the filled guest; the largest of the rounds).
 *  2. Side by side, when qemu-system-x86_64 is installed: QEMU with a guest of the same size whose
 *     RAM is a memory-backend-file holding the same bytes, paused (-S), timing QMP
 *     dump-guest-memory for elf and kdump-zlib (Debian's 7.2 has neither lzo nor snappy), rounds
 *     interleaved with ours so machine noise hits both. QEMU's time runs from the command to its
 *     reply, which QEMU sends after the dump's file is written and closed (no detach); its boot
 *     and a first, untimed dump come before. Every dump, ours or QEMU's, goes to the same
 *     directory, and after each the file is removed and `sync` waits until the disk is idle, so
 *     one run's writeback (and the discards of its deleted blocks) never lands in the next.
 *     win-dmp needs a Windows-like guest: ours gets test/support/windows-guest.ts's structures
 *     with runs over all RAM, QEMU runs firmware/golden/win-dmp-guest-x64.bin (fault "W": the
 *     same runs) over the same RAM image until it is ready, then stops it.
 *  2b. For the codecs Debian's QEMU lacks, a stand-in for what QEMU would do, labelled "C loop":
 *     QEMU's page loop (zero test, compress each page with the codec's C library, 16 KiB
 *     flattened pieces) in C (bench/kdump-page-loop.c, compiled with cc against liblzo2,
 *     libsnappy and zlib when they are installed) on the same RAM image. It runs for zlib too,
 *     next to real QEMU, which shows how close the stand-in comes to QEMU.
 *  2c. Before every timed dump, ours, QEMU's or the C loop's, a child process fills and frees as
 *     much memory as the guest has ("pre-touch"). This VM's kernel reports free memory to its
 *     host in 8 MiB blocks (page_reporting_order=11), and the first write to a reported page costs
 *     a host fault: a dump that met such pages took 2-3x as long, all of it in the kernel's copy
 *     into new tmpfs or page-cache pages (system time 4-5 s instead of 1 s for a 4 GiB guest), and
 *     which writer met them depended on timing. Pre-touching gives every writer freshly backed
 *     free memory, so the rounds measure the dumpers rather than the host.
 *  3. The measurements behind the Node defaults, on a 256 MiB guest of the same mix: the native
 *     addon's codecs (when it is built) on one and two threads against node:zlib and the
 *     portable ones, against worker pools, and pako (qemu-7.2 flavour).
 * Which code compresses each kdump format (native addon, node:zlib or a JavaScript codec) is
 * printed under each guest's table.
 * Knobs: SLICE86_BENCH_DUMP_SIZES=1G,4G, SLICE86_BENCH_DUMP_FORMATS=elf,kdump-zlib,
 * SLICE86_BENCH_QEMU=0 (ours only), SLICE86_BENCH_C_LOOP=0 (no stand-in), SLICE86_BENCH_DUMP_DEFAULTS=0 (skip 3),
 * SLICE86_BENCH_DUMP_DIR=/dev/shm (both sides dump to memory instead of the disk), SLICE86_BENCH_HOLE_BYTES=65536
 * (the file sink's hole size instead of its default for the file system), SLICE86_BENCH_PRETOUCH=0
 * (no pre-touch).
 * Targets (the issue): ELF >= 2x QEMU, kdump-zlib >= 2x QEMU, kdump-lzo/snappy >= QEMU, win-dmp
 * >= QEMU, peak memory beyond guest RAM < 64 MiB.
 */

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMachine, dumpSourceFromMachine, parseSize, type DumpFormat, type DumpSource, type Machine } from '../src/index.js';
import { COMPRESS_BATCH_PAGES } from '../src/dump/kdump/compressor.js';
import { createNodeDumpEngine, dumpToFile, isNativeCodec, nativeAddonStatus, nodeZlibCodec, type NodeDumpEngine } from '../src/node/index.js';
import { windowsGuestImage } from '../test/support/windows-guest.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const PAGE = 4096;
/** Timed rounds per format and side (SLICE86_BENCH_DUMP_ROUNDS overrides). */
const ROUNDS = Number(process.env['SLICE86_BENCH_DUMP_ROUNDS'] ?? 3);
const QEMU = 'qemu-system-x86_64';
/** Dump formats QEMU 7.2 (Debian) can write; ours are compared with these. */
const QEMU_FORMATS: readonly DumpFormat[] = ['elf', 'kdump-zlib', 'win-dmp'];
const TARGETS: Partial<Record<DumpFormat, number>> = { elf: 2, 'kdump-zlib': 2, 'kdump-lzo': 1, 'kdump-snappy': 1, 'win-dmp': 1 };
const WIN_FIRMWARE = new URL('../../firmware/golden/win-dmp-guest-x64.bin', import.meta.url);
/** The codecs the C-loop stand-in runs, and the libraries it links (Debian's multiarch paths). */
const C_LOOP_CODECS: Partial<Record<DumpFormat, string>> = { 'kdump-zlib': 'zlib', 'kdump-lzo': 'lzo', 'kdump-snappy': 'snappy' };
const C_LOOP_LIBRARIES = ['/usr/lib/x86_64-linux-gnu/liblzo2.so.2', '/usr/lib/x86_64-linux-gnu/libsnappy.so.1'];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// ---------------------------------------------------------------------------------------------
// Guest fill

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const WORDS = (
  'struct page *page = alloc_pages(GFP_KERNEL, order); if (!page) return -ENOMEM; spin_lock_irqsave(&zone->lock, flags); ' +
  'list_for_each_entry(task, &init_task.tasks, tasks) printk(KERN_INFO "cpu %d: %s\\n", cpu, task->comm); the of and to ' +
  'in is was that for it with as on be at by memory kernel guest dump vmcore 0xffffffff81000000 /usr/lib/x86_64-linux-gnu'
).split(' ');

/** A pool of text-like pages (C-ish source and prose, a few numbers): about 3:1 with zlib -1. */
function textPages(count: number, rnd: () => number): Uint8Array[] {
  const encoder = new TextEncoder();
  return Array.from({ length: count }, () => {
    const page = new Uint8Array(PAGE);
    let at = 0;
    while (at < PAGE) {
      const word = encoder.encode(`${WORDS[rnd() % WORDS.length] ?? ''}${rnd() % 9 === 0 ? '\n' : ' '}`);
      page.set(word.subarray(0, PAGE - at), at);
      at += word.length;
    }
    return page;
  });
}

/**
 * Fills all guest RAM (the pc.ram backing, in RAM-offset order as QEMU's pc.ram block) page by
 * page: 25% random, 25% text, 50% left zero, in a shuffled order fixed by the seed.
 */
function fillGuest(machine: Machine, seed: number): { random: number; text: number; zero: number } {
  const rnd = xorshift(seed);
  const texts = textPages(512, rnd);
  const ram = machine.memory.regions.find((r) => r.kind === 'ram')?.backing;
  if (ram === undefined) throw new Error('machine has no RAM');
  const counts = { random: 0, text: 0, zero: 0 };
  for (const chunk of ram.chunks) {
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length / 4);
    for (let at = 0; at < chunk.length; at += PAGE) {
      const kind = rnd() & 3;
      if (kind === 0) {
        for (let w = at / 4, end = (at + PAGE) / 4; w < end; w++) words[w] = rnd();
        counts.random++;
      } else if (kind === 1) {
        chunk.set(texts[rnd() % texts.length] ?? texts[0] ?? new Uint8Array(PAGE), at);
        counts.text++;
      } else {
        counts.zero++;
      }
    }
  }
  return counts;
}

/**
 * The guest with a Windows-like kernel's structures (a few pages of the guest's own RAM) whose
 * header's runs cover all RAM as pc lays it out (below 3 GiB, the rest from 4 GiB), like the
 * firmware's fault "W".
 */
function windowsSource(machine: Machine, sizeBytes: number): DumpSource {
  const pages = BigInt(sizeBytes / PAGE);
  const runs: (readonly [bigint, bigint])[] = pages < 0xe0000n
    ? [[0n, 0xa0n], [0x100n, pages - 0x100n]]
    : [[0n, 0xa0n], [0x100n, 0xc0000n - 0x100n], [0x100000n, pages - 0xc0000n]];
  const image = windowsGuestImage({ mode: 'x64', cpus: 1, runs });
  for (const w of image.writes) machine.memory.write(w.gpa, w.bytes);
  return { ...dumpSourceFromMachine(machine, image.cpus), guestNote: { kind: 'note', bytes: image.note } };
}

/** The guest's RAM as one file, for QEMU's memory-backend-file. */
async function writeRamImage(machine: Machine, path: string): Promise<void> {
  const ram = machine.memory.regions.find((r) => r.kind === 'ram')?.backing;
  if (ram === undefined) throw new Error('machine has no RAM');
  const file = await open(path, 'w', 0o600);
  try {
    let position = 0;
    for (const chunk of ram.chunks) {
      for (let at = 0; at < chunk.length; at += 256 * MiB) {
        const piece = chunk.subarray(at, Math.min(at + 256 * MiB, chunk.length));
        for (let done = 0; done < piece.length;) done += (await file.write(piece, done, piece.length - done, position + done)).bytesWritten;
        position += piece.length;
      }
    }
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Our side

interface Run {
  readonly seconds: number;
  /** Peak RSS during the dump minus the RSS just before it: what the dump added to the process. */
  readonly peakRssBytes: number;
  readonly fileBytes: number;
  readonly diskBytes: number;
}

/**
 * RSS sampling in timed rounds: reading RSS costs tens of microseconds, which at one sample per MiB
 * added several percent to a fast dump's time. Each format's untimed first round samples every MiB.
 */
const TIMED_RSS_SAMPLE_BYTES = 64 * MiB;
/** SLICE86_BENCH_HOLE_BYTES: the file sink's hole size instead of its per-file-system default. */
const HOLE_BYTES = process.env['SLICE86_BENCH_HOLE_BYTES'] === undefined ? undefined : Number(process.env['SLICE86_BENCH_HOLE_BYTES']);

async function dumpOurs(engine: NodeDumpEngine, source: DumpSource, format: DumpFormat, path: string, compat?: 'qemu-7.2', sampleEveryBytes = MiB): Promise<Run> {
  const before = process.memoryUsage.rss();
  let peak = before;
  let nextSample = 0;
  const start = process.hrtime.bigint();
  await dumpToFile(source, path, {
    engine,
    format,
    compat,
    file: HOLE_BYTES === undefined ? undefined : { holeBytes: HOLE_BYTES },
    onProgress: ({ completed }) => {
      if (completed < nextSample) return;
      nextSample = completed + sampleEveryBytes;
      peak = Math.max(peak, process.memoryUsage.rss());
    },
  });
  const elapsed = seconds(start);
  peak = Math.max(peak, process.memoryUsage.rss());
  const info = await stat(path);
  await rm(path, { force: true });
  settle();
  return { seconds: elapsed, peakRssBytes: peak - before, fileBytes: info.size, diskBytes: info.blocks * 512 };
}

/** SLICE86_BENCH_PRETOUCH=0 leaves pre-touching out (see 2c above). */
const PRETOUCH = process.env['SLICE86_BENCH_PRETOUCH'] !== '0';
const PRETOUCH_PIECE_BYTES = 256 * MiB;

/**
 * Fills `bytes` of memory in a child process that then exits, so the next writer's new file pages
 * come from free memory the host backs (see 2c above); nothing of it stays in this process.
 */
function pretouch(bytes: number): void {
  if (!PRETOUCH) return;
  const pieces = Math.ceil(bytes / PRETOUCH_PIECE_BYTES);
  const script = `const held = []; for (let i = 0; i < ${pieces}; i++) held.push(Buffer.allocUnsafeSlow(${PRETOUCH_PIECE_BYTES}).fill(1));`;
  spawnSync(process.execPath, ['-e', script], { stdio: 'ignore' });
}

/** Waits until the disk is idle: the removed file's writeback and discards stay out of the next run. */
function settle(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------------
// The C-loop stand-in for codecs Debian's QEMU lacks

/**
 * Compiles bench/kdump-page-loop.c into `dir` (found beside this file in the sources, or two
 * levels up from dist/bench); undefined when cc, the source or a library is missing.
 */
function buildPageLoop(dir: string): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const source = [join(here, 'kdump-page-loop.c'), join(here, '..', '..', 'bench', 'kdump-page-loop.c')].find((p) => existsSync(p));
  if (source === undefined || !C_LOOP_LIBRARIES.every((l) => existsSync(l))) return undefined;
  const binary = join(dir, 'kdump-page-loop');
  const cc = spawnSync('cc', ['-O2', '-o', binary, source, ...C_LOOP_LIBRARIES, '-lz'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return cc.status === 0 ? binary : undefined;
}

async function cLoop(binary: string, format: DumpFormat, image: string, path: string): Promise<Run> {
  const codec = C_LOOP_CODECS[format];
  if (codec === undefined) throw new Error(`no C loop for ${format}`);
  const { stdout } = await promisify(execFile)(binary, [image, codec, path]);
  const info = await stat(path);
  await rm(path, { force: true });
  settle();
  return { seconds: Number(stdout.trim()), peakRssBytes: 0, fileBytes: info.size, diskBytes: info.blocks * 512 };
}

// ---------------------------------------------------------------------------------------------
// QEMU side

/** A minimal QMP client: one command at a time, events ignored. */
class Qmp {
  readonly #socket: Socket;
  #buffer = '';
  readonly #waiters: ((message: Record<string, unknown>) => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.#buffer += data;
      let newline: number;
      while ((newline = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, newline).trim();
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line === '') continue;
        const message = JSON.parse(line) as Record<string, unknown>;
        if ('event' in message) continue;
        this.#waiters.shift()?.(message);
      }
    });
  }

  static async connect(path: string): Promise<Qmp> {
    for (let attempt = 0; ; attempt++) {
      try {
        const socket = createConnection(path);
        await once(socket, 'connect');
        const qmp = new Qmp(socket);
        await qmp.#next(); // greeting
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (error) {
        if (attempt > 100) throw error;
        await sleep(50);
      }
    }
  }

  #next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = this.#next();
    this.#socket.write(`${JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args })}\n`);
    const message = await reply;
    if ('error' in message) throw new Error(`QMP ${command}: ${JSON.stringify(message['error'])}`);
    return message['return'];
  }

  close(): void {
    this.#socket.destroy();
  }
}

class QemuGuest {
  readonly #child: ChildProcess;
  readonly #qmp: Qmp;

  private constructor(child: ChildProcess, qmp: Qmp) {
    this.#child = child;
    this.#qmp = qmp;
  }

  /** Paused at reset; with `windowsFirmware`, run until that guest is ready, then stopped. */
  static async start(sizeBytes: number, ramImage: string, dir: string, windowsFirmware?: string): Promise<QemuGuest> {
    const socket = join(dir, 'qmp.sock');
    const debugcon = join(dir, 'debugcon.txt');
    const size = `${sizeBytes / MiB}M`;
    const child = spawn(QEMU, [
      '-M', 'pc,memory-backend=ram', '-m', size, '-nodefaults', '-nic', 'none', '-display', 'none', '-accel', 'tcg',
      '-object', `memory-backend-file,id=ram,size=${size},mem-path=${ramImage},share=on`,
      '-qmp', `unix:${socket},server=on,wait=off`,
      ...(windowsFirmware === undefined
        ? ['-S']
        : ['-bios', windowsFirmware, '-device', 'vmcoreinfo', '-fw_cfg', 'name=opt/slice86/win-dmp-faults,string=W', '-debugcon', `file:${debugcon}`]),
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      const guest = new QemuGuest(child, await Qmp.connect(socket));
      if (windowsFirmware !== undefined) {
        for (let i = 0; !(existsSync(debugcon) && readFileSync(debugcon, 'latin1').endsWith('ready\n')); i++) {
          if (i > 1200) throw new Error('the win-dmp guest did not get ready');
          await sleep(50);
        }
        await guest.#qmp.execute('stop');
      }
      return guest;
    } catch (error) {
      child.kill();
      throw error;
    }
  }

  /** Times a synchronous dump-guest-memory (the reply comes when the file is complete). */
  async dump(format: DumpFormat, path: string): Promise<Run> {
    const start = process.hrtime.bigint();
    await this.#qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${path}`, format });
    const elapsed = seconds(start);
    const info = await stat(path);
    await rm(path, { force: true });
    settle();
    return { seconds: elapsed, peakRssBytes: 0, fileBytes: info.size, diskBytes: info.blocks * 512 };
  }

  async stop(): Promise<void> {
    const exited = once(this.#child, 'exit');
    await this.#qmp.execute('quit').catch(() => undefined);
    this.#qmp.close();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function qemuAvailable(): boolean {
  if (process.env['SLICE86_BENCH_QEMU'] === '0') return false;
  return spawnSync('sh', ['-c', `command -v ${QEMU}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------------------------------
// Report

function rate(sizeBytes: number, runs: readonly Run[]): number {
  return sizeBytes / median(runs.map((r) => r.seconds)) / GiB;
}

/** "median (min-max)" in GiB/s. */
function rates(sizeBytes: number, runs: readonly Run[]): string {
  const each = runs.map((r) => sizeBytes / r.seconds / GiB);
  return `${rate(sizeBytes, runs).toFixed(3)} (${Math.min(...each).toFixed(2)}-${Math.max(...each).toFixed(2)})`;
}

/** Which code compresses a format's pages in the default flavour: the native addon, node:zlib or a JavaScript codec. */
function codecPath(engine: NodeDumpEngine, format: DumpFormat): string | undefined {
  if (!format.startsWith('kdump-')) return undefined;
  const codec = engine.codecFor(format as Exclude<DumpFormat, 'elf' | 'win-dmp'>);
  if (codec === undefined) return undefined;
  if (isNativeCodec(codec)) return `native addon (${codec.native.library}), ${COMPRESS_BATCH_PAGES} pages per call on ${engine.nativeThreads} thread(s)`;
  if (codec === nodeZlibCodec) return 'node:zlib, a page per call';
  return `portable ${codec.name} codec (JavaScript/WebAssembly), a page per call`;
}

function pad(text: string, width: number): string {
  return text.padEnd(width);
}

async function benchGuest(sizeText: string, dir: string, withQemu: boolean, pageLoop: string | undefined): Promise<void> {
  const sizeBytes = parseSize(sizeText);
  const machine = createMachine({ memorySize: sizeText });
  const counts = fillGuest(machine, 0x5eed);
  const source = dumpSourceFromMachine(machine);
  const winSource = windowsSource(machine, sizeBytes);
  const engine = await createNodeDumpEngine();
  const only = process.env['SLICE86_BENCH_DUMP_FORMATS']?.split(',');
  const formats = engine.queryCapabilities().formats.filter((f) => !f.startsWith('kdump-raw-') && (only?.includes(f) ?? true));
  let qemu: QemuGuest | undefined;
  // tmpfs when there is one: a RAM image on disk would be dirty page cache whose writeback
  // throttles both dumpers' writes for the first minutes.
  const imageDir = existsSync('/dev/shm') ? await mkdtemp('/dev/shm/slice86-bench-') : dir;
  const image = join(imageDir, `ram-${sizeText}.img`);
  const cLoopFormats = pageLoop === undefined ? [] : formats.filter((f) => C_LOOP_CODECS[f] !== undefined);
  if (withQemu || cLoopFormats.length > 0) await writeRamImage(machine, image);
  if (withQemu) qemu = await QemuGuest.start(sizeBytes, image, dir);
  // One untimed ELF dump each first: both sides' first reads of never-touched guest pages fault
  // them in (our zero pages, QEMU's tmpfs mapping), which is set-up, not dumping.
  await dumpOurs(engine, source, 'elf', join(dir, 'warm-up'));
  await qemu?.dump('elf', join(dir, 'warm-up'));
  console.log('Dump of a %s guest to a file (%d random, %d text, %d zero pages; GiB/s median (min-max) of %d after a warm-up%s)',
    sizeText, counts.random, counts.text, counts.zero, ROUNDS, `${qemu === undefined ? '' : `, interleaved with ${QEMU} rounds`}${PRETOUCH ? ', each after a pre-touch' : ''}`);
  console.log('  %s %s %s %s %s %s %s %s %s', pad('format', 14), pad('ours GiB/s', 20), pad('peak RSS+', 10), pad('file/disk MiB', 14),
    pad('QEMU GiB/s', 20), pad('ours/QEMU', 10), pad('C loop GiB/s', 20), pad('ours/C loop', 12), 'target');
  try {
    for (const format of formats) {
      const ours: Run[] = [];
      const theirs: Run[] = [];
      if (format === 'win-dmp' && qemu !== undefined) {
        // The Windows-like firmware over the same RAM image (its structures are a few pages).
        await qemu.stop();
        qemu = await QemuGuest.start(sizeBytes, image, dir, fileURLToPath(WIN_FIRMWARE));
      }
      const loop: Run[] = [];
      const ourSource = format === 'win-dmp' ? winSource : source;
      // Untimed: peak memory sampled every MiB (and the format's code paths warmed up).
      const memoryRound = await dumpOurs(engine, ourSource, format, join(dir, `ours.${format}`));
      for (let round = 0; round < ROUNDS; round++) {
        pretouch(sizeBytes);
        ours.push(await dumpOurs(engine, ourSource, format, join(dir, `ours.${format}`), undefined, TIMED_RSS_SAMPLE_BYTES));
        if (qemu !== undefined && QEMU_FORMATS.includes(format)) {
          pretouch(sizeBytes);
          theirs.push(await qemu.dump(format, join(dir, `qemu.${format}`)));
        }
        if (pageLoop !== undefined && cLoopFormats.includes(format)) {
          pretouch(sizeBytes);
          loop.push(await cLoop(pageLoop, format, image, join(dir, `loop.${format}`)));
        }
      }
      const oursRate = rate(sizeBytes, ours);
      const peak = Math.max(memoryRound.peakRssBytes, ...ours.map((r) => r.peakRssBytes));
      const last = ours.at(-1);
      const files = last === undefined ? '' : `${(last.fileBytes / MiB).toFixed(0)}/${(last.diskBytes / MiB).toFixed(0)}`;
      const qemuRate = theirs.length > 0 ? rate(sizeBytes, theirs) : undefined;
      const loopRate = loop.length > 0 ? rate(sizeBytes, loop) : undefined;
      const target = TARGETS[format];
      console.log('  %s %s %s %s %s %s %s %s %s', pad(format, 14), pad(rates(sizeBytes, ours), 20), pad(`${(peak / MiB).toFixed(1)} MiB`, 10), pad(files, 14),
        pad(theirs.length > 0 ? rates(sizeBytes, theirs) : '-', 20), pad(qemuRate === undefined ? '-' : (oursRate / qemuRate).toFixed(2), 10),
        pad(loop.length > 0 ? rates(sizeBytes, loop) : '-', 20), pad(loopRate === undefined ? '-' : (oursRate / loopRate).toFixed(2), 12),
        target === undefined ? '' : `>= ${target}x QEMU; RSS+ < 64 MiB`);
    }
    const native = nativeAddonStatus();
    console.log('  codec paths: %s', native.loaded ? `native addon ${native.path}` : `no native addon: ${native.reason}`);
    for (const format of formats) {
      const path = codecPath(engine, format);
      if (path !== undefined) console.log('    %s %s', pad(format, 14), path);
    }
    if (cLoopFormats.length > 0) {
      console.log('  C loop: a stand-in for QEMU where Debian\'s build lacks the codec: QEMU\'s kdump page loop in C with the codec\'s C library (bench/kdump-page-loop.c)');
    }
  } finally {
    await qemu?.stop();
    await rm(image, { force: true });
    if (imageDir !== dir) await rm(imageDir, { recursive: true, force: true });
  }
}

/** 256 MiB guest: the measurements behind the Node engine's defaults. */
async function benchDefaults(dir: string): Promise<void> {
  const machine = createMachine({ memorySize: '256M' });
  fillGuest(machine, 0xdec1de);
  const source = dumpSourceFromMachine(machine);
  const native = nativeAddonStatus().loaded;
  const variants: { label: string; workers: number; format: DumpFormat; compat?: 'qemu-7.2'; native?: false; nativeThreads?: number }[] = [
    ...(native
      ? [
          // The addon's own threads (nativeThreads) side by side: the default takes two where there are two CPUs.
          { label: 'kdump-zlib, native addon (libdeflate), 1 thread', workers: 0, format: 'kdump-zlib' as const, nativeThreads: 1 },
          { label: 'kdump-zlib, native addon (libdeflate), 2 threads', workers: 0, format: 'kdump-zlib' as const, nativeThreads: 2 },
          { label: 'kdump-zlib, native addon (libdeflate), 2 workers', workers: 2, format: 'kdump-zlib' as const },
          { label: 'kdump-lzo, native addon, 1 thread', workers: 0, format: 'kdump-lzo' as const, nativeThreads: 1 },
          { label: 'kdump-lzo, native addon, 2 threads', workers: 0, format: 'kdump-lzo' as const, nativeThreads: 2 },
          { label: 'kdump-lzo, portable (TypeScript), calling thread', workers: 0, format: 'kdump-lzo' as const, native: false as const },
          { label: 'kdump-snappy, native addon (libsnappy), 1 thread', workers: 0, format: 'kdump-snappy' as const, nativeThreads: 1 },
          { label: 'kdump-snappy, native addon (libsnappy), 2 threads', workers: 0, format: 'kdump-snappy' as const, nativeThreads: 2 },
        ]
      : []),
    { label: 'kdump-zlib, node:zlib, calling thread', workers: 0, format: 'kdump-zlib', native: false },
    { label: 'kdump-zlib, node:zlib, 1 worker', workers: 1, format: 'kdump-zlib', native: false },
    { label: 'kdump-zlib, node:zlib, 2 workers', workers: 2, format: 'kdump-zlib', native: false },
    { label: 'kdump-zlib, pako (qemu-7.2), calling thread', workers: 0, format: 'kdump-zlib', compat: 'qemu-7.2' },
    { label: 'kdump-zlib, pako (qemu-7.2), 2 workers', workers: 2, format: 'kdump-zlib', compat: 'qemu-7.2' },
    { label: 'kdump-snappy, snappyjs, calling thread', workers: 0, format: 'kdump-snappy', native: false },
    { label: 'kdump-snappy, snappyjs, 2 workers', workers: 2, format: 'kdump-snappy', native: false },
  ];
  const engines = await Promise.all(variants.map((v) => createNodeDumpEngine({ workers: v.workers, native: v.native, nativeThreads: v.nativeThreads })));
  const runs = variants.map((): Run[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, v] of variants.entries()) {
      const engine = engines[i];
      if (engine?.queryCapabilities().formats.includes(v.format) !== true) continue;
      pretouch(256 * MiB);
      runs[i]?.push(await dumpOurs(engine, source, v.format, join(dir, 'defaults.dump'), v.compat));
    }
  }
  console.log('Node defaults: 256 MiB guest, same mix (GiB/s median (min-max) of %d, interleaved)', ROUNDS);
  for (const [i, v] of variants.entries()) {
    const r = runs[i] ?? [];
    if (r.length > 0) console.log('  %s %s GiB/s', pad(v.label, 50), rates(256 * MiB, r));
  }
}

export async function benchDump(): Promise<void> {
  const sizes = (process.env['SLICE86_BENCH_DUMP_SIZES'] ?? '1G,4G').split(',').filter((s) => s !== '');
  const withQemu = qemuAvailable();
  // SLICE86_BENCH_DUMP_DIR=/dev/shm writes both sides' dumps to memory, taking a slow or shared
  // disk's writeback out of the comparison (it then measures the dump engines, not the disk).
  const dir = await mkdtemp(join(process.env['SLICE86_BENCH_DUMP_DIR'] ?? tmpdir(), 'slice86-bench-'));
  console.log('dumps are written to %s', dir);
  try {
    if (!withQemu) console.log('%s not found (or SLICE86_BENCH_QEMU=0): our figures only', QEMU);
    if (process.env['SLICE86_BENCH_DUMP_DEFAULTS'] !== '0') await benchDefaults(dir);
    const pageLoop = process.env['SLICE86_BENCH_C_LOOP'] === '0' ? undefined : buildPageLoop(dir);
    if (pageLoop === undefined) console.log('no C-loop stand-in (needs cc, liblzo2 and libsnappy; or SLICE86_BENCH_C_LOOP=0)');
    for (const size of sizes) await benchGuest(size, dir, withQemu, pageLoop);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (existsSync(dir)) console.log('could not remove %s', dir);
}
