; dump-guest-pae32.asm - golden dump guest image "pae32":
; 32-bit protected mode with PAE paging (2 MiB and 4 KiB pages, NX); phys_base in decimal.
;
; Build: nasm -f bin -o dump-guest-pae32.bin dump-guest-pae32.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_PAE32
%define NOTE_DEC

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
