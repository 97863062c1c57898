; =============================================================================
; control.asm - control transfer and the stack: near and far CALL/JMP/RET
; (direct, register and memory indirect, RET imm, 16-bit operand size far
; calls), ENTER/LEAVE with nesting levels, LOOP/LOOPE/LOOPNE/JCXZ/JECXZ, jump
; tables, PUSH/POP forms (immediates, segments, memory, PUSHA/POPA, PUSH ESP,
; POP into an ESP-based address), XLAT, INT n with handlers that return by
; IRET, and IRET in real mode, 16- and 32-bit protected mode and IRETQ in long
; mode (to 64-bit and to compatibility mode), far calls between 64-bit and
; compatibility mode.
;
; Each line names a test and prints the registers it changed, the stack
; pointer relative to where the test started ("sp-" = bytes used) and the
; stack words it left.
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/control.bin firmware/cpu/control.asm
; =============================================================================

%include "cpu.inc"

FARPTR          equ DATA                ; far pointers built at run time
TABLE           equ DATA + 0x40
STK             equ DATA + 0x80         ; stack snapshots

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'control v1', 10
        ; IVT 0x60: a handler that sets CF in the saved flags and returns
        mov     word [0x60 * 4], R(rm_int60)
        mov     word [0x60 * 4 + 2], 0xF000
        mov     sp, STACK_TOP
        P16     'real call/ret: '
        call    rm_sub
        H16     eax, 8
        mov     bx, R(rm_sub)
        call    bx
        H16     eax, 8
        mov     word [FARPTR], R(rm_fsub)
        mov     word [FARPTR + 2], 0xF000
        call    far [FARPTR]
        H16     eax, 8
        push    word 0x1111
        push    word 0x2222
        call    rm_ret4                 ; ret 4 drops both
        mov     ax, sp
        H16     eax, 4
        P16     10
        P16     'real int 0x60 with iret: '
        clc
        int     0x60
        setc    al
        H16     eax, 2
        mov     ax, sp
        H16     eax, 4
        P16     10
        P16     'real loop/jcxz: '
        mov     cx, 5
        xor     ax, ax
.l1:    inc     ax
        loop    .l1
        H16     eax, 4
        H16     ecx, 8
        mov     ecx, 0x12340000
        jcxz    .z1                     ; CX is 0: taken
        P16     'bad '
.z1:    mov     cx, 3
        a32 loop .l2                    ; uses ECX: 0x12340003 -> ...
.l2:    H16     ecx, 8
        P16     10
        P16     'real enter/leave: '
        mov     bp, 0x4444
        mov     dx, sp
        enter   6, 0
        mov     ax, sp
        sub     dx, ax
        H16     edx, 4
        H16     ebp, 4
        leave
        mov     ax, sp
        H16     eax, 4
        H16     ebp, 4
        P16     10
        ; iret to a different CS:IP
        pushf
        push    word 0xF000
        push    word R(.after_iret)
        iret
.after_iret:
        P16     'real iret to f000 ok', 10

        cli
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword SEL_CODE32:pm32

rm_sub: mov     eax, 0x5AB0
        ret
rm_fsub:
        mov     eax, 0xFA25
        retf
rm_ret4:
        ret     4
rm_int60:
        push    bp
        mov     bp, sp
        or      word [bp + 6], 1        ; CF in the saved FLAGS
        pop     bp
        iret

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
        ; gate 0x61: returns with iretd; gate 0x62: 16-bit interrupt gate (o16 iret)
        mov     eax, pm_int61
        mov     word [IDT_RAM + 0x61 * 8], ax
        shr     eax, 16
        mov     word [IDT_RAM + 0x61 * 8 + 6], ax
        mov     word [IDT_RAM + 0x62 * 8], R(pm_int62)
        mov     word [IDT_RAM + 0x62 * 8 + 2], SEL_CODE16
        mov     word [IDT_RAM + 0x62 * 8 + 4], 0x8600  ; 16-bit interrupt gate
        mov     word [IDT_RAM + 0x62 * 8 + 6], 0
        P32     'pm32', 10

        P32     'near calls: '
        call    sub_a
        H32     eax, 8
        mov     ebx, sub_b
        call    ebx
        H32     eax, 8
        mov     dword [FARPTR], sub_a
        call    [FARPTR]
        H32     eax, 8
        mov     ecx, 1
        call    [calltab + ecx * 4]
        H32     eax, 8
        mov     edx, esp
        push    dword 1
        push    dword 2
        push    dword 3
        call    sub_ret12
        sub     edx, esp
        H32     edx, 8
        P32     10

        P32     'far calls: '
        call    SEL_CODE32:far_a
        H32     eax, 8
        mov     dword [FARPTR], far_a
        mov     word [FARPTR + 4], SEL_CODE32
        call    far [FARPTR]
        H32     eax, 8
        mov     edx, esp
        push    dword 0xAAAA
        call    SEL_CODE32:far_ret4
        sub     edx, esp
        H32     edx, 8
        P32     10

        P32     'far jmp: '
        jmp     SEL_CODE32:.fj1
.fj1:   mov     dword [FARPTR], .fj2
        mov     word [FARPTR + 4], SEL_CODE32
        jmp     far [FARPTR]
.fj2:   mov     ax, cs
        H32     eax, 4
        P32     10

        P32     'jump table: '
        xor     edi, edi
.jt:    jmp     [jumptab + edi * 4]
.j0:    P32     'j0 '
        jmp     .jn
.j1:    P32     'j1 '
        jmp     .jn
.j2:    P32     'j2 '
.jn:    inc     edi
        cmp     edi, 3
        jb      .jt
        P32     10

        P32     'loops: '
        mov     ecx, 10
        xor     eax, eax
.lp1:   add     eax, ecx
        loop    .lp1
        H32     eax, 8
        mov     ecx, 10
        mov     esi, loopdata
.lp2:   lodsb
        cmp     al, 0
        loope   .lp2                    ; stops at the first non-zero byte
        H32     ecx, 8
        H32     esi, 8
        mov     ecx, 10
        mov     esi, loopdata
.lp3:   lodsb
        cmp     al, 7
        loopne  .lp3                    ; stops at the first 7
        H32     ecx, 8
        H32     esi, 8
        mov     ecx, 0xFFFF0000
        a16 loop .lp4                   ; CX 0 -> 0xFFFF: taken
        P32     'bad '
.lp4:   H32     ecx, 8
        xor     ecx, ecx
        jecxz   .lp5
        P32     'bad '
.lp5:   mov     ecx, 0x00010000
        jcxz    .lp6                    ; 67h: CX is 0
        P32     'bad '
.lp6:   P32     10

        P32     'enter/leave: '
        mov     ebp, 0xBBBB0000 | STACK_TOP - 0x10
        mov     dword [STACK_TOP - 0x10], 0xF00D0001    ; a fake outer frame chain
        mov     dword [STACK_TOP - 0x14], 0xF00D0002
        mov     dword [STACK_TOP - 0x18], 0xF00D0003
        mov     ebp, STACK_TOP - 0x10
        mov     esp, STACK_TOP - 0x40
        enter   0x10, 0
        call    show_frame
        leave
        enter   0x08, 1
        call    show_frame
        leave
        enter   0x04, 3
        call    show_frame
        leave
        o16 enter 0x04, 2
        call    show_frame
        o16 leave
        mov     esp, STACK_TOP
        P32     10

        P32     'push/pop: '
        mov     edx, esp
        push    byte -2
        push    dword 0x12345678
        o16 push word 0x9ABC
        push    es
        push    fs
        o16 push gs
        push    esp
        sub     edx, esp
        H32     edx, 8
        mov     esi, esp
        mov     ecx, 24
        call    hexdump32
        mov     esp, STACK_TOP
        push    dword 0x11111111
        push    dword 0x22222222
        pop     dword [esp]             ; address computed after the pop: overwrites 0x11111111
        pop     eax
        H32     eax, 8
        mov     eax, 0xA0A0A0A0
        mov     ebx, 0xB0B0B0B0
        mov     ecx, 0xC0C0C0C0
        mov     edx, 0xD0D0D0D0
        mov     esi, 0x50505050
        mov     edi, 0xD1D1D1D1
        mov     ebp, 0xBEBEBEBE
        pushad
        mov     dword [esp + 12], 0x12121212    ; the saved ESP is skipped by POPAD
        mov     dword [esp], 0xD2D2D2D2
        popad
        H32     edi, 8
        H32     esp, 8
        o16 pusha
        o16 popa
        H32     esp, 8
        pushfd
        pop     eax
        and     eax, 0x8D5
        H32     eax, 3
        P32     10

        P32     'xlat: '
        mov     ebx, loopdata
        mov     eax, 0x11223304
        xlatb
        H32     eax, 8
        P32     10

        P32     'int 0x61 / iretd: '
        mov     edx, esp
        stc
        int     0x61
        setc    al
        H32     eax, 2
        sub     edx, esp
        H32     edx, 8
        P32     10
        P32     'iretd to another cs: '
        pushfd
        push    dword SEL_CODE32_B
        push    dword R(iret_target)
        iretd

        ; ---- long mode
to_long:
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

iret_target:                            ; runs in SEL_CODE32_B (base 0xF0000)
        mov     ax, cs
        H32     eax, 4
        P32     10
        ; 16-bit operand size far calls push CS:IP as two words and return
        ; with a 16-bit RETF: they need a code segment whose offsets fit 16
        ; bits, so they run here
        P32     'o16 far calls: '
        mov     edx, esp
        db      0x66, 0x9A              ; o16 call ptr16:16 (spelled out: nasm widens the offset)
        dw      R(far16_ret), SEL_CODE32_B
        sub     edx, esp
        H32     edx, 8
        mov     word [FARPTR], R(far16_ret)
        mov     word [FARPTR + 2], SEL_CODE32_B
        mov     edx, esp
        o16 call far [FARPTR]
        sub     edx, esp
        H32     edx, 8
        call    .eip                    ; a near call here pushes the offset in CS
.eip:   pop     eax
        H32     eax, 8
        P32     10
        ; a 16-bit interrupt gate pushes FLAGS, CS, IP as words: same reason
        P32     'int 0x62 16-bit gate / 16-bit iret: '
        mov     edx, esp
        int     0x62
        H32     eax, 8
        sub     edx, esp
        H32     edx, 8
        P32     10
        jmp     SEL_CODE32:to_long

sub_a:  mov     eax, 0x5AB0000A
        ret
sub_b:  mov     eax, 0x5AB0000B
        ret
sub_ret12:
        ret     12
far_a:  mov     eax, 0xFA000001
        retf
far_ret4:
        retf    4
far16_ret:                              ; reached with CS = SEL_CODE32_B
        o16 retf
pm_int61:
        and     dword [esp + 8], ~1     ; CF off in the saved EFLAGS
        iretd

show_frame:
        push    eax
        mov     eax, ebp
        H32     eax, 8
        lea     eax, [esp + 8]
        H32     eax, 8
        H32     [ebp], 8
        H32     [ebp - 4], 8
        H32     [ebp - 8], 8
        H32     [ebp - 12], 8
        pop     eax
        ret

        align   4
calltab:        dd sub_a, sub_b
jumptab:        dd pm32.j0, pm32.j1, pm32.j2
loopdata:       db 0, 0, 0, 5, 0, 7, 1, 2, 3, 4, 5, 6

; 16-bit interrupt handler (gate 0x62 selects SEL_CODE16)
        bits    16
pm_int62:
        mov     eax, 0x16161616
        iret

; ---------------------------------------------------------------- 64-bit
        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     rsp, STACK_TOP
        call    setup_idt64
        lea     rax, [rel lm_int63]
        mov     word [IDT_RAM + 0x63 * 16], ax
        shr     eax, 16
        mov     word [IDT_RAM + 0x63 * 16 + 6], ax
        P64     'long64', 10
        P64     'near calls: '
        call    sub64
        H64     rax, 16
        lea     rbx, [rel sub64]
        call    rbx
        H64     rax, 16
        call    [rel sub64_ptr]
        H64     rax, 16
        mov     rdx, rsp
        push    1
        push    2
        call    sub64_ret16
        sub     rdx, rsp
        H64     rdx, 4
        P64     10
        P64     'push/pop 64: '
        mov     rdx, rsp
        push    -1
        push    qword 0x7FFFFFFF
        push    fs
        o16 push word 0x1234
        push    rsp
        sub     rdx, rsp
        H64     rdx, 4
        mov     rsi, rsp
        mov     ecx, 34
.d:     movzx   eax, byte [rsi]
        push    rcx
        mov     cl, 2
        call    hex64
        pop     rcx
        inc     rsi
        loop    .d
        mov     rsp, STACK_TOP
        P64     10
        P64     'enter/leave 64: '
        mov     rbp, 0xBBBB0000BBBB0000
        enter   0x20, 0
        mov     rax, rbp
        H64     rax, 16
        mov     rax, rsp
        H64     rax, 16
        leave
        H64     rbp, 16
        mov     rax, rsp
        H64     rax, 16
        P64     10
        P64     'int 0x63 / iretq: '
        mov     rdx, rsp
        int     0x63
        H64     rax, 16
        sub     rdx, rsp
        H64     rdx, 4
        P64     10
        P64     'far call to compatibility mode and back: '
        mov     dword [FARPTR], compat_sub
        mov     word [FARPTR + 4], SEL_CODE32
        mov     rdx, rsp
        call    far dword [FARPTR]      ; m16:32 (no REX.W)
        H64     rax, 16
        sub     rdx, rsp
        H64     rdx, 4
        P64     10
        P64     'iretq to compatibility mode: '
        mov     rax, rsp
        push    SEL_DATA64
        push    rax
        pushfq
        push    SEL_CODE32
        push    compat_iret
        iretq
back64:
        mov     ax, SEL_DATA64
        mov     ss, ax
        P64     'back in 64-bit', 10
        P64     'loop with rcx: '
        mov     rcx, 0x100000002
        xor     eax, eax
.l64:   inc     eax
        a32 loop .l64                   ; 67h: counts with ECX (2), RCX's upper half is cleared
        H64     rax, 8
        H64     rcx, 16
        P64     10
        jmp     finish64

sub64:  mov     rax, 0x5AB0000000000064
        ret
sub64_ret16:
        ret     16
lm_int63:
        mov     rax, 0x6363636363636363
        iretq
        align   8
sub64_ptr:      dq sub64

        bits    32
compat_sub:                             ; compatibility mode
        mov     eax, 0xC0C0C0C0
        mov     bx, cs
        retf
compat_iret:
        P32     'compat cs '
        mov     ax, cs
        H32     eax, 4
        P32     10
        jmp     SEL_CODE64:back64

%include "cpu-lib.inc"
