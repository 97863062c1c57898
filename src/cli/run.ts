/**
 * `slice86 run [FIRMWARE]`: boots a firmware image (the built-in one by default) as QEMU's -bios does, on the machine's own CPU,
 * until it halts, writes isa-debug-exit, triple-faults or spends its instruction budget; then
 * optionally dumps the machine. The exit status follows isa-debug-exit (QEMU's (value << 1) | 1,
 * low 8 bits), so a firmware test suite runs under any test runner:
 *
 *   0    the CPU halted (HLT)
 *   N    the guest wrote isa-debug-exit (N = (value << 1) | 1, modulo 256)
 *   3    triple fault
 *   124  the instruction budget ran out (as timeout(1) reports a timeout)
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { createMachine, type Machine, type RunResult } from '../machine.js';
import { dumpSourceFromMachine } from '../dump/machine-source.js';
import type { DumpFormat } from '../dump/engine.js';
import { dumpToFile } from '../node/engine.js';
import { defaultFirmwareImage } from '../guest/default-firmware.js';

export interface RunCommandOptions {
  readonly machine: 'pc' | 'q35';
  readonly memory: number;
  readonly cpus: number;
  /** '-' for standard output, a path, or undefined for no debug console output. */
  readonly debugcon?: string | undefined;
  readonly maxInstructions?: number | undefined;
  readonly dump?: string | undefined;
  readonly format?: DumpFormat | undefined;
  readonly paging: boolean;
  readonly begin?: number | undefined;
  readonly length?: number | undefined;
  readonly compat?: 'qemu-7.2' | undefined;
  readonly json: boolean;
  readonly signal?: AbortSignal | undefined;
}

export const EXIT_TRIPLE_FAULT = 3;
export const EXIT_BUDGET = 124;

/** The process status for a run result. */
export function exitStatus(result: RunResult): number {
  switch (result.reason) {
    case 'debug-exit': return (result.exitCode ?? 1) & 0xff;
    case 'triple-fault': return EXIT_TRIPLE_FAULT;
    case 'instruction-limit': return EXIT_BUDGET;
    case 'stopped': return 130;
    default: return 0;
  }
}

function readFirmware(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw new ConfigError('invalid-option', `cannot read firmware ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Runs the command; resolves with the exit status. Typed errors propagate to main(). */
export async function runFirmware(path: string | undefined, options: RunCommandOptions, out: (line: string) => void): Promise<number> {
  if ((options.dump === undefined) !== (options.format === undefined)) {
    throw new ConfigError('invalid-option', '--dump and --format go together');
  }
  if ((options.begin === undefined) !== (options.length === undefined)) {
    throw new ConfigError('invalid-option', '--begin and --length go together');
  }
  const machine: Machine = createMachine({ machine: options.machine, memorySize: options.memory, cpus: options.cpus, firmware: path === undefined ? defaultFirmwareImage() : readFirmware(path) });
  const console0 = machine.debugcon;
  const toStdout = options.debugcon === '-' && !options.json;
  if (toStdout) console0?.onOutput((byte) => process.stdout.write(String.fromCharCode(byte)));
  const start = performance.now();
  const result = await machine.run({
    ...(options.maxInstructions !== undefined ? { maxInstructions: options.maxInstructions } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  const runMs = performance.now() - start;
  const text = console0?.text() ?? '';
  if (options.debugcon !== undefined && options.debugcon !== '-') writeFileSync(options.debugcon, console0?.output() ?? new Uint8Array(0));
  let dumpReport: { file: string; format: DumpFormat; bytes: number; ms: number } | undefined;
  if (options.dump !== undefined && options.format !== undefined) {
    const dumpStart = performance.now();
    const written = await dumpToFile(dumpSourceFromMachine(machine), options.dump, {
      format: options.format,
      paging: options.paging,
      ...(options.begin !== undefined && options.length !== undefined ? { begin: options.begin, length: options.length } : {}),
      ...(options.compat !== undefined ? { compat: options.compat } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    dumpReport = { file: options.dump, format: options.format, bytes: written.bytesWritten, ms: performance.now() - dumpStart };
  }
  const status = exitStatus(result);
  if (options.json) {
    out(JSON.stringify({
      reason: result.reason,
      instructions: result.instructions,
      exitCode: result.exitCode ?? null,
      status,
      runMs: Math.round(runMs),
      ...(options.debugcon === '-' ? { debugcon: text } : {}),
      dump: dumpReport ?? null,
    }, null, 2));
  } else if (process.stderr.isTTY) {
    // A one-line summary for people at a terminal; scripts read the exit status (or --json).
    if (toStdout && text.length > 0 && !text.endsWith('\n')) out('');
    const why = result.reason === 'debug-exit' ? `isa-debug-exit ${String(result.exitCode)}` : result.reason;
    process.stderr.write(`slice86: ${why} after ${result.instructions} instructions (${runMs.toFixed(0)} ms)\n`);
    if (dumpReport !== undefined) process.stderr.write(`slice86: wrote ${dumpReport.format} dump ${dumpReport.file} (${dumpReport.bytes} bytes)\n`);
  }
  return status;
}
