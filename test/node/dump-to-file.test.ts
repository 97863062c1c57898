import { existsSync, statfsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DumpError, MemorySink, createMachine, dumpSourceFromMachine, type DumpFormat } from '../../src/index.js';
import { createFileSink, createNodeDumpEngine, dumpToFile, isZeroPage } from '../../src/node/index.js';
import { failingOpen, filledMachine, listDir, tempDir } from './support.js';

const MiB = 2 ** 20;

async function memoryDump(format: DumpFormat, machine = filledMachine('16M', 600), compat?: 'qemu-7.2'): Promise<Uint8Array> {
  const sink = new MemorySink();
  const engine = await createNodeDumpEngine();
  await engine.dump(dumpSourceFromMachine(machine), { sink, format, compat });
  return sink.bytes();
}

describe('dumpToFile', () => {
  it.each(['elf', 'kdump-zlib', 'kdump-raw-zlib'] as const)('writes the same bytes as a memory sink (%s), mode 0600', async (format) => {
    const dir = await tempDir();
    const machine = filledMachine('16M', 600);
    const path = join(dir, `dump.${format}`);
    const result = await dumpToFile(dumpSourceFromMachine(machine), path, { format });
    expect(await listDir(dir)).toEqual([`dump.${format}`]);
    const info = await stat(path);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.size).toBe(result.bytesWritten);
    expect(Buffer.compare(await readFile(path), await memoryDump(format, machine))).toBe(0);
  });

  it('makes a mostly-zero 64 MiB guest a sparse ELF file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'sparse.elf');
    await dumpToFile(dumpSourceFromMachine(filledMachine('64M', 64)), path);
    const info = await stat(path);
    expect(info.size).toBeGreaterThan(64 * MiB);
    expect(info.blocks * 512).toBeLessThan(4 * MiB);
  });

  it('with page-sized holes, every zero page between data pages becomes a hole and the bytes stay the same', async () => {
    // Pages 256.. alternate data and zero: only page-sized holes can skip them.
    const machine = createMachine({ memorySize: '16M' });
    const page = new Uint8Array(4096).fill(0xa5);
    for (let pfn = 256; pfn < 256 + 1024; pfn += 2) machine.memory.write(pfn * 4096, page);
    const holes: Record<number, number> = {};
    for (const holeBytes of [4096, 64 * 1024]) {
      const sink = new MemorySink();
      let zeroBytes = 0;
      const counting = Object.assign(sink, { holeBytes, writeZeros: (length: number) => { zeroBytes += length; MemorySink.prototype.writeZeros.call(sink, length); } });
      const engine = await createNodeDumpEngine();
      await engine.dump(dumpSourceFromMachine(machine), { sink: counting, format: 'elf' });
      expect(Buffer.compare(sink.bytes(), await memoryDump('elf', machine))).toBe(0);
      holes[holeBytes] = zeroBytes;
    }
    // The ~511 single zero pages between data pages are holes only at page size (a few chunk-tail
    // ones at both); the long zero runs are holes at both.
    expect((holes[4096] ?? 0) - (holes[64 * 1024] ?? 0)).toBeGreaterThanOrEqual(500 * 4096);
    expect(holes[64 * 1024]).toBeGreaterThan(10 * MiB);
  });

  it.runIf(existsSync('/dev/shm'))('uses page-sized holes on tmpfs and 64 KiB holes elsewhere', async () => {
    const shm = await mkdtemp('/dev/shm/slice86-node-');
    onTestFinished(() => rm(shm, { recursive: true, force: true }));
    expect(statfsSync(shm).type === 0x01021994 ? createFileSink(join(shm, 'x')).holeBytes : 4096).toBe(4096);
    expect(createFileSink(join(await tempDir(), 'x')).holeBytes).toBe(statfsSync(tmpdir()).type === 0x01021994 ? 4096 : 64 * 1024);
  });

  it('leaves no file when the engine refuses the request', async () => {
    const dir = await tempDir();
    const path = join(dir, 'refused');
    await expect(dumpToFile(dumpSourceFromMachine(filledMachine('16M', 8)), path, { format: 'kdump-zlib', paging: true }))
      .rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await listDir(dir)).toEqual([]);
  });

  it('reports a failing write as sink-failed and leaves neither the file nor its temporary', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dump.elf');
    const open = failingOpen(0, 'EIO');
    const error: unknown = await dumpToFile(dumpSourceFromMachine(filledMachine('16M', 600)), path, { file: { open } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DumpError);
    expect(error).toMatchObject({ code: 'sink-failed', cause: { code: 'EIO' } });
    expect(open.opened).toHaveLength(1);
    expect(await listDir(dir)).toEqual([]);
  });

  it.each([
    ['elf', 'sync'], ['kdump-zlib', 'sync'], ['kdump-raw-zlib', 'sync'], ['elf', 'async'], ['kdump-raw-zlib', 'async'],
  ] as const)(
    'survives a full disk (%s, io %s): sink-failed, no file, the old dump kept, and a retry writes identical bytes',
    async (format, io) => {
      const dir = await tempDir();
      const path = join(dir, 'vmcore');
      await writeFile(path, 'the previous dump');
      const machine = filledMachine('16M', 600);
      const source = dumpSourceFromMachine(machine);
      const engine = await createNodeDumpEngine();
      const full = failingOpen(MiB + 12_345, 'ENOSPC', io === 'sync');
      const error: unknown = await engine.dump(source, { sink: createFileSink(path, { io, open: full }), format }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'DumpError', code: 'sink-failed', cause: { code: 'ENOSPC' } });
      expect(engine.queryDump().status).toBe('failed');
      expect(await listDir(dir)).toEqual(['vmcore']);
      expect(await readFile(path, 'utf8')).toBe('the previous dump');

      await engine.dump(source, { sink: createFileSink(path, { io }), format });
      expect(engine.queryDump().status).toBe('completed');
      expect(Buffer.compare(await readFile(path), await memoryDump(format, machine))).toBe(0);
      expect(await listDir(dir)).toEqual(['vmcore']);
    },
  );

  it.each(['elf', 'kdump-zlib'] as const)('stops at an abort signal with DumpError aborted and no file (%s)', async (format) => {
    const dir = await tempDir();
    const path = join(dir, 'cancelled');
    const controller = new AbortController();
    let progressCalls = 0;
    const dump = dumpToFile(dumpSourceFromMachine(filledMachine('64M', 4000)), path, {
      format,
      signal: controller.signal,
      onProgress: () => {
        if (progressCalls++ === 0) controller.abort(new Error('user pressed cancel'));
      },
    });
    await expect(dump).rejects.toMatchObject({ name: 'DumpError', code: 'aborted' });
    expect(progressCalls).toBeGreaterThan(0);
    expect(await listDir(dir)).toEqual([]);
  });

  it('refuses a second dump on the same engine while one runs', async () => {
    const dir = await tempDir();
    const engine = await createNodeDumpEngine();
    const source = dumpSourceFromMachine(filledMachine('16M', 200));
    const first = engine.dump(source, { sink: createFileSink(join(dir, 'a')), format: 'kdump-zlib' });
    await expect(engine.dump(source, { sink: createFileSink(join(dir, 'b')) })).rejects.toMatchObject({ code: 'dump-in-progress' });
    await first;
    expect(await listDir(dir)).toEqual(['a']);
  });
});

describe('the Node engine', () => {
  it('lists every format its codecs allow, node:zlib and zstd included', async () => {
    const engine = await createNodeDumpEngine();
    expect(engine.queryCapabilities().formats).toEqual(expect.arrayContaining(['elf', 'kdump-zlib', 'kdump-raw-zlib', 'kdump-zstd']));
    expect(engine.workers).toBe(0);
  });

  it('keeps pako for the qemu-7.2 flavour: its kdump-zlib bytes are the portable engine\'s', async () => {
    const { DumpEngine } = await import('../../src/index.js');
    const machine = filledMachine('16M', 300);
    const portable = new MemorySink();
    await new DumpEngine().dump(dumpSourceFromMachine(machine), { sink: portable, format: 'kdump-zlib', compat: 'qemu-7.2' });
    expect(Buffer.compare(await memoryDump('kdump-zlib', machine, 'qemu-7.2'), portable.bytes())).toBe(0);
  });

  it('uses node:zlib for the default flavour (different deflate bytes, same pages)', async () => {
    const machine = filledMachine('16M', 300);
    const fast = await memoryDump('kdump-zlib', machine);
    const compat = await memoryDump('kdump-zlib', machine, 'qemu-7.2');
    expect(Buffer.compare(fast, compat)).not.toBe(0);
  });
});

describe('isZeroPage', () => {
  it('agrees with a byte loop on pages, short tails and views at odd offsets', () => {
    const buffer = new Uint8Array(3 * 4096 + 100);
    const views = [buffer.subarray(0, 4096), buffer.subarray(1, 4097), buffer.subarray(4096 * 3), buffer.subarray(5, 3 * 4096 + 50), buffer.subarray(0, 0)];
    for (const view of views) expect(isZeroPage(view)).toBe(true);
    for (const at of [0, 1, 4095, 4096, 8191, 3 * 4096 + 99]) {
      buffer[at] = 1;
      for (const view of views) expect(isZeroPage(view)).toBe(view.every((b) => b === 0));
      buffer[at] = 0;
    }
  });
});
