/**
 * q35's SMI feature negotiation files (QEMU 7.2 hw/isa/lpc_ich9.c), which OVMF uses:
 *  - etc/smi/supported-features: u64 LE host features, read-only;
 *  - etc/smi/requested-features: u64 LE the guest DMA-writes, writable;
 *  - etc/smi/features-ok: u8; selecting it validates the request and, if valid, locks it (1)
 *    until reset. Invalid requests leave it 0.
 * With QEMU 7.2's q35 defaults the host offers broadcast SMI, CPU hotplug and CPU hot-unplug.
 */

import { readU64le, toHex, u64le } from '../core/bytes.js';
import { expectState, stateHex, type Snapshottable, type VersionedState } from '../core/state.js';
import type { FwCfgCore } from '../fwcfg/core.js';

export const ICH9_LPC_SMI_F_BROADCAST_BIT = 0;
export const ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT = 1;
export const ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT = 2;

const BROADCAST = 1n << BigInt(ICH9_LPC_SMI_F_BROADCAST_BIT);
const CPU_HOTPLUG = 1n << BigInt(ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT);
const CPU_HOT_UNPLUG = 1n << BigInt(ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT);
const DEFAULT_HOST_FEATURES = BROADCAST | CPU_HOTPLUG | CPU_HOT_UNPLUG;

export interface SmiFeaturesState extends VersionedState {
  readonly v: 1;
  readonly requested: string;
  readonly featuresOk: string;
  readonly negotiated: string;
}

export class Ich9SmiFeatures implements Snapshottable<SmiFeaturesState> {
  readonly #supported: Uint8Array;
  readonly #requested = new Uint8Array(8);
  readonly #featuresOk = new Uint8Array(1);
  #negotiated = 0n;

  constructor(fwcfg: FwCfgCore, hostFeatures: bigint = DEFAULT_HOST_FEATURES) {
    this.#supported = u64le(hostFeatures);
    fwcfg.addFile('etc/smi/supported-features', this.#supported);
    fwcfg.addFile('etc/smi/requested-features', this.#requested, { readOnly: false });
    fwcfg.addFile('etc/smi/features-ok', this.#featuresOk, { onSelect: () => { this.#negotiate(); } });
  }

  /** The feature set locked by the guest, or 0n before a successful negotiation. */
  get negotiated(): bigint {
    return this.#negotiated;
  }

  #negotiate(): void {
    if (this.#featuresOk[0] === 1) return;
    const requested = readU64le(this.#requested, 0);
    if ((requested & ~readU64le(this.#supported, 0)) !== 0n) return;
    const hotplug = requested & (CPU_HOTPLUG | CPU_HOT_UNPLUG);
    // CPU hot(un)plug with SMI needs broadcast SMI; hot-unplug alone is not supported.
    if ((requested & BROADCAST) === 0n && hotplug !== 0n) return;
    if (hotplug === CPU_HOT_UNPLUG) return;
    this.#negotiated = requested;
    this.#featuresOk[0] = 1;
  }

  reset(): void {
    this.#requested.fill(0);
    this.#featuresOk[0] = 0;
    this.#negotiated = 0n;
  }

  saveState(): SmiFeaturesState {
    return { v: 1, requested: toHex(this.#requested), featuresOk: toHex(this.#featuresOk), negotiated: toHex(u64le(this.#negotiated)) };
  }

  loadState(state: SmiFeaturesState): void {
    expectState('ich9-smi-features', state, 1);
    const requested = stateHex('ich9-smi-features', state, 'requested', 8);
    const ok = stateHex('ich9-smi-features', state, 'featuresOk', 1);
    const negotiated = stateHex('ich9-smi-features', state, 'negotiated', 8);
    this.#requested.set(requested);
    this.#featuresOk.set(ok);
    this.#negotiated = readU64le(negotiated, 0);
  }
}
