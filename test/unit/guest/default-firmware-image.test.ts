/** The embedded built-in firmware is firmware/cpu/default.bin, byte for byte. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DEFAULT_FIRMWARE_SHA256, defaultFirmwareImage } from '../../../src/guest/default-firmware-image.js';

it('matches firmware/cpu/default.bin (regenerate with node scripts/embed-firmware.mjs)', () => {
  const file = readFileSync(new URL('../../../firmware/cpu/default.bin', import.meta.url));
  expect(Buffer.from(defaultFirmwareImage()).equals(file)).toBe(true);
  expect(createHash('sha256').update(file).digest('hex')).toBe(DEFAULT_FIRMWARE_SHA256);
});
