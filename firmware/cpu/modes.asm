; =============================================================================
; modes.asm - every x86 operating mode in turn, with the state that says so.
;
;   real mode -> 16-bit protected mode -> 32-bit protected mode
;   -> 32-bit paging with 4 KiB pages -> + PSE 4 MiB pages -> paging off
;   -> PAE paging (2 MiB and 4 KiB pages, NX) -> paging off
;   -> long mode: compatibility mode, then 64-bit (2 MiB and 4 KiB pages,
;      high-half aliases) -> compatibility mode -> 64-bit
;   -> leave long mode: compatibility -> 32-bit protected -> 16-bit protected
;      -> real mode (FS keeps its flat descriptor: "unreal" accesses above
;      1 MiB) -> back into long mode from scratch, load the system
;      registers (LDTR, TR, FS/GS bases, KERNEL_GS_BASE) and every GPR; END
;
; Each stop prints CR0/CR3/CR4/EFER, the selectors, and what a memory access
; through that mode's translation read; paging stops print the page-table
; entries afterwards (the CPU's accessed and dirty bits included).
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/modes.bin firmware/cpu/modes.asm
; =============================================================================

%include "cpu.inc"

; page tables (all kept, so the final dump shows each mode's tables)
PD32            equ 0x10000             ; 32-bit page directory
PT32_0          equ 0x11000             ; identity 0-4 MiB, 4 KiB pages
PT32_1          equ 0x12000             ; VA 0x400000-0x7FFFFF
PAE_PDPT        equ 0x13000
PAE_PD          equ 0x14000
PAE_PT          equ 0x15000
L4_PML4         equ 0x16000
L4_PDPT         equ 0x17000
L4_PD           equ 0x18000
L4_PT           equ 0x19000
L4_PDPT_HI      equ 0x1A000             ; PML4[256]: VA 0xFFFF800000000000
L4_PD_HI        equ 0x1B000
L4_PDPT_TOP     equ 0x1C000             ; PML4[511]: VA 0xFFFFFFFF80000000
L4_PD_TOP       equ 0x1D000
PT_END          equ 0x1E000

PAGE_A          equ 0x100000            ; data pages
PAGE_B          equ 0x101000

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'modes v1', 10
        P16     'real '
        call    state16
        ; segment arithmetic: 0x1000:0x0010 and 0x1001:0x0000 are the same byte
        mov     ax, 0x1000
        mov     es, ax
        mov     dword [es:0x0010], 0x89ABCDEF
        mov     ax, 0x1001
        mov     ds, ax
        mov     eax, [0x0000]
        P16     'seg '
        H16     eax, 8
        ; 32-bit addressing in real mode (within the 64 KiB limit), SIB, 67h
        mov     ebx, 0x0008
        mov     ecx, 2
        mov     eax, [ebx + ecx * 4 - 0x0010 + 0x10]    ; 0x1001:0x0010
        H16     eax, 8
        mov     dword [ebx + ecx * 4], 0x01234567
        mov     ax, 0x1002
        mov     fs, ax
        mov     eax, [fs:0x0000]
        H16     eax, 8
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        P16     10
        ; a far call and return through real-mode segments
        call    0xF000:R(far16)
        P16     'far ret ok', 10

        ; into 16-bit protected mode
        cli
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     SEL_CODE16:R(pm16)

far16:  P16     'far call cs '
        mov     ax, cs
        H16     eax, 4
        P16     10
        retf

pm16:
        mov     ax, SEL_DATA16
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        P16     'pm16 '
        call    state16
        P16     10
        ; 16-bit addressing forms in protected mode
        mov     bx, 0x8000
        mov     si, 0x0010
        mov     di, 0x0020
        mov     bp, 0x8000
        mov     word [bx + si], 0x1111
        mov     word [bx + di + 2], 0x2222
        mov     word [bp + si + 4], 0x3333          ; SS-relative
        mov     word [bp + di - 2], 0x4444
        mov     ax, [bx + si]
        add     ax, [0x8022]
        add     ax, [ss:0x8014]
        add     ax, [es:0x801E]
        P16     'pm16 sum '
        H16     eax, 4
        P16     10
        jmp     dword SEL_CODE32:pm32

; state16: cr0, efer, msw and selectors from 16-bit code
state16:
        P16     'cr0 '
        mov     eax, cr0
        H16     eax, 8
        P16     'msw '
        smsw    ax
        H16     eax, 4
        P16     'efer '
        push    ecx
        push    edx
        mov     ecx, MSR_EFER
        rdmsr
        H16     eax, 8
        pop     edx
        pop     ecx
        P16     'cs '
        mov     ax, cs
        H16     eax, 4
        P16     'ds '
        mov     ax, ds
        H16     eax, 4
        P16     'ss '
        mov     ax, ss
        H16     eax, 4
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
        P32     'pm32 '
        call    state32
        P32     10

        ; clear the page-table area and the data pages
        mov     edi, PD32
        xor     eax, eax
        mov     ecx, (PT_END - PD32) / 4
        rep stosd
        mov     edi, PAGE_A
        mov     ecx, 0x2000 / 4
        rep stosd

        ; ---- 32-bit paging, 4 KiB pages
        mov     dword [PD32 + 0 * 4], PT32_0 | 0x003
        mov     dword [PD32 + 1 * 4], PT32_1 | 0x007            ; user
        mov     edi, PT32_0
        mov     eax, 0x003
        mov     ecx, 1024
.id4k:  stosd
        add     eax, 0x1000
        loop    .id4k
        mov     dword [PT32_1 + 0 * 4], PAGE_A | 0x003          ; VA 0x400000 -> PAGE_A
        mov     dword [PT32_1 + 1 * 4], PAGE_A | 0x001          ; VA 0x401000 -> PAGE_A, read-only
        mov     dword [PT32_1 + 2 * 4], PAGE_B | 0x007          ; VA 0x402000 -> PAGE_B, user
        mov     dword [PT32_1 + 3 * 4], PAGE_B | 0x01B          ; VA 0x403000 -> PAGE_B, PCD PWT
        mov     eax, PD32
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        P32     'paging32 '
        call    state32
        mov     dword [0x400000 + 0x10], 0xA1A2A3A4
        mov     dword [0x402000 + 0x20], 0xB1B2B3B4
        P32     'read '
        H32     [PAGE_A + 0x10], 8
        H32     [0x401000 + 0x10], 8
        H32     [0x403000 + 0x20], 8
        P32     10
        P32     'pde '
        H32     [PD32], 8
        H32     [PD32 + 4], 8
        P32     'pte '
        mov     esi, PT32_1
        mov     ecx, 4
.p4k:   lodsd
        H32     eax, 8
        loop    .p4k
        H32     [PT32_0 + 0x100 * 4], 8                         ; PAGE_A, identity
        H32     [PT32_0 + 0xF0 * 4], 8                          ; the code page
        P32     10

        ; ---- PSE: a 4 MiB page at VA 0x800000 -> 0
        mov     eax, cr4
        or      eax, 0x10
        mov     cr4, eax
        mov     dword [PD32 + 2 * 4], 0x00000083
        mov     dword [PD32 + 3 * 4], 0x00400083 | 0x1000       ; PAT bit (12) set: 4 MiB page with PAT
        mov     eax, cr3
        mov     cr3, eax                                        ; flush
        P32     'pse '
        call    state32
        mov     eax, [0x800000 + PAGE_A + 0x10]
        H32     eax, 8
        mov     dword [0x800000 + PAGE_A + 0x14], 0xC1C2C3C4
        H32     [PAGE_A + 0x14], 8
        mov     eax, [0xC00000]
        H32     eax, 8
        P32     'pde '
        H32     [PD32 + 2 * 4], 8
        H32     [PD32 + 3 * 4], 8
        P32     10

        ; ---- paging off, PAE with NX
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        P32     'nopaging '
        call    state32
        P32     10
        mov     dword [PAE_PDPT + 0 * 8], PAE_PD | 0x001        ; PDPTEs: P only
        mov     dword [PAE_PDPT + 3 * 8], PAE_PD | 0x001        ; VA 0xC0000000 aliases 0
        mov     dword [PAE_PD + 0 * 8], PAE_PT | 0x003
        mov     dword [PAE_PD + 1 * 8], 0x00200000 | 0x083      ; 2 MiB identity
        mov     dword [PAE_PD + 2 * 8], 0x00000000 | 0x083      ; VA 0x400000 -> 0 (2 MiB)
        mov     dword [PAE_PD + 3 * 8], 0x00000000 | 0x083
        mov     dword [PAE_PD + 3 * 8 + 4], 0x80000000          ; VA 0x600000 -> 0, NX
        mov     edi, PAE_PT
        mov     eax, 0x003
        mov     ecx, 512
.idpae: mov     [edi], eax
        add     eax, 0x1000
        add     edi, 8
        loop    .idpae
        mov     dword [PAE_PT + 0x1FF * 8], PAGE_B | 0x003      ; VA 0x1FF000 -> PAGE_B
        mov     dword [PAE_PT + 0x1FF * 8 + 4], 0x80000000      ; NX
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, 0x800                                      ; NXE
        wrmsr
        mov     eax, cr4
        or      eax, 0x20                                       ; PAE (PSE stays set)
        mov     cr4, eax
        mov     eax, PAE_PDPT
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        P32     'pae '
        call    state32
        H32     [0x400000 + PAGE_A + 0x14], 8
        H32     [0x600000 + PAGE_A + 0x10], 8
        H32     [0x1FF000 + 0x20], 8
        mov     dword [0xC0000000 + PAGE_A + 0x18], 0xD1D2D3D4
        H32     [PAGE_A + 0x18], 8
        P32     10
        P32     'pae entries '
        H32     [PAE_PDPT], 8
        mov     esi, PAE_PD
        mov     ecx, 4
.ppd:   H32     [esi + 4], 8
        H32     [esi], 8
        add     esi, 8
        loop    .ppd
        H32     [PAE_PT + 0x1FF * 8 + 4], 8
        H32     [PAE_PT + 0x1FF * 8], 8
        H32     [PAE_PT + 0xF0 * 8], 8
        P32     10

        ; ---- paging off, then long mode
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        call    build_l4
        mov     eax, L4_PML4
        mov     cr3, eax
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, 0x100                                      ; LME
        wrmsr
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        P32     'compat '                                       ; still CS 0x08: compatibility mode
        call    state32
        P32     10
        jmp     SEL_CODE64:long64

; build_l4: 4-level tables
;   PML4[0] -> PDPT -> PD: [0] -> PT (4 KiB identity 0-2 MiB), [1..3] 2 MiB identity
;   PML4[256] (0xFFFF800000000000) -> PDPT_HI -> PD_HI: [0] 2 MiB -> 0x200000, [1] -> PT
;   PML4[511] -> PDPT_TOP: [510] (0xFFFFFFFF80000000) -> PD_TOP: [0] 2 MiB -> 0
build_l4:
        mov     dword [L4_PML4 + 0 * 8], L4_PDPT | 0x003
        mov     dword [L4_PML4 + 256 * 8], L4_PDPT_HI | 0x003
        mov     dword [L4_PML4 + 511 * 8], L4_PDPT_TOP | 0x003
        mov     dword [L4_PDPT + 0 * 8], L4_PD | 0x003
        mov     dword [L4_PD + 0 * 8], L4_PT | 0x003
        mov     dword [L4_PD + 1 * 8], 0x00200000 | 0x083
        mov     dword [L4_PD + 2 * 8], 0x00400000 | 0x083
        mov     dword [L4_PD + 3 * 8], 0x00600000 | 0x183       ; global
        mov     edi, L4_PT
        mov     eax, 0x003
        mov     ecx, 512
.id:    mov     [edi], eax
        add     eax, 0x1000
        add     edi, 8
        loop    .id
        mov     dword [L4_PDPT_HI + 0 * 8], L4_PD_HI | 0x003
        mov     dword [L4_PD_HI + 0 * 8], 0x00200000 | 0x083
        mov     dword [L4_PD_HI + 1 * 8], L4_PT | 0x003         ; shares the identity PT
        mov     dword [L4_PDPT_TOP + 510 * 8], L4_PD_TOP | 0x003
        mov     dword [L4_PD_TOP + 0 * 8], 0x00000000 | 0x083
        ret

; state32: cr0 cr3 cr4 efer and selectors from 32-bit code
state32:
        push    eax
        push    ecx
        push    edx
        P32     'cr0 '
        mov     eax, cr0
        H32     eax, 8
        P32     'cr3 '
        mov     eax, cr3
        H32     eax, 8
        P32     'cr4 '
        mov     eax, cr4
        H32     eax, 8
        P32     'efer '
        mov     ecx, MSR_EFER
        rdmsr
        H32     eax, 8
        P32     'cs '
        mov     ax, cs
        H32     eax, 4
        P32     'ds '
        mov     ax, ds
        H32     eax, 4
        P32     'ss '
        mov     ax, ss
        H32     eax, 4
        pop     edx
        pop     ecx
        pop     eax
        ret

; ---------------------------------------------------------------- 64-bit
        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    setup_idt64
        P64     'long64 '
        call    state64
        P64     10
        ; the high-half aliases
        mov     rbx, 0xFFFF800000000000
        mov     rax, 0x0123456789ABCDEF
        mov     [rbx + 0x1000], rax                             ; -> 0x201000
        mov     rax, [0x201000]
        H64     rax, 16
        mov     rcx, 0xFFFF800000200000 + PAGE_A                ; via PD_HI[1] -> PT -> PAGE_A
        mov     rax, [rcx + 0x10]
        H64     rax, 16
        mov     rdx, 0xFFFFFFFF80000000
        mov     eax, [rdx + PAGE_A + 0x14]
        H64     rax, 8
        mov     rax, [rel qdata]                                ; RIP-relative
        H64     rax, 16
        lea     rax, [rel qdata]
        H64     rax, 8
        P64     10
        P64     'l4 entries '
        H64     [L4_PML4], 16
        H64     [L4_PML4 + 256 * 8], 16
        H64     [L4_PML4 + 511 * 8], 16
        H64     [L4_PDPT], 16
        H64     [L4_PDPT_HI], 16
        H64     [L4_PDPT_TOP + 510 * 8], 16
        H64     [L4_PD], 16
        H64     [L4_PD + 8], 16
        H64     [L4_PD_HI], 16
        H64     [L4_PD_HI + 8], 16
        H64     [L4_PD_TOP], 16
        H64     [L4_PT + 0x100 * 8], 16
        H64     [L4_PT + 0xF0 * 8], 16
        P64     10

        ; to compatibility mode and back
        push    SEL_CODE32
        lea     rax, [rel compat32]
        push    rax
        retfq
back64:
        mov     ax, SEL_DATA64
        mov     ss, ax
        P64     'back in 64-bit cs '
        mov     ax, cs
        H64     rax, 4
        P64     10

        ; leave long mode: compatibility mode, then paging off
        push    SEL_CODE32
        lea     rax, [rel leave32]
        push    rax
        retfq

; state64: cr0 cr3 cr4 efer and selectors from 64-bit code
state64:
        push    rax
        push    rcx
        push    rdx
        P64     'cr0 '
        mov     rax, cr0
        H64     rax, 8
        P64     'cr3 '
        mov     rax, cr3
        H64     rax, 8
        P64     'cr4 '
        mov     rax, cr4
        H64     rax, 8
        P64     'efer '
        mov     ecx, MSR_EFER
        rdmsr
        H64     rax, 8
        P64     'cs '
        mov     ax, cs
        H64     rax, 4
        P64     'ss '
        mov     ax, ss
        H64     rax, 4
        pop     rdx
        pop     rcx
        pop     rax
        ret

        align   8
qdata:  dq      0xFEDCBA9876543210

; ---------------------------------------------------------------- compatibility mode
        bits    32
compat32:
        P32     'compat32 '
        call    state32
        ; 32-bit code in long mode: addresses are 32 bits, pushes are 4 bytes
        mov     eax, esp
        push    dword 0x11111111
        push    dword 0x22222222
        sub     eax, esp
        add     esp, 8
        H32     eax, 2
        P32     10
        jmp     SEL_CODE64:back64

leave32:
        mov     eax, cr0
        and     eax, 0x7FFFFFFF                                 ; paging off: LMA clears
        mov     cr0, eax
        mov     ecx, MSR_EFER
        rdmsr
        and     eax, ~0x100                                     ; LME off
        wrmsr
        mov     ax, SEL_DATA32
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    setup_idt32
        P32     'left long mode '
        call    state32
        P32     10
        jmp     SEL_CODE16:R(leave16)

; ---------------------------------------------------------------- back to real mode
        bits    16
        align   4
ivtr:   dw      0x3FF                   ; the real-mode IVT at 0
        dd      0
leave16:
        mov     ax, SEL_DATA16
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        P16     'pm16 again '
        call    state16
        P16     10
        mov     eax, cr0
        and     al, 0xFE
        mov     cr0, eax
        jmp     0xF000:R(real2)
real2:
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, STACK_TOP
  [warning push]
  [warning -number-overflow]
        o32 lidt [cs:R(ivtr)]           ; (nasm's first pass cannot size R(ivtr) yet)
  [warning pop]
        P16     'real again '
        call    state16
        P16     10
        ; FS still holds the flat 4 GiB descriptor loaded in protected mode:
        ; "unreal" mode reaches above 1 MiB with a 32-bit offset
        P16     'unreal fs '
        mov     ax, fs
        H16     eax, 4
        mov     esi, PAGE_A + 0x10
        mov     eax, [fs:esi]
        H16     eax, 8
        mov     dword [fs:esi + 0x20], 0x0BADCAFE
        mov     eax, [fs:dword PAGE_A + 0x30]   ; 67h with a 32-bit displacement
        H16     eax, 8
        P16     10

        ; straight into long mode again: PE and PG together from real mode is not
        ; allowed, so through 32-bit protected mode
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword SEL_CODE32:again32

        bits    32
again32:
        mov     ax, SEL_DATA32
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, STACK_TOP
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, 0x100
        wrmsr
        mov     eax, L4_PML4
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80010000                                 ; PG WP
        mov     cr0, eax
        jmp     SEL_CODE64:final64

        bits    64
final64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        call    setup_idt64
        mov     ax, SEL_LDT
        lldt    ax
        mov     ax, SEL_TSS
        ltr     ax
        mov     ax, SEL_DATA64
        mov     fs, ax
        mov     gs, ax
        mov     ecx, MSR_FS_BASE
        mov     eax, 0x12345000
        mov     edx, 0x00007F00
        wrmsr
        mov     ecx, MSR_GS_BASE
        mov     eax, 0x00010000
        mov     edx, 0xFFFF8880
        wrmsr
        mov     ecx, MSR_KGS_BASE
        mov     eax, 0x0F000000
        mov     edx, 0xFFFF8880
        wrmsr
        mov     rax, 0x00005555DEADB000
        mov     cr2, rax
        P64     'long64 again '
        call    state64
        P64     10
        mov     rax, 0xAAAA000000000A01
        mov     rbx, 0xBBBB000000000B02
        mov     rcx, 0xCCCC000000000C03
        mov     rdx, 0xDDDD000000000D04
        mov     rsi, 0x5151000000005105
        mov     rdi, 0xD1D1000000000D06
        mov     rbp, 0xBEBE00000000BE07
        mov     r8,  0x0808080800000008
        mov     r9,  0x0909090900000009
        mov     r10, 0x101010100000000A
        mov     r11, 0x111111110000000B
        mov     r12, 0x121212120000000C
        mov     r13, 0x131313130000000D
        mov     r14, 0x141414140000000E
        mov     r15, 0x151515150000000F
        jmp     finish64

%include "cpu-lib.inc"
