/*
 * Analysis speed and memory on a long session file: the virtual roller
 * (2 load cells + 6 pressure cells, 1 kHz) writes an hour to a session
 * file; then, each in a fresh child process, the file is read once and
 * analysed with rm_analyse_session. Prints both times, their ratio and
 * each child's peak resident memory (getrusage ru_maxrss).
 *
 *   build/bench/bench_analysis [seconds] [session-file]
 *
 * seconds defaults to 3600; with a session file, that file is used and
 * nothing is simulated.
 */
#include "rollmap_analysis.h"
#include "rollmap_hw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 4096

static int fail(const char *what, const rm_error *err)
{
    fprintf(stderr, "bench_analysis: %s: %s\n", what, err->message);
    return 1;
}

static int simulate_to_file(const char *path, double seconds)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.duration_s = seconds;
    cfg.sample_rate_hz = 1000;
    cfg.load_cells = 2;
    cfg.pressure_cells = 6;
    rm_sim *sim;
    rm_error err;
    if (rm_sim_new(&sim, &cfg, &err) != RM_OK)
        return fail("simulator", &err);
    rm_session_meta meta = {.side = RM_SIDE_RIGHT};
    strcpy(meta.session_id, "bench-analysis");
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.fsync = false;
    rm_session_writer *w;
    if (rm_session_writer_create(&w, path, rm_sim_info(sim), &meta, &opt,
                                 &err) != RM_OK) {
        rm_sim_free(sim);
        return fail(path, &err);
    }
    static rm_sample buf[CHUNK];
    size_t n;
    rm_status st = RM_OK;
    do {
        for (n = 0; n < CHUNK && rm_sim_next_sample(sim, &buf[n]); n++)
            ;
        if (n > 0)
            st = rm_session_writer_append(w, buf, n, &err);
    } while (n == CHUNK && st == RM_OK);
    rm_sim_free(sim);
    if (st != RM_OK) {
        rm_session_writer_close(w, NULL);
        return fail(path, &err);
    }
    if (rm_session_writer_close(w, &err) != RM_OK)
        return fail(path, &err);
    return 0;
}

static double seconds_since(uint64_t t0)
{
    return (double)(rm_monotonic_us() - t0) / 1e6;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* CPU time of this process: on a busy machine it is steadier than the
 * wall clock. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* In a child: read every sample once (the floor for any analysis). */
static int read_once(const char *path, double *seconds, uint64_t *samples)
{
    rm_session *s;
    rm_error err;
    uint64_t t0 = rm_monotonic_us();
    if (rm_session_open(&s, path, &err) != RM_OK)
        return fail(path, &err);
    static rm_sample buf[CHUNK];
    uint64_t at = 0, total = rm_session_sample_count(s);
    while (at < total) {
        size_t got;
        if (rm_session_read(s, at, buf, CHUNK, &got, &err) != RM_OK) {
            rm_session_close(s);
            return fail(path, &err);
        }
        if (got == 0)
            break;
        at += got;
    }
    rm_session_close(s);
    *seconds = seconds_since(t0);
    *samples = at;
    return 0;
}

/* In a child: open and analyse. */
static int analyse(const char *path, double *seconds, size_t *spots,
                   size_t *dwells)
{
    rm_session *s;
    rm_error err;
    rm_analysis *a;
    uint64_t t0 = rm_monotonic_us();
    if (rm_session_open(&s, path, &err) != RM_OK)
        return fail(path, &err);
    rm_status st = rm_analyse_session(s, NULL, &a, &err);
    rm_session_close(s);
    if (st != RM_OK)
        return fail(path, &err);
    *seconds = seconds_since(t0);
    *spots = a->spot_count;
    *dwells = a->dwell_count;
    rm_analysis_free(a);
    return 0;
}

typedef struct child_result {
    int status;
    double seconds, cpu_s;
    uint64_t samples;
    size_t spots, dwells;
    long rss_kb;
} child_result;

/* Run one measurement in a fresh process so that its peak memory is its
 * own. */
static child_result in_child(const char *path, bool analysis)
{
    child_result r = {.status = 1};
    int fds[2];
    if (pipe(fds) != 0)
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_result c = {0};
        c.status = analysis ? analyse(path, &c.seconds, &c.spots, &c.dwells)
                            : read_once(path, &c.seconds, &c.samples);
        c.rss_kb = peak_rss_kb();
        c.cpu_s = cpu_seconds();
        ssize_t wrote = write(fds[1], &c, sizeof c);
        _exit(wrote == (ssize_t)sizeof c ? c.status : 1);
    }
    close(fds[1]);
    if (pid > 0 && read(fds[0], &r, sizeof r) != (ssize_t)sizeof r)
        r.status = 1;
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return r;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3600.0;
    char path[256];
    char dir[] = "/tmp/rollmap-bench-XXXXXX";
    bool own_file = argc <= 2;
    if (own_file) {
        if (!mkdtemp(dir) || seconds <= 0) {
            fprintf(stderr, "usage: bench_analysis [seconds] [session]\n");
            return 2;
        }
        snprintf(path, sizeof path, "%s/bench.rms", dir);
        printf("simulating %.0f s at 1000 Hz, 8 channels into %s\n", seconds,
               path);
        if (simulate_to_file(path, seconds) != 0)
            return 1;
    } else {
        snprintf(path, sizeof path, "%s", argv[2]);
    }
    child_result read = in_child(path, false);
    child_result an = in_child(path, true);
    if (own_file) {
        unlink(path);
        rmdir(dir);
    }
    if (read.status != 0 || an.status != 0)
        return 1;
    printf("samples           %llu\n", (unsigned long long)read.samples);
    printf("read once         %.3f s (CPU %.3f s)   peak RSS %ld kB\n",
           read.seconds, read.cpu_s, read.rss_kb);
    printf("analyse           %.3f s (CPU %.3f s)   peak RSS %ld kB\n",
           an.seconds, an.cpu_s, an.rss_kb);
    printf("ratio             %.2f x reading once\n",
           read.seconds > 0 ? an.seconds / read.seconds : 0.0);
    printf("throughput        %.1f M samples/s\n",
           an.seconds > 0 ? (double)read.samples / an.seconds / 1e6 : 0.0);
    printf("found             %zu dwells, %zu tender spots\n", an.dwells,
           an.spots);
    return 0;
}
