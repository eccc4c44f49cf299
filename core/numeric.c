/* Small numerics shared by analysis, comparison and the exports. */
#include "rollmap_core.h"

#include <math.h>
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
