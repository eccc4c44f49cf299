/* rollmapd configuration: defaults, the INI file and --set overrides.
 *
 * Every setting is one row of config_keys[]: its section, key, type, where
 * it lives in rm_daemon_config and its allowed range. The INI loader and
 * the "section.key=value" overrides both go through that table, so a key
 * is documented, parsed and range-checked in exactly one place. */
#include "rollmap_daemon.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* KEY_SECONDS is written in seconds and kept in microseconds (uint64_t). */
typedef enum key_type { KEY_STRING, KEY_DOUBLE, KEY_U32, KEY_SECONDS, KEY_BOOL,
                        KEY_LOG_TARGET, KEY_LOG_LEVEL } key_type;

typedef struct config_key {
    const char *section;
    const char *key;
    key_type type;
    size_t offset;        /* into rm_daemon_config */
    size_t size;          /* of a string field */
    double min, max;      /* numeric range */
} config_key;

#define FIELD(f) offsetof(rm_daemon_config, f), sizeof(((rm_daemon_config *)0)->f)

/* Ranges: a day is the longest sensible idle/resume time; 100 kHz is far
 * above any roller (the protocol's own ceiling is a few kHz). */
static const config_key config_keys[] = {
    {"device", "source", KEY_STRING, FIELD(source), 0, 0},
    {"device", "profile", KEY_STRING, FIELD(profile), 0, 0},
    {"device", "calibration_dir", KEY_STRING, FIELD(calibration_dir), 0, 0},
    {"device", "usb_ids", KEY_STRING, FIELD(usb_ids), 0, 0},
    {"device", "calibration_max_age_days", KEY_U32,
     FIELD(calibration_max_age_days), 0, 36500},
    {"device", "reconnect_initial_ms", KEY_U32, FIELD(reconnect.initial_ms), 10, 60000},
    {"device", "reconnect_max_ms", KEY_U32, FIELD(reconnect.max_ms), 10, 600000},
    {"device", "max_rate_hz", KEY_U32, FIELD(max_rate_hz), 1, 100000},
    {"device", "ring_stall_s", KEY_DOUBLE, FIELD(ring_stall_s), 0.1, 600},
    {"session", "auto", KEY_BOOL, FIELD(recorder.auto_start), 0, 0},
    {"session", "start_threshold_n", KEY_DOUBLE, FIELD(recorder.start_threshold_n), 0, 10000},
    {"session", "stop_threshold_n", KEY_DOUBLE, FIELD(recorder.stop_threshold_n), 0, 10000},
    {"session", "idle_s", KEY_SECONDS, FIELD(recorder.idle_us), 1, 86400},
    {"session", "resume_window_s", KEY_SECONDS, FIELD(recorder.resume_window_us), 0, 86400},
    {"session", "pre_roll_s", KEY_SECONDS, FIELD(recorder.pre_roll_us), 0, 60},
    {"session", "library", KEY_STRING, FIELD(recorder.library), 0, 0},
    {"session", "database", KEY_STRING, FIELD(database), 0, 0},
    {"session", "upload_interval_s", KEY_SECONDS, FIELD(upload_interval_us), 1, 86400},
    {"session", "database_retry_max_s", KEY_SECONDS, FIELD(database_retry_max_us), 1, 3600},
    {"session", "flush_interval_ms", KEY_U32, FIELD(recorder.writer.flush_interval_ms), 10, 1000},
    {"session", "fsync", KEY_BOOL, FIELD(recorder.writer.fsync), 0, 0},
    {"socket", "path", KEY_STRING, FIELD(socket_path), 0, 0},
    {"log", "target", KEY_LOG_TARGET, FIELD(log_target), 0, 0},
    {"log", "level", KEY_LOG_LEVEL, FIELD(log_level), 0, 0},
};

#define KEY_COUNT (sizeof config_keys / sizeof config_keys[0])

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void rm_daemon_config_default(rm_daemon_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->source, "auto");
    rm_reconnect_policy_default(&c->reconnect);
    rm_default_calibration_dir(c->calibration_dir, sizeof c->calibration_dir, NULL);
    /* Load cells drift; recalibrate twice a year (docs/DEVICES.md). */
    c->calibration_max_age_days = 180;
    c->max_rate_hz = 2000;   /* the fastest rate the protocol documents */
    c->ring_stall_s = 5.0;   /* a stalled disk or a paused consumer */
    rm_recorder_options_default(&c->recorder);
    rm_default_library_db(c->database, sizeof c->database, NULL);
    /* a machine that dies while recording loses at most a minute */
    c->upload_interval_us = 60000000;
    c->database_retry_max_us = RM_LIBRARY_INDEXER_MAX_BACKOFF_MS * 1000ULL;
    rm_default_socket_path(c->socket_path, sizeof c->socket_path, NULL);
    c->log_target = RM_LOG_TO_STDERR;
    c->log_level = RM_LOG_INFO;
}

/* ---- setting one key from text ----------------------------------------- */

static const config_key *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (!strcmp(config_keys[i].section, section) &&
            !strcmp(config_keys[i].key, key))
            return &config_keys[i];
    return NULL;
}

static rm_status parse_number(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno)
        return RM_ERR_FORMAT;
    *out = v;
    return RM_OK;
}

static rm_status parse_level(const char *text, uint8_t *out)
{
    for (uint8_t i = 0; i < 4; i++) {
        if (!strcasecmp(text, level_names[i])) {
            *out = i;
            return RM_OK;
        }
    }
    return RM_ERR_FORMAT;
}

static rm_status parse_target(const char *text, uint8_t *out)
{
    if (!strcasecmp(text, "stderr"))
        *out = RM_LOG_TO_STDERR;
    else if (!strcasecmp(text, "syslog"))
        *out = RM_LOG_TO_SYSLOG;
    else
        return RM_ERR_FORMAT;
    return RM_OK;
}

static rm_status set_numeric(rm_daemon_config *c, const config_key *k,
                             const char *text, const char *where, rm_error *err)
{
    double v;
    if (parse_number(text, &v) != RM_OK)
        return rm_error_set(err, RM_ERR_FORMAT, "%s[%s] %s = '%s': not a number",
                            where, k->section, k->key, text);
    if (v < k->min || v > k->max || (k->type == KEY_U32 && v != (double)(uint32_t)v))
        return rm_error_set(err, RM_ERR_ARG,
                            "%s[%s] %s = %s: must be %s between %g and %g",
                            where, k->section, k->key, text,
                            k->type == KEY_U32 ? "a whole number" : "a number",
                            k->min, k->max);
    char *field = (char *)c + k->offset;
    if (k->type == KEY_U32)
        *(uint32_t *)(void *)field = (uint32_t)v;
    else if (k->type == KEY_SECONDS)
        *(uint64_t *)(void *)field = (uint64_t)(v * 1e6);
    else
        *(double *)(void *)field = v;
    return RM_OK;
}

static rm_status set_key(rm_daemon_config *c, const config_key *k,
                         const char *text, const char *where, rm_error *err)
{
    char *field = (char *)c + k->offset;
    rm_status st = RM_OK;
    const char *expected = "";
    switch (k->type) {
    case KEY_STRING:
        if (strlen(text) >= k->size)
            return rm_error_set(err, RM_ERR_ARG, "%s[%s] %s: longer than %zu bytes",
                                where, k->section, k->key, k->size - 1);
        memcpy(field, text, strlen(text) + 1);
        return RM_OK;
    case KEY_DOUBLE:
    case KEY_U32:
    case KEY_SECONDS:
        return set_numeric(c, k, text, where, err);
    case KEY_BOOL:
        st = rm_bool_parse(text, (bool *)(void *)field);
        expected = "true or false";
        break;
    case KEY_LOG_TARGET:
        st = parse_target(text, (uint8_t *)field);
        expected = "stderr or syslog";
        break;
    case KEY_LOG_LEVEL:
        st = parse_level(text, (uint8_t *)field);
        expected = "error, warning, info or debug";
        break;
    }
    if (st != RM_OK)
        return rm_error_set(err, RM_ERR_FORMAT, "%s[%s] %s = '%s': expected %s",
                            where, k->section, k->key, text, expected);
    return RM_OK;
}

/* ---- whole files and overrides ----------------------------------------- */

rm_status rm_daemon_config_check(const rm_daemon_config *c, const char *where,
                                 rm_error *err)
{
    const rm_recorder_options *r = &c->recorder;
    if (r->stop_threshold_n > r->start_threshold_n)
        return rm_error_set(err, RM_ERR_ARG,
                            "%s[session] stop_threshold_n (%g N) must not exceed "
                            "start_threshold_n (%g N)", where,
                            r->stop_threshold_n, r->start_threshold_n);
    if (c->reconnect.max_ms < c->reconnect.initial_ms)
        return rm_error_set(err, RM_ERR_ARG,
                            "%s[device] reconnect_max_ms (%u) is below "
                            "reconnect_initial_ms (%u)", where,
                            c->reconnect.max_ms, c->reconnect.initial_ms);
    return RM_OK;
}

rm_status rm_daemon_config_apply(rm_daemon_config *c, const rm_ini *ini,
                                 rm_error *err)
{
    size_t n;
    const rm_ini_entry *entries = rm_ini_entries(ini, &n);
    rm_daemon_config next = *c;
    char where[320];
    rm_status st = RM_OK;
    for (size_t i = 0; i < n && st == RM_OK; i++) {
        const rm_ini_entry *e = &entries[i];
        if (strcmp(e->section, "web") == 0)
            continue; /* rollmap serve's section (docs/WEB.md) */
        snprintf(where, sizeof where, "%s:%d: ", rm_ini_name(ini), e->line);
        const config_key *k = find_key(e->section, e->key);
        st = k ? set_key(&next, k, e->value, where, err)
               : rm_error_set(err, RM_ERR_FORMAT, "%sunknown setting [%s] %s "
                              "(see rollmapd(8))", where, e->section, e->key);
    }
    snprintf(where, sizeof where, "%s: ", rm_ini_name(ini));
    if (st == RM_OK)
        st = rm_daemon_config_check(&next, where, err);
    if (st == RM_OK)
        *c = next;
    return st;
}

rm_status rm_daemon_config_load(rm_daemon_config *c, const char *path,
                                rm_error *err)
{
    rm_ini *ini;
    rm_status st = rm_ini_load(&ini, path, err);
    if (st != RM_OK)
        return st;
    st = rm_daemon_config_apply(c, ini, err);
    rm_ini_free(ini);
    return st;
}

rm_status rm_daemon_config_set(rm_daemon_config *c, const char *assignment,
                               rm_error *err)
{
    char section[32], key[64];
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || (size_t)(dot - assignment) >= sizeof section ||
        (size_t)(eq - dot - 1) >= sizeof key)
        return rm_error_set(err, RM_ERR_ARG,
                            "'%s': expected section.key=value "
                            "(e.g. session.idle_s=20)", assignment);
    memcpy(section, assignment, (size_t)(dot - assignment));
    section[dot - assignment] = '\0';
    memcpy(key, dot + 1, (size_t)(eq - dot - 1));
    key[eq - dot - 1] = '\0';
    const config_key *k = find_key(section, key);
    if (!k)
        return rm_error_set(err, RM_ERR_NOT_FOUND, "'%s': no setting %s.%s",
                            assignment, section, key);
    return set_key(c, k, eq + 1, "--set ", err);
}

rm_status rm_daemon_config_add_usb_ids(const rm_daemon_config *c, rm_error *err)
{
    char list[sizeof c->usb_ids];
    memcpy(list, c->usb_ids, sizeof list);
    char *save = NULL;
    for (char *id = strtok_r(list, ", \t", &save); id; id = strtok_r(NULL, ", \t", &save)) {
        rm_error why;
        if (rm_usb_id_add(id, &why) != RM_OK)
            return rm_error_set(err, RM_ERR_ARG, "[device] usb_ids: %s", why.message);
    }
    return RM_OK;
}

/* ---- what the capture pipeline gets ------------------------------------ */

rm_status rm_daemon_config_capture_options(const rm_daemon_config *c,
                                           rm_capture_options *o,
                                           rm_error *err)
{
    memset(o, 0, sizeof *o);
    rm_error why;
    if (rm_source_parse(c->source, &o->source, &why) != RM_OK ||
        rm_source_check(&o->source, &why) != RM_OK)
        return rm_error_set(err, RM_ERR_ARG, "[device] source '%s': %s", c->source,
                            why.message);
    if (c->profile[0])
        snprintf(o->source.profile_path, sizeof o->source.profile_path, "%s",
                 c->profile);
    o->ring_capacity = rm_capture_ring_size(c->max_rate_hz, c->ring_stall_s);
    snprintf(o->calibration_dir, sizeof o->calibration_dir, "%s", c->calibration_dir);
    o->calibration_max_age_days = c->calibration_max_age_days;
    o->end_at_eof = true; /* a replay or simulation that ends is over */
    o->reconnect = c->reconnect;
    o->recorder = c->recorder;
    return RM_OK;
}
