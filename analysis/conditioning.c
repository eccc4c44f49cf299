/*
 * Signal conditioning: counts -> newtons with each channel's calibration,
 * mains-hum detection and notch (where decimation does not stop the hum),
 * anti-aliased decimation to the analysis rate (streaming, so an hour at
 * 1 kHz never sits in memory), then offset drift and FSR creep removal on
 * the decimated channels. docs/ANALYSIS.md explains every constant.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Several channels handled as one value: GCC and clang turn the arithmetic
 * on it into SIMD instructions. Calibration and the hum notch run in
 * double, four values at a time (the notch's poles sit just inside the
 * unit circle, where float rounding would be amplified); the anti-aliasing
 * FIR and the 100 Hz channels are float, eight channels at a time: float
 * holds a force to a part in ten million, far below any sensor's noise, at
 * half the work and half the memory. */
typedef double block4 __attribute__((vector_size(4 * sizeof(double))));
/* The same stored inside structs: no alignment beyond a double's asked of
 * their allocation. */
typedef double block4_stored __attribute__((vector_size(4 * sizeof(double)),
                                            aligned(sizeof(double))));
typedef float float4 __attribute__((vector_size(4 * sizeof(float))));
/* 64-bit integers beside a block4's lanes: counters, and the results of
 * its comparisons (all bits set where true); long4_stored inside structs,
 * as block4_stored. ulong4: four times in microseconds. */
typedef int64_t long4 __attribute__((vector_size(4 * sizeof(int64_t))));
typedef int64_t long4_stored __attribute__((vector_size(4 * sizeof(int64_t)),
                                            aligned(sizeof(int64_t))));
typedef uint64_t ulong4 __attribute__((vector_size(4 * sizeof(uint64_t))));
#define BLOCK 4
#define MAX_BLOCKS ((RM_MAX_CHANNELS + BLOCK - 1) / BLOCK)
#define LANES 8
typedef float lanes_f __attribute__((vector_size(LANES * sizeof(float))));
#define MAX_LANE_BLOCKS ((RM_MAX_CHANNELS + LANES - 1) / LANES)
/* A float4 variable's values as doubles, lane by lane: GCC 12 makes one
 * AVX instruction of this conversion, four of __builtin_convertvector's
 * (a macro: a function returning a block4 has no portable ABI). */
#define WIDENED(v) ((block4){(v)[0], (v)[1], (v)[2], (v)[3]})
/* Inputs staged between two runs of the anti-aliasing FIR over them
 * (after the taps - 1 kept from before): the longest run of samples the
 * conditioner takes at once. */
#define STAGE_INPUTS 1024

/* ------------------------------------------------------------------------ */
/* Channel kinds                                                            */
/* ------------------------------------------------------------------------ */

static bool has_kind(const rm_device_info *info, rm_channel_kind kind)
{
    for (unsigned i = 0; i < info->channel_count; i++)
        if (info->channels[i].kind == kind)
            return true;
    return false;
}

static bool has_load_cells(const rm_device_info *info)
{
    return has_kind(info, RM_CHANNEL_LOAD_CELL);
}

bool ana_has_pressure_cells(const rm_device_info *info)
{
    return has_kind(info, RM_CHANNEL_PRESSURE_CELL);
}

/* Contact area of a thigh on a foam roller: 68.4 cm^2 (Curran 2008). */
#define CONTACT_AREA_MM2 6840.0

static double load_threshold_n(const rm_device_info *info,
                               const rm_analysis_config *cfg)
{
    if (has_load_cells(info))
        return cfg->load_threshold_n;
    /* A strip of cells only sees its share of the contact, so its summed
     * force is held to the same share of the threshold. */
    double area = 0.0;
    for (unsigned i = 0; i < info->channel_count; i++)
        area += info->channels[i].area_mm2;
    return cfg->load_threshold_n * rm_clamp(area / CONTACT_AREA_MM2, 0.0, 1.0);
}

/** The kind whose channels add up to the total force. */
static rm_channel_kind total_force_kind(const rm_device_info *info)
{
    return has_load_cells(info) ? RM_CHANNEL_LOAD_CELL
                                    : RM_CHANNEL_PRESSURE_CELL;
}

/** The channels that add up to the total force and the pressure cells
 *  with an area, picked once rather than for every sample. */
typedef struct channel_roles {
    const float *total[RM_MAX_CHANNELS];
    unsigned totals;
    const float *cell[RM_MAX_CHANNELS];
    double cell_area_mm2[RM_MAX_CHANNELS];
    unsigned cells;
    const float *cop[RM_MAX_CHANNELS];  /**< of ana_cop_kind's kind */
    double cop_position_mm[RM_MAX_CHANNELS];
    unsigned cops;                      /**< 0: no centre of pressure */
} channel_roles;

static void pick_roles(const rm_device_info *info, const ana_channels *ch,
                       channel_roles *roles)
{
    rm_channel_kind total_kind = total_force_kind(info), cop_kind;
    bool cop = ana_cop_kind(info, &cop_kind);
    roles->totals = roles->cells = roles->cops = 0;
    for (unsigned k = 0; k < ch->count; k++) {
        const rm_channel_info *ci = &info->channels[k];
        if (ci->kind == total_kind)
            roles->total[roles->totals++] = ch->newtons[k];
        if (ci->kind == RM_CHANNEL_PRESSURE_CELL && ci->area_mm2 > 0.0f) {
            roles->cell[roles->cells] = ch->newtons[k];
            roles->cell_area_mm2[roles->cells++] = ci->area_mm2;
        }
        if (cop && ci->kind == cop_kind) {
            roles->cop[roles->cops] = ch->newtons[k];
            roles->cop_position_mm[roles->cops++] = ci->position_mm;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Mains hum: detection on the first seconds, biquad notch                  */
/* ------------------------------------------------------------------------ */

/* Hum is an electrical line: this many times the local spectral floor
 * (15 dB, ana_line_prominence) around it; rolling forces have no such line
 * near 50/60 Hz. */
#define HUM_PROMINENCE 30.0
/* Notch quality factor: -3 dB width f0/Q, 1.7 Hz at 50 Hz. */
#define NOTCH_Q 30.0

/** Where a line at f_hz lands when sampled at rate_hz. */
static double aliased_hz(double f_hz, double rate_hz)
{
    double f = fmod(f_hz, rate_hz);
    return f > rate_hz / 2.0 ? rate_hz - f : f;
}

static size_t largest_pow2_at_most(size_t n)
{
    size_t p = 1;
    while (p * 2 <= n)
        p *= 2;
    return p;
}

/** Newtons of channel `which` of sample i, or with which = -1 the total
 *  force (in which a lean shifting load between the end caps cancels). */
static double prefix_value(const rm_device_info *info,
                           const rm_sample_columns *s, size_t i, int which)
{
    if (which >= 0)
        return rm_channel_newtons(&info->channels[which], s->counts[which][i]);
    rm_channel_kind kind = total_force_kind(info);
    double total = 0.0;
    for (unsigned k = 0; k < info->channel_count; k++)
        if (info->channels[k].kind == kind)
            total += rm_channel_newtons(&info->channels[k], s->counts[k][i]);
    return total;
}

/** Welch PSD of one signal of the prefix, mean removed. */
static rm_status prefix_psd(const rm_device_info *info, int which,
                            const rm_sample_columns *s, size_t n, size_t nfft,
                            double *x, double *psd)
{
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i] = prefix_value(info, s, i, which);
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        x[i] -= mean;
    return rm_welch_psd(x, n, info->sample_rate_hz, nfft, psd, NULL);
}

/** Mains frequency (50 or 60) whose line stands out in the total force or
 *  any one channel, or 0. Hum is in the wiring of every channel, while the
 *  broadband content that can hide it differs (an FSR's is larger). */
static double detect_hum(const rm_device_info *info,
                         const rm_sample_columns *prefix, size_t n)
{
    static const double mains[] = {50.0, 60.0};
    double rate = info->sample_rate_hz;
    size_t nfft = largest_pow2_at_most(n);
    while ((double)nfft > 2.0 * rate)   /* 0.5 Hz resolution is plenty */
        nfft /= 2;
    if (nfft < 64)
        return 0.0;
    double *x = malloc(sizeof *x * n);
    double *psd = malloc(sizeof *psd * (nfft / 2 + 1));
    double best_hz = 0.0, best = HUM_PROMINENCE;
    for (int which = -1; x && psd && which < info->channel_count; which++) {
        if (prefix_psd(info, which, prefix, n, nfft, x, psd) != RM_OK)
            break;
        for (size_t i = 0; i < 2; i++) {
            double p = ana_line_prominence(psd, nfft / 2 + 1,
                                           rate / (double)nfft,
                                           aliased_hz(mains[i], rate));
            if (p > best)
                best = p, best_hz = mains[i];
        }
    }
    free(x);
    free(psd);
    return best_hz;
}

/** Transposed direct-form II biquads, one per channel with the same
 *  coefficients, stepped eight channels at a time. */
typedef struct notch_bank {
    double b0, b1, b2, a1, a2;
    block4_stored z1[MAX_BLOCKS], z2[MAX_BLOCKS];
    bool on;        /**< designed: there is hum for it to remove */
    bool primed;
} notch_bank;

static void notch_design(notch_bank *q, double f0_hz, double rate_hz)
{
    /* Second-order notch: zeros on the unit circle at f0, poles just inside
     * (bilinear-transform form, e.g. the "Audio EQ Cookbook" equations). */
    double w0 = 2.0 * M_PI * f0_hz / rate_hz;
    double alpha = sin(w0) / (2.0 * NOTCH_Q), a0 = 1.0 + alpha;
    q->b0 = 1.0 / a0;
    q->b1 = -2.0 * cos(w0) / a0;
    q->b2 = 1.0 / a0;
    q->a1 = -2.0 * cos(w0) / a0;
    q->a2 = (1.0 - alpha) / a0;
    memset(q->z1, 0, sizeof q->z1);
    memset(q->z2, 0, sizeof q->z2);
    q->on = true;
    q->primed = false;
}

/* Inlined into each build of the function calling them (stage_run,
 * fir_columns), so that its AVX2 build runs them in AVX2 too. */
#define HOT_INLINE inline __attribute__((always_inline))

/** Start block b in the steady state of a constant input x. */
static HOT_INLINE void notch_prime(notch_bank *q, size_t b, const block4 *x)
{
    q->z2[b] = (q->b2 - q->a2) * *x;
    q->z1[b] = (1.0 - q->b0) * *x;
}

/** Block b of the channels (four of them) through the notch, in place. */
static HOT_INLINE void notch_step(notch_bank *q, size_t b, block4 *x)
{
    block4 in = *x;
    block4 y = q->b0 * in + q->z1[b];
    q->z1[b] = q->b1 * in - q->a1 * y + q->z2[b];
    q->z2[b] = q->b2 * in - q->a2 * y;
    *x = y;
}

/* ------------------------------------------------------------------------ */
/* Calibration of every channel at once                                     */
/* ------------------------------------------------------------------------ */

/** What staging needs of each channel: its calibration
 *  (rm_channel_newtons), each figure repeated in the four lanes of a
 *  vector so that four samples go through the polynomial at once, and
 *  whether it adds to the total force (all bits set) or not (zero).
 *  Channels past the last one are zero. */
typedef struct channel_bank {
    block4_stored tare[MAX_BLOCKS * BLOCK];
    block4_stored coef[MAX_BLOCKS * BLOCK][4];
    long4_stored in_total[MAX_BLOCKS * BLOCK];
    size_t blocks;        /**< blocks of four channels */
    bool linear;          /**< c2 = c3 = 0 in every channel (a device's) */
} channel_bank;

static void channel_bank_init(channel_bank *bank, const rm_device_info *info,
                              rm_channel_kind total_kind)
{
    memset(bank, 0, sizeof *bank);
    bank->blocks = (info->channel_count + BLOCK - 1) / BLOCK;
    bank->linear = true;
    for (unsigned k = 0; k < info->channel_count; k++) {
        const rm_channel_info *ch = &info->channels[k];
        bank->linear &= ch->cal.coef[2] == 0.0 && ch->cal.coef[3] == 0.0;
        double tare = ch->cal.tare_counts;
        bank->tare[k] = (block4_stored){tare, tare, tare, tare};
        for (size_t i = 0; i < 4; i++) {
            double c = ch->cal.coef[i];
            bank->coef[k][i] = (block4_stored){c, c, c, c};
        }
        int64_t adds = ch->kind == total_kind ? -1 : 0;
        bank->in_total[k] = (long4_stored){adds, adds, adds, adds};
    }
}

/** A run of samples as the conditioner reads them, from columns: lane k
 *  is channel k's counts, or zeros past the last channel. */
typedef struct sample_run {
    const uint64_t *t_us;
    const uint16_t *flags;
    const int32_t *encoder;
    const int32_t *lane[MAX_BLOCKS * BLOCK];
} sample_run;

/* What a lane past the last channel reads. */
static const int32_t no_counts[STAGE_INPUTS];

/** The samples of s from index `from` on. */
static sample_run run_of(const rm_sample_columns *s, size_t from)
{
    sample_run r = {s->t_us + from, s->flags + from, s->encoder + from, {NULL}};
    for (unsigned k = 0; k < MAX_BLOCKS * BLOCK; k++)
        r.lane[k] = k < s->channels ? s->counts[k] + from : no_counts;
    return r;
}

/** The samples of s from index `from` to n, padded to LANES with copies of
 *  the last one: `channels` lanes of it in padded. */
static sample_run padded_tail(const sample_run *s, size_t from, size_t n,
                              size_t channels, int32_t padded[][LANES])
{
    sample_run tail = *s;
    for (size_t k = 0; k < channels; k++) {
        for (size_t j = 0; j < LANES; j++)
            padded[k][j] = s->lane[k][from + j < n ? from + j : n - 1];
        tail.lane[k] = padded[k];
    }
    return tail;
}

/* Calibration runs along each channel (one vector is four samples). With
 * the notch, staging goes four samples at a time: the notch runs along
 * each block of channels (one vector is four channels), the two meet in a
 * 4 x 4 transposition. Without, eight samples at a time, turned into the
 * decimator's rows of eight channels by an 8 x 8 transposition in float. */
#define QUAD 4
typedef int32_t int4 __attribute__((vector_size(QUAD * sizeof(int32_t))));

/** Rows become columns: out[j][k] = in[k][j]. */
static HOT_INLINE void transpose4(const block4 in[4], block4 out[4])
{
    block4 lo01 = __builtin_shufflevector(in[0], in[1], 0, 4, 2, 6);
    block4 hi01 = __builtin_shufflevector(in[0], in[1], 1, 5, 3, 7);
    block4 lo23 = __builtin_shufflevector(in[2], in[3], 0, 4, 2, 6);
    block4 hi23 = __builtin_shufflevector(in[2], in[3], 1, 5, 3, 7);
    out[0] = __builtin_shufflevector(lo01, lo23, 0, 1, 4, 5);
    out[1] = __builtin_shufflevector(hi01, hi23, 0, 1, 4, 5);
    out[2] = __builtin_shufflevector(lo01, lo23, 2, 3, 6, 7);
    out[3] = __builtin_shufflevector(hi01, hi23, 2, 3, 6, 7);
}

/** Newtons of channel k for samples i .. i+3 of r, the same arithmetic
 *  as rm_channel_newtons; `linear` (fixed when compiling) leaves out the
 *  terms that are zero, which changes no value (but a zero's sign where
 *  c0 and c1 are zero too). A channel past the last one comes out 0: its
 *  counts and coefficients are 0. */
static HOT_INLINE void calibrate_channel(const channel_bank *bank,
                                         const sample_run *r, size_t i,
                                         size_t k, const bool linear,
                                         block4 *newtons)
{
    int4 counts;
    memcpy(&counts, r->lane[k] + i, sizeof counts);
    const block4_stored *c = bank->coef[k];
    /* lane by lane: GCC 12 makes one AVX instruction of this conversion,
     * four of __builtin_convertvector's */
    block4 x = (block4){counts[0], counts[1], counts[2], counts[3]} -
               bank->tare[k];
    if (linear)
        *newtons = c[0] + x * c[1];
    else
        *newtons = c[0] + x * (c[1] + x * (c[2] + x * c[3]));
}

/* ------------------------------------------------------------------------ */
/* Anti-aliasing decimator (Kaiser-windowed sinc, polyphase output)          */
/* ------------------------------------------------------------------------ */

/* Stopband attenuation in dB, and the band edges as fractions of the output
 * rate: flat to 0.2 (20 Hz at 100 Hz, above the 12 Hz tremor band), stopped
 * from 0.5 (the output Nyquist frequency, so nothing aliases). */
#define FIR_ATTENUATION_DB 60.0
#define FIR_PASS_EDGE 0.2
#define FIR_STOP_EDGE 0.5

static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 100 && term > 1e-14 * sum; k++) {
        double f = x / (2.0 * k);
        term *= f * f;
        sum += term;
    }
    return sum;
}

/** Inputs (channel values, encoder, time, flags) are staged in arrays in
 *  time order; decimator_run filters every output whose taps are all
 *  there, then keeps only the inputs the next outputs still need. */
typedef struct decimator {
    size_t factor;        /**< input samples per output */
    size_t taps;          /**< odd */
    size_t delay;         /**< (taps - 1) / 2: the centre tap */
    size_t blocks;        /**< lane blocks holding the channels */
    size_t cap;           /**< room for inputs: taps - 1 + STAGE_INPUTS */
    double *coef;         /**< for the encoder */
    lanes_f *coef_f;      /**< the same for the channels, in every lane */
    lanes_f *x[MAX_LANE_BLOCKS];
    double *encoder;
    /** Times of the inputs outputs are centred on (every factor-th from
     *  centre on) and of held inputs; the others' are never needed, so
     *  never computed. */
    double *t_s;
    uint16_t *flags;      /**< FLAG_* */
    size_t len;           /**< inputs staged */
    size_t centre;        /**< index of the next output's centre input */
} decimator;

enum { FLAG_FILLED = 1, FLAG_TARED = 2 };

/** Kaiser's estimate of the length for the attenuation and the
 *  transition width (in cycles per input sample); odd. */
static size_t fir_length(size_t factor)
{
    if (factor <= 1)
        return 1;
    double transition = (FIR_STOP_EDGE - FIR_PASS_EDGE) / (double)factor;
    double n = (FIR_ATTENUATION_DB - 8.0) / (2.285 * 2.0 * M_PI * transition);
    return (size_t)ceil(n) | 1u;
}

static void fir_design(decimator *d)
{
    double beta = 0.1102 * (FIR_ATTENUATION_DB - 8.7); /* Kaiser's rule */
    double cutoff = (FIR_PASS_EDGE + FIR_STOP_EDGE) / 2.0 / (double)d->factor;
    double mid = (double)(d->taps - 1) / 2.0, sum = 0.0;
    for (size_t k = 0; k < d->taps; k++) {
        double m = (double)k - mid;
        double sinc = m == 0.0 ? 1.0 : sin(2.0 * M_PI * cutoff * m) /
                                       (2.0 * M_PI * cutoff * m);
        double r = mid > 0.0 ? m / mid : 0.0;
        double window = bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) /
                        bessel_i0(beta);
        d->coef[k] = sinc * window;
        sum += d->coef[k];
    }
    for (size_t k = 0; k < d->taps; k++) {
        d->coef[k] /= sum;       /* unity gain at DC */
        for (size_t lane = 0; lane < LANES; lane++)
            d->coef_f[k][lane] = (float)d->coef[k];
    }
}

static rm_status decimator_design(decimator *d, size_t factor,
                                  unsigned channels, rm_error *err)
{
    memset(d, 0, sizeof *d);
    d->factor = factor;
    d->taps = fir_length(factor);
    d->delay = (d->taps - 1) / 2;
    d->blocks = (channels + LANES - 1) / LANES;
    d->cap = d->taps - 1 + STAGE_INPUTS;
    d->coef = malloc(sizeof *d->coef * d->taps);
    d->coef_f = aligned_alloc(sizeof *d->coef_f, sizeof *d->coef_f * d->taps);
    bool ok = d->coef && d->coef_f;
    for (size_t b = 0; b < d->blocks && ok; b++) {
        /* zeroed: lanes past the last channel stay 0 */
        ok = (d->x[b] = aligned_alloc(sizeof(lanes_f),
                                      d->cap * sizeof *d->x[b])) != NULL;
        if (ok)
            memset(d->x[b], 0, d->cap * sizeof *d->x[b]);
    }
    d->encoder = malloc(sizeof *d->encoder * d->cap);
    d->t_s = malloc(sizeof *d->t_s * d->cap);
    d->flags = malloc(sizeof *d->flags * d->cap);
    if (!ok || !d->encoder || !d->t_s || !d->flags)
        return rm_error_set(err, RM_ERR_NOMEM, "decimator: out of memory");
    fir_design(d);
    return RM_OK;
}

static void decimator_free(decimator *d)
{
    free(d->coef);
    free(d->coef_f);
    for (size_t b = 0; b < MAX_LANE_BLOCKS; b++)
        free(d->x[b]);
    free(d->encoder);
    free(d->t_s);
    free(d->flags);
}

static size_t decimator_room(const decimator *d)
{
    return d->cap - d->len;
}

/** Stage a copy of the last input at time t_s (a gap held, or the end). */
static void decimator_hold(decimator *d, double t_s, uint16_t flags)
{
    size_t from = d->len - 1, to = d->len++;
    for (size_t b = 0; b < d->blocks; b++)
        d->x[b][to] = d->x[b][from];
    d->encoder[to] = d->encoder[from];
    d->t_s[to] = t_s;
    d->flags[to] = flags;
}

/** Fill the `delay` inputs before the first one (staged at index delay)
 *  with its copies at time 0, so the filter starts settled. */
static void decimator_prime(decimator *d)
{
    for (size_t i = 0; i < d->delay; i++) {
        for (size_t b = 0; b < d->blocks; b++)
            d->x[b][i] = d->x[b][d->delay];
        d->encoder[i] = d->encoder[d->delay];
        d->t_s[i] = 0.0;
        d->flags[i] = 0;
    }
}

/** A symmetric filter of odd length over the channels' history h[0..taps):
 *  pairs of taps share a coefficient, and four running sums let the
 *  additions overlap. */
static HOT_INLINE void symmetric_dot_lanes(const lanes_f *coef,
                                           const lanes_f *h, size_t taps,
                                           lanes_f *out)
{
    size_t half = taps / 2, k = 0;
    const lanes_f *tail = h + taps - 1;
    lanes_f a0 = coef[half] * h[half], a1 = {0}, a2 = {0}, a3 = {0};
#pragma GCC unroll 2
    for (; k + 4 <= half; k += 4) {
        a0 += coef[k] * (h[k] + tail[-(ptrdiff_t)k]);
        a1 += coef[k + 1] * (h[k + 1] + tail[-(ptrdiff_t)k - 1]);
        a2 += coef[k + 2] * (h[k + 2] + tail[-(ptrdiff_t)k - 2]);
        a3 += coef[k + 3] * (h[k + 3] + tail[-(ptrdiff_t)k - 3]);
    }
    for (; k < half; k++)
        a0 += coef[k] * (h[k] + tail[-(ptrdiff_t)k]);
    *out = (a0 + a1) + (a2 + a3);
}

/** rows as columns: column[k][j] = row[j][k]. Pairs of rows are
 *  interleaved, then pairs of pairs, then the 128-bit halves swapped. */
static HOT_INLINE void transpose_lanes(const lanes_f row[LANES],
                                       lanes_f column[LANES])
{
    _Static_assert(LANES == 8, "an 8 x 8 transposition");
    lanes_f pair[LANES], quad[LANES];
    /* unrolled, so that every vector stays in a register */
#pragma GCC unroll 4
    for (size_t j = 0; j < LANES; j += 2) {
        /* rows j, j+1: columns 0 1 | 4 5, then 2 3 | 6 7 */
        pair[j] = __builtin_shufflevector(row[j], row[j + 1],
                                          0, 8, 1, 9, 4, 12, 5, 13);
        pair[j + 1] = __builtin_shufflevector(row[j], row[j + 1],
                                              2, 10, 3, 11, 6, 14, 7, 15);
    }
#pragma GCC unroll 2
    for (size_t j = 0; j < LANES; j += 4)
#pragma GCC unroll 2
        for (size_t h = 0; h < 2; h++) {
            /* rows j..j+3: columns 2h | 2h+4, then 2h+1 | 2h+5 */
            quad[j + 2 * h] = __builtin_shufflevector(
                pair[j + h], pair[j + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            quad[j + 2 * h + 1] = __builtin_shufflevector(
                pair[j + h], pair[j + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
#pragma GCC unroll 4
    for (size_t k = 0; k < LANES / 2; k++) {
        column[k] = __builtin_shufflevector(quad[k], quad[k + 4],
                                            0, 1, 2, 3, 8, 9, 10, 11);
        column[k + 4] = __builtin_shufflevector(quad[k], quad[k + 4],
                                                4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/** `count` (at most LANES) outputs of the channels' filter, the first
 *  over h[0..taps) and each next one `step` inputs on, as columns: lane
 *  j of column k is output j of the block's channel k. */
AVX2_CLONE
static void fir_columns(const lanes_f *coef, const lanes_f *h, size_t taps,
                        size_t step, size_t count, lanes_f column[LANES])
{
    lanes_f row[LANES];
    for (size_t j = 0; j < count; j++)
        symmetric_dot_lanes(coef, h + j * step, taps, &row[j]);
    for (size_t j = count; j < LANES; j++)   /* not stored, but defined */
        row[j] = (lanes_f){0};
    transpose_lanes(row, column);
}

/* Encoder outputs filtered side by side (symmetric_dots): their running
 * sums are independent, so the additions of one overlap the others'. */
#define DOTS_AT_ONCE 8

/** The same filter over the encoder's history, in double, for n (at most
 *  DOTS_AT_ONCE) outputs, the first over h[0..taps) and each next one
 *  `step` inputs on. Each output's four running sums are the four lanes
 *  of one vector: lane j adds taps k + j, as four scalar sums would, in
 *  the same order, so each result has the same bits as a scalar loop's,
 *  however many outputs go side by side. */
static HOT_INLINE void symmetric_dots(const double *coef, const double *h,
                                      size_t taps, size_t step, size_t n,
                                      double *out)
{
    size_t half = taps / 2, k = 0;
    block4 sums[DOTS_AT_ONCE];
    const long4 first_lane = {-1, 0, 0, 0};
#pragma GCC unroll 8
    for (size_t o = 0; o < n; o++) {
        /* {centre tap, 0, 0, 0} by masking a whole vector's bits */
        double centre = coef[half] * h[o * step + half];
        block4 every = {centre, centre, centre, centre};
        sums[o] = (block4)((long4)every & first_lane);
    }
    for (; k + 4 <= half; k += 4) {
        block4 c;
        memcpy(&c, coef + k, sizeof c);
#pragma GCC unroll 8
        for (size_t o = 0; o < n; o++) {
            /* back: h[taps-1-k-3 .. taps-1-k], reversed below */
            const double *at = h + o * step;
            block4 head, back;
            memcpy(&head, at + k, sizeof head);
            memcpy(&back, at + taps - 4 - k, sizeof back);
            sums[o] += c * (head + __builtin_shufflevector(back, back,
                                                           3, 2, 1, 0));
        }
    }
#pragma GCC unroll 8
    for (size_t o = 0; o < n; o++) {
        const double *at = h + o * step;
        double first = sums[o][0];
        for (size_t r = k; r < half; r++)
            first += coef[r] * (at[r] + at[taps - 1 - r]);
        out[o] = (first + sums[o][1]) + (sums[o][2] + sums[o][3]);
    }
}

/** `count` outputs of the encoder's filter (symmetric_dots) into out,
 *  the first over h[0..taps) and each next one `step` inputs on. */
AVX2_CLONE
static void encoder_outputs(const double *coef, const double *h, size_t taps,
                            size_t step, size_t count, double *out)
{
    size_t j = 0;
    for (; j + DOTS_AT_ONCE <= count; j += DOTS_AT_ONCE)
        symmetric_dots(coef, h + j * step, taps, step, DOTS_AT_ONCE, out + j);
    for (; j < count; j++)
        symmetric_dots(coef, h + j * step, taps, step, 1, out + j);
}

typedef uint16_t flags16 __attribute__((vector_size(16 * sizeof(uint16_t))));

/** The n flags f[0..n) OR-ed together, sixteen at a time. */
AVX2_CLONE
static uint16_t flags_or(const uint16_t *f, size_t n)
{
    flags16 wide = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        flags16 v;
        memcpy(&v, f + i, sizeof v);
        wide |= v;
    }
    uint16_t any = 0;
    for (size_t k = 0; k < 16; k++)
        any |= wide[k];
    for (; i < n; i++)
        any |= f[i];
    return any;
}

/* ------------------------------------------------------------------------ */
/* The conditioner                                                          */
/* ------------------------------------------------------------------------ */

/* A time jump longer than this many sample periods is a gap. */
#define GAP_PERIODS 1.5
/* Gaps longer than a day are a broken clock, not a pause. */
#define LONGEST_GAP_S 86400.0

struct ana_conditioner {
    rm_device_info info;
    rm_analysis_config cfg;
    double rate_hz;
    uint64_t gap_us;         /**< a step longer than this is a gap */
    decimator dec;
    channel_bank channels;
    notch_bank notch;
    rm_channel_kind total_kind;
    unsigned total_channels[RM_MAX_CHANNELS]; /**< those of total_kind, in order */
    unsigned total_count;
    ana_psd_accumulator raw_psd;
    double raw_total[STAGE_INPUTS];  /**< total force of a run of inputs */
    bool started;
    uint64_t t0_us, last_t_us;
    bool mark_down;
    ana_channels out;
    ana_raw_stats raw;
    rm_sample_columns transposed;    /**< ana_conditioner_push's samples */
};

/** Everything output so far moved into a series block of cap entries
 *  (ana_series_block): times, encoder counts, gap flags, the channels and
 *  their tare flags. Only their pages are mapped now: the other series'
 *  when the analysis fills them. */
static bool series_block_grow(ana_channels *ch, size_t cap)
{
    void *block = ana_series_block_alloc(cap, ch->count);
    if (!block)
        return false;
    double *t = ana_series_doubles(block, cap, ANA_SERIES_T_S);
    double *e = ana_series_doubles(block, cap, ANA_SERIES_POSITION);
    float *newtons = ana_series_channels(block, cap);
    uint8_t *tared = (uint8_t *)(newtons + cap * ch->count);
    /* the byte arrays, times and counts lie end to end, as do the
     * channels and their flags */
    rm_prefault(block, (size_t)((char *)(e + cap) - (char *)block));
    rm_prefault(newtons, (size_t)(tared + cap - (uint8_t *)newtons));
    if (ch->n) {
        memcpy(t, ch->t_s, sizeof *t * ch->n);
        memcpy(e, ch->encoder, sizeof *e * ch->n);
        memcpy(ana_series_bytes(block, cap, ANA_SERIES_IN_GAP), ch->in_gap,
               ch->n);
        for (unsigned k = 0; k < ch->count; k++)
            memcpy(newtons + k * cap, ch->newtons[k], sizeof *newtons * ch->n);
        memcpy(tared, ch->tared, ch->n);
    }
    ch->t_s = t;
    ch->encoder = e;
    ch->in_gap = ana_series_bytes(block, cap, ANA_SERIES_IN_GAP);
    for (unsigned k = 0; k < ch->count; k++)
        ch->newtons[k] = newtons + k * cap;
    ch->tared = tared;
    free(ch->series_block);
    ch->series_block = block;
    return true;
}

/** Room for at least `want` outputs (doubling, so appends stay cheap). */
static rm_status channels_grow(ana_channels *ch, size_t want, rm_error *err)
{
    size_t cap = ch->cap ? ch->cap * 2 : 4096;
    cap = cap > want ? cap : want;
    if (!series_block_grow(ch, cap))
        return rm_error_set(err, RM_ERR_NOMEM,
                            "conditioning: out of memory at %zu samples",
                            ch->n);
    ch->cap = cap;
    return RM_OK;
}

/** The flags of the inputs output i stands for: the last `factor`. */
static uint16_t output_flags(const decimator *d, size_t i)
{
    uint16_t flags = 0;
    for (size_t k = 0; k < d->factor && k <= i; k++)
        flags |= d->flags[i - k];
    return flags;
}

/** Columns of `count` outputs of block b (fir_columns) into the block's
 *  channels' series from index at. */
static void store_columns(ana_channels *ch, size_t b, size_t at,
                          const lanes_f column[LANES], size_t count)
{
    for (unsigned k = 0; k < LANES && b * LANES + k < ch->count; k++) {
        float *series = ch->newtons[b * LANES + k] + at;
        if (count == LANES)   /* the usual case: one store of eight */
            memcpy(series, &column[k], sizeof column[k]);
        else
            memcpy(series, &column[k], count * sizeof *series);
    }
}

/** `count` (at most LANES) outputs centred on staged inputs i,
 *  i + factor, ...; `flagged`: whether any staged input has flags. */
static void append_outputs(ana_conditioner *c, size_t i, size_t count,
                           bool flagged)
{
    const decimator *d = &c->dec;
    ana_channels *ch = &c->out;
    size_t at = ch->n;
    for (size_t b = 0; b < d->blocks; b++) {
        lanes_f column[LANES];
        fir_columns(d->coef_f, d->x[b] + i - d->delay, d->taps, d->factor,
                    count, column);
        store_columns(ch, b, at, column, count);
    }
    encoder_outputs(d->coef, d->encoder + i - d->delay, d->taps, d->factor,
                    count, ch->encoder + at);
    for (size_t j = at; j < at + count; j++, i += d->factor) {
        ch->t_s[j] = d->t_s[i];
        uint16_t flags = flagged ? output_flags(d, i) : 0;
        ch->in_gap[j] = (flags & FLAG_FILLED) != 0;
        ch->tared[j] = (flags & FLAG_TARED) != 0;
    }
    ch->n += count;
}

/** How many outputs have all their inputs staged. */
static size_t outputs_ready(const decimator *d)
{
    if (d->centre + d->delay >= d->len)
        return 0;
    return (d->len - d->delay - 1 - d->centre) / d->factor + 1;
}

/** Every output whose inputs are all staged, LANES at a time; then drop
 *  the inputs no later output needs. */
static rm_status decimator_run(ana_conditioner *c, rm_error *err)
{
    decimator *d = &c->dec;
    size_t ready = outputs_ready(d);
    if (c->out.n + ready > c->out.cap) {
        rm_status st = channels_grow(&c->out, c->out.n + ready, err);
        if (st != RM_OK)
            return st;
    }
    /* Mostly no staged input is filled or tared: then no output's flags
     * need to be looked at one by one. */
    bool flagged = flags_or(d->flags, d->len) != 0;
    for (size_t count; ready > 0; ready -= count) {
        count = ready < LANES ? ready : LANES;
        append_outputs(c, d->centre, count, flagged);
        d->centre += count * d->factor;
    }
    /* The last input stays even when no output needs it (a filter of one
     * tap): a gap or the end holds its values. */
    size_t drop = d->centre - d->delay;
    drop = drop < d->len ? drop : d->len - 1;
    size_t keep = d->len - drop;
    for (size_t b = 0; b < d->blocks; b++)
        memmove(d->x[b], d->x[b] + drop, keep * sizeof *d->x[b]);
    memmove(d->encoder, d->encoder + drop, keep * sizeof *d->encoder);
    memmove(d->t_s, d->t_s + drop, keep * sizeof *d->t_s);
    memmove(d->flags, d->flags + drop, keep * sizeof *d->flags);
    d->len = keep;
    d->centre -= drop;
    return RM_OK;
}

/** Stage a copy of the last input, making room first when needed. */
static rm_status hold_last(ana_conditioner *c, double t_s, uint16_t flags,
                           rm_error *err)
{
    if (decimator_room(&c->dec) == 0) {
        rm_status st = decimator_run(c, err);
        if (st != RM_OK)
            return st;
    }
    decimator_hold(&c->dec, t_s, flags);
    return RM_OK;
}

/** Whether the decimator's filter stops a line at line_hz (at the input
 *  rate): from FIR_STOP_EDGE of the output rate up, it takes everything
 *  down by FIR_ATTENUATION_DB (59.6 dB at the edge, 1 kHz to 100 Hz). */
static bool decimator_stops(const decimator *d, double rate_hz,
                            double line_hz)
{
    return d->factor > 1 &&
           line_hz >= FIR_STOP_EDGE * rate_hz / (double)d->factor;
}

/** Hum at hum_hz is removed: by the decimator's filter where it stops the
 *  hum's line anyway, else by the notch. A notch in front of that filter
 *  would cost a recursion per channel and sample (the longest chain in
 *  staging) to take the line down by what the filter already does. */
static void remove_hum(ana_conditioner *c, double hum_hz)
{
    c->raw.hum_removed = true;
    c->raw.hum_hz = hum_hz;
    double line_hz = aliased_hz(hum_hz, c->rate_hz);
    if (!decimator_stops(&c->dec, c->rate_hz, line_hz))
        notch_design(&c->notch, line_hz, c->rate_hz);
}

/** Whether a conditioner can be made for info and cfg. */
static rm_status check_conditioner_inputs(const rm_device_info *info,
                                          const rm_analysis_config *cfg,
                                          rm_error *err)
{
    if (info->sample_rate_hz == 0)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "device info: sample_rate_hz is 0");
    if (info->channel_count == 0 || info->channel_count > RM_MAX_CHANNELS)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "device info: channel_count %u (1..%d)",
                            info->channel_count, RM_MAX_CHANNELS);
    if (!(cfg->analysis_rate_hz > 0.0))
        return rm_error_set(err, RM_ERR_ARG, "analysis_rate_hz %g: must be > 0",
                            cfg->analysis_rate_hz);
    return RM_OK;
}

rm_status ana_conditioner_new_columns(ana_conditioner **out,
                                      const rm_device_info *info,
                                      const rm_analysis_config *cfg,
                                      const rm_sample_columns *prefix,
                                      size_t prefix_n,
                                      uint64_t expected_samples,
                                      rm_error *err)
{
    *out = NULL;
    rm_status st = check_conditioner_inputs(info, cfg, err);
    if (st != RM_OK)
        return st;
    ana_conditioner *c = calloc(1, sizeof *c);
    if (!c)
        return rm_error_set(err, RM_ERR_NOMEM, "conditioning: out of memory");
    c->info = *info;
    c->cfg = *cfg;
    c->rate_hz = info->sample_rate_hz;
    /* A step of whole microseconds is longer than GAP_PERIODS periods
     * exactly when it is longer than their whole part. */
    c->gap_us = (uint64_t)floor(GAP_PERIODS * (1e6 / c->rate_hz));
    c->total_kind = total_force_kind(info);
    channel_bank_init(&c->channels, info, c->total_kind);
    for (unsigned k = 0; k < info->channel_count; k++)
        if (info->channels[k].kind == c->total_kind)
            c->total_channels[c->total_count++] = k;
    c->out.count = info->channel_count;
    size_t factor = (size_t)floor(c->rate_hz / cfg->analysis_rate_hz + 1e-9);
    c->out.rate_hz = c->rate_hz / (double)(factor ? factor : 1);
    st = decimator_design(&c->dec, factor ? factor : 1, info->channel_count,
                          err);
    double hum = cfg->mains_hz > 0.0 ? cfg->mains_hz
                                     : detect_hum(info, prefix, prefix_n);
    if (st == RM_OK && hum > 0.0 && aliased_hz(hum, c->rate_hz) >= 1.0)
        remove_hum(c, hum);
    if (st == RM_OK)
        st = ana_psd_accumulator_init(&c->raw_psd, c->rate_hz, err);
    /* The whole series at once when its length is known: no doubling. */
    if (st == RM_OK && expected_samples > 0)
        st = channels_grow(&c->out, (size_t)(expected_samples / c->dec.factor)
                                        + c->dec.taps + 1, err);
    if (st != RM_OK) {
        ana_conditioner_free(c);
        return st;
    }
    *out = c;
    return RM_OK;
}

rm_status ana_conditioner_new(ana_conditioner **out,
                              const rm_device_info *info,
                              const rm_analysis_config *cfg,
                              const rm_sample *prefix, size_t prefix_n,
                              uint64_t expected_samples, rm_error *err)
{
    rm_sample_columns cols;
    *out = NULL;
    rm_status st = check_conditioner_inputs(info, cfg, err);
    if (st == RM_OK)
        st = rm_sample_columns_alloc(&cols, info->channel_count, prefix_n,
                                     err);
    if (st != RM_OK)
        return st;
    rm_sample_columns_put(&cols, 0, prefix, prefix_n);
    st = ana_conditioner_new_columns(out, info, cfg, &cols, prefix_n,
                                     expected_samples, err);
    rm_sample_columns_free(&cols);
    return st;
}

static rm_status add_mark(ana_raw_stats *raw, double t_s, rm_error *err)
{
    if (raw->mark_count == raw->mark_cap) {
        size_t cap = raw->mark_cap ? raw->mark_cap * 2 : 16;
        double *p = realloc(raw->mark_t_s, sizeof *p * cap);
        if (!p)
            return rm_error_set(err, RM_ERR_NOMEM, "marks: out of memory");
        raw->mark_t_s = p;
        raw->mark_cap = cap;
    }
    raw->mark_t_s[raw->mark_count++] = t_s;
    return RM_OK;
}

static double seconds_after(uint64_t t0_us, uint64_t t_us)
{
    return (double)(int64_t)(t_us - t0_us) / 1e6;
}

static double seconds_since_start(const ana_conditioner *c, uint64_t t_us)
{
    return seconds_after(c->t0_us, t_us);
}

/** Whether sample time t_us after prev_us leaves samples out. */
static bool is_gap(const ana_conditioner *c, uint64_t prev_us, uint64_t t_us)
{
    return t_us > prev_us && t_us - prev_us > c->gap_us;
}

/** Hold the last values through the time jump before the sample at t_us,
 *  flagged as filled. */
static rm_status fill_gap(ana_conditioner *c, uint64_t t_us, rm_error *err)
{
    if (!is_gap(c, c->last_t_us, t_us))
        return RM_OK;
    double period_us = 1e6 / c->rate_hz;
    double jump_us = (double)(t_us - c->last_t_us);
    if (jump_us > LONGEST_GAP_S * 1e6)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "sample %llu: time jumps by %.0f s (t_us %llu)",
                            (unsigned long long)c->raw.samples, jump_us / 1e6,
                            (unsigned long long)t_us);
    uint64_t missing = (uint64_t)llround(jump_us / period_us) - 1;
    c->raw.gaps++;
    c->raw.gap_s += (jump_us - period_us) / 1e6;
    double last_t = seconds_since_start(c, c->last_t_us);
    for (uint64_t k = 1; k <= missing; k++) {
        rm_status st = hold_last(c, last_t + (double)k / c->rate_hz,
                                 FLAG_FILLED, err);
        if (st != RM_OK)
            return st;
    }
    c->raw.filled += missing;
    return RM_OK;
}

/* Steps between samples that gapless_run tests together. */
#define STEPS_AT_ONCE 32

/** How many of the n samples at t_us follow each other without a gap.
 *  The steps are tested STEPS_AT_ONCE at a time, each lane of a vector
 *  for what a gap needs: a time above prev + gap_us, which then does not
 *  wrap (unsigned, so both sides' top bits flipped for a signed
 *  comparison). The scalar loop then finds the gap among them with
 *  is_gap's whole test, or takes the last few steps. */
AVX2_CLONE
static size_t gapless_run(const ana_conditioner *c, const uint64_t *t_us,
                          size_t n)
{
    const ulong4 top = {1ull << 63, 1ull << 63, 1ull << 63, 1ull << 63};
    const ulong4 reach = c->gap_us + top;
    size_t i = 1;
    for (; i + STEPS_AT_ONCE <= n; i += STEPS_AT_ONCE) {
        long4 beyond = {0};
#pragma GCC unroll 8
        for (size_t j = i; j < i + STEPS_AT_ONCE; j += 4) {
            ulong4 prev, next;
            memcpy(&prev, t_us + j - 1, sizeof prev);
            memcpy(&next, t_us + j, sizeof next);
            beyond |= (long4)(next ^ top) > (long4)(prev + reach);
        }
        if (beyond[0] | beyond[1] | beyond[2] | beyond[3])
            break;
    }
    while (i < n && !is_gap(c, t_us[i - 1], t_us[i]))
        i++;
    return n ? i : 0;
}

/** Marks (press edges) in r[0..n). */
static rm_status note_marks(ana_conditioner *c, const sample_run *r, size_t n,
                            rm_error *err)
{
    bool mark_down = c->mark_down;   /* a local: kept in a register */
    for (size_t i = 0; i < n; i++) {
        bool mark = (r->flags[i] & RM_SAMPLE_MARK) != 0;
        if (mark && !mark_down) {
            rm_status st = add_mark(&c->raw, seconds_since_start(c, r->t_us[i]),
                                    err);
            if (st != RM_OK)
                return st;
        }
        mark_down = mark;
    }
    c->mark_down = mark_down;
    return RM_OK;
}

static uint64_t count_saturated(const uint16_t *flags, size_t n)
{
    uint64_t saturated = 0;
    for (size_t i = 0; i < n; i++)
        saturated += (flags[i] & RM_SAMPLE_SATURATED) != 0;
    return saturated;
}

/** Marks, saturation, counts and the last time of r[0..n). Most runs
 *  have neither marks nor saturation: one look at all their flags
 *  together tells. */
static rm_status note_flags(ana_conditioner *c, const sample_run *r, size_t n,
                            rm_error *err)
{
    uint16_t seen = flags_or(r->flags, n);
    if (seen & RM_SAMPLE_MARK) {
        rm_status st = note_marks(c, r, n, err);
        if (st != RM_OK)
            return st;
    } else {
        c->mark_down = false;
    }
    if (seen & RM_SAMPLE_SATURATED)
        c->raw.saturated += count_saturated(r->flags, n);
    c->raw.samples += n;
    c->last_t_us = r->t_us[n - 1];
    return RM_OK;
}

/** Samples i .. i+3 of r calibrated, hum removed by the notch: block[b][j]
 *  holds channels 4b .. 4b+3 of sample i+j; column[k] holds channel k of
 *  the four samples. Only the first `count` samples are real (the notch
 *  steps over those alone). */
static HOT_INLINE void condition_quad(const channel_bank *bank,
                                      notch_bank *notch,
                                      const sample_run *r, size_t i,
                                      size_t count, const size_t blocks,
                                      block4 block[][QUAD], block4 *column)
{
#pragma GCC unroll 4
    for (size_t b = 0; b < blocks; b++) {
#pragma GCC unroll 4
        for (size_t k = b * BLOCK; k < (b + 1) * BLOCK; k++)
            calibrate_channel(bank, r, i, k, false, &column[k]);
        transpose4(column + b * BLOCK, block[b]);
        if (!notch->primed)
            notch_prime(notch, b, &block[b][0]);
#pragma GCC unroll 4
        for (size_t j = 0; j < count; j++)
            notch_step(notch, b, &block[b][j]);
        transpose4(block[b], column + b * BLOCK);
    }
    notch->primed = true;
}

/** Total force of the four samples: their channels of the total's kind
 *  added in order, the others masked to +0.0, which leaves every partial
 *  sum's bits as they are (the sums start at +0.0 and never become -0.0). */
static HOT_INLINE void add_total(const channel_bank *bank,
                                 const block4 *column, const size_t blocks,
                                 block4 *total)
{
    *total = (block4){0.0, 0.0, 0.0, 0.0};
#pragma GCC unroll 16
    for (size_t k = 0; k < blocks * BLOCK; k++)
        *total += (block4)((long4)column[k] & bank->in_total[k]);
}

/** Where staging puts the conditioned samples: a local copy, which the
 *  stores through it cannot change, so it stays in registers. */
typedef struct stage_target {
    lanes_f *x[MAX_LANE_BLOCKS];   /**< the decimator's inputs, from len on */
    double *total;                 /**< raw_total */
} stage_target;

static stage_target target_of(ana_conditioner *c)
{
    stage_target to = {.total = c->raw_total};
    for (size_t b = 0; b < MAX_LANE_BLOCKS; b++)
        to.x[b] = c->dec.x[b] ? c->dec.x[b] + c->dec.len : NULL;
    return to;
}

/** Stage the first `count` of the four conditioned samples at index at of
 *  the target. */
static HOT_INLINE void stage_quad(const stage_target *to,
                                  const channel_bank *bank, size_t at,
                                  size_t count, const size_t blocks,
                                  block4 block[][QUAD], const block4 *column)
{
#pragma GCC unroll 4
    for (size_t j = 0; j < count; j++)
#pragma GCC unroll 4
        for (size_t b = 0; b < blocks; b++) {
            float4 f = __builtin_convertvector(block[b][j], float4);
            size_t lane = b * BLOCK;  /* of the block's first channel */
            memcpy((float *)&to->x[lane / LANES][at + j] + lane % LANES, &f,
                   sizeof f);
        }
    block4 total;
    add_total(bank, column, blocks, &total);
    memcpy(to->total + at, &total, sizeof(double) * count);
}

/** stage_through_notch for a number of channel blocks fixed when
 *  compiling: the loops over the blocks unroll, so the notch's state
 *  stays in registers instead of being stored and loaded again every
 *  sample, on the recursion's chain. */
static HOT_INLINE void stage_blocks(ana_conditioner *c, const sample_run *run,
                                    size_t n, const size_t blocks)
{
    /* Local copies: the stores below cannot overwrite them, so the
     * compiler keeps the coefficients and the columns' addresses in
     * registers across samples. */
    const channel_bank bank = c->channels;
    const sample_run samples = *run;
    notch_bank notch = c->notch;
    const stage_target to = target_of(c);
    block4 block[MAX_BLOCKS][QUAD], column[MAX_BLOCKS * BLOCK];
    memset(column, 0, sizeof column); /* quiets a false maybe-uninitialized */
    size_t i = 0;
    for (; i + QUAD <= n; i += QUAD) {
        condition_quad(&bank, &notch, &samples, i, QUAD, blocks, block,
                       column);
        stage_quad(&to, &bank, i, QUAD, blocks, block, column);
    }
    if (i < n) {
        int32_t padded[MAX_BLOCKS * BLOCK][LANES];
        sample_run tail = padded_tail(&samples, i, n, blocks * BLOCK, padded);
        condition_quad(&bank, &notch, &tail, 0, n - i, blocks, block,
                       column);
        stage_quad(&to, &bank, i, n - i, blocks, block, column);
    }
    c->notch = notch;
}

/** Counts -> newtons of r[0..n), hum removed by the notch, staged for
 *  the decimator; their total forces to raw_total. */
AVX2_CLONE
static void stage_through_notch(ana_conditioner *c, const sample_run *run,
                                size_t n)
{
    _Static_assert(MAX_BLOCKS == 4, "one case per number of blocks");
    switch (c->channels.blocks) {
    case 1: stage_blocks(c, run, n, 1); break;
    case 2: stage_blocks(c, run, n, 2); break;
    case 3: stage_blocks(c, run, n, 3); break;
    default: stage_blocks(c, run, n, 4); break;
    }
}

/** Samples i .. i+7 of r calibrated, the first `count` of them staged at
 *  index at of the target (the lane blocks of channels, each transposed
 *  from eight samples of a channel to eight channels of a sample), their
 *  total forces too: the channels of the total's kind added in order,
 *  which gives add_total's sums (adding its masked +0.0 changes none). A
 *  test per channel, the same every time (so always predicted), costs
 *  less than masking every channel. */
static HOT_INLINE void stage_octet(const stage_target *to,
                                   const channel_bank *bank,
                                   const sample_run *r, size_t i, size_t at,
                                   size_t count, const size_t blocks,
                                   const bool linear)
{
    _Static_assert(MAX_LANE_BLOCKS * LANES == MAX_BLOCKS * BLOCK,
                   "the same channels in lanes and in blocks");
    block4 total[2] = {{0.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0}};
#pragma GCC unroll 2
    for (size_t b = 0; b < blocks; b++) {
        lanes_f column[LANES], row[LANES];
#pragma GCC unroll 8
        for (size_t k = b * LANES; k < (b + 1) * LANES; k++) {
            block4 lo, hi;   /* samples i .. i+3, i+4 .. i+7 */
            calibrate_channel(bank, r, i, k, linear, &lo);
            calibrate_channel(bank, r, i + QUAD, k, linear, &hi);
            if (bank->in_total[k][0]) {
                total[0] += lo;
                total[1] += hi;
            }
            column[k % LANES] = __builtin_shufflevector(
                __builtin_convertvector(lo, float4),
                __builtin_convertvector(hi, float4), 0, 1, 2, 3, 4, 5, 6, 7);
        }
        transpose_lanes(column, row);
#pragma GCC unroll 8
        for (size_t j = 0; j < count; j++)
            to->x[b][at + j] = row[j];
    }
    memcpy(to->total + at, &total[0], sizeof(double) * (count < 4 ? count : 4));
    if (count > 4)
        memcpy(to->total + at + 4, &total[1], sizeof(double) * (count - 4));
}

/** stage_in_lanes for a number of lane blocks and a kind of polynomial
 *  fixed when compiling. */
static HOT_INLINE void stage_lane_blocks(ana_conditioner *c,
                                         const sample_run *run, size_t n,
                                         const size_t blocks,
                                         const bool linear)
{
    const channel_bank bank = c->channels;  /* local copies, as stage_blocks */
    const sample_run samples = *run;
    const stage_target to = target_of(c);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        stage_octet(&to, &bank, &samples, i, i, LANES, blocks, linear);
    if (i < n) {
        int32_t padded[MAX_LANE_BLOCKS * LANES][LANES];
        sample_run tail = padded_tail(&samples, i, n, blocks * LANES, padded);
        stage_octet(&to, &bank, &tail, 0, i, n - i, blocks, linear);
    }
}

/** Counts -> newtons of r[0..n), no notch, staged for the decimator
 *  eight samples at a time; their total forces to raw_total. */
AVX2_CLONE
static void stage_in_lanes(ana_conditioner *c, const sample_run *run,
                           size_t n)
{
    _Static_assert(MAX_LANE_BLOCKS == 2, "one case per number of blocks");
    bool one = c->dec.blocks == 1;
    if (c->channels.linear) {
        if (one)
            stage_lane_blocks(c, run, n, 1, true);
        else
            stage_lane_blocks(c, run, n, 2, true);
    } else if (one) {
        stage_lane_blocks(c, run, n, 1, false);
    } else {
        stage_lane_blocks(c, run, n, 2, false);
    }
}

/** Counts -> newtons (hum removed) of r[0..n), staged for the decimator;
 *  the total force of each goes to raw_total[0..n). */
static void stage_channels(ana_conditioner *c, const sample_run *run,
                           size_t n)
{
    if (c->notch.on)
        stage_through_notch(c, run, n);
    else
        stage_in_lanes(c, run, n);
}

typedef uint16_t ushort8 __attribute__((vector_size(8 * sizeof(uint16_t))));

/** The index of the first output centre at or after index `at`. */
static size_t first_centre_from(const decimator *d, size_t at)
{
    if (at <= d->centre)
        return d->centre;
    size_t outputs_on = (at - d->centre + d->factor - 1) / d->factor;
    return d->centre + outputs_on * d->factor;
}

/** The encoder, flags and (where outputs are centred) time of r[0..n),
 *  staged for the decimator at its index `at`, a vector of samples at a
 *  time. */
AVX2_CLONE
static void stage_others(decimator *d, size_t at, const sample_run *r,
                         size_t n, uint64_t t0_us)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        int4 encoder;
        memcpy(&encoder, r->encoder + i, sizeof encoder);
        block4 e = __builtin_convertvector(encoder, block4);
        memcpy(d->encoder + at + i, &e, sizeof e);
    }
    for (; i < n; i++)
        d->encoder[at + i] = r->encoder[i];
    for (i = first_centre_from(d, at); i < at + n; i += d->factor)
        d->t_s[i] = seconds_after(t0_us, r->t_us[i - at]);
    for (i = 0; i + 8 <= n; i += 8) {
        ushort8 flags;
        memcpy(&flags, r->flags + i, sizeof flags);
        ushort8 tared = (ushort8)(((flags & RM_SAMPLE_TARED) != 0) &
                                  FLAG_TARED);
        memcpy(d->flags + at + i, &tared, sizeof tared);
    }
    for (; i < n; i++)
        d->flags[at + i] = (r->flags[i] & RM_SAMPLE_TARED) ? FLAG_TARED : 0;
}

/** r[0..n) staged for the decimator, their total forces in raw_total.
 *  n is at most the decimator's room and STAGE_INPUTS. */
static void stage_run(ana_conditioner *c, const sample_run *r, size_t n)
{
    stage_channels(c, r, n);
    stage_others(&c->dec, c->dec.len, r, n, c->t0_us);
    c->dec.len += n;
}

/** The first sample (at t_us) starts the clock and the decimator's
 *  priming. */
static void start(ana_conditioner *c, uint64_t t_us)
{
    c->started = true;
    c->t0_us = c->last_t_us = t_us;
    c->dec.len = c->dec.centre = c->dec.delay;
}

rm_status ana_conditioner_push_columns(ana_conditioner *c,
                                       const rm_sample_columns *s, size_t n,
                                       rm_error *err)
{
    size_t i = 0;
    while (i < n) {
        sample_run r = run_of(s, i);
        bool first = !c->started;
        if (first)
            start(c, r.t_us[0]);
        rm_status st = fill_gap(c, r.t_us[0], err);
        if (st == RM_OK && decimator_room(&c->dec) == 0)
            st = decimator_run(c, err);
        if (st != RM_OK)
            return st;
        size_t room = decimator_room(&c->dec);
        size_t run = gapless_run(c, r.t_us, n - i < room ? n - i : room);
        run = run < STAGE_INPUTS ? run : STAGE_INPUTS;
        if ((st = note_flags(c, &r, run, err)) != RM_OK)
            return st;
        stage_run(c, &r, run);
        if (first)
            decimator_prime(&c->dec);
        ana_psd_accumulator_push(&c->raw_psd, c->raw_total, run);
        if ((st = decimator_run(c, err)) != RM_OK)
            return st;
        i += run;
    }
    return RM_OK;
}

rm_status ana_conditioner_push(ana_conditioner *c, const rm_sample *s,
                               size_t n, rm_error *err)
{
    rm_sample_columns *cols = &c->transposed;
    rm_status st = RM_OK;
    if (!cols->cap)
        st = rm_sample_columns_alloc(cols, c->info.channel_count, STAGE_INPUTS,
                                     err);
    for (size_t i = 0, part; st == RM_OK && i < n; i += part) {
        part = n - i < cols->cap ? n - i : cols->cap;
        rm_sample_columns_put(cols, 0, s + i, part);
        st = ana_conditioner_push_columns(c, cols, part, err);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Offset drift and FSR creep (on the decimated channels)                   */
/* ------------------------------------------------------------------------ */

/* An unloaded stretch gives an offset estimate when it lasts this long;
 * its first and last quarter second are skipped (load still settling). */
#define ANCHOR_MIN_S 1.0
#define ANCHOR_TRIM_S 0.25

/** The samples an offset estimate is the median of: the trimmed part
 *  [from, to) of an unloaded stretch centred on `centre`. */
typedef struct anchor_span {
    size_t from, to;
    double centre;
} anchor_span;

/** The samples [from, to) between two device tares, whose anchors come
 *  from spans[first .. first + count). */
typedef struct drift_segment {
    size_t from, to, first, count;
} drift_segment;

/** Where the offsets are estimated: the same samples for every channel,
 *  so found once; and the estimates, an anchor at each span's centre. */
typedef struct drift_plan {
    drift_segment *segments;
    size_t segment_count;
    anchor_span *spans;
    size_t span_count;
    unsigned channels;
    double *offsets;     /**< channel c's at span k: [k * channels + c] */
    double *scratch;     /**< room for the longest span */
} drift_plan;

/** The first index in [from, to) where flags (each 0 or 1) hold value;
 *  to if there is none. */
static size_t find_flag(const uint8_t *flags, size_t from, size_t to,
                        uint8_t value)
{
    const uint8_t *at = memchr(flags + from, value, to - from);
    return at ? (size_t)(at - flags) : to;
}

/** The spans of the unloaded stretches of [from, to) that are long enough
 *  to give an offset; returns how many it stored at spans. */
static size_t find_spans(const uint8_t *unloaded, size_t from, size_t to,
                         double rate_hz, anchor_span *spans)
{
    size_t count = 0, min_len = (size_t)(ANCHOR_MIN_S * rate_hz);
    size_t trim = (size_t)(ANCHOR_TRIM_S * rate_hz);
    for (size_t i = find_flag(unloaded, from, to, 1); i < to;) {
        size_t j = find_flag(unloaded, i, to, 0);
        if (j - i >= min_len && j - i > 2 * trim)
            spans[count++] = (anchor_span){i + trim, j - trim,
                                           (double)(i + j - 1) / 2.0};
        i = find_flag(unloaded, j, to, 1);
    }
    return count;
}

static void drift_plan_free(drift_plan *p)
{
    free(p->segments);
    free(p->spans);
    free(p->offsets);
    free(p->scratch);
    memset(p, 0, sizeof *p);
}

/** Room for the channels' offsets at a plan's spans and for the longest
 *  span's values. */
static bool drift_plan_alloc_work(drift_plan *p, unsigned channels,
                                  size_t spans)
{
    size_t longest = 1;
    for (size_t k = 0; k < spans; k++) {
        size_t len = p->spans[k].to - p->spans[k].from;
        longest = len > longest ? len : longest;
    }
    p->span_count = spans;
    p->channels = channels;
    size_t offsets = spans * channels;
    p->offsets = malloc(sizeof *p->offsets * (offsets ? offsets : 1));
    p->scratch = malloc(sizeof *p->scratch * longest);
    return p->offsets && p->scratch;
}

/** The segments of ch between tares and, in each, the spans of the
 *  stretches where unloaded[i] is set. */
static rm_status drift_plan_init(drift_plan *p, const ana_channels *ch,
                                 const uint8_t *unloaded, rm_error *err)
{
    size_t n = ch->n, segments = 0, spans = 0;
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < n; i = find_flag(ch->tared, i + 1, n, 1))
        segments++;
    p->segments = malloc(sizeof *p->segments * (segments ? segments : 1));
    p->spans = malloc(sizeof *p->spans * (n / 2 + 1));
    if (p->segments && p->spans)
        for (size_t from = 0, to; from < n; from = to) {
            to = find_flag(ch->tared, from + 1, n, 1);
            size_t count = find_spans(unloaded, from, to, ch->rate_hz,
                                      p->spans + spans);
            p->segments[p->segment_count++] =
                (drift_segment){from, to, spans, count};
            spans += count;
        }
    if (p->segments && p->spans &&
        drift_plan_alloc_work(p, ch->count, spans))
        return RM_OK;
    drift_plan_free(p);
    return rm_error_set(err, RM_ERR_NOMEM, "conditioning: out of memory");
}

/** The offsets of channel c, samples x: its median at each span. */
static void find_offsets(const float *x, unsigned c, const drift_plan *p)
{
    for (size_t k = 0; k < p->span_count; k++) {
        const anchor_span *s = &p->spans[k];
        size_t n = s->to - s->from;
        for (size_t i = 0; i < n; i++)
            p->scratch[i] = x[s->from + i];
        p->offsets[k * p->channels + c] = rm_median_select(p->scratch, n);
    }
}

/** x[i] -= offset for i in [from, to). */
static void subtract_offset(float *x, size_t from, size_t to, double offset)
{
    for (size_t i = from; i < to; i++)
        x[i] = (float)(x[i] - offset);
}

/** x[0..m) -= the offset `along` the way from an anchor at offset `from`
 *  to one `rise` higher, at four sample indices (m <= 4): the scalar
 *  expression's operations, in its order, in each lane, so the same bits. */
static inline void subtract_ramp_lanes(float *x, size_t m,
                                       const block4 *along, double from,
                                       double rise)
{
    float4 v = {0};
    memcpy(&v, x, m * sizeof *x);
    block4 offset = from + *along * rise;
    v = __builtin_convertvector(WIDENED(v) - offset, float4);
    memcpy(x, &v, m * sizeof *x);
}

/* Samples of each channel that subtract_ramps takes at a time, the way
 * along the ramp worked out once for all channels. */
#define RAMP_RUN 16

/** subtract_ramp_lanes for x[0..RAMP_RUN), `along` the ramp in blocks. */
static HOT_INLINE void subtract_ramp_run(float *x, const block4 *along,
                                         double from, double rise)
{
#pragma GCC unroll 4
    for (size_t j = 0; j < RAMP_RUN / 4; j++)
        subtract_ramp_lanes(x + 4 * j, 4, &along[j], from, rise);
}

/** x[c][i] -= channel c's offset interpolated between anchors p and q,
 *  at centres p_at < q_at with offsets p[c] and q[c], for every channel c
 *  and i in [from, to): p[c] + (i - p_at) / (q_at - p_at) * (q[c] - p[c]).
 *  The way along is the same for every channel, so divided out once. */
AVX2_CLONE
static void subtract_ramps(float *const *x, unsigned channels, size_t from,
                           size_t to, double p_at, double q_at,
                           const double *p, const double *q)
{
    double span = q_at - p_at, rise[RM_MAX_CHANNELS];
    for (unsigned c = 0; c < channels; c++)
        rise[c] = q[c] - p[c];
    /* Sample indices stay below 2^53, where doubles count exactly. */
    block4 at = (double)from + (block4){0.0, 1.0, 2.0, 3.0};
    size_t i = from;
    for (; to - i >= RAMP_RUN; i += RAMP_RUN) {
        block4 along[RAMP_RUN / 4];
        for (size_t j = 0; j < RAMP_RUN / 4; j++, at += 4.0)
            along[j] = (at - p_at) / span;
        for (unsigned c = 0; c < channels; c++)
            subtract_ramp_run(x[c] + i, along, p[c], rise[c]);
    }
    for (; i < to; i += 4, at += 4.0) {
        size_t m = to - i < 4 ? to - i : 4;
        block4 along = (at - p_at) / span;
        for (unsigned c = 0; c < channels; c++)
            subtract_ramp_lanes(x[c] + i, m, &along, p[c], rise[c]);
    }
}

/** First sample index after position `index` (an anchor's centre),
 *  within [from, to]. */
static size_t first_after(double index, size_t from, size_t to)
{
    double next = floor(index) + 1.0;
    return next <= (double)from ? from : next >= (double)to ? to
                                                             : (size_t)next;
}

/** In segment g of the channels x, the offset is the first anchor's up to
 *  its centre, the last one's after the last centre, and linear between
 *  centres. */
static void remove_drift_segment(float *const *x, const drift_plan *p,
                                 const drift_segment *g)
{
    if (g->count == 0)
        return;
    const anchor_span *s = p->spans + g->first;
    const double *offsets = p->offsets + g->first * p->channels;
    size_t i = first_after(s[0].centre, g->from, g->to);
    for (unsigned c = 0; c < p->channels; c++)
        subtract_offset(x[c], g->from, i, offsets[c]);
    for (size_t k = 1; k < g->count; k++) {
        size_t end = first_after(s[k].centre, g->from, g->to);
        subtract_ramps(x, p->channels, i, end, s[k - 1].centre, s[k].centre,
                       offsets + (k - 1) * p->channels,
                       offsets + k * p->channels);
        i = end;
    }
    const double *last = offsets + (g->count - 1) * p->channels;
    for (unsigned c = 0; c < p->channels; c++)
        subtract_offset(x[c], i, g->to, last[c]);
}

/** Remove the time-varying offset of the channels x, estimated at the
 *  plan's spans; the estimate does not cross device tares. */
static void remove_offset_drift(float *const *x, const drift_plan *p)
{
    for (unsigned c = 0; c < p->channels; c++)
        find_offsets(x[c], c, p);
    for (size_t s = 0; s < p->segment_count; s++)
        remove_drift_segment(x, p, &p->segments[s]);
}

/* An FSR counts as carrying load above its 0.2 N range floor (FSR 400
 * series); unloaded, its creep recovers this many times faster than it
 * built up (chosen: the datasheet gives no recovery figure). */
#define CREEP_CONTACT_N 0.2
#define CREEP_RECOVERY_RATE 5

/** The creep correction's gain after a number of sample periods under
 *  load, tabulated only as far as the cells' loaded time can reach: it
 *  only ever moves by whole periods (one up, CREEP_RECOVERY_RATE down), so
 *  a session needs about as many logarithms as its longest build-up, not
 *  one per sample. */
typedef struct creep_table {
    double a, dt;
    double *gain;        /**< room for a session's samples + 1 */
    size_t len;          /**< entries computed */
} creep_table;

/** Tabulate the gains up to `steps` periods under load. With a > 0 and
 *  dt > 0 (the analysis rate is positive) the factor is at most 1, and
 *  exactly 1 at no time under load (log10(1) is 0): every gain is at
 *  least 1, and gain[0] is exactly 1. */
static void creep_table_fill(creep_table *t, size_t steps)
{
    for (; t->len <= steps; t->len++) {
        double factor = 1.0 - t->a * log10(1.0 + (double)t->len * t->dt);
        t->gain[t->len] = 1.0 / (factor > 0.1 ? factor : 0.1);
    }
}

/* Whether a corrected sample x * gain is loaded (above CREEP_CONTACT_N)
 * follows from x alone for two kinds of samples. Gains are at least 1 and
 * rounding keeps the order of products, so a sample above the contact
 * force is loaded whatever its gain. At no time under load the gain is
 * exactly 1 and x * 1 is x, so a sample not above the contact force then
 * keeps its bits and the time under load stays 0 (a NaN too: it compares
 * false; being made by arithmetic, it is a quiet one, which x * 1 keeps). */
static inline bool surely_loaded(float x)
{
    return x > CREEP_CONTACT_N;
}

/* Samples that the run scan tests together, as floats: a float is above
 * CREEP_CONTACT_N exactly when it is at least 0.2f, the nearest float,
 * which lies above it (the one below 0.2f lies below it). */
#define CREEP_SCAN 16
#define CREEP_CONTACT_FLOAT 0.2f

/** Whether surely_loaded is `loaded` for each of x[0..CREEP_SCAN). */
static HOT_INLINE bool all_surely(const float *x, bool loaded)
{
    const long4 want = {-loaded, -loaded, -loaded, -loaded};
    long4 differ = {0};
    for (size_t j = 0; j < CREEP_SCAN; j += LANES) {
        lanes_f v;
        memcpy(&v, x + j, sizeof v);
        differ |= (long4)(v >= CREEP_CONTACT_FLOAT) ^ want;
    }
    return !(differ[0] | differ[1] | differ[2] | differ[3]);
}

/** The end of the run from x[i] on of samples whose surely_loaded is
 *  `loaded`: tested CREEP_SCAN at a time, then the scalar loop finds the
 *  end among the last ones. */
static HOT_INLINE size_t end_of_run(const float *x, size_t i, size_t n,
                                    bool loaded)
{
    while (n - i >= CREEP_SCAN && all_surely(x + i, loaded))
        i += CREEP_SCAN;
    while (i < n && surely_loaded(x[i]) == loaded)
        i++;
    return i;
}

/** Correct x[0..m) by gain[0..m) (the operations of creep_step). */
static HOT_INLINE void apply_gains(float *restrict x,
                                   const double *restrict gain, size_t m)
{
    for (size_t j = 0; j < m; j++)
        x[j] = (float)(x[j] * gain[j]);
}

/** Correct one sample after `steps` periods under load (gain[steps]
 *  tabulated); returns the periods after it: up one above the contact
 *  force, else down CREEP_RECOVERY_RATE (not below 0). */
static inline size_t creep_step(float *x, size_t steps, creep_table *t)
{
    double corrected = *x * t->gain[steps];
    *x = (float)corrected;
    if (!(corrected > CREEP_CONTACT_N))
        return steps > CREEP_RECOVERY_RATE ? steps - CREEP_RECOVERY_RATE : 0;
    creep_table_fill(t, steps + 1);
    return steps + 1;
}

/** Step a cell *steps > 0 periods under load through x[i..) by
 *  creep_step until it is at no time under load or meets a surely loaded
 *  sample; returns where it stopped. */
static HOT_INLINE size_t recover(float *x, size_t i, size_t n, size_t *steps,
                                 creep_table *t)
{
    size_t s = *steps;
    do
        s = creep_step(x + i++, s, t);
    while (i < n && s > 0 && !surely_loaded(x[i]));
    *steps = s;
    return i;
}

/** Undo the creep of one cell's n samples. Its time under load depends on
 *  its previous corrected sample, but creep_step's chain is needed only
 *  while a cell not surely loaded recovers: a run of surely loaded
 *  samples takes consecutive gains (a vector loop along time), and at no
 *  time under load the samples up to the next surely loaded one keep
 *  their values. */
static HOT_INLINE void undo_cell_creep(float *x, size_t n, creep_table *t)
{
    size_t steps = 0;
    for (size_t i = 0, end; i < n; i = end) {
        end = end_of_run(x, i, n, true);
        if (end > i) {   /* the gains of the run and of the step after */
            creep_table_fill(t, steps + (end - i));
            apply_gains(x + i, t->gain + steps, end - i);
            steps += end - i;
        } else if (steps == 0) {
            end = end_of_run(x, i, n, false);
        } else {
            end = recover(x, i, n, &steps, t);
        }
    }
}

/** Undo the creep of the cells x[0..cells), n samples each. */
AVX2_CLONE
static void undo_creep(float *const *x, size_t cells, size_t n,
                       creep_table *table)
{
    for (size_t k = 0; k < cells; k++)
        undo_cell_creep(x[k], n, table);
}

/** The table, its gains in `room` (a session's samples + 1), for a cell
 *  whose reading falls by creep_fraction_5_to_60s from 5 s to 60 s under
 *  load; t->gain stays NULL when there is no creep to undo. */
static void creep_table_init(creep_table *t, double *room, double rate_hz,
                             double creep_fraction_5_to_60s)
{
    memset(t, 0, sizeof *t);
    double c = creep_fraction_5_to_60s;
    if (!(c > 0.0) || c >= 1.0)
        return;
    /* Interlink specifies drift per decade of time: the cell reads
     * F (1 - a log10(1 + t/1 s)) after t seconds under load. a follows from
     * the reading falling by the given fraction from 5 s to 60 s. */
    t->a = c / (log10(61.0) - (1.0 - c) * log10(6.0));
    t->dt = 1.0 / rate_hz;
    t->gain = room;
}

/** unloaded[i0 .. i0 + m) (m <= 4): the total force under `below`, outside
 *  gaps. Each lane adds the channels in the scalar sum's order, from 0. */
static inline void mark_unloaded_lanes(const channel_roles *roles,
                                       const ana_channels *ch, size_t i0,
                                       size_t m, double below,
                                       uint8_t *unloaded)
{
    block4 total = {0};
    for (unsigned k = 0; k < roles->totals; k++) {
        float4 v = {0};
        memcpy(&v, roles->total[k] + i0, m * sizeof v[0]);
        total += WIDENED(v);
    }
    long4 under = (long4)(total < below);
    for (size_t k = 0; k < m; k++)
        unloaded[i0 + k] = under[k] && !ch->in_gap[i0 + k];
}

/** Unloaded before correction: total force under half the load threshold,
 *  outside gaps. */
AVX2_CLONE
static void mark_unloaded(const rm_device_info *info,
                          const rm_analysis_config *cfg,
                          const ana_channels *ch, uint8_t *unloaded)
{
    channel_roles roles;
    pick_roles(info, ch, &roles);
    double below = 0.5 * load_threshold_n(info, cfg);
    size_t i = 0;
    for (; ch->n - i >= 4; i += 4)
        mark_unloaded_lanes(&roles, ch, i, 4, below, unloaded);
    if (i < ch->n)
        mark_unloaded_lanes(&roles, ch, i, ch->n - i, below, unloaded);
}

rm_status ana_channels_remove_drift_and_creep(ana_channels *ch,
                                              const rm_device_info *info,
                                              const rm_analysis_config *cfg,
                                              rm_error *err)
{
    if (ch->n == 0)
        return RM_OK;
    /* Scratch in the series block, in arrays the analysis fills only
     * later: no fresh memory to map (force_n's array and the two after
     * it hold the n + 1 gains). */
    uint8_t *unloaded = ana_series_bytes(ch->series_block, ch->cap,
                                         ANA_SERIES_LOADED);
    drift_plan plan = {0};
    creep_table creep;
    mark_unloaded(info, cfg, ch, unloaded);
    rm_status st = drift_plan_init(&plan, ch, unloaded, err);
    creep_table_init(&creep, ana_series_doubles(ch->series_block, ch->cap,
                                                ANA_SERIES_FORCE),
                     ch->rate_hz, cfg->fsr_creep_pct / 100.0);
    if (st == RM_OK) {
        float *cells[RM_MAX_CHANNELS];
        size_t cell_count = 0;
        remove_offset_drift(ch->newtons, &plan);
        for (unsigned k = 0; k < ch->count; k++)
            if (info->channels[k].kind == RM_CHANNEL_PRESSURE_CELL)
                cells[cell_count++] = ch->newtons[k];
        if (creep.gain)
            undo_creep(cells, cell_count, ch->n, &creep);
    }
    drift_plan_free(&plan);
    return st;
}

/** Hold the last input through the filter's delay so that the last
 *  samples get their outputs too. */
static rm_status flush_filter(ana_conditioner *c, rm_error *err)
{
    if (!c->started)
        return RM_OK;
    double t_s = seconds_since_start(c, c->last_t_us);
    for (size_t k = 0; k < c->dec.delay; k++) {
        rm_status st = hold_last(c, t_s + (double)(k + 1) / c->rate_hz,
                                 FLAG_FILLED, err);
        if (st != RM_OK)
            return st;
    }
    return decimator_run(c, err);
}

rm_status ana_conditioner_finish(ana_conditioner *c, ana_channels *ch,
                                 ana_raw_stats *raw, rm_error *err)
{
    rm_status st = flush_filter(c, err);
    if (st == RM_OK)
        st = ana_channels_remove_drift_and_creep(&c->out, &c->info, &c->cfg,
                                                 err);
    if (st != RM_OK) {
        ana_conditioner_free(c);
        return st;
    }
    c->raw.t0_us = c->t0_us;
    if (c->started)
        c->raw.duration_s = (double)(c->last_t_us - c->t0_us) / 1e6 +
                            1.0 / c->rate_hz;
    c->raw.vibration_hz = ana_psd_accumulator_peak(
        &c->raw_psd, c->raw.hum_removed ? c->raw.hum_hz : 0.0);
    *ch = c->out;
    *raw = c->raw;
    memset(&c->out, 0, sizeof c->out);
    memset(&c->raw, 0, sizeof c->raw);
    ana_conditioner_free(c);
    return RM_OK;
}

void ana_conditioner_free(ana_conditioner *c)
{
    if (!c)
        return;
    decimator_free(&c->dec);
    rm_sample_columns_free(&c->transposed);
    ana_psd_accumulator_free(&c->raw_psd);
    ana_channels_free(&c->out);
    ana_raw_stats_free(&c->raw);
    free(c);
}

void ana_channels_free(ana_channels *ch)
{
    free(ch->series_block);
    memset(ch, 0, sizeof *ch);
}

void ana_raw_stats_free(ana_raw_stats *raw)
{
    free(raw->mark_t_s);
    memset(raw, 0, sizeof *raw);
}

/* ------------------------------------------------------------------------ */
/* Total force and pressure                                                 */
/* ------------------------------------------------------------------------ */

/* A pressure cell counts as loaded above this force (a tenth of an FSR's
 * 0.2 N minimum range would be noise; 0.5 N is clearly in contact). */
#define CELL_CONTACT_N 0.5

/** Sums of outputs i .. i+3 over the roles' channels: the total force,
 *  the pressure of the cells in contact and their count. Each lane adds
 *  in the same order as one output at a time would; a cell out of contact
 *  adds +0.0, which leaves the sums' bits as they are. */
static HOT_INLINE void combine_four(const channel_roles *roles, size_t i,
                                    block4 *total, block4 *kpa,
                                    block4 *in_contact)
{
    const block4 zero = {0.0, 0.0, 0.0, 0.0}, one = {1.0, 1.0, 1.0, 1.0};
    *total = *kpa = *in_contact = zero;
    for (unsigned k = 0; k < roles->totals; k++) {
        float4 f;
        memcpy(&f, roles->total[k] + i, sizeof f);
        *total += WIDENED(f);
    }
    for (unsigned k = 0; k < roles->cells; k++) {
        float4 f4;
        memcpy(&f4, roles->cell[k] + i, sizeof f4);
        block4 f = WIDENED(f4);
        long4 contact = f >= CELL_CONTACT_N;
        block4 cell_kpa = f / roles->cell_area_mm2[k] * 1000.0; /* N/mm^2 = 1000 kPa */
        *kpa += (block4)((long4)cell_kpa & contact);
        *in_contact += (block4)((long4)one & contact);
    }
}

/** The centre of pressure of outputs i .. i+3 into *cop: NaN where not
 *  `loaded` (lanes of all bits set) or where no cop channel pushes, else
 *  their force-weighted mean position, a load not above 0 (also NaN)
 *  counting as none. Each lane adds in channel order, as one output at a
 *  time would. */
static HOT_INLINE void centre_of_pressure4(const channel_roles *roles,
                                           size_t i, const long4 *loaded,
                                           block4 *cop)
{
    block4 moment = {0}, total = {0}, none = {NAN, NAN, NAN, NAN};
    for (unsigned k = 0; k < roles->cops; k++) {
        float4 f4;
        memcpy(&f4, roles->cop[k] + i, sizeof f4);
        block4 f = WIDENED(f4);
        f = (block4)((long4)f & (f > 0.0));    /* +0.0 where not above 0 */
        moment += f * roles->cop_position_mm[k];
        total += f;
    }
    long4 defined = (total > 0.0) & *loaded;
    block4 quotient = moment / total;
    *cop = (block4)(((long4)quotient & defined) | ((long4)none & ~defined));
}

/** The mean pressure of the cells in contact from the sums of their
 *  pressures and their count: 0 where none is, NaN where the device has
 *  no cells. Dividing in every lane gives the lanes that are kept the
 *  bits of one division at a time. */
static HOT_INLINE void mean_pressure4(bool cells, const block4 *kpa,
                                      const block4 *in_contact,
                                      block4 *pressure)
{
    const block4 none = {NAN, NAN, NAN, NAN};
    long4 some = *in_contact > 0.0;
    *pressure = cells ? (block4)((long4)(*kpa / *in_contact) & some) : none;
}

/** Into *loaded whether outputs at .. at+count-1 are (lanes of all bits
 *  set): total force at least threshold, outside gaps. */
static HOT_INLINE void loaded4(const block4 *total, double threshold,
                               const uint8_t *in_gap, size_t count,
                               long4 *loaded)
{
    uint8_t gap[4] = {0};
    memcpy(gap, in_gap, count);
    long4 open = (long4){gap[0], gap[1], gap[2], gap[3]} == 0;
    *loaded = (*total >= threshold) & open;
}

/** Outputs i .. i+count-1 (count at most four) of the series. */
static HOT_INLINE void combine_into(const channel_roles *roles, size_t i,
                                    size_t count, bool cells,
                                    double threshold, size_t at,
                                    rm_series *out)
{
    block4 total, kpa, in_contact, pressure;
    combine_four(roles, i, &total, &kpa, &in_contact);
    mean_pressure4(cells, &kpa, &in_contact, &pressure);
    long4 loaded;
    loaded4(&total, threshold, out->in_gap + at, count, &loaded);
    uint8_t flags[4] = {loaded[0] & 1, loaded[1] & 1, loaded[2] & 1,
                        loaded[3] & 1};
    memcpy(out->force_n + at, &total, sizeof(double) * count);
    memcpy(out->pressure_kpa + at, &pressure, sizeof(double) * count);
    memcpy(out->loaded + at, flags, count);
    if (roles->cops == 0)
        return;
    block4 cop;
    centre_of_pressure4(roles, i, &loaded, &cop);
    memcpy(out->ml + at, &cop, sizeof(double) * count);
}

/** The channels' last n - from outputs (fewer than four) copied to the
 *  start of zero-padded arrays, and roles that read them there. */
static void pad_roles(const channel_roles *roles, size_t from, size_t n,
                      float padded[][4], channel_roles *tail)
{
    *tail = *roles;
    unsigned used = 0;
    for (unsigned k = 0; k < roles->totals; k++, used++) {
        memcpy(padded[used], roles->total[k] + from, sizeof(float) * (n - from));
        tail->total[k] = padded[used];
    }
    for (unsigned k = 0; k < roles->cells; k++, used++) {
        memcpy(padded[used], roles->cell[k] + from, sizeof(float) * (n - from));
        tail->cell[k] = padded[used];
    }
    for (unsigned k = 0; k < roles->cops; k++, used++) {
        memcpy(padded[used], roles->cop[k] + from, sizeof(float) * (n - from));
        tail->cop[k] = padded[used];
    }
}

AVX2_CLONE
static void combine_outputs(const channel_roles *roles, size_t n, bool cells,
                            double threshold, rm_series *out)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        combine_into(roles, i, 4, cells, threshold, i, out);
    if (i < n) {
        float padded[3 * RM_MAX_CHANNELS][4] = {{0}};
        channel_roles tail;
        pad_roles(roles, i, n, padded, &tail);
        combine_into(&tail, 0, n - i, cells, threshold, i, out);
    }
}

void ana_combine_channels(const rm_device_info *info,
                          const rm_analysis_config *cfg,
                          const ana_channels *ch, rm_series *out)
{
    channel_roles roles;
    pick_roles(info, ch, &roles);
    combine_outputs(&roles, ch->n, ana_has_pressure_cells(info),
                    load_threshold_n(info, cfg), out);
}
