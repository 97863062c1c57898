/**
 * The web demo (npm run demo:web): the published browser bundle, imported as it is, boots the
 * built-in firmware (firmware/cpu/default.asm) on the CPU in the page and shows what the guest
 * saw: the debug console, the fw_cfg file list and the vmcoreinfo state. An uploaded firmware
 * image runs instead (mapped and started as QEMU's -bios), and
 * each dump format is offered as a download written as it streams (see download.ts). No Node APIs:
 * the build resolves ../src/index.js to ../browser/slice86.js.
 */

import {
  bootDefaultFirmware,
  createDumpEngine,
  createMachine,
  defaultFirmwareImage,
  dumpSourceFromMachine,
  formatSize,
  readGuestNote,
  Slice86Error,
  type DumpEngine,
  type DumpFormat,
  type Machine,
  type MachineType,
  type RunResult,
} from '../src/index.js';
import { save, saveMethod } from './download.js';

const engine: Promise<DumpEngine> = createDumpEngine();
let machine: Machine | undefined;
let firmware: { name: string; bytes: Uint8Array } | undefined;

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id} ${type.name}`);
  return found;
}

function setState(state: 'booting' | 'booted' | 'error'): void {
  document.body.dataset['state'] = state;
}

/** One line, as the CLI prints errors: the message and, for slice86's errors, the code. */
function errorLine(error: unknown): string {
  if (error instanceof Slice86Error) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

async function boot(): Promise<void> {
  setState('booting');
  element('error', HTMLElement).textContent = '';
  try {
    const type = element('machine', HTMLSelectElement).value as MachineType;
    const memorySize = element('memory', HTMLSelectElement).value;
    machine = createMachine({ machine: type, memorySize, firmware: firmware?.bytes ?? defaultFirmwareImage() });
    const report = await bootDefaultFirmware(machine);
    render(machine, report.run);
    setState('booted');
  } catch (error) {
    machine = undefined;
    element('error', HTMLElement).textContent = errorLine(error);
    setState('error');
  }
}

function render(m: Machine, run: RunResult): void {
  const image = firmware === undefined ? 'the built-in firmware (firmware/cpu/default.asm)' : `-bios ${firmware.name} (${formatSize(firmware.bytes.length)})`;
  const why = run.reason === 'debug-exit' ? `isa-debug-exit ${String(run.exitCode)}` : run.reason;
  element('summary', HTMLElement).textContent = `${m.type}, ${formatSize(m.layout.ramSize)} RAM, ${m.cpus} CPU; ran ${image} on the CPU: ${why} after ${run.instructions} instructions`;

  const rows = m.fwcfg.files().map((f) => {
    const tr = document.createElement('tr');
    for (const text of [`0x${f.key.toString(16)}`, String(f.size), f.name, f.readOnly ? 'read-only' : 'writable']) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  element('fwcfg', HTMLElement).replaceChildren(...rows);

  const record = m.vmcoreinfo?.record;
  const lines: string[] = [];
  if (record === undefined) lines.push('no vmcoreinfo device');
  else {
    lines.push(`${record.hasVmcoreinfo ? 'registered' : 'not registered'}: host_format ${record.hostFormat}, guest_format ${record.guestFormat}, size ${record.size}, paddr 0x${record.paddr.toString(16)}`);
    const { note, physBase, warnings } = readGuestNote(m.memory, record, { machine: 'x86_64' });
    if (note !== undefined) lines.push(`guest note "${note.name}", ${note.descSize}-byte text${physBase === undefined ? '' : `; NUMBER(phys_base) 0x${physBase.toString(16)}`}`);
    for (const w of warnings) lines.push(`warning: ${w}`);
  }
  element('vmcoreinfo', HTMLElement).textContent = lines.join('\n');
  element('console', HTMLElement).textContent = m.debugcon?.text() ?? '';
}

const FILE_NAMES: Record<DumpFormat, string> = {
  elf: 'vmcore.elf',
  'kdump-zlib': 'vmcore-zlib.flat',
  'kdump-raw-zlib': 'vmcore-zlib.kdump',
  'kdump-lzo': 'vmcore-lzo.flat',
  'kdump-raw-lzo': 'vmcore-lzo.kdump',
  'kdump-snappy': 'vmcore-snappy.flat',
  'kdump-raw-snappy': 'vmcore-snappy.kdump',
  'kdump-zstd': 'vmcore-zstd.flat',
  'kdump-raw-zstd': 'vmcore-zstd.kdump',
  'win-dmp': 'vmcore.dmp',
};

async function renderDownloads(): Promise<void> {
  const formats = (await engine).queryCapabilities().formats;
  const items = await Promise.all(formats.map(async (format) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset['format'] = format;
    button.textContent = `${format} (${FILE_NAMES[format]})`;
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = `via ${await saveMethod(format.startsWith('kdump-raw-'))}`;
    button.addEventListener('click', () => {
      void download(format, button, state);
    });
    li.append(button, ' ', state);
    return li;
  }));
  element('downloads', HTMLUListElement).replaceChildren(...items);
}

async function download(format: DumpFormat, button: HTMLButtonElement, state: HTMLSpanElement): Promise<void> {
  const m = machine;
  if (m === undefined) return;
  const buttons = [...document.querySelectorAll<HTMLButtonElement>('#downloads button')];
  for (const b of buttons) b.disabled = true;
  button.dataset['state'] = 'running';
  const started = performance.now();
  let bytes = 0;
  try {
    const method = await save(FILE_NAMES[format], format.startsWith('kdump-raw-'), async (sink) => {
      const result = await (await engine).dump(dumpSourceFromMachine(m), {
        sink,
        format,
        onProgress: ({ completed, total }) => {
          state.textContent = `${Math.floor((completed / Math.max(total, 1)) * 100)}% of ${formatSize(total)} guest memory`;
        },
      });
      bytes = result.bytesWritten;
    });
    state.textContent = `${bytes} bytes via ${method} in ${((performance.now() - started) / 1000).toFixed(2)} s`;
    button.dataset['state'] = 'done';
  } catch (error) {
    state.textContent = errorLine(error);
    button.dataset['state'] = 'error';
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

element('boot', HTMLElement).addEventListener('click', () => {
  void boot();
});
element('firmware', HTMLInputElement).addEventListener('change', (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (file === undefined) return;
  void file.arrayBuffer().then((buffer) => {
    firmware = { name: file.name, bytes: new Uint8Array(buffer) };
    return boot();
  });
});
element('reset-firmware', HTMLElement).addEventListener('click', () => {
  firmware = undefined;
  element('firmware', HTMLInputElement).value = '';
  void boot();
});

void boot();
void renderDownloads().then(() => {
  document.body.dataset['downloads'] = 'ready';
}, (error: unknown) => {
  element('error', HTMLElement).textContent = errorLine(error);
});
