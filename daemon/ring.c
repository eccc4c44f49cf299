/* Single-producer single-consumer ring (C11 atomics) of fixed-size items:
 * samples for the public rm_ring_* calls, capture messages inside the
 * daemon (daemon_internal.h).
 *
 * head is written only by the producer and tail only by the consumer; each
 * lives on its own cache line so the two threads do not share a line they
 * write. Indices run freely and are masked on access (capacity is a power of
 * two), so used = head - tail even after wrap-around. */
#include "daemon_internal.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

struct rm_ring {
    alignas(CACHE_LINE) atomic_size_t head;
    alignas(CACHE_LINE) atomic_size_t tail;
    size_t mask;
    size_t item_size;
    unsigned char *slots;
};

static size_t round_up_pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

rm_status daemon_ring_new_items(rm_ring **out, size_t min_capacity, size_t item_size,
                           rm_error *err)
{
    if (min_capacity < 2 || min_capacity > ((size_t)1 << 30))
        return rm_error_set(err, RM_ERR_ARG,
                            "ring capacity %zu out of range (2..2^30)",
                            min_capacity);
    size_t capacity = round_up_pow2(min_capacity);
    rm_ring *ring = aligned_alloc(CACHE_LINE, sizeof *ring);
    unsigned char *slots = malloc(capacity * item_size);
    if (!ring || !slots) {
        free(ring);
        free(slots);
        return rm_error_set(err, RM_ERR_NOMEM, "ring of %zu items: out of memory",
                            capacity);
    }
    memset(ring, 0, sizeof *ring);
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    ring->mask = capacity - 1;
    ring->item_size = item_size;
    ring->slots = slots;
    *out = ring;
    return RM_OK;
}

rm_status rm_ring_new(rm_ring **out, size_t min_capacity, rm_error *err)
{
    return daemon_ring_new_items(out, min_capacity, sizeof(rm_sample), err);
}

void rm_ring_free(rm_ring *ring)
{
    if (ring) {
        free(ring->slots);
        free(ring);
    }
}

size_t rm_ring_capacity(const rm_ring *ring)
{
    return ring->mask + 1;
}

/* Copy count items into the ring at index start, in at most two runs. */
static void copy_in(rm_ring *ring, size_t start, const unsigned char *src,
                    size_t count)
{
    size_t at = start & ring->mask;
    size_t first = ring->mask + 1 - at;
    if (first > count)
        first = count;
    size_t size = ring->item_size;
    memcpy(ring->slots + at * size, src, first * size);
    memcpy(ring->slots, src + first * size, (count - first) * size);
}

static void copy_out(const rm_ring *ring, size_t start, unsigned char *dst,
                     size_t count)
{
    size_t at = start & ring->mask;
    size_t first = ring->mask + 1 - at;
    if (first > count)
        first = count;
    size_t size = ring->item_size;
    memcpy(dst, ring->slots + at * size, first * size);
    memcpy(dst + first * size, ring->slots, (count - first) * size);
}

size_t daemon_ring_push_items(rm_ring *ring, const void *items, size_t count)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    size_t space = ring->mask + 1 - (head - tail);
    size_t n = count < space ? count : space;
    copy_in(ring, head, items, n);
    atomic_store_explicit(&ring->head, head + n, memory_order_release);
    return n;
}

size_t daemon_ring_pop_items(rm_ring *ring, void *out, size_t max)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t n = head - tail < max ? head - tail : max;
    copy_out(ring, tail, out, n);
    atomic_store_explicit(&ring->tail, tail + n, memory_order_release);
    return n;
}

size_t rm_ring_push(rm_ring *ring, const rm_sample *samples, size_t count)
{
    return daemon_ring_push_items(ring, samples, count);
}

size_t rm_ring_pop(rm_ring *ring, rm_sample *out, size_t max)
{
    return daemon_ring_pop_items(ring, out, max);
}

size_t rm_ring_used(const rm_ring *ring)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    return head - tail;
}
