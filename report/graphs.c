/*
 * Graphs: for each graph a data file (or a few) and a gnuplot script that
 * reads them by relative path, so `gnuplot NAME.gp` in the folder redraws
 * it; then the gnuplot runner (gnuplot.c) draws them. Long series are
 * reduced to screen resolution first. No client text ever goes into a
 * script: titles and labels are built from numbers and fixed words only.
 */
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/** Plot columns of a time graph: about its width in pixels, so keeping the
 *  minimum and maximum of each loses nothing visible. */
#define GRAPH_COLUMNS 1000
/** Medial-lateral cells across the map (-1 .. +1 in steps of 0.1). */
#define MAP_ML_CELLS 20
/** Sessions longer than this get their time axis in minutes. */
#define MINUTES_AXIS_FROM_S 1200.0
/** Colour range of the spectrogram below its strongest cell: the force
 *  signal sits 60-80 dB above numerical noise, which would otherwise
 *  swamp the scale. */
#define SPECTROGRAM_RANGE_DB 80
/** Up to this many dwells, each pair of bars is labelled. */
#define DWELL_TICK_LABELS_MAX 30
/** The dwell graph has room for at least this many, so one dwell does not
 *  become a pair of bars as wide as the page. */
#define DWELL_MIN_SLOTS 6

/* ------------------------------------------------------------------------ */
/* What can be drawn                                                        */
/* ------------------------------------------------------------------------ */

static bool loaded_sample_with_place(const rm_series *s, size_t i)
{
    return s->loaded[i] && !s->in_gap[i] && isfinite(s->position_cm[i]) &&
           isfinite(s->ml[i]) && isfinite(s->force_n[i]);
}

static bool has_map_data(const rm_analysis *a)
{
    for (size_t i = 0; i < a->series.n; i++)
        if (loaded_sample_with_place(&a->series, i))
            return true;
    return false;
}

/* A log-scale spectrum needs a bin with some power: with no load or a
 * perfectly steady one every bin of the PSD and the spectrogram is 0 and
 * there is nothing to draw. */
static bool has_spectrum_power(const rm_analysis *a)
{
    const rm_spectrogram *sg = &a->spectrogram;
    for (size_t b = 0; b < a->psd_bins; b++)
        if (a->psd[b] > 0)
            return true;
    for (size_t i = 0; i < sg->frames * sg->bins; i++)
        if (sg->power[i] > 0)
            return true;
    return false;
}

static const char *no_position_reason(const rm_analysis *a)
{
    if (!a->has_position)
        return "the device has no rotation encoder (a ball or probe), so "
               "positions along the hamstring are unknown";
    return NULL;
}

static const char *force_missing(const void *subject)
{
    const rm_analysis *a = subject;
    return a->series.n == 0 ? "the session holds no samples" : NULL;
}

static const char *profile_missing(const void *subject)
{
    const rm_analysis *a = subject;
    if (no_position_reason(a))
        return no_position_reason(a);
    return a->bin_count == 0 ? "the roller was never under load" : NULL;
}

static const char *map_missing(const void *subject)
{
    const rm_analysis *a = subject;
    if (no_position_reason(a))
        return no_position_reason(a);
    return has_map_data(a) ? NULL
           : "no sample under load has both a position and a "
             "medial-lateral centre of pressure";
}

static const char *spectrum_missing(const void *subject)
{
    const rm_analysis *a = subject;
    if (a->psd_bins == 0)
        return "the session is shorter than one spectrum window";
    return has_spectrum_power(a) ? NULL
           : "the force never varied (no load, or a perfectly steady "
             "one), so its spectrum is empty";
}

static const char *dwells_missing(const void *subject)
{
    const rm_analysis *a = subject;
    return a->dwell_count == 0 ? "there was no dwell (contact never "
                                 "stayed in one place long enough)" : NULL;
}

/* ------------------------------------------------------------------------ */
/* Screen-resolution reduction                                              */
/* ------------------------------------------------------------------------ */

/** Indices of the smallest and largest finite value of y[from, to). */
static bool run_extremes(const double *y, size_t from, size_t to,
                         size_t *lo, size_t *hi)
{
    bool found = false;
    for (size_t i = from; i < to; i++) {
        if (!isfinite(y[i]))
            continue;
        if (!found || y[i] < y[*lo])
            *lo = i;
        if (!found || y[i] > y[*hi])
            *hi = i;
        found = true;
    }
    return found;
}

size_t report_minmax_reduce(const double *y, size_t n, size_t columns,
                            size_t *keep)
{
    size_t kept = 0;
    if (n <= 2 * columns) {
        for (size_t i = 0; i < n; i++)
            keep[kept++] = i;
        return kept;
    }
    for (size_t c = 0; c < columns; c++) {
        size_t from = n * c / columns, to = n * (c + 1) / columns;
        size_t lo = from, hi = from;
        if (!run_extremes(y, from, to, &lo, &hi)) {
            keep[kept++] = from;
            continue;
        }
        keep[kept++] = lo < hi ? lo : hi;
        if (lo != hi)
            keep[kept++] = lo < hi ? hi : lo;
    }
    return kept;
}

/* ------------------------------------------------------------------------ */
/* Data files                                                               */
/* ------------------------------------------------------------------------ */

/** y with the samples inside recording gaps (the analysis's fill) as NaN,
 *  so the plotted line breaks there. */
static double *mask_gaps(const rm_series *s, const double *y)
{
    double *shown = malloc(sizeof *shown * (s->n ? s->n : 1));
    if (shown)
        for (size_t i = 0; i < s->n; i++)
            shown[i] = s->in_gap[i] ? NAN : y[i];
    return shown;
}

static void write_kept(FILE *f, const rm_series *s, const double *y,
                       const size_t *keep, size_t kept)
{
    for (size_t k = 0; k < kept; k++) {
        report_gnuplot_value(f, s->t_s[keep[k]], ' ');
        report_gnuplot_value(f, y[keep[k]], '\n');
    }
}

/** t and y of a time series, reduced to the plot's columns. */
static rm_status write_time_series(const char *dir, const char *name,
                                   const char *header, const rm_series *s,
                                   const double *y, rm_error *err)
{
    size_t most = s->n < 2 * GRAPH_COLUMNS ? s->n : 2 * GRAPH_COLUMNS;
    size_t *keep = malloc(sizeof *keep * (most ? most : 1));
    double *shown = mask_gaps(s, y);
    rm_status st = RM_OK;
    if (!keep || !shown)
        st = rm_error_set(err, RM_ERR_NOMEM, "%s/%s: out of memory", dir, name);
    rm_atomic_file rf;
    if (st == RM_OK)
        st = report_file_open(&rf, dir, name, err);
    if (st == RM_OK) {
        fprintf(rf.f, "# %s\n", header);
        write_kept(rf.f, s, shown, keep,
                   report_minmax_reduce(shown, s->n, GRAPH_COLUMNS, keep));
        st = rm_atomic_commit(&rf, err);
    }
    free(shown);
    free(keep);
    return st;
}

static rm_status write_marks_data(const char *dir, const rm_analysis *a,
                                  rm_error *err)
{
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "marks.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# t_s force_n rating(-1 none)\n", rf.f);
    for (size_t i = 0; i < a->mark_count; i++) {
        report_gnuplot_value(rf.f, a->marks[i].t_s, ' ');
        report_gnuplot_value(rf.f, a->marks[i].force_n, ' ');
        fprintf(rf.f, "%d\n", a->marks[i].rating);
    }
    return rm_atomic_commit(&rf, err);
}

static rm_status write_profile_data(const char *dir, const void *subject,
                                    rm_error *err)
{
    const rm_analysis *a = subject;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "profile.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# position_cm mean_force_n peak_force_n mean_pressure_kpa "
          "time_s tenderness\n", rf.f);
    for (size_t i = 0; i < a->bin_count; i++) {
        const rm_profile_bin *b = &a->profile[i];
        report_gnuplot_value(rf.f, b->position_cm, ' ');
        report_gnuplot_value(rf.f, b->mean_force_n, ' ');
        report_gnuplot_value(rf.f, b->peak_force_n, ' ');
        report_gnuplot_value(rf.f, b->mean_pressure_kpa, ' ');
        report_gnuplot_value(rf.f, b->time_s, ' ');
        report_gnuplot_value(rf.f, b->tenderness, '\n');
    }
    return rm_atomic_commit(&rf, err);
}

/** Horizontal map coordinate of a medial-lateral value (-1 medial .. +1
 *  lateral) as the leg is seen from behind. */
static double map_x(const rm_analysis *a, double ml)
{
    return report_lateral_on_left(a) ? -ml : ml;
}

static double profile_length_cm(const rm_analysis *a)
{
    double length = 0;
    for (size_t i = 0; i < a->bin_count; i++)
        if (a->profile[i].position_cm > length)
            length = a->profile[i].position_cm;
    return length + a->config.profile_bin_cm;
}

/** Mean pressure (or force, without pressure cells) per map cell. */
typedef struct map_grid {
    size_t rows;                 /**< position bins, proximal first */
    double row_cm;
    double *sum;
    size_t *count;
} map_grid;

static bool map_value(const rm_analysis *a, size_t i, double *value)
{
    const rm_series *s = &a->series;
    if (!loaded_sample_with_place(s, i))
        return false;
    *value = a->has_pressure && isfinite(s->pressure_kpa[i])
                 ? s->pressure_kpa[i] : s->force_n[i];
    return true;
}

static rm_status map_grid_fill(map_grid *g, const rm_analysis *a,
                               rm_error *err)
{
    g->row_cm = a->config.profile_bin_cm > 0 ? a->config.profile_bin_cm : 1.0;
    g->rows = (size_t)ceil(profile_length_cm(a) / g->row_cm) + 1;
    g->sum = calloc(g->rows * MAP_ML_CELLS, sizeof *g->sum);
    g->count = calloc(g->rows * MAP_ML_CELLS, sizeof *g->count);
    if (!g->sum || !g->count)
        return rm_error_set(err, RM_ERR_NOMEM, "map: out of memory");
    for (size_t i = 0; i < a->series.n; i++) {
        double value;
        if (!map_value(a, i, &value))
            continue;
        double x = (map_x(a, a->series.ml[i]) + 1.0) / 2.0 * MAP_ML_CELLS;
        double y = a->series.position_cm[i] / g->row_cm;
        size_t col = x < 0 ? 0 : x >= MAP_ML_CELLS ? MAP_ML_CELLS - 1 : (size_t)x;
        size_t row = y < 0 ? 0 : y >= (double)g->rows ? g->rows - 1 : (size_t)y;
        g->sum[row * MAP_ML_CELLS + col] += value;
        g->count[row * MAP_ML_CELLS + col]++;
    }
    return RM_OK;
}

static void map_grid_free(map_grid *g)
{
    free(g->sum);
    free(g->count);
}

static rm_status write_map_cells(const char *dir, const map_grid *g,
                                 rm_error *err)
{
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "map.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# x (-1..1, seen from behind) position_cm mean_value "
          "(kPa, or N without pressure cells); cells with no load omitted\n",
          rf.f);
    const double cell_x = 2.0 / MAP_ML_CELLS;
    for (size_t r = 0; r < g->rows; r++)
        for (size_t c = 0; c < MAP_ML_CELLS; c++) {
            size_t k = r * MAP_ML_CELLS + c;
            if (g->count[k] == 0)
                continue;
            report_gnuplot_value(rf.f, -1.0 + (c + 0.5) * cell_x, ' ');
            report_gnuplot_value(rf.f, (r + 0.5) * g->row_cm, ' ');
            report_gnuplot_value(rf.f, g->sum[k] / (double)g->count[k], '\n');
        }
    return rm_atomic_commit(&rf, err);
}

static rm_status write_map_spots(const char *dir, const rm_analysis *a,
                                 rm_error *err)
{
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "map_spots.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# x (-1..1, seen from behind) position_cm score number\n", rf.f);
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *s = &a->spots[i];
        report_gnuplot_value(rf.f, map_x(a, isfinite(s->ml) ? s->ml : 0.0), ' ');
        report_gnuplot_value(rf.f, s->position_cm, ' ');
        report_gnuplot_value(rf.f, s->score, ' ');
        fprintf(rf.f, "%zu\n", i + 1);
    }
    return rm_atomic_commit(&rf, err);
}

static rm_status write_map_data(const char *dir, const void *subject,
                                rm_error *err)
{
    const rm_analysis *a = subject;
    map_grid g = {0};
    rm_status st = map_grid_fill(&g, a, err);
    if (st == RM_OK)
        st = write_map_cells(dir, &g, err);
    map_grid_free(&g);
    if (st == RM_OK)
        st = write_map_spots(dir, a, err);
    return st;
}

/** Power as decibels for the colour scale; silence is left out. */
static double decibels(double power)
{
    return power > 0 ? 10.0 * log10(power) : NAN;
}

/** Mean power of spectrogram frames [from, to) in one bin. */
static double frames_mean(const rm_spectrogram *sg, size_t from, size_t to,
                          size_t bin)
{
    double sum = 0;
    for (size_t f = from; f < to; f++)
        sum += sg->power[f * sg->bins + bin];
    return sum / (double)(to - from);
}

/** Whether time t (s) falls inside a recording gap: its spectrum is the
 *  analysis's fill, not a measurement, and is left blank. */
static bool time_in_gap(const rm_series *s, double t)
{
    if (s->n == 0 || !(t >= 0))
        return false;
    size_t i = (size_t)(t * s->rate_hz);
    return s->in_gap[i < s->n ? i : s->n - 1];
}

/** Frames [from, to) of plot column c of columns. */
static void column_frames(const rm_spectrogram *sg, size_t c, size_t columns,
                          size_t *from, size_t *to)
{
    *from = sg->frames * c / columns;
    *to = sg->frames * (c + 1) / columns;
}

static size_t spectrogram_columns(const rm_spectrogram *sg)
{
    return sg->frames < GRAPH_COLUMNS ? sg->frames : GRAPH_COLUMNS;
}

/** Colour of plot column c of columns in bin b: its mean power in dB;
 *  NaN inside a recording gap. */
static double column_db(const rm_analysis *a, size_t c, size_t columns,
                        size_t b)
{
    const rm_spectrogram *sg = &a->spectrogram;
    size_t from, to;
    column_frames(sg, c, columns, &from, &to);
    if (time_in_gap(&a->series, (from + to) / 2.0 * sg->dt_s))
        return NAN;
    return decibels(frames_mean(sg, from, to, b));
}

/** The strongest cell drawn (dB), the top of the colour scale: written
 *  into the script so that gnuplot reads the data only once. */
static double spectrogram_max_db(const rm_analysis *a)
{
    const rm_spectrogram *sg = &a->spectrogram;
    size_t columns = spectrogram_columns(sg);
    double most = -INFINITY;
    for (size_t c = 0; c < columns; c++)
        for (size_t b = 0; b < sg->bins; b++) {
            double db = column_db(a, c, columns, b);
            if (db > most)
                most = db;
        }
    return most;
}

/** Whether any plot column outside the gaps has power to show: a short
 *  session that is mostly gap has none, and gnuplot refuses an image of
 *  nothing but NaN, so the spectrogram panel is then left out. */
static bool spectrogram_drawable(const rm_analysis *a)
{
    return isfinite(spectrogram_max_db(a));
}

/** Time axis: seconds for short sessions, minutes for long ones. */
static double time_axis_scale(const rm_analysis *a, const char **label)
{
    bool minutes = a->summary.duration_s > MINUTES_AXIS_FROM_S;
    *label = minutes ? "time from start (min)" : "time from start (s)";
    return minutes ? 60.0 : 1.0;
}

/* Its time is written in the axis's unit: gnuplot would otherwise take
 * as long to convert every cell as to draw the whole graph. */
static rm_status write_spectrogram_data(const char *dir, const rm_analysis *a,
                                        rm_error *err)
{
    const rm_spectrogram *sg = &a->spectrogram;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "spectrogram.dat", err);
    if (st != RM_OK)
        return st;
    const char *label;
    double scale = time_axis_scale(a, &label);
    fprintf(rf.f, "# %s frequency_hz power_db (10 log10 of N^2/Hz); frames "
            "averaged down to the plot width; NaN inside recording gaps\n",
            scale == 1.0 ? "t_s" : "t_min");
    size_t columns = spectrogram_columns(sg);
    for (size_t c = 0; c < columns; c++) {
        size_t from, to;
        column_frames(sg, c, columns, &from, &to);
        double t = (from + to) / 2.0 * sg->dt_s / scale;
        for (size_t b = 0; b < sg->bins; b++) {
            report_gnuplot_value(rf.f, t, ' ');
            report_gnuplot_value(rf.f, b * sg->df_hz, ' ');
            report_gnuplot_value(rf.f, column_db(a, c, columns, b), '\n');
        }
        fputc('\n', rf.f);
    }
    return rm_atomic_commit(&rf, err);
}

static rm_status write_psd_data(const char *dir, const rm_analysis *a,
                                rm_error *err)
{
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "psd.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# frequency_hz psd_n2_per_hz\n", rf.f);
    for (size_t b = 0; b < a->psd_bins; b++) {
        report_gnuplot_value(rf.f, b * a->psd_df_hz, ' ');
        report_gnuplot_value(rf.f, a->psd[b] > 0 ? a->psd[b] : NAN, '\n');
    }
    return rm_atomic_commit(&rf, err);
}

static rm_status write_dwells_data(const char *dir, const void *subject,
                                   rm_error *err)
{
    const rm_analysis *a = subject;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "dwells.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# number duration_s mean_force_n position_cm label\n", rf.f);
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        fprintf(rf.f, "%zu ", i + 1);
        report_gnuplot_value(rf.f, d->duration_s, ' ');
        report_gnuplot_value(rf.f, d->mean_force_n, ' ');
        report_gnuplot_value(rf.f, d->position_cm, ' ');
        if (isfinite(d->position_cm))
            fprintf(rf.f, "\"D%zu\\n%.0f cm\"\n", i + 1, d->position_cm);
        else
            fprintf(rf.f, "\"D%zu\"\n", i + 1);
    }
    return rm_atomic_commit(&rf, err);
}

/* ------------------------------------------------------------------------ */
/* Scripts                                                                  */
/* ------------------------------------------------------------------------ */

/** Shared colours (colour-blind-safe pairs of blue/orange/teal). */
#define COLOUR_FORCE "#1f4e79"
#define COLOUR_POSITION "#2a9d8f"
#define COLOUR_DWELL "#f4a261"
#define COLOUR_MARK "#d62828"
#define COLOUR_GAP "#bbbbbb"

static void write_dwell_bands(FILE *f, const rm_analysis *a, double scale)
{
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        fprintf(f, "set object rect from %.4f, graph 0 to %.4f, graph 1 behind "
                "fc rgb \"%s\" fs transparent solid 0.35 noborder\n",
                d->start_s / scale, d->end_s / scale, COLOUR_DWELL);
    }
}

static void write_gap_bands(FILE *f, const rm_series *s, double scale)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->in_gap[i] || (i > 0 && s->in_gap[i - 1]))
            continue;
        size_t end = i;
        while (end + 1 < s->n && s->in_gap[end + 1])
            end++;
        fprintf(f, "set object rect from %.4f, graph 0 to %.4f, graph 1 behind "
                "fc rgb \"%s\" fs solid 0.6 noborder\n",
                s->t_s[i] / scale, s->t_s[end] / scale, COLOUR_GAP);
    }
}

static void write_position_axis(FILE *f, const rm_analysis *a)
{
    if (a->has_position)
        fputs("set y2label \"position (cm from the gluteal fold; proximal up)\"\n"
              "set y2tics\nset y2range [*:*] reverse\n", f);
}

static void write_force_script(FILE *f, const void *subject)
{
    const rm_analysis *a = subject;
    const char *xlabel;
    double scale = time_axis_scale(a, &xlabel);
    /* The force is never below 0: a little drift under zero must not pull
     * the axis down to -100 N. */
    fprintf(f, "set xlabel \"%s\"\nset ylabel \"force (N)\"\nset yrange [0:*]\n"
            "set ytics nomirror\nset key outside bottom center horizontal maxrows 1\n"
            "set autoscale xfix\n", xlabel);
    write_position_axis(f, a);
    write_dwell_bands(f, a, scale);
    write_gap_bands(f, &a->series, scale);
    fprintf(f, "plot \"force.dat\" using ($1/%g):2 with lines lw 1 lc rgb \"%s\" "
            "title \"force (N)\"", scale, COLOUR_FORCE);
    if (a->has_position)
        fprintf(f, ", \\\n     \"position.dat\" using ($1/%g):2 axes x1y2 with "
                "lines lw 1 lc rgb \"%s\" title \"position (cm)\"",
                scale, COLOUR_POSITION);
    if (a->mark_count > 0)
        fprintf(f, ", \\\n     \"marks.dat\" using ($1/%g):2 with points pt 11 "
                "ps 1.6 lc rgb \"%s\" title \"tender-here mark\"", scale, COLOUR_MARK);
    if (a->dwell_count > 0)
        fprintf(f, ", \\\n     keyentry with boxes fs transparent solid 0.35 "
                "fc rgb \"%s\" title \"dwell\"", COLOUR_DWELL);
    fputc('\n', f);
}

static void write_spot_lines(FILE *f, const rm_analysis *a)
{
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *s = &a->spots[i];
        if (!isfinite(s->position_cm))
            continue;
        fprintf(f, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 "
                "lw 1.5 lc rgb \"%s\"\n", s->position_cm, s->position_cm,
                COLOUR_MARK);
        fprintf(f, "set label \"spot %zu (%.1f)\" at %.3f, graph 0.96 left "
                "offset 0.4,0 front tc rgb \"%s\"\n", i + 1, s->score,
                s->position_cm, COLOUR_MARK);
    }
}

static void write_profile_script(FILE *f, const void *subject)
{
    const rm_analysis *a = subject;
    fprintf(f, "set xlabel \"position along the hamstring (cm from the gluteal "
            "fold)\"\nset xrange [0:%.3f]\nset ylabel \"force (N)\"\n"
            "set yrange [0:*]\nset ytics nomirror\nset y2tics\nset y2range [0:*]\n"
            "set key outside bottom center horizontal maxrows 1\n"
            "set label \"proximal\" at graph 0.01, graph 1.03 left\n"
            "set label \"distal\" at graph 0.99, graph 1.03 right\n"
            "set style fill transparent solid 0.3 noborder\n",
            profile_length_cm(a));
    write_spot_lines(f, a);
    if (a->has_pressure)
        fprintf(f, "set y2label \"mean pressure (kPa)\"\n"
                "plot \"profile.dat\" using 1:4 axes x1y2 with boxes lc rgb \"%s\" "
                "title \"mean pressure (kPa)\", \\\n", COLOUR_POSITION);
    else
        fprintf(f, "set y2label \"time under load (s)\"\n"
                "plot \"profile.dat\" using 1:5 axes x1y2 with boxes lc rgb \"%s\" "
                "title \"time under load (s)\", \\\n", COLOUR_POSITION);
    fprintf(f, "     \"profile.dat\" using 1:2 with linespoints pt 7 ps 0.5 lw 2 "
            "lc rgb \"%s\" title \"mean force (N)\", \\\n"
            "     \"profile.dat\" using 1:3 with lines dt 3 lw 1.5 lc rgb \"%s\" "
            "title \"peak force (N)\"\n", COLOUR_FORCE, COLOUR_FORCE);
}

static void write_map_script(FILE *f, const void *subject)
{
    const rm_analysis *a = subject;
    bool lateral_left = report_lateral_on_left(a);
    const char *leg = a->meta.side == RM_SIDE_LEFT ? "Left"
                      : a->meta.side == RM_SIDE_RIGHT ? "Right" : "Unknown";
    fprintf(f, "set title \"%s hamstring seen from behind\"\n"
            "set xrange [-1:1]\nset yrange [%.3f:0]\n"
            "set xtics (\"%s\" -0.85, \"centre\" 0, \"%s\" 0.85) scale 0\n"
            "set ylabel \"distance from the gluteal fold (cm)\"\n"
            "set style textbox opaque noborder\n"
            "set label \"proximal (gluteal fold)\" at graph 0.5, graph 0.975 "
            "center front boxed\n"
            "set label \"distal (knee)\" at graph 0.5, graph 0.025 center "
            "front boxed\n"
            "set cblabel \"%s\"\nset palette defined (0 \"#fff5eb\", 0.5 "
            "\"#fd8d3c\", 1 \"#7f2704\")\nset style fill solid 1.0 noborder\n"
            "set key inside top right opaque box\n",
            leg, profile_length_cm(a),
            lateral_left ? "lateral" : "medial", lateral_left ? "medial" : "lateral",
            a->has_pressure ? "mean pressure (kPa)" : "mean force (N)");
    fprintf(f, "plot \"map.dat\" using 1:2:(%g):(%g):3 with boxxyerror "
            "fc palette notitle", 1.0 / MAP_ML_CELLS,
            (a->config.profile_bin_cm > 0 ? a->config.profile_bin_cm : 1.0) / 2);
    if (a->spot_count > 0)
        fputs(", \\\n     \"map_spots.dat\" using 1:2 with points pt 6 ps 4 lw 2 "
              "lc rgb \"black\" title \"tender spot\", \\\n"
              "     \"map_spots.dat\" using 1:2:4 with labels font \",12\" "
              "notitle", f);
    fputc('\n', f);
}

static void write_spectrum_script(FILE *f, const void *subject)
{
    const rm_analysis *a = subject;
    double lo = a->config.tremor_lo_hz, hi = a->config.tremor_hi_hz;
    const char *xlabel;
    time_axis_scale(a, &xlabel);
    bool spectrogram = spectrogram_drawable(a);
    double top_db = spectrogram ? spectrogram_max_db(a) : 0;
    fprintf(f, "unset title\nset multiplot layout %d,1 title \"Force spectrum%s\"\n",
            spectrogram ? 2 : 1, spectrogram ? "" : " (too little recording "
            "between gaps for a spectrogram)");
    if (spectrogram) {
        fprintf(f, "set xlabel \"%s\"\n"
                "set ylabel \"frequency (Hz)\"\nset yrange [0:%g]\n"
                "set autoscale xfix\nset cblabel \"shaking: bright strong, "
                "dark faint (dB)\" offset 1,0\n"
                "set cbrange [%.6g : %.6g]\n"
                "set palette rgb 33,13,10\n"
                "set arrow 1 from graph 0, first %g to graph 1, first %g nohead "
                "dt 2 lc rgb \"white\" front\n"
                "set arrow 2 from graph 0, first %g to graph 1, first %g nohead "
                "dt 2 lc rgb \"white\" front\n"
                "plot \"spectrogram.dat\" using 1:2:3 with image notitle\n"
                "unset arrow\nunset colorbox\n",
                xlabel, (a->spectrogram.bins - 1) * a->spectrogram.df_hz,
                top_db - SPECTROGRAM_RANGE_DB, top_db, lo, lo, hi, hi);
    }
    fprintf(f, "set xlabel \"frequency (Hz)\"\nset autoscale y\n"
            "set ylabel \"PSD (N^2/Hz)\"\nset logscale y\nset format y \"10^{%%L}\"\n"
            "set object rect from %g, graph 0 to %g, graph 1 behind fc rgb \"%s\" "
            "fs transparent solid 0.35 noborder\n"
            "set label \"tremor band %g-%g Hz\" at %g, graph 0.92 center\n"
            "plot \"psd.dat\" using 1:2 with lines lw 1.5 lc rgb \"%s\" "
            "title \"force PSD\"\nunset multiplot\n",
            lo, hi, COLOUR_DWELL, lo, hi, (lo + hi) / 2, COLOUR_FORCE);
}

static void write_dwells_script(FILE *f, const void *subject)
{
    const rm_analysis *a = subject;
    size_t slots = a->dwell_count > DWELL_MIN_SLOTS ? a->dwell_count
                                                    : DWELL_MIN_SLOTS;
    bool labelled = a->dwell_count <= DWELL_TICK_LABELS_MAX;
    double hold = a->config.target_hold_s;
    /* Two-line tick labels (number, position) need the label lower. */
    fprintf(f, "set xrange [0.4:%zu.6]\nset xlabel \"%s\" offset 0,%d\n"
            "set ylabel \"duration (s)\"\nset yrange [0:*]\nset ytics nomirror\n"
            "set y2label \"mean force (N)\"\nset y2range [0:*]\nset y2tics\n"
            "set style fill solid 0.85 noborder\nset boxwidth 0.36\n"
            "set key outside bottom center horizontal maxrows 1\n"
            "set style textbox opaque noborder\n"
            "set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 "
            "lw 1.5 lc rgb \"%s\" front\n"
            "set label \"target hold %g s\" at graph 0.01, first %g offset 0,0.7 "
            "front boxed\n", slots,
            labelled ? "dwell (number and position)" : "dwell number",
            labelled ? -1 : 0,
            hold, hold, COLOUR_MARK, hold, hold);
    fprintf(f, "plot \"dwells.dat\" using ($1-0.19):2%s with boxes lc rgb \"%s\" "
            "title \"duration (s)\", \\\n     \"dwells.dat\" using ($1+0.19):3 "
            "axes x1y2 with boxes lc rgb \"%s\" title \"mean force (N)\"\n",
            labelled ? ":xtic(5)" : "", COLOUR_POSITION, COLOUR_FORCE);
}

/* ------------------------------------------------------------------------ */
/* The graphs: one row each                                                 */
/* ------------------------------------------------------------------------ */

static rm_status write_force_data(const char *dir, const void *subject,
                                  rm_error *err)
{
    const rm_analysis *a = subject;
    const rm_series *s = &a->series;
    rm_status st = write_time_series(dir, "force.dat", "t_s force_n (min/max "
                                     "per plot column)", s, s->force_n, err);
    if (st == RM_OK && a->has_position)
        st = write_time_series(dir, "position.dat", "t_s position_cm (min/max "
                               "per plot column)", s, s->position_cm, err);
    if (st == RM_OK && a->mark_count > 0)
        st = write_marks_data(dir, a, err);
    return st;
}

static rm_status write_spectrum_data(const char *dir, const void *subject,
                                     rm_error *err)
{
    const rm_analysis *a = subject;
    rm_status st = RM_OK;
    if (spectrogram_drawable(a))
        st = write_spectrogram_data(dir, a, err);
    if (st == RM_OK)
        st = write_psd_data(dir, a, err);
    return st;
}

static const report_graph_row graph_rows[REPORT_GRAPH_COUNT] = {
    [REPORT_GRAPH_FORCE] = {{"force", "Force and position over time",
        "Total force (left axis) and contact position from the gluteal fold "
        "(right axis); shaded bands are dwells, grey bands recording gaps, "
        "triangles the \"tender here\" marks.", 1000, 450},
        force_missing, write_force_data, write_force_script},
    [REPORT_GRAPH_PROFILE] = {{"profile", "Profile along the hamstring",
        "Mean and peak force in each position bin from proximal (gluteal "
        "fold, left) to distal (knee, right); bars are the mean pressure, or "
        "the time under load without pressure cells; dashed lines are "
        "tender spots.", 1000, 450},
        profile_missing, write_profile_data, write_profile_script},
    [REPORT_GRAPH_MAP] = {{"map", "Map of the posterior thigh",
        "Back of the thigh seen from behind, proximal at the top; colour is "
        "the mean pressure (or force) where the roller was under load; "
        "circles are tender spots, numbered as in the table.", 620, 760},
        map_missing, write_map_data, write_map_script},
    [REPORT_GRAPH_SPECTRUM] = {{"spectrum", "Force spectrum",
        "Spectrogram of the force over the session (top): bright where the "
        "force shook strongly at that frequency at that moment, dark where "
        "it was steady; and its average power spectral density (bottom); "
        "the shaded band is the physiological tremor band, where guarding "
        "shows.", 1000, 760},
        spectrum_missing, write_spectrum_data, write_spectrum_script},
    [REPORT_GRAPH_DWELLS] = {{"dwells", "Dwells",
        "Duration (left bar) and mean force (right bar) of each dwell; the "
        "dashed line is the recommended hold time.", 1000, 450},
        dwells_missing, write_dwells_data, write_dwells_script},
};

const report_graph_desc *report_graph(report_graph_id id)
{
    return &graph_rows[id].desc;
}

const char *report_graph_missing_reason(const rm_analysis *a,
                                        report_graph_id id)
{
    return graph_rows[id].missing_reason(a);
}

rm_status rm_graphs_render(const rm_analysis *a, const char *dir,
                           rm_graph_format fmt, rm_graphs_result *res,
                           rm_error *err)
{
    return report_render_graphs(graph_rows, REPORT_GRAPH_COUNT, a, dir, fmt,
                                res, err);
}

rm_status report_session_graphs_start(const rm_analysis *a, const char *dir,
                                      rm_graph_format fmt,
                                      report_graph_run **run, rm_error *err)
{
    return report_graphs_start(graph_rows, REPORT_GRAPH_COUNT, a, dir, fmt,
                               run, err);
}
