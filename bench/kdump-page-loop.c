/*
 * QEMU 7.2's kdump page loop (dump.c, write_dump_pages) over a guest RAM image, for the codecs
 * Debian's QEMU 7.2 is built without (lzo, snappy): the bench's stand-in for "what QEMU would do",
 * in C against the same libraries QEMU would link (liblzo2, libsnappy, zlib). bench/dump.bench.ts
 * compiles it with cc when the libraries are there.
 *
 * As QEMU: per 4 KiB page, a zero page gets the shared zero page's descriptor; any other is
 * compressed into one reused buffer (zlib: compress2 at Z_BEST_SPEED; lzo: lzo1x_1_compress with
 * one work area; snappy: snappy_compress) and stored raw when that is not smaller; data and
 * 24-byte descriptors gather in 16 KiB caches, each written as a flattened record (16-byte
 * header, then the piece). Headers and bitmaps are left out. Prints the seconds from the first
 * page until the file is closed.
 *
 * usage: kdump-page-loop IMAGE zlib|lzo|snappy OUTPUT
 */

#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* liblzo2 and libsnappy's C API, declared here so no -dev package is needed. */
int lzo1x_1_compress(const unsigned char *src, unsigned long src_len, unsigned char *dst, unsigned long *dst_len, void *wrkmem);
int snappy_compress(const char *input, size_t input_length, char *compressed, size_t *compressed_length);

#define PAGE 4096
#define CACHE (4 * PAGE)
#define LZO1X_1_MEM_COMPRESS (16384 * sizeof(unsigned char *))

struct cache {
    unsigned char buf[CACHE];
    size_t used;
    uint64_t offset;
};

static int out_fd;

static void write_all(const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(out_fd, b, n);
        if (w <= 0) { perror("write"); exit(1); }
        b += w;
        n -= (size_t)w;
    }
}

static void flush(struct cache *c) {
    if (c->used == 0) return;
    uint64_t head[2] = { __builtin_bswap64(c->offset), __builtin_bswap64(c->used) };
    write_all(head, sizeof head);
    write_all(c->buf, c->used);
    c->offset += c->used;
    c->used = 0;
}

static void append(struct cache *c, const void *p, size_t n) {
    if (c->used + n > CACHE) flush(c);
    memcpy(c->buf + c->used, p, n);
    c->used += n;
}

static void descriptor(struct cache *c, uint64_t offset, uint32_t size, uint32_t flags) {
    unsigned char d[24] = { 0 };
    memcpy(d, &offset, 8);
    memcpy(d + 8, &size, 4);
    memcpy(d + 12, &flags, 4);
    append(c, d, sizeof d);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s IMAGE zlib|lzo|snappy OUTPUT\n", argv[0]); return 2; }
    int codec = !strcmp(argv[2], "zlib") ? 1 : !strcmp(argv[2], "lzo") ? 2 : !strcmp(argv[2], "snappy") ? 4 : 0;
    if (codec == 0) { fprintf(stderr, "unknown codec %s\n", argv[2]); return 2; }
    int in = open(argv[1], O_RDONLY);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) { perror(argv[1]); return 1; }
    const unsigned char *ram = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, in, 0);
    if (ram == MAP_FAILED) { perror("mmap"); return 1; }
    out_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out_fd < 0) { perror(argv[3]); return 1; }

    /* QEMU's heap is long-lived and busy, so the buffers compress2 and snappy allocate and free
     * per page are reused from it; here, an otherwise empty heap would hand them back to the
     * kernel after each page and fault them in again, which QEMU does not pay. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);

    static const unsigned char zero[PAGE];
    size_t out_size = compressBound(PAGE) > 2 * PAGE ? compressBound(PAGE) : 2 * PAGE;
    unsigned char *out = malloc(out_size);
    void *wrkmem = malloc(LZO1X_1_MEM_COMPRESS);
    static struct cache descs, data;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t pages = (size_t)st.st_size / PAGE;
    descs.offset = PAGE;
    uint64_t zero_at = PAGE + 24 * (uint64_t)pages;
    data.offset = zero_at;
    append(&data, zero, PAGE);
    uint64_t offset = zero_at + PAGE;
    for (size_t pfn = 0; pfn < pages; pfn++) {
        const unsigned char *page = ram + pfn * PAGE;
        if (memcmp(page, zero, PAGE) == 0) {
            descriptor(&descs, zero_at, PAGE, 0);
            continue;
        }
        size_t size = out_size;
        int ok = 0;
        if (codec == 1) {
            uLongf n = out_size;
            ok = compress2(out, &n, page, PAGE, Z_BEST_SPEED) == Z_OK;
            size = n;
        } else if (codec == 2) {
            unsigned long n = out_size;
            ok = lzo1x_1_compress(page, PAGE, out, &n, wrkmem) == 0;
            size = n;
        } else {
            ok = snappy_compress((const char *)page, PAGE, (char *)out, &size) == 0;
        }
        if (ok && size < PAGE) {
            append(&data, out, size);
            descriptor(&descs, offset, (uint32_t)size, (uint32_t)codec);
        } else {
            append(&data, page, PAGE);
            descriptor(&descs, offset, PAGE, 0);
            size = PAGE;
        }
        offset += size;
    }
    flush(&descs);
    flush(&data);
    close(out_fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
