/*
 * Dwells: the contact point stays within +/- dwell_radius_cm for at least
 * dwell_min_s under load. Without an encoder (balls, probes) a dwell is a
 * sustained load in time. docs/ANALYSIS.md gives the reasoning.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/** Monotonic deque of indices for a sliding-window minimum or maximum. */
typedef struct extreme_queue {
    size_t *idx;
    size_t head, tail;
    bool tracks_max;        /**< the maximum, else the minimum */
} extreme_queue;

/** x[i] joins; the values it outlasts and equals or outdoes leave. */
static inline void queue_push(extreme_queue *q, const double *x, size_t i)
{
    if (q->tracks_max)
        while (q->tail > q->head && x[q->idx[q->tail - 1]] <= x[i])
            q->tail--;
    else
        while (q->tail > q->head && x[q->idx[q->tail - 1]] >= x[i])
            q->tail--;
    q->idx[q->tail++] = i;
}

static void queue_drop_before(extreme_queue *q, size_t first)
{
    while (q->tail > q->head && q->idx[q->head] < first)
        q->head++;
}

static double queue_value(const extreme_queue *q, const double *x)
{
    return x[q->idx[q->head]];
}

/** Would adding x[j] keep the window's spread within limit? */
static bool fits(const extreme_queue *hi, const extreme_queue *lo,
                 const double *x, size_t j, double limit)
{
    if (hi->tail == hi->head)
        return true;
    /* fmax and fmin inline, the operands in the order GCC passed them */
    double top = rm_fmax_libm(x[j], queue_value(hi, x));
    double bottom = rm_fmin_libm(x[j], queue_value(lo, x));
    return top - bottom <= limit;
}

typedef struct span { size_t from, to; } span;   /* [from, to) */

typedef struct span_list {
    span *items;
    size_t count;
} span_list;

/* The greedy window also takes in the last approach to the held point
 * and the first of the way out; the ends are trimmed to samples within
 * this fraction of the radius of the held position. */
#define TRIM_FRACTION 0.5

/** The median position over w. */
static double span_median_position(const rm_series *s, span w)
{
    size_t n = w.to - w.from;
    double *v = malloc(sizeof *v * n);
    if (!v)
        return NAN;
    memcpy(v, s->position_cm + w.from, sizeof *v * n);
    double m = rm_median_select(v, n);
    free(v);
    return m;
}

static span trim_to_held_point(const rm_series *s, span w, double radius_cm)
{
    double held = span_median_position(s, w);
    double limit = TRIM_FRACTION * radius_cm;
    if (!isfinite(held))
        return w;
    while (w.from < w.to && fabs(s->position_cm[w.from] - held) > limit)
        w.from++;
    while (w.to > w.from && fabs(s->position_cm[w.to - 1] - held) > limit)
        w.to--;
    return w;
}

/* Starts that cannot begin a dwell are passed over a block at a time:
 * every start in a block spans the next min_len / block - 1 blocks whole,
 * SKIP_BLOCKS_SPANNED of them or a few more. */
#define SKIP_BLOCKS_SPANNED 15
/* Blocks shorter than this are not worth their bookkeeping. */
#define SKIP_BLOCK_MIN 8

/** Where the greedy windows may start: next[k] is the first block from k
 *  on (at most count) with a start that might hold for min_len samples.
 *  Only with finite positions: with a NaN in a window fits() does not see
 *  the window's spread (count is then 0). */
typedef struct start_skip {
    bool finite;
    size_t block, count;
    size_t *next;
} start_skip;

static bool all_finite(const double *x, size_t n)
{
    ana_pair zero = {0.0, 0.0};     /* x * 0 is NaN for NaN and infinity */
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        zero += ana_pair_load(x + i) * 0.0;
    for (; i < n; i++)
        zero[0] += x[i] * 0.0;
    return zero[0] == 0.0 && zero[1] == 0.0;
}

/** Bounds on the positions of each whole block of s (the extremes of its
 *  first even count of samples: enough to rule starts out) and whether
 *  it has an unloaded sample. */
static void block_ranges(const rm_series *s, size_t block, size_t count,
                         double *top, double *bottom, bool *unloaded)
{
    for (size_t k = 0; k < count; k++) {
        const double *p = s->position_cm + k * block;
        ana_pair hi = ana_pair_load(p), lo = hi;
        for (size_t i = 2; i + 2 <= block; i += 2) {
            ana_pair x = ana_pair_load(p + i);
            hi = ana_pair_max(x, hi);
            lo = ana_pair_min(x, lo);
        }
        top[k] = hi[0] > hi[1] ? hi[0] : hi[1];
        bottom[k] = lo[0] < lo[1] ? lo[0] : lo[1];
        unloaded[k] = memchr(s->loaded + k * block, 0, block) != NULL;
    }
}

/** A start in block k spans blocks k + 1 .. k + spanned whole: when one
 *  of them is not all loaded or their positions spread beyond limit, no
 *  window from there lasts min_len samples. */
static bool cannot_start(const double *top, const double *bottom,
                         const bool *unloaded, size_t k, size_t spanned,
                         double limit)
{
    double hi = top[k + 1], lo = bottom[k + 1];
    for (size_t b = k + 1; b <= k + spanned; b++) {
        if (unloaded[b])
            return true;
        hi = top[b] > hi ? top[b] : hi;
        lo = bottom[b] < lo ? bottom[b] : lo;
    }
    return hi - lo > limit;
}

/** The skip table of s (count 0 when nothing is passed over). */
static rm_status start_skip_make(const rm_series *s, size_t min_len,
                                 double limit, start_skip *sk)
{
    *sk = (start_skip){.finite = all_finite(s->position_cm, s->n),
                       .block = min_len / (SKIP_BLOCKS_SPANNED + 1)};
    if (!sk->finite || sk->block < SKIP_BLOCK_MIN)
        return RM_OK;
    size_t spanned = min_len / sk->block - 1, blocks = s->n / sk->block;
    double *top = malloc(sizeof *top * (blocks + 1));
    double *bottom = malloc(sizeof *bottom * (blocks + 1));
    bool *unloaded = malloc(sizeof *unloaded * (blocks + 1));
    sk->next = malloc(sizeof *sk->next * (blocks + 1));
    rm_status st = top && bottom && unloaded && sk->next ? RM_OK
                                                         : RM_ERR_NOMEM;
    if (st == RM_OK) {
        block_ranges(s, sk->block, blocks, top, bottom, unloaded);
        sk->count = blocks;
        sk->next[blocks] = blocks;
        for (size_t k = blocks; k-- > 0;)
            sk->next[k] = k + spanned < blocks &&
                          cannot_start(top, bottom, unloaded, k, spanned,
                                       limit)
                              ? sk->next[k + 1] : k;
    }
    free(top);
    free(bottom);
    free(unloaded);
    return st;
}

/** The first start from i on that might begin a dwell. */
static size_t possible_start(const start_skip *sk, size_t i)
{
    size_t k = sk->count ? i / sk->block : 0;
    return k < sk->count && sk->next[k] > k ? sk->next[k] * sk->block : i;
}

/** How far a window of finite positions with extremes top and bottom
 *  goes on from j: fits() with those extremes, which is all the queues
 *  give once no sample leaves the window. */
static size_t held_until(const rm_series *s, size_t j, double top,
                         double bottom, double limit)
{
    const double *x = s->position_cm;
    for (; j < s->n && s->loaded[j]; j++) {
        double hi = rm_fmax_libm(x[j], top), lo = rm_fmin_libm(x[j], bottom);
        if (!(hi - lo <= limit))
            break;
        top = hi;
        bottom = lo;
    }
    return j;
}

/** Greedy leftmost maximal windows of loaded samples whose position
 *  spread stays within 2 * radius and which last min_len samples. */
static rm_status held_position_spans(const rm_series *s, double radius_cm,
                                     size_t min_len, span_list *out)
{
    const double *p = s->position_cm;
    extreme_queue hi = {malloc(sizeof(size_t) * (s->n + 1)), 0, 0, true};
    extreme_queue lo = {malloc(sizeof(size_t) * (s->n + 1)), 0, 0, false};
    out->items = malloc(sizeof *out->items * (s->n / (min_len ? min_len : 1) + 1));
    out->count = 0;
    start_skip skip;
    rm_status st = start_skip_make(s, min_len, 2 * radius_cm, &skip);
    if (!hi.idx || !lo.idx || !out->items)
        st = RM_ERR_NOMEM;
    size_t i = 0, j = 0;
    while (st == RM_OK && i < s->n) {
        if (j < i) {
            j = i;
            hi.head = hi.tail = lo.head = lo.tail = 0;
        }
        /* Once the window lasts it is a dwell: finite positions go on
         * without the queues (held_until). */
        while (j < s->n && s->loaded[j] &&
               (j - i < min_len || !skip.finite) &&
               fits(&hi, &lo, p, j, 2 * radius_cm)) {
            queue_push(&hi, p, j);
            queue_push(&lo, p, j);
            j++;
        }
        if (j - i >= min_len) {
            if (skip.finite)
                j = held_until(s, j, queue_value(&hi, p),
                               queue_value(&lo, p), 2 * radius_cm);
            /* A long window that is not held at one point after trimming
             * (a slow roll) is passed over whole, which keeps this linear. */
            span held = trim_to_held_point(s, (span){i, j}, radius_cm);
            if (held.to - held.from >= min_len)
                out->items[out->count++] = held;
            /* No window starts at j: it is unloaded, past the end or
             * beyond this window's extremes, which it is checked against. */
            i = possible_start(&skip, j + 1);
        } else {
            /* The starts passed over would each end here (no window
             * from them lasts), so the windows found are the same. */
            i = possible_start(&skip, i + 1);
            queue_drop_before(&hi, i);
            queue_drop_before(&lo, i);
        }
    }
    free(hi.idx);
    free(lo.idx);
    free(skip.next);
    return st;
}

/** Loaded stretches lasting min_len samples (devices without position). */
static rm_status loaded_spans(const rm_series *s, size_t min_len,
                              span_list *out)
{
    out->items = malloc(sizeof *out->items * (s->n / (min_len ? min_len : 1) + 1));
    out->count = 0;
    if (!out->items)
        return RM_ERR_NOMEM;
    size_t i = 0;
    while (i < s->n) {
        size_t j = i;
        while (j < s->n && s->loaded[j])
            j++;
        if (j - i >= min_len && j > i)
            out->items[out->count++] = (span){i, j};
        i = j > i ? j : i + 1;
    }
    return RM_OK;
}

rm_ml_side ana_side_of(double ml)
{
    if (!isfinite(ml) || fabs(ml) < ANA_SIDE_THRESHOLD)
        return RM_ML_SIDE_CENTRE;
    return ml < 0.0 ? RM_ML_SIDE_MEDIAL : RM_ML_SIDE_LATERAL;
}

static uint32_t marks_between(const double *mark_t_s, size_t mark_count,
                              double from_s, double to_s)
{
    uint32_t marks = 0;
    for (size_t k = 0; k < mark_count; k++)
        marks += mark_t_s[k] >= from_s && mark_t_s[k] <= to_s;
    return marks;
}

/** Every field of one dwell from the series over [from, to). */
static rm_dwell describe(const rm_series *s, span w, double rolled_cm)
{
    double dt = 1.0 / s->rate_hz, n = (double)(w.to - w.from);
    rm_dwell d = {.start_s = s->t_s[w.from], .end_s = s->t_s[w.to - 1] + dt};
    d.duration_s = d.end_s - d.start_s;
    double pos = 0.0, ml = 0.0, f = 0.0, f2 = 0.0, kpa = 0.0, tremor = 0.0;
    double peak_kpa = -INFINITY;
    size_t ml_n = 0;
    for (size_t i = w.from; i < w.to; i++) {
        pos += s->position_cm[i];
        if (isfinite(s->ml[i]))
            ml += s->ml[i], ml_n++;
        f += s->force_n[i];
        f2 += s->force_n[i] * s->force_n[i];
        kpa += s->pressure_kpa[i];
        peak_kpa = rm_fmax_libm(peak_kpa, s->pressure_kpa[i]);
        tremor += s->tremor[i];
    }
    d.peak_force_n = ana_peak_from_zero(s->force_n + w.from, w.to - w.from);
    d.peak_pressure_kpa = peak_kpa;
    d.position_cm = pos / n;     /* NaN without position */
    d.position_pct = rolled_cm > 0.0 ? 100.0 * d.position_cm / rolled_cm : NAN;
    d.ml = ml_n ? ml / (double)ml_n : 0.0;
    d.side = (uint8_t)ana_side_of(d.ml);
    d.mean_force_n = f / n;
    double var = fmax(f2 / n - d.mean_force_n * d.mean_force_n, 0.0);
    d.force_stability = d.mean_force_n > 0.0 ? sqrt(var) / d.mean_force_n : NAN;
    d.mean_pressure_kpa = kpa / n;
    d.pressure_time_kpa_s = kpa * dt;
    if (!isfinite(d.mean_pressure_kpa))
        d.peak_pressure_kpa = NAN;
    d.tremor_power = tremor / n;
    return d;
}

rm_status ana_find_dwells(const rm_series *s, bool has_position,
                          double rolled_length_cm,
                          const rm_analysis_config *cfg,
                          const double *mark_t_s, size_t mark_count,
                          rm_dwell **out, size_t *count, rm_error *err)
{
    *out = NULL;
    *count = 0;
    size_t min_len = (size_t)ceil(cfg->dwell_min_s * s->rate_hz);
    if (min_len == 0)
        min_len = 1;
    span_list spans;
    rm_status st = has_position
        ? held_position_spans(s, cfg->dwell_radius_cm, min_len, &spans)
        : loaded_spans(s, min_len, &spans);
    if (st != RM_OK) {
        free(spans.items);
        return rm_error_set(err, RM_ERR_NOMEM, "dwells: out of memory");
    }
    rm_dwell *dwells = malloc(sizeof *dwells * (spans.count + 1));
    if (!dwells) {
        free(spans.items);
        return rm_error_set(err, RM_ERR_NOMEM, "dwells: out of memory");
    }
    for (size_t k = 0; k < spans.count; k++) {
        dwells[k] = describe(s, spans.items[k], rolled_length_cm);
        dwells[k].marks = marks_between(mark_t_s, mark_count,
                                        dwells[k].start_s, dwells[k].end_s);
    }
    *out = dwells;
    *count = spans.count;
    free(spans.items);
    return RM_OK;
}
