/*
 * tty: sources: plain POSIX termios, for ptys (socat, ser2net, `rollmap
 * simulate --pty`) and ttys libserialport cannot open (it needs sysfs and
 * modem-line ioctls a pty does not have).
 */
#include "source_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

typedef struct tty_state {
    int fd;
    char path[256];
} tty_state;

bool hw_fd_hung_up(int fd)
{
    /* After a read found nothing, POLLIN beside POLLHUP means end of file. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 &&
           (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/** What a user can do about the usual reasons a port does not open. */
static const char *open_advice(int errnum)
{
    switch (errnum) {
    case EACCES:
    case EPERM:
        return "; you may not use serial ports: add yourself to the dialout "
               "group (sudo usermod -aG dialout $USER, then log in again) "
               "or install the udev rules (docs/DEVICES.md)";
    case EBUSY:
        return "; another program holds the port (a serial monitor, an "
               "IDE, ModemManager, another rollmapd): close it, `fuser "
               "PORT` names it";
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return "; the device is gone: plug it in again";
    default:
        return "";
    }
}

rm_status hw_port_open_failure(rm_error *err, const char *path, int errnum,
                               const char *detail)
{
    rm_status st = errnum == ENOENT || errnum == ENODEV ? RM_ERR_NOT_FOUND
                   : errnum == EBUSY                    ? RM_ERR_BUSY
                                                        : RM_ERR_IO;
    return rm_error_set(err, st, "%s: cannot open: %s%s", path,
                        detail ? detail : strerror(errnum),
                        open_advice(errnum));
}

rm_status hw_fd_wait(int fd, int timeout_ms, const char *what, rm_error *err)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: poll: %s", what,
                            strerror(errno));
    if (n == 0)
        return RM_ERR_TIMEOUT;
    if (p.revents & POLLIN)
        return RM_OK;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
        return rm_error_set(err, RM_ERR_CLOSED, "%s: device went away", what);
    return RM_OK;
}

static speed_t speed_constant(uint32_t baud)
{
    static const struct { uint32_t baud; speed_t speed; } table[] = {
        {1200, B1200},       {2400, B2400},       {4800, B4800},
        {9600, B9600},       {19200, B19200},     {38400, B38400},
        {57600, B57600},     {115200, B115200},   {230400, B230400},
        {460800, B460800},   {500000, B500000},   {576000, B576000},
        {921600, B921600},   {1000000, B1000000}, {1500000, B1500000},
        {2000000, B2000000}, {3000000, B3000000}, {4000000, B4000000},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].baud == baud)
            return table[i].speed;
    return 0;
}

/** Raw 8N1 at the given speed, no flow control. */
static rm_status set_raw(tty_state *t, uint32_t baud, rm_error *err)
{
    struct termios tio;
    if (tcgetattr(t->fd, &tio) < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: not a terminal: %s",
                            t->path, strerror(errno));
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= ~(tcflag_t)CRTSCTS;
    speed_t speed = speed_constant(baud);
    if (!speed)
        return rm_error_set(err, RM_ERR_ARG,
                            "%s: baud rate %u is not a standard rate",
                            t->path, baud);
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    if (tcsetattr(t->fd, TCSANOW, &tio) < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot set line: %s",
                            t->path, strerror(errno));
    /* Bytes that waited in the kernel from before this open are stale. */
    tcflush(t->fd, TCIFLUSH);
    return RM_OK;
}

static rm_status tty_open(void **state, const rm_source_spec *spec,
                          rm_error *err)
{
    tty_state *t = calloc(1, sizeof *t);
    if (!t)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    snprintf(t->path, sizeof t->path, "%s", spec->path);
    t->fd = open(spec->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        rm_status st = hw_port_open_failure(err, spec->path, errno, NULL);
        free(t);
        return st;
    }
    rm_status st = set_raw(t, spec->baud ? spec->baud : RM_SOURCE_DEFAULT_BAUD,
                           err);
    if (st != RM_OK) {
        close(t->fd);
        free(t);
        return st;
    }
    *state = t;
    return RM_OK;
}

static void tty_close(void *state)
{
    tty_state *t = state;
    close(t->fd);
    free(t);
}

static int tty_fd(const void *state)
{
    return ((const tty_state *)state)->fd;
}

static rm_status tty_read(void *state, uint8_t *buf, size_t cap, size_t *got,
                          rm_error *err)
{
    tty_state *t = state;
    *got = 0;
    ssize_t n = read(t->fd, buf, cap);
    if (n > 0) {
        *got = (size_t)n;
        return RM_OK;
    }
    if (n < 0 && errno == EINTR)
        return RM_OK;
    if (n < 0 && errno == EAGAIN && !hw_fd_hung_up(t->fd))
        return RM_OK;
    /* A tty whose other end is gone reads 0 bytes or fails with EIO. */
    if (n <= 0 && (n == 0 || errno == EAGAIN || errno == EIO ||
                   errno == ENXIO || errno == ENODEV))
        return rm_error_set(err, RM_ERR_CLOSED, "%s: device went away",
                            t->path);
    return rm_error_set(err, RM_ERR_IO, "%s: read: %s", t->path,
                        strerror(errno));
}

static rm_status tty_write(void *state, const uint8_t *data, size_t len,
                           rm_error *err)
{
    tty_state *t = state;
    while (len) {
        ssize_t n = write(t->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = t->fd, .events = POLLOUT};
            poll(&p, 1, 100); /* a command is a few bytes: 100 ms is ample */
            continue;
        }
        if (n < 0)
            return rm_error_set(err, errno == EIO ? RM_ERR_CLOSED : RM_ERR_IO,
                                "%s: write: %s", t->path, strerror(errno));
        data += n;
        len -= (size_t)n;
    }
    return RM_OK;
}

static rm_status tty_wait(void *state, int timeout_ms, rm_error *err)
{
    tty_state *t = state;
    return hw_fd_wait(t->fd, timeout_ms, t->path, err);
}

const rm_source_ops hw_source_tty_ops = {
    .name = "tty",
    .open = tty_open,
    .close = tty_close,
    .fd = tty_fd,
    .read = tty_read,
    .write = tty_write,
    .wait = tty_wait,
    .due = NULL,
    .handshake = true,
};
