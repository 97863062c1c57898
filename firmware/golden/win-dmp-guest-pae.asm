; win-dmp-guest-pae.asm - golden Windows-like guest image "pae": 32-bit PAE paging, PAGEDUMP header.
;
; Build (in this folder): nasm -f bin -o win-dmp-guest-pae.bin win-dmp-guest-pae.asm
; The code is in win-dmp-guest.inc (same folder), which describes the guest and its faults;
; scripts/golden/capture-win-dmp.mjs runs the image under QEMU 7.2.

%define MODE_PAE

%include "win-dmp-guest.inc"
