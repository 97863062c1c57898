/** `npm run docs` keeps working: TypeDoc builds the API reference from the TSDoc comments with warnings as errors. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../cli/bundle.js';

it('builds the API reference for slice86, slice86/node and slice86/v86', () => {
  const out = mkdtempSync(join(tmpdir(), 'slice86-api-'));
  try {
    const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/typedoc/bin/typedoc'), '--out', out], { cwd: ROOT, encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(existsSync(join(out, 'index.html'))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
