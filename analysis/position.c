/*
 * Position of the contact point along the leg (from the encoder), medial /
 * lateral from the centre of pressure across the roller, speed, strokes and
 * cadence. Conventions: docs/ANALYSIS.md and docs/SIMULATOR.md.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The ends of the rolled length are the outermost positions with at least
 * END_SUPPORT_S of loaded time within END_REACH_CM inward of them: a turn
 * at 2.5 cm/s spends 0.8 s there, an encoder glitch or a slip does not. */
#define END_SUPPORT_S 0.3
#define END_REACH_CM 1.0
/* Speed is the slope over +/- this window. */
#define SPEED_HALF_WINDOW_S 0.1
/* Rolling, as opposed to holding still: faster than this. */
#define ROLLING_CM_S 0.5
/* A centre-of-pressure shift of this much counts as fully medial or
 * lateral (ml = -1 / +1): about a quarter of a thigh's width in contact. */
#define ML_FULL_SCALE_MM 30.0
/* Turning points of passes need the position to come back this far (well
 * above the few millimetres a held roller rocks). */
#define STROKE_HYSTERESIS_CM 1.5
/* A pass that stays within STALL_CM of its furthest point for STALL_S has
 * stopped (a hold); held rollers rock by a few millimetres. */
#define STALL_S 1.5
#define STALL_CM 0.3
/* A pass shorter than this is rocking, not a stroke. */
#define STROKE_MIN_CM 2.5

double ana_mm_per_count(const rm_device_info *info)
{
    if (info->encoder_counts_per_turn == 0 || !(info->roller_diameter_mm > 0))
        return 0.0;
    /* Rolling without slip moves the contact by r * theta = pi * d per
     * turn. */
    return M_PI * info->roller_diameter_mm / info->encoder_counts_per_turn;
}

/** The proximal and distal ends of the positions rolled under load (NaN
 *  when nothing was loaded); v: room for s->n values. */
static void robust_ends(const rm_series *s, double *v, double *zero,
                        double *far)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->loaded[i] && isfinite(s->position_cm[i]))
            v[m++] = s->position_cm[i];
    rm_supported_ends(v, m, END_REACH_CM,
                      (size_t)ceil(END_SUPPORT_S * s->rate_hz), zero, far);
}

/** ml[i] = the clamped lateral offset of cop[i] from the centre line, NaN
 *  where cop[i] is not finite; ml may be cop. */
static void cop_to_ml(const double *cop, size_t n, double centre, double sign,
                      double *ml)
{
    size_t i = 0;
    ana_pair lo = {-1.0, -1.0}, hi = {1.0, 1.0}, none = {NAN, NAN};
    for (; i + 2 <= n; i += 2) {
        ana_pair c = ana_pair_load(cop + i);
        ana_pair x = sign * (c - centre) / ML_FULL_SCALE_MM;
        x = ana_where(x < lo, lo, ana_where(x > hi, hi, x));    /* rm_clamp */
        x = ana_where(c - c == 0.0, x, none);               /* isfinite(c) */
        ana_pair_store(ml + i, x);
    }
    for (; i < n; i++)
        ml[i] = isfinite(cop[i]) ? rm_clamp(sign * (cop[i] - centre) /
                                             ML_FULL_SCALE_MM, -1.0, 1.0)
                                 : NAN;
}

/** Channels of this kind at two or more places across the roller. */
static bool spread_across(const rm_device_info *info, rm_channel_kind kind)
{
    bool seen = false;
    float first = 0.0f;
    for (unsigned k = 0; k < info->channel_count; k++) {
        if (info->channels[k].kind != kind)
            continue;
        if (seen && info->channels[k].position_mm != first)
            return true;
        seen = true;
        first = info->channels[k].position_mm;
    }
    return false;
}

bool ana_cop_kind(const rm_device_info *info, rm_channel_kind *kind)
{
    *kind = spread_across(info, RM_CHANNEL_PRESSURE_CELL)
                ? RM_CHANNEL_PRESSURE_CELL
                : RM_CHANNEL_LOAD_CELL;
    return spread_across(info, *kind);
}

/** +1 when a higher position_mm is lateral. Looking toward the feet, the
 *  right leg's lateral side is to the right (higher position_mm); the left
 *  leg's is to the left. An unknown side is taken as a right leg. */
static double lateral_sign(const rm_session_meta *meta)
{
    return meta && meta->side == RM_SIDE_LEFT ? -1.0 : 1.0;
}

/** The leg's own centre line across the roller: the median centre of
 *  pressure while rolling (people lean toward a spot while holding it, so
 *  held stretches would pull the median). v: room for s->n values. */
static double leg_centre(const rm_series *s, const double *cop, double *v)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (isfinite(cop[i]) && fabs(s->speed_cm_s[i]) >= ROLLING_CM_S)
            v[m++] = cop[i];
    return m ? rm_median_select(v, m) : rm_quantile(cop, s->n, 0.5);
}

/** ml from the centre of pressure that ana_combine_channels left in it,
 *  once the leg's centre line is known; 0 where loaded without channels
 *  for a centre of pressure. */
static void fill_ml(const rm_device_info *info, const rm_session_meta *meta,
                    rm_series *s, double *scratch)
{
    rm_channel_kind kind;
    if (!ana_cop_kind(info, &kind)) {
        for (size_t i = 0; i < s->n; i++)
            s->ml[i] = s->loaded[i] ? 0.0 : NAN;
        return;
    }
    const double *cop = s->ml;
    double centre = leg_centre(s, cop, scratch);
    cop_to_ml(cop, s->n, centre, lateral_sign(meta), s->ml);
}

/** The slope over samples i - k .. i + k, cut short at the ends. */
static double speed_at(const rm_series *s, size_t i, size_t k)
{
    if (!isfinite(s->position_cm[i]))
        return NAN;
    size_t a = i >= k ? i - k : 0, b = i + k < s->n ? i + k : s->n - 1;
    return b > a ? (s->position_cm[b] - s->position_cm[a]) * s->rate_hz /
                       (double)(b - a)
                 : 0.0;
}

static void fill_speed(rm_series *s)
{
    size_t k = (size_t)lround(SPEED_HALF_WINDOW_S * s->rate_hz);
    if (k == 0)
        k = 1;
    const double *p = s->position_cm;
    size_t i = 0;
    for (; i < k && i < s->n; i++)
        s->speed_cm_s[i] = speed_at(s, i, k);
    ana_pair none = {NAN, NAN};
    for (; i + 1 + k < s->n; i += 2) {    /* whole windows, two at once */
        ana_pair x = ana_pair_load(p + i);
        ana_pair v = (ana_pair_load(p + i + k) - ana_pair_load(p + i - k)) *
                     s->rate_hz / (double)(2 * k);
        ana_pair_store(s->speed_cm_s + i, ana_where(x - x == 0.0, v, none));
    }
    for (; i < s->n; i++)
        s->speed_cm_s[i] = speed_at(s, i, k);
}

/** Encoder counts to cm in place (NaN for all without an encoder). */
static void counts_to_cm(double *x, size_t n, double mm, double direction)
{
    size_t i = 0;
    if (mm > 0.0)
        for (; i + 2 <= n; i += 2)
            ana_pair_store(x + i, direction * ana_pair_load(x + i) * mm / 10.0);
    for (; i < n; i++)
        x[i] = mm > 0.0 ? direction * x[i] * mm / 10.0 : NAN;
}

double ana_position_fill(const rm_device_info *info,
                         const rm_session_meta *meta, rm_series *s,
                         double *scratch)
{
    double mm = ana_mm_per_count(info);
    counts_to_cm(s->position_cm, s->n, mm,
                 info->distal_direction < 0 ? -1.0 : 1.0);
    double zero, far;
    robust_ends(s, scratch, &zero, &far);
    if (!isfinite(zero) && mm > 0.0)   /* never loaded: zero at the start */
        zero = far = s->n ? s->position_cm[0] : 0.0;
    for (size_t i = 0; i < s->n; i++)
        s->position_cm[i] -= zero;
    fill_speed(s);
    fill_ml(info, meta, s, scratch);
    return mm > 0.0 ? far - zero : NAN;
}

/* ------------------------------------------------------------------------ */
/* Strokes                                                                  */
/* ------------------------------------------------------------------------ */

/** Turning points with hysteresis: where the direction reverses, and
 *  where a pass stops for STALL_S (a hold ends one pass; the next starts
 *  when the roller leaves the held point). */
static size_t turning_points(const double *p, size_t n, double rate_hz,
                             size_t *out)
{
    size_t count = 0, lowest = 0, highest = 0, extreme = 0;
    size_t stall = (size_t)(STALL_S * rate_hz);
    double low = p[0], high = p[0];
    int direction = 0;           /* +1 rising, -1 falling, 0 not yet known */
    for (size_t i = 1; i < n; i++) {
        if (direction == 0) {
            /* the last time near the lowest / highest point so far */
            low = rm_fmin_libm(low, p[i]);   /* fmin, fmax inline */
            high = rm_fmax_libm(high, p[i]);
            lowest = p[i] <= low + STALL_CM ? i : lowest;
            highest = p[i] >= high - STALL_CM ? i : highest;
            if (p[i] - p[lowest] >= STROKE_HYSTERESIS_CM)
                direction = 1, out[count++] = lowest, extreme = i;
            else if (p[highest] - p[i] >= STROKE_HYSTERESIS_CM)
                direction = -1, out[count++] = highest, extreme = i;
        } else if ((p[i] - p[extreme]) * direction > STALL_CM) {
            extreme = i;         /* still going the same way */
        } else if ((p[extreme] - p[i]) * direction >= STROKE_HYSTERESIS_CM) {
            out[count++] = extreme;
            direction = -direction;
            extreme = i;
        } else if (i - extreme >= stall) {
            out[count++] = extreme;
            direction = 0;
            lowest = highest = i;
            low = high = p[i];
        }
    }
    if (direction != 0)
        out[count++] = extreme;
    return count;
}

static rm_stroke make_stroke(const rm_series *s, size_t a, size_t b,
                             size_t *loaded)
{
    rm_stroke st = {.start_s = s->t_s[a], .end_s = s->t_s[b],
                    .from_cm = s->position_cm[a], .to_cm = s->position_cm[b]};
    double force = 0.0;
    *loaded = 0;
    for (size_t i = a; i <= b; i++) {
        force += s->force_n[i];
        *loaded += s->loaded[i];
    }
    st.mean_force_n = force / (double)(b - a + 1);
    st.mean_speed_cm_s = st.end_s > st.start_s
        ? (st.to_cm - st.from_cm) / (st.end_s - st.start_s) : 0.0;
    return st;
}

rm_status ana_find_passes(const rm_series *s, rm_stroke **out,
                          size_t *count, rm_error *err)
{
    *out = NULL;
    *count = 0;
    if (s->n < 2 || !isfinite(s->position_cm[0]))
        return RM_OK;
    size_t *tp = malloc(sizeof *tp * (s->n + 1));
    rm_stroke *passes = malloc(sizeof *passes * (s->n / 2 + 1));
    if (!tp || !passes) {
        free(tp);
        free(passes);
        return rm_error_set(err, RM_ERR_NOMEM, "passes: out of memory");
    }
    size_t points = turning_points(s->position_cm, s->n, s->rate_hz, tp);
    size_t found = 0;
    for (size_t k = 0; k + 1 < points; k++) {
        size_t a = tp[k], b = tp[k + 1], loaded;
        if (fabs(s->position_cm[b] - s->position_cm[a]) < STROKE_MIN_CM)
            continue;    /* rocking */
        rm_stroke pass = make_stroke(s, a, b, &loaded);
        if (2 * loaded >= b - a + 1)   /* mostly under load */
            passes[found++] = pass;
    }
    free(tp);
    *out = passes;
    *count = found;
    return RM_OK;
}

rm_status ana_distal_strokes(const rm_stroke *passes, size_t count,
                             rm_stroke **out, size_t *out_count,
                             rm_error *err)
{
    *out = malloc(sizeof **out * (count + 1));
    *out_count = 0;
    if (!*out)
        return rm_error_set(err, RM_ERR_NOMEM, "strokes: out of memory");
    for (size_t k = 0; k < count; k++)
        if (passes[k].to_cm > passes[k].from_cm)
            (*out)[(*out_count)++] = passes[k];
    return RM_OK;
}

double ana_cadence_per_min(const rm_stroke *passes, size_t count)
{
    if (count < 2)
        return 0.0;
    double *intervals = malloc(sizeof *intervals * (count - 1));
    if (!intervals)
        return 0.0;
    for (size_t i = 0; i + 1 < count; i++)
        intervals[i] = passes[i + 1].start_s - passes[i].start_s;
    double median = rm_median_inplace(intervals, count - 1);
    free(intervals);
    return median > 0.0 ? 60.0 / median : 0.0;
}
