; dump-guest-pae32.asm - golden dump guest image "pae32":
; 32-bit protected mode with PAE paging (2 MiB and 4 KiB pages, NX); phys_base in decimal.
;
; Build (in this folder): nasm -f bin -o dump-guest-pae32.bin dump-guest-pae32.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_PAE32
%define NOTE_DEC

%include "dump-guest.inc"
