; dump-guest-realmode.asm - golden dump guest image "realmode":
; back in 16-bit real mode (no paging) after registering the note in protected mode; phys_base in decimal.
;
; Build (in this folder): nasm -f bin -o dump-guest-realmode.bin dump-guest-realmode.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_REAL
%define NOTE_DEC

%include "dump-guest.inc"
