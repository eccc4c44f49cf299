/*
 * Comparison graphs: data files and gnuplot scripts (redrawable with
 * `gnuplot NAME.gp` in the folder), rendered by gnuplot run as a program.
 * Legends are built from dates, positions and fixed words only: no client
 * text ever goes into a script.
 */
#include "compare_internal.h"

#include <math.h>
#include <string.h>
#include <time.h>

/** Graph size in pixels: wide line graphs, a tall thigh. */
enum { WIDE_W = 1000, WIDE_H = 450, TALL_W = 1000, TALL_H = 760,
       MAP_W = 900, MAP_H = 760 };
/** Map x of the medial, centre and lateral columns from a thigh's centre,
 *  toward its medial side (seen from behind, a right thigh's medial side
 *  is to the left, a left thigh's to the right). */
static const double side_x[] = {[RM_ML_SIDE_CENTRE] = 0.0,
                                [RM_ML_SIDE_MEDIAL] = 0.5,
                                [RM_ML_SIDE_LATERAL] = -0.5};
/** Thighs on the map stand this far apart (their half-width is 1). */
#define MAP_THIGH_STEP 2.6
/** Legend text in the comparison graphs, large enough to read on A4. */
#define KEY_FONT "font \",13\""
/** Each session's spots are shifted this far right of the previous
 *  session's, so sessions stand side by side within a column. */
#define MAP_SESSION_STEP 0.06

void compare_session_date(char out[16], const rm_analysis *a)
{
    if (a->meta.start_unix_us == 0) {
        strcpy(out, "unknown");
        return;
    }
    time_t t = (time_t)(a->meta.start_unix_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static bool any_profile(const rm_comparison *c)
{
    for (size_t i = 0; i < c->session_count; i++)
        if (c->sessions[i]->has_position && c->sessions[i]->bin_count > 0)
            return true;
    return false;
}

static bool any_placed_spot(const rm_comparison *c)
{
    for (size_t k = 0; k < c->spot_count; k++)
        if (isfinite(c->spots[k].position_cm))
            return true;
    return false;
}

static const char *profiles_missing(const void *subject)
{
    const rm_comparison *c = subject;
    return any_profile(c) ? NULL : "no session has a profile along the "
           "leg (no rotation encoder, or never under load)";
}

static const char *scores_missing(const void *subject)
{
    const rm_comparison *c = subject;
    return c->spot_count ? NULL : "no session has a tender spot";
}

static const char *map_missing(const void *subject)
{
    const rm_comparison *c = subject;
    return any_placed_spot(c) ? NULL : "no tender spot with a position "
           "along the leg";
}

static const char *symmetry_missing(const void *subject)
{
    const rm_comparison *c = subject;
    if (!c->symmetry.available)
        return "it needs sessions of both legs";
    return c->sessions[c->symmetry.left]->bin_count &&
           c->sessions[c->symmetry.right]->bin_count ? NULL
           : "a leg's latest session has no profile along the leg";
}

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

/** One profile as a data block: position, tenderness, mean force. */
static void put_profile_block(FILE *f, const rm_analysis *a)
{
    for (size_t b = 0; b < a->bin_count; b++) {
        const rm_profile_bin *bin = &a->profile[b];
        report_gnuplot_value(f, bin->position_cm, ' ');
        report_gnuplot_value(f, bin->tenderness, ' ');
        report_gnuplot_value(f, bin->mean_force_n, '\n');
    }
    /* gnuplot needs at least one line in a block for `index` to count it. */
    if (a->bin_count == 0)
        fputs("NaN NaN NaN\n", f);
    fputs("\n\n", f);
}

static rm_status write_profiles_data(const char *dir, const void *subject,
                                     rm_error *err)
{
    const rm_comparison *c = subject;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "compare_profiles.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# position_cm tenderness mean_force_n; one block per session\n", rf.f);
    for (size_t i = 0; i < c->session_count; i++)
        put_profile_block(rf.f, c->sessions[i]);
    return rm_atomic_commit(&rf, err);
}

/** Scores are drawn over days since the first session, or over the
 *  session number when all sessions fall within a day. */
static bool scores_by_day(const rm_comparison *c)
{
    const rm_analysis *last = c->sessions[c->session_count - 1];
    return last->meta.start_unix_us - c->sessions[0]->meta.start_unix_us >=
           (int64_t)86400 * 1000000;
}

static double score_x(const rm_comparison *c, size_t i)
{
    if (!scores_by_day(c))
        return (double)(i + 1);
    return (double)(c->sessions[i]->meta.start_unix_us -
                    c->sessions[0]->meta.start_unix_us) / 86400e6;
}

static rm_status write_scores_data(const char *dir, const void *subject,
                                   rm_error *err)
{
    const rm_comparison *c = subject;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "compare_scores.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# days_since_first (or session number) score; one block per "
          "matched spot\n", rf.f);
    for (size_t k = 0; k < c->spot_count; k++) {
        for (size_t i = 0; i < c->session_count; i++) {
            const rm_spot_visit *v = &c->spots[k].visits[i];
            if (v->spot < 0)
                continue;
            report_gnuplot_value(rf.f, score_x(c, i), ' ');
            report_gnuplot_value(rf.f, v->score, '\n');
        }
        fputs(c->spots[k].present ? "\n\n" : "NaN NaN\n\n\n", rf.f);
    }
    return rm_atomic_commit(&rf, err);
}

/** The legs with sessions, left to right as seen from behind (left,
 *  unknown, right); returns how many. */
static size_t map_legs(const rm_comparison *c, uint8_t legs[3])
{
    static const uint8_t order[] = {RM_SIDE_LEFT, RM_SIDE_UNKNOWN,
                                    RM_SIDE_RIGHT};
    size_t n = 0;
    for (size_t k = 0; k < sizeof order; k++)
        if (c->legs[order[k]].sessions > 0)
            legs[n++] = order[k];
    return n;
}

/** x of the centre line of a leg's thigh on the map. */
static double thigh_x(const rm_comparison *c, uint8_t leg)
{
    uint8_t legs[3];
    size_t n = map_legs(c, legs), at = 0;
    while (at < n && legs[at] != leg)
        at++;
    return ((double)at - (double)(n - 1) / 2.0) * MAP_THIGH_STEP;
}

static rm_status write_map_data(const char *dir, const void *subject,
                                rm_error *err)
{
    const rm_comparison *c = subject;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "compare_map.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# x (thighs seen from behind) position_cm score session\n", rf.f);
    double centre = (double)(c->session_count - 1) / 2;
    for (size_t i = 0; i < c->session_count; i++) {
        const rm_analysis *a = c->sessions[i];
        double thigh = thigh_x(c, a->meta.side);
        double medial = a->meta.side == RM_SIDE_LEFT ? 1.0 : -1.0;
        for (size_t k = 0; k < a->spot_count; k++) {
            const rm_spot *s = &a->spots[k];
            uint8_t side = s->side <= RM_ML_SIDE_LATERAL ? s->side : 0;
            report_gnuplot_value(rf.f, thigh + medial * side_x[side] +
                                 ((double)i - centre) * MAP_SESSION_STEP, ' ');
            report_gnuplot_value(rf.f, s->position_cm, ' ');
            report_gnuplot_value(rf.f, s->score, ' ');
            fprintf(rf.f, "%zu\n", i + 1);
        }
    }
    return rm_atomic_commit(&rf, err);
}

static rm_status write_symmetry_data(const char *dir, const void *subject,
                                     rm_error *err)
{
    const rm_comparison *c = subject;
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, "compare_symmetry.dat", err);
    if (st != RM_OK)
        return st;
    fputs("# position_cm tenderness mean_force_n; block 0 right, block 1 "
          "left\n", rf.f);
    put_profile_block(rf.f, c->sessions[c->symmetry.right]);
    put_profile_block(rf.f, c->sessions[c->symmetry.left]);
    return rm_atomic_commit(&rf, err);
}

/* ------------------------------------------------------------------------ */
/* Scripts                                                                  */
/* ------------------------------------------------------------------------ */

/** gnuplot string of space-separated words, one per session:
 *  "#N:date/leg", N as in the sessions table. */
static void put_session_labels(FILE *f, const rm_comparison *c)
{
    fputs("labels = \"", f);
    for (size_t i = 0; i < c->session_count; i++) {
        char date[16];
        compare_session_date(date, c->sessions[i]);
        fprintf(f, "%s#%zu:%s/%s", i ? " " : "", i + 1, date,
                rm_side_name((rm_side)c->sessions[i]->meta.side));
    }
    fputs("\"\n", f);
}

static void write_profiles_script(FILE *f, const void *subject)
{
    const rm_comparison *c = subject;
    put_session_labels(f, c);
    fprintf(f, "n = %zu\nset key outside right " KEY_FONT "\nunset title\n"
            "set multiplot layout 2,1 title \"%s\"\n", c->session_count,
            compare_graph(COMPARE_GRAPH_PROFILES)->title);
    fputs("set ylabel \"tenderness (0-10)\"\nset yrange [0:10]\n"
          "plot for [i=0:n-1] \"compare_profiles.dat\" index i using 1:2 "
          "with lines lw 2 title word(labels, i+1)\n"
          "set xlabel \"position from the gluteal fold (cm)\"\n"
          "set ylabel \"mean force (N)\"\nset yrange [0:*]\n"
          "plot for [i=0:n-1] \"compare_profiles.dat\" index i using 1:3 "
          "with lines lw 2 title word(labels, i+1)\nunset multiplot\n", f);
}

static void write_scores_script(FILE *f, const void *subject)
{
    const rm_comparison *c = subject;
    fputs("labels = \"", f);
    for (size_t k = 0; k < c->spot_count; k++) {
        const rm_matched_spot *m = &c->spots[k];
        fprintf(f, "%s#%zu:%s/%.0fcm/%s", k ? " " : "", k + 1,
                rm_side_name((rm_side)m->leg), isfinite(m->position_cm)
                ? m->position_cm : 0.0, rm_ml_side_name((rm_ml_side)m->side));
    }
    fprintf(f, "\"\nn = %zu\nset key outside right " KEY_FONT "\n"
            "set xlabel \"%s\"\n"
            "set ylabel \"spot score (0-10)\"\nset yrange [0:10]\n"
            "set offsets graph 0.05, graph 0.05, 0, 0\n"
            "plot for [i=0:n-1] \"compare_scores.dat\" index i using 1:2 "
            "with linespoints lw 2 pt 7 title word(labels, i+1)\n",
            c->spot_count, scores_by_day(c) ? "days since the first session"
            : "session (all within one day)");
}

/** One thigh outline and its column labels; it narrows from the gluteal
 *  fold (half-width 1) to the knee (0.7), as on the session report's map. */
static void put_thigh(FILE *f, const rm_comparison *c, uint8_t leg, int object,
                      double length)
{
    double x = thigh_x(c, leg), medial = leg == RM_SIDE_LEFT ? 1.0 : -1.0;
    fprintf(f, "set object %d polygon from %.2f,0 to %.2f,0 to %.2f,%.1f to "
            "%.2f,%.1f to %.2f,0 behind fc rgb \"#f6e3d7\" fs solid border "
            "lc rgb \"#8c6d5a\"\n", object, x - 1, x + 1, x + 0.7, length,
            x - 0.7, length, x - 1);
    fprintf(f, "set label \"%s leg\" at %.2f,-1 center font \",13\"\n",
            rm_side_name((rm_side)leg), x);
    fprintf(f, "set xtics add (\"medial\" %.2f, \"centre\" %.2f, "
            "\"lateral\" %.2f)\n", x + medial * side_x[RM_ML_SIDE_MEDIAL],
            x, x + medial * side_x[RM_ML_SIDE_LATERAL]);
}

static void write_map_script(FILE *f, const void *subject)
{
    const rm_comparison *c = subject;
    double length = 0;
    for (size_t i = 0; i < c->session_count; i++)
        for (size_t b = 0; b < c->sessions[i]->bin_count; b++)
            length = fmax(length, c->sessions[i]->profile[b].position_cm);
    for (size_t k = 0; k < c->spot_count; k++)
        if (isfinite(c->spots[k].position_cm))
            length = fmax(length, c->spots[k].position_cm);
    length = ceil(length + 2);
    uint8_t legs[3];
    size_t n = map_legs(c, legs);
    fputs("set xtics ()\n", f);
    for (size_t k = 0; k < n; k++)
        put_thigh(f, c, legs[k], (int)k + 1, length);
    double half = ((double)n - 1) / 2.0 * MAP_THIGH_STEP + 1.2;
    fprintf(f, "set xrange [%.2f:%.2f]\nset yrange [%.1f:-2.5] \n"
            "set ylabel \"position from the gluteal fold (cm)\"\n"
            "set cblabel \"session\"\nset cbrange [1:%zu]\nset cbtics 1\n"
            "set palette defined (0 \"#9ecae1\", 1 \"#08306b\")\nunset key\n"
            "plot \"compare_map.dat\" using 1:2:(1 + $3 / 3):4 with points "
            "pt 7 ps variable lc palette\n", -half, half, length,
            c->session_count > 1 ? c->session_count : 2);
}

static void write_symmetry_script(FILE *f, const void *subject)
{
    const rm_comparison *c = subject;
    (void)c;
    fprintf(f, "unset title\nset multiplot layout 2,1 title \"%s\"\n"
            "set key outside right " KEY_FONT "\n"
            "set ylabel \"tenderness (0-10)\"\nset yrange [0:10]\n"
            "plot \"compare_symmetry.dat\" index 0 using 1:2 with filledcurves "
            "y=0 fs transparent solid 0.4 lc rgb \"#1f4e79\" title \"right\", "
            "\"\" index 1 using 1:2 with filledcurves y=0 fs transparent solid "
            "0.4 lc rgb \"#e76f51\" title \"left\"\n"
            "set xlabel \"position from the gluteal fold (cm)\"\n"
            "set ylabel \"mean force (N)\"\nset yrange [0:*]\n"
            "plot \"compare_symmetry.dat\" index 0 using 1:3 with lines lw 2 "
            "lc rgb \"#1f4e79\" title \"right\", \"\" index 1 using 1:3 with "
            "lines lw 2 lc rgb \"#e76f51\" title \"left\"\nunset multiplot\n",
            compare_graph(COMPARE_GRAPH_SYMMETRY)->title);
}

static const report_graph_row graph_rows[COMPARE_GRAPH_COUNT] = {
    [COMPARE_GRAPH_PROFILES] = {{"compare_profiles",
        "Profiles of the sessions along the hamstring",
        "Tenderness (top) and mean force (bottom) in each position bin, "
        "proximal (gluteal fold) left to distal (knee) right, one line per "
        "session labelled with its number (as in the sessions table), date and "
        "leg.", TALL_W, TALL_H},
        profiles_missing, write_profiles_data, write_profiles_script},
    [COMPARE_GRAPH_SCORES] = {{"compare_scores", "Spot scores over time",
        "Score (0-10) of each matched tender spot in each session that "
        "found it, against days since the first session (or the session "
        "number when all fall within a day); falling lines are "
        "spots that eased.", WIDE_W, WIDE_H},
        scores_missing, write_scores_data, write_scores_script},
    [COMPARE_GRAPH_MAP] = {{"compare_map",
        "Spots of every session, one thigh per leg",
        "The posterior thighs seen from behind (left leg on the left), "
        "proximal at the top, medial sides toward the middle; each point is "
        "a spot found in a session (later sessions further right within a "
        "column), larger for a higher score.",
        MAP_W, MAP_H},
        map_missing, write_map_data, write_map_script},
    [COMPARE_GRAPH_SYMMETRY] = {{"compare_symmetry", "Left vs right",
        "The latest session of each leg on one axis, both in their own "
        "units: tenderness (top) and mean force (bottom) along the "
        "hamstring, the right leg blue, the left leg orange.", TALL_W, TALL_H},
        symmetry_missing, write_symmetry_data, write_symmetry_script},
};

const report_graph_desc *compare_graph(compare_graph_id id)
{
    return &graph_rows[id].desc;
}

const char *compare_graph_missing_reason(const rm_comparison *c,
                                         compare_graph_id id)
{
    return graph_rows[id].missing_reason(c);
}

rm_status rm_compare_graphs(const rm_comparison *c, const char *dir,
                            rm_graph_format fmt, rm_graphs_result *res,
                            rm_error *err)
{
    return report_render_graphs(graph_rows, COMPARE_GRAPH_COUNT, c, dir, fmt,
                                res, err);
}
