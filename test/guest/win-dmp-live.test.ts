/**
 * The Windows-like firmware guests (firmware/golden/win-dmp-guest-*.asm) booted on slice86's own
 * CPU, as QEMU 7.2 booted them for the win-dmp goldens: same debug console text, and the same
 * win-dmp file in the 'qemu-7.2' flavour (or QEMU's exact error text for the malformed guests),
 * with guest memory unchanged by the dump.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addQemuOnlyFiles } from '../support/qemu-trace.js';
import { createMachine, dumpGuestMemory, dumpSourceFromMachine, MemorySink, DumpError } from '../../src/index.js';
import { rejection } from '../support/thrown.js';

const DIR = new URL('../fixtures/qemu-7.2/win-dmp/', import.meta.url);
const ROOT = new URL('../../', import.meta.url);

interface WinCase {
  readonly name: string;
  readonly image: string;
  readonly smp: number;
  readonly faults: string;
  readonly debugcon: string;
  readonly reply: { readonly return?: unknown; readonly error?: { readonly desc: string } };
  readonly dmp?: { readonly sha256: string };
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { cases: WinCase[] };

describe.each(index.cases.map((c) => [c.name, c] as const))('%s booted on our CPU', (_name, c) => {
  it('prints what it printed under QEMU and dumps QEMU\'s win-dmp (or its error)', async () => {
    const machine = createMachine({ machine: 'pc', memorySize: '16M', cpus: c.smp, firmware: new Uint8Array(readFileSync(new URL(c.image, ROOT))) });
    addQemuOnlyFiles(machine);
    if (c.faults !== '') machine.fwcfg.addFile('opt/slice86/win-dmp-faults', new TextEncoder().encode(c.faults));
    const result = await machine.run({ maxInstructions: 50_000_000 });
    expect(result.reason).toBe('halted');
    expect(machine.debugcon?.text()).toBe(c.debugcon);
    const before = createHash('sha256').update(machine.memory.read(0, 16 * 2 ** 20)).digest('hex');
    const sink = new MemorySink();
    const dump = dumpGuestMemory(dumpSourceFromMachine(machine), { sink, format: 'win-dmp', compat: 'qemu-7.2' });
    if (c.dmp !== undefined) {
      await dump;
      expect(createHash('sha256').update(sink.bytes()).digest('hex')).toBe(c.dmp.sha256);
    } else {
      const error = await rejection(dump);
      expect(error).toBeInstanceOf(DumpError);
      expect((error as DumpError).qemuMessage).toBe(c.reply.error?.desc);
    }
    expect(createHash('sha256').update(machine.memory.read(0, 16 * 2 ** 20)).digest('hex')).toBe(before);
  });
});
