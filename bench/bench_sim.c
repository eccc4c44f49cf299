/* The virtual roller's speed: how fast the model makes a 10-minute 1 kHz
 * session (target: well under a second, so accuracy evaluations can run
 * many sessions), how fast the firmware puts it on the wire, and how long
 * planning a long session takes (docs/PERFORMANCE.md).
 *
 *   bench_sim [SESSIONS]     default 5 seeds, best and worst printed */
#include "rollmap_hw.h"

#include <stdio.h>
#include <stdlib.h>

#define SESSION_S 600.0
#define LONG_SESSION_S (4 * 3600.0)

static double seconds_since(uint64_t start_us)
{
    return (double)(rm_monotonic_us() - start_us) / 1e6;
}

static rm_sim *new_sim(uint64_t seed, double duration_s, const char *options)
{
    rm_sim_config c;
    rm_error err;
    rm_sim *sim;
    rm_sim_config_default(&c);
    c.seed = seed;
    c.duration_s = duration_s;
    if (rm_sim_config_parse(&c, options, &err) != RM_OK ||
        rm_sim_new(&sim, &c, &err) != RM_OK) {
        fprintf(stderr, "bench_sim: %s\n", err.message);
        exit(1);
    }
    return sim;
}

/* Seconds to draw every sample of the model. */
static double time_model(uint64_t seed, const char *options, size_t *samples)
{
    rm_sim *sim = new_sim(seed, SESSION_S, options);
    rm_sample s;
    uint64_t start = rm_monotonic_us();
    *samples = 0;
    while (rm_sim_next_sample(sim, &s))
        (*samples)++;
    double t = seconds_since(start);
    rm_sim_free(sim);
    return t;
}

/* Seconds to run the whole device (autostart) and the bytes it sent. */
static double time_wire(uint64_t seed, size_t *bytes)
{
    rm_sim *sim = new_sim(seed, SESSION_S, "autostart=1");
    static uint8_t buf[RM_FRAME_MAX_WIRE * 4];
    uint64_t start = rm_monotonic_us();
    *bytes = 0;
    while (!rm_sim_finished(sim))
        *bytes += rm_sim_next_bytes(sim, buf, sizeof buf);
    double t = seconds_since(start);
    rm_sim_free(sim);
    return t;
}

static void report_model(const char *name, const char *options, int sessions)
{
    double best = 1e9, worst = 0;
    size_t samples = 0;
    for (int i = 0; i < sessions; i++) {
        double t = time_model((uint64_t)i + 1, options, &samples);
        best = t < best ? t : best;
        worst = t > worst ? t : worst;
    }
    printf("model %-8s 600 s at 1 kHz: %.3f-%.3f s (%.1f M samples/s, "
           "%.0fx real time)\n", name, best, worst, samples / best / 1e6,
           SESSION_S / best);
}

int main(int argc, char **argv)
{
    int sessions = argc > 1 ? atoi(argv[1]) : 5;
    if (sessions < 1) {
        fprintf(stderr, "usage: bench_sim [SESSIONS]\n");
        return 2;
    }
    report_model("roller", "", sessions);
    report_model("ball", "kind=ball", sessions);
    size_t bytes;
    double t = time_wire(1, &bytes);
    printf("wire   roller   600 s at 1 kHz: %.3f s, %.1f MB (%.1f MB/s)\n",
           t, bytes / 1e6, bytes / t / 1e6);
    uint64_t start = rm_monotonic_us();
    rm_sim *sim = new_sim(1, LONG_SESSION_S, "");
    printf("plan   roller   4 h session: %.3f s\n", seconds_since(start));
    rm_sim_free(sim);
    return 0;
}
