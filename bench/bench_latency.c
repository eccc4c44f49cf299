/* Sample-to-client latency on the live socket: samples are published at
 * 1 kHz, one at a time, as rollmapd's consumer thread does; a client
 * watching at 50 Hz timestamps each SAMPLE line as it arrives. Latency is
 * arrival minus publish time, both from the monotonic clock of this one
 * process. Run once with a single client and once with 49 more watchers.
 *
 * Then the same through rollmap serve (docs/WEB.md): its relay is the one
 * socket client, and 1 or 20 browsers' EventSource streams (HTTP on
 * loopback, /api/live?rate=50) are read here; the 8-channel device (2 load
 * cells, 6 pressure cells) sends at 1 kHz. Latency is publish to the SSE
 * line read by the measuring viewer.
 *
 * With --browsers it only serves, for real browsers that
 * bench/bench_browser_latency.py opens: see serve_browsers().
 *
 *   build/bench/bench_latency [seconds per run, default 10]
 *   build/bench/bench_latency --browsers SECONDS LOG
 */
#include "bench_stats.h"
#include "rollmap_web.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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
/* Browser viewers of rollmap serve in its second run. */
#define WEB_VIEWERS 20
/* Load cells and pressure cells of the 8-channel device. */
#define LOAD_CELLS 2
#define PRESSURE_CELLS 6

typedef struct bench_run {
    rm_server *srv;
    const char *path;
    size_t samples;
    uint64_t *published_us;     /* by sample index */
    uint64_t *published_wall_us; /* the same on the wall clock */
    double *latency_us;         /* by line received */
    size_t lines;
    volatile int ready;
} bench_run;

static void device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->sample_rate_hz = PUBLISH_HZ;
    info->channel_count = LOAD_CELLS + PRESSURE_CELLS;
    for (int i = 0; i < info->channel_count; i++) {
        info->channels[i].kind = i < LOAD_CELLS ? RM_CHANNEL_LOAD_CELL
                                                : RM_CHANNEL_PRESSURE_CELL;
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

/* A SAMPLE line has arrived now: its latency. */
static void record_arrival(bench_run *run, const char *line)
{
    uint64_t now = rm_monotonic_us();
    const char *t = strstr(line, "\"t_s\":");
    if (!t || strncmp(line, "{\"class\":\"SAMPLE\"", 17))
        return;
    size_t index = (size_t)llround(atof(t + 6) * PUBLISH_HZ);
    if (index < run->samples && run->published_us[index])
        run->latency_us[run->lines++] = (double)(now - run->published_us[index]);
}

/* The measuring client: reads until the publisher is done. */
static void *measure(void *arg)
{
    bench_run *run = arg;
    rm_client *c = watcher(run->path);
    run->ready = 1;
    const char *line;
    rm_error err = {0};
    while (rm_client_read_line(c, &line, 1000, &err) == RM_OK)
        record_arrival(run, line);
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
        for (int c = 0; c < LOAD_CELLS + PRESSURE_CELLS; c++)
            s.counts[c] = 10000; /* 200 N on the load cells: under load */
        run->published_us[i] = rm_monotonic_us();
        run->published_wall_us[i] = rm_wallclock_us();
        rm_server_publish_samples(run->srv, &s, 1);
    }
}


/* The live socket server on path with the bench device, and the arrays of
 * a run of seconds. */
static bench_run open_run(const char *path, double seconds)
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
    run.published_wall_us = calloc(run.samples, sizeof *run.published_wall_us);
    run.latency_us = calloc(run.samples, sizeof *run.latency_us);
    return run;
}

static void free_run(bench_run *run)
{
    rm_server_close(run->srv);
    free(run->published_us);
    free(run->published_wall_us);
    free(run->latency_us);
}

/* Print the figures of a run and free it. */
static void close_run(bench_run *run, const char *label)
{
    qsort(run->latency_us, run->lines, sizeof *run->latency_us, by_value);
    printf("%s %5zu lines  median %7.1f us  p99 %7.1f us  max %7.1f us\n",
           label, run->lines, percentile(run->latency_us, run->lines, 50),
           percentile(run->latency_us, run->lines, 99),
           run->lines ? run->latency_us[run->lines - 1] : NAN);
    free_run(run);
}

static void run_once(const char *path, double seconds, int extra_clients)
{
    bench_run run = open_run(path, seconds);
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
    for (int i = 0; i < extra_clients; i++) {
        pthread_join(drainers[i], NULL);
        rm_client_close(others[i]);
    }
    char label[32];
    snprintf(label, sizeof label, "%2d client%s ", extra_clients + 1,
             extra_clients ? "s" : " ");
    close_run(&run, label);
    free(others);
    free(drainers);
}

/* ------------------------------------------------------------------------ */
/* Through rollmap serve: EventSource streams over HTTP                     */
/* ------------------------------------------------------------------------ */

typedef struct sse_viewer {
    bench_run *run;          /* NULL: only drain */
    int fd;
} sse_viewer;

static int sse_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char request[] = "GET /api/live?rate=50 HTTP/1.1\r\nHost: b\r\n"
                                  "Accept: text/event-stream\r\n\r\n";
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
        perror("bench_latency: connecting to rollmap serve");
        exit(1);
    }
    return fd;
}

/* Reads the stream until it ends; "data: {...}" lines are SAMPLEs. */
static void *read_sse(void *arg)
{
    sse_viewer *v = arg;
    char buf[65536];
    size_t have = 0;
    ssize_t n;
    while ((n = read(v->fd, buf + have, sizeof buf - 1 - have)) > 0) {
        have += (size_t)n;
        buf[have] = '\0';
        char *start = buf, *nl;
        while ((nl = strchr(start, '\n'))) {
            *nl = '\0';
            if (v->run && strncmp(start, "data: ", 6) == 0)
                record_arrival(v->run, start + 6);
            start = nl + 1;
        }
        have = (size_t)(buf + have - start);
        memmove(buf, start, have);
    }
    close(v->fd);
    return NULL;
}

static rm_web_server *start_web(const char *socket_path, const char *dir)
{
    rm_web_options o;
    rm_web_options_default(&o);
    o.port = 0;
    snprintf(o.socket_path, sizeof o.socket_path, "%s", socket_path);
    snprintf(o.db_path, sizeof o.db_path, "%s/library.db", dir);
    snprintf(o.password_file, sizeof o.password_file, "%s/no-password", dir);
    rm_web_server *web = NULL;
    rm_error err = {0};
    if (rm_web_start(&web, &o, &err) != RM_OK) {
        fprintf(stderr, "bench_latency: rollmap serve: %s\n", err.message);
        exit(1);
    }
    return web;
}

static void run_web(const char *path, const char *dir, double seconds,
                    int viewers)
{
    bench_run run = open_run(path, seconds);
    rm_web_server *web = start_web(path, dir);
    sse_viewer *v = calloc((size_t)viewers, sizeof *v);
    pthread_t *threads = calloc((size_t)viewers, sizeof *threads);
    for (int i = 0; i < viewers; i++) {
        v[i] = (sse_viewer){.run = i == 0 ? &run : NULL,
                            .fd = sse_connect(rm_web_port(web))};
        pthread_create(&threads[i], NULL, read_sse, &v[i]);
    }
    sleep(1); /* the relay connects and the streams open */
    publish(&run);
    rm_web_stop(web);
    for (int i = 0; i < viewers; i++)
        pthread_join(threads[i], NULL);
    char label[32];
    snprintf(label, sizeof label, "%2d browser%s", viewers, viewers > 1 ? "s" : " ");
    close_run(&run, label);
    free(v);
    free(threads);
}

/* ------------------------------------------------------------------------ */
/* For real browsers (bench/bench_browser_latency.py)                       */
/* ------------------------------------------------------------------------ */

static void write_publish_log(const bench_run *run, const char *log)
{
    FILE *f = fopen(log, "w");
    if (!f) {
        perror(log);
        exit(1);
    }
    for (size_t i = 0; i < run->samples; i++)
        fprintf(f, "%zu %llu\n", i, (unsigned long long)run->published_wall_us[i]);
    fclose(f);
}

/* Serve for browsers the caller opens: print "port N", wait for a line on
 * stdin (the browsers are watching), publish for seconds, then write each
 * sample's index and wall-clock publish time in microseconds to log: the
 * clock a browser's performance.timeOrigin + performance.now() reads. */
static void serve_browsers(const char *path, const char *dir, double seconds,
                           const char *log)
{
    bench_run run = open_run(path, seconds);
    rm_web_server *web = start_web(path, dir);
    printf("port %u\n", (unsigned)rm_web_port(web));
    fflush(stdout);
    char go[16];
    if (fgets(go, sizeof go, stdin))
        publish(&run);
    rm_web_stop(web);
    write_publish_log(&run, log);
    free_run(&run);
}

static void remove_bench_dir(const char *dir)
{
    char file[160];
    static const char *const files[] = {"library.db", "library.db-wal",
                                        "library.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, files[i]);
        unlink(file);
    }
    rmdir(dir);
}

static int usage(void)
{
    fputs("usage: bench_latency [seconds per run, at least 1]\n"
          "       bench_latency --browsers SECONDS LOG\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    bool browsers = argc == 4 && strcmp(argv[1], "--browsers") == 0;
    const char *seconds_arg = browsers ? argv[2] : argc > 1 ? argv[1] : "10";
    double seconds = atof(seconds_arg);
    if (!(seconds >= 1) || (argc > 2 && !browsers))
        return usage();
    char dir[] = "/tmp/rollmap-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_latency: mkdtemp");
        return 1;
    }
    char path[108];
    snprintf(path, sizeof path, "%s/live.sock", dir);
    if (browsers) {
        serve_browsers(path, dir, seconds, argv[3]);
        remove_bench_dir(dir);
        return 0;
    }
    printf("live socket latency: %d Hz publish, %d Hz watch, %.0f s per run\n",
           PUBLISH_HZ, WATCH_RATE_HZ, seconds);
    run_once(path, seconds, 0);
    run_once(path, seconds, EXTRA_CLIENTS);
    printf("through rollmap serve: %d channels, EventSource at 50 Hz\n",
           LOAD_CELLS + PRESSURE_CELLS);
    run_web(path, dir, seconds, 1);
    run_web(path, dir, seconds, WEB_VIEWERS);
    remove_bench_dir(dir);
    return 0;
}
