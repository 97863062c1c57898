/**
 * SingleStepTests 80286 real-mode vectors (test/fixtures/vectors/80286-real, MIT, recorded on a
 * Harris 80C286): every test is loaded into a bare CPU with 17 MiB of RAM, run until its HLT,
 * and compared register by register and byte by byte under the form's undefined-flags mask.
 *
 * The documented differences between that 286 and the 386-class CPU we model (the vectors'
 * README) are applied, and each one is counted and checked, not silently dropped:
 * - FLAGS bits 12-15 read 0 in 286 real mode: compared under 0x0fff.
 * - LOCK on a non-lockable instruction: no exception on the 286, #UD (6) here.
 * - Instructions longer than 10 bytes: #GP (13) on the 286; the 386 limit is 15.
 * - D8 (coprocessor escape) with no coprocessor: a no-op on the recording rig; our CPU has an
 *   x87 and does not model its arithmetic, so it raises #UD.
 * - FS and GS (segment-register fields 4 and 5 of 8C/8E) do not exist on the 286: #UD there.
 * - A real-mode access beyond the SS limit is #GP (13) on the 286 and #SS (12) on the 386 (SDM
 *   Vol. 2, real-address-mode exceptions).
 * - A string instruction that faults at the segment limit has already stepped SI/DI (and CX) on
 *   the 286; the 386 leaves them as they were, so the instruction restarts cleanly.
 * - C0.0-C0.3 (rotates by imm8) carry no OF mask in the suite although OF is undefined for counts
 *   other than 1 (the vectors' README suspects the mask): OF is masked for those counts.
 * The pushed FLAGS word is located from SS:SP (the suite's flag_address is one byte low when SP
 * is odd).
 */

import { readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Diagnostics } from '../../../src/core/diagnostics.js';
import { BackingStore, GuestMemory } from '../../../src/core/guest-memory.js';
import { PortBus } from '../../../src/core/port-bus.js';
import { Cpu, CS, DS, ES, SS } from '../../../src/cpu/cpu.js';
import { runCpu } from '../../../src/cpu/run.js';

const DIR = new URL('../../fixtures/vectors/80286-real/', import.meta.url);
const REGS = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'] as const;
const SEGS = { es: ES, cs: CS, ss: SS, ds: DS } as const;

interface Regs { ax: number; bx: number; cx: number; dx: number; cs: number; ss: number; ds: number; es: number; sp: number; bp: number; si: number; di: number; ip: number; flags: number }
interface Vector {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Partial<Regs>; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
}
interface FormInfo { flags_mask: number }

const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { forms: Record<string, FormInfo> };

function machine(): { cpu: Cpu; ram: Uint8Array } {
  const diagnostics = new Diagnostics();
  const backing = new BackingStore('ram', 17 * 2 ** 20);
  const memory = new GuestMemory([{ name: 'ram', gpa: 0, sizeBytes: backing.sizeBytes, kind: 'ram', backing, backingOffset: 0 }], diagnostics);
  const ports = new PortBus(diagnostics);
  // The recording rig's ports read all-ones at every width.
  ports.map(0, 0x10000, { ioRead: (_o, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff), ioWrite: () => undefined }, {
    name: 'open-bus', minAccessSize: 1, maxAccessSize: 4, unaligned: true,
  });
  const cpu = new Cpu({ memory, ports, diagnostics });
  const [ram] = backing.chunks;
  if (ram === undefined) throw new Error('no RAM');
  return { cpu, ram };
}

type Outcome = 'match' | 'lock' | 'long' | 'fpu' | 'fs-gs' | 'ss-limit' | 'string-fault';

function runVector(cpu: Cpu, ram: Uint8Array, t: Vector, mask: number): { outcome: Outcome; diffs: string[] } {
  const r = t.initial.regs;
  for (const [a, v] of t.initial.ram) ram[a] = v;
  REGS.forEach((name, i) => { cpu.set32(i, r[name]); });
  for (const [name, seg] of Object.entries(SEGS)) cpu.setSegmentReal(seg, r[name as keyof typeof SEGS]);
  cpu.ip = r.ip;
  cpu.setFlags(r.flags & 0x0fff);
  cpu.runState = 'running';
  const { stop } = runCpu(cpu, 1000, () => false);
  const diffs: string[] = [];
  if (stop !== 'halted') diffs.push(`stopped: ${stop}`);
  const expected = { ...r, flags: r.flags & 0x0fff, ...t.final.regs };
  REGS.forEach((name, i) => {
    const got = cpu.get16(i);
    if (got !== expected[name]) diffs.push(`${name} ${got.toString(16)} != ${expected[name].toString(16)}`);
  });
  for (const [name, seg] of Object.entries(SEGS)) {
    const want = expected[name as keyof typeof SEGS];
    if (cpu.sel[seg] !== want) diffs.push(`${name} ${(cpu.sel[seg] ?? 0).toString(16)} != ${want.toString(16)}`);
  }
  // The model stops after executing HLT, as the suite's final IP expects.
  if ((cpu.ip & 0xffff) !== expected.ip) diffs.push(`ip ${cpu.ip.toString(16)} != ${expected.ip.toString(16)}`);
  const flags = cpu.getFlags() & 0x0fff;
  if ((flags & mask) !== (expected.flags & mask)) diffs.push(`flags ${flags.toString(16)} != ${expected.flags.toString(16)} (mask ${mask.toString(16)})`);
  const flagAt = t.exception === undefined ? undefined : r.ss * 16 + ((r.sp - 2) & 0xffff);
  for (const [a, v] of t.final.ram) {
    let m = 0xff;
    if (a === flagAt) m = mask & 0xff;
    else if (flagAt !== undefined && a === flagAt + 1) m = (mask >> 8) & 0x0f;
    const got = ram[a] ?? 0;
    if ((got & m) !== (v & m)) diffs.push(`ram[${a.toString(16)}] ${got.toString(16)} != ${v.toString(16)}`);
  }
  // Clean up for the next test.
  for (const [a] of t.initial.ram) ram[a] = 0;
  for (const [a] of t.final.ram) ram[a] = 0;
  if (flagAt !== undefined) {
    for (let a = flagAt - 8; a < flagAt + 8; a++) ram[a] = 0;
  }
  if (diffs.length === 0) return { outcome: 'match', diffs };
  return { outcome: classify(t, diffs), diffs };
}

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3]);
const STRING_OPS = new Set([0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]);

/** Whether LOCK is allowed on this opcode and ModRM on a 386 (read-modify-write of memory). */
function lockable(opcode: number, modrm: number): boolean {
  const mem = modrm >> 6 !== 3;
  const reg = (modrm >> 3) & 7;
  if (opcode < 0x40) return mem && (opcode & 7) < 2 && (opcode & 0x38) !== 0x38;
  if (opcode >= 0x80 && opcode <= 0x83) return mem && reg !== 7;
  if (opcode === 0x86 || opcode === 0x87) return mem;
  if (opcode === 0xf6 || opcode === 0xf7) return mem && (reg === 2 || reg === 3);
  if (opcode === 0xfe || opcode === 0xff) return mem && reg <= 1;
  return false;
}

/** Which documented 286 difference, if any, explains a mismatch. */
function classify(t: Vector, diffs: string[]): Outcome {
  let i = 0;
  let lock = false;
  while (i < t.bytes.length && PREFIXES.has(t.bytes[i] ?? 0)) {
    if (t.bytes[i] === 0xf0) lock = true;
    i++;
  }
  const opcode = t.bytes[i] ?? 0;
  const modrm = t.bytes[i + 1] ?? 0;
  if (t.exception?.number === 13 && t.bytes.length - 1 > 10) return 'long';
  if (lock && !lockable(opcode, modrm)) return 'lock';
  if (opcode === 0xd8) return 'fpu';
  if ((opcode === 0x8c || opcode === 0x8e) && ((modrm >> 3) & 7) >= 4) return 'fs-gs';
  if (t.exception?.number === 13 && STRING_OPS.has(opcode) && diffs.every((x) => /^(si|di|cx) /.test(x))) return 'string-fault';
  if (t.exception?.number === 13 && usesSs(t.bytes.slice(0, i), opcode, modrm)) return 'ss-limit';
  return 'match';
}

/** The instruction's memory operand is SS-relative: BP-based ModRM without override, or a stack operation. */
function usesSs(prefixes: number[], opcode: number, modrm: number): boolean {
  const override = prefixes.find((p) => p === 0x26 || p === 0x2e || p === 0x36 || p === 0x3e);
  const stackOp = [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x06, 0x07, 0x0e, 0x16, 0x17,
    0x1e, 0x1f, 0x60, 0x61, 0x68, 0x6a, 0x8f, 0x9c, 0x9d, 0xc2, 0xc3, 0xc8, 0xc9, 0xca, 0xcb, 0xcf, 0xe8, 0x9a].includes(opcode);
  if (stackOp || ((opcode === 0xff) && [2, 3, 6].includes((modrm >> 3) & 7))) return true;
  if (override !== undefined) return override === 0x36;
  const rm = modrm & 7;
  const mod = modrm >> 6;
  return mod !== 3 && (rm === 2 || rm === 3 || (rm === 6 && mod !== 0));
}

const forms = readdirSync(DIR).filter((f) => f.endsWith('.jsonl.gz')).sort();

describe('80286 real-mode conformance vectors', () => {
  const { cpu, ram } = machine();
  const counts: Record<Outcome, number> = { match: 0, lock: 0, long: 0, fpu: 0, 'fs-gs': 0, 'ss-limit': 0, 'string-fault': 0 };
  for (const form of forms) {
    it(form.replace('.jsonl.gz', ''), () => {
      const info = index.forms[form];
      if (info === undefined) throw new Error(`${form} is not in index.json`);
      const formMask = info.flags_mask & 0x0fff;
      const rotateImm = /^C0\.[0-3]$/.test(form.replace('.jsonl.gz', ''));
      const lines = gunzipSync(readFileSync(new URL(form, DIR))).toString('utf8').trim().split('\n');
      const failures: string[] = [];
      for (const line of lines) {
        const t = JSON.parse(line) as Vector;
        const count = (t.bytes[t.bytes.length - 2] ?? 0) & 0x1f;
        const mask = rotateImm && count !== 1 ? formMask & ~0x800 : formMask;
        const { outcome, diffs } = runVector(cpu, ram, t, mask);
        if (diffs.length === 0) counts.match++;
        else if (outcome !== 'match') counts[outcome]++;
        else failures.push(`#${t.idx} ${t.name} [${t.bytes.map((b) => b.toString(16)).join(' ')}]: ${diffs.join('; ')}`);
      }
      expect(failures).toEqual([]);
    });
  }
  it('accounts for every vector', () => {
    const explained = counts.lock + counts.long + counts.fpu + counts['fs-gs'] + counts['ss-limit'] + counts['string-fault'];
    expect({ ...counts, total: counts.match + explained }).toMatchObject({ total: 8125 });
    // Each documented difference is pinned, so a model change that hides a real mismatch behind
    // one of them shows up here. LOCK dominates: the suite prepends random LOCK prefixes.
    expect(counts).toEqual({ match: 7942, lock: 141, fpu: 25, 'fs-gs': 2, long: 8, 'ss-limit': 3, 'string-fault': 4 });
  });
});
