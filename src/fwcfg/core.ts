/**
 * The fw_cfg device core, as QEMU 7.2's hw/nvram/fw_cfg.c models it: two item tables (generic and
 * arch-local), the sorted file directory, and one selector/cursor shared by every front end (I/O
 * ports, DMA, MMIO). No ports live here; front ends call select/readByte and the DMA engine.
 *
 * Items reference their owner's bytes (not copies), so an owner such as vmcoreinfo changes what the
 * guest reads by changing its own buffer, exactly as in QEMU. Host misuse throws FwCfgError before
 * anything changes; guest input never throws.
 */

import type { Diagnostics } from '../core/diagnostics.js';
import { FwCfgError, StateError } from '../core/errors.js';
import { asciiBytes, toHex, writeU16be, writeU32be } from '../core/bytes.js';
import { expectState, stateHex, stateNumber, type Snapshottable, type VersionedState } from '../core/state.js';
import {
  FW_CFG_ARCH_LOCAL,
  FW_CFG_ENTRY_MASK,
  FW_CFG_FILE_DIR,
  FW_CFG_FILE_ENTRY_SIZE,
  FW_CFG_FILE_FIRST,
  FW_CFG_FILE_SLOTS_DFLT,
  FW_CFG_FILE_SLOTS_MAX,
  FW_CFG_FILE_SLOTS_MIN,
  FW_CFG_ID,
  FW_CFG_INVALID,
  FW_CFG_MAX_FILE_PATH,
  FW_CFG_SIGNATURE,
  FW_CFG_VERSION,
  FW_CFG_VERSION_DMA,
} from './abi.js';

/** Runs when the guest selects the item (port or DMA), before any DMA data moves. */
export type SelectCallback = (key: number) => void;
/** Runs after a DMA WRITE was stored: `offset` is where it started, `length` how many bytes. */
export type WriteCallback = (offset: number, length: number) => void;

export interface ItemOptions {
  /** Default true. Only DMA WRITE can change an item, and only within its length. */
  readonly readOnly?: boolean;
  readonly onSelect?: SelectCallback | undefined;
  readonly onWrite?: WriteCallback | undefined;
}

/** A file as the directory lists it. */
export interface FwCfgFileInfo {
  readonly name: string;
  readonly key: number;
  readonly size: number;
  readonly readOnly: boolean;
}

export interface FwCfgItem {
  /** The owner's bytes; the guest reads and DMA-writes them in place. */
  readonly data: Uint8Array;
  readonly allowWrite: boolean;
  readonly onSelect: SelectCallback | undefined;
  readonly onWrite: WriteCallback | undefined;
}

export interface FwCfgOptions {
  /** QEMU's x-file-slots: 0x10..0x3fe0, default 0x20. */
  readonly fileSlots?: number;
  /** QEMU's dma_enabled: default true (always true on 7.2 pc/q35). */
  readonly dma?: boolean;
}

export interface FwCfgState extends VersionedState {
  readonly v: 1;
  readonly curKey: number;
  readonly curOffset: number;
  readonly dmaAddressHigh: number;
  readonly dmaAddressLow: number;
  /** Contents of guest-writable files, by name (read-only items are configuration, not state). */
  readonly writableFiles: Readonly<Record<string, string>>;
}

interface FileSlot {
  readonly name: string;
  readonly nameBytes: Uint8Array;
  item: FwCfgItem;
}

const MAX_ITEM_BYTES = 0xfffffffe;

export class FwCfgCore implements Snapshottable<FwCfgState> {
  readonly fileSlots: number;
  readonly dmaEnabled: boolean;
  readonly diagnostics: Diagnostics;
  /** Selected key as the guest wrote it (bit 14 kept), or FW_CFG_INVALID. */
  curKey = FW_CFG_INVALID;
  /** Byte offset into the selected item; shared by port reads and DMA. */
  curOffset = 0;
  /** The selected item if it has data, for the hot read path. */
  curItem: FwCfgItem | undefined;
  /** DMA register halves as latched by the guest (bswapped from its OUTs). */
  dmaAddressHigh = 0;
  dmaAddressLow = 0;

  readonly #tables: [(FwCfgItem | undefined)[], (FwCfgItem | undefined)[]];
  readonly #files: FileSlot[] = [];
  readonly #directory: Uint8Array;

  /** @throws FwCfgError 'invalid-slots' for a slot count QEMU 7.2 would refuse. */
  constructor(diagnostics: Diagnostics, options: FwCfgOptions = {}) {
    const slots = options.fileSlots ?? FW_CFG_FILE_SLOTS_DFLT;
    if (!Number.isInteger(slots) || slots < FW_CFG_FILE_SLOTS_MIN || slots > FW_CFG_FILE_SLOTS_MAX) {
      throw new FwCfgError('invalid-slots', `fw_cfg file slots ${String(slots)} must be in 0x10..0x3fe0`);
    }
    this.fileSlots = slots;
    this.dmaEnabled = options.dma ?? true;
    this.diagnostics = diagnostics;
    const entries = FW_CFG_FILE_FIRST + slots;
    this.#tables = [new Array<FwCfgItem | undefined>(entries).fill(undefined), new Array<FwCfgItem | undefined>(entries).fill(undefined)];
    this.#directory = new Uint8Array(4 + FW_CFG_FILE_ENTRY_SIZE * slots);
    // What every fw_cfg realize adds first, in QEMU's order.
    this.addItem(FW_CFG_SIGNATURE, asciiBytes('QEMU'));
    this.addItem(FW_CFG_ID, new Uint8Array([FW_CFG_VERSION | (this.dmaEnabled ? FW_CFG_VERSION_DMA : 0), 0, 0, 0]));
    this.#tables[0][FW_CFG_FILE_DIR] = { data: this.#directory, allowWrite: false, onSelect: undefined, onWrite: undefined };
    this.reset();
  }

  /** Number of keys in each table: 0x20 standard keys plus the file slots. */
  get entryCount(): number {
    return FW_CFG_FILE_FIRST + this.fileSlots;
  }

  // ---- guest side -------------------------------------------------------------------------

  /** QEMU's fw_cfg_select: offset to 0 always; invalid keys select nothing and run no callback. */
  select(key: number): void {
    this.curOffset = 0;
    const index = key & FW_CFG_ENTRY_MASK;
    if (index >= this.entryCount) {
      this.curKey = FW_CFG_INVALID;
      this.curItem = undefined;
      this.diagnostics.report('fwcfg-invalid-key', () => `select 0x${key.toString(16)}`);
      return;
    }
    this.curKey = key & 0xffff;
    const item = this.#tables[key & FW_CFG_ARCH_LOCAL ? 1 : 0][index];
    this.curItem = item;
    if (item?.onSelect !== undefined) this.invoke(() => item.onSelect?.(this.curKey));
  }

  /** One data-port byte: the next item byte, or 0 without advancing past the end. */
  readByte(): number {
    const item = this.curItem;
    if (item !== undefined && this.curOffset < item.data.length) {
      return item.data[this.curOffset++] ?? 0;
    }
    return 0;
  }

  /** Runs a host callback from a guest access; a throwing callback is reported, never rethrown. */
  invoke(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.diagnostics.report('fwcfg-callback-threw', () => String(error));
    }
  }

  // ---- host side --------------------------------------------------------------------------

  /**
   * Adds a numeric item (below 0x20, or 0x8000+ for arch-local keys below 0x8020).
   * @throws FwCfgError 'invalid-key', 'key-in-use', 'item-too-large'
   */
  addItem(key: number, data: Uint8Array, options: ItemOptions = {}): void {
    const [table, index] = this.#numericSlot(key);
    if (table[index] !== undefined) throw new FwCfgError('key-in-use', `fw_cfg key 0x${key.toString(16)} is already in use`);
    checkSize(data, `key 0x${key.toString(16)}`);
    table[index] = makeItem(data, options);
  }

  /**
   * Replaces a numeric item's bytes; like QEMU's fw_cfg_modify_*, it becomes read-only unless
   * `options.readOnly` is false. Callbacks are kept unless new ones are given.
   * @throws FwCfgError 'invalid-key', 'item-too-large'
   */
  modifyItem(key: number, data: Uint8Array, options: ItemOptions = {}): void {
    const [table, index] = this.#numericSlot(key);
    checkSize(data, `key 0x${key.toString(16)}`);
    table[index] = makeItem(data, { onSelect: table[index]?.onSelect, onWrite: table[index]?.onWrite, ...options });
    this.#refreshCurrent();
  }

  /**
   * Adds a file in sorted position; every file after it moves up one key, as in QEMU.
   * @returns the file's key at the time it was added.
   * @throws FwCfgError 'invalid-name', 'name-too-long', 'duplicate-file', 'no-free-slot', 'item-too-large'
   */
  addFile(name: string, data: Uint8Array, options: ItemOptions = {}): number {
    const nameBytes = checkName(name);
    if (this.#files.some((f) => f.name === name)) throw new FwCfgError('duplicate-file', `duplicate fw_cfg file "${name}"`);
    if (this.#files.length >= this.fileSlots) {
      throw new FwCfgError('no-free-slot', `no free fw_cfg file slot for "${name}" (all ${this.fileSlots} in use)`);
    }
    checkSize(data, `file "${name}"`);
    let index = this.#files.findIndex((f) => compareBytes(f.nameBytes, nameBytes) > 0);
    if (index === -1) index = this.#files.length;
    this.#files.splice(index, 0, { name, nameBytes, item: makeItem(data, options) });
    this.#rebuildFiles();
    return FW_CFG_FILE_FIRST + index;
  }

  /**
   * Replaces a file's bytes, keeping its key. Like QEMU's fw_cfg_modify_file the file becomes
   * read-only unless `options.readOnly` is false; unlike 7.2, its callbacks keep working.
   * @throws FwCfgError 'unknown-file', 'item-too-large'
   */
  modifyFile(name: string, data: Uint8Array, options: ItemOptions = {}): number {
    const index = this.#files.findIndex((f) => f.name === name);
    const slot = this.#files[index];
    if (slot === undefined) throw new FwCfgError('unknown-file', `no fw_cfg file "${name}"`);
    checkSize(data, `file "${name}"`);
    slot.item = makeItem(data, { onSelect: slot.item.onSelect, onWrite: slot.item.onWrite, ...options });
    this.#rebuildFiles();
    return FW_CFG_FILE_FIRST + index;
  }

  /** QEMU's modify-or-add, used by reset handlers that regenerate a file. */
  setFile(name: string, data: Uint8Array, options: ItemOptions = {}): number {
    return this.hasFile(name) ? this.modifyFile(name, data, options) : this.addFile(name, data, options);
  }

  hasFile(name: string): boolean {
    return this.#files.some((f) => f.name === name);
  }

  file(name: string): FwCfgFileInfo | undefined {
    const index = this.#files.findIndex((f) => f.name === name);
    const slot = this.#files[index];
    return slot === undefined ? undefined : fileInfo(slot, index);
  }

  files(): FwCfgFileInfo[] {
    return this.#files.map(fileInfo);
  }

  /** The item bytes at `key` as the guest would read them (a copy), or undefined if none. */
  readItem(key: number): Uint8Array | undefined {
    const index = key & FW_CFG_ENTRY_MASK;
    if (index >= this.entryCount) return undefined;
    return this.#tables[key & FW_CFG_ARCH_LOCAL ? 1 : 0][index]?.data.slice();
  }

  /** A copy of a file's bytes. @throws FwCfgError 'unknown-file' */
  readFile(name: string): Uint8Array {
    const slot = this.#files.find((f) => f.name === name);
    if (slot === undefined) throw new FwCfgError('unknown-file', `no fw_cfg file "${name}"`);
    return slot.item.data.slice();
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Device reset: selects the signature. The DMA address survives, as in QEMU 7.2. */
  reset(): void {
    this.select(FW_CFG_SIGNATURE);
  }

  saveState(): FwCfgState {
    const writableFiles: Record<string, string> = {};
    for (const f of this.#files) if (f.item.allowWrite) writableFiles[f.name] = toHex(f.item.data);
    return {
      v: 1,
      curKey: this.curKey,
      curOffset: this.curOffset,
      dmaAddressHigh: this.dmaAddressHigh,
      dmaAddressLow: this.dmaAddressLow,
      writableFiles,
    };
  }

  /** @throws StateError 'bad-state-version' | 'bad-state'; nothing changes when it throws. */
  loadState(state: FwCfgState): void {
    expectState('fw_cfg', state, 1);
    const curKey = stateNumber('fw_cfg', state, 'curKey', 0xffff);
    const curOffset = stateNumber('fw_cfg', state, 'curOffset', 0xffffffff);
    const high = stateNumber('fw_cfg', state, 'dmaAddressHigh', 0xffffffff);
    const low = stateNumber('fw_cfg', state, 'dmaAddressLow', 0xffffffff);
    const files = state.writableFiles as unknown;
    if (typeof files !== 'object' || files === null) throw badState('writableFiles is not an object');
    const restores: [FileSlot, Uint8Array][] = [];
    for (const [name, hex] of Object.entries(files as Record<string, unknown>)) {
      const slot = this.#files.find((f) => f.name === name);
      if (slot?.item.allowWrite !== true) throw badState(`"${name}" is not a writable file of this machine`);
      restores.push([slot, stateHex('fw_cfg', { [name]: hex }, name, slot.item.data.length)]);
    }
    for (const [slot, bytes] of restores) slot.item.data.set(bytes);
    this.curKey = curKey;
    const index = curKey & FW_CFG_ENTRY_MASK;
    this.curItem = curKey === FW_CFG_INVALID || index >= this.entryCount ? undefined : this.#tables[curKey & FW_CFG_ARCH_LOCAL ? 1 : 0][index];
    this.curOffset = curOffset;
    this.dmaAddressHigh = high;
    this.dmaAddressLow = low;
  }

  // ---- internals --------------------------------------------------------------------------

  #numericSlot(key: number): [(FwCfgItem | undefined)[], number] {
    const index = key & FW_CFG_ENTRY_MASK;
    if (!Number.isInteger(key) || key < 0 || key > 0xffff || (key & 0x4000) !== 0 || index >= FW_CFG_FILE_FIRST || index === FW_CFG_FILE_DIR) {
      throw new FwCfgError('invalid-key', `fw_cfg key ${String(key)} is not a numeric item key (0x00-0x1f or 0x8000-0x801f, not 0x19)`);
    }
    return [this.#tables[key & FW_CFG_ARCH_LOCAL ? 1 : 0], index];
  }

  /** Rewrites the file keys 0x20+i and the directory after an insert or a size change. */
  #rebuildFiles(): void {
    const table = this.#tables[0];
    const dir = this.#directory;
    dir.fill(0);
    writeU32be(dir, 0, this.#files.length);
    for (let i = 0; i < this.fileSlots; i++) {
      const slot = this.#files[i];
      table[FW_CFG_FILE_FIRST + i] = slot?.item;
      if (slot === undefined) continue;
      const at = 4 + i * FW_CFG_FILE_ENTRY_SIZE;
      writeU32be(dir, at, slot.item.data.length);
      writeU16be(dir, at + 4, FW_CFG_FILE_FIRST + i);
      dir.set(slot.nameBytes, at + 8);
    }
    this.#refreshCurrent();
  }

  /** Keeps the hot-path item pointer in step when the selected key's item changes underneath. */
  #refreshCurrent(): void {
    const index = this.curKey & FW_CFG_ENTRY_MASK;
    if (this.curKey !== FW_CFG_INVALID && index < this.entryCount) {
      this.curItem = this.#tables[this.curKey & FW_CFG_ARCH_LOCAL ? 1 : 0][index];
    }
  }
}

function makeItem(data: Uint8Array, options: ItemOptions): FwCfgItem {
  return { data, allowWrite: options.readOnly === false, onSelect: options.onSelect, onWrite: options.onWrite };
}

function fileInfo(slot: FileSlot, index: number): FwCfgFileInfo {
  return { name: slot.name, key: FW_CFG_FILE_FIRST + index, size: slot.item.data.length, readOnly: !slot.item.allowWrite };
}

function checkName(name: string): Uint8Array {
  const bytes = asciiBytes(name);
  if (bytes.length === 0 || bytes.includes(0)) throw new FwCfgError('invalid-name', `fw_cfg file name ${JSON.stringify(name)} is empty or contains NUL`);
  if (bytes.length >= FW_CFG_MAX_FILE_PATH) {
    throw new FwCfgError('name-too-long', `fw_cfg file name "${name}" is ${bytes.length} bytes; at most ${FW_CFG_MAX_FILE_PATH - 1} fit`);
  }
  return bytes;
}

function checkSize(data: Uint8Array, what: string): void {
  if (data.length > MAX_ITEM_BYTES) throw new FwCfgError('item-too-large', `fw_cfg ${what} is ${data.length} bytes; the limit is ${MAX_ITEM_BYTES}`);
}

/** strcmp order on the name bytes, as QEMU sorts the directory. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function badState(why: string): StateError {
  return new StateError('bad-state', `fw_cfg state: ${why}`);
}
