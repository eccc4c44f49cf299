/*
 * rollmap daemon: the lock-free sample ring, the capture pipeline, the
 * session recorder, the live socket server (docs/LIVE.md) and the daemon's
 * configuration. rollmapd's main is a thin layer over this library.
 *
 * The only public header of daemon/.
 */
#ifndef ROLLMAP_DAEMON_H
#define ROLLMAP_DAEMON_H

#include "rollmap_core.h"
#include "rollmap_hw.h"
#include "rollmap_analysis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Sample ring: single producer, single consumer, lock-free                 */
/* ------------------------------------------------------------------------ */

typedef struct rm_ring rm_ring;

/** A ring of at least min_capacity samples (rounded up to a power of two). */
rm_status rm_ring_new(rm_ring **out, size_t min_capacity, rm_error *err);
void rm_ring_free(rm_ring *ring);
size_t rm_ring_capacity(const rm_ring *ring);
/** Producer: push up to count samples; returns how many fit. Samples that
 *  do not fit are counted in rm_ring_dropped(), never silently lost. */
size_t rm_ring_push(rm_ring *ring, const rm_sample *samples, size_t count);
/** Consumer: pop up to max samples into out; returns how many. */
size_t rm_ring_pop(rm_ring *ring, rm_sample *out, size_t max);
/** Samples waiting (either side may ask; the answer may be stale). */
size_t rm_ring_used(const rm_ring *ring);
/** Total samples the producer could not push. */
uint64_t rm_ring_dropped(const rm_ring *ring);

/* ------------------------------------------------------------------------ */
/* Live state: what the person on the roller sees (docs/LIVE.md)            */
/* ------------------------------------------------------------------------ */

/** Live flags, in the high byte of rm_live_values.flags (the low byte holds
 *  the RM_SAMPLE_* flags seen since the previous published value). */
enum {
    RM_LIVE_LOADED = 1u << 8,    /**< force at or above the load threshold */
    RM_LIVE_DWELLING = 1u << 9,  /**< inside a detected dwell */
    RM_LIVE_TOO_FAST = 1u << 10  /**< rolling faster than the target speed */
};

typedef struct rm_live_config {
    double load_threshold_n;    /**< "under load" from here (default 30 N) */
    double dwell_range_cm;      /**< steady = position within this (1.5 cm) */
    double dwell_min_s;         /**< steady this long = a dwell (10 s) */
    double target_speed_cm_s;   /**< pace warning above this (2.5 cm/s) */
} rm_live_config;

void rm_live_config_default(rm_live_config *cfg);

/** The live picture after a sample. NaN where a value is unknown (no
 *  encoder: no position or speed; no pressure cells: no pressure). */
typedef struct rm_live_values {
    double t_s;             /**< seconds since the live state was reset */
    double force_n;         /**< total force (load cells, else pressure cells) */
    double pressure_kpa;    /**< highest pressure-cell pressure */
    double position_cm;     /**< distal of the most proximal point under load */
    double position_pct;    /**< 0 proximal .. 100 distal of the range rolled */
    double ml;              /**< centre of pressure across the roller width:
                                 -1 at its left end .. +1 at its right end */
    double speed_cm_s;      /**< along the leg, + distal, - proximal */
    double dwell_s;         /**< how long the position has been steady */
    uint16_t flags;         /**< RM_SAMPLE_* | RM_LIVE_* */
} rm_live_values;

typedef enum rm_live_event_kind {
    RM_LIVE_SESSION_START = 1, /**< text: session id */
    RM_LIVE_SESSION_END,       /**< text: session id */
    RM_LIVE_DWELL_START,       /**< t_s: when it began; position_cm */
    RM_LIVE_DWELL_END,         /**< duration_s, position_cm */
    RM_LIVE_MARK,              /**< rating 0-10 or -1; position_cm */
    RM_LIVE_TARE,
    RM_LIVE_PLUG,              /**< text: device serial or path */
    RM_LIVE_UNPLUG,
    RM_LIVE_ERROR,             /**< text: message */
    RM_LIVE_NOTICE             /**< text: message */
} rm_live_event_kind;

typedef struct rm_live_event {
    uint8_t kind;          /**< rm_live_event_kind */
    double t_s;            /**< live time of the event (NaN if none) */
    double position_cm;    /**< NaN if none */
    double duration_s;     /**< dwell end: length of the dwell */
    int rating;            /**< mark: 0-10, or -1 for none */
    char text[256];
} rm_live_event;

/** "session_start", "dwell_end", ... as used on the socket. */
const char *rm_live_event_kind_name(rm_live_event_kind kind);

typedef struct rm_live rm_live;

rm_status rm_live_new(rm_live **out, const rm_live_config *cfg, rm_error *err);
void rm_live_free(rm_live *live);
/** Use this device's channels and geometry; resets the live state. */
void rm_live_set_device(rm_live *live, const rm_device_info *info);
/** Forget position reference, dwell and clock (a new session starts). */
void rm_live_reset(rm_live *live);
/** Take one sample: fills *out and returns how many dwell events (0-2) it
 *  wrote to events. Allocates nothing. */
size_t rm_live_update(rm_live *live, const rm_sample *s, rm_live_values *out,
                      rm_live_event events[2]);

/* ------------------------------------------------------------------------ */
/* Live socket server: newline-delimited JSON on a Unix socket (LIVE.md)    */
/* ------------------------------------------------------------------------ */

/** Longest request line a client may send (longer ones are discarded). */
#define RM_SERVER_MAX_REQUEST 4096

/** What rollmapd knows about itself, for {"cmd":"status"}. The server adds
 *  its client count and the free space of library_dir. */
typedef struct rm_daemon_status {
    char source[256];           /**< source name as configured */
    bool device_connected;
    rm_device_info device;      /**< valid when device_connected */
    bool recording;
    rm_session_meta session;    /**< valid when recording */
    char session_path[512];
    uint64_t samples_received;  /**< since the daemon started */
    uint64_t samples_recorded;  /**< in the current session */
    double measured_rate_hz;    /**< samples per second lately */
    uint64_t ring_dropped;      /**< samples lost to ring overflow */
    uint64_t frames_lost;       /**< from the decoder's sequence numbers */
    uint64_t crc_errors;
    char library_dir[512];      /**< where sessions are saved */
    int64_t started_unix_us;    /**< when the daemon started */
} rm_daemon_status;

/** Commands from clients, called on the server thread; the daemon makes
 *  them thread-safe. A handler left NULL answers "not supported". On
 *  failure the client gets {"class":"ERROR"} with err's message. */
typedef struct rm_server_handlers {
    void *user;
    /** meta holds the client's fields; the daemon fills session_id,
     *  which the client gets back in the OK answer. */
    rm_status (*start)(void *user, rm_session_meta *meta, rm_error *err);
    rm_status (*stop)(void *user, rm_error *err);
    rm_status (*tag)(void *user, const char *key, const char *value,
                     rm_error *err);
    /** rating 0-10, or -1 when the client gave none */
    rm_status (*mark)(void *user, int rating, rm_error *err);
    rm_status (*tare)(void *user, rm_error *err);
} rm_server_handlers;

typedef struct rm_server_options {
    char path[108];              /**< socket path ("" = default path) */
    uint32_t max_clients;        /**< default 64 */
    uint32_t client_buffer;      /**< output bytes queued per client (64 KiB) */
    uint32_t stall_timeout_ms;   /**< a client whose buffer stays full this
                                      long is dropped (default 10000) */
    rm_live_config live;
} rm_server_options;

void rm_server_options_default(rm_server_options *opt);

/** The default socket path: $XDG_RUNTIME_DIR/rollmap/rollmapd.sock, else
 *  /tmp/rollmap-$UID/rollmapd.sock. */
void rm_server_default_path(char *out, size_t cap);

typedef struct rm_server rm_server;

/** Listen on opt->path (mode 0660, parent folder created 0700 if missing;
 *  a stale socket is replaced, a live one is RM_ERR_BUSY) and start the
 *  server thread. handlers is copied. */
rm_status rm_server_open(rm_server **out, const rm_server_options *opt,
                         const rm_server_handlers *handlers, rm_error *err);
/** Stop the thread, say goodbye to clients, remove the socket file. */
void rm_server_close(rm_server *srv);
const char *rm_server_path(const rm_server *srv);
size_t rm_server_client_count(rm_server *srv);

/** The device whose samples follow (after INFO or a replug). */
void rm_server_set_device(rm_server *srv, const rm_device_info *info);
/** Feed samples: updates the live state and queues decimated SAMPLE lines
 *  for watchers. Never blocks on a client: a full client buffer skips
 *  lines for that client. Safe from any thread. */
void rm_server_publish_samples(rm_server *srv, const rm_sample *samples,
                               size_t count);
/** Queue an event for watchers. SESSION_START also resets the live state.
 *  The server itself publishes dwell events (from the live state) and mark
 *  events (after a successful mark command, or a sample flagged
 *  RM_SAMPLE_MARK by the device's button); the daemon publishes the rest.
 *  A NaN t_s or position_cm is filled in from the live state. */
void rm_server_publish_event(rm_server *srv, const rm_live_event *ev);
/** Replace the status snapshot; watchers with "status":true get it. */
void rm_server_set_status(rm_server *srv, const rm_daemon_status *status);

/* ------------------------------------------------------------------------ */
/* Client of the live socket (rollmap live, status, record)                 */
/* ------------------------------------------------------------------------ */

typedef struct rm_client rm_client;

/** Connect (path NULL or "" = default path) and read the VERSION line.
 *  No daemon listening is RM_ERR_NOT_FOUND with the path in the message. */
rm_status rm_client_connect(rm_client **out, const char *path,
                            rm_error *err);
void rm_client_close(rm_client *c);
int rm_client_fd(const rm_client *c);
/** The server's release from its VERSION line. */
const char *rm_client_server_release(const rm_client *c);
/** Send one request (a JSON object without the newline). */
rm_status rm_client_send(rm_client *c, const char *request, rm_error *err);
/** Next line, without its newline, valid until the next call. Waits up to
 *  timeout_ms (-1 forever): RM_ERR_TIMEOUT, or RM_ERR_CLOSED when the
 *  daemon went away. */
rm_status rm_client_read_line(rm_client *c, const char **line,
                              int timeout_ms, rm_error *err);
/** Send a request and wait for its answer (the next line that is not a
 *  SAMPLE, EVENT or NOTICE). An ERROR answer is RM_ERR_ARG with the
 *  server's message. *reply (may be NULL) gets the parsed answer. */
rm_status rm_client_request(rm_client *c, const char *request,
                            rm_json **reply, int timeout_ms, rm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_DAEMON_H */
