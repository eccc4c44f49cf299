/*
 * Private helpers shared by the report writers (report_json.c,
 * report_text.c, report_html.c) and the gnuplot renderer (graphs.c).
 */
#ifndef ROLLMAP_REPORT_INTERNAL_H
#define ROLLMAP_REPORT_INTERNAL_H

#include "rollmap_report.h"

#include <limits.h>
#include <sys/types.h>

/** The graphs, in the order the reports show them. */
typedef enum report_graph_id {
    REPORT_GRAPH_FORCE,    /**< force and position over time */
    REPORT_GRAPH_PROFILE,  /**< force/pressure along the hamstring */
    REPORT_GRAPH_MAP,      /**< posterior thigh, position x medial-lateral */
    REPORT_GRAPH_SPECTRUM, /**< spectrogram and PSD, tremor band shaded */
    REPORT_GRAPH_DWELLS,   /**< duration and mean force of each dwell */
    REPORT_GRAPH_COUNT
} report_graph_id;

typedef struct report_graph_desc {
    const char *name;      /**< file stem: NAME.gp, NAME.dat, NAME.png */
    const char *title;     /**< heading in the reports */
    const char *caption;   /**< one sentence on how to read it */
    int width_px, height_px; /**< image size (PDF: 100 px per inch) */
} report_graph_desc;

const report_graph_desc *report_graph(report_graph_id id);

/** Why a graph cannot be drawn for this analysis (no encoder, no dwell,
 *  session too short), or NULL when it can. */
const char *report_graph_missing_reason(const rm_analysis *a,
                                        report_graph_id id);

/** Folder of the graph scripts, data and images inside a report folder. */
#define REPORT_GRAPHS_SUBDIR "graphs"

/**
 * Screen-resolution reduction of a uniformly sampled series: split the n
 * samples into `columns` equal runs and keep, from each, the indices of its
 * smallest and largest finite value in time order (one index when they
 * coincide; the run's first index when it holds no finite value, so a NaN
 * still breaks the plotted line). When n <= 2 * columns every index is
 * kept. keep must hold min(n, 2 * columns) entries; returns how many were
 * written.
 */
size_t report_minmax_reduce(const double *y, size_t n, size_t columns,
                            size_t *keep);

/** The report pages' CSS (A4 print rules included). */
extern const char report_page_style[];

/** Embed svg_dir/NAME.svg inline from its <svg element on, its ids
 *  prefixed with NAME; false when the file is absent. */
bool report_embed_svg(FILE *out, const char *svg_dir, const char *name);

/** Client text for a terminal: at most max bytes of s (never splitting a
 *  UTF-8 sequence), control characters replaced by '?'. */
void report_text_clean(FILE *out, const char *s, size_t max);

/** s as lines of at most 78 columns that start with indent spaces, broken
 *  at spaces where possible, cleaned as by report_text_clean. */
void report_put_wrapped(FILE *out, const char *s, int indent);

/* ---- gnuplot (gnuplot.c) ----------------------------------------------- */

/** "png", "svg" or "pdf". */
const char *report_graph_format_name(rm_graph_format fmt);

/** A number as gnuplot reads it followed by sep: NaN (a gap in a line) for
 *  a non-finite value. */
void report_gnuplot_value(FILE *f, double v, char sep);

/** Start of a graph script: the terminal for the `format` variable
 *  (default fmt), output NAME.<format>, the title and a light grid. */
void report_gnuplot_preamble(FILE *f, const char *name, const char *title,
                             rm_graph_format fmt, int width_px, int height_px);

/** One graph of a set: what it is and how to write it for the subject
 *  (the rm_analysis or rm_comparison the report is about). */
typedef struct report_graph_row {
    report_graph_desc desc;
    /** Why the graph cannot be drawn for the subject, or NULL. */
    const char *(*missing_reason)(const void *subject);
    /** Its data files (the script reads them by name). */
    rm_status (*write_data)(const char *dir, const void *subject,
                            rm_error *err);
    /** Its script after the preamble (terminal, size, output, title). */
    void (*write_script)(FILE *f, const void *subject);
} report_graph_row;

/** Every graph of rows the subject can have, into dir (made if missing):
 *  its data, its script NAME.gp and, with gnuplot run once per image and
 *  all at once, NAME.<fmt> and NAME.svg for the HTML page. What an earlier
 *  report left there for these graphs is removed first. gnuplot missing is
 *  not an error (res says so); a failure is, naming the script and its
 *  log. */
rm_status report_render_graphs(const report_graph_row *rows, size_t count,
                               const void *subject, const char *dir,
                               rm_graph_format fmt, rm_graphs_result *res,
                               rm_error *err);

/** report_render_graphs in two halves, so that the caller writes other
 *  files while gnuplot draws: start writes each graph's files and starts
 *  its gnuplot runs at once; finish (always called after a successful
 *  start, with dir still valid) waits for them, fills res and frees run. */
typedef struct report_graph_run report_graph_run;
rm_status report_graphs_start(const report_graph_row *rows, size_t count,
                              const void *subject, const char *dir,
                              rm_graph_format fmt, report_graph_run **run,
                              rm_error *err);
rm_status report_graphs_finish(report_graph_run *run, rm_graphs_result *res,
                               rm_error *err);
/** report_graphs_start for the graphs of a session report. */
rm_status report_session_graphs_start(const rm_analysis *a, const char *dir,
                                      rm_graph_format fmt,
                                      report_graph_run **run, rm_error *err);

/** Write s with &, <, >, " and ' replaced by character references. */
void report_html_escape(FILE *out, const char *s);

/** "h:mm:ss" or "m:ss" for a duration or time in seconds; "-" for NaN. */
void report_format_clock(char out[24], double seconds);
/** The session's wall-clock start as ISO 8601 UTC, or "(unknown)" when the
 *  session does not know it (start_unix_us 0), as rollmap info says. */
void report_format_start(char out[32], int64_t start_unix_us);

/** value with `decimals` decimals, or "-" when it is NaN or infinite. */
void report_format_number(char out[32], double value, int decimals);

/** "value unit" (e.g. "12.5 kPa"), or "-" when value is NaN. */
void report_format_quantity(char out[64], double value, int decimals,
                            const char *unit);

/** The summary as reports show it: what the device cannot measure is NaN
 *  (rolled length, cadence, speed without an encoder; pressure without
 *  pressure cells), whatever the analysis left there. */
rm_summary report_summary(const rm_analysis *a);

/** Writes one labelled line of a report (a text field, an HTML row). */
typedef void (*report_row_writer)(FILE *out, const char *label,
                                  const char *text);

/** The summary fields that have a label, one row each, as people see them
 *  (report_summary's values). */
void report_put_summary(FILE *out, const rm_analysis *a,
                        report_row_writer put);

/** What the tables' positions are measured from, for the header of the
 *  text and the HTML; NULL for a device without position. */
const char *report_positions_note(const rm_analysis *a);

/** One sentence saying what counts as a dwell for this device. */
void report_dwell_rule(char out[160], const rm_analysis *a);

/** The leg as seen from behind: is the lateral side on the viewer's left?
 *  True for a left leg; false for a right or unknown one (medial left). */
bool report_lateral_on_left(const rm_analysis *a);

#define REPORT_FILE_MODE 0600
#define REPORT_DIR_MODE 0700

/** dir/name through rm_atomic_open (finished with rm_atomic_commit or
 *  rm_atomic_abort), so a failed report never leaves a half-written file.
 *  Report files carry client codes and notes: mode 0600, folders
 *  (rm_make_dirs with REPORT_DIR_MODE) 0700, like session files. */
rm_status report_file_open(rm_atomic_file *rf, const char *dir,
                           const char *name, rm_error *err);
/** Writes one file of a report folder: subject is the rm_analysis or
 *  rm_comparison, svg_dir where an HTML page finds the graphs. */
typedef rm_status (*report_part_writer)(const void *subject,
                                        const char *svg_dir, FILE *out,
                                        rm_error *err);

/** dir/name written by writer through report_file_open; an error names the
 *  file. */
rm_status report_write_part(const void *subject, const char *dir,
                            const char *name, report_part_writer writer,
                            const char *svg_dir, rm_error *err);

#endif /* ROLLMAP_REPORT_INTERNAL_H */
