/* The path a live roller takes, end to end: the virtual roller's wire bytes
 * written into a real pty in real time, read by rollmap's tty: source and
 * decoded. Prints, for rising rates, whether the path keeps up with zero
 * loss, and the largest rate that does, in samples/s and MB/s next to USB
 * full speed (about 1 MB/s for CDC-ACM in practice).
 *
 * The virtual roller runs at most 4 kHz, so its capture is replayed faster
 * (time-compressed) to reach higher rates: the bytes are the roller's own.
 *
 * Each rate replays about 2 s of wall time (a prefix of the capture).
 *
 *   bench_pty [SECONDS]      capture length at 4 kHz (default 60)
 */
#include "rollmap_hw.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The virtual roller's fastest rate, 20 samples a frame, no faults. */
#define SIM_OPTIONS "seed=1,rate=4000,batch=20,autostart=1,drop=0,ber=0"
#define SIM_RATE_HZ 4000.0
#define MB 1e6
/** Kept up: finished within 5 % (plus 5 ms of scheduling) of real time. */
#define LATE_FACTOR 1.05
#define LATE_SLACK_US 5000.0
/** Bytes written per step: about what USB full speed moves in 1 ms. */
#define CHUNK 1024
/** Wall time each rate is replayed for. */
#define RUN_SECONDS 2.0

/** The capture up to the end of one SAMPLES frame. */
typedef struct cut {
    size_t len;
    uint64_t samples;
} cut;

typedef struct capture {
    uint8_t *bytes;
    size_t len;
    cut *cuts;          /**< one per SAMPLES frame, in order */
    size_t cut_count;
} capture;

typedef struct writer {
    int master;
    const uint8_t *bytes;
    size_t len;
    double span_us;     /**< wall time to spread the bytes over */
    double wall_us;     /**< how long writing took */
} writer;

static int make_capture(capture *cap, double seconds)
{
    rm_sim_config cfg;
    rm_error err = {0};
    char options[160];
    snprintf(options, sizeof options, "%s,duration=%g", SIM_OPTIONS, seconds);
    rm_sim_config_default(&cfg);
    rm_sim *sim;
    if (rm_sim_config_parse(&cfg, options, &err) != RM_OK ||
        rm_sim_new(&sim, &cfg, &err) != RM_OK) {
        fprintf(stderr, "bench_pty: %s\n", err.message);
        return 1;
    }
    size_t cap_bytes = (size_t)(seconds * SIM_RATE_HZ * 64) + 65536;
    cap->bytes = malloc(cap_bytes);
    cap->len = 0;
    while (!rm_sim_finished(sim) && cap->len + RM_FRAME_MAX_WIRE < cap_bytes)
        cap->len += rm_sim_next_bytes(sim, cap->bytes + cap->len,
                                      cap_bytes - cap->len);
    rm_sim_free(sim);
    rm_decoder d;
    rm_decoder_init(&d);
    cap->cuts = malloc((cap->len / 64 + 1) * sizeof *cap->cuts);
    cap->cut_count = 0;
    uint64_t samples = 0;
    for (size_t used = 0; used < cap->len;) {
        rm_frame f;
        bool have;
        used += rm_decoder_push(&d, cap->bytes + used, cap->len - used, &f,
                                &have);
        if (have && f.type == RM_FRAME_SAMPLES) {
            samples += f.u.samples.count;
            cap->cuts[cap->cut_count++] = (cut){used, samples};
        }
    }
    return cap->cut_count ? 0 : 1;
}

/** The longest prefix spanning at most `seconds` of device time. */
static cut prefix(const capture *cap, double seconds)
{
    uint64_t want = (uint64_t)(seconds * SIM_RATE_HZ);
    size_t i = 0;
    while (i + 1 < cap->cut_count && cap->cuts[i + 1].samples <= want)
        i++;
    return cap->cuts[i];
}

static void sleep_until(uint64_t t_us)
{
    uint64_t now = rm_monotonic_us();
    if (t_us <= now)
        return;
    struct timespec ts = {(time_t)((t_us - now) / 1000000u),
                          (long)((t_us - now) % 1000000u) * 1000};
    nanosleep(&ts, NULL);
}

/** Wait for the host's IDENTIFY, then write the capture at its pace. */
static void *writer_run(void *arg)
{
    writer *w = arg;
    uint8_t cmd[256];
    struct pollfd p = {.fd = w->master, .events = POLLIN};
    poll(&p, 1, 5000);
    if (read(w->master, cmd, sizeof cmd) <= 0)
        return NULL;
    uint64_t start = rm_monotonic_us();
    for (size_t off = 0; off < w->len;) {
        size_t n = w->len - off < CHUNK ? w->len - off : CHUNK;
        sleep_until(start + (uint64_t)(w->span_us * (double)off /
                                       (double)w->len));
        ssize_t put = write(w->master, w->bytes + off, n);
        if (put < 0 && errno != EINTR && errno != EAGAIN)
            break;
        off += put > 0 ? (size_t)put : 0;
    }
    w->wall_us = (double)(rm_monotonic_us() - start);
    return NULL;
}

typedef struct result {
    uint64_t sent, samples;
    uint64_t lost_frames, crc_errors;
    double span_us, wall_us;
} result;

static uint64_t read_all(rm_source *src, uint64_t expected)
{
    rm_source_output *out = malloc(sizeof *out);
    uint64_t got = 0, quiet_since = rm_monotonic_us();
    while (got < expected && rm_monotonic_us() - quiet_since < 1000000u) {
        rm_status st = rm_source_next(src, out, NULL);
        if (st == RM_OK) {
            quiet_since = rm_monotonic_us();
            if (out->item == RM_ITEM_SAMPLES)
                got += out->count;
        } else if (st == RM_ERR_AGAIN) {
            rm_source_wait(src, 50, NULL);
        } else {
            break;
        }
    }
    free(out);
    return got;
}

static int run(const capture *cap, double speed, result *r)
{
    int master, slave;
    char name[256];
    if (openpty(&master, &slave, name, NULL, NULL) < 0) {
        perror("openpty");
        return 1;
    }
    cut part = prefix(cap, RUN_SECONDS * speed);
    r->sent = part.samples;
    r->span_us = (double)part.samples / SIM_RATE_HZ * 1e6 / speed;
    writer w = {.master = master, .bytes = cap->bytes, .len = part.len,
                .span_us = r->span_us};
    pthread_t thread;
    pthread_create(&thread, NULL, writer_run, &w);
    rm_source_spec spec;
    rm_source *src;
    rm_error err = {0};
    char text[300];
    snprintf(text, sizeof text, "tty:%s", name);
    int rc = 0;
    if (rm_source_parse(text, &spec, &err) != RM_OK ||
        rm_source_open(&src, &spec, &err) != RM_OK) {
        fprintf(stderr, "bench_pty: %s\n", err.message);
        rc = 1;
    } else {
        close(slave);
        slave = -1;
        r->samples = read_all(src, r->sent);
        r->lost_frames = rm_source_stats(src)->frames_lost;
        r->crc_errors = rm_source_stats(src)->crc_errors;
        rm_source_close(src);
    }
    pthread_join(thread, NULL);
    r->wall_us = w.wall_us;
    close(master);
    if (slave >= 0)
        close(slave);
    return rc;
}

static bool kept_up(const result *r)
{
    return r->samples == r->sent && r->lost_frames == 0 &&
           r->crc_errors == 0 &&
           r->wall_us <= r->span_us * LATE_FACTOR + LATE_SLACK_US;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 60;
    if (!(seconds >= 1)) {
        fprintf(stderr, "usage: bench_pty [SECONDS >= 1]\n");
        return 2;
    }
    capture cap;
    if (make_capture(&cap, seconds))
        return 1;
    const cut *all = &cap.cuts[cap.cut_count - 1];
    double bytes_per_sample = (double)all->len / (double)all->samples;
    printf("virtual roller capture: %.0f s at 4 kHz, %llu samples, %.2f MB, "
           "%.1f wire bytes per sample (8 channels, batches of 20)\n",
           all->samples / SIM_RATE_HZ, (unsigned long long)all->samples,
           all->len / MB, bytes_per_sample);
    printf("%12s %10s %12s %12s %10s  %s\n", "samples/s", "MB/s", "sent",
           "received", "wall/real", "verdict");
    static const double speeds[] = {1, 2.5, 5, 10, 25, 50, 100, 250, 500,
                                    1000};
    double best = 0;
    for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++) {
        result r = {0};
        if (run(&cap, speeds[i], &r))
            return 1;
        double rate = SIM_RATE_HZ * speeds[i];
        double mbps = rate * bytes_per_sample / MB;
        bool ok = kept_up(&r);
        printf("%12.0f %10.3f %12llu %12llu %10.3f  %s\n", rate, mbps,
               (unsigned long long)r.sent, (unsigned long long)r.samples,
               r.wall_us / r.span_us,
               ok ? "zero loss, kept up" : "fell behind or lost samples");
        if (!ok)
            break;
        best = rate;
    }
    printf("largest sustained rate: %.0f samples/s = %.2f MB/s "
           "(USB full speed CDC-ACM: about 1 MB/s)\n", best,
           best * bytes_per_sample / MB);
    free(cap.cuts);
    free(cap.bytes);
    return 0;
}
