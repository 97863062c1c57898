/**
 * The web demo end to end in Debian's Chromium, driven by playwright-core: the browser bundle and
 * the page are built into a scratch folder (dist/ is left alone) and served by
 * scripts/serve-web.mjs. The page boots the built-in firmware; the test checks the debug console,
 * the fw_cfg list and the vmcoreinfo state, downloads an ELF core and a flattened kdump through
 * the streaming service worker and a raw kdump through the origin-private file, reads each back
 * with slice86's readers and compares every byte of guest memory with the same machine booted in
 * Node; then it runs the README's browser example and uploads a firmware image of a bad size
 * (one-line error) and a good one. A screenshot of the page is left in test-results/demo-web.png.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDefaultFirmware, createMachine, createZstdCodec, defaultFirmwareImage, inputFromBytes, readDump, type Machine } from '../../src/index.js';
import { readmeExamples } from '../docs/examples.js';
import { missingTool } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const skip = CHROMIUM === undefined ? missingTool('chromium') : undefined;

interface WebBuild {
  buildBrowserBundle(outdir: string): Promise<void>;
  buildWebDemo(outdir: string): Promise<void>;
}
interface WebServer {
  serveDirectory(root: string, port?: number): Promise<{ server: Server; url: string }>;
}

let work = '';
let server: Server | undefined;
let url = '';
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (skip !== undefined || CHROMIUM === undefined) return;
  work = mkdtempSync(join(tmpdir(), 'slice86-web-'));
  const web = (await import(join(ROOT, 'scripts/build-web.mjs'))) as WebBuild;
  await web.buildBrowserBundle(join(work, 'site'));
  await web.buildWebDemo(join(work, 'site'));
  const serve = (await import(join(ROOT, 'scripts/serve-web.mjs'))) as WebServer;
  ({ server, url } = await serve.serveDirectory(join(work, 'site')));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start; nothing here loads foreign pages.
    chromiumSandbox: false,
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  // The README's browser example, served beside the demo with the bundle where an install puts it.
  const example = readmeExamples(ROOT).find((e) => e.kind === 'browser');
  writeFileSync(join(work, 'site/web/readme-example.html'), (example?.code ?? '').replace('/node_modules/slice86/dist/browser/slice86.js', '/browser/slice86.js'));
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (error) => {
    pageErrors.push(error.message);
  });
  await page.goto(url);
  await page.waitForSelector('body[data-state="booted"][data-downloads="ready"]');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => {
    if (server === undefined) resolve();
    else server.close(() => {
      resolve();
    });
  });
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** The machine the page boots by default (pc, 32 MiB), booted the same way in Node. */
async function nodeMachine(): Promise<Machine> {
  const machine = createMachine({ machine: 'pc', memorySize: '32M', firmware: defaultFirmwareImage() });
  await bootDefaultFirmware(machine);
  return machine;
}

async function download(format: string): Promise<{ bytes: Uint8Array; name: string; via: string }> {
  const button = page.locator(`#downloads button[data-format="${format}"]`);
  const [file] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const path = join(work, file.suggestedFilename());
  await file.saveAs(path);
  await page.waitForSelector(`#downloads button[data-format="${format}"][data-state="done"]`);
  const via = (await button.locator('xpath=following-sibling::span').textContent()) ?? '';
  return { bytes: new Uint8Array(readFileSync(path)), name: file.suggestedFilename(), via };
}

async function expectSameMemory(bytes: Uint8Array, expectedFormat: string): Promise<void> {
  const machine = await nodeMachine();
  const dump = await readDump(inputFromBytes(bytes), { codecs: { zstd: await createZstdCodec() } });
  expect(dump.format).toBe(expectedFormat);
  expect(dump.vmcoreinfo).toContain('OSRELEASE=6.1.0-slice86');
  // The reader merges adjacent blocks: a 32 MiB pc guest is one run of memory from 0, plus the
  // 64 KiB firmware image below 4 GiB.
  expect(dump.ranges).toEqual([{ gpa: 0, size: 32 * 2 ** 20 }, { gpa: 2 ** 32 - 0x10000, size: 0x10000 }]);
  for (const block of machine.memory.blocks()) {
    const got = new Uint8Array(block.sizeBytes);
    await dump.readPhysical(block.gpa, got);
    expect(Buffer.compare(got, machine.memory.read(block.gpa, block.sizeBytes))).toBe(0);
  }
}

describe.skipIf(skip !== undefined)(`web demo in Chromium${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  it('boots the built-in firmware: debug console, fw_cfg files, vmcoreinfo state', async () => {
    const expected = await nodeMachine();
    expect(await page.textContent('#console')).toBe(expected.debugcon?.text());
    const names = await page.locator('#fwcfg tr td:nth-child(3)').allTextContents();
    expect(names).toEqual(expected.fwcfg.files().map((f) => f.name));
    expect(await page.textContent('#vmcoreinfo')).toContain('registered: host_format 0, guest_format 1, size');
    expect(await page.textContent('#summary')).toContain('pc, 32M RAM');
  });

  it('streams an ELF core and a flattened kdump through the service worker; both read back equal', async () => {
    const elf = await download('elf');
    expect(elf.name).toBe('vmcore.elf');
    expect(elf.via).toContain('via service-worker stream');
    await expectSameMemory(elf.bytes, 'elf');
    const kdump = await download('kdump-zlib');
    expect(kdump.name).toBe('vmcore-zlib.flat');
    expect(kdump.via).toContain('via service-worker stream');
    await expectSameMemory(kdump.bytes, 'kdump-flattened');
  });

  it('writes a raw kdump (positioned writes) to an origin-private file and offers it', async () => {
    const raw = await download('kdump-raw-zstd');
    expect(raw.via).toContain('via origin-private file');
    await expectSameMemory(raw.bytes, 'kdump-raw');
  });

  it('after a hard reload (which bypasses the worker) the page has it take over again', async () => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Page.reload', { ignoreCache: true });
    await page.waitForSelector('body[data-state="booted"][data-downloads="ready"]');
    const lzo = await download('kdump-lzo');
    expect(lzo.via).toContain('via service-worker stream');
    await expectSameMemory(lzo.bytes, 'kdump-flattened');
  });

  it("the README's browser example runs", async () => {
    const other = await page.context().newPage();
    const errors: string[] = [];
    other.on('pageerror', (error) => errors.push(error.message));
    await other.goto(url.replace(/web\/$/, 'web/readme-example.html'));
    await other.locator('#out', { hasText: 'range' }).waitFor();
    const text = (await other.textContent('#out')) ?? '';
    expect(text).toContain('vmcoreinfo note at 0000a000 size 0040');
    expect(text).toMatch(/kdump-flattened: \d+ bytes, 2 range\(s\)$/); // RAM, and the firmware below 4 GiB
    expect(errors).toEqual([]);
    await other.close();
  });

  it('a firmware image of a bad size is one line of error; a good one is mapped', async () => {
    const images = join(work, 'images');
    mkdirSync(images, { recursive: true });
    writeFileSync(join(images, 'bad.bin'), new Uint8Array(1000));
    await page.setInputFiles('#firmware', join(images, 'bad.bin'));
    await page.waitForSelector('body[data-state="error"]');
    const error = (await page.textContent('#error')) ?? '';
    expect(error).toMatch(/\(firmware-size\)$/);
    expect(error.split('\n')).toHaveLength(1);
    writeFileSync(join(images, 'bios.bin'), new Uint8Array(65536).fill(0xf4));
    await page.setInputFiles('#firmware', join(images, 'bios.bin'));
    await page.waitForSelector('body[data-state="booted"]');
    expect(await page.textContent('#summary')).toContain('-bios bios.bin (64K');
    expect(await page.textContent('#error')).toBe('');
    // Back to the built-in firmware for the screenshot: its console, files and note on show.
    await page.click('#reset-firmware');
    await page.waitForSelector('body[data-state="booted"]');
    expect(await page.textContent('#console')).toContain('vmcoreinfo note at 0000a000 size 0040');
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-results/demo-web.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
