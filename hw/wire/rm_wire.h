/*
 * The wire format of docs/PROTOCOL.md, freestanding: frame types, payload
 * layouts and their encoders, CRC-32C and COBS. The host (hw/protocol.c)
 * and the firmware (hw/firmware/) compile this same code, so both put the
 * same bytes on the wire. It needs nothing beyond <stdint.h> and
 * <string.h>: no allocation, no threads, no stdio; the caller owns every
 * buffer.
 *
 * Building a frame: rm_wire_begin() with a body buffer, one payload writer
 * (rm_wire_info_head + rm_wire_info_channel per channel, rm_wire_samples_head
 * + rm_wire_sample per sample, rm_wire_event, ...), then rm_wire_finish()
 * appends the CRC, COBS-encodes and adds the 0x00 delimiter. A write that
 * does not fit the body buffer marks the frame failed and rm_wire_finish()
 * then returns 0.
 */
#ifndef RM_WIRE_H
#define RM_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Frame types (docs/PROTOCOL.md, "Frame body and CRC-32C"). */
enum {
    RM_WIRE_INFO = 0x01,
    RM_WIRE_SAMPLES = 0x02,
    RM_WIRE_EVENT = 0x03,
    RM_WIRE_STATUS = 0x04,
    RM_WIRE_ERROR = 0x05,
    RM_WIRE_ACK = 0x06,
    RM_WIRE_IDENTIFY = 0x81,
    RM_WIRE_START = 0x82,
    RM_WIRE_STOP = 0x83,
    RM_WIRE_TARE = 0x84,
    RM_WIRE_SET_RATE = 0x85
};

/* EVENT kinds. */
enum {
    RM_WIRE_EVENT_BUTTON = 1,
    RM_WIRE_EVENT_TARE_DONE = 2,
    RM_WIRE_EVENT_OVERLOAD = 3,
    RM_WIRE_EVENT_RESET = 4
};

/* SAMPLES flags. */
enum {
    RM_WIRE_FLAG_MARK = 1u << 0,
    RM_WIRE_FLAG_SATURATED = 1u << 1,
    RM_WIRE_FLAG_OVERLOAD = 1u << 2,
    RM_WIRE_FLAG_TARED = 1u << 3
};

/* ACK results. */
enum { RM_WIRE_ACK_DONE = 0, RM_WIRE_ACK_BAD_ARGUMENT = -1, RM_WIRE_ACK_BUSY = -2 };

/* Sizes (bytes). */
enum {
    RM_WIRE_HEADER_SIZE = 7,    /* type, seq (u16), time (u32) */
    RM_WIRE_CRC_SIZE = 4,
    RM_WIRE_MAX_BODY = 1024,    /* type .. payload */
    RM_WIRE_MAX_BATCH = 32,     /* samples in one SAMPLES frame */
    RM_WIRE_MAX_CHANNELS = 16,
    RM_WIRE_MODEL_SIZE = 32,
    RM_WIRE_FIRMWARE_SIZE = 16,
    RM_WIRE_SERIAL_SIZE = 32,
    RM_WIRE_INFO_FIXED_SIZE = 99,
    RM_WIRE_INFO_CHANNEL_SIZE = 17,
    RM_WIRE_INFO_CHANNEL_COUNT_AT = 85, /* model, firmware, serial, kind, rate */
    RM_WIRE_SAMPLES_FIXED_SIZE = 2,
    RM_WIRE_SAMPLE_FIXED_SIZE = 10, /* dt_us, encoder, flags */
    RM_WIRE_EVENT_SIZE = 5,
    RM_WIRE_STATUS_SIZE = 9,
    RM_WIRE_ERROR_FIXED_SIZE = 2,
    RM_WIRE_ERROR_TEXT_MAX = 63,
    RM_WIRE_ACK_SIZE = 3,
    RM_WIRE_SET_RATE_SIZE = 4
};

/** Encoded size of a body of n bytes: COBS adds one code byte per started
 *  254-byte run, then CRC and the delimiter. */
#define RM_WIRE_ENCODED_MAX(body) \
    ((body) + RM_WIRE_CRC_SIZE + ((body) + RM_WIRE_CRC_SIZE) / 254 + 2)

/** A frame body being written into a caller's buffer. */
typedef struct rm_wire_frame {
    uint8_t *body;
    size_t cap;
    size_t len;
    uint8_t failed;  /* a write did not fit, or a field was invalid */
} rm_wire_frame;

/** The fixed part of INFO. Text fields are NUL-terminated; longer text is
 *  cut to the field size less one. */
typedef struct rm_wire_info {
    const char *model;
    const char *firmware;
    const char *serial;
    uint8_t device_kind;
    uint32_t sample_rate_hz;
    uint8_t channel_count;
    uint32_t encoder_counts_per_turn;
    float roller_diameter_mm;
    float roller_width_mm;
    int8_t distal_direction;
} rm_wire_info;

/** One channel of INFO. */
typedef struct rm_wire_channel {
    uint8_t kind;
    float position_mm;
    float area_mm2;
    float gain_n_per_count;
    float offset_counts;
} rm_wire_channel;

uint32_t rm_wire_crc32c(uint32_t crc, const uint8_t *data, size_t len);

void rm_wire_begin(rm_wire_frame *w, uint8_t *body, size_t cap, uint8_t type,
                   uint16_t seq, uint32_t time_us);
void rm_wire_u8(rm_wire_frame *w, uint8_t v);
void rm_wire_u16(rm_wire_frame *w, uint16_t v);
void rm_wire_u32(rm_wire_frame *w, uint32_t v);
void rm_wire_f32(rm_wire_frame *w, float v);
/** text in a field of field_size bytes, padded with 0x00. */
void rm_wire_text(rm_wire_frame *w, const char *text, size_t field_size);

void rm_wire_info_head(rm_wire_frame *w, const rm_wire_info *info);
void rm_wire_info_channel(rm_wire_frame *w, const rm_wire_channel *ch);
/** SAMPLES: the header, then count calls of rm_wire_sample. An invalid
 *  count or a body over RM_WIRE_MAX_BODY fails the frame. */
void rm_wire_samples_head(rm_wire_frame *w, uint8_t channels, uint8_t count);
void rm_wire_sample(rm_wire_frame *w, uint32_t dt_us, int32_t encoder,
                    uint16_t flags, const int32_t *counts, uint8_t channels);
void rm_wire_event(rm_wire_frame *w, uint8_t kind, int32_t value);
void rm_wire_status(rm_wire_frame *w, uint8_t streaming,
                    uint32_t sample_rate_hz, uint32_t dropped);
/** ERROR: code and at most RM_WIRE_ERROR_TEXT_MAX bytes of text. */
void rm_wire_error(rm_wire_frame *w, uint16_t code, const char *text);
void rm_wire_ack(rm_wire_frame *w, uint8_t acked_type, int16_t result);

/** Appends the CRC to the body (its buffer needs RM_WIRE_CRC_SIZE bytes
 *  after the payload), writes COBS(body || CRC) and 0x00 to out. Returns
 *  the bytes written, or 0 when the frame failed or out is too small
 *  (RM_WIRE_ENCODED_MAX(body length) is always enough). */
size_t rm_wire_finish(rm_wire_frame *w, uint8_t *out, size_t cap);

/** A small receiver: COBS-decodes bytes into the caller's buffer and
 *  checks the CRC. For a device reading host commands. */
typedef struct rm_wire_receiver {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint8_t run_left;    /* data bytes left in the current COBS block */
    uint8_t zero_next;   /* the current block ends with a 0x00 */
    uint8_t overflow;    /* the frame did not fit; skip to the delimiter */
} rm_wire_receiver;

void rm_wire_receiver_init(rm_wire_receiver *r, uint8_t *buf, size_t cap);
/** Feed one byte. Returns the body length (type .. payload, CRC checked and
 *  removed) when it completes a good frame, 0 otherwise; the body is at
 *  r->buf until the next call. Bad frames are skipped. */
size_t rm_wire_receive(rm_wire_receiver *r, uint8_t byte);

uint16_t rm_wire_get_u16(const uint8_t *p);
uint32_t rm_wire_get_u32(const uint8_t *p);

#endif
