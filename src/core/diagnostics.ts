/**
 * Counted reports of guest anomalies: things a guest did that real hardware tolerates but that
 * usually mean a firmware bug (unmapped port, rejected width, DMA outside RAM ...).
 *
 * Devices never throw on guest input; they answer as QEMU does and report here. Counting is one
 * map increment, so it stays on; an optional listener sees each report with its detail.
 */

export const GUEST_ANOMALIES = [
  'port-unmapped-read',
  'port-unmapped-write',
  'port-width-rejected',
  'fwcfg-invalid-key',
  'fwcfg-data-port-write',
  'fwcfg-dma-descriptor-unreadable',
  'fwcfg-dma-guest-memory',
  'fwcfg-dma-write-rejected',
  'fwcfg-dma-high-address',
  'fwcfg-callback-threw',
  'memory-unmapped-read',
  'memory-unmapped-write',
  'memory-rom-write',
  'debugcon-overflow',
  'cpu-undefined-opcode',
  'cpu-unknown-msr',
  'cpu-triple-fault',
] as const;

export type GuestAnomaly = (typeof GUEST_ANOMALIES)[number];

export interface AnomalyReport {
  readonly kind: GuestAnomaly;
  readonly detail: string;
}

export type AnomalyListener = (report: AnomalyReport) => void;

export class Diagnostics {
  readonly #counts = new Map<GuestAnomaly, number>();
  #listener: AnomalyListener | undefined;

  /** Records one anomaly. `detail` is built lazily so hot paths pay nothing for it. */
  report(kind: GuestAnomaly, detail: () => string): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    this.#listener?.({ kind, detail: detail() });
  }

  count(kind: GuestAnomaly): number {
    return this.#counts.get(kind) ?? 0;
  }

  /** Total over every kind. */
  total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  /** A plain copy of the counters, for tests and `--json` output. */
  counts(): Partial<Record<GuestAnomaly, number>> {
    return Object.fromEntries(this.#counts);
  }

  /** Installs (or with `undefined`, removes) the one listener that sees every report. */
  onReport(listener: AnomalyListener | undefined): void {
    this.#listener = listener;
  }

  clear(): void {
    this.#counts.clear();
  }
}
