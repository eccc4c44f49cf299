/* The binary wire protocol (docs/PROTOCOL.md): COBS framing with a 0x00
 * delimiter, a 7-byte header, a payload per frame type and a CRC-32C.
 *
 * The decoder undoes COBS as bytes arrive, so it holds at most one decoded
 * body and never allocates; any chunking of the input gives the same frames. */
#include "rollmap_hw.h"

#include <math.h>
#include <string.h>

/* The layout lives in hw/wire/rm_wire.h, shared with the firmware; these
 * are the names the decoder below uses for it. */
#define HEADER_SIZE RM_WIRE_HEADER_SIZE
#define CRC_SIZE RM_WIRE_CRC_SIZE
/* The COBS code byte that announces 254 data bytes and no zero after them. */
#define COBS_FULL_BLOCK 0xFF
#define INFO_MODEL_SIZE RM_WIRE_MODEL_SIZE
#define INFO_FIRMWARE_SIZE RM_WIRE_FIRMWARE_SIZE
#define INFO_SERIAL_SIZE RM_WIRE_SERIAL_SIZE
#define INFO_CHANNEL_COUNT_AT RM_WIRE_INFO_CHANNEL_COUNT_AT
#define INFO_FIXED_SIZE RM_WIRE_INFO_FIXED_SIZE
#define INFO_CHANNEL_SIZE RM_WIRE_INFO_CHANNEL_SIZE
#define SAMPLES_FIXED_SIZE RM_WIRE_SAMPLES_FIXED_SIZE
#define SAMPLE_FIXED_SIZE RM_WIRE_SAMPLE_FIXED_SIZE
#define EVENT_SIZE RM_WIRE_EVENT_SIZE
#define STATUS_SIZE RM_WIRE_STATUS_SIZE
#define ERROR_FIXED_SIZE RM_WIRE_ERROR_FIXED_SIZE
#define ERROR_TEXT_MAX RM_WIRE_ERROR_TEXT_MAX /* rm_frame_status.text less its NUL */
#define ACK_SIZE RM_WIRE_ACK_SIZE
#define SET_RATE_SIZE RM_WIRE_SET_RATE_SIZE

/* ------------------------------------------------------------------------ */
/* Little-endian fields                                                     */
/* ------------------------------------------------------------------------ */

static float get_f32(const uint8_t *p)
{
    uint32_t bits = rm_wire_get_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void get_text(char *out, size_t out_size, const uint8_t *p,
                     size_t field_size)
{
    size_t n = strnlen((const char *)p, field_size);
    if (n > out_size - 1)
        n = out_size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */
/* ------------------------------------------------------------------------ */

const char *rm_frame_type_name(rm_frame_type type)
{
    switch (type) {
    case RM_FRAME_INFO: return "INFO";
    case RM_FRAME_SAMPLES: return "SAMPLES";
    case RM_FRAME_EVENT: return "EVENT";
    case RM_FRAME_STATUS: return "STATUS";
    case RM_FRAME_ERROR: return "ERROR";
    case RM_FRAME_ACK: return "ACK";
    case RM_CMD_IDENTIFY: return "IDENTIFY";
    case RM_CMD_START: return "START";
    case RM_CMD_STOP: return "STOP";
    case RM_CMD_TARE: return "TARE";
    case RM_CMD_SET_RATE: return "SET_RATE";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Encoding: rm_frame into the shared wire writers (hw/wire/)               */
/* ------------------------------------------------------------------------ */

_Static_assert((unsigned)RM_SAMPLE_MARK == RM_WIRE_FLAG_MARK &&
                   (unsigned)RM_SAMPLE_SATURATED == RM_WIRE_FLAG_SATURATED &&
                   (unsigned)RM_SAMPLE_OVERLOAD == RM_WIRE_FLAG_OVERLOAD &&
                   (unsigned)RM_SAMPLE_TARED == RM_WIRE_FLAG_TARED,
               "sample flags travel unchanged");

static void encode_info(rm_wire_frame *w, const rm_device_info *info)
{
    rm_wire_info head = {
        .model = info->model,
        .firmware = info->firmware,
        .serial = info->serial,
        .device_kind = info->device_kind,
        .sample_rate_hz = info->sample_rate_hz,
        .channel_count = info->channel_count,
        .encoder_counts_per_turn = info->encoder_counts_per_turn,
        .roller_diameter_mm = info->roller_diameter_mm,
        .roller_width_mm = info->roller_width_mm,
        .distal_direction = info->distal_direction,
    };
    rm_wire_info_head(w, &head);
    for (unsigned i = 0; i < info->channel_count && !w->failed; i++) {
        const rm_channel_info *ch = &info->channels[i];
        rm_wire_info_channel(w, &(rm_wire_channel){
            .kind = ch->kind,
            .position_mm = ch->position_mm,
            .area_mm2 = ch->area_mm2,
            .gain_n_per_count = ch->gain_n_per_count,
            .offset_counts = ch->offset_counts,
        });
    }
}

static void encode_samples(rm_wire_frame *w, const rm_frame *f)
{
    uint8_t channels = f->u.samples.channel_count;
    rm_wire_samples_head(w, channels, f->u.samples.count);
    for (unsigned i = 0; i < f->u.samples.count && !w->failed; i++) {
        const rm_sample *s = &f->u.samples.samples[i];
        if (s->t_us < f->t_us || s->t_us - f->t_us > UINT32_MAX) {
            w->failed = 1;
            return;
        }
        rm_wire_sample(w, (uint32_t)(s->t_us - f->t_us), s->encoder, s->flags,
                       s->counts, channels);
    }
}

/* Writes the payload of f; an unknown type fails the frame. */
static void encode_payload(rm_wire_frame *w, const rm_frame *f)
{
    switch ((rm_frame_type)f->type) {
    case RM_FRAME_INFO:
        encode_info(w, &f->u.info);
        return;
    case RM_FRAME_SAMPLES:
        encode_samples(w, f);
        return;
    case RM_FRAME_EVENT:
        rm_wire_event(w, f->u.event.kind, f->u.event.value);
        return;
    case RM_FRAME_STATUS:
        rm_wire_status(w, f->u.status.streaming, f->u.status.sample_rate_hz,
                       f->u.status.dropped);
        return;
    case RM_FRAME_ERROR:
        rm_wire_error(w, f->u.status.error_code, f->u.status.text);
        return;
    case RM_FRAME_ACK:
        rm_wire_ack(w, f->u.ack.acked_type, f->u.ack.result);
        return;
    case RM_CMD_SET_RATE:
        rm_wire_u32(w, f->u.rate_hz);
        return;
    case RM_CMD_IDENTIFY:
    case RM_CMD_START:
    case RM_CMD_STOP:
    case RM_CMD_TARE:
        return;
    }
    w->failed = 1;
}

size_t rm_frame_encode(const rm_frame *f, uint8_t *out, size_t cap)
{
    uint8_t body[RM_FRAME_MAX_BODY + RM_WIRE_CRC_SIZE];
    rm_wire_frame w;
    rm_wire_begin(&w, body, sizeof body, f->type, f->seq, (uint32_t)f->t_us);
    encode_payload(&w, f);
    return rm_wire_finish(&w, out, cap);
}

/* ------------------------------------------------------------------------ */
/* Decoding payloads                                                        */
/* ------------------------------------------------------------------------ */

static bool channel_valid(const rm_channel_info *ch)
{
    return ch->kind <= RM_CHANNEL_PRESSURE_CELL && isfinite(ch->position_mm) &&
           isfinite(ch->area_mm2) && isfinite(ch->gain_n_per_count) &&
           isfinite(ch->offset_counts);
}

/* Readers that advance through a payload, the mirror of the put_* writers. */
static const uint8_t *take_u8(const uint8_t *p, uint8_t *v)
{
    *v = *p;
    return p + 1;
}

static const uint8_t *take_u32(const uint8_t *p, uint32_t *v)
{
    *v = rm_wire_get_u32(p);
    return p + 4;
}

static const uint8_t *take_f32(const uint8_t *p, float *v)
{
    *v = get_f32(p);
    return p + 4;
}

static const uint8_t *take_text(const uint8_t *p, char *out, size_t out_size,
                                size_t field_size)
{
    get_text(out, out_size, p, field_size);
    return p + field_size;
}

static bool decode_info(const uint8_t *p, size_t len, rm_device_info *info)
{
    if (len < INFO_FIXED_SIZE)
        return false;
    unsigned channels = p[INFO_CHANNEL_COUNT_AT];
    if (channels > RM_MAX_CHANNELS ||
        len != INFO_FIXED_SIZE + channels * INFO_CHANNEL_SIZE)
        return false;
    memset(info, 0, sizeof *info);
    uint8_t distal;
    p = take_text(p, info->model, sizeof info->model, INFO_MODEL_SIZE);
    p = take_text(p, info->firmware, sizeof info->firmware, INFO_FIRMWARE_SIZE);
    p = take_text(p, info->serial, sizeof info->serial, INFO_SERIAL_SIZE);
    p = take_u8(p, &info->device_kind);
    p = take_u32(p, &info->sample_rate_hz);
    p = take_u8(p, &info->channel_count);
    p = take_u32(p, &info->encoder_counts_per_turn);
    p = take_f32(p, &info->roller_diameter_mm);
    p = take_f32(p, &info->roller_width_mm);
    p = take_u8(p, &distal);
    info->distal_direction = (int8_t)distal;
    if (info->device_kind > RM_DEVICE_PROBE ||
        info->distal_direction < -1 || info->distal_direction > 1 ||
        !isfinite(info->roller_diameter_mm) || !isfinite(info->roller_width_mm))
        return false;
    for (unsigned i = 0; i < channels; i++) {
        rm_channel_info *ch = &info->channels[i];
        p = take_u8(p, &ch->kind);
        p = take_f32(p, &ch->position_mm);
        p = take_f32(p, &ch->area_mm2);
        p = take_f32(p, &ch->gain_n_per_count);
        p = take_f32(p, &ch->offset_counts);
        if (!channel_valid(ch))
            return false;
    }
    rm_device_info_default_calibration(info);
    return true;
}

static size_t samples_payload_size(unsigned channels, unsigned count)
{
    return SAMPLES_FIXED_SIZE + count * (SAMPLE_FIXED_SIZE + 4u * channels);
}

static bool decode_samples(const uint8_t *p, size_t len, rm_frame *f)
{
    if (len < SAMPLES_FIXED_SIZE)
        return false;
    unsigned channels = p[0], count = p[1];
    if (channels > RM_MAX_CHANNELS || count == 0 ||
        count > RM_FRAME_MAX_BATCH ||
        len != samples_payload_size(channels, count))
        return false;
    f->u.samples.channel_count = (uint8_t)channels;
    f->u.samples.count = (uint8_t)count;
    p += SAMPLES_FIXED_SIZE;
    for (unsigned i = 0; i < count; i++) {
        rm_sample *s = &f->u.samples.samples[i];
        s->t_us = f->t_us + rm_wire_get_u32(p);
        s->encoder = (int32_t)rm_wire_get_u32(p + 4);
        s->flags = rm_wire_get_u16(p + 8);
        p += SAMPLE_FIXED_SIZE;
        for (unsigned c = 0; c < channels; c++, p += 4)
            s->counts[c] = (int32_t)rm_wire_get_u32(p);
        memset(&s->counts[channels], 0,
               (RM_MAX_CHANNELS - channels) * sizeof s->counts[0]);
    }
    return true;
}

static bool decode_error(const uint8_t *p, size_t len, rm_frame_status *st)
{
    if (len < ERROR_FIXED_SIZE || len > ERROR_FIXED_SIZE + ERROR_TEXT_MAX)
        return false;
    memset(st, 0, sizeof *st);
    st->error_code = rm_wire_get_u16(p);
    memcpy(st->text, p + ERROR_FIXED_SIZE, len - ERROR_FIXED_SIZE);
    return memchr(st->text, '\0', len - ERROR_FIXED_SIZE) == NULL;
}

/* Fills f's payload from p; false when the length or a field is wrong for
 * the type, or the type is unknown. */
static bool decode_payload(const uint8_t *p, size_t len, rm_frame *f)
{
    switch ((rm_frame_type)f->type) {
    case RM_FRAME_INFO:
        return decode_info(p, len, &f->u.info);
    case RM_FRAME_SAMPLES:
        return decode_samples(p, len, f);
    case RM_FRAME_EVENT:
        f->u.event.kind = p[0];
        f->u.event.value = (int32_t)rm_wire_get_u32(p + 1);
        return len == EVENT_SIZE;
    case RM_FRAME_STATUS:
        if (len != STATUS_SIZE)
            return false;
        memset(&f->u.status, 0, sizeof f->u.status);
        f->u.status.streaming = p[0];
        f->u.status.sample_rate_hz = rm_wire_get_u32(p + 1);
        f->u.status.dropped = rm_wire_get_u32(p + 5);
        return true;
    case RM_FRAME_ERROR:
        return decode_error(p, len, &f->u.status);
    case RM_FRAME_ACK:
        f->u.ack.acked_type = p[0];
        f->u.ack.result = (int16_t)rm_wire_get_u16(p + 1);
        return len == ACK_SIZE;
    case RM_CMD_SET_RATE:
        f->u.rate_hz = rm_wire_get_u32(p);
        return len == SET_RATE_SIZE;
    case RM_CMD_IDENTIFY:
    case RM_CMD_START:
    case RM_CMD_STOP:
    case RM_CMD_TARE:
        return len == 0;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* The streaming decoder                                                    */
/* ------------------------------------------------------------------------ */

/* The decoded buffer holds a body of up to RM_FRAME_MAX_BODY bytes and the
 * CRC; the fixed-size payloads read above stay inside it even when a frame
 * is shorter than its type needs (the length check then rejects it). */
#define DECODED_MAX (RM_FRAME_MAX_BODY + CRC_SIZE)

void rm_decoder_init(rm_decoder *d)
{
    memset(d, 0, sizeof *d);
}

static void start_next_frame(rm_decoder *d)
{
    d->len = 0;
    d->wire_len = 0;
    d->cobs_left = 0;
    d->cobs_zero_next = false;
    d->discarding = false;
}

static void reject_frame(rm_decoder *d, uint64_t *counter)
{
    (*counter)++;
    d->stats.bytes_discarded += d->wire_len;
}

/* The 64-bit time of a frame stamped t32: the last time plus the signed
 * step of the 32-bit device clock, so it unwraps across 2^32 us and follows
 * a clock that steps back (a device that reset its clock). */
static uint64_t unwrapped_time(const rm_decoder *d, uint32_t t32)
{
    if (!d->have_seq)
        return t32;
    int64_t step = (int32_t)(t32 - d->last_t32);
    if (step < 0 && (uint64_t)-step > d->last_t_us)
        return t32;
    return d->last_t_us + (uint64_t)step;
}

static bool is_reset_event(const rm_frame *f)
{
    return f->type == RM_FRAME_EVENT && f->u.event.kind == RM_DEV_EVENT_RESET;
}

static void track_sequence(rm_decoder *d, const rm_frame *f)
{
    if (d->have_seq && !is_reset_event(f)) {
        uint16_t missing = (uint16_t)(f->seq - (uint16_t)(d->last_seq + 1));
        if (missing) {
            d->stats.seq_gaps++;
            d->stats.frames_lost += missing;
        }
    }
    d->last_seq = f->seq;
    d->have_seq = true;
}

/* A delimiter arrived: check the collected body and turn it into *out. */
static bool finish_frame(rm_decoder *d, rm_frame *out)
{
    if (d->discarding) {
        reject_frame(d, &d->stats.oversized);
        return false;
    }
    if (d->wire_len == 0)
        return false; /* back-to-back delimiters carry nothing */
    if (d->cobs_left != 0 || d->len < HEADER_SIZE + CRC_SIZE) {
        reject_frame(d, &d->stats.malformed);
        return false;
    }
    size_t body_len = d->len - CRC_SIZE;
    if (rm_crc32c(0, d->buf, body_len) != rm_wire_get_u32(d->buf + body_len)) {
        reject_frame(d, &d->stats.crc_errors);
        return false;
    }
    out->type = d->buf[0];
    out->seq = rm_wire_get_u16(d->buf + 1);
    uint32_t t32 = rm_wire_get_u32(d->buf + 3);
    out->t_us = unwrapped_time(d, t32);
    if (!decode_payload(d->buf + HEADER_SIZE, body_len - HEADER_SIZE, out)) {
        reject_frame(d, &d->stats.malformed);
        return false;
    }
    if (is_reset_event(out)) {
        d->have_seq = false; /* a new clock and sequence start here */
        out->t_us = t32;
    }
    d->last_t32 = t32;
    d->last_t_us = out->t_us;
    track_sequence(d, out);
    d->stats.frames_ok++;
    return true;
}

/* Consumes the non-zero bytes at data[0..n) of the current frame, undoing
 * COBS into d->buf. This is the decoder's inner loop: the state lives in
 * locals and runs (usually a few bytes between zeros) are copied inline. */
static void take_frame_bytes(rm_decoder *d, const uint8_t *data, size_t n)
{
    d->wire_len += n;
    if (d->discarding)
        return;
    const uint8_t *end = data + n;
    uint8_t *buf = d->buf;
    size_t len = d->len;
    size_t left = d->cobs_left;
    bool zero_next = d->cobs_zero_next;
    while (data < end) {
        if (left == 0) {
            if (zero_next && len < DECODED_MAX)
                buf[len++] = 0;
            else if (zero_next)
                break; /* too long: oversized */
            left = (size_t)*data - 1;
            zero_next = *data++ != COBS_FULL_BLOCK;
            continue;
        }
        size_t run = (size_t)(end - data) < left ? (size_t)(end - data) : left;
        if (len + run > DECODED_MAX)
            break;
        for (size_t i = 0; i < run; i++)
            buf[len + i] = data[i];
        len += run;
        data += run;
        left -= run;
    }
    d->discarding = data < end;
    d->len = len;
    d->cobs_left = (uint8_t)left;
    d->cobs_zero_next = zero_next;
}

/* The common case, a whole frame in one piece whose blocks are all shorter
 * than 254 bytes: then every block ends in a zero, so the body is the wire
 * bytes moved one place left with each code byte after the first turned
 * into the zero it stands for. Only the chain of code bytes is walked.
 * False for any other frame, with only d->buf overwritten (take_frame_bytes
 * then decodes it from the start, and rejects it if malformed). */
static bool take_whole_frame(rm_decoder *d, const uint8_t *data, size_t n)
{
    if (n == 0 || n - 1 > DECODED_MAX || data[0] == COBS_FULL_BLOCK)
        return false;
    memcpy(d->buf, data + 1, n - 1);
    /* A pointer, not an index, keeps the chain of loads one add long. */
    const uint8_t *code = data + data[0], *end = data + n;
    uint8_t *zero = d->buf + (data[0] - 1); /* data holds no zero: data[0] >= 1 */
    while (code < end) {
        uint8_t step = *code;
        if (step == COBS_FULL_BLOCK)
            return false;
        *zero = 0;
        code += step;
        zero += step;
    }
    if (code != end)
        return false;
    d->len = n - 1;
    d->wire_len = n;
    return true;
}

size_t rm_decoder_push(rm_decoder *d, const uint8_t *data, size_t len,
                       rm_frame *out, bool *have_frame)
{
    size_t used = 0;
    *have_frame = false;
    while (used < len && !*have_frame) {
        const uint8_t *delim = memchr(data + used, 0x00, len - used);
        size_t n = delim ? (size_t)(delim - (data + used)) : len - used;
        bool whole = delim && d->wire_len == 0 &&
                     take_whole_frame(d, data + used, n);
        if (!whole)
            take_frame_bytes(d, data + used, n);
        used += n;
        if (!delim)
            break;
        used++; /* the delimiter */
        *have_frame = finish_frame(d, out);
        start_next_frame(d);
    }
    d->stats.bytes += used;
    return used;
}
