/**
 * Interpreter speed: instructions per second for a mixed integer loop and for a string-copy loop
 * (both in 32-bit flat protected mode, hand-assembled so the bench needs no nasm), as medians of
 * several rounds.
 */

import { createMachine, type Machine } from '../src/index.js';
import { powerOnSnapshot, type CpuSnapshot } from '../src/cpu/state.js';

const CODE = 0x1000;

/** A flat 32-bit ring-0 protected-mode CPU at `rip`. */
function flat32(rip: number): CpuSnapshot {
  const s = powerOnSnapshot(0);
  const data = { selector: 0x10, base: 0n, limit: 0xffffffff, flags: 0x00cf9300 };
  return {
    ...s,
    rip: BigInt(rip),
    cr0: 0x60000011n,
    segments: { ...s.segments, cs: { selector: 0x08, base: 0n, limit: 0xffffffff, flags: 0x00cf9b00 }, ss: data, ds: data, es: data, fs: data, gs: data },
  };
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** mov ecx,N; loop: add eax,ebx; xor edx,eax; inc esi; sub edi,3; mov [0x2000],eax; mov ebx,[0x2000]; dec ecx; jnz loop; hlt */
function integerLoop(iterations: number): { code: number[]; perIteration: number } {
  const body = [0x01, 0xd8, 0x31, 0xc2, 0x46, 0x83, 0xef, 0x03, 0xa3, ...le32(0x2000), 0x8b, 0x1d, ...le32(0x2000), 0x49];
  const code = [0xb9, ...le32(iterations), ...body, 0x75, (-(body.length + 2)) & 0xff, 0xf4];
  return { code, perIteration: 8 };
}

/** mov esi,0x100000; mov edi,0x200000; mov ecx,N; loop: lodsd; stosd; dec ecx; jnz loop; hlt */
function copyLoop(dwords: number): { code: number[]; perIteration: number } {
  const body = [0xad, 0xab, 0x49];
  const code = [0xbe, ...le32(0x100000), 0xbf, ...le32(0x200000), 0xb9, ...le32(dwords), ...body, 0x75, (-(body.length + 2)) & 0xff, 0xf4];
  return { code, perIteration: 4 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function rate(machine: Machine, code: number[]): Promise<number> {
  machine.memory.write(CODE, new Uint8Array(code));
  machine.processors[0]!.load(flat32(CODE));
  const start = process.hrtime.bigint();
  const result = await machine.run({ maxInstructions: 1e9 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.reason !== 'halted') throw new Error(`bench loop ended with ${result.reason}`);
  return result.instructions / seconds;
}

export async function benchCpu(): Promise<void> {
  const machine = createMachine({ memorySize: '64M' });
  const loops = [
    ['mixed integer loop (add, xor, inc, sub imm, store, load, dec, jnz)', integerLoop(5_000_000)],
    ['string-copy loop (lodsd, stosd, dec, jnz; 4 MiB per round)', copyLoop(1 << 20)],
  ] as const;
  console.log('x86 interpreter, 32-bit flat protected mode (median of 7 rounds)');
  for (const [name, loop] of loops) {
    const rates: number[] = [];
    for (let round = 0; round < 7; round++) rates.push(await rate(machine, loop.code));
    console.log('  %s: %s million instructions/s  (target >= 50)', name, (median(rates) / 1e6).toFixed(1));
  }
}
