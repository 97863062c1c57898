/**
 * `slice86 demo`: the main job until the CPU lands. It builds a machine, runs the scripted guest
 * (src/guest/scripted-probe.ts) against it through ports and guest RAM, and prints what the devices
 * saw: the memory map, the fw_cfg directory, e820, the vmcoreinfo record and the validated guest
 * note, the debug console, and any guest anomalies.
 */

import { createMachine, type Machine, type MachineType } from '../index.js';
import { formatSize } from '../core/size.js';
import { readGuestNote, type GuestNoteResult } from '../devices/vmcoreinfo-note.js';
import { runScriptedProbe, type ProbeReport } from '../guest/scripted-probe.js';

export interface DemoOptions {
  readonly machine: MachineType;
  readonly memory: string;
  readonly cpus: number;
  readonly json: boolean;
}

export function runDemo(options: DemoOptions, out: (line: string) => void): void {
  const machine = createMachine({ machine: options.machine, memorySize: options.memory, cpus: options.cpus });
  const report = runScriptedProbe(machine);
  const record = machine.vmcoreinfo?.record;
  const note = record === undefined ? undefined : readGuestNote(machine.memory, record, { machine: 'x86_64' });
  const compatNote = record === undefined ? undefined : readGuestNote(machine.memory, record, { machine: 'x86_64', compat: 'qemu-7.2' });
  if (options.json) {
    out(JSON.stringify(demoJson(machine, report, note, compatNote), (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2));
    return;
  }
  out(`machine ${machine.type}, ${formatSize(machine.layout.ramSize)} RAM, ${machine.cpus} CPU(s)`);
  out('guest memory blocks (as QEMU 7.2 dumps them):');
  for (const b of machine.memory.blocks()) {
    const names = [...new Set(b.regions.map((r) => `${r.name} (${r.kind})`))];
    out(`  ${hex(b.gpa, 12)}-${hex(b.gpa + b.sizeBytes - 1, 12)}  ${names.join(', ')}`);
  }
  out(`fw_cfg: signature "${report.signature}", id ${report.id}${report.dma ? ', DMA interface present' : ''}`);
  out('fw_cfg directory, as the guest read it by DMA:');
  for (const f of report.files) out(`  key 0x${f.key.toString(16)}  ${f.size.toString().padStart(6)} bytes  ${f.name}`);
  out('etc/e820:');
  for (const e of report.e820) out(`  ${hex(Number(e.address), 12)} +${hex(Number(e.length), 12)}  ${e820Type(e.type)}`);
  if (record !== undefined && note !== undefined && compatNote !== undefined) {
    out(`vmcoreinfo record: host_format ${record.hostFormat}, guest_format ${record.guestFormat}, size ${record.size}, paddr 0x${record.paddr.toString(16)}, ${record.hasVmcoreinfo ? 'registered' : 'not registered'} (DMA control ${String(report.vmcoreinfoControl)})`);
    if (note.note !== undefined) {
      out(`guest note "${note.note.name}", ${note.note.descSize}-byte text, ${note.note.bytes.length} bytes in a dump`);
      out(`  NUMBER(phys_base): 0x${String(note.physBase?.toString(16))} read as Linux writes it; 0x${String(compatNote.physBase?.toString(16))} as QEMU 7.2 reads it (hex)`);
    }
    for (const w of note.warnings) out(`  warning: ${w}`);
  }
  out('debug console (port 0xe9):');
  for (const line of (machine.debugcon?.text() ?? '').trimEnd().split('\n')) out(`  | ${line}`);
  const anomalies = Object.entries(machine.diagnostics.counts());
  out(anomalies.length === 0 ? 'guest anomalies: none' : `guest anomalies: ${anomalies.map(([k, n]) => `${k} x${String(n)}`).join(', ')}`);
}

function demoJson(machine: Machine, report: ProbeReport, note: GuestNoteResult | undefined, compatNote: GuestNoteResult | undefined): unknown {
  return {
    machine: machine.type,
    ramSize: machine.layout.ramSize,
    cpus: machine.cpus,
    blocks: machine.memory.blocks().map((b) => ({ gpa: b.gpa, size: b.sizeBytes, regions: b.regions.map((r) => r.name) })),
    fwcfg: { signature: report.signature, id: report.id, dma: report.dma, files: report.files },
    e820: report.e820,
    vmcoreinfo: machine.vmcoreinfo?.record,
    guestNote: note === undefined ? undefined : {
      name: note.note?.name,
      descSize: note.note?.descSize,
      physBase: note.physBase,
      physBaseQemu72: compatNote?.physBase,
      warnings: note.warnings,
    },
    debugcon: machine.debugcon?.text(),
    anomalies: machine.diagnostics.counts(),
  };
}

function hex(value: number, width: number): string {
  return `0x${value.toString(16).padStart(width, '0')}`;
}

function e820Type(type: number): string {
  return ['?', 'RAM', 'RESERVED', 'ACPI', 'NVS', 'UNUSABLE'][type] ?? `type ${type}`;
}
