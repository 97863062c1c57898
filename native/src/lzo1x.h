/*
 * LZO1X-1 compressor for 4 KiB kdump pages: a C port of the project's clean-room TypeScript
 * compressor (src/dump/kdump/codecs/lzo1x.ts), making the very same bytes. Written from the
 * stream format in Linux's Documentation/staging/lzo.rst; no liblzo2 or minilzo code.
 */
#ifndef SLICE86_LZO1X_H
#define SLICE86_LZO1X_H

#include <stddef.h>
#include <stdint.h>

#define LZO1X_HASH_BITS 14

/* The customary LZO1X-1 output bound, as lzo1xWorstCase in the TypeScript codec. */
#define LZO1X_WORST_CASE(n) ((n) + (n) / 16 + 64 + 3)

/* Input bytes per call: positions fit 12 bits, so a table entry has 4 bits left for a generation. */
#define LZO1X_MAX_INPUT 4096

/*
 * Work memory kept across calls: recent positions by hash, each 16-bit entry tagged with the
 * call's generation (1..15) in its top bits, so entries of earlier calls read as empty and the
 * 32 KiB table (small enough for L1) is cleared once per 15 calls rather than every call.
 */
struct lzo1x_state {
    uint16_t table[1 << LZO1X_HASH_BITS];
    uint16_t generation;
};

void lzo1x_state_init(struct lzo1x_state *state);

/*
 * Compresses src[0..n) (n at most LZO1X_MAX_INPUT) into out, which holds at least
 * LZO1X_WORST_CASE(n) + 16 bytes (literals are copied 16 bytes at a time); returns the block's length, 0 when n is too large.
 */
size_t lzo1x_compress(struct lzo1x_state *state, const uint8_t *src, size_t n, uint8_t *out);

#endif
