/**
 * Dump failures: a sink that fails at byte N (headers, notes, bitmaps, pages, the end), a cancelled
 * signal, and malformed vmcoreinfo notes. Failures are DumpErrors with a code, the sink is told to
 * abort (so no file that looks complete stays behind), the engine reports 'failed' with a
 * completion event, and a retry on the same machine gives exactly the bytes of a clean dump.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DumpEngine, DumpError, dumpSourceFromMachine, MemorySink, type ByteSink, type DumpCompleted, type DumpFormat } from '../../src/index.js';
import { runScriptedProbe, linuxVmcoreinfoNote } from '../../src/guest/scripted-probe.js';
import { writeU32le } from '../../src/core/bytes.js';
import { DmaDriver, findFile, PioDriver } from '../support/fwcfg-driver.js';
import { makeMachine } from '../support/machine-fixture.js';

/** A sink that throws once `failAt` bytes have been accepted; it records whether abort() ran. */
class FailingSink implements ByteSink {
  written = 0;
  aborted = false;
  closed = false;
  readonly failAt: number;

  constructor(failAt: number) {
    this.failAt = failAt;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.written + chunk.length > this.failAt) return Promise.reject(new Error(`disk full at ${this.failAt}`));
    this.written += chunk.length;
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }

  abort(): void {
    this.aborted = true;
  }
}

function machineWithNote(): ReturnType<typeof makeMachine> {
  const machine = makeMachine({ cpus: 2 });
  runScriptedProbe(machine);
  machine.memory.write(0x300000, new TextEncoder().encode('page data that compresses well '.repeat(200)));
  return machine;
}

async function cleanDump(machine: ReturnType<typeof makeMachine>, format: DumpFormat): Promise<Uint8Array> {
  const sink = new MemorySink();
  await new DumpEngine().dump(dumpSourceFromMachine(machine), { sink, format });
  return sink.bytes();
}

describe.each(['elf', 'kdump-zlib', 'kdump-lzo'] as const)('%s with a sink that fails at byte N', (format) => {
  it('fails with sink-failed, aborts the sink, reports failure, and a retry gives the same bytes', async () => {
    const machine = machineWithNote();
    const reference = await cleanDump(machine, format);
    // Inside the ELF header / kdump flat header, the notes, early memory or bitmaps, pages, and the last byte.
    const points = [0, 1, 63, 100, 2048, 4100, 5000, 70_000, Math.floor(reference.length / 2), reference.length - 1];
    for (const failAt of points) {
      const engine = new DumpEngine();
      const events: DumpCompleted[] = [];
      engine.onCompleted((e) => events.push(e));
      const sink = new FailingSink(failAt);
      const error: unknown = await engine.dump(dumpSourceFromMachine(machine), { sink, format }).catch((e: unknown) => e);
      expect(error, `fail at ${failAt}`).toBeInstanceOf(DumpError);
      expect((error as DumpError).code).toBe('sink-failed');
      expect(sink.aborted && !sink.closed).toBe(true);
      expect(engine.queryDump().status).toBe('failed');
      expect(events.map((e) => e.result.status)).toEqual(['failed']);
      expect(events[0]?.error).toContain('disk full');
      const retry = new MemorySink();
      await engine.dump(dumpSourceFromMachine(machine), { sink: retry, format });
      expect(Buffer.compare(Buffer.from(retry.bytes()), Buffer.from(reference))).toBe(0);
    }
  });
});

it('a cancelled signal stops the dump with code aborted and the sink is aborted', async () => {
  const machine = makeMachine({ memorySize: '64M' });
  const controller = new AbortController();
  const sink = new MemorySink();
  const engine = new DumpEngine();
  const error: unknown = await engine
    .dump(dumpSourceFromMachine(machine), { sink, onProgress: () => { controller.abort(); }, signal: controller.signal })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DumpError);
  expect((error as DumpError).code).toBe('aborted');
  expect(sink.aborted).toBe(true);
  expect(engine.queryDump().status).toBe('failed');
  const retry = new MemorySink();
  await engine.dump(dumpSourceFromMachine(machine), { sink: retry });
  expect(Buffer.compare(Buffer.from(retry.bytes()), Buffer.from(await cleanDump(machine, 'elf')))).toBe(0);
});

it('one engine runs one dump at a time, with QEMU\'s text for the second', async () => {
  const machine = makeMachine();
  const engine = new DumpEngine();
  const first = engine.dump(dumpSourceFromMachine(machine), { sink: new MemorySink() });
  const second: unknown = await engine.dump(dumpSourceFromMachine(machine), { sink: new MemorySink() }).catch((e: unknown) => e);
  expect((second as DumpError).qemuMessage).toBe('There is a dump in process, please wait.');
  await first;
  expect(engine.queryDump().status).toBe('completed');
});

describe('malformed vmcoreinfo notes', () => {
  /** Registers {host 0, guest `format`, size, paddr} the way Linux does: one 16-byte DMA write. */
  function register(machine: ReturnType<typeof makeMachine>, guestFormat: number, size: number, paddr: number): void {
    const file = findFile(new PioDriver(machine), 'etc/vmcoreinfo');
    const record = new Uint8Array(16);
    record[2] = guestFormat;
    writeU32le(record, 4, size);
    writeU32le(record, 8, paddr);
    expect(new DmaDriver(machine, 'linux').writeDma(file?.key, record)).toBe(0);
  }

  it('never throw: the dump goes on without the note, as QEMU does, and says why', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.integer({ min: 0, max: 3 }),
        fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constantFrom(11, 12, 1 << 20, (1 << 20) + 1, 0xffffffff)),
        fc.constantFrom(0x90000, 0x1fffff0, 0x7fff0000, 0xfffffff0),
        async (noteBytes, guestFormat, size, paddr) => {
          const machine = makeMachine();
          if (paddr < 0x2000000) machine.memory.write(paddr, noteBytes.slice(0, 0x2000000 - paddr));
          register(machine, guestFormat, size, paddr);
          const warnings: string[] = [];
          const sink = new MemorySink();
          const result = await new DumpEngine().dump(dumpSourceFromMachine(machine), { sink, format: 'kdump-zlib', onWarning: (w) => warnings.push(w) });
          expect(result.status.status).toBe('completed');
          expect(result.warnings).toEqual(warnings);
          if (guestFormat === 0) expect(warnings).toEqual(['guest note is not present']);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a valid note is carried and a truncated one is dropped with "Invalid guest note header"', async () => {
    const machine = makeMachine();
    const note = linuxVmcoreinfoNote('OSRELEASE=6.1.0\n');
    machine.memory.write(0x90000, note);
    register(machine, 1, 20, 0x90000);
    const result = await new DumpEngine().dump(dumpSourceFromMachine(machine), { sink: new MemorySink() });
    expect(result.warnings).toEqual(['Invalid guest note header']);
  });
});

it('a codec that throws fails the dump as sink-failed and aborts the sink', async () => {
  const machine = machineWithNote();
  const broken = { name: 'zlib', flag: 1, compress: () => { throw new Error('codec exploded'); }, decompress: () => 0 } as const;
  const sink = new MemorySink();
  const error: unknown = await new DumpEngine({ codecs: { zlib: broken } }).dump(dumpSourceFromMachine(machine), { sink, format: 'kdump-zlib' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DumpError);
  expect((error as DumpError).code).toBe('sink-failed');
  expect((error as DumpError).message).toContain('codec exploded');
  expect(sink.aborted).toBe(true);
});
