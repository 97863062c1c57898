/*
 * slice86's native page compressor for the Node entry: whole batches of 4 KiB kdump pages per
 * call, so the cost of crossing into C is paid once per batch rather than per page (the reason
 * npm's per-page bindings were slow, spec/compression.md). Codecs are named by their kdump
 * page-descriptor flags: zlib 0x1 (libdeflate level 1, RFC 1950 streams), LZO1X-1 0x2 (our port,
 * lzo1x.c), snappy 0x4 (libsnappy's raw format), zstd 0x20 (libzstd level 1, one frame per page).
 *
 *   compressPages(codec, pages, out, sizes, flags) -> bytes of `out` used
 *     pages: one Uint8Array of n * 4096 bytes, or an array of n Uint8Arrays of 4096 bytes each.
 *     out:   the arena, at least n * 4096 bytes; blocks are packed at its start in page order.
 *     sizes: Int32Array of at least n; each page's block length, -1 to store the page raw, or
 *            -2 for a page of zero bytes (only with flag bit 1).
 *     flags: bit 0 stores random-looking pages raw untried (incompressible.c); bit 1 finds
 *            zero pages (the writer then needs no zero test of its own, a call per page).
 *   decompressZstd(block, out) -> bytes decoded into `out`, or -1 for a bad or too long frame
 *     (the portable zstd codec loads asynchronously; this one is there from the start).
 *   looksIncompressible(page) -> boolean, the test alone (for tests).
 *
 * Work memory (libdeflate compressor, zstd context, LZO hash table, scratch) is allocated once
 * per Node environment (main thread or worker) and reused. Host misuse throws an Error whose
 * `code` says what was wrong; nothing is written then. Page contents are never trusted to be
 * anything: every codec bounds its output, and nothing outside `out` and `sizes` is written.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <libdeflate.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "incompressible.h"
#include "lzo1x.h"

#define PAGE 4096
#define CODEC_ZLIB 0x1
#define CODEC_LZO 0x2
#define CODEC_SNAPPY 0x4
#define CODEC_ZSTD 0x20
#define FLAG_SKIP_INCOMPRESSIBLE 0x1
#define FLAG_FIND_ZERO 0x2
/* Raw pages are copied into the arena too, so it holds the run's page data exactly as stored. */
#define FLAG_PACK_RAW 0x4
#define SIZE_RAW (-1)
#define SIZE_ZERO (-2)
#define ZSTD_LEVEL 1
/* Room for any codec's output of one page: LZO's bound is 4419, snappy's 4810. */
#define SCRATCH_BYTES 8192

struct native_state {
    struct libdeflate_compressor *deflate;
    ZSTD_CCtx *zstd;
    ZSTD_DCtx *zstd_decoder;
    struct lzo1x_state lzo;
    struct incompressible_state incompressible;
    uint8_t scratch[SCRATCH_BYTES];
};

static void free_state(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct native_state *state = data;
    if (state == NULL) return;
    if (state->deflate != NULL) libdeflate_free_compressor(state->deflate);
    if (state->zstd != NULL) ZSTD_freeCCtx(state->zstd);
    if (state->zstd_decoder != NULL) ZSTD_freeDCtx(state->zstd_decoder);
    free(state);
}

static napi_value fail(napi_env env, const char *code, const char *message) {
    napi_throw_error(env, code, message);
    return NULL;
}

#define CHECK(call)                                                                      \
    do {                                                                                 \
        if ((call) != napi_ok) return fail(env, "native-failure", "N-API call failed: " #call); \
    } while (0)

/* The bytes of a Uint8Array (or Buffer); 0 when `value` is not one. */
static int uint8_view(napi_env env, napi_value value, uint8_t **data, size_t *length) {
    bool is_typed = false;
    if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
    napi_typedarray_type type;
    void *bytes = NULL;
    size_t count = 0;
    if (napi_get_typedarray_info(env, value, &type, &count, &bytes, NULL, NULL) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    if (bytes == NULL && count != 0) return 0;
    *data = bytes;
    *length = count;
    return 1;
}

/* Compresses one page into state->scratch; the block length, or 0 when it is not smaller than the page. */
static size_t compress_page(struct native_state *state, int codec, const uint8_t *page) {
    uint8_t *out = state->scratch;
    switch (codec) {
    case CODEC_ZLIB:
        /* libdeflate returns 0 when the stream does not fit below the page size. */
        return libdeflate_zlib_compress(state->deflate, page, PAGE, out, PAGE - 1);
    case CODEC_LZO: {
        size_t size = lzo1x_compress(&state->lzo, page, PAGE, out);
        return size < PAGE ? size : 0;
    }
    case CODEC_SNAPPY: {
        size_t size = SCRATCH_BYTES;
        if (snappy_compress((const char *)page, PAGE, (char *)out, &size) != SNAPPY_OK) return 0;
        return size < PAGE ? size : 0;
    }
    case CODEC_ZSTD: {
        size_t size = ZSTD_compressCCtx(state->zstd, out, PAGE - 1, page, PAGE, ZSTD_LEVEL);
        return ZSTD_isError(size) ? 0 : size;
    }
    default:
        return 0;
    }
}

/* Whether all 4096 bytes are zero: most pages with data differ in their first word. */
static int is_zero_page(const uint8_t *page) {
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

static int known_codec(int codec) {
    return codec == CODEC_ZLIB || codec == CODEC_LZO || codec == CODEC_SNAPPY || codec == CODEC_ZSTD;
}

static napi_value compress_pages(napi_env env, napi_callback_info info) {
    size_t argc = 5;
    napi_value argv[5];
    struct native_state *state = NULL;
    CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    CHECK(napi_get_instance_data(env, (void **)&state));
    if (argc < 5) return fail(env, "invalid-argument", "compressPages(codec, pages, out, sizes, flags) takes 5 arguments");

    int32_t codec = 0, flags = 0;
    if (napi_get_value_int32(env, argv[0], &codec) != napi_ok || !known_codec(codec)) return fail(env, "unknown-codec", "codec must be 0x1 (zlib), 0x2 (lzo), 0x4 (snappy) or 0x20 (zstd)");
    if (napi_get_value_int32(env, argv[4], &flags) != napi_ok) return fail(env, "invalid-argument", "flags must be a number");

    /*
     * The array's elements are fetched first: fetching may run JavaScript (getters), which could
     * detach a buffer looked at before. Every buffer pointer is taken after that, when no more
     * JavaScript runs until this call returns.
     */
    bool is_array = false;
    uint32_t n = 0;
    napi_value *elements = NULL;
    bool is_typed = false;
    if (napi_is_typedarray(env, argv[1], &is_typed) == napi_ok && is_typed) {
        /* one contiguous view; checked below */
    } else if (napi_is_array(env, argv[1], &is_array) == napi_ok && is_array) {
        CHECK(napi_get_array_length(env, argv[1], &n));
        if (n > 0) {
            elements = malloc(sizeof *elements * n);
            if (elements == NULL) return fail(env, "native-failure", "out of memory");
            for (uint32_t i = 0; i < n; i++) {
                if (napi_get_element(env, argv[1], i, &elements[i]) != napi_ok) {
                    free(elements);
                    return fail(env, "invalid-pages", "every page must be a Uint8Array of 4096 bytes");
                }
            }
        }
    } else {
        return fail(env, "invalid-pages", "pages must be a Uint8Array or an array of Uint8Arrays");
    }

    uint8_t *contiguous = NULL;
    uint8_t **pages = NULL;
    if (elements == NULL && !is_array) {
        size_t contiguous_length = 0;
        if (!uint8_view(env, argv[1], &contiguous, &contiguous_length)) return fail(env, "invalid-pages", "pages must be a Uint8Array or an array of Uint8Arrays");
        if (contiguous_length % PAGE != 0) return fail(env, "invalid-pages", "pages must be a whole number of 4096-byte pages");
        if (contiguous_length / PAGE > 0x7fffffff) return fail(env, "invalid-pages", "too many pages");
        n = (uint32_t)(contiguous_length / PAGE);
    } else if (n > 0) {
        pages = malloc(sizeof *pages * n);
        if (pages == NULL) {
            free(elements);
            return fail(env, "native-failure", "out of memory");
        }
        for (uint32_t i = 0; i < n; i++) {
            size_t length = 0;
            if (!uint8_view(env, elements[i], &pages[i], &length) || length != PAGE) {
                free(elements);
                free(pages);
                return fail(env, "invalid-pages", "every page must be a Uint8Array of 4096 bytes");
            }
        }
    }
    free(elements);

    /* Every argument is checked before anything is written, so misuse leaves out and sizes untouched. */
    uint8_t *out = NULL;
    size_t out_length = 0;
    napi_typedarray_type type;
    size_t sizes_length = 0;
    void *sizes_data = NULL;
    const char *code = NULL, *message = NULL;
    if (!uint8_view(env, argv[2], &out, &out_length)) {
        code = "invalid-arena", message = "out must be a Uint8Array";
    } else if (out_length / PAGE < n) {
        code = "invalid-arena", message = "out must hold at least 4096 bytes per page";
    } else if (napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed
               || napi_get_typedarray_info(env, argv[3], &type, &sizes_length, &sizes_data, NULL, NULL) != napi_ok
               || type != napi_int32_array || (sizes_data == NULL && sizes_length != 0)) {
        code = "invalid-sizes", message = "sizes must be an Int32Array";
    } else if (sizes_length < n) {
        code = "invalid-sizes", message = "sizes must have one entry per page";
    }
    if (code != NULL) {
        free(pages);
        return fail(env, code, message);
    }
    uint8_t *sizes_bytes = sizes_data;

    size_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *page = pages != NULL ? pages[i] : contiguous + (size_t)i * PAGE;
        int32_t size = SIZE_RAW;
        if ((flags & FLAG_FIND_ZERO) && is_zero_page(page)) {
            size = SIZE_ZERO;
        } else if (!((flags & FLAG_SKIP_INCOMPRESSIBLE) && looks_incompressible(&state->incompressible, page))) {
            size_t block = compress_page(state, codec, page);
            /* The arena holds n pages and every block is smaller than its page, so this always fits;
             * memmove, as `out` may be the pages' own buffer (blocks packed in place). */
            if (block > 0 && block < PAGE && used + block <= out_length) {
                memmove(out + used, state->scratch, block);
                used += block;
                size = (int32_t)block;
            }
        }
        if (size == SIZE_RAW && (flags & FLAG_PACK_RAW) && used + PAGE <= out_length) {
            /* memmove: in-place packing may overlap; `used` never passes the page's own offset. */
            memmove(out + used, page, PAGE);
            used += PAGE;
        }
        memcpy(sizes_bytes + (size_t)i * 4, &size, 4);
    }
    free(pages);
    napi_value result;
    CHECK(napi_create_double(env, (double)used, &result));
    return result;
}

static napi_value looks_incompressible_js(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    struct native_state *state = NULL;
    CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    CHECK(napi_get_instance_data(env, (void **)&state));
    uint8_t *page = NULL;
    size_t length = 0;
    if (argc < 1 || !uint8_view(env, argv[0], &page, &length) || length != PAGE) return fail(env, "invalid-pages", "page must be a Uint8Array of 4096 bytes");
    napi_value result;
    CHECK(napi_get_boolean(env, looks_incompressible(&state->incompressible, page), &result));
    return result;
}

static napi_value decompress_zstd(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    struct native_state *state = NULL;
    CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    CHECK(napi_get_instance_data(env, (void **)&state));
    uint8_t *block = NULL, *out = NULL;
    size_t block_length = 0, out_length = 0;
    if (argc < 2 || !uint8_view(env, argv[0], &block, &block_length) || !uint8_view(env, argv[1], &out, &out_length)) {
        return fail(env, "invalid-argument", "decompressZstd(block, out) takes two Uint8Arrays");
    }
    size_t size = ZSTD_decompressDCtx(state->zstd_decoder, out, out_length, block, block_length);
    napi_value result;
    CHECK(napi_create_double(env, ZSTD_isError(size) ? -1.0 : (double)size, &result));
    return result;
}

static napi_value init(napi_env env, napi_value exports) {
    struct native_state *state = calloc(1, sizeof *state);
    if (state == NULL) return fail(env, "native-failure", "out of memory");
    state->deflate = libdeflate_alloc_compressor(1);
    state->zstd = ZSTD_createCCtx();
    state->zstd_decoder = ZSTD_createDCtx();
    lzo1x_state_init(&state->lzo);
    incompressible_state_init(&state->incompressible);
    if (state->deflate == NULL || state->zstd == NULL || state->zstd_decoder == NULL) {
        free_state(env, state, NULL);
        return fail(env, "native-failure", "could not allocate the codecs' work memory");
    }
    if (napi_set_instance_data(env, state, free_state, NULL) != napi_ok) {
        free_state(env, state, NULL);
        return fail(env, "native-failure", "napi_set_instance_data failed");
    }
    napi_value fn, versions, text;
    CHECK(napi_create_function(env, "compressPages", NAPI_AUTO_LENGTH, compress_pages, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, "compressPages", fn));
    CHECK(napi_create_function(env, "decompressZstd", NAPI_AUTO_LENGTH, decompress_zstd, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, "decompressZstd", fn));
    CHECK(napi_create_function(env, "looksIncompressible", NAPI_AUTO_LENGTH, looks_incompressible_js, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, "looksIncompressible", fn));
    CHECK(napi_create_object(env, &versions));
    CHECK(napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &text));
    CHECK(napi_set_named_property(env, versions, "libdeflate", text));
    CHECK(napi_create_string_utf8(env, ZSTD_versionString(), NAPI_AUTO_LENGTH, &text));
    CHECK(napi_set_named_property(env, versions, "zstd", text));
    CHECK(napi_set_named_property(env, exports, "versions", versions));
    return exports;
}

NAPI_MODULE_INIT() {
    return init(env, exports);
}
