/* The capture pipeline: an I/O thread reads the source into lock-free
 * rings, a consumer thread feeds the recorder and the live-view hooks.
 *
 * The I/O thread never waits for the consumer. Samples go through the
 * sample ring; everything else the source says (device info, events, lost
 * frames, unplug, end of input) goes through a small message ring, each
 * message stamped with the number of samples pushed before it, so the
 * consumer applies it at exactly that point of the stream. From a live
 * device, samples that do not fit in a full ring are dropped, counted and
 * reported to the recorder as one RM_GAP_OVERFLOW gap per overflow
 * episode; a replay (file, pipe, unpaced simulation) waits for room.
 *
 * The recorder is single-threaded; cap->lock serialises the consumer with
 * commands from other threads (the live server's record start/stop). */
#include "daemon_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Messages are rare (a few per second at most with a noisy link); 256
 * rides out the same consumer stall as the sample ring. */
#define MESSAGE_RING 256
/* Samples the consumer takes from the ring at a time. */
#define CONSUME_BATCH 256
/* How often the consumer runs the recorder's timers when idle. */
#define TICK_MS 100
/* Longest single wait of the I/O thread (so stop is prompt). */
#define IO_WAIT_MS 100
/* Smallest ring whatever the rate: a second at 1 kHz. */
#define MIN_RING 1024
#define SECONDS_PER_DAY 86400
/* After a hotplug arrival, open attempts this often for this long: udev
 * may take a moment to create the tty and set its permissions
 * (docs/DEVICES.md). */
#define ARRIVAL_RETRY_MS 50
#define ARRIVAL_WINDOW_US 3000000u
/* A rate change takes at most an identify (3 x 500 ms), SET_RATE (500 ms)
 * and the I/O thread's longest wait; its asker gives up after this. */
#define RATE_ANSWER_MS 5000

typedef enum msg_kind {
    MSG_DEVICE,      /* device connected or re-identified */
    MSG_EVENT,
    MSG_GAP,         /* frames lost on the link, or ring overflow */
    MSG_UNPLUG,
    MSG_END          /* the source ended (EOF) */
} msg_kind;

typedef struct capture_msg {
    uint64_t at_sample;   /* samples pushed before this message */
    uint64_t mono_us;
    uint8_t kind;         /* msg_kind */
    bool connected;       /* MSG_DEVICE: a (re)connection, not a re-read */
    rm_decoder_stats link;/* MSG_DEVICE: the link counts before this
                             connection's first frame */
    union {
        rm_device_info info;
        rm_event event;
        rm_gap gap;
    } u;
} capture_msg;

struct rm_capture {
    rm_capture_options opt;
    rm_ring *samples;
    rm_ring *messages;
    rm_recorder *recorder;
    pthread_mutex_t lock;          /* recorder, device, recorder status */
    pthread_t io_thread, consumer_thread;
    int wake_fd;                   /* eventfd: the I/O thread -> consumer */
    atomic_bool stopping;
    atomic_bool io_done;
    atomic_bool source_ended;
    atomic_bool connected;
    atomic_bool tare_requested;     /* a command thread asked; I/O sends */

    /* a rate change: a command thread asks, the I/O thread answers */
    pthread_mutex_t rate_lock;
    pthread_cond_t rate_answered;
    uint32_t rate_wanted;            /* 0: nothing asked */
    bool rate_busy;                  /* the I/O thread is at it */
    uint64_t rate_answers;           /* counts answers, for the asker */
    rm_status rate_status;
    rm_error rate_error;
    atomic_uint_fast64_t received, consumed, dropped, reconnects, high_water,
        messages_dropped;

    /* I/O thread only */
    rm_source *source;
    rm_source_output out;
    uint64_t pushed;
    bool overflowing;
    rm_gap overflow;
    bool link_gap_pending;           /* waits for room in the message ring */
    rm_gap link_gap;
    rm_decoder_stats closed_stats;   /* totals of sources already closed */
    bool replay;                     /* not a live device: may wait */
    bool lost;                       /* not connected: (re)open due */
    bool stats_banked;               /* the source's counts are already in
                                        closed_stats (it restarts them) */
    bool open_failed_logged;
    rm_hotplug *hotplug;             /**< NULL: back-off only (not USB) */
    bool device_arrived;             /**< set by the hotplug callback */
    bool device_left;
    uint64_t arrival_until_us;       /**< fast retries until then */
    uint64_t arrival_next_us;

    /* guarded by stat_lock; the I/O thread only try-locks it */
    pthread_mutex_t stat_lock;
    rm_decoder_stats stats;
    char source_error[512];

    /* guarded by lock */
    rm_device_info device;
    rm_calibration_status calibration;
    bool device_known;
};

#define capture_log(c, level, ...) \
    rm_daemon_log((c)->opt.recorder.log, (c)->opt.recorder.log_user, level, \
                  __VA_ARGS__)

size_t rm_capture_ring_size(uint32_t rate_hz, double stall_s)
{
    double want = (double)rate_hz * stall_s;
    return want > MIN_RING ? (size_t)want : MIN_RING;
}

/* ---- I/O thread ----------------------------------------------------------- */

static void wake_consumer(rm_capture *c)
{
    uint64_t one = 1;
    /* A full eventfd counter (2^64 - 2 wakes) is the only failure; the
     * consumer also wakes on its own every TICK_MS. */
    if (write(c->wake_fd, &one, sizeof one) < 0)
        return;
}

/* Push one message; false when its ring is full. */
static bool try_post(rm_capture *c, capture_msg *m)
{
    m->at_sample = c->pushed;
    m->mono_us = rm_monotonic_us();
    return daemon_ring_push_items(c->messages, m, 1) == 1;
}

/* Device (re)connections, unplugs and the end of input change what the
 * recorder does and are rare (no samples flow at such moments): for those
 * the I/O thread waits until the consumer has room. */
static void post(rm_capture *c, capture_msg *m)
{
    while (!try_post(c, m)) {
        if (atomic_load(&c->stopping)) {
            atomic_fetch_add(&c->messages_dropped, 1);
            return;
        }
        wake_consumer(c);
        poll(NULL, 0, 1);
    }
}

/* Events may be many on a bad link; with the consumer far behind they
 * are dropped and counted (a button press is also a sample flag). */
static void post_event(rm_capture *c, capture_msg *m)
{
    if (!try_post(c, m))
        atomic_fetch_add(&c->messages_dropped, 1);
}

/* Lost-frame gaps are never dropped: while the message ring is full they
 * merge into one pending gap, sent as soon as there is room. */
static bool flush_link_gap(rm_capture *c)
{
    if (!c->link_gap_pending)
        return true;
    capture_msg m = {.kind = MSG_GAP, .u.gap = c->link_gap};
    c->link_gap_pending = !try_post(c, &m);
    return !c->link_gap_pending;
}

static void post_link_gap(rm_capture *c, const rm_gap *gap)
{
    if (flush_link_gap(c)) {
        c->link_gap = *gap;
        c->link_gap_pending = true;
        flush_link_gap(c);
        return;
    }
    c->link_gap.end_us = gap->end_us;
    c->link_gap.lost_samples += gap->lost_samples;
}

static void note_overflow(rm_capture *c, const rm_sample *lost, size_t n)
{
    if (!c->overflowing) {
        c->overflowing = true;
        c->overflow = (rm_gap){.start_us = lost[0].t_us, .reason = RM_GAP_OVERFLOW};
    }
    c->overflow.end_us = lost[n - 1].t_us;
    c->overflow.lost_samples += n;
}

/* The gap message that accounts for everything dropped so far (it stays
 * pending, and samples keep being counted into it, while the message ring
 * is full). */
static void end_overflow(rm_capture *c)
{
    if (!c->overflowing)
        return;
    capture_msg m = {.kind = MSG_GAP, .u.gap = c->overflow};
    c->overflowing = !try_post(c, &m);
}

/* Stream-level news; gaps in progress are accounted for first. */
static void post_kind(rm_capture *c, msg_kind kind)
{
    end_overflow(c);
    flush_link_gap(c);
    capture_msg m = {.kind = (uint8_t)kind};
    post(c, &m);
}

/* A replay that may wait: until the consumer has made room (or stop). */
static void wait_for_room(rm_capture *c, size_t n)
{
    while (rm_ring_capacity(c->samples) - rm_ring_used(c->samples) < n &&
           !atomic_load(&c->stopping)) {
        wake_consumer(c);
        poll(NULL, 0, 1);
    }
}

/* While overflowing, a batch is pushed only when it fits whole, right after
 * the gap message. */
static void push_samples(rm_capture *c, const rm_sample *s, size_t n)
{
    if (c->replay)
        wait_for_room(c, n);
    flush_link_gap(c);
    if (c->overflowing && rm_ring_capacity(c->samples) - rm_ring_used(c->samples) >= n)
        end_overflow(c);
    size_t done = c->overflowing ? 0 : rm_ring_push(c->samples, s, n);
    if (done < n) {
        note_overflow(c, s + done, n - done);
        atomic_fetch_add(&c->dropped, n - done);
    }
    c->pushed += done;
    atomic_fetch_add(&c->received, n);
    uint64_t used = rm_ring_used(c->samples);
    if (used > atomic_load(&c->high_water))
        atomic_store(&c->high_water, used);
}

static void add_stats(rm_decoder_stats *into, const rm_decoder_stats *s)
{
    if (!s)
        return;
    into->bytes += s->bytes;
    into->frames_ok += s->frames_ok;
    into->crc_errors += s->crc_errors;
    into->malformed += s->malformed;
    into->oversized += s->oversized;
    into->seq_gaps += s->seq_gaps;
    into->frames_lost += s->frames_lost;
    into->bytes_discarded += s->bytes_discarded;
}

/* Totals over every source opened so far; the caller holds stat_lock. */
static void store_stats(rm_capture *c, const char *error)
{
    c->stats = c->closed_stats;
    if (c->source && !c->stats_banked)
        add_stats(&c->stats, rm_source_stats(c->source));
    if (error)
        snprintf(c->source_error, sizeof c->source_error, "%s", error);
}

/* For rm_capture_get_status and the recorder; skipped while a reader
 * holds the lock (the next round publishes them). */
static void publish_stats(rm_capture *c, const char *error)
{
    if (pthread_mutex_trylock(&c->stat_lock) != 0)
        return;
    store_stats(c, error);
    pthread_mutex_unlock(&c->stat_lock);
}

/* A source's last figures must not be skipped: a session may close on them. */
static void publish_final_stats(rm_capture *c)
{
    pthread_mutex_lock(&c->stat_lock);
    store_stats(c, NULL);
    pthread_mutex_unlock(&c->stat_lock);
}

static void handle_item(rm_capture *c, const rm_source_output *o)
{
    capture_msg m = {0};
    switch ((rm_source_item)o->item) {
    case RM_ITEM_SAMPLES:
        push_samples(c, o->samples, o->count);
        return;
    case RM_ITEM_INFO:
        m.kind = MSG_DEVICE;
        m.u.info = o->info;
        m.link = c->closed_stats; /* the earlier connections' */
        end_overflow(c);
        post(c, &m);
        return;
    case RM_ITEM_EVENT:
        m.kind = MSG_EVENT;
        m.u.event = o->event;
        post_event(c, &m);
        return;
    case RM_ITEM_GAP:
        end_overflow(c);
        post_link_gap(c, &o->gap);
        return;
    case RM_ITEM_NONE:
    case RM_ITEM_STATUS:
        return;
    }
}

/* Keep the source's counts before it restarts them (reopen) or goes. */
static void bank_stats(rm_capture *c)
{
    if (!c->stats_banked)
        add_stats(&c->closed_stats, rm_source_stats(c->source));
    c->stats_banked = true;
}

static void close_source(rm_capture *c)
{
    bank_stats(c);
    rm_source_close(c->source);
    c->source = NULL;
    c->stats_banked = false;
    publish_final_stats(c);
}

/* A connection is up: say so to the consumer (INFO follows as an item). */
static void connected(rm_capture *c)
{
    c->open_failed_logged = false;
    c->lost = false;
    c->stats_banked = false;
    capture_msg m = {.kind = MSG_DEVICE, .connected = true};
    post(c, &m);
    atomic_store(&c->connected, true);
}

static void open_failed(rm_capture *c, const rm_error *err)
{
    publish_stats(c, err->message);
    capture_log(c, c->open_failed_logged ? RM_LOG_DEBUG : RM_LOG_WARNING,
                "cannot open the device: %s (retrying)", err->message);
    c->open_failed_logged = true;
}

/* Open the source, or reopen it after an unplug (the source then reports
 * the unplug gap itself). */
static bool open_source(rm_capture *c)
{
    rm_error err;
    rm_status st = c->source ? rm_source_reopen(c->source, &err)
                             : rm_source_open(&c->source, &c->opt.source, &err);
    if (st != RM_OK) {
        open_failed(c, &err);
        return false;
    }
    connected(c);
    return true;
}

/* Read everything the source has now. Returns the status that ended it
 * (RM_ERR_AGAIN when simply drained). */
static rm_status drain_source(rm_capture *c, rm_error *err)
{
    rm_status st;
    while ((st = rm_source_next(c->source, &c->out, err)) == RM_OK)
        handle_item(c, &c->out);
    wake_consumer(c);
    return st;
}

/* The device went away (unplug): keep the source to reopen it. At the end
 * of an input that is not a device, close it and open it afresh. */
static void lose_source(rm_capture *c, rm_reconnect *rc, rm_status why,
                        const rm_error *err)
{
    capture_log(c, RM_LOG_WARNING, "device lost: %s", err->message);
    if (why == RM_ERR_EOF)
        close_source(c);
    else
        bank_stats(c);
    c->lost = true;
    post_kind(c, MSG_UNPLUG);
    atomic_store(&c->connected, false);
    rm_reconnect_start(rc, &c->opt.reconnect, rm_monotonic_us());
    wake_consumer(c);
}

static void sleep_ms(uint32_t ms)
{
    poll(NULL, 0, (int)ms);
}

static bool is_alive(rm_status st)
{
    return st == RM_OK || st == RM_ERR_AGAIN || st == RM_ERR_TIMEOUT;
}

/* ---- hotplug ---------------------------------------------------------------- */

/* Called from rm_hotplug_poll on the I/O thread: only notes the news. */
static void on_hotplug(rm_hotplug_event ev, uint16_t vid, uint16_t pid,
                       void *user)
{
    rm_capture *c = user;
    if (!rm_source_hotplug_concerns(&c->opt.source, vid, pid))
        return;
    if (ev == RM_HOTPLUG_ARRIVED)
        c->device_arrived = true;
    else
        c->device_left = true;
}

/* Sources without hotplug (tty:, file:, sim:, stdin) keep the back-off
 * alone. */
static void open_hotplug(rm_capture *c)
{
    if (!rm_source_caps_of(&c->opt.source).hotplug)
        return;
    rm_error err;
    if (rm_hotplug_open(&c->hotplug, on_hotplug, c, &err) != RM_OK) {
        capture_log(c, RM_LOG_WARNING, "hotplug unavailable (retrying with "
                    "back-off only): %s", err.message);
        return;
    }
    capture_log(c, RM_LOG_DEBUG, "hotplug: %s",
                rm_hotplug_is_native(c->hotplug) ? "libusb" : "port rescan");
}

/* Wait up to timeout_ms for hotplug news (a plain sleep without hotplug). */
static void poll_hotplug(rm_capture *c, uint32_t timeout_ms)
{
    if (!c->hotplug) {
        if (timeout_ms)
            sleep_ms(timeout_ms);
        return;
    }
    rm_error err;
    if (rm_hotplug_poll(c->hotplug, (int)timeout_ms, &err) != RM_OK) {
        capture_log(c, RM_LOG_WARNING, "hotplug stopped (retrying with "
                    "back-off only): %s", err.message);
        rm_hotplug_close(c->hotplug);
        c->hotplug = NULL;
    }
    if (c->device_arrived) {
        c->device_arrived = false;
        uint64_t now = rm_monotonic_us();
        c->arrival_until_us = now + ARRIVAL_WINDOW_US;
        c->arrival_next_us = now;
    }
}

/* Within the window after an arrival: time for the next quick attempt. */
static bool arrival_attempt_due(rm_capture *c, uint64_t now)
{
    if (now >= c->arrival_until_us || now < c->arrival_next_us)
        return false;
    c->arrival_next_us = now + ARRIVAL_RETRY_MS * 1000u;
    return true;
}

static uint32_t ms_until(uint64_t now, uint64_t at)
{
    return at > now ? (uint32_t)((at - now + 999) / 1000) : 0;
}

/* How long to wait for news before the next attempt is due. */
static uint32_t reconnect_wait_ms(const rm_capture *c, const rm_reconnect *rc,
                                  uint64_t now)
{
    uint32_t wait = ms_until(now, rc->next_try_us);
    if (now < c->arrival_until_us && ms_until(now, c->arrival_next_us) < wait)
        wait = ms_until(now, c->arrival_next_us);
    return wait < IO_WAIT_MS ? wait : IO_WAIT_MS;
}

/* Wait for the next connection attempt; true when the source is up. A
 * hotplug arrival makes one due at once (then every ARRIVAL_RETRY_MS for
 * a while), else the back-off decides. */
static bool reconnect(rm_capture *c, rm_reconnect *rc, bool first)
{
    uint64_t now = rm_monotonic_us();
    bool due = first || arrival_attempt_due(c, now) || rm_reconnect_due(rc, now);
    if (!due) {
        poll_hotplug(c, reconnect_wait_ms(c, rc, now));
        now = rm_monotonic_us();
        if (!arrival_attempt_due(c, now))
            return false;
    }
    c->device_left = false;
    if (!open_source(c))
        return false;
    c->arrival_until_us = 0;
    if (!first)
        atomic_fetch_add(&c->reconnects, 1);
    return true;
}

/* A known device left while connected: read at once what the source has,
 * which reports the unplug if it was ours. Another roller leaving changes
 * nothing. */
static rm_status check_after_left(rm_capture *c, rm_error *err)
{
    poll_hotplug(c, 0);
    if (!c->device_left)
        return RM_OK;
    c->device_left = false;
    rm_status st = rm_source_wait(c->source, 0, err);
    return is_alive(st) ? drain_source(c, err) : st;
}

/* ---- rate changes ------------------------------------------------------------ */

static uint32_t take_rate_request(rm_capture *c)
{
    pthread_mutex_lock(&c->rate_lock);
    uint32_t rate_hz = c->rate_wanted;
    c->rate_wanted = 0;
    c->rate_busy = rate_hz != 0;
    pthread_mutex_unlock(&c->rate_lock);
    return rate_hz;
}

static void answer_rate_request(rm_capture *c, rm_status st,
                                const rm_error *err)
{
    pthread_mutex_lock(&c->rate_lock);
    c->rate_status = st;
    c->rate_error = *err;
    c->rate_busy = false;
    c->rate_answers++;
    pthread_cond_broadcast(&c->rate_answered);
    pthread_mutex_unlock(&c->rate_lock);
}

/* A session has one rate from its first sample to its last. */
static rm_status refuse_while_recording(rm_capture *c, rm_error *err)
{
    rm_recorder_status rs;
    pthread_mutex_lock(&c->lock);
    rm_recorder_get_status(c->recorder, &rs);
    uint32_t rate_hz = c->device.sample_rate_hz;
    pthread_mutex_unlock(&c->lock);
    if (rs.state == RM_RECORDER_IDLE)
        return RM_OK;
    return rm_error_set(err, RM_ERR_BUSY, "rate: session %s is being "
                        "recorded at %u samples a second, and a session keeps "
                        "its rate; stop it first", rs.session.session_id, rate_hz);
}

/* On the I/O thread, which alone talks to the source. */
static void serve_rate_request(rm_capture *c)
{
    uint32_t rate_hz = take_rate_request(c);
    if (!rate_hz)
        return;
    rm_error err = {0};
    rm_status st = refuse_while_recording(c, &err);
    if (st == RM_OK && c->lost)
        st = rm_error_set(&err, RM_ERR_CLOSED, "rate: no device is "
                          "connected (%s)", c->source_error[0]
                              ? c->source_error : "it is not plugged in");
    if (st == RM_OK)
        st = rm_source_set_rate(c->source, rate_hz, &err);
    if (st == RM_OK)
        capture_log(c, RM_LOG_INFO, "device rate set to %u samples a second",
                    rate_hz);
    answer_rate_request(c, st, &err);
}

static void *io_main(void *arg)
{
    rm_capture *c = arg;
    rm_reconnect rc;
    bool first = true;
    c->lost = true;
    open_hotplug(c);
    rm_reconnect_start(&rc, &c->opt.reconnect, rm_monotonic_us());
    while (!atomic_load(&c->stopping)) {
        serve_rate_request(c);
        if (c->lost) {
            bool up = reconnect(c, &rc, first);
            first = false;
            if (!up)
                continue;
        }
        rm_error err;
        if (atomic_exchange(&c->tare_requested, false) &&
            rm_source_command(c->source, RM_CMD_TARE, 0, &err) != RM_OK)
            capture_log(c, RM_LOG_WARNING, "tare: %s", err.message);
        rm_status st = check_after_left(c, &err);
        if (is_alive(st))
            st = rm_source_wait(c->source, IO_WAIT_MS, &err);
        if (is_alive(st))
            st = drain_source(c, &err);
        publish_stats(c, NULL);
        if (is_alive(st))
            continue;
        if (st == RM_ERR_EOF && c->opt.end_at_eof) {
            close_source(c);
            post_kind(c, MSG_END);
            break;
        }
        lose_source(c, &rc, st, &err);
    }
    if (c->source)
        close_source(c);
    rm_hotplug_close(c->hotplug);
    end_overflow(c);
    flush_link_gap(c);
    while (c->overflowing || c->link_gap_pending) { /* the consumer still runs */
        wake_consumer(c);
        poll(NULL, 0, 1);
        end_overflow(c);
        flush_link_gap(c);
    }
    atomic_store(&c->io_done, true);
    wake_consumer(c);
    return NULL;
}

/* ---- consumer thread ------------------------------------------------------ */

/* The hooks (the live view) get the session file's times: a replug that
 * restarts the device clock does not restart theirs. */
static void deliver_samples(rm_capture *c, const rm_sample *s, size_t n)
{
    pthread_mutex_lock(&c->lock);
    rm_recorder_samples(c->recorder, s, n, rm_monotonic_us());
    int64_t offset = rm_recorder_clock_offset(c->recorder);
    pthread_mutex_unlock(&c->lock);
    if (c->opt.hooks.samples)
        daemon_samples_shifted(s, n, offset, c->opt.hooks.samples, c->opt.hooks.user);
}

const char *rm_calibration_state_name(rm_calibration_state state)
{
    switch (state) {
    case RM_CALIBRATION_DEVICE: return "device";
    case RM_CALIBRATION_STORED: return "stored";
    case RM_CALIBRATION_STALE: return "stale";
    case RM_CALIBRATION_MISMATCH: return "mismatch";
    }
    return "unknown";
}

/* The oldest channel decides: one stale channel skews every sum. */
static int64_t oldest_channel_date(const rm_device_info *info)
{
    int64_t oldest = 0;
    for (unsigned i = 0; i < info->channel_count && i < RM_MAX_CHANNELS; i++) {
        int64_t d = info->channels[i].cal.date_unix;
        if (d > 0 && (oldest == 0 || d < oldest))
            oldest = d;
    }
    return oldest;
}

void rm_calibration_apply_checked(const char *dir, rm_device_info *info,
                                  uint32_t max_age_days, int64_t now_unix,
                                  rm_calibration_status *out)
{
    memset(out, 0, sizeof *out);
    out->state = RM_CALIBRATION_DEVICE;
    if (!dir[0])
        return;
    rm_error err;
    rm_device_info calibrated = *info;
    rm_status st = rm_calibration_load(dir, &calibrated, &err);
    if (st == RM_ERR_NOT_FOUND)
        return;
    if (st != RM_OK) {
        out->state = RM_CALIBRATION_MISMATCH;
        snprintf(out->problem, sizeof out->problem, "%s", err.message);
        return;
    }
    *info = calibrated;
    out->state = RM_CALIBRATION_STORED;
    out->date_unix = oldest_channel_date(info);
    if (out->date_unix > 0 && now_unix > out->date_unix)
        out->age_days = (uint32_t)((now_unix - out->date_unix) / SECONDS_PER_DAY);
    if (max_age_days && out->date_unix > 0 && out->age_days > max_age_days) {
        out->state = RM_CALIBRATION_STALE;
        snprintf(out->problem, sizeof out->problem,
                 "%u days old, past the limit of %u days: calibrate again",
                 out->age_days, max_age_days);
    }
}

/* The user's calibration of this device (rollmap calibrate), if stored,
 * replaces the one the device reports: sessions and the live view then
 * use the same newtons. One that does not fit the device is refused. */
static void apply_stored_calibration(rm_capture *c, rm_device_info *info,
                                     rm_calibration_status *cal)
{
    rm_calibration_apply_checked(c->opt.calibration_dir, info,
                                 c->opt.calibration_max_age_days,
                                 rm_wallclock_us() / 1000000, cal);
    switch ((rm_calibration_state)cal->state) {
    case RM_CALIBRATION_DEVICE:
        return;
    case RM_CALIBRATION_STORED:
        capture_log(c, RM_LOG_INFO, "device %s: stored calibration applied",
                    info->serial);
        return;
    case RM_CALIBRATION_STALE:
        capture_log(c, RM_LOG_WARNING, "device %s: stored calibration applied "
                    "but stale: %s", info->serial, cal->problem);
        return;
    case RM_CALIBRATION_MISMATCH:
        capture_log(c, RM_LOG_WARNING, "device %s: stored calibration not used "
                    "(the device's own applies): %s", info->serial, cal->problem);
        return;
    }
}

/* A session that opens on this INFO counts the link from the start of its
 * connection. The periodic counts may already be ahead: a replay decodes
 * far ahead of the samples recorded, and its session showed only some or
 * none of its link's errors. Called with c->lock held. */
static void start_link_counts_at_connection(rm_capture *c, const capture_msg *m)
{
    rm_recorder_status st;
    rm_recorder_get_status(c->recorder, &st);
    if (st.state == RM_RECORDER_IDLE)
        rm_recorder_link(c->recorder, &m->link, m->mono_us);
}

static void deliver_device(rm_capture *c, const capture_msg *m)
{
    if (m->u.info.channel_count == 0) /* connected, INFO still to come */
        return;
    rm_device_info info = m->u.info;
    rm_calibration_status cal;
    apply_stored_calibration(c, &info, &cal);
    pthread_mutex_lock(&c->lock);
    c->device = info;
    c->calibration = cal;
    c->device_known = true;
    start_link_counts_at_connection(c, m);
    rm_recorder_device(c->recorder, &info, m->mono_us);
    pthread_mutex_unlock(&c->lock);
    if (c->opt.hooks.device)
        c->opt.hooks.device(c->opt.hooks.user, &info);
}

/* Give the recorder the link counts the I/O thread published last. */
static void pass_link_stats(rm_capture *c, uint64_t now)
{
    pthread_mutex_lock(&c->stat_lock);
    rm_decoder_stats total = c->stats;
    pthread_mutex_unlock(&c->stat_lock);
    pthread_mutex_lock(&c->lock);
    rm_recorder_link(c->recorder, &total, now);
    pthread_mutex_unlock(&c->lock);
}

static void deliver_message(rm_capture *c, const capture_msg *m)
{
    const rm_capture_hooks *h = &c->opt.hooks;
    if (m->kind == MSG_DEVICE && m->connected && h->connection)
        h->connection(h->user, true);
    if (m->kind == MSG_END)
        pass_link_stats(c, rm_monotonic_us()); /* the session closes on it */
    pthread_mutex_lock(&c->lock);
    switch ((msg_kind)m->kind) {
    case MSG_DEVICE:
        break;
    case MSG_EVENT:
        rm_recorder_event(c->recorder, &m->u.event);
        break;
    case MSG_GAP:
        rm_recorder_gap(c->recorder, &m->u.gap);
        break;
    case MSG_UNPLUG:
        rm_recorder_unplugged(c->recorder, m->mono_us);
        break;
    case MSG_END:
        rm_recorder_source_ended(c->recorder);
        atomic_store(&c->source_ended, true);
        break;
    }
    pthread_mutex_unlock(&c->lock);
    if (m->kind == MSG_DEVICE)
        deliver_device(c, m);
    else if (m->kind == MSG_EVENT && h->event)
        h->event(h->user, &m->u.event);
    else if (m->kind == MSG_GAP && h->gap)
        h->gap(h->user, &m->u.gap);
    else if (m->kind == MSG_UNPLUG && h->connection)
        h->connection(h->user, false);
}

typedef struct consumer_state {
    capture_msg next;       /* the next message, taken from its ring */
    bool have_next;
    uint64_t consumed;
    uint64_t last_tick;
    rm_sample batch[CONSUME_BATCH];
} consumer_state;

/* One step: samples up to the next message, then the message. Returns
 * whether anything was done. */
static bool consume_step(rm_capture *c, consumer_state *cs)
{
    if (!cs->have_next)
        cs->have_next = daemon_ring_pop_items(c->messages, &cs->next, 1) == 1;
    size_t limit = CONSUME_BATCH;
    if (cs->have_next && cs->next.at_sample - cs->consumed < limit)
        limit = (size_t)(cs->next.at_sample - cs->consumed);
    size_t n = limit ? rm_ring_pop(c->samples, cs->batch, limit) : 0;
    if (n) {
        deliver_samples(c, cs->batch, n);
        cs->consumed += n;
        atomic_store(&c->consumed, cs->consumed);
    }
    if (cs->have_next && cs->consumed == cs->next.at_sample) {
        deliver_message(c, &cs->next);
        cs->have_next = false;
        return true;
    }
    return n > 0;
}

static void tick(rm_capture *c, consumer_state *cs)
{
    uint64_t now = rm_monotonic_us();
    if (now - cs->last_tick < TICK_MS * 1000u)
        return;
    cs->last_tick = now;
    pass_link_stats(c, now);
    pthread_mutex_lock(&c->lock);
    rm_recorder_tick(c->recorder, now);
    pthread_mutex_unlock(&c->lock);
}

static void wait_for_input(rm_capture *c)
{
    struct pollfd p = {.fd = c->wake_fd, .events = POLLIN};
    if (poll(&p, 1, TICK_MS) > 0) {
        uint64_t count;
        if (read(c->wake_fd, &count, sizeof count) < 0)
            return; /* EAGAIN: another wake already consumed it */
    }
}

static void *consumer_main(void *arg)
{
    rm_capture *c = arg;
    consumer_state *cs = calloc(1, sizeof *cs);
    if (!cs) {
        capture_log(c, RM_LOG_ERROR, "capture: out of memory for the consumer");
        return NULL;
    }
    for (;;) {
        bool io_done = atomic_load(&c->io_done);
        bool worked = consume_step(c, cs);
        tick(c, cs);
        if (worked)
            continue;
        if (io_done)
            break; /* the I/O thread had finished before this empty step */
        wait_for_input(c);
    }
    pass_link_stats(c, rm_monotonic_us()); /* the final counts, for the close */
    free(cs);
    return NULL;
}

/* ---- lifecycle and commands ---------------------------------------------- */

static void free_capture(rm_capture *c)
{
    rm_recorder_free(c->recorder);
    rm_ring_free(c->samples);
    rm_ring_free(c->messages);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->stat_lock);
    pthread_mutex_destroy(&c->rate_lock);
    pthread_cond_destroy(&c->rate_answered);
    free(c);
}

static rm_status start_threads(rm_capture *c, rm_error *err)
{
    int rc = pthread_create(&c->consumer_thread, NULL, consumer_main, c);
    if (rc != 0)
        return rm_error_set(err, RM_ERR_NOMEM, "capture: cannot start the consumer "
                            "thread: %s", strerror(rc));
    rc = pthread_create(&c->io_thread, NULL, io_main, c);
    if (rc != 0) {
        atomic_store(&c->io_done, true);
        wake_consumer(c);
        pthread_join(c->consumer_thread, NULL);
        return rm_error_set(err, RM_ERR_NOMEM, "capture: cannot start the I/O "
                            "thread: %s", strerror(rc));
    }
    return RM_OK;
}

rm_status rm_capture_start(rm_capture **out, const rm_capture_options *o,
                           rm_error *err)
{
    rm_capture *c = calloc(1, sizeof *c);
    if (!c)
        return rm_error_set(err, RM_ERR_NOMEM, "capture: out of memory");
    c->opt = *o;
    c->replay = rm_source_caps_of(&o->source).replay;
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->stat_lock, NULL);
    pthread_mutex_init(&c->rate_lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&c->rate_answered, &monotonic);
    pthread_condattr_destroy(&monotonic);
    size_t ring = o->ring_capacity ? o->ring_capacity : MIN_RING;
    rm_status st = c->wake_fd < 0
        ? rm_error_set(err, RM_ERR_IO, "capture: eventfd: %s", strerror(errno))
        : rm_ring_new(&c->samples, ring, err);
    if (st == RM_OK)
        st = daemon_ring_new_items(&c->messages, MESSAGE_RING, sizeof(capture_msg), err);
    if (st == RM_OK)
        st = rm_recorder_new(&c->recorder, &o->recorder, err);
    if (st == RM_OK && o->record_now)
        st = rm_recorder_start(c->recorder, &o->record_meta, o->record_path, err);
    if (st == RM_OK)
        st = start_threads(c, err);
    if (st != RM_OK) {
        free_capture(c);
        return st;
    }
    *out = c;
    return RM_OK;
}

void rm_capture_stop(rm_capture *c, rm_capture_status *final)
{
    if (!c)
        return;
    atomic_store(&c->stopping, true);
    pthread_join(c->io_thread, NULL);
    pthread_join(c->consumer_thread, NULL);
    rm_recorder_shut_down(c->recorder);
    if (final)
        rm_capture_get_status(c, final); /* everything consumed and closed */
    free_capture(c);
}

rm_status rm_capture_record_start(rm_capture *c, const rm_session_meta *meta,
                                  const char *path, rm_error *err)
{
    pthread_mutex_lock(&c->lock);
    rm_status st = rm_recorder_start(c->recorder, meta, path, err);
    pthread_mutex_unlock(&c->lock);
    return st;
}

bool rm_capture_record_withdraw(rm_capture *c)
{
    pthread_mutex_lock(&c->lock);
    bool withdrawn = rm_recorder_withdraw_start(c->recorder);
    pthread_mutex_unlock(&c->lock);
    return withdrawn;
}

rm_status rm_capture_record_stop(rm_capture *c, rm_error *err)
{
    pthread_mutex_lock(&c->lock);
    rm_status st = rm_recorder_stop(c->recorder, err);
    pthread_mutex_unlock(&c->lock);
    return st;
}

rm_status rm_capture_record_meta(rm_capture *c, const rm_session_meta *meta,
                                 rm_error *err)
{
    pthread_mutex_lock(&c->lock);
    rm_status st = rm_recorder_set_meta(c->recorder, meta, err);
    pthread_mutex_unlock(&c->lock);
    return st;
}

rm_status rm_capture_record_note(rm_capture *c, rm_event_kind kind,
                                 int32_t value, const char *text, rm_error *err)
{
    pthread_mutex_lock(&c->lock);
    rm_status st = rm_recorder_note(c->recorder, kind, value, text, err);
    pthread_mutex_unlock(&c->lock);
    return st;
}

void rm_capture_request_tare(rm_capture *c)
{
    atomic_store(&c->tare_requested, true);
}

rm_status rm_capture_set_rate(rm_capture *c, uint32_t rate_hz, rm_error *err)
{
    pthread_mutex_lock(&c->rate_lock);
    if (c->rate_wanted || c->rate_busy) {
        pthread_mutex_unlock(&c->rate_lock);
        return rm_error_set(err, RM_ERR_BUSY, "rate: another rate change is "
                            "under way");
    }
    c->rate_wanted = rate_hz;
    uint64_t asked_at = c->rate_answers;
    struct timespec until;
    rm_deadline_after_ms(CLOCK_MONOTONIC, RATE_ANSWER_MS, &until);
    int rc = 0;
    while (c->rate_answers == asked_at && rc == 0)
        rc = pthread_cond_timedwait(&c->rate_answered, &c->rate_lock, &until);
    rm_status st = c->rate_answers == asked_at
                       ? rm_error_set(err, RM_ERR_TIMEOUT, "rate: the device "
                                      "did not answer within %d ms",
                                      RATE_ANSWER_MS)
                       : c->rate_status;
    if (st != RM_OK && c->rate_answers != asked_at)
        *err = c->rate_error;
    pthread_mutex_unlock(&c->rate_lock);
    return st;
}

void rm_capture_set_recorder_options(rm_capture *c, const rm_recorder_options *o)
{
    pthread_mutex_lock(&c->lock);
    rm_recorder_set_options(c->recorder, o);
    pthread_mutex_unlock(&c->lock);
}

void rm_capture_get_status(rm_capture *c, rm_capture_status *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->lock);
    rm_recorder_get_status(c->recorder, &out->recorder);
    out->device_known = c->device_known;
    if (c->device_known) {
        out->device = c->device;
        out->calibration = c->calibration;
    }
    pthread_mutex_unlock(&c->lock);

    pthread_mutex_lock(&c->stat_lock);
    out->frames_ok = c->stats.frames_ok;
    out->frames_rejected = c->stats.crc_errors + c->stats.malformed + c->stats.oversized;
    out->frames_lost = c->stats.frames_lost;
    snprintf(out->last_source_error, sizeof out->last_source_error, "%s",
             c->source_error);
    pthread_mutex_unlock(&c->stat_lock);

    out->connected = atomic_load(&c->connected);
    out->source_ended = atomic_load(&c->source_ended);
    out->samples_received = atomic_load(&c->received);
    out->samples_consumed = atomic_load(&c->consumed);
    out->ring_dropped = atomic_load(&c->dropped);
    out->ring_capacity = rm_ring_capacity(c->samples);
    out->ring_high_water = (size_t)atomic_load(&c->high_water);
    out->reconnects = atomic_load(&c->reconnects);
    out->messages_dropped = atomic_load(&c->messages_dropped);
}
