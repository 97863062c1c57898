/** Messages between the compression pool (worker-pool.ts) and its workers (compress-worker.ts). */

export interface CompressRequest {
  readonly id: number;
  /** A WORKER_CODECS name. */
  readonly codec: string;
  readonly pageCount: number;
  /** pageCount whole pages, transferred. */
  readonly buffer: ArrayBuffer;
}

export type CompressReply =
  /** `buffer` comes back with the blocks packed at its start; sizes[i] is -1 for a raw page. */
  | { readonly id: number; readonly buffer: ArrayBuffer; readonly sizes: Int32Array<ArrayBuffer> }
  | { readonly id: number; readonly error: string };
