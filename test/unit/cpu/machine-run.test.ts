/**
 * Machine.run from the reset vector with tiny hand-assembled -bios images: every stop reason,
 * the isa-debug-exit status, the embedder's stop, triple fault as a stop or a reset, run and dump
 * excluding each other, and save/restore of a running CPU that resumes exactly where it was.
 */

import { describe, expect, it } from 'vitest';
import { createMachine, dumpGuestMemory, dumpSourceFromMachine, MemorySink } from '../../../src/index.js';
import { thrown } from '../../support/thrown.js';

/** A 64 KiB image whose code starts at the reset vector (F000:FFF0); `body` may run up to 16 bytes. */
function image(body: number[], data: [number, number[]][] = []): Uint8Array {
  const bytes = new Uint8Array(0x10000);
  for (const [at, values] of data) bytes.set(values, at);
  bytes.set(body, 0xfff0);
  return bytes;
}

const DEBUG_EXIT_5 = image([0xb0, 0x05, 0xba, 0x01, 0x05, 0xee, 0xf4]); // mov al,5; mov dx,0x501; out dx,al; hlt
const SPIN = image([0xeb, 0xfe]); // jmp $
const HALT = image([0xfa, 0xf4]); // cli; hlt
// lidt [cs:0x0000] (a zero limit), then int3: #GP, #DF, triple fault.
const TRIPLE = image([0x2e, 0x0f, 0x01, 0x1e, 0x00, 0x00, 0xcc], [[0, [0, 0, 0, 0, 0, 0]]]);
// inc eax; jmp back: a counter to check resumption after a restore.
const COUNT = image([0x66, 0x40, 0xeb, 0xfc]);

describe('Machine.run', () => {
  it('stops at HLT', async () => {
    const m = createMachine({ memorySize: '16M', firmware: HALT });
    expect(await m.run()).toEqual({ reason: 'halted', instructions: 2 });
    expect(m.bsp.snapshot().rip).toBe(0xfff2n);
  });

  it('reports isa-debug-exit with QEMU\'s status (value << 1) | 1', async () => {
    const m = createMachine({ memorySize: '16M', firmware: DEBUG_EXIT_5 });
    expect(await m.run()).toEqual({ reason: 'debug-exit', instructions: 3, exitCode: 11 });
  });

  it('stops after exactly maxInstructions', async () => {
    const m = createMachine({ memorySize: '16M', firmware: SPIN });
    expect(await m.run({ maxInstructions: 12345 })).toEqual({ reason: 'instruction-limit', instructions: 12345 });
  });

  it('stops when the embedder asks, from a timer while it runs', async () => {
    const m = createMachine({ memorySize: '16M', firmware: SPIN });
    setTimeout(() => { m.stop(); }, 20);
    const result = await m.run();
    expect(result.reason).toBe('stopped');
    expect(result.instructions).toBeGreaterThan(0);
  });

  it('stops when `until` says so, and when the signal aborts', async () => {
    const m = createMachine({ memorySize: '16M', firmware: COUNT });
    const result = await m.run({ until: (machine) => machine.bsp.get32(0) >= 1000, checkEvery: 10 });
    expect(result.reason).toBe('stopped');
    expect(m.bsp.get32(0)).toBeGreaterThanOrEqual(1000);
    const controller = new AbortController();
    controller.abort();
    expect((await m.run({ signal: controller.signal })).reason).toBe('stopped');
  });

  it('reports a triple fault, or resets and goes on when asked', async () => {
    const stop = createMachine({ memorySize: '16M', firmware: TRIPLE });
    expect((await stop.run()).reason).toBe('triple-fault');
    expect(stop.diagnostics.count('cpu-triple-fault')).toBe(1);
    const reset = createMachine({ memorySize: '16M', firmware: TRIPLE });
    const result = await reset.run({ onTripleFault: 'reset', maxInstructions: 100 });
    expect(result.reason).toBe('instruction-limit');
    expect(reset.diagnostics.count('cpu-triple-fault')).toBeGreaterThan(10);
  });

  it('refuses a second concurrent run with a typed error', async () => {
    const m = createMachine({ memorySize: '16M', firmware: SPIN });
    const first = m.run({ maxInstructions: 50_000_000 });
    await expect(m.run()).rejects.toMatchObject({ code: 'busy' });
    m.stop();
    await first;
  });

  it('holds the CPU while a dump reads the machine', async () => {
    const m = createMachine({ memorySize: '16M', firmware: COUNT });
    await m.run({ maxInstructions: 1000 });
    const before = m.bsp.get32(0);
    const release = m.hold();
    const running = m.run({ maxInstructions: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(m.bsp.get32(0)).toBe(before);
    release();
    await running;
    expect(m.bsp.get32(0)).toBeGreaterThan(before);
    const sink = new MemorySink();
    await dumpGuestMemory(dumpSourceFromMachine(m), { sink, format: 'elf' });
    expect((await m.run({ maxInstructions: 10 })).instructions).toBe(10);
  });

  it('saves and restores a running CPU through JSON and resumes exactly', async () => {
    const a = createMachine({ memorySize: '16M', firmware: COUNT });
    await a.run({ maxInstructions: 5001 });
    const saved = JSON.parse(JSON.stringify(a.saveState())) as ReturnType<typeof a.saveState>;
    const b = createMachine({ memorySize: '16M', firmware: COUNT });
    b.loadState(saved);
    expect(b.bsp.snapshot()).toEqual(a.bsp.snapshot());
    await a.run({ maxInstructions: 3000 });
    await b.run({ maxInstructions: 3000 });
    expect(b.bsp.snapshot()).toEqual(a.bsp.snapshot());
    expect(b.bsp.instructions).toBe(a.bsp.instructions);
  });

  it('rejects a malformed CPU state without changing the machine', () => {
    const m = createMachine({ memorySize: '16M', firmware: COUNT });
    const state = m.saveState();
    const [cpu0] = state.processors;
    if (cpu0 === undefined) throw new Error('no CPU state');
    const bad = { ...state, processors: [{ ...cpu0, snapshot: { ...cpu0.snapshot, rip: 'nope' } }] };
    const before = m.bsp.snapshot();
    expect(thrown(() => { m.loadState(bad); })).toMatchObject({ code: 'bad-state' });
    expect(m.bsp.snapshot()).toEqual(before);
  });
});
