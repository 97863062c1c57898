; =============================================================================
; fwcfg-probe.asm - a 64 KiB "-bios" image that probes QEMU's x86 fw_cfg device
; and writes a replayable trace of everything it does to the debug console.
;
; Build:   nasm -f bin -o fwcfg-probe.bin fwcfg-probe.asm
;          (the image is exactly 65536 bytes; reset vector at image offset 0xFFF0)
; Run:     qemu-system-x86_64 -M pc -m 32M -nodefaults -bios fwcfg-probe.bin \
;            -device vmcoreinfo -debugcon file:out.trace ...
;          scripts/golden/capture-fwcfg.mjs runs it for every golden config.
;
; What it does
;   A short real-mode prologue at the reset vector loads a flat GDT and enters
;   32-bit protected mode (no paging, stack below 0x7000). The 32-bit part then
;   talks to fw_cfg (selector 0x510, data 0x511, DMA 0x514/0x518) and logs every
;   guest-visible operation, one per line, to port 0xE9 (the log output itself
;   is not logged):
;     config <text>                        first line
;     in1/in2/in4 PPPP VV..                IN of that width and the value it got
;     out1/out2/out4 PPPP VV..             OUT of that width and the value
;     wmem AAAAAAAA <hex>                  bytes the guest stored in RAM (DMA
;                                          descriptors, WRITE sources, buffer
;                                          pre-fill), at most 64 bytes a line
;     rmem AAAAAAAA <hex>                  bytes the guest read back from RAM
;                                          after a DMA transfer
;     file KKKK SSSSSSSS <name>            a directory entry as parsed
;     # text                               comment
;     end                                  last line; then "cli; hlt" forever
;   Sections, in order: (1) signature and FW_CFG_ID by port, (2) fixed keys by
;   port, reading past their ends, (3) odd-width port accesses and the DMA
;   register read-back, ignored DMA register writes, (4) the file directory by
;   port, (5) every file and the directory by DMA, (6) DMA edge cases
;   (invalid keys, SKIP, WRITE errors, select-only, op priority, trigger
;   orders, a buffer over its own descriptor, buffers and descriptors in ROM /
;   unassigned space, etc/vmcoreinfo writes), (7) a Linux-style VMCOREINFO note
;   registered through etc/vmcoreinfo, (8) debugcon read-back and "end".
;   Everything is deterministic: no timers, no interrupts, no CPUID.
;
; Guest RAM used (all below 0x9F000):
;   0x6000-0x6FFF stack, 0x7800 variables, 0x8000 DMA descriptor,
;   0x8100 small DMA buffer, 0x8200 DMA WRITE sources,
;   0x10000-0x8FFFF file DMA buffer, 0x90000 VMCOREINFO note,
;   0x9E000-0x9E805 copy of the directory read by port.
; =============================================================================

        cpu     686
        org     0xF0000                 ; the image's isa-bios alias (0xF0000-0xFFFFF)

STACK_TOP       equ 0x7000
VARS            equ 0x7800
DESC            equ 0x8000              ; fixed DMA descriptor
SBUF            equ 0x8100              ; small DMA buffer
SRC             equ 0x8200              ; DMA WRITE source bytes
BUF             equ 0x10000             ; per-file DMA buffer
BUF_MAX         equ 0x80000             ; BUF + BUF_MAX = 0x90000
NOTE_ADDR       equ 0x90000             ; VMCOREINFO ELF note
DIRBUF          equ 0x9E000             ; directory as read by port (2054 bytes)

; variables
v_count         equ VARS + 0            ; number of directory entries (host order)
v_e820          equ VARS + 4            ; key of etc/e820
v_vmci          equ VARS + 8            ; key of etc/vmcoreinfo

PORT_SEL        equ 0x510
PORT_DATA       equ 0x511
PORT_DMA_HI     equ 0x514
PORT_DMA_LO     equ 0x518
PORT_DEBUGCON   equ 0xE9

FW_CFG_SIGNATURE equ 0x00
FW_CFG_ID       equ 0x01
FW_CFG_FILE_DIR equ 0x19
DIR_LEN         equ 4 + 64 * 32         ; 2052 with 32 file slots

CTL_ERROR       equ 0x01
CTL_READ        equ 0x02
CTL_SKIP        equ 0x04
CTL_SELECT      equ 0x08
CTL_WRITE       equ 0x10

; trigger modes for dma / dma_at (in edx)
TRIG_BOTH       equ 0                   ; out4 0514 0, then out4 0518 bswap(addr)
TRIG_LOW        equ 1                   ; out4 0518 bswap(addr) only
TRIG_LIBQOS     equ 2                   ; out4 0518 bswap(addr), then out4 0514 0

; ----------------------------------------------------------------------------
; macros (all of them clobber eax, ebx, ecx, edx, edi as needed)
; ----------------------------------------------------------------------------
%macro NOTE 1                           ; "# text" comment line
        call    print_inline
        db      '# ', %1, 10, 0
%endmacro

%macro IN1 1
        mov     dx, %1
        call    in1
%endmacro
%macro IN2 1
        mov     dx, %1
        call    in2
%endmacro
%macro IN4 1
        mov     dx, %1
        call    in4
%endmacro
%macro OUT1 2
        mov     dx, %1
        mov     al, %2
        call    out1
%endmacro
%macro OUT2 2
        mov     dx, %1
        mov     ax, %2
        call    out2
%endmacro
%macro OUT4 2
        mov     dx, %1
        mov     eax, %2
        call    out4
%endmacro

%macro SEL 1                            ; out2 0510 <key>
        OUT2    PORT_SEL, %1
%endmacro
%macro SELV 1                           ; out2 0510 <key held in a variable>
        mov     dx, PORT_SEL
        mov     ax, [%1]
        call    out2
%endmacro
%macro RD 1                             ; n x in1 0511
        mov     ecx, %1
        call    readn
%endmacro

%macro PREFILL 2                        ; pattern-fill addr, len (logged as wmem)
        mov     edi, %1
        mov     ecx, %2
        call    prefill
%endmacro
%macro RMEM 2
        mov     edi, %1
        mov     ecx, %2
        call    rmem
%endmacro

; DMA control, length, buffer address [, trigger mode]; descriptor at DESC
%macro DMA 3-4 TRIG_BOTH
        mov     eax, %1
        mov     ebx, %2
        mov     ecx, %3
        mov     edx, %4
        call    dma
%endmacro
; the same with "key variable, control bits" instead of a full control word
%macro DMAK 4-5 TRIG_BOTH
        mov     eax, [%1]
        shl     eax, 16
        or      eax, %2
        mov     ebx, %3
        mov     ecx, %4
        mov     edx, %5
        call    dma
%endmacro

; store literal bytes at an address and log them as wmem
%macro WMEM_DATA 2+
        call    wmem_inline
        dd      %1
        dd      %%end - %%start
%%start:
        db      %2
%%end:
%endmacro

; =============================================================================
; 32-bit code
; =============================================================================
        bits    32

main:
        call    print_inline
        db      'config fwcfg-probe v1', 10, 0
        NOTE    'fwcfg-probe: QEMU x86 fw_cfg golden trace (see firmware/golden/fwcfg-probe.asm)'

; ---------------------------------------------------------------- 1. signature
        NOTE    '1. signature and FW_CFG_ID by port'
        SEL     FW_CFG_SIGNATURE
        RD      4
        SEL     FW_CFG_ID
        RD      4

; ---------------------------------------------------------------- 2. keys
        NOTE    '2. fixed keys by port, reading past their ends'
        mov     esi, keytab
.key:   lodsw
        mov     bx, ax                  ; key
        lodsw
        test    ax, ax
        jz      .keys_done
        movzx   ecx, ax
        mov     dx, PORT_SEL
        mov     ax, bx
        call    out2
        call    readn
        jmp     .key
.keys_done:
        NOTE    're-selecting the current key rewinds the cursor'
        SEL     FW_CFG_SIGNATURE
        RD      2
        SEL     FW_CFG_SIGNATURE
        RD      2
        NOTE    'in1 0510 is a data read too'
        IN1     0x510
        IN1     0x510

; ---------------------------------------------------------------- 3. widths
        NOTE    '3. odd-width accesses to the selector/data ports'
        SEL     FW_CFG_SIGNATURE
        IN2     0x510
        IN1     0x510
        IN4     0x510
        IN2     0x511
        IN1     0x511
        IN1     0x512
        IN2     0x512
        IN1     0x513
        NOTE    'out4 0510: does it select key 1?'
        OUT4    0x510, 0x00000001
        RD      4
        NOTE    'data-port writes (each followed by one data read of the signature)'
        SEL     FW_CFG_SIGNATURE
        OUT1    0x510, 0x03
        IN1     0x511
        OUT1    0x511, 0x03
        IN1     0x511
        OUT2    0x511, 0x0003
        IN1     0x511
        OUT4    0x511, 0x00000003
        IN1     0x511

        NOTE    'DMA register read-back'
        mov     ebx, 0x514
.dr1:   mov     dx, bx
        call    in1
        inc     ebx
        cmp     ebx, 0x51C
        jb      .dr1
        IN2     0x514
        IN2     0x515
        IN2     0x516
        IN2     0x51A
        IN4     0x514
        IN4     0x515
        IN4     0x518
        IN4     0x519
        IN1     0x51C
        IN4     0x51A

        NOTE    'DMA register writes that must be ignored (harmless descriptor at 0x8000)'
        PREFILL SBUF, 8
        WMEM_DATA DESC, 0x00,0x00,0x00,0x0A, 0x00,0x00,0x00,0x04, 0,0,0,0, 0x00,0x00,0x81,0x00
        OUT1    0x518, 0x00
        RMEM    DESC, 4
        OUT2    0x518, 0x0080
        RMEM    DESC, 4
        OUT4    0x519, 0x00800000
        RMEM    DESC, 4
        OUT4    0x515, 0x00800000
        RMEM    DESC, 4
        OUT2    0x514, 0x0000
        OUT1    0x51B, 0x00
        RMEM    DESC, 4
        RMEM    SBUF, 8
        NOTE    'now a real low-half-only trigger of the same descriptor'
        OUT4    PORT_DMA_LO, 0x00800000
        RMEM    DESC, 4
        RMEM    SBUF, 8

; ---------------------------------------------------------------- 4. directory
        NOTE    '4. file directory by port'
        SEL     FW_CFG_FILE_DIR
        mov     edi, DIRBUF
        mov     ecx, 4
        call    readn_store
        SEL     FW_CFG_FILE_DIR
        mov     edi, DIRBUF
        mov     ecx, DIR_LEN + 2
        call    readn_store
        mov     eax, [DIRBUF]
        bswap   eax
        cmp     eax, 32
        jbe     .cnt_ok
        NOTE    'FATAL: directory count above 32'
        jmp     finish
.cnt_ok:
        mov     [v_count], eax
        mov     ecx, eax
        mov     ebx, DIRBUF + 4
.dirent:
        jecxz   .dir_done
        call    print_inline
        db      'file ', 0
        movzx   eax, word [ebx + 4]
        xchg    al, ah
        push    ecx
        mov     cl, 4
        call    puthex
        mov     al, ' '
        call    putc
        mov     eax, [ebx]
        bswap   eax
        mov     cl, 8
        call    puthex
        mov     al, ' '
        call    putc
        pop     ecx
        lea     esi, [ebx + 8]          ; name, at most 56 bytes
        mov     edx, 56
.nm:    lodsb
        test    al, al
        jz      .nm_done
        call    putc
        dec     edx
        jnz     .nm
.nm_done:
        mov     al, 10
        call    putc
        add     ebx, 64
        dec     ecx
        jmp     .dirent
.dir_done:
        mov     esi, name_e820
        call    find_file
        mov     [v_e820], eax
        cmp     eax, -1
        jne     .have_e820
        NOTE    'FATAL: etc/e820 not in the directory'
        jmp     finish
.have_e820:
        mov     esi, name_vmci
        call    find_file
        mov     [v_vmci], eax
        cmp     eax, -1
        jne     .have_vmci
        NOTE    'FATAL: etc/vmcoreinfo not in the directory'
        jmp     finish
.have_vmci:

; ---------------------------------------------------------------- 5. by DMA
        NOTE    '5. every file by DMA: SELECT|READ of size+8 bytes into 0x10000'
        mov     ecx, [v_count]
        mov     esi, DIRBUF + 4
.dmafile:
        jecxz   .dmafiles_done
        push    ecx
        push    esi
        mov     ebx, [esi]              ; size
        bswap   ebx
        add     ebx, 8
        cmp     ebx, BUF_MAX
        jbe     .len_ok
        mov     ebx, BUF_MAX
.len_ok:
        movzx   eax, word [esi + 4]     ; key
        xchg    al, ah
        shl     eax, 16
        or      eax, CTL_SELECT | CTL_READ
        mov     edi, BUF
        mov     ecx, ebx
        call    prefill
        mov     ecx, BUF
        mov     edx, TRIG_BOTH
        call    dma
        mov     edi, BUF
        mov     ecx, ebx
        call    rmem
        pop     esi
        pop     ecx
        add     esi, 64
        dec     ecx
        jmp     .dmafile
.dmafiles_done:
        NOTE    'the directory itself by DMA (2052 + 4 bytes)'
        PREFILL BUF, DIR_LEN + 4
        DMA     (FW_CFG_FILE_DIR << 16) | CTL_SELECT | CTL_READ, DIR_LEN + 4, BUF
        RMEM    BUF, DIR_LEN + 4

; ---------------------------------------------------------------- 6. edge cases
        NOTE    '6. DMA edge cases (descriptor at 0x8000)'
        NOTE    'READ of invalid key 0x40, triggered by the low half only: zero fill, control 0'
        PREFILL SBUF, 16
        DMA     (0x0040 << 16) | CTL_SELECT | CTL_READ, 16, SBUF, TRIG_LOW
        RMEM    SBUF, 16

        NOTE    'etc/e820 selected by port, DMA SKIP 4 (libqos trigger order), DMA READ 16, 2 port reads'
        SELV    v_e820
        DMA     CTL_SKIP, 4, SBUF, TRIG_LIBQOS
        PREFILL SBUF, 16
        DMA     CTL_READ, 16, SBUF
        RMEM    SBUF, 16
        RD      2

        NOTE    'SELECT|WRITE of 4 bytes to read-only etc/e820: error; where is the cursor?'
        PREFILL SBUF, 4
        DMAK    v_e820, CTL_SELECT | CTL_WRITE, 4, SBUF
        RD      1

        NOTE    'SELECT-only descriptor for key 0 (no op bit, length 16): buffer untouched, cursor at 0'
        PREFILL SBUF, 16
        DMA     (FW_CFG_SIGNATURE << 16) | CTL_SELECT, 16, SBUF
        RMEM    SBUF, 16
        RD      1

        NOTE    'zero-length SELECT|WRITE to read-only etc/e820; zero-length SELECT|READ of FW_CFG_ID'
        DMAK    v_e820, CTL_SELECT | CTL_WRITE, 0, SBUF
        PREFILL SBUF, 4
        DMA     (FW_CFG_ID << 16) | CTL_SELECT | CTL_READ, 0, SBUF
        RMEM    SBUF, 4
        RD      1

        NOTE    'SELECT|SKIP 0x1000 on the signature (past its end), a port read, then READ 8 (zero fill)'
        DMA     (FW_CFG_SIGNATURE << 16) | CTL_SELECT | CTL_SKIP, 0x1000, SBUF
        RD      1
        PREFILL SBUF, 8
        DMA     CTL_READ, 8, SBUF
        RMEM    SBUF, 8

        NOTE    'WRITE to invalid key 0x40 and to arch file slot 0x8020; READ of 0x8020'
        PREFILL SBUF, 4
        DMA     (0x0040 << 16) | CTL_SELECT | CTL_WRITE, 4, SBUF
        DMA     (0x8020 << 16) | CTL_SELECT | CTL_WRITE, 4, SBUF
        DMA     (0x8020 << 16) | CTL_SELECT | CTL_READ, 4, SBUF
        RMEM    SBUF, 4

        NOTE    'buffer overlaps its own descriptor: READ signature, 8 bytes, address = descriptor'
        DMA     (FW_CFG_SIGNATURE << 16) | CTL_SELECT | CTL_READ, 8, DESC
        RMEM    DESC, 16
        NOTE    'READ signature, 4 bytes, into the descriptor address field (descriptor + 8)'
        DMA     (FW_CFG_SIGNATURE << 16) | CTL_SELECT | CTL_READ, 4, DESC + 8
        RMEM    DESC, 16

        NOTE    'descriptor at another address (0x8040)'
        PREFILL SBUF, 8
        mov     eax, (FW_CFG_ID << 16) | CTL_SELECT | CTL_READ
        mov     ebx, 8
        mov     ecx, SBUF
        mov     edx, TRIG_BOTH
        mov     ebp, DESC + 0x40
        call    dma_at
        RMEM    SBUF, 8

        NOTE    'SELECT|READ of 2 signature bytes into ROM at 0xFFFF0000, then a port read'
        DMA     (FW_CFG_SIGNATURE << 16) | CTL_SELECT | CTL_READ, 2, 0xFFFF0000
        RD      1
        NOTE    'SELECT|READ of 2 signature bytes into unassigned 0xFEB00000, then a port read'
        DMA     (FW_CFG_SIGNATURE << 16) | CTL_SELECT | CTL_READ, 2, 0xFEB00000
        RD      1
        NOTE    'descriptor at unassigned 0xFEB00000 (nothing stored there): cursor unchanged'
        SEL     FW_CFG_SIGNATURE
        RD      1
        OUT4    PORT_DMA_HI, 0
        OUT4    PORT_DMA_LO, 0x0000B0FE
        RD      1

        NOTE    'etc/vmcoreinfo: initial read'
        PREFILL SBUF, 16
        DMAK    v_vmci, CTL_SELECT | CTL_READ, 16, SBUF
        RMEM    SBUF, 16
        NOTE    'SELECT|READ|WRITE from a pattern buffer: acts as READ'
        PREFILL SBUF, 16
        DMAK    v_vmci, CTL_SELECT | CTL_READ | CTL_WRITE, 16, SBUF
        RMEM    SBUF, 16
        call    read_vmci
        NOTE    'SELECT|WRITE|SKIP of 16 bytes (guest_format 0): acts as WRITE'
        WMEM_DATA SRC, 0x01,0x00,0x00,0x00, 0x00,0x00,0x00,0x00, 0x11,0x22,0x33,0x44,0x55,0x66,0x77,0x88
        DMAK    v_vmci, CTL_SELECT | CTL_WRITE | CTL_SKIP, 16, SRC
        call    read_vmci
        NOTE    'full SELECT|WRITE {host 1, guest 1, size 0x1000, paddr 0x90000}'
        WMEM_DATA SRC, 0x01,0x00,0x01,0x00, 0x00,0x10,0x00,0x00, 0x00,0x00,0x09,0x00,0x00,0x00,0x00,0x00
        DMAK    v_vmci, CTL_SELECT | CTL_WRITE, 16, SRC
        call    read_vmci
        NOTE    '17-byte SELECT|WRITE: error, item unchanged'
        WMEM_DATA SRC, 0xC1,0xC2,0xC3,0xC4,0xC5,0xC6,0xC7,0xC8,0xC9,0xCA,0xCB,0xCC,0xCD,0xCE,0xCF,0xD0,0xD1
        DMAK    v_vmci, CTL_SELECT | CTL_WRITE, 17, SRC
        call    read_vmci
        NOTE    '8-byte SELECT|WRITE at offset 0 (partial)'
        WMEM_DATA SRC, 0xA1,0xA2,0xA3,0xA4,0xA5,0xA6,0xA7,0xA8
        DMAK    v_vmci, CTL_SELECT | CTL_WRITE, 8, SRC
        call    read_vmci
        NOTE    'SELECT|SKIP 8, then WRITE 8 at offset 8'
        WMEM_DATA SRC, 0xB1,0xB2,0xB3,0xB4,0xB5,0xB6,0xB7,0xB8
        DMAK    v_vmci, CTL_SELECT | CTL_SKIP, 8, SRC
        DMA     CTL_WRITE, 8, SRC
        call    read_vmci
        NOTE    'SELECT|SKIP 8, then WRITE 16 crossing the end: error; cursor by port'
        WMEM_DATA SRC, 0xE1,0xE2,0xE3,0xE4,0xE5,0xE6,0xE7,0xE8,0xE9,0xEA,0xEB,0xEC,0xED,0xEE,0xEF,0xF0
        DMAK    v_vmci, CTL_SELECT | CTL_SKIP, 8, SRC
        DMA     CTL_WRITE, 16, SRC
        RD      1
        call    read_vmci

        call    print_inline
        db      '# descriptor in ROM at 0x', 0
        mov     eax, rom_desc
        mov     cl, 8
        call    puthex
        call    print_inline
        db      ': SELECT FW_CFG_ID|READ, 8 bytes -> 0x8100', 10, 0
        NOTE    '(replay needs fwcfg-probe.bin mapped at 0xF0000 like QEMU; control write-back to ROM is lost)'
        PREFILL SBUF, 8
        OUT4    PORT_DMA_HI, 0
        mov     eax, rom_desc
        bswap   eax
        mov     dx, PORT_DMA_LO
        call    out4
        RMEM    SBUF, 8

; ---------------------------------------------------------------- 7. note
        NOTE    '7. VMCOREINFO ELF note at 0x90000, registered like Linux (host_format 0)'
        mov     esi, vmci_note
        mov     edi, NOTE_ADDR
        mov     ecx, vmci_note_end - vmci_note
        call    copy_wmem
        WMEM_DATA SRC, 0x00,0x00,0x01,0x00, 0x00,0x10,0x00,0x00, 0x00,0x00,0x09,0x00,0x00,0x00,0x00,0x00
        DMAK    v_vmci, CTL_SELECT | CTL_WRITE, 16, SRC
        call    read_vmci
        NOTE    'etc/vmcoreinfo by port'
        SELV    v_vmci
        RD      18

; ---------------------------------------------------------------- 8. end
        NOTE    '8. debugcon read-back'
        IN1     PORT_DEBUGCON
finish:
        call    print_inline
        db      'end', 10, 0
.halt:  cli
        hlt
        jmp     .halt

; ----------------------------------------------------------------------------
; read_vmci: DMA SELECT|READ of etc/vmcoreinfo (16 bytes) into a pre-filled SBUF
; ----------------------------------------------------------------------------
read_vmci:
        pushad
        PREFILL SBUF, 16
        DMAK    v_vmci, CTL_SELECT | CTL_READ, 16, SBUF
        RMEM    SBUF, 16
        popad
        ret

; ----------------------------------------------------------------------------
; dma: eax = control, ebx = length, ecx = buffer address (high dword 0),
;      edx = trigger mode; descriptor at DESC.
; dma_at: the same with the descriptor at ebp.
; Logs the descriptor (wmem), the trigger OUTs and the control word (rmem).
; ----------------------------------------------------------------------------
dma:
        push    ebp
        mov     ebp, DESC
        call    dma_at
        pop     ebp
        ret

dma_at:
        pushad
        bswap   eax
        mov     [ebp], eax
        bswap   ebx
        mov     [ebp + 4], ebx
        mov     dword [ebp + 8], 0
        bswap   ecx
        mov     [ebp + 12], ecx
        mov     edi, ebp
        mov     ecx, 16
        call    wmem
        mov     esi, ebp
        bswap   esi                     ; the register is big-endian
        cmp     edx, TRIG_LOW
        je      .low
        cmp     edx, TRIG_LIBQOS
        je      .libqos
        mov     dx, PORT_DMA_HI
        xor     eax, eax
        call    out4
.low:   mov     dx, PORT_DMA_LO
        mov     eax, esi
        call    out4
        jmp     .done
.libqos:
        mov     dx, PORT_DMA_LO
        mov     eax, esi
        call    out4
        mov     dx, PORT_DMA_HI
        xor     eax, eax
        call    out4
.done:  mov     edi, ebp
        mov     ecx, 4
        call    rmem
        popad
        ret

; ----------------------------------------------------------------------------
; find_file: esi = NUL-terminated name -> eax = key (or -1), ebx = size
; ----------------------------------------------------------------------------
find_file:
        push    ecx
        push    edx
        push    edi
        mov     ecx, [v_count]
        mov     edi, DIRBUF + 4
.next:  jecxz   .nf
        xor     edx, edx
.cmp:   mov     al, [esi + edx]
        cmp     al, [edi + 8 + edx]
        jne     .ne
        inc     edx
        test    al, al
        jnz     .cmp
        mov     ebx, [edi]
        bswap   ebx
        movzx   eax, word [edi + 4]
        xchg    al, ah
        jmp     .ret
.ne:    add     edi, 64
        dec     ecx
        jmp     .next
.nf:    mov     eax, -1
        xor     ebx, ebx
.ret:   pop     edi
        pop     edx
        pop     ecx
        ret

; ----------------------------------------------------------------------------
; logged port I/O. dx = port; al/ax/eax = value (result for IN)
; ----------------------------------------------------------------------------
in1:    in      al, dx
        push    esi
        mov     esi, s_in1
        jmp     log_b
in2:    in      ax, dx
        push    esi
        mov     esi, s_in2
        jmp     log_w
in4:    in      eax, dx
        push    esi
        mov     esi, s_in4
        jmp     log_d
out1:   out     dx, al
        push    esi
        mov     esi, s_out1
        jmp     log_b
out2:   out     dx, ax
        push    esi
        mov     esi, s_out2
        jmp     log_w
out4:   out     dx, eax
        push    esi
        mov     esi, s_out4
        jmp     log_d
log_b:  push    ecx
        mov     cl, 2
        jmp     log_io
log_w:  push    ecx
        mov     cl, 4
        jmp     log_io
log_d:  push    ecx
        mov     cl, 8
log_io: call    puts                    ; "in1 " ...
        push    eax
        push    ecx
        movzx   eax, dx
        mov     cl, 4
        call    puthex
        mov     al, ' '
        call    putc
        pop     ecx
        pop     eax
        call    puthex
        push    eax
        mov     al, 10
        call    putc
        pop     eax
        pop     ecx
        pop     esi
        ret

; readn: ecx = count of in1 0511 (values discarded)
readn:
        pushad
        mov     dx, PORT_DATA
        jecxz   .d
.l:     call    in1
        loop    .l
.d:     popad
        ret

; readn_store: ecx = count of in1 0511, stored at edi
readn_store:
        pushad
        mov     dx, PORT_DATA
        jecxz   .d
.l:     call    in1
        stosb
        loop    .l
.d:     popad
        ret

; ----------------------------------------------------------------------------
; memory logging
; ----------------------------------------------------------------------------
; prefill: edi = address, ecx = length; byte i = 0x80 | (i & 0x7F); logged
prefill:
        pushad
        xor     eax, eax
        jecxz   .d
.l:     mov     bl, al
        and     bl, 0x7F
        or      bl, 0x80
        mov     [edi + eax], bl
        inc     eax
        cmp     eax, ecx
        jb      .l
        call    wmem
.d:     popad
        ret

; copy_wmem: copy ecx bytes from esi to edi, then log them as wmem
copy_wmem:
        pushad
        push    edi
        push    ecx
        rep movsb
        pop     ecx
        pop     edi
        call    wmem
        popad
        ret

; wmem_inline: "call wmem_inline; dd addr, len; db bytes..." (see WMEM_DATA)
wmem_inline:
        pushad
        mov     esi, [esp + 32]         ; return address -> inline data
        mov     edi, [esi]
        mov     ecx, [esi + 4]
        add     esi, 8
        push    esi
        add     esi, ecx
        mov     [esp + 36], esi         ; return past the data
        pop     esi
        call    copy_wmem
        popad
        ret

wmem:   push    esi
        mov     esi, s_wmem
        call    dumpmem
        pop     esi
        ret
rmem:   push    esi
        mov     esi, s_rmem
        call    dumpmem
        pop     esi
        ret

; dumpmem: esi = tag, edi = address, ecx = length; lines of <= 64 bytes
dumpmem:
        pushad
.line:  test    ecx, ecx
        jz      .done
        mov     ebx, ecx
        cmp     ebx, 64
        jbe     .n
        mov     ebx, 64
.n:     call    puts
        push    ecx
        mov     eax, edi
        mov     cl, 8
        call    puthex
        mov     al, ' '
        call    putc
        mov     edx, ebx
        mov     cl, 2
.b:     mov     al, [edi]
        call    puthex
        inc     edi
        dec     edx
        jnz     .b
        mov     al, 10
        call    putc
        pop     ecx
        sub     ecx, ebx
        jmp     .line
.done:  popad
        ret

; ----------------------------------------------------------------------------
; raw output to the debug console (not logged)
; ----------------------------------------------------------------------------
putc:   push    edx
        mov     dx, PORT_DEBUGCON
        out     dx, al
        pop     edx
        ret

; puts: esi = NUL-terminated string
puts:   push    eax
        push    esi
.l:     lodsb
        test    al, al
        jz      .d
        call    putc
        jmp     .l
.d:     pop     esi
        pop     eax
        ret

; print_inline: "call print_inline; db 'text', 0" - prints text, returns past it
print_inline:
        push    eax
        push    esi
        mov     esi, [esp + 8]
.l:     lodsb
        test    al, al
        jz      .d
        call    putc
        jmp     .l
.d:     mov     [esp + 8], esi
        pop     esi
        pop     eax
        ret

; puthex: eax = value, cl = number of hex digits (1..8), lowercase
puthex:
        pushad
        movzx   ebx, cl
        mov     edx, eax
        mov     ecx, 8
        sub     ecx, ebx
        shl     ecx, 2
        shl     edx, cl
.l:     rol     edx, 4
        mov     al, dl
        and     al, 0x0F
        add     al, '0'
        cmp     al, '9'
        jbe     .p
        add     al, 'a' - '0' - 10
.p:     call    putc
        dec     ebx
        jnz     .l
        popad
        ret

; ----------------------------------------------------------------------------
; data
; ----------------------------------------------------------------------------
s_in1   db      'in1 ', 0
s_in2   db      'in2 ', 0
s_in4   db      'in4 ', 0
s_out1  db      'out1 ', 0
s_out2  db      'out2 ', 0
s_out4  db      'out4 ', 0
s_wmem  db      'wmem ', 0
s_rmem  db      'rmem ', 0
name_e820 db    'etc/e820', 0
name_vmci db    'etc/vmcoreinfo', 0

; section 2: key, number of bytes to read (0 ends the table)
        align   2
keytab:
        dw      0x0002, 18              ; UUID
        dw      0x0003, 10              ; RAM_SIZE
        dw      0x0004, 3               ; NOGRAPHIC
        dw      0x0005, 3               ; NB_CPUS
        dw      0x000E, 3               ; BOOT_MENU
        dw      0x000F, 3               ; MAX_CPUS
        dw      0x000D, 20              ; NUMA
        dw      0x0006, 2               ; MACHINE_ID (unset on x86)
        dw      0x001A, 2               ; valid, no data
        dw      0x0040, 2               ; invalid (>= 0x20 + 32 slots)
        dw      0x4000, 4               ; bit 14 ignored: signature
        dw      0x8000, 4               ; ACPI_TABLES
        dw      0x8002, 6               ; IRQ0_OVERRIDE
        dw      0x8003, 2               ; E820_TABLE (removed in 7.2)
        dw      0x8004, 124             ; HPET
        dw      0x8005, 2               ; valid arch key, no data
        dw      0xC002, 4               ; = 0x8002
        dw      0x803F, 2               ; last arch slot
        dw      0x8040, 2               ; invalid arch key
        dw      0x0001, 6               ; FW_CFG_ID past its end
        dw      0x4019, 8               ; bit 14 + directory
        dw      0xFFFF, 2               ; invalid
        dw      0, 0

; a DMA descriptor in ROM (section 6): SELECT FW_CFG_ID | READ, 8 bytes -> SBUF
        align   16
rom_desc:
        db      0x00,0x01,0x00,0x0A, 0x00,0x00,0x00,0x08, 0,0,0,0, 0x00,0x00,0x81,0x00

; Linux-style VMCOREINFO note (Elf64_Nhdr words are 32-bit)
        align   4
vmci_note:
        dd      11                      ; n_namesz
        dd      vmci_text_end - vmci_text ; n_descsz
        dd      0                       ; n_type
        db      'VMCOREINFO', 0, 0      ; name padded to 12
vmci_text:
        db      'OSRELEASE=6.1.0-slice86', 10
        db      'PAGESIZE=4096', 10
        db      'NUMBER(phys_base)=0x1000000', 10
vmci_text_end:
        times   (4 - ((vmci_text_end - vmci_text) % 4)) % 4 db 0
vmci_note_end:


; =============================================================================
; real-mode prologue (image offset 0xFF00) and reset vector (0xFFF0)
; =============================================================================
        times   0xFF00 - ($ - $$) db 0xFF   ; fails to assemble if the code above grows past 0xFF00
        bits    16
start16:
        cli
        cld
        o32 lgdt [cs:gdtr - $$]         ; CS base is 0xFFFF0000 after reset
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword 0x08:pm_entry

        bits    32
pm_entry:
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     fs, ax
        mov     gs, ax
        mov     esp, STACK_TOP
        jmp     main

        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF      ; 0x08: flat 32-bit code
        dq      0x00CF92000000FFFF      ; 0x10: flat 32-bit data
gdtr:   dw      gdtr - gdt - 1
        dd      gdt

        times   0xFFF0 - ($ - $$) db 0xFF
        bits    16
reset_vector:
        jmp     near start16
        times   0x10000 - ($ - $$) db 0xFF
