/*
 * The USB roller without hardware: a umockdev testbed shows a USB CDC-ACM
 * board (roller.umockdev: VID:PID 2341:0043, product, serial) whose
 * /dev/ttyACM0 is a pty; a firmware thread feeds the virtual roller's bytes
 * into it and answers its commands. rollmap's real libserialport code then
 *   1. lists and probes it (`rollmap devices --json`, a child process)
 *      and finds it as "auto",
 *   2. opens serial:/dev/ttyACM0 and decodes every frame the firmware sent,
 *   3. notices an emulated unplug (RM_ERR_CLOSED, and "left" from both
 *      libusb hotplug and the rescan fallback), and
 *   4. reconnects after the replug ("arrived" from both, INFO, an unplug
 *      gap, every frame again).
 *
 * With --daemon it runs rollmapd instead (a child process: it inherits
 * the preload and the testbed), plugs the roller, unplugs and replugs it,
 * and checks that the daemon took the replug at once (libusb hotplug)
 * although its back-off would wait 10 s; the caller then checks the
 * session it recorded (tests/integration/test_daemon_umockdev.sh).
 *
 * Run under umockdev's preload with tests/umockdev's modem shim first:
 *   LD_PRELOAD=libmodem_shim.so:libumockdev-preload.so.0 \
 *       umockdev_roller roller.umockdev /path/to/rollmap
 *   ... umockdev_roller --daemon roller.umockdev /path/to/rollmapd WORKDIR
 * Exit 0: all passed, 1: a check failed, 77: umockdev cannot work here.
 */
#include "rollmap_hw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <umockdev.h>
#include <unistd.h>

#define USB_DEVICE "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2"
#define INTERFACE USB_DEVICE "/1-2:1.0"
/** The replugged board comes back as ttyACM1, as Linux names it while the
 *  old port is still held open; the usb: source finds it by its ids. */
#define SOURCE "usb:2341:0043:RM-UMOCK-0001"
/** Virtual roller per plug-in: 1.5 s at 1 kHz, no faults, waits for START. */
#define SIM_OPTIONS "seed=11,duration=1.5,autostart=0,drop=0,ber=0"
/** For rollmapd: 4 s per plug-in, long enough to load the roller past
 *  the daemon's start threshold. */
#define DAEMON_SIM_OPTIONS "seed=11,duration=4,autostart=0,drop=0,ber=0"
#define SKIP 77

static int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* ------------------------------------------------------------------------ */
/* The firmware on the pty master                                           */
/* ------------------------------------------------------------------------ */

typedef struct firmware {
    int fd;
    rm_sim *sim;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool done;            /**< the session is over, all bytes sent */
    atomic_ullong samples_sent;  /**< counted by decoding what was written */
    atomic_ullong first_command_us; /**< when the host first wrote, or 0 */
    rm_decoder tap;
} firmware;

static void tap_written(firmware *fw, const uint8_t *p, size_t n)
{
    while (n) {
        rm_frame f;
        bool have;
        size_t used = rm_decoder_push(&fw->tap, p, n, &f, &have);
        if (have && f.type == RM_FRAME_SAMPLES)
            fw->samples_sent += f.u.samples.count;
        p += used;
        n -= used;
    }
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 10);
            continue;
        }
        if (w < 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void take_commands(firmware *fw)
{
    uint8_t buf[256];
    struct pollfd pfd = {.fd = fw->fd, .events = POLLIN};
    if (poll(&pfd, 1, 1) <= 0 || !(pfd.revents & POLLIN))
        return;
    ssize_t n = read(fw->fd, buf, sizeof buf);
    if (n <= 0)
        return;
    if (!fw->first_command_us)
        fw->first_command_us = rm_monotonic_us();
    rm_sim_receive(fw->sim, buf, (size_t)n);
}

static void *firmware_run(void *arg)
{
    firmware *fw = arg;
    uint64_t start = rm_monotonic_us();
    uint8_t buf[4096];
    while (!fw->stop && !rm_sim_finished(fw->sim)) {
        take_commands(fw);
        while (!rm_sim_finished(fw->sim) &&
               rm_sim_time_us(fw->sim) <= rm_monotonic_us() - start) {
            size_t n = rm_sim_next_bytes(fw->sim, buf, sizeof buf);
            tap_written(fw, buf, n);
            if (!write_all(fw->fd, buf, n))
                return NULL;
        }
    }
    fw->done = true;
    return NULL;
}

static bool firmware_start(firmware *fw, int fd, const char *options)
{
    memset(fw, 0, sizeof *fw);
    fw->fd = fd;
    rm_decoder_init(&fw->tap);
    rm_sim_config cfg;
    rm_error err = {0};
    rm_sim_config_default(&cfg);
    if (rm_sim_config_parse(&cfg, options, &err) != RM_OK ||
        rm_sim_new(&fw->sim, &cfg, &err) != RM_OK) {
        fprintf(stderr, "virtual roller: %s\n", err.message);
        return false;
    }
    return pthread_create(&fw->thread, NULL, firmware_run, fw) == 0;
}

static void firmware_stop(firmware *fw)
{
    fw->stop = true;
    pthread_join(fw->thread, NULL);
    rm_sim_free(fw->sim);
}

/* ------------------------------------------------------------------------ */
/* Plugging                                                                 */
/* ------------------------------------------------------------------------ */

/** The description with the tty named ttyACM<n>. */
static char *description_for(const char *description, int n)
{
    char name[16];
    snprintf(name, sizeof name, "ttyACM%d", n);
    char **parts = g_strsplit(description, "ttyACM0", -1);
    char *text = g_strjoinv(name, parts);
    g_strfreev(parts);
    return text;
}

static bool plug(UMockdevTestbed *tb, const char *description, int n,
                 firmware *fw, const char *options)
{
    GError *error = NULL;
    char *text = description_for(description, n);
    bool added = umockdev_testbed_add_from_string(tb, text, &error);
    g_free(text);
    if (!added) {
        fprintf(stderr, "umockdev: %s\n", error->message);
        g_error_free(error);
        return false;
    }
    char node[32];
    snprintf(node, sizeof node, "/dev/ttyACM%d", n);
    int fd = umockdev_testbed_get_dev_fd(tb, node);
    if (fd < 0) {
        fprintf(stderr, "umockdev: no pty behind %s\n", node);
        return false;
    }
    umockdev_testbed_uevent(tb, USB_DEVICE, "add");
    return firmware_start(fw, fd, options);
}

/** Pull the cable: the devices vanish from sysfs and the tty hangs up. */
static void unplug(UMockdevTestbed *tb, firmware *fw)
{
    firmware_stop(fw);
    umockdev_testbed_uevent(tb, USB_DEVICE, "remove");
    umockdev_testbed_remove_device(tb, INTERFACE "/tty/ttyACM0");
    umockdev_testbed_remove_device(tb, INTERFACE);
    umockdev_testbed_remove_device(tb, USB_DEVICE);
    /* The pty master is the cable: closing it is what the tty driver does
     * to an open port when the USB device goes. */
    close(fw->fd);
}

/* ------------------------------------------------------------------------ */
/* The checks                                                               */
/* ------------------------------------------------------------------------ */

/** Store a calibration for the roller's serial, as rollmap calibrate
 *  would, so that the listing can show it beside the roller; made
 *  age_days ago when that is not 0. */
static void store_calibration(const rm_device_info *info, unsigned age_days)
{
    char dir[4096];
    rm_error err = {0};
    rm_device_info calibrated = *info;
    rm_device_info_default_calibration(&calibrated);
    int64_t made = rm_wallclock_us() / 1000000 - (int64_t)age_days * 86400;
    for (unsigned i = 0; age_days && i < calibrated.channel_count; i++)
        calibrated.channels[i].cal.date_unix = made;
    CHECK(rm_default_calibration_dir(dir, sizeof dir, &err) == RM_OK &&
              rm_calibration_save(dir, info->serial, &calibrated, &err) ==
                  RM_OK,
          "storing a calibration: %s", err.message);
}

static void check_devices_listing(const char *rollmap, const firmware *fw)
{
    store_calibration(rm_sim_info(fw->sim), 0);
    char command[4096];
    snprintf(command, sizeof command, "%s devices --json", rollmap);
    FILE *p = popen(command, "r");
    char out[16384];
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int rc = p ? pclose(p) : -1;
    CHECK(rc == 0, "rollmap devices exited with %d", rc);
    CHECK(strstr(out, "\"path\": \"/dev/ttyACM0\""), "no ttyACM0 in:\n%s",
          out);
    CHECK(strstr(out, "\"vid\": \"2341\""), "no VID 2341 in:\n%s", out);
    CHECK(strstr(out, "\"pid\": \"0043\""), "no PID 0043 in:\n%s", out);
    CHECK(strstr(out, "\"serial\": \"RM-UMOCK-0001\""),
          "no USB serial in:\n%s", out);
    CHECK(strstr(out, "\"roller\": true"), "probe found no roller:\n%s", out);
    CHECK(strstr(out, "\"calibration\": {"),
          "the roller's stored calibration is not shown:\n%s", out);
    printf("rollmap devices --json under umockdev:\n%s", out);
}

/** "auto" finds the roller by asking every USB port. */
static void check_auto(void)
{
    rm_source_spec spec;
    rm_source *src;
    rm_error err = {0};
    rm_source_parse("auto", &spec, &err);
    rm_status st = rm_source_open(&src, &spec, &err);
    CHECK(st == RM_OK, "auto: %s", err.message);
    if (st != RM_OK)
        return;
    CHECK(!strncmp(rm_source_info(src)->serial, "SIM-", 4),
          "auto opened a device with serial '%s'",
          rm_source_info(src)->serial);
    rm_source_command(src, RM_CMD_STOP, 0, NULL);
    rm_source_close(src);
}

typedef struct tally {
    uint64_t samples, gaps_unplugged, infos;
} tally;

static void on_hotplug(rm_hotplug_event ev, uint16_t vid, uint16_t pid,
                       void *user)
{
    int *seen = user;
    if (vid == 0x2341 && pid == 0x0043)
        seen[ev]++;
}

/** Read until the firmware is done and every byte it sent was read. */
static rm_status read_session(rm_source *src, firmware *fw, tally *t)
{
    rm_source_output *out = malloc(sizeof *out);
    uint64_t quiet_since = 0;
    rm_status st;
    for (;;) {
        rm_error err = {0};
        st = rm_source_next(src, out, &err);
        if (st == RM_OK) {
            quiet_since = 0;
            t->infos += out->item == RM_ITEM_INFO;
            t->gaps_unplugged += out->item == RM_ITEM_GAP &&
                                 out->gap.reason == RM_GAP_UNPLUGGED;
            if (out->item == RM_ITEM_SAMPLES)
                t->samples += out->count;
            continue;
        }
        if (st != RM_ERR_AGAIN) {
            fprintf(stderr, "source: %s\n", err.message);
            break;
        }
        if (fw->done && t->samples == fw->samples_sent)
            break;
        if (!quiet_since)
            quiet_since = rm_monotonic_us();
        else if (rm_monotonic_us() - quiet_since > 2000000u)
            break; /* 2 s of silence: the counts will tell */
        rm_source_wait(src, 100, NULL);
    }
    free(out);
    return st == RM_ERR_AGAIN ? RM_OK : st;
}

/** Both ways of watching: libusb hotplug (fed by umockdev's emulated
 *  uevents) and the once-a-second rescan of the serial ports. */
typedef struct watchers {
    rm_hotplug *hp[2];
    int seen[2][2];           /**< [watcher][rm_hotplug_event] */
} watchers;

enum { NATIVE, RESCAN };

static bool watchers_open(watchers *w)
{
    rm_error err = {0};
    memset(w, 0, sizeof *w);
    unsetenv("ROLLMAP_HOTPLUG");
    CHECK(rm_hotplug_open(&w->hp[NATIVE], on_hotplug, w->seen[NATIVE],
                          &err) == RM_OK, "hotplug: %s", err.message);
    setenv("ROLLMAP_HOTPLUG", "rescan", 1);
    CHECK(rm_hotplug_open(&w->hp[RESCAN], on_hotplug, w->seen[RESCAN],
                          &err) == RM_OK, "hotplug: %s", err.message);
    if (!w->hp[NATIVE] || !w->hp[RESCAN])
        return false;
    CHECK(rm_hotplug_is_native(w->hp[NATIVE]), "libusb hotplug unavailable");
    CHECK(!rm_hotplug_is_native(w->hp[RESCAN]), "rescan was not forced");
    return true;
}

static void watchers_close(watchers *w)
{
    rm_hotplug_close(w->hp[NATIVE]);
    rm_hotplug_close(w->hp[RESCAN]);
}

/** Poll both until each reported ev once more, for up to 3 s (the rescan
 *  runs once a second). */
static void await_hotplug(watchers *w, rm_hotplug_event ev)
{
    int before[2] = {w->seen[NATIVE][ev], w->seen[RESCAN][ev]};
    uint64_t deadline = rm_monotonic_us() + 3000000u;
    while ((w->seen[NATIVE][ev] == before[NATIVE] ||
            w->seen[RESCAN][ev] == before[RESCAN]) &&
           rm_monotonic_us() < deadline)
        for (int i = 0; i < 2; i++) {
            rm_error err = {0};
            if (rm_hotplug_poll(w->hp[i], 50, &err) != RM_OK)
                fprintf(stderr, "hotplug: %s\n", err.message);
        }
    static const char *const names[] = {"arrival", "departure"};
    CHECK(w->seen[NATIVE][ev] == before[NATIVE] + 1,
          "libusb hotplug saw %d %s(s)", w->seen[NATIVE][ev] - before[NATIVE],
          names[ev]);
    CHECK(w->seen[RESCAN][ev] == before[RESCAN] + 1,
          "rescan hotplug saw %d %s(s)", w->seen[RESCAN][ev] - before[RESCAN],
          names[ev]);
}

static rm_status await_closed(rm_source *src)
{
    rm_source_output *out = malloc(sizeof *out);
    rm_status st = RM_ERR_AGAIN;
    uint64_t deadline = rm_monotonic_us() + 3000000u;
    while (st != RM_ERR_CLOSED && rm_monotonic_us() < deadline) {
        st = rm_source_next(src, out, NULL);
        if (st == RM_ERR_AGAIN)
            rm_source_wait(src, 100, NULL);
    }
    free(out);
    return st;
}

static bool reconnect(rm_source *src)
{
    rm_reconnect_policy policy;
    rm_reconnect r;
    rm_reconnect_policy_default(&policy);
    uint64_t give_up_us = rm_monotonic_us() + 10000000u;
    rm_reconnect_start(&r, &policy, rm_monotonic_us());
    while (rm_monotonic_us() < give_up_us) {
        if (!rm_reconnect_due(&r, rm_monotonic_us())) {
            poll(NULL, 0, 10);
            continue;
        }
        rm_error err = {0};
        if (rm_source_reopen(src, &err) == RM_OK) {
            printf("reconnected after %u attempts\n", r.attempts);
            return true;
        }
    }
    return false;
}

static void stream_unplug_replug(UMockdevTestbed *tb, const char *description,
                                 firmware *fw)
{
    rm_source_spec spec;
    rm_source *src;
    rm_error err = {0};
    rm_source_parse(SOURCE, &spec, &err);
    rm_status st = rm_source_open(&src, &spec, &err);
    CHECK(st == RM_OK, "open %s: %s", SOURCE, err.message);
    if (st != RM_OK) {
        firmware_stop(fw);
        return;
    }
    tally first = {0};
    read_session(src, fw, &first);
    printf("first plug: %llu samples sent, %llu decoded, %llu lost, "
           "%llu CRC errors\n", (unsigned long long)fw->samples_sent,
           (unsigned long long)first.samples,
           (unsigned long long)rm_source_stats(src)->frames_lost,
           (unsigned long long)rm_source_stats(src)->crc_errors);
    CHECK(fw->samples_sent > 1000, "the firmware sent only %llu samples",
          (unsigned long long)fw->samples_sent);
    CHECK(first.samples == fw->samples_sent, "decoded %llu of %llu samples",
          (unsigned long long)first.samples,
          (unsigned long long)fw->samples_sent);
    CHECK(first.infos >= 1, "no INFO item");

    watchers w;
    if (!watchers_open(&w)) {
        firmware_stop(fw);
        rm_source_close(src);
        return;
    }
    unplug(tb, fw);
    CHECK(await_closed(src) == RM_ERR_CLOSED, "unplug not noticed");
    await_hotplug(&w, RM_HOTPLUG_LEFT);
    CHECK(rm_source_reopen(src, &err) != RM_OK,
          "reopened a device that is not there");

    if (plug(tb, description, 1, fw, SIM_OPTIONS)) {
        await_hotplug(&w, RM_HOTPLUG_ARRIVED);
        CHECK(reconnect(src), "no reconnect within 10 s");
        tally second = {0};
        read_session(src, fw, &second);
        printf("after replug: %llu samples sent, %llu decoded, %llu unplug "
               "gaps\n", (unsigned long long)fw->samples_sent,
               (unsigned long long)second.samples,
               (unsigned long long)second.gaps_unplugged);
        CHECK(second.samples == fw->samples_sent,
              "decoded %llu of %llu samples after the replug",
              (unsigned long long)second.samples,
              (unsigned long long)fw->samples_sent);
        CHECK(second.gaps_unplugged == 1, "%llu unplug gaps",
              (unsigned long long)second.gaps_unplugged);
        CHECK(second.infos >= 1, "no INFO item after the replug");
        firmware_stop(fw);
    }
    watchers_close(&w);
    rm_source_close(src);
}

/* ------------------------------------------------------------------------ */
/* rollmapd on the emulated roller                                          */
/* ------------------------------------------------------------------------ */

/** rollmapd in the foreground, its log in WORK/rollmapd.log. The back-off
 *  is 10 s: only hotplug can pick up the replug sooner. */
static pid_t start_rollmapd(const char *rollmapd, const char *work)
{
    char sock[4200], lib[4200], db[4300], log[4200];
    snprintf(sock, sizeof sock, "%s/rollmapd.sock", work);
    snprintf(lib, sizeof lib, "%s/library", work);
    snprintf(db, sizeof db, "session.database=%s/library.db", work);
    snprintf(log, sizeof log, "%s/rollmapd.log", work);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(127);
    /* The pty masters are the cables: a copy held here would keep the
     * port up after the unplug. */
    closefrom(STDERR_FILENO + 1);
    execl(rollmapd, "rollmapd", "--foreground", "--source", SOURCE,
          "--socket", sock, "--library", lib, "--set", db,
          "--set", "log.level=debug", "--set", "session.idle_s=600",
          "--set", "session.resume_window_s=30",
          "--set", "device.reconnect_initial_ms=10000",
          "--set", "device.reconnect_max_ms=10000", (char *)NULL);
    _exit(127);
}

/** Wait up to ms for *flag (the firmware's) to become true. */
static bool await_flag(const atomic_bool *flag, unsigned ms)
{
    uint64_t deadline = rm_monotonic_us() + ms * 1000ull;
    while (!*flag && rm_monotonic_us() < deadline)
        poll(NULL, 0, 10);
    return *flag;
}

/** How long after the replug the daemon first wrote to the roller
 *  (identify, START), or UINT64_MAX when it did not within 5 s. */
static uint64_t replug_latency_us(const firmware *fw, uint64_t plugged_us)
{
    uint64_t deadline = plugged_us + 5000000u;
    while (!fw->first_command_us && rm_monotonic_us() < deadline)
        poll(NULL, 0, 5);
    return fw->first_command_us ? fw->first_command_us - plugged_us
                                : UINT64_MAX;
}

static void stop_rollmapd(pid_t pid)
{
    int status = 0;
    kill(pid, SIGTERM);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0,
          "rollmapd did not exit cleanly after SIGTERM (status %d)", status);
}

static void daemon_unplug_replug(UMockdevTestbed *tb, const char *description,
                                 firmware *fw, const char *rollmapd,
                                 const char *work)
{
    pid_t pid = start_rollmapd(rollmapd, work);
    CHECK(pid > 0, "cannot start rollmapd");
    if (pid <= 0) {
        firmware_stop(fw);
        return;
    }
    CHECK(await_flag(&fw->done, 15000), "rollmapd never streamed the roller");
    printf("first plug: %llu samples sent\n",
           (unsigned long long)fw->samples_sent);
    poll(NULL, 0, 300);
    unplug(tb, fw);
    poll(NULL, 0, 1000); /* the daemon notices and starts its back-off */
    if (plug(tb, description, 1, fw, DAEMON_SIM_OPTIONS)) {
        uint64_t latency = replug_latency_us(fw, rm_monotonic_us());
        CHECK(latency < 2000000u, "the replug was not taken within 2 s "
              "(the back-off alone waits 10 s)");
        if (latency != UINT64_MAX)
            printf("replug taken after %.0f ms\n", (double)latency / 1000.0);
        CHECK(await_flag(&fw->done, 15000), "no stream after the replug");
        printf("after replug: %llu samples sent\n",
               (unsigned long long)fw->samples_sent);
        poll(NULL, 0, 500);
        firmware_stop(fw);
    }
    stop_rollmapd(pid);
}

/** The testbed with the roller plugged in as ttyACM0, or NULL to skip. */
static UMockdevTestbed *testbed_with_roller(const char *description,
                                            firmware *fw)
{
    UMockdevTestbed *tb = umockdev_testbed_new();
    if (!plug(tb, description, 0, fw, SIM_OPTIONS)) {
        fprintf(stderr, "SKIP: umockdev cannot emulate the roller here\n");
        return NULL;
    }
    /* Only umockdev's preload library makes the testbed's /sys visible. */
    if (access(INTERFACE "/tty/ttyACM0", F_OK) != 0) {
        fprintf(stderr, "SKIP: the testbed's /sys is not visible: umockdev's "
                        "preload library is not loaded (LD_PRELOAD)\n");
        return NULL;
    }
    return tb;
}

static int run_daemon(const char *description_path, const char *rollmapd,
                      const char *work)
{
    char *description;
    if (!g_file_get_contents(description_path, &description, NULL, NULL)) {
        fprintf(stderr, "cannot read %s\n", description_path);
        return 2;
    }
    firmware fw;
    UMockdevTestbed *tb = testbed_with_roller(description, &fw);
    if (!tb)
        return SKIP;
    /* Past rollmapd's default limit of 180 days: applied, flagged stale. */
    store_calibration(rm_sim_info(fw.sim), 400);
    int fd = fw.fd;
    firmware_stop(&fw);
    if (firmware_start(&fw, fd, DAEMON_SIM_OPTIONS))
        daemon_unplug_replug(tb, description, &fw, rollmapd, work);
    g_object_unref(tb);
    g_free(description);
    printf("%s\n", failures ? "rollmapd on the umockdev roller: FAILED"
                             : "rollmapd on the umockdev roller: ok");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--daemon"))
        return run_daemon(argv[2], argv[3], argv[4]);
    if (argc != 3) {
        fprintf(stderr, "usage: umockdev_roller DESCRIPTION ROLLMAP\n"
                        "       umockdev_roller --daemon DESCRIPTION ROLLMAPD "
                        "WORKDIR\n");
        return 2;
    }
    char *description;
    if (!g_file_get_contents(argv[1], &description, NULL, NULL)) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    firmware fw;
    UMockdevTestbed *tb = testbed_with_roller(description, &fw);
    if (!tb) {
        fprintf(stderr, "SKIP: umockdev cannot emulate the roller here\n");
        return SKIP;
    }
    check_devices_listing(argv[2], &fw);
    check_auto();
    /* A fresh virtual roller for the stream: the probe started and
     * stopped the first one. */
    int fd = fw.fd;
    firmware_stop(&fw);
    if (firmware_start(&fw, fd, SIM_OPTIONS))
        stream_unplug_replug(tb, description, &fw);
    g_object_unref(tb);
    g_free(description);
    printf("%s\n", failures ? "umockdev roller: FAILED" : "umockdev roller: ok");
    return failures ? 1 : 0;
}
