/*
 * rollmap report: presentation of analysis results. Session reports
 * (JSON, text, HTML), comparison reports, and the gnuplot graphs both
 * embed. Formats: docs/REPORT.md and docs/COMPARE.md.
 *
 * The only public header of report/. Functions never print to the
 * terminal; they return an rm_status and fill an rm_error.
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
/* Comparison reports (docs/COMPARE.md)                                     */
/* ------------------------------------------------------------------------ */

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
