/* Welch PSD against the textbook definition, Parseval, peaks, band power,
 * argument checks and plan reuse across threads. */
#include "testutil.h"
#include "analysis_internal.h"  /* ana_band_power_series, ana_spectrogram */

#include <fftw3.h>
#include <math.h>
#include <pthread.h>

/* A reproducible pseudo-random sequence, uniform in [-1, 1). */
static double next_noise(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / (double)(1ull << 52) - 1.0;
}

static double *noise(size_t n, uint64_t seed)
{
    double *x = malloc(sizeof *x * n);
    for (size_t i = 0; i < n; i++)
        x[i] = next_noise(&seed);
    return x;
}

/* Welch by the book: naive DFT of each Hann-windowed segment (periodic
 * window of length nfft), 50 % overlap, |X|^2 / (fs sum w^2), one-sided. */
static void textbook_welch(const double *x, size_t n, double fs, size_t nfft,
                           double *psd)
{
    size_t hop = nfft / 2, segments = (n - nfft) / hop + 1;
    double w2 = 0.0;
    for (size_t i = 0; i < nfft; i++) {
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)nfft);
        w2 += w * w;
    }
    for (size_t k = 0; k <= nfft / 2; k++) {
        double sum = 0.0;
        for (size_t s = 0; s < segments; s++) {
            double re = 0.0, im = 0.0;
            for (size_t i = 0; i < nfft; i++) {
                double w = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)nfft);
                double a = -2.0 * M_PI * (double)k * (double)i / (double)nfft;
                re += w * x[s * hop + i] * cos(a);
                im += w * x[s * hop + i] * sin(a);
            }
            sum += re * re + im * im;
        }
        double p = sum / (fs * w2 * (double)segments);
        psd[k] = (k == 0 || k == nfft / 2) ? p : 2.0 * p;
    }
}

static void welch_matches_textbook_definition(void **state)
{
    (void)state;
    size_t n = 1000, nfft = 128;
    double *x = noise(n, 7), got[65], want[65];
    assert_int_equal(rm_welch_psd(x, n, 100.0, nfft, got, NULL), RM_OK);
    textbook_welch(x, n, 100.0, nfft, want);
    for (size_t k = 0; k <= nfft / 2; k++)
        assert_true(fabs(got[k] - want[k]) <= 1e-9 * fabs(want[k]));
    free(x);
}

static void integrated_psd_equals_variance(void **state)
{
    (void)state;
    size_t n = 200000, nfft = 256;
    double *x = noise(n, 11), psd[129], mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        x[i] -= mean;
        var += x[i] * x[i] / (double)n;
    }
    double fs = 250.0;
    assert_int_equal(rm_welch_psd(x, n, fs, nfft, psd, NULL), RM_OK);
    double total = rm_band_power(psd, nfft / 2 + 1, fs / (double)nfft, 0.0,
                                 fs / 2.0);
    assert_true(fabs(total - var) < 0.02 * var);
    free(x);
}

static void sine_peaks_at_its_frequency_with_its_power(void **state)
{
    (void)state;
    size_t n = 4096, nfft = 512;
    double fs = 100.0, f = 9.3, amp = 3.0, psd[257];
    double *x = malloc(sizeof *x * n);
    for (size_t i = 0; i < n; i++)
        x[i] = amp * sin(2.0 * M_PI * f * (double)i / fs);
    assert_int_equal(rm_welch_psd(x, n, fs, nfft, psd, NULL), RM_OK);
    size_t peak = 0;
    for (size_t k = 1; k <= nfft / 2; k++)
        if (psd[k] > psd[peak])
            peak = k;
    double df = fs / (double)nfft;
    assert_true(fabs((double)peak * df - f) <= df);
    /* A sine of amplitude A carries A^2/2 of power. */
    double band = rm_band_power(psd, nfft / 2 + 1, df, f - 2.0, f + 2.0);
    assert_true(fabs(band - amp * amp / 2.0) < 0.02 * amp * amp / 2.0);
    /* Nothing far from it. */
    assert_true(rm_band_power(psd, nfft / 2 + 1, df, 20.0, 50.0) <
                1e-6 * band);
    free(x);
}

static void rejects_input_shorter_than_a_segment(void **state)
{
    (void)state;
    double x[100] = {0}, psd[129];
    rm_error err;
    assert_int_equal(rm_welch_psd(x, 100, 100.0, 256, psd, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "100 samples"));
    assert_int_equal(rm_welch_psd(x, 100, 0.0, 64, psd, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "rate"));
}

typedef struct thread_job {
    const double *x;
    size_t n, nfft;
    double psd[513];
    rm_status status;
} thread_job;

static void *run_welch(void *arg)
{
    thread_job *job = arg;
    for (int repeat = 0; repeat < 20; repeat++)
        job->status = rm_welch_psd(job->x, job->n, 100.0, job->nfft, job->psd,
                                   NULL);
    return NULL;
}

static void concurrent_callers_get_identical_results(void **state)
{
    (void)state;
    size_t n = 8192;
    double *x = noise(n, 3);
    thread_job jobs[6];
    pthread_t threads[6];
    rm_spectra_cleanup();    /* every thread may race to plan */
    for (int t = 0; t < 6; t++) {
        jobs[t] = (thread_job){.x = x, .n = n, .nfft = t % 2 ? 1024 : 256};
        assert_int_equal(pthread_create(&threads[t], NULL, run_welch,
                                        &jobs[t]), 0);
    }
    for (int t = 0; t < 6; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < 6; t++) {
        double alone[513];
        assert_int_equal(jobs[t].status, RM_OK);
        assert_int_equal(rm_welch_psd(x, n, 100.0, jobs[t].nfft, alone, NULL),
                         RM_OK);
        assert_memory_equal(alone, jobs[t].psd,
                            sizeof(double) * (jobs[t].nfft / 2 + 1));
    }
    free(x);
}

static int cleanup(void **state)
{
    (void)state;
    rm_spectra_cleanup();
    return 0;
}

/* The band power at sample i by its definition: frame f's power is
 * centred at (f + 1) * dt_s; linear between frames, held beyond the first
 * and last. */
static double band_power_by_definition(const double *frame_power,
                                       size_t frames, size_t i, double rate_hz,
                                       double dt_s)
{
    double u = ((double)i / rate_hz) / dt_s - 1.0;
    if (u <= 0.0)
        return frame_power[0];
    if (u >= (double)(frames - 1))
        return frame_power[frames - 1];
    double f = floor(u);
    return frame_power[(size_t)f] * (1.0 - (u - f)) +
           frame_power[(size_t)f + 1] * (u - f);
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Every sample of odd and even lengths, before the first frame's centre,
 * between frames and past the last, bit for bit; frames 64 samples apart
 * and 63 (frame centres inside a run of four samples). */
static void band_power_series_follows_its_definition(void **state)
{
    (void)state;
    enum { FRAMES = 7, BINS = 33 };
    double power[FRAMES * BINS], frame_power[FRAMES], out[1001];
    uint64_t seed = 21;
    for (size_t k = 0; k < FRAMES * BINS; k++)
        power[k] = fabs(next_noise(&seed));
    static const double frame_spacing_s[] = {0.64, 0.63};
    for (size_t d = 0; d < 2; d++) {
        rm_spectrogram sg = {.frames = FRAMES, .bins = BINS,
                             .dt_s = frame_spacing_s[d],
                             .df_hz = 100.0 / 64, .power = power};
        for (size_t f = 0; f < FRAMES; f++)
            frame_power[f] = rm_band_power(power + f * BINS, BINS, sg.df_hz,
                                           6.0, 12.0);
        static const size_t lengths[] = {1, 2, 3, 64, 65, 1000, 1001};
        for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            size_t n = lengths[l];
            ana_band_power_series(&sg, 6.0, 12.0, n, 100.0, out);
            for (size_t i = 0; i < n; i++)
                assert_true(same_bits(out[i], band_power_by_definition(
                                                  frame_power, FRAMES, i,
                                                  100.0, sg.dt_s)));
        }
    }
}

/* The power fills exactly ana_spectrogram_values(n, nfft) values of the
 * caller's room (NaNs there before, which every frame must overwrite),
 * and a signal too short for a frame leaves the room alone. */
static void spectrogram_fills_exactly_its_values(void **state)
{
    (void)state;
    enum { N = 2000, NFFT = 64 };
    double *x = noise(N, 5);
    size_t values = ana_spectrogram_values(N, NFFT);
    double *room = malloc(sizeof *room * (values + 1));
    memset(room, 0xff, sizeof *room * (values + 1));
    room[values] = 7.0;                 /* past the end: left alone */
    rm_spectrogram got;
    assert_int_equal(ana_spectrogram(x, N, 100.0, NFFT, room, &got, NULL),
                     RM_OK);
    assert_ptr_equal(got.power, room);
    assert_int_equal(got.frames * got.bins, values);
    assert_int_equal(got.frames, (N - NFFT) / (NFFT / 2) + 1);
    for (size_t i = 0; i < values; i++)
        assert_false(isnan(room[i]));
    assert_true(room[values] == 7.0);
    assert_int_equal(ana_spectrogram_values(NFFT - 1, NFFT), 0);
    room[0] = 7.0;
    assert_int_equal(ana_spectrogram(x, NFFT - 1, 100.0, NFFT, room, &got,
                                     NULL), RM_OK);
    assert_int_equal(got.frames, 0);
    assert_null(got.power);
    assert_true(room[0] == 7.0);
    free(room);
    free(x);
}

/* ------------------------------------------------------------------------ */
/* The periodograms bit for bit by their definition, with FFTW's own plan   */
/* ------------------------------------------------------------------------ */

static double hann_value(size_t i, size_t n)
{
    return 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)n);
}

static double hann_energy(size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += hann_value(i, n) * hann_value(i, n);
    return sum;
}

/* A segment's own mean in the order spectra.c sums it: eight running sums
 * over the whole eights, added ((0 + 2) + (4 + 6)) + ((1 + 3) + (5 + 7)),
 * then the rest one by one. */
static double segment_mean_by_definition(const double *x, size_t n)
{
    double s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            s[j] += x[i + j];
    double sum = ((s[0] + s[2]) + (s[4] + s[6])) +
                 ((s[1] + s[3]) + (s[5] + s[7]));
    for (; i < n; i++)
        sum += x[i];
    return sum / (double)n;
}

/* |X_k|^2 of (x[i] - mean) * hann[i], i < nfft, added to sum. */
static void add_periodogram_by_definition(const double *x, size_t nfft,
                                          double mean, double *sum)
{
    double *in = fftw_malloc(sizeof *in * nfft);
    fftw_complex *out = fftw_malloc(sizeof *out * (nfft / 2 + 1));
    fftw_plan plan = fftw_plan_dft_r2c_1d((int)nfft, in, out, FFTW_ESTIMATE);
    for (size_t i = 0; i < nfft; i++)
        in[i] = (x[i] - mean) * hann_value(i, nfft);
    fftw_execute(plan);
    for (size_t k = 0; k <= nfft / 2; k++)
        sum[k] += out[k][0] * out[k][0] + out[k][1] * out[k][1];
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
}

/* The one-sided density of a sum of `segments` periodograms. */
static void density_by_definition(double *psd, size_t nfft, double rate_hz,
                                  size_t segments)
{
    double scale = 1.0 / (rate_hz * hann_energy(nfft) * (double)segments);
    for (size_t k = 0; k <= nfft / 2; k++) {
        bool unique = k == 0 || (nfft % 2 == 0 && k == nfft / 2);
        psd[k] *= unique ? scale : 2.0 * scale;
    }
}

static void assert_same_bits(const double *got, const double *want, size_t n)
{
    for (size_t k = 0; k < n; k++)
        assert_true(same_bits(got[k], want[k]));
}

/* Sizes of four bins and more, with and without a rest, odd and even. */
static const size_t odd_and_even_nfft[] = {64, 37, 22, 6, 7, 2};

static void welch_follows_its_definition(void **state)
{
    (void)state;
    size_t n = 1000;
    double *x = noise(n, 5), got[33], want[33];
    for (size_t s = 0; s < sizeof odd_and_even_nfft / sizeof(size_t); s++) {
        size_t nfft = odd_and_even_nfft[s], hop = nfft / 2;
        size_t segments = (n - nfft) / hop + 1;
        assert_int_equal(ana_welch_psd_about(x, NULL, n, 0.25, 100.0, nfft,
                                             got, NULL), RM_OK);
        memset(want, 0, sizeof want);
        for (size_t g = 0; g < segments; g++)
            add_periodogram_by_definition(x + g * hop, nfft, 0.25, want);
        density_by_definition(want, nfft, 100.0, segments);
        assert_same_bits(got, want, nfft / 2 + 1);
    }
    free(x);
}

/* With keep: dropped values, infinities and NaN count as 0. */
static void welch_of_kept_values_follows_its_definition(void **state)
{
    (void)state;
    size_t n = 1000;
    double *x = noise(n, 17), *kept = malloc(sizeof *kept * n);
    double got[33], want[33];
    uint8_t *keep = malloc(n);
    for (size_t i = 0; i < n; i++) {
        keep[i] = i % 7 != 3 && i % 11 != 0;
        if (i % 13 == 5)
            x[i] = i % 2 ? INFINITY : NAN;
        kept[i] = ana_kept(x, keep, i);
    }
    for (size_t s = 0; s < sizeof odd_and_even_nfft / sizeof(size_t); s++) {
        size_t nfft = odd_and_even_nfft[s], hop = nfft / 2;
        size_t segments = (n - nfft) / hop + 1;
        assert_int_equal(ana_welch_psd_about(x, keep, n, -0.5, 100.0, nfft,
                                             got, NULL), RM_OK);
        memset(want, 0, sizeof want);
        for (size_t g = 0; g < segments; g++)
            add_periodogram_by_definition(kept + g * hop, nfft, -0.5, want);
        density_by_definition(want, nfft, 100.0, segments);
        assert_same_bits(got, want, nfft / 2 + 1);
    }
    free(x);
    free(kept);
    free(keep);
}

static void kept_sum_adds_in_order(void **state)
{
    (void)state;
    size_t n = 203;
    double *x = noise(n, 19);
    uint8_t keep[203];
    for (size_t i = 0; i < n; i++) {
        keep[i] = i % 5 != 2;
        x[i] *= i % 3 ? 1.0 : 1e12;     /* the order shows in the bits */
        if (i % 17 == 4)
            x[i] = i % 2 ? -INFINITY : NAN;
    }
    for (size_t m = 0; m <= n; m += 29) {
        for (int with_keep = 0; with_keep < 2; with_keep++) {
            const uint8_t *k = with_keep ? keep : NULL;
            double want = 0.0;
            for (size_t i = 0; i < m; i++)
                want += ana_kept(x, k, i);
            assert_true(same_bits(ana_kept_sum(x, k, m), want));
        }
    }
    free(x);
}

static void spectrogram_follows_its_definition(void **state)
{
    (void)state;
    size_t n = 700;
    double *x = noise(n, 9), want[33];
    for (size_t s = 0; s < sizeof odd_and_even_nfft / sizeof(size_t); s++) {
        size_t nfft = odd_and_even_nfft[s], hop = nfft / 2;
        rm_spectrogram sg;
        double *power = malloc(sizeof *power *
                               ana_spectrogram_values(n, nfft));
        assert_int_equal(ana_spectrogram(x, n, 100.0, nfft, power, &sg,
                                         NULL), RM_OK);
        assert_int_equal(sg.frames, (n - nfft) / hop + 1);
        for (size_t f = 0; f < sg.frames; f++) {
            const double *frame = x + f * hop;
            memset(want, 0, sizeof want);
            add_periodogram_by_definition(
                frame, nfft, segment_mean_by_definition(frame, nfft), want);
            density_by_definition(want, nfft, 100.0, 1);
            assert_same_bits(sg.power + f * sg.bins, want, sg.bins);
        }
        free(power);
    }
    free(x);
}

/* Pushed in pieces that start and end anywhere in a segment, or hold
 * several whole ones. */
static void raw_periodogram_sum_follows_its_definition(void **state)
{
    (void)state;
    static const size_t pieces[] = {1000, 3000, 1024, 1, 2047, 5000, 9};
    size_t n = 0;
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++)
        n += pieces[p];
    double *x = noise(n, 13), want[513] = {0};
    ana_psd_accumulator a;
    assert_int_equal(ana_psd_accumulator_init(&a, 1000.0, NULL), RM_OK);
    assert_int_equal(a.nfft, 1024);
    for (size_t p = 0, at = 0; p < sizeof pieces / sizeof *pieces; p++) {
        ana_psd_accumulator_push(&a, x + at, pieces[p]);
        at += pieces[p];
    }
    assert_int_equal(a.segments, n / 1024);
    for (size_t g = 0; g < n / 1024; g++)
        add_periodogram_by_definition(
            x + g * 1024, 1024, segment_mean_by_definition(x + g * 1024, 1024),
            want);
    assert_same_bits(a.sum, want, 513);
    ana_psd_accumulator_free(&a);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(welch_matches_textbook_definition),
        cmocka_unit_test(integrated_psd_equals_variance),
        cmocka_unit_test(sine_peaks_at_its_frequency_with_its_power),
        cmocka_unit_test(rejects_input_shorter_than_a_segment),
        cmocka_unit_test(concurrent_callers_get_identical_results),
        cmocka_unit_test(band_power_series_follows_its_definition),
        cmocka_unit_test(spectrogram_fills_exactly_its_values),
        cmocka_unit_test(welch_follows_its_definition),
        cmocka_unit_test(welch_of_kept_values_follows_its_definition),
        cmocka_unit_test(kept_sum_adds_in_order),
        cmocka_unit_test(spectrogram_follows_its_definition),
        cmocka_unit_test(raw_periodogram_sum_follows_its_definition),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
