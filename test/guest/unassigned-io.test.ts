/**
 * IN instructions at ports no device owns, against QEMU 7.2: firmware/golden/unassigned-io.asm ran
 * under QEMU and printed each result (test/fixtures/qemu-7.2/unassigned-io.txt). The probes are
 * read from the asm source, so the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { makeMachine } from '../support/machine-fixture.js';

const asm = readFileSync(new URL('../../firmware/golden/unassigned-io.asm', import.meta.url), 'utf8');
const expected = readFileSync(new URL('../fixtures/qemu-7.2/unassigned-io.txt', import.meta.url), 'latin1').trim().split(' ');
const probes = [...asm.matchAll(/^\s+probe (\d), (0x[0-9a-f]+)/gm)].map((m) => ({ size: Number(m[1]) as 1 | 2 | 4, port: Number(m[2]) }));

it('reads what QEMU 7.2 reads at unassigned ports: all-ones when aligned, 0 when misaligned', () => {
  expect(probes.length).toBe(expected.length - 1);
  const machine = makeMachine();
  const got = probes.map(({ size, port }) => machine.ports.read(port, size).toString(16).toUpperCase().padStart(8, '0'));
  expect([...got, 'E']).toEqual(expected);
});
