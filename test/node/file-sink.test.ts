import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileSink } from '../../src/node/index.js';
import { errnoError, failingOpen, listDir, tempDir, xorshift } from './support.js';

const MiB = 2 ** 20;

function randomBytes(length: number, seed: number): Uint8Array {
  const rnd = xorshift(seed);
  return Uint8Array.from({ length }, () => rnd() & 0xff);
}

describe.each(['sync', 'async'] as const)('createFileSink, io %s', (io) => {
  it('creates nothing until the first byte', async () => {
    const dir = await tempDir();
    createFileSink(join(dir, 'dump.elf'), { io });
    expect(await listDir(dir)).toEqual([]);
  });

  it('writes to a hidden 0600 temporary file beside the target, then renames it over the target', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dump.elf');
    await writeFile(path, 'old contents');
    const sink = createFileSink(path, { io });
    expect(sink.tempPath.startsWith(join(dir, '.dump.elf.tmp-'))).toBe(true);
    await sink.write(new Uint8Array([1, 2, 3]));
    await sink.write(new Uint8Array(3 * MiB).fill(7));
    expect((await stat(sink.tempPath)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toBe('old contents');
    await sink.close();
    expect(await listDir(dir)).toEqual(['dump.elf']);
    const bytes = await readFile(path);
    expect(bytes.length).toBe(3 + 3 * MiB);
    expect([...bytes.subarray(0, 4)]).toEqual([1, 2, 3, 7]);
    expect(bytes.subarray(3).every((b) => b === 7)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('gives the finished file the requested mode exactly', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dump.elf');
    const sink = createFileSink(path, { io, mode: 0o640 });
    await sink.write(new Uint8Array([1]));
    await sink.close();
    expect((await stat(path)).mode & 0o777).toBe(0o640);
  });

  it('keeps bytes in order across small writes, batch boundaries and large writes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'seq.bin');
    const data = randomBytes(5 * MiB + 123, 1);
    const sink = createFileSink(path, { io, batchBytes: 64 * 1024 });
    const rnd = xorshift(2);
    for (let at = 0; at < data.length;) {
      const size = Math.min(data.length - at, [1, 100, 4096, 70_000, 300_000][rnd() % 5] ?? 1);
      await sink.write(data.subarray(at, at + size));
      at += size;
    }
    await sink.close();
    expect(Buffer.compare(await readFile(path), data)).toBe(0);
  });

  it('copies what it keeps: the caller may reuse a chunk once write returns', async () => {
    const dir = await tempDir();
    const path = join(dir, 'reuse.bin');
    const sink = createFileSink(path, { io });
    const chunk = new Uint8Array(1000);
    for (let i = 0; i < 10; i++) {
      chunk.fill(i);
      await sink.write(chunk);
    }
    await sink.close();
    const bytes = await readFile(path);
    for (let i = 0; i < 10; i++) expect(bytes.subarray(i * 1000, (i + 1) * 1000).every((b) => b === i)).toBe(true);
  });

  it('with page-sized holes, writes pages between holes straight to the file: half the blocks, the same bytes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'pages.bin');
    const sink = createFileSink(path, { io, holeBytes: 4096 });
    const page = new Uint8Array(4096);
    for (let i = 0; i < 256; i++) {
      await sink.write(page.fill((i % 255) + 1));
      await sink.writeZeros(4096);
    }
    await sink.close();
    const info = await stat(path);
    expect(info.size).toBe(512 * 4096);
    expect(info.blocks * 512).toBeLessThanOrEqual(256 * 4096 + 64 * 1024);
    const bytes = await readFile(path);
    for (let i = 0; i < 256; i++) {
      expect(bytes[2 * i * 4096]).toBe((i % 255) + 1);
      expect(bytes[2 * i * 4096 + 4095]).toBe((i % 255) + 1);
      expect(bytes.subarray((2 * i + 1) * 4096, (2 * i + 2) * 4096).every((b) => b === 0)).toBe(true);
    }
  });

  it('turns long zero runs into holes, short ones into zeros, and keeps a trailing hole', async () => {
    const dir = await tempDir();
    const path = join(dir, 'sparse.bin');
    const sink = createFileSink(path, { io });
    await sink.write(new Uint8Array([0xaa]));
    await sink.writeZeros(100);
    await sink.write(new Uint8Array([0xbb]));
    await sink.writeZeros(64 * MiB);
    await sink.write(new Uint8Array([0xcc]));
    await sink.writeZeros(32 * MiB);
    await sink.close();
    const info = await stat(path);
    expect(info.size).toBe(1 + 100 + 1 + 64 * MiB + 1 + 32 * MiB);
    expect(info.blocks * 512).toBeLessThan(MiB);
    const bytes = await readFile(path);
    expect([bytes[0], bytes[101], bytes[102 + 64 * MiB]]).toEqual([0xaa, 0xbb, 0xcc]);
    expect(bytes.subarray(1, 101).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(103 + 64 * MiB).every((b) => b === 0)).toBe(true);
  });

  it('puts positioned writes where they belong, interleaved streams and overwrites included', async () => {
    const dir = await tempDir();
    const path = join(dir, 'raw.bin');
    const sink = createFileSink(path, { io, batchBytes: 16 * 1024 });
    const expected = new Uint8Array(3 * MiB);
    const put = async (offset: number, bytes: Uint8Array): Promise<void> => {
      await sink.writeAt(offset, bytes);
      expected.set(bytes, offset);
    };
    const rnd = xorshift(3);
    // Three interleaved ascending streams, like raw kdump's descriptors and page data.
    const cursors = [0, MiB, 2 * MiB];
    for (let i = 0; i < 600; i++) {
      const s = rnd() % 3;
      const size = 1 + (rnd() % 3000);
      const at = cursors[s] ?? 0;
      if (at + size > (s + 1) * MiB) continue;
      await put(at, randomBytes(size, i + 10));
      cursors[s] = at + size;
    }
    // Overwrites of pending and written bytes; the last write of a byte wins.
    await put(10, new Uint8Array(50_000).fill(0x5a));
    await put(MiB + 5, new Uint8Array([1, 2, 3]));
    await put(0, new Uint8Array(2 * MiB + 10).fill(0x11));
    await put(MiB, new Uint8Array([9]));
    await sink.close();
    const end = Math.max(...cursors, 2 * MiB + 10);
    expect(Buffer.compare(await readFile(path), expected.subarray(0, end))).toBe(0);
  });

  it('abort() removes the temporary file and leaves an existing target alone', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dump.elf');
    await writeFile(path, 'previous dump');
    const sink = createFileSink(path, { io });
    await sink.write(new Uint8Array(3 * MiB).fill(1));
    await sink.abort(new Error('cancelled'));
    expect(await listDir(dir)).toEqual(['dump.elf']);
    expect(await readFile(path, 'utf8')).toBe('previous dump');
    await expect(sink.write(new Uint8Array(1))).rejects.toThrow(/aborted/);
    await sink.abort();
  });

  it('refuses writes after close(), and abort() then keeps the finished file', async () => {
    const dir = await tempDir();
    const sink = createFileSink(join(dir, 'a'), { io });
    await sink.close();
    expect(await listDir(dir)).toEqual(['a']);
    await expect(sink.write(new Uint8Array(1))).rejects.toThrow(/closed/);
    await sink.abort();
    expect(await listDir(dir)).toEqual(['a']);
  });

  it('reports a failed write on that call or a later one, and close() then cleans up', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dump.elf');
    const sink = createFileSink(path, { io, open: failingOpen(2 * MiB, 'ENOSPC', io === 'sync') });
    const attempt = async (): Promise<void> => {
      for (let i = 0; i < 8; i++) await sink.write(new Uint8Array(MiB).fill(i + 1));
    };
    await expect(attempt()).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(sink.close()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await listDir(dir)).toEqual([]);
  });

  it('fails cleanly when the temporary file cannot be created', async () => {
    const dir = await tempDir();
    const sink = createFileSink(join(dir, 'missing-dir', 'dump.elf'), { io });
    await expect(sink.close()).rejects.toMatchObject({ code: 'ENOENT' });
    const denied = createFileSink(join(dir, 'dump.elf'), { io, open: () => Promise.reject(errnoError('EACCES', 'open')) });
    await expect(Promise.resolve(denied.write(new Uint8Array(2 * MiB)))).rejects.toMatchObject({ code: 'EACCES' });
    await denied.abort();
    expect(await listDir(dir)).toEqual([]);
  });

  it('fails close() and removes the temporary file when the rename fails', async () => {
    const dir = await tempDir();
    const sink = createFileSink(dir, { io }); // renaming a file over a directory fails
    await sink.write(new Uint8Array([1, 2, 3]));
    await expect(sink.close()).rejects.toMatchObject({ code: expect.stringMatching(/EISDIR|ENOTDIR|EEXIST|ENOTEMPTY/) as unknown });
    expect(await listDir(dir)).toEqual([]);
  });

  it('fsyncs the file and its directory when asked', async () => {
    const dir = await tempDir();
    const path = join(dir, 'synced.bin');
    const calls: string[] = [];
    const open = failingOpen(Number.MAX_SAFE_INTEGER, 'ENOSPC', io === 'sync');
    const sink = createFileSink(path, {
      io,
      fsync: true,
      open: async (p, flags, mode) => {
        const handle = await open(p, flags, mode);
        return { ...handle, sync: () => { calls.push('sync'); return handle.sync(); } };
      },
    });
    await sink.write(new Uint8Array(10).fill(3));
    await sink.close();
    expect(calls).toEqual(['sync']);
    expect([...(await readFile(path))]).toEqual(new Array<number>(10).fill(3));
  });
});
