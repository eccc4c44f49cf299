/*
 * The analysis driver: stream samples through conditioning, then derive
 * position, spectra, strokes, dwells, marks, spots, summary and quality.
 */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Mains hum is looked for in the first seconds of the session. */
#define HUM_PREFIX_S 4.0
/* Frames of the force spectrogram / tremor power: 64 samples (0.64 s at
 * 100 Hz) resolve 1.6 Hz, enough to tell the 6-12 Hz band from voluntary
 * force changes below 4 Hz, and short enough to keep a pass's tremor where
 * it happened (1.6 cm at 2.5 cm/s). */
#define SPECTROGRAM_FRAME 64
/* Welch PSD segment of the whole session's force (10 s at 100 Hz). */
#define PSD_SEGMENT 1024
/* A button press and a mark event within this are the same mark. */
#define SAME_MARK_S 1.0
/* Longer than any leg or back rolled (a femur is 40-44 cm): beyond this
 * the encoder or the roller geometry is wrong. */
#define LONGEST_ROLL_CM 300.0
/* Samples per read from a session file at most (8 channels: 188 kB), a
 * few of the writer's blocks (512 samples by default). */
#define READ_CHUNK 4096

double ana_sample_sd(double sum, double sum_sq, size_t n)
{
    if (n < 2)
        return NAN;
    double mean = sum / (double)n;
    double variance = (sum_sq - (double)n * mean * mean) / (double)(n - 1);
    return sqrt(fmax(variance, 0.0));
}

const char *rm_ml_side_name(rm_ml_side side)
{
    switch (side) {
    case RM_ML_SIDE_MEDIAL: return "medial";
    case RM_ML_SIDE_LATERAL: return "lateral";
    case RM_ML_SIDE_UNKNOWN: return "unknown";
    case RM_ML_SIDE_CENTRE: break;
    }
    return "centre";
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

void *ana_series_block_alloc(size_t cap, unsigned channels)
{
    /* under 128 bytes a sample in all: the sizes below cannot overflow */
    if (cap == 0 || cap > SIZE_MAX / 128 || channels > RM_MAX_CHANNELS)
        return NULL;
    size_t early = ana_series_head_bytes(cap) +
                   sizeof(double) * ANA_SERIES_SPEED * cap;
    size_t channel_bytes = (sizeof(float) * channels + 1) * cap;
    size_t late_bytes = sizeof(double) *
        (2 * cap + ana_spectrogram_values(cap, SPECTROGRAM_FRAME));
    return rm_alloc_large(early + (channel_bytes > late_bytes ? channel_bytes
                                                              : late_bytes));
}

/** The arrays of s: the one block of an analysis' own series, or each
 *  array on its own (a series filled by other code). */
static void series_free(rm_series *s, void *block)
{
    if (block) {
        free(block);
    } else {
        free(s->t_s);
        free(s->force_n);
        free(s->pressure_kpa);
        free(s->position_cm);
        free(s->ml);
        free(s->speed_cm_s);
        free(s->tremor);
        free(s->loaded);
        free(s->in_gap);
    }
    memset(s, 0, sizeof *s);
}

void rm_analysis_free(rm_analysis *a)
{
    if (!a)
        return;
    if (!a->series_memory)      /* else the power lies in it */
        free(a->spectrogram.power);
    series_free(&a->series, a->series_memory);
    free(a->dwells);
    free(a->spots);
    free(a->marks);
    free(a->strokes);
    free(a->profile);
    free(a->psd);
    free((rm_gap *)a->gaps);
    free(a);
}

/** The series of ch, in the series block that a takes over from ch: the
 *  times, gap flags and encoder counts (which ana_position_fill turns into
 *  positions in place) are already there, and the channels stay there
 *  until they are combined. *spectrogram_room: where the spectrogram's
 *  power goes. */
static rm_status series_alloc(rm_analysis *a, ana_channels *ch,
                              double **spectrogram_room)
{
    /* no output yet: no block to take over */
    size_t cap = ch->series_block ? ch->cap : 1;
    void *block = ch->series_block ? ch->series_block
                                   : ana_series_block_alloc(cap, ch->count);
    if (!block)
        return RM_ERR_NOMEM;
    rm_series *s = &a->series;
    a->series_memory = block;
    s->n = ch->n;
    s->rate_hz = ch->rate_hz;
    s->t_s = ana_series_doubles(block, cap, ANA_SERIES_T_S);
    s->position_cm = ana_series_doubles(block, cap, ANA_SERIES_POSITION);
    s->in_gap = ana_series_bytes(block, cap, ANA_SERIES_IN_GAP);
    ch->series_block = NULL;
    ch->t_s = ch->encoder = NULL;
    ch->in_gap = NULL;
    s->force_n = ana_series_doubles(block, cap, ANA_SERIES_FORCE);
    s->pressure_kpa = ana_series_doubles(block, cap, ANA_SERIES_PRESSURE);
    s->ml = ana_series_doubles(block, cap, ANA_SERIES_ML);
    s->speed_cm_s = ana_series_doubles(block, cap, ANA_SERIES_SPEED);
    s->tremor = ana_series_doubles(block, cap, ANA_SERIES_TREMOR);
    s->loaded = ana_series_bytes(block, cap, ANA_SERIES_LOADED);
    *spectrogram_room = ana_series_spectrogram(block, cap);
    /* force_n to the spectrogram lie end to end: their pages in one call
     * (those the channels used are mapped already) */
    const double *end = *spectrogram_room +
                        ana_spectrogram_values(s->n, SPECTROGRAM_FRAME);
    rm_prefault(s->force_n, sizeof *end * (size_t)(end - s->force_n));
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Spectra of the conditioned force                                         */
/* ------------------------------------------------------------------------ */

static size_t pow2_at_most(size_t n, size_t cap)
{
    size_t p = 1;
    while (p * 2 <= n && p * 2 <= cap)
        p *= 2;
    return p;
}

/** The spectrogram (its power into room, for ana_spectrogram), the
 *  tremor series and the PSD of the force. */
static rm_status force_spectra(rm_analysis *a, double *room, rm_error *err)
{
    rm_series *s = &a->series;
    rm_status st = ana_spectrogram(s->force_n, s->n, s->rate_hz,
                                   SPECTROGRAM_FRAME, room, &a->spectrogram,
                                   err);
    if (st != RM_OK)
        return st;
    ana_band_power_series(&a->spectrogram, a->config.tremor_lo_hz,
                          a->config.tremor_hi_hz, s->n, s->rate_hz, s->tremor);
    size_t nfft = pow2_at_most(s->n, PSD_SEGMENT);
    if (nfft < 16)
        return RM_OK;      /* too short for a spectrum */
    a->psd = malloc(sizeof *a->psd * (nfft / 2 + 1));
    if (!a->psd)
        return rm_error_set(err, RM_ERR_NOMEM, "PSD: out of memory");
    double mean = 0.0;
    for (size_t i = 0; i < s->n; i++)
        mean += s->force_n[i];
    mean /= (double)s->n;
    st = ana_welch_psd_about(s->force_n, NULL, s->n, mean, s->rate_hz, nfft,
                             a->psd, err);
    if (st == RM_OK) {
        a->psd_bins = nfft / 2 + 1;
        a->psd_df_hz = s->rate_hz / (double)nfft;
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Marks: button presses and mark events merged                             */
/* ------------------------------------------------------------------------ */

typedef struct mark_list {
    double *t_s;
    int *rating;
    size_t count;
} mark_list;

static rm_status merge_marks(const ana_raw_stats *raw, const rm_event *events,
                             size_t n_events, mark_list *out)
{
    size_t cap = raw->mark_count + n_events + 1;
    out->t_s = malloc(sizeof *out->t_s * cap);
    out->rating = malloc(sizeof *out->rating * cap);
    out->count = 0;
    if (!out->t_s || !out->rating)
        return RM_ERR_NOMEM;
    for (size_t e = 0; e < n_events; e++) {
        if (events[e].kind != RM_EVENT_MARK)
            continue;
        int rating = events[e].value >= 0 && events[e].value <= 10
                         ? events[e].value : -1;
        out->t_s[out->count] = (double)(int64_t)(events[e].t_us - raw->t0_us)
                               / 1e6;
        out->rating[out->count++] = rating;
    }
    size_t from_events = out->count;
    for (size_t k = 0; k < raw->mark_count; k++) {
        bool known = false;
        for (size_t e = 0; e < from_events && !known; e++)
            known = fabs(out->t_s[e] - raw->mark_t_s[k]) <= SAME_MARK_S;
        if (!known) {
            out->t_s[out->count] = raw->mark_t_s[k];
            out->rating[out->count++] = -1;
        }
    }
    /* Time order (insertion sort: marks are few). */
    for (size_t i = 1; i < out->count; i++)
        for (size_t j = i; j > 0 && out->t_s[j] < out->t_s[j - 1]; j--) {
            double t = out->t_s[j];
            int r = out->rating[j];
            out->t_s[j] = out->t_s[j - 1], out->rating[j] = out->rating[j - 1];
            out->t_s[j - 1] = t, out->rating[j - 1] = r;
        }
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Summary and quality                                                      */
/* ------------------------------------------------------------------------ */

static void fill_force_summary(rm_analysis *a)
{
    const rm_series *s = &a->series;
    rm_summary *m = &a->summary;
    double force = 0.0, kpa = 0.0, dt = 1.0 / s->rate_hz;
    size_t loaded = 0;
    /* Running values in locals, not through m (which the compiler must
     * assume the series might alias): no store and reload per sample. */
    double too_fast_s = m->time_too_fast_s;
    m->peak_force_n = ana_peak_from_zero(s->force_n, s->n);
    m->peak_pressure_kpa = a->has_pressure
                               ? ana_peak_from_zero(s->pressure_kpa, s->n)
                               : NAN;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->loaded[i])
            continue;
        loaded++;
        force += s->force_n[i];
        kpa += s->pressure_kpa[i];
        if (a->has_position &&
            fabs(s->speed_cm_s[i]) > a->config.target_speed_cm_s)
            too_fast_s += dt;
    }
    m->time_too_fast_s = too_fast_s;
    m->time_under_load_s = (double)loaded * dt;
    m->mean_force_n = loaded ? force / (double)loaded : 0.0;
    m->mean_pressure_kpa = !a->has_pressure ? NAN
                           : loaded ? kpa / (double)loaded : 0.0;
}

static void fill_stroke_summary(rm_analysis *a, const rm_stroke *passes,
                                size_t pass_count)
{
    rm_summary *m = &a->summary;
    double distance = 0.0, time = 0.0;
    for (size_t k = 0; k < pass_count; k++) {
        distance += fabs(passes[k].to_cm - passes[k].from_cm);
        time += passes[k].end_s - passes[k].start_s;
    }
    m->strokes = a->stroke_count;
    m->cadence_per_min = ana_cadence_per_min(passes, pass_count);
    m->mean_speed_cm_s = time > 0.0 ? distance / time
                                    : a->has_position ? 0.0 : NAN;
}

/** Age in days of the oldest dated channel calibration at session start. */
static double calibration_age_days(const rm_device_info *info,
                                   const rm_session_meta *meta)
{
    int64_t oldest = 0;
    for (unsigned k = 0; k < info->channel_count; k++) {
        int64_t d = info->channels[k].cal.date_unix;
        if (d > 0 && (oldest == 0 || d < oldest))
            oldest = d;
    }
    if (oldest == 0 || meta->start_unix_us <= 0)
        return NAN;
    return ((double)meta->start_unix_us / 1e6 - (double)oldest) / 86400.0;
}

static void fill_quality(rm_analysis *a, const ana_raw_stats *raw,
                         const rm_gap *gaps, size_t n_gaps)
{
    rm_quality *q = &a->quality;
    if (n_gaps > 0) {
        q->gaps = n_gaps;
        for (size_t k = 0; k < n_gaps; k++) {
            q->gap_s += (double)(gaps[k].end_us - gaps[k].start_us) / 1e6;
            q->lost_samples += gaps[k].lost_samples;
        }
    } else {
        q->gaps = raw->gaps;
        q->gap_s = raw->gap_s;
        q->lost_samples = raw->filled;
    }
    q->saturation_pct = raw->samples
        ? 100.0 * (double)raw->saturated / (double)raw->samples : 0.0;
    q->calibration_age_days = calibration_age_days(&a->device, &a->meta);
    q->calibration_stale = q->calibration_age_days >
                           a->config.calibration_max_days;
    q->mains_hum_removed = raw->hum_removed;
    q->mains_hz = raw->hum_hz;
    q->link = a->meta.link;
    q->crc_errors = q->link.crc_errors;
}

static rm_status copy_gaps(rm_analysis *a, const rm_gap *gaps, size_t n)
{
    if (n == 0)
        return RM_OK;
    rm_gap *copy = malloc(sizeof *copy * n);
    if (!copy)
        return RM_ERR_NOMEM;
    memcpy(copy, gaps, sizeof *copy * n);
    a->gaps = copy;
    a->gap_count = n;
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* From conditioned channels to the whole analysis                          */
/* ------------------------------------------------------------------------ */

typedef struct session_parts {
    const rm_device_info *info;
    const rm_session_meta *meta;
    const rm_event *events;
    size_t n_events;
    const rm_gap *gaps;
    size_t n_gaps;
} session_parts;

static rm_status derive(rm_analysis *a, const session_parts *p,
                        ana_channels *ch, const ana_raw_stats *raw,
                        rm_error *err)
{
    double *spectrogram_room;
    if (series_alloc(a, ch, &spectrogram_room) != RM_OK ||
        copy_gaps(a, p->gaps, p->n_gaps) != RM_OK)
        return rm_error_set(err, RM_ERR_NOMEM, "analysis: out of memory");
    ana_combine_channels(p->info, &a->config, ch, &a->series);
    /* The tremor series is filled from the spectrogram later; until then
     * its memory is the position's scratch (a fresh array of the series'
     * length would cost its first touch of every page again). */
    a->summary.rolled_length_cm = ana_position_fill(p->info, p->meta,
                                                    &a->series,
                                                    a->series.tremor);
    if (a->summary.rolled_length_cm > LONGEST_ROLL_CM)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "rolled length %.0f cm is no body segment: check "
                            "the device's encoder_counts_per_turn (%u) and "
                            "roller_diameter_mm (%g)",
                            a->summary.rolled_length_cm,
                            p->info->encoder_counts_per_turn,
                            (double)p->info->roller_diameter_mm);
    rm_status st = force_spectra(a, spectrogram_room, err);
    rm_stroke *passes = NULL;
    size_t pass_count = 0;
    if (st == RM_OK)
        st = ana_find_passes(&a->series, &passes, &pass_count, err);
    if (st == RM_OK)
        st = ana_distal_strokes(passes, pass_count, &a->strokes,
                                &a->stroke_count, err);
    mark_list marks = {0};
    if (st == RM_OK && merge_marks(raw, p->events, p->n_events, &marks))
        st = rm_error_set(err, RM_ERR_NOMEM, "marks: out of memory");
    if (st == RM_OK)
        st = ana_find_dwells(&a->series, a->has_position,
                             a->summary.rolled_length_cm, &a->config,
                             marks.t_s, marks.count, &a->dwells,
                             &a->dwell_count, err);
    if (st == RM_OK)
        st = ana_find_spots(a, passes, pass_count, marks.t_s, marks.rating,
                            marks.count, err);
    if (st == RM_OK)
        st = ana_rhythm(a, err);
    if (st == RM_OK) {
        a->summary.duration_s = raw->duration_s;
        a->summary.vibration_hz = raw->vibration_hz;
        fill_force_summary(a);
        fill_stroke_summary(a, passes, pass_count);
        fill_quality(a, raw, p->gaps, p->n_gaps);
    }
    free(passes);
    free(marks.t_s);
    free(marks.rating);
    return st;
}

static rm_status check_config(const rm_analysis_config *c, rm_error *err)
{
    struct { const char *name; double value; } positive[] = {
        {"analysis_rate_hz", c->analysis_rate_hz},
        {"dwell_radius_cm", c->dwell_radius_cm},
        {"dwell_min_s", c->dwell_min_s},
        {"target_hold_s", c->target_hold_s},
        {"profile_bin_cm", c->profile_bin_cm},
        {"spot_merge_cm", c->spot_merge_cm},
    };
    for (size_t k = 0; k < sizeof positive / sizeof positive[0]; k++)
        if (!(positive[k].value > 0.0))
            return rm_error_set(err, RM_ERR_ARG,
                                "analysis config: %s = %g, must be > 0",
                                positive[k].name, positive[k].value);
    if (!(c->tremor_hi_hz > c->tremor_lo_hz))
        return rm_error_set(err, RM_ERR_ARG,
                            "analysis config: tremor band %g-%g Hz is empty",
                            c->tremor_lo_hz, c->tremor_hi_hz);
    return RM_OK;
}

/** The defaults when *cfg is NULL; then the values are checked. */
static rm_status resolve_config(const rm_analysis_config **cfg,
                                rm_analysis_config *defaults, rm_error *err)
{
    if (!*cfg) {
        rm_analysis_config_default(defaults);
        *cfg = defaults;
    }
    return check_config(*cfg, err);
}

/** Finish the conditioner and derive everything into a new analysis. */
static rm_status conclude(ana_conditioner *c, const session_parts *p,
                          const rm_analysis_config *cfg, rm_analysis **out,
                          rm_error *err)
{
    ana_channels ch;
    ana_raw_stats raw;
    rm_status st = ana_conditioner_finish(c, &ch, &raw, err);
    if (st != RM_OK)
        return st;
    rm_analysis *a = calloc(1, sizeof *a);
    if (!a)
        st = rm_error_set(err, RM_ERR_NOMEM, "analysis: out of memory");
    if (a) {
        a->device = *p->info;
        a->meta = *p->meta;
        a->config = *cfg;
        a->has_position = ana_mm_per_count(p->info) > 0.0 &&
                          p->info->device_kind == RM_DEVICE_ROLLER;
        a->has_pressure = ana_has_pressure_cells(p->info);
        st = derive(a, p, &ch, &raw, err);
    }
    ana_channels_free(&ch);
    ana_raw_stats_free(&raw);
    if (st != RM_OK) {
        rm_analysis_free(a);
        return st;
    }
    *out = a;
    return RM_OK;
}

static size_t prefix_length(const rm_device_info *info, size_t available)
{
    size_t want = (size_t)(HUM_PREFIX_S * info->sample_rate_hz);
    return want < available ? want : available;
}

rm_status rm_analyse_samples(const rm_device_info *info,
                             const rm_session_meta *meta,
                             const rm_sample *samples, size_t n,
                             const rm_event *events, size_t n_events,
                             const rm_gap *gaps, size_t n_gaps,
                             const rm_analysis_config *cfg,
                             rm_analysis **out, rm_error *err)
{
    rm_analysis_config defaults;
    rm_session_meta no_meta = {0};
    *out = NULL;
    rm_status st = resolve_config(&cfg, &defaults, err);
    if (st != RM_OK)
        return st;
    if (n == 0)
        return rm_error_set(err, RM_ERR_FORMAT, "session has no samples");
    session_parts parts = {info, meta ? meta : &no_meta, events, n_events,
                           gaps, n_gaps};
    ana_conditioner *c;
    st = ana_conditioner_new(&c, info, cfg, samples, prefix_length(info, n),
                             n, err);
    if (st != RM_OK)
        return st;
    st = ana_conditioner_push(c, samples, n, err);
    if (st != RM_OK) {
        ana_conditioner_free(c);
        return st;
    }
    return conclude(c, &parts, cfg, out, err);
}

/* ------------------------------------------------------------------------ */
/* From a session file                                                      */
/* ------------------------------------------------------------------------ */

/** cols from index `at` on, as columns of their own. */
static rm_sample_columns columns_from(const rm_sample_columns *cols, size_t at)
{
    rm_sample_columns rest = *cols;
    rest.t_us += at;
    rest.flags += at;
    rest.encoder += at;
    for (unsigned k = 0; k < cols->channels; k++)
        rest.counts[k] += at;
    rest.cap -= at;
    return rest;
}

/** The first cols->cap samples of s (fewer when s has fewer) into cols. */
static rm_status read_prefix(rm_session *s, rm_sample_columns *cols,
                             size_t *got, rm_error *err)
{
    *got = 0;
    while (*got < cols->cap) {
        rm_sample_columns rest = columns_from(cols, *got);
        size_t more;
        rm_status st = rm_session_read_columns(s, *got, &rest, &more, err);
        if (st != RM_OK || more == 0)
            return st;
        *got += more;
    }
    return RM_OK;
}

/** A new conditioner, with the first seconds of s (read into cols, whose
 *  room is enough for them) for its hum detection. */
static rm_status conditioner_for(rm_session *s, const rm_analysis_config *cfg,
                                 rm_sample_columns *cols,
                                 ana_conditioner **out, rm_error *err)
{
    const rm_device_info *info = rm_session_device(s);
    rm_sample_columns prefix = *cols;
    prefix.cap = prefix_length(info, rm_session_sample_count(s));
    size_t got;
    *out = NULL;
    rm_status st = read_prefix(s, &prefix, &got, err);
    if (st == RM_OK)
        st = ana_conditioner_new_columns(out, info, cfg, &prefix, got,
                                         rm_session_sample_count(s), err);
    return st;
}

/** Stream every sample of s through a new conditioner, a run of the
 *  file's blocks at a time, decoded into cols. */
static rm_status condition_file(rm_session *s, const rm_analysis_config *cfg,
                                rm_sample_columns *cols,
                                ana_conditioner **out, rm_error *err)
{
    size_t got = 0;
    rm_status st = conditioner_for(s, cfg, cols, out, err);
    for (uint64_t at = 0; st == RM_OK; at += got) {
        st = rm_session_read_columns(s, at, cols, &got, err);
        if (st != RM_OK || got == 0)
            break;
        st = ana_conditioner_push_columns(*out, cols, got, err);
    }
    if (st != RM_OK) {
        ana_conditioner_free(*out);
        *out = NULL;
    }
    return st;
}

rm_status rm_analyse_session(rm_session *s, const rm_analysis_config *cfg,
                             rm_analysis **out, rm_error *err)
{
    rm_analysis_config defaults;
    *out = NULL;
    rm_status st = resolve_config(&cfg, &defaults, err);
    if (st != RM_OK)
        return st;
    if (rm_session_sample_count(s) == 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: session has no samples",
                            rm_session_path(s));
    rm_sample_columns cols;
    size_t prefix = prefix_length(rm_session_device(s),
                                  rm_session_sample_count(s));
    st = rm_sample_columns_alloc(&cols, rm_session_device(s)->channel_count,
                                 prefix > READ_CHUNK ? prefix : READ_CHUNK,
                                 err);
    if (st != RM_OK)
        return st;
    ana_conditioner *c = NULL;
    st = condition_file(s, cfg, &cols, &c, err);
    if (st == RM_ERR_CRC) {
        /* A damaged block: drop every bad block once, then start over. */
        st = rm_session_verify(s, err);
        if (st == RM_OK)
            st = condition_file(s, cfg, &cols, &c, err);
    }
    rm_sample_columns_free(&cols);
    if (st != RM_OK)
        return st;
    session_parts parts = {rm_session_device(s), rm_session_meta_of(s), NULL,
                           0, NULL, 0};
    parts.events = rm_session_events(s, &parts.n_events);
    parts.gaps = rm_session_gaps(s, &parts.n_gaps);
    st = conclude(c, &parts, cfg, out, err);
    if (st == RM_OK)
        (*out)->quality.blocks_skipped = rm_session_integrity(s)->blocks_skipped;
    return st;
}
