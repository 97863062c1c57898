; win-dmp-guest-x64.asm - golden Windows-like guest image "x64": 64-bit long mode, 4-level paging, PAGEDU64 header.
;
; Build (in this folder): nasm -f bin -o win-dmp-guest-x64.bin win-dmp-guest-x64.asm
; The code is in win-dmp-guest.inc (same folder), which describes the guest and its faults;
; scripts/golden/capture-win-dmp.mjs runs the image under QEMU 7.2.

%define MODE_LONG

%include "win-dmp-guest.inc"
