/* The live relay: one connection to rollmapd's live socket per server,
 * shared by every browser watching. Each viewer has its own small queue:
 * samples are coalesced (a waiting one is replaced by the newer) and
 * decimated to the viewer's rate, events are kept in order up to
 * WEB_VIEWER_QUEUE and then the oldest is dropped. So a slow or sleeping
 * browser costs rollmapd nothing: the relay reads rollmapd at its own pace
 * whatever the viewers do. */
#include "web_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a read of rollmapd waits before checking for stop. */
#define READ_TIMEOUT_MS 250
/* Wait between attempts to reach a rollmapd that is not running. */
#define RECONNECT_MS 1000
/* A request to rollmapd is answered within this (docs/LIVE.md). */
#define COMMAND_TIMEOUT_MS 3000
/* SAMPLE times are rounded to 1 ms (docs/LIVE.md): a 20 ms interval may
 * read 19 ms. */
#define SAMPLE_TIME_STEP_S 0.001

struct web_viewer {
    web_viewer *next;
    double interval_s;       /* device time between samples sent */
    double last_sample_t;
    char *sample;            /* the newest sample not sent yet */
    char *events[WEB_VIEWER_QUEUE];
    size_t head, count;
    unsigned long dropped;   /* events lost to a full queue, not told yet */
};

struct web_relay {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char socket_path[108];
    bool stop;
    bool connected;
    web_viewer *viewers;
    char *last_status;       /* given to viewers as they join */
    char *last_link;         /* the relay's own RELAY line */
};

static void push_event(web_viewer *v, const char *line)
{
    char *copy = strdup(line);
    if (!copy)
        return;
    if (v->count == WEB_VIEWER_QUEUE) {
        free(v->events[v->head]);
        v->head = (v->head + 1) % WEB_VIEWER_QUEUE;
        v->count--;
        v->dropped++;
    }
    v->events[(v->head + v->count) % WEB_VIEWER_QUEUE] = copy;
    v->count++;
}

static void offer_sample(web_viewer *v, const char *line, double t_s)
{
    /* A device time going back means a new session or device: start over. */
    if (t_s >= v->last_sample_t &&
        t_s - v->last_sample_t < v->interval_s - SAMPLE_TIME_STEP_S)
        return;
    char *copy = strdup(line);
    if (!copy)
        return;
    free(v->sample);
    v->sample = copy;
    v->last_sample_t = t_s;
}

static void replace_line(char **slot, const char *line)
{
    char *copy = strdup(line);
    if (copy) {
        free(*slot);
        *slot = copy;
    }
}

static void broadcast(web_relay *r, const char *line)
{
    rm_json *doc = NULL;
    rm_error err = {0};
    if (rm_json_parse(&doc, line, strlen(line), &err) != RM_OK)
        return;
    const char *cls = rm_json_as_string(rm_json_get(doc, "class"), "");
    bool sample = strcmp(cls, "SAMPLE") == 0;
    double t_s = rm_json_as_number(rm_json_get(doc, "t_s"), 0);
    pthread_mutex_lock(&r->lock);
    if (strcmp(cls, "STATUS") == 0)
        replace_line(&r->last_status, line);
    if (strcmp(cls, "RELAY") == 0)
        replace_line(&r->last_link, line);
    for (web_viewer *v = r->viewers; v; v = v->next) {
        if (sample)
            offer_sample(v, line, t_s);
        else
            push_event(v, line);
    }
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    rm_json_free(doc);
}

static void announce_link(web_relay *r, bool connected, const char *why)
{
    if (r->connected == connected && r->last_link)
        return;
    r->connected = connected;
    char line[512];
    rm_json_writer w;
    FILE *out = fmemopen(line, sizeof line, "w");
    if (!out)
        return;
    rm_json_begin(&w, out, false);
    rm_json_object_open(&w);
    rm_json_member_string(&w, "class", "RELAY");
    rm_json_member_bool(&w, "connected", connected);
    rm_json_member_string(&w, "message", why);
    rm_json_object_close(&w);
    rm_json_end(&w);
    fputc('\0', out);
    fclose(out);
    line[sizeof line - 1] = '\0';
    line[strcspn(line, "\n")] = '\0';
    broadcast(r, line);
}

static bool stopping(web_relay *r)
{
    pthread_mutex_lock(&r->lock);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

static void wait_before_reconnect(web_relay *r)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += RECONNECT_MS / 1000;
    pthread_mutex_lock(&r->lock);
    while (!r->stop &&
           pthread_cond_timedwait(&r->changed, &r->lock, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&r->lock);
}

static void relay_connection(web_relay *r, rm_client *c)
{
    static const char watch[] = "{\"cmd\":\"watch\",\"samples\":true,\"rate\":"
        "50,\"events\":true,\"status\":true}";
    _Static_assert(WEB_RELAY_RATE_HZ == 50, "the watch request asks for 50");
    rm_error err = {0};
    if (rm_client_send(c, watch, &err) != RM_OK ||
        rm_client_send(c, "{\"cmd\":\"status\"}", &err) != RM_OK) {
        announce_link(r, false, err.message);
        return;
    }
    announce_link(r, true, "connected to rollmapd");
    while (!stopping(r)) {
        const char *line = NULL;
        rm_status st = rm_client_read_line(c, &line, READ_TIMEOUT_MS, &err);
        if (st == RM_OK)
            broadcast(r, line);
        else if (st != RM_ERR_TIMEOUT) {
            announce_link(r, false, "rollmapd went away (the live socket "
                                    "closed)");
            return;
        }
    }
}

static void *relay_thread(void *arg)
{
    web_relay *r = arg;
    while (!stopping(r)) {
        rm_client *c = NULL;
        rm_error err = {0};
        if (rm_client_connect(&c, r->socket_path, &err) == RM_OK) {
            relay_connection(r, c);
            rm_client_close(c);
        } else {
            announce_link(r, false, err.message);
        }
        if (!stopping(r))
            wait_before_reconnect(r);
    }
    return NULL;
}

rm_status web_relay_start(web_relay **out, const char *socket_path,
                          rm_error *err)
{
    web_relay *r = calloc(1, sizeof *r);
    if (!r)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    snprintf(r->socket_path, sizeof r->socket_path, "%s", socket_path);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    int e = pthread_create(&r->thread, NULL, relay_thread, r);
    if (e) {
        pthread_cond_destroy(&r->changed);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return rm_error_set(err, RM_ERR_NOMEM, "live relay thread: %s",
                            strerror(e));
    }
    *out = r;
    return RM_OK;
}

void web_relay_stop(web_relay *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
}

void web_relay_free(web_relay *r)
{
    if (!r)
        return;
    while (r->viewers)
        web_relay_leave(r, r->viewers);
    free(r->last_status);
    free(r->last_link);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

web_viewer *web_relay_join(web_relay *r, unsigned rate_hz)
{
    web_viewer *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->interval_s = 1.0 / rate_hz;
    v->last_sample_t = -1e9;
    pthread_mutex_lock(&r->lock);
    if (r->last_link)
        push_event(v, r->last_link);
    if (r->last_status)
        push_event(v, r->last_status);
    v->next = r->viewers;
    r->viewers = v;
    pthread_mutex_unlock(&r->lock);
    return v;
}

static void free_viewer(web_viewer *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->events[(v->head + i) % WEB_VIEWER_QUEUE]);
    free(v->sample);
    free(v);
}

void web_relay_leave(web_relay *r, web_viewer *v)
{
    pthread_mutex_lock(&r->lock);
    for (web_viewer **p = &r->viewers; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            break;
        }
    pthread_mutex_unlock(&r->lock);
    free_viewer(v);
}

/* One SSE message if it fits in the space left; false when it does not. */
static bool put_message(char *buf, size_t cap, size_t *used, const char *line)
{
    size_t need = strlen(line) + 8; /* "data: " + "\n\n" */
    if (*used + need > cap)
        return false;
    *used += (size_t)snprintf(buf + *used, cap - *used, "data: %s\n\n", line);
    return true;
}

static size_t take_lines(web_viewer *v, char *buf, size_t cap)
{
    size_t used = 0;
    if (v->dropped) {
        char notice[96];
        snprintf(notice, sizeof notice,
                 "{\"class\":\"NOTICE\",\"skipped\":%lu}", v->dropped);
        if (!put_message(buf, cap, &used, notice))
            return used;
        v->dropped = 0;
    }
    while (v->count && put_message(buf, cap, &used, v->events[v->head])) {
        free(v->events[v->head]);
        v->head = (v->head + 1) % WEB_VIEWER_QUEUE;
        v->count--;
    }
    if (!v->count && v->sample && put_message(buf, cap, &used, v->sample)) {
        free(v->sample);
        v->sample = NULL;
    }
    return used;
}

ssize_t web_viewer_read(web_relay *r, web_viewer *v, char *buf, size_t cap,
                        int timeout_ms)
{
    struct timespec until;
    rm_deadline_after_ms(CLOCK_REALTIME, timeout_ms, &until);
    pthread_mutex_lock(&r->lock);
    while (!r->stop && !v->count && !v->sample && !v->dropped &&
           pthread_cond_timedwait(&r->changed, &r->lock, &until) != ETIMEDOUT) {
    }
    ssize_t n = r->stop ? -1 : (ssize_t)take_lines(v, buf, cap);
    pthread_mutex_unlock(&r->lock);
    return n;
}

rm_status web_relay_command(const char *socket_path, const char *request,
                            rm_json **reply, rm_error *err)
{
    rm_client *c = NULL;
    rm_status st = rm_client_connect(&c, socket_path, err);
    if (st != RM_OK)
        return st;
    st = rm_client_request(c, request, reply, COMMAND_TIMEOUT_MS, err);
    rm_client_close(c);
    return st;
}
