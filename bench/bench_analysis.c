/*
 * Analysis speed and memory on a long session file: the virtual roller
 * (2 load cells + 6 pressure cells, 1 kHz) writes an hour to a session
 * file; then, each in a fresh child process, the file is read once and
 * analysed with rm_analyse_session. Prints both times, their ratio and
 * each child's peak resident memory (getrusage ru_maxrss).
 *
 * The same samples are then exported to a NumPy file (t_us, encoder and
 * counts as int64 rows) with the device as JSON beside it, and
 * bench/numpy_analysis.py (the same stages in numpy/scipy) is timed
 * against rm_analyse_session in one run, alternating A B A B.
 *
 *   build/bench/bench_analysis [seconds] [session-file]
 *
 * seconds defaults to 3600; with a session file, that file is used and
 * nothing is simulated.
 *
 * Two figures separate the analysis' own work from the cost of a fresh
 * process: reading and analysis each run a second time in one process
 * whose allocator keeps (and so reuses) the first run's memory, compared
 * with each other, and the time to touch each page of 64 MB of fresh
 * anonymous memory once. On a virtual machine with shadow page tables
 * that first touch costs microseconds a page.
 */
#include "rollmap_analysis.h"
#include "rollmap_hw.h"

#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
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

static double rusage_cpu_seconds(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

/* CPU time of this process: on a busy machine it is steadier than the
 * wall clock. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return rusage_cpu_seconds(&ru);
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

typedef enum child_job {
    READ_ONCE,
    READ_AGAIN,
    ANALYSE,
    ANALYSE_AGAIN
} child_job;

/* The allocator told to keep what is freed, so that a second run gets the
 * first one's memory back. */
static void keep_freed_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

/* In a child: read once, then time a second reading in the same process. */
static int read_again(const char *path, child_result *c)
{
    keep_freed_memory();
    double cpu0 = 0.0;
    int rc = read_once(path, &c->seconds, &c->samples);
    if (rc == 0) {
        cpu0 = cpu_seconds();
        rc = read_once(path, &c->seconds, &c->samples);
    }
    c->cpu_s = cpu_seconds() - cpu0;
    return rc;
}

/* In a child: analyse once, then time a second analysis the same way. */
static int analyse_again(const char *path, child_result *c)
{
    keep_freed_memory();
    double cpu0 = 0.0;
    int rc = analyse(path, &c->seconds, &c->spots, &c->dwells);
    if (rc == 0) {
        cpu0 = cpu_seconds();
        rc = analyse(path, &c->seconds, &c->spots, &c->dwells);
    }
    c->cpu_s = cpu_seconds() - cpu0;
    return rc;
}

static int run_job(const char *path, child_job job, child_result *c)
{
    int rc;
    switch (job) {
    case READ_ONCE:
        rc = read_once(path, &c->seconds, &c->samples);
        break;
    case ANALYSE:
        rc = analyse(path, &c->seconds, &c->spots, &c->dwells);
        break;
    case READ_AGAIN:
        return read_again(path, c);
    default:
        return analyse_again(path, c);
    }
    c->cpu_s = cpu_seconds();
    return rc;
}

/* Run one measurement in a fresh process so that its peak memory is its
 * own. */
static child_result in_child(const char *path, child_job job)
{
    child_result r = {.status = 1};
    int fds[2];
    if (pipe(fds) != 0)
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_result c = {0};
        c.status = run_job(path, job, &c);
        c.rss_kb = peak_rss_kb();
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

/* Microseconds to write one byte into each page of fresh anonymous
 * memory, or a negative value when it cannot be mapped. */
static double first_touch_us_per_page(void)
{
    size_t bytes = (size_t)64 << 20, page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1.0;
    uint64_t t0 = rm_monotonic_us();
    for (size_t i = 0; i < bytes; i += page)
        p[i] = 1;
    double us = (double)(rm_monotonic_us() - t0) / (double)(bytes / page);
    munmap(p, bytes);
    return us;
}

/* ------------------------------------------------------------------------ */
/* The numpy/scipy equivalent                                               */
/* ------------------------------------------------------------------------ */

/* A version 1.0 .npy header (magic, version, little-endian length, a
 * Python dict literal padded with spaces to a multiple of 64 bytes). */
static void write_npy_header(FILE *f, uint64_t rows, unsigned columns)
{
    char dict[128];
    int len = snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': "
                       "False, 'shape': (%llu, %u), }",
                       (unsigned long long)rows, columns);
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    uint16_t header_len = (uint16_t)(padded - 10);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(header_len & 0xFF, f);
    fputc(header_len >> 8, f);
    fputs(dict, f);
    for (size_t i = total; i < padded; i++)
        fputc(' ', f);
    fputc('\n', f);
}

static void write_device_json(FILE *f, const rm_device_info *info)
{
    double mm_per_count = info->encoder_counts_per_turn
        ? 3.14159265358979323846 * info->roller_diameter_mm /
              info->encoder_counts_per_turn : 0.0;
    fprintf(f, "{\"sample_rate_hz\": %u, \"mm_per_count\": %.17g, "
            "\"channels\": [", info->sample_rate_hz, mm_per_count);
    for (unsigned k = 0; k < info->channel_count; k++) {
        const rm_channel_info *ch = &info->channels[k];
        fprintf(f, "%s{\"kind\": \"%s\", \"area_mm2\": %.9g, "
                "\"tare_counts\": %.17g, \"coef\": [%.17g, %.17g, %.17g, "
                "%.17g]}", k ? ", " : "",
                ch->kind == RM_CHANNEL_PRESSURE_CELL ? "pressure-cell"
                                                     : "load-cell",
                (double)ch->area_mm2, ch->cal.tare_counts, ch->cal.coef[0],
                ch->cal.coef[1], ch->cal.coef[2], ch->cal.coef[3]);
    }
    fprintf(f, "]}\n");
}

/* The session's samples as .npy rows (t_us, encoder, counts...) and its
 * device as JSON: what numpy_analysis.py starts from. */
static int export_numpy(const char *path, const char *npy, const char *json)
{
    rm_session *s;
    rm_error err;
    if (rm_session_open(&s, path, &err) != RM_OK)
        return fail(path, &err);
    const rm_device_info *info = rm_session_device(s);
    FILE *f = fopen(npy, "wb"), *j = fopen(json, "w");
    uint64_t total = rm_session_sample_count(s), at = 0;
    unsigned columns = 2 + info->channel_count;
    int rc = f && j ? 0 : 1;
    if (rc == 0) {
        write_npy_header(f, total, columns);
        write_device_json(j, info);
    }
    static rm_sample buf[CHUNK];
    static int64_t row[2 + RM_MAX_CHANNELS];
    while (rc == 0 && at < total) {
        size_t got;
        if (rm_session_read(s, at, buf, CHUNK, &got, &err) != RM_OK || !got) {
            rc = fail(path, &err);
            break;
        }
        for (size_t i = 0; i < got; i++) {
            row[0] = (int64_t)buf[i].t_us;
            row[1] = buf[i].encoder;
            for (unsigned k = 0; k < info->channel_count; k++)
                row[2 + k] = buf[i].counts[k];
            fwrite(row, sizeof row[0], columns, f);
        }
        at += got;
    }
    rm_session_close(s);
    if (f && fclose(f) != 0)
        rc = 1;
    if (j && fclose(j) != 0)
        rc = 1;
    return rc;
}

typedef struct process_result {
    int status;
    double seconds, cpu_s;
    long rss_kb;
} process_result;

/* Runs numpy_analysis.py on the export in a child; wall time from fork to
 * exit (interpreter start and imports included), its CPU and peak RSS. */
static process_result run_numpy(const char *npy, const char *json)
{
    process_result r = {.status = 1};
    uint64_t t0 = rm_monotonic_us();
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/python3", "python3",
              ROLLMAP_BENCH_DIR "/numpy_analysis.py", npy, json, (char *)NULL);
        _exit(127);
    }
    struct rusage ru;
    int status;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return r;
    r.seconds = seconds_since(t0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    r.cpu_s = rusage_cpu_seconds(&ru);
    r.rss_kb = ru.ru_maxrss;
    return r;
}

/* rollmap (A) and numpy/scipy (B) alternating A B A B in this run. */
static int compare_with_numpy(const char *path, const char *dir)
{
    char npy[512], json[512];
    snprintf(npy, sizeof npy, "%s/bench.npy", dir);
    snprintf(json, sizeof json, "%s/bench.json", dir);
    int rc = export_numpy(path, npy, json);
    for (int round = 1; rc == 0 && round <= 2; round++) {
        child_result a = in_child(path, ANALYSE);
        fflush(stdout);
        process_result b = run_numpy(npy, json);
        if (a.status != 0 || b.status != 0) {
            rc = 1;
            break;
        }
        printf("A rollmap         %.3f s (CPU %.3f s)   peak RSS %ld kB\n",
               a.seconds, a.cpu_s, a.rss_kb);
        printf("B numpy/scipy     %.3f s (CPU %.3f s)   peak RSS %ld kB   "
               "B/A %.1f x (CPU %.1f x)\n", b.seconds, b.cpu_s, b.rss_kb,
               b.seconds / a.seconds, b.cpu_s / a.cpu_s);
    }
    unlink(npy);
    unlink(json);
    return rc;
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
    child_result read = in_child(path, READ_ONCE);
    child_result an = in_child(path, ANALYSE);
    child_result read_again = in_child(path, READ_AGAIN);
    child_result again = in_child(path, ANALYSE_AGAIN);
    if (read.status != 0 || an.status != 0 || read_again.status != 0 ||
        again.status != 0)
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
    printf("read again        %.3f s (CPU %.3f s)   in one process, its "
           "memory reused\n", read_again.seconds, read_again.cpu_s);
    printf("analyse again     %.3f s (CPU %.3f s)   the same\n",
           again.seconds, again.cpu_s);
    printf("ratio again       %.2f x reading again (CPU)\n",
           read_again.cpu_s > 0 ? again.cpu_s / read_again.cpu_s : 0.0);
    printf("first touch       %.2f us a page of fresh memory\n",
           first_touch_us_per_page());
    fflush(stdout);
    int rc = compare_with_numpy(path, own_file ? dir : "/tmp");
    if (own_file) {
        unlink(path);
        rmdir(dir);
    }
    return rc;
}
