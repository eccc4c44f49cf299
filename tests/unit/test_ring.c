/* The SPSC sample ring: order, wrap-around, overflow accounting, threads. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

static rm_sample sample_at(uint64_t i)
{
    rm_sample s = {0};
    s.t_us = i;
    s.counts[0] = (int32_t)i;
    return s;
}

static void capacity_rounds_up_to_power_of_two(void **state)
{
    (void)state;
    rm_ring *ring;
    assert_int_equal(rm_ring_new(&ring, 1000, NULL), RM_OK);
    assert_int_equal(rm_ring_capacity(ring), 1024);
    rm_ring_free(ring);
}

static void rejects_silly_capacity(void **state)
{
    (void)state;
    rm_ring *ring;
    rm_error err;
    assert_int_equal(rm_ring_new(&ring, 1, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "capacity"));
}

static void keeps_order_across_wraparound(void **state)
{
    (void)state;
    rm_ring *ring;
    rm_sample in[5], out[8];
    uint64_t next_in = 0, next_out = 0;
    assert_int_equal(rm_ring_new(&ring, 8, NULL), RM_OK);
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 5; i++)
            in[i] = sample_at(next_in++);
        assert_int_equal(rm_ring_push(ring, in, 5), 5);
        size_t got = rm_ring_pop(ring, out, 8);
        assert_int_equal(got, 5);
        for (size_t i = 0; i < got; i++)
            assert_int_equal(out[i].t_us, next_out++);
    }
    rm_ring_free(ring);
}

static void a_full_ring_takes_what_fits_and_says_how_many(void **state)
{
    (void)state;
    rm_ring *ring;
    rm_sample in[12];
    for (int i = 0; i < 12; i++)
        in[i] = sample_at((uint64_t)i);
    assert_int_equal(rm_ring_new(&ring, 8, NULL), RM_OK);
    assert_int_equal(rm_ring_push(ring, in, 12), 8);
    assert_int_equal(rm_ring_used(ring), 8);
    rm_ring_free(ring);
}

#define THREAD_SAMPLES 2000000u

static void *produce(void *arg)
{
    rm_ring *ring = arg;
    rm_sample batch[16];
    uint64_t next = 0;
    while (next < THREAD_SAMPLES) {
        size_t n = 0;
        while (n < 16 && next + n < THREAD_SAMPLES) {
            batch[n] = sample_at(next + n);
            n++;
        }
        size_t pushed = 0;
        while (pushed < n) {
            size_t want = n - pushed;
            size_t used = rm_ring_used(ring);
            size_t space = rm_ring_capacity(ring) - used;
            if (space == 0)
                continue;
            if (want > space)
                want = space;
            pushed += rm_ring_push(ring, batch + pushed, want);
        }
        next += n;
    }
    return NULL;
}

static void two_threads_see_every_sample_in_order(void **state)
{
    (void)state;
    rm_ring *ring;
    pthread_t producer;
    rm_sample out[64];
    uint64_t expect = 0;
    assert_int_equal(rm_ring_new(&ring, 256, NULL), RM_OK);
    assert_int_equal(pthread_create(&producer, NULL, produce, ring), 0);
    while (expect < THREAD_SAMPLES) {
        size_t got = rm_ring_pop(ring, out, 64);
        for (size_t i = 0; i < got; i++) {
            if (out[i].t_us != expect || out[i].counts[0] != (int32_t)expect)
                fail_msg("sample %llu arrived as %llu",
                         (unsigned long long)expect, (unsigned long long)out[i].t_us);
            expect++;
        }
    }
    pthread_join(producer, NULL);
    rm_ring_free(ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(capacity_rounds_up_to_power_of_two),
        cmocka_unit_test(rejects_silly_capacity),
        cmocka_unit_test(keeps_order_across_wraparound),
        cmocka_unit_test(a_full_ring_takes_what_fits_and_says_how_many),
        cmocka_unit_test(two_threads_see_every_sample_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
