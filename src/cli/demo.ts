/**
 * `slice86 demo`: the README's main job. It builds a machine with the built-in firmware
 * (firmware/cpu/default.asm), runs it on the CPU from the reset vector, and prints what the
 * devices saw: the memory map, the fw_cfg directory, e820, the vmcoreinfo record and the validated
 * guest note, the debug console, how the CPU stopped, and any guest anomalies. Then it dumps the
 * machine in every format into a folder and ends with a table of format, size, time and what
 * checked each file (src/cli/demo-dumps.ts).
 */

import { createMachine, e820Entries, type Machine, type RunResult } from '../machine.js';
import type { MachineType } from '../core/memory-map.js';
import { formatSize } from '../core/size.js';
import { readGuestNote, type GuestNoteResult } from '../devices/vmcoreinfo-note.js';
import { bootDefaultFirmware, defaultFirmwareImage } from '../guest/default-firmware.js';
import { writeDemoDumps, type DemoDump } from './demo-dumps.js';
import { formatBytes, formatSeconds, table, toJson } from './format.js';
import type { ProgressOptions } from './progress.js';
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';

export interface DemoOptions {
  readonly machine: MachineType;
  /** Guest RAM in bytes (the CLI parses 512M / 4G). */
  readonly memory: number;
  readonly cpus: number;
  readonly json: boolean;
  /** Folder for the dumps; undefined writes none. */
  readonly out: string | undefined;
  readonly signal?: AbortSignal;
  readonly progress: ProgressOptions;
}

/** @returns false when a dump failed its read-back check (the command then exits 1). */
export async function runDemo(options: DemoOptions, out: (line: string) => void): Promise<boolean> {
  const machine = createMachine({ machine: options.machine, memorySize: options.memory, cpus: options.cpus, firmware: defaultFirmwareImage() });
  const { run } = await bootDefaultFirmware(machine);
  const record = machine.vmcoreinfo?.record;
  const note = record === undefined ? undefined : readGuestNote(machine.memory, record, { machine: 'x86_64' });
  const compatNote = record === undefined ? undefined : readGuestNote(machine.memory, record, { machine: 'x86_64', compat: 'qemu-7.2' });
  if (options.out !== undefined) mkdirSync(options.out, { recursive: true });
  if (options.json) {
    const dumps = options.out === undefined ? [] : await writeDemoDumps(machine, options.out, options);
    out(toJson({ ...demoJson(machine, run, note, compatNote), dumps }));
    return dumps.every((d) => d.ok);
  }
  out(`machine ${machine.type}, ${formatSize(machine.layout.ramSize)} RAM, ${machine.cpus} CPU(s)`);
  out('guest memory blocks (as QEMU 7.2 dumps them):');
  for (const b of machine.memory.blocks()) {
    const names = [...new Set(b.regions.map((r) => `${r.name} (${r.kind})`))];
    out(`  ${hex(b.gpa, 12)}-${hex(b.gpa + b.sizeBytes - 1, 12)}  ${names.join(', ')}`);
  }
  out(`built-in firmware (firmware/cpu/default.asm) on the CPU: ${run.reason} after ${run.instructions} instructions`);
  out('fw_cfg directory (the firmware lists it by DMA on the debug console below):');
  for (const f of machine.fwcfg.files()) out(`  key 0x${f.key.toString(16)}  ${f.size.toString().padStart(6)} bytes  ${f.name}`);
  out('etc/e820:');
  for (const e of e820Entries(machine.layout)) out(`  ${hex(e.address, 12)} +${hex(e.length, 12)}  ${e820Type(e.type)}`);
  if (record !== undefined && note !== undefined && compatNote !== undefined) {
    out(`vmcoreinfo record: host_format ${record.hostFormat}, guest_format ${record.guestFormat}, size ${record.size}, paddr 0x${record.paddr.toString(16)}, ${record.hasVmcoreinfo ? 'registered' : 'not registered'}`);
    if (note.note !== undefined) {
      out(`guest note "${note.note.name}", ${note.note.descSize}-byte text, ${note.note.bytes.length} bytes in a dump`);
      if (note.physBase !== undefined) {
        out(`  NUMBER(phys_base): 0x${note.physBase.toString(16)} read as Linux writes it; 0x${String(compatNote.physBase?.toString(16))} as QEMU 7.2 reads it (hex)`);
      }
    }
    for (const w of note.warnings) out(`  warning: ${w}`);
  }
  out('debug console (port 0xe9):');
  for (const line of (machine.debugcon?.text() ?? '').trimEnd().split('\n')) out(`  | ${line}`);
  const anomalies = Object.entries(machine.diagnostics.counts());
  out(anomalies.length === 0 ? 'guest anomalies: none' : `guest anomalies: ${anomalies.map(([k, n]) => `${k} x${String(n)}`).join(', ')}`);
  if (options.out === undefined) return true;
  out(`dumps in ${options.out}/, each read back and compared with the machine:`);
  const dumps = await writeDemoDumps(machine, options.out, options);
  for (const line of dumpTable(dumps)) out(`  ${line}`);
  const failed = dumps.filter((d) => !d.ok).length;
  const written = dumps.filter((d) => d.refused === undefined);
  const refused = dumps.filter((d) => d.refused !== undefined).map((d) => d.format);
  const notWritten = refused.length === 0 ? '' : `; ${refused.join(', ')} not written (the format does not fit this guest)`;
  out(failed === 0 ? `${written.length} dumps written and checked${notWritten}` : `${failed} of ${written.length} dumps failed their check${notWritten}`);
  return failed === 0;
}

function dumpTable(dumps: readonly DemoDump[]): string[] {
  return table([
    ['format', 'file', 'size', 'time', 'checked by'],
    ...dumps.map((d) => [d.format, d.refused === undefined ? basename(d.file) : '-', d.refused === undefined ? formatBytes(d.bytes) : '-', formatSeconds(d.seconds * 1000), d.checkedBy]),
  ]);
}

function demoJson(machine: Machine, run: RunResult, note: GuestNoteResult | undefined, compatNote: GuestNoteResult | undefined): Record<string, unknown> {
  return {
    machine: machine.type,
    ramSize: machine.layout.ramSize,
    cpus: machine.cpus,
    blocks: machine.memory.blocks().map((b) => ({ gpa: b.gpa, size: b.sizeBytes, regions: b.regions.map((r) => r.name) })),
    firmware: 'firmware/cpu/default.asm',
    run,
    fwcfg: { files: machine.fwcfg.files().map((f) => ({ key: f.key, size: f.size, name: f.name })) },
    e820: e820Entries(machine.layout),
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
