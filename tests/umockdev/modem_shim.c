/*
 * LD_PRELOAD shim for umockdev's emulated serial ports: umockdev backs
 * /dev/ttyACM0 with a pty, and the Linux pty driver answers the modem-line
 * ioctls (TIOCMGET, TIOCMSET, TIOCMBIS, TIOCMBIC) with ENOTTY, which makes
 * libserialport's sp_open fail. Where the real ioctl says ENOTTY, this
 * answers them from a per-process set of lines, as a USB CDC-ACM port
 * would. Every other request, and every answer the real ioctl gives, is
 * passed through untouched.
 *
 * Load it in front of umockdev's own preload library:
 *   LD_PRELOAD=/path/libmodem_shim.so:$LD_PRELOAD   (inside umockdev-run)
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>

typedef int (*ioctl_fn)(int, unsigned long, ...);

/* Lines up, as on a board that is plugged in and ready. */
static int modem_lines = TIOCM_DTR | TIOCM_RTS | TIOCM_CTS | TIOCM_DSR |
                         TIOCM_CD;

static int answer_modem_request(unsigned long request, int *arg)
{
    switch (request) {
    case TIOCMGET:
        *arg = modem_lines;
        return 0;
    case TIOCMSET:
        modem_lines = *arg;
        return 0;
    case TIOCMBIS:
        modem_lines |= *arg;
        return 0;
    case TIOCMBIC:
        modem_lines &= ~*arg;
        return 0;
    default:
        errno = ENOTTY;
        return -1;
    }
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    ioctl_fn next = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
    int result = next(fd, request, arg);
    if (result == 0 || errno != ENOTTY)
        return result;
    return answer_modem_request(request, arg);
}
