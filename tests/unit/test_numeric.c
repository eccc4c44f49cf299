/* The small numerics in core/: clamp, median, quantile, finite filter. */
#include "testutil.h"

#include <float.h>
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

/* Values that make selection and the maximum tricky: both zeros, both
 * quiet NaNs the processor makes (NAN and the -NaN of 0.0 / 0.0), ties. */
static double awkward_value(void)
{
    static const double values[] = {0.0, -0.0, 1.0, -1.0, 1.0, NAN, -NAN};
    return values[rand() % (int)(sizeof values / sizeof *values)];
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Doubles in the order of their bit patterns, for qsort. */
static int by_bits(const void *pa, const void *pb)
{
    return memcmp(pa, pb, sizeof(double));
}

/* rm_fmax_libm and rm_fmin_libm give libm's bits for every pair of
 * zeros of both signs, infinities, quiet NaNs of both signs and with a
 * payload, ties and ordinary values, in both orders. */
static void libm_fmax_and_fmin_written_out(void **state)
{
    (void)state;
    double (*volatile libm_fmax)(double, double) = fmax;
    double (*volatile libm_fmin)(double, double) = fmin;
    const double values[] = {0.0, -0.0, 1.0, -1.0, 2.5, INFINITY, -INFINITY,
                             NAN, -NAN, nan("7"), 1e-310, -1e-310};
    size_t count = sizeof values / sizeof *values;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < count; j++) {
            double a = values[i], b = values[j];
            assert_true(same_bits(rm_fmax_libm(a, b), libm_fmax(a, b)));
            assert_true(same_bits(rm_fmin_libm(a, b), libm_fmin(a, b)));
        }
}

/* rm_median_select by its definition on the order it leaves x in: the
 * middle value, or for even n the mean of it and the largest of the lower
 * half folded with libm's fmax as GCC called it, fmax(x[i], below) (which
 * settles the sign of equal zeros and the NaN kept). The pointer keeps
 * the compiler from swapping the operands. */
static double median_of_selected(const double *x, size_t n)
{
    double (*volatile libm_fmax)(double, double) = fmax;
    if (n % 2)
        return x[n / 2];
    double below = x[0];
    for (size_t i = 1; i < n / 2; i++)
        below = libm_fmax(x[i], below);
    return 0.5 * (below + x[n / 2]);
}

/* Even and odd lengths 1 to 40 of zeros of both signs, NaNs and ties:
 * the same bits as the fmax definition, and without NaNs the value of
 * the median by sorting (zeros of either sign compare equal). */
static void median_by_selection_keeps_fmax_bits(void **state)
{
    (void)state;
    double a[40], sorted[40];
    srand(16);
    for (int trial = 0; trial < 400; trial++)
        for (size_t n = 1; n <= 40; n++) {
            bool any_nan = false;
            for (size_t i = 0; i < n; i++) {
                a[i] = awkward_value();
                any_nan |= isnan(a[i]);
            }
            memcpy(sorted, a, n * sizeof *a);
            double m = rm_median_select(a, n);
            assert_true(same_bits(m, median_of_selected(a, n)));
            if (any_nan)
                continue;
            assert_true(m == rm_median_inplace(sorted, n));
        }
}

/* One and two values, zeros of both signs and NaN among them. */
static void median_by_selection_of_one_or_two_values(void **state)
{
    (void)state;
    double one[] = {-0.0};
    assert_true(same_bits(rm_median_select(one, 1), -0.0));
    double zeros[] = {0.0, -0.0};
    assert_true(same_bits(rm_median_select(zeros, 2), 0.0));
    double negative_zeros[] = {-0.0, -0.0};
    assert_true(same_bits(rm_median_select(negative_zeros, 2), -0.0));
    double pair[] = {3.0, 1.0};
    assert_near(rm_median_select(pair, 2), 2.0, 0.0);
    double with_nan[] = {NAN, 1.0};
    assert_true(isnan(rm_median_select(with_nan, 2)));
}

/* Of two equal zeros the first, of a NaN and a number the number: the
 * lower half here is {+0, -0} in some order, {1, NaN} or {NaN, 1}. */
static void median_by_selection_of_four_values(void **state)
{
    (void)state;
    double zeros[] = {0.0, -0.0, -0.0, 2.0};
    double m = rm_median_select(zeros, 4);
    assert_true(same_bits(m, median_of_selected(zeros, 4)));
    assert_true(m == 0.0);
    double nan_low[] = {1.0, NAN, 3.0, 4.0};
    m = rm_median_select(nan_low, 4);
    assert_true(same_bits(m, median_of_selected(nan_low, 4)));
}

/* rm_median_select's definition: Hoare's selection of x[n/2] over all of
 * x as numeric.c's select_kth does it (the middle value as pivot, runs of
 * equal values split evenly), then median_of_selected. */
static double median_by_definition(double *x, size_t n)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)(n / 2);
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            for (; x[i] < pivot; i++) {}
            for (; x[j] > pivot; j--) {}
            if (i > j)
                break;
            double t = x[i];
            x[i++] = x[j];
            x[j--] = t;
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return median_of_selected(x, n);
}

/* Test values of kind `kind` for long medians: noise about an offset (a
 * drift anchor's samples) below and above zero, few distinct values,
 * noise about zero with zeros of both signs, a stray NaN or infinity in
 * noise, one value throughout, a range of a few subnormal steps, the
 * whole double range, two clusters far apart, and every n/64th value far
 * from the others (a sample that misses the median). */
static double long_median_value(int kind, size_t i, size_t n)
{
    double noise = (double)rand() / RAND_MAX - 0.5;
    switch (kind) {
    case 0: return -0.25 + 0.01 * noise;
    case 1: return 30.0 + noise;
    case 2: return (double)(rand() % 4) - 1.0;
    case 3: return rand() % 3 == 0 ? (rand() % 2 ? 0.0 : -0.0)
                                   : 0.001 * noise;
    case 4: return i == n / 3 ? (rand() % 2 ? NAN : -NAN) : noise;
    case 5: return i == n / 3 ? (rand() % 2 ? INFINITY : -INFINITY) : noise;
    case 6: return 7.5;
    case 7: return (double)(rand() % 5) * 5e-324;
    case 8: return i % 2 ? DBL_MAX * noise : -DBL_MAX;
    case 9: return rand() % 2 ? 1e6 + noise : -3.0 + noise;
    default: return i % (n / 64 ? n / 64 : 1) == 0 ? 1e6 + noise : noise;
    }
}

/* rm_median_select gives its definition's bits for every kind of values
 * above, at lengths about the least one it selects among a band for and
 * at odd and even lengths of a few thousand, and keeps x's values. */
static void median_by_selection_follows_its_definition(void **state)
{
    (void)state;
    static const size_t lengths[] = {1, 2, 5, 255, 256, 257, 258, 1001,
                                     2000, 2461, 4096};
    enum { LONGEST = 4096, KINDS = 11 };
    static double x[LONGEST], copy[LONGEST], kept[LONGEST];
    srand(18);
    for (int trial = 0; trial < 20; trial++)
        for (int kind = 0; kind < KINDS; kind++)
            for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
                size_t n = lengths[l];
                for (size_t i = 0; i < n; i++)
                    x[i] = long_median_value(kind, i, n);
                memcpy(copy, x, sizeof *x * n);
                memcpy(kept, x, sizeof *x * n);
                double m = rm_median_select(x, n);
                assert_true(same_bits(m, median_by_definition(copy, n)));
                qsort(x, n, sizeof *x, by_bits);
                qsort(kept, n, sizeof *x, by_bits);
                assert_memory_equal(x, kept, sizeof *x * n);
            }
}

/* Every n/64th value shifted by d against the others, a rising run: for
 * some d the band rm_median_select takes from the shifted values ends
 * just beside the median's ranks, below or above them. */
static void median_by_selection_about_the_band_edges(void **state)
{
    (void)state;
    enum { N = 4097 };
    static double x[N], copy[N];
    for (size_t n = N - 1; n <= N; n++)
        for (int d = -1200; d <= 1200; d++) {
            for (size_t i = 0; i < n; i++)
                x[i] = (double)i + 1.0 + (i % (n / 64) ? 0.0 : d);
            memcpy(copy, x, sizeof *x * n);
            assert_true(same_bits(rm_median_select(x, n),
                                  median_by_definition(copy, n)));
        }
}

static int ascending(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Value i of a test pattern of length n: random, few distinct values,
 * sorted, reversed, rising then falling (organ pipe). */
static double pattern_value(int kind, size_t i, size_t n)
{
    switch (kind) {
    case 0: return (double)rand() / RAND_MAX - 0.5;
    case 1: return (double)(rand() % 3);
    case 2: return (double)i;
    case 3: return (double)(n - i);
    default: return (double)(i < n / 2 ? i : n - i);
    }
}

/* rm_median_inplace leaves x sorted (position.c relies on it): the same
 * values in the same order as qsort gives, for every pattern and every
 * length from 1 to 300 and one of 5000. */
static void median_sorts_like_qsort(void **state)
{
    (void)state;
    static double a[5000], b[5000];
    srand(15);
    for (int kind = 0; kind < 5; kind++)
        for (size_t n = 1; n <= 5000; n = n < 300 ? n + 1 : n + 4700) {
            for (size_t i = 0; i < n; i++)
                a[i] = pattern_value(kind, i, n);
            memcpy(b, a, n * sizeof *a);
            rm_median_inplace(a, n);
            qsort(b, n, sizeof *b, ascending);
            assert_memory_equal(a, b, n * sizeof *a);
        }
}

/* The supported ends by their definition, counting over all values. */
static size_t support_between(const double *x, size_t n, double lo, double hi)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += x[i] >= lo && x[i] <= hi;
    return count;
}

static void expect_supported_ends(const double *x, size_t n, double reach,
                                  size_t need)
{
    static double copy[20000];
    memcpy(copy, x, n * sizeof *x);
    double low, high;
    rm_supported_ends(copy, n, reach, need, &low, &high);
    size_t cap = need < n ? need : n;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (support_between(x, n, x[i], x[i] + reach) >= cap)
            assert_true(low <= x[i]), any = true;
        if (support_between(x, n, x[i] - reach, x[i]) >= cap)
            assert_true(high >= x[i]);
    }
    if (!any) {          /* no support anywhere: the middle sorted value */
        memcpy(copy, x, n * sizeof *x);
        qsort(copy, n, sizeof *copy, ascending);
        assert_near(low, copy[n / 2], 0.0);
        assert_near(high, copy[n / 2], 0.0);
        return;
    }
    assert_true(support_between(x, n, low, low + reach) >= cap);
    assert_true(support_between(x, n, high - reach, high) >= cap);
}

/* Random positions with a few stray values outside them, found in the
 * sorted ends alone; and 1000 isolated strays at each end, more than the
 * first look sorts, so the whole is sorted and the same definition
 * holds. */
static void supported_ends_follow_their_definition(void **state)
{
    (void)state;
    static double x[20000];
    srand(16);
    for (size_t n = 1; n <= 3000; n = n < 40 ? n + 1 : n * 3) {
        for (size_t i = 0; i < n; i++)
            x[i] = i % 50 == 0 ? (double)(rand() % 400) - 200.0
                               : (double)rand() / RAND_MAX * 40.0;
        expect_supported_ends(x, n, 1.0, 30);
    }
    size_t n = 0;
    for (size_t i = 0; i < 1000; i++) {
        x[n++] = -10000.0 + 3.0 * (double)i;
        x[n++] = 10000.0 - 3.0 * (double)i;
    }
    while (n < 20000)
        x[n++] = (double)rand() / RAND_MAX * 40.0;
    expect_supported_ends(x, n, 1.0, 30);
}

static void supported_ends_of_unsupported_values_are_the_middle_one(void **state)
{
    (void)state;
    double x[] = {40.0, 10.0, 30.0, 20.0, 0.0}, low, high;
    rm_supported_ends(x, 5, 1.0, 2, &low, &high);
    assert_near(low, 20.0, 0.0);
    assert_near(high, 20.0, 0.0);
    rm_supported_ends(x, 0, 1.0, 2, &low, &high);
    assert_true(isnan(low) && isnan(high));
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
        cmocka_unit_test(libm_fmax_and_fmin_written_out),
        cmocka_unit_test(median_by_selection_keeps_fmax_bits),
        cmocka_unit_test(median_by_selection_of_one_or_two_values),
        cmocka_unit_test(median_by_selection_of_four_values),
        cmocka_unit_test(median_by_selection_follows_its_definition),
        cmocka_unit_test(median_by_selection_about_the_band_edges),
        cmocka_unit_test(median_sorts_like_qsort),
        cmocka_unit_test(supported_ends_follow_their_definition),
        cmocka_unit_test(supported_ends_of_unsupported_values_are_the_middle_one),
        cmocka_unit_test(keep_finite_drops_nan_and_infinity_in_order),
        cmocka_unit_test(quantile_picks_the_nearest_rank_of_finite_values),
        cmocka_unit_test(quantile_without_finite_values_is_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
