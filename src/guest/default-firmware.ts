/**
 * The built-in firmware the demos boot: firmware/cpu/default.asm (embedded as
 * src/guest/default-firmware-image.ts), run on the machine's own CPU from the reset vector. It
 * probes fw_cfg by ports (signature, ID, DMA), lists the file directory by DMA, registers a
 * VMCOREINFO note with one DMA write of etc/vmcoreinfo, enters long mode with paging, prints what
 * it did on the debug console and halts, exactly as it does under QEMU 7.2 with -bios.
 */

import { ConfigError } from '../core/errors.js';
import type { Machine, RunResult } from '../machine.js';
import { DEFAULT_FIRMWARE_SHA256, defaultFirmwareImage } from './default-firmware-image.js';

export { defaultFirmwareImage, DEFAULT_FIRMWARE_SHA256 };

export interface BootReport {
  /** 'built-in' for firmware/cpu/default.asm, 'custom' for any other image the machine was given. */
  readonly firmware: 'built-in' | 'custom';
  /** Why the CPU stopped ('halted' when the firmware finished). */
  readonly run: RunResult;
}

/** Enough for the built-in firmware (about 12,000 instructions) and for most small custom images. */
const BOOT_BUDGET = 50_000_000;

/**
 * Runs the firmware the machine was created with (`firmware: defaultFirmwareImage()` for the
 * built-in one) until it halts, exits through isa-debug-exit, triple-faults or spends its budget.
 * @throws ConfigError 'invalid-option' if the machine has no firmware image.
 */
export async function bootDefaultFirmware(machine: Machine, options: { readonly maxInstructions?: number } = {}): Promise<BootReport> {
  if (machine.layout.firmwareSize === 0) {
    throw new ConfigError('invalid-option', 'the machine has no firmware image: create it with firmware: defaultFirmwareImage() (or your own -bios image)');
  }
  const firmware = sameBytes(machine.memory.read(2 ** 32 - machine.layout.firmwareSize, machine.layout.firmwareSize), defaultFirmwareImage()) ? 'built-in' : 'custom';
  const run = await machine.run({ maxInstructions: options.maxInstructions ?? BOOT_BUDGET });
  return { firmware, run };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
