/* The firmware's frame builders (hw/firmware/report.c), compiled here on
 * the host exactly as the firmware compiles them, put the same bytes on
 * the wire as the host's encoder (hw/protocol.c) for the same frames, and
 * the host's decoder reads them back. */
#include "testutil.h"

#include "report.h"

#include <string.h>

static const roller_settings settings = {
    .serial = "RMDIY-0042",
    .rate_hz = ROLLER_RATE_FAST_HZ,
    .gain_n_per_count = {2.31e-4f, -2.27e-4f},
    .offset_counts = {-81234.5f, 40321.0f},
};

static void host_info(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    strcpy(info->model, ROLLER_MODEL);
    strcpy(info->firmware, ROLLER_FIRMWARE_VERSION);
    strcpy(info->serial, settings.serial);
    info->device_kind = RM_DEVICE_ROLLER;
    info->sample_rate_hz = settings.rate_hz;
    info->channel_count = ROLLER_CHANNELS;
    info->encoder_counts_per_turn = ROLLER_CPR;
    info->roller_diameter_mm = ROLLER_DIAMETER_MM;
    info->roller_width_mm = ROLLER_WIDTH_MM;
    info->distal_direction = ROLLER_DISTAL_DIRECTION;
    for (unsigned c = 0; c < ROLLER_CHANNELS; c++) {
        info->channels[c].kind = RM_CHANNEL_LOAD_CELL;
        info->channels[c].position_mm = c ? ROLLER_WIDTH_MM : 0.0f;
        info->channels[c].gain_n_per_count = settings.gain_n_per_count[c];
        info->channels[c].offset_counts = settings.offset_counts[c];
    }
}

static void assert_same_bytes(const rm_frame *host, const uint8_t *fw,
                              size_t fw_len)
{
    uint8_t wire[RM_FRAME_MAX_WIRE];
    size_t n = rm_frame_encode(host, wire, sizeof wire);
    assert_int_not_equal(n, 0);
    assert_int_equal(fw_len, n);
    assert_memory_equal(fw, wire, n);
}

static rm_frame decode_one(const uint8_t *wire, size_t len)
{
    rm_decoder d;
    rm_decoder_init(&d);
    rm_frame f;
    bool have = false;
    assert_int_equal(rm_decoder_push(&d, wire, len, &f, &have), len);
    assert_true(have);
    return f;
}

static void info_is_identical(void **state)
{
    (void)state;
    uint8_t fw[REPORT_WIRE_MAX];
    size_t n = report_info(&settings, 1, 70000, fw);
    rm_frame f = {.type = RM_FRAME_INFO, .seq = 1, .t_us = 70000};
    host_info(&f.u.info);
    assert_same_bytes(&f, fw, n);
    rm_frame back = decode_one(fw, n);
    assert_string_equal(back.u.info.serial, "RMDIY-0042");
    assert_int_equal(back.u.info.encoder_counts_per_turn, ROLLER_CPR);
    assert_float_equal(back.u.info.channels[1].offset_counts, 40321.0, 0);
}

static void samples_are_identical(void **state)
{
    (void)state;
    roller_sample fw_samples[REPORT_BATCH_FAST];
    rm_frame f = {.type = RM_FRAME_SAMPLES, .seq = 65535, .t_us = 4294960000u};
    f.u.samples.channel_count = ROLLER_CHANNELS;
    f.u.samples.count = REPORT_BATCH_FAST;
    for (unsigned i = 0; i < REPORT_BATCH_FAST; i++) {
        roller_sample *s = &fw_samples[i];
        /* the device clock wraps inside the batch */
        s->t_us = 4294960000u + 12500u * i;
        s->encoder = -1200 + 37 * (int32_t)i;
        s->flags = i == 2 ? RM_WIRE_FLAG_MARK | RM_WIRE_FLAG_TARED : 0;
        s->counts[0] = 8388607 - 100000 * (int32_t)i;
        s->counts[1] = -8388608 + 3 * (int32_t)i;
        rm_sample *h = &f.u.samples.samples[i];
        h->t_us = f.t_us + 12500u * i;
        h->encoder = s->encoder;
        h->flags = s->flags;
        h->counts[0] = s->counts[0];
        h->counts[1] = s->counts[1];
    }
    uint8_t fw[REPORT_WIRE_MAX];
    size_t n = report_samples(fw_samples, REPORT_BATCH_FAST, 65535, fw);
    assert_same_bytes(&f, fw, n);
    rm_frame back = decode_one(fw, n);
    assert_int_equal(back.u.samples.samples[3].counts[1], -8388608 + 9);
    assert_int_equal(back.u.samples.samples[2].flags,
                     RM_SAMPLE_MARK | RM_SAMPLE_TARED);
}

static void small_frames_are_identical(void **state)
{
    (void)state;
    uint8_t fw[REPORT_WIRE_MAX];
    rm_frame f = {.type = RM_FRAME_EVENT, .seq = 0, .t_us = 1234};
    f.u.event.kind = RM_DEV_EVENT_OVERLOAD;
    f.u.event.value = 1;
    assert_same_bytes(&f, fw, report_event(RM_WIRE_EVENT_OVERLOAD, 1, 0, 1234, fw));

    f = (rm_frame){.type = RM_FRAME_STATUS, .seq = 9, .t_us = 99};
    f.u.status.streaming = 1;
    f.u.status.sample_rate_hz = 10;
    f.u.status.dropped = 70000;
    assert_same_bytes(&f, fw, report_status(1, 10, 70000, 9, 99, fw));

    f = (rm_frame){.type = RM_FRAME_ACK, .seq = 10, .t_us = 100};
    f.u.ack.acked_type = RM_CMD_SET_RATE;
    f.u.ack.result = -1;
    assert_same_bytes(&f, fw, report_ack(RM_WIRE_SET_RATE, -1, 10, 100, fw));

    f = (rm_frame){.type = RM_FRAME_ERROR, .seq = 11, .t_us = 101};
    f.u.status.error_code = 2;
    strcpy(f.u.status.text, "unknown frame type 0x99");
    assert_same_bytes(&f, fw, report_error(2, "unknown frame type 0x99", 11, 101, fw));
}

/* docs/profiles/rollmap-diy-roller.ini describes the roller when it is not
 * connected: it must say what the firmware built with its defaults says. */
static void the_shipped_profile_says_what_the_firmware_says(void **state)
{
    (void)state;
    const roller_settings fresh = ROLLER_SETTINGS_DEFAULTS;
    uint8_t fw[REPORT_WIRE_MAX];
    rm_frame f = decode_one(fw, report_info(&fresh, 0, 0, fw));
    const rm_device_info *want = &f.u.info;
    rm_profile p;
    testutil_load_shipped_profile(&p, "rollmap-diy-roller.ini");
    const rm_device_info *got = &p.info;
    assert_true(p.binary);
    assert_string_equal(got->model, want->model);
    assert_string_equal(got->firmware, want->firmware);
    assert_string_equal(got->serial, want->serial);
    assert_int_equal(got->device_kind, want->device_kind);
    assert_int_equal(got->sample_rate_hz, want->sample_rate_hz);
    assert_int_equal(got->encoder_counts_per_turn, want->encoder_counts_per_turn);
    assert_float_equal(got->roller_diameter_mm, want->roller_diameter_mm, 0);
    assert_float_equal(got->roller_width_mm, want->roller_width_mm, 0);
    assert_int_equal(got->distal_direction, want->distal_direction);
    assert_int_equal(got->channel_count, want->channel_count);
    for (unsigned c = 0; c < want->channel_count; c++) {
        const rm_channel_info *g = &got->channels[c], *w = &want->channels[c];
        assert_int_equal(g->kind, w->kind);
        assert_float_equal(g->position_mm, w->position_mm, 0);
        assert_float_equal(g->area_mm2, w->area_mm2, 0);
        assert_float_equal(g->gain_n_per_count, w->gain_n_per_count, 0);
        assert_float_equal(g->offset_counts, w->offset_counts, 0);
    }
    assert_int_equal(p.baud, 115200);
    assert_true(rm_usb_id_known(got->usb_vid, got->usb_pid));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(info_is_identical),
        cmocka_unit_test(samples_are_identical),
        cmocka_unit_test(small_frames_are_identical),
        cmocka_unit_test(the_shipped_profile_says_what_the_firmware_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
