/* rollmap record: control the daemon's recording over the live socket, or
 * capture in the foreground without a daemon. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "record"
/* How long a request to the daemon may take. */
#define REQUEST_TIMEOUT_MS 5000
/* How often the foreground capture checks its progress. */
#define POLL_US 50000
/* A foreground capture whose device never shows up gives up after this. */
#define CONNECT_TIMEOUT_US 15000000u
/* --tag options on one command line. */
#define MAX_TAGS 16

typedef struct record_args {
    rm_session_meta meta;
    bool have_meta;
    const char *socket;
    const char *source;
    const char *output;
    const char *library;
    const char *file;      /* tag --file: a closed session */
    const char *tags[MAX_TAGS]; /* --tag KEY=VALUE: free tags, for rollmapd */
    int tag_count;
    double duration_s;     /* 0: until the source ends or Ctrl-C */
} record_args;

static void usage(FILE *out)
{
    fputs("usage: rollmap record start [META] [--socket PATH]\n"
          "       rollmap record stop  [META] [--socket PATH]\n"
          "       rollmap record tag   META [--socket PATH | --file SESSION]\n"
          "       rollmap record --source SRC [--duration S] [-o FILE] [META]\n\n"
          "With start/stop/tag, tells the running rollmapd to open or close a\n"
          "session, or to set its metadata (before it starts: for the next one).\n"
          "tag --file sets the metadata of a session file that is already closed.\n"
          "With --source, captures in the foreground without the daemon and\n"
          "records one session (explicitly, whatever the load).\n\n"
          "META:\n"
          "  --client CODE     pseudonymous client code (never in file names)\n"
          "  --side left|right the leg; with --source sim:..., the virtual\n"
          "                    roller rolls it (unless sim: sets side=)\n"
          "  --muscle NAME     default hamstring\n"
          "  --notes TEXT\n"
          "  --tag KEY=VALUE   a free tag (repeatable; KEY= removes it), kept in\n"
          "                    the session file and the library; with start,\n"
          "                    stop and tag against rollmapd\n\n"
          "Options:\n"
          "  --socket PATH     the daemon's socket (default as rollmapd)\n"
          "  --source SRC      auto, serial:/dev/ttyACM0, tty:PATH, sim:...\n"
          "  --duration S      record S seconds of device time, then stop\n"
          "  -o, --output FILE session file (default: a new file in the library)\n"
          "  --library DIR     library folder for the default file name\n\n"
          "Examples:\n"
          "  rollmap record start --client C-017 --side left\n"
          "  rollmap record tag --tag shoe=none --tag phase=rehab\n"
          "  rollmap record --source sim:seed=1 --duration 120 -o test.rms\n", out);
}

enum { OPT_CLIENT = 1000, OPT_SIDE, OPT_MUSCLE, OPT_NOTES, OPT_SOCKET, OPT_SOURCE,
       OPT_DURATION, OPT_LIBRARY, OPT_FILE, OPT_TAG };

static int set_meta(record_args *a, cli_meta_option option)
{
    a->have_meta = true;
    return cli_parse_meta(CMD, option, optarg, &a->meta);
}

static int add_tag(record_args *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_fail_usage(CMD, "--tag '%s': expected KEY=VALUE", arg);
    if (a->tag_count == MAX_TAGS)
        return cli_fail_usage(CMD, "at most %d --tag options", MAX_TAGS);
    a->tags[a->tag_count++] = arg;
    a->have_meta = true;
    return CLI_OK;
}

static int parse_option(int ch, record_args *a)
{
    switch (ch) {
    case OPT_CLIENT: return set_meta(a, CLI_META_CLIENT);
    case OPT_SIDE: return set_meta(a, CLI_META_SIDE);
    case OPT_MUSCLE: return set_meta(a, CLI_META_MUSCLE);
    case OPT_NOTES: return set_meta(a, CLI_META_NOTES);
    case OPT_DURATION: {
        char *end;
        a->duration_s = strtod(optarg, &end);
        if (*end || end == optarg || a->duration_s <= 0) {
            cli_fail(CMD, "--duration '%s': expected seconds above 0", optarg);
            return CLI_USAGE;
        }
        return CLI_OK;
    }
    case OPT_SOCKET: a->socket = optarg; return CLI_OK;
    case OPT_SOURCE: a->source = optarg; return CLI_OK;
    case OPT_LIBRARY: a->library = optarg; return CLI_OK;
    case OPT_FILE: a->file = optarg; return CLI_OK;
    case OPT_TAG: return add_tag(a, optarg);
    case 'o': a->output = optarg; return CLI_OK;
    default:
        usage(stderr);
        return CLI_USAGE;
    }
}

static int parse_args(int argc, char **argv, record_args *a)
{
    static const struct option longs[] = {
        {"client", required_argument, NULL, OPT_CLIENT},
        {"side", required_argument, NULL, OPT_SIDE},
        {"muscle", required_argument, NULL, OPT_MUSCLE},
        {"notes", required_argument, NULL, OPT_NOTES},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"library", required_argument, NULL, OPT_LIBRARY},
        {"file", required_argument, NULL, OPT_FILE},
        {"tag", required_argument, NULL, OPT_TAG},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
        int rc = parse_option(ch, a);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* ---- talking to the daemon ---------------------------------------------- */

/* Build a request line with the JSON writer (it escapes the strings). */
static char *request_text(const char *cmd, const char *k1, const char *v1,
                          const rm_session_meta *meta)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    rm_json_writer w;
    rm_json_begin(&w, out, false);
    rm_json_object_open(&w);
    rm_json_key(&w, "cmd");
    rm_json_string(&w, cmd);
    if (k1) {
        rm_json_key(&w, "key");
        rm_json_string(&w, k1);
        rm_json_key(&w, "value");
        rm_json_string(&w, v1);
    }
    if (meta) {
        const char *fields[][2] = {{"client", meta->client}, {"muscle", meta->muscle},
                                   {"notes", meta->notes}};
        for (size_t i = 0; i < 3; i++) {
            if (!fields[i][1][0])
                continue;
            rm_json_key(&w, fields[i][0]);
            rm_json_string(&w, fields[i][1]);
        }
        if (meta->side != RM_SIDE_UNKNOWN) {
            rm_json_key(&w, "side");
            rm_json_string(&w, rm_side_name((rm_side)meta->side));
        }
    }
    rm_json_object_close(&w);
    fclose(out);
    return text;
}

static rm_status send_request(rm_client *c, char *text, rm_json **reply, rm_error *err)
{
    if (!text)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = rm_client_request(c, text, reply, REQUEST_TIMEOUT_MS, err);
    free(text);
    return st;
}

/* One "tag" request per metadata field that is set. */
static rm_status send_tags(rm_client *c, const rm_session_meta *m, rm_error *err)
{
    const char *fields[][2] = {{"client", m->client}, {"muscle", m->muscle},
                               {"notes", m->notes},
                               {"side", m->side ? rm_side_name((rm_side)m->side) : ""}};
    rm_status st = RM_OK;
    for (size_t i = 0; i < 4 && st == RM_OK; i++)
        if (fields[i][1][0])
            st = send_request(c, request_text("tag", fields[i][0], fields[i][1], NULL),
                              NULL, err);
    return st;
}

/* One "tag" request per --tag: free tags of the session being recorded. */
static rm_status send_free_tags(rm_client *c, const record_args *a,
                                rm_error *err)
{
    rm_status st = RM_OK;
    for (int i = 0; i < a->tag_count && st == RM_OK; i++) {
        size_t klen = strcspn(a->tags[i], "=");
        char *key = strndup(a->tags[i], klen);
        st = send_request(c, key ? request_text("tag", key, a->tags[i] + klen + 1,
                                                NULL) : NULL, NULL, err);
        free(key);
    }
    return st;
}

static int daemon_command(const char *what, const record_args *a)
{
    rm_client *c;
    rm_error err;
    if (rm_client_connect(&c, a->socket, &err) != RM_OK)
        return cli_fail(CMD, "%s (is rollmapd running?)", err.message);
    rm_json *reply = NULL;
    rm_status st;
    if (!strcmp(what, "start")) {
        st = send_request(c, request_text("start", NULL, NULL, &a->meta), &reply, &err);
        if (st == RM_OK)
            st = send_free_tags(c, a, &err);
    } else {
        st = send_tags(c, &a->meta, &err);
        if (st == RM_OK)
            st = send_free_tags(c, a, &err);
        if (st == RM_OK && !strcmp(what, "stop"))
            st = send_request(c, request_text("stop", NULL, NULL, NULL), NULL, &err);
    }
    rm_client_close(c);
    if (st != RM_OK) {
        rm_json_free(reply);
        return cli_fail_error(CMD, &err);
    }
    const char *id = rm_json_as_string(rm_json_get(reply, "session_id"), "");
    if (!strcmp(what, "start"))
        printf(*id ? "recording session %s\n" : "recording starts when the device "
               "connects%s\n", id);
    else
        printf("%s\n", !strcmp(what, "stop") ? "session stopped" : "metadata set");
    rm_json_free(reply);
    return CLI_OK;
}

/* tag --file: metadata after the session, appended to the closed file. */
static int tag_file(const record_args *a)
{
    rm_session *s;
    rm_error err;
    if (rm_session_open(&s, a->file, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_session_meta meta = *rm_session_meta_of(s);
    rm_session_close(s);
    rm_session_meta_merge(&meta, &a->meta);
    if (rm_session_file_set_meta(a->file, &meta, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("metadata set in %s\n", a->file);
    return CLI_OK;
}

/* ---- foreground capture ---------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void print_log(void *user, rm_log_level level, const char *line)
{
    (void)user;
    if (level <= RM_LOG_WARNING)
        fprintf(stderr, "rollmap record: %s\n", line);
}

/* The session asked for could not be opened (its file exists, its folder
 * is not writable): nothing will be recorded however long we wait. */
static bool session_refused(const rm_capture_status *s)
{
    return s->recorder.last_error[0] && !s->recorder.path[0] &&
           !s->recorder.last_path[0];
}

static bool capture_done(const rm_capture_status *s, uint64_t started_us)
{
    if (interrupted || s->source_ended || session_refused(s))
        return true;
    if (s->recorder.sessions_closed > 0) /* --duration reached */
        return true;
    return !s->device_known && rm_monotonic_us() - started_us > CONNECT_TIMEOUT_US;
}

/* Counts come from the file itself: what is in it is what was recorded. */
static int report(const rm_capture_status *s, const char *path)
{
    if (!s->device_known)
        return cli_fail(CMD, "no device: %s", s->last_source_error[0]
                        ? s->last_source_error : "the source never answered");
    if (session_refused(s))
        return CLI_FAILURE; /* print_log has said why */
    rm_session *file;
    rm_error err;
    if (rm_session_open(&file, path, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("%s: %llu samples recorded, %llu frames rejected, %llu frames lost, "
           "%llu samples lost to overflow\n", path,
           (unsigned long long)rm_session_sample_count(file),
           (unsigned long long)s->frames_rejected, (unsigned long long)s->frames_lost,
           (unsigned long long)s->ring_dropped);
    rm_session_close(file);
    return CLI_OK;
}

/* Where rollmapd finds the calibrations stored by rollmap calibrate, and
 * when it calls one stale: both come from the daemon's defaults, and the
 * capture applies them the same way (rm_calibration_apply_checked). */
static void use_stored_calibration(rm_capture_options *o)
{
    rm_daemon_config cfg;
    rm_daemon_config_default(&cfg);
    snprintf(o->calibration_dir, sizeof o->calibration_dir, "%s",
             cfg.calibration_dir);
    o->calibration_max_age_days = cfg.calibration_max_age_days;
}

static int foreground(const record_args *a)
{
    rm_capture_options o = {0};
    rm_error err;
    if (rm_source_parse(a->source, &o.source, &err) != RM_OK ||
        (a->meta.side != RM_SIDE_UNKNOWN &&
         rm_source_sim_default(&o.source, "side",
                               rm_side_name((rm_side)a->meta.side),
                               &err) != RM_OK))
        return cli_fail(CMD, "--source: %s", err.message);
    use_stored_calibration(&o);
    o.ring_capacity = rm_capture_ring_size(2000, 5.0);
    rm_reconnect_policy_default(&o.reconnect);
    o.end_at_eof = true;
    rm_recorder_options_default(&o.recorder);
    o.recorder.auto_start = false;
    o.recorder.max_session_us = (uint64_t)(a->duration_s * 1e6);
    o.recorder.log = print_log;
    if (a->library)
        snprintf(o.recorder.library, sizeof o.recorder.library, "%s", a->library);
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    o.record_now = true;
    o.record_meta = a->meta;
    if (a->output)
        snprintf(o.record_path, sizeof o.record_path, "%s", a->output);
    rm_capture *cap;
    if (rm_capture_start(&cap, &o, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    uint64_t started = rm_monotonic_us();
    rm_capture_status s;
    for (rm_capture_get_status(cap, &s); !capture_done(&s, started);
         rm_capture_get_status(cap, &s))
        usleep(POLL_US);
    rm_capture_stop(cap, &s);
    /* the session is still open, or already closed when the source ended */
    return report(&s, s.recorder.path[0] ? s.recorder.path : s.recorder.last_path);
}

int cmd_record(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_OK;
    }
    record_args a = {0};
    const char *what = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    int rc = what ? parse_args(argc - 1, argv + 1, &a) : parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    if (a.tag_count && (a.file || !what))
        return cli_fail_usage(CMD, "--tag goes to a session rollmapd is "
                              "recording; for a closed one use 'rollmap "
                              "library tag ID KEY=VALUE'");
    if (!what && a.source)
        return foreground(&a);
    if (what && (!strcmp(what, "start") || !strcmp(what, "stop")))
        return daemon_command(what, &a);
    if (what && !strcmp(what, "tag") && a.have_meta)
        return a.file ? tag_file(&a) : daemon_command(what, &a);
    cli_fail(CMD, what ? "unknown action '%s' (start, stop or tag; tag needs META)"
                       : "give start, stop, tag or --source%s", what ? what : "");
    return CLI_USAGE;
}
