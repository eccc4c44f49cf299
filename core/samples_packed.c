/*
 * Bit-packed sample blocks (format version 3, docs/FORMAT.md "Type 1:
 * samples"). Each value of a sample (time, flags, encoder, every channel)
 * is a column: the first sample's value, the smallest difference from one
 * sample to the next, and then each difference less that smallest one, in
 * a fixed number of bits chosen per block and column, packed least
 * significant bit first. A reader takes every value with one 8-byte load,
 * a shift and a mask and adds two numbers; the varints of versions 1 and 2
 * needed a loop and a branch per byte.
 */
#include "session_internal.h"

#include <string.h>

/* Payload layout after the 8-byte prefix (period, channel count). */
#define TIME_HEADER_SIZE 9        /* smallest step (8 bytes), bits per step */
#define COLUMN_HEADER_SIZE 9      /* first value, smallest step (4 bytes each), bits per step */
#define TAIL_PADDING 8            /* zero bytes after the bits: any 8-byte load is inside */
#define TIME_WIDTH_MAX 64
#define INT_WIDTH_MAX 32
#define ONE_LOAD_WIDTH_MAX 57     /* a value this wide never spans 9 bytes */

/* Flags and encoder come before the channels. */
enum { FLAGS_COLUMN, ENCODER_COLUMN, FIRST_CHANNEL_COLUMN };

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static void store_le64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, sizeof v);
}

static unsigned bits_needed(uint64_t max)
{
    return max ? 64 - (unsigned)__builtin_clzll(max) : 0;
}

static uint64_t width_mask(unsigned width)
{
    return width >= 64 ? UINT64_MAX : (UINT64_C(1) << width) - 1;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct bit_writer {
    uint8_t *p;
    uint64_t pending;         /* bits not yet stored, from bit 0 */
    unsigned used;            /* how many */
} bit_writer;

static void put_bits(bit_writer *w, uint64_t v, unsigned width)
{
    if (width == 0)
        return;
    w->pending |= v << w->used;
    if (w->used + width < 64) {
        w->used += width;
        return;
    }
    store_le64(w->p, w->pending);
    w->p += 8;
    w->pending = w->used ? v >> (64 - w->used) : 0;
    w->used = w->used + width - 64;
}

static void flush_bits(bit_writer *w)
{
    for (unsigned bit = 0; bit < w->used; bit += 8)
        *w->p++ = (uint8_t)(w->pending >> bit);
    memset(w->p, 0, TAIL_PADDING);
    w->p += TAIL_PADDING;
}

/* A column's smallest step and the bits its steps need above that. */
typedef struct step_range {
    uint64_t smallest;        /* two's complement: steps may be negative */
    unsigned width;
} step_range;

static uint64_t time_step(const rm_sample *s, size_t i)
{
    return s[i].t_us - s[i - 1].t_us;
}

static uint32_t column_value(const rm_sample *s, unsigned column)
{
    switch (column) {
    case FLAGS_COLUMN: return s->flags;
    case ENCODER_COLUMN: return (uint32_t)s->encoder;
    default: return (uint32_t)s->counts[column - FIRST_CHANNEL_COLUMN];
    }
}

/* 32-bit wrap-around: from INT32_MIN to INT32_MAX is a step of -1. */
static uint32_t column_step(const rm_sample *s, size_t i, unsigned column)
{
    return column_value(&s[i], column) - column_value(&s[i - 1], column);
}

static step_range time_steps(const rm_sample *s, size_t count)
{
    int64_t smallest = count > 1 ? (int64_t)time_step(s, 1) : 0;
    for (size_t i = 2; i < count; i++)
        if ((int64_t)time_step(s, i) < smallest)
            smallest = (int64_t)time_step(s, i);
    uint64_t above = 0;
    for (size_t i = 1; i < count; i++)
        above |= time_step(s, i) - (uint64_t)smallest;
    return (step_range){(uint64_t)smallest, bits_needed(above)};
}

static step_range column_steps(const rm_sample *s, size_t count, unsigned column)
{
    int32_t smallest = count > 1 ? (int32_t)column_step(s, 1, column) : 0;
    for (size_t i = 2; i < count; i++)
        if ((int32_t)column_step(s, i, column) < smallest)
            smallest = (int32_t)column_step(s, i, column);
    uint32_t above = 0;
    for (size_t i = 1; i < count; i++)
        above |= column_step(s, i, column) - (uint32_t)smallest;
    return (step_range){(uint32_t)smallest, bits_needed(above)};
}

bool core_samples_encode_packed(rm_bytes *out, const rm_sample *s, size_t count,
                                uint8_t channel_count, uint32_t period_us)
{
    unsigned columns = FIRST_CHANNEL_COLUMN + channel_count;
    step_range time = time_steps(s, count);
    step_range steps[FIRST_CHANNEL_COLUMN + RM_MAX_CHANNELS];
    uint64_t bits = (uint64_t)(count - 1) * time.width;
    for (unsigned c = 0; c < columns; c++) {
        steps[c] = column_steps(s, count, c);
        bits += (uint64_t)(count - 1) * steps[c].width;
    }
    size_t size = RM_SAMPLES_PREFIX_SIZE + TIME_HEADER_SIZE + columns * COLUMN_HEADER_SIZE +
                  (size_t)((bits + 7) / 8) + TAIL_PADDING;
    if (!core_bytes_reserve(out, size))
        return false;
    uint8_t *p = core_samples_prefix_put(out->data + out->len, channel_count, period_us);
    core_put_le64(p, time.smallest);
    p[8] = (uint8_t)time.width;
    p += TIME_HEADER_SIZE;
    for (unsigned c = 0; c < columns; c++, p += COLUMN_HEADER_SIZE) {
        core_put_le32(p, column_value(&s[0], c));
        core_put_le32(p + 4, (uint32_t)steps[c].smallest);
        p[8] = (uint8_t)steps[c].width;
    }
    bit_writer w = {p, 0, 0};
    for (size_t i = 1; i < count; i++)
        put_bits(&w, time_step(s, i) - time.smallest, time.width);
    for (unsigned c = 0; c < columns; c++)
        for (size_t i = 1; i < count; i++)
            put_bits(&w, column_step(s, i, c) - (uint32_t)steps[c].smallest, steps[c].width);
    flush_bits(&w);
    out->len += size;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

/* One column's steps: smallest + `width` bits each from bit `pos` of
 * `bits`. */
typedef struct bit_column {
    const uint8_t *bits;
    uint64_t pos;
    uint64_t smallest;
    unsigned width;
    uint64_t mask;
} bit_column;

/* Widths up to ONE_LOAD_WIDTH_MAX: one load, whatever the bit offset. */
static inline uint64_t take_narrow(bit_column *c)
{
    uint64_t v = load_le64(c->bits + (c->pos >> 3)) >> (c->pos & 7) & c->mask;
    c->pos += c->width;
    return v;
}

/* Any width up to 64: a value starting late in a byte spills into a 9th. */
static uint64_t take_wide(bit_column *c)
{
    unsigned shift = (unsigned)(c->pos & 7);
    const uint8_t *p = c->bits + (c->pos >> 3);
    uint64_t v = load_le64(p) >> shift;
    if (shift + c->width > 64)
        v |= (uint64_t)p[8] << (64 - shift);
    c->pos += c->width;
    return v & c->mask;
}

static bool unpack_times(bit_column *c, const rm_block_entry *e,
                         const core_sample_sink *out)
{
    uint64_t t = e->t_first_us;
    uint8_t *p = out->t_us;
    memcpy(p, &t, sizeof t);
    uint64_t smallest = c->smallest;
    size_t stride = out->t_stride;
    if (c->width == 0) /* steady timing: no bits to read (see unpack_int32s) */
        for (uint32_t i = 1; i < e->sample_count; i++) {
            t += smallest;
            p += stride;
            memcpy(p, &t, sizeof t);
        }
    else
        for (uint32_t i = 1; i < e->sample_count; i++) {
            t += smallest + take_wide(c);
            p += stride;
            memcpy(p, &t, sizeof t);
        }
    return t == e->t_last_us;
}

/* The column's values into the 4-byte fields from p on, stride apart. */
static inline void unpack_int32s(bit_column *c, uint32_t first, uint32_t n,
                                 uint8_t *p, size_t stride)
{
    uint32_t v = first, smallest = (uint32_t)c->smallest;
    memcpy(p, &v, sizeof v);
    /* A column whose every step is the smallest (a quiet channel, an
     * encoder at rest) has no bits: its own loop skips reading them. */
    if (c->width == 0)
        for (uint32_t i = 1; i < n; i++) {
            v += smallest;
            p += stride;
            memcpy(p, &v, sizeof v);
        }
    else
        for (uint32_t i = 1; i < n; i++) {
            v += smallest + (uint32_t)take_narrow(c);
            p += stride;
            memcpy(p, &v, sizeof v);
        }
}

static void unpack_flags(bit_column *c, uint32_t first, uint32_t n,
                         const core_sample_sink *out)
{
    uint32_t v = first, smallest = (uint32_t)c->smallest;
    uint8_t *p = out->flags;
    size_t stride = out->flags_stride;
    uint16_t flags = (uint16_t)v;
    memcpy(p, &flags, sizeof flags);
    if (c->width == 0) /* mostly no flag at all: no bits (see unpack_int32s) */
        for (uint32_t i = 1; i < n; i++) {
            v += smallest;
            flags = (uint16_t)v;
            p += stride;
            memcpy(p, &flags, sizeof flags);
        }
    else
        for (uint32_t i = 1; i < n; i++) {
            v += smallest + (uint32_t)take_narrow(c);
            flags = (uint16_t)v;
            p += stride;
            memcpy(p, &flags, sizeof flags);
        }
}

/* A channel the sink has no room for: its bits are passed over. */
static void skip_column(bit_column *c, uint32_t n)
{
    c->pos += (uint64_t)(n - 1) * c->width;
}

/* The next column's bits follow those of the column just read. */
static void next_column(bit_column *c, const uint8_t header[COLUMN_HEADER_SIZE])
{
    c->smallest = rm_get_le32(header + 4);
    c->width = header[8];
    c->mask = width_mask(c->width);
}

bool core_samples_decode_packed(const uint8_t *payload, const rm_block_entry *e,
                                const core_sample_sink *out)
{
    uint32_t n = e->sample_count;
    size_t head = RM_SAMPLES_PREFIX_SIZE + TIME_HEADER_SIZE;
    if (e->payload_length < head || n == 0)
        return false;
    unsigned channels = payload[4];
    const uint8_t *time_head = payload + RM_SAMPLES_PREFIX_SIZE;
    unsigned t_width = time_head[8];
    if (channels > RM_MAX_CHANNELS || t_width > TIME_WIDTH_MAX)
        return false;
    unsigned columns = FIRST_CHANNEL_COLUMN + channels;
    const uint8_t *column_head = payload + head;
    head += columns * COLUMN_HEADER_SIZE;
    if (e->payload_length < head)
        return false;
    uint64_t bits = (uint64_t)(n - 1) * t_width;
    for (unsigned c = 0; c < columns; c++) {
        unsigned width = column_head[c * COLUMN_HEADER_SIZE + 8];
        if (width > INT_WIDTH_MAX)
            return false;
        bits += (uint64_t)(n - 1) * width;
    }
    if (e->payload_length != head + (bits + 7) / 8 + TAIL_PADDING)
        return false;

    bit_column col = {payload + head, 0, rm_get_le64(time_head), t_width,
                      width_mask(t_width)};
    if (!unpack_times(&col, e, out))
        return false;
    for (unsigned c = 0; c < columns; c++) {
        const uint8_t *h = column_head + c * COLUMN_HEADER_SIZE;
        next_column(&col, h);
        uint32_t first = rm_get_le32(h);
        unsigned channel = c - FIRST_CHANNEL_COLUMN;
        if (c == FLAGS_COLUMN)
            unpack_flags(&col, first, n, out);
        else if (c == ENCODER_COLUMN)
            unpack_int32s(&col, first, n, out->encoder, out->int32_stride);
        else if (channel < out->channels)
            unpack_int32s(&col, first, n, out->counts[channel], out->int32_stride);
        else
            skip_column(&col, n);
    }
    core_sink_zero_channels(out, channels, n);
    return true;
}
