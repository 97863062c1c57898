/**
 * Saving a dump from the page without holding the file in memory. Two ways, chosen per format:
 *
 * - Sequential formats (ELF, flattened kdump) stream through the service worker in sw/sw.ts: the
 *   dump engine writes into a TransformStream whose readable side the worker returns as a download
 *   response, so bytes flow to the browser's download as they are made, with backpressure, and
 *   nothing is stored twice. It works in every browser with service workers and transferable streams.
 * - Raw kdump files need positioned writes (the header and bitmaps are written last), which a
 *   download stream cannot take; they go to a file in the origin-private file system (OPFS),
 *   which takes positioned writes and is disk-backed, and that file is then offered as a download.
 *
 * Without either (an insecure origin, an old browser) the page falls back to collecting the file
 * in memory, and says so.
 */

import type { ByteSink } from '../src/index.js';

export type SaveMethod = 'service-worker stream' | 'origin-private file' | 'in memory';

/** Chunks are gathered to this size before they cross to the worker (fewer messages). */
const BATCH_BYTES = 1 << 20;

let worker: Promise<ServiceWorker | undefined> | undefined;

/** Registers sw.js once and waits until it controls the page (first visit: until it claims it). */
export function downloadWorker(): Promise<ServiceWorker | undefined> {
  worker ??= (async () => {
    if (!('serviceWorker' in navigator) || !window.isSecureContext) return undefined;
    await navigator.serviceWorker.register('./sw.js');
    const registration = await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller === null) {
      // First visit, or a hard reload (which bypasses the worker): ask it to take this page.
      const claimed = new Promise<void>((resolve) => {
        navigator.serviceWorker.addEventListener('controllerchange', () => {
          resolve();
        }, { once: true });
      });
      registration.active?.postMessage({ type: 'claim' });
      await Promise.race([claimed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    return navigator.serviceWorker.controller ?? undefined;
  })().catch(() => undefined);
  return worker;
}

/** How `save` will write a file that does, or does not, need positioned writes. */
export async function saveMethod(positioned: boolean): Promise<SaveMethod> {
  if (positioned) return 'storage' in navigator && 'getDirectory' in navigator.storage ? 'origin-private file' : 'in memory';
  return (await downloadWorker()) !== undefined ? 'service-worker stream' : 'in memory';
}

/**
 * Runs `produce` with a sink and offers what it writes as the download `name`.
 * @returns the method used.
 */
export async function save(name: string, positioned: boolean, produce: (sink: ByteSink) => Promise<void>): Promise<SaveMethod> {
  const method = await saveMethod(positioned);
  if (method === 'service-worker stream') await streamThroughWorker(name, produce);
  else if (method === 'origin-private file') await writeOpfsFile(name, produce);
  else await collectInMemory(name, produce);
  return method;
}

async function streamThroughWorker(name: string, produce: (sink: ByteSink) => Promise<void>): Promise<void> {
  const controller = await downloadWorker();
  if (controller === undefined) throw new Error('the download worker is not running');
  // About 4 MiB may wait between the engine and the download: enough to keep both busy.
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, { highWaterMark: 4 });
  const id = crypto.randomUUID();
  const channel = new MessageChannel();
  const ready = new Promise<void>((resolve) => {
    channel.port1.onmessage = () => {
      resolve();
    };
  });
  controller.postMessage({ type: 'download', id, name, stream: readable }, [channel.port2, readable]);
  await ready;
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.src = `download/${id}/${encodeURIComponent(name)}`;
  document.body.append(frame);
  const writer = writable.getWriter();
  const batch = new Batcher(async (bytes: Uint8Array<ArrayBuffer>) => {
    await writer.ready;
    await writer.write(bytes);
  });
  try {
    await produce({
      write: (chunk) => batch.add(chunk),
      close: async () => {
        await batch.flush();
        await writer.close();
      },
      abort: async (reason) => {
        await writer.abort(reason);
      },
    });
  } finally {
    // The frame is only the download's initiator; the download goes on without it.
    setTimeout(() => {
      frame.remove();
    }, 60_000);
  }
}

async function writeOpfsFile(name: string, produce: (sink: ByteSink) => Promise<void>): Promise<void> {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  let position = 0;
  const batch = new Batcher(async (bytes: Uint8Array<ArrayBuffer>) => {
    await writable.write({ type: 'write', position, data: bytes });
    position += bytes.length;
  });
  await produce({
    write: (chunk) => batch.add(chunk),
    writeAt: async (offset, chunk) => {
      await batch.flush();
      await writable.write({ type: 'write', position: offset, data: chunk.slice() });
    },
    close: async () => {
      await batch.flush();
      await writable.close();
    },
    abort: async () => {
      await writable.abort();
      await root.removeEntry(name).catch(() => undefined);
    },
  });
  // A File from OPFS is backed by the disk: the download reads it from there.
  offerBlob(name, await handle.getFile());
}

async function collectInMemory(name: string, produce: (sink: ByteSink) => Promise<void>): Promise<void> {
  const parts: Uint8Array[] = [];
  const positioned: { offset: number; bytes: Uint8Array }[] = [];
  let length = 0;
  await produce({
    write: (chunk) => {
      parts.push(chunk.slice());
      length += chunk.length;
    },
    writeAt: (offset, chunk) => {
      positioned.push({ offset, bytes: chunk.slice() });
    },
  });
  const end = positioned.reduce((max, p) => Math.max(max, p.offset + p.bytes.length), length);
  const out = new Uint8Array(end);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  for (const p of positioned) out.set(p.bytes, p.offset);
  offerBlob(name, new Blob([out]));
}

function offerBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 60_000);
}

/**
 * Gathers the engine's chunks (often single pages, and views of guest RAM that are only valid
 * until the write returns) into copies of about BATCH_BYTES, handed on one at a time.
 */
class Batcher {
  readonly #send: (bytes: Uint8Array<ArrayBuffer>) => Promise<void>;
  #buffer = new Uint8Array(BATCH_BYTES);
  #used = 0;

  constructor(send: (bytes: Uint8Array<ArrayBuffer>) => Promise<void>) {
    this.#send = send;
  }

  async add(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const piece = Math.min(chunk.length - done, BATCH_BYTES - this.#used);
      this.#buffer.set(chunk.subarray(done, done + piece), this.#used);
      this.#used += piece;
      done += piece;
      if (this.#used === BATCH_BYTES) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const full = this.#buffer.subarray(0, this.#used);
    this.#buffer = new Uint8Array(BATCH_BYTES);
    this.#used = 0;
    await this.#send(full);
  }
}
