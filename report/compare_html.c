/*
 * compare.html: one self-contained page (inline SVG graphs, no scripts, no
 * external resources, printable on A4) that opens with which spots eased.
 * Every string that came from outside (client, muscle, session ids, device)
 * is HTML-escaped.
 */
#include "compare_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static void put_cell(FILE *out, double value, int decimals)
{
    char text[32];
    report_format_number(text, value, decimals);
    fprintf(out, "<td>%s</td>", text);
}

/** "first &rarr; last" of a trend. */
static void put_change_cell(FILE *out, const rm_trend *t, int decimals)
{
    char first[32], last[32];
    report_format_number(first, t->first, decimals);
    report_format_number(last, t->last, decimals);
    fprintf(out, "<td>%s &rarr; %s</td>", first, last);
}

/** A left-aligned cell of text; wrap lets long text break into lines so
 *  the tables fit the A4 page. */
static void put_escaped_cell(FILE *out, const char *text, bool wrap)
{
    fprintf(out, "<td class=\"l%s\">", wrap ? " wrap" : "");
    report_html_escape(out, text);
    fputs("</td>", out);
}

/** Extra classes of a change cell: eased spots stand out in green, worse
 *  and new ones in the warning colour. */
static const char *change_class(rm_spot_change change)
{
    switch (change) {
    case RM_SPOT_EASED: return " eased";
    case RM_SPOT_WORSE:
    case RM_SPOT_NEW: return " warn";
    case RM_SPOT_UNCHANGED:
    case RM_SPOT_GONE:
    case RM_SPOT_NOT_COVERED: break;
    }
    return "";
}

static void write_head(FILE *out, const rm_comparison *c)
{
    const rm_analysis *a = c->sessions[0];
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>rollmap comparison ", out);
    report_html_escape(out, a->meta.client);
    fprintf(out, "</title>\n<style>\n%s.eased{color:#1b6e20;font-weight:bold}"
            "td.wrap{white-space:normal}</style>\n</head>\n<body>\n",
            report_page_style);
    fputs("<h1>Session comparison: ", out);
    report_html_escape(out, a->meta.muscle[0] ? a->meta.muscle : "hamstring");
    fputs("</h1>\n<table class=\"meta\">\n<tr><th class=\"l\">Client</th>", out);
    fputs("<td class=\"l\">", out);
    report_html_escape(out, a->meta.client[0] ? a->meta.client : "-");
    if (c->client_name[0]) {
        fputs(" &ndash; ", out);
        report_html_escape(out, c->client_name);
    }
    fputs("</td>", out);
    fprintf(out, "</tr>\n<tr><th class=\"l\">Sessions</th><td class=\"l\">%zu"
            "</td></tr>\n</table>\n", c->session_count);
    char warning[RM_COMPARE_WARNING_MAX];
    rm_compare_warning_text(c, warning, sizeof warning);
    if (warning[0]) {
        fputs("<p class=\"warn\">Warning: ", out);
        report_html_escape(out, warning);
        fputs(".</p>\n", out);
    }
}

static size_t count_change(const rm_comparison *c, rm_spot_change change)
{
    size_t n = 0;
    for (size_t k = 0; k < c->spot_count; k++)
        n += c->spots[k].change == change;
    return n;
}

static void write_spot_row(FILE *out, const rm_comparison *c, size_t k)
{
    const rm_matched_spot *m = &c->spots[k];
    const char *change = rm_spot_change_name(m->change);
    fprintf(out, "<tr><td>%zu</td><td class=\"l\">%s</td>", k + 1,
            rm_side_name((rm_side)m->leg));
    put_cell(out, m->position_cm, 1);
    fprintf(out, "<td class=\"l\">%s</td><td class=\"l wrap%s\">%s%s</td>",
            rm_ml_side_name((rm_ml_side)m->side), change_class(m->change),
            change, m->within_mdc ? " (within MDC)" : "");
    fprintf(out, "<td>%zu</td>", m->present);
    put_change_cell(out, &m->score, 1);
    put_change_cell(out, &m->strength, 1);
    put_change_cell(out, &m->tolerated_pressure_kpa, 0);
    put_change_cell(out, &m->tolerated_force_n, 0);
    put_change_cell(out, &m->dwell_s, 0);
    char note[RM_COMPARE_NOTE_MAX];
    rm_compare_spot_note(c, m, note, sizeof note);
    put_escaped_cell(out, note, true);
    fputs("</tr>\n", out);
}

/** The first thing on the page: which spots eased. */
static void write_spot_table(FILE *out, const rm_comparison *c)
{
    const rm_compare_options *o = &c->options;
    char mdc[48];
    compare_strength_mdc_text(mdc, sizeof mdc, o);
    fprintf(out, "<h2>Which spots eased</h2>\n<p><span class=\"eased\">%zu "
            "eased</span>, %zu worse, %zu unchanged within the minimal "
            "detectable change, %zu new, %zu gone, %zu not covered by the "
            "first or last session.</p>\n",
            count_change(c, RM_SPOT_EASED), count_change(c, RM_SPOT_WORSE),
            count_change(c, RM_SPOT_UNCHANGED), count_change(c, RM_SPOT_NEW),
            count_change(c, RM_SPOT_GONE),
            count_change(c, RM_SPOT_NOT_COVERED));
    fprintf(out, "<p class=\"note\">Spots are matched across sessions within "
            "%.1f cm on the same leg and side. From the first to the last "
            "judged session of the leg, a spot eased when its strength (the "
            "score without its ceiling at 10) fell by at least %s or its "
            "tolerated pressure rose by at least %.1f kPa (the minimal "
            "detectable change, MDC), and worsened the other way; smaller "
            "changes are within the measurement's repeatability. A spot is "
            "gone only where the last session rolled over it at least %.0f "
            "times; otherwise it is not covered.</p>\n",
            o->match_cm, mdc, o->pressure_mdc_kpa, o->cover_passes);
    if (c->spot_count == 0) {
        fputs("<p>No tender spot in any session.</p>\n", out);
        return;
    }
    fputs("<table>\n<tr><th>#</th><th class=\"l\">leg</th><th>position (cm)"
          "</th><th class=\"l\">side</th><th class=\"l\">change</th>"
          "<th>sessions</th><th>score</th><th>strength</th>"
          "<th>tolerated pressure (kPa)</th>"
          "<th>tolerated force (N)</th><th>dwell (s)</th>"
          "<th class=\"l\">why</th></tr>\n", out);
    for (size_t k = 0; k < c->spot_count; k++)
        write_spot_row(out, c, k);
    fputs("</table>\n", out);
}

static void write_sessions(FILE *out, const rm_comparison *c)
{
    fputs("<h2>Sessions</h2>\n<table>\n<tr><th>#</th><th class=\"l\">date</th>"
          "<th class=\"l\">leg</th><th>time under load</th><th>mean force (N)"
          "</th><th>peak force (N)</th><th>cadence (/min)</th><th>spots</th>"
          "<th class=\"l\">session</th><th class=\"l\">device</th>"
          "<th class=\"l\">used for trends</th></tr>\n", out);
    for (size_t i = 0; i < c->session_count; i++) {
        const rm_analysis *a = c->sessions[i];
        char date[16], load[24];
        compare_session_date(date, a);
        report_format_clock(load, a->summary.time_under_load_s);
        fprintf(out, "<tr><td>%zu</td><td class=\"l\">%s</td><td class=\"l\">"
                "%s</td><td>%s</td>", i + 1, date,
                rm_side_name((rm_side)a->meta.side), load);
        put_cell(out, a->summary.mean_force_n, 1);
        put_cell(out, a->summary.peak_force_n, 1);
        put_cell(out, report_summary(a).cadence_per_min, 1);
        fprintf(out, "<td>%zu</td>", a->spot_count);
        put_escaped_cell(out, a->meta.session_id, false);
        put_escaped_cell(out, a->device.model[0] ? a->device.model : "-", true);
        char why[160];
        rm_compare_gate_text(&c->gates[i], why, sizeof why);
        put_escaped_cell(out, c->gates[i].judged ? "yes" : why, true);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void write_trend_row(FILE *out, const char *label, const rm_trend *t,
                            int decimals)
{
    fprintf(out, "<tr><th class=\"l\">%s</th>", label);
    put_cell(out, t->first, decimals);
    put_cell(out, t->last, decimals);
    put_cell(out, t->change, decimals);
    put_cell(out, t->slope_per_week, decimals);
    fprintf(out, "<td class=\"l\">%s</td></tr>\n",
            t->within_mdc ? "within MDC" : "");
}

static void write_legs(FILE *out, const rm_comparison *c)
{
    for (uint8_t leg = RM_SIDE_UNKNOWN; leg <= RM_SIDE_RIGHT; leg++) {
        const rm_leg_trends *t = &c->legs[leg];
        if (t->sessions == 0)
            continue;
        fprintf(out, "<h2>Trends, %s leg (%zu session%s)</h2>\n<table>\n"
                "<tr><th></th><th>first</th><th>last</th><th>change</th>"
                "<th>per week</th><th></th></tr>\n",
                rm_side_name((rm_side)leg), t->sessions,
                t->sessions == 1 ? "" : "s");
        write_trend_row(out, "time under load (s)", &t->time_under_load_s, 0);
        write_trend_row(out, "mean force (N)", &t->mean_force_n, 1);
        write_trend_row(out, "peak force (N)", &t->peak_force_n, 1);
        write_trend_row(out, "tender spots", &t->spot_count, 0);
        write_trend_row(out, "total spot score", &t->spot_score_total, 1);
        write_trend_row(out, "cadence (strokes/min)", &t->cadence_per_min, 1);
        fputs("</table>\n<p class=\"note\">Per week: least-squares slope over "
              "the session dates (none when the sessions span less than a "
              "day).</p>\n", out);
    }
}

static void write_symmetry(FILE *out, const rm_comparison *c)
{
    const rm_symmetry *s = &c->symmetry;
    fputs("<h2>Left vs right</h2>\n", out);
    if (!s->available) {
        fputs("<p>Needs sessions of both legs.</p>\n", out);
        return;
    }
    fprintf(out, "<p class=\"note\">Latest session of each leg (sessions %zu "
            "and %zu). Symmetry index SI = (R &minus; L) / ((R + L) / 2) "
            "&times; 100 %%: 0 is symmetric, positive means the right leg is "
            "higher.</p>\n<table>\n<tr><th class=\"l\">metric</th><th>left</th>"
            "<th>right</th><th>SI (%%)</th></tr>\n", s->left + 1, s->right + 1);
    for (size_t m = 0; m < RM_SYMMETRY_METRICS; m++) {
        fprintf(out, "<tr><td class=\"l\">%s</td>",
                compare_symmetry_label(s->metrics[m].name));
        put_cell(out, s->metrics[m].left, 1);
        put_cell(out, s->metrics[m].right, 1);
        put_cell(out, s->metrics[m].si_pct, 1);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void write_graphs(FILE *out, const rm_comparison *c, const char *svg_dir)
{
    fputs("<h2 class=\"newpage\">Graphs</h2>\n", out);
    for (int id = 0; id < COMPARE_GRAPH_COUNT; id++) {
        const report_graph_desc *g = compare_graph((compare_graph_id)id);
        const char *reason = compare_graph_missing_reason(c, (compare_graph_id)id);
        fprintf(out, "<figure id=\"graph-%s\">\n<h3>%s</h3>\n", g->name, g->title);
        if (reason)
            fprintf(out, "<p class=\"warn\">Not drawn: %s.</p>\n", reason);
        else if (!svg_dir || !report_embed_svg(out, svg_dir, g->name))
            fprintf(out, "<p class=\"warn\">Not drawn: gnuplot did not render "
                    "it (is gnuplot installed?). Its script is %s/%s.gp.</p>\n",
                    REPORT_GRAPHS_SUBDIR, g->name);
        fprintf(out, "<figcaption>%s</figcaption>\n</figure>\n", g->caption);
    }
}

rm_status rm_compare_html(const rm_comparison *c, const char *svg_dir,
                          FILE *out, rm_error *err)
{
    write_head(out, c);
    write_spot_table(out, c);
    write_sessions(out, c);
    write_legs(out, c);
    write_symmetry(out, c);
    write_graphs(out, c, svg_dir);
    fputs("<p class=\"note\">Generated by rollmap " RM_VERSION_STRING ". Data "
          "and graph scripts are beside this file (compare.json, "
          REPORT_GRAPHS_SUBDIR "/). Method: docs/COMPARE.md.</p>\n"
          "</body>\n</html>\n", out);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "comparison HTML: write failed: %s",
                            strerror(errno));
    return RM_OK;
}
