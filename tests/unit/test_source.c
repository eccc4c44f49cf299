/* Sources: names parsed one way everywhere with errors that say which part
 * is wrong; a device on a real pty identified, streamed, its lost frames
 * and its unplug reported; capture files replayed at recorded speed. */
#include "testutil.h"

#include "source_internal.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

static rm_source_spec parse_ok(const char *text)
{
    rm_source_spec spec;
    rm_error err = {0};
    rm_status st = rm_source_parse(text, &spec, &err);
    if (st != RM_OK)
        fail_msg("'%s' did not parse: %s", text, err.message);
    return spec;
}

/** The message of a failed parse (asserts it failed). */
static const char *parse_error(const char *text)
{
    static rm_error err;
    rm_source_spec spec;
    rm_error_clear(&err);
    assert_int_equal(rm_source_parse(text, &spec, &err), RM_ERR_ARG);
    return err.message;
}

static void serial_name_gives_path_and_baud(void **state)
{
    (void)state;
    rm_source_spec s = parse_ok("serial:/dev/ttyACM0@57600");
    assert_int_equal(s.kind, RM_SOURCE_SERIAL);
    assert_string_equal(s.path, "/dev/ttyACM0");
    assert_int_equal(s.baud, 57600);
    s = parse_ok("serial:/dev/ttyUSB1");
    assert_string_equal(s.path, "/dev/ttyUSB1");
    assert_int_equal(s.baud, 0);
}

static void usb_name_gives_ids_and_serial(void **state)
{
    (void)state;
    rm_source_spec s = parse_ok("usb:2341:0043:RM-0042");
    assert_int_equal(s.kind, RM_SOURCE_USB);
    assert_int_equal(s.vid, 0x2341);
    assert_int_equal(s.pid, 0x0043);
    assert_string_equal(s.serial, "RM-0042");
    s = parse_ok("usb:1A86:7523");
    assert_int_equal(s.vid, 0x1a86);
    assert_int_equal(s.pid, 0x7523);
    assert_string_equal(s.serial, "");
}

static void other_kinds_parse(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("auto").kind, RM_SOURCE_AUTO);
    assert_int_equal(parse_ok("-").kind, RM_SOURCE_STDIN);
    rm_source_spec s = parse_ok("tty:/dev/pts/7@9600");
    assert_int_equal(s.kind, RM_SOURCE_TTY);
    assert_string_equal(s.path, "/dev/pts/7");
    assert_int_equal(s.baud, 9600);
    s = parse_ok("file:cap.bin?fast");
    assert_int_equal(s.kind, RM_SOURCE_FILE);
    assert_string_equal(s.path, "cap.bin");
    assert_true(s.fast);
    s = parse_ok("sim:seed=3,duration=10");
    assert_int_equal(s.kind, RM_SOURCE_SIM);
    assert_string_equal(s.sim_options, "seed=3,duration=10");
    assert_false(s.fast);
    s = parse_ok("sim:");
    assert_string_equal(s.sim_options, "");
    s = parse_ok("tty:/dev/pts/3?profile=diy.ini,fast");
    assert_string_equal(s.profile_path, "diy.ini");
    assert_true(s.fast);
    s = parse_ok("tty:/dev/pts/3?rate=80");
    assert_int_equal(s.rate_hz, 80);
    assert_int_equal(parse_ok("tty:/dev/pts/3").rate_hz, 0);
}

static void format_gives_back_the_name(void **state)
{
    (void)state;
    static const char *const names[] = {
        "auto", "-", "serial:/dev/ttyACM0@115200", "usb:2341:0043:AB12",
        "usb:10c4:ea60", "tty:/dev/pts/4", "file:x.bin?fast",
        "sim:seed=1,rate=500", "tty:/dev/pts/3?profile=p.ini",
        "usb:2341:0043?rate=10", "tty:/dev/pts/3?fast,profile=p.ini,rate=80",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        rm_source_spec s = parse_ok(names[i]);
        char out[600];
        rm_source_format(&s, out, sizeof out);
        assert_string_equal(out, names[i]);
    }
}

static void bad_names_say_what_is_wrong(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_error("serial:/dev/ttyACM0@fast"),
                           "baud rate 'fast'"));
    assert_non_null(strstr(parse_error("serial:/dev/ttyACM0@12"),
                           "baud rate '12'"));
    assert_non_null(strstr(parse_error("serial:@9600"), "device path is empty"));
    assert_non_null(strstr(parse_error("usb:23g1:0043"), "vendor id '23g1'"));
    assert_non_null(strstr(parse_error("usb:2341:43"), "product id '43'"));
    assert_non_null(strstr(parse_error("usb:2341"), "usb:VID:PID"));
    assert_non_null(strstr(parse_error("usb:2341:0043:"), "serial number"));
    assert_non_null(strstr(parse_error("file:"), "file name is empty"));
    assert_non_null(strstr(parse_error("bluetooth:x"), "unknown source"));
    assert_non_null(strstr(parse_error(""), "empty source name"));
    assert_non_null(strstr(parse_error("file:a.bin?slow"),
                           "unknown option 'slow'"));
    assert_non_null(strstr(parse_error("tty:/dev/pts/3?rate=fast"),
                           "rate 'fast'"));
    assert_non_null(strstr(parse_error("tty:/dev/pts/3?rate=0"), "rate '0'"));
    assert_non_null(strstr(parse_error("tty:/dev/pts/3?rate="), "rate ''"));
    assert_non_null(strstr(parse_error("tty:/dev/pts/3?rate=100001"),
                           "rate '100001'"));
    const char *bare = parse_error("/dev/ttyACM0");
    assert_non_null(strstr(bare, "serial:/dev/ttyACM0"));
    assert_non_null(strstr(bare, "tty:/dev/ttyACM0"));
}

static void overlong_parts_are_refused(void **state)
{
    (void)state;
    char name[400] = "file:";
    memset(name + 5, 'a', 300);
    name[305] = '\0';
    assert_non_null(strstr(parse_error(name), "longer than 255"));
}

/* The session's leg side reaches the virtual roller unless its own
 * options set one; other sources are untouched. */
static void sim_default_adds_only_unset_keys(void **state)
{
    (void)state;
    rm_source_spec spec;
    rm_error err;
    assert_int_equal(rm_source_parse("sim:seed=1,myside=2", &spec, &err), RM_OK);
    assert_int_equal(rm_source_sim_default(&spec, "side", "left", &err), RM_OK);
    assert_string_equal(spec.sim_options, "seed=1,myside=2,side=left");
    assert_int_equal(rm_source_sim_default(&spec, "side", "right", &err), RM_OK);
    assert_string_equal(spec.sim_options, "seed=1,myside=2,side=left");

    assert_int_equal(rm_source_parse("sim:", &spec, &err), RM_OK);
    assert_int_equal(rm_source_sim_default(&spec, "side", "left", &err), RM_OK);
    assert_string_equal(spec.sim_options, "side=left");

    assert_int_equal(rm_source_parse("file:cap.bin", &spec, &err), RM_OK);
    assert_int_equal(rm_source_sim_default(&spec, "side", "left", &err), RM_OK);
    assert_string_equal(spec.sim_options, "");

    char name[sizeof spec.sim_options + 8];
    snprintf(name, sizeof name, "sim:seed=%0*d", (int)sizeof spec.sim_options - 8, 1);
    assert_int_equal(rm_source_parse(name, &spec, &err), RM_OK);
    assert_int_equal(rm_source_sim_default(&spec, "side", "left", &err), RM_ERR_ARG);
    assert_string_equal(spec.sim_options, name + 4);
    assert_non_null(strstr(err.message, "side=left"));
}

static void usb_ids_known_built_in_and_added(void **state)
{
    (void)state;
    rm_error err = {0};
    assert_true(rm_usb_id_known(0x1a86, 0x7523));    /* CH340 */
    assert_true(rm_usb_id_known(0x239a, 0x80f4));    /* any Adafruit */
    assert_false(rm_usb_id_known(0x1209, 0x0001));
    assert_int_equal(rm_usb_id_add("1209:0001", &err), RM_OK);
    assert_true(rm_usb_id_known(0x1209, 0x0001));
    assert_false(rm_usb_id_known(0x1209, 0x0002));
    assert_int_equal(rm_usb_id_add("1209:*", &err), RM_OK);
    assert_true(rm_usb_id_known(0x1209, 0x0002));
    assert_int_equal(rm_usb_id_add("12:0001", &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "USB id '12:0001'"));
    assert_int_equal(rm_usb_id_add("1209-0001", &err), RM_ERR_ARG);
    assert_int_equal(rm_usb_id_add("1209:+001", &err), RM_ERR_ARG);
    assert_int_equal(rm_usb_id_add("1209:0x12", &err), RM_ERR_ARG);
}

/* ------------------------------------------------------------------------ */
/* A device on a real pty                                                   */
/* ------------------------------------------------------------------------ */

enum { FAKE_CHANNELS = 2, FAKE_BATCH = 4, FAKE_FRAMES = 50,
       FAKE_DROPPED_SEQ = 20 };

static rm_device_info fake_info(void)
{
    rm_device_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.model, sizeof info.model, "TestRoller");
    snprintf(info.firmware, sizeof info.firmware, "1.0");
    snprintf(info.serial, sizeof info.serial, "T-0001");
    info.device_kind = RM_DEVICE_ROLLER;
    info.sample_rate_hz = 1000;
    info.channel_count = FAKE_CHANNELS;
    info.encoder_counts_per_turn = 4096;
    info.roller_diameter_mm = 150;
    info.roller_width_mm = 300;
    info.distal_direction = 1;
    for (int c = 0; c < FAKE_CHANNELS; c++) {
        info.channels[c].kind = RM_CHANNEL_LOAD_CELL;
        info.channels[c].gain_n_per_count = 0.01f;
    }
    return info;
}

/** Encode frame number k of the fake stream: samples k*BATCH.. */
static size_t samples_frame(uint16_t seq, uint8_t *wire, size_t cap)
{
    rm_frame f;
    memset(&f, 0, sizeof f);
    f.type = RM_FRAME_SAMPLES;
    f.seq = seq;
    f.t_us = (uint64_t)seq * FAKE_BATCH * 1000u;
    f.u.samples.channel_count = FAKE_CHANNELS;
    f.u.samples.count = FAKE_BATCH;
    for (int i = 0; i < FAKE_BATCH; i++) {
        rm_sample *s = &f.u.samples.samples[i];
        s->t_us = f.t_us + (uint64_t)i * 1000u;
        s->counts[0] = seq * FAKE_BATCH + i;
        s->counts[1] = -(seq * FAKE_BATCH + i);
    }
    return rm_frame_encode(&f, wire, cap);
}

static size_t info_frame(uint16_t seq, uint8_t *wire, size_t cap)
{
    rm_frame f;
    memset(&f, 0, sizeof f);
    f.type = RM_FRAME_INFO;
    f.seq = seq;
    f.u.info = fake_info();
    return rm_frame_encode(&f, wire, cap);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 100);
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
}

typedef struct fake_device {
    int master;
    int identifies;
} fake_device;

/** Answer IDENTIFY on the pty master until START comes. */
static void await_start(fake_device *dev)
{
    rm_decoder dec;
    rm_decoder_init(&dec);
    uint8_t buf[256], wire[RM_FRAME_MAX_WIRE];
    bool started = false;
    while (!started) {
        ssize_t n = read(dev->master, buf, sizeof buf);
        for (ssize_t used = 0; n > 0 && used < n;) {
            rm_frame f;
            bool have;
            used += (ssize_t)rm_decoder_push(&dec, buf + used,
                                             (size_t)(n - used), &f, &have);
            if (have && f.type == RM_CMD_IDENTIFY) {
                dev->identifies++;
                write_all(dev->master, wire, info_frame(0, wire, sizeof wire));
            }
            started = started || (have && f.type == RM_CMD_START);
        }
    }
}

/** Firmware on the pty master: answers IDENTIFY, streams after START
 *  (without frame FAKE_DROPPED_SEQ), then unplugs (closes the master). */
static void *fake_device_run(void *arg)
{
    fake_device *dev = arg;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    await_start(dev);
    for (uint16_t seq = 1; seq <= FAKE_FRAMES; seq++)
        if (seq != FAKE_DROPPED_SEQ)
            write_all(dev->master, wire, samples_frame(seq, wire, sizeof wire));
    usleep(200000); /* let the reader drain before the unplug */
    close(dev->master);
    return NULL;
}

static rm_status next_blocking(rm_source *src, rm_source_output *out)
{
    for (;;) {
        rm_error err = {0};
        rm_status st = rm_source_next(src, out, &err);
        if (st != RM_ERR_AGAIN)
            return st;
        st = rm_source_wait(src, 2000, &err);
        if (st == RM_ERR_TIMEOUT)
            return st;
    }
}

static void pty_device_is_identified_streamed_and_unplugged(void **state)
{
    (void)state;
    int master, slave;
    char name[256];
    assert_int_equal(openpty(&master, &slave, name, NULL, NULL), 0);
    fake_device dev = {.master = master};
    pthread_t thread;
    pthread_create(&thread, NULL, fake_device_run, &dev);

    char text[300];
    snprintf(text, sizeof text, "tty:%s", name);
    rm_source_spec spec = parse_ok(text);
    rm_source *src;
    rm_error err = {0};
    rm_status st = rm_source_open(&src, &spec, &err);
    assert_int_equal(st, RM_OK);
    close(slave); /* the source has its own descriptor */
    assert_true(rm_source_fd(src) >= 0);
    assert_string_equal(rm_source_info(src)->serial, "T-0001");

    rm_source_output *out = malloc(sizeof *out);
    assert_int_equal(next_blocking(src, out), RM_OK);
    assert_int_equal(out->item, RM_ITEM_INFO);
    assert_int_equal(out->info.channel_count, FAKE_CHANNELS);

    size_t samples = 0, gaps = 0;
    int32_t expect = FAKE_BATCH; /* frame 1 starts at sample 4 */
    while ((st = next_blocking(src, out)) == RM_OK) {
        if (out->item == RM_ITEM_GAP) {
            gaps++;
            assert_int_equal(out->gap.reason, RM_GAP_LOST_FRAMES);
            assert_int_equal(out->gap.lost_samples, FAKE_BATCH);
            expect += FAKE_BATCH;
            continue;
        }
        assert_int_equal(out->item, RM_ITEM_SAMPLES);
        for (size_t i = 0; i < out->count; i++, expect++) {
            assert_int_equal(out->samples[i].counts[0], expect);
            assert_int_equal(out->samples[i].counts[1], -expect);
        }
        samples += out->count;
    }
    assert_int_equal(st, RM_ERR_CLOSED);
    assert_int_equal(samples, (FAKE_FRAMES - 1) * FAKE_BATCH);
    assert_int_equal(gaps, 1);
    assert_int_equal(rm_source_stats(src)->frames_lost, 1);
    assert_int_equal(dev.identifies, 1);
    pthread_join(thread, NULL);
    free(out);
    rm_source_close(src);
}

/* A device that resets in mid-stream, its first frames after the reset
 * read late (as a busy host does): RESET_FRAMES frames each side, the
 * clock restarting at the reset, the first RESET_LATE_FRAMES after it
 * written together RESET_LATE_US after they were due. */
enum { RESET_FRAMES = 60, RESET_LATE_FRAMES = 4, RESET_LATE_US = 30000,
       RESET_BOOT_US = 50000 };

typedef struct resetting_device {
    fake_device dev;
    uint64_t reboot_us;       /**< host time from clock start to restart */
} resetting_device;

static void sleep_until_us(uint64_t at_us)
{
    uint64_t now = rm_monotonic_us();
    if (at_us > now)
        usleep((useconds_t)(at_us - now));
}

/** Frame seq leaves one sample period after its last sample (at device
 *  time start_us + (seq + 1) batches); frames up to `late` wait. */
static void stream_in_real_time(int master, uint64_t start_us, uint16_t late)
{
    uint8_t wire[RM_FRAME_MAX_WIRE];
    for (uint16_t seq = 1; seq <= RESET_FRAMES; seq++) {
        uint64_t due = start_us + (uint64_t)(seq + 1) * FAKE_BATCH * 1000u;
        if (seq < late)
            continue;
        sleep_until_us(seq == late ? due + RESET_LATE_US : due);
        for (uint16_t s = seq == late ? 1 : seq; s <= seq; s++)
            write_all(master, wire, samples_frame(s, wire, sizeof wire));
    }
}

static size_t reset_frame(uint8_t *wire, size_t cap)
{
    rm_frame f;
    memset(&f, 0, sizeof f);
    f.type = RM_FRAME_EVENT;
    f.u.event.kind = RM_DEV_EVENT_RESET;
    return rm_frame_encode(&f, wire, cap);
}

static void *resetting_device_run(void *arg)
{
    resetting_device *rd = arg;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    await_start(&rd->dev);
    uint64_t start = rm_monotonic_us();
    stream_in_real_time(rd->dev.master, start, 0);
    write_all(rd->dev.master, wire, reset_frame(wire, sizeof wire));
    usleep(RESET_BOOT_US);
    uint64_t restart = rm_monotonic_us();
    rd->reboot_us = restart - start;
    stream_in_real_time(rd->dev.master, restart, RESET_LATE_FRAMES);
    usleep(200000); /* let the reader drain before the unplug */
    close(rd->dev.master);
    return NULL;
}

/* The restarted clock is anchored by the least delayed of its first frames,
 * not by the first one: the late read does not move the time (anchoring
 * the first frame put it 40 ms ahead), and every sample arrives. */
static void late_read_after_a_reset_keeps_the_clock(void **state)
{
    (void)state;
    int master, slave;
    char name[256], text[300];
    assert_int_equal(openpty(&master, &slave, name, NULL, NULL), 0);
    resetting_device rd = {.dev = {.master = master}};
    pthread_t thread;
    pthread_create(&thread, NULL, resetting_device_run, &rd);
    snprintf(text, sizeof text, "tty:%s", name);
    rm_source_spec spec = parse_ok(text);
    rm_source *src;
    rm_error err = {0};
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_OK);
    close(slave);

    rm_source_output *out = malloc(sizeof *out);
    size_t samples = 0, reset_gaps = 0;
    uint64_t last_us = 0;
    rm_status st;
    while ((st = next_blocking(src, out)) == RM_OK) {
        reset_gaps += out->item == RM_ITEM_GAP &&
                      out->gap.reason == RM_GAP_DEVICE_RESET;
        for (size_t i = 0; out->item == RM_ITEM_SAMPLES && i < out->count; i++) {
            assert_true(out->samples[i].t_us > last_us);
            last_us = out->samples[i].t_us;
        }
        samples += out->item == RM_ITEM_SAMPLES ? out->count : 0;
    }
    pthread_join(thread, NULL);
    assert_int_equal(st, RM_ERR_CLOSED);
    assert_int_equal(samples, 2 * RESET_FRAMES * FAKE_BATCH);
    assert_int_equal(reset_gaps, 1);
    uint64_t truth = rd.reboot_us +
                     ((RESET_FRAMES + 1) * FAKE_BATCH - 1) * 1000u;
    double drift_ms = ((double)last_us - (double)truth) / 1000.0;
    print_message("last sample %+.2f ms from the device's real time\n",
                  drift_ms);
    assert_true(drift_ms > -3.0 && drift_ms < 3.0);
    free(out);
    rm_source_close(src);
}

/* The clock's anchoring alone, with made-up arrivals: frames of 20
 * samples at 1 kHz (device time 20 ms apart) read 0.1 ms after their last
 * sample except where a test says, then a restart 1.5 s after the last
 * one and STALL_NEW_FRAMES frames of the new clock read on time. */
enum { STALL_OLD_FRAMES = 100, STALL_NEW_FRAMES = 15, STALL_FRAME_US = 20000,
       STALL_HOST_US = 5000000, STALL_READ_US = 100, STALL_OFF_US = 1500000 };

static uint64_t stall_device_us(int frame)
{
    return (uint64_t)frame * STALL_FRAME_US + STALL_FRAME_US - 1000u;
}

/** The offset that anchors the new clock when old frame k arrived
 *  late_us[k] after it was due. */
static int64_t anchor_after(const uint64_t *late_us)
{
    hw_clock_hold *h = calloc(1, sizeof *h);
    for (int k = 0; k < STALL_OLD_FRAMES; k++)
        hw_clock_note(h, STALL_HOST_US + stall_device_us(k) + late_us[k],
                      stall_device_us(k));
    uint64_t restart_us = STALL_HOST_US + stall_device_us(STALL_OLD_FRAMES - 1) +
                          STALL_OFF_US;
    rm_frame f;
    memset(&f, 0, sizeof f);
    f.type = RM_FRAME_SAMPLES;
    f.u.samples.count = 20;
    for (int j = 0; j < STALL_NEW_FRAMES; j++) {
        f.u.samples.samples[19].t_us = stall_device_us(j);
        hw_clock_keep(h, &f, restart_us + stall_device_us(j) + STALL_READ_US);
    }
    int64_t offset = hw_clock_release_start(h);
    free(h);
    return offset;
}

/* The host stalled before the restart and read the old clock's last 400 ms
 * in one read, 240 ms late: a frame read on time before the stall anchors
 * the new clock (the last 300 ms alone put it 240 ms back). The old clock
 * is looked at over as many reads as brought the new clock's held frames,
 * not over all it kept: a frame read on time long ago does not count. */
static void restart_after_a_stall_is_anchored_by_a_frame_read_on_time(void **state)
{
    (void)state;
    int64_t truth = (int64_t)(stall_device_us(STALL_OLD_FRAMES - 1) + STALL_OFF_US);
    uint64_t late_us[STALL_OLD_FRAMES];
    uint64_t burst_us = stall_device_us(STALL_OLD_FRAMES - 1) + 240000u;
    for (int k = 0; k < STALL_OLD_FRAMES; k++)
        late_us[k] = k < 80 ? STALL_READ_US : burst_us - stall_device_us(k);
    assert_int_equal(anchor_after(late_us), truth);

    for (int k = 0; k < STALL_OLD_FRAMES; k++)
        late_us[k] = k == 0 ? 0 : STALL_READ_US + 1000u;
    assert_int_equal(anchor_after(late_us), truth - 1000);
}

static void silent_device_times_out_naming_the_port(void **state)
{
    (void)state;
    int master, slave;
    char name[256];
    assert_int_equal(openpty(&master, &slave, name, NULL, NULL), 0);
    char text[300];
    snprintf(text, sizeof text, "tty:%s", name);
    rm_source_spec spec = parse_ok(text);
    rm_source *src = NULL;
    rm_error err = {0};
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_ERR_TIMEOUT);
    assert_null(src);
    assert_non_null(strstr(err.message, name));
    assert_non_null(strstr(err.message, "identify"));
    close(master);
    close(slave);
}

static void missing_port_is_not_found(void **state)
{
    (void)state;
    rm_source_spec spec = parse_ok("tty:/dev/no-such-roller");
    rm_source *src;
    rm_error err = {0};
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "/dev/no-such-roller"));
    spec = parse_ok("serial:/dev/no-such-roller");
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "tty:/dev/no-such-roller"));
}

/* ------------------------------------------------------------------------ */
/* Replaying a capture                                                      */
/* ------------------------------------------------------------------------ */

/** INFO then `frames` SAMPLES frames: FAKE_BATCH ms of samples each. */
static char *write_capture(const char *dir, int frames)
{
    char *path = testutil_path(dir, "capture.bin");
    FILE *f = fopen(path, "wb");
    uint8_t wire[RM_FRAME_MAX_WIRE];
    fwrite(wire, 1, info_frame(0, wire, sizeof wire), f);
    for (int seq = 1; seq <= frames; seq++)
        fwrite(wire, 1, samples_frame((uint16_t)seq, wire, sizeof wire), f);
    fclose(f);
    return path;
}

static size_t replay(const char *path, bool fast, uint64_t *elapsed_us)
{
    char text[600];
    snprintf(text, sizeof text, "file:%s%s", path, fast ? "?fast" : "");
    rm_source_spec spec = parse_ok(text);
    rm_source *src;
    rm_error err = {0};
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_OK);
    rm_source_output *out = malloc(sizeof *out);
    uint64_t start = rm_monotonic_us();
    size_t samples = 0;
    bool saw_info = false;
    rm_status st;
    while ((st = next_blocking(src, out)) == RM_OK) {
        saw_info |= out->item == RM_ITEM_INFO;
        if (out->item == RM_ITEM_SAMPLES)
            samples += out->count;
    }
    *elapsed_us = rm_monotonic_us() - start;
    assert_int_equal(st, RM_ERR_EOF);
    assert_true(saw_info);
    free(out);
    rm_source_close(src);
    return samples;
}

static void capture_replays_at_recorded_speed(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    enum { FRAMES = 50 }; /* 200 ms of samples */
    char *path = write_capture(dir, FRAMES);
    uint64_t paced_us, fast_us;
    assert_int_equal(replay(path, false, &paced_us), FRAMES * FAKE_BATCH);
    assert_int_equal(replay(path, true, &fast_us), FRAMES * FAKE_BATCH);
    /* The last frame starts 196 ms after the first: pacing waits for it. */
    assert_true(paced_us >= 190000);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

static void text_device_is_read_through_its_profile(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "diy.txt");
    const char text[] = "t_ms,raw1,raw2,enc\n"
                        "1000,84211,-1022,1180\n"
                        "1012,84300,-1000,1181\n"
                        "garbage line\n"
                        "1025,84400,-990,1183\n";
    testutil_write_file(path, text, sizeof text - 1);
    char *profile = testutil_path(dir, "diy.ini");
    const char ini[] = "[device]\nmodel = DIY\nserial = diy-hx711-01\n"
                       "kind = roller\nsample_rate_hz = 80\n"
                       "encoder_counts_per_turn = 2400\n"
                       "roller_diameter_mm = 150\n"
                       "[text]\nseparator = comma\nskip_lines = 1\n"
                       "columns = time, ch1, ch2, encoder\ntime_unit = ms\n"
                       "[ch1]\nkind = load_cell\ngain_n_per_count = 0.000265\n"
                       "[ch2]\nkind = load_cell\ngain_n_per_count = 0.000265\n";
    testutil_write_file(profile, ini, sizeof ini - 1);
    char name[700];
    snprintf(name, sizeof name, "file:%s?fast,profile=%s", path, profile);
    rm_source_spec spec = parse_ok(name);
    rm_source *src;
    rm_error err = {0};
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_OK);
    rm_source_output *out = malloc(sizeof *out);
    assert_int_equal(next_blocking(src, out), RM_OK);
    assert_int_equal(out->item, RM_ITEM_INFO);
    assert_string_equal(out->info.serial, "diy-hx711-01");
    static const int32_t ch1[] = {84211, 84300, 84400};
    size_t n = 0;
    rm_status st;
    while ((st = next_blocking(src, out)) == RM_OK) {
        assert_int_equal(out->item, RM_ITEM_SAMPLES);
        assert_true(n < 3);
        assert_int_equal(out->samples[0].counts[0], ch1[n]);
        n++;
    }
    assert_int_equal(st, RM_ERR_EOF);
    assert_int_equal(n, 3);
    assert_int_equal(rm_source_stats(src)->malformed, 1);
    assert_int_equal(rm_source_command(src, RM_CMD_TARE, 0, &err),
                     RM_ERR_UNSUPPORTED);
    assert_int_equal(rm_source_set_rate(src, 10, &err), RM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "text-mode device cannot change its rate"));
    assert_non_null(strstr(err.message, "sends 80 samples a second"));
    free(out);
    rm_source_close(src);
    free(profile);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* The virtual roller in-process                                            */
/* ------------------------------------------------------------------------ */

typedef struct stream_tally {
    uint64_t samples, infos, unplug_gaps, reset_gaps;
    bool times_rise;
    uint64_t last_us;
    uint64_t min_step_us, max_step_us; /* between consecutive samples */
} stream_tally;

static void tally_step(stream_tally *t, uint64_t t_us)
{
    if (t_us <= t->last_us) {
        t->times_rise = false;
        return;
    }
    uint64_t step = t_us - t->last_us;
    if (t->min_step_us == 0 || step < t->min_step_us)
        t->min_step_us = step;
    if (step > t->max_step_us)
        t->max_step_us = step;
}

static void tally_item(stream_tally *t, const rm_source_output *out)
{
    t->infos += out->item == RM_ITEM_INFO;
    if (out->item == RM_ITEM_GAP) {
        t->unplug_gaps += out->gap.reason == RM_GAP_UNPLUGGED;
        t->reset_gaps += out->gap.reason == RM_GAP_DEVICE_RESET;
        assert_true(out->gap.end_us >= out->gap.start_us);
    }
    for (size_t i = 0; out->item == RM_ITEM_SAMPLES && i < out->count; i++) {
        if (t->samples)
            tally_step(t, out->samples[i].t_us);
        t->last_us = out->samples[i].t_us;
        t->samples++;
    }
}

/** Read a sim: source to its end, reopening after every unplug. */
static stream_tally run_sim(const char *name, unsigned *reopen_failures)
{
    rm_source_spec spec = parse_ok(name);
    rm_source *src;
    rm_error err = {0};
    assert_int_equal(rm_source_open(&src, &spec, &err), RM_OK);
    assert_int_equal(rm_source_fd(src), -1);
    rm_source_output *out = malloc(sizeof *out);
    stream_tally t = {.times_rise = true};
    rm_status st;
    while ((st = next_blocking(src, out)) != RM_ERR_EOF) {
        if (st == RM_ERR_CLOSED) {
            while (rm_source_reopen(src, &err) != RM_OK) {
                assert_int_equal(err.code, RM_ERR_NOT_FOUND);
                (*reopen_failures)++;
            }
            continue;
        }
        assert_int_equal(st, RM_OK);
        tally_item(&t, out);
    }
    free(out);
    rm_source_close(src);
    return t;
}

static void virtual_roller_streams_to_its_end(void **state)
{
    (void)state;
    unsigned failures = 0;
    stream_tally t = run_sim("sim:seed=4,duration=2,drop=0,ber=0?fast",
                             &failures);
    assert_int_equal(t.infos, 1);
    assert_int_equal(t.samples, 2000); /* 2 s at the default 1 kHz */
    assert_true(t.times_rise);
    assert_int_equal(t.unplug_gaps + t.reset_gaps, 0);
}

static void virtual_roller_unplug_is_reopened_with_a_gap(void **state)
{
    (void)state;
    unsigned failures = 0;
    stream_tally t = run_sim("sim:seed=4,duration=3,unplug=1,unplug_for=0.5,"
                             "drop=0,ber=0?fast", &failures);
    assert_int_equal(t.unplug_gaps, 1);
    assert_true(t.infos >= 2);
    assert_true(t.times_rise); /* the rebooted clock is carried on */
    /* 0.5 s unplugged of 3 s, and what was in flight at the unplug. */
    assert_in_range(t.samples, 2300, 2500);
}

static void virtual_roller_reset_restarts_streaming(void **state)
{
    (void)state;
    unsigned failures = 0;
    stream_tally t = run_sim("sim:seed=4,duration=3,reset=1,drop=0,ber=0"
                             "?fast", &failures);
    assert_int_equal(t.reset_gaps, 1);
    assert_int_equal(failures, 0);
    assert_true(t.times_rise);
    assert_in_range(t.samples, 2800, 3000); /* START sent again at once */
}

/* A replay cannot know how long a reset took: the clock runs on by exactly
 * one sample, the same on every run (not by however long the machine took
 * to read on). */
static void replayed_reset_continues_the_clock_by_one_sample(void **state)
{
    (void)state;
    unsigned failures = 0;
    stream_tally t = run_sim("sim:seed=4,duration=3,reset=1,drop=0,ber=0"
                             "?fast", &failures);
    assert_int_equal(t.reset_gaps, 1);
    assert_int_equal(t.min_step_us, 1000);
    assert_int_equal(t.max_step_us, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serial_name_gives_path_and_baud),
        cmocka_unit_test(usb_name_gives_ids_and_serial),
        cmocka_unit_test(other_kinds_parse),
        cmocka_unit_test(format_gives_back_the_name),
        cmocka_unit_test(bad_names_say_what_is_wrong),
        cmocka_unit_test(overlong_parts_are_refused),
        cmocka_unit_test(sim_default_adds_only_unset_keys),
        cmocka_unit_test(usb_ids_known_built_in_and_added),
        cmocka_unit_test(pty_device_is_identified_streamed_and_unplugged),
        cmocka_unit_test(late_read_after_a_reset_keeps_the_clock),
        cmocka_unit_test(restart_after_a_stall_is_anchored_by_a_frame_read_on_time),
        cmocka_unit_test(silent_device_times_out_naming_the_port),
        cmocka_unit_test(missing_port_is_not_found),
        cmocka_unit_test(capture_replays_at_recorded_speed),
        cmocka_unit_test(text_device_is_read_through_its_profile),
        cmocka_unit_test(virtual_roller_streams_to_its_end),
        cmocka_unit_test(virtual_roller_unplug_is_reopened_with_a_gap),
        cmocka_unit_test(virtual_roller_reset_restarts_streaming),
        cmocka_unit_test(replayed_reset_continues_the_clock_by_one_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
