/* Private to daemon/: helpers shared between its source files. */
#ifndef ROLLMAP_DAEMON_INTERNAL_H
#define ROLLMAP_DAEMON_INTERNAL_H

#include "rollmap_daemon.h"

/* The SPSC ring with items of any fixed size (rm_ring_new is the sample
 * ring): the capture pipeline passes device messages through one. */
rm_status rm_ring_new_items(rm_ring **out, size_t min_capacity, size_t item_size,
                            rm_error *err);
size_t rm_ring_push_items(rm_ring *ring, const void *items, size_t count);
size_t rm_ring_pop_items(rm_ring *ring, void *out, size_t max);

#endif
