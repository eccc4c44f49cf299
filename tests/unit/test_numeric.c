/* The small numerics in core/: clamp, median, quantile, finite filter. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void clamp_limits_to_the_range(void **state)
{
    (void)state;
    assert_near(rm_clamp(-3.0, -1.0, 1.0), -1.0, 0.0);
    assert_near(rm_clamp(0.25, -1.0, 1.0), 0.25, 0.0);
    assert_near(rm_clamp(7.0, -1.0, 1.0), 1.0, 0.0);
}

static void median_of_odd_count_is_the_middle_value(void **state)
{
    (void)state;
    double x[] = {9.0, 1.0, 5.0, 3.0, 7.0};
    assert_near(rm_median_inplace(x, 5), 5.0, 0.0);
    assert_near(x[0], 1.0, 0.0); /* sorted in place */
    assert_near(x[4], 9.0, 0.0);
}

static void median_of_even_count_averages_the_middle_pair(void **state)
{
    (void)state;
    double x[] = {4.0, 1.0, 2.0, 10.0};
    assert_near(rm_median_inplace(x, 4), 3.0, 0.0);
}

static void median_of_nothing_is_nan(void **state)
{
    (void)state;
    assert_true(isnan(rm_median_inplace(NULL, 0)));
}

/* The selection median equals the sorting one on random values, on values
 * with many repeats (held through a gap) and on sorted input, every length
 * from 1 to 200. */
static void median_by_selection_equals_median_by_sorting(void **state)
{
    (void)state;
    double a[200], b[200];
    srand(14);
    for (int kind = 0; kind < 3; kind++)
        for (size_t n = 1; n <= 200; n++) {
            for (size_t i = 0; i < n; i++)
                a[i] = kind == 0 ? (double)rand() / RAND_MAX - 0.5
                     : kind == 1 ? (double)(rand() % 3)
                                 : (double)i;
            memcpy(b, a, n * sizeof *a);
            assert_near(rm_median_select(a, n), rm_median_inplace(b, n), 0.0);
        }
    assert_true(isnan(rm_median_select(NULL, 0)));
}

static void keep_finite_drops_nan_and_infinity_in_order(void **state)
{
    (void)state;
    double x[] = {NAN, 2.0, INFINITY, -1.0, -INFINITY, 4.0};
    assert_int_equal(rm_keep_finite(x, 6), 3);
    assert_near(x[0], 2.0, 0.0);
    assert_near(x[1], -1.0, 0.0);
    assert_near(x[2], 4.0, 0.0);
}

static void quantile_picks_the_nearest_rank_of_finite_values(void **state)
{
    (void)state;
    const double x[] = {50.0, NAN, 10.0, 40.0, 20.0, INFINITY, 30.0};
    assert_near(rm_quantile(x, 7, 0.0), 10.0, 0.0);
    assert_near(rm_quantile(x, 7, 0.5), 30.0, 0.0);
    assert_near(rm_quantile(x, 7, 0.75), 40.0, 0.0);
    assert_near(rm_quantile(x, 7, 1.0), 50.0, 0.0);
    assert_near(rm_quantile(x, 7, 2.0), 50.0, 0.0); /* q is clamped */
    assert_near(x[0], 50.0, 0.0);                   /* input untouched */
}

static void quantile_without_finite_values_is_nan(void **state)
{
    (void)state;
    const double x[] = {NAN, INFINITY};
    assert_true(isnan(rm_quantile(x, 2, 0.5)));
    assert_true(isnan(rm_quantile(x, 0, 0.5)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clamp_limits_to_the_range),
        cmocka_unit_test(median_of_odd_count_is_the_middle_value),
        cmocka_unit_test(median_of_even_count_averages_the_middle_pair),
        cmocka_unit_test(median_of_nothing_is_nan),
        cmocka_unit_test(median_by_selection_equals_median_by_sorting),
        cmocka_unit_test(keep_finite_drops_nan_and_infinity_in_order),
        cmocka_unit_test(quantile_picks_the_nearest_rank_of_finite_values),
        cmocka_unit_test(quantile_without_finite_values_is_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
