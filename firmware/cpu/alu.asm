; =============================================================================
; alu.asm - the integer instruction families, value by value, with exact flags.
;
; 32-bit protected mode (flat), then 64-bit long mode. Each test is a one-line
; stub ("mov eax, a; mov ebx, b; mov ecx, b; mov edx, d; flags in; OP;
; flags and registers out") run by a driver over a table of operand values:
;
;   == <name>                      header
;   <a> <b> <r> <d> <f> <r> <d> <f>  one line per operand pair: the result
;                                  register (eax / rax, all of it: 8- and
;                                  16-bit forms must keep the upper bits),
;                                  edx / rdx, and the flags, for two runs:
;                                  flags in = 0x002 (d = 0), then 0x8D7 (all
;                                  six arithmetic flags set; d = b >> 1)
;
; Flags are masked to the ones the instruction defines (for shifts and
; rotates the mask depends on the count: see mask_for_count); "de" stands for
; a #DE (the exception handler's own line precedes it). Values of a and b
; carry patterns in their upper bits so that partial-register writes show.
;
; Families: ADD ADC SUB SBB CMP AND OR XOR TEST NEG NOT INC DEC, SHL SHR SAR
; ROL ROR RCL RCR SHLD SHRD, MUL IMUL (1-, 2-, 3-operand) DIV IDIV with #DE,
; BT BTS BTR BTC (register and memory bit strings) BSF BSR, SETcc CMOVcc
; Jcc over flag patterns, DAA DAS AAA AAS AAM AAD, MOVSX MOVZX MOVSXD XCHG XADD
; CMPXCHG BSWAP CBW CWDE CDQE CWD CDQ CQO LEA (16/32/64-bit addressing, SIB),
; LAHF SAHF, segment-override and 66/67 prefixes; in 64-bit mode REX.W, r8-r15,
; SPL/BPL/SIL/DIL, RIP-relative operands.
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/alu.bin firmware/cpu/alu.asm
; =============================================================================

%include "cpu.inc"

; driver variables
in_a            equ DATA + 0x00         ; qword
in_b            equ DATA + 0x08
in_f            equ DATA + 0x10
in_d            equ DATA + 0x18
out_r           equ DATA + 0x20
out_r2          equ DATA + 0x28
out_f           equ DATA + 0x30
out_de          equ DATA + 0x34
t_stub          equ DATA + 0x38         ; qword
t_size          equ DATA + 0x40         ; operand size in bits
t_mask          equ DATA + 0x44         ; defined flags (kind 0)
t_kind          equ DATA + 0x48         ; 0 fixed mask, 1 shift, 2 rotate
t_avals         equ DATA + 0x50         ; qword: value table for a
t_na            equ DATA + 0x58
t_bvals         equ DATA + 0x60         ; qword: value table for b
t_nb            equ DATA + 0x68
t_digits        equ DATA + 0x6C         ; digits to print a and b with
BITBUF          equ DATA + 0x100        ; bit-string buffer (64 bytes around it)
SCRATCH         equ DATA + 0x200

FIN0            equ 0x002
FIN1            equ 0x8D7
ALL6            equ 0x8D5               ; OF SF ZF AF PF CF
LOGIC           equ 0x8C5               ; OF SF ZF PF CF (AF undefined)
MULF            equ 0x801               ; OF CF

; ---------------------------------------------------------------- 32-bit stubs
; STUB32 name, {instruction}[, {instruction}]: a stub as described above
%macro STUB32 2-3
%1:
        mov     eax, [in_a]
        mov     ebx, [in_b]
        mov     ecx, ebx
        mov     edx, [in_d]
        push    dword [in_f]
        popfd
        %2
        %3
        pushfd
        pop     dword [out_f]
        mov     [out_r], eax
        mov     [out_r2], edx
        ret
%endmacro

; RUN32 'title', stub, size, mask, kind, avals, na, bvals, nb
%macro RUN32 9
        P32     '== ', %1, 10
        mov     dword [t_stub], %2
        mov     dword [t_size], %3
        mov     dword [t_mask], %4
        mov     dword [t_kind], %5
        mov     dword [t_avals], %6
        mov     dword [t_na], %7
        mov     dword [t_bvals], %8
        mov     dword [t_nb], %9
        call    drive32
%endmacro

; ARITH32 title, size, mask, {insn}: a and b from the value table of that size
%macro ARITH32 4-5
        jmp     %%run
        STUB32  %%stub, {%4}, {%5}
%%run:
  %if %2 == 8
        RUN32   %1, %%stub, %2, %3, 0, vals8, NV8, vals8, NV8
  %elif %2 == 16
        RUN32   %1, %%stub, %2, %3, 0, vals16, NV16, vals16, NV16
  %else
        RUN32   %1, %%stub, %2, %3, 0, vals32, NV32, vals32, NV32
  %endif
%endmacro

; UNARY32 title, size, mask, {insn}: b is irrelevant (one value)
%macro UNARY32 4-5
        jmp     %%run
        STUB32  %%stub, {%4}, {%5}
%%run:
  %if %2 == 8
        RUN32   %1, %%stub, %2, %3, 0, vals8, NV8, vals8, 1
  %elif %2 == 16
        RUN32   %1, %%stub, %2, %3, 0, vals16, NV16, vals16, 1
  %else
        RUN32   %1, %%stub, %2, %3, 0, vals32, NV32, vals32, 1
  %endif
%endmacro

; SHIFT32 title, size, kind, counts, ncounts, {insn}
%macro SHIFT32 6-7
        jmp     %%run
        STUB32  %%stub, {%6}, {%7}
%%run:
  %if %2 == 8
        RUN32   %1, %%stub, %2, 0, %3, vals8, NV8, %4, %5
  %elif %2 == 16
        RUN32   %1, %%stub, %2, 0, %3, vals16, NV16, %4, %5
  %else
        RUN32   %1, %%stub, %2, 0, %3, vals32, NV32, %4, %5
  %endif
%endmacro

; DIV32 title, size, {insn}[, {insn}]: like ARITH32, flags all undefined, #DE caught
%macro DIV32 3-4
        jmp     %%run
        STUB32  %%stub, {%3}, {%4}
%%run:
  %if %2 == 8
        RUN32   %1, %%stub, %2, 0, 3, vals8, NV8, vals8, NV8
  %elif %2 == 16
        RUN32   %1, %%stub, %2, 0, 3, vals16, NV16, vals16, NV16
  %else
        RUN32   %1, %%stub, %2, 0, 3, vals32, NV32, vals32, NV32
  %endif
%endmacro


; ---------------------------------------------------------------- 16-bit stubs
; STUB16 / ARITH16: as STUB32 / ARITH32 for 16-bit code (real mode), a and b
; from mix16, flags fixed-mask
%macro STUB16 2-3
%1:
        mov     eax, [in_a]
        mov     ebx, [in_b]
        mov     ecx, ebx
        mov     edx, [in_d]
        push    dword [in_f]
        popfd
        %2
        %3
        pushfd
        pop     dword [out_f]
        mov     [out_r], eax
        mov     [out_r2], edx
        ret
%endmacro
%macro ARITH16 3-4
        jmp     %%run
        STUB16  %%stub, {%3}, {%4}
%%run:  P16     '== ', %1, 10
  [warning push]
  [warning -number-overflow]
        mov     word [t_stub], %%stub - 0xF0000     ; (nasm's first pass cannot size it yet)
  [warning pop]
        mov     dword [t_mask], %2
        call    drive16
%endmacro

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'alu v1', 10
        ; BCD in real mode too (16-bit code)
        mov     ax, 0x0909
        add     al, 0x08
        aaa
        pushf
        H16     eax, 4
        pop     ax
        and     ax, 0x11
        H16     eax, 3
        mov     ax, 0x0099
        add     al, 0x01
        daa
        pushf
        H16     eax, 4
        pop     ax
        and     ax, 0xD5
        H16     eax, 3
        mov     ax, 0x0507
        aad
        H16     eax, 4
        P16     10
        ; 16-bit code: the default operand and address sizes are 16 bits, 66h
        ; and 67h select 32 (a and b from mix16, 5 x 5 pairs)
        ARITH16 'rm add16', ALL6, {add ax, bx}
        ARITH16 'rm add32 (66h)', ALL6, {add eax, ebx}
        ARITH16 'rm sub8', ALL6, {sub al, bl}
        ARITH16 'rm adc16', ALL6, {adc ax, bx}
        ARITH16 'rm sbb32 (66h)', ALL6, {sbb eax, ebx}
        ARITH16 'rm xor16', LOGIC, {xor ax, bx}
        ARITH16 'rm and32 (66h)', LOGIC, {and eax, ebx}
        ARITH16 'rm neg16', ALL6, {neg ax}
        ARITH16 'rm inc32 (66h)', ALL6, {inc eax}
        ARITH16 'rm imul16', MULF, {imul bx}
        ARITH16 'rm mul32 (66h)', MULF, {mul ebx}
        ARITH16 'rm imul32 r r imm (66h)', MULF, {imul eax, ebx, 7}
        ARITH16 'rm movzx movsx', 0, {movzx eax, bl}, {movsx dx, bh}
        ARITH16 'rm shl16 by 1', LOGIC, {shl ax, 1}
        ARITH16 'rm lea 16/32-bit addressing', 0, {lea ax, [bx + si + 0x1234]}, {lea edx, [ebx + eax * 2 + 0x10]}
        P16     '== rm push/pop sizes', 10
        mov     dx, sp
        push    word 0x1234
        push    dword 0x56789ABC
        push    ds
        o32 push es
        sub     dx, sp
        H16     edx, 4
        pop     eax
        pop     ebx
        pop     ecx
        H16     eax, 8
        H16     ebx, 8
        H16     ecx, 8
        P16     10
        cli
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword SEL_CODE32:pm32

mix16:  dd      0x00000000, 0x00000001, 0x12347FFF, 0x8000FFFF, 0xFFFF8000
NMIX16  equ     ($ - mix16) / 4
drive16:
        pushad
        xor     bp, bp
.la:    mov     si, bp
        shl     si, 2
  [warning push]
  [warning -number-overflow]
        mov     eax, [cs:si + R(mix16)]      ; (nasm's first pass cannot size R() yet)
  [warning pop]
        mov     [in_a], eax
        xor     di, di
.lb:    mov     si, di
        shl     si, 2
  [warning push]
  [warning -number-overflow]
        mov     eax, [cs:si + R(mix16)]      ; (nasm's first pass cannot size R() yet)
  [warning pop]
        mov     [in_b], eax
        H16     [in_a], 8
        H16     [in_b], 8
        mov     dword [in_f], FIN0
        mov     dword [in_d], 0
        call    one16
        mov     dword [in_f], FIN1
        mov     eax, [in_b]
        shr     eax, 1
        mov     [in_d], eax
        call    one16
        P16     10
        inc     di
        cmp     di, NMIX16
        jb      .lb
        inc     bp
        cmp     bp, NMIX16
        jb      .la
        popad
        ret
one16:
        call    [t_stub]
        H16     [out_r], 8
        H16     [out_r2], 8
        mov     eax, [out_f]
        and     eax, [t_mask]
        H16     eax, 3
        ret

; ---------------------------------------------------------------- 32-bit
        bits    32
pm32:
        mov     ax, SEL_DATA32
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     esp, STACK_TOP
        call    setup_idt32
        P32     'pm32', 10

        ARITH32 'add8', 8, ALL6, {add al, bl}
        ARITH32 'add16', 16, ALL6, {add ax, bx}
        ARITH32 'add32', 32, ALL6, {add eax, ebx}
        ARITH32 'adc8', 8, ALL6, {adc al, bl}
        ARITH32 'adc16', 16, ALL6, {adc ax, bx}
        ARITH32 'adc32', 32, ALL6, {adc eax, ebx}
        ARITH32 'sub8', 8, ALL6, {sub al, bl}
        ARITH32 'sub16', 16, ALL6, {sub ax, bx}
        ARITH32 'sub32', 32, ALL6, {sub eax, ebx}
        ARITH32 'sbb8', 8, ALL6, {sbb al, bl}
        ARITH32 'sbb16', 16, ALL6, {sbb ax, bx}
        ARITH32 'sbb32', 32, ALL6, {sbb eax, ebx}
        ARITH32 'cmp8', 8, ALL6, {cmp al, bl}
        ARITH32 'cmp16', 16, ALL6, {cmp ax, bx}
        ARITH32 'cmp32', 32, ALL6, {cmp eax, ebx}
        ARITH32 'and8', 8, LOGIC, {and al, bl}
        ARITH32 'and16', 16, LOGIC, {and ax, bx}
        ARITH32 'and32', 32, LOGIC, {and eax, ebx}
        ARITH32 'or8', 8, LOGIC, {or al, bl}
        ARITH32 'or16', 16, LOGIC, {or ax, bx}
        ARITH32 'or32', 32, LOGIC, {or eax, ebx}
        ARITH32 'xor8', 8, LOGIC, {xor al, bl}
        ARITH32 'xor16', 16, LOGIC, {xor ax, bx}
        ARITH32 'xor32', 32, LOGIC, {xor eax, ebx}
        ARITH32 'test8', 8, LOGIC, {test al, bl}
        ARITH32 'test32', 32, LOGIC, {test eax, ebx}
        ; other encodings: immediates (sign-extended imm8, imm32), accumulator forms, memory operands, AH
        UNARY32 'add8 imm ah', 8, ALL6, {add ah, 0x81}
        UNARY32 'add16 imm8', 16, ALL6, {add ax, -2}
        UNARY32 'add32 imm32', 32, ALL6, {add eax, 0x7FFFFFFF}
        UNARY32 'sub32 imm8 ebx', 32, ALL6, {sub ebx, 0x7F}, {mov eax, ebx}
        UNARY32 'adc16 mem', 16, ALL6, {adc [in_a], ax}, {mov eax, [in_a]}
        UNARY32 'sbb32 imm acc', 32, ALL6, {sbb eax, strict dword 1}
        UNARY32 'cmp8 mem imm', 8, ALL6, {cmp byte [in_a], 0x80}
        UNARY32 'neg8', 8, ALL6, {neg al}
        UNARY32 'neg16', 16, ALL6, {neg ax}
        UNARY32 'neg32', 32, ALL6, {neg eax}
        UNARY32 'not8', 8, ALL6, {not al}
        UNARY32 'not32', 32, ALL6, {not eax}
        UNARY32 'inc8', 8, ALL6, {inc al}
        UNARY32 'inc16', 16, ALL6, {inc ax}
        UNARY32 'inc32', 32, ALL6, {inc eax}
        UNARY32 'dec8', 8, ALL6, {dec al}
        UNARY32 'dec16', 16, ALL6, {dec ax}
        UNARY32 'dec32 mem', 32, ALL6, {dec dword [in_a]}, {mov eax, [in_a]}

        SHIFT32 'shl8', 8, 1, counts, NCOUNTS, {shl al, cl}
        SHIFT32 'shl16', 16, 1, counts, NCOUNTS, {shl ax, cl}
        SHIFT32 'shl32', 32, 1, counts, NCOUNTS, {shl eax, cl}
        SHIFT32 'shr8', 8, 1, counts, NCOUNTS, {shr al, cl}
        SHIFT32 'shr16', 16, 1, counts, NCOUNTS, {shr ax, cl}
        SHIFT32 'shr32', 32, 1, counts, NCOUNTS, {shr eax, cl}
        SHIFT32 'sar8', 8, 1, counts, NCOUNTS, {sar al, cl}
        SHIFT32 'sar16', 16, 1, counts, NCOUNTS, {sar ax, cl}
        SHIFT32 'sar32', 32, 1, counts, NCOUNTS, {sar eax, cl}
        SHIFT32 'rol8', 8, 2, counts, NCOUNTS, {rol al, cl}
        SHIFT32 'rol16', 16, 2, counts, NCOUNTS, {rol ax, cl}
        SHIFT32 'rol32', 32, 2, counts, NCOUNTS, {rol eax, cl}
        SHIFT32 'ror8', 8, 2, counts, NCOUNTS, {ror al, cl}
        SHIFT32 'ror16', 16, 2, counts, NCOUNTS, {ror ax, cl}
        SHIFT32 'ror32', 32, 2, counts, NCOUNTS, {ror eax, cl}
        SHIFT32 'rcl8', 8, 2, counts, NCOUNTS, {rcl al, cl}
        SHIFT32 'rcl16', 16, 2, counts, NCOUNTS, {rcl ax, cl}
        SHIFT32 'rcl32', 32, 2, counts, NCOUNTS, {rcl eax, cl}
        SHIFT32 'rcr8', 8, 2, counts, NCOUNTS, {rcr al, cl}
        SHIFT32 'rcr16', 16, 2, counts, NCOUNTS, {rcr ax, cl}
        SHIFT32 'rcr32', 32, 2, counts, NCOUNTS, {rcr eax, cl}
        SHIFT32 'shl32 by 1', 32, 1, counts + 4, 1, {shl eax, 1}
        SHIFT32 'sar8 by 1 mem', 8, 1, counts + 4, 1, {sar byte [in_a], 1}, {mov eax, [in_a]}
        SHIFT32 'rcl16 by 1', 16, 2, counts + 4, 1, {rcl ax, 1}
        SHIFT32 'ror32 by 1', 32, 2, counts + 4, 1, {ror eax, 1}
        SHIFT32 'shld16', 16, 1, counts16, NCOUNTS16, {shld ax, dx, cl}
        SHIFT32 'shld32', 32, 1, counts, NCOUNTS, {shld eax, edx, cl}
        SHIFT32 'shrd16', 16, 1, counts16, NCOUNTS16, {shrd ax, dx, cl}
        SHIFT32 'shrd32', 32, 1, counts, NCOUNTS, {shrd eax, edx, cl}
        SHIFT32 'shld32 imm', 32, 1, count5, 1, {shld eax, edx, 5}
        SHIFT32 'shrd32 imm', 32, 1, count31, 1, {shrd eax, edx, 31}
        ; immediate counts (C0/C1 encodings); the count table entry is the immediate
        SHIFT32 'shl8 imm 3', 8, 1, count3, 1, {shl al, 3}
        SHIFT32 'shr8 imm 9', 8, 1, count9, 1, {shr al, 9}
        SHIFT32 'sar16 imm 9', 16, 1, count9, 1, {sar ax, 9}
        SHIFT32 'sal32 imm 31 (mem)', 32, 1, count31, 1, {sal dword [in_a], 31}, {mov eax, [in_a]}
        SHIFT32 'rol8 imm 3', 8, 2, count3, 1, {rol al, 3}
        SHIFT32 'ror16 imm 9', 16, 2, count9, 1, {ror ax, 9}
        SHIFT32 'rcl32 imm 5', 32, 2, count5, 1, {rcl eax, 5}
        SHIFT32 'rcr8 imm 9', 8, 2, count9, 1, {rcr al, 9}
        ; immediate and short encodings of the ALU group
        UNARY32 'adc al imm8 (14)', 8, ALL6, {adc al, 0x7F}
        UNARY32 'sbb ax imm16 (1D)', 16, ALL6, {sbb ax, 0x8001}
        UNARY32 'and r/m8 imm8 (80)', 8, LOGIC, {and bl, 0xF0}, {mov eax, ebx}
        UNARY32 'or r/m16 imm8 sign-extended (83)', 16, LOGIC, {or bx, -128}, {mov eax, ebx}
        UNARY32 'xor r/m32 imm32 (81)', 32, LOGIC, {xor ebx, 0x80000001}, {mov eax, ebx}
        UNARY32 'test eax imm32 (A9)', 32, LOGIC, {test eax, 0x80000001}
        UNARY32 'test r/m8 imm8 (F6)', 8, LOGIC, {test bh, 0x81}
        UNARY32 'cmp r/m32 imm8 (83)', 32, ALL6, {cmp dword [in_a], -1}
        UNARY32 'inc ecx (41) dec edx (4A)', 32, ALL6, {inc ecx}, {dec edx}
        UNARY32 'xchg eax ecx (91) and cmc', 32, ALL6, {xchg eax, ecx}, {cmc}
        UNARY32 'stc cmc', 32, ALL6, {stc}, {cmc}
        UNARY32 'mov r/m8 imm, mov r16 imm', 16, 0, {mov byte [in_a + 1], 0x5A}, {mov ax, [in_a]}

        ARITH32 'mul8', 8, MULF, {mul bl}
        ARITH32 'mul16', 16, MULF, {mul bx}
        ARITH32 'mul32', 32, MULF, {mul ebx}
        ARITH32 'imul8', 8, MULF, {imul bl}
        ARITH32 'imul16', 16, MULF, {imul bx}
        ARITH32 'imul32', 32, MULF, {imul ebx}
        ARITH32 'imul16 r r', 16, MULF, {imul ax, bx}
        ARITH32 'imul32 r r', 32, MULF, {imul eax, ebx}
        UNARY32 'imul32 r r imm8', 32, MULF, {imul eax, eax, -3}
        UNARY32 'imul16 r m imm16', 16, MULF, {imul ax, [in_a], 0x1234}
        UNARY32 'imul32 r m imm32', 32, MULF, {imul eax, [in_a], 0x12345}
        DIV32   'div8', 8, {mov ah, dl}, {div bl}
        DIV32   'div16', 16, {div bx}
        DIV32   'div32', 32, {div ebx}
        DIV32   'idiv8', 8, {mov ah, dl}, {idiv bl}
        DIV32   'idiv16', 16, {idiv bx}
        DIV32   'idiv32', 32, {idiv ebx}
        DIV32   'idiv32 mem', 32, {idiv dword [in_b]}

        RUN32   'bt16', bt16, 16, 1, 0, vals16, NV16, bitoffs, NBITOFFS
        RUN32   'bt32', bt32, 32, 1, 0, vals32, NV32, bitoffs, NBITOFFS
        RUN32   'bts32', bts32, 32, 1, 0, vals32, NV32, bitoffs, NBITOFFS
        RUN32   'btr16', btr16, 16, 1, 0, vals16, NV16, bitoffs, NBITOFFS
        RUN32   'btc32', btc32, 32, 1, 0, vals32, NV32, bitoffs, NBITOFFS
        RUN32   'bts32 imm', bts32i, 32, 1, 0, vals32, NV32, bitoffs, 1
        RUN32   'bsf16', bsf16, 16, 0x40, 0, vals16, NV16, vals16, 1
        RUN32   'bsf32', bsf32, 32, 0x40, 0, vals32, NV32, vals32, 1
        RUN32   'bsr16', bsr16, 16, 0x40, 0, vals16, NV16, vals16, 1
        RUN32   'bsr32', bsr32, 32, 0x40, 0, vals32, NV32, vals32, 1
        call    bitstring32

        RUN32   'movsx8', movsx8, 8, 0, 0, vals8, NV8, vals8, 1
        RUN32   'movsx16', movsx16, 16, 0, 0, vals16, NV16, vals16, 1
        RUN32   'movzx8 16', movzx8, 8, 0, 0, vals8, NV8, vals8, 1
        RUN32   'movzx16', movzx16, 16, 0, 0, vals16, NV16, vals16, 1
        RUN32   'cbw cwd', cbwcwd, 16, 0, 0, vals16, NV16, vals16, 1
        RUN32   'cwde cdq', cwdecdq, 32, 0, 0, vals32, NV32, vals32, 1
        RUN32   'bswap', bswap32, 32, 0, 0, vals32, NV32, vals32, 1
        RUN32   'xchg', xchg32, 32, 0, 0, vals32, NV32, vals32, 2
        RUN32   'xadd8', xadd8, 8, ALL6, 0, vals8, NV8, vals8, NV8
        RUN32   'xadd32', xadd32, 32, ALL6, 0, vals32, NV32, vals32, NV32
        RUN32   'cmpxchg8', cmpxchg8, 8, ALL6, 0, vals8, NV8, vals8, NV8
        RUN32   'cmpxchg32', cmpxchg32, 32, ALL6, 0, vals32, NV32, vals32, NV32
        RUN32   'lahf sahf', lahfsahf, 8, ALL6, 0, vals8, NV8, vals8, 1

        call    bcd32
        call    cond32
        call    lea32
        call    segs32
        call    lock32

        ; long mode
        call    build_pt_long
        mov     eax, cr4
        or      eax, 0x20
        mov     cr4, eax
        mov     eax, PT_BASE
        mov     cr3, eax
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, 0x100
        wrmsr
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     SEL_CODE64:long64

; ---------------------------------------------------------------- 32-bit driver
drive32:
        pushad
        xor     ebp, ebp                ; index into a
.la:    cmp     ebp, [t_na]
        jae     .done
        mov     esi, [t_avals]
        mov     eax, [esi + ebp * 4]
        mov     [in_a], eax
        xor     edi, edi                ; index into b
.lb:    cmp     edi, [t_nb]
        jae     .na
        mov     esi, [t_bvals]
        mov     eax, [esi + edi * 4]
        mov     [in_b], eax
        mov     eax, [in_a]
        mov     cl, 8
        call    hex32
        mov     eax, [in_b]
        call    hex32
        mov     dword [in_f], FIN0
        mov     dword [in_d], 0
        call    one32
        mov     dword [in_f], FIN1
        mov     eax, [in_b]
        shr     eax, 1
        mov     [in_d], eax
        call    one32
        P32     10
        inc     edi
        jmp     .lb
.na:    inc     ebp
        jmp     .la
.done:  popad
        ret

one32:
        mov     dword [out_de], 0
        EXPECT32 de_resume32
        call    [t_stub]
        mov     dword [v_resume], 0
        cmp     dword [out_de], 0
        jne     .de
        mov     eax, [out_r]
        mov     cl, 8
        call    hex32
        mov     eax, [out_r2]
        call    hex32
        call    mask_for_count
        and     eax, [out_f]
        mov     cl, 3
        call    hex32
        ret
.de:    P32     'de '
        ret

de_resume32:
        mov     dword [out_de], 1
        ret

; mask_for_count: the defined flags of the current test for its count [in_b]
mask_for_count:
        push    ecx
        mov     eax, [t_mask]
        mov     ecx, [t_kind]
        cmp     ecx, 3
        je      .none
        test    ecx, ecx
        jz      .d
        mov     ecx, [in_b]
        cmp     dword [t_size], 64
        je      .m64
        and     ecx, 31
        jmp     .m
.m64:   and     ecx, 63
.m:     mov     eax, ALL6
        jz      .d                      ; count 0: nothing changes
        cmp     dword [t_kind], 2
        je      .rot
        mov     eax, LOGIC              ; shift by 1: CF OF SF ZF PF
        cmp     ecx, 1
        je      .d
        mov     eax, 0x0C5              ; OF undefined
        cmp     ecx, [t_size]
        jb      .d
        mov     eax, 0x0C4              ; CF undefined too when count >= size (8/16-bit)
        jmp     .d
.rot:   cmp     ecx, 1
        je      .d                      ; CF OF, the rest unchanged
        mov     eax, 0x0D5              ; OF undefined
        jmp     .d
.none:  xor     eax, eax
.d:     pop     ecx
        ret

; ---------------------------------------------------------------- 32-bit stubs
        STUB32  bt16, {bt ax, bx}
        STUB32  bt32, {bt eax, ebx}
        STUB32  bts32, {bts eax, ebx}
        STUB32  btr16, {btr ax, bx}
        STUB32  btc32, {btc eax, ebx}
        STUB32  bts32i, {bts eax, 35}
        STUB32  bsf16, {bsf ax, bx}, {cmovz eax, [poison]}
        STUB32  bsf32, {bsf eax, ebx}, {cmovz eax, [poison]}
        STUB32  bsr16, {bsr ax, bx}, {cmovz eax, [poison]}
        STUB32  bsr32, {bsr eax, ebx}, {cmovz eax, [poison]}
        STUB32  movsx8, {movsx eax, al}, {movsx dx, al}
        STUB32  movsx16, {movsx eax, ax}, {movsx edx, word [in_a + 2]}
        STUB32  movzx8, {movzx ax, al}, {movzx edx, byte [in_a + 1]}
        STUB32  movzx16, {movzx eax, ax}, {movzx edx, word [in_a + 1]}
        STUB32  cbwcwd, {cbw}, {cwd}
        STUB32  cwdecdq, {cwde}, {cdq}
        STUB32  bswap32, {bswap eax}, {bswap edx}
        STUB32  xchg32, {xchg al, ah}, {xchg edx, [in_a]}
        STUB32  xadd8, {xadd al, bl}, {mov dl, bl}
        STUB32  xadd32, {xadd [in_a], ebx}, {mov edx, ebx}
        STUB32  cmpxchg8, {cmpxchg bl, dl}, {mov dl, bl}
        STUB32  cmpxchg32, {cmpxchg [in_b], edx}, {mov edx, [in_b]}
        STUB32  lahfsahf, {sahf}, {lahf}

poison: dd      0xEEEEEEEE              ; BSF/BSR of 0: the destination is undefined

; BT/BTS/BTR/BTC on a bit string in memory: the bit offset is signed and can
; reach bytes outside the addressed dword
bitstring32:
        P32     '== bit strings', 10
        mov     esi, bitoffs
        mov     ebp, NBITOFFS
.l:     mov     edi, BITBUF - 32
        mov     ecx, 24
        mov     eax, 0x5A5A5A5A
        rep stosd
        mov     ebx, [esi]
        H32     ebx, 8
        push    dword FIN0
        popfd
        bt      dword [BITBUF], ebx
        setc    al
        bts     word [BITBUF], bx
        adc     al, 0
        btr     dword [BITBUF + 4], ebx
        adc     al, 0
        btc     dword [BITBUF - 4], ebx
        adc     al, 0
        btc     word [BITBUF + 2], 13            ; immediate: offset taken mod 16
        adc     al, 0
        H32     eax, 2
        push    esi
        mov     esi, BITBUF - 32
        mov     ecx, 96
        call    hexdump32
        pop     esi
        add     esi, 4
        dec     ebp
        jnz     .l
        ret

; BCD adjustments over every AL with AF/CF in
bcd32:
        P32     '== daa das aaa aas (al, flags in 0 / CF / AF / CF+AF)', 10
        xor     ebx, ebx                ; op
.op:    xor     esi, esi                ; al
.al:    xor     edi, edi                ; flag combination
.fl:    mov     eax, 0x1200
        or      eax, esi
        mov     edx, [bcdflags + edi * 4]
        push    edx
        popfd
        cmp     ebx, 1
        jb      .daa
        je      .das
        cmp     ebx, 2
        je      .aaa
        aas
        jmp     .got
.daa:   daa
        jmp     .got
.das:   das
        jmp     .got
.aaa:   aaa
.got:   pushfd
        pop     edx
        and     edx, [bcdmask + ebx * 4]
        H32     eax, 4
        H32     edx, 3
        inc     edi
        cmp     edi, 4
        jb      .fl
        test    esi, 3
        jnz     .nonl
        P32     10
.nonl:  add     esi, 3                  ; every third AL value (86 values)
        cmp     esi, 256
        jb      .al
        P32     10
        inc     ebx
        cmp     ebx, 4
        jb      .op
        P32     '== aam 10, aam 16, aad 10, aad 7 (ax)', 10
        xor     esi, esi
.aam:   mov     eax, 0x3300
        or      eax, esi
        aam
        pushfd
        pop     edx
        and     edx, 0xC4
        H32     eax, 4
        H32     edx, 3
        mov     eax, 0x3300
        or      eax, esi
        aam     16
        H32     eax, 4
        mov     eax, esi
        imul    eax, eax, 0x0101
        xor     ah, 0x35
        aad
        pushfd
        pop     edx
        and     edx, 0xC4
        H32     eax, 4
        H32     edx, 3
        mov     eax, esi
        imul    eax, eax, 0x0101
        aad     7
        H32     eax, 4
        P32     10
        add     esi, 7
        cmp     esi, 256
        jb      .aam
        P32     'aam 0: '
        EXPECT32 .after
        mov     al, 5
        aam     0
.after: call    expect_done32
        ret

bcdflags:       dd 0x002, 0x003, 0x012, 0x013
bcdmask:        dd 0x0D5, 0x0D5, 0x011, 0x011   ; DAA DAS: OF undefined; AAA AAS: only AF CF

; SETcc, CMOVcc and Jcc for every condition over 32 flag patterns
cond32:
        P32     '== setcc / cmovcc / jcc: per condition, one bit per flag pattern', 10
        xor     esi, esi                ; condition
.cc:    mov     dword [SCRATCH + 4], 0  ; setcc bits
        mov     dword [SCRATCH + 8], 0  ; cmovcc bits
        mov     dword [SCRATCH + 12], 0 ; jcc bits
        xor     edi, edi                ; pattern
.pat:   mov     eax, [setcc_tab + esi * 4]
        mov     [SCRATCH], eax
        push    dword [flagpats + edi * 4]
        popfd
        call    [SCRATCH]               ; al = setcc, ebx = cmovcc, edx = jcc
        mov     ecx, edi
        movzx   eax, al
        shl     eax, cl
        or      [SCRATCH + 4], eax
        shl     ebx, cl
        or      [SCRATCH + 8], ebx
        shl     edx, cl
        or      [SCRATCH + 12], edx
        inc     edi
        cmp     edi, 32
        jb      .pat
        H32     esi, 1
        H32     [SCRATCH + 4], 8
        H32     [SCRATCH + 8], 8
        H32     [SCRATCH + 12], 8
        P32     10
        inc     esi
        cmp     esi, 16
        jb      .cc
        ret

; one routine per condition; no flag changes before all three are taken
%macro CONDSTUB 1
cc_%1:
        mov     edx, 0
        j%1     %%t
        jmp     %%s
%%t:    mov     edx, 1
%%s:    set%1   al
        mov     ebx, 0
        cmov%1  ebx, [cc_one]
        ret
%endmacro
cc_one: dd      1
        CONDSTUB o
        CONDSTUB no
        CONDSTUB b
        CONDSTUB ae
        CONDSTUB e
        CONDSTUB ne
        CONDSTUB be
        CONDSTUB a
        CONDSTUB s
        CONDSTUB ns
        CONDSTUB p
        CONDSTUB np
        CONDSTUB l
        CONDSTUB ge
        CONDSTUB le
        CONDSTUB g
setcc_tab:
        dd      cc_o, cc_no, cc_b, cc_ae, cc_e, cc_ne, cc_be, cc_a
        dd      cc_s, cc_ns, cc_p, cc_np, cc_l, cc_ge, cc_le, cc_g
; patterns of OF SF ZF PF CF (bit 1 always set)
flagpats:
%assign i 0
%rep 32
        dd      0x002 | ((i & 1) ? 0x001 : 0) | ((i & 2) ? 0x004 : 0) | ((i & 4) ? 0x040 : 0) | ((i & 8) ? 0x080 : 0) | ((i & 16) ? 0x800 : 0)
  %assign i i + 1
%endrep

; LEA and memory operands in every addressing form (32-bit and, with 67h, 16-bit)
lea32:
        P32     '== lea 32-bit forms', 10
        mov     eax, 0x11111111
        mov     ebx, 0x00002000
        mov     ecx, 0x00000030
        mov     edx, 0xFFFFFFF0
        mov     esi, 0x00000400
        mov     edi, 0x80000000
        mov     ebp, 0x00050000
        lea     eax, [ebx + ecx]
        H32     eax, 8
        lea     eax, [ebx + ecx * 2 + 5]
        H32     eax, 8
        lea     eax, [esi * 4 + 0x12345678]
        H32     eax, 8
        lea     eax, [ebp + edi * 8 - 1]
        H32     eax, 8
        lea     eax, [edx + edx * 4]
        H32     eax, 8
        lea     eax, [esp + 0x10]
        H32     eax, 8
        lea     eax, [esp + esi * 1]
        H32     eax, 8
        lea     eax, [ebp]
        H32     eax, 8
        lea     eax, [edi + edi - 0x80]
        H32     eax, 8
        lea     ax, [ebx + edx]                 ; 16-bit destination
        H32     eax, 8
        lea     eax, [bx + si + 0x7FFF]         ; 16-bit addressing (67h)
        H32     eax, 8
        lea     eax, [bp + di - 3]
        H32     eax, 8
        lea     eax, [si - 0x3F0]               ; 16-bit address: wraps at 64 KiB
        H32     eax, 8
        lea     eax, [di]
        H32     eax, 8
        P32     10
        ; the same memory forms reading data
        mov     dword [SCRATCH + 0x00], 0x03020100
        mov     dword [SCRATCH + 0x04], 0x07060504
        mov     dword [SCRATCH + 0x08], 0x0B0A0908
        mov     dword [SCRATCH + 0x0C], 0x0F0E0D0C
        mov     ebx, SCRATCH
        mov     ecx, 3
        mov     eax, [ebx + ecx]
        H32     eax, 8
        mov     eax, [ebx + ecx * 2 + 1]
        H32     eax, 8
        mov     eax, [ecx * 4 + SCRATCH - 2]
        H32     eax, 8
        mov     bx, SCRATCH
        mov     si, 5
        mov     eax, [bx + si]                  ; 67h: 16-bit address
        H32     eax, 8
        mov     ax, [ebx + 6]                   ; 66h
        H32     eax, 8
        movzx   eax, byte [ebx + ecx * 4 + 1]
        H32     eax, 8
        P32     10
        ret

; LOCK-prefixed read-modify-write forms on memory
lock32:
        P32     '== lock prefix', 10
        mov     dword [SCRATCH], 0x7FFFFFFF
        mov     eax, 1
        lock add [SCRATCH], eax
        H32     [SCRATCH], 8
        lock inc dword [SCRATCH]
        H32     [SCRATCH], 8
        lock not dword [SCRATCH]
        H32     [SCRATCH], 8
        mov     eax, 5
        lock xadd [SCRATCH], eax
        H32     eax, 8
        H32     [SCRATCH], 8
        mov     eax, [SCRATCH]
        mov     ecx, 0xC0FFEE
        lock cmpxchg [SCRATCH], ecx
        H32     [SCRATCH], 8
        mov     eax, 0x1234
        mov     ebx, 37
        lock bts [SCRATCH], ebx
        setc    al
        H32     [SCRATCH], 8
        H32     [SCRATCH + 4], 8
        lock btr word [SCRATCH], 1
        lock sbb byte [SCRATCH + 1], 0x10
        lock or word [SCRATCH + 2], 0x8000
        H32     [SCRATCH], 8
        mov     eax, 0xABCD
        xchg    [SCRATCH], eax          ; implicitly locked
        H32     eax, 8
        H32     [SCRATCH], 8
        P32     10
        ret

; segment overrides: FS with base 1 MiB, GS with base 0xF0000 (read-only code)
segs32:
        P32     '== segment overrides', 10
        mov     dword [HIGH_DATA + 0x10], 0xCAFEF00D
        mov     ax, SEL_SMALL                   ; base 0x100000, limit 0xFFF
        mov     fs, ax
        mov     ax, SEL_CODE32_B                ; 32-bit code base 0xF0000: readable
        mov     gs, ax
        mov     eax, [fs:0x10]
        H32     eax, 8
        mov     ebx, 0x08
        mov     eax, [fs:ebx + 8]
        H32     eax, 8
        mov     word [fs:0x12], 0x1234
        mov     eax, [HIGH_DATA + 0x10]
        H32     eax, 8
        mov     eax, [gs:R(seg_marker)]
        H32     eax, 8
        mov     eax, [cs:seg_marker]
        H32     eax, 8
        mov     esi, 0x10
        mov     eax, [es:esi]                   ; ES flat
        H32     eax, 8
        mov     ebp, HIGH_DATA + 0x10
        mov     eax, [ds:ebp]                   ; DS instead of SS
        H32     eax, 8
        mov     ax, SEL_DATA32
        mov     fs, ax
        mov     gs, ax
        P32     10
        ret
seg_marker:     dd 0x5E6A5E6A

; ---------------------------------------------------------------- 64-bit
; STUB64 as STUB32 with the full 64-bit registers
%macro STUB64 2-3
%1:
        mov     rax, [in_a]
        mov     rbx, [in_b]
        mov     rcx, rbx
        mov     rdx, [in_d]
        push    qword [in_f]
        popfq
        %2
        %3
        pushfq
        pop     qword [out_f]
        mov     [out_r], rax
        mov     [out_r2], rdx
        ret
%endmacro

; RUN64 'title', stub, size, mask, kind, bvals, nb (a from vals64)
%macro RUN64 7
        P64     '== ', %1, 10
        lea     rax, [rel %2]
        mov     [t_stub], rax
        mov     dword [t_size], %3
        mov     dword [t_mask], %4
        mov     dword [t_kind], %5
        lea     rax, [rel %6]
        mov     [t_bvals], rax
        mov     dword [t_nb], %7
        call    drive64
%endmacro
%macro ARITH64 4
        jmp     %%run
        STUB64  %%stub, {%4}
%%run:  RUN64   %1, %%stub, %2, %3, 0, vals64, NV64
%endmacro
%macro UNARY64 4-5
        jmp     %%run
        STUB64  %%stub, {%4}, {%5}
%%run:  RUN64   %1, %%stub, %2, %3, 0, vals64, 1
%endmacro
%macro SHIFT64 5
        jmp     %%run
        STUB64  %%stub, {%5}
%%run:  RUN64   %1, %%stub, %2, 0, %3, %4, NCOUNTS64
%endmacro

        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    setup_idt64
        P64     'long64', 10
        ARITH64 'add64', 64, ALL6, {add rax, rbx}
        ARITH64 'adc64', 64, ALL6, {adc rax, rbx}
        ARITH64 'sub64', 64, ALL6, {sub rax, rbx}
        ARITH64 'sbb64', 64, ALL6, {sbb rax, rbx}
        ARITH64 'cmp64', 64, ALL6, {cmp rax, rbx}
        ARITH64 'and64', 64, LOGIC, {and rax, rbx}
        ARITH64 'or64', 64, LOGIC, {or rax, rbx}
        ARITH64 'xor64', 64, LOGIC, {xor rax, rbx}
        ARITH64 'test64', 64, LOGIC, {test rax, rbx}
        ARITH64 'add32 zero-extends', 32, ALL6, {add eax, ebx}
        ARITH64 'add16 keeps', 16, ALL6, {add ax, bx}
        UNARY64 'add64 imm32 sign-extended', 64, ALL6, {add rax, -0x80000000}
        UNARY64 'neg64', 64, ALL6, {neg rax}
        UNARY64 'not64', 64, ALL6, {not rax}
        UNARY64 'inc64', 64, ALL6, {inc rax}
        UNARY64 'dec32 (zero-extends)', 32, ALL6, {dec eax}
        ARITH64 'mul64', 64, MULF, {mul rbx}
        ARITH64 'imul64', 64, MULF, {imul rbx}
        ARITH64 'imul64 r r', 64, MULF, {imul rax, rbx}
        UNARY64 'imul64 r r imm32', 64, MULF, {imul rax, rax, -0x12345}
        SHIFT64 'shl64', 64, 1, counts64, {shl rax, cl}
        SHIFT64 'shr64', 64, 1, counts64, {shr rax, cl}
        SHIFT64 'sar64', 64, 1, counts64, {sar rax, cl}
        SHIFT64 'rol64', 64, 2, counts64, {rol rax, cl}
        SHIFT64 'ror64', 64, 2, counts64, {ror rax, cl}
        SHIFT64 'rcl64', 64, 2, counts64, {rcl rax, cl}
        SHIFT64 'rcr64', 64, 2, counts64, {rcr rax, cl}
        SHIFT64 'shld64', 64, 1, counts64, {shld rax, rdx, cl}
        SHIFT64 'shrd64', 64, 1, counts64, {shrd rax, rdx, cl}
        SHIFT64 'shl32 in 64-bit mode', 32, 1, counts64, {shl eax, cl}
        RUN64   'shl64 imm 63', shl64i, 64, 0, 1, count63_64, 1
        RUN64   'rol64 imm 13', rol64i, 64, 0, 2, count13_64, 1
        UNARY64 'add r64 imm8 (83)', 64, ALL6, {add rax, -1}
        UNARY64 'mov r64 imm64, mov r64 imm32 sign-extended', 64, 0, {mov rax, 0x8877665544332211}, {mov rdx, strict dword -2}
        UNARY64 'and r/m64 imm32 sign-extended', 64, LOGIC, {and rax, -0x80000000}
        UNARY64 'push imm8 / pop r64', 64, 0, {push -3}, {pop rdx}
        RUN64   'div64', div64, 64, 0, 3, vals64, NV64
        RUN64   'idiv64', idiv64, 64, 0, 3, vals64, NV64
        RUN64   'bt64', bt64, 64, 1, 0, bitoffs64, NCOUNTS64
        RUN64   'btc64', btc64, 64, 1, 0, bitoffs64, NCOUNTS64
        RUN64   'bsf64', bsf64, 64, 0x40, 0, vals64, 1
        RUN64   'bsr64', bsr64, 64, 0x40, 0, vals64, 1
        RUN64   'movsxd cdqe cqo', movsxd64, 64, 0, 0, vals64, 1
        RUN64   'bswap64', bswap64, 64, 0, 0, vals64, 1
        RUN64   'cmpxchg64', cmpxchg64, 64, ALL6, 0, vals64, NV64
        RUN64   'xadd64', xadd64, 64, ALL6, 0, vals64, NV64
        RUN64   'rex registers', rexregs, 64, ALL6, 0, vals64, NV64
        RUN64   'rex byte registers', rexbytes, 64, ALL6, 0, vals64, NV64
        RUN64   'cmov64', cmov64, 64, 0, 0, vals64, NV64
        call    lea64
        ; the driver's variables hold the raw flags of the last test: clear them
        mov     edi, DATA
        mov     ecx, 0x80 / 8
        mov     eax, 0
        rep stosq
        jmp     finish64

; ---------------------------------------------------------------- 64-bit driver
drive64:
        push    rbp
        push    rdi
        push    rsi
        xor     ebp, ebp
.la:    cmp     ebp, NV64
        jae     .done
        lea     rsi, [rel vals64]
        mov     rax, [rsi + rbp * 8]
        mov     [in_a], rax
        xor     edi, edi
.lb:    cmp     edi, [t_nb]
        jae     .na
        mov     rsi, [t_bvals]
        mov     rax, [rsi + rdi * 8]
        mov     [in_b], rax
        H64     [in_a], 16
        H64     [in_b], 16
        mov     qword [in_f], FIN0
        mov     qword [in_d], 0
        call    one64
        mov     qword [in_f], FIN1
        mov     rax, [in_b]
        shr     rax, 1
        mov     [in_d], rax
        call    one64
        P64     10
        inc     edi
        jmp     .lb
.na:    inc     ebp
        jmp     .la
.done:  pop     rsi
        pop     rdi
        pop     rbp
        ret

one64:
        mov     dword [out_de], 0
        lea     rax, [rel de_resume64]
        mov     [v_resume], rax
        call    [t_stub]
        mov     qword [v_resume], 0
        cmp     dword [out_de], 0
        jne     .de
        H64     [out_r], 16
        H64     [out_r2], 16
        call    mask_for_count64
        and     eax, [out_f]
        H64     rax, 3
        ret
.de:    P64     'de '
        ret

de_resume64:
        mov     dword [out_de], 1
        ret

mask_for_count64:
        push    rcx
        mov     eax, [t_mask]
        mov     ecx, [t_kind]
        cmp     ecx, 3
        je      .none
        test    ecx, ecx
        jz      .d
        mov     ecx, [in_b]
        cmp     dword [t_size], 64
        je      .m64
        and     ecx, 31
        jmp     .m
.m64:   and     ecx, 63
.m:     mov     eax, ALL6
        jz      .d
        cmp     dword [t_kind], 2
        je      .rot
        mov     eax, LOGIC
        cmp     ecx, 1
        je      .d
        mov     eax, 0x0C5
        jmp     .d
.rot:   cmp     ecx, 1
        je      .d
        mov     eax, 0x0D5
        jmp     .d
.none:  xor     eax, eax
.d:     pop     rcx
        ret

        STUB64  div64, {div rbx}
        STUB64  shl64i, {shl rax, 63}
        STUB64  rol64i, {rol rax, 13}
        STUB64  idiv64, {idiv rbx}
        STUB64  bt64, {bt rax, rbx}
        STUB64  btc64, {btc rax, rbx}, {bts rdx, 63}
        STUB64  bsf64, {bsf rax, rbx}, {cmovz rax, [rel poison64]}
        STUB64  bsr64, {bsr rax, rbx}, {cmovz rax, [rel poison64]}
        STUB64  movsxd64, {movsxd rdx, eax}, {cdqe}
        STUB64  bswap64, {bswap rax}, {bswap edx}
        STUB64  cmpxchg64, {cmpxchg [in_b], rdx}, {mov rdx, [in_b]}
        STUB64  xadd64, {xadd [in_a], rbx}, {mov rdx, rbx}
        STUB64  cmov64, {cmp rax, rbx}, {cmovl rax, rbx}
; r8-r15 as operands, ModRM.reg (REX.R), ModRM.rm (REX.B), SIB index (REX.X)
rexregs:
        mov     r8, [in_a]
        mov     r15, [in_b]
        mov     r12, 3
        mov     r13, in_a
        push    qword [in_f]
        popfq
        add     r8, r15
        adc     r9, r8
        sub     r10d, r15d
        xor     r11w, r8w
        lea     r14, [r13 + r12 * 8 - 24]
        mov     r14, [r14]
        imul    r14, r15
        or      r8, r14
        pushfq
        pop     qword [out_f]
        mov     [out_r], r8
        mov     [out_r2], r14
        ret
; the byte registers SPL BPL SIL DIL R8B-R15B (REX), next to AH/CH (no REX)
rexbytes:
        mov     rsi, [in_a]
        mov     rdi, [in_b]
        mov     r9, rsi
        mov     rax, rdi
        push    qword [in_f]
        popfq
        add     sil, dil
        adc     r9b, sil
        sub     ah, al
        xor     r9b, al
        pushfq
        pop     qword [out_f]
        shl     rax, 8
        mov     al, r9b
        mov     [out_r], rax
        mov     [out_r2], rsi
        ret

lea64:
        P64     '== 64-bit addressing', 10
        mov     rbx, 0x0000123400005678
        mov     rcx, 0x10
        mov     r12, 0x1000
        mov     r13, 0x20
        lea     rax, [rbx + rcx * 8 + 0x7F]
        H64     rax, 16
        lea     rax, [r12 + r13 * 4]            ; SIB with base r12
        H64     rax, 16
        lea     rax, [r13]                      ; r13 base needs a displacement byte
        H64     rax, 16
        lea     eax, [rbx + rcx]                ; 32-bit destination
        H64     rax, 16
        lea     rax, [ebx + ecx]                ; 67h: 32-bit address
        H64     rax, 16
        lea     rax, [rel lea64]                ; RIP-relative
        H64     rax, 16
        lea     rax, [r12 * 2 - 8]
        H64     rax, 16
        mov     rax, [rel poison64]
        H64     rax, 16
        mov     eax, [rel poison64 + 4]
        H64     rax, 16
        lea     r8, [rel vals64]
        mov     r9, 2
        mov     rax, [r8 + r9 * 8]
        H64     rax, 16
        mov     eax, [r8 + r9 * 8 + 4]
        H64     rax, 16
        movsx   rax, word [r8 + 8 * 3 + 6]
        H64     rax, 16
        P64     10
        ret

        align   8
poison64:       dq 0xEEEEEEEEEEEEEEEE

; ---------------------------------------------------------------- value tables
        align   8
vals8:  dd      0x11223300, 0x11223301, 0x1122330F, 0x11223310, 0x1122337F
        dd      0x11223380, 0x11223381, 0x112233FE, 0x112233FF, 0x112233A5
NV8     equ     ($ - vals8) / 4
vals16: dd      0xAABB0000, 0xAABB0001, 0xAABB00FF, 0xAABB0100, 0xAABB7FFF
        dd      0xAABB8000, 0xAABB8001, 0xAABBFFFE, 0xAABBFFFF, 0xAABB5A5A
NV16    equ     ($ - vals16) / 4
vals32: dd      0x00000000, 0x00000001, 0x000000FF, 0x7FFFFFFF, 0x80000000
        dd      0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x12345678, 0xEDCBA987
NV32    equ     ($ - vals32) / 4
counts: dd      0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33
count5: dd      5
count31: dd     31
count3: dd      3
count9: dd      9
NCOUNTS equ     ($ - counts) / 4
counts16: dd    0, 1, 2, 7, 8, 9, 15, 16, 32, 33
NCOUNTS16 equ   ($ - counts16) / 4
bitoffs: dd     0, 1, 7, 15, 16, 31, 32, 33, 63, 64, 95, -1, -8, -31, -32, -33
NBITOFFS equ    ($ - bitoffs) / 4
        align   8
vals64: dq      0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000
        dq      0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0x123456789ABCDEF0
NV64    equ     ($ - vals64) / 8
counts64: dq    0, 1, 2, 31, 32, 33, 63, 64, 65, 0xFF
bitoffs64: dq   0, 1, 31, 32, 63, 64, 65, 127, -1, -64
count63_64: dq  63
count13_64: dq  13
NCOUNTS64 equ   10

%include "cpu-lib.inc"
