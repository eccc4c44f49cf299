/*
 * Sources: parsing source names, the table of operations per kind, and
 * the part every kind shares: identify the device, decode its bytes (binary
 * protocol or a text profile), pace replays, turn sequence gaps and
 * unplugs into gap items.
 */
#include "source_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/** Identify handshake (docs/DEVICES.md): answer within 500 ms, 3 tries. */
#define IDENTIFY_TIMEOUT_MS 500
#define IDENTIFY_TRIES 3
/** Bytes read from a transport at a time: a few frames of a fast device. */
#define RX_CHUNK 4096
/** Baud rates a serial line can be set to (POSIX B50 .. B4000000). */
#define BAUD_MIN 50u
#define BAUD_MAX 4000000u

struct rm_source {
    rm_source_spec spec;
    const rm_source_ops *ops;
    void *io;                    /**< the transport's state */
    char where[256];             /**< the port opened, for messages */
    bool text_mode;              /**< a profile maps text lines to samples */
    rm_profile profile;
    rm_decoder decoder;
    rm_text_decoder text;
    rm_decoder_stats stats;      /**< decoder figures, text mode mapped in,
                                      over every connection */
    rm_decoder_stats earlier;    /**< the same up to the last reconnect */
    rm_device_info info;
    bool info_pending;           /**< INFO not yet delivered as an item */
    uint16_t tx_seq;
    uint32_t rate_hz;            /**< last SET_RATE, re-sent on reopen */
    uint8_t rx[RX_CHUNK];
    size_t rx_pos, rx_len;
    rm_frame frame;              /**< decoded, not yet delivered */
    bool frame_pending;
    rm_gap gap;                  /**< a gap to deliver before the frame */
    bool gap_pending;
    uint64_t frames_lost_seen;   /**< decoder frames_lost already reported */
    uint64_t last_sample_us;
    bool have_last_sample;
    uint8_t last_batch;          /**< samples per frame, for gap estimates */
    bool unplugged;              /**< lost; the next sample closes a gap */
    uint64_t last_sample_mono_us;/**< host time the last sample arrived */
    uint64_t time_offset_us;     /**< added to device times: keeps them
                                      rising across resets and replugs */
    bool rebase_pending;         /**< the device clock may have restarted */
};

/* ------------------------------------------------------------------------ */
/* Source names                                                             */
/* ------------------------------------------------------------------------ */

typedef struct source_prefix {
    const char *prefix;
    rm_source_kind kind;
} source_prefix;

static const source_prefix prefixes[] = {
    {"serial:", RM_SOURCE_SERIAL}, {"usb:", RM_SOURCE_USB},
    {"tty:", RM_SOURCE_TTY},       {"file:", RM_SOURCE_FILE},
    {"sim:", RM_SOURCE_SIM},
};

static const char names_help[] =
    "expected auto, serial:PATH[@BAUD], usb:VID:PID[:SERIAL], tty:PATH[@BAUD], "
    "file:PATH, sim:[key=value,...] or -";

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
    if (rm_hex16_parse(s, len, out))
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

static rm_status parse_body(rm_source_kind kind, const char *body,
                            rm_source_spec *spec, const char *text,
                            rm_error *err)
{
    switch (kind) {
    case RM_SOURCE_SERIAL:
    case RM_SOURCE_TTY:
        return parse_device_path(body, spec, text, err);
    case RM_SOURCE_USB:
        return parse_usb(body, spec, text, err);
    case RM_SOURCE_FILE:
        if (!*body)
            return rm_error_set(err, RM_ERR_ARG,
                                "source '%s': the file name is empty", text);
        return copy_part(spec->path, sizeof spec->path, body, strlen(body),
                         text, "the file name", err);
    case RM_SOURCE_SIM:
        return copy_part(spec->sim_options, sizeof spec->sim_options, body,
                         strlen(body), text, "the simulator options", err);
    case RM_SOURCE_AUTO:
    case RM_SOURCE_STDIN:
        break;
    }
    return RM_OK;
}

/** One "?option": fast or profile=PATH. */
static rm_status parse_option(const char *opt, size_t len,
                              rm_source_spec *spec, const char *text,
                              rm_error *err)
{
    static const char profile_key[] = "profile=";
    size_t key_len = sizeof profile_key - 1;
    if (len == 4 && !strncmp(opt, "fast", 4)) {
        spec->fast = true;
        return RM_OK;
    }
    if (len > key_len && !strncmp(opt, profile_key, key_len))
        return copy_part(spec->profile_path, sizeof spec->profile_path,
                         opt + key_len, len - key_len, text,
                         "the profile path", err);
    return rm_error_set(err, RM_ERR_ARG,
                        "source '%s': unknown option '%.*s' after '?' "
                        "(expected fast or profile=PATH)",
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

static const source_prefix *find_prefix(const char *text)
{
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(text, prefixes[i].prefix, strlen(prefixes[i].prefix)))
            return &prefixes[i];
    return NULL;
}

static rm_status parse_kind(const char *name, rm_source_spec *spec,
                            const char *text, rm_error *err)
{
    if (!strcmp(name, "auto")) {
        spec->kind = RM_SOURCE_AUTO;
        return RM_OK;
    }
    if (!strcmp(name, "-")) {
        spec->kind = RM_SOURCE_STDIN;
        return RM_OK;
    }
    const source_prefix *p = find_prefix(name);
    if (p) {
        spec->kind = (uint8_t)p->kind;
        return parse_body(p->kind, name + strlen(p->prefix), spec, text, err);
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

static const char *kind_prefix(rm_source_kind kind)
{
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (prefixes[i].kind == kind)
            return prefixes[i].prefix;
    return "";
}

static void format_body(const rm_source_spec *spec, char *out, size_t cap)
{
    switch ((rm_source_kind)spec->kind) {
    case RM_SOURCE_AUTO:
        snprintf(out, cap, "auto");
        break;
    case RM_SOURCE_STDIN:
        snprintf(out, cap, "-");
        break;
    case RM_SOURCE_SERIAL:
    case RM_SOURCE_TTY:
        if (spec->baud)
            snprintf(out, cap, "%s%s@%u", kind_prefix(spec->kind), spec->path,
                     spec->baud);
        else
            snprintf(out, cap, "%s%s", kind_prefix(spec->kind), spec->path);
        break;
    case RM_SOURCE_USB:
        snprintf(out, cap, "usb:%04x:%04x%s%s", spec->vid, spec->pid,
                 spec->serial[0] ? ":" : "", spec->serial);
        break;
    case RM_SOURCE_FILE:
        snprintf(out, cap, "file:%s", spec->path);
        break;
    case RM_SOURCE_SIM:
        snprintf(out, cap, "sim:%s", spec->sim_options);
        break;
    }
}

void rm_source_format(const rm_source_spec *spec, char *out, size_t cap)
{
    if (cap == 0)
        return;
    format_body(spec, out, cap);
    size_t len = strlen(out);
    const char *sep = "?";
    if (spec->fast && len < cap) {
        snprintf(out + len, cap - len, "%sfast", sep);
        sep = ",";
        len = strlen(out);
    }
    if (spec->profile_path[0] && len < cap)
        snprintf(out + len, cap - len, "%sprofile=%s", sep,
                 spec->profile_path);
}

/* ------------------------------------------------------------------------ */
/* Opening: resolve, connect the transport, identify                        */
/* ------------------------------------------------------------------------ */

static const rm_source_ops *ops_for(rm_source_kind kind)
{
    switch (kind) {
    case RM_SOURCE_AUTO:
    case RM_SOURCE_USB:
    case RM_SOURCE_SERIAL:
        return &rm_source_serial_ops;
    case RM_SOURCE_TTY:
        return &rm_source_tty_ops;
    case RM_SOURCE_FILE:
        return &rm_source_file_ops;
    case RM_SOURCE_STDIN:
        return &rm_source_stdin_ops;
    case RM_SOURCE_SIM:
        return &rm_source_sim_ops;
    }
    return NULL;
}

/** The spec the transport opens: usb: and auto become a serial path. */
static rm_status resolve_spec(const rm_source_spec *spec,
                              rm_source_spec *resolved, rm_error *err)
{
    *resolved = *spec;
    if (spec->kind == RM_SOURCE_USB)
        return rm_ports_find_usb(spec->vid, spec->pid, spec->serial,
                                 resolved->path, sizeof resolved->path, err);
    if (spec->kind == RM_SOURCE_AUTO)
        return rm_ports_find_roller(resolved->path, sizeof resolved->path,
                                    err);
    return RM_OK;
}

static rm_status send_command(rm_source *src, rm_frame_type cmd,
                              uint32_t arg, rm_error *err)
{
    if (!src->ops->write)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: this source takes no commands", src->where);
    rm_frame f;
    memset(&f, 0, sizeof f);
    f.type = (uint8_t)cmd;
    f.seq = src->tx_seq++;
    f.u.rate_hz = arg;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    size_t n = rm_frame_encode(&f, wire, sizeof wire);
    if (n == 0)
        return rm_error_set(err, RM_ERR_ARG, "cannot encode command %s",
                            rm_frame_type_name(cmd));
    return src->ops->write(src->io, wire, n, err);
}

/** Read more bytes into rx when it is empty; *got = 0: nothing there. */
static rm_status fill_rx(rm_source *src, size_t *got, rm_error *err)
{
    *got = src->rx_len - src->rx_pos;
    if (*got)
        return RM_OK;
    src->rx_pos = src->rx_len = 0;
    rm_status st = src->ops->read(src->io, src->rx, sizeof src->rx, got, err);
    if (st == RM_OK)
        src->rx_len = *got;
    return st;
}

static void add_stats(rm_decoder_stats *sum, const rm_decoder_stats *a,
                      const rm_decoder_stats *b)
{
    sum->bytes = a->bytes + b->bytes;
    sum->frames_ok = a->frames_ok + b->frames_ok;
    sum->crc_errors = a->crc_errors + b->crc_errors;
    sum->malformed = a->malformed + b->malformed;
    sum->oversized = a->oversized + b->oversized;
    sum->seq_gaps = a->seq_gaps + b->seq_gaps;
    sum->frames_lost = a->frames_lost + b->frames_lost;
    sum->bytes_discarded = a->bytes_discarded + b->bytes_discarded;
}

/** Decode buffered bytes until one binary frame is complete. */
static bool decode_frame(rm_source *src)
{
    bool have = false;
    while (!have && src->rx_pos < src->rx_len) {
        src->rx_pos += rm_decoder_push(&src->decoder, src->rx + src->rx_pos,
                                       src->rx_len - src->rx_pos, &src->frame,
                                       &have);
    }
    add_stats(&src->stats, &src->earlier, &src->decoder.stats);
    return have;
}

static uint64_t deadline_left_ms(uint64_t deadline_us)
{
    uint64_t now = rm_monotonic_us();
    return now >= deadline_us ? 0 : (deadline_us - now + 999) / 1000;
}

/** Wait for an INFO frame until the deadline; other frames are dropped. */
static rm_status await_info(rm_source *src, uint64_t deadline_us,
                            rm_error *err)
{
    for (;;) {
        size_t got;
        rm_status st = fill_rx(src, &got, err);
        if (st != RM_OK)
            return st;
        while (decode_frame(src))
            if (src->frame.type == RM_FRAME_INFO) {
                src->info = src->frame.u.info;
                return RM_OK;
            }
        uint64_t left = deadline_left_ms(deadline_us);
        if (left == 0)
            return RM_ERR_TIMEOUT;
        st = src->ops->wait(src->io, (int)left, err);
        if (st != RM_OK && st != RM_ERR_TIMEOUT)
            return st;
    }
}

static rm_status identify(rm_source *src, rm_error *err)
{
    for (int attempt = 0; attempt < IDENTIFY_TRIES; attempt++) {
        rm_status st = send_command(src, RM_CMD_IDENTIFY, 0, err);
        if (st != RM_OK)
            return st;
        uint64_t deadline =
            rm_monotonic_us() + (uint64_t)IDENTIFY_TIMEOUT_MS * 1000u;
        st = await_info(src, deadline, err);
        if (st != RM_ERR_TIMEOUT)
            return st;
    }
    return rm_error_set(err, RM_ERR_TIMEOUT,
                        "%s: no answer to identify (%d tries, %d ms each); "
                        "is it a rollmap device? Text-mode devices need "
                        "?profile=PATH", src->where, IDENTIFY_TRIES,
                        IDENTIFY_TIMEOUT_MS);
}

/** Identify, then re-send the rate last set and START streaming. */
static rm_status start_device(rm_source *src, rm_error *err)
{
    rm_status st = identify(src, err);
    if (st == RM_OK && src->rate_hz)
        st = send_command(src, RM_CMD_SET_RATE, src->rate_hz, err);
    if (st == RM_OK)
        st = send_command(src, RM_CMD_START, 0, err);
    return st;
}

static rm_status load_profile(rm_source *src, rm_error *err)
{
    rm_status st = rm_profile_load(&src->profile, src->spec.profile_path, err);
    if (st != RM_OK)
        return st;
    if (src->profile.column_count == 0)
        return rm_error_set(err, RM_ERR_ARG, "%s: the profile has no [text] "
                            "section: it describes CSV files for rollmap import, "
                            "not a device's lines", src->spec.profile_path);
    src->text_mode = true;
    src->info = src->profile.info;
    if (!src->spec.baud && src->profile.baud)
        src->spec.baud = src->profile.baud;
    return RM_OK;
}

static rm_status open_transport(rm_source *src, rm_error *err)
{
    if (src->io && src->ops->resume)
        return src->ops->resume(src->io, err);
    if (src->io) {
        src->ops->close(src->io);
        src->io = NULL;
    }
    rm_source_spec resolved;
    rm_status st = resolve_spec(&src->spec, &resolved, err);
    if (st != RM_OK)
        return st;
    if (resolved.path[0])
        snprintf(src->where, sizeof src->where, "%s", resolved.path);
    else
        rm_source_format(&src->spec, src->where, sizeof src->where);
    return src->ops->open(&src->io, &resolved, err);
}

/** Open the transport and bring the device up (identify + START). */
static rm_status connect(rm_source *src, rm_error *err)
{
    rm_status st = open_transport(src, err);
    if (st != RM_OK)
        return st;
    /* Half a frame or line from before a reconnect is garbage now. */
    src->rx_pos = src->rx_len = 0;
    src->earlier = src->stats;
    rm_decoder_init(&src->decoder);
    if (src->text_mode)
        rm_text_decoder_init(&src->text, &src->profile);
    if (src->ops->handshake && !src->text_mode)
        st = start_device(src, err);
    if (st != RM_OK && !src->ops->resume) {
        src->ops->close(src->io);
        src->io = NULL;
    }
    if (st != RM_OK)
        return st;
    /* Replays and pipes carry their INFO frame in the stream itself. */
    src->info_pending = src->text_mode || src->ops->handshake;
    return RM_OK;
}

rm_status rm_source_open(rm_source **out, const rm_source_spec *spec,
                         rm_error *err)
{
    *out = NULL;
    rm_source *src = calloc(1, sizeof *src);
    if (!src)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory opening a source");
    src->spec = *spec;
    src->ops = ops_for((rm_source_kind)spec->kind);
    rm_status st = src->ops ? RM_OK
                            : rm_error_set(err, RM_ERR_ARG,
                                           "unknown source kind %u",
                                           spec->kind);
    if (st == RM_OK && spec->profile_path[0])
        st = load_profile(src, err);
    if (st == RM_OK)
        st = connect(src, err);
    if (st != RM_OK) {
        if (src->io)
            src->ops->close(src->io);
        free(src);
        return st;
    }
    *out = src;
    return RM_OK;
}

rm_status rm_source_reopen(rm_source *src, rm_error *err)
{
    rm_status st = connect(src, err);
    if (st == RM_OK) {
        src->unplugged = src->have_last_sample;
        src->rebase_pending = true;
    }
    return st;
}

void rm_source_close(rm_source *src)
{
    if (!src)
        return;
    if (src->io)
        src->ops->close(src->io);
    free(src);
}

/* ------------------------------------------------------------------------ */
/* Reading items                                                            */
/* ------------------------------------------------------------------------ */

static void set_gap(rm_source *src, uint64_t end_us, uint64_t lost,
                    rm_gap_reason reason)
{
    src->gap.start_us = src->last_sample_us;
    src->gap.end_us = end_us > src->last_sample_us ? end_us
                                                   : src->last_sample_us;
    src->gap.lost_samples = lost;
    src->gap.reason = (uint8_t)reason;
    src->gap_pending = true;
}

/** Before a batch of samples: was anything lost since the last one? */
static void check_gap(rm_source *src, uint64_t first_us)
{
    uint64_t lost_frames = src->stats.frames_lost - src->frames_lost_seen;
    src->frames_lost_seen = src->stats.frames_lost;
    if (!src->have_last_sample)
        return;
    if (src->unplugged)
        set_gap(src, first_us, 0, RM_GAP_UNPLUGGED);
    else if (lost_frames)
        set_gap(src, first_us, lost_frames * src->last_batch,
                RM_GAP_LOST_FRAMES);
    src->unplugged = false;
}

static void note_samples(rm_source *src, const rm_sample *s, size_t count)
{
    if (count == 0)
        return;
    check_gap(src, s[0].t_us);
    src->last_sample_us = s[count - 1].t_us;
    src->have_last_sample = true;
    src->last_sample_mono_us = rm_monotonic_us();
    src->last_batch = (uint8_t)count;
}

static void event_from_device(const rm_frame *f, rm_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->t_us = f->t_us;
    ev->value = f->u.event.value;
    switch ((rm_device_event)f->u.event.kind) {
    case RM_DEV_EVENT_BUTTON:
        ev->kind = RM_EVENT_BUTTON;
        break;
    case RM_DEV_EVENT_TARE_DONE:
        ev->kind = RM_EVENT_TARE;
        break;
    case RM_DEV_EVENT_OVERLOAD:
        ev->kind = RM_EVENT_OVERLOAD;
        break;
    default:
        ev->kind = RM_EVENT_NOTE;
        snprintf(ev->text, sizeof ev->text, "device event %u",
                 f->u.event.kind);
        break;
    }
}

/** Whether two INFOs describe the same device: compared as encoded, so
 *  that only what is on the wire counts. */
static bool same_device(const rm_device_info *a, const rm_device_info *b)
{
    rm_frame fa, fb;
    memset(&fa, 0, sizeof fa);
    memset(&fb, 0, sizeof fb);
    fa.type = fb.type = RM_FRAME_INFO;
    fa.u.info = *a;
    fb.u.info = *b;
    uint8_t wa[RM_FRAME_MAX_WIRE], wb[RM_FRAME_MAX_WIRE];
    size_t na = rm_frame_encode(&fa, wa, sizeof wa);
    size_t nb = rm_frame_encode(&fb, wb, sizeof wb);
    return na && na == nb && !memcmp(wa, wb, na);
}

/** Turn the pending frame into an item; false for frames that are not one
 *  (ACK). A gap found before samples is delivered first. */
static bool frame_to_item(rm_source *src, rm_source_output *out)
{
    const rm_frame *f = &src->frame;
    switch ((rm_frame_type)f->type) {
    case RM_FRAME_INFO:
        if (same_device(&src->info, &f->u.info))
            return false; /* the answer to identify after the power-up INFO */
        src->info = f->u.info;
        out->item = RM_ITEM_INFO;
        out->info = src->info;
        return true;
    case RM_FRAME_SAMPLES:
        out->item = RM_ITEM_SAMPLES;
        out->count = f->u.samples.count;
        memcpy(out->samples, f->u.samples.samples,
               out->count * sizeof out->samples[0]);
        return true;
    case RM_FRAME_EVENT:
        if (f->u.event.kind == RM_DEV_EVENT_RESET) {
            if (!src->have_last_sample)
                return false; /* the power-up of a stream: nothing lost */
            out->item = RM_ITEM_GAP;
            out->gap = (rm_gap){src->last_sample_us, src->last_sample_us, 0,
                                RM_GAP_DEVICE_RESET};
            return true;
        }
        out->item = RM_ITEM_EVENT;
        event_from_device(f, &out->event);
        return true;
    case RM_FRAME_STATUS:
    case RM_FRAME_ERROR:
        out->item = RM_ITEM_STATUS;
        out->status = f->u.status;
        return true;
    default:
        return false;
    }
}

static bool is_reset(const rm_frame *f)
{
    return f->type == RM_FRAME_EVENT && f->u.event.kind == RM_DEV_EVENT_RESET;
}

/** A device that reset forgot its rate and stopped: tell it again. */
static void resend_settings(rm_source *src)
{
    if (!src->ops->handshake || src->text_mode)
        return;
    if (src->rate_hz)
        send_command(src, RM_CMD_SET_RATE, src->rate_hz, NULL);
    send_command(src, RM_CMD_START, 0, NULL);
}

static uint64_t frame_time(const rm_frame *f)
{
    if (f->type == RM_FRAME_SAMPLES && f->u.samples.count)
        return f->u.samples.samples[0].t_us;
    return f->t_us;
}

/** Deliver the pending gap or frame if its time has come. */
static rm_status deliver_pending(rm_source *src, rm_source_output *out)
{
    uint64_t wait_us;
    if (src->ops->due && !src->spec.fast &&
        !src->ops->due(src->io, frame_time(&src->frame), &wait_us))
        return RM_ERR_AGAIN;
    if (src->gap_pending) {
        src->gap_pending = false;
        out->item = RM_ITEM_GAP;
        out->gap = src->gap;
        return RM_OK;
    }
    src->frame_pending = false;
    return frame_to_item(src, out) ? RM_OK : RM_ERR_AGAIN;
}

/** A device clock that restarted (reset, replug) continues from where the
 *  last sample left off plus the real time in between. */
static void rebase_time(rm_source *src)
{
    rm_frame *f = &src->frame;
    bool samples = f->type == RM_FRAME_SAMPLES && f->u.samples.count;
    if (src->rebase_pending && samples && src->have_last_sample &&
        frame_time(f) + src->time_offset_us <= src->last_sample_us) {
        uint64_t away = rm_monotonic_us() - src->last_sample_mono_us;
        src->time_offset_us = src->last_sample_us + away - frame_time(f);
    }
    if (samples)
        src->rebase_pending = false;
    f->t_us += src->time_offset_us;
    for (unsigned i = 0; samples && i < f->u.samples.count; i++)
        f->u.samples.samples[i].t_us += src->time_offset_us;
}

static void accept_frame(rm_source *src)
{
    if (is_reset(&src->frame)) {
        src->rebase_pending = true;
        resend_settings(src);
    }
    rebase_time(src);
    src->frame_pending = true;
    if (src->frame.type == RM_FRAME_SAMPLES)
        note_samples(src, src->frame.u.samples.samples,
                     src->frame.u.samples.count);
}

/** Text mode: decode one line into a one-sample frame. */
static bool decode_text(rm_source *src)
{
    bool have = false;
    rm_frame *f = &src->frame;
    while (!have && src->rx_pos < src->rx_len)
        src->rx_pos += rm_text_decoder_push(&src->text, src->rx + src->rx_pos,
                                            src->rx_len - src->rx_pos,
                                            &f->u.samples.samples[0], &have);
    const rm_text_stats *ts = &src->text.stats;
    src->stats.frames_ok = src->earlier.frames_ok + ts->lines_ok;
    src->stats.malformed = src->earlier.malformed + ts->lines_bad;
    src->stats.oversized = src->earlier.oversized + ts->lines_too_long;
    if (have) {
        f->type = RM_FRAME_SAMPLES;
        f->t_us = f->u.samples.samples[0].t_us;
        f->u.samples.count = 1;
        f->u.samples.channel_count = src->info.channel_count;
    }
    return have;
}

static rm_status decode_next(rm_source *src, rm_error *err)
{
    for (;;) {
        size_t got;
        rm_status st = fill_rx(src, &got, err);
        if (st != RM_OK)
            return st;
        if (got == 0)
            return RM_ERR_AGAIN;
        if (src->text_mode ? decode_text(src) : decode_frame(src)) {
            accept_frame(src);
            return RM_OK;
        }
    }
}

rm_status rm_source_next(rm_source *src, rm_source_output *out,
                         rm_error *err)
{
    out->item = RM_ITEM_NONE;
    out->count = 0;
    if (src->info_pending) {
        src->info_pending = false;
        out->item = RM_ITEM_INFO;
        out->info = src->info;
        return RM_OK;
    }
    for (;;) {
        if (!src->frame_pending) {
            rm_status st = decode_next(src, err);
            if (st != RM_OK)
                return st;
        }
        rm_status st = deliver_pending(src, out);
        if (st != RM_ERR_AGAIN || src->frame_pending)
            return st;
    }
}

rm_status rm_source_wait(rm_source *src, int timeout_ms, rm_error *err)
{
    uint64_t wait_us;
    if (src->info_pending || src->rx_pos < src->rx_len)
        return RM_OK;
    if (src->frame_pending) {
        if (!src->ops->due || src->spec.fast ||
            src->ops->due(src->io, frame_time(&src->frame), &wait_us))
            return RM_OK;
        uint64_t limit = timeout_ms < 0 ? UINT64_MAX
                                        : (uint64_t)timeout_ms * 1000u;
        uint64_t sleep_us = wait_us < limit ? wait_us : limit;
        struct timespec ts = {(time_t)(sleep_us / 1000000u),
                              (long)(sleep_us % 1000000u) * 1000};
        nanosleep(&ts, NULL);
        return RM_OK;
    }
    return src->ops->wait(src->io, timeout_ms, err);
}

int rm_source_fd(const rm_source *src)
{
    return src->io ? src->ops->fd(src->io) : -1;
}

const rm_device_info *rm_source_info(const rm_source *src)
{
    return &src->info;
}

const rm_decoder_stats *rm_source_stats(const rm_source *src)
{
    return &src->stats;
}

rm_status rm_source_command(rm_source *src, rm_frame_type cmd, uint32_t arg,
                            rm_error *err)
{
    if (src->text_mode)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: text-mode devices take no commands",
                            src->where);
    if (cmd == RM_CMD_SET_RATE)
        src->rate_hz = arg;
    return send_command(src, cmd, arg, err);
}
