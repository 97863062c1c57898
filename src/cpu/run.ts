/**
 * The instruction loop: executes until a budget runs out, the CPU halts, or the caller asks it to
 * stop, and turns faults into exceptions delivered to the guest with the double-fault rules
 * (SDM Vol. 3 §6.15, as QEMU 7.2's check_exception applies them). A fault while delivering a
 * double fault is a triple fault, reported to the caller; nothing escapes into the host.
 */

import { RSP, type Cpu } from './cpu.js';
import { CpuFault, VEC_DF, VEC_PF, isContributory } from './faults.js';
import { step } from './exec/step.js';
import { deliverInterrupt, exceptionErrorCode } from './exec/system.js';

export type CpuStop = 'halted' | 'triple-fault' | 'instruction-limit' | 'stopped';

export interface CpuRunResult {
  readonly executed: number;
  readonly stop: CpuStop;
}

/**
 * Runs `cpu` for at most `budget` instructions. `stopRequested` is polled after each instruction
 * (devices set it, e.g. isa-debug-exit).
 */
export function runCpu(cpu: Cpu, budget: number, stopRequested: () => boolean): CpuRunResult {
  let executed = 0;
  while (executed < budget) {
    if (cpu.runState !== 'running') return { executed, stop: 'halted' };
    try {
      step(cpu);
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      cpu.ip = cpu.startIp;
      cpu.r[RSP] = cpu.startSpLo;
      cpu.rh[RSP] = cpu.startSpHi;
      if (!raiseException(cpu, e.vector, e.errorCode)) {
        executed++;
        cpu.instructions++;
        return { executed, stop: 'triple-fault' };
      }
    }
    executed++;
    cpu.instructions++;
    if (stopRequested()) return { executed, stop: 'stopped' };
  }
  return { executed, stop: cpu.runState !== 'running' ? 'halted' : 'instruction-limit' };
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
