/* rollmapd configuration: defaults, INI files, overrides and their errors. */
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

typedef testutil_file_fixture fixture;

static int setup(void **state)
{
    return testutil_file_fixture_setup(state, "rollmapd.conf");
}

static void write_config(const fixture *f, const char *text)
{
    assert_int_equal(testutil_write_file(f->path, text, strlen(text)), 0);
}

static void library_follows_xdg_data_home(void **state)
{
    (void)state;
    setenv("XDG_DATA_HOME", "/srv/data", 1);
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    assert_string_equal(c.recorder.library, "/srv/data/rollmap/sessions");
    assert_string_equal(c.calibration_dir, "/srv/data/rollmap/calibration");
}

static void library_falls_back_to_home_local_share(void **state)
{
    (void)state;
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/therapist", 1);
    char dir[512];
    rm_default_library_dir(dir, sizeof dir, NULL);
    assert_string_equal(dir, "/home/therapist/.local/share/rollmap/sessions");
}

static void relative_xdg_path_is_ignored(void **state)
{
    (void)state;
    setenv("XDG_DATA_HOME", "relative/dir", 1);
    setenv("HOME", "/home/h", 1);
    char dir[512];
    rm_default_library_dir(dir, sizeof dir, NULL);
    assert_string_equal(dir, "/home/h/.local/share/rollmap/sessions");
    unsetenv("XDG_DATA_HOME");
}

static void socket_lives_in_the_runtime_dir(void **state)
{
    fixture *f = *state;
    setenv("XDG_RUNTIME_DIR", f->dir, 1);
    char path[512], want[512];
    rm_default_socket_path(path, sizeof path, NULL);
    snprintf(want, sizeof want, "%s/rollmap/rollmapd.sock", f->dir);
    assert_string_equal(path, want);
    unsetenv("XDG_RUNTIME_DIR");
}

/* Like other daemons: a missing or unusable runtime folder falls back to a
 * private folder in /tmp. */
static void socket_falls_back_to_tmp_without_a_runtime_dir(void **state)
{
    fixture *f = *state;
    char path[512], want[512];
    snprintf(want, sizeof want, "/tmp/rollmap-%u/rollmapd.sock", (unsigned)getuid());
    char *missing = testutil_path(f->dir, "no-such-folder");
    const char *unusable[] = {NULL, "", "run/user/1000", missing};
    for (size_t i = 0; i < sizeof unusable / sizeof unusable[0]; i++) {
        if (unusable[i])
            setenv("XDG_RUNTIME_DIR", unusable[i], 1);
        else
            unsetenv("XDG_RUNTIME_DIR");
        rm_default_socket_path(path, sizeof path, NULL);
        assert_string_equal(path, want);
    }
    unsetenv("XDG_RUNTIME_DIR");
    free(missing);
}

static void sim_options_invalid_only_together_are_refused(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    strcpy(c.source, "sim:pressure_cells=16"); /* + 2 load cells = 18 channels */
    rm_capture_options o;
    rm_error err;
    assert_int_equal(rm_daemon_config_capture_options(&c, &o, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "[device] source 'sim:pressure_cells=16'"));
    assert_non_null(strstr(err.message, "pressure_cells is 18, must be 1..16"));
}

static void file_sets_every_section(void **state)
{
    fixture *f = *state;
    write_config(f, "# a comment\n"
                    "[device]\nsource = sim:seed=3\nreconnect_initial_ms = 50\n"
                    "max_rate_hz = 4000\n"
                    "[session]\nauto = no\nstart_threshold_n = 40\n"
                    "stop_threshold_n = 15\nidle_s = 12.5\nresume_window_s = 90\n"
                    "pre_roll_s = 1.5\n"
                    "library = /var/lib/rollmap\n"
                    "database_retry_max_s = 5\n"
                    "[socket]\npath = /run/rollmap.sock\n"
                    "[log]\ntarget = syslog\nlevel = debug\n");
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_OK);
    assert_string_equal(c.source, "sim:seed=3");
    assert_int_equal(c.reconnect.initial_ms, 50);
    assert_int_equal(c.max_rate_hz, 4000);
    assert_false(c.recorder.auto_start);
    assert_true(c.recorder.start_threshold_n == 40.0);
    assert_true(c.recorder.stop_threshold_n == 15.0);
    assert_int_equal(c.recorder.idle_us, 12500000);
    assert_int_equal(c.recorder.resume_window_us, 90000000);
    assert_int_equal(c.recorder.pre_roll_us, 1500000);
    assert_string_equal(c.recorder.library, "/var/lib/rollmap");
    assert_int_equal(c.database_retry_max_us, 5000000);
    assert_string_equal(c.socket_path, "/run/rollmap.sock");
    assert_int_equal(c.log_target, RM_LOG_TO_SYSLOG);
    assert_int_equal(c.log_level, RM_LOG_DEBUG);
}

static void bad_number_names_file_line_and_key(void **state)
{
    fixture *f = *state;
    write_config(f, "[session]\n\nidle_s = soon\n");
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, f->path));
    assert_non_null(strstr(err.message, ":3:"));
    assert_non_null(strstr(err.message, "idle_s"));
    assert_non_null(strstr(err.message, "soon"));
}

static void out_of_range_value_states_the_range(void **state)
{
    fixture *f = *state;
    write_config(f, "[device]\nmax_rate_hz = 0\n");
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "max_rate_hz"));
    assert_non_null(strstr(err.message, "between 1 and 100000"));
}

static void fractional_count_is_rejected(void **state)
{
    fixture *f = *state;
    write_config(f, "[device]\nreconnect_initial_ms = 12.5\n");
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "whole number"));
}

static void unknown_key_is_an_error_with_its_line(void **state)
{
    fixture *f = *state;
    write_config(f, "[session]\nidle_s = 10\nidel = 5\n");
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, ":3:"));
    assert_non_null(strstr(err.message, "idel"));
}

static void stop_threshold_above_start_is_rejected(void **state)
{
    fixture *f = *state;
    write_config(f, "[session]\nstart_threshold_n = 10\nstop_threshold_n = 30\n");
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "stop_threshold_n"));
}

static void failed_load_leaves_config_unchanged(void **state)
{
    fixture *f = *state;
    write_config(f, "[session]\nidle_s = 99\n[log]\nlevel = loud\n");
    rm_daemon_config c, before;
    rm_daemon_config_default(&c);
    before = c;
    rm_error err;
    assert_int_equal(rm_daemon_config_load(&c, f->path, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "error, warning, info or debug"));
    assert_memory_equal(&c, &before, sizeof c);
}

static void missing_file_is_an_io_error_naming_it(void **state)
{
    fixture *f = *state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_not_equal(rm_daemon_config_load(&c, f->path, &err), RM_OK);
    assert_non_null(strstr(err.message, f->path));
}

static void set_overrides_one_key(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_set(&c, "session.idle_s=7", &err), RM_OK);
    assert_int_equal(c.recorder.idle_us, 7000000);
    assert_int_equal(rm_daemon_config_set(&c, "log.target=syslog", &err), RM_OK);
    assert_int_equal(c.log_target, RM_LOG_TO_SYSLOG);
}

static void set_rejects_unknown_and_malformed(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_set(&c, "session.nap=7", &err),
                     RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "session.nap"));
    assert_int_equal(rm_daemon_config_set(&c, "idle_s=7", &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "section.key=value"));
    assert_int_equal(rm_daemon_config_set(&c, "session.idle_s=-1", &err), RM_ERR_ARG);
}

static void overrides_are_checked_together_after_the_last(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_int_equal(rm_daemon_config_set(&c, "session.start_threshold_n=5", &err), RM_OK);
    assert_int_not_equal(rm_daemon_config_check(&c, "", &err), RM_OK);
    assert_int_equal(rm_daemon_config_set(&c, "session.stop_threshold_n=2", &err), RM_OK);
    assert_int_equal(rm_daemon_config_check(&c, "", &err), RM_OK);
}

static void capture_options_carry_the_settings(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    strcpy(c.source, "sim:seed=5");
    c.max_rate_hz = 2000;
    c.ring_stall_s = 5.0;
    c.recorder.idle_us = 4000000;
    c.recorder.start_threshold_n = 33.0;
    rm_capture_options o;
    rm_error err;
    assert_int_equal(rm_daemon_config_capture_options(&c, &o, &err), RM_OK);
    assert_int_equal(o.source.kind, RM_SOURCE_SIM);
    assert_true(o.ring_capacity >= 10000);
    assert_int_equal(o.recorder.idle_us, 4000000);
    assert_int_equal(o.recorder.pre_roll_us, 2000000);
    assert_true(o.recorder.start_threshold_n == 33.0);
    assert_string_equal(o.recorder.library, c.recorder.library);
}

static void calibration_age_limit_defaults_to_180_days(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    assert_int_equal(c.calibration_max_age_days, 180);
    rm_error err;
    assert_int_equal(rm_daemon_config_set(&c, "device.calibration_max_age_days=30",
                                          &err), RM_OK);
    rm_capture_options o;
    assert_int_equal(rm_daemon_config_capture_options(&c, &o, &err), RM_OK);
    assert_int_equal(o.calibration_max_age_days, 30);
    assert_int_not_equal(rm_daemon_config_set(&c, "device.calibration_max_age_days=-1",
                                              &err), RM_OK);
    assert_non_null(strstr(err.message, "calibration_max_age_days"));
}

static void bad_source_name_is_reported_as_the_device_source(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    strcpy(c.source, "carrier-pigeon:/dev/x");
    rm_capture_options o;
    rm_error err;
    assert_int_equal(rm_daemon_config_capture_options(&c, &o, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "[device] source"));
}

static void unknown_simulator_option_is_reported_as_the_device_source(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    strcpy(c.source, "sim:seed=2,nonsense=1");
    rm_capture_options o;
    rm_error err;
    assert_int_equal(rm_daemon_config_capture_options(&c, &o, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "[device] source 'sim:seed=2,nonsense=1'"));
    assert_non_null(strstr(err.message, "'nonsense': unknown key"));
}

static void usb_ids_join_the_known_list(void **state)
{
    (void)state;
    rm_daemon_config c;
    rm_daemon_config_default(&c);
    rm_error err;
    assert_false(rm_usb_id_known(0x1209, 0x0001));
    assert_int_equal(rm_daemon_config_set(&c, "device.usb_ids=1209:0001, 16c0:*", &err),
                     RM_OK);
    assert_int_equal(rm_daemon_config_add_usb_ids(&c, &err), RM_OK);
    assert_true(rm_usb_id_known(0x1209, 0x0001));
    assert_true(rm_usb_id_known(0x16c0, 0x05dc));
    assert_int_equal(rm_daemon_config_set(&c, "device.usb_ids=12:zz", &err), RM_OK);
    assert_int_equal(rm_daemon_config_add_usb_ids(&c, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "usb_ids"));
}

static void ring_rides_out_five_seconds_at_two_kilohertz(void **state)
{
    (void)state;
    assert_true(rm_capture_ring_size(2000, 5.0) >= 10000);
    assert_int_equal(rm_capture_ring_size(10, 1.0), 1024);
}

/* A test with a directory of its own and a config file path in it. */
#define IN_DIR(test) \
    cmocka_unit_test_setup_teardown(test, setup, testutil_file_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(library_follows_xdg_data_home),
        cmocka_unit_test(library_falls_back_to_home_local_share),
        cmocka_unit_test(relative_xdg_path_is_ignored),
        IN_DIR(socket_lives_in_the_runtime_dir),
        IN_DIR(socket_falls_back_to_tmp_without_a_runtime_dir),
        IN_DIR(file_sets_every_section),
        IN_DIR(bad_number_names_file_line_and_key),
        IN_DIR(out_of_range_value_states_the_range),
        IN_DIR(fractional_count_is_rejected),
        IN_DIR(unknown_key_is_an_error_with_its_line),
        IN_DIR(stop_threshold_above_start_is_rejected),
        IN_DIR(failed_load_leaves_config_unchanged),
        IN_DIR(missing_file_is_an_io_error_naming_it),
        cmocka_unit_test(set_overrides_one_key),
        cmocka_unit_test(set_rejects_unknown_and_malformed),
        cmocka_unit_test(overrides_are_checked_together_after_the_last),
        cmocka_unit_test(capture_options_carry_the_settings),
        cmocka_unit_test(calibration_age_limit_defaults_to_180_days),
        cmocka_unit_test(bad_source_name_is_reported_as_the_device_source),
        cmocka_unit_test(unknown_simulator_option_is_reported_as_the_device_source),
        cmocka_unit_test(sim_options_invalid_only_together_are_refused),
        cmocka_unit_test(usb_ids_join_the_known_list),
        cmocka_unit_test(ring_rides_out_five_seconds_at_two_kilohertz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
