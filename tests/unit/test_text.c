/* Text mode and device profiles: the shipped profiles, line decoding, bad
 * lines and bad profiles. */
#include "testutil.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SAMPLES 32

static void profile_from_text(rm_profile *p, const char *text)
{
    rm_ini *ini;
    rm_error err;
    if (rm_ini_parse(&ini, text, "p.ini", &err) != RM_OK)
        fail_msg("%s", err.message);
    rm_status st = rm_profile_from_ini(p, ini, &err);
    rm_ini_free(ini);
    if (st != RM_OK)
        fail_msg("%s", err.message);
}

/* Decodes text fed in pieces of `piece` bytes. */
static size_t decode_text(rm_text_decoder *d, const char *text, size_t piece,
                          rm_sample *out)
{
    size_t len = strlen(text), at = 0, n = 0;
    while (at < len) {
        size_t end = at + piece < len ? at + piece : len;
        while (at < end) {
            bool have;
            at += rm_text_decoder_push(d, (const uint8_t *)text + at, end - at,
                                       &out[n], &have);
            if (have) {
                assert_true(n < MAX_SAMPLES - 1);
                n++;
            }
        }
    }
    return n;
}

static const char hx711_minimal[] =
    "[device]\nmodel = m\nsample_rate_hz = 80\n"
    "encoder_counts_per_turn = 2400\nroller_diameter_mm = 150\n"
    "[text]\ncolumns = time, ch1, ch2, encoder\n"
    "[ch1]\ngain_n_per_count = 0.001\n[ch2]\ngain_n_per_count = 0.001\n";

/* ------------------------------------------------------------------------ */

static void hx711_profile_loads_device_and_columns(void **state)
{
    (void)state;
    rm_profile p;
    testutil_load_shipped_profile(&p, "hx711-arduino.ini");
    assert_string_equal(p.info.model, "DIY HX711 roller");
    assert_int_equal(p.info.device_kind, RM_DEVICE_ROLLER);
    assert_int_equal(p.info.sample_rate_hz, 80);
    assert_int_equal(p.baud, 115200);
    assert_int_equal(p.info.channel_count, 2);
    assert_int_equal(p.info.encoder_counts_per_turn, 2400);
    assert_int_equal(p.info.distal_direction, 1);
    assert_int_equal(p.separator, ',');
    assert_int_equal(p.skip_lines, 1);
    assert_true(p.has_time_column);
    assert_int_equal(p.column_count, 4);
    assert_int_equal(p.columns[0].kind, RM_COL_TIME);
    assert_true(p.columns[0].scale == 1000.0);
    assert_int_equal(p.columns[2].kind, RM_COL_CHANNEL);
    assert_int_equal(p.columns[2].channel_index, 1);
    assert_int_equal(p.columns[3].kind, RM_COL_ENCODER);
    assert_true(p.info.channels[1].position_mm == 330.0f);
    assert_true(p.info.channels[0].cal.coef[1] == (double)0.000265f);
    assert_string_equal(p.info.channels[0].cal.origin, "profile");
}

static void as5600_profile_loads_usb_ids_and_mark_column(void **state)
{
    (void)state;
    rm_profile p;
    testutil_load_shipped_profile(&p, "as5600-2cell.ini");
    assert_int_equal(p.info.usb_vid, 0x1a86);
    assert_int_equal(p.info.usb_pid, 0x7523);
    assert_int_equal(p.info.distal_direction, -1);
    assert_int_equal(p.separator, ';');
    assert_int_equal(p.baud, 230400);
    assert_int_equal(p.columns[4].kind, RM_COL_MARK);
    assert_true(p.columns[0].scale == 1.0);
}

static void hx711_lines_become_samples(void **state)
{
    (void)state;
    rm_profile p;
    testutil_load_shipped_profile(&p, "hx711-arduino.ini");
    const char text[] = "t_ms,raw1,raw2,enc\r\n"
                        "15320,84211,-1022,1180\r\n"
                        "15332, 84300 , -1000,1181\r\n"
                        "\r\n"
                        "15345,-8388608,8388607,-3\n";
    rm_text_decoder d;
    rm_sample s[MAX_SAMPLES];
    rm_text_decoder_init(&d, &p);
    assert_int_equal(decode_text(&d, text, sizeof text, s), 3);
    assert_int_equal(s[0].t_us, 15320000);
    assert_int_equal(s[0].counts[0], 84211);
    assert_int_equal(s[0].counts[1], -1022);
    assert_int_equal(s[0].encoder, 1180);
    assert_int_equal(s[1].counts[0], 84300);
    assert_int_equal(s[2].counts[0], -8388608);
    assert_int_equal(s[2].encoder, -3);
    assert_int_equal(d.stats.lines_ok, 3);
    assert_int_equal(d.stats.lines_skipped, 1);
    assert_int_equal(d.stats.lines_bad, 0);
}

static void any_piece_size_gives_the_same_samples(void **state)
{
    (void)state;
    rm_profile p;
    testutil_load_shipped_profile(&p, "as5600-2cell.ini");
    const char text[] = "boot ok\n# comment\n"
                        "1000;1;2;3;0\r2000;4;5;6;1\r\n3000;x;5;6;1\n"
                        "4000;7;8;-9;0\n";
    rm_text_decoder d;
    rm_sample ref[MAX_SAMPLES], got[MAX_SAMPLES];
    rm_text_decoder_init(&d, &p);
    size_t n = decode_text(&d, text, sizeof text, ref);
    assert_int_equal(n, 3);
    assert_true(ref[1].flags & RM_SAMPLE_MARK);
    assert_false(ref[2].flags & RM_SAMPLE_MARK);
    rm_text_stats stats = d.stats;
    assert_int_equal(stats.lines_bad, 1);
    assert_int_equal(stats.lines_skipped, 2);
    for (size_t piece = 1; piece < sizeof text; piece++) {
        rm_text_decoder_init(&d, &p);
        assert_int_equal(decode_text(&d, text, piece, got), n);
        assert_memory_equal(got, ref, n * sizeof ref[0]);
        assert_memory_equal(&d.stats, &stats, sizeof stats);
    }
}

static void bad_lines_are_counted_and_skipped(void **state)
{
    (void)state;
    rm_profile p;
    profile_from_text(&p, hx711_minimal);
    const char *bad[] = {
        "1,2,3\n",              /* a column short */
        "1,2,3,4,5\n",          /* a column too many */
        "1,2,abc,4\n",          /* not a number */
        "1,,3,4\n",             /* empty field */
        "1,2,3,4,\n",           /* trailing separator */
        "1,2,3e12,4\n",         /* does not fit 32 bits */
        "-5,2,3,4\n",           /* time before zero */
        "1,2,nan,4\n",          /* not finite */
        "1,2 3,4,5\n",          /* a space inside a field */
    };
    rm_text_decoder d;
    rm_sample s[MAX_SAMPLES];
    rm_text_decoder_init(&d, &p);
    assert_int_equal(decode_text(&d, "1,2,3,4\n", 8, s), 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(decode_text(&d, bad[i], 100, s), 0);
        assert_int_equal(d.stats.lines_bad, i + 1);
    }
    /* letters after the first sample are bad lines, not headers */
    assert_int_equal(decode_text(&d, "reset!\n", 100, s), 0);
    assert_int_equal(d.stats.lines_bad, sizeof bad / sizeof bad[0] + 1);
    uint8_t with_nul[] = "2,3\0,4,5\n";
    bool have;
    rm_text_decoder_push(&d, with_nul, sizeof with_nul - 1, s, &have);
    assert_false(have);
    assert_int_equal(d.stats.lines_bad, sizeof bad / sizeof bad[0] + 2);
    assert_int_equal(decode_text(&d, "9,8,7,6\n", 3, s), 1);
    assert_int_equal(s[0].counts[1], 7);
}

static void overlong_line_is_dropped_whole(void **state)
{
    (void)state;
    rm_profile p;
    profile_from_text(&p, hx711_minimal);
    char text[2000];
    memset(text, '1', 1500);
    strcpy(text + 1500, ",2,3,4\n5,6,7,8\n");
    rm_text_decoder d;
    rm_sample s[MAX_SAMPLES];
    rm_text_decoder_init(&d, &p);
    assert_int_equal(decode_text(&d, text, 64, s), 1);
    assert_int_equal(s[0].t_us, 5000);
    assert_int_equal(d.stats.lines_too_long, 1);
    assert_int_equal(d.stats.lines_bad, 0);
}

static void without_time_column_the_rate_gives_the_clock(void **state)
{
    (void)state;
    rm_profile p;
    profile_from_text(&p,
        "[device]\nmodel = m\nsample_rate_hz = 80\n"
        "encoder_counts_per_turn = 4096\nroller_diameter_mm = 150\n"
        "distal_direction = -1\n"
        "[text]\nseparator = whitespace\ncolumns = ch1 position_cm ignore\n"
        "[ch1]\ngain_n_per_count = 1\n");
    rm_text_decoder d;
    rm_sample s[MAX_SAMPLES];
    rm_text_decoder_init(&d, &p);
    assert_int_equal(decode_text(&d, "10 \t 0 x1\n  20 12.5 7\n30 -2 7\n", 5, s), 2);
    assert_int_equal(d.stats.lines_bad, 1); /* x1 is not a number */
    assert_int_equal(s[0].t_us, 0);
    assert_int_equal(s[1].t_us, 12500); /* the second sample at 80 Hz */
    /* 12.5 cm on a 150 mm roller is 0.2653 turns: 1086.6 counts, and the
     * counts fall distally */
    assert_int_equal(s[0].encoder, -(int32_t)lround(125.0 / (M_PI * 150.0) * 4096));
    assert_int_equal(s[1].encoder, (int32_t)lround(20.0 / (M_PI * 150.0) * 4096));
    assert_int_equal(s[1].counts[0], 30);
    assert_false(p.has_time_column);
}

static void bad_profiles_name_file_line_and_key(void **state)
{
    (void)state;
    static const struct { const char *text, *message; } cases[] = {
        {"[device]\nmodel = m\nsample_rate_hz = 80\nmdoel = x\n",
         "p.ini:4: mdoel: unknown key in [device]"},
        {"[device]\nsample_rate_hz = 80\n", "p.ini: [device] model: missing"},
        {"[device]\nmodel = m\n", "p.ini: [device] sample_rate_hz: missing"},
        {"[device]\nmodel = m\nsample_rate_hz = 0\n",
         "p.ini:3: sample_rate_hz: '0' is out of range (expected 1 to 100000)"},
        {"[device]\nmodel = m\nsample_rate_hz = fast\n",
         "p.ini:3: sample_rate_hz: 'fast' is not a whole number"},
        {"[device]\nmodel = m\nkind = mat\nsample_rate_hz = 8\n",
         "p.ini:3: kind: 'mat' is not roller, ball or probe"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\ndistal_direction = 0\n",
         "p.ini:4: distal_direction: '0' is out of range (expected +1 or -1)"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\nencoder_counts_per_turn = 9\n",
         "p.ini:4: encoder_counts_per_turn: needs roller_diameter_mm to map "
         "counts to positions"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[sensors]\nx = 1\n",
         "p.ini:5: x: not in [device], [text], [csv] or [ch1] to [ch16]"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[csv]\ncolumns = t=t_s,a=ch0_stone\n",
         "p.ini:5: columns: entry 2 (a): 'ch0_stone' is not one of t_s, t_ms, t_us, "
         "ch<N>_N, ch<N>_kg, ch<N>_lbf, ch<N>_counts, encoder, position_cm, "
         "position_mm or mark"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[csv]\nseparator = comma\n",
         "p.ini:5: separator: unknown key in [csv]"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n", "p.ini: [text] columns: missing"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = time, ch1\n",
         "p.ini:5: columns: 'ch1' has no [section] with its gain"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = time, speed\n",
         "p.ini:5: columns: 'speed' is not time, chN, encoder, position_cm, "
         "mark or ignore"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = time\n"
         "[ch1]\ngain_n_per_count = 2\n",
         "p.ini:5: columns: 'ch1' has a [section] but no column"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = ch1, ch1\n"
         "[ch1]\ngain_n_per_count = 2\n",
         "p.ini:5: columns: 'ch1' appears twice"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = time,time\n",
         "p.ini:5: columns: 'time,time' names time, mark or the encoder twice"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = position_cm\n",
         "p.ini:5: columns: 'position_cm' needs encoder_counts_per_turn and "
         "roller_diameter_mm in [device]"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = ch1, ch2\n"
         "[ch2]\ngain_n_per_count = 2\n", "p.ini: [ch1] gain_n_per_count: missing"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = ch1\n"
         "[ch1]\nkind = pressure_cell\ngain_n_per_count = 2\n",
         "p.ini: [ch1] area_mm2: a pressure_cell needs its sensing area"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = ch1\n"
         "[ch1]\ngain_n_per_count = 0\n",
         "p.ini:7: gain_n_per_count: '0' is out of range (expected a non-zero gain)"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\n[text]\ncolumns = ch1\n"
         "separator = tab\n[ch1]\ngain_n_per_count = 1\n",
         "p.ini:6: separator: 'tab' is not comma, semicolon or whitespace"},
        {"[device]\nmodel = a model name longer than thirty-one chars\n",
         "p.ini:2: model: longer than 31 characters"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\nprotocol = serial\n",
         "p.ini:4: protocol: 'serial' is not text or binary"},
        {"[device]\nmodel = m\nsample_rate_hz = 8\nprotocol = binary\n"
         "[text]\ncolumns = ch1\n[ch1]\ngain_n_per_count = 1\n",
         "p.ini:4: protocol: a binary device sends frames, not the lines [text] "
         "describes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rm_ini *ini;
        rm_error err;
        rm_profile p;
        assert_int_equal(rm_ini_parse(&ini, cases[i].text, "p.ini", &err), RM_OK);
        assert_int_equal(rm_profile_from_ini(&p, ini, &err), RM_ERR_FORMAT);
        rm_ini_free(ini);
        if (strcmp(err.message, cases[i].message) != 0)
            fail_msg("case %zu:\n got  '%s'\n want '%s'", i, err.message,
                     cases[i].message);
    }
}

static void a_csv_section_gives_the_column_map_without_a_text_section(void **state)
{
    (void)state;
    rm_profile p;
    profile_from_text(&p, "[device]\nmodel = logger\nsample_rate_hz = 100\n"
                          "[csv]\ncolumns = Time (ms)=t_ms, Raw A=ch0_counts\n"
                          "[ch1]\ngain_n_per_count = 0.01\n");
    assert_int_equal(p.column_count, 0);
    assert_int_equal(p.csv_columns.count, 2);
    assert_string_equal(p.csv_columns.entries[0].from, "Time (ms)");
    assert_string_equal(p.csv_columns.entries[1].to, "ch0_counts");
    assert_int_equal(p.info.channel_count, 1);
}

static void a_binary_device_needs_neither_text_nor_csv(void **state)
{
    (void)state;
    rm_profile p;
    profile_from_text(&p, "[device]\nmodel = r\nsample_rate_hz = 80\n"
                          "protocol = binary\n[ch1]\ngain_n_per_count = 0.01\n");
    assert_true(p.binary);
    assert_int_equal(p.column_count, 0);
    assert_int_equal(p.csv_columns.count, 0);
    assert_int_equal(p.info.channel_count, 1);
    testutil_load_shipped_profile(&p, "hx711-arduino.ini");
    assert_false(p.binary);
}

static void a_bare_name_finds_the_users_profiles(void **state)
{
    (void)state;
    char *home = testutil_mkdtemp();
    char *top = testutil_path(home, "rollmap");
    char *dir = testutil_path(home, "rollmap/profiles");
    char *file = testutil_path(home, "rollmap/profiles/bench.ini");
    assert_int_equal(mkdir(top, 0700), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    const char *text = "[device]\nmodel = bench\nsample_rate_hz = 50\n"
                       "[csv]\ncolumns = t=t_s\n";
    assert_int_equal(testutil_write_file(file, text, strlen(text)), 0);
    setenv("XDG_CONFIG_HOME", home, 1);
    rm_profile p;
    rm_error err;
    if (rm_profile_load(&p, "bench", &err) != RM_OK)
        fail_msg("%s", err.message);
    assert_string_equal(p.info.model, "bench");
    assert_int_equal(rm_profile_load(&p, "no-such-profile", &err), RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "profile 'no-such-profile'"));
    assert_non_null(strstr(err.message, dir));
    unsetenv("XDG_CONFIG_HOME");
    testutil_rmdir(home);
    free(file);
    free(dir);
    free(top);
    free(home);
}

static void missing_profile_file_is_named(void **state)
{
    (void)state;
    rm_profile p;
    rm_error err;
    assert_int_equal(rm_profile_load(&p, "/nonexistent/roller.ini", &err),
                     RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "/nonexistent/roller.ini"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hx711_profile_loads_device_and_columns),
        cmocka_unit_test(as5600_profile_loads_usb_ids_and_mark_column),
        cmocka_unit_test(hx711_lines_become_samples),
        cmocka_unit_test(any_piece_size_gives_the_same_samples),
        cmocka_unit_test(bad_lines_are_counted_and_skipped),
        cmocka_unit_test(overlong_line_is_dropped_whole),
        cmocka_unit_test(without_time_column_the_rate_gives_the_clock),
        cmocka_unit_test(bad_profiles_name_file_line_and_key),
        cmocka_unit_test(a_csv_section_gives_the_column_map_without_a_text_section),
        cmocka_unit_test(a_binary_device_needs_neither_text_nor_csv),
        cmocka_unit_test(a_bare_name_finds_the_users_profiles),
        cmocka_unit_test(missing_profile_file_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
