/**
 * Where dump bytes go. A ByteSink receives the file front to back; the chunks it is handed may be
 * views of guest RAM and stay valid only until its `write` returns or its promise settles, so a
 * sink that keeps data copies it. Optional capabilities: `writeZeros` (a file sink makes a hole),
 * `writeSparse` (a chunk of guest memory with its zero runs as holes, in one call),
 * `writeAt` (positioned writes, which raw kdump files need), and `abort` (drop a partial result).
 * No file system here: the Node file sink lives in src/node.
 */

export interface ByteSink {
  write(chunk: Uint8Array): void | Promise<void>;
  /** `length` zero bytes at the current position; sinks without it receive real zeros. */
  writeZeros?(length: number): void | Promise<void>;
  /**
   * With writeZeros: the shortest zero run worth a hole (default 64 KiB). Writers hand shorter
   * runs over as data, and probe for zero runs at this size, so a large value keeps the zero test
   * cheap and a small one (a page, where holes cost nothing: tmpfs) makes the most holes.
   */
  readonly holeBytes?: number;
  /**
   * Optional, with writeZeros: `chunk` (guest memory) at the current position, its zero runs of
   * holeBytes or more (whole pages from the chunk's start) and a zero tail left as holes, as a
   * writer would make them with write and writeZeros; the content is the same either way. Done at
   * once or not at all: false when the sink cannot take it this way now, and the writer then
   * splits the chunk itself. (The Node file sink does it in its native addon.)
   */
  writeSparse?(chunk: Uint8Array): boolean;
  /** Positioned write for seekable outputs (raw kdump); it does not move the sequential position. */
  writeAt?(offset: number, chunk: Uint8Array): void | Promise<void>;
  /** Called once after the last byte of a successful dump. */
  close?(): void | Promise<void>;
  /** Called once when a dump fails or is cancelled: discard what was written. */
  abort?(reason: unknown): void | Promise<void>;
}

/** Collects a dump in memory (tests, small guests, browser downloads of small dumps). */
export class MemorySink implements ByteSink {
  #chunks: Uint8Array[] = [];
  #length = 0;
  #positioned: { offset: number; bytes: Uint8Array }[] = [];
  closed = false;
  aborted = false;

  write(chunk: Uint8Array): void {
    this.#chunks.push(chunk.slice());
    this.#length += chunk.length;
  }

  writeZeros(length: number): void {
    this.#chunks.push(new Uint8Array(length));
    this.#length += length;
  }

  writeAt(offset: number, chunk: Uint8Array): void {
    this.#positioned.push({ offset, bytes: chunk.slice() });
  }

  close(): void {
    this.closed = true;
  }

  abort(): void {
    this.aborted = true;
  }

  /** Everything written: the sequential stream with positioned writes applied over it. */
  bytes(): Uint8Array {
    const end = this.#positioned.reduce((max, p) => Math.max(max, p.offset + p.bytes.length), this.#length);
    const out = new Uint8Array(end);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    for (const p of this.#positioned) out.set(p.bytes, p.offset);
    return out;
  }
}
