/**
 * The progress bar of long dumps and conversions: cli-progress (pinned) on stderr, only when stderr
 * is a terminal and the output is not --json, and only once a job has run longer than a moment
 * (so quick jobs print nothing extra). It shows bytes done of the total, the rate and the ETA, and
 * clears itself when the job ends so the result line stands alone.
 */

import { SingleBar } from 'cli-progress';
import { formatBytes } from './format.js';

/** A job's progress sink: `update` as often as you like, `stop` exactly once. */
export interface Progress {
  update(completed: number, total: number): void;
  stop(): void;
}

export interface ProgressOptions {
  /** False turns the bar off entirely (--json, or stderr not a terminal). */
  readonly enabled: boolean;
  /** How long a job runs before its bar appears; default 400 ms. */
  readonly delayMs?: number;
  readonly stream?: NodeJS.WriteStream;
}

const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined };

export function createProgress(label: string, options: ProgressOptions): Progress {
  if (!options.enabled) return NO_PROGRESS;
  const stream = options.stream ?? process.stderr;
  const startedAt = Date.now();
  const delayMs = options.delayMs ?? 400;
  let bar: SingleBar | undefined;
  return {
    update(completed, total) {
      if (bar === undefined) {
        if (Date.now() - startedAt < delayMs || total === 0) return;
        bar = new SingleBar({
          stream,
          format: `${label} [{bar}] {percentage}% {done} of {size} {rate} ETA {remaining}`,
          barsize: 24,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 40,
          fps: 8,
        });
        bar.start(total, completed, payload(completed, total, startedAt));
      }
      bar.setTotal(total);
      bar.update(completed, payload(completed, total, startedAt));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Rate and ETA from the average since the start (steadier than cli-progress's window). */
function payload(completed: number, total: number, startedAt: number): Record<string, string> {
  const seconds = (Date.now() - startedAt) / 1000;
  const rate = seconds > 0 ? completed / seconds : 0;
  const eta = rate > 0 ? Math.ceil((total - completed) / rate) : undefined;
  return {
    done: formatBytes(completed),
    size: formatBytes(total),
    rate: rate > 0 ? `${formatBytes(rate)}/s` : '-',
    remaining: eta === undefined ? '-' : eta >= 60 ? `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s` : `${eta}s`,
  };
}

/** Whether a bar may be drawn: stderr is a terminal and the output is for people. */
export function progressEnabled(json: boolean): boolean {
  return !json && process.stderr.isTTY;
}
