/*
 * Graphs: for each graph a data file (or a few) and a gnuplot script that
 * reads them by relative path, so `gnuplot NAME.gp` in the folder redraws
 * it; then gnuplot itself, run as a program, renders them. Long series are
 * reduced to screen resolution first. No client text ever goes into a
 * script: titles and labels are built from numbers and fixed words only.
 */
#include "report_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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

static const report_graph_desc graph_table[REPORT_GRAPH_COUNT] = {
    [REPORT_GRAPH_FORCE] = {"force", "Force and position over time",
        "Total force (left axis) and contact position from the gluteal fold "
        "(right axis); shaded bands are dwells, grey bands recording gaps, "
        "triangles the \"tender here\" marks."},
    [REPORT_GRAPH_PROFILE] = {"profile", "Profile along the hamstring",
        "Mean and peak force in each position bin from proximal (gluteal "
        "fold, left) to distal (knee, right); bars are the mean pressure, or "
        "the time under load without pressure cells; dashed lines are "
        "tender spots."},
    [REPORT_GRAPH_MAP] = {"map", "Map of the posterior thigh",
        "Back of the thigh seen from behind, proximal at the top; colour is "
        "the mean pressure (or force) where the roller was under load; "
        "circles are tender spots, numbered as in the table."},
    [REPORT_GRAPH_SPECTRUM] = {"spectrum", "Force spectrum",
        "Spectrogram of the force over the session (top) and its average "
        "power spectral density (bottom); the shaded band is the "
        "physiological tremor band, where guarding shows."},
    [REPORT_GRAPH_DWELLS] = {"dwells", "Dwells",
        "Duration (left bar) and mean force (right bar) of each dwell; the "
        "dashed line is the recommended hold time."},
};

const report_graph_desc *report_graph(report_graph_id id)
{
    return &graph_table[id];
}

static const char *const format_names[] = {
    [RM_GRAPH_PNG] = "png", [RM_GRAPH_SVG] = "svg", [RM_GRAPH_PDF] = "pdf"};

rm_status rm_graph_format_parse(const char *text, rm_graph_format *fmt)
{
    for (size_t i = 0; i < sizeof format_names / sizeof *format_names; i++)
        if (!strcasecmp(text, format_names[i])) {
            *fmt = (rm_graph_format)i;
            return RM_OK;
        }
    return RM_ERR_ARG;
}

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

const char *report_graph_missing_reason(const rm_analysis *a,
                                        report_graph_id id)
{
    switch (id) {
    case REPORT_GRAPH_FORCE:
        return a->series.n == 0 ? "the session holds no samples" : NULL;
    case REPORT_GRAPH_PROFILE:
        if (no_position_reason(a))
            return no_position_reason(a);
        return a->bin_count == 0 ? "the roller was never under load" : NULL;
    case REPORT_GRAPH_MAP:
        if (no_position_reason(a))
            return no_position_reason(a);
        return has_map_data(a) ? NULL
               : "no sample under load has both a position and a "
                 "medial-lateral centre of pressure";
    case REPORT_GRAPH_SPECTRUM:
        if (a->psd_bins == 0)
            return "the session is shorter than one spectrum window";
        return has_spectrum_power(a) ? NULL
               : "the force never varied (no load, or a perfectly steady "
                 "one), so its spectrum is empty";
    case REPORT_GRAPH_DWELLS:
        return a->dwell_count == 0 ? "there was no dwell (contact never "
                                     "stayed in one place long enough)" : NULL;
    case REPORT_GRAPH_COUNT:
        break;
    }
    return "unknown graph";
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

void report_gnuplot_value(FILE *f, double v, char sep)
{
    if (isfinite(v))
        fprintf(f, "%.6g%c", v, sep);
    else
        fprintf(f, "NaN%c", sep);
}

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
    report_file rf;
    if (st == RM_OK)
        st = report_file_open(&rf, dir, name, err);
    if (st == RM_OK) {
        fprintf(rf.f, "# %s\n", header);
        write_kept(rf.f, s, shown, keep,
                   report_minmax_reduce(shown, s->n, GRAPH_COLUMNS, keep));
        st = report_file_commit(&rf, err);
    }
    free(shown);
    free(keep);
    return st;
}

static rm_status write_marks_data(const char *dir, const rm_analysis *a,
                                  rm_error *err)
{
    report_file rf;
    rm_status st = report_file_open(&rf, dir, "marks.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# t_s force_n rating(-1 none)\n", rf.f);
    for (size_t i = 0; i < a->mark_count; i++) {
        report_gnuplot_value(rf.f, a->marks[i].t_s, ' ');
        report_gnuplot_value(rf.f, a->marks[i].force_n, ' ');
        fprintf(rf.f, "%d\n", a->marks[i].rating);
    }
    return report_file_commit(&rf, err);
}

static rm_status write_profile_data(const char *dir, const rm_analysis *a,
                                    rm_error *err)
{
    report_file rf;
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
    return report_file_commit(&rf, err);
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
    report_file rf;
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
    return report_file_commit(&rf, err);
}

static rm_status write_map_spots(const char *dir, const rm_analysis *a,
                                 rm_error *err)
{
    report_file rf;
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
    return report_file_commit(&rf, err);
}

static rm_status write_map_data(const char *dir, const rm_analysis *a,
                                rm_error *err)
{
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

/** Whether any plot column outside the gaps has power to show: a short
 *  session that is mostly gap has none, and gnuplot refuses an image of
 *  nothing but NaN, so the spectrogram panel is then left out. */
static bool spectrogram_drawable(const rm_analysis *a)
{
    const rm_spectrogram *sg = &a->spectrogram;
    size_t columns = spectrogram_columns(sg);
    for (size_t c = 0; c < columns; c++) {
        size_t from, to;
        column_frames(sg, c, columns, &from, &to);
        if (time_in_gap(&a->series, (from + to) / 2.0 * sg->dt_s))
            continue;
        for (size_t b = 0; b < sg->bins; b++)
            if (frames_mean(sg, from, to, b) > 0)
                return true;
    }
    return false;
}

static rm_status write_spectrogram_data(const char *dir, const rm_analysis *a,
                                        rm_error *err)
{
    const rm_spectrogram *sg = &a->spectrogram;
    report_file rf;
    rm_status st = report_file_open(&rf, dir, "spectrogram.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# t_s frequency_hz power_db (10 log10 of N^2/Hz); frames "
          "averaged down to the plot width; NaN inside recording gaps\n", rf.f);
    size_t columns = spectrogram_columns(sg);
    for (size_t c = 0; c < columns; c++) {
        size_t from, to;
        column_frames(sg, c, columns, &from, &to);
        double t = (from + to) / 2.0 * sg->dt_s;
        bool gap = time_in_gap(&a->series, t);
        for (size_t b = 0; b < sg->bins; b++) {
            report_gnuplot_value(rf.f, t, ' ');
            report_gnuplot_value(rf.f, b * sg->df_hz, ' ');
            report_gnuplot_value(rf.f, gap ? NAN : decibels(frames_mean(sg, from, to, b)), '\n');
        }
        fputc('\n', rf.f);
    }
    return report_file_commit(&rf, err);
}

static rm_status write_psd_data(const char *dir, const rm_analysis *a,
                                rm_error *err)
{
    report_file rf;
    rm_status st = report_file_open(&rf, dir, "psd.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# frequency_hz psd_n2_per_hz\n", rf.f);
    for (size_t b = 0; b < a->psd_bins; b++) {
        report_gnuplot_value(rf.f, b * a->psd_df_hz, ' ');
        report_gnuplot_value(rf.f, a->psd[b] > 0 ? a->psd[b] : NAN, '\n');
    }
    return report_file_commit(&rf, err);
}

static rm_status write_dwells_data(const char *dir, const rm_analysis *a,
                                   rm_error *err)
{
    report_file rf;
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
    return report_file_commit(&rf, err);
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

void report_gnuplot_preamble(FILE *f, const char *name, const char *title,
                             rm_graph_format fmt, int width_px, int height_px)
{
    fprintf(f, "# rollmap graph: %s.\n# Redraw from this folder: gnuplot %s.gp\n"
            "# In another format: gnuplot -e \"format='svg'\" %s.gp "
            "(png, svg or pdf)\n", title, name, name);
    fprintf(f, "if (!exists(\"format\")) format = \"%s\"\nreset\n",
            format_names[fmt]);
    fprintf(f, "if (format eq \"svg\") {\n"
            "    set terminal svg size %d,%d dynamic font \"sans,11\" "
            "background \"white\"\n"
            "} else {\n    if (format eq \"pdf\") {\n"
            "        set terminal pdfcairo size %.2fin,%.2fin font \"sans,9\"\n"
            "    } else {\n"
            "        if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "            set terminal pngcairo size %d,%d font \"sans,10\"\n"
            "        } else {\n"
            "            set terminal png size %d,%d\n"
            "        }\n    }\n}\n",
            width_px, height_px, width_px / 100.0, height_px / 100.0,
            width_px, height_px, width_px, height_px);
    fprintf(f, "set output \"%s.\" . format\n", name);
    fprintf(f, "set title \"%s\"\nset grid lc rgb \"#dddddd\"\n", title);
}

static void write_preamble(FILE *f, report_graph_id id, rm_graph_format fmt,
                           int width_px, int height_px)
{
    const report_graph_desc *g = report_graph(id);
    report_gnuplot_preamble(f, g->name, g->title, fmt, width_px, height_px);
}

/** Time axis: seconds for short sessions, minutes for long ones. */
static double time_axis_scale(const rm_analysis *a, const char **label)
{
    bool minutes = a->summary.duration_s > MINUTES_AXIS_FROM_S;
    *label = minutes ? "time from start (min)" : "time from start (s)";
    return minutes ? 60.0 : 1.0;
}

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

static void write_force_script(FILE *f, const rm_analysis *a,
                               rm_graph_format fmt)
{
    const char *xlabel;
    double scale = time_axis_scale(a, &xlabel);
    write_preamble(f, REPORT_GRAPH_FORCE, fmt, 1000, 450);
    fprintf(f, "set xlabel \"%s\"\nset ylabel \"force (N)\"\n"
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

static void write_profile_script(FILE *f, const rm_analysis *a,
                                 rm_graph_format fmt)
{
    write_preamble(f, REPORT_GRAPH_PROFILE, fmt, 1000, 450);
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

static void write_map_script(FILE *f, const rm_analysis *a,
                             rm_graph_format fmt)
{
    bool lateral_left = report_lateral_on_left(a);
    const char *leg = a->meta.side == RM_SIDE_LEFT ? "Left"
                      : a->meta.side == RM_SIDE_RIGHT ? "Right" : "Unknown";
    write_preamble(f, REPORT_GRAPH_MAP, fmt, 620, 760);
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
            "set key outside bottom center\n",
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

static void write_spectrum_script(FILE *f, const rm_analysis *a,
                                  rm_graph_format fmt)
{
    double lo = a->config.tremor_lo_hz, hi = a->config.tremor_hi_hz;
    const char *xlabel;
    double scale = time_axis_scale(a, &xlabel);
    write_preamble(f, REPORT_GRAPH_SPECTRUM, fmt, 1000, 760);
    bool spectrogram = spectrogram_drawable(a);
    fprintf(f, "unset title\nset multiplot layout %d,1 title \"Force spectrum%s\"\n",
            spectrogram ? 2 : 1, spectrogram ? "" : " (too little recording "
            "between gaps for a spectrogram)");
    if (spectrogram) {
        fprintf(f, "set xlabel \"%s\"\n"
                "set ylabel \"frequency (Hz)\"\nset yrange [0:%g]\n"
                "set autoscale xfix\nset cblabel \"power (dB re 1 N^2/Hz)\" offset 1,0\n"
                "stats \"spectrogram.dat\" using 3 nooutput\n"
                "set cbrange [STATS_max - %d : STATS_max]\n"
                "set palette rgb 33,13,10\n"
                "set arrow 1 from graph 0, first %g to graph 1, first %g nohead "
                "dt 2 lc rgb \"white\" front\n"
                "set arrow 2 from graph 0, first %g to graph 1, first %g nohead "
                "dt 2 lc rgb \"white\" front\n"
                "plot \"spectrogram.dat\" using ($1/%g):2:3 with image notitle\n"
                "unset arrow\nunset colorbox\n",
                xlabel, (a->spectrogram.bins - 1) * a->spectrogram.df_hz,
                SPECTROGRAM_RANGE_DB, lo, lo, hi, hi, scale);
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

static void write_dwells_script(FILE *f, const rm_analysis *a,
                                rm_graph_format fmt)
{
    size_t slots = a->dwell_count > DWELL_MIN_SLOTS ? a->dwell_count
                                                    : DWELL_MIN_SLOTS;
    bool labelled = a->dwell_count <= DWELL_TICK_LABELS_MAX;
    double hold = a->config.target_hold_s;
    write_preamble(f, REPORT_GRAPH_DWELLS, fmt, 1000, 450);
    fprintf(f, "set xrange [0.4:%zu.6]\nset xlabel \"%s\"\n"
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
            hold, hold, COLOUR_MARK, hold, hold);
    fprintf(f, "plot \"dwells.dat\" using ($1-0.19):2%s with boxes lc rgb \"%s\" "
            "title \"duration (s)\", \\\n     \"dwells.dat\" using ($1+0.19):3 "
            "axes x1y2 with boxes lc rgb \"%s\" title \"mean force (N)\"\n",
            labelled ? ":xtic(5)" : "", COLOUR_POSITION, COLOUR_FORCE);
}

/* ------------------------------------------------------------------------ */
/* One graph: its data and its script                                       */
/* ------------------------------------------------------------------------ */

typedef void (*script_writer)(FILE *f, const rm_analysis *a,
                              rm_graph_format fmt);

static rm_status write_script(const char *dir, report_graph_id id,
                              script_writer writer, const rm_analysis *a,
                              rm_graph_format fmt, rm_error *err)
{
    char name[64];
    snprintf(name, sizeof name, "%s.gp", report_graph(id)->name);
    report_file rf;
    rm_status st = report_file_open(&rf, dir, name, err);
    if (st != RM_OK)
        return st;
    writer(rf.f, a, fmt);
    return report_file_commit(&rf, err);
}

static rm_status write_force_graph(const char *dir, const rm_analysis *a,
                                   rm_graph_format fmt, rm_error *err)
{
    const rm_series *s = &a->series;
    rm_status st = write_time_series(dir, "force.dat", "t_s force_n (min/max "
                                     "per plot column)", s, s->force_n, err);
    if (st == RM_OK && a->has_position)
        st = write_time_series(dir, "position.dat", "t_s position_cm (min/max "
                               "per plot column)", s, s->position_cm, err);
    if (st == RM_OK && a->mark_count > 0)
        st = write_marks_data(dir, a, err);
    if (st == RM_OK)
        st = write_script(dir, REPORT_GRAPH_FORCE, write_force_script, a,
                          fmt, err);
    return st;
}

static rm_status write_profile_graph(const char *dir, const rm_analysis *a,
                                     rm_graph_format fmt, rm_error *err)
{
    rm_status st = write_profile_data(dir, a, err);
    if (st == RM_OK)
        st = write_script(dir, REPORT_GRAPH_PROFILE, write_profile_script, a,
                          fmt, err);
    return st;
}

static rm_status write_map_graph(const char *dir, const rm_analysis *a,
                                 rm_graph_format fmt, rm_error *err)
{
    rm_status st = write_map_data(dir, a, err);
    if (st == RM_OK)
        st = write_script(dir, REPORT_GRAPH_MAP, write_map_script, a, fmt, err);
    return st;
}

static rm_status write_spectrum_graph(const char *dir, const rm_analysis *a,
                                      rm_graph_format fmt, rm_error *err)
{
    rm_status st = RM_OK;
    if (spectrogram_drawable(a))
        st = write_spectrogram_data(dir, a, err);
    if (st == RM_OK)
        st = write_psd_data(dir, a, err);
    if (st == RM_OK)
        st = write_script(dir, REPORT_GRAPH_SPECTRUM, write_spectrum_script, a,
                          fmt, err);
    return st;
}

static rm_status write_dwells_graph(const char *dir, const rm_analysis *a,
                                    rm_graph_format fmt, rm_error *err)
{
    rm_status st = write_dwells_data(dir, a, err);
    if (st == RM_OK)
        st = write_script(dir, REPORT_GRAPH_DWELLS, write_dwells_script, a,
                          fmt, err);
    return st;
}

typedef rm_status (*graph_writer)(const char *dir, const rm_analysis *a,
                                  rm_graph_format fmt, rm_error *err);

static const graph_writer graph_writers[REPORT_GRAPH_COUNT] = {
    [REPORT_GRAPH_FORCE] = write_force_graph,
    [REPORT_GRAPH_PROFILE] = write_profile_graph,
    [REPORT_GRAPH_MAP] = write_map_graph,
    [REPORT_GRAPH_SPECTRUM] = write_spectrum_graph,
    [REPORT_GRAPH_DWELLS] = write_dwells_graph,
};

/* ------------------------------------------------------------------------ */
/* Running gnuplot                                                          */
/* ------------------------------------------------------------------------ */

bool report_find_gnuplot(char *path, size_t size)
{
    const char *search = getenv("PATH");
    if (!search || !*search)
        search = "/usr/bin:/bin";
    while (*search) {
        size_t len = strcspn(search, ":");
        snprintf(path, size, "%.*s/gnuplot", (int)(len ? len : 1),
                 len ? search : ".");
        if (access(path, X_OK) == 0)
            return true;
        search += len + (search[len] == ':');
    }
    return false;
}

static rm_status spawn_gnuplot(const char *gnuplot, const char *dir,
                               report_gnuplot_job *job, rm_error *err)
{
    const char *name = job->name;
    char script[64], format_expr[32];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(format_expr, sizeof format_expr, "format='%s'",
             format_names[job->fmt]);
    snprintf(job->log_name, sizeof job->log_name, "%s.%s.log", name,
             format_names[job->fmt]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, dir);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, job->log_name,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    char *argv[] = {"gnuplot", "-e", format_expr, script, NULL};
    int rc = posix_spawn(&job->pid, gnuplot, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot run %s: %s", dir,
                            gnuplot, strerror(rc));
    return RM_OK;
}

/** First line of a gnuplot log, for an error message. */
static void read_first_error(const char *dir, const char *log_name,
                            char *out, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, log_name);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(out, (int)size, f) && strspn(out, " \t\r\n") == strlen(out))
        ;
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

static bool output_rendered(const char *dir, const report_gnuplot_job *job)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.%s", dir, job->name,
             format_names[job->fmt]);
    return stat(path, &st) == 0 && st.st_size > 0;
}

/** Wait for a job; a failure keeps its log and is described in err. */
static rm_status finish_gnuplot(const char *dir, const report_gnuplot_job *job,
                                rm_error *err)
{
    int status;
    while (waitpid(job->pid, &status, 0) < 0)
        if (errno != EINTR)
            return rm_error_set(err, RM_ERR_IO, "gnuplot: wait: %s",
                                strerror(errno));
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/%s", dir, job->log_name);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && output_rendered(dir, job)) {
        unlink(log_path);
        return RM_OK;
    }
    char first[200];
    read_first_error(dir, job->log_name, first, sizeof first);
    return rm_error_set(err, RM_ERR_IO, "%s/%s.gp: gnuplot failed to draw %s "
                        "(%s; details in %s)", dir, job->name,
                        format_names[job->fmt], first[0] ? first : "no message",
                        log_path);
}

rm_status report_run_gnuplot(const char *gnuplot, const char *dir,
                          report_gnuplot_job *jobs, size_t count, rm_error *err)
{
    rm_status first = RM_OK;
    size_t started = 0;
    for (; started < count; started++) {
        first = spawn_gnuplot(gnuplot, dir, &jobs[started], err);
        if (first != RM_OK)
            break;
    }
    for (size_t i = 0; i < started; i++) {
        rm_error job_err;
        if (finish_gnuplot(dir, &jobs[i], &job_err) != RM_OK && first == RM_OK) {
            first = job_err.code;
            if (err)
                *err = job_err;
        }
    }
    return first;
}

static void note_missing_gnuplot(rm_graphs_result *res, const char *dir)
{
    snprintf(res->message, sizeof res->message,
             "gnuplot is not installed (not found in PATH): graphs not drawn; "
             "their scripts are in %s (install gnuplot, then run gnuplot "
             "NAME.gp there)", dir);
}

/** Graphs and scripts left by an earlier report in the same folder would
 *  be taken for this one's (the HTML embeds whatever SVG it finds). */
static void remove_previous_graphs(const char *dir)
{
    static const char *const extensions[] = {"png", "svg", "pdf", "gp"};
    char path[PATH_MAX];
    for (int id = 0; id < REPORT_GRAPH_COUNT; id++)
        for (size_t e = 0; e < sizeof extensions / sizeof *extensions; e++) {
            snprintf(path, sizeof path, "%s/%s.%s", dir,
                     report_graph((report_graph_id)id)->name, extensions[e]);
            unlink(path);
        }
}

/** Data and script of every graph this analysis can have; the gnuplot
 *  runs they need are added to jobs. */
static rm_status write_graph_sources(const rm_analysis *a, const char *dir,
                                     rm_graph_format fmt, report_gnuplot_job *jobs,
                                     size_t *job_count, rm_error *err)
{
    for (int id = 0; id < REPORT_GRAPH_COUNT; id++) {
        if (report_graph_missing_reason(a, (report_graph_id)id))
            continue;
        rm_status st = graph_writers[id](dir, a, fmt, err);
        if (st != RM_OK)
            return st;
        jobs[(*job_count)++] = (report_gnuplot_job){
            .name = report_graph((report_graph_id)id)->name, .fmt = fmt};
        /* The HTML report embeds SVG whatever format was asked for. */
        if (fmt != RM_GRAPH_SVG)
            jobs[(*job_count)++] = (report_gnuplot_job){
                .name = report_graph((report_graph_id)id)->name,
                .fmt = RM_GRAPH_SVG};
    }
    return RM_OK;
}

rm_status rm_graphs_render(const rm_analysis *a, const char *dir,
                           rm_graph_format fmt, rm_graphs_result *res,
                           rm_error *err)
{
    memset(res, 0, sizeof *res);
    report_gnuplot_job jobs[2 * REPORT_GRAPH_COUNT];
    size_t job_count = 0;
    rm_status st = report_make_dir(dir, err);
    if (st != RM_OK)
        return st;
    remove_previous_graphs(dir);
    st = write_graph_sources(a, dir, fmt, jobs, &job_count, err);
    if (st != RM_OK)
        return st;
    char gnuplot[PATH_MAX];
    res->gnuplot_found = report_find_gnuplot(gnuplot, sizeof gnuplot);
    if (!res->gnuplot_found) {
        note_missing_gnuplot(res, dir);
        return RM_OK;
    }
    st = report_run_gnuplot(gnuplot, dir, jobs, job_count, err);
    if (st != RM_OK) {
        snprintf(res->message, sizeof res->message, "gnuplot failed: %.200s",
                 err ? err->message : rm_strerror(st));
        return st;
    }
    size_t drawn = fmt == RM_GRAPH_SVG ? job_count : job_count / 2;
    res->rendered = drawn;
    snprintf(res->message, sizeof res->message, "%zu of %d graphs drawn in %s",
             drawn, REPORT_GRAPH_COUNT, dir);
    return RM_OK;
}
