#!/usr/bin/env python3
"""Independent check of a raw kdump-compressed file (64-bit header class): walks the 2nd bitmap and
the page descriptors and decodes every page with the system's own libraries (zlib, python3-lzo,
python3-snappy, python3-zstandard). Prints the number of pages, the flags seen, and the SHA-256 of
all dumpable pages concatenated in pfn order."""
import hashlib, struct, sys, zlib

def decoder(flags):
    if flags == 0:
        return lambda data: data
    if flags == 1:
        return zlib.decompress
    if flags == 2:
        import lzo
        return lambda data: lzo.decompress(data, False, 4096)
    if flags == 4:
        import snappy
        return snappy.uncompress
    if flags == 0x20:
        import zstandard
        return lambda data: zstandard.ZstdDecompressor().decompress(data, max_output_size=4096)
    raise SystemExit(f"unknown page flags {flags:#x}")

def main(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'KDUMP   ', 'not a raw kdump file'
    block_size, sub_hdr_size, bitmap_blocks, max_mapnr = struct.unpack_from('<IIII', data, 428)
    bitmap_len = bitmap_blocks * block_size // 2
    bitmap2 = (1 + sub_hdr_size) * block_size + bitmap_len
    desc = (1 + sub_hdr_size + bitmap_blocks) * block_size
    digest, pages, seen = hashlib.sha256(), 0, set()
    for pfn in range(max_mapnr):
        if not data[bitmap2 + pfn // 8] >> (pfn % 8) & 1:
            continue
        offset, size, flags, _ = struct.unpack_from('<QIIQ', data, desc + 24 * pages)
        page = decoder(flags)(data[offset:offset + size])
        assert len(page) == block_size, f'pfn {pfn:#x}: {len(page)} bytes'
        digest.update(page)
        pages += 1
        seen.add(flags)
    print(pages, ','.join(f'{f:#x}' for f in sorted(seen)), digest.hexdigest())

main(sys.argv[1])
