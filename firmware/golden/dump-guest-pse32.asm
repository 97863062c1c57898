; dump-guest-pse32.asm - golden dump guest image "pse32":
; 32-bit protected mode with paging and CR4.PSE (4 MiB and 4 KiB pages); phys_base in hex.
;
; Build (in this folder): nasm -f bin -o dump-guest-pse32.bin dump-guest-pse32.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_PSE32
%define NOTE_HEX

%include "dump-guest.inc"
