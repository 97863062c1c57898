/**
 * External tools for interop tests. A missing tool skips its test with a visible reason; CI sets
 * SLICE86_REQUIRE_TOOLS=1 (after installing them in .ci/run), which turns a missing tool into a
 * failure instead.
 */
import { spawnSync } from 'node:child_process';

export function hasTool(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Returns a skip reason, or undefined if the tool is there; throws when CI requires tools. */
export function missingTool(command: string): string | undefined {
  if (hasTool(command)) return undefined;
  if (process.env['SLICE86_REQUIRE_TOOLS'] === '1') throw new Error(`${command} is required (SLICE86_REQUIRE_TOOLS=1) but not installed`);
  return `${command} is not installed`;
}
