/*
 * Calibration: least-squares fits of counts -> newtons, and the store that
 * keeps one INI file per device serial in the library folder, with the
 * date it was made (docs/DEVICES.md).
 */
#include "rollmap_hw.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEGREE 3
/* A calibration describes the device, not the person rolling: readable by
 * all, as before the file layer (a system rollmapd may read a store that
 * its administrator wrote). */
#define CALIBRATION_DIR_MODE 0755
#define CALIBRATION_FILE_MODE 0644

/* ------------------------------------------------------------------------ */
/* Fitting                                                                  */
/* ------------------------------------------------------------------------ */

/** Index of the pair with the least force: the tare point. */
static size_t lightest(const double *newtons, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (newtons[i] < newtons[best])
            best = i;
    return best;
}

/** Solve a (dim x dim) system in place, partial pivoting. */
static bool solve(double a[MAX_DEGREE + 1][MAX_DEGREE + 2], int dim)
{
    for (int col = 0; col < dim; col++) {
        int pivot = col;
        for (int r = col + 1; r < dim; r++)
            if (fabs(a[r][col]) > fabs(a[pivot][col]))
                pivot = r;
        if (fabs(a[pivot][col]) < 1e-12)
            return false;
        for (int k = 0; k <= dim; k++) {
            double tmp = a[col][k];
            a[col][k] = a[pivot][k];
            a[pivot][k] = tmp;
        }
        for (int r = 0; r < dim; r++) {
            if (r == col)
                continue;
            double f = a[r][col] / a[col][col];
            for (int k = col; k <= dim; k++)
                a[r][k] -= f * a[col][k];
        }
    }
    for (int r = 0; r < dim; r++)
        a[r][dim] /= a[r][r];
    return true;
}

/** Normal equations of the polynomial fit in u = x / scale, which keeps
 *  them well conditioned for counts in the millions. */
static bool fit_scaled(const double *x, const double *y, size_t n,
                       int degree, double scale, double coef[MAX_DEGREE + 1])
{
    double a[MAX_DEGREE + 1][MAX_DEGREE + 2] = {{0}};
    int dim = degree + 1;
    for (size_t i = 0; i < n; i++) {
        double u = x[i] / scale, pow_u[2 * MAX_DEGREE + 1] = {1};
        for (int k = 1; k <= 2 * degree; k++)
            pow_u[k] = pow_u[k - 1] * u;
        for (int r = 0; r < dim; r++) {
            for (int c = 0; c < dim; c++)
                a[r][c] += pow_u[r + c];
            a[r][dim] += pow_u[r] * y[i];
        }
    }
    if (!solve(a, dim))
        return false;
    for (int k = 0; k < dim; k++)
        coef[k] = a[k][dim] / pow(scale, k);
    return true;
}

static size_t distinct_counts(const double *counts, size_t n)
{
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = counts[j] == counts[i];
        distinct += !seen;
    }
    return distinct;
}

static rm_status check_points(const double *counts, const double *newtons,
                              size_t n, int degree, rm_error *err)
{
    if (degree != 1 && degree != MAX_DEGREE)
        return rm_error_set(err, RM_ERR_ARG,
                            "calibration degree %d: only 1 (linear) or 3 "
                            "(cubic)", degree);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(counts[i]) || !isfinite(newtons[i]))
            return rm_error_set(err, RM_ERR_ARG,
                                "calibration point %zu is not a number", i);
    size_t distinct = distinct_counts(counts, n);
    if (distinct < (size_t)degree + 1)
        return rm_error_set(err, RM_ERR_ARG,
                            "a %s fit needs %d points with different counts, "
                            "got %zu (does the channel respond to the load?)",
                            degree == 1 ? "linear" : "cubic", degree + 1,
                            distinct);
    return RM_OK;
}

rm_status rm_calibration_fit(const double *counts, const double *newtons,
                             size_t n, int degree, rm_calibration *out,
                             rm_error *err)
{
    rm_status st = check_points(counts, newtons, n, degree, err);
    if (st != RM_OK)
        return st;
    double tare = counts[lightest(newtons, n)];
    double *x = malloc(n * sizeof *x);
    if (!x)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    double scale = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = counts[i] - tare;
        scale = fmax(scale, fabs(x[i]));
    }
    memset(out, 0, sizeof *out);
    bool ok = fit_scaled(x, newtons, n, degree, scale, out->coef);
    free(x);
    if (!ok)
        return rm_error_set(err, RM_ERR_ARG,
                            "calibration points do not determine a fit");
    out->tare_counts = tare;
    out->date_unix = rm_wallclock_us() / 1000000;
    snprintf(out->origin, sizeof out->origin, "user");
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* The store                                                                */
/* ------------------------------------------------------------------------ */

/** A serial is used as a file name: refuse anything that could escape. */
static rm_status check_serial(const char *serial, rm_error *err)
{
    if (!serial || !serial[0])
        return rm_error_set(err, RM_ERR_ARG,
                            "the device reports no serial number: its "
                            "calibration cannot be stored");
    for (const char *p = serial; *p; p++)
        if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') &&
            !(*p >= 'A' && *p <= 'Z') && !strchr("-_.", *p))
            return rm_error_set(err, RM_ERR_ARG,
                                "serial number '%s': character '%c' is not "
                                "allowed in a calibration file name",
                                serial, *p);
    if (serial[0] == '.')
        return rm_error_set(err, RM_ERR_ARG,
                            "serial number '%s' starts with '.'", serial);
    return RM_OK;
}

static rm_status calibration_path(const char *dir, const char *serial,
                                  char *out, size_t cap, rm_error *err)
{
    rm_status st = check_serial(serial, err);
    if (st != RM_OK)
        return st;
    int n = snprintf(out, cap, "%s/%s.ini", dir, serial);
    if (n < 0 || (size_t)n >= cap)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", dir);
    return RM_OK;
}

static void write_channel(FILE *f, unsigned index, const rm_calibration *c)
{
    fprintf(f, "\n[channel%u]\n", index);
    fprintf(f, "tare_counts = %.17g\n", c->tare_counts);
    for (int k = 0; k <= MAX_DEGREE; k++)
        fprintf(f, "c%d = %.17g\n", k, c->coef[k]);
    fprintf(f, "date_unix = %lld\n", (long long)c->date_unix);
    fprintf(f, "origin = %s\n", c->origin[0] ? c->origin : "user");
}

static int64_t newest_date(const rm_device_info *info)
{
    int64_t newest = 0;
    for (unsigned i = 0; i < info->channel_count; i++)
        if (info->channels[i].cal.date_unix > newest)
            newest = info->channels[i].cal.date_unix;
    return newest ? newest : rm_wallclock_us() / 1000000;
}

typedef struct calibration_file {
    const char *serial;
    const rm_device_info *info;
} calibration_file;

static rm_status write_file(FILE *f, const void *ctx, rm_error *err)
{
    (void)err; /* write errors are found when the file is committed */
    const char *serial = ((const calibration_file *)ctx)->serial;
    const rm_device_info *info = ((const calibration_file *)ctx)->info;
    int64_t date = newest_date(info);
    char iso[32];
    rm_format_iso8601(iso, date * 1000000);
    fprintf(f, "# rollmap calibration: N = c0 + c1 x + c2 x^2 + c3 x^3, "
               "x = counts - tare_counts\n");
    fprintf(f, "[device]\nserial = %s\nmodel = %s\nchannels = %u\n"
               "date = %s\ndate_unix = %lld\n",
            serial, info->model, info->channel_count, iso, (long long)date);
    for (unsigned i = 0; i < info->channel_count && i < RM_MAX_CHANNELS; i++)
        write_channel(f, i, &info->channels[i].cal);
    return RM_OK;
}

rm_status rm_calibration_save(const char *dir, const char *serial,
                              const rm_device_info *info, rm_error *err)
{
    char path[4096];
    rm_status st = calibration_path(dir, serial, path, sizeof path, err);
    if (st == RM_OK)
        st = rm_make_dirs(dir, CALIBRATION_DIR_MODE, err);
    calibration_file file = {serial, info};
    if (st == RM_OK)
        st = rm_atomic_write(path, CALIBRATION_FILE_MODE, true, write_file,
                             &file, err);
    return st;
}

static rm_status read_channel(const rm_ini *ini, const char *section,
                              rm_calibration *c, rm_error *err)
{
    static const char *const keys[] = {"c0", "c1", "c2", "c3"};
    rm_calibration read = {0};
    rm_status st = rm_ini_get_double(ini, section, "tare_counts",
                                     &read.tare_counts, err);
    for (int k = 0; st == RM_OK && k <= MAX_DEGREE; k++)
        st = rm_ini_get_double(ini, section, keys[k], &read.coef[k], err);
    if (st == RM_ERR_NOT_FOUND)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "[%s]: tare_counts and c0..c3 are required",
                            section);
    long date = 0;
    if (st == RM_OK)
        st = rm_ini_get_long(ini, section, "date_unix", &date, err);
    if (st == RM_ERR_NOT_FOUND)
        st = RM_OK;
    if (st != RM_OK)
        return st;
    read.date_unix = date;
    const char *origin = rm_ini_get(ini, section, "origin");
    snprintf(read.origin, sizeof read.origin, "%s", origin ? origin : "user");
    *c = read;
    return RM_OK;
}

static rm_status check_channel_count(const rm_ini *ini, const char *path,
                                     const rm_device_info *info, rm_error *err)
{
    long channels = -1;
    rm_status st = rm_ini_get_long(ini, "device", "channels", &channels, err);
    if (st == RM_ERR_NOT_FOUND)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: [device] channels is missing", path);
    if (st == RM_OK && channels != info->channel_count)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: stored for %ld channels but the device has "
                            "%u: calibrate it again", path, channels,
                            info->channel_count);
    return st;
}

/* The file is named after the serial; the serial inside must agree (a
 * file copied or renamed from another roller must not be used). */
static rm_status check_stored_serial(const rm_ini *ini, const char *path,
                                     const rm_device_info *info, rm_error *err)
{
    const char *serial = rm_ini_get(ini, "device", "serial");
    if (serial && strcmp(serial, info->serial) != 0)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: [device] serial is %s but the device's is "
                            "%s: calibrate it again", path, serial,
                            info->serial);
    return RM_OK;
}

/** Parse everything first: info changes only if the whole file is good. */
static rm_status read_channels(const rm_ini *ini, const char *path,
                               rm_device_info *info, rm_error *err)
{
    rm_calibration cal[RM_MAX_CHANNELS];
    rm_status st = check_channel_count(ini, path, info, err);
    if (st == RM_OK)
        st = check_stored_serial(ini, path, info, err);
    for (unsigned i = 0; st == RM_OK && i < info->channel_count; i++) {
        char section[16];
        snprintf(section, sizeof section, "channel%u", i);
        st = read_channel(ini, section, &cal[i], err);
        if (st != RM_OK && err) {
            char inner[sizeof err->message];
            snprintf(inner, sizeof inner, "%s", err->message);
            rm_error_set(err, st, "%s: %s", path, inner);
        }
    }
    for (unsigned i = 0; st == RM_OK && i < info->channel_count; i++)
        info->channels[i].cal = cal[i];
    return st;
}

rm_status rm_calibration_load(const char *dir, rm_device_info *info,
                              rm_error *err)
{
    char path[4096];
    rm_status st = calibration_path(dir, info->serial, path, sizeof path, err);
    if (st != RM_OK)
        return st;
    if (access(path, F_OK) < 0)
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "%s: no calibration stored for serial %s", path,
                            info->serial);
    rm_ini *ini;
    st = rm_ini_load(&ini, path, err);
    if (st != RM_OK)
        return st;
    st = read_channels(ini, path, info, err);
    rm_ini_free(ini);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Listing                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_calibration_file(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && len > 4 && !strcmp(name + len - 4, ".ini");
}

static void read_entry(const char *dir, const char *name,
                       rm_calibration_entry *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->serial, sizeof e->serial, "%.*s", (int)(strlen(name) - 4),
             name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rm_ini *ini;
    if (rm_ini_load(&ini, path, NULL) != RM_OK)
        return;
    const char *model = rm_ini_get(ini, "device", "model");
    snprintf(e->model, sizeof e->model, "%s", model ? model : "");
    long value = 0;
    if (rm_ini_get_long(ini, "device", "date_unix", &value, NULL) == RM_OK)
        e->date_unix = value;
    if (rm_ini_get_long(ini, "device", "channels", &value, NULL) == RM_OK &&
        value > 0)
        e->channel_count = (unsigned)value;
    rm_ini_free(ini);
}

static int by_serial(const void *a, const void *b)
{
    return strcmp(((const rm_calibration_entry *)a)->serial,
                  ((const rm_calibration_entry *)b)->serial);
}

rm_status rm_calibration_list(const char *dir, rm_calibration_entry **out,
                              size_t *count, rm_error *err)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? RM_OK
                               : rm_error_set(err, RM_ERR_IO,
                                              "%s: cannot read: %s", dir,
                                              strerror(errno));
    size_t n = 0, cap = 0;
    rm_calibration_entry *list = NULL;
    rm_status st = RM_OK;
    for (struct dirent *de; st == RM_OK && (de = readdir(d));) {
        if (!is_calibration_file(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            rm_calibration_entry *grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        read_entry(dir, de->d_name, &list[n++]);
    }
    closedir(d);
    if (st != RM_OK) {
        free(list);
        return st;
    }
    if (n)
        qsort(list, n, sizeof *list, by_serial);
    *out = list;
    *count = n;
    return RM_OK;
}

void rm_calibration_list_free(rm_calibration_entry *entries)
{
    free(entries);
}

/* ------------------------------------------------------------------------ */
/* Measuring a calibration point                                            */
/* ------------------------------------------------------------------------ */

/** Longest wait for the next sample before a measurement gives up. */
#define MEASURE_SILENCE_US 5000000u
/** The reading is judged in blocks of this much device time (s). */
#define SETTLE_BLOCK_S 0.1
/** Settled: over the settling time no channel's block means spread by
 *  more than this (N), about the weight of 50 g. */
#define SETTLED_SPREAD_N 0.5
/** For a channel without a known gain: this share of its level (counts). */
#define SETTLED_SPREAD_SHARE 0.002
/** A load that has not come to rest after this long is reported (s). */
#define SETTLE_TIMEOUT_S 20.0
/** Blocks kept to judge the settling (settle_s / SETTLE_BLOCK_S at most). */
#define MAX_BLOCKS 64

typedef struct measurement {
    double settle_us, window_us;
    unsigned channels;
    const rm_device_info *info;   /**< nominal gains, for the spread */
    bool started;
    uint64_t start_us;            /**< device time the measurement began */
    /* settling: means of recent blocks */
    double block_sum[RM_MAX_CHANNELS];
    uint64_t block_n, block_start_us;
    double means[MAX_BLOCKS][RM_MAX_CHANNELS];
    size_t blocks;
    double spread_n;              /**< largest spread when last judged */
    bool settled;
    /* the averaging window after settling */
    uint64_t window_start_us;
    double sum[RM_MAX_CHANNELS];
    uint64_t n;
} measurement;

static size_t blocks_to_settle(const measurement *m)
{
    size_t need = (size_t)ceil(m->settle_us / (SETTLE_BLOCK_S * 1e6));
    return need < 2 ? 2 : need > MAX_BLOCKS ? MAX_BLOCKS : need;
}

/** Spread of one channel's recent block means, in newtons when its gain
 *  is known, else as a share of its level scaled to SETTLED_SPREAD_N. */
static double channel_spread(const measurement *m, unsigned c, size_t first)
{
    double lo = m->means[first][c], hi = lo;
    for (size_t b = first; b < m->blocks; b++) {
        lo = fmin(lo, m->means[b][c]);
        hi = fmax(hi, m->means[b][c]);
    }
    double gain = fabs(m->info->channels[c].gain_n_per_count);
    if (gain > 0)
        return (hi - lo) * gain;
    double level = fmax(fabs(hi), 1.0);
    return (hi - lo) / (level * SETTLED_SPREAD_SHARE) * SETTLED_SPREAD_N;
}

/** Close a block; settled when the last blocks agree on every channel. */
static void close_block(measurement *m)
{
    if (m->blocks == MAX_BLOCKS) {
        memmove(m->means[0], m->means[1], (MAX_BLOCKS - 1) * sizeof m->means[0]);
        m->blocks--;
    }
    for (unsigned c = 0; c < m->channels; c++)
        m->means[m->blocks][c] = m->block_sum[c] / (double)m->block_n;
    m->blocks++;
    memset(m->block_sum, 0, sizeof m->block_sum);
    m->block_n = 0;
    size_t need = blocks_to_settle(m);
    if (m->blocks < need)
        return;
    m->spread_n = 0;
    for (unsigned c = 0; c < m->channels; c++)
        m->spread_n = fmax(m->spread_n, channel_spread(m, c, m->blocks - need));
    m->settled = m->spread_n <= SETTLED_SPREAD_N;
}

static void settle_sample(measurement *m, const rm_sample *s)
{
    if (m->block_n == 0)
        m->block_start_us = s->t_us;
    for (unsigned c = 0; c < m->channels; c++)
        m->block_sum[c] += s->counts[c];
    m->block_n++;
    if ((double)(s->t_us - m->block_start_us) >= SETTLE_BLOCK_S * 1e6)
        close_block(m);
    if (m->settled)
        m->window_start_us = s->t_us;
}

/** Take one sample; true when the window is complete. */
static bool measure_sample(measurement *m, const rm_sample *s)
{
    if (!m->started) {
        m->started = true;
        m->start_us = s->t_us;
    }
    if (!m->settled) {
        settle_sample(m, s);
        return false;
    }
    if ((double)(s->t_us - m->window_start_us) >= m->window_us && m->n)
        return true;
    for (unsigned c = 0; c < m->channels; c++)
        m->sum[c] += s->counts[c];
    m->n++;
    return false;
}

static bool settle_timed_out(const measurement *m, const rm_sample *s)
{
    return !m->settled && m->started &&
           (double)(s->t_us - m->start_us) > SETTLE_TIMEOUT_S * 1e6;
}

static rm_status next_item(rm_source *src, rm_source_output *out,
                           uint64_t *last_item_us, rm_error *err)
{
    for (;;) {
        rm_status st = rm_source_next(src, out, err);
        if (st == RM_OK) {
            *last_item_us = rm_monotonic_us();
            return RM_OK;
        }
        if (st != RM_ERR_AGAIN)
            return st;
        if (rm_monotonic_us() - *last_item_us > MEASURE_SILENCE_US)
            return rm_error_set(err, RM_ERR_TIMEOUT,
                                "no samples for %u s while measuring",
                                MEASURE_SILENCE_US / 1000000u);
        st = rm_source_wait(src, 100, err);
        if (st != RM_OK && st != RM_ERR_TIMEOUT)
            return st;
    }
}

/** A live device went on sending while the user placed the weight: what
 *  queued meanwhile is the old load. Replays have no backlog. */
static rm_status discard_backlog(rm_source *src, rm_source_output *out,
                                 rm_error *err)
{
    if (rm_source_capabilities(src).replay)
        return RM_OK;
    rm_status st;
    while ((st = rm_source_next(src, out, err)) == RM_OK)
        ;
    return st == RM_ERR_AGAIN ? RM_OK : st;
}

/** Feed items to the measurement until its window is complete. */
static rm_status run_measurement(rm_source *src, measurement *m,
                                 rm_source_output *out, rm_error *err)
{
    uint64_t last_item_us = rm_monotonic_us();
    rm_status st;
    while ((st = next_item(src, out, &last_item_us, err)) == RM_OK) {
        if (out->item == RM_ITEM_GAP) /* nothing before a gap counts */
            *m = (measurement){.settle_us = m->settle_us,
                               .window_us = m->window_us,
                               .channels = m->channels, .info = m->info};
        else if (out->item == RM_ITEM_INFO) /* a replay's device */
            m->channels = out->info.channel_count;
        for (size_t i = 0; out->item == RM_ITEM_SAMPLES && i < out->count;
             i++) {
            if (measure_sample(m, &out->samples[i]))
                return RM_OK;
            if (settle_timed_out(m, &out->samples[i]))
                return rm_error_set(err, RM_ERR_TIMEOUT,
                                    "the reading did not settle within "
                                    "%.0f s (it still moves by %.2f N "
                                    "within %.1f s): let the load rest "
                                    "still, nothing touching the device",
                                    SETTLE_TIMEOUT_S, m->spread_n,
                                    m->settle_us / 1e6);
        }
    }
    if (st == RM_ERR_EOF || st == RM_ERR_CLOSED)
        return rm_error_set(err, st,
                            "the device stopped after %llu samples, before "
                            "the measurement was complete: %s",
                            (unsigned long long)m->n, rm_strerror(st));
    return st;
}

rm_status rm_calibration_measure(rm_source *src, double settle_s,
                                 double seconds, double *mean_counts,
                                 rm_error *err)
{
    const rm_device_info *info = rm_source_info(src);
    measurement *m = calloc(1, sizeof *m);
    rm_source_output *out = malloc(sizeof *out);
    rm_status st = m && out ? RM_OK
                            : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    if (st == RM_OK) {
        *m = (measurement){.settle_us = settle_s * 1e6,
                           .window_us = seconds * 1e6,
                           .channels = info->channel_count, .info = info};
        st = discard_backlog(src, out, err);
    }
    if (st == RM_OK)
        st = run_measurement(src, m, out, err);
    for (unsigned c = 0; st == RM_OK && c < m->channels; c++)
        mean_counts[c] = m->sum[c] / (double)m->n;
    free(out);
    free(m);
    return st;
}
