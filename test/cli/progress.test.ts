/**
 * The CLI's progress bar (src/cli/progress.ts) on a fake terminal: it appears only after the delay,
 * shows bytes, rate and ETA, clears itself at the end, and is silent when disabled.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';

function fakeTerminal(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  Object.assign(stream, { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('progress bar', () => {
  it('bytes done of the total, rate and ETA, after the delay; cleared at the end', async () => {
    const terminal = fakeTerminal();
    const progress = createProgress('elf', { enabled: true, delayMs: 20, stream: terminal.stream });
    progress.update(1 << 20, 64 << 20);
    expect(terminal.text()).toBe('');
    await new Promise((resolve) => setTimeout(resolve, 40));
    progress.update(16 << 20, 64 << 20);
    progress.update(32 << 20, 64 << 20);
    progress.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const text = terminal.text();
    expect(text).toMatch(/elf \[=+-+\] \d+% \d+\.\d+ MiB of 64\.0 MiB [\d.]+ (MiB|GiB)\/s ETA \d+s/);
    // clearOnComplete: the last thing written erases the line.
    expect(text.endsWith('\u001b[2K') || text.includes('\u001b[2K')).toBe(true);
  });

  it('disabled (--json, or stderr not a terminal): nothing at all', async () => {
    const terminal = fakeTerminal();
    const progress = createProgress('elf', { enabled: false, delayMs: 0, stream: terminal.stream });
    progress.update(1, 2);
    progress.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(terminal.text()).toBe('');
  });
});
