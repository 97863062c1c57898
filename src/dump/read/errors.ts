/**
 * DumpReadError: the one error the dump readers throw for a file they cannot use. Every message
 * names where in the file the problem is and which field it is, e.g.
 * "truncated at offset 0x1040: kdump_sub_header needs 104 bytes, file has 12". Readers never let
 * a RangeError, a codec's own exception or anything else escape for bad input: it is wrapped here.
 */

import { Slice86Error } from '../../core/errors.js';

export type DumpReadErrorCode =
  /** Not an ELF core, a makedumpfile flattened stream or a kdump file. */
  | 'unknown-format'
  /** A structure or data the headers promise lies (partly) past the end of the file. */
  | 'truncated'
  /** A header field holds a value the format does not allow. */
  | 'bad-field'
  /** A kdump page cannot be read: descriptor out of bounds, bad size, undecodable data. */
  | 'bad-page'
  /** Well formed, but not something slice86 reads (big-endian, other machines, missing codec). */
  | 'unsupported'
  /** The input itself failed (its read threw or returned the wrong number of bytes). */
  | 'read-failed';

export class DumpReadError extends Slice86Error<DumpReadErrorCode> {
  /** Offset in the file (for flattened kdump: in the reassembled file) the message is about. */
  readonly offset: number | undefined;

  constructor(code: DumpReadErrorCode, message: string, options?: { cause?: unknown; offset?: number }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.offset = options?.offset;
  }
}

/** 0x-prefixed lowercase hex of a non-negative number or bigint. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

const LABELS: Record<DumpReadErrorCode, string> = {
  'unknown-format': 'unknown format',
  truncated: 'truncated',
  'bad-field': 'bad field',
  'bad-page': 'bad page',
  unsupported: 'unsupported',
  'read-failed': 'read failed',
};

/** "<label> at offset 0x..: <detail>", the shape of every reader message. */
export function readError(code: DumpReadErrorCode, offset: number, detail: string, cause?: unknown): DumpReadError {
  const options = cause === undefined ? { offset } : { offset, cause };
  return new DumpReadError(code, `${LABELS[code]} at offset ${hex(offset)}: ${detail}`, options);
}

/** `what` needs `need` bytes at `offset`, but only `has` are there. */
export function truncated(offset: number, what: string, need: number | bigint, has: number): DumpReadError {
  return readError('truncated', offset, `${what} needs ${need} bytes, file has ${Math.max(0, has)}`);
}

/** Text of an unknown thrown value, for messages. */
export function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
