/*
 * Sources: open the transport of a kind's row (source_kinds.c), bring the
 * device up over the link (identify.c), decode its bytes with one row of
 * the protocol table (binary frames or a text profile), pace replays, turn
 * sequence gaps and unplugs into gap items.
 */
#include "source_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rm_source {
    rm_source_spec spec;
    const rm_source_kind_row *row;
    const rm_source_protocol *protocol;
    rm_link link;                /**< transport, rx buffer, frame decoder */
    bool info_known;             /**< from identify or the profile */
    rm_profile profile;          /**< text mode */
    rm_text_decoder text;
    rm_decoder_stats stats;      /**< decoder figures, text mode mapped in,
                                      over every connection */
    rm_decoder_stats earlier;    /**< the same up to the last reconnect */
    rm_device_info info;
    bool info_pending;           /**< INFO not yet delivered as an item */
    uint32_t rate_hz;            /**< last SET_RATE, re-sent on reopen */
    rm_frame frame;              /**< decoded, not yet delivered */
    bool frame_pending;
    rm_gap gap;                  /**< a gap to deliver before the frame */
    bool gap_pending;
    uint64_t frames_lost_seen;   /**< decoder frames_lost already reported */
    uint64_t last_sample_us;
    bool have_last_sample;
    uint8_t last_batch;          /**< samples per frame, for gap estimates */
    bool unplugged;              /**< lost; the next sample closes a gap */
    uint64_t time_offset_us;     /**< added to device times: keeps them
                                      rising across resets and replugs */
    bool rebase_pending;         /**< the device clock may have restarted */
    hw_clock_hold hold;          /**< live: a restarted clock's first frames */
};

/* ------------------------------------------------------------------------ */
/* Opening: resolve, connect the transport, identify                        */
/* ------------------------------------------------------------------------ */

static void add_stats(rm_decoder_stats *sum, const rm_decoder_stats *a,
                      const rm_decoder_stats *b)
{
    sum->bytes = a->bytes + b->bytes;
    sum->frames_ok = a->frames_ok + b->frames_ok;
    sum->crc_errors = a->crc_errors + b->crc_errors;
    sum->malformed = a->malformed + b->malformed;
    sum->oversized = a->oversized + b->oversized;
    sum->seq_gaps = a->seq_gaps + b->seq_gaps;
    sum->frames_lost = a->frames_lost + b->frames_lost;
    sum->bytes_discarded = a->bytes_discarded + b->bytes_discarded;
}

/* ---- The binary protocol (docs/PROTOCOL.md) --------------------------- */

static bool binary_push(rm_source *src)
{
    return hw_link_decode(&src->link, &src->frame);
}

static void binary_stats(rm_source *src)
{
    add_stats(&src->stats, &src->earlier, &src->link.decoder.stats);
}

/* ---- Text lines through a device profile (docs/DEVICES.md) ----------- */

static rm_status text_open(rm_source *src, rm_error *err)
{
    rm_status st = rm_profile_load(&src->profile, src->spec.profile_path, err);
    if (st != RM_OK)
        return st;
    if (src->profile.binary)
        return rm_error_set(err, RM_ERR_ARG, "%s: the profile describes a "
                            "binary-protocol device, which describes itself when "
                            "connected: use the source without ?profile=",
                            src->spec.profile_path);
    if (src->profile.column_count == 0)
        return rm_error_set(err, RM_ERR_ARG, "%s: the profile has no [text] "
                            "section: it describes CSV files for rollmap import, "
                            "not a device's lines", src->spec.profile_path);
    src->info = src->profile.info;
    src->info_known = true;
    if (!src->spec.baud && src->profile.baud)
        src->spec.baud = src->profile.baud;
    return RM_OK;
}

static void text_init(rm_source *src)
{
    rm_text_decoder_init(&src->text, &src->profile);
}

/** Decode one line into a one-sample frame. */
static bool text_push(rm_source *src)
{
    bool have = false;
    rm_link *l = &src->link;
    rm_frame *f = &src->frame;
    while (!have && l->rx_pos < l->rx_len)
        l->rx_pos += rm_text_decoder_push(&src->text, l->rx + l->rx_pos,
                                          l->rx_len - l->rx_pos,
                                          &f->u.samples.samples[0], &have);
    if (have) {
        f->type = RM_FRAME_SAMPLES;
        f->t_us = f->u.samples.samples[0].t_us;
        f->u.samples.count = 1;
        f->u.samples.channel_count = src->info.channel_count;
    }
    return have;
}

static void text_stats(rm_source *src)
{
    const rm_text_stats *ts = &src->text.stats;
    src->stats.frames_ok = src->earlier.frames_ok + ts->lines_ok;
    src->stats.malformed = src->earlier.malformed + ts->lines_bad;
    src->stats.oversized = src->earlier.oversized + ts->lines_too_long;
}

static const rm_source_protocol binary_protocol = {
    .name = "binary", .commands = true, .push = binary_push,
    .stats = binary_stats,
};

static const rm_source_protocol text_protocol = {
    .name = "text-mode", .commands = false, .open = text_open,
    .init = text_init, .push = text_push, .stats = text_stats,
};

const rm_source_protocol *hw_source_protocol_of(const rm_source_spec *spec)
{
    return spec->profile_path[0] ? &text_protocol : &binary_protocol;
}

/* ---- Connecting ------------------------------------------------------- */

static bool takes_commands(const rm_source *src)
{
    return src->link.ops->handshake && src->protocol->commands;
}

/** SET_RATE, then identify again: the INFO now carries the new rate. */
static rm_status change_rate(rm_source *src, uint32_t rate_hz, rm_error *err)
{
    rm_status st = hw_link_set_rate(&src->link, rate_hz, err);
    if (st == RM_OK)
        st = hw_link_identify(&src->link, &src->info, err);
    return st;
}

/** Identify, set the rate asked for (unless the device has it already)
 *  and START streaming. */
static rm_status start_device(rm_source *src, rm_error *err)
{
    rm_status st = hw_link_identify(&src->link, &src->info, err);
    if (st == RM_OK) {
        src->info_known = true;
        if (src->rate_hz && src->rate_hz != src->info.sample_rate_hz)
            st = change_rate(src, src->rate_hz, err);
    }
    if (st == RM_OK)
        st = hw_link_send(&src->link, RM_CMD_START, 0, err);
    return st;
}

/** The spec the transport opens: usb: and auto become a serial path. */
static rm_status resolve_spec(const rm_source *src, rm_source_spec *resolved,
                              rm_error *err)
{
    *resolved = src->spec;
    if (!src->row->resolve)
        return RM_OK;
    return src->row->resolve(&src->spec, resolved->path,
                             sizeof resolved->path, err);
}

static void close_transport(rm_source *src)
{
    if (src->link.io)
        src->link.ops->close(src->link.io);
    src->link.io = NULL;
}

static rm_status open_transport(rm_source *src, rm_error *err)
{
    rm_link *l = &src->link;
    if (l->io && l->ops->resume)
        return l->ops->resume(l->io, err);
    close_transport(src);
    rm_source_spec resolved;
    rm_status st = resolve_spec(src, &resolved, err);
    if (st != RM_OK)
        return st;
    if (resolved.path[0])
        snprintf(l->where, sizeof l->where, "%s", resolved.path);
    else
        rm_source_format(&src->spec, l->where, sizeof l->where);
    return l->ops->open(&l->io, &resolved, err);
}

/** Open the transport and bring the device up (identify + START). */
static rm_status connect(rm_source *src, rm_error *err)
{
    rm_status st = open_transport(src, err);
    if (st != RM_OK)
        return st;
    /* Half a frame or line from before a reconnect is garbage now. */
    hw_link_reset(&src->link);
    src->earlier = src->stats;
    if (src->protocol->init)
        src->protocol->init(src);
    if (takes_commands(src))
        st = start_device(src, err);
    src->protocol->stats(src);
    if (st != RM_OK && !src->link.ops->resume)
        close_transport(src);
    if (st != RM_OK)
        return st;
    /* Replays and pipes carry their INFO frame in the stream itself. */
    src->info_pending = src->info_known;
    return RM_OK;
}

rm_status rm_source_open(rm_source **out, const rm_source_spec *spec,
                         rm_error *err)
{
    *out = NULL;
    rm_source *src = calloc(1, sizeof *src);
    if (!src)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory opening a source");
    src->spec = *spec;
    src->rate_hz = spec->rate_hz;
    src->row = hw_source_kind_of(spec->kind);
    src->protocol = hw_source_protocol_of(spec);
    rm_status st = src->row ? RM_OK
                            : rm_error_set(err, RM_ERR_ARG,
                                           "unknown source kind %u",
                                           spec->kind);
    if (st == RM_OK) {
        src->link.ops = src->row->ops;
        st = src->protocol->open ? src->protocol->open(src, err) : RM_OK;
    }
    if (st == RM_OK)
        st = connect(src, err);
    if (st != RM_OK) {
        close_transport(src);
        free(src);
        return st;
    }
    *out = src;
    return RM_OK;
}

rm_status rm_source_reopen(rm_source *src, rm_error *err)
{
    rm_status st = connect(src, err);
    if (st == RM_OK) {
        src->unplugged = src->have_last_sample;
        src->rebase_pending = true;
    }
    return st;
}

void rm_source_close(rm_source *src)
{
    if (!src)
        return;
    close_transport(src);
    free(src);
}

/* ------------------------------------------------------------------------ */
/* Reading items                                                            */
/* ------------------------------------------------------------------------ */

static void set_gap(rm_source *src, uint64_t end_us, uint64_t lost,
                    rm_gap_reason reason)
{
    src->gap.start_us = src->last_sample_us;
    src->gap.end_us = end_us > src->last_sample_us ? end_us
                                                   : src->last_sample_us;
    src->gap.lost_samples = lost;
    src->gap.reason = (uint8_t)reason;
    src->gap_pending = true;
}

/** Before a batch of samples: was anything lost since the last one? */
static void check_gap(rm_source *src, uint64_t first_us)
{
    uint64_t lost_frames = src->stats.frames_lost - src->frames_lost_seen;
    src->frames_lost_seen = src->stats.frames_lost;
    if (!src->have_last_sample)
        return;
    if (src->unplugged)
        set_gap(src, first_us, 0, RM_GAP_UNPLUGGED);
    else if (lost_frames)
        set_gap(src, first_us, lost_frames * src->last_batch,
                RM_GAP_LOST_FRAMES);
    src->unplugged = false;
}

static void note_samples(rm_source *src, const rm_sample *s, size_t count,
                         uint64_t arrival_us)
{
    if (count == 0)
        return;
    check_gap(src, s[0].t_us);
    src->last_sample_us = s[count - 1].t_us;
    src->have_last_sample = true;
    src->last_batch = (uint8_t)count;
    hw_clock_note(&src->hold, arrival_us, src->last_sample_us);
}

static void event_from_device(const rm_frame *f, rm_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->t_us = f->t_us;
    ev->value = f->u.event.value;
    switch ((rm_device_event)f->u.event.kind) {
    case RM_DEV_EVENT_BUTTON:
        ev->kind = RM_EVENT_BUTTON;
        break;
    case RM_DEV_EVENT_TARE_DONE:
        ev->kind = RM_EVENT_TARE;
        break;
    case RM_DEV_EVENT_OVERLOAD:
        ev->kind = RM_EVENT_OVERLOAD;
        break;
    default:
        ev->kind = RM_EVENT_NOTE;
        snprintf(ev->text, sizeof ev->text, "device event %u",
                 f->u.event.kind);
        break;
    }
}

/** Whether two INFOs describe the same device: compared as encoded, so
 *  that only what is on the wire counts. */
static bool same_device(const rm_device_info *a, const rm_device_info *b)
{
    rm_frame fa, fb;
    memset(&fa, 0, sizeof fa);
    memset(&fb, 0, sizeof fb);
    fa.type = fb.type = RM_FRAME_INFO;
    fa.u.info = *a;
    fb.u.info = *b;
    uint8_t wa[RM_FRAME_MAX_WIRE], wb[RM_FRAME_MAX_WIRE];
    size_t na = rm_frame_encode(&fa, wa, sizeof wa);
    size_t nb = rm_frame_encode(&fb, wb, sizeof wb);
    return na && na == nb && !memcmp(wa, wb, na);
}

/** Turn the pending frame into an item; false for frames that are not one
 *  (ACK). A gap found before samples is delivered first. */
static bool frame_to_item(rm_source *src, rm_source_output *out)
{
    const rm_frame *f = &src->frame;
    switch ((rm_frame_type)f->type) {
    case RM_FRAME_INFO:
        if (same_device(&src->info, &f->u.info))
            return false; /* the answer to identify after the power-up INFO */
        src->info = f->u.info;
        out->item = RM_ITEM_INFO;
        out->info = src->info;
        return true;
    case RM_FRAME_SAMPLES:
        out->item = RM_ITEM_SAMPLES;
        out->count = f->u.samples.count;
        memcpy(out->samples, f->u.samples.samples,
               out->count * sizeof out->samples[0]);
        return true;
    case RM_FRAME_EVENT:
        if (f->u.event.kind == RM_DEV_EVENT_RESET) {
            if (!src->have_last_sample)
                return false; /* the power-up of a stream: nothing lost */
            out->item = RM_ITEM_GAP;
            out->gap = (rm_gap){src->last_sample_us, src->last_sample_us, 0,
                                RM_GAP_DEVICE_RESET};
            return true;
        }
        out->item = RM_ITEM_EVENT;
        event_from_device(f, &out->event);
        return true;
    case RM_FRAME_STATUS:
    case RM_FRAME_ERROR:
        out->item = RM_ITEM_STATUS;
        out->status = f->u.status;
        return true;
    default:
        return false;
    }
}

static bool is_reset(const rm_frame *f)
{
    return f->type == RM_FRAME_EVENT && f->u.event.kind == RM_DEV_EVENT_RESET;
}

/** A device that reset forgot its rate and stopped: tell it again. */
static void resend_settings(rm_source *src)
{
    if (!takes_commands(src))
        return;
    if (src->rate_hz)
        hw_link_send(&src->link, RM_CMD_SET_RATE, src->rate_hz, NULL);
    hw_link_send(&src->link, RM_CMD_START, 0, NULL);
}

static uint64_t frame_time(const rm_frame *f)
{
    return hw_frame_has_samples(f) ? f->u.samples.samples[0].t_us : f->t_us;
}

/** Deliver the pending gap or frame if its time has come. */
static rm_status deliver_pending(rm_source *src, rm_source_output *out)
{
    uint64_t wait_us;
    const rm_source_ops *ops = src->link.ops;
    if (ops->due && !src->spec.fast &&
        !ops->due(src->link.io, frame_time(&src->frame), &wait_us))
        return RM_ERR_AGAIN;
    if (src->gap_pending) {
        src->gap_pending = false;
        out->item = RM_ITEM_GAP;
        out->gap = src->gap;
        return RM_OK;
    }
    src->frame_pending = false;
    return frame_to_item(src, out) ? RM_OK : RM_ERR_AGAIN;
}

/** Time between two of the device's samples, for the one after a restart. */
static uint64_t sample_period_us(const rm_source *src, const rm_frame *f)
{
    const rm_sample *s = f->u.samples.samples;
    if (src->info.sample_rate_hz)
        return 1000000u / src->info.sample_rate_hz;
    if (f->u.samples.count >= 2 && s[1].t_us > s[0].t_us)
        return s[1].t_us - s[0].t_us;
    return 1000u;
}

/** The offset that puts this frame's first sample one sample after the
 *  last one before the restart: the least a restarted clock moves on. */
static int64_t next_sample_offset(const rm_source *src, const rm_frame *f)
{
    return (int64_t)(src->last_sample_us + sample_period_us(src, f)) -
           (int64_t)f->u.samples.samples[0].t_us;
}

/** The pending frame's samples are earlier than the last one delivered:
 *  the device clock restarted (reset, replug). */
static bool clock_went_back(const rm_source *src)
{
    const rm_frame *f = &src->frame;
    return src->rebase_pending && hw_frame_has_samples(f) &&
           src->have_last_sample &&
           frame_time(f) + src->time_offset_us <= src->last_sample_us;
}

static bool is_live(const rm_source *src)
{
    return !rm_source_caps_of(&src->spec).replay;
}

/** Add the clock offset. A replay has no real time between the two clocks
 *  (it runs as fast as the machine goes, or paced by the frames), so there
 *  a restarted clock runs on by one sample and a replay is the same every
 *  time; a live one was anchored while its first frames were held
 *  (source_clock.c). */
static void rebase_time(rm_source *src)
{
    rm_frame *f = &src->frame;
    bool samples = hw_frame_has_samples(f);
    if (clock_went_back(src))
        src->time_offset_us = (uint64_t)next_sample_offset(src, f);
    if (samples)
        src->rebase_pending = false;
    f->t_us += src->time_offset_us;
    for (unsigned i = 0; samples && i < f->u.samples.count; i++)
        f->u.samples.samples[i].t_us += src->time_offset_us;
}

static void accept_frame(rm_source *src, uint64_t arrival_us)
{
    if (is_reset(&src->frame)) {
        src->rebase_pending = true;
        resend_settings(src);
    }
    rebase_time(src);
    src->frame_pending = true;
    if (src->frame.type == RM_FRAME_SAMPLES)
        note_samples(src, src->frame.u.samples.samples,
                     src->frame.u.samples.count, arrival_us);
}

/** The held frames anchor the restarted clock: the least delayed of them
 *  and of the old clock's last frames arrived equally late. Never earlier
 *  than one sample after the last one before. */
static void anchor_held_frames(rm_source *src)
{
    const rm_frame *first = &src->hold.frames[0];
    int64_t least = next_sample_offset(src, first);
    int64_t by_arrival = hw_clock_release_start(&src->hold);
    src->time_offset_us = (uint64_t)(by_arrival > least ? by_arrival : least);
    src->rebase_pending = false;
}

/** Hold the decoded frame while a live restarted clock is anchored; false:
 *  it goes on at once. A reset ends the holding: the frames after it have
 *  another clock again. */
static bool hold_frame(rm_source *src)
{
    hw_clock_hold *h = &src->hold;
    if (!hw_clock_collecting(h) && !(is_live(src) && clock_went_back(src)))
        return false;
    hw_clock_keep(h, &src->frame, src->link.rx_mono_us);
    if (is_reset(&src->frame) || hw_clock_complete(h, rm_monotonic_us()))
        anchor_held_frames(src);
    return true;
}

/** The next held frame, once the holding has anchored the clock. */
static bool release_held(rm_source *src)
{
    uint64_t arrival_us;
    if (!hw_clock_release(&src->hold, &src->frame, &arrival_us))
        return false;
    accept_frame(src, arrival_us);
    return true;
}

/** Nothing more to read now (or the link ended): held frames wait no more
 *  when their time is up or nothing more will come. */
static bool end_holding(rm_source *src, rm_status st, size_t got)
{
    if (!hw_clock_collecting(&src->hold) || (st == RM_OK && got) ||
        (st == RM_OK && !hw_clock_complete(&src->hold, rm_monotonic_us())))
        return false;
    anchor_held_frames(src);
    return true;
}

static rm_status decode_next(rm_source *src, rm_error *err)
{
    for (;;) {
        if (release_held(src))
            return RM_OK;
        size_t got;
        rm_status st = hw_link_fill(&src->link, &got, err);
        if (end_holding(src, st, got))
            continue;
        if (st != RM_OK)
            return st;
        if (got == 0)
            return RM_ERR_AGAIN;
        bool have = src->protocol->push(src);
        src->protocol->stats(src);
        if (have && !hold_frame(src)) {
            accept_frame(src, src->link.rx_mono_us);
            return RM_OK;
        }
    }
}

rm_status rm_source_next(rm_source *src, rm_source_output *out,
                         rm_error *err)
{
    out->item = RM_ITEM_NONE;
    out->count = 0;
    if (src->info_pending) {
        src->info_pending = false;
        out->item = RM_ITEM_INFO;
        out->info = src->info;
        return RM_OK;
    }
    for (;;) {
        if (!src->frame_pending) {
            rm_status st = decode_next(src, err);
            if (st != RM_OK)
                return st;
        }
        rm_status st = deliver_pending(src, out);
        if (st != RM_ERR_AGAIN || src->frame_pending)
            return st;
    }
}

/** Wait for input, but not past the end of the holding. A link that
 *  ends meanwhile ends the holding: the held frames are read first, and
 *  the next read meets the end again. */
static rm_status wait_while_holding(rm_source *src, int timeout_ms,
                                    rm_error *err)
{
    uint64_t now = rm_monotonic_us(), end = hw_clock_deadline(&src->hold);
    if (now >= end)
        return RM_OK;
    int left_ms = (int)((end - now + 999) / 1000);
    bool whole_time = timeout_ms < 0 || timeout_ms >= left_ms;
    rm_status st = src->link.ops->wait(src->link.io,
                                       whole_time ? left_ms : timeout_ms, err);
    if (st == RM_ERR_TIMEOUT)
        return whole_time ? RM_OK : st;
    if (st != RM_OK)
        anchor_held_frames(src);
    return RM_OK;
}

rm_status rm_source_wait(rm_source *src, int timeout_ms, rm_error *err)
{
    uint64_t wait_us;
    const rm_link *l = &src->link;
    if (src->info_pending || l->rx_pos < l->rx_len ||
        hw_clock_releasing(&src->hold))
        return RM_OK;
    if (hw_clock_collecting(&src->hold))
        return wait_while_holding(src, timeout_ms, err);
    if (src->frame_pending) {
        if (!l->ops->due || src->spec.fast ||
            l->ops->due(l->io, frame_time(&src->frame), &wait_us))
            return RM_OK;
        uint64_t limit = timeout_ms < 0 ? UINT64_MAX
                                        : (uint64_t)timeout_ms * 1000u;
        uint64_t sleep_us = wait_us < limit ? wait_us : limit;
        struct timespec ts = {(time_t)(sleep_us / 1000000u),
                              (long)(sleep_us % 1000000u) * 1000};
        nanosleep(&ts, NULL);
        return RM_OK;
    }
    return l->ops->wait(l->io, timeout_ms, err);
}

int rm_source_fd(const rm_source *src)
{
    return src->link.io ? src->link.ops->fd(src->link.io) : -1;
}

const rm_device_info *rm_source_info(const rm_source *src)
{
    return &src->info;
}

rm_source_caps rm_source_capabilities(const rm_source *src)
{
    return rm_source_caps_of(&src->spec);
}

const rm_decoder_stats *rm_source_stats(const rm_source *src)
{
    return &src->stats;
}

rm_status rm_source_command(rm_source *src, rm_frame_type cmd, uint32_t arg,
                            rm_error *err)
{
    if (!src->protocol->commands)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: %s devices take no commands",
                            src->link.where, src->protocol->name);
    if (cmd == RM_CMD_SET_RATE)
        return rm_source_set_rate(src, arg, err);
    return hw_link_send(&src->link, cmd, arg, err);
}

rm_status rm_source_set_rate(rm_source *src, uint32_t rate_hz, rm_error *err)
{
    if (!src->protocol->commands)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: a text-mode device cannot change its rate; "
                            "it sends %u samples a second, as its profile "
                            "says (set the rate on the device itself and "
                            "sample_rate_hz in %s)", src->link.where,
                            src->info.sample_rate_hz, src->spec.profile_path);
    if (!takes_commands(src))
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: a replay has the rate it was recorded at",
                            src->link.where);
    rm_status st = change_rate(src, rate_hz, err);
    if (st != RM_OK)
        return st;
    src->rate_hz = rate_hz;
    src->info_pending = true;
    return RM_OK;
}
