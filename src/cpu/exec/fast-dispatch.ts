/**
 * Which cached instructions the run loop (run.ts) calls by name. The common handlers get a small
 * integer kind, and the loop calls them from one switch on it, so the optimising compiler sees
 * each call's target and can inline it into the loop; the rest go through the handler reference.
 * HOT and the cases of that switch list the same handlers in the same order (kind = index + 1).
 * The list is short on purpose: the compiler's inlining budget for the loop is small, and every
 * inlined handler spends some of it.
 */

import type { DecodedOp, OpHandler } from '../code-cache.js';
import * as F from './fast-ops.js';

const HOT: readonly OpHandler[] = [F.jcc, F.decR32, F.incR32, F.lodsd, F.stosd, F.aluRR32, F.movRM32, F.movOA32, F.aluRI32];

/** The kind of `run`: its place in HOT plus one, or 0 for a handler called through the reference. */
export function kindOf(run: OpHandler): number {
  return HOT.indexOf(run) + 1;
}

/**
 * The index of the instruction of a block started at `ip0` that faulted, from RIP: the loop sets
 * RIP to the end of each instruction before its handler runs, and handlers change RIP only after
 * everything that can fault, so RIP is still the end of that instruction.
 */
export function faultedAt(ops: readonly DecodedOp[], ip0: number, ip: number): number {
  let k = 0;
  while (k < ops.length - 1 && ip0 + ops[k]!.end !== ip) k++;
  return k;
}
