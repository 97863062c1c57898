// Captures QEMU 7.2's guest-physical memory map at reset (`info mtree -f`, the "memory" address
// space) for machine/RAM/firmware-size combinations around QEMU's low-memory thresholds, into
// test/fixtures/qemu-7.2/memory-map/<machine>-<mem>-<fw>.txt. Needs qemu-system-x86_64.
// The firmware is a HLT-filled image of the given size; the guest never runs (-S).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Qmp } from './qmp-client.mjs';

const CONFIGS = [
  ['pc', '3584M', 64], ['pc', '2816M', 64], ['pc', '3G', 64], ['pc', '32M', 256],
  ['q35', '2816M', 64], ['q35', '3G', 64], ['q35', '2815M', 64], ['q35', '32M', 256],
];
const OUT = new URL('../../test/fixtures/qemu-7.2/memory-map/', import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), 'slice86-mm-'));

async function capture(machine, mem, firmwareKiB) {
  const bios = join(tmp, `bios-${firmwareKiB}.bin`);
  writeFileSync(bios, Buffer.alloc(firmwareKiB * 1024, 0xf4));
  const sock = join(tmp, `${machine}-${mem}.qmp`);
  const qemu = spawn('qemu-system-x86_64', ['-M', machine, '-m', mem, '-nodefaults', '-nic', 'none', '-display', 'none',
    '-accel', 'tcg', '-bios', bios, '-qmp', `unix:${sock},server=on,wait=off`, '-S'], { stdio: 'inherit' });
  const exited = new Promise((r) => qemu.on('exit', r));
  const qmp = await Qmp.connect(sock, qemu);
  await qmp.command('qmp_capabilities');
  const text = await qmp.hmp('info mtree -f');
  await qmp.command('quit').catch(() => undefined);
  qmp.close();
  const view = text.split('FlatView #').find((v) => v.includes('AS "memory"'));
  if (view === undefined) throw new Error(`no "memory" flat view for ${machine} ${mem}:\n${text}`);
  const lines = view.split('\n').filter((l) => /\(prio \d+, (?:ram|rom)\)/.test(l)).map((l) => l.trim());
  writeFileSync(new URL(`${machine}-${mem}-${firmwareKiB}K.txt`, OUT), `${lines.join('\n')}\n`);
  await exited;
}

for (const [machine, mem, fw] of CONFIGS) await capture(machine, mem, fw);
rmSync(tmp, { recursive: true, force: true });
