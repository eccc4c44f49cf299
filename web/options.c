/* rollmap serve's options: defaults, --listen, and the [web] section of the
 * configuration file. */
#include "web_internal.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void rm_web_options_default(rm_web_options *o)
{
    *o = (rm_web_options){.port = RM_WEB_DEFAULT_PORT};
    snprintf(o->address, sizeof o->address, "%s", RM_WEB_DEFAULT_ADDRESS);
}

static bool numeric_address(const char *text)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, text, buf) == 1 ||
           inet_pton(AF_INET6, text, buf) == 1;
}

static rm_status parse_port(const char *text, const char *whole,
                            uint16_t *port, rm_error *err)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 0 || v > 65535)
        return rm_error_set(err, RM_ERR_ARG, "listen '%s': the port must be a "
                            "number from 0 to 65535", whole);
    *port = (uint16_t)v;
    return RM_OK;
}

rm_status rm_web_parse_listen(const char *text, rm_web_options *o,
                              rm_error *err)
{
    char host[64] = "";
    const char *port = NULL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || (size_t)(close - text - 1) >= sizeof host ||
            (close[1] && close[1] != ':'))
            return rm_error_set(err, RM_ERR_ARG, "listen '%s': expected "
                                "[IPV6]:PORT", text);
        memcpy(host, text + 1, (size_t)(close - text - 1));
        port = close[1] ? close + 2 : NULL;
    } else {
        const char *colon = strrchr(text, ':');
        bool v6_without_port = colon && strchr(text, ':') != colon;
        size_t hlen = colon && !v6_without_port ? (size_t)(colon - text)
                                                : strlen(text);
        if (hlen >= sizeof host)
            return rm_error_set(err, RM_ERR_ARG, "listen '%s': address too "
                                "long", text);
        memcpy(host, text, hlen);
        port = colon && !v6_without_port ? colon + 1 : NULL;
    }
    if (host[0] && !numeric_address(host))
        return rm_error_set(err, RM_ERR_ARG, "listen '%s': '%s' is not a "
                            "numeric IPv4 or IPv6 address", text, host);
    uint16_t p = o->port;
    if (port && parse_port(port, text, &p, err) != RM_OK)
        return err->code;
    if (host[0])
        snprintf(o->address, sizeof o->address, "%s", host);
    o->port = p;
    return RM_OK;
}

typedef struct ini_key {
    const char *key;
    size_t offset;
    size_t cap;
} ini_key;

#define FIELD(name, member) \
    {name, offsetof(rm_web_options, member), sizeof(((rm_web_options *)0)->member)}
static const ini_key ini_keys[] = {
    FIELD("database", db_path),
    FIELD("socket", socket_path),
    FIELD("static_dir", static_dir),
    FIELD("password_file", password_file),
    FIELD("cert", cert_path),
    FIELD("key", key_path),
};
#undef FIELD

static rm_status apply_entry(rm_web_options *o, const rm_ini *ini,
                             const rm_ini_entry *e, rm_error *err)
{
    if (strcmp(e->key, "listen") == 0) {
        rm_error inner = {0};
        if (rm_web_parse_listen(e->value, o, &inner) != RM_OK)
            return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: %s",
                                rm_ini_name(ini), e->line, inner.message);
        return RM_OK;
    }
    for (size_t i = 0; i < sizeof ini_keys / sizeof *ini_keys; i++) {
        if (strcmp(e->key, ini_keys[i].key) != 0)
            continue;
        if (strlen(e->value) >= ini_keys[i].cap)
            return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: %s: longer than "
                                "%zu characters", rm_ini_name(ini), e->line,
                                e->key, ini_keys[i].cap - 1);
        memcpy((char *)o + ini_keys[i].offset, e->value, strlen(e->value) + 1);
        return RM_OK;
    }
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: [web] has no setting '%s' "
                        "(expected listen, database, socket, static_dir, "
                        "password_file, cert or key)", rm_ini_name(ini),
                        e->line, e->key);
}

rm_status rm_web_options_apply_ini(rm_web_options *o, const rm_ini *ini,
                                   rm_error *err)
{
    size_t n = 0;
    const rm_ini_entry *entries = rm_ini_entries(ini, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].section, "web") != 0)
            continue;
        rm_status st = apply_entry(o, ini, &entries[i], err);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}
