/*
 * Session file throughput: write a 1-hour, 1 kHz, 8-channel session, then
 * time opening it (with and without the closing index), verifying every
 * block and reading every sample, as rows and as columns. Prints figures;
 * asserts nothing.
 *
 *   bench_session [DIR] [SECONDS]   (default $TMPDIR or /tmp, 3600 s)
 *   bench_session --read FILE       (only the reads, of an existing session)
 */
#include "rollmap_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RATE_HZ 1000
#define CHANNELS 8
#define CHUNK 1000            /* samples per append call */
#define OPEN_REPEATS 20       /* opens are fast: average several */
#define READ_CHUNK 4096       /* samples per read call */

static double seconds_since(uint64_t start_us)
{
    return (double)(rm_monotonic_us() - start_us) / 1e6;
}

/* CPU seconds of this thread: on a shared machine, what one core did. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "bench");
    info->sample_rate_hz = RATE_HZ;
    info->channel_count = CHANNELS;
    for (int c = 0; c < CHANNELS; c++)
        info->channels[c].gain_n_per_count = 0.001f;
    rm_device_info_default_calibration(info);
    info->encoder_counts_per_turn = 4096;
    info->roller_diameter_mm = 150;
    info->distal_direction = 1;
}

/* A roll: force swinging around 250 N over a few seconds, 24-bit ADC
 * noise of a few counts, the roller going back and forth. */
static void make_samples(rm_sample *s, uint64_t first, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t k = first + i;
        double t = (double)k / RATE_HZ;
        memset(&s[i], 0, sizeof s[i]);
        s[i].t_us = k * (1000000 / RATE_HZ);
        s[i].encoder = (int32_t)(3000 * sin(t * 0.8));
        for (int c = 0; c < CHANNELS; c++)
            s[i].counts[c] = (int32_t)(250000 + 60000 * sin(t * 1.3 + c) +
                                       rand_r(seed) % 64);
    }
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int fail(const rm_error *err)
{
    fprintf(stderr, "bench_session: %s\n", err->message);
    return 1;
}

static int bench_write(const char *path, uint64_t total)
{
    rm_device_info info;
    make_device(&info);
    rm_session_meta meta = {.side = RM_SIDE_LEFT};
    snprintf(meta.muscle, sizeof meta.muscle, "hamstring");
    rm_session_writer *w = NULL;
    rm_error err;
    if (rm_session_writer_create(&w, path, &info, &meta, NULL, &err) != RM_OK)
        return fail(&err);
    rm_sample *buf = malloc(CHUNK * sizeof *buf);
    unsigned seed = 1;
    double generating = 0;
    uint64_t start = rm_monotonic_us();
    for (uint64_t at = 0; at < total; at += CHUNK) {
        uint64_t gen_start = rm_monotonic_us();
        make_samples(buf, at, CHUNK, &seed);
        generating += seconds_since(gen_start);
        if (rm_session_writer_append(w, buf, CHUNK, &err) != RM_OK)
            return fail(&err);
    }
    if (rm_session_writer_close(w, &err) != RM_OK)
        return fail(&err);
    double secs = seconds_since(start) - generating;
    double mb = (double)file_size(path) / 1e6;
    printf("write (fsync per flush): %.2f s, %.1f MB/s, %.2f M samples/s\n", secs,
           mb / secs, (double)total / secs / 1e6);
    printf("file: %.1f MB, %.1f bytes per sample (%d channels; 80 in memory)\n",
           mb, mb * 1e6 / (double)total, CHANNELS);
    free(buf);
    return 0;
}

static int bench_open(const char *path, const char *label)
{
    rm_error err;
    uint64_t start = rm_monotonic_us();
    rm_session *s = NULL;
    for (int i = 0; i < OPEN_REPEATS; i++) {
        if (rm_session_open(&s, path, &err) != RM_OK)
            return fail(&err);
        if (i + 1 < OPEN_REPEATS)
            rm_session_close(s);
    }
    double ms = seconds_since(start) * 1000 / OPEN_REPEATS;
    printf("open %s: %.2f ms (%llu samples, closed cleanly: %s)\n", label, ms,
           (unsigned long long)rm_session_sample_count(s),
           rm_session_integrity(s)->closed_cleanly ? "yes" : "no");
    rm_session_close(s);
    return 0;
}

static void print_read(const char *what, uint64_t total, double secs, double cpu,
                       double mb, uint64_t checksum)
{
    printf("read every sample%s: %.3f s, %.1f MB/s, %.2f M samples/s (check %llu)\n",
           what, secs, mb / secs, (double)total / secs / 1e6,
           (unsigned long long)checksum);
    printf("read every sample%s, CPU: %.3f s, %.2f M samples/s per CPU second\n",
           what, cpu, (double)total / cpu / 1e6);
}

/* rm_session_read: every sample into 80-byte rm_samples. */
static int bench_read_rows(rm_session *s, double mb)
{
    rm_error err;
    rm_sample *buf = malloc(READ_CHUNK * sizeof *buf);
    uint64_t total = rm_session_sample_count(s), at = 0, checksum = 0;
    uint64_t start = rm_monotonic_us();
    double cpu_start = thread_cpu_s();
    while (at < total) {
        size_t got = 0;
        if (rm_session_read(s, at, buf, READ_CHUNK, &got, &err) != RM_OK) {
            free(buf);
            return fail(&err);
        }
        checksum += (uint64_t)buf[0].counts[0];
        at += got;
    }
    print_read("", total, seconds_since(start), thread_cpu_s() - cpu_start, mb,
               checksum);
    free(buf);
    return 0;
}

/* rm_session_read_columns: every sample into arrays, as the analysis
 * reads them. */
static int bench_read_columns(rm_session *s, double mb)
{
    rm_error err;
    rm_sample_columns cols;
    if (rm_sample_columns_alloc(&cols, rm_session_device(s)->channel_count,
                                READ_CHUNK, &err) != RM_OK)
        return fail(&err);
    uint64_t total = rm_session_sample_count(s), at = 0, checksum = 0;
    uint64_t start = rm_monotonic_us();
    double cpu_start = thread_cpu_s();
    while (at < total) {
        size_t got = 0;
        if (rm_session_read_columns(s, at, &cols, &got, &err) != RM_OK) {
            rm_sample_columns_free(&cols);
            return fail(&err);
        }
        checksum += (uint64_t)cols.encoder[got - 1];
        at += got;
    }
    print_read(" as columns", total, seconds_since(start),
               thread_cpu_s() - cpu_start, mb, checksum);
    rm_sample_columns_free(&cols);
    return 0;
}

static int bench_read(const char *path)
{
    rm_session *s = NULL;
    rm_error err;
    if (rm_session_open(&s, path, &err) != RM_OK)
        return fail(&err);
    uint64_t start = rm_monotonic_us();
    if (rm_session_verify(s, &err) != RM_OK) {
        rm_session_close(s);
        return fail(&err);
    }
    double verify = seconds_since(start);
    double mb = (double)file_size(path) / 1e6;
    printf("verify every block: %.2f s, %.1f MB/s\n", verify, mb / verify);
    int rc = bench_read_rows(s, mb);
    if (rc == 0)
        rc = bench_read_columns(s, mb);
    start = rm_monotonic_us();
    for (int i = 0; i < 1000; i++)
        rm_session_find_time(s, (uint64_t)i * 3600000);
    printf("find_time: %.1f us per lookup\n", seconds_since(start) * 1e6 / 1000);
    rm_session_close(s);
    return rc;
}

/* The same file as a crash leaves it: cut the closing index off. */
static int make_unclosed_copy(const char *path, const char *copy)
{
    FILE *in = fopen(path, "rb");
    FILE *out = fopen(copy, "wb");
    if (!in || !out)
        return 1;
    uint64_t keep = file_size(path) - 1; /* a torn trailer disables the index */
    char buf[65536];
    while (keep > 0) {
        size_t n = fread(buf, 1, keep < sizeof buf ? keep : sizeof buf, in);
        if (n == 0)
            break;
        fwrite(buf, 1, n, out);
        keep -= n;
    }
    fclose(in);
    return fclose(out) != 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--read") == 0)
        return bench_read(argv[2]);
    const char *dir = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    uint64_t seconds = argc > 2 ? strtoull(argv[2], NULL, 10) : 3600;
    char path[4096], copy[4096 + sizeof ".crashed"];
    snprintf(path, sizeof path, "%s/bench-session-%d.rms", dir, (int)getpid());
    snprintf(copy, sizeof copy, "%s.crashed", path);
    printf("session: %llu s at %d Hz, %d channels, in %s\n",
           (unsigned long long)seconds, RATE_HZ, CHANNELS, dir);
    int rc = bench_write(path, seconds * RATE_HZ);
    if (rc == 0)
        rc = bench_open(path, "with the closing index");
    if (rc == 0 && make_unclosed_copy(path, copy) == 0)
        rc = bench_open(copy, "by walking block headers");
    if (rc == 0)
        rc = bench_read(path);
    unlink(path);
    unlink(copy);
    return rc;
}
