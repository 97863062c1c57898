/**
 * A PageCompressor that spreads each batch of kdump pages over worker_threads. A batch is cut into
 * one contiguous slice per worker; each slice is copied into that worker's transferable buffer,
 * compressed there with the same codec (looked up by name, see worker-codecs.ts) and comes back
 * in the same buffer, which is kept for the next batch; results are put back in page order.
 * Codecs the workers do not know are compressed in the calling thread. Workers start on the first
 * batch, so an ELF dump never starts any; close() terminates them.
 */

import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DumpError } from '../core/errors.js';
import type { PageCodec } from '../dump/kdump/codecs/codec.js';
import { inlineCompressor, type PageCompressor } from '../dump/kdump/compressor.js';
import { PAGE_SIZE } from '../dump/kdump/pages.js';
import { workerCodecName } from './worker-codecs.js';
import type { CompressReply, CompressRequest } from './worker-protocol.js';

export interface WorkerPoolOptions {
  /** Worker threads, at least 1. */
  readonly workers: number;
  /**
   * The worker script. By default compress-worker.js next to this module (dist/node/ in the
   * package); when running from TypeScript sources (vitest), a bundle built with esbuild on first
   * use. A bundler that moves this module elsewhere must copy the script and pass its URL.
   */
  readonly workerUrl?: URL | string | undefined;
}

/** Slices smaller than this are not worth a worker round trip. */
const MIN_SLICE_PAGES = 16;

type Blocks = (Uint8Array | undefined)[];

let liveWorkers = 0;

export class CompressWorkerPool {
  /** Worker threads alive in this process, across pools (leak checks, diagnostics). */
  static get liveWorkers(): number {
    return liveWorkers;
  }

  readonly size: number;
  readonly #workerUrl: URL | string | undefined;
  #workers: Promise<PoolWorker[]> | undefined;
  #closed = false;
  #nextId = 0;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`worker count must be a positive integer, not ${options.workers}`);
    this.size = options.workers;
    this.#workerUrl = options.workerUrl;
  }

  /** A compressor for `codec`: the pool's workers if they know it, else the calling thread. */
  compressorFor(codec: PageCodec): PageCompressor {
    const name = workerCodecName(codec);
    if (name === undefined) return inlineCompressor(codec);
    const inline = inlineCompressor(codec);
    return {
      codec,
      compressBatch: (pages) => (pages.every((p) => p.length === PAGE_SIZE) ? this.#compress(name, pages) : inline.compressBatch(pages)),
    };
  }

  /** Terminates the workers; batches still running reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const workers = await this.#workers?.catch(() => []);
    await Promise.all((workers ?? []).map((w) => w.terminate()));
  }

  async #compress(codec: string, pages: readonly Uint8Array[]): Promise<Blocks> {
    if (this.#closed) throw new Error('compression worker pool is closed');
    this.#workers ??= startWorkers(this.size, this.#workerUrl);
    const workers = await this.#workers;
    const slices = Math.max(1, Math.min(workers.length, Math.floor(pages.length / MIN_SLICE_PAGES)));
    const results: Blocks = new Array<Uint8Array | undefined>(pages.length);
    const jobs: Promise<void>[] = [];
    for (let s = 0; s < slices; s++) {
      const first = Math.floor((s * pages.length) / slices);
      const end = Math.floor(((s + 1) * pages.length) / slices);
      const worker = workers[s];
      if (worker === undefined) break;
      jobs.push(this.#compressSlice(worker, codec, pages, first, end, results));
    }
    try {
      await Promise.all(jobs);
    } catch (cause) {
      // The architecture's "codec fails" case: an environment failure, reported like a sink's.
      throw new DumpError('sink-failed', `page compression failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    return results;
  }

  async #compressSlice(worker: PoolWorker, codec: string, pages: readonly Uint8Array[], first: number, end: number, results: Blocks): Promise<void> {
    const pageCount = end - first;
    const buffer = worker.takeBuffer(pageCount * PAGE_SIZE);
    const view = new Uint8Array(buffer);
    for (let i = 0; i < pageCount; i++) view.set(pages[first + i] ?? [], i * PAGE_SIZE);
    const reply = await worker.run({ id: this.#nextId++, codec, pageCount, buffer });
    const packed = new Uint8Array(reply.buffer);
    let at = 0;
    for (let i = 0; i < pageCount; i++) {
      const size = reply.sizes[i] ?? -1;
      // Copies, as the inline compressor makes: a result stays valid after the next batch.
      results[first + i] = size < 0 ? undefined : packed.slice(at, at + size);
      if (size > 0) at += size;
    }
    worker.giveBuffer(reply.buffer);
  }
}

interface Pending {
  resolve(reply: { buffer: ArrayBuffer; sizes: Int32Array<ArrayBuffer> }): void;
  reject(error: Error): void;
}

/** One worker thread, referenced only while it has work so an idle pool never holds the process. */
class PoolWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #buffer: ArrayBuffer | undefined;
  #failure: Error | undefined;
  #exited = false;

  constructor(url: URL | string) {
    this.#worker = new Worker(url);
    liveWorkers++;
    this.#worker.unref();
    this.#worker.on('message', (reply: CompressReply) => {
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#settled(reply.id);
      if ('error' in reply) pending.reject(new Error(`compression worker: ${reply.error}`));
      else pending.resolve(reply);
    });
    this.#worker.on('error', (error) => {
      this.#failAll(error);
    });
    this.#worker.on('exit', (code) => {
      this.#markExited();
      this.#failAll(new Error(`compression worker exited (code ${code})`));
    });
  }

  takeBuffer(bytes: number): ArrayBuffer {
    const buffer = this.#buffer;
    this.#buffer = undefined;
    return buffer !== undefined && buffer.byteLength >= bytes ? buffer : new ArrayBuffer(bytes);
  }

  giveBuffer(buffer: ArrayBuffer): void {
    this.#buffer = buffer;
  }

  run(request: CompressRequest): Promise<{ buffer: ArrayBuffer; sizes: Int32Array<ArrayBuffer> }> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolvePromise, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(request.id, { resolve: resolvePromise, reject });
      this.#worker.postMessage(request, [request.buffer]);
    });
  }

  async terminate(): Promise<void> {
    this.#failAll(new Error('compression worker pool is closed'));
    await this.#worker.terminate();
    this.#markExited();
  }

  #markExited(): void {
    if (this.#exited) return;
    this.#exited = true;
    liveWorkers--;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
  }

  #failAll(error: Error): void {
    this.#failure ??= error;
    for (const [id, pending] of this.#pending) {
      this.#settled(id);
      pending.reject(error);
    }
  }
}

async function startWorkers(count: number, workerUrl: URL | string | undefined): Promise<PoolWorker[]> {
  const url = workerUrl ?? (await defaultWorkerUrl());
  return Array.from({ length: count }, () => new PoolWorker(url));
}

let sourceBuild: Promise<URL> | undefined;

/** compress-worker.js beside this module (or in dist/node/ for other bundles of the dist tree). */
async function defaultWorkerUrl(): Promise<URL> {
  if (import.meta.url.endsWith('.ts')) {
    sourceBuild ??= buildWorkerFromSources();
    return sourceBuild;
  }
  for (const candidate of ['./compress-worker.js', '../node/compress-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return url;
  }
  throw new Error(`compress-worker.js not found beside ${import.meta.url}; pass workerUrl`);
}

/**
 * Running from TypeScript sources (vitest), where no built worker exists and Node 20 cannot load
 * .ts in a worker: bundle compress-worker.ts with esbuild (a devDependency) into
 * node_modules/.cache/slice86, written under a temporary name and renamed, as parallel test files
 * may build at once.
 */
async function buildWorkerFromSources(): Promise<URL> {
  const { build } = await import('esbuild');
  const entry = fileURLToPath(new URL('./compress-worker.ts', import.meta.url));
  const cache = join(resolve(dirname(entry), '../..'), 'node_modules', '.cache', 'slice86');
  const result = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'es2022', packages: 'external', write: false, logLevel: 'silent' });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error('esbuild produced no compress-worker bundle');
  await mkdir(cache, { recursive: true });
  const out = join(cache, 'compress-worker.mjs');
  const temp = `${out}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, code);
  await rename(temp, out);
  return pathToFileURL(out);
}
