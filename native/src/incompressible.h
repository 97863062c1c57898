/*
 * The test for pages no kdump codec can shrink, a C port of src/dump/kdump/incompressible.ts
 * (same sample, entropy bar and repeat probe), so the native compressor can store random-looking
 * pages raw untried without a round trip to JavaScript per page.
 */
#ifndef SLICE86_INCOMPRESSIBLE_H
#define SLICE86_INCOMPRESSIBLE_H

#include <stdint.h>

#define INCOMPRESSIBLE_HASH_BITS 11

struct incompressible_state {
    int32_t slot_keys[1 << INCOMPRESSIBLE_HASH_BITS];
    int32_t slot_positions[1 << INCOMPRESSIBLE_HASH_BITS];
    int32_t next_base;
};

void incompressible_state_init(struct incompressible_state *state);

/* True when the 4096-byte page is random-looking enough to store raw untried. */
int looks_incompressible(struct incompressible_state *state, const uint8_t *page);

#endif
