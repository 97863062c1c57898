; win-dmp-guest-nopae.asm - golden Windows-like guest image "nopae": 32-bit paging without PAE (4 MiB PSE pages), PAGEDUMP header.
;
; Build (in this folder): nasm -f bin -o win-dmp-guest-nopae.bin win-dmp-guest-nopae.asm
; The code is in win-dmp-guest.inc (same folder), which describes the guest and its faults;
; scripts/golden/capture-win-dmp.mjs runs the image under QEMU 7.2.

%define MODE_NOPAE

%include "win-dmp-guest.inc"
