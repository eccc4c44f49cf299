/* rollmap live: a terminal view for the person on the roller, fed by
 * rollmapd's live socket (docs/LIVE.md). Force and pressure bars, where the
 * roller is along the hamstring, a dwell timer against the target hold, a
 * pace warning, and "tender here" marks from the keyboard. Plain ANSI
 * escapes (works in any terminal and in tmux); one line per update when
 * stdout is not a terminal. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define CMD "live"
/* Target hold on a tender spot and target rolling pace, domain.md. */
#define DEFAULT_TARGET_HOLD_S 30.0
#define DEFAULT_TARGET_SPEED_CM_S 2.5
/* Sample lines a second: about the redraw rate of a terminal view, and one
 * a second for a log. */
#define DEFAULT_SCREEN_RATE_HZ 10
#define DEFAULT_LINE_RATE_HZ 1
/* How long after m (or space) a rating digit may follow. */
#define RATING_WINDOW_US 1500000u
/* How long a message stays on screen. */
#define MESSAGE_US 4000000u
/* Without a sample for this long the values shown are stale. */
#define STALE_US 2000000u
/* Marks drawn on the position bar (the latest ones). */
#define MAX_SHOWN_MARKS 32
/* How long to wait for rollmapd to answer a request. */
#define ANSWER_TIMEOUT_MS 3000
/* The view waits this long for input before redrawing anyway. */
#define TICK_MS 100
/* Bars start at these full scales and grow with the highest value seen. */
#define FORCE_SCALE_N 300.0
#define PRESSURE_SCALE_KPA 100.0
/* The dwell timer shows from here: a turn at the end of a stroke keeps the
 * roller within the dwell band for about 2.5 s at the target pace. */
#define DWELL_SHOW_S 3.0
/* A lean under this (mm) is shown as centred: the load centre wanders
 * about 6 mm while rolling (docs/ANALYSIS.md). */
#define LEAN_CENTRED_MM 3.0
#define ESC "\033"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct live_options {
    char socket[108];
    double target_hold_s;
    double target_speed_cm_s;
    long rate_hz;            /* 0 = the default for the output */
} live_options;

typedef struct live_sample {
    double t_s, force_n, pressure_kpa, position_cm, position_pct, speed_cm_s,
        lean_mm, dwell_s;
    unsigned flags;
} live_sample;

typedef struct live_view {
    live_options opt;
    rm_client *client;
    bool screen;             /* stdout is a terminal: redraw in place */
    bool keys;               /* stdin is a terminal in non-canonical mode */
    struct termios saved_termios;
    bool have_sample;
    uint64_t last_sample_us;   /* when the latest SAMPLE line arrived */
    bool unplugged;            /* rollmapd has no device connected */
    live_sample now;
    double force_scale, pressure_scale;
    bool recording;
    char session_id[64];
    rm_side leg;             /* of the session recording, for the lean */
    int marks;
    char last_mark[64];
    double mark_cm[MAX_SHOWN_MARKS];   /* where the latest marks were */
    int shown_marks;
    double rolled_cm;                  /* most distal position seen */
    bool mark_pending;
    uint64_t mark_pending_since;
    char message[160];
    uint64_t message_until;
} live_view;

static void usage(FILE *out)
{
    fputs("usage: rollmap live [--socket PATH] [--target-hold S] "
          "[--target-speed CM/S]\n"
          "                    [--rate HZ]\n\n"
          "A live view for the person on the roller, fed by rollmapd: force\n"
          "and pressure bars, where the roller is along the hamstring\n"
          "(proximal to distal), a dwell timer against the target hold, and\n"
          "a warning when rolling faster than the target pace.\n\n"
          "Keys:\n"
          "  m or space   mark \"tender here\"; a digit 0-9 (or x for 10) right\n"
          "               after it rates it; a digit alone marks with that\n"
          "               rating\n"
          "  q            quit (Ctrl-C too)\n\n"
          "Options:\n"
          "  --socket PATH       rollmapd's live socket (default\n"
          "                      $XDG_RUNTIME_DIR/rollmap/rollmapd.sock, else\n"
          "                      /tmp/rollmap-$UID/rollmapd.sock)\n"
          "  --target-hold S     hold time on a tender spot (default 30 s)\n"
          "  --target-speed V    pace warning above V cm/s (default 2.5)\n"
          "  --rate HZ           updates a second (default 10 on a terminal,\n"
          "                      1 when the output is not a terminal)\n"
          "  -h, --help          this help\n\n"
          "When the output is not a terminal, one line is printed per update\n"
          "and per event.\n\n"
          "Example:\n"
          "  rollmap live --target-hold 45\n", out);
}

static int parse_number(const char *opt, const char *text, double lo, double hi,
                        double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (*end || end == text || !(v >= lo && v <= hi)) {
        cli_fail(CMD, "%s '%s': expected a number from %g to %g", opt, text,
                 lo, hi);
        return CLI_USAGE;
    }
    *out = v;
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, live_options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"target-hold", required_argument, NULL, 'H'},
        {"target-speed", required_argument, NULL, 'S'},
        {"rate", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = -1;
    double rate = 0;
    optind = 1;
    opterr = 0; /* our own message, in the "rollmap CMD: ..." form */
    while (rc < 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_option_text(CMD, "socket", optarg, o->socket,
                                sizeof o->socket) != CLI_OK)
                return CLI_USAGE;
            break;
        case 'H':
            rc = parse_number("--target-hold", optarg, 1, 3600, &o->target_hold_s);
            break;
        case 'S':
            rc = parse_number("--target-speed", optarg, 0.1, 100,
                              &o->target_speed_cm_s);
            break;
        case 'r':
            rc = parse_number("--rate", optarg, 1, 100, &rate);
            o->rate_hz = lround(rate);
            break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            return cli_fail_option(CMD, argv[optind - 1], usage);
        }
    }
    if (rc < 0 && optind < argc) {
        cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Terminal                                                                 */
/* ------------------------------------------------------------------------ */

static int terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static void terminal_enter(live_view *v)
{
    if (v->keys) {
        struct termios raw = v->saved_termios;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO); /* keep ISIG: Ctrl-C */
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    if (v->screen)
        fputs(ESC "[?25l" ESC "[2J", stdout); /* hide the cursor, clear */
    fflush(stdout);
}

static void terminal_leave(live_view *v)
{
    if (v->keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &v->saved_termios);
    if (v->screen)
        fputs(ESC "[?25h\n", stdout);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Drawing                                                                  */
/* ------------------------------------------------------------------------ */

static void bar(FILE *out, double value, double full, int width)
{
    int filled = isnan(value) ? 0 : (int)lround(fmin(1.0, fmax(0.0, value / full)) * width);
    fputc('[', out);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', out);
    fputc(']', out);
}

static int bar_column(double cm, double full_cm, int width)
{
    return (int)lround(fmin(1.0, fmax(0.0, cm / full_cm)) * (width - 1));
}

/* Proximal to distal: O is the roller, x a tender spot marked. */
static void position_bar(FILE *out, const live_view *v, int width)
{
    char cells[128];
    width = width < (int)sizeof cells ? width : (int)sizeof cells;
    memset(cells, '-', (size_t)width);
    for (int i = 0; i < v->shown_marks && v->rolled_cm > 0; i++)
        cells[bar_column(v->mark_cm[i], v->rolled_cm, width)] = 'x';
    double pct = v->now.position_pct;
    if (!isnan(pct))
        cells[bar_column(pct, 100.0, width)] = 'O';
    fprintf(out, "proximal |%.*s| distal", width, cells);
}

static void value_or_dash(FILE *out, const char *fmt, double v)
{
    if (isnan(v))
        fputs("   -", out);
    else
        fprintf(out, fmt, v);
}

static bool too_fast(const live_view *v)
{
    const live_sample *s = &v->now;
    return (s->flags & RM_LIVE_LOADED) && !isnan(s->speed_cm_s) &&
           fabs(s->speed_cm_s) > v->opt.target_speed_cm_s;
}

static void draw_pace(FILE *out, const live_view *v)
{
    const live_sample *s = &v->now;
    fputs("Pace       ", out);
    if (isnan(s->speed_cm_s)) {
        fputs("- (no encoder)", out);
    } else if (too_fast(v)) {
        fprintf(out, ESC "[7m SLOW DOWN " ESC "[0m %.1f cm/s (target %.1f cm/s)",
                fabs(s->speed_cm_s), v->opt.target_speed_cm_s);
    } else {
        fprintf(out, "ok  %.1f cm/s (target %.1f cm/s)", fabs(s->speed_cm_s),
                v->opt.target_speed_cm_s);
    }
}

static void draw_dwell(FILE *out, const live_view *v, int width)
{
    const live_sample *s = &v->now;
    fputs("Hold       ", out);
    if (!(s->flags & RM_LIVE_LOADED) || s->dwell_s < DWELL_SHOW_S) {
        fputs("-", out);
        return;
    }
    bar(out, s->dwell_s, v->opt.target_hold_s, width);
    fprintf(out, " %3.0f s / %.0f s  %s", s->dwell_s, v->opt.target_hold_s,
            s->dwell_s >= v->opt.target_hold_s ? "DONE, move on" : "holding");
}

/* The lean as people say it: "8 mm medial", "centred", or toward an end
 * of the roller when the leg is unknown. Looking toward the feet, a right
 * leg's medial side is toward the roller's left end. */
static const char *lean_text(char *buf, size_t cap, const live_view *v)
{
    double mm = v->now.lean_mm;
    if (isnan(mm))
        return "-";
    if (fabs(mm) < LEAN_CENTRED_MM)
        return "centred";
    const char *toward;
    if (v->leg == RM_SIDE_UNKNOWN)
        toward = mm > 0 ? "toward the right end" : "toward the left end";
    else
        toward = (mm > 0) == (v->leg == RM_SIDE_RIGHT) ? "lateral" : "medial";
    snprintf(buf, cap, "%.0f mm %s", fabs(mm), toward);
    return buf;
}

static void draw_measurements(FILE *out, const live_view *v, int bar_width)
{
    const live_sample *s = &v->now;
    fputs("Force      ", out);
    bar(out, s->force_n, v->force_scale, bar_width);
    value_or_dash(out, " %5.0f N", s->force_n);
    fputs(ESC "[K\nPressure   ", out);
    bar(out, s->pressure_kpa, v->pressure_scale, bar_width);
    value_or_dash(out, " %5.0f kPa", s->pressure_kpa);
    fputs(ESC "[K\nPosition   ", out);
    position_bar(out, v, bar_width - 16);
    value_or_dash(out, " %5.1f cm", s->position_cm);
    char lean[48];
    fprintf(out, ESC "[K\nLean       %s" ESC "[K\n", lean_text(lean, sizeof lean, v));
    draw_pace(out, v);
    fputs(ESC "[K\n", out);
    draw_dwell(out, v, bar_width - 16); /* room for "30 s / 30 s  DONE..." */
    fputs(ESC "[K\n", out);
}

static void draw_marks_and_messages(FILE *out, const live_view *v)
{
    fprintf(out, "Marks      %d%s%s" ESC "[K\n" ESC "[K\n", v->marks,
            v->marks ? ", last: " : "", v->marks ? v->last_mark : "");
    if (v->mark_pending)
        fputs("rating? type 0-9, or x for 10", out);
    else if (rm_monotonic_us() < v->message_until)
        fputs(v->message, out);
    fputs(ESC "[K\n", out);
}

/* Redraw in place: home, every line cleared to its end, the rest of the
 * screen cleared below. */
static void draw_screen(const live_view *v)
{
    FILE *out = stdout;
    int bar_width = terminal_width() - 11 - 20; /* label, value columns */
    bar_width = bar_width < 20 ? 20 : bar_width > 60 ? 60 : bar_width;
    fprintf(out, ESC "[H" "rollmap live   %s%s" ESC "[K\n" ESC "[K\n",
            v->recording ? "recording " : "not recording",
            v->recording ? v->session_id : "");
    uint64_t silent_us = rm_monotonic_us() - v->last_sample_us;
    if (v->unplugged)
        fputs("device unplugged: plug the roller in again" ESC "[K\n", out);
    else if (v->have_sample && silent_us < STALE_US)
        draw_measurements(out, v, bar_width);
    else if (v->have_sample)
        fprintf(out, "no samples for %.0f s: is the roller connected?" ESC "[K\n",
                (double)silent_us / 1e6);
    else
        fputs("waiting for samples from rollmapd..." ESC "[K\n", out);
    draw_marks_and_messages(out, v);
    fputs("q quit   m or space: mark tender spot (then 0-9, x = 10)" ESC "[K\n"
          ESC "[J", out);
    fflush(out);
}

/* v with printf format fmt, or "-" when unknown; signs of zero dropped. */
static const char *shown(char *buf, size_t cap, const char *fmt, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v == 0 ? 0.0 : v);
    if (!strcmp(buf, "-0") || !strcmp(buf, "-0.0"))
        memmove(buf, buf + 1, strlen(buf));
    return buf;
}

static void print_sample_line(const live_view *v)
{
    const live_sample *s = &v->now;
    char force[16], pressure[16], position[16], pct[16], speed[16], lean[48];
    printf("t=%.1f s force=%s N pressure=%s kPa position=%s cm (%s %%) "
           "lean=%s speed=%s cm/s hold=%.0f s%s\n", s->t_s,
           shown(force, sizeof force, "%.0f", s->force_n),
           shown(pressure, sizeof pressure, "%.0f", s->pressure_kpa),
           shown(position, sizeof position, "%.1f", s->position_cm),
           shown(pct, sizeof pct, "%.0f", s->position_pct),
           lean_text(lean, sizeof lean, v),
           shown(speed, sizeof speed, "%.1f", s->speed_cm_s), s->dwell_s,
           too_fast(v) ? " SLOW DOWN" : "");
    fflush(stdout);
}

static void show_message(live_view *v, const char *text)
{
    snprintf(v->message, sizeof v->message, "%s", text);
    v->message_until = rm_monotonic_us() + MESSAGE_US;
    if (!v->screen) {
        puts(text);
        fflush(stdout);
    }
}

/* ------------------------------------------------------------------------ */
/* Lines from rollmapd                                                      */
/* ------------------------------------------------------------------------ */

static double member(const rm_json *doc, const char *key)
{
    return rm_json_as_number(rm_json_get(doc, key), NAN);
}

static void take_sample(live_view *v, const rm_json *doc)
{
    live_sample *s = &v->now;
    v->unplugged = false;
    s->t_s = member(doc, "t_s");
    s->force_n = member(doc, "force_n");
    s->pressure_kpa = member(doc, "pressure_kpa");
    s->position_cm = member(doc, "position_cm");
    s->position_pct = member(doc, "position_pct");
    s->speed_cm_s = member(doc, "speed_cm_s");
    s->lean_mm = member(doc, "lean_mm");
    s->dwell_s = member(doc, "dwell_s");
    s->flags = (unsigned)rm_json_as_number(rm_json_get(doc, "flags"), 0);
    v->have_sample = true;
    v->last_sample_us = rm_monotonic_us();
    if (!isnan(s->force_n))
        v->force_scale = fmax(v->force_scale, s->force_n);
    if (!isnan(s->pressure_kpa))
        v->pressure_scale = fmax(v->pressure_scale, s->pressure_kpa);
    if (!isnan(s->position_cm))
        v->rolled_cm = fmax(v->rolled_cm, s->position_cm);
    if (!v->screen)
        print_sample_line(v);
}

static void take_mark(live_view *v, const rm_json *doc)
{
    v->marks++;
    double rating = member(doc, "rating");
    double cm = member(doc, "position_cm");
    char rating_text[16] = "no rating";
    if (!isnan(rating))
        snprintf(rating_text, sizeof rating_text, "%.0f/10", rating);
    if (!isnan(cm)) {
        /* keep the latest MAX_SHOWN_MARKS: drop the oldest when full */
        if (v->shown_marks == MAX_SHOWN_MARKS)
            memmove(v->mark_cm, v->mark_cm + 1,
                    (MAX_SHOWN_MARKS - 1) * sizeof v->mark_cm[0]);
        else
            v->shown_marks++;
        v->mark_cm[v->shown_marks - 1] = cm;
    }
    if (isnan(cm))
        snprintf(v->last_mark, sizeof v->last_mark, "%s", rating_text);
    else
        snprintf(v->last_mark, sizeof v->last_mark, "%s at %.1f cm",
                 rating_text, cm);
    char text[96];
    snprintf(text, sizeof text, "marked tender spot: %s", v->last_mark);
    show_message(v, text);
}

/* What an event means to the person on the roller. */
static const char *event_phrase(const char *kind)
{
    static const char *const phrases[][2] = {
        {"session_start", "recording started"},
        {"session_end", "recording stopped"},
        {"dwell_start", "holding"},
        {"tare", "force zeroed (tare)"},
        {"plug", "device connected"},
        {"unplug", "device disconnected"},
        {"error", "rollmapd error"},
        {"notice", "rollmapd"},
    };
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (!strcmp(kind, phrases[i][0]))
            return phrases[i][1];
    return kind;
}

static void take_event(live_view *v, const rm_json *doc)
{
    const char *kind = rm_json_as_string(rm_json_get(doc, "event"), "");
    const char *detail = rm_json_as_string(rm_json_get(doc, "text"), "");
    char text[160];
    if (!strcmp(kind, "mark")) {
        take_mark(v, doc);
        return;
    }
    if (!strcmp(kind, "unplug") || !strcmp(kind, "plug"))
        v->unplugged = !strcmp(kind, "unplug");
    if (!strcmp(kind, "session_start") || !strcmp(kind, "session_end")) {
        v->recording = !strcmp(kind, "session_start");
        snprintf(v->session_id, sizeof v->session_id, "%s", detail);
    }
    double cm = member(doc, "position_cm");
    if (!strcmp(kind, "dwell_end"))
        snprintf(text, sizeof text, "held %.0f s at %.1f cm",
                 member(doc, "duration_s"), cm);
    else if (!isnan(cm))
        snprintf(text, sizeof text, "%s at %.1f cm", event_phrase(kind), cm);
    else
        snprintf(text, sizeof text, "%s%s%s", event_phrase(kind),
                 *detail ? ": " : "", detail);
    show_message(v, text);
}

static void take_line(live_view *v, const char *line)
{
    rm_json *doc = NULL;
    if (rm_json_parse(&doc, line, strlen(line), NULL) != RM_OK)
        return; /* a later line may well be fine: the view carries on */
    const char *cls = rm_json_as_string(rm_json_get(doc, "class"), "");
    if (!strcmp(cls, "SAMPLE"))
        take_sample(v, doc);
    else if (!strcmp(cls, "EVENT"))
        take_event(v, doc);
    else if (!strcmp(cls, "ERROR"))
        show_message(v, rm_json_as_string(rm_json_get(doc, "message"), "error"));
    else if (!strcmp(cls, "NOTICE") && rm_json_get(doc, "message"))
        show_message(v, rm_json_as_string(rm_json_get(doc, "message"), ""));
    rm_json_free(doc);
}

/* Take every line that has arrived; RM_ERR_CLOSED when rollmapd left. */
static rm_status read_lines(live_view *v, rm_error *err)
{
    for (;;) {
        const char *line;
        rm_status st = rm_client_read_line(v->client, &line, 0, err);
        if (st == RM_ERR_TIMEOUT)
            return RM_OK;
        if (st != RM_OK)
            return st;
        take_line(v, line);
    }
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

static rm_status send_mark(live_view *v, int rating, rm_error *err)
{
    char request[48];
    if (rating >= 0)
        snprintf(request, sizeof request, "{\"cmd\":\"mark\",\"rating\":%d}", rating);
    else
        snprintf(request, sizeof request, "{\"cmd\":\"mark\"}");
    v->mark_pending = false;
    return rm_client_send(v->client, request, err);
}

static int rating_of_key(const live_view *v, char key)
{
    if (key >= '0' && key <= '9')
        return key - '0';
    if ((key == 'x' || key == 'X') && v->mark_pending)
        return 10;
    return -1;
}

/* Returns false when the user asked to quit. */
static bool take_key(live_view *v, char key, rm_status *st, rm_error *err)
{
    int rating = rating_of_key(v, key);
    if (key == 'q' || key == 'Q')
        return false;
    if (key == 'm' || key == 'M' || key == ' ') {
        if (v->mark_pending)
            *st = send_mark(v, -1, err);
        v->mark_pending = true;
        v->mark_pending_since = rm_monotonic_us();
    } else if (rating >= 0) {
        *st = send_mark(v, rating, err);
    }
    return true;
}

static bool read_keys(live_view *v, rm_status *st, rm_error *err)
{
    char keys[32];
    ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
    for (ssize_t i = 0; i < n; i++)
        if (!take_key(v, keys[i], st, err))
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Main loop                                                                */
/* ------------------------------------------------------------------------ */

static rm_status start_watching(live_view *v, rm_error *err)
{
    rm_json *status = NULL;
    rm_status st = rm_client_request(v->client, "{\"cmd\":\"status\"}", &status,
                                     ANSWER_TIMEOUT_MS, err);
    if (st != RM_OK)
        return st;
    const rm_json *device = rm_json_get(status, "device");
    v->unplugged = !rm_json_as_bool(rm_json_get(device, "connected"), true);
    const rm_json *session = rm_json_get(status, "session");
    v->recording = rm_json_as_bool(rm_json_get(session, "recording"), false);
    snprintf(v->session_id, sizeof v->session_id, "%s",
             rm_json_as_string(rm_json_get(session, "id"), ""));
    if (rm_side_parse(rm_json_as_string(rm_json_get(session, "side"), ""),
                      &v->leg) != RM_OK)
        v->leg = RM_SIDE_UNKNOWN;
    rm_json_free(status);
    long rate = v->opt.rate_hz ? v->opt.rate_hz
                : v->screen ? DEFAULT_SCREEN_RATE_HZ : DEFAULT_LINE_RATE_HZ;
    char watch[96];
    snprintf(watch, sizeof watch,
             "{\"cmd\":\"watch\",\"samples\":true,\"rate\":%ld,\"events\":true}",
             rate);
    return rm_client_request(v->client, watch, NULL, ANSWER_TIMEOUT_MS, err);
}

static rm_status run(live_view *v, rm_error *err)
{
    rm_status st = RM_OK;
    uint64_t last_draw = 0;
    bool quit = false;
    while (st == RM_OK && !quit && !stop_requested) {
        struct pollfd fds[2] = {{.fd = rm_client_fd(v->client), .events = POLLIN},
                                {.fd = STDIN_FILENO, .events = POLLIN}};
        if (poll(fds, v->keys ? 2 : 1, TICK_MS) < 0 && errno != EINTR)
            return rm_error_set(err, RM_ERR_IO, "poll: %s", strerror(errno));
        st = read_lines(v, err);
        if (st == RM_OK && v->keys && (fds[1].revents & POLLIN))
            quit = !read_keys(v, &st, err);
        uint64_t now = rm_monotonic_us();
        if (st == RM_OK && v->mark_pending &&
            now - v->mark_pending_since > RATING_WINDOW_US)
            st = send_mark(v, -1, err);
        if (v->screen && now - last_draw >= TICK_MS * 1000u) {
            draw_screen(v);
            last_draw = now;
        }
    }
    if (st == RM_OK && v->mark_pending) /* m, then q before a rating */
        st = send_mark(v, -1, err);
    return st;
}

static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cmd_live(int argc, char **argv)
{
    live_view v = {.opt = {.target_hold_s = DEFAULT_TARGET_HOLD_S,
                           .target_speed_cm_s = DEFAULT_TARGET_SPEED_CM_S},
                   .force_scale = FORCE_SCALE_N,
                   .pressure_scale = PRESSURE_SCALE_KPA};
    int rc = parse_options(argc, argv, &v.opt);
    if (rc >= 0)
        return rc;
    rm_error err = {0};
    if (rm_client_connect(&v.client, v.opt.socket, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    v.screen = isatty(STDOUT_FILENO);
    v.keys = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &v.saved_termios) == 0;
    stop_requested = 0;
    catch_signals();
    rm_status st = start_watching(&v, &err);
    if (st == RM_OK) {
        terminal_enter(&v);
        st = run(&v, &err);
        terminal_leave(&v);
    }
    rm_client_close(v.client);
    if (st == RM_ERR_CLOSED)
        return cli_fail(CMD, "rollmapd went away (the live socket closed)");
    return st == RM_OK ? CLI_OK : cli_fail_error(CMD, &err);
}
