#include "codec-context.h"

#include <snappy-c.h>
#include <string.h>

#define ZSTD_LEVEL 1

int known_codec(int codec) {
    return codec == CODEC_ZLIB || codec == CODEC_LZO || codec == CODEC_SNAPPY || codec == CODEC_ZSTD;
}

int codec_context_init(struct codec_context *context) {
    memset(context, 0, sizeof *context);
    context->deflate = libdeflate_alloc_compressor(1);
    context->zstd = ZSTD_createCCtx();
    lzo1x_state_init(&context->lzo);
    incompressible_state_init(&context->incompressible);
    if (context->deflate != NULL && context->zstd != NULL) return 1;
    codec_context_free(context);
    return 0;
}

void codec_context_free(struct codec_context *context) {
    if (context->deflate != NULL) libdeflate_free_compressor(context->deflate);
    if (context->zstd != NULL) ZSTD_freeCCtx(context->zstd);
    context->deflate = NULL;
    context->zstd = NULL;
}

size_t compress_page(struct codec_context *context, int codec, int flags, const uint8_t *page, uint8_t *out) {
    if ((flags & FLAG_SKIP_INCOMPRESSIBLE) && looks_incompressible(&context->incompressible, page)) return 0;
    switch (codec) {
    case CODEC_ZLIB:
        /* libdeflate returns 0 when the stream does not fit below the page size. */
        return libdeflate_zlib_compress(context->deflate, page, PAGE, out, PAGE - 1);
    case CODEC_LZO: {
        size_t size = lzo1x_compress(&context->lzo, page, PAGE, out);
        return size < PAGE ? size : 0;
    }
    case CODEC_SNAPPY: {
        size_t size = PAGE_OUT_BYTES;
        if (snappy_compress((const char *)page, PAGE, (char *)out, &size) != SNAPPY_OK) return 0;
        return size < PAGE ? size : 0;
    }
    case CODEC_ZSTD: {
        size_t size = ZSTD_compressCCtx(context->zstd, out, PAGE - 1, page, PAGE, ZSTD_LEVEL);
        return ZSTD_isError(size) ? 0 : size;
    }
    default:
        return 0;
    }
}

int is_zero_page(const uint8_t *page) {
    /* Most pages with data differ in their first word. */
    uint64_t first;
    memcpy(&first, page, 8);
    if (first != 0) return 0;
    uint64_t any = 0;
    for (size_t at = 0; at < PAGE; at += 64) {
        uint64_t w[8];
        memcpy(w, page + at, 64);
        any |= w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
        if (any != 0) return 0;
    }
    return 1;
}
