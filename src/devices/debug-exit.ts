/**
 * QEMU's isa-debug-exit (port 0x501, 2 ports): a write of `value` asks the emulator to exit with
 * status (value << 1) | 1, so a guest test can report pass or fail. Here the request is recorded
 * for the run loop and the embedder; nothing exits the host process. Reads return 0.
 */

import type { IoSize, PortDevice, PortMappingOptions } from '../core/port-bus.js';
import { StateError } from '../core/errors.js';
import { expectState, type Snapshottable, type VersionedState } from '../core/state.js';

export const DEBUG_EXIT_IOBASE = 0x501;
export const DEBUG_EXIT_IOSIZE = 2;

export interface DebugExitState extends VersionedState {
  readonly v: 1;
  readonly exitCode: number | null;
}

export class DebugExit implements PortDevice, Snapshottable<DebugExitState> {
  static readonly MAPPING: PortMappingOptions = { name: 'isa-debug-exit' };

  #exitCode: number | undefined;
  #writes = 0;
  #listener: ((exitCode: number) => void) | undefined;

  ioRead(_offset: number, _size: IoSize): number {
    return 0;
  }

  ioWrite(_offset: number, _size: IoSize, value: number): void {
    // QEMU computes this in a 64-bit int and exit() keeps the low 8 bits; the full value is kept
    // here and callers that need a process status take `& 0xff`.
    const code = value * 2 + 1;
    this.#exitCode = code;
    this.#writes++;
    this.#listener?.(code);
  }

  /** The status the guest asked for, or undefined if it has not written the port since reset. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** Writes since the machine was created: a cheap "did the guest ask to exit since ..." check. */
  get writes(): number {
    return this.#writes;
  }

  onExit(listener: ((exitCode: number) => void) | undefined): void {
    this.#listener = listener;
  }

  reset(): void {
    this.#exitCode = undefined;
  }

  saveState(): DebugExitState {
    return { v: 1, exitCode: this.#exitCode ?? null };
  }

  loadState(state: DebugExitState): void {
    expectState('isa-debug-exit', state, 1);
    const code = (state as { exitCode?: unknown }).exitCode;
    if (code !== null && (typeof code !== 'number' || !Number.isSafeInteger(code) || code < 1 || code % 2 !== 1)) {
      throw new StateError('bad-state', 'isa-debug-exit state field "exitCode" is not null or an odd positive integer');
    }
    this.#exitCode = code ?? undefined;
  }
}
