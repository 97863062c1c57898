/**
 * `slice86 convert IN OUT --format F [--compat qemu-7.2]`: reads any dump slice86 reads (ELF,
 * flattened or raw kdump) and writes it again in any format the engine lists, through the same
 * engine a live dump uses (readDump -> toDumpSource -> dump), into src/node's atomic file sink:
 * OUT appears only when the conversion succeeds; a failure or Ctrl-C leaves nothing. The portable
 * engine is used (not the Node one) so the default flavour's zlib pages are the same bytes as in
 * a browser. Also the CLI's synchronous RandomAccessInput over a file descriptor.
 */

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createDumpEngine, type DumpEngine, type DumpFormat, type KdumpFormat } from '../dump/engine.js';
import type { CodecName, PageCodec } from '../dump/kdump/codecs/codec.js';
import { readDump } from '../dump/read/read-dump.js';
import { DumpReadError } from '../dump/read/errors.js';
import type { RandomAccessInput } from '../dump/read/input.js';
import { createFileSink } from '../node/file-sink.js';
import { createProgress, type ProgressOptions } from './progress.js';
import { yieldingSink } from './yielding-sink.js';

export interface ConvertOptions {
  readonly format: DumpFormat;
  readonly compat?: 'qemu-7.2' | undefined;
  readonly json?: boolean;
  readonly signal?: AbortSignal;
  readonly progress?: ProgressOptions;
}

/** What `convert --json` prints. */
export interface ConvertReport {
  readonly input: string;
  readonly inputFormat: string;
  readonly elfClass: number;
  readonly machine: string;
  readonly cpus: number;
  readonly output: string;
  readonly format: DumpFormat;
  readonly compat: 'qemu-7.2' | null;
  readonly bytes: number;
  readonly seconds: number;
  readonly warnings: readonly string[];
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

/**
 * Converts IN to OUT and returns what happened; engine warnings (in QEMU's words) go to `warn` as
 * they come. A progress bar follows the guest memory written when options.progress enables it.
 */
export async function convertFile(inPath: string, outPath: string, options: ConvertOptions, warn: (line: string) => void): Promise<ConvertReport> {
  const engine = await createDumpEngine();
  const input = openFileInput(inPath);
  const progress = createProgress(`convert ${options.format}`, options.progress ?? { enabled: false });
  const started = performance.now();
  try {
    const dump = await readDump(input, { codecs: engineCodecs(engine) });
    const source = await dump.toDumpSource();
    const result = await engine.dump(source, {
      sink: yieldingSink(createFileSink(outPath)),
      format: options.format,
      compat: options.compat,
      signal: options.signal,
      onProgress: ({ completed, total }) => {
        progress.update(completed, total);
      },
      onWarning: (text) => {
        warn(`warning: ${text}`);
      },
    });
    return {
      input: inPath,
      inputFormat: dump.format,
      elfClass: dump.elfClass,
      machine: dump.machine,
      cpus: dump.cpus.length,
      output: outPath,
      format: result.format,
      compat: options.compat ?? null,
      bytes: result.bytesWritten,
      seconds: (performance.now() - started) / 1000,
      warnings: result.warnings,
    };
  } finally {
    progress.stop();
    input.close();
  }
}

/** The one line `convert` prints for people. */
export function convertLine(r: ConvertReport): string {
  return `${r.input} (${r.inputFormat}, ELF${r.elfClass}, ${r.machine}, ${r.cpus} CPU${r.cpus === 1 ? '' : 's'}) -> ${r.output} (${r.format}${r.compat === null ? '' : `, ${r.compat}`}), ${r.bytes} bytes`;
}
