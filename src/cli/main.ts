/**
 * The `slice86` command-line tool (commander for arguments). Every failure ends as one line on
 * stderr and a non-zero exit status, never a stack trace: usage errors exit 2, typed slice86
 * errors print their message and code and exit 1, anything else is reported as an internal error,
 * and Ctrl-C during a dump or conversion removes the partial file and exits 130.
 */

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Slice86Error } from '../core/errors.js';
import { parseSize } from '../core/size.js';
import { DUMP_FORMATS, type DumpFormat } from '../dump/engine.js';
import { convertFile, convertLine } from './convert.js';
import { runDemo } from './demo.js';
import { toJson } from './format.js';
import { runInspect } from './inspect.js';
import { EXIT_INTERRUPTED, Interrupted, interruptible } from './interrupt.js';
import { progressEnabled } from './progress.js';
import { runFirmware } from './run.js';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`"${text}" is not a positive integer`);
  return value;
}

/** Sizes as people type them (512M, 4G, 3584M; a bare number is MiB, as QEMU's -m). */
function size(text: string): number {
  try {
    return parseSize(text, 'memory size');
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

class Failed extends Error {}

export function buildProgram(out: (line: string) => void): Command {
  const program = new Command('slice86')
    .description('fw_cfg, vmcoreinfo and guest-memory tooling for x86 PC emulators, exact to QEMU 7.2')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addHelpText('after', `
Examples:
  slice86 demo                                   boot the built-in firmware, dump it in every format into ./slice86-demo
  slice86 inspect vmcore.elf --json              what a dump holds, as JSON
  slice86 convert vmcore.elf vmcore.flat --format kdump-zlib
  slice86 run firmware.bin --debugcon - --dump vmcore.elf --format elf`);
  program
    .command('demo')
    .description('boot the built-in firmware, show the fw_cfg directory, vmcoreinfo and the debug console, then write a dump in every format and check each one')
    .addOption(new Option('--machine <type>', 'machine type').choices(['pc', 'q35']).default('pc'))
    .option('--memory <size>', 'guest RAM, e.g. 512M or 4G', size, 128 * 2 ** 20)
    .option('--cpus <n>', 'number of CPUs', positiveInteger, 1)
    .option('--out <dir>', 'folder for the dumps', 'slice86-demo')
    .option('--no-dumps', 'boot and report only; write no dumps')
    .option('--json', 'machine-readable output', false)
    .action(async (options: { machine: 'pc' | 'q35'; memory: number; cpus: number; out: string; dumps: boolean; json: boolean }) => {
      const ok = await interruptible((signal) =>
        runDemo({ ...options, out: options.dumps ? options.out : undefined, signal, progress: { enabled: progressEnabled(options.json) } }, out),
      );
      if (!ok) throw new Failed('a dump failed its read-back check');
    });
  program
    .command('inspect')
    .description('show what a dump file holds: format, CPUs and registers, vmcoreinfo, memory ranges, ELF, kdump or Windows crash-dump headers')
    .argument('<file>', 'ELF core, flattened or raw kdump file')
    .option('--json', 'machine-readable output', false)
    .action(async (file: string, options: { json: boolean }) => {
      await runInspect(file, options, out);
    });
  program
    .command('convert')
    .description('rewrite a dump in another format (ELF, kdump flattened or raw, win-dmp) through the dump engine')
    .argument('<in>', 'ELF core, flattened or raw kdump file')
    .argument('<out>', 'file to write (created only when the conversion succeeds)')
    .addOption(new Option('--format <format>', 'output format').choices(DUMP_FORMATS).makeOptionMandatory())
    .addOption(new Option('--compat <flavour>', "write QEMU's exact bytes, quirks included").choices(['qemu-7.2']))
    .option('--json', 'machine-readable output', false)
    .action(async (input: string, output: string, options: { format: DumpFormat; compat?: 'qemu-7.2'; json: boolean }) => {
      const report = await interruptible((signal) =>
        convertFile(input, output, { ...options, signal, progress: { enabled: progressEnabled(options.json) } }, (line) => process.stderr.write(`slice86: ${line}\n`)),
      );
      out(options.json ? toJson(report) : convertLine(report));
    });
  program
    .command('run')
    .description("boot a firmware image as QEMU's -bios on the machine's CPU; exit status follows isa-debug-exit")
    .argument('[firmware]', 'firmware image (a multiple of 64 KiB, as QEMU requires; mapped below 4 GiB, reset vector at its last 16 bytes); default: the built-in firmware/cpu/default.asm')
    .addOption(new Option('--machine <type>', 'machine type').choices(['pc', 'q35']).default('pc'))
    .option('--memory <size>', 'guest RAM, e.g. 512M or 4G', size, 128 * 2 ** 20)
    .option('--cpus <n>', 'number of CPUs (the others wait for SIPI, as QEMU shows them)', positiveInteger, 1)
    .option('--debugcon <file>', "write the debug console (port 0xe9) to FILE, or '-' for standard output")
    .option('--max-instructions <n>', 'stop after N instructions (exit status 124)', positiveInteger)
    .option('--dump <file>', 'dump the machine to FILE when it stops')
    .addOption(new Option('--format <format>', 'dump format').choices(DUMP_FORMATS))
    .option('--paging', 'dump with paging (virtual addresses, as QMP paging=true)', false)
    .option('--begin <address>', 'dump only from this guest-physical address', integerArgument)
    .option('--length <bytes>', 'dump only this many bytes', integerArgument)
    .addOption(new Option('--compat <flavour>', "write QEMU's exact bytes, quirks included").choices(['qemu-7.2']))
    .option('--json', 'machine-readable output', false)
    .action(async (firmware: string | undefined, options: Parameters<typeof runFirmware>[1]) => {
      // Ctrl-C stops the CPU (or the dump, deleting its temporary file) and exits 130.
      process.exitCode = await interruptible((signal) => runFirmware(firmware, { ...options, signal }, out));
    });
  return program;
}

function integerArgument(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`"${text}" is not a non-negative integer`);
  return value;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram((line) => process.stdout.write(`${line}\n`));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help text, which exits 0).
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof Interrupted) {
      process.stderr.write('slice86: cancelled; no partial file left\n');
      return EXIT_INTERRUPTED;
    }
    if (error instanceof Slice86Error) {
      process.stderr.write(`slice86: ${error.message} (${error.code})\n`);
      return EXIT_FAILURE;
    }
    if (error instanceof Failed) {
      process.stderr.write(`slice86: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    process.stderr.write(`slice86: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

// A reader that stops early (`slice86 inspect dump | head`) closes the pipe: end quietly, as
// Unix tools do, instead of printing an EPIPE stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  process.exit(error.code === 'EPIPE' ? 0 : EXIT_FAILURE);
});

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
