/**
 * `npm run bench`: throughput figures, printed, never asserted. Each comparison runs its two
 * sides interleaved in one process so machine noise hits both; figures are medians of the rounds.
 *
 *  1. fw_cfg DMA READ of a 64 MiB file into guest RAM, against a plain Uint8Array.set of the same
 *     bytes into the same RAM (target: DMA at least 0.8 of set's speed).
 *  2. Data-port reads (IN 0x511, 1 byte) through the port bus (target: at least 50 million/s).
 *  3. The x86 interpreter: instructions per second (bench/cpu.bench.ts).
 *  4. Guest-memory dumps to files, against QEMU 7.2 when it is installed (bench/dump.bench.ts).
 */

import { createMachine } from '../src/index.js';
import { bswap32, writeU32be } from '../src/core/bytes.js';
import { FW_CFG_DMA_CTL_READ, FW_CFG_DMA_CTL_SELECT } from '../src/fwcfg/abi.js';
import { benchCpu, benchFirmwareToDump } from './cpu.bench.js';
import { benchDump } from './dump.bench.js';

const MiB = 2 ** 20;
const ROUNDS = 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function benchDma(): void {
  const fileBytes = 64 * MiB;
  const machine = createMachine({ memorySize: '256M' });
  const file = new Uint8Array(fileBytes);
  for (let i = 0; i < file.length; i += 4096) file[i] = i & 0xff;
  const key = machine.fwcfg.addFile('opt/bench/blob', file);
  const target = 0x0400_0000;
  const descriptorGpa = 0x7000;
  const descriptor = new Uint8Array(16);
  writeU32be(descriptor, 0, ((key << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ) >>> 0);
  writeU32be(descriptor, 4, fileBytes);
  writeU32be(descriptor, 12, target);
  const ram = machine.memory.view(target, fileBytes);
  if (ram === undefined) throw new Error('bench target is not one RAM view');

  const dma: number[] = [];
  const set: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    dma.push(time(() => {
      machine.memory.write(descriptorGpa, descriptor);
      machine.ports.write(0x518, 4, bswap32(descriptorGpa));
    }));
    set.push(time(() => { ram.set(file); }));
  }
  const dmaRate = fileBytes / median(dma) / 2 ** 30;
  const setRate = fileBytes / median(set) / 2 ** 30;
  console.log('fw_cfg DMA READ of a 64 MiB file into guest RAM (median of %d rounds, interleaved)', ROUNDS);
  console.log('  DMA through port 0x518     %s GiB/s', dmaRate.toFixed(2));
  console.log('  Uint8Array.set, same bytes %s GiB/s', setRate.toFixed(2));
  console.log('  ratio DMA / set            %s  (target >= 0.80)', (dmaRate / setRate).toFixed(2));
}

function benchDataPort(): void {
  const machine = createMachine({ memorySize: '32M' });
  const reads = 20_000_000;
  machine.fwcfg.addFile('opt/bench/port', new Uint8Array(reads));
  const key = machine.fwcfg.file('opt/bench/port')?.key ?? 0;
  const ports = machine.ports;
  const rates: number[] = [];
  let sink = 0;
  for (let round = 0; round < 7; round++) {
    ports.write(0x510, 2, key);
    const seconds = time(() => {
      for (let i = 0; i < reads; i++) sink += ports.read(0x511, 1);
    });
    rates.push(reads / seconds);
  }
  console.log('fw_cfg data-port reads through the bus (IN 0x511, 1 byte; median of 7 rounds of %d)', reads);
  console.log('  %s million reads/s  (target >= 50)%s', (median(rates) / 1e6).toFixed(1), sink === -1 ? ' ' : '');
}

const only = process.env['SLICE86_BENCH_ONLY'];
if (only === undefined || only === 'fwcfg') {
  benchDma();
  benchDataPort();
}
if (only === undefined || only === 'cpu') {
  await benchCpu();
  await benchFirmwareToDump();
}
if (only === undefined || only === 'dump') await benchDump();
