/**
 * Random-access input for the dump readers, and the one place reads happen. Parsers are written
 * once as generators that yield read requests ({offset, length, what}); `runAsync` answers them
 * from any input (a Blob-backed one may return promises), `runSync` from inputs that answer at
 * once, which is what the dump engine's synchronous DumpBlock.read needs. Every request is
 * bounds-checked here, so a parser cannot read past the end or get a short answer unnoticed.
 */

import { DumpReadError, describeCause, hex, truncated } from './errors.js';

/** Bytes of a dump file, read by offset. `read` may answer asynchronously (e.g. over a Blob). */
export interface RandomAccessInput {
  readonly size: number;
  /** Exactly `length` bytes from `offset`; the readers never ask past `size`. */
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
}

/** An input over bytes in memory; reads are views, never copies. */
export function inputFromBytes(bytes: Uint8Array): RandomAccessInput {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

export interface ReadRequest {
  readonly offset: number;
  readonly length: number;
  /** What is being read, for the error message (e.g. "kdump_sub_header"). */
  readonly what: string;
}

/** A parser step: yields read requests, receives their bytes, returns T. */
export type Reads<T> = Generator<ReadRequest, T, Uint8Array>;

/** Reads `length` bytes at `offset` of the input. */
export function* readBytes(offset: number, length: number, what: string): Reads<Uint8Array> {
  return yield { offset, length, what };
}

/** Runs a parser against an input whose reads may be asynchronous. */
export async function runAsync<T>(input: RandomAccessInput, reads: Reads<T>): Promise<T> {
  let step = reads.next();
  while (step.done !== true) {
    const request = step.value;
    checkRequest(input, request);
    let bytes: Uint8Array;
    try {
      bytes = await input.read(request.offset, request.length);
    } catch (cause) {
      throw failed(request, cause);
    }
    step = reads.next(checkAnswer(request, bytes));
  }
  return step.value;
}

/**
 * Runs a parser against an input that answers synchronously.
 * @throws DumpReadError 'unsupported' when the input returns a promise.
 */
export function runSync<T>(input: RandomAccessInput, reads: Reads<T>): T {
  let step = reads.next();
  while (step.done !== true) {
    const request = step.value;
    checkRequest(input, request);
    let answer: Uint8Array | Promise<Uint8Array>;
    try {
      answer = input.read(request.offset, request.length);
    } catch (cause) {
      throw failed(request, cause);
    }
    if (answer instanceof Promise) {
      answer.catch(() => undefined);
      throw asyncInputError();
    }
    step = reads.next(checkAnswer(request, answer));
  }
  return step.value;
}

/** True when the input answers reads synchronously (probed with a one-byte read). */
export function answersSynchronously(input: RandomAccessInput): boolean {
  if (input.size === 0) return true;
  let answer: Uint8Array | Promise<Uint8Array>;
  try {
    answer = input.read(0, 1);
  } catch {
    // A failing input is reported by the read that needs the bytes.
    return true;
  }
  if (answer instanceof Promise) {
    answer.catch(() => undefined);
    return false;
  }
  return true;
}

export function asyncInputError(): DumpReadError {
  // The engine's DumpBlock.read is synchronous, so a lazily read source needs synchronous reads.
  return new DumpReadError(
    'unsupported',
    'this input answers reads asynchronously; a DumpSource over a dump file needs synchronous reads (read the file into memory and use inputFromBytes, or give an input whose read returns bytes)',
  );
}

function checkRequest(input: RandomAccessInput, request: ReadRequest): void {
  const { offset, length, what } = request;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new DumpReadError('bad-field', `bad field: ${what} has offset ${String(offset)} and length ${String(length)}, not a position in a file`);
  }
  if (offset + length > input.size) throw truncated(offset, what, length, input.size - offset);
}

function checkAnswer(request: ReadRequest, bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== request.length) {
    const got = bytes instanceof Uint8Array ? `${bytes.length} bytes` : 'no bytes';
    throw new DumpReadError('read-failed', `read failed at offset ${hex(request.offset)}: ${request.what} needs ${request.length} bytes, the input returned ${got}`, { offset: request.offset });
  }
  return bytes;
}

function failed(request: ReadRequest, cause: unknown): DumpReadError {
  return new DumpReadError('read-failed', `read failed at offset ${hex(request.offset)}: ${request.what} (${request.length} bytes): ${describeCause(cause)}`, { offset: request.offset, cause });
}
