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
 *     sizes: Int32Array of at least n; each page's block length, or -1 to store the page raw.
 *     flags: bit 0 stores random-looking pages raw untried (incompressible.c).
 *   compressRun(codec, pages, flags, threads) -> run id
 *     The first half of the kdump page loop for a run of pages (one Uint8Array of whole pages):
 *     each page's zero test and block, on up to `threads` threads (page-run.c), kept in the
 *     addon until the run is stored. flags: bit 0 as compressPages.
 *   storeRun(id, pages, data, descs, cursor) -> false when the addon no longer holds run `id`
 *     The second half, for the same pages: a zero page gets a descriptor pointing at the shared
 *     zero page; any other page's block (or the page itself, when stored raw) is appended to
 *     `data`, the free room of the writer's data cache, and its 24-byte page_desc to `descs`,
 *     the descriptor cache's room. It stops before the first page whose data or descriptor
 *     would not fit, so the writer flushes that cache and calls again: the caches fill and
 *     flush exactly as page by page. A later compressRun (another dump in the same thread)
 *     replaces the run; the caller then compresses its run again.
 *     cursor: Float64Array of 6: [0] file offset of the next page's data (in and out), [1] the
 *            shared zero page's offset, [2] first page to store (in) / first not stored (out),
 *            [3] bytes appended to data, [4] to descs (out), [5] 0 when the run is done,
 *            1 when data is full, 2 when descs is full (out).
 *   writeSparse(fd, bytes, position, holeBytes) -> undefined
 *     Writes `bytes` at `position` of the open file `fd`, leaving zero runs of `holeBytes` or more
 *     (whole pages from the start of `bytes`) and a zero tail as holes (sparse-write.c). A failed
 *     write throws an Error whose code is the errno's name (ENOSPC, EIO ...).
 *   decompressZstd(block, out) -> bytes decoded into `out`, or -1 for a bad or too long frame
 *     (the portable zstd codec loads asynchronously; this one is there from the start).
 *   looksIncompressible(page) -> boolean, the test alone (for tests).
 *
 * Work memory (codec contexts, the run's results, helper threads) is allocated once per Node
 * environment (main thread or worker) and reused; the helpers stop with the environment. Host
 * misuse throws an Error whose `code` says what was wrong; nothing is written then. Page contents are never trusted to be
 * anything: every codec bounds its output, and nothing outside `out` and `sizes`, or `data` and
 * `descs`, is written; pages are only read.
 */
#define _GNU_SOURCE /* strerrorname_np */
#define NAPI_VERSION 8
#include <node_api.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "codec-context.h"
#include "page-run.h"
#include "sparse-write.h"

/* kdump's page_desc: u64 offset, u32 size, u32 flags, u64 page_flags, little-endian. */
#define PAGE_DESC_BYTES 24
#define CURSOR_LENGTH 6
#define STOP_DONE 0
#define STOP_DATA_FULL 1
#define STOP_DESCS_FULL 2

struct native_state {
    /* Its contexts[0] also serves compressPages and looksIncompressible. */
    struct page_run run;
    int run_ready;
    ZSTD_DCtx *zstd_decoder;
    uint8_t scratch[PAGE_OUT_BYTES];
};

static void free_state(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    struct native_state *state = data;
    if (state == NULL) return;
    if (state->run_ready) page_run_free(&state->run);
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

/*
 * An entry point's first `count` arguments (missing ones come as undefined) and this
 * environment's state; 0, with an error thrown, when the call came with fewer than `required`
 * (its `usage` says what it takes) or N-API failed.
 */
static int entry_arguments(napi_env env, napi_callback_info info, size_t count, size_t required, const char *usage, napi_value *argv, struct native_state **state) {
    size_t argc = count;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || napi_get_instance_data(env, (void **)state) != napi_ok) {
        fail(env, "native-failure", "N-API could not read the call's arguments");
        return 0;
    }
    if (argc >= required) return 1;
    fail(env, "invalid-argument", usage);
    return 0;
}

/* A kdump codec flag; 0, with an error thrown, when `value` is none of the four. */
static int codec_argument(napi_env env, napi_value value, int32_t *codec) {
    if (napi_get_value_int32(env, value, codec) == napi_ok && known_codec(*codec)) return 1;
    fail(env, "unknown-codec", "codec must be 0x1 (zlib), 0x2 (lzo), 0x4 (snappy) or 0x20 (zstd)");
    return 0;
}

/* A run of whole pages; 0, with an error thrown, when `value` is not one. */
static int pages_argument(napi_env env, napi_value value, uint8_t **pages, size_t *length) {
    if (uint8_view(env, value, pages, length) && *length % PAGE == 0) return 1;
    fail(env, "invalid-pages", "pages must be a Uint8Array of whole 4096-byte pages");
    return 0;
}

static napi_value compress_pages(napi_env env, napi_callback_info info) {
    napi_value argv[5];
    struct native_state *state = NULL;
    if (!entry_arguments(env, info, 5, 5, "compressPages(codec, pages, out, sizes, flags) takes 5 arguments", argv, &state)) return NULL;

    int32_t codec = 0, flags = 0;
    if (!codec_argument(env, argv[0], &codec)) return NULL;
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
        int32_t size = PAGE_RUN_RAW;
        size_t block = compress_page(&state->run.contexts[0], codec, flags, page, state->scratch);
        /* The arena holds n pages and every block is smaller than its page, so this always fits;
         * memmove, as `out` may be the pages' own buffer (blocks packed in place). */
        if (block > 0 && block < PAGE && used + block <= out_length) {
            memmove(out + used, state->scratch, block);
            used += block;
            size = (int32_t)block;
        }
        memcpy(sizes_bytes + (size_t)i * 4, &size, 4);
    }
    free(pages);
    napi_value result;
    CHECK(napi_create_double(env, (double)used, &result));
    return result;
}

static inline void put_le64(uint8_t *at, uint64_t value) {
    for (int i = 0; i < 8; i++) at[i] = (uint8_t)(value >> (8 * i));
}

static inline void put_descriptor(uint8_t *at, uint64_t offset, uint32_t size, uint32_t flags) {
    put_le64(at, offset);
    put_le64(at + 8, (uint64_t)size | ((uint64_t)flags << 32));
    put_le64(at + 16, 0);
}

static int overlap(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length) {
    return a_length > 0 && b_length > 0 && (uintptr_t)a < (uintptr_t)b + b_length && (uintptr_t)b < (uintptr_t)a + a_length;
}

/* A JavaScript number that is a whole number from 0 to 2^53 (offsets, counts, descriptors). */
static int whole_number(double value) {
    return value >= 0 && value <= 9007199254740992.0 && value == (double)(uint64_t)value;
}

static napi_value compress_run(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    struct native_state *state = NULL;
    if (!entry_arguments(env, info, 4, 4, "compressRun(codec, pages, flags, threads) takes 4 arguments", argv, &state)) return NULL;
    int32_t codec = 0, flags = 0;
    double threads = 0;
    if (!codec_argument(env, argv[0], &codec)) return NULL;
    if (napi_get_value_int32(env, argv[2], &flags) != napi_ok) return fail(env, "invalid-argument", "flags must be a number");
    if (napi_get_value_double(env, argv[3], &threads) != napi_ok || !whole_number(threads) || threads < 1 || threads > PAGE_RUN_MAX_THREADS) return fail(env, "invalid-argument", "threads must be 1 to 4");
    uint8_t *pages = NULL;
    size_t pages_length = 0;
    if (!pages_argument(env, argv[1], &pages, &pages_length)) return NULL;
    double id = page_run_compress(&state->run, codec, flags, pages, pages_length / PAGE, (int)threads);
    if (id == 0) return fail(env, "native-failure", "out of memory for the run's blocks");
    napi_value result;
    CHECK(napi_create_double(env, id, &result));
    return result;
}

static napi_value store_run(napi_env env, napi_callback_info info) {
    napi_value argv[5];
    struct native_state *state = NULL;
    if (!entry_arguments(env, info, 5, 5, "storeRun(id, pages, data, descs, cursor) takes 5 arguments", argv, &state)) return NULL;
    double id = 0;
    if (napi_get_value_double(env, argv[0], &id) != napi_ok) return fail(env, "invalid-argument", "id must be a number");

    /* No JavaScript runs between these lookups and the loop, so the pointers stay valid. */
    uint8_t *pages = NULL, *data = NULL, *descs = NULL;
    size_t pages_length = 0, data_length = 0, descs_length = 0, cursor_length = 0;
    void *cursor_data = NULL;
    napi_typedarray_type type;
    bool is_typed = false;
    if (!pages_argument(env, argv[1], &pages, &pages_length)) return NULL;
    if (!uint8_view(env, argv[2], &data, &data_length) || !uint8_view(env, argv[3], &descs, &descs_length)) return fail(env, "invalid-arena", "data and descs must be Uint8Arrays");
    if (napi_is_typedarray(env, argv[4], &is_typed) != napi_ok || !is_typed
        || napi_get_typedarray_info(env, argv[4], &type, &cursor_length, &cursor_data, NULL, NULL) != napi_ok
        || type != napi_float64_array || cursor_length < CURSOR_LENGTH || cursor_data == NULL) {
        return fail(env, "invalid-argument", "cursor must be a Float64Array of 6");
    }
    /* Guest pages are only ever read: a cache overlapping them (or each other) is refused. */
    if (overlap(pages, pages_length, data, data_length) || overlap(pages, pages_length, descs, descs_length) || overlap(data, data_length, descs, descs_length)) {
        return fail(env, "invalid-arena", "data, descs and pages must not overlap");
    }
    double cursor[CURSOR_LENGTH];
    memcpy(cursor, cursor_data, sizeof cursor);
    size_t n = pages_length / PAGE;
    if (!whole_number(cursor[0]) || !whole_number(cursor[1]) || !whole_number(cursor[2]) || cursor[2] > (double)n) {
        return fail(env, "invalid-argument", "cursor offsets must be whole numbers and its first page within the run");
    }
    napi_value result;
    const struct page_run *run = &state->run;
    if (id == 0 || id != run->id || n != run->pages) {
        CHECK(napi_get_boolean(env, false, &result));
        return result;
    }

    uint64_t data_offset = (uint64_t)cursor[0];
    const uint64_t zero_offset = (uint64_t)cursor[1];
    size_t i = (size_t)cursor[2], data_used = 0, descs_used = 0;
    int stop = STOP_DONE;
    for (; i < n; i++) {
        int32_t size = run->sizes[i];
        if (size == PAGE_RUN_ZERO) {
            if (descs_used + PAGE_DESC_BYTES > descs_length) {
                stop = STOP_DESCS_FULL;
                break;
            }
            put_descriptor(descs + descs_used, zero_offset, PAGE, 0);
            descs_used += PAGE_DESC_BYTES;
            continue;
        }
        size_t stored = size == PAGE_RUN_RAW ? PAGE : (size_t)size;
        /* Data before descriptor, as page by page: a page that needs both caches flushed stops twice. */
        if (data_used + stored > data_length) {
            stop = STOP_DATA_FULL;
            break;
        }
        if (descs_used + PAGE_DESC_BYTES > descs_length) {
            stop = STOP_DESCS_FULL;
            break;
        }
        memcpy(data + data_used, size == PAGE_RUN_RAW ? pages + i * PAGE : run->slots + i * PAGE_OUT_BYTES, stored);
        data_used += stored;
        put_descriptor(descs + descs_used, data_offset, (uint32_t)stored, size == PAGE_RUN_RAW ? 0 : (uint32_t)run->codec);
        descs_used += PAGE_DESC_BYTES;
        data_offset += stored;
    }
    cursor[0] = (double)data_offset;
    cursor[2] = (double)i;
    cursor[3] = (double)data_used;
    cursor[4] = (double)descs_used;
    cursor[5] = stop;
    memcpy(cursor_data, cursor, sizeof cursor);
    CHECK(napi_get_boolean(env, true, &result));
    return result;
}

static napi_value write_sparse(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    struct native_state *state = NULL;
    if (!entry_arguments(env, info, 4, 4, "writeSparse(fd, bytes, position, holeBytes) takes 4 arguments", argv, &state)) return NULL;
    /* Whole numbers only: a truncated 1.5 would be another descriptor (stdout). */
    double fd = -1, position = -1, hole_bytes = 0;
    uint8_t *bytes = NULL;
    size_t length = 0;
    if (napi_get_value_double(env, argv[0], &fd) != napi_ok || !whole_number(fd) || fd > INT_MAX) return fail(env, "invalid-argument", "fd must be a file descriptor");
    if (!uint8_view(env, argv[1], &bytes, &length)) return fail(env, "invalid-argument", "bytes must be a Uint8Array");
    if (napi_get_value_double(env, argv[2], &position) != napi_ok || !whole_number(position)) return fail(env, "invalid-argument", "position must be a whole number of bytes");
    if (napi_get_value_double(env, argv[3], &hole_bytes) != napi_ok || !whole_number(hole_bytes) || hole_bytes < 1) return fail(env, "invalid-argument", "holeBytes must be a whole number, 1 or more");
    int error = sparse_write((int)fd, bytes, length, (uint64_t)position, (size_t)hole_bytes);
    if (error != 0) {
        /* The errno's name as the code, as Node's own fs errors have it. */
        const char *name = strerrorname_np(error);
        return fail(env, name != NULL ? name : "EIO", strerror(error));
    }
    return NULL;
}

static napi_value looks_incompressible_js(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    struct native_state *state = NULL;
    /* A missing page comes as undefined, which the view check below refuses with its own code. */
    if (!entry_arguments(env, info, 1, 0, NULL, argv, &state)) return NULL;
    uint8_t *page = NULL;
    size_t length = 0;
    if (!uint8_view(env, argv[0], &page, &length) || length != PAGE) return fail(env, "invalid-pages", "page must be a Uint8Array of 4096 bytes");
    napi_value result;
    CHECK(napi_get_boolean(env, looks_incompressible(&state->run.contexts[0].incompressible, page), &result));
    return result;
}

static napi_value decompress_zstd(napi_env env, napi_callback_info info) {
    napi_value argv[2];
    struct native_state *state = NULL;
    if (!entry_arguments(env, info, 2, 0, NULL, argv, &state)) return NULL;
    uint8_t *block = NULL, *out = NULL;
    size_t block_length = 0, out_length = 0;
    if (!uint8_view(env, argv[0], &block, &block_length) || !uint8_view(env, argv[1], &out, &out_length)) {
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
    state->zstd_decoder = ZSTD_createDCtx();
    state->run_ready = page_run_init(&state->run);
    if (!state->run_ready || state->zstd_decoder == NULL) {
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
    CHECK(napi_create_function(env, "compressRun", NAPI_AUTO_LENGTH, compress_run, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, "compressRun", fn));
    CHECK(napi_create_function(env, "storeRun", NAPI_AUTO_LENGTH, store_run, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, "storeRun", fn));
    CHECK(napi_create_function(env, "writeSparse", NAPI_AUTO_LENGTH, write_sparse, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, "writeSparse", fn));
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
