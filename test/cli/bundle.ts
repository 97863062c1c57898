/**
 * The CLI as users run it: src/cli/main.ts bundled the way scripts/build.mjs bundles it, into a
 * scratch folder inside node_modules (so its external packages resolve as they do for dist/cli,
 * and dist/ is left alone), run with node.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliBundle {
  readonly path: string;
  run(cwd: string, ...args: string[]): CliRun;
  remove(): void;
}

export async function bundleCli(): Promise<CliBundle> {
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'node_modules/.cache/slice86-cli-'));
  const path = join(dir, 'slice86.js');
  await build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile: path, bundle: true, format: 'esm', platform: 'node', target: 'es2022', packages: 'external', logLevel: 'warning' });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  return {
    path,
    run(cwd, ...args) {
      const result = spawnSync(process.execPath, [path, ...args], { cwd, encoding: 'utf8' });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
