/* The live socket server: newline-delimited JSON over a Unix socket
 * (docs/LIVE.md).
 *
 * One thread polls the listening socket, the clients and a wake-up eventfd.
 * Publishers (the daemon's consumer thread) format lines and append them to
 * each watching client's bounded output buffer under a mutex held for a few
 * microseconds; they never write to a socket. A client whose buffer is more
 * than half full is skipped (it later gets a NOTICE saying how many lines it
 * missed) and one whose buffer stays full for stall_timeout_ms is dropped,
 * so a stuck client never slows capture. */
#include "rollmap_daemon.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server_internal.h"

/* Protocol version in the VERSION line; minor grows with additions. */
#define PROTO_MAJOR 1
#define PROTO_MINOR 0
/* Longest line the server writes: a STATUS with 1 KiB of escaped notes. */
#define LINE_MAX_BYTES 16384
/* The low byte of rm_live_values.flags holds the RM_SAMPLE_* flags. */
#define SAMPLE_FLAGS_MASK 0xffu
/* Poll timeout: how often stalled clients are checked without traffic. */
#define POLL_INTERVAL_MS 200
/* Slots beyond max_clients for status and commands only: `rollmap status`
 * and `rollmap record` get in while every watching slot is taken. */
#define COMMAND_SLOTS 4
/* A client must send its first request this soon after connecting (the
 * rollmap tools send theirs at once): connections that never speak do not
 * hold slots. */
#define FIRST_REQUEST_MS 3000
/* A client that watches nothing is closed after this long without a
 * request (a watcher is busy reading; a stuck one is dropped as stalled). */
#define IDLE_MS 60000
/* Connections taken per wake-up, so a flood cannot starve the clients. */
#define ACCEPT_BURST 64

typedef struct client {
    int fd;
    char in[RM_SERVER_MAX_REQUEST];
    size_t in_len;
    bool discarding;           /* skipping the rest of an oversized line */
    char *out;                 /* pending output: out[out_start, out_start+out_len) */
    size_t out_start, out_len;
    bool watch_samples, watch_events, watch_status;
    uint32_t rate_hz;
    uint64_t next_sample_us;   /* sample time of the next SAMPLE line */
    uint16_t pending_flags;    /* sample flags since the last SAMPLE line */
    uint64_t skipped;          /* lines not delivered since the last NOTICE */
    uint64_t full_since_us;    /* 0 while the client keeps up */
    bool command_slot;         /* in one of the COMMAND_SLOTS: may not watch */
    bool spoke;                /* has sent a request */
    uint64_t last_heard_us;    /* connection or last request, monotonic */
} client;

struct rm_server {
    rm_server_options opt;
    rm_server_handlers handlers;
    int listen_fd, wake_fd;
    pthread_t thread;
    bool running;              /* thread started and not yet joined */
    atomic_bool stop;

    pthread_mutex_t lock;      /* everything below */
    client **clients;          /* slot_count slots, NULL = free */
    size_t slot_count;         /* max_clients watching + COMMAND_SLOTS */
    size_t client_count;
    rm_live *live;
    rm_live_values latest;
    bool have_latest;
    rm_daemon_status status;
    rm_disk_space disk;        /* of status.library_dir */
    char line[LINE_MAX_BYTES];
    FILE *line_file;           /* writes into line[] */
};

void rm_server_options_default(rm_server_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->max_clients = 64;
    opt->client_buffer = 64 * 1024; /* seconds of 50 Hz samples */
    opt->stall_timeout_ms = 10000;
    rm_live_config_default(&opt->live);
}

const char *rm_server_path(const rm_server *srv)
{
    return srv->opt.path;
}

size_t rm_server_client_count(rm_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    size_t n = srv->client_count;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

static void wake(rm_server *srv)
{
    uint64_t one = 1;
    /* can only fail with EAGAIN, when the counter is already far from zero:
     * the server thread is woken either way */
    ssize_t written = write(srv->wake_fd, &one, sizeof one);
    (void)written;
}

/* ------------------------------------------------------------------------ */
/* Lines and client buffers (called with the lock held)                     */
/* ------------------------------------------------------------------------ */

static void line_begin(rm_server *srv, rm_json_writer *w, const char *cls)
{
    rewind(srv->line_file);
    rm_json_begin(w, srv->line_file, false);
    rm_json_object_open(w);
    rm_json_key(w, "class");
    rm_json_string(w, cls);
}

/* Finish the line; returns its length with the newline, 0 if it overflowed. */
static size_t line_end(rm_server *srv, rm_json_writer *w)
{
    rm_json_object_close(w);
    fputc('\n', srv->line_file);
    rm_json_end(w);
    long len = ftell(srv->line_file);
    if (len <= 0 || len >= LINE_MAX_BYTES - 1)
        return 0;
    return (size_t)len;
}

static void client_compact(client *c)
{
    if (c->out_start > 0) {
        memmove(c->out, c->out + c->out_start, c->out_len);
        c->out_start = 0;
    }
}

static bool client_append_raw(rm_server *srv, client *c, const char *data,
                              size_t len)
{
    if (c->out_len + len > srv->opt.client_buffer)
        return false;
    if (c->out_start + c->out_len + len > srv->opt.client_buffer)
        client_compact(c);
    memcpy(c->out + c->out_start + c->out_len, data, len);
    c->out_len += len;
    return true;
}

static void note_full(client *c)
{
    c->skipped++;
    if (!c->full_since_us)
        c->full_since_us = rm_monotonic_us();
}

/* Queue a line the client did not ask for directly (sample, event, status).
 * Past half its buffer the client is skipped; once it has caught up it
 * first learns how many lines it missed. */
static void client_push(rm_server *srv, client *c, const char *line, size_t len)
{
    if (c->skipped > 0) {
        if (c->out_len > srv->opt.client_buffer / 2) {
            note_full(c);
            return;
        }
        char notice[96];
        int n = snprintf(notice, sizeof notice,
                         "{\"class\":\"NOTICE\",\"skipped\":%llu}\n",
                         (unsigned long long)c->skipped);
        if (!client_append_raw(srv, c, notice, (size_t)n)) {
            note_full(c);
            return;
        }
        c->skipped = 0;
    }
    if (!client_append_raw(srv, c, line, len))
        note_full(c);
    else
        c->full_since_us = 0;
}

/* Queue the answer to the client's own request: never skipped for being
 * behind, only when it cannot fit at all. */
static void client_reply(rm_server *srv, client *c, size_t len)
{
    if (len == 0 || !client_append_raw(srv, c, srv->line, len))
        note_full(c);
}

static void reply_error(rm_server *srv, client *c, const char *message)
{
    rm_json_writer w;
    line_begin(srv, &w, "ERROR");
    rm_json_key(&w, "message");
    rm_json_string(&w, message);
    client_reply(srv, c, line_end(srv, &w));
}

static void reply_ok(rm_server *srv, client *c, const char *cmd,
                     const char *session_id)
{
    rm_json_writer w;
    line_begin(srv, &w, "OK");
    rm_json_key(&w, "cmd");
    rm_json_string(&w, cmd);
    if (session_id) {
        rm_json_key(&w, "session_id");
        rm_json_string(&w, session_id);
    }
    client_reply(srv, c, line_end(srv, &w));
}

/* ------------------------------------------------------------------------ */
/* SAMPLE, EVENT and STATUS lines                                           */
/* ------------------------------------------------------------------------ */

static size_t format_sample(rm_server *srv, const rm_live_values *v,
                            uint16_t flags)
{
    rm_json_writer w;
    line_begin(srv, &w, "SAMPLE");
    static const char *const keys[] = {
        "t_s", "force_n", "pressure_kpa", "position_cm", "position_pct",
        "ml", "lean_mm", "speed_cm_s", "dwell_s"};
    const double values[] = {v->t_s, v->force_n, v->pressure_kpa,
                             v->position_cm, v->position_pct, v->ml,
                             v->lean_mm, v->speed_cm_s, v->dwell_s};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        rm_json_key(&w, keys[i]);
        rm_json_number(&w, i == 0 ? round(values[i] * 1000.0) / 1000.0
                                  : daemon_round_hundredths(values[i]));
    }
    rm_json_key(&w, "flags");
    rm_json_int(&w, flags);
    return line_end(srv, &w);
}

static size_t format_event(rm_server *srv, const rm_live_event *ev)
{
    rm_json_writer w;
    line_begin(srv, &w, "EVENT");
    rm_json_key(&w, "event");
    rm_json_string(&w, rm_live_event_kind_name((rm_live_event_kind)ev->kind));
    rm_json_key(&w, "t_s");
    rm_json_number(&w, round(ev->t_s * 1000.0) / 1000.0);
    if (!isnan(ev->position_cm)) {
        rm_json_key(&w, "position_cm");
        rm_json_number(&w, daemon_round_hundredths(ev->position_cm));
    }
    if (ev->kind == RM_LIVE_DWELL_END) {
        rm_json_key(&w, "duration_s");
        rm_json_number(&w, daemon_round_hundredths(ev->duration_s));
    }
    if (ev->kind == RM_LIVE_MARK) {
        rm_json_key(&w, "rating");
        if (ev->rating >= 0)
            rm_json_int(&w, ev->rating);
        else
            rm_json_null(&w);
    }
    if (ev->text[0]) {
        rm_json_key(&w, "text");
        rm_json_string(&w, ev->text);
    }
    return line_end(srv, &w);
}

static void publish_line(rm_server *srv, size_t len, bool events, bool status)
{
    if (len == 0)
        return;
    for (size_t i = 0; i < srv->slot_count; i++) {
        client *c = srv->clients[i];
        if (c && ((events && c->watch_events) || (status && c->watch_status)))
            client_push(srv, c, srv->line, len);
    }
}

static void publish_event_locked(rm_server *srv, const rm_live_event *ev)
{
    rm_live_event filled = *ev;
    if (isnan(filled.t_s))
        filled.t_s = srv->have_latest ? srv->latest.t_s : 0;
    if (isnan(filled.position_cm) && filled.kind == RM_LIVE_MARK &&
        srv->have_latest)
        filled.position_cm = srv->latest.position_cm;
    if (filled.kind == RM_LIVE_SESSION_START) {
        rm_live_reset(srv->live);
        srv->have_latest = false;
    }
    publish_line(srv, format_event(srv, &filled), true, false);
}

static void mark_from_button(rm_server *srv)
{
    rm_live_event ev = {.kind = RM_LIVE_MARK, .t_s = NAN,
                        .position_cm = NAN, .rating = -1};
    strcpy(ev.text, "button");
    publish_event_locked(srv, &ev);
}

static void offer_sample(rm_server *srv, client *c, const rm_sample *s,
                         const rm_live_values *v)
{
    /* sample flags (a mark, an overload) must survive decimation; the live
     * flags describe the moment of the line */
    c->pending_flags |= v->flags & SAMPLE_FLAGS_MASK;
    if (s->t_us < c->next_sample_us)
        return;
    uint64_t period = 1000000u / c->rate_hz;
    c->next_sample_us = c->next_sample_us + period > s->t_us
                            ? c->next_sample_us + period
                            : s->t_us + period;
    uint16_t flags = c->pending_flags | (v->flags & ~SAMPLE_FLAGS_MASK);
    client_push(srv, c, srv->line, format_sample(srv, v, flags));
    c->pending_flags = 0;
}

void rm_server_publish_samples(rm_server *srv, const rm_sample *samples,
                               size_t count)
{
    pthread_mutex_lock(&srv->lock);
    for (size_t k = 0; k < count; k++) {
        rm_live_event events[2];
        size_t n = rm_live_update(srv->live, &samples[k], &srv->latest, events);
        srv->have_latest = true;
        for (size_t e = 0; e < n; e++)
            publish_event_locked(srv, &events[e]);
        if (samples[k].flags & RM_SAMPLE_MARK)
            mark_from_button(srv);
        for (size_t i = 0; i < srv->slot_count; i++) {
            client *c = srv->clients[i];
            if (c && c->watch_samples)
                offer_sample(srv, c, &samples[k], &srv->latest);
        }
    }
    pthread_mutex_unlock(&srv->lock);
    wake(srv);
}

void rm_server_publish_event(rm_server *srv, const rm_live_event *ev)
{
    pthread_mutex_lock(&srv->lock);
    publish_event_locked(srv, ev);
    pthread_mutex_unlock(&srv->lock);
    wake(srv);
}

void rm_server_set_device(rm_server *srv, const rm_device_info *info)
{
    pthread_mutex_lock(&srv->lock);
    /* the latest values time the events of the same roller back */
    srv->have_latest = rm_live_set_device(srv->live, info) && srv->have_latest;
    pthread_mutex_unlock(&srv->lock);
}

static size_t format_status(rm_server *srv)
{
    rm_json_writer w;
    line_begin(srv, &w, "STATUS");
    daemon_status_json_members(&w, &srv->status, srv->client_count, &srv->disk);
    return line_end(srv, &w);
}

void rm_server_set_status(rm_server *srv, const rm_daemon_status *status)
{
    /* measured outside the lock: a slow file system must not hold publishers */
    rm_disk_space disk = daemon_disk_space_measure(status->library_dir);
    pthread_mutex_lock(&srv->lock);
    srv->status = *status;
    srv->disk = disk;
    bool watched = false;
    for (size_t i = 0; i < srv->slot_count; i++)
        watched |= srv->clients[i] && srv->clients[i]->watch_status;
    if (watched)
        publish_line(srv, format_status(srv), false, true);
    pthread_mutex_unlock(&srv->lock);
    wake(srv);
}

/* ------------------------------------------------------------------------ */
/* Requests (server thread, lock not held while handlers run)               */
/* ------------------------------------------------------------------------ */

static void answer(rm_server *srv, client *c, rm_status st, const rm_error *err,
                   const char *cmd, const char *session_id)
{
    pthread_mutex_lock(&srv->lock);
    if (st == RM_OK)
        reply_ok(srv, c, cmd, session_id);
    else
        reply_error(srv, c, err->message[0] ? err->message : rm_strerror(st));
    pthread_mutex_unlock(&srv->lock);
}

static void refuse_watch(rm_server *srv, client *c)
{
    char message[160];
    snprintf(message, sizeof message, "too many clients: all %u watching slots "
             "are taken (status and commands still work); try again when a "
             "live view closes", srv->opt.max_clients);
    pthread_mutex_lock(&srv->lock);
    reply_error(srv, c, message);
    pthread_mutex_unlock(&srv->lock);
}

static void handle_watch(rm_server *srv, client *c, const rm_watch_request *req)
{
    if (c->command_slot && (req->samples || req->events || req->status)) {
        refuse_watch(srv, c);
        return;
    }
    pthread_mutex_lock(&srv->lock);
    c->watch_samples = req->samples;
    c->watch_events = req->events;
    c->watch_status = req->status;
    c->rate_hz = req->rate_hz;
    c->next_sample_us = 0;
    c->pending_flags = 0;
    rm_json_writer w;
    line_begin(srv, &w, "WATCH");
    rm_json_key(&w, "samples");
    rm_json_bool(&w, c->watch_samples);
    rm_json_key(&w, "rate");
    rm_json_int(&w, c->rate_hz);
    rm_json_key(&w, "events");
    rm_json_bool(&w, c->watch_events);
    rm_json_key(&w, "status");
    rm_json_bool(&w, c->watch_status);
    client_reply(srv, c, line_end(srv, &w));
    pthread_mutex_unlock(&srv->lock);
}

static void handle_status(rm_server *srv, client *c)
{
    pthread_mutex_lock(&srv->lock);
    client_reply(srv, c, format_status(srv));
    pthread_mutex_unlock(&srv->lock);
}

static rm_status not_supported(const char *cmd, rm_error *err)
{
    return rm_error_set(err, RM_ERR_UNSUPPORTED,
                        "%s: not supported by this server", cmd);
}

static void handle_mark(rm_server *srv, client *c, int rating)
{
    const rm_server_handlers *h = &srv->handlers;
    rm_error err = {0};
    rm_status st = h->mark ? h->mark(h->user, rating, &err)
                           : not_supported("mark", &err);
    answer(srv, c, st, &err, "mark", NULL);
    if (st == RM_OK) {
        rm_live_event ev = {.kind = RM_LIVE_MARK, .t_s = NAN,
                            .position_cm = NAN, .rating = rating};
        rm_server_publish_event(srv, &ev);
    }
}

static void handle_request(rm_server *srv, client *c, const rm_request *req)
{
    const rm_server_handlers *h = &srv->handlers;
    rm_error err = {0};
    rm_status st;
    rm_session_meta meta;
    switch (req->cmd) {
    case RM_REQ_WATCH:
        handle_watch(srv, c, &req->u.watch);
        return;
    case RM_REQ_STATUS:
        handle_status(srv, c);
        return;
    case RM_REQ_START:
        meta = req->u.start;
        st = h->start ? h->start(h->user, &meta, &err)
                      : not_supported("start", &err);
        answer(srv, c, st, &err, "start", st == RM_OK ? meta.session_id : NULL);
        return;
    case RM_REQ_STOP:
        st = h->stop ? h->stop(h->user, &err) : not_supported("stop", &err);
        answer(srv, c, st, &err, "stop", NULL);
        return;
    case RM_REQ_TAG:
        st = h->tag ? h->tag(h->user, req->u.tag.key, req->u.tag.value, &err)
                    : not_supported("tag", &err);
        answer(srv, c, st, &err, "tag", NULL);
        return;
    case RM_REQ_MARK:
        handle_mark(srv, c, req->u.rating);
        return;
    case RM_REQ_TARE:
        st = h->tare ? h->tare(h->user, &err) : not_supported("tare", &err);
        answer(srv, c, st, &err, "tare", NULL);
        return;
    case RM_REQ_RATE:
        st = h->rate ? h->rate(h->user, req->u.rate_hz, &err)
                     : not_supported("rate", &err);
        answer(srv, c, st, &err, "rate", NULL);
        return;
    }
}

static void handle_line(rm_server *srv, client *c, const char *line, size_t len)
{
    rm_request req;
    rm_error err = {0};
    rm_status st = daemon_request_parse(line, len, &req, &err);
    if (st == RM_OK)
        handle_request(srv, c, &req);
    else
        answer(srv, c, st, &err, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* Client connections                                                       */
/* ------------------------------------------------------------------------ */

static void client_free(client *c)
{
    if (c) {
        close(c->fd);
        free(c->out);
        free(c);
    }
}

static void drop_client(rm_server *srv, size_t slot)
{
    pthread_mutex_lock(&srv->lock);
    client *c = srv->clients[slot];
    srv->clients[slot] = NULL;
    srv->client_count--;
    pthread_mutex_unlock(&srv->lock);
    client_free(c);
}

static void send_hello(rm_server *srv, client *c)
{
    rm_json_writer w;
    line_begin(srv, &w, "VERSION");
    rm_json_key(&w, "release");
    rm_json_string(&w, RM_VERSION_STRING);
    rm_json_key(&w, "proto_major");
    rm_json_int(&w, PROTO_MAJOR);
    rm_json_key(&w, "proto_minor");
    rm_json_int(&w, PROTO_MINOR);
    client_reply(srv, c, line_end(srv, &w));
}

/* One ERROR line, best effort: the client is closed whether it hears it
 * or not. */
static void send_error_line(int fd, const char *why)
{
    char line[256];
    int n = snprintf(line, sizeof line,
                     "{\"class\":\"ERROR\",\"message\":\"%s\"}\n", why);
    (void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* A refused client gets one ERROR line and is closed. */
static void refuse(int fd, const char *why)
{
    send_error_line(fd, why);
    close(fd);
}

/* Only the server thread fills and frees slots, so it may look without
 * the lock. The command slots come last, taken when the others are. */
static size_t free_slot(const rm_server *srv)
{
    size_t slot = 0;
    while (slot < srv->slot_count && srv->clients[slot])
        slot++;
    return slot;
}

static void refuse_full(const rm_server *srv, int fd)
{
    char why[160];
    snprintf(why, sizeof why, "too many clients: all %zu connections are taken; "
             "try again in a few seconds", srv->slot_count);
    refuse(fd, why);
}

static client *client_new(const rm_server *srv, int fd)
{
    client *c = calloc(1, sizeof *c);
    char *out = malloc(srv->opt.client_buffer);
    if (!c || !out) {
        free(c);
        free(out);
        return NULL;
    }
    c->fd = fd;
    c->out = out;
    c->rate_hz = RM_WATCH_RATE_DEFAULT_HZ;
    return c;
}

/* False when no connection was waiting. */
static bool accept_client(rm_server *srv)
{
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return false;
    size_t slot = free_slot(srv);
    if (slot == srv->slot_count) {
        refuse_full(srv, fd);
        return true;
    }
    client *c = client_new(srv, fd);
    if (!c) {
        refuse(fd, "server out of memory");
        return true;
    }
    c->command_slot = slot >= srv->opt.max_clients;
    c->last_heard_us = rm_monotonic_us();
    pthread_mutex_lock(&srv->lock);
    srv->clients[slot] = c;
    srv->client_count++;
    send_hello(srv, c);
    pthread_mutex_unlock(&srv->lock);
    return true;
}

static void accept_clients(rm_server *srv)
{
    for (int i = 0; i < ACCEPT_BURST && accept_client(srv); i++)
        continue;
}

/* Complete lines in c->in go to handle_line; a line longer than the limit
 * is answered with an ERROR and skipped up to its newline. */
static void split_lines(rm_server *srv, client *c)
{
    size_t start = 0;
    for (size_t i = 0; i < c->in_len; i++) {
        if (c->in[i] != '\n')
            continue;
        if (!c->discarding && i > start) {
            c->spoke = true;
            c->last_heard_us = rm_monotonic_us();
            handle_line(srv, c, c->in + start, i - start);
        }
        c->discarding = false;
        start = i + 1;
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len == sizeof c->in) {
        if (!c->discarding) {
            rm_error err;
            rm_error_set(&err, RM_ERR_ARG,
                         "request line longer than %d bytes: discarded",
                         RM_SERVER_MAX_REQUEST);
            answer(srv, c, RM_ERR_ARG, &err, NULL, NULL);
        }
        c->discarding = true;
        c->in_len = 0;
    }
}

/* Returns false when the client hung up or failed. */
static bool read_client(rm_server *srv, client *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (n > 0) {
        c->in_len += (size_t)n;
        split_lines(srv, c);
    }
    return true;
}

/* Send what is queued; returns false when the client is gone. */
static bool flush_client(rm_server *srv, client *c)
{
    pthread_mutex_lock(&srv->lock);
    bool alive = true;
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out + c->out_start, c->out_len,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            alive = errno == EAGAIN || errno == EINTR;
            break;
        }
        c->out_start += (size_t)n;
        c->out_len -= (size_t)n;
        c->full_since_us = 0;
    }
    if (c->out_len == 0)
        c->out_start = 0;
    pthread_mutex_unlock(&srv->lock);
    return alive;
}

/* Called with the lock held, so full_since_us is not newer than now. */
static bool stalled(rm_server *srv, const client *c)
{
    return c->full_since_us &&
           rm_monotonic_us() - c->full_since_us >
               (uint64_t)srv->opt.stall_timeout_ms * 1000u;
}

/* Why a client that holds a slot without using it is closed, or NULL. */
static const char *idle_reason(const client *c, uint64_t now_us)
{
    uint64_t quiet_ms = (now_us - c->last_heard_us) / 1000u;
    if (!c->spoke && quiet_ms >= FIRST_REQUEST_MS)
        return "closed: no request within 3 s of connecting";
    bool watching = c->watch_samples || c->watch_events || c->watch_status;
    if (!watching && quiet_ms >= IDLE_MS)
        return "closed: no request for 60 s and nothing watched";
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The server thread                                                        */
/* ------------------------------------------------------------------------ */

/* pollfd 0 is the listening socket, 1 the wake-up eventfd, then one per
 * client; slots[k] is the client slot of pollfd k. */
static size_t build_pollset(rm_server *srv, struct pollfd *fds, size_t *slots)
{
    fds[0] = (struct pollfd){.fd = srv->listen_fd, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = srv->wake_fd, .events = POLLIN};
    size_t n = 2;
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->slot_count; i++) {
        client *c = srv->clients[i];
        if (!c)
            continue;
        fds[n] = (struct pollfd){.fd = c->fd,
                                 .events = POLLIN | (c->out_len ? POLLOUT : 0)};
        slots[n++] = i;
    }
    pthread_mutex_unlock(&srv->lock);
    return n;
}

static void serve_clients(rm_server *srv, const struct pollfd *fds,
                          const size_t *slots, size_t n)
{
    for (size_t k = 2; k < n; k++) {
        client *c = srv->clients[slots[k]];
        bool alive = !(fds[k].revents & (POLLERR | POLLNVAL));
        if (alive && (fds[k].revents & (POLLIN | POLLHUP)))
            alive = read_client(srv, c);
        if (alive)
            alive = flush_client(srv, c);
        const char *idle = alive ? idle_reason(c, rm_monotonic_us()) : NULL;
        if (idle) {
            send_error_line(c->fd, idle);
            alive = false;
        }
        pthread_mutex_lock(&srv->lock);
        alive = alive && !stalled(srv, c);
        pthread_mutex_unlock(&srv->lock);
        if (!alive)
            drop_client(srv, slots[k]);
    }
}

static void *server_main(void *arg)
{
    rm_server *srv = arg;
    size_t cap = srv->slot_count + 2;
    struct pollfd *fds = calloc(cap, sizeof *fds);
    size_t *slots = calloc(cap, sizeof *slots);
    while (fds && slots && !atomic_load(&srv->stop)) {
        size_t n = build_pollset(srv, fds, slots);
        if (poll(fds, n, POLL_INTERVAL_MS) < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            uint64_t count; /* reading resets the counter; its value is moot */
            ssize_t got = read(srv->wake_fd, &count, sizeof count);
            (void)got;
        }
        if (fds[0].revents & POLLIN)
            accept_clients(srv);
        serve_clients(srv, fds, slots, n);
    }
    free(fds);
    free(slots);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Opening and closing                                                      */
/* ------------------------------------------------------------------------ */

/* Create the socket's folder (one level, private) when it is missing. */
static rm_status ensure_parent(const char *path, rm_error *err)
{
    char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return RM_OK;
    *slash = '\0';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot create folder: %s",
                            dir, strerror(errno));
    return RM_OK;
}

/* A socket file left by a daemon that died is removed; a live one or a
 * file that is not a socket is left alone. */
static rm_status clear_stale(const struct sockaddr_un *addr, rm_error *err)
{
    struct stat st;
    if (lstat(addr->sun_path, &st) < 0)
        return RM_OK;
    if (!S_ISSOCK(st.st_mode))
        return rm_error_set(err, RM_ERR_BUSY, "%s: exists and is not a socket",
                            addr->sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rm_error_set(err, RM_ERR_IO, "socket: %s", strerror(errno));
    bool live = connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
    close(fd);
    if (live)
        return rm_error_set(err, RM_ERR_BUSY,
                            "%s: another rollmapd is already listening there",
                            addr->sun_path);
    unlink(addr->sun_path);
    return RM_OK;
}

/* Listen on path (mode 0660); on failure nothing is left behind. */
static rm_status listen_at(const char *path, int *out, rm_error *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return rm_error_set(err, RM_ERR_ARG,
                            "socket path '%s' is longer than %zu bytes",
                            path, sizeof addr.sun_path - 1);
    strcpy(addr.sun_path, path);
    rm_status st = ensure_parent(addr.sun_path, err);
    if (st == RM_OK)
        st = clear_stale(&addr, err);
    if (st != RM_OK)
        return st;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rm_error_set(err, RM_ERR_IO, "socket: %s", strerror(errno));
    bool bound = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    /* a small backlog: clients are accepted as soon as they knock */
    if (!bound || chmod(addr.sun_path, 0660) < 0 || listen(fd, 16) < 0) {
        st = rm_error_set(err, RM_ERR_IO, "%s: cannot listen: %s",
                          addr.sun_path, strerror(errno));
        if (bound)
            unlink(addr.sun_path);
        close(fd);
        return st;
    }
    *out = fd;
    return RM_OK;
}

static rm_status start_thread(rm_server *srv, rm_error *err)
{
    atomic_store(&srv->stop, false);
    srv->running = pthread_create(&srv->thread, NULL, server_main, srv) == 0;
    return srv->running ? RM_OK
                        : rm_error_set(err, RM_ERR_IO, "live server: cannot start thread");
}

static void stop_thread(rm_server *srv)
{
    if (!srv->running)
        return;
    atomic_store(&srv->stop, true);
    wake(srv);
    pthread_join(srv->thread, NULL);
    srv->running = false;
}

static rm_status server_init(rm_server *srv, rm_error *err)
{
    srv->slot_count = srv->opt.max_clients + COMMAND_SLOTS;
    srv->clients = calloc(srv->slot_count, sizeof *srv->clients);
    srv->line_file = fmemopen(srv->line, sizeof srv->line, "w");
    if (!srv->clients || !srv->line_file)
        return rm_error_set(err, RM_ERR_NOMEM, "live server: out of memory");
    rm_status st = rm_live_new(&srv->live, &srv->opt.live, err);
    if (st != RM_OK)
        return st;
    srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->wake_fd < 0)
        return rm_error_set(err, RM_ERR_IO, "eventfd: %s", strerror(errno));
    st = listen_at(srv->opt.path, &srv->listen_fd, err);
    if (st != RM_OK)
        return st;
    return start_thread(srv, err);
}

static void server_free(rm_server *srv)
{
    for (size_t i = 0; srv->clients && i < srv->slot_count; i++)
        client_free(srv->clients[i]);
    free(srv->clients);
    if (srv->line_file)
        fclose(srv->line_file);
    rm_live_free(srv->live);
    if (srv->wake_fd >= 0)
        close(srv->wake_fd);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

rm_status rm_server_open(rm_server **out, const rm_server_options *opt,
                         const rm_server_handlers *handlers, rm_error *err)
{
    if (opt->max_clients == 0 || opt->client_buffer < LINE_MAX_BYTES)
        return rm_error_set(err, RM_ERR_ARG,
                            "live server: max_clients must be > 0 and "
                            "client_buffer at least %d bytes", LINE_MAX_BYTES);
    rm_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return rm_error_set(err, RM_ERR_NOMEM, "live server: out of memory");
    srv->opt = *opt;
    if (!srv->opt.path[0])
        rm_default_socket_path(srv->opt.path, sizeof srv->opt.path, NULL);
    if (handlers)
        srv->handlers = *handlers;
    srv->listen_fd = srv->wake_fd = -1;
    atomic_init(&srv->stop, false);
    pthread_mutex_init(&srv->lock, NULL);
    rm_status st = server_init(srv, err);
    if (st != RM_OK) {
        if (srv->listen_fd >= 0)
            unlink(srv->opt.path);
        server_free(srv);
        return st;
    }
    *out = srv;
    return RM_OK;
}

/* Tell every client why it is being let go and send what is queued,
 * without waiting for slow readers. Publishers may still be queueing. */
static void say_goodbye(rm_server *srv, const char *why)
{
    pthread_mutex_lock(&srv->lock);
    rm_json_writer w;
    line_begin(srv, &w, "NOTICE");
    rm_json_key(&w, "message");
    rm_json_string(&w, why);
    size_t len = line_end(srv, &w);
    for (size_t i = 0; i < srv->slot_count; i++)
        if (srv->clients[i])
            client_append_raw(srv, srv->clients[i], srv->line, len);
    pthread_mutex_unlock(&srv->lock);
    for (size_t i = 0; i < srv->slot_count; i++)
        if (srv->clients[i])
            flush_client(srv, srv->clients[i]);
}

rm_status rm_server_move(rm_server *srv, const char *path, rm_error *err)
{
    char next[sizeof srv->opt.path];
    snprintf(next, sizeof next, "%s", path);
    if (!next[0])
        rm_default_socket_path(next, sizeof next, NULL);
    int fd;
    rm_status st = listen_at(next, &fd, err);
    if (st != RM_OK)
        return st;
    stop_thread(srv); /* it owns the client slots and the listening socket */
    say_goodbye(srv, "rollmapd moved to another socket");
    for (size_t i = 0; i < srv->slot_count; i++)
        if (srv->clients[i])
            drop_client(srv, i);
    close(srv->listen_fd);
    unlink(srv->opt.path);
    srv->listen_fd = fd;
    memcpy(srv->opt.path, next, sizeof next);
    return start_thread(srv, err);
}

void rm_server_close(rm_server *srv)
{
    if (!srv)
        return;
    stop_thread(srv);
    say_goodbye(srv, "rollmapd is shutting down");
    unlink(srv->opt.path);
    server_free(srv);
}
