/*
 * Numbers from the spectra: the tremor during holds (peak frequency, band
 * power and its size against the force) and the cadence from the position
 * signal's spectrum, beside the cadence counted from the passes
 * (docs/ANALYSIS.md, "Spectra").
 */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>

/* Welch segments during holds last this long: 2.56 s at 100 Hz is 256
 * samples, 0.39 Hz apart, and a 10 s dwell (the shortest) holds 6 of them
 * with half overlap. */
#define HOLD_SEGMENT_S 2.56
/* The position spectrum: segments of at most this long (41 s at 100 Hz,
 * 0.024 Hz apart: several back-and-forth cycles at any real cadence). */
#define CADENCE_SEGMENT_S 40.96
/* The cadence is looked for between 3 and 120 one-way passes a minute
 * (studies pace 15-40, self-chosen 33 +/- 10, domain.md); one cycle of
 * the position is two one-way passes. */
#define CADENCE_LO_PER_MIN 10.0
#define CADENCE_HI_PER_MIN 120.0
#define PASSES_PER_CYCLE 2.0

static size_t segment_samples(double seconds, double rate_hz)
{
    size_t want = (size_t)(seconds * rate_hz), p = 1;
    while (p * 2 <= want)
        p *= 2;
    return p;
}

/** Frequency of the largest value of psd in [lo, hi] Hz, refined by a
 *  parabola through its neighbours; NaN when the band is empty. */
static double peak_frequency(const double *psd, size_t bins, double df_hz,
                             double lo_hz, double hi_hz)
{
    size_t best = bins;
    for (size_t k = 1; k + 1 < bins; k++) {
        double f = (double)k * df_hz;
        if (f >= lo_hz && f <= hi_hz && (best == bins || psd[k] > psd[best]))
            best = k;
    }
    if (best == bins)
        return NAN;
    double l = psd[best - 1], c = psd[best], r = psd[best + 1];
    double curve = l - 2.0 * c + r;
    double offset = curve < 0.0 ? rm_clamp(0.5 * (l - r) / curve, -0.5, 0.5)
                                : 0.0;
    return ((double)best + offset) * df_hz;
}

/** Add the Welch PSD of x[0..n) (mean removed; keep: as in
 *  ana_welch_psd_about) times its length to sum. */
static rm_status add_psd(const double *x, const uint8_t *keep, size_t n,
                         double rate_hz, size_t nfft, double *sum, double *tmp,
                         rm_error *err)
{
    double mean = ana_kept_sum(x, keep, n) / (double)n;
    rm_status st = ana_welch_psd_about(x, keep, n, mean, rate_hz, nfft, tmp,
                                       err);
    for (size_t k = 0; st == RM_OK && k <= nfft / 2; k++)
        sum[k] += tmp[k] * (double)n;
    return st;
}

static size_t sample_index(const rm_series *s, double t_s)
{
    double i = round((t_s - s->t_s[0]) * s->rate_hz);
    if (!(i > 0.0))
        return 0;
    return i >= (double)s->n ? s->n - 1 : (size_t)i;
}

/** Tremor of the holds: the force PSD of every dwell long enough for a
 *  segment, averaged by duration; its peak in the tremor band, the band's
 *  power and that power's RMS over the mean force held, in %. */
static rm_status hold_tremor(rm_analysis *a, rm_error *err)
{
    const rm_series *s = &a->series;
    rm_summary *m = &a->summary;
    size_t nfft = segment_samples(HOLD_SEGMENT_S, s->rate_hz);
    double *sum = calloc(nfft / 2 + 1, sizeof *sum);
    double *tmp = malloc(sizeof *tmp * (nfft / 2 + 1));
    rm_status st = sum && tmp ? RM_OK
        : rm_error_set(err, RM_ERR_NOMEM, "spectra: out of memory");
    double samples = 0.0, force = 0.0;
    for (size_t d = 0; st == RM_OK && d < a->dwell_count && s->n; d++) {
        size_t i0 = sample_index(s, a->dwells[d].start_s);
        size_t i1 = sample_index(s, a->dwells[d].end_s);
        if (i1 <= i0 || i1 - i0 < nfft)
            continue;
        st = add_psd(s->force_n + i0, NULL, i1 - i0, s->rate_hz, nfft, sum,
                     tmp, err);
        samples += (double)(i1 - i0);
        force += a->dwells[d].mean_force_n * (double)(i1 - i0);
    }
    if (st == RM_OK && samples > 0.0) {
        double df = s->rate_hz / (double)nfft;
        for (size_t k = 0; k <= nfft / 2; k++)
            sum[k] /= samples;
        m->hold_tremor_hz = peak_frequency(sum, nfft / 2 + 1, df,
                                           a->config.tremor_lo_hz,
                                           a->config.tremor_hi_hz);
        m->hold_tremor_power_n2 = rm_band_power(sum, nfft / 2 + 1, df,
                                                a->config.tremor_lo_hz,
                                                a->config.tremor_hi_hz);
        m->hold_tremor_pct = 100.0 * sqrt(m->hold_tremor_power_n2) /
                             (force / samples);
    }
    free(sum);
    free(tmp);
    return st;
}

static bool moving_under_load(const rm_series *s, size_t i)
{
    return s->loaded[i] && isfinite(s->speed_cm_s[i]);
}

/** Cadence from the position: the peak of the spectrum of its rate of
 *  change (the speed, 0 while unloaded) over the loaded part of the
 *  session, in one-way passes a minute. The position itself wanders
 *  slowly between sets and holds, and that wander outweighs the
 *  back-and-forth; differencing weighs each frequency by its square and
 *  leaves the strokes on top. */
static rm_status position_cadence(rm_analysis *a, rm_error *err)
{
    const rm_series *s = &a->series;
    /* [first, end): from the first sample moving under load to the last */
    size_t first = 0, end = s->n;
    while (first < end && !moving_under_load(s, first))
        first++;
    while (end > first && !moving_under_load(s, end - 1))
        end--;
    size_t n = end - first;
    size_t nfft = segment_samples(CADENCE_SEGMENT_S, s->rate_hz);
    if (n < 2 || n < nfft)
        return RM_OK;   /* shorter than one segment: no figure */
    double *sum = calloc(nfft / 2 + 1, sizeof *sum);
    double *tmp = malloc(sizeof *tmp * (nfft / 2 + 1));
    rm_status st = sum && tmp
        ? add_psd(s->speed_cm_s + first, s->loaded + first, n, s->rate_hz,
                  nfft, sum, tmp, err)
        : rm_error_set(err, RM_ERR_NOMEM, "spectra: out of memory");
    if (st == RM_OK) {
        double hz = peak_frequency(sum, nfft / 2 + 1, s->rate_hz / (double)nfft,
                                   CADENCE_LO_PER_MIN / 60.0 / PASSES_PER_CYCLE,
                                   CADENCE_HI_PER_MIN / 60.0 / PASSES_PER_CYCLE);
        a->summary.spectral_cadence_per_min = hz * 60.0 * PASSES_PER_CYCLE;
    }
    free(sum);
    free(tmp);
    return st;
}

rm_status ana_rhythm(rm_analysis *a, rm_error *err)
{
    a->summary.hold_tremor_hz = NAN;
    a->summary.hold_tremor_power_n2 = NAN;
    a->summary.hold_tremor_pct = NAN;
    a->summary.spectral_cadence_per_min = NAN;
    rm_status st = hold_tremor(a, err);
    if (st == RM_OK && a->has_position)
        st = position_cadence(a, err);
    return st;
}
