/* The live socket server and its client library, over real Unix sockets in
 * a temporary folder: greeting, watch and decimation, commands, errors,
 * oversized lines, stuck and stalled clients, many clients, status. */
#include "testutil.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- fixtures ---- */

typedef struct calls {
    int starts, stops, tags, marks, tares;
    uint32_t rate_hz;
    rm_session_meta meta;
    char tag_key[64], tag_value[256];
    int rating;
    bool fail;               /* handlers refuse with a message */
} calls;

typedef struct fixture {
    char *dir;
    char path[108];
    rm_server *srv;
    calls calls;
} fixture;

static rm_status on_start(void *user, rm_session_meta *meta, rm_error *err)
{
    calls *c = user;
    if (c->fail)
        return rm_error_set(err, RM_ERR_NOT_FOUND, "start: no device connected");
    c->starts++;
    c->meta = *meta;
    strcpy(meta->session_id, "20261124T062000Z-test");
    return RM_OK;
}

static rm_status on_stop(void *user, rm_error *err)
{
    (void)err;
    ((calls *)user)->stops++;
    return RM_OK;
}

static rm_status on_tag(void *user, const char *key, const char *value,
                        rm_error *err)
{
    (void)err;
    calls *c = user;
    c->tags++;
    strcpy(c->tag_key, key);
    strcpy(c->tag_value, value);
    return RM_OK;
}

static rm_status on_mark(void *user, int rating, rm_error *err)
{
    (void)err;
    calls *c = user;
    c->marks++;
    c->rating = rating;
    return RM_OK;
}

static rm_status on_tare(void *user, rm_error *err)
{
    (void)err;
    ((calls *)user)->tares++;
    return RM_OK;
}

static rm_status on_rate(void *user, uint32_t rate_hz, rm_error *err)
{
    (void)err;
    ((calls *)user)->rate_hz = rate_hz;
    return RM_OK;
}

/* A server in a fresh folder; 0 keeps an option's default. */
static fixture *open_fixture(uint32_t stall_timeout_ms, uint32_t max_clients)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = testutil_mkdtemp();
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/sub/live.sock", f->dir);
    rm_server_options opt;
    rm_server_options_default(&opt);
    strcpy(opt.path, f->path);
    if (stall_timeout_ms)
        opt.stall_timeout_ms = stall_timeout_ms;
    if (max_clients)
        opt.max_clients = max_clients;
    rm_server_handlers h = {.user = &f->calls, .start = on_start,
                            .stop = on_stop, .tag = on_tag, .mark = on_mark,
                            .tare = on_tare, .rate = on_rate};
    rm_error err = {0};
    rm_status st = rm_server_open(&f->srv, &opt, &h, &err);
    if (st != RM_OK)
        fail_msg("rm_server_open: %s", err.message);
    return f;
}

static int setup(void **state)
{
    *state = open_fixture(0, 0);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rm_server_close(f->srv);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Two load cells (0.01 N/count), four 1 cm^2 pressure cells across a 40 cm
 * roller, a 4096-count encoder on a 15 cm roller. */
static void test_device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    strcpy(info->model, "test roller");
    strcpy(info->serial, "T-1");
    info->sample_rate_hz = 1000;
    info->channel_count = 6;
    for (int i = 0; i < 6; i++) {
        rm_channel_info *ch = &info->channels[i];
        ch->kind = i < 2 ? RM_CHANNEL_LOAD_CELL : RM_CHANNEL_PRESSURE_CELL;
        ch->gain_n_per_count = 0.01f;
        ch->position_mm = i < 2 ? (i == 0 ? 0 : 400) : 50 + 100 * (i - 2);
        ch->area_mm2 = i < 2 ? 0 : 100;
    }
    info->encoder_counts_per_turn = 4096;
    info->roller_diameter_mm = 150;
    info->roller_width_mm = 400;
    info->distal_direction = 1;
    rm_device_info_default_calibration(info);
}

static rm_sample sample_at(uint64_t t_us, double force_n, int32_t encoder)
{
    rm_sample s = {.t_us = t_us, .encoder = encoder};
    s.counts[0] = s.counts[1] = (int32_t)(force_n / 2 / 0.01);
    for (int i = 2; i < 6; i++)
        s.counts[i] = (int32_t)(force_n / 8 / 0.01);
    return s;
}

/* Publish seconds of 1 kHz samples at a steady force, starting at t0_us. */
static void publish_steady(rm_server *srv, uint64_t t0_us, double seconds)
{
    rm_sample batch[100];
    size_t total = (size_t)(seconds * 1000);
    for (size_t done = 0; done < total; done += 100) {
        for (size_t i = 0; i < 100; i++)
            batch[i] = sample_at(t0_us + (done + i) * 1000, 200, 0);
        rm_server_publish_samples(srv, batch, 100);
    }
}

static rm_client *connect_client(fixture *f)
{
    rm_client *c = NULL;
    rm_error err = {0};
    if (rm_client_connect(&c, f->path, &err) != RM_OK)
        fail_msg("connect: %s", err.message);
    return c;
}

static rm_json *request(rm_client *c, const char *req)
{
    rm_json *reply = NULL;
    rm_error err = {0};
    if (rm_client_request(c, req, &reply, 2000, &err) != RM_OK)
        fail_msg("%s: %s", req, err.message);
    return reply;
}

/* The ERROR message the server answers req with. */
static void expect_error(rm_client *c, const char *req, const char *needle)
{
    rm_error err = {0};
    assert_int_equal(rm_client_request(c, req, NULL, 2000, &err), RM_ERR_ARG);
    if (!strstr(err.message, needle))
        fail_msg("'%s' answered '%s', expected it to mention '%s'", req,
                 err.message, needle);
}

static const char *class_of(const rm_json *doc)
{
    return rm_json_as_string(rm_json_get(doc, "class"), "");
}

/* Next line of the given class, skipping others; parsed. */
static rm_json *next_of_class(rm_client *c, const char *cls)
{
    for (;;) {
        const char *line;
        rm_error err = {0};
        if (rm_client_read_line(c, &line, 2000, &err) != RM_OK)
            fail_msg("waiting for %s: %s", cls, err.message);
        rm_json *doc = NULL;
        assert_int_equal(rm_json_parse(&doc, line, strlen(line), NULL), RM_OK);
        if (!strcmp(class_of(doc), cls))
            return doc;
        rm_json_free(doc);
    }
}

static int raw_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

/* ---- tests ---- */

static void greets_with_version_line(void **state)
{
    fixture *f = *state;
    int fd = raw_connect(f->path);
    char buf[512] = {0};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    rm_json *doc = NULL;
    assert_int_equal(rm_json_parse(&doc, buf, (size_t)(nl - buf), NULL), RM_OK);
    assert_string_equal(class_of(doc), "VERSION");
    assert_string_equal(rm_json_as_string(rm_json_get(doc, "release"), ""),
                        RM_VERSION_STRING);
    assert_int_equal(rm_json_as_number(rm_json_get(doc, "proto_major"), 0), 1);
    rm_json_free(doc);
    close(fd);
}

static void socket_is_group_accessible_only(void **state)
{
    fixture *f = *state;
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
}

static void second_server_on_live_socket_is_busy(void **state)
{
    fixture *f = *state;
    rm_server_options opt;
    rm_server_options_default(&opt);
    strcpy(opt.path, f->path);
    rm_server *other = NULL;
    rm_error err = {0};
    assert_int_equal(rm_server_open(&other, &opt, NULL, &err), RM_ERR_BUSY);
    assert_non_null(strstr(err.message, "already listening"));
}

static void stale_socket_is_replaced(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "stale.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd); /* the file stays, nobody listens: a crashed daemon */
    rm_server_options opt;
    rm_server_options_default(&opt);
    strcpy(opt.path, path);
    rm_server *srv = NULL;
    rm_error err = {0};
    assert_int_equal(rm_server_open(&srv, &opt, NULL, &err), RM_OK);
    rm_server_close(srv);
    assert_int_equal(access(path, F_OK), -1); /* removed on close */
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

static void move_lets_old_clients_go_and_keeps_the_status(void **state)
{
    fixture *f = *state;
    rm_daemon_status st = {0};
    strcpy(st.source, "sim:seed=4");
    rm_server_set_status(f->srv, &st);
    rm_client *old = connect_client(f);
    char moved[sizeof f->path];
    snprintf(moved, sizeof moved, "%s/other/live.sock", f->dir);
    rm_error err = {0};
    assert_int_equal(rm_server_move(f->srv, moved, &err), RM_OK);
    assert_string_equal(rm_server_path(f->srv), moved);
    assert_int_equal(access(f->path, F_OK), -1); /* the old file is gone */

    rm_json *notice = next_of_class(old, "NOTICE");
    assert_non_null(strstr(rm_json_as_string(rm_json_get(notice, "message"), ""),
                           "moved"));
    rm_json_free(notice);
    const char *line;
    rm_status read;
    while ((read = rm_client_read_line(old, &line, 2000, &err)) == RM_OK)
        ;
    assert_int_equal(read, RM_ERR_CLOSED);
    rm_client_close(old);

    strcpy(f->path, moved);
    rm_client *c = connect_client(f);
    rm_json *doc = request(c, "{\"cmd\":\"status\"}");
    assert_string_equal(rm_json_as_string(rm_json_get(doc, "source"), ""), "sim:seed=4");
    rm_json_free(doc);
    rm_json_free(request(c, "{\"cmd\":\"stop\"}")); /* handlers kept */
    assert_int_equal(f->calls.stops, 1);
    rm_client_close(c);
}

static void move_to_a_busy_socket_changes_nothing(void **state)
{
    fixture *f = *state;
    char busy[sizeof f->path];
    snprintf(busy, sizeof busy, "%s/busy.sock", f->dir);
    rm_server_options opt;
    rm_server_options_default(&opt);
    strcpy(opt.path, busy);
    rm_server *other = NULL;
    rm_error err = {0};
    assert_int_equal(rm_server_open(&other, &opt, NULL, &err), RM_OK);
    rm_client *c = connect_client(f);
    assert_int_equal(rm_server_move(f->srv, busy, &err), RM_ERR_BUSY);
    assert_non_null(strstr(err.message, "already listening"));
    assert_string_equal(rm_server_path(f->srv), f->path);
    rm_json_free(request(c, "{\"cmd\":\"status\"}")); /* still connected */
    rm_client_close(c);
    rm_server_close(other);
}

static void commands_reach_the_handlers(void **state)
{
    fixture *f = *state;
    rm_client *c = connect_client(f);
    rm_json *ok = request(c, "{\"cmd\":\"start\",\"client\":\"C12\","
                             "\"side\":\"left\",\"notes\":\"after run\"}");
    assert_string_equal(class_of(ok), "OK");
    assert_string_equal(rm_json_as_string(rm_json_get(ok, "session_id"), ""),
                        "20261124T062000Z-test");
    rm_json_free(ok);
    assert_int_equal(f->calls.starts, 1);
    assert_string_equal(f->calls.meta.client, "C12");
    assert_int_equal(f->calls.meta.side, RM_SIDE_LEFT);
    assert_string_equal(f->calls.meta.muscle, "hamstring");
    assert_string_equal(f->calls.meta.notes, "after run");

    rm_json_free(request(c, "{\"cmd\":\"tag\",\"key\":\"shoe\",\"value\":\"none\"}"));
    assert_int_equal(f->calls.tags, 1);
    assert_string_equal(f->calls.tag_key, "shoe");
    assert_string_equal(f->calls.tag_value, "none");
    rm_json_free(request(c, "{\"cmd\":\"mark\",\"rating\":7}"));
    assert_int_equal(f->calls.rating, 7);
    rm_json_free(request(c, "{\"cmd\":\"mark\"}"));
    assert_int_equal(f->calls.rating, -1);
    assert_int_equal(f->calls.marks, 2);
    rm_json_free(request(c, "{\"cmd\":\"tare\"}"));
    assert_int_equal(f->calls.tares, 1);
    rm_json_free(request(c, "{\"cmd\":\"rate\",\"value\":80}"));
    assert_int_equal(f->calls.rate_hz, 80);
    rm_json_free(request(c, "{\"cmd\":\"stop\"}"));
    assert_int_equal(f->calls.stops, 1);
    rm_client_close(c);
}

static void handler_failure_is_an_error_answer(void **state)
{
    fixture *f = *state;
    f->calls.fail = true;
    rm_client *c = connect_client(f);
    expect_error(c, "{\"cmd\":\"start\"}", "no device connected");
    assert_int_equal(f->calls.starts, 0);
    rm_client_close(c);
}

static void malformed_requests_get_errors_naming_the_fault(void **state)
{
    fixture *f = *state;
    rm_client *c = connect_client(f);
    expect_error(c, "{\"cmd\":", "not valid JSON");
    expect_error(c, "[1,2]", "must be a JSON object");
    expect_error(c, "{\"command\":\"stop\"}", "\"cmd\"");
    expect_error(c, "{\"cmd\":\"dance\"}", "unknown cmd 'dance'");
    expect_error(c, "{\"cmd\":\"mark\",\"rating\":11}", "'rating'");
    expect_error(c, "{\"cmd\":\"mark\",\"rating\":2.5}", "'rating'");
    expect_error(c, "{\"cmd\":\"watch\",\"rate\":0}", "'rate'");
    expect_error(c, "{\"cmd\":\"watch\",\"samples\":\"yes\"}", "'samples'");
    expect_error(c, "{\"cmd\":\"start\",\"side\":\"up\"}", "'side'");
    expect_error(c, "{\"cmd\":\"tag\",\"value\":\"x\"}", "'key'");
    expect_error(c, "{\"cmd\":\"rate\"}", "'value' is missing");
    expect_error(c, "{\"cmd\":\"rate\",\"value\":0}", "'value'");
    expect_error(c, "{\"cmd\":\"rate\",\"value\":\"80\"}", "'value'");
    assert_int_equal(f->calls.marks + f->calls.starts + f->calls.tags, 0);
    assert_int_equal(f->calls.rate_hz, 0);
    rm_json_free(request(c, "{\"cmd\":\"stop\"}")); /* still connected */
    rm_client_close(c);
}

static void oversized_line_is_discarded_and_connection_kept(void **state)
{
    fixture *f = *state;
    rm_client *c = connect_client(f);
    size_t len = RM_SERVER_MAX_REQUEST + 1000;
    char *big = malloc(len + 1);
    memset(big, 'a', len);
    memcpy(big, "{\"cmd\":\"tag\",\"key\":\"", 20);
    big[len] = '\0';
    expect_error(c, big, "longer than 4096 bytes");
    assert_int_equal(f->calls.tags, 0);
    rm_json *status = request(c, "{\"cmd\":\"status\"}");
    assert_string_equal(class_of(status), "STATUS");
    rm_json_free(status);
    free(big);
    rm_client_close(c);
}

static void watch_decimates_samples_to_the_requested_rate(void **state)
{
    fixture *f = *state;
    rm_device_info info;
    test_device(&info);
    rm_server_set_device(f->srv, &info);
    rm_client *c = connect_client(f);
    rm_json *w = request(c, "{\"cmd\":\"watch\",\"samples\":true,\"rate\":20,"
                            "\"events\":false}");
    assert_string_equal(class_of(w), "WATCH");
    assert_int_equal(rm_json_as_number(rm_json_get(w, "rate"), 0), 20);
    rm_json_free(w);
    publish_steady(f->srv, 5000000, 2.0);
    double last_t = -1;
    for (int i = 0; i < 40; i++) {
        rm_json *s = next_of_class(c, "SAMPLE");
        double t = rm_json_as_number(rm_json_get(s, "t_s"), NAN);
        if (last_t >= 0)
            assert_float_equal(t - last_t, 0.05, 1e-6);
        last_t = t;
        assert_float_equal(rm_json_as_number(rm_json_get(s, "force_n"), NAN),
                           200.0, 0.01);
        /* 25 N on a 1 cm^2 cell is 250 kPa */
        assert_float_equal(rm_json_as_number(rm_json_get(s, "pressure_kpa"), NAN),
                           250.0, 0.01);
        assert_true(rm_json_get(s, "position_cm") != NULL);
        rm_json_free(s);
    }
    /* 2 s at 20 Hz is 40 lines, and no 41st */
    const char *line;
    rm_error err = {0};
    assert_int_equal(rm_client_read_line(c, &line, 300, &err), RM_ERR_TIMEOUT);
    assert_float_equal(last_t, 1.95, 1e-6);
    rm_client_close(c);
}

static void mark_is_announced_to_event_watchers(void **state)
{
    fixture *f = *state;
    rm_client *watcher = connect_client(f);
    rm_json_free(request(watcher, "{\"cmd\":\"watch\",\"samples\":false}"));
    rm_client *marker = connect_client(f);
    rm_json_free(request(marker, "{\"cmd\":\"mark\",\"rating\":9}"));
    rm_json *ev = next_of_class(watcher, "EVENT");
    assert_string_equal(rm_json_as_string(rm_json_get(ev, "event"), ""), "mark");
    assert_int_equal(rm_json_as_number(rm_json_get(ev, "rating"), -1), 9);
    rm_json_free(ev);
    rm_client_close(marker);
    rm_client_close(watcher);
}

static void device_button_mark_is_an_event(void **state)
{
    fixture *f = *state;
    rm_device_info info;
    test_device(&info);
    rm_server_set_device(f->srv, &info);
    rm_client *c = connect_client(f);
    rm_json_free(request(c, "{\"cmd\":\"watch\",\"samples\":false}"));
    rm_sample s = sample_at(2000000, 200, 0);
    s.flags = RM_SAMPLE_MARK;
    rm_server_publish_samples(f->srv, &s, 1);
    rm_json *ev = next_of_class(c, "EVENT");
    assert_string_equal(rm_json_as_string(rm_json_get(ev, "event"), ""), "mark");
    assert_string_equal(rm_json_as_string(rm_json_get(ev, "text"), ""), "button");
    assert_true(rm_json_get(ev, "rating") != NULL); /* null: no rating */
    assert_int_equal(rm_json_type_of(rm_json_get(ev, "rating")), RM_JSON_NULL);
    rm_json_free(ev);
    rm_client_close(c);
}

static void status_watchers_get_every_update(void **state)
{
    fixture *f = *state;
    rm_client *c = connect_client(f);
    rm_json_free(request(c, "{\"cmd\":\"watch\",\"samples\":false,"
                            "\"events\":false,\"status\":true}"));
    rm_daemon_status st = {0};
    for (uint64_t n = 1; n <= 3; n++) {
        st.samples_received = n * 1000;
        rm_server_set_status(f->srv, &st);
        rm_json *doc = next_of_class(c, "STATUS");
        assert_int_equal(rm_json_as_number(rm_json_get(doc, "samples_received"), 0),
                         n * 1000);
        rm_json_free(doc);
    }
    rm_client_close(c);
}

static void session_start_restarts_the_live_clock(void **state)
{
    fixture *f = *state;
    rm_device_info info;
    test_device(&info);
    rm_server_set_device(f->srv, &info);
    rm_client *c = connect_client(f);
    rm_json_free(request(c, "{\"cmd\":\"watch\",\"rate\":1,\"events\":false}"));
    publish_steady(f->srv, 0, 5.0);
    rm_live_event ev = {.kind = RM_LIVE_SESSION_START, .t_s = NAN,
                        .position_cm = NAN, .rating = -1};
    strcpy(ev.text, "S-2");
    rm_server_publish_event(f->srv, &ev);
    publish_steady(f->srv, 5000000, 1.0);
    double last_t = -1;
    for (int i = 0; i < 6; i++) {
        rm_json *s = next_of_class(c, "SAMPLE");
        last_t = rm_json_as_number(rm_json_get(s, "t_s"), NAN);
        rm_json_free(s);
    }
    assert_float_equal(last_t, 0.0, 1e-9); /* 5 s before, then 0 again */
    rm_client_close(c);
}

static double seconds_since(uint64_t start_us)
{
    return (double)(rm_monotonic_us() - start_us) / 1e6;
}

static size_t drain(int fd, char *seen, size_t cap, int quiet_ms)
{
    size_t total = 0;
    char buf[65536];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    /* quiet for quiet_ms, and at a line boundary */
    while (poll(&p, 1, quiet_ms) == 1 || (total > 0 && seen[total - 1] != '\n')) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            break;
        if (n < 0)
            continue;
        size_t keep = total + (size_t)n < cap ? (size_t)n : cap - total;
        memcpy(seen + total, buf, keep);
        total += keep;
    }
    seen[total] = '\0';
    return total;
}

/* A client that asks for every sample (and no events, so that every line
 * it misses is a sample) and then never reads. */
static int stuck_watcher(fixture *f)
{
    rm_device_info info;
    test_device(&info);
    rm_server_set_device(f->srv, &info);
    int fd = raw_connect(f->path);
    const char *watch = "{\"cmd\":\"watch\",\"rate\":1000,\"events\":false}\n";
    assert_int_equal(send(fd, watch, strlen(watch), 0), (ssize_t)strlen(watch));
    /* read up to the WATCH answer, one byte at a time so that nothing
     * after it is taken off the socket */
    char seen[512] = {0};
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (!strstr(seen, "\"class\":\"WATCH\"") && len < sizeof seen - 1 &&
           poll(&p, 1, 5000) == 1 && recv(fd, seen + len, 1, 0) == 1)
        len++;
    assert_non_null(strstr(seen, "\"class\":\"WATCH\""));
    return fd;
}

#define NOTICE_SKIPPED "{\"class\":\"NOTICE\",\"skipped\":"

/* Add up the SAMPLE lines in text and the lines its NOTICEs say were
 * skipped. */
static void tally(const char *text, long *delivered, long *skipped)
{
    for (const char *p = text; (p = strstr(p, "{\"class\":\"SAMPLE\"")); p++)
        (*delivered)++;
    for (const char *p = text; (p = strstr(p, NOTICE_SKIPPED)); p++)
        *skipped += atol(p + strlen(NOTICE_SKIPPED));
}

static void stuck_client_never_blocks_publish(void **state)
{
    fixture *f = *state;
    int fd = stuck_watcher(f);
    uint64_t start = rm_monotonic_us();
    publish_steady(f->srv, 0, 100.0); /* 100k samples, ~15 MB of lines */
    double elapsed = seconds_since(start);
    print_message("published 100k samples in %.3f s with a stuck client\n",
                  elapsed);
    assert_true(elapsed < 10.0); /* a blocked publish would hang here */
    assert_int_equal(rm_server_client_count(f->srv), 1);
    /* the client wakes up, reads its backlog, and learns what it missed:
     * every line is either delivered or counted in a NOTICE */
    char *seen = malloc(1 << 20);
    long delivered = 0, skipped = 0;
    drain(fd, seen, (1 << 20) - 1, 300);
    tally(seen, &delivered, &skipped);
    publish_steady(f->srv, 100000000, 0.2); /* 200 lines fit its buffer */
    drain(fd, seen, (1 << 20) - 1, 300);
    tally(seen, &delivered, &skipped);
    print_message("%ld lines delivered, %ld skipped\n", delivered, skipped);
    assert_true(skipped > 50000);
    assert_int_equal(delivered + skipped, 100000 + 200);
    const char *last_notice = NULL;
    for (const char *p = seen; (p = strstr(p, NOTICE_SKIPPED)); p++)
        last_notice = p;
    assert_non_null(last_notice); /* told when it caught up, then fed again */
    assert_non_null(strstr(last_notice, "\"class\":\"SAMPLE\""));
    free(seen);
    close(fd);
}

static void stalled_client_is_dropped(void **state)
{
    (void)state;
    fixture *f = open_fixture(300, 0);
    int fd = stuck_watcher(f);
    /* a daemon keeps publishing: 100 ms of samples every 20 ms, so the
     * stuck client's buffer stays full */
    uint64_t start = rm_monotonic_us(), t_us = 0;
    while (rm_server_client_count(f->srv) > 0 && seconds_since(start) < 5) {
        publish_steady(f->srv, t_us, 0.1);
        t_us += 100000;
        usleep(20000);
    }
    assert_int_equal(rm_server_client_count(f->srv), 0);
    print_message("dropped after %.2f s (stall timeout 0.3 s)\n",
                  seconds_since(start));
    close(fd);
    void *s = f;
    teardown(&s);
}

/* The server keeps this many connections beyond max_clients for status and
 * commands (COMMAND_SLOTS in daemon/server.c). */
enum { COMMAND_SLOTS = 4 };

static void client_beyond_the_limit_is_refused_with_a_reason(void **state)
{
    (void)state;
    fixture *f = open_fixture(0, 2);
    rm_client *first = connect_client(f), *second = connect_client(f);
    rm_client *spare[COMMAND_SLOTS];
    for (int i = 0; i < COMMAND_SLOTS; i++)
        spare[i] = connect_client(f);
    int fd = raw_connect(f->path);
    char buf[256] = {0};
    size_t len = 0;
    ssize_t n;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len < sizeof buf - 1 && poll(&p, 1, 2000) == 1 &&
           (n = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0)
        len += (size_t)n; /* until the server closes it */
    assert_non_null(strstr(buf, "\"class\":\"ERROR\""));
    assert_non_null(strstr(buf, "too many clients"));
    assert_int_equal(rm_server_client_count(f->srv), 2 + COMMAND_SLOTS);
    rm_json_free(request(first, "{\"cmd\":\"status\"}")); /* unharmed */
    close(fd);
    rm_client_close(first);
    rm_client_close(second);
    for (int i = 0; i < COMMAND_SLOTS; i++)
        rm_client_close(spare[i]);
    void *s = f;
    teardown(&s);
}

static void status_and_commands_get_in_while_every_watching_slot_is_taken(void **state)
{
    (void)state;
    fixture *f = open_fixture(0, 2);
    rm_client *watchers[2];
    for (int i = 0; i < 2; i++) {
        watchers[i] = connect_client(f);
        rm_json_free(request(watchers[i], "{\"cmd\":\"watch\",\"samples\":false}"));
    }
    rm_client *late = connect_client(f);
    rm_json *status = request(late, "{\"cmd\":\"status\"}");
    assert_string_equal(class_of(status), "STATUS");
    rm_json_free(status);
    rm_json_free(request(late, "{\"cmd\":\"stop\"}"));
    assert_int_equal(f->calls.stops, 1);
    expect_error(late, "{\"cmd\":\"watch\"}", "all 2 watching slots are taken");
    rm_client_close(late);
    for (int i = 0; i < 2; i++)
        rm_client_close(watchers[i]);
    void *s = f;
    teardown(&s);
}

/* Read until the server closes fd (or 5 s pass). */
static void read_until_closed(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len < cap - 1 && poll(&p, 1, 5000) == 1 &&
           (n = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

static void silent_clients_lose_their_slots_and_a_refused_client_says_why(void **state)
{
    (void)state;
    fixture *f = open_fixture(0, 2);
    int silent[2 + COMMAND_SLOTS];
    for (int i = 0; i < 2 + COMMAND_SLOTS; i++)
        silent[i] = raw_connect(f->path);
    rm_client *c = NULL;
    rm_error err = {0};
    assert_int_equal(rm_client_connect(&c, f->path, &err), RM_ERR_BUSY);
    assert_non_null(strstr(err.message, "rollmapd refused the connection: too many clients"));
    char buf[1024];
    read_until_closed(silent[0], buf, sizeof buf); /* the first request deadline */
    assert_non_null(strstr(buf, "no request within 3 s"));
    for (int i = 0; i < 2 + COMMAND_SLOTS; i++)
        close(silent[i]);
    c = connect_client(f);
    rm_json_free(request(c, "{\"cmd\":\"watch\",\"samples\":false}"));
    rm_client_close(c);
    void *s = f;
    teardown(&s);
}

enum { MANY = 50 };

static void fifty_clients_all_receive_events(void **state)
{
    fixture *f = *state;
    rm_client *clients[MANY];
    for (int i = 0; i < MANY; i++) {
        clients[i] = connect_client(f);
        rm_json_free(request(clients[i], "{\"cmd\":\"watch\",\"samples\":false}"));
    }
    assert_int_equal(rm_server_client_count(f->srv), MANY);
    rm_live_event ev = {.kind = RM_LIVE_PLUG, .t_s = NAN, .position_cm = NAN,
                        .rating = -1};
    strcpy(ev.text, "serial T-1");
    rm_server_publish_event(f->srv, &ev);
    for (int i = 0; i < MANY; i++) {
        rm_json *got = next_of_class(clients[i], "EVENT");
        assert_string_equal(rm_json_as_string(rm_json_get(got, "event"), ""), "plug");
        assert_string_equal(rm_json_as_string(rm_json_get(got, "text"), ""),
                            "serial T-1");
        rm_json_free(got);
        rm_client_close(clients[i]);
    }
}

static void status_answers_from_the_daemon_snapshot(void **state)
{
    fixture *f = *state;
    rm_daemon_status st = {0};
    strcpy(st.source, "sim:seed=3");
    st.device_connected = true;
    test_device(&st.device);
    st.recording = true;
    strcpy(st.session.session_id, "S-1");
    strcpy(st.session.client, "C12");
    st.session.side = RM_SIDE_RIGHT;
    st.samples_recorded = 1234;
    st.ring_dropped = 5;
    st.crc_errors = 2;
    st.measured_rate_hz = 999.5;
    snprintf(st.library_dir, sizeof st.library_dir, "%s", f->dir);
    rm_server_set_status(f->srv, &st);
    rm_client *c = connect_client(f);
    rm_json *doc = request(c, "{\"cmd\":\"status\"}");
    assert_string_equal(class_of(doc), "STATUS");
    assert_string_equal(rm_json_as_string(rm_json_get(doc, "source"), ""),
                        "sim:seed=3");
    const rm_json *dev = rm_json_get(doc, "device");
    assert_true(rm_json_as_bool(rm_json_get(dev, "connected"), false));
    assert_string_equal(rm_json_as_string(rm_json_get(dev, "serial"), ""), "T-1");
    const rm_json *ses = rm_json_get(doc, "session");
    assert_string_equal(rm_json_as_string(rm_json_get(ses, "side"), ""), "right");
    assert_int_equal(rm_json_as_number(rm_json_get(ses, "samples"), 0), 1234);
    assert_int_equal(rm_json_as_number(rm_json_get(rm_json_get(doc, "drops"), "ring"), 0), 5);
    assert_int_equal(rm_json_as_number(rm_json_get(doc, "crc_errors"), 0), 2);
    assert_int_equal(rm_json_as_number(rm_json_get(doc, "clients"), 0), 1);
    const rm_json *lib = rm_json_get(doc, "library");
    assert_true(rm_json_as_number(rm_json_get(lib, "free_bytes"), -1) > 0);
    rm_json_free(doc);
    rm_client_close(c);
}

static void client_reports_missing_daemon_clearly(void **state)
{
    (void)state;
    rm_client *c = NULL;
    rm_error err = {0};
    assert_int_equal(rm_client_connect(&c, "/nonexistent/rollmapd.sock", &err),
                     RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "not running"));
    assert_non_null(strstr(err.message, "/nonexistent/rollmapd.sock"));
}

static void without_a_path_the_client_takes_the_socket_that_exists(void **state)
{
    fixture *f = *state;
    char *user = testutil_path(f->dir, "user.sock");
    char *absent = testutil_path(f->dir, "absent.sock");
    char chosen[108];
    rm_client_choose_path(chosen, sizeof chosen, user, f->path);
    assert_string_equal(chosen, f->path); /* only the system one listens */
    rm_client_choose_path(chosen, sizeof chosen, user, absent);
    assert_string_equal(chosen, user);    /* neither: name the user's */
    rm_client_choose_path(chosen, sizeof chosen, f->path, absent);
    assert_string_equal(chosen, f->path); /* the user's own wins */
    free(user);
    free(absent);
}

static void client_sees_server_going_away(void **state)
{
    fixture *f = *state;
    rm_client *c = connect_client(f);
    rm_server_close(f->srv);
    f->srv = NULL;
    const char *line;
    rm_error err = {0};
    rm_status st;
    while ((st = rm_client_read_line(c, &line, 2000, &err)) == RM_OK)
        ; /* the goodbye notice */
    assert_int_equal(st, RM_ERR_CLOSED);
    rm_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(greets_with_version_line, setup, teardown),
        cmocka_unit_test_setup_teardown(without_a_path_the_client_takes_the_socket_that_exists,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(socket_is_group_accessible_only, setup, teardown),
        cmocka_unit_test_setup_teardown(second_server_on_live_socket_is_busy, setup, teardown),
        cmocka_unit_test(stale_socket_is_replaced),
        cmocka_unit_test_setup_teardown(move_lets_old_clients_go_and_keeps_the_status, setup, teardown),
        cmocka_unit_test_setup_teardown(move_to_a_busy_socket_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(commands_reach_the_handlers, setup, teardown),
        cmocka_unit_test_setup_teardown(handler_failure_is_an_error_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_requests_get_errors_naming_the_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_line_is_discarded_and_connection_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_decimates_samples_to_the_requested_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(mark_is_announced_to_event_watchers, setup, teardown),
        cmocka_unit_test_setup_teardown(device_button_mark_is_an_event, setup, teardown),
        cmocka_unit_test_setup_teardown(status_watchers_get_every_update, setup, teardown),
        cmocka_unit_test_setup_teardown(session_start_restarts_the_live_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(stuck_client_never_blocks_publish, setup, teardown),
        cmocka_unit_test(stalled_client_is_dropped),
        cmocka_unit_test(client_beyond_the_limit_is_refused_with_a_reason),
        cmocka_unit_test(status_and_commands_get_in_while_every_watching_slot_is_taken),
        cmocka_unit_test(silent_clients_lose_their_slots_and_a_refused_client_says_why),
        cmocka_unit_test_setup_teardown(fifty_clients_all_receive_events, setup, teardown),
        cmocka_unit_test_setup_teardown(status_answers_from_the_daemon_snapshot, setup, teardown),
        cmocka_unit_test(client_reports_missing_daemon_clearly),
        cmocka_unit_test_setup_teardown(client_sees_server_going_away, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
