/**
 * Interpreter speed: instructions per second for a mixed integer loop and for a string-copy loop
 * (both in 32-bit flat protected mode, hand-assembled so the bench needs no nasm), as medians of
 * several rounds.
 */

import { createMachine, type Machine } from '../src/index.js';
import { flat32Snapshot } from '../test/support/cpu-snapshots.js';

const CODE = 0x1000;


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
  machine.bsp.load(flat32Snapshot(CODE));
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

// ---------------------------------------------------------------------------------------------
// Firmware to dump: `slice86 run` against QEMU 7.2, both as fresh processes

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const QEMU = process.env['QEMU'] ?? 'qemu-system-x86_64';
const FIRMWARE = 'firmware/cpu/default.bin';

function qemuAvailable(): boolean {
  if (process.env['SLICE86_BENCH_QEMU'] === '0') return false;
  return spawnSync('sh', ['-c', `command -v ${QEMU}`], { stdio: 'ignore' }).status === 0;
}

/** Wall time of `node dist/cli/slice86.js run default.bin --dump`: process start to exit. */
async function timeSlice86(dir: string): Promise<number> {
  const out = join(dir, 'slice86.elf');
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, ['dist/cli/slice86.js', 'run', FIRMWARE, '--memory', '32M', '--dump', out, '--format', 'elf'], { stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (code !== 0 || !existsSync(out)) throw new Error(`slice86 run exited ${String(code)}`);
  rmSync(out);
  return seconds;
}

/**
 * Wall time of QEMU doing the same: start, boot the image with -bios, and as soon as the debug
 * console shows the firmware's last line, dump-guest-memory (ELF) through the HMP monitor on
 * stdin and quit.
 */
async function timeQemu(dir: string): Promise<number> {
  const out = join(dir, 'qemu.elf');
  const con = join(dir, 'qemu.debugcon');
  rmSync(con, { force: true });
  const start = process.hrtime.bigint();
  const child = spawn(QEMU, ['-M', 'pc', '-m', '32M', '-nodefaults', '-nic', 'none', '-display', 'none', '-accel', 'tcg', '-bios', FIRMWARE,
    '-device', 'vmcoreinfo', '-debugcon', `file:${con}`, '-monitor', 'stdio'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (;;) {
    if (existsSync(con) && readFileSync(con, 'latin1').endsWith('END\n')) break;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  child.stdin.write(`dump-guest-memory ${out}\nquit\n`);
  await exited;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (!existsSync(out)) throw new Error('QEMU wrote no dump');
  rmSync(out);
  return seconds;
}

export async function benchFirmwareToDump(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'slice86-bench-'));
  const withQemu = qemuAvailable();
  const ours: number[] = [];
  const qemu: number[] = [];
  try {
    for (let round = 0; round < 7; round++) {
      ours.push(await timeSlice86(dir));
      if (withQemu) qemu.push(await timeQemu(dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('default firmware to ELF dump written, fresh process each (median of 7 rounds, interleaved; pc, 32 MiB)');
  console.log('  slice86 run --dump   %s ms', (median(ours) * 1000).toFixed(0));
  if (withQemu) {
    console.log('  QEMU 7.2 -bios + HMP %s ms', (median(qemu) * 1000).toFixed(0));
    console.log('  ratio slice86 / QEMU %s  (target <= 0.25)', (median(ours) / median(qemu)).toFixed(2));
  } else {
    console.log('  QEMU 7.2: not installed, no comparison');
  }
}
