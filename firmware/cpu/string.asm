; =============================================================================
; string.asm - MOVS STOS LODS CMPS SCAS INS OUTS: every size, both directions,
; REP / REPE / REPNE, zero counts, early termination, segment overrides,
; 16-bit addressing (67h) with SI/DI wrapping at 64 KiB, 32-bit addressing in
; 64-bit mode; INS and OUTS through the fw_cfg data and selector ports and the
; debug console. Real mode, 32-bit protected mode and 64-bit long mode.
;
; After each test: "esi edi ecx eax flags" (flags masked to OF SF ZF AF PF CF,
; which only CMPS and SCAS change; otherwise they are those of the last
; arithmetic instruction of the setup, which defines all six) and the first 40 bytes of the destination
; buffer (0xEE where nothing was written).
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/string.bin firmware/cpu/string.asm
; =============================================================================

%include "cpu.inc"

SRC             equ DATA                ; 64 bytes: 3, 10, 17, ... (i * 7 + 3)
DST             equ DATA + 0x100        ; 64 bytes of 0xEE before each test
SRC2            equ DATA + 0x200        ; a copy of SRC with byte 9 changed
FW_CFG_SIGNATURE equ 0x00
FW_CFG_ID       equ 0x01

%macro T32 1
        P32     %1, ': '
        call    setup32
%endmacro
%macro T64 1
        P64     %1, ': '
        call    setup64
%endmacro

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'string v1', 10
        ; source at 0x0800:0x0000 (SRC), destination 0x0810:0x0000 (DST)
        mov     di, SRC
        mov     cx, 64
        mov     al, 3
.fill:  mov     [di], al
        add     al, 7
        inc     di
        loop    .fill
        mov     di, DST
        mov     cx, 64
        mov     al, 0xEE
        rep stosb
        mov     ax, SRC >> 4
        mov     ds, ax
        mov     ax, DST >> 4
        mov     es, ax
        xor     si, si
        mov     di, 2
        mov     cx, 5
        rep movsw
        std
        mov     si, 20
        mov     di, 30
        mov     cx, 3
        rep movsb
        cld
        mov     ax, 0x5AA5
        mov     di, 16
        mov     cx, 2
        rep stosw
        P16     'real movsw movsb stosw: si '
        H16     esi, 8
        P16     'di '
        H16     edi, 8
        P16     'cx '
        H16     ecx, 8
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     si, DST
        mov     cx, 32
.dump:  lodsb
        H16     eax, 2
        loop    .dump
        P16     10

        cli
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword SEL_CODE32:pm32

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

        T32     'rep movsb 13'
        inc     esi
        add     edi, 2
        mov     ecx, 13
        rep movsb
        call    show32
        T32     'rep movsw 7'
        mov     ecx, 7
        rep movsw
        call    show32
        T32     'rep movsd 5'
        add     esi, 3
        mov     ecx, 5
        rep movsd
        call    show32
        T32     'std rep movsb 13'
        add     esi, 20
        add     edi, 30
        std
        mov     ecx, 13
        rep movsb
        call    show32
        T32     'std rep movsd 4'
        add     esi, 36
        add     edi, 32
        std
        mov     ecx, 4
        rep movsd
        call    show32
        T32     'rep movsb ecx 0'
        mov     ecx, 0
        rep movsb
        call    show32
        T32     'movsb movsw movsd (no rep)'
        movsb
        movsw
        movsd
        call    show32
        T32     'fs: rep movsb (source base 1 MiB)'
        mov     dword [HIGH_DATA], 'FS s'
        mov     dword [HIGH_DATA + 4], 'rc. '
        mov     ax, SEL_SMALL
        mov     fs, ax
        mov     esi, 0
        mov     ecx, 8
        db      0x64                    ; fs:
        rep movsb
        mov     ax, SEL_DATA32
        mov     fs, ax
        call    show32
        T32     'rep stosb 9'
        mov     ecx, 9
        rep stosb
        call    show32
        T32     'rep stosw 5'
        mov     ecx, 5
        rep stosw
        call    show32
        T32     'std rep stosd 3'
        add     edi, 20
        std
        mov     ecx, 3
        rep stosd
        call    show32
        T32     'lodsb lodsw lodsd'
        lodsb
        lodsw
        lodsd
        call    show32
        T32     'rep lodsb 5'
        mov     ecx, 5
        rep lodsb
        call    show32
        T32     'std lodsw'
        add     esi, 10
        std
        lodsw
        call    show32
        T32     'repe cmpsb (differs at 9)'
        mov     edi, SRC2
        mov     ecx, 20
        repe cmpsb
        call    show32
        T32     'repe cmpsd (equal, runs out)'
        mov     edi, SRC2
        mov     ecx, 2
        repe cmpsd
        call    show32
        T32     'repne cmpsb (first equal byte)'
        mov     edi, SRC + 1
        mov     ecx, 20
        repne cmpsb
        call    show32
        T32     'cmpsw (no rep)'
        mov     edi, SRC2 + 8
        add     esi, 8
        cmpsw
        call    show32
        T32     'std repe cmpsw'
        add     esi, 20
        mov     edi, SRC2 + 20
        std
        mov     ecx, 8
        repe cmpsw
        call    show32
        T32     'repne scasb for 0x42'
        mov     edi, SRC
        mov     al, 3 + 7 * 11          ; byte 11
        mov     ecx, 30
        repne scasb
        call    show32
        T32     'repe scasb over 0xEE'
        mov     byte [DST + 6], 0x11
        mov     al, 0xEE
        mov     ecx, 30
        repe scasb
        call    show32
        T32     'repne scasd not found'
        mov     eax, 0x12345678
        mov     ecx, 6
        repne scasd
        call    show32
        T32     'std scasw'
        add     edi, 4
        std
        scasw
        call    show32
        T32     'a16 rep movsb: SI wraps at 64 KiB'
        mov     esi, 0xABCDFFFC
        mov     edi, 0x12340000 | DST
        mov     ecx, 0x55550006
        a16 rep movsb
        call    show32
        T32     'a16 rep stosw with CX'
        mov     edi, 0xFFFF0000 | DST
        mov     ecx, 0x00010003
        a16 rep stosw
        call    show32

        ; ---- INS / OUTS
        T32     'fw_cfg signature: rep insb 4, insw, insd, insb'
        mov     dx, PORT_FWCFG_SEL
        mov     ax, FW_CFG_SIGNATURE
        out     dx, ax
        mov     dx, PORT_FWCFG_DATA
        mov     ecx, 4
        rep insb
        insw                            ; a word read of the data port reads 0
        insd
        mov     dx, PORT_FWCFG_SEL
        mov     ax, FW_CFG_SIGNATURE
        out     dx, ax
        mov     dx, PORT_FWCFG_DATA
        insb
        call    show32
        T32     'fw_cfg ID: outsw to the selector, std rep insb 4'
        mov     word [SRC2 + 32], FW_CFG_ID
        mov     esi, SRC2 + 32
        mov     dx, PORT_FWCFG_SEL
        outsw
        mov     dx, PORT_FWCFG_DATA
        add     edi, 7
        std
        mov     ecx, 4
        rep insb
        call    show32
        T32     'rep outsb to the debug console'
        mov     esi, outs_text
        mov     dx, PORT_DEBUGCON
        mov     ecx, outs_text_end - outs_text
        rep outsb
        mov     esi, outs_text
        outsw                           ; a word write to the debug console prints nothing
        outsd
        call    show32

        ; ---- 64-bit
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

outs_text:      db '<outs>'
outs_text_end:
                db '..'

; setup32: fresh buffers, DF clear, flags 0x002, esi = SRC, edi = DST, eax = 0x11223344
setup32:
        pushad
        mov     edi, SRC
        mov     ecx, 64
        mov     al, 3
.f:     mov     [edi], al
        add     al, 7
        inc     edi
        loop    .f
        mov     esi, SRC
        mov     edi, SRC2
        mov     ecx, 16
        rep movsd
        mov     byte [SRC2 + 9], 0x99
        mov     edi, DST
        mov     ecx, 16
        mov     eax, 0xEEEEEEEE
        rep stosd
        popad
        push    dword 0x002
        popfd
        mov     esi, SRC
        mov     edi, DST
        mov     eax, 0x11223344
        mov     ecx, 0xCCCCCCCC
        ret

show32:
        pushfd
        push    eax
        P32     'esi '
        H32     esi, 8
        P32     'edi '
        H32     edi, 8
        P32     'ecx '
        H32     ecx, 8
        P32     'eax '
        H32     eax, 8
        P32     'flags '
        mov     eax, [esp + 4]
        and     eax, 0x8D5
        H32     eax, 3
        P32     10
        push    esi
        push    ecx
        mov     esi, DST
        mov     ecx, 40
        call    hexdump32
        pop     ecx
        pop     esi
        pop     eax
        popfd
        cld
        ret

; ---------------------------------------------------------------- 64-bit
        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    setup_idt64
        P64     'long64', 10
        T64     'rep movsq 3'
        mov     ecx, 3
        rep movsq
        call    show64
        T64     'std rep stosq 2'
        add     rdi, 24
        mov     rax, 0x0102030405060708
        std
        mov     ecx, 2
        rep stosq
        call    show64
        T64     'rep movsb 5 (64-bit addresses)'
        mov     rcx, 0x0000000000000005
        rep movsb
        call    show64
        T64     'a32 rep movsb: ECX 3 of 0x100000003, ESI/EDI zero-extend'
        mov     rsi, 0xFFFFFFFF00000000 | SRC
        mov     rdi, 0x1234567800000000 | DST
        mov     rcx, 0x100000003
        a32 rep movsb
        call    show64
        T64     'repne scasq'
        mov     rdi, SRC
        mov     rax, [SRC + 16]
        mov     ecx, 8
        repne scasq
        call    show64
        T64     'repe cmpsq'
        mov     rdi, SRC2
        mov     ecx, 4
        repe cmpsq
        call    show64
        T64     'lodsq, rep movsd 2'
        lodsq
        mov     ecx, 2
        rep movsd
        call    show64
        T64     'rep insb from fw_cfg (signature)'
        mov     dx, PORT_FWCFG_SEL
        mov     eax, 0
        out     dx, ax
        mov     dx, PORT_FWCFG_DATA
        mov     ecx, 6
        rep insb
        call    show64
        jmp     finish64

setup64:
        push    rax
        push    rcx
        push    rsi
        push    rdi
        mov     edi, SRC
        mov     ecx, 64
        mov     al, 3
.f:     mov     [rdi], al
        add     al, 7
        inc     rdi
        loop    .f
        mov     esi, SRC
        mov     edi, SRC2
        mov     ecx, 16
        rep movsd
        mov     byte [SRC2 + 9], 0x99
        mov     edi, DST
        mov     ecx, 16
        mov     eax, 0xEEEEEEEE
        rep stosd
        pop     rdi
        pop     rsi
        pop     rcx
        pop     rax
        push    0x002
        popfq
        mov     esi, SRC
        mov     edi, DST
        mov     rax, 0x1122334455667788
        mov     rcx, 0xCCCCCCCCCCCCCCCC
        ret

show64:
        pushfq
        push    rax
        P64     'rsi '
        H64     rsi, 16
        P64     'rdi '
        H64     rdi, 16
        P64     'rcx '
        H64     rcx, 16
        P64     'rax '
        H64     rax, 16
        P64     'flags '
        mov     rax, [rsp + 8]
        and     eax, 0x8D5
        H64     rax, 3
        P64     10
        push    rsi
        push    rcx
        mov     esi, DST
        mov     ecx, 40
        call    hexdump64
        pop     rcx
        pop     rsi
        pop     rax
        popfq
        cld
        ret

; hexdump64: esi = address, ecx = bytes (one line)
hexdump64:
        push    rax
        push    rcx
        push    rsi
.l:     movzx   eax, byte [rsi]
        push    rcx
        mov     cl, 2
        call    hex64
        pop     rcx
        inc     rsi
        loop    .l
        P64     10
        pop     rsi
        pop     rcx
        pop     rax
        ret

%include "cpu-lib.inc"
