/* Wire protocol throughput: encodes a realistic capture (SAMPLES frames of
 * 8 channels in batches, as the roller streams them) and decodes it, and
 * prints MB/s and samples/s for each, then CRC-32C alone with each of its
 * implementations. Target: decode >= 1.5 GB/s on one core
 * (docs/PERFORMANCE.md).
 *
 *   bench_decoder [MEGABYTES] [REPEATS]     defaults: 32 MB, best of 5 */
#include "crc32c_internal.h"
#include "rollmap_hw.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHANNELS 8
/* 1 kHz in frames of 20 samples: 50 frames a second, the virtual roller's
 * default rate and a batch that keeps latency at 20 ms. */
#define BATCH 20
#define RATE_HZ 1000
#define MB 1e6

/* A sample as a load cell ADC gives it: a slow force plus noise, in 24-bit
 * counts, and an encoder turning back and forth. */
static void fake_sample(rm_sample *s, uint64_t t_us, uint32_t *noise)
{
    s->t_us = t_us;
    s->encoder = (int32_t)((t_us / 997) % 4096) - 2048;
    s->flags = 0;
    for (unsigned c = 0; c < CHANNELS; c++) {
        *noise = *noise * 1664525u + 1013904223u; /* Numerical Recipes LCG */
        s->counts[c] = 400000 + (int32_t)(t_us / 1000 % 300000) +
                       (int32_t)(*noise >> 22) - 512;
    }
}

static void fill_frame(rm_frame *f, uint64_t frame_index, uint32_t *noise)
{
    f->type = RM_FRAME_SAMPLES;
    f->seq = (uint16_t)frame_index;
    f->t_us = frame_index * BATCH * 1000000u / RATE_HZ;
    f->u.samples.channel_count = CHANNELS;
    f->u.samples.count = BATCH;
    for (unsigned i = 0; i < BATCH; i++)
        fake_sample(&f->u.samples.samples[i], f->t_us + i * 1000000u / RATE_HZ,
                    noise);
}

/* Both clocks of a measurement: the CPU time this thread used is what
 * "MB/s on one core" means; wall time shows what other load on the machine
 * took away from it. */
typedef struct timing {
    double cpu_s, wall_s;
} timing;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static timing timing_start(void)
{
    return (timing){thread_cpu_s(), (double)rm_monotonic_us() / 1e6};
}

static timing timing_since(timing start)
{
    return (timing){thread_cpu_s() - start.cpu_s,
                    (double)rm_monotonic_us() / 1e6 - start.wall_s};
}

static void keep_fastest(timing *best, timing t)
{
    if (t.cpu_s < best->cpu_s)
        *best = t;
}

/* Encodes frames until cap is nearly full; returns the stream length. */
static size_t encode_stream(uint8_t *out, size_t cap, rm_frame *frames,
                            size_t frame_count, size_t *frames_written)
{
    size_t len = 0, n = 0;
    while (cap - len >= RM_FRAME_MAX_WIRE) {
        rm_frame *f = &frames[n % frame_count];
        f->seq = (uint16_t)n; /* a gapless sequence, checked after decoding */
        size_t w = rm_frame_encode(f, out + len, cap - len);
        if (w == 0) {
            fprintf(stderr, "bench_decoder: encoding failed\n");
            exit(1);
        }
        len += w;
        n++;
    }
    *frames_written = n;
    return len;
}

static uint64_t decode_stream(const uint8_t *data, size_t len, rm_frame *f,
                              rm_decoder_stats *stats)
{
    static rm_decoder d;
    rm_decoder_init(&d);
    uint64_t samples = 0;
    size_t at = 0;
    while (at < len) {
        bool have;
        at += rm_decoder_push(&d, data + at, len - at, f, &have);
        if (have && f->type == RM_FRAME_SAMPLES)
            samples += f->u.samples.count;
    }
    *stats = d.stats;
    return samples;
}

static void report(const char *what, size_t bytes, uint64_t samples, timing t)
{
    printf("%-7s %8.1f MB/s  %8.2f Msamples/s per CPU second "
           "(%.1f MB in %.3f s CPU, %.3f s wall: %.1f MB/s)\n", what,
           bytes / MB / t.cpu_s, samples / 1e6 / t.cpu_s, bytes / MB, t.cpu_s,
           t.wall_s, bytes / MB / t.wall_s);
}

/* CRC-32C alone over the stream: the table code and, where the processor
 * has one, its instruction (the one rm_crc32c chooses). */
static void report_crc(const char *what, core_crc32c_fn crc, const uint8_t *data,
                       size_t len, int repeats)
{
    timing best = {1e9, 1e9};
    volatile uint32_t sink = 0;
    for (int r = 0; r < repeats; r++) {
        timing t0 = timing_start();
        sink ^= crc(0, data, len);
        keep_fastest(&best, timing_since(t0));
    }
    printf("%-18s %8.1f MB/s per CPU second\n", what, len / MB / best.cpu_s);
}

int main(int argc, char **argv)
{
    size_t megabytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (megabytes == 0 || repeats <= 0) {
        fprintf(stderr, "usage: bench_decoder [MEGABYTES] [REPEATS]\n");
        return 2;
    }
    size_t cap = megabytes * 1000000;
    uint8_t *stream = malloc(cap);
    /* 250 distinct frames (5 s at 1 kHz) so the encoder sees varied data */
    enum { DISTINCT = 250 };
    rm_frame *frames = malloc(DISTINCT * sizeof *frames);
    rm_frame *decoded = malloc(sizeof *decoded);
    if (!stream || !frames || !decoded) {
        fprintf(stderr, "bench_decoder: out of memory\n");
        return 1;
    }
    uint32_t noise = 1;
    for (size_t i = 0; i < DISTINCT; i++)
        fill_frame(&frames[i], i, &noise);

    printf("bench_decoder: SAMPLES frames, %d channels, %d samples a frame, "
           "best of %d\n", CHANNELS, BATCH, repeats);
    timing best_encode = {1e9, 1e9}, best_decode = {1e9, 1e9};
    size_t len = 0, frame_count = 0;
    uint64_t samples = 0;
    rm_decoder_stats stats = {0};
    for (int r = 0; r < repeats; r++) {
        timing t0 = timing_start();
        len = encode_stream(stream, cap, frames, DISTINCT, &frame_count);
        keep_fastest(&best_encode, timing_since(t0));
        t0 = timing_start();
        samples = decode_stream(stream, len, decoded, &stats);
        keep_fastest(&best_decode, timing_since(t0));
    }
    if (stats.frames_ok != frame_count || samples != frame_count * BATCH ||
        stats.seq_gaps != 0) {
        fprintf(stderr, "bench_decoder: decoded %llu of %zu frames\n",
                (unsigned long long)stats.frames_ok, frame_count);
        return 1;
    }
    report("encode", len, samples, best_encode);
    report("decode", len, samples, best_decode);
    report_crc("crc32c table", core_crc32c_table_code(), stream, len, repeats);
    if (core_crc32c_processor_code())
        report_crc("crc32c instruction", core_crc32c_processor_code(), stream,
                   len, repeats);
    else
        printf("crc32c instruction: this processor has none\n");
    free(decoded);
    free(frames);
    free(stream);
    return 0;
}
