/* The firmware's frames (report.h). */
#include "report.h"

/* One body buffer: the firmware builds one frame at a time. */
static uint8_t body[REPORT_BODY_MAX + RM_WIRE_CRC_SIZE];

static void begin(rm_wire_frame *w, uint8_t type, uint16_t seq, uint32_t t_us)
{
    rm_wire_begin(w, body, sizeof body, type, seq, t_us);
}

static size_t finish(rm_wire_frame *w, uint8_t *out)
{
    return rm_wire_finish(w, out, REPORT_WIRE_MAX);
}

size_t report_info(const roller_settings *s, uint16_t seq, uint32_t now_us,
                   uint8_t *out)
{
    static const float positions_mm[ROLLER_CHANNELS] = {0.0f, ROLLER_WIDTH_MM};
    rm_wire_frame w;
    begin(&w, RM_WIRE_INFO, seq, now_us);
    rm_wire_info head = {
        .model = ROLLER_MODEL,
        .firmware = ROLLER_FIRMWARE_VERSION,
        .serial = s->serial,
        .device_kind = 0, /* roller */
        .sample_rate_hz = s->rate_hz,
        .channel_count = ROLLER_CHANNELS,
        .encoder_counts_per_turn = ROLLER_CPR,
        .roller_diameter_mm = ROLLER_DIAMETER_MM,
        .roller_width_mm = ROLLER_WIDTH_MM,
        .distal_direction = ROLLER_DISTAL_DIRECTION,
    };
    rm_wire_info_head(&w, &head);
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++) {
        rm_wire_channel ch = {
            .kind = 0, /* load cell */
            .position_mm = positions_mm[c],
            .area_mm2 = 0.0f,
            .gain_n_per_count = s->gain_n_per_count[c],
            .offset_counts = s->offset_counts[c],
        };
        rm_wire_info_channel(&w, &ch);
    }
    return finish(&w, out);
}

size_t report_samples(const roller_sample *samples, uint8_t count,
                      uint16_t seq, uint8_t *out)
{
    rm_wire_frame w;
    uint32_t t0 = samples[0].t_us;
    begin(&w, RM_WIRE_SAMPLES, seq, t0);
    rm_wire_samples_head(&w, ROLLER_CHANNELS, count);
    for (uint8_t i = 0; i < count; i++) {
        const roller_sample *s = &samples[i];
        rm_wire_sample(&w, s->t_us - t0, s->encoder, s->flags, s->counts,
                       ROLLER_CHANNELS);
    }
    return finish(&w, out);
}

size_t report_event(uint8_t kind, int32_t value, uint16_t seq, uint32_t now_us,
                    uint8_t *out)
{
    rm_wire_frame w;
    begin(&w, RM_WIRE_EVENT, seq, now_us);
    rm_wire_event(&w, kind, value);
    return finish(&w, out);
}

size_t report_status(uint8_t streaming, uint32_t rate_hz, uint32_t dropped,
                     uint16_t seq, uint32_t now_us, uint8_t *out)
{
    rm_wire_frame w;
    begin(&w, RM_WIRE_STATUS, seq, now_us);
    rm_wire_status(&w, streaming, rate_hz, dropped);
    return finish(&w, out);
}

size_t report_ack(uint8_t acked_type, int16_t result, uint16_t seq,
                  uint32_t now_us, uint8_t *out)
{
    rm_wire_frame w;
    begin(&w, RM_WIRE_ACK, seq, now_us);
    rm_wire_ack(&w, acked_type, result);
    return finish(&w, out);
}

size_t report_error(uint16_t code, const char *text, uint16_t seq,
                    uint32_t now_us, uint8_t *out)
{
    rm_wire_frame w;
    begin(&w, RM_WIRE_ERROR, seq, now_us);
    rm_wire_error(&w, code, text);
    return finish(&w, out);
}
