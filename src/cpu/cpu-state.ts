/**
 * A CPU's state in the machine's save/restore format: the snapshot with 64-bit values as hex
 * strings and byte arrays as hex, so it survives JSON like every other device state, plus what a
 * snapshot does not carry (retired-instruction count, TSC offset, stored MSRs).
 */

import { StateError } from '../core/errors.js';
import { expectState, type VersionedState } from '../core/state.js';
import { GPR_NAMES, SEGMENT_NAMES, type CpuRunState, type CpuSnapshot, type GprName, type SegmentName, type SegmentState } from './state.js';
import type { Cpu } from './cpu.js';

export interface CpuState extends VersionedState {
  readonly v: 1;
  readonly snapshot: JsonSnapshot;
  readonly instructions: number;
  readonly tscOffset: string;
  readonly msrs: Readonly<Record<string, string>>;
}

type Jsonify<T> = T extends bigint ? string : T extends Uint8Array ? string : T extends readonly (infer U)[] ? Jsonify<U>[] : T extends object ? { [K in keyof T]: Jsonify<T[K]> } : T;
export type JsonSnapshot = Jsonify<CpuSnapshot>;

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const bytesHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function toJson(s: CpuSnapshot): JsonSnapshot {
  const seg = (x: SegmentState): Jsonify<SegmentState> => ({ selector: x.selector, base: hex(x.base), limit: x.limit, flags: x.flags });
  return {
    gpr: Object.fromEntries(GPR_NAMES.map((n) => [n, hex(s.gpr[n])])) as Record<GprName, string>,
    rip: hex(s.rip),
    rflags: hex(s.rflags),
    segments: Object.fromEntries(SEGMENT_NAMES.map((n) => [n, seg(s.segments[n])])) as Record<SegmentName, Jsonify<SegmentState>>,
    gdt: { base: hex(s.gdt.base), limit: s.gdt.limit },
    idt: { base: hex(s.idt.base), limit: s.idt.limit },
    cr0: hex(s.cr0), cr2: hex(s.cr2), cr3: hex(s.cr3), cr4: hex(s.cr4), cr8: hex(s.cr8), efer: hex(s.efer),
    kernelGsBase: hex(s.kernelGsBase),
    dr: s.dr.map(hex),
    apicBase: hex(s.apicBase),
    fpu: {
      ...s.fpu, fip: hex(s.fpu.fip), fdp: hex(s.fpu.fdp), st: s.fpu.st.map(bytesHex), xmm: s.fpu.xmm.map(bytesHex),
    },
    a20: s.a20,
    runState: s.runState,
  };
}

function big(device: string, v: unknown): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-f]{1,16}$/.test(v)) throw new StateError('bad-state', `${device} state holds ${String(v)} where a 64-bit hex value belongs`);
  return BigInt(v);
}

function bytes(device: string, v: unknown, n: number): Uint8Array {
  if (typeof v !== 'string' || v.length !== n * 2 || !/^[0-9a-f]*$/.test(v)) throw new StateError('bad-state', `${device} state holds a malformed ${n}-byte register`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = parseInt(v.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function num(device: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new StateError('bad-state', `${device} state holds ${String(v)} where an integer up to ${max} belongs`);
  return v;
}

/** Parses and checks a saved snapshot. @throws StateError */
function fromJson(device: string, j: JsonSnapshot): CpuSnapshot {
  try {
    const seg = (x: Jsonify<SegmentState>): SegmentState => ({
      selector: num(device, x.selector, 0xffff), base: big(device, x.base), limit: num(device, x.limit, 0xffffffff), flags: num(device, x.flags, 0xffffffff),
    });
    const runStates: CpuRunState[] = ['running', 'halted', 'wait-for-sipi'];
    if (!runStates.includes(j.runState)) throw new StateError('bad-state', `${device} state has run state ${j.runState as string}`);
    if (j.dr.length !== 8 || j.fpu.st.length !== 8 || j.fpu.xmm.length !== 16) throw new StateError('bad-state', `${device} state has the wrong number of registers`);
    return {
      gpr: Object.fromEntries(GPR_NAMES.map((n) => [n, big(device, j.gpr[n])])) as Record<GprName, bigint>,
      rip: big(device, j.rip),
      rflags: big(device, j.rflags),
      segments: Object.fromEntries(SEGMENT_NAMES.map((n) => [n, seg(j.segments[n])])) as Record<SegmentName, SegmentState>,
      gdt: { base: big(device, j.gdt.base), limit: num(device, j.gdt.limit, 0xffff) },
      idt: { base: big(device, j.idt.base), limit: num(device, j.idt.limit, 0xffff) },
      cr0: big(device, j.cr0), cr2: big(device, j.cr2), cr3: big(device, j.cr3), cr4: big(device, j.cr4), cr8: big(device, j.cr8), efer: big(device, j.efer),
      kernelGsBase: big(device, j.kernelGsBase),
      dr: j.dr.map((x) => big(device, x)),
      apicBase: big(device, j.apicBase),
      fpu: {
        fcw: num(device, j.fpu.fcw, 0xffff), fsw: num(device, j.fpu.fsw, 0xffff), ftw: num(device, j.fpu.ftw, 0xffff), fop: num(device, j.fpu.fop, 0xffff),
        fip: big(device, j.fpu.fip), fdp: big(device, j.fpu.fdp), mxcsr: num(device, j.fpu.mxcsr, 0xffffffff), mxcsrMask: num(device, j.fpu.mxcsrMask, 0xffffffff),
        st: j.fpu.st.map((x) => bytes(device, x, 10)), xmm: j.fpu.xmm.map((x) => bytes(device, x, 16)),
      },
      a20: j.a20,
      runState: j.runState,
    };
  } catch (e) {
    if (e instanceof StateError) throw e;
    throw new StateError('bad-state', `${device} state is malformed`, { cause: e });
  }
}

export function saveCpuState(cpu: Cpu): CpuState {
  return {
    v: 1,
    snapshot: toJson(cpu.snapshot()),
    instructions: cpu.instructions,
    tscOffset: hex(BigInt.asUintN(64, cpu.tscOffset)),
    msrs: Object.fromEntries([...cpu.msrs].map(([k, v]) => [k.toString(16), hex(v)])),
  };
}

/** Checks everything first, then loads. @throws StateError */
export function loadCpuState(cpu: Cpu, state: CpuState): void {
  const device = `cpu ${cpu.index}`;
  expectState(device, state, 1);
  const snapshot = fromJson(device, state.snapshot);
  const instructions = num(device, state.instructions, Number.MAX_SAFE_INTEGER);
  const tsc = BigInt.asIntN(64, big(device, state.tscOffset));
  const msrs = new Map<number, bigint>();
  for (const [k, v] of Object.entries(state.msrs)) msrs.set(parseInt(k, 16), big(device, v));
  cpu.load(snapshot);
  cpu.instructions = instructions;
  cpu.tscOffset = tsc;
  cpu.msrs.clear();
  for (const [k, v] of msrs) cpu.msrs.set(k, v);
}
