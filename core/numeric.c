/* Small numerics shared by analysis, comparison and the exports. */
#include "rollmap_core.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

double rm_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static int by_value(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void swap_doubles(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* Runs this short are sorted by insertion. */
#define INSERTION_SORT_MAX 16

static void insertion_sort(double *x, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double v = x[i];
        size_t j = i;
        for (; j > 0 && x[j - 1] > v; j--)
            x[j] = x[j - 1];
        x[j] = v;
    }
}

/** Hoare's partition of x[lo..hi] around pivot, a value in it: on return
 *  x[lo..*j] <= pivot, x[*j+1..*i-1] == pivot, x[*i..hi] >= pivot. It
 *  splits runs of equal values evenly. */
static void hoare_partition(double *x, ptrdiff_t lo, ptrdiff_t hi,
                            double pivot, ptrdiff_t *i_out, ptrdiff_t *j_out)
{
    ptrdiff_t i = lo, j = hi;
    while (i <= j) {
        while (x[i] < pivot)
            i++;
        while (x[j] > pivot)
            j--;
        if (i <= j)
            swap_doubles(&x[i++], &x[j--]);
    }
    *i_out = i;
    *j_out = j;
}

/** x[0..n) split around the median of its first, middle and last values:
 *  on return x[0..*left_end) <= pivot <= x[*right_start..n), both parts
 *  shorter than n. */
static void partition(double *x, size_t n, size_t *left_end,
                      size_t *right_start)
{
    double *mid = x + n / 2, *last = x + n - 1;
    if (*mid < *x)
        swap_doubles(mid, x);
    if (*last < *mid) {
        swap_doubles(last, mid);
        if (*mid < *x)
            swap_doubles(mid, x);
    }
    ptrdiff_t i, j;
    hoare_partition(x, 0, (ptrdiff_t)n - 1, *mid, &i, &j);
    *left_end = (size_t)(j + 1);
    *right_start = (size_t)i;
}

/** Quicksort without qsort's call per comparison (medians of whole
 *  series sort hundreds of thousands of values); after `depth_left`
 *  levels a run goes to qsort, which bounds the worst case. */
static void quicksort(double *x, size_t n, unsigned depth_left)
{
    while (n > INSERTION_SORT_MAX) {
        if (depth_left-- == 0) {
            qsort(x, n, sizeof *x, by_value);
            return;
        }
        size_t left_end, right_start;
        partition(x, n, &left_end, &right_start);
        /* recurse into the shorter part, loop on the longer */
        if (left_end < n - right_start) {
            quicksort(x, left_end, depth_left);
            x += right_start;
            n -= right_start;
        } else {
            quicksort(x + right_start, n - right_start, depth_left);
            n = left_end;
        }
    }
    insertion_sort(x, n);
}

static void sort_doubles(double *x, size_t n)
{
    unsigned depth = 0;
    for (size_t m = n; m > 1; m /= 2)
        depth += 2;        /* twice log2(n), as introsort allows */
    quicksort(x, n, depth);
}

size_t rm_keep_finite(double *x, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            x[kept++] = x[i];
    return kept;
}

double rm_median_inplace(double *x, size_t n)
{
    if (n == 0)
        return NAN;
    sort_doubles(x, n);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Hoare's selection: reorders x[0..n) so that x[k] is the value a sort
 * would put there, with nothing larger before it and nothing smaller
 * after it. */
static void select_kth(double *x, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k;
    while (lo < hi) {
        ptrdiff_t i, j;
        hoare_partition(x, lo, hi, x[lo + (hi - lo) / 2], &i, &j);
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            return;
    }
}

/* The first look for a supported end sorts this many times `need` of the
 * outermost values (at least SUPPORT_LOOK_MIN): a session's ends hold a few
 * stray positions (a slip, an encoder glitch) before the first supported
 * one, not thousands. */
#define SUPPORT_LOOK_NEEDS 16
#define SUPPORT_LOOK_MIN 256

/** Outermost supported value of the sorted run v[0..len) from its bottom
 *  (step +1) or top (step -1): the first with `need` values within reach
 *  inward. The run is all the values (whole) or only the len outermost of
 *  them; then false when none in it has that support within it, as values
 *  beyond the run might give it. */
static bool supported_end(const double *v, size_t len, bool whole,
                          double reach, size_t need, int step, double *end)
{
    size_t i = step > 0 ? 0 : len - 1, j = i;
    for (size_t tried = 0; tried < len; tried++, i += (size_t)(ptrdiff_t)step) {
        /* j: first value beyond reach inward of v[i] (wraps past 0 going
         * down, which j < len also catches) */
        while (j < len && fabs(v[j] - v[i]) <= reach)
            j += (size_t)(ptrdiff_t)step;
        size_t within = step > 0 ? j - i : i - j;
        if (within >= need) {
            *end = v[i];
            return true;
        }
    }
    *end = v[len / 2];
    return whole;
}

/** Reorders x[0..n) so that its k smallest values come first and its k
 *  largest last, each sorted (2k < n). */
static void sort_ends(double *x, size_t n, size_t k)
{
    select_kth(x, n, k - 1);
    select_kth(x + k, n - k, n - 2 * k);
    sort_doubles(x, k);
    sort_doubles(x + n - k, k);
}

void rm_supported_ends(double *x, size_t n, double reach, size_t need,
                       double *low, double *high)
{
    *low = *high = NAN;
    if (n == 0)
        return;
    need = need < n ? need : n;
    size_t look = need * SUPPORT_LOOK_NEEDS;
    look = look > SUPPORT_LOOK_MIN ? look : SUPPORT_LOOK_MIN;
    if (2 * look < n) {
        sort_ends(x, n, look);
        if (supported_end(x, look, false, reach, need, 1, low) &&
            supported_end(x + n - look, look, false, reach, need, -1, high))
            return;
    }
    sort_doubles(x, n);
    supported_end(x, n, true, reach, need, 1, low);
    supported_end(x, n, true, reach, need, -1, high);
}

void rm_select_kth(double *x, size_t n, size_t k)
{
    select_kth(x, n, k);
}

double rm_median_select(double *x, size_t n)
{
    if (n == 0)
        return NAN;
    select_kth(x, n, n / 2);
    if (n % 2)
        return x[n / 2];
    double below = x[0]; /* the largest of x[0..n/2) */
    for (size_t i = 1; i < n / 2; i++)
        below = rm_fmax_libm(x[i], below);   /* as GCC called fmax */
    return 0.5 * (below + x[n / 2]);
}

/* The float median counts its values into this many buckets first: few
 * enough to clear and scan for a few thousand values, enough that the
 * median's bucket holds only a few dozen of them. Fewer values than
 * FLOAT_MEDIAN_MIN_N are not worth the counting. */
#define FLOAT_BUCKETS 256
#define FLOAT_MEDIAN_MIN_N 256

typedef float float4 __attribute__((vector_size(4 * sizeof(float))));
typedef int32_t int4 __attribute__((vector_size(4 * sizeof(int32_t))));

/** a where `take` is set (all bits), else b. */
static inline float4 pick4(int4 take, float4 a, float4 b)
{
    return (float4)(((int4)a & take) | ((int4)b & ~take));
}

/** Whether any lane of a comparison's result is set. */
static inline bool any4(int4 set)
{
    int64_t half[2];
    memcpy(half, &set, sizeof half);
    return (half[0] | half[1]) != 0;
}

/** x[i .. n) (fewer than four values) and `fill` after them. */
static float4 tail4(const float *x, size_t i, size_t n, float fill)
{
    float4 v = {fill, fill, fill, fill};
    for (size_t j = 0; i + j < n; j++)
        v[j] = x[i + j];
    return v;
}

/** Into *low and *high the smaller and larger of them and v; NaN lanes
 *  set in *nan. */
static inline void widen4(float4 v, float4 *low, float4 *high, int4 *nan)
{
    *low = pick4(v < *low, v, *low);
    *high = pick4(v > *high, v, *high);
    *nan |= v != v;
}

/** The smallest and largest of x[0..n) (n > 0); false if one is NaN. */
static bool float_range(const float *x, size_t n, float *lo, float *hi)
{
    float4 low = {x[0], x[0], x[0], x[0]}, high = low;
    int4 nan = {0};
    size_t i = 0;
    for (; n - i >= 4; i += 4) {
        float4 v;
        memcpy(&v, x + i, sizeof v);
        widen4(v, &low, &high, &nan);
    }
    widen4(tail4(x, i, n, x[0]), &low, &high, &nan);
    *lo = low[0], *hi = high[0];
    for (int j = 1; j < 4; j++) {
        *lo = low[j] < *lo ? low[j] : *lo;
        *hi = high[j] > *hi ? high[j] : *hi;
    }
    return !any4(nan);
}

/** The buckets of four values from lo on, scale buckets to a unit. Each
 *  step rounds monotonically, so a bucket holds a run of the sorted
 *  values (zeros of both signs in one). */
static inline int4 buckets4(float4 v, float lo, float scale)
{
    return __builtin_convertvector((v - lo) * scale, int4);
}

/** Count the first m (at most four) of v's values into their buckets. */
static inline void count4(float4 v, size_t m, float lo, float scale,
                          uint32_t *count)
{
    int4 b = buckets4(v, lo, scale);
    if (m == 4) {   /* unrolled: most calls */
        count[b[0]]++, count[b[1]]++, count[b[2]]++, count[b[3]]++;
        return;
    }
    for (size_t j = 0; j < m; j++)
        count[b[j]]++;
}

/** Which bucket holds the value of rank `rank`, and how many values lie
 *  in the buckets before it. */
static size_t bucket_of_rank(const uint32_t *count, size_t rank,
                             size_t *before)
{
    size_t b = 0, seen = 0;
    while (seen + count[b] <= rank)
        seen += count[b++];
    *before = seen;
    return b;
}

/** Append those of the first m (at most four) of v's values that lie in
 *  buckets first..last to out[*len..]. */
static inline void collect4(float4 v, size_t m, float lo, float scale,
                            int32_t first, int32_t last, double *out,
                            size_t *len)
{
    int4 b = buckets4(v, lo, scale);
    int4 in = (b >= first) & (b <= last);
    if (!any4(in))
        return;
    for (size_t j = 0; j < m; j++)
        if (in[j])
            out[(*len)++] = v[j];
}

/** The median's two middle values of x[0..n) (or its middle one twice),
 *  values without NaNs from lo to where scale puts the last bucket:
 *  counted into buckets, then selected among those in the middle ones. */
static void middle_values(const float *x, size_t n, float lo, float scale,
                          double *scratch, double *below, double *middle)
{
    uint32_t count[FLOAT_BUCKETS] = {0};
    size_t full = n - n % 4;
    for (size_t i = 0; i < full; i += 4) {
        float4 v;
        memcpy(&v, x + i, sizeof v);
        count4(v, 4, lo, scale, count);
    }
    count4(tail4(x, full, n, lo), n - full, lo, scale, count);
    size_t before, unused;
    int32_t first = (int32_t)bucket_of_rank(count, (n - 1) / 2, &before);
    int32_t last = (int32_t)bucket_of_rank(count, n / 2, &unused);
    size_t m = 0;
    for (size_t i = 0; i < full; i += 4) {
        float4 v;
        memcpy(&v, x + i, sizeof v);
        collect4(v, 4, lo, scale, first, last, scratch, &m);
    }
    collect4(tail4(x, full, n, lo), n - full, lo, scale, first, last, scratch,
             &m);
    size_t k = n / 2 - before;
    select_kth(scratch, m, k);
    *middle = scratch[k];
    *below = *middle;
    if (n % 2 == 0) {
        *below = scratch[0];
        for (size_t i = 1; i < k; i++)
            *below = scratch[i] > *below ? scratch[i] : *below;
    }
}

/** The median's two middle values of x[0..n) (or its middle one twice)
 *  found by counting; false where counting cannot tell them: too few
 *  values, a NaN, or a range too wide or too narrow for the buckets. */
static bool middle_by_counting(const float *x, size_t n, double *scratch,
                               double *below, double *middle)
{
    float lo, hi;
    if (n < FLOAT_MEDIAN_MIN_N || !float_range(x, n, &lo, &hi) ||
        !isfinite(hi - lo))
        return false;
    *below = *middle = lo;
    if (hi == lo)
        return true;
    float scale = (float)(FLOAT_BUCKETS - 1) / (hi - lo);
    if (!isfinite(scale))
        return false;
    middle_values(x, n, lo, scale, scratch, below, middle);
    return true;
}

double rm_median_floats(const float *x, size_t n, double *scratch)
{
    double below, middle;
    /* Any exact selection finds these values; only a zero's sign depends
     * on the order rm_median_select visits the values in. */
    if (middle_by_counting(x, n, scratch, &below, &middle) && below != 0.0 &&
        middle != 0.0)
        return n % 2 ? middle : 0.5 * (below + middle);
    for (size_t i = 0; i < n; i++)
        scratch[i] = x[i];
    return rm_median_select(scratch, n);
}

double rm_quantile(const double *x, size_t n, double q)
{
    double *v = malloc(sizeof *v * (n ? n : 1));
    if (!v)
        return NAN;
    for (size_t i = 0; i < n; i++)
        v[i] = x[i];
    size_t m = rm_keep_finite(v, n);
    double result = NAN;
    if (m > 0) {
        sort_doubles(v, m);
        result = v[(size_t)lround(rm_clamp(q, 0.0, 1.0) * (double)(m - 1))];
    }
    free(v);
    return result;
}
