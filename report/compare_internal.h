/*
 * Private helpers shared by the comparison writers (compare_report.c,
 * compare_html.c) and the comparison graphs (compare_graphs.c).
 */
#ifndef ROLLMAP_COMPARE_INTERNAL_H
#define ROLLMAP_COMPARE_INTERNAL_H

#include "report_internal.h"

/** The comparison graphs, in the order the page shows them. */
typedef enum compare_graph_id {
    COMPARE_GRAPH_PROFILES,  /**< each session's profile along the leg */
    COMPARE_GRAPH_SCORES,    /**< matched spots' scores over the dates */
    COMPARE_GRAPH_MAP,       /**< every session's spots on one thigh */
    COMPARE_GRAPH_SYMMETRY,  /**< left vs right profiles, mirrored */
    COMPARE_GRAPH_COUNT
} compare_graph_id;

const report_graph_desc *compare_graph(compare_graph_id id);

/** Why a graph cannot be drawn for this comparison, or NULL. */
const char *compare_graph_missing_reason(const rm_comparison *c,
                                         compare_graph_id id);

/** The strength MDC for people: "N points" or "from each spot's passes". */
void compare_strength_mdc_text(char *out, size_t size,
                               const rm_compare_options *o);

/** A symmetry metric for people ("mean force (N)"), from its name. */
const char *compare_symmetry_label(const char *name);

/** "YYYY-MM-DD" of a session's start (UTC), or "unknown". */
void compare_session_date(char out[16], const rm_analysis *a);

#endif /* ROLLMAP_COMPARE_INTERNAL_H */
