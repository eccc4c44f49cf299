/* rollmap calibrate: tare and known-weight calibration of a device, saved
 * per device serial in the calibration folder. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "calibrate"
/** Standard gravity (CGPM 1901), N per kg. */
#define STANDARD_GRAVITY 9.80665
/** Most known weights in one calibration. */
#define MAX_WEIGHTS 16
/** Averaging window and how long the reading must hold still (seconds). */
#define DEFAULT_SECONDS 3.0
#define SETTLE_SECONDS 1.0
/** A fitted gain this many times above or below the channel's nominal
 *  one (from the device or its profile) is refused: a mistake in the
 *  weights, the wiring or the readings, not a real part (load cells and
 *  ADCs are within a few percent of their data sheet). */
#define MAX_GAIN_RATIO 10.0
/** Room for the calibration folder's path. */
#define PATH_CAP 4096

typedef struct calibrate_options {
    const char *source;
    bool tare;
    bool cubic;
    bool yes;
    double seconds;
    double weights_kg[MAX_WEIGHTS];
    size_t weight_count;
    bool channel_given[RM_MAX_CHANNELS];
    bool any_channel;
    char dir[PATH_CAP];
} calibrate_options;

/** One measured point: mean counts per channel under a known load. */
typedef struct cal_point {
    double kg;
    double counts[RM_MAX_CHANNELS];
} cal_point;

static void usage(FILE *out)
{
    fputs("usage: rollmap calibrate SOURCE [--tare] [--weight KG]... "
          "[--cubic]\n"
          "                         [--channel N]... [--seconds S] "
          "[--dir DIR] [--yes]\n\n"
          "Calibrate a device's force channels and store the result under "
          "its\nserial number, with today's date (rollmap devices lists "
          "them).\n\n"
          "With --tare only, the reading with nothing on the roller becomes "
          "the\nnew zero. With --weight, the empty roller is measured first, "
          "then each\nknown weight placed centred on it: end-cap load cells "
          "share it equally\n(or it all rests on the channels given with "
          "--channel). At each point\nwhat queued while you placed the weight "
          "is discarded, the reading must\nrest for 1 s (within 0.5 N), then "
          "it is averaged over --seconds. The\nmeasured counts and the fit's "
          "residual are shown; a gain of the wrong\nsign or 10 times off the "
          "channel's nominal one is refused.\n\n"
          "Options:\n"
          "  --tare          zero only (keeps the gain)\n"
          "  --weight KG     a known weight (repeat: 1 for linear, 3 for "
          "cubic)\n"
          "  --cubic         fit a cubic instead of a line\n"
          "  --channel N     the weight rests on channel N only (repeat)\n"
          "  --seconds S     averaging time per point (default 3)\n"
          "  --dir DIR       calibration folder (default\n"
          "                  $XDG_DATA_HOME/rollmap/calibration)\n"
          "  -y, --yes       do not wait for Enter (scripted use)\n"
          "  -h, --help      this help\n\n"
          "SOURCE is a source name (docs/DEVICES.md): auto, serial:PATH,\n"
          "usb:VID:PID[:SERIAL], tty:PATH, file:PATH, sim:[options].\n\n"
          "Examples:\n"
          "  rollmap calibrate auto --weight 10 --weight 20\n"
          "  rollmap calibrate usb:2341:0043 --tare\n", out);
}

static int parse_number(const char *opt, const char *text, double min,
                        double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !(v >= min) || v > 1e6) {
        cli_fail(CMD, "%s '%s': expected a number of at least %g", opt, text,
                 min);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

static int add_weight(calibrate_options *o, const char *text)
{
    if (o->weight_count == MAX_WEIGHTS) {
        cli_fail(CMD, "at most %d weights", MAX_WEIGHTS);
        return CLI_USAGE;
    }
    double kg;
    int rc = parse_number("--weight", text, 0.001, &kg);
    if (rc == CLI_OK)
        o->weights_kg[o->weight_count++] = kg;
    return rc;
}

static int add_channel(calibrate_options *o, const char *text)
{
    char *end;
    long ch = strtol(text, &end, 10);
    if (!*text || *end || ch < 0 || ch >= RM_MAX_CHANNELS) {
        cli_fail(CMD, "--channel '%s': expected 0 to %d", text,
                 RM_MAX_CHANNELS - 1);
        return CLI_USAGE;
    }
    o->channel_given[ch] = true;
    o->any_channel = true;
    return CLI_OK;
}

static int check_options(calibrate_options *o)
{
    if (!o->tare && o->weight_count == 0) {
        cli_fail(CMD, "nothing to do: give --tare or at least one --weight");
        return CLI_USAGE;
    }
    if (o->cubic && o->weight_count < 3) {
        cli_fail(CMD, "--cubic needs at least 3 weights (4 points with the "
                      "tare), got %zu", o->weight_count);
        return CLI_USAGE;
    }
    rm_error err = {0};
    if (!o->dir[0] &&
        rm_default_calibration_dir(o->dir, sizeof o->dir, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    return CLI_OK;
}

static int parse_options(int argc, char **argv, calibrate_options *o)
{
    static const struct option longopts[] = {
        {"tare", no_argument, NULL, 't'},
        {"weight", required_argument, NULL, 'w'},
        {"cubic", no_argument, NULL, 'c'},
        {"channel", required_argument, NULL, 'C'},
        {"seconds", required_argument, NULL, 's'},
        {"dir", required_argument, NULL, 'd'},
        {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = CLI_OK;
    optind = 1;
    while (rc == CLI_OK &&
           (c = getopt_long(argc, argv, "hy", longopts, NULL)) != -1) {
        switch (c) {
        case 't': o->tare = true; break;
        case 'w': rc = add_weight(o, optarg); break;
        case 'c': o->cubic = true; break;
        case 'C': rc = add_channel(o, optarg); break;
        case 's': rc = parse_number("--seconds", optarg, 0.1, &o->seconds);
            break;
        case 'd': snprintf(o->dir, sizeof o->dir, "%s", optarg); break;
        case 'y': o->yes = true; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (rc != CLI_OK)
        return rc;
    if (optind != argc - 1) {
        cli_fail(CMD, optind == argc ? "a SOURCE is required (e.g. auto)"
                                     : "unexpected argument '%s'",
                 argv[optind + (optind < argc)]);
        return CLI_USAGE;
    }
    o->source = argv[optind];
    return check_options(o);
}

/** "place 10 kg, press Enter"; false when the user ended the input. */
static bool prompt(const calibrate_options *o, const char *what)
{
    if (o->yes) {
        printf("%s\n", what);
        return true;
    }
    printf("%s, then press Enter: ", what);
    fflush(stdout);
    char line[128];
    return fgets(line, sizeof line, stdin) != NULL;
}

static int measure_point(rm_source *src, const calibrate_options *o,
                         const char *what, cal_point *pt)
{
    if (!prompt(o, what))
        return cli_fail(CMD, "no answer on standard input: stopped");
    rm_error err = {0};
    if (rm_calibration_measure(src, SETTLE_SECONDS, o->seconds, pt->counts,
                               &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    unsigned channels = rm_source_info(src)->channel_count;
    printf("  measured (counts):");
    for (unsigned c = 0; c < channels; c++)
        printf(" ch%u %.1f", c, pt->counts[c]);
    putchar('\n');
    return CLI_OK;
}

/** Which channels carry the weight: those given, else the end-cap load
 *  cells, else every channel. */
static unsigned loaded_channels(const calibrate_options *o,
                                const rm_device_info *info, bool *loaded)
{
    unsigned n = 0;
    for (unsigned c = 0; c < info->channel_count; c++) {
        loaded[c] = o->any_channel
                        ? o->channel_given[c]
                        : info->channels[c].kind == RM_CHANNEL_LOAD_CELL;
        n += loaded[c];
    }
    if (n == 0 && !o->any_channel)
        for (unsigned c = 0; c < info->channel_count; c++)
            n += loaded[c] = true;
    return n;
}

/** Root-mean-square and largest difference between the fit and the
 *  known loads (N). */
static void fit_residual(const rm_calibration *cal, const double *counts,
                         const double *newtons, size_t n, double *rms,
                         double *worst)
{
    double sum = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x = counts[i] - cal->tare_counts, fitted = 0;
        for (int k = 3; k >= 0; k--)
            fitted = fitted * x + cal->coef[k];
        double r = fabs(fitted - newtons[i]);
        sum += r * r;
        *worst = fmax(*worst, r);
    }
    *rms = sqrt(sum / (double)n);
}

/** Refuse a gain of the wrong sign or far from the channel's nominal. */
static int check_plausible(unsigned c, const rm_calibration *cal,
                           const rm_channel_info *ch)
{
    double gain = cal->coef[1], nominal = ch->gain_n_per_count;
    bool wrong_sign = nominal != 0 ? (gain > 0) != (nominal > 0) : gain <= 0;
    double ratio = nominal != 0 ? fabs(gain / nominal) : 1;
    if (!wrong_sign && ratio <= MAX_GAIN_RATIO && ratio >= 1 / MAX_GAIN_RATIO)
        return CLI_OK;
    return cli_fail(CMD, "channel %u: the fit gives %.6g N/count, %s the "
                         "channel's nominal %.6g N/count: not saved. Were "
                         "the weights on and resting still when measured, "
                         "and are the --weight values right?", c, gain,
                    wrong_sign ? "the opposite sign of" : "far from",
                    nominal);
}

static int fit_channels(const calibrate_options *o, const cal_point *pts,
                        size_t npts, rm_device_info *info)
{
    bool loaded[RM_MAX_CHANNELS] = {false};
    unsigned n = loaded_channels(o, info, loaded);
    if (n == 0)
        return cli_fail(CMD, "--channel names no channel of this device "
                             "(it has %u)", info->channel_count);
    for (unsigned c = 0; c < info->channel_count; c++) {
        if (!loaded[c])
            continue;
        double counts[MAX_WEIGHTS + 1], newtons[MAX_WEIGHTS + 1];
        for (size_t i = 0; i < npts; i++) {
            counts[i] = pts[i].counts[c];
            newtons[i] = pts[i].kg * STANDARD_GRAVITY / n;
        }
        rm_error err = {0};
        if (rm_calibration_fit(counts, newtons, npts, o->cubic ? 3 : 1,
                               &info->channels[c].cal, &err) != RM_OK)
            return cli_fail(CMD, "channel %u: %s", c, err.message);
        const rm_calibration *cal = &info->channels[c].cal;
        double rms, worst;
        fit_residual(cal, counts, newtons, npts, &rms, &worst);
        printf("channel %u: tare %.1f counts, %.6g N/count%s; residual "
               "%.3f N rms, %.3f N at most%s\n", c, cal->tare_counts,
               cal->coef[1], o->cubic ? " (cubic)" : "", rms, worst,
               npts <= (size_t)(o->cubic ? 4 : 2)
                   ? " (as many points as the fit has terms: add a weight "
                     "to check it)"
                   : "");
        int rc = check_plausible(c, cal, &info->channels[c]);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

static void apply_tare(const cal_point *zero, rm_device_info *info)
{
    int64_t now = rm_wallclock_us() / 1000000;
    for (unsigned c = 0; c < info->channel_count; c++) {
        rm_calibration *cal = &info->channels[c].cal;
        /* What the channel reads now, with nothing on it, is 0 N. */
        cal->coef[0] = 0;
        cal->tare_counts = zero->counts[c];
        cal->date_unix = now;
        snprintf(cal->origin, sizeof cal->origin, "user");
        printf("channel %u: tare %.1f counts\n", c, cal->tare_counts);
    }
}

static int run_points(rm_source *src, const calibrate_options *o,
                      rm_device_info *info)
{
    cal_point pts[MAX_WEIGHTS + 1] = {{0}};
    /* Sources accept no kind but roller, ball and probe. */
    const char *noun = rm_device_kind_name((rm_device_kind)info->device_kind);
    char what[80];
    snprintf(what, sizeof what, "remove everything from the %s", noun);
    int rc = measure_point(src, o, what, &pts[0]);
    for (size_t i = 0; rc == CLI_OK && i < o->weight_count; i++) {
        pts[i + 1].kg = o->weights_kg[i];
        snprintf(what, sizeof what, "place %g kg centred on the %s",
                 o->weights_kg[i], noun);
        rc = measure_point(src, o, what, &pts[i + 1]);
    }
    if (rc != CLI_OK)
        return rc;
    if (o->weight_count == 0) {
        apply_tare(&pts[0], info);
        return CLI_OK;
    }
    return fit_channels(o, pts, o->weight_count + 1, info);
}

/** The device's own calibration, or the stored one when there is one. */
static int starting_calibration(const calibrate_options *o,
                                rm_device_info *info)
{
    rm_error err = {0};
    rm_device_info_default_calibration(info);
    rm_status st = rm_calibration_load(o->dir, info, &err);
    if (st == RM_OK || st == RM_ERR_NOT_FOUND)
        return CLI_OK;
    return cli_fail_error(CMD, &err);
}

/** Replays announce the device in the stream: read up to its INFO. */
static rm_status await_info(rm_source *src, rm_error *err)
{
    rm_source_output *out = malloc(sizeof *out);
    if (!out)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    uint64_t deadline = rm_monotonic_us() + 5000000u; /* 5 s */
    rm_status st;
    while ((st = rm_source_next(src, out, err)) == RM_OK ||
           st == RM_ERR_AGAIN) {
        if (st == RM_OK && out->item == RM_ITEM_INFO)
            break;
        if (rm_monotonic_us() > deadline) {
            st = rm_error_set(err, RM_ERR_TIMEOUT,
                              "no device INFO within 5 s");
            break;
        }
        if (st == RM_ERR_AGAIN)
            rm_source_wait(src, 100, NULL);
    }
    free(out);
    if (st == RM_ERR_EOF)
        return rm_error_set(err, st,
                            "the input ended before the device's INFO frame");
    return st;
}

/** Check before anyone places weights that the result can be saved: the
 *  folder, or the nearest part of its path that exists, must be a
 *  writable directory. */
static int check_folder(const char *dir)
{
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s", dir);
    struct stat st;
    while (stat(path, &st) != 0) {
        char *slash = strrchr(path, '/');
        if (!slash || slash == path) {
            snprintf(path, sizeof path, "%s", slash ? "/" : ".");
            break;
        }
        *slash = '\0';
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail(CMD, "%s: cannot hold the calibration folder %s: "
                             "not a directory", path, dir);
    if (access(path, W_OK | X_OK) != 0)
        return cli_fail(CMD, "%s: cannot create or write the calibration "
                             "folder %s: %s", path, dir, strerror(errno));
    return CLI_OK;
}

static int calibrate(rm_source *src, const calibrate_options *o)
{
    rm_error err = {0};
    if (await_info(src, &err) != RM_OK)
        return cli_fail(CMD, "%s: %s", o->source, err.message);
    rm_device_info info = *rm_source_info(src);
    if (info.channel_count == 0)
        return cli_fail(CMD, "%s reports no force channels", o->source);
    int rc = check_folder(o->dir);
    if (rc == CLI_OK)
        rc = starting_calibration(o, &info);
    if (rc == CLI_OK)
        rc = run_points(src, o, &info);
    if (rc != CLI_OK)
        return rc;
    if (rm_calibration_save(o->dir, info.serial, &info, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("saved %s/%s.ini\n", o->dir, info.serial);
    return CLI_OK;
}

int cmd_calibrate(int argc, char **argv)
{
    calibrate_options o = {.seconds = DEFAULT_SECONDS};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rm_error err = {0};
    rm_source_spec spec;
    if (rm_source_parse(o.source, &spec, &err) != RM_OK) {
        cli_fail_error(CMD, &err);
        return CLI_USAGE;
    }
    rm_source *src;
    if (rm_source_open(&src, &spec, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rc = calibrate(src, &o);
    rm_source_command(src, RM_CMD_STOP, 0, NULL);
    rm_source_close(src);
    return rc;
}
