/*
 * Session file writer (docs/FORMAT.md): a header, then append-only blocks
 * written whole, then a closing index on a clean close.
 *
 * Samples collect in a queue until a block is full; full blocks and gap,
 * event and metadata blocks wait encoded in `pending` until the next flush
 * (at most every flush_interval_ms). A failed write keeps the whole blocks
 * that fit (less some room for the closing gap), cuts the file back to its
 * last complete block and keeps the rest of `pending` for the next flush;
 * while that is over queue_limit_bytes new samples are dropped and recorded
 * as a RM_GAP_WRITE_ERROR gap. Samples still pending at close become such a
 * gap too.
 */
#include "session_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_FLUSH_INTERVAL_MS 500
#define MAX_FLUSH_INTERVAL_MS 1000
#define DEFAULT_BLOCK_SAMPLES 512
#define DEFAULT_QUEUE_LIMIT_BYTES (8u << 20) /* minutes of 1 kHz data */
/* Bytes a failed write leaves free on a full disk: room for the gap block
 * (73 bytes) that records what the close cannot write, and for the closing
 * index of about a thousand blocks. */
#define CLOSING_ROOM_BYTES (64u << 10)

struct rm_session_writer {
    char *path;
    int fd;
    rm_device_info info;
    rm_writer_options opt;
    uint32_t period_us;
    uint32_t version;         /* of the file: says how sample blocks are coded */

    uint64_t file_end;        /* the file ends here: all complete blocks */
    rm_bytes pending;         /* encoded blocks not yet in the file */
    rm_bytes scratch;         /* one payload being encoded */
    rm_sample *queue;         /* samples of the block being filled */
    size_t queued;

    rm_block_entry *entries;  /* every block so far, for the closing index */
    size_t entry_count, entry_cap;
    uint64_t next_sample;     /* index of the next sample */
    uint64_t last_flush_us;

    size_t entries_in_file;   /* entries[0..this) are in the file */
    rm_writer_summary summary;/* of the blocks in the file */

    bool write_failing;       /* the last write failed; retry on flush */
    uint64_t dropped;         /* samples dropped while writes failed */
    uint64_t dropped_first_us, dropped_last_us;
};

/* ------------------------------------------------------------------------ */
/* Bytes                                                                    */
/* ------------------------------------------------------------------------ */

void core_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void core_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void core_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

bool core_bytes_reserve(rm_bytes *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *grown = realloc(b->data, cap);
    if (!grown)
        return false;
    b->data = grown;
    b->cap = cap;
    return true;
}

bool core_bytes_add(rm_bytes *b, const void *data, size_t n)
{
    if (n == 0)
        return true; /* an empty buffer has no data pointer to memcpy into */
    if (!core_bytes_reserve(b, n))
        return false;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return true;
}

void core_bytes_free(rm_bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------ */
/* Payload encoders                                                         */
/* ------------------------------------------------------------------------ */

static void put_varint(uint8_t **p, uint64_t v)
{
    while (v >= 0x80) {
        *(*p)++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *(*p)++ = (uint8_t)v;
}

/* Signed to unsigned so small magnitudes of either sign stay short. */
static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Longest sample: three varints of up to 10 bytes plus one per channel. */
#define MAX_SAMPLE_BYTES (10 * (3 + RM_MAX_CHANNELS))

uint8_t *core_samples_prefix_put(uint8_t *p, uint8_t channel_count, uint32_t period_us)
{
    core_put_le32(p, period_us);
    p[4] = channel_count;
    memset(p + 5, 0, 3);
    return p + RM_SAMPLES_PREFIX_SIZE;
}

static bool encode_varint_samples(rm_bytes *out, const rm_sample *s, size_t count,
                                  uint8_t channel_count, uint32_t period_us)
{
    if (!core_bytes_reserve(out, RM_SAMPLES_PREFIX_SIZE + count * MAX_SAMPLE_BYTES))
        return false;
    uint8_t *p = core_samples_prefix_put(out->data + out->len, channel_count, period_us);
    uint64_t prev_t = s[0].t_us - period_us;
    int32_t prev_encoder = 0;
    int32_t prev_counts[RM_MAX_CHANNELS] = {0};
    for (size_t i = 0; i < count; i++) {
        put_varint(&p, zigzag((int64_t)(s[i].t_us - prev_t - period_us)));
        put_varint(&p, s[i].flags);
        put_varint(&p, zigzag((int64_t)s[i].encoder - prev_encoder));
        for (unsigned c = 0; c < channel_count; c++) {
            put_varint(&p, zigzag((int64_t)s[i].counts[c] - prev_counts[c]));
            prev_counts[c] = s[i].counts[c];
        }
        prev_t = s[i].t_us;
        prev_encoder = s[i].encoder;
    }
    out->len = (size_t)(p - out->data);
    return true;
}

bool core_samples_encode(rm_bytes *out, const rm_sample *s, size_t count,
                         uint8_t channel_count, uint32_t period_us,
                         uint32_t version)
{
    return version >= RM_FORMAT_VERSION_PACKED
               ? core_samples_encode_packed(out, s, count, channel_count, period_us)
               : encode_varint_samples(out, s, count, channel_count, period_us);
}

void core_gap_encode(rm_bytes *out, const rm_gap *gap)
{
    uint8_t b[25];
    core_put_le64(b, gap->start_us);
    core_put_le64(b + 8, gap->end_us);
    core_put_le64(b + 16, gap->lost_samples);
    b[24] = gap->reason;
    core_bytes_add(out, b, sizeof b);
}

void core_event_encode(rm_bytes *out, const rm_event *ev)
{
    uint8_t b[15];
    size_t text_len = strnlen(ev->text, sizeof ev->text - 1);
    core_put_le64(b, ev->t_us);
    b[8] = ev->kind;
    core_put_le32(b + 9, (uint32_t)ev->value);
    core_put_le16(b + 13, (uint16_t)text_len);
    if (core_bytes_add(out, b, sizeof b))
        core_bytes_add(out, ev->text, text_len);
}

void core_block_header_encode(uint8_t out[RM_BLOCK_HEADER_SIZE],
                              const rm_block_entry *e)
{
    core_put_le32(out, RM_BLOCK_MAGIC);
    out[4] = e->type;
    memset(out + 5, 0, 3);
    core_put_le32(out + 8, e->payload_length);
    core_put_le32(out + 12, e->sample_count);
    core_put_le64(out + 16, e->first_sample);
    core_put_le64(out + 24, e->t_first_us);
    core_put_le64(out + 32, e->t_last_us);
    core_put_le32(out + 40, e->payload_crc);
    core_put_le32(out + 44, rm_crc32c(0, out, 44));
}

/* ------------------------------------------------------------------------ */
/* Header JSON                                                              */
/* ------------------------------------------------------------------------ */

static void write_calibration(rm_json_writer *w, const rm_calibration *cal)
{
    rm_json_object_open(w);
    rm_json_key(w, "coef");
    rm_json_array_open(w);
    for (int i = 0; i < 4; i++)
        rm_json_number(w, cal->coef[i]);
    rm_json_array_close(w);
    rm_json_member_number(w, "tare_counts", cal->tare_counts);
    rm_json_member_int(w, "date_unix", cal->date_unix);
    rm_json_member_string(w, "origin", cal->origin);
    rm_json_object_close(w);
}

static void write_channel(rm_json_writer *w, const rm_channel_info *ch)
{
    rm_json_object_open(w);
    rm_json_member_string(w, "kind", ch->kind == RM_CHANNEL_PRESSURE_CELL
                                         ? "pressure-cell" : "load-cell");
    rm_json_member_number(w, "position_mm", ch->position_mm);
    rm_json_member_number(w, "area_mm2", ch->area_mm2);
    rm_json_member_number(w, "gain_n_per_count", ch->gain_n_per_count);
    rm_json_member_number(w, "offset_counts", ch->offset_counts);
    rm_json_key(w, "calibration");
    write_calibration(w, &ch->cal);
    rm_json_object_close(w);
}

void rm_json_write_device(rm_json_writer *w, const rm_device_info *info)
{
    rm_json_object_open(w);
    rm_json_member_string(w, "model", info->model);
    rm_json_member_string(w, "firmware", info->firmware);
    rm_json_member_string(w, "serial", info->serial);
    rm_json_member_string(w, "kind", rm_device_kind_name((rm_device_kind)info->device_kind));
    rm_json_member_int(w, "sample_rate_hz", info->sample_rate_hz);
    rm_json_member_int(w, "encoder_counts_per_turn", info->encoder_counts_per_turn);
    rm_json_member_number(w, "roller_diameter_mm", info->roller_diameter_mm);
    rm_json_member_number(w, "roller_width_mm", info->roller_width_mm);
    rm_json_member_int(w, "distal_direction", info->distal_direction);
    rm_json_member_int(w, "usb_vid", info->usb_vid);
    rm_json_member_int(w, "usb_pid", info->usb_pid);
    rm_json_key(w, "channels");
    rm_json_array_open(w);
    for (unsigned i = 0; i < info->channel_count; i++)
        write_channel(w, &info->channels[i]);
    rm_json_array_close(w);
    rm_json_object_close(w);
}

void rm_json_write_link_stats(rm_json_writer *w, const rm_link_stats *link)
{
    if (!link->recorded) {
        rm_json_null(w);
        return;
    }
    rm_json_object_open(w);
    rm_json_member_int(w, "frames_ok", (int64_t)link->frames_ok);
    rm_json_member_int(w, "crc_errors", (int64_t)link->crc_errors);
    rm_json_member_int(w, "malformed", (int64_t)link->malformed);
    rm_json_member_int(w, "oversized", (int64_t)link->oversized);
    rm_json_member_int(w, "frames_lost", (int64_t)link->frames_lost);
    rm_json_member_int(w, "bytes_discarded", (int64_t)link->bytes_discarded);
    rm_json_object_close(w);
}

void rm_json_write_meta(rm_json_writer *w, const rm_session_meta *meta)
{
    char start[32];
    rm_format_iso8601(start, meta->start_unix_us);
    rm_json_object_open(w);
    rm_json_member_string(w, "session_id", meta->session_id);
    rm_json_member_string(w, "client", meta->client);
    rm_json_member_string(w, "side", rm_side_name((rm_side)meta->side));
    rm_json_member_string(w, "muscle", meta->muscle);
    rm_json_member_int(w, "start_unix_us", meta->start_unix_us);
    rm_json_member_string(w, "start", start); /* for people reading it */
    rm_json_member_string(w, "notes", meta->notes);
    if (meta->link.recorded) {
        rm_json_key(w, "link");
        rm_json_write_link_stats(w, &meta->link);
    }
    rm_json_object_close(w);
}

/* Serialise a JSON document built by emit(ctx) into out. */
static bool json_to_bytes(rm_bytes *out, void (*emit)(rm_json_writer *, const void *),
                          const void *ctx)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return false;
    rm_json_writer w;
    rm_json_begin(&w, f, false);
    emit(&w, ctx);
    rm_json_end(&w);
    bool ok = !ferror(f);
    fclose(f);
    ok = ok && core_bytes_add(out, text, len);
    free(text);
    return ok;
}

typedef struct header_parts {
    const rm_device_info *info;
    const rm_session_meta *meta;
} header_parts;

static void emit_header(rm_json_writer *w, const void *ctx)
{
    const header_parts *h = ctx;
    rm_json_object_open(w);
    rm_json_member_string(w, "format", "rollmap session");
    rm_json_member_string(w, "writer", "rollmap " RM_VERSION_STRING);
    rm_json_key(w, "device");
    rm_json_write_device(w, h->info);
    rm_json_key(w, "session");
    rm_json_write_meta(w, h->meta);
    rm_json_object_close(w);
}

static void emit_meta_update(rm_json_writer *w, const void *ctx)
{
    rm_json_object_open(w);
    rm_json_key(w, "session");
    rm_json_write_meta(w, ctx);
    rm_json_object_close(w);
}

/* The header, then the same bytes again (docs/FORMAT.md, version 2). */
static bool encode_file_header(rm_bytes *out, const rm_device_info *info,
                               const rm_session_meta *meta)
{
    header_parts parts = {info, meta};
    uint8_t prefix[RM_FILE_PREFIX_SIZE] = {0};
    if (!core_bytes_add(out, prefix, sizeof prefix) ||
        !json_to_bytes(out, emit_header, &parts))
        return false;
    size_t json_len = out->len - RM_FILE_PREFIX_SIZE;
    memcpy(out->data, RM_FILE_MAGIC, RM_FILE_MAGIC_SIZE);
    core_put_le32(out->data + 8, RM_FORMAT_VERSION);
    core_put_le32(out->data + 12, (uint32_t)json_len);
    uint8_t crc[4];
    core_put_le32(crc, rm_crc32c(0, out->data, out->len));
    if (!core_bytes_add(out, crc, sizeof crc) || !core_bytes_reserve(out, out->len))
        return false;
    memcpy(out->data + out->len, out->data, out->len);
    out->len *= 2;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Writing blocks                                                           */
/* ------------------------------------------------------------------------ */

uint32_t rm_period_us(const rm_device_info *info)
{
    return info->sample_rate_hz ? (uint32_t)(1000000u / info->sample_rate_hz) : 0;
}

void rm_writer_options_default(rm_writer_options *opt)
{
    opt->flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS;
    opt->block_samples = DEFAULT_BLOCK_SAMPLES;
    opt->queue_limit_bytes = DEFAULT_QUEUE_LIMIT_BYTES;
    opt->fsync = true;
}

static rm_status out_of_memory(const rm_session_writer *w, rm_error *err)
{
    return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", w->path);
}

/* Add a block with payload w->scratch to pending and to the index. */
static rm_status queue_block(rm_session_writer *w, rm_block_entry *e,
                             rm_error *err)
{
    e->offset = w->file_end + w->pending.len;
    e->payload_length = (uint32_t)w->scratch.len;
    e->payload_crc = rm_crc32c(0, w->scratch.data, w->scratch.len);
    uint8_t header[RM_BLOCK_HEADER_SIZE];
    core_block_header_encode(header, e);
    if (!core_array_grow((void **)&w->entries, w->entry_count, &w->entry_cap,
                         sizeof *w->entries) ||
        !core_bytes_reserve(&w->pending, sizeof header + w->scratch.len))
        return out_of_memory(w, err);
    core_bytes_add(&w->pending, header, sizeof header);
    core_bytes_add(&w->pending, w->scratch.data, w->scratch.len);
    w->entries[w->entry_count++] = *e;
    w->scratch.len = 0;
    return RM_OK;
}

static rm_status queue_samples_block(rm_session_writer *w, rm_error *err)
{
    if (w->queued == 0)
        return RM_OK;
    w->scratch.len = 0;
    if (!core_samples_encode(&w->scratch, w->queue, w->queued,
                             w->info.channel_count, w->period_us, w->version))
        return out_of_memory(w, err);
    rm_block_entry e = {
        .type = RM_BLOCK_SAMPLES,
        .first_sample = w->next_sample,
        .sample_count = (uint32_t)w->queued,
        .t_first_us = w->queue[0].t_us,
        .t_last_us = w->queue[w->queued - 1].t_us,
    };
    rm_status st = queue_block(w, &e, err);
    if (st == RM_OK) {
        w->next_sample += w->queued;
        w->queued = 0;
    }
    return st;
}

/* The file now ends at `end`: count the blocks that reached it. */
static void file_grew_to(rm_session_writer *w, uint64_t end)
{
    w->file_end = end;
    while (w->entries_in_file < w->entry_count &&
           w->entries[w->entries_in_file].offset < end) {
        const rm_block_entry *e = &w->entries[w->entries_in_file++];
        if (e->type == RM_BLOCK_SAMPLES)
            w->summary.samples_written += e->sample_count;
        else if (e->type == RM_BLOCK_GAP)
            w->summary.gaps_written++;
    }
}

/* Length of the whole blocks at the start of pending that end by `limit`. */
static size_t whole_blocks_within(const rm_bytes *pending, size_t limit)
{
    size_t end = 0;
    while (pending->len - end >= RM_BLOCK_HEADER_SIZE) {
        size_t size = RM_BLOCK_HEADER_SIZE + rm_get_le32(pending->data + end + 8);
        if (end + size > limit)
            break;
        end += size;
    }
    return end;
}

/* After a write failed with `written` bytes of pending in the file: keep
 * its whole blocks (less `room`), cut the file after them, and leave the
 * rest in pending. */
static void keep_whole_blocks(rm_session_writer *w, size_t written, size_t room)
{
    size_t keep = whole_blocks_within(&w->pending, written > room ? written - room : 0);
    bool kept = keep > 0 && ftruncate(w->fd, (off_t)(w->file_end + keep)) == 0 &&
                (!w->opt.fsync || fsync(w->fd) == 0);
    if (!kept) {
        /* if even this fails, the reader skips the torn tail and the next
         * write overwrites it */
        int cut = ftruncate(w->fd, (off_t)w->file_end);
        (void)cut;
        return;
    }
    memmove(w->pending.data, w->pending.data + keep, w->pending.len - keep);
    w->pending.len -= keep;
    file_grew_to(w, w->file_end + keep);
}

static rm_status failed_write(rm_session_writer *w, const char *what,
                              int error, rm_error *err)
{
    w->write_failing = true;
    rm_status st = (error == ENOSPC || error == EFBIG || error == EDQUOT)
                       ? RM_ERR_NO_SPACE : RM_ERR_IO;
    return rm_error_set(err, st, "%s: %s at offset %llu failed: %s "
                        "(%zu bytes kept queued for the next flush)",
                        w->path, what, (unsigned long long)w->file_end,
                        strerror(error), w->pending.len);
}

/* Write pending; on failure keep what fit whole, leaving `room` bytes of
 * it free. */
static rm_status write_pending_leaving(rm_session_writer *w, size_t room,
                                       rm_error *err)
{
    size_t done = 0;
    while (done < w->pending.len) {
        ssize_t n = pwrite(w->fd, w->pending.data + done, w->pending.len - done,
                           (off_t)(w->file_end + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int error = errno;
            keep_whole_blocks(w, done, room);
            return failed_write(w, "write", error, err);
        }
        done += (size_t)n;
    }
    if (w->opt.fsync && fsync(w->fd) < 0) {
        int error = errno;
        keep_whole_blocks(w, 0, 0);
        return failed_write(w, "fsync", error, err);
    }
    w->pending.len = 0;
    file_grew_to(w, w->file_end + done);
    w->write_failing = false;
    return RM_OK;
}

static rm_status write_pending(rm_session_writer *w, rm_error *err)
{
    return write_pending_leaving(w, CLOSING_ROOM_BYTES, err);
}

static rm_status queue_gap(rm_session_writer *w, const rm_gap *gap, rm_error *err)
{
    w->scratch.len = 0;
    core_gap_encode(&w->scratch, gap);
    rm_block_entry e = {.type = RM_BLOCK_GAP, .first_sample = w->next_sample + w->queued,
                        .t_first_us = gap->start_us, .t_last_us = gap->end_us};
    return queue_block(w, &e, err);
}

/* The samples dropped so far become a gap, after the samples queued
 * before them. */
static rm_status queue_dropped_gap(rm_session_writer *w, rm_error *err)
{
    rm_status st = queue_samples_block(w, err);
    if (st != RM_OK)
        return st;
    rm_gap gap = {
        .start_us = w->dropped_first_us,
        .end_us = w->dropped_last_us,
        .lost_samples = w->dropped,
        .reason = RM_GAP_WRITE_ERROR,
    };
    w->summary.samples_lost += w->dropped;
    w->dropped = 0;
    return queue_gap(w, &gap, err);
}

rm_status rm_session_writer_flush(rm_session_writer *w, rm_error *err)
{
    w->last_flush_us = rm_monotonic_us();
    rm_status st = queue_samples_block(w, err);
    if (st == RM_OK && w->pending.len > 0)
        st = write_pending(w, err);
    return st;
}

static bool flush_due(const rm_session_writer *w)
{
    return rm_monotonic_us() - w->last_flush_us >=
           (uint64_t)w->opt.flush_interval_ms * 1000;
}

static rm_status flush_if_due(rm_session_writer *w, rm_error *err)
{
    return flush_due(w) ? rm_session_writer_flush(w, err) : RM_OK;
}

static void drop_sample(rm_session_writer *w, const rm_sample *s)
{
    if (w->dropped++ == 0)
        w->dropped_first_us = s->t_us;
    w->dropped_last_us = s->t_us;
}

rm_status rm_session_writer_append(rm_session_writer *w, const rm_sample *s,
                                   size_t count, rm_error *err)
{
    rm_status write_st = RM_OK;
    for (size_t i = 0; i < count; i++) {
        /* A full queue is written early while writes work; while they
         * fail, new samples are dropped (and become a gap later). */
        if (w->pending.len >= w->opt.queue_limit_bytes && !w->write_failing)
            write_st = write_pending(w, err);
        if (w->pending.len >= w->opt.queue_limit_bytes) {
            drop_sample(w, &s[i]);
            continue;
        }
        if (w->dropped > 0) {
            rm_status st = queue_dropped_gap(w, err);
            if (st != RM_OK)
                return st;
        }
        w->queue[w->queued++] = s[i];
        if (w->queued == w->opt.block_samples) {
            rm_status st = queue_samples_block(w, err);
            if (st != RM_OK)
                return st;
        }
    }
    return write_st != RM_OK ? write_st : flush_if_due(w, err);
}

rm_status rm_session_writer_add_gap(rm_session_writer *w, const rm_gap *gap,
                                    rm_error *err)
{
    rm_status st = queue_gap(w, gap, err);
    return st == RM_OK ? flush_if_due(w, err) : st;
}

rm_status rm_session_writer_add_event(rm_session_writer *w,
                                      const rm_event *ev, rm_error *err)
{
    w->scratch.len = 0;
    core_event_encode(&w->scratch, ev);
    rm_block_entry e = {.type = RM_BLOCK_EVENT, .first_sample = w->next_sample + w->queued,
                        .t_first_us = ev->t_us, .t_last_us = ev->t_us};
    rm_status st = queue_block(w, &e, err);
    return st == RM_OK ? flush_if_due(w, err) : st;
}

rm_status rm_session_writer_set_meta(rm_session_writer *w,
                                     const rm_session_meta *meta,
                                     rm_error *err)
{
    w->scratch.len = 0;
    if (!json_to_bytes(&w->scratch, emit_meta_update, meta))
        return out_of_memory(w, err);
    rm_block_entry e = {.type = RM_BLOCK_META, .first_sample = w->next_sample + w->queued};
    rm_status st = queue_block(w, &e, err);
    return st == RM_OK ? rm_session_writer_flush(w, err) : st;
}

static void encode_index_entry(uint8_t *p, const rm_block_entry *e)
{
    core_put_le64(p, e->offset);
    core_put_le64(p + 8, e->first_sample);
    core_put_le64(p + 16, e->t_first_us);
    core_put_le64(p + 24, e->t_last_us);
    core_put_le32(p + 32, e->payload_length);
    core_put_le32(p + 36, e->sample_count);
    core_put_le32(p + 40, e->payload_crc);
    p[44] = e->type;
    memset(p + 45, 0, 3);
}

/* The closing index block and the trailer that points at it. */
static rm_status queue_index(rm_session_writer *w, rm_error *err)
{
    size_t count = w->entry_count;
    w->scratch.len = 0;
    if (!core_bytes_reserve(&w->scratch, 4 + count * RM_INDEX_ENTRY_SIZE))
        return out_of_memory(w, err);
    core_put_le32(w->scratch.data, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        encode_index_entry(w->scratch.data + 4 + i * RM_INDEX_ENTRY_SIZE,
                           &w->entries[i]);
    w->scratch.len = 4 + count * RM_INDEX_ENTRY_SIZE;
    rm_block_entry e = {.type = RM_BLOCK_INDEX, .first_sample = w->next_sample};
    rm_status st = queue_block(w, &e, err);
    if (st != RM_OK)
        return st;
    w->entry_count--; /* the index does not list itself */
    uint8_t trailer[RM_TRAILER_SIZE];
    core_put_le64(trailer, e.offset);
    core_put_le32(trailer + 8, RM_TRAILER_MAGIC);
    core_put_le32(trailer + 12, rm_crc32c(0, trailer, 12));
    return core_bytes_add(&w->pending, trailer, sizeof trailer) ? RM_OK
                                                               : out_of_memory(w, err);
}

static void writer_free(rm_session_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    core_bytes_free(&w->pending);
    core_bytes_free(&w->scratch);
    free(w->queue);
    free(w->entries);
    free(w->path);
    free(w);
}

/* Span and count of the samples in pending's sample blocks. */
static rm_gap pending_samples_gap(const rm_session_writer *w)
{
    rm_gap gap = {.start_us = UINT64_MAX, .reason = RM_GAP_WRITE_ERROR};
    for (size_t i = w->entries_in_file; i < w->entry_count; i++) {
        const rm_block_entry *e = &w->entries[i];
        if (e->type != RM_BLOCK_SAMPLES)
            continue;
        gap.lost_samples += e->sample_count;
        if (e->t_first_us < gap.start_us)
            gap.start_us = e->t_first_us;
        if (e->t_last_us > gap.end_us)
            gap.end_us = e->t_last_us;
    }
    return gap;
}

/* Writing still fails at close: pending's sample blocks will never reach
 * the file. Drop them and record them as one write-error gap; the other
 * blocks (gaps, events, metadata: a few bytes each) stay queued. */
static rm_status give_up_pending_samples(rm_session_writer *w, rm_error *err)
{
    rm_gap gap = pending_samples_gap(w);
    if (gap.lost_samples == 0)
        return RM_OK;
    size_t kept_len = 0, kept_entries = w->entries_in_file;
    for (size_t i = w->entries_in_file; i < w->entry_count; i++) {
        rm_block_entry e = w->entries[i];
        size_t size = RM_BLOCK_HEADER_SIZE + e.payload_length;
        if (e.type == RM_BLOCK_SAMPLES)
            continue;
        memmove(w->pending.data + kept_len, w->pending.data + (e.offset - w->file_end),
                size);
        e.offset = w->file_end + kept_len;
        w->entries[kept_entries++] = e;
        kept_len += size;
    }
    w->pending.len = kept_len;
    w->entry_count = kept_entries;
    w->summary.samples_lost += gap.lost_samples;
    return queue_gap(w, &gap, err);
}

rm_status rm_session_writer_finish(rm_session_writer *w, rm_writer_summary *out,
                                   rm_error *err)
{
    if (!w)
        return RM_OK;
    rm_status st = rm_session_writer_flush(w, err);
    rm_error later;
    rm_error *next_err = st == RM_OK ? err : &later; /* report the first failure */
    rm_status next = RM_OK;
    if (w->dropped > 0)
        next = queue_dropped_gap(w, next_err);
    if (next == RM_OK && st != RM_OK)
        next = give_up_pending_samples(w, next_err);
    if (next == RM_OK)
        next = queue_index(w, next_err);
    if (next == RM_OK)
        next = write_pending_leaving(w, 0, next_err);
    if (next == RM_OK && close(w->fd) < 0)
        next = rm_error_set(next_err, RM_ERR_IO, "%s: close failed: %s", w->path,
                            strerror(errno));
    else if (next == RM_OK)
        w->fd = -1;
    if (out)
        *out = w->summary;
    writer_free(w);
    return st != RM_OK ? st : next;
}

rm_status rm_session_writer_close(rm_session_writer *w, rm_error *err)
{
    return rm_session_writer_finish(w, NULL, err);
}

uint64_t rm_session_writer_sample_count(const rm_session_writer *w)
{
    return w->next_sample + w->queued;
}

/* ------------------------------------------------------------------------ */
/* Creating and reopening                                                   */
/* ------------------------------------------------------------------------ */

static rm_status check_options(const rm_writer_options *opt, const char *path,
                               rm_error *err)
{
    if (opt->flush_interval_ms > MAX_FLUSH_INTERVAL_MS)
        return rm_error_set(err, RM_ERR_ARG, "%s: flush interval %u ms is above "
                            "the maximum of %u ms", path, opt->flush_interval_ms,
                            MAX_FLUSH_INTERVAL_MS);
    if (opt->block_samples == 0 || opt->block_samples > RM_BLOCK_SAMPLES_MAX)
        return rm_error_set(err, RM_ERR_ARG, "%s: block_samples %u is not in "
                            "1..%u", path, opt->block_samples, RM_BLOCK_SAMPLES_MAX);
    return RM_OK;
}

static rm_status writer_new(rm_session_writer **out, const char *path,
                            const rm_writer_options *opt, rm_error *err)
{
    rm_writer_options defaults;
    rm_writer_options_default(&defaults);
    if (!opt)
        opt = &defaults;
    rm_status st = check_options(opt, path, err);
    if (st != RM_OK)
        return st;
    rm_session_writer *w = calloc(1, sizeof *w);
    if (!w)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    w->fd = -1;
    w->opt = *opt;
    w->path = strdup(path);
    w->queue = calloc(opt->block_samples, sizeof *w->queue);
    if (!w->path || !w->queue) {
        writer_free(w);
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    w->last_flush_us = rm_monotonic_us();
    *out = w;
    return RM_OK;
}

static rm_status check_device(const rm_device_info *info, const char *path,
                              rm_error *err)
{
    if (info->channel_count > RM_MAX_CHANNELS)
        return rm_error_set(err, RM_ERR_ARG, "%s: device has %u channels, "
                            "at most %d are supported", path,
                            info->channel_count, RM_MAX_CHANNELS);
    return RM_OK;
}

static rm_status write_file_header(rm_session_writer *w,
                                   const rm_session_meta *meta, rm_error *err)
{
    if (!encode_file_header(&w->pending, &w->info, meta))
        return out_of_memory(w, err);
    return write_pending(w, err);
}

rm_status rm_session_writer_create(rm_session_writer **out, const char *path,
                                   const rm_device_info *info,
                                   const rm_session_meta *meta,
                                   const rm_writer_options *opt, rm_error *err)
{
    *out = NULL;
    rm_status st = check_device(info, path, err);
    rm_session_writer *w = NULL;
    if (st == RM_OK)
        st = writer_new(&w, path, opt, err);
    if (st != RM_OK)
        return st;
    w->info = *info;
    w->period_us = rm_period_us(info);
    w->version = RM_FORMAT_VERSION;
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        st = rm_error_set(err, errno == EEXIST ? RM_ERR_BUSY : RM_ERR_IO,
                          "%s: cannot create: %s", path, strerror(errno));
        writer_free(w);
        return st;
    }
    st = write_file_header(w, meta, err);
    if (st != RM_OK) {
        unlink(path); /* nothing was recorded yet */
        writer_free(w);
        return st;
    }
    *out = w;
    return RM_OK;
}

/* Take over what a reader found: blocks, numbering and the device. */
static rm_status adopt_session(rm_session_writer *w, const rm_session *s,
                               rm_error *err)
{
    w->info = s->info;
    w->period_us = rm_period_us(&s->info);
    w->version = s->version;
    w->file_end = s->good_end;
    for (size_t i = 0; i < s->block_count; i++) {
        const rm_block_entry *e = &s->blocks[i];
        if (!core_array_grow((void **)&w->entries, w->entry_count, &w->entry_cap,
                             sizeof *w->entries))
            return out_of_memory(w, err);
        w->entries[w->entry_count++] = *e;
        if (e->type == RM_BLOCK_SAMPLES && e->first_sample + e->sample_count > w->next_sample)
            w->next_sample = e->first_sample + e->sample_count;
    }
    return RM_OK;
}

rm_status rm_session_writer_reopen(rm_session_writer **out, const char *path,
                                   const rm_writer_options *opt, rm_error *err)
{
    *out = NULL;
    rm_session *s = NULL;
    rm_status st = rm_session_open(&s, path, err);
    if (st == RM_OK)
        st = rm_session_verify(s, err);
    rm_session_writer *w = NULL;
    if (st == RM_OK)
        st = writer_new(&w, path, opt, err);
    if (st == RM_OK)
        st = adopt_session(w, s, err);
    rm_session_close(s);
    if (st == RM_OK) {
        w->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (w->fd < 0 || ftruncate(w->fd, (off_t)w->file_end) < 0)
            st = rm_error_set(err, RM_ERR_IO, "%s: cannot reopen for "
                              "appending: %s", path, strerror(errno));
    }
    if (st != RM_OK) {
        if (w)
            writer_free(w);
        return st;
    }
    *out = w;
    return RM_OK;
}

rm_status rm_session_file_set_meta(const char *path,
                                   const rm_session_meta *meta, rm_error *err)
{
    rm_session_writer *w = NULL;
    rm_status st = rm_session_writer_reopen(&w, path, NULL, err);
    if (st != RM_OK)
        return st;
    st = rm_session_writer_set_meta(w, meta, err);
    if (st != RM_OK) {
        rm_error ignored;
        rm_session_writer_close(w, &ignored);
        return st;
    }
    return rm_session_writer_close(w, err);
}
