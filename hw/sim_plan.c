/*
 * The virtual roller's session planner: where the tender spots lie and the
 * script of segments the person acts out (roll from here to there, stay
 * still, rest with the leg lifted, dwell, press), with the ground truth
 * (dwells, marks) the script implies (docs/SIMULATOR.md, "The person").
 */
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- The person's habits (docs/SIMULATOR.md, "The person") ----------- */

/* Back strokes are this fraction of the forward stroke, so the worked
 * section creeps along the leg (chosen default). */
#define BACK_STROKE_RATIO 0.5
/* Each stroke's speed and duration vary by up to +/- this fraction. */
#define STROKE_VARIATION 0.2
/* No stroke is quicker than this, however short (s). */
#define MIN_STROKE_S 0.2
/* Sitting down on the roller or lifting the leg off it takes this long. */
#define LOAD_CHANGE_S 0.7
/* The leg is lifted this long before the person first sits down. */
#define FIRST_REST_S 1.0
/* Force level of a set, and of one stroke within it: +/- these fractions. */
#define SET_LEVEL_VARIATION 0.1
#define STROKE_LEVEL_VARIATION 0.07
/* Tender spots lie mostly from the middle toward the distal end; keep them
 * this far inside the rolled length, and this far apart. */
#define SPOT_EDGE_FRACTION 0.08
#define SPOT_SEPARATION_CM 4.0
/* This share of the spots lies distal of this fraction of the leg. */
#define SPOT_DISTAL_SHARE 0.8
#define SPOT_MIDDLE_FRACTION 0.35
/* Severity of a spot: uniform in this range (0 would not be a spot). */
#define SPOT_MIN_SEVERITY 0.3
#define SPOT_MAX_SEVERITY 1.0
/* Tries at a random position that keeps its distance before settling. */
#define PLACEMENT_TRIES 100
/* Other dwells, and presses where there is no spot, stay within this
 * middle part of the leg. */
#define OTHER_DWELL_LO 0.1
#define OTHER_DWELL_HI 0.9
/* A dwell elsewhere keeps this far from every tender spot. */
#define OTHER_DWELL_CLEARANCE_CM 4.0
/* Passing a tender spot, the person stops on it with this chance plus
 * this much more per unit of severity (chosen defaults). */
#define DWELL_CHANCE_BASE 0.25
#define DWELL_CHANCE_SEVERITY 0.5
/* Leaning toward a medial or lateral spot shifts the load this far (mm). */
#define LEAN_MIN_MM 12.0
#define LEAN_MAX_MM 25.0
/* Ball and probe: the press builds up over this long (s), is released over
 * this long, and the person rests and moves on for this long. */
#define PRESS_RAMP_MIN_S 5.0
#define PRESS_RAMP_MAX_S 10.0
#define PRESS_RELEASE_S 1.5
#define PRESS_MOVE_MIN_S 5.0
#define PRESS_MOVE_MAX_S 15.0
/* The mark button is pressed this long into a dwell (s). */
#define MARK_DELAY_MIN_S 2.0
#define MARK_DELAY_MAX_S 8.0

/* ------------------------------------------------------------------------ */
/* Planning: tender spots and the script                                    */
/* ------------------------------------------------------------------------ */

static bool far_from_spots(const rm_sim *sim, double position_cm,
                           double clearance_cm)
{
    for (size_t i = 0; i < sim->spot_count; i++)
        if (fabs(sim->spots[i].position_cm - position_cm) < clearance_cm)
            return false;
    return true;
}

/* Mostly from the middle toward the distal end (domain.md), a few more
 * proximal; apart from each other where the leg has room. */
void sim_place_spots(rm_sim *sim)
{
    if (sim->cfg.pinned_spot_count) {
        sim->spot_count = sim->cfg.pinned_spot_count;
        memcpy(sim->spots, sim->cfg.pinned_spots,
               sim->spot_count * sizeof sim->spots[0]);
        return;
    }
    double leg = sim->cfg.leg_length_cm;
    double lo = leg * SPOT_EDGE_FRACTION, hi = leg * (1 - SPOT_EDGE_FRACTION);
    for (unsigned i = 0; i < sim->cfg.spot_count; i++) {
        rm_sim_spot *s = &sim->spots[sim->spot_count];
        double mid_lo = fmax(lo, leg * SPOT_MIDDLE_FRACTION);
        for (int attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
            bool distal = sim_rng_uniform(&sim->plan_rng) < SPOT_DISTAL_SHARE;
            s->position_cm = distal ? sim_rng_range(&sim->plan_rng, mid_lo, hi)
                                    : sim_rng_range(&sim->plan_rng, lo, mid_lo);
            if (far_from_spots(sim, s->position_cm, SPOT_SEPARATION_CM))
                break;
        }
        bool medial = sim_rng_uniform(&sim->plan_rng) < 0.5; /* even odds */
        s->side = medial ? RM_ML_MEDIAL : RM_ML_LATERAL;
        s->severity = sim_rng_range(&sim->plan_rng, SPOT_MIN_SEVERITY,
                                    SPOT_MAX_SEVERITY);
        sim->spot_count++;
    }
}

static void *grow(void *array, size_t *cap, size_t elem)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *p = realloc(array, n * elem);
    if (p)
        *cap = n;
    return p;
}

static bool add_segment(rm_sim *sim, const sim_segment *seg)
{
    if (sim->segment_count == sim->segment_cap) {
        sim_segment *p = grow(sim->segments, &sim->segment_cap, sizeof *p);
        if (!p)
            return false;
        sim->segments = p;
    }
    sim->segments[sim->segment_count++] = *seg;
    return true;
}

static bool add_dwell(rm_sim *sim, double start, double end, double position,
                      int spot)
{
    if (start >= sim->cfg.duration_s)
        return true;
    if (sim->dwell_count == sim->dwell_cap) {
        rm_sim_dwell *p = grow(sim->dwells, &sim->dwell_cap, sizeof *p);
        if (!p)
            return false;
        sim->dwells = p;
    }
    sim->dwells[sim->dwell_count++] = (rm_sim_dwell){
        start, fmin(end, sim->cfg.duration_s), position, spot};
    return true;
}

static bool add_mark(rm_sim *sim, double t, double position, int spot)
{
    if (t >= sim->cfg.duration_s)
        return true;
    if (sim->mark_count == sim->mark_cap) {
        rm_sim_mark *p = grow(sim->marks, &sim->mark_cap, sizeof *p);
        if (!p)
            return false;
        sim->marks = p;
    }
    sim->marks[sim->mark_count++] = (rm_sim_mark){t, position, spot};
    return true;
}

/* Where the script stands while it is being written. */
typedef struct sim_planner {
    rm_sim *sim;
    double t, p;        /* time and position reached */
    double load;        /* load fraction reached */
    double level;       /* force level of the current set */
    bool ok;            /* no allocation failed */
} sim_planner;

static void plan_hold(sim_planner *pl, sim_segment_kind kind,
                      double duration, double load_to, double lean_mm)
{
    sim_segment seg = {(uint8_t)kind, pl->t, pl->t + duration, pl->p, pl->p,
                       pl->load, load_to, lean_mm};
    pl->ok = pl->ok && add_segment(pl->sim, &seg);
    pl->t += duration;
    pl->load = load_to;
}

static void plan_still(sim_planner *pl, double duration, double load_to)
{
    plan_hold(pl, SIM_SEG_STILL, duration, load_to, 0);
}

static void plan_move(sim_planner *pl, double to, double duration,
                      double load_to)
{
    sim_segment seg = {SIM_SEG_MOVE, pl->t, pl->t + duration, pl->p, to,
                       pl->load, load_to, 0};
    pl->ok = pl->ok && add_segment(pl->sim, &seg);
    pl->t += duration;
    pl->p = to;
    pl->load = load_to;
}


/* How long a stroke from a to b takes at `speed`, slowed over tender
 * ground (integrated in STROKE_STEP_CM steps). */
#define STROKE_STEP_CM 0.5
static double stroke_duration(const rm_sim *sim, double a, double b,
                              double speed)
{
    double length = fabs(b - a), duration = 0;
    int steps = (int)ceil(length / STROKE_STEP_CM);
    for (int i = 0; i < steps; i++) {
        double at = a + (b - a) * (i + 0.5) / steps;
        double slowed = 1 - sim->cfg.slowdown * sim_tenderness_at(sim, at);
        duration += length / steps / (speed * slowed);
    }
    return duration;
}

static double vary(sim_rng *r, double value, double fraction)
{
    return value * (1 + sim_rng_range(r, -fraction, fraction));
}

/* One stroke to `to` at the person's pace, slower over tender ground. */
static void plan_stroke(sim_planner *pl, double to)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    double speed = vary(&sim->plan_rng, c->stroke_speed_cm_s, STROKE_VARIATION);
    double duration = stroke_duration(sim, pl->p, to, speed);
    double load = vary(&sim->plan_rng, pl->level, STROKE_LEVEL_VARIATION);
    plan_move(pl, to, fmax(duration, MIN_STROKE_S), load);
}

static double lean_toward(sim_rng *r, const rm_sim_spot *spot)
{
    double lean = sim_rng_range(r, LEAN_MIN_MM, LEAN_MAX_MM);
    return spot->side == RM_ML_LATERAL ? -lean : lean;
}

static void plan_mark(sim_planner *pl, double start, double duration,
                      int spot)
{
    rm_sim *sim = pl->sim;
    double delay = sim_rng_range(&sim->plan_rng, MARK_DELAY_MIN_S,
                                 MARK_DELAY_MAX_S);
    if (delay < duration)
        pl->ok = pl->ok && add_mark(sim, start + delay, pl->p, spot);
}

/* Hold still at the current position: on a spot (index) or elsewhere (-1).
 * The truth's dwell reaches lead_s before and trail_s after the hold (a
 * press counts from half load to half load). */
static void plan_dwell(sim_planner *pl, int spot, double lead_s,
                       double trail_s)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    double duration = sim_rng_range(&sim->plan_rng, c->dwell_min_s,
                                    c->dwell_max_s);
    double lean = spot >= 0 ? lean_toward(&sim->plan_rng, &sim->spots[spot])
                            : 0;
    double start = pl->t;
    pl->ok = pl->ok && add_dwell(sim, start - lead_s,
                                 start + duration + trail_s, pl->p, spot);
    if (spot >= 0 && sim->spots[spot].severity >= c->mark_threshold)
        plan_mark(pl, start, duration, spot);
    plan_hold(pl, SIM_SEG_DWELL, duration, pl->load, lean);
}

/* The first spot not yet dwelt on this set between a and b, or -1. */
static int spot_between(const rm_sim *sim, double a, double b,
                        const bool *dwelt)
{
    double lo = fmin(a, b), hi = fmax(a, b);
    int best = -1;
    for (size_t i = 0; i < sim->spot_count; i++) {
        double at = sim->spots[i].position_cm;
        if (dwelt[i] || at <= lo || at > hi)
            continue;
        if (best < 0 ||
            fabs(at - a) < fabs(sim->spots[best].position_cm - a))
            best = (int)i;
    }
    return best;
}

/* Where this set dwells away from the spots, or NAN for nowhere. */
static double pick_other_dwell(rm_sim *sim)
{
    if (sim_rng_uniform(&sim->plan_rng) >= sim->cfg.other_dwell_chance)
        return NAN;
    double leg = sim->cfg.leg_length_cm;
    for (int attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
        double at = sim_rng_range(&sim->plan_rng, OTHER_DWELL_LO * leg,
                                  OTHER_DWELL_HI * leg);
        if (far_from_spots(sim, at, OTHER_DWELL_CLEARANCE_CM))
            return at;
    }
    return NAN;
}

/* A forward stroke toward `to`, stopping to dwell at a spot on the way. */
static void plan_forward(sim_planner *pl, double to, bool *dwelt,
                         double *other_at)
{
    rm_sim *sim = pl->sim;
    int spot = spot_between(sim, pl->p, to, dwelt);
    if (spot >= 0) {
        dwelt[spot] = true;
        /* The more it hurts, the surer the person stops on it. */
        double chance = DWELL_CHANCE_BASE +
                        DWELL_CHANCE_SEVERITY * sim->spots[spot].severity;
        if (sim_rng_uniform(&sim->plan_rng) < chance) {
            plan_stroke(pl, sim->spots[spot].position_cm);
            plan_dwell(pl, spot, 0, 0);
            return;
        }
    }
    if (isfinite(*other_at) && *other_at > fmin(pl->p, to) &&
        *other_at <= fmax(pl->p, to)) {
        plan_stroke(pl, *other_at);
        *other_at = NAN;
        plan_dwell(pl, -1, 0, 0);
        return;
    }
    plan_stroke(pl, to);
}

/* One set: from one end of the leg to the other in short strokes, two
 * forward and one back, dwelling on the way. */
static void plan_set(sim_planner *pl, int direction)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    double leg = c->leg_length_cm;
    double end = direction > 0 ? leg : 0;
    bool dwelt[RM_SIM_MAX_SPOTS] = {false};
    double other_at = pick_other_dwell(sim);
    pl->level = vary(&sim->plan_rng, 1.0, SET_LEVEL_VARIATION);
    plan_still(pl, LOAD_CHANGE_S, pl->level);
    double stroke_s = 60.0 / c->cadence_per_min;
    while (pl->t < c->duration_s && pl->p != end) {
        double forward = 2 * c->stroke_speed_cm_s * stroke_s /
                         (1 + BACK_STROKE_RATIO);
        forward = vary(&sim->plan_rng, forward, STROKE_VARIATION);
        double to = pl->p + direction * forward;
        to = direction > 0 ? fmin(to, leg) : fmax(to, 0);
        plan_forward(pl, to, dwelt, &other_at);
        if (pl->p == end)
            break;
        if (pl->p == to) {
            double back = pl->p - direction * forward * BACK_STROKE_RATIO;
            plan_stroke(pl, fmin(fmax(back, 0), leg));
        }
    }
    plan_still(pl, LOAD_CHANGE_S, 0);
}

/* A first long pass over the whole leg and back: every session rolls
 * 0..leg under load early on, so the analysis's position 0 (the most
 * proximal point rolled under load) is the truth's proximal end. */
static void plan_warm_up(sim_planner *pl)
{
    pl->level = vary(&pl->sim->plan_rng, 1.0, SET_LEVEL_VARIATION);
    plan_still(pl, LOAD_CHANGE_S, pl->level);
    plan_stroke(pl, pl->sim->cfg.leg_length_cm);
    plan_stroke(pl, 0);
}

static void plan_roller(sim_planner *pl)
{
    const rm_sim_config *c = &pl->sim->cfg;
    plan_still(pl, FIRST_REST_S, 0);
    plan_warm_up(pl);
    int direction = 1; /* the first set starts at 0 and reaches the far end */
    while (pl->t < c->duration_s && pl->ok) {
        plan_set(pl, direction);
        plan_still(pl, sim_rng_range(&pl->sim->plan_rng, c->rest_min_s,
                                     c->rest_max_s), 0);
        direction = -direction;
    }
}

/* One press of a ball or probe at the current position. */
static void plan_press(sim_planner *pl, int spot)
{
    rm_sim *sim = pl->sim;
    double ramp = sim_rng_range(&sim->plan_rng, PRESS_RAMP_MIN_S,
                                PRESS_RAMP_MAX_S);
    double level = vary(&sim->plan_rng, 1.0, SET_LEVEL_VARIATION);
    plan_still(pl, ramp, level);
    plan_dwell(pl, spot, ramp / 2, PRESS_RELEASE_S / 2);
    plan_still(pl, PRESS_RELEASE_S, 0);
}

/* Ball and probe: press each spot in turn (and sometimes elsewhere), lift,
 * move on; dwells in time only, there is no encoder. */
static void plan_presses(sim_planner *pl)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    plan_still(pl, FIRST_REST_S, 0);
    size_t next = 0;
    while (pl->t < c->duration_s && pl->ok) {
        int spot = -1;
        double at = pick_other_dwell(sim);
        if (!isfinite(at) && sim->spot_count) {
            spot = (int)(next++ % sim->spot_count);
            at = sim->spots[spot].position_cm;
        } else if (!isfinite(at)) {
            at = sim_rng_range(&sim->plan_rng, OTHER_DWELL_LO,
                               OTHER_DWELL_HI) * c->leg_length_cm;
        }
        plan_move(pl, at, sim_rng_range(&sim->plan_rng, PRESS_MOVE_MIN_S,
                                        PRESS_MOVE_MAX_S), 0);
        plan_press(pl, spot);
    }
}

rm_status sim_plan_script(rm_sim *sim, rm_error *err)
{
    sim_planner pl = {sim, 0, 0, 0, 0, true};
    if (sim->cfg.device_kind == RM_DEVICE_ROLLER)
        plan_roller(&pl);
    else
        plan_presses(&pl);
    if (!pl.ok)
        return rm_error_set(err, RM_ERR_NOMEM, "virtual roller: out of "
                            "memory planning %g s", sim->cfg.duration_s);
    return RM_OK;
}
