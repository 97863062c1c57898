/**
 * slice86 inside the pinned npm v86: Debian's SeaBIOS boots with slice86's fw_cfg (DMA included),
 * loads v86's multiboot option ROM through it, and the multiboot guest (firmware/v86) registers a
 * VMCOREINFO note by fw_cfg DMA. The machine is then dumped in every format and read back by
 * slice86's reader and by crash and gdb; its devices' state rides in v86's save_state and
 * resets with v86's reboot.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V86 } from 'v86';
import { attachToV86, dumpV86, type V86Attachment } from '../../src/adapters/v86.js';
import { createDumpEngine, createZstdCodec, DUMP_FORMATS, inputFromBytes, MemorySink, readDump, type DumpEngine, type DumpFile, type DumpFormat } from '../../src/index.js';
import { missingDebianFile, missingTool } from '../support/tools.js';
import { DEBIAN_SEABIOS, fileBuffer, haltOf, loadV86, MULTIBOOT_GUEST } from '../support/v86.js';

const skip = missingDebianFile(DEBIAN_SEABIOS, 'seabios');
const dir = mkdtempSync(join(tmpdir(), 'slice86-v86-'));
const guest = new Uint8Array(readFileSync(MULTIBOOT_GUEST));

let emulator: V86 | undefined;
let machine: V86;
let slice: V86Attachment;
let engine: DumpEngine;
const dumps = new Map<DumpFormat, { path: string; file: DumpFile }>();

afterAll(async () => {
  await emulator?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== undefined)(`SeaBIOS and a multiboot guest under v86${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    const loaded = await loadV86({ bios: fileBuffer(DEBIAN_SEABIOS), multiboot: fileBuffer(MULTIBOOT_GUEST) });
    emulator = loaded;
    machine = loaded;
    slice = attachToV86(loaded);
    const halted = haltOf(loaded);
    await loaded.run();
    await halted;
    await loaded.stop();
    engine = await createDumpEngine();
  });

  it("re-exports v86's multiboot option ROM as a QEMU-numbered fw_cfg file", () => {
    expect(slice.fwcfg.files()).toEqual([
      { name: 'etc/vmcoreinfo', key: 0x20, size: 16, readOnly: false },
      { name: 'genroms/multiboot.bin', key: 0x21, size: 512, readOnly: true },
    ]);
  });

  it('SeaBIOS reports the DMA interface and loads our genroms file through it (debug port 0x402)', () => {
    const log = slice.debugcons.find((d) => d.port === 0x402)?.text() ?? '';
    expect(log).toContain('SeaBIOS (version 1.16.2-debian-1.16.2-1)');
    expect(log).toContain('Found QEMU fw_cfg\nQEMU fw_cfg DMA interface supported\n');
    expect(log).toContain('Searching bootorder for: /rom@genroms/multiboot.bin');
    expect(log).toMatch(/Running option rom at c[0-9a-f]00:0003/);
  });

  it('the multiboot guest registers its VMCOREINFO note by DMA and halts', () => {
    expect(slice.debugcon?.text()).toMatch(/^v86-multiboot-vmcoreinfo v1\nvmcoreinfo key 0020 note ([0-9a-f]{8})\nready\n$/);
    const noteAddress = parseInt(/note ([0-9a-f]{8})/.exec(slice.debugcon?.text() ?? '')?.[1] ?? '0', 16);
    expect(slice.vmcoreinfo?.record).toEqual({ hasVmcoreinfo: true, hostFormat: 0, guestFormat: 1, size: 60, paddr: BigInt(noteAddress) });
    expect(slice.diagnostics.counts()).toEqual({});
  });

  // win-dmp needs a Windows guest; this guest's note holds Linux VMCOREINFO text (refused below).
  const linuxFormats = DUMP_FORMATS.filter((f) => f !== 'win-dmp');
  it('refuses win-dmp for this Linux-style note with QEMU\'s text', async () => {
    await expect(dumpV86(machine, { sink: new MemorySink(), format: 'win-dmp', engine })).rejects.toMatchObject({ qemuMessage: 'win-dump: invalid vmcoreinfo note size' });
  });

  it.each(linuxFormats)('dumpV86 writes %s, which slice86 reads back with v86 registers, note and RAM', async (format) => {
    const sink = new MemorySink();
    const result = await dumpV86(machine, { sink, format, engine });
    expect(result.warnings).toEqual([]);
    const bytes = sink.bytes();
    const path = join(dir, format);
    writeFileSync(path, bytes);
    const file = await readDump(inputFromBytes(bytes), { codecs: { zstd: await createZstdCodec() } });
    dumps.set(format, { path, file });

    expect(file.machine).toBe('i386');
    expect(file.vmcoreinfo).toBe('OSRELEASE=6.1.0-v86\nPAGESIZE=4096\n');
    // v86's RAM less the VGA window, which v86 gives to its VGA device.
    expect(file.ranges.map((r) => [r.gpa, r.size])).toEqual([[0, 0xa0000], [0xc0000, 32 * 2 ** 20 - 0xc0000]]);
    const loaded = new Uint8Array(guest.length);
    expect(await file.readPhysical(0x100000, loaded)).toBe(true);
    expect(loaded).toEqual(guest);
    const cpu = file.cpus[0];
    expect(file.cpus).toHaveLength(1);
    expect([cpu?.gpr.rax, cpu?.gpr.rbx, cpu?.gpr.rcx, cpu?.gpr.rdx, cpu?.gpr.rsi, cpu?.gpr.rdi, cpu?.gpr.rbp]).toEqual([
      0xaaaa0a01n, 0xbbbb0b02n, 0xcccc0c03n, 0xdddd0d04n, 0x51515105n, 0xd1d10d06n, 0xbebebe07n,
    ]);
    expect(cpu?.rflags).toBe(0x2n);
    expect((cpu?.cr0 ?? 0n) & 1n).toBe(1n);
    expect(cpu?.segments.cs.selector).toBe(0x08);
    // The loader's flat 4 GiB segments: G and D/B set, present code/data (v86 sets no accessed bit).
    expect(cpu?.segments.cs.flags).toBe(0x00cf9a00);
    expect(cpu?.segments.ds).toEqual({ selector: 0x10, base: 0n, limit: 0xffffffff, flags: 0x00cf9300 });
    // Halted after the hlt at the guest's HALT_AT (the byte before the final jmp).
    expect(guest[Number(cpu?.rip ?? 0n) - 0x100000 - 1]).toBe(0xf4);
  });

  describe.skipIf(missingTool('crash') !== undefined)('crash', () => {
    it('crash --osrelease reads the OSRELEASE of the flattened kdump (the format QEMU writes)', () => {
      const path = dumps.get('kdump-zlib')?.path ?? '';
      expect(execFileSync('crash', ['--osrelease', path], { encoding: 'utf8' }).trim()).toBe('6.1.0-v86');
    });

    it("Debian's x86_64 crash does not take i386 ELF cores (as for QEMU 7.2's own 32-bit dumps)", () => {
      const path = dumps.get('elf')?.path ?? '';
      expect(spawnSync('crash', ['--osrelease', path], { encoding: 'utf8' }).stdout.trim()).toBe('unknown');
    });
  });

  describe.skipIf(missingTool('gdb') !== undefined)('gdb', () => {
    it('shows v86 registers and guest memory from the ELF core', () => {
      const path = dumps.get('elf')?.path ?? '';
      const out = execFileSync('gdb', ['-batch', '-nx', '-c', path, '-ex', 'info registers eax ebp eflags cs ds', '-ex', 'x/s 0x100024'], { encoding: 'utf8' });
      expect(out).toMatch(/eax\s+0xaaaa0a01/);
      expect(out).toMatch(/ebp\s+0xbebebe07/);
      expect(out).toMatch(/cs\s+0x8/);
      expect(out).toMatch(/ds\s+0x10/);
    });
  });

  it("keeps the devices' state in v86's save_state, resets them with v86's reboot, restores them", async () => {
    const saved = await machine.save_state();
    const before = { record: slice.vmcoreinfo?.record, key: slice.fwcfg.curKey, offset: slice.fwcfg.curOffset };
    expect(before.key).toBe(0x20);

    machine.restart();
    expect(slice.vmcoreinfo?.record).toEqual({ hasVmcoreinfo: false, hostFormat: 1, guestFormat: 0, size: 0, paddr: 0n });
    expect([slice.fwcfg.curKey, slice.fwcfg.curOffset]).toEqual([0, 0]);

    await machine.restore_state(saved);
    expect({ record: slice.vmcoreinfo?.record, key: slice.fwcfg.curKey, offset: slice.fwcfg.curOffset }).toEqual(before);
    expect(slice.snapshotCpu().gpr.rax).toBe(0xaaaa0a01n);
  });

  it('a state saved without slice86 resets the devices when restored', async () => {
    slice.detach();
    const withoutSlice86 = await machine.save_state();
    slice = attachToV86(machine);
    slice.ports.write(0x510, 2, 0x0021);
    slice.ports.read(0x511, 1);
    expect([slice.fwcfg.curKey, slice.fwcfg.curOffset]).toEqual([0x21, 1]);
    await machine.restore_state(withoutSlice86);
    expect([slice.fwcfg.curKey, slice.fwcfg.curOffset]).toEqual([0, 0]);
  });
});
