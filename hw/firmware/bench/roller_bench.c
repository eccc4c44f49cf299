/*
 * roller_bench: the roller firmware (hw/firmware) running in simavr, its
 * pins wired to two emulated HX711s, an encoder and a button that are
 * driven by the virtual roller's model (rm_sim: the same person, forces
 * and ground truth as `rollmap simulate`).
 *
 *   roller_bench --link PATH [--sim OPTIONS] [--truth FILE] FIRMWARE.elf
 *       bridges the AVR's UART to a pty (PATH links to it) for rollmapd
 *       (tty:PATH); the session starts when the host first writes.
 *   roller_bench --measure FIRMWARE.elf
 *       is its own host and prints the firmware's figures: CPU used per
 *       sample period, the highest encoder edge rate counted without loss.
 */
#include "bench.h"
#include "report.h"
#include "rollmap_hw.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <simavr/avr_eeprom.h>
#include <simavr/avr_extint.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MCU "atmega328p"
#define MCU_HZ 16000000u
#define MODEL_RATE_HZ 400u       /* how often the model's forces and position move */
#define CHUNK_US 1000u           /* emulated time between host bytes fed */
#define HOST_BYTES_PER_CHUNK 8   /* under 11.5, what 115200 baud carries in 1 ms */
/* Chunks between looks at the pty: every 10 ms, as a USB bridge's latency
 * timer hands the host what came in (an FTDI's waits 16 ms). Fewer looks
 * leave the CPU to the emulation. */
#define CHUNKS_PER_LOOK 10
#define DRAIN_US 300000u         /* run on after the session for the last frames */
#define HOST_WAIT_S 60           /* for the host's first byte */
#define NEVER UINT64_MAX

typedef struct byte_queue {
    uint8_t *data;
    size_t len, cap;
} byte_queue;

/* What the firmware sent since the bench last cleared it (--check). */
typedef struct seen_frames {
    unsigned infos, resets, tare_done, presses, releases, overloads, errors;
    unsigned samples, marked, tared, saturated;
    uint64_t last_sample_us;
    uint64_t longest_interval_us; /* between two samples in a row */
    uint16_t first_seq;           /* of the first frame seen */
    bool any;
    int16_t ack[4];               /* result per START, STOP, TARE, SET_RATE */
    bool acked[4];
    bool samples_after_stop_ack;
    rm_frame_status status;       /* the last STATUS */
    unsigned statuses;
    rm_device_info info;          /* the last INFO */
    char error_text[sizeof ((rm_frame_status *)0)->text]; /* of the last ERROR */
} seen_frames;

typedef struct bench {
    avr_t *avr;
    elf_firmware_t fw;           /* kept: simavr may refer to its symbols */
    bench_parts parts;
    rm_device_info built;        /* the firmware's boot INFO: its build's roller */
    rm_sim *sim;                 /* NULL in --measure and --check */
    uint64_t model_next;         /* cycle of the next model step */
    int32_t encoder_origin;      /* the model's count at the start */
    bool model_over;
    uint64_t release_at;         /* cycle the button is let go */
    double reset_at_s;
    bool reset_done;
    uint64_t boots;              /* EVENT RESET frames the firmware sent */
    uint64_t watchdog_resets;
    uint64_t jumps_to_zero;      /* restarts the bench did not ask for */
    uint64_t sleep_cycles;
    /* RAM: the stack grows down from RAMEND toward .data and .bss */
    uint16_t ram_end, statics_end;
    uint16_t stack_low;          /* the lowest stack pointer seen */
    /* the UART */
    byte_queue to_host, from_host;
    int master, slave;
    char link[4096];
    /* what the firmware sends, as a host decodes it */
    rm_decoder decoder;
    int32_t last_encoder;
    uint64_t samples_seen;
    double first_sample_s; /* the firmware's clock at its first sample, or -1 */
    seen_frames seen;
    uint16_t host_seq;
    /* pacing */
    double speed;
    uint64_t wall_start_us;
} bench;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void queue_push(byte_queue *q, const uint8_t *data, size_t n)
{
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        uint8_t *grown = realloc(q->data, cap);
        if (!grown) {
            fprintf(stderr, "roller_bench: out of memory\n");
            exit(1);
        }
        q->data = grown;
        q->cap = cap;
    }
    memcpy(q->data + q->len, data, n);
    q->len += n;
}

static void queue_drop(byte_queue *q, size_t n)
{
    if (n == 0)
        return; /* an empty queue may have no buffer yet */
    memmove(q->data, q->data + n, q->len - n);
    q->len -= n;
}

/* ------------------------------------------------------------------------ */
/* The model drives the parts                                               */
/* ------------------------------------------------------------------------ */

static uint64_t model_period(const bench *b)
{
    return b->avr->frequency / MODEL_RATE_HZ;
}

/* The model marks the moment the person presses the "tender here"
 * button; a thumb holds it down this long (a deliberate press). */
#define PRESS_US 300000u

static void apply_model_sample(bench *b, const rm_sample *s)
{
    for (int c = 0; c < 2; c++)
        b->parts.hx[c].input = s->counts[c];
    int64_t target = (int64_t)s->encoder - b->encoder_origin;
    int64_t edges = llabs(target - b->parts.enc.position);
    uint64_t interval = edges ? model_period(b) / (uint64_t)edges : 1;
    bench_encoder_move(&b->parts, target, interval);
    uint64_t now = b->avr->cycle;
    if (s->flags & RM_SAMPLE_MARK)
        b->release_at = now + avr_usec_to_cycles(b->avr, PRESS_US);
    bench_parts_press(&b->parts, now < b->release_at);
}

static void step_model(bench *b, uint64_t now)
{
    while (b->sim && !b->model_over && b->model_next <= now) {
        rm_sample s;
        if (!rm_sim_next_sample(b->sim, &s)) {
            b->model_over = true;
            break;
        }
        if (b->model_next == 0)
            b->encoder_origin = s.encoder;
        apply_model_sample(b, &s);
        b->model_next += model_period(b);
    }
}

/* The bench's one cycle timer: it runs the model and the parts and asks to
 * be called again at their next event. */
static avr_cycle_count_t on_tick(avr_t *avr, avr_cycle_count_t when, void *param)
{
    (void)when;
    bench *b = param;
    step_model(b, avr->cycle);
    uint64_t next = bench_parts_advance(&b->parts, avr->cycle);
    if (b->sim && !b->model_over && b->model_next < next)
        next = b->model_next;
    return next > avr->cycle ? next : avr->cycle + 1;
}

/* simavr 1.6 keeps raising INT0/INT1 while their pin is low once it was
 * low in level mode (the mode after reset), even after the firmware chose
 * edges: a flood no chip makes. The firmware uses edges only. Every reset
 * turns the level polling on again. */
static void edges_only(avr_t *avr)
{
    avr_extint_set_strict_lvl_trig(avr, 0, 0);
    avr_extint_set_strict_lvl_trig(avr, 1, 0);
}

/* avr_reset() (a watchdog reset, a power-on reset) clears every cycle
 * timer: put the bench's back and drive the pins again. */
static void keep_ticking(bench *b)
{
    if (avr_cycle_timer_status(b->avr, on_tick, b) != 0)
        return;
    edges_only(b->avr);
    bench_parts_redrive(&b->parts);
    avr_cycle_timer_register(b->avr, 1, on_tick, b);
}

/* simavr's sleep callback knows only the AVR; there is one bench. */
static bench *sleeping_bench;

/* The AVR sleeps until its next event: count the cycles (the firmware's
 * idle time) and return at once; pace() keeps the wall clock. */
/* The encoder was given a new target from outside the tick: the tick must
 * come at its first edge, not at the event it was waiting for. */
static void move_encoder(bench *b, int64_t target, uint64_t interval)
{
    bench_encoder_move(&b->parts, target, interval);
    avr_cycle_timer_register(b->avr, 1, on_tick, b);
}

static void avr_sleeping(avr_t *avr, avr_cycle_count_t how_long)
{
    (void)avr;
    sleeping_bench->sleep_cycles += how_long + 1;
}

/* ------------------------------------------------------------------------ */
/* The AVR                                                                  */
/* ------------------------------------------------------------------------ */

static void note_event(seen_frames *s, int kind, int32_t value)
{
    s->resets += kind == RM_DEV_EVENT_RESET;
    s->tare_done += kind == RM_DEV_EVENT_TARE_DONE;
    s->overloads += kind == RM_DEV_EVENT_OVERLOAD;
    s->presses += kind == RM_DEV_EVENT_BUTTON && value == 1;
    s->releases += kind == RM_DEV_EVENT_BUTTON && value == 0;
}

static void note_samples(seen_frames *s, const rm_frame *f)
{
    for (unsigned i = 0; i < f->u.samples.count; i++) {
        uint16_t flags = f->u.samples.samples[i].flags;
        uint64_t t_us = f->u.samples.samples[i].t_us;
        if (s->samples && t_us - s->last_sample_us > s->longest_interval_us)
            s->longest_interval_us = t_us - s->last_sample_us;
        s->last_sample_us = t_us;
        s->samples++;
        s->marked += (flags & RM_SAMPLE_MARK) != 0;
        s->tared += (flags & RM_SAMPLE_TARED) != 0;
        s->saturated += (flags & RM_SAMPLE_SATURATED) != 0;
    }
    s->samples_after_stop_ack = s->acked[RM_CMD_STOP - RM_CMD_START];
}

static void note_frame(seen_frames *s, const rm_frame *f)
{
    if (!s->any)
        s->first_seq = f->seq;
    s->any = true;
    switch (f->type) {
    case RM_FRAME_INFO: s->infos++; s->info = f->u.info; break;
    case RM_FRAME_EVENT: note_event(s, f->u.event.kind, f->u.event.value); break;
    case RM_FRAME_SAMPLES: note_samples(s, f); break;
    case RM_FRAME_STATUS: s->statuses++; s->status = f->u.status; break;
    case RM_FRAME_ERROR:
        s->errors++;
        snprintf(s->error_text, sizeof s->error_text, "%s", f->u.status.text);
        break;
    case RM_FRAME_ACK:
        if (f->u.ack.acked_type >= RM_CMD_START && f->u.ack.acked_type <= RM_CMD_SET_RATE) {
            s->acked[f->u.ack.acked_type - RM_CMD_START] = true;
            s->ack[f->u.ack.acked_type - RM_CMD_START] = f->u.ack.result;
        }
        break;
    }
}

static void watch_frame(bench *b, const rm_frame *f)
{
    note_frame(&b->seen, f);
    if (f->type == RM_FRAME_EVENT && f->u.event.kind == RM_DEV_EVENT_RESET)
        b->boots++;
    if (f->type != RM_FRAME_SAMPLES)
        return;
    if (b->first_sample_s < 0)
        b->first_sample_s = (double)f->u.samples.samples[0].t_us / 1e6;
    b->samples_seen += f->u.samples.count;
    b->last_encoder = f->u.samples.samples[f->u.samples.count - 1].encoder;
}

/* Every byte the firmware sends is decoded here too, for the figures;
 * with --link it also goes to the pty. */
static void on_uart_byte(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    bench *b = param;
    uint8_t byte = (uint8_t)value;
    rm_frame f;
    bool have = false;
    rm_decoder_push(&b->decoder, &byte, 1, &f, &have);
    if (have)
        watch_frame(b, &f);
    if (b->master >= 0)
        queue_push(&b->to_host, &byte, 1);
}

static roller_settings eeprom_settings(const bench *b)
{
    roller_settings s;
    avr_eeprom_desc_t desc = {.ee = (uint8_t *)&s, .offset = 0, .size = sizeof s};
    avr_ioctl(b->avr, AVR_IOCTL_EEPROM_GET, &desc);
    return s;
}

/* EEPROM as a calibrated roller leaves the workshop: the build's image
 * (roller.eep: the maker's serial, the rate) with the model's load cells'
 * gain and zero, so that forces come out in newtons. */
static void write_settings(bench *b)
{
    roller_settings s = eeprom_settings(b);
    if (s.layout != ROLLER_SETTINGS_LAYOUT)
        s = (roller_settings)ROLLER_SETTINGS_DEFAULTS;
    if (b->sim) {
        const rm_device_info *info = rm_sim_info(b->sim);
        for (int c = 0; c < 2; c++) {
            s.gain_n_per_count[c] = info->channels[c].gain_n_per_count;
            s.offset_counts[c] = info->channels[c].offset_counts;
        }
    }
    avr_eeprom_desc_t desc = {.ee = (uint8_t *)&s, .offset = 0, .size = sizeof s};
    avr_ioctl(b->avr, AVR_IOCTL_EEPROM_SET, &desc);
}

static bool load_avr(bench *b, const char *elf)
{
    elf_firmware_t *fw = &b->fw;
    if (elf_read_firmware(elf, fw) != 0) {
        fprintf(stderr, "roller_bench: %s: cannot read the firmware\n", elf);
        return false;
    }
    b->avr = avr_make_mcu_by_name(MCU);
    if (!b->avr)
        return false;
    avr_init(b->avr);
    avr_load_firmware(b->avr, fw);
    b->avr->frequency = MCU_HZ;
    b->avr->log = 0;
    sleeping_bench = b;
    b->avr->sleep = avr_sleeping;
    uint32_t flags = 0;
    avr_ioctl(b->avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~(uint32_t)AVR_UART_FLAG_STDIO;
    avr_ioctl(b->avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(b->avr, AVR_IOCTL_UART_GETIRQ('0'),
                                          UART_IRQ_OUTPUT),
                            on_uart_byte, b);
    write_settings(b);
    b->ram_end = b->avr->ramend;
    b->statics_end = (uint16_t)(b->avr->ioend + 1 + fw->datasize + fw->bsssize);
    b->stack_low = b->ram_end;
    edges_only(b->avr);
    bench_parts_attach(&b->parts, b->avr);
    return true;
}

static void feed_host_bytes(bench *b)
{
    avr_irq_t *in = avr_io_getirq(b->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    size_t n = b->from_host.len < HOST_BYTES_PER_CHUNK ? b->from_host.len
                                                       : HOST_BYTES_PER_CHUNK;
    for (size_t i = 0; i < n; i++)
        avr_raise_irq(in, b->from_host.data[i]);
    queue_drop(&b->from_host, n);
}

/* simavr 1.6 stops the AVR when its watchdog times out; the chip resets
 * and starts again, and so does the bench's AVR. simavr stops it the same
 * way on a crash (a write outside RAM), which this counts as well. */
static void watchdog_reset(bench *b)
{
    b->watchdog_resets++;
    avr_reset(b->avr);
    b->avr->state = cpu_Running;
    keep_ticking(b);
}

/* After each instruction: the stack's depth, and a jump to the reset
 * vector (a crash: an interrupt with no handler, a return to address 0). */
static void watch_cpu(bench *b)
{
    uint16_t sp = (uint16_t)(b->avr->data[R_SPH] << 8 | b->avr->data[R_SPL]);
    if (sp < b->stack_low)
        b->stack_low = sp;
    b->jumps_to_zero += b->avr->pc == 0;
}

/* Runs the AVR for CHUNK_US of its time; false when it stopped. */
static bool run_chunk(bench *b)
{
    uint64_t end = b->avr->cycle + avr_usec_to_cycles(b->avr, CHUNK_US);
    keep_ticking(b);
    feed_host_bytes(b);
    while (b->avr->cycle < end) {
        int state = avr_run(b->avr);
        watch_cpu(b);
        if (state == cpu_Crashed) {
            watchdog_reset(b);
            continue;
        }
        if (state == cpu_Done) {
            fprintf(stderr, "roller_bench: the AVR stopped at cycle %" PRIu64 "\n",
                    (uint64_t)b->avr->cycle);
            return false;
        }
    }
    return true;
}

static double emulated_s(const bench *b)
{
    return (double)b->avr->cycle / b->avr->frequency;
}

static void pace(bench *b)
{
    if (b->speed <= 0)
        return;
    uint64_t due = b->wall_start_us + (uint64_t)(emulated_s(b) * 1e6 / b->speed);
    uint64_t now = wall_us();
    if (due > now)
        usleep((useconds_t)(due - now));
}

/* A power-on reset at --reset-at: the AVR starts again, the parts go on. */
static void maybe_reset(bench *b)
{
    if (b->reset_done || b->reset_at_s < 0 || emulated_s(b) < b->reset_at_s)
        return;
    b->reset_done = true;
    avr_reset(b->avr);
}

/* ------------------------------------------------------------------------ */
/* The pty (--link)                                                         */
/* ------------------------------------------------------------------------ */

static bool open_link(bench *b)
{
    char path[256];
    b->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (b->master < 0 || grantpt(b->master) || unlockpt(b->master) ||
        ptsname_r(b->master, path, sizeof path)) {
        fprintf(stderr, "roller_bench: no pseudo-terminal: %s\n", strerror(errno));
        return false;
    }
    /* Holding the other end open keeps the pty alive between host opens. */
    b->slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    if (b->slave < 0 || tcgetattr(b->slave, &t) != 0) {
        fprintf(stderr, "roller_bench: %s: %s\n", path, strerror(errno));
        return false;
    }
    cfmakeraw(&t);
    tcsetattr(b->slave, TCSANOW, &t);
    unlink(b->link);
    if (symlink(path, b->link) != 0) {
        fprintf(stderr, "roller_bench: --link %s: %s\n", b->link, strerror(errno));
        return false;
    }
    return true;
}

static void pump_pty(bench *b)
{
    uint8_t buf[512];
    ssize_t n;
    while ((n = read(b->master, buf, sizeof buf)) > 0)
        queue_push(&b->from_host, buf, (size_t)n);
    while (b->to_host.len > 0) {
        n = write(b->master, b->to_host.data, b->to_host.len);
        if (n <= 0)
            break; /* the host is behind; the bytes wait, as in a USB bridge */
        queue_drop(&b->to_host, (size_t)n);
    }
}

/* Bytes the firmware sent that the host has not read yet: those the pty
 * did not take, and those in the terminal's input queue. */
static size_t undelivered(const bench *b)
{
    int queued = 0;
    if (ioctl(b->slave, FIONREAD, &queued) != 0)
        queued = 0;
    return b->to_host.len + (size_t)queued;
}

/* At --speed 0 the emulation runs ahead of a host on a loaded machine: the
 * link stays open until the host has read everything, as long as it goes
 * on reading (a host that quit, such as `rollmap calibrate`, is given up
 * after 10 s). The terminal's queue can read empty for a moment while the
 * kernel moves the next bytes into it: empty counts after 0.2 s. */
#define DELIVERY_CHECK_US 10000
#define EMPTY_FOR_US 200000
#define HOST_GONE_US 10000000

static void deliver_the_rest(bench *b)
{
    size_t left = SIZE_MAX;
    int empty = 0;
    for (int idle = 0; idle * DELIVERY_CHECK_US < HOST_GONE_US && !stop_requested; idle++) {
        pump_pty(b);
        size_t now_left = undelivered(b);
        empty = now_left == 0 ? empty + 1 : 0;
        if (empty * DELIVERY_CHECK_US >= EMPTY_FOR_US)
            return;
        if (now_left < left) {
            left = now_left;
            idle = 0;
        }
        usleep(DELIVERY_CHECK_US);
    }
    if (undelivered(b) > 0)
        fprintf(stderr, "roller_bench: the host stopped reading: %zu bytes not delivered\n",
                undelivered(b));
}

static bool wait_for_host(bench *b)
{
    struct pollfd p = {.fd = b->master, .events = POLLIN};
    for (int waited = 0; waited < HOST_WAIT_S * 10 && !stop_requested; waited++) {
        if (poll(&p, 1, 100) > 0 && (p.revents & POLLIN)) {
            pump_pty(b);
            if (b->from_host.len > 0)
                return true;
        }
    }
    fprintf(stderr, "roller_bench: no host wrote to %s within %d s\n", b->link,
            HOST_WAIT_S);
    return false;
}

static unsigned stack_depth(const bench *b)
{
    return (unsigned)(b->ram_end - b->stack_low);
}

/* Bytes between the deepest stack and the end of .bss; negative when the
 * stack overwrote the firmware's variables. */
static int stack_margin(const bench *b)
{
    return (int)b->stack_low + 1 - (int)b->statics_end;
}

static void print_parts(const bench *b, FILE *out)
{
    for (int c = 0; c < 2; c++) {
        const bench_hx711 *hx = &b->parts.hx[c];
        fprintf(out, "hx711 %d: %" PRIu64 " conversions, %" PRIu64 " read, %" PRIu64
                " overwritten unread, %" PRIu64 " wrong gain, %" PRIu64 " power-downs\n",
                c, hx->conversions, hx->reads, hx->overwritten, hx->wrong_gain,
                hx->power_downs);
    }
    const rm_decoder_stats *st = &b->decoder.stats;
    fprintf(out, "frames: %" PRIu64 " good, %" PRIu64 " CRC errors, %" PRIu64
            " malformed, %" PRIu64 " lost; %" PRIu64 " samples\n",
            st->frames_ok, st->crc_errors, st->malformed, st->frames_lost,
            b->samples_seen);
    fprintf(out, "encoder: %" PRId64 " counts emitted; AVR: %.1f s emulated, "
            "first sample at %.3f s, %.1f %% asleep, %" PRIu64 " boots, %" PRIu64
            " by the watchdog\n",
            b->parts.enc.position, emulated_s(b), b->first_sample_s,
            100.0 * (double)b->sleep_cycles / (double)b->avr->cycle, b->boots,
            b->watchdog_resets);
    fprintf(out, "RAM: .data + .bss %u bytes, deepest stack %u bytes, %d bytes "
            "never touched between them; %" PRIu64 " jumps to address 0\n",
            b->statics_end - b->avr->ioend - 1u, stack_depth(b), stack_margin(b),
            b->jumps_to_zero);
}

static int run_link(bench *b, const char *truth_path)
{
    if (!open_link(b) || !wait_for_host(b))
        return 1;
    b->wall_start_us = wall_us();
    uint64_t drain_end = NEVER;
    for (uint64_t chunk = 1; !stop_requested && b->avr->cycle < drain_end; chunk++) {
        if (!run_chunk(b))
            return 1;
        maybe_reset(b);
        if (chunk % CHUNKS_PER_LOOK == 0)
            pump_pty(b);
        pace(b);
        if (b->model_over && drain_end == NEVER)
            drain_end = b->avr->cycle + avr_usec_to_cycles(b->avr, DRAIN_US);
    }
    deliver_the_rest(b);
    print_parts(b, stderr);
    unlink(b->link);
    if (!truth_path)
        return 0;
    FILE *f = fopen(truth_path, "w");
    rm_error err = {0};
    if (!f || rm_sim_write_truth(b->sim, f, &err) != RM_OK || fclose(f) != 0) {
        fprintf(stderr, "roller_bench: %s: %s\n", truth_path,
                f ? err.message : strerror(errno));
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* --measure: the bench is the host                                         */
/* ------------------------------------------------------------------------ */

/* Load on the cells while measuring: a person of about 70 kg. */
#define MEASURE_COUNTS_LEFT 120000
#define MEASURE_COUNTS_RIGHT 80000
#define MEASURE_BOOT_US 600000u
#define MEASURE_WINDOW_US 4000000u
#define SWEEP_EDGES_US 250000u   /* how long each rate spins the encoder */
#define SWEEP_SETTLE_US 150000u  /* then the counts reach the host */

/* A command frame; any type, so that unknown ones can be sent too. */
static void host_send_arg(bench *b, uint8_t type, uint32_t rate_hz)
{
    uint8_t body[RM_WIRE_HEADER_SIZE + RM_WIRE_SET_RATE_SIZE + RM_WIRE_CRC_SIZE];
    uint8_t wire[RM_WIRE_ENCODED_MAX(sizeof body)];
    rm_wire_frame w;
    rm_wire_begin(&w, body, sizeof body, type, b->host_seq++, 0);
    if (type == RM_WIRE_SET_RATE)
        rm_wire_u32(&w, rate_hz);
    queue_push(&b->from_host, wire, rm_wire_finish(&w, wire, sizeof wire));
}

static bool run_for(bench *b, uint32_t us)
{
    uint64_t end = b->avr->cycle + avr_usec_to_cycles(b->avr, us);
    while (b->avr->cycle < end) {
        if (!run_chunk(b))
            return false;
    }
    return true;
}

/* Cycles the CPU is awake per sample period while streaming, with the
 * encoder turning at edges_per_s. */
static bool measure_load(bench *b, uint32_t edges_per_s)
{
    uint64_t interval = edges_per_s ? b->avr->frequency / edges_per_s : 1;
    int64_t edges = (int64_t)edges_per_s * MEASURE_WINDOW_US / 1000000;
    move_encoder(b, b->parts.enc.position + edges, interval);
    uint64_t cycles0 = b->avr->cycle, sleep0 = b->sleep_cycles;
    uint64_t samples0 = b->samples_seen;
    if (!run_for(b, MEASURE_WINDOW_US))
        return false;
    double busy = (double)(b->avr->cycle - cycles0 - (b->sleep_cycles - sleep0));
    double periods = (double)MEASURE_WINDOW_US / 1e6 * ROLLER_RATE_FAST_HZ;
    double period_cycles = (double)b->avr->frequency / ROLLER_RATE_FAST_HZ;
    printf("cpu at %u samples/s x 2 channels, encoder %6u edges/s: %7.0f of "
           "%.0f cycles per sample period (%.2f %%), %" PRIu64 " samples received\n",
           ROLLER_RATE_FAST_HZ, edges_per_s, busy / periods, period_cycles,
           100.0 * busy / periods / period_cycles, b->samples_seen - samples0);
    return true;
}

/* Spins the encoder at each rate and compares the count the firmware
 * reports with the edges sent. Returns the highest rate counted exactly. */
static uint32_t sweep_encoder(bench *b)
{
    static const uint32_t rates[] = {1000, 2000, 5000, 10000, 20000, 40000, 60000, 80000, 100000,
                                     120000, 140000, 160000, 200000, 250000};
    uint32_t best = 0;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        int64_t edges = (int64_t)rates[i] * SWEEP_EDGES_US / 1000000;
        int64_t target = b->parts.enc.position + (i % 2 ? -edges : edges);
        move_encoder(b, target, b->avr->frequency / rates[i]);
        if (!run_for(b, SWEEP_EDGES_US + SWEEP_SETTLE_US))
            return best;
        bool exact = b->last_encoder == b->parts.enc.position;
        printf("encoder %6u edges/s: sent %+" PRId64 " -> %" PRId64
               ", firmware counts %" PRId32 " (%s)\n",
               rates[i], i % 2 ? -edges : edges, b->parts.enc.position,
               b->last_encoder, exact ? "exact" : "MISSED");
        if (!exact)
            break;
        best = rates[i];
    }
    return best;
}

static int run_measure(bench *b)
{
    b->parts.hx[0].input = MEASURE_COUNTS_LEFT;
    b->parts.hx[1].input = MEASURE_COUNTS_RIGHT;
    if (!run_for(b, MEASURE_BOOT_US))
        return 1;
    host_send_arg(b, RM_CMD_START, 0);
    if (!run_for(b, MEASURE_BOOT_US) || !measure_load(b, 0) ||
        !measure_load(b, 2000))
        return 1;
    /* The sweep ends at a rate the firmware cannot follow, where frames
     * may break off at a watchdog reset: what came before must be clean. */
    rm_decoder_stats before = b->decoder.stats;
    uint32_t best = sweep_encoder(b);
    printf("highest encoder edge rate counted exactly: %u edges/s\n", best);
    print_parts(b, stdout);
    bool clean = before.crc_errors == 0 && before.malformed == 0 &&
                 before.frames_lost == 0;
    return clean && best > 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* --check: the firmware answers as docs/PROTOCOL.md says                   */
/* ------------------------------------------------------------------------ */

static unsigned failures;

static void check(bool ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

/* Clears what was seen, sends a command and runs for us microseconds. */
static bool exchange(bench *b, uint8_t type, uint32_t arg, uint32_t us)
{
    memset(&b->seen, 0, sizeof b->seen);
    if (type)
        host_send_arg(b, type, arg);
    return run_for(b, us);
}

static int16_t ack_of(const bench *b, uint8_t type)
{
    return b->seen.acked[type - RM_CMD_START] ? b->seen.ack[type - RM_CMD_START]
                                              : INT16_MIN;
}

#define REPLY_US 500000u /* the protocol's answer time */
/* RAM left between the deepest stack and the firmware's variables: room
 * for the next feature's locals and a nested interrupt or two. */
#define STACK_MARGIN_MIN 128

static bool check_boot_and_identify(bench *b)
{
    memset(&b->seen, 0, sizeof b->seen);
    if (!run_for(b, REPLY_US))
        return false;
    check(b->seen.resets == 1 && b->seen.first_seq == 0 && b->seen.infos == 1,
          "after power-up: EVENT RESET with seq 0, then INFO");
    if (!exchange(b, RM_CMD_IDENTIFY, 0, REPLY_US))
        return false;
    const rm_device_info *i = &b->seen.info;
    check(b->seen.infos == 1 && !strcmp(i->model, ROLLER_MODEL) &&
              !strcmp(i->serial, eeprom_settings(b).serial) && i->channel_count == 2 &&
              i->encoder_counts_per_turn == b->built.encoder_counts_per_turn &&
              i->sample_rate_hz == ROLLER_RATE_FAST_HZ &&
              i->channels[0].position_mm == 0.0f &&
              i->channels[1].position_mm == b->built.roller_width_mm,
          "IDENTIFY: INFO with model, EEPROM serial, 2 end-cap load cells, cpr, rate");
    return true;
}

/* The share of the CPU's cycles awake while streaming at 80/s: the loop
 * must sleep through the interrupts that bring it no work (the UART's, a
 * byte at a time). simavr's cycles do not depend on the machine. */
#define STREAMING_AWAKE_MAX 0.09

static bool check_streaming(bench *b)
{
    uint64_t cycles0 = b->avr->cycle, sleep0 = b->sleep_cycles;
    if (!exchange(b, RM_CMD_START, 0, 1000000))
        return false;
    double awake = 1.0 - (double)(b->sleep_cycles - sleep0) /
                             (double)(b->avr->cycle - cycles0);
    check(ack_of(b, RM_CMD_START) == 0 && b->seen.status.streaming == 1,
          "START: ACK 0 and STATUS streaming");
    check(b->seen.samples >= 70 && b->seen.samples <= 81,
          "80 samples/s (70-81 in the first second)");
    printf("awake %.1f %% of the first second streaming\n", 100.0 * awake);
    check(awake < STREAMING_AWAKE_MAX, "streaming at 80/s: the CPU awake under 9 % of the time");
    if (!exchange(b, RM_CMD_SET_RATE, 37, REPLY_US))
        return false;
    check(ack_of(b, RM_CMD_SET_RATE) == RM_WIRE_ACK_BAD_ARGUMENT &&
              b->seen.errors == 1 && !strcmp(b->seen.error_text, ROLLER_RATES_TEXT),
          "SET_RATE 37: ERROR naming the rates, ACK -1 (the HX711 has 10 and 80)");
    if (!exchange(b, RM_CMD_SET_RATE, 10, REPLY_US) || !exchange(b, 0, 0, 3000000))
        return false;
    check(b->seen.samples >= 28 && b->seen.samples <= 31 &&
              b->seen.status.sample_rate_hz == 10,
          "SET_RATE 10: 10 samples/s, STATUS says 10");
    if (!exchange(b, RM_CMD_SET_RATE, 80, 1000000))
        return false;
    check(ack_of(b, RM_CMD_SET_RATE) == 0 && b->seen.status.sample_rate_hz == 80,
          "SET_RATE 80: ACK 0, STATUS says 80");
    return true;
}

static bool check_tare_button_overload(bench *b)
{
    if (!exchange(b, RM_CMD_TARE, 0, 2000000))
        return false;
    check(ack_of(b, RM_CMD_TARE) == 0 && b->seen.tare_done == 1 && b->seen.tared == 1,
          "TARE: ACK, EVENT TARE_DONE within 2 s, one sample flagged TARED");
    /* 1.5 sample periods: the two HX711s' clocks differ by 0.25 %. */
    check(b->seen.samples >= 155 &&
              b->seen.longest_interval_us <= 1500000u / ROLLER_RATE_FAST_HZ,
          "samples go on through the tare: 155 or more in 2 s, none missing");
    if (!exchange(b, RM_CMD_IDENTIFY, 0, REPLY_US))
        return false;
    roller_settings stored = eeprom_settings(b);
    check(b->seen.info.channels[0].offset_counts == MEASURE_COUNTS_LEFT &&
              b->seen.info.channels[1].offset_counts == MEASURE_COUNTS_RIGHT &&
              stored.offset_counts[0] == MEASURE_COUNTS_LEFT &&
              stored.offset_counts[1] == MEASURE_COUNTS_RIGHT,
          "the new zero is stored in EEPROM and reported in INFO");
    bench_parts_press(&b->parts, true);
    if (!exchange(b, 0, 0, 300000))
        return false;
    bench_parts_press(&b->parts, false);
    if (!run_for(b, 200000))
        return false;
    check(b->seen.presses == 1 && b->seen.releases == 1 && b->seen.marked >= 20 &&
              b->seen.marked <= 26,
          "a 300 ms press: EVENT BUTTON 1 and 0, about 24 samples marked");
    b->parts.hx[1].input = 1 << 23;
    if (!exchange(b, 0, 0, 200000))
        return false;
    b->parts.hx[1].input = MEASURE_COUNTS_RIGHT;
    check(b->seen.overloads == 1 && b->seen.saturated >= 10,
          "a cell at full scale: EVENT OVERLOAD once, samples SATURATED");
    return true;
}

/* Edges far faster than the handler can take: counts are lost, but the
 * firmware must go on (no nested handlers eating the stack). */
#define BURST_EDGES_PER_S 250000u
#define BURST_US 20000u

static bool check_edge_burst(bench *b)
{
    uint64_t restarts = b->jumps_to_zero + b->watchdog_resets;
    int64_t edges = (int64_t)BURST_EDGES_PER_S * BURST_US / 1000000;
    move_encoder(b, b->parts.enc.position + edges,
                 b->avr->frequency / BURST_EDGES_PER_S);
    if (!exchange(b, 0, 0, 500000))
        return false;
    check(b->jumps_to_zero + b->watchdog_resets == restarts && b->seen.resets == 0 &&
              b->seen.samples >= 35,
          "encoder edges at 250,000/s for 20 ms: no crash, no reset, samples go on");
    return true;
}

/* Runs the AVR until the firmware is halfway through reading the left
 * HX711 (12 of its 25 pulses). */
static bool run_until_mid_read(bench *b)
{
    uint64_t end = b->avr->cycle + avr_usec_to_cycles(b->avr, REPLY_US);
    while (b->parts.hx[0].pulses != 12) {
        int state = avr_run(b->avr);
        if (b->avr->cycle >= end || state == cpu_Done || state == cpu_Crashed)
            return false;
    }
    return true;
}

static bool check_stop_unknown_reset(bench *b)
{
    uint64_t wrong_gain_before = b->parts.hx[0].wrong_gain;
    if (!exchange(b, RM_CMD_STOP, 0, 1000000))
        return false;
    check(ack_of(b, RM_CMD_STOP) == 0 && b->seen.status.streaming == 0 &&
              !b->seen.samples_after_stop_ack,
          "STOP: ACK, STATUS not streaming, no SAMPLES after the ACK");
    if (!exchange(b, 0x99, 0, REPLY_US))
        return false;
    check(b->seen.errors == 1, "an unknown frame type: ERROR");
    if (!run_until_mid_read(b))
        return false;
    avr_reset(b->avr);
    if (!exchange(b, 0, 0, REPLY_US))
        return false;
    check(b->seen.resets == 1 && b->seen.first_seq == 0 && b->seen.infos == 1 &&
              b->seen.samples == 0,
          "a reset: EVENT RESET (seq 0) and INFO again, waiting for START");
    if (!exchange(b, RM_CMD_START, 0, 1000000))
        return false;
    check(b->seen.samples >= 70 && b->parts.hx[0].wrong_gain == wrong_gain_before,
          "a reset in the middle of an HX711 read: after START, 80 samples/s again");
    return exchange(b, RM_CMD_STOP, 0, REPLY_US);
}

/* A board flashed again through its bootloader keeps its EEPROM: settings
 * that another build stored (another serial, rate 10) give way to this
 * build's. */
static bool check_other_builds_eeprom(bench *b)
{
    roller_settings other = eeprom_settings(b);
    snprintf(other.serial, sizeof other.serial, "%s", "RMDIY-OTHER");
    other.rate_hz = ROLLER_RATE_SLOW_HZ;
    avr_eeprom_desc_t desc = {.ee = (uint8_t *)&other, .offset = 0, .size = sizeof other};
    avr_ioctl(b->avr, AVR_IOCTL_EEPROM_SET, &desc);
    avr_reset(b->avr);
    if (!exchange(b, 0, 0, REPLY_US))
        return false;
    check(b->seen.infos == 1 && !strcmp(b->seen.info.serial, b->built.serial) &&
              b->seen.info.sample_rate_hz == ROLLER_RATE_FAST_HZ,
          "EEPROM stored by another build (serial RMDIY-OTHER): this build's serial and rate");
    return true;
}

static int run_check(bench *b)
{
    b->parts.hx[0].input = MEASURE_COUNTS_LEFT;
    b->parts.hx[1].input = MEASURE_COUNTS_RIGHT;
    if (!check_boot_and_identify(b) || !check_streaming(b) ||
        !check_tare_button_overload(b) || !check_edge_burst(b) ||
        !check_stop_unknown_reset(b) || !check_other_builds_eeprom(b))
        return 1;
    const rm_decoder_stats *st = &b->decoder.stats;
    check(st->crc_errors == 0 && st->malformed == 0 && st->frames_lost == 0,
          "every frame decoded, none lost");
    check(b->jumps_to_zero == 0 && b->watchdog_resets == 0,
          "no crash and no watchdog reset");
    check(stack_margin(b) >= STACK_MARGIN_MIN,
          "the stack stayed 128 bytes or more clear of .data and .bss");
    print_parts(b, stdout);
    return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: roller_bench --link PATH [options] FIRMWARE.elf\n"
        "       roller_bench --measure | --check FIRMWARE.elf\n"
        "Runs the roller firmware in simavr with emulated HX711s, encoder and\n"
        "button driven by the virtual roller (rm_sim).\n"
        "  --link PATH      bridge the AVR's UART to a pty linked at PATH; the\n"
        "                   session starts when the host first writes\n"
        "  --sim OPTIONS    virtual roller options (docs/SIMULATOR.md), e.g.\n"
        "                   seed=3,duration=60,spots=2; the roller's geometry\n"
        "                   and sensors are the firmware's\n"
        "  --truth FILE     write the ground truth as JSON at the end\n"
        "  --speed X        with --link: emulated seconds per real second\n"
        "                   (default 1; 0 = as fast as it goes)\n"
        "  --reset-at S     power-on reset of the AVR at S s (the model goes on)\n"
        "  --measure        be the host and print the firmware's figures\n"
        "  --check          be the host and check every command and event\n"
        "example: roller_bench --link /tmp/roller --sim seed=3,duration=60 \\\n"
        "             --truth truth.json build/firmware/roller.elf &\n"
        "         rollmapd --source tty:/tmp/roller ...\n");
}

/* The roller the firmware was built for (its -DROLLER_... figures, the
 * serial in its EEPROM image): its boot INFO, from a scratch AVR run for
 * a moment before the bench's own. The model moves the parts with that
 * geometry, so a maker's build runs as it is. */
#define PROBE_US 100000u

static bool probe_firmware(bench *b, const char *elf)
{
    static bench probe;
    probe = (bench){.reset_at_s = -1, .master = -1, .slave = -1, .first_sample_s = -1};
    rm_decoder_init(&probe.decoder);
    bool ok = load_avr(&probe, elf) && run_for(&probe, PROBE_US) && probe.seen.infos > 0;
    if (ok)
        b->built = probe.seen.info;
    else
        fprintf(stderr, "roller_bench: %s: the firmware sent no INFO at boot\n", elf);
    if (probe.avr)
        avr_terminate(probe.avr);
    return ok;
}

static bool make_model(bench *b, const char *options)
{
    rm_sim_config c;
    rm_sim_config_default(&c);
    rm_error err = {0};
    if (options && rm_sim_config_parse(&c, options, &err) != RM_OK) {
        fprintf(stderr, "roller_bench: --sim: %s\n", err.message);
        return false;
    }
    c.device_kind = RM_DEVICE_ROLLER;
    c.load_cells = ROLLER_CHANNELS;
    c.pressure_cells = 0;
    c.sample_rate_hz = MODEL_RATE_HZ;
    c.encoder_counts_per_turn = b->built.encoder_counts_per_turn;
    c.roller_diameter_mm = b->built.roller_diameter_mm;
    c.roller_width_mm = b->built.roller_width_mm;
    c.distal_direction = b->built.distal_direction;
    if (rm_sim_new(&b->sim, &c, &err) != RM_OK) {
        fprintf(stderr, "roller_bench: --sim: %s\n", err.message);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"link", required_argument, NULL, 'l'},
        {"sim", required_argument, NULL, 's'},
        {"truth", required_argument, NULL, 't'},
        {"speed", required_argument, NULL, 'x'},
        {"reset-at", required_argument, NULL, 'r'},
        {"measure", no_argument, NULL, 'm'},
        {"check", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static bench b = {.speed = 1.0, .reset_at_s = -1, .master = -1, .slave = -1,
                      .first_sample_s = -1};
    const char *sim_options = NULL, *truth = NULL;
    bool measure = false, conformance = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'l': snprintf(b.link, sizeof b.link, "%s", optarg); break;
        case 's': sim_options = optarg; break;
        case 't': truth = optarg; break;
        case 'x': b.speed = atof(optarg); break;
        case 'r': b.reset_at_s = atof(optarg); break;
        case 'm': measure = true; break;
        case 'c': conformance = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || measure + conformance + (b.link[0] != '\0') != 1 ||
        !(b.speed >= 0)) {
        usage(stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!b.link[0])
        b.speed = 0; /* its own host: no one to keep pace with */
    if (!probe_firmware(&b, argv[optind]) || (b.link[0] && !make_model(&b, sim_options)))
        return 1;
    rm_decoder_init(&b.decoder);
    if (!load_avr(&b, argv[optind]))
        return 1;
    int rc = measure       ? run_measure(&b)
             : conformance ? run_check(&b)
                           : run_link(&b, truth);
    rm_sim_free(b.sim);
    return rc;
}
