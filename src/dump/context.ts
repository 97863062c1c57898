/**
 * The running dump's plumbing, shared by every format writer: the sink, cancellation, progress,
 * and zero-page detection. Writers call only this, so sink errors and aborts are handled once.
 */

import { DumpError } from '../core/errors.js';
import type { ByteSink } from './sink.js';

const PAGE_BYTES = 4096;
/** Holes shorter than this save little on a disk file system and cost a write call each. */
const DEFAULT_HOLE_BYTES = 64 * 1024;

export type ZeroTest = (bytes: Uint8Array) => boolean;

/** Portable all-zero test, four bytes at a time where the view is aligned. */
export function isZeroBytes(bytes: Uint8Array): boolean {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes.length - (bytes.length % 4) : 0;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, aligned / 4);
  for (const word of words) if (word !== 0) return false;
  for (let i = aligned; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export class DumpContext {
  readonly #sink: ByteSink;
  readonly #signal: AbortSignal | undefined;
  readonly #onProgress: ((completed: number) => void) | undefined;
  readonly isZero: ZeroTest;
  /** True when the sink can make holes for zero runs. */
  readonly sparse: boolean;
  /** The shortest zero run the sink wants as a hole (ByteSink.holeBytes), whole pages. */
  readonly holeBytes: number;
  /** True when the sink takes positioned writes. */
  readonly seekable: boolean;
  completed = 0;
  /** Sequential bytes written so far. */
  position = 0;
  /** End of the furthest byte written, positioned writes included: the output's size. */
  extent = 0;

  constructor(sink: ByteSink, options: { signal?: AbortSignal | undefined; onProgress?: ((completed: number) => void) | undefined; isZero?: ZeroTest | undefined }) {
    this.#sink = sink;
    this.#signal = options.signal;
    this.#onProgress = options.onProgress;
    this.isZero = options.isZero ?? isZeroBytes;
    this.sparse = sink.writeZeros !== undefined;
    this.holeBytes = Math.max(PAGE_BYTES, Math.ceil((sink.holeBytes ?? DEFAULT_HOLE_BYTES) / PAGE_BYTES) * PAGE_BYTES);
    this.seekable = sink.writeAt !== undefined;
  }

  checkAborted(): void {
    if (this.#signal?.aborted === true) {
      throw new DumpError('aborted', 'dump cancelled', { cause: this.#signal.reason });
    }
  }

  progress(bytes: number): void {
    this.completed += bytes;
    this.#onProgress?.(this.completed);
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.writeNow(chunk);
  }

  async writeZeros(length: number): Promise<void> {
    await this.writeZerosNow(length);
  }

  /**
   * write() for hot loops: undefined when the sink took the bytes at once, so a writer issuing
   * one call per page run pays no promise for it; otherwise the promise to await.
   */
  writeNow(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.length === 0) return undefined;
    return this.#settle(() => this.#sink.write(chunk), chunk.length);
  }

  /**
   * Hands a chunk of guest memory to the sink's writeSparse, when it has one: true when the sink
   * wrote it (holes and all) and the position moved past it; false when the writer must split it.
   */
  writeSparseNow(chunk: Uint8Array): boolean {
    const sink = this.#sink;
    if (sink.writeSparse === undefined || chunk.length === 0) return false;
    let written: boolean;
    try {
      written = sink.writeSparse(chunk);
    } catch (cause) {
      throw this.#failure(cause);
    }
    if (written) this.#advance(chunk.length);
    return written;
  }

  /** writeZeros() as writeNow is write(). */
  writeZerosNow(length: number): Promise<void> | undefined {
    if (length === 0) return undefined;
    const sink = this.#sink;
    return this.#settle(() => (sink.writeZeros === undefined ? sink.write(new Uint8Array(length)) : sink.writeZeros(length)), length);
  }

  /** Runs a sequential sink call of `length` bytes and moves the position once it has taken them. */
  #settle(call: () => void | Promise<void>, length: number): Promise<void> | undefined {
    let pending: void | Promise<void>;
    try {
      pending = call();
    } catch (cause) {
      throw this.#failure(cause);
    }
    if (pending === undefined) {
      this.#advance(length);
      return undefined;
    }
    return pending.then(
      () => { this.#advance(length); },
      (cause: unknown) => { throw this.#failure(cause); },
    );
  }

  #advance(length: number): void {
    this.position += length;
    this.extent = Math.max(this.extent, this.position);
  }

  async writeAt(offset: number, chunk: Uint8Array): Promise<void> {
    const sink = this.#sink;
    if (sink.writeAt === undefined) throw new DumpError('not-seekable', 'this format needs a sink with positioned writes (writeAt)');
    await this.#call(() => sink.writeAt?.(offset, chunk));
    this.extent = Math.max(this.extent, offset + chunk.length);
  }

  async #call(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (cause) {
      throw this.#failure(cause);
    }
  }

  #failure(cause: unknown): DumpError {
    return new DumpError('sink-failed', `dump output failed at byte ${this.position}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
