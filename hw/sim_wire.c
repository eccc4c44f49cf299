/*
 * The virtual roller's firmware: it puts the physical model on the wire as
 * real protocol frames (docs/PROTOCOL.md) and answers host commands the way
 * the device does, with the configured wire faults: dropped frames, flipped
 * bits, unplug/replug and a reset. docs/SIMULATOR.md describes it.
 */
#include "sim_internal.h"

#include <math.h>
#include <string.h>

/* A STATUS frame goes out this often while streaming (us). */
#define STATUS_INTERVAL_US 1000000u
/* ERROR codes of the firmware. */
#define ERROR_UNEXPECTED_FRAME 1
#define ERROR_RATE 2
/* ACK results. */
#define ACK_OK 0
#define ACK_BAD_ARGUMENT (-1)

/* ------------------------------------------------------------------------ */
/* The output queue and the faults on it                                    */
/* ------------------------------------------------------------------------ */

/* Bits until the next flipped one: geometric with the bit error rate. */
static double bits_until_error(sim_rng *r, double ber)
{
    if (ber <= 0)
        return INFINITY;
    double u = 1.0 - sim_rng_uniform(r); /* (0, 1] */
    return floor(log(u) / log1p(-ber));
}

/* Flip the bits that the error process puts in bytes[0..n). */
static uint64_t corrupt(rm_sim *sim, uint8_t *bytes, size_t n)
{
    sim_wire *w = &sim->wire;
    double bits = (double)n * 8;
    uint64_t flipped = 0;
    while (w->next_error_bit < bits) {
        size_t bit = (size_t)w->next_error_bit;
        bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        flipped++;
        w->next_error_bit += 1 + bits_until_error(&sim->wire_rng,
                                                  sim->cfg.bit_error_rate);
    }
    w->next_error_bit -= bits;
    return flipped;
}

static uint64_t wire_time_us(const rm_sim *sim, uint64_t model_us)
{
    return model_us - sim->wire.boot_us;
}

/* Number the frame, encode it onto the queue and let the wire spoil it. */
static void send_frame(rm_sim *sim, rm_frame *f)
{
    sim_wire *w = &sim->wire;
    f->seq = w->seq++;
    uint8_t *at = w->queue + w->queued;
    size_t n = rm_frame_encode(f, at, sizeof w->queue - w->queued);
    if (n == 0) {
        /* the host has not taken what was queued: the firmware drops it */
        if (f->type == RM_FRAME_SAMPLES)
            w->device_dropped += f->u.samples.count;
        return;
    }
    uint64_t flipped = corrupt(sim, at, n);
    w->queued += n;
    w->stats.frames_sent++;
    w->stats.bits_flipped += flipped;
    w->stats.frames_corrupted += flipped > 0;
}

static void frame_now(const rm_sim *sim, rm_frame *f, rm_frame_type type)
{
    memset(f, 0, sizeof *f);
    f->type = (uint8_t)type;
    f->t_us = wire_time_us(sim, rm_sim_time_us(sim));
}

static void send_info(rm_sim *sim)
{
    rm_frame f;
    frame_now(sim, &f, RM_FRAME_INFO);
    f.u.info = sim->info;
    send_frame(sim, &f);
}

static void send_event(rm_sim *sim, rm_device_event kind, int32_t value,
                       uint64_t wire_us)
{
    rm_frame f;
    frame_now(sim, &f, RM_FRAME_EVENT);
    f.t_us = wire_us;
    f.u.event.kind = (uint8_t)kind;
    f.u.event.value = value;
    send_frame(sim, &f);
}

static void send_status(rm_sim *sim)
{
    rm_frame f;
    frame_now(sim, &f, RM_FRAME_STATUS);
    f.u.status.streaming = sim->wire.streaming;
    f.u.status.sample_rate_hz = sim->rate_hz;
    f.u.status.dropped = (uint32_t)sim->wire.device_dropped;
    send_frame(sim, &f);
}

static void send_ack(rm_sim *sim, uint8_t acked_type, int16_t result)
{
    rm_frame f;
    frame_now(sim, &f, RM_FRAME_ACK);
    f.u.ack.acked_type = acked_type;
    f.u.ack.result = result;
    send_frame(sim, &f);
}

static void send_error(rm_sim *sim, uint16_t code, const char *text)
{
    rm_frame f;
    frame_now(sim, &f, RM_FRAME_ERROR);
    f.u.status.error_code = code;
    snprintf(f.u.status.text, sizeof f.u.status.text, "%s", text);
    send_frame(sim, &f);
}

/* ------------------------------------------------------------------------ */
/* Power-up, unplug and reset                                               */
/* ------------------------------------------------------------------------ */

/* A (re)boot: clock, sequence and streaming start over; the firmware
 * announces itself with RESET and INFO. */
static void boot(rm_sim *sim)
{
    sim_wire *w = &sim->wire;
    w->plugged = true;
    w->seq = 0;
    w->boot_us = rm_sim_time_us(sim);
    w->streaming = sim->cfg.autostart;
    w->tare_pending = false;
    w->next_status_us = w->boot_us;
    w->stats.boots++;
    rm_decoder_init(&w->commands); /* host bytes in flight are lost */
    send_event(sim, RM_DEV_EVENT_RESET, 0, 0);
    send_info(sim);
}

void sim_wire_init(rm_sim *sim)
{
    sim->wire.next_error_bit = bits_until_error(&sim->wire_rng,
                                                sim->cfg.bit_error_rate);
    boot(sim);
}

static void unplug(rm_sim *sim)
{
    sim->wire.plugged = false;
    sim->wire.streaming = false;
    sim->wire.queued = sim->wire.taken = 0; /* unsent bytes die with it */
}

/* Unplug windows and the reset, at the model's current time. */
static void act_out_faults(rm_sim *sim)
{
    const rm_sim_config *c = &sim->cfg;
    sim_wire *w = &sim->wire;
    double t = sim->t_s;
    if (w->unplug_index < c->unplug_count) {
        double at = c->unplug_at_s[w->unplug_index];
        if (w->plugged && t >= at)
            unplug(sim);
        if (!w->plugged && t >= at + c->unplug_for_s) {
            w->unplug_index++;
            boot(sim);
        }
    }
    if (c->reset_at_s >= 0 && !w->reset_done && t >= c->reset_at_s &&
        w->plugged) {
        w->reset_done = true;
        boot(sim);
    }
}

bool rm_sim_unplugged(const rm_sim *sim)
{
    return !sim->wire.plugged;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static void set_rate(rm_sim *sim, uint32_t rate_hz)
{
    if (rate_hz < SIM_RATE_MIN_HZ || rate_hz > SIM_RATE_MAX_HZ) {
        char text[64];
        snprintf(text, sizeof text, "rates: %d to %d a second",
                 SIM_RATE_MIN_HZ, SIM_RATE_MAX_HZ);
        /* Before the ACK: the host shows it as the reason (PROTOCOL.md). */
        send_error(sim, ERROR_RATE, text);
        send_ack(sim, RM_CMD_SET_RATE, ACK_BAD_ARGUMENT);
        return;
    }
    sim_set_rate(sim, rate_hz);
    send_ack(sim, RM_CMD_SET_RATE, ACK_OK);
    send_status(sim);
}

static void obey(rm_sim *sim, const rm_frame *cmd)
{
    sim_wire *w = &sim->wire;
    w->stats.commands++;
    switch (cmd->type) {
    case RM_CMD_IDENTIFY:
        send_info(sim);
        return;
    case RM_CMD_START:
    case RM_CMD_STOP:
        w->streaming = cmd->type == RM_CMD_START;
        send_ack(sim, cmd->type, ACK_OK);
        send_status(sim);
        return;
    case RM_CMD_TARE:
        w->tare_pending = true;
        send_ack(sim, cmd->type, ACK_OK);
        send_event(sim, RM_DEV_EVENT_TARE_DONE, 0,
                   wire_time_us(sim, rm_sim_time_us(sim)));
        return;
    case RM_CMD_SET_RATE:
        set_rate(sim, cmd->u.rate_hz);
        return;
    }
    char text[64];
    snprintf(text, sizeof text, "unexpected frame type 0x%02x", cmd->type);
    send_error(sim, ERROR_UNEXPECTED_FRAME, text);
}

void rm_sim_receive(rm_sim *sim, const uint8_t *data, size_t len)
{
    if (!sim->wire.plugged)
        return;
    while (len > 0) {
        rm_frame cmd;
        bool have;
        size_t used = rm_decoder_push(&sim->wire.commands, data, len, &cmd,
                                      &have);
        if (have)
            obey(sim, &cmd);
        data += used;
        len -= used;
    }
}

/* ------------------------------------------------------------------------ */
/* One batch period                                                         */
/* ------------------------------------------------------------------------ */

static void send_samples(rm_sim *sim, rm_frame *f)
{
    sim_wire *w = &sim->wire;
    if (sim_rng_uniform(&sim->wire_rng) < sim->cfg.drop_rate) {
        w->seq++; /* lost on the way: the host sees a sequence gap */
        w->stats.frames_dropped++;
        return;
    }
    send_frame(sim, f);
}

/* Button presses in the batch go out as EVENT frames after it. */
static void send_marks(rm_sim *sim, const rm_frame *f)
{
    for (unsigned i = 0; i < f->u.samples.count; i++)
        if (f->u.samples.samples[i].flags & RM_SAMPLE_MARK)
            send_event(sim, RM_DEV_EVENT_BUTTON, 1,
                       f->u.samples.samples[i].t_us);
}

static void run_period(rm_sim *sim)
{
    sim_wire *w = &sim->wire;
    act_out_faults(sim);
    rm_frame f;
    frame_now(sim, &f, RM_FRAME_SAMPLES);
    f.u.samples.channel_count = sim->info.channel_count;
    rm_sample *s = f.u.samples.samples;
    unsigned n = 0;
    while (n < sim->cfg.batch && rm_sim_next_sample(sim, &s[n])) {
        s[n].t_us = wire_time_us(sim, s[n].t_us);
        n++;
    }
    if (n == 0 || !w->streaming)
        return; /* the person rolls on; nobody listens */
    if (w->tare_pending) {
        s[0].flags |= RM_SAMPLE_TARED;
        w->tare_pending = false;
    }
    f.u.samples.count = (uint8_t)n;
    f.t_us = s[0].t_us;
    send_samples(sim, &f);
    send_marks(sim, &f);
    if (rm_sim_time_us(sim) >= w->next_status_us) {
        send_status(sim);
        w->next_status_us = rm_sim_time_us(sim) + STATUS_INTERVAL_US;
    }
}

size_t rm_sim_next_bytes(rm_sim *sim, uint8_t *out, size_t cap)
{
    sim_wire *w = &sim->wire;
    if (w->taken == w->queued) {
        w->taken = w->queued = 0;
        if (sim->t_s < sim->cfg.duration_s)
            run_period(sim);
    }
    size_t n = w->queued - w->taken;
    if (n > cap)
        n = cap;
    memcpy(out, w->queue + w->taken, n);
    w->taken += n;
    return n;
}

bool rm_sim_finished(const rm_sim *sim)
{
    return sim->t_s >= sim->cfg.duration_s &&
           sim->wire.taken == sim->wire.queued;
}

const rm_sim_wire_stats *rm_sim_wire_stats_of(const rm_sim *sim)
{
    return &sim->wire.stats;
}
