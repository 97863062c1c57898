/**
 * The QMP-shaped entry against QEMU 7.2's own replies (test/fixtures/qemu-7.2/dump/qmp.json,
 * recorded by scripts/golden/capture-dumps.mjs on a pc machine with 16 MiB): the same request gets
 * the same reply. Requests QEMU 7.2 refuses only because Debian built it without a codec, or that
 * name formats slice86 adds (kdump-zstd, kdump-raw-*), succeed here by design; write errors name
 * the failing byte instead of QEMU's phase. (win-dmp of Windows-like guests: win-dmp-vs-qemu.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDumpEngine, dumpSourceFromMachine, MemorySink } from '../../src/index.js';
import { executeQmp, type QmpCommand, type QmpReply } from '../../src/dump/qmp.js';
import { makeMachine } from '../support/machine-fixture.js';

interface Recorded {
  readonly name: string;
  readonly request: QmpCommand;
  readonly reply: QmpReply;
}

const recorded = JSON.parse(readFileSync(new URL('../fixtures/qemu-7.2/dump/qmp.json', import.meta.url), 'utf8')) as Recorded[];

/** Why a recorded request is not compared, or undefined to compare it. */
function notCompared(r: Recorded): string | undefined {
  const args = r.request.arguments ?? {};
  const format = args['format'];
  if (r.request.execute !== 'dump-guest-memory' || !('execute' in r.request)) return 'not a QMP dump command';
  if (format === 'kdump-lzo' || format === 'kdump-snappy' || format === 'kdump-zstd' || (typeof format === 'string' && format.startsWith('kdump-raw-'))) {
    return 'slice86 has this format; Debian QEMU 7.2 does not';
  }
  if (args['protocol'] === 'file:/dev/full') return 'write errors name the failing byte, not the QEMU phase';
  return undefined;
}

describe('QMP dump-guest-memory replies equal QEMU 7.2\'s', () => {
  const compared = recorded.filter((r) => notCompared(r) === undefined);

  it('compares most recorded requests', () => {
    expect(compared.length).toBeGreaterThanOrEqual(15);
  });

  it.each(compared.map((r) => [r.name, r] as const))('%s', async (_name, r) => {
    const engine = await createDumpEngine();
    const machine = makeMachine({ memorySize: '16M' });
    const reply = await executeQmp(r.request, {
      engine,
      source: () => dumpSourceFromMachine(machine),
      openFile: (path) => {
        if (path.startsWith('/nonexistent-slice86/')) throw new Error('No such file or directory');
        return new MemorySink();
      },
    });
    if ('error' in r.reply) expect(reply).toEqual(r.reply);
    else expect(reply).toEqual({ return: {} });
  });
});

it('query-dump and the capability list answer like QEMU (with slice86\'s extra formats)', async () => {
  const engine = await createDumpEngine();
  const ctx = { engine, source: () => dumpSourceFromMachine(makeMachine()), openFile: () => new MemorySink() };
  expect(await executeQmp({ execute: 'query-dump' }, ctx)).toEqual({ return: { status: 'none', completed: 0, total: 0 } });
  const caps = await executeQmp({ execute: 'query-dump-guest-memory-capability' }, ctx);
  expect(caps).toEqual({ return: { formats: ['elf', 'kdump-zlib', 'kdump-raw-zlib', 'kdump-lzo', 'kdump-raw-lzo', 'kdump-snappy', 'kdump-raw-snappy', 'kdump-zstd', 'kdump-raw-zstd', 'win-dmp'] } });
  expect(await executeQmp({ execute: 'no-such-command' }, ctx)).toEqual({ error: { class: 'CommandNotFound', desc: 'The command no-such-command has not been found' } });
});
