/* Private to web/: request parsing, routing, escaping, and the pieces of
 * the server (pages, live relay, authentication) that server.c ties
 * together. */
#ifndef ROLLMAP_WEB_INTERNAL_H
#define ROLLMAP_WEB_INTERNAL_H

#include "rollmap_web.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------ */
/* Request input: URL decoding, forms, routes (request.c)                   */
/* ------------------------------------------------------------------------ */

/* Enough for every form the pages send; more is a bad request. */
#define WEB_FORM_MAX_FIELDS 32
/* Largest request body accepted (forms are small; notes are 1023 bytes). */
#define WEB_MAX_BODY 16384

typedef struct web_field {
    const char *key;
    const char *value;
} web_field;

/** An application/x-www-form-urlencoded body or query string, decoded. */
typedef struct web_form {
    size_t count;
    web_field fields[WEB_FORM_MAX_FIELDS];
    char *storage;           /* the decoded text the fields point into */
} web_form;

/** Decode %XX and '+' in place; false on a bad escape or an encoded NUL. */
bool web_url_decode(char *s);
/** Parse "a=1&b=x+y": RM_ERR_FORMAT naming the field or offset at fault. */
rm_status web_form_parse(web_form *f, const char *data, size_t len,
                         rm_error *err);
void web_form_free(web_form *f);
/** A field's value, NULL when absent (the first one of that name). */
const char *web_form_get(const web_form *f, const char *key);

/** A static file name: letters, digits, '-', '_' and one inner '.'
 *  extension only, so nothing can name a folder above. */
bool web_static_name_ok(const char *name);

typedef enum web_route_id {
    WEB_NOT_FOUND = 0,
    WEB_METHOD_NOT_ALLOWED,
    WEB_HOME,
    WEB_LIVE_PAGE,
    WEB_CLIENTS_PAGE,
    WEB_CLIENT_PAGE,
    WEB_SESSIONS_PAGE,
    WEB_UNASSIGNED_PAGE,
    WEB_SESSION_PAGE,
    WEB_SESSION_FILE,
    WEB_SESSION_ASSIGN,
    WEB_SESSION_REMOVE,
    WEB_SESSION_TAG,
    WEB_COMPARE_PAGE,
    WEB_COMPARE_REPORT,
    WEB_LIVE_STREAM,
    WEB_LIVE_COMMAND,
    WEB_LOGIN_PAGE,
    WEB_LOGIN,
    WEB_LOGOUT,
    WEB_STATIC,
    WEB_VENDOR
} web_route_id;

typedef struct web_route {
    web_route_id id;
    int64_t session;         /* library id in /session/ID/... */
    char name[64];           /* file name, or the live command */
} web_route;

/** Which handler a method and decoded path go to. */
web_route web_route_match(const char *method, const char *path);
/** Whether a route changes something (needs the CSRF token). */
bool web_route_changes_state(web_route_id id);

/* ------------------------------------------------------------------------ */
/* Escaping (escape.c)                                                      */
/* ------------------------------------------------------------------------ */

/** Text into HTML content or a quoted attribute: & < > " ' escaped. */
void web_html(FILE *out, const char *text);
/** Text as a URL query value (percent-encoded). */
void web_url_encode(FILE *out, const char *text);

/* ------------------------------------------------------------------------ */
/* Responses                                                                */
/* ------------------------------------------------------------------------ */

/** The longest redirect target, with its terminating NUL. */
#define WEB_LOCATION_MAX 512

/** What a handler answers: a body in memory or a file on disk. */
typedef struct web_reply {
    unsigned status;
    const char *content_type;
    char *body;              /* malloc'd; NULL with file */
    size_t body_len;
    char file[4352];         /* serve this file when body is NULL */
    char location[WEB_LOCATION_MAX]; /* redirect target */
    char set_cookie[256];
    char disposition[160];   /* Content-Disposition for downloads */
    bool no_store;
} web_reply;

/** An HTML page in memory: web_page_begin, write to page->out, then
 *  web_page_end into the reply. */
typedef struct web_page {
    FILE *out;
    char *buf;
    size_t len;
} web_page;

typedef struct web_server_state web_server_state;

void web_page_begin(web_page *p, const web_server_state *s, const char *title,
                    const char *csrf);
void web_page_end(web_page *p, web_reply *r);
/** The hidden form field carrying the CSRF token. */
void web_csrf_field(FILE *out, const char *csrf);
/** A short page saying what went wrong, with its status. */
void web_reply_error(web_reply *r, unsigned status, const char *message);
void web_reply_redirect(web_reply *r, const char *location);

/* ------------------------------------------------------------------------ */
/* Authentication (auth.c)                                                  */
/* ------------------------------------------------------------------------ */

/* Logged-in browsers kept at once (the oldest is dropped). */
#define WEB_MAX_LOGINS 64
/* Failed logins allowed per address per window before refusing. */
#define WEB_LOGIN_ATTEMPTS 5
#define WEB_LOGIN_WINDOW_S 60

typedef struct web_auth web_auth;

/** Load the password hash (absent file: no login needed). */
rm_status web_auth_open(web_auth **out, const char *password_file,
                        rm_error *err);
void web_auth_close(web_auth *a);
bool web_auth_required(const web_auth *a);
/** The CSRF token of the browser presenting cookie (NULL: no login
 *  required, the server's own token; a cookie not logged in: NULL). */
const char *web_auth_session_csrf(web_auth *a, const char *cookie,
                                  char *out, size_t cap);
/** Check a password from address; on success a new session token for the
 *  cookie. RM_ERR_BUSY when address has tried too often. */
rm_status web_auth_login(web_auth *a, const char *address,
                         const char *password, char *token, size_t cap,
                         rm_error *err);
void web_auth_logout(web_auth *a, const char *cookie);
/** Constant-time comparison of two tokens. */
bool web_token_equal(const char *a, const char *b);

/* ------------------------------------------------------------------------ */
/* Live relay (relay.c)                                                     */
/* ------------------------------------------------------------------------ */

typedef struct web_relay web_relay;
typedef struct web_viewer web_viewer;

/* SSE lines a viewer may have waiting; beyond, the oldest event is
 * dropped (samples never queue: the newest replaces the one waiting). */
#define WEB_VIEWER_QUEUE 64
/* Rate rollmapd is asked for; a viewer's own rate decimates it. */
#define WEB_RELAY_RATE_HZ 50

rm_status web_relay_start(web_relay **out, const char *socket_path,
                          rm_error *err);
/** End the connection to rollmapd and wake every viewer (their reads
 *  return -1); the viewers stay until web_relay_free. */
void web_relay_stop(web_relay *r);
void web_relay_free(web_relay *r);
/** A viewer receiving at most rate_hz samples a second (device time). */
web_viewer *web_relay_join(web_relay *r, unsigned rate_hz);
void web_relay_leave(web_relay *r, web_viewer *v);
/** Up to cap bytes of SSE messages for v, waiting up to timeout_ms: 0 when
 *  nothing came (the caller sends a keep-alive comment), -1 once the relay
 *  stops. */
ssize_t web_viewer_read(web_relay *r, web_viewer *v, char *buf, size_t cap,
                        int timeout_ms);
/** Send one request to rollmapd on a connection of its own; its answer in
 *  *reply (may be NULL). An ERROR answer is RM_ERR_ARG with its message. */
rm_status web_relay_command(const char *socket_path, const char *request,
                            rm_json **reply, rm_error *err);

/* ------------------------------------------------------------------------ */
/* The server's state and the handlers                                      */
/* ------------------------------------------------------------------------ */

struct web_server_state {
    rm_web_options opt;
    char static_dir[4096];
    char cache_dir[64];
    pthread_mutex_t library_lock;   /* one rm_library, one thread at a time */
    rm_library *library;
    web_auth *auth;
    web_relay *relay;
    bool tls;
};

/** A request as the handlers see it. */
typedef struct web_request {
    const char *method;
    const char *path;
    const web_route *route;
    const web_form *query;
    const web_form *form;    /* POST body */
    const char *csrf;        /* the browser's CSRF token for pages */
    const char *address;     /* the peer's address, for rate limits */
    const char *cookie;
} web_request;

/** "2026-11-24 06:07 UTC"; "(date unknown)" for 0. */
void web_format_date(char out[32], int64_t unix_us);
/** "YYYY-MM-DD" as UTC microseconds, at its start or (end_of_day) its end. */
bool web_parse_day(const char *text, bool end_of_day, int64_t *us);
/** <option>s of every client code, chosen one selected (may be NULL). */
void web_client_options(FILE *out, web_server_state *s, const char *chosen);
/** A session's tags as key=value chips. */
void web_tags(FILE *out, const rm_library_entry *e);
/** The form that sets a session's client, leg, muscle and notes. */
void web_assign_form(FILE *out, const rm_library_entry *e, const char *csrf);
/** Per leg, each matched tender spot's score over the client's latest
 *  sessions (pages_compare.c); e is the client's sessions, oldest first. */
void web_client_spot_tables(FILE *out, web_server_state *s,
                            const rm_library_entry *e, size_t n);

void web_handle_live_page(web_server_state *s, const web_request *q,
                          web_reply *r);
void web_handle_library(web_server_state *s, const web_request *q,
                        web_reply *r);
void web_handle_session(web_server_state *s, const web_request *q,
                        web_reply *r);
void web_handle_compare(web_server_state *s, const web_request *q,
                        web_reply *r);
void web_handle_live_command(web_server_state *s, const web_request *q,
                             web_reply *r);

#endif /* ROLLMAP_WEB_INTERNAL_H */
