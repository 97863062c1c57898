/**
 * CPUID as QEMU 7.2 answers it under TCG for its default model, qemu64 (vendor AuthenticAMD,
 * family 15 model 107 stepping 1, basic leaves to 0xd, extended to 0x8000000a), on a machine
 * with one core and one thread per socket, so firmware sees what it sees under QEMU.
 */

import { RAX, RBX, RCX, RDX, type Cpu } from './cpu.js';

const MAX_BASIC = 0xd;
const MAX_EXTENDED = 0x8000000a;
/** "AuthenticAMD" as EBX, EDX, ECX. */
const VENDOR = [0x68747541, 0x69746e65, 0x444d4163] as const;
const VERSION = 0x00060fb1;
/** FPU DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFLUSH MMX FXSR SSE SSE2. */
const FEATURES_EDX = 0x078bfbfd;
/** SSE3, CX16, hypervisor. */
const FEATURES_ECX = 0x80002001;
/** The leaf-1 EDX bits AMD mirrors, plus SYSCALL, NX and LM. */
const EXT_FEATURES_EDX = 0x2193fbfd;
/** LAHF_LM, SVM. */
const EXT_FEATURES_ECX = 0x00000005;
const BRAND = 'QEMU Virtual CPU version 2.5+';

function brandDwords(): number[] {
  const bytes = new Uint8Array(48);
  for (let i = 0; i < BRAND.length; i++) bytes[i] = BRAND.charCodeAt(i);
  const out: number[] = [];
  for (let i = 0; i < 48; i += 4) out.push((bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  return out;
}
const BRAND_DWORDS = brandDwords();

/** [EAX, EBX, ECX, EDX] of leaf `leaf`, subleaf `sub`, on CPU `apicId`. */
export function cpuidLeaf(leaf: number, sub: number, apicId: number): [number, number, number, number] {
  let index = leaf >>> 0;
  if (index >= 0x80000000) {
    if (index > MAX_EXTENDED) index = MAX_BASIC;
  } else if (index > MAX_BASIC) {
    index = MAX_BASIC;
  }
  switch (index) {
    case 0: return [MAX_BASIC, VENDOR[0], VENDOR[2], VENDOR[1]];
    case 1: return [VERSION, ((apicId << 24) | (8 << 8)) >>> 0, FEATURES_ECX, FEATURES_EDX];
    case 5: return [0, 0, 3, 0];
    case 6: return [0, 0, 0, 0];
    case 0xb: {
      if (sub === 0) return [0, 1, 0x100, apicId];
      if (sub === 1) return [0, 1, 0x201, apicId];
      return [0, 0, sub & 0xff, apicId];
    }
    case 0x80000000: return [MAX_EXTENDED, VENDOR[0], VENDOR[2], VENDOR[1]];
    case 0x80000001: return [VERSION, 0, EXT_FEATURES_ECX, EXT_FEATURES_EDX];
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const i = (index - 0x80000002) * 4;
      return [BRAND_DWORDS[i]!, BRAND_DWORDS[i + 1]!, BRAND_DWORDS[i + 2]!, BRAND_DWORDS[i + 3]!];
    }
    case 0x80000005: return [0x01ff01ff, 0x01ff01ff, 0x40020140, 0x40020140];
    case 0x80000006: return [0, 0x42004200, 0x02008140, 0x00808140];
    case 0x80000008: return [0x00003028, 0, 0, 0];
    case 0x8000000a: return [1, 0x10, 0, 0];
    default: return [0, 0, 0, 0];
  }
}

export function cpuid(cpu: Cpu): void {
  const [a, b, c, d] = cpuidLeaf(cpu.r[RAX]! >>> 0, cpu.r[RCX]! >>> 0, cpu.index);
  cpu.set32(RAX, a);
  cpu.set32(RBX, b);
  cpu.set32(RCX, c);
  cpu.set32(RDX, d);
}
