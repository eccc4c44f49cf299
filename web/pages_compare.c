/* The compare page: pick a client (leg, last N, since), or sessions by id
 * (ids=1,2 or the boxes ticked on a client's page, id=1&id=2),
 * say in words which spots eased, then show the comparison `rollmap
 * compare` writes (rm_compare_write_dir, SVG graphs) below. */
#include "web_internal.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sessions compared at most (the page's table gets one column each). */
#define MAX_COMPARED 200

static pthread_mutex_t compare_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct selection {
    int64_t ids[MAX_COMPARED];
    size_t count;
} selection;

static bool parse_ids(const char *text, selection *sel)
{
    while (*text && sel->count < MAX_COMPARED) {
        char *end;
        long long id = strtoll(text, &end, 10);
        if (end == text || id <= 0 || (*end && *end != ','))
            return false;
        sel->ids[sel->count++] = id;
        text = *end ? end + 1 : end;
    }
    return *text == '\0';
}

/* The sessions ticked on a client's page: one id= field each. */
static bool ticked_ids(const web_form *query, selection *sel)
{
    for (size_t i = 0; i < query->count; i++)
        if (strcmp(query->fields[i].key, "id") == 0 &&
            !parse_ids(query->fields[i].value, sel))
            return false;
    return true;
}

static rm_status select_sessions(web_server_state *s, const web_form *query,
                                 selection *sel, rm_error *err)
{
    const char *ids = web_form_get(query, "ids");
    if (ids && ids[0])
        return parse_ids(ids, sel) ? RM_OK
                                   : rm_error_set(err, RM_ERR_ARG, "ids: "
                                                  "expected library ids "
                                                  "separated by commas");
    if (web_form_get(query, "id"))
        return ticked_ids(query, sel) ? RM_OK
                                      : rm_error_set(err, RM_ERR_ARG, "id: "
                                                     "expected a library id");
    const char *client = web_form_get(query, "client");
    const char *side = web_form_get(query, "side");
    const char *last = web_form_get(query, "last");
    const char *since = web_form_get(query, "since");
    rm_library_filter f = {.client = client};
    rm_side parsed = RM_SIDE_UNKNOWN;
    if (side && side[0] && rm_side_parse(side, &parsed) != RM_OK)
        return rm_error_set(err, RM_ERR_ARG, "side: expected left or right");
    f.side = (uint8_t)parsed;
    f.last = last && last[0] ? (size_t)strtoul(last, NULL, 10) : 0;
    if (since && since[0] && !web_parse_day(since, false, &f.since_unix_us))
        return rm_error_set(err, RM_ERR_ARG, "since: expected YYYY-MM-DD");
    rm_library_entry *e = NULL;
    size_t n = 0;
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_list(s->library, &f, &e, &n, err);
    pthread_mutex_unlock(&s->library_lock);
    if (st != RM_OK)
        return st;
    for (size_t i = 0; i < n && sel->count < MAX_COMPARED; i++)
        sel->ids[sel->count++] = e[i].id;
    rm_library_entries_free(e, n);
    return RM_OK;
}

static void free_analyses(rm_analysis **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rm_analysis_free(a[i]);
}

static rm_status compare_selection(web_server_state *s, const selection *sel,
                                   rm_analysis **a, rm_comparison **c,
                                   rm_error *err)
{
    if (sel->count < 2)
        return rm_error_set(err, RM_ERR_NOT_FOUND, "Pick at least two "
                            "sessions: this choice has %zu", sel->count);
    rm_status st = RM_OK;
    pthread_mutex_lock(&s->library_lock);
    for (size_t i = 0; i < sel->count && st == RM_OK; i++)
        st = rm_library_load_analysis(s->library, sel->ids[i], &a[i], err);
    pthread_mutex_unlock(&s->library_lock);
    if (st == RM_OK)
        st = rm_compare_checked((const rm_analysis *const *)a, sel->count,
                                NULL, c, err);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Words first                                                              */
/* ------------------------------------------------------------------------ */

static void spot_sentence(FILE *out, const rm_comparison *c,
                          const rm_matched_spot *m)
{
    fprintf(out, "<li><strong>%s leg, %.1f cm from the top of the rolled "
            "length, %s</strong>: ", rm_side_name((rm_side)m->leg),
            m->position_cm, rm_ml_side_name((rm_ml_side)m->side));
    char note[RM_COMPARE_NOTE_MAX];
    rm_compare_spot_note(c, m, note, sizeof note);
    web_html(out, note);
    fputs("</li>\n", out);
}

/* The groups the words list, in order. A spot "unchanged" on anything but
 * a measured change (one session of its leg, found only between the first
 * and last) was not compared at all, as a spot not covered was not: they
 * have a group of their own, not "Unchanged (within the smallest real
 * change)" (and not covered ones were left out). */
typedef enum words_group {
    WORDS_EASED,
    WORDS_WORSE,
    WORDS_NEW,
    WORDS_GONE,
    WORDS_UNCHANGED,
    WORDS_NOT_COMPARED,
    WORDS_GROUPS
} words_group;

static words_group group_of(const rm_matched_spot *m)
{
    switch (m->change) {
    case RM_SPOT_EASED: return WORDS_EASED;
    case RM_SPOT_WORSE: return WORDS_WORSE;
    case RM_SPOT_NEW: return WORDS_NEW;
    case RM_SPOT_GONE: return WORDS_GONE;
    case RM_SPOT_UNCHANGED:
        return m->basis == RM_BASIS_MEASURED ? WORDS_UNCHANGED
                                             : WORDS_NOT_COMPARED;
    case RM_SPOT_NOT_COVERED: return WORDS_NOT_COMPARED;
    }
    return WORDS_NOT_COMPARED;
}

static void spots_in_words(FILE *out, const rm_comparison *c)
{
    static const struct {
        const char *class_name, *heading;
    } groups[WORDS_GROUPS] = {
        [WORDS_EASED] = {"eased", "Eased"},
        [WORDS_WORSE] = {"worse", "Worse"},
        [WORDS_NEW] = {"new", "New since the first session"},
        [WORDS_GONE] = {"gone", "Gone by the last session"},
        [WORDS_UNCHANGED] = {"unchanged", "Unchanged"},
        [WORDS_NOT_COMPARED] = {"not-compared", "Not compared"},
    };
    fprintf(out, "<section class=\"card words\" id=\"in-words\">\n<h2>In words"
            "</h2>\n<p>%zu sessions, %zu tender spot%s matched across them.</p>\n",
            c->session_count, c->spot_count, c->spot_count == 1 ? "" : "s");
    for (words_group g = 0; g < WORDS_GROUPS; g++) {
        size_t n = 0;
        for (size_t i = 0; i < c->spot_count; i++)
            n += group_of(&c->spots[i]) == g;
        if (!n)
            continue;
        fprintf(out, "<h3 class=\"change-%s\">%s: %zu</h3>\n<ul>\n",
                groups[g].class_name, groups[g].heading, n);
        for (size_t i = 0; i < c->spot_count; i++)
            if (group_of(&c->spots[i]) == g)
                spot_sentence(out, c, &c->spots[i]);
        fputs("</ul>\n", out);
    }
    char warning[RM_COMPARE_WARNING_MAX];
    rm_compare_warning_text(c, warning, sizeof warning);
    if (warning[0]) {
        fputs("<p class=\"alert\">", out);
        web_html(out, warning);
        fputs("</p>\n", out);
    }
    fputs("</section>\n", out);
}

/* ------------------------------------------------------------------------ */
/* The form                                                                 */
/* ------------------------------------------------------------------------ */

static void compare_form(FILE *out, web_server_state *s, const web_form *query)
{
    const char *side = web_form_get(query, "side");
    const char *last = web_form_get(query, "last");
    const char *since = web_form_get(query, "since");
    fputs("<form method=\"get\" action=\"/compare\" class=\"filters\">\n"
          "<label for=\"client\">Client</label><select id=\"client\" "
          "name=\"client\">", out);
    web_client_options(out, s, web_form_get(query, "client"));
    fputs("</select>\n<label for=\"side\">Leg</label><select id=\"side\" "
          "name=\"side\">", out);
    static const char *const sides[] = {"", "left", "right"};
    for (size_t i = 0; i < 3; i++)
        fprintf(out, "<option value=\"%s\"%s>%s</option>", sides[i],
                side && strcmp(side, sides[i]) == 0 ? " selected" : "",
                i ? sides[i] : "both");
    fputs("</select>\n<label for=\"last\">Last sessions</label><input id=\"last\" "
          "name=\"last\" type=\"number\" min=\"2\" placeholder=\"all\" value=\"", out);
    web_html(out, last ? last : "");
    fputs("\">\n<label for=\"since\">Since</label><input id=\"since\" name=\"since\" "
          "type=\"date\" value=\"", out);
    web_html(out, since ? since : "");
    fputs("\">\n<button type=\"submit\">Compare</button>\n</form>\n", out);
}

/* The query string again, for the report frame. */
static void query_string(FILE *out, const web_form *query)
{
    for (size_t i = 0; i < query->count; i++) {
        fputs(i ? "&amp;" : "?", out);
        web_url_encode(out, query->fields[i].key);
        fputc('=', out);
        web_url_encode(out, query->fields[i].value);
    }
}

static void compare_page(web_server_state *s, const web_request *q,
                         web_reply *r)
{
    web_page p;
    web_page_begin(&p, s, "Compare", q->csrf);
    fputs("<h1>Compare sessions</h1>\n", p.out);
    compare_form(p.out, s, q->query);
    selection sel = {0};
    rm_analysis *a[MAX_COMPARED] = {0};
    rm_comparison *c = NULL;
    rm_error err = {0};
    bool chosen = web_form_get(q->query, "client") || web_form_get(q->query, "ids") ||
                  web_form_get(q->query, "id");
    if (chosen && select_sessions(s, q->query, &sel, &err) == RM_OK &&
        compare_selection(s, &sel, a, &c, &err) == RM_OK) {
        spots_in_words(p.out, c);
        fputs("<h2>The comparison</h2>\n<iframe class=\"report\" title=\""
              "Comparison report\" src=\"/compare/report.html", p.out);
        query_string(p.out, q->query);
        fputs("\"></iframe>\n", p.out);
    } else if (chosen) {
        fputs("<p class=\"alert\" role=\"alert\">", p.out);
        web_html(p.out, err.message);
        fputs("</p>\n", p.out);
    }
    rm_comparison_free(c);
    free_analyses(a, sel.count);
    web_page_end(&p, r);
}

/* ------------------------------------------------------------------------ */
/* A client's spots over dates (the client page)                            */
/* ------------------------------------------------------------------------ */

/* Dates one leg's table shows at most: the latest ones. */
#define SPOT_TABLE_DATES 12

static void spot_table_head(FILE *out, const rm_comparison *c)
{
    fputs("<div class=\"scroll\"><table class=\"spot-dates\">\n<thead><tr>"
          "<th scope=\"col\">Spot (from the top)</th><th scope=\"col\">Side"
          "</th>", out);
    for (size_t i = 0; i < c->session_count; i++) {
        char date[32];
        int64_t start = c->sessions[i]->meta.start_unix_us;
        web_format_date(date, start);
        /* "2026-11-24 06:07 UTC": the day above the time */
        if (start)
            fprintf(out, "<th scope=\"col\" class=\"num\">%.10s<br>%s</th>",
                    date, date + 11);
        else
            fprintf(out, "<th scope=\"col\" class=\"num\">%s</th>", date);
    }
    fputs("<th scope=\"col\">Change</th></tr></thead>\n<tbody>\n", out);
}

static void spot_table_row(FILE *out, const rm_comparison *c,
                           const rm_matched_spot *m)
{
    rm_ml_side side = (rm_ml_side)m->side;
    fprintf(out, "<tr><th scope=\"row\">%.1f cm</th><td>%s</td>", m->position_cm,
            side == RM_ML_SIDE_UNKNOWN ? "&ndash;" : rm_ml_side_name(side));
    for (size_t i = 0; i < c->session_count; i++) {
        const rm_spot_visit *v = &m->visits[i];
        if (v->spot < 0)
            fputs("<td class=\"num muted\" title=\"not found in this session\">"
                  "&ndash;</td>", out);
        else
            fprintf(out, "<td class=\"num\">%.1f</td>", v->score);
    }
    const char *colour = m->change == RM_SPOT_EASED   ? " class=\"change-eased\""
                         : m->change == RM_SPOT_WORSE ? " class=\"change-worse\""
                                                      : "";
    fprintf(out, "<td%s>%s</td></tr>\n", colour, rm_spot_change_name(m->change));
}

static void spot_table(FILE *out, const rm_comparison *c, rm_side leg)
{
    size_t rows = 0;
    for (size_t i = 0; i < c->spot_count; i++)
        rows += c->spots[i].leg == leg;
    if (!rows) {
        fputs("<p class=\"muted\">No tender spot in these sessions.</p>\n", out);
        return;
    }
    spot_table_head(out, c);
    for (size_t i = 0; i < c->spot_count; i++)
        if (c->spots[i].leg == leg)
            spot_table_row(out, c, &c->spots[i]);
    fputs("</tbody></table></div>\n", out);
}

/* The latest SPOT_TABLE_DATES sessions of one leg (e is oldest first). */
static void leg_selection(const rm_library_entry *e, size_t n, rm_side leg,
                          selection *sel, size_t *of)
{
    *of = 0;
    for (size_t i = 0; i < n; i++)
        *of += e[i].side == leg;
    size_t skip = *of > SPOT_TABLE_DATES ? *of - SPOT_TABLE_DATES : 0;
    size_t seen = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i].side == leg && seen++ >= skip)
            sel->ids[sel->count++] = e[i].id;
}

static void leg_spot_table(FILE *out, web_server_state *s,
                           const rm_library_entry *e, size_t n, rm_side leg)
{
    selection sel = {0};
    size_t of;
    leg_selection(e, n, leg, &sel, &of);
    if (of < 2)
        return;
    fprintf(out, "<h3>%s leg: score of each tender spot (0-10)</h3>\n",
            leg == RM_SIDE_LEFT ? "Left" : "Right");
    if (of > sel.count)
        fprintf(out, "<p class=\"muted\">The latest %zu of %zu sessions.</p>\n",
                sel.count, of);
    rm_analysis *a[MAX_COMPARED] = {0};
    rm_comparison *c = NULL;
    rm_error err = {0};
    if (compare_selection(s, &sel, a, &c, &err) == RM_OK) {
        spot_table(out, c, leg);
    } else {
        fputs("<p class=\"alert\">", out);
        web_html(out, err.message);
        fputs("</p>\n", out);
    }
    rm_comparison_free(c);
    free_analyses(a, sel.count);
}

void web_client_spot_tables(FILE *out, web_server_state *s,
                            const rm_library_entry *e, size_t n)
{
    fputs("<h2>Tender spots over dates</h2>\n<p class=\"muted\">Each row is "
          "one spot matched across the sessions of a leg (as rollmap "
          "compare matches them); &ndash; where it was not found.</p>\n", out);
    leg_spot_table(out, s, e, n, RM_SIDE_LEFT);
    leg_spot_table(out, s, e, n, RM_SIDE_RIGHT);
}

/* ------------------------------------------------------------------------ */
/* The comparison's own page                                                */
/* ------------------------------------------------------------------------ */

static void report_folder(const web_server_state *s, const selection *sel,
                          char *out, size_t cap)
{
    uint32_t crc = rm_crc32c(0, sel->ids, sel->count * sizeof *sel->ids);
    snprintf(out, cap, "%s/compare-%zu-%08x", s->cache_dir, sel->count, crc);
}

static void compare_report(web_server_state *s, const web_request *q,
                           web_reply *r)
{
    selection sel = {0};
    rm_analysis *a[MAX_COMPARED] = {0};
    rm_comparison *c = NULL;
    rm_error err = {0};
    char dir[256], path[320];
    rm_status st = select_sessions(s, q->query, &sel, &err);
    report_folder(s, &sel, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/compare.html", dir);
    pthread_mutex_lock(&compare_lock);
    if (st == RM_OK && access(path, R_OK) != 0) {
        st = compare_selection(s, &sel, a, &c, &err);
        rm_graphs_result res;
        if (st == RM_OK)
            st = rm_compare_write_dir(c, dir, RM_GRAPH_SVG, &res, &err);
    }
    pthread_mutex_unlock(&compare_lock);
    rm_comparison_free(c);
    free_analyses(a, sel.count);
    if (st != RM_OK) {
        web_reply_error(r, MHD_HTTP_BAD_REQUEST, err.message);
        return;
    }
    snprintf(r->file, sizeof r->file, "%s", path);
    r->content_type = "text/html; charset=utf-8";
}

void web_handle_compare(web_server_state *s, const web_request *q,
                        web_reply *r)
{
    if (q->route->id == WEB_COMPARE_PAGE)
        compare_page(s, q, r);
    else
        compare_report(s, q, r);
}
