/*
 * Spectra with FFTW: cached real-to-complex plans, Welch PSD, spectrogram,
 * band power over time and the raw-rate periodogram accumulator that finds
 * a vibrating roller's frequency.
 */
#include "analysis_internal.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Plans and windows, cached                                                */
/* ------------------------------------------------------------------------ */

/* Analyses use a handful of sizes (the Welch, spectrogram and raw segment
 * lengths), so a small table is enough: each size's plan and Hann window,
 * made once. */
#define PLAN_CACHE_SIZE 16

typedef struct cached_size {
    size_t n;
    fftw_plan plan;
    double *window;          /**< Hann window of n */
    double window_energy;    /**< sum of its squares */
} cached_size;

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static cached_size plan_cache[PLAN_CACHE_SIZE];
static size_t plan_count;

/** Periodic Hann window value i of n (the form Welch uses). */
static double hann(size_t i, size_t n)
{
    return 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)n);
}

/** A new entry of size n, planned on in and out (plan_lock held, room in
 *  the table); NULL when out of memory. */
static const cached_size *cache_new_size(size_t n, double *in,
                                         fftw_complex *out)
{
    double *window = malloc(sizeof *window * n), energy = 0.0;
    for (size_t i = 0; window && i < n; i++) {
        window[i] = hann(i, n);
        energy += window[i] * window[i];
    }
    fftw_plan plan = window
        ? fftw_plan_dft_r2c_1d((int)n, in, out, FFTW_ESTIMATE) : NULL;
    if (!plan) {
        free(window);
        return NULL;
    }
    plan_cache[plan_count] = (cached_size){n, plan, window, energy};
    return &plan_cache[plan_count++];
}

/* Planning is not thread-safe in FFTW; executing a plan on new arrays is.
 * Entries stay in place, unchanged, until rm_spectra_cleanup. */
static const cached_size *size_entry(size_t n, double *in, fftw_complex *out)
{
    const cached_size *entry = NULL;
    pthread_mutex_lock(&plan_lock);
    for (size_t i = 0; i < plan_count && !entry; i++)
        if (plan_cache[i].n == n)
            entry = &plan_cache[i];
    if (!entry && plan_count < PLAN_CACHE_SIZE)
        entry = cache_new_size(n, in, out);
    pthread_mutex_unlock(&plan_lock);
    return entry;
}

void rm_spectra_cleanup(void)
{
    pthread_mutex_lock(&plan_lock);
    for (size_t i = 0; i < plan_count; i++) {
        fftw_destroy_plan(plan_cache[i].plan);
        free(plan_cache[i].window);
    }
    plan_count = 0;
    fftw_cleanup();
    pthread_mutex_unlock(&plan_lock);
}

/** One FFT size with its aligned buffers. */
typedef struct fft_work {
    size_t n;
    fftw_plan plan;
    double *in;
    fftw_complex *out;
    const double *window;    /**< Hann window of n (size_entry's) */
    double window_energy;    /**< sum of its squares */
} fft_work;

static void fft_work_free(fft_work *w)
{
    fftw_free(w->in);
    fftw_free(w->out);
}

static rm_status fft_work_init(fft_work *w, size_t n, rm_error *err)
{
    if (n < 2 || n > (1u << 24))
        return rm_error_set(err, RM_ERR_ARG,
                            "FFT size %zu: must be 2 .. 16777216", n);
    w->n = n;
    w->in = fftw_malloc(sizeof *w->in * n);
    w->out = fftw_malloc(sizeof *w->out * (n / 2 + 1));
    const cached_size *entry = w->in && w->out ? size_entry(n, w->in, w->out)
                                               : NULL;
    if (!entry) {
        fft_work_free(w);
        return rm_error_set(err, RM_ERR_NOMEM, "FFT of %zu points: no plan",
                            n);
    }
    w->plan = entry->plan;
    w->window = entry->window;
    w->window_energy = entry->window_energy;
    return RM_OK;
}

/** |X|^2 of one bin. */
static inline double bin_power(const fftw_complex x)
{
    return x[0] * x[0] + x[1] * x[1];
}

/** bin_power of x[0 .. 4) into power's lanes, each by the same
 *  operations. */
static inline void quad_power(const fftw_complex *x, ana_quad *power)
{
    ana_quad a = ANA_QUAD_LOAD(x[0]), b = ANA_QUAD_LOAD(x[2]);
    a *= a;
    b *= b;
    *power = __builtin_shufflevector(a, b, 0, 2, 4, 6) +
             __builtin_shufflevector(a, b, 1, 3, 5, 7);
}

/** sum[k] += bin_power(x[k]) for k < bins. */
AVX2_CLONE
static void add_power(const fftw_complex *x, size_t bins, double *sum)
{
    size_t k = 0;
    for (; k + 4 <= bins; k += 4) {
        ana_quad power;
        quad_power(x + k, &power);
        ANA_QUAD_AT(sum + k) += power;
    }
    for (; k < bins; k++)
        sum[k] += bin_power(x[k]);
}

/** power[k] = bin_power(x[k]) * factor for k < bins. */
AVX2_CLONE
static void scaled_power(const fftw_complex *x, size_t bins, double factor,
                         double *power)
{
    size_t k = 0;
    for (; k + 4 <= bins; k += 4) {
        ana_quad unscaled;
        quad_power(x + k, &unscaled);
        ANA_QUAD_AT(power + k) = unscaled * factor;
    }
    for (; k < bins; k++)
        power[k] = bin_power(x[k]) * factor;
}

/** The periodogram |X_k|^2 of w->in added to sum[0..n/2]. */
static void fft_work_add_power(fft_work *w, double *sum)
{
    fftw_execute_dft_r2c(w->plan, w->in, w->out);
    add_power(w->out, w->n / 2 + 1, sum);
}

/* ------------------------------------------------------------------------ */
/* Welch PSD                                                                */
/* ------------------------------------------------------------------------ */

/** The density scale of a summed periodogram of `segments` made with w's
 *  window, for the bins that have no mirror image (0 and n/2 of even n);
 *  the others count twice. */
static double density_scale(const fft_work *w, double rate_hz,
                            size_t segments)
{
    return 1.0 / (rate_hz * w->window_energy * (double)segments);
}

/** One-sided density scaling of a summed periodogram of `segments` made
 *  with w's window. */
static void scale_to_density(const fft_work *w, double *psd, double rate_hz,
                             size_t segments)
{
    size_t nfft = w->n;
    double scale = density_scale(w, rate_hz, segments);
    for (size_t k = 0; k <= nfft / 2; k++) {
        bool unique = k == 0 || (nfft % 2 == 0 && k == nfft / 2);
        psd[k] *= unique ? scale : 2.0 * scale;
    }
}

/** The mean of x[0..n). The whole eights are summed in eight running
 *  sums (x[i] into sum i % 8; one chain of additions would wait on each
 *  addition's latency, a thousand times a segment), added up as
 *  ((0 + 2) + (4 + 6)) + ((1 + 3) + (5 + 7)); then the rest one by one. */
static inline double segment_mean(const double *x, size_t n)
{
    ana_quad low = {0}, high = {0};   /* sums 0..3 and 4..7 */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        low += ANA_QUAD_LOAD(x + i);
        high += ANA_QUAD_LOAD(x + i + 4);
    }
    ana_pair pair = (__builtin_shufflevector(low, low, 0, 1) +
                     __builtin_shufflevector(low, low, 2, 3)) +
                    (__builtin_shufflevector(high, high, 0, 1) +
                     __builtin_shufflevector(high, high, 2, 3));
    double sum = pair[0] + pair[1];
    for (; i < n; i++)
        sum += x[i];
    return sum / (double)n;
}

/** Window segment x[0..nfft) into w->in, less its own mean if asked, else
 *  less `offset`. */
AVX2_CLONE
static void load_segment(fft_work *w, const double *x, bool remove_mean,
                         double offset)
{
    size_t n = w->n, i = 0;
    double mean = remove_mean ? segment_mean(x, n) : offset;
    const double *window = w->window;
    double *in = w->in;
    for (; i + 4 <= n; i += 4)
        ANA_QUAD_AT(in + i) =
            (ANA_QUAD_LOAD(x + i) - mean) * ANA_QUAD_LOAD(window + i);
    for (; i < n; i++)
        in[i] = (x[i] - mean) * window[i];
}

/** Window segment x[0..nfft) less mean into w->in, taking only what keep
 *  keeps (see ana_welch_psd_about). */
AVX2_CLONE
static void load_kept_segment(fft_work *w, const double *x,
                              const uint8_t *keep, double mean)
{
    if (!keep) {
        load_segment(w, x, false, mean);
        return;
    }
    size_t n = w->n, i = 0;
    const double *window = w->window;
    double *in = w->in;
    for (; i + 4 <= n; i += 4) {
        ana_quad kept;
        ana_kept_quad(x, keep, i, &kept);
        ANA_QUAD_AT(in + i) = (kept - mean) * ANA_QUAD_LOAD(window + i);
    }
    for (; i < n; i++)
        in[i] = (ana_kept(x, keep, i) - mean) * window[i];
}

AVX2_CLONE
static double kept_sum(const double *x, const uint8_t *keep, size_t n)
{
    double sum = 0.0;
    size_t i = 0;
    for (; keep && i + 4 <= n; i += 4) {
        ana_quad kept;
        ana_kept_quad(x, keep, i, &kept);
        sum += kept[0];
        sum += kept[1];
        sum += kept[2];
        sum += kept[3];
    }
    for (; i < n; i++)
        sum += ana_kept(x, keep, i);
    return sum;
}

/* Clang resolves a target_clones function only in the file that defines
 * it: the clones stay static behind this plain function. */
double ana_kept_sum(const double *x, const uint8_t *keep, size_t n)
{
    return kept_sum(x, keep, n);
}

rm_status rm_welch_psd(const double *x, size_t n, double rate_hz,
                       size_t nfft, double *psd, rm_error *err)
{
    return ana_welch_psd_about(x, NULL, n, 0.0, rate_hz, nfft, psd, err);
}

rm_status ana_welch_psd_about(const double *x, const uint8_t *keep, size_t n,
                              double mean, double rate_hz, size_t nfft,
                              double *psd, rm_error *err)
{
    if (!(rate_hz > 0.0))
        return rm_error_set(err, RM_ERR_ARG, "Welch PSD: rate %g Hz", rate_hz);
    if (nfft < 2 || n < nfft)
        return rm_error_set(err, RM_ERR_ARG,
                            "Welch PSD: %zu samples, segment of %zu", n, nfft);
    fft_work w;
    rm_status st = fft_work_init(&w, nfft, err);
    if (st != RM_OK)
        return st;
    size_t hop = nfft / 2, segments = (n - nfft) / hop + 1;
    memset(psd, 0, sizeof *psd * (nfft / 2 + 1));
    for (size_t s = 0; s < segments; s++) {
        load_kept_segment(&w, x + s * hop, keep ? keep + s * hop : NULL, mean);
        fft_work_add_power(&w, psd);
    }
    scale_to_density(&w, psd, rate_hz, segments);
    fft_work_free(&w);
    return RM_OK;
}

static bool bin_in_band(size_t k, double df_hz, double lo_hz, double hi_hz)
{
    double f = (double)k * df_hz;
    return f >= lo_hz && f <= hi_hz;
}

double rm_band_power(const double *psd, size_t bins, double df_hz,
                     double lo_hz, double hi_hz)
{
    double sum = 0.0;
    for (size_t k = 0; k < bins; k++)
        if (bin_in_band(k, df_hz, lo_hz, hi_hz))
            sum += psd[k] * df_hz;
    return sum;
}

/* ------------------------------------------------------------------------ */
/* Spectrogram and band power over time                                     */
/* ------------------------------------------------------------------------ */

size_t ana_spectrogram_values(size_t n, size_t nfft)
{
    size_t hop = nfft / 2;
    return n < nfft ? 0 : ((n - nfft) / hop + 1) * (nfft / 2 + 1);
}

rm_status ana_spectrogram(const double *x, size_t n, double rate_hz,
                          size_t nfft, double *power, rm_spectrogram *out,
                          rm_error *err)
{
    memset(out, 0, sizeof *out);
    out->bins = nfft / 2 + 1;
    out->df_hz = rate_hz / (double)nfft;
    out->dt_s = (double)(nfft / 2) / rate_hz;
    size_t values = ana_spectrogram_values(n, nfft);
    if (values == 0)
        return RM_OK;  /* too short for one frame: an empty spectrogram */
    size_t hop = nfft / 2;
    out->frames = values / out->bins;
    out->power = power;
    fft_work w;
    rm_status st = fft_work_init(&w, nfft, err);
    if (st != RM_OK) {
        out->power = NULL;
        return st;
    }
    double scale = density_scale(&w, rate_hz, 1);
    for (size_t f = 0; f < out->frames; f++) {
        double *row = out->power + f * out->bins;
        load_segment(&w, x + f * hop, true, 0.0);
        fftw_execute_dft_r2c(w.plan, w.in, w.out);
        /* scale_to_density as the row is written */
        scaled_power(w.out, out->bins, 2.0 * scale, row);
        row[0] = bin_power(w.out[0]) * scale;
        if (nfft % 2 == 0)
            row[nfft / 2] = bin_power(w.out[nfft / 2]) * scale;
    }
    fft_work_free(&w);
    return RM_OK;
}

/** Frame power u frames on from frame 0, linear between frames and held
 *  beyond the first and last. */
static inline double power_between_frames(const double *frame_power,
                                          size_t frames, double u)
{
    if (u <= 0.0)
        return frame_power[0];
    if (u >= (double)(frames - 1))
        return frame_power[frames - 1];
    size_t f = (size_t)u;
    double frac = u - (double)f;
    return frame_power[f] * (1.0 - frac) + frame_power[f + 1] * frac;
}

/** rm_band_power of each frame of sg into frame_power. Which bins lie in
 *  the band is the same in every frame: they are listed once, into band
 *  (room for sg->bins). */
static void frame_band_powers(const rm_spectrogram *sg, double lo_hz,
                              double hi_hz, size_t *band, double *frame_power)
{
    size_t count = 0;
    for (size_t k = 0; k < sg->bins; k++)
        if (bin_in_band(k, sg->df_hz, lo_hz, hi_hz))
            band[count++] = k;
    for (size_t f = 0; f < sg->frames; f++) {
        const double *psd = sg->power + f * sg->bins;
        double sum = 0.0;
        for (size_t j = 0; j < count; j++)
            sum += psd[band[j]] * sg->df_hz;
        frame_power[f] = sum;
    }
}

/** out[i] = power_between_frames at sample i, i < n (frame f is centred
 *  at (f + 1) * dt_s: its half-length is one hop). Four samples at a time
 *  where all four lie between the same two frames. */
AVX2_CLONE
static void interpolate_frames(const double *frame_power, size_t frames,
                               double dt_s, double rate_hz, size_t n,
                               double *out)
{
    double last = (double)(frames - 1);
    ana_quad at = {0.0, 1.0, 2.0, 3.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4, at += 4.0) {
        ana_quad u = (at / rate_hz) / dt_s - 1.0;
        size_t f = u[0] > 0.0 && u[0] < last ? (size_t)u[0] : 0;
        double from = (double)f;
        /* every lane checked, though u grows with i */
        ana_quad_mask same = (u > 0.0) & (u < last) & (u >= from) &
                             (u < from + 1.0);
        if (same[0] & same[1] & same[2] & same[3]) {
            ana_quad frac = u - from;
            ANA_QUAD_AT(out + i) = frame_power[f] * (1.0 - frac) +
                                   frame_power[f + 1] * frac;
            continue;
        }
        for (size_t j = 0; j < 4; j++)
            out[i + j] = power_between_frames(frame_power, frames, u[j]);
    }
    for (; i < n; i++)
        out[i] = power_between_frames(frame_power, frames,
                                      ((double)i / rate_hz) / dt_s - 1.0);
}

void ana_band_power_series(const rm_spectrogram *sg, double lo_hz,
                           double hi_hz, size_t n, double rate_hz,
                           double *out)
{
    if (sg->frames == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = 0.0;
        return;
    }
    double *frame_power = malloc(sizeof *frame_power * sg->frames);
    size_t *band = malloc(sizeof *band * sg->bins);
    if (frame_power && band) {
        frame_band_powers(sg, lo_hz, hi_hz, band, frame_power);
        interpolate_frames(frame_power, sg->frames, sg->dt_s, rate_hz, n,
                           out);
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
    }
    free(frame_power);
    free(band);
}

/* ------------------------------------------------------------------------ */
/* Raw-rate periodogram accumulator                                         */
/* ------------------------------------------------------------------------ */

rm_status ana_psd_accumulator_init(ana_psd_accumulator *a, double rate_hz,
                                   rm_error *err)
{
    memset(a, 0, sizeof *a);
    a->rate_hz = rate_hz;
    /* About one-second segments: 1 Hz resolution separates a vibration
     * motor from mains hum; at least 64 points. */
    a->nfft = 64;
    while ((double)a->nfft < rate_hz)
        a->nfft *= 2;
    a->segment = malloc(sizeof *a->segment * a->nfft);
    a->sum = calloc(a->nfft / 2 + 1, sizeof *a->sum);
    a->work = calloc(1, sizeof *a->work);
    if (!a->segment || !a->sum || !a->work) {
        ana_psd_accumulator_free(a);
        return rm_error_set(err, RM_ERR_NOMEM, "raw spectrum: out of memory");
    }
    rm_status st = fft_work_init(a->work, a->nfft, err);
    if (st != RM_OK) {
        free(a->work);
        a->work = NULL;
        ana_psd_accumulator_free(a);
    }
    return st;
}

/** The periodogram of segment x[0..nfft) into the sum. */
static void accumulate_segment(ana_psd_accumulator *a, const double *x)
{
    load_segment(a->work, x, true, 0.0);
    fft_work_add_power(a->work, a->sum);
    a->segments++;
}

void ana_psd_accumulator_push(ana_psd_accumulator *a, const double *x,
                              size_t n)
{
    while (n > 0) {
        if (a->fill == 0 && n >= a->nfft) {  /* a whole segment: no copy */
            accumulate_segment(a, x);
            x += a->nfft;
            n -= a->nfft;
            continue;
        }
        size_t take = a->nfft - a->fill < n ? a->nfft - a->fill : n;
        memcpy(a->segment + a->fill, x, sizeof *x * take);
        a->fill += take;
        x += take;
        n -= take;
        if (a->fill == a->nfft) {
            a->fill = 0;
            accumulate_segment(a, a->segment);
        }
    }
}

static bool near_harmonic(double f, double base_hz, double tolerance_hz)
{
    if (base_hz <= 0.0)
        return false;
    double k = round(f / base_hz);
    return k >= 1.0 && fabs(f - k * base_hz) <= tolerance_hz;
}

/* A line's floor is the median PSD 3..15 Hz either side of it: near enough
 * to follow a sloping spectrum, far enough to leave the line out. */
#define LINE_FLOOR_INNER_HZ 3.0
#define LINE_FLOOR_OUTER_HZ 15.0
#define LINE_FLOOR_MAX_BINS 256

double ana_line_prominence(const double *psd, size_t bins, double df_hz,
                           double f_hz)
{
    size_t centre = (size_t)lround(f_hz / df_hz);
    if (centre < 1 || centre + 1 >= bins)
        return 0.0;
    double peak = fmax(psd[centre], fmax(psd[centre - 1], psd[centre + 1]));
    double floor_values[LINE_FLOOR_MAX_BINS];
    size_t used = 0;
    for (size_t k = 0; k < bins && used < LINE_FLOOR_MAX_BINS; k++) {
        double d = fabs((double)k * df_hz - f_hz);
        if (d >= LINE_FLOOR_INNER_HZ && d <= LINE_FLOOR_OUTER_HZ)
            floor_values[used++] = psd[k];
    }
    if (used < 4)
        return 0.0;
    double floor_median = rm_median_inplace(floor_values, used);
    return floor_median > 0.0 ? peak / floor_median : 0.0;
}

double ana_psd_accumulator_peak(const ana_psd_accumulator *a,
                                double ignore_hz)
{
    /* Vibrating rollers run at about 20-60 Hz; 15 Hz keeps clear of the
     * 6-12 Hz tremor band. */
    const double lowest_hz = 15.0, mains_tolerance_hz = 2.0;
    /* A motor's line stands 100 x (20 dB) above the spectrum around it;
     * the flank of strong tremor below 15 Hz only slopes. */
    const double prominence = 100.0;
    if (a->segments == 0)
        return 0.0;
    double df = a->rate_hz / (double)a->nfft, best = prominence, peak_hz = 0.0;
    size_t bins = a->nfft / 2 + 1;
    for (size_t k = 1; k + 1 < bins; k++) {
        double f = (double)k * df;
        if (f < lowest_hz || near_harmonic(f, ignore_hz, mains_tolerance_hz) ||
            a->sum[k] < a->sum[k - 1] || a->sum[k] < a->sum[k + 1])
            continue;                 /* only local maxima are lines */
        double p = ana_line_prominence(a->sum, bins, df, f);
        if (p > best)
            best = p, peak_hz = f;
    }
    return peak_hz;
}

void ana_psd_accumulator_free(ana_psd_accumulator *a)
{
    if (a->work)
        fft_work_free(a->work);
    free(a->work);
    free(a->segment);
    free(a->sum);
    a->segment = a->sum = NULL;
    a->work = NULL;
}
