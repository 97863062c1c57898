/**
 * The page codecs a compression worker can run, by name. A worker cannot receive a codec object,
 * so the pool sends one of these names and the worker looks it up in its own copy of this table;
 * a codec not in the table is compressed in the calling thread instead. Names: 'node-zlib' for
 * node:zlib, 'builtin-<codec>' for each of the engine's built-in codecs (pako zlib, ...),
 * 'native-<codec>' for the native addon's (when it loaded; each worker loads its own copy).
 */

import { BUILTIN_CODECS } from '../dump/engine.js';
import type { PageCodec } from '../dump/kdump/codecs/codec.js';
import { nativeCodecs } from './native-codecs.js';
import { nodeZlibCodec } from './zlib-codec.js';

export const WORKER_CODECS: ReadonlyMap<string, PageCodec> = new Map<string, PageCodec>([
  ['node-zlib', nodeZlibCodec],
  ...Object.values(BUILTIN_CODECS).map((codec): [string, PageCodec] => [`builtin-${codec.name}`, codec]),
  ...Object.values(nativeCodecs()).map((codec): [string, PageCodec] => [`native-${codec.name}`, codec]),
]);

/** The worker-side name of `codec` (the same object), or undefined if workers cannot run it. */
export function workerCodecName(codec: PageCodec): string | undefined {
  for (const [name, known] of WORKER_CODECS) if (known === codec) return name;
  return undefined;
}
