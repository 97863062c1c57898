/**
 * External tools for interop tests. A missing tool skips its test with a visible reason; CI sets
 * SLICE86_REQUIRE_TOOLS=1 (after installing them in .ci/run), which turns a missing tool into a
 * failure instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { nativeAddonStatus } from '../../src/node/native-addon.js';

/**
 * Debian's own interpreter: apt's python3-lzo, python3-snappy and python3-zstandard live there,
 * and a python3 earlier on PATH (pyenv, a venv) would not see them.
 */
export const DEBIAN_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Skip reason for a Python module of Debian's interpreter, or undefined; throws when CI requires tools. */
export function missingPythonModule(module: string): string | undefined {
  if (spawnSync(DEBIAN_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0) return undefined;
  if (process.env['SLICE86_REQUIRE_TOOLS'] === '1') throw new Error(`python3 module ${module} is required (SLICE86_REQUIRE_TOOLS=1) but not installed`);
  return `python3 module ${module} is not installed`;
}

export function hasTool(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Returns a skip reason, or undefined if the tool is there; throws when CI requires tools. */
export function missingTool(command: string): string | undefined {
  if (hasTool(command)) return undefined;
  if (process.env['SLICE86_REQUIRE_TOOLS'] === '1') throw new Error(`${command} is required (SLICE86_REQUIRE_TOOLS=1) but not installed`);
  return `${command} is not installed`;
}

/** Skip reason for a file a Debian package installs (e.g. SeaBIOS's bios.bin), or undefined. */
export function missingDebianFile(path: string, debianPackage: string): string | undefined {
  if (existsSync(path)) return undefined;
  if (process.env['SLICE86_REQUIRE_TOOLS'] === '1') throw new Error(`${path} (Debian package ${debianPackage}) is required (SLICE86_REQUIRE_TOOLS=1) but missing`);
  return `${path} is missing (Debian package ${debianPackage})`;
}

/**
 * Skip reason when the native page compressor (native/, built by `npm install`) did not load, or
 * undefined; throws when CI requires tools (.ci/run installs its compiler and libraries).
 */
export function missingNativeAddon(): string | undefined {
  const status = nativeAddonStatus();
  if (status.loaded) return undefined;
  if (process.env['SLICE86_REQUIRE_TOOLS'] === '1') throw new Error(`the native page compressor is required (SLICE86_REQUIRE_TOOLS=1) but did not load: ${status.reason}`);
  return `the native page compressor did not load: ${status.reason}`;
}
