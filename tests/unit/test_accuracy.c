/*
 * Measured accuracy on the virtual roller: tender spots (recall and
 * precision >= 0.9 for severity >= 0.3, matched within 3 cm; median
 * position error <= 2 cm) and dwells (F1 >= 0.95 at >= 50 % time overlap)
 * over simulated sessions that differ in seed, body mass, leg length, spot
 * count, noise, rate, side, hum and sensors. bench/bench_accuracy prints
 * the per-session table behind these totals.
 */
#include "testutil.h"

#include "accuracy_eval.h"

static acc_totals totals;
static size_t sessions;

static int run_sessions(void **state)
{
    (void)state;
    acc_case cases[32];
    acc_variant defaults = {ACC_DEFAULT_SEED_BASE, ACC_DEFAULT_SEED_STEP, NULL};
    sessions = acc_cases(cases, 32, &defaults);
    for (size_t k = 0; k < sessions; k++) {
        acc_result r;
        rm_error err;
        if (acc_run(&cases[k], &r, &err) != RM_OK) {
            char name[128];
            acc_describe(&cases[k], name, sizeof name);
            print_error("%s: %s\n", name, err.message);
            return -1;
        }
        acc_add(&totals, &r);
    }
    rm_spectra_cleanup();
    return 0;
}

static void evaluates_at_least_twenty_sessions(void **state)
{
    (void)state;
    assert_true(sessions >= 20);
    assert_true(totals.sum.true_spots >= 40);
    assert_true(totals.sum.true_dwells >= 40);
}

static void finds_nine_in_ten_tender_spots(void **state)
{
    (void)state;
    print_message("spot recall %.3f (%zu/%zu)\n", acc_recall(&totals.sum),
                  totals.sum.spots_recalled, totals.sum.true_spots);
    assert_true(acc_recall(&totals.sum) >= 0.9);
}

static void nine_in_ten_reported_spots_are_real(void **state)
{
    (void)state;
    print_message("spot precision %.3f (%zu/%zu)\n",
                  acc_precision(&totals.sum), totals.sum.spots_correct,
                  totals.sum.found_spots);
    assert_true(acc_precision(&totals.sum) >= 0.9);
}

static void locates_spots_within_two_centimetres(void **state)
{
    (void)state;
    double median = acc_median_error(&totals);
    print_message("median position error %.2f cm\n", median);
    assert_true(median <= 2.0);
}

static void detects_dwells_with_f1_of_at_least_0_95(void **state)
{
    (void)state;
    print_message("dwell F1 %.3f (%zu matched, %zu true, %zu found)\n",
                  acc_dwell_f1(&totals.sum), totals.sum.dwells_matched,
                  totals.sum.true_dwells, totals.sum.found_dwells);
    assert_true(acc_dwell_f1(&totals.sum) >= 0.95);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(evaluates_at_least_twenty_sessions),
        cmocka_unit_test(finds_nine_in_ten_tender_spots),
        cmocka_unit_test(nine_in_ten_reported_spots_are_real),
        cmocka_unit_test(locates_spots_within_two_centimetres),
        cmocka_unit_test(detects_dwells_with_f1_of_at_least_0_95),
    };
    return cmocka_run_group_tests(tests, run_sessions, NULL);
}
