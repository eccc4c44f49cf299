/*
 * The comparison as compare.json (schema in docs/COMPARE.md) and as
 * summary.txt (80 columns, client text cleaned of control characters),
 * and the comparison folder: compare.json, summary.txt, graphs/ and
 * compare.html, each renamed into place only when complete.
 */
#include "compare_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/** Bumped when a field changes meaning or disappears (not on additions). */
#define COMPARE_SCHEMA_VERSION 2
/** Widest line of summary.txt. */
#define TEXT_WIDTH 80

void compare_strength_mdc_text(char *out, size_t size,
                               const rm_compare_options *o)
{
    if (isfinite(o->score_mdc))
        snprintf(out, size, "%.1f points", o->score_mdc);
    else
        snprintf(out, size, "the MDC from each spot's passes");
}

const char *compare_symmetry_label(const char *name)
{
    static const struct {
        const char *name, *label;
    } labels[] = {
        {"mean_force_n", "mean force (N)"},
        {"peak_force_n", "peak force (N)"},
        {"time_under_load_s", "time under load (s)"},
        {"spot_score_total", "total spot score"},
        {"mean_tenderness", "mean tenderness"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(labels[i].name, name))
            return labels[i].label;
    return name;
}

/** The note of a spot found in the first and the last session. */
static void measured_note(const rm_comparison *c, const rm_matched_spot *m,
                          char *out, size_t size)
{
    size_t len = (size_t)snprintf(out, size, "strength %+.1f (MDC %.1f%s)",
                                  m->strength_change, m->strength_mdc,
                                  m->mdc_from_passes ? " from the passes" : "");
    if (isfinite(m->pressure_change_kpa) && len < size)
        len += (size_t)snprintf(out + len, size - len,
                                ", pressure %+.0f kPa (MDC %.1f)",
                                m->pressure_change_kpa,
                                c->options.pressure_mdc_kpa);
    const char *verdict = m->disagree ? "; strength and pressure disagree"
                          : m->within_mdc ? "; within MDC" : "";
    if (len < size)
        snprintf(out + len, size - len, "%s", verdict);
}

void rm_compare_spot_note(const rm_comparison *c, const rm_matched_spot *m,
                          char *out, size_t size)
{
    const char *which = m->basis == RM_BASIS_FIRST_UNCOVERED ? "first" : "last";
    switch (m->basis) {
    case RM_BASIS_MEASURED:
        measured_note(c, m, out, size);
        return;
    case RM_BASIS_NO_SESSION:
        snprintf(out, size, "no judged session of this leg");
        return;
    case RM_BASIS_ONE_SESSION:
        snprintf(out, size, "one judged session of this leg");
        return;
    case RM_BASIS_NOT_IN_FIRST:
        snprintf(out, size, "not found in the first session");
        return;
    case RM_BASIS_NOT_IN_LAST:
        snprintf(out, size, "not found in the last session, which rolled over it");
        return;
    case RM_BASIS_ONLY_BETWEEN:
        snprintf(out, size, "found only between the first and last sessions");
        return;
    case RM_BASIS_FIRST_UNCOVERED:
    case RM_BASIS_LAST_UNCOVERED:
        snprintf(out, size, "the %s session rolled over it %zu time%s (%.0f "
                 "needed to look for it)", which, m->uncovered_passes,
                 m->uncovered_passes == 1 ? "" : "s", c->options.cover_passes);
        return;
    }
    snprintf(out, size, "-");
}

static const char *leg_name(uint8_t leg)
{
    return rm_side_name((rm_side)leg);
}

/* ------------------------------------------------------------------------ */
/* compare.json                                                             */
/* ------------------------------------------------------------------------ */

static void write_trend(rm_json_writer *w, const char *key, const rm_trend *t)
{
    rm_json_key(w, key);
    rm_json_object_open(w);
    rm_json_member_int(w, "sessions", (int64_t)t->n);
    rm_json_member_number(w, "first", t->first);
    rm_json_member_number(w, "last", t->last);
    rm_json_member_number(w, "change", t->change);
    rm_json_member_number(w, "slope_per_week", t->slope_per_week);
    rm_json_member_number(w, "mdc", t->mdc);
    rm_json_member_bool(w, "within_mdc", t->within_mdc);
    rm_json_object_close(w);
}

static void write_options(rm_json_writer *w, const rm_compare_options *o)
{
    rm_json_key(w, "options");
    rm_json_object_open(w);
    rm_json_member_number(w, "match_cm", o->match_cm);
    rm_json_member_number(w, "score_mdc", o->score_mdc);
    rm_json_member_number(w, "score_mdc_min", o->score_mdc_min);
    rm_json_member_number(w, "pressure_mdc_kpa", o->pressure_mdc_kpa);
    rm_json_member_number(w, "force_mdc_n", o->force_mdc_n);
    rm_json_member_number(w, "cover_passes", o->cover_passes);
    rm_json_member_number(w, "min_under_load_s", o->min_under_load_s);
    rm_json_member_number(w, "min_rolled_cm", o->min_rolled_cm);
    rm_json_member_number(w, "max_lost_pct", o->max_lost_pct);
    rm_json_member_bool(w, "force_mix", o->force_mix);
    rm_json_object_close(w);
}

static void write_session(rm_json_writer *w, const rm_analysis *a,
                          const rm_session_gate *gate)
{
    char start[32];
    rm_format_iso8601(start, a->meta.start_unix_us);
    rm_json_object_open(w);
    rm_json_member_string(w, "id", a->meta.session_id);
    rm_json_member_string(w, "client", a->meta.client);
    rm_json_member_string(w, "side", leg_name(a->meta.side));
    rm_json_member_string(w, "muscle", a->meta.muscle);
    rm_json_key(w, "start");
    if (a->meta.start_unix_us == 0)
        rm_json_null(w); /* unknown, not 1970 */
    else
        rm_json_string(w, start);
    rm_json_member_int(w, "start_unix_us", a->meta.start_unix_us);
    rm_json_member_string(w, "device_model", a->device.model);
    rm_json_member_string(w, "device_serial", a->device.serial);
    rm_json_member_bool(w, "has_position", a->has_position);
    rm_json_member_number(w, "duration_s", a->summary.duration_s);
    rm_json_member_number(w, "time_under_load_s", a->summary.time_under_load_s);
    rm_json_member_number(w, "mean_force_n", a->summary.mean_force_n);
    rm_json_member_number(w, "peak_force_n", a->summary.peak_force_n);
    rm_json_member_number(w, "cadence_per_min", report_summary(a).cadence_per_min);
    rm_json_member_int(w, "spots", (int64_t)a->spot_count);
    rm_json_member_bool(w, "judged", gate->judged);
    char why[160];
    rm_compare_gate_text(gate, why, sizeof why);
    rm_json_member_string(w, "not_judged_because", why);
    rm_json_object_close(w);
}

static void write_visit(rm_json_writer *w, size_t session,
                        const rm_spot_visit *v)
{
    rm_json_object_open(w);
    rm_json_member_int(w, "session", (int64_t)session);
    rm_json_member_bool(w, "present", v->spot >= 0);
    rm_json_key(w, "spot");
    if (v->spot < 0)
        rm_json_null(w);
    else
        rm_json_int(w, v->spot);
    rm_json_member_number(w, "position_cm", v->position_cm);
    rm_json_member_number(w, "score", v->score);
    rm_json_member_number(w, "strength", v->strength);
    rm_json_member_number(w, "strength_se", v->strength_se);
    rm_json_member_int(w, "passes", (int64_t)v->passes);
    rm_json_member_number(w, "tolerated_force_n", v->tolerated_force_n);
    rm_json_member_number(w, "tolerated_pressure_kpa", v->tolerated_pressure_kpa);
    rm_json_member_number(w, "dwell_s", v->dwell_s);
    rm_json_object_close(w);
}

static void write_spot(rm_json_writer *w, const rm_comparison *c,
                       const rm_matched_spot *m)
{
    rm_json_object_open(w);
    rm_json_member_string(w, "leg", leg_name(m->leg));
    rm_json_member_string(w, "side", rm_ml_side_name((rm_ml_side)m->side));
    rm_json_member_number(w, "position_cm", m->position_cm);
    rm_json_member_string(w, "change", rm_spot_change_name(m->change));
    rm_json_member_bool(w, "within_mdc", m->within_mdc);
    char note[RM_COMPARE_NOTE_MAX];
    rm_compare_spot_note(c, m, note, sizeof note);
    rm_json_member_string(w, "note", note);
    rm_json_member_int(w, "present", (int64_t)m->present);
    rm_json_member_number(w, "strength_mdc", m->strength_mdc);
    write_trend(w, "score", &m->score);
    write_trend(w, "strength", &m->strength);
    write_trend(w, "tolerated_force_n", &m->tolerated_force_n);
    write_trend(w, "tolerated_pressure_kpa", &m->tolerated_pressure_kpa);
    write_trend(w, "dwell_s", &m->dwell_s);
    rm_json_key(w, "visits");
    rm_json_array_open(w);
    for (size_t i = 0; i < c->session_count; i++)
        if (c->sessions[i]->meta.side == m->leg)
            write_visit(w, i, &m->visits[i]);
    rm_json_array_close(w);
    rm_json_object_close(w);
}

static void write_legs(rm_json_writer *w, const rm_comparison *c)
{
    rm_json_key(w, "legs");
    rm_json_object_open(w);
    for (uint8_t leg = RM_SIDE_UNKNOWN; leg <= RM_SIDE_RIGHT; leg++) {
        const rm_leg_trends *t = &c->legs[leg];
        if (t->sessions == 0)
            continue;
        rm_json_key(w, leg_name(leg));
        rm_json_object_open(w);
        rm_json_member_int(w, "sessions", (int64_t)t->sessions);
        write_trend(w, "time_under_load_s", &t->time_under_load_s);
        write_trend(w, "mean_force_n", &t->mean_force_n);
        write_trend(w, "peak_force_n", &t->peak_force_n);
        write_trend(w, "spot_count", &t->spot_count);
        write_trend(w, "spot_score_total", &t->spot_score_total);
        write_trend(w, "cadence_per_min", &t->cadence_per_min);
        rm_json_object_close(w);
    }
    rm_json_object_close(w);
}

static void write_symmetry(rm_json_writer *w, const rm_symmetry *s)
{
    rm_json_key(w, "symmetry");
    rm_json_object_open(w);
    rm_json_member_bool(w, "available", s->available);
    rm_json_key(w, "left_session");
    s->available ? rm_json_int(w, (int64_t)s->left) : rm_json_null(w);
    rm_json_key(w, "right_session");
    s->available ? rm_json_int(w, (int64_t)s->right) : rm_json_null(w);
    rm_json_key(w, "metrics");
    rm_json_array_open(w);
    for (size_t m = 0; s->available && m < RM_SYMMETRY_METRICS; m++) {
        rm_json_object_open(w);
        rm_json_member_string(w, "name", s->metrics[m].name);
        rm_json_member_number(w, "left", s->metrics[m].left);
        rm_json_member_number(w, "right", s->metrics[m].right);
        rm_json_member_number(w, "si_pct", s->metrics[m].si_pct);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
    rm_json_object_close(w);
}

rm_status rm_compare_json(const rm_comparison *c, FILE *out, rm_error *err)
{
    rm_json_writer w;
    rm_json_begin(&w, out, true);
    rm_json_object_open(&w);
    rm_json_member_string(&w, "schema", "rollmap-compare");
    rm_json_member_int(&w, "schema_version", COMPARE_SCHEMA_VERSION);
    rm_json_member_string(&w, "generator", "rollmap " RM_VERSION_STRING);
    char warning[RM_COMPARE_WARNING_MAX];
    rm_compare_warning_text(c, warning, sizeof warning);
    rm_json_member_string(&w, "warning", warning);
    rm_json_member_string(&w, "client_name", c->client_name);
    write_options(&w, &c->options);
    rm_json_key(&w, "sessions");
    rm_json_array_open(&w);
    for (size_t i = 0; i < c->session_count; i++)
        write_session(&w, c->sessions[i], &c->gates[i]);
    rm_json_array_close(&w);
    rm_json_key(&w, "spots");
    rm_json_array_open(&w);
    for (size_t k = 0; k < c->spot_count; k++)
        write_spot(&w, c, &c->spots[k]);
    rm_json_array_close(&w);
    write_legs(&w, c);
    write_symmetry(&w, &c->symmetry);
    rm_json_object_close(&w);
    rm_json_end(&w);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "compare JSON: write failed: %s",
                            strerror(errno));
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* summary.txt                                                              */
/* ------------------------------------------------------------------------ */

static void put_heading(FILE *out, const char *title)
{
    fprintf(out, "\n%s\n", title);
    for (size_t i = strlen(title); i > 0; i--)
        fputc('-', out);
    fputc('\n', out);
}

static void text_sessions(FILE *out, const rm_comparison *c)
{
    enum { ID_WIDTH = 23 }; /* what is left of 80 columns */
    put_heading(out, "Sessions (oldest first)");
    fputs("  #  start (UTC)      leg      load mean N peak N spots  session\n",
          out);
    for (size_t i = 0; i < c->session_count; i++) {
        const rm_analysis *a = c->sessions[i];
        char start[32], load[24];
        report_format_start(start, a->meta.start_unix_us);
        if (a->meta.start_unix_us)
            start[10] = ' '; /* "YYYY-MM-DD HH:MM" from the ISO 8601 form */
        report_format_clock(load, a->summary.time_under_load_s);
        fprintf(out, "%3zu  %-16.16s %-6.6s %6.6s %6.1f %6.1f %5zu  ", i + 1,
                start, leg_name(a->meta.side), load, a->summary.mean_force_n,
                a->summary.peak_force_n, a->spot_count);
        report_text_clean(out, a->meta.session_id, ID_WIDTH);
        fputc('\n', out);
        if (!c->gates[i].judged) {
            char why[160];
            rm_compare_gate_text(&c->gates[i], why, sizeof why);
            fprintf(out, "     not used for trends: %s\n", why);
        }
    }
}

static void text_spots(FILE *out, const rm_comparison *c)
{
    put_heading(out, "Tender spots across sessions");
    char mdc[48];
    compare_strength_mdc_text(mdc, sizeof mdc, &c->options);
    fprintf(out, "Matched within %.1f cm on the same side. A change counts "
            "from the MDC:\nstrength %s, tolerated pressure %.1f kPa.\n",
            c->options.match_cm, mdc, c->options.pressure_mdc_kpa);
    if (c->spot_count == 0) {
        fputs("No tender spots in any session.\n", out);
        return;
    }
    fputs("  # leg    pos cm side     change     seen  score first->last  "
          "kPa first->last\n", out);
    for (size_t k = 0; k < c->spot_count; k++) {
        const rm_matched_spot *m = &c->spots[k];
        char pos[32], s0[32], s1[32], p0[32], p1[32];
        report_format_number(pos, m->position_cm, 1);
        report_format_number(s0, m->score.first, 1);
        report_format_number(s1, m->score.last, 1);
        report_format_number(p0, m->tolerated_pressure_kpa.first, 0);
        report_format_number(p1, m->tolerated_pressure_kpa.last, 0);
        fprintf(out, "%3zu %-6.6s %6.6s %-8.8s %-10.10s %4zu %7.7s->%-7.7s "
                "%5.5s->%-5.5s\n", k + 1, leg_name(m->leg), pos,
                rm_ml_side_name((rm_ml_side)m->side),
                rm_spot_change_name(m->change), m->present, s0, s1, p0, p1);
        char note[RM_COMPARE_NOTE_MAX];
        rm_compare_spot_note(c, m, note, sizeof note);
        report_put_wrapped(out, note, 6);
    }
}

static void text_trend(FILE *out, const char *label, const rm_trend *t,
                       int decimals)
{
    char first[32], last[32], change[32], slope[32];
    report_format_number(first, t->first, decimals);
    report_format_number(last, t->last, decimals);
    report_format_number(change, t->change, decimals);
    report_format_number(slope, t->slope_per_week, decimals);
    fprintf(out, "  %-18s %9.9s %9.9s %9.9s %10.10s%s\n", label, first, last,
            change, slope, t->within_mdc ? "  within MDC" : "");
}

static void text_legs(FILE *out, const rm_comparison *c)
{
    for (uint8_t leg = RM_SIDE_UNKNOWN; leg <= RM_SIDE_RIGHT; leg++) {
        const rm_leg_trends *t = &c->legs[leg];
        if (t->sessions == 0)
            continue;
        char title[64];
        snprintf(title, sizeof title, "Trends, %s leg (%zu session%s)",
                 leg_name(leg), t->sessions, t->sessions == 1 ? "" : "s");
        put_heading(out, title);
        fputs("                         first      last    change   per week\n",
              out);
        text_trend(out, "time under load s", &t->time_under_load_s, 0);
        text_trend(out, "mean force N", &t->mean_force_n, 1);
        text_trend(out, "peak force N", &t->peak_force_n, 1);
        text_trend(out, "tender spots", &t->spot_count, 0);
        text_trend(out, "total spot score", &t->spot_score_total, 1);
        text_trend(out, "cadence /min", &t->cadence_per_min, 1);
    }
}

static void text_symmetry(FILE *out, const rm_comparison *c)
{
    const rm_symmetry *s = &c->symmetry;
    put_heading(out, "Left vs right (latest session of each leg)");
    if (!s->available) {
        fputs("Needs sessions of both legs.\n", out);
        return;
    }
    fputs("SI = (R - L) / ((R + L) / 2) x 100 %: 0 symmetric, > 0 right "
          "higher.\n                        left     right     SI %\n", out);
    for (size_t m = 0; m < RM_SYMMETRY_METRICS; m++) {
        char l[32], r[32], si[32];
        report_format_number(l, s->metrics[m].left, 1);
        report_format_number(r, s->metrics[m].right, 1);
        report_format_number(si, s->metrics[m].si_pct, 1);
        fprintf(out, "  %-20s %7.7s %9.9s %8.8s\n", compare_symmetry_label(s->metrics[m].name), l, r, si);
    }
}

rm_status rm_compare_text(const rm_comparison *c, FILE *out, rm_error *err)
{
    const rm_analysis *first = c->sessions[0];
    fprintf(out, "%-64s%16s\n", "rollmap session comparison",
            "rollmap " RM_VERSION_STRING);
    for (int i = 0; i < TEXT_WIDTH; i++)
        fputc('=', out);
    fputs("\nClient                ", out);
    report_text_clean(out, first->meta.client[0] ? first->meta.client : "-",
                      TEXT_WIDTH - 22);
    if (c->client_name[0]) {
        fputs("\nName                  ", out);
        report_text_clean(out, c->client_name, TEXT_WIDTH - 22);
    }
    fputs("\nMuscle                ", out);
    report_text_clean(out, first->meta.muscle[0] ? first->meta.muscle
                                                 : "hamstring", TEXT_WIDTH - 22);
    fputc('\n', out);
    char warning[RM_COMPARE_WARNING_MAX];
    rm_compare_warning_text(c, warning, sizeof warning);
    if (warning[0]) {
        fputs("Warning: ", out);
        report_text_clean(out, warning, sizeof warning);
        fputc('\n', out);
    }
    text_spots(out, c);
    text_sessions(out, c);
    text_legs(out, c);
    text_symmetry(out, c);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "compare text: write failed: %s",
                            strerror(errno));
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* The comparison folder                                                    */
/* ------------------------------------------------------------------------ */

static rm_status json_part(const void *c, const char *svg_dir, FILE *out,
                           rm_error *err)
{
    (void)svg_dir;
    return rm_compare_json(c, out, err);
}

static rm_status text_part(const void *c, const char *svg_dir, FILE *out,
                           rm_error *err)
{
    (void)svg_dir;
    return rm_compare_text(c, out, err);
}

static rm_status html_part(const void *c, const char *svg_dir, FILE *out,
                           rm_error *err)
{
    return rm_compare_html(c, svg_dir, out, err);
}

rm_status rm_compare_write_dir(const rm_comparison *c, const char *dir,
                               rm_graph_format fmt, rm_graphs_result *res,
                               rm_error *err)
{
    char graphs_dir[PATH_MAX];
    if (snprintf(graphs_dir, sizeof graphs_dir, "%s/%s", dir,
                 REPORT_GRAPHS_SUBDIR) >= (int)sizeof graphs_dir)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", dir);
    rm_status st = rm_make_dirs(dir, REPORT_DIR_MODE, err);
    if (st == RM_OK)
        st = report_write_part(c, dir, "compare.json", json_part, NULL, err);
    if (st == RM_OK)
        st = report_write_part(c, dir, "summary.txt", text_part, NULL, err);
    if (st != RM_OK)
        return st;
    /* The page is written even when gnuplot fails; the failure follows. */
    rm_error graph_err = {0};
    rm_status graphs = rm_compare_graphs(c, graphs_dir, fmt, res, &graph_err);
    st = report_write_part(c, dir, "compare.html", html_part, graphs_dir, err);
    if (st == RM_OK && graphs != RM_OK)
        st = rm_error_set(err, graphs, "%s", graph_err.message);
    return st;
}
