/**
 * QEMU 7.2's fw_cfg ABI: every constant and layout, with the names QEMU, SeaBIOS and Linux use
 * (include/standard-headers/linux/qemu_fw_cfg.h, hw/nvram/fw_cfg.c, hw/i386/fw_cfg.h), so a grep
 * for a name finds it in all of them. Masks are derived here, never retyped elsewhere.
 */

export const FW_CFG_IO_BASE = 0x510;
export const FW_CFG_CTL_SIZE = 0x02;
/** DMA register: base+4 on x86 (0x514), 8 bytes wide. */
export const FW_CFG_DMA_IO_BASE = 0x514;
export const FW_CFG_DMA_SIZE = 8;

export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MACHINE_ID = 0x06;
export const FW_CFG_KERNEL_ADDR = 0x07;
export const FW_CFG_KERNEL_SIZE = 0x08;
export const FW_CFG_KERNEL_CMDLINE = 0x09;
export const FW_CFG_INITRD_ADDR = 0x0a;
export const FW_CFG_INITRD_SIZE = 0x0b;
export const FW_CFG_BOOT_DEVICE = 0x0c;
export const FW_CFG_NUMA = 0x0d;
export const FW_CFG_BOOT_MENU = 0x0e;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_KERNEL_ENTRY = 0x10;
export const FW_CFG_KERNEL_DATA = 0x11;
export const FW_CFG_INITRD_DATA = 0x12;
export const FW_CFG_CMDLINE_ADDR = 0x13;
export const FW_CFG_CMDLINE_SIZE = 0x14;
export const FW_CFG_CMDLINE_DATA = 0x15;
export const FW_CFG_SETUP_ADDR = 0x16;
export const FW_CFG_SETUP_SIZE = 0x17;
export const FW_CFG_SETUP_DATA = 0x18;
export const FW_CFG_FILE_DIR = 0x19;
export const FW_CFG_FILE_FIRST = 0x20;
export const FW_CFG_FILE_SLOTS_MIN = 0x10;
export const FW_CFG_FILE_SLOTS_DFLT = 0x20;
/** Largest x-file-slots QEMU 7.2 accepts: the file keys must stay below the write-channel bit. */
export const FW_CFG_FILE_SLOTS_MAX = 0x3fe0;

export const FW_CFG_WRITE_CHANNEL = 0x4000;
export const FW_CFG_ARCH_LOCAL = 0x8000;
export const FW_CFG_ENTRY_MASK = ~(FW_CFG_WRITE_CHANNEL | FW_CFG_ARCH_LOCAL) & 0xffff;
export const FW_CFG_INVALID = 0xffff;

/** x86 arch-local keys (hw/i386/fw_cfg.h). */
export const FW_CFG_ACPI_TABLES = FW_CFG_ARCH_LOCAL + 0;
export const FW_CFG_SMBIOS_ENTRIES = FW_CFG_ARCH_LOCAL + 1;
export const FW_CFG_IRQ0_OVERRIDE = FW_CFG_ARCH_LOCAL + 2;
export const FW_CFG_E820_TABLE = FW_CFG_ARCH_LOCAL + 3;
export const FW_CFG_HPET = FW_CFG_ARCH_LOCAL + 4;

export const FW_CFG_MAX_FILE_PATH = 56;
export const FW_CFG_SIG_SIZE = 4;
/** Bytes of one directory entry: size u32, select u16, reserved u16, name[56]; all big-endian. */
export const FW_CFG_FILE_ENTRY_SIZE = 8 + FW_CFG_MAX_FILE_PATH;

export const FW_CFG_VERSION = 0x01;
export const FW_CFG_VERSION_DMA = 0x02;

/** "QEMU CFG", read back big-endian from the DMA register. */
export const FW_CFG_DMA_SIGNATURE = 0x51454d5520434647n;
export const FW_CFG_DMA_SIGNATURE_BYTES: readonly number[] = [0x51, 0x45, 0x4d, 0x55, 0x20, 0x43, 0x46, 0x47];

export const FW_CFG_DMA_CTL_ERROR = 0x01;
export const FW_CFG_DMA_CTL_READ = 0x02;
export const FW_CFG_DMA_CTL_SKIP = 0x04;
export const FW_CFG_DMA_CTL_SELECT = 0x08;
export const FW_CFG_DMA_CTL_WRITE = 0x10;
/** FWCfgDmaAccess: control u32, length u32, address u64, all big-endian. */
export const FW_CFG_DMA_ACCESS_SIZE = 16;

export const FW_CFG_VMCOREINFO_FILENAME = 'etc/vmcoreinfo';
export const FW_CFG_VMCOREINFO_FORMAT_NONE = 0x0;
export const FW_CFG_VMCOREINFO_FORMAT_ELF = 0x1;

/** e820 entry types (hw/i386/e820_memory_layout.h). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_UNUSABLE = 5;
/** Packed {u64 address, u64 length, u32 type}, little-endian. */
export const E820_ENTRY_SIZE = 20;
