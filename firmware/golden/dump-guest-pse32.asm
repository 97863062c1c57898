; dump-guest-pse32.asm - golden dump guest image "pse32":
; 32-bit protected mode with paging and CR4.PSE (4 MiB and 4 KiB pages); phys_base in hex.
;
; Build: nasm -f bin -o dump-guest-pse32.bin dump-guest-pse32.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_PSE32
%define NOTE_HEX

; include dump-guest.inc from this file's own folder (nasm searches only the
; current directory and -I paths)
%strlen DG_LEN __?FILE?__
%assign DG_CUT DG_LEN
%rep DG_LEN
  %substr DG_CH __?FILE?__ DG_CUT, 1
  %ifidn DG_CH, '/'
    %exitrep
  %endif
  %assign DG_CUT DG_CUT - 1
%endrep
%substr DG_DIR __?FILE?__ 1, DG_CUT
%strcat DG_BODY DG_DIR, 'dump-guest.inc'
%include DG_BODY
