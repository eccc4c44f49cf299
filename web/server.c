/* The HTTP server: libmicrohttpd with a thread per connection (the live
 * stream blocks its own thread only), authentication and CSRF checks in
 * front of every handler, security headers on every answer. */
#include "web_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Connections at once: a clinic has a few screens; more are refused. */
#define CONNECTION_LIMIT 256
/* An idle connection is closed after this. */
#define CONNECTION_TIMEOUT_S 30
/* Request line + headers must fit in this (MHD answers 431 beyond). */
#define CONNECTION_MEMORY 32768
/* A live stream with nothing to say sends a comment this often, so
 * proxies and browsers keep it open and a closed tab is noticed. */
#define KEEPALIVE_MS 10000
/* Samples a second a viewer may ask for (the relay gets 50 a second). */
#define MAX_VIEWER_RATE_HZ WEB_RELAY_RATE_HZ
#define DEFAULT_VIEWER_RATE_HZ 20
#define COOKIE_NAME "rollmap_session"
#define DYGRAPHS_DIR "/usr/share/javascript/dygraphs"

struct rm_web_server {
    web_server_state state;
    struct MHD_Daemon *daemon;
    uint16_t port;
};

/* One request's body as it arrives. */
typedef struct upload {
    char *data;
    size_t len;
    bool too_large;
} upload;

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */
/* ------------------------------------------------------------------------ */

void web_reply_error(web_reply *r, unsigned status, const char *message)
{
    web_page p;
    web_page_begin(&p, NULL, "Error", NULL);
    fputs("<h1>", p.out);
    web_html(p.out, message);
    fputs("</h1>\n<p><a href=\"/\">Back to the start</a></p>\n", p.out);
    web_page_end(&p, r);
    r->status = status;
}

void web_reply_redirect(web_reply *r, const char *location)
{
    r->status = MHD_HTTP_SEE_OTHER;
    snprintf(r->location, sizeof r->location, "%s", location);
}

static void add_security_headers(struct MHD_Response *resp, bool no_store)
{
    /* Scripts only from our own files: an escaping slip stays inert. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; "
                            "style-src 'self' 'unsafe-inline'; "
                            "img-src 'self' data:; frame-ancestors 'self'; "
                            "form-action 'self'; base-uri 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control",
                            no_store ? "no-store" : "no-cache");
}

static struct MHD_Response *file_response(web_reply *r)
{
    int fd = open(r->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        web_reply_error(r, MHD_HTTP_NOT_FOUND, "No such file");
        return NULL;
    }
    return MHD_create_response_from_fd((uint64_t)st.st_size, fd);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, web_reply *r)
{
    struct MHD_Response *resp = NULL;
    if (!r->body && r->file[0])
        resp = file_response(r);
    if (!resp) {
        resp = MHD_create_response_from_buffer(r->body_len, r->body,
                                               MHD_RESPMEM_MUST_FREE);
        r->body = NULL;
    }
    if (!resp)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->disposition[0])
        MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    add_security_headers(resp, r->no_store);
    enum MHD_Result ret = MHD_queue_response(conn, r->status ? r->status
                                                             : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Static files, login                                                      */
/* ------------------------------------------------------------------------ */

static const char *content_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json"},
        {".csv", "text/csv; charset=utf-8"},
        {".edf", "application/octet-stream"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void serve_static(const char *dir, const char *name, web_reply *r)
{
    if (!web_static_name_ok(name)) {
        web_reply_error(r, MHD_HTTP_NOT_FOUND, "No such file");
        return;
    }
    snprintf(r->file, sizeof r->file, "%s/%s", dir, name);
    r->content_type = content_type_of(name);
}

static void serve_vendor(const char *name, web_reply *r)
{
    if (strcmp(name, "dygraph.min.js") != 0 && strcmp(name, "dygraph.min.css") != 0) {
        web_reply_error(r, MHD_HTTP_NOT_FOUND, "No such file");
        return;
    }
    snprintf(r->file, sizeof r->file, DYGRAPHS_DIR "/%s", name);
    r->content_type = content_type_of(name);
}

/* Where a login goes on to: the page of this server the browser asked
 * for before it had to log in, never another site ("//host", a
 * backslash, a control character or a space); else the live screen. */
static const char *page_after_login(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' ||
        strncmp(next, "/login", 6) == 0 || strlen(next) >= WEB_LOCATION_MAX)
        return "/live";
    for (const unsigned char *c = (const unsigned char *)next; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '\\')
            return "/live";
    return next;
}

/* next: the page to go on to (the login form carries it); may be NULL. */
static void login_page(const char *message, const char *next, web_reply *r)
{
    web_page p;
    web_page_begin(&p, NULL, "Log in", NULL);
    fputs("<h1>rollmap: log in</h1>\n", p.out);
    if (message) {
        fputs("<p class=\"alert\" role=\"alert\">", p.out);
        web_html(p.out, message);
        fputs("</p>\n", p.out);
    }
    fputs("<form method=\"post\" action=\"/login\" class=\"card\">\n"
          "<input type=\"hidden\" name=\"next\" value=\"", p.out);
    web_html(p.out, page_after_login(next));
    fputs("\">\n<label for=\"password\">Password</label>\n"
          "<input id=\"password\" name=\"password\" type=\"password\" "
          "autocomplete=\"current-password\" required autofocus>\n"
          "<button type=\"submit\">Log in</button>\n</form>\n", p.out);
    web_page_end(&p, r);
}

static void do_login(web_server_state *s, const web_request *q, web_reply *r)
{
    const char *password = web_form_get(q->form, "password");
    char token[128];
    rm_error err = {0};
    rm_status st = web_auth_login(s->auth, q->address, password ? password : "",
                                  token, sizeof token, &err);
    const char *next = web_form_get(q->form, "next");
    if (st != RM_OK) {
        login_page(err.message, next, r);
        r->status = st == RM_ERR_BUSY ? MHD_HTTP_TOO_MANY_REQUESTS
                                      : MHD_HTTP_UNAUTHORIZED;
        return;
    }
    snprintf(r->set_cookie, sizeof r->set_cookie,
             COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict%s", token,
             s->tls ? "; Secure" : "");
    web_reply_redirect(r, page_after_login(next));
}

static void do_logout(web_server_state *s, const web_request *q, web_reply *r)
{
    web_auth_logout(s->auth, q->cookie);
    snprintf(r->set_cookie, sizeof r->set_cookie,
             COOKIE_NAME "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    web_reply_redirect(r, "/login");
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

static bool open_without_login(web_route_id id)
{
    return id == WEB_LOGIN_PAGE || id == WEB_LOGIN || id == WEB_STATIC ||
           id == WEB_VENDOR ||
           id == WEB_NOT_FOUND || id == WEB_METHOD_NOT_ALLOWED;
}

/* The page asked for (path and query) in memory the caller frees. */
static char *asked_page(const web_request *q)
{
    char *page = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&page, &len);
    if (!out)
        return NULL;
    fputs(q->path, out);
    for (size_t i = 0; i < q->query->count; i++) {
        fputs(i ? "&" : "?", out);
        web_url_encode(out, q->query->fields[i].key);
        fputc('=', out);
        web_url_encode(out, q->query->fields[i].value);
    }
    fclose(out);
    return page;
}

/* A page asked for without a login: to the login, which comes back to it
 * (a bookmarked client page used to end on the live screen). */
static void redirect_to_login(const web_request *q, web_reply *r)
{
    char *page = asked_page(q);
    char *location = NULL;
    size_t len = 0;
    FILE *out = page ? open_memstream(&location, &len) : NULL;
    if (out) {
        fputs("/login?next=", out);
        web_url_encode(out, page);
        fclose(out);
    }
    web_reply_redirect(r, location && len < WEB_LOCATION_MAX ? location
                                                             : "/login");
    free(location);
    free(page);
}

static void refuse_anonymous(const web_request *q, web_reply *r)
{
    bool page = strcmp(q->method, "GET") == 0 &&
                strncmp(q->path, "/api/", 5) != 0;
    if (page) {
        redirect_to_login(q, r);
        return;
    }
    web_reply_error(r, MHD_HTTP_UNAUTHORIZED, "Log in first");
}

static bool csrf_ok(struct MHD_Connection *conn, const web_request *q)
{
    const char *sent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   "X-CSRF-Token");
    if (!sent)
        sent = web_form_get(q->form, "csrf");
    return sent && q->csrf && web_token_equal(sent, q->csrf);
}

static void route(web_server_state *s, const web_request *q, web_reply *r)
{
    switch (q->route->id) {
    case WEB_HOME: web_reply_redirect(r, "/live"); break;
    case WEB_LIVE_PAGE: web_handle_live_page(s, q, r); break;
    case WEB_CLIENTS_PAGE:
    case WEB_CLIENT_PAGE:
    case WEB_SESSIONS_PAGE:
    case WEB_UNASSIGNED_PAGE:
    case WEB_SESSION_ASSIGN:
    case WEB_SESSION_REMOVE:
    case WEB_SESSION_TAG: web_handle_library(s, q, r); break;
    case WEB_SESSION_PAGE:
    case WEB_SESSION_FILE: web_handle_session(s, q, r); break;
    case WEB_COMPARE_PAGE:
    case WEB_COMPARE_REPORT: web_handle_compare(s, q, r); break;
    case WEB_LIVE_COMMAND: web_handle_live_command(s, q, r); break;
    case WEB_LOGIN_PAGE: login_page(NULL, web_form_get(q->query, "next"), r); break;
    case WEB_LOGIN: do_login(s, q, r); break;
    case WEB_LOGOUT: do_logout(s, q, r); break;
    case WEB_STATIC: serve_static(s->static_dir, q->route->name, r); break;
    case WEB_VENDOR: serve_vendor(q->route->name, r); break;
    case WEB_METHOD_NOT_ALLOWED:
        web_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
        break;
    case WEB_LIVE_STREAM:
    case WEB_NOT_FOUND:
        web_reply_error(r, MHD_HTTP_NOT_FOUND, "No such page");
        break;
    }
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    (void)kind;
    web_form *f = cls;
    if (f->count < WEB_FORM_MAX_FIELDS)
        f->fields[f->count++] = (web_field){key, value ? value : ""};
    return MHD_YES;
}

static const char *cookie_of(struct MHD_Connection *conn)
{
    return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE_NAME);
}

static void peer_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  out, (socklen_t)cap);
}

/* ------------------------------------------------------------------------ */
/* The live stream (Server-Sent Events)                                     */
/* ------------------------------------------------------------------------ */

typedef struct stream {
    web_relay *relay;
    web_viewer *viewer;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *st = cls;
    ssize_t n = web_viewer_read(st->relay, st->viewer, buf, max, KEEPALIVE_MS);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == 0) {
        static const char keepalive[] = ": keep-alive\n\n";
        if (max < sizeof keepalive - 1)
            return 0;
        memcpy(buf, keepalive, sizeof keepalive - 1);
        return (ssize_t)(sizeof keepalive - 1);
    }
    return n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    web_relay_leave(st->relay, st->viewer);
    free(st);
}

static unsigned viewer_rate(const web_form *query)
{
    const char *text = web_form_get(query, "rate");
    long rate = text ? strtol(text, NULL, 10) : DEFAULT_VIEWER_RATE_HZ;
    if (rate < 1)
        rate = 1;
    if (rate > MAX_VIEWER_RATE_HZ)
        rate = MAX_VIEWER_RATE_HZ;
    return (unsigned)rate;
}

static enum MHD_Result start_stream(struct MHD_Connection *conn,
                                    web_server_state *s, const web_form *query)
{
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return MHD_NO;
    st->relay = s->relay;
    st->viewer = web_relay_join(s->relay, viewer_rate(query));
    if (!st->viewer) {
        free(st);
        return MHD_NO;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 8192, stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    add_security_headers(resp, true);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* The access handler                                                       */
/* ------------------------------------------------------------------------ */

/* Collect the body; true once it is all here. */
static bool receive_body(upload *u, const char *data, size_t *size)
{
    if (*size == 0)
        return true;
    if (!u->too_large && u->len + *size <= WEB_MAX_BODY) {
        char *grown = realloc(u->data, u->len + *size + 1);
        if (grown) {
            memcpy(grown + u->len, data, *size);
            u->data = grown;
            u->len += *size;
            u->data[u->len] = '\0';
        } else {
            u->too_large = true;
        }
    } else {
        u->too_large = true;
    }
    *size = 0;
    return false;
}

static enum MHD_Result handle(web_server_state *s, struct MHD_Connection *conn,
                              const char *url, const char *method, upload *u)
{
    web_route rt = web_route_match(method, url);
    web_form query = {0}, form = {0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &query);
    web_reply reply = {0};
    char address[64], csrf[160];
    peer_address(conn, address, sizeof address);
    web_request q = {.method = method, .path = url, .route = &rt,
                     .query = &query, .form = &form, .address = address,
                     .cookie = cookie_of(conn)};
    q.csrf = web_auth_session_csrf(s->auth, q.cookie, csrf, sizeof csrf);
    rm_error err = {0};
    if (u->too_large) {
        web_reply_error(&reply, MHD_HTTP_CONTENT_TOO_LARGE, "Request too large");
    } else if (u->len && web_form_parse(&form, u->data, u->len, &err) != RM_OK) {
        web_reply_error(&reply, MHD_HTTP_BAD_REQUEST, err.message);
    } else if (!q.csrf && !open_without_login(rt.id)) {
        refuse_anonymous(&q, &reply);
    } else if (web_route_changes_state(rt.id) && !csrf_ok(conn, &q)) {
        web_reply_error(&reply, MHD_HTTP_FORBIDDEN,
                        "Refused: the form's security token is missing or old; "
                        "reload the page and try again");
    } else if (rt.id == WEB_LIVE_STREAM) {
        web_form_free(&form);
        return start_stream(conn, s, &query);
    } else {
        route(s, &q, &reply);
    }
    web_form_free(&form);
    return send_reply(conn, &reply);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    (void)version;
    if (!*con_cls) {
        upload *u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    upload *u = *con_cls;
    if (!receive_body(u, data, size))
        return MHD_YES;
    return handle(cls, conn, url, method, u);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)conn, (void)code;
    upload *u = *con_cls;
    if (u) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */
/* ------------------------------------------------------------------------ */

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr)
                >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a);
}

static rm_status resolve_address(const rm_web_options *o,
                                 struct sockaddr_storage *ss, rm_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
                                         AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", o->port);
    int e = getaddrinfo(o->address, port, &hints, &res);
    if (e)
        return rm_error_set(err, RM_ERR_ARG, "listen address '%s': %s",
                            o->address, gai_strerror(e));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return RM_OK;
}

static bool has_file(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

/* The installed web files: share/rollmap/web beside the program's bin/. */
static void installed_static_dir(char *out, size_t cap)
{
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    out[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';               /* .../bin */
    slash = strrchr(exe, '/');
    if (slash) {
        *slash = '\0';               /* the prefix */
        snprintf(out, cap, "%s/share/rollmap/web", exe);
    }
}

static rm_status find_static_dir(web_server_state *s, rm_error *err)
{
    if (s->opt.static_dir[0]) {
        if (!has_file(s->opt.static_dir, "live.js"))
            return rm_error_set(err, RM_ERR_NOT_FOUND, "%s: no live.js there "
                                "(static_dir must hold rollmap's web files)",
                                s->opt.static_dir);
        snprintf(s->static_dir, sizeof s->static_dir, "%s", s->opt.static_dir);
        return RM_OK;
    }
    char installed[4096];
    installed_static_dir(installed, sizeof installed);
    const char *found = installed[0] && has_file(installed, "live.js") ? installed
                        : has_file(ROLLMAP_WEB_STATIC_SOURCE, "live.js")
                            ? ROLLMAP_WEB_STATIC_SOURCE : NULL;
    if (!found)
        return rm_error_set(err, RM_ERR_NOT_FOUND, "the web files are neither in "
                            "%s nor in %s", installed, ROLLMAP_WEB_STATIC_SOURCE);
    snprintf(s->static_dir, sizeof s->static_dir, "%s", found);
    return RM_OK;
}

static rm_status fill_defaults(web_server_state *s, rm_error *err)
{
    rm_web_options *o = &s->opt;
    if (!o->db_path[0] &&
        rm_default_library_db(o->db_path, sizeof o->db_path, err) != RM_OK)
        return err->code;
    if (!o->password_file[0] &&
        rm_default_web_password_path(o->password_file, sizeof o->password_file,
                                     err) != RM_OK)
        return err->code;
    if (!o->socket_path[0] &&
        rm_default_socket_path(o->socket_path, sizeof o->socket_path, err) != RM_OK)
        return err->code;
    if ((o->cert_path[0] != '\0') != (o->key_path[0] != '\0'))
        return rm_error_set(err, RM_ERR_ARG, "TLS needs both --cert and --key");
    return find_static_dir(s, err);
}

static char *read_whole(const char *path, rm_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        rm_error_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n <= 0) {
        free(text);
        rm_error_set(err, RM_ERR_FORMAT, "%s: empty", path);
        return NULL;
    }
    return text;
}

static rm_status start_daemon(rm_web_server *srv, const struct sockaddr_storage *ss,
                              rm_error *err)
{
    web_server_state *s = &srv->state;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    char *cert = NULL, *key = NULL;
    if (s->opt.cert_path[0]) {
        cert = read_whole(s->opt.cert_path, err);
        key = cert ? read_whole(s->opt.key_path, err) : NULL;
        if (!key) {
            free(cert);
            return err->code;
        }
        flags |= MHD_USE_TLS;
        s->tls = true;
    }
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        /* Without TLS the list ends here. */
        cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    free(cert);
    free(key);
    if (!srv->daemon)
        return rm_error_set(err, RM_ERR_BUSY, "cannot listen on %s port %u "
                            "(in use, not an address of this machine, or a "
                            "bad certificate)", s->opt.address, s->opt.port);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : s->opt.port;
    return RM_OK;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static rm_status open_parts(web_server_state *s, rm_error *err)
{
    rm_status st = rm_library_open(&s->library, s->opt.db_path, err);
    if (st != RM_OK)
        return st;
    snprintf(s->cache_dir, sizeof s->cache_dir, "/tmp/rollmap-web-XXXXXX");
    if (!mkdtemp(s->cache_dir)) {
        s->cache_dir[0] = '\0';
        return rm_error_set(err, RM_ERR_IO, "cache folder in /tmp: %s",
                            strerror(errno));
    }
    return web_relay_start(&s->relay, s->opt.socket_path, err);
}

rm_status rm_web_start(rm_web_server **out, const rm_web_options *o,
                       rm_error *err)
{
    rm_web_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    web_server_state *s = &srv->state;
    s->opt = *o;
    pthread_mutex_init(&s->library_lock, NULL);
    struct sockaddr_storage ss;
    rm_status st = fill_defaults(s, err);
    if (st == RM_OK)
        st = resolve_address(o, &ss, err);
    if (st == RM_OK)
        st = web_auth_open(&s->auth, s->opt.password_file, err);
    if (st == RM_OK && !is_loopback((struct sockaddr *)&ss) &&
        !web_auth_required(s->auth))
        st = rm_error_set(err, RM_ERR_ARG, "refusing to listen on %s without "
                          "a password: anyone on the network could watch and "
                          "change the library. Set one with 'rollmap serve "
                          "--set-password' (stored in %s)", o->address,
                          s->opt.password_file);
    if (st == RM_OK)
        st = open_parts(s, err);
    if (st == RM_OK)
        st = start_daemon(srv, &ss, err);
    if (st != RM_OK) {
        rm_web_stop(srv);
        return st;
    }
    *out = srv;
    return RM_OK;
}

uint16_t rm_web_port(const rm_web_server *srv)
{
    return srv->port;
}

bool rm_web_requires_login(const rm_web_server *srv)
{
    return web_auth_required(srv->state.auth);
}

void rm_web_stop(rm_web_server *srv)
{
    if (!srv)
        return;
    web_server_state *s = &srv->state;
    web_relay_stop(s->relay);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    web_relay_free(s->relay);
    rm_library_close(s->library);
    web_auth_close(s->auth);
    if (s->cache_dir[0])
        nftw(s->cache_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    pthread_mutex_destroy(&s->library_lock);
    free(srv);
}
