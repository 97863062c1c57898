/**
 * Guest-physical layout of QEMU 7.2's `pc` (i440FX) and `q35` machines for a RAM size and
 * firmware image, as QEMU shows it at reset (checked with `info mtree -f` and the PT_LOADs of
 * QEMU's own dumps for 32 MiB, 2816 MiB, 3 GiB, 3.5 GiB and 5 GiB guests):
 *
 *   0x00000000 - 0x000bffff   RAM (pc.ram)
 *   0x000c0000 - 0x000dffff   pc.rom: 128 KiB option-ROM area, read-only, zero
 *   0x000e0000 - 1M-isa-1     RAM (pc.ram at the same offset)
 *   1M-isa     - 0x000fffff   isa-bios: the last min(firmware size, 128 KiB) of the firmware
 *   0x00100000 - low-1        RAM
 *   4G-fwsize  - 4G-1         pc.bios: the firmware image, read-only
 *   above4gStart ...          RAM above 4 GiB (pc.ram from offset `low`)
 *
 * Low RAM: pc keeps all RAM below 4 GiB under 3.5 GiB, else 3 GiB (gigabyte alignment); q35 under
 * 2.75 GiB, else 2 GiB. RAM above 4 GiB moves to 1 TiB when it would reach AMD's HyperTransport
 * hole (qemu64 is an AMD-vendor CPU). PCI holes and MMIO devices are not guest memory and are not
 * modelled here.
 */

import { ConfigError } from './errors.js';

export type MachineType = 'pc' | 'q35';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** AMD HyperTransport reserved range below 1 TiB (hw/i386/pc.c AMD_HT_START / AMD_HT_SIZE). */
export const AMD_HT_START = 0xfd_0000_0000;
export const AMD_HT_SIZE = 0x3_0000_0000;
export const AMD_ABOVE_1TB_START = TiB;
/** Default 64-bit PCI hole size of both host bridges (1 << 35), part of the relocation test. */
export const PCI_HOLE64_SIZE_DEFAULT = 2 ** 35;

export const PC_ROM_MIN_VGA = 0xc0000;
export const PC_ROM_SIZE = 0x20000;
export const ISA_BIOS_MAX_SIZE = 128 * KiB;
export const FOUR_GIB = 4 * GiB;

/** One piece of the layout, before backing stores exist. */
export interface LayoutRegion {
  readonly name: 'ram-below-4g' | 'ram-above-4g' | 'pc.rom' | 'isa-bios' | 'pc.bios';
  readonly gpa: number;
  readonly sizeBytes: number;
  readonly kind: 'ram' | 'rom';
  /** Which store backs it, and where in that store the region starts. */
  readonly backing: 'ram' | 'option-rom' | 'firmware';
  readonly backingOffset: number;
}

export interface MemoryLayout {
  readonly machine: MachineType;
  readonly ramSize: number;
  readonly belowFourGiB: number;
  readonly aboveFourGiB: number;
  readonly aboveFourGiBStart: number;
  readonly firmwareSize: number;
  readonly regions: readonly LayoutRegion[];
}

/** Largest RAM accepted: well past anything a JavaScript host can allocate, below 2^53 maths. */
export const MAX_RAM_SIZE = 16 * TiB;
export const FIRMWARE_ALIGN = 64 * KiB;
export const FIRMWARE_MAX_SIZE = 16 * MiB;

/**
 * Lays out a machine.
 * @throws ConfigError 'memory-size' (not a multiple of 4 KiB, under 1 MiB, or over 16 TiB),
 *   'firmware-size' (not a non-zero multiple of 64 KiB up to 16 MiB, QEMU's -bios rule)
 */
export function layoutMemory(machine: MachineType, ramSize: number, firmwareSize: number | undefined): MemoryLayout {
  if (!Number.isSafeInteger(ramSize) || ramSize < MiB || ramSize % (4 * KiB) !== 0 || ramSize > MAX_RAM_SIZE) {
    throw new ConfigError('memory-size', `memory size ${String(ramSize)} must be a multiple of 4 KiB from 1 MiB to 16 TiB`);
  }
  if (firmwareSize !== undefined && (firmwareSize <= 0 || firmwareSize % FIRMWARE_ALIGN !== 0 || firmwareSize > FIRMWARE_MAX_SIZE)) {
    throw new ConfigError('firmware-size', `firmware image of ${firmwareSize} bytes: its size must be a non-zero multiple of 64 KiB, at most 16 MiB (as QEMU's -bios requires)`);
  }
  const { below, above } = splitRam(machine, ramSize);
  const aboveStart = relocatesAboveFourGiB(above) ? AMD_ABOVE_1TB_START : FOUR_GIB;
  const isaSize = firmwareSize === undefined ? 0 : Math.min(firmwareSize, ISA_BIOS_MAX_SIZE);
  const isaStart = MiB - isaSize;

  const regions: LayoutRegion[] = [];
  const ram = (gpa: number, end: number): void => {
    if (end > gpa) regions.push({ name: 'ram-below-4g', gpa, sizeBytes: end - gpa, kind: 'ram', backing: 'ram', backingOffset: gpa });
  };
  ram(0, Math.min(below, PC_ROM_MIN_VGA));
  regions.push({ name: 'pc.rom', gpa: PC_ROM_MIN_VGA, sizeBytes: PC_ROM_SIZE, kind: 'rom', backing: 'option-rom', backingOffset: 0 });
  ram(PC_ROM_MIN_VGA + PC_ROM_SIZE, Math.min(below, isaStart));
  if (firmwareSize !== undefined) {
    regions.push({ name: 'isa-bios', gpa: isaStart, sizeBytes: isaSize, kind: 'rom', backing: 'firmware', backingOffset: firmwareSize - isaSize });
  }
  ram(MiB, below);
  if (firmwareSize !== undefined) {
    regions.push({ name: 'pc.bios', gpa: FOUR_GIB - firmwareSize, sizeBytes: firmwareSize, kind: 'rom', backing: 'firmware', backingOffset: 0 });
  }
  if (above > 0) {
    regions.push({ name: 'ram-above-4g', gpa: aboveStart, sizeBytes: above, kind: 'ram', backing: 'ram', backingOffset: below });
  }
  regions.sort((a, b) => a.gpa - b.gpa);
  return { machine, ramSize, belowFourGiB: below, aboveFourGiB: above, aboveFourGiBStart: aboveStart, firmwareSize: firmwareSize ?? 0, regions };
}

function splitRam(machine: MachineType, ramSize: number): { below: number; above: number } {
  // pc: max-ram-below-4g defaults to 3.5 GiB and, once RAM reaches it, gigabyte alignment cuts it
  // to 3 GiB. q35: 2.75 GiB, cut to 2 GiB once RAM reaches 2.75 GiB.
  const lowmem = machine === 'pc'
    ? (ramSize >= 0xe000_0000 ? 0xc000_0000 : 0xe000_0000)
    : (ramSize >= 0xb000_0000 ? 0x8000_0000 : 0xb000_0000);
  return ramSize >= lowmem ? { below: lowmem, above: ramSize - lowmem } : { below: ramSize, above: 0 };
}

/**
 * QEMU 7.2 relocates RAM above 4 GiB to 1 TiB when the highest address the machine may use (RAM
 * above 4 GiB, then the 64-bit PCI hole after it, aligned to 1 GiB) reaches the HT hole.
 */
function relocatesAboveFourGiB(above: number): boolean {
  const holeStart = Math.ceil((FOUR_GIB + above) / GiB) * GiB;
  return holeStart + PCI_HOLE64_SIZE_DEFAULT - 1 >= AMD_HT_START;
}
