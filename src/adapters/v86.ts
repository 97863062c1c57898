/**
 * slice86/v86: QEMU 7.2's fw_cfg (ports and DMA), vmcoreinfo and the debug consoles inside a v86
 * emulator, and dumps of v86 machines in every slice86 format. It takes the V86 instance the
 * embedder created (v86 itself is not bundled) and uses no Node built-ins.
 *
 * @module slice86/v86
 */

export { attachToV86, type V86Attachment, type V86AttachOptions } from './v86/attach.js';
export { dumpV86, dumpSourceFromV86, type V86DumpOptions } from './v86/dump.js';
export { snapshotV86Cpu } from './v86/cpu-snapshot.js';
export { V86AdapterError, type V86AdapterErrorCode } from './v86/errors.js';
export type { V86DeviceOptions, V86DevicesState } from './v86/devices.js';
export { V86_VGA_WINDOW_START, V86_VGA_WINDOW_END } from './v86/memory.js';
