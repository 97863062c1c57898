/**
 * Reading Windows crash dumps back (src/dump/read/windows.ts): QEMU 7.2's PAGEDU64 and PAGEDUMP
 * files give their header fields, runs and each processor's CONTEXT (found through the header's
 * DirectoryTableBase, in the paging mode that finds the KDBG); `file` names ours as QEMU's; a
 * win-dmp converts back to the identical win-dmp and to an ELF that converts to it again; damaged
 * files fail with a DumpReadError and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DumpEngine, DumpReadError, dumpGuestMemory, dumpSourceFromMachine, inputFromBytes, MemorySink, readDump } from '../../src/index.js';
import { makeMachine } from '../support/machine-fixture.js';
import { missingTool } from '../support/tools.js';
import { buildWindowsGuest } from '../support/windows-guest.js';

const DIR = new URL('../fixtures/qemu-7.2/win-dmp/', import.meta.url);

interface WinCase {
  readonly name: string;
  readonly smp: number;
  readonly faults: string;
  readonly elf: { readonly file: string };
  readonly dmp?: { readonly file: string; readonly sha256: string };
  readonly fileCommand?: string;
}
const index = JSON.parse(readFileSync(new URL('index.json', DIR), 'utf8')) as { cases: WinCase[] };
const withDmp = index.cases.filter((c) => c.dmp !== undefined);
const gz = (file: string): Uint8Array => new Uint8Array(gunzipSync(readFileSync(new URL(file, DIR))));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe.each(withDmp.map((c) => [c.name, c] as const))('QEMU 7.2 %s.dmp read back', (_name, c) => {
  it('header, runs and contexts', async () => {
    const bytes = gz(c.dmp?.file ?? '');
    const dump = await readDump(inputFromBytes(bytes));
    const w = dump.windows;
    expect(dump.format).toBe('win-dmp');
    expect(w).toBeDefined();
    if (w === undefined) return;
    const x64 = c.name.startsWith('x64');
    expect(w.signature).toBe(x64 ? 'PAGEDU64' : 'PAGEDUMP');
    expect(w.directoryTableBase).toBe(0x20000n);
    expect(w.machineImageType).toBe(x64 ? 0x8664 : 0x14c);
    expect(w.kdDebuggerDataBlock).toBe(x64 ? 0xfffff80000000000n : 0x80000000n);
    expect(w.pfnDatabase).toBe(x64 ? 0xfffffa8000000000n : 0x84000000n);
    expect(w.bugcheckCode).toBe(c.faults === 'B' ? 0 : 0x161);
    expect(w.runs.map((r) => [r.basePage, r.pageCount])).toEqual([[0n, 0xa0n], [0x100n, 0xf00n], ...(c.faults === 'R' ? [[0x1000n, 0x10n]] : [])]);
    expect(w.requiredDumpSpace).toBe(BigInt(bytes.length));
    expect(w.paging).toBe(x64 ? 'x64' : c.name.startsWith('pae') ? 'pae' : '32-bit');
    if (x64) expect(w.comment).toBe('slice86 win-dmp guest');
    // One CONTEXT per QEMU CPU the header allows; their registers are QEMU's (from its ELF).
    const elf = await readDump(inputFromBytes(gz(c.elf.file)));
    const patched = Math.min(c.smp, w.numberProcessors);
    expect(w.contexts.slice(0, patched).map((ctx) => ctx.contextFlags)).toEqual(Array<number>(patched).fill(x64 ? 0x10001f : 0x10017));
    for (let i = 0; i < patched; i++) {
      const ctx = w.contexts[i];
      const cpu = elf.cpus[i];
      const mask = x64 ? (1n << 64n) - 1n : 0xffffffffn;
      expect(ctx?.rip).toBe((cpu?.rip ?? 0n) & mask);
      expect(ctx?.gpr.rax).toBe((cpu?.gpr.rax ?? 0n) & mask);
      expect(ctx?.selectors.cs).toBe(cpu?.segments.cs.selector);
      expect(dump.cpus[i]?.rip).toBe(ctx?.rip);
    }
    if (c.fileCommand !== undefined) expect(c.fileCommand).toMatch(x64 ? /^MS Windows 64bit crash dump, full dump, \d+ pages$/ : /^MS Windows 32bit crash dump, \d+ pages$/);
  });

  it('converts back to the identical file (compat), and through ELF to it again', async () => {
    const bytes = gz(c.dmp?.file ?? '');
    const dump = await readDump(inputFromBytes(bytes));
    const again = new MemorySink();
    await dumpGuestMemory(await dump.toDumpSource(), { sink: again, format: 'win-dmp', compat: 'qemu-7.2' });
    expect(sha256(again.bytes())).toBe(c.dmp?.sha256);
    const elf = new MemorySink();
    await dumpGuestMemory(await dump.toDumpSource(), { sink: elf, format: 'elf' });
    const fromElf = new MemorySink();
    await dumpGuestMemory(await (await readDump(inputFromBytes(elf.bytes()))).toDumpSource(), { sink: fromElf, format: 'win-dmp', compat: 'qemu-7.2' });
    expect(sha256(fromElf.bytes())).toBe(c.dmp?.sha256);
  });
});

describe('file(1) names our win-dmp files', () => {
  const reason = missingTool('file');
  it.skipIf(reason !== undefined)('as Windows crash dumps with their page count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slice86-windmp-'));
    try {
      for (const name of ['x64-smp2', 'pae-smp1', 'nopae-smp2']) {
        const c = withDmp.find((x) => x.name === name);
        const dump = await readDump(inputFromBytes(gz(c?.elf.file ?? '')));
        const sink = new MemorySink();
        await dumpGuestMemory(await dump.toDumpSource(), { sink, format: 'win-dmp' });
        const path = join(dir, `${name}.dmp`);
        writeFileSync(path, sink.bytes());
        expect(execFileSync('file', ['-b', path], { encoding: 'utf8' }).trim()).toBe(c?.fileCommand);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fast-check: damaged win-dmp files', () => {
  it('read or fail with a DumpReadError, never anything else', async () => {
    const files: Uint8Array[] = [];
    for (const mode of ['x64', 'pae', 'nopae'] as const) {
      const machine = makeMachine({ cpus: 2 });
      // Small runs: the kernel's pages, the large page's first page, the tables.
      const cpus = buildWindowsGuest(machine, { mode, cpus: 2, runs: [[0x20n, 0x8n], [0x200n, 0x10n], [0x400n, 1n]] });
      const sink = new MemorySink();
      await new DumpEngine().dump(dumpSourceFromMachine(machine, cpus), { sink, format: 'win-dmp' });
      files.push(sink.bytes());
    }
    for (const f of files) expect((await readDump(inputFromBytes(f))).windows?.contexts).toHaveLength(2);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(2),
        fc.array(fc.tuple(fc.nat(0x2100), fc.nat(255)), { minLength: 1, maxLength: 12 }),
        fc.option(fc.nat(0x20000), { nil: undefined }),
        async (which, edits, cut) => {
          const bytes = (files[which] ?? new Uint8Array()).slice(0, cut);
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          try {
            const dump = await readDump(inputFromBytes(bytes));
            for (const r of dump.ranges.slice(0, 4)) await dump.readPhysical(r.gpa, new Uint8Array(Math.min(r.size, 4096)));
          } catch (error) {
            expect(error).toBeInstanceOf(DumpReadError);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
