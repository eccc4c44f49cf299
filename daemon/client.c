/* A client of the live socket (docs/LIVE.md): connect, send requests, read
 * newline-delimited JSON lines. Used by rollmap live, status and record. */
#include "rollmap_daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Longest line the client accepts; the server's lines are at most 16 KiB. */
#define CLIENT_LINE_MAX 65536
/* How long to wait for the server's VERSION line after connecting. */
#define HELLO_TIMEOUT_MS 2000

struct rm_client {
    int fd;
    char path[108];
    char buf[CLIENT_LINE_MAX];
    size_t start, len;       /* unread bytes: buf[start, start+len) */
    bool line_pending;       /* the last returned line still occupies buf */
    size_t line_len;
};

int rm_client_fd(const rm_client *c)
{
    return c->fd;
}

void rm_client_close(rm_client *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

static rm_status open_socket(rm_client *c, rm_error *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(c->path) >= sizeof addr.sun_path)
        return rm_error_set(err, RM_ERR_ARG, "socket path '%s' is too long",
                            c->path);
    strcpy(addr.sun_path, c->path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return rm_error_set(err, RM_ERR_IO, "socket: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) == 0)
        return RM_OK;
    if (errno == ENOENT || errno == ECONNREFUSED)
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "rollmapd is not running (nothing listens on %s)",
                            c->path);
    return rm_error_set(err, RM_ERR_IO, "%s: %s", c->path, strerror(errno));
}

static rm_status read_hello(rm_client *c, rm_error *err)
{
    const char *line;
    rm_status st = rm_client_read_line(c, &line, HELLO_TIMEOUT_MS, err);
    if (st != RM_OK)
        return st;
    rm_json *hello = NULL;
    rm_error inner = {0};
    if (rm_json_parse(&hello, line, strlen(line), &inner) == RM_OK &&
        !strcmp(rm_json_as_string(rm_json_get(hello, "class"), ""), "ERROR")) {
        st = rm_error_set(err, RM_ERR_BUSY, "rollmapd refused the connection: %s",
                          rm_json_as_string(rm_json_get(hello, "message"), "?"));
        rm_json_free(hello);
        return st;
    }
    if (!hello || strcmp(rm_json_as_string(rm_json_get(hello, "class"), ""), "VERSION")) {
        rm_json_free(hello);
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: the server did not greet with a VERSION line",
                            c->path);
    }
    rm_json_free(hello);
    return RM_OK;
}

static bool is_socket(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

void rm_client_choose_path(char *out, size_t cap, const char *user_path,
                           const char *system_path)
{
    bool system = !is_socket(user_path) && is_socket(system_path);
    snprintf(out, cap, "%s", system ? system_path : user_path);
}

static void choose_default_path(char *out, size_t cap)
{
    char user_path[sizeof ((struct sockaddr_un *)0)->sun_path];
    rm_default_socket_path(user_path, sizeof user_path, NULL);
    rm_client_choose_path(out, cap, user_path, RM_SYSTEM_SOCKET_PATH);
}

rm_status rm_client_connect(rm_client **out, const char *path, rm_error *err)
{
    rm_client *c = calloc(1, sizeof *c);
    if (!c)
        return rm_error_set(err, RM_ERR_NOMEM, "client: out of memory");
    if (path && *path)
        snprintf(c->path, sizeof c->path, "%s", path);
    else
        choose_default_path(c->path, sizeof c->path);
    c->fd = -1;
    rm_status st = open_socket(c, err);
    if (st == RM_OK)
        st = read_hello(c, err);
    if (st != RM_OK) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return st;
    }
    *out = c;
    return RM_OK;
}

rm_status rm_client_send(rm_client *c, const char *request, rm_error *err)
{
    size_t len = strlen(request);
    struct iovec parts[2] = {{(void *)request, len}, {"\n", 1}};
    struct msghdr msg = {.msg_iov = parts, .msg_iovlen = 2};
    size_t total = len + 1;
    while (total > 0) {
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rm_error_set(err, errno == EPIPE ? RM_ERR_CLOSED : RM_ERR_IO,
                                "%s: cannot send: %s", c->path, strerror(errno));
        total -= (size_t)n;
        /* a partial send: move the iovecs past what went out */
        while (n > 0 && msg.msg_iovlen > 0) {
            size_t take = (size_t)n < msg.msg_iov->iov_len ? (size_t)n
                                                           : msg.msg_iov->iov_len;
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + take;
            msg.msg_iov->iov_len -= take;
            n -= (ssize_t)take;
            if (msg.msg_iov->iov_len == 0) {
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
        }
    }
    return RM_OK;
}

/* Read more bytes, waiting up to timeout_ms. */
static rm_status fill(rm_client *c, int timeout_ms, rm_error *err)
{
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->len);
        c->start = 0;
    }
    if (c->len == sizeof c->buf)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: server line longer than %d bytes", c->path,
                            CLIENT_LINE_MAX);
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR)
        return rm_error_set(err, RM_ERR_IO, "poll: %s", strerror(errno));
    if (ready <= 0)
        return rm_error_set(err, RM_ERR_TIMEOUT,
                            "%s: no answer from rollmapd within %d ms", c->path,
                            timeout_ms);
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return RM_OK;
    if (n <= 0)
        return rm_error_set(err, RM_ERR_CLOSED, "rollmapd closed the connection");
    c->len += (size_t)n;
    return RM_OK;
}

rm_status rm_client_read_line(rm_client *c, const char **line, int timeout_ms,
                              rm_error *err)
{
    if (c->line_pending) {
        c->start += c->line_len;
        c->len -= c->line_len;
        c->line_pending = false;
    }
    uint64_t deadline = rm_monotonic_us() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000u;
    for (;;) {
        char *nl = memchr(c->buf + c->start, '\n', c->len);
        if (nl) {
            *nl = '\0';
            *line = c->buf + c->start;
            c->line_len = (size_t)(nl - (c->buf + c->start)) + 1;
            c->line_pending = true;
            return RM_OK;
        }
        int wait_ms = timeout_ms;
        if (timeout_ms >= 0) {
            uint64_t now = rm_monotonic_us();
            wait_ms = now >= deadline ? 0 : (int)((deadline - now) / 1000u);
        }
        rm_status st = fill(c, wait_ms, err);
        if (st != RM_OK)
            return st;
    }
}

/* Whether a line of class cls answers a request of command cmd: pushed
 * SAMPLE, EVENT, NOTICE and STATUS lines do not (a STATUS line does answer
 * the status command). */
static bool is_answer(const char *cls, const char *cmd)
{
    if (!strcmp(cls, "STATUS"))
        return !strcmp(cmd, "status");
    return !strcmp(cls, "OK") || !strcmp(cls, "ERROR") || !strcmp(cls, "WATCH");
}

static void request_cmd(const char *request, char *cmd, size_t cap)
{
    rm_json *doc = NULL;
    rm_error ignored;
    cmd[0] = '\0';
    if (rm_json_parse(&doc, request, strlen(request), &ignored) == RM_OK)
        snprintf(cmd, cap, "%s", rm_json_as_string(rm_json_get(doc, "cmd"), ""));
    rm_json_free(doc);
}

rm_status rm_client_request(rm_client *c, const char *request,
                            rm_json **reply, int timeout_ms, rm_error *err)
{
    if (reply)
        *reply = NULL;
    char cmd[16];
    request_cmd(request, cmd, sizeof cmd);
    rm_status st = rm_client_send(c, request, err);
    for (;;) {
        const char *line;
        if (st == RM_OK)
            st = rm_client_read_line(c, &line, timeout_ms, err);
        if (st != RM_OK)
            return st;
        rm_json *doc = NULL;
        rm_error inner = {0};
        if (rm_json_parse(&doc, line, strlen(line), &inner) != RM_OK)
            return rm_error_set(err, RM_ERR_FORMAT,
                                "%s: unreadable answer from rollmapd: %s",
                                c->path, inner.message);
        const char *cls = rm_json_as_string(rm_json_get(doc, "class"), "");
        if (!is_answer(cls, cmd)) {
            rm_json_free(doc);
            continue;
        }
        if (!strcmp(cls, "ERROR"))
            st = rm_error_set(err, RM_ERR_ARG, "%s",
                              rm_json_as_string(rm_json_get(doc, "message"),
                                                "rollmapd refused the request"));
        if (reply && st == RM_OK)
            *reply = doc;
        else
            rm_json_free(doc);
        return st;
    }
}
