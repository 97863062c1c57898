/**
 * The README's copy-paste examples, so tests can run them and they cannot rot. An example is a
 * fenced block right after a `<!-- example: KIND -->` line: `cli` (a bash script of slice86
 * commands), `node` (a TypeScript module importing 'slice86' and 'slice86/node') or `browser`
 * (an HTML page importing the browser bundle).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type ExampleKind = 'cli' | 'node' | 'browser';

export interface Example {
  readonly kind: ExampleKind;
  /** 1-based line of the opening fence, for failure messages. */
  readonly line: number;
  readonly code: string;
}

export function readmeExamples(root: string): Example[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- example: (cli|node|browser) -->$/.exec(lines[i] ?? '');
    if (marker === null) continue;
    const fence = i + 1;
    if (!(lines[fence] ?? '').startsWith('```')) throw new Error(`README.md:${fence + 1}: an example marker must be followed by a fenced block`);
    const end = lines.findIndex((l, k) => k > fence && l.startsWith('```'));
    if (end < 0) throw new Error(`README.md:${fence + 1}: unterminated block`);
    out.push({ kind: marker[1] as ExampleKind, line: fence + 1, code: lines.slice(fence + 1, end).join('\n') });
  }
  return out;
}
