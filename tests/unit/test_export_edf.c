/* EDF+ export: a small constructed session (two load cells, an encoder, a
 * gap inside one data record) with a constructed analysis is written as
 * EDF+C, then its header is read back byte by byte and its values and
 * annotations with EDFlib's own reader. A session whose gap spans whole
 * data records becomes EDF+D, which EDFlib cannot read: its header, data
 * records and TALs are parsed byte by byte here. */
#include "testutil.h"
#include "rollmap_library.h"

#include <edflib.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* This cmocka has no floating-point assertion. */
enum {
    RATE = 100,            /* Hz */
    GRID = 1200,           /* 12 s */
    GAP_FROM = 500,        /* grid index of the first missing sample */
    GAP_SAMPLES = 50,      /* 0.5 s lost, inside data record 5 */
    LONG_GAP_FROM = 450,   /* 4.5 s: the tail of record 4 ... */
    LONG_GAP_SAMPLES = 250, /* ... to 7.0 s: records 5 and 6 left out */
    ENCODER_COUNTS = 4096
};
#define GAIN_N 0.01           /* N per count */
#define ROLLER_MM 150.0
#define POSITION_ZERO_CM 5.0  /* the constructed analysis's proximal end */
#define START_US 1795500444250000LL /* 2026-11-24T06:07:24.25Z */

typedef struct fixture {
    char *dir, *session_path, *edf_path;
    rm_session *session;
    rm_analysis *analysis;
} fixture;

static double cm_per_count(void)
{
    return M_PI * ROLLER_MM / 10.0 / ENCODER_COUNTS;
}

static uint64_t grid_us(uint64_t index)
{
    return 1000000000ULL + index * (1000000 / RATE); /* device clock at 1000 s */
}

/* Sample i on the grid: a ramping and a waving load cell, rolling. */
static rm_sample sample_at(uint64_t index)
{
    rm_sample s = {.t_us = grid_us(index)};
    double t = index / (double)RATE;
    s.counts[0] = (int32_t)(10000 + 100 * index % 7000);
    s.counts[1] = (int32_t)(8000 + 6000 * sin(t));
    s.encoder = (int32_t)(3000 * sin(t / 2));
    return s;
}

static void device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    strcpy(info->model, "RollMap R2");
    strcpy(info->serial, "A0042");
    info->device_kind = RM_DEVICE_ROLLER;
    info->sample_rate_hz = RATE;
    info->channel_count = 2;
    for (unsigned k = 0; k < 2; k++) {
        info->channels[k].kind = RM_CHANNEL_LOAD_CELL;
        info->channels[k].position_mm = k ? 320.0f : 10.0f;
        info->channels[k].gain_n_per_count = (float)GAIN_N;
    }
    rm_device_info_default_calibration(info);
    info->encoder_counts_per_turn = ENCODER_COUNTS;
    info->roller_diameter_mm = (float)ROLLER_MM;
    info->distal_direction = 1;
}

/* The session on the grid of GRID places, less a gap of gap_samples
 * from gap_from. */
static void write_session_with_gap(const char *path, const rm_device_info *info,
                                   uint64_t gap_from, uint64_t gap_samples)
{
    rm_session_meta meta = {.side = RM_SIDE_LEFT, .start_unix_us = START_US};
    strcpy(meta.session_id, "20261124T060724Z-edf1");
    strcpy(meta.client, "C-042");
    strcpy(meta.muscle, "hamstring");
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.fsync = false;
    rm_session_writer *w;
    rm_error err;
    if (rm_session_writer_create(&w, path, info, &meta, &opt, &err) != RM_OK)
        fail_msg("create: %s", err.message);
    for (uint64_t i = 0; i < GRID; i++) {
        if (i >= gap_from && i < gap_from + gap_samples)
            continue;
        rm_sample s = sample_at(i);
        assert_int_equal(rm_session_writer_append(w, &s, 1, &err), RM_OK);
    }
    rm_gap gap = {.start_us = grid_us(gap_from), .end_us = grid_us(gap_from + gap_samples),
                  .lost_samples = gap_samples, .reason = RM_GAP_UNPLUGGED};
    assert_int_equal(rm_session_writer_add_gap(w, &gap, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
}

static void write_session(const char *path, const rm_device_info *info)
{
    write_session_with_gap(path, info, GAP_FROM, GAP_SAMPLES);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    assert_non_null(p);
    return p;
}

/* An analysis of the session: its position series 5 cm below the encoder
 * travel, one dwell, one rated mark and one tender spot. */
static rm_analysis *make_analysis(void)
{
    rm_analysis *a = xcalloc(1, sizeof *a);
    rm_analysis_config_default(&a->config);
    a->has_position = true;
    size_t n = GRID;
    a->series.n = n;
    a->series.rate_hz = RATE;
    a->series.t_s = xcalloc(n, sizeof(double));
    a->series.position_cm = xcalloc(n, sizeof(double));
    a->series.loaded = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        a->series.t_s[i] = i / (double)RATE;
        a->series.position_cm[i] = sample_at(i).encoder * cm_per_count() -
                                   POSITION_ZERO_CM;
    }
    a->dwell_count = 1;
    a->dwells = xcalloc(1, sizeof *a->dwells);
    a->dwells[0] = (rm_dwell){.start_s = 1.0, .end_s = 4.5, .duration_s = 3.5,
                              .position_cm = 14.0, .side = RM_ML_SIDE_MEDIAL};
    a->mark_count = 1;
    a->marks = xcalloc(1, sizeof *a->marks);
    a->marks[0] = (rm_mark){.t_s = 2.5, .position_cm = 14.2, .rating = 7, .spot = 0};
    a->spot_count = 1;
    a->spots = xcalloc(1, sizeof *a->spots);
    a->spots[0] = (rm_spot){.position_cm = 14.0, .side = RM_ML_SIDE_MEDIAL,
                            .score = 6.5};
    return a;
}

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof *f);
    f->dir = testutil_mkdtemp();
    f->session_path = testutil_path(f->dir, "s.rms");
    f->edf_path = testutil_path(f->dir, "s.edf");
    rm_device_info info;
    device(&info);
    write_session(f->session_path, &info);
    rm_error err;
    if (rm_session_open(&f->session, f->session_path, &err) != RM_OK)
        fail_msg("open: %s", err.message);
    f->analysis = make_analysis();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rm_session_close(f->session);
    rm_analysis_free(f->analysis);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f->session_path);
    free(f->edf_path);
    free(f);
    return 0;
}

static rm_edf_summary export_ok(fixture *f)
{
    rm_edf_summary sum;
    rm_error err;
    if (rm_export_edf(f->session, f->analysis, f->edf_path, RM_EDF_DEFAULT,
                      &sum, &err) != RM_OK)
        fail_msg("export: %s", err.message);
    return sum;
}

/* The EDF header field of width bytes at offset, trailing spaces cut. */
static char *field(const uint8_t *bytes, size_t offset, size_t width)
{
    char *s = xcalloc(width + 1, 1);
    memcpy(s, bytes + offset, width);
    for (size_t n = width; n > 0 && s[n - 1] == ' '; n--)
        s[n - 1] = '\0';
    return s;
}

static void assert_field(const uint8_t *bytes, size_t offset, size_t width,
                         const char *expected)
{
    char *s = field(bytes, offset, width);
    assert_string_equal(s, expected);
    free(s);
}

/* ------------------------------------------------------------------------ */

static void header_names_the_client_device_and_signals(void **state)
{
    fixture *f = *state;
    rm_edf_summary sum = export_ok(f);
    assert_int_equal(sum.signals, 4);
    assert_int_equal(sum.rate_hz, RATE);
    assert_int_equal(sum.records, 12);
    assert_int_equal(sum.annotations, 4);
    assert_int_equal(sum.held_samples, GAP_SAMPLES);
    assert_false(sum.discontinuous);     /* the gap left no record empty */
    size_t len;
    uint8_t *b = testutil_read_file(f->edf_path, &len);
    assert_non_null(b);
    assert_field(b, 0, 8, "0");
    assert_field(b, 8, 80, "C-042 X X X");
    assert_field(b, 88, 80, "Startdate 24-NOV-2026 X X RollMap_R2/A0042 left hamstring");
    assert_field(b, 168, 8, "24.11.26");
    assert_field(b, 176, 8, "06.07.24");
    assert_field(b, 192, 44, "EDF+C");
    assert_field(b, 236, 8, "12");
    assert_field(b, 244, 8, "1");
    assert_field(b, 252, 4, "5");      /* four signals and the annotations */
    const char *labels[] = {"Force ch0", "Force ch1", "Force total", "Position",
                            "EDF Annotations"};
    const char *dims[] = {"N", "N", "N", "cm"};
    size_t ns = 5, at = 256;
    for (size_t i = 0; i < ns; i++)
        assert_field(b, at + 16 * i, 16, labels[i]);
    at += 16 * ns;
    assert_field(b, at, 80, "load cell at 10.0 mm");
    assert_field(b, at + 80 * 2, 80, "sum of the load cells");
    at += 80 * ns;
    for (size_t i = 0; i < 4; i++)
        assert_field(b, at + 8 * i, 8, dims[i]);
    at += 8 * ns * 5 + 80 * ns;        /* dimension .. digital max, prefilter */
    for (size_t i = 0; i < 4; i++)
        assert_field(b, at + 8 * i, 8, "100");
    assert_int_equal(len, 256 * (ns + 1) +
                              12 * (4 * RATE * 2 + atoi((char *)b + at + 32) * 2));
    free(b);
}

/* The physical value of signal i of sample s, through the device's
 * calibration as the export computes it. */
static double expected_value(const rm_sample *s, int signal)
{
    rm_device_info info;
    device(&info);
    double ch0 = rm_channel_newtons(&info.channels[0], s->counts[0]);
    double ch1 = rm_channel_newtons(&info.channels[1], s->counts[1]);
    switch (signal) {
    case 0: return ch0;
    case 1: return ch1;
    case 2: return ch0 + ch1;
    default: return s->encoder * cm_per_count() - POSITION_ZERO_CM;
    }
}

static void values_come_back_within_half_a_quantisation_step(void **state)
{
    fixture *f = *state;
    export_ok(f);
    struct edf_hdr_struct hdr;
    assert_int_equal(edfopen_file_readonly(f->edf_path, &hdr, EDFLIB_READ_ALL_ANNOTATIONS), 0);
    assert_int_equal(hdr.edfsignals, 4);
    assert_int_equal(hdr.filetype, EDFLIB_FILETYPE_EDFPLUS);
    assert_string_equal(hdr.patientcode, "C-042");
    assert_int_equal(hdr.starttime_subsecond, 2500000);  /* 0.25 s */
    double buf[1200];
    for (int sig = 0; sig < 4; sig++) {
        const struct edf_param_struct *p = &hdr.signalparam[sig];
        double step = (p->phys_max - p->phys_min) / (p->dig_max - p->dig_min);
        assert_true(step < (sig == 3 ? 0.002 : 0.005)); /* ranges hug the data */
        assert_int_equal(edfread_physical_samples(hdr.handle, sig, 1200, buf), 1200);
        for (uint64_t i = 0; i < GRID; i++) {
            bool in_gap = i >= GAP_FROM && i < GAP_FROM + GAP_SAMPLES;
            /* a gap holds the last value before it */
            rm_sample s = sample_at(in_gap ? GAP_FROM - 1 : i);
            assert_near(buf[i], expected_value(&s, sig), step / 2 + 1e-9);
        }
    }
    edfclose_file(hdr.handle);
}

static void annotations_carry_dwells_marks_spots_and_gaps(void **state)
{
    fixture *f = *state;
    export_ok(f);
    struct edf_hdr_struct hdr;
    assert_int_equal(edfopen_file_readonly(f->edf_path, &hdr, EDFLIB_READ_ALL_ANNOTATIONS), 0);
    assert_int_equal(hdr.annotations_in_file, 4);
    struct { double onset, duration; const char *text; } want[] = {
        {1.0, 3.5, "dwell 14.0 cm medial"},
        {1.0, -1, "tender spot 14.0 cm medial score 6.5"},
        {2.5, -1, "mark 7/10 at 14.2 cm"},
        {5.0, 0.5, "gap unplugged, 50 samples lost"},
    };
    for (int i = 0; i < 4; i++) {
        struct edf_annotation_struct an;
        assert_int_equal(edf_get_annotation(hdr.handle, i, &an), 0);
        assert_near(an.onset / (double)EDFLIB_TIME_DIMENSION, want[i].onset, 1e-4);
        if (want[i].duration < 0)
            assert_string_equal(an.duration, "");
        else
            assert_near(an.duration_l / (double)EDFLIB_TIME_DIMENSION, want[i].duration, 1e-4);
        assert_string_equal(an.annotation, want[i].text);
    }
    edfclose_file(hdr.handle);
}

/* More annotations than data records: EDFlib needs more annotation
 * signals, or it would drop some. */
static void many_marks_all_reach_the_file(void **state)
{
    fixture *f = *state;
    rm_analysis *a = f->analysis;
    enum { MARKS = 40 };
    free(a->marks);
    a->marks = xcalloc(MARKS, sizeof *a->marks);
    a->mark_count = MARKS;
    for (int i = 0; i < MARKS; i++)
        a->marks[i] = (rm_mark){.t_s = i * 0.25, .position_cm = NAN,
                                .rating = i % 11, .spot = -1};
    rm_edf_summary sum = export_ok(f);
    assert_int_equal(sum.annotations, MARKS + 3);
    struct edf_hdr_struct hdr;
    assert_int_equal(edfopen_file_readonly(f->edf_path, &hdr, EDFLIB_READ_ALL_ANNOTATIONS), 0);
    assert_int_equal(hdr.annotations_in_file, MARKS + 3);
    int found = 0;
    for (int i = 0; i < MARKS + 3; i++) {
        struct edf_annotation_struct an;
        assert_int_equal(edf_get_annotation(hdr.handle, i, &an), 0);
        found += strncmp(an.annotation, "mark ", 5) == 0;
    }
    assert_int_equal(found, MARKS);
    edfclose_file(hdr.handle);
}

static void unwritable_output_fails_and_leaves_nothing(void **state)
{
    fixture *f = *state;
    char *missing = testutil_path(f->dir, "no/such/dir/s.edf");
    rm_error err;
    assert_int_equal(rm_export_edf(f->session, f->analysis, missing,
                                   RM_EDF_DEFAULT, NULL, &err),
                     RM_ERR_IO);
    assert_non_null(strstr(err.message, missing));
    assert_non_null(strstr(err.message, "cannot create"));
    free(missing);
}

static void existing_output_is_replaced_only_when_complete(void **state)
{
    fixture *f = *state;
    assert_int_equal(testutil_write_file(f->edf_path, "old", 3), 0);
    /* 64 annotation signals of 12 records hold 768 annotations at most:
     * the export fails before writing, and the old file stays */
    rm_analysis *a = f->analysis;
    enum { MARKS = 800 };
    rm_mark *few = a->marks;
    a->marks = xcalloc(MARKS, sizeof *a->marks);
    a->mark_count = MARKS;
    rm_error err;
    assert_int_equal(rm_export_edf(f->session, a, f->edf_path, RM_EDF_DEFAULT,
                                   NULL, &err),
                     RM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "803 annotations do not fit in 12 s"));
    size_t len;
    uint8_t *b = testutil_read_file(f->edf_path, &len);
    assert_int_equal(len, 3);
    free(b);
    free(a->marks);
    a->marks = few;
    a->mark_count = 1;
    export_ok(f);
    struct stat st;
    assert_int_equal(stat(f->edf_path, &st), 0);
    assert_true(st.st_size > 256);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* ------------------------------------------------------------------------ */
/* EDF+D, parsed byte by byte                                               */
/* ------------------------------------------------------------------------ */

/* Where an EDF file's signals lie in its data records. */
typedef struct layout {
    size_t signals, header_bytes, record_bytes, records;
    size_t offset[8], samples[8];   /* per signal, in a record */
} layout;

static size_t field_number(const uint8_t *b, size_t offset, size_t width)
{
    char *s = field(b, offset, width);
    size_t v = (size_t)atol(s);
    free(s);
    return v;
}

static layout read_layout(const uint8_t *b)
{
    layout l = {.signals = field_number(b, 252, 4)};
    assert_true(l.signals <= 8);
    l.header_bytes = 256 * (l.signals + 1);
    l.records = field_number(b, 236, 8);
    for (size_t i = 0; i < l.signals; i++) {
        l.offset[i] = l.record_bytes;
        l.samples[i] = field_number(b, 256 + 216 * l.signals + 8 * i, 8);
        l.record_bytes += 2 * l.samples[i];
    }
    return l;
}

static const uint8_t *annotation_bytes(const uint8_t *b, const layout *l,
                                       size_t record, size_t *len)
{
    size_t last = l->signals - 1;   /* EDFlib puts the annotations last */
    assert_memory_equal(b + 256 + 16 * last, "EDF Annotations", 15);
    *len = 2 * l->samples[last];
    return b + l->header_bytes + record * l->record_bytes + l->offset[last];
}

/* The onset of a record's time-keeping TAL, "+<s>\x14\x14\0" at its start. */
static double keeping_onset(const uint8_t *tal, size_t len)
{
    assert_int_equal(tal[0], '+');
    const uint8_t *end = memchr(tal, 20, len);
    assert_non_null(end);
    assert_int_equal(end[1], 20);
    assert_int_equal(end[2], 0);
    return atof((const char *)tal + 1);
}

/* The onset of the TAL whose text is text, in any record; NAN if none. */
static double find_tal(const uint8_t *b, const layout *l, const char *text)
{
    for (size_t r = 0; r < l->records; r++) {
        size_t len;
        const uint8_t *tal = annotation_bytes(b, l, r, &len);
        const uint8_t *hit = memmem(tal, len, text, strlen(text));
        if (!hit)
            continue;
        while (hit > tal && hit[-1] != 0)   /* back to the TAL's '+' */
            hit--;
        return atof((const char *)hit + 1);
    }
    return NAN;
}

/* The physical value of digital sample j of signal sig in record r. */
static double physical(const uint8_t *b, const layout *l, size_t r, size_t sig,
                       size_t j)
{
    size_t ns = l->signals, base = 256 + 104 * ns;  /* physical minimum */
    double pmin = atof((char *)b + base + 8 * sig);
    double pmax = atof((char *)b + base + 8 * ns + 8 * sig);
    const uint8_t *p = b + l->header_bytes + r * l->record_bytes +
                       l->offset[sig] + 2 * j;
    int16_t d = (int16_t)(p[0] | p[1] << 8);
    return pmin + (d + 32768.0) * (pmax - pmin) / 65535.0;
}

/* Export, with flags, the session less LONG_GAP_SAMPLES from LONG_GAP_FROM. */
static rm_edf_summary export_long_gap(fixture *f, unsigned flags)
{
    rm_device_info info;
    device(&info);
    char *path = testutil_path(f->dir, "long-gap.rms");
    write_session_with_gap(path, &info, LONG_GAP_FROM, LONG_GAP_SAMPLES);
    rm_session *s;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), RM_OK);
    rm_edf_summary sum;
    if (rm_export_edf(s, f->analysis, f->edf_path, flags, &sum, &err) != RM_OK)
        fail_msg("export: %s", err.message);
    rm_session_close(s);
    free(path);
    return sum;
}

/* A gap over whole data records: they are left out, the header says
 * EDF+D, every record's time-keeping TAL gives its true start and the
 * annotations keep their times, even past the records' total length. */
static void gap_over_whole_records_makes_edf_plus_d(void **state)
{
    fixture *f = *state;
    /* past the 10 s of records written: EDFlib itself would drop it */
    f->analysis->marks[0].t_s = 11.5;
    rm_edf_summary sum = export_long_gap(f, RM_EDF_DEFAULT);
    assert_true(sum.discontinuous);
    assert_int_equal(sum.records, 10);
    assert_int_equal(sum.held_samples, 50);     /* 4.5 to 5.0 s */

    size_t len;
    uint8_t *b = testutil_read_file(f->edf_path, &len);
    assert_non_null(b);
    assert_field(b, 192, 44, "EDF+D");
    layout l = read_layout(b);
    assert_int_equal(l.records, 10);
    assert_int_equal(len, l.header_bytes + 10 * l.record_bytes);
    const size_t starts[10] = {0, 1, 2, 3, 4, 7, 8, 9, 10, 11};
    for (size_t r = 0; r < 10; r++) {
        size_t tal_len;
        const uint8_t *tal = annotation_bytes(b, &l, r, &tal_len);
        /* the session starts 0.25 s into its second */
        assert_near(keeping_onset(tal, tal_len), starts[r] + 0.25, 1e-7);
        for (size_t j = 0; j < RATE; j++) {
            uint64_t i = starts[r] * RATE + j;
            bool in_gap = i >= LONG_GAP_FROM && i < LONG_GAP_FROM + LONG_GAP_SAMPLES;
            rm_sample smp = sample_at(in_gap ? LONG_GAP_FROM - 1 : i);
            assert_near(physical(b, &l, r, 0, j), expected_value(&smp, 0), 0.005);
        }
    }
    assert_near(find_tal(b, &l, "gap unplugged, 250 samples lost"), 4.75, 1e-7);
    assert_near(find_tal(b, &l, "mark 7/10 at 14.2 cm"), 11.75, 1e-7);
    assert_near(find_tal(b, &l, "dwell 14.0 cm medial"), 1.25, 1e-7);
    free(b);
}

/* RM_EDF_CONTIGUOUS: the records inside the gap are written, holding the
 * last value before it, so every sample stays at its true time in plain
 * EDF+C (EDFlib's own reader, which refuses EDF+D, reads it) and the gap
 * annotation marks the held stretch. */
static void contiguous_flag_holds_whole_records_flat_in_edf_plus_c(void **state)
{
    fixture *f = *state;
    rm_edf_summary sum = export_long_gap(f, RM_EDF_CONTIGUOUS);
    assert_false(sum.discontinuous);
    assert_int_equal(sum.records, GRID / RATE);
    assert_int_equal(sum.held_samples, LONG_GAP_SAMPLES);

    struct edf_hdr_struct hdr;
    assert_int_equal(edfopen_file_readonly(f->edf_path, &hdr,
                                           EDFLIB_READ_ALL_ANNOTATIONS), 0);
    assert_int_equal(hdr.datarecords_in_file, GRID / RATE);
    const struct edf_param_struct *p = &hdr.signalparam[0];
    double step = (p->phys_max - p->phys_min) / (p->dig_max - p->dig_min);
    double buf[GRID];
    assert_int_equal(edfread_physical_samples(hdr.handle, 0, GRID, buf), GRID);
    for (uint64_t i = 0; i < GRID; i++) {
        bool in_gap = i >= LONG_GAP_FROM && i < LONG_GAP_FROM + LONG_GAP_SAMPLES;
        rm_sample smp = sample_at(in_gap ? LONG_GAP_FROM - 1 : i);
        assert_near(buf[i], expected_value(&smp, 0), step / 2 + 1e-9);
    }
    bool gap_found = false;
    for (long long k = 0; k < hdr.annotations_in_file; k++) {
        struct edf_annotation_struct an;
        assert_int_equal(edf_get_annotation(hdr.handle, (int)k, &an), 0);
        if (strcmp(an.annotation, "gap unplugged, 250 samples lost") != 0)
            continue;
        gap_found = true;
        assert_near(an.onset / (double)EDFLIB_TIME_DIMENSION, 4.5, 1e-4);
        assert_near(an.duration_l / (double)EDFLIB_TIME_DIMENSION, 2.5, 1e-4);
    }
    assert_true(gap_found);
    edfclose_file(hdr.handle);
}

/* A probe with two pressure cells and no encoder: the total is the cells'
 * sum, there is no position signal and annotations have no place. */
static void probe_without_encoder_sums_pressure_cells(void **state)
{
    fixture *f = *state;
    rm_device_info info;
    device(&info);
    info.device_kind = RM_DEVICE_PROBE;
    info.encoder_counts_per_turn = 0;
    for (unsigned k = 0; k < 2; k++) {
        info.channels[k].kind = RM_CHANNEL_PRESSURE_CELL;
        info.channels[k].area_mm2 = 100.0f;
    }
    char *path = testutil_path(f->dir, "probe.rms");
    write_session(path, &info);
    rm_session *s;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), RM_OK);
    f->analysis->has_position = false;
    f->analysis->dwells[0].position_cm = NAN;
    f->analysis->marks[0].position_cm = NAN;
    f->analysis->spot_count = 0;
    if (rm_export_edf(s, f->analysis, f->edf_path, RM_EDF_DEFAULT, NULL,
                      &err) != RM_OK)
        fail_msg("export: %s", err.message);
    rm_session_close(s);
    free(path);

    struct edf_hdr_struct hdr;
    assert_int_equal(edfopen_file_readonly(f->edf_path, &hdr, EDFLIB_READ_ALL_ANNOTATIONS), 0);
    assert_int_equal(hdr.edfsignals, 3);
    const char *label = hdr.signalparam[2].label;
    assert_field((const uint8_t *)label, 0, strlen(label), "Force total");
    const char *transducer = hdr.signalparam[0].transducer;
    assert_field((const uint8_t *)transducer, 0, strlen(transducer),
                 "pressure cell 100 mm2 at 10.0 mm");
    double total[RATE];
    assert_int_equal(edfread_physical_samples(hdr.handle, 2, RATE, total), RATE);
    const struct edf_param_struct *p = &hdr.signalparam[2];
    double step = (p->phys_max - p->phys_min) / (p->dig_max - p->dig_min);
    for (uint64_t i = 0; i < RATE; i++) {
        rm_sample smp = sample_at(i);
        double want = rm_channel_newtons(&info.channels[0], smp.counts[0]) +
                      rm_channel_newtons(&info.channels[1], smp.counts[1]);
        assert_near(total[i], want, step / 2 + 1e-9);
    }
    struct edf_annotation_struct an;
    assert_int_equal(edf_get_annotation(hdr.handle, 0, &an), 0);
    assert_string_equal(an.annotation, "dwell");
    assert_int_equal(edf_get_annotation(hdr.handle, 1, &an), 0);
    assert_string_equal(an.annotation, "mark 7/10");
    edfclose_file(hdr.handle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(header_names_the_client_device_and_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(values_come_back_within_half_a_quantisation_step, setup, teardown),
        cmocka_unit_test_setup_teardown(annotations_carry_dwells_marks_spots_and_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(many_marks_all_reach_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(gap_over_whole_records_makes_edf_plus_d, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_flag_holds_whole_records_flat_in_edf_plus_c, setup, teardown),
        cmocka_unit_test_setup_teardown(probe_without_encoder_sums_pressure_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(unwritable_output_fails_and_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(existing_output_is_replaced_only_when_complete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
