/**
 * The built-in firmware the demos boot, behind one call so the guest can change without touching
 * its callers (the CLI's `demo` and the web page). Today it is the scripted guest
 * (src/guest/scripted-probe.ts), which drives fw_cfg and vmcoreinfo through ports and guest RAM
 * because there is no CPU yet; when the interpreter lands it becomes a nasm program run by the CPU,
 * and this function is the only thing that changes.
 */

import type { Machine } from '../machine.js';
import { runScriptedProbe, type ProbeReport } from './scripted-probe.js';

export interface BootReport {
  /** What ran: 'scripted-probe' until the CPU runs real firmware. */
  readonly firmware: 'scripted-probe';
  /** What the guest saw of fw_cfg: signature, id, the directory, e820, the vmcoreinfo write. */
  readonly probe: ProbeReport;
}

/**
 * Boots the built-in firmware on `machine` to completion: it reads fw_cfg, prints to the debug
 * console and registers a VMCOREINFO note, all through the guest's ports and memory. A firmware
 * image given to createMachine is mapped as QEMU maps -bios, but is not executed until the CPU lands.
 */
export function bootDefaultFirmware(machine: Machine): BootReport {
  return { firmware: 'scripted-probe', probe: runScriptedProbe(machine) };
}
