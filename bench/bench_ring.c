/* Ring buffer throughput: one producer thread pushes batches of samples as
 * the capture I/O thread does, one consumer pops them; prints samples per
 * second and the equivalent stall a 10000-sample ring rides out. */
#include "rollmap_daemon.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define TOTAL 20000000u   /* samples moved per run */
#define BATCH 32          /* samples per protocol frame at most */
#define RING 16384        /* the daemon's ring at 2 kHz x 5 s, rounded up */

static void *produce(void *arg)
{
    rm_ring *ring = arg;
    rm_sample batch[BATCH] = {{0}};
    for (uint64_t sent = 0; sent < TOTAL; ) {
        for (size_t i = 0; i < BATCH; i++)
            batch[i].t_us = sent + i;
        size_t pushed = 0;
        while (pushed < BATCH) {
            size_t space = rm_ring_capacity(ring) - rm_ring_used(ring);
            size_t want = BATCH - pushed < space ? BATCH - pushed : space;
            if (want)
                pushed += rm_ring_push(ring, batch + pushed, want);
        }
        sent += BATCH;
    }
    return NULL;
}

int main(void)
{
    rm_ring *ring;
    rm_error err;
    if (rm_ring_new(&ring, RING, &err) != RM_OK) {
        fprintf(stderr, "bench_ring: %s\n", err.message);
        return 1;
    }
    static rm_sample out[256];
    pthread_t producer;
    uint64_t start = rm_monotonic_us();
    pthread_create(&producer, NULL, produce, ring);
    uint64_t got = 0, expect = 0;
    while (got < TOTAL) {
        size_t n = rm_ring_pop(ring, out, 256);
        for (size_t i = 0; i < n; i++)
            if (out[i].t_us != expect++) {
                fprintf(stderr, "bench_ring: sample %llu out of order\n",
                        (unsigned long long)expect - 1);
                return 1;
            }
        got += n;
    }
    pthread_join(producer, NULL);
    double secs = (double)(rm_monotonic_us() - start) / 1e6;
    printf("ring: %u samples of %zu bytes through a %zu-sample ring in %.3f s\n",
           TOTAL, sizeof(rm_sample), rm_ring_capacity(ring), secs);
    printf("ring: %.1f million samples/s (%.0f MB/s); %.0f x the 2 kHz maximum rate\n",
           TOTAL / secs / 1e6, TOTAL * sizeof(rm_sample) / secs / 1e6,
           TOTAL / secs / 2000.0);
    rm_ring_free(ring);
    return 0;
}
