/**
 * `slice86 inspect FILE [--json]`: what a dump holds, read with src/dump/read: format, class and
 * machine, each CPU's registers (EFER marked as inferred: dumps do not carry it), the notes, the
 * VMCOREINFO keys, the guest-physical ranges present, and the ELF or kdump header fields. Memory
 * itself is not read, except for a Windows crash dump's path to its CONTEXTs (header fields, runs
 * and contexts are shown). --json prints the same as one JSON object, numbers as 0x strings.
 */

import type { CpuSnapshot, SegmentName } from '../cpu/state.js';
import { createDumpEngine } from '../dump/engine.js';
import { readDump, type DumpFile } from '../dump/read/read-dump.js';
import type { WinDumpInfo } from '../dump/read/windows.js';
import { engineCodecs, openFileInput } from './convert.js';

export interface InspectOptions {
  readonly json: boolean;
}

export async function runInspect(path: string, options: InspectOptions, out: (line: string) => void): Promise<void> {
  const engine = await createDumpEngine();
  const input = openFileInput(path);
  try {
    const dump = await readDump(input, { codecs: engineCodecs(engine) });
    if (options.json) out(JSON.stringify(inspectJson(path, dump), (_k, v: unknown) => (typeof v === 'bigint' ? hex(v) : v), 2));
    else for (const line of inspectText(path, dump)) out(line);
  } finally {
    input.close();
  }
}

const SEGMENTS: readonly SegmentName[] = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldt', 'tr'];
const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/** KEY=value lines of the VMCOREINFO text (the last value of a repeated key wins). */
export function vmcoreinfoKeys(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function cpuJson(cpu: CpuSnapshot, index: number): Record<string, unknown> {
  return {
    index,
    ...Object.fromEntries(GPRS.map((name) => [name, cpu.gpr[name]])),
    rip: cpu.rip,
    rflags: cpu.rflags,
    segments: Object.fromEntries(SEGMENTS.map((name) => [name, { ...cpu.segments[name], limit: hex(cpu.segments[name].limit), flags: hex(cpu.segments[name].flags), selector: hex(cpu.segments[name].selector) }])),
    gdt: { base: cpu.gdt.base, limit: hex(cpu.gdt.limit) },
    idt: { base: cpu.idt.base, limit: hex(cpu.idt.limit) },
    cr0: cpu.cr0,
    cr2: cpu.cr2,
    cr3: cpu.cr3,
    cr4: cpu.cr4,
    efer: cpu.efer,
    eferInferred: true,
    kernelGsBase: cpu.kernelGsBase,
    fpu: { fcw: hex(cpu.fpu.fcw), fsw: hex(cpu.fpu.fsw), ftw: hex(cpu.fpu.ftw), mxcsr: hex(cpu.fpu.mxcsr) },
  };
}

function inspectJson(path: string, dump: DumpFile): unknown {
  return {
    file: path,
    format: dump.format,
    elfClass: dump.elfClass,
    machine: dump.machine,
    cpus: dump.cpus.map(cpuJson),
    notes: dump.notes.map((n) => ({ name: n.name, type: n.type, descsz: n.desc.length, offset: hex(n.offset) })),
    vmcoreinfo: dump.vmcoreinfo === undefined ? null : vmcoreinfoKeys(dump.vmcoreinfo),
    guestNoteBytes: dump.guestNote?.length ?? null,
    physBase: dump.physBase ?? null,
    ranges: dump.ranges.map((r) => ({ gpa: hex(r.gpa), size: hex(r.size) })),
    elf: dump.elf === undefined ? null : { ...dump.elf, loads: dump.elf.loads },
    kdump: dump.kdump ?? null,
    flattened: dump.flattened ?? null,
    windows: dump.windows ?? null,
  };
}

function inspectText(path: string, dump: DumpFile): string[] {
  const lines = [`${path}: ${dump.format}, ELF class ${dump.elfClass}, ${dump.machine}, ${dump.cpus.length} CPU${dump.cpus.length === 1 ? '' : 's'}`];
  if (dump.elf !== undefined) {
    const e = dump.elf;
    lines.push(`ELF: e_ehsize ${e.ehsize}, ${e.phnum} program headers, ${e.shnum} section headers, ${e.loads.length} PT_LOAD${e.paging ? ' (paging: virtual mappings)' : ''}`);
    for (const l of e.loads) lines.push(`  PT_LOAD paddr ${hex(l.paddr)} vaddr ${hex(l.vaddr)} offset ${hex(l.offset)} filesz ${hex(l.filesz)} memsz ${hex(l.memsz)}`);
  }
  if (dump.kdump !== undefined) {
    const k = dump.kdump;
    const s = k.subHeader;
    lines.push(`kdump: header version ${k.headerVersion}, utsname.machine "${k.utsname.machine}", compression ${k.compression}, block_size ${k.blockSize}, sub_hdr_size ${k.subHdrSize}, bitmap_blocks ${k.bitmapBlocks}, max_mapnr ${hex(k.maxMapnr)}, nr_cpus ${k.nrCpus}, ${k.dumpablePages} dumpable pages`);
    lines.push(`  sub-header: phys_base ${hex(s.physBase)}, dump_level ${s.dumpLevel}, notes ${hex(s.offsetNote)}+${hex(s.noteSize)}, vmcoreinfo ${hex(s.offsetVmcoreinfo)}+${hex(s.sizeVmcoreinfo)}, max_mapnr_64 ${hex(s.maxMapnr64)}`);
    if (dump.flattened !== undefined) lines.push(`  flattened: ${dump.flattened.records} records, version ${dump.flattened.version}`);
  }
  if (dump.windows !== undefined) lines.push(...windowsText(dump.windows));
  lines.push(`notes: ${dump.notes.map((n) => `${n.name}/${n.type} (${n.desc.length} bytes)`).join(', ') || 'none'}`);
  dump.cpus.forEach((cpu, i) => lines.push(...cpuText(cpu, i)));
  if (dump.vmcoreinfo !== undefined) {
    lines.push('vmcoreinfo:');
    for (const [key, value] of Object.entries(vmcoreinfoKeys(dump.vmcoreinfo))) lines.push(`  ${key}=${value}`);
  }
  lines.push('physical memory:');
  for (const r of dump.ranges) lines.push(`  ${pad(r.gpa)}-${pad(r.gpa + r.size - 1)}  ${hex(r.size)} bytes`);
  return lines;
}

function windowsText(w: WinDumpInfo): string[] {
  const lines = [
    `Windows crash dump ${w.signature}: version ${w.majorVersion}.${w.minorVersion}, machine ${hex(w.machineImageType)}, ${w.numberProcessors} processor${w.numberProcessors === 1 ? '' : 's'}, DirectoryTableBase ${hex(w.directoryTableBase)}`,
    `  KdDebuggerDataBlock ${pad(w.kdDebuggerDataBlock)} PfnDatabase ${pad(w.pfnDatabase)} PsLoadedModuleList ${pad(w.psLoadedModuleList)} PsActiveProcessHead ${pad(w.psActiveProcessHead)}`,
    `  bugcheck ${hex(w.bugcheckCode)} (${w.bugcheckParameters.map((p) => hex(p)).join(', ')})${w.bugcheckCode === 0x161 ? ' LIVE_SYSTEM_DUMP' : ''}`,
    `  ${w.numberOfRuns} run${w.numberOfRuns === 1 ? '' : 's'}, NumberOfPages ${hex(w.numberOfPages)}, RequiredDumpSpace ${hex(w.requiredDumpSpace)}${w.comment === undefined ? '' : `, comment "${w.comment}"`}`,
  ];
  for (const r of w.runs) lines.push(`  run BasePage ${hex(r.basePage)} PageCount ${hex(r.pageCount)} at file offset ${hex(r.fileOffset)}`);
  lines.push(w.paging === undefined ? '  contexts: KDBG not found through DirectoryTableBase' : `  contexts (found with ${w.paging} paging):`);
  for (const c of w.contexts) lines.push(`    cpu ${c.cpu} at ${pad(c.address)}: ContextFlags ${hex(c.contextFlags)} rip ${pad(c.rip)} rsp ${pad(c.rsp)} eflags ${hex(c.rflags)} cs ${hex(c.selectors.cs)} ss ${hex(c.selectors.ss)}`);
  return lines;
}

function cpuText(cpu: CpuSnapshot, index: number): string[] {
  const lines = [`cpu ${index}: rip ${pad(cpu.rip)} rsp ${pad(cpu.gpr.rsp)} rflags ${hex(cpu.rflags)}`];
  for (let i = 0; i < GPRS.length; i += 4) lines.push(`  ${GPRS.slice(i, i + 4).map((n) => `${n.padEnd(3)} ${pad(cpu.gpr[n])}`).join('  ')}`);
  for (const name of SEGMENTS) {
    const s = cpu.segments[name];
    lines.push(`  ${name.padEnd(3)} selector ${hex(s.selector).padEnd(6)} base ${pad(s.base)} limit ${hex(s.limit).padEnd(10)} flags ${hex(s.flags)}`);
  }
  lines.push(`  gdt base ${pad(cpu.gdt.base)} limit ${hex(cpu.gdt.limit)}   idt base ${pad(cpu.idt.base)} limit ${hex(cpu.idt.limit)}`);
  lines.push(`  cr0 ${hex(cpu.cr0)} cr2 ${hex(cpu.cr2)} cr3 ${hex(cpu.cr3)} cr4 ${hex(cpu.cr4)} efer ${hex(cpu.efer)} (inferred) kernel_gs_base ${hex(cpu.kernelGsBase)}`);
  return lines;
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

function pad(value: number | bigint): string {
  return `0x${value.toString(16).padStart(16, '0')}`;
}
