/**
 * The Bochs/QEMU debug console (QEMU isa-debugcon, `-debugcon`): every byte the guest OUTs to the
 * port is console output; reads return the readback value 0xe9. Only 1-byte accesses reach it:
 * QEMU's valid.max_access_size of 1 makes the bus drop wider ones whole.
 *
 * Output is kept for the embedder (bounded: past `maxBytes` it is counted and dropped) and also
 * handed to an optional listener as it arrives.
 */

import type { Diagnostics } from '../core/diagnostics.js';
import type { IoSize, PortDevice, PortMappingOptions } from '../core/port-bus.js';
import { expectState, stateNumber, type Snapshottable, type VersionedState } from '../core/state.js';

export const DEBUGCON_READBACK = 0xe9;

export type DebugconListener = (byte: number, port: number) => void;

export interface DebugconState extends VersionedState {
  readonly v: 1;
  readonly droppedBytes: number;
}

export class Debugcon implements PortDevice, Snapshottable<DebugconState> {
  static mapping(name: string): PortMappingOptions {
    return { name, maxAccessSize: 1 };
  }

  readonly port: number;
  readonly maxBytes: number;
  #buffer = new Uint8Array(4096);
  #length = 0;
  #dropped = 0;
  #listener: DebugconListener | undefined;
  readonly #diagnostics: Diagnostics;

  constructor(port: number, diagnostics: Diagnostics, maxBytes = 16 * 2 ** 20) {
    this.port = port;
    this.maxBytes = maxBytes;
    this.#diagnostics = diagnostics;
  }

  ioRead(_offset: number, _size: IoSize): number {
    return DEBUGCON_READBACK;
  }

  ioWrite(_offset: number, _size: IoSize, value: number): void {
    const byte = value & 0xff;
    this.#listener?.(byte, this.port);
    if (this.#length >= this.maxBytes) {
      this.#dropped++;
      this.#diagnostics.report('debugcon-overflow', () => `debug console 0x${this.port.toString(16)} is full`);
      return;
    }
    if (this.#length === this.#buffer.length) {
      const grown = new Uint8Array(Math.min(this.maxBytes, this.#buffer.length * 2));
      grown.set(this.#buffer);
      this.#buffer = grown;
    }
    this.#buffer[this.#length++] = byte;
  }

  /** Everything written so far (a copy). */
  output(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }

  /** Output as text, one character per byte. */
  text(): string {
    return new TextDecoder('latin1').decode(this.#buffer.subarray(0, this.#length));
  }

  /** Returns the output so far and empties the buffer. */
  take(): Uint8Array {
    const out = this.output();
    this.#length = 0;
    return out;
  }

  get droppedBytes(): number {
    return this.#dropped;
  }

  onOutput(listener: DebugconListener | undefined): void {
    this.#listener = listener;
  }

  /** A console is a character stream, not machine state: reset leaves the output alone. */
  reset(): void {
    // Nothing in the device itself changes at reset.
  }

  saveState(): DebugconState {
    return { v: 1, droppedBytes: this.#dropped };
  }

  loadState(state: DebugconState): void {
    expectState('debugcon', state, 1);
    this.#dropped = stateNumber('debugcon', state, 'droppedBytes', Number.MAX_SAFE_INTEGER);
  }
}
