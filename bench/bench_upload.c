/*
 * Session bytes to and from a PostgreSQL library (docs/CLINIC.md): writes
 * 9 one-hour sessions of the virtual roller (1 kHz x 8 channels) into a
 * folder, then times rm_library_upload_session of one into an empty
 * library, the same upload again (nothing to send), 8 uploads at once
 * (8 threads, each with its own connection, as 8 rooms), and
 * rm_library_fetch_session of the first into an empty cache folder and
 * again from the cache.
 *
 *   build/bench/bench_upload CONNINFO [FOLDER]
 *
 * CONNINFO is a libpq connection string of a database it may fill (under
 * tests/postgresql/with-cluster.sh: "$ROLLMAP_TEST_POSTGRESQL"); FOLDER
 * (default /tmp/rollmap-bench-upload) keeps the session files between runs.
 */
#include "library_internal.h"
#include "rollmap_hw.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SESSIONS 9          /* one alone, then 8 at once */
#define PARALLEL 8
#define SESSION_S 3600.0    /* the hour */
#define PATH_CAP 4096

static int fail(const char *what, const rm_error *err)
{
    fprintf(stderr, "bench_upload: %s: %s\n", what, err->message);
    return 1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double file_mb(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
}

/* One hour of the virtual roller as session n, unless it is there. */
static rm_status write_session(const char *path, int n, rm_error *err)
{
    if (access(path, R_OK) == 0)
        return RM_OK;
    rm_sim_config c;
    rm_sim_config_default(&c);
    c.seed = (uint64_t)n + 1;
    c.duration_s = SESSION_S;
    rm_sim *sim;
    rm_status st = rm_sim_new(&sim, &c, err);
    if (st != RM_OK)
        return st;
    rm_session_meta meta = {.side = RM_SIDE_LEFT,
                            .start_unix_us = rm_wallclock_us()};
    snprintf(meta.session_id, sizeof meta.session_id, "bench-upload-%d", n);
    snprintf(meta.client, sizeof meta.client, "C-BENCH");
    snprintf(meta.muscle, sizeof meta.muscle, "hamstring");
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.fsync = false;
    rm_session_writer *w;
    st = rm_session_writer_create(&w, path, rm_sim_info(sim), &meta, &opt,
                                  err);
    rm_sample s;
    while (st == RM_OK && rm_sim_next_sample(sim, &s))
        st = rm_session_writer_append(w, &s, 1, err);
    if (st == RM_OK)
        st = rm_session_writer_close(w, err);
    rm_sim_free(sim);
    return st;
}

typedef struct upload_job {
    const char *target;
    char path[PATH_CAP];
    rm_library_upload done;
    rm_error err;
    rm_status status;
    double seconds;
} upload_job;

static void *upload_thread(void *arg)
{
    upload_job *j = arg;
    rm_library *lib;
    double t0 = now_s();
    j->status = rm_library_open(&lib, j->target, &j->err);
    if (j->status == RM_OK) {
        j->status = rm_library_upload_session(lib, j->path, &j->done, &j->err);
        rm_library_close(lib);
    }
    j->seconds = now_s() - t0;
    return NULL;
}

static int upload_parallel(upload_job *jobs, double mb)
{
    pthread_t threads[PARALLEL];
    double t0 = now_s();
    for (int i = 0; i < PARALLEL; i++)
        pthread_create(&threads[i], NULL, upload_thread, &jobs[i]);
    double slowest = 0;
    for (int i = 0; i < PARALLEL; i++) {
        pthread_join(threads[i], NULL);
        if (jobs[i].status != RM_OK)
            return fail(jobs[i].path, &jobs[i].err);
        if (jobs[i].seconds > slowest)
            slowest = jobs[i].seconds;
    }
    double wall = now_s() - t0;
    printf("%d uploads at once: %.2f s wall (slowest %.2f s), %.0f MB, "
           "%.0f MB/s together\n", PARALLEL, wall, slowest, mb * PARALLEL,
           mb * PARALLEL / wall);
    return 0;
}

static int run(const char *target, const char *folder)
{
    rm_error err;
    upload_job jobs[SESSIONS];
    memset(jobs, 0, sizeof jobs);
    double t0 = now_s();
    for (int i = 0; i < SESSIONS; i++) {
        jobs[i].target = target;
        snprintf(jobs[i].path, sizeof jobs[i].path, "%s/s%d.rms", folder, i);
        if (write_session(jobs[i].path, i, &err) != RM_OK)
            return fail(jobs[i].path, &err);
    }
    double mb = file_mb(jobs[0].path);
    printf("%d sessions of %.0f s at 1 kHz x 8 channels, %.1f MB each "
           "(ready in %.1f s)\n", SESSIONS, SESSION_S, mb, now_s() - t0);

    clock_t cpu = clock();
    upload_thread(&jobs[0]);
    if (jobs[0].status != RM_OK)
        return fail("upload", &jobs[0].err);
    printf("one upload (%zu chunks sent): %.2f s (%.2f s of it this "
           "process's CPU), %.0f MB/s\n", jobs[0].done.chunks_sent,
           jobs[0].seconds, (double)(clock() - cpu) / CLOCKS_PER_SEC,
           mb / jobs[0].seconds);
    upload_thread(&jobs[0]);
    printf("the same upload again (%zu chunks sent): %.2f s\n",
           jobs[0].done.chunks_sent, jobs[0].seconds);
    if (upload_parallel(jobs + 1, mb))
        return 1;

    char cache[PATH_CAP], got[PATH_CAP + 32];
    snprintf(cache, sizeof cache, "%s/cache", folder);
    rm_library *lib;
    if (rm_library_open(&lib, target, &err) != RM_OK)
        return fail(target, &err);
    rm_library_fetched f;
    snprintf(got, sizeof got, "%s/bench-upload-0.rms", cache);
    unlink(got);
    for (int pass = 0; pass < 2; pass++) {
        t0 = now_s();
        if (rm_library_fetch_session(lib, "bench-upload-0", cache, got,
                                     sizeof got, &f, &err) != RM_OK)
            return fail("fetch", &err);
        printf("fetch into %s cache: %.2f s%s\n",
               pass == 0 ? "an empty" : "the", now_s() - t0,
               f.damaged_chunks ? " (damaged chunks!)" : "");
    }
    rm_library_close(lib);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_upload CONNINFO [FOLDER]\n");
        return 2;
    }
    const char *folder = argc == 3 ? argv[2] : "/tmp/rollmap-bench-upload";
    rm_error err;
    if (rm_make_dirs(folder, 0700, &err) != RM_OK)
        return fail(folder, &err);
    return run(argv[1], folder);
}
