/* The firmware's frames, built with the shared wire code (hw/wire/).
 * Portable C with no AVR headers: the host's unit test compiles this same
 * file to prove that the firmware and the host encode identical bytes. */
#ifndef ROLLER_REPORT_H
#define ROLLER_REPORT_H

#include "roller_config.h"
#include "rm_wire.h"

/* Samples per SAMPLES frame at each rate: a frame at least every 50 ms at
 * 80/s (docs/PROTOCOL.md asks for 20-50 ms), one per sample at 10/s. */
#define REPORT_BATCH_FAST 4
#define REPORT_BATCH_MAX REPORT_BATCH_FAST

/* The largest frame the firmware sends is INFO with two channels. */
#define REPORT_BODY_MAX                                                      \
    (RM_WIRE_HEADER_SIZE + RM_WIRE_INFO_FIXED_SIZE +                         \
     ROLLER_CHANNELS * RM_WIRE_INFO_CHANNEL_SIZE)
#define REPORT_WIRE_MAX RM_WIRE_ENCODED_MAX(REPORT_BODY_MAX)

#define REPORT_SERIAL_SIZE 24

/* What the firmware keeps in EEPROM, at its start. The layout number
 * changes whenever roller_settings changes shape. */
#define ROLLER_SETTINGS_LAYOUT 0x5201
/* Packed: the host (the emulated bench, the tests) lays it out as the AVR
 * does. */
typedef struct __attribute__((packed)) roller_settings {
    uint16_t layout;                   /* ROLLER_SETTINGS_LAYOUT, else defaults */
    char serial[REPORT_SERIAL_SIZE];
    uint32_t rate_hz;
    float gain_n_per_count[ROLLER_CHANNELS];
    float offset_counts[ROLLER_CHANNELS];
} roller_settings;

/* A roller fresh from the build: EEPROM defaults (the .eep file), and what
 * docs/profiles/rollmap-diy-roller.ini says. */
#define ROLLER_SETTINGS_DEFAULTS {                                \
    .layout = ROLLER_SETTINGS_LAYOUT,                             \
    .serial = ROLLER_SERIAL,                                      \
    .rate_hz = ROLLER_RATE_FAST_HZ,                               \
    .gain_n_per_count = {ROLLER_GAIN_N_PER_COUNT,                 \
                         ROLLER_GAIN_N_PER_COUNT},                \
    .offset_counts = {0.0f, 0.0f},                                \
}

typedef struct roller_sample {
    uint32_t t_us;
    int32_t encoder;
    uint16_t flags;
    int32_t counts[ROLLER_CHANNELS];
} roller_sample;

/* Each builder writes one whole frame (COBS, CRC, delimiter) to out, which
 * has REPORT_WIRE_MAX bytes, and returns its length. */
size_t report_info(const roller_settings *s, uint16_t seq, uint32_t now_us,
                   uint8_t *out);
size_t report_samples(const roller_sample *samples, uint8_t count,
                      uint16_t seq, uint8_t *out);
size_t report_event(uint8_t kind, int32_t value, uint16_t seq, uint32_t now_us,
                    uint8_t *out);
size_t report_status(uint8_t streaming, uint32_t rate_hz, uint32_t dropped,
                     uint16_t seq, uint32_t now_us, uint8_t *out);
size_t report_ack(uint8_t acked_type, int16_t result, uint16_t seq,
                  uint32_t now_us, uint8_t *out);
size_t report_error(uint16_t code, const char *text, uint16_t seq,
                    uint32_t now_us, uint8_t *out);

#endif
