/**
 * Explicit-endian integer readers and writers over Uint8Array.
 *
 * fw_cfg mixes byte orders (items little-endian; directory, DMA descriptor and DMA register
 * big-endian), so every access names its order. 64-bit values are bigint; callers that know a
 * value fits in 2^53 convert at their edge.
 */

export function readU16le(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8);
}

export function readU16be(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

export function readU32le(bytes: Uint8Array, offset: number): number {
  return (readU16le(bytes, offset) | (readU16le(bytes, offset + 2) << 16)) >>> 0;
}

export function readU32be(bytes: Uint8Array, offset: number): number {
  return ((readU16be(bytes, offset) << 16) | readU16be(bytes, offset + 2)) >>> 0;
}

export function readU64le(bytes: Uint8Array, offset: number): bigint {
  return (BigInt(readU32le(bytes, offset + 4)) << 32n) | BigInt(readU32le(bytes, offset));
}

export function readU64be(bytes: Uint8Array, offset: number): bigint {
  return (BigInt(readU32be(bytes, offset)) << 32n) | BigInt(readU32be(bytes, offset + 4));
}

export function writeU16le(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
}

export function writeU16be(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

export function writeU32le(bytes: Uint8Array, offset: number, value: number): void {
  writeU16le(bytes, offset, value & 0xffff);
  writeU16le(bytes, offset + 2, value >>> 16);
}

export function writeU32be(bytes: Uint8Array, offset: number, value: number): void {
  writeU16be(bytes, offset, value >>> 16);
  writeU16be(bytes, offset + 2, value & 0xffff);
}

export function writeU64le(bytes: Uint8Array, offset: number, value: bigint): void {
  writeU32le(bytes, offset, Number(value & 0xffffffffn));
  writeU32le(bytes, offset + 4, Number((value >> 32n) & 0xffffffffn));
}

export function writeU64be(bytes: Uint8Array, offset: number, value: bigint): void {
  writeU32be(bytes, offset, Number((value >> 32n) & 0xffffffffn));
  writeU32be(bytes, offset + 4, Number(value & 0xffffffffn));
}

/** The parts one after another in a fresh array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Little-endian u16 as a fresh 2-byte array: the shape of QEMU's fw_cfg_add_i16 items. */
export function u16le(value: number): Uint8Array {
  const out = new Uint8Array(2);
  writeU16le(out, 0, value);
  return out;
}

/** Little-endian u32 as a fresh 4-byte array (fw_cfg_add_i32). */
export function u32le(value: number): Uint8Array {
  const out = new Uint8Array(4);
  writeU32le(out, 0, value);
  return out;
}

/** Little-endian u64 as a fresh 8-byte array (fw_cfg_add_i64). */
export function u64le(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  writeU64le(out, 0, value);
  return out;
}

/** Byte-swaps a 32-bit value: how a little-endian CPU writes a big-endian register half. */
export function bswap32(value: number): number {
  return (
    (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('latin1');

/** Bytes of a string as the guest sees C strings: UTF-8, no terminator. */
export function asciiBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Text of a NUL-terminated (or full-length) byte field, one char per byte. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** Lowercase hex without separators, e.g. for diagnostics and fixture traces. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
