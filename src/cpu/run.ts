/**
 * The instruction loop: executes until a budget runs out, the CPU halts, or the caller asks it to
 * stop, and turns faults into exceptions delivered to the guest with the double-fault rules
 * (SDM Vol. 3 §6.15, as QEMU 7.2's check_exception applies them). A fault while delivering a
 * double fault is a triple fault, reported to the caller; nothing escapes into the host.
 */

import { CS, F_RF, F_TF, RSP, TWO32, type Cpu } from './cpu.js';
import { CpuFault, VEC_DB, VEC_DF, VEC_PF, isContributory } from './faults.js';
import { step } from './exec/step.js';
import { buildBlock } from './exec/fast-decode.js';
import { faultedAt } from './exec/fast-dispatch.js';
import * as F from './exec/fast-ops.js';
import { LAST_ENTRY, MISSING, type CodeBlock, type CodePage, type DecodedOp } from './code-cache.js';
import { deliverInterrupt, exceptionErrorCode } from './exec/system.js';

export type CpuStop = 'halted' | 'triple-fault' | 'instruction-limit' | 'stopped';

export interface CpuRunResult {
  readonly executed: number;
  readonly stop: CpuStop;
}

/**
 * Runs `cpu` for at most `budget` instructions. `stopRequested` is asked after every instruction
 * that wrote an I/O port (isa-debug-exit) and whenever `cpu.stopFlag` is set.
 *
 * cpu.instructions is brought up to date before each instruction the interpreter runs (RDTSC
 * reads it) and when the run returns, not after each cached one.
 */
export function runCpu(cpu: Cpu, budget: number, stopRequested: () => boolean): CpuRunResult {
  const before = cpu.instructions;
  let executed = 0;
  let outs = cpu.portWrites;
  // Guest RAM may have changed since the last run: blocks check their bytes again.
  cpu.codeEpoch++;
  while (executed < budget) {
    if (cpu.runState !== 'running') return finish(cpu, before, executed, 'halted');
    if ((cpu.fl & (F_TF | F_RF)) === 0 && !cpu.debugActive) {
      // The fast path: no single-step, no breakpoints. Faults leave the inner loop through the catch.
      // `blockOps` is the block being run (started at `blockIp`), null while the interpreter runs
      // an instruction.
      let blockOps: readonly DecodedOp[] | null = null;
      let blockIp = 0;
      try {
        while (executed < budget) {
          // A block of cached instructions: in the code window, decoded for this mode, its bytes
          // unchanged. Their handlers cannot halt, write a port, stop, set TF or touch the debug
          // registers, so nothing needs checking between them but the budget and the code epoch.
          const page = cpu.codePage;
          const i = cpu.ip - cpu.fetchBase;
          if (page !== null && i >= 0 && i <= LAST_ENTRY) {
            let block = page.blocks[i]!;
            if (block.epoch !== cpu.codeEpoch) block = currentBlock(cpu, page, i, block);
            if (block.ops.length !== 0) {
              // RIP is set to each instruction's end before its handler runs (branches replace it);
              // the common handlers are called by name (exec/fast-dispatch.ts lists them by kind).
              const ops = block.ops;
              const ip0 = cpu.ip;
              const epoch = cpu.codeEpoch;
              const n = Math.min(ops.length, budget - executed);
              blockOps = ops;
              blockIp = ip0;
              let k = 0;
              do {
                const op = ops[k]!;
                cpu.ip = ip0 + op.end;
                switch (op.kind) {
                  case 1: F.jcc(cpu, op); break;
                  case 2: F.decR32(cpu, op); break;
                  case 3: F.incR32(cpu, op); break;
                  case 4: F.lodsd(cpu); break;
                  case 5: F.stosd(cpu); break;
                  case 6: F.aluRR32(cpu, op); break;
                  case 7: F.movRM32(cpu, op); break;
                  case 8: F.movOA32(cpu, op); break;
                  case 9: F.aluRI32(cpu, op); break;
                  default: op.run(cpu, op);
                }
              } while (++k < n && cpu.codeEpoch === epoch);
              executed += k;
              continue;
            }
          }
          // Outside the code window (a jump to another page, or CS or paging changed): open it
          // here rather than through the interpreter's fetch, and look for a block again.
          if (!(i >= 0 && i < cpu.fetchLen) && cpu.openCodeWindowAtIp()) continue;
          blockOps = null;
          cpu.instructions = before + executed;
          step(cpu);
          executed++;
          cpu.codeEpoch++;
          // step() changes these fields; re-read them (the compiler cannot see that).
          if (!stillFast(cpu, outs)) break;
        }
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        let ok: boolean;
        if (blockOps === null) {
          executed++;
          ok = faulted(cpu, e);
        } else {
          const k = faultedAt(blockOps, blockIp, cpu.ip);
          executed += k + 1;
          ok = cachedFaulted(cpu, blockOps[k]!, e);
        }
        cpu.instructions = before + executed;
        cpu.codeEpoch++;
        if (!ok) return finish(cpu, before, executed, 'triple-fault');
        continue;
      }
    } else {
      cpu.instructions = before + executed;
      const singleStep = (cpu.fl & F_TF) !== 0;
      let ok = true;
      if (cpu.debugActive && instructionBreakpoint(cpu)) {
        ok = raiseException(cpu, VEC_DB, -1);
      } else {
        cpu.dataHits = 0;
        try {
          step(cpu);
          cpu.fl &= ~F_RF;
          if (singleStep || cpu.dataHits !== 0) ok = debugTrap(cpu, singleStep);
        } catch (e) {
          if (!(e instanceof CpuFault)) throw e;
          ok = faulted(cpu, e);
        }
      }
      executed++;
      cpu.codeEpoch++;
      if (!ok) return finish(cpu, before, executed, 'triple-fault');
    }
    if (cpu.portWrites !== outs || cpu.stopFlag) {
      outs = cpu.portWrites;
      cpu.instructions = before + executed;
      if (cpu.stopFlag || stopRequested()) return finish(cpu, before, executed, 'stopped');
    }
  }
  return finish(cpu, before, executed, cpu.runState !== 'running' ? 'halted' : 'instruction-limit');
}

/**
 * The block at offset i of `page` as the page's bytes are now: `block` if they are unchanged (it
 * is then current for this code epoch), else a new one decoded from them.
 */
function currentBlock(cpu: Cpu, page: CodePage, i: number, block: CodeBlock): CodeBlock {
  if (block !== MISSING && block.unchanged(page.view, i)) {
    block.epoch = cpu.codeEpoch;
    return block;
  }
  const fresh = buildBlock(page, i);
  if (fresh.ops.length !== 0 && !page.isCode) cpu.markCodePage(page);
  fresh.epoch = cpu.codeEpoch;
  page.blocks[i] = fresh;
  return fresh;
}

function finish(cpu: Cpu, before: number, executed: number, stop: CpuStop): CpuRunResult {
  cpu.instructions = before + executed;
  return { executed, stop };
}

/** The fast loop may go on: running, no port write, no stop request, no single-step or breakpoint. */
function stillFast(cpu: Cpu, outs: number): boolean {
  return cpu.runState === 'running' && cpu.portWrites === outs && !cpu.stopFlag && (cpu.fl & F_TF) === 0 && !cpu.debugActive;
}

/** Rolls the faulting instruction back and delivers its exception; false on a triple fault. */
function faulted(cpu: Cpu, e: CpuFault): boolean {
  cpu.ip = cpu.startIp;
  cpu.r[RSP] = cpu.startSpLo;
  cpu.rh[RSP] = cpu.startSpHi;
  return raiseException(cpu, e.vector, e.errorCode);
}

/**
 * A cached instruction's fault: its handler changes neither RIP (beyond the length the loop added)
 * nor RSP before anything that can fault, so only the length comes off RIP.
 */
function cachedFaulted(cpu: Cpu, op: DecodedOp, e: CpuFault): boolean {
  cpu.ip -= op.len;
  cpu.startIp = cpu.ip;
  return raiseException(cpu, e.vector, e.errorCode);
}

/** An enabled execute breakpoint at CS:RIP (and RF clear): sets its DR6 bit. */
function instructionBreakpoint(cpu: Cpu): boolean {
  if ((cpu.fl & F_RF) !== 0) return false;
  const dr7 = cpu.dr[7]!;
  const lin = cpu.code64 ? cpu.ip : (cpu.segBase[CS]! + cpu.ip) % TWO32;
  let hits = 0;
  for (let i = 0; i < 4; i++) {
    if (((dr7 >> (i * 2)) & 3) !== 0 && ((dr7 >> (16 + i * 4)) & 3) === 0 && cpu.dr[i] === lin) hits |= 1 << i;
  }
  if (hits === 0) return false;
  setDr6(cpu, hits, false);
  return true;
}

/** DR6 as QEMU updates it: B0-B3 replaced by this event's hits, BS sticky. */
function setDr6(cpu: Cpu, hits: number, singleStep: boolean): void {
  const dr6 = BigInt.asUintN(64, BigInt(cpu.dr[6]!));
  let v = (dr6 & ~0xfn) | BigInt(hits);
  if (singleStep) v |= 0x4000n;
  cpu.dr[6] = Number(BigInt.asIntN(64, v));
}

/** #DB trap after an instruction: single step (TF) and/or data breakpoints. */
function debugTrap(cpu: Cpu, singleStep: boolean): boolean {
  setDr6(cpu, cpu.dataHits, singleStep);
  cpu.dataHits = 0;
  return raiseException(cpu, VEC_DB, -1);
}

/** Delivers an exception raised by the instruction at RIP; false on a triple fault. */
export function raiseException(cpu: Cpu, vector: number, errorCode: number): boolean {
  let v = vector;
  let code = errorCode;
  for (;;) {
    try {
      deliverInterrupt(cpu, v, false, exceptionErrorCode(cpu, v, code), cpu.ip);
      return true;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (v === VEC_DF) {
        cpu.bus.diagnostics.report('cpu-triple-fault', () => `fault ${e.vector} while delivering #DF at ${cpu.ip.toString(16)}`);
        return false;
      }
      const second = e.vector;
      if ((isContributory(v) && isContributory(second)) || (v === VEC_PF && (isContributory(second) || second === VEC_PF))) {
        v = VEC_DF;
        code = 0;
      } else {
        v = second;
        code = e.errorCode;
      }
    }
  }
}
