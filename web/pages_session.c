/* The session page and its downloads. The report is the one `rollmap
 * report` writes (rm_report_write_dir, with SVG graphs), made once per
 * session file content into the server's cache folder; the timeline data
 * for the interactive chart comes from the same analysis. */
#include "web_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Points in the timeline sent to the browser: enough to see each stroke of
 * a 30-minute session when zoomed out, small enough to send at once. */
#define TIMELINE_POINTS 6000

/* One report is made at a time: gnuplot is the slow part, and two viewers
 * of one session must not write the same folder. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct download {
    const char *name;
    const char *label;
} download;

static const download downloads[] = {
    {"report.html", "Report (HTML, printable)"},
    {"report.json", "Report (JSON, every figure)"},
    {"samples.csv", "Samples (CSV)"},
    {"session.edf", "EDF+"},
    {"session-contiguous.edf", "EDF+ contiguous (for EDFbrowser)"},
};

static rm_status get_entry(web_server_state *s, int64_t id,
                           rm_library_entry **e, rm_error *err)
{
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_get(s->library, id, e, err);
    pthread_mutex_unlock(&s->library_lock);
    return st;
}

/* The session the page or download names, or false with the reply saying
 * what is wrong: an old link or a removed session reads "No session 99 in
 * the library", not the database's path and id. */
static bool entry_or_reply(web_server_state *s, const web_request *q,
                           rm_library_entry **e, web_reply *r)
{
    rm_error err = {0};
    rm_status st = get_entry(s, q->route->session, e, &err);
    if (st == RM_OK)
        return true;
    if (st == RM_ERR_NOT_FOUND) {
        char message[96];
        snprintf(message, sizeof message, "No session %lld in the library "
                 "(removed, or an old link)", (long long)q->route->session);
        web_reply_error(r, MHD_HTTP_NOT_FOUND, message);
    } else {
        web_reply_error(r, st == RM_ERR_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE
                                             : MHD_HTTP_INTERNAL_SERVER_ERROR,
                        err.message);
    }
    return false;
}

static void cache_folder(const web_server_state *s, const rm_library_entry *e,
                         char *out, size_t cap)
{
    snprintf(out, cap, "%s/session-%lld-%08x-%llu", s->cache_dir,
             (long long)e->id, e->file_crc32c, (unsigned long long)e->file_size);
}

static rm_status write_timeline(const rm_analysis *a, const char *path,
                                rm_error *err)
{
    FILE *out = fopen(path, "we");
    if (!out)
        return rm_error_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    const rm_series *sr = &a->series;
    size_t step = sr->n / TIMELINE_POINTS + 1;
    fputs("{\"points\":[", out);
    for (size_t i = 0; i < sr->n; i += step) {
        double pos = sr->position_cm ? sr->position_cm[i] : NAN;
        fprintf(out, "%s[%.3f,%.1f,", i ? "," : "", sr->t_s[i], sr->force_n[i]);
        isnan(pos) ? fputs("null]", out) : fprintf(out, "%.2f]", pos);
    }
    fputs("],\"dwells\":[", out);
    for (size_t i = 0; i < a->dwell_count; i++)
        fprintf(out, "%s[%.2f,%.2f]", i ? "," : "", a->dwells[i].start_s,
                a->dwells[i].end_s);
    fputs("],\"marks\":[", out);
    for (size_t i = 0; i < a->mark_count; i++)
        fprintf(out, "%s[%.2f,%d]", i ? "," : "", a->marks[i].t_s,
                a->marks[i].rating);
    fputs("]}\n", out);
    return fclose(out) == 0 ? RM_OK
                            : rm_error_set(err, RM_ERR_IO, "%s: %s", path,
                                           strerror(errno));
}

static rm_status analyse(const char *path, rm_session **s, rm_analysis **a,
                         rm_error *err)
{
    rm_status st = rm_session_open(s, path, err);
    if (st != RM_OK)
        return st;
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    st = rm_analyse_session(*s, &cfg, a, err);
    if (st != RM_OK) {
        rm_session_close(*s);
        *s = NULL;
    }
    return st;
}

static rm_status write_export(rm_session *sess, const rm_analysis *a,
                              const char *dir, const char *name, rm_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (strcmp(name, "samples.csv") == 0) {
        FILE *out = fopen(path, "we");
        if (!out)
            return rm_error_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
        rm_status st = rm_session_export_csv(sess, out, err);
        return fclose(out) == 0 ? st : rm_error_set(err, RM_ERR_IO, "%s: %s",
                                                    path, strerror(errno));
    }
    unsigned flags = strcmp(name, "session-contiguous.edf") == 0
                         ? RM_EDF_CONTIGUOUS : RM_EDF_DEFAULT;
    return rm_export_edf(sess, a, path, flags, NULL, err);
}

/* The session's file: its own on this machine, or its bytes from a
 * PostgreSQL library in the cache's sessions/ folder. */
static rm_status local_session_file(web_server_state *s,
                                    const rm_library_entry *e, char *path,
                                    size_t cap, rm_error *err)
{
    char sessions[4200];
    snprintf(sessions, sizeof sessions, "%s/sessions", s->cache_dir);
    rm_library_fetched fetched;
    pthread_mutex_lock(&s->library_lock);
    rm_status st = rm_library_session_file(s->library, e, sessions, path, cap,
                                           &fetched, err);
    pthread_mutex_unlock(&s->library_lock);
    if (st == RM_OK && fetched.damaged_chunks)
        fprintf(stderr, "rollmap serve: warning: %s\n", fetched.damage);
    return st;
}

/* Make what name needs (the report folder, or an export) unless the cache
 * has it. */
static rm_status ensure_file(web_server_state *s, const rm_library_entry *e,
                             const char *dir, const char *name, rm_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, R_OK) == 0)
        return RM_OK;
    char file[4200];
    rm_session *sess = NULL;
    rm_analysis *a = NULL;
    rm_status st = local_session_file(s, e, file, sizeof file, err);
    if (st == RM_OK)
        st = analyse(file, &sess, &a, err);
    if (st != RM_OK)
        return st;
    bool report = strcmp(name, "report.html") == 0 ||
                  strcmp(name, "report.json") == 0 ||
                  strcmp(name, "timeline.json") == 0;
    if (report) {
        rm_graphs_result res;
        char timeline[4200];
        snprintf(timeline, sizeof timeline, "%s/timeline.json", dir);
        st = rm_report_write_dir(a, dir, RM_GRAPH_SVG, &res, err);
        if (st == RM_OK)
            st = write_timeline(a, timeline, err);
    } else {
        st = mkdir(dir, 0700) == 0 || errno == EEXIST
                 ? write_export(sess, a, dir, name, err)
                 : rm_error_set(err, RM_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    rm_analysis_free(a);
    rm_session_close(sess);
    return st;
}

static bool known_download(const char *name)
{
    if (strcmp(name, "timeline.json") == 0)
        return true;
    for (size_t i = 0; i < sizeof downloads / sizeof *downloads; i++)
        if (strcmp(name, downloads[i].name) == 0)
            return true;
    return false;
}

/* The session id for a download's file name, with anything odd replaced. */
static void safe_id(const char *id, char *out, size_t cap)
{
    size_t i = 0;
    for (; id[i] && i + 1 < cap; i++)
        out[i] = isalnum((unsigned char)id[i]) || id[i] == '-' ? id[i] : '_';
    out[i] = '\0';
}

static void session_file(web_server_state *s, const web_request *q,
                         web_reply *r)
{
    const char *name = q->route->name;
    if (!known_download(name)) {
        web_reply_error(r, MHD_HTTP_NOT_FOUND, "No such file");
        return;
    }
    rm_library_entry *e = NULL;
    if (!entry_or_reply(s, q, &e, r))
        return;
    rm_error err = {0};
    char dir[256];
    cache_folder(s, e, dir, sizeof dir);
    pthread_mutex_lock(&report_lock);
    rm_status st = ensure_file(s, e, dir, name, &err);
    pthread_mutex_unlock(&report_lock);
    if (st != RM_OK) {
        web_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err.message);
    } else {
        snprintf(r->file, sizeof r->file, "%s/%s", dir, name);
        r->content_type = strstr(name, ".html") ? "text/html; charset=utf-8"
                          : strstr(name, ".json") ? "application/json"
                          : strstr(name, ".csv") ? "text/csv; charset=utf-8"
                                                 : "application/octet-stream";
        char id[40];
        safe_id(e->session_id, id, sizeof id);
        if (q->query && web_form_get(q->query, "download"))
            snprintf(r->disposition, sizeof r->disposition,
                     "attachment; filename=\"%s-%s\"", id, name);
    }
    rm_library_entries_free(e, 1);
}

/* ------------------------------------------------------------------------ */
/* The page                                                                 */
/* ------------------------------------------------------------------------ */

static void meta_list(FILE *out, const rm_library_entry *e)
{
    char date[32];
    web_format_date(date, e->start_unix_us);
    fputs("<dl class=\"meta\">\n<dt>Client</dt><dd>", out);
    if (e->client[0]) {
        fputs("<a href=\"/library/client?code=", out);
        web_url_encode(out, e->client);
        fputs("\">", out);
        web_html(out, e->client);
        fputs("</a>", out);
    } else {
        fputs("<em>unassigned</em>", out);
    }
    fputs("</dd>\n<dt>Started</dt><dd>", out);
    web_html(out, date);
    fputs("</dd>\n<dt>Leg</dt><dd>", out);
    web_html(out, rm_side_name((rm_side)e->side));
    fputs("</dd>\n<dt>Muscle</dt><dd>", out);
    web_html(out, e->muscle);
    fprintf(out, "</dd>\n<dt>Duration</dt><dd>%.1f min</dd>\n<dt>Tender spots"
            "</dt><dd>%zu (total score %.1f)</dd>\n<dt>Notes</dt><dd>",
            e->summary.duration_s / 60.0, e->spot_count, e->spot_score_total);
    web_html(out, e->notes ? e->notes : "-");
    fputs("</dd>\n<dt>Tags</dt><dd>", out);
    web_tags(out, e);
    fputs(e->tag_count ? "</dd>\n</dl>\n" : "-</dd>\n</dl>\n", out);
}

static void download_list(FILE *out, int64_t id)
{
    fputs("<h2>Downloads</h2>\n<ul class=\"downloads\">\n", out);
    for (size_t i = 0; i < sizeof downloads / sizeof *downloads; i++)
        fprintf(out, "<li><a href=\"/session/%lld/%s?download=1\">%s</a></li>\n",
                (long long)id, downloads[i].name, downloads[i].label);
    fputs("</ul>\n", out);
}

static void tag_form(FILE *out, int64_t id, const char *csrf)
{
    fprintf(out, "<form method=\"post\" action=\"/session/%lld/tag\" "
            "class=\"inline-form\">\n", (long long)id);
    web_csrf_field(out, csrf);
    fputs("<label for=\"tag-key\">Tag</label><input id=\"tag-key\" name=\"key\" "
          "maxlength=\"63\" required>\n<label for=\"tag-value\">Value (empty "
          "removes)</label><input id=\"tag-value\" name=\"value\" maxlength=\"255\">\n"
          "<button type=\"submit\">Set tag</button>\n</form>\n", out);
}

static void remove_form(FILE *out, const rm_library_entry *e, const char *csrf)
{
    fprintf(out, "<details class=\"danger\"><summary>Remove from the library"
            "</summary>\n<form method=\"post\" action=\"/session/%lld/remove\" "
            "data-confirm=\"Remove this session from the library?\">\n",
            (long long)e->id);
    web_csrf_field(out, csrf);
    fputs("<p>The session leaves the library; its file stays where it is:\n<code>",
          out);
    web_html(out, e->path);
    fputs("</code></p>\n<label><input type=\"checkbox\" name=\"purge\" "
          "value=\"yes\"> also delete the file (cannot be undone)</label>\n"
          "<button type=\"submit\" class=\"danger\">Remove</button>\n</form>\n"
          "</details>\n", out);
}

static void session_page(web_server_state *s, const web_request *q,
                         web_reply *r)
{
    rm_library_entry *e = NULL;
    if (!entry_or_reply(s, q, &e, r))
        return;
    char date[32];
    web_format_date(date, e->start_unix_us);
    web_page p;
    web_page_begin(&p, s, "Session", q->csrf);
    fputs("<h1>Session ", p.out);
    web_html(p.out, date);
    fputs("</h1>\n", p.out);
    meta_list(p.out, e);
    fputs("<h2>Force and position over time</h2>\n<p class=\"muted\">Drag to "
          "zoom, shift-drag to pan, double-click to zoom out. Shaded: dwells; "
          "lines: tender-here marks.</p>\n", p.out);
    fprintf(p.out, "<div class=\"chart tall\" id=\"timeline\" data-src=\"/session/"
            "%lld/timeline.json\" role=\"img\" aria-label=\"Force in N and "
            "position in cm over time\"></div>\n", (long long)e->id);
    download_list(p.out, e->id);
    fprintf(p.out, "<h2>Report</h2>\n<iframe class=\"report\" title=\"Session "
            "report\" src=\"/session/%lld/report.html\"></iframe>\n",
            (long long)e->id);
    fputs("<h2>Client, leg, muscle, notes</h2>\n", p.out);
    web_assign_form(p.out, e, q->csrf);
    tag_form(p.out, e->id, q->csrf);
    remove_form(p.out, e, q->csrf);
    web_page_end(&p, r);
    rm_library_entries_free(e, 1);
}

void web_handle_session(web_server_state *s, const web_request *q,
                        web_reply *r)
{
    if (q->route->id == WEB_SESSION_PAGE)
        session_page(s, q, r);
    else
        session_file(s, q, r);
}
