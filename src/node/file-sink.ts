/**
 * A ByteSink that writes a dump file atomically: bytes go to `.<name>.tmp-<random>` in the target's
 * directory (created 0600, since a dump holds guest secrets), and close() renames it over the
 * target, so a reader never sees a partial dump; abort() unlinks it. Writes are gathered into
 * 1 MiB batches and written at their positions (fs.writeSync by default, or FileHandle writes
 * with one batch in flight while the next fills); zero runs become holes (ftruncate at close keeps
 * a trailing hole), and chunks of guest memory (writeSparse) go through the native addon's zero
 * test and write loop when it is built; writeAt takes the positioned pieces of raw kdump files.
 * No fsync unless asked.
 */

import { randomBytes } from 'node:crypto';
import { statfsSync, writeSync } from 'node:fs';
import { open as openFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ByteSink } from '../dump/sink.js';
import { nativeAddon, type NativeAddon } from './native-addon.js';

/** The file calls the sink makes: a FileHandle's, plus a synchronous positioned write. */
export interface SinkFileHandle {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /** fs.writeSync on the handle's fd; without it the sink writes asynchronously. */
  writeSync?(buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** The file descriptor, for the native addon's sparse writer; without it chunks are split here. */
  readonly fd?: number;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  chmod(mode: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens a file as fs.promises.open does (flags 'wx': create, fail if it exists). */
export type OpenFile = (path: string, flags: string, mode: number) => Promise<SinkFileHandle>;

export interface FileSinkOptions {
  /** Mode of the finished file (set exactly, whatever the umask); default 0o600. */
  readonly mode?: number;
  /**
   * fsync the file (and its directory, after the rename) before close() resolves. Off by default:
   * it cut sequential write speed from about 4 GB/s to 0.5-0.7 GB/s here (spec/compression.md),
   * and a dump is a diagnostic file, not a database. Without it the rename is still atomic for
   * every reader and against a crash of this process; only power loss can lose a fresh dump.
   */
  readonly fsync?: boolean;
  /** Bytes gathered per write call; default 1 MiB (as fast as 8 MiB on this machine). */
  readonly batchBytes?: number;
  /**
   * 'sync' (default) writes each full batch with fs.writeSync in the calling thread; 'async'
   * hands it to libuv's thread pool and fills the next batch meanwhile. On this project's 2-vCPU
   * VM (about one core of real capacity) 'sync' wrote a 1 GiB ELF dump at 2.3-2.6 GiB/s and
   * 'async' at 0.4-1.7 GiB/s: the two threads only compete. 'async' keeps the event loop free
   * while the kernel throttles writes (page-cache writeback), at that cost.
   */
  readonly io?: 'sync' | 'async';
  /**
   * Write guest memory chunks (writeSparse) through the native addon, zero test and write calls
   * in C, when it is built and io is 'sync' (default true; SLICE86_NATIVE=0 switches it off too).
   * The file is the same either way.
   */
  readonly native?: boolean;
  /**
   * Zero runs at least this long become holes; shorter ones are written. Default: one page on
   * tmpfs, where a hole is memory never allocated and was faster than writing the zeros (1 GiB
   * with every other page zero, positioned writes from Node: 0.27 s against 0.37 s; ELF dumps of
   * the bench's 1 GiB guest: 1.84 GiB/s against 1.64-1.68 with 16 KiB holes), and 64 KiB
   * elsewhere: on ext4 a hole per page fragmented the file and doubled the time.
   */
  readonly holeBytes?: number;
  /** Replaces fs.promises.open (tests inject failing handles). */
  readonly open?: OpenFile;
}

export interface FileSink extends ByteSink {
  /** The finished file's path. */
  readonly path: string;
  /** The temporary file the bytes go to until close(). */
  readonly tempPath: string;
  /** The shortest zero run made a hole (FileSinkOptions.holeBytes). */
  readonly holeBytes: number;
  write(chunk: Uint8Array): Promise<void> | undefined;
  writeZeros(length: number): Promise<void> | undefined;
  writeAt(offset: number, chunk: Uint8Array): Promise<void> | undefined;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

const MiB = 2 ** 20;
/** Pending batches kept open at once: raw kdump interleaves descriptor and page-data pieces. */
const MAX_OPEN_RUNS = 4;
const DEFAULT_HOLE_BYTES = 64 * 1024;
const PAGE_HOLE_BYTES = 4096;
/** statfs f_type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;

/** The default hole size for a file in `directory` (see FileSinkOptions.holeBytes). */
function defaultHoleBytes(directory: string): number {
  try {
    return statfsSync(directory).type === TMPFS_MAGIC ? PAGE_HOLE_BYTES : DEFAULT_HOLE_BYTES;
  } catch {
    // The directory's problem (missing, no access) surfaces when the file is opened.
    return DEFAULT_HOLE_BYTES;
  }
}

/**
 * Creates the sink; nothing is opened until the first byte (or close()), so a dump the engine
 * refuses leaves nothing behind. Errors (EACCES, ENOSPC ...) reject the call that meets them and
 * every later one; the dump engine reports them as DumpError 'sink-failed' and calls abort().
 */
export function createFileSink(path: string, options: FileSinkOptions = {}): FileSink {
  return new AtomicFileSink(path, options);
}

/** A batch of bytes destined for [start, start + length). */
interface Run {
  start: number;
  length: number;
  readonly buffer: Uint8Array;
}

type State = 'writing' | 'closed' | 'aborted';

class AtomicFileSink implements FileSink {
  readonly path: string;
  readonly tempPath: string;
  readonly #mode: number;
  readonly #fsync: boolean;
  readonly #batchBytes: number;
  readonly holeBytes: number;
  /** Pieces this long that start right after a hole are written straight from the caller. */
  readonly #directBytes: number;
  /** Where the last hole ended: the piece starting there continues no batch. */
  #holeEnd = -1;
  readonly #zeros: Uint8Array;
  readonly #open: OpenFile;
  readonly #syncIo: boolean;
  readonly #addon: NativeAddon | undefined;
  #state: State = 'writing';
  #handle: SinkFileHandle | undefined;
  #opening: Promise<SinkFileHandle> | undefined;
  /** Batches being filled, least recently used first. */
  #runs: Run[] = [];
  readonly #spare: Uint8Array[] = [];
  /** The one batch write in flight; it never rejects (failures land in #error). */
  #inflight: Promise<void> | undefined;
  /** The last queued operation that has not finished; later calls wait for it. */
  #tail: Promise<void> | undefined;
  #error: unknown;
  #failed = false;
  #position = 0;
  #extent = 0;

  constructor(path: string, options: FileSinkOptions) {
    this.path = path;
    this.tempPath = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
    this.#mode = options.mode ?? 0o600;
    this.#fsync = options.fsync ?? false;
    this.#batchBytes = Math.max(options.batchBytes ?? MiB, 4096);
    this.holeBytes = Math.max(options.holeBytes ?? defaultHoleBytes(dirname(path)), 1);
    this.#directBytes = Math.min(this.#batchBytes / 2, Math.max(this.holeBytes, PAGE_HOLE_BYTES));
    this.#zeros = new Uint8Array(Math.min(this.holeBytes, this.#batchBytes));
    this.#open = options.open ?? openWithSyncWrites;
    this.#syncIo = (options.io ?? 'sync') === 'sync';
    this.#addon = options.native === false || !this.#syncIo ? undefined : nativeAddon();
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    const offset = this.#position;
    this.#position += chunk.length;
    return this.#enqueue(() => this.#put(offset, chunk));
  }

  writeZeros(length: number): Promise<void> | undefined {
    const offset = this.#position;
    this.#position += length;
    return this.#enqueue(() => {
      this.#extent = Math.max(this.#extent, offset + length);
      // A short zero run next to pending bytes is cheaper written than split into two writes.
      if (length >= this.holeBytes || length > this.#zeros.length || !this.#runs.some((r) => r.start + r.length === offset)) {
        this.#holeEnd = offset + length;
        return undefined;
      }
      return this.#put(offset, this.#zeros.subarray(0, length));
    });
  }

  /**
   * A chunk of guest memory in one native call (sparse-write.c): zero runs of holeBytes or more
   * become holes, the rest goes out in positioned writes straight from the chunk. Only when
   * nothing is pending before it or over its bytes; false sends the writer the JavaScript way.
   */
  writeSparse(chunk: Uint8Array): boolean {
    const fd = this.#handle?.fd;
    const offset = this.#position;
    if (this.#addon === undefined || fd === undefined || this.#tail !== undefined || this.#inflight !== undefined || this.#unusable() !== undefined) return false;
    if (this.#overlapping(offset, chunk.length).length > 0) return false;
    try {
      this.#addon.writeSparse(fd, chunk, offset, this.holeBytes);
    } catch (error) {
      this.#fail(error);
    }
    this.#position += chunk.length;
    this.#extent = Math.max(this.#extent, offset + chunk.length);
    this.#holeEnd = offset + chunk.length;
    return true;
  }

  writeAt(offset: number, chunk: Uint8Array): Promise<void> | undefined {
    return this.#enqueue(() => this.#put(offset, chunk));
  }

  close(): Promise<void> {
    const previous = this.#tail;
    const finish = async (): Promise<void> => {
      await previous?.catch(() => undefined);
      if (this.#state !== 'writing') throw new Error(`file sink for ${this.path} is already ${this.#state}`);
      try {
        this.#throwIfFailed();
        await this.#finish();
      } catch (error) {
        // A sink that cannot complete leaves nothing behind, even if nobody calls abort().
        this.#state = 'aborted';
        await this.#inflight;
        await this.#discard();
        throw error;
      }
    };
    return this.#track(finish());
  }

  /** Discards the temporary file; nothing to do once close() has completed the file. */
  async abort(): Promise<void> {
    if (this.#state !== 'writing') return;
    this.#state = 'aborted';
    await this.#tail?.catch(() => undefined);
    await this.#inflight;
    await this.#discard();
  }

  /** Runs `op` after earlier calls finish; synchronously when nothing is pending. */
  #enqueue(op: () => Promise<void> | undefined): Promise<void> | undefined {
    if (this.#tail !== undefined) return this.#track(this.#tail.then(() => this.#guard(op)));
    return this.#guard(op);
  }

  #guard(op: () => Promise<void> | undefined): Promise<void> | undefined {
    const unusable = this.#unusable();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the file system's own error, passed on as is
    if (unusable !== undefined) return Promise.reject(unusable.error);
    const result = op();
    return result === undefined ? undefined : this.#track(result.catch((error: unknown) => this.#fail(error)));
  }

  #track(promise: Promise<void>): Promise<void> {
    const tracked: Promise<void> = promise.finally(() => {
      if (this.#tail === tracked) this.#tail = undefined;
    });
    this.#tail = tracked;
    return tracked;
  }

  #fail(error: unknown): never {
    if (!this.#failed) {
      this.#failed = true;
      this.#error = error;
    }
    throw this.#error;
  }

  #unusable(): { error: unknown } | undefined {
    if (this.#failed) return { error: this.#error };
    return this.#state === 'writing' ? undefined : { error: new Error(`file sink for ${this.path} is already ${this.#state}`) };
  }

  /** Copies `bytes` into a batch ending at `offset`, or starts the slow path. */
  #put(offset: number, bytes: Uint8Array): Promise<void> | undefined {
    if (bytes.length === 0) return undefined;
    this.#extent = Math.max(this.#extent, offset + bytes.length);
    const run = this.#runs.find((r) => r.start + r.length === offset);
    if (run !== undefined && run.length + bytes.length < this.#batchBytes) {
      run.buffer.set(bytes, run.length);
      run.length += bytes.length;
      this.#touch(run);
      return undefined;
    }
    const direct = bytes.length >= this.#batchBytes / 2 || (offset === this.#holeEnd && bytes.length >= this.#directBytes);
    if (direct && run === undefined && this.#writeDirectNow(offset, bytes)) return undefined;
    return this.#putSlow(offset, bytes, run, direct);
  }

  /**
   * A direct write done at once when nothing stands before it (the file open, no batch write in
   * flight, no pending batch over the same bytes): pieces between holes can come a page apart,
   * and a promise each cost more than the write. False when it must take the slow path.
   */
  #writeDirectNow(offset: number, bytes: Uint8Array): boolean {
    const handle = this.#handle;
    if (handle === undefined || this.#inflight !== undefined || !this.#syncIo || handle.writeSync === undefined) return false;
    if (this.#overlapping(offset, bytes.length).length > 0) return false;
    try {
      writeFullySync(handle.writeSync.bind(handle), bytes, bytes.length, offset);
    } catch (error) {
      this.#fail(error);
    }
    return true;
  }

  async #putSlow(offset: number, bytes: Uint8Array, run: Run | undefined, direct: boolean): Promise<void> {
    let rest = bytes;
    let at = offset;
    if (direct) {
      // A large piece (a dump's memory chunk), or one right after a hole (between holes), goes
      // to the file straight from the caller's memory: the pending batch is written as it is,
      // then this piece, with no copy into a batch.
      if (run !== undefined) await this.#flushRun(run);
      for (const r of this.#overlapping(at, rest.length)) await this.#flushRun(r);
      await this.#writeNow(bytes, offset);
      return;
    }
    if (run !== undefined) {
      // Top the batch up to full size, so the file is written in whole batches.
      const room = this.#batchBytes - run.length;
      run.buffer.set(rest.subarray(0, room), run.length);
      run.length = this.#batchBytes;
      rest = rest.subarray(room);
      at += room;
      await this.#flushRun(run);
      if (rest.length === 0) return;
    }
    // Pending bytes for the same range must reach the file first, or they would overwrite these.
    for (const r of this.#overlapping(at, rest.length)) await this.#flushRun(r);
    if (rest.length >= this.#batchBytes) {
      await this.#writeNow(rest, at);
      return;
    }
    if (this.#runs.length >= MAX_OPEN_RUNS && this.#runs[0] !== undefined) await this.#flushRun(this.#runs[0]);
    const fresh: Run = { start: at, length: rest.length, buffer: this.#spare.pop() ?? new Uint8Array(this.#batchBytes) };
    fresh.buffer.set(rest);
    this.#runs.push(fresh);
  }

  /** Pending batches over any byte of [start, start + length). */
  #overlapping(start: number, length: number): Run[] {
    return this.#runs.filter((r) => r.start < start + length && start < r.start + r.length);
  }

  #touch(run: Run): void {
    if (this.#runs.at(-1) === run) return;
    this.#runs = [...this.#runs.filter((r) => r !== run), run];
  }

  /** Starts writing `run` once the previous batch write is done; returns without waiting for it. */
  async #flushRun(run: Run): Promise<void> {
    this.#runs = this.#runs.filter((r) => r !== run);
    const handle = await this.#handleReady();
    await this.#inflight;
    this.#throwIfFailed();
    const writeNow = this.#syncWrite(handle);
    if (writeNow !== undefined) {
      writeFullySync(writeNow, run.buffer, run.length, run.start);
      this.#spare.push(run.buffer);
      return;
    }
    this.#inflight = writeFully(handle, run.buffer, run.length, run.start).then(
      () => { this.#spare.push(run.buffer); },
      (error: unknown) => {
        if (!this.#failed) {
          this.#failed = true;
          this.#error = error;
        }
      },
    );
  }

  /** Writes a large chunk straight from the caller's memory (valid only until we return). */
  async #writeNow(bytes: Uint8Array, at: number): Promise<void> {
    const handle = await this.#handleReady();
    await this.#inflight;
    this.#throwIfFailed();
    const writeNow = this.#syncWrite(handle);
    if (writeNow !== undefined) writeFullySync(writeNow, bytes, bytes.length, at);
    else await writeFully(handle, bytes, bytes.length, at);
  }

  #syncWrite(handle: SinkFileHandle): SyncWrite | undefined {
    return this.#syncIo ? handle.writeSync?.bind(handle) : undefined;
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#error;
  }

  #handleReady(): Promise<SinkFileHandle> {
    if (this.#handle !== undefined) return Promise.resolve(this.#handle);
    this.#opening ??= this.#open(this.tempPath, 'wx', 0o600).then((handle) => {
      this.#handle = handle;
      return handle;
    });
    return this.#opening;
  }

  async #finish(): Promise<void> {
    const handle = await this.#handleReady();
    for (const run of [...this.#runs].sort((a, b) => a.start - b.start)) await this.#flushRun(run);
    await this.#inflight;
    this.#throwIfFailed();
    await handle.truncate(this.#extent);
    if (this.#fsync) await handle.sync();
    await handle.chmod(this.#mode);
    this.#handle = undefined;
    await handle.close();
    await rename(this.tempPath, this.path);
    this.#state = 'closed';
    if (this.#fsync) await syncDirectory(dirname(this.path));
  }

  /** Closes and unlinks the temporary file; best effort, the dump's own error is what matters. */
  async #discard(): Promise<void> {
    const handle = this.#handle ?? (await this.#opening?.catch(() => undefined));
    this.#handle = undefined;
    if (handle === undefined) return;
    await handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }
}

async function openWithSyncWrites(path: string, flags: string, mode: number): Promise<SinkFileHandle> {
  const handle = await openFile(path, flags, mode);
  return {
    write: (buffer, offset, length, position) => handle.write(buffer, offset, length, position),
    writeSync: (buffer, offset, length, position) => writeSync(handle.fd, buffer, offset, length, position),
    fd: handle.fd,
    truncate: (length) => handle.truncate(length),
    sync: () => handle.sync(),
    chmod: (mode) => handle.chmod(mode),
    close: () => handle.close(),
  };
}

type SyncWrite = (buffer: Uint8Array, offset: number, length: number, position: number) => number;

function writeFullySync(write: SyncWrite, bytes: Uint8Array, length: number, position: number): void {
  for (let done = 0; done < length;) {
    const written = write(bytes, done, length - done, position + done);
    if (written <= 0) throw new Error(`write of ${length - done} bytes at ${position + done} made no progress`);
    done += written;
  }
}

async function writeFully(handle: SinkFileHandle, bytes: Uint8Array, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await handle.write(bytes, done, length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write of ${length - done} bytes at ${position + done} made no progress`);
    done += bytesWritten;
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await openFile(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
