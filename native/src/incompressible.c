/*
 * Port of src/dump/kdump/incompressible.ts; see there for why each threshold is what it is.
 * Entropy over a 1 KiB sample (128 bytes of every 512) above 7.6 bits a byte, and no 8 aligned
 * words in a row repeating earlier ones at a word-multiple distance.
 */
#include "incompressible.h"

#include <math.h>
#include <string.h>

#define PAGE_BYTES 4096
#define PIECE_BYTES 128
#define PIECE_STRIDE 512
#define SAMPLE_BYTES ((PAGE_BYTES / PIECE_STRIDE) * PIECE_BYTES)
#define SAMPLE_ENTROPY_BAR 7.6
#define MIN_REPEAT_WORDS 8
#define HASH_MULTIPLIER 0x9e3779b1u
#define WORDS (PAGE_BYTES / 4)

/* c * log2(c) for every count a sample can have, filled once. */
static double c_log_c[SAMPLE_BYTES + 1];
static int c_log_c_ready;

void incompressible_state_init(struct incompressible_state *state) {
    memset(state, 0, sizeof *state);
    state->next_base = 1;
    if (!c_log_c_ready) {
        /* Idempotent: threads racing here write the same values. */
        for (int c = 1; c <= SAMPLE_BYTES; c++) c_log_c[c] = c * log2((double)c);
        c_log_c_ready = 1;
    }
}

static double sample_entropy(const uint8_t *page) {
    uint32_t counts[256] = { 0 };
    for (int at = 0; at < PAGE_BYTES; at += PIECE_STRIDE) {
        for (int i = at; i < at + PIECE_BYTES; i++) counts[page[i]]++;
    }
    double sum = 0;
    for (int b = 0; b < 256; b++) sum += c_log_c[counts[b]];
    return log2((double)SAMPLE_BYTES) - sum / SAMPLE_BYTES;
}

static int has_repeat(struct incompressible_state *state, const uint8_t *page) {
    uint32_t words[WORDS];
    memcpy(words, page, PAGE_BYTES);
    if (state->next_base > 0x3fff0000) {
        memset(state->slot_positions, 0, sizeof state->slot_positions);
        state->next_base = 1;
    }
    const int32_t base = state->next_base;
    state->next_base += WORDS;
    int32_t *keys = state->slot_keys;
    int32_t *positions = state->slot_positions;
    for (int j = 0; j < WORDS; j++) {
        int32_t key = (int32_t)words[j];
        uint32_t slot = (words[j] * HASH_MULTIPLIER) >> (32 - INCOMPRESSIBLE_HASH_BITS);
        if (keys[slot] == key) {
            int32_t earlier = positions[slot] - base;
            if (earlier >= 0) {
                int length = 1;
                while (length < MIN_REPEAT_WORDS && j + length < WORDS && words[earlier + length] == words[j + length]) length++;
                if (length >= MIN_REPEAT_WORDS) return 1;
            }
        }
        keys[slot] = key;
        positions[slot] = j + base;
    }
    return 0;
}

int looks_incompressible(struct incompressible_state *state, const uint8_t *page) {
    return sample_entropy(page) > SAMPLE_ENTROPY_BAR && !has_repeat(state, page);
}
