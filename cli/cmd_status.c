/* rollmap status: what the running rollmapd is doing, asked over its live
 * socket (docs/LIVE.md). */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CMD "status"
/* How long to wait for rollmapd to answer. */
#define ANSWER_TIMEOUT_MS 3000

typedef struct status_options {
    bool json;
    char socket[108];
} status_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap status [--socket PATH] [--json]\n\n"
          "Ask the running capture daemon (rollmapd) what it is doing: the\n"
          "device and its calibration (device, stored, stale when older than\n"
          "rollmapd's calibration_max_age_days, or mismatch when a stored one\n"
          "was refused), the session being recorded, sample rates, dropped\n"
          "samples and CRC errors, connected clients, and the free space of\n"
          "the library folder. Exits 1 with a message when rollmapd is not\n"
          "running.\n\n"
          "Options:\n"
          "  --socket PATH  rollmapd's live socket (default\n"
          "                 $XDG_RUNTIME_DIR/rollmap/rollmapd.sock, else\n"
          "                 /tmp/rollmap-$UID/rollmapd.sock)\n"
          "  --json         print rollmapd's STATUS answer as JSON\n"
          "  -h, --help     this help\n\n"
          "Example:\n"
          "  rollmap status --json\n", out);
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, status_options *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    opterr = 0; /* our own message, in the "rollmap CMD: ..." form */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = true; break;
        case 's':
            if (cli_option_text(CMD, "socket", optarg, o->socket,
                                sizeof o->socket) != CLI_OK)
                return CLI_USAGE;
            break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            return cli_fail_option(CMD, argv[optind - 1], usage);
        }
    }
    if (optind < argc) {
        cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    return -1;
}

static const char *text(const rm_json *obj, const char *key)
{
    return rm_json_as_string(rm_json_get(obj, key), "?");
}

static double number(const rm_json *obj, const char *key)
{
    return rm_json_as_number(rm_json_get(obj, key), NAN);
}

static void format_bytes(char *out, size_t cap, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void format_duration(char *out, size_t cap, double seconds)
{
    if (isnan(seconds)) {
        snprintf(out, cap, "?");
        return;
    }
    long s = lround(seconds);
    if (s >= 3600)
        snprintf(out, cap, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(out, cap, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, cap, "%lds", s);
}

/* "calibration: stored 2026-03-01 (40 days old)", and what is wrong with
 * a stale or refused one. */
static void print_calibration(const rm_json *cal)
{
    const char *state = rm_json_as_string(rm_json_get(cal, "state"), NULL);
    if (!state)
        return;
    printf("calibration: %s", state);
    const char *made = rm_json_as_string(rm_json_get(cal, "date"), NULL);
    if (made)
        printf(", made %.10s (%.0f days ago)", made, number(cal, "age_days"));
    const char *problem = rm_json_as_string(rm_json_get(cal, "problem"), NULL);
    if (problem)
        printf(": %s", problem);
    putchar('\n');
}

static void print_device(const rm_json *dev)
{
    if (!rm_json_as_bool(rm_json_get(dev, "connected"), false)) {
        puts("device:   not connected");
        return;
    }
    printf("device:   %s, serial %s, firmware %s: %s with %.0f channels at "
           "%.0f Hz\n", text(dev, "model"), text(dev, "serial"),
           text(dev, "firmware"), text(dev, "kind"), number(dev, "channels"),
           number(dev, "sample_rate_hz"));
    print_calibration(rm_json_get(dev, "calibration"));
}

/* "client C12, left hamstring", leaving out what the session lacks. */
static void describe_session(const rm_json *ses, char *out, size_t cap)
{
    const char *client = rm_json_as_string(rm_json_get(ses, "client"), "");
    const char *side = rm_json_as_string(rm_json_get(ses, "side"), "unknown");
    const char *muscle = rm_json_as_string(rm_json_get(ses, "muscle"), "");
    if (!strcmp(side, "unknown"))
        side = "";
    snprintf(out, cap, "%s%s%s%s%s%s", *client ? "client " : "", client,
             *client && (*side || *muscle) ? ", " : "", side,
             *side && *muscle ? " " : "", muscle);
}

static void print_session(const rm_json *ses)
{
    if (!rm_json_as_bool(rm_json_get(ses, "recording"), false)) {
        puts("session:  not recording");
        return;
    }
    char about[160];
    describe_session(ses, about, sizeof about);
    const char *started = rm_json_as_string(rm_json_get(ses, "started"), NULL);
    printf("session:  recording %s", text(ses, "id"));
    if (*about)
        printf(" (%s)", about);
    if (started)
        printf(" since %s", started);
    printf(", %.0f samples\n          %s\n", number(ses, "samples"),
           text(ses, "path"));
}

static void print_library(const rm_json *lib)
{
    double free_bytes = number(lib, "free_bytes");
    if (isnan(free_bytes)) {
        printf("library:  %s (free space unknown)\n", text(lib, "path"));
        return;
    }
    char free_text[32], total_text[32];
    format_bytes(free_text, sizeof free_text, free_bytes);
    format_bytes(total_text, sizeof total_text, number(lib, "total_bytes"));
    printf("library:  %s (%s free of %s)\n", text(lib, "path"), free_text,
           total_text);
}

/* A count of the library's JSON status, 0 when absent (an older
 * rollmapd). */
static double count_of(const rm_json *lib, const char *key)
{
    double n = number(lib, key);
    return isnan(n) ? 0.0 : n;
}

/* Where sessions are added, and those still waiting (a locked database,
 * a clinic server that does not answer); the files of the folder not yet
 * looked up in the library apart, as most are usually in it already. */
static void print_indexing(const rm_json *lib)
{
    if (!rm_json_get(lib, "database"))
        return;  /* a rollmapd from before the clinic library */
    const char *db = text(lib, "database");
    if (!db[0]) {
        printf("index:    none (sessions are not added to a library)\n");
        return;
    }
    double waiting = count_of(lib, "waiting");
    double unchecked = count_of(lib, "unchecked");
    const char *problem = text(lib, "problem");
    const rm_json *uploads = rm_json_get(lib, "uploads");
    bool uploading = uploads && rm_json_as_bool(uploads, false);
    if (waiting < 1 && unchecked < 1) {
        printf("index:    %s%s\n", db,
               uploading ? " (session data uploaded)" : "");
        return;
    }
    printf("index:    %s: ", db);
    if (waiting >= 1)
        printf("%.0f session%s waiting to be %s%s", waiting,
               waiting == 1 ? "" : "s",
               uploading ? "added or uploaded" : "added",
               unchecked >= 1 ? ", " : "");
    if (unchecked >= 1)
        printf("%.0f file%s of the folder to look up in it", unchecked,
               unchecked == 1 ? "" : "s");
    printf("%s%s\n", problem[0] ? ": " : "", problem);
}

static void print_status(const rm_json *st)
{
    char uptime[32];
    format_duration(uptime, sizeof uptime, number(st, "uptime_s"));
    double clients = number(st, "clients");
    printf("rollmapd %s (pid %.0f), up %s, %.0f client%s\n", text(st, "release"),
           number(st, "pid"), uptime, clients, clients == 1 ? "" : "s");
    printf("source:   %s\n", text(st, "source"));
    print_device(rm_json_get(st, "device"));
    print_session(rm_json_get(st, "session"));
    const rm_json *rates = rm_json_get(st, "rates");
    printf("rates:    %.0f Hz nominal, %.1f Hz measured, %.0f samples received\n",
           number(rates, "nominal_hz"), number(rates, "measured_hz"),
           number(st, "samples_received"));
    const rm_json *drops = rm_json_get(st, "drops");
    printf("drops:    %.0f samples in the ring, %.0f frames lost, %.0f CRC "
           "errors\n", number(drops, "ring"), number(drops, "frames_lost"),
           number(st, "crc_errors"));
    print_library(rm_json_get(st, "library"));
    print_indexing(rm_json_get(st, "library"));
}

static bool has_class(const char *line, const char *cls)
{
    rm_json *doc = NULL;
    bool match = rm_json_parse(&doc, line, strlen(line), NULL) == RM_OK &&
                 !strcmp(rm_json_as_string(rm_json_get(doc, "class"), ""), cls);
    rm_json_free(doc);
    return match;
}

/* The STATUS line as rollmapd sent it, for --json. */
static rm_status read_status_line(rm_client *c, const char **line, rm_error *err)
{
    rm_status st = rm_client_send(c, "{\"cmd\":\"status\"}", err);
    while (st == RM_OK) {
        st = rm_client_read_line(c, line, ANSWER_TIMEOUT_MS, err);
        if (st == RM_OK && has_class(*line, "STATUS"))
            return RM_OK;
        if (st == RM_OK && has_class(*line, "ERROR"))
            return rm_error_set(err, RM_ERR_ARG, "rollmapd answered: %s", *line);
    }
    return st;
}

int cmd_status(int argc, char **argv)
{
    status_options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rm_client *c = NULL;
    rm_error err = {0};
    if (rm_client_connect(&c, o.socket, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    const char *line = NULL;
    rm_json *doc = NULL;
    rm_status st = o.json ? read_status_line(c, &line, &err)
                          : rm_client_request(c, "{\"cmd\":\"status\"}", &doc,
                                              ANSWER_TIMEOUT_MS, &err);
    if (st == RM_OK && o.json)
        puts(line);
    else if (st == RM_OK)
        print_status(doc);
    rm_json_free(doc);
    rm_client_close(c);
    return st == RM_OK ? CLI_OK : cli_fail_error(CMD, &err);
}
