/* Tender spots, marks and the profile along the leg, from passes over a
 * synthetic leg with (or without) a tender point; and the same analysis
 * from a real session file as from memory. The steady load behind the
 * relative tremor against its definition. */
#include "testutil.h"
#include "analysis_internal.h"
#include "rollmap_report.h"

#include <math.h>

#define RATE 200
#define WIDTH_MM 330.0
#define GAIN 0.01
#define CPT 4096
#define DIAMETER_MM 150.0
#define LEG_CM 30.0
#define SPOT_CM 18.0

typedef struct leg {
    rm_device_info info;
    rm_sample *s;
    size_t n, cap;
    bool tender;               /**< the point at SPOT_CM hurts */
    double unload;             /**< force eased off where it hurts most */
    double tremor;             /**< extra 9 Hz tremor where it hurts most */
    double pass_lean_mm;       /**< lean while passing where it hurts most */
    double pass_offset_mm;     /**< where this pass sits across the roller */
    rm_event mark;             /**< the rated mark during the hold */
} leg;

static void leg_init(leg *g, bool tender)
{
    memset(g, 0, sizeof *g);
    g->tender = tender;
    g->unload = 0.3;
    g->tremor = 0.04;
    g->mark.kind = RM_EVENT_NOTE;     /* act() makes it a mark */
    rm_device_info *d = &g->info;
    d->device_kind = RM_DEVICE_ROLLER;
    d->sample_rate_hz = RATE;
    d->channel_count = 2;
    d->encoder_counts_per_turn = CPT;
    d->roller_diameter_mm = (float)DIAMETER_MM;
    d->roller_width_mm = (float)WIDTH_MM;
    d->distal_direction = 1;
    for (int k = 0; k < 2; k++) {
        d->channels[k].kind = RM_CHANNEL_LOAD_CELL;
        d->channels[k].position_mm = k ? (float)WIDTH_MM : 0.0f;
        d->channels[k].gain_n_per_count = (float)GAIN;
    }
    rm_device_info_default_calibration(d);
}

/* How much the point at p hurts, 0..1 (2 cm reach). */
static double hurt(const leg *g, double p)
{
    double d = (p - SPOT_CM) / 2.0;
    return g->tender ? exp(-0.5 * d * d) : 0.0;
}

/* One sample at position p: the person eases off (g->unload) and trembles
 * (9 Hz, g->tremor) where it hurts; lean_mm moves the load toward the left
 * end. */
static void emit(leg *g, double p, double load, double lean_mm)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 8192;
        g->s = realloc(g->s, sizeof *g->s * g->cap);
    }
    double t = (double)g->n / RATE, w = hurt(g, p);
    double f = load * 300.0 * (1.0 - g->unload * w);
    f *= 1.0 + (0.005 + g->tremor * w) * sin(2.0 * M_PI * 9.0 * t);
    double centre = WIDTH_MM / 2.0 - lean_mm;
    rm_sample *s = &g->s[g->n++];
    memset(s, 0, sizeof *s);
    s->t_us = (uint64_t)llround(t * 1e6);
    s->counts[0] = (int32_t)lround(f * (WIDTH_MM - centre) / WIDTH_MM / GAIN);
    s->counts[1] = (int32_t)lround(f * centre / WIDTH_MM / GAIN);
    s->encoder = (int32_t)lround(p * 10.0 / (M_PI * DIAMETER_MM) * CPT);
}

static void roll(leg *g, double from, double to)
{
    size_t count = (size_t)(fabs(to - from) / 2.5 * RATE);   /* 2.5 cm/s */
    for (size_t i = 1; i <= count; i++) {
        double p = from + (to - from) * (double)i / (double)count;
        emit(g, p, 1.0, g->pass_offset_mm + g->pass_lean_mm * hurt(g, p));
    }
}

static void rest(leg *g, double p)
{
    for (size_t i = 0; i < 2 * RATE; i++)
        emit(g, p, 0.0, 0.0);
}

static void hold(leg *g, double p, double seconds, double lean_mm)
{
    for (size_t i = 0; i < (size_t)(seconds * RATE); i++)
        emit(g, p, 1.0, lean_mm);
}

/* Rest, 12 passes, a 20 s hold on the spot leaning medially (right leg)
 * with a mark rated 7 after 10 s, 4 more passes, rest. */
static void act(leg *g)
{
    rest(g, 0.0);
    for (int k = 0; k < 6; k++) {
        roll(g, 0.0, LEG_CM);
        roll(g, LEG_CM, 0.0);
    }
    roll(g, 0.0, SPOT_CM);
    hold(g, SPOT_CM, 10.0, 20.0);
    g->mark = (rm_event){.t_us = g->s[g->n - 1].t_us, .kind = RM_EVENT_MARK,
                         .value = 7};
    hold(g, SPOT_CM, 10.0, 20.0);
    roll(g, SPOT_CM, LEG_CM);
    for (int k = 0; k < 2; k++) {
        roll(g, LEG_CM, 0.0);
        roll(g, 0.0, LEG_CM);
    }
    rest(g, LEG_CM);
}

/* Rest, 8 passes there and back without stopping, rest. */
static void act_without_holding(leg *g)
{
    rest(g, 0.0);
    for (int k = 0; k < 8; k++) {
        roll(g, 0.0, LEG_CM);
        roll(g, LEG_CM, 0.0);
    }
    rest(g, 0.0);
}

static rm_analysis *analyse_leg(leg *g, uint8_t side)
{
    rm_session_meta meta = {.side = side};
    rm_analysis *a = NULL;
    rm_error err;
    if (rm_analyse_samples(&g->info, &meta, g->s, g->n, &g->mark, 1, NULL, 0,
                           NULL, &a, &err) != RM_OK)
        fail_msg("analysis failed: %s", err.message);
    return a;
}

static void guarding_unloading_and_a_mark_make_one_spot(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, true);
    act(&g);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_int_equal(a->spot_count, 1);
    const rm_spot *sp = &a->spots[0];
    assert_true(fabs(sp->position_cm - SPOT_CM) < 1.0);
    assert_true(fabs(sp->position_pct - 100.0 * SPOT_CM / LEG_CM) < 4.0);
    assert_int_equal(sp->side, RM_ML_SIDE_MEDIAL);
    assert_true(sp->score >= 5.0 && sp->score <= 10.0);
    assert_true(sp->confidence > 0.5 && sp->confidence <= 1.0);
    assert_true(sp->evidence.tremor > 0.5);
    assert_true(sp->evidence.unloading > 0.3);
    assert_true(sp->evidence.dwell_s > 15.0);
    assert_int_equal(sp->evidence.marks, 1);
    assert_true(sp->evidence.mark_rating == 7.0);
    /* The force at the mark is this spot's pressure-pain threshold. */
    assert_true(fabs(sp->threshold_force_n - 210.0) < 10.0);
    assert_int_equal(a->mark_count, 1);
    assert_int_equal(a->marks[0].rating, 7);
    assert_int_equal(a->marks[0].spot, 0);
    assert_true(fabs(a->marks[0].position_cm - SPOT_CM) < 0.5);
    rm_analysis_free(a);
    free(g.s);
}

static void profile_peaks_at_the_spot(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, true);
    act(&g);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_true(fabs(a->summary.rolled_length_cm - LEG_CM) < 0.2);
    assert_int_equal(a->bin_count,
                     (size_t)floor(a->summary.rolled_length_cm) + 1);
    size_t top = 0;
    for (size_t b = 0; b < a->bin_count; b++)
        if (a->profile[b].tenderness > a->profile[top].tenderness)
            top = b;
    assert_true(fabs(a->profile[top].position_cm - SPOT_CM) <= 1.0);
    /* Away from it the leg is not tender; the force there is the full
     * 300 N, split evenly medial/lateral. */
    const rm_profile_bin *far = &a->profile[5];
    assert_true(far->tenderness < 1.5);
    assert_true(fabs(far->mean_force_n - 300.0) < 5.0);
    assert_true(fabs(far->medial_force_n - far->lateral_force_n) < 10.0);
    assert_true(far->time_s > 1.0);
    assert_true(isnan(far->mean_pressure_kpa));
    assert_true(a->profile[top].mean_force_n < 270.0);
    /* Guarding tremor where it hurts: 4.5 % of the force at 9 Hz at the
     * spot against 0.5 % far from it. */
    assert_true(a->profile[top].tremor > 20.0 * far->tremor);
    assert_true(far->tremor > 0.0);
    assert_true(a->profile[top].medial_force_n > a->profile[top].lateral_force_n);
    rm_analysis_free(a);
    free(g.s);
}

static void an_even_leg_has_no_spots(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, false);
    act(&g);
    g.mark.kind = RM_EVENT_NOTE;   /* no mark either */
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_int_equal(a->spot_count, 0);
    assert_int_equal(a->mark_count, 0);
    for (size_t b = 0; b < a->bin_count; b++)
        assert_true(a->profile[b].tenderness < a->config.spot_min_score);
    assert_int_equal(a->dwell_count, 1);     /* the hold is still a dwell */
    rm_analysis_free(a);
    free(g.s);
}

static void the_same_lean_is_lateral_on_a_left_leg(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, true);
    act(&g);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_LEFT);
    assert_int_equal(a->spot_count, 1);
    assert_int_equal(a->spots[0].side, RM_ML_SIDE_LATERAL);
    assert_true(a->spots[0].ml > 0.25);
    rm_analysis_free(a);
    free(g.s);
}

/* Not everyone trembles where it hurts: easing off by a tenth alone, on
 * passes without a stop, shows the spot. */
static void easing_off_without_tremor_makes_a_spot(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, true);
    g.tremor = 0.0;
    g.unload = 0.1;
    act_without_holding(&g);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_int_equal(a->spot_count, 1);
    const rm_spot *sp = &a->spots[0];
    assert_true(fabs(sp->position_cm - SPOT_CM) < 1.0);
    assert_true(sp->score >= a->config.spot_min_score);
    assert_true(sp->evidence.tremor < 0.1);
    assert_true(sp->evidence.unloading > 0.4);
    assert_true(sp->evidence.dwell_s == 0.0);
    assert_int_equal(sp->evidence.marks, 0);
    rm_analysis_free(a);
    free(g.s);
}

/* Nobody held the spot: its side is where the passes over it leaned, and
 * unknown when they did not lean (rolling keeps the load centred). */
static void the_side_of_a_spot_passed_over_is_where_the_passes_lean_or_unknown(void **state)
{
    (void)state;
    static const double leans_mm[] = {20.0, 0.0};
    static const uint8_t right_leg[] = {RM_ML_SIDE_MEDIAL, RM_ML_SIDE_UNKNOWN};
    static const uint8_t left_leg[] = {RM_ML_SIDE_LATERAL, RM_ML_SIDE_UNKNOWN};
    for (int k = 0; k < 2; k++) {
        leg g;
        leg_init(&g, true);
        g.pass_lean_mm = leans_mm[k];
        act_without_holding(&g);
        for (int side = 0; side < 2; side++) {
            rm_analysis *a = analyse_leg(&g, side ? RM_SIDE_LEFT : RM_SIDE_RIGHT);
            assert_int_equal(a->spot_count, 1);
            assert_true(a->spots[0].evidence.dwell_s == 0.0);
            assert_int_equal(a->spots[0].side, side ? left_leg[k] : right_leg[k]);
            rm_analysis_free(a);
        }
        free(g.s);
    }
}

/* A person who sits a little differently on each pass (the pass's load
 * centre 15 mm either side of the leg's, or on it) and leans 5 mm toward
 * the spot while rolling over it: less than the centre band (7.5 mm) on
 * the whole, but every pass leans the same way against its own centre. */
static void a_slight_lean_against_each_pass_own_centre_gives_the_side(
    void **state)
{
    (void)state;
    static const double offsets_mm[] = {15.0, 0.0, -15.0, 0.0};
    leg g;
    leg_init(&g, true);
    g.pass_lean_mm = 5.0;
    rest(&g, 0.0);
    for (int k = 0; k < 8; k++) {
        g.pass_offset_mm = offsets_mm[k % 4];
        roll(&g, 0.0, LEG_CM);
        roll(&g, LEG_CM, 0.0);
    }
    rest(&g, 0.0);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_int_equal(a->spot_count, 1);
    assert_int_equal(a->spots[0].side, RM_ML_SIDE_MEDIAL);
    assert_true(a->spots[0].side_confidence >= 0.99);
    assert_true(a->spots[0].ml < -0.1 && a->spots[0].ml > -0.25);
    rm_analysis_free(a);
    free(g.s);
}

/** The spot of a leg rolled 8 times without holds, easing off by unload. */
static rm_spot spot_easing_off(double unload)
{
    leg g;
    leg_init(&g, true);
    g.unload = unload;
    act_without_holding(&g);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_int_equal(a->spot_count, 1);
    rm_spot spot = a->spots[0];
    rm_analysis_free(a);
    free(g.s);
    return spot;
}

static void the_strength_goes_on_where_the_score_saturates(void **state)
{
    (void)state;
    rm_spot milder = spot_easing_off(0.3), worse = spot_easing_off(0.5);
    /* Both are full of evidence: the scores are within half a point ... */
    assert_true(fabs(worse.score - milder.score) < 0.5);
    /* ... the strength tells them apart, far beyond its standard error. */
    assert_true(worse.strength - milder.strength >
                4.0 * hypot(worse.strength_se, milder.strength_se));
    assert_true(milder.strength_se > 0.0);
}

/** The virtual roller's session (300 s at 200 Hz, right leg) with a spot
 *  at 14 cm medial of the given severity beside a steady one at 26 cm
 *  lateral (bench_severity's client, seed 32676). */
static rm_analysis *session_beside_a_steady_spot(double severity)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.seed = 32676;
    cfg.duration_s = 300.0;
    cfg.sample_rate_hz = 200;
    char keys[96];
    snprintf(keys, sizeof keys, "spot_at=14:medial:%.1f/26:lateral:0.6",
             severity);
    rm_sim *sim = NULL;
    rm_error err;
    assert_int_equal(rm_sim_config_parse(&cfg, keys, &err), RM_OK);
    assert_int_equal(rm_sim_new(&sim, &cfg, &err), RM_OK);
    size_t cap = 300 * 200 + 16, n = 0;
    rm_sample *samples = malloc(sizeof *samples * cap);
    while (n < cap && rm_sim_next_sample(sim, &samples[n]))
        n++;
    rm_session_meta meta = {.side = RM_SIDE_RIGHT};
    rm_analysis *a = NULL;
    if (rm_analyse_samples(rm_sim_info(sim), &meta, samples, n, NULL, 0, NULL,
                           0, NULL, &a, &err) != RM_OK)
        fail_msg("analysis failed: %s", err.message);
    free(samples);
    rm_sim_free(sim);
    return a;
}

static const rm_spot *spot_near(const rm_analysis *a, double cm)
{
    for (size_t k = 0; k < a->spot_count; k++)
        if (fabs(a->spots[k].position_cm - cm) <= 3.0)
            return &a->spots[k];
    fail_msg("no spot within 3 cm of %.0f cm", cm);
    return NULL;
}

/* A spot's strength is what the passes measured: when its neighbour eases
 * from 0.9 to 0.4, the person holds and marks the spot whose severity
 * stays at 0.6 instead, and its strength must not follow (with the marks
 * counted it read 6.3 -> 8.2 here, "worse" in compare). */
static void a_steady_spot_keeps_its_strength_when_its_neighbour_eases(
    void **state)
{
    (void)state;
    rm_analysis *before = session_beside_a_steady_spot(0.9);
    rm_analysis *after = session_beside_a_steady_spot(0.4);
    const rm_spot *steady_before = spot_near(before, 26.0);
    const rm_spot *steady_after = spot_near(after, 26.0);
    double mdc = 1.96 * hypot(steady_before->strength_se,
                              steady_after->strength_se);
    assert_true(fabs(steady_after->strength - steady_before->strength) <
                fmax(mdc, 1.5));
    /* ... while the neighbour's own fall still shows. */
    assert_true(spot_near(before, 14.0)->strength -
                spot_near(after, 14.0)->strength > 1.5);
    rm_analysis_free(before);
    rm_analysis_free(after);
}

static void holds_give_the_tremor_peak_and_its_size(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, true);
    act(&g);    /* a 20 s hold on the spot, trembling 4.5 % at 9 Hz */
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_true(a->dwell_count >= 1);
    assert_true(fabs(a->summary.hold_tremor_hz - 9.0) < 0.2);
    /* RMS of a 4.5 % sine (4 % at the spot, 0.5 % everywhere, one phase)
     * is 3.2 % of the force. */
    assert_true(fabs(a->summary.hold_tremor_pct - 4.5 / sqrt(2.0)) < 0.3);
    assert_true(a->summary.hold_tremor_power_n2 > 0.0);
    rm_analysis_free(a);
    free(g.s);
}

static void the_position_spectrum_gives_the_cadence(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, false);
    /* Short strokes over 6 cm at 2.5 cm/s: a one-way pass every 2.4 s,
     * 25 a minute, along the leg in three places. */
    rest(&g, 0.0);
    for (int k = 0; k < 60; k++) {
        double at = 4.0 + 8.0 * (k / 20);
        roll(&g, at, at + 6.0);
        roll(&g, at + 6.0, at);
    }
    rest(&g, 0.0);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    assert_true(fabs(a->summary.spectral_cadence_per_min - 25.0) < 1.5);
    assert_true(isnan(a->summary.hold_tremor_hz));   /* no hold */
    rm_analysis_free(a);
    free(g.s);
}

static void strokes_and_cadence_follow_the_passes(void **state)
{
    (void)state;
    leg g;
    leg_init(&g, false);
    act(&g);
    rm_analysis *a = analyse_leg(&g, RM_SIDE_RIGHT);
    /* Distal passes: 6 full, 0 -> 18 before the hold, 18 -> 30 after it,
     * 2 at the end. */
    assert_int_equal(a->stroke_count, 10);
    for (size_t k = 0; k < a->stroke_count; k++)
        assert_true(a->strokes[k].to_cm > a->strokes[k].from_cm);
    assert_true(fabs(a->strokes[0].mean_speed_cm_s - 2.5) < 0.2);
    assert_true(fabs(a->strokes[0].mean_force_n - 300.0) < 5.0);
    /* One-way passes every 12 s. */
    assert_true(fabs(a->summary.cadence_per_min - 5.0) < 0.3);
    assert_true(fabs(a->summary.mean_speed_cm_s - 2.5) < 0.2);
    rm_analysis_free(a);
    /* 2.5 cm/s is too fast for a 2 cm/s target, never for 3 cm/s. */
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    for (int k = 0; k < 2; k++) {
        cfg.target_speed_cm_s = k ? 2.0 : 3.0;
        assert_int_equal(rm_analyse_samples(&g.info, NULL, g.s, g.n, NULL, 0,
                                            NULL, 0, &cfg, &a, NULL), RM_OK);
        if (k)
            assert_true(a->summary.time_too_fast_s > 150.0);
        else
            assert_true(a->summary.time_too_fast_s < 1.0);
        rm_analysis_free(a);
    }
    free(g.s);
}

static rm_session_writer *create_session(const char *path,
                                         const rm_device_info *info,
                                         const rm_session_meta *meta)
{
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.fsync = false;
    rm_session_writer *w;
    assert_int_equal(rm_session_writer_create(&w, path, info, meta, &opt, NULL),
                     RM_OK);
    return w;
}

/* A simulated session written with the given metadata (link figures set
 * mid-session when link is non-NULL), then analysed from its file. */
static rm_analysis *analyse_written_session(const rm_link_stats *link)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.duration_s = 20;
    cfg.sample_rate_hz = RATE;
    rm_sim *sim;
    assert_int_equal(rm_sim_new(&sim, &cfg, NULL), RM_OK);
    rm_sample samples[64];
    rm_session_meta meta = {.side = RM_SIDE_LEFT};
    char *dir = testutil_mkdtemp(), *path = testutil_path(dir, "link.rms");
    rm_session_writer *w = create_session(path, rm_sim_info(sim), &meta);
    for (size_t batch = 0; ; batch++) {
        size_t n = 0;
        while (n < 64 && rm_sim_next_sample(sim, &samples[n]))
            n++;
        if (!n)
            break;
        assert_int_equal(rm_session_writer_append(w, samples, n, NULL), RM_OK);
        if (batch == 10 && link) {
            meta.link = *link;
            assert_int_equal(rm_session_writer_set_meta(w, &meta, NULL), RM_OK);
        }
    }
    assert_int_equal(rm_session_writer_close(w, NULL), RM_OK);
    rm_session *s;
    rm_analysis *a;
    assert_int_equal(rm_session_open(&s, path, NULL), RM_OK);
    assert_int_equal(rm_analyse_session(s, NULL, &a, NULL), RM_OK);
    rm_session_close(s);
    rm_sim_free(sim);
    testutil_rmdir(dir);
    free(path);
    free(dir);
    return a;
}

static char *report_of(const rm_analysis *a,
                       rm_status (*write)(const rm_analysis *, FILE *, rm_error *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(write(a, f, NULL), RM_OK);
    fclose(f);
    return text;
}

/* The JSON and text reports of a written session with those link figures. */
typedef struct reports {
    rm_analysis *analysis;
    char *json, *text;
    rm_json *root;
    const rm_json *link;   /**< quality.link of the JSON report */
} reports;

static reports reports_of(const rm_link_stats *link)
{
    reports r = {.analysis = analyse_written_session(link)};
    r.json = report_of(r.analysis, rm_report_json);
    r.text = report_of(r.analysis, rm_report_text);
    assert_int_equal(rm_json_parse(&r.root, r.json, strlen(r.json), NULL), RM_OK);
    r.link = rm_json_get(rm_json_get(r.root, "quality"), "link");
    assert_non_null(r.link);
    return r;
}

static void free_reports(reports *r)
{
    rm_json_free(r->root);
    free(r->json);
    free(r->text);
    rm_analysis_free(r->analysis);
}

static double link_figure(const reports *r, const char *key)
{
    return rm_json_as_number(rm_json_get(r->link, key), -1);
}

static void link_figures_of_a_session_reach_its_reports(void **state)
{
    (void)state;
    const rm_link_stats link = {true, 3900, 17, 4, 1, 9, 250};
    reports r = reports_of(&link);
    assert_int_equal(r.analysis->quality.crc_errors, 17);
    assert_int_equal(r.analysis->quality.link.frames_lost, 9);
    assert_int_equal(link_figure(&r, "crc_errors"), 17);
    assert_int_equal(link_figure(&r, "malformed"), 4);
    assert_int_equal(link_figure(&r, "oversized"), 1);
    assert_int_equal(link_figure(&r, "frames_lost"), 9);
    assert_int_equal(link_figure(&r, "bytes_discarded"), 250);
    assert_int_equal(link_figure(&r, "frames_ok"), 3900);
    assert_int_equal(rm_json_as_number(rm_json_get(rm_json_get(r.root, "quality"),
                                                   "crc_errors"), -1), 17);
    assert_non_null(strstr(r.text, "17 CRC errors, 4 malformed, 1 too long, 9 lost"));
    assert_non_null(strstr(r.text, "the serial link rejected or lost data"));
    free_reports(&r);
}

static void a_session_without_link_figures_reports_them_unknown(void **state)
{
    (void)state;
    reports r = reports_of(NULL);
    assert_int_equal(rm_json_type_of(r.link), RM_JSON_NULL);
    assert_non_null(strstr(r.text, "unknown (not recorded)"));
    assert_null(strstr(r.text, "the serial link rejected or lost data"));
    free_reports(&r);
}

static void a_session_file_gives_the_same_analysis(void **state)
{
    (void)state;
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.duration_s = 180;
    cfg.sample_rate_hz = 200;
    cfg.spot_count = 2;
    rm_sim *sim;
    assert_int_equal(rm_sim_new(&sim, &cfg, NULL), RM_OK);
    size_t n = 0;
    rm_sample *samples = malloc(sizeof *samples * 36000);
    while (n < 36000 && rm_sim_next_sample(sim, &samples[n]))
        n++;
    rm_event mark = {.t_us = samples[n / 2].t_us, .kind = RM_EVENT_MARK,
                     .value = 6};
    rm_session_meta meta = {.side = RM_SIDE_RIGHT};
    strcpy(meta.session_id, "test-spots");
    char *dir = testutil_mkdtemp(), *path = testutil_path(dir, "s.rms");
    rm_session_writer *w = create_session(path, rm_sim_info(sim), &meta);
    assert_int_equal(rm_session_writer_append(w, samples, n, NULL), RM_OK);
    assert_int_equal(rm_session_writer_add_event(w, &mark, NULL), RM_OK);
    assert_int_equal(rm_session_writer_close(w, NULL), RM_OK);

    rm_analysis *mem, *file;
    rm_session *s;
    assert_int_equal(rm_analyse_samples(rm_sim_info(sim), &meta, samples, n,
                                        &mark, 1, NULL, 0, NULL, &mem, NULL),
                     RM_OK);
    assert_int_equal(rm_session_open(&s, path, NULL), RM_OK);
    assert_int_equal(rm_analyse_session(s, NULL, &file, NULL), RM_OK);
    assert_int_equal(file->series.n, mem->series.n);
    assert_memory_equal(file->series.force_n, mem->series.force_n,
                        sizeof(double) * mem->series.n);
    assert_int_equal(file->dwell_count, mem->dwell_count);
    assert_int_equal(file->spot_count, mem->spot_count);
    assert_int_equal(file->mark_count, mem->mark_count);
    assert_true(file->mark_count >= 1);
    assert_int_equal(file->quality.blocks_skipped, 0);
    assert_string_equal(file->meta.session_id, "test-spots");
    rm_session_close(s);
    rm_analysis_free(mem);
    rm_analysis_free(file);
    rm_sim_free(sim);
    free(samples);
    testutil_rmdir(dir);
    free(path);
    free(dir);
}

static void a_damaged_block_is_skipped_not_fatal(void **state)
{
    (void)state;
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.duration_s = 60;
    cfg.sample_rate_hz = 200;
    rm_sim *sim;
    assert_int_equal(rm_sim_new(&sim, &cfg, NULL), RM_OK);
    rm_sample samples[12000];
    size_t n = 0;
    while (n < 12000 && rm_sim_next_sample(sim, &samples[n]))
        n++;
    char *dir = testutil_mkdtemp(), *path = testutil_path(dir, "d.rms");
    rm_session_meta meta = {.side = RM_SIDE_LEFT};
    rm_session_writer *w;
    assert_int_equal(rm_session_writer_create(&w, path, rm_sim_info(sim),
                                              &meta, NULL, NULL), RM_OK);
    assert_int_equal(rm_session_writer_append(w, samples, n, NULL), RM_OK);
    assert_int_equal(rm_session_writer_close(w, NULL), RM_OK);
    size_t len;
    uint8_t *bytes = testutil_read_file(path, &len);
    bytes[len / 2] ^= 0x5a;              /* inside a sample block */
    assert_int_equal(testutil_write_file(path, bytes, len), 0);
    free(bytes);

    rm_session *s;
    rm_analysis *a;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), RM_OK);
    assert_int_equal(rm_analyse_session(s, NULL, &a, &err), RM_OK);
    assert_int_equal(a->quality.blocks_skipped, 1);
    /* The samples around the block are there; the lost ones are a gap. */
    assert_true(a->summary.duration_s > 55.0);
    assert_true(a->quality.gaps >= 1);
    rm_analysis_free(a);
    rm_session_close(s);
    rm_sim_free(sim);
    testutil_rmdir(dir);
    free(path);
    free(dir);
}

/* The definition: counting the samples since the last unloaded one and
 * until the next, both more than reach (the ends count as loaded). */
static void steady_by_definition(const uint8_t *loaded, size_t n,
                                 size_t reach, uint8_t *steady)
{
    size_t since = reach + 1;
    for (size_t i = 0; i < n; i++) {
        since = loaded[i] ? since + 1 : 0;
        steady[i] = since > reach;
    }
    since = reach + 1;
    for (size_t i = n; i-- > 0;) {
        since = loaded[i] ? since + 1 : 0;
        steady[i] = steady[i] && since > reach;
    }
}

static void steady_load_follows_its_definition(void **state)
{
    (void)state;
    enum { MOST = 700 };
    static const size_t lengths[] = {0, 1, 2, 3, 9, 64, MOST};
    static const size_t reaches[] = {0, 1, 2, 7, 64, MOST, SIZE_MAX / 2};
    static const int unloaded_in[] = {2, 5, 40, 1000};
    uint8_t loaded[MOST], steady[MOST + 1], expected[MOST];
    srand(10);
    for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++)
        for (size_t r = 0; r < sizeof reaches / sizeof *reaches; r++)
            for (size_t u = 0; u < sizeof unloaded_in / sizeof *unloaded_in;
                 u++) {
                size_t n = lengths[l];
                for (size_t i = 0; i < n; i++)  /* runs of either */
                    loaded[i] = i && rand() % 4 ? loaded[i - 1]
                                : rand() % unloaded_in[u] != 0;
                steady[n] = 0xAA;
                steady_by_definition(loaded, n, reaches[r], expected);
                ana_steady_load(loaded, n, reaches[r], steady);
                if (n)
                    assert_memory_equal(steady, expected, n);
                assert_int_equal(steady[n], 0xAA);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(guarding_unloading_and_a_mark_make_one_spot),
        cmocka_unit_test(profile_peaks_at_the_spot),
        cmocka_unit_test(an_even_leg_has_no_spots),
        cmocka_unit_test(the_same_lean_is_lateral_on_a_left_leg),
        cmocka_unit_test(easing_off_without_tremor_makes_a_spot),
        cmocka_unit_test(the_side_of_a_spot_passed_over_is_where_the_passes_lean_or_unknown),
        cmocka_unit_test(a_slight_lean_against_each_pass_own_centre_gives_the_side),
        cmocka_unit_test(the_strength_goes_on_where_the_score_saturates),
        cmocka_unit_test(a_steady_spot_keeps_its_strength_when_its_neighbour_eases),
        cmocka_unit_test(holds_give_the_tremor_peak_and_its_size),
        cmocka_unit_test(the_position_spectrum_gives_the_cadence),
        cmocka_unit_test(strokes_and_cadence_follow_the_passes),
        cmocka_unit_test(a_session_file_gives_the_same_analysis),
        cmocka_unit_test(link_figures_of_a_session_reach_its_reports),
        cmocka_unit_test(a_session_without_link_figures_reports_them_unknown),
        cmocka_unit_test(a_damaged_block_is_skipped_not_fatal),
        cmocka_unit_test(steady_load_follows_its_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
