/* The wire format (rm_wire.h): payload writers, CRC-32C, COBS. Shared by
 * the host and the firmware; see rm_wire.h for what it may use. */
#include "rm_wire.h"
#include "wire_target.h"

#include <string.h>

#define COBS_FULL_BLOCK 0xFF /* code byte of 254 data bytes with no zero after */

/* ------------------------------------------------------------------------ */
/* CRC-32C, one table lookup per byte                                       */
/* ------------------------------------------------------------------------ */

#define CRC32C_POLY_REFLECTED 0x82F63B78u

/* The table is computed by the compiler: CRC_ENTRY(i) runs the eight
 * bitwise steps of the reflected CRC on byte i. */
#define CRC_STEP(c) (((c) >> 1) ^ ((0u - ((c) & 1u)) & CRC32C_POLY_REFLECTED))
#define CRC_ENTRY(i)                                                         \
    CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(                                      \
        CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP((uint32_t)(i)))))))))
#define CRC_ROW4(i) CRC_ENTRY(i), CRC_ENTRY(i + 1), CRC_ENTRY(i + 2), CRC_ENTRY(i + 3)
#define CRC_ROW16(i) CRC_ROW4(i), CRC_ROW4(i + 4), CRC_ROW4(i + 8), CRC_ROW4(i + 12)
#define CRC_ROW64(i) CRC_ROW16(i), CRC_ROW16(i + 16), CRC_ROW16(i + 32), CRC_ROW16(i + 48)

static const uint32_t crc_table[256] RM_WIRE_FLASH = {
    CRC_ROW64(0), CRC_ROW64(64), CRC_ROW64(128), CRC_ROW64(192)
};

uint32_t rm_wire_crc32c(uint32_t crc, const uint8_t *data, size_t len)
{
    crc = ~crc;
    while (len--)
        crc = (crc >> 8) ^ RM_WIRE_FLASH_U32(&crc_table[(crc ^ *data++) & 0xFF]);
    return ~crc;
}

/* ------------------------------------------------------------------------ */
/* Fields                                                                   */
/* ------------------------------------------------------------------------ */

/* Room for n more payload bytes, leaving the CRC's place free. */
static uint8_t *reserve(rm_wire_frame *w, size_t n)
{
    size_t limit = w->cap - RM_WIRE_CRC_SIZE;
    if (limit > RM_WIRE_MAX_BODY)
        limit = RM_WIRE_MAX_BODY;
    if (w->failed || w->len + n > limit) {
        w->failed = 1;
        return NULL;
    }
    uint8_t *p = w->body + w->len;
    w->len += n;
    return p;
}

static void put_le(uint8_t *p, uint32_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_number(rm_wire_frame *w, uint32_t v, unsigned bytes)
{
    uint8_t *p = reserve(w, bytes);
    if (p)
        put_le(p, v, bytes);
}

void rm_wire_u8(rm_wire_frame *w, uint8_t v)
{
    put_number(w, v, 1);
}

void rm_wire_u16(rm_wire_frame *w, uint16_t v)
{
    put_number(w, v, 2);
}

void rm_wire_u32(rm_wire_frame *w, uint32_t v)
{
    put_number(w, v, 4);
}

void rm_wire_f32(rm_wire_frame *w, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_number(w, bits, 4);
}

static size_t text_length(const char *text, size_t max)
{
    size_t n = 0;
    while (n < max && text[n])
        n++;
    return n;
}

void rm_wire_text(rm_wire_frame *w, const char *text, size_t field_size)
{
    uint8_t *p = reserve(w, field_size);
    if (!p)
        return;
    size_t n = text_length(text, field_size - 1);
    memcpy(p, text, n);
    memset(p + n, 0, field_size - n);
}

uint16_t rm_wire_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t rm_wire_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------------ */
/* Frames and payloads                                                      */
/* ------------------------------------------------------------------------ */

void rm_wire_begin(rm_wire_frame *w, uint8_t *body, size_t cap, uint8_t type,
                   uint16_t seq, uint32_t time_us)
{
    w->body = body;
    w->cap = cap;
    w->len = 0;
    w->failed = cap < RM_WIRE_HEADER_SIZE + RM_WIRE_CRC_SIZE;
    rm_wire_u8(w, type);
    rm_wire_u16(w, seq);
    rm_wire_u32(w, time_us);
}

void rm_wire_info_head(rm_wire_frame *w, const rm_wire_info *info)
{
    if (info->channel_count > RM_WIRE_MAX_CHANNELS)
        w->failed = 1;
    rm_wire_text(w, info->model, RM_WIRE_MODEL_SIZE);
    rm_wire_text(w, info->firmware, RM_WIRE_FIRMWARE_SIZE);
    rm_wire_text(w, info->serial, RM_WIRE_SERIAL_SIZE);
    rm_wire_u8(w, info->device_kind);
    rm_wire_u32(w, info->sample_rate_hz);
    rm_wire_u8(w, info->channel_count);
    rm_wire_u32(w, info->encoder_counts_per_turn);
    rm_wire_f32(w, info->roller_diameter_mm);
    rm_wire_f32(w, info->roller_width_mm);
    rm_wire_u8(w, (uint8_t)info->distal_direction);
}

void rm_wire_info_channel(rm_wire_frame *w, const rm_wire_channel *ch)
{
    rm_wire_u8(w, ch->kind);
    rm_wire_f32(w, ch->position_mm);
    rm_wire_f32(w, ch->area_mm2);
    rm_wire_f32(w, ch->gain_n_per_count);
    rm_wire_f32(w, ch->offset_counts);
}

void rm_wire_samples_head(rm_wire_frame *w, uint8_t channels, uint8_t count)
{
    size_t payload = RM_WIRE_SAMPLES_FIXED_SIZE +
                     (size_t)count * (RM_WIRE_SAMPLE_FIXED_SIZE + 4u * channels);
    if (channels > RM_WIRE_MAX_CHANNELS || count == 0 ||
        count > RM_WIRE_MAX_BATCH ||
        RM_WIRE_HEADER_SIZE + payload > RM_WIRE_MAX_BODY)
        w->failed = 1;
    rm_wire_u8(w, channels);
    rm_wire_u8(w, count);
}

void rm_wire_sample(rm_wire_frame *w, uint32_t dt_us, int32_t encoder,
                    uint16_t flags, const int32_t *counts, uint8_t channels)
{
    rm_wire_u32(w, dt_us);
    rm_wire_u32(w, (uint32_t)encoder);
    rm_wire_u16(w, flags);
    for (uint8_t c = 0; c < channels; c++)
        rm_wire_u32(w, (uint32_t)counts[c]);
}

void rm_wire_event(rm_wire_frame *w, uint8_t kind, int32_t value)
{
    rm_wire_u8(w, kind);
    rm_wire_u32(w, (uint32_t)value);
}

void rm_wire_status(rm_wire_frame *w, uint8_t streaming,
                    uint32_t sample_rate_hz, uint32_t dropped)
{
    rm_wire_u8(w, streaming);
    rm_wire_u32(w, sample_rate_hz);
    rm_wire_u32(w, dropped);
}

void rm_wire_error(rm_wire_frame *w, uint16_t code, const char *text)
{
    size_t n = text_length(text, RM_WIRE_ERROR_TEXT_MAX);
    rm_wire_u16(w, code);
    uint8_t *p = reserve(w, n);
    if (p)
        memcpy(p, text, n);
}

void rm_wire_ack(rm_wire_frame *w, uint8_t acked_type, int16_t result)
{
    rm_wire_u8(w, acked_type);
    rm_wire_u16(w, (uint16_t)result);
}

/* ------------------------------------------------------------------------ */
/* COBS                                                                     */
/* ------------------------------------------------------------------------ */

/* Every zero becomes the length of the run before it, so the only zero on
 * the wire is the delimiter. out has room for len + len / 254 + 1 bytes. */
static size_t cobs_encode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t code_at = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
            continue;
        }
        out[o++] = in[i];
        if (++code == COBS_FULL_BLOCK && i + 1 < len) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        }
    }
    out[code_at] = code;
    return o;
}

size_t rm_wire_finish(rm_wire_frame *w, uint8_t *out, size_t cap)
{
    if (w->failed || cap < RM_WIRE_ENCODED_MAX(w->len))
        return 0;
    uint32_t crc = rm_wire_crc32c(0, w->body, w->len);
    put_le(w->body + w->len, crc, RM_WIRE_CRC_SIZE);
    size_t n = cobs_encode(w->body, w->len + RM_WIRE_CRC_SIZE, out);
    out[n++] = 0x00;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                */
/* ------------------------------------------------------------------------ */

void rm_wire_receiver_init(rm_wire_receiver *r, uint8_t *buf, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->cap = cap;
}

static void keep_byte(rm_wire_receiver *r, uint8_t byte)
{
    if (r->len < r->cap)
        r->buf[r->len++] = byte;
    else
        r->overflow = 1;
}

/* The frame that just ended: its body length if whole and its CRC right. */
static size_t checked_body(const rm_wire_receiver *r)
{
    if (r->overflow || r->run_left != 0 ||
        r->len < RM_WIRE_HEADER_SIZE + RM_WIRE_CRC_SIZE)
        return 0;
    size_t body = r->len - RM_WIRE_CRC_SIZE;
    if (rm_wire_crc32c(0, r->buf, body) != rm_wire_get_u32(r->buf + body))
        return 0;
    return body;
}

size_t rm_wire_receive(rm_wire_receiver *r, uint8_t byte)
{
    if (byte == 0x00) {
        size_t body = checked_body(r);
        r->len = 0;
        r->run_left = 0;
        r->zero_next = 0;
        r->overflow = 0;
        return body;
    }
    if (r->run_left > 0) {
        keep_byte(r, byte);
        r->run_left--;
        return 0;
    }
    if (r->zero_next)
        keep_byte(r, 0x00);
    r->run_left = (uint8_t)(byte - 1);
    r->zero_next = byte != COBS_FULL_BLOCK;
    return 0;
}
