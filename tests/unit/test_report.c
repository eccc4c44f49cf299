/* Session reports: JSON, text and HTML from a constructed analysis, the
 * screen-resolution reduction of long series and the report folder. */
#include "testutil.h"
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------ */
/* A constructed analysis: 60 s at 100 Hz rolling a 36 cm hamstring         */
/* ------------------------------------------------------------------------ */

enum { SERIES_N = 6000, BINS = 36 };

/* This cmocka has no floating-point assertion. */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    assert_non_null(p);
    return p;
}

static void fill_series(rm_series *s)
{
    s->n = SERIES_N;
    s->rate_hz = 100;
    s->t_s = xcalloc(SERIES_N, sizeof(double));
    s->force_n = xcalloc(SERIES_N, sizeof(double));
    s->pressure_kpa = xcalloc(SERIES_N, sizeof(double));
    s->position_cm = xcalloc(SERIES_N, sizeof(double));
    s->ml = xcalloc(SERIES_N, sizeof(double));
    s->speed_cm_s = xcalloc(SERIES_N, sizeof(double));
    s->tremor = xcalloc(SERIES_N, sizeof(double));
    s->loaded = xcalloc(SERIES_N, 1);
    s->in_gap = xcalloc(SERIES_N, 1);
    for (size_t i = 0; i < SERIES_N; i++) {
        double t = i / 100.0;
        s->t_s[i] = t;
        s->force_n[i] = 200 + 50 * sin(t);
        s->pressure_kpa[i] = 30 + 5 * sin(t);
        s->position_cm[i] = 18 + 17 * sin(t / 3);
        s->ml[i] = 0.5 * cos(t / 7);
        s->loaded[i] = 1;
    }
}

/** Every array is malloc'd, as rm_analysis_free expects. */
static rm_analysis *make_analysis(void)
{
    rm_analysis *a = xcalloc(1, sizeof *a);
    rm_analysis_config_default(&a->config);
    strcpy(a->meta.session_id, "20261124T060724Z-3f2a");
    strcpy(a->meta.client, "C-0042");
    a->meta.side = RM_SIDE_LEFT;
    strcpy(a->meta.muscle, "hamstring");
    a->meta.start_unix_us = 1795500444000000; /* 2026-11-24T06:07:24Z */
    strcpy(a->meta.notes, "Felt tight distally.");
    strcpy(a->device.model, "RollMap R8");
    a->device.device_kind = RM_DEVICE_ROLLER;
    a->device.sample_rate_hz = 1000;
    a->device.channel_count = 8;
    a->has_position = a->has_pressure = true;
    a->summary = (rm_summary){.duration_s = 60, .rolled_length_cm = 412.5,
        .time_under_load_s = 55.5, .mean_force_n = 201.25, .peak_force_n = 250,
        .mean_pressure_kpa = 30.5, .peak_pressure_kpa = 35, .strokes = 12,
        .cadence_per_min = 12, .mean_speed_cm_s = 2.25, .time_too_fast_s = 4,
        .vibration_hz = 0};
    a->quality = (rm_quality){.gaps = 1, .gap_s = 0.5, .lost_samples = 500,
        .crc_errors = 3, .saturation_pct = 0.25, .calibration_age_days = NAN,
        .mains_hum_removed = true, .mains_hz = 50};
    fill_series(&a->series);
    a->dwell_count = 1;
    a->dwells = xcalloc(1, sizeof *a->dwells);
    a->dwells[0] = (rm_dwell){.start_s = 10, .end_s = 45, .duration_s = 35,
        .position_cm = 24.5, .position_pct = 68, .ml = -0.4,
        .side = RM_ML_SIDE_MEDIAL, .mean_force_n = 180, .peak_force_n = 230,
        .mean_pressure_kpa = NAN, .peak_pressure_kpa = NAN,
        .pressure_time_kpa_s = NAN, .force_stability = 0.08,
        .tremor_power = 0.5, .marks = 1};
    a->spot_count = 1;
    a->spots = xcalloc(1, sizeof *a->spots);
    a->spots[0] = (rm_spot){.position_cm = 25, .position_pct = 69, .ml = -0.4,
        .side = RM_ML_SIDE_MEDIAL, .score = 7.5, .confidence = 0.8,
        .evidence = {.dwell_s = 35, .slowing = 0.6, .unloading = 0.3,
                     .tremor = 0.7, .marks = 1, .mark_rating = -1},
        .threshold_force_n = 190, .threshold_pressure_kpa = NAN};
    a->mark_count = 1;
    a->marks = xcalloc(1, sizeof *a->marks);
    a->marks[0] = (rm_mark){.t_s = 20, .position_cm = 25, .force_n = 190,
        .pressure_kpa = NAN, .rating = -1, .spot = 0};
    a->bin_count = BINS;
    a->profile = xcalloc(BINS, sizeof *a->profile);
    for (size_t b = 0; b < BINS; b++)
        a->profile[b] = (rm_profile_bin){.position_cm = b + 0.5, .time_s = 1.5,
            .mean_force_n = 200 - b, .peak_force_n = 240 - b,
            .mean_pressure_kpa = 30, .tenderness = b == 25 ? 7.5 : 1};
    return a;
}

/** Read what was written to f back as a string; the caller frees it. */
static char *read_back(FILE *f)
{
    long len = ftell(f);
    assert_true(len >= 0);
    char *text = malloc((size_t)len + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    return text;
}

/** Run a report writer into memory; the caller frees the text. */
static char *capture(rm_status (*writer)(const rm_analysis *, FILE *, rm_error *),
                     const rm_analysis *a)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    rm_error err = {0};
    assert_int_equal(writer(a, f, &err), RM_OK);
    return read_back(f);
}

static rm_status html_without_graphs(const rm_analysis *a, FILE *out,
                                     rm_error *err)
{
    return rm_report_html(a, NULL, out, err);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */
/* ------------------------------------------------------------------------ */

static rm_json *parse_report(const rm_analysis *a, char **text)
{
    *text = capture(rm_report_json, a);
    rm_json *root = NULL;
    rm_error err = {0};
    assert_int_equal(rm_json_parse(&root, *text, strlen(*text), &err), RM_OK);
    return root;
}

static double number_at(const rm_json *obj, const char *key)
{
    const rm_json *v = rm_json_get(obj, key);
    assert_non_null(v);
    assert_int_equal(rm_json_type_of(v), RM_JSON_NUMBER);
    return rm_json_as_number(v, NAN);
}

static void assert_null_member(const rm_json *obj, const char *key)
{
    const rm_json *v = rm_json_get(obj, key);
    assert_non_null(v);
    assert_int_equal(rm_json_type_of(v), RM_JSON_NULL);
}

static void json_parses_back_with_session_and_summary(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *text;
    rm_json *root = parse_report(a, &text);
    const rm_json *session = rm_json_get(root, "session");
    assert_string_equal(rm_json_as_string(rm_json_get(session, "client"), ""), "C-0042");
    assert_string_equal(rm_json_as_string(rm_json_get(session, "side"), ""), "left");
    assert_string_equal(rm_json_as_string(rm_json_get(session, "start"), ""),
                        "2026-11-24T06:07:24Z");
    assert_near(number_at(session, "duration_s"), 60, 1e-9);
    const rm_json *summary = rm_json_get(root, "summary");
    assert_near(number_at(summary, "rolled_length_cm"), 412.5, 1e-9);
    assert_near(number_at(summary, "time_under_load_s"), 55.5, 1e-9);
    assert_near(number_at(summary, "mean_force_n"), 201.25, 1e-9);
    assert_near(number_at(summary, "strokes"), 12, 0);
    assert_near(number_at(summary, "cadence_per_min"), 12, 1e-9);
    rm_json_free(root);
    free(text);
    rm_analysis_free(a);
}

/* A member added to rm_summary without a row in the table would be missing
 * from every summary: the rows must cover the struct exactly. */
static void summary_fields_cover_every_summary_member(void **state)
{
    (void)state;
    size_t count, covered = 0;
    const rm_summary_field *fields = rm_summary_fields(&count);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(fields[i].offset, fields[j].offset);
        covered += fields[i].is_count ? sizeof(size_t) : sizeof(double);
    }
    assert_int_equal(covered, sizeof(rm_summary));
}

static void every_summary_field_is_in_the_json_and_the_text(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *json;
    rm_json *root = parse_report(a, &json);
    const rm_json *summary = rm_json_get(root, "summary");
    char *text = capture(rm_report_text, a);
    size_t count;
    const rm_summary_field *fields = rm_summary_fields(&count);
    assert_int_equal(rm_json_length(summary), count);
    for (size_t i = 0; i < count; i++) {
        assert_non_null(rm_json_get(summary, fields[i].key));
        char label[64];
        rm_summary_field_label(label, &fields[i], &a->config);
        if (fields[i].label)
            assert_non_null(strstr(text, label));
    }
    assert_non_null(strstr(text, "Faster than 2.5 cm/s"));
    free(text);
    rm_json_free(root);
    free(json);
    rm_analysis_free(a);
}

static void json_dwells_spots_and_marks_carry_their_values(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *text;
    rm_json *root = parse_report(a, &text);
    const rm_json *dwells = rm_json_get(root, "dwells");
    assert_int_equal(rm_json_length(dwells), 1);
    const rm_json *d = rm_json_at(dwells, 0);
    assert_near(number_at(d, "start_s"), 10, 1e-9);
    assert_near(number_at(d, "position_cm"), 24.5, 1e-9);
    assert_near(number_at(d, "position_pct"), 68, 1e-9);
    assert_near(number_at(d, "mean_force_n"), 180, 1e-9);
    assert_string_equal(rm_json_as_string(rm_json_get(d, "side"), ""), "medial");
    assert_true(rm_json_as_bool(rm_json_get(d, "reached_target_hold"), false));
    const rm_json *spot = rm_json_at(rm_json_get(root, "tender_spots"), 0);
    assert_near(number_at(spot, "score"), 7.5, 1e-9);
    assert_near(number_at(spot, "confidence"), 0.8, 1e-9);
    const rm_json *evidence = rm_json_get(spot, "evidence");
    assert_near(number_at(evidence, "slowing"), 0.6, 1e-9);
    assert_near(number_at(evidence, "dwell_s"), 35, 1e-9);
    const rm_json *mark = rm_json_at(rm_json_get(root, "marks"), 0);
    assert_near(number_at(mark, "spot"), 0, 0);
    assert_int_equal(rm_json_length(rm_json_get(root, "profile")), BINS);
    rm_json_free(root);
    free(text);
    rm_analysis_free(a);
}

static void json_writes_nan_and_none_as_null(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *text;
    rm_json *root = parse_report(a, &text);
    const rm_json *d = rm_json_at(rm_json_get(root, "dwells"), 0);
    assert_null_member(d, "mean_pressure_kpa");
    const rm_json *spot = rm_json_at(rm_json_get(root, "tender_spots"), 0);
    assert_null_member(rm_json_get(spot, "evidence"), "mark_rating");
    assert_null_member(spot, "threshold_pressure_kpa");
    assert_null_member(rm_json_at(rm_json_get(root, "marks"), 0), "rating");
    const rm_json *quality = rm_json_get(root, "quality");
    assert_null_member(quality, "calibration_age_days");
    assert_near(number_at(quality, "crc_errors"), 3, 0);
    assert_near(number_at(quality, "gaps"), 1, 0);
    assert_near(number_at(quality, "saturation_pct"), 0.25, 1e-9);
    rm_json_free(root);
    free(text);
    rm_analysis_free(a);
}

/* ------------------------------------------------------------------------ */
/* HTML                                                                     */
/* ------------------------------------------------------------------------ */

static void html_escapes_hostile_client_text(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    strcpy(a->meta.client, "<script>&\"");
    strcpy(a->meta.notes, "<img src=x onerror=alert(1)> it's fine");
    strcpy(a->meta.muscle, "ham<b>string");
    strcpy(a->device.model, "</table>");
    char *html = capture(html_without_graphs, a);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "ham<b>"));
    assert_null(strstr(html, "</table>\n</table>"));
    assert_non_null(strstr(html, "&lt;script&gt;&amp;&quot;"));
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt; it&#39;s fine"));
    assert_non_null(strstr(html, "ham&lt;b&gt;string"));
    free(html);
    rm_analysis_free(a);
}

static void html_has_every_section_and_no_external_reference(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *html = capture(html_without_graphs, a);
    const char *sections[] = {"<h2>Summary</h2>", "<h2>Hamstring map</h2>",
                              "<h2>Tender spots</h2>", "<h2>Dwells</h2>",
                              "Recording quality", "Graphs</h2>", "@page{size:A4"};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        assert_non_null(strstr(html, sections[i]));
    /* A left leg seen from behind has its lateral side on the left. */
    const char *lateral = strstr(html, ">lateral</text>");
    const char *medial = strstr(html, ">medial</text>");
    assert_true(lateral && medial && lateral < medial);
    assert_null(strstr(html, "http:"));
    assert_null(strstr(html, "https:"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "</p class"));
    free(html);
    rm_analysis_free(a);
}

/* The map says why a spot of unknown side sits on the centre line, and
 * only when there is one. */
static void html_map_explains_a_spot_of_unknown_side(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *html = capture(html_without_graphs, a);
    assert_null(strstr(html, "A spot of unknown side"));
    free(html);
    a->spots[0].side = RM_ML_SIDE_UNKNOWN;
    html = capture(html_without_graphs, a);
    assert_non_null(strstr(html, "A spot of unknown side"));
    assert_non_null(strstr(html, "<td class=\"l\">unknown</td>"));
    free(html);
    rm_analysis_free(a);
}

static void html_embeds_svg_with_prefixed_ids(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *dir = testutil_mkdtemp();
    char *svg_path = testutil_path(dir, "force.svg");
    const char svg[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"  standalone=\"no\"?>\n"
        "<svg \n viewBox=\"0 0 10 10\"\n xmlns=\"http://www.w3.org/2000/svg\"\n"
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\"\n>\n"
        "<defs><path id='gpPt0' d='M0,0'/><clipPath id='gpclip1'></clipPath></defs>\n"
        "<use xlink:href='#gpPt0'/><g clip-path=\"url(#gpclip1)\"></g></svg>\n";
    assert_int_equal(testutil_write_file(svg_path, svg, strlen(svg)), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    rm_error err = {0};
    assert_int_equal(rm_report_html(a, dir, f, &err), RM_OK);
    char *text = read_back(f);
    assert_non_null(strstr(text, "id='force-gpPt0'"));
    assert_non_null(strstr(text, "xlink:href='#force-gpPt0'"));
    assert_non_null(strstr(text, "url(#force-gpclip1)"));
    assert_null(strstr(text, "<?xml"));
    assert_null(strstr(text, "http"));
    free(text);
    free(svg_path);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

static void assert_lines_fit(const char *text, size_t width)
{
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > width)
            fail_msg("line wider than %zu: '%.*s'", width, (int)len, line);
        line += len + (line[len] == '\n');
    }
}

static void text_never_exceeds_80_columns(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    memset(a->meta.client, 'C', sizeof a->meta.client - 1);
    memset(a->meta.muscle, 'M', sizeof a->meta.muscle - 1);
    memset(a->device.model, 'D', sizeof a->device.model - 1);
    for (size_t i = 0; i + 1 < sizeof a->meta.notes; i++)
        a->meta.notes[i] = i % 97 == 0 ? ' ' : 'n';
    a->meta.notes[sizeof a->meta.notes - 1] = '\0';
    a->dwells[0].duration_s = 3599.9;
    a->dwells[0].mean_force_n = 99999.9;
    a->summary.duration_s = 36000;
    char *text = capture(rm_report_text, a);
    assert_lines_fit(text, 80);
    assert_non_null(strstr(text, "Tender spots"));
    free(text);
    rm_analysis_free(a);
}

static void text_replaces_control_characters_in_client_text(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    strcpy(a->meta.client, "C\x1b[31m-1");
    strcpy(a->meta.notes, "red\x1b]0;title\x07 text");
    char *text = capture(rm_report_text, a);
    assert_null(strchr(text, '\x1b'));
    assert_null(strchr(text, '\x07'));
    assert_non_null(strstr(text, "C?[31m-1"));
    free(text);
    rm_analysis_free(a);
}

static void text_says_why_a_ball_has_no_map(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    a->has_position = false;
    a->device.device_kind = RM_DEVICE_BALL;
    char *text = capture(rm_report_text, a);
    assert_non_null(strstr(text, "no rotation encoder"));
    char *html = capture(html_without_graphs, a);
    assert_non_null(strstr(html, "No map: the device has no rotation encoder"));
    assert_null(strstr(html, "aria-label=\"hamstring map\""));
    assert_non_null(report_graph_missing_reason(a, REPORT_GRAPH_MAP));
    assert_non_null(report_graph_missing_reason(a, REPORT_GRAPH_PROFILE));
    assert_null(report_graph_missing_reason(a, REPORT_GRAPH_FORCE));
    free(html);
    free(text);
    rm_analysis_free(a);
}

/* "pos cm 31.6": from the knee or from the gluteal fold? The header says,
 * in the text and in the HTML; a ball has no positions to explain. */
static void reports_say_where_positions_are_measured_from(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    const char *line = "Positions             cm from the gluteal fold; "
                       "% of the rolled length\n";
    char *text = capture(rm_report_text, a);
    assert_non_null(strstr(text, line));
    free(text);
    text = capture(html_without_graphs, a);
    assert_non_null(strstr(text, "<th class=\"l\">Positions</th><td class=\"l\">"
                                 "cm from the gluteal fold; % of the rolled "
                                 "length</td>"));
    free(text);
    a->has_position = false;
    text = capture(rm_report_text, a);
    assert_null(strstr(text, "Positions"));
    free(text);
    rm_analysis_free(a);
}

static void text_says_how_an_unknown_side_is_read(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *text = capture(rm_report_text, a);
    assert_non_null(strstr(text, "Side                  left\n"));
    free(text);
    a->meta.side = RM_SIDE_UNKNOWN;
    text = capture(rm_report_text, a);
    assert_non_null(strstr(text, "Side                  unknown (medial, "
                                 "lateral as on a right leg)\n"));
    free(text);
    rm_analysis_free(a);
}

/* ------------------------------------------------------------------------ */
/* Screen-resolution reduction                                              */
/* ------------------------------------------------------------------------ */

static void reduction_keeps_every_column_extreme(void **state)
{
    (void)state;
    enum { N = 100000, COLUMNS = 500 };
    double *y = malloc(N * sizeof *y);
    size_t *keep = malloc(2 * COLUMNS * sizeof *keep);
    for (size_t i = 0; i < N; i++)
        y[i] = sin(i * 0.001) + 0.01 * (double)((i * 7919) % 101);
    y[12345] = 50;   /* a one-sample spike */
    y[67890] = -50;  /* and a dip */
    size_t kept = report_minmax_reduce(y, N, COLUMNS, keep);
    assert_true(kept <= 2 * COLUMNS && kept >= COLUMNS);
    bool spike = false, dip = false;
    for (size_t k = 0; k < kept; k++) {
        spike |= keep[k] == 12345;
        dip |= keep[k] == 67890;
        if (k > 0)
            assert_true(keep[k] > keep[k - 1]);
    }
    assert_true(spike && dip);
    /* Each column's own maximum survives. */
    for (size_t c = 0; c < COLUMNS; c++) {
        size_t from = (size_t)N * c / COLUMNS, to = (size_t)N * (c + 1) / COLUMNS;
        size_t best = from;
        for (size_t i = from; i < to; i++)
            if (y[i] > y[best])
                best = i;
        bool found = false;
        for (size_t k = 0; k < kept && !found; k++)
            found = keep[k] == best;
        assert_true(found);
    }
    free(keep);
    free(y);
}

static void reduction_keeps_short_series_whole(void **state)
{
    (void)state;
    double y[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    size_t keep[10];
    assert_int_equal(report_minmax_reduce(y, 10, 5, keep), 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(keep[i], i);
}

static void reduction_keeps_a_break_for_a_column_of_nan(void **state)
{
    (void)state;
    double y[40];
    size_t keep[8];
    for (size_t i = 0; i < 40; i++)
        y[i] = i >= 10 && i < 20 ? NAN : (double)i;
    size_t kept = report_minmax_reduce(y, 40, 4, keep);
    bool has_nan = false;
    for (size_t k = 0; k < kept; k++)
        has_nan |= isnan(y[keep[k]]);
    assert_true(has_nan);
    assert_int_equal(kept, 7);
}

/* ------------------------------------------------------------------------ */
/* Formats and the report folder                                            */
/* ------------------------------------------------------------------------ */

static void graph_format_names_parse(void **state)
{
    (void)state;
    rm_graph_format fmt = RM_GRAPH_PNG;
    assert_int_equal(rm_graph_format_parse("svg", &fmt), RM_OK);
    assert_int_equal(fmt, RM_GRAPH_SVG);
    assert_int_equal(rm_graph_format_parse("PDF", &fmt), RM_OK);
    assert_int_equal(fmt, RM_GRAPH_PDF);
    assert_int_equal(rm_graph_format_parse("png", &fmt), RM_OK);
    assert_int_equal(fmt, RM_GRAPH_PNG);
    assert_int_equal(rm_graph_format_parse("gif", &fmt), RM_ERR_ARG);
}

static bool file_exists(const char *dir, const char *name)
{
    char *path = testutil_path(dir, name);
    struct stat st;
    bool ok = stat(path, &st) == 0 && st.st_size > 0;
    free(path);
    return ok;
}

/** Run rm_report_write_dir with PATH set to dir only. */
static rm_status write_dir_with_path(const rm_analysis *a, const char *path_dir,
                                     const char *out, rm_graphs_result *res,
                                     rm_error *err)
{
    char *saved_path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", path_dir, 1);
    rm_status st = rm_report_write_dir(a, out, RM_GRAPH_PNG, res, err);
    setenv("PATH", saved_path, 1);
    free(saved_path);
    return st;
}

static void report_dir_without_gnuplot_still_writes_reports(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *dir = testutil_mkdtemp();
    char *out = testutil_path(dir, "out/report");
    rm_graphs_result res;
    rm_error err = {0};
    /* PATH is an empty folder: no gnuplot in it. */
    assert_int_equal(write_dir_with_path(a, dir, out, &res, &err), RM_OK);
    assert_false(res.gnuplot_found);
    assert_int_equal(res.rendered, 0);
    assert_non_null(strstr(res.message, "gnuplot"));
    const char *files[] = {"report.json", "summary.txt", "report.html",
                           "graphs/force.gp", "graphs/force.dat",
                           "graphs/profile.gp", "graphs/map.gp", "graphs/map.dat",
                           "graphs/dwells.gp"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!file_exists(out, files[i]))
            fail_msg("%s missing", files[i]);
    assert_false(file_exists(out, ".report.json.tmp"));
    free(out);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

/** The text of one file of out (freed by the caller). */
static char *out_text(const char *out, const char *name)
{
    char *text = testutil_read_text(out, name);
    assert_non_null(text);
    return text;
}

static void graph_scripts_keep_axes_and_legends_readable(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    enum { FRAMES = 10, BINS_SG = 4 };
    a->spectrogram = (rm_spectrogram){.frames = FRAMES, .bins = BINS_SG,
                                      .dt_s = 6, .df_hz = 10};
    a->spectrogram.power = xcalloc(FRAMES * BINS_SG, sizeof(double));
    for (size_t i = 0; i < FRAMES * BINS_SG; i++)
        a->spectrogram.power[i] = 1.0;
    a->psd_bins = BINS_SG;
    a->psd_df_hz = 10;
    a->psd = xcalloc(BINS_SG, sizeof(double));
    char *dir = testutil_mkdtemp();
    char *out = testutil_path(dir, "out/report");
    rm_graphs_result res;
    rm_error err = {0};
    assert_int_equal(write_dir_with_path(a, dir, out, &res, &err), RM_OK);
    char *force = out_text(out, "graphs/force.gp");
    assert_non_null(strstr(force, "set yrange [0:*]"));  /* not down to -100 N */
    char *map = out_text(out, "graphs/map.gp");
    assert_non_null(strstr(map, "set key inside"));      /* not below the axis */
    char *dwells = out_text(out, "graphs/dwells.gp");
    assert_non_null(strstr(dwells, "set xlabel \"dwell (number and position)\" "
                                   "offset 0,-1"));
    char *spectrum = out_text(out, "graphs/spectrum.gp");
    assert_null(strstr(spectrum, "dB re"));
    assert_non_null(strstr(spectrum, "shaking: bright strong, dark faint"));
    free(force);
    free(map);
    free(dwells);
    free(spectrum);
    free(out);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

static void report_dir_that_is_a_file_is_an_error_naming_it(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *dir = testutil_mkdtemp();
    char *file = testutil_path(dir, "taken");
    assert_int_equal(testutil_write_file(file, "x", 1), 0);
    rm_graphs_result res;
    rm_error err = {0};
    assert_int_equal(rm_report_write_dir(a, file, RM_GRAPH_PNG, &res, &err), RM_ERR_IO);
    assert_non_null(strstr(err.message, file));
    free(file);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

/** Count the NaN and the numeric values of column 2 (0-based) of a data
 *  file, checking that NaN appears exactly where 20 <= t < 40. */
static void count_gap_rows(const char *dir, const char *name, int column,
                           size_t *blank, size_t *measured)
{
    char *path = testutil_path(dir, name);
    size_t len;
    char *data = (char *)testutil_read_file(path, &len);
    assert_non_null(data);
    *blank = *measured = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        double t;
        char fields[3][32];
        if (line[0] == '#' || sscanf(line, "%lf %31s %31s", &t, fields[1],
                                     fields[2]) < column + 1)
            continue;
        bool nan = !strcmp(fields[column], "NaN");
        if (nan != (t >= 20 && t < 40))
            fail_msg("%s: t = %g is %s", name, t, nan ? "NaN" : "a value");
        nan ? (*blank)++ : (*measured)++;
    }
    free(data);
    free(path);
}

static void gaps_are_blank_in_the_graph_data(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    enum { FRAMES = 10, BINS_SG = 4 };
    a->spectrogram = (rm_spectrogram){.frames = FRAMES, .bins = BINS_SG,
                                      .dt_s = 6, .df_hz = 10};
    a->spectrogram.power = xcalloc(FRAMES * BINS_SG, sizeof(double));
    for (size_t i = 0; i < FRAMES * BINS_SG; i++)
        a->spectrogram.power[i] = 1.0;
    a->psd_bins = BINS_SG;
    a->psd_df_hz = 10;
    a->psd = xcalloc(BINS_SG, sizeof(double));
    for (size_t i = 2000; i < 4000; i++) /* 20 s to 40 s */
        a->series.in_gap[i] = 1;
    char *dir = testutil_mkdtemp();
    rm_graphs_result res;
    rm_error err = {0};
    assert_int_equal(write_dir_with_path(a, dir, dir, &res, &err), RM_OK);
    size_t blank, measured;
    count_gap_rows(dir, "graphs/spectrogram.dat", 2, &blank, &measured);
    assert_int_equal(blank, 4 * BINS_SG);   /* frames centred at 21, 27, 33, 39 s */
    assert_int_equal(measured, 6 * BINS_SG);
    count_gap_rows(dir, "graphs/force.dat", 1, &blank, &measured);
    assert_true(blank > 0 && measured > 0);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

/* The colour scale tops at the strongest cell drawn, never at one inside
 * a gap, and is in the script itself: gnuplot reads the data once. */
static void spectrogram_colour_scale_tops_at_its_strongest_drawn_cell(
    void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    enum { FRAMES = 10, BINS_SG = 4 };
    a->spectrogram = (rm_spectrogram){.frames = FRAMES, .bins = BINS_SG,
                                      .dt_s = 6, .df_hz = 10};
    a->spectrogram.power = xcalloc(FRAMES * BINS_SG, sizeof(double));
    for (size_t i = 0; i < FRAMES * BINS_SG; i++)
        a->spectrogram.power[i] = i >= 3 * BINS_SG && i < 7 * BINS_SG
                                      ? 1e6  /* frames in the gap */
                                      : 1.0;
    a->spectrogram.power[8 * BINS_SG + 1] = 100.0; /* 20 dB */
    a->psd_bins = BINS_SG;
    a->psd_df_hz = 10;
    a->psd = xcalloc(BINS_SG, sizeof(double));
    for (size_t i = 0; i < BINS_SG; i++)
        a->psd[i] = 1.0;
    for (size_t i = 2000; i < 4000; i++) /* 20 s to 40 s */
        a->series.in_gap[i] = 1;
    char *dir = testutil_mkdtemp();
    rm_graphs_result res;
    rm_error err = {0};
    if (rm_report_write_dir(a, dir, RM_GRAPH_PNG, &res, &err) != RM_OK)
        fail_msg("%s", err.message);
    char *spectrum = out_text(dir, "graphs/spectrum.gp");
    assert_non_null(strstr(spectrum, "set cbrange [-60 : 20]"));
    assert_null(strstr(spectrum, "stats"));
    if (res.gnuplot_found) {
        assert_true(file_exists(dir, "graphs/spectrum.png"));
        assert_true(res.gnuplot_cpu_s > 0 && res.gnuplot_s > 0);
    }
    free(spectrum);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
    if (!res.gnuplot_found)
        skip(); /* the graph was not drawn: say so instead of passing */
}

/* A spectrogram with no cell to colour (a short session that is mostly
 * gap, or silence): gnuplot refuses an image of NaN only, so the graph
 * must leave that panel out and still draw the PSD. */
static void spectrum_without_a_drawable_spectrogram_still_renders(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    enum { FRAMES = 10, BINS_SG = 4 };
    a->spectrogram = (rm_spectrogram){.frames = FRAMES, .bins = BINS_SG,
                                      .dt_s = 6, .df_hz = 10};
    a->spectrogram.power = xcalloc(FRAMES * BINS_SG, sizeof(double));
    a->psd_bins = BINS_SG;
    a->psd_df_hz = 10;
    a->psd = xcalloc(BINS_SG, sizeof(double));
    for (size_t i = 0; i < BINS_SG; i++)
        a->psd[i] = 1.0 + (double)i;
    char *dir = testutil_mkdtemp();
    rm_graphs_result res;
    rm_error err = {0};
    rm_status st = rm_report_write_dir(a, dir, RM_GRAPH_PNG, &res, &err);
    if (st != RM_OK)
        fail_msg("%s", err.message);
    if (res.gnuplot_found)
        assert_true(file_exists(dir, "graphs/spectrum.png"));
    assert_false(file_exists(dir, "graphs/spectrogram.dat"));
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
    if (!res.gnuplot_found)
        skip(); /* the graph was not drawn: say so instead of passing */
}

static void failing_gnuplot_is_an_error_but_the_html_is_written(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *dir = testutil_mkdtemp();
    char *fake = testutil_path(dir, "gnuplot");
    const char script[] = "#!/bin/sh\necho 'line 7: no such terminal' >&2\nexit 1\n";
    assert_int_equal(testutil_write_file(fake, script, strlen(script)), 0);
    assert_int_equal(chmod(fake, 0755), 0);
    char *out = testutil_path(dir, "report");
    rm_graphs_result res;
    rm_error err = {0};
    assert_int_equal(write_dir_with_path(a, dir, out, &res, &err), RM_ERR_IO);
    assert_true(res.gnuplot_found);
    assert_non_null(strstr(err.message, ".gp: gnuplot failed"));
    assert_non_null(strstr(err.message, "line 7: no such terminal"));
    assert_true(file_exists(out, "report.html"));
    assert_true(file_exists(out, "report.json"));
    free(out);
    free(fake);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

static void graphs_of_an_earlier_report_are_not_embedded(void **state)
{
    (void)state;
    rm_analysis *a = make_analysis();
    char *dir = testutil_mkdtemp();
    char *out = testutil_path(dir, "report");
    char *graphs = testutil_path(out, "graphs");
    char *old_svg = testutil_path(graphs, "force.svg");
    rm_error err = {0};
    assert_int_equal(rm_make_dirs(graphs, REPORT_DIR_MODE, &err), RM_OK);
    const char svg[] = "<svg><desc>from last week</desc></svg>";
    assert_int_equal(testutil_write_file(old_svg, svg, strlen(svg)), 0);
    rm_graphs_result res;
    assert_int_equal(write_dir_with_path(a, dir, out, &res, &err), RM_OK);
    assert_false(res.gnuplot_found);
    char *html_path = testutil_path(out, "report.html");
    size_t len;
    char *html = (char *)testutil_read_file(html_path, &len);
    assert_non_null(html);
    assert_null(memmem(html, len, "from last week", 14));
    free(html);
    free(html_path);
    free(old_svg);
    free(graphs);
    free(out);
    testutil_rmdir(dir);
    free(dir);
    rm_analysis_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_parses_back_with_session_and_summary),
        cmocka_unit_test(summary_fields_cover_every_summary_member),
        cmocka_unit_test(every_summary_field_is_in_the_json_and_the_text),
        cmocka_unit_test(json_dwells_spots_and_marks_carry_their_values),
        cmocka_unit_test(json_writes_nan_and_none_as_null),
        cmocka_unit_test(html_escapes_hostile_client_text),
        cmocka_unit_test(html_has_every_section_and_no_external_reference),
        cmocka_unit_test(html_map_explains_a_spot_of_unknown_side),
        cmocka_unit_test(html_embeds_svg_with_prefixed_ids),
        cmocka_unit_test(text_never_exceeds_80_columns),
        cmocka_unit_test(text_replaces_control_characters_in_client_text),
        cmocka_unit_test(text_says_why_a_ball_has_no_map),
        cmocka_unit_test(text_says_how_an_unknown_side_is_read),
        cmocka_unit_test(reports_say_where_positions_are_measured_from),
        cmocka_unit_test(reduction_keeps_every_column_extreme),
        cmocka_unit_test(reduction_keeps_short_series_whole),
        cmocka_unit_test(reduction_keeps_a_break_for_a_column_of_nan),
        cmocka_unit_test(graph_format_names_parse),
        cmocka_unit_test(report_dir_without_gnuplot_still_writes_reports),
        cmocka_unit_test(report_dir_that_is_a_file_is_an_error_naming_it),
        cmocka_unit_test(graph_scripts_keep_axes_and_legends_readable),
        cmocka_unit_test(failing_gnuplot_is_an_error_but_the_html_is_written),
        cmocka_unit_test(graphs_of_an_earlier_report_are_not_embedded),
        cmocka_unit_test(gaps_are_blank_in_the_graph_data),
        cmocka_unit_test(spectrum_without_a_drawable_spectrogram_still_renders),
        cmocka_unit_test(spectrogram_colour_scale_tops_at_its_strongest_drawn_cell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
