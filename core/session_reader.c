/*
 * Session file reader (docs/FORMAT.md). Opening reads the header and then
 * either the closing index or, when the file was not closed cleanly, every
 * block header; sample payloads are read only when samples are (their CRC
 * is checked then, or by rm_session_verify). Damaged stretches are skipped
 * by searching for the next valid block header and reported in the
 * integrity record.
 */
#include "session_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESYNC_CHUNK 65536 /* bytes searched per read for a block header */
#define READ_AHEAD (256u << 10) /* bytes read at once for sample payloads: about 50 blocks */

/* ------------------------------------------------------------------------ */
/* Bytes and arrays                                                         */
/* ------------------------------------------------------------------------ */

uint16_t rm_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t rm_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t rm_get_le64(const uint8_t *p)
{
    return (uint64_t)rm_get_le32(p) | (uint64_t)rm_get_le32(p + 4) << 32;
}

/* Room for `want` items at once, where their number is known. */
static bool array_reserve(void **items, size_t *cap, size_t want, size_t item)
{
    if (want <= *cap)
        return true;
    void *grown = want <= SIZE_MAX / item ? realloc(*items, want * item) : NULL;
    if (!grown)
        return false;
    *items = grown;
    *cap = want;
    return true;
}

bool core_array_grow(void **items, size_t count, size_t *cap, size_t item)
{
    return count < *cap ||
           array_reserve(items, cap, *cap ? *cap * 2 : 16, item);
}

/* ------------------------------------------------------------------------ */
/* Payload decoders                                                         */
/* ------------------------------------------------------------------------ */

bool core_block_header_decode(const uint8_t in[RM_BLOCK_HEADER_SIZE],
                              uint64_t offset, rm_block_entry *e)
{
    if (rm_get_le32(in) != RM_BLOCK_MAGIC ||
        rm_get_le32(in + 44) != rm_crc32c(0, in, 44))
        return false;
    e->offset = offset;
    e->type = in[4];
    e->payload_length = rm_get_le32(in + 8);
    e->sample_count = rm_get_le32(in + 12);
    e->first_sample = rm_get_le64(in + 16);
    e->t_first_us = rm_get_le64(in + 24);
    e->t_last_us = rm_get_le64(in + 32);
    e->payload_crc = rm_get_le32(in + 40);
    return true;
}

typedef struct cursor {
    const uint8_t *p, *end;
    bool ok;
} cursor;

/* Byte by byte, each checked against the end. */
static uint64_t get_varint_near_end(cursor *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p == c->end) {
            c->ok = false;
            return 0;
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->ok = false; /* more than 10 bytes */
    return 0;
}

/* Most varints of a sample block are one to three bytes and far from its
 * end, where no varint (at most 10 bytes) can run past it: those are read
 * without an end check per byte, inline. */
static inline uint64_t get_varint(cursor *c)
{
    if (c->end - c->p < 10)
        return get_varint_near_end(c);
    const uint8_t *p = c->p;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t b = p[i];
        v |= (b & 0x7F) << (7 * i);
        if (b < 0x80) {
            c->p = p + i + 1;
            return v;
        }
    }
    c->ok = false; /* more than 10 bytes */
    return 0;
}

static inline int64_t get_zigzag(cursor *c)
{
    uint64_t v = get_varint(c);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static bool decode_varint_samples(const uint8_t *payload, const rm_block_entry *e,
                                  const core_sample_sink *out)
{
    if (e->payload_length < RM_SAMPLES_PREFIX_SIZE || e->sample_count == 0)
        return false;
    uint32_t period = rm_get_le32(payload);
    unsigned channels = payload[4];
    if (channels > RM_MAX_CHANNELS)
        return false;
    cursor c = {payload + RM_SAMPLES_PREFIX_SIZE, payload + e->payload_length, true};
    uint64_t t = e->t_first_us - period;
    uint32_t encoder = 0;
    uint32_t counts[RM_MAX_CHANNELS] = {0};
    for (uint32_t i = 0; i < e->sample_count && c.ok; i++) {
        t += period + (uint64_t)get_zigzag(&c);
        if (i == 0 && t != e->t_first_us)
            return false;
        uint16_t flags = (uint16_t)get_varint(&c);
        encoder += (uint32_t)get_zigzag(&c);
        memcpy(out->t_us + i * out->t_stride, &t, sizeof t);
        memcpy(out->flags + i * out->flags_stride, &flags, sizeof flags);
        memcpy(out->encoder + i * out->int32_stride, &encoder, sizeof encoder);
        for (unsigned ch = 0; ch < channels; ch++) {
            counts[ch] += (uint32_t)get_zigzag(&c);
            if (ch < out->channels)
                memcpy(out->counts[ch] + i * out->int32_stride, &counts[ch],
                       sizeof counts[ch]);
        }
    }
    core_sink_zero_channels(out, channels, e->sample_count);
    return c.ok && c.p == c.end && t == e->t_last_us;
}

bool core_samples_decode(const uint8_t *payload, const rm_block_entry *e,
                         uint32_t version, const core_sample_sink *out)
{
    return version >= RM_FORMAT_VERSION_PACKED
               ? core_samples_decode_packed(payload, e, out)
               : decode_varint_samples(payload, e, out);
}

/* core_samples_decode into rm_samples. */
static bool decode_into_samples(const uint8_t *payload, const rm_block_entry *e,
                                uint32_t version, rm_sample *out)
{
    core_sample_sink sink = core_sink_samples(out, e->sample_count);
    return core_samples_decode(payload, e, version, &sink);
}

bool core_gap_decode(const uint8_t *payload, size_t len, rm_gap *gap)
{
    if (len != 25)
        return false;
    gap->start_us = rm_get_le64(payload);
    gap->end_us = rm_get_le64(payload + 8);
    gap->lost_samples = rm_get_le64(payload + 16);
    gap->reason = payload[24];
    return true;
}

bool core_event_decode(const uint8_t *payload, size_t len, rm_event *ev)
{
    if (len < 15)
        return false;
    size_t text_len = rm_get_le16(payload + 13);
    if (text_len >= sizeof ev->text || len != 15 + text_len)
        return false;
    memset(ev, 0, sizeof *ev);
    ev->t_us = rm_get_le64(payload);
    ev->kind = payload[8];
    ev->value = (int32_t)rm_get_le32(payload + 9);
    memcpy(ev->text, payload + 15, text_len);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Header JSON                                                              */
/* ------------------------------------------------------------------------ */

static void copy_string(char *dst, size_t size, const rm_json *v)
{
    const char *s = rm_json_as_string(v, NULL);
    if (s)
        snprintf(dst, size, "%s", s);
}

/* A JSON number as an integer in [lo, hi]; fallback when absent or not. */
static int64_t json_integer(const rm_json *v, int64_t lo, int64_t hi,
                            int64_t fallback)
{
    double d = rm_json_as_number(v, (double)fallback);
    return d >= (double)lo && d <= (double)hi ? (int64_t)d : fallback;
}

static float json_float(const rm_json *v)
{
    double d = rm_json_as_number(v, 0);
    return d >= -FLT_MAX && d <= FLT_MAX ? (float)d : 0.0f;
}

static void read_calibration(const rm_json *obj, rm_calibration *cal)
{
    const rm_json *coef = rm_json_get(obj, "coef");
    for (size_t i = 0; i < 4; i++)
        cal->coef[i] = rm_json_as_number(rm_json_at(coef, i), 0);
    cal->tare_counts = rm_json_as_number(rm_json_get(obj, "tare_counts"), 0);
    cal->date_unix = json_integer(rm_json_get(obj, "date_unix"), INT64_MIN / 2,
                                  INT64_MAX / 2, 0);
    copy_string(cal->origin, sizeof cal->origin, rm_json_get(obj, "origin"));
}

static void read_channel(const rm_json *obj, rm_channel_info *ch)
{
    const char *kind = rm_json_as_string(rm_json_get(obj, "kind"), "");
    ch->kind = strcmp(kind, "pressure-cell") ? RM_CHANNEL_LOAD_CELL
                                             : RM_CHANNEL_PRESSURE_CELL;
    ch->position_mm = json_float(rm_json_get(obj, "position_mm"));
    ch->area_mm2 = json_float(rm_json_get(obj, "area_mm2"));
    ch->gain_n_per_count = json_float(rm_json_get(obj, "gain_n_per_count"));
    ch->offset_counts = json_float(rm_json_get(obj, "offset_counts"));
    read_calibration(rm_json_get(obj, "calibration"), &ch->cal);
}

static rm_status read_device_kind(const rm_json *obj, rm_device_info *info,
                                  const char *where, rm_error *err)
{
    const char *name = rm_json_as_string(rm_json_get(obj, "kind"), NULL);
    rm_device_kind kind;
    if (!name)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: device.kind is missing "
                            "or not a string", where);
    if (rm_device_kind_parse(name, &kind) != RM_OK)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: device.kind '%s' is not "
                            "roller, ball or probe", where, name);
    info->device_kind = (uint8_t)kind;
    return RM_OK;
}

rm_status core_json_read_device(const rm_json *obj, rm_device_info *info,
                                const char *where, rm_error *err)
{
    if (rm_json_type_of(obj) != RM_JSON_OBJECT)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: \"device\" is missing or "
                            "not an object", where);
    const rm_json *channels = rm_json_get(obj, "channels");
    if (rm_json_length(channels) > RM_MAX_CHANNELS)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: device.channels has %zu "
                            "entries, at most %d are supported", where,
                            rm_json_length(channels), RM_MAX_CHANNELS);
    memset(info, 0, sizeof *info);
    copy_string(info->model, sizeof info->model, rm_json_get(obj, "model"));
    copy_string(info->firmware, sizeof info->firmware, rm_json_get(obj, "firmware"));
    copy_string(info->serial, sizeof info->serial, rm_json_get(obj, "serial"));
    info->sample_rate_hz = (uint32_t)json_integer(rm_json_get(obj, "sample_rate_hz"),
                                                  0, 1000000, 0);
    info->encoder_counts_per_turn = (uint32_t)json_integer(
        rm_json_get(obj, "encoder_counts_per_turn"), 0, UINT32_MAX, 0);
    info->roller_diameter_mm = json_float(rm_json_get(obj, "roller_diameter_mm"));
    info->roller_width_mm = json_float(rm_json_get(obj, "roller_width_mm"));
    info->distal_direction = (int8_t)json_integer(rm_json_get(obj, "distal_direction"),
                                                  -1, 1, 1);
    info->usb_vid = (uint16_t)json_integer(rm_json_get(obj, "usb_vid"), 0, 0xFFFF, 0);
    info->usb_pid = (uint16_t)json_integer(rm_json_get(obj, "usb_pid"), 0, 0xFFFF, 0);
    info->channel_count = (uint8_t)rm_json_length(channels);
    for (size_t i = 0; i < info->channel_count; i++)
        read_channel(rm_json_at(channels, i), &info->channels[i]);
    return read_device_kind(obj, info, where, err);
}

/* A link count: a whole number from 0 up to what a double holds exactly. */
static uint64_t json_count(const rm_json *v)
{
    return (uint64_t)json_integer(v, 0, INT64_C(1) << 53, 0);
}

static void read_link_stats(const rm_json *obj, rm_link_stats *link)
{
    link->recorded = true;
    link->frames_ok = json_count(rm_json_get(obj, "frames_ok"));
    link->crc_errors = json_count(rm_json_get(obj, "crc_errors"));
    link->malformed = json_count(rm_json_get(obj, "malformed"));
    link->oversized = json_count(rm_json_get(obj, "oversized"));
    link->frames_lost = json_count(rm_json_get(obj, "frames_lost"));
    link->bytes_discarded = json_count(rm_json_get(obj, "bytes_discarded"));
}

uint64_t rm_link_stats_problems(const rm_link_stats *link)
{
    return link->crc_errors + link->malformed + link->oversized +
           link->frames_lost + link->bytes_discarded;
}

void rm_link_stats_describe(const rm_link_stats *link, char *out, size_t size)
{
    if (!link->recorded) {
        snprintf(out, size, "unknown (not recorded)");
        return;
    }
    if (!rm_link_stats_problems(link)) {
        snprintf(out, size, "clean (%llu frames)", (unsigned long long)link->frames_ok);
        return;
    }
    struct { uint64_t count; const char *what; } parts[] = {
        {link->crc_errors, "CRC errors"},
        {link->malformed, "malformed"},
        {link->oversized, "too long"},
        {link->frames_lost, "lost"},
        {link->bytes_discarded, "B skipped"},
    };
    size_t used = 0;
    out[0] = '\0'; /* short enough for a text report's line */
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && used < size; i++) {
        if (!parts[i].count)
            continue;
        int n = snprintf(out + used, size - used, "%s%llu %s", used ? ", " : "",
                         (unsigned long long)parts[i].count, parts[i].what);
        used += n > 0 ? (size_t)n : 0;
    }
}

void core_json_read_meta(const rm_json *obj, rm_session_meta *meta)
{
    const rm_json *v;
    copy_string(meta->session_id, sizeof meta->session_id, rm_json_get(obj, "session_id"));
    copy_string(meta->client, sizeof meta->client, rm_json_get(obj, "client"));
    copy_string(meta->muscle, sizeof meta->muscle, rm_json_get(obj, "muscle"));
    copy_string(meta->notes, sizeof meta->notes, rm_json_get(obj, "notes"));
    rm_side side;
    if ((v = rm_json_get(obj, "side")) &&
        rm_side_parse(rm_json_as_string(v, ""), &side) == RM_OK)
        meta->side = (uint8_t)side;
    if ((v = rm_json_get(obj, "start_unix_us")))
        meta->start_unix_us = json_integer(v, INT64_MIN / 2, INT64_MAX / 2,
                                           meta->start_unix_us);
    if ((v = rm_json_get(obj, "link")) && rm_json_type_of(v) == RM_JSON_OBJECT)
        read_link_stats(v, &meta->link);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

static bool read_at(const rm_session *s, void *buf, size_t len, uint64_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->fd, (uint8_t *)buf + done, len - done,
                          (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

static rm_status read_error(const rm_session *s, uint64_t offset, rm_error *err)
{
    return rm_error_set(err, RM_ERR_IO, "%s: read at offset %llu failed: %s",
                        s->path, (unsigned long long)offset,
                        errno ? strerror(errno) : "unexpected end of file");
}

static rm_status out_of_memory(const rm_session *s, rm_error *err)
{
    return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", s->path);
}

static rm_status skip_range(rm_session *s, uint64_t offset, uint64_t length,
                            const char *reason, rm_error *err)
{
    if (!core_array_grow((void **)&s->skipped, s->integrity.skipped_count,
                         &s->skipped_cap, sizeof *s->skipped))
        return out_of_memory(s, err);
    rm_skipped_range *r = &s->skipped[s->integrity.skipped_count++];
    r->offset = offset;
    r->length = length;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    s->integrity.skipped = s->skipped;
    s->integrity.blocks_skipped++;
    s->integrity.bytes_skipped += length;
    return RM_OK;
}

static rm_status parse_header_json(rm_session *s, const uint8_t *json,
                                   size_t len, rm_error *err)
{
    rm_json *root = NULL;
    rm_error inner;
    rm_error_clear(&inner);
    rm_status st = rm_json_parse(&root, (const char *)json, len, &inner);
    if (st != RM_OK)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: header JSON at offset %d: %s",
                            s->path, RM_FILE_PREFIX_SIZE, inner.message);
    char where[300];
    snprintf(where, sizeof where, "%s: header", s->path);
    st = core_json_read_device(rm_json_get(root, "device"), &s->info, where, err);
    if (st == RM_OK)
        core_json_read_meta(rm_json_get(root, "session"), &s->meta);
    rm_json_free(root);
    return st;
}

/* One copy of the file header at `offset`: its length into *len. */
static rm_status read_header_copy(rm_session *s, uint64_t offset, uint64_t *len,
                                  rm_error *err)
{
    uint8_t prefix[RM_FILE_PREFIX_SIZE];
    if (s->file_size < offset + RM_FILE_PREFIX_SIZE ||
        !read_at(s, prefix, sizeof prefix, offset) ||
        memcmp(prefix, RM_FILE_MAGIC, RM_FILE_MAGIC_SIZE))
        return rm_error_set(err, RM_ERR_FORMAT, "%s: not a rollmap session file "
                            "(it does not start with the session file magic)",
                            s->path);
    s->version = rm_get_le32(prefix + 8);
    if (s->version < RM_FORMAT_VERSION_OLDEST || s->version > RM_FORMAT_VERSION)
        return rm_error_set(err, RM_ERR_VERSION, "%s: session format version %u "
                            "is not supported (this rollmap reads versions %u to %u)",
                            s->path, s->version, RM_FORMAT_VERSION_OLDEST,
                            RM_FORMAT_VERSION);
    uint32_t json_len = rm_get_le32(prefix + 12);
    if (json_len > RM_HEADER_JSON_MAX)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: header JSON length %u at "
                            "offset %llu exceeds the limit of %u", s->path, json_len,
                            (unsigned long long)offset + 12, RM_HEADER_JSON_MAX);
    *len = RM_FILE_PREFIX_SIZE + (uint64_t)json_len + 4;
    if (s->file_size < offset + *len)
        return rm_error_set(err, RM_ERR_TRUNCATED, "%s: header truncated: the "
                            "file has %llu bytes, the header needs %llu", s->path,
                            (unsigned long long)s->file_size,
                            (unsigned long long)(offset + *len));
    uint8_t *header = malloc(*len);
    if (!header)
        return out_of_memory(s, err);
    rm_status st = RM_OK;
    if (!read_at(s, header, *len, offset))
        st = read_error(s, offset, err);
    else if (rm_get_le32(header + *len - 4) != rm_crc32c(0, header, *len - 4))
        st = rm_error_set(err, RM_ERR_CRC, "%s: header CRC mismatch (bytes "
                          "%llu-%llu)", s->path, (unsigned long long)offset,
                          (unsigned long long)(offset + *len - 1));
    else
        st = parse_header_json(s, header + RM_FILE_PREFIX_SIZE, (size_t)(*len - 20),
                               err);
    free(header);
    return st;
}

/* The first copy is damaged: the second one starts at the next magic that
 * begins an intact version 2 header. Its offset and length, or false. */
static bool find_second_copy(rm_session *s, uint64_t *offset, uint64_t *len)
{
    uint64_t span = 2 * (RM_FILE_PREFIX_SIZE + (uint64_t)RM_HEADER_JSON_MAX + 4);
    size_t n = (size_t)(s->file_size < span ? s->file_size : span);
    if (n <= RM_FILE_MAGIC_SIZE)
        return false; /* too short to hold a copy after offset 0 */
    uint8_t *bytes = malloc(n);
    bool found = false;
    if (bytes && read_at(s, bytes, n, 0)) {
        const uint8_t *p = bytes + 1;
        while (!found && (p = memmem(p, n - (size_t)(p - bytes), RM_FILE_MAGIC,
                                     RM_FILE_MAGIC_SIZE))) {
            rm_error ignored;
            *offset = (uint64_t)(p - bytes);
            found = read_header_copy(s, *offset, len, &ignored) == RM_OK &&
                    s->version >= 2;
            p++;
        }
    }
    free(bytes);
    return found;
}

static rm_status read_file_header(rm_session *s, rm_error *err)
{
    uint64_t len = 0;
    rm_status st = read_header_copy(s, 0, &len, err);
    if (st == RM_OK) {
        uint64_t copies = s->version >= 2 ? 2 : 1;
        /* a torn second copy (a crash while creating) ends the file */
        uint64_t end = copies * len;
        s->header_end = s->good_end = end < s->file_size ? end : s->file_size;
        return RM_OK;
    }
    uint64_t second;
    if (!find_second_copy(s, &second, &len))
        return st; /* what was wrong with the first copy */
    s->header_end = s->good_end = second + len;
    return skip_range(s, 0, second, "damaged header (its second copy is used)", err);
}

static rm_status add_block(rm_session *s, const rm_block_entry *e, rm_error *err)
{
    if (!core_array_grow((void **)&s->blocks, s->block_count, &s->block_cap,
                         sizeof *s->blocks))
        return out_of_memory(s, err);
    s->blocks[s->block_count++] = *e;
    s->integrity.blocks_ok++;
    return RM_OK;
}

static rm_status add_sample_block(rm_session *s, const rm_block_entry *e,
                                  rm_error *err)
{
    if (!core_array_grow((void **)&s->sample_blocks, s->sample_block_count,
                         &s->sample_block_cap, sizeof *s->sample_blocks))
        return out_of_memory(s, err);
    rm_sample_block *b = &s->sample_blocks[s->sample_block_count++];
    memset(b, 0, sizeof *b);
    b->entry = *e;
    b->first = s->sample_count;
    s->sample_count += e->sample_count;
    return add_block(s, e, err);
}

/* Apply a gap, event or metadata payload that passed its CRC. */
static bool apply_small_block(rm_session *s, const rm_block_entry *e,
                              const uint8_t *payload)
{
    switch (e->type) {
    case RM_BLOCK_GAP:
        if (!core_array_grow((void **)&s->gaps, s->gap_count, &s->gap_cap, sizeof *s->gaps) ||
            !core_gap_decode(payload, e->payload_length, &s->gaps[s->gap_count]))
            return false;
        s->gap_count++;
        return true;
    case RM_BLOCK_EVENT:
        if (!core_array_grow((void **)&s->events, s->event_count, &s->event_cap,
                             sizeof *s->events) ||
            !core_event_decode(payload, e->payload_length, &s->events[s->event_count]))
            return false;
        s->event_count++;
        return true;
    case RM_BLOCK_META: {
        rm_json *root = NULL;
        if (rm_json_parse(&root, (const char *)payload, e->payload_length, NULL) != RM_OK)
            return false;
        const rm_json *session = rm_json_get(root, "session");
        if (session)
            core_json_read_meta(session, &s->meta);
        rm_json_free(root);
        return session != NULL;
    }
    default:
        return true; /* a newer block type: skipped, still intact */
    }
}

/* A block that is not samples: read its payload now and apply it. */
static rm_status load_small_block(rm_session *s, const rm_block_entry *e,
                                  rm_error *err)
{
    uint8_t *payload = malloc(e->payload_length ? e->payload_length : 1);
    if (!payload)
        return out_of_memory(s, err);
    rm_status st = RM_OK;
    uint64_t block_len = RM_BLOCK_HEADER_SIZE + (uint64_t)e->payload_length;
    if (!read_at(s, payload, e->payload_length, e->offset + RM_BLOCK_HEADER_SIZE))
        st = read_error(s, e->offset, err);
    else if (rm_crc32c(0, payload, e->payload_length) != e->payload_crc)
        st = skip_range(s, e->offset, block_len, "block CRC mismatch", err);
    else if (!apply_small_block(s, e, payload))
        st = skip_range(s, e->offset, block_len, "malformed block payload", err);
    else
        st = add_block(s, e, err);
    free(payload);
    return st;
}

static bool plausible_samples_block(const rm_block_entry *e)
{
    return e->sample_count > 0 && e->sample_count <= RM_BLOCK_SAMPLES_MAX &&
           e->payload_length >= RM_SAMPLES_PREFIX_SIZE &&
           e->t_last_us >= e->t_first_us;
}

static rm_status take_block(rm_session *s, const rm_block_entry *e, rm_error *err)
{
    if (e->type == RM_BLOCK_SAMPLES) {
        if (!plausible_samples_block(e))
            return skip_range(s, e->offset, RM_BLOCK_HEADER_SIZE + (uint64_t)e->payload_length,
                              "malformed sample block header", err);
        return add_sample_block(s, e, err);
    }
    return load_small_block(s, e, err);
}

/* Offset of the next valid block header after `from`, or the file size. */
static uint64_t find_next_block(const rm_session *s, uint64_t from)
{
    uint8_t *buf = malloc(RESYNC_CHUNK + RM_BLOCK_HEADER_SIZE);
    if (!buf)
        return s->file_size;
    for (uint64_t pos = from; pos + RM_BLOCK_HEADER_SIZE <= s->file_size;
         pos += RESYNC_CHUNK) {
        size_t want = (size_t)(s->file_size - pos < RESYNC_CHUNK + RM_BLOCK_HEADER_SIZE
                                   ? s->file_size - pos
                                   : RESYNC_CHUNK + RM_BLOCK_HEADER_SIZE);
        if (!read_at(s, buf, want, pos))
            break;
        for (size_t i = 0; i + RM_BLOCK_HEADER_SIZE <= want && i < RESYNC_CHUNK; i++) {
            rm_block_entry e;
            if (buf[i] == (RM_BLOCK_MAGIC & 0xFF) &&
                core_block_header_decode(buf + i, pos + i, &e)) {
                free(buf);
                return pos + i;
            }
        }
    }
    free(buf);
    return s->file_size;
}

static rm_status skip_damage(rm_session *s, uint64_t *pos, rm_error *err)
{
    uint64_t next = find_next_block(s, *pos + 1);
    if (next == s->file_size)
        s->integrity.truncated = true;
    rm_status st = skip_range(s, *pos, next - *pos, next == s->file_size
                              ? "damaged data at the end of the file"
                              : "damaged block header", err);
    *pos = next;
    return st;
}

static bool is_trailer_at(const rm_session *s, uint64_t pos)
{
    uint8_t t[RM_TRAILER_SIZE];
    return s->file_size - pos == RM_TRAILER_SIZE && read_at(s, t, sizeof t, pos) &&
           rm_get_le32(t + 8) == RM_TRAILER_MAGIC &&
           rm_get_le32(t + 12) == rm_crc32c(0, t, 12);
}

/* Recovery: visit every block header from the end of the file header. */
static rm_status walk_blocks(rm_session *s, rm_error *err)
{
    uint64_t pos = s->good_end;
    rm_status st = RM_OK;
    while (st == RM_OK && pos < s->file_size) {
        uint64_t left = s->file_size - pos;
        uint8_t header[RM_BLOCK_HEADER_SIZE];
        rm_block_entry e;
        if (is_trailer_at(s, pos))
            break;
        if (left < RM_BLOCK_HEADER_SIZE) {
            s->integrity.truncated = true;
            return skip_range(s, pos, left, "truncated block header", err);
        }
        if (!read_at(s, header, sizeof header, pos))
            return read_error(s, pos, err);
        if (!core_block_header_decode(header, pos, &e)) {
            st = skip_damage(s, &pos, err);
            continue;
        }
        uint64_t block_len = RM_BLOCK_HEADER_SIZE + (uint64_t)e.payload_length;
        if (e.payload_length > RM_BLOCK_PAYLOAD_MAX || block_len > left) {
            s->integrity.truncated = block_len > left;
            st = skip_range(s, pos, left, "truncated block", err);
            break;
        }
        if (e.type != RM_BLOCK_INDEX)
            st = take_block(s, &e, err);
        pos += block_len;
    }
    return st;
}

/* Entry i of an index payload, checked against the file's layout. */
static bool decode_index_entry(const uint8_t *p,
                               uint64_t min_offset, uint64_t index_offset,
                               rm_block_entry *e)
{
    e->offset = rm_get_le64(p);
    e->first_sample = rm_get_le64(p + 8);
    e->t_first_us = rm_get_le64(p + 16);
    e->t_last_us = rm_get_le64(p + 24);
    e->payload_length = rm_get_le32(p + 32);
    e->sample_count = rm_get_le32(p + 36);
    e->payload_crc = rm_get_le32(p + 40);
    e->type = p[44];
    return e->offset >= min_offset && e->payload_length <= RM_BLOCK_PAYLOAD_MAX &&
           e->offset + RM_BLOCK_HEADER_SIZE + e->payload_length <= index_offset &&
           (e->type != RM_BLOCK_SAMPLES || plausible_samples_block(e));
}

/* The index block's header at index_offset, checked against the file:
 * the block ends where the trailer begins. */
static bool read_index_header(const rm_session *s, uint64_t index_offset,
                              rm_block_entry *index)
{
    uint8_t header[RM_BLOCK_HEADER_SIZE];
    return index_offset >= s->good_end &&
           index_offset + RM_BLOCK_HEADER_SIZE + RM_TRAILER_SIZE <= s->file_size &&
           read_at(s, header, sizeof header, index_offset) &&
           core_block_header_decode(header, index_offset, index) &&
           index->type == RM_BLOCK_INDEX &&
           index_offset + RM_BLOCK_HEADER_SIZE + index->payload_length +
                   RM_TRAILER_SIZE == s->file_size &&
           index->payload_length >= 4;
}

/* Index entries read at a time: a small buffer used over and over rather
 * than the whole index (337 kB an hour) in fresh pages. */
#define INDEX_CHUNK_ENTRIES 256

/* The `count` entries of the index payload into `into`, each checked
 * against the file's layout, and the payload against its CRC (`crc` is
 * that of its first four bytes). */
static bool decode_index(const rm_session *s, const rm_block_entry *index,
                         size_t count, uint32_t crc, rm_block_entry *into)
{
    uint8_t chunk[INDEX_CHUNK_ENTRIES * RM_INDEX_ENTRY_SIZE];
    uint64_t at = index->offset + RM_BLOCK_HEADER_SIZE + 4;
    uint64_t min_offset = s->good_end;
    for (size_t i = 0; i < count;) {
        size_t m = count - i < INDEX_CHUNK_ENTRIES ? count - i
                                                    : INDEX_CHUNK_ENTRIES;
        if (!read_at(s, chunk, m * RM_INDEX_ENTRY_SIZE, at))
            return false;
        crc = rm_crc32c(crc, chunk, m * RM_INDEX_ENTRY_SIZE);
        at += m * RM_INDEX_ENTRY_SIZE;
        for (size_t j = 0; j < m; j++, i++) {
            rm_block_entry *e = &into[i];
            if (!decode_index_entry(chunk + j * RM_INDEX_ENTRY_SIZE,
                                    min_offset, index->offset, e))
                return false;
            min_offset = e->offset + RM_BLOCK_HEADER_SIZE + e->payload_length;
        }
    }
    return crc == index->payload_crc;
}

/* Fast path: the closing index lists every block. False (and nothing
 * loaded) when there is no valid index; then the blocks are walked. */
static bool load_closing_index(rm_session *s, rm_status *st, rm_error *err)
{
    uint8_t trailer[RM_TRAILER_SIZE], count_bytes[4];
    rm_block_entry index;
    if (s->file_size < s->good_end + RM_TRAILER_SIZE ||
        !read_at(s, trailer, sizeof trailer, s->file_size - RM_TRAILER_SIZE) ||
        rm_get_le32(trailer + 8) != RM_TRAILER_MAGIC ||
        rm_get_le32(trailer + 12) != rm_crc32c(0, trailer, 12) ||
        !read_index_header(s, rm_get_le64(trailer), &index) ||
        !read_at(s, count_bytes, 4, index.offset + RM_BLOCK_HEADER_SIZE))
        return false;
    size_t count = rm_get_le32(count_bytes);
    if (4 + (uint64_t)count * RM_INDEX_ENTRY_SIZE != index.payload_length)
        return false;
    /* Nearly every block holds samples: one allocation each instead of
     * some twenty doublings, each copying the list so far. */
    if (!array_reserve((void **)&s->blocks, &s->block_cap,
                       s->block_count + count, sizeof *s->blocks) ||
        !array_reserve((void **)&s->sample_blocks, &s->sample_block_cap,
                       s->sample_block_count + count,
                       sizeof *s->sample_blocks)) {
        *st = out_of_memory(s, err);
        return false;
    }
    /* The entries wait in the blocks' list past its end: take_block
     * appends each at or before its own place, and the room reserved
     * above means no append moves the list. */
    rm_block_entry *entries = s->blocks + s->block_count;
    bool valid = decode_index(s, &index, count, rm_crc32c(0, count_bytes, 4),
                              entries);
    *st = RM_OK;
    for (size_t i = 0; valid && *st == RM_OK && i < count; i++) {
        rm_block_entry e = entries[i];
        *st = take_block(s, &e, err);
    }
    s->integrity.closed_cleanly = valid;
    return valid;
}

static void update_good_end(rm_session *s)
{
    for (size_t i = 0; i < s->block_count; i++) {
        uint64_t end = s->blocks[i].offset + RM_BLOCK_HEADER_SIZE +
                       s->blocks[i].payload_length;
        if (end > s->good_end)
            s->good_end = end;
    }
}

rm_status rm_session_open(rm_session **out, const char *path, rm_error *err)
{
    *out = NULL;
    rm_session *s = calloc(1, sizeof *s);
    if (!s)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    s->cached_block = SIZE_MAX;
    s->path = strdup(path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st_buf;
    rm_status st = RM_OK;
    if (!s->path)
        st = rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    else if (s->fd < 0 || fstat(s->fd, &st_buf) < 0)
        st = rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                          "%s: cannot open: %s", path, strerror(errno));
    else if (!S_ISREG(st_buf.st_mode))
        st = rm_error_set(err, RM_ERR_FORMAT, "%s: not a regular file", path);
    if (st == RM_OK) {
        s->file_size = (uint64_t)st_buf.st_size;
        st = read_file_header(s, err);
    }
    if (st == RM_OK && !load_closing_index(s, &st, err) && st == RM_OK)
        st = walk_blocks(s, err);
    if (st != RM_OK) {
        rm_session_close(s);
        return st;
    }
    update_good_end(s);
    *out = s;
    return RM_OK;
}

void rm_session_close(rm_session *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s->blocks);
    free(s->sample_blocks);
    free(s->gaps);
    free(s->events);
    free(s->skipped);
    free(s->cache);
    free(s->window);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */
/* ------------------------------------------------------------------------ */

const char *rm_session_path(const rm_session *s) { return s->path; }
const rm_device_info *rm_session_device(const rm_session *s) { return &s->info; }
const rm_session_meta *rm_session_meta_of(const rm_session *s) { return &s->meta; }
uint32_t rm_session_format_version(const rm_session *s) { return s->version; }
uint64_t rm_session_sample_count(const rm_session *s) { return s->sample_count; }
const rm_integrity *rm_session_integrity(const rm_session *s) { return &s->integrity; }

uint64_t rm_session_first_us(const rm_session *s)
{
    return s->sample_block_count ? s->sample_blocks[0].entry.t_first_us : 0;
}

uint64_t rm_session_last_us(const rm_session *s)
{
    return s->sample_block_count
               ? s->sample_blocks[s->sample_block_count - 1].entry.t_last_us
               : 0;
}

const rm_gap *rm_session_gaps(const rm_session *s, size_t *count)
{
    *count = s->gap_count;
    return s->gaps;
}

const rm_event *rm_session_events(const rm_session *s, size_t *count)
{
    *count = s->event_count;
    return s->events;
}

/* ------------------------------------------------------------------------ */
/* Samples                                                                  */
/* ------------------------------------------------------------------------ */

/* The payload of e, from the window; read from the file (with what
 * follows it, up to READ_AHEAD bytes in all) when it is not there. NULL
 * when it cannot be read (*nomem says whether for want of memory). */
static const uint8_t *payload_of(rm_session *s, const rm_block_entry *e, bool *nomem)
{
    uint64_t at = e->offset + RM_BLOCK_HEADER_SIZE;
    *nomem = false;
    if (at >= s->window_offset && at + e->payload_length <= s->window_offset + s->window_len)
        return s->window + (at - s->window_offset);
    size_t len = e->payload_length > READ_AHEAD ? e->payload_length : READ_AHEAD;
    if (at + len > s->file_size)
        len = at + e->payload_length <= s->file_size ? (size_t)(s->file_size - at)
                                                     : e->payload_length;
    if (!s->window || len > s->window_cap) {
        uint8_t *grown = realloc(s->window, len ? len : 1); /* never NULL when read */
        if (!grown) {
            *nomem = true;
            return NULL;
        }
        s->window = grown;
        s->window_cap = len;
    }
    s->window_len = 0;
    if (!read_at(s, s->window, len, at))
        return NULL;
    s->window_offset = at;
    s->window_len = len;
    return s->window;
}

/* Read, check and decode sample block b into out. */
static rm_status decode_block(rm_session *s, rm_sample_block *b,
                              const core_sample_sink *out, rm_error *err)
{
    const rm_block_entry *e = &b->entry;
    bool nomem;
    const uint8_t *payload = payload_of(s, e, &nomem);
    if (!payload)
        return nomem ? out_of_memory(s, err) : read_error(s, e->offset, err);
    const char *problem = NULL;
    if (rm_crc32c(0, payload, e->payload_length) != e->payload_crc)
        problem = "block CRC mismatch";
    else if (!core_samples_decode(payload, e, s->version, out))
        problem = "malformed sample block";
    if (!problem) {
        b->verified = true;
        return RM_OK;
    }
    uint64_t block_len = RM_BLOCK_HEADER_SIZE + (uint64_t)e->payload_length;
    if (!b->bad) {
        b->bad = true;
        if (skip_range(s, e->offset, block_len, problem, err) == RM_OK)
            s->integrity.blocks_ok--;
    }
    return rm_error_set(err, RM_ERR_CRC, "%s: samples %llu-%llu lost: %s in the "
                        "block at offset %llu (%llu bytes)", s->path,
                        (unsigned long long)b->first,
                        (unsigned long long)(b->first + e->sample_count - 1), problem,
                        (unsigned long long)e->offset, (unsigned long long)block_len);
}

/* decode_block into the rm_samples at out. */
static rm_status decode_block_samples(rm_session *s, rm_sample_block *b,
                                      rm_sample *out, rm_error *err)
{
    core_sample_sink sink = core_sink_samples(out, b->entry.sample_count);
    return decode_block(s, b, &sink, err);
}

static rm_status load_cached_block(rm_session *s, size_t index, rm_error *err)
{
    if (s->cached_block == index)
        return RM_OK;
    rm_sample_block *b = &s->sample_blocks[index];
    rm_sample *cache = realloc(s->cache, b->entry.sample_count * sizeof *cache);
    if (!cache)
        return out_of_memory(s, err);
    s->cache = cache;
    s->cached_block = SIZE_MAX;
    rm_status st = decode_block_samples(s, b, s->cache, err);
    if (st == RM_OK)
        s->cached_block = index;
    return st;
}

/* Index of the sample block holding sample `first` (first < sample_count). */
static size_t block_of_sample(const rm_session *s, uint64_t first)
{
    size_t lo = 0, hi = s->sample_block_count - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (s->sample_blocks[mid].first <= first)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

rm_status rm_session_read(rm_session *s, uint64_t first, rm_sample *out,
                          size_t max, size_t *got, rm_error *err)
{
    *got = 0;
    if (first >= s->sample_count || max == 0)
        return RM_OK;
    size_t bi = block_of_sample(s, first);
    while (*got < max && bi < s->sample_block_count) {
        rm_sample_block *b = &s->sample_blocks[bi];
        uint64_t skip = first + *got - b->first;
        size_t n = (size_t)(b->entry.sample_count - skip);
        if (n > max - *got)
            n = max - *got;
        /* A whole block goes straight into out; part of one through the
         * cache, which keeps it for the next read. */
        bool direct = n == b->entry.sample_count && s->cached_block != bi;
        rm_status st = direct ? decode_block_samples(s, b, out + *got, err)
                              : load_cached_block(s, bi, err);
        if (st != RM_OK)
            return st;
        if (!direct)
            memcpy(out + *got, s->cache + skip, n * sizeof *out);
        *got += n;
        bi++;
    }
    return RM_OK;
}

rm_status rm_session_read_columns(rm_session *s, uint64_t first,
                                  rm_sample_columns *out, size_t *got,
                                  rm_error *err)
{
    *got = 0;
    if (first >= s->sample_count || out->cap == 0)
        return RM_OK;
    for (size_t bi = block_of_sample(s, first); bi < s->sample_block_count; bi++) {
        rm_sample_block *b = &s->sample_blocks[bi];
        uint64_t skip = first + *got - b->first;
        size_t n = (size_t)(b->entry.sample_count - skip);
        if (n > out->cap - *got)
            n = out->cap - *got;
        bool whole = n == b->entry.sample_count;
        if (*got > 0 && !whole) /* the next run starts with this block */
            break;
        /* Part of a block, or one decoded already, comes from the cache. */
        bool direct = whole && s->cached_block != bi;
        core_sample_sink sink = core_sink_columns(out, *got);
        rm_status st = direct ? decode_block(s, b, &sink, err)
                              : load_cached_block(s, bi, err);
        if (st != RM_OK)
            return st;
        if (!direct)
            rm_sample_columns_put(out, *got, s->cache + skip, n);
        *got += n;
    }
    return RM_OK;
}

uint64_t rm_session_find_time(const rm_session *s, uint64_t t_us)
{
    size_t lo = 0, hi = s->sample_block_count;
    while (lo < hi) { /* first block whose last sample is at or after t_us */
        size_t mid = lo + (hi - lo) / 2;
        if (s->sample_blocks[mid].entry.t_last_us < t_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->sample_block_count)
        return s->sample_count;
    const rm_sample_block *b = &s->sample_blocks[lo];
    if (b->entry.t_first_us >= t_us)
        return b->first;
    /* Inside the block: decode a private copy (s stays untouched). */
    uint64_t found = b->first;
    uint8_t *payload = malloc(b->entry.payload_length);
    rm_sample *samples = malloc(b->entry.sample_count * sizeof *samples);
    if (payload && samples &&
        read_at(s, payload, b->entry.payload_length, b->entry.offset + RM_BLOCK_HEADER_SIZE) &&
        rm_crc32c(0, payload, b->entry.payload_length) == b->entry.payload_crc &&
        decode_into_samples(payload, &b->entry, s->version, samples)) {
        uint32_t i = 0;
        while (i < b->entry.sample_count && samples[i].t_us < t_us)
            i++;
        found = b->first + i;
    }
    free(payload);
    free(samples);
    return found;
}

/* ------------------------------------------------------------------------ */
/* Verification                                                             */
/* ------------------------------------------------------------------------ */

/* Remove the blocks marked bad and number the samples again. */
static void drop_bad_blocks(rm_session *s)
{
    size_t kept = 0;
    s->sample_count = 0;
    for (size_t i = 0; i < s->sample_block_count; i++) {
        if (s->sample_blocks[i].bad)
            continue;
        s->sample_blocks[kept] = s->sample_blocks[i];
        s->sample_blocks[kept].first = s->sample_count;
        s->sample_count += s->sample_blocks[i].entry.sample_count;
        kept++;
    }
    s->sample_block_count = kept;
    size_t kept_blocks = 0;
    for (size_t i = 0, sb = 0; i < s->block_count; i++) {
        bool is_kept_sample = sb < kept &&
                              s->sample_blocks[sb].entry.offset == s->blocks[i].offset;
        if (s->blocks[i].type != RM_BLOCK_SAMPLES || is_kept_sample)
            s->blocks[kept_blocks++] = s->blocks[i];
        sb += is_kept_sample;
    }
    s->block_count = kept_blocks;
    s->cached_block = SIZE_MAX;
    s->good_end = s->header_end;
    update_good_end(s);
}

rm_status rm_session_verify(rm_session *s, rm_error *err)
{
    rm_sample *scratch = NULL;
    size_t scratch_cap = 0;
    for (size_t i = 0; i < s->sample_block_count; i++) {
        rm_sample_block *b = &s->sample_blocks[i];
        if (b->verified || b->bad)
            continue;
        if (b->entry.sample_count > scratch_cap) {
            rm_sample *grown = realloc(scratch, b->entry.sample_count * sizeof *grown);
            if (!grown) {
                free(scratch);
                return out_of_memory(s, err);
            }
            scratch = grown;
            scratch_cap = b->entry.sample_count;
        }
        rm_error failure;
        rm_status st = decode_block_samples(s, b, scratch, &failure);
        if (st != RM_OK && st != RM_ERR_CRC) { /* I/O, memory: give up */
            free(scratch);
            return rm_error_set(err, st, "%s", failure.message);
        }
    }
    free(scratch);
    drop_bad_blocks(s);
    return RM_OK;
}
