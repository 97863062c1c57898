; =============================================================================
; faults.asm - exceptions and interrupts, delivered and recovered from, in
; real mode (IVT), 32-bit protected mode (IDT, rings 0 and 3, paging) and
; 64-bit long mode (IDT with 64-bit gates).
;
; Every test names itself, arms the handler with the address to resume at
; (EXPECT32/EXPECT64, or v_resume in real mode), and runs the faulting
; instruction. The handler prints
;   real mode:  "rexc VV at CCCC IIII"
;   protected:  "exc VV err EEEEEEEE at CCCC EEEEEEEE [cr2 AAAAAAAA]"
;   long mode:  "exc VV err EEEEEEEE at CCCC RRRRRRRRRRRRRRRR [cr2 ...]"
; (vector, error code, the saved CS:(E/R)IP - the faulting instruction for a
; fault, the next one for a trap - and CR2 for #PF), then returns to the
; resume address with IRET. "MISSING exception" marks a test that did not
; fault.
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/faults.bin firmware/cpu/faults.asm
; =============================================================================

%include "cpu.inc"

PD              equ 0x10000             ; 32-bit paging: page directory
PT              equ 0x11000             ; identity 0-4 MiB, 4 KiB pages, user
PT64            equ 0x13000             ; long mode: 4 KiB pages for VA 0x200000-0x3FFFFF
VA_NP           equ 0x300000            ; not present
VA_RO           equ 0x301000            ; read-only
VA_SUP          equ 0x302000            ; supervisor only
RING3_STACK     equ 0x6A00
RING0_STACK     equ 0x6E00              ; TSS.ESP0
WATCH           equ DATA + 0x100        ; data breakpoint target

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'faults v1', 10
        ; IVT: vectors 0-31 and 0x80 to the stubs
        mov     di, 0
        mov     si, R(rm_stubs)
        mov     cx, 32
.ivt:   mov     [di], si
        mov     word [di + 2], 0xF000
        add     si, rm_stub_size
        add     di, 4
        loop    .ivt
        mov     word [0x80 * 4], R(rm_isr_80)
        mov     word [0x80 * 4 + 2], 0xF000

        P16     'real #DE div: '
        mov     word [v_resume], R(.r1)
        mov     ax, 0x1234
        xor     bl, bl
        div     bl
.r1:    P16     'real #DE aam 0: '
        mov     word [v_resume], R(.r2)
        aam     0
.r2:    P16     'real int3: '
        mov     word [v_resume], R(.r3)
        int3
.r3:    P16     'real into OF=1: '
        mov     word [v_resume], R(.r4)
        mov     al, 0x7F
        add     al, 1
        into
.r4:    P16     'real into OF=0 (no trap)', 10
        mov     al, 1
        add     al, 1
        into
        P16     'real #UD ud2: '
        mov     word [v_resume], R(.r5)
        ud2
.r5:    P16     'real #UD lock nop: '
        mov     word [v_resume], R(.r6)
        db      0xF0, 0x90
.r6:    P16     'real bound: '
        mov     word [v_resume], R(.r7)
        mov     dword [DATA], 0x00200010        ; bounds 0x10..0x20
        mov     ax, 0x21
        bound   ax, [DATA]
.r7:    P16     'real bound in range (no trap)', 10
        mov     ax, 0x20
        bound   ax, [DATA]
        P16     'real int 0x80: '
        mov     word [v_resume], R(.r8)
        int     0x80
.r8:    P16     'real int 0x1e: '
        mov     word [v_resume], R(.r9)
        int     0x1E
.r9:    P16     'real single step: '
        mov     word [v_resume], R(.r10)
        pushf
        or      word [esp], 0x100
        popf
        nop                             ; traps after this one
.r10:   nop
        P16     'real after single step', 10

        ; protected mode
        cli
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword SEL_CODE32:pm32

; real-mode exception stubs: push the vector, then the common handler
rm_stubs:
%assign v 0
%rep 32
        push    word v
        jmp     near rm_common
  %assign v v + 1
%endrep
rm_stub_size    equ (rm_isr_80 - rm_stubs) / 32
rm_isr_80:
        push    word 0x80
        jmp     near rm_common

rm_common:
        push    bp
        mov     bp, sp                  ; vec [bp+2] ip +4 cs +6 flags +8
        P16     'rexc '
        H16     [bp + 2], 2
        P16     'at '
        H16     [bp + 6], 4
        H16     [bp + 4], 4
        P16     10
        push    ax
        mov     ax, [v_resume]
        test    ax, ax
        jz      .fatal
        mov     [bp + 4], ax
        and     word [bp + 8], ~0x100   ; TF off
        mov     word [v_resume], 0
        pop     ax
        pop     bp
        add     sp, 2
        iret
.fatal: jmp     fatal16

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

        P32     '#DE div 0: '
        EXPECT32 .p1
        xor     ecx, ecx
        div     ecx
.p1:    P32     '#DE idiv overflow: '
        EXPECT32 .p2
        mov     eax, 0x80000000
        cdq
        mov     ecx, -1
        idiv    ecx
.p2:    P32     '#DE idiv8 overflow: '
        EXPECT32 .p3
        mov     ax, 0x8000
        mov     cl, 2
        idiv    cl
.p3:    P32     '#UD ud2: '
        EXPECT32 .p4
        ud2
.p4:    P32     '#UD lock nop: '
        EXPECT32 .p5
        db      0xF0, 0x90
.p5:    P32     '#UD mov cs: '
        EXPECT32 .p6
        mov     cs, ax
.p6:    P32     '#UD lock add reg: '
        EXPECT32 .p7
        db      0xF0, 0x01, 0xC0        ; lock add eax, eax
.p7:    P32     '#BP int3: '
        EXPECT32 .p8
        int3
.p8:    P32     'int 3 (CD 03): '
        EXPECT32 .p9
        int     3
.p9:    P32     '#OF into: '
        EXPECT32 .p10
        mov     eax, 0x7FFFFFFF
        inc     eax
        into
.p10:   P32     '#BR bound: '
        EXPECT32 .p11
        mov     dword [DATA], -5
        mov     dword [DATA + 4], 5
        mov     eax, -6
        bound   eax, [DATA]
.p11:   P32     'int 0x40: '
        EXPECT32 .p12
        int     0x40
.p12:   P32     'int 0xff: '
        EXPECT32 .p13
        int     0xFF
.p13:   P32     '#GP selector past the GDT limit: '
        EXPECT32 .p14
        mov     ax, 0x0400
        mov     ds, ax
.p14:   P32     '#GP TSS selector into DS: '
        EXPECT32 .p15
        mov     ax, SEL_TSS
        mov     ds, ax
.p15:   P32     '#GP null SS: '
        EXPECT32 .p16
        xor     eax, eax
        mov     ss, ax
.p16:   P32     '#GP read-only SS: '
        EXPECT32 .p17
        mov     ax, SEL_RO
        mov     ss, ax
.p17:   P32     '#GP far jmp to a data segment: '
        EXPECT32 .p18
        jmp     SEL_DATA32:0
.p18:   P32     '#GP LDT selector with no LDT: '
        EXPECT32 .p19
        mov     ax, 0x0004
        mov     es, ax
.p19:   P32     '#NP DS not present: '
        EXPECT32 .p20
        mov     ax, SEL_NOTPRESENT
        mov     ds, ax
.p20:   P32     '#SS SS not present: '
        EXPECT32 .p21
        mov     ax, SEL_NOTPRESENT
        mov     ss, ax
.p21:   P32     '#DB single step: '
        EXPECT32 .p24
        pushfd
        or      dword [esp], 0x100
        popfd
        nop
.p24:   nop
        P32     '#DB instruction breakpoint (DR0): '
        mov     eax, .bp_here
        mov     dr0, eax
        mov     eax, 0x00000001         ; L0, execute, length 1
        mov     dr7, eax
        EXPECT32 .p25
.bp_here:
        nop
.p25:   P32     'dr6 '
        mov     eax, dr6
        H32     eax, 8
        P32     10
        xor     eax, eax
        mov     dr6, eax
        P32     '#DB data write breakpoint (DR1): '
        mov     eax, WATCH
        mov     dr1, eax
        mov     eax, 0x00D00004         ; L1, write, length 4
        mov     dr7, eax
        EXPECT32 .p26
        mov     dword [WATCH], 1        ; traps after the write
.p26:   P32     'dr6 '
        mov     eax, dr6
        H32     eax, 8
        H32     [WATCH], 8
        P32     10
        xor     eax, eax
        mov     dr7, eax
        mov     dr6, eax
        call    expect_done32

        ; ---- paging: identity 0-4 MiB with 4 KiB user pages, three special pages
        mov     edi, PD
        xor     eax, eax
        mov     ecx, 0x2000 / 4
        rep stosd
        mov     dword [PD], PT | 0x007
        mov     edi, PT
        mov     eax, 0x007
        mov     ecx, 1024
.id:    stosd
        add     eax, 0x1000
        loop    .id
        mov     dword [PT + (VA_NP >> 12) * 4], 0x00000000
        mov     dword [PT + (VA_RO >> 12) * 4], VA_RO | 0x005
        mov     dword [PT + (VA_SUP >> 12) * 4], VA_SUP | 0x003
        mov     eax, PD
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80010000         ; PG WP
        mov     cr0, eax
        P32     '#PF read not present: '
        EXPECT32 .q1
        mov     eax, [VA_NP + 0x123]
.q1:    P32     '#PF write not present: '
        EXPECT32 .q2
        mov     byte [VA_NP + 0xFFF], 1
.q2:    P32     '#PF write read-only (WP): '
        EXPECT32 .q3
        mov     dword [VA_RO + 8], 1
.q3:    P32     '#PF fetch not present: '
        EXPECT32 .q4
        call    VA_NP + 0x10
.q4:    P32     'supervisor read of the read-only page (no fault) '
        H32     [VA_RO + 8], 8
        P32     10
        P32     'pte '
        H32     [PT + (VA_RO >> 12) * 4], 8
        H32     [PT + (VA_SUP >> 12) * 4], 8
        H32     [PD], 8
        P32     10
        P32     '#PF read straddling into a not-present page: '
        EXPECT32 .q5
        mov     eax, [VA_NP - 2]
.q5:    call    expect_done32

        ; ---- ring 3 (IOPL 3 so that it can print)
        mov     dword [TSS_RAM + 4], RING0_STACK        ; ESP0
        mov     dword [TSS_RAM + 8], SEL_DATA32         ; SS0
        mov     word [TSS_RAM + 0x66], 0x68             ; no I/O bitmap
        mov     ax, SEL_TSS
        ltr     ax
        ; gate 0x41 (DPL 3): back to ring 0; gate 0x42: DPL 0
        mov     eax, ring0_return
        mov     word [IDT_RAM + 0x41 * 8], ax
        shr     eax, 16
        mov     word [IDT_RAM + 0x41 * 8 + 6], ax
        mov     word [IDT_RAM + 0x42 * 8 + 4], 0x8E00
        push    dword SEL_DATA32_3
        push    dword RING3_STACK
        push    dword 0x3002                            ; IOPL 3
        push    dword SEL_CODE32_3
        push    dword ring3
        iretd

ring3:
        mov     ax, SEL_DATA32_3
        mov     ds, ax
        mov     es, ax
        P32     'ring 3 cs '
        mov     ax, cs
        H32     eax, 4
        P32     'ss '
        mov     ax, ss
        H32     eax, 4
        P32     10
        P32     'ring 3 #GP hlt: '
        EXPECT32 .u1
        hlt
.u1:    P32     'ring 3 #GP mov cr0: '
        EXPECT32 .u2
        mov     eax, cr0
.u2:    P32     'ring 3 #GP lgdt: '
        EXPECT32 .u3
        lgdt    [DATA]
.u3:    P32     'ring 3 #GP int 0x42 (gate DPL 0): '
        EXPECT32 .u4
        int     0x42
.u4:    P32     'ring 3 #GP load DS with a DPL 0 segment: '
        EXPECT32 .u5
        mov     ax, SEL_DATA32
        mov     ds, ax
.u5:    P32     'ring 3 #PF read supervisor page: '
        EXPECT32 .u6
        mov     eax, [VA_SUP]
.u6:    P32     'ring 3 #PF write read-only page: '
        EXPECT32 .u7
        mov     dword [VA_RO], 2
.u7:    P32     'ring 3 #UD: '
        EXPECT32 .u8
        ud2
.u8:    P32     'ring 3 int3: '
        EXPECT32 .u9
        int3
.u9:    P32     'ring 3 rdtsc allowed (CR4.TSD 0) '
        rdtsc
        xor     eax, eax
        xor     edx, edx
        P32     10
        int     0x41

ring0_return:                           ; from ring 3 through gate 0x41
        add     esp, 20                 ; EIP CS EFLAGS ESP SS of ring 3
        mov     esp, STACK_TOP
        mov     ax, SEL_DATA32
        mov     ds, ax
        mov     es, ax
        P32     'back in ring 0 cs '
        mov     ax, cs
        H32     eax, 4
        P32     'busy tss '
        H32     [GDT_RAM + SEL_TSS + 4], 8
        P32     10
        call    expect_done32

        ; ---- long mode: paging off, then 4-level tables with a 4 KiB page table at 2 MiB
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        call    build_pt_long
        mov     edi, PT64
        mov     eax, 0x200003
        mov     ecx, 512
.pt64:  mov     [edi], eax
        mov     dword [edi + 4], 0
        add     eax, 0x1000
        add     edi, 8
        loop    .pt64
        mov     dword [PT64 + 0 * 8], 0                         ; 0x200000 not present
        mov     dword [PT64 + 1 * 8], 0x201001                  ; 0x201000 read-only
        mov     dword [PT64 + 2 * 8 + 4], 0x80000000            ; 0x202000 NX
        mov     dword [PT_BASE + 0x2000 + 8], PT64 | 0x003
        mov     byte [0x202000], 0xC3                           ; ret
        mov     eax, cr4
        or      eax, 0x20
        mov     cr4, eax
        mov     eax, PT_BASE
        mov     cr3, eax
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, 0x900                                      ; LME NXE
        wrmsr
        mov     eax, cr0
        or      eax, 0x80010000
        mov     cr0, eax
        jmp     SEL_CODE64:long64

        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     rsp, STACK_TOP
        call    setup_idt64
        P64     'long64', 10
        P64     '#DE div 0: '
        EXPECT64 .l1
        xor     ecx, ecx
        div     rcx
.l1:    P64     '#DE idiv64 overflow: '
        EXPECT64 .l2
        mov     rax, 0x8000000000000000
        cqo
        mov     rcx, -1
        idiv    rcx
.l2:    P64     '#UD ud2: '
        EXPECT64 .l3
        ud2
.l3:    P64     '#UD into (invalid in 64-bit mode): '
        EXPECT64 .l4
        db      0xCE
.l4:    P64     '#UD aaa (invalid in 64-bit mode): '
        EXPECT64 .l5
        db      0x37
.l5:    P64     '#BP int3: '
        EXPECT64 .l6
        int3
.l6:    P64     'int 0x40: '
        EXPECT64 .l7
        int     0x40
.l7:    P64     '#GP non-canonical read: '
        EXPECT64 .l8
        mov     rbx, 0x0000800000000000
        mov     rax, [rbx]
.l8:    P64     '#GP non-canonical write: '
        EXPECT64 .l9
        mov     rbx, 0xFFFF7FFFFFFFFFF8
        mov     [rbx], rax
.l9:    P64     'non-canonical access through RSP: '
        EXPECT64 .l10
        mov     rbx, 0x0000800000000000
        mov     rax, [rsp + rbx]
.l10:   P64     '#GP non-canonical jump target: '
        EXPECT64 .l11
        mov     rax, 0x0000800000000000
        jmp     rax
.l11:   P64     '#GP selector past the GDT limit: '
        EXPECT64 .l12
        mov     ax, 0x0400
        mov     ds, ax
.l12:   P64     '#NP DS not present: '
        EXPECT64 .l13
        mov     ax, SEL_NOTPRESENT
        mov     ds, ax
.l13:   P64     'null SS at CPL 0 in 64-bit mode (allowed, no fault)', 10
        xor     eax, eax
        mov     ss, ax
        mov     ax, SEL_DATA64
        mov     ss, ax
        P64     '#PF read not present: '
        EXPECT64 .l14
        mov     rax, [0x200010]
.l14:   P64     '#PF write read-only: '
        EXPECT64 .l15
        mov     dword [0x201010], 1
.l15:   P64     '#PF fetch from NX page: '
        EXPECT64 .l16
        mov     rax, 0x202000
        call    rax
.l16:   P64     '#PF high address not present: '
        EXPECT64 .l17
        mov     rbx, 0xFFFF800012345678
        mov     al, [rbx]
.l17:   P64     '#DB single step: '
        EXPECT64 .l19
        pushfq
        or      qword [rsp], 0x100
        popfq
        nop
.l19:   nop
        P64     '#SS SS not present: '
        EXPECT64 .l20
        mov     ax, SEL_NOTPRESENT
        mov     ss, ax
.l20:   P64     '#GP read-only SS: '
        EXPECT64 .l21
        mov     ax, SEL_RO
        mov     ss, ax
.l21:   call    expect_done64

        ; ---- ring 3 in compatibility mode; exceptions switch to TSS.RSP0
        or      dword [PT_BASE], 4                      ; user pages: PML4[0], PDPT[0], PD[0]
        or      dword [PT_BASE + 0x1000], 4
        or      dword [PT_BASE + 0x2000], 4
        mov     rax, cr3
        mov     cr3, rax
        mov     qword [TSS_RAM + 4], RING0_STACK        ; RSP0 of the 64-bit TSS
        lea     rax, [rel lm_ring0_return]
        mov     word [IDT_RAM + 0x41 * 16], ax
        shr     eax, 16
        mov     word [IDT_RAM + 0x41 * 16 + 6], ax
        push    SEL_DATA32_3
        push    RING3_STACK
        push    0x3002                                  ; IOPL 3
        push    SEL_CODE32_3
        push    lm_ring3
        iretq

lm_ring0_return:
        mov     rbp, rsp
        P64     'back in ring 0 from ring 3: rsp '
        H64     rbp, 8
        P64     'frame '
        H64     [rbp], 8                                ; RIP
        H64     [rbp + 8], 4                            ; CS
        mov     rax, [rbp + 16]                         ; RFLAGS without the arithmetic flags
        and     eax, ~0x8D5
        H64     rax, 8
        H64     [rbp + 24], 8                           ; RSP
        H64     [rbp + 32], 4                           ; SS
        P64     10
        mov     rsp, STACK_TOP
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    expect_done64
        P64     'exceptions taken '
        H64     [v_excs], 8
        P64     10
        jmp     finish64

        bits    32
lm_ring3:                               ; compatibility mode, CPL 3
        mov     ax, SEL_DATA32_3
        mov     ds, ax
        mov     es, ax
        P32     'long mode ring 3 (compatibility) cs '
        mov     ax, cs
        H32     eax, 4
        P32     10
        P32     'ring 3 #GP hlt: '
        EXPECT32 .v1
        hlt
.v1:    P32     'ring 3 #GP mov cr3: '
        EXPECT32 .v2
        mov     eax, cr3
.v2:    P32     'ring 3 #UD: '
        EXPECT32 .v3
        ud2
.v3:    P32     'ring 3 #PF write to a supervisor page: '
        EXPECT32 .v4
        mov     dword [0x203000], 1
.v4:    P32     'ring 3 #DE: '
        EXPECT32 .v5
        mov     ecx, 0
        div     ecx
.v5:    int     0x41

%include "cpu-lib.inc"
