/*
 * Bit-packed sample blocks (format version 3, docs/FORMAT.md "Type 1:
 * samples"). Each value of a sample (time, flags, encoder, every channel)
 * is a column: the first sample's value, the smallest difference from one
 * sample to the next, and then each difference less that smallest one, in
 * a fixed number of bits chosen per block and column, packed least
 * significant bit first. A reader takes every value with one 8-byte load,
 * a shift and a mask and adds two numbers; the varints of versions 1 and 2
 * needed a loop and a branch per byte. With AVX2 it takes eight values at
 * a time (unpack_groups).
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
 * `bits`. No load reaches `end`, the end of the payload. */
typedef struct bit_column {
    const uint8_t *bits, *end;
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

/* The loops below work on a local copy of the column: the output is
 * written through a uint8_t pointer, which may alias anything, so the
 * fields of a column reached through a pointer would be loaded again
 * after every store. */
static bool unpack_times(bit_column *c, const rm_block_entry *e,
                         const core_sample_sink *out)
{
    bit_column col = *c;
    uint64_t t = e->t_first_us;
    uint8_t *p = out->t_us;
    memcpy(p, &t, sizeof t);
    uint64_t smallest = col.smallest;
    size_t stride = out->t_stride;
    if (col.width == 0) /* steady timing: no bits to read (see unpack_column) */
        for (uint32_t i = 1; i < e->sample_count; i++) {
            t += smallest;
            p += stride;
            memcpy(p, &t, sizeof t);
        }
    else
        for (uint32_t i = 1; i < e->sample_count; i++) {
            t += smallest + take_wide(&col);
            p += stride;
            memcpy(p, &t, sizeof t);
        }
    c->pos = col.pos;
    return t == e->t_last_us;
}

/* A value into a field of `size` bytes: 4, or 2 for the flags, which
 * keep the low bits of their 32-bit running value. */
static inline void store_value(uint8_t *p, uint32_t v, size_t size)
{
    if (size == sizeof(uint16_t)) {
        uint16_t low = (uint16_t)v;
        memcpy(p, &low, sizeof low);
    } else {
        memcpy(p, &v, sizeof v);
    }
}

/* A column whose every step is the smallest (a quiet channel, an encoder
 * at rest, no flags) has no bits: `count` values after *v without
 * reading any. */
static inline void fill_steady(const bit_column *c, uint32_t *v, uint32_t count,
                               uint8_t *p, size_t stride, size_t size)
{
    uint32_t value = *v, smallest = (uint32_t)c->smallest;
    for (uint32_t i = 0; i < count; i++, p += stride) {
        value += smallest;
        store_value(p, value, size);
    }
    *v = value;
}

/* `count` values after *v, one step each, a value at a time. */
static inline void unpack_steps(bit_column *c, uint32_t *v, uint32_t count,
                                uint8_t *p, size_t stride, size_t size)
{
    bit_column col = *c;
    uint32_t value = *v, smallest = (uint32_t)col.smallest;
    for (uint32_t i = 0; i < count; i++, p += stride) {
        value += smallest + (uint32_t)take_narrow(&col);
        store_value(p, value, size);
    }
    c->pos = col.pos;
    *v = value;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ROLLMAP_PORTABLE)
#include <immintrin.h>

#define AVX2_UNPACKER
#define AVX2 __attribute__((target("avx2")))
enum { LANES = 8, LOAD_BYTES = 32 };

/* Eight values a step with AVX2. Eight values of w bits are w bytes, so
 * every group of eight starts at the same bit of a byte and one plan
 * serves the whole column: two 32-byte loads, one from the group's first
 * byte for values 0, 1, 4 and 5, one from value 2's byte for values 2, 3,
 * 6 and 7 (one shuffle of the two then puts them in order). Within a
 * load a value's 64 bits are two adjacent dwords (vpermd) shifted right
 * by its bit in the lower one (vpsrlvq); each value is at most 32 bits
 * wide and starts at most five values and 7 bits in, so it ends by bit
 * 200 of the 256 loaded. */
typedef struct lane_plan {
    __m256i pick[2];          /* per load: each value's pair of dwords */
    __m256i shift[2];         /* per load: each value's bit in its pair */
    size_t second_load;       /* the second load's byte in the group */
    size_t bytes_read;        /* from the group's first byte */
} lane_plan;

AVX2 static lane_plan plan_lanes(unsigned first_bit, unsigned width)
{
    static const unsigned lane_value[2][4] = {{0, 1, 4, 5}, {2, 3, 6, 7}};
    size_t load_byte[2] = {0, (first_bit + 2 * width) / 8};
    lane_plan plan;
    for (int load = 0; load < 2; load++) {
        int32_t pick[LANES];
        int64_t shift[4];
        for (int lane = 0; lane < 4; lane++) {
            size_t bit = first_bit + lane_value[load][lane] * width - 8 * load_byte[load];
            pick[2 * lane] = (int32_t)(bit / 32);
            pick[2 * lane + 1] = (int32_t)(bit / 32 + 1);
            shift[lane] = (int64_t)(bit % 32);
        }
        plan.pick[load] = _mm256_loadu_si256((const __m256i *)pick);
        plan.shift[load] = _mm256_loadu_si256((const __m256i *)shift);
    }
    plan.second_load = load_byte[1];
    plan.bytes_read = load_byte[1] + LOAD_BYTES;
    return plan;
}

/* The steps of the eight values from `group` on, smallest added. */
AVX2 static __m256i group_steps(const uint8_t *group, const lane_plan *plan,
                                __m256i mask, __m256i smallest)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)group);
    __m256i b = _mm256_loadu_si256((const __m256i *)(group + plan->second_load));
    a = _mm256_srlv_epi64(_mm256_permutevar8x32_epi32(a, plan->pick[0]), plan->shift[0]);
    b = _mm256_srlv_epi64(_mm256_permutevar8x32_epi32(b, plan->pick[1]), plan->shift[1]);
    __m256i in_order = _mm256_castps_si256(_mm256_shuffle_ps(
        _mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _MM_SHUFFLE(2, 0, 2, 0)));
    return _mm256_add_epi32(_mm256_and_si256(in_order, mask), smallest);
}

/* Running sums of the eight lanes: within each half by shifting and
 * adding, then the lower half's total added to the upper half. */
AVX2 static __m256i prefix_sums(__m256i x)
{
    x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
    x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8));
    __m256i half_totals = _mm256_shuffle_epi32(x, _MM_SHUFFLE(3, 3, 3, 3));
    return _mm256_add_epi32(x, _mm256_permute2x128_si256(half_totals, half_totals, 0x08));
}

static inline void store_lanes(const uint32_t lanes[LANES], uint8_t *p,
                               size_t stride, size_t size)
{
    for (size_t k = 0; k < LANES; k++)
        store_value(p + k * stride, lanes[k], size);
}

AVX2 static void put_lanes(__m256i v, uint8_t *p, size_t stride, size_t size)
{
    if (size == sizeof(uint32_t) && stride == size) { /* columns */
        _mm256_storeu_si256((__m256i *)p, v);
        return;
    }
    uint32_t lanes[LANES];
    _mm256_storeu_si256((__m256i *)lanes, v);
    /* each size a loop of its own, which the compiler unrolls */
    if (size == sizeof(uint16_t))
        store_lanes(lanes, p, stride, sizeof(uint16_t));
    else
        store_lanes(lanes, p, stride, sizeof(uint32_t));
}

/* How many groups of eight of `count` values are read with every load
 * inside the payload. */
static uint32_t whole_groups(const bit_column *c, const lane_plan *plan,
                             uint32_t count)
{
    size_t readable = (size_t)(c->end - (c->bits + c->pos / 8));
    if (readable < plan->bytes_read)
        return 0;
    size_t fit = (readable - plan->bytes_read) / c->width + 1;
    return count / LANES < fit ? count / LANES : (uint32_t)fit;
}

/* As unpack_steps, a group of eight at a time for as many as fit;
 * returns how many values it wrote. Width 1 to 32. */
AVX2 static uint32_t unpack_groups(bit_column *c, uint32_t *v, uint32_t count,
                                   uint8_t *p, size_t stride, size_t size)
{
    lane_plan plan = plan_lanes((unsigned)(c->pos % 8), c->width);
    uint32_t groups = whole_groups(c, &plan, count);
    size_t width = c->width;
    const uint8_t *group = c->bits + c->pos / 8;
    __m256i mask = _mm256_set1_epi32((int32_t)(uint32_t)c->mask);
    __m256i smallest = _mm256_set1_epi32((int32_t)(uint32_t)c->smallest);
    __m256i last_lane = _mm256_set1_epi32(LANES - 1);
    __m256i running = _mm256_set1_epi32((int32_t)*v);
    for (uint32_t g = 0; g < groups; g++, group += width, p += LANES * stride) {
        __m256i sums = prefix_sums(group_steps(group, &plan, mask, smallest));
        put_lanes(_mm256_add_epi32(sums, running), p, stride, size);
        running = _mm256_add_epi32(running, _mm256_permutevar8x32_epi32(sums, last_lane));
    }
    c->pos += (uint64_t)groups * LANES * width;
    *v = (uint32_t)_mm256_cvtsi256_si32(running);
    return groups * LANES;
}

static bool processor_has_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

/* The column's n values (its first, then one step each) into fields of
 * `size` bytes from p on, stride apart. */
static inline void unpack_column(bit_column *c, uint32_t first, uint32_t n,
                                 uint8_t *p, size_t stride, size_t size)
{
    uint32_t v = first, steps = n - 1;
    store_value(p, v, size);
    p += stride;
    if (c->width == 0) {
        fill_steady(c, &v, steps, p, stride, size);
        return;
    }
#ifdef AVX2_UNPACKER
    if (processor_has_avx2()) {
        uint32_t done = unpack_groups(c, &v, steps, p, stride, size);
        steps -= done;
        p += done * stride;
    }
#endif
    unpack_steps(c, &v, steps, p, stride, size);
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

    bit_column col = {payload + head, payload + e->payload_length, 0,
                      rm_get_le64(time_head), t_width, width_mask(t_width)};
    if (!unpack_times(&col, e, out))
        return false;
    for (unsigned c = 0; c < columns; c++) {
        const uint8_t *h = column_head + c * COLUMN_HEADER_SIZE;
        next_column(&col, h);
        uint32_t first = rm_get_le32(h);
        unsigned channel = c - FIRST_CHANNEL_COLUMN;
        if (c == FLAGS_COLUMN)
            unpack_column(&col, first, n, out->flags, out->flags_stride,
                          sizeof(uint16_t));
        else if (c == ENCODER_COLUMN)
            unpack_column(&col, first, n, out->encoder, out->int32_stride,
                          sizeof(uint32_t));
        else if (channel < out->channels)
            unpack_column(&col, first, n, out->counts[channel], out->int32_stride,
                          sizeof(uint32_t));
        else
            skip_column(&col, n);
    }
    core_sink_zero_channels(out, channels, n);
    return true;
}
