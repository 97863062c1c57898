/**
 * The native sparse writer (native/src/sparse-write.c) behind the file sink's writeSparse: ELF and
 * win-dmp memory goes through it by default, with the same bytes and the same holes as the
 * JavaScript split; a write that fails there (a full disk) fails the dump like any sink error and
 * leaves no file; misuse of the addon call is refused with a code. Skipped with a reason when the
 * addon was not built; CI (SLICE86_REQUIRE_TOOLS=1) requires it.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, statSync, statfsSync, writeSync, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createMachine, dumpSourceFromMachine } from '../../src/index.js';
import { createFileSink, createNodeDumpEngine, dumpToFile, nativeAddonStatus, type OpenFile, type SinkFileHandle } from '../../src/node/index.js';
import { callNative, NativeCodecError, type NativeAddon } from '../../src/node/native-addon.js';
import { missingNativeAddon } from '../support/tools.js';
import { thrown } from '../support/thrown.js';
import { filledMachine, listDir, tempDir } from './support.js';

const PAGE = 4096;
const MiB = 2 ** 20;
const TMPFS_MAGIC = 0x01021994;
const skip = missingNativeAddon();

function addon(): NativeAddon {
  const status = nativeAddonStatus();
  if (!status.loaded) throw new Error(status.reason);
  return status.addon;
}

/** A directory on tmpfs (where a hole is a page never allocated, so blocks count holes exactly), else a temporary one. */
async function holeDir(): Promise<string> {
  if (!existsSync('/dev/shm') || statfsSync('/dev/shm').type !== TMPFS_MAGIC) return tempDir();
  const dir = await mkdtemp('/dev/shm/slice86-sparse-');
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A guest whose data pages alternate with single zero pages, then long zero runs: every hole size matters. */
function patchyMachine(): ReturnType<typeof createMachine> {
  const machine = createMachine({ memorySize: '32M' });
  const page = new Uint8Array(PAGE);
  for (let pfn = 16; pfn < 4096; pfn += pfn % 7 === 0 ? 3 : 2) {
    page.fill((pfn * 37) & 0xff | 1);
    machine.memory.write(pfn * PAGE, page);
  }
  return machine;
}

describe.skipIf(skip !== undefined)(`the native sparse writer${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  it.each([4096, 64 * 1024])('writes the same ELF file, holes included, as the JavaScript split (holes of %i bytes)', async (holeBytes) => {
    const dir = await holeDir();
    const source = dumpSourceFromMachine(patchyMachine());
    const spy = vi.spyOn(addon(), 'writeSparse');
    onTestFinished(() => { spy.mockRestore(); });
    const files = [];
    const calls: number[] = [];
    for (const native of [true, false]) {
      const path = join(dir, `dump-${String(native)}.elf`);
      await dumpToFile(source, path, { format: 'elf', file: { holeBytes, native } });
      files.push({ bytes: readFileSync(path), blocks: statSync(path).blocks });
      calls.push(spy.mock.calls.length);
    }
    // The native run called the addon; the split run (native: false) did not.
    expect(calls[0]).toBeGreaterThan(0);
    expect(calls[1]).toBe(calls[0]);
    const [nativeFile, splitFile] = files;
    expect(Buffer.compare(nativeFile?.bytes ?? Buffer.alloc(0), splitFile?.bytes ?? Buffer.alloc(1))).toBe(0);
    expect(nativeFile?.blocks).toBe(splitFile?.blocks);
  });

  it('a full disk in the native writer: sink-failed with ENOSPC, no file, the old dump kept, and a retry writes the same bytes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vmcore');
    await writeFile(path, 'the previous dump');
    const source = dumpSourceFromMachine(filledMachine('16M', 600));
    // The sink's own writes reach the real file; the addon gets /dev/full's descriptor, which fails every write.
    const full: OpenFile = async (file, flags, mode) => {
      const real = await open(file, flags, mode);
      const devFull = openSync('/dev/full', 'w');
      const handle: SinkFileHandle = {
        write: (buffer, offset, length, position) => real.write(buffer, offset, length, position),
        writeSync: (buffer, offset, length, position) => writeSync(real.fd, buffer, offset, length, position),
        fd: devFull,
        truncate: (length) => real.truncate(length),
        sync: () => real.sync(),
        chmod: (m) => real.chmod(m),
        close: async () => {
          closeSync(devFull);
          await real.close();
        },
      };
      return handle;
    };
    const engine = await createNodeDumpEngine();
    const error: unknown = await engine.dump(source, { sink: createFileSink(path, { open: full }), format: 'elf' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'DumpError', code: 'sink-failed', cause: { code: 'ENOSPC' } });
    expect(await listDir(dir)).toEqual(['vmcore']);
    expect(await readFile(path, 'utf8')).toBe('the previous dump');
    await engine.dump(source, { sink: createFileSink(path), format: 'elf' });
    await engine.dump(source, { sink: createFileSink(`${path}.split`, { native: false }), format: 'elf' });
    expect(Buffer.compare(await readFile(path), await readFile(`${path}.split`))).toBe(0);
  });

  it('leaves zero runs of holeBytes and a zero tail unwritten, writes shorter runs, and sets no size', async () => {
    const dir = await holeDir();
    const path = join(dir, 'pages');
    // data, 1 zero page, data, 3 zero pages, data, 2 zero pages (the tail), a short last page of zeros
    const kinds = [1, 0, 1, 0, 0, 0, 1, 0, 0];
    const bytes = new Uint8Array(kinds.length * PAGE - 100);
    kinds.forEach((k, i) => { if (k === 1) bytes.fill(0x5a, i * PAGE, (i + 1) * PAGE); });
    const fd = openSync(path, 'w+');
    try {
      addon().writeSparse(fd, bytes, PAGE, 2 * PAGE);
      // Pages 0-2 are written (a lone zero page is shorter than a hole), 3-5 skipped, 6 written, the tail skipped.
      expect(statSync(path).size).toBe(PAGE + 7 * PAGE);
      ftruncateSync(fd, PAGE + bytes.length);
    } finally {
      closeSync(fd);
    }
    const file = readFileSync(path);
    expect(Buffer.compare(file.subarray(PAGE), bytes)).toBe(0);
    expect(file.subarray(0, PAGE).every((b) => b === 0)).toBe(true);
    if (statfsSync(dir).type === TMPFS_MAGIC) expect(statSync(path).blocks * 512).toBe(4 * PAGE);
  });

  it('refuses misuse with a coded error before writing, and names the errno of a failed write', () => {
    const bytes = new Uint8Array(2 * PAGE).fill(1);
    const cases: [string, () => void][] = [
      ['invalid-argument', () => { addon().writeSparse(-1, bytes, 0, PAGE); }],
      ['invalid-argument', () => { addon().writeSparse(1.5, bytes, 0, PAGE); }],
      ['invalid-argument', () => { addon().writeSparse(0, 'bytes' as unknown as Uint8Array, 0, PAGE); }],
      ['invalid-argument', () => { addon().writeSparse(0, bytes, -4096, PAGE); }],
      ['invalid-argument', () => { addon().writeSparse(0, bytes, 0.5, PAGE); }],
      ['invalid-argument', () => { addon().writeSparse(0, bytes, 0, 0); }],
      ['invalid-argument', () => { addon().writeSparse(0, bytes, 0, 1.5); }],
      ['invalid-argument', () => { (addon().writeSparse as (...args: unknown[]) => void)(0, bytes, 0); }],
    ];
    for (const [code, call] of cases) {
      const error = thrown(() => { callNative(call); });
      expect(error, code).toBeInstanceOf(NativeCodecError);
      expect((error as NativeCodecError).code, (error as Error).message).toBe(code);
    }
    const devFull = openSync('/dev/full', 'w');
    try {
      expect(thrown(() => { addon().writeSparse(devFull, bytes, 0, PAGE); })).toMatchObject({ code: 'ENOSPC' });
    } finally {
      closeSync(devFull);
    }
    const readOnly = openSync('/dev/null', 'r');
    try {
      expect(thrown(() => { addon().writeSparse(readOnly, bytes, 0, PAGE); })).toMatchObject({ code: 'EBADF' });
    } finally {
      closeSync(readOnly);
    }
  });

  it('takes every memory chunk of a dump once the file is open', async () => {
    const spy = vi.spyOn(addon(), 'writeSparse');
    onTestFinished(() => { spy.mockRestore(); });
    const dir = await tempDir();
    await dumpToFile(dumpSourceFromMachine(filledMachine('64M', 200)), join(dir, 'dump'), { format: 'elf' });
    expect(spy.mock.calls.length).toBeGreaterThan(1);
    expect(spy.mock.calls.every(([, chunk]) => chunk.length > 0 && chunk.length <= MiB)).toBe(true);
  });
});
