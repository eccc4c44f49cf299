/* Dwells: held contact under load for at least dwell_min_s, every field of
 * rm_dwell, encoder orientation, and dwells in time for devices without
 * an encoder. Sessions are scripts of moves and holds turned into samples
 * of a two-load-cell roller; the held windows also against their
 * definition on a random series. */
#include "testutil.h"
#include "analysis_internal.h"

#include <math.h>

#define RATE 200
#define WIDTH_MM 330.0
#define GAIN 0.01               /* N per count */
#define CPT 4096
#define DIAMETER_MM 150.0

/* One step of the script: go to `to_cm` (or stay) over `seconds` with the
 * given force; lean_mm shifts the load toward the roller's left end. */
typedef struct step {
    double seconds, to_cm, force_n, lean_mm;
    double wobble;              /* relative 1 Hz force fluctuation */
    double tremor_n;            /* 9 Hz amplitude */
    bool mark;                  /* press the button in the middle */
} step;

typedef struct script_run {
    rm_device_info info;
    rm_sample *s;
    size_t n, cap;
    double at_cm;
    int8_t encoder_sign;
} script_run;

static void init_roller(script_run *r, rm_device_kind kind, int8_t distal)
{
    memset(r, 0, sizeof *r);
    r->info.device_kind = kind;
    r->info.sample_rate_hz = RATE;
    r->info.channel_count = 2;
    r->info.roller_width_mm = (float)WIDTH_MM;
    if (kind == RM_DEVICE_ROLLER) {
        r->info.encoder_counts_per_turn = CPT;
        r->info.roller_diameter_mm = (float)DIAMETER_MM;
    }
    r->info.distal_direction = distal;
    r->encoder_sign = distal;
    for (int k = 0; k < 2; k++) {
        r->info.channels[k].kind = RM_CHANNEL_LOAD_CELL;
        r->info.channels[k].position_mm = k ? (float)WIDTH_MM : 0.0f;
        r->info.channels[k].gain_n_per_count = (float)GAIN;
    }
    rm_device_info_default_calibration(&r->info);
}

static void add_sample(script_run *r, double force, double lean_mm,
                       uint16_t flags)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4096;
        r->s = realloc(r->s, sizeof *r->s * r->cap);
    }
    rm_sample *s = &r->s[r->n];
    memset(s, 0, sizeof *s);
    s->t_us = (uint64_t)r->n * (1000000 / RATE);
    s->flags = flags;
    /* Contact centre from the left end; each end cap carries the lever
     * share of the other side. */
    double centre = WIDTH_MM / 2.0 - lean_mm;
    s->counts[0] = (int32_t)lround(force * (WIDTH_MM - centre) / WIDTH_MM / GAIN);
    s->counts[1] = (int32_t)lround(force * centre / WIDTH_MM / GAIN);
    double turns = r->at_cm * 10.0 / (M_PI * DIAMETER_MM);
    s->encoder = 777 + r->encoder_sign * (int32_t)lround(turns * CPT);
    r->n++;
}

static void run_step(script_run *r, const step *st)
{
    size_t count = (size_t)lround(st->seconds * RATE);
    double from = r->at_cm;
    for (size_t i = 0; i < count; i++) {
        double t = (double)i / RATE;
        r->at_cm = from + (st->to_cm - from) * (double)(i + 1) / (double)count;
        double f = st->force_n * (1.0 + st->wobble * sin(2.0 * M_PI * t)) +
                   st->tremor_n * sin(2.0 * M_PI * 9.0 * t);
        bool mark = st->mark && i == count / 2;
        add_sample(r, f, st->lean_mm, mark ? RM_SAMPLE_MARK : 0);
    }
}

static rm_analysis *analyse_run(script_run *r, uint8_t side)
{
    rm_session_meta meta = {.side = side};
    rm_analysis *a = NULL;
    rm_error err;
    if (rm_analyse_samples(&r->info, &meta, r->s, r->n, NULL, 0, NULL, 0,
                           NULL, &a, &err) != RM_OK)
        fail_msg("analysis failed: %s", err.message);
    return a;
}

static rm_analysis *run_script(script_run *r, const step *steps, size_t n,
                               uint8_t side)
{
    for (size_t k = 0; k < n; k++)
        run_step(r, &steps[k]);
    return analyse_run(r, side);
}

/* Rolls 0..30 cm at 2.5 cm/s, holds at 12 cm (25 s, leaning medially on
 * a right leg, wobbling, trembling, a mark), 22 cm (15 s) and 6 cm (6 s,
 * too short). */
static const step roll_and_hold[] = {
    {3, 0, 0, 0, 0, 0, false},
    {12, 30, 300, 0, 0, 0, false},
    {7.2, 12, 300, 0, 0, 0, false},
    {25, 12, 300, 20, 0.1, 3, true},
    {4, 22, 300, 0, 0, 0, false},
    {15, 22, 300, 0, 0, 0, false},
    {6.4, 6, 300, 0, 0, 0, false},
    {6, 6, 300, 0, 0, 0, false},
    {9.6, 30, 300, 0, 0, 0, false},
    {12, 0, 300, 0, 0, 0, false},
    {3, 0, 0, 0, 0, 0, false},
};
#define ROLL_AND_HOLD_STEPS (sizeof roll_and_hold / sizeof roll_and_hold[0])

static void finds_holds_longer_than_the_minimum(void **state)
{
    (void)state;
    script_run r;
    init_roller(&r, RM_DEVICE_ROLLER, 1);
    rm_analysis *a = run_script(&r, roll_and_hold, ROLL_AND_HOLD_STEPS,
                                RM_SIDE_RIGHT);
    assert_true(a->has_position);
    assert_true(fabs(a->summary.rolled_length_cm - 30.0) < 0.3);
    assert_int_equal(a->dwell_count, 2);
    const rm_dwell *d = a->dwells;
    assert_true(fabs(d[0].position_cm - 12.0) < 0.3);
    assert_true(fabs(d[0].start_s - 22.2) < 1.5);
    assert_true(fabs(d[0].duration_s - 25.0) < 2.5);
    assert_true(fabs(d[1].position_cm - 22.0) < 0.3);
    assert_true(fabs(d[1].duration_s - 15.0) < 2.5);
    assert_true(fabs(d[1].position_pct - 100.0 * 22.0 / 30.0) < 1.5);
    rm_analysis_free(a);
    free(r.s);
}

static void fills_every_dwell_field(void **state)
{
    (void)state;
    script_run r;
    init_roller(&r, RM_DEVICE_ROLLER, 1);
    rm_analysis *a = run_script(&r, roll_and_hold, ROLL_AND_HOLD_STEPS,
                                RM_SIDE_RIGHT);
    assert_true(a->dwell_count >= 1);
    const rm_dwell *d = &a->dwells[0];
    assert_true(fabs(d->mean_force_n - 300.0) < 6.0);
    assert_true(d->peak_force_n > 325.0 && d->peak_force_n < 340.0);
    /* 10 % at 1 Hz: coefficient of variation 0.1 / sqrt(2). */
    assert_true(fabs(d->force_stability - 0.1 / sqrt(2.0)) < 0.015);
    /* 3 N at 9 Hz carries 4.5 N^2. */
    assert_true(d->tremor_power > 3.0 && d->tremor_power < 6.0);
    assert_int_equal(d->marks, 1);
    /* Right leg, load toward the left end: medial. */
    assert_int_equal(d->side, RM_ML_SIDE_MEDIAL);
    assert_true(d->ml < -0.4);
    assert_true(isnan(d->mean_pressure_kpa) && isnan(d->pressure_time_kpa_s));
    assert_true(a->dwells[1].tremor_power < 0.5);
    assert_int_equal(a->dwells[1].side, RM_ML_SIDE_CENTRE);
    assert_int_equal(a->dwells[1].marks, 0);
    rm_analysis_free(a);
    free(r.s);
}

static void encoder_orientation_does_not_move_dwells(void **state)
{
    (void)state;
    script_run r;
    init_roller(&r, RM_DEVICE_ROLLER, -1);
    rm_analysis *a = run_script(&r, roll_and_hold, ROLL_AND_HOLD_STEPS,
                                RM_SIDE_LEFT);
    assert_int_equal(a->dwell_count, 2);
    assert_true(fabs(a->dwells[0].position_cm - 12.0) < 0.3);
    assert_true(fabs(a->dwells[1].position_cm - 22.0) < 0.3);
    /* The same lean on a left leg is lateral. */
    assert_int_equal(a->dwells[0].side, RM_ML_SIDE_LATERAL);
    rm_analysis_free(a);
    free(r.s);
}

static void encoder_glitches_do_not_move_the_zero(void **state)
{
    (void)state;
    script_run r;
    init_roller(&r, RM_DEVICE_ROLLER, 1);
    for (size_t k = 0; k < ROLL_AND_HOLD_STEPS; k++)
        run_step(&r, &roll_and_hold[k]);
    /* 50 ms under load where the encoder jumps 10 cm back, twice. */
    for (size_t i = 6000; i < 6010; i++)
        r.s[i].encoder -= 870;
    for (size_t i = 9000; i < 9010; i++)
        r.s[i].encoder += 870;
    rm_analysis *a = analyse_run(&r, RM_SIDE_RIGHT);
    assert_true(fabs(a->summary.rolled_length_cm - 30.0) < 0.3);
    assert_true(fabs(a->dwells[0].position_cm - 12.0) < 0.3);
    rm_analysis_free(a);
    free(r.s);
}

static void slow_rolling_is_not_a_dwell(void **state)
{
    (void)state;
    static const step slow[] = {
        {2, 0, 0, 0, 0, 0, false},
        {30, 15, 250, 0, 0, 0, false},     /* 0.5 cm/s */
        {2, 15, 0, 0, 0, 0, false},
    };
    script_run r;
    init_roller(&r, RM_DEVICE_ROLLER, 1);
    rm_analysis *a = run_script(&r, slow, 3, RM_SIDE_RIGHT);
    assert_int_equal(a->dwell_count, 0);
    rm_analysis_free(a);
    free(r.s);
}

static void devices_without_encoder_dwell_in_time(void **state)
{
    (void)state;
    static const step presses[] = {
        {3, 0, 0, 0, 0, 0, false},
        {15, 0, 120, 0, 0, 0, true},
        {3, 0, 0, 0, 0, 0, false},
        {5, 0, 120, 0, 0, 0, false},       /* too short */
        {3, 0, 0, 0, 0, 0, false},
    };
    script_run r;
    init_roller(&r, RM_DEVICE_BALL, 1);
    rm_analysis *a = run_script(&r, presses, 5, RM_SIDE_RIGHT);
    assert_false(a->has_position);
    assert_int_equal(a->dwell_count, 1);
    assert_true(fabs(a->dwells[0].duration_s - 15.0) < 0.5);
    assert_true(isnan(a->dwells[0].position_cm));
    assert_true(isnan(a->dwells[0].position_pct));
    assert_int_equal(a->dwells[0].marks, 1);
    assert_true(isnan(a->summary.rolled_length_cm));
    assert_int_equal(a->bin_count, 0);
    assert_int_equal(a->spot_count, 0);
    assert_int_equal(a->mark_count, 1);
    assert_true(isnan(a->marks[0].position_cm));
    assert_true(fabs(a->marks[0].force_n - 120.0) < 3.0);
    rm_analysis_free(a);
    free(r.s);
}

/* The definition of the held windows: from each start the longest run
 * of loaded samples whose positions spread at most 2 radius; one lasting
 * min_len is trimmed at both ends to the samples within half the radius
 * of its median position and is a dwell if that still lasts min_len. The
 * next start is after the sample that ended it. Returns the count. */
static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t held_by_definition(const rm_series *s, size_t min_len,
                                 double radius, double *start_s,
                                 double *end_s)
{
    const double *x = s->position_cm;
    double *v = malloc(sizeof *v * s->n);
    size_t count = 0, i = 0;
    while (i < s->n) {
        size_t j = i;
        double hi = -INFINITY, lo = INFINITY;
        while (j < s->n && s->loaded[j] && fmax(hi, x[j]) -
                                               fmin(lo, x[j]) <= 2 * radius) {
            hi = fmax(hi, x[j]), lo = fmin(lo, x[j]);
            j++;
        }
        if (j - i < min_len) {
            i++;
            continue;
        }
        memcpy(v, x + i, sizeof *v * (j - i));
        qsort(v, j - i, sizeof *v, by_value);
        size_t m = j - i;
        double held = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
        size_t a = i, z = j;
        while (a < z && fabs(x[a] - held) > 0.5 * radius)
            a++;
        while (z > a && fabs(x[z - 1] - held) > 0.5 * radius)
            z--;
        if (z - a >= min_len) {
            start_s[count] = s->t_s[a];
            end_s[count++] = s->t_s[z - 1] + 1.0 / s->rate_hz;
        }
        i = j + 1;
    }
    free(v);
    return count;
}

/** Rolls back and forth, holds with a little jitter, slow drifts and
 *  lifts of the leg, positions in 0.01 cm steps (so some repeat). */
static void random_session(rm_series *s, unsigned seed)
{
    srand(seed);
    double at = 10.0;
    size_t i = 0;
    while (i < s->n) {
        int kind = rand() % 4;
        size_t len = 200 + (size_t)(rand() % 2500);
        double amplitude = 1.0 + rand() % 80 / 10.0, period = 100 + rand() % 500;
        double drift = (rand() % 9 - 4) / 800.0;
        for (size_t k = 0; k < len && i < s->n; k++, i++) {
            double p = kind == 0 ? at + amplitude * sin(2 * M_PI * k / period)
                     : kind == 1 ? at + (rand() % 21 - 10) / 100.0
                     : at + drift * (double)k;
            s->position_cm[i] = round(p * 100.0) / 100.0;
            s->loaded[i] = kind != 3 || k > 150;
            s->t_s[i] = (double)i / s->rate_hz;
            s->force_n[i] = 200.0 + rand() % 50;
            s->pressure_kpa[i] = NAN;
            s->ml[i] = s->tremor[i] = 0.0;
        }
        at = s->position_cm[i - 1];
    }
}

static void held_windows_follow_their_definition(void **state)
{
    (void)state;
    enum { N = 60000 };
    static double t[N], force[N], kpa[N], position[N], ml[N], tremor[N];
    static double start_s[N], end_s[N];
    static uint8_t loaded[N];
    rm_series s = {.n = N, .rate_hz = RATE, .t_s = t, .force_n = force,
                   .pressure_kpa = kpa, .position_cm = position, .ml = ml,
                   .tremor = tremor, .loaded = loaded};
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    static const double min_s[] = {10.0, 3.0, 0.5, 20.0};
    static const double radius_cm[] = {1.5, 0.5, 1.5, 3.0};
    size_t found = 0;
    for (unsigned seed = 1; seed <= 6; seed++) {
        random_session(&s, seed);
        cfg.dwell_min_s = min_s[seed % 4];
        cfg.dwell_radius_cm = radius_cm[seed % 4];
        size_t min_len = (size_t)ceil(cfg.dwell_min_s * RATE);
        size_t expected = held_by_definition(&s, min_len, cfg.dwell_radius_cm,
                                             start_s, end_s);
        rm_dwell *d;
        size_t count;
        rm_error err;
        assert_int_equal(ana_find_dwells(&s, true, 30.0, &cfg, NULL, 0, &d,
                                         &count, &err), RM_OK);
        assert_int_equal(count, expected);
        for (size_t k = 0; k < count; k++) {
            assert_true(d[k].start_s == start_s[k]);
            assert_true(d[k].end_s == end_s[k]);
        }
        found += count;
        free(d);
    }
    assert_true(found > 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_holds_longer_than_the_minimum),
        cmocka_unit_test(fills_every_dwell_field),
        cmocka_unit_test(encoder_orientation_does_not_move_dwells),
        cmocka_unit_test(encoder_glitches_do_not_move_the_zero),
        cmocka_unit_test(slow_rolling_is_not_a_dwell),
        cmocka_unit_test(held_windows_follow_their_definition),
        cmocka_unit_test(devices_without_encoder_dwell_in_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
