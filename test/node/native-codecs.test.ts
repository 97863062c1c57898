/**
 * The native page compressor (native/): the very same LZO1X blocks as our TypeScript codec,
 * libsnappy's own bytes (checked against python3-snappy, which links the same library), zlib and
 * zstd blocks that the real decoders (Debian's CPython zlib, python3-lzo, python3-snappy,
 * python3-zstandard) and ours turn back into the page; the C copy of the store-raw test decides
 * as the TypeScript one; odd page contents never fail; host misuse is a NativeCodecError with a
 * code and leaves the arena untouched; nothing is ever written outside the arena.
 * Skipped with a reason when the addon was not built; CI (SLICE86_REQUIRE_TOOLS=1) requires it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { inflate } from 'pako';
import { uncompress as snappyUncompress, compress as snappyjsCompress } from 'snappyjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lzo1xCompress, lzo1xDecompress, lzo1xWorstCase } from '../../src/dump/kdump/codecs/lzo1x.js';
import { looksIncompressible } from '../../src/dump/kdump/incompressible.js';
import { MemorySink, dumpSourceFromBytes, dumpSourceFromMachine, inputFromBytes, powerOnSnapshot, readDump, type CodecName, type DumpFormat } from '../../src/index.js';
import { createNodeDumpEngine, isZeroPage, nativeAddonStatus, nativeCodecs, nativeCompressor, NativeCodecError, NodeDumpEngine, type NativePageCodec } from '../../src/node/index.js';
import { callNative } from '../../src/node/native-addon.js';
import { DEBIAN_PYTHON, missingNativeAddon, missingPythonModule } from '../support/tools.js';
import { thrown } from '../support/thrown.js';
import { fillPage, filledMachine, xorshift } from './support.js';

const PAGE = 4096;
const skip = missingNativeAddon();
const CODECS: readonly CodecName[] = ['zlib', 'lzo', 'snappy', 'zstd'];

function codec(name: CodecName): NativePageCodec {
  const found = nativeCodecs()[name];
  if (found === undefined) throw new Error(`no native ${name}`);
  return found;
}

/** Pages of every kind a guest may hold: random, text, runs, small alphabets, repeats, zero runs, one byte. */
function oddPages(count: number, seed: number): Uint8Array[] {
  const rnd = xorshift(seed);
  return Array.from({ length: count }, (_, i) => {
    const page = new Uint8Array(PAGE);
    switch (i % 9) {
      case 0: fillPage(page, 'random', rnd); break;
      case 1: fillPage(page, 'text', rnd); break;
      case 2: fillPage(page, 'random', rnd); page.fill(rnd() & 0xff, rnd() % PAGE, rnd() % PAGE); break;
      case 3: for (let j = 0; j < PAGE; j++) page[j] = rnd() % (1 + (i % 23)); break;
      case 4: fillPage(page, 'text', rnd); page.copyWithin(rnd() % 2048, 0, rnd() % 2048); break;
      case 5: page.fill(i & 0xff); break;
      case 6: fillPage(page, 'random', rnd); page.copyWithin(2048, 0, 2048); break;
      case 7: for (let j = 0; j < PAGE; j++) page[j] = j % (2 + (i % 300)); break;
      default: fillPage(page, 'random', rnd); for (let k = 0; k < 8; k++) { const at = rnd() % (PAGE - 64); page.copyWithin(rnd() % (PAGE - 64), at, at + 4 + (rnd() % 60)); }
    }
    return page;
  });
}

/** Compresses `pages` in one batch; the blocks (undefined: store raw). */
function batch(name: CodecName, pages: readonly Uint8Array[], skipIncompressible = false): (Uint8Array | undefined)[] {
  const result = nativeCompressor(codec(name), { skipIncompressible }).compressBatch(pages);
  if (result instanceof Promise) throw new Error('the native compressor is synchronous');
  return result.map((block) => block?.slice());
}

/** Runs Debian's decoder of `name` over the blocks; the SHA-256 of each decoded page, as hex. */
function pythonDecode(name: CodecName, blocks: readonly Uint8Array[]): string[] {
  const decoder = {
    zlib: 'import zlib; d = zlib.decompress',
    lzo: 'import lzo; d = lambda b: lzo.decompress(b, False, 4096)',
    snappy: 'import snappy; d = snappy.uncompress',
    zstd: 'import zstandard; z = zstandard.ZstdDecompressor(); d = lambda b: z.decompress(b, max_output_size=4096)',
  }[name];
  const script = `${decoder}
import hashlib, struct, sys
data, at = sys.stdin.buffer.read(), 0
while at < len(data):
    (n,) = struct.unpack_from('<I', data, at); at += 4
    print(hashlib.sha256(d(data[at:at + n])).hexdigest()); at += n`;
  const input = Buffer.concat(blocks.flatMap((b) => [Buffer.from(new Uint32Array([b.length]).buffer), b]));
  return execFileSync(DEBIAN_PYTHON, ['-c', script], { input, encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n');
}

function sha256(page: Uint8Array): string {
  return createHash('sha256').update(page).digest('hex');
}

describe.skipIf(skip !== undefined)(`the native page compressor${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  it('loads from native/build/Release and offers all four kdump codecs', () => {
    const status = nativeAddonStatus();
    expect(status.loaded).toBe(true);
    expect(Object.keys(nativeCodecs()).sort()).toEqual(['lzo', 'snappy', 'zlib', 'zstd']);
    expect(codec('zlib').native.library).toBe('libdeflate 1.14');
  });

  it('writes the very same LZO1X blocks as the TypeScript codec, in a batch and page by page', () => {
    const pages = oddPages(3000, 11);
    const blocks = batch('lzo', pages);
    const scratch = new Uint8Array(lzo1xWorstCase(PAGE));
    const out = new Uint8Array(PAGE);
    let compressed = 0;
    const differing: number[] = [];
    pages.forEach((page, i) => {
      const size = lzo1xCompress(page, scratch);
      const expected = size < PAGE ? scratch.subarray(0, size) : undefined;
      const block = blocks[i];
      const single = codec('lzo').compress(page, out);
      const same = expected === undefined
        ? block === undefined && single === -1
        : block !== undefined && Buffer.compare(block, expected) === 0 && single === size && Buffer.compare(out.subarray(0, size), expected) === 0;
      if (!same) differing.push(i);
      if (expected !== undefined) compressed++;
    });
    expect(differing).toEqual([]);
    expect(compressed).toBeGreaterThan(2000);
  });

  it("writes libsnappy's bytes, which differ from snappyjs's on some pages (both decode everywhere)", () => {
    const pages = oddPages(900, 12);
    const blocks = batch('snappy', pages);
    const differ = pages.filter((page, i) => {
      const js = snappyjsCompress(page);
      return blocks[i] !== undefined && Buffer.compare(js, blocks[i] ?? js) !== 0;
    }).length;
    expect(differ).toBeGreaterThan(0);
    const missing = missingPythonModule('snappy');
    if (missing !== undefined) return;
    // python3-snappy links the same libsnappy: its compress() makes our exact blocks.
    const script = `import snappy, struct, sys, hashlib
data = sys.stdin.buffer.read()
for at in range(0, len(data), 4096): print(snappy.compress(data[at:at + 4096]).hex())`;
    const theirs = execFileSync(DEBIAN_PYTHON, ['-c', script], { input: Buffer.concat(pages), encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n');
    pages.forEach((_, i) => {
      const block = blocks[i];
      if (block !== undefined) expect(Buffer.from(block).toString('hex'), `page ${i}`).toBe(theirs[i]);
      else expect((theirs[i] ?? '').length / 2).toBeGreaterThanOrEqual(PAGE);
    });
  });

  it.each(CODECS)('%s: every block decodes back to its page with our decoders', (name) => {
    const pages = oddPages(900, 13);
    const blocks = batch(name, pages);
    const back = new Uint8Array(PAGE);
    let compressed = 0;
    pages.forEach((page, i) => {
      const block = blocks[i];
      if (block === undefined) return;
      compressed++;
      expect(block.length).toBeLessThan(PAGE);
      expect(codec(name).decompress(block, back.fill(0xaa))).toBe(PAGE);
      expect(Buffer.compare(back, page), `page ${i}`).toBe(0);
      // A second, independent decoder where there is one in JavaScript.
      if (name === 'zlib') expect(Buffer.compare(inflate(block), page)).toBe(0);
      if (name === 'snappy') expect(Buffer.compare(snappyUncompress(block), page)).toBe(0);
      if (name === 'lzo') expect(lzo1xDecompress(block, back)).toBe(PAGE);
    });
    expect(compressed).toBeGreaterThan(500);
    // zlib: RFC 1950 with a 32 KiB window at the fastest level (78 01), as compress2(Z_BEST_SPEED).
    if (name === 'zlib') expect([...(blocks[1] ?? [])].slice(0, 2)).toEqual([0x78, 0x01]);
  });

  it.each(CODECS)("%s: Debian's own decoder turns every block back into its page", (name) => {
    const missing = missingPythonModule({ zlib: 'zlib', lzo: 'lzo', snappy: 'snappy', zstd: 'zstandard' }[name]);
    if (missing !== undefined) return;
    const pages = oddPages(450, 14);
    const blocks = batch(name, pages);
    const kept = pages.filter((_, i) => blocks[i] !== undefined);
    expect(pythonDecode(name, blocks.filter((b) => b !== undefined))).toEqual(kept.map(sha256));
  });

  it('skips random-looking pages only when asked, deciding as the TypeScript test does', () => {
    const pages = oddPages(900, 15);
    const { addon } = codec('zlib').native;
    expect(pages.filter((page) => addon.looksIncompressible(page) !== looksIncompressible(page)).length).toBe(0);
    const tried = batch('zlib', pages);
    const skipped = batch('zlib', pages, true);
    const wrong = pages.filter((page, i) => {
      const expected = looksIncompressible(page) ? undefined : tried[i];
      const got = skipped[i];
      return expected === undefined || got === undefined ? expected !== got : Buffer.compare(expected, got) !== 0;
    });
    expect(wrong.length).toBe(0);
    expect(pages.filter((page) => looksIncompressible(page)).length).toBeGreaterThan(100);
  });

  it('never fails on arbitrary page contents, and writes nothing past the arena it is given', () => {
    const { addon } = codec('zlib').native;
    fc.assert(fc.property(fc.uint8Array({ minLength: PAGE, maxLength: PAGE }), fc.constantFrom(0x1, 0x2, 0x4, 0x20), fc.boolean(), (page, flag, skipRandom) => {
      const memory = new Uint8Array(3 * PAGE + 64).fill(0xee);
      const arena = memory.subarray(0, 2 * PAGE);
      const sizes = new Int32Array(2);
      const used = addon.compressPages(flag, [page, page], arena, sizes, skipRandom ? 1 : 0);
      expect(sizes[0]).toBe(sizes[1]);
      expect(used).toBe(Math.max(0, sizes[0] ?? 0) * 2);
      expect(memory.subarray(2 * PAGE).every((b) => b === 0xee)).toBe(true);
    }), { numRuns: 300 });
  });

  it('storePages runs the kdump page loop into the caches on 1-4 threads, flushing exactly where page by page does', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom('zero', 'text', 'random', 'runs'), { minLength: 1, maxLength: 48 }),
      fc.integer({ min: PAGE, max: 6 * PAGE }),
      fc.integer({ min: 24, max: 10 * 24 }),
      fc.constantFrom<CodecName>('lzo', 'snappy', 'zlib'),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 4 }),
      (kinds, dataCap, descCap, name, seed, threads) => {
        const rnd = xorshift(seed);
        const run = new Uint8Array(kinds.length * PAGE);
        kinds.forEach((kind, i) => {
          const page = run.subarray(i * PAGE, (i + 1) * PAGE);
          if (kind === 'runs') page.fill(rnd() & 0xff, rnd() % PAGE);
          else if (kind !== 'zero') fillPage(page, kind, rnd);
        });
        const flag = codec(name).flag;
        const zeroOffset = 8192;
        // The model: QEMU's loop, a page at a time, with caches of dataCap and descCap bytes.
        const events: string[] = [];
        const want = { data: [] as number[], descs: [] as number[] };
        let dataUsed = 0;
        let descUsed = 0;
        let offset = zeroOffset + PAGE;
        const descriptor = (at: number, size: number, flags: number): void => {
          if (descUsed + 24 > descCap) { events.push(`descs ${descUsed}`); descUsed = 0; }
          const d = new DataView(new ArrayBuffer(24));
          d.setBigUint64(0, BigInt(at), true);
          d.setUint32(8, size, true);
          d.setUint32(12, flags, true);
          want.descs.push(...new Uint8Array(d.buffer));
          descUsed += 24;
        };
        for (let i = 0; i < kinds.length; i++) {
          const page = run.subarray(i * PAGE, (i + 1) * PAGE);
          if (page.every((b) => b === 0)) { descriptor(zeroOffset, PAGE, 0); continue; }
          const block = batch(name, [page])[0];
          const stored = block ?? page;
          if (dataUsed + stored.length > dataCap) { events.push(`data ${dataUsed}`); dataUsed = 0; }
          want.data.push(...stored);
          dataUsed += stored.length;
          descriptor(offset, stored.length, block === undefined ? 0 : flag);
          offset += stored.length;
        }
        // The addon, with the rooms inside larger buffers that must stay untouched around them.
        const compressor = nativeCompressor(codec(name), { skipIncompressible: false, findZeroPages: true, threads });
        const store = compressor.storePages?.bind(compressor);
        if (store === undefined) throw new Error('storePages is offered with findZeroPages');
        const dataMemory = new Uint8Array(dataCap + 64).fill(0xee);
        const descMemory = new Uint8Array(descCap + 64).fill(0xee);
        const got = { data: [] as number[], descs: [] as number[], events: [] as string[] };
        let used = { data: 0, descs: 0 };
        let dataOffset = zeroOffset + PAGE;
        for (let first = 0; ;) {
          const r = store(run, { data: dataMemory.subarray(32 + used.data, 32 + dataCap), descs: descMemory.subarray(32 + used.descs, 32 + descCap), dataOffset, zeroOffset, first });
          used = { data: used.data + r.dataBytes, descs: used.descs + r.descBytes };
          dataOffset = r.dataOffset;
          first = r.next;
          expect(dataMemory.subarray(0, 32).every((b) => b === 0xee) && dataMemory.subarray(32 + dataCap).every((b) => b === 0xee)).toBe(true);
          expect(descMemory.subarray(0, 32).every((b) => b === 0xee) && descMemory.subarray(32 + descCap).every((b) => b === 0xee)).toBe(true);
          const flush = (which: 'data' | 'descs'): void => {
            const memory = which === 'data' ? dataMemory : descMemory;
            got[which].push(...memory.subarray(32, 32 + used[which]));
            if (r.full === which) got.events.push(`${which} ${used[which]}`);
            used = { ...used, [which]: 0 };
          };
          if (r.full === undefined) {
            expect(first).toBe(kinds.length);
            flush('data');
            flush('descs');
            break;
          }
          flush(r.full);
        }
        expect(got.events).toEqual(events);
        expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data))).toBe(0);
        expect(Buffer.compare(Buffer.from(got.descs), Buffer.from(want.descs))).toBe(0);
        expect(dataOffset).toBe(offset);
      },
    ), { numRuns: 150 });
  });

  it('compressRun and storeRun refuse misuse and stale runs before writing anything', () => {
    const { addon } = codec('lzo').native;
    const run = new Uint8Array(4 * PAGE).fill(3);
    const memory = new Uint8Array(8 * PAGE).fill(0xee);
    const data = memory.subarray(0, 4 * PAGE);
    const descs = memory.subarray(4 * PAGE, 4 * PAGE + 96);
    const cursor = new Float64Array([8192, 4096, 0, 0, 0, 0]);
    const id = addon.compressRun(2, run, 0, 2);
    const cases: [string, () => unknown][] = [
      ['unknown-codec', () => addon.compressRun(8, run, 0, 1)],
      ['invalid-pages', () => addon.compressRun(2, run.subarray(1), 0, 1)],
      ['invalid-argument', () => addon.compressRun(2, run, 0, 0)],
      ['invalid-argument', () => addon.compressRun(2, run, 0, 5)],
      ['invalid-argument', () => addon.compressRun(2, run, 0, 1.5)],
      ['invalid-argument', () => (addon.compressRun as (...args: unknown[]) => number)(2, run, 0)],
      ['invalid-arena', () => addon.storeRun(id, run, run.subarray(PAGE), descs, cursor)],
      ['invalid-arena', () => addon.storeRun(id, run, data, run.subarray(0, 96), cursor)],
      ['invalid-arena', () => addon.storeRun(id, run, data, data.subarray(100, 196), cursor)],
      ['invalid-pages', () => addon.storeRun(id, run.subarray(1), data, descs, cursor)],
      ['invalid-argument', () => addon.storeRun(id, run, data, descs, new Float64Array(5))],
      ['invalid-argument', () => addon.storeRun(id, run, data, descs, new Float64Array([8192, 4096, 5, 0, 0, 0]))],
      ['invalid-argument', () => addon.storeRun(id, run, data, descs, new Float64Array([0.5, 4096, 0, 0, 0, 0]))],
      ['invalid-argument', () => addon.storeRun(id, run, data, descs, new Float64Array([-1, 4096, 0, 0, 0, 0]))],
      ['invalid-argument', () => (addon.storeRun as (...args: unknown[]) => boolean)(id, run, data, descs)],
    ];
    for (const [code, call] of cases) {
      const error = thrown(() => callNative(call));
      expect(error, code).toBeInstanceOf(NativeCodecError);
      expect((error as NativeCodecError).code, (error as Error).message).toBe(code);
    }
    // A run another compressRun replaced, or of another length, is not stored: the caller compresses it again.
    expect(addon.storeRun(id + 1, run, data, descs, cursor)).toBe(false);
    expect(addon.storeRun(id, run.subarray(0, 2 * PAGE), data, descs, cursor)).toBe(false);
    expect(memory.every((b) => b === 0xee)).toBe(true);
    expect(run.every((b) => b === 3)).toBe(true);
    expect([...cursor]).toEqual([8192, 4096, 0, 0, 0, 0]);
    expect(addon.storeRun(id, run, data, descs, cursor)).toBe(true);
    expect(cursor[2]).toBe(4);
  });

  it('storePages of two dumps taking turns in one thread: each run is stored from its own blocks', () => {
    const rnd = xorshift(5);
    const runs = [0, 1].map(() => {
      const run = new Uint8Array(64 * PAGE);
      for (let at = 0; at < run.length; at += PAGE) if (rnd() % 4 !== 0) fillPage(run.subarray(at, at + PAGE), rnd() % 2 === 0 ? 'random' : 'text', rnd);
      return run;
    });
    const stores = runs.map(() => {
      const compressor = nativeCompressor(codec('snappy'), { skipIncompressible: false, findZeroPages: true, threads: 2 });
      return compressor.storePages?.bind(compressor);
    });
    // Each dump stores its run through a data cache of two pages, one call at a time, turn about.
    const out = runs.map(() => ({ data: [] as number[], first: 0, offset: 2 * PAGE }));
    for (let turn = 0; out.some((o) => o.first < 64); turn++) {
      const i = turn % 2;
      const o = out[i];
      const store = stores[i];
      const run = runs[i];
      if (o === undefined || store === undefined || run === undefined || o.first >= 64) continue;
      const data = new Uint8Array(2 * PAGE);
      const r = store(run, { data, descs: new Uint8Array(64 * 24), dataOffset: o.offset, zeroOffset: PAGE, first: o.first });
      o.data.push(...data.subarray(0, r.dataBytes));
      o.first = r.next;
      o.offset = r.dataOffset;
    }
    runs.forEach((run, i) => {
      const want: number[] = [];
      for (let at = 0; at < run.length; at += PAGE) {
        const page = run.subarray(at, at + PAGE);
        if (page.some((b) => b !== 0)) want.push(...(batch('snappy', [page])[0] ?? page));
      }
      expect(Buffer.compare(Buffer.from(out[i]?.data ?? []), Buffer.from(want))).toBe(0);
    });
  });

  it('packs in place when the arena is the pages themselves (the worker path)', () => {
    const pages = oddPages(64, 16);
    const expected = batch('snappy', pages);
    const buffer = new Uint8Array(Buffer.concat(pages));
    const sizes = new Int32Array(64);
    const used = codec('snappy').native.addon.compressPages(0x4, buffer, buffer, sizes, 0);
    let at = 0;
    expected.forEach((block, i) => {
      expect(sizes[i]).toBe(block?.length ?? -1);
      if (block === undefined) return;
      expect(Buffer.compare(buffer.subarray(at, at + block.length), block)).toBe(0);
      at += block.length;
    });
    expect(used).toBe(at);
  });

  it('refuses host misuse with a coded NativeCodecError, before writing anything', () => {
    const zlib = codec('zlib');
    const compressor = nativeCompressor(zlib, { skipIncompressible: false });
    const page = new Uint8Array(PAGE).fill(7);
    const out = new Uint8Array(8 * PAGE).fill(0xee);
    const sizes = new Int32Array(8).fill(-7);
    const { addon } = zlib.native;
    const cases: [string, () => unknown][] = [
      ['unknown-codec', () => addon.compressPages(3, [page], out, sizes, 0)],
      ['invalid-pages', () => addon.compressPages(1, page.subarray(1), out, sizes, 0)],
      ['invalid-pages', () => addon.compressPages(1, [page, page.subarray(0, 100)], out, sizes, 0)],
      ['invalid-pages', () => addon.compressPages(1, [page, 'page' as unknown as Uint8Array], out, sizes, 0)],
      ['invalid-pages', () => addon.compressPages(1, new Uint16Array(PAGE) as unknown as Uint8Array, out, sizes, 0)],
      ['invalid-arena', () => addon.compressPages(1, [page, page, page], out.subarray(0, 3 * PAGE - 1), sizes, 0)],
      ['invalid-sizes', () => addon.compressPages(1, [page, page, page], out, sizes.subarray(0, 2), 0)],
      ['invalid-sizes', () => addon.compressPages(1, [page], out, new Float64Array(4) as unknown as Int32Array, 0)],
      ['invalid-argument', () => (addon.compressPages as (...args: unknown[]) => number)(1, [page], out)],
      ['invalid-pages', () => zlib.compress(page.subarray(0, 100), out)],
      ['invalid-arena', () => zlib.compress(page, out.subarray(0, 100))],
    ];
    for (const [code, call] of cases) {
      const error = thrown(() => {
        try {
          call();
        } catch (cause) {
          // The raw addon throws coded Errors; the codec objects wrap them.
          if (cause instanceof NativeCodecError) throw cause;
          const c = (cause as { code?: unknown }).code;
          throw new NativeCodecError(c as 'native-failure', (cause as Error).message);
        }
      });
      expect(error, code).toBeInstanceOf(NativeCodecError);
      expect((error as NativeCodecError).code, (error as Error).message).toBe(code);
    }
    expect(out.every((b) => b === 0xee)).toBe(true);
    expect(sizes.every((s) => s === -7)).toBe(true);
    // A page getter that detaches the arena while the addon reads the array: refused, nothing written.
    const arena = new Uint8Array(2 * PAGE);
    const sneaky: Uint8Array[] = [page];
    Object.defineProperty(sneaky, 1, { enumerable: true, get: () => { structuredClone(arena.buffer, { transfer: [arena.buffer] }); return page; } });
    expect((thrown(() => callNative(() => addon.compressPages(1, sneaky, arena, sizes, 0))) as NativeCodecError).code).toBe('invalid-arena');
    // The batch compressor hands pages that are not 4096 bytes to the codec page by page.
    expect(() => compressor.compressBatch([page.subarray(0, 100)])).toThrow(NativeCodecError);
  });
});

describe.skipIf(skip !== undefined)(`the Node engine with the native compressor${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const machine = filledMachine('16M', 1200, 3);

  async function dump(format: DumpFormat, native: boolean, compat?: 'qemu-7.2'): Promise<Uint8Array> {
    const engine = await createNodeDumpEngine({ native });
    const sink = new MemorySink();
    await engine.dump(dumpSourceFromMachine(machine), { sink, format, compat });
    return sink.bytes();
  }

  it('compresses with the native codecs by default, node:zlib and the portable ones with native: false', async () => {
    const engine = await createNodeDumpEngine();
    for (const name of CODECS) expect(engine.codecFor(`kdump-${name}`)).toBe(nativeCodecs()[name]);
    const portable = await createNodeDumpEngine({ native: false });
    expect(portable.codecFor('kdump-lzo')?.name).toBe('lzo');
    expect(portable.codecFor('kdump-lzo')).not.toHaveProperty('native');
  });

  it('kdump-lzo files are byte-identical with and without the addon', async () => {
    expect(Buffer.compare(await dump('kdump-lzo', true), await dump('kdump-lzo', false))).toBe(0);
  });

  it('writes the same file as the portable path over unaligned blocks, frames shared by two blocks and gaps', async () => {
    const rnd = xorshift(21);
    const bytes = (pages: number, extra: number): Uint8Array => {
      const b = new Uint8Array(pages * PAGE + extra);
      for (let at = 0; at + PAGE <= b.length; at += PAGE) if (rnd() % 3 !== 0) fillPage(b.subarray(at, at + PAGE), rnd() % 2 === 0 ? 'random' : 'text', rnd);
      return b;
    };
    const source = dumpSourceFromBytes([
      { gpa: 0, bytes: bytes(300, 100) },
      { gpa: 300 * PAGE + 2000, bytes: bytes(10, 0) },
      { gpa: 700 * PAGE, bytes: bytes(600, 0) },
    ], [powerOnSnapshot(0)]);
    const write = async (native: boolean): Promise<Uint8Array> => {
      const sink = new MemorySink();
      await (await createNodeDumpEngine({ native })).dump(source, { sink, format: 'kdump-raw-lzo' });
      return sink.bytes();
    };
    expect(Buffer.compare(await write(true), await write(false))).toBe(0);
  });

  it('finds zero pages in C unless the caller brings its own zero test, with the same file either way', async () => {
    const engine = await createNodeDumpEngine();
    const own = new MemorySink();
    let tested = 0;
    await engine.dump(dumpSourceFromMachine(machine), { sink: own, format: 'kdump-snappy', isZero: (page) => { tested++; return isZeroPage(page); } });
    expect(tested).toBeGreaterThan(1000);
    expect(Buffer.compare(own.bytes(), await dump('kdump-snappy', true))).toBe(0);
  });

  it.each(['kdump-zlib', 'kdump-lzo', 'kdump-raw-snappy', 'kdump-zstd'] as const)('%s: the same file on 1, 2 and 4 compression threads', async (format) => {
    const files = await Promise.all([1, 2, 4].map(async (nativeThreads) => {
      const sink = new MemorySink();
      await (await createNodeDumpEngine({ nativeThreads })).dump(dumpSourceFromMachine(machine), { sink, format });
      return sink.bytes();
    }));
    expect(Buffer.compare(files[0] ?? new Uint8Array(), files[1] ?? new Uint8Array())).toBe(0);
    expect(Buffer.compare(files[0] ?? new Uint8Array(), files[2] ?? new Uint8Array())).toBe(0);
  });

  it('refuses a thread count other than 1 to 4', async () => {
    for (const nativeThreads of [0, 5, 1.5]) expect(() => new NodeDumpEngine({ nativeThreads })).toThrow(RangeError);
    expect((await createNodeDumpEngine({ nativeThreads: 4 })).workers).toBe(0);
  });

  it('stores kdump-lzo through storePages with the same bytes as the portable path in 16 KiB pieces too', async () => {
    expect(Buffer.compare(await dump('kdump-lzo', true, 'qemu-7.2'), await dump('kdump-lzo', false, 'qemu-7.2'))).toBe(0);
  });

  it("the qemu-7.2 flavour's kdump-zlib stays pako's (QEMU's bytes), whatever the addon", async () => {
    expect(Buffer.compare(await dump('kdump-zlib', true, 'qemu-7.2'), await dump('kdump-zlib', false, 'qemu-7.2'))).toBe(0);
  });

  it.each(['kdump-zlib', 'kdump-raw-lzo', 'kdump-snappy', 'kdump-raw-zstd'] as const)('%s reads back page for page with the portable readers', async (format) => {
    const bytes = await dump(format, true);
    const parsed = await readDump(inputFromBytes(bytes), { codecs: nativeCodecs() });
    const got = new Uint8Array(64 * PAGE);
    for (const block of machine.memory.blocks()) {
      for (let at = 0; at < block.sizeBytes; at += got.length) {
        const want = machine.memory.read(block.gpa + at, Math.min(got.length, block.sizeBytes - at));
        const view = got.subarray(0, want.length);
        expect(await parsed.readPhysical(block.gpa + at, view)).toBe(true);
        expect(Buffer.compare(view, want)).toBe(0);
      }
    }
  });
});
