/* CSV export and import of sessions: layout, value conversions, round
 * trips and errors that name the file, line and column. */
#include "testutil.h"

#include <math.h>
#include <unistd.h>

typedef struct fixture {
    char *dir;
    char *csv;
    char *session;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = testutil_mkdtemp();
    f->csv = testutil_path(f->dir, "in.csv");
    f->session = testutil_path(f->dir, "s.rms");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f->csv);
    free(f->session);
    free(f);
    return 0;
}

static void make_roller(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "RM-2");
    info->sample_rate_hz = 500;
    info->channel_count = 2;
    info->channels[0].gain_n_per_count = 0.01f;
    info->channels[0].offset_counts = 100;
    info->channels[1].kind = RM_CHANNEL_PRESSURE_CELL;
    info->channels[1].gain_n_per_count = 0.002f;
    rm_device_info_default_calibration(info);
    info->channels[1].cal.coef[2] = 2e-7; /* a slightly curved FSR */
    info->encoder_counts_per_turn = 4096;
    info->roller_diameter_mm = 150;
    info->distal_direction = 1;
}

static rm_sample roller_sample(int i)
{
    rm_sample s;
    memset(&s, 0, sizeof s);
    s.t_us = 2000000 + (uint64_t)i * 2000;
    s.encoder = i * 7 - 300;
    s.counts[0] = 100 + (i * 37) % 5000;
    s.counts[1] = (i * 53) % 9000;
    s.flags = i % 50 == 5 ? RM_SAMPLE_MARK : 0;
    return s;
}

static void write_roller_session(const char *path, int samples)
{
    rm_device_info info;
    make_roller(&info);
    rm_session_meta meta = {.side = RM_SIDE_RIGHT};
    snprintf(meta.session_id, sizeof meta.session_id, "S-1");
    snprintf(meta.client, sizeof meta.client, "C-9");
    snprintf(meta.muscle, sizeof meta.muscle, "hamstring");
    snprintf(meta.notes, sizeof meta.notes, "two\nlines \\ here");
    meta.start_unix_us = 1795500000000000;
    rm_session_writer *w = NULL;
    rm_error err;
    assert_int_equal(rm_session_writer_create(&w, path, &info, &meta, NULL, &err), RM_OK);
    for (int i = 0; i < samples; i++) {
        rm_sample s = roller_sample(i);
        assert_int_equal(rm_session_writer_append(w, &s, 1, &err), RM_OK);
    }
    rm_event ev = {.t_us = 2010000, .kind = RM_EVENT_MARK, .value = 8};
    assert_int_equal(rm_session_writer_add_event(w, &ev, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
}

static char *export_text(const char *session)
{
    rm_session *s = NULL;
    rm_error err;
    assert_int_equal(rm_session_open(&s, session, &err), RM_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (rm_session_export_csv(s, out, &err) != RM_OK)
        fail_msg("export: %s", err.message);
    fclose(out);
    rm_session_close(s);
    return text;
}

static void write_text(const char *path, const char *text)
{
    unlink(path);
    assert_int_equal(testutil_write_file(path, text, strlen(text)), 0);
}

static void export_writes_comments_then_one_row_per_sample(void **state)
{
    fixture *f = *state;
    write_roller_session(f->session, 3);
    char *text = export_text(f->session);
    assert_non_null(strstr(text, "# session_id: S-1\n# client: C-9\n# side: right\n"));
    assert_non_null(strstr(text, "# notes: two\\nlines \\\\ here\n"));
    assert_non_null(strstr(text, "# event: 2.010000 s mark 8 \n"));
    assert_non_null(strstr(text, "# ch1: pressure cell"));
    /* Row 1: t = 2.002 s, ch0 = 0.01 * (137 - 100), ch1 = 0.002 * 53 +
     * 2e-7 * 53^2, encoder -293, position -293 * pi * 15 / 4096 cm. */
    const char *rows = "t_s,ch0_N,ch1_N,ch0_counts,ch1_counts,encoder,position_cm,mark\n"
                       "2.000000,0.0000,0.0000,100,0,-300,-3.451,0\n"
                       "2.002000,0.3700,0.1066,137,53,-293,-3.371,0\n"
                       "2.004000,0.7400,0.2142,174,106,-286,-3.290,0\n";
    char *header = strstr(text, "t_s,");
    assert_non_null(header);
    assert_string_equal(header, rows);
    free(text);
}

static void export_then_import_round_trips_every_value(void **state)
{
    fixture *f = *state;
    write_roller_session(f->session, 1200);
    char *first = export_text(f->session);
    write_text(f->csv, first);
    char *again = testutil_path(f->dir, "again.rms");
    rm_device_info info;
    make_roller(&info);
    rm_error err;
    if (rm_session_import_csv(f->csv, again, &info, NULL, NULL, &err) != RM_OK)
        fail_msg("import: %s", err.message);

    rm_session *s = NULL;
    assert_int_equal(rm_session_open(&s, again, &err), RM_OK);
    assert_int_equal(rm_session_sample_count(s), 1200);
    rm_sample got[1200];
    size_t n;
    assert_int_equal(rm_session_read(s, 0, got, 1200, &n, &err), RM_OK);
    for (int i = 0; i < 1200; i++) {
        rm_sample want = roller_sample(i);
        assert_memory_equal(&got[i], &want, sizeof want);
    }
    const rm_session_meta *m = rm_session_meta_of(s);
    assert_string_equal(m->client, "C-9");
    assert_string_equal(m->notes, "two\nlines \\ here");
    assert_int_equal(m->side, RM_SIDE_RIGHT);
    assert_int_equal(m->start_unix_us, 1795500000000000);
    rm_session_close(s);

    /* Exported again, the text is the same but for the event comment
     * (events are not imported). */
    char *second = export_text(again);
    char *event = strstr(first, "# event:");
    memmove(event, strchr(event, '\n') + 1, strlen(strchr(event, '\n') + 1) + 1);
    assert_string_equal(first, second);
    free(second);
    free(again);
    free(first);
}

static void import_converts_newtons_position_and_marks_for_the_generic_device(void **state)
{
    fixture *f = *state;
    write_text(f->csv, "# client: C-4\n# side: left\n# notes: from a spreadsheet\n"
                       "\n"
                       "t_s, ch0_N, ch1_N, position_cm, mark\n"
                       "0.00, 1.5, 0.25, 0.0, 0\n"
                       "# a comment between rows\n"
                       "0.01, 1.75, 0.5, 1.2, 1\n"
                       "0.02, -2, 0, -0.5, 0\n");
    rm_session_meta over = {0};
    snprintf(over.client, sizeof over.client, "C-5");
    rm_error err;
    if (rm_session_import_csv(f->csv, f->session, NULL, NULL, &over, &err) != RM_OK)
        fail_msg("import: %s", err.message);
    rm_session *s = NULL;
    assert_int_equal(rm_session_open(&s, f->session, &err), RM_OK);
    const rm_device_info *d = rm_session_device(s);
    assert_string_equal(d->model, "generic-csv");
    assert_int_equal(d->channel_count, 2);
    assert_int_equal(d->sample_rate_hz, 100);
    assert_int_equal(d->encoder_counts_per_turn, 4096);
    const rm_session_meta *m = rm_session_meta_of(s);
    assert_string_equal(m->client, "C-5");       /* the option wins */
    assert_int_equal(m->side, RM_SIDE_LEFT);     /* from the comments */
    assert_string_equal(m->notes, "from a spreadsheet");
    assert_string_equal(m->muscle, "hamstring"); /* the default */
    assert_true(m->session_id[0] != '\0');
    rm_sample got[3];
    size_t n;
    assert_int_equal(rm_session_read(s, 0, got, 3, &n, &err), RM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(got[1].t_us, 10000);
    assert_int_equal(got[1].counts[0], 1750);
    assert_int_equal(got[1].counts[1], 500);
    assert_int_equal(got[2].counts[0], -2000);
    double cm_per_count = M_PI * 15.0 / 4096;
    assert_int_equal(got[1].encoder, lround(1.2 / cm_per_count));
    assert_int_equal(got[2].encoder, lround(-0.5 / cm_per_count));
    assert_int_equal(got[1].flags, RM_SAMPLE_MARK);
    assert_int_equal(got[0].flags, 0);
    rm_session_close(s);
}

static void import_inverts_a_curved_calibration(void **state)
{
    fixture *f = *state;
    rm_device_info info;
    make_roller(&info);
    FILE *out = fopen(f->csv, "w");
    fputs("t_s,ch0_counts,ch1_N\n", out);
    for (int i = 0; i < 100; i++)
        fprintf(out, "%d.0,0,%.6f\n", i, rm_channel_newtons(&info.channels[1], i * 97));
    fclose(out);
    rm_error err;
    if (rm_session_import_csv(f->csv, f->session, &info, NULL, NULL, &err) != RM_OK)
        fail_msg("import: %s", err.message);
    rm_session *s = NULL;
    assert_int_equal(rm_session_open(&s, f->session, &err), RM_OK);
    rm_sample got[100];
    size_t n;
    assert_int_equal(rm_session_read(s, 0, got, 100, &n, &err), RM_OK);
    assert_int_equal(n, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(got[i].counts[1], i * 97);
    rm_session_close(s);
}

static void expect_import_error(fixture *f, const char *csv, const rm_device_info *info,
                                const char *message)
{
    write_text(f->csv, csv);
    unlink(f->session);
    rm_error err;
    assert_int_equal(rm_session_import_csv(f->csv, f->session, info, NULL, NULL, &err),
                     RM_ERR_FORMAT);
    char expected[700];
    snprintf(expected, sizeof expected, "%s:%s", f->csv, message);
    assert_string_equal(err.message, expected);
    assert_int_equal(access(f->session, F_OK), -1); /* nothing half-imported */
}

static void import_errors_name_the_file_line_and_column(void **state)
{
    fixture *f = *state;
    expect_import_error(f, "t_s,ch0_N\n0,1\n0.1,abc\n", NULL,
                        "3: column 2 (ch0_N): 'abc' is not a number");
    expect_import_error(f, "# c\nt_s,ch0_N,force\n", NULL,
                        "2: column 3: unknown column name 'force' (expected t_s, "
                        "t_ms, t_us, ch<N>_N, ch<N>_kg, ch<N>_lbf, ch<N>_counts, "
                        "encoder, position_cm, position_mm or mark, or a column map)");
    expect_import_error(f, "ch0_N,mark\n1,0\n", NULL,
                        "1: the header row has no time column (t_s, t_ms or t_us)");
    expect_import_error(f, "t_s,ch0_N,ch2_N\n", NULL,
                        "1: the header row has no column for channel 1 (ch1_N or ch1_counts)");
    expect_import_error(f, "t_s,mark,mark\n", NULL, "1: column 3: 'mark' appears twice");
    expect_import_error(f, "t_s,ch0_N\n0,1\n\n0.1,2,3\n", NULL,
                        "4: 3 fields, the header row has 2");
    expect_import_error(f, "t_s,ch0_N\n1.0,1\n0.5,2\n", NULL,
                        "3: column 1 (t_s): '0.5' goes back in time from the row before");
    expect_import_error(f, "t_s,ch0_counts\n0,3e10\n", NULL,
                        "2: column 2 (ch0_counts): '3e10' is out of the 32-bit count range");
    rm_device_info no_encoder;
    rm_device_info_generic(&no_encoder, 1, 100, false);
    expect_import_error(f, "t_s,ch0_N,position_cm\n0,1,2\n", &no_encoder,
                        "2: column 3 (position_cm): '2' needs a device with an encoder "
                        "and a roller diameter");
}

static void import_refuses_empty_files_and_more_channels_than_the_device(void **state)
{
    fixture *f = *state;
    write_text(f->csv, "# only a comment\n");
    rm_error err;
    assert_int_equal(rm_session_import_csv(f->csv, f->session, NULL, NULL, NULL, &err),
                     RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "no header row"));
    write_text(f->csv, "t_s,ch0_N,ch1_N,ch2_N\n0,1,2,3\n");
    rm_device_info info;
    make_roller(&info);
    assert_int_equal(rm_session_import_csv(f->csv, f->session, &info, NULL, NULL, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "the CSV has 3 channels, the device only 2"));
    assert_int_equal(access(f->session, F_OK), -1);
}

/* Without a profile the rate comes from the time steps: a file with fewer
 * than two increasing times has none, and a session at 0 Hz cannot be
 * analysed. A profile gives the rate, so its empty session is fine. */
static void import_refuses_a_file_without_a_rate(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text, *expected;
    } cases[] = {
        {"t_s,ch0_N\n", "from 0 data rows"},
        {"t_s,ch0_N\n0,1\n", "from 1 data row:"},
        {"t_s,ch0_N\n0,1\n0,2\n", "from 2 data rows"},
        {"t_s,ch0_N\n0,1\n5,2\n", "at most 2 s apart"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(f->csv, cases[i].text);
        rm_error err;
        assert_int_equal(rm_session_import_csv(f->csv, f->session, NULL, NULL,
                                               NULL, &err), RM_ERR_FORMAT);
        assert_non_null(strstr(err.message, f->csv));
        if (!strstr(err.message, cases[i].expected))
            fail_msg("%s: '%s'", cases[i].text, err.message);
        assert_int_equal(access(f->session, F_OK), -1);
    }
    rm_device_info info;
    make_roller(&info);
    write_text(f->csv, "t_s,ch0_N\n");
    rm_error err;
    assert_int_equal(rm_session_import_csv(f->csv, f->session, &info, NULL, NULL, &err),
                     RM_OK);
}

static rm_csv_column_map parse_map(const char *text)
{
    rm_csv_column_map map;
    rm_error err;
    if (rm_csv_column_map_parse(&map, text, &err) != RM_OK)
        fail_msg("map: %s", err.message);
    return map;
}

static void a_column_map_reads_another_loggers_names_and_units(void **state)
{
    fixture *f = *state;
    write_text(f->csv, "\"Time (ms)\",Load A,Temp,Load B,Pos\n"
                       "0,10,21.5,2,0\n"
                       "5,10.5,21.5,2.5,15\n"
                       "10,11,hot,3,-4.5\n");
    rm_csv_column_map map = parse_map("Time (ms)=t_ms, Load A=ch0_kg,"
                                      "Load B=ch1_lbf,Pos=position_mm");
    rm_error err;
    if (rm_session_import_csv(f->csv, f->session, NULL, &map, NULL, &err) != RM_OK)
        fail_msg("import: %s", err.message);
    rm_session *s = NULL;
    assert_int_equal(rm_session_open(&s, f->session, &err), RM_OK);
    const rm_device_info *d = rm_session_device(s);
    assert_int_equal(d->channel_count, 2);
    assert_int_equal(d->sample_rate_hz, 200);
    rm_sample got[3];
    size_t n;
    assert_int_equal(rm_session_read(s, 0, got, 3, &n, &err), RM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(got[1].t_us, 5000);
    /* 10.5 kg = 102.97 N and 2.5 lbf = 11.121 N at 1 mN per count */
    assert_int_equal(got[1].counts[0], lround(10.5 * 9.80665 * 1000));
    assert_int_equal(got[1].counts[1], lround(2.5 * 4.4482216152605 * 1000));
    double cm_per_count = M_PI * 15.0 / 4096;
    assert_int_equal(got[1].encoder, lround(1.5 / cm_per_count));
    assert_int_equal(got[2].encoder, lround(-0.45 / cm_per_count));
    rm_session_close(s);
}

static void a_column_map_keeps_naming_the_files_line_and_column(void **state)
{
    fixture *f = *state;
    write_text(f->csv, "time,left\n0,1\n5,heavy\n");
    rm_csv_column_map map = parse_map("time=t_ms,left=ch0_kg");
    rm_error err;
    assert_int_equal(rm_session_import_csv(f->csv, f->session, NULL, &map, NULL, &err),
                     RM_ERR_FORMAT);
    char expected[600];
    snprintf(expected, sizeof expected, "%s:3: column 2 (left): 'heavy' is not a number",
             f->csv);
    assert_string_equal(err.message, expected);
    map = parse_map("time=t_ms,left=ch0_kg,right=ch1_kg");
    assert_int_equal(rm_session_import_csv(f->csv, f->session, NULL, &map, NULL, &err),
                     RM_ERR_FORMAT);
    snprintf(expected, sizeof expected, "%s:1: the column map names 'right' (as "
             "ch1_kg), but the header row has no such column", f->csv);
    assert_string_equal(err.message, expected);
    assert_int_equal(access(f->session, F_OK), -1);
}

static void bad_column_maps_say_which_entry_is_wrong(void **state)
{
    (void)state;
    static const struct { const char *text, *message; } cases[] = {
        {"time", "entry 1 'time' is not FROM=TO"},
        {"time=t_s,left=ch0_stone", "entry 2 (left): 'ch0_stone' is not one of t_s, "
         "t_ms, t_us, ch<N>_N, ch<N>_kg, ch<N>_lbf, ch<N>_counts, encoder, "
         "position_cm, position_mm or mark"},
        {"time=t_s,=ch0_N", "entry 2: the file's column name '' is empty or too long"},
        {"a=t_s,b=t_s", "entry 2 (b=t_s) repeats a name of entry 1"},
        {"", "no FROM=TO entries in ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rm_csv_column_map map;
        rm_error err;
        assert_int_equal(rm_csv_column_map_parse(&map, cases[i].text, &err), RM_ERR_ARG);
        assert_string_equal(err.message, cases[i].message);
    }
}

static void the_generic_device_puts_two_load_cells_at_the_end_caps(void **state)
{
    (void)state;
    rm_device_info d;
    rm_device_info_generic(&d, 2, 100, true);
    assert_true(d.channels[0].position_mm == 0.0f);
    assert_true(d.channels[1].position_mm == d.roller_width_mm);
    rm_device_info_generic(&d, 1, 100, true);
    assert_true(d.channels[0].position_mm == d.roller_width_mm / 2);
    rm_device_info_generic(&d, 3, 100, true);
    assert_true(d.channels[1].position_mm == d.roller_width_mm / 2);
    assert_true(d.channels[2].position_mm == d.roller_width_mm);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(export_writes_comments_then_one_row_per_sample),
        T(export_then_import_round_trips_every_value),
        T(import_converts_newtons_position_and_marks_for_the_generic_device),
        T(import_inverts_a_curved_calibration),
        T(import_errors_name_the_file_line_and_column),
        T(import_refuses_empty_files_and_more_channels_than_the_device),
        T(import_refuses_a_file_without_a_rate),
        T(a_column_map_reads_another_loggers_names_and_units),
        T(a_column_map_keeps_naming_the_files_line_and_column),
        T(bad_column_maps_say_which_entry_is_wrong),
        T(the_generic_device_puts_two_load_cells_at_the_end_caps),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
