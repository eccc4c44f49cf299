/* Calibration: least-squares fits recover known polynomials, the store
 * keeps one dated INI per serial and refuses bad files with their path,
 * the daemon's checked apply flags stale and mismatched ones, and a
 * measurement averages a replayed capture after settling. */
#include "testutil.h"

#include <math.h>
#include <sys/stat.h>

static void linear_fit_recovers_gain_and_tare(void **state)
{
    (void)state;
    /* 0 N at 8000 counts, 0.02 N per count. */
    double counts[] = {8000, 10500, 13000, 18000};
    double newtons[4];
    for (int i = 0; i < 4; i++)
        newtons[i] = 0.02 * (counts[i] - 8000);
    rm_calibration cal;
    rm_error err = {0};
    assert_int_equal(rm_calibration_fit(counts, newtons, 4, 1, &cal, &err),
                     RM_OK);
    assert_float_equal(cal.tare_counts, 8000, 1e-9);
    assert_float_equal(cal.coef[0], 0, 1e-9);
    assert_float_equal(cal.coef[1], 0.02, 1e-12);
    assert_float_equal(cal.coef[2], 0, 0);
    assert_string_equal(cal.origin, "user");
    assert_true(cal.date_unix > 1700000000);
}

static void linear_fit_of_noisy_points_is_least_squares(void **state)
{
    (void)state;
    /* y = 2x with residuals +1, -1, -1, +1: the line stays y = 2x. */
    double counts[] = {0, 100, 200, 300};
    double newtons[] = {1, 199, 399, 601};
    rm_calibration cal;
    assert_int_equal(rm_calibration_fit(counts, newtons, 4, 1, &cal, NULL),
                     RM_OK);
    assert_float_equal(cal.coef[1], 2.0, 1e-9);
    assert_float_equal(cal.coef[0], 0.0, 1e-9);
}

static void cubic_fit_recovers_a_curved_sensor(void **state)
{
    (void)state;
    /* An FSR-like curve over millions of counts: conditioning matters. */
    const double c0 = 1.5, c1 = 3e-5, c2 = -2e-12, c3 = 4e-19;
    double counts[6], newtons[6];
    for (int i = 0; i < 6; i++) {
        counts[i] = 1e6 + i * 8e5;
        double x = counts[i] - 1e6;
        newtons[i] = c0 + c1 * x + c2 * x * x + c3 * x * x * x;
    }
    rm_calibration cal;
    rm_error err = {0};
    assert_int_equal(rm_calibration_fit(counts, newtons, 6, 3, &cal, &err),
                     RM_OK);
    rm_channel_info ch = {.cal = cal};
    for (int i = 0; i < 6; i++)
        assert_float_equal(rm_channel_newtons(&ch, (int32_t)counts[i]),
                           newtons[i], 1e-6 * (1 + fabs(newtons[i])));
    assert_float_equal(cal.coef[3], c3, 1e-22);
}

static void fits_refuse_too_few_or_flat_points(void **state)
{
    (void)state;
    double counts[] = {100, 100, 100, 200};
    double newtons[] = {0, 10, 20, 30};
    rm_calibration cal;
    rm_error err = {0};
    assert_int_equal(rm_calibration_fit(counts, newtons, 3, 1, &cal, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "does the channel respond"));
    assert_int_equal(rm_calibration_fit(counts, newtons, 4, 3, &cal, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "cubic fit needs 4 points"));
    assert_int_equal(rm_calibration_fit(counts, newtons, 4, 2, &cal, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "degree 2"));
    double nan_newtons[] = {0, NAN};
    double two_counts[] = {0, 1};
    assert_int_equal(rm_calibration_fit(two_counts, nan_newtons, 2, 1, &cal,
                                        &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "point 1"));
}

static rm_device_info two_channel_device(const char *serial)
{
    rm_device_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.serial, sizeof info.serial, "%s", serial);
    snprintf(info.model, sizeof info.model, "RM-2");
    info.channel_count = 2;
    for (int c = 0; c < 2; c++) {
        info.channels[c].gain_n_per_count = 0.01f;
        info.channels[c].offset_counts = 100;
    }
    rm_device_info_default_calibration(&info);
    return info;
}

static void saved_calibration_loads_back_by_serial(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *store = testutil_path(dir, "deep/er/calibration");
    rm_device_info info = two_channel_device("RM-0042");
    info.channels[1].cal = (rm_calibration){{0.5, 0.0123456789012345, 1e-9,
                                             -2e-15}, 8123.25, 1790000000,
                                            "user"};
    rm_error err = {0};
    assert_int_equal(rm_calibration_save(store, info.serial, &info, &err),
                     RM_OK);

    rm_device_info loaded = two_channel_device("RM-0042");
    assert_int_equal(rm_calibration_load(store, &loaded, &err), RM_OK);
    const rm_calibration *c = &loaded.channels[1].cal;
    for (int k = 0; k < 4; k++)
        assert_true(c->coef[k] == info.channels[1].cal.coef[k]);
    assert_true(c->tare_counts == 8123.25);
    assert_int_equal(c->date_unix, 1790000000);
    assert_string_equal(c->origin, "user");
    assert_string_equal(loaded.channels[0].cal.origin, "device");

    rm_calibration_entry *list;
    size_t n;
    assert_int_equal(rm_calibration_list(store, &list, &n, &err), RM_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].serial, "RM-0042");
    assert_string_equal(list[0].model, "RM-2");
    assert_int_equal(list[0].date_unix, 1790000000);
    assert_int_equal(list[0].channel_count, 2);
    rm_calibration_list_free(list);
    free(store);
    testutil_rmdir(dir);
    free(dir);
}

static void unknown_serial_is_not_found_and_leaves_info_alone(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    rm_device_info info = two_channel_device("NEVER-SEEN");
    rm_device_info before = info;
    rm_error err = {0};
    assert_int_equal(rm_calibration_load(dir, &info, &err), RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "NEVER-SEEN"));
    assert_memory_equal(&info, &before, sizeof info);
    rm_calibration_entry *list;
    size_t n;
    char *missing = testutil_path(dir, "missing");
    assert_int_equal(rm_calibration_list(missing, &list, &n, &err), RM_OK);
    assert_int_equal(n, 0);
    free(missing);
    testutil_rmdir(dir);
    free(dir);
}

static void corrupt_file_is_refused_with_its_path(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "BAD1.ini");
    const char text[] = "[device]\nserial = BAD1\nchannels = 2\n"
                        "[channel0]\ntare_counts = 1\nc0 = 0\nc1 = 0.01\n"
                        "c2 = 0\nc3 = 0\n"
                        "[channel1]\ntare_counts = 1\nc0 = 0\nc1 = lots\n"
                        "c2 = 0\nc3 = 0\n";
    testutil_write_file(path, text, sizeof text - 1);
    rm_device_info info = two_channel_device("BAD1");
    rm_device_info before = info;
    rm_error err = {0};
    assert_int_equal(rm_calibration_load(dir, &info, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "BAD1.ini"));
    assert_non_null(strstr(err.message, "c1"));
    assert_memory_equal(&info, &before, sizeof info);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

static void channel_count_mismatch_asks_for_recalibration(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    rm_device_info info = two_channel_device("RM-7");
    rm_error err = {0};
    assert_int_equal(rm_calibration_save(dir, "RM-7", &info, &err), RM_OK);
    info.channel_count = 3;
    assert_int_equal(rm_calibration_load(dir, &info, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "calibrate it again"));
    testutil_rmdir(dir);
    free(dir);
}

static void serial_inside_the_file_must_match_the_device(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    rm_device_info info = two_channel_device("RM-8");
    rm_error err = {0};
    assert_int_equal(rm_calibration_save(dir, "RM-8", &info, &err), RM_OK);
    char *from = testutil_path(dir, "RM-8.ini");
    char *to = testutil_path(dir, "RM-9.ini");
    assert_int_equal(rename(from, to), 0);
    rm_device_info other = two_channel_device("RM-9");
    other.channels[0].cal.coef[1] = 0.5;
    rm_device_info before = other;
    assert_int_equal(rm_calibration_load(dir, &other, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "RM-9.ini"));
    assert_non_null(strstr(err.message, "serial is RM-8"));
    assert_memory_equal(&other, &before, sizeof other);
    free(from);
    free(to);
    testutil_rmdir(dir);
    free(dir);
}

#define DAY 86400
/* 2026-09-01, when the stored calibration below was made. */
#define MADE_UNIX 1788220800

/* A stored calibration of RM-5 made on MADE_UNIX, gain 0.02 N/count. */
static char *store_dated_calibration(void)
{
    char *dir = testutil_mkdtemp();
    rm_device_info info = two_channel_device("RM-5");
    for (int c = 0; c < 2; c++)
        info.channels[c].cal = (rm_calibration){{0, 0.02, 0, 0}, 100,
                                                MADE_UNIX + c * DAY, "user"};
    rm_error err = {0};
    assert_int_equal(rm_calibration_save(dir, "RM-5", &info, &err), RM_OK);
    return dir;
}

static void checked_apply_flags_a_calibration_past_its_age(void **state)
{
    (void)state;
    char *dir = store_dated_calibration();
    rm_device_info info = two_channel_device("RM-5");
    rm_calibration_status cal;
    rm_calibration_apply_checked(dir, &info, 180, MADE_UNIX + 200 * DAY, &cal);
    assert_int_equal(cal.state, RM_CALIBRATION_STALE);
    assert_int_equal(cal.date_unix, MADE_UNIX); /* the older channel */
    assert_int_equal(cal.age_days, 200);
    assert_non_null(strstr(cal.problem, "200 days"));
    assert_non_null(strstr(cal.problem, "180"));
    assert_true(info.channels[0].cal.coef[1] == 0.02); /* still applied */
    assert_string_equal(rm_calibration_state_name(cal.state), "stale");

    rm_device_info fresh = two_channel_device("RM-5");
    rm_calibration_apply_checked(dir, &fresh, 180, MADE_UNIX + 100 * DAY, &cal);
    assert_int_equal(cal.state, RM_CALIBRATION_STORED);
    assert_int_equal(cal.age_days, 100);
    assert_string_equal(cal.problem, "");
    rm_calibration_apply_checked(dir, &fresh, 0, MADE_UNIX + 900 * DAY, &cal);
    assert_int_equal(cal.state, RM_CALIBRATION_STORED); /* no age limit */
    testutil_rmdir(dir);
    free(dir);
}

static void checked_apply_refuses_a_calibration_of_another_shape(void **state)
{
    (void)state;
    char *dir = store_dated_calibration();
    rm_device_info info = two_channel_device("RM-5");
    info.channel_count = 3;
    rm_device_info before = info;
    rm_calibration_status cal;
    rm_calibration_apply_checked(dir, &info, 180, MADE_UNIX, &cal);
    assert_int_equal(cal.state, RM_CALIBRATION_MISMATCH);
    assert_non_null(strstr(cal.problem, "RM-5.ini"));
    assert_non_null(strstr(cal.problem, "3"));
    assert_memory_equal(&info, &before, sizeof info);

    rm_device_info unknown = two_channel_device("RM-6");
    rm_calibration_apply_checked(dir, &unknown, 180, MADE_UNIX, &cal);
    assert_int_equal(cal.state, RM_CALIBRATION_DEVICE);
    rm_calibration_apply_checked("", &unknown, 180, MADE_UNIX, &cal);
    assert_int_equal(cal.state, RM_CALIBRATION_DEVICE);
    testutil_rmdir(dir);
    free(dir);
}

static void serials_that_escape_the_folder_are_refused(void **state)
{
    (void)state;
    rm_device_info info = two_channel_device("../evil");
    rm_error err = {0};
    assert_int_equal(rm_calibration_save("/tmp", "../evil", &info, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "'/'"));
    assert_int_equal(rm_calibration_save("/tmp", "", &info, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "no serial number"));
}

static void default_folder_follows_xdg(void **state)
{
    (void)state;
    char dir[512];
    setenv("XDG_DATA_HOME", "/data/x", 1);
    assert_int_equal(rm_default_calibration_dir(dir, sizeof dir, NULL), RM_OK);
    assert_string_equal(dir, "/data/x/rollmap/calibration");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/t", 1);
    assert_int_equal(rm_default_calibration_dir(dir, sizeof dir, NULL), RM_OK);
    assert_string_equal(dir, "/home/t/.local/share/rollmap/calibration");
}

/* ------------------------------------------------------------------------ */
/* Measuring from a replayed capture                                        */
/* ------------------------------------------------------------------------ */

enum { BATCH = 10, RATE_HZ = 1000 };

/** Frames of constant counts per channel for `ms` milliseconds. */
static void write_level(FILE *f, uint16_t *seq, uint64_t *t_us, int ms,
                        int32_t c0, int32_t c1)
{
    uint8_t wire[RM_FRAME_MAX_WIRE];
    for (int k = 0; k < ms / BATCH; k++) {
        rm_frame fr;
        memset(&fr, 0, sizeof fr);
        fr.type = RM_FRAME_SAMPLES;
        fr.seq = (*seq)++;
        fr.t_us = *t_us;
        fr.u.samples.channel_count = 2;
        fr.u.samples.count = BATCH;
        for (int i = 0; i < BATCH; i++) {
            rm_sample *s = &fr.u.samples.samples[i];
            s->t_us = *t_us;
            s->counts[0] = c0;
            s->counts[1] = c1;
            *t_us += 1000000 / RATE_HZ;
        }
        fwrite(wire, 1, rm_frame_encode(&fr, wire, sizeof wire), f);
    }
}

/** A capture file that begins with the INFO of a two-channel device. */
static FILE *start_capture(const char *path, const char *serial)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    rm_frame info;
    memset(&info, 0, sizeof info);
    info.type = RM_FRAME_INFO;
    info.u.info = two_channel_device(serial);
    info.u.info.sample_rate_hz = RATE_HZ;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    fwrite(wire, 1, rm_frame_encode(&info, wire, sizeof wire), f);
    return f;
}

/** The capture replayed as fast as it can be read. */
static rm_source *open_replay(const char *path)
{
    char name[600];
    snprintf(name, sizeof name, "file:%s?fast", path);
    rm_source_spec spec;
    rm_source *src;
    assert_int_equal(rm_source_parse(name, &spec, NULL), RM_OK);
    assert_int_equal(rm_source_open(&src, &spec, NULL), RM_OK);
    return src;
}

/** A load that keeps moving is never averaged: the measurement reports
 *  that it did not settle instead. */
static void measurement_refuses_a_load_that_never_rests(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "moving.bin");
    FILE *f = start_capture(path, "CAP-2");
    uint16_t seq = 1;
    uint64_t t = 0;
    for (int k = 0; k < 130; k++) /* 26 s swinging between two loads */
        write_level(f, &seq, &t, 200, k % 2 ? 1000 : 9000, 2000);
    fclose(f);
    rm_error err = {0};
    rm_source *src = open_replay(path);
    double counts[RM_MAX_CHANNELS];
    assert_int_equal(rm_calibration_measure(src, 0.3, 0.5, counts, &err),
                     RM_ERR_TIMEOUT);
    assert_non_null(strstr(err.message, "did not settle within 20 s"));
    rm_source_close(src);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

static void measurement_averages_after_settling(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "cal.bin");
    FILE *f = start_capture(path, "CAP-1");
    uint16_t seq = 1;
    uint64_t t = 0;
    /* Unloaded: the first 200 ms still move (settling), then 1000/2000
     * until 1200 ms; the 10 kg point starts moving, then rests at
     * 1500/3000 from 1400 ms to 2400 ms. The reading has settled once
     * 0.3 s of it agree, then 0.5 s are averaged. */
    write_level(f, &seq, &t, 200, 5000, 5000);
    write_level(f, &seq, &t, 1000, 1000, 2000);
    write_level(f, &seq, &t, 200, 9000, 9000);
    write_level(f, &seq, &t, 1000, 1500, 3000);
    fclose(f);

    rm_error err = {0};
    rm_source *src = open_replay(path);
    double zero[RM_MAX_CHANNELS], loaded[RM_MAX_CHANNELS];
    assert_int_equal(rm_calibration_measure(src, 0.3, 0.5, zero, &err), RM_OK);
    assert_float_equal(zero[0], 1000, 1e-9);
    assert_float_equal(zero[1], 2000, 1e-9);
    assert_int_equal(rm_calibration_measure(src, 0.3, 0.5, loaded, &err),
                     RM_OK);
    assert_float_equal(loaded[0], 1500, 1e-9);
    assert_float_equal(loaded[1], 3000, 1e-9);
    /* Nothing left for a third point: the error says it ended early. */
    double more[RM_MAX_CHANNELS];
    assert_int_equal(rm_calibration_measure(src, 0.3, 0.5, more, &err),
                     RM_ERR_EOF);
    assert_non_null(strstr(err.message, "before the measurement"));
    rm_source_close(src);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_fit_recovers_gain_and_tare),
        cmocka_unit_test(linear_fit_of_noisy_points_is_least_squares),
        cmocka_unit_test(cubic_fit_recovers_a_curved_sensor),
        cmocka_unit_test(fits_refuse_too_few_or_flat_points),
        cmocka_unit_test(saved_calibration_loads_back_by_serial),
        cmocka_unit_test(unknown_serial_is_not_found_and_leaves_info_alone),
        cmocka_unit_test(corrupt_file_is_refused_with_its_path),
        cmocka_unit_test(channel_count_mismatch_asks_for_recalibration),
        cmocka_unit_test(serial_inside_the_file_must_match_the_device),
        cmocka_unit_test(checked_apply_flags_a_calibration_past_its_age),
        cmocka_unit_test(checked_apply_refuses_a_calibration_of_another_shape),
        cmocka_unit_test(serials_that_escape_the_folder_are_refused),
        cmocka_unit_test(default_folder_follows_xdg),
        cmocka_unit_test(measurement_averages_after_settling),
        cmocka_unit_test(measurement_refuses_a_load_that_never_rests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
