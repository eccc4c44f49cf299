/*
 * report.html: one self-contained page a therapist can print on A4 and
 * file. Graphs are embedded inline as SVG; there are no scripts and no
 * external resources. Every string that came from outside (client, notes,
 * muscle, device) is HTML-escaped.
 *
 * Also the report folder itself: rm_report_write_dir writes report.json,
 * summary.txt, the graphs and report.html, each renamed into place only
 * when complete.
 */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


void report_html_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Files and folders                                                        */
/* ------------------------------------------------------------------------ */

rm_status report_file_open(rm_atomic_file *rf, const char *dir, const char *name,
                           rm_error *err)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return rm_error_set(err, RM_ERR_ARG, "%s/%s: path too long", dir, name);
    return rm_atomic_open(rf, path, REPORT_FILE_MODE, false, err);
}

/* ------------------------------------------------------------------------ */
/* Page furniture                                                           */
/* ------------------------------------------------------------------------ */

const char report_page_style[] =
    "body{font-family:\"DejaVu Sans\",Arial,sans-serif;font-size:11pt;"
    "color:#222;max-width:190mm;margin:1em auto;padding:0 1em}\n"
    "h1{font-size:16pt;margin:0 0 .3em}h2{font-size:13pt;border-bottom:1px "
    "solid #999;margin-top:1.4em}\n"
    "table{border-collapse:collapse;margin:.4em 0;font-size:9.5pt}"
    "th,td{padding:2px 6px;"
    "border-bottom:1px solid #ddd;text-align:right;vertical-align:top}\n"
    "td{white-space:nowrap}th{background:#f0f0f0}td.l,th.l{text-align:left}\n"
    ".meta td{text-align:left}.note{color:#555;font-size:10pt}\n"
    ".warn{color:#8a2a00}figure{margin:.6em 0}figure svg{width:100%;"
    "height:auto;display:block}\n"
    "figcaption{font-size:9.5pt;color:#444}\n"
    ".overview{display:flex;gap:8mm;align-items:flex-start}"
    ".overview>div{flex:1}\n.map svg{width:62mm;height:auto;display:block}\n"
    ".map p{font-size:9.5pt;margin:.3em 0}#graph-map svg{width:62%;margin:auto}\n"
    ".notes{white-space:pre-wrap;border-left:3px solid #ccc;padding-left:.6em}\n"
    "@page{size:A4;margin:15mm 12mm}\n"
    "@media print{body{font-size:10pt;margin:0;max-width:none;padding:0}"
    "h2{break-after:avoid}figure,table,.overview{break-inside:avoid}"
    ".newpage{break-before:page}}\n";

/** <tag attributes>text</tag>, text escaped; tag may carry attributes
 *  ("p class=\"note\""). */
static void put_text(FILE *out, const char *tag, const char *text)
{
    fprintf(out, "<%s>", tag);
    report_html_escape(out, text);
    fprintf(out, "</%.*s>", (int)strcspn(tag, " "), tag);
}

static void put_row(FILE *out, const char *label, const char *value)
{
    fprintf(out, "<tr><th class=\"l\">%s</th>", label);
    fputs("<td class=\"l\">", out);
    report_html_escape(out, value);
    fputs("</td></tr>\n", out);
}

static void put_quantity_row(FILE *out, const char *label, double value,
                             int decimals, const char *unit)
{
    char text[64];
    report_format_quantity(text, value, decimals, unit);
    put_row(out, label, text);
}

static void put_cell(FILE *out, double value, int decimals)
{
    char text[32];
    report_format_number(text, value, decimals);
    fprintf(out, "<td>%s</td>", text);
}

/** "from&ndash;to" as clock times. */
static void put_span_cell(FILE *out, double from_s, double to_s)
{
    char from[24], to[24];
    report_format_clock(from, from_s);
    report_format_clock(to, to_s);
    fprintf(out, "<td>%s&ndash;%s</td>", from, to);
}

/** "cm (pct %)" for a place along the leg. */
static void put_position_cell(FILE *out, double cm, double pct)
{
    char text_cm[32], text_pct[32];
    report_format_number(text_cm, cm, 1);
    report_format_number(text_pct, pct, 0);
    fprintf(out, "<td>%s (%s %%)</td>", text_cm, text_pct);
}

static void put_clock_cell(FILE *out, double seconds)
{
    char text[24];
    report_format_clock(text, seconds);
    fprintf(out, "<td>%s</td>", text);
}

static void write_head(FILE *out, const rm_analysis *a)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>rollmap report ", out);
    report_html_escape(out, a->meta.client);
    fputs(" ", out);
    report_html_escape(out, a->meta.session_id);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", report_page_style);
}

static void write_identity(FILE *out, const rm_analysis *a)
{
    char start[32], duration[24];
    report_format_start(start, a->meta.start_unix_us);
    report_format_clock(duration, a->summary.duration_s);
    fputs("<h1>Session report: ", out);
    report_html_escape(out, a->meta.muscle[0] ? a->meta.muscle : "hamstring");
    fprintf(out, ", %s side</h1>\n<table class=\"meta\">\n",
            rm_side_name((rm_side)a->meta.side));
    put_row(out, "Client", a->meta.client);
    put_row(out, "Session", a->meta.session_id);
    put_row(out, "Start (UTC)", start);
    put_row(out, "Duration", duration);
    put_row(out, "Device", a->device.model[0] ? a->device.model : "-");
    put_row(out, "Device serial", a->device.serial[0] ? a->device.serial : "-");
    if (report_positions_note(a))
        put_row(out, "Positions", report_positions_note(a));
    fputs("</table>\n", out);
    if (a->meta.notes[0]) {
        fputs("<h2>Notes</h2>\n", out);
        put_text(out, "p class=\"notes\"", a->meta.notes);
        fputs("\n", out);
    }
}

static void write_summary(FILE *out, const rm_analysis *a)
{
    fputs("<h2>Summary</h2>\n<table class=\"meta\">\n", out);
    report_put_summary(out, a, put_row);
    fputs("</table>\n", out);
}

/* ------------------------------------------------------------------------ */
/* The hamstring map: a drawing of the posterior thigh with the spots       */
/* ------------------------------------------------------------------------ */

/* Drawing geometry in SVG user units: the thigh is 180 wide at the
 * gluteal fold narrowing to 120 at the knee, over 400 units of length. */
enum { MAP_W = 260, MAP_H = 480, THIGH_TOP = 40, THIGH_LEN = 400,
       THIGH_CX = 130, THIGH_HALF_TOP = 90, THIGH_HALF_KNEE = 60 };

static double thigh_half_width(double fraction)
{
    return THIGH_HALF_TOP + (THIGH_HALF_KNEE - THIGH_HALF_TOP) * fraction;
}

/** Screen point of a place on the leg: pct 0 proximal .. 100 distal,
 *  ml -1 medial .. +1 lateral. */
static void map_point(const rm_analysis *a, double pct, double ml,
                      double *x, double *y)
{
    double fraction = fmin(fmax(pct / 100.0, 0.0), 1.0);
    double across = fmin(fmax(isfinite(ml) ? ml : 0.0, -1.0), 1.0);
    if (report_lateral_on_left(a))
        across = -across;
    *x = THIGH_CX + across * thigh_half_width(fraction) * 0.85;
    *y = THIGH_TOP + fraction * THIGH_LEN;
}

/** Yellow (score 0) to dark red (score 10). */
static void score_colour(double score, char out[8])
{
    double t = fmin(fmax(score / 10.0, 0.0), 1.0);
    snprintf(out, 8, "#%02x%02x%02x", (unsigned)(250 - 110 * t),
             (unsigned)(200 * (1 - t)), (unsigned)(40 * (1 - t)));
}

/** A muscle's name in two lines, centred at (x, y). */
static void write_muscle_label(FILE *out, int x, int y, const char *first,
                               const char *second)
{
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#8c6d5a\" "
            "text-anchor=\"middle\">%s<tspan x=\"%d\" dy=\"11\">%s</tspan>"
            "</text>\n", x, y, first, x, second);
}

/** "medial" or "lateral" along one edge of the drawing, rotated. */
static void write_side_label(FILE *out, int x, int angle, const char *side)
{
    int y = THIGH_TOP + THIGH_LEN / 2;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" "
            "transform=\"rotate(%d %d %d)\" text-anchor=\"middle\" "
            "dy=\"5\">%s</text>\n", x, y, angle, x, y, side);
}

static void write_thigh_outline(FILE *out, const rm_analysis *a)
{
    bool lateral_left = report_lateral_on_left(a);
    int top = THIGH_TOP, bottom = THIGH_TOP + THIGH_LEN;
    fprintf(out, "<path d=\"M%d,%d Q%d,%d %d,%d L%d,%d Q%d,%d %d,%d Z\" "
            "fill=\"#f6e3d7\" stroke=\"#8c6d5a\" stroke-width=\"2\"/>\n",
            THIGH_CX - THIGH_HALF_TOP, top, THIGH_CX, top - 25,
            THIGH_CX + THIGH_HALF_TOP, top, THIGH_CX + THIGH_HALF_KNEE, bottom,
            THIGH_CX, bottom + 18, THIGH_CX - THIGH_HALF_KNEE, bottom);
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#b89c8a\" "
            "stroke-dasharray=\"6 5\"/>\n", THIGH_CX, top, THIGH_CX, bottom);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">"
            "proximal (gluteal fold)</text>\n", THIGH_CX, top - 22);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">"
            "distal (knee)</text>\n", THIGH_CX, bottom + 34);
    write_side_label(out, 10, -90, lateral_left ? "lateral" : "medial");
    write_side_label(out, MAP_W - 10, 90, lateral_left ? "medial" : "lateral");
    write_muscle_label(out, THIGH_CX - 45, top + 50,
                       lateral_left ? "biceps" : "semitendinosus,",
                       lateral_left ? "femoris" : "semimembranosus");
    write_muscle_label(out, THIGH_CX + 45, top + 50,
                       lateral_left ? "semitendinosus," : "biceps",
                       lateral_left ? "semimembranosus" : "femoris");
}

static void write_map_dwells(FILE *out, const rm_analysis *a)
{
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        if (!isfinite(d->position_pct))
            continue;
        double x, y;
        map_point(a, d->position_pct, d->ml, &x, &y);
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" "
                "fill=\"none\" stroke=\"#1f4e79\" stroke-width=\"1.5\"/>\n",
                x - 5, y - 5);
    }
}

static void write_map_spots(FILE *out, const rm_analysis *a)
{
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *s = &a->spots[i];
        if (!isfinite(s->position_pct))
            continue;
        double x, y;
        char colour[8];
        map_point(a, s->position_pct, s->ml, &x, &y);
        score_colour(s->score, colour);
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.85\" stroke=\"#222\"/>\n", x, y,
                8 + fmin(fmax(s->score, 0), 10), colour);
        /* Dark circles (score 5 and up) get a white number. */
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                "font-weight=\"bold\" text-anchor=\"middle\" dy=\"4\" "
                "fill=\"%s\">%zu</text>\n", x, y,
                s->score >= 5 ? "#fff" : "#000", i + 1);
    }
}

static bool any_spot_side_unknown(const rm_analysis *a)
{
    for (size_t i = 0; i < a->spot_count; i++)
        if (a->spots[i].side == RM_ML_SIDE_UNKNOWN)
            return true;
    return false;
}

static void write_map_legend(FILE *out, const rm_analysis *a)
{
    fprintf(out, "<p>The back of the %s thigh seen from behind, "
            "proximal at the top. Circles are tender spots, numbered as in "
            "the spot table; larger and redder means a higher score. Squares "
            "are dwells.</p>\n", rm_side_name((rm_side)a->meta.side));
    if (a->meta.side == RM_SIDE_UNKNOWN)
        fputs("<p class=\"warn\">The leg side was not recorded, so the map "
              "assumes medial on the left; set the side to orient it.</p>\n",
              out);
    if (any_spot_side_unknown(a))
        fputs("<p>A spot of unknown side (nobody held or marked it, and the "
              "passes over it kept the load centred) sits where the passes' "
              "load was, near the centre line.</p>\n", out);
    fprintf(out, "<p>%zu tender spot%s, %zu dwell%s.</p>\n", a->spot_count,
            a->spot_count == 1 ? "" : "s", a->dwell_count,
            a->dwell_count == 1 ? "" : "s");
}

static void write_hamstring_map(FILE *out, const rm_analysis *a)
{
    fputs("<h2>Hamstring map</h2>\n", out);
    if (!a->has_position) {
        fprintf(out, "<p class=\"warn\">No map: %s.</p>\n",
                report_graph_missing_reason(a, REPORT_GRAPH_MAP));
        return;
    }
    fprintf(out, "<div class=\"map\">\n<svg viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"hamstring map\" font-family=\"sans-serif\">\n", MAP_W, MAP_H);
    write_thigh_outline(out, a);
    write_map_dwells(out, a);
    write_map_spots(out, a);
    fputs("</svg>\n", out);
    write_map_legend(out, a);
    fputs("</div>\n", out);
}

/* ------------------------------------------------------------------------ */
/* Graphs: gnuplot SVGs embedded inline                                     */
/* ------------------------------------------------------------------------ */

static char *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, used = 0, got;
    do {
        if (used + 65536 > cap) {
            char *bigger = realloc(buf, cap = cap * 2 + 65536);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        got = fread(buf + used, 1, cap - used - 1, f);
        used += got;
    } while (got > 0);
    fclose(f);
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* Inline SVGs share the page's id namespace: each graph's ids (clip paths,
 * point symbols) get its name as a prefix so they do not collide, and the
 * namespace declarations, which HTML does not need, are dropped. */
static const char *const svg_id_openers[] = {
    " id='", " id=\"", "href='#", "href=\"#", "url(#"};
static const char *const svg_dropped[] = {
    " xmlns=\"http://www.w3.org/2000/svg\"",
    " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
    "\n xmlns=\"http://www.w3.org/2000/svg\"",
    "\n xmlns:xlink=\"http://www.w3.org/1999/xlink\""};

static size_t starts_with_any(const char *s, const char *const *list,
                              size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(list[i]);
        if (!strncmp(s, list[i], len))
            return len;
    }
    return 0;
}

static void copy_svg(FILE *out, const char *svg, const char *prefix)
{
    const size_t openers = sizeof svg_id_openers / sizeof *svg_id_openers;
    const size_t dropped = sizeof svg_dropped / sizeof *svg_dropped;
    for (const char *p = svg; *p;) {
        size_t len = starts_with_any(p, svg_dropped, dropped);
        if (len) {
            p += len;
            continue;
        }
        len = starts_with_any(p, svg_id_openers, openers);
        if (len) {
            fwrite(p, 1, len, out);
            fprintf(out, "%s-", prefix);
            p += len;
            continue;
        }
        fputc(*p++, out);
    }
}

bool report_embed_svg(FILE *out, const char *svg_dir, const char *name)
{
    char path[PATH_MAX];
    size_t len;
    snprintf(path, sizeof path, "%s/%s.svg", svg_dir, name);
    char *svg = read_whole_file(path, &len);
    if (!svg)
        return false;
    const char *start = strstr(svg, "<svg");
    if (start)
        copy_svg(out, start, name);
    free(svg);
    return start != NULL;
}

static void write_graph(FILE *out, const rm_analysis *a, const char *svg_dir,
                        report_graph_id id)
{
    const report_graph_desc *g = report_graph(id);
    const char *reason = report_graph_missing_reason(a, id);
    fprintf(out, "<figure id=\"graph-%s\">\n", g->name);
    put_text(out, "h3", g->title);
    fputc('\n', out);
    if (reason)
        fprintf(out, "<p class=\"warn\">Not drawn: %s.</p>\n", reason);
    else if (!svg_dir || !report_embed_svg(out, svg_dir, g->name))
        fprintf(out, "<p class=\"warn\">Not drawn: gnuplot did not render it "
                "(is gnuplot installed?). Its script is %s/%s.gp.</p>\n",
                REPORT_GRAPHS_SUBDIR, g->name);
    fprintf(out, "<figcaption>%s</figcaption>\n</figure>\n", g->caption);
}

static void write_graphs(FILE *out, const rm_analysis *a, const char *svg_dir)
{
    fputs("<h2 class=\"newpage\">Graphs</h2>\n", out);
    for (int id = 0; id < REPORT_GRAPH_COUNT; id++)
        write_graph(out, a, svg_dir, (report_graph_id)id);
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */
/* ------------------------------------------------------------------------ */

static void write_dwell_table(FILE *out, const rm_analysis *a)
{
    char rule[160];
    report_dwell_rule(rule, a);
    fputs("<h2>Dwells</h2>\n", out);
    put_text(out, "p class=\"note\"", rule);
    fputc('\n', out);
    if (a->dwell_count == 0) {
        fputs("<p>None.</p>\n", out);
        return;
    }
    fputs("<table>\n<tr><th>#</th><th>time</th><th>duration (s)</th>"
          "<th>position cm (% of length)</th><th class=\"l\">side</th>"
          "<th>mean force (N)</th><th>peak force (N)</th><th>mean pressure (kPa)</th>"
          "<th>force CV</th><th>marks</th></tr>\n", out);
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        fprintf(out, "<tr><td>%zu</td>", i + 1);
        put_span_cell(out, d->start_s, d->end_s);
        put_cell(out, d->duration_s, 1);
        put_position_cell(out, d->position_cm, d->position_pct);
        fprintf(out, "<td class=\"l\">%s</td>", rm_ml_side_name((rm_ml_side)d->side));
        put_cell(out, d->mean_force_n, 1);
        put_cell(out, d->peak_force_n, 1);
        put_cell(out, d->mean_pressure_kpa, 1);
        put_cell(out, d->force_stability, 2);
        fprintf(out, "<td>%u</td></tr>\n", d->marks);
    }
    fputs("</table>\n", out);
}

static void write_spot_row(FILE *out, size_t i, const rm_spot *s)
{
    const rm_spot_evidence *e = &s->evidence;
    fprintf(out, "<tr><td>%zu</td>", i + 1);
    put_position_cell(out, s->position_cm, s->position_pct);
    fprintf(out, "<td class=\"l\">%s</td>", rm_ml_side_name((rm_ml_side)s->side));
    put_cell(out, s->score, 1);
    put_cell(out, s->confidence, 2);
    put_cell(out, e->dwell_s, 1);
    put_cell(out, e->slowing, 2);
    put_cell(out, e->unloading, 2);
    put_cell(out, e->tremor, 2);
    fprintf(out, "<td>%u</td>", e->marks);
    put_cell(out, e->mark_rating < 0 ? NAN : e->mark_rating, 1);
    put_cell(out, s->threshold_force_n, 1);
    fputs("</tr>\n", out);
}

static void write_spot_table(FILE *out, const rm_analysis *a)
{
    fprintf(out, "<h2>Tender spots</h2>\n<p class=\"note\">Score 0-10 combines "
            "the evidence: time dwelt there (s); slowing and unloading on "
            "passes over the spot and tremor (guarding), each 0-1; and the "
            "client's marks with their mean rating. Spots from score %.1f are listed.</p>\n",
            a->config.spot_min_score);
    if (a->spot_count == 0) {
        fputs("<p>None found.</p>\n", out);
        return;
    }
    fputs("<table>\n<tr><th>#</th><th>position cm (% of length)</th>"
          "<th class=\"l\">side</th><th>score</th><th>confidence</th>"
          "<th>dwell (s)</th><th>slowing</th><th>unloading</th><th>tremor</th>"
          "<th>marks</th><th>mark rating</th><th>force at marks (N)</th></tr>\n",
          out);
    for (size_t i = 0; i < a->spot_count; i++)
        write_spot_row(out, i, &a->spots[i]);
    fputs("</table>\n", out);
}

static void write_mark_table(FILE *out, const rm_analysis *a)
{
    if (a->mark_count == 0)
        return;
    fputs("<h2>Marks (&ldquo;tender here&rdquo; button)</h2>\n<table>\n<tr>"
          "<th>#</th><th>time</th><th>position (cm)</th><th>force (N)</th>"
          "<th>pressure (kPa)</th><th>rating</th><th>spot</th></tr>\n", out);
    for (size_t i = 0; i < a->mark_count; i++) {
        const rm_mark *m = &a->marks[i];
        fprintf(out, "<tr><td>%zu</td>", i + 1);
        put_clock_cell(out, m->t_s);
        put_cell(out, m->position_cm, 1);
        put_cell(out, m->force_n, 1);
        put_cell(out, m->pressure_kpa, 1);
        put_cell(out, m->rating < 0 ? NAN : m->rating, 0);
        put_cell(out, m->spot < 0 ? NAN : m->spot + 1, 0);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void write_quality(FILE *out, const rm_analysis *a)
{
    const rm_quality *q = &a->quality;
    char text[96], days[32];
    fputs("<h2>Recording quality</h2>\n<table class=\"meta\">\n", out);
    snprintf(text, sizeof text, "%zu (%.1f s, %llu samples lost)", q->gaps,
             q->gap_s, (unsigned long long)q->lost_samples);
    put_row(out, "Gaps", text);
    rm_link_stats_describe(&q->link, text, sizeof text);
    put_row(out, "Serial link", text);
    put_quantity_row(out, "Saturated samples", q->saturation_pct, 2, "%");
    report_format_number(days, q->calibration_age_days, 0);
    snprintf(text, sizeof text, "%s%s", isfinite(q->calibration_age_days) ? days
             : "unknown", isfinite(q->calibration_age_days) ? " days" : "");
    put_row(out, "Calibration age", text);
    if (q->mains_hum_removed)
        snprintf(text, sizeof text, "removed (%.0f Hz)", q->mains_hz);
    put_row(out, "Mains hum", q->mains_hum_removed ? text : "none found");
    snprintf(text, sizeof text, "%llu", (unsigned long long)q->blocks_skipped);
    put_row(out, "Damaged file blocks", text);
    fputs("</table>\n", out);
    if (q->calibration_stale)
        fputs("<p class=\"warn\">The calibration is old: forces may be off. "
              "Recalibrate the device.</p>\n", out);
    if (rm_link_stats_problems(&q->link))
        fputs("<p class=\"warn\">The serial link rejected or lost data during "
              "this session: check the cable and the USB port.</p>\n", out);
}

static void write_footer(FILE *out)
{
    fputs("<p class=\"note\">Generated by rollmap " RM_VERSION_STRING
          ". Data and graph scripts are beside this file (report.json, "
          REPORT_GRAPHS_SUBDIR "/).</p>\n</body>\n</html>\n", out);
}

rm_status rm_report_html(const rm_analysis *a, const char *svg_dir, FILE *out,
                         rm_error *err)
{
    write_head(out, a);
    write_identity(out, a);
    /* Summary and map side by side, so both fit on the first page. */
    fputs("<div class=\"overview\">\n<div>\n", out);
    write_summary(out, a);
    fputs("</div>\n<div>\n", out);
    write_hamstring_map(out, a);
    fputs("</div>\n</div>\n", out);
    write_spot_table(out, a);
    write_dwell_table(out, a);
    write_mark_table(out, a);
    write_quality(out, a);
    write_graphs(out, a, svg_dir);
    write_footer(out);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "HTML report: write failed: %s",
                            strerror(errno));
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* The report folder                                                        */
/* ------------------------------------------------------------------------ */

static rm_status json_part(const void *a, const char *svg_dir, FILE *out,
                           rm_error *err)
{
    (void)svg_dir;
    return rm_report_json(a, out, err);
}

static rm_status text_part(const void *a, const char *svg_dir, FILE *out,
                           rm_error *err)
{
    (void)svg_dir;
    return rm_report_text(a, out, err);
}

static rm_status html_part(const void *a, const char *svg_dir, FILE *out,
                           rm_error *err)
{
    return rm_report_html(a, svg_dir, out, err);
}

rm_status report_write_part(const void *subject, const char *dir,
                            const char *name, report_part_writer writer,
                            const char *svg_dir, rm_error *err)
{
    rm_atomic_file rf;
    rm_status st = report_file_open(&rf, dir, name, err);
    if (st != RM_OK)
        return st;
    rm_error why = {0};
    st = writer(subject, svg_dir, rf.f, &why);
    if (st != RM_OK) {
        rm_atomic_abort(&rf);
        return rm_error_set(err, st, "%s: %s", rf.path, why.message);
    }
    return rm_atomic_commit(&rf, err);
}

rm_status rm_report_write_dir(const rm_analysis *a, const char *dir,
                              rm_graph_format fmt, rm_graphs_result *res,
                              rm_error *err)
{
    char graphs_dir[PATH_MAX];
    if (snprintf(graphs_dir, sizeof graphs_dir, "%s/%s", dir,
                 REPORT_GRAPHS_SUBDIR) >= (int)sizeof graphs_dir)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", dir);
    rm_status st = rm_make_dirs(dir, REPORT_DIR_MODE, err);
    if (st != RM_OK)
        return st;
    /* gnuplot draws while the JSON and the text are written. A graph it
     * failed on is missing from the page, which is still written; the
     * failure is reported after it. */
    report_graph_run *run;
    rm_error graph_err = {0};
    rm_status graphs = report_session_graphs_start(a, graphs_dir, fmt, &run,
                                                   &graph_err);
    st = report_write_part(a, dir, "report.json", json_part, NULL, err);
    if (st == RM_OK)
        st = report_write_part(a, dir, "summary.txt", text_part, NULL, err);
    memset(res, 0, sizeof *res);
    if (graphs == RM_OK)
        graphs = report_graphs_finish(run, res, &graph_err);
    if (st != RM_OK)
        return st;
    st = report_write_part(a, dir, "report.html", html_part, graphs_dir, err);
    if (st == RM_OK && graphs != RM_OK)
        st = rm_error_set(err, graphs, "%s", graph_err.message);
    return st;
}
