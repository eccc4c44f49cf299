/* The binary wire protocol: encoder, streaming decoder, every corruption. */
#include "testutil.h"

#include <string.h>

#define MAX_FRAMES 64
#define STREAM_CAP (MAX_FRAMES * RM_FRAME_MAX_WIRE)

/* What a decoder made of a whole stream. */
typedef struct decoded {
    rm_frame frames[MAX_FRAMES];
    size_t count;
    rm_decoder_stats stats;
} decoded;

/* Decodes data fed in pieces: sizes[i % n_sizes] bytes at a time. */
static void decode_in_pieces(const uint8_t *data, size_t len,
                             const size_t *sizes, size_t n_sizes, decoded *out)
{
    rm_decoder d;
    rm_decoder_init(&d);
    out->count = 0;
    size_t at = 0;
    for (size_t piece = 0; at < len; piece++) {
        size_t end = at + sizes[piece % n_sizes];
        if (end > len)
            end = len;
        while (at < end) {
            bool have = false;
            rm_frame f;
            at += rm_decoder_push(&d, data + at, end - at, &f, &have);
            if (have) {
                assert_true(out->count < MAX_FRAMES);
                out->frames[out->count++] = f;
            }
        }
    }
    out->stats = d.stats;
}

static void decode_whole(const uint8_t *data, size_t len, decoded *out)
{
    size_t whole = len ? len : 1;
    decode_in_pieces(data, len, &whole, 1, out);
}

static decoded *decoded_new(void)
{
    decoded *d = calloc(1, sizeof *d);
    assert_non_null(d);
    return d;
}

static void fill_info(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    strcpy(info->model, "RM-Roller 15");
    strcpy(info->firmware, "1.4.2");
    strcpy(info->serial, "RM15-000731");
    info->device_kind = RM_DEVICE_ROLLER;
    info->sample_rate_hz = 1000;
    info->channel_count = 3;
    info->encoder_counts_per_turn = 4096;
    info->roller_diameter_mm = 150.0f;
    info->roller_width_mm = 330.0f;
    info->distal_direction = -1;
    for (unsigned i = 0; i < 3; i++) {
        rm_channel_info *ch = &info->channels[i];
        ch->kind = i == 2 ? RM_CHANNEL_PRESSURE_CELL : RM_CHANNEL_LOAD_CELL;
        ch->position_mm = i == 0 ? 0.0f : i == 1 ? 330.0f : 165.0f;
        ch->area_mm2 = i == 2 ? 1520.5f : 0.0f;
        ch->gain_n_per_count = 0.00125f * (float)(i + 1);
        ch->offset_counts = -812.5f + (float)i;
    }
}

/* A SAMPLES frame whose counts follow from seq, so a mix-up shows. */
static void fill_samples(rm_frame *f, uint16_t seq, uint64_t t_us,
                         unsigned channels, unsigned count)
{
    memset(f, 0, sizeof *f);
    f->type = RM_FRAME_SAMPLES;
    f->seq = seq;
    f->t_us = t_us;
    f->u.samples.channel_count = (uint8_t)channels;
    f->u.samples.count = (uint8_t)count;
    for (unsigned i = 0; i < count; i++) {
        rm_sample *s = &f->u.samples.samples[i];
        s->t_us = t_us + 1000u * i;
        s->encoder = (int32_t)(seq * 7 + i) - 500;
        s->flags = i == 1 ? RM_SAMPLE_MARK : 0;
        for (unsigned c = 0; c < channels; c++)
            s->counts[c] = (int32_t)((seq * 131 + i * 17 + c) % 16777216) - 8388608;
    }
}

static void assert_frames_equal(const rm_frame *a, const rm_frame *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->t_us, b->t_us);
    switch (a->type) {
    case RM_FRAME_SAMPLES:
        assert_int_equal(a->u.samples.channel_count, b->u.samples.channel_count);
        assert_int_equal(a->u.samples.count, b->u.samples.count);
        for (unsigned i = 0; i < a->u.samples.count; i++) {
            const rm_sample *x = &a->u.samples.samples[i];
            const rm_sample *y = &b->u.samples.samples[i];
            assert_int_equal(x->t_us, y->t_us);
            assert_int_equal(x->encoder, y->encoder);
            assert_int_equal(x->flags, y->flags);
            assert_memory_equal(x->counts, y->counts,
                                a->u.samples.channel_count * sizeof x->counts[0]);
        }
        break;
    case RM_FRAME_INFO:
        assert_string_equal(a->u.info.model, b->u.info.model);
        assert_string_equal(a->u.info.firmware, b->u.info.firmware);
        assert_string_equal(a->u.info.serial, b->u.info.serial);
        assert_int_equal(a->u.info.channel_count, b->u.info.channel_count);
        break;
    case RM_FRAME_EVENT:
        assert_int_equal(a->u.event.kind, b->u.event.kind);
        assert_int_equal(a->u.event.value, b->u.event.value);
        break;
    default:
        break;
    }
}

/* Writes n SAMPLES frames with seq first_seq.. and 10 ms apart. */
static size_t write_samples_stream(uint8_t *out, size_t cap, uint16_t first_seq,
                                   unsigned n, rm_frame *frames)
{
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        fill_samples(&frames[i], (uint16_t)(first_seq + i), 5000000u + 10000u * i,
                     8, 10);
        size_t w = rm_frame_encode(&frames[i], out + len, cap - len);
        assert_true(w > 0);
        len += w;
    }
    return len;
}

static size_t encode_one(const rm_frame *f, uint8_t *out)
{
    size_t n = rm_frame_encode(f, out, RM_FRAME_MAX_WIRE);
    assert_true(n > 0);
    return n;
}

static void decode_single(const uint8_t *wire, size_t n, rm_frame *out)
{
    decoded *got = decoded_new();
    decode_whole(wire, n, got);
    assert_int_equal(got->count, 1);
    assert_int_equal(got->stats.frames_ok, 1);
    *out = got->frames[0];
    free(got);
}

/* ------------------------------------------------------------------------ */

static void info_frame_round_trips_every_field(void **state)
{
    (void)state;
    rm_frame f = {.type = RM_FRAME_INFO, .seq = 3, .t_us = 123456};
    fill_info(&f.u.info);
    uint8_t wire[RM_FRAME_MAX_WIRE];
    rm_frame back;
    decode_single(wire, encode_one(&f, wire), &back);
    const rm_device_info *a = &f.u.info, *b = &back.u.info;
    assert_string_equal(b->model, a->model);
    assert_string_equal(b->firmware, a->firmware);
    assert_string_equal(b->serial, a->serial);
    assert_int_equal(b->device_kind, a->device_kind);
    assert_int_equal(b->sample_rate_hz, a->sample_rate_hz);
    assert_int_equal(b->channel_count, a->channel_count);
    assert_int_equal(b->encoder_counts_per_turn, a->encoder_counts_per_turn);
    assert_true(b->roller_diameter_mm == a->roller_diameter_mm);
    assert_true(b->roller_width_mm == a->roller_width_mm);
    assert_int_equal(b->distal_direction, a->distal_direction);
    for (unsigned i = 0; i < a->channel_count; i++) {
        assert_int_equal(b->channels[i].kind, a->channels[i].kind);
        assert_true(b->channels[i].position_mm == a->channels[i].position_mm);
        assert_true(b->channels[i].area_mm2 == a->channels[i].area_mm2);
        assert_true(b->channels[i].gain_n_per_count == a->channels[i].gain_n_per_count);
        assert_true(b->channels[i].offset_counts == a->channels[i].offset_counts);
        /* the device calibration becomes the channel's calibration */
        assert_true(b->channels[i].cal.coef[1] == (double)a->channels[i].gain_n_per_count);
    }
}

static void info_strings_longer_than_the_field_are_cut(void **state)
{
    (void)state;
    rm_frame f = {.type = RM_FRAME_INFO};
    fill_info(&f.u.info);
    memset(f.u.info.firmware, 'x', sizeof f.u.info.firmware - 1);
    f.u.info.firmware[sizeof f.u.info.firmware - 1] = '\0';
    uint8_t wire[RM_FRAME_MAX_WIRE];
    rm_frame back;
    decode_single(wire, encode_one(&f, wire), &back);
    assert_int_equal(strlen(back.u.info.firmware), sizeof f.u.info.firmware - 1);
}

static void samples_frame_round_trips_every_sample(void **state)
{
    (void)state;
    for (unsigned channels = 0; channels <= RM_MAX_CHANNELS; channels += 4) {
        rm_frame f;
        fill_samples(&f, 77, 1u << 31, channels, 12);
        uint8_t wire[RM_FRAME_MAX_WIRE];
        rm_frame back;
        decode_single(wire, encode_one(&f, wire), &back);
        assert_frames_equal(&f, &back);
    }
}

/* Counts without a zero byte make COBS blocks of 254 bytes (code 0xFF),
 * which the decoder's whole-frame path leaves to its byte-wise path. */
static void frame_with_full_cobs_blocks_round_trips(void **state)
{
    (void)state;
    rm_frame f;
    fill_samples(&f, 0x0101, 0x01010101, RM_MAX_CHANNELS, 10);
    for (unsigned i = 0; i < 10; i++) {
        rm_sample *s = &f.u.samples.samples[i];
        s->t_us = f.t_us + 0x01010101u * (i + 1);
        s->encoder = 0x11111111 * (int32_t)(i % 7 + 1);
        s->flags = 0x0101;
        for (unsigned c = 0; c < RM_MAX_CHANNELS; c++)
            s->counts[c] = 0x01020304 + (int32_t)(i * 16 + c);
    }
    uint8_t wire[RM_FRAME_MAX_WIRE];
    size_t n = encode_one(&f, wire);
    assert_non_null(memchr(wire, 0xFF, n));
    decoded *whole = decoded_new(), *pieces = decoded_new();
    decode_whole(wire, n, whole);
    size_t sizes[] = {1, 7, 300};
    decode_in_pieces(wire, n, sizes, 3, pieces);
    assert_int_equal(whole->count, 1);
    assert_int_equal(pieces->count, 1);
    assert_frames_equal(&f, &whole->frames[0]);
    assert_frames_equal(&f, &pieces->frames[0]);
    free(whole);
    free(pieces);
}

static void event_status_error_and_ack_round_trip(void **state)
{
    (void)state;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    rm_frame back;

    rm_frame ev = {.type = RM_FRAME_EVENT, .seq = 1, .t_us = 10};
    ev.u.event.kind = RM_DEV_EVENT_OVERLOAD;
    ev.u.event.value = -123456;
    decode_single(wire, encode_one(&ev, wire), &back);
    assert_frames_equal(&ev, &back);

    rm_frame st = {.type = RM_FRAME_STATUS, .seq = 2, .t_us = 20};
    st.u.status.streaming = 1;
    st.u.status.sample_rate_hz = 500;
    st.u.status.dropped = 4000000000u;
    decode_single(wire, encode_one(&st, wire), &back);
    assert_int_equal(back.u.status.streaming, 1);
    assert_int_equal(back.u.status.sample_rate_hz, 500);
    assert_int_equal(back.u.status.dropped, 4000000000u);

    rm_frame er = {.type = RM_FRAME_ERROR, .seq = 3, .t_us = 30};
    er.u.status.error_code = 0x0203;
    strcpy(er.u.status.text, "load cell 2 not responding");
    decode_single(wire, encode_one(&er, wire), &back);
    assert_int_equal(back.u.status.error_code, 0x0203);
    assert_string_equal(back.u.status.text, "load cell 2 not responding");

    rm_frame ack = {.type = RM_FRAME_ACK, .seq = 4, .t_us = 40};
    ack.u.ack.acked_type = RM_CMD_SET_RATE;
    ack.u.ack.result = -2;
    decode_single(wire, encode_one(&ack, wire), &back);
    assert_int_equal(back.u.ack.acked_type, RM_CMD_SET_RATE);
    assert_int_equal(back.u.ack.result, -2);
}

static void host_commands_round_trip(void **state)
{
    (void)state;
    const uint8_t commands[] = {RM_CMD_IDENTIFY, RM_CMD_START, RM_CMD_STOP,
                                RM_CMD_TARE, RM_CMD_SET_RATE};
    for (size_t i = 0; i < sizeof commands; i++) {
        rm_frame f = {.type = commands[i], .seq = (uint16_t)i, .t_us = 0};
        f.u.rate_hz = 250;
        uint8_t wire[RM_FRAME_MAX_WIRE];
        rm_frame back;
        decode_single(wire, encode_one(&f, wire), &back);
        assert_int_equal(back.type, commands[i]);
        assert_int_equal(back.seq, i);
        if (commands[i] == RM_CMD_SET_RATE)
            assert_int_equal(back.u.rate_hz, 250);
    }
}

static void encoded_frames_contain_no_zero_but_the_delimiter(void **state)
{
    (void)state;
    rm_frame f;
    fill_samples(&f, 0, 0, 16, 13); /* many zero bytes in the body */
    memset(f.u.samples.samples, 0, sizeof f.u.samples.samples);
    uint8_t wire[RM_FRAME_MAX_WIRE];
    size_t n = encode_one(&f, wire);
    assert_null(memchr(wire, 0, n - 1));
    assert_int_equal(wire[n - 1], 0);
    rm_frame back;
    decode_single(wire, n, &back);
    assert_frames_equal(&f, &back);
}

static void encoder_rejects_frames_it_cannot_send(void **state)
{
    (void)state;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    rm_frame f;
    fill_samples(&f, 0, 1000, 16, RM_FRAME_MAX_BATCH); /* > max body */
    assert_int_equal(rm_frame_encode(&f, wire, sizeof wire), 0);
    fill_samples(&f, 0, 1000, 2, 4);
    f.u.samples.samples[2].t_us = 999; /* before the frame's time */
    assert_int_equal(rm_frame_encode(&f, wire, sizeof wire), 0);
    fill_samples(&f, 0, 1000, 2, 4);
    assert_int_equal(rm_frame_encode(&f, wire, 20), 0); /* no room */
    f.type = 0x7F;
    assert_int_equal(rm_frame_encode(&f, wire, sizeof wire), 0);
}

static void any_read_size_gives_the_same_frames_and_stats(void **state)
{
    (void)state;
    uint8_t *stream = malloc(STREAM_CAP);
    rm_frame *sent = calloc(MAX_FRAMES, sizeof *sent);
    size_t len = write_samples_stream(stream, STREAM_CAP, 65530, 12, sent);
    /* some garbage and a corrupted frame in the middle */
    memmove(stream + 400, stream + 397, len - 397);
    memcpy(stream + 397, "\x13\x37\x00", 3);
    len += 3;
    stream[700] ^= 0x40;

    decoded *ref = decoded_new(), *got = decoded_new();
    decode_whole(stream, len, ref);
    assert_true(ref->count >= 9);
    for (size_t size = 1; size <= len; size++) {
        decode_in_pieces(stream, len, &size, 1, got);
        assert_int_equal(got->count, ref->count);
        assert_memory_equal(&got->stats, &ref->stats, sizeof ref->stats);
        for (size_t i = 0; i < ref->count; i++)
            assert_frames_equal(&got->frames[i], &ref->frames[i]);
    }
    srand(7);
    for (int round = 0; round < 50; round++) {
        size_t sizes[16];
        for (size_t i = 0; i < 16; i++)
            sizes[i] = 1 + (size_t)rand() % 300;
        decode_in_pieces(stream, len, sizes, 16, got);
        assert_int_equal(got->count, ref->count);
        assert_memory_equal(&got->stats, &ref->stats, sizeof ref->stats);
    }
    free(ref);
    free(got);
    free(sent);
    free(stream);
}

static void every_single_bit_flip_is_caught(void **state)
{
    (void)state;
    rm_frame sent[3];
    uint8_t stream[3 * RM_FRAME_MAX_WIRE];
    size_t len = write_samples_stream(stream, sizeof stream, 10, 3, sent);
    size_t first_len = rm_frame_encode(&sent[0], (uint8_t[RM_FRAME_MAX_WIRE]){0},
                                       RM_FRAME_MAX_WIRE);
    decoded *got = decoded_new();
    for (size_t byte = 0; byte + 1 < first_len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            stream[byte] ^= (uint8_t)(1u << bit);
            decode_whole(stream, len, got);
            /* The broken first frame is never delivered; the rest are. */
            assert_true(got->count >= 2);
            assert_frames_equal(&got->frames[got->count - 1], &sent[2]);
            assert_frames_equal(&got->frames[got->count - 2], &sent[1]);
            if (got->count == 3)
                fail_msg("flip of byte %zu bit %d went unnoticed", byte, bit);
            /* a flip to 0x00 splits the frame in two bad ones */
            assert_in_range(got->stats.crc_errors + got->stats.malformed, 1, 2);
            stream[byte] ^= (uint8_t)(1u << bit);
        }
    }
    free(got);
}

static void truncated_frame_is_counted_and_the_next_one_decoded(void **state)
{
    (void)state;
    rm_frame sent[2];
    uint8_t stream[2 * RM_FRAME_MAX_WIRE], cut[2 * RM_FRAME_MAX_WIRE];
    size_t len = write_samples_stream(stream, sizeof stream, 0, 2, sent);
    size_t first = rm_frame_encode(&sent[0], cut, sizeof cut);
    decoded *got = decoded_new();
    for (size_t keep = 1; keep < first - 1; keep += 5) {
        /* the first frame loses its tail (and keeps its delimiter) */
        memcpy(cut, stream, keep);
        memcpy(cut + keep, stream + first - 1, len - (first - 1));
        decode_whole(cut, keep + len - (first - 1), got);
        assert_int_equal(got->count, 1);
        assert_frames_equal(&got->frames[0], &sent[1]);
        assert_int_equal(got->stats.crc_errors + got->stats.malformed, 1);
        assert_int_equal(got->stats.bytes_discarded, keep);
    }
    free(got);
}

static void garbage_between_frames_is_skipped_and_counted(void **state)
{
    (void)state;
    rm_frame sent[2];
    uint8_t a[RM_FRAME_MAX_WIRE], stream[3 * RM_FRAME_MAX_WIRE];
    fill_samples(&sent[0], 1, 100, 2, 3);
    fill_samples(&sent[1], 2, 200, 2, 3);
    size_t n0 = encode_one(&sent[0], a);
    memcpy(stream, a, n0);
    const char garbage[] = "hello\r\nboot v1.0\r\n"; /* what a reset prints */
    memcpy(stream + n0, garbage, sizeof garbage); /* includes a 0x00 */
    size_t len = n0 + sizeof garbage;
    len += encode_one(&sent[1], stream + len);
    decoded *got = decoded_new();
    decode_whole(stream, len, got);
    assert_int_equal(got->count, 2);
    assert_frames_equal(&got->frames[1], &sent[1]);
    assert_int_equal(got->stats.bytes_discarded, sizeof garbage - 1);
    assert_int_equal(got->stats.crc_errors + got->stats.malformed, 1);
    assert_int_equal(got->stats.seq_gaps, 0);
    assert_int_equal(got->stats.bytes, len);
    free(got);
}

static void wrong_crc_is_counted_as_crc_error(void **state)
{
    (void)state;
    /* A frame with a valid COBS layout and a wrong CRC, built by hand:
     * type EVENT, seq 5, time 0, kind 1, value 0, CRC 0x01020304. */
    const uint8_t wire[] = {0x03, 0x03, 0x05, 0x01, 0x01, 0x01, 0x01, 0x02,
                            0x01, 0x01, 0x01, 0x01, 0x05, 0x04, 0x03, 0x02,
                            0x01, 0x00};
    decoded *got = decoded_new();
    decode_whole(wire, sizeof wire, got);
    assert_int_equal(got->count, 0);
    assert_int_equal(got->stats.crc_errors, 1);
    assert_int_equal(got->stats.malformed, 0);
    free(got);
}

/* Frames a raw body as a device would: CRC appended, COBS (for bodies
 * without runs of 254 non-zero bytes), delimiter. Returns the wire size. */
static size_t frame_raw_body(const uint8_t *body, size_t len, uint8_t *wire)
{
    uint8_t with_crc[RM_FRAME_MAX_BODY + 4];
    memcpy(with_crc, body, len);
    uint32_t crc = rm_crc32c(0, body, len);
    for (int i = 0; i < 4; i++)
        with_crc[len + i] = (uint8_t)(crc >> (8 * i));
    size_t o = 0, code_at = o++;
    uint8_t code = 1;
    for (size_t i = 0; i < len + 4; i++) {
        if (with_crc[i] == 0) {
            wire[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            wire[o++] = with_crc[i];
            code++;
        }
    }
    wire[code_at] = code;
    wire[o++] = 0;
    return o;
}

static void expect_malformed(const uint8_t *body, size_t len)
{
    uint8_t wire[RM_FRAME_MAX_WIRE];
    decoded *got = decoded_new();
    decode_whole(wire, frame_raw_body(body, len, wire), got);
    assert_int_equal(got->count, 0);
    assert_int_equal(got->stats.malformed, 1);
    assert_int_equal(got->stats.crc_errors, 0);
    free(got);
}

static void bad_length_and_unknown_type_are_malformed(void **state)
{
    (void)state;
    /* EVENT with a 4-byte payload instead of 5 */
    const uint8_t short_event[] = {RM_FRAME_EVENT, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    expect_malformed(short_event, sizeof short_event);
    /* START with a payload */
    const uint8_t long_start[] = {RM_CMD_START, 1, 0, 0, 0, 0, 0, 1};
    expect_malformed(long_start, sizeof long_start);
    /* a type nobody defined */
    const uint8_t unknown[] = {0x42, 1, 0, 0, 0, 0, 0};
    expect_malformed(unknown, sizeof unknown);
    /* SAMPLES one byte short of its 2 samples of 1 channel */
    uint8_t samples[7 + 2 + 2 * 14] = {RM_FRAME_SAMPLES, [7] = 1, [8] = 2};
    expect_malformed(samples, sizeof samples - 1);
}

/* An INFO body of one channel with valid fields, to spoil one at a time. */
static size_t valid_info_body(uint8_t *body)
{
    enum { PAYLOAD = 7, CHANNEL = 7 + 99 };
    memset(body, 0, 7 + 99 + 17);
    body[0] = RM_FRAME_INFO;
    memcpy(body + PAYLOAD, "M", 1);
    body[PAYLOAD + 85] = 1;                 /* channel_count */
    body[PAYLOAD + 98] = 1;                 /* distal_direction */
    body[CHANNEL + 12] = 0x3F;              /* gain 0.5 = 0x3F000000 */
    return 7 + 99 + 17;
}

static void info_with_invalid_fields_is_malformed(void **state)
{
    (void)state;
    uint8_t body[256];
    uint8_t wire[RM_FRAME_MAX_WIRE];
    decoded *got = decoded_new();
    size_t len = valid_info_body(body);
    decode_whole(wire, frame_raw_body(body, len, wire), got);
    assert_int_equal(got->count, 1); /* the unspoilt body is fine */
    assert_true(got->frames[0].u.info.channels[0].gain_n_per_count == 0.5f);
    free(got);

    valid_info_body(body);
    body[7 + 85] = 17; /* more channels than RM_MAX_CHANNELS */
    expect_malformed(body, len);
    valid_info_body(body);
    body[7 + 80] = 3; /* no such device kind */
    expect_malformed(body, len);
    valid_info_body(body);
    body[7 + 98] = 2; /* distal_direction not -1, 0 or +1 */
    expect_malformed(body, len);
    valid_info_body(body);
    memcpy(body + 7 + 99 + 9, "\x00\x00\xC0\x7F", 4); /* gain NaN */
    expect_malformed(body, len);
    valid_info_body(body);
    body[7 + 99] = 2; /* no such channel kind */
    expect_malformed(body, len);
}

static void samples_and_error_with_invalid_fields_are_malformed(void **state)
{
    (void)state;
    /* SAMPLES with count 0 */
    const uint8_t empty[] = {RM_FRAME_SAMPLES, 0, 0, 0, 0, 0, 0, 2, 0};
    expect_malformed(empty, sizeof empty);
    /* SAMPLES claiming 17 channels */
    uint8_t wide[7 + 2 + 10 + 4 * 17] = {RM_FRAME_SAMPLES, [7] = 17, [8] = 1};
    expect_malformed(wide, sizeof wide);
    /* ERROR whose text holds a 0x00 */
    const uint8_t nul_text[] = {RM_FRAME_ERROR, 0, 0, 0, 0, 0, 0, 1, 0, 'a', 0, 'b'};
    expect_malformed(nul_text, sizeof nul_text);
}

static void bad_cobs_is_malformed(void **state)
{
    (void)state;
    /* the code byte promises 9 bytes, only 3 arrive before the delimiter */
    const uint8_t wire[] = {0x0A, 0x11, 0x22, 0x33, 0x00};
    decoded *got = decoded_new();
    decode_whole(wire, sizeof wire, got);
    assert_int_equal(got->stats.malformed, 1);
    assert_int_equal(got->stats.bytes_discarded, 4);
    free(got);
}

static void oversized_frame_is_discarded_up_to_the_next_delimiter(void **state)
{
    (void)state;
    uint8_t *stream = malloc(4 * RM_FRAME_MAX_WIRE);
    size_t junk = 3000;
    memset(stream, 0x5A, junk); /* no delimiter for 3000 bytes */
    stream[junk++] = 0;
    rm_frame f;
    fill_samples(&f, 9, 1, 4, 5);
    size_t len = junk + encode_one(&f, stream + junk);
    decoded *got = decoded_new();
    const size_t sizes[] = {1, 7, 300};
    for (size_t i = 0; i < 3; i++) {
        decode_in_pieces(stream, len, &sizes[i], 1, got);
        assert_int_equal(got->count, 1);
        assert_frames_equal(&got->frames[0], &f);
        assert_int_equal(got->stats.oversized, 1);
        assert_int_equal(got->stats.bytes_discarded, junk - 1);
    }
    free(got);
    free(stream);
}

static void empty_frames_between_delimiters_are_ignored(void **state)
{
    (void)state;
    uint8_t stream[RM_FRAME_MAX_WIRE + 8] = {0, 0, 0};
    rm_frame f;
    fill_samples(&f, 1, 1, 1, 1);
    size_t len = 3 + encode_one(&f, stream + 3);
    decoded *got = decoded_new();
    decode_whole(stream, len, got);
    assert_int_equal(got->count, 1);
    assert_int_equal(got->stats.malformed + got->stats.crc_errors, 0);
    assert_int_equal(got->stats.bytes_discarded, 0);
    free(got);
}

static void sequence_wraps_without_a_gap(void **state)
{
    (void)state;
    uint8_t *stream = malloc(STREAM_CAP);
    rm_frame sent[6];
    size_t len = write_samples_stream(stream, STREAM_CAP, 65533, 6, sent);
    decoded *got = decoded_new();
    decode_whole(stream, len, got);
    assert_int_equal(got->count, 6);
    assert_int_equal(got->frames[5].seq, 2);
    assert_int_equal(got->stats.seq_gaps, 0);
    assert_int_equal(got->stats.frames_lost, 0);
    free(got);
    free(stream);
}

static void sequence_gaps_count_the_lost_frames_across_the_wrap(void **state)
{
    (void)state;
    uint8_t stream[4 * RM_FRAME_MAX_WIRE];
    const uint16_t seqs[] = {65530, 65534, 3, 4};
    size_t len = 0;
    for (size_t i = 0; i < 4; i++) {
        rm_frame f;
        fill_samples(&f, seqs[i], 1000u * i, 2, 2);
        len += encode_one(&f, stream + len);
    }
    decoded *got = decoded_new();
    decode_whole(stream, len, got);
    assert_int_equal(got->count, 4);
    assert_int_equal(got->stats.seq_gaps, 2);
    /* 65531..65533 and 65535, 0, 1, 2 */
    assert_int_equal(got->stats.frames_lost, 3 + 4);
    free(got);
}

static void reset_event_starts_a_new_sequence_and_clock(void **state)
{
    (void)state;
    uint8_t stream[3 * RM_FRAME_MAX_WIRE];
    rm_frame before, reset = {.type = RM_FRAME_EVENT, .seq = 0, .t_us = 50};
    fill_samples(&before, 900, 7000000, 2, 2);
    reset.u.event.kind = RM_DEV_EVENT_RESET;
    rm_frame after;
    fill_samples(&after, 1, 2000, 2, 2);
    size_t len = encode_one(&before, stream);
    len += encode_one(&reset, stream + len);
    len += encode_one(&after, stream + len);
    decoded *got = decoded_new();
    decode_whole(stream, len, got);
    assert_int_equal(got->count, 3);
    assert_int_equal(got->stats.seq_gaps, 0);
    assert_int_equal(got->frames[1].t_us, 50);
    assert_int_equal(got->frames[2].t_us, 2000);
    assert_int_equal(got->frames[2].u.samples.samples[1].t_us, 3000);
    free(got);
}

static void device_time_unwraps_across_two_to_the_32_us(void **state)
{
    (void)state;
    /* 2^32 us is 71.6 minutes: two wraps in steps of 30 minutes */
    const uint64_t step = 1800000000ull;
    uint8_t stream[8 * RM_FRAME_MAX_WIRE];
    size_t len = 0;
    for (unsigned i = 0; i < 6; i++) {
        rm_frame f;
        fill_samples(&f, (uint16_t)i, step * i, 1, 3);
        f.t_us = (uint32_t)(step * i); /* what the device's clock shows */
        for (unsigned k = 0; k < 3; k++)
            f.u.samples.samples[k].t_us = f.t_us + 1000u * k;
        len += encode_one(&f, stream + len);
    }
    decoded *got = decoded_new();
    decode_whole(stream, len, got);
    assert_int_equal(got->count, 6);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(got->frames[i].t_us, step * i);
        assert_int_equal(got->frames[i].u.samples.samples[2].t_us, step * i + 2000);
    }
    free(got);
}

/* docs/PROTOCOL.md, "Worked example": the bytes there must be what the
 * encoder writes, and must decode back to the frame described. */
static void documented_example_is_reproduced_exactly(void **state)
{
    (void)state;
    static const uint8_t documented[] = {
        0x03, 0x02, 0x07, 0x04, 0x60, 0xE3, 0x16, 0x03, 0x02, 0x02, 0x01, 0x01,
        0x01, 0x03, 0x9C, 0x04, 0x01, 0x01, 0x01, 0x04, 0xF3, 0x48, 0x01, 0x07,
        0x02, 0xFC, 0xFF, 0xFF, 0xE8, 0x03, 0x01, 0x03, 0x9D, 0x04, 0x01, 0x02,
        0x01, 0x04, 0x4C, 0x49, 0x01, 0x09, 0x18, 0xFC, 0xFF, 0xFF, 0xC1, 0x7D,
        0x3F, 0x39, 0x00};
    rm_frame f = {.type = RM_FRAME_SAMPLES, .seq = 7, .t_us = 1500000};
    f.u.samples.channel_count = 2;
    f.u.samples.count = 2;
    rm_sample *s = f.u.samples.samples;
    s[0] = (rm_sample){.t_us = 1500000, .encoder = 1180, .flags = 0,
                       .counts = {84211, -1022}};
    s[1] = (rm_sample){.t_us = 1501000, .encoder = 1181,
                       .flags = RM_SAMPLE_MARK, .counts = {84300, -1000}};
    uint8_t wire[RM_FRAME_MAX_WIRE];
    size_t n = encode_one(&f, wire);
    assert_int_equal(n, sizeof documented);
    assert_memory_equal(wire, documented, sizeof documented);
    rm_frame back;
    decode_single(documented, sizeof documented, &back);
    assert_frames_equal(&f, &back);
}

/* The CRC the documentation gives for the example's 45-byte body. */
static void documented_example_crc(void **state)
{
    (void)state;
    static const uint8_t body[] = {
        0x02, 0x07, 0x00, 0x60, 0xE3, 0x16, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x9C, 0x04, 0x00, 0x00, 0x00, 0x00, 0xF3, 0x48, 0x01, 0x00, 0x02,
        0xFC, 0xFF, 0xFF, 0xE8, 0x03, 0x00, 0x00, 0x9D, 0x04, 0x00, 0x00, 0x01,
        0x00, 0x4C, 0x49, 0x01, 0x00, 0x18, 0xFC, 0xFF, 0xFF};
    assert_int_equal(rm_crc32c(0, body, sizeof body), 0x393F7DC1u);
}

static void frame_type_names(void **state)
{
    (void)state;
    assert_string_equal(rm_frame_type_name(RM_FRAME_SAMPLES), "SAMPLES");
    assert_string_equal(rm_frame_type_name(RM_CMD_SET_RATE), "SET_RATE");
    assert_string_equal(rm_frame_type_name((rm_frame_type)0x42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(info_frame_round_trips_every_field),
        cmocka_unit_test(info_strings_longer_than_the_field_are_cut),
        cmocka_unit_test(samples_frame_round_trips_every_sample),
        cmocka_unit_test(frame_with_full_cobs_blocks_round_trips),
        cmocka_unit_test(event_status_error_and_ack_round_trip),
        cmocka_unit_test(host_commands_round_trip),
        cmocka_unit_test(encoded_frames_contain_no_zero_but_the_delimiter),
        cmocka_unit_test(encoder_rejects_frames_it_cannot_send),
        cmocka_unit_test(any_read_size_gives_the_same_frames_and_stats),
        cmocka_unit_test(every_single_bit_flip_is_caught),
        cmocka_unit_test(truncated_frame_is_counted_and_the_next_one_decoded),
        cmocka_unit_test(garbage_between_frames_is_skipped_and_counted),
        cmocka_unit_test(wrong_crc_is_counted_as_crc_error),
        cmocka_unit_test(bad_length_and_unknown_type_are_malformed),
        cmocka_unit_test(info_with_invalid_fields_is_malformed),
        cmocka_unit_test(samples_and_error_with_invalid_fields_are_malformed),
        cmocka_unit_test(bad_cobs_is_malformed),
        cmocka_unit_test(oversized_frame_is_discarded_up_to_the_next_delimiter),
        cmocka_unit_test(empty_frames_between_delimiters_are_ignored),
        cmocka_unit_test(sequence_wraps_without_a_gap),
        cmocka_unit_test(sequence_gaps_count_the_lost_frames_across_the_wrap),
        cmocka_unit_test(reset_event_starts_a_new_sequence_and_clock),
        cmocka_unit_test(device_time_unwraps_across_two_to_the_32_us),
        cmocka_unit_test(documented_example_is_reproduced_exactly),
        cmocka_unit_test(documented_example_crc),
        cmocka_unit_test(frame_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
