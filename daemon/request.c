/* Requests on the live socket: one JSON object per line (docs/LIVE.md).
 * Every field is checked for its type and range, and an error names the
 * command and the field. */
#include "server_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static rm_status field_error(rm_error *err, const char *cmd, const char *key,
                             const char *what)
{
    return rm_error_set(err, RM_ERR_ARG, "%s: '%s' %s", cmd, key, what);
}

/* An optional boolean member: absent keeps *out. */
static rm_status get_bool(const rm_json *obj, const char *cmd, const char *key,
                          bool *out, rm_error *err)
{
    const rm_json *v = rm_json_get(obj, key);
    if (!v)
        return RM_OK;
    if (rm_json_type_of(v) != RM_JSON_BOOL)
        return field_error(err, cmd, key, "must be true or false");
    *out = rm_json_as_bool(v, *out);
    return RM_OK;
}

/* An optional integer member in [lo, hi]: absent or null keeps *out. */
static rm_status get_int(const rm_json *obj, const char *cmd, const char *key,
                         long lo, long hi, long *out, rm_error *err)
{
    const rm_json *v = rm_json_get(obj, key);
    if (!v || rm_json_type_of(v) == RM_JSON_NULL)
        return RM_OK;
    double x = rm_json_as_number(v, NAN);
    if (rm_json_type_of(v) != RM_JSON_NUMBER || x != floor(x) || x < lo ||
        x > hi) {
        char what[64];
        snprintf(what, sizeof what, "must be an integer from %ld to %ld", lo, hi);
        return field_error(err, cmd, key, what);
    }
    *out = (long)x;
    return RM_OK;
}

/* An optional string member copied into out[cap]: absent keeps out. */
static rm_status get_string(const rm_json *obj, const char *cmd,
                            const char *key, char *out, size_t cap,
                            rm_error *err)
{
    const rm_json *v = rm_json_get(obj, key);
    if (!v)
        return RM_OK;
    if (rm_json_type_of(v) != RM_JSON_STRING)
        return field_error(err, cmd, key, "must be a string");
    const char *s = rm_json_as_string(v, "");
    if (strlen(s) >= cap) {
        char what[64];
        snprintf(what, sizeof what, "is longer than %zu bytes", cap - 1);
        return field_error(err, cmd, key, what);
    }
    strcpy(out, s);
    return RM_OK;
}

static rm_status parse_watch(const rm_json *obj, rm_watch_request *w,
                             rm_error *err)
{
    *w = (rm_watch_request){.samples = true, .events = true, .status = false,
                            .rate_hz = RM_WATCH_RATE_DEFAULT_HZ};
    long rate = w->rate_hz;
    rm_status st;
    if ((st = get_bool(obj, "watch", "samples", &w->samples, err)) ||
        (st = get_bool(obj, "watch", "events", &w->events, err)) ||
        (st = get_bool(obj, "watch", "status", &w->status, err)) ||
        (st = get_int(obj, "watch", "rate", 1, RM_WATCH_RATE_MAX_HZ, &rate, err)))
        return st;
    w->rate_hz = (uint32_t)rate;
    return RM_OK;
}

static rm_status parse_start(const rm_json *obj, rm_session_meta *meta,
                             rm_error *err)
{
    memset(meta, 0, sizeof *meta);
    strcpy(meta->muscle, "hamstring");
    char side[16] = "";
    rm_status st;
    if ((st = get_string(obj, "start", "client", meta->client,
                         sizeof meta->client, err)) ||
        (st = get_string(obj, "start", "muscle", meta->muscle,
                         sizeof meta->muscle, err)) ||
        (st = get_string(obj, "start", "notes", meta->notes,
                         sizeof meta->notes, err)) ||
        (st = get_string(obj, "start", "side", side, sizeof side, err)))
        return st;
    rm_side parsed = RM_SIDE_UNKNOWN;
    if (rm_side_parse(side, &parsed) != RM_OK)
        return field_error(err, "start", "side", "must be left, right or unknown");
    meta->side = (uint8_t)parsed;
    return RM_OK;
}

static rm_status parse_tag(const rm_json *obj, rm_request *req, rm_error *err)
{
    rm_status st;
    req->u.tag.key[0] = req->u.tag.value[0] = '\0';
    if ((st = get_string(obj, "tag", "key", req->u.tag.key,
                         sizeof req->u.tag.key, err)) ||
        (st = get_string(obj, "tag", "value", req->u.tag.value,
                         sizeof req->u.tag.value, err)))
        return st;
    if (!req->u.tag.key[0])
        return field_error(err, "tag", "key", "is missing or empty");
    return RM_OK;
}

static rm_status parse_mark(const rm_json *obj, rm_request *req, rm_error *err)
{
    long rating = -1;
    rm_status st = get_int(obj, "mark", "rating", 0, 10, &rating, err);
    req->u.rating = (int)rating;
    return st;
}

static rm_status parse_rate(const rm_json *obj, rm_request *req, rm_error *err)
{
    long rate = 0;
    rm_status st = get_int(obj, "rate", "value", 1, RM_REQUEST_RATE_MAX_HZ,
                          &rate, err);
    if (st == RM_OK && rate == 0)
        st = field_error(err, "rate", "value", "is missing: samples a second, "
                         "e.g. {\"cmd\":\"rate\",\"value\":80}");
    req->u.rate_hz = (uint32_t)rate;
    return st;
}

static rm_status parse_command(const rm_json *obj, const char *cmd,
                               rm_request *req, rm_error *err)
{
    static const struct {
        const char *name;
        rm_request_cmd cmd;
    } table[] = {
        {"watch", RM_REQ_WATCH}, {"status", RM_REQ_STATUS},
        {"start", RM_REQ_START}, {"stop", RM_REQ_STOP},
        {"tag", RM_REQ_TAG},     {"mark", RM_REQ_MARK},
        {"tare", RM_REQ_TARE},   {"rate", RM_REQ_RATE},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(cmd, table[i].name))
            continue;
        req->cmd = table[i].cmd;
        switch (req->cmd) {
        case RM_REQ_WATCH: return parse_watch(obj, &req->u.watch, err);
        case RM_REQ_START: return parse_start(obj, &req->u.start, err);
        case RM_REQ_TAG: return parse_tag(obj, req, err);
        case RM_REQ_MARK: return parse_mark(obj, req, err);
        case RM_REQ_RATE: return parse_rate(obj, req, err);
        case RM_REQ_STATUS:
        case RM_REQ_STOP:
        case RM_REQ_TARE: return RM_OK;
        }
    }
    return rm_error_set(err, RM_ERR_ARG,
                        "unknown cmd '%.64s' (expected watch, status, start, "
                        "stop, tag, mark, tare or rate)", cmd);
}

rm_status daemon_request_parse(const char *line, size_t len, rm_request *req,
                               rm_error *err)
{
    rm_json *root = NULL;
    rm_error inner = {0};
    if (rm_json_parse(&root, line, len, &inner) != RM_OK)
        return rm_error_set(err, RM_ERR_FORMAT, "request is not valid JSON: %s",
                            inner.message);
    rm_status st;
    const rm_json *cmd = rm_json_get(root, "cmd");
    if (rm_json_type_of(root) != RM_JSON_OBJECT)
        st = rm_error_set(err, RM_ERR_FORMAT, "request must be a JSON object");
    else if (!cmd || rm_json_type_of(cmd) != RM_JSON_STRING)
        st = rm_error_set(err, RM_ERR_ARG,
                          "request has no \"cmd\" string member");
    else
        st = parse_command(root, rm_json_as_string(cmd, ""), req, err);
    rm_json_free(root);
    return st;
}
