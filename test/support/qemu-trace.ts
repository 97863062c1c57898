/**
 * Reader of the golden traces recorded from QEMU 7.2 by firmware/golden/fwcfg-probe.asm
 * (format: test/fixtures/qemu-7.2/fwcfg/README.md). Each line is one guest operation and what the
 * guest saw; replaying the operations against our machine must give the same results.
 */
import { readFileSync } from 'node:fs';
import { readU32be } from '../../src/core/bytes.js';
import { fromHex } from './hex.js';
import type { Machine } from '../../src/machine.js';

export type TraceOp =
  | { readonly kind: 'out'; readonly line: number; readonly size: 1 | 2 | 4; readonly port: number; readonly value: number }
  | { readonly kind: 'in'; readonly line: number; readonly size: 1 | 2 | 4; readonly port: number; readonly value: number }
  | { readonly kind: 'wmem'; readonly line: number; readonly gpa: number; readonly bytes: Uint8Array }
  | { readonly kind: 'rmem'; readonly line: number; readonly gpa: number; readonly bytes: Uint8Array };

export interface TraceFile {
  readonly key: number;
  readonly size: number;
  readonly name: string;
}

export interface Trace {
  readonly ops: readonly TraceOp[];
  readonly files: readonly TraceFile[];
}

export const FIXTURE_DIR = new URL('../fixtures/qemu-7.2/fwcfg/', import.meta.url);

export function loadTrace(name: string): Trace {
  const text = readFileSync(new URL(`${name}.trace`, FIXTURE_DIR), 'latin1');
  const ops: TraceOp[] = [];
  const files: TraceFile[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const words = raw.split(' ');
    const [op = '', a = '', b = ''] = words;
    const io = /^(in|out)([124])$/.exec(op);
    if (io !== null) {
      ops.push({ kind: io[1] === 'in' ? 'in' : 'out', line, size: Number(io[2]) as 1 | 2 | 4, port: parseInt(a, 16), value: parseInt(b, 16) });
    } else if (op === 'wmem' || op === 'rmem') {
      ops.push({ kind: op, line, gpa: parseInt(a, 16), bytes: fromHex(b) });
    } else if (op === 'file') {
      files.push({ key: parseInt(a, 16), size: parseInt(b, 16), name: words.slice(3).join(' ') });
    }
  });
  return { ops, files };
}

/**
 * File contents as the guest DMA-read them in the probe's "every file by DMA" pass: a SELECT|READ
 * descriptor (control key<<16 | 0x0a) stored with wmem, then rmem lines covering its buffer.
 */
export function fileContents(trace: Trace): Map<string, Uint8Array> {
  const byKey = new Map(trace.files.map((f) => [f.key, f]));
  const out = new Map<string, Uint8Array>();
  let pending: { file: TraceFile; address: number; buffer: Uint8Array } | undefined;
  for (const op of trace.ops) {
    if (op.kind === 'wmem' && op.bytes.length === 16 && (readU32be(op.bytes, 0) & 0xffff) === 0x0a) {
      const file = byKey.get(readU32be(op.bytes, 0) >>> 16);
      if (file !== undefined && !out.has(file.name)) {
        pending = { file, address: readU32be(op.bytes, 12), buffer: new Uint8Array(file.size) };
      }
    } else if (op.kind === 'rmem' && pending !== undefined) {
      const at = op.gpa - pending.address;
      if (at >= 0 && at < pending.file.size) pending.buffer.set(op.bytes.subarray(0, pending.file.size - at), at);
      if (at + op.bytes.length >= pending.file.size) {
        out.set(pending.file.name, pending.buffer);
        pending = undefined;
      }
    }
  }
  for (const f of trace.files) if (f.size === 0) out.set(f.name, new Uint8Array(0));
  return out;
}

let pc32Files: Map<string, Uint8Array> | undefined;

/**
 * Gives `machine` the fw_cfg files QEMU 7.2 builds outside slice86 (ACPI, SMBIOS, the table
 * loader, the TPM log, kvmvapic.bin) with QEMU's own bytes, as the fw_cfg golden capture recorded
 * them for pc at 32 MiB: guests that list the directory then see what they saw under QEMU.
 */
export function addQemuOnlyFiles(machine: Machine): void {
  pc32Files ??= fileContents(loadTrace('pc-32M'));
  for (const [name, bytes] of pc32Files) if (!machine.fwcfg.hasFile(name)) machine.fwcfg.addFile(name, bytes);
}
