/**
 * Architectural exceptions as internal unwinding values. An instruction that faults throws a
 * CpuFault; the interpreter catches it at the instruction boundary, rolls RIP and RSP back to the
 * instruction's start and delivers the exception to the guest. Nothing outside src/cpu sees one.
 */

export const VEC_DE = 0;
export const VEC_DB = 1;
export const VEC_BP = 3;
export const VEC_OF = 4;
export const VEC_BR = 5;
export const VEC_UD = 6;
export const VEC_NM = 7;
export const VEC_DF = 8;
export const VEC_TS = 10;
export const VEC_NP = 11;
export const VEC_SS = 12;
export const VEC_GP = 13;
export const VEC_PF = 14;
export const VEC_MF = 16;
export const VEC_AC = 17;
export const VEC_XM = 19;

/** Vectors that push an error code in protected and long mode. */
export function pushesErrorCode(vector: number): boolean {
  return vector === VEC_DF || (vector >= VEC_TS && vector <= VEC_PF) || vector === VEC_AC;
}

/** Contributory exceptions for the double-fault rules (SDM Vol. 3 Table 6-5). */
export function isContributory(vector: number): boolean {
  return vector === VEC_DE || (vector >= VEC_TS && vector <= VEC_GP);
}

export class CpuFault {
  readonly vector: number;
  /** -1: none pushed. */
  readonly errorCode: number;
  constructor(vector: number, errorCode = -1) {
    this.vector = vector;
    this.errorCode = errorCode;
  }
}


/** #GP with a selector error code. */
export function gp(errorCode = 0): CpuFault {
  return new CpuFault(VEC_GP, errorCode);
}
