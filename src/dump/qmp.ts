/**
 * A QMP-shaped front end to the dump engine: `{ execute, arguments }` in, `{ return }` or
 * `{ error: { class, desc } }` out, with QEMU 7.2's texts for the same bad requests, in QEMU's
 * order: argument parsing, the command's own checks, opening the protocol, then dump start.
 * Where the bytes go is the embedder's choice: `openFile` turns "file:PATH" into a sink (or throws
 * with the system's reason, e.g. "No such file or directory"), and `openFd` resolves "fd:NAME".
 */

import { DumpError } from '../core/errors.js';
import { DUMP_FORMATS, validateRequest, type DumpEngine, type DumpFormat, type DumpOptions } from './engine.js';
import type { ByteSink } from './sink.js';
import type { DumpSource } from './source.js';

export interface QmpCommand {
  readonly execute: string;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

export type QmpReply =
  | { readonly return: unknown }
  | { readonly error: { readonly class: 'GenericError' | 'CommandNotFound'; readonly desc: string } };

export interface QmpContext {
  readonly engine: DumpEngine;
  readonly source: () => DumpSource;
  /** Creates the output file of "file:PATH"; throws an Error whose message is the reason. */
  readonly openFile: (path: string) => ByteSink | Promise<ByteSink>;
  /** The sink registered under "fd:NAME", or undefined. */
  readonly openFd?: (name: string) => ByteSink | undefined;
  readonly compat?: 'qemu-7.2' | undefined;
}

/** QEMU 7.2's protocol handling: "file:" and "fd:" prefixes, with its texts for the failures. */
async function openProtocol(protocol: string, ctx: QmpContext): Promise<ByteSink> {
  if (protocol.startsWith('fd:')) {
    const name = protocol.slice(3);
    const sink = ctx.openFd?.(name);
    if (sink === undefined) throw new Error(`File descriptor named '${name}' has not been found`);
    return sink;
  }
  if (protocol.startsWith('file:')) {
    const path = protocol.slice(5);
    try {
      return await ctx.openFile(path);
    } catch (e) {
      throw new Error(`Could not open '${path}': ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  throw new Error("Invalid parameter 'protocol'");
}

const ARGUMENT_TYPES: Readonly<Record<string, 'boolean' | 'string' | 'integer'>> = {
  paging: 'boolean',
  protocol: 'string',
  detach: 'boolean',
  begin: 'integer',
  length: 'integer',
  format: 'string',
};

function error(desc: string, errorClass: 'GenericError' | 'CommandNotFound' = 'GenericError'): QmpReply {
  return { error: { class: errorClass, desc } };
}

export async function executeQmp(command: QmpCommand, ctx: QmpContext): Promise<QmpReply> {
  switch (command.execute) {
    case 'query-dump':
      return { return: ctx.engine.queryDump() };
    case 'query-dump-guest-memory-capability':
      return { return: ctx.engine.queryCapabilities() };
    case 'dump-guest-memory':
      return dumpGuestMemoryCommand(command.arguments ?? {}, ctx);
    default:
      return error(`The command ${command.execute} has not been found`, 'CommandNotFound');
  }
}

/** QAPI's argument checks: unknown names, missing mandatory ones, types, the format enum. */
function parseArguments(args: Readonly<Record<string, unknown>>): { options: Omit<DumpOptions, 'sink'> & { protocol: string; detach: boolean } } | { error: string } {
  for (const name of Object.keys(args)) {
    if (!(name in ARGUMENT_TYPES)) return { error: `Parameter '${name}' is unexpected` };
  }
  for (const name of ['paging', 'protocol']) if (!(name in args)) return { error: `Parameter '${name}' is missing` };
  for (const [name, type] of Object.entries(ARGUMENT_TYPES)) {
    const value = args[name];
    if (value === undefined) continue;
    // QMP integers are int64; beyond 2^53 JavaScript keeps them approximately, which the filter
    // arithmetic tolerates (such lengths mean "everything from begin").
    const ok = type === 'integer' ? Number.isInteger(value) : typeof value === type;
    if (!ok) return { error: `Invalid parameter type for '${name}', expected: ${type === 'integer' ? 'integer' : type}` };
  }
  const format = args['format'] as string | undefined;
  if (format !== undefined && !(DUMP_FORMATS as readonly string[]).includes(format)) {
    return { error: `Parameter 'format' does not accept value '${format}'` };
  }
  return {
    options: {
      paging: args['paging'] as boolean,
      protocol: args['protocol'] as string,
      detach: (args['detach'] as boolean | undefined) ?? false,
      begin: args['begin'] as number | undefined,
      length: args['length'] as number | undefined,
      format: format as DumpFormat | undefined,
    },
  };
}

async function dumpGuestMemoryCommand(args: Readonly<Record<string, unknown>>, ctx: QmpContext): Promise<QmpReply> {
  const parsed = parseArguments(args);
  if ('error' in parsed) return error(parsed.error);
  const { protocol, detach, ...options } = parsed.options;
  try {
    validateRequest(ctx.engine, options);
  } catch (e) {
    return error(e instanceof DumpError && e.qemuMessage !== undefined ? e.qemuMessage : String(e));
  }
  let sink: ByteSink;
  try {
    sink = await openProtocol(protocol, ctx);
  } catch (e) {
    return error(e instanceof Error ? e.message : String(e));
  }
  const run = ctx.engine.dump(ctx.source(), { ...options, sink, compat: ctx.compat });
  if (detach) {
    // A detached dump reports through query-dump and the completion event, not this reply.
    run.catch(() => undefined);
    return { return: {} };
  }
  try {
    await run;
    return { return: {} };
  } catch (e) {
    return error(e instanceof DumpError && e.qemuMessage !== undefined ? e.qemuMessage : e instanceof Error ? e.message : String(e));
  }
}
