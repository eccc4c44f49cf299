/*
 * Accuracy of the analysis against the virtual roller's ground truth,
 * shared by tests/unit/test_accuracy.c (which asserts the targets) and
 * bench/bench_accuracy.c (which prints the table). Header-only: both
 * programs compile it in.
 *
 * Matching rules (docs/ANALYSIS.md, "Measured accuracy"):
 *  - a tender spot is found when a detected spot lies within 3 cm of it
 *    (one-to-one, nearest first); recall counts true spots of severity
 *    >= 0.3, precision counts detected spots that match any true spot;
 *  - a dwell is found when a detected and a true dwell overlap in time by
 *    at least half of the longer of the two (one-to-one); true dwells the
 *    session cut shorter than dwell_min_s are not expected;
 *  - a matched spot's side is right when it is the true spot's (centre is
 *    not); spots the person dwelt on are counted apart as well.
 * An acc_variant runs the same sessions with other seeds or with the
 * virtual person changed by simulator keys ("tremor=0").
 */
#ifndef ROLLMAP_ACCURACY_EVAL_H
#define ROLLMAP_ACCURACY_EVAL_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollmap_analysis.h"
#include "rollmap_hw.h"

#define ACC_MATCH_CM 3.0
#define ACC_MIN_SEVERITY 0.3
#define ACC_MIN_OVERLAP 0.5
#define ACC_MAX_MATCHES 64

/** One simulated session to evaluate. */
typedef struct acc_case {
    uint64_t seed;
    uint8_t device_kind;
    uint8_t load_cells, pressure_cells;
    uint32_t rate_hz;
    double duration_s;
    double body_mass_kg;
    double leg_length_cm;
    uint8_t spots;
    double noise_counts;
    double hum_hz;
    uint8_t side;
    const char *sim_options;    /**< rm_sim_config_parse keys on top, or NULL */
} acc_case;

/** A variant of the evaluation: another seed set, or the virtual person
 *  changed by simulator keys ("tremor=0"). */
typedef struct acc_variant {
    uint64_t seed_base, seed_step;      /**< rollers: base + k * step */
    const char *sim_options;            /**< NULL: the simulator's defaults */
} acc_variant;

#define ACC_DEFAULT_SEED_BASE 1000
#define ACC_DEFAULT_SEED_STEP 7919

typedef struct acc_result {
    size_t true_spots, found_spots;     /**< true: severity >= 0.3 */
    size_t spots_recalled, spots_correct;
    size_t sides_right;                 /**< matched spots on the right side */
    size_t sides_not_shown;             /**< matched spots called centre
                                             or unknown */
    size_t held_recalled, held_sides_right; /**< of those the person dwelt on */
    double errors_cm[ACC_MAX_MATCHES];
    size_t error_count;
    size_t true_dwells, found_dwells, dwells_matched;
    double analysis_s;                  /**< time spent in rm_analyse_samples */
} acc_result;

/** The sessions of the evaluation: seeds, body masses, leg lengths, spot
 *  counts, noise, rates, sides, hum and sensor sets all vary. */
static size_t acc_cases(acc_case *out, size_t cap, const acc_variant *v)
{
    static const double masses[] = {55, 62, 70, 78, 85, 95, 105};
    static const double legs[] = {30, 32, 34, 35, 36, 38, 40};
    static const uint32_t rates[] = {200, 500, 1000, 250};
    static const double noises[] = {1, 3, 6, 10};
    static const double hums[] = {0, 50, 60};
    size_t n = 0;
    for (uint64_t k = 0; k < 24 && n < cap; k++, n++) {
        acc_case *c = &out[n];
        c->seed = v->seed_base + k * v->seed_step;
        c->sim_options = v->sim_options;
        c->device_kind = RM_DEVICE_ROLLER;
        c->load_cells = k % 6 == 5 ? 0 : 2;  /* some strips without load cells */
        c->pressure_cells = k % 6 == 4 ? 0 : 6;
        c->rate_hz = rates[k % 4];
        c->duration_s = 360 + 60 * (double)(k % 5);
        c->body_mass_kg = masses[k % 7];
        c->leg_length_cm = legs[(k * 3) % 7];
        c->spots = (uint8_t)(k % 6);        /* some legs have none */
        c->noise_counts = noises[k % 4];
        c->hum_hz = hums[k % 3];
        c->side = k % 2 ? RM_SIDE_LEFT : RM_SIDE_RIGHT;
    }
    for (uint64_t k = 0; k < 2 && n < cap; k++, n++) {   /* balls: dwells */
        acc_case *c = &out[n];
        *c = out[k];
        c->seed = 500 + k;
        c->device_kind = RM_DEVICE_BALL;
        c->load_cells = 1;
        c->pressure_cells = 0;
    }
    return n;
}

static void acc_describe(const acc_case *c, char *out, size_t cap)
{
    snprintf(out, cap, "%-6s seed=%-5llu %4u Hz %3.0f s %3.0f kg leg %2.0f cm "
             "spots %u noise %2.0f hum %2.0f %s lc%u pc%u",
             c->device_kind == RM_DEVICE_ROLLER ? "roller" : "ball",
             (unsigned long long)c->seed, c->rate_hz, c->duration_s,
             c->body_mass_kg, c->leg_length_cm, c->spots, c->noise_counts,
             c->hum_hz, c->side == RM_SIDE_LEFT ? "L" : "R", c->load_cells,
             c->pressure_cells);
}

static rm_status acc_simulate(const acc_case *c, rm_sim **sim,
                              rm_sample **samples, size_t *n, rm_error *err)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.seed = c->seed;
    cfg.device_kind = c->device_kind;
    cfg.load_cells = c->load_cells;
    cfg.pressure_cells = c->pressure_cells;
    cfg.sample_rate_hz = c->rate_hz;
    cfg.duration_s = c->duration_s;
    cfg.body_mass_kg = c->body_mass_kg;
    cfg.leg_length_cm = c->leg_length_cm;
    cfg.spot_count = c->spots;
    cfg.noise_counts = c->noise_counts;
    cfg.hum_hz = c->hum_hz;
    cfg.side = c->side;
    rm_status st = c->sim_options
                       ? rm_sim_config_parse(&cfg, c->sim_options, err)
                       : RM_OK;
    if (st == RM_OK)
        st = rm_sim_new(sim, &cfg, err);
    if (st != RM_OK)
        return st;
    size_t cap = (size_t)(c->duration_s * c->rate_hz) + 16;
    *samples = malloc(sizeof **samples * cap);
    if (!*samples) {
        rm_sim_free(*sim);
        return rm_error_set(err, RM_ERR_NOMEM, "accuracy: out of memory");
    }
    *n = 0;
    while (*n < cap && rm_sim_next_sample(*sim, &(*samples)[*n]))
        (*n)++;
    return RM_OK;
}

static double acc_overlap(double a0, double a1, double b0, double b1)
{
    return fmax(0.0, fmin(a1, b1) - fmax(a0, b0));
}

static void acc_match_dwells(const rm_analysis *a, const rm_sim_dwell *truth,
                             size_t n_truth, acc_result *r)
{
    bool used[512] = {false};
    for (size_t t = 0; t < n_truth; t++) {
        double len = truth[t].end_s - truth[t].start_s;
        if (len < a->config.dwell_min_s)
            continue;               /* cut short by the end of the session */
        r->true_dwells++;
        for (size_t d = 0; d < a->dwell_count && d < 512; d++) {
            const rm_dwell *dw = &a->dwells[d];
            double ov = acc_overlap(truth[t].start_s, truth[t].end_s,
                                    dw->start_s, dw->end_s);
            if (!used[d] && ov >= ACC_MIN_OVERLAP * fmax(len, dw->duration_s)) {
                used[d] = true;
                r->dwells_matched++;
                break;
            }
        }
    }
    r->found_dwells = a->dwell_count;
}

static uint8_t acc_side_of(uint8_t sim_side)
{
    return sim_side == RM_ML_MEDIAL ? RM_ML_SIDE_MEDIAL : RM_ML_SIDE_LATERAL;
}

/** Whether the person dwelt on spot t at any time. */
static bool acc_held(size_t t, const rm_sim_dwell *dwells, size_t n_dwells)
{
    for (size_t d = 0; d < n_dwells; d++)
        if (dwells[d].spot == (int)t)
            return true;
    return false;
}

static void acc_score_side(const rm_spot *found, const rm_sim_spot *truth,
                           bool held, acc_result *r)
{
    bool right = found->side == acc_side_of(truth->side);
    r->sides_right += right;
    r->sides_not_shown += found->side == RM_ML_SIDE_CENTRE ||
                          found->side == RM_ML_SIDE_UNKNOWN;
    r->held_recalled += held;
    r->held_sides_right += held && right;
}

static void acc_match_spots(const rm_analysis *a, const rm_sim_spot *truth,
                            size_t n_truth, const rm_sim_dwell *dwells,
                            size_t n_dwells, acc_result *r)
{
    bool used[64] = {false};
    r->found_spots = a->spot_count;
    for (size_t t = 0; t < n_truth; t++) {
        if (truth[t].severity < ACC_MIN_SEVERITY)
            continue;
        r->true_spots++;
        size_t best = a->spot_count;
        double best_d = ACC_MATCH_CM;
        for (size_t d = 0; d < a->spot_count && d < 64; d++) {
            double dist = fabs(a->spots[d].position_cm - truth[t].position_cm);
            if (!used[d] && dist <= best_d)
                best = d, best_d = dist;
        }
        if (best == a->spot_count)
            continue;
        used[best] = true;
        r->spots_recalled++;
        acc_score_side(&a->spots[best], &truth[t],
                       acc_held(t, dwells, n_dwells), r);
        if (r->error_count < ACC_MAX_MATCHES)
            r->errors_cm[r->error_count++] = best_d;
    }
    /* Precision, one-to-one: the matches above, and detections of the
     * milder spots (which recall does not ask for). */
    r->spots_correct = r->spots_recalled;
    for (size_t d = 0; d < a->spot_count && d < 64; d++) {
        bool mild = false;
        for (size_t t = 0; t < n_truth && !used[d] && !mild; t++)
            mild = truth[t].severity < ACC_MIN_SEVERITY &&
                   fabs(a->spots[d].position_cm - truth[t].position_cm) <=
                       ACC_MATCH_CM;
        r->spots_correct += mild;
    }
}

/** Simulate, analyse and score one session. */
static rm_status acc_run(const acc_case *c, acc_result *r, rm_error *err)
{
    memset(r, 0, sizeof *r);
    rm_sim *sim = NULL;
    rm_sample *samples = NULL;
    size_t n = 0;
    rm_status st = acc_simulate(c, &sim, &samples, &n, err);
    if (st != RM_OK)
        return st;
    rm_session_meta meta = {.side = c->side};
    rm_analysis *a = NULL;
    uint64_t t0 = rm_monotonic_us();
    st = rm_analyse_samples(rm_sim_info(sim), &meta, samples, n, NULL, 0,
                            NULL, 0, NULL, &a, err);
    r->analysis_s = (double)(rm_monotonic_us() - t0) / 1e6;
    if (st == RM_OK) {
        size_t n_spots, n_dwells;
        const rm_sim_spot *spots = rm_sim_spots(sim, &n_spots);
        const rm_sim_dwell *dwells = rm_sim_dwells(sim, &n_dwells);
        acc_match_dwells(a, dwells, n_dwells, r);
        if (a->has_position)
            acc_match_spots(a, spots, n_spots, dwells, n_dwells, r);
    }
    rm_analysis_free(a);
    free(samples);
    rm_sim_free(sim);
    return st;
}

/** Totals over many sessions. */
typedef struct acc_totals {
    acc_result sum;
    double errors_cm[1024];
    size_t error_count;
} acc_totals;

static void acc_add(acc_totals *t, const acc_result *r)
{
    t->sum.true_spots += r->true_spots;
    t->sum.found_spots += r->found_spots;
    t->sum.spots_recalled += r->spots_recalled;
    t->sum.spots_correct += r->spots_correct;
    t->sum.sides_right += r->sides_right;
    t->sum.sides_not_shown += r->sides_not_shown;
    t->sum.held_recalled += r->held_recalled;
    t->sum.held_sides_right += r->held_sides_right;
    t->sum.true_dwells += r->true_dwells;
    t->sum.found_dwells += r->found_dwells;
    t->sum.dwells_matched += r->dwells_matched;
    t->sum.analysis_s += r->analysis_s;
    for (size_t k = 0; k < r->error_count && t->error_count < 1024; k++)
        t->errors_cm[t->error_count++] = r->errors_cm[k];
}

static double acc_ratio(size_t num, size_t den)
{
    return den ? (double)num / (double)den : 1.0;
}

static double acc_recall(const acc_result *r)
{
    return acc_ratio(r->spots_recalled, r->true_spots);
}

static double acc_precision(const acc_result *r)
{
    return acc_ratio(r->spots_correct, r->found_spots);
}

static double acc_dwell_f1(const acc_result *r)
{
    double p = acc_ratio(r->dwells_matched, r->found_dwells);
    double q = acc_ratio(r->dwells_matched, r->true_dwells);
    return p + q > 0.0 ? 2.0 * p * q / (p + q) : 0.0;
}

static int acc_compare(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static double acc_median_error(acc_totals *t)
{
    if (t->error_count == 0)
        return NAN;
    qsort(t->errors_cm, t->error_count, sizeof *t->errors_cm, acc_compare);
    size_t n = t->error_count;
    return n % 2 ? t->errors_cm[n / 2]
                 : 0.5 * (t->errors_cm[n / 2 - 1] + t->errors_cm[n / 2]);
}

#endif /* ROLLMAP_ACCURACY_EVAL_H */
