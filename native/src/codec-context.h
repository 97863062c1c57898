/*
 * One thread's kdump page codecs: the work memory each codec keeps between pages (libdeflate's
 * compressor, a zstd context, the LZO hash table, the store-raw test's table). Every thread that
 * compresses has its own, so pages can be compressed on several threads at once; a page's block
 * never depends on the pages compressed before it, so which thread took it does not change it.
 */
#ifndef SLICE86_CODEC_CONTEXT_H
#define SLICE86_CODEC_CONTEXT_H

#include <libdeflate.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "incompressible.h"
#include "lzo1x.h"

#define PAGE 4096
/* Codecs by their kdump page-descriptor flags. */
#define CODEC_ZLIB 0x1
#define CODEC_LZO 0x2
#define CODEC_SNAPPY 0x4
#define CODEC_ZSTD 0x20
/* Store random-looking pages raw without running the codec (incompressible.c). */
#define FLAG_SKIP_INCOMPRESSIBLE 0x1
/*
 * Room for any codec's output of one page before it is known to be smaller than the page:
 * LZO's worst case plus its 16-byte copy slack is 4435, snappy's bound 4810; zlib and zstd are
 * told to give up at 4095.
 */
#define PAGE_OUT_BYTES 5120

struct codec_context {
    struct libdeflate_compressor *deflate;
    ZSTD_CCtx *zstd;
    struct lzo1x_state lzo;
    struct incompressible_state incompressible;
};

int known_codec(int codec);

/* 0 when the codecs' work memory could not be allocated (the context is then freed again). */
int codec_context_init(struct codec_context *context);
void codec_context_free(struct codec_context *context);

/*
 * Compresses one page into `out` (PAGE_OUT_BYTES of room); the block length, or 0 when the page
 * is to be stored raw (the block would not be smaller, or with FLAG_SKIP_INCOMPRESSIBLE the page
 * looks random).
 */
size_t compress_page(struct codec_context *context, int codec, int flags, const uint8_t *page, uint8_t *out);

/* Whether all 4096 bytes are zero. */
int is_zero_page(const uint8_t *page);

#endif
