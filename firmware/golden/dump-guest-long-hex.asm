; dump-guest-long-hex.asm - golden dump guest image "long-hex":
; 64-bit long mode with 4-level paging; phys_base in hex (0x1000000); the note's two padding bytes are 0xEE.
;
; Build: nasm -f bin -o dump-guest-long-hex.bin dump-guest-long-hex.asm
; The code is in dump-guest.inc (same folder), which describes every image;
; scripts/golden/capture-dumps.mjs runs the images under QEMU 7.2.

%define MODE_LONG
%define NOTE_HEX
%define NOTE_PAD 0xEE

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
