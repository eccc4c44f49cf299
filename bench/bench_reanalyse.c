/*
 * bench_reanalyse: `rollmap library reanalyse` of a library of ten-minute
 * sessions (by default 1,000, 1 kHz, 8 channels, from the virtual roller),
 * one job against one job per online CPU, alternating A B A B. Prints wall
 * and CPU time (all threads) of each run, per session and in total, and the
 * load average around it: on a shared machine the CPU time is the steadier
 * figure. The library is built once in DIR (default
 * /tmp/rollmap-bench-reanalyse) and reused by later runs (delete DIR to
 * start again).
 *
 *   bench_reanalyse [SESSIONS [DIR [RUNS]]]
 */
#include "rollmap_library.h"
#include "bench_sim_file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SESSIONS 1000
#define DEFAULT_DIR "/tmp/rollmap-bench-reanalyse"
#define DEFAULT_RUNS 2            /* of each: A B A B */
#define SESSION_S 600.0           /* ten minutes */
#define DAY_US 86400000000LL
#define FIRST_START_US 1764547200000000LL /* 2025-12-01T00:00:00Z */

static int fail(const char *what, const rm_error *err)
{
    fprintf(stderr, "bench_reanalyse: %s: %s\n", what, err->message);
    return 1;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double load_average(void)
{
    double one;
    return getloadavg(&one, 1) == 1 ? one : -1;
}

/* Session i: its own seed, a client of ten, alternate legs, a day apart. */
static rm_status record_session(const char *path, size_t i, rm_error *err)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.seed = 1000 + i;
    cfg.duration_s = SESSION_S;
    cfg.side = i % 2 ? RM_SIDE_LEFT : RM_SIDE_RIGHT;
    rm_session_meta meta = {.side = cfg.side,
                            .start_unix_us = FIRST_START_US +
                                             (int64_t)i * DAY_US};
    snprintf(meta.session_id, sizeof meta.session_id, "bench-%06zu", i);
    snprintf(meta.client, sizeof meta.client, "C%03zu", i % 10);
    strcpy(meta.muscle, "hamstring");
    uint64_t samples;
    return bench_record_sim(path, &cfg, &meta, &samples, err);
}

/* Sessions not yet in dir are recorded and added; the others are left. */
static int build_library(rm_library *lib, const char *dir, size_t sessions)
{
    uint64_t t0 = rm_monotonic_us();
    size_t made = 0;
    for (size_t i = 0; i < sessions; i++) {
        char path[PATH_MAX];
        struct stat sb;
        rm_error err;
        snprintf(path, sizeof path, "%s/s%06zu.rms", dir, i);
        if (stat(path, &sb) != 0) {
            if (record_session(path, i, &err) != RM_OK)
                return fail(path, &err);
            made++;
        }
        if (rm_library_add(lib, path, NULL, &err) != RM_OK)
            return fail(path, &err);
    }
    if (made)
        printf("built: %zu sessions recorded and added in %.0f s\n", made,
               (double)(rm_monotonic_us() - t0) / 1e6);
    return 0;
}

static int time_reanalyse(rm_library *lib, unsigned jobs, size_t sessions)
{
    rm_library_reanalyse_options opt;
    rm_library_reanalyse_options_default(&opt);
    opt.jobs = jobs;
    size_t done = 0, failed = 0;
    rm_error err;
    double load_before = load_average(), cpu0 = cpu_seconds();
    uint64_t t0 = rm_monotonic_us();
    if (rm_library_reanalyse(lib, NULL, &opt, &done, &failed, &err) != RM_OK)
        return fail("reanalyse", &err);
    double wall = (double)(rm_monotonic_us() - t0) / 1e6;
    double cpu = cpu_seconds() - cpu0;
    printf("jobs %2u: %zu sessions  wall %7.1f s (%6.1f ms/session)  "
           "CPU %7.1f s (%6.1f ms/session)  CPU/wall %.2f  load %.1f -> %.1f\n",
           jobs, done, wall, 1e3 * wall / (double)sessions, cpu,
           1e3 * cpu / (double)sessions, cpu / wall, load_before,
           load_average());
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    size_t sessions = argc > 1 ? strtoul(argv[1], NULL, 10) : DEFAULT_SESSIONS;
    const char *dir = argc > 2 ? argv[2] : DEFAULT_DIR;
    int runs = argc > 3 ? atoi(argv[3]) : DEFAULT_RUNS;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned all = online > 0 ? (unsigned)online : 1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    char db[PATH_MAX];
    snprintf(db, sizeof db, "%s/library.db", dir);
    rm_library *lib;
    rm_error err;
    if (rm_library_open(&lib, db, &err) != RM_OK)
        return fail(db, &err);
    int status = build_library(lib, dir, sessions);
    size_t count = 0;
    if (status == 0 && rm_library_count(lib, NULL, &count, &err) != RM_OK)
        status = fail(db, &err);
    if (status == 0)
        printf("library %s: %zu sessions of %.0f s; %u online CPUs\n", db,
               count, SESSION_S, all);
    for (int r = 0; status == 0 && r < runs; r++) {
        status = time_reanalyse(lib, 1, count);
        if (status == 0)
            status = time_reanalyse(lib, all, count);
    }
    rm_library_close(lib);
    return status;
}
