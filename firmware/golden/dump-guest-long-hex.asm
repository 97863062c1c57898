; dump-guest-long-hex.asm - golden dump guest image "long-hex":
; 64-bit long mode with 4-level paging; phys_base in hex (0x1000000); the note's two padding bytes are 0xEE.
;
; Build (in this folder): nasm -f bin -o dump-guest-long-hex.bin dump-guest-long-hex.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_LONG
%define NOTE_HEX
%define NOTE_PAD 0xEE

%include "dump-guest.inc"
