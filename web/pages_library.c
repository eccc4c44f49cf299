/* The library pages: clients, one client, sessions (filtered and paged),
 * unassigned sessions with the assign form, and the changes they post
 * (assign, tag, remove), all through the rm_library API. */
#include "web_internal.h"

#include <math.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

/* Sessions a page of the session list shows. */
#define PAGE_SIZE 50
/* The smallest real change of a total spot score (docs/COMPARE.md: 2
 * points per spot); the trend arrow shows a change beyond it. */
#define SCORE_MDC 2.0

/* ------------------------------------------------------------------------ */
/* Shared bits                                                              */
/* ------------------------------------------------------------------------ */

void web_format_date(char out[32], int64_t unix_us)
{
    /* 0: the file does not know (an import without start_unix_us), which
     * would read as 1970-01-01 00:00. */
    if (unix_us == 0) {
        snprintf(out, 32, "(date unknown)");
        return;
    }
    char iso[32];
    rm_format_iso8601(iso, unix_us);
    /* "2026-11-24T06:07:24Z" -> "2026-11-24 06:07 UTC" */
    snprintf(out, 32, "%.10s %.5s UTC", iso, iso + 11);
}

static rm_status list_locked(web_server_state *s, const rm_library_filter *f,
                             rm_library_entry **out, size_t *n, rm_error *err)
{
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_list(s->library, f, out, n, err);
    pthread_mutex_unlock(&s->library_lock);
    return st;
}

static void library_error(web_reply *r, const rm_error *err);

/* The sessions f selects, or false with the error in the reply. */
static bool list_or_fail(web_server_state *s, const rm_library_filter *f,
                         rm_library_entry **e, size_t *n, web_reply *r)
{
    rm_error err = {0};
    if (list_locked(s, f, e, n, &err) == RM_OK)
        return true;
    library_error(r, &err);
    return false;
}

static void session_link(FILE *out, const rm_library_entry *e)
{
    char date[32];
    web_format_date(date, e->start_unix_us);
    fprintf(out, "<a href=\"/session/%lld\">", (long long)e->id);
    web_html(out, date);
    fputs("</a>", out);
}

static void client_link(FILE *out, const char *code)
{
    fputs("<a href=\"/library/client?code=", out);
    web_url_encode(out, code);
    fputs("\">", out);
    web_html(out, code);
    fputs("</a>", out);
}

void web_tags(FILE *out, const rm_library_entry *e)
{
    for (size_t t = 0; t < e->tag_count; t++) {
        fputs("<span class=\"tag\">", out);
        web_html(out, e->tags[t].key);
        fputs("=", out);
        web_html(out, e->tags[t].value);
        fputs("</span> ", out);
    }
}

/* A row of the sessions table: with the client's column on the sessions
 * page; on a client's page with a box to pick it for comparing instead. */
static void session_row(FILE *out, const rm_library_entry *e, bool show_client)
{
    fputs("<tr>", out);
    if (!show_client) {
        char date[32];
        web_format_date(date, e->start_unix_us);
        fprintf(out, "<td><input type=\"checkbox\" name=\"id\" value=\"%lld\" "
                "form=\"pick\" aria-label=\"compare the session of %s\"></td>",
                (long long)e->id, date);
    }
    fputs("<td>", out);
    session_link(out, e);
    if (show_client) {
        fputs("</td><td>", out);
        if (e->client[0])
            client_link(out, e->client);
        else
            fputs("<em>unassigned</em>", out);
    }
    fputs("</td><td>", out);
    web_html(out, rm_side_name((rm_side)e->side));
    fputs("</td><td>", out);
    web_html(out, e->muscle);
    fprintf(out, "</td><td class=\"num\">%.1f min</td><td class=\"num\">%zu</td>"
            "<td class=\"num\">%.1f</td><td class=\"num\">%zu</td><td>",
            e->summary.duration_s / 60.0, e->spot_count, e->spot_score_total,
            e->mark_count);
    web_tags(out, e);
    fputs("</td></tr>\n", out);
}

static void session_table_head(FILE *out, bool show_client)
{
    fprintf(out, "<div class=\"scroll\"><table>\n<thead><tr>%s<th scope=\"col\">Date"
            "</th>%s<th scope=\"col\">Leg</th><th scope=\"col\">Muscle</th>"
            "<th scope=\"col\">Duration</th><th scope=\"col\">Tender spots</th>"
            "<th scope=\"col\">Total spot score (0-10 each)</th>"
            "<th scope=\"col\">Marks</th><th scope=\"col\">Tags</th></tr></thead>\n"
            "<tbody>\n", show_client ? "" : "<th scope=\"col\">Compare</th>",
            show_client ? "<th scope=\"col\">Client</th>" : "");
}

static void library_error(web_reply *r, const rm_error *err)
{
    web_reply_error(r, err->code == RM_ERR_NOT_FOUND ? MHD_HTTP_NOT_FOUND
                    : err->code == RM_ERR_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE
                    : err->code == RM_ERR_ARG ? MHD_HTTP_BAD_REQUEST
                                              : MHD_HTTP_INTERNAL_SERVER_ERROR,
                    err->message);
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                  */
/* ------------------------------------------------------------------------ */

static rm_status clients_locked(web_server_state *s, rm_library_client **out,
                                size_t *n, rm_error *err)
{
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_clients(s->library, out, n, err);
    pthread_mutex_unlock(&s->library_lock);
    return st;
}

static void trend_cell(FILE *out, const rm_library_client *c)
{
    if (c->sessions < 2) {
        fputs("<td>-</td>", out);
        return;
    }
    double change = c->last_score_total - c->first_score_total;
    if (change <= -SCORE_MDC)
        fprintf(out, "<td class=\"eased\"><span aria-hidden=\"true\">&#8600;</span> "
                "easing (%.1f)</td>", change);
    else if (change >= SCORE_MDC)
        fprintf(out, "<td class=\"worse\"><span aria-hidden=\"true\">&#8599;</span> "
                "worse (+%.1f)</td>", change);
    else
        fprintf(out, "<td><span aria-hidden=\"true\">&#8594;</span> steady "
                "(%+.1f)</td>", change);
}

static void client_table_row(FILE *out, const rm_library_client *c)
{
    char date[32];
    web_format_date(date, c->last_unix_us);
    fputs("<tr><td>", out);
    client_link(out, c->code);
    fputs("</td><td>", out);
    web_html(out, c->display_name ? c->display_name : "");
    fprintf(out, "</td><td class=\"num\">%zu</td><td>", c->sessions);
    web_html(out, date);
    fputs("</td>", out);
    trend_cell(out, c);
    fputs("</tr>\n", out);
}

static void clients_page(web_server_state *s, const web_request *q, web_reply *r)
{
    rm_library_client *c = NULL;
    size_t n = 0;
    rm_error err = {0};
    if (clients_locked(s, &c, &n, &err) != RM_OK) {
        library_error(r, &err);
        return;
    }
    web_page p;
    web_page_begin(&p, s, "Clients", q->csrf);
    fputs("<h1>Clients</h1>\n", p.out);
    /* Sorted by code: sessions without a client come first. */
    size_t unassigned = n && !c[0].code[0] ? c[0].sessions : 0;
    if (unassigned)
        fprintf(p.out, "<p class=\"alert\"><a href=\"/library/unassigned\">%zu "
                "unassigned session%s</a> recorded without a client: give them "
                "to one.</p>\n", unassigned, unassigned == 1 ? "" : "s");
    fputs("<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Code</th>"
          "<th scope=\"col\">Name</th><th scope=\"col\">Sessions</th>"
          "<th scope=\"col\">Last session</th><th scope=\"col\">Total spot "
          "score, first to last session</th></tr></thead>\n<tbody>\n", p.out);
    for (size_t i = unassigned ? 1 : 0; i < n; i++)
        client_table_row(p.out, &c[i]);
    fputs("</tbody></table></div>\n", p.out);
    if (n == (unassigned ? 1u : 0u))
        fputs("<p>No client has a session yet.</p>\n", p.out);
    web_page_end(&p, r);
    rm_library_clients_free(c, n);
}

void web_client_options(FILE *out, web_server_state *s, const char *chosen)
{
    rm_library_client *c = NULL;
    size_t n = 0;
    rm_error err = {0};
    if (clients_locked(s, &c, &n, &err) != RM_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].code[0])
            continue;
        fputs("<option value=\"", out);
        web_html(out, c[i].code);
        fprintf(out, "\"%s>", chosen && strcmp(chosen, c[i].code) == 0
                                  ? " selected" : "");
        web_html(out, c[i].code);
        fputs("</option>", out);
    }
    rm_library_clients_free(c, n);
}

/* ------------------------------------------------------------------------ */
/* One client                                                               */
/* ------------------------------------------------------------------------ */

/* The total spot score per leg over time, for the chart (app.js). A
 * session of unknown date is left out: at 1970 it squeezed every other
 * session into one corner. */
static void score_series(FILE *out, const rm_library_entry *e, size_t n)
{
    fputs("<div class=\"chart\" id=\"client-chart\" role=\"img\" "
          "aria-label=\"Total spot score per leg over time\" data-series=\"[",
          out);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!e[i].start_unix_us)
            continue;
        double left = e[i].side == RM_SIDE_LEFT ? e[i].spot_score_total : NAN;
        double right = e[i].side == RM_SIDE_RIGHT ? e[i].spot_score_total : NAN;
        fprintf(out, "%s[%lld,", first ? "" : ",",
                (long long)(e[i].start_unix_us / 1000));
        first = false;
        isnan(left) ? fputs("null,", out) : fprintf(out, "%.2f,", left);
        isnan(right) ? fputs("null]", out) : fprintf(out, "%.2f]", right);
    }
    fputs("]\"></div>\n", out);
}

static void client_page(web_server_state *s, const web_request *q, web_reply *r)
{
    const char *code = web_form_get(q->query, "code");
    if (!code || !code[0]) {
        web_reply_error(r, MHD_HTTP_BAD_REQUEST, "Which client? (code= is missing)");
        return;
    }
    rm_library_filter f = {.client = code};
    rm_library_entry *e = NULL;
    size_t n = 0;
    if (!list_or_fail(s, &f, &e, &n, r))
        return;
    if (!n) {
        /* A mistyped code (c-a for C-A) is not an empty client. */
        char message[160];
        snprintf(message, sizeof message, "No sessions of client %s in the "
                 "library (client codes are case-sensitive)", code);
        web_reply_error(r, MHD_HTTP_NOT_FOUND, message);
        return;
    }
    web_page p;
    web_page_begin(&p, s, code, q->csrf);
    fputs("<h1>Client ", p.out);
    web_html(p.out, code);
    if (e[0].display_name) {
        fputs(" <span class=\"muted\">(", p.out);
        web_html(p.out, e[0].display_name);
        fputs(")</span>", p.out);
    }
    fprintf(p.out, "</h1>\n<p>%zu session%s. <a href=\"/compare?client=", n,
            n == 1 ? "" : "s");
    web_url_encode(p.out, code);
    fputs("\">Compare this client's sessions</a></p>\n", p.out);
    fputs("<h2>Total spot score per leg</h2>\n", p.out);
    score_series(p.out, e, n);
    web_client_spot_tables(p.out, s, e, n);
    fputs("<h2>Sessions</h2>\n<form id=\"pick\" method=\"get\" action=\"/compare\" "
          "class=\"inline-form\"><button type=\"submit\">Compare the sessions "
          "ticked below</button></form>\n", p.out);
    session_table_head(p.out, false);
    for (size_t i = n; i-- > 0;)
        session_row(p.out, &e[i], false);
    fputs("</tbody></table></div>\n", p.out);
    web_page_end(&p, r);
    rm_library_entries_free(e, n);
}

/* ------------------------------------------------------------------------ */
/* Sessions: filters and paging                                             */
/* ------------------------------------------------------------------------ */

bool web_parse_day(const char *text, bool end_of_day, int64_t *us)
{
    int y, m, d, used = 0;
    if (!text || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 ||
        text[used] || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    if (tm.tm_mday != d)
        return false;
    *us = ((int64_t)t + (end_of_day ? 86400 : 0)) * 1000000;
    return true;
}

static const char *field_or_empty(const web_form *f, const char *key)
{
    const char *v = web_form_get(f, key);
    return v ? v : "";
}

static bool read_filter(const web_form *query, rm_library_filter *f,
                        char *problem, size_t cap)
{
    const char *client = field_or_empty(query, "client");
    const char *side = field_or_empty(query, "side");
    const char *muscle = field_or_empty(query, "muscle");
    const char *since = field_or_empty(query, "since");
    const char *until = field_or_empty(query, "until");
    *f = (rm_library_filter){.client = client[0] ? client : NULL,
                             .muscle = muscle[0] ? muscle : NULL};
    rm_side parsed = RM_SIDE_UNKNOWN;
    if (side[0] && rm_side_parse(side, &parsed) != RM_OK) {
        snprintf(problem, cap, "Leg: expected left or right");
        return false;
    }
    f->side = (uint8_t)parsed;
    if ((since[0] && !web_parse_day(since, false, &f->since_unix_us)) ||
        (until[0] && !web_parse_day(until, true, &f->until_unix_us))) {
        snprintf(problem, cap, "Dates: expected YYYY-MM-DD");
        return false;
    }
    return true;
}

static void text_input(FILE *out, const char *id, const char *label,
                       const char *type, const char *value)
{
    fprintf(out, "<label for=\"%s\">%s</label><input id=\"%s\" name=\"%s\" "
            "type=\"%s\" value=\"", id, label, id, id, type);
    web_html(out, value);
    fputs("\">\n", out);
}

static void side_select(FILE *out, const char *id, const char *chosen,
                        const char *any_label)
{
    static const char *const sides[] = {"", "left", "right"};
    fprintf(out, "<label for=\"%s\">Leg</label><select id=\"%s\" name=\"side\">", id, id);
    for (size_t i = 0; i < 3; i++)
        fprintf(out, "<option value=\"%s\"%s>%s</option>", sides[i],
                strcmp(chosen, sides[i]) == 0 ? " selected" : "",
                i ? sides[i] : any_label);
    fputs("</select>\n", out);
}

static void filter_form(FILE *out, const web_form *query)
{
    fputs("<form method=\"get\" action=\"/library/sessions\" class=\"filters\">\n",
          out);
    text_input(out, "client", "Client", "text", field_or_empty(query, "client"));
    side_select(out, "side", field_or_empty(query, "side"), "any");
    text_input(out, "muscle", "Muscle", "text", field_or_empty(query, "muscle"));
    text_input(out, "since", "From", "date", field_or_empty(query, "since"));
    text_input(out, "until", "To", "date", field_or_empty(query, "until"));
    fputs("<button type=\"submit\">Filter</button>\n</form>\n", out);
}

/* The query string of this page with another page number. */
static void page_link(FILE *out, const web_form *query, long page,
                      const char *label)
{
    fputs("<a href=\"/library/sessions?", out);
    static const char *const keys[] = {"client", "side", "muscle", "since", "until"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        fprintf(out, "%s=", keys[i]);
        web_url_encode(out, field_or_empty(query, keys[i]));
        fputs("&amp;", out);
    }
    fprintf(out, "page=%ld\">%s</a>", page, label);
}

static rm_status count_locked(web_server_state *s, const rm_library_filter *f,
                               size_t *n, rm_error *err)
{
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_count(s->library, f, n, err);
    pthread_mutex_unlock(&s->library_lock);
    return st;
}

static void sessions_page(web_server_state *s, const web_request *q, web_reply *r)
{
    rm_library_filter f;
    char problem[128];
    if (!read_filter(q->query, &f, problem, sizeof problem)) {
        web_reply_error(r, MHD_HTTP_BAD_REQUEST, problem);
        return;
    }
    size_t total = 0;
    rm_error err = {0};
    if (count_locked(s, &f, &total, &err) != RM_OK) {
        library_error(r, &err);
        return;
    }
    const char *page_text = web_form_get(q->query, "page");
    long pages = total ? (long)((total + PAGE_SIZE - 1) / PAGE_SIZE) : 1;
    long page = page_text ? strtol(page_text, NULL, 10) : 1;
    page = page < 1 ? 1 : page > pages ? pages : page;
    /* Only this page's sessions are read: the newest first. */
    f.last = PAGE_SIZE;
    f.skip = (size_t)(page - 1) * PAGE_SIZE;
    rm_library_entry *e = NULL;
    size_t n = 0;
    if (!list_or_fail(s, &f, &e, &n, r))
        return;
    web_page p;
    web_page_begin(&p, s, "Sessions", q->csrf);
    fputs("<h1>Sessions</h1>\n", p.out);
    filter_form(p.out, q->query);
    fprintf(p.out, "<p>%zu session%s, newest first; page %ld of %ld.</p>\n",
            total, total == 1 ? "" : "s", page, pages);
    session_table_head(p.out, true);
    for (size_t i = n; i-- > 0;)
        session_row(p.out, &e[i], true);
    fputs("</tbody></table></div>\n<nav class=\"pager\" aria-label=\"Pages\">", p.out);
    if (page > 1)
        page_link(p.out, q->query, page - 1, "&larr; Newer");
    if (page < pages)
        page_link(p.out, q->query, page + 1, "Older &rarr;");
    fputs("</nav>\n", p.out);
    web_page_end(&p, r);
    rm_library_entries_free(e, n);
}

/* ------------------------------------------------------------------------ */
/* Unassigned sessions and the assign form                                  */
/* ------------------------------------------------------------------------ */

void web_assign_form(FILE *out, const rm_library_entry *e, const char *csrf)
{
    char id[32];
    fprintf(out, "<form method=\"post\" action=\"/session/%lld/assign\" "
            "class=\"assign\">\n", (long long)e->id);
    web_csrf_field(out, csrf);
    snprintf(id, sizeof id, "client-%lld", (long long)e->id);
    fprintf(out, "<label for=\"%s\">Client code</label><input id=\"%s\" "
            "name=\"client\" required maxlength=\"63\" list=\"clients\" value=\"",
            id, id);
    web_html(out, e->client);
    fputs("\">\n", out);
    snprintf(id, sizeof id, "side-%lld", (long long)e->id);
    side_select(out, id, e->side == RM_SIDE_UNKNOWN ? "" : rm_side_name((rm_side)e->side),
                "as recorded");
    snprintf(id, sizeof id, "muscle-%lld", (long long)e->id);
    fprintf(out, "<label for=\"%s\">Muscle</label><input id=\"%s\" name=\"muscle\" "
            "maxlength=\"31\" value=\"", id, id);
    web_html(out, e->muscle);
    fputs("\">\n", out);
    snprintf(id, sizeof id, "notes-%lld", (long long)e->id);
    fprintf(out, "<label for=\"%s\">Notes</label><input id=\"%s\" name=\"notes\" "
            "maxlength=\"1023\" value=\"", id, id);
    web_html(out, e->notes ? e->notes : "");
    fputs("\">\n<button type=\"submit\">Assign</button>\n</form>\n", out);
}

static void client_datalist(FILE *out, web_server_state *s)
{
    fputs("<datalist id=\"clients\">", out);
    web_client_options(out, s, NULL);
    fputs("</datalist>\n", out);
}

static void unassigned_page(web_server_state *s, const web_request *q,
                            web_reply *r)
{
    rm_library_filter f = {.client = ""};
    rm_library_entry *e = NULL;
    size_t n = 0;
    if (!list_or_fail(s, &f, &e, &n, r))
        return;
    web_page p;
    web_page_begin(&p, s, "Unassigned sessions", q->csrf);
    fprintf(p.out, "<h1>Unassigned sessions</h1>\n<p>%zu session%s recorded "
            "without a client (rollmapd starts one when someone loads the "
            "roller). Assigning writes the client, leg, muscle and notes into "
            "the session file, as <code>rollmap library set</code> does.</p>\n",
            n, n == 1 ? "" : "s");
    client_datalist(p.out, s);
    for (size_t i = n; i-- > 0;) {
        fputs("<section class=\"card\">\n<h2>", p.out);
        session_link(p.out, &e[i]);
        fprintf(p.out, "</h2>\n<p>%.1f min, %zu tender spot%s, %zu mark%s</p>\n",
                e[i].summary.duration_s / 60.0, e[i].spot_count,
                e[i].spot_count == 1 ? "" : "s", e[i].mark_count,
                e[i].mark_count == 1 ? "" : "s");
        web_assign_form(p.out, &e[i], q->csrf);
        fputs("</section>\n", p.out);
    }
    web_page_end(&p, r);
    rm_library_entries_free(e, n);
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                  */
/* ------------------------------------------------------------------------ */

/* After a change: the session's page again, or what went wrong. */
static void back_to_session(const web_request *q, web_reply *r, rm_status st,
                            const rm_error *err)
{
    if (st != RM_OK) {
        library_error(r, err);
        return;
    }
    char location[64];
    snprintf(location, sizeof location, "/session/%lld",
             (long long)q->route->session);
    web_reply_redirect(r, location);
}

static bool fill_meta(const web_form *form, rm_session_meta *m, char *problem,
                      size_t cap)
{
    static const struct {
        const char *key;
        size_t offset, size;
    } fields[] = {
        {"client", offsetof(rm_session_meta, client), sizeof m->client},
        {"muscle", offsetof(rm_session_meta, muscle), sizeof m->muscle},
        {"notes", offsetof(rm_session_meta, notes), sizeof m->notes},
    };
    *m = (rm_session_meta){0};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = field_or_empty(form, fields[i].key);
        if (strlen(v) >= fields[i].size) {
            snprintf(problem, cap, "%s: longer than %zu characters",
                     fields[i].key, fields[i].size - 1);
            return false;
        }
        memcpy((char *)m + fields[i].offset, v, strlen(v) + 1);
    }
    rm_side side = RM_SIDE_UNKNOWN;
    const char *side_text = field_or_empty(form, "side");
    if (side_text[0] && rm_side_parse(side_text, &side) != RM_OK) {
        snprintf(problem, cap, "side: expected left or right");
        return false;
    }
    m->side = (uint8_t)side;
    if (!m->client[0]) {
        snprintf(problem, cap, "client: a client code is needed");
        return false;
    }
    return true;
}

static void assign(web_server_state *s, const web_request *q, web_reply *r)
{
    rm_session_meta m;
    char problem[128];
    if (!fill_meta(q->form, &m, problem, sizeof problem)) {
        web_reply_error(r, MHD_HTTP_BAD_REQUEST, problem);
        return;
    }
    rm_error err = {0};
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_set_meta(s->library, q->route->session, &m, &err);
    pthread_mutex_unlock(&s->library_lock);
    back_to_session(q, r, st, &err);
}

static void tag(web_server_state *s, const web_request *q, web_reply *r)
{
    const char *key = field_or_empty(q->form, "key");
    if (!key[0] || strlen(key) > 63) {
        web_reply_error(r, MHD_HTTP_BAD_REQUEST, "tag: a key of 1-63 characters");
        return;
    }
    rm_error err = {0};
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_set_tag(s->library, q->route->session, key,
                                      field_or_empty(q->form, "value"), &err);
    pthread_mutex_unlock(&s->library_lock);
    back_to_session(q, r, st, &err);
}

static void remove_session(web_server_state *s, const web_request *q,
                           web_reply *r)
{
    bool purge = strcmp(field_or_empty(q->form, "purge"), "yes") == 0;
    rm_error err = {0};
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_remove(s->library, q->route->session, purge, &err);
    pthread_mutex_unlock(&s->library_lock);
    if (st != RM_OK) {
        library_error(r, &err);
        return;
    }
    web_reply_redirect(r, "/library/sessions");
}

void web_handle_library(web_server_state *s, const web_request *q,
                        web_reply *r)
{
    switch (q->route->id) {
    case WEB_CLIENTS_PAGE: clients_page(s, q, r); break;
    case WEB_CLIENT_PAGE: client_page(s, q, r); break;
    case WEB_SESSIONS_PAGE: sessions_page(s, q, r); break;
    case WEB_UNASSIGNED_PAGE: unassigned_page(s, q, r); break;
    case WEB_SESSION_ASSIGN: assign(s, q, r); break;
    case WEB_SESSION_TAG: tag(s, q, r); break;
    default: remove_session(s, q, r); break;
    }
}
