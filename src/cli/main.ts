/**
 * The `slice86` command-line tool. Every failure ends as one line on stderr and a non-zero exit
 * status, never a stack trace: typed slice86 errors print their message and code; anything else is
 * reported as an internal error.
 */

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Slice86Error } from '../core/errors.js';
import { runDemo } from './demo.js';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`"${text}" is not a positive integer`);
  return value;
}

export function buildProgram(out: (line: string) => void): Command {
  const program = new Command('slice86')
    .description('fw_cfg, vmcoreinfo and guest-memory tooling for x86 PC emulators, exact to QEMU 7.2')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program
    .command('demo')
    .description('boot a machine, run the scripted guest against fw_cfg and vmcoreinfo, and show what the devices saw')
    .addOption(new Option('--machine <type>', 'machine type').choices(['pc', 'q35']).default('pc'))
    .option('--memory <size>', 'guest RAM, e.g. 512M or 4G', '128M')
    .option('--cpus <n>', 'number of CPUs', positiveInteger, 1)
    .option('--json', 'machine-readable output', false)
    .action((options: { machine: 'pc' | 'q35'; memory: string; cpus: number; json: boolean }) => {
      runDemo(options, out);
    });
  return program;
}

export function main(argv: readonly string[]): number {
  const program = buildProgram((line) => process.stdout.write(`${line}\n`));
  try {
    program.parse(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help text, which exits 0).
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof Slice86Error) {
      process.stderr.write(`slice86: ${error.message} (${error.code})\n`);
      return EXIT_FAILURE;
    }
    process.stderr.write(`slice86: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

process.exitCode = main(process.argv.slice(2));
