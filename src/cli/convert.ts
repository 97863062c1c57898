/**
 * `slice86 convert IN OUT --format F [--compat qemu-7.2]`: reads any dump slice86 reads (ELF,
 * flattened or raw kdump) and writes it again in any format the engine lists, through the same
 * engine a live dump uses (readDump -> toDumpSource -> dump). Also the CLI's small file helpers:
 * a synchronous RandomAccessInput over a file descriptor, and a sink that writes OUT.tmp-<pid>
 * and renames it to OUT on success or deletes it on failure. Both are private to the CLI, to be
 * replaced by src/node's file sink once that lands.
 */

import { closeSync, fstatSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createDumpEngine, type DumpEngine, type DumpFormat, type KdumpFormat } from '../dump/engine.js';
import type { CodecName, PageCodec } from '../dump/kdump/codecs/codec.js';
import { readDump } from '../dump/read/read-dump.js';
import { DumpReadError } from '../dump/read/errors.js';
import type { RandomAccessInput } from '../dump/read/input.js';
import type { ByteSink } from '../dump/sink.js';

export interface ConvertOptions {
  readonly format: DumpFormat;
  readonly compat?: 'qemu-7.2' | undefined;
}

/** A file opened for reading, read synchronously (so toDumpSource can read it lazily). */
export interface FileInput extends RandomAccessInput {
  close(): void;
}

/** @throws DumpReadError 'read-failed' when the file cannot be opened. */
export function openFileInput(path: string): FileInput {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new DumpReadError('read-failed', `cannot open ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) return out.subarray(0, done);
        done += n;
      }
      return out;
    },
    close: () => {
      closeSync(fd);
    },
  };
}

/**
 * Writes OUT.tmp-<pid> (created on the first write, mode 0600: dumps hold guest secrets), with
 * holes for zero runs and positioned writes for raw kdump; close() renames it to OUT, abort()
 * deletes it.
 */
export class TempFileSink implements ByteSink {
  readonly path: string;
  readonly tempPath: string;
  #fd: number | undefined;
  #position = 0;
  #extent = 0;

  constructor(path: string) {
    this.path = path;
    this.tempPath = `${path}.tmp-${process.pid}`;
  }

  write(chunk: Uint8Array): void {
    this.#writeAt(this.#position, chunk);
    this.#position += chunk.length;
  }

  writeZeros(length: number): void {
    this.#position += length;
    this.#extent = Math.max(this.#extent, this.#position);
  }

  writeAt(offset: number, chunk: Uint8Array): void {
    this.#writeAt(offset, chunk);
  }

  close(): void {
    const fd = this.#open();
    // A trailing zero run was skipped, not written: the file still has to reach its size.
    ftruncateSync(fd, this.#extent);
    closeSync(fd);
    this.#fd = undefined;
    renameSync(this.tempPath, this.path);
  }

  abort(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    rmSync(this.tempPath, { force: true });
  }

  #open(): number {
    this.#fd ??= openSync(this.tempPath, 'w', 0o600);
    return this.#fd;
  }

  #writeAt(offset: number, chunk: Uint8Array): void {
    const fd = this.#open();
    for (let done = 0; done < chunk.length;) done += writeSync(fd, chunk, done, chunk.length - done, offset + done);
    this.#extent = Math.max(this.#extent, offset + chunk.length);
  }
}

/** Every page codec the engine has, for reading pages of any kdump flavour it can write. */
export function engineCodecs(engine: DumpEngine): Partial<Record<CodecName, PageCodec>> {
  const formats = { zlib: 'kdump-zlib', lzo: 'kdump-lzo', snappy: 'kdump-snappy', zstd: 'kdump-zstd' } as const;
  const out: Partial<Record<CodecName, PageCodec>> = {};
  for (const [name, format] of Object.entries(formats) as [CodecName, KdumpFormat][]) {
    const codec = engine.codecFor(format);
    if (codec !== undefined) out[name] = codec;
  }
  return out;
}

/** Converts IN to OUT; reports on `out` (result) and `warn` (engine warnings, in QEMU's words). */
export async function runConvert(inPath: string, outPath: string, options: ConvertOptions, out: (line: string) => void, warn: (line: string) => void): Promise<void> {
  const engine = await createDumpEngine();
  const input = openFileInput(inPath);
  try {
    const dump = await readDump(input, { codecs: engineCodecs(engine) });
    const source = await dump.toDumpSource();
    const result = await engine.dump(source, {
      sink: new TempFileSink(outPath),
      format: options.format,
      compat: options.compat,
      onWarning: (text) => {
        warn(`warning: ${text}`);
      },
    });
    out(`${inPath} (${dump.format}, ELF${dump.elfClass}, ${dump.machine}, ${dump.cpus.length} CPU${dump.cpus.length === 1 ? '' : 's'}) -> ${outPath} (${result.format}${options.compat === undefined ? '' : `, ${options.compat}`}), ${result.bytesWritten} bytes`);
  } finally {
    input.close();
  }
}
