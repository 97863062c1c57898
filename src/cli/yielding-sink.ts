/**
 * A ByteSink wrapper that lets the event loop run every so often. The dump engine and the file
 * sink can go a long time without a macrotask (synchronous writes, compression in the calling
 * thread, promises that resolve at once), and then a SIGINT handler and the progress bar's timer
 * would not run until the dump ended. Pausing for one setImmediate every 50 ms costs nothing
 * measurable and lets Ctrl-C reach the engine's AbortSignal between two writes.
 */

import type { ByteSink } from '../dump/sink.js';

const INTERVAL_MS = 50;

export function yieldingSink(sink: ByteSink): ByteSink {
  let last = performance.now();
  const breathe = async (): Promise<void> => {
    const now = performance.now();
    if (now - last < INTERVAL_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };
  const writeZeros = sink.writeZeros?.bind(sink);
  const writeSparse = sink.writeSparse?.bind(sink);
  const writeAt = sink.writeAt?.bind(sink);
  const close = sink.close?.bind(sink);
  const abort = sink.abort?.bind(sink);
  return {
    async write(chunk) {
      await breathe();
      await sink.write(chunk);
    },
    ...(writeZeros === undefined ? {} : { writeZeros: async (length: number) => {
      await breathe();
      await writeZeros(length);
    } }),
    // Synchronous: when a pause is due it declines, and the writer's split path (write) pauses.
    ...(writeSparse === undefined ? {} : { writeSparse: (chunk: Uint8Array) => performance.now() - last < INTERVAL_MS && writeSparse(chunk) }),
    ...(sink.holeBytes === undefined ? {} : { holeBytes: sink.holeBytes }),
    ...(writeAt === undefined ? {} : { writeAt: async (offset: number, chunk: Uint8Array) => {
      await breathe();
      await writeAt(offset, chunk);
    } }),
    ...(close === undefined ? {} : { close }),
    ...(abort === undefined ? {} : { abort }),
  };
}
