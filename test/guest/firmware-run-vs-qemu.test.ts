/**
 * The golden dump guests (firmware/golden/dump-guest-*.asm) booted on slice86's own CPU from the
 * reset vector, exactly as QEMU 7.2 booted them with -bios: real mode, protected mode, paging
 * (32-bit, PAE, 4-level), long mode, segment and descriptor-table loads, fw_cfg DMA registration
 * of the VMCOREINFO note, HLT. Their dumps in the 'qemu-7.2' flavour (CPU notes and RAM) must be
 * QEMU's files byte for byte.
 *
 * The guests copy the fw_cfg file directory into RAM, so the machine serves QEMU's ACPI, SMBIOS
 * and option-ROM files too (slice86 does not generate them): their bytes come from the fw_cfg
 * golden trace of the same machine type.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addQemuOnlyFiles } from '../support/qemu-trace.js';
import { createMachine, dumpGuestMemory, dumpSourceFromMachine, MemorySink, type DumpFormat } from '../../src/index.js';

const DIR = new URL('../fixtures/qemu-7.2/dump/', import.meta.url);
const ROOT = new URL('../../', import.meta.url);

interface FixtureCase { readonly name: string; readonly image: string; readonly firmwareOption: string; readonly smp: number }
interface FixtureFile {
  readonly file: string;
  readonly case: string;
  readonly format: string;
  readonly sha256: string;
  readonly qmp: { readonly arguments: Readonly<Record<string, unknown>> };
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { cases: FixtureCase[]; files: FixtureFile[] };

const dumpsOf = (c: FixtureCase): FixtureFile[] => index.files.filter((f) => f.case === c.name && f.qmp.arguments['detach'] !== true);

describe.each(index.cases.filter((c) => c.firmwareOption === '-bios').map((c) => [c.name, c] as const))('%s booted on our CPU', (_name, c) => {
  const boot = async (): Promise<ReturnType<typeof createMachine>> => {
    const machine = createMachine({ machine: 'pc', memorySize: '16M', cpus: c.smp, firmware: new Uint8Array(readFileSync(new URL(c.image, ROOT))) });
    addQemuOnlyFiles(machine);
    const result = await machine.run({ maxInstructions: 10_000_000 });
    expect(result.reason).toBe('halted');
    return machine;
  };
  it.each(dumpsOf(c).map((f) => [f.file, f] as const))('%s is QEMU\'s file (sha256)', async (_file, f) => {
    const machine = await boot();
    const a = f.qmp.arguments;
    const sink = new MemorySink();
    await dumpGuestMemory(dumpSourceFromMachine(machine), {
      sink,
      format: f.format as DumpFormat,
      compat: 'qemu-7.2',
      paging: a['paging'] === true,
      ...(a['begin'] !== undefined ? { begin: Number(a['begin']), length: Number(a['length']) } : {}),
    });
    expect(createHash('sha256').update(sink.bytes()).digest('hex')).toBe(f.sha256);
  });
});
