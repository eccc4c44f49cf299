/*
 * Comparing a client's sessions: tender spots matched across sessions,
 * their trends against the measurement's minimal detectable change, the
 * overall trends of each leg and the left/right symmetry. Works on full
 * analyses and on the partial ones the library rebuilds (no series).
 * Method and thresholds: docs/COMPARE.md.
 */
#include "rollmap_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/** Tolerance for matching a spot across sessions (cm): the position of a
 *  spot is found to within about a profile bin or two, and the same spot
 *  drifts by a couple of cm between sessions (where the person sits). */
#define DEFAULT_MATCH_CM 3.0
/** Strength change taken as real when a session's own repeatability is
 *  unknown (a spot found on fewer than two passes, or analysed before
 *  strength was kept): no MDC is published for a composite 0-10 score; 2
 *  points is the clinically important change on a 0-10 pain scale (Farrar
 *  et al. 2001), the nearest published yardstick. */
#define FALLBACK_SCORE_MDC 2.0
/** z for a 95 % two-sided interval: MDC95 = 1.96 sqrt(SE1^2 + SE2^2). */
#define Z_95 1.96
/** The passes' MDC is at least this: on the virtual roller a spot of
 *  unchanged severity moves by up to 1.4 between sessions (bench_severity,
 *  the control spot), more than the passes' scatter within a session
 *  shows, because what the person does (which passes, marks) varies from
 *  session to session too. */
#define DEFAULT_SCORE_MDC_MIN 1.5
/** Tolerated pressure change taken as real: the between-subject SD of a
 *  foam roller's contact pressure on the thigh, 6.4 kPa (Curran 2008,
 *  domain.md). The algometry MDC (28.7-50.6 kPa, Mailloux 2021) is for a
 *  1 cm2 probe pressed to the pain threshold and lies above most roller
 *  pressures (20-55 kPa), so it could never fire. */
#define DEFAULT_PRESSURE_MDC_KPA 6.4
/** A spot is looked for where the later session rolled over it this
 *  often: the detector's confidence is full at 5 passes; 3 give each kind
 *  of evidence a repeat. */
#define DEFAULT_COVER_PASSES 3.0
/** The passes are counted over the bins within this of the spot (cm): the
 *  evidence is smoothed with a sigma of 1 cm. */
#define COVER_REACH_CM 1.0
/** Sessions not judged: under 30 s under load (30 s per area is the
 *  smallest volume recommended, domain.md), rolling under 10 cm (a third
 *  of a 30 cm hamstring), or missing over 10 % of their time. */
#define DEFAULT_MIN_UNDER_LOAD_S 30.0
#define DEFAULT_MIN_ROLLED_CM 10.0
#define DEFAULT_MAX_LOST_PCT 10.0
/** Force change taken as real: the between-subject SD of pressure pain
 *  thresholds, about 15 N (Liew 2021, domain.md). */
#define DEFAULT_FORCE_MDC_N 15.0

#define US_PER_DAY 86400e6
#define DAYS_PER_WEEK 7.0

void rm_compare_options_default(rm_compare_options *opt)
{
    *opt = (rm_compare_options){
        .match_cm = DEFAULT_MATCH_CM,
        .score_mdc = NAN,
        .score_mdc_min = DEFAULT_SCORE_MDC_MIN,
        .pressure_mdc_kpa = DEFAULT_PRESSURE_MDC_KPA,
        .force_mdc_n = DEFAULT_FORCE_MDC_N,
        .cover_passes = DEFAULT_COVER_PASSES,
        .min_under_load_s = DEFAULT_MIN_UNDER_LOAD_S,
        .min_rolled_cm = DEFAULT_MIN_ROLLED_CM,
        .max_lost_pct = DEFAULT_MAX_LOST_PCT,
    };
}

const char *rm_spot_change_name(rm_spot_change change)
{
    switch (change) {
    case RM_SPOT_UNCHANGED: return "unchanged";
    case RM_SPOT_EASED: return "eased";
    case RM_SPOT_WORSE: return "worse";
    case RM_SPOT_NEW: return "new";
    case RM_SPOT_GONE: return "gone";
    case RM_SPOT_NOT_COVERED: return "not covered";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Order and compatibility                                                  */
/* ------------------------------------------------------------------------ */

static int by_start(const void *pa, const void *pb)
{
    const rm_analysis *a = *(const rm_analysis *const *)pa;
    const rm_analysis *b = *(const rm_analysis *const *)pb;
    if (a->meta.start_unix_us != b->meta.start_unix_us)
        return a->meta.start_unix_us < b->meta.start_unix_us ? -1 : 1;
    return strcmp(a->meta.session_id, b->meta.session_id);
}

static const char *muscle_of(const rm_analysis *a)
{
    return a->meta.muscle[0] ? a->meta.muscle : "hamstring";
}

/** What a and b differ in, so that they should not be compared. */
static rm_mix_kind mix_of(const rm_analysis *a, const rm_analysis *b)
{
    if (strcasecmp(muscle_of(a), muscle_of(b)) != 0)
        return RM_MIX_MUSCLES;
    if (a->meta.client[0] && b->meta.client[0] &&
        strcmp(a->meta.client, b->meta.client) != 0)
        return RM_MIX_CLIENTS;
    if (a->device.device_kind != b->device.device_kind ||
        a->has_position != b->has_position)
        return RM_MIX_DEVICES;
    return RM_MIX_NONE;
}

static void find_mix(rm_comparison *c)
{
    for (size_t i = 1; i < c->session_count; i++) {
        rm_mix_kind kind = mix_of(c->sessions[0], c->sessions[i]);
        if (kind != RM_MIX_NONE) {
            c->mix = (rm_mix){kind, 0, i};
            return;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Which sessions are judged                                                */
/* ------------------------------------------------------------------------ */

/** Whether a session is too short or too damaged to judge, and why. */
static rm_session_gate gate_of(const rm_analysis *a,
                               const rm_compare_options *o)
{
    const rm_summary *s = &a->summary;
    double lost_pct = s->duration_s > 0
        ? 100.0 * a->quality.gap_s / s->duration_s : 0.0;
    if (!(s->time_under_load_s >= o->min_under_load_s))
        return (rm_session_gate){false, RM_GATE_SHORT_UNDER_LOAD,
                                 s->time_under_load_s, o->min_under_load_s};
    if (a->has_position && !(s->rolled_length_cm >= o->min_rolled_cm))
        return (rm_session_gate){false, RM_GATE_SHORT_ROLLED,
                                 s->rolled_length_cm, o->min_rolled_cm};
    if (a->quality.blocks_skipped > 0)
        return (rm_session_gate){false, RM_GATE_DAMAGED_BLOCKS,
                                 (double)a->quality.blocks_skipped, 0};
    if (lost_pct > o->max_lost_pct)
        return (rm_session_gate){false, RM_GATE_LOST_TIME, lost_pct,
                                 o->max_lost_pct};
    return (rm_session_gate){true, RM_GATE_JUDGED, 0, 0};
}

static void gate_sessions(rm_comparison *c)
{
    for (size_t i = 0; i < c->session_count; i++)
        c->gates[i] = gate_of(c->sessions[i], &c->options);
}

/** Whether session i is of this leg and judged. */
static bool judged_on(const rm_comparison *c, size_t i, uint8_t leg)
{
    return c->gates[i].judged && c->sessions[i]->meta.side == leg;
}

/* ------------------------------------------------------------------------ */
/* Trends                                                                   */
/* ------------------------------------------------------------------------ */

/** Days since the first session. */
static double session_day(const rm_comparison *c, size_t i)
{
    return (double)(c->sessions[i]->meta.start_unix_us -
                    c->sessions[0]->meta.start_unix_us) / US_PER_DAY;
}

/** Least-squares slope of value over time, per week. */
static double slope_per_week(const double *day, const double *value,
                             size_t n, size_t count)
{
    double sum_t = 0, sum_v = 0, first = INFINITY, last = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(value[i]))
            continue;
        sum_t += day[i];
        sum_v += value[i];
        first = fmin(first, day[i]);
        last = fmax(last, day[i]);
    }
    /* Sessions on one day give no weekly rate (and a huge one from noise). */
    if (count < 2 || last - first < 1.0)
        return NAN;
    double mean_t = sum_t / (double)count, mean_v = sum_v / (double)count;
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(value[i]))
            continue;
        sxy += (day[i] - mean_t) * (value[i] - mean_v);
        sxx += (day[i] - mean_t) * (day[i] - mean_t);
    }
    return sxy / sxx * DAYS_PER_WEEK;
}

/** Trend of value[i] at day[i]; NaN values are sessions without one. */
static rm_trend trend_of(const double *day, const double *value, size_t n,
                         double mdc)
{
    rm_trend t = {.first = NAN, .last = NAN, .change = NAN,
                  .slope_per_week = NAN, .mdc = mdc};
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(value[i]))
            continue;
        if (t.n++ == 0)
            t.first = value[i];
        t.last = value[i];
    }
    if (t.n >= 2)
        t.change = t.last - t.first;
    t.slope_per_week = slope_per_week(day, value, n, t.n);
    t.within_mdc = isfinite(mdc) && isfinite(t.change) && fabs(t.change) < mdc;
    return t;
}

/* ------------------------------------------------------------------------ */
/* Tolerated force and pressure at a spot                                   */
/* ------------------------------------------------------------------------ */

static bool side_is_known(uint8_t side)
{
    return side == RM_ML_SIDE_MEDIAL || side == RM_ML_SIDE_LATERAL;
}

/** The more definite of two sides: medial or lateral, then centre, then
 *  unknown. */
static uint8_t more_definite_side(uint8_t a, uint8_t b)
{
    if (side_is_known(a) || b == RM_ML_SIDE_UNKNOWN)
        return a;
    return a == RM_ML_SIDE_UNKNOWN || side_is_known(b) ? b : a;
}

/** Whether a spot of side a may be one of side b: centre and unknown
 *  match either side. */
static bool sides_agree(uint8_t a, uint8_t b)
{
    return a == b || !side_is_known(a) || !side_is_known(b);
}

/** Duration-weighted mean force and pressure of the dwells on a spot. */
static void dwell_load_at(const rm_analysis *a, const rm_spot *s,
                          double within_cm, double *force, double *kpa)
{
    double w_force = 0, sum_force = 0, w_kpa = 0, sum_kpa = 0;
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        if (!(fabs(d->position_cm - s->position_cm) <= within_cm) ||
            !sides_agree(d->side, s->side))
            continue;
        if (isfinite(d->mean_force_n)) {
            sum_force += d->duration_s * d->mean_force_n;
            w_force += d->duration_s;
        }
        if (isfinite(d->mean_pressure_kpa)) {
            sum_kpa += d->duration_s * d->mean_pressure_kpa;
            w_kpa += d->duration_s;
        }
    }
    *force = w_force > 0 ? sum_force / w_force : NAN;
    *kpa = w_kpa > 0 ? sum_kpa / w_kpa : NAN;
}

/** The spot's visit: marks give the tolerated load (the pressure pain
 *  threshold idea); without marks, the load held in dwells on it. */
static rm_spot_visit visit_of(const rm_analysis *a, int spot, double match_cm)
{
    const rm_spot *s = &a->spots[spot];
    rm_spot_visit v = {.spot = spot, .position_cm = s->position_cm,
                       .score = s->score, .strength = s->strength,
                       .strength_se = s->strength_se,
                       .dwell_s = s->evidence.dwell_s,
                       .tolerated_force_n = s->threshold_force_n,
                       .tolerated_pressure_kpa = s->threshold_pressure_kpa};
    double force, kpa;
    dwell_load_at(a, s, match_cm, &force, &kpa);
    if (!isfinite(v.tolerated_force_n))
        v.tolerated_force_n = force;
    if (!isfinite(v.tolerated_pressure_kpa))
        v.tolerated_pressure_kpa = a->has_pressure ? kpa : NAN;
    return v;
}

static const rm_spot_visit no_visit = {
    .spot = -1, .position_cm = NAN, .score = NAN, .strength = NAN,
    .strength_se = NAN, .tolerated_force_n = NAN,
    .tolerated_pressure_kpa = NAN, .dwell_s = NAN};

/** The fewest passes over any profile bin within COVER_REACH_CM of
 *  position_cm (0 outside the rolled length or without a profile). */
static size_t passes_at(const rm_analysis *a, double position_cm)
{
    size_t fewest = 0;
    bool any = false;
    for (size_t b = 0; b < a->bin_count; b++) {
        const rm_profile_bin *bin = &a->profile[b];
        if (!(fabs(bin->position_cm - position_cm) <= COVER_REACH_CM))
            continue;
        fewest = any && fewest < bin->passes ? fewest : bin->passes;
        any = true;
    }
    return fewest;
}

/* ------------------------------------------------------------------------ */
/* Matching spots: greedy clustering along the leg                          */
/* ------------------------------------------------------------------------ */

/** One spot of one session, a candidate for a cluster. */
typedef struct spot_ref {
    size_t session;
    int spot;
    double position_cm;
} spot_ref;

static int by_position(const void *pa, const void *pb)
{
    const spot_ref *a = pa, *b = pb;
    if (a->position_cm != b->position_cm)
        return a->position_cm < b->position_cm ? -1 : 1;
    return a->session < b->session ? -1 : a->session > b->session;
}

/** The spots of one leg's sessions, sorted along the leg (spots without a
 *  position last). */
static spot_ref *collect_spots(const rm_comparison *c, uint8_t leg,
                               size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < c->session_count; i++)
        total += c->sessions[i]->spot_count;
    spot_ref *refs = malloc(sizeof *refs * (total ? total : 1));
    if (!refs)
        return NULL;
    *count = 0;
    for (size_t i = 0; i < c->session_count; i++) {
        const rm_analysis *a = c->sessions[i];
        if (a->meta.side != leg)
            continue;
        for (size_t k = 0; k < a->spot_count; k++)
            refs[(*count)++] = (spot_ref){i, (int)k,
                isfinite(a->spots[k].position_cm) ? a->spots[k].position_cm
                                                  : INFINITY};
    }
    qsort(refs, *count, sizeof *refs, by_position);
    return refs;
}

static rm_status add_matched_spot(rm_comparison *c, size_t *cap, uint8_t leg,
                                  uint8_t side)
{
    if (c->spot_count == *cap) {
        size_t bigger = *cap ? *cap * 2 : 16;
        rm_matched_spot *grown = realloc(c->spots, sizeof *grown * bigger);
        if (!grown)
            return RM_ERR_NOMEM;
        c->spots = grown;
        *cap = bigger;
    }
    rm_spot_visit *visits = malloc(sizeof *visits * c->session_count);
    if (!visits)
        return RM_ERR_NOMEM;
    for (size_t i = 0; i < c->session_count; i++)
        visits[i] = no_visit;
    c->spots[c->spot_count++] = (rm_matched_spot){
        .leg = leg, .side = side, .position_cm = NAN, .visits = visits};
    return RM_OK;
}

/** Running mean position of a cluster while it is being built. */
static double cluster_mean(const rm_matched_spot *m, size_t sessions)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < sessions; i++)
        if (m->visits[i].spot >= 0) {
            sum += m->visits[i].position_cm;
            n++;
        }
    return n ? sum / (double)n : NAN;
}

/** Could spot s of session `session` be the same spot as cluster m? Near
 *  its mean, not on the opposite side (a centre spot goes with either),
 *  and of a session the cluster does not hold yet. */
static bool may_join(const rm_comparison *c, const rm_matched_spot *m,
                     const rm_spot *s, size_t session, double *distance)
{
    *distance = fabs(s->position_cm - cluster_mean(m, c->session_count));
    return m->visits[session].spot < 0 && sides_agree(m->side, s->side) &&
           *distance <= c->options.match_cm;
}

/** The nearest cluster of this leg (from index `from`) that s may join,
 *  or -1. */
static long best_cluster(const rm_comparison *c, size_t from, const rm_spot *s,
                         size_t session)
{
    long best = -1;
    double best_distance = INFINITY, distance;
    for (size_t k = from; k < c->spot_count; k++)
        if (may_join(c, &c->spots[k], s, session, &distance) &&
            distance < best_distance) {
            best = (long)k;
            best_distance = distance;
        }
    return best;
}

/** Walk one leg's spots along the leg: each joins the nearest cluster it
 *  may join (see may_join), or opens a new one. A cluster takes the side
 *  of its first medial or lateral spot. */
static rm_status cluster_leg(rm_comparison *c, size_t *cap, uint8_t leg)
{
    size_t count, from = c->spot_count;
    spot_ref *refs = collect_spots(c, leg, &count);
    if (!refs)
        return RM_ERR_NOMEM;
    rm_status st = RM_OK;
    for (size_t r = 0; r < count && st == RM_OK; r++) {
        const rm_analysis *a = c->sessions[refs[r].session];
        const rm_spot *s = &a->spots[refs[r].spot];
        long k = isfinite(s->position_cm)
                 ? best_cluster(c, from, s, refs[r].session) : -1;
        if (k < 0) {
            st = add_matched_spot(c, cap, leg, s->side);
            k = (long)c->spot_count - 1;
        }
        if (st != RM_OK)
            break;
        rm_matched_spot *m = &c->spots[k];
        m->side = more_definite_side(m->side, s->side);
        m->visits[refs[r].session] = visit_of(a, refs[r].spot,
                                              c->options.match_cm);
        m->present++;
    }
    free(refs);
    return st;
}

static double median_position(const rm_comparison *c, const rm_matched_spot *m)
{
    double pos[c->session_count];
    size_t n = 0;
    for (size_t i = 0; i < c->session_count; i++)
        if (m->visits[i].spot >= 0 && isfinite(m->visits[i].position_cm))
            pos[n++] = m->visits[i].position_cm;
    return rm_median_inplace(pos, n);
}

static int by_leg_and_position(const void *pa, const void *pb)
{
    const rm_matched_spot *a = pa, *b = pb;
    if (a->leg != b->leg)
        return a->leg < b->leg ? -1 : 1;
    double pa_cm = isfinite(a->position_cm) ? a->position_cm : INFINITY;
    double pb_cm = isfinite(b->position_cm) ? b->position_cm : INFINITY;
    if (pa_cm != pb_cm)
        return pa_cm < pb_cm ? -1 : 1;
    return (a->side > b->side) - (a->side < b->side);
}

/* ------------------------------------------------------------------------ */
/* What became of each spot                                                 */
/* ------------------------------------------------------------------------ */

/** First and last judged session of a leg; false when it has none. */
static bool leg_span(const rm_comparison *c, uint8_t leg, size_t *first,
                     size_t *last)
{
    bool found = false;
    for (size_t i = 0; i < c->session_count; i++)
        if (judged_on(c, i, leg)) {
            if (!found)
                *first = i;
            *last = i;
            found = true;
        }
    return found;
}

/** Passes of every session over the matched spot's position. */
static void count_passes(const rm_comparison *c, rm_matched_spot *m)
{
    for (size_t i = 0; i < c->session_count; i++)
        m->visits[i].passes = isfinite(m->position_cm)
            ? passes_at(c->sessions[i], m->position_cm) : 0;
}

/** The strength MDC between two visits: the clinic's when set, else from
 *  the two sessions' pass-to-pass standard errors (MDC95), else the
 *  fallback. *from_passes says which. */
static double strength_mdc(const rm_compare_options *o,
                           const rm_spot_visit *a, const rm_spot_visit *b,
                           bool *from_passes)
{
    *from_passes = false;
    if (isfinite(o->score_mdc))
        return o->score_mdc;
    if (!isfinite(a->strength_se) || !isfinite(b->strength_se))
        return FALLBACK_SCORE_MDC;
    *from_passes = true;
    return fmax(Z_95 * hypot(a->strength_se, b->strength_se),
                o->score_mdc_min);
}

static void spot_trends(const rm_comparison *c, rm_matched_spot *m)
{
    size_t n = c->session_count;
    double day[n], score[n], strength[n], force[n], kpa[n], dwell[n];
    for (size_t i = 0; i < n; i++) {
        const rm_spot_visit *v = &m->visits[i];
        bool judged = c->gates[i].judged;
        day[i] = session_day(c, i);
        score[i] = judged ? v->score : NAN;
        strength[i] = judged ? v->strength : NAN;
        force[i] = judged ? v->tolerated_force_n : NAN;
        kpa[i] = judged ? v->tolerated_pressure_kpa : NAN;
        dwell[i] = judged ? v->dwell_s : NAN;
    }
    const rm_compare_options *o = &c->options;
    m->score = trend_of(day, score, n, m->strength_mdc);
    m->strength = trend_of(day, strength, n, m->strength_mdc);
    m->tolerated_force_n = trend_of(day, force, n, o->force_mdc_n);
    m->tolerated_pressure_kpa = trend_of(day, kpa, n, o->pressure_mdc_kpa);
    m->dwell_s = trend_of(day, dwell, n, NAN);
}

/** Eased, worse or unchanged for a spot present first and last: a change
 *  counts only from the MDC on; the strength and the tolerated pressure
 *  must not point opposite ways. */
static void classify_present(const rm_comparison *c, rm_matched_spot *m,
                             const rm_spot_visit *first,
                             const rm_spot_visit *last, bool from_passes)
{
    const rm_compare_options *o = &c->options;
    double d_strength = last->strength - first->strength;
    if (!isfinite(d_strength)) /* analysed before strength was kept */
        d_strength = last->score - first->score;
    double d_kpa = last->tolerated_pressure_kpa - first->tolerated_pressure_kpa;
    double mdc = m->strength_mdc;
    bool strength_real = fabs(d_strength) >= mdc;
    bool kpa_real = isfinite(d_kpa) && fabs(d_kpa) >= o->pressure_mdc_kpa;
    bool eased = (strength_real && d_strength < 0) || (kpa_real && d_kpa > 0);
    bool worse = (strength_real && d_strength > 0) || (kpa_real && d_kpa < 0);
    m->basis = RM_BASIS_MEASURED;
    m->strength_change = d_strength;
    m->pressure_change_kpa = d_kpa;
    m->mdc_from_passes = from_passes;
    m->disagree = eased && worse;
    if (eased != worse)
        m->change = eased ? RM_SPOT_EASED : RM_SPOT_WORSE;
    else
        m->change = RM_SPOT_UNCHANGED;
    m->within_mdc = !eased && !worse;
}

/** "Not covered" when session i did not roll over the spot enough to
 *  find it (basis: whether it is the first or the last). */
static bool not_covered(const rm_comparison *c, rm_matched_spot *m, size_t i,
                        rm_spot_basis basis)
{
    if ((double)m->visits[i].passes >= c->options.cover_passes)
        return false;
    m->change = RM_SPOT_NOT_COVERED;
    m->basis = basis;
    m->uncovered_passes = m->visits[i].passes;
    return true;
}

static void classify(const rm_comparison *c, rm_matched_spot *m)
{
    size_t first = 0, last = 0;
    bool any = leg_span(c, m->leg, &first, &last);
    const rm_spot_visit *vf = &m->visits[first], *vl = &m->visits[last];
    bool from_passes = false;
    m->strength_mdc = any ? strength_mdc(&c->options, vf, vl, &from_passes)
                          : NAN;
    m->strength_change = m->pressure_change_kpa = NAN;
    if (!any || first == last) {
        m->change = RM_SPOT_UNCHANGED;
        m->basis = any ? RM_BASIS_ONE_SESSION : RM_BASIS_NO_SESSION;
    } else if (vf->spot >= 0 && vl->spot >= 0) {
        classify_present(c, m, vf, vl, from_passes);
    } else if (vl->spot >= 0) {
        if (!not_covered(c, m, first, RM_BASIS_FIRST_UNCOVERED)) {
            m->change = RM_SPOT_NEW;
            m->basis = RM_BASIS_NOT_IN_FIRST;
        }
    } else if (!not_covered(c, m, last, RM_BASIS_LAST_UNCOVERED)) {
        m->change = RM_SPOT_GONE;
        m->basis = vf->spot >= 0 ? RM_BASIS_NOT_IN_LAST : RM_BASIS_ONLY_BETWEEN;
    }
}

static rm_status match_spots(rm_comparison *c)
{
    static const uint8_t legs[] = {RM_SIDE_UNKNOWN, RM_SIDE_LEFT, RM_SIDE_RIGHT};
    size_t cap = 0;
    for (size_t l = 0; l < sizeof legs; l++) {
        rm_status st = cluster_leg(c, &cap, legs[l]);
        if (st != RM_OK)
            return st;
    }
    for (size_t k = 0; k < c->spot_count; k++)
        c->spots[k].position_cm = median_position(c, &c->spots[k]);
    if (c->spot_count > 1)
        qsort(c->spots, c->spot_count, sizeof *c->spots, by_leg_and_position);
    for (size_t k = 0; k < c->spot_count; k++) {
        count_passes(c, &c->spots[k]);
        classify(c, &c->spots[k]);
        spot_trends(c, &c->spots[k]);
    }
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Overall trends per leg                                                   */
/* ------------------------------------------------------------------------ */

static double spot_score_total(const rm_analysis *a)
{
    double total = 0;
    for (size_t i = 0; i < a->spot_count; i++)
        total += a->spots[i].score;
    return total;
}

/** One overall metric of a session; NaN where it is not measured. */
typedef double (*session_metric)(const rm_analysis *a);

static double metric_time_under_load(const rm_analysis *a)
{
    return a->summary.time_under_load_s;
}
static double metric_mean_force(const rm_analysis *a)
{
    return a->summary.mean_force_n;
}
static double metric_peak_force(const rm_analysis *a)
{
    return a->summary.peak_force_n;
}
static double metric_spot_count(const rm_analysis *a)
{
    return (double)a->spot_count;
}
static double metric_cadence(const rm_analysis *a)
{
    return a->has_position ? a->summary.cadence_per_min : NAN;
}

static rm_trend leg_trend(const rm_comparison *c, uint8_t leg,
                          session_metric metric, double mdc)
{
    size_t n = c->session_count;
    if (n == 0) /* never: rm_compare refuses fewer than two sessions */
        return trend_of(NULL, NULL, 0, mdc);
    double day[n], value[n];
    for (size_t i = 0; i < n; i++) {
        day[i] = session_day(c, i);
        value[i] = judged_on(c, i, leg) ? metric(c->sessions[i]) : NAN;
    }
    return trend_of(day, value, n, mdc);
}

static void leg_trends(rm_comparison *c)
{
    for (uint8_t leg = RM_SIDE_UNKNOWN; leg <= RM_SIDE_RIGHT; leg++) {
        rm_leg_trends *t = &c->legs[leg];
        for (size_t i = 0; i < c->session_count; i++)
            t->sessions += c->sessions[i]->meta.side == leg;
        double force_mdc = c->options.force_mdc_n;
        t->time_under_load_s = leg_trend(c, leg, metric_time_under_load, NAN);
        t->mean_force_n = leg_trend(c, leg, metric_mean_force, force_mdc);
        t->peak_force_n = leg_trend(c, leg, metric_peak_force, force_mdc);
        t->spot_count = leg_trend(c, leg, metric_spot_count, NAN);
        t->spot_score_total = leg_trend(c, leg, spot_score_total, NAN);
        t->cadence_per_min = leg_trend(c, leg, metric_cadence, NAN);
    }
}

/* ------------------------------------------------------------------------ */
/* Left vs right                                                            */
/* ------------------------------------------------------------------------ */

/** Mean tenderness over the profile bins that were under load. */
static double mean_tenderness(const rm_analysis *a)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < a->bin_count; i++)
        if (a->profile[i].time_s > 0 && isfinite(a->profile[i].tenderness)) {
            sum += a->profile[i].tenderness;
            n++;
        }
    return n ? sum / (double)n : NAN;
}

static double symmetry_index(double left, double right)
{
    double mean = (left + right) / 2;
    if (!isfinite(mean) || mean == 0)
        return NAN;
    return (right - left) / mean * 100.0;
}

static const struct {
    const char *name;
    session_metric metric;
} symmetry_metrics[RM_SYMMETRY_METRICS] = {
    {"mean_force_n", metric_mean_force},
    {"peak_force_n", metric_peak_force},
    {"time_under_load_s", metric_time_under_load},
    {"spot_score_total", spot_score_total},
    {"mean_tenderness", mean_tenderness},
};

static void symmetry(rm_comparison *c)
{
    rm_symmetry *s = &c->symmetry;
    size_t first;
    bool left = leg_span(c, RM_SIDE_LEFT, &first, &s->left);
    bool right = leg_span(c, RM_SIDE_RIGHT, &first, &s->right);
    s->available = left && right;
    for (size_t m = 0; m < RM_SYMMETRY_METRICS; m++) {
        rm_symmetry_metric *out = &s->metrics[m];
        out->name = symmetry_metrics[m].name;
        out->left = left ? symmetry_metrics[m].metric(c->sessions[s->left]) : NAN;
        out->right = right ? symmetry_metrics[m].metric(c->sessions[s->right])
                           : NAN;
        out->si_pct = symmetry_index(out->left, out->right);
    }
}

/* ------------------------------------------------------------------------ */

static bool valid_options(const rm_compare_options *o)
{
    return o->match_cm > 0 && !(o->score_mdc < 0) && o->score_mdc_min >= 0 &&
           o->pressure_mdc_kpa >= 0 && o->force_mdc_n >= 0 &&
           o->cover_passes >= 0 && o->min_under_load_s >= 0 &&
           o->min_rolled_cm >= 0 && o->max_lost_pct >= 0;
}

rm_status rm_compare(const rm_analysis *const *sessions, size_t n,
                     const rm_compare_options *opt, rm_comparison **out,
                     rm_error *err)
{
    *out = NULL;
    if (n < 2)
        return rm_error_set(err, RM_ERR_ARG, "compare: %zu session%s given; "
                            "at least two are needed", n, n == 1 ? "" : "s");
    rm_comparison *c = calloc(1, sizeof *c);
    if (!c || !(c->sessions = malloc(sizeof *c->sessions * n)) ||
        !(c->gates = calloc(n, sizeof *c->gates))) {
        rm_comparison_free(c);
        return rm_error_set(err, RM_ERR_NOMEM, "compare: out of memory");
    }
    if (opt)
        c->options = *opt;
    else
        rm_compare_options_default(&c->options);
    if (!valid_options(&c->options)) {
        rm_comparison_free(c);
        return rm_error_set(err, RM_ERR_ARG, "compare: match_cm must be > 0 "
                            "and the MDC thresholds, passes and session "
                            "limits >= 0");
    }
    c->session_count = n;
    memcpy(c->sessions, sessions, sizeof *c->sessions * n);
    qsort(c->sessions, n, sizeof *c->sessions, by_start);
    gate_sessions(c);
    find_mix(c);
    rm_status st = match_spots(c);
    if (st != RM_OK) {
        rm_comparison_free(c);
        return rm_error_set(err, st, "compare: out of memory matching spots");
    }
    leg_trends(c);
    symmetry(c);
    *out = c;
    return RM_OK;
}

void rm_comparison_free(rm_comparison *c)
{
    if (!c)
        return;
    for (size_t k = 0; k < c->spot_count; k++)
        free(c->spots[k].visits);
    free(c->spots);
    free(c->sessions);
    free(c->gates);
    free(c);
}
