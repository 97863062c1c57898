/**
 * QEMU's tests/qtest/fw_cfg-test.c (spec §14.1): all 12 cases, each on the machine the qtest boots
 * (pc with the given options), and each run over port I/O and both DMA driver styles. QEMU's own
 * test uses the port helpers only; DMA reads here are checked through the control word in RAM.
 * Files are found with QEMU's qfw_cfg_get_file walk: count, re-select, whole directory, match.
 */
import { describe, expect, it } from 'vitest';
import type { Machine, MachineOptions } from '../../src/index.js';
import { DmaDriver, PioDriver, findFile, type FwCfgDriver } from '../support/fwcfg-driver.js';
import { hex } from '../support/hex.js';
import { makeMachine } from '../support/machine-fixture.js';

const TRANSPORTS = [
  { transport: 'pio', driver: (m: Machine): FwCfgDriver => new PioDriver(m) },
  { transport: 'dma-seabios', driver: (m: Machine): FwCfgDriver => new DmaDriver(m, 'seabios') },
  { transport: 'dma-linux', driver: (m: Machine): FwCfgDriver => new DmaDriver(m, 'linux') },
] as const;

/** Pre-fills a DMA driver's buffer so that a device that wrote nothing cannot pass for zeros. */
function prefill(driver: FwCfgDriver, length: number): void {
  if (driver instanceof DmaDriver) {
    driver.machine.memory.write(driver.bufferGpa, Uint8Array.from({ length }, (_, i) => 0x80 | (i & 0x7f)));
  }
}

/** Reads through the driver; a DMA read must also leave control 0 in guest RAM. */
function readItem(driver: FwCfgDriver, key: number, length: number): Uint8Array {
  prefill(driver, length);
  if (!(driver instanceof DmaDriver)) return driver.readItem(key, length);
  const { control, data } = driver.readDma(key, length);
  expect(control).toBe(0);
  return data;
}

/** Reads on from the current cursor without selecting (qfw_cfg_read_data). */
function readMore(driver: FwCfgDriver, length: number): Uint8Array {
  prefill(driver, length);
  if (!(driver instanceof DmaDriver)) return driver.read(length);
  const { control, data } = driver.readDma(undefined, length);
  expect(control).toBe(0);
  return data;
}

/** QEMU's qfw_cfg_get_file: the file's full size and up to `bufferLength` of its bytes. */
function getFile(driver: FwCfgDriver, name: string, bufferLength: number): { size: number; data: Uint8Array } {
  const entry = findFile(driver, name);
  if (entry === undefined) return { size: 0, data: new Uint8Array(0) };
  return { size: entry.size, data: readItem(driver, entry.key, Math.min(entry.size, bufferLength)) };
}

describe.each(TRANSPORTS)('fw_cfg-test.c over $transport', ({ driver }) => {
  const boot = (options: MachineOptions = {}): FwCfgDriver => driver(makeMachine(options));

  it('§14.1 #1 fw_cfg/signature: key 0 reads "QEMU"', () => {
    expect(readItem(boot(), 0x00, 4)).toEqual(hex`51 45 4D 55`);
  });

  it('§14.1 #2 fw_cfg/id: key 1 is u32 LE 3 (traditional + DMA)', () => {
    // QEMU's test accepts 1 or 3; x86 always has DMA, so exactly 3.
    expect(readItem(boot(), 0x01, 4)).toEqual(hex`03 00 00 00`);
  });

  it('§14.1 #3 fw_cfg/uuid: key 2 holds -uuid in textual byte order', () => {
    const fw = boot({ uuid: '4600cb32-38ec-4b2f-8acb-81c6ea54f2d8' });
    expect(readItem(fw, 0x02, 16)).toEqual(hex`46 00 cb 32 38 ec 4b 2f 8a cb 81 c6 ea 54 f2 d8`);
  });

  it('§14.1 #4 fw_cfg/ram_size: key 3 is u64 LE 128 MiB (default -m)', () => {
    expect(readItem(boot({ memorySize: '128M' }), 0x03, 8)).toEqual(hex`00 00 00 08 00 00 00 00`);
  });

  it('§14.1 #5 fw_cfg/nographic: key 4 is u16 0', () => {
    expect(readItem(boot(), 0x04, 2)).toEqual(hex`00 00`);
  });

  it('§14.1 #6 fw_cfg/nb_cpus: key 5 is u16 1', () => {
    expect(readItem(boot(), 0x05, 2)).toEqual(hex`01 00`);
  });

  it('§14.1 #7 fw_cfg/max_cpus: key 0xf is u16 1', () => {
    expect(readItem(boot(), 0x0f, 2)).toEqual(hex`01 00`);
  });

  it('§14.1 #8 fw_cfg/numa: key 0xd node count 0, then the cpu and node masks by cursor continuation', () => {
    const fw = boot();
    expect(readItem(fw, 0x0d, 8)).toEqual(hex`00 00 00 00 00 00 00 00`);
    // max_cpus (1) u64 node-of-CPU words, then nb_nodes (0) memory words, without re-selecting.
    expect(readMore(fw, 8)).toEqual(hex`00 00 00 00 00 00 00 00`);
    expect(readMore(fw, 0)).toEqual(hex``);
  });

  it('§14.1 #9 fw_cfg/boot_menu: key 0xe is u16 0', () => {
    expect(readItem(boot(), 0x0e, 2)).toEqual(hex`00 00`);
  });

  it('§14.1 #10 fw_cfg/reboot_timeout: etc/boot-fail-wait is 4 bytes, LE 15', () => {
    const file = getFile(boot({ rebootTimeout: 15 }), 'etc/boot-fail-wait', 4);
    expect(file.size).toBe(4);
    expect(file.data).toEqual(hex`0F 00 00 00`);
  });

  it('§14.1 #11 fw_cfg/no_reboot_timeout: reboot-timeout=-1 gives 0xFFFFFFFF', () => {
    const file = getFile(boot({ rebootTimeout: -1 }), 'etc/boot-fail-wait', 4);
    expect(file.size).toBe(4);
    expect(file.data).toEqual(hex`FF FF FF FF`);
  });

  it('§14.1 #12 fw_cfg/splash_time: etc/boot-menu-wait is 2 bytes, LE 12', () => {
    const file = getFile(boot({ splashTime: 12 }), 'etc/boot-menu-wait', 2);
    expect(file.size).toBe(2);
    expect(file.data).toEqual(hex`0C 00`);
  });
});
