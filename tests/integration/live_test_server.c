/* A stand-in for rollmapd in the live-view tests: the real live socket
 * server (rm_server) fed in-process by the virtual roller (rm_sim) at real
 * time or faster. Commands are acknowledged and appended to a log file, one
 * line each ("mark 7", "start C12 left"), so a test can check what reached
 * the daemon side.
 *
 *   live_test_server --socket PATH [--sim OPTIONS] [--speed X] [--log FILE]
 *
 * Runs until SIGTERM/SIGINT; after the simulated session it keeps serving
 * with no samples. */
#include "rollmap_daemon.h"

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Samples are published in batches this often (ms of simulated time). */
#define BATCH_MS 10
#define MAX_BATCH 1000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct test_daemon {
    FILE *log;
    rm_server *srv;
    pthread_mutex_t lock;      /* status: handlers run on the server thread */
    rm_daemon_status status;
} test_daemon;

static void log_line(test_daemon *d, const char *fmt, const char *a,
                     const char *b)
{
    if (d->log) {
        fprintf(d->log, fmt, a, b);
        fputc('\n', d->log);
        fflush(d->log);
    }
}

static rm_status on_start(void *user, rm_session_meta *meta, rm_error *err)
{
    (void)err;
    test_daemon *d = user;
    meta->start_unix_us = rm_wallclock_us();
    rm_session_id_new(meta->session_id, meta->start_unix_us);
    log_line(d, "start %s %s", meta->client, rm_side_name((rm_side)meta->side));
    pthread_mutex_lock(&d->lock);
    d->status.recording = true;
    d->status.session = *meta;
    pthread_mutex_unlock(&d->lock);
    rm_live_event ev = {.kind = RM_LIVE_SESSION_START, .t_s = NAN,
                        .position_cm = NAN, .rating = -1};
    snprintf(ev.text, sizeof ev.text, "%s", meta->session_id);
    rm_server_publish_event(d->srv, &ev);
    return RM_OK;
}

static rm_status on_stop(void *user, rm_error *err)
{
    test_daemon *d = user;
    rm_live_event ev = {.kind = RM_LIVE_SESSION_END, .t_s = NAN,
                        .position_cm = NAN, .rating = -1};
    pthread_mutex_lock(&d->lock);
    bool was_recording = d->status.recording;
    d->status.recording = false;
    snprintf(ev.text, sizeof ev.text, "%s", d->status.session.session_id);
    pthread_mutex_unlock(&d->lock);
    if (!was_recording)
        return rm_error_set(err, RM_ERR_ARG, "stop: no session is being recorded");
    log_line(d, "stop%s%s", "", "");
    rm_server_publish_event(d->srv, &ev);
    return RM_OK;
}

static rm_status on_tag(void *user, const char *key, const char *value,
                        rm_error *err)
{
    (void)err;
    log_line(user, "tag %s=%s", key, value);
    return RM_OK;
}

static rm_status on_mark(void *user, int rating, rm_error *err)
{
    (void)err;
    char text[16];
    snprintf(text, sizeof text, "%d", rating);
    log_line(user, "mark %s%s", text, "");
    return RM_OK;
}

static rm_status on_tare(void *user, rm_error *err)
{
    (void)err;
    log_line(user, "tare%s%s", "", "");
    return RM_OK;
}

static void sleep_until(uint64_t when_us)
{
    uint64_t now = rm_monotonic_us();
    if (when_us > now) {
        struct timespec ts = {.tv_sec = (time_t)((when_us - now) / 1000000u),
                              .tv_nsec = (long)((when_us - now) % 1000000u) * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Publish the simulated session paced at speed x real time. */
static void serve(test_daemon *d, rm_sim *sim, double speed)
{
    static rm_sample batch[MAX_BATCH];
    const rm_device_info *info = rm_sim_info(sim);
    size_t per_batch = info->sample_rate_hz * BATCH_MS / 1000;
    per_batch = per_batch < 1 ? 1 : per_batch > MAX_BATCH ? MAX_BATCH : per_batch;
    uint64_t start = rm_monotonic_us();
    uint64_t last_status = 0;
    bool running = true;
    while (!stop_requested) {
        size_t n = 0;
        while (running && n < per_batch && (running = rm_sim_next_sample(sim, &batch[n])))
            n++;
        rm_server_publish_samples(d->srv, batch, n);
        uint64_t now = rm_monotonic_us();
        pthread_mutex_lock(&d->lock);
        d->status.samples_received += n;
        if (now - last_status >= 1000000u) {
            d->status.measured_rate_hz = running ? info->sample_rate_hz * speed : 0;
            rm_server_set_status(d->srv, &d->status);
            last_status = now;
        }
        pthread_mutex_unlock(&d->lock);
        double sim_s = (double)rm_sim_time_us(sim) / 1e6;
        sleep_until(running ? start + (uint64_t)(sim_s / speed * 1e6)
                            : now + BATCH_MS * 1000u);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"sim", required_argument, NULL, 'm'},
        {"speed", required_argument, NULL, 'x'},
        {"log", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    rm_server_options opt;
    rm_server_options_default(&opt);
    const char *sim_options = "", *log_path = NULL;
    double speed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': snprintf(opt.path, sizeof opt.path, "%s", optarg); break;
        case 'm': sim_options = optarg; break;
        case 'x': speed = atof(optarg); break;
        case 'l': log_path = optarg; break;
        default:
            fputs("usage: live_test_server --socket PATH [--sim OPTIONS] "
                  "[--speed X] [--log FILE]\n", stderr);
            return 2;
        }
    }
    rm_error err = {0};
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    rm_sim *sim = NULL;
    test_daemon d = {0};
    pthread_mutex_init(&d.lock, NULL);
    if (rm_sim_config_parse(&cfg, sim_options, &err) != RM_OK ||
        rm_sim_new(&sim, &cfg, &err) != RM_OK) {
        fprintf(stderr, "live_test_server: %s\n", err.message);
        return 1;
    }
    d.log = log_path ? fopen(log_path, "a") : NULL;
    snprintf(d.status.source, sizeof d.status.source, "sim:%s", sim_options);
    d.status.device_connected = true;
    d.status.device = *rm_sim_info(sim);
    d.status.started_unix_us = rm_wallclock_us();
    snprintf(d.status.library_dir, sizeof d.status.library_dir, "/tmp");
    rm_server_handlers h = {.user = &d, .start = on_start, .stop = on_stop,
                            .tag = on_tag, .mark = on_mark, .tare = on_tare};
    if (rm_server_open(&d.srv, &opt, &h, &err) != RM_OK) {
        fprintf(stderr, "live_test_server: %s\n", err.message);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    rm_server_set_device(d.srv, rm_sim_info(sim));
    rm_server_set_status(d.srv, &d.status);
    printf("listening on %s\n", rm_server_path(d.srv));
    fflush(stdout);
    serve(&d, sim, speed > 0 ? speed : 1);
    rm_server_close(d.srv);
    rm_sim_free(sim);
    if (d.log)
        fclose(d.log);
    return 0;
}
