/**
 * The decoded-instruction cache (src/cpu/code-cache.ts) must not be observable: random 32-bit
 * code, rich in the instructions it caches, runs on two machines, one with the cache and one
 * that decodes every instruction anew, and both must end with the same result, CPU state and
 * RAM. Faults are delivered through an IDT into more of the random code, so their RIP, error
 * codes, CR2 and flags are compared too; paging and segment limits make faults happen. Then
 * self-modifying code and the host rewriting code between runs.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../../../src/index.js';
import type { CpuSnapshot } from '../../../src/cpu/state.js';
import { flat32Snapshot } from '../../support/cpu-snapshots.js';

const CODE = 0x1000;
const GDT = 0x100;
const IDT = 0x800;
const DATA = 0x2000;
const PAGE_DIR = 0x10000;
const PAGE_TABLE = 0x11000;
const STACK_TOP = 0x7000;

/** Opcodes the cache decodes (one- and two-byte), followed by random ModRM/SIB/displacement/immediate bytes. */
const OPCODES: readonly number[][] = [
  ...[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x18, 0x19, 0x1a, 0x1b,
    0x1c, 0x1d, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x38, 0x39,
    0x3a, 0x3b, 0x3c, 0x3d].map((b) => [b]),
  ...Array.from({ length: 0x20 }, (_, i) => [0x40 + i]),
  [0x68], [0x6a],
  ...Array.from({ length: 16 }, (_, i) => [0x70 + i]),
  [0x80], [0x81], [0x82], [0x83], [0x84], [0x85], [0x88], [0x89], [0x8a], [0x8b], [0x8d], [0x90], [0x98], [0x99],
  [0xa0], [0xa1], [0xa2], [0xa3], [0xa4], [0xa5], [0xa8], [0xa9], [0xaa], [0xab], [0xac], [0xad],
  ...Array.from({ length: 16 }, (_, i) => [0xb0 + i]),
  [0xc0], [0xc1], [0xc2], [0xc3], [0xc6], [0xc7], [0xc9], [0xd0], [0xd1], [0xd2], [0xd3], [0xe8], [0xe9], [0xeb], [0xfc], [0xfd], [0xfe], [0xff],
  ...Array.from({ length: 16 }, (_, i) => [0x0f, 0x80 + i]),
  ...Array.from({ length: 16 }, (_, i) => [0x0f, 0x90 + i]),
  ...Array.from({ length: 16 }, (_, i) => [0x0f, 0x40 + i]),
  [0x0f, 0xb6], [0x0f, 0xb7], [0x0f, 0xbe], [0x0f, 0xbf],
  // A few the cache leaves to the interpreter: prefixes, far and system instructions.
  [0x66], [0x26], [0xf3], [0x9c], [0x9d], [0xcd], [0x0f, 0xaf],
];

/** ModRM bytes that address near the data area (through EBX/ESI/EDI/EBP/ESP, disp32 or SIB). */
const instruction = fc.tuple(fc.constantFrom(...OPCODES), fc.uint8Array({ minLength: 0, maxLength: 9 })).map(([op, tail]) => [...op, ...tail]);
const codeArb = fc.array(instruction, { minLength: 1, maxLength: 40 }).map((list) => new Uint8Array(list.flat()));

/** A register value: mostly an address in or near the data, code or stack areas, sometimes anything. */
const regArb = fc.oneof(
  fc.integer({ min: DATA - 0x100, max: DATA + 0x4100 }),
  fc.integer({ min: CODE, max: CODE + 0x200 }),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff),
);

interface Setup {
  readonly paging: boolean;
  /** DS limit (a small one makes #GP). */
  readonly dsLimit: number;
  /** SS expand-down (limit 0x5fff: the stack lives above it). */
  readonly ssExpandDown: boolean;
  readonly regs: readonly number[];
  readonly eflags: number;
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  paging: fc.boolean(),
  dsLimit: fc.constantFrom(0xffffffff, 0xffffffff, 0x3fff, 0x2003),
  ssExpandDown: fc.boolean(),
  regs: fc.array(regArb, { minLength: 8, maxLength: 8 }),
  eflags: fc.constantFrom(0x2, 0x2, 0x8d7, 0x402),
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function descriptor(base: number, limit: number, access: number, flags: number): number[] {
  return [limit & 0xff, (limit >> 8) & 0xff, base & 0xff, (base >> 8) & 0xff, (base >> 16) & 0xff, access, (flags << 4) | ((limit >> 16) & 0xf), (base >>> 24) & 0xff];
}

/** GDT, an IDT whose gates lead into the random code, and page tables; then the code. */
function prepare(machine: Machine, code: Uint8Array): void {
  machine.memory.write(0, new Uint8Array(0x12000));
  machine.memory.write(GDT, new Uint8Array([
    ...descriptor(0, 0, 0, 0),
    ...descriptor(0, 0xfffff, 0x9b, 0xc), // 0x08 flat code
    ...descriptor(0, 0xfffff, 0x93, 0xc), // 0x10 flat data
  ]));
  const idt: number[] = [];
  for (let v = 0; v < 256; v++) {
    const target = CODE + ((v * 7) % code.length);
    idt.push(target & 0xff, (target >> 8) & 0xff, 0x08, 0, 0, 0x8e, (target >> 16) & 0xff, target >>> 24);
  }
  machine.memory.write(IDT, new Uint8Array(idt));
  // 4 KiB pages identity-mapping 4 MiB; the page at DATA+0x3000 is absent, the one at DATA+0x2000 read-only.
  const dir = new Uint8Array(4);
  dir.set(le32(PAGE_TABLE | 0x7));
  machine.memory.write(PAGE_DIR, dir);
  const table = new Uint8Array(4096);
  for (let i = 0; i < 1024; i++) {
    const page = i * 4096;
    const flags = page === DATA + 0x3000 ? 0 : page === DATA + 0x2000 ? 0x5 : 0x7;
    table.set(le32(page | flags), i * 4);
  }
  machine.memory.write(PAGE_TABLE, table);
  for (let i = 0; i < 0x4000; i += 4) machine.memory.write(DATA + i, new Uint8Array(le32(Math.imul(i, 0x9e3779b1))));
  machine.memory.write(CODE, code);
}

function snapshotFor(setup: Setup): CpuSnapshot {
  const s = flat32Snapshot(CODE);
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] as const;
  const gpr = { ...s.gpr };
  names.forEach((name, i) => (gpr[name] = BigInt(name === 'rsp' ? STACK_TOP - 0x40 : (setup.regs[i] ?? 0))));
  const ds = { selector: 0x10, base: 0n, limit: setup.dsLimit, flags: setup.dsLimit === 0xffffffff ? 0x00cf9300 : 0x00409300 };
  const ss = setup.ssExpandDown ? { selector: 0x10, base: 0n, limit: 0x5fff, flags: 0x00409700 } : s.segments.ss;
  return {
    ...s,
    gpr,
    rflags: BigInt(setup.eflags),
    cr0: setup.paging ? 0xe0010011n : s.cr0,
    cr3: BigInt(PAGE_DIR),
    gdt: { base: BigInt(GDT), limit: 0x17 },
    idt: { base: BigInt(IDT), limit: 0x7ff },
    segments: { ...s.segments, ds, ss },
  };
}

interface Outcome {
  readonly result: unknown;
  readonly cpu: CpuSnapshot;
  readonly ram: Uint8Array;
}

async function runOnce(machine: Machine, code: Uint8Array, setup: Setup, cache: boolean): Promise<Outcome> {
  prepare(machine, code);
  machine.bsp.decodeCache = cache;
  machine.bsp.load(snapshotFor(setup));
  const result = await machine.run({ maxInstructions: 400 });
  return { result, cpu: machine.bsp.snapshot(), ram: machine.memory.read(0, 0x12000) };
}

/** Offsets (at most 8) where two RAM images differ, with both bytes. */
function ramDiff(a: Uint8Array, b: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < a.length && out.length < 8; i++) if (a[i] !== b[i]) out.push(`${i.toString(16)}: ${String(a[i])} ${String(b[i])}`);
  return out;
}

describe('decoded-instruction cache', () => {
  it('runs random 32-bit code exactly as the interpreter does', async () => {
    const cached = createMachine({ memorySize: '16M' });
    const decoded = createMachine({ memorySize: '16M' });
    await fc.assert(fc.asyncProperty(codeArb, setupArb, async (code, setup) => {
      const a = await runOnce(cached, code, setup, true);
      const b = await runOnce(decoded, code, setup, false);
      expect(a.result).toEqual(b.result);
      expect(a.cpu).toEqual(b.cpu);
      expect(ramDiff(a.ram, b.ram)).toEqual([]);
    }), { numRuns: 400 });
  });

  it('sees code the program itself rewrote, at the next instruction', async () => {
    const machine = createMachine({ memorySize: '16M' });
    const patch = CODE + 6; // the immediate of the MOV EAX below
    const code = [
      0xb9, ...le32(2), //          mov ecx, 2
      0xb8, ...le32(1), //  loop:   mov eax, 1
      0xc6, 0x05, ...le32(patch), 7, // mov byte [patch], 7
      0x49, //                      dec ecx
      0x75, 0xf1, //                jnz loop
      0xf4, //                      hlt
    ];
    machine.memory.write(CODE, new Uint8Array(code));
    machine.bsp.load(flat32Snapshot(CODE));
    expect((await machine.run({ maxInstructions: 100 })).reason).toBe('halted');
    expect(machine.bsp.r[0]).toBe(7);
  });

  it('sees a store into the next instruction of the same block', async () => {
    const machine = createMachine({ memorySize: '16M' });
    for (let round = 0; round < 2; round++) {
      const code = [
        0xc6, 0x05, ...le32(CODE + 8), 7, // mov byte [CODE+8], 7: the immediate of the next MOV
        0xb8, ...le32(1), //                 mov eax, 1 (becomes mov eax, 7)
        0xf4, //                             hlt
      ];
      machine.memory.write(CODE, new Uint8Array(code));
      machine.bsp.load(flat32Snapshot(CODE));
      expect((await machine.run({ maxInstructions: 100 })).reason).toBe('halted');
      expect(machine.bsp.r[0]).toBe(7);
    }
  });

  it('sees code the host rewrote between runs', async () => {
    const machine = createMachine({ memorySize: '16M' });
    for (const value of [1, 2, 3]) {
      machine.memory.write(CODE, new Uint8Array([0xb8, ...le32(value), 0xf4]));
      machine.bsp.load(flat32Snapshot(CODE));
      await machine.run({ maxInstructions: 100 });
      expect(machine.bsp.r[0]).toBe(value);
    }
  });
});
