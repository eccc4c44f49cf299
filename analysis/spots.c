/*
 * The profile along the leg, the user's marks and the tender spots.
 *
 * Evidence is gathered per profile bin: tremor/guarding power relative to
 * the force, unloading on passes (unloading.c), slowing (passes over the
 * bin slower than the session's usual pass), marks with their ratings,
 * time dwelt and time held leaning to one side. Each kind is normalised (1
 * is full), smoothed along the leg and combined into a 0-10 tenderness;
 * its peaks scoring spot_min_score are spots. docs/ANALYSIS.md documents
 * every weight and threshold.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Evidence that is full (1) at: */
#define SLOWING_FULL 0.5        /* passes at half the usual speed */
#define UNLOADING_FULL 0.15     /* 15 % less force than where nothing hurts */
#define TREMOR_RATIO_FULL 100.0 /* 20 dB over the quiet parts' relative power */
#define MARK_UNRATED 0.7        /* an unrated mark: "tender" (7/10) */
#define RATING_MAX 10.0         /* marks are rated 0-10 */
/* A bin's relative tremor needs this much steady loaded time: about two
 * spectrogram frames (0.64 s each at 100 Hz), so one frame does not decide. */
#define TREMOR_MIN_TIME_S 1.0
/* Easing off by less than this is within the scatter of the force profile
 * where nothing hurts (1-2 % of the force, docs/ANALYSIS.md). */
#define UNLOADING_FLOOR 0.02
/* Weights of the evidence in the tenderness. Guarding shows as tremor or
 * as easing off, and not everyone does both: the stronger of the two
 * counts W_GUARD_STRONGER, the other adds W_GUARD_WEAKER, so either alone
 * at half strength makes a spot and both at full weigh 0.6. Marks are the
 * person's own word. Slowing is spread over a whole stroke, so it only
 * locates a spot roughly. A hold leaning to one side aims at a point in
 * the medial or lateral hamstrings, as holds on tender spots do: a weak
 * sign that alone, even with the dwell boost, scores 2.6. */
#define W_GUARD_STRONGER 0.4
#define W_GUARD_WEAKER 0.2
#define W_MARK 0.3
#define W_SLOWING 0.15
#define W_AIMED_HOLD 0.1
/* Dwelling is what people do on tender spots but also a technique on its
 * own: it raises the other evidence by up to this fraction, never alone. */
#define DWELL_BOOST 0.5
/* The combined evidence e maps to a score of 10 (1 - exp(-e / E)): no
 * plateau, so neighbouring spots keep their own peaks; e = E scores 6.3. */
#define SCORE_SCALE 0.5
/* The quiet parts of the leg: this quantile of the bins' relative tremor
 * (low, because tender spots can cover much of a short leg). */
#define TREMOR_BASELINE_QUANTILE 0.05
/* Evidence is smoothed along the leg with a Gaussian of this sigma. */
#define SMOOTH_SIGMA_CM 1.0
/* The force at a mark is the peak over the reaction time before it. */
#define MARK_REACTION_S 0.5
/* Confidence counts an evidence kind as present above this, and is full
 * with this many passes over the spot. */
#define EVIDENCE_PRESENT 0.25
#define CONFIDENT_PASSES 5.0
/* A spot's side from passes: the passes over it lean to one side of their
 * own centre line by at least this much ml (3 mm of the 30 mm scale) and
 * with this confidence that the side is not the noise's (one-sided normal,
 * z 2.33): the load centre wanders about 6 mm while rolling, so a spot
 * needs several passes that agree, and a lean held on a spot nearby takes
 * a second or two to fade (on the virtual roller 1.7 mm 10 cm on from a
 * 20 mm hold, which gave the opposite side at 0.05). */
#define PASS_LEAN_MIN 0.1
#define PASS_SIDE_CONFIDENCE 0.99
/* A spot's strength is its score up to this combined evidence (score
 * 6.3) and goes on along the score's tangent there: the score itself
 * saturates, so 0.7 and 0.9 severities both read about 9.5. */
#define STRENGTH_KNEE 0.5
/* Scores run from 0 to this, as pain ratings do (0-10 NRS). */
#define SCORE_MAX 10.0
/* A spot's confidence: half from how many evidence kinds agree, half from
 * how well the passes (or a mark) cover it; neither alone makes it sure. */
#define CONFIDENCE_W_AGREEMENT 0.5
#define CONFIDENCE_W_COVERAGE 0.5

enum { EV_DWELL, EV_AIMED_HOLD, EV_SLOWING, EV_UNLOADING, EV_TREMOR, EV_MARK,
       EV_KINDS };

/** What the loaded samples in a profile bin add up to. */
typedef struct sample_sums {
    double time_s, force_sum, force_peak, kpa_sum, medial, lateral;
    double tremor_sum, rel_tremor_sum;
    double tremor_time_s;     /**< steady loaded time behind rel_tremor_sum */
    size_t samples;
} sample_sums;

/** Everything gathered per profile bin. */
typedef struct bin_acc {
    sample_sums sums;
    double dwell_s, dwell_ml_weighted, aimed_hold_s;
    double pass_speed_sum, pass_speed_sq, unloading, unloading_spread;
    size_t passes;
    double pass_log_tremor, pass_log_tremor_sq; /**< log relative tremor */
    size_t tremor_passes;
    double pass_lean, pass_lean_sq; /**< ml against the pass's own centre */
    size_t lean_passes;
    uint32_t marks;
    double rating_sum;
    uint32_t rated;
    double mark_ml_sum;
    double ev[EV_KINDS];      /**< 1 = full (may exceed it), then smoothed */
} bin_acc;

/** One pass's share of one bin. */
typedef struct pass_bin {
    bool crossed;
    double force, force_ml, ml_force;
    double rel_tremor;        /**< sum over its steady samples */
    size_t tremor_samples;
} pass_bin;

typedef struct profile_work {
    const rm_series *s;
    const rm_analysis_config *cfg;
    double bin_cm, rolled_cm;
    double tremor_frame_s;    /**< length of a spectrogram frame */
    size_t bins;
    bin_acc *acc;
    uint8_t *steady;          /**< steady_load(): tremor frame all loaded */
    double usual_speed;       /**< median pass speed over the bins */
    double *tenderness;       /**< the score, each kind at most full */
    double *locating;         /**< the same beyond full: where it is worst */
} profile_work;

static size_t bin_of(const profile_work *w, double position_cm)
{
    return ana_profile_bin(position_cm, w->bin_cm, w->bins);
}

/** Index of the series sample nearest t_s (clamped). */
static size_t index_at(const rm_series *s, double t_s)
{
    if (s->n == 0)
        return 0;
    double i = round((t_s - s->t_s[0]) * s->rate_hz);
    if (!(i > 0.0))
        return 0;
    return i >= (double)s->n ? s->n - 1 : (size_t)i;
}

/* ------------------------------------------------------------------------ */
/* Gathering                                                                */
/* ------------------------------------------------------------------------ */

void ana_steady_load(const uint8_t *loaded, size_t n, size_t reach,
                     uint8_t *steady)
{
    /* By the runs of unloaded samples, which are few, rather than
     * counting the samples since and until the last unloaded one. */
    memset(steady, 1, n);
    const uint8_t *end = loaded + n, *p = loaded;
    while ((p = memchr(p, 0, (size_t)(end - p)))) {
        size_t first = (size_t)(p - loaded);
        while (p < end && !*p)
            p++;
        size_t after = (size_t)(p - loaded);
        size_t from = first > reach ? first - reach : 0;
        size_t to = n - after > reach ? after + reach : n;
        memset(steady + from, 0, to - from);
    }
}

/** steady[i]: every sample within a tremor frame of i is under load. The
 *  6-12 Hz power of a frame that takes in sitting down on the roller or
 *  lifting the leg off is the step's, not tremor. */
static uint8_t *steady_load(const profile_work *w)
{
    const rm_series *s = w->s;
    uint8_t *steady = malloc(s->n ? s->n : 1);
    if (!steady)
        return NULL;
    rm_prefault(steady, s->n);
    ana_steady_load(s->loaded, s->n,
                    (size_t)ceil(w->tremor_frame_s * s->rate_hz), steady);
    return steady;
}

/** Relative tremor (tremor power over force squared) of sample i, or NaN
 *  where its spectrogram frame is not wholly under load. */
static double rel_tremor_at(const profile_work *w, size_t i)
{
    double f = w->s->force_n[i];
    return w->steady[i] && f > 0.0 ? w->s->tremor[i] / (f * f) : NAN;
}

/** Adds the loaded samples from i on to *sums while they fall in bin b
 *  (the position moves slowly: a bin takes runs of samples); returns the
 *  first loaded sample in another bin, or n. */
static size_t gather_run(const profile_work *w, size_t i, size_t b,
                         sample_sums *sums)
{
    const rm_series *s = w->s;
    double dt = 1.0 / s->rate_hz;
    sample_sums t = *sums;    /* in registers while the run lasts */
    for (; i < s->n; i++) {
        if (!s->loaded[i])
            continue;
        if (bin_of(w, s->position_cm[i]) != b)
            break;
        double f = s->force_n[i];
        double ml = isfinite(s->ml[i]) ? s->ml[i] : 0.0;
        t.time_s += dt;
        t.force_sum += f;
        t.force_peak = rm_fmax_libm(f, t.force_peak); /* as GCC called fmax */
        if (isfinite(s->pressure_kpa[i]))
            t.kpa_sum += s->pressure_kpa[i];
        t.medial += f * (1.0 - ml) / 2.0;
        t.lateral += f * (1.0 + ml) / 2.0;
        t.tremor_sum += s->tremor[i];
        double rel = rel_tremor_at(w, i);
        if (isfinite(rel)) {
            t.rel_tremor_sum += rel / s->rate_hz;
            t.tremor_time_s += dt;
        }
        t.samples++;
    }
    *sums = t;
    return i;
}

static void gather_samples(profile_work *w)
{
    const rm_series *s = w->s;
    size_t i = 0;
    while (i < s->n) {
        if (!s->loaded[i]) {
            i++;
            continue;
        }
        size_t b = bin_of(w, s->position_cm[i]);
        i = gather_run(w, i, b, &w->acc[b].sums);
    }
}

static void gather_dwells(profile_work *w, const rm_dwell *d, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        bin_acc *b = &w->acc[bin_of(w, d[k].position_cm)];
        b->dwell_s += d[k].duration_s;
        b->dwell_ml_weighted += d[k].ml * d[k].duration_s;
        if (d[k].side != RM_ML_SIDE_CENTRE)
            b->aimed_hold_s += d[k].duration_s;
    }
}

/** What one pass did in each bin it crossed under load; returns the
 *  pass's own centre line (force-weighted ml over the whole pass). */
static double measure_pass(const profile_work *w, const rm_stroke *pass,
                           pass_bin *pb)
{
    const rm_series *s = w->s;
    memset(pb, 0, sizeof *pb * w->bins);
    double force = 0.0, force_ml = 0.0;
    size_t a = index_at(s, pass->start_s), z = index_at(s, pass->end_s);
    for (size_t i = a; i <= z; i++) {
        if (!s->loaded[i])
            continue;
        pass_bin *p = &pb[bin_of(w, s->position_cm[i])];
        p->crossed = true;
        double rel = rel_tremor_at(w, i);
        if (isfinite(rel))
            p->rel_tremor += rel, p->tremor_samples++;
        if (!isfinite(s->ml[i]))
            continue;
        p->force_ml += s->force_n[i] * s->ml[i];
        p->ml_force += s->force_n[i];
        force_ml += s->force_n[i] * s->ml[i];
        force += s->force_n[i];
    }
    return force > 0.0 ? force_ml / force : NAN;
}

/** The pass's speed, tremor and lean go to every bin it crossed. */
static void gather_pass(profile_work *w, const rm_stroke *pass, pass_bin *pb)
{
    double centre = measure_pass(w, pass, pb);
    double speed = fabs(pass->mean_speed_cm_s);
    for (size_t b = 0; b < w->bins; b++) {
        const pass_bin *p = &pb[b];
        if (!p->crossed)
            continue;
        bin_acc *acc = &w->acc[b];
        acc->passes++;
        acc->pass_speed_sum += speed;
        acc->pass_speed_sq += speed * speed;
        if (p->tremor_samples && p->rel_tremor > 0.0) {
            double log_rel = log(p->rel_tremor / (double)p->tremor_samples);
            acc->pass_log_tremor += log_rel;
            acc->pass_log_tremor_sq += log_rel * log_rel;
            acc->tremor_passes++;
        }
        if (p->ml_force > 0.0 && isfinite(centre)) {
            double lean = p->force_ml / p->ml_force - centre;
            acc->pass_lean += lean;
            acc->pass_lean_sq += lean * lean;
            acc->lean_passes++;
        }
    }
}

static rm_status gather_passes(profile_work *w, const rm_stroke *passes,
                               size_t count)
{
    pass_bin *pb = malloc(sizeof *pb * w->bins);
    double *unloading = malloc(sizeof *unloading * w->bins);
    double *spread = malloc(sizeof *spread * w->bins);
    rm_status st = pb && unloading && spread
        ? ana_unloading(w->s, passes, count, w->bin_cm, w->bins, unloading,
                        spread)
        : RM_ERR_NOMEM;
    for (size_t k = 0; st == RM_OK && k < count; k++)
        gather_pass(w, &passes[k], pb);
    for (size_t b = 0; st == RM_OK && b < w->bins; b++) {
        w->acc[b].unloading = unloading[b];
        w->acc[b].unloading_spread = spread[b];
    }
    free(pb);
    free(unloading);
    free(spread);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Marks                                                                    */
/* ------------------------------------------------------------------------ */

static rm_mark describe_mark(const rm_series *s, double t_s, int rating)
{
    rm_mark m = {.t_s = t_s, .rating = rating, .spot = -1,
                 .position_cm = NAN, .force_n = NAN, .pressure_kpa = NAN};
    if (s->n == 0)
        return m;
    size_t at = index_at(s, t_s);
    size_t from = index_at(s, t_s - MARK_REACTION_S);
    m.position_cm = s->position_cm[at];
    m.force_n = -INFINITY;
    for (size_t i = from; i <= at; i++)
        if (s->force_n[i] > m.force_n) {
            m.force_n = s->force_n[i];
            m.pressure_kpa = s->pressure_kpa[i];
        }
    return m;
}

static void gather_marks(profile_work *w, const rm_mark *marks, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        if (!isfinite(marks[k].position_cm))
            continue;
        bin_acc *b = &w->acc[bin_of(w, marks[k].position_cm)];
        b->marks++;
        if (marks[k].rating >= 0)
            b->rating_sum += marks[k].rating, b->rated++;
        size_t at = index_at(w->s, marks[k].t_s);
        b->mark_ml_sum += isfinite(w->s->ml[at]) ? w->s->ml[at] : 0.0;
    }
}

/* ------------------------------------------------------------------------ */
/* Evidence and tenderness                                                  */
/* ------------------------------------------------------------------------ */

static double mark_evidence(const bin_acc *b)
{
    if (b->marks == 0)
        return 0.0;
    return b->rated ? b->rating_sum / b->rated / RATING_MAX : MARK_UNRATED;
}

/** A quantile over the bins of a per-bin value (bins without data left
 *  out); NaN if none has data. */
static double bins_quantile(const profile_work *w, double q,
                            double (*value)(const bin_acc *))
{
    double *v = malloc(sizeof *v * w->bins);
    if (!v)
        return NAN;
    for (size_t b = 0; b < w->bins; b++)
        v[b] = value(&w->acc[b]);
    double result = rm_quantile(v, w->bins, q);
    free(v);
    return result;
}

static double bin_rel_tremor(const bin_acc *a)
{
    return a->sums.tremor_time_s >= TREMOR_MIN_TIME_S
               ? a->sums.rel_tremor_sum / a->sums.tremor_time_s : NAN;
}

static double bin_pass_speed(const bin_acc *a)
{
    return a->passes ? a->pass_speed_sum / (double)a->passes : NAN;
}

static void normalise_evidence(profile_work *w)
{
    double quiet = bins_quantile(w, TREMOR_BASELINE_QUANTILE, bin_rel_tremor);
    w->usual_speed = bins_quantile(w, 0.5, bin_pass_speed);
    for (size_t b = 0; b < w->bins; b++) {
        bin_acc *a = &w->acc[b];
        a->ev[EV_DWELL] = rm_clamp(a->dwell_s / w->cfg->target_hold_s, 0, 1);
        a->ev[EV_AIMED_HOLD] =
            rm_clamp(a->aimed_hold_s / w->cfg->target_hold_s, 0, 1);
        double slowing = 1.0 - bin_pass_speed(a) / w->usual_speed;
        a->ev[EV_SLOWING] = isfinite(slowing)
            ? fmax(slowing / SLOWING_FULL, 0.0) : 0.0;
        a->ev[EV_UNLOADING] = isfinite(a->unloading)
            ? fmax((a->unloading - UNLOADING_FLOOR) /
                   (UNLOADING_FULL - UNLOADING_FLOOR), 0.0)
            : 0.0;
        double ratio = bin_rel_tremor(a) / quiet;
        a->ev[EV_TREMOR] = isfinite(ratio) && ratio > 1.0
            ? log(ratio) / log(TREMOR_RATIO_FULL) : 0.0;
        a->ev[EV_MARK] = mark_evidence(a);
    }
}

/** Gaussian smoothing of one evidence kind along the leg; holds and marks
 *  keep their peak height (they are located events). */
static void smooth_evidence(profile_work *w, int kind, double *tmp)
{
    double sigma = SMOOTH_SIGMA_CM / w->bin_cm;
    long reach = (long)ceil(3.0 * sigma);
    bool keep_peak = kind == EV_DWELL || kind == EV_AIMED_HOLD ||
                     kind == EV_MARK;
    for (size_t b = 0; b < w->bins; b++) {
        double sum = 0.0, weights = 0.0, peak = 0.0;
        for (long d = -reach; d <= reach; d++) {
            long k = (long)b + d;
            if (k < 0 || k >= (long)w->bins)
                continue;
            double g = exp(-0.5 * (double)(d * d) / (sigma * sigma));
            sum += g * w->acc[k].ev[kind];
            weights += g;
            peak = fmax(peak, g * w->acc[k].ev[kind]);
        }
        tmp[b] = keep_peak ? peak : sum / weights;
    }
    for (size_t b = 0; b < w->bins; b++)
        w->acc[b].ev[kind] = tmp[b];
}

/** Evidence of one kind, at most full unless beyond_full. */
static double evidence(const bin_acc *a, int kind, bool beyond_full)
{
    return beyond_full ? a->ev[kind] : fmin(a->ev[kind], 1.0);
}

/** What the passes measured (guarding, slowing): the strength's evidence.
 *  Marks are left out of it like holds: a mark is made during a hold, so
 *  whether a spot has one this week follows where the person stopped. */
static double measured_evidence(const bin_acc *a, bool beyond_full)
{
    double tremor = evidence(a, EV_TREMOR, beyond_full);
    double unloading = evidence(a, EV_UNLOADING, beyond_full);
    return W_GUARD_STRONGER * fmax(tremor, unloading) +
           W_GUARD_WEAKER * fmin(tremor, unloading) +
           W_SLOWING * evidence(a, EV_SLOWING, beyond_full);
}

/** The combined evidence e of docs/ANALYSIS.md. */
static double combined_evidence(const bin_acc *a, bool beyond_full)
{
    return (measured_evidence(a, beyond_full) + W_MARK * a->ev[EV_MARK] +
            W_AIMED_HOLD * a->ev[EV_AIMED_HOLD]) *
           (1.0 + DWELL_BOOST * a->ev[EV_DWELL]);
}

static double score_of(double e)
{
    return SCORE_MAX * (1.0 - exp(-e / SCORE_SCALE));
}

static double tenderness_of(const bin_acc *a, bool beyond_full)
{
    return score_of(combined_evidence(a, beyond_full));
}

/** How fast the strength grows with the combined evidence at e. */
static double strength_slope(double e)
{
    return SCORE_MAX / SCORE_SCALE * exp(-fmin(e, STRENGTH_KNEE) / SCORE_SCALE);
}

/** The score below STRENGTH_KNEE and its tangent beyond: no ceiling. */
static double strength_of(double e)
{
    if (e <= STRENGTH_KNEE)
        return score_of(e);
    return score_of(STRENGTH_KNEE) + strength_slope(e) * (e - STRENGTH_KNEE);
}

/** Standard error of a mean from the pass-to-pass scatter (0 when a kind
 *  was measured on fewer than two passes: it then adds no scatter). */
static double pass_error(double sd, size_t n)
{
    return isfinite(sd) && n > 1 ? sd / sqrt((double)n) : 0.0;
}

/** Standard error of the strength at bin a from the scatter of what the
 *  passes over it measured (unloading, tremor, slowing), propagated
 *  through the weights: the measurement's own repeatability. NaN with
 *  fewer than two passes. Marks, dwells and holds are events, not
 *  repeated measures, and add none. */
static double strength_error(const profile_work *w, const bin_acc *a)
{
    if (a->passes < 2)
        return NAN;
    double tremor = a->ev[EV_TREMOR], unloading = a->ev[EV_UNLOADING];
    double w_unloading = unloading >= tremor ? W_GUARD_STRONGER
                                             : W_GUARD_WEAKER;
    double w_tremor = W_GUARD_STRONGER + W_GUARD_WEAKER - w_unloading;
    double se_unloading = pass_error(a->unloading_spread, a->passes) /
                          (UNLOADING_FULL - UNLOADING_FLOOR);
    double se_tremor = pass_error(ana_sample_sd(a->pass_log_tremor,
                                                a->pass_log_tremor_sq,
                                                a->tremor_passes),
                                  a->tremor_passes) / log(TREMOR_RATIO_FULL);
    double se_slowing = pass_error(ana_sample_sd(a->pass_speed_sum,
                                                 a->pass_speed_sq, a->passes),
                                   a->passes) / w->usual_speed / SLOWING_FULL;
    double se_e = hypot(hypot(w_unloading * se_unloading,
                              w_tremor * se_tremor),
                        W_SLOWING * (isfinite(se_slowing) ? se_slowing : 0.0));
    return se_e * strength_slope(measured_evidence(a, true));
}

static void fill_profile(const profile_work *w, rm_profile_bin *out)
{
    for (size_t b = 0; b < w->bins; b++) {
        const sample_sums *a = &w->acc[b].sums;
        double n = a->samples ? (double)a->samples : NAN;
        out[b] = (rm_profile_bin){
            .position_cm = ((double)b + 0.5) * w->bin_cm,
            .time_s = a->time_s,
            .mean_force_n = a->samples ? a->force_sum / n : 0.0,
            .peak_force_n = a->force_peak,
            .mean_pressure_kpa = a->samples ? a->kpa_sum / n : 0.0,
            .tenderness = w->tenderness[b],
            .medial_force_n = a->samples ? a->medial / n : 0.0,
            .lateral_force_n = a->samples ? a->lateral / n : 0.0,
            .tremor = a->samples ? a->tremor_sum / n : 0.0,
            .passes = w->acc[b].passes};
        if (!isfinite(w->s->pressure_kpa[0]) && w->s->n)
            out[b].mean_pressure_kpa = NAN;
    }
}

/* ------------------------------------------------------------------------ */
/* Spots                                                                    */
/* ------------------------------------------------------------------------ */

/** Where the person held or pressed around bin b: the duration-weighted
 *  ml of the dwells, else the mean ml of the marks; false when nobody
 *  held or marked there. */
static bool held_ml(const profile_work *w, size_t b, long reach, double *ml)
{
    double dwell_w = 0.0, dwell_ml = 0.0, mark_n = 0.0, mark_ml = 0.0;
    for (long d = -reach; d <= reach; d++) {
        long k = (long)b + d;
        if (k < 0 || k >= (long)w->bins)
            continue;
        const bin_acc *a = &w->acc[k];
        dwell_w += a->dwell_s;
        dwell_ml += a->dwell_ml_weighted;
        mark_n += a->marks;
        mark_ml += a->mark_ml_sum;
    }
    if (dwell_w > 0.0)
        *ml = dwell_ml / dwell_w;
    else if (mark_n > 0.0)
        *ml = mark_ml / mark_n;
    return dwell_w > 0.0 || mark_n > 0.0;
}

/** The side of a spot nobody held, from the passes over its bin: each
 *  pass's centre of pressure there against that pass's own centre line
 *  (so how the person sits on the roller cancels), averaged over the
 *  passes. The confidence is the one-sided normal probability that a lean
 *  of that sign is not the passes' scatter; the side stays unknown below
 *  PASS_SIDE_CONFIDENCE, under PASS_LEAN_MIN or with fewer than three
 *  passes. */
static void pass_side(const bin_acc *a, rm_spot *sp)
{
    sp->ml = a->lean_passes ? a->pass_lean / (double)a->lean_passes : NAN;
    sp->side = RM_ML_SIDE_UNKNOWN;
    sp->side_confidence = 0.0;
    double sd = ana_sample_sd(a->pass_lean, a->pass_lean_sq, a->lean_passes);
    if (a->lean_passes < 3 || !isfinite(sd))
        return;
    double z = fabs(sp->ml) / fmax(sd / sqrt((double)a->lean_passes), 1e-9);
    sp->side_confidence = 0.5 * erfc(-z / sqrt(2.0));
    if (sp->side_confidence >= PASS_SIDE_CONFIDENCE &&
        fabs(sp->ml) >= PASS_LEAN_MIN)
        sp->side = sp->ml < 0.0 ? RM_ML_SIDE_MEDIAL : RM_ML_SIDE_LATERAL;
}

/** ml, side and side confidence: a hold or mark says where (confidence
 *  1, a centred hold is the centre line), else the passes' lean. */
static void spot_side(const profile_work *w, size_t b, long reach,
                      rm_spot *sp)
{
    if (!held_ml(w, b, reach, &sp->ml)) {
        pass_side(&w->acc[b], sp);
        return;
    }
    sp->side = (uint8_t)ana_side_of(sp->ml);
    sp->side_confidence = 1.0;
}

static double spot_confidence(const bin_acc *a)
{
    int present = 0;
    for (int k = 0; k < EV_KINDS; k++)
        present += a->ev[k] >= EVIDENCE_PRESENT;
    double agreement = (double)present / EV_KINDS;
    double coverage = fmin(1.0, (double)a->passes / CONFIDENT_PASSES);
    return CONFIDENCE_W_AGREEMENT * agreement +
           CONFIDENCE_W_COVERAGE * fmax(coverage, a->marks ? 1.0 : 0.0);
}

static rm_spot describe_spot(const profile_work *w, size_t b)
{
    /* Refine the peak with a parabola through its neighbours. */
    double offset = 0.0;
    if (b > 0 && b + 1 < w->bins) {
        const double *t = w->locating;
        double l = t[b - 1], c = t[b], r = t[b + 1];
        double curve = l - 2.0 * c + r;
        offset = curve < 0.0 ? rm_clamp(0.5 * (l - r) / curve, -0.5, 0.5) : 0;
    }
    const bin_acc *a = &w->acc[b];
    long reach = (long)ceil(w->cfg->spot_merge_cm / 2.0 / w->bin_cm);
    rm_spot sp = {.position_cm = ((double)b + 0.5 + offset) * w->bin_cm,
                  .score = w->tenderness[b],
                  .strength = strength_of(measured_evidence(a, true)),
                  .strength_se = strength_error(w, a),
                  .threshold_force_n = NAN, .threshold_pressure_kpa = NAN};
    sp.position_pct = w->rolled_cm > 0.0
                          ? 100.0 * sp.position_cm / w->rolled_cm : NAN;
    spot_side(w, b, reach, &sp);
    sp.confidence = spot_confidence(a);
    sp.evidence = (rm_spot_evidence){
        .dwell_s = 0.0, .slowing = evidence(a, EV_SLOWING, false),
        .unloading = evidence(a, EV_UNLOADING, false),
        .tremor = evidence(a, EV_TREMOR, false),
        .marks = 0, .mark_rating = -1.0};
    for (long d = -reach; d <= reach; d++) {
        long k = (long)b + d;
        if (k >= 0 && k < (long)w->bins)
            sp.evidence.dwell_s += w->acc[k].dwell_s;
    }
    return sp;
}

/** A peak inside the rolled length: the end bins hold the turns of every
 *  pass (slow by nature) and have neighbours on one side only. */
static bool is_peak(const double *t, size_t bins, size_t b)
{
    return b > 0 && b + 1 < bins && t[b] >= t[b - 1] && t[b] > t[b + 1];
}

/** Peaks scoring at least the minimum, strongest first, none closer than
 *  spot_merge_cm to a stronger one. They are found on the evidence beyond
 *  full: two spots 4 cm apart that both reach full unloading still have
 *  two peaks. */
static size_t pick_peaks(const profile_work *w, size_t *picked)
{
    const double *t = w->locating;
    size_t count = 0;
    for (;;) {
        size_t best = w->bins;
        for (size_t b = 0; b < w->bins; b++) {
            if (w->tenderness[b] < w->cfg->spot_min_score ||
                !is_peak(t, w->bins, b))
                continue;
            bool near = false;
            for (size_t k = 0; k < count && !near; k++)
                near = fabs((double)b - (double)picked[k]) * w->bin_cm <
                       w->cfg->spot_merge_cm;
            if (!near && (best == w->bins || t[b] > t[best]))
                best = b;
        }
        if (best == w->bins)
            return count;
        picked[count++] = best;
    }
}

/** Link marks to the nearest spot within spot_merge_cm; fill thresholds. */
static void link_marks(rm_analysis *a, double merge_cm)
{
    for (size_t m = 0; m < a->mark_count; m++) {
        rm_mark *mk = &a->marks[m];
        double best = merge_cm;
        for (size_t k = 0; k < a->spot_count; k++) {
            double d = fabs(mk->position_cm - a->spots[k].position_cm);
            if (d <= best)
                best = d, mk->spot = (int)k;
        }
    }
    for (size_t k = 0; k < a->spot_count; k++) {
        rm_spot *sp = &a->spots[k];
        double force = 0.0, kpa = 0.0, rating = 0.0;
        uint32_t n = 0, rated = 0;
        for (size_t m = 0; m < a->mark_count; m++) {
            if (a->marks[m].spot != (int)k)
                continue;
            force += a->marks[m].force_n;
            kpa += a->marks[m].pressure_kpa;
            n++;
            if (a->marks[m].rating >= 0)
                rating += a->marks[m].rating, rated++;
        }
        sp->evidence.marks = n;
        sp->evidence.mark_rating = rated ? rating / rated : -1.0;
        sp->threshold_force_n = n ? force / n : NAN;
        sp->threshold_pressure_kpa = n ? kpa / n : NAN;
    }
}

static rm_status describe_marks(rm_analysis *a, const double *mark_t_s,
                                const int *mark_rating, size_t mark_count)
{
    a->marks = malloc(sizeof *a->marks * (mark_count + 1));
    if (!a->marks)
        return RM_ERR_NOMEM;
    a->mark_count = mark_count;
    for (size_t k = 0; k < mark_count; k++)
        a->marks[k] = describe_mark(&a->series, mark_t_s[k], mark_rating[k]);
    return RM_OK;
}

static rm_status build_profile(rm_analysis *a, profile_work *w,
                               const rm_stroke *passes, size_t pass_count)
{
    w->steady = steady_load(w);
    if (!w->steady)
        return RM_ERR_NOMEM;
    gather_samples(w);
    if (gather_passes(w, passes, pass_count) != RM_OK)
        return RM_ERR_NOMEM;
    gather_dwells(w, a->dwells, a->dwell_count);
    gather_marks(w, a->marks, a->mark_count);
    normalise_evidence(w);
    for (int kind = 0; kind < EV_KINDS; kind++)
        smooth_evidence(w, kind, w->tenderness);
    for (size_t b = 0; b < w->bins; b++) {
        w->tenderness[b] = tenderness_of(&w->acc[b], false);
        w->locating[b] = tenderness_of(&w->acc[b], true);
    }
    a->profile = malloc(sizeof *a->profile * w->bins);
    if (!a->profile)
        return RM_ERR_NOMEM;
    a->bin_count = w->bins;
    fill_profile(w, a->profile);
    return RM_OK;
}

static rm_status build_spots(rm_analysis *a, profile_work *w)
{
    size_t *picked = malloc(sizeof *picked * w->bins);
    a->spots = malloc(sizeof *a->spots * w->bins);
    if (!picked || !a->spots) {
        free(picked);
        return RM_ERR_NOMEM;
    }
    a->spot_count = pick_peaks(w, picked);
    for (size_t k = 0; k < a->spot_count; k++)
        a->spots[k] = describe_spot(w, picked[k]);
    free(picked);
    link_marks(a, a->config.spot_merge_cm);
    return RM_OK;
}

rm_status ana_find_spots(rm_analysis *a, const rm_stroke *passes,
                         size_t pass_count, const double *mark_t_s,
                         const int *mark_rating, size_t mark_count,
                         rm_error *err)
{
    if (describe_marks(a, mark_t_s, mark_rating, mark_count) != RM_OK)
        return rm_error_set(err, RM_ERR_NOMEM, "marks: out of memory");
    double length = a->summary.rolled_length_cm;
    if (!a->has_position || !(length >= 0.0) || a->series.n == 0)
        return RM_OK;   /* no positions: no profile, no spots */
    profile_work w = {.s = &a->series, .cfg = &a->config,
                      .bin_cm = a->config.profile_bin_cm, .rolled_cm = length,
                      .tremor_frame_s = 2.0 * a->spectrogram.dt_s};
    w.bins = (size_t)floor(length / w.bin_cm) + 1;
    w.acc = calloc(w.bins, sizeof *w.acc);
    w.tenderness = malloc(sizeof *w.tenderness * w.bins);
    w.locating = malloc(sizeof *w.locating * w.bins);
    rm_status st = w.acc && w.tenderness && w.locating
                       ? build_profile(a, &w, passes, pass_count)
                       : RM_ERR_NOMEM;
    if (st == RM_OK)
        st = build_spots(a, &w);
    free(w.acc);
    free(w.steady);
    free(w.tenderness);
    free(w.locating);
    if (st != RM_OK)
        return rm_error_set(err, st, "tender spots: out of memory");
    return RM_OK;
}
