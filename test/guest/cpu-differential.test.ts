/**
 * Differential test of the x86 interpreter against QEMU 7.2 TCG. Every firmware/cpu/<name>.bin
 * (nasm source beside it) ran under Debian's QEMU 7.2 (scripts/golden/capture-cpu.mjs: pc,
 * 32 MiB, vmcoreinfo, isa-debug-exit, debug console on 0xe9), which recorded what it printed on
 * the debug console and its dump-guest-memory ELF (paging false) once it halted. Here the same
 * image runs in our pc machine until it halts: the debug console text must be QEMU's, and the
 * machine's ELF dump in the 'qemu-7.2' flavour (CPU notes and RAM) must have the sha256 of QEMU's.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { createMachine, dumpGuestMemory, dumpSourceFromMachine, inputFromBytes, MemorySink, readDump, type Machine } from '../../src/index.js';
import { toHex, writeU32le, writeU64le } from '../../src/core/bytes.js';
import { addQemuOnlyFiles } from '../support/qemu-trace.js';

const DIR = new URL('../fixtures/qemu-7.2/cpu/', import.meta.url);
const ROOT = new URL('../../', import.meta.url);

interface ProgramFixture {
  readonly image: string;
  readonly memorySize: string;
  readonly debugcon: { readonly file: string; readonly sha256: string };
  readonly elf: { readonly file: string; readonly sha256: string; readonly size: number };
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { programs: Record<string, ProgramFixture> };

/** A generous bound: the longest program retires a few million instructions. */
const MAX_INSTRUCTIONS = 200_000_000;

function machineFor(program: ProgramFixture): Machine {
  const machine = createMachine({ machine: 'pc', memorySize: program.memorySize, firmware: new Uint8Array(readFileSync(new URL(program.image, ROOT))) });
  // The programs that list the fw_cfg directory see QEMU's ACPI, SMBIOS ... files too.
  addQemuOnlyFiles(machine);
  return machine;
}

const programs = Object.entries(index.programs);

describe('CPU differential fixtures', () => {
  it('lists every firmware/cpu program with its QEMU outputs', () => {
    expect(programs.length).toBeGreaterThan(0);
    for (const [name, p] of programs) {
      expect(p.image).toBe(`firmware/cpu/${name}.bin`);
      const text = readFileSync(new URL(p.debugcon.file, DIR));
      expect(createHash('sha256').update(text).digest('hex')).toBe(p.debugcon.sha256);
      expect(text.toString('latin1').endsWith('END\n')).toBe(true);
    }
  });
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Independent of the interpreter: our machine loaded with the state QEMU ended in (RAM and ROM
 * from QEMU's ELF, its CPU notes, the VMCOREINFO record the program registered) dumps QEMU's exact
 * ELF. So once the interpreter reaches QEMU's final state, the sha256 comparison below can pass.
 */
describe.each(programs)('%s: QEMU final state in our machine', (_name, program) => {
  it('dumps the same ELF bytes', async () => {
    const qemuElf = new Uint8Array(gunzipSync(readFileSync(new URL(program.elf.file, DIR))));
    const dump = await readDump(inputFromBytes(qemuElf));
    const m = machineFor(program);
    for (const range of dump.ranges) {
      const bytes = new Uint8Array(range.size);
      await dump.readPhysical(range.gpa, bytes);
      m.memory.write(range.gpa, bytes);
    }
    // default.asm prints where its note is: "vmcoreinfo note at 0000a000 size 0040"
    const text = readFileSync(new URL(program.debugcon.file, DIR), 'latin1');
    const note = /vmcoreinfo note at ([0-9a-f]{8}) size ([0-9a-f]{4})/.exec(text);
    if (note !== null) {
      const record = new Uint8Array(16);
      record[2] = 1;
      writeU32le(record, 4, parseInt(note[2] ?? '', 16));
      writeU64le(record, 8, BigInt(parseInt(note[1] ?? '', 16)));
      m.vmcoreinfo?.loadState({ v: 1, hasVmcoreinfo: true, record: toHex(record) });
    }
    const sink = new MemorySink();
    await dumpGuestMemory(dumpSourceFromMachine(m, dump.cpus), { format: 'elf', compat: 'qemu-7.2', sink });
    expect(sha256(sink.bytes())).toBe(program.elf.sha256);
    expect(sha256(qemuElf)).toBe(program.elf.sha256);
  });
});

describe.each(programs)(
  '%s under slice86 matches QEMU 7.2',
  (_name, program) => {
    it('prints the same debug console text and dumps the same ELF bytes', async () => {
      const m = machineFor(program);
      const result = await m.run({ maxInstructions: MAX_INSTRUCTIONS });
      expect(m.debugcons[0]?.text()).toBe(readFileSync(new URL(program.debugcon.file, DIR), 'latin1'));
      expect(result.reason).toBe('halted');
      const sink = new MemorySink();
      await dumpGuestMemory(dumpSourceFromMachine(m), { format: 'elf', compat: 'qemu-7.2', sink });
      const bytes = sink.bytes();
      expect(bytes.length).toBe(program.elf.size);
      expect(sha256(bytes)).toBe(program.elf.sha256);
    });
  },
);
