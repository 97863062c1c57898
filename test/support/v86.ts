/**
 * v86 (the pinned npm package) in Node for adapter tests: its release wasm from node_modules, a
 * BIOS and multiboot kernel from files, no autostart, and helpers to wait for v86's events.
 * Each helper destroys nothing: tests call `emulator.destroy()` themselves.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { V86 } from 'v86';

/**
 * Debian's SeaBIOS 1.16.2, the 128 KiB image. bios-256k.bin boots too when no VGA BIOS is given,
 * but it covers 0xc0000, where v86 puts a VGA BIOS.
 */
export const DEBIAN_SEABIOS = '/usr/share/seabios/bios.bin';
export const MULTIBOOT_GUEST = new URL('../../firmware/v86/multiboot-vmcoreinfo.bin', import.meta.url);
export const V86_WASM = createRequire(import.meta.url).resolve('v86/build/v86.wasm');

/** A file's bytes in an ArrayBuffer of their own (Node pools small files' Buffers). */
export function fileBuffer(path: string | URL): ArrayBuffer {
  return new Uint8Array(readFileSync(path)).buffer;
}

export interface TestV86Options {
  readonly bios?: ArrayBuffer;
  readonly multiboot?: ArrayBuffer;
  readonly memorySize?: number;
}

/** A loaded, stopped V86 (its "emulator-loaded" event has fired). */
export async function loadV86(options: TestV86Options = {}): Promise<V86> {
  const emulator = new V86({
    wasm_path: V86_WASM,
    memory_size: options.memorySize ?? 32 * 2 ** 20,
    autostart: false,
    disable_speaker: true,
    ...(options.bios === undefined ? {} : { bios: { buffer: options.bios } }),
    ...(options.multiboot === undefined ? {} : { multiboot: { buffer: options.multiboot } }),
  });
  await new Promise<void>((resolve) => { emulator.add_listener('emulator-loaded', () => { resolve(); }); });
  return emulator;
}

/** Resolves at the guest's "cli; hlt" (v86's cpu-event-halt); rejects after `ms`. */
export function haltOf(emulator: V86, ms = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`guest did not halt within ${ms} ms`)); }, ms);
    // v86.d.ts does not list the CPU events.
    (emulator.add_listener as (event: string, listener: () => void) => void)('cpu-event-halt', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
