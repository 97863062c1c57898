/**
 * The save/restore contract every device follows: plain, versioned, named-field state objects
 * that survive JSON (no bigint, no typed arrays: byte fields travel as hex strings), and a reset
 * that puts the device in its power-on-after-reset condition.
 */

import { StateError } from './errors.js';

export interface VersionedState {
  readonly v: number;
}

export interface Snapshottable<S extends VersionedState> {
  saveState(): S;
  /** Throws StateError('bad-state-version' | 'bad-state') before changing anything. */
  loadState(state: S): void;
  reset(): void;
}

/** Checks the version and shape of a state object, naming the device in the error. */
export function expectState(
  device: string,
  state: unknown,
  version: number,
): asserts state is Record<string, unknown> & VersionedState {
  if (typeof state !== 'object' || state === null) {
    throw new StateError('bad-state', `${device} state is not an object`);
  }
  const v = (state as { v?: unknown }).v;
  if (v !== version) {
    throw new StateError('bad-state-version', `${device} state version ${String(v)} is not supported (expected ${version})`);
  }
}

export function stateNumber(device: string, state: Record<string, unknown>, field: string, max: number): number {
  const value = state[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new StateError('bad-state', `${device} state field "${field}" is not an integer in 0..${max}`);
  }
  return value;
}

export function stateBoolean(device: string, state: Record<string, unknown>, field: string): boolean {
  const value = state[field];
  if (typeof value !== 'boolean') {
    throw new StateError('bad-state', `${device} state field "${field}" is not a boolean`);
  }
  return value;
}

export function stateHex(device: string, state: Record<string, unknown>, field: string, length?: number): Uint8Array {
  const value = state[field];
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(value) || (length !== undefined && value.length !== length * 2)) {
    throw new StateError('bad-state', `${device} state field "${field}" is not a hex byte string${length === undefined ? '' : ` of ${length} bytes`}`);
  }
  const out = new Uint8Array(value.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(value.slice(i * 2, i * 2 + 2), 16);
  return out;
}
