/*
 * rollmap report: presentation of analysis results. Session reports
 * (JSON, text, HTML), comparison reports, and the gnuplot graphs both
 * embed. Formats: docs/REPORT.md and docs/COMPARE.md.
 *
 * The only public header of report/. Functions never print to the
 * terminal; they return an rm_status and fill an rm_error.
 *
 * Entry points:
 *   rm_report_write_dir(analysis, dir, format, &res, &err)
 *   rm_compare_write_dir(comparison, dir, format, &res, &err)
 * write a whole folder (JSON, text summary, HTML page, graphs/). Each part
 * also has its own writer into any FILE *, e.g. an open_memstream() buffer
 * for a page served from memory: rm_report_json, rm_report_text,
 * rm_report_html (given the folder holding the SVG graphs to embed, or
 * NULL), and the rm_compare_* equivalents. RM_GRAPH_SVG draws each graph
 * once (the HTML page embeds SVG whatever the format).
 */
#ifndef ROLLMAP_REPORT_H
#define ROLLMAP_REPORT_H

#include "rollmap_analysis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Reports and graphs (docs/REPORT.md)                                      */
/* ------------------------------------------------------------------------ */

typedef enum rm_graph_format { RM_GRAPH_PNG, RM_GRAPH_SVG, RM_GRAPH_PDF }
    rm_graph_format;
rm_status rm_graph_format_parse(const char *text, rm_graph_format *fmt);

rm_status rm_report_json(const rm_analysis *a, FILE *out, rm_error *err);
rm_status rm_report_text(const rm_analysis *a, FILE *out, rm_error *err);
/** Self-contained HTML; svg_dir holds the SVG graphs to embed (or NULL). */
rm_status rm_report_html(const rm_analysis *a, const char *svg_dir,
                         FILE *out, rm_error *err);

typedef struct rm_graphs_result {
    bool gnuplot_found;
    size_t rendered;
    double gnuplot_s;       /**< wall time from the first gnuplot run's
                                 start to the end of the last one */
    double gnuplot_cpu_s;   /**< CPU time of all the gnuplot runs */
    char message[256];      /**< e.g. why gnuplot did not run */
} rm_graphs_result;

/** Write graph data files and gnuplot scripts into dir and run gnuplot. */
rm_status rm_graphs_render(const rm_analysis *a, const char *dir,
                           rm_graph_format fmt, rm_graphs_result *res,
                           rm_error *err);

/** All of the above into dir: report.json, summary.txt, report.html and
 *  graphs. gnuplot missing is not an error (res says so). */
rm_status rm_report_write_dir(const rm_analysis *a, const char *dir,
                              rm_graph_format fmt, rm_graphs_result *res,
                              rm_error *err);

/* ------------------------------------------------------------------------ */
/* Summary fields: what every summary shows, in one table                   */
/* ------------------------------------------------------------------------ */

/** How people see a summary figure. */
typedef enum rm_summary_style {
    RM_SUMMARY_NUMBER,          /**< "12.5 kPa"; "-" when unknown */
    RM_SUMMARY_NUMBER_OR_NONE,  /**< the same, "none" when 0 */
    RM_SUMMARY_CLOCK,           /**< "h:mm:ss" or "m:ss" */
    RM_SUMMARY_TOO_FAST_CLOCK   /**< a clock whose label ends with the
                                     target speed, "Faster than 2.5 cm/s" */
} rm_summary_style;

/** One figure of rm_summary: its JSON key (unit in the key), its label and
 *  unit for people, and where in rm_summary the value lives. */
typedef struct rm_summary_field {
    const char *key;          /**< e.g. "mean_force_n" */
    const char *label;        /**< e.g. "Mean force"; NULL: the reports
                                   show it elsewhere (the duration) */
    const char *unit;         /**< "N"; "" for a bare count */
    int decimals;
    rm_summary_style style;
    size_t offset;            /**< offsetof(rm_summary, the member) */
    bool is_count;            /**< the member is a size_t, else a double */
} rm_summary_field;

/** The summary fields in the order every writer shows them. */
const rm_summary_field *rm_summary_fields(size_t *count);
double rm_summary_field_value(const rm_summary_field *f, const rm_summary *s);
/** The label for people (cfg gives the target speed some labels name). */
void rm_summary_field_label(char out[64], const rm_summary_field *f,
                            const rm_analysis_config *cfg);
/** The value for people: number and unit, clock, "none" or "-". */
void rm_summary_field_text(char out[64], const rm_summary_field *f,
                           const rm_summary *s);
/** Every field as a JSON member (count fields as integers, unknown as
 *  null), into an object the caller opened. */
void rm_summary_json_members(rm_json_writer *w, const rm_summary *s);

/* ------------------------------------------------------------------------ */
/* Comparison reports (docs/COMPARE.md)                                     */
/* ------------------------------------------------------------------------ */

/** The one-line note saying why a matched spot got its verdict, e.g.
 *  "strength -3.3 (MDC 1.5 from the passes), pressure +8 kPa (MDC 6.4)";
 *  RM_COMPARE_NOTE_MAX bytes always hold it. */
enum { RM_COMPARE_NOTE_MAX = 192 };
void rm_compare_spot_note(const rm_comparison *c, const rm_matched_spot *m,
                          char *out, size_t size);

/** rm_compare for callers that show the result: sessions that should not
 *  be compared (c->mix) are refused with RM_ERR_ARG naming both sessions
 *  and what differs, unless opt->force_mix. */
rm_status rm_compare_checked(const rm_analysis *const *sessions, size_t n,
                             const rm_compare_options *opt,
                             rm_comparison **out, rm_error *err);

/** Why a session is not judged, e.g. "too short: 8 s under load (30 s
 *  needed)"; "" when it is judged. */
void rm_compare_gate_text(const rm_session_gate *g, char *out, size_t size);

/** The sessions that should not have been compared and why ("session A is
 *  of the hamstring, session B of the calf: different muscles"), and as the
 *  warning a forced comparison carries ("compared although ..."); "" when
 *  c->mix is RM_MIX_NONE. RM_COMPARE_WARNING_MAX bytes hold either. */
enum { RM_COMPARE_WARNING_MAX = 448 };
void rm_compare_mix_text(const rm_comparison *c, char *out, size_t size);
void rm_compare_warning_text(const rm_comparison *c, char *out, size_t size);

rm_status rm_compare_json(const rm_comparison *c, FILE *out, rm_error *err);
rm_status rm_compare_text(const rm_comparison *c, FILE *out, rm_error *err);
/** Self-contained HTML; svg_dir holds the SVG graphs to embed (or NULL). */
rm_status rm_compare_html(const rm_comparison *c, const char *svg_dir,
                          FILE *out, rm_error *err);
/** Graph data, gnuplot scripts and images into dir. */
rm_status rm_compare_graphs(const rm_comparison *c, const char *dir,
                            rm_graph_format fmt, rm_graphs_result *res,
                            rm_error *err);
/** compare.json, summary.txt, compare.html and graphs/ into dir. */
rm_status rm_compare_write_dir(const rm_comparison *c, const char *dir,
                               rm_graph_format fmt, rm_graphs_result *res,
                               rm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_REPORT_H */
