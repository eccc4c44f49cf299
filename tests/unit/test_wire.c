/* The freestanding wire code (hw/wire/) that the firmware shares with the
 * host: its CRC table, its receiver and the limits of its writers. */
#include "testutil.h"

#include <string.h>

static void crc_table_agrees_with_core_crc(void **state)
{
    (void)state;
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131u + (i >> 3));
    assert_int_equal(rm_wire_crc32c(0, (const uint8_t *)"123456789", 9),
                     0xE3069283u);
    for (size_t len = 0; len <= sizeof data; len += 37)
        assert_int_equal(rm_wire_crc32c(0, data, len), rm_crc32c(0, data, len));
    uint32_t part = rm_wire_crc32c(0, data, 300);
    assert_int_equal(rm_wire_crc32c(part, data + 300, 700),
                     rm_crc32c(0, data, 1000));
}

static size_t encode_command(uint8_t type, uint16_t seq, uint32_t rate,
                             uint8_t *wire, size_t cap)
{
    rm_frame f = {.type = type, .seq = seq, .t_us = 123456789};
    f.u.rate_hz = rate;
    return rm_frame_encode(&f, wire, cap);
}

/* Feeds bytes to a receiver; returns how many good frames it completed and
 * keeps the last one's body. */
static unsigned receive_all(rm_wire_receiver *r, const uint8_t *data,
                            size_t len, uint8_t *last, size_t *last_len)
{
    unsigned frames = 0;
    for (size_t i = 0; i < len; i++) {
        size_t body = rm_wire_receive(r, data[i]);
        if (body) {
            frames++;
            memcpy(last, r->buf, body);
            *last_len = body;
        }
    }
    return frames;
}

static void receiver_reads_host_commands(void **state)
{
    (void)state;
    uint8_t wire[64], buf[32], last[32];
    size_t last_len = 0;
    rm_wire_receiver r;
    rm_wire_receiver_init(&r, buf, sizeof buf);
    size_t n = encode_command(RM_CMD_SET_RATE, 0x1234, 80, wire, sizeof wire);
    assert_int_equal(receive_all(&r, wire, n, last, &last_len), 1);
    assert_int_equal(last_len, RM_WIRE_HEADER_SIZE + RM_WIRE_SET_RATE_SIZE);
    assert_int_equal(last[0], RM_CMD_SET_RATE);
    assert_int_equal(rm_wire_get_u16(last + 1), 0x1234);
    assert_int_equal(rm_wire_get_u32(last + 3), 123456789u);
    assert_int_equal(rm_wire_get_u32(last + RM_WIRE_HEADER_SIZE), 80);
}

static void receiver_skips_damaged_frames_and_resynchronises(void **state)
{
    (void)state;
    uint8_t stream[256], buf[32], last[32];
    size_t last_len = 0, len = 0;
    const uint8_t noise[] = {0x07, 0x41, 0x42, 0x00};
    memcpy(stream, noise, sizeof noise); /* a partial frame, then 0x00 */
    len += sizeof noise;
    size_t start = encode_command(RM_CMD_START, 1, 0, stream + len, 64);
    stream[len + 3] ^= 0x10; /* flips a bit: CRC error */
    len += start;
    len += encode_command(RM_CMD_TARE, 2, 0, stream + len, 64);
    rm_wire_receiver r;
    rm_wire_receiver_init(&r, buf, sizeof buf);
    assert_int_equal(receive_all(&r, stream, len, last, &last_len), 1);
    assert_int_equal(last[0], RM_CMD_TARE);
}

static void receiver_drops_frames_longer_than_its_buffer(void **state)
{
    (void)state;
    rm_frame f = {.type = RM_FRAME_ERROR, .seq = 3};
    strcpy(f.u.status.text, "a text longer than the receiver's buffer");
    uint8_t wire[128], buf[16], last[32];
    size_t last_len = 0;
    size_t n = rm_frame_encode(&f, wire, sizeof wire);
    n += encode_command(RM_CMD_STOP, 4, 0, wire + n, sizeof wire - n);
    rm_wire_receiver r;
    rm_wire_receiver_init(&r, buf, sizeof buf);
    assert_int_equal(receive_all(&r, wire, n, last, &last_len), 1);
    assert_int_equal(last[0], RM_CMD_STOP);
}

static void writer_fails_when_the_body_does_not_fit(void **state)
{
    (void)state;
    uint8_t body[RM_WIRE_HEADER_SIZE + RM_WIRE_EVENT_SIZE + RM_WIRE_CRC_SIZE];
    uint8_t out[RM_WIRE_ENCODED_MAX(sizeof body)];
    rm_wire_frame w;
    rm_wire_begin(&w, body, sizeof body, RM_WIRE_EVENT, 0, 0);
    rm_wire_event(&w, RM_WIRE_EVENT_BUTTON, 1);
    assert_int_not_equal(rm_wire_finish(&w, out, sizeof out), 0);
    rm_wire_begin(&w, body, sizeof body - 1, RM_WIRE_EVENT, 0, 0);
    rm_wire_event(&w, RM_WIRE_EVENT_BUTTON, 1);
    assert_int_equal(rm_wire_finish(&w, out, sizeof out), 0);
    rm_wire_begin(&w, body, sizeof body, RM_WIRE_EVENT, 0, 0);
    rm_wire_event(&w, RM_WIRE_EVENT_BUTTON, 1);
    assert_int_equal(rm_wire_finish(&w, out, 5), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_table_agrees_with_core_crc),
        cmocka_unit_test(receiver_reads_host_commands),
        cmocka_unit_test(receiver_skips_damaged_frames_and_resynchronises),
        cmocka_unit_test(receiver_drops_frames_longer_than_its_buffer),
        cmocka_unit_test(writer_fails_when_the_body_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
