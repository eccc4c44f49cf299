/*
 * file: sources replay a raw byte capture (what a device sent, e.g. saved
 * with `cat /dev/ttyACM0 > capture.bin`) at the recorded speed, paced by
 * the frames' own timestamps, or as fast as possible with ?fast.
 * "-" reads the same bytes from standard input as they come.
 */
#include "source_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct file_state {
    int fd;
    bool is_stdin;
    bool have_origin;         /**< pacing started */
    uint64_t origin_device_us;
    uint64_t origin_mono_us;
    char path[256];
} file_state;

static rm_status file_open(void **state, const rm_source_spec *spec,
                           rm_error *err)
{
    file_state *f = calloc(1, sizeof *f);
    if (!f)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    snprintf(f->path, sizeof f->path, "%s", spec->path);
    f->fd = open(spec->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        rm_status st = rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND
                                                         : RM_ERR_IO,
                                    "%s: cannot open: %s", spec->path,
                                    strerror(errno));
        free(f);
        return st;
    }
    *state = f;
    return RM_OK;
}

static rm_status stdin_open(void **state, const rm_source_spec *spec,
                            rm_error *err)
{
    (void)spec;
    file_state *f = calloc(1, sizeof *f);
    if (!f)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    f->fd = STDIN_FILENO;
    f->is_stdin = true;
    snprintf(f->path, sizeof f->path, "standard input");
    *state = f;
    return RM_OK;
}

static void file_close(void *state)
{
    file_state *f = state;
    if (!f->is_stdin)
        close(f->fd);
    free(f);
}

static int file_fd(const void *state)
{
    const file_state *f = state;
    /* A regular file is always readable: polling it says nothing. */
    return f->is_stdin ? f->fd : -1;
}

/** stdin may be a terminal or pipe shared with others: never make it
 *  non-blocking, read only what poll says is there. */
static bool stdin_ready(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static rm_status file_read(void *state, uint8_t *buf, size_t cap, size_t *got,
                           rm_error *err)
{
    file_state *f = state;
    *got = 0;
    if (f->is_stdin && !stdin_ready(f->fd))
        return RM_OK;
    ssize_t n;
    do
        n = read(f->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: read: %s", f->path,
                            strerror(errno));
    if (n == 0)
        return rm_error_set(err, RM_ERR_EOF, "%s: end of input", f->path);
    *got = (size_t)n;
    return RM_OK;
}

static rm_status file_wait(void *state, int timeout_ms, rm_error *err)
{
    file_state *f = state;
    if (!f->is_stdin)
        return RM_OK;
    rm_status st = hw_fd_wait(f->fd, timeout_ms, f->path, err);
    /* The writer closing the pipe is the end of input, read() will say. */
    return st == RM_ERR_CLOSED ? RM_OK : st;
}

/** Recorded speed: the frame at device time t_us is due when as much real
 *  time has passed since the first frame. */
static bool file_due(void *state, uint64_t t_us, uint64_t *wait_us)
{
    file_state *f = state;
    uint64_t now = rm_monotonic_us();
    /* The first frame, or a device clock that went back (a reset). */
    if (!f->have_origin || t_us < f->origin_device_us) {
        f->have_origin = true;
        f->origin_device_us = t_us;
        f->origin_mono_us = now;
    }
    uint64_t due_at = f->origin_mono_us + (t_us - f->origin_device_us);
    *wait_us = due_at > now ? due_at - now : 0;
    return *wait_us == 0;
}

const rm_source_ops hw_source_file_ops = {
    .name = "file",
    .open = file_open,
    .close = file_close,
    .fd = file_fd,
    .read = file_read,
    .write = NULL,
    .wait = file_wait,
    .due = file_due,
    .handshake = false,
};

const rm_source_ops hw_source_stdin_ops = {
    .name = "stdin",
    .open = stdin_open,
    .close = file_close,
    .fd = file_fd,
    .read = file_read,
    .write = NULL,
    .wait = file_wait,
    .due = NULL,
    .handshake = false,
};
