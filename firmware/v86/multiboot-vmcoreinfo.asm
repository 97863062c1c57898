; =============================================================================
; multiboot-vmcoreinfo.asm - a multiboot guest for v86 that registers a
; Linux-style VMCOREINFO ELF note through fw_cfg DMA, as Linux's qemu_fw_cfg
; driver does, and halts in a known register state for a dump.
;
; Build:  nasm -f bin -o multiboot-vmcoreinfo.bin multiboot-vmcoreinfo.asm
; Run:    v86 with { multiboot: { buffer } } and slice86's attachToV86 (with or
;         without a BIOS: SeaBIOS loads it through the genroms/multiboot.bin
;         option ROM that the adapter re-exports over fw_cfg).
;
; What it does (32-bit protected mode, flat segments from the loader):
;   1. "v86-multiboot-vmcoreinfo v1" on the debug console (port 0xE9).
;   2. fw_cfg by port: signature "QEMU" (selector 0), FW_CFG_ID has the DMA bit;
;      the DMA register reads back "QEMU CFG" (inl 0x514, inl 0x518).
;   3. by DMA: the file directory (selector 0x19: count, then 64-byte entries),
;      looking for "etc/vmcoreinfo".
;   4. one DMA SELECT|WRITE of the 16-byte record {u16 host_format 0,
;      u16 guest_format 1 (ELF), u32 size NOTE_SIZE, u64 paddr NOTE} for that key,
;      then one DMA SELECT|READ of it back; the DMA control words must come back 0.
;   5. "vmcoreinfo key KKKK note AAAAAAAA" and "ready" on the console, loads the
;      final registers and stops with "cli; hlt" (v86's cpu-event-halt).
;   "FATAL <what>" on the console and a halt with eax = 0xBAD0BAD0 on failure.
;
; The note (in this image, 4-byte aligned): Elf32_Nhdr {namesz 11, descsz, type 0},
; "VMCOREINFO\0" + 1 pad, text "OSRELEASE=6.1.0-v86\nPAGESIZE=4096\n" + pad.
;
; Final registers: eax 0xAAAA0A01 ebx 0xBBBB0B02 ecx 0xCCCC0C03 edx 0xDDDD0D04
;   esi 0x51515105 edi 0xD1D10D06 ebp 0xBEBEBE07 esp STACK_TOP, eflags 0x000002
;   (after cli), eip = the address after the hlt (HALT_AT + 2).
; =============================================================================

        bits    32
        org     0x100000

MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010000            ; a.out kludge: addresses below, no ELF

PORT_SEL        equ 0x510
PORT_DATA       equ 0x511
PORT_DMA_HI     equ 0x514
PORT_DMA_LO     equ 0x518
PORT_DEBUGCON   equ 0xE9
FW_CFG_ID       equ 0x01
FW_CFG_FILE_DIR equ 0x19
CTL_ERROR       equ 0x01
CTL_READ        equ 0x02
CTL_SELECT      equ 0x08
CTL_WRITE       equ 0x10
VERSION_DMA     equ 0x02

%macro PRINT 1+
        call    print_inline
        db      %1, 0
%endmacro

%macro FATAL 1
        call    print_inline
        db      'FATAL ', %1, 10, 0
        jmp     fail
%endmacro

mb_header:
        dd      MB_MAGIC
        dd      MB_FLAGS
        dd      -(MB_MAGIC + MB_FLAGS)
        dd      mb_header                 ; header_addr
        dd      mb_header                 ; load_addr
        dd      load_end                  ; load_end_addr
        dd      bss_end                   ; bss_end_addr
        dd      start                     ; entry_addr

start:
        cli
        mov     esp, STACK_TOP
        PRINT   'v86-multiboot-vmcoreinfo v1', 10

        ; ---- signature and ID through the I/O ports
        xor     eax, eax
        mov     dx, PORT_SEL
        out     dx, ax
        call    read_port_dword
        cmp     eax, 'QEMU'
        je      .sig_ok
        FATAL   'signature'
.sig_ok:
        mov     ax, FW_CFG_ID
        mov     dx, PORT_SEL
        out     dx, ax
        call    read_port_dword
        test    al, VERSION_DMA
        jnz     .dma_ok
        FATAL   'no DMA in FW_CFG_ID'
.dma_ok:
        mov     dx, PORT_DMA_HI
        in      eax, dx
        cmp     eax, 'QEMU'
        jne     .dma_sig_bad
        mov     dx, PORT_DMA_LO
        in      eax, dx
        cmp     eax, ' CFG'
        je      .dma_sig_ok
.dma_sig_bad:
        FATAL   'DMA signature'
.dma_sig_ok:

        ; ---- the file directory by DMA: count, then every entry
        mov     eax, (FW_CFG_FILE_DIR << 16) | CTL_SELECT | CTL_READ
        mov     ecx, 4
        mov     edi, dir_count
        call    dma
        mov     ecx, [dir_count]
        bswap   ecx
        cmp     ecx, MAX_FILES
        jbe     .count_ok
        FATAL   'too many files'
.count_ok:
        mov     [file_count], ecx
        shl     ecx, 6
        mov     eax, CTL_READ
        mov     edi, dir_entries
        call    dma

        ; ---- find etc/vmcoreinfo
        mov     ebx, dir_entries
        mov     ecx, [file_count]
.next_file:
        test    ecx, ecx
        jnz     .compare
        FATAL   'no etc/vmcoreinfo'
.compare:
        lea     esi, [ebx + 8]
        mov     edi, vmcoreinfo_name
        push    ecx
        mov     ecx, vmcoreinfo_name_len
        repe    cmpsb
        pop     ecx
        je      .found
        add     ebx, 64
        dec     ecx
        jmp     .next_file
.found:
        movzx   eax, word [ebx + 4]       ; select key, big-endian
        xchg    al, ah
        mov     [vmci_key], eax

        ; ---- register the note: SELECT|WRITE of the record, then read it back
        shl     eax, 16
        or      eax, CTL_SELECT | CTL_WRITE
        mov     ecx, 16
        mov     edi, record
        call    dma
        mov     eax, [vmci_key]
        shl     eax, 16
        or      eax, CTL_SELECT | CTL_READ
        mov     ecx, 16
        mov     edi, readback
        call    dma
        mov     esi, record
        mov     edi, readback
        mov     ecx, 4
        repe    cmpsd
        je      .registered
        FATAL   'record read back differs'
.registered:
        PRINT   'vmcoreinfo key '
        mov     eax, [vmci_key]
        mov     ecx, 4
        call    print_hex
        PRINT   ' note '
        mov     eax, note
        mov     ecx, 8
        call    print_hex
        PRINT   10, 'ready', 10

        ; ---- final state
        mov     eax, 0xAAAA0A01
        mov     ebx, 0xBBBB0B02
        mov     ecx, 0xCCCC0C03
        mov     edx, 0xDDDD0D04
        mov     esi, 0x51515105
        mov     edi, 0xD1D10D06
        mov     ebp, 0xBEBEBE07
        push    dword 0x2
        popfd
HALT_AT:
        hlt
        jmp     HALT_AT

fail:
        mov     eax, 0xBAD0BAD0
        cli
.halt:  hlt
        jmp     .halt

; dma: one transfer. eax = control, ecx = length, edi = guest address.
; Builds the big-endian descriptor, writes its address (big-endian, low half
; triggers) and checks the control word that comes back.
dma:
        bswap   eax
        mov     [desc.control], eax
        bswap   ecx
        mov     [desc.length], ecx
        mov     dword [desc.address], 0
        bswap   edi
        mov     [desc.address + 4], edi
        xor     eax, eax
        mov     dx, PORT_DMA_HI
        out     dx, eax
        mov     eax, desc
        bswap   eax
        mov     dx, PORT_DMA_LO
        out     dx, eax
        mov     eax, [desc.control]
        test    eax, eax
        jz      .done
        FATAL   'DMA control word not 0'
.done:  ret

; read_port_dword: eax = 4 bytes from the data port, first byte lowest.
read_port_dword:
        mov     dx, PORT_DATA
        mov     ecx, 4
.byte:  in      al, dx
        ror     eax, 8
        loop    .byte
        ret

; print_inline: prints the NUL-terminated text that follows the call.
print_inline:
        pop     esi
        push    eax
        push    edx
        mov     dx, PORT_DEBUGCON
.char:  lodsb
        test    al, al
        jz      .end
        out     dx, al
        jmp     .char
.end:   pop     edx
        pop     eax
        jmp     esi

; print_hex: the low ecx hex digits of eax.
print_hex:
        mov     edx, eax
        mov     ebx, ecx
        shl     ecx, 2
        ror     edx, cl
        mov     ecx, ebx
.digit: rol     edx, 4
        mov     eax, edx
        and     eax, 0xF
        mov     al, [hexdigits + eax]
        push    edx
        mov     dx, PORT_DEBUGCON
        out     dx, al
        pop     edx
        loop    .digit
        ret

hexdigits:      db '0123456789abcdef'
vmcoreinfo_name:
        db      'etc/vmcoreinfo', 0
vmcoreinfo_name_len equ $ - vmcoreinfo_name

        align   4
note:
        dd      11                        ; namesz: "VMCOREINFO\0"
        dd      note_text_end - note_text ; descsz
        dd      0                         ; type
        db      'VMCOREINFO', 0, 0
note_text:
        db      'OSRELEASE=6.1.0-v86', 10
        db      'PAGESIZE=4096', 10
note_text_end:
        align   4, db 0
NOTE_SIZE       equ $ - note

        align   8
record:
        dw      0                         ; host_format (Linux writes 0)
        dw      1                         ; guest_format: ELF
        dd      NOTE_SIZE
        dq      note

        align   16, db 0
load_end:

; ---- bss (zeroed by the loader)
        absolute load_end
desc:
.control:       resd 1
.length:        resd 1
.address:       resq 1
readback:       resb 16
vmci_key:       resd 1
file_count:     resd 1
dir_count:      resd 1
MAX_FILES       equ 64
dir_entries:    resb 64 * MAX_FILES
                resb 4096
STACK_TOP:
bss_end:
