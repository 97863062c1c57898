/**
 * The optional native page compressor (native/, built by `npm install` with node-gyp into
 * native/build/Release/slice86_native.node): C codecs that compress a whole batch of kdump pages
 * per call. Loading never throws: without a compiler or the libraries at install time, or with
 * SLICE86_NATIVE=0 in the environment, the Node entry keeps the portable JavaScript codecs.
 * Every entry point of the package (src/node, dist/node, dist/cli, dist/bench) sits two folders
 * below the package root; the compression worker that tests bundle from the sources sits three
 * below (node_modules/.cache/slice86); the first of those places holding the addon is used.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Slice86Error } from '../core/errors.js';

/** What the addon's C code reports, and what the wrapper checks before calling it. */
export type NativeCodecErrorCode =
  | 'unknown-codec'
  | 'invalid-pages'
  | 'invalid-arena'
  | 'invalid-sizes'
  | 'invalid-argument'
  | 'native-failure';

/** Misuse of the native compressor by the host (wrong buffers or sizes); nothing was written. */
export class NativeCodecError extends Slice86Error<NativeCodecErrorCode> {}

/** The addon's exports (native/src/addon.c documents them). */
export interface NativeAddon {
  compressPages(codec: number, pages: Uint8Array | readonly Uint8Array[], out: Uint8Array, sizes: Int32Array, flags: number): number;
  compressRun(codec: number, pages: Uint8Array, flags: number, threads: number): number;
  storeRun(id: number, pages: Uint8Array, data: Uint8Array, descs: Uint8Array, cursor: Float64Array): boolean;
  writeSparse(fd: number, bytes: Uint8Array, position: number, holeBytes: number): void;
  decompressZstd(block: Uint8Array, out: Uint8Array): number;
  looksIncompressible(page: Uint8Array): boolean;
  readonly versions: { readonly libdeflate: string; readonly zstd: string };
}

/** compressPages and compressRun flag: store random-looking pages raw without running the codec. */
export const NATIVE_SKIP_INCOMPRESSIBLE = 0x1;

const ADDON_FILE = 'native/build/Release/slice86_native.node';
export const NATIVE_ADDON_PATH = ['../../', '../../../']
  .map((up) => fileURLToPath(new URL(up + ADDON_FILE, import.meta.url)))
  .find((path) => existsSync(path)) ?? fileURLToPath(new URL(`../../${ADDON_FILE}`, import.meta.url));

export type NativeAddonStatus = { readonly loaded: true; readonly path: string; readonly addon: NativeAddon } | { readonly loaded: false; readonly reason: string };

let status: NativeAddonStatus | undefined;

/** Loads the addon once; the status says why it is not there. */
export function nativeAddonStatus(): NativeAddonStatus {
  status ??= load();
  return status;
}

/** The addon, or undefined when it was not built or is switched off. */
export function nativeAddon(): NativeAddon | undefined {
  const current = nativeAddonStatus();
  return current.loaded ? current.addon : undefined;
}

function load(): NativeAddonStatus {
  if (process.env['SLICE86_NATIVE'] === '0') return { loaded: false, reason: 'switched off by SLICE86_NATIVE=0' };
  try {
    const addon: unknown = createRequire(import.meta.url)(NATIVE_ADDON_PATH);
    if (!isAddon(addon)) return { loaded: false, reason: `${NATIVE_ADDON_PATH} does not export compressPages, compressRun, storeRun and writeSparse` };
    return { loaded: true, path: NATIVE_ADDON_PATH, addon };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND') return { loaded: false, reason: `not built (${NATIVE_ADDON_PATH} is missing; npm install builds it when a C compiler, python3, libdeflate-dev, libsnappy-dev and libzstd-dev are there)` };
    return { loaded: false, reason: `${NATIVE_ADDON_PATH} failed to load: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function isAddon(value: unknown): value is NativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const { compressPages, compressRun, storeRun, writeSparse, decompressZstd, looksIncompressible, versions } = value as Record<string, unknown>;
  return typeof compressPages === 'function' && typeof compressRun === 'function' && typeof storeRun === 'function' && typeof writeSparse === 'function' && typeof decompressZstd === 'function' && typeof looksIncompressible === 'function' && typeof versions === 'object' && versions !== null;
}

/** Calls the addon, turning the C side's coded errors into NativeCodecError. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof Error && typeof code === 'string' && NATIVE_CODES.has(code)) throw new NativeCodecError(code as NativeCodecErrorCode, error.message, { cause: error });
    throw error;
  }
}

const NATIVE_CODES: ReadonlySet<string> = new Set<NativeCodecErrorCode>(['unknown-codec', 'invalid-pages', 'invalid-arena', 'invalid-sizes', 'invalid-argument', 'native-failure']);
