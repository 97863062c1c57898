; =============================================================================
; system.asm - system instructions and CPU identity: CPUID (the qemu64 model as
; QEMU 7.2 TCG reports it), RDMSR/WRMSR (EFER, FS/GS/KERNEL_GS base, APIC
; base, TSC), SWAPGS, LGDT/LIDT/LLDT/LTR and SGDT/SIDT/SLDT/STR/SMSW, MOV CRn
; (CR0 CR2 CR3 CR4 CR8), MOV DRn (DR4/DR5 aliases), INVLPG and CR3 reloads,
; RDTSC (only that it increases), PAUSE and the NOP forms, prefix
; combinations, FXSAVE/FXRSTOR images (32- and 64-bit formats),
; LDMXCSR/STMXCSR and the SSE moves MOVDQA MOVDQU MOVAPS MOVUPS MOVQ MOVD with
; their faults (#UD without CR4.OSFXSR, #NM with CR0.TS or CR0.EM, #GP on
; misalignment). The FXSAVE areas are filled with 0xA5 first, so the dump shows exactly
; which bytes the CPU writes.
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/system.bin firmware/cpu/system.asm
; =============================================================================

%include "cpu.inc"

FXAREA          equ SSE_AREA            ; 512 bytes, 16-byte aligned
FXAREA2         equ SSE_AREA + 0x200
XBUF            equ SSE_AREA + 0x400    ; 64 bytes for SSE stores (16-byte aligned)
TBL             equ DATA                ; SGDT/SIDT results
PD              equ 0x10000             ; 32-bit paging for the INVLPG test
PT              equ 0x11000
VA_TEST         equ 0x3FF000            ; remapped between two pages
PAGE_X          equ HIGH_DATA
PAGE_Y          equ HIGH_DATA + 0x1000

%macro CPUID32 2                        ; leaf, subleaf
        mov     eax, %1
        mov     ecx, %2
        call    show_cpuid
%endmacro

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'system v1', 10
        P16     'real smsw '
        smsw    ax
        H16     eax, 4
        P16     'cpuid 0 '
        xor     eax, eax
        cpuid
        H16     eax, 8
        H16     ebx, 8
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

        ; ---- CPUID
        CPUID32 0, 0
        CPUID32 1, 0
        CPUID32 2, 0
        CPUID32 4, 0
        CPUID32 4, 1
        CPUID32 5, 0
        CPUID32 6, 0
        CPUID32 7, 0
        CPUID32 7, 1
        CPUID32 0xB, 0
        CPUID32 0xB, 1
        CPUID32 0xD, 0
        CPUID32 0xD, 1
        CPUID32 0x80000000, 0
        CPUID32 0x80000001, 0
        CPUID32 0x80000002, 0
        CPUID32 0x80000003, 0
        CPUID32 0x80000004, 0
        CPUID32 0x80000005, 0
        CPUID32 0x80000006, 0
        CPUID32 0x80000007, 0
        CPUID32 0x80000008, 0
        P32     'brand '
        mov     edi, TBL
        mov     esi, 0x80000002
.brand: mov     eax, esi
        cpuid
        stosd
        mov     eax, ebx
        stosd
        mov     eax, ecx
        stosd
        mov     eax, edx
        stosd
        inc     esi
        cmp     esi, 0x80000005
        jb      .brand
        mov     byte [edi], 0
        mov     esi, TBL
.bp:    mov     al, [esi]
        test    al, al
        jz      .bd
        out     PORT_DEBUGCON, al
        inc     esi
        jmp     .bp
.bd:    P32     10
        P32     'cpuid 1 ecx with CR4.OSXSAVE clear: OSXSAVE bit '
        mov     eax, 1
        cpuid
        shr     ecx, 27
        and     ecx, 1
        H32     ecx, 1
        P32     10

        ; ---- MSRs
        P32     'msr efer '
        mov     ecx, MSR_EFER
        rdmsr
        H32     edx, 8
        H32     eax, 8
        or      eax, 1                  ; SCE
        wrmsr
        rdmsr
        H32     eax, 8
        and     eax, ~1
        wrmsr
        P32     'apic base '
        mov     ecx, MSR_APIC_BASE
        rdmsr
        H32     edx, 8
        H32     eax, 8
        P32     'fs base '
        mov     ecx, MSR_FS_BASE
        mov     eax, 0x89ABC000
        mov     edx, 0x00000012
        wrmsr
        xor     eax, eax
        xor     edx, edx
        rdmsr
        H32     edx, 8
        H32     eax, 8
        P32     'gs base '
        mov     ecx, MSR_GS_BASE
        mov     eax, 0x00001000
        mov     edx, 0xFFFF8000
        wrmsr
        rdmsr
        H32     edx, 8
        H32     eax, 8
        P32     'kgs base '
        mov     ecx, MSR_KGS_BASE
        mov     eax, 0xDEAD0000
        mov     edx, 0x0000BEEF
        wrmsr
        rdmsr
        H32     edx, 8
        H32     eax, 8
        P32     10
        P32     'tsc: '
        mov     ecx, MSR_TSC
        xor     eax, eax
        xor     edx, edx
        wrmsr
        rdtsc
        mov     esi, eax
        mov     edi, edx
        mov     ecx, 1000
.spin:  pause
        loop    .spin
        rdtsc
        sub     eax, esi
        sbb     edx, edi
        jc      .tsc_bad
        or      eax, edx
        jz      .tsc_bad
        P32     'increases'
        jmp     .tsc_done
.tsc_bad:
        P32     'does not increase'
.tsc_done:
        mov     ecx, MSR_TSC
        rdmsr
        cmp     edx, 0
        jne     .tsc_big
        P32     ', small after wrmsr 0'
.tsc_big:
        xor     eax, eax
        xor     edx, edx
        xor     esi, esi
        xor     edi, edi
        P32     10

        ; ---- descriptor tables
        P32     'sgdt '
        sgdt    [TBL]
        H32     [TBL], 4
        H32     [TBL + 2], 8
        P32     'sidt '
        sidt    [TBL]
        H32     [TBL], 4
        H32     [TBL + 2], 8
        P32     'sldt '
        mov     eax, 0xFFFFFFFF
        sldt    eax
        H32     eax, 8
        P32     'str '
        str     ax
        H32     eax, 8
        mov     ax, SEL_LDT
        lldt    ax
        mov     ax, SEL_TSS
        ltr     ax
        P32     'after lldt/ltr: sldt '
        mov     word [TBL], 0xFFFF
        sldt    [TBL]
        H32     [TBL], 4
        P32     'str '
        mov     eax, 0xFFFFFFFF
        str     eax
        H32     eax, 8
        P32     'tss desc '
        H32     [GDT_RAM + SEL_TSS + 4], 8
        P32     10
        P32     'lgdt 16-bit operand size (24-bit base): '
        mov     word [TBL], gdt_end - gdt - 1
        mov     dword [TBL + 2], 0xAB000000 | GDT_RAM
        o16 lgdt [TBL]
        sgdt    [TBL + 8]
        H32     [TBL + 10], 8
        lgdt    [gdtr_ram]
        P32     'lidt: '
        mov     word [TBL], 0x1234
        mov     dword [TBL + 2], 0x00123450
        lidt    [TBL]
        sidt    [TBL + 8]
        H32     [TBL + 8], 4
        H32     [TBL + 10], 8
        lidt    [idtr32]
        P32     10
        P32     'smsw '
        smsw    [TBL]
        H32     [TBL], 4
        smsw    eax
        H32     eax, 4
        P32     10

        ; ---- control registers
        P32     'cr0 '
        mov     eax, cr0
        H32     eax, 8
        or      eax, 0x00050022         ; AM WP NE MP
        and     eax, ~0x0000000C        ; EM TS off
        mov     cr0, eax
        mov     eax, cr0
        H32     eax, 8
        P32     'cr2 '
        mov     eax, 0x12345678
        mov     cr2, eax
        mov     eax, cr2
        H32     eax, 8
        P32     'cr3 '
        mov     eax, 0x00ABC018
        mov     cr3, eax
        mov     eax, cr3
        H32     eax, 8
        P32     'cr4 '
        mov     eax, 0x000006DC         ; OSXMMEXCPT OSFXSR PGE MCE PSE DE TSD
        mov     cr4, eax
        mov     eax, cr4
        H32     eax, 8
        P32     10

        ; ---- debug registers
        P32     'dr0-3 '
        mov     eax, 0x11111110
        mov     dr0, eax
        mov     eax, 0x22222220
        mov     dr1, eax
        mov     eax, 0x33333330
        mov     dr2, eax
        mov     eax, 0x44444440
        mov     dr3, eax
        mov     eax, dr0
        H32     eax, 8
        mov     eax, dr1
        H32     eax, 8
        mov     eax, dr2
        H32     eax, 8
        mov     eax, dr3
        H32     eax, 8
        P32     'dr6 '
        mov     eax, dr6
        H32     eax, 8
        P32     'dr7 '
        mov     eax, dr7
        H32     eax, 8
        mov     eax, 0x00000700         ; GE LE bit 10: no breakpoint enabled
        mov     dr7, eax
        mov     eax, dr7
        H32     eax, 8
        P32     10
        P32     'dr4 with CR4.DE set: '
        EXPECT32 .dr4
        mov     eax, dr4
.dr4:   mov     eax, cr4
        and     eax, ~8                 ; DE off: DR4/DR5 alias DR6/DR7
        mov     cr4, eax
        P32     'dr4 dr5 with CR4.DE clear '
        mov     eax, dr4
        H32     eax, 8
        mov     eax, dr5
        H32     eax, 8
        P32     10
        xor     eax, eax
        mov     dr0, eax
        mov     dr1, eax
        mov     dr2, eax
        mov     dr3, eax
        mov     eax, 0x400
        mov     dr7, eax
        call    expect_done32

        ; ---- INVLPG
        mov     edi, PD
        xor     eax, eax
        mov     ecx, 0x2000 / 4
        rep stosd
        mov     dword [PD], PT | 3
        mov     edi, PT
        mov     eax, 3
        mov     ecx, 1024
.pt:    stosd
        add     eax, 0x1000
        loop    .pt
        mov     dword [PAGE_X], 'page'
        mov     dword [PAGE_X + 4], ' X  '
        mov     dword [PAGE_Y], 'page'
        mov     dword [PAGE_Y + 4], ' Y  '
        mov     dword [PT + (VA_TEST >> 12) * 4], PAGE_X | 3
        mov     eax, PD
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        P32     'invlpg: '
        mov     eax, [VA_TEST + 4]
        H32     eax, 8
        mov     dword [PT + (VA_TEST >> 12) * 4], PAGE_Y | 3
        invlpg  [VA_TEST]
        mov     eax, [VA_TEST + 4]
        H32     eax, 8
        mov     dword [PT + (VA_TEST >> 12) * 4], PAGE_X | 3
        mov     eax, cr3
        mov     cr3, eax                ; a CR3 load flushes non-global entries
        mov     eax, [VA_TEST + 4]
        H32     eax, 8
        H32     [PT + (VA_TEST >> 12) * 4], 8
        P32     10
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax

        ; ---- SSE and FXSAVE (32-bit format)
        P32     'mxcsr '
        stmxcsr [TBL]
        H32     [TBL], 8
        mov     dword [TBL], 0x00007F80 | 0x4000 | 0x3F     ; RC=down... flags set
        ldmxcsr [TBL]
        stmxcsr [TBL + 4]
        H32     [TBL + 4], 8
        mov     dword [TBL], 0x00001F80
        ldmxcsr [TBL]
        P32     10
        call    sse_moves32
        P32     'fxsave (32-bit):', 10
        mov     edi, FXAREA
        mov     eax, 0xA5A5A5A5
        mov     ecx, 128
        rep stosd
        fxsave  [FXAREA]
        mov     esi, FXAREA
        mov     ecx, 512
        call    hexdump32
        P32     'fxrstor of a changed image, then fxsave again:', 10
        mov     esi, FXAREA
        mov     edi, FXAREA2
        mov     ecx, 128
        rep movsd
        mov     dword [FXAREA2 + 24], 0x00003F80                ; MXCSR: RC down
        mov     dword [FXAREA2 + 160], 0xCAFEBABE              ; XMM0 bytes 0-3
        mov     dword [FXAREA2 + 160 + 7 * 16 + 12], 0x77777777 ; XMM7 bytes 12-15
        fxrstor [FXAREA2]
        mov     edi, FXAREA
        mov     eax, 0x5A5A5A5A
        mov     ecx, 128
        rep stosd
        fxsave  [FXAREA]
        mov     esi, FXAREA
        mov     ecx, 192
        call    hexdump32
        call    sse_faults32

        ; ---- NOPs, PAUSE, prefixes
        P32     'nops: '
        nop
        pause
        db      0x66, 0x90
        db      0x0F, 0x1F, 0x00
        db      0x0F, 0x1F, 0x40, 0x00
        db      0x0F, 0x1F, 0x44, 0x00, 0x00
        db      0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00
        db      0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00
        db      0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
        db      0x0F, 0x18, 0x00        ; prefetchnta [eax]: a hint, no effect
        sti
        cli
        P32     'ok', 10
        P32     'prefixes: '
        mov     eax, 0x11111111
        mov     ebx, 0x22222222
        db      0x66, 0x66, 0x01, 0xD8  ; two 66h: add ax, bx
        H32     eax, 8
        db      0x67, 0x66, 0x8D, 0x00  ; 67h 66h lea ax, [bx + si]
        H32     eax, 8
        mov     esi, TBL
        mov     dword [TBL], 0x0BADF00D
        db      0x2E, 0x3E, 0x8B, 0x06  ; cs: ds: mov eax, [esi]: the last segment prefix wins
        H32     eax, 8
        mov     edi, XBUF
        mov     ecx, 2
        db      0xF3, 0x66, 0xA5        ; rep o16 movsw: two words
        H32     [XBUF], 8
        H32     ecx, 8
        P32     10

        ; ---- long mode
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

show_cpuid:
        P32     'cpuid '
        H32     eax, 8
        H32     ecx, 1
        cpuid
        H32     eax, 8
        H32     ebx, 8
        H32     ecx, 8
        H32     edx, 8
        P32     10
        ret

sse_moves32:
        P32     'sse moves:', 10
        movdqu  xmm0, [sse_data]
        movdqa  xmm1, [sse_data + 16]
        movups  xmm2, [sse_data + 1]            ; misaligned: fine for U forms
        movaps  xmm3, xmm1
        movq    xmm4, [sse_data + 8]            ; zero-extends to 128 bits
        movq    xmm5, xmm0                      ; reg-reg: clears bits 64-127
        mov     eax, 0xFEDCBA98
        movd    xmm6, eax
        movdqa  xmm7, xmm2
        movd    ebx, xmm7
        H32     ebx, 8
        P32     10
        mov     edi, XBUF
        movdqa  [edi], xmm0
        movdqu  [edi + 16], xmm2
        movaps  [edi + 32], xmm4
        movups  [edi + 48], xmm5
        mov     esi, edi
        mov     ecx, 64
        call    hexdump32
        movq    [edi], xmm6
        movd    [edi + 8], xmm1
        movdqu  xmm0, [sse_data + 3]
        movdqu  [edi + 16], xmm0
        movaps  [edi + 32], xmm3
        mov     esi, edi
        mov     ecx, 48
        call    hexdump32
        ret

sse_faults32:
        P32     'movdqa misaligned: '
        EXPECT32 .f1
        movdqa  xmm0, [sse_data + 4]
.f1:    P32     'movaps store misaligned: '
        EXPECT32 .f2
        movaps  [XBUF + 8], xmm0
.f2:    P32     'movdqu with CR0.TS: '
        mov     eax, cr0
        or      eax, 8
        mov     cr0, eax
        EXPECT32 .f3
        movdqu  xmm0, [sse_data]
.f3:    clts
        P32     'movups with CR4.OSFXSR clear: '
        mov     eax, cr4
        and     eax, ~0x200
        mov     cr4, eax
        EXPECT32 .f4
        movups  xmm0, [sse_data]
.f4:    P32     'fxsave with CR0.EM: '
        mov     eax, cr4
        or      eax, 0x200
        mov     cr4, eax
        mov     eax, cr0
        or      eax, 4
        mov     cr0, eax
        EXPECT32 .f5
        fxsave  [FXAREA]
.f5:    mov     eax, cr0
        and     eax, ~4
        mov     cr0, eax
        call    expect_done32
        ret

        align   16
sse_data:
%assign i 0
%rep 48
        db      0x10 + i * 5
  %assign i i + 1
%endrep

; ---------------------------------------------------------------- 64-bit
        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    setup_idt64
        P64     'long64', 10
        P64     'sgdt sidt (10 bytes) '
        mov     rax, -1
        mov     [TBL], rax
        mov     [TBL + 8], rax
        sgdt    [TBL]
        H64     [TBL], 16
        H64     [TBL + 8], 4
        sidt    [TBL]
        H64     [TBL], 16
        H64     [TBL + 8], 4
        P64     10
        P64     'lgdt 64-bit base: '
        mov     word [TBL], gdt_end - gdt - 1
        mov     qword [TBL + 2], GDT_RAM
        lgdt    [TBL]
        sgdt    [TBL + 16]
        H64     [TBL + 18], 16
        P64     10
        P64     'fs/gs bases: '
        mov     ax, SEL_DATA64
        mov     fs, ax                  ; selectors first: a load sets the base from the GDT
        mov     gs, ax
        mov     ecx, MSR_FS_BASE
        mov     eax, HIGH_DATA
        xor     edx, edx
        wrmsr
        mov     qword [HIGH_DATA + 0x20], 0x0F5BA5E0
        mov     rax, [fs:0x20]
        H64     rax, 8
        mov     ecx, MSR_GS_BASE
        mov     eax, HIGH_DATA + 0x20
        wrmsr
        mov     rax, [gs:0]
        H64     rax, 8
        mov     ecx, MSR_KGS_BASE
        mov     eax, HIGH_DATA + 0x1000
        wrmsr
        swapgs
        mov     ecx, MSR_GS_BASE
        rdmsr
        H64     rax, 8
        mov     ecx, MSR_KGS_BASE
        rdmsr
        H64     rax, 8
        swapgs
        mov     ecx, MSR_GS_BASE
        rdmsr
        H64     rax, 8
        P64     10
        P64     'cr8 '
        mov     rax, cr8
        H64     rax, 2
        mov     eax, 5
        mov     cr8, rax
        mov     rax, cr8
        H64     rax, 2
        xor     eax, eax
        mov     cr8, rax
        P64     10
        P64     'sse 64: '
        mov     rax, 0x0123456789ABCDEF
        movq    xmm8, rax
        movq    rbx, xmm8
        H64     rbx, 16
        movdqu  xmm15, [rel sse_data]
        movdqa  xmm9, xmm15
        movd    ecx, xmm9
        H64     rcx, 16
        movq    r10, xmm9
        H64     r10, 16
        lea     r11, [rel sse_data]
        movups  xmm12, [r11 + 5]
        movdqu  [XBUF], xmm12
        H64     [XBUF + 8], 16
        P64     10
        P64     'fxsave64:', 10
        mov     edi, FXAREA
        mov     eax, 0xA5A5A5A5
        mov     ecx, 128
        rep stosd
        fxsave64 [FXAREA]
        mov     esi, FXAREA
        mov     ecx, 32
.fx:    H64     [rsi], 16
        H64     [rsi + 8], 16
        test    ecx, 1
        jz      .nl
        P64     10
.nl:    add     rsi, 16
        loop    .fx
        P64     'REX.W with 66h: '
        mov     rax, 0x1111111111111111
        mov     rbx, 0x2222222222222222
        db      0x66, 0x48, 0x01, 0xD8  ; add rax, rbx (REX.W beats 66h)
        H64     rax, 16
        P64     10
        jmp     finish64

%include "cpu-lib.inc"
