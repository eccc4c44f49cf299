/*
 * Sources inside hw/, in layers that depend one way only:
 *   transports (source_serial.c, source_tty.c, source_file.c,
 *   source_sim.c) move bytes, one table of operations each;
 *   the link (identify.c) sends commands down a transport and identifies
 *   a binary-protocol device;
 *   ports.c lists and probes serial ports through the link;
 *   the kind table (source_kinds.c) names, resolves and describes each kind
 *   of source, one row per kind;
 *   source.c opens a kind's transport, decodes with one row of its protocol
 *   table (binary frames or a text profile), paces replays, reports gaps.
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

/* ---- The link: a transport, its receive buffer and frame decoder ----- */

/** Bytes read from a transport at a time: a few frames of a fast device. */
#define RM_LINK_RX_CHUNK 4096

typedef struct rm_link {
    const rm_source_ops *ops;
    void *io;                    /**< the transport's state */
    char where[256];             /**< the port opened, for messages */
    uint16_t tx_seq;
    rm_decoder decoder;
    uint8_t rx[RM_LINK_RX_CHUNK];
    size_t rx_pos, rx_len;
    uint64_t rx_mono_us;         /**< host time the buffered bytes were read */
} rm_link;

/** Forget buffered bytes and decoder state (after a reconnect). */
void hw_link_reset(rm_link *link);
/** Send one command frame (RM_CMD_*; arg is the rate of SET_RATE). */
rm_status hw_link_send(rm_link *link, rm_frame_type cmd, uint32_t arg,
                       rm_error *err);
/** Read more bytes when the buffer is empty; *got = 0: nothing there. */
rm_status hw_link_fill(rm_link *link, size_t *got, rm_error *err);
/** Decode buffered bytes until one frame is complete; false: need more. */
bool hw_link_decode(rm_link *link, rm_frame *frame);
/** SET_RATE and its ACK (500 ms); a refusal (ACK -1) gives the text of an
 *  ERROR the device sent before it, which names the rates it supports. */
rm_status hw_link_set_rate(rm_link *link, uint32_t rate_hz, rm_error *err);
/** IDENTIFY until INFO arrives (3 tries of 500 ms); other frames are
 *  dropped. RM_ERR_TIMEOUT names the port and suggests a profile. */
rm_status hw_link_identify(rm_link *link, rm_device_info *info,
                           rm_error *err);

/* ---- A restarted device clock, anchored by arrivals (source_clock.c) - */

/* Frames of the old clock whose lateness is kept (room for a stall's
 * burst before the last reads); frames held at most. */
#define HW_CLOCK_RECENT 128
#define HW_CLOCK_HOLD_FRAMES 40

/** The lateness (arrival less device time) of the last frames, and the
 *  first frames of a restarted clock, held until they anchor it. */
typedef struct hw_clock_hold {
    int64_t recent[HW_CLOCK_RECENT];  /**< a ring, of frames with samples */
    uint64_t recent_arrival_us[HW_CLOCK_RECENT];
    unsigned recent_count, recent_next;
    rm_frame frames[HW_CLOCK_HOLD_FRAMES];
    uint64_t arrival_us[HW_CLOCK_HOLD_FRAMES];
    unsigned count, sample_frames, released;
    bool releasing;                   /**< anchored: frames go on in order */
} hw_clock_hold;

/** A SAMPLES frame with at least one sample. */
bool hw_frame_has_samples(const rm_frame *f);
/** A frame with samples was delivered: its arrival and its last sample's
 *  (unwrapped) device time. */
void hw_clock_note(hw_clock_hold *h, uint64_t arrival_us, uint64_t last_us);
/** Frames of a restarted clock are being held (not yet anchored). */
bool hw_clock_collecting(const hw_clock_hold *h);
/** Anchored: held frames wait to be released. */
bool hw_clock_releasing(const hw_clock_hold *h);
/** Hold one more frame (room is left while !hw_clock_complete). */
void hw_clock_keep(hw_clock_hold *h, const rm_frame *f, uint64_t arrival_us);
/** Enough held to anchor: frames with samples, room, or time. */
bool hw_clock_complete(const hw_clock_hold *h, uint64_t now_us);
/** Host time at which holding ends whatever arrives. */
uint64_t hw_clock_deadline(const hw_clock_hold *h);
/** Stop holding; the offset that puts the held device times on the old
 *  clock, INT64_MIN when nothing anchors it (no samples either side). */
int64_t hw_clock_release_start(hw_clock_hold *h);
/** The next held frame in order, with its arrival; false when none. */
bool hw_clock_release(hw_clock_hold *h, rm_frame *out, uint64_t *arrival_us);

/* ---- Kinds of source: one row each (source_kinds.c) ----------------- */

typedef struct rm_source_kind_row {
    uint8_t kind;                /**< rm_source_kind */
    /** "serial:"; with whole_name the entire name ("auto", "-"). */
    const char *prefix;
    bool whole_name;
    /** Fill spec from what follows the prefix; NULL: nothing follows. */
    rm_status (*parse)(const char *body, rm_source_spec *spec,
                       const char *text, rm_error *err);
    void (*format)(const rm_source_spec *spec, const char *prefix, char *out,
                   size_t cap);
    /** The serial port to open (usb:, auto); NULL: spec->path as given. */
    rm_status (*resolve)(const rm_source_spec *spec, char *path, size_t cap,
                         rm_error *err);
    /** What can be checked without opening; NULL: nothing. */
    rm_status (*check)(const rm_source_spec *spec, rm_error *err);
    /** Which hotplug events concern this spec; NULL: every one. */
    bool (*hotplug_matches)(const rm_source_spec *spec, uint16_t vid,
                            uint16_t pid);
    const rm_source_ops *ops;    /**< the transport */
    rm_source_caps caps;         /**< hotplug, replay (commands: protocol) */
} rm_source_kind_row;

/** The row of a kind, NULL for a number outside the table. */
const rm_source_kind_row *hw_source_kind_of(uint8_t kind);

/* ---- Protocols: one row each (source.c) ------------------------------ */

typedef struct rm_source_protocol {
    const char *name;            /**< for messages: "binary", "text-mode" */
    /** Takes commands: identify on open, START, SET_RATE, TARE. */
    bool commands;
    /** Once at open (a text profile is loaded here); NULL: nothing. */
    rm_status (*open)(rm_source *src, rm_error *err);
    /** At every connection, after the link's own decoder was reset: the
     *  protocol's decoder state from scratch; NULL: nothing more. */
    void (*init)(rm_source *src);
    /** Decode buffered bytes into the pending frame; false: need more. */
    bool (*push)(rm_source *src);
    /** Bring the source's decoder figures up to date. */
    void (*stats)(rm_source *src);
} rm_source_protocol;

/** Text when the spec names a profile, otherwise the binary protocol. */
const rm_source_protocol *hw_source_protocol_of(const rm_source_spec *spec);

/* ---- Transports ------------------------------------------------------- */

extern const rm_source_ops hw_source_serial_ops;
extern const rm_source_ops hw_source_tty_ops;
extern const rm_source_ops hw_source_file_ops;
extern const rm_source_ops hw_source_stdin_ops;
extern const rm_source_ops hw_source_sim_ops;

/** After a read that returned nothing: true when fd's other end is gone. */
bool hw_fd_hung_up(int fd);
/** "PATH: cannot open: REASON; what to do" for an open that failed with
 *  errnum (permission: the dialout group; busy: another program holds
 *  it); detail replaces strerror when the library has its own words. */
rm_status hw_port_open_failure(rm_error *err, const char *path, int errnum,
                               const char *detail);
/** Wait on fd for input with poll(); a hang-up is RM_ERR_CLOSED. */
rm_status hw_fd_wait(int fd, int timeout_ms, const char *what, rm_error *err);

/** Exactly 4 hex digits (a USB vendor or product id). */
bool hw_hex16_parse(const char *s, size_t len, uint16_t *out);

/** Resolve "usb:VID:PID[:SERIAL]" to the path of its serial port. */
rm_status hw_ports_find_usb(uint16_t vid, uint16_t pid, const char *serial,
                            char *path, size_t cap, rm_error *err);
/** The first port that answers identify ("auto"). */
rm_status hw_ports_find_roller(char *path, size_t cap, rm_error *err);

#endif /* ROLLMAP_SOURCE_INTERNAL_H */
