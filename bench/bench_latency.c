/* Sample-to-client latency on the live socket: samples are published at
 * 1 kHz, one at a time, as rollmapd's consumer thread does; a client
 * watching at 50 Hz timestamps each SAMPLE line as it arrives. Latency is
 * arrival minus publish time, both from the monotonic clock of this one
 * process. Run once with a single client and once with 49 more watchers.
 *
 *   build/bench/bench_latency [seconds per run, default 10]
 */
#include "rollmap_daemon.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PUBLISH_HZ 1000
#define WATCH_RATE_HZ 50
#define EXTRA_CLIENTS 49

typedef struct bench_run {
    rm_server *srv;
    const char *path;
    size_t samples;
    uint64_t *published_us;     /* by sample index */
    double *latency_us;         /* by line received */
    size_t lines;
    volatile int ready;
} bench_run;

static void device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->sample_rate_hz = PUBLISH_HZ;
    info->channel_count = 2;
    for (int i = 0; i < 2; i++) {
        info->channels[i].kind = RM_CHANNEL_LOAD_CELL;
        info->channels[i].gain_n_per_count = 0.01f;
    }
    info->encoder_counts_per_turn = 4096;
    info->roller_diameter_mm = 150;
    info->distal_direction = 1;
    rm_device_info_default_calibration(info);
}

static rm_client *watcher(const char *path)
{
    rm_client *c = NULL;
    rm_error err = {0};
    char watch[96];
    snprintf(watch, sizeof watch, "{\"cmd\":\"watch\",\"rate\":%d}", WATCH_RATE_HZ);
    if (rm_client_connect(&c, path, &err) != RM_OK ||
        rm_client_request(c, watch, NULL, 2000, &err) != RM_OK) {
        fprintf(stderr, "bench_latency: %s\n", err.message);
        exit(1);
    }
    return c;
}

/* The measuring client: reads until the publisher is done. */
static void *measure(void *arg)
{
    bench_run *run = arg;
    rm_client *c = watcher(run->path);
    run->ready = 1;
    const char *line;
    rm_error err = {0};
    while (rm_client_read_line(c, &line, 1000, &err) == RM_OK) {
        uint64_t now = rm_monotonic_us();
        const char *t = strstr(line, "\"t_s\":");
        if (!t || strncmp(line, "{\"class\":\"SAMPLE\"", 17))
            continue;
        size_t index = (size_t)llround(atof(t + 6) * PUBLISH_HZ);
        if (index < run->samples && run->published_us[index])
            run->latency_us[run->lines++] = (double)(now - run->published_us[index]);
    }
    rm_client_close(c);
    return NULL;
}

/* The other watchers read everything, as live views do. */
static void *drain(void *arg)
{
    rm_client *c = arg;
    const char *line;
    rm_error err = {0};
    while (rm_client_read_line(c, &line, 1000, &err) == RM_OK)
        continue;
    return NULL;
}

static void sleep_until(uint64_t when_us)
{
    uint64_t now = rm_monotonic_us();
    if (when_us > now) {
        uint64_t d = when_us - now;
        struct timespec ts = {.tv_sec = (time_t)(d / 1000000u),
                              .tv_nsec = (long)(d % 1000000u) * 1000};
        nanosleep(&ts, NULL);
    }
}

static void publish(bench_run *run)
{
    uint64_t start = rm_monotonic_us();
    for (size_t i = 0; i < run->samples; i++) {
        sleep_until(start + i * (1000000u / PUBLISH_HZ));
        rm_sample s = {.t_us = i * (1000000u / PUBLISH_HZ), .encoder = (int32_t)i};
        s.counts[0] = s.counts[1] = 10000; /* 200 N: under load */
        run->published_us[i] = rm_monotonic_us();
        rm_server_publish_samples(run->srv, &s, 1);
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[i == 0 ? 0 : i - 1];
}

static void run_once(const char *path, double seconds, int extra_clients)
{
    rm_server_options opt;
    rm_server_options_default(&opt);
    snprintf(opt.path, sizeof opt.path, "%s", path);
    bench_run run = {.path = path, .samples = (size_t)(seconds * PUBLISH_HZ)};
    rm_error err = {0};
    if (rm_server_open(&run.srv, &opt, NULL, &err) != RM_OK) {
        fprintf(stderr, "bench_latency: %s\n", err.message);
        exit(1);
    }
    rm_device_info info;
    device(&info);
    rm_server_set_device(run.srv, &info);
    run.published_us = calloc(run.samples, sizeof *run.published_us);
    run.latency_us = calloc(run.samples, sizeof *run.latency_us);
    rm_client **others = calloc((size_t)extra_clients + 1, sizeof *others);
    pthread_t *drainers = calloc((size_t)extra_clients + 1, sizeof *drainers);
    for (int i = 0; i < extra_clients; i++) {
        others[i] = watcher(path);
        pthread_create(&drainers[i], NULL, drain, others[i]);
    }
    pthread_t thread;
    pthread_create(&thread, NULL, measure, &run);
    while (!run.ready)
        usleep(1000);
    publish(&run);
    pthread_join(thread, NULL);
    qsort(run.latency_us, run.lines, sizeof *run.latency_us, by_value);
    printf("%2d client%s  %5zu lines  median %7.1f us  p99 %7.1f us  max %7.1f us\n",
           extra_clients + 1, extra_clients ? "s" : " ", run.lines,
           percentile(run.latency_us, run.lines, 50),
           percentile(run.latency_us, run.lines, 99),
           run.lines ? run.latency_us[run.lines - 1] : NAN);
    for (int i = 0; i < extra_clients; i++) {
        pthread_join(drainers[i], NULL);
        rm_client_close(others[i]);
    }
    rm_server_close(run.srv);
    free(others);
    free(drainers);
    free(run.published_us);
    free(run.latency_us);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    if (!(seconds >= 1)) {
        fputs("usage: bench_latency [seconds per run, at least 1]\n", stderr);
        return 2;
    }
    char dir[] = "/tmp/rollmap-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_latency: mkdtemp");
        return 1;
    }
    char path[108];
    snprintf(path, sizeof path, "%s/live.sock", dir);
    printf("live socket latency: %d Hz publish, %d Hz watch, %.0f s per run\n",
           PUBLISH_HZ, WATCH_RATE_HZ, seconds);
    run_once(path, seconds, 0);
    run_once(path, seconds, EXTRA_CLIENTS);
    rmdir(dir);
    return 0;
}
