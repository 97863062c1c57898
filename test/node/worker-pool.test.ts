import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUILTIN_CODECS, MemorySink, dumpSourceFromMachine, inlineCompressor, zlibCodec, type DumpFormat, type PageCodec } from '../../src/index.js';
import { CompressWorkerPool, createNodeDumpEngine, dumpToFile, nodeZlibCodec } from '../../src/node/index.js';
import { fillPage, filledMachine, listDir, tempDir, xorshift } from './support.js';

const machine = filledMachine('32M', 1500, 5);

async function dumpWith(workers: number, format: DumpFormat, compat?: 'qemu-7.2'): Promise<Uint8Array> {
  const engine = await createNodeDumpEngine({ workers });
  const sink = new MemorySink();
  await engine.dump(dumpSourceFromMachine(machine), { sink, format, compat });
  expect(CompressWorkerPool.liveWorkers).toBe(0);
  return sink.bytes();
}

function pages(count: number, seed: number): Uint8Array[] {
  const rnd = xorshift(seed);
  return Array.from({ length: count }, (_, i) => {
    const page = new Uint8Array(4096);
    fillPage(page, i % 3 === 0 ? 'random' : 'text', rnd);
    return page;
  });
}

describe('the compression worker pool', () => {
  const syncFormats = (['kdump-zlib', 'kdump-raw-zlib', 'kdump-snappy', 'kdump-raw-snappy'] as const).filter((f) => {
    const codec = f.slice(f.lastIndexOf('-') + 1) as 'zlib' | 'snappy';
    return codec === 'zlib' || BUILTIN_CODECS[codec] !== undefined;
  });

  it.each(syncFormats)('writes the same bytes as the calling thread (%s, default flavour)', async (format) => {
    expect(Buffer.compare(await dumpWith(2, format), await dumpWith(0, format))).toBe(0);
  });

  it.each(['kdump-zlib', 'kdump-raw-zlib'] as const)('writes the same bytes as the calling thread (%s, qemu-7.2 flavour)', async (format) => {
    expect(Buffer.compare(await dumpWith(2, format, 'qemu-7.2'), await dumpWith(0, format, 'qemu-7.2'))).toBe(0);
  });

  it('returns each batch in page order, whatever its size, for node:zlib and pako', async () => {
    const pool = new CompressWorkerPool({ workers: 3 });
    try {
      for (const codec of [nodeZlibCodec, zlibCodec]) {
        const inline = inlineCompressor(codec);
        const pooled = pool.compressorFor(codec);
        for (const [count, seed] of [[1, 1], [17, 2], [256, 3], [100, 4]] as const) {
          const batch = pages(count, seed);
          expect(await pooled.compressBatch(batch)).toEqual(await inline.compressBatch(batch));
        }
      }
      expect(CompressWorkerPool.liveWorkers).toBe(3);
    } finally {
      await pool.close();
    }
    expect(CompressWorkerPool.liveWorkers).toBe(0);
    await expect(pool.compressorFor(nodeZlibCodec).compressBatch(pages(1, 9))).rejects.toThrow(/closed/);
  });

  it('compresses codecs the workers do not know in the calling thread', async () => {
    const custom: PageCodec = { ...nodeZlibCodec };
    const pool = new CompressWorkerPool({ workers: 2 });
    const batch = pages(64, 7);
    expect(await pool.compressorFor(custom).compressBatch(batch)).toEqual(await inlineCompressor(custom).compressBatch(batch));
    expect(CompressWorkerPool.liveWorkers).toBe(0);
    await pool.close();
  });

  it('runs kdump pages on its workers during the dump and ends them after it', async () => {
    const engine = await createNodeDumpEngine({ workers: 2 });
    let seen = 0;
    await engine.dump(dumpSourceFromMachine(machine), {
      sink: new MemorySink(),
      format: 'kdump-zlib',
      onProgress: () => { seen = Math.max(seen, CompressWorkerPool.liveWorkers); },
    });
    expect(seen).toBe(2);
    expect(CompressWorkerPool.liveWorkers).toBe(0);
  });

  it('starts no worker for an ELF dump', async () => {
    const engine = await createNodeDumpEngine({ workers: 2 });
    let seen = 0;
    await engine.dump(dumpSourceFromMachine(machine), {
      sink: new MemorySink(),
      onProgress: () => { seen = Math.max(seen, CompressWorkerPool.liveWorkers); },
    });
    expect(seen).toBe(0);
  });

  it('turns a worker that cannot start into sink-failed, removes the file and ends every worker', async () => {
    const dir = await tempDir();
    const broken = join(dir, 'broken-worker.mjs');
    await writeFile(broken, 'throw new Error("worker script is broken");\n');
    const engine = await createNodeDumpEngine({ workers: 2, workerUrl: pathToFileURL(broken) });
    const error: unknown = await dumpToFile(dumpSourceFromMachine(machine), join(dir, 'vmcore'), { engine, format: 'kdump-zlib' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'DumpError', code: 'sink-failed' });
    expect((error as Error).message).toMatch(/worker script is broken/);
    expect(await listDir(dir)).toEqual(['broken-worker.mjs']);
    expect(CompressWorkerPool.liveWorkers).toBe(0);
  });

  it('rejects worker counts that are not counts', async () => {
    expect(() => new CompressWorkerPool({ workers: 0 })).toThrow(RangeError);
    await expect(createNodeDumpEngine({ workers: -1 })).rejects.toThrow(RangeError);
    expect((await createNodeDumpEngine({ workers: 'auto' })).workers).toBeGreaterThan(0);
  });
});
