/*
 * Unloading along the leg: the force profile as rolled, each pass's own
 * level taken out, against the force the leg takes where nothing hurts
 * (docs/ANALYSIS.md, "Tender spots").
 *
 * A pass's force is its level (the person's push during that stroke) times
 * what the place asks for (how the force falls along the leg, and easing
 * off over tender ground). In logs the two add, so
 *
 *     log F(pass k, bin b) = level[k] + place[b] + noise
 *
 * is fitted by least squares, alternating between the two (each step is
 * the exact minimiser for one given the other). Dividing each pass by its
 * own mean instead would take the dip over a spot into the pass's level:
 * a 3-7 cm stroke centred on a spot 2 cm wide keeps only a third of its
 * dip. Passes overlap along the leg, so the places are tied together.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>

/* The fit stops when no place moves by more than this (log units: 1e-5 is
 * 0.001 % of the force), or after this many rounds: information crosses
 * about one pass length per round, and a leg is 5-15 pass lengths. */
#define FIT_TOLERANCE 1e-5
#define FIT_MAX_ROUNDS 200
/* The reference is the line along the leg with this share of the bins
 * below it: easing off only ever lowers the force, so the unaffected
 * level is the top of the profile, and a quarter of the leg clear of
 * tender ground is enough to find it. */
#define REFERENCE_QUANTILE 0.75
/* A line needs few points: bins beyond this many are thinned out. */
#define REFERENCE_POINTS 128

/** One pass in one bin: the mean log force of its loaded samples there.
 *  Each cell counts once, however long the pass lingered (at its turns a
 *  pass spends many samples in one bin at one moment's push). */
typedef struct pass_cell {
    size_t pass, bin;
    double log_force;
} pass_cell;

typedef struct cell_list {
    pass_cell *cell;
    size_t count, cap;
} cell_list;

static size_t sample_at(const rm_series *s, double t_s)
{
    double i = round((t_s - s->t_s[0]) * s->rate_hz);
    if (!(i > 0.0))
        return 0;
    return i >= (double)s->n ? s->n - 1 : (size_t)i;
}

static pass_cell *new_cell(cell_list *l, size_t pass, size_t bin)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        pass_cell *grown = realloc(l->cell, sizeof *grown * cap);
        if (!grown)
            return NULL;
        l->cell = grown;
        l->cap = cap;
    }
    pass_cell *c = &l->cell[l->count++];
    *c = (pass_cell){.pass = pass, .bin = bin};
    return c;
}

/** A cell each time the pass enters a bin under load (a pass moves one
 *  way, so that is once per bin but for jitter at a bin's edge). */
static bool add_pass_cells(cell_list *l, const rm_series *s,
                           const rm_stroke *pass, size_t k, double bin_cm,
                           size_t bins)
{
    size_t a = sample_at(s, pass->start_s), z = sample_at(s, pass->end_s);
    pass_cell *c = NULL;
    size_t samples = 0;
    for (size_t i = a; i <= z; i++) {
        if (!s->loaded[i] || !(s->force_n[i] > 0.0))
            continue;
        size_t b = ana_profile_bin(s->position_cm[i], bin_cm, bins);
        if (!c || c->bin != b) {
            if (c)
                c->log_force /= (double)samples;
            if (!(c = new_cell(l, k, b)))
                return false;
            samples = 0;
        }
        c->log_force += log(s->force_n[i]);
        samples++;
    }
    if (c)
        c->log_force /= (double)samples;
    return true;
}

/** Half a round of the fit: for each pass (by_pass) or each bin, the mean
 *  over its cells of log force minus the other half's fitted value; NaN
 *  where it has no cell. Returns the largest change. */
static double fit_half(const cell_list *l, bool by_pass, const double *other,
                       double *fitted, size_t count, double *sum, size_t *n)
{
    for (size_t k = 0; k < count; k++)
        sum[k] = 0.0, n[k] = 0;
    for (size_t j = 0; j < l->count; j++) {
        const pass_cell *c = &l->cell[j];
        size_t own = by_pass ? c->pass : c->bin;
        sum[own] += c->log_force - other[by_pass ? c->bin : c->pass];
        n[own]++;
    }
    double change = 0.0;
    for (size_t k = 0; k < count; k++) {
        double updated = n[k] ? sum[k] / (double)n[k] : NAN;
        if (n[k])
            change = fmax(change, fabs(updated - fitted[k]));
        fitted[k] = updated;
    }
    return change;
}

/** place[b] = exp(fitted place): the force in bin b relative to the
 *  passes' levels (NaN where no pass went); level[k] is pass k's fitted
 *  log level (passes + 1 entries, zeroed by the caller). */
static rm_status fit(const cell_list *l, size_t passes, size_t bins,
                     double *place, double *level)
{
    size_t most = (passes > bins ? passes : bins) + 1;
    double *sum = malloc(sizeof *sum * most);
    size_t *n = malloc(sizeof *n * most);
    rm_status st = sum && n ? RM_OK : RM_ERR_NOMEM;
    for (size_t b = 0; st == RM_OK && b < bins; b++)
        place[b] = 0.0;
    for (int round = 0; st == RM_OK && round < FIT_MAX_ROUNDS; round++) {
        fit_half(l, true, place, level, passes, sum, n);
        if (fit_half(l, false, level, place, bins, sum, n) < FIT_TOLERANCE)
            break;
    }
    for (size_t b = 0; st == RM_OK && b < bins; b++)
        place[b] = exp(place[b]);
    free(sum);
    free(n);
    return st;
}

/** Check loss of quantile regression for the line a + b x through the
 *  finite values y[x], x = 0, stride, 2 stride, ... */
static double check_loss(const double *y, size_t n, size_t stride, double a,
                         double b)
{
    double loss = 0.0;
    for (size_t x = 0; x < n; x += stride) {
        if (!isfinite(y[x]))
            continue;
        double r = y[x] - (a + b * (double)x);
        loss += r > 0.0 ? REFERENCE_QUANTILE * r
                        : (REFERENCE_QUANTILE - 1.0) * r;
    }
    return loss;
}

/** The quantile line through y (a line along the leg: force falls from
 *  proximal to distal, Baumgart 2019). Some optimal line passes through
 *  two of the points, so all pairs are tried, on at most REFERENCE_POINTS
 *  bins spread along the leg (the cost grows with their cube). */
static void quantile_line(const double *y, size_t n, double *a, double *b)
{
    size_t stride = (n + REFERENCE_POINTS - 1) / REFERENCE_POINTS;
    double best = INFINITY;
    *a = NAN;
    *b = 0.0;
    for (size_t i = 0; i < n; i += stride) {
        for (size_t j = i; j < n; j += stride) {
            if (!isfinite(y[i]) || !isfinite(y[j]))
                continue;
            double slope = j > i ? (y[j] - y[i]) / (double)(j - i) : 0.0;
            double at0 = y[i] - slope * (double)i;
            double loss = check_loss(y, n, stride, at0, slope);
            if (loss < best)
                best = loss, *a = at0, *b = slope;
        }
    }
}

/** Standard deviation over the passes of each bin's unloading: each
 *  pass's own force there, its level taken out, against the reference
 *  line a + b x (NaN with fewer than two passes). How far one pass's
 *  easing off scatters about the bin's is the measure's repeatability. */
static rm_status pass_spread(const cell_list *l, const double *level,
                             double a, double b, size_t bins, double *spread)
{
    double *sum = calloc(bins, sizeof *sum), *sq = calloc(bins, sizeof *sq);
    size_t *n = calloc(bins, sizeof *n);
    rm_status st = sum && sq && n ? RM_OK : RM_ERR_NOMEM;
    for (size_t j = 0; st == RM_OK && j < l->count; j++) {
        const pass_cell *c = &l->cell[j];
        double u = 1.0 - exp(c->log_force - level[c->pass]) /
                         (a + b * (double)c->bin);
        sum[c->bin] += u;
        sq[c->bin] += u * u;
        n[c->bin]++;
    }
    for (size_t x = 0; st == RM_OK && x < bins; x++)
        spread[x] = ana_sample_sd(sum[x], sq[x], n[x]);
    free(sum);
    free(sq);
    free(n);
    return st;
}

rm_status ana_unloading(const rm_series *s, const rm_stroke *passes,
                        size_t count, double bin_cm, size_t bins,
                        double *unloading, double *spread)
{
    cell_list l = {0};
    double *level = calloc(count + 1, sizeof *level);
    rm_status st = level ? RM_OK : RM_ERR_NOMEM;
    for (size_t k = 0; k < count && st == RM_OK; k++)
        if (!add_pass_cells(&l, s, &passes[k], k, bin_cm, bins))
            st = RM_ERR_NOMEM;
    if (st == RM_OK)
        st = fit(&l, count, bins, unloading, level);
    if (st == RM_OK) {
        double a, b;
        quantile_line(unloading, bins, &a, &b);
        for (size_t x = 0; x < bins; x++)
            unloading[x] = 1.0 - unloading[x] / (a + b * (double)x);
        st = pass_spread(&l, level, a, b, bins, spread);
    }
    free(l.cell);
    free(level);
    return st;
}
