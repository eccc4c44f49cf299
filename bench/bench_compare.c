/*
 * bench_compare: a 10-session comparison of one client, from partial
 * analyses like those the session library rebuilds (summary, dwells,
 * spots, marks and profile bins; no series), including writing every
 * output (JSON, text, HTML, the four graphs as PNG plus the SVGs the page
 * embeds). Prints the time of each stage; the target for the whole is
 * under 2 s (docs/PERFORMANCE.md). The folder is left in /tmp to look at.
 *
 *   bench_compare [SESSIONS]
 */
#include "rollmap_daemon.h"
#include "rollmap_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SESSIONS 10
/** Rolled hamstring length (cm) and the profile's bins of 1 cm. */
#define LEG_CM 35
/** Tender spots per session and dwells per session. */
#define SPOTS 4
#define DWELLS 6
/** How often rm_compare alone is repeated for a stable per-call time. */
#define COMPARE_REPEATS 200
#define DAY_US ((int64_t)86400 * 1000000)

static double seconds_since(uint64_t start_us)
{
    return (double)(rm_monotonic_us() - start_us) / 1e6;
}

/** A deterministic pseudo-random number in [0, 1). */
static double unit_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0;
}

static void fill_spots(rm_analysis *a, size_t session, uint64_t *rng)
{
    static const double spot_cm[SPOTS] = {12, 19, 26, 31};
    for (size_t k = 0; k < SPOTS; k++) {
        /* Spots drift by up to +/-1 cm and ease by 0.4 points a session. */
        double cm = spot_cm[k] + 2 * unit_random(rng) - 1;
        a->spots[k] = (rm_spot){.position_cm = cm, .position_pct = cm / LEG_CM * 100,
            .ml = k % 2 ? 0.5 : -0.5,
            .side = k % 2 ? RM_ML_SIDE_LATERAL : RM_ML_SIDE_MEDIAL,
            .score = fmax(3, 8 - 0.4 * (double)session - k + unit_random(rng)),
            .confidence = 0.8, .evidence = {.dwell_s = 30, .mark_rating = -1},
            .threshold_force_n = NAN, .threshold_pressure_kpa = NAN};
    }
    for (size_t d = 0; d < DWELLS; d++)
        a->dwells[d] = (rm_dwell){.start_s = 60.0 * (double)d,
            .end_s = 60.0 * (double)d + 30, .duration_s = 30,
            .position_cm = a->spots[d % SPOTS].position_cm,
            .side = a->spots[d % SPOTS].side, .mean_force_n = 180,
            .peak_force_n = 260, .mean_pressure_kpa = 35 + (double)session,
            .peak_pressure_kpa = 60};
}

static void fill_profile(rm_analysis *a, uint64_t *rng)
{
    for (size_t b = 0; b < LEG_CM; b++)
        a->profile[b] = (rm_profile_bin){.position_cm = (double)b + 0.5,
            .time_s = 10, .mean_force_n = 200 - 2.0 * (double)b,
            .peak_force_n = 320, .mean_pressure_kpa = 34,
            .tenderness = 10 * unit_random(rng)};
}

static rm_analysis *partial_analysis(size_t session, uint64_t *rng)
{
    rm_analysis *a = calloc(1, sizeof *a);
    if (!a || !(a->spots = calloc(SPOTS, sizeof *a->spots)) ||
        !(a->dwells = calloc(DWELLS, sizeof *a->dwells)) ||
        !(a->profile = calloc(LEG_CM, sizeof *a->profile))) {
        rm_analysis_free(a);
        return NULL;
    }
    a->spot_count = SPOTS;
    a->dwell_count = DWELLS;
    a->bin_count = LEG_CM;
    snprintf(a->meta.session_id, sizeof a->meta.session_id, "BENCH-%02zu", session);
    strcpy(a->meta.client, "BENCH");
    strcpy(a->meta.muscle, "hamstring");
    /* Alternate legs so the symmetry graph is drawn too. */
    a->meta.side = session % 2 ? RM_SIDE_LEFT : RM_SIDE_RIGHT;
    a->meta.start_unix_us = rm_wallclock_us() + (int64_t)session * 3 * DAY_US;
    a->device.device_kind = RM_DEVICE_ROLLER;
    a->has_position = a->has_pressure = true;
    rm_analysis_config_default(&a->config);
    a->summary = (rm_summary){.duration_s = 600, .time_under_load_s = 420,
        .mean_force_n = 200, .peak_force_n = 420, .cadence_per_min = 30};
    fill_spots(a, session, rng);
    fill_profile(a, rng);
    return a;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : DEFAULT_SESSIONS;
    if (n < 2) {
        fprintf(stderr, "usage: bench_compare [SESSIONS >= 2]\n");
        return 2;
    }
    rm_analysis **a = calloc(n, sizeof *a);
    uint64_t rng = 1;
    for (size_t i = 0; a && i < n; i++)
        if (!(a[i] = partial_analysis(i, &rng)))
            return fprintf(stderr, "bench_compare: out of memory\n"), 1;
    rm_error err = {0};
    rm_comparison *c = NULL;
    uint64_t t0 = rm_monotonic_us();
    for (int r = 0; r < COMPARE_REPEATS; r++) {
        rm_comparison_free(c);
        if (rm_compare((const rm_analysis *const *)a, n, NULL, &c, &err) != RM_OK)
            return fprintf(stderr, "bench_compare: %s\n", err.message), 1;
    }
    double compare_s = seconds_since(t0) / COMPARE_REPEATS;
    char dir[] = "/tmp/bench_compare_XXXXXX";
    if (!mkdtemp(dir))
        return perror("bench_compare: mkdtemp"), 1;
    rm_graphs_result res;
    t0 = rm_monotonic_us();
    if (rm_compare_write_dir(c, dir, RM_GRAPH_PNG, &res, &err) != RM_OK)
        return fprintf(stderr, "bench_compare: %s\n", err.message), 1;
    double write_s = seconds_since(t0);
    printf("sessions              %zu (partial analyses, %d spots each)\n", n, SPOTS);
    printf("matched spots         %zu\n", c->spot_count);
    printf("rm_compare            %.3f ms per call (mean of %d)\n",
           compare_s * 1e3, COMPARE_REPEATS);
    printf("all outputs           %.3f s (JSON, text, HTML, %zu graphs as PNG "
           "and SVG%s)\n", write_s, res.rendered,
           res.gnuplot_found ? "" : "; gnuplot not found");
    printf("total                 %.3f s (target < 2 s)\n", compare_s + write_s);
    printf("folder                %s\n", dir);
    rm_comparison_free(c);
    for (size_t i = 0; i < n; i++)
        rm_analysis_free(a[i]);
    free(a);
    return 0;
}
