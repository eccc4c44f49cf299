/* Figures shared by the benchmarks that time many events. */
#ifndef ROLLMAP_BENCH_STATS_H
#define ROLLMAP_BENCH_STATS_H

#include <math.h>
#include <stddef.h>

/* qsort order of doubles, smallest first. */
static inline int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of n sorted values. */
static inline double percentile(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[i == 0 ? 0 : i - 1];
}

#endif
