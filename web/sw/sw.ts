/**
 * The demo's download service worker: it turns a stream the page is still writing into a file
 * download, so a dump goes from the dump engine to disk without ever being whole in memory
 * (StreamSaver's approach, without its third-party relay page). The page transfers the readable
 * side of a stream in a 'download' message and gets an answer on the message's port; it then
 * navigates a hidden frame to download/<id>/<name>, and this worker answers that request with the
 * stream as an attachment. Backpressure crosses both hops: the engine's writes wait while the
 * browser is not reading.
 */

export {};
declare const self: ServiceWorkerGlobalScope;

interface DownloadMessage {
  readonly type: 'download';
  readonly id: string;
  readonly name: string;
  readonly stream: ReadableStream<Uint8Array>;
}

const pending = new Map<string, { name: string; stream: ReadableStream<Uint8Array> }>();

self.addEventListener('install', () => {
  void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('message', (event) => {
  const data = event.data as Partial<DownloadMessage> | { type: 'claim' } | null;
  if (data?.type === 'claim') {
    event.waitUntil(self.clients.claim());
    return;
  }
  if (data?.type !== 'download' || data.id === undefined || data.name === undefined || data.stream === undefined) return;
  pending.set(data.id, { name: data.name, stream: data.stream });
  event.ports[0]?.postMessage({ type: 'ready', id: data.id });
});

self.addEventListener('fetch', (event) => {
  const match = /\/download\/([0-9a-f-]+)\//.exec(new URL(event.request.url).pathname);
  if (match === null) return;
  const id = match[1] ?? '';
  const entry = pending.get(id);
  if (entry === undefined) {
    event.respondWith(new Response('no such download', { status: 404 }));
    return;
  }
  pending.delete(id);
  const filename = entry.name.replace(/[^\w.-]/g, '_');
  event.respondWith(
    new Response(entry.stream, {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${filename}"`,
        'Cache-Control': 'no-store',
      },
    }),
  );
});
