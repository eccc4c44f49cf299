/* rollmap simulate: run the virtual roller into a file, to stdout, or as a
 * pseudo-terminal that behaves like the real device (docs/SIMULATOR.md). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CMD "simulate"
/* Bytes gathered before one write in the fast modes. */
#define FAST_CHUNK 65536
/* Most --set options on one command line. */
#define MAX_SETS 32

typedef enum output_mode { OUT_NONE, OUT_FILE, OUT_STDOUT, OUT_PTY } output_mode;

typedef struct simulate_options {
    output_mode mode;
    const char *out_path;
    const char *truth_path;
    const char *link_path;
    const char *seed;
    const char *duration;
    const char *sets[MAX_SETS];
    size_t set_count;
    bool force;
} simulate_options;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fputs("usage: rollmap simulate [--seed N] [--duration S] [--set KEY=VALUE,...]\n"
          "                        [--truth FILE]\n"
          "                        (--out FILE [--force] | --stdout | --pty [--link PATH])\n\n"
          "Run the virtual roller: a seeded model of a person rolling a hamstring\n"
          "(strokes, rests, dwells on tender spots) measured by end-cap load cells,\n"
          "a pressure-cell strip and a rotation encoder, sent as the real device's\n"
          "wire protocol. The same options and seed give the same bytes.\n\n"
          "Output (one of):\n"
          "  --out FILE        write the device's bytes to FILE as fast as possible\n"
          "                    (an existing FILE is kept unless --force)\n"
          "  --stdout          the same to standard output (not a terminal)\n"
          "  --pty             open a pseudo-terminal, print its path, stream in\n"
          "                    real time and answer commands like the device; an\n"
          "                    unplug fault closes it and opens a new one later\n"
          "  --link PATH       with --pty: keep a symlink PATH to the current pty\n\n"
          "Options:\n"
          "  --seed N          random seed (default 1)\n"
          "  --duration S      session length in seconds (default 600)\n"
          "  --set K=V,...     model, sensor and fault options, e.g. mass=80,\n"
          "                    spots=4, kind=ball, drop=0.01, ber=1e-5,\n"
          "                    unplug=30/90, unplug_for=5, reset=120, autostart=0\n"
          "                    (all keys: docs/SIMULATOR.md); may repeat; --seed\n"
          "                    and --duration win over seed= and duration=\n"
          "  --truth FILE      write the ground truth (spots, dwells, marks) as\n"
          "                    JSON when the session ends or is stopped\n"
          "  --force           overwrite an existing --out FILE\n"
          "  -h, --help        this help\n\n"
          "With --out and --stdout the device streams from power-up (autostart=1);\n"
          "with --pty it waits for START as the firmware does, unless autostart=1.\n"
          "Ctrl-C or SIGTERM end it cleanly (the truth is still written).\n\n"
          "Examples:\n"
          "  rollmap simulate --seed 3 --duration 120 --set spots=4,drop=0.001 \\\n"
          "      --out capture.bin --truth truth.json\n"
          "  rollmap simulate --pty --link /tmp/roller &\n"
          "  rollmapd --source tty:/tmp/roller\n", out);
}

static int set_mode(simulate_options *o, output_mode mode)
{
    if (o->mode != OUT_NONE && o->mode != mode)
        return cli_fail_usage(CMD, "choose one of --out, --stdout and --pty");
    o->mode = mode;
    return CLI_OK;
}

/* Returns CLI_OK to go on, -1 after --help, or an exit status. */
static int parse_options(int argc, char **argv, simulate_options *o)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"set", required_argument, NULL, 'S'},
        {"truth", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"stdout", no_argument, NULL, 'c'},
        {"pty", no_argument, NULL, 'p'},
        {"link", required_argument, NULL, 'l'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, st = CLI_OK;
    optind = 1;
    while (st == CLI_OK &&
           (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->seed = optarg; break;
        case 'd': o->duration = optarg; break;
        case 't': o->truth_path = optarg; break;
        case 'l': o->link_path = optarg; break;
        case 'f': o->force = true; break;
        case 'o': o->out_path = optarg; st = set_mode(o, OUT_FILE); break;
        case 'c': st = set_mode(o, OUT_STDOUT); break;
        case 'p': st = set_mode(o, OUT_PTY); break;
        case 'S':
            if (o->set_count == MAX_SETS)
                return cli_fail_usage(CMD, "more than %d --set options",
                                      MAX_SETS);
            o->sets[o->set_count++] = optarg;
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (st != CLI_OK)
        return st;
    if (optind < argc)
        return cli_fail_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (o->mode == OUT_NONE)
        return cli_fail_usage(CMD, "say where the bytes go: --out FILE, "
                              "--stdout or --pty (see --help)");
    if (o->link_path && o->mode != OUT_PTY)
        return cli_fail_usage(CMD, "--link goes with --pty");
    return CLI_OK;
}

/* --seed and --duration: the key of that name, whatever the value holds. */
static int apply_option(rm_sim_config *c, const char *key, const char *value)
{
    rm_error err = {0};
    char item[64];
    if (strchr(value, ',') ||
        (size_t)snprintf(item, sizeof item, "%s=%s", key, value) >= sizeof item)
        return cli_fail_usage(CMD, "--%s '%s': not a number", key, value);
    if (rm_sim_config_parse(c, item, &err) != RM_OK)
        return cli_fail_usage(CMD, "--%s: %s", key, err.message);
    return CLI_OK;
}

/* Defaults, then autostart for the modes without a host, then --set in
 * order, then --seed and --duration. */
static int build_config(const simulate_options *o, rm_sim_config *c)
{
    rm_error err = {0};
    rm_sim_config_default(c);
    c->autostart = o->mode != OUT_PTY;
    for (size_t i = 0; i < o->set_count; i++)
        if (rm_sim_config_parse(c, o->sets[i], &err) != RM_OK)
            return cli_fail_usage(CMD, "--set %s: %s", o->sets[i],
                                  err.message);
    int st = CLI_OK;
    if (o->seed)
        st = apply_option(c, "seed", o->seed);
    if (st == CLI_OK && o->duration)
        st = apply_option(c, "duration", o->duration);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

/* Write everything; false with errno set on failure. */
static bool write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static int open_output(const simulate_options *o)
{
    if (o->mode == OUT_STDOUT) {
        if (isatty(STDOUT_FILENO)) {
            cli_fail(CMD, "standard output is a terminal: redirect it or use "
                     "--out FILE");
            return -1;
        }
        return STDOUT_FILENO;
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (o->force ? O_TRUNC : O_EXCL);
    int fd = open(o->out_path, flags, 0644);
    if (fd < 0 && errno == EEXIST)
        cli_fail(CMD, "%s: exists already (use --force to overwrite it)",
                 o->out_path);
    else if (fd < 0)
        cli_fail(CMD, "%s: %s", o->out_path, strerror(errno));
    return fd;
}

/* --out and --stdout: as fast as possible, in large writes to fd. */
static int run_fast(rm_sim *sim, const simulate_options *o, int fd)
{
    static uint8_t buf[FAST_CHUNK];
    int status = CLI_OK;
    while (!rm_sim_finished(sim) && !stop_requested) {
        size_t used = 0;
        while (!rm_sim_finished(sim) && used + RM_FRAME_MAX_WIRE * 4 < sizeof buf)
            used += rm_sim_next_bytes(sim, buf + used, sizeof buf - used);
        if (write_all(fd, buf, used))
            continue;
        if (errno != EPIPE) /* a reader that stops early ends the run */
            status = cli_fail(CMD, "%s: %s", o->mode == OUT_FILE
                              ? o->out_path : "standard output",
                              strerror(errno));
        break;
    }
    if (o->mode == OUT_FILE && close(fd) != 0 && status == CLI_OK)
        status = cli_fail(CMD, "%s: %s", o->out_path, strerror(errno));
    return status;
}

/* ------------------------------------------------------------------------ */
/* The pseudo-terminal                                                      */
/* ------------------------------------------------------------------------ */

typedef struct sim_pty {
    int master;          /* the device's end; -1 while unplugged */
    int slave;           /* held open so the pty lives without a reader */
    char path[128];
    const char *link;
    bool linked;         /* link points at this pty: ours to remove */
    uint64_t bytes_refused; /* not taken: nobody read the pty in time */
} sim_pty;

/* Point the --link symlink at the current pty; never replace anything
 * but a symlink. */
static bool update_link(sim_pty *p)
{
    if (!p->link)
        return true;
    struct stat st;
    if (lstat(p->link, &st) == 0 && !S_ISLNK(st.st_mode)) {
        cli_fail(CMD, "--link %s: exists and is not a symlink", p->link);
        return false;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", p->link, (long)getpid());
    unlink(tmp);
    if (symlink(p->path, tmp) != 0 || rename(tmp, p->link) != 0) {
        cli_fail(CMD, "--link %s: %s", p->link, strerror(errno));
        unlink(tmp);
        return false;
    }
    p->linked = true;
    return true;
}

/* Raw mode: the bytes pass untouched and nothing is echoed back. */
static bool make_raw(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return false;
    cfmakeraw(&t);
    return tcsetattr(fd, TCSANOW, &t) == 0;
}

static bool pty_open(sim_pty *p)
{
    p->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (p->master < 0 || grantpt(p->master) != 0 ||
        unlockpt(p->master) != 0 ||
        ptsname_r(p->master, p->path, sizeof p->path) != 0) {
        cli_fail(CMD, "cannot open a pseudo-terminal: %s", strerror(errno));
        return false;
    }
    p->slave = open(p->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->slave < 0 || !make_raw(p->slave)) {
        cli_fail(CMD, "%s: %s", p->path, strerror(errno));
        return false;
    }
    if (!update_link(p))
        return false;
    printf("%s\n", p->path);
    fflush(stdout);
    return true;
}

static void pty_close(sim_pty *p)
{
    if (p->master >= 0)
        close(p->master);
    if (p->slave >= 0)
        close(p->slave);
    p->master = p->slave = -1;
    if (p->linked)
        unlink(p->link);
    p->linked = false;
}

/* Host -> device: whatever the reader wrote to the pty. */
static void take_commands(rm_sim *sim, sim_pty *p)
{
    uint8_t buf[512];
    ssize_t n;
    while (p->master >= 0 && (n = read(p->master, buf, sizeof buf)) > 0)
        rm_sim_receive(sim, buf, (size_t)n);
}

/* Device -> host, without blocking: what the pty cannot take is lost, as
 * it is when a real device's USB buffer fills. */
static void send_bytes(sim_pty *p, const uint8_t *data, size_t len)
{
    while (p->master >= 0 && len > 0) {
        ssize_t n = write(p->master, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            p->bytes_refused += len;
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

/* Wait for host bytes until real time reaches due_us (monotonic). */
static void wait_until(sim_pty *p, uint64_t due_us)
{
    uint64_t now = rm_monotonic_us();
    if (now >= due_us)
        return;
    uint64_t wait_us = due_us - now;
    struct timespec ts = {(time_t)(wait_us / 1000000u),
                          (long)(wait_us % 1000000u) * 1000};
    struct pollfd pfd = {p->master, POLLIN, 0};
    if (p->master >= 0)
        ppoll(&pfd, 1, &ts, NULL);
    else
        nanosleep(&ts, NULL);
}

/* Follow the virtual device's plug state with the pty. */
static bool follow_plug(rm_sim *sim, sim_pty *p)
{
    bool unplugged = rm_sim_unplugged(sim);
    if (unplugged && p->master >= 0) {
        pty_close(p);
        fprintf(stderr, "rollmap simulate: unplugged at %.3f s\n",
                (double)rm_sim_time_us(sim) / 1e6);
    } else if (!unplugged && p->master < 0) {
        return pty_open(p);
    }
    return true;
}

static int run_pty(rm_sim *sim, const simulate_options *o)
{
    sim_pty p = {-1, -1, "", o->link_path, false, 0};
    if (!pty_open(&p)) {
        pty_close(&p);
        return CLI_FAILURE;
    }
    uint64_t start_us = rm_monotonic_us();
    int status = CLI_OK;
    uint8_t buf[RM_FRAME_MAX_WIRE * 4];
    while (!rm_sim_finished(sim) && !stop_requested) {
        wait_until(&p, start_us + rm_sim_time_us(sim));
        take_commands(sim, &p);
        if (rm_monotonic_us() < start_us + rm_sim_time_us(sim))
            continue;
        size_t n = rm_sim_next_bytes(sim, buf, sizeof buf);
        if (!follow_plug(sim, &p)) {
            status = CLI_FAILURE;
            break;
        }
        send_bytes(&p, buf, n);
    }
    if (p.bytes_refused)
        fprintf(stderr, "rollmap simulate: %llu bytes were not read in time "
                "and were dropped\n", (unsigned long long)p.bytes_refused);
    pty_close(&p);
    return status;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static int write_truth(const rm_sim *sim, const char *path, FILE *f)
{
    rm_error err = {0};
    rm_status st = rm_sim_write_truth(sim, f, &err);
    if (fclose(f) != 0 && st == RM_OK)
        return cli_fail(CMD, "%s: %s", path, strerror(errno));
    if (st != RM_OK)
        return cli_fail(CMD, "%s: %s", path, err.message);
    return CLI_OK;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: waits end at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void print_summary(const rm_sim *sim)
{
    const rm_sim_wire_stats *w = rm_sim_wire_stats_of(sim);
    fprintf(stderr, "rollmap simulate: %.3f s simulated; frames sent %llu, "
            "dropped %llu, corrupted %llu; boots %llu; commands %llu\n",
            (double)rm_sim_time_us(sim) / 1e6,
            (unsigned long long)w->frames_sent,
            (unsigned long long)w->frames_dropped,
            (unsigned long long)w->frames_corrupted,
            (unsigned long long)w->boots, (unsigned long long)w->commands);
}

static int simulate(const simulate_options *o, const rm_sim_config *c)
{
    rm_error err = {0};
    rm_sim *sim;
    if (rm_sim_new(&sim, c, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    FILE *truth = NULL;
    if (o->truth_path && !(truth = fopen(o->truth_path, "w"))) {
        rm_sim_free(sim);
        return cli_fail(CMD, "%s: %s", o->truth_path, strerror(errno));
    }
    int fd = o->mode == OUT_PTY ? -1 : open_output(o);
    if (o->mode != OUT_PTY && fd < 0) {
        if (truth)
            fclose(truth);
        rm_sim_free(sim);
        return CLI_FAILURE;
    }
    catch_stop_signals();
    int status = o->mode == OUT_PTY ? run_pty(sim, o) : run_fast(sim, o, fd);
    print_summary(sim);
    if (truth) {
        int truth_status = write_truth(sim, o->truth_path, truth);
        if (status == CLI_OK)
            status = truth_status;
    }
    rm_sim_free(sim);
    return status;
}

int cmd_simulate(int argc, char **argv)
{
    simulate_options o;
    memset(&o, 0, sizeof o);
    int st = parse_options(argc, argv, &o);
    if (st != CLI_OK)
        return st < 0 ? CLI_OK : st;
    rm_sim_config c;
    st = build_config(&o, &c);
    if (st != CLI_OK)
        return st;
    return simulate(&o, &c);
}
