/*
 * Session library speed on a large library: generates a database of N
 * sessions of C clients (default 10,000 of 200: 50 sessions each over two
 * years, both legs) with realistic analysis rows (35 profile bins, 0-6
 * tender spots, 0-8 dwells, 0-3 marks each) through the library's own
 * store path, without session files. Beyond BASE_SESSIONS, the rest are
 * copies of those made in SQL (rows, ids and session ids shifted), which
 * fills 100,000 sessions in minutes on PostgreSQL rather than the hour
 * the store path's round trips would take. Then times rm_library_list for one client, the client's
 * last 10, the whole library, and rm_library_load_analysis of 10 sessions
 * (what a 10-session comparison reads), and the database checks
 * (PRAGMA quick_check and integrity_check). Each figure is the median of
 * REPEATS runs.
 *
 *   build/bench/bench_library [sessions] [database] [clients]
 *
 * With a database the library is kept there (for timing the command:
 * rollmap library list --db PATH --client C0042); it may be a PostgreSQL
 * connection string (docs/CLINIC.md) for the same figures on a server.
 * A database that already holds the sessions (an earlier run's) is timed
 * as it is, so the figures can be taken again on a quiet machine without
 * filling it again.
 */
#include "library_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SESSIONS_PER_CLIENT 50 /* the default number of clients */
#define BASE_SESSIONS 2000     /* through the store path; more are copies */
#define REPEATS 9
#define BINS 35               /* 35 cm of hamstring at 1 cm bins */
#define MAX_SPOTS 6
#define MAX_DWELLS 8
#define MAX_MARKS 3
#define SPAN_US (2LL * 365 * 86400 * 1000000) /* two years of sessions */
#define T0_US 1735689600000000LL             /* 2025-01-01T00:00:00Z */

static int fail(const char *what, const rm_error *err)
{
    fprintf(stderr, "bench_library: %s: %s\n", what, err->message);
    return 1;
}

/* xorshift64: the same library on every run. */
static double uniform(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (double)(x >> 11) / (double)(1ULL << 53);
}

static void fill_spots(rm_analysis *a, uint64_t *rng)
{
    a->spot_count = (size_t)(uniform(rng) * (MAX_SPOTS + 1));
    for (size_t i = 0; i < a->spot_count; i++) {
        rm_spot *s = &a->spots[i];
        s->position_cm = 5 + 28 * uniform(rng);
        s->position_pct = 100 * s->position_cm / BINS;
        s->ml = 2 * uniform(rng) - 1;
        s->side = s->ml < -0.3 ? RM_ML_SIDE_MEDIAL
                 : s->ml > 0.3 ? RM_ML_SIDE_LATERAL : RM_ML_SIDE_CENTRE;
        s->score = 3 + 7 * uniform(rng);
        s->confidence = uniform(rng);
        s->evidence.dwell_s = 40 * uniform(rng);
        s->evidence.slowing = uniform(rng);
        s->evidence.unloading = uniform(rng);
        s->evidence.tremor = uniform(rng);
        s->evidence.mark_rating = -1;
        s->threshold_force_n = 150 + 100 * uniform(rng);
        s->threshold_pressure_kpa = 25 + 20 * uniform(rng);
    }
}

static void fill_dwells_and_marks(rm_analysis *a, uint64_t *rng)
{
    a->dwell_count = (size_t)(uniform(rng) * (MAX_DWELLS + 1));
    for (size_t i = 0; i < a->dwell_count; i++) {
        rm_dwell *d = &a->dwells[i];
        d->start_s = 60.0 * i + 10 * uniform(rng);
        d->duration_s = 10 + 50 * uniform(rng);
        d->end_s = d->start_s + d->duration_s;
        d->position_cm = 35 * uniform(rng);
        d->position_pct = 100 * d->position_cm / BINS;
        d->mean_force_n = 200 + 100 * uniform(rng);
        d->peak_force_n = d->mean_force_n * 1.2;
        d->mean_pressure_kpa = 30 + 10 * uniform(rng);
        d->peak_pressure_kpa = d->mean_pressure_kpa * 1.3;
        d->pressure_time_kpa_s = d->mean_pressure_kpa * d->duration_s;
        d->force_stability = 0.1 * uniform(rng);
        d->tremor_power = uniform(rng);
    }
    a->mark_count = (size_t)(uniform(rng) * (MAX_MARKS + 1));
    for (size_t i = 0; i < a->mark_count; i++)
        a->marks[i] = (rm_mark){.t_s = 100.0 * i, .position_cm = 35 * uniform(rng),
                                .force_n = 220, .pressure_kpa = 35,
                                .rating = (int)(10 * uniform(rng)), .spot = -1};
}

static void fill_profile(rm_analysis *a, uint64_t *rng)
{
    a->bin_count = BINS;
    for (size_t i = 0; i < BINS; i++) {
        rm_profile_bin *b = &a->profile[i];
        b->position_cm = (double)i + 0.5;
        b->time_s = 2 + 8 * uniform(rng);
        b->mean_force_n = 220 + 80 * uniform(rng);
        b->peak_force_n = b->mean_force_n * 1.25;
        b->mean_pressure_kpa = 30 + 8 * uniform(rng);
        b->tenderness = 10 * uniform(rng) * uniform(rng);
        b->medial_force_n = b->mean_force_n / 2;
        b->lateral_force_n = b->mean_force_n / 2;
        b->tremor = uniform(rng);
    }
}

static void fill_session(rm_analysis *a, size_t index, size_t clients,
                         uint64_t *rng)
{
    size_t client = index % clients;
    rm_session_meta *m = &a->meta;
    m->start_unix_us = T0_US + (int64_t)(uniform(rng) * (double)SPAN_US);
    snprintf(m->session_id, sizeof m->session_id, "bench-%06zu", index);
    snprintf(m->client, sizeof m->client, "C%04zu", client);
    snprintf(m->muscle, sizeof m->muscle, "hamstring");
    m->side = index % 2 ? RM_SIDE_RIGHT : RM_SIDE_LEFT;
    snprintf(a->device.model, sizeof a->device.model, "rollmap R2");
    snprintf(a->device.serial, sizeof a->device.serial, "R2-%04zu", client % 17);
    a->device.sample_rate_hz = 1000;
    a->device.channel_count = 8;
    a->has_position = a->has_pressure = true;
    a->summary = (rm_summary){.duration_s = 600, .rolled_length_cm = 35,
                              .time_under_load_s = 400 + 150 * uniform(rng),
                              .mean_force_n = 250 + 50 * uniform(rng),
                              .peak_force_n = 450, .mean_pressure_kpa = 33,
                              .peak_pressure_kpa = 52, .strokes = 200,
                              .cadence_per_min = 20, .mean_speed_cm_s = 2.5};
    fill_spots(a, rng);
    fill_dwells_and_marks(a, rng);
    fill_profile(a, rng);
}

static int generate(rm_library *lib, size_t sessions, size_t clients)
{
    rm_analysis a = {0};
    rm_spot spots[MAX_SPOTS];
    rm_dwell dwells[MAX_DWELLS];
    rm_mark marks[MAX_MARKS];
    rm_profile_bin bins[BINS];
    a.spots = spots;
    a.dwells = dwells;
    a.marks = marks;
    a.profile = bins;
    rm_analysis_config_default(&a.config);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    rm_error err;
    for (size_t i = 0; i < sessions; i++) {
        fill_session(&a, i, clients, &rng);
        char path[64];
        snprintf(path, sizeof path, "/srv/sessions/%s.rms", a.meta.session_id);
        library_file_stamp stamp = {.size = 6000000, .mtime_ns = 1};
        int64_t id;
        if (library_store_analysis(lib, &a, path, &stamp, NULL, &id, &err) != RM_OK)
            return fail("store", &err);
    }
    return 0;
}

static const char *const cloned_tables[] = {"sessions", "dwells", "spots",
                                            "marks", "profile", "tags"};
#define CLONED_COUNT (sizeof cloned_tables / sizeof cloned_tables[0])

static int exec_sql(rm_library *lib, const char *sql)
{
    if (lib->ops->exec(lib, sql) == LIBRARY_DONE)
        return 0;
    fprintf(stderr, "bench_library: %s: %s\n", sql, lib->fail_detail);
    return 1;
}

/* Each table's rows of the first base sessions (ids 1..base) again with
 * the ids moved on by base; the copies' session ids and paths follow
 * their ids, their start a microsecond later than the last copy's. */
static int clone_round(rm_library *lib, size_t base)
{
    char sql[256];
    int failed = 0;
    for (size_t t = 0; !failed && t < CLONED_COUNT; t++) {
        const char *key = t ? "session" : "id";
        snprintf(sql, sizeof sql, "UPDATE base_%s SET %s = %s + %zu",
                 cloned_tables[t], key, key, base);
        failed = exec_sql(lib, sql);
    }
    failed = failed || exec_sql(lib, "UPDATE base_sessions SET "
                                     "session_id = 'bench-' || id, "
                                     "path = '/srv/sessions/bench-' || id || "
                                     "'.rms', start_us = start_us + 1");
    for (size_t t = 0; !failed && t < CLONED_COUNT; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO %s SELECT * FROM base_%s",
                 cloned_tables[t], cloned_tables[t]);
        failed = exec_sql(lib, sql);
    }
    return failed;
}

static int clone_sessions(rm_library *lib, size_t base, size_t sessions)
{
    char sql[256];
    int failed = exec_sql(lib, "BEGIN");
    for (size_t t = 0; !failed && t < CLONED_COUNT; t++) {
        snprintf(sql, sizeof sql, "CREATE TEMP TABLE base_%s AS SELECT * "
                 "FROM %s", cloned_tables[t], cloned_tables[t]);
        failed = exec_sql(lib, sql);
    }
    for (size_t made = base; !failed && made < sessions; made += base)
        failed = clone_round(lib, base);
    failed = failed || exec_sql(lib, "COMMIT");
    /* a server's autovacuum gathers the planner's statistics by itself
     * soon after such a load; the bench does not wait for it */
    if (!failed && !strcmp(rm_library_backend_name(lib), "postgresql"))
        failed = exec_sql(lib, "ANALYZE");
    return failed;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU time of this process: on a machine shared with other builds the
 * wall clock also counts their turns. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct timing {
    double wall_ms, cpu_ms; /* medians */
} timing;

/* Median times of rm_library_list with f; *rows gets the count. */
static timing time_list(rm_library *lib, const rm_library_filter *f,
                        size_t *rows)
{
    double wall[REPEATS], cpu[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        rm_library_entry *e;
        rm_error err;
        uint64_t t0 = rm_monotonic_us();
        double c0 = cpu_ms();
        if (rm_library_list(lib, f, &e, rows, &err) != RM_OK) {
            fail("list", &err);
            return (timing){-1, -1};
        }
        wall[r] = (double)(rm_monotonic_us() - t0) / 1000;
        cpu[r] = cpu_ms() - c0;
        rm_library_entries_free(e, *rows);
    }
    qsort(wall, REPEATS, sizeof wall[0], compare_double);
    qsort(cpu, REPEATS, sizeof cpu[0], compare_double);
    return (timing){wall[REPEATS / 2], cpu[REPEATS / 2]};
}

/* Median milliseconds to load the stored analyses of a client's last 10. */
static double time_load_ten(rm_library *lib, const char *client)
{
    rm_library_filter f = {.client = client, .last = 10};
    rm_library_entry *e;
    size_t n;
    rm_error err;
    if (rm_library_list(lib, &f, &e, &n, &err) != RM_OK)
        return fail("list", &err), -1;
    double ms[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        uint64_t t0 = rm_monotonic_us();
        for (size_t i = 0; i < n; i++) {
            rm_analysis *a;
            if (rm_library_load_analysis(lib, e[i].id, &a, &err) != RM_OK)
                return fail("load", &err), -1;
            rm_analysis_free(a);
        }
        ms[r] = (double)(rm_monotonic_us() - t0) / 1000;
    }
    rm_library_entries_free(e, n);
    qsort(ms, REPEATS, sizeof ms[0], compare_double);
    return ms[REPEATS / 2];
}

/* Median wall and CPU times of rm_library_verify over the whole file. */
static timing time_verify(rm_library *lib, bool full)
{
    double wall[REPEATS], cpu[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        rm_error err;
        uint64_t t0 = rm_monotonic_us();
        double c0 = cpu_ms();
        if (rm_library_verify(lib, full, &err) != RM_OK) {
            fail("verify", &err);
            return (timing){-1, -1};
        }
        wall[r] = (double)(rm_monotonic_us() - t0) / 1000;
        cpu[r] = cpu_ms() - c0;
    }
    qsort(wall, REPEATS, sizeof wall[0], compare_double);
    qsort(cpu, REPEATS, sizeof cpu[0], compare_double);
    return (timing){wall[REPEATS / 2], cpu[REPEATS / 2]};
}

/* Sessions the library holds already (0 when it cannot be listed). */
static size_t stored_sessions(rm_library *lib)
{
    rm_library_entry *e;
    size_t n;
    rm_error err;
    if (rm_library_list(lib, NULL, &e, &n, &err) != RM_OK)
        return 0;
    rm_library_entries_free(e, n);
    return n;
}

/* Store the sessions (base through the library, the rest copied in SQL)
 * and say how long it took. */
static int fill(rm_library *lib, const char *path, size_t sessions,
                size_t clients)
{
    size_t base = sessions > BASE_SESSIONS && sessions % BASE_SESSIONS == 0
                      ? BASE_SESSIONS : sessions;
    uint64_t t0 = rm_monotonic_us();
    if (generate(lib, base, clients) != 0)
        return 1;
    double gen_s = (double)(rm_monotonic_us() - t0) / 1e6;
    t0 = rm_monotonic_us();
    if (base < sessions && clone_sessions(lib, base, sessions) != 0)
        return 1;
    double clone_s = (double)(rm_monotonic_us() - t0) / 1e6;
    struct stat st;
    printf("library: %zu sessions of %zu clients on %s; %zu stored in %.1f s "
           "(%.2f ms per session)", sessions, clients,
           rm_library_backend_name(lib), base, gen_s,
           gen_s * 1000 / (double)base);
    if (base < sessions)
        printf(", %zu copied in SQL in %.1f s", sessions - base, clone_s);
    if (stat(path, &st) == 0)
        printf(", database %.1f MB (+ WAL)", (double)st.st_size / 1e6);
    putchar('\n');
    return 0;
}

static int run(rm_library *lib, const char *path, size_t sessions,
               size_t clients)
{
    size_t stored = stored_sessions(lib);
    if (stored >= sessions)
        printf("library: %zu sessions on %s, stored by an earlier run\n",
               stored, rm_library_backend_name(lib));
    else if (stored > 0)
        return fprintf(stderr, "bench_library: %s holds %zu sessions, fewer "
                       "than %zu: start from an empty database\n", path,
                       stored, sessions), 1;
    else if (fill(lib, path, sessions, clients) != 0)
        return 1;
    size_t rows;
    rm_library_filter client = {.client = "C0042"};
    timing t = time_list(lib, &client, &rows);
    printf("list --client C0042:           %5zu rows  %7.2f ms wall  %7.2f ms "
           "CPU (medians of %d)\n", rows, t.wall_ms, t.cpu_ms, REPEATS);
    rm_library_filter last = {.client = "C0042", .last = 10};
    t = time_list(lib, &last, &rows);
    printf("list --client C0042 --last 10: %5zu rows  %7.2f ms wall  %7.2f ms "
           "CPU\n", rows, t.wall_ms, t.cpu_ms);
    t = time_list(lib, NULL, &rows);
    printf("list (whole library):          %5zu rows  %7.2f ms wall  %7.2f ms "
           "CPU\n", rows, t.wall_ms, t.cpu_ms);
    printf("load_analysis x10 (one client's last 10): %.2f ms\n",
           time_load_ten(lib, "C0042"));
    t = time_verify(lib, false);
    printf("quick_check (on open up to 16 MiB, before writes): %7.2f ms wall "
           "%7.2f ms CPU\n", t.wall_ms, t.cpu_ms);
    t = time_verify(lib, true);
    printf("integrity_check (library check):                   %7.2f ms wall "
           "%7.2f ms CPU\n", t.wall_ms, t.cpu_ms);
    return 0;
}

int main(int argc, char **argv)
{
    size_t sessions = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t clients = argc > 3 ? strtoul(argv[3], NULL, 10)
                              : sessions / SESSIONS_PER_CLIENT;
    if (!sessions || !clients || clients > sessions)
        return fprintf(stderr, "usage: bench_library [sessions] [database] "
                       "[clients (1 to sessions)]\n"), 2;
    char dir[] = "/tmp/bench-library-XXXXXX";
    char path[4096];
    if (argc > 2) {
        snprintf(path, sizeof path, "%s", argv[2]);
    } else {
        if (!mkdtemp(dir))
            return perror("mkdtemp"), 1;
        snprintf(path, sizeof path, "%s/library.db", dir);
    }
    rm_library *lib;
    rm_error err;
    if (rm_library_open(&lib, path, &err) != RM_OK)
        return fail(path, &err);
    int status = run(lib, path, sessions, clients);
    rm_library_close(lib);
    if (argc <= 2) {
        char wal[4200], shm[4200];
        snprintf(wal, sizeof wal, "%s-wal", path);
        snprintf(shm, sizeof shm, "%s-shm", path);
        unlink(wal);
        unlink(shm);
        unlink(path);
        rmdir(dir);
    }
    return status;
}
