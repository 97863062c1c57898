; dump-guest-nonote.asm - golden dump guest image "nonote":
; 64-bit long mode like dump-guest-long, but no VMCOREINFO note is registered.
;
; Build (in this folder): nasm -f bin -o dump-guest-nonote.bin dump-guest-nonote.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_LONG

%include "dump-guest.inc"
