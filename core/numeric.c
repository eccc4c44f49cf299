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

/* Of many values rm_median_select first gathers those in a band about the
 * median to x's front and selects among them: the band runs between the
 * values MEDIAN_BAND either side of the middle of MEDIAN_SAMPLE values
 * spread over x, and holds about a quarter of x. */
#define MEDIAN_SAMPLE 64
#define MEDIAN_BAND 8
#define MEDIAN_BAND_MIN_N (4 * MEDIAN_SAMPLE)

/** The band [*lo, *hi] of x[0..n) (n >= MEDIAN_SAMPLE) from its sample. */
static void median_band(const double *x, size_t n, double *lo, double *hi)
{
    double sample[MEDIAN_SAMPLE];
    for (size_t k = 0; k < MEDIAN_SAMPLE; k++)
        sample[k] = x[k * (n / MEDIAN_SAMPLE)];
    sort_doubles(sample, MEDIAN_SAMPLE);
    *lo = sample[MEDIAN_SAMPLE / 2 - MEDIAN_BAND];
    *hi = sample[MEDIAN_SAMPLE / 2 + MEDIAN_BAND - 1];
}

typedef double double2 __attribute__((vector_size(2 * sizeof(double))));
typedef int64_t long2 __attribute__((vector_size(2 * sizeof(int64_t))));

/** Per lane, less the number of values below lo and above hi so far (a
 *  true comparison is -1), and whether one was NaN. */
typedef struct band_counts { long2 below, above, nan; } band_counts;

static inline void count_pair(double2 v, double lo, double hi, band_counts *c)
{
    c->below += v < lo;
    c->above += v > hi;
    c->nan |= v != v;
}

/** How many of x[0..n) lie below lo and above hi; false if one is NaN. */
static bool count_outside(const double *x, size_t n, double lo, double hi,
                          size_t *below, size_t *above)
{
    band_counts c = {{0, 0}, {0, 0}, {0, 0}};
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        double2 v;
        memcpy(&v, x + i, sizeof v);
        count_pair(v, lo, hi, &c);
    }
    if (i < n)
        count_pair((double2){x[i], lo}, lo, hi, &c);
    *below = (size_t)-(c.below[0] + c.below[1]);
    *above = (size_t)-(c.above[0] + c.above[1]);
    return !(c.nan[0] | c.nan[1]);
}

/** The bits of d: for doubles of one sign they order as the magnitudes. */
static inline uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/** Moves the values of x[0..n) from lo to hi, a band of one sign, to its
 *  front (swapping, so x keeps its values); their count. */
static size_t gather_band(double *x, size_t n, double lo, double hi)
{
    /* One unsigned comparison: a value's bits less those of the band's
     * end nearer zero are at most the band's width in bits only within
     * it; short of that end they wrap round, and the sign bit puts values
     * of the other sign more than the width away. */
    uint64_t near = bits_of(lo > 0.0 ? lo : hi);
    uint64_t width = bits_of(lo > 0.0 ? hi : lo) - near;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {     /* no branch on the values */
        double v = x[i];
        x[i] = x[m];
        x[m] = v;
        m += bits_of(v) - near <= width;
    }
    return m;
}

/** Moves the band's values of x[0..n), the median's among them, to its
 *  front; their count, and in *before how many values lie below them.
 *  Only where that keeps the median's bits (the order selection visits x
 *  in decides the sign of a zero median and which NaN comes out); else
 *  n, with x as it was. */
static size_t gather_median(double *x, size_t n, size_t *before)
{
    *before = 0;
    if (n < MEDIAN_BAND_MIN_N)
        return n;
    double lo, hi;
    size_t below, above;
    median_band(x, n, &lo, &hi);
    if (!(lo > 0.0 || hi < 0.0) ||                /* zero may be in it */
        !count_outside(x, n, lo, hi, &below, &above) ||
        below > (n - 1) / 2 || above >= n - n / 2) /* the band misses */
        return n;
    *before = below;
    return gather_band(x, n, lo, hi);
}

double rm_median_select(double *x, size_t n)
{
    if (n == 0)
        return NAN;
    size_t before;
    size_t m = gather_median(x, n, &before), k = n / 2 - before;
    select_kth(x, m, k);
    if (n % 2)
        return x[k];
    double below = x[0]; /* the largest of x[0..k) */
    for (size_t i = 1; i < k; i++)
        below = rm_fmax_libm(x[i], below);   /* as GCC called fmax */
    return 0.5 * (below + x[k]);
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
