/**
 * Ctrl-C for long jobs: the first SIGINT aborts the job's AbortSignal, so the dump engine stops
 * between writes and its file sink deletes the temporary file (nothing partial is left); the
 * command then ends with "cancelled" and status 130, as a shell reports an interrupted command.
 * A second SIGINT while the cleanup runs ends the process at once.
 */

import { DumpError } from '../core/errors.js';

export const EXIT_INTERRUPTED = 130;

/** Thrown when a command was cancelled by the user; main() prints it and exits 130. */
export class Interrupted extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Interrupted';
  }
}

/** Runs `job` with a signal that SIGINT aborts; an abort it reports becomes Interrupted. */
export async function interruptible<T>(job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort(new Interrupted());
  };
  process.on('SIGINT', onSigint);
  try {
    return await job(controller.signal);
  } catch (error) {
    if (controller.signal.aborted && (error instanceof Interrupted || (error instanceof DumpError && error.code === 'aborted'))) throw new Interrupted();
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
