/* Small numerics shared by analysis, comparison and the exports. */
#include "rollmap_core.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

double rm_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static int by_value(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void sort_doubles(double *x, size_t n)
{
    qsort(x, n, sizeof *x, by_value);
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

static void swap_doubles(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* Hoare's selection: reorders x[0..n) so that x[k] is the value a sort
 * would put there, with nothing larger before it and nothing smaller
 * after it. Hoare's partition splits runs of equal values evenly. */
static void select_kth(double *x, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j)
                swap_doubles(&x[i++], &x[j--]);
        }
        /* x[lo..j] <= pivot, x[j+1..i-1] == pivot, x[i..hi] >= pivot */
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            return;
    }
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
        below = fmax(below, x[i]);
    return 0.5 * (below + x[n / 2]);
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
