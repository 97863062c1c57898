; =============================================================================
; default.asm - slice86's default firmware: what the main job runs.
;
;   1. real mode: greet on the debug console (port 0xE9)
;   2. 32-bit protected mode: probe fw_cfg by ports (signature "QEMU", the
;      FW_CFG_ID feature bits, the DMA interface's "QEMU CFG" signature)
;   3. read the file directory with one fw_cfg DMA READ and list every file
;      (selector, size, name)
;   4. write a Linux-style VMCOREINFO ELF note to RAM and register it with one
;      DMA SELECT|WRITE of the 16-byte record to etc/vmcoreinfo
;      {host_format 0, guest_format 1 (ELF), size, physical address}
;   5. enter 64-bit long mode with 4-level paging, print CR0/CR3/CR4/EFER
;   6. "END", then cli; hlt (the state a dump of the machine shows)
;
; Build:  nasm -f bin -I firmware/cpu/ -o firmware/cpu/default.bin firmware/cpu/default.asm
; Run:    qemu-system-x86_64 -M pc -m 32M -nodefaults -bios firmware/cpu/default.bin \
;           -device vmcoreinfo -debugcon stdio
; =============================================================================

%include "cpu.inc"

DIRBUF          equ DATA                ; fw_cfg directory read by DMA (4 + 64 x 64 bytes)
DMA_DESC        equ 0x9000              ; DMA descriptor (16 bytes, big-endian fields)
VMCI_REC        equ 0x9020              ; the etc/vmcoreinfo record (16 bytes, little-endian)
NOTE_ADDR       equ 0xA000              ; the VMCOREINFO note
DIR_MAX         equ 64                  ; entries read at most

FW_CFG_SIGNATURE equ 0x00
FW_CFG_ID       equ 0x01
FW_CFG_FILE_DIR equ 0x19
FW_CFG_VERSION_DMA equ 0x02             ; FW_CFG_ID bit: the DMA interface exists
CTL_ERROR       equ 0x01
CTL_READ        equ 0x02
CTL_SELECT      equ 0x08
CTL_WRITE       equ 0x10

; ---------------------------------------------------------------- real mode
        bits    16
main16:
        P16     'slice86 default firmware', 10
        cli
        LGDT_RAM16
        mov     eax, cr0
        or      al, 1                   ; PE
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
        P32     'protected mode', 10

        ; fw_cfg signature and features, by port
        mov     dx, PORT_FWCFG_SEL
        mov     ax, FW_CFG_SIGNATURE
        out     dx, ax
        mov     dx, PORT_FWCFG_DATA
        mov     edi, v_tmp
        mov     ecx, 4
        rep insb
        P32     'fw_cfg signature '
        mov     esi, v_tmp
        mov     ecx, 4
        call    print_n
        cmp     dword [v_tmp], 'QEMU'
        jne     no_fwcfg
        mov     dx, PORT_FWCFG_SEL
        mov     ax, FW_CFG_ID
        out     dx, ax
        mov     dx, PORT_FWCFG_DATA
        mov     edi, v_tmp
        mov     ecx, 4
        rep insb
        mov     ebx, [v_tmp]            ; little-endian
        P32     ' id '
        H32     ebx, 8
        test    bl, FW_CFG_VERSION_DMA
        jz      no_dma
        mov     dx, PORT_FWCFG_DMA_HI   ; the DMA address register reads "QEMU CFG"
        in      eax, dx             ; bytes in port order: "QEMU"
        mov     [v_tmp], eax
        mov     dx, PORT_FWCFG_DMA_LO
        in      eax, dx             ; " CFG"
        mov     [v_tmp + 4], eax
        P32     'dma '
        mov     esi, v_tmp
        mov     ecx, 8
        call    print_n
        P32     10

        ; the file directory, by DMA
        mov     eax, (FW_CFG_FILE_DIR << 16) | CTL_SELECT | CTL_READ
        mov     ebx, 4 + DIR_MAX * 64
        mov     ecx, DIRBUF
        call    fwcfg_dma
        test    eax, eax
        jnz     dma_failed
        mov     ebp, [DIRBUF]
        bswap   ebp
        P32     'files '
        H32     ebp, 8
        P32     10
        cmp     ebp, DIR_MAX
        jbe     .count_ok
        mov     ebp, DIR_MAX
.count_ok:
        mov     ebx, DIRBUF + 4
        xor     edi, edi                ; key of etc/vmcoreinfo, 0 if none
.entry: test    ebp, ebp
        jz      .listed
        movzx   eax, word [ebx + 4]     ; select, big-endian
        xchg    al, ah
        P32     'file '
        H32     eax, 4
        mov     ecx, [ebx]              ; size, big-endian
        bswap   ecx
        H32     ecx, 8
        lea     esi, [ebx + 8]
        call    print_z
        P32     10
        push    eax
        lea     esi, [ebx + 8]
        mov     edx, name_vmci
        call    streq
        pop     eax
        jne     .next
        mov     edi, eax
.next:  add     ebx, 64
        dec     ebp
        jmp     .entry
.listed:
        test    edi, edi
        jz      no_vmcoreinfo

        ; the VMCOREINFO note, then its registration
        mov     esi, vmci_note
        mov     ebx, edi
        mov     edi, NOTE_ADDR
        mov     ecx, vmci_note_end - vmci_note
        rep movsb
        mov     dword [VMCI_REC], 0x00010000            ; host_format 0, guest_format 1 (ELF)
        mov     dword [VMCI_REC + 4], vmci_note_end - vmci_note
        mov     dword [VMCI_REC + 8], NOTE_ADDR
        mov     dword [VMCI_REC + 12], 0
        mov     eax, ebx
        shl     eax, 16
        or      eax, CTL_SELECT | CTL_WRITE
        mov     ebx, 16
        mov     ecx, VMCI_REC
        call    fwcfg_dma
        test    eax, eax
        jnz     dma_failed
        P32     'vmcoreinfo note at '
        H32     NOTE_ADDR, 8
        P32     'size '
        H32     vmci_note_end - vmci_note, 4
        P32     10

        ; long mode: identity-mapped first GiB, 2 MiB pages
        call    build_pt_long
        mov     eax, cr4
        or      eax, 0x20               ; PAE
        mov     cr4, eax
        mov     eax, PT_BASE
        mov     cr3, eax
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, 0x100              ; LME
        wrmsr
        mov     eax, cr0
        or      eax, 0x80000000         ; PG
        mov     cr0, eax
        jmp     SEL_CODE64:long64

no_fwcfg:
        P32     10, 'FATAL no fw_cfg', 10
        jmp     fatal32
no_dma:
        P32     10, 'FATAL no fw_cfg DMA', 10
        jmp     fatal32
dma_failed:
        P32     'FATAL fw_cfg DMA error', 10
        jmp     fatal32
no_vmcoreinfo:
        P32     'FATAL no etc/vmcoreinfo', 10
        jmp     fatal32

; fwcfg_dma: eax = control word, ebx = length, ecx = guest address; one transfer
; through the descriptor at DMA_DESC; returns the control word after it in eax
; (0 when it succeeded)
fwcfg_dma:
        push    edx
        bswap   eax
        mov     [DMA_DESC], eax
        bswap   ebx
        mov     [DMA_DESC + 4], ebx
        bswap   ebx
        mov     dword [DMA_DESC + 8], 0
        bswap   ecx
        mov     [DMA_DESC + 12], ecx
        bswap   ecx
        mov     dx, PORT_FWCFG_DMA_HI
        xor     eax, eax
        out     dx, eax
        mov     dx, PORT_FWCFG_DMA_LO
        mov     eax, DMA_DESC
        bswap   eax
        out     dx, eax                 ; the transfer runs here
        mov     eax, [DMA_DESC]
        bswap   eax
        pop     edx
        ret

; print_n: esi = bytes, ecx = count (printable ASCII expected)
print_n:
        push    eax
        push    edx
        mov     dx, PORT_DEBUGCON
.l:     lodsb
        out     dx, al
        loop    .l
        pop     edx
        pop     eax
        ret

; print_z: esi = NUL-terminated name (at most 56 bytes)
print_z:
        push    eax
        push    ecx
        push    edx
        mov     dx, PORT_DEBUGCON
        mov     ecx, 56
.l:     lodsb
        test    al, al
        jz      .d
        out     dx, al
        loop    .l
.d:     pop     edx
        pop     ecx
        pop     eax
        ret

; streq: ZF set when the NUL-terminated strings at esi and edx are equal
streq:
        push    esi
        push    edx
        push    eax
.l:     mov     al, [esi]
        cmp     al, [edx]
        jne     .d
        inc     esi
        inc     edx
        test    al, al
        jnz     .l
.d:     pop     eax
        pop     edx
        pop     esi
        ret

; ---------------------------------------------------------------- 64-bit
        bits    64
long64:
        mov     ax, SEL_DATA64
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     fs, ax
        mov     gs, ax
        call    setup_idt64
        P64     'long mode cr0 '
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
        P64     10
        jmp     finish64

; ---------------------------------------------------------------- data
name_vmci:      db 'etc/vmcoreinfo', 0

; A Linux-style VMCOREINFO note: Elf64_Nhdr {namesz 11, descsz, type 0},
; "VMCOREINFO\0" padded to 12, the key=value text padded to 4
        align   4
vmci_note:
        dd      11
        dd      vmci_text_end - vmci_text
        dd      0
        db      'VMCOREINFO', 0, 0
vmci_text:
        db      'OSRELEASE=6.1.0-slice86', 10
        db      'PAGESIZE=4096', 10
vmci_text_end:
        times   (4 - ((vmci_text_end - vmci_text) % 4)) % 4 db 0
vmci_note_end:

%include "cpu-lib.inc"
