/*
 * A run of kdump pages compressed ahead of storing: every page's zero test and block, computed
 * on the calling thread and up to PAGE_RUN_MAX_THREADS - 1 helper threads that take pages a few
 * at a time, then kept until the writer has stored the run piece by piece. The helpers are
 * started on first use and stopped with the run's owner (the addon's per-environment state).
 * With one effective core the helpers only take turns with the caller; the blocks are the same
 * whichever thread made them.
 */
#ifndef SLICE86_PAGE_RUN_H
#define SLICE86_PAGE_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "codec-context.h"

#define PAGE_RUN_MAX_THREADS 4
/* What page_run.sizes holds for a page besides a block's length. */
#define PAGE_RUN_RAW (-1)
#define PAGE_RUN_ZERO (-2)

struct page_run {
    /* The run's results: sizes[i], and page i's block at slots + i * PAGE_OUT_BYTES. */
    int32_t *sizes;
    uint8_t *slots;
    size_t capacity;
    size_t pages;
    int codec;
    /* Which compress call these results are from (0: none yet); it grows with every call. */
    double id;

    /* The job the threads share while page_run_compress runs. */
    const uint8_t *input;
    int flags;
    atomic_size_t next_page;

    /* Helper threads, each with its own codecs (contexts[0] is the caller's). */
    struct codec_context contexts[PAGE_RUN_MAX_THREADS];
    pthread_t helpers[PAGE_RUN_MAX_THREADS - 1];
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    uint64_t generation;
    int active;
    int busy;
    int quit;
};

/* 0 when memory or the codecs' work memory could not be had. */
int page_run_init(struct page_run *run);
/* Stops and joins the helpers, frees everything. */
void page_run_free(struct page_run *run);

/*
 * Compresses `pages` whole pages at `input` with `codec` on up to `threads` threads (fewer when
 * helpers could not be started); returns the new run id, or 0 when the result memory could not
 * be had (no run is held then). `input` is only read, and only until this returns.
 */
double page_run_compress(struct page_run *run, int codec, int flags, const uint8_t *input, size_t pages, int threads);

#endif
