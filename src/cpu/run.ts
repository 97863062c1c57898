/**
 * The instruction loop: executes until a budget runs out, the CPU halts, or the caller asks it to
 * stop, and turns faults into exceptions delivered to the guest with the double-fault rules
 * (SDM Vol. 3 §6.15, as QEMU 7.2's check_exception applies them). A fault while delivering a
 * double fault is a triple fault, reported to the caller; nothing escapes into the host.
 */

import { CS, F_RF, F_TF, RSP, TWO32, type Cpu } from './cpu.js';
import { CpuFault, VEC_DB, VEC_DF, VEC_PF, isContributory } from './faults.js';
import { step } from './exec/step.js';
import { deliverInterrupt, exceptionErrorCode } from './exec/system.js';

export type CpuStop = 'halted' | 'triple-fault' | 'instruction-limit' | 'stopped';

export interface CpuRunResult {
  readonly executed: number;
  readonly stop: CpuStop;
}

/**
 * Runs `cpu` for at most `budget` instructions. `stopRequested` is asked after every instruction
 * that wrote an I/O port (isa-debug-exit) and whenever `cpu.stopFlag` is set.
 */
export function runCpu(cpu: Cpu, budget: number, stopRequested: () => boolean): CpuRunResult {
  let executed = 0;
  let outs = cpu.portWrites;
  while (executed < budget) {
    if (cpu.runState !== 'running') return { executed, stop: 'halted' };
    if ((cpu.fl & (F_TF | F_RF)) === 0 && !cpu.debugActive) {
      // The fast path: no single-step, no breakpoints. Faults leave the inner loop through the catch.
      try {
        while (executed < budget) {
          step(cpu);
          executed++;
          cpu.instructions++;
          // step() changes these fields; re-read them (the compiler cannot see that).
          if (stillFast(cpu, outs)) continue;
          break;
        }
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        executed++;
        cpu.instructions++;
        if (!faulted(cpu, e)) return { executed, stop: 'triple-fault' };
        continue;
      }
    } else {
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
      cpu.instructions++;
      if (!ok) return { executed, stop: 'triple-fault' };
    }
    if (cpu.portWrites !== outs || cpu.stopFlag) {
      outs = cpu.portWrites;
      if (cpu.stopFlag || stopRequested()) return { executed, stop: 'stopped' };
    }
  }
  return { executed, stop: cpu.runState !== 'running' ? 'halted' : 'instruction-limit' };
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
