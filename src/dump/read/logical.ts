/**
 * The logical file a kdump parser reads: the file itself for raw kdump and ELF, or the image a
 * makedumpfile flattened stream reassembles to (flattened.ts). Offsets are logical; bytes no
 * record wrote read as zeros, as `makedumpfile -R` leaves them.
 */

import { readBytes, type Reads } from './input.js';

export interface Extent {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface LogicalFile {
  /** Logical size: the file's, or the end of the furthest record. */
  readonly size: number;
  /** `length` bytes at logical `offset`; the request must lie within `size`. */
  read(offset: number, length: number, what: string): Reads<Uint8Array>;
  /** The parts of [start, end) some record wrote; everything else reads as zeros. */
  written(start: number, end: number): Extent[];
}

/** The file as it is: raw kdump files and ELF cores. */
export function plainFile(size: number): LogicalFile {
  return {
    size,
    read: (offset, length, what) => readBytes(offset, length, what),
    written: (start, end) => (Math.min(end, size) > start ? [{ start, end: Math.min(end, size) }] : []),
  };
}
