/**
 * Machine fixtures for guest-driven tests: small, fast defaults (pc, 32 MiB) that any test can
 * override, plus a default 64 KiB firmware image filled with HLT so layouts include the ROMs.
 */
import { createMachine, type Machine, type MachineOptions } from '../../src/index.js';

export const TEST_FIRMWARE = new Uint8Array(64 * 1024).fill(0xf4);

export function makeMachine(options: MachineOptions = {}): Machine {
  return createMachine({ machine: 'pc', memorySize: '32M', firmware: TEST_FIRMWARE, ...options });
}

/** Guest RAM scratch addresses the drivers use, away from anything a test inspects by default. */
export const SCRATCH = {
  /** SeaBIOS keeps its descriptor on the stack, below 0x7000. */
  seabiosDescriptor: 0x6ff0,
  /** Linux kmallocs its descriptor; any RAM address does. */
  linuxDescriptor: 0x0100_0000,
  buffer: 0x0010_0000,
} as const;
