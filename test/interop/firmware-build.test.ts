/**
 * The committed firmware binaries are what their nasm sources assemble to, so tests that use the
 * binaries test the sources people read.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingTool } from '../support/tools.js';

const FIRMWARE = new URL('../../firmware/', import.meta.url);
const sources = readdirSync(FIRMWARE, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.asm'));
const skip = missingTool('nasm');

describe('firmware binaries match their sources', () => {
  it('has firmware sources', () => {
    expect(sources.length).toBeGreaterThan(0);
  });

  it.skipIf(skip !== undefined).each(sources)(`%s assembles to the committed binary${skip === undefined ? '' : ` (skipped: ${skip})`}`, (source) => {
    const dir = mkdtempSync(join(tmpdir(), 'slice86-nasm-'));
    try {
      const out = join(dir, 'out.bin');
      // -I: nasm looks for %include files in the working directory, not beside the source.
      const path = new URL(source, FIRMWARE).pathname;
      execFileSync('nasm', ['-f', 'bin', '-I', `${dirname(path)}/`, '-o', out, path]);
      const committed = readFileSync(new URL(source.replace(/\.asm$/, '.bin'), FIRMWARE));
      expect(Buffer.compare(readFileSync(out), committed)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
