/**
 * Every page of our kdump files decodes with an independent decoder, Debian's own libraries through
 * Python (zlib, python3-snappy, python3-zstandard): test/support/kdump_pages.py walks the bitmap
 * and descriptors and hashes the pages, which must equal the guest's dumpable pages. Both the
 * portable engine and the Node engine (the native addon's codecs when it was built) are checked.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDumpEngine, dumpSourceFromMachine, MemorySink, type DumpEngine } from '../../src/index.js';
import { createNodeDumpEngine, isNativeCodec, type NodeDumpEngine } from '../../src/node/index.js';
import { runScriptedProbe } from '../../src/guest/scripted-probe.js';
import { makeMachine } from '../support/machine-fixture.js';
import { nativeAddonStatus } from '../../src/node/native-addon.js';
import { DEBIAN_PYTHON, missingPythonModule } from '../support/tools.js';

const nativeLoaded = (): boolean => nativeAddonStatus().loaded;

const SCRIPT = new URL('../support/kdump_pages.py', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'slice86-pages-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** A guest with text-like, random-looking and zero pages, so codecs see every kind of page. */
function filledMachine(): ReturnType<typeof makeMachine> {
  const machine = makeMachine();
  runScriptedProbe(machine);
  const text = new TextEncoder().encode('The quick brown fox jumps over the lazy dog. '.repeat(400));
  machine.memory.write(0x300000, text);
  const noise = new Uint8Array(64 * 1024);
  let x = 12345;
  for (let i = 0; i < noise.length; i++) { x = (x * 1103515245 + 12345) >>> 0; noise[i] = x >>> 24; }
  machine.memory.write(0x400000, noise);
  return machine;
}

function expectedDigest(machine: ReturnType<typeof makeMachine>): { pages: number; sha256: string } {
  const hash = createHash('sha256');
  let pages = 0;
  for (const block of machine.memory.blocks()) {
    for (let at = 0; at < block.sizeBytes; at += 4096) {
      hash.update(machine.memory.read(block.gpa + at, 4096));
      pages++;
    }
  }
  return { pages, sha256: hash.digest('hex') };
}

describe.each([
  ['kdump-raw-zlib', 'zlib', '0x0,0x1'],
  ['kdump-raw-lzo', 'lzo', '0x0,0x2'],
  ['kdump-raw-snappy', 'snappy', '0x0,0x4'],
  ['kdump-raw-zstd', 'zstandard', '0x0,0x20'],
] as const)('%s', (format, module, flags) => {
  const skip = missingPythonModule(module);
  const engines: [string, () => Promise<DumpEngine | NodeDumpEngine>][] = [['portable engine', createDumpEngine], ['Node engine', () => createNodeDumpEngine()]];
  it.skipIf(skip !== undefined).each(engines)(`decodes every page with Debian's ${module}${skip === undefined ? '' : ` (skipped: ${skip})`}: %s`, async (label, create) => {
    const machine = filledMachine();
    const sink = new MemorySink();
    const engine = await create();
    await engine.dump(dumpSourceFromMachine(machine), { sink, format });
    if ('workers' in engine) {
      // The Node engine's path: the native codec when the addon loaded (native-codecs.test.ts requires it in CI).
      const codec = engine.codecFor(format);
      expect(codec !== undefined && isNativeCodec(codec)).toBe(nativeLoaded());
    }
    const path = join(dir, `${format}-${label.replace(/ /g, '-')}`);
    writeFileSync(path, sink.bytes());
    const [pages, seen, sha256] = execFileSync(DEBIAN_PYTHON, [SCRIPT, path], { encoding: 'utf8' }).trim().split(' ');
    const expected = expectedDigest(machine);
    expect({ pages: Number(pages), seen, sha256 }).toEqual({ pages: expected.pages, seen: flags, sha256: expected.sha256 });
  });
});
