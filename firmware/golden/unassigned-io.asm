; unassigned-io: 64 KiB -bios probe of how QEMU 7.2 answers IN instructions at ports that no device
; owns (or that start at one and run past a device's end). It prints each result as 8 hex digits and
; a space to the debug console (port 0xe9), then "E", then halts. Captured output:
; test/fixtures/qemu-7.2/unassigned-io.txt (scripts/golden/capture-unassigned-io.sh).
; Build: nasm -f bin -o unassigned-io.bin unassigned-io.asm
bits 16
org 0
%macro probe 2            ; size (1,2,4), port
  mov dx, %2
  %if %1 == 1
    in al, dx
    movzx eax, al
  %elif %1 == 2
    in ax, dx
    movzx eax, ax
  %else
    in eax, dx
  %endif
  call hex32
%endmacro
start:
  probe 2, 0x513
  probe 4, 0x512
  probe 2, 0x512
  probe 4, 0x50e
  probe 2, 0x50f
  probe 1, 0x513
  probe 4, 0x51e
  probe 4, 0x51c
  probe 2, 0x5ff
  probe 4, 0x5fd
  mov al, 'E'
  out 0xe9, al
  cli
  hlt
hex32:                    ; print eax as 8 hex digits + space
  mov cx, 8
.l: rol eax, 4
  push eax
  and al, 0x0f
  add al, '0'
  cmp al, '9'
  jbe .o
  add al, 7
.o: out 0xe9, al
  pop eax
  loop .l
  mov al, ' '
  out 0xe9, al
  ret
times 0xfff0-($-$$) db 0xf4
  jmp 0xf000:start
times 0x10000-($-$$) db 0xf4
