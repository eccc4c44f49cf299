/* Private to daemon/: helpers shared between its source files. */
#ifndef ROLLMAP_DAEMON_INTERNAL_H
#define ROLLMAP_DAEMON_INTERNAL_H

#include "rollmap_daemon.h"

/* The SPSC ring with items of any fixed size (rm_ring_new is the sample
 * ring): the capture pipeline passes device messages through one. */
rm_status daemon_ring_new_items(rm_ring **out, size_t min_capacity, size_t item_size,
                                rm_error *err);
size_t daemon_ring_push_items(rm_ring *ring, const void *items, size_t count);
size_t daemon_ring_pop_items(rm_ring *ring, void *out, size_t max);

/* Call fn on copies of s[0..n) whose times have offset added, in pieces
 * (a stack buffer: nothing is allocated); on s itself when offset is 0. */
typedef void (*rm_samples_fn)(void *user, const rm_sample *s, size_t n);
void daemon_samples_shifted(const rm_sample *s, size_t n, int64_t offset,
                            rm_samples_fn fn, void *user);

#endif
