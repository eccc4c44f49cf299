/* Reconnect policy: exponential back-off from the first delay up to a cap,
 * for as long as the device is away. Times are given, so
 * nothing here waits. */
#include "testutil.h"

#define MS 1000u /* microseconds per millisecond */

static void defaults_are_100ms_to_2s(void **state)
{
    (void)state;
    rm_reconnect_policy p;
    rm_reconnect_policy_default(&p);
    assert_int_equal(p.initial_ms, 100);
    assert_int_equal(p.max_ms, 2000);
}

static void first_attempt_waits_the_initial_delay(void **state)
{
    (void)state;
    rm_reconnect_policy p = {.initial_ms = 100, .max_ms = 2000};
    rm_reconnect r;
    uint64_t t0 = 5000000;
    rm_reconnect_start(&r, &p, t0);
    assert_false(rm_reconnect_due(&r, t0));
    assert_false(rm_reconnect_due(&r, t0 + 99 * MS));
    assert_true(rm_reconnect_due(&r, t0 + 100 * MS));
    assert_int_equal(r.attempts, 1);
}

static void delays_double_up_to_the_cap(void **state)
{
    (void)state;
    rm_reconnect_policy p = {.initial_ms = 100, .max_ms = 1000};
    rm_reconnect r;
    uint64_t now = 0;
    rm_reconnect_start(&r, &p, now);
    now += 100 * MS;
    assert_true(rm_reconnect_due(&r, now));
    static const uint32_t expected_ms[] = {200, 400, 800, 1000, 1000};
    for (size_t i = 0; i < sizeof expected_ms / sizeof expected_ms[0]; i++) {
        assert_false(rm_reconnect_due(&r, now + expected_ms[i] * MS - 1));
        now += expected_ms[i] * MS;
        assert_true(rm_reconnect_due(&r, now));
    }
    assert_int_equal(r.attempts, 6);
}

static void a_late_attempt_schedules_from_when_it_ran(void **state)
{
    (void)state;
    rm_reconnect_policy p = {.initial_ms = 100, .max_ms = 2000};
    rm_reconnect r;
    rm_reconnect_start(&r, &p, 0);
    uint64_t late = 3000 * MS; /* the caller was busy for 3 s */
    assert_true(rm_reconnect_due(&r, late));
    assert_false(rm_reconnect_due(&r, late + 199 * MS));
    assert_true(rm_reconnect_due(&r, late + 200 * MS));
}

static void restart_after_success_begins_again_at_the_initial_delay(
    void **state)
{
    (void)state;
    rm_reconnect_policy p = {.initial_ms = 50, .max_ms = 400};
    rm_reconnect r;
    rm_reconnect_start(&r, &p, 0);
    for (uint64_t t = 0; t < 5000 * MS; t += 10 * MS)
        rm_reconnect_due(&r, t);
    assert_int_equal(r.next_delay_ms, 400);
    rm_reconnect_start(&r, &p, 10000 * MS);
    assert_int_equal(r.attempts, 0);
    assert_false(rm_reconnect_due(&r, 10000 * MS + 49 * MS));
    assert_true(rm_reconnect_due(&r, 10000 * MS + 50 * MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_100ms_to_2s),
        cmocka_unit_test(first_attempt_waits_the_initial_delay),
        cmocka_unit_test(delays_double_up_to_the_cap),
        cmocka_unit_test(a_late_attempt_schedules_from_when_it_ran),
        cmocka_unit_test(
            restart_after_success_begins_again_at_the_initial_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
