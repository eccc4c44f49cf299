/* rollmapd: the capture daemon. A thin layer over the daemon library:
 * configuration, logging, signals, the single-instance lock, and the
 * wiring between the capture pipeline and the live socket server. */
#include "rollmap_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* How often the status snapshot for {"cmd":"status"} is refreshed. */
#define STATUS_INTERVAL_MS 500
/* Most --set overrides on one command line. */
#define MAX_OVERRIDES 32

typedef struct options {
    const char *config_path;   /* NULL: the default file if it exists */
    bool foreground;
    const char *source, *socket, *library, *log;
    const char *overrides[MAX_OVERRIDES];
    int override_count;
} options;

typedef struct daemon_ctx {
    options opt;
    rm_daemon_config cfg;
    rm_capture *capture;         /* NULL once stopped for good */
    rm_server *server;
    rm_library_indexer *indexer; /* adds finished sessions; NULL: none */
    /* A reload replaces the capture and the indexer on the main thread:
     * these keep the commands (server thread) and the sessions ending
     * (capture threads) off the old ones. */
    pthread_mutex_t capture_lock;
    pthread_mutex_t indexer_lock;
    int lock_fd;
    int64_t started_unix_us;
    uint64_t last_received, last_rate_at;
    double rate_hz;
    uint64_t upload_due_us;      /* next upload of the recording; 0 none */
} daemon_ctx;

/* ---- logging --------------------------------------------------------------- */

/* log_lock guards the target and level too: a reload changes them while
 * the capture and server threads log. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t log_target = RM_LOG_TO_STDERR;
static uint8_t log_level = RM_LOG_INFO;

static const int syslog_priority[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void log_sink(void *user, rm_log_level level, const char *line)
{
    (void)user;
    pthread_mutex_lock(&log_lock);
    if ((unsigned)level <= log_level) {
        if (log_target == RM_LOG_TO_SYSLOG)
            syslog(syslog_priority[level], "%s", line);
        else
            fprintf(stderr, "rollmapd: %s: %s\n", level_names[level], line);
    }
    pthread_mutex_unlock(&log_lock);
}

#define logf_(level, ...) rm_daemon_log(log_sink, NULL, level, __VA_ARGS__)

static void open_log(const rm_daemon_config *cfg)
{
    pthread_mutex_lock(&log_lock);
    if (log_target == RM_LOG_TO_SYSLOG)
        closelog();
    log_target = cfg->log_target;
    log_level = cfg->log_level;
    if (log_target == RM_LOG_TO_SYSLOG)
        openlog("rollmapd", LOG_PID, LOG_DAEMON);
    pthread_mutex_unlock(&log_lock);
}

/* ---- command line ------------------------------------------------------------ */

static void usage(FILE *out)
{
    fputs("usage: rollmapd [options]\n\n"
          "Capture daemon for an instrumented foam roller: reads the device,\n"
          "records sessions into the library folder and serves the live view\n"
          "on a Unix socket (see rollmapd(8)).\n\n"
          "Options:\n"
          "  -c, --config FILE   configuration file (default\n"
          "                      $XDG_CONFIG_HOME/rollmap/rollmapd.conf if present)\n"
          "  -f, --foreground    stay in the foreground (systemd, terminals)\n"
          "  -s, --source SRC    device source: auto, serial:/dev/ttyACM0,\n"
          "                      usb:VID:PID, tty:PATH, sim:key=value,...\n"
          "  -S, --socket PATH   live socket path\n"
          "  -l, --library DIR   folder for session files\n"
          "  -L, --log TARGET    stderr or syslog\n"
          "      --set S.K=V     override one setting, e.g. session.idle_s=20\n"
          "  -V, --version       print the version\n"
          "  -h, --help          this help\n\n"
          "Signals: TERM/INT flush and close the session and exit; HUP re-reads\n"
          "the configuration, reopens the log and applies a new source, socket\n"
          "or database at once (see rollmapd(8)).\n\n"
          "Example:\n"
          "  rollmapd --foreground --source tty:/dev/roller0 --library ~/sessions\n",
          out);
}

enum { OPT_SET = 1000 };

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"source", required_argument, NULL, 's'},
        {"socket", required_argument, NULL, 'S'},
        {"library", required_argument, NULL, 'l'},
        {"log", required_argument, NULL, 'L'},
        {"set", required_argument, NULL, OPT_SET},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:fs:S:l:L:Vh", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config_path = optarg; break;
        case 'f': o->foreground = true; break;
        case 's': o->source = optarg; break;
        case 'S': o->socket = optarg; break;
        case 'l': o->library = optarg; break;
        case 'L': o->log = optarg; break;
        case OPT_SET:
            if (o->override_count == MAX_OVERRIDES) {
                fprintf(stderr, "rollmapd: at most %d --set options\n", MAX_OVERRIDES);
                return 2;
            }
            o->overrides[o->override_count++] = optarg;
            break;
        case 'V': printf("rollmapd %s\n", RM_VERSION_STRING); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rollmapd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* ---- configuration ------------------------------------------------------------ */

static rm_status set_override(rm_daemon_config *c, const char *key,
                              const char *value, rm_error *err)
{
    char assignment[4200];
    snprintf(assignment, sizeof assignment, "%s=%s", key, value);
    return rm_daemon_config_set(c, assignment, err);
}

/* Defaults, then the file, then --set, then the named options. */
static rm_status build_config(const options *o, rm_daemon_config *c, rm_error *err)
{
    rm_daemon_config_default(c);
    if (!o->foreground)
        c->log_target = RM_LOG_TO_SYSLOG;
    char default_path[4096];
    rm_default_config_path(default_path, sizeof default_path, NULL);
    const char *path = o->config_path;
    if (!path && default_path[0] && access(default_path, F_OK) == 0)
        path = default_path;
    rm_status st = path ? rm_daemon_config_load(c, path, err) : RM_OK;
    for (int i = 0; i < o->override_count && st == RM_OK; i++)
        st = rm_daemon_config_set(c, o->overrides[i], err);
    if (st == RM_OK && o->source)
        st = set_override(c, "device.source", o->source, err);
    if (st == RM_OK && o->socket)
        st = set_override(c, "socket.path", o->socket, err);
    if (st == RM_OK && o->library)
        st = set_override(c, "session.library", o->library, err);
    if (st == RM_OK && o->log)
        st = set_override(c, "log.target", o->log, err);
    return st == RM_OK ? rm_daemon_config_check(c, "", err) : st;
}

/* ---- the single-instance lock ---------------------------------------------------- */

static rm_status make_parent_dir(const char *path, rm_error *err)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return RM_OK;
    *slash = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return rm_error_set(err, RM_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    return RM_OK;
}

/* A lock file beside the socket: a second daemon on the same socket stops
 * here, before it could remove the first one's socket. */
static rm_status lock_socket(const char *socket_path, int *fd, rm_error *err)
{
    char path[sizeof ((rm_daemon_config *)0)->socket_path + 8];
    snprintf(path, sizeof path, "%s.lock", socket_path);
    rm_status st = make_parent_dir(path, err);
    if (st != RM_OK)
        return st;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return rm_error_set(err, RM_ERR_IO, "lock file %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return rm_error_set(err, RM_ERR_BUSY,
                            "another rollmapd is already running on %s "
                            "(lock %s is held); stop it first or use --socket",
                            socket_path, path);
    }
    return RM_OK;
}

/* ---- capture -> live server --------------------------------------------------- */

static void publish_text_event(rm_server *srv, rm_live_event_kind kind, const char *text)
{
    rm_live_event ev = {.kind = (uint8_t)kind, .t_s = NAN, .position_cm = NAN,
                        .duration_s = NAN, .rating = -1};
    snprintf(ev.text, sizeof ev.text, "%s", text);
    rm_server_publish_event(srv, &ev);
}

static void on_device(void *user, const rm_device_info *info)
{
    daemon_ctx *d = user;
    rm_server_set_device(d->server, info);
    logf_(RM_LOG_INFO, "device %s (serial %s): %u channels at %u Hz", info->model,
          info->serial, info->channel_count, info->sample_rate_hz);
}

static void on_samples(void *user, const rm_sample *s, size_t n)
{
    daemon_ctx *d = user;
    rm_server_publish_samples(d->server, s, n);
}

static void on_event(void *user, const rm_event *ev)
{
    daemon_ctx *d = user;
    if (ev->kind == RM_EVENT_TARE)
        publish_text_event(d->server, RM_LIVE_TARE, "");
    else if (ev->kind != RM_EVENT_MARK && ev->kind != RM_EVENT_BUTTON)
        publish_text_event(d->server, RM_LIVE_NOTICE,
                           ev->text[0] ? ev->text : rm_event_kind_name(ev->kind));
}

static void on_gap(void *user, const rm_gap *gap)
{
    daemon_ctx *d = user;
    char text[128];
    const char *reason = rm_gap_reason_name((rm_gap_reason)gap->reason);
    snprintf(text, sizeof text, "%llu samples lost (%s)",
             (unsigned long long)gap->lost_samples, reason);
    publish_text_event(d->server, RM_LIVE_NOTICE, text);
    /* A device reset's loss is only known once its samples come back. */
    if (gap->lost_samples > 0)
        logf_(RM_LOG_WARNING, "gap in the stream (%s): %s", reason, text);
    else
        logf_(RM_LOG_WARNING, "gap in the stream (%s)", reason);
}

static void on_connection(void *user, bool connected)
{
    daemon_ctx *d = user;
    publish_text_event(d->server, connected ? RM_LIVE_PLUG : RM_LIVE_UNPLUG,
                       d->cfg.source);
}

static void on_session(void *user, bool started, const rm_session_meta *meta,
                       const char *path)
{
    daemon_ctx *d = user;
    publish_text_event(d->server, started ? RM_LIVE_SESSION_START : RM_LIVE_SESSION_END,
                       meta->session_id);
    if (started)
        return;
    rm_error err;
    pthread_mutex_lock(&d->indexer_lock);
    rm_status st = d->indexer ? rm_library_indexer_submit(d->indexer, path, &err)
                              : RM_OK;
    pthread_mutex_unlock(&d->indexer_lock);
    if (st != RM_OK)
        logf_(RM_LOG_WARNING, "session library: %s", err.message);
}

/* A locked database (or a server that does not answer) is logged on the
 * first try and then every this many, not every few seconds for as long
 * as it lasts. */
#define LOCKED_LOG_EVERY 10

/* " (uploaded: 3 chunks sent, 112 there already)", or "" */
static void describe_upload(const rm_library_indexed *r, char *out, size_t cap)
{
    out[0] = '\0';
    if (r->upload)
        snprintf(out, cap, " (uploaded %llu bytes: %zu chunks sent, %zu there "
                 "already)", (unsigned long long)r->upload->bytes,
                 r->upload->chunks_sent, r->upload->chunks_kept);
}

static void log_indexed(const rm_library_indexed *r)
{
    char upload[128];
    describe_upload(r, upload, sizeof upload);
    const char *waited = r->tries > 1 ? " (the database was locked or its "
                                        "server unreachable before)" : "";
    if (r->upload_only)
        logf_(r->found || r->tries > 1 ? RM_LOG_INFO : RM_LOG_DEBUG,
              "session library: %s%s%s", r->path, upload, waited);
    else if (r->recovered)
        logf_(RM_LOG_INFO, "session library: %s was never closed (rollmapd "
              "was stopped while recording): closed it and added it as "
              "session %lld%s", r->path, (long long)r->id, upload);
    else if (r->found)
        logf_(RM_LOG_INFO, "session library: %s was not in the library: "
              "added it as session %lld%s", r->path, (long long)r->id, upload);
    else
        logf_(RM_LOG_INFO, "session library: %s is session %lld%s%s", r->path,
              (long long)r->id, upload, waited);
}

/* On the indexer's thread, after each try of a session file. */
static void on_indexed(void *user, const rm_library_indexed *r)
{
    (void)user;
    if (r->status == RM_OK)
        log_indexed(r);
    else if (r->retrying && (r->tries == 1 || r->tries % LOCKED_LOG_EVERY == 0))
        logf_(RM_LOG_WARNING, "session library: %s not %s yet (try %u): "
              "%s; trying again until it is", r->path,
              r->upload_only ? "uploaded" : "added", r->tries,
              r->err->message);
    else if (!r->retrying)
        logf_(RM_LOG_WARNING, "session library: %s not %s: %s (rollmapd "
              "tries again at its next start; or 'rollmap library %s' it)",
              r->path, r->upload_only ? "uploaded" : "added", r->err->message,
              r->upload_only ? "sync" : "add");
}

/* Sessions that end from now on go to the library at path ("" = none),
 * once it has opened; the previous indexer first adds what it was given. */
static rm_status switch_database(daemon_ctx *d, const char *path, rm_error *err)
{
    rm_library_indexer *next = NULL;
    rm_status st = path[0] ? rm_library_indexer_start(&next, path, on_indexed, d, err)
                           : RM_OK;
    if (st != RM_OK)
        return st;
    pthread_mutex_lock(&d->indexer_lock);
    rm_library_indexer *previous = d->indexer;
    d->indexer = next;
    pthread_mutex_unlock(&d->indexer_lock);
    rm_library_indexer_stop(previous);
    return RM_OK;
}

/* How long the indexer waits at most between tries of a server that does
 * not answer; a reload changes it for the running indexer too. */
static void set_database_retry(daemon_ctx *d, const rm_daemon_config *c)
{
    pthread_mutex_lock(&d->indexer_lock);
    if (d->indexer)
        rm_library_indexer_set_max_backoff(d->indexer,
                                           (long)(c->database_retry_max_us / 1000));
    pthread_mutex_unlock(&d->indexer_lock);
}

/* Recording goes on without the library: a database that cannot be opened
 * is logged, not fatal. The session files already in the folder are
 * listed before the capture starts, so the sweep sees only files this
 * rollmapd is not writing: sessions a killed rollmapd left unclosed and
 * sessions that never got their row. */
static void start_indexer(daemon_ctx *d)
{
    rm_error err;
    if (switch_database(d, d->cfg.database, &err) != RM_OK) {
        logf_(RM_LOG_WARNING, "session library: %s; sessions are recorded "
              "but not indexed", err.message);
        return;
    }
    set_database_retry(d, &d->cfg);
    if (d->indexer && rm_library_indexer_sweep(d->indexer, d->cfg.recorder.library,
                                               &err) != RM_OK)
        logf_(RM_LOG_WARNING, "session library: %s; sessions already in the "
              "folder are not looked at", err.message);
}

/* ---- commands from clients (server thread) ----------------------------------------- */

/* The capture, with capture_lock held (release_capture() after); NULL
 * with err set when it has stopped for good. */
static rm_capture *hold_capture(daemon_ctx *d, rm_error *err)
{
    pthread_mutex_lock(&d->capture_lock);
    if (!d->capture)
        rm_error_set(err, RM_ERR_CLOSED, "rollmapd is shutting down");
    return d->capture;
}

static void release_capture(daemon_ctx *d)
{
    pthread_mutex_unlock(&d->capture_lock);
}

/* A start that comes before the device is known (rollmapd just started,
 * the roller is being plugged in) waits this long for it, polling. */
#define START_WAIT_MS 3000
#define START_POLL_MS 20

/* The started session's id into meta; a start still waiting for a device
 * after START_WAIT_MS is withdrawn and refused: OK always has a session. */
static rm_status await_session(const daemon_ctx *d, rm_capture *c,
                               rm_session_meta *meta, rm_error *err)
{
    rm_capture_status s;
    for (unsigned waited = 0;; waited += START_POLL_MS) {
        rm_capture_get_status(c, &s);
        if (s.recorder.session.session_id[0] || waited >= START_WAIT_MS)
            break;
        usleep(START_POLL_MS * 1000);
    }
    if (!s.recorder.session.session_id[0] && rm_capture_record_withdraw(c))
        return rm_error_set(err, RM_ERR_NOT_FOUND, "start: no device after %d s "
                            "on %s (%s); nothing is recorded", START_WAIT_MS / 1000,
                            d->cfg.source, s.last_source_error[0]
                                ? s.last_source_error : "no device answered");
    if (!s.recorder.session.session_id[0])
        rm_capture_get_status(c, &s); /* it opened while being withdrawn */
    if (!s.recorder.session.session_id[0])
        return rm_error_set(err, RM_ERR_IO, "start: the session could not be "
                            "opened: %s", s.recorder.last_error);
    memcpy(meta->session_id, s.recorder.session.session_id, sizeof meta->session_id);
    return RM_OK;
}

static rm_status cmd_start(void *user, rm_session_meta *meta, rm_error *err)
{
    daemon_ctx *d = user;
    rm_capture *c = hold_capture(d, err);
    rm_status st = c ? rm_capture_record_start(c, meta, NULL, err) : RM_ERR_CLOSED;
    if (st == RM_OK)
        st = await_session(d, c, meta, err);
    release_capture(d);
    return st;
}

static rm_status cmd_stop(void *user, rm_error *err)
{
    daemon_ctx *d = user;
    rm_capture *c = hold_capture(d, err);
    rm_status st = c ? rm_capture_record_stop(c, err) : RM_ERR_CLOSED;
    release_capture(d);
    return st;
}

/* client, side, muscle and notes are the session's metadata (*is_meta);
 * every other key is a free tag. */
static rm_status meta_tag(const char *key, const char *value,
                          rm_session_meta *meta, bool *is_meta, rm_error *err)
{
    rm_side side;
    *is_meta = true;
    if (!strcmp(key, "client"))
        snprintf(meta->client, sizeof meta->client, "%s", value);
    else if (!strcmp(key, "muscle"))
        snprintf(meta->muscle, sizeof meta->muscle, "%s", value);
    else if (!strcmp(key, "notes"))
        snprintf(meta->notes, sizeof meta->notes, "%s", value);
    else if (!strcmp(key, "side") && rm_side_parse(value, &side) == RM_OK)
        meta->side = (uint8_t)side;
    else if (!strcmp(key, "side"))
        return rm_error_set(err, RM_ERR_ARG, "tag side = '%s': expected left, "
                            "right or unknown", value);
    else
        *is_meta = false;
    return RM_OK;
}

/* Metadata and free tags both go into the session file: a free tag as a
 * note event that the library reads back as a tag (docs/LIVE.md). */
static rm_status cmd_tag(void *user, const char *key, const char *value, rm_error *err)
{
    daemon_ctx *d = user;
    rm_session_meta meta = {0};
    char note[sizeof ((rm_event *)0)->text];
    bool is_meta;
    rm_status st = meta_tag(key, value, &meta, &is_meta, err);
    if (st == RM_OK && !is_meta)
        st = rm_library_tag_note(key, value, note, sizeof note, err);
    if (st != RM_OK)
        return st;
    rm_capture *c = hold_capture(d, err);
    if (c)
        st = is_meta ? rm_capture_record_meta(c, &meta, err)
                     : rm_capture_record_note(c, RM_EVENT_NOTE, 0, note, err);
    release_capture(d);
    return c ? st : RM_ERR_CLOSED;
}

static rm_status cmd_mark(void *user, int rating, rm_error *err)
{
    daemon_ctx *d = user;
    rm_capture *c = hold_capture(d, err);
    rm_status st = c ? rm_capture_record_note(c, RM_EVENT_MARK, rating, "", err)
                     : RM_ERR_CLOSED;
    release_capture(d);
    return st;
}

static rm_status cmd_tare(void *user, rm_error *err)
{
    daemon_ctx *d = user;
    rm_capture *c = hold_capture(d, err);
    if (c)
        rm_capture_request_tare(c);
    release_capture(d);
    return c ? RM_OK : RM_ERR_CLOSED;
}

static rm_status cmd_rate(void *user, uint32_t rate_hz, rm_error *err)
{
    daemon_ctx *d = user;
    rm_capture *c = hold_capture(d, err);
    rm_status st = c ? rm_capture_set_rate(c, rate_hz, err) : RM_ERR_CLOSED;
    release_capture(d);
    return st;
}

/* ---- status snapshot ------------------------------------------------------------ */

/* Copy text into a smaller status field, cut if it must be. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t len = strnlen(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* A recording in progress goes to a library that stores session data
 * every upload interval, on the indexer's thread: a machine that dies
 * loses nothing uploaded before. */
static void upload_recording(daemon_ctx *d, bool recording, const char *path,
                             uint64_t now)
{
    if (!recording || !path[0]) {
        d->upload_due_us = 0;
        return;
    }
    if (!d->upload_due_us)
        d->upload_due_us = now + d->cfg.upload_interval_us;
    if (now < d->upload_due_us)
        return;
    d->upload_due_us = now + d->cfg.upload_interval_us;
    rm_error err;
    pthread_mutex_lock(&d->indexer_lock);
    rm_status st = d->indexer
                       ? rm_library_indexer_submit_upload(d->indexer, path, &err)
                       : RM_OK;
    pthread_mutex_unlock(&d->indexer_lock);
    if (st != RM_OK)
        logf_(RM_LOG_WARNING, "session library: %s", err.message);
}

static void update_status(daemon_ctx *d)
{
    rm_capture_status s;
    rm_capture_get_status(d->capture, &s);
    uint64_t now = rm_monotonic_us();
    if (d->last_rate_at && now > d->last_rate_at)
        d->rate_hz = (double)(s.samples_received - d->last_received) * 1e6 /
                     (double)(now - d->last_rate_at);
    d->last_received = s.samples_received;
    d->last_rate_at = now;
    upload_recording(d, s.recorder.state != RM_RECORDER_IDLE, s.recorder.path,
                     now);

    rm_daemon_status ds = {0};
    copy_text(ds.source, sizeof ds.source, d->cfg.source);
    ds.device_connected = s.connected && s.device_known;
    ds.device = s.device;
    ds.calibration = s.calibration;
    ds.recording = s.recorder.state != RM_RECORDER_IDLE;
    ds.session = s.recorder.session;
    copy_text(ds.session_path, sizeof ds.session_path, s.recorder.path);
    ds.samples_received = s.samples_received;
    ds.samples_recorded = s.recorder.session_samples;
    ds.measured_rate_hz = d->rate_hz;
    ds.ring_dropped = s.ring_dropped;
    ds.frames_lost = s.frames_lost;
    ds.crc_errors = s.frames_rejected;
    copy_text(ds.library_dir, sizeof ds.library_dir, d->cfg.recorder.library);
    copy_text(ds.library_db, sizeof ds.library_db, d->cfg.database);
    pthread_mutex_lock(&d->indexer_lock);
    if (d->indexer)
        rm_library_indexer_state_get(d->indexer, &ds.indexing);
    pthread_mutex_unlock(&d->indexer_lock);
    ds.started_unix_us = d->started_unix_us;
    rm_server_set_status(d->server, &ds);
}

/* ---- start, reload, stop ------------------------------------------------------- */

static rm_status capture_options(daemon_ctx *d, const rm_daemon_config *cfg,
                                 rm_capture_options *o, rm_error *err)
{
    rm_status st = rm_daemon_config_capture_options(cfg, o, err);
    o->recorder.log = log_sink;
    o->recorder.session = on_session;
    o->recorder.session_user = d;
    o->hooks = (rm_capture_hooks){.device = on_device, .samples = on_samples,
                                  .event = on_event, .gap = on_gap,
                                  .connection = on_connection, .user = d};
    return st;
}

static rm_status open_server(daemon_ctx *d, rm_error *err)
{
    rm_server_options so;
    rm_server_options_default(&so);
    snprintf(so.path, sizeof so.path, "%s", d->cfg.socket_path);
    rm_server_handlers h = {.user = d, .start = cmd_start, .stop = cmd_stop,
                            .tag = cmd_tag, .mark = cmd_mark, .tare = cmd_tare,
                            .rate = cmd_rate};
    return rm_server_open(&d->server, &so, &h, err);
}

/* Threads start only here, after the fork of daemon(). A command that
 * comes as soon as the socket is up waits for the capture. */
static rm_status start_threads(daemon_ctx *d, const rm_capture_options *co,
                               rm_error *err)
{
    pthread_mutex_lock(&d->capture_lock);
    rm_status st = open_server(d, err);
    if (st == RM_OK)
        start_indexer(d);
    if (st == RM_OK)
        st = rm_capture_start(&d->capture, co, err);
    pthread_mutex_unlock(&d->capture_lock);
    return st;
}

/* Stop the capture (its session is closed and handed to the indexer) and
 * log its figures. Called with capture_lock held. */
static void stop_capture(daemon_ctx *d)
{
    if (!d->capture)
        return;
    rm_capture_status s;
    rm_capture_stop(d->capture, &s);
    d->capture = NULL;
    logf_(RM_LOG_INFO, "received %llu samples: %llu recorded, %llu outside "
          "sessions, %llu lost to ring overflow; %llu frames rejected, %llu lost "
          "on the link; %llu reconnects, %llu device messages dropped; ring "
          "high water %zu of %zu samples", (unsigned long long)s.samples_received,
          (unsigned long long)s.recorder.samples_recorded,
          (unsigned long long)s.recorder.samples_unrecorded,
          (unsigned long long)s.ring_dropped, (unsigned long long)s.frames_rejected,
          (unsigned long long)s.frames_lost, (unsigned long long)s.reconnects,
          (unsigned long long)s.messages_dropped, s.ring_high_water,
          s.ring_capacity);
}

/* A new source: the session ends as at shutdown, then the capture starts
 * again with next's [device] settings. False when it cannot start. */
static bool switch_source(daemon_ctx *d, const rm_daemon_config *next,
                          const rm_capture_options *co)
{
    logf_(RM_LOG_INFO, "reload: new source %s: closing the session and stopping "
          "the capture on %s", next->source, d->cfg.source);
    pthread_mutex_lock(&d->capture_lock);
    stop_capture(d);
    memcpy(d->cfg.source, next->source, sizeof d->cfg.source);
    rm_error err;
    rm_status st = rm_capture_start(&d->capture, co, &err);
    pthread_mutex_unlock(&d->capture_lock);
    if (st != RM_OK) {
        logf_(RM_LOG_ERROR, "reload: cannot capture from %s: %s; exiting",
              next->source, err.message);
        return false;
    }
    logf_(RM_LOG_INFO, "reload: capturing from %s", next->source);
    return true;
}

/* The lock moves with the socket, taken first on the new one. */
static rm_status move_socket(daemon_ctx *d, const char *path, rm_error *err)
{
    int fd;
    rm_status st = lock_socket(path, &fd, err);
    if (st != RM_OK)
        return st;
    st = rm_server_move(d->server, path, err);
    close(st == RM_OK ? d->lock_fd : fd);
    if (st == RM_OK)
        d->lock_fd = fd;
    return st;
}

/* A socket or database that cannot be opened leaves the running one in
 * next, and in force. */
static void switch_socket(daemon_ctx *d, rm_daemon_config *next)
{
    rm_error err;
    if (!strcmp(next->socket_path, d->cfg.socket_path))
        return;
    if (move_socket(d, next->socket_path, &err) == RM_OK) {
        logf_(RM_LOG_INFO, "reload: listening on %s; %s is closed and its "
              "clients were disconnected", next->socket_path, d->cfg.socket_path);
        return;
    }
    logf_(RM_LOG_ERROR, "reload: socket %s: %s (still listening on %s)",
          next->socket_path, err.message, d->cfg.socket_path);
    memcpy(next->socket_path, d->cfg.socket_path, sizeof next->socket_path);
}

static void change_library(daemon_ctx *d, rm_daemon_config *next)
{
    rm_error err;
    if (switch_database(d, next->database, &err) == RM_OK) {
        logf_(RM_LOG_INFO, "reload: session library is now %s",
              next->database[0] ? next->database : "none");
        return;
    }
    logf_(RM_LOG_ERROR, "reload: session library: %s (sessions still go to %s)",
          err.message, d->cfg.database[0] ? d->cfg.database : "none");
    memcpy(next->database, d->cfg.database, sizeof next->database);
}

static void switch_library(daemon_ctx *d, rm_daemon_config *next)
{
    if (strcmp(next->database, d->cfg.database))
        change_library(d, next);
    set_database_retry(d, next);
}

/* SIGHUP: reopen the log and apply the configuration. The session that
 * ends for a new source goes to the database it was recorded with.
 * False when rollmapd can no longer capture. */
static bool reload(daemon_ctx *d)
{
    rm_daemon_config next;
    rm_capture_options co;
    rm_error err;
    if (build_config(&d->opt, &next, &err) != RM_OK ||
        capture_options(d, &next, &co, &err) != RM_OK) {
        logf_(RM_LOG_ERROR, "reload: %s (keeping the running configuration)",
              err.message);
        return true;
    }
    open_log(&next);
    if (strcmp(next.source, d->cfg.source) && !switch_source(d, &next, &co))
        return false;
    switch_socket(d, &next);
    switch_library(d, &next);
    d->cfg = next;
    rm_capture_set_recorder_options(d->capture, &co.recorder);
    logf_(RM_LOG_INFO, "configuration reloaded");
    return true;
}

static void block_signals(sigset_t *set)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit is a write error, not death */
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL); /* inherited by every thread */
}

/* Until SIGTERM or SIGINT (0), or a reload that leaves no capture (1). */
static int run(daemon_ctx *d, const sigset_t *set)
{
    struct timespec interval = {0, STATUS_INTERVAL_MS * 1000000L};
    for (;;) {
        update_status(d);
        int sig = sigtimedwait(set, NULL, &interval);
        if (sig == SIGHUP && !reload(d))
            return 1;
        if (sig == SIGTERM || sig == SIGINT) {
            logf_(RM_LOG_INFO, "%s: closing the session and exiting",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return 0;
        }
    }
}

static void shut_down(daemon_ctx *d)
{
    pthread_mutex_lock(&d->capture_lock);
    stop_capture(d);
    pthread_mutex_unlock(&d->capture_lock);
    rm_server_close(d->server);
    rm_library_indexer_stop(d->indexer); /* adds the last session first */
    if (d->lock_fd >= 0)
        close(d->lock_fd);
}

/* Everything that can be wrong with the command line or the setup is
 * reported on stderr before the daemon detaches. */
static rm_status prepare(daemon_ctx *d, rm_capture_options *co, rm_error *err)
{
    rm_status st = build_config(&d->opt, &d->cfg, err);
    if (st == RM_OK)
        st = rm_daemon_config_add_usb_ids(&d->cfg, err);
    if (st == RM_OK)
        st = capture_options(d, &d->cfg, co, err);
    if (st == RM_OK)
        st = lock_socket(d->cfg.socket_path, &d->lock_fd, err);
    return st;
}

int main(int argc, char **argv)
{
    daemon_ctx d = {.capture_lock = PTHREAD_MUTEX_INITIALIZER,
                    .indexer_lock = PTHREAD_MUTEX_INITIALIZER, .lock_fd = -1};
    int rc = parse_args(argc, argv, &d.opt);
    if (rc >= 0)
        return rc;
    rm_error err;
    rm_capture_options co;
    if (prepare(&d, &co, &err) != RM_OK) {
        fprintf(stderr, "rollmapd: %s\n", err.message);
        return 1;
    }
    if (!d.opt.foreground && daemon(0, 0) != 0) {
        fprintf(stderr, "rollmapd: cannot detach: %s\n", strerror(errno));
        return 1;
    }
    open_log(&d.cfg);
    sigset_t set;
    block_signals(&set);
    d.started_unix_us = rm_wallclock_us();
    rc = 1;
    if (start_threads(&d, &co, &err) == RM_OK) {
        logf_(RM_LOG_INFO, "rollmapd %s: source %s, socket %s, library %s",
              RM_VERSION_STRING, d.cfg.source, rm_server_path(d.server), d.cfg.recorder.library);
        rc = run(&d, &set);
    } else {
        logf_(RM_LOG_ERROR, "%s", err.message);
    }
    shut_down(&d);
    return rc;
}
