/**
 * A worker_threads compression worker (bundled on its own as dist/node/compress-worker.js). It
 * receives a batch of whole pages in one transferred ArrayBuffer, compresses each with the named
 * codec, and sends the same buffer back with the blocks packed in page order at its start (a block
 * is never longer than its page, so packing in place never overtakes the pages still to read) and
 * one size per page, -1 for a page to store raw. Native codecs do the whole batch in one addon
 * call, which packs in place the same way.
 */

import { parentPort } from 'node:worker_threads';
import { CODEC_OUT_BYTES } from '../dump/kdump/codecs/codec.js';
import { PAGE_SIZE } from '../dump/kdump/pages.js';
import { callNative } from './native-addon.js';
import { isNativeCodec } from './native-codecs.js';
import { WORKER_CODECS } from './worker-codecs.js';
import type { CompressReply, CompressRequest } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('compress-worker must run in a worker thread');
const out = new Uint8Array(CODEC_OUT_BYTES);

port.on('message', (request: CompressRequest) => {
  let reply: CompressReply;
  try {
    reply = compress(request);
  } catch (error) {
    port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies CompressReply);
    return;
  }
  port.postMessage(reply, 'buffer' in reply ? [reply.buffer, reply.sizes.buffer] : []);
});

function compress({ id, codec: name, pageCount, buffer }: CompressRequest): CompressReply {
  const codec = WORKER_CODECS.get(name);
  if (codec === undefined) throw new Error(`compress-worker has no codec "${name}"`);
  const bytes = new Uint8Array(buffer);
  const sizes = new Int32Array(pageCount);
  if (isNativeCodec(codec)) {
    const { addon } = codec.native;
    callNative(() => addon.compressPages(codec.flag, bytes.subarray(0, pageCount * PAGE_SIZE), bytes, sizes, 0));
    return { id, buffer, sizes };
  }
  let packed = 0;
  for (let i = 0; i < pageCount; i++) {
    const size = codec.compress(bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), out);
    if (size >= 0 && size < PAGE_SIZE) {
      bytes.set(out.subarray(0, size), packed);
      packed += size;
      sizes[i] = size;
    } else {
      sizes[i] = -1;
    }
  }
  return { id, buffer, sizes };
}
