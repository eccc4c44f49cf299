/*
 * Private interfaces between the analysis stages (not installed).
 *
 * The pipeline, one file per stage:
 *   conditioning.c  raw counts -> newtons per channel, hum notch, decimation
 *                   to the analysis rate, offset drift and FSR creep
 *   position.c      encoder -> position along the leg, medial/lateral,
 *                   speed, strokes, cadence
 *   spectra.c       FFTW plans, Welch PSD, spectrogram, tremor power,
 *                   vibration frequency
 *   dwell.c         dwells (held contact under load)
 *   unloading.c     force eased off along the leg, pass by pass
 *   spots.c         profile along the leg, marks, tender spots
 *   analyse.c       the driver: rm_analyse_samples / rm_analyse_session
 */
#ifndef ROLLMAP_ANALYSIS_INTERNAL_H
#define ROLLMAP_ANALYSIS_INTERNAL_H

#include "rollmap_analysis.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------------ */
/* Conditioning                                                             */
/* ------------------------------------------------------------------------ */

/* The result's series in one allocation (ana_series_block): the arrays of
 * rm_series, cap entries each, at fixed places: the byte arrays first,
 * then the doubles in the order below. One run of huge pages instead of
 * one per array saves the rounding of each array up to whole 2 MiB pages
 * and the small pages of the byte arrays, all of which a fresh process
 * pays for in page faults. The conditioner fills the times, encoder
 * counts and gap flags in place; the analysis takes the block over.
 *
 * The block's end, from the speed's array on, serves twice: while
 * conditioning it holds the channels' floats and tare flags; once those
 * are combined into the force, pressure and centre of pressure, it holds
 * the speed, the tremor and then the spectrogram's power. Sharing it
 * spares a fresh process mapping (and on a virtual machine, the host
 * backing) the memory of one of the two. */
typedef enum ana_series_double {
    ANA_SERIES_T_S, ANA_SERIES_POSITION, ANA_SERIES_FORCE,
    ANA_SERIES_PRESSURE, ANA_SERIES_ML, ANA_SERIES_SPEED, ANA_SERIES_TREMOR,
    ANA_SERIES_DOUBLES
} ana_series_double;
typedef enum ana_series_byte {
    ANA_SERIES_IN_GAP, ANA_SERIES_LOADED, ANA_SERIES_BYTES
} ana_series_byte;

/** A block of cap entries of every series, room for `channels` channels
 *  and for the spectrogram of cap samples (rm_alloc_large, released with
 *  free()); NULL when out of memory. Nothing is touched yet. */
void *ana_series_block_alloc(size_t cap, unsigned channels);
/** The byte arrays, rounded up to a cache line so the doubles align. */
static inline size_t ana_series_head_bytes(size_t cap)
{
    return ((size_t)ANA_SERIES_BYTES * cap + 63) & ~(size_t)63;
}
static inline double *ana_series_doubles(void *block, size_t cap,
                                         ana_series_double which)
{
    return (double *)((char *)block + ana_series_head_bytes(cap)) +
           (size_t)which * cap;
}
static inline uint8_t *ana_series_bytes(void *block, size_t cap,
                                        ana_series_byte which)
{
    return (uint8_t *)block + (size_t)which * cap;
}
/** The channels' floats while conditioning (channel k's cap values at
 *  k * cap), their cap tare flags after them. */
static inline float *ana_series_channels(void *block, size_t cap)
{
    return (float *)ana_series_doubles(block, cap, ANA_SERIES_SPEED);
}
/** The spectrogram's power once the channels are combined. */
static inline double *ana_series_spectrogram(void *block, size_t cap)
{
    return ana_series_doubles(block, cap, ANA_SERIES_DOUBLES);
}

/** Per-channel series at the analysis rate, before they are combined. */
typedef struct ana_channels {
    size_t n, cap;
    double rate_hz;
    unsigned count;                      /**< force/pressure channels */
    double *t_s;                         /**< in series_block */
    float *newtons[RM_MAX_CHANNELS];     /**< float: see conditioning.c;
                                              in series_block */
    double *encoder;                     /**< low-passed encoder counts,
                                              in series_block */
    uint8_t *in_gap;                     /**< 1 filled into a gap, else 0;
                                              in series_block */
    uint8_t *tared;                      /**< 1 a device tare happened here;
                                              in series_block */
    void *series_block;                  /**< ana_series_block_alloc(cap,
                                              count) */
} ana_channels;

/** Raw-rate facts gathered while streaming. */
typedef struct ana_raw_stats {
    uint64_t t0_us;                      /**< time of the first sample */
    double duration_s;                   /**< first to last sample + 1 */
    uint64_t samples;                    /**< real samples seen */
    uint64_t saturated;                  /**< samples flagged saturated */
    uint64_t filled;                     /**< samples filled into gaps */
    size_t gaps;                         /**< time jumps in the stream */
    double gap_s;
    double *mark_t_s;                    /**< RM_SAMPLE_MARK presses */
    size_t mark_count, mark_cap;
    bool hum_removed;
    double hum_hz;                       /**< mains frequency removed */
    double vibration_hz;                 /**< 0 none */
} ana_raw_stats;

typedef struct ana_conditioner ana_conditioner;

/** Prepare a conditioner. prefix (the first samples of the session, any
 *  number) is used to detect mains hum before streaming starts;
 *  expected_samples (0 if unknown) sizes the output at once. */
rm_status ana_conditioner_new_columns(ana_conditioner **out,
                                      const rm_device_info *info,
                                      const rm_analysis_config *cfg,
                                      const rm_sample_columns *prefix,
                                      size_t prefix_n,
                                      uint64_t expected_samples,
                                      rm_error *err);
/** The same with the prefix as rm_samples. */
rm_status ana_conditioner_new(ana_conditioner **out,
                              const rm_device_info *info,
                              const rm_analysis_config *cfg,
                              const rm_sample *prefix, size_t prefix_n,
                              uint64_t expected_samples, rm_error *err);
/** Feed samples s[0..n) in time order, any batch size. */
rm_status ana_conditioner_push_columns(ana_conditioner *c,
                                       const rm_sample_columns *s, size_t n,
                                       rm_error *err);
/** The same from rm_samples (copied into columns a run at a time). */
rm_status ana_conditioner_push(ana_conditioner *c, const rm_sample *s,
                               size_t n, rm_error *err);
/** Flush the filters, remove offset drift and FSR creep, and hand over
 *  the channel series and raw statistics (the conditioner is freed). */
rm_status ana_conditioner_finish(ana_conditioner *c, ana_channels *ch,
                                 ana_raw_stats *raw, rm_error *err);
void ana_conditioner_free(ana_conditioner *c);
/** Remove offset drift (estimated where the total force is under half
 *  the load threshold, between device tares) and FSR creep (from the
 *  pressure cells, cfg->fsr_creep_pct) from the filtered channels ch of a
 *  device info: the last step of ana_conditioner_finish. Its scratch is
 *  the loaded and force_n-to-ml arrays of ch->series_block. */
rm_status ana_channels_remove_drift_and_creep(ana_channels *ch,
                                              const rm_device_info *info,
                                              const rm_analysis_config *cfg,
                                              rm_error *err);
void ana_channels_free(ana_channels *ch);
void ana_raw_stats_free(ana_raw_stats *raw);

/** Whether the device has pressure cells. */
bool ana_has_pressure_cells(const rm_device_info *info);


/** Combine channels into total force and mean pressure (series fields
 *  force_n, pressure_kpa, loaded; out->in_gap must be filled) and, when
 *  ana_cop_kind finds channels for it, the centre of pressure (mm across
 *  the roller; NaN where not loaded or no channel pushes) into out->ml,
 *  which ana_position_fill turns into ml. */
void ana_combine_channels(const rm_device_info *info,
                          const rm_analysis_config *cfg,
                          const ana_channels *ch, rm_series *out);


/* ------------------------------------------------------------------------ */
/* Two or four samples at a time                                            */
/* ------------------------------------------------------------------------ */

/* Two samples as one value, an SSE2 register that every x86-64 has: GCC
 * and clang do the arithmetic on it with SIMD instructions, each lane the
 * scalar expression's operations in the same order, so the same bits (a
 * division stays a division: two of them cost about what one does).
 * Comparisons give all bits set (true) or none per lane; ana_where(mask,
 * a, b) picks by them. */
typedef double ana_pair __attribute__((vector_size(2 * sizeof(double))));
typedef int64_t ana_pair_mask __attribute__((vector_size(2 * sizeof(int64_t))));

static inline ana_pair ana_where(ana_pair_mask mask, ana_pair a, ana_pair b)
{
    return (ana_pair)(((ana_pair_mask)a & mask) | ((ana_pair_mask)b & ~mask));
}

/** a > b ? a : b and a < b ? a : b lane by lane: x86's maxpd and minpd
 *  (the second operand for equal values and NaNs), one instruction
 *  instead of ana_where's three. */
static inline ana_pair ana_pair_max(ana_pair a, ana_pair b)
{
#ifdef __SSE2__
    return _mm_max_pd(a, b);
#else
    return ana_where(a > b, a, b);
#endif
}

static inline ana_pair ana_pair_min(ana_pair a, ana_pair b)
{
#ifdef __SSE2__
    return _mm_min_pd(a, b);
#else
    return ana_where(a < b, a, b);
#endif
}

/** x[i], x[i + 1] (any alignment). */
static inline ana_pair ana_pair_load(const double *x)
{
    ana_pair v;
    memcpy(&v, x, sizeof v);
    return v;
}

static inline void ana_pair_store(double *x, ana_pair v)
{
    memcpy(x, &v, sizeof v);
}

/** peak = rm_fmax_libm(x[i], peak) for each x[i] in order from peak = +0
 *  (NaNs left out, +0 when nothing is above it), two samples at a time:
 *  the running values are +0 or above it, and equal ones have equal
 *  bits, so the lanes' order does not show. */
static inline double ana_peak_from_zero(const double *x, size_t n)
{
    ana_pair peak = {0.0, 0.0};
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        peak = ana_pair_max(ana_pair_load(x + i), peak);
    double last = peak[1] > peak[0] ? peak[1] : peak[0];
    return i < n && x[i] > last ? x[i] : last;
}

/* Four samples as one value: with AVX2 one register, else two SSE2 ones
 * (the same bits either way, as with ana_pair). Read and written in place
 * through ANA_QUAD_LOAD and ANA_QUAD_AT: a function returning one would
 * pass it differently with AVX and without (GCC's -Wpsabi). */
typedef double ana_quad __attribute__((vector_size(4 * sizeof(double))));
typedef int64_t ana_quad_mask
    __attribute__((vector_size(4 * sizeof(int64_t))));
typedef double ana_quad_stored
    __attribute__((vector_size(4 * sizeof(double)), aligned(sizeof(double)),
                   may_alias));
/** p[0 .. 4) as an ana_quad, to read (any alignment). */
#define ANA_QUAD_LOAD(p) (*(const ana_quad_stored *)(p))
/** p[0 .. 4) as an ana_quad, to write. */
#define ANA_QUAD_AT(p) (*(ana_quad_stored *)(p))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ROLLMAP_PORTABLE)
/* Built twice, chosen at load time: with AVX2 eight floats (or four
 * doubles) are one instruction, with plain x86-64 (SSE2) two. A
 * ROLLMAP_PORTABLE build has only the second (see docs/HACKING.md). */
#define AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define AVX2_CLONE
#endif

/* ------------------------------------------------------------------------ */
/* Position                                                                 */
/* ------------------------------------------------------------------------ */

/** The profile bin of a position: floor(position_cm / bin_cm) within
 *  [0, bins), 0 for NaN. Without the floor (a call or a dozen
 *  instructions before SSE4.1): for q >= 1 the floor's integer is q's
 *  truncation, and floor(q) >= bins exactly when q >= bins. */
static inline size_t ana_profile_bin(double position_cm, double bin_cm,
                                     size_t bins)
{
    double q = position_cm / bin_cm;
    if (!(q >= 1.0))
        return 0;
    return q >= (double)bins ? bins - 1 : (size_t)q;
}

/** Contact-point travel of one encoder count, mm (0 without an encoder). */
double ana_mm_per_count(const rm_device_info *info);

/** The kind of the channels that give the centre of pressure: pressure
 *  cells when they sit at two or more places across the roller, else load
 *  cells; false when those do not either. */
bool ana_cop_kind(const rm_device_info *info, rm_channel_kind *kind);

/** Fill position_cm (which holds the channels' low-passed encoder counts
 *  on entry), ml (which holds ana_combine_channels's centre of pressure)
 *  and speed_cm_s; returns the rolled length in cm (NaN without
 *  position). scratch: room for s->n values, for the medians. */
double ana_position_fill(const rm_device_info *info,
                         const rm_session_meta *meta, rm_series *s,
                         double *scratch);

/** Passes under load in either direction (from_cm -> to_cm as rolled).
 *  *out is malloc'd. */
rm_status ana_find_passes(const rm_series *s, rm_stroke **out,
                          size_t *count, rm_error *err);
/** Strokes: the proximal-to-distal passes among passes (malloc'd). */
rm_status ana_distal_strokes(const rm_stroke *passes, size_t count,
                             rm_stroke **out, size_t *out_count,
                             rm_error *err);
/** One-way passes per minute from pass start times (0 with fewer than 2). */
double ana_cadence_per_min(const rm_stroke *passes, size_t count);

/* ------------------------------------------------------------------------ */
/* Spectra                                                                  */
/* ------------------------------------------------------------------------ */


/** How far the PSD at f stands above the median of the PSD 3..15 Hz either
 *  side of it (0 when there is too little spectrum around f). */
double ana_line_prominence(const double *psd, size_t bins, double df_hz,
                           double f_hz);

/** rm_welch_psd of x[i] - mean, without a copy of x less its mean; with
 *  keep, x[i] counts only where keep[i] and it is finite, 0 elsewhere
 *  (NULL: every x[i]). */
rm_status ana_welch_psd_about(const double *x, const uint8_t *keep, size_t n,
                              double mean, double rate_hz, size_t nfft,
                              double *psd, rm_error *err);
/** The value ana_welch_psd_about takes for x[i] with keep. */
static inline double ana_kept(const double *x, const uint8_t *keep, size_t i)
{
    return !keep || (keep[i] && isfinite(x[i])) ? x[i] : 0.0;
}
/** ana_kept of x[i .. i + 4) with keep (not NULL) into *kept. */
static inline void ana_kept_quad(const double *x, const uint8_t *keep,
                                 size_t i, ana_quad *kept)
{
    ana_quad v = ANA_QUAD_LOAD(x + i);
    /* x - x is 0 exactly when x is finite; the bits of 0.0 are all clear */
    ana_quad_mask take = ((ana_quad_mask){keep[i], keep[i + 1], keep[i + 2],
                                          keep[i + 3]} != 0) &
                         (v - v == 0.0);
    *kept = (ana_quad)((ana_quad_mask)v & take);
}
/** The sum of ana_kept(x, keep, i) over i < n, added in the order of i. */
double ana_kept_sum(const double *x, const uint8_t *keep, size_t n);

/** Values of the spectrogram of n samples in frames of nfft. */
size_t ana_spectrogram_values(size_t n, size_t nfft);
/** Spectrogram of x: Hann frames of nfft, hop nfft/2, density scaling.
 *  The power goes into power, room for ana_spectrogram_values(n, nfft)
 *  doubles that stays the caller's (out->power is NULL without a frame). */
rm_status ana_spectrogram(const double *x, size_t n, double rate_hz,
                          size_t nfft, double *power, rm_spectrogram *out,
                          rm_error *err);
/** Band power over time, interpolated from the spectrogram frames. */
void ana_band_power_series(const rm_spectrogram *sg, double lo_hz,
                           double hi_hz, size_t n, double rate_hz,
                           double *out);

/** Streaming accumulator of periodograms of the raw total force (for the
 *  frequency of a vibrating roller, which can lie above the analysis rate's
 *  Nyquist frequency). */
struct fft_work;
typedef struct ana_psd_accumulator {
    size_t nfft, fill, segments;
    double rate_hz;
    double *segment, *sum;
    struct fft_work *work;          /**< plan and buffers (spectra.c) */
} ana_psd_accumulator;

rm_status ana_psd_accumulator_init(ana_psd_accumulator *a, double rate_hz,
                                   rm_error *err);
void ana_psd_accumulator_push(ana_psd_accumulator *a, const double *x,
                              size_t n);
/** Frequency of the most prominent narrow line between 15 Hz and Nyquist,
 *  skipping ignore_hz and its harmonics (mains); 0 when none stands 20 dB
 *  above the spectrum around it. */
double ana_psd_accumulator_peak(const ana_psd_accumulator *a,
                                double ignore_hz);
void ana_psd_accumulator_free(ana_psd_accumulator *a);

/* ------------------------------------------------------------------------ */
/* Dwell, profile, spots                                                    */
/* ------------------------------------------------------------------------ */

/* |ml| below this is the centre line: a centre-of-pressure shift under
 * a quarter of the full scale is within what sway alone produces. */
#define ANA_SIDE_THRESHOLD 0.25
rm_ml_side ana_side_of(double ml);

rm_status ana_find_dwells(const rm_series *s, bool has_position,
                          double rolled_length_cm,
                          const rm_analysis_config *cfg,
                          const double *mark_t_s, size_t mark_count,
                          rm_dwell **out, size_t *count, rm_error *err);

/** Share of the force eased off on passes over each of bins bins of
 *  bin_cm, against where nothing hurts (unloading.c); NaN where no pass
 *  went. spread[b]: its standard deviation from pass to pass (NaN with
 *  fewer than two passes). */
rm_status ana_unloading(const rm_series *s, const rm_stroke *passes,
                        size_t count, double bin_cm, size_t bins,
                        double *unloading, double *spread);

/** Tremor during holds and the cadence from the position's spectrum
 *  into a->summary (rhythm.c); needs the series and the dwells. */
rm_status ana_rhythm(rm_analysis *a, rm_error *err);

/** steady[i] = 1 where every sample within reach of i (the series' ends
 *  cut the reach short) is loaded, else 0 (spots.c). */
void ana_steady_load(const uint8_t *loaded, size_t n, size_t reach,
                     uint8_t *steady);

/** Build profile, marks and spots into a (series, dwells, summary's
 *  rolled length and has_position must be filled). */
rm_status ana_find_spots(rm_analysis *a, const rm_stroke *passes,
                         size_t pass_count, const double *mark_t_s,
                         const int *mark_rating, size_t mark_count,
                         rm_error *err);

/** Sample standard deviation from a sum, a sum of squares and a count
 *  (NaN with fewer than two values). */
double ana_sample_sd(double sum, double sum_sq, size_t n);

#endif /* ROLLMAP_ANALYSIS_INTERNAL_H */
