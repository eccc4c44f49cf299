/* Conditioning: calibration, mains hum, anti-aliased decimation, offset
 * drift, FSR creep, pressure, gaps, saturation, calibration age, vibration
 * and the errors for bad input. Sessions are synthesised sample by sample
 * from known forces, so every expected value is computed, not recorded. */
#include "testutil.h"
#include "analysis_internal.h"  /* the conditioner's channels, one by one */

#include <math.h>

#define RATE 1000
#define LOAD_GAIN 0.05     /* N per count */
#define LOAD_OFFSET 1000.0
#define CELL_GAIN 0.01
#define CELL_OFFSET 200.0
#define CELL_AREA 100.0    /* mm^2 */

typedef struct session {
    rm_device_info info;
    rm_session_meta meta;
    rm_sample *s;
    size_t n;
    uint64_t noise;
} session;

/* Two end-cap load cells (at 0 and 400 mm) and/or pressure cells spread
 * between 100 and 300 mm. */
static void device_init(rm_device_info *d, unsigned load_cells,
                        unsigned cells)
{
    memset(d, 0, sizeof *d);
    strcpy(d->model, "test roller");
    d->sample_rate_hz = RATE;
    d->encoder_counts_per_turn = 4096;
    d->roller_diameter_mm = 150.0f;
    d->roller_width_mm = 400.0f;
    d->distal_direction = 1;
    for (unsigned k = 0; k < load_cells; k++) {
        rm_channel_info *c = &d->channels[d->channel_count++];
        c->kind = RM_CHANNEL_LOAD_CELL;
        c->position_mm = k ? 400.0f : 0.0f;
        c->gain_n_per_count = (float)LOAD_GAIN;
        c->offset_counts = (float)LOAD_OFFSET;
    }
    for (unsigned k = 0; k < cells; k++) {
        rm_channel_info *c = &d->channels[d->channel_count++];
        c->kind = RM_CHANNEL_PRESSURE_CELL;
        c->position_mm = 100.0f + 200.0f * (float)k /
                                      (float)(cells > 1 ? cells - 1 : 1);
        c->area_mm2 = (float)CELL_AREA;
        c->gain_n_per_count = (float)CELL_GAIN;
        c->offset_counts = (float)CELL_OFFSET;
    }
    rm_device_info_default_calibration(d);
}

static void session_init(session *x, unsigned load_cells, unsigned cells,
                         double seconds)
{
    memset(x, 0, sizeof *x);
    device_init(&x->info, load_cells, cells);
    x->n = (size_t)(seconds * RATE);
    x->s = calloc(x->n, sizeof *x->s);
    x->noise = 12345;
    for (size_t i = 0; i < x->n; i++)
        x->s[i].t_us = 5000000 + (uint64_t)i * (1000000 / RATE);
}

/* A uniform value in [-0.5, 0.5) from a 64-bit LCG's state. */
static double noise(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / (double)(1ull << 53) - 0.5;
}

/* Up to half a count of dither, like an ADC's last bit. */
static double dither(session *x)
{
    return noise(&x->noise);
}

static void set_newtons(session *x, size_t i, unsigned ch, double newtons)
{
    const rm_channel_info *c = &x->info.channels[ch];
    double counts = c->offset_counts + newtons / c->gain_n_per_count;
    x->s[i].counts[ch] = (int32_t)lround(counts + dither(x));
}

static double t_of(size_t i)
{
    return (double)i / RATE;
}

static rm_analysis *analyse(session *x, const rm_analysis_config *cfg)
{
    rm_analysis *a = NULL;
    rm_error err;
    rm_status st = rm_analyse_samples(&x->info, &x->meta, x->s, x->n, NULL, 0,
                                      NULL, 0, cfg, &a, &err);
    if (st != RM_OK)
        fail_msg("analysis failed: %s", err.message);
    return a;
}

/* Mean and standard deviation of the force over [from_s, to_s). */
static void force_stats(const rm_analysis *a, double from_s, double to_s,
                        double *mean, double *sd)
{
    double sum = 0.0, sum2 = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < a->series.n; i++)
        if (a->series.t_s[i] >= from_s && a->series.t_s[i] < to_s) {
            sum += a->series.force_n[i];
            sum2 += a->series.force_n[i] * a->series.force_n[i];
            n++;
        }
    assert_true(n > 0);
    *mean = sum / (double)n;
    *sd = sqrt(fmax(sum2 / (double)n - *mean * *mean, 0.0));
}

static void free_session(session *x)
{
    free(x->s);
}

static void uses_each_channels_calibration_polynomial(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 0, 10.0);
    for (unsigned k = 0; k < 2; k++) {
        x.info.channels[k].cal.coef[1] = 0.05;
        x.info.channels[k].cal.coef[2] = 2e-6;
        x.info.channels[k].cal.tare_counts = 1000.0;
    }
    for (size_t i = 0; i < x.n; i++)
        for (unsigned k = 0; k < 2; k++)
            x.s[i].counts[k] = 1000 + 4000;   /* 200 N + 32 N each */
    rm_analysis *a = analyse(&x, NULL);
    double mean, sd;
    force_stats(a, 2.0, 8.0, &mean, &sd);
    assert_true(fabs(mean - 464.0) < 0.01);
    assert_int_equal(a->has_pressure, false);
    assert_true(isnan(a->summary.mean_pressure_kpa));
    rm_analysis_free(a);
    free_session(&x);
}

/* Analysis rates at which the hum goes two ways: at 100 Hz the 50 and
 * 60 Hz lines lie in the decimating filter's stop band, which removes
 * them; at 250 Hz they lie in its pass band, so the notch does. */
static const double HUM_RATES_HZ[] = {100.0, 250.0};

static rm_analysis *loaded_with_hum(double hum_hz, double hum_n,
                                    double analysis_rate_hz)
{
    session x;
    session_init(&x, 2, 4, 12.0);
    for (size_t i = 0; i < x.n; i++) {
        double hum = hum_n * sin(2.0 * M_PI * hum_hz * t_of(i));
        for (unsigned k = 0; k < 2; k++)
            set_newtons(&x, i, k, 150.0 + hum);
        for (unsigned k = 2; k < 6; k++)
            set_newtons(&x, i, k, 10.0 + hum / 10.0);
    }
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.analysis_rate_hz = analysis_rate_hz;
    rm_analysis *a = analyse(&x, &cfg);
    free_session(&x);
    return a;
}

static void detects_and_removes_mains_hum(void **state)
{
    (void)state;
    static const double mains[] = {50.0, 60.0};
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 2; k++) {
            rm_analysis *a = loaded_with_hum(mains[k], 20.0, HUM_RATES_HZ[r]);
            double mean, sd;
            assert_true(a->quality.mains_hum_removed);
            assert_true(a->quality.mains_hz == mains[k]);
            force_stats(a, 2.0, 10.0, &mean, &sd);
            if (fabs(mean - 300.0) > 0.2 || sd > 0.2) /* 40 N p-p before */
                fail_msg("%g Hz hum at %g Hz: %.3f N, sd %.3f N", mains[k],
                         HUM_RATES_HZ[r], mean, sd);
            rm_analysis_free(a);
        }
    rm_analysis *clean = loaded_with_hum(50.0, 0.0, 100.0);
    assert_false(clean->quality.mains_hum_removed);
    assert_true(clean->quality.mains_hz == 0.0);
    rm_analysis_free(clean);
}

static void decimates_keeping_slow_force_and_rejecting_fast(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 0, 20.0);
    /* 5 Hz is in the band analysed; 73 Hz would alias to 27 Hz. */
    for (size_t i = 0; i < x.n; i++) {
        double f = 100.0 + 10.0 * sin(2.0 * M_PI * 5.0 * t_of(i)) +
                   10.0 * sin(2.0 * M_PI * 73.0 * t_of(i));
        set_newtons(&x, i, 0, f / 2.0);
        set_newtons(&x, i, 1, f / 2.0);
    }
    rm_analysis *a = analyse(&x, NULL);
    assert_true(a->series.rate_hz == 100.0);
    assert_true(a->series.n >= 1990 && a->series.n <= 2010);
    double err2 = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < a->series.n; i++) {
        double t = a->series.t_s[i];
        if (t < 1.0 || t > 19.0)
            continue;
        double want = 100.0 + 10.0 * sin(2.0 * M_PI * 5.0 * t);
        err2 += pow(a->series.force_n[i] - want, 2);
        n++;
    }
    assert_true(sqrt(err2 / (double)n) < 0.1);
    rm_analysis_free(a);
    free_session(&x);
}

static void removes_offset_drift_seen_while_unloaded(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 0, 130.0);   /* ends with a rest */
    /* 5 s off, 20 s at 200 N, repeated; each cell's zero drifts 4 N (the
     * total stays under half the load threshold, so rests are seen). */
    for (size_t i = 0; i < x.n; i++) {
        double t = t_of(i), drift = 4.0 * t / 125.0;
        double load = fmod(t, 25.0) >= 5.0 ? 100.0 : 0.0;
        set_newtons(&x, i, 0, load + drift);
        set_newtons(&x, i, 1, load + drift);
    }
    rm_analysis *a = analyse(&x, NULL);
    for (int rep = 0; rep < 5; rep++) {
        double mean, sd, start = 25.0 * rep;
        force_stats(a, start + 8.0, start + 22.0, &mean, &sd);
        assert_true(fabs(mean - 200.0) < 0.3);
        force_stats(a, start + 1.0, start + 4.0, &mean, &sd);
        assert_true(fabs(mean) < 0.3);
    }
    rm_analysis_free(a);
    free_session(&x);
}

/* A device tare re-zeroes the cells: the offset seen before it says
 * nothing of the one after. Each cell reads 2 N unloaded up to the tare
 * and 0 N from it on; both halves must come out at zero. The tare falls
 * on each of eight neighbouring samples in turn, so it lands at every
 * place of the vectors that stage the flags. */
static void a_tare_ends_the_offset_estimate(void **state)
{
    (void)state;
    for (size_t place = 0; place < 8; place++) {
        session x;
        session_init(&x, 2, 0, 30.0);
        size_t tare = 15000 + place;
        for (size_t i = 0; i < x.n; i++) {
            set_newtons(&x, i, 0, i < tare ? 2.0 : 0.0);
            set_newtons(&x, i, 1, i < tare ? 2.0 : 0.0);
        }
        x.s[tare].flags |= RM_SAMPLE_TARED;
        rm_analysis *a = analyse(&x, NULL);
        for (size_t i = 0; i < a->series.n; i++) {
            double t = a->series.t_s[i];
            if (fabs(t - t_of(tare)) > 1.0 && fabs(a->series.force_n[i]) > 0.1)
                fail_msg("tare at sample %zu: %.3f N at %.2f s", tare,
                         a->series.force_n[i], t);
        }
        rm_analysis_free(a);
        free_session(&x);
    }
}

static void undoes_fsr_creep_under_constant_load(void **state)
{
    (void)state;
    session x;
    session_init(&x, 0, 4, 100.0);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    /* The datasheet's creep: the reading falls 12 % from 5 s to 60 s,
     * linearly in log time (drift per decade). */
    double slope = 0.12 / (log10(61.0) - 0.88 * log10(6.0));
    for (size_t i = 0; i < x.n; i++) {
        double t = t_of(i) - 10.0;
        double reading = t < 0 ? 0.0 : 20.0 * (1.0 - slope * log10(1.0 + t));
        for (unsigned k = 0; k < 4; k++)
            set_newtons(&x, i, k, reading);
    }
    rm_analysis *a = analyse(&x, &cfg);
    double at5, at60, sd;
    force_stats(a, 14.5, 15.5, &at5, &sd);
    force_stats(a, 69.5, 70.5, &at60, &sd);
    assert_true(fabs(at5 - 80.0) < 0.8);
    assert_true(fabs(at60 - 80.0) < 0.8);
    /* Each loaded cell: 20 N over 100 mm^2 = 200 kPa. */
    size_t i = 5000;
    assert_true(fabs(a->series.pressure_kpa[i] - 200.0) < 2.0);
    assert_true(a->has_pressure);
    rm_analysis_free(a);
    free_session(&x);
}

static void pressure_is_the_mean_over_loaded_cells(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 4, 10.0);
    for (size_t i = 0; i < x.n; i++) {
        set_newtons(&x, i, 0, 60.0);
        set_newtons(&x, i, 1, 60.0);
        set_newtons(&x, i, 2, 10.0);   /* 100 kPa */
        set_newtons(&x, i, 3, 30.0);   /* 300 kPa */
        set_newtons(&x, i, 4, 0.0);
        set_newtons(&x, i, 5, 0.0);
    }
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.fsr_creep_pct = 0.0;      /* these cells hold their reading */
    rm_analysis *a = analyse(&x, &cfg);
    double mean, sd;
    force_stats(a, 2.0, 8.0, &mean, &sd);
    assert_true(fabs(mean - 120.0) < 0.1);   /* the load cells, not cells */
    assert_true(fabs(a->series.pressure_kpa[500] - 200.0) < 1.0);
    assert_true(fabs(a->summary.mean_pressure_kpa - 200.0) < 1.0);
    rm_analysis_free(a);
    free_session(&x);
}

/* Channels go through calibration and the notch four at a time: with 4,
 * 8, 12 and 16 channels the last one, alone in carrying a pressure cell's
 * load, must come out of every block as much as the first. */
static void condition_blocks_of_channels(unsigned cells,
                                         double analysis_rate_hz)
{
    session x;
    session_init(&x, 2, cells, 12.0);
    unsigned last = x.info.channel_count - 1;
    for (size_t i = 0; i < x.n; i++) {
        double hum = 20.0 * sin(2.0 * M_PI * 50.0 * t_of(i));
        set_newtons(&x, i, 0, 150.0 + hum);
        set_newtons(&x, i, 1, 150.0 + hum);
        for (unsigned k = 2; k < last; k++)
            set_newtons(&x, i, k, 0.0);
        set_newtons(&x, i, last, 20.0 + hum / 10.0);   /* 200 kPa */
    }
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.fsr_creep_pct = 0.0;
    cfg.analysis_rate_hz = analysis_rate_hz;
    rm_analysis *a = analyse(&x, &cfg);
    double mean, sd;
    force_stats(a, 2.0, 10.0, &mean, &sd);
    size_t at_2s = (size_t)(2.0 * a->series.rate_hz);
    if (!a->quality.mains_hum_removed || fabs(mean - 300.0) > 0.2 ||
        sd > 0.2 || fabs(a->series.pressure_kpa[at_2s] - 200.0) > 1.0)
        fail_msg("%u channels at %g Hz: hum removed %d, force %.3f N "
                 "(sd %.3f), pressure %.3f kPa", x.info.channel_count,
                 analysis_rate_hz, a->quality.mains_hum_removed, mean, sd,
                 a->series.pressure_kpa[at_2s]);
    rm_analysis_free(a);
    free_session(&x);
}

static void conditions_every_block_of_channels(void **state)
{
    (void)state;
    for (int r = 0; r < 2; r++)
        for (unsigned cells = 2; cells <= RM_MAX_CHANNELS - 2; cells += 4)
            condition_blocks_of_channels(cells, HUM_RATES_HZ[r]);
}

/* The session's samples through a conditioner (the first prefix_n of
 * them for its hum detection), handed over in parts of the sizes given,
 * in turn. */
static void condition_in_parts(const session *x, const rm_analysis_config *cfg,
                               size_t prefix_n, const size_t *parts,
                               size_t part_count, ana_channels *ch,
                               ana_raw_stats *raw)
{
    ana_conditioner *c;
    rm_error err;
    assert_int_equal(ana_conditioner_new(&c, &x->info, cfg, x->s, prefix_n,
                                         x->n, &err), RM_OK);
    for (size_t i = 0, k = 0, part; i < x->n; i += part, k++) {
        part = parts[k % part_count];
        part = part < x->n - i ? part : x->n - i;
        assert_int_equal(ana_conditioner_push(c, x->s + i, part, &err), RM_OK);
    }
    assert_int_equal(ana_conditioner_finish(c, ch, raw, &err), RM_OK);
}

/* Each channel a ramp of its own (100 + 10 k N, rising 50 N/s) and the
 * encoder one count a sample, handed to the conditioner in parts of
 * uneven sizes, with device tares at a few samples: for 1 to 16 channels
 * (one and two blocks of filter lanes, filled in part), every output of
 * every channel away from the ends is its ramp at the output's time (a
 * symmetric filter of unity gain passes a ramp), the output times are
 * every tenth sample's, and exactly the outputs standing for a tared
 * sample are marked tared. */
static void puts_each_output_in_its_channel_and_time(void **state)
{
    (void)state;
    static const size_t parts[] = {1, 7, 333, 1024, 2000, 5, 1500};
    static const size_t tares[] = {0, 999, 1000, 2345, 4999};
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.fsr_creep_pct = 0.0;
    for (unsigned channels = 1; channels <= RM_MAX_CHANNELS; channels++) {
        session x;
        unsigned load_cells = channels < 2 ? channels : 2;
        session_init(&x, load_cells, channels - load_cells, 5.0);
        for (size_t i = 0; i < x.n; i++) {
            for (unsigned k = 0; k < channels; k++) {
                const rm_channel_info *c = &x.info.channels[k];
                double newtons = 100.0 + 10.0 * k + 0.05 * (double)i;
                x.s[i].counts[k] = (int32_t)lround(c->offset_counts +
                                                   newtons / c->gain_n_per_count);
            }
            x.s[i].encoder = (int32_t)i;
        }
        for (size_t k = 0; k < sizeof tares / sizeof *tares; k++)
            x.s[tares[k]].flags |= RM_SAMPLE_TARED;
        ana_channels ch;
        ana_raw_stats raw;
        condition_in_parts(&x, &cfg, x.n, parts, sizeof parts / sizeof *parts,
                           &ch, &raw);
        size_t factor = (size_t)(RATE / ch.rate_hz);
        for (size_t j = 0; j < ch.n; j++) {
            size_t centre = j * factor;
            assert_true(fabs(ch.t_s[j] - t_of(centre)) < 1e-9);
            bool tared = false;
            for (size_t k = 0; k < sizeof tares / sizeof *tares; k++)
                tared |= tares[k] <= centre && tares[k] + factor > centre;
            if (ch.tared[j] != tared)
                fail_msg("%u channels, output %zu: tared %d", channels, j,
                         ch.tared[j]);
            if (t_of(centre) < 0.1 || t_of(centre) > 4.9)
                continue;   /* the filter sees the held ends */
            assert_true(fabs(ch.encoder[j] - (double)centre) < 1e-6);
            for (unsigned k = 0; k < channels; k++) {
                double want = 100.0 + 10.0 * k + 0.05 * (double)centre;
                if (fabs(ch.newtons[k][j] - want) > 0.01)
                    fail_msg("%u channels, channel %u, output %zu: %.4f N, "
                             "expected %.4f", channels, k, j,
                             (double)ch.newtons[k][j], want);
            }
        }
        ana_channels_free(&ch);
        ana_raw_stats_free(&raw);
        free_session(&x);
    }
}

/* Channel k's calibration: tares near +-8,000,000 counts and small ones,
 * most with a fraction; a polynomial whose terms are alike in size at the
 * ends of a 24-bit ADC's range, or the linear part alone. */
static void set_calibration(rm_calibration *cal, unsigned k, bool cubic)
{
    static const double tares[] = {8000000.375, -7999999.75, 22290.4, 0.0,
                                   173.986};
    cal->tare_counts = tares[k % (sizeof tares / sizeof *tares)];
    cal->coef[0] = 2.5 - (double)k;
    cal->coef[1] = 0.005 * (1.0 + (double)k / 8.0);
    cal->coef[2] = cubic ? 1e-10 * ((double)(k % 3) - 1.0) : 0.0;
    cal->coef[3] = cubic ? 3e-17 : 0.0;
}

/* Counts of sample i, channel k: the tare's whole part, the ends of a
 * 24-bit ADC's range and of int32's, then anything in a 24-bit range. */
static int32_t staged_counts(session *x, size_t i, unsigned k)
{
    static const int32_t ends[] = {-8388608, 8388607, INT32_MIN, INT32_MAX};
    if (i == 0)
        return (int32_t)floor(x->info.channels[k].cal.tare_counts);
    if (i <= sizeof ends / sizeof *ends)
        return ends[(i - 1 + k) % (sizeof ends / sizeof *ends)];
    return (int32_t)floor(16777216.0 * noise(&x->noise));
}

/* Staging calibrates each channel of each sample exactly as
 * rm_channel_newtons does (in double: vectors of samples are only a way
 * to do several at once) and keeps the value in float. At the input rate
 * (one tap: the filter passes what was staged), in parts whose runs end
 * anywhere in a vector, for 1 to 16 channels, with polynomials of degree
 * 3 and of degree 1 (which leave out two terms), with tares near
 * +-8,000,000 counts and fractional ones, negative counts and the ends of
 * int32's range, every value of every channel is that definition's,
 * rounded to float, to the bit. 0.99 s: no unloaded second for drift
 * removal. */
static void calibrates_every_channel_as_defined(void **state)
{
    (void)state;
    static const size_t parts[] = {1, 7, 333, 64, 5, 500, 80};
    enum { SAMPLES = 990 };
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.analysis_rate_hz = RATE;
    cfg.fsr_creep_pct = 0.0;
    for (int cubic = 0; cubic < 2; cubic++)
        for (unsigned channels = 1; channels <= RM_MAX_CHANNELS; channels++) {
            session x;
            unsigned load_cells = channels < 2 ? channels : 2;
            session_init(&x, load_cells, channels - load_cells,
                         SAMPLES / (double)RATE);
            for (unsigned k = 0; k < channels; k++)
                set_calibration(&x.info.channels[k].cal, k, cubic);
            for (size_t i = 0; i < x.n; i++)
                for (unsigned k = 0; k < channels; k++)
                    x.s[i].counts[k] = staged_counts(&x, i, k);
            ana_channels ch;
            ana_raw_stats raw;
            condition_in_parts(&x, &cfg, 0, parts, sizeof parts / sizeof *parts,
                               &ch, &raw);
            assert_int_equal(ch.n, x.n);
            for (size_t i = 0; i < x.n; i++)
                for (unsigned k = 0; k < channels; k++) {
                    float want = (float)rm_channel_newtons(&x.info.channels[k],
                                                           x.s[i].counts[k]);
                    if (memcmp(&ch.newtons[k][i], &want, sizeof want) != 0)
                        fail_msg("%u channels, degree %d, channel %u, sample "
                                 "%zu (%d counts): %.9g N, expected %.9g",
                                 channels, cubic ? 3 : 1, k, i,
                                 x.s[i].counts[k], (double)ch.newtons[k][i],
                                 (double)want);
                }
            ana_channels_free(&ch);
            ana_raw_stats_free(&raw);
            free_session(&x);
        }
}

/* Samples reach the filters in runs that end at gaps and at the edges of
 * the staging buffer, not at multiples of the four samples staged at once:
 * a steady load must come out steady at every output, through the hum
 * notch, however the runs fall. */
static void conditions_every_sample_of_uneven_runs(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 4, 10.0);
    for (size_t i = 0; i < x.n; i++) {
        for (unsigned k = 0; k < 2; k++)
            x.s[i].counts[k] = (int32_t)(LOAD_OFFSET + 150.0 / LOAD_GAIN);
        for (unsigned k = 2; k < 6; k++)
            x.s[i].counts[k] = (int32_t)(CELL_OFFSET + 10.0 / CELL_GAIN);
        x.s[i].t_us += (i >= 3001 ? 500000 : 0) + (i >= 6003 ? 250000 : 0);
    }
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.mains_hz = 50.0;
    cfg.fsr_creep_pct = 0.0;
    cfg.analysis_rate_hz = 250.0;   /* 50 Hz in the filter's pass band */
    rm_analysis *a = analyse(&x, &cfg);
    assert_true(a->quality.mains_hum_removed);
    assert_int_equal(a->quality.gaps, 2);
    for (size_t i = 0; i < a->series.n; i++)
        if (fabs(a->series.force_n[i] - 300.0) > 1e-3 ||
            fabs(a->series.pressure_kpa[i] - 100.0) > 1e-3)
            fail_msg("output %zu (%.3f s): %.6f N, %.6f kPa", i,
                     a->series.t_s[i], a->series.force_n[i],
                     a->series.pressure_kpa[i]);
    rm_analysis_free(a);
    free_session(&x);
}

/* The channels become the total force (the load cells' sum), the mean
 * pressure over the cells in contact (0.5 N or more; 0 where none is) and
 * the loaded flag, output by output: each output of a count that is no
 * multiple of four, with values that differ from output to output, is
 * checked against the same sums made here one output at a time. */
static void combines_every_output_of_the_channels(void **state)
{
    (void)state;
    enum { OUTPUTS = 23, LOADS = 2, CELLS = 5 };
    session x;
    session_init(&x, LOADS, CELLS, 0.0);
    float values[LOADS + CELLS][OUTPUTS];
    ana_channels ch = {.n = OUTPUTS, .count = LOADS + CELLS};
    for (unsigned k = 0; k < LOADS + CELLS; k++) {
        for (size_t i = 0; i < OUTPUTS; i++)
            values[k][i] = k < LOADS ? (float)(4.0 * (double)i + k)
                           : (i + k) % 3 && i % 7 != 3
                               ? (float)(1.0 + 0.25 * (double)(i * k))
                               : 0.1f;
        ch.newtons[k] = values[k];
    }
    double force[OUTPUTS], kpa[OUTPUTS], ml[OUTPUTS];
    uint8_t loaded[OUTPUTS], in_gap[OUTPUTS] = {0};
    in_gap[OUTPUTS - 1] = 1;
    rm_series out = {.n = OUTPUTS, .force_n = force, .pressure_kpa = kpa,
                     .loaded = loaded, .in_gap = in_gap, .ml = ml};
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    ana_combine_channels(&x.info, &cfg, &ch, &out);
    for (size_t i = 0; i < OUTPUTS; i++) {
        double total = 0.0, sum = 0.0;
        unsigned touching = 0;
        for (unsigned k = 0; k < LOADS; k++)
            total += values[k][i];
        for (unsigned k = LOADS; k < LOADS + CELLS; k++)
            if (values[k][i] >= 0.5) {
                sum += values[k][i] / CELL_AREA * 1000.0;
                touching++;
            }
        double want_kpa = touching ? sum / touching : 0.0;
        bool want_loaded = total >= cfg.load_threshold_n && !in_gap[i];
        if (force[i] != total || kpa[i] != want_kpa || loaded[i] != want_loaded)
            fail_msg("output %zu: %g N, %g kPa, loaded %d; expected %g N, "
                     "%g kPa, loaded %d", i, force[i], kpa[i], loaded[i],
                     total, want_kpa, want_loaded);
    }
    free_session(&x);
}

/* 20 s of two channels at a steady 80 N with 2 s missing after 10 s. */
static void session_with_gap(session *x)
{
    session_init(x, 2, 0, 20.0);
    for (size_t i = 0; i < x->n; i++) {
        set_newtons(x, i, 0, 80.0);
        set_newtons(x, i, 1, 80.0);
        if (i >= 10000)
            x->s[i].t_us += 2000000;     /* 2 s with no samples */
    }
}

static void fills_time_gaps_and_counts_them(void **state)
{
    (void)state;
    session x;
    session_with_gap(&x);
    rm_analysis *a = analyse(&x, NULL);
    assert_int_equal(a->quality.gaps, 1);
    assert_true(fabs(a->quality.gap_s - 2.0) < 0.01);
    assert_true(a->quality.lost_samples >= 1999 && a->quality.lost_samples <= 2001);
    assert_true(a->series.n >= 2195 && a->series.n <= 2205);
    size_t flagged = 0;
    for (size_t i = 0; i < a->series.n; i++) {
        flagged += a->series.in_gap[i];
        if (a->series.in_gap[i])
            assert_false(a->series.loaded[i]);
    }
    assert_true(flagged >= 195 && flagged <= 210);
    assert_true(fabs(a->summary.duration_s - 22.0) < 0.01);
    rm_analysis_free(a);
    free_session(&x);
}

/* At an analysis rate equal to the sample rate the filter has one tap
 * and keeps no history; a gap must still hold the last values (it once
 * held zeros there). */
static void holds_last_values_through_a_gap_without_decimation(void **state)
{
    (void)state;
    session x;
    session_with_gap(&x);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.analysis_rate_hz = RATE;
    rm_analysis *a = analyse(&x, &cfg);
    size_t held = 0;
    for (size_t i = 0; i < a->series.n; i++)
        if (a->series.in_gap[i]) {
            held++;
            assert_true(fabs(a->series.force_n[i] - 160.0) < 1.0);
        }
    assert_true(held >= 1999 && held <= 2001);
    rm_analysis_free(a);
    free_session(&x);
}

/* A step of one and a half sample periods (1500 us at 1 kHz) is late
 * timing, not a gap; a microsecond more is a gap. */
static void a_gap_is_a_step_beyond_one_and_a_half_periods(void **state)
{
    (void)state;
    for (unsigned extra_us = 0; extra_us <= 1; extra_us++) {
        session x;
        session_init(&x, 2, 0, 5.0);
        for (size_t i = 0; i < x.n; i++) {
            set_newtons(&x, i, 0, 80.0);
            set_newtons(&x, i, 1, 80.0);
            if (i >= 2500)
                x.s[i].t_us += 500 + extra_us;
        }
        rm_analysis *a = analyse(&x, NULL);
        assert_int_equal(a->quality.gaps, extra_us);
        /* 1501 us is two periods to the nearest: one sample held */
        assert_int_equal(a->quality.lost_samples, extra_us);
        rm_analysis_free(a);
        free_session(&x);
    }
}

/* 6.5 s at a steady 80 N on two channels: 6500 samples, a multiple of
 * neither the 1024 samples the conditioner is handed at a time nor the
 * steps it tests for gaps together. */
static void steady_session(session *x)
{
    session_init(x, 2, 0, 6.5);
    for (size_t i = 0; i < x->n; i++) {
        set_newtons(x, i, 0, 80.0);
        set_newtons(x, i, 1, 80.0);
    }
}

/* Gaps in a steady session before samples at[0..count) (ascending), of
 * one to three samples each: each is counted with the samples it lost,
 * and exactly the outputs standing for a held input are in_gap. */
static void check_gaps(const size_t *at, size_t count)
{
    session x;
    steady_session(&x);
    uint64_t lost = 0;
    for (size_t k = 0; k < count; k++) {
        uint64_t extra_us = 1000 * (1 + k % 3);
        lost += extra_us / 1000;
        for (size_t i = at[k]; i < x.n; i++)
            x.s[i].t_us += extra_us;
    }
    rm_analysis *a = analyse(&x, NULL);
    assert_int_equal(a->quality.gaps, count);
    assert_int_equal(a->quality.lost_samples, lost);
    /* An output stands for the `factor` inputs up to its time: it is in a
     * gap when one of them was held, within a gap or after the end. */
    uint64_t factor = RATE / (uint64_t)a->series.rate_hz, t0 = x.s[0].t_us;
    uint64_t last_us = x.s[x.n - 1].t_us - t0;
    for (size_t i = 0; i < a->series.n; i++) {
        uint64_t t = (uint64_t)llround(a->series.t_s[i] * 1e6);
        /* The gaps are whole periods: held or not, input slot k is at
         * k ms, and output i is centred on slot i * factor. */
        if (t != i * factor * 1000)
            fail_msg("gaps from sample %zu: output %zu at %llu us, expected "
                     "%llu", at[0], i, (unsigned long long)t,
                     (unsigned long long)(i * factor * 1000));
        bool held = t > last_us;
        for (size_t k = 0; k < count; k++) {
            uint64_t before = x.s[at[k] - 1].t_us - t0;
            uint64_t after = x.s[at[k]].t_us - t0;
            held |= t > before && t < after + (factor - 1) * 1000;
        }
        if (a->series.in_gap[i] != held)
            fail_msg("gaps from sample %zu: output %zu at %llu us: in_gap "
                     "%d, expected %d", at[0], i, (unsigned long long)t,
                     a->series.in_gap[i], held);
    }
    rm_analysis_free(a);
    free_session(&x);
}

/* Gaps one to forty samples after each other (so one falls at every
 * place of the steps tested together, and some come back to back), at
 * the edges of the 1024-sample parts the conditioner is handed, and then
 * one gap alone at each distance before an edge around the filter's
 * delay: the part after it, without a gap, still flags the outputs
 * whose inputs were held before it. */
static void finds_gaps_wherever_they_fall(void **state)
{
    (void)state;
    size_t at[64], count = 0;
    for (size_t step = 1, i = 2100; step <= 40; i += step++)
        at[count++] = i;
    static const size_t edges[] = {1023, 1024, 1025, 3071, 3072, 4096, 6499};
    for (size_t k = 0; k < sizeof edges / sizeof *edges; k++)
        at[count++] = edges[k];
    check_gaps(at, count);
    for (size_t before_edge = 40; before_edge <= 80; before_edge++) {
        size_t alone = 1024 - before_edge;
        check_gaps(&alone, 1);
    }
}

/* Only a step forward in time can be a gap: a step back (however far)
 * is none, a jump forward by more than half the clock's range is one
 * (and too long). Both fall inside a block of steps tested together. */
static void only_a_step_forward_is_a_gap(void **state)
{
    (void)state;
    session x;
    steady_session(&x);
    for (size_t i = 2053; i < x.n; i++)
        x.s[i].t_us -= 3000000;               /* back by 3 s */
    rm_analysis *a = analyse(&x, NULL);
    assert_int_equal(a->quality.gaps, 0);
    assert_int_equal(a->quality.lost_samples, 0);
    rm_analysis_free(a);
    for (size_t i = 2053; i < x.n; i++)
        x.s[i].t_us += 3000000 + (1ull << 63);
    rm_error err;
    assert_int_equal(rm_analyse_samples(&x.info, NULL, x.s, x.n, NULL, 0, NULL,
                                        0, NULL, &a, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "sample 2053"));
    free_session(&x);
}

/* Presses of the mark button across the 1024-sample parts (one press
 * held over an edge is one mark), one sample apart, ending with a part
 * and starting with one after a part without any, and saturated samples
 * in some parts only: every press is one mark at its first sample, every
 * saturated sample counts. */
static void counts_marks_and_saturation_across_parts(void **state)
{
    (void)state;
    session x;
    steady_session(&x);
    static const size_t presses[][2] = {
        {0, 3}, {1020, 1030}, {2040, 2047}, {2048, 2051}, {3060, 3072},
        {4096, 4098}, {5119, 5120}, {5120, 5121}, {6498, 6500}};
    static const size_t saturated[][2] = {
        {1023, 1025}, {2000, 2100}, {2040, 2041}, {4500, 4501}, {6499, 6500}};
    for (size_t k = 0; k < sizeof presses / sizeof *presses; k++)
        for (size_t i = presses[k][0]; i < presses[k][1]; i++)
            x.s[i].flags |= RM_SAMPLE_MARK;
    for (size_t k = 0; k < sizeof saturated / sizeof *saturated; k++)
        for (size_t i = saturated[k][0]; i < saturated[k][1]; i++)
            x.s[i].flags |= RM_SAMPLE_SATURATED;
    rm_analysis *a = analyse(&x, NULL);
    size_t marks = 0, saturated_samples = 0;
    for (size_t i = 0; i < x.n; i++) {
        saturated_samples += (x.s[i].flags & RM_SAMPLE_SATURATED) != 0;
        if (!(x.s[i].flags & RM_SAMPLE_MARK) ||
            (i > 0 && (x.s[i - 1].flags & RM_SAMPLE_MARK)))
            continue;
        if (marks >= a->mark_count || fabs(a->marks[marks].t_s - t_of(i)) > 1e-9)
            fail_msg("mark %zu: expected at %.3f s", marks, t_of(i));
        marks++;
    }
    assert_int_equal(a->mark_count, marks);
    assert_true(fabs(a->quality.saturation_pct -
                     100.0 * (double)saturated_samples / (double)x.n) < 1e-12);
    rm_analysis_free(a);
    free_session(&x);
}

static void reports_saturation_and_calibration_age(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 0, 10.0);
    x.meta.start_unix_us = (int64_t)1790000000 * 1000000;
    x.info.channels[0].cal.date_unix = 1790000000 - 200 * 86400;
    x.info.channels[1].cal.date_unix = 1790000000 - 10 * 86400;
    for (size_t i = 0; i < x.n; i++) {
        set_newtons(&x, i, 0, 50.0);
        set_newtons(&x, i, 1, 50.0);
        if (i % 10 == 0)
            x.s[i].flags |= RM_SAMPLE_SATURATED;
    }
    rm_analysis *a = analyse(&x, NULL);
    assert_true(fabs(a->quality.saturation_pct - 10.0) < 0.01);
    assert_true(fabs(a->quality.calibration_age_days - 200.0) < 1e-6);
    assert_true(a->quality.calibration_stale);
    rm_analysis_free(a);
    x.info.channels[0].cal.date_unix = 0;
    a = analyse(&x, NULL);
    assert_true(fabs(a->quality.calibration_age_days - 10.0) < 1e-6);
    assert_false(a->quality.calibration_stale);
    rm_analysis_free(a);
    free_session(&x);
}

static void finds_a_vibrating_rollers_frequency(void **state)
{
    (void)state;
    for (int vibrating = 0; vibrating < 2; vibrating++) {
        session x;
        session_init(&x, 2, 0, 30.0);
        for (size_t i = 0; i < x.n; i++) {
            double v = vibrating ? 8.0 * sin(2.0 * M_PI * 37.0 * t_of(i)) : 0.0;
            /* strong guarding tremor near the band's top is no motor */
            double slow = 100.0 + 20.0 * sin(2.0 * M_PI * 0.5 * t_of(i)) +
                          15.0 * sin(2.0 * M_PI * 11.7 * t_of(i));
            set_newtons(&x, i, 0, slow + v);
            set_newtons(&x, i, 1, slow + v);
        }
        rm_analysis *a = analyse(&x, NULL);
        if (vibrating)
            assert_true(fabs(a->summary.vibration_hz - 37.0) <= 1.0);
        else
            assert_true(a->summary.vibration_hz == 0.0);
        rm_analysis_free(a);
        free_session(&x);
    }
}

static void rejects_bad_input_with_a_clear_message(void **state)
{
    (void)state;
    session x;
    session_init(&x, 2, 0, 1.0);
    rm_analysis *a = NULL;
    rm_error err;
    x.info.sample_rate_hz = 0;
    assert_int_equal(rm_analyse_samples(&x.info, NULL, x.s, x.n, NULL, 0, NULL,
                                        0, NULL, &a, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "sample_rate_hz"));
    assert_null(a);
    x.info.sample_rate_hz = RATE;
    x.s[500].t_us += (uint64_t)3 * 86400 * 1000000;   /* clock jumps 3 days */
    assert_int_equal(rm_analyse_samples(&x.info, NULL, x.s, x.n, NULL, 0, NULL,
                                        0, NULL, &a, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "sample 500"));
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.dwell_min_s = 0.0;
    assert_int_equal(rm_analyse_samples(&x.info, NULL, x.s, x.n, NULL, 0, NULL,
                                        0, &cfg, &a, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "dwell_min_s"));
    assert_int_equal(rm_analyse_samples(&x.info, NULL, x.s, 0, NULL, 0, NULL,
                                        0, NULL, &a, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "no samples"));
    /* One count per turn: each count moves 4.7 m, no leg is that long. */
    x.s[500].t_us -= (uint64_t)3 * 86400 * 1000000;
    x.info.encoder_counts_per_turn = 1;
    x.info.roller_diameter_mm = 1500.0f;
    for (size_t i = 0; i < x.n; i++) {
        set_newtons(&x, i, 0, 100.0);
        set_newtons(&x, i, 1, 100.0);
        x.s[i].encoder = (int32_t)(i / 400);
    }
    assert_int_equal(rm_analyse_samples(&x.info, NULL, x.s, x.n, NULL, 0, NULL,
                                        0, NULL, &a, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "encoder_counts_per_turn"));
    assert_null(a);
    free_session(&x);
}

/* ------------------------------------------------------------------------ */
/* The end of conditioning against its definition, one sample at a time:   */
/* the vectorised code must give the same bits.                            */
/* ------------------------------------------------------------------------ */

#define SETTLE_RATE 100.0     /* the analysis rate */
#define SETTLE_CYCLE 700      /* samples: 2.5 s rest, then 4.5 s of load */
#define SETTLE_REST 250

/* Filtered channels as the conditioner hands them over, n samples each. */
static ana_channels settle_channels(const rm_device_info *info, size_t n)
{
    ana_channels ch;
    memset(&ch, 0, sizeof ch);
    ch.n = ch.cap = n;
    ch.rate_hz = SETTLE_RATE;
    ch.count = info->channel_count;
    /* laid out as the conditioner lays them: the tare flags after the
     * channels */
    ch.series_block = ana_series_block_alloc(n, ch.count);
    assert_non_null(ch.series_block);
    float *newtons = ana_series_channels(ch.series_block, n);
    for (unsigned k = 0; k < ch.count; k++)
        ch.newtons[k] = newtons + k * n;
    ch.tared = (uint8_t *)(newtons + n * ch.count);
    memset(ch.tared, 0, n);
    ch.in_gap = ana_series_bytes(ch.series_block, n, ANA_SERIES_IN_GAP);
    memset(ch.in_gap, 0, n);
    return ch;
}

/* Rests and loads with drifting zeros; each pressure cell on its own
 * phase, with light touches near the FSR's contact force and rest noise
 * that crosses it, so loaded time builds up and recovers. Two tares (and
 * one on the first sample, which starts nothing) and a gap. */
static void settle_fill(const rm_device_info *info, ana_channels *ch)
{
    uint64_t state = 99;
    size_t n = ch->n;
    for (unsigned k = 0; k < ch->count; k++) {
        bool cell = info->channels[k].kind == RM_CHANNEL_PRESSURE_CELL;
        for (size_t i = 0; i < n; i++) {
            size_t phase = (i + (cell ? 13 * k : 0)) % SETTLE_CYCLE;
            double drift = cell ? 0.1 + 0.5 * (double)i / (double)n + 0.02 * k
                                : 0.5 + 2.0 * (double)i / (double)n + 0.1 * k;
            double load = phase < SETTLE_REST ? 0.0
                          : !cell             ? 60.0
                          : phase < 600       ? 3.0
                          : phase < 650       ? 0.19 : 0.0;
            ch->newtons[k][i] = (float)(drift + load + 0.6 * noise(&state));
        }
    }
    ch->tared[0] = ch->tared[n / 3] = 1;
    if (2 * n / 3 + 1 < n)
        ch->tared[2 * n / 3 + 1] = 1;
    memset(ch->in_gap + n / 2, 1, n / 2 + 37 < n ? 37 : n - n / 2);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of x[from..to) by sorting, the middle two averaged. */
static double sorted_median(const float *x, size_t from, size_t to)
{
    size_t m = to - from;
    double *v = malloc(sizeof *v * m);
    assert_non_null(v);
    for (size_t i = 0; i < m; i++)
        v[i] = x[from + i];
    qsort(v, m, sizeof *v, compare_doubles);
    double median = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
    free(v);
    return median;
}

/* Unloaded: the total force, the total channels summed in channel order
 * from 0, under half the threshold, outside gaps. */
static void define_unloaded(const rm_device_info *info, const ana_channels *ch,
                            double threshold_n, uint8_t *unloaded)
{
    rm_channel_kind total_kind = RM_CHANNEL_PRESSURE_CELL;
    for (unsigned k = 0; k < ch->count; k++)
        if (info->channels[k].kind == RM_CHANNEL_LOAD_CELL)
            total_kind = RM_CHANNEL_LOAD_CELL;
    for (size_t i = 0; i < ch->n; i++) {
        double total = 0.0;
        for (unsigned k = 0; k < ch->count; k++)
            if (info->channels[k].kind == total_kind)
                total += ch->newtons[k][i];
        unloaded[i] = total < 0.5 * threshold_n && !ch->in_gap[i];
    }
}

/* Anchors of x[from..to): each unloaded stretch of at least a second
 * gives its centre and the median of all but its first and last quarter
 * second. */
static size_t define_anchors(const float *x, const uint8_t *unloaded,
                             size_t from, size_t to, double *centre,
                             double *offset)
{
    size_t count = 0, trim = (size_t)(0.25 * SETTLE_RATE);
    for (size_t i = from, j; i < to; i = j) {
        for (j = i; j < to && unloaded[j] == unloaded[i]; j++)
            continue;
        if (unloaded[i] && j - i >= (size_t)SETTLE_RATE && j - i > 2 * trim) {
            centre[count] = (double)(i + j - 1) / 2.0;
            offset[count++] = sorted_median(x, i + trim, j - trim);
        }
    }
    return count;
}

/* The offset at sample i: the first anchor's up to its centre, the last
 * one's after its centre, linear between centres. */
static double define_offset(size_t i, const double *centre,
                            const double *offset, size_t count)
{
    double at = (double)i;
    if (at <= centre[0])
        return offset[0];
    for (size_t k = 1; k < count; k++)
        if (at <= centre[k])
            return offset[k - 1] + (at - centre[k - 1]) /
                                       (centre[k] - centre[k - 1]) *
                                       (offset[k] - offset[k - 1]);
    return offset[count - 1];
}

/* Offset drift removed between tares; returns the most anchors of a
 * segment. */
static size_t define_drift_removal(float *x, const ana_channels *ch,
                                   const uint8_t *unloaded)
{
    double *centre = malloc(sizeof *centre * (ch->n + 1));
    double *offset = malloc(sizeof *offset * (ch->n + 1));
    size_t most = 0;
    assert_true(centre && offset);
    for (size_t from = 0, to; from < ch->n; from = to) {
        for (to = from + 1; to < ch->n && !ch->tared[to]; to++)
            continue;
        size_t count = define_anchors(x, unloaded, from, to, centre, offset);
        for (size_t i = from; count && i < to; i++)
            x[i] = (float)(x[i] - define_offset(i, centre, offset, count));
        most = count > most ? count : most;
    }
    free(centre);
    free(offset);
    return most;
}

/* A cell's creep undone sample by sample: the gain after `steps` periods
 * under load, up one period above 0.2 N, else down five (not below 0).
 * Returns how often loaded time went down from above 0. */
static size_t define_creep_removal(float *x, size_t n, double creep_pct)
{
    double c = creep_pct / 100.0;
    double a = c / (log10(61.0) - (1.0 - c) * log10(6.0));
    size_t steps = 0, recoveries = 0;
    for (size_t i = 0; i < n; i++) {
        double factor = 1.0 - a * log10(1.0 + (double)steps / SETTLE_RATE);
        double corrected = x[i] * (1.0 / (factor > 0.1 ? factor : 0.1));
        x[i] = (float)corrected;
        recoveries += !(corrected > 0.2) && steps > 0;
        steps = corrected > 0.2 ? steps + 1 : steps > 5 ? steps - 5 : 0;
    }
    return recoveries;
}

static void assert_same_bits(const float *got, const float *want, size_t n,
                             unsigned channel)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i]))
            fail_msg("channel %u sample %zu: %.9g, defined %.9g", channel, i,
                     got[i], want[i]);
}

/* Removes drift and creep from ch and compares every channel bit for bit
 * with the definitions above, which leave their result in want (n samples
 * a channel). Returns how often a cell's loaded time went down from above
 * 0; *most_anchors: the most anchors of a segment. */
static size_t assert_removal_as_defined(const rm_device_info *info,
                                        const rm_analysis_config *cfg,
                                        ana_channels *ch, float *want,
                                        size_t *most_anchors)
{
    size_t n = ch->n, recoveries = 0;
    uint8_t *unloaded = malloc(n + 1);
    assert_non_null(unloaded);
    memcpy(want, ch->newtons[0], sizeof *want * n * ch->count);
    define_unloaded(info, ch, cfg->load_threshold_n, unloaded);
    *most_anchors = 0;
    for (unsigned k = 0; k < ch->count; k++) {
        size_t most = define_drift_removal(want + k * n, ch, unloaded);
        *most_anchors = most > *most_anchors ? most : *most_anchors;
        if (info->channels[k].kind == RM_CHANNEL_PRESSURE_CELL)
            recoveries += define_creep_removal(want + k * n, n,
                                               cfg->fsr_creep_pct);
    }
    rm_error err;
    assert_int_equal(ana_channels_remove_drift_and_creep(ch, info, cfg, &err),
                     RM_OK);
    for (unsigned k = 0; k < ch->count; k++)
        assert_same_bits(ch->newtons[k], want + k * n, n, k);
    free(unloaded);
    return recoveries;
}

/* Device shapes around the vector widths: 1 to 14 cells (groups of four
 * and partial ones), 0 to 3 totalled load cells, n not a multiple of 4. */
static void removes_drift_and_creep_as_defined(void **state)
{
    (void)state;
    static const struct {
        unsigned load_cells, cells;
        size_t n;
    } shapes[] = {{2, 6, 7003}, {1, 5, 6001}, {3, 4, 6999}, {2, 9, 5002},
                  {0, 7, 7001}, {2, 14, 3001}, {2, 1, 4097}, {2, 2, 3}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        rm_device_info info;
        device_init(&info, shapes[t].load_cells, shapes[t].cells);
        /* Cells alone: with this much area the threshold is not scaled. */
        for (unsigned k = 0; !shapes[t].load_cells && k < info.channel_count;
             k++)
            info.channels[k].area_mm2 = 1000.0f;
        rm_analysis_config cfg;
        rm_analysis_config_default(&cfg);
        ana_channels ch = settle_channels(&info, shapes[t].n);
        settle_fill(&info, &ch);
        float *want = malloc(sizeof *want * ch.n * ch.count + 1);
        assert_non_null(want);
        size_t most_anchors;
        size_t recoveries = assert_removal_as_defined(&info, &cfg, &ch, want,
                                                      &most_anchors);
        if (ch.n > 1000) {      /* ramps between anchors, creep both ways */
            assert_true(most_anchors >= 2);
            assert_true(recoveries > 0);
        }
        free(want);
        ana_channels_free(&ch);
    }
}

/* Cell values around the contact force (0.2 N): above it whatever the
 * gain (0.2f is just above it), above it only at some gains, never, and
 * NaNs with their signs and payloads, which must keep their bits. */
static float creep_edge_value(unsigned kind)
{
    static const uint32_t nan_bits[] = {0x7fc00000u, 0xffc00000u,
                                        0x7fc12345u};
    static const float values[] = {3.0f, 0.2f, 0.19999999f, 0.12f, 0.0201f,
                                   0.0f, -0.0f, -1.0f};
    size_t count = sizeof values / sizeof values[0];
    if (kind < count)
        return values[kind];
    float nan;
    memcpy(&nan, &nan_bits[(kind - count) % 3], sizeof nan);
    return nan;
}

/* Runs of 1 to 19 samples of one value each (the kind drawn with loads
 * the likelier, so loaded time builds up), and now and then 5500 loaded
 * samples: 55 s under load, past where a 90 % creep's correction stops at
 * its largest gain. */
static void creep_edge_fill(float *x, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n;) {
        unsigned draw = (unsigned)((noise(state) + 0.5) * 24.0);
        size_t run = draw == 0 ? 5500 : 1 + (size_t)((noise(state) + 0.5) * 19);
        float v = creep_edge_value(draw < 12 ? draw % 4 : draw - 12);
        for (size_t end = i + run < n ? i + run : n; i < end; i++)
            x[i] = v;
    }
}

/* Whether some loaded sample got the largest gain, 1 / 0.1. */
static bool reaches_largest_gain(const float *x, const float *corrected,
                                 size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] > 0.2f && corrected[i] == (float)(x[i] * (1.0 / 0.1)))
            return true;
    return false;
}

/* The creep correction tells most samples' loading from their value alone
 * and corrects runs of them at once; here cells cross between those runs
 * and the samples that need their time under load at every offset, with
 * NaNs, and reach the largest gain. The load cells hold every sample
 * loaded, so drift removal leaves the cells as they are. */
static void undoes_creep_across_runs_as_defined(void **state)
{
    (void)state;
    rm_device_info info;
    device_init(&info, 2, 5);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.fsr_creep_pct = 90.0;
    ana_channels ch = settle_channels(&info, 30011);
    uint64_t seed = 7;
    for (unsigned k = 0; k < ch.count; k++) {
        if (info.channels[k].kind == RM_CHANNEL_PRESSURE_CELL)
            creep_edge_fill(ch.newtons[k], ch.n, &seed);
        else
            for (size_t i = 0; i < ch.n; i++)
                ch.newtons[k][i] = 60.0f;
    }
    float *in = malloc(sizeof *in * ch.n * ch.count + 1);
    float *want = malloc(sizeof *want * ch.n * ch.count + 1);
    assert_true(in && want);
    memcpy(in, ch.newtons[0], sizeof *in * ch.n * ch.count);
    size_t most_anchors;
    assert_true(assert_removal_as_defined(&info, &cfg, &ch, want,
                                          &most_anchors) > 0);
    assert_int_equal(most_anchors, 0);
    size_t floor_cells = 0;
    for (unsigned k = 2; k < ch.count; k++)
        floor_cells += reaches_largest_gain(in + k * ch.n, want + k * ch.n,
                                            ch.n);
    assert_true(floor_cells > 0);
    free(in);
    free(want);
    ana_channels_free(&ch);
}

/* ------------------------------------------------------------------------ */
/* The encoder's anti-aliasing filter against its definition: outputs side */
/* by side must give each one the bits of a scalar loop.                   */
/* ------------------------------------------------------------------------ */

/* Samples between impulses: over twice the filter's delay, and prime, so
 * that the impulses fall at every phase of the decimation. */
#define IMPULSE_SPACING 307
#define MAX_DELAY (IMPULSE_SPACING / 2)

/* The encoder outputs of a session with one load cell, the session pushed
 * in parts of uneven sizes (so that every count of outputs at once, 1 to
 * the most, comes up); *factor: inputs per output. */
static double *encoder_outputs_of(session *x, size_t *n_out, size_t *factor)
{
    static const size_t parts[] = {1, 7, 333, 1024, 2000, 5, 1500, 13};
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    ana_conditioner *c;
    rm_error err;
    assert_int_equal(ana_conditioner_new(&c, &x->info, &cfg, x->s, x->n,
                                         x->n, &err), RM_OK);
    for (size_t i = 0, k = 0, part; i < x->n; i += part, k++) {
        part = parts[k % (sizeof parts / sizeof *parts)];
        part = part < x->n - i ? part : x->n - i;
        assert_int_equal(ana_conditioner_push(c, x->s + i, part, &err), RM_OK);
    }
    ana_channels ch;
    ana_raw_stats raw;
    assert_int_equal(ana_conditioner_finish(c, &ch, &raw, &err), RM_OK);
    *factor = (size_t)(RATE / ch.rate_hz);
    *n_out = ch.n;
    double *encoder = malloc(sizeof *encoder * ch.n);
    assert_non_null(encoder);
    memcpy(encoder, ch.encoder, sizeof *encoder * ch.n);
    ana_channels_free(&ch);
    ana_raw_stats_free(&raw);
    return encoder;
}

/* The filter's taps, read off its response to impulses of one count at
 * every phase of the decimation: output j, centred on input j * factor,
 * gives an impulse at input p exactly the tap at offset p - j * factor
 * from the centre (its one other product is 0). Returns the taps (odd,
 * symmetric) into coef[0 .. 2 * MAX_DELAY]. */
static size_t filter_taps(double *coef)
{
    session x;
    session_init(&x, 1, 0, 4.0);
    size_t factor = 0, n_out, delay = 0;
    for (size_t p = IMPULSE_SPACING; p + IMPULSE_SPACING < x.n;
         p += IMPULSE_SPACING)
        x.s[p].encoder = 1;
    double *out = encoder_outputs_of(&x, &n_out, &factor);
    double by_offset[2 * MAX_DELAY + 1] = {0};
    for (size_t j = 0; j < n_out; j++) {
        size_t centre = j * factor, p = centre + MAX_DELAY;
        p -= p % IMPULSE_SPACING;     /* the one impulse within reach */
        if (p == 0 || p + MAX_DELAY < centre || x.s[p].encoder != 1)
            continue;
        size_t offset = p + MAX_DELAY - centre;
        by_offset[offset] = out[j];
        if (out[j] != 0.0 && offset >= MAX_DELAY)
            delay = offset - MAX_DELAY > delay ? offset - MAX_DELAY : delay;
    }
    assert_true(factor > 1 && delay > 0 && delay < MAX_DELAY);
    for (size_t k = 0; k <= 2 * delay; k++) {
        coef[k] = by_offset[MAX_DELAY - delay + k];
        assert_true(coef[k] != 0.0);
    }
    free(out);
    free_session(&x);
    return 2 * delay + 1;
}

/* The definition: four running sums over the symmetric pairs of taps, sum
 * j adding pairs k = j, j + 4, ... of the first multiple of four pairs;
 * sum 0 starts with the centre tap and takes the pairs left over. */
static double define_encoder_output(const double *coef, const double *h,
                                    size_t taps)
{
    size_t half = taps / 2, whole = half / 4 * 4;
    double sum[4] = {coef[half] * h[half], 0.0, 0.0, 0.0};
    for (size_t k = 0; k < whole; k++)
        sum[k % 4] += coef[k] * (h[k] + h[taps - 1 - k]);
    for (size_t k = whole; k < half; k++)
        sum[0] += coef[k] * (h[k] + h[taps - 1 - k]);
    return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

/* An encoder wandering over a million counts, so that every output's sums
 * round: each output away from the held ends has its definition's bits. */
static void filters_the_encoder_as_defined(void **state)
{
    (void)state;
    double coef[2 * MAX_DELAY + 1];
    size_t taps = filter_taps(coef), factor, n_out;
    session x;
    session_init(&x, 1, 0, 30.0);
    double *h = malloc(sizeof *h * x.n);
    assert_non_null(h);
    int32_t counts = 1000000;
    for (size_t i = 0; i < x.n; i++) {
        counts += (int32_t)(4000.0 * noise(&x.noise));
        x.s[i].encoder = counts;
        h[i] = counts;
    }
    double *out = encoder_outputs_of(&x, &n_out, &factor);
    size_t delay = taps / 2, checked = 0;
    for (size_t j = 0; j < n_out; j++) {
        size_t centre = j * factor;
        if (centre < delay || centre + delay >= x.n)
            continue;
        double want = define_encoder_output(coef, h + centre - delay, taps);
        if (memcmp(&out[j], &want, sizeof want))
            fail_msg("output %zu: %a, defined %a", j, out[j], want);
        checked++;
    }
    assert_true(checked + 2 * delay / factor + 2 >= n_out);
    free(out);
    free(h);
    free_session(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uses_each_channels_calibration_polynomial),
        cmocka_unit_test(detects_and_removes_mains_hum),
        cmocka_unit_test(conditions_every_block_of_channels),
        cmocka_unit_test(puts_each_output_in_its_channel_and_time),
        cmocka_unit_test(calibrates_every_channel_as_defined),
        cmocka_unit_test(conditions_every_sample_of_uneven_runs),
        cmocka_unit_test(combines_every_output_of_the_channels),
        cmocka_unit_test(decimates_keeping_slow_force_and_rejecting_fast),
        cmocka_unit_test(removes_offset_drift_seen_while_unloaded),
        cmocka_unit_test(a_tare_ends_the_offset_estimate),
        cmocka_unit_test(undoes_fsr_creep_under_constant_load),
        cmocka_unit_test(removes_drift_and_creep_as_defined),
        cmocka_unit_test(undoes_creep_across_runs_as_defined),
        cmocka_unit_test(pressure_is_the_mean_over_loaded_cells),
        cmocka_unit_test(fills_time_gaps_and_counts_them),
        cmocka_unit_test(holds_last_values_through_a_gap_without_decimation),
        cmocka_unit_test(a_gap_is_a_step_beyond_one_and_a_half_periods),
        cmocka_unit_test(finds_gaps_wherever_they_fall),
        cmocka_unit_test(only_a_step_forward_is_a_gap),
        cmocka_unit_test(counts_marks_and_saturation_across_parts),
        cmocka_unit_test(reports_saturation_and_calibration_age),
        cmocka_unit_test(finds_a_vibrating_rollers_frequency),
        cmocka_unit_test(rejects_bad_input_with_a_clear_message),
        cmocka_unit_test(filters_the_encoder_as_defined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
