/**
 * The demo's dump folder: the booted machine dumped once in every format the engine offers, each
 * file written atomically by src/node's file sink and then read back with slice86's own reader
 * (src/dump/read), which checks the format and compression it declares, the guest memory ranges,
 * the VMCOREINFO text the guest registered, the CPU count, and every byte of guest memory against
 * the machine. Where file(1) is installed it checks the file too, independently of slice86: its
 * magic database knows ELF cores and both kdump layouts. A file that fails a check is reported,
 * not hidden.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Machine } from '../machine.js';
import { DumpError, Slice86Error } from '../core/errors.js';
import { createDumpEngine, DUMP_FORMATS, type DumpFormat } from '../dump/engine.js';
import type { CodecTable } from '../dump/read/pages.js';
import { dumpSourceFromMachine } from '../dump/machine-source.js';
import { readDump, type DumpFile } from '../dump/read/read-dump.js';
import { createNodeDumpEngine } from '../node/engine.js';
import { createFileSink } from '../node/file-sink.js';
import { engineCodecs, openFileInput } from './convert.js';
import { createProgress, type ProgressOptions } from './progress.js';
import { yieldingSink } from './yielding-sink.js';

export interface DemoDump {
  readonly format: DumpFormat;
  readonly file: string;
  readonly bytes: number;
  readonly seconds: number;
  /** Whether the read-back check passed (true for a format that refused this guest). */
  readonly ok: boolean;
  /**
   * Why the engine wrote no file, when the format cannot describe this guest (win-dmp needs a
   * Windows guest's KDBG, as in QEMU); nothing is written then.
   */
  readonly refused?: string;
  /** What checked the file and what it found (or what did not match). */
  readonly checkedBy: string;
}

export interface DemoDumpOptions {
  readonly signal?: AbortSignal;
  readonly progress: ProgressOptions;
  /** Called after each file, for output as it happens. */
  readonly onDump?: (dump: DemoDump) => void;
}

/** The file name of a format's dump: ELF cores end in .elf, flattened kdump in .flat, raw in .kdump. */
export function demoFileName(format: DumpFormat): string {
  if (format === 'elf') return 'vmcore.elf';
  if (format === 'win-dmp') return 'vmcore.dmp';
  const codec = format.replace(/^kdump-(raw-)?/, '');
  return format.startsWith('kdump-raw-') ? `vmcore-${codec}.kdump` : `vmcore-${codec}.flat`;
}

export async function writeDemoDumps(machine: Machine, dir: string, options: DemoDumpOptions): Promise<DemoDump[]> {
  const engine = await createNodeDumpEngine();
  const formats = engine.queryCapabilities().formats;
  // Reading back decodes with the portable codecs: a second implementation checks node:zlib's pages.
  const codecs = engineCodecs(await createDumpEngine());
  const out: DemoDump[] = [];
  for (const format of DUMP_FORMATS.filter((f) => formats.includes(f))) {
    const file = join(dir, demoFileName(format));
    const progress = createProgress(format.padEnd(16), options.progress);
    const started = performance.now();
    let bytes: number;
    try {
      const result = await engine.dump(dumpSourceFromMachine(machine), {
        sink: yieldingSink(createFileSink(file)),
        format,
        signal: options.signal,
        onProgress: ({ completed, total }) => {
          progress.update(completed, total);
        },
      });
      bytes = result.bytesWritten;
    } catch (error) {
      if (!refusal(error)) throw error;
      const dump = { format, file, bytes: 0, seconds: (performance.now() - started) / 1000, ok: true, refused: error.message, checkedBy: `not written: ${error.message}` };
      options.onDump?.(dump);
      out.push(dump);
      continue;
    } finally {
      progress.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const check = await checkDemoDump(machine, file, format, codecs, options.signal);
    const dump = { format, file, bytes, seconds, ...check };
    options.onDump?.(dump);
    out.push(dump);
  }
  return out;
}

/**
 * A request the format refuses for this guest, before or while reading the guest (as QEMU refuses
 * win-dmp for a guest that is not Windows); not a write failure, not a cancellation.
 */
function refusal(error: unknown): error is Slice86Error {
  if (!(error instanceof Slice86Error)) return false;
  return !(error instanceof DumpError && (error.code === 'aborted' || error.code === 'sink-failed'));
}

const CHUNK = 1 << 20;

/** Reads `file` back and compares it with the machine it was dumped from. */
export async function checkDemoDump(machine: Machine, file: string, format: DumpFormat, codecs: CodecTable, signal?: AbortSignal): Promise<{ ok: boolean; checkedBy: string }> {
  const input = openFileInput(file);
  try {
    const dump = await readDump(input, { codecs });
    const problem = await compare(machine, dump, format, signal);
    const blocks = machine.memory.blocks();
    const ramBytes = blocks.reduce((sum, b) => sum + b.sizeBytes, 0);
    if (problem !== undefined) return { ok: false, checkedBy: `slice86 readDump: MISMATCH ${problem}` };
    const ours = `slice86 readDump: ${dump.format}${dump.kdump === undefined ? '' : ` ${dump.kdump.compression}`}, ${dump.ranges.length} range${dump.ranges.length === 1 ? '' : 's'}, ${ramBytes / 2 ** 20} MiB equal, VMCOREINFO, ${dump.cpus.length} CPU${dump.cpus.length === 1 ? '' : 's'}`;
    const magic = fileMagic(file, format);
    return { ok: magic?.ok ?? true, checkedBy: magic === undefined ? ours : `${ours}; file(1): ${magic.text}` };
  } catch (error) {
    if (signal?.aborted === true) throw error;
    return { ok: false, checkedBy: `slice86 readDump: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    input.close();
  }
}

async function compare(machine: Machine, dump: DumpFile, format: DumpFormat, signal: AbortSignal | undefined): Promise<string | undefined> {
  const family = format === 'elf' || format === 'win-dmp' ? format : format.startsWith('kdump-raw-') ? 'kdump-raw' : 'kdump-flattened';
  if (dump.format !== family) return `format ${dump.format}, expected ${family}`;
  const codec = format.replace(/^kdump-(raw-)?/, '');
  if (dump.kdump !== undefined && dump.kdump.compression !== codec) return `compression ${dump.kdump.compression}, expected ${codec}`;
  if (dump.cpus.length !== machine.cpus) return `${dump.cpus.length} CPUs, expected ${machine.cpus}`;
  if (dump.vmcoreinfo?.includes('OSRELEASE=') !== true) return 'no VMCOREINFO text';
  const blocks = machine.memory.blocks();
  const covered = dump.ranges.reduce((sum, r) => sum + r.size, 0);
  const expected = blocks.reduce((sum, b) => sum + b.sizeBytes, 0);
  // kdump holds whole pages of RAM; an ELF core holds each block as it is.
  if (covered < expected) return `${covered} bytes of memory, expected ${expected}`;
  const got = new Uint8Array(CHUNK);
  for (const block of blocks) {
    for (let at = 0; at < block.sizeBytes; at += CHUNK) {
      // Ctrl-C is seen between chunks: reading back a large guest takes a while.
      if (at % (64 * CHUNK) === 0) await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
      const length = Math.min(CHUNK, block.sizeBytes - at);
      const want = machine.memory.read(block.gpa + at, length);
      const view = got.subarray(0, length);
      await dump.readPhysical(block.gpa + at, view);
      if (!Buffer.from(view.buffer, view.byteOffset, length).equals(want)) {
        const i = view.findIndex((byte, k) => byte !== want[k]);
        return `byte at 0x${(block.gpa + at + i).toString(16)}`;
      }
    }
  }
  return undefined;
}

const FILE_MAGIC: Readonly<Record<'elf' | 'flattened' | 'raw', RegExp>> = {
  elf: /^ELF (32|64)-bit LSB core file/,
  flattened: /^Flattened kdump compressed dump/,
  raw: /^Kdump compressed dump/,
};

/** What file(1) calls the dump, and whether that is what was written; undefined without file(1). */
function fileMagic(file: string, format: DumpFormat): { ok: boolean; text: string } | undefined {
  const result = spawnSync('file', ['-b', file], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  const text = result.stdout.trim().split(',')[0] ?? '';
  if (format === 'win-dmp') return { ok: true, text };
  const kind = format === 'elf' ? 'elf' : format.startsWith('kdump-raw-') ? 'raw' : 'flattened';
  return FILE_MAGIC[kind].test(text) ? { ok: true, text } : { ok: false, text: `MISMATCH ${text}` };
}
