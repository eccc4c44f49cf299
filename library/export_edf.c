/*
 * EDF+ export of a session through EDFlib (docs/LIBRARY.md, "Exports").
 *
 * Signals: each channel in newtons, the total force and, with an encoder,
 * the position along the leg in cm, all at the device's sample rate in
 * data records of 1 s. Samples go onto the record grid by their time
 * stamps; grid places without a sample of their own (gaps, the tail of
 * the last record) hold the last value, and each recorded gap is also a
 * "gap" annotation. A data record with no sample at all (inside a gap) is
 * left out: EDFlib writes the others in sequence as EDF+C, and the file
 * is then patched into EDF+D (make_discontinuous below). With
 * RM_EDF_CONTIGUOUS such records are written too, held flat, and the
 * file stays EDF+C.
 *
 * Two passes over the samples: the first finds each signal's range (the
 * EDF physical minimum and maximum) and the offset that puts the position
 * in the analysis's frame (0 cm = the proximal end); the second writes.
 */
#include "rollmap_library.h"

#include <edflib.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 4096           /* samples read per rm_session_read */
#define EDF_DIGITAL_MIN (-32768)  /* 16-bit EDF samples */
#define EDF_DIGITAL_MAX 32767
#define HEADROOM_FRACTION 0.05    /* room beyond the data at either end */
#define MIN_HEADROOM 1.0          /* N or cm: keeps a flat signal's range */
#define MAX_SIGNALS (RM_MAX_CHANNELS + 2) /* channels, total, position */
/* EDFlib stores one annotation per annotation signal and data record, in
 * at most 64 annotation signals, and keeps 40 bytes of each text. */
#define MAX_ANNOTATION_SIGNALS 64
#define ANNOTATION_TEXT 41
/* EDFlib refuses data records above 10 MByte (edflib.h). */
#define MAX_RECORD_BYTES (10L * 1024 * 1024)
#define EDF_TICKS_PER_S 10000.0   /* annotation times: units of 100 us */
#define EDF_FIRST_YEAR 1985       /* the EDF date field spans 1985-2084 */
#define EDF_LAST_YEAR 2084
#define SUBSECOND_UNITS_PER_US 10 /* start subseconds: units of 100 ns */
#define SUBSECOND_STEP_US 100     /* EDFlib advises 100 us resolution */

typedef struct edf_signal {
    char label[17];               /* EDF: 16 characters */
    const char *dimension;
    char transducer[81];          /* EDF: 80 characters */
    double min, max;              /* of the data, then with headroom */
} edf_signal;

typedef struct edf_annotation {
    double onset_s, duration_s;   /* duration < 0: none */
    size_t order;                 /* as added, to keep ties in order */
    char text[ANNOTATION_TEXT];
} edf_annotation;

typedef struct edf_export {
    rm_session *session;
    const rm_device_info *info;
    const rm_analysis *analysis;
    const char *path;             /* for messages */
    double cm_per_count;          /* 0 without an encoder */
    double position_zero_cm;      /* subtracted: 0 cm = proximal end */
    rm_channel_kind total_kind;   /* the channels that add up to the total */
    unsigned signal_count;
    edf_signal signals[MAX_SIGNALS];
    uint32_t rate;
    uint64_t first_us;
    uint64_t written_records;     /* grid records with a sample */
    uint64_t *record_numbers;     /* written_records: each one's place */
    uint64_t written_count;       /* records written so far */
    bool contiguous;              /* RM_EDF_CONTIGUOUS: write every record */
    bool discontinuous;           /* records left out: EDF+D */
    edf_annotation *annotations;
    size_t annotation_count, annotation_cap;
    rm_sample *chunk;
    double *record;               /* signal_count x rate, signal-major */
    int *digital;                 /* the record as written */
    uint8_t *filled;              /* rate: the place got a sample */
    double held[MAX_SIGNALS];     /* last value written per signal */
    uint64_t held_samples;
    int handle;
} edf_export;

/* ------------------------------------------------------------------------ */
/* Signal values                                                            */
/* ------------------------------------------------------------------------ */

static bool has_load_cells(const rm_device_info *info)
{
    for (unsigned k = 0; k < info->channel_count; k++)
        if (info->channels[k].kind == RM_CHANNEL_LOAD_CELL)
            return true;
    return false;
}

static double raw_position_cm(const edf_export *x, const rm_sample *s)
{
    return s->encoder * x->cm_per_count;
}

/* The value of every signal for one sample, in signal order; returns how
 * many signals that is (x->signal_count). */
static unsigned sample_values(const edf_export *x, const rm_sample *s, double *v)
{
    double total = 0.0;
    unsigned n = x->info->channel_count;
    for (unsigned k = 0; k < n; k++) {
        v[k] = rm_channel_newtons(&x->info->channels[k], s->counts[k]);
        if (x->info->channels[k].kind == x->total_kind)
            total += v[k];
    }
    v[n] = total;
    if (x->cm_per_count == 0.0)
        return n + 1;
    v[n + 1] = raw_position_cm(x, s) - x->position_zero_cm;
    return n + 2;
}

/* Place of a sample on the grid of the device's sample rate. */
static uint64_t grid_index(const edf_export *x, uint64_t t_us)
{
    if (t_us < x->first_us)
        return 0;
    double at = (double)(t_us - x->first_us) * x->rate / 1e6;
    return (uint64_t)llround(at);
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */
/* ------------------------------------------------------------------------ */

static void describe_channel(edf_signal *sig, unsigned k,
                             const rm_channel_info *ch)
{
    snprintf(sig->label, sizeof sig->label, "Force ch%u", k);
    sig->dimension = "N";
    if (ch->kind == RM_CHANNEL_PRESSURE_CELL)
        snprintf(sig->transducer, sizeof sig->transducer,
                 "pressure cell %.0f mm2 at %.1f mm", ch->area_mm2,
                 ch->position_mm);
    else
        snprintf(sig->transducer, sizeof sig->transducer,
                 "load cell at %.1f mm", ch->position_mm);
}

static void describe_signals(edf_export *x)
{
    unsigned n = x->info->channel_count;
    for (unsigned k = 0; k < n; k++)
        describe_channel(&x->signals[k], k, &x->info->channels[k]);
    edf_signal *total = &x->signals[n];
    snprintf(total->label, sizeof total->label, "Force total");
    total->dimension = "N";
    snprintf(total->transducer, sizeof total->transducer, "sum of the %s",
             x->total_kind == RM_CHANNEL_LOAD_CELL ? "load cells"
                                                   : "pressure cells");
    x->signal_count = n + 1;
    if (x->cm_per_count != 0.0) {
        edf_signal *pos = &x->signals[n + 1];
        snprintf(pos->label, sizeof pos->label, "Position");
        pos->dimension = "cm";
        snprintf(pos->transducer, sizeof pos->transducer,
                 "encoder, 0 cm = proximal end, + distal");
        x->signal_count = n + 2;
    }
    for (unsigned i = 0; i < x->signal_count; i++) {
        x->signals[i].min = INFINITY;
        x->signals[i].max = -INFINITY;
    }
}

/* Widen each range by its headroom and round it outward to whole units:
 * the EDF header keeps 8 characters of each limit, and a limit it must
 * shorten would scale every value read back. */
static void add_headroom(edf_export *x)
{
    for (unsigned i = 0; i < x->signal_count; i++) {
        edf_signal *sig = &x->signals[i];
        double room = fmax(HEADROOM_FRACTION * (sig->max - sig->min),
                           MIN_HEADROOM);
        sig->min = floor(sig->min - room);
        sig->max = ceil(sig->max + room);
    }
}

/* ------------------------------------------------------------------------ */
/* First pass: ranges, grid length and the position's zero                  */
/* ------------------------------------------------------------------------ */

/* Median of the finite values of v[0..n) (sorts them); 0 when none. */
static double finite_median(double *v, size_t n)
{
    size_t m = rm_keep_finite(v, n);
    return m ? rm_median_inplace(v, m) : 0.0;
}

/* For the sample nearest each point of the analysis series, how far its
 * encoder position lies from the analysis's position (the analysis puts
 * 0 cm at the proximal end it found). */
static void note_position_offset(const edf_export *x, const rm_sample *s,
                                 double *offsets)
{
    const rm_series *series = &x->analysis->series;
    double t_s = ((double)s->t_us - (double)x->first_us) / 1e6;
    double at = round(t_s * series->rate_hz);
    if (at < 0 || at >= (double)series->n)
        return;
    size_t j = (size_t)at;
    offsets[j] = raw_position_cm(x, s) - series->position_cm[j];
}

static void note_ranges(edf_export *x, const rm_sample *s)
{
    double v[MAX_SIGNALS];
    unsigned signals = sample_values(x, s, v);
    for (unsigned i = 0; i < signals; i++) {
        x->signals[i].min = fmin(x->signals[i].min, v[i]);
        x->signals[i].max = fmax(x->signals[i].max, v[i]);
    }
}

static rm_status scan_samples(edf_export *x, double *offsets, rm_error *err)
{
    uint64_t count = rm_session_sample_count(x->session), at = 0;
    uint64_t record = 0;
    x->written_records = 1;
    while (at < count) {
        size_t got = 0;
        rm_status st = rm_session_read(x->session, at, x->chunk, READ_CHUNK,
                                       &got, err);
        if (st != RM_OK)
            return st;
        for (size_t i = 0; i < got; i++) {
            note_ranges(x, &x->chunk[i]);
            if (offsets)
                note_position_offset(x, &x->chunk[i], offsets);
            uint64_t r = grid_index(x, x->chunk[i].t_us) / x->rate;
            x->written_records += r > record;
            record = r > record ? r : record;
        }
        at += got;
    }
    if (x->contiguous)
        x->written_records = record + 1;
    x->discontinuous = record + 1 != x->written_records;
    return RM_OK;
}

/* The position offset is found with the ranges: it shifts the position's
 * range once known. */
static rm_status first_pass(edf_export *x, rm_error *err)
{
    const rm_series *series = &x->analysis->series;
    bool want_offset = x->cm_per_count != 0.0 && x->analysis->has_position &&
                       series->n > 0;
    double *offsets = NULL;
    if (want_offset) {
        offsets = malloc(sizeof *offsets * series->n);
        if (!offsets)
            return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", x->path);
        for (size_t j = 0; j < series->n; j++)
            offsets[j] = NAN;
    }
    rm_status st = scan_samples(x, offsets, err);
    if (offsets) {
        x->position_zero_cm = finite_median(offsets, series->n);
        edf_signal *pos = &x->signals[x->info->channel_count + 1];
        pos->min -= x->position_zero_cm;
        pos->max -= x->position_zero_cm;
    }
    free(offsets);
    add_headroom(x);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Annotations                                                              */
/* ------------------------------------------------------------------------ */

/* Add an annotation whose text is printed from fmt (cut to what EDFlib
 * keeps). */
static rm_status add_annotation(edf_export *x, double onset_s,
                                double duration_s, rm_error *err,
                                const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static rm_status add_annotation(edf_export *x, double onset_s,
                                double duration_s, rm_error *err,
                                const char *fmt, ...)
{
    if (x->annotation_count == x->annotation_cap) {
        size_t cap = x->annotation_cap ? 2 * x->annotation_cap : 64;
        edf_annotation *a = realloc(x->annotations, cap * sizeof *a);
        if (!a)
            return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", x->path);
        x->annotations = a;
        x->annotation_cap = cap;
    }
    edf_annotation *a = &x->annotations[x->annotation_count++];
    a->onset_s = onset_s;
    a->duration_s = duration_s;
    a->order = x->annotation_count - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text, sizeof a->text, fmt, ap);
    va_end(ap);
    return RM_OK;
}

/* " 14.0 cm medial", " 14.0 cm" when the side is unknown, or "" without
 * a position. */
static void format_place(char *out, size_t cap, double position_cm,
                         uint8_t ml_side)
{
    if (!isfinite(position_cm))
        out[0] = '\0';
    else if (ml_side == RM_ML_SIDE_UNKNOWN)
        snprintf(out, cap, " %.1f cm", position_cm);
    else
        snprintf(out, cap, " %.1f cm %s", position_cm,
                 rm_ml_side_name((rm_ml_side)ml_side));
}

static rm_status annotate_dwells(edf_export *x, rm_error *err)
{
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < x->analysis->dwell_count; i++) {
        const rm_dwell *d = &x->analysis->dwells[i];
        char place[48];
        format_place(place, sizeof place, d->position_cm, d->side);
        st = add_annotation(x, d->start_s, d->duration_s, err, "dwell%s", place);
    }
    return st;
}

static rm_status annotate_marks(edf_export *x, rm_error *err)
{
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < x->analysis->mark_count; i++) {
        const rm_mark *m = &x->analysis->marks[i];
        char rating[16] = "", place[32] = "";
        if (m->rating >= 0)
            snprintf(rating, sizeof rating, " %d/10", m->rating);
        if (isfinite(m->position_cm))
            snprintf(place, sizeof place, " at %.1f cm", m->position_cm);
        st = add_annotation(x, m->t_s, -1.0, err, "mark%s%s", rating, place);
    }
    return st;
}

/* When a tender spot first showed: its first mark or the first dwell on
 * it, else the first loaded moment over it, else the session start. */
static double spot_onset_s(const rm_analysis *a, size_t spot)
{
    const rm_spot *sp = &a->spots[spot];
    double reach = a->config.spot_merge_cm, onset = INFINITY;
    for (size_t i = 0; i < a->mark_count; i++)
        if (a->marks[i].spot == (int)spot)
            onset = fmin(onset, a->marks[i].t_s);
    for (size_t i = 0; i < a->dwell_count; i++)
        if (fabs(a->dwells[i].position_cm - sp->position_cm) <= reach)
            onset = fmin(onset, a->dwells[i].start_s);
    for (size_t i = 0; !isfinite(onset) && i < a->series.n; i++)
        if (a->series.loaded[i] &&
            fabs(a->series.position_cm[i] - sp->position_cm) <= reach)
            onset = a->series.t_s[i];
    return isfinite(onset) ? onset : 0.0;
}

static rm_status annotate_spots(edf_export *x, rm_error *err)
{
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < x->analysis->spot_count; i++) {
        const rm_spot *sp = &x->analysis->spots[i];
        char place[48];
        format_place(place, sizeof place, sp->position_cm, sp->side);
        st = add_annotation(x, spot_onset_s(x->analysis, i), -1.0, err,
                            "tender spot%s score %.1f", place, sp->score);
    }
    return st;
}

static rm_status annotate_gaps(edf_export *x, rm_error *err)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(x->session, &n);
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < n; i++) {
        double onset = ((double)gaps[i].start_us - (double)x->first_us) / 1e6;
        double duration = (double)(gaps[i].end_us - gaps[i].start_us) / 1e6;
        st = add_annotation(x, fmax(onset, 0.0), duration, err,
                            "gap %s, %llu samples lost",
                            rm_gap_reason_name((rm_gap_reason)gaps[i].reason),
                            (unsigned long long)gaps[i].lost_samples);
    }
    return st;
}

/* By onset; of two at the same time, the one added first. */
static int compare_annotations(const void *pa, const void *pb)
{
    const edf_annotation *a = pa, *b = pb;
    if (a->onset_s != b->onset_s)
        return a->onset_s < b->onset_s ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* Readers list annotations in file order: write them in time order. */
static rm_status collect_annotations(edf_export *x, rm_error *err)
{
    rm_status st = annotate_dwells(x, err);
    if (st == RM_OK)
        st = annotate_marks(x, err);
    if (st == RM_OK)
        st = annotate_spots(x, err);
    if (st == RM_OK)
        st = annotate_gaps(x, err);
    if (st == RM_OK && x->annotation_count > 1)
        qsort(x->annotations, x->annotation_count, sizeof *x->annotations,
              compare_annotations);
    return st;
}

/* Annotation signals for the annotations, one per record each. */
static rm_status annotation_signals(const edf_export *x, int *out,
                                    rm_error *err)
{
    uint64_t records = x->written_records;
    uint64_t need = (x->annotation_count + records - 1) / records;
    if (need > MAX_ANNOTATION_SIGNALS)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: %zu annotations do not fit in %llu s of "
                            "EDF+ (at most %d a second)", x->path,
                            x->annotation_count, (unsigned long long)records,
                            MAX_ANNOTATION_SIGNALS);
    *out = need > 0 ? (int)need : 1;
    return RM_OK;
}

static rm_status write_annotations(edf_export *x, rm_error *err)
{
    for (size_t i = 0; i < x->annotation_count; i++) {
        const edf_annotation *a = &x->annotations[i];
        long long onset = llround(a->onset_s * EDF_TICKS_PER_S);
        long long duration = a->duration_s < 0
                                 ? -1 : llround(a->duration_s * EDF_TICKS_PER_S);
        if (edfwrite_annotation_utf8(x->handle, onset, duration, a->text) != 0)
            return rm_error_set(err, RM_ERR_IO, "%s: EDFlib refused the "
                                "annotation \"%s\"", x->path, a->text);
    }
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Header                                                                   */
/* ------------------------------------------------------------------------ */

/* The start of the recording in UTC; an unknown start or one outside the
 * EDF date range becomes 1985-01-01 00:00:00, EDF's anonymous date. */
static bool start_in_range(int64_t start_unix_us, struct tm *tm)
{
    time_t secs = (time_t)(start_unix_us / 1000000);
    return start_unix_us > 0 && gmtime_r(&secs, tm) &&
           tm->tm_year + 1900 >= EDF_FIRST_YEAR &&
           tm->tm_year + 1900 <= EDF_LAST_YEAR;
}

static bool start_is_known(int64_t start_unix_us)
{
    struct tm tm;
    return start_in_range(start_unix_us, &tm);
}

/* The start's sub-second part in EDFlib's units of 100 ns, at the 100 us
 * resolution EDFlib advises. */
static int subsecond_units(int64_t start_unix_us)
{
    int64_t us = start_unix_us % 1000000;
    return (int)(us / SUBSECOND_STEP_US * SUBSECOND_STEP_US *
                 SUBSECOND_UNITS_PER_US);
}

static int set_start(int handle, int64_t start_unix_us)
{
    struct tm tm;
    if (!start_in_range(start_unix_us, &tm))
        return edf_set_startdatetime(handle, EDF_FIRST_YEAR, 1, 1, 0, 0, 0);
    int rc = edf_set_startdatetime(handle, tm.tm_year + 1900, tm.tm_mon + 1,
                                   tm.tm_mday, tm.tm_hour, tm.tm_min,
                                   tm.tm_sec);
    return rc ? rc : edf_set_subsecond_starttime(handle,
                                                 subsecond_units(start_unix_us));
}

/* The session's start within its second, as the file gives it (units of
 * 100 ns); 0 for an unknown start. */
static long long start_subsecond_units(rm_session *s)
{
    int64_t start_unix_us = rm_session_meta_of(s)->start_unix_us;
    return start_is_known(start_unix_us) ? subsecond_units(start_unix_us) : 0;
}

/* Of the recording field's 80 characters EDFlib fills at most 66 (found
 * by trying); "Startdate dd-MMM-yyyy", admincode and technician ("X"
 * each) take 26 with their spaces, and one more separates the equipment
 * from the additional text. */
#define EDF_RECORDING_FIELD 66
#define EDF_RECORDING_FIXED 27

/* "model/serial" in at most cap - 1 characters: the model gives way
 * first, as the serial names the device. */
static void format_equipment(char *out, size_t cap, const rm_device_info *d)
{
    const char *model = d->model[0] ? d->model : "unknown";
    const char *serial = d->serial[0] ? d->serial : "unknown";
    int room = (int)cap - 1 - (int)strlen(serial) - 1;
    if (room > 0)
        snprintf(out, cap, "%.*s/%s", room, model, serial);
    else
        snprintf(out, cap, "%s", serial);
}

/* Patient: the pseudonymous client code only (never a name). Recording:
 * the device (model and serial), then the leg side and muscle. */
static int set_identity(const edf_export *x)
{
    const rm_session_meta *m = rm_session_meta_of(x->session);
    char additional[64], equipment[EDF_RECORDING_FIELD];
    snprintf(additional, sizeof additional, "%s %s",
             rm_side_name((rm_side)m->side),
             m->muscle[0] ? m->muscle : "hamstring");
    size_t room = EDF_RECORDING_FIELD - EDF_RECORDING_FIXED - strlen(additional);
    format_equipment(equipment, room + 1, x->info);
    int rc = edf_set_patientcode(x->handle, m->client[0] ? m->client : "X");
    rc = rc ? rc : edf_set_equipment(x->handle, equipment);
    rc = rc ? rc : edf_set_recording_additional(x->handle, additional);
    return rc ? rc : set_start(x->handle, m->start_unix_us);
}

static int set_signal(int handle, int i, const edf_signal *sig, uint32_t rate)
{
    int rc = edf_set_samplefrequency(handle, i, (int)rate);
    rc = rc ? rc : edf_set_physical_maximum(handle, i, sig->max);
    rc = rc ? rc : edf_set_physical_minimum(handle, i, sig->min);
    rc = rc ? rc : edf_set_digital_maximum(handle, i, EDF_DIGITAL_MAX);
    rc = rc ? rc : edf_set_digital_minimum(handle, i, EDF_DIGITAL_MIN);
    rc = rc ? rc : edf_set_label(handle, i, sig->label);
    rc = rc ? rc : edf_set_physical_dimension(handle, i, sig->dimension);
    return rc ? rc : edf_set_transducer(handle, i, sig->transducer);
}

static const char *edflib_open_error(int code)
{
    switch (code) {
    case EDFLIB_MALLOC_ERROR: return "out of memory";
    case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "cannot open for writing";
    case EDFLIB_MAXFILES_REACHED: return "too many EDF files open";
    case EDFLIB_FILE_ALREADY_OPENED: return "already open";
    case EDFLIB_NUMBER_OF_SIGNALS_INVALID: return "invalid number of signals";
    default: return "EDFlib could not create it";
    }
}

static rm_status open_edf(edf_export *x, const char *tmp_path, rm_error *err)
{
    int annot_signals = 1;
    rm_status st = annotation_signals(x, &annot_signals, err);
    if (st != RM_OK)
        return st;
    int handle = edfopen_file_writeonly(tmp_path, EDFLIB_FILETYPE_EDFPLUS,
                                        (int)x->signal_count);
    if (handle < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: %s", tmp_path,
                            edflib_open_error(handle));
    x->handle = handle;
    int rc = edf_set_number_of_annotation_signals(handle, annot_signals);
    for (unsigned i = 0; rc == 0 && i < x->signal_count; i++)
        rc = set_signal(handle, (int)i, &x->signals[i], x->rate);
    rc = rc ? rc : set_identity(x);
    if (rc != 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: EDFlib refused the "
                            "header fields", tmp_path);
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Second pass: data records                                                */
/* ------------------------------------------------------------------------ */

static rm_status allocate_record_numbers(edf_export *x, rm_error *err)
{
    x->record_numbers = malloc(x->written_records * sizeof *x->record_numbers);
    if (!x->record_numbers)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", x->path);
    return RM_OK;
}

/* The nearest digital value: EDFlib's own conversion truncates, which
 * errs by up to a whole step. */
static int to_digital(const edf_signal *sig, double v)
{
    double step = (sig->max - sig->min) / (EDF_DIGITAL_MAX - EDF_DIGITAL_MIN);
    double d = round((v - sig->min) / step) + EDF_DIGITAL_MIN;
    return (int)rm_clamp(d, EDF_DIGITAL_MIN, EDF_DIGITAL_MAX);
}

/* Write the record buffer, holding the last value where no sample came. */
static rm_status flush_record(edf_export *x, rm_error *err)
{
    for (uint32_t j = 0; j < x->rate; j++) {
        for (unsigned i = 0; i < x->signal_count; i++) {
            double *v = &x->record[(size_t)i * x->rate + j];
            if (x->filled[j])
                x->held[i] = *v;
            else
                *v = x->held[i];
        }
        x->held_samples += !x->filled[j];
    }
    memset(x->filled, 0, x->rate);
    for (unsigned i = 0; i < x->signal_count; i++)
        for (uint32_t j = 0; j < x->rate; j++) {
            size_t at = (size_t)i * x->rate + j;
            x->digital[at] = to_digital(&x->signals[i], x->record[at]);
        }
    if (edf_blockwrite_digital_samples(x->handle, x->digital) != 0)
        return rm_error_set(err, RM_ERR_IO, "%s: writing a data record "
                            "failed: %s", x->path, strerror(errno));
    return RM_OK;
}

static void place_sample(edf_export *x, const rm_sample *s, uint64_t index)
{
    double v[MAX_SIGNALS];
    unsigned signals = sample_values(x, s, v);
    uint32_t j = (uint32_t)(index % x->rate);
    for (unsigned i = 0; i < signals; i++)
        x->record[(size_t)i * x->rate + j] = v[i];
    x->filled[j] = 1;
}

/* Write the record buffer as the next data record, noting its place. */
static rm_status write_record(edf_export *x, uint64_t record, rm_error *err)
{
    x->record_numbers[x->written_count++] = record;
    return flush_record(x, err);
}

/* Write the record buffer and move on to record next; the records
 * between them, without a sample (inside a gap), are skipped or, for
 * EDF+C, written held flat. */
static rm_status advance_record(edf_export *x, uint64_t *record, uint64_t next,
                                rm_error *err)
{
    rm_status st = write_record(x, *record, err);
    uint64_t through = x->contiguous ? next : *record + 1;
    for (uint64_t r = *record + 1; st == RM_OK && r < through; r++)
        st = write_record(x, r, err);
    *record = next;
    return st;
}

static rm_status write_records(edf_export *x, rm_error *err)
{
    uint64_t count = rm_session_sample_count(x->session), at = 0, record = 0;
    rm_status st = allocate_record_numbers(x, err);
    while (st == RM_OK && at < count) {
        size_t got = 0;
        st = rm_session_read(x->session, at, x->chunk, READ_CHUNK, &got, err);
        for (size_t i = 0; st == RM_OK && i < got; i++) {
            uint64_t index = grid_index(x, x->chunk[i].t_us);
            if (index / x->rate > record)
                st = advance_record(x, &record, index / x->rate, err);
            /* a sample whose time went back behind a written record has
             * no place left on the grid */
            if (index / x->rate == record)
                place_sample(x, &x->chunk[i], index);
        }
        at += got;
    }
    return st == RM_OK ? write_record(x, record, err) : st;
}

/* ------------------------------------------------------------------------ */
/* EDF+D: records inside gaps left out                                      */
/* ------------------------------------------------------------------------ */

/* EDFlib writes the records as if contiguous (EDF+C), and clips the
 * annotations to the records' total length. Where records were left out,
 * the file is then patched: the header's reserved field says "EDF+D" and
 * every record's annotation signals are written anew, the time-keeping
 * TAL with the record's true onset, then the annotations, one per signal
 * as EDFlib places them. Offsets and widths from the EDF and EDF+
 * specifications (edfplus.info). */
#define EDF_RESERVED_OFFSET 192   /* "EDF+C" or "EDF+D" */
#define EDF_SIGNAL_COUNT_OFFSET 252
#define EDF_SIGNAL_COUNT_WIDTH 4
#define EDF_HEADER_BLOCK 256      /* the main header, and per signal */
#define EDF_LABEL_WIDTH 16
/* Per signal: label, transducer, dimension, physical and digital limits
 * (16 + 80 + 8 + 4 x 8 + prefiltering 80) precede the sample counts. */
#define EDF_SAMPLES_FIELD 216
#define EDF_SAMPLES_WIDTH 8
#define EDF_SAMPLE_BYTES 2
#define EDF_ANNOTATION_LABEL "EDF Annotations"
#define TAL_DURATION '\x15'       /* TAL separators: before a duration, */
#define TAL_TEXT '\x14'           /* before and after each text, */
#define TAL_END '\0'              /* and at the end of a TAL */
#define TAL_UNITS_PER_S 10000000LL /* TAL times written to 100 ns */
#define TAL_UNITS_PER_TICK 1000LL /* from annotation ticks of 100 us */

/* Where the annotation signals lie in the file's data records. */
typedef struct edf_layout {
    long header_bytes;
    long record_bytes;
    unsigned annotation_signals;
    long annotation_offset[MAX_ANNOTATION_SIGNALS];   /* in a record */
    long annotation_bytes[MAX_ANNOTATION_SIGNALS];
} edf_layout;

static bool read_number(int fd, long offset, size_t width, long *out)
{
    char text[EDF_SAMPLES_WIDTH + 1] = "";
    if (pread(fd, text, width, offset) != (ssize_t)width)
        return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    while (*end == ' ')
        end++;
    if (errno || end == text || *end)
        return false;
    *out = v;
    return true;
}

static bool is_annotation_label(int fd, long offset)
{
    char label[EDF_LABEL_WIDTH];
    return pread(fd, label, sizeof label, offset) == (ssize_t)sizeof label &&
           memcmp(label, EDF_ANNOTATION_LABEL,
                  strlen(EDF_ANNOTATION_LABEL)) == 0;
}

static rm_status read_layout(int fd, const char *path, edf_layout *out,
                             rm_error *err)
{
    long signals = 0;
    if (!read_number(fd, EDF_SIGNAL_COUNT_OFFSET, EDF_SIGNAL_COUNT_WIDTH,
                     &signals) || signals <= 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: offset %d: bad number "
                            "of signals", path, EDF_SIGNAL_COUNT_OFFSET);
    memset(out, 0, sizeof *out);
    out->header_bytes = EDF_HEADER_BLOCK * (signals + 1);
    for (long i = 0; i < signals; i++) {
        long at = EDF_HEADER_BLOCK + signals * EDF_SAMPLES_FIELD +
                  i * EDF_SAMPLES_WIDTH, samples = 0;
        if (!read_number(fd, at, EDF_SAMPLES_WIDTH, &samples) || samples <= 0)
            return rm_error_set(err, RM_ERR_FORMAT, "%s: offset %ld: bad "
                                "samples per record of signal %ld", path, at, i);
        if (is_annotation_label(fd, EDF_HEADER_BLOCK + i * EDF_LABEL_WIDTH) &&
            out->annotation_signals < MAX_ANNOTATION_SIGNALS) {
            unsigned a = out->annotation_signals++;
            out->annotation_offset[a] = out->record_bytes;
            out->annotation_bytes[a] = samples * EDF_SAMPLE_BYTES;
        }
        out->record_bytes += samples * EDF_SAMPLE_BYTES;
    }
    if (out->annotation_signals == 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: no \"%s\" signal", path,
                            EDF_ANNOTATION_LABEL);
    return RM_OK;
}

/* A TAL time of units (100 ns): seconds, and the fraction without
 * trailing zeros. */
static int format_tal_time(char *out, size_t cap, const char *sign,
                           long long units)
{
    long long whole = units / TAL_UNITS_PER_S;
    long long fraction = units % TAL_UNITS_PER_S;
    int digits = 7;                /* TAL_UNITS_PER_S */
    while (fraction && fraction % 10 == 0) {
        fraction /= 10;
        digits--;
    }
    if (!fraction)
        return snprintf(out, cap, "%s%lld", sign, whole);
    return snprintf(out, cap, "%s%lld.%0*lld", sign, whole, digits, fraction);
}

/* Append text to buf (at *used, of cap bytes); false when it does not
 * fit. */
static bool append(char *buf, long cap, long *used, const char *text,
                   size_t len)
{
    if (*used + (long)len > cap)
        return false;
    memcpy(buf + *used, text, len);
    *used += (long)len;
    return true;
}

/* "+<record onset>" 20 20 0: when the record starts after the file's
 * start second. */
static bool append_keeping_tal(char *buf, long cap, long *used,
                               long long onset_units)
{
    char tal[48];
    int n = format_tal_time(tal, sizeof tal - 3, "+", onset_units);
    tal[n++] = TAL_TEXT;
    tal[n++] = TAL_TEXT;
    tal[n++] = TAL_END;
    return append(buf, cap, used, tal, (size_t)n);
}

/* "+<onset>" [21 "<duration>"] 20 "<text>" 20 0 */
static bool append_annotation_tal(char *buf, long cap, long *used,
                                  const edf_annotation *a,
                                  long long start_units)
{
    char tal[ANNOTATION_TEXT + 64];
    long long onset = llround(a->onset_s * EDF_TICKS_PER_S);
    int n = format_tal_time(tal, 32, "+",
                            onset * TAL_UNITS_PER_TICK + start_units);
    if (a->duration_s >= 0) {
        tal[n++] = TAL_DURATION;
        long long duration = llround(a->duration_s * EDF_TICKS_PER_S);
        n += format_tal_time(tal + n, 32, "", duration * TAL_UNITS_PER_TICK);
    }
    n += snprintf(tal + n, sizeof tal - (size_t)n, "%c%s%c", TAL_TEXT,
                  a->text, TAL_TEXT);
    tal[n++] = TAL_END;
    return append(buf, cap, used, tal, (size_t)n);
}

/* The annotation signals of written record k: the first starts with the
 * time-keeping TAL; annotation k x signals + j goes into signal j. */
static rm_status write_annotation_signals(const edf_export *x, int fd,
                                          const char *path,
                                          const edf_layout *l, uint64_t k,
                                          char *buf, rm_error *err)
{
    long long start_units = start_subsecond_units(x->session);
    for (unsigned j = 0; j < l->annotation_signals; j++) {
        long cap = l->annotation_bytes[j], used = 0;
        long at = l->header_bytes + (long)k * l->record_bytes +
                  l->annotation_offset[j];
        size_t i = (size_t)k * l->annotation_signals + j;
        memset(buf, 0, (size_t)cap);
        bool fits = j > 0 || append_keeping_tal(buf, cap, &used,
                                                (long long)x->record_numbers[k] *
                                                TAL_UNITS_PER_S + start_units);
        if (fits && i < x->annotation_count)
            fits = append_annotation_tal(buf, cap, &used, &x->annotations[i],
                                         start_units);
        if (!fits)
            return rm_error_set(err, RM_ERR_UNSUPPORTED, "%s: offset %ld: "
                                "data record %llu: %ld bytes of annotation "
                                "signal are too few", path, at,
                                (unsigned long long)k, cap);
        if (pwrite(fd, buf, (size_t)cap, at) != cap)
            return rm_error_set(err, RM_ERR_IO, "%s: offset %ld: %s", path,
                                at, strerror(errno));
    }
    return RM_OK;
}

static rm_status rewrite_annotations(const edf_export *x, int fd,
                                     const char *path, const edf_layout *l,
                                     rm_error *err)
{
    long largest = 0;
    for (unsigned j = 0; j < l->annotation_signals; j++)
        largest = l->annotation_bytes[j] > largest ? l->annotation_bytes[j]
                                                   : largest;
    char *buf = malloc((size_t)largest);
    if (!buf)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    rm_status st = RM_OK;
    for (uint64_t k = 0; st == RM_OK && k < x->written_records; k++)
        st = write_annotation_signals(x, fd, path, l, k, buf, err);
    free(buf);
    return st;
}

static rm_status mark_discontinuous(int fd, const char *path, rm_error *err)
{
    char kind[6] = "";
    if (pread(fd, kind, 5, EDF_RESERVED_OFFSET) != 5 ||
        strcmp(kind, "EDF+C") != 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: offset %d: reserved "
                            "field is not \"EDF+C\"", path, EDF_RESERVED_OFFSET);
    if (pwrite(fd, "EDF+D", 5, EDF_RESERVED_OFFSET) != 5)
        return rm_error_set(err, RM_ERR_IO, "%s: offset %d: %s", path,
                            EDF_RESERVED_OFFSET, strerror(errno));
    return RM_OK;
}

/* Turn the EDF+C file EDFlib wrote into EDF+D. */
static rm_status make_discontinuous(const edf_export *x, const char *path,
                                    rm_error *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot reopen: %s", path,
                            strerror(errno));
    edf_layout layout = {0};
    rm_status st = read_layout(fd, path, &layout, err);
    if (st == RM_OK)
        st = rewrite_annotations(x, fd, path, &layout, err);
    if (st == RM_OK)
        st = mark_discontinuous(fd, path, err);
    if (close(fd) != 0 && st == RM_OK)
        st = rm_error_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    return st;
}

/* ------------------------------------------------------------------------ */
/* The export                                                               */
/* ------------------------------------------------------------------------ */

static rm_status check_rate(const edf_export *x, rm_error *err)
{
    if (x->rate == 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: the session has no "
                            "sample rate (device sample_rate_hz is 0)", x->path);
    long bytes = 2L * (long)x->rate * (long)x->signal_count;
    if (bytes > MAX_RECORD_BYTES)
        return rm_error_set(err, RM_ERR_UNSUPPORTED, "%s: %u Hz x %u signals "
                            "exceeds EDFlib's 10 MB data record", x->path,
                            x->rate, x->signal_count);
    return RM_OK;
}

static rm_status prepare(edf_export *x, rm_session *s, const rm_analysis *a,
                         const char *path, unsigned flags, rm_error *err)
{
    memset(x, 0, sizeof *x);
    x->session = s;
    x->contiguous = flags & RM_EDF_CONTIGUOUS;
    x->info = rm_session_device(s);
    x->analysis = a;
    x->path = path;
    x->handle = -1;
    x->rate = x->info->sample_rate_hz;
    x->first_us = rm_session_first_us(s);
    x->total_kind = has_load_cells(x->info) ? RM_CHANNEL_LOAD_CELL
                                            : RM_CHANNEL_PRESSURE_CELL;
    if (x->info->encoder_counts_per_turn && x->info->roller_diameter_mm > 0)
        x->cm_per_count = (x->info->distal_direction < 0 ? -1 : 1) * M_PI *
                          x->info->roller_diameter_mm / 10.0 /
                          x->info->encoder_counts_per_turn;
    describe_signals(x);
    if (rm_session_sample_count(s) == 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: the session has no "
                            "samples to export", path);
    rm_status st = check_rate(x, err);
    if (st != RM_OK)
        return st;
    x->chunk = malloc(READ_CHUNK * sizeof *x->chunk);
    x->record = malloc((size_t)x->signal_count * x->rate * sizeof *x->record);
    x->digital = malloc((size_t)x->signal_count * x->rate * sizeof *x->digital);
    x->filled = calloc(x->rate, 1);
    if (!x->chunk || !x->record || !x->digital || !x->filled)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    return RM_OK;
}

static void release(edf_export *x)
{
    free(x->chunk);
    free(x->record);
    free(x->digital);
    free(x->filled);
    free(x->annotations);
    free(x->record_numbers);
}

/* Close the EDF file; EDFlib writes the annotations and the final header
 * here, so a failure means the file is incomplete. */
static rm_status close_edf(edf_export *x, const char *tmp_path, rm_error *err)
{
    int rc = edfclose_file(x->handle);
    x->handle = -1;
    if (rc != 0)
        return rm_error_set(err, RM_ERR_IO, "%s: finishing the EDF file "
                            "failed: %s", tmp_path, strerror(errno));
    return RM_OK;
}

static rm_status write_file(edf_export *x, const char *tmp_path,
                            rm_error *err)
{
    rm_status st = open_edf(x, tmp_path, err);
    if (st == RM_OK)
        st = write_records(x, err);
    /* EDFlib would clip the annotations to the records' total length:
     * for EDF+D they are written afterwards */
    if (st == RM_OK && !x->discontinuous)
        st = write_annotations(x, err);
    if (x->handle >= 0) {
        rm_status closed = close_edf(x, tmp_path, err);
        st = st == RM_OK ? closed : st;
    }
    if (st == RM_OK && x->discontinuous)
        st = make_discontinuous(x, tmp_path, err);
    return st;
}

/* EDFlib writes the temporary file by its name; the commit syncs it. */
static rm_status write_atomically(edf_export *x, const char *path,
                                  rm_error *err)
{
    rm_atomic_file af;
    rm_status st = rm_atomic_open(&af, path, 0, true, err);
    if (st == RM_OK)
        st = write_file(x, af.tmp_path, err);
    if (st == RM_OK)
        return rm_atomic_commit(&af, err);
    rm_atomic_abort(&af);
    return st;
}

rm_status rm_export_edf(rm_session *s, const rm_analysis *a, const char *path,
                        unsigned flags, rm_edf_summary *summary, rm_error *err)
{
    edf_export x;
    rm_status st = prepare(&x, s, a, path, flags, err);
    if (st == RM_OK)
        st = first_pass(&x, err);
    if (st == RM_OK)
        st = collect_annotations(&x, err);
    if (st == RM_OK)
        st = write_atomically(&x, path, err);
    if (st == RM_OK && summary)
        *summary = (rm_edf_summary){x.signal_count, x.rate, x.written_records,
                                    x.annotation_count, x.held_samples,
                                    x.discontinuous};
    release(&x);
    return st;
}
