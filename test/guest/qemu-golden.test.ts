/**
 * Golden comparison with QEMU 7.2: firmware/golden/fwcfg-probe.bin ran under Debian's QEMU
 * (scripts/golden/capture-fwcfg.mjs) and logged every port access, DMA descriptor and result. Here
 * the same operations run against our machine, which must give the same bytes, for pc and q35 at
 * 32 MiB, 3.5 GiB and 5 GiB. QEMU's guest memory blocks (the PT_LOADs of its own dump) must match
 * ours too.
 *
 * ACPI, SMBIOS, the table loader, the TPM log and the kvmvapic option ROM are built by parts of
 * QEMU outside slice86; their bytes come from the trace and are added as ordinary files.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMachine, type Machine, type MachineType } from '../../src/index.js';
import { toHex } from '../../src/core/bytes.js';
import { FIXTURE_DIR, fileContents, loadTrace, type Trace } from '../support/qemu-trace.js';

const PROBE = new Uint8Array(readFileSync(new URL('../../firmware/golden/fwcfg-probe.bin', import.meta.url)));
const CONFIGS: readonly [MachineType, string][] = [
  ['pc', '32M'], ['pc', '3584M'], ['pc', '5G'],
  ['q35', '32M'], ['q35', '3584M'], ['q35', '5G'],
];

interface Blocks {
  readonly ramSize: number;
  readonly ptLoads: readonly { readonly paddr: string; readonly size: string }[];
}

function machineFor(type: MachineType, memory: string, trace: Trace): Machine {
  const machine = createMachine({ machine: type, memorySize: memory, firmware: PROBE });
  for (const [name, bytes] of fileContents(trace)) {
    if (!machine.fwcfg.hasFile(name)) machine.fwcfg.addFile(name, bytes);
  }
  return machine;
}

/** Replays the trace; returns the first mismatches as readable lines. */
function replay(machine: Machine, trace: Trace): string[] {
  const mismatches: string[] = [];
  for (const op of trace.ops) {
    if (mismatches.length >= 10) break;
    switch (op.kind) {
      case 'out':
        machine.ports.write(op.port, op.size, op.value);
        break;
      case 'wmem':
        machine.memory.write(op.gpa, op.bytes);
        break;
      case 'in': {
        const got = machine.ports.read(op.port, op.size);
        if (got !== op.value) mismatches.push(`line ${op.line}: in${op.size} ${op.port.toString(16)} gave ${got.toString(16)}, QEMU ${op.value.toString(16)}`);
        break;
      }
      case 'rmem': {
        const got = toHex(machine.memory.read(op.gpa, op.bytes.length));
        if (got !== toHex(op.bytes)) mismatches.push(`line ${op.line}: rmem ${op.gpa.toString(16)} gave ${got}, QEMU ${toHex(op.bytes)}`);
        break;
      }
    }
  }
  return mismatches;
}

describe.each(CONFIGS)('QEMU 7.2 golden trace, %s with %s', (type, memory) => {
  const trace = loadTrace(`${type}-${memory}`);

  it('has the same file directory: names, sizes and keys', () => {
    const machine = machineFor(type, memory, trace);
    expect(machine.fwcfg.files().map(({ name, size, key }) => ({ name, size, key }))).toEqual(trace.files);
  });

  it('has the same guest memory blocks as the PT_LOADs of QEMU\'s dump', () => {
    const blocks = JSON.parse(readFileSync(new URL(`${type}-${memory}.blocks.json`, FIXTURE_DIR), 'utf8')) as Blocks;
    const machine = machineFor(type, memory, trace);
    expect(machine.layout.ramSize).toBe(blocks.ramSize);
    expect(machine.memory.blocks().map((b) => ({ paddr: `0x${b.gpa.toString(16)}`, size: `0x${b.sizeBytes.toString(16)}` })))
      .toEqual(blocks.ptLoads.map(({ paddr, size }) => ({ paddr, size })));
  });

  it('answers every port access and DMA transfer of the probe with QEMU\'s bytes', () => {
    const machine = machineFor(type, memory, trace);
    expect(trace.ops.length).toBeGreaterThan(5000);
    expect(replay(machine, trace)).toEqual([]);
  });
});
