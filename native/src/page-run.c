#define _POSIX_C_SOURCE 200809L
#include "page-run.h"

#include <stdlib.h>
#include <string.h>

/* Pages a thread takes at a time: few enough that the threads finish together. */
#define PAGES_PER_TAKE 4

struct helper_start {
    struct page_run *run;
    int index;
    /* The job generation when it was started: only later jobs are its to join. */
    uint64_t seen;
};

/* Takes pages until none are left, each into its own slot. */
static void compress_pages(struct page_run *run, struct codec_context *context) {
    for (;;) {
        size_t first = atomic_fetch_add_explicit(&run->next_page, PAGES_PER_TAKE, memory_order_relaxed);
        if (first >= run->pages) return;
        size_t end = first + PAGES_PER_TAKE < run->pages ? first + PAGES_PER_TAKE : run->pages;
        for (size_t i = first; i < end; i++) {
            const uint8_t *page = run->input + i * PAGE;
            int32_t size = PAGE_RUN_ZERO;
            if (!is_zero_page(page)) {
                size_t block = compress_page(context, run->codec, run->flags, page, run->slots + i * PAGE_OUT_BYTES);
                size = block > 0 && block < PAGE ? (int32_t)block : PAGE_RUN_RAW;
            }
            run->sizes[i] = size;
        }
    }
}

static void *helper_main(void *arg) {
    struct helper_start start = *(struct helper_start *)arg;
    free(arg);
    struct page_run *run = start.run;
    uint64_t seen = start.seen;
    pthread_mutex_lock(&run->lock);
    for (;;) {
        while (!run->quit && run->generation == seen) pthread_cond_wait(&run->wake, &run->lock);
        if (run->quit) break;
        seen = run->generation;
        /* A job for fewer threads leaves this helper out, and does not wait for it. */
        if (start.index > run->active) continue;
        pthread_mutex_unlock(&run->lock);
        compress_pages(run, &run->contexts[start.index]);
        pthread_mutex_lock(&run->lock);
        if (--run->busy == 0) pthread_cond_signal(&run->done);
    }
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

int page_run_init(struct page_run *run) {
    memset(run, 0, sizeof *run);
    if (!codec_context_init(&run->contexts[0])) return 0;
    pthread_mutex_init(&run->lock, NULL);
    pthread_cond_init(&run->wake, NULL);
    pthread_cond_init(&run->done, NULL);
    return 1;
}

void page_run_free(struct page_run *run) {
    pthread_mutex_lock(&run->lock);
    run->quit = 1;
    pthread_cond_broadcast(&run->wake);
    pthread_mutex_unlock(&run->lock);
    for (int i = 0; i < run->started; i++) pthread_join(run->helpers[i], NULL);
    for (int i = 0; i <= run->started; i++) codec_context_free(&run->contexts[i]);
    pthread_mutex_destroy(&run->lock);
    pthread_cond_destroy(&run->wake);
    pthread_cond_destroy(&run->done);
    free(run->sizes);
    free(run->slots);
}

/* Starts helpers until `wanted` run (or one fails to start, which leaves fewer). */
static void start_helpers(struct page_run *run, int wanted) {
    while (run->started < wanted) {
        int index = run->started + 1;
        struct helper_start *start = malloc(sizeof *start);
        if (start == NULL || !codec_context_init(&run->contexts[index])) {
            free(start);
            return;
        }
        pthread_mutex_lock(&run->lock);
        *start = (struct helper_start){ run, index, run->generation };
        int failed = pthread_create(&run->helpers[run->started], NULL, helper_main, start);
        if (!failed) run->started++;
        pthread_mutex_unlock(&run->lock);
        if (failed) {
            free(start);
            codec_context_free(&run->contexts[index]);
            return;
        }
    }
}

static int reserve(struct page_run *run, size_t pages) {
    if (pages <= run->capacity) return 1;
    int32_t *sizes = malloc(sizeof *sizes * pages);
    uint8_t *slots = malloc((size_t)PAGE_OUT_BYTES * pages);
    if (sizes == NULL || slots == NULL) {
        free(sizes);
        free(slots);
        return 0;
    }
    free(run->sizes);
    free(run->slots);
    run->sizes = sizes;
    run->slots = slots;
    run->capacity = pages;
    return 1;
}

double page_run_compress(struct page_run *run, int codec, int flags, const uint8_t *input, size_t pages, int threads) {
    if (!reserve(run, pages)) {
        /* Ids only grow: no earlier id matches the (empty) run now held. */
        run->id += 1;
        run->pages = 0;
        return 0;
    }
    int helpers = threads > PAGE_RUN_MAX_THREADS ? PAGE_RUN_MAX_THREADS - 1 : threads - 1;
    if (helpers > run->started) start_helpers(run, helpers);
    if (helpers > run->started) helpers = run->started;
    /* A run too short to share is not worth a helper's wake-up. */
    if (pages < 4 * PAGES_PER_TAKE) helpers = 0;

    run->input = input;
    run->pages = pages;
    run->codec = codec;
    run->flags = flags;
    atomic_store_explicit(&run->next_page, 0, memory_order_relaxed);
    if (helpers > 0) {
        pthread_mutex_lock(&run->lock);
        /* The first `helpers` helpers take pages and report back once each. */
        run->busy = helpers;
        run->active = helpers;
        run->generation++;
        pthread_cond_broadcast(&run->wake);
        pthread_mutex_unlock(&run->lock);
    }
    compress_pages(run, &run->contexts[0]);
    if (helpers > 0) {
        pthread_mutex_lock(&run->lock);
        while (run->busy > 0) pthread_cond_wait(&run->done, &run->lock);
        pthread_mutex_unlock(&run->lock);
    }
    run->input = NULL;
    run->id += 1;
    return run->id;
}
