/* The session recorder: decides when sessions begin and end and writes
 * them through core's session writer.
 *
 * States: IDLE (no file; an auto session opens when the total force
 * reaches start_threshold_n), RECORDING, and SUSPENDED (the device was
 * unplugged mid-session; a replug within resume_window_us continues the
 * same file after an RM_GAP_UNPLUGGED gap, a longer absence closes it).
 *
 * Session time is the device clock plus an offset. The offset stays 0
 * unless a device comes back with its clock behind the session (it
 * rebooted), in which case the session clock continues after the gap.
 *
 * Write failures (disk full, file size limit) never stop the stream: the
 * writer keeps what it could not write, the failure is logged once per
 * episode, and every tick retries the flush until one succeeds. */
#include "daemon_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How long to wait before trying again after a session file could not be
 * created (the library folder is missing or read-only): stops a log line
 * per sample. */
#define START_RETRY_US 5000000u
/* Samples shifted onto the session clock at a time (stack buffer). */
#define SHIFT_CHUNK 64
/* File name suffix of session files, as every rollmap tool names them. */
#define RM_SESSION_SUFFIX ".rms"

/* Link counts go into the session at most this often (and on close): a
 * killed recorder loses at most this much of them, and a flaky cable
 * costs one small metadata block per interval. */
#define LINK_META_INTERVAL_US 10000000u

struct rm_recorder {
    rm_recorder_options opt;
    rm_recorder_state state;
    rm_session_writer *writer;
    rm_device_info info;
    bool have_info;
    bool sum_load_cells_only;     /* device has load cells: they carry the
                                     total force; pressure cells do not */
    rm_session_meta meta;         /* of the open session */
    rm_session_meta next_meta;    /* for the next session */
    bool explicit_session;
    bool start_requested;         /* explicit start waiting for a device */
    char requested_path[4096];
    bool armed;                   /* the load fell below stop since the last
                                     session ended: auto start allowed */
    uint64_t start_retry_at;      /* monotonic */
    uint64_t last_loaded_t;       /* session clock, last sample >= stop */
    uint64_t first_t, last_t;     /* session clock */
    uint64_t session_samples;
    int64_t t_offset;             /* session clock = device clock + this */
    bool resync_pending;          /* first sample after a resume */
    bool have_source_gap;         /* the source reported the unplug gap */
    uint64_t source_gap_lost;
    uint64_t unplugged_at;        /* monotonic */
    uint64_t absent_us;           /* how long the last unplug lasted */
    bool dirty;                   /* appended since the last flush */
    uint64_t last_flush_at;       /* monotonic */
    uint64_t last_sample_at;      /* monotonic, of the last sample seen */
    rm_sample *pre_roll;          /* the latest idle samples, circular */
    size_t pre_cap, pre_len, pre_next;
    rm_recorder_status stats;     /* counters and paths kept up to date */
    rm_decoder_stats link_total;  /* the source's counts, latest */
    rm_decoder_stats link_at_open;/* the same when the session opened */
    uint64_t link_written_at;     /* monotonic; 0: not since the open */
};

void rm_daemon_log(rm_log_fn fn, void *user, rm_log_level level,
                   const char *fmt, ...)
{
    if (!fn)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(user, level, line);
}

#define log_line(r, level, ...) \
    rm_daemon_log((r)->opt.log, (r)->opt.log_user, level, __VA_ARGS__)

void rm_recorder_options_default(rm_recorder_options *o)
{
    memset(o, 0, sizeof *o);
    o->auto_start = true;
    /* Well above sensor noise, far below rolling force (hamstrings about
     * 128 N, Sullivan et al. 2013; about 250 N mean, Baumgart et al. 2019). */
    o->start_threshold_n = 20.0;
    o->stop_threshold_n = 10.0;
    o->idle_us = 30000000u;
    o->resume_window_us = 60000000u;
    o->pre_roll_us = 2000000u; /* the approach: contact and the load rising */
    rm_default_library_dir(o->library, sizeof o->library, NULL);
    rm_writer_options_default(&o->writer);
}

rm_status rm_recorder_new(rm_recorder **out, const rm_recorder_options *o,
                          rm_error *err)
{
    if (o->stop_threshold_n > o->start_threshold_n)
        return rm_error_set(err, RM_ERR_ARG,
                            "stop threshold %g N is above start threshold %g N",
                            o->stop_threshold_n, o->start_threshold_n);
    rm_recorder *r = calloc(1, sizeof *r);
    if (!r)
        return rm_error_set(err, RM_ERR_NOMEM, "recorder: out of memory");
    r->opt = *o;
    r->armed = true;
    *out = r;
    return RM_OK;
}

/* ---- write failures ----------------------------------------------------- */

/* Every writer call goes through here: the first failure of an episode is
 * logged and counted. Only a flush that succeeds ends the episode (an
 * append that merely queued proves nothing). */
static void note_write(rm_recorder *r, rm_status st, const rm_error *err)
{
    if (st == RM_OK)
        return;
    if (!r->stats.write_failing) {
        r->stats.write_failures++;
        log_line(r, RM_LOG_ERROR, "cannot write session %s: %s (samples are kept "
                 "and written when space returns; live view goes on)",
                 r->stats.path, err->message);
    }
    r->stats.write_failing = true;
    snprintf(r->stats.last_error, sizeof r->stats.last_error, "%s", err->message);
}

static void flush_writer(rm_recorder *r, uint64_t now_us)
{
    rm_error err;
    rm_status st = rm_session_writer_flush(r->writer, &err);
    if (st == RM_OK && r->stats.write_failing) {
        log_line(r, RM_LOG_INFO, "recording resumed: writes to %s succeed again",
                 r->stats.path);
        r->stats.write_failing = false;
    }
    note_write(r, st, &err);
    r->dirty = r->stats.write_failing;
    r->last_flush_at = now_us;
}

/* ---- opening and closing sessions --------------------------------------- */

/* ---- link statistics ----------------------------------------------------- */

static uint64_t count_since(uint64_t now, uint64_t then)
{
    return now >= then ? now - then : 0;
}

static rm_link_stats session_link(const rm_recorder *r)
{
    const rm_decoder_stats *now = &r->link_total, *then = &r->link_at_open;
    return (rm_link_stats){
        .recorded = true,
        .frames_ok = count_since(now->frames_ok, then->frames_ok),
        .crc_errors = count_since(now->crc_errors, then->crc_errors),
        .malformed = count_since(now->malformed, then->malformed),
        .oversized = count_since(now->oversized, then->oversized),
        .frames_lost = count_since(now->frames_lost, then->frames_lost),
        .bytes_discarded = count_since(now->bytes_discarded, then->bytes_discarded),
    };
}

/* Append a metadata record with the session's link counts if they changed
 * since the last one; it is written with the next flush. */
static void write_link(rm_recorder *r, uint64_t now_us)
{
    rm_link_stats link = session_link(r);
    if (!memcmp(&link, &r->meta.link, sizeof link))
        return;
    r->meta.link = link;
    rm_error err;
    note_write(r, rm_session_writer_set_meta(r->writer, &r->meta, &err), &err);
    r->link_written_at = now_us;
    r->dirty = true;
}

void rm_recorder_link(rm_recorder *r, const rm_decoder_stats *total,
                      uint64_t now_us)
{
    r->link_total = *total;
    bool due = !r->link_written_at || /* the first change since the open */
               now_us - r->link_written_at >= LINK_META_INTERVAL_US;
    if (r->state != RM_RECORDER_IDLE && due)
        write_link(r, now_us);
}

/* Session files are named after the session id only: client names never
 * appear in file names (they would leak into listings and backups). */
static rm_status open_session(rm_recorder *r, const char *path, bool explicit_start,
                              rm_error *err)
{
    rm_session_meta meta = {0};
    meta.start_unix_us = rm_wallclock_us();
    rm_session_id_new(meta.session_id, meta.start_unix_us);
    strcpy(meta.muscle, "hamstring");
    rm_session_meta_merge(&meta, &r->next_meta);
    meta.link.recorded = true; /* all zero: nothing happened yet */

    char file[sizeof r->stats.path];
    int len;
    if (path && *path) {
        len = snprintf(file, sizeof file, "%s", path);
    } else {
        if (!r->opt.library[0])
            return rm_error_set(err, RM_ERR_NOT_FOUND, "no library folder for "
                                "session files: set [session] library (or HOME)");
        rm_error why;
        if (rm_make_dirs(r->opt.library, 0700 /* health data */, &why) != RM_OK)
            return rm_error_set(err, why.code, "library folder %s: %s",
                                r->opt.library, why.message);
        len = snprintf(file, sizeof file, "%s/%s" RM_SESSION_SUFFIX, r->opt.library,
                       meta.session_id);
    }
    if (len < 0 || (size_t)len >= sizeof file)
        return rm_error_set(err, RM_ERR_ARG, "session file name too long in %s",
                            r->opt.library);
    rm_status st = rm_session_writer_create(&r->writer, file, &r->info, &meta,
                                            &r->opt.writer, err);
    if (st != RM_OK)
        return st;
    memset(&r->next_meta, 0, sizeof r->next_meta);
    if (explicit_start)
        r->pre_len = 0; /* it starts now */
    r->meta = meta;
    r->link_at_open = r->link_total;
    r->link_written_at = 0;
    r->state = RM_RECORDER_RECORDING;
    r->explicit_session = explicit_start;
    r->session_samples = 0;
    r->stats.session_samples = 0; /* status: this session's, not the last one's */
    r->stats.session_span_us = 0;
    r->stats.session_gaps = 0;
    r->t_offset = 0;
    r->resync_pending = false;
    r->stats.write_failing = false;
    memcpy(r->stats.path, file, sizeof file);
    log_line(r, RM_LOG_INFO, "session %s started (%s) -> %s", meta.session_id,
             explicit_start ? "on request" : "load detected", file);
    if (r->opt.session)
        r->opt.session(r->opt.session_user, true, &r->meta, file);
    return RM_OK;
}

/* The counts come from what reached the file, never from what was sent. */
static void log_session_end(const rm_recorder *r, const char *why,
                            const rm_writer_summary *file)
{
    char lost[128] = "";
    if (file->samples_lost)
        snprintf(lost, sizeof lost, "; %llu samples lost to write errors",
                 (unsigned long long)file->samples_lost);
    log_line(r, file->samples_lost ? RM_LOG_WARNING : RM_LOG_INFO,
             "session %s ended (%s): %llu samples, %llu gaps in %s%s",
             r->meta.session_id, why, (unsigned long long)file->samples_written,
             (unsigned long long)file->gaps_written, r->stats.path, lost);
}

static void close_session(rm_recorder *r, const char *why)
{
    rm_error err;
    write_link(r, r->link_written_at);
    rm_writer_summary file;
    rm_status st = rm_session_writer_finish(r->writer, &file, &err);
    r->writer = NULL;
    if (st != RM_OK)
        log_line(r, RM_LOG_ERROR, "session %s: closing %s failed: %s",
                 r->meta.session_id, r->stats.path, err.message);
    log_session_end(r, why, &file);
    r->stats.samples_recorded -= file.samples_lost;
    if (r->opt.session)
        r->opt.session(r->opt.session_user, false, &r->meta, r->stats.path);
    memcpy(r->stats.last_path, r->stats.path, sizeof r->stats.path);
    r->stats.path[0] = '\0';
    r->stats.sessions_closed++;
    r->stats.write_failing = false;
    r->state = RM_RECORDER_IDLE;
    r->explicit_session = false;
}

/* ---- load ---------------------------------------------------------------- */

static double total_force(const rm_recorder *r, const rm_sample *s)
{
    double sum = 0.0;
    for (unsigned c = 0; c < r->info.channel_count; c++) {
        const rm_channel_info *ch = &r->info.channels[c];
        if (!r->sum_load_cells_only || ch->kind == RM_CHANNEL_LOAD_CELL)
            sum += rm_channel_newtons(ch, s->counts[c]);
    }
    return sum;
}

static bool has_load_cells(const rm_device_info *info)
{
    for (unsigned c = 0; c < info->channel_count; c++)
        if (info->channels[c].kind == RM_CHANNEL_LOAD_CELL)
            return true;
    return false;
}

/* ---- the sample path ----------------------------------------------------- */

void daemon_samples_shifted(const rm_sample *s, size_t n, int64_t offset,
                            rm_samples_fn fn, void *user)
{
    if (offset == 0) {
        fn(user, s, n);
        return;
    }
    rm_sample chunk[SHIFT_CHUNK];
    for (size_t done = 0; done < n; ) {
        size_t k = n - done < SHIFT_CHUNK ? n - done : SHIFT_CHUNK;
        memcpy(chunk, s + done, k * sizeof *s);
        for (size_t i = 0; i < k; i++)
            chunk[i].t_us = (uint64_t)((int64_t)chunk[i].t_us + offset);
        fn(user, chunk, k);
        done += k;
    }
}

static void append_to_writer(void *user, const rm_sample *s, size_t n)
{
    rm_recorder *r = user;
    rm_error err;
    note_write(r, rm_session_writer_append(r->writer, s, n, &err), &err);
}

int64_t rm_recorder_clock_offset(const rm_recorder *r)
{
    return r->state == RM_RECORDER_IDLE ? 0 : r->t_offset;
}

static void append_shifted(rm_recorder *r, const rm_sample *s, size_t n,
                           uint64_t now_us)
{
    daemon_samples_shifted(s, n, r->t_offset, append_to_writer, r);
    if (!r->dirty)
        r->last_flush_at = now_us;
    r->dirty = true;
}

static void write_gap(rm_recorder *r, const rm_gap *gap)
{
    rm_error err;
    note_write(r, rm_session_writer_add_gap(r->writer, gap, &err), &err);
    r->stats.session_gaps++;
}

static uint64_t session_time(const rm_recorder *r, uint64_t device_t)
{
    return (uint64_t)((int64_t)device_t + r->t_offset);
}

/* First sample after a replug: record the unplug gap (one, whether or not
 * the source reported it too) and, if the device clock restarted, move the
 * session clock past the gap. */
static void resync_after_resume(rm_recorder *r, const rm_sample *first)
{
    uint64_t t = session_time(r, first->t_us);
    if (t <= r->last_t) {
        uint64_t period = r->info.sample_rate_hz ? 1000000u / r->info.sample_rate_hz : 1000u;
        uint64_t resume_at = r->last_t + (r->absent_us > period ? r->absent_us : period);
        r->t_offset = (int64_t)resume_at - (int64_t)first->t_us;
        t = resume_at;
    }
    rm_gap gap = {.start_us = r->last_t, .end_us = t, .reason = RM_GAP_UNPLUGGED};
    if (r->have_source_gap)
        gap.lost_samples = r->source_gap_lost;
    else if (r->info.sample_rate_hz && t > r->last_t)
        gap.lost_samples = (t - r->last_t) * r->info.sample_rate_hz / 1000000u - 1;
    r->have_source_gap = false;
    write_gap(r, &gap);
    rm_event plug = {.t_us = t, .kind = RM_EVENT_PLUG};
    rm_error err;
    note_write(r, rm_session_writer_add_event(r->writer, &plug, &err), &err);
    r->resync_pending = false;
}

/* Why the session ends at sample t (NULL: it goes on). Checked before the
 * sample is taken: a full session does not take it. */
static const char *full_before(const rm_recorder *r, uint64_t t)
{
    return r->opt.max_session_us && t - r->first_t >= r->opt.max_session_us
        ? "duration reached" : NULL;
}

/* ... and after it is taken: idle long enough. */
static const char *idle_after(const rm_recorder *r, uint64_t t)
{
    return !r->explicit_session && t - r->last_loaded_t >= r->opt.idle_us ? "idle"
                                                                          : NULL;
}

/* Record s[i..n) until the session ends; returns where it stopped. */
static size_t record_run(rm_recorder *r, const rm_sample *s, size_t i, size_t n,
                         uint64_t now_us)
{
    if (r->resync_pending)
        resync_after_resume(r, &s[i]);
    if (r->session_samples == 0) {
        r->first_t = session_time(r, s[i].t_us);
        r->last_loaded_t = r->first_t;
    }
    size_t end = i;
    const char *why = NULL;
    while (end < n && !why) {
        uint64_t t = session_time(r, s[end].t_us);
        if ((why = full_before(r, t)))
            break;
        if (total_force(r, &s[end]) >= r->opt.stop_threshold_n)
            r->last_loaded_t = t;
        end++;
        why = idle_after(r, t);
    }
    if (end > i) {
        append_shifted(r, s + i, end - i, now_us);
        r->session_samples += end - i;
        r->stats.samples_recorded += end - i;
        r->last_t = session_time(r, s[end - 1].t_us);
        r->stats.session_samples = r->session_samples;
        r->stats.session_span_us = r->last_t - r->first_t;
    }
    if (why) {
        bool idle = !strcmp(why, "idle");
        close_session(r, why);
        r->armed = idle; /* after a full session, unload before the next */
    }
    return end;
}

/* ---- pre-roll: the moments before an auto session starts --------------- */

/* Sized when the device (and so its rate) is known; allocation failure
 * just means no pre-roll. */
static void size_pre_roll(rm_recorder *r)
{
    size_t want = (size_t)(r->opt.pre_roll_us * r->info.sample_rate_hz / 1000000u);
    r->pre_len = r->pre_next = 0;
    if (want == r->pre_cap)
        return;
    free(r->pre_roll);
    r->pre_roll = want ? malloc(want * sizeof *r->pre_roll) : NULL;
    r->pre_cap = r->pre_roll ? want : 0;
    if (want && !r->pre_roll)
        log_line(r, RM_LOG_WARNING, "no memory for %zu samples of pre-roll", want);
}

void rm_recorder_set_options(rm_recorder *r, const rm_recorder_options *o)
{
    r->opt = *o;
    if (r->have_info)
        size_pre_roll(r);
}

static void keep_for_pre_roll(rm_recorder *r, const rm_sample *s, size_t n)
{
    if (r->pre_cap == 0)
        return;
    if (n > r->pre_cap) {
        s += n - r->pre_cap;
        n = r->pre_cap;
    }
    for (size_t i = 0; i < n; i++) {
        r->pre_roll[r->pre_next] = s[i];
        r->pre_next = (r->pre_next + 1) % r->pre_cap;
    }
    r->pre_len = r->pre_len + n < r->pre_cap ? r->pre_len + n : r->pre_cap;
}

/* The new auto session begins with what was kept, oldest first. */
static void write_pre_roll(rm_recorder *r, uint64_t now_us)
{
    if (r->pre_len == 0)
        return;
    size_t first = (r->pre_next + r->pre_cap - r->pre_len) % r->pre_cap;
    size_t run = r->pre_cap - first < r->pre_len ? r->pre_cap - first : r->pre_len;
    r->first_t = r->pre_roll[first].t_us;
    r->last_loaded_t = r->first_t;
    append_shifted(r, r->pre_roll + first, run, now_us);
    append_shifted(r, r->pre_roll, r->pre_len - run, now_us);
    r->last_t = r->pre_roll[(r->pre_next + r->pre_cap - 1) % r->pre_cap].t_us;
    r->session_samples += r->pre_len;
    r->stats.samples_recorded += r->pre_len;
    r->stats.samples_unrecorded -= r->pre_len;
    r->pre_len = 0;
}

/* Look for the sample that starts an auto session; returns its index (the
 * session is then open) or n. */
static size_t scan_for_start(rm_recorder *r, const rm_sample *s, size_t n,
                             uint64_t now_us)
{
    for (size_t j = 0; j < n; j++) {
        double force = total_force(r, &s[j]);
        if (force < r->opt.stop_threshold_n)
            r->armed = true;
        if (!r->opt.auto_start || !r->armed || force < r->opt.start_threshold_n ||
            now_us < r->start_retry_at)
            continue;
        rm_error err;
        if (open_session(r, NULL, false, &err) == RM_OK)
            return j;
        log_line(r, RM_LOG_ERROR, "cannot start a session: %s", err.message);
        snprintf(r->stats.last_error, sizeof r->stats.last_error, "%s", err.message);
        r->start_retry_at = now_us + START_RETRY_US;
        return n;
    }
    return n;
}

static void resume(rm_recorder *r)
{
    r->state = RM_RECORDER_RECORDING;
    r->resync_pending = true;
    r->stats.resumes++;
    log_line(r, RM_LOG_INFO, "session %s resumed after %.1f s unplugged",
             r->meta.session_id, (double)r->absent_us / 1e6);
}

void rm_recorder_samples(rm_recorder *r, const rm_sample *s, size_t n,
                         uint64_t now_us)
{
    if (!r->have_info || n == 0) {
        r->stats.samples_unrecorded += n;
        return;
    }
    r->last_sample_at = now_us;
    if (r->state == RM_RECORDER_SUSPENDED) {
        r->absent_us = now_us - r->unplugged_at;
        resume(r);
    }
    size_t i = 0;
    while (i < n) {
        if (r->state == RM_RECORDER_IDLE) {
            size_t start = scan_for_start(r, s + i, n - i, now_us);
            keep_for_pre_roll(r, s + i, start);
            r->stats.samples_unrecorded += start;
            i += start;
            if (r->state == RM_RECORDER_RECORDING)
                write_pre_roll(r, now_us);
        } else {
            i = record_run(r, s, i, n, now_us);
        }
    }
}

/* ---- device presence ----------------------------------------------------- */

static bool same_device(const rm_device_info *a, const rm_device_info *b)
{
    return a->channel_count == b->channel_count && !strcmp(a->serial, b->serial) &&
           !strcmp(a->model, b->model);
}

void rm_recorder_device(rm_recorder *r, const rm_device_info *info, uint64_t now_us)
{
    bool changed = r->have_info && !same_device(&r->info, info);
    if (changed && r->state != RM_RECORDER_IDLE)
        close_session(r, "a different device was connected");
    r->info = *info;
    r->have_info = true;
    r->sum_load_cells_only = has_load_cells(info);
    size_pre_roll(r);
    if (r->state == RM_RECORDER_SUSPENDED) {
        r->absent_us = now_us - r->unplugged_at;
        r->last_sample_at = now_us;
        resume(r);
    }
    if (r->start_requested && r->state == RM_RECORDER_IDLE) {
        rm_error err;
        r->start_requested = false;
        if (open_session(r, r->requested_path, true, &err) != RM_OK) {
            log_line(r, RM_LOG_ERROR, "cannot start the requested session: %s",
                     err.message);
            snprintf(r->stats.last_error, sizeof r->stats.last_error, "%s",
                     err.message);
        }
    }
}

void rm_recorder_source_ended(rm_recorder *r)
{
    r->start_requested = false;
    if (r->state != RM_RECORDER_IDLE)
        close_session(r, "the source ended");
}

void rm_recorder_unplugged(rm_recorder *r, uint64_t now_us)
{
    r->pre_len = 0;
    if (r->state != RM_RECORDER_RECORDING)
        return;
    rm_error err;
    rm_event unplug = {.t_us = r->last_t, .kind = RM_EVENT_UNPLUG};
    note_write(r, rm_session_writer_add_event(r->writer, &unplug, &err), &err);
    flush_writer(r, now_us);
    r->state = RM_RECORDER_SUSPENDED;
    r->unplugged_at = now_us;
    log_line(r, RM_LOG_WARNING, "device unplugged during session %s; waiting "
             "%.0f s for it to return", r->meta.session_id,
             (double)r->opt.resume_window_us / 1e6);
}

/* ---- gaps, events, timers ------------------------------------------------ */

void rm_recorder_gap(rm_recorder *r, const rm_gap *gap)
{
    if (gap->reason == RM_GAP_OVERFLOW)
        r->stats.overflow_samples += gap->lost_samples;
    if (r->state != RM_RECORDER_RECORDING)
        return;
    if (r->resync_pending && gap->reason == RM_GAP_UNPLUGGED) {
        /* written with the first sample, on the session clock */
        r->have_source_gap = true;
        r->source_gap_lost = gap->lost_samples;
        return;
    }
    rm_gap shifted = *gap;
    shifted.start_us = session_time(r, gap->start_us);
    shifted.end_us = session_time(r, gap->end_us);
    write_gap(r, &shifted);
}

void rm_recorder_event(rm_recorder *r, const rm_event *ev)
{
    if (r->state != RM_RECORDER_RECORDING)
        return;
    rm_event shifted = *ev;
    shifted.t_us = session_time(r, ev->t_us);
    rm_error err;
    note_write(r, rm_session_writer_add_event(r->writer, &shifted, &err), &err);
}

void rm_recorder_tick(rm_recorder *r, uint64_t now_us)
{
    if (r->state == RM_RECORDER_SUSPENDED &&
        now_us - r->unplugged_at > r->opt.resume_window_us) {
        close_session(r, "device absent longer than the resume window");
        return;
    }
    /* a connected device that stopped streaming is idle too */
    if (r->state == RM_RECORDER_RECORDING && !r->explicit_session &&
        now_us - r->last_sample_at >= r->opt.idle_us) {
        close_session(r, "no samples");
        r->armed = true;
        return;
    }
    if (r->state == RM_RECORDER_IDLE || !r->dirty)
        return;
    if (r->stats.write_failing ||
        now_us - r->last_flush_at >= (uint64_t)r->opt.writer.flush_interval_ms * 1000u)
        flush_writer(r, now_us);
}

/* ---- commands ------------------------------------------------------------ */

/* A start during an auto session adopts it: it becomes explicit (no idle
 * end) and takes the metadata, rather than being refused. */
static rm_status adopt_session(rm_recorder *r, const rm_session_meta *meta,
                               rm_error *err)
{
    r->explicit_session = true;
    log_line(r, RM_LOG_INFO, "session %s continues as requested", r->meta.session_id);
    return meta ? rm_recorder_set_meta(r, meta, err) : RM_OK;
}

rm_status rm_recorder_start(rm_recorder *r, const rm_session_meta *meta,
                            const char *path, rm_error *err)
{
    if (r->state != RM_RECORDER_IDLE && !r->explicit_session && !(path && *path))
        return adopt_session(r, meta, err);
    if (r->state != RM_RECORDER_IDLE || r->start_requested)
        return rm_error_set(err, RM_ERR_BUSY, "a session is already %s (%s)",
                            r->start_requested ? "requested" : "recording",
                            r->start_requested ? "waiting for the device"
                                               : r->stats.path);
    if (meta)
        rm_session_meta_merge(&r->next_meta, meta);
    if (!r->have_info) {
        r->start_requested = true;
        snprintf(r->requested_path, sizeof r->requested_path, "%s", path ? path : "");
        return RM_OK;
    }
    return open_session(r, path, true, err);
}

bool rm_recorder_withdraw_start(rm_recorder *r)
{
    bool was_waiting = r->start_requested;
    r->start_requested = false;
    return was_waiting;
}

rm_status rm_recorder_stop(rm_recorder *r, rm_error *err)
{
    if (r->start_requested) {
        r->start_requested = false;
        return RM_OK;
    }
    if (r->state == RM_RECORDER_IDLE)
        return rm_error_set(err, RM_ERR_NOT_FOUND, "no session is recording");
    close_session(r, "stopped on request");
    r->armed = false;
    return RM_OK;
}

rm_status rm_recorder_set_meta(rm_recorder *r, const rm_session_meta *meta,
                               rm_error *err)
{
    if (r->state == RM_RECORDER_IDLE) {
        rm_session_meta_merge(&r->next_meta, meta);
        return RM_OK;
    }
    rm_session_meta_merge(&r->meta, meta);
    r->meta.link = session_link(r);
    rm_error why;
    rm_status st = rm_session_writer_set_meta(r->writer, &r->meta, &why);
    note_write(r, st, &why);
    return st == RM_OK ? RM_OK : rm_error_set(err, st, "%s", why.message);
}

rm_status rm_recorder_note(rm_recorder *r, rm_event_kind kind, int32_t value,
                           const char *text, rm_error *err)
{
    if (r->state == RM_RECORDER_IDLE)
        return rm_error_set(err, RM_ERR_NOT_FOUND, "no session is recording");
    rm_event ev = {.t_us = r->last_t, .kind = (uint8_t)kind, .value = value};
    snprintf(ev.text, sizeof ev.text, "%s", text ? text : "");
    rm_error why;
    rm_status st = rm_session_writer_add_event(r->writer, &ev, &why);
    note_write(r, st, &why);
    return st == RM_OK ? RM_OK : rm_error_set(err, st, "%s", why.message);
}

void rm_recorder_get_status(const rm_recorder *r, rm_recorder_status *out)
{
    *out = r->stats;
    out->state = (uint8_t)r->state;
    out->explicit_session = r->explicit_session || r->start_requested;
    if (r->state == RM_RECORDER_IDLE) {
        out->session_samples = 0;
        out->session_span_us = 0;
    } else {
        out->session = r->meta;
    }
}

void rm_recorder_shut_down(rm_recorder *r)
{
    if (r->state != RM_RECORDER_IDLE)
        close_session(r, "recorder shut down");
}

void rm_recorder_free(rm_recorder *r)
{
    if (!r)
        return;
    rm_recorder_shut_down(r);
    free(r->pre_roll);
    free(r);
}
