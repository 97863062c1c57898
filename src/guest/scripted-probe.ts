/**
 * A scripted guest for machines without a CPU: it does what boot firmware does with fw_cfg, and
 * only through I/O ports and guest RAM. It checks the signature, reads FW_CFG_ID, walks the file
 * directory by DMA (SeaBIOS's way: descriptor on the stack, low-half trigger, control word polled
 * from RAM), reads etc/e820, writes a Linux-style VMCOREINFO note and registers it with a 16-byte
 * DMA write to etc/vmcoreinfo, and prints to the debug console. It reports what it saw.
 */

import type { Machine } from '../machine.js';
import { bswap32, cString, readU32be, readU32le, readU64le, writeU32be, writeU32le } from '../core/bytes.js';
import {
  FW_CFG_DMA_CTL_READ,
  FW_CFG_DMA_CTL_SELECT,
  FW_CFG_DMA_CTL_WRITE,
  FW_CFG_FILE_DIR,
  FW_CFG_FILE_ENTRY_SIZE,
  FW_CFG_ID,
  FW_CFG_SIGNATURE,
  FW_CFG_VERSION_DMA,
  FW_CFG_VMCOREINFO_FILENAME,
  E820_ENTRY_SIZE,
} from '../fwcfg/abi.js';

const PORT_SELECTOR = 0x510;
const PORT_DATA = 0x511;
const PORT_DMA_LOW = 0x518;
const PORT_DEBUGCON = 0xe9;
/** Guest RAM the script uses: a stack-like descriptor slot, a buffer, and the note. */
const DESCRIPTOR_GPA = 0x6ff0;
const BUFFER_GPA = 0x10000;
export const PROBE_NOTE_GPA = 0x90000;

export interface ProbeFile {
  readonly name: string;
  readonly key: number;
  readonly size: number;
}

export interface ProbeE820 {
  readonly address: bigint;
  readonly length: bigint;
  readonly type: number;
}

export interface ProbeReport {
  readonly signature: string;
  readonly id: number;
  readonly dma: boolean;
  readonly files: readonly ProbeFile[];
  readonly e820: readonly ProbeE820[];
  /** DMA control word after registering the note: 0 on success. */
  readonly vmcoreinfoControl: number | undefined;
}

export interface ProbeOptions {
  /** OSRELEASE in the note. */
  readonly osRelease?: string;
  /** NUMBER(phys_base) as Linux prints it (decimal). */
  readonly physBase?: number;
}

export function runScriptedProbe(machine: Machine, options: ProbeOptions = {}): ProbeReport {
  const guest = new ProbeGuest(machine);
  guest.print('slice86 scripted probe\n');
  guest.select(FW_CFG_SIGNATURE);
  const signature = String.fromCharCode(...guest.readPort(4));
  guest.select(FW_CFG_ID);
  const id = readU32le(guest.readPort(4), 0);
  const dma = (id & FW_CFG_VERSION_DMA) !== 0;
  guest.print(`fw_cfg signature "${signature}", id ${id}${dma ? ' (DMA)' : ''}\n`);

  const files = dma ? guest.directory() : [];
  for (const f of files) guest.print(`  0x${f.key.toString(16)} ${f.size.toString().padStart(7)} ${f.name}\n`);
  const e820File = files.find((f) => f.name === 'etc/e820');
  const e820 = e820File === undefined ? [] : parseE820(guest.dmaRead(e820File.key, e820File.size).data);

  let vmcoreinfoControl: number | undefined;
  const vmcoreinfo = files.find((f) => f.name === FW_CFG_VMCOREINFO_FILENAME);
  if (vmcoreinfo !== undefined) {
    const text = `OSRELEASE=${options.osRelease ?? '6.1.0-slice86'}\nPAGESIZE=4096\nNUMBER(phys_base)=${options.physBase ?? 16777216}\n`;
    const note = linuxVmcoreinfoNote(text);
    machine.memory.write(PROBE_NOTE_GPA, note);
    // What Linux's qemu_fw_cfg driver writes: host_format 0, guest_format ELF, size, address.
    const record = new Uint8Array(16);
    record[2] = 1;
    writeU32le(record, 4, note.length);
    writeU32le(record, 8, PROBE_NOTE_GPA);
    vmcoreinfoControl = guest.dmaWrite(vmcoreinfo.key, record);
    guest.print(`vmcoreinfo note at 0x${PROBE_NOTE_GPA.toString(16)} registered, control ${vmcoreinfoControl}\n`);
  }
  guest.print('done\n');
  return { signature, id, dma, files, e820, vmcoreinfoControl };
}

/** A note as Linux lays out vmcoreinfo_note: header, "VMCOREINFO\0" padded, text padded, empty note. */
export function linuxVmcoreinfoNote(text: string): Uint8Array {
  const desc = new TextEncoder().encode(text);
  const descPadded = Math.ceil(desc.length / 4) * 4;
  const note = new Uint8Array(12 + 12 + descPadded + 12);
  writeU32le(note, 0, 11);
  writeU32le(note, 4, desc.length);
  note.set(new TextEncoder().encode('VMCOREINFO'), 12);
  note.set(desc, 24);
  return note;
}

function parseE820(bytes: Uint8Array): ProbeE820[] {
  const out: ProbeE820[] = [];
  for (let at = 0; at + E820_ENTRY_SIZE <= bytes.length; at += E820_ENTRY_SIZE) {
    out.push({ address: readU64le(bytes, at), length: readU64le(bytes, at + 8), type: readU32le(bytes, at + 16) });
  }
  return out;
}

class ProbeGuest {
  readonly #machine: Machine;

  constructor(machine: Machine) {
    this.#machine = machine;
  }

  print(text: string): void {
    for (const byte of new TextEncoder().encode(text)) this.#machine.ports.write(PORT_DEBUGCON, 1, byte);
  }

  select(key: number): void {
    this.#machine.ports.write(PORT_SELECTOR, 2, key);
  }

  readPort(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.#machine.ports.read(PORT_DATA, 1);
    return out;
  }

  directory(): ProbeFile[] {
    const count = readU32be(this.dmaRead(FW_CFG_FILE_DIR, 4).data, 0);
    const dir = this.dmaRead(FW_CFG_FILE_DIR, 4 + count * FW_CFG_FILE_ENTRY_SIZE).data;
    const files: ProbeFile[] = [];
    for (let i = 0; i < count; i++) {
      const at = 4 + i * FW_CFG_FILE_ENTRY_SIZE;
      files.push({ size: readU32be(dir, at), key: (readU32be(dir, at + 4) >>> 16) & 0xffff, name: cString(dir.subarray(at + 8, at + FW_CFG_FILE_ENTRY_SIZE)) });
    }
    return files;
  }

  dmaRead(key: number, length: number): { control: number; data: Uint8Array } {
    const control = this.#transfer((key << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, length);
    return { control, data: this.#machine.memory.read(BUFFER_GPA, length) };
  }

  dmaWrite(key: number, data: Uint8Array): number {
    this.#machine.memory.write(BUFFER_GPA, data);
    return this.#transfer((key << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, data.length);
  }

  #transfer(control: number, length: number): number {
    const descriptor = new Uint8Array(16);
    writeU32be(descriptor, 0, control >>> 0);
    writeU32be(descriptor, 4, length);
    writeU32be(descriptor, 12, BUFFER_GPA);
    this.#machine.memory.write(DESCRIPTOR_GPA, descriptor);
    this.#machine.ports.write(PORT_DMA_LOW, 4, bswap32(DESCRIPTOR_GPA));
    // The transfer finished inside the OUT, so one read of the control word is the final value.
    return readU32be(this.#machine.memory.read(DESCRIPTOR_GPA, 4), 0);
  }
}
