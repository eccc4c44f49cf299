/*
 * The table of source kinds: one row per kind with its name prefix, how
 * its name is parsed and formatted, how it is resolved to something to
 * open, its transport and what it can do. Adding a transport is adding a
 * row here (docs/HACKING.md, "Adding a source kind").
 */
#include "source_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/** Baud rates a serial line can be set to (POSIX B50 .. B4000000). */
#define BAUD_MIN 50u
#define BAUD_MAX 4000000u

static const char names_help[] =
    "expected auto, serial:PATH[@BAUD], usb:VID:PID[:SERIAL], tty:PATH[@BAUD], "
    "file:PATH, sim:[key=value,...] or -";

/* ---- Parsing the part after the prefix ------------------------------- */

static rm_status copy_part(char *dst, size_t cap, const char *src, size_t len,
                           const char *text, const char *what, rm_error *err)
{
    if (len >= cap)
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': %s is longer than %zu characters",
                            text, what, cap - 1);
    /* The whole field is rewritten so that equal specs compare equal. */
    memset(dst, 0, cap);
    memcpy(dst, src, len);
    return RM_OK;
}

static rm_status parse_hex16(const char *s, size_t len, uint16_t *out,
                             const char *text, const char *what, rm_error *err)
{
    if (hw_hex16_parse(s, len, out))
        return RM_OK;
    return rm_error_set(err, RM_ERR_ARG,
                        "source '%s': %s '%.*s' is not 4 hex digits",
                        text, what, (int)len, s);
}

static rm_status parse_baud(const char *s, uint32_t *baud, const char *text,
                            rm_error *err)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || value < BAUD_MIN ||
        value > BAUD_MAX)
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': baud rate '%s' is not a number "
                            "from %u to %u", text, s, BAUD_MIN, BAUD_MAX);
    *baud = (uint32_t)value;
    return RM_OK;
}

/** "PATH[@BAUD]" of serial: and tty:. */
static rm_status parse_device_path(const char *body, rm_source_spec *spec,
                                   const char *text, rm_error *err)
{
    const char *at = strrchr(body, '@');
    size_t len = at ? (size_t)(at - body) : strlen(body);
    if (len == 0)
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': the device path is empty", text);
    rm_status st = copy_part(spec->path, sizeof spec->path, body, len, text,
                             "the device path", err);
    if (st == RM_OK && at)
        st = parse_baud(at + 1, &spec->baud, text, err);
    return st;
}

/** "VID:PID[:SERIAL]" of usb:. */
static rm_status parse_usb(const char *body, rm_source_spec *spec,
                           const char *text, rm_error *err)
{
    const char *colon = strchr(body, ':');
    if (!colon)
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': expected usb:VID:PID[:SERIAL], "
                            "e.g. usb:2341:0043", text);
    rm_status st = parse_hex16(body, (size_t)(colon - body), &spec->vid, text,
                               "vendor id", err);
    if (st != RM_OK)
        return st;
    const char *pid = colon + 1;
    const char *serial = strchr(pid, ':');
    size_t pid_len = serial ? (size_t)(serial - pid) : strlen(pid);
    st = parse_hex16(pid, pid_len, &spec->pid, text, "product id", err);
    if (st != RM_OK || !serial)
        return st;
    if (!serial[1])
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': the serial number after the last "
                            "':' is empty", text);
    return copy_part(spec->serial, sizeof spec->serial, serial + 1,
                     strlen(serial + 1), text, "the serial number", err);
}

/** "PATH" of file: (a file name may contain '@'). */
static rm_status parse_file(const char *body, rm_source_spec *spec,
                            const char *text, rm_error *err)
{
    if (!*body)
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': the file name is empty", text);
    return copy_part(spec->path, sizeof spec->path, body, strlen(body), text,
                     "the file name", err);
}

static rm_status parse_sim(const char *body, rm_source_spec *spec,
                           const char *text, rm_error *err)
{
    return copy_part(spec->sim_options, sizeof spec->sim_options, body,
                     strlen(body), text, "the simulator options", err);
}

/* ---- Formatting a spec back to its name ------------------------------ */

static void format_bare(const rm_source_spec *spec, const char *prefix,
                        char *out, size_t cap)
{
    (void)spec;
    snprintf(out, cap, "%s", prefix);
}

static void format_device_path(const rm_source_spec *spec, const char *prefix,
                               char *out, size_t cap)
{
    if (spec->baud)
        snprintf(out, cap, "%s%s@%u", prefix, spec->path, spec->baud);
    else
        snprintf(out, cap, "%s%s", prefix, spec->path);
}

static void format_usb(const rm_source_spec *spec, const char *prefix,
                       char *out, size_t cap)
{
    snprintf(out, cap, "%s%04x:%04x%s%s", prefix, spec->vid, spec->pid,
             spec->serial[0] ? ":" : "", spec->serial);
}

static void format_file(const rm_source_spec *spec, const char *prefix,
                        char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", prefix, spec->path);
}

static void format_sim(const rm_source_spec *spec, const char *prefix,
                       char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", prefix, spec->sim_options);
}

/* ---- Resolving to a port, checking before opening, hotplug ----------- */

static rm_status resolve_usb(const rm_source_spec *spec, char *path,
                             size_t cap, rm_error *err)
{
    return hw_ports_find_usb(spec->vid, spec->pid, spec->serial, path, cap,
                             err);
}

static rm_status resolve_auto(const rm_source_spec *spec, char *path,
                              size_t cap, rm_error *err)
{
    (void)spec;
    return hw_ports_find_roller(path, cap, err);
}

/* The simulator reads its options only when it is opened, which in the
 * daemon's I/O thread would be retried for ever instead of reported: each
 * option and their combination are checked here. */
static rm_status check_sim(const rm_source_spec *spec, rm_error *err)
{
    rm_sim_config sim;
    rm_sim_config_default(&sim);
    rm_status st = rm_sim_config_parse(&sim, spec->sim_options, err);
    return st == RM_OK ? rm_sim_config_check(&sim, err) : st;
}

static bool hotplug_usb_matches(const rm_source_spec *spec, uint16_t vid,
                                uint16_t pid)
{
    return vid == spec->vid && pid == spec->pid;
}

/* ---- The table ------------------------------------------------------- */

static const rm_source_kind_row kinds[] = {
    {.kind = RM_SOURCE_AUTO, .prefix = "auto", .whole_name = true,
     .format = format_bare, .resolve = resolve_auto,
     .ops = &hw_source_serial_ops, .caps = {.hotplug = true}},
    {.kind = RM_SOURCE_SERIAL, .prefix = "serial:",
     .parse = parse_device_path, .format = format_device_path,
     .ops = &hw_source_serial_ops, .caps = {.hotplug = true}},
    {.kind = RM_SOURCE_USB, .prefix = "usb:", .parse = parse_usb,
     .format = format_usb, .resolve = resolve_usb,
     .hotplug_matches = hotplug_usb_matches, .ops = &hw_source_serial_ops,
     .caps = {.hotplug = true}},
    {.kind = RM_SOURCE_TTY, .prefix = "tty:", .parse = parse_device_path,
     .format = format_device_path, .ops = &hw_source_tty_ops},
    {.kind = RM_SOURCE_FILE, .prefix = "file:", .parse = parse_file,
     .format = format_file, .ops = &hw_source_file_ops,
     .caps = {.replay = true}},
    {.kind = RM_SOURCE_SIM, .prefix = "sim:", .parse = parse_sim,
     .format = format_sim, .check = check_sim, .ops = &hw_source_sim_ops},
    {.kind = RM_SOURCE_STDIN, .prefix = "-", .whole_name = true,
     .format = format_bare, .ops = &hw_source_stdin_ops,
     .caps = {.replay = true}},
};

const rm_source_kind_row *hw_source_kind_of(uint8_t kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return &kinds[i];
    return NULL;
}

static bool name_matches(const rm_source_kind_row *row, const char *name)
{
    if (row->whole_name)
        return !strcmp(name, row->prefix);
    return !strncmp(name, row->prefix, strlen(row->prefix));
}

static rm_status parse_kind(const char *name, rm_source_spec *spec,
                            const char *text, rm_error *err)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const rm_source_kind_row *row = &kinds[i];
        if (!name_matches(row, name))
            continue;
        spec->kind = row->kind;
        return row->parse ? row->parse(name + strlen(row->prefix), spec, text,
                                       err)
                          : RM_OK;
    }
    if (name[0] == '/')
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': a bare path is ambiguous; write "
                            "serial:%s for a serial port, tty:%s for a pty "
                            "or file:%s for a capture", text, name, name,
                            name);
    return rm_error_set(err, RM_ERR_ARG, "unknown source '%s': %s", text,
                        names_help);
}

/* ---- Options after '?' ----------------------------------------------- */

/* Highest sample rate a source may ask for, as a text profile's. */
#define RATE_MAX_HZ 100000u

/** "rate=N": the digits only, 1 .. RATE_MAX_HZ. */
static rm_status parse_rate(const char *digits, size_t len,
                            rm_source_spec *spec, const char *text,
                            rm_error *err)
{
    uint32_t rate = 0;
    for (size_t i = 0; i < len && rate <= RATE_MAX_HZ; i++)
        rate = isdigit((unsigned char)digits[i])
                   ? rate * 10u + (uint32_t)(digits[i] - '0')
                   : RATE_MAX_HZ + 1;
    if (len == 0 || rate == 0 || rate > RATE_MAX_HZ)
        return rm_error_set(err, RM_ERR_ARG,
                            "source '%s': rate '%.*s' is not a number of "
                            "samples a second from 1 to %u",
                            text, (int)len, digits, RATE_MAX_HZ);
    spec->rate_hz = rate;
    return RM_OK;
}

/** One "?option": fast, profile=PATH or rate=N. */
static rm_status parse_option(const char *opt, size_t len,
                              rm_source_spec *spec, const char *text,
                              rm_error *err)
{
    static const char profile_key[] = "profile=", rate_key[] = "rate=";
    size_t key_len = sizeof profile_key - 1, rate_len = sizeof rate_key - 1;
    if (len == 4 && !strncmp(opt, "fast", 4)) {
        spec->fast = true;
        return RM_OK;
    }
    if (len > key_len && !strncmp(opt, profile_key, key_len))
        return copy_part(spec->profile_path, sizeof spec->profile_path,
                         opt + key_len, len - key_len, text,
                         "the profile path", err);
    if (len >= rate_len && !strncmp(opt, rate_key, rate_len))
        return parse_rate(opt + rate_len, len - rate_len, spec, text, err);
    return rm_error_set(err, RM_ERR_ARG,
                        "source '%s': unknown option '%.*s' after '?' "
                        "(expected fast, profile=PATH or rate=N)",
                        text, (int)len, opt);
}

static rm_status parse_options(const char *opts, rm_source_spec *spec,
                               const char *text, rm_error *err)
{
    while (*opts) {
        const char *comma = strchr(opts, ',');
        size_t len = comma ? (size_t)(comma - opts) : strlen(opts);
        rm_status st = parse_option(opts, len, spec, text, err);
        if (st != RM_OK)
            return st;
        opts += len + (comma ? 1 : 0);
    }
    return RM_OK;
}

/* ---- Public API ------------------------------------------------------- */

rm_status rm_source_parse(const char *text, rm_source_spec *spec,
                          rm_error *err)
{
    memset(spec, 0, sizeof *spec);
    if (!text || !*text)
        return rm_error_set(err, RM_ERR_ARG, "empty source name: %s",
                            names_help);
    char name[sizeof spec->path + sizeof spec->sim_options];
    const char *question = strchr(text, '?');
    size_t name_len = question ? (size_t)(question - text) : strlen(text);
    rm_status st = copy_part(name, sizeof name, text, name_len, text,
                             "the name", err);
    if (st == RM_OK)
        st = parse_kind(name, spec, text, err);
    if (st == RM_OK && question)
        st = parse_options(question + 1, spec, text, err);
    return st;
}

void rm_source_format(const rm_source_spec *spec, char *out, size_t cap)
{
    if (cap == 0)
        return;
    const rm_source_kind_row *row = hw_source_kind_of(spec->kind);
    if (row)
        row->format(spec, row->prefix, out, cap);
    else
        out[0] = '\0';
    size_t len = strlen(out);
    const char *sep = "?";
    if (spec->fast && len < cap) {
        snprintf(out + len, cap - len, "%sfast", sep);
        sep = ",";
        len = strlen(out);
    }
    if (spec->profile_path[0] && len < cap) {
        snprintf(out + len, cap - len, "%sprofile=%s", sep,
                 spec->profile_path);
        sep = ",";
        len = strlen(out);
    }
    if (spec->rate_hz && len < cap)
        snprintf(out + len, cap - len, "%srate=%u", sep, spec->rate_hz);
}

rm_source_caps rm_source_caps_of(const rm_source_spec *spec)
{
    const rm_source_kind_row *row = hw_source_kind_of(spec->kind);
    rm_source_caps caps = row ? row->caps : (rm_source_caps){0};
    caps.replay = caps.replay || spec->fast;
    caps.commands = row && row->ops->handshake &&
                    hw_source_protocol_of(spec)->commands;
    return caps;
}

bool rm_source_hotplug_concerns(const rm_source_spec *spec, uint16_t vid,
                                uint16_t pid)
{
    const rm_source_kind_row *row = hw_source_kind_of(spec->kind);
    if (!row || !row->caps.hotplug)
        return false;
    return !row->hotplug_matches || row->hotplug_matches(spec, vid, pid);
}

rm_status rm_source_check(const rm_source_spec *spec, rm_error *err)
{
    const rm_source_kind_row *row = hw_source_kind_of(spec->kind);
    if (!row)
        return rm_error_set(err, RM_ERR_ARG, "unknown source kind %u",
                            spec->kind);
    return row->check ? row->check(spec, err) : RM_OK;
}

/* Whether the comma-separated key=value list sets key. */
static bool options_set(const char *options, const char *key)
{
    size_t len = strlen(key);
    for (const char *at = options; *at; at += strcspn(at, ",")) {
        at += *at == ',';
        if (strncmp(at, key, len) == 0 && at[len] == '=')
            return true;
    }
    return false;
}

rm_status rm_source_sim_default(rm_source_spec *spec, const char *key,
                                const char *value, rm_error *err)
{
    if (spec->kind != RM_SOURCE_SIM || options_set(spec->sim_options, key))
        return RM_OK;
    size_t used = strlen(spec->sim_options);
    int n = snprintf(spec->sim_options + used, sizeof spec->sim_options - used,
                     "%s%s=%s", used ? "," : "", key, value);
    if (n < 0 || (size_t)n >= sizeof spec->sim_options - used) {
        spec->sim_options[used] = '\0';
        return rm_error_set(err, RM_ERR_ARG, "sim:%s: too long to add %s=%s",
                            spec->sim_options, key, value);
    }
    return RM_OK;
}
