/* Request input of our own: URL decoding, urlencoded forms, routes and
 * static file names. Everything here reads bytes from the network. */
#include "web_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool web_url_decode(char *s)
{
    char *out = s;
    for (const char *in = s; *in; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in == '%') {
            if (!isxdigit((unsigned char)in[1]) || !isxdigit((unsigned char)in[2]))
                return false;
            char hex[3] = {in[1], in[2], '\0'};
            long byte = strtol(hex, NULL, 16);
            if (byte == 0)
                return false;
            *out++ = (char)byte;
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return true;
}

void web_form_free(web_form *f)
{
    free(f->storage);
    f->storage = NULL;
    f->count = 0;
}

static rm_status add_field(web_form *f, char *pair, size_t offset,
                           rm_error *err)
{
    char *eq = strchr(pair, '=');
    if (eq)
        *eq = '\0';
    if (!web_url_decode(pair) || (eq && !web_url_decode(eq + 1)))
        return rm_error_set(err, RM_ERR_FORMAT,
                            "form: bad %%-escape in the field at offset %zu",
                            offset);
    if (f->count == WEB_FORM_MAX_FIELDS)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "form: more than %d fields", WEB_FORM_MAX_FIELDS);
    f->fields[f->count++] = (web_field){pair, eq ? eq + 1 : ""};
    return RM_OK;
}

rm_status web_form_parse(web_form *f, const char *data, size_t len,
                         rm_error *err)
{
    *f = (web_form){0};
    if (memchr(data, '\0', len))
        return rm_error_set(err, RM_ERR_FORMAT, "form: NUL byte at offset %zu",
                            (size_t)((const char *)memchr(data, '\0', len) - data));
    f->storage = strndup(data, len);
    if (!f->storage)
        return rm_error_set(err, RM_ERR_NOMEM, "form: out of memory");
    char *save = NULL;
    for (char *pair = strtok_r(f->storage, "&", &save); pair;
         pair = strtok_r(NULL, "&", &save)) {
        rm_status st = add_field(f, pair, (size_t)(pair - f->storage), err);
        if (st != RM_OK) {
            web_form_free(f);
            return st;
        }
    }
    return RM_OK;
}

const char *web_form_get(const web_form *f, const char *key)
{
    for (size_t i = 0; f && i < f->count; i++)
        if (strcmp(f->fields[i].key, key) == 0)
            return f->fields[i].value;
    return NULL;
}

bool web_static_name_ok(const char *name)
{
    size_t len = strlen(name), dots = 0;
    if (len == 0 || len > 63 || name[0] == '.' || name[len - 1] == '.')
        return false;
    for (const char *c = name; *c; c++) {
        if (*c == '.')
            dots++;
        else if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
            return false;
    }
    return dots == 1;
}

/* ------------------------------------------------------------------------ */
/* Routes                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum route_shape {
    EXACT,          /* the path itself */
    NAMED,          /* prefix + a name */
    SESSION,        /* /session/ID */
    SESSION_NAMED   /* /session/ID/name */
} route_shape;

typedef struct route_rule {
    const char *method;
    const char *pattern;     /* the path, or its prefix */
    route_shape shape;
    web_route_id id;
} route_rule;

static const route_rule rules[] = {
    {"GET", "/", EXACT, WEB_HOME},
    {"GET", "/live", EXACT, WEB_LIVE_PAGE},
    {"GET", "/library", EXACT, WEB_CLIENTS_PAGE},
    {"GET", "/library/client", EXACT, WEB_CLIENT_PAGE},
    {"GET", "/library/sessions", EXACT, WEB_SESSIONS_PAGE},
    {"GET", "/library/unassigned", EXACT, WEB_UNASSIGNED_PAGE},
    {"GET", "/session/", SESSION, WEB_SESSION_PAGE},
    {"GET", "/session/", SESSION_NAMED, WEB_SESSION_FILE},
    {"POST", "/session/", SESSION_NAMED, WEB_SESSION_ASSIGN},
    {"GET", "/compare", EXACT, WEB_COMPARE_PAGE},
    {"GET", "/compare/report.html", EXACT, WEB_COMPARE_REPORT},
    {"GET", "/api/live", EXACT, WEB_LIVE_STREAM},
    {"POST", "/api/live/", NAMED, WEB_LIVE_COMMAND},
    {"GET", "/login", EXACT, WEB_LOGIN_PAGE},
    {"POST", "/login", EXACT, WEB_LOGIN},
    {"POST", "/logout", EXACT, WEB_LOGOUT},
    {"GET", "/static/", NAMED, WEB_STATIC},
    {"GET", "/vendor/", NAMED, WEB_VENDOR},
};

/* The POST actions on a session, by the name after its id. */
static const struct {
    const char *name;
    web_route_id id;
} session_actions[] = {
    {"assign", WEB_SESSION_ASSIGN},
    {"remove", WEB_SESSION_REMOVE},
    {"tag", WEB_SESSION_TAG},
};

/* "123" or "123/name": the id and where the rest starts (NULL: bad). */
static const char *parse_session_id(const char *text, int64_t *id)
{
    if (!isdigit((unsigned char)*text))
        return NULL;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || v <= 0)
        return NULL;
    *id = v;
    return end;
}

static bool copy_name(const char *name, web_route *r)
{
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof r->name || strchr(name, '/'))
        return false;
    memcpy(r->name, name, len + 1);
    return true;
}

static bool rule_matches(const route_rule *rule, const char *path,
                         web_route *r)
{
    size_t plen = strlen(rule->pattern);
    if (rule->shape == EXACT)
        return strcmp(path, rule->pattern) == 0;
    if (strncmp(path, rule->pattern, plen) != 0)
        return false;
    const char *rest = path + plen;
    if (rule->shape == NAMED)
        return copy_name(rest, r);
    rest = parse_session_id(rest, &r->session);
    if (!rest)
        return false;
    if (rule->shape == SESSION)
        return *rest == '\0';
    return *rest == '/' && copy_name(rest + 1, r);
}

static web_route_id session_action(const web_route *r)
{
    for (size_t i = 0; i < sizeof session_actions / sizeof *session_actions; i++)
        if (strcmp(r->name, session_actions[i].name) == 0)
            return session_actions[i].id;
    return WEB_NOT_FOUND;
}

web_route web_route_match(const char *method, const char *path)
{
    web_route r = {.id = WEB_NOT_FOUND};
    bool path_known = false;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        web_route candidate = {.id = rules[i].id};
        if (!rule_matches(&rules[i], path, &candidate))
            continue;
        path_known = true;
        if (strcmp(method, rules[i].method) != 0)
            continue;
        if (candidate.id == WEB_SESSION_ASSIGN)
            candidate.id = session_action(&candidate);
        return candidate;
    }
    if (path_known)
        r.id = WEB_METHOD_NOT_ALLOWED;
    return r;
}

bool web_route_changes_state(web_route_id id)
{
    return id == WEB_SESSION_ASSIGN || id == WEB_SESSION_REMOVE ||
           id == WEB_SESSION_TAG || id == WEB_LIVE_COMMAND ||
           id == WEB_LOGOUT;
}
