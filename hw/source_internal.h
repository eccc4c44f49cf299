/*
 * Sources inside hw/: one table of operations per kind of source (the
 * gpsd/libsigrok pattern), shared by source.c and the transports in
 * source_serial.c, source_tty.c, source_file.c and source_sim.c.
 *
 * A transport moves bytes; source.c decodes them (binary protocol or text
 * profile), identifies the device, paces replays and reports gaps.
 */
#ifndef ROLLMAP_SOURCE_INTERNAL_H
#define ROLLMAP_SOURCE_INTERNAL_H

#include "rollmap_hw.h"

/** Default line speed of a roller: USB CDC ignores it, bridges need it. */
#define RM_SOURCE_DEFAULT_BAUD 115200u

typedef struct rm_source_ops {
    const char *name;
    /** Open the transport described by spec; *state gets its private data. */
    rm_status (*open)(void **state, const rm_source_spec *spec,
                      rm_error *err);
    void (*close)(void *state);
    /** Descriptor to poll for input, -1 when input is produced in-process. */
    int (*fd)(const void *state);
    /** Read what is there without blocking. *got = 0 with RM_OK means
     *  nothing yet; RM_ERR_CLOSED: the device went away; RM_ERR_EOF: the
     *  input ended. */
    rm_status (*read)(void *state, uint8_t *buf, size_t cap, size_t *got,
                      rm_error *err);
    /** Send host->device bytes (NULL for sources that cannot take any). */
    rm_status (*write)(void *state, const uint8_t *data, size_t len,
                       rm_error *err);
    /** Wait up to timeout_ms until read may return bytes. */
    rm_status (*wait)(void *state, int timeout_ms, rm_error *err);
    /** Device time (us) before which nothing may be delivered, for sources
     *  replayed at recorded speed; NULL when items are never held back. */
    bool (*due)(void *state, uint64_t t_us, uint64_t *wait_us);
    /** Reconnect without a new open, for a device that lives in-process
     *  (the virtual roller keeps its clock across an unplug); NULL: close
     *  and open again. RM_ERR_NOT_FOUND while still unplugged. */
    rm_status (*resume)(void *state, rm_error *err);
    /** true for live devices: identify on open, START streaming. */
    bool handshake;
} rm_source_ops;

extern const rm_source_ops rm_source_serial_ops;
extern const rm_source_ops rm_source_tty_ops;
extern const rm_source_ops rm_source_file_ops;
extern const rm_source_ops rm_source_stdin_ops;
extern const rm_source_ops rm_source_sim_ops;

/** After a read that returned nothing: true when fd's other end is gone. */
bool rm_fd_hung_up(int fd);
/** Wait on fd for input with poll(); a hang-up is RM_ERR_CLOSED. */
rm_status rm_fd_wait(int fd, int timeout_ms, const char *what, rm_error *err);

/** Exactly 4 hex digits (a USB vendor or product id). */
bool rm_hex16_parse(const char *s, size_t len, uint16_t *out);

/** Resolve "usb:VID:PID[:SERIAL]" to the path of its serial port. */
rm_status rm_ports_find_usb(uint16_t vid, uint16_t pid, const char *serial,
                            char *path, size_t cap, rm_error *err);
/** The first port that answers identify ("auto"). */
rm_status rm_ports_find_roller(char *path, size_t cap, rm_error *err);

#endif /* ROLLMAP_SOURCE_INTERNAL_H */
