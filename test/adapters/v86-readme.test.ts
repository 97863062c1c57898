/**
 * The README's v86 example, run as written: the block between the v86-example markers, with only
 * its package specifiers and paths pointed at this checkout (it imports slice86/v86 and
 * slice86/node from source here). What it prints and the dump it writes are checked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { missingDebianFile, missingTool } from '../support/tools.js';
import { DEBIAN_SEABIOS } from '../support/v86.js';

const README = new URL('../../README.md', import.meta.url);
const skip = missingDebianFile(DEBIAN_SEABIOS, 'seabios');

/** The example's code, exactly as the README shows it. */
function exampleCode(): string {
  const match = /<!-- v86-example:start[^>]*-->\n```js\n([\s\S]*?)```\n<!-- v86-example:end -->/.exec(readFileSync(README, 'utf8'));
  if (match?.[1] === undefined) throw new Error('README.md has no v86 example between the v86-example markers');
  return match[1];
}

describe('README v86 example', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slice86-readme-'));
  const script = fileURLToPath(new URL(`./.readme-example-${process.pid}.mjs`, import.meta.url));
  afterEach(() => {
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skip !== undefined)(`runs as written${skip === undefined ? '' : ` (skipped: ${skip})`}`, async () => {
    const dumpPath = join(dir, 'v86.kdump');
    const code = exampleCode()
      .replace("'slice86/v86'", "'../../src/adapters/v86.ts'")
      .replace("'slice86/node'", "'../../src/node/index.ts'")
      .replace('node_modules/slice86/firmware/', fileURLToPath(new URL('../../firmware/', import.meta.url)))
      .replace("'v86.kdump'", JSON.stringify(dumpPath));
    writeFileSync(script, code);
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => { printed.push(args.map(String).join(' ')); });
    try {
      await import(pathToFileURL(script).href);
    } finally {
      log.mockRestore();
    }
    expect(printed).toHaveLength(3);
    expect(printed[0]).toContain('QEMU fw_cfg DMA interface supported');
    expect(printed[1]).toContain('vmcoreinfo key 0020 note 00100344');
    expect(printed[2]).toBe('true');
    expect(existsSync(dumpPath)).toBe(true);
    if (missingTool('crash') === undefined) expect(execFileSync('crash', ['--osrelease', dumpPath], { encoding: 'utf8' }).trim()).toBe('6.1.0-v86');
  });
});
