/*
 * LZO1X-1 compressor, ported line for line from src/dump/kdump/codecs/lzo1x.ts (see there for
 * the reasoning behind each rule): same hash, same probe skipping, same match and literal forms,
 * so the native and the portable paths write identical blocks (test/node/native-codecs.test.ts
 * checks that on many pages). Rule names cite Linux's Documentation/staging/lzo.rst.
 */
#include "lzo1x.h"

#include <string.h>

#define M2_MAX_LEN 8
#define M2_MAX_DIST 2048
#define M3_MAX_DIST 16384
#define M3_MAX_SHORT_LEN 33
#define M4_BASE_DIST 16384
#define M4_MAX_DIST 49151
#define M4_MAX_SHORT_LEN 9
#define LONG_LITERALS_MAX_SHORT 18
#define FIRST_BYTE_MAX_LITERALS 238
#define MIN_MATCH 4
#define HASH_MULTIPLIER 0x9e3779b1u
#define SKIP_SHIFT 5

#define GENERATION_SHIFT 12
#define MAX_GENERATION 15

void lzo1x_state_init(struct lzo1x_state *state) {
    memset(state->table, 0, sizeof state->table);
    state->generation = 0;
}

/* The tag of this call's entries; the table is cleared when the tags run out. */
static uint16_t next_generation(struct lzo1x_state *state) {
    if (state->generation == MAX_GENERATION) {
        memset(state->table, 0, sizeof state->table);
        state->generation = 0;
    }
    return (uint16_t)(++state->generation << GENERATION_SHIFT);
}

static inline uint32_t read32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4); /* little-endian hosts only (x86, arm64), as the TypeScript read32 order */
    return v;
}

static inline uint64_t read64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* First position from `from` on where the match at `dist` stops (or the input ends): 8 bytes a step. */
static inline __attribute__((always_inline)) size_t match_end(const uint8_t *src, size_t n, size_t from, size_t dist) {
    size_t i = from;
    while (i + 8 <= n) {
        uint64_t diff = read64(src + i) ^ read64(src + i - dist);
        if (diff != 0) return i + ((size_t)__builtin_ctzll(diff) >> 3);
        i += 8;
    }
    while (i < n && src[i] == src[i - dist]) i++;
    return i;
}

/* Length extension: one zero byte per 255, then the non-zero remainder (rest >= 1). */
static inline __attribute__((always_inline)) size_t write_length_extension(uint8_t *out, size_t op, size_t rest) {
    while (rest > 255) {
        out[op++] = 0;
        rest -= 255;
    }
    out[op] = (uint8_t)rest;
    return op + 1;
}

static inline __attribute__((always_inline)) size_t emit_literals(const uint8_t *src, size_t n, size_t from, size_t to, uint8_t *out, size_t op) {
    size_t t = to - from;
    if (t == 0) return op;
    if (op == 0 && t <= FIRST_BYTE_MAX_LITERALS) {
        out[op++] = (uint8_t)(17 + t);
    } else if (op > 0 && t <= 3) {
        /* The S bits sit in the last-but-one byte of every match form. */
        out[op - 2] |= (uint8_t)t;
    } else if (t <= LONG_LITERALS_MAX_SHORT) {
        out[op++] = (uint8_t)(t - 3);
    } else {
        out[op++] = 0;
        op = write_length_extension(out, op, t - LONG_LITERALS_MAX_SHORT);
    }
    if (t <= 16 && from + 16 <= n) {
        /* A fixed 16-byte copy (the output has 16 bytes of room past the block's worst case). */
        memcpy(out + op, src + from, 16);
    } else {
        memcpy(out + op, src + from, t);
    }
    return op + t;
}

static inline __attribute__((always_inline)) size_t write_opcode_with_length(uint8_t *out, size_t op, uint8_t opcode, size_t len, size_t max_short) {
    if (len <= max_short) {
        out[op] = (uint8_t)(opcode | (len - 2));
        return op + 1;
    }
    out[op] = opcode;
    return write_length_extension(out, op + 1, len - max_short);
}

static inline __attribute__((always_inline)) size_t emit_match(uint8_t *out, size_t op, size_t dist, size_t len) {
    if (len <= M2_MAX_LEN && dist <= M2_MAX_DIST) {
        size_t d = dist - 1;
        out[op] = (uint8_t)(((len - 1) << 5) | ((d & 7) << 2));
        out[op + 1] = (uint8_t)(d >> 3);
        return op + 2;
    }
    size_t d;
    if (dist <= M3_MAX_DIST) {
        d = dist - 1;
        op = write_opcode_with_length(out, op, 0x20, len, M3_MAX_SHORT_LEN);
    } else {
        d = dist - M4_BASE_DIST;
        op = write_opcode_with_length(out, op, (uint8_t)(0x10 | ((d >> 14) << 3)), len, M4_MAX_SHORT_LEN);
        d &= 0x3fff;
    }
    out[op] = (uint8_t)((d << 2) & 0xff);
    out[op + 1] = (uint8_t)(d >> 6);
    return op + 2;
}

size_t lzo1x_compress(struct lzo1x_state *state, const uint8_t *src, size_t n, uint8_t *out) {
    if (n > LZO1X_MAX_INPUT) return 0;
    uint16_t *table = state->table;
    const uint16_t tag = next_generation(state);
    size_t op = 0, anchor = 0, ip = 0;
    if (n >= MIN_MATCH) {
        const size_t last_probe = n - MIN_MATCH;
        while (ip <= last_probe) {
            uint32_t seq = read32(src + ip);
            uint32_t slot = (seq * HASH_MULTIPLIER) >> (32 - LZO1X_HASH_BITS);
            /* An entry of an earlier call (other tag) wraps to a huge distance: no candidate. */
            size_t candidate = (size_t)(uint16_t)(table[slot] - tag);
            table[slot] = (uint16_t)(ip | tag);
            /* Inputs are at most 4096 bytes, so every candidate is within M2..M4 reach (M4_MAX_DIST). */
            if (__builtin_expect(candidate >= ip || read32(src + candidate) != seq, 1)) {
                ip += 1 + ((ip - anchor) >> SKIP_SHIFT);
                continue;
            }
            size_t dist = ip - candidate;
            /* Grow the match backwards into the pending literals. */
            size_t start = ip;
            while (start > anchor && start > dist && src[start - 1] == src[start - 1 - dist]) start--;
            size_t end = match_end(src, n, ip + MIN_MATCH, dist);
            op = emit_literals(src, n, anchor, start, out, op);
            op = emit_match(out, op, dist, end - start);
            anchor = ip = end;
        }
    }
    op = emit_literals(src, n, anchor, n, out, op);
    /* End of stream: M4 with distance 16384. */
    out[op] = 0x11;
    out[op + 1] = 0;
    out[op + 2] = 0;
    return op + 3;
}
