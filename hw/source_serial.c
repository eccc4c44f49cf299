/*
 * serial: sources through libserialport. Reads never block: the caller
 * polls the port's descriptor (rm_source_fd) in its own loop, so signals
 * reach the daemon (sp_blocking_read retries after EINTR).
 */
#include "source_internal.h"

#include <errno.h>
#include <libserialport.h>
#include <stdlib.h>
#include <string.h>

typedef struct serial_state {
    struct sp_port *port;
    int fd;
    char path[256];
} serial_state;

/** libserialport's own message for the last failure. */
static rm_status sp_failure(rm_error *err, enum sp_return r, const char *path,
                            const char *what)
{
    char *msg = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
    rm_status st = rm_error_set(err,
                                r == SP_ERR_MEM ? RM_ERR_NOMEM : RM_ERR_IO,
                                "%s: %s: %s", path, what,
                                msg                ? msg
                                : r == SP_ERR_ARG  ? "invalid argument"
                                : r == SP_ERR_SUPP ? "not supported"
                                                   : "failed");
    sp_free_error_message(msg);
    return st;
}

/** sp_open failed in the system: keep its errno for the advice. */
static rm_status open_failure(rm_error *err, const char *path)
{
    int errnum = sp_last_error_code();
    char *msg = sp_last_error_message();
    rm_status st = hw_port_open_failure(err, path, errnum, msg);
    sp_free_error_message(msg);
    return st;
}

/** 8N1, no flow control, the given speed. */
static rm_status configure(serial_state *s, uint32_t baud, rm_error *err)
{
    enum sp_return r;
    if ((r = sp_set_baudrate(s->port, (int)baud)) != SP_OK ||
        (r = sp_set_bits(s->port, 8)) != SP_OK ||
        (r = sp_set_parity(s->port, SP_PARITY_NONE)) != SP_OK ||
        (r = sp_set_stopbits(s->port, 1)) != SP_OK ||
        (r = sp_set_flowcontrol(s->port, SP_FLOWCONTROL_NONE)) != SP_OK)
        return sp_failure(err, r, s->path, "cannot configure the line");
    return RM_OK;
}

static rm_status open_port(serial_state *s, uint32_t baud, rm_error *err)
{
    enum sp_return r = sp_get_port_by_name(s->path, &s->port);
    if (r != SP_OK) {
        s->port = NULL;
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "%s: no such serial port (libserialport knows "
                            "only ports listed in /sys/class/tty; use tty:%s "
                            "for a pty)", s->path, s->path);
    }
    r = sp_open(s->port, SP_MODE_READ_WRITE);
    if (r == SP_ERR_FAIL)
        return open_failure(err, s->path);
    if (r != SP_OK)
        return sp_failure(err, r, s->path, "cannot open");
    rm_status st = configure(s, baud, err);
    /* Bytes that waited in the kernel from before this open are stale. */
    if (st == RM_OK)
        sp_flush(s->port, SP_BUF_INPUT);
    if (st == RM_OK && sp_get_port_handle(s->port, &s->fd) != SP_OK)
        st = rm_error_set(err, RM_ERR_IO, "%s: no file descriptor", s->path);
    return st;
}

static void serial_close(void *state)
{
    serial_state *s = state;
    if (s->port) {
        sp_close(s->port);
        sp_free_port(s->port);
    }
    free(s);
}

static rm_status serial_open(void **state, const rm_source_spec *spec,
                             rm_error *err)
{
    serial_state *s = calloc(1, sizeof *s);
    if (!s)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", spec->path);
    s->fd = -1;
    rm_status st = open_port(s, spec->baud ? spec->baud
                                           : RM_SOURCE_DEFAULT_BAUD, err);
    if (st != RM_OK) {
        serial_close(s);
        return st;
    }
    *state = s;
    return RM_OK;
}

static int serial_fd(const void *state)
{
    return ((const serial_state *)state)->fd;
}

static rm_status serial_read(void *state, uint8_t *buf, size_t cap,
                             size_t *got, rm_error *err)
{
    serial_state *s = state;
    *got = 0;
    int n = sp_nonblocking_read(s->port, buf, cap);
    if (n > 0) {
        *got = (size_t)n;
        return RM_OK;
    }
    if (n == 0 && !hw_fd_hung_up(s->fd))
        return RM_OK;
    if (n == 0 || errno == EIO || errno == ENXIO || errno == ENODEV)
        return rm_error_set(err, RM_ERR_CLOSED, "%s: device went away",
                            s->path);
    return sp_failure(err, (enum sp_return)n, s->path, "read");
}

static rm_status serial_write(void *state, const uint8_t *data, size_t len,
                              rm_error *err)
{
    serial_state *s = state;
    /* A command is a few bytes: 200 ms is ample even at 9600 baud. */
    int n = sp_blocking_write(s->port, data, len, 200);
    if (n == (int)len)
        return RM_OK;
    if (n >= 0)
        return rm_error_set(err, RM_ERR_TIMEOUT, "%s: write timed out",
                            s->path);
    if (errno == EIO || errno == ENXIO || errno == ENODEV)
        return rm_error_set(err, RM_ERR_CLOSED, "%s: device went away",
                            s->path);
    return sp_failure(err, (enum sp_return)n, s->path, "write");
}

static rm_status serial_wait(void *state, int timeout_ms, rm_error *err)
{
    serial_state *s = state;
    return hw_fd_wait(s->fd, timeout_ms, s->path, err);
}

const rm_source_ops hw_source_serial_ops = {
    .name = "serial",
    .open = serial_open,
    .close = serial_close,
    .fd = serial_fd,
    .read = serial_read,
    .write = serial_write,
    .wait = serial_wait,
    .due = NULL,
    .handshake = true,
};
