/**
 * The dump engine, shaped like QEMU 7.2's dump-guest-memory: one dump at a time per engine, a
 * query-dump status, a capability list, and a DUMP_COMPLETED-style event. Requests are checked in
 * QEMU's order and refused with QEMU's texts (DumpError.qemuMessage); then the source is held
 * (no guest code runs), the guest note is read, and the chosen format is streamed to the sink.
 */

import { DumpError } from '../core/errors.js';
import { guestNoteFromBytes, readGuestNote, type GuestNoteResult } from '../devices/vmcoreinfo-note.js';
import { DumpContext, type ZeroTest } from './context.js';
import { elfHeaderBytes, writeElf } from './elf/write.js';
import { EM_X86_64, elfClassFor, filterBlocks, layoutElf, type Filter } from './elf/layout.js';
import type { CodecName, PageCodec } from './kdump/codecs/codec.js';
import { inlineCompressor, type PageCompressor } from './kdump/compressor.js';
import { lzoCodec } from './kdump/codecs/lzo.js';
import { snappyCodec } from './kdump/codecs/snappy.js';
import { zlibCodec } from './kdump/codecs/zlib.js';
import { createZstdCodec } from './kdump/codecs/zstd.js';
import { layoutKdump } from './kdump/layout.js';
import { dumpablePfns, maxMapnr } from './kdump/pages.js';
import { DEFAULT_CACHE_BYTES, QEMU_CACHE_BYTES, writeKdump } from './kdump/write.js';
import { blockMappings, filterMappings } from './mapping.js';
import { pagingMappings } from './paging-mappings.js';
import { buildNotes, type DumpFlavour, type DumpNotes } from './notes.js';
import type { ByteSink } from './sink.js';
import type { DumpSource } from './source.js';
import { prepareWinDump } from './windows/prepare.js';
import { writeWinDump } from './windows/write.js';

/** Every format, in the order capabilities list them (QEMU's, with zstd after snappy, win-dmp last). */
export const DUMP_FORMATS = [
  'elf',
  'kdump-zlib', 'kdump-raw-zlib',
  'kdump-lzo', 'kdump-raw-lzo',
  'kdump-snappy', 'kdump-raw-snappy',
  'kdump-zstd', 'kdump-raw-zstd',
  'win-dmp',
] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

/** The synchronous codecs every runtime has; zstd loads asynchronously (createDumpEngine). */
export const BUILTIN_CODECS: Readonly<Partial<Record<CodecName, PageCodec>>> = { zlib: zlibCodec, lzo: lzoCodec, snappy: snappyCodec };

export interface DumpOptions {
  readonly sink: ByteSink;
  /** Default 'elf'. */
  readonly format?: DumpFormat | undefined;
  /** Walk page tables for virtual mappings (ELF only). */
  readonly paging?: boolean | undefined;
  /** Physical filter start; needs `length`. ELF only. */
  readonly begin?: number | undefined;
  readonly length?: number | undefined;
  /** 'qemu-7.2' writes QEMU 7.2's exact bytes, quirks included. */
  readonly compat?: 'qemu-7.2' | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((status: DumpStatus) => void) | undefined;
  /** Each warning, in QEMU's words (e.g. "guest note is not present"). */
  readonly onWarning?: ((text: string) => void) | undefined;
  /** A faster all-zero page test (the Node entry passes one built on Buffer.compare). */
  readonly isZero?: ZeroTest | undefined;
}

export interface DumpEngineOptions {
  /** Page codecs by name, added to (or replacing) the built-in ones. */
  readonly codecs?: Readonly<Partial<Record<CodecName, PageCodec>>>;
  /** How pages of a codec are compressed (e.g. a worker pool); in the calling thread by default. */
  readonly compressorFor?: (codec: PageCodec) => PageCompressor;
}

export interface DumpStatus {
  readonly status: 'none' | 'active' | 'completed' | 'failed';
  /** Guest memory bytes written so far (headers and notes not counted, as in QEMU). */
  readonly completed: number;
  readonly total: number;
}

export interface DumpCompleted {
  readonly result: DumpStatus;
  readonly error?: string;
}

export interface DumpResult {
  readonly format: DumpFormat;
  readonly status: DumpStatus;
  readonly warnings: readonly string[];
  /** File size as written. */
  readonly bytesWritten: number;
}

export class DumpEngine {
  #status: DumpStatus = { status: 'none', completed: 0, total: 0 };
  readonly #listeners = new Set<(event: DumpCompleted) => void>();
  readonly #codecs: Readonly<Partial<Record<CodecName, PageCodec>>>;
  readonly #compressorFor: (codec: PageCodec) => PageCompressor;

  constructor(options: DumpEngineOptions = {}) {
    this.#codecs = { ...BUILTIN_CODECS, ...options.codecs };
    this.#compressorFor = options.compressorFor ?? inlineCompressor;
  }

  /** Like query-dump. */
  queryDump(): DumpStatus {
    return this.#status;
  }

  /** The codec a format needs, if this engine has it. */
  codecFor(format: KdumpFormat): PageCodec | undefined {
    return this.#codecs[codecOf(format)];
  }

  /** Like query-dump-guest-memory-capability. */
  queryCapabilities(): { formats: DumpFormat[] } {
    return { formats: DUMP_FORMATS.filter((f) => !isKdump(f) || this.#codecs[codecOf(f)] !== undefined) };
  }

  /** Like the DUMP_COMPLETED event; returns the unsubscribe function. */
  onCompleted(listener: (event: DumpCompleted) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Dumps `source` to `options.sink`.
   * @throws DumpError: 'dump-in-progress', 'invalid-argument', 'unsupported-format',
   *   'no-guest-memory' before anything is written; 'sink-failed', 'aborted' during writing (the
   *   sink's abort() has been called then).
   */
  async dump(source: DumpSource, options: DumpOptions): Promise<DumpResult> {
    const format = validateRequest(this, options);
    const codec = isKdump(format) ? this.#codecs[codecOf(format)] : undefined;
    const filter = validateFilter(source, options);
    const flavour: DumpFlavour = options.compat === 'qemu-7.2' ? 'qemu-7.2' : 'default';
    const release = source.hold?.();
    const warnings: string[] = [];
    const ctx = new DumpContext(options.sink, {
      signal: options.signal,
      isZero: options.isZero,
      onProgress: (completed) => {
        this.#status = { ...this.#status, completed };
        options.onProgress?.(this.#status);
      },
    });
    try {
      const { elfClass, machine } = elfClassFor(source.cpus, source.blocks);
      const note = loadGuestNote(source, machine === EM_X86_64 ? 'x86_64' : 'i386', options.compat);
      for (const w of note.warnings) {
        warnings.push(w);
        options.onWarning?.(w);
      }
      const notes = buildNotes(source.cpus, machine, note.note, flavour);
      const filtered = filterBlocks(source.blocks, filter);
      const total = filtered.reduce((n, b) => n + b.sizeBytes, 0);
      this.#status = { status: 'active', completed: 0, total };
      if (format === 'win-dmp') {
        const plan = prepareWinDump(source, note.note?.bytes, flavour, (w) => {
          warnings.push(w);
          options.onWarning?.(w);
        });
        // As QEMU: from here query-dump's total is the header's RequiredDumpSpace.
        this.#status = { status: 'active', completed: 0, total: Number(plan.requiredDumpSpace) };
        await writeWinDump(source, plan, ctx);
      } else if (codec === undefined) {
        const mappings = filterMappings(options.paging === true ? pagingMappings(source) : blockMappings(source.blocks), filter);
        const layout = layoutElf(source.cpus, source.blocks, filtered, mappings, notes.bytes.length, flavour === 'default');
        await writeElf(layout, elfHeaderBytes(layout, notes.bytes, flavour === 'qemu-7.2'), ctx);
      } else {
        await writeKdumpFormat(source, notes, note, elfClass, this.#compressorFor(codec), { flattened: !format.startsWith('kdump-raw-'), flavour }, ctx);
      }
      await closeSink(options.sink);
      this.#finish({ status: 'completed', completed: ctx.completed, total: this.#status.total });
      return { format, status: this.#status, warnings, bytesWritten: ctx.extent };
    } catch (error) {
      await abortSink(options.sink, error);
      this.#finish({ status: 'failed', completed: ctx.completed, total: this.#status.total }, error);
      throw error;
    } finally {
      release?.();
    }
  }

  #finish(status: DumpStatus, error?: unknown): void {
    this.#status = status;
    const event: DumpCompleted = error === undefined ? { result: status } : { result: status, error: describe(error) };
    for (const listener of this.#listeners) listener(event);
  }
}

/** An engine with every codec, zstd's WebAssembly module included. */
export async function createDumpEngine(options: DumpEngineOptions = {}): Promise<DumpEngine> {
  return new DumpEngine({ ...options, codecs: { zstd: await createZstdCodec(), ...options.codecs } });
}

/** One dump with a fresh engine. */
export function dumpGuestMemory(source: DumpSource, options: DumpOptions): Promise<DumpResult> {
  return new DumpEngine().dump(source, options);
}

export type KdumpFormat = Exclude<DumpFormat, 'elf' | 'win-dmp'>;

function isKdump(format: DumpFormat): format is KdumpFormat {
  return format.startsWith('kdump-');
}

function codecOf(format: KdumpFormat): CodecName {
  return format.slice(format.lastIndexOf('-') + 1) as CodecName;
}

async function writeKdumpFormat(
  source: DumpSource,
  notes: DumpNotes,
  note: GuestNoteResult,
  elfClass: 32 | 64,
  compressor: PageCompressor,
  how: { flattened: boolean; flavour: DumpFlavour },
  ctx: DumpContext,
): Promise<void> {
  const pfns = dumpablePfns(source.blocks);
  const dumpable = pfns.reduce((n, r) => n + r.end - r.first, 0);
  const layout = layoutKdump(elfClass, notes.bytes.length, maxMapnr(source.blocks), dumpable);
  // offset_vmcoreinfo points at the guest note's text, only for a note named VMCOREINFO.
  const guest = note.note;
  const vmcoreinfo = guest?.isVmcoreinfo === true && notes.guestNoteOffset !== undefined
    ? { vmcoreinfoOffset: layout.noteOffset + notes.guestNoteOffset + guest.descOffset, vmcoreinfoSize: guest.descSize }
    : { vmcoreinfoOffset: 0, vmcoreinfoSize: 0 };
  await writeKdump(source, {
    layout,
    pfns,
    notes: notes.bytes,
    compressor,
    flattened: how.flattened,
    // QEMU runs the codec on every non-zero page; the default flavour skips slow codecs on random-looking ones.
    storeIncompressible: how.flavour === 'default' && compressor.codec.slowToFail === true,
    // QEMU's 16 KiB pieces shape its flattened records, so the compat flavour keeps them.
    cacheBytes: how.flavour === 'default' ? DEFAULT_CACHE_BYTES : QEMU_CACHE_BYTES,
    subHeader: { physBase: note.physBase ?? 0n, ...vmcoreinfo },
  }, ctx);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}

function refuse(code: 'dump-in-progress' | 'invalid-argument' | 'unsupported-format' | 'no-guest-memory', qemuMessage: string): DumpError {
  return new DumpError(code, qemuMessage, { qemuMessage });
}

/**
 * qmp_dump_guest_memory's checks before any output is opened, in QEMU 7.2's order and words.
 * @throws DumpError 'dump-in-progress' | 'invalid-argument' | 'unsupported-format'
 */
export function validateRequest(engine: DumpEngine, options: Omit<DumpOptions, 'sink'>): DumpFormat {
  if (engine.queryDump().status === 'active') throw refuse('dump-in-progress', 'There is a dump in process, please wait.');
  const format = validateFormat(options);
  if (isKdump(format) && engine.codecFor(format) === undefined) throw refuse('unsupported-format', `${format} is not available now`);
  return format;
}

function validateFormat(options: Omit<DumpOptions, 'sink'>): DumpFormat {
  // Checked at run time: JavaScript callers and the QMP entry pass plain strings.
  const format: string = options.format ?? 'elf';
  if (!isDumpFormat(format)) {
    throw refuse('unsupported-format', `Invalid parameter 'format'`);
  }
  if (format !== 'elf' && (options.paging === true || options.begin !== undefined || options.length !== undefined)) {
    throw refuse('invalid-argument', "kdump-compressed format doesn't support paging or filter");
  }
  if (options.begin !== undefined && options.length === undefined) throw refuse('invalid-argument', "Parameter 'length' is missing");
  if (options.length !== undefined && options.begin === undefined) throw refuse('invalid-argument', "Parameter 'begin' is missing");
  return format;
}

function isDumpFormat(format: string): format is DumpFormat {
  return (DUMP_FORMATS as readonly string[]).includes(format);
}

/** dump_init's filter checks, in QEMU 7.2's order and words. */
function validateFilter(source: DumpSource, options: Omit<DumpOptions, 'sink'>): Filter | undefined {
  const { begin, length } = options;
  if (begin === undefined || length === undefined) {
    if (source.blocks.every((b) => b.sizeBytes === 0)) throw refuse('no-guest-memory', 'dump: no guest memory to dump');
    return undefined;
  }
  if (!Number.isInteger(begin) || !Number.isInteger(length)) throw refuse('invalid-argument', "Invalid parameter 'begin'");
  if (length === 0) throw refuse('invalid-argument', "Invalid parameter 'length'");
  if (begin < 0) throw refuse('invalid-argument', "Invalid parameter 'begin'");
  // QEMU adds the int64 begin and length and compares the sum with uint64 block addresses: a
  // negative sum wraps to the top of the address space and the filter keeps everything from
  // begin up (begin 0, length -1 is a whole dump); a non-negative sum below begin keeps nothing.
  const end = begin + length;
  const everythingFromBegin = end < 0 || end > Number.MAX_SAFE_INTEGER;
  const filter = { begin, length: everythingFromBegin ? Number.MAX_SAFE_INTEGER - begin : length };
  if (end < begin && end >= 0) throw refuse('no-guest-memory', 'dump: no guest memory to dump');
  if (filterBlocks(source.blocks, filter).length === 0) throw refuse('no-guest-memory', 'dump: no guest memory to dump');
  return filter;
}

function loadGuestNote(source: DumpSource, machine: 'x86_64' | 'i386', compat: 'qemu-7.2' | undefined): GuestNoteResult {
  const input = source.guestNote;
  if (input === undefined) return { note: undefined, physBase: undefined, warnings: [] };
  const options = { machine, compat };
  return input.kind === 'note'
    ? guestNoteFromBytes(input.bytes, options)
    : readGuestNote({ dmaRead: (gpa, dst) => source.readPhysical(gpa, dst) }, input.record, options);
}

async function closeSink(sink: ByteSink): Promise<void> {
  try {
    await sink.close?.();
  } catch (cause) {
    throw new DumpError('sink-failed', `dump output could not be completed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

async function abortSink(sink: ByteSink, reason: unknown): Promise<void> {
  try {
    await sink.abort?.(reason);
  } catch {
    // The dump already failed; the original error is the one to report.
  }
}
