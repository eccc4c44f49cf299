/* The virtual roller: determinism, physics against its own ground truth,
 * wire faults seen through the real decoder, and firmware commands. */
#include "testutil.h"

#include <math.h>

/* Frames the host side collects from the virtual device. */
typedef struct wire_log {
    rm_decoder decoder;
    size_t samples, infos, resets, buttons, acks, statuses;
    size_t tares_done, tared_samples;
    size_t sample_frames;
    rm_frame last_info;
    uint16_t first_seq_after_reset;
    bool want_seq_after_reset;
} wire_log;

static rm_sim *new_sim(const char *options)
{
    rm_sim_config c;
    rm_error err;
    rm_sim *sim;
    rm_sim_config_default(&c);
    assert_int_equal(rm_sim_config_parse(&c, options, &err), RM_OK);
    assert_int_equal(rm_sim_new(&sim, &c, &err), RM_OK);
    return sim;
}

static void log_frame(wire_log *log, const rm_frame *f)
{
    if (log->want_seq_after_reset) {
        log->first_seq_after_reset = f->seq;
        log->want_seq_after_reset = false;
    }
    switch (f->type) {
    case RM_FRAME_SAMPLES:
        log->samples += f->u.samples.count;
        for (unsigned i = 0; i < f->u.samples.count; i++)
            log->tared_samples +=
                (f->u.samples.samples[i].flags & RM_SAMPLE_TARED) != 0;
        log->sample_frames++;
        break;
    case RM_FRAME_INFO:
        log->infos++;
        log->last_info = *f;
        break;
    case RM_FRAME_EVENT:
        log->resets += f->u.event.kind == RM_DEV_EVENT_RESET;
        log->buttons += f->u.event.kind == RM_DEV_EVENT_BUTTON;
        log->tares_done += f->u.event.kind == RM_DEV_EVENT_TARE_DONE;
        break;
    case RM_FRAME_ACK:
        log->acks++;
        break;
    case RM_FRAME_STATUS:
        log->statuses++;
        break;
    }
}

static void decode_into(wire_log *log, const uint8_t *data, size_t len)
{
    while (len > 0) {
        rm_frame f;
        bool have;
        size_t used = rm_decoder_push(&log->decoder, data, len, &f, &have);
        if (have)
            log_frame(log, &f);
        data += used;
        len -= used;
    }
}

/* Run the device for `periods` batch periods (all of it if 0). */
static size_t run_wire(rm_sim *sim, wire_log *log, size_t periods)
{
    uint8_t buf[RM_FRAME_MAX_WIRE * 4];
    size_t total = 0;
    for (size_t i = 0; (!periods || i < periods) && !rm_sim_finished(sim);
         i++) {
        size_t n = rm_sim_next_bytes(sim, buf, sizeof buf);
        decode_into(log, buf, n);
        total += n;
    }
    return total;
}

static void send_command(rm_sim *sim, rm_frame_type type, uint32_t rate)
{
    rm_frame f = {0};
    uint8_t wire[RM_FRAME_MAX_WIRE];
    f.type = (uint8_t)type;
    f.u.rate_hz = rate;
    size_t n = rm_frame_encode(&f, wire, sizeof wire);
    assert_true(n > 0);
    rm_sim_receive(sim, wire, n);
}

/* All bytes of a session, malloc'd. */
static uint8_t *session_bytes(const char *options, size_t *len)
{
    rm_sim *sim = new_sim(options);
    size_t cap = 1 << 20, n = 0;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    while (!rm_sim_finished(sim)) {
        if (cap - n < RM_FRAME_MAX_WIRE) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        n += rm_sim_next_bytes(sim, out + n, cap - n);
    }
    rm_sim_free(sim);
    *len = n;
    return out;
}

/* ---- Determinism -------------------------------------------------------- */

static void same_seed_gives_identical_bytes(void **state)
{
    (void)state;
    const char *opts = "seed=7,duration=30,autostart=1,drop=0.01,ber=1e-5";
    size_t a_len, b_len;
    uint8_t *a = session_bytes(opts, &a_len);
    uint8_t *b = session_bytes(opts, &b_len);
    assert_true(a_len > 100000);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
}

static void different_seed_gives_different_bytes(void **state)
{
    (void)state;
    size_t a_len, b_len;
    uint8_t *a = session_bytes("seed=7,duration=10,autostart=1", &a_len);
    uint8_t *b = session_bytes("seed=8,duration=10,autostart=1", &b_len);
    size_t n = a_len < b_len ? a_len : b_len;
    assert_true(n > 10000);
    assert_true(a_len != b_len || memcmp(a, b, n) != 0);
    free(a);
    free(b);
}

/* ---- Physics, from the samples ------------------------------------------ */

typedef struct recording {
    rm_sample *s;
    size_t n;
    double *position_cm;   /* from the encoder, 0 = most proximal loaded */
    double *force_n;       /* sum of the load cells, calibrated */
} recording;

static double total_force(const rm_device_info *info, const rm_sample *s)
{
    double f = 0;
    for (unsigned c = 0; c < info->channel_count; c++)
        if (info->channels[c].kind == RM_CHANNEL_LOAD_CELL)
            f += rm_channel_newtons(&info->channels[c], s->counts[c]);
    return f;
}

static double encoder_cm(const rm_device_info *info, int32_t encoder)
{
    return info->distal_direction * (double)encoder /
           info->encoder_counts_per_turn * M_PI * info->roller_diameter_mm /
           10;
}

/* Record the whole session; positions measured as the analysis does. */
static recording record(rm_sim *sim, double loaded_n)
{
    const rm_sim_config *c = rm_sim_config_of(sim);
    size_t cap = (size_t)(c->duration_s * c->sample_rate_hz) + 16;
    recording r = {calloc(cap, sizeof(rm_sample)), 0,
                   calloc(cap, sizeof(double)), calloc(cap, sizeof(double))};
    assert_non_null(r.s);
    const rm_device_info *info = rm_sim_info(sim);
    double proximal = INFINITY;
    while (r.n < cap && rm_sim_next_sample(sim, &r.s[r.n])) {
        r.force_n[r.n] = total_force(info, &r.s[r.n]);
        r.position_cm[r.n] = encoder_cm(info, r.s[r.n].encoder);
        if (r.force_n[r.n] > loaded_n)
            proximal = fmin(proximal, r.position_cm[r.n]);
        r.n++;
    }
    for (size_t i = 0; i < r.n; i++)
        r.position_cm[i] -= proximal;
    return r;
}

static void recording_free(recording *r)
{
    free(r->s);
    free(r->position_cm);
    free(r->force_n);
}

static double weight_n(const rm_sim *sim)
{
    return rm_sim_config_of(sim)->body_mass_kg * 9.80665;
}

static void mean_force_under_load_is_the_configured_share_of_weight(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=3,duration=300,rate=200,mass=82,"
                          "load_min=40,load_max=40");
    double w = weight_n(sim);
    recording r = record(sim, 0.1 * w);
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < r.n; i++)
        if (r.force_n[i] > 0.2 * w) {
            sum += r.force_n[i];
            n++;
        }
    assert_true(n > r.n / 2);
    double pct = 100 * sum / n / w;
    assert_true(pct > 34 && pct < 44);
    recording_free(&r);
    rm_sim_free(sim);
}

static bool in_dwell(const rm_sim_dwell *d, size_t n, double t)
{
    for (size_t i = 0; i < n; i++)
        if (t >= d[i].start_s - 1 && t <= d[i].end_s + 1)
            return true;
    return false;
}

static void strokes_have_the_configured_speed_and_cadence(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=11,duration=400,rate=100,cadence=30,"
                          "speed=2.5");
    double w = weight_n(sim);
    recording r = record(sim, 0.1 * w);
    size_t dwell_count;
    const rm_sim_dwell *dwells = rm_sim_dwells(sim, &dwell_count);
    /* Count turns (with 3 mm hysteresis) while rolling under load. */
    const double dt = 0.01, hysteresis = 0.3;
    double rolling_s = 0, distance = 0, extreme = NAN;
    int direction = 0;
    size_t strokes = 0;
    bool was_rolling = false;
    for (size_t i = 0; i < r.n; i++) {
        double t = (double)r.s[i].t_us / 1e6, p = r.position_cm[i];
        bool rolling = r.force_n[i] > 0.2 * w &&
                       !in_dwell(dwells, dwell_count, t);
        if (rolling && was_rolling) {
            rolling_s += dt;
            distance += fabs(p - r.position_cm[i - 1]);
        }
        was_rolling = rolling;
        if (!rolling)
            continue;
        if (isnan(extreme) || direction * (p - extreme) > 0) {
            extreme = p;
        } else if (direction == 0 && fabs(p - extreme) > hysteresis) {
            direction = p > extreme ? 1 : -1;
            extreme = p;
        } else if (direction * (extreme - p) > hysteresis) {
            strokes++;
            direction = -direction;
            extreme = p;
        }
    }
    double cadence = strokes / (rolling_s / 60);
    double speed = distance / rolling_s;
    assert_true(rolling_s > 60);
    assert_true(cadence >= 15 && cadence <= 40);
    assert_true(speed >= 1.5 && speed <= 3.5);
    recording_free(&r);
    rm_sim_free(sim);
}

static void dwells_stay_where_the_truth_says(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=5,duration=600,rate=100,spots=4,"
                          "other_dwells=0.8");
    recording r = record(sim, 0.1 * weight_n(sim));
    size_t n;
    const rm_sim_dwell *d = rm_sim_dwells(sim, &n);
    const rm_sim_config *c = rm_sim_config_of(sim);
    size_t spot_count;
    const rm_sim_spot *spots = rm_sim_spots(sim, &spot_count);
    assert_true(n >= 3);
    bool saw_other = false;
    for (size_t k = 0; k < n; k++) {
        saw_other |= d[k].spot < 0;
        if (d[k].spot >= 0) {
            assert_true((size_t)d[k].spot < spot_count);
            assert_true(d[k].position_cm == spots[d[k].spot].position_cm);
        }
        if (d[k].end_s < c->duration_s)
            assert_true(d[k].end_s - d[k].start_s >= c->dwell_min_s &&
                        d[k].end_s - d[k].start_s <= c->dwell_max_s);
        for (size_t i = 0; i < r.n; i++) {
            double t = (double)r.s[i].t_us / 1e6;
            if (t >= d[k].start_s && t <= d[k].end_s)
                assert_true(fabs(r.position_cm[i] - d[k].position_cm) <= 1.5);
        }
    }
    assert_true(saw_other);
    recording_free(&r);
    rm_sim_free(sim);
}

static void whole_leg_is_rolled_and_spots_lie_on_it(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=9,duration=200,rate=100,leg=38,spots=6");
    double w = weight_n(sim);
    recording r = record(sim, 0.1 * w);
    double far = 0;
    for (size_t i = 0; i < r.n; i++)
        if (r.force_n[i] > 0.1 * w)
            far = fmax(far, r.position_cm[i]);
    assert_true(fabs(far - 38) < 0.2);
    size_t n;
    const rm_sim_spot *spots = rm_sim_spots(sim, &n);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_true(spots[i].position_cm > 0 && spots[i].position_cm < 38);
        assert_true(spots[i].side == RM_ML_MEDIAL ||
                    spots[i].side == RM_ML_LATERAL);
        assert_true(spots[i].severity > 0 && spots[i].severity <= 1);
    }
    recording_free(&r);
    rm_sim_free(sim);
}

/* Load centre from the two end caps, mm from the left end. */
static double load_centre_mm(const rm_device_info *info, const rm_sample *s)
{
    double left = rm_channel_newtons(&info->channels[0], s->counts[0]);
    double right = rm_channel_newtons(&info->channels[1], s->counts[1]);
    return info->roller_width_mm * right / (left + right);
}

static void leaning_onto_a_medial_spot_moves_load_toward_the_other_leg(void **state)
{
    (void)state;
    /* side=right: medial is toward the left end (smaller position_mm) */
    for (int side = 0; side < 2; side++) {
        rm_sim *sim = new_sim(side ? "seed=21,duration=400,rate=100,side=left"
                                   : "seed=21,duration=400,rate=100,side=right");
        recording r = record(sim, 0.1 * weight_n(sim));
        size_t n, spots_n;
        const rm_sim_dwell *d = rm_sim_dwells(sim, &n);
        const rm_sim_spot *spots = rm_sim_spots(sim, &spots_n);
        const rm_device_info *info = rm_sim_info(sim);
        size_t checked = 0;
        for (size_t k = 0; k < n; k++) {
            if (d[k].spot < 0)
                continue;
            double sum = 0;
            size_t m = 0;
            for (size_t i = 0; i < r.n; i++) {
                double t = (double)r.s[i].t_us / 1e6;
                if (t >= d[k].start_s + 5 && t <= d[k].end_s)
                    sum += load_centre_mm(info, &r.s[i]), m++;
            }
            double shift = sum / m - info->roller_width_mm / 2;
            bool medial = spots[d[k].spot].side == RM_ML_MEDIAL;
            bool toward_left = shift < -5;
            bool toward_right = shift > 5;
            assert_true(toward_left || toward_right);
            assert_true(toward_left == (medial != (side == 1)));
            checked++;
        }
        assert_true(checked > 0);
        recording_free(&r);
        rm_sim_free(sim);
    }
}

/* Size of the fast (tremor) part of a force window: the RMS of the force
 * minus its 50 ms moving average, which removes the slow < 4 Hz part. */
static double tremor_rms(const double *f, size_t n)
{
    const size_t k = 50; /* samples: 50 ms at 1 kHz */
    double sum = 0;
    size_t m = 0;
    for (size_t i = k; i + k < n; i++) {
        double avg = 0;
        for (size_t j = i - k / 2; j < i + k / 2; j++)
            avg += f[j];
        double d = f[i] - avg / k;
        sum += d * d;
        m++;
    }
    return sqrt(sum / m);
}

static void severe_spots_bring_more_tremor(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=4,duration=300,spots=3,other_dwells=1,"
                          "noise=0,hum_counts=0,tremor=8");
    recording r = record(sim, 0.1 * weight_n(sim));
    size_t n, spots_n;
    const rm_sim_dwell *d = rm_sim_dwells(sim, &n);
    const rm_sim_spot *spots = rm_sim_spots(sim, &spots_n);
    double on_spot = 0, elsewhere = 0;
    for (size_t k = 0; k < n; k++) {
        size_t from = (size_t)(d[k].start_s * 1000) + 2000;
        size_t to = (size_t)(d[k].end_s * 1000);
        if (to > r.n || to < from + 2000)
            continue;
        double mean = 0;
        for (size_t i = from; i < to; i++)
            mean += r.force_n[i];
        mean /= (double)(to - from);
        double rel = tremor_rms(r.force_n + from, to - from) / mean;
        if (d[k].spot >= 0 && spots[d[k].spot].severity > 0.5)
            on_spot = fmax(on_spot, rel);
        else if (d[k].spot < 0)
            elsewhere = fmax(elsewhere, rel);
    }
    assert_true(on_spot > 0 && elsewhere > 0);
    assert_true(on_spot > 2 * elsewhere);
    recording_free(&r);
    rm_sim_free(sim);
}

static void ball_has_no_encoder_and_presses_in_time(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("kind=ball,seed=2,duration=300,rate=100");
    const rm_device_info *info = rm_sim_info(sim);
    assert_int_equal(info->device_kind, RM_DEVICE_BALL);
    assert_int_equal(info->encoder_counts_per_turn, 0);
    assert_int_equal(info->channel_count, 1);
    double w = weight_n(sim);
    recording r = record(sim, 0.1 * w);
    size_t n;
    const rm_sim_dwell *d = rm_sim_dwells(sim, &n);
    assert_true(n >= 2);
    for (size_t i = 0; i < r.n; i++) {
        double t = (double)r.s[i].t_us / 1e6;
        assert_int_equal(r.s[i].encoder, 0);
        bool pressing = in_dwell(d, n, t);
        if (!pressing)
            assert_true(r.force_n[i] < 0.6 * rm_sim_config_of(sim)->load_max_pct / 100 * w);
    }
    for (size_t k = 0; k < n; k++) {
        size_t mid = (size_t)((d[k].start_s + d[k].end_s) / 2 * 100);
        if (mid < r.n)
            assert_true(r.force_n[mid] > 0.1 * w);
    }
    recording_free(&r);
    rm_sim_free(sim);
}

static void marks_flag_samples_at_severe_spots(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=6,duration=600,rate=100,spots=4,mark_at=0");
    recording r = record(sim, 0.1 * weight_n(sim));
    size_t n, flagged = 0;
    const rm_sim_mark *m = rm_sim_marks(sim, &n);
    for (size_t i = 0; i < r.n; i++)
        flagged += (r.s[i].flags & RM_SAMPLE_MARK) != 0;
    assert_true(n > 0);
    assert_int_equal(flagged, n);
    for (size_t k = 0; k < n; k++)
        assert_true(m[k].spot >= 0);
    recording_free(&r);
    rm_sim_free(sim);
}

/* FSR reading per newton on the load cell, averaged over 1 s from t_s. */
static double fsr_per_newton(const recording *r, const rm_device_info *info,
                             double t_s)
{
    size_t from = (size_t)(t_s * 1000), n = 0;
    double ratio = 0;
    for (size_t i = from; i < from + 1000 && i < r->n; i++, n++)
        ratio += rm_channel_newtons(&info->channels[1], r->s[i].counts[1]) /
                 r->force_n[i];
    return ratio / n;
}

/* Ratio of the FSR's reading 60 s and 5 s into the first long press.
 * Without tender spots the person does not lean: the load stays centred
 * over the single pressure cell. */
static double creep_over_a_press(const char *options)
{
    rm_sim *sim = new_sim(options);
    const rm_device_info *info = rm_sim_info(sim);
    recording r = record(sim, 0);
    size_t loaded = 0;
    while (loaded < r.n &&
           rm_channel_newtons(&info->channels[1], r.s[loaded].counts[1]) < 0.5)
        loaded++;
    double t0 = (double)r.s[loaded].t_us / 1e6;
    double ratio = fsr_per_newton(&r, info, t0 + 59.5) /
                   fsr_per_newton(&r, info, t0 + 4.5);
    recording_free(&r);
    rm_sim_free(sim);
    return ratio;
}

static void fsr_creeps_under_a_steady_press(void **state)
{
    (void)state;
    const char *common = "kind=ball,pressure_cells=1,spots=0,other_dwells=0,"
                         "dwell_min=80,dwell_max=85,duration=120,noise=0,"
                         "unload=0,tremor=0,seed=8";
    char options[256];
    snprintf(options, sizeof options, "%s,creep=0.12", common);
    double with_creep = creep_over_a_press(options);
    snprintf(options, sizeof options, "%s,creep=0", common);
    double without = creep_over_a_press(options);
    assert_true(with_creep > 0.85 && with_creep < 0.91);
    assert_true(without > 0.98 && without < 1.02);
}

/* FSR reading per newton at half load on the way down over the same on
 * the way up, for the first press (its dwell runs from half load to half
 * load). */
static double hysteresis_over_a_press(const char *options)
{
    rm_sim *sim = new_sim(options);
    const rm_device_info *info = rm_sim_info(sim);
    recording r = record(sim, 0);
    size_t n;
    const rm_sim_dwell *d = rm_sim_dwells(sim, &n);
    assert_true(n > 0);
    double up = 0, down = 0;
    for (int k = -50; k < 50; k++) { /* +/- 50 ms around each */
        size_t a = (size_t)(d[0].start_s * 1000 + k);
        size_t b = (size_t)(d[0].end_s * 1000 + k);
        up += rm_channel_newtons(&info->channels[1], r.s[a].counts[1]) /
              r.force_n[a];
        down += rm_channel_newtons(&info->channels[1], r.s[b].counts[1]) /
                r.force_n[b];
    }
    recording_free(&r);
    rm_sim_free(sim);
    return down / up;
}

static void fsr_reads_high_while_unloading(void **state)
{
    (void)state;
    const char *common = "kind=ball,pressure_cells=1,spots=0,other_dwells=0,"
                         "dwell_min=20,dwell_max=25,duration=60,noise=0,"
                         "creep=0,tremor=0,seed=9";
    char options[256];
    snprintf(options, sizeof options, "%s,hysteresis=0.1", common);
    double with = hysteresis_over_a_press(options);
    snprintf(options, sizeof options, "%s,hysteresis=0", common);
    double without = hysteresis_over_a_press(options);
    assert_true(with > 1.03 && with < 1.15);
    assert_true(without > 0.99 && without < 1.01);
}

static void unloaded_channels_show_the_mains_hum(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("hum=60,hum_counts=20,noise=0,drift=0");
    rm_sample s;
    int32_t first = 0;
    size_t crossings = 0, n = 0;
    bool above = false;
    /* the leg is lifted for the first second */
    for (; n < 900 && rm_sim_next_sample(sim, &s); n++) {
        if (n == 0)
            first = s.counts[0];
        bool now = s.counts[0] > first;
        crossings += n > 0 && now != above;
        above = now;
    }
    /* 60 Hz: two crossings a cycle, 54 cycles in 0.9 s */
    assert_true(crossings >= 104 && crossings <= 112);
    rm_sim_free(sim);
}

static void an_hour_of_drift_never_clips_a_channel(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=22,duration=3600,rate=10,drift=20,noise=0,"
                          "hum_counts=0,load_max=35");
    const rm_device_info *info = rm_sim_info(sim);
    rm_sample s, last_rest = {0};
    size_t saturated = 0;
    while (rm_sim_next_sample(sim, &s)) {
        saturated += (s.flags & RM_SAMPLE_SATURATED) != 0;
        if (rm_channel_newtons(&info->channels[0], s.counts[0]) < 2 &&
            rm_channel_newtons(&info->channels[1], s.counts[1]) < 2)
            last_rest = s;
    }
    assert_int_equal(saturated, 0);
    /* an unloaded channel late in the hour is off by at most 10 x drift */
    assert_true(last_rest.t_us > 3000000000u);
    for (unsigned c = 2; c < info->channel_count; c++)
        assert_true(fabs(last_rest.counts[c] -
                         info->channels[c].offset_counts) <= 200 + 1);
    rm_sim_free(sim);
}

/* ---- Wire faults ---------------------------------------------------------- */

static void dropped_frames_show_as_sequence_gaps(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=12,duration=60,autostart=1,drop=0.05");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    run_wire(sim, &log, 0);
    const rm_sim_wire_stats *ws = rm_sim_wire_stats_of(sim);
    assert_true(ws->frames_dropped > 100);
    assert_int_equal(log.decoder.stats.frames_lost, ws->frames_dropped);
    assert_int_equal(log.decoder.stats.crc_errors, 0);
    assert_int_equal(log.samples + ws->frames_dropped * 10, 60000);
    rm_sim_free(sim);
}

static void bit_errors_corrupt_frames_the_decoder_rejects(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=13,duration=30,autostart=1,ber=2e-5");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    run_wire(sim, &log, 0);
    const rm_sim_wire_stats *ws = rm_sim_wire_stats_of(sim);
    const rm_decoder_stats *ds = &log.decoder.stats;
    assert_true(ws->frames_corrupted > 10);
    assert_true(ds->crc_errors + ds->malformed > 0);
    /* every corrupted frame is lost, and may take a neighbour with it */
    assert_true(ds->frames_ok <= ws->frames_sent - ws->frames_corrupted);
    assert_true(ds->frames_ok >= ws->frames_sent - 3 * ws->frames_corrupted);
    rm_sim_free(sim);
}

static void unplug_goes_quiet_then_the_device_boots_again(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=14,duration=10,autostart=1,unplug=3,"
                          "unplug_for=2");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    uint8_t buf[RM_FRAME_MAX_WIRE * 4];
    size_t quiet_periods = 0;
    while (!rm_sim_finished(sim)) {
        bool was_unplugged = rm_sim_unplugged(sim);
        size_t n = rm_sim_next_bytes(sim, buf, sizeof buf);
        if (rm_sim_unplugged(sim)) {
            assert_int_equal(n, 0);
            quiet_periods++;
        }
        if (was_unplugged && !rm_sim_unplugged(sim))
            log.want_seq_after_reset = true;
        decode_into(&log, buf, n);
    }
    /* 2 s of 10 ms periods, give or take the edges */
    assert_true(quiet_periods >= 199 && quiet_periods <= 201);
    assert_int_equal(rm_sim_wire_stats_of(sim)->boots, 2);
    assert_int_equal(log.resets, 2);
    assert_int_equal(log.infos, 2);
    assert_int_equal(log.first_seq_after_reset, 0);
    assert_true(log.samples >= 7900 && log.samples <= 8000);
    rm_sim_free(sim);
}

static void reset_restarts_sequence_and_resends_info(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=15,duration=5,autostart=1,reset=2");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    run_wire(sim, &log, 0);
    assert_int_equal(log.resets, 2);
    assert_int_equal(log.infos, 2);
    assert_int_equal(log.decoder.stats.frames_lost, 0);
    /* after the reset the device clock started again near 0 */
    assert_true(log.last_info.t_us < 100000);
    rm_sim_free(sim);
}

/* ---- Commands ------------------------------------------------------------ */

static void identify_is_answered_with_info(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=16,duration=5,pressure_cells=3");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    run_wire(sim, &log, 5);
    assert_int_equal(log.infos, 1); /* at power-up */
    send_command(sim, RM_CMD_IDENTIFY, 0);
    run_wire(sim, &log, 1);
    assert_int_equal(log.infos, 2);
    const rm_device_info *info = &log.last_info.u.info;
    assert_int_equal(info->channel_count, 5);
    assert_string_equal(info->serial, rm_sim_info(sim)->serial);
    assert_int_equal(info->encoder_counts_per_turn, 4096);
    assert_true(info->channels[2].kind == RM_CHANNEL_PRESSURE_CELL);
    rm_sim_free(sim);
}

static void samples_flow_only_between_start_and_stop(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=17,duration=20");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    run_wire(sim, &log, 100);
    assert_int_equal(log.samples, 0);
    send_command(sim, RM_CMD_START, 0);
    run_wire(sim, &log, 101); /* the ACK, then 100 periods */
    assert_int_equal(log.samples, 1000);
    assert_int_equal(log.acks, 1);
    send_command(sim, RM_CMD_STOP, 0);
    run_wire(sim, &log, 100);
    assert_int_equal(log.samples, 1000);
    assert_int_equal(log.acks, 2);
    rm_sim_free(sim);
}

static void tare_is_acknowledged_and_flags_the_next_sample(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=20,duration=5,autostart=1");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    run_wire(sim, &log, 10);
    assert_int_equal(log.tared_samples, 0);
    send_command(sim, RM_CMD_TARE, 0);
    run_wire(sim, &log, 20);
    assert_int_equal(log.acks, 1);
    assert_int_equal(log.tares_done, 1);
    assert_int_equal(log.tared_samples, 1);
    rm_sim_free(sim);
}

static void set_rate_changes_the_sample_clock(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=18,duration=20,autostart=1");
    wire_log log = {0};
    rm_decoder_init(&log.decoder);
    send_command(sim, RM_CMD_SET_RATE, 200);
    run_wire(sim, &log, 1);
    uint64_t t0 = rm_sim_time_us(sim);
    run_wire(sim, &log, 10);
    assert_int_equal(rm_sim_time_us(sim) - t0, 10 * 10 * 5000);
    assert_int_equal(rm_sim_info(sim)->sample_rate_hz, 200);
    send_command(sim, RM_CMD_SET_RATE, 5); /* refused: below 10 Hz */
    run_wire(sim, &log, 1);
    assert_int_equal(rm_sim_info(sim)->sample_rate_hz, 200);
    rm_sim_free(sim);
}

/* ---- Configuration and truth --------------------------------------------- */

static void config_keys_are_applied(void **state)
{
    (void)state;
    rm_sim_config c;
    rm_sim_config_default(&c);
    assert_int_equal(rm_sim_config_parse(&c, " kind=ball, spots=4 ,"
                                         "unplug=10/20.5,side=left,"
                                         "seed=0x10,autostart=yes", NULL),
                     RM_OK);
    assert_int_equal(c.device_kind, RM_DEVICE_BALL);
    assert_int_equal(c.load_cells, 1);
    assert_int_equal(c.pressure_cells, 0);
    assert_int_equal(c.spot_count, 4);
    assert_int_equal(c.unplug_count, 2);
    assert_true(c.unplug_at_s[1] == 20.5);
    assert_int_equal(c.side, RM_SIDE_LEFT);
    assert_int_equal(c.seed, 16);
    assert_true(c.autostart);
}

static void pinned_spots_are_acted_out_where_given(void **state)
{
    (void)state;
    rm_sim_config c;
    rm_sim *sim;
    size_t n;
    rm_sim_config_default(&c);
    assert_int_equal(rm_sim_config_parse(&c, "spot_at=12.5:medial:0.9/26:lateral:0.4,"
                                         "duration=300", NULL), RM_OK);
    assert_int_equal(c.spot_count, 2);
    assert_int_equal(rm_sim_new(&sim, &c, NULL), RM_OK);
    const rm_sim_spot *spots = rm_sim_spots(sim, &n);
    assert_int_equal(n, 2);
    assert_true(spots[0].position_cm == 12.5 && spots[0].side == RM_ML_MEDIAL &&
                spots[0].severity == 0.9);
    assert_true(spots[1].position_cm == 26 && spots[1].side == RM_ML_LATERAL &&
                spots[1].severity == 0.4);
    rm_sim_free(sim);
}

static void pinned_spot_beyond_the_leg_is_refused(void **state)
{
    (void)state;
    rm_sim_config c;
    rm_sim *sim;
    rm_error err;
    rm_sim_config_default(&c);
    assert_int_equal(rm_sim_config_parse(&c, "leg=30,spot_at=31:medial:0.5", NULL), RM_OK);
    assert_int_equal(rm_sim_new(&sim, &c, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "beyond the leg"));
}

static void bad_options_are_named_in_the_error(void **state)
{
    (void)state;
    static const struct { const char *options, *expect; } cases[] = {
        {"mass=80kg", "'mass': '80kg' is not a number"},
        {"leg=5", "'leg': 5 is outside"},
        {"colour=red", "'colour': unknown key"},
        {"spots=2.5", "'spots': '2.5' is not a whole number"},
        {"unplug=20/10", "times must rise"},
        {"kind=sock", "'kind': 'sock'"},
        {"rate", "'rate': expected key=value"},
        {"spot_at=12:middle:0.5", "'spot_at': expected POSITION_CM"},
        {"spot_at=12:medial:1.5", "'spot_at': expected POSITION_CM"},
        {"spot_at=12:medial", "'spot_at': expected POSITION_CM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rm_sim_config c;
        rm_error err;
        rm_sim_config_default(&c);
        assert_int_equal(rm_sim_config_parse(&c, cases[i].options, &err),
                         RM_ERR_ARG);
        assert_non_null(strstr(err.message, cases[i].expect));
    }
    rm_sim_config c;
    rm_error err;
    rm_sim *sim;
    rm_sim_config_default(&c);
    c.load_cells = 2;
    c.pressure_cells = 15;
    assert_int_equal(rm_sim_new(&sim, &c, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "pressure_cells"));
}

static void truth_json_holds_the_dwells_and_spots(void **state)
{
    (void)state;
    rm_sim *sim = new_sim("seed=19,duration=200,rate=100,spots=5");
    rm_sample s;
    while (rm_sim_next_sample(sim, &s))
        ;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rm_error err;
    assert_int_equal(rm_sim_write_truth(sim, f, &err), RM_OK);
    fclose(f);
    rm_json *root;
    assert_int_equal(rm_json_parse(&root, text, len, &err), RM_OK);
    size_t dwells, spots;
    rm_sim_dwells(sim, &dwells);
    rm_sim_spots(sim, &spots);
    assert_int_equal(rm_json_length(rm_json_get(root, "dwells")), dwells);
    assert_int_equal(rm_json_length(rm_json_get(root, "spots")), spots);
    const rm_json *d0 = rm_json_at(rm_json_get(root, "dwells"), 0);
    assert_true(rm_json_as_number(rm_json_get(d0, "end_s"), 0) >
                rm_json_as_number(rm_json_get(d0, "start_s"), 1e9));
    const rm_json *config = rm_json_get(root, "config");
    assert_string_equal(rm_json_as_string(rm_json_get(config, "seed"), ""),
                        "19");
    assert_true(rm_json_as_number(rm_json_get(root, "leg_length_cm"), 0) == 35);
    rm_json_free(root);
    free(text);
    rm_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_gives_identical_bytes),
        cmocka_unit_test(pinned_spots_are_acted_out_where_given),
        cmocka_unit_test(pinned_spot_beyond_the_leg_is_refused),
        cmocka_unit_test(different_seed_gives_different_bytes),
        cmocka_unit_test(mean_force_under_load_is_the_configured_share_of_weight),
        cmocka_unit_test(strokes_have_the_configured_speed_and_cadence),
        cmocka_unit_test(dwells_stay_where_the_truth_says),
        cmocka_unit_test(whole_leg_is_rolled_and_spots_lie_on_it),
        cmocka_unit_test(leaning_onto_a_medial_spot_moves_load_toward_the_other_leg),
        cmocka_unit_test(severe_spots_bring_more_tremor),
        cmocka_unit_test(ball_has_no_encoder_and_presses_in_time),
        cmocka_unit_test(marks_flag_samples_at_severe_spots),
        cmocka_unit_test(fsr_creeps_under_a_steady_press),
        cmocka_unit_test(fsr_reads_high_while_unloading),
        cmocka_unit_test(unloaded_channels_show_the_mains_hum),
        cmocka_unit_test(an_hour_of_drift_never_clips_a_channel),
        cmocka_unit_test(dropped_frames_show_as_sequence_gaps),
        cmocka_unit_test(bit_errors_corrupt_frames_the_decoder_rejects),
        cmocka_unit_test(unplug_goes_quiet_then_the_device_boots_again),
        cmocka_unit_test(reset_restarts_sequence_and_resends_info),
        cmocka_unit_test(identify_is_answered_with_info),
        cmocka_unit_test(samples_flow_only_between_start_and_stop),
        cmocka_unit_test(tare_is_acknowledged_and_flags_the_next_sample),
        cmocka_unit_test(set_rate_changes_the_sample_clock),
        cmocka_unit_test(config_keys_are_applied),
        cmocka_unit_test(bad_options_are_named_in_the_error),
        cmocka_unit_test(truth_json_holds_the_dwells_and_spots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
