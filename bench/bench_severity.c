/*
 * bench_severity: where does compare first say "eased"? One virtual client
 * whose tender spot at 14 cm medial falls in severity by 0.1 a week (0.9,
 * 0.8, ... 0.0) while a second spot at 26 cm lateral stays at 0.6 (a
 * control: it must stay unchanged). Each later session is compared with
 * the first; the table gives the spot's strength and score, the MDC the
 * verdict used, the verdict, and what the rule before strength (score
 * change of 2 points) would have said. Prints one table per seed and the
 * severity step at which each seed first says eased (docs/COMPARE.md).
 *
 *   bench_severity [SEEDS] [KEY=VALUE,...]    (default 5 seeds)
 */
#include "rollmap_daemon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SEEDS 5
/** Severity of the first session, and the fall per weekly session. */
#define FIRST_SEVERITY 0.9
#define STEPS 10
#define STEP 0.1
/** The eased spot, the control spot (cm from proximal). */
#define EASING_CM 14.0
#define CONTROL_CM 26.0
#define SESSION_S 300.0
#define RATE_HZ 200
#define WEEK_US ((int64_t)7 * 86400 * 1000000)
/** The score change the comparison used before strength (2 points). */
#define OLD_SCORE_MDC 2.0

/** How the control spot came out, over every comparison. */
typedef struct control_tally {
    int comparisons, worse, eased, other;
} control_tally;

typedef struct session {
    rm_analysis *a;
    double severity;
} session;

static rm_status simulate(uint64_t seed, double severity, const char *extra,
                          int week, rm_analysis **out, rm_error *err)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.seed = seed;
    cfg.duration_s = SESSION_S;
    cfg.sample_rate_hz = RATE_HZ;
    char keys[256];
    snprintf(keys, sizeof keys, "spot_at=%.0f:medial:%.2f/%.0f:lateral:0.6%s%s",
             EASING_CM, severity, CONTROL_CM, extra ? "," : "",
             extra ? extra : "");
    rm_sim *sim = NULL;
    rm_status st = rm_sim_config_parse(&cfg, keys, err);
    if (st == RM_OK)
        st = rm_sim_new(&sim, &cfg, err);
    if (st != RM_OK)
        return st;
    size_t cap = (size_t)(SESSION_S * RATE_HZ) + 16, n = 0;
    rm_sample *samples = malloc(sizeof *samples * cap);
    if (!samples) {
        rm_sim_free(sim);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    while (n < cap && rm_sim_next_sample(sim, &samples[n]))
        n++;
    rm_session_meta meta = {.side = RM_SIDE_RIGHT,
                            .start_unix_us = week * WEEK_US};
    snprintf(meta.session_id, sizeof meta.session_id, "week-%d", week);
    strcpy(meta.client, "C-BENCH");
    st = rm_analyse_samples(rm_sim_info(sim), &meta, samples, n, NULL, 0,
                            NULL, 0, NULL, out, err);
    free(samples);
    rm_sim_free(sim);
    return st;
}

/** The matched spot within 3 cm of cm, or NULL. */
static const rm_matched_spot *spot_near(const rm_comparison *c, double cm)
{
    for (size_t k = 0; k < c->spot_count; k++)
        if (fabs(c->spots[k].position_cm - cm) <= 3.0)
            return &c->spots[k];
    return NULL;
}

static const char *old_rule(const rm_matched_spot *m)
{
    if (!m || !isfinite(m->score.change))
        return "-";
    return m->score.change <= -OLD_SCORE_MDC ? "eased" : "unchanged";
}

/** Compare the first session with session k; print its row. Returns
 *  whether the easing spot came out eased. */
static void tally_control(control_tally *t, const rm_matched_spot *ctl)
{
    t->comparisons++;
    if (!ctl)
        t->other++;
    else if (ctl->change == RM_SPOT_WORSE)
        t->worse++;
    else if (ctl->change == RM_SPOT_EASED)
        t->eased++;
    else if (ctl->change != RM_SPOT_UNCHANGED)
        t->other++;
}

static int control_wrong(const control_tally *t)
{
    return t->worse + t->eased + t->other;
}

static bool compare_row(const session *s, size_t k, control_tally *control)
{
    const rm_analysis *pair[2] = {s[0].a, s[k].a};
    rm_comparison *c = NULL;
    rm_error err = {0};
    if (rm_compare(pair, 2, NULL, &c, &err) != RM_OK) {
        fprintf(stderr, "bench_severity: %s\n", err.message);
        return false;
    }
    const rm_matched_spot *m = spot_near(c, EASING_CM);
    const rm_matched_spot *ctl = spot_near(c, CONTROL_CM);
    bool eased = m && m->change == RM_SPOT_EASED;
    tally_control(control, ctl);
    printf("%4.1f -> %3.1f  %5.1f -> %-5.1f %4.1f -> %-4.1f %5.1f  %-11s "
           "%-10s %-10s %5.1f -> %-5.1f %4.1f\n", s[0].severity,
           s[k].severity, m ? m->strength.first : NAN,
           m ? m->strength.last : NAN, m ? m->score.first : NAN,
           m ? m->score.last : NAN, m ? m->strength_mdc : NAN,
           m ? rm_spot_change_name(m->change) : "-", old_rule(m),
           ctl ? rm_spot_change_name(ctl->change) : "not found",
           ctl ? ctl->strength.first : NAN, ctl ? ctl->strength.last : NAN,
           ctl ? ctl->strength_mdc : NAN);
    rm_comparison_free(c);
    return eased;
}

static int run_seed(uint64_t seed, const char *extra, control_tally *all)
{
    session s[STEPS];
    rm_error err = {0};
    for (int k = 0; k < STEPS; k++) {
        s[k].severity = fmax(FIRST_SEVERITY - STEP * k, 0.0);
        if (simulate(seed, s[k].severity, extra, k, &s[k].a, &err) != RM_OK) {
            fprintf(stderr, "bench_severity: seed %llu: %s\n",
                    (unsigned long long)seed, err.message);
            for (int i = 0; i < k; i++)
                rm_analysis_free(s[i].a);
            return -1;
        }
    }
    printf("\nseed %llu\nseverity     strength      score        MDC    "
           "verdict     old rule   control (0.6): strength      MDC\n",
           (unsigned long long)seed);
    int first_eased = -1;
    control_tally control = {0};
    for (size_t k = 1; k < STEPS; k++)
        if (compare_row(s, k, &control) && first_eased < 0)
            first_eased = (int)k;
    if (control_wrong(&control))
        printf("control spot not unchanged in %d comparison%s\n",
               control_wrong(&control), control_wrong(&control) == 1 ? "" : "s");
    all->comparisons += control.comparisons;
    all->worse += control.worse;
    all->eased += control.eased;
    all->other += control.other;
    for (int k = 0; k < STEPS; k++)
        rm_analysis_free(s[k].a);
    return first_eased;
}

int main(int argc, char **argv)
{
    int seeds = argc > 1 ? atoi(argv[1]) : DEFAULT_SEEDS;
    const char *extra = argc > 2 ? argv[2] : NULL;
    if (seeds < 1) {
        fputs("usage: bench_severity [SEEDS] [KEY=VALUE,...]\n", stderr);
        return 2;
    }
    int first[64];
    control_tally control = {0};
    seeds = seeds > 64 ? 64 : seeds;
    for (int i = 0; i < seeds; i++)
        first[i] = run_seed(1000 + 7919 * (uint64_t)i, extra, &control);
    printf("\nfirst eased at (severity 0.9 ->):");
    for (int i = 0; i < seeds; i++) {
        if (first[i] > 0)
            printf(" %.1f", FIRST_SEVERITY - STEP * first[i]);
        else
            printf(" never");
    }
    putchar('\n');
    printf("control (severity 0.6 throughout): worse in %d, eased in %d, "
           "missing or other in %d of %d comparisons\n", control.worse,
           control.eased, control.other, control.comparisons);
    rm_spectra_cleanup();
    return 0;
}
