/*
 * rollmap daemon: the lock-free sample ring, the capture pipeline, the
 * session recorder, the live socket server (docs/LIVE.md) and the daemon's
 * configuration. rollmapd's main is a thin layer over this library.
 *
 * The only public header of daemon/.
 */
#ifndef ROLLMAP_DAEMON_H
#define ROLLMAP_DAEMON_H

#include "rollmap_core.h"
#include "rollmap_hw.h"
#include "rollmap_analysis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Sample ring: single producer, single consumer, lock-free                 */
/* ------------------------------------------------------------------------ */

typedef struct rm_ring rm_ring;

/** A ring of at least min_capacity samples (rounded up to a power of two). */
rm_status rm_ring_new(rm_ring **out, size_t min_capacity, rm_error *err);
void rm_ring_free(rm_ring *ring);
size_t rm_ring_capacity(const rm_ring *ring);
/** Producer: push up to count samples; returns how many fit. Samples that
 *  do not fit are counted in rm_ring_dropped(), never silently lost. */
size_t rm_ring_push(rm_ring *ring, const rm_sample *samples, size_t count);
/** Consumer: pop up to max samples into out; returns how many. */
size_t rm_ring_pop(rm_ring *ring, rm_sample *out, size_t max);
/** Samples waiting (either side may ask; the answer may be stale). */
size_t rm_ring_used(const rm_ring *ring);
/** Total samples the producer could not push. */
uint64_t rm_ring_dropped(const rm_ring *ring);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_DAEMON_H */
