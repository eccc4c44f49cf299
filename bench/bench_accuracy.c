/*
 * Accuracy of tender-spot and dwell detection on the virtual roller: one
 * row per simulated session and the totals (docs/ANALYSIS.md, "Measured
 * accuracy"). tests/unit/test_accuracy.c asserts the same figures.
 *
 *   build/bench/bench_accuracy                        the evaluation
 *   build/bench/bench_accuracy tremor=0               the person changed
 *   build/bench/bench_accuracy --seeds 3000+104729    another seed set
 */
#include "../tests/unit/accuracy_eval.h"

#include <inttypes.h>
#include <stdio.h>

static void print_row(const char *name, const acc_result *r)
{
    printf("%-78s %2zu/%-2zu %2zu/%-2zu %4.2f %2zu/%-2zu %2zu/%-2zu %4.2f %5.2f\n",
           name, r->spots_recalled, r->true_spots, r->spots_correct,
           r->found_spots, acc_ratio(r->sides_right, r->spots_recalled),
           r->dwells_matched, r->true_dwells, r->dwells_matched,
           r->found_dwells, acc_dwell_f1(r), r->analysis_s);
}

static void print_sides(const acc_result *t)
{
    size_t opposite = t->spots_recalled - t->sides_right - t->sides_not_shown;
    size_t not_held = t->spots_recalled - t->held_recalled;
    printf("side right     %.3f (%zu of %zu matched spots; %zu centre or "
           "unknown, %zu opposite)\n",
           acc_ratio(t->sides_right, t->spots_recalled), t->sides_right,
           t->spots_recalled, t->sides_not_shown, opposite);
    printf("  dwelt on     %.3f (%zu of %zu)\n",
           acc_ratio(t->held_sides_right, t->held_recalled),
           t->held_sides_right, t->held_recalled);
    printf("  not dwelt on %.3f (%zu of %zu)\n",
           acc_ratio(t->sides_right - t->held_sides_right, not_held),
           t->sides_right - t->held_sides_right, not_held);
}

static void print_totals(size_t sessions, acc_totals *totals)
{
    const acc_result *t = &totals->sum;
    printf("\nsessions %zu\n", sessions);
    printf("spot recall    %.3f (%zu of %zu true spots, severity >= %.1f)\n",
           acc_recall(t), t->spots_recalled, t->true_spots, ACC_MIN_SEVERITY);
    printf("spot precision %.3f (%zu of %zu detected spots)\n",
           acc_precision(t), t->spots_correct, t->found_spots);
    printf("median position error %.2f cm (%zu matched spots)\n",
           acc_median_error(totals), totals->error_count);
    print_sides(t);
    printf("dwell F1 %.3f (%zu matched, %zu true, %zu detected)\n",
           acc_dwell_f1(t), t->dwells_matched, t->true_dwells,
           t->found_dwells);
    printf("analysis time %.2f s in total\n", t->analysis_s);
}

static bool parse_args(int argc, char **argv, acc_variant *v)
{
    *v = (acc_variant){ACC_DEFAULT_SEED_BASE, ACC_DEFAULT_SEED_STEP, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%" SCNu64 "+%" SCNu64, &v->seed_base,
                       &v->seed_step) != 2)
                return false;
        } else if (argv[i][0] != '-' && !v->sim_options) {
            v->sim_options = argv[i];
        } else {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    acc_variant variant;
    if (!parse_args(argc, argv, &variant)) {
        fprintf(stderr, "usage: bench_accuracy [--seeds BASE+STEP] "
                        "[SIM_KEY=VALUE,...]\n");
        return 2;
    }
    acc_case cases[32];
    size_t n = acc_cases(cases, 32, &variant);
    acc_totals totals = {0};
    printf("%-78s %5s %5s %4s %5s %5s %4s %5s\n", "session", "recal",
           "prec", "side", "dw-r", "dw-p", "F1", "s");
    for (size_t k = 0; k < n; k++) {
        char name[128];
        acc_result r;
        rm_error err;
        acc_describe(&cases[k], name, sizeof name);
        if (acc_run(&cases[k], &r, &err) != RM_OK) {
            fprintf(stderr, "bench_accuracy: %s: %s\n", name, err.message);
            return 1;
        }
        print_row(name, &r);
        acc_add(&totals, &r);
    }
    print_totals(n, &totals);
    rm_spectra_cleanup();
    return 0;
}
