/**
 * ELF cores read back: ELF32 (memory below 4 GiB), PN_XNUM, PT_LOADs that alias file bytes,
 * overlap, lie outside dumped memory or end before p_memsz, paging versus non-paging block
 * rules, cores with CORE/NT_PRSTATUS but no QEMU notes (another producer), and inputs that
 * answer asynchronously or fail. Hand-built files follow spec §3 byte by byte.
 */
import { describe, expect, it } from 'vitest';
import { DumpEngine, dumpSourceFromBytes, powerOnSnapshot, type CpuSnapshot } from '../../../../src/index.js';
import { CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME } from '../../../../src/cpu/state.js';
import { DumpReadError } from '../../../../src/dump/read/errors.js';
import { inputFromBytes, type RandomAccessInput } from '../../../../src/dump/read/input.js';
import { readDump } from '../../../../src/dump/read/read-dump.js';
import { customFpu, dumpBytes, expectedCpu, fields, firstDifference, handElf64, longModeCpu, note, protectedCpu, waitingCpu } from './helpers.js';
import { rejection } from '../../../support/thrown.js';

const pattern = (length: number, seed: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (seed + i * 13) & 0xff);


describe('ELF32 (no memory at or above 4 GiB)', () => {
  const blocks = [{ gpa: 0, bytes: pattern(0x10000, 1) }, { gpa: 0x100000, bytes: pattern(0x2000, 2) }];
  const cpus = [protectedCpu(0, customFpu()), waitingCpu(1)];

  it.each([undefined, 'qemu-7.2'] as const)('reads class, machine, memory and CPUs back (flavour %s)', async (compat) => {
    const bytes = await dumpBytes(dumpSourceFromBytes(blocks, cpus), 'elf', compat);
    const dump = await readDump(inputFromBytes(bytes));
    expect([dump.format, dump.elfClass, dump.machine]).toEqual(['elf', 32, 'i386']);
    // e_ehsize: QEMU 7.2 writes the host pointer size (spec §8.1).
    expect(dump.elf?.ehsize).toBe(compat === 'qemu-7.2' ? 8 : 52);
    expect(dump.elf?.phnum).toBe(3);
    expect(dump.ranges).toEqual([{ gpa: 0, size: 0x10000 }, { gpa: 0x100000, size: 0x2000 }]);
    expect(dump.cpus).toEqual(cpus.map((c, i) => expectedCpu(c, compat, 'i386', i)));
    const got = new Uint8Array(0x2000);
    expect(await dump.readPhysical(0x100000, got)).toBe(true);
    expect(got).toEqual(blocks[1]?.bytes);
    // Converted to kdump, the header class follows the ELF class (spec §2.2): 32-bit.
    const kdump = await readDump(inputFromBytes(await dumpBytes(await dump.toDumpSource(), 'kdump-zlib', compat)));
    expect(kdump.elfClass).toBe(32);
    expect(kdump.kdump?.subHeader.offsetNote).toBe(0x1050n);
    expect(kdump.cpus).toEqual(dump.cpus);
    const again = new Uint8Array(0x10000);
    expect(await kdump.readPhysical(0, again)).toBe(true);
    expect(again).toEqual(blocks[0]?.bytes);
  });
});

describe('PN_XNUM', () => {
  it('takes the real program header count from Shdr[0].sh_info', async () => {
    // Hand-built: the engine lays out 65535 PT_LOADs in quadratic time (see the report).
    const count = 0xffff;
    const loads = Array.from({ length: count }, (_, i) => ({ paddr: BigInt(i * 0x1000), data: Uint8Array.of(i & 0xff, i >> 8, 0xa5, 0x5a) }));
    const bytes = handElf64({ notes: [note('QEMU', 0, fields(440, [[4, 440, 4]]))], loads });
    expect(new DataView(bytes.buffer).getUint16(56, true)).toBe(0xffff);
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.elf?.phnum).toBe(count + 1);
    expect(dump.ranges).toHaveLength(count);
    const got = new Uint8Array(4);
    expect(await dump.readPhysical(0xfffe * 0x1000, got)).toBe(true);
    expect(got).toEqual(Uint8Array.of(0xfe, 0xff, 0xa5, 0x5a));
    const source = await dump.toDumpSource();
    expect(source.blocks).toHaveLength(count);
  });
});

describe('PT_LOAD rules', () => {
  const a = pattern(0x1000, 3);
  const b = pattern(0x1000, 4);
  const c = pattern(0x800, 5);
  const cpuNotes = [note('CORE', 1, new Uint8Array(336)), note('QEMU', 0, fields(440, [[4, 440, 4], [392, 0x80000011n, 8], [416, 0x1000n, 8], [424, 0x20n, 8]]))];

  it('by p_paddr: aliases share bytes, p_offset ~0 has none, p_memsz past p_filesz reads 0; a paging dump merges adjacent blocks', async () => {
    const bytes = handElf64({
      notes: cpuNotes,
      loads: [
        { paddr: 0x1000n, vaddr: 0xffff800000001000n, data: a },
        { paddr: 0x5000n, vaddr: 0xffff800000105000n, aliasOf: 0 },
        { paddr: 0x2000n, vaddr: 0xffff800000002000n, data: b },
        { paddr: 0x9000n, vaddr: 0xffff800000009000n, noData: true, memsz: 0x1000n },
        { paddr: 0x3000n, vaddr: 0xffff800000003000n, data: c, memsz: 0x1000n },
      ],
    });
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.elf?.paging).toBe(true);
    expect(dump.ranges).toEqual([{ gpa: 0x1000, size: 0x2800 }, { gpa: 0x5000, size: 0x1000 }]);
    const got = new Uint8Array(0x1000);
    expect(await dump.readPhysical(0x5000, got)).toBe(true);
    expect(got).toEqual(a);
    const hole = new Uint8Array(0x10).fill(1);
    expect(await dump.readPhysical(0x9000, hole)).toBe(false);
    expect(hole.every((x) => x === 0)).toBe(true);
    const tail = new Uint8Array(0x1000).fill(1);
    expect(await dump.readPhysical(0x3000, tail)).toBe(false);
    expect(tail.subarray(0, 0x800)).toEqual(c);
    expect(tail.subarray(0x800).every((x) => x === 0)).toBe(true);
    const source = await dump.toDumpSource();
    expect(source.blocks.map((bl) => [bl.gpa, bl.sizeBytes])).toEqual([[0x1000, 0x2800], [0x5000, 0x1000]]);
    expect(source.blocks[0]?.read(0xff0, 0x20)).toEqual(Uint8Array.from([...a.subarray(0xff0), ...b.subarray(0, 0x10)]));
  });

  it('a non-paging dump keeps each PT_LOAD a block (QEMU\'s guest_phys_blocks), overlapping ones merge', async () => {
    const d = pattern(0x1000, 6);
    const bytes = handElf64({
      notes: cpuNotes,
      loads: [
        { paddr: 0x1000n, data: a },
        { paddr: 0x2000n, data: b },
        { paddr: 0x2800n, data: d },
        { paddr: 0x8000n, data: c },
      ],
    });
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.elf?.paging).toBe(false);
    expect(dump.ranges).toEqual([{ gpa: 0x1000, size: 0x2800 }, { gpa: 0x8000, size: 0x800 }]);
    const source = await dump.toDumpSource();
    expect(source.blocks.map((bl) => [bl.gpa, bl.sizeBytes])).toEqual([[0x1000, 0x1000], [0x2000, 0x1800], [0x8000, 0x800]]);
    // Where PT_LOADs overlap, the first one's bytes count (aliases hold the same bytes anyway).
    const got = new Uint8Array(0x1800);
    expect(await dump.readPhysical(0x2000, got)).toBe(true);
    expect(got).toEqual(Uint8Array.from([...b, ...d.subarray(0x800)]));
  });
});

/** x86_64 elf_prstatus (spec §3.5): pid at 32, pr_reg at 112 in Linux's order. */
function prstatus64(pid: number, regs: Record<string, bigint>): Uint8Array {
  const order = ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'];
  return fields(336, [[32, pid, 4], ...order.map((name, i) => [112 + 8 * i, regs[name] ?? 0n, 8] as const)]);
}

/** i386 elf_prstatus: pid at 24, pr_reg (u32) at 72. */
function prstatus32(pid: number, regs: Record<string, bigint>): Uint8Array {
  const order = ['ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'eax', 'ds', 'es', 'fs', 'gs', 'orig_eax', 'eip', 'cs', 'eflags', 'esp', 'ss'];
  return fields(144, [[24, pid, 4], ...order.map((name, i) => [72 + 4 * i, regs[name] ?? 0n, 4] as const)]);
}

describe('cores without QEMU notes (another producer)', () => {
  it('build x86_64 snapshots from NT_PRSTATUS and NT_PRFPREG; long mode is implied', async () => {
    const regs = { rax: 0x1111n, rbx: 0x2222n, rcx: 3n, rdx: 4n, rsi: 5n, rdi: 6n, rbp: 7n, rsp: 0xffffc90000001000n, r8: 8n, r15: 15n, rip: 0xffffffff81000000n, eflags: 0x246n, cs: 0x10n, ss: 0x18n, ds: 0x2bn, es: 0x2bn, fs: 0x33n, gs: 0x3bn, fs_base: 0x7f0000001000n, gs_base: 0xffff888000010000n };
    const fxsave = fields(512, [[0, 0x37f, 2], [2, 0x3800, 2], [4, 0x80, 2], [8, 0xffffffff81001234n, 8], [24, 0x1fa0, 4], [28, 0xffff, 4]]);
    fxsave.set(new Uint8Array(16).fill(0x77), 160 + 16 * 15);
    const bytes = handElf64({ notes: [note('CORE', 1, prstatus64(1, regs)), note('CORE', 2, fxsave), note('CORE', 1, prstatus64(2, { rip: 0x1234n }))], loads: [{ paddr: 0n, data: pattern(0x1000, 9) }] });
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.cpus).toHaveLength(2);
    const [cpu0, cpu1] = dump.cpus as [CpuSnapshot, CpuSnapshot];
    const power = powerOnSnapshot(0);
    expect(cpu0.gpr).toEqual({ ...power.gpr, rax: 0x1111n, rbx: 0x2222n, rcx: 3n, rdx: 4n, rsi: 5n, rdi: 6n, rbp: 7n, rsp: 0xffffc90000001000n, r8: 8n, r15: 15n });
    expect([cpu0.rip, cpu0.rflags]).toEqual([0xffffffff81000000n, 0x246n]);
    expect(cpu0.segments.cs).toEqual({ ...power.segments.cs, selector: 0x10, base: 0n });
    expect(cpu0.segments.fs).toEqual({ ...power.segments.fs, selector: 0x33, base: 0x7f0000001000n });
    expect(cpu0.segments.gs.base).toBe(0xffff888000010000n);
    expect([cpu0.cr0, cpu0.cr4, cpu0.efer]).toEqual([power.cr0 | CR0_PE | CR0_PG, CR4_PAE, EFER_LMA | EFER_LME]);
    expect(cpu0.fpu).toMatchObject({ fcw: 0x37f, fsw: 0x3800, ftw: 0x80, fip: 0xffffffff81001234n, mxcsr: 0x1fa0 });
    expect(cpu0.fpu.xmm[15]).toEqual(new Uint8Array(16).fill(0x77));
    expect(cpu1.rip).toBe(0x1234n);
    expect(cpu1.fpu).toEqual(powerOnSnapshot(1).fpu);
    expect(cpu1.runState).toBe('wait-for-sipi');
  });

  it('build i386 snapshots from NT_PRSTATUS alone', async () => {
    const bytes = handElf64({ machine: 3, notes: [note('CORE', 1, prstatus32(1, { eax: 0xc0de0001n, esp: 0xc03fff00n, eip: 0xc0100000n, eflags: 0x202n, cs: 0x60n, ds: 0x7bn, ss: 0x68n }))], loads: [{ paddr: 0n, data: pattern(0x100, 1) }] });
    const dump = await readDump(inputFromBytes(bytes));
    expect(dump.machine).toBe('i386');
    const cpu = dump.cpus[0];
    const power = powerOnSnapshot(0);
    expect(cpu?.gpr).toEqual({ ...power.gpr, rax: 0xc0de0001n, rsp: 0xc03fff00n, rcx: 0n, rdx: 0n });
    expect([cpu?.rip, cpu?.rflags, cpu?.segments.cs.selector, cpu?.segments.ds.selector, cpu?.segments.ss.selector]).toEqual([0xc0100000n, 0x202n, 0x60, 0x7b, 0x68]);
    expect([cpu?.cr0, cpu?.efer]).toEqual([power.cr0, 0n]);
  });
});

describe('EFER inference', () => {
  it('an x86_64 dump gives LMA|LME to CPUs with CR0.PG and CR4.PAE, 0 to the others', async () => {
    const pae32 = { ...protectedCpu(1), cr4: 0x30n };
    const bytes = await dumpBytes(dumpSourceFromBytes([{ gpa: 0, bytes: new Uint8Array(0x1000) }], [longModeCpu(0), pae32, waitingCpu(2)]), 'elf', 'qemu-7.2');
    const dump = await readDump(inputFromBytes(bytes));
    // The PAE CPU is read as long mode: dumps do not carry EFER (documented limitation).
    expect(dump.cpus.map((c) => c.efer)).toEqual([EFER_LMA | EFER_LME, EFER_LMA | EFER_LME, 0n]);
  });
});

describe('inputs', () => {
  const small = async (): Promise<Uint8Array> => dumpBytes(dumpSourceFromBytes([{ gpa: 0x2000, bytes: pattern(0x3000, 7) }], [longModeCpu(0)]), 'elf', 'qemu-7.2', new DumpEngine());

  it('an asynchronous input (a Blob, say) reads, but cannot back a lazy DumpSource', async () => {
    const bytes = await small();
    const input: RandomAccessInput = { size: bytes.length, read: async (offset, length) => Promise.resolve(bytes.slice(offset, offset + length)) };
    const dump = await readDump(input);
    const got = new Uint8Array(0x3000);
    expect(await dump.readPhysical(0x2000, got)).toBe(true);
    expect(got).toEqual(pattern(0x3000, 7));
    const error = await rejection(dump.toDumpSource());
    expect(error).toBeInstanceOf(DumpReadError);
    expect(error).toMatchObject({ code: 'unsupported' });
  });

  it('an input that throws or answers short gives read-failed', async () => {
    const bytes = await small();
    const throwing: RandomAccessInput = { size: bytes.length, read: () => { throw new Error('EIO'); } };
    expect(await rejection(readDump(throwing))).toMatchObject({ code: 'read-failed', message: 'read failed at offset 0x0: file signature (16 bytes): EIO' });
    const short: RandomAccessInput = { size: bytes.length, read: (offset, length) => bytes.slice(offset, offset + length - 1) };
    expect(await rejection(readDump(short))).toMatchObject({ code: 'read-failed', message: 'read failed at offset 0x0: file signature needs 16 bytes, the input returned 15 bytes' });
  });

  it('a dump read back converts to the same bytes, from memory or lazily', async () => {
    const bytes = await small();
    const again = await dumpBytes(await (await readDump(inputFromBytes(bytes))).toDumpSource(), 'elf', 'qemu-7.2');
    expect(firstDifference(again, bytes)).toBe(-1);
  });
});
