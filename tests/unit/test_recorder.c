/* The session recorder on samples built here, and the capture pipeline on
 * the virtual roller: sessions start and end on load, survive unplugs,
 * record overflow and write failures, and write real session files. */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define RATE_HZ 1000
#define PERIOD_US (1000000u / RATE_HZ)
/* Counts per newton of the test device (gain 0.01 N per count). */
#define COUNTS_PER_N 100

typedef struct fixture {
    char *dir;
    char *library;
    rm_recorder_options opt;
    rm_recorder *rec;
    rm_device_info info;
    uint64_t next_t;     /* device clock of the next sample */
    uint64_t now;        /* monotonic clock handed to the recorder */
    char log[8192];      /* every log line, newline-separated */
    char *calibration_dir; /* for run_capture, or NULL */
} fixture;

static void capture_log(void *user, rm_log_level level, const char *line)
{
    (void)level;
    fixture *f = user;
    size_t len = strlen(f->log);
    snprintf(f->log + len, sizeof f->log - len, "%s\n", line);
}

static void make_device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    strcpy(info->model, "test roller");
    strcpy(info->serial, "T-0001");
    info->sample_rate_hz = RATE_HZ;
    info->channel_count = 2;
    for (int c = 0; c < 2; c++) {
        info->channels[c].kind = RM_CHANNEL_LOAD_CELL;
        info->channels[c].gain_n_per_count = 1.0f / COUNTS_PER_N;
    }
    rm_device_info_default_calibration(info);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = testutil_mkdtemp();
    f->library = testutil_path(f->dir, "library/sessions");
    rm_recorder_options_default(&f->opt);
    snprintf(f->opt.library, sizeof f->opt.library, "%s", f->library);
    f->opt.idle_us = 1000000;
    f->opt.resume_window_us = 5000000;
    f->opt.pre_roll_us = 0; /* counts below are exact; pre-roll has a test */
    f->opt.writer.fsync = false;
    f->opt.log = capture_log;
    f->opt.log_user = f;
    f->now = 1000000;
    make_device(&f->info);
    *state = f;
    return rm_recorder_new(&f->rec, &f->opt, NULL) == RM_OK ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rm_recorder_free(f->rec);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f->library);
    free(f);
    return 0;
}

/* Feed n samples of total force newtons (split over both load cells). */
static void feed(fixture *f, size_t n, double newtons)
{
    rm_sample batch[32];
    while (n) {
        size_t k = n < 32 ? n : 32;
        for (size_t i = 0; i < k; i++) {
            memset(&batch[i], 0, sizeof batch[i]);
            batch[i].t_us = f->next_t;
            batch[i].counts[0] = (int32_t)(newtons * COUNTS_PER_N / 2);
            batch[i].counts[1] = (int32_t)(newtons * COUNTS_PER_N / 2);
            f->next_t += PERIOD_US;
            f->now += PERIOD_US;
        }
        rm_recorder_samples(f->rec, batch, k, f->now);
        n -= k;
    }
}

static rm_recorder_status status_of(const fixture *f)
{
    rm_recorder_status s;
    rm_recorder_get_status(f->rec, &s);
    return s;
}

static rm_session *open_file(const char *path)
{
    rm_session *s;
    rm_error err;
    if (rm_session_open(&s, path, &err) != RM_OK)
        fail_msg("%s", err.message);
    return s;
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void no_session_below_the_start_threshold(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 3000, 15.0); /* between stop (10 N) and start (20 N) */
    assert_int_equal(status_of(f).state, RM_RECORDER_IDLE);
    assert_int_equal(files_in(f->library), 0);
}

static void auto_session_starts_at_the_first_loaded_sample(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 100, 2.0);
    uint64_t loaded_from = f->next_t;
    feed(f, 250, 60.0);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_RECORDING);
    assert_false(s.explicit_session);
    char path[4096];
    strcpy(path, s.path);
    assert_int_equal(rm_recorder_stop(f->rec, NULL), RM_OK);
    rm_session *file = open_file(path);
    assert_int_equal(rm_session_sample_count(file), 250);
    assert_int_equal(rm_session_first_us(file), loaded_from);
    rm_session_close(file);
}

static void auto_session_keeps_the_pre_roll(void **state)
{
    fixture *f = *state;
    rm_recorder_options o = f->opt;
    o.pre_roll_us = 50000; /* 50 samples at 1 kHz */
    rm_recorder_set_options(f->rec, &o);
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 100, 2.0);
    uint64_t loaded_from = f->next_t;
    feed(f, 250, 60.0);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.samples_unrecorded, 50);
    assert_int_equal(s.samples_recorded, 300);
    char path[4096];
    strcpy(path, s.path);
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    assert_int_equal(rm_session_sample_count(file), 300);
    assert_int_equal(rm_session_first_us(file), loaded_from - 50 * PERIOD_US);
    rm_sample got[300];
    size_t n;
    assert_int_equal(rm_session_read(file, 0, got, 300, &n, NULL), RM_OK);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(got[i].t_us - got[i - 1].t_us, PERIOD_US);
    rm_session_close(file);
}

static void auto_session_ends_after_the_idle_time(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 500, 80.0);
    feed(f, 3000, 1.0);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_IDLE);
    assert_int_equal(s.sessions_closed, 1);
    rm_session *file = open_file(s.last_path);
    /* 500 loaded samples, then unloaded ones until 1 s after the last load */
    assert_int_equal(rm_session_sample_count(file), 500 + 1000);
    assert_true(rm_session_integrity(file)->closed_cleanly);
    rm_session_close(file);
    assert_non_null(strstr(f->log, "ended (idle)"));
}

static void auto_session_ends_when_samples_stop_coming(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 500, 80.0);
    rm_recorder_tick(f->rec, f->now + 500000);
    assert_int_equal(status_of(f).state, RM_RECORDER_RECORDING);
    rm_recorder_tick(f->rec, f->now + 1000000); /* idle_us of silence */
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_IDLE);
    assert_non_null(strstr(f->log, "ended (no samples)"));
    rm_session *file = open_file(s.last_path);
    assert_int_equal(rm_session_sample_count(file), 500);
    rm_session_close(file);
}

static void explicit_session_ignores_idle_and_ends_on_stop(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    rm_session_meta meta = {.side = RM_SIDE_LEFT};
    strcpy(meta.client, "C-9");
    assert_int_equal(rm_recorder_start(f->rec, &meta, NULL, NULL), RM_OK);
    feed(f, 4000, 0.0);
    rm_recorder_status s = status_of(f);
    assert_string_equal(s.session.client, "C-9");
    assert_int_equal(s.session.side, RM_SIDE_LEFT);
    assert_string_equal(s.session.muscle, "hamstring");
    assert_int_equal(s.state, RM_RECORDER_RECORDING);
    assert_true(s.explicit_session);
    assert_int_equal(s.session_samples, 4000);
    rm_error err;
    assert_int_equal(rm_recorder_start(f->rec, NULL, NULL, &err), RM_ERR_BUSY);
    assert_non_null(strstr(err.message, s.path));
    assert_int_equal(rm_recorder_stop(f->rec, NULL), RM_OK);
    assert_int_equal(rm_recorder_stop(f->rec, &err), RM_ERR_NOT_FOUND);
}

static void start_during_an_auto_session_adopts_it(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 100, 50.0);
    char path[4096];
    strcpy(path, status_of(f).path);
    rm_session_meta meta = {0};
    strcpy(meta.client, "C-5");
    assert_int_equal(rm_recorder_start(f->rec, &meta, NULL, NULL), RM_OK);
    feed(f, 3000, 0.0); /* idle far beyond idle_us: an explicit session stays */
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_RECORDING);
    assert_true(s.explicit_session);
    assert_string_equal(s.path, path);
    assert_string_equal(s.session.client, "C-5"); /* status shows who it is */
    rm_recorder_stop(f->rec, NULL);
    assert_string_equal(status_of(f).session.session_id, "");
    rm_session *file = open_file(path);
    assert_string_equal(rm_session_meta_of(file)->client, "C-5");
    assert_int_equal(rm_session_sample_count(file), 3100);
    rm_session_close(file);
}

static void session_ends_exactly_at_its_maximum_length(void **state)
{
    fixture *f = *state;
    rm_recorder_options o = f->opt;
    o.max_session_us = 2000000; /* 2000 samples at 1 kHz */
    rm_recorder_set_options(f->rec, &o);
    rm_recorder_device(f->rec, &f->info, f->now);
    assert_int_equal(rm_recorder_start(f->rec, NULL, NULL, NULL), RM_OK);
    feed(f, 2500, 50.0);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_IDLE);
    assert_non_null(strstr(f->log, "ended (duration reached)"));
    rm_session *file = open_file(s.last_path);
    assert_int_equal(rm_session_sample_count(file), 2000);
    rm_session_close(file);
    feed(f, 100, 50.0); /* still loaded: no new auto session */
    assert_int_equal(status_of(f).state, RM_RECORDER_IDLE);
}

static void stop_under_load_waits_for_unloading_before_auto_start(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 100, 50.0);
    assert_int_equal(rm_recorder_stop(f->rec, NULL), RM_OK);
    feed(f, 500, 50.0);
    assert_int_equal(status_of(f).state, RM_RECORDER_IDLE);
    feed(f, 10, 0.0);
    feed(f, 10, 50.0);
    assert_int_equal(status_of(f).state, RM_RECORDER_RECORDING);
}

static void start_before_the_device_opens_when_it_arrives(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "chosen.rms");
    assert_int_equal(rm_recorder_start(f->rec, NULL, path, NULL), RM_OK);
    assert_int_equal(status_of(f).state, RM_RECORDER_IDLE);
    rm_recorder_device(f->rec, &f->info, f->now);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_RECORDING);
    assert_string_equal(s.path, path);
    free(path);
}

static void replug_within_the_window_resumes_the_same_file(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 300, 50.0);
    uint64_t last_before = f->next_t - PERIOD_US;
    for (int i = 0; i < 3; i++) {
        rm_recorder_unplugged(f->rec, f->now);
        assert_int_equal(status_of(f).state, RM_RECORDER_SUSPENDED);
        f->now += 2000000;      /* 2 s away, inside the 5 s window */
        f->next_t += 2000000;   /* the device clock ran on */
        rm_recorder_device(f->rec, &f->info, f->now);
        feed(f, 300, 50.0);
    }
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.resumes, 3);
    char path[4096];
    strcpy(path, s.path);
    assert_int_equal(rm_recorder_stop(f->rec, NULL), RM_OK);
    assert_int_equal(files_in(f->library), 1);
    rm_session *file = open_file(path);
    assert_int_equal(rm_session_sample_count(file), 1200);
    size_t n;
    const rm_gap *gaps = rm_session_gaps(file, &n);
    assert_int_equal(n, 3);
    assert_int_equal(gaps[0].reason, RM_GAP_UNPLUGGED);
    assert_int_equal(gaps[0].start_us, last_before);
    assert_int_equal(gaps[0].end_us, last_before + PERIOD_US + 2000000);
    rm_session_close(file);
}

static void source_reported_unplug_gap_is_written_once(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 100, 50.0);
    rm_recorder_unplugged(f->rec, f->now);
    f->now += 1000000;
    f->next_t += 1000000;
    rm_recorder_device(f->rec, &f->info, f->now);
    rm_gap from_source = {.start_us = f->next_t - 1000000 - PERIOD_US,
                          .end_us = f->next_t, .lost_samples = 999,
                          .reason = RM_GAP_UNPLUGGED};
    rm_recorder_gap(f->rec, &from_source);
    feed(f, 100, 50.0);
    char path[4096];
    strcpy(path, status_of(f).path);
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    size_t n;
    const rm_gap *gaps = rm_session_gaps(file, &n);
    assert_int_equal(n, 1);
    assert_int_equal(gaps[0].lost_samples, 999);
    rm_session_close(file);
}

static void restarted_device_clock_continues_after_the_gap(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    f->next_t = 50000000; /* 50 s into the device's uptime */
    feed(f, 200, 50.0);
    rm_recorder_unplugged(f->rec, f->now);
    f->now += 3000000;
    f->next_t = 0; /* it rebooted */
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 200, 50.0);
    char path[4096];
    strcpy(path, status_of(f).path);
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    rm_sample s[400];
    size_t got;
    assert_int_equal(rm_session_read(file, 0, s, 400, &got, NULL), RM_OK);
    assert_int_equal(got, 400);
    for (size_t i = 1; i < got; i++)
        assert_true(s[i].t_us > s[i - 1].t_us);
    assert_true(s[200].t_us - s[199].t_us >= 3000000);
    rm_session_close(file);
}

static void absence_beyond_the_window_closes_the_session(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 200, 50.0);
    rm_recorder_unplugged(f->rec, f->now);
    rm_recorder_tick(f->rec, f->now + 4000000);
    assert_int_equal(status_of(f).state, RM_RECORDER_SUSPENDED);
    rm_recorder_tick(f->rec, f->now + 6000000);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_IDLE);
    rm_session *file = open_file(s.last_path);
    assert_true(rm_session_integrity(file)->closed_cleanly);
    assert_int_equal(rm_session_sample_count(file), 200);
    rm_session_close(file);
}

static void overflow_is_written_as_a_gap(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 100, 50.0);
    rm_gap overflow = {.start_us = f->next_t, .end_us = f->next_t + 299 * PERIOD_US,
                       .lost_samples = 300, .reason = RM_GAP_OVERFLOW};
    f->next_t += 300 * PERIOD_US;
    rm_recorder_gap(f->rec, &overflow);
    feed(f, 100, 50.0);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.overflow_samples, 300);
    char path[4096];
    strcpy(path, s.path);
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    size_t n;
    const rm_gap *gaps = rm_session_gaps(file, &n);
    assert_int_equal(n, 1);
    assert_int_equal(gaps[0].reason, RM_GAP_OVERFLOW);
    assert_int_equal(gaps[0].lost_samples, 300);
    rm_session_close(file);
}

static void metadata_set_before_and_during_reaches_the_file(void **state)
{
    fixture *f = *state;
    rm_session_meta before = {0}, during = {0};
    strcpy(before.client, "Client-Jane-Doe");
    before.side = RM_SIDE_LEFT;
    strcpy(during.notes, "tender mid-thigh");
    rm_recorder_device(f->rec, &f->info, f->now);
    assert_int_equal(rm_recorder_set_meta(f->rec, &before, NULL), RM_OK);
    feed(f, 100, 50.0);
    assert_int_equal(rm_recorder_set_meta(f->rec, &during, NULL), RM_OK);
    char path[4096];
    strcpy(path, status_of(f).path);
    assert_null(strstr(path, "Jane"));
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    const rm_session_meta *m = rm_session_meta_of(file);
    assert_string_equal(m->client, "Client-Jane-Doe");
    assert_int_equal(m->side, RM_SIDE_LEFT);
    assert_string_equal(m->muscle, "hamstring");
    assert_string_equal(m->notes, "tender mid-thigh");
    rm_session_close(file);
}

static void next_session_does_not_inherit_the_client(void **state)
{
    fixture *f = *state;
    rm_session_meta meta = {0};
    strcpy(meta.client, "C-1");
    rm_recorder_device(f->rec, &f->info, f->now);
    rm_recorder_start(f->rec, &meta, NULL, NULL);
    feed(f, 10, 0.0);
    rm_recorder_stop(f->rec, NULL);
    rm_recorder_start(f->rec, NULL, NULL, NULL);
    feed(f, 10, 0.0);
    char path[4096];
    strcpy(path, status_of(f).path);
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    assert_string_equal(rm_session_meta_of(file)->client, "");
    rm_session_close(file);
}

static void files_are_private(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 50, 50.0);
    struct stat st;
    assert_int_equal(stat(status_of(f).path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->library, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
}

static void unwritable_library_is_logged_not_fatal(void **state)
{
    fixture *f = *state;
    rm_recorder_options o = f->opt;
    snprintf(o.library, sizeof o.library, "/proc/rollmap-cannot-exist");
    rm_recorder_set_options(f->rec, &o);
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 2000, 50.0);
    rm_recorder_status s = status_of(f);
    assert_int_equal(s.state, RM_RECORDER_IDLE);
    assert_non_null(strstr(s.last_error, "/proc/rollmap-cannot-exist"));
    /* one line per retry period (5 s), not one per sample */
    assert_non_null(strstr(f->log, "cannot start a session"));
    assert_null(strstr(strstr(f->log, "cannot start") + 1, "cannot start"));
}

/* Disk full, simulated by the file size limit: the failure is logged once,
 * and when the limit is lifted every sample still reaches the file. */
static void write_failure_is_logged_and_recording_resumes(void **state)
{
    fixture *f = *state;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit saved;
    getrlimit(RLIMIT_FSIZE, &saved);
    rm_recorder_device(f->rec, &f->info, f->now);
    feed(f, 600, 50.0);
    rm_recorder_tick(f->rec, f->now + 600000); /* past the flush interval */
    char path[4096];
    strcpy(path, status_of(f).path);
    struct stat st;
    stat(path, &st);
    struct rlimit tight = {.rlim_cur = (rlim_t)st.st_size, .rlim_max = saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tight), 0);
    feed(f, 600, 50.0);
    rm_recorder_tick(f->rec, f->now + 600000);
    rm_recorder_status s = status_of(f);
    assert_true(s.write_failing);
    assert_int_equal(s.write_failures, 1);
    assert_non_null(strstr(f->log, "cannot write session"));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    rm_recorder_tick(f->rec, f->now + 700000);
    s = status_of(f);
    assert_false(s.write_failing);
    assert_non_null(strstr(f->log, "recording resumed"));
    rm_recorder_stop(f->rec, NULL);
    rm_session *file = open_file(path);
    assert_int_equal(rm_session_sample_count(file), 1200);
    rm_session_close(file);
}

/* ---- the capture pipeline on the virtual roller ------------------------- */

typedef struct stall {
    int calls;
    useconds_t first_call_sleep_us;
} stall;

static rm_link_stats link_in_file(const char *path)
{
    rm_session *file = open_file(path);
    rm_link_stats link = rm_session_meta_of(file)->link;
    rm_session_close(file);
    return link;
}

/* Flush what the recorder queued (the flush interval has passed). */
static void let_the_writer_flush(fixture *f)
{
    f->now += (uint64_t)f->opt.writer.flush_interval_ms * 1000u;
    rm_recorder_tick(f->rec, f->now);
}

/* Counts from before the session are not its own; it records what changed
 * since it opened, at most every 10 s while open, and the last on stop. */
static void session_records_the_link_counts_since_it_opened(void **state)
{
    fixture *f = *state;
    rm_recorder_device(f->rec, &f->info, f->now);
    rm_decoder_stats total = {.frames_ok = 100, .crc_errors = 5, .frames_lost = 1};
    rm_recorder_link(f->rec, &total, f->now);
    assert_int_equal(rm_recorder_start(f->rec, NULL, NULL, NULL), RM_OK);
    char path[sizeof status_of(f).path];
    memcpy(path, status_of(f).path, sizeof path);
    assert_true(link_in_file(path).recorded);
    assert_int_equal(link_in_file(path).crc_errors, 0);

    feed(f, 100, 0.0);
    total.frames_ok = 200, total.crc_errors = 8, total.frames_lost = 3;
    rm_recorder_link(f->rec, &total, f->now);
    let_the_writer_flush(f);
    rm_link_stats link = link_in_file(path);
    assert_int_equal(link.frames_ok, 100);
    assert_int_equal(link.crc_errors, 3);
    assert_int_equal(link.frames_lost, 2);

    total.crc_errors = 20;
    rm_recorder_link(f->rec, &total, f->now);
    let_the_writer_flush(f);
    assert_int_equal(link_in_file(path).crc_errors, 3); /* < 10 s later */
    f->now += 10000000;
    rm_recorder_link(f->rec, &total, f->now);
    let_the_writer_flush(f);
    assert_int_equal(link_in_file(path).crc_errors, 15);

    total.crc_errors = 30, total.bytes_discarded = 44;
    rm_recorder_link(f->rec, &total, f->now + 1);
    assert_int_equal(rm_recorder_stop(f->rec, NULL), RM_OK);
    link = link_in_file(path);
    assert_int_equal(link.crc_errors, 25);
    assert_int_equal(link.bytes_discarded, 44);
    assert_int_equal(link.frames_lost, 2);
}

static void stall_first_batch(void *user, const rm_sample *s, size_t n)
{
    (void)s;
    (void)n;
    stall *st = user;
    if (st->calls++ == 0)
        usleep(st->first_call_sleep_us);
}

static uint64_t lost_in_gaps(const rm_session *file, rm_gap_reason reason)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(file, &n);
    uint64_t lost = 0;
    for (size_t i = 0; i < n; i++)
        if (gaps[i].reason == reason)
            lost += gaps[i].lost_samples;
    return lost;
}

static void run_capture(fixture *f, const char *source, size_t ring,
                        stall *hook, rm_capture_status *out, char *path)
{
    rm_capture_options o = {0};
    rm_error err;
    assert_int_equal(rm_source_parse(source, &o.source, &err), RM_OK);
    o.ring_capacity = ring;
    rm_reconnect_policy_default(&o.reconnect);
    o.end_at_eof = true;
    o.recorder = f->opt;
    o.recorder.auto_start = false;
    if (hook) {
        o.hooks.samples = stall_first_batch;
        o.hooks.user = hook;
    }
    o.record_now = true;
    snprintf(o.record_path, sizeof o.record_path, "%s", path);
    if (f->calibration_dir)
        snprintf(o.calibration_dir, sizeof o.calibration_dir, "%s", f->calibration_dir);
    rm_capture *cap;
    assert_int_equal(rm_capture_start(&cap, &o, &err), RM_OK);
    for (int i = 0; i < 600; i++) {
        rm_capture_get_status(cap, out);
        if (out->source_ended)
            break;
        usleep(50000);
    }
    rm_capture_stop(cap, out);
}

/* An unpaced replay through a ring far smaller than the session: the I/O
 * thread waits for the writer, so every sample reaches the file. */
static void replay_waits_for_the_writer_and_loses_nothing(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "sim.rms");
    rm_capture_status s;
    run_capture(f, "sim:seed=7,duration=20?fast", 1024, NULL, &s, path);
    assert_true(s.source_ended);
    assert_true(s.samples_received >= 19000);
    assert_int_equal(s.ring_dropped, 0);
    rm_session *file = open_file(path);
    assert_int_equal(rm_session_sample_count(file), s.samples_received);
    rm_session_close(file);
    free(path);
}

/* A live (paced) device and a consumer stalled 2 s with a 1024-sample
 * ring: about 1000 samples cannot wait and become an overflow gap. */
static void capture_overflow_is_counted_and_written_as_a_gap(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "overflow.rms");
    stall hook = {.first_call_sleep_us = 2000000};
    rm_capture_status s;
    run_capture(f, "sim:seed=7,duration=4", 1024, &hook, &s, path);
    assert_true(s.ring_dropped > 500);
    assert_int_equal(s.recorder.overflow_samples, s.ring_dropped);
    rm_session *file = open_file(path);
    assert_int_equal(rm_session_sample_count(file) + s.ring_dropped,
                     s.samples_received);
    assert_int_equal(lost_in_gaps(file, RM_GAP_OVERFLOW), s.ring_dropped);
    rm_session_close(file);
    free(path);
}

/* A noisy link (one sample a frame, bit errors) while the consumer stalls
 * 2 s: far more lost-frame gaps than the message ring holds. They merge
 * instead of vanishing: the file accounts for every frame lost. */
static void gaps_during_a_stall_are_merged_not_dropped(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "noisy.rms");
    stall hook = {.first_call_sleep_us = 2000000};
    rm_capture_status s;
    run_capture(f, "sim:seed=7,duration=4,ber=0.001,batch=1,pressure_cells=0",
                16384, &hook, &s, path);
    assert_true(s.frames_lost > 300);
    assert_int_equal(s.messages_dropped, 0);
    rm_session *file = open_file(path);
    uint64_t lost = lost_in_gaps(file, RM_GAP_LOST_FRAMES);
    /* frames lost after the last sample that arrived have no later sample
     * to put a gap before: at most a couple at the very end */
    assert_true(lost <= s.frames_lost && lost + 2 >= s.frames_lost);
    assert_int_equal(rm_session_sample_count(file), s.samples_received);
    rm_session_close(file);
    free(path);
}

/* A calibration stored for the device's serial (rollmap calibrate) is the
 * one the session records, not the device's own. */
/* Bit errors on the wire: the session file says how many frames the
 * decoder rejected and lost, the same figures the capture status gives. */
static void capture_writes_the_decoder_counts_into_the_session(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "noisy.rms");
    rm_capture_status s;
    run_capture(f, "sim:seed=5,duration=3,ber=0.001,batch=1,pressure_cells=0,"
                   "load_cells=2?fast", 0, NULL, &s, path);
    rm_link_stats link = link_in_file(path);
    assert_true(link.recorded);
    assert_true(link.crc_errors > 0);
    assert_int_equal(link.crc_errors + link.malformed + link.oversized,
                     s.frames_rejected);
    assert_int_equal(link.frames_lost, s.frames_lost);
    assert_int_equal(link.frames_ok, s.frames_ok);
    free(path);
}

static void stored_calibration_reaches_the_session(void **state)
{
    fixture *f = *state;
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    assert_int_equal(rm_sim_config_parse(&cfg, "seed=7", NULL), RM_OK);
    rm_sim *sim;
    assert_int_equal(rm_sim_new(&sim, &cfg, NULL), RM_OK);
    rm_device_info info = *rm_sim_info(sim);
    rm_sim_free(sim);
    rm_device_info_default_calibration(&info);
    info.channels[0].cal.coef[1] = 0.0125;
    strcpy(info.channels[0].cal.origin, "user");
    f->calibration_dir = testutil_path(f->dir, "calibration");
    rm_error err;
    assert_int_equal(rm_calibration_save(f->calibration_dir, info.serial, &info, &err),
                     RM_OK);
    char *path = testutil_path(f->dir, "calibrated.rms");
    rm_capture_status s;
    run_capture(f, "sim:seed=7,duration=1?fast", 1024, NULL, &s, path);
    rm_session *file = open_file(path);
    const rm_channel_info *ch = &rm_session_device(file)->channels[0];
    assert_true(ch->cal.coef[1] == 0.0125);
    assert_string_equal(ch->cal.origin, "user");
    assert_non_null(strstr(f->log, "stored calibration applied"));
    rm_session_close(file);
    free(path);
    free(f->calibration_dir);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(no_session_below_the_start_threshold),
        TEST(auto_session_starts_at_the_first_loaded_sample),
        TEST(auto_session_keeps_the_pre_roll),
        TEST(auto_session_ends_after_the_idle_time),
        TEST(auto_session_ends_when_samples_stop_coming),
        TEST(explicit_session_ignores_idle_and_ends_on_stop),
        TEST(start_during_an_auto_session_adopts_it),
        TEST(session_ends_exactly_at_its_maximum_length),
        TEST(stop_under_load_waits_for_unloading_before_auto_start),
        TEST(start_before_the_device_opens_when_it_arrives),
        TEST(replug_within_the_window_resumes_the_same_file),
        TEST(source_reported_unplug_gap_is_written_once),
        TEST(restarted_device_clock_continues_after_the_gap),
        TEST(absence_beyond_the_window_closes_the_session),
        TEST(overflow_is_written_as_a_gap),
        TEST(metadata_set_before_and_during_reaches_the_file),
        TEST(next_session_does_not_inherit_the_client),
        TEST(files_are_private),
        TEST(unwritable_library_is_logged_not_fatal),
        TEST(write_failure_is_logged_and_recording_resumes),
        TEST(replay_waits_for_the_writer_and_loses_nothing),
        TEST(capture_overflow_is_counted_and_written_as_a_gap),
        TEST(gaps_during_a_stall_are_merged_not_dropped),
        TEST(stored_calibration_reaches_the_session),
        TEST(session_records_the_link_counts_since_it_opened),
        TEST(capture_writes_the_decoder_counts_into_the_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
