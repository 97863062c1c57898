; dump-guest-long.asm - golden dump guest image "long":
; 64-bit long mode with 4-level paging; VMCOREINFO phys_base in decimal (16777216), like Linux.
;
; Build (in this folder): nasm -f bin -o dump-guest-long.bin dump-guest-long.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_LONG
%define NOTE_DEC

%include "dump-guest.inc"
