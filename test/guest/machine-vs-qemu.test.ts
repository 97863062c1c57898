/**
 * A slice86 machine loaded with the state of a QEMU 7.2 guest dumps to QEMU's own files. For each
 * golden case (test/fixtures/qemu-7.2/dump, -bios guests), our pc machine gets the same firmware
 * image, QEMU's guest RAM and CPU state (read back from QEMU's plain ELF) and the vmcoreinfo
 * record the guest registered; its ELF and kdump-zlib dumps in the 'qemu-7.2' flavour must have
 * the sha256 of QEMU's files.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createMachine, dumpGuestMemory, dumpSourceFromMachine, inputFromBytes, MemorySink, readDump, type DumpFormat } from '../../src/index.js';
import { toHex, writeU32le, writeU64le } from '../../src/core/bytes.js';

const DIR = new URL('../fixtures/qemu-7.2/dump/', import.meta.url);
const ROOT = new URL('../../', import.meta.url);

interface FixtureCase {
  readonly name: string;
  readonly image: string;
  readonly firmwareOption: string;
  readonly smp: number;
  readonly guest: { readonly note?: { readonly registered: boolean; readonly record: { readonly size: string; readonly paddr: string } } };
}
interface FixtureFile {
  readonly file: string;
  readonly case: string;
  readonly format: string;
  readonly sha256: string;
  readonly qmp: { readonly arguments: Readonly<Record<string, unknown>> };
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { cases: FixtureCase[]; files: FixtureFile[] };

const plainDump = (c: FixtureCase, format: string): FixtureFile | undefined =>
  index.files.find((f) => f.case === c.name && f.format === format && f.qmp.arguments['paging'] === false && f.qmp.arguments['begin'] === undefined);

async function machineLoadedFrom(c: FixtureCase): Promise<{ machine: ReturnType<typeof createMachine>; cpus: Awaited<ReturnType<typeof readDump>>['cpus'] }> {
  const elf = plainDump(c, 'elf');
  if (elf === undefined) throw new Error(`no plain ELF for ${c.name}`);
  const dump = await readDump(inputFromBytes(new Uint8Array(gunzipSync(readFileSync(new URL(elf.file, DIR))))));
  const machine = createMachine({ machine: 'pc', memorySize: '16M', cpus: c.smp, firmware: new Uint8Array(readFileSync(new URL(c.image, ROOT))) });
  for (const range of dump.ranges) {
    const bytes = new Uint8Array(range.size);
    await dump.readPhysical(range.gpa, bytes);
    machine.memory.write(range.gpa, bytes);
  }
  const note = c.guest.note;
  if (note?.registered === true) {
    // What the guest wrote: host_format 0 (as Linux does), guest_format ELF, size, address.
    const record = new Uint8Array(16);
    record[2] = 1;
    writeU32le(record, 4, Number(note.record.size));
    writeU64le(record, 8, BigInt(note.record.paddr));
    machine.vmcoreinfo?.loadState({ v: 1, hasVmcoreinfo: true, record: toHex(record) });
  }
  return { machine, cpus: dump.cpus };
}

describe.each(index.cases.filter((c) => c.firmwareOption === '-bios').map((c) => [c.name, c] as const))('QEMU 7.2 case %s', (_name, c) => {
  it.each(['elf', 'kdump-zlib'] as const)('our machine with the same state dumps %s identical to QEMU (sha256)', async (format: DumpFormat) => {
    const expected = plainDump(c, format);
    expect(expected).toBeDefined();
    const { machine, cpus } = await machineLoadedFrom(c);
    const sink = new MemorySink();
    await dumpGuestMemory(dumpSourceFromMachine(machine, cpus), { sink, format, compat: 'qemu-7.2' });
    expect(createHash('sha256').update(sink.bytes()).digest('hex')).toBe(expected?.sha256);
  });
});
