/*
 * Signal conditioning: counts -> newtons with each channel's calibration,
 * mains-hum detection and notch, anti-aliased decimation to the analysis
 * rate (streaming, so an hour at 1 kHz never sits in memory), then offset
 * drift and FSR creep removal on the decimated channels. docs/ANALYSIS.md
 * explains every constant.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Four doubles handled as one value: GCC and clang turn the arithmetic on
 * it into SIMD instructions (two SSE2 or one AVX operation). */
typedef double block4 __attribute__((vector_size(4 * sizeof(double))));
#define BLOCK 4
#define MAX_BLOCKS ((RM_MAX_CHANNELS + 1 + BLOCK - 1) / BLOCK)
/* Room for the values of one input (channels + encoder) in whole blocks. */
#define PADDED_VALUES (MAX_BLOCKS * BLOCK)

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

/** Newtons of channel `which` of sample s, or with which = -1 the total
 *  force (in which a lean shifting load between the end caps cancels). */
static double prefix_value(const rm_device_info *info, const rm_sample *s,
                           int which)
{
    if (which >= 0)
        return rm_channel_newtons(&info->channels[which], s->counts[which]);
    rm_channel_kind kind = total_force_kind(info);
    double total = 0.0;
    for (unsigned k = 0; k < info->channel_count; k++)
        if (info->channels[k].kind == kind)
            total += rm_channel_newtons(&info->channels[k], s->counts[k]);
    return total;
}

/** Welch PSD of one signal of the prefix, mean removed. */
static rm_status prefix_psd(const rm_device_info *info, int which,
                            const rm_sample *s, size_t n, size_t nfft,
                            double *x, double *psd)
{
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i] = prefix_value(info, &s[i], which);
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        x[i] -= mean;
    return rm_welch_psd(x, n, info->sample_rate_hz, nfft, psd, NULL);
}

/** Mains frequency (50 or 60) whose line stands out in the total force or
 *  any one channel, or 0. Hum is in the wiring of every channel, while the
 *  broadband content that can hide it differs (an FSR's is larger). */
static double detect_hum(const rm_device_info *info, const rm_sample *prefix,
                         size_t n)
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
 *  coefficients, stepped four channels at a time (one block4). */
typedef struct notch_bank {
    double b0, b1, b2, a1, a2;
    double z1[PADDED_VALUES], z2[PADDED_VALUES];
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
    q->primed = false;
}

/** The first `blocks` blocks of x (four channels each) through the notch,
 *  in place. */
static void notch_step(notch_bank *q, double *x, size_t blocks)
{
    for (size_t b = 0; b < blocks; b++) {
        block4 in, z1, z2;
        memcpy(&in, x + b * BLOCK, sizeof in);
        if (!q->primed) { /* start in the steady state of a constant input */
            z2 = (q->b2 - q->a2) * in;
            z1 = (1.0 - q->b0) * in;
        } else {
            memcpy(&z1, q->z1 + b * BLOCK, sizeof z1);
            memcpy(&z2, q->z2 + b * BLOCK, sizeof z2);
        }
        block4 y = q->b0 * in + z1;
        z1 = q->b1 * in - q->a1 * y + z2;
        z2 = q->b2 * in - q->a2 * y;
        memcpy(x + b * BLOCK, &y, sizeof y);
        memcpy(q->z1 + b * BLOCK, &z1, sizeof z1);
        memcpy(q->z2 + b * BLOCK, &z2, sizeof z2);
    }
    q->primed = true;
}

/* ------------------------------------------------------------------------ */
/* Calibration of every channel at once                                     */
/* ------------------------------------------------------------------------ */

/** Each channel's calibration (rm_channel_newtons), laid out so four
 *  channels go through the polynomial at once; lanes past the last
 *  channel are zero. */
typedef struct calibration_bank {
    double tare[PADDED_VALUES];
    double coef[4][PADDED_VALUES];
    size_t blocks;        /**< block4s holding the channels */
} calibration_bank;

static void calibration_bank_init(calibration_bank *cal,
                                  const rm_device_info *info)
{
    memset(cal, 0, sizeof *cal);
    cal->blocks = (info->channel_count + BLOCK - 1) / BLOCK;
    for (unsigned k = 0; k < info->channel_count; k++) {
        cal->tare[k] = info->channels[k].cal.tare_counts;
        for (size_t i = 0; i < 4; i++)
            cal->coef[i][k] = info->channels[k].cal.coef[i];
    }
}

/** Newtons of every channel of s into newtons[0 .. blocks * BLOCK), the
 *  same arithmetic as rm_channel_newtons. Lanes past the last channel come
 *  out 0 whatever their counts: their coefficients are 0. */
static void calibrate(const calibration_bank *cal, const rm_sample *s,
                      double *newtons)
{
    for (size_t b = 0; b < cal->blocks; b++) {
        size_t at = b * BLOCK;  /* blocks * BLOCK <= RM_MAX_CHANNELS: inside counts */
        const int32_t *in = s->counts + at;
        block4 x = {in[0], in[1], in[2], in[3]}, tare, c0, c1, c2, c3;
        memcpy(&tare, cal->tare + at, sizeof tare);
        memcpy(&c0, cal->coef[0] + at, sizeof c0);
        memcpy(&c1, cal->coef[1] + at, sizeof c1);
        memcpy(&c2, cal->coef[2] + at, sizeof c2);
        memcpy(&c3, cal->coef[3] + at, sizeof c3);
        x -= tare;
        block4 n = c0 + x * (c1 + x * (c2 + x * c3));
        memcpy(newtons + at, &n, sizeof n);
    }
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


typedef struct decimator {
    size_t factor;        /**< input samples per output */
    size_t taps;          /**< odd; delay (taps-1)/2 */
    size_t width;         /**< values per input: channels + encoder */
    size_t blocks;        /**< block4s per input: width rounded up */
    double *coef;
    block4 *hist;         /**< `blocks` rings of 2*taps block4s, each input
                               written twice so the last taps are one run */
    double *time_s;       /**< ring of taps input times */
    uint8_t *flags;       /**< ring of taps input flags */
    size_t pos;           /**< next write slot */
    uint64_t pushed;
    uint64_t due;         /**< pushed count of the next output: the first
                               when the first input reaches the centre tap,
                               then every `factor` */
} decimator;

enum { FLAG_FILLED = 1, FLAG_TARED = 2 };

static rm_status decimator_design(decimator *d, size_t factor, size_t width,
                                  rm_error *err)
{
    memset(d, 0, sizeof *d);
    d->factor = factor;
    d->width = width;
    d->taps = 1;
    if (factor > 1) {
        /* Kaiser's estimate of the length for the attenuation and the
         * transition width (in cycles per input sample). */
        double transition = (FIR_STOP_EDGE - FIR_PASS_EDGE) / (double)factor;
        double n = (FIR_ATTENUATION_DB - 8.0) / (2.285 * 2.0 * M_PI * transition);
        d->taps = (size_t)ceil(n) | 1u;
    }
    d->blocks = (width + BLOCK - 1) / BLOCK;
    d->due = (d->taps - 1) / 2 + 1;
    d->coef = malloc(sizeof *d->coef * d->taps);
    d->hist = aligned_alloc(sizeof(block4),
                            2 * d->taps * d->blocks * sizeof *d->hist);
    if (d->hist)
        memset(d->hist, 0, 2 * d->taps * d->blocks * sizeof *d->hist);
    d->time_s = calloc(d->taps, sizeof *d->time_s);
    d->flags = calloc(d->taps, 1);
    if (!d->coef || !d->hist || !d->time_s || !d->flags)
        return rm_error_set(err, RM_ERR_NOMEM, "decimator: out of memory");
    double beta = 0.1102 * (FIR_ATTENUATION_DB - 8.7); /* Kaiser's rule */
    double cutoff = (FIR_PASS_EDGE + FIR_STOP_EDGE) / 2.0 / (double)factor;
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
    for (size_t k = 0; k < d->taps; k++)
        d->coef[k] /= sum;       /* unity gain at DC */
    return RM_OK;
}

static void decimator_free(decimator *d)
{
    free(d->coef);
    free(d->hist);
    free(d->time_s);
    free(d->flags);
}

/** v holds d->blocks whole blocks (PADDED_VALUES), zero past d->width. */
static void decimator_write(decimator *d, const double *v, double t_s,
                            uint8_t flags)
{
    size_t ring = 2 * d->taps;
    for (size_t b = 0; b < d->blocks; b++) {
        block4 x;
        memcpy(&x, v + b * BLOCK, sizeof x);
        d->hist[b * ring + d->pos] = x;
        d->hist[b * ring + d->pos + d->taps] = x;
    }
    d->time_s[d->pos] = t_s;
    d->flags[d->pos] = flags;
    d->pos = d->pos + 1 == d->taps ? 0 : d->pos + 1;
    d->pushed++;
}

/** Fill the history with the first input so the filter starts settled. */
static void decimator_prime(decimator *d, const double *v, double t_s)
{
    for (size_t k = 0; k < d->taps; k++)
        decimator_write(d, v, t_s, 0);
    d->pushed = 0;
    d->due = (d->taps - 1) / 2 + 1;
}

/** A symmetric filter of odd length over h[0..taps), four values at a
 *  time: pairs of taps share a coefficient, and four running sums let the
 *  additions overlap. */
#if defined(__x86_64__) && defined(__GNUC__)
/* Built twice, chosen at load time: with AVX2 a block4 is one instruction,
 * with plain x86-64 (SSE2) two. */
__attribute__((target_clones("avx2", "default")))
#endif
static void symmetric_dot4(const double *coef, const block4 *h, size_t taps,
                           block4 *out)
{
    size_t half = taps / 2, k = 0;
    const block4 *tail = h + taps - 1;
    block4 a0 = coef[half] * h[half], a1 = {0}, a2 = {0}, a3 = {0};
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

/** After a write: is an output due, and its filtered values. */
static bool decimator_output(decimator *d, double *out, double *t_s,
                             uint8_t *flags)
{
    size_t delay = (d->taps - 1) / 2;
    if (d->pushed != d->due)
        return false;
    d->due += d->factor;
    size_t ring = 2 * d->taps;
    block4 filtered[MAX_BLOCKS];
    for (size_t b = 0; b < d->blocks; b++)
        symmetric_dot4(d->coef, d->hist + b * ring + d->pos, d->taps,
                       &filtered[b]);
    memcpy(out, filtered, d->width * sizeof *out);
    size_t centre = (d->pos + d->taps - 1 - delay) % d->taps;
    *t_s = d->time_s[centre];
    /* Flags of the inputs this output stands for (the last `factor`
     * centres). */
    *flags = 0;
    for (size_t k = 0; k < d->factor && k < d->taps; k++)
        *flags |= d->flags[(centre + d->taps - k) % d->taps];
    return true;
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
    decimator dec;
    calibration_bank calibration;
    notch_bank notch;
    rm_channel_kind total_kind;
    unsigned total_channels[RM_MAX_CHANNELS]; /**< those of total_kind, in order */
    unsigned total_count;
    ana_psd_accumulator raw_psd;
    bool started;
    uint64_t t0_us, last_t_us;
    double last[PADDED_VALUES];  /**< last converted input */
    bool mark_down;
    ana_channels out;
    ana_raw_stats raw;
};

/** Room for at least `want` outputs (doubling, so appends stay cheap). */
static rm_status channels_grow(ana_channels *ch, size_t want, rm_error *err)
{
    size_t cap = ch->cap ? ch->cap * 2 : 4096;
    cap = cap > want ? cap : want;
    double **arrays[RM_MAX_CHANNELS + 2];
    size_t count = 0;
    arrays[count++] = &ch->t_s;
    arrays[count++] = &ch->encoder;
    for (unsigned c = 0; c < ch->count; c++)
        arrays[count++] = &ch->newtons[c];
    for (size_t i = 0; i < count; i++) {
        double *p = realloc(*arrays[i], sizeof *p * cap);
        if (!p)
            return rm_error_set(err, RM_ERR_NOMEM,
                                "conditioning: out of memory at %zu samples",
                                ch->n);
        *arrays[i] = p;
    }
    uint8_t *gap = realloc(ch->in_gap, cap), *tare = NULL;
    if (gap) {
        ch->in_gap = gap;
        tare = realloc(ch->tared, cap);
    }
    if (!tare)
        return rm_error_set(err, RM_ERR_NOMEM, "conditioning: out of memory");
    ch->tared = tare;
    ch->cap = cap;
    return RM_OK;
}

static rm_status append_output(ana_conditioner *c, const double *v,
                               double t_s, uint8_t flags, rm_error *err)
{
    ana_channels *ch = &c->out;
    if (ch->n == ch->cap) {
        rm_status st = channels_grow(ch, ch->n + 1, err);
        if (st != RM_OK)
            return st;
    }
    size_t i = ch->n++;
    ch->t_s[i] = t_s;
    for (unsigned k = 0; k < ch->count; k++)
        ch->newtons[k][i] = v[k];
    ch->encoder[i] = v[ch->count];
    ch->in_gap[i] = (flags & FLAG_FILLED) != 0;
    ch->tared[i] = (flags & FLAG_TARED) != 0;
    return RM_OK;
}

/** One input vector (newtons, hum removed) into the decimator; appends the
 *  output when one is due. */
static rm_status feed(ana_conditioner *c, const double *v, double t_s,
                      uint8_t flags, rm_error *err)
{
    double out[PADDED_VALUES], out_t;
    uint8_t out_flags;
    decimator_write(&c->dec, v, t_s, flags);
    if (!decimator_output(&c->dec, out, &out_t, &out_flags))
        return RM_OK;
    return append_output(c, out, out_t, out_flags, err);
}

rm_status ana_conditioner_new(ana_conditioner **out,
                              const rm_device_info *info,
                              const rm_analysis_config *cfg,
                              const rm_sample *prefix, size_t prefix_n,
                              uint64_t expected_samples, rm_error *err)
{
    *out = NULL;
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
    ana_conditioner *c = calloc(1, sizeof *c);
    if (!c)
        return rm_error_set(err, RM_ERR_NOMEM, "conditioning: out of memory");
    c->info = *info;
    c->cfg = *cfg;
    c->rate_hz = info->sample_rate_hz;
    c->total_kind = total_force_kind(info);
    calibration_bank_init(&c->calibration, info);
    for (unsigned k = 0; k < info->channel_count; k++)
        if (info->channels[k].kind == c->total_kind)
            c->total_channels[c->total_count++] = k;
    c->out.count = info->channel_count;
    size_t factor = (size_t)floor(c->rate_hz / cfg->analysis_rate_hz + 1e-9);
    c->out.rate_hz = c->rate_hz / (double)(factor ? factor : 1);
    double hum = cfg->mains_hz > 0.0 ? cfg->mains_hz
                                     : detect_hum(info, prefix, prefix_n);
    if (hum > 0.0 && aliased_hz(hum, c->rate_hz) >= 1.0) {
        c->raw.hum_removed = true;
        c->raw.hum_hz = hum;
        notch_design(&c->notch, aliased_hz(hum, c->rate_hz), c->rate_hz);
    }
    rm_status st = decimator_design(&c->dec, factor ? factor : 1,
                                    info->channel_count + 1u, err);
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

/** Counts -> newtons (hum removed); v[count] is the encoder. v holds
 *  PADDED_VALUES, zero past the encoder. */
static void convert(ana_conditioner *c, const rm_sample *s, double *v)
{
    calibrate(&c->calibration, s, v);
    if (c->raw.hum_removed)
        notch_step(&c->notch, v, c->calibration.blocks);
    v[c->info.channel_count] = s->encoder;
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

/** Hold the last values through a time jump, flagged as filled. */
static rm_status fill_gap(ana_conditioner *c, const rm_sample *s,
                          rm_error *err)
{
    double period_us = 1e6 / c->rate_hz;
    double jump_us = (double)(s->t_us - c->last_t_us);
    if (s->t_us <= c->last_t_us || jump_us <= GAP_PERIODS * period_us)
        return RM_OK;
    if (jump_us > LONGEST_GAP_S * 1e6)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "sample %llu: time jumps by %.0f s (t_us %llu)",
                            (unsigned long long)c->raw.samples, jump_us / 1e6,
                            (unsigned long long)s->t_us);
    uint64_t missing = (uint64_t)llround(jump_us / period_us) - 1;
    c->raw.gaps++;
    c->raw.gap_s += (jump_us - period_us) / 1e6;
    double last_t = (double)(c->last_t_us - c->t0_us) / 1e6;
    for (uint64_t k = 1; k <= missing; k++) {
        rm_status st = feed(c, c->last, last_t + (double)k / c->rate_hz,
                            FLAG_FILLED, err);
        if (st != RM_OK)
            return st;
    }
    c->raw.filled += missing;
    return RM_OK;
}

static double total_of(const ana_conditioner *c, const double *v)
{
    double total = 0.0;
    for (unsigned j = 0; j < c->total_count; j++)
        total += v[c->total_channels[j]];
    return total;
}

static rm_status push_one(ana_conditioner *c, const rm_sample *s,
                          rm_error *err)
{
    double v[PADDED_VALUES] = {0};
    convert(c, s, v);
    if (!c->started) {
        c->started = true;
        c->t0_us = c->last_t_us = s->t_us;
        decimator_prime(&c->dec, v, 0.0);
    }
    rm_status st = fill_gap(c, s, err);
    if (st != RM_OK)
        return st;
    double t_s = (double)(int64_t)(s->t_us - c->t0_us) / 1e6;
    bool mark = (s->flags & RM_SAMPLE_MARK) != 0;
    if (mark && !c->mark_down && (st = add_mark(&c->raw, t_s, err)) != RM_OK)
        return st;
    c->mark_down = mark;
    c->raw.saturated += (s->flags & RM_SAMPLE_SATURATED) != 0;
    c->raw.samples++;
    c->last_t_us = s->t_us;
    memcpy(c->last, v, sizeof v);
    ana_psd_accumulator_push(&c->raw_psd, total_of(c, v));
    return feed(c, v, t_s, (s->flags & RM_SAMPLE_TARED) ? FLAG_TARED : 0, err);
}

rm_status ana_conditioner_push(ana_conditioner *c, const rm_sample *s,
                               size_t n, rm_error *err)
{
    for (size_t i = 0; i < n; i++) {
        rm_status st = push_one(c, &s[i], err);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Offset drift and FSR creep (on the decimated channels)                   */
/* ------------------------------------------------------------------------ */

/* An unloaded stretch gives an offset estimate when it lasts this long;
 * its first and last quarter second are skipped (load still settling). */
#define ANCHOR_MIN_S 1.0
#define ANCHOR_TRIM_S 0.25

typedef struct anchor {
    double index;        /**< centre of the stretch, in samples */
    double offset;       /**< median of the channel over the stretch */
} anchor;

/** Offset anchors from unloaded stretches of x[from..to). */
static size_t find_anchors(const double *x, size_t from, size_t to,
                           double rate_hz, const uint8_t *unloaded,
                           anchor *anchors, double *scratch)
{
    size_t count = 0, min_len = (size_t)(ANCHOR_MIN_S * rate_hz);
    size_t trim = (size_t)(ANCHOR_TRIM_S * rate_hz);
    size_t i = from;
    while (i < to) {
        if (!unloaded[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < to && unloaded[j])
            j++;
        if (j - i >= min_len && j - i > 2 * trim) {
            size_t m = 0;
            for (size_t k = i + trim; k < j - trim; k++)
                scratch[m++] = x[k];
            anchors[count++] = (anchor){(double)(i + j - 1) / 2.0,
                                        rm_median_select(scratch, m)};
        }
        i = j;
    }
    return count;
}

static double offset_at(const anchor *a, size_t count, size_t i)
{
    double at = (double)i;
    if (at <= a[0].index)
        return a[0].offset;
    for (size_t k = 1; k < count; k++)
        if (at <= a[k].index) {
            double f = (at - a[k - 1].index) / (a[k].index - a[k - 1].index);
            return a[k - 1].offset + f * (a[k].offset - a[k - 1].offset);
        }
    return a[count - 1].offset;
}

static void remove_drift_segment(double *x, size_t from, size_t to,
                                 double rate_hz, const uint8_t *unloaded,
                                 anchor *anchors, double *scratch)
{
    size_t count = find_anchors(x, from, to, rate_hz, unloaded, anchors,
                                scratch);
    if (count == 0)
        return;
    for (size_t i = from; i < to; i++)
        x[i] -= offset_at(anchors, count, i);
}

/** Remove the time-varying offset of x, estimated from stretches where
 *  unloaded[i] is set; the estimate does not cross device tares. */
static void remove_offset_drift(double *x, size_t n, double rate_hz,
                                const uint8_t *unloaded, const uint8_t *tared)
{
    anchor *anchors = malloc(sizeof *anchors * (n / 2 + 1));
    double *scratch = malloc(sizeof *scratch * (n + 1));
    if (anchors && scratch) {
        size_t from = 0;
        for (size_t i = 1; i <= n; i++)
            if (i == n || (tared && tared[i])) {
                remove_drift_segment(x, from, i, rate_hz, unloaded, anchors,
                                     scratch);
                from = i;
            }
    }
    free(anchors);
    free(scratch);
}

/* An FSR counts as carrying load above its 0.2 N range floor (FSR 400
 * series); unloaded, its creep recovers this many times faster than it
 * built up (chosen: the datasheet gives no recovery figure). */
#define CREEP_CONTACT_N 0.2
#define CREEP_RECOVERY_RATE 5.0

static void undo_creep(double *x, size_t n, double rate_hz,
                       double creep_fraction_5_to_60s)
{
    if (!(creep_fraction_5_to_60s > 0.0) || creep_fraction_5_to_60s >= 1.0)
        return;
    /* Interlink specifies drift per decade of time: the cell reads
     * F (1 - a log10(1 + t/1 s)) after t seconds under load. a follows from
     * the reading falling by the given fraction from 5 s to 60 s. */
    double c = creep_fraction_5_to_60s;
    double a = c / (log10(61.0) - (1.0 - c) * log10(6.0));
    double dt = 1.0 / rate_hz, loaded_s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double factor = 1.0 - a * log10(1.0 + loaded_s);
        x[i] /= factor > 0.1 ? factor : 0.1;
        if (x[i] > CREEP_CONTACT_N)
            loaded_s += dt;
        else
            loaded_s = fmax(0.0, loaded_s - CREEP_RECOVERY_RATE * dt);
    }
}

/** Unloaded before correction: total force under half the load threshold. */
static uint8_t *unloaded_mask(const ana_conditioner *c)
{
    const ana_channels *ch = &c->out;
    uint8_t *mask = malloc(ch->n ? ch->n : 1);
    double threshold = load_threshold_n(&c->info, &c->cfg);
    if (!mask)
        return NULL;
    for (size_t i = 0; i < ch->n; i++) {
        double total = 0.0;
        for (unsigned k = 0; k < ch->count; k++)
            if (c->info.channels[k].kind == c->total_kind)
                total += ch->newtons[k][i];
        mask[i] = total < 0.5 * threshold && !ch->in_gap[i];
    }
    return mask;
}

static rm_status flush_filter(ana_conditioner *c, rm_error *err)
{
    if (!c->started)
        return RM_OK;
    double t_s = (double)(c->last_t_us - c->t0_us) / 1e6;
    for (size_t k = 0; k < (c->dec.taps - 1) / 2; k++) {
        rm_status st = feed(c, c->last, t_s + (double)(k + 1) / c->rate_hz,
                            FLAG_FILLED, err);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}

rm_status ana_conditioner_finish(ana_conditioner *c, ana_channels *ch,
                                 ana_raw_stats *raw, rm_error *err)
{
    rm_status st = flush_filter(c, err);
    uint8_t *mask = st == RM_OK ? unloaded_mask(c) : NULL;
    if (st == RM_OK && !mask)
        st = rm_error_set(err, RM_ERR_NOMEM, "conditioning: out of memory");
    if (st != RM_OK) {
        ana_conditioner_free(c);
        return st;
    }
    for (unsigned k = 0; k < c->out.count; k++) {
        remove_offset_drift(c->out.newtons[k], c->out.n, c->out.rate_hz,
                            mask, c->out.tared);
        if (c->info.channels[k].kind == RM_CHANNEL_PRESSURE_CELL)
            undo_creep(c->out.newtons[k], c->out.n, c->out.rate_hz,
                       c->cfg.fsr_creep_pct / 100.0);
    }
    free(mask);
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
    ana_psd_accumulator_free(&c->raw_psd);
    ana_channels_free(&c->out);
    ana_raw_stats_free(&c->raw);
    free(c);
}

void ana_channels_free(ana_channels *ch)
{
    free(ch->t_s);
    free(ch->encoder);
    for (unsigned k = 0; k < RM_MAX_CHANNELS; k++)
        free(ch->newtons[k]);
    free(ch->in_gap);
    free(ch->tared);
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

void ana_combine_channels(const rm_device_info *info,
                          const rm_analysis_config *cfg,
                          const ana_channels *ch, rm_series *out)
{
    rm_channel_kind total_kind = total_force_kind(info);
    bool cells = ana_has_pressure_cells(info);
    double threshold = load_threshold_n(info, cfg);
    for (size_t i = 0; i < ch->n; i++) {
        double total = 0.0, kpa = 0.0;
        unsigned loaded_cells = 0;
        for (unsigned k = 0; k < ch->count; k++) {
            const rm_channel_info *ci = &info->channels[k];
            double f = ch->newtons[k][i];
            if (ci->kind == total_kind)
                total += f;
            if (ci->kind == RM_CHANNEL_PRESSURE_CELL && ci->area_mm2 > 0.0f &&
                f >= CELL_CONTACT_N) {
                kpa += f / ci->area_mm2 * 1000.0;   /* N/mm^2 = 1000 kPa */
                loaded_cells++;
            }
        }
        out->force_n[i] = total;
        out->pressure_kpa[i] = !cells ? NAN
                               : loaded_cells ? kpa / loaded_cells : 0.0;
        out->loaded[i] = total >= threshold && !out->in_gap[i];
    }
}
