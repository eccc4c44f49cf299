/* Live state: force and pressure from counts, position along the leg from
 * the encoder, the streaming dwell detector, speed and the pace flag. */
#include "testutil.h"

#include <math.h>

#define GAIN 0.01            /* N per count, every channel */
#define COUNTS_PER_TURN 4096
#define DIAMETER_MM 150.0
/* roll distance of one encoder count: pi * D / counts, in cm */
#define CM_PER_COUNT (M_PI * DIAMETER_MM / 10.0 / COUNTS_PER_TURN)

/* Two load cells and four 1 cm^2 pressure cells across a 40 cm roller. */
static void roller(rm_device_info *info, int8_t distal_direction)
{
    memset(info, 0, sizeof *info);
    info->sample_rate_hz = 1000;
    info->channel_count = 6;
    for (int i = 0; i < 6; i++) {
        rm_channel_info *ch = &info->channels[i];
        ch->kind = i < 2 ? RM_CHANNEL_LOAD_CELL : RM_CHANNEL_PRESSURE_CELL;
        ch->gain_n_per_count = (float)GAIN;
        ch->position_mm = i < 2 ? (i == 0 ? 0.0f : 400.0f) : 50.0f + 100.0f * (i - 2);
        ch->area_mm2 = i < 2 ? 0 : 100;
    }
    info->encoder_counts_per_turn = COUNTS_PER_TURN;
    info->roller_diameter_mm = (float)DIAMETER_MM;
    info->roller_width_mm = 400;
    info->distal_direction = distal_direction;
    rm_device_info_default_calibration(info);
}

static int32_t counts_for(double newtons)
{
    return (int32_t)lround(newtons / GAIN);
}

static int32_t encoder_at_cm(double cm)
{
    return (int32_t)lround(cm / CM_PER_COUNT);
}

/* A sample with force split over the load cells and the strip loaded as
 * given (newtons per pressure cell). */
static rm_sample sample(double t_s, double force_n, double position_cm,
                        const double strip_n[4])
{
    rm_sample s = {.t_us = (uint64_t)llround(t_s * 1e6)};
    s.encoder = encoder_at_cm(position_cm);
    s.counts[0] = s.counts[1] = counts_for(force_n / 2);
    for (int i = 0; i < 4; i++)
        s.counts[2 + i] = counts_for(strip_n ? strip_n[i] : force_n / 8);
    return s;
}

typedef struct run {
    rm_live *live;
    rm_live_values v;
    rm_live_event events[16];
    size_t event_count;
} run;

static void run_open(run *r, int8_t distal_direction)
{
    memset(r, 0, sizeof *r);
    rm_live_config cfg;
    rm_live_config_default(&cfg);
    assert_int_equal(rm_live_new(&r->live, &cfg, NULL), RM_OK);
    rm_device_info info;
    roller(&info, distal_direction);
    rm_live_set_device(r->live, &info);
}

static void feed(run *r, const rm_sample *s)
{
    rm_live_event ev[2];
    size_t n = rm_live_update(r->live, s, &r->v, ev);
    for (size_t i = 0; i < n && r->event_count < 16; i++)
        r->events[r->event_count++] = ev[i];
}

/* 1 kHz samples from t0 to t1 with the position moving linearly. */
static void segment(run *r, double t0, double t1, double force_n,
                    double from_cm, double to_cm)
{
    for (double t = t0; t < t1 - 1e-9; t += 0.001) {
        double pos = from_cm + (to_cm - from_cm) * (t - t0) / (t1 - t0);
        rm_sample s = sample(t, force_n, pos, NULL);
        feed(r, &s);
    }
}

static void force_and_pressure_come_from_the_calibration(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    double strip[4] = {0, 30, 10, 0};
    rm_sample s = sample(0, 240, 0, strip);
    feed(&r, &s);
    assert_float_equal(r.v.force_n, 240.0, 0.02);   /* the load cells */
    assert_float_equal(r.v.pressure_kpa, 300.0, 0.1); /* 30 N on 1 cm^2 */
    rm_live_free(r.live);
}

static void force_falls_back_to_pressure_cells_without_load_cells(void **state)
{
    (void)state;
    rm_live_config cfg;
    rm_live_config_default(&cfg);
    rm_live *live;
    assert_int_equal(rm_live_new(&live, &cfg, NULL), RM_OK);
    rm_device_info info;
    roller(&info, 1);
    info.channels[0].kind = info.channels[1].kind = RM_CHANNEL_PRESSURE_CELL;
    info.channels[0].area_mm2 = info.channels[1].area_mm2 = 100;
    rm_live_set_device(live, &info);
    double strip[4] = {10, 20, 30, 40};
    rm_sample s = sample(0, 0, 0, strip);
    rm_live_values v;
    rm_live_event ev[2];
    rm_live_update(live, &s, &v, ev);
    assert_float_equal(v.force_n, 100.0, 0.05);
    assert_float_equal(v.pressure_kpa, 400.0, 0.1);
    rm_live_free(live);
}

/* A replug of the same roller keeps t_s going (the capture hands on the
 * session's unwrapped times); another roller starts over. */
static void same_roller_after_a_replug_keeps_its_time_base(void **state)
{
    (void)state;
    rm_live_config cfg;
    rm_live_config_default(&cfg);
    rm_live *live;
    assert_int_equal(rm_live_new(&live, &cfg, NULL), RM_OK);
    rm_device_info info;
    roller(&info, 1);
    double strip[4] = {10, 20, 30, 40};
    rm_live_values v;
    rm_live_event ev[2];
    assert_false(rm_live_set_device(live, &info));
    rm_sample s = sample(5.0, 0, 0, strip);
    rm_live_update(live, &s, &v, ev);
    assert_true(rm_live_set_device(live, &info)); /* the replug */
    s = sample(9.0, 0, 0, strip);
    rm_live_update(live, &s, &v, ev);
    assert_float_equal(v.t_s, 4.0, 1e-9);
    snprintf(info.serial, sizeof info.serial, "another");
    assert_false(rm_live_set_device(live, &info));
    s = sample(12.0, 0, 0, strip);
    rm_live_update(live, &s, &v, ev);
    assert_float_equal(v.t_s, 0.0, 1e-9);
    rm_live_free(live);
}

static void centre_of_pressure_follows_the_loaded_end(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    double left[4] = {50, 0, 0, 0}, even[4] = {20, 20, 20, 20},
           right[4] = {0, 0, 10, 30};
    rm_sample s = sample(0, 200, 0, left);
    feed(&r, &s);
    assert_float_equal(r.v.ml, -0.75, 1e-6); /* cell at 50 mm of 400 */
    s = sample(0.001, 200, 0, even);
    feed(&r, &s);
    assert_float_equal(r.v.ml, 0.0, 1e-6);
    s = sample(0.002, 200, 0, right);
    feed(&r, &s);
    assert_float_equal(r.v.ml, (325.0 - 200.0) / 200.0, 1e-6); /* 1:3 at 250, 350 mm */
    rm_live_free(r.live);
}

/* Roll (or hold, from_cm == to_cm) with the strip loaded as given. */
static void roll_with_strip(run *r, double t0, double t1, double from_cm,
                            double to_cm, const double strip_n[4])
{
    for (double t = t0; t < t1 - 1e-9; t += 0.001) {
        double pos = from_cm + (to_cm - from_cm) * (t - t0) / (t1 - t0);
        rm_sample s = sample(t, 200, pos, strip_n);
        feed(r, &s);
    }
}

static void lean_is_the_centre_of_pressure_against_the_rolling_line(
    void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    double sitting_right[4] = {0, 0, 20, 0};   /* centre at 250 mm */
    double centred[4] = {0, 10, 10, 0};        /* centre at 200 mm */
    roll_with_strip(&r, 0, 10, 0, 25, sitting_right);
    assert_true(fabs(r.v.lean_mm) < 1.0);      /* the line rolled on */
    /* Holding, the person shifts 50 mm toward the left end: the line is
     * where they rolled, so the whole shift is lean. */
    roll_with_strip(&r, 10, 30, 25, 25, centred);
    assert_float_equal(r.v.lean_mm, -50.0, 1.5);
    /* Rolling on like that, the line follows within a few time constants. */
    roll_with_strip(&r, 30, 70, 25, 0, centred);
    assert_true(fabs(r.v.lean_mm) < 5.0);
    /* Unloaded there is no lean. */
    rm_sample s = sample(70, 0, 0, NULL);
    feed(&r, &s);
    assert_true(isnan(r.v.lean_mm));
    rm_live_free(r.live);
}

static void position_is_roll_distance_from_the_most_proximal_loaded_point(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 1, 5, -20, -20);    /* unloaded far away: not a reference */
    segment(&r, 1, 5, 200, 0, 10);     /* loaded from 0 to 10 cm */
    assert_float_equal(r.v.position_cm, 10.0, 0.05);
    assert_float_equal(r.v.position_pct, 100.0, 0.5);
    segment(&r, 5, 7, 200, 10, 5);
    assert_float_equal(r.v.position_cm, 5.0, 0.05);
    assert_float_equal(r.v.position_pct, 50.0, 0.5);
    segment(&r, 7, 9, 200, 5, -4);     /* further proximal: new reference */
    assert_float_equal(r.v.position_cm, 0.0, 0.05);
    segment(&r, 9, 10, 200, -4, 3);
    assert_float_equal(r.v.position_cm, 7.0, 0.05);
    rm_live_free(r.live);
}

static void distal_direction_minus_one_reverses_the_encoder(void **state)
{
    (void)state;
    run r;
    run_open(&r, -1);
    /* encoder counts rising by 10 cm mean moving 10 cm proximally */
    segment(&r, 0, 4, 200, 0, 10);
    assert_float_equal(r.v.position_cm, 0.0, 0.05);
    segment(&r, 4, 6, 200, 10, 4);
    assert_float_equal(r.v.position_cm, 6.0, 0.05);
    rm_live_free(r.live);
}

static void steady_hold_starts_and_ends_a_dwell(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 4, 200, 0, 10);       /* roll in at 2.5 cm/s */
    assert_int_equal(r.event_count, 0);
    /* hold at 10 cm: with the last 1.2 s of the approach (within the 3 cm
     * band) the position has been steady for 9.65 s at t = 12.45 */
    segment(&r, 4, 12.5, 200, 10, 10);
    assert_int_equal(r.event_count, 0);
    assert_float_equal(r.v.dwell_s, 9.65, 0.06);
    segment(&r, 12.5, 20, 200, 10, 11);  /* a slow drift keeps it going */
    assert_int_equal(r.event_count, 1);
    assert_int_equal(r.events[0].kind, RM_LIVE_DWELL_START);
    assert_float_equal(r.events[0].t_s, 2.8, 0.06);
    assert_float_equal(r.events[0].position_cm, 8.5, 0.1); /* 7..10 cm */
    assert_true(r.v.flags & RM_LIVE_DWELLING);
    assert_float_equal(r.v.dwell_s, 17.15, 0.06);
    /* roll away at 2.5 cm/s: the band holds until 13 cm, at t = 20.8 */
    segment(&r, 20, 24, 200, 11, 21);
    assert_int_equal(r.event_count, 2);
    assert_int_equal(r.events[1].kind, RM_LIVE_DWELL_END);
    assert_float_equal(r.events[1].duration_s, 20.8 - 2.8, 0.15);
    assert_false(r.v.flags & RM_LIVE_DWELLING);
    rm_live_free(r.live);
}

static void jump_to_another_spot_ends_one_dwell_and_starts_another(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 11, 200, 5, 5);
    segment(&r, 11, 11.1, 200, 5, 15);
    segment(&r, 11.1, 22, 200, 15, 15);
    assert_int_equal(r.event_count, 3);
    assert_int_equal(r.events[0].kind, RM_LIVE_DWELL_START);
    assert_int_equal(r.events[1].kind, RM_LIVE_DWELL_END);
    assert_float_equal(r.events[1].position_cm, 0.0, 0.2);
    assert_int_equal(r.events[2].kind, RM_LIVE_DWELL_START);
    assert_float_equal(r.events[2].position_cm, 10.0, 0.2);
    rm_live_free(r.live);
}

static void rolling_at_pace_is_not_a_dwell(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    for (int stroke = 0; stroke < 4; stroke++) {
        double t = stroke * 24.0;
        segment(&r, t, t + 12, 200, 0, 30);   /* 2.5 cm/s down */
        segment(&r, t + 12, t + 24, 200, 30, 0);
    }
    assert_int_equal(r.event_count, 0);
    assert_true(r.v.dwell_s < 1.5); /* 3 cm at 2.5 cm/s */
    rm_live_free(r.live);
}

static void holding_without_load_is_not_a_dwell(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 2, 200, 0, 5);
    segment(&r, 2, 20, 10, 5, 5);       /* 10 N: resting, not pressing */
    assert_int_equal(r.event_count, 0);
    assert_false(r.v.flags & RM_LIVE_LOADED);
    rm_live_free(r.live);
}

static void unloading_ends_a_dwell(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 12, 200, 8, 8);
    assert_int_equal(r.event_count, 1);
    segment(&r, 12, 13, 0, 8, 8);
    assert_int_equal(r.event_count, 2);
    assert_int_equal(r.events[1].kind, RM_LIVE_DWELL_END);
    assert_float_equal(r.events[1].duration_s, 12.0, 0.1);
    rm_live_free(r.live);
}

static void speed_and_pace_warning(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 4, 200, 0, 20);      /* 5 cm/s: too fast */
    assert_float_equal(r.v.speed_cm_s, 5.0, 0.2);
    assert_true(r.v.flags & RM_LIVE_TOO_FAST);
    segment(&r, 4, 9, 200, 20, 10);     /* 2 cm/s proximally: fine */
    assert_float_equal(r.v.speed_cm_s, -2.0, 0.2);
    assert_false(r.v.flags & RM_LIVE_TOO_FAST);
    rm_live_free(r.live);
}

static void reset_starts_the_clock_and_reference_again(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 0, 4, 200, 0, 10);
    rm_live_reset(r.live);
    segment(&r, 50, 52, 200, 10, 15);
    assert_float_equal(r.v.t_s, 2.0, 0.01);
    assert_float_equal(r.v.position_cm, 5.0, 0.05);
    rm_live_free(r.live);
}

static void device_clock_going_back_starts_a_new_time_base(void **state)
{
    (void)state;
    run r;
    run_open(&r, 1);
    segment(&r, 100, 112, 200, 5, 5);   /* a dwell */
    assert_int_equal(r.event_count, 1);
    segment(&r, 0, 1, 200, 5, 5);       /* the device restarted its clock */
    assert_float_equal(r.v.t_s, 0.999, 1e-6);
    assert_true(r.v.dwell_s < 1.0);
    assert_false(r.v.flags & RM_LIVE_DWELLING);
    rm_live_free(r.live);
}

static void without_encoder_position_is_unknown(void **state)
{
    (void)state;
    rm_live_config cfg;
    rm_live_config_default(&cfg);
    rm_live *live;
    assert_int_equal(rm_live_new(&live, &cfg, NULL), RM_OK);
    rm_device_info info;
    roller(&info, 1);
    info.encoder_counts_per_turn = 0;
    rm_live_set_device(live, &info);
    rm_sample s = sample(0, 200, 3, NULL);
    rm_live_values v;
    rm_live_event ev[2];
    rm_live_update(live, &s, &v, ev);
    assert_true(isnan(v.position_cm));
    assert_true(isnan(v.speed_cm_s));
    assert_float_equal(v.force_n, 200.0, 0.02);
    rm_live_free(live);
}

static void rejects_nonsense_config(void **state)
{
    (void)state;
    rm_live_config cfg;
    rm_live_config_default(&cfg);
    cfg.dwell_min_s = 0;
    rm_live *live;
    rm_error err = {0};
    assert_int_equal(rm_live_new(&live, &cfg, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "dwell_min_s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(force_and_pressure_come_from_the_calibration),
        cmocka_unit_test(force_falls_back_to_pressure_cells_without_load_cells),
        cmocka_unit_test(same_roller_after_a_replug_keeps_its_time_base),
        cmocka_unit_test(centre_of_pressure_follows_the_loaded_end),
        cmocka_unit_test(lean_is_the_centre_of_pressure_against_the_rolling_line),
        cmocka_unit_test(position_is_roll_distance_from_the_most_proximal_loaded_point),
        cmocka_unit_test(distal_direction_minus_one_reverses_the_encoder),
        cmocka_unit_test(steady_hold_starts_and_ends_a_dwell),
        cmocka_unit_test(jump_to_another_spot_ends_one_dwell_and_starts_another),
        cmocka_unit_test(rolling_at_pace_is_not_a_dwell),
        cmocka_unit_test(holding_without_load_is_not_a_dwell),
        cmocka_unit_test(unloading_ends_a_dwell),
        cmocka_unit_test(speed_and_pace_warning),
        cmocka_unit_test(reset_starts_the_clock_and_reference_again),
        cmocka_unit_test(device_clock_going_back_starts_a_new_time_base),
        cmocka_unit_test(without_encoder_position_is_unknown),
        cmocka_unit_test(rejects_nonsense_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
