/**
 * Sizes as people type them: `512M`, `4G`, `3584M`, `64K`, `1T`, or a byte count as a number.
 * A string without a suffix is MiB, as QEMU's `-m 512` is; binary multiples throughout.
 */

import { ConfigError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** @throws ConfigError 'invalid-option' for text that is not a size. */
export function parseSize(size: number | string, what = 'size'): number {
  if (typeof size === 'number') {
    if (!Number.isSafeInteger(size) || size < 0) throw new ConfigError('invalid-option', `${what} ${String(size)} is not a byte count`);
    return size;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([bBkKmMgGtT]?)(?:i?[bB])?\s*$/.exec(size);
  if (match === null) throw new ConfigError('invalid-option', `${what} "${size}" is not a size like 512M or 4G`);
  const unit = UNITS[(match[2] ?? '').toUpperCase() || 'M'] ?? 1;
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new ConfigError('invalid-option', `${what} "${size}" is not a whole number of bytes`);
  return bytes;
}

/** 33554432 -> "32M"; sizes that are not whole KiB print as bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, scale] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return `${bytes}B`;
}
