/**
 * Shared fixtures for the Node entry's tests: deterministic guests (random, text-like and zero
 * pages), temporary directories, and FileHandle wrappers that fail the way disks do.
 */

import { writeSync } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { createMachine, type Machine } from '../../src/index.js';
import type { OpenFile, SinkFileHandle } from '../../src/node/index.js';

const PAGE = 4096;
const WORDS = ['struct', 'page', 'return', 'kernel', 'static', 'int', 'void', 'memory', 'if', 'else', 'NULL', 'lock', 'irq', 'cpu', 'list_head', '0x1000'];

/** xorshift32: the same pages on every run. */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Fills `page` with random bytes or with text-like words. */
export function fillPage(page: Uint8Array, kind: 'random' | 'text', rnd: () => number): void {
  if (kind === 'random') {
    for (let i = 0; i < page.length; i += 4) {
      const v = rnd();
      page[i] = v & 0xff;
      page[i + 1] = (v >>> 8) & 0xff;
      page[i + 2] = (v >>> 16) & 0xff;
      page[i + 3] = v >>> 24;
    }
    return;
  }
  let at = 0;
  while (at < page.length) {
    const word = WORDS[rnd() % WORDS.length] ?? 'x';
    for (let i = 0; i < word.length && at < page.length; i++) page[at++] = word.charCodeAt(i);
    if (at < page.length) page[at++] = rnd() % 8 === 0 ? 10 : 32;
  }
}

/**
 * A pc machine whose RAM from 1 MiB on holds `dataPages` non-zero pages (half random, half text),
 * spread out among zero pages so runs alternate.
 */
export function filledMachine(memorySize: string, dataPages: number, seed = 1): Machine {
  const machine = createMachine({ memorySize });
  const rnd = xorshift(seed);
  const page = new Uint8Array(PAGE);
  const ramEnd = Math.max(...machine.memory.regions.filter((r) => r.name === 'ram-below-4g').map((r) => r.gpa + r.sizeBytes));
  const ramPages = ramEnd / PAGE;
  for (let i = 0; i < dataPages; i++) {
    const pfn = 256 + ((i * 7 + (rnd() % 5)) % (ramPages - 256));
    fillPage(page, i % 2 === 0 ? 'random' : 'text', rnd);
    machine.memory.write(pfn * PAGE, page);
  }
  return machine;
}

/** A fresh temporary directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slice86-node-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function listDir(dir: string): Promise<string[]> {
  return readdir(dir);
}

export function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} failed (injected)`), { code, syscall });
}

/**
 * fs.promises.open, but the handle's writes fail with `code` once more than `limit` bytes would
 * have been written (a full disk, or a file system that went away). With `sync` (the file sink's
 * default I/O) the handle also has writeSync, which throws the same way.
 */
export function failingOpen(limit: number, code = 'ENOSPC', sync = true): OpenFile & { opened: string[] } {
  const opened: string[] = [];
  const openFile = async (path: string, flags: string, mode: number): Promise<SinkFileHandle> => {
    opened.push(path);
    const real = await open(path, flags, mode);
    let written = 0;
    const claim = (length: number): void => {
      if (written + length > limit) throw errnoError(code, 'write');
      written += length;
    };
    const handle: SinkFileHandle = {
      write: async (buffer, offset, length, position) => {
        claim(length);
        return real.write(buffer, offset, length, position);
      },
      truncate: (length) => real.truncate(length),
      sync: () => real.sync(),
      chmod: (mode) => real.chmod(mode),
      close: () => real.close(),
    };
    if (!sync) return handle;
    return {
      ...handle,
      writeSync: (buffer, offset, length, position) => {
        claim(length);
        return writeSync(real.fd, buffer, offset, length, position);
      },
    };
  };
  return Object.assign(openFile, { opened });
}
