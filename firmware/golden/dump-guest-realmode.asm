; dump-guest-realmode.asm - golden dump guest image "realmode":
; back in 16-bit real mode (no paging) after registering the note in protected mode; phys_base in decimal.
;
; Build: nasm -f bin -o dump-guest-realmode.bin dump-guest-realmode.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_REAL
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
