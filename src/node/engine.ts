/**
 * The Node dump engine: the portable DumpEngine with Node's fast paths plugged in. Zero pages are
 * found with Buffer#compare; kdump pages are compressed by the native addon a run at a time
 * when it was built (native-codecs.ts: libdeflate, C LZO1X-1, libsnappy, libzstd), on its own
 * threads (two by default where there are two CPUs), otherwise zlib pages go through node:zlib;
 * the 'qemu-7.2' flavour always runs zlib through the pinned pako codec, whose bytes match
 * QEMU's. kdump pages can also be compressed on JavaScript worker threads (off by default: on
 * this project's 2-vCPU VM a pool was not faster, see bench/dump.bench.ts). The pool lives for
 * one dump and is terminated when it ends or fails. Status, capabilities and DUMP_COMPLETED
 * events are the inner engine's.
 */

import { availableParallelism } from 'node:os';
import { DumpError } from '../core/errors.js';
import type { CodecName, PageCodec } from '../dump/kdump/codecs/codec.js';
import { zlibCodec } from '../dump/kdump/codecs/zlib.js';
import { createZstdCodec } from '../dump/kdump/codecs/zstd.js';
import { inlineCompressor, type PageCompressor } from '../dump/kdump/compressor.js';
import { DumpEngine, type DumpCompleted, type DumpFormat, type DumpOptions, type DumpResult, type DumpStatus, type KdumpFormat } from '../dump/engine.js';
import type { DumpSource } from '../dump/source.js';
import { createFileSink, type FileSinkOptions } from './file-sink.js';
import { checkNativeThreads, isNativeCodec, nativeCodecs, nativeCompressor } from './native-codecs.js';
import { CompressWorkerPool } from './worker-pool.js';
import { isZeroPage } from './zero.js';
import { nodeZlibCodec } from './zlib-codec.js';

export interface NodeDumpEngineOptions {
  /**
   * Worker threads compressing kdump pages: a count, or 'auto' for one per available CPU.
   * Default 0: the calling thread compresses, which was as fast as any pool on a 2-vCPU VM.
   */
  readonly workers?: number | 'auto' | undefined;
  /** The compression worker script, for bundles that move this module (see WorkerPoolOptions). */
  readonly workerUrl?: URL | string | undefined;
  /** Page codecs by name, added to (or replacing) the native, node:zlib and built-in ones. */
  readonly codecs?: Readonly<Partial<Record<CodecName, PageCodec>>> | undefined;
  /**
   * Use the native addon's codecs when it was built (default true); false keeps node:zlib and the
   * portable codecs. SLICE86_NATIVE=0 in the environment switches the addon off for every engine.
   */
  readonly native?: boolean | undefined;
  /**
   * Threads the native addon compresses each run of kdump pages on, the calling thread included
   * (1 to 4). Default: 2 where os.availableParallelism() reports two or more CPUs, else 1. The
   * file is the same whatever the count; the helper threads run only while a run compresses.
   */
  readonly nativeThreads?: number | undefined;
}

export class NodeDumpEngine {
  readonly #engine: DumpEngine;
  readonly #workers: number;
  readonly #workerUrl: URL | string | undefined;
  readonly #nativeThreads: number;
  #active = false;
  #qemuFlavour = false;
  /** The dump uses isZeroPage (the caller gave no isZero), which the native compressor may run itself. */
  #ownZeroTest = true;
  #pool: CompressWorkerPool | undefined;

  constructor(options: NodeDumpEngineOptions = {}) {
    this.#workers = workerCount(options.workers);
    this.#workerUrl = options.workerUrl;
    this.#nativeThreads = nativeThreadCount(options.nativeThreads);
    this.#engine = new DumpEngine({
      codecs: { zlib: nodeZlibCodec, ...(options.native === false ? {} : nativeCodecs()), ...options.codecs },
      compressorFor: (codec) => this.#compressorFor(codec),
    });
  }

  /** Worker threads each kdump dump uses (0: the calling thread compresses). */
  get workers(): number {
    return this.#workers;
  }

  /** Threads the native addon compresses each run of kdump pages on (when no worker pool is used). */
  get nativeThreads(): number {
    return this.#nativeThreads;
  }

  /** Like query-dump. */
  queryDump(): DumpStatus {
    return this.#engine.queryDump();
  }

  /**
   * The codec a kdump format compresses with in the default flavour (a NativePageCodec when the
   * addon runs it; the 'qemu-7.2' flavour runs zlib through pako whatever this says).
   */
  codecFor(format: KdumpFormat): PageCodec | undefined {
    return this.#engine.codecFor(format);
  }

  /** Like query-dump-guest-memory-capability. */
  queryCapabilities(): { formats: DumpFormat[] } {
    return this.#engine.queryCapabilities();
  }

  /** Like the DUMP_COMPLETED event; returns the unsubscribe function. */
  onCompleted(listener: (event: DumpCompleted) => void): () => void {
    return this.#engine.onCompleted(listener);
  }

  /**
   * DumpEngine.dump with the Node fast paths; `options.isZero` defaults to isZeroPage.
   * @throws DumpError as DumpEngine.dump does.
   */
  async dump(source: DumpSource, options: DumpOptions): Promise<DumpResult> {
    if (this.#active) throw new DumpError('dump-in-progress', 'There is a dump in process, please wait.', { qemuMessage: 'There is a dump in process, please wait.' });
    this.#active = true;
    this.#qemuFlavour = options.compat === 'qemu-7.2';
    this.#ownZeroTest = options.isZero === undefined;
    const pool = this.#workers > 0 ? new CompressWorkerPool({ workers: this.#workers, workerUrl: this.#workerUrl }) : undefined;
    this.#pool = pool;
    try {
      return await this.#engine.dump(source, { ...options, isZero: options.isZero ?? isZeroPage });
    } finally {
      this.#pool = undefined;
      this.#active = false;
      await pool?.close();
    }
  }

  #compressorFor(codec: PageCodec): PageCompressor {
    // node:zlib's and libdeflate's bytes differ from the zlib QEMU 7.2 links; the compat flavour keeps pako's.
    const effective = this.#qemuFlavour && (codec === nodeZlibCodec || codec === nativeCodecs().zlib) ? zlibCodec : codec;
    if (this.#pool !== undefined) return this.#pool.compressorFor(effective);
    // QEMU runs the codec on every page; the default flavour lets the addon skip random-looking ones.
    return isNativeCodec(effective) ? nativeCompressor(effective, { skipIncompressible: !this.#qemuFlavour, findZeroPages: this.#ownZeroTest, threads: this.#nativeThreads }) : inlineCompressor(effective);
  }
}

/**
 * A Node engine with every codec, zstd's WebAssembly module included (as createDumpEngine; the
 * constructor alone has the synchronous codecs).
 * @throws RangeError for a worker count that is not a non-negative integer or 'auto'.
 */
export async function createNodeDumpEngine(options: NodeDumpEngineOptions = {}): Promise<NodeDumpEngine> {
  workerCount(options.workers);
  // The WebAssembly zstd only where the addon has no zstd of its own to offer.
  const zstd = options.native !== false && nativeCodecs().zstd !== undefined ? {} : { zstd: await createZstdCodec() };
  return new NodeDumpEngine({ ...options, codecs: { ...zstd, ...options.codecs } });
}

function workerCount(workers: number | 'auto' | undefined): number {
  if (workers === undefined) return 0;
  if (workers === 'auto') return availableParallelism();
  if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`workers must be a non-negative integer or 'auto', not ${workers}`);
  return workers;
}

/** Two threads where there are two CPUs: the measured gain (npm run bench) needs no more. */
function nativeThreadCount(threads: number | undefined): number {
  return threads === undefined ? Math.min(2, availableParallelism()) : checkNativeThreads(threads);
}

export interface DumpToFileOptions extends Omit<DumpOptions, 'sink'> {
  /** How the file is written (mode, fsync ...). */
  readonly file?: FileSinkOptions | undefined;
  /** The engine to use (its status and events then show this dump); a fresh one by default. */
  readonly engine?: NodeDumpEngine | undefined;
  /** Worker threads for a fresh engine (ignored with `engine`). */
  readonly workers?: number | 'auto' | undefined;
}

/**
 * Dumps `source` to the file `path`, replaced atomically when the dump completes; a failed or
 * cancelled dump leaves no file (and an existing file at `path` untouched).
 * @throws DumpError as DumpEngine.dump does; file errors are 'sink-failed'.
 */
export async function dumpToFile(source: DumpSource, path: string, options: DumpToFileOptions = {}): Promise<DumpResult> {
  const { file, engine, workers, ...dumpOptions } = options;
  const sink = createFileSink(path, file);
  return (engine ?? (await createNodeDumpEngine({ workers }))).dump(source, { ...dumpOptions, sink });
}
