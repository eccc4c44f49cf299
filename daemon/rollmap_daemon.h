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
#include "rollmap_library.h"

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
/** Producer: push up to count samples; returns how many fit (the caller
 *  counts the rest: capture records them as an overflow gap). */
size_t rm_ring_push(rm_ring *ring, const rm_sample *samples, size_t count);
/** Consumer: pop up to max samples into out; returns how many. */
size_t rm_ring_pop(rm_ring *ring, rm_sample *out, size_t max);
/** Samples waiting (either side may ask; the answer may be stale). */
size_t rm_ring_used(const rm_ring *ring);

/* ------------------------------------------------------------------------ */
/* Logging from the daemon library (the program decides where it goes)     */
/* ------------------------------------------------------------------------ */

typedef enum rm_log_level {
    RM_LOG_ERROR = 0,
    RM_LOG_WARNING = 1,
    RM_LOG_INFO = 2,
    RM_LOG_DEBUG = 3
} rm_log_level;

/** Receives one finished line (no newline). May be called from the capture
 *  threads: it must be thread-safe. */
typedef void (*rm_log_fn)(void *user, rm_log_level level, const char *line);

/** Format a line and hand it to fn (nothing when fn is NULL). */
void rm_daemon_log(rm_log_fn fn, void *user, rm_log_level level,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------------------ */
/* Session recorder: turns a sample stream into session files               */
/* ------------------------------------------------------------------------ */

typedef enum rm_recorder_state {
    RM_RECORDER_IDLE = 0,      /**< no session open (armed for auto start) */
    RM_RECORDER_RECORDING = 1, /**< a session file is open */
    RM_RECORDER_SUSPENDED = 2  /**< device unplugged mid-session; waiting
                                    resume_window_us for it to return */
} rm_recorder_state;

/** A session opened (started) or closed. Called with the capture lock
 *  held: it must not call back into rm_capture. */
typedef void (*rm_session_fn)(void *user, bool started,
                              const rm_session_meta *meta, const char *path);

typedef struct rm_recorder_options {
    bool auto_start;           /**< open a session when load appears */
    double start_threshold_n;  /**< total force that starts a session */
    double stop_threshold_n;   /**< below this the roller counts as idle */
    uint64_t idle_us;          /**< auto sessions end after this long idle
                                    (device clock) */
    uint64_t resume_window_us; /**< a replug within this resumes the
                                    session (monotonic clock) */
    uint64_t pre_roll_us;      /**< an auto session also keeps this much
                                    from before its start (the approach) */
    uint64_t max_session_us;   /**< a session ends when it spans this much
                                    (device clock); 0 = no limit */
    char library[4096];        /**< folder for session files */
    rm_writer_options writer;
    rm_log_fn log;             /**< may be NULL */
    void *log_user;
    rm_session_fn session;     /**< may be NULL */
    void *session_user;
} rm_recorder_options;

/** Defaults: auto start at 20 N (keeping 2 s from before), idle below
 *  10 N for 30 s, resume window 60 s, the default library folder. */
void rm_recorder_options_default(rm_recorder_options *o);

typedef struct rm_recorder_status {
    uint8_t state;             /**< rm_recorder_state */
    bool explicit_session;     /**< started by a command, ends by one */
    rm_session_meta session;   /**< the current session's id, client, side,
                                    muscle, notes; session_id "" when none */
    char path[4096];           /**< current session file, or "" */
    char last_path[4096];      /**< last closed session file, or "" */
    uint64_t session_samples;  /**< samples in the current session */
    uint64_t session_gaps;     /**< gaps written in the current session */
    uint64_t samples_recorded; /**< in session files, in all (samples a
                                    write error lost are taken off when
                                    their session closes) */
    uint64_t samples_unrecorded; /**< seen while no session was open */
    uint64_t session_span_us;  /**< first to last sample of it */
    uint64_t sessions_closed;
    uint64_t resumes;          /**< replugs that resumed a session */
    uint64_t overflow_samples; /**< ring overflow written as gaps */
    uint64_t write_failures;   /**< failed writes (each episode logged) */
    bool write_failing;        /**< the last write failed; retrying */
    char last_error[512];
} rm_recorder_status;

typedef struct rm_recorder rm_recorder;

/** The recorder is single-threaded: one thread feeds it (rm_capture locks
 *  around it). Times named now_us are rm_monotonic_us() values. */
rm_status rm_recorder_new(rm_recorder **out, const rm_recorder_options *o,
                          rm_error *err);
/** Closes an open session cleanly ("recorder shut down"), so that the
 *  status counts what reached the file. */
void rm_recorder_shut_down(rm_recorder *r);
/** Shuts down, then frees. */
void rm_recorder_free(rm_recorder *r);
/** Change thresholds, idle and resume times and the library folder; an
 *  open session keeps its file. */
void rm_recorder_set_options(rm_recorder *r, const rm_recorder_options *o);
/** A device (re)connected and said what it is. */
void rm_recorder_device(rm_recorder *r, const rm_device_info *info,
                        uint64_t now_us);
/** A finite source (file, simulation) ended: the session is closed. */
void rm_recorder_source_ended(rm_recorder *r);
/** The device went away: the session is suspended, not closed. */
void rm_recorder_unplugged(rm_recorder *r, uint64_t now_us);
void rm_recorder_samples(rm_recorder *r, const rm_sample *s, size_t n,
                         uint64_t now_us);
/** Samples lost upstream (ring overflow, rejected frames). */
void rm_recorder_gap(rm_recorder *r, const rm_gap *gap);
void rm_recorder_event(rm_recorder *r, const rm_event *ev);
/** The source's decoder counts so far (totals since capture began, summed
 *  across reconnects). A session records in its metadata what changed
 *  since it opened: when it closes, and at most every 10 s while it
 *  records, so a killed recorder leaves recent figures. */
void rm_recorder_link(rm_recorder *r, const rm_decoder_stats *total,
                      uint64_t now_us);
/** Timers: ends a suspended session after the resume window, retries
 *  failed writes. Call a few times a second. */
void rm_recorder_tick(rm_recorder *r, uint64_t now_us);
/** Open a session now (explicit: it ends only by rm_recorder_stop or an
 *  unplug beyond the window). path NULL: a new file in the library. An
 *  auto session already running is adopted (made explicit, meta merged);
 *  an explicit one is RM_ERR_BUSY. */
rm_status rm_recorder_start(rm_recorder *r, const rm_session_meta *meta,
                            const char *path, rm_error *err);
/** Close the current session. RM_ERR_NOT_FOUND when none is open. */
rm_status rm_recorder_stop(rm_recorder *r, rm_error *err);
/** What to add to the device's sample times to get the session file's:
 *  non-zero after a replug that restarted the device clock (0 when idle). */
int64_t rm_recorder_clock_offset(const rm_recorder *r);
/** Cancel a start that waits for the device; true if one was waiting. */
bool rm_recorder_withdraw_start(rm_recorder *r);
/** Merge the non-empty fields of meta (client, muscle, notes; side unless
 *  unknown) into the current session, or into the next one when idle. */
rm_status rm_recorder_set_meta(rm_recorder *r, const rm_session_meta *meta,
                               rm_error *err);
/** Add an event (a mark, a note) at the session's latest sample time.
 *  RM_ERR_NOT_FOUND when no session is recording. */
rm_status rm_recorder_note(rm_recorder *r, rm_event_kind kind, int32_t value,
                           const char *text, rm_error *err);
void rm_recorder_get_status(const rm_recorder *r, rm_recorder_status *out);

/* ------------------------------------------------------------------------ */
/* Capture: I/O thread -> ring -> consumer thread -> recorder + live view   */
/* ------------------------------------------------------------------------ */

/** Called on the consumer thread, in stream order; must not block long. */
typedef struct rm_capture_hooks {
    void (*device)(void *user, const rm_device_info *info);
    void (*samples)(void *user, const rm_sample *s, size_t n);
    void (*event)(void *user, const rm_event *ev);
    void (*gap)(void *user, const rm_gap *gap);
    void (*connection)(void *user, bool connected);
    void *user;
} rm_capture_hooks;

typedef struct rm_capture_options {
    rm_source_spec source;
    size_t ring_capacity;        /**< samples; see rm_capture_ring_size() */
    rm_reconnect_policy reconnect;
    char calibration_dir[4096];  /**< stored calibrations applied to each
                                      device that connects ("" = none) */
    uint32_t calibration_max_age_days; /**< older is flagged stale (0 = no
                                      age limit) */
    bool end_at_eof;             /**< stop reading when the source ends
                                      (else reopen it like an unplug) */
    rm_recorder_options recorder;
    rm_capture_hooks hooks;
    bool record_now;             /**< open a session before the first
                                      sample (as rm_capture_record_start) */
    rm_session_meta record_meta; /**< its metadata */
    char record_path[4096];      /**< its file ("" = in the library) */
} rm_capture_options;

/** Which calibration a connected device's newtons come from. */
typedef enum rm_calibration_state {
    RM_CALIBRATION_DEVICE,    /**< the device's own: none stored */
    RM_CALIBRATION_STORED,    /**< the stored one (rollmap calibrate) */
    RM_CALIBRATION_STALE,     /**< the stored one, older than the limit */
    RM_CALIBRATION_MISMATCH   /**< stored but refused (other channel count
                                   or serial, unreadable): the device's own
                                   applies */
} rm_calibration_state;

typedef struct rm_calibration_status {
    uint8_t state;               /**< rm_calibration_state */
    int64_t date_unix;           /**< STORED, STALE: its oldest channel */
    uint32_t age_days;           /**< STORED, STALE: whole days since */
    char problem[512];           /**< STALE, MISMATCH: what is wrong */
} rm_calibration_status;

/** "device", "stored", "stale", "mismatch". */
const char *rm_calibration_state_name(rm_calibration_state state);
/** Apply the calibration stored in dir for info's serial to info and say
 *  which one applies: older than max_age_days (0 = any age) at now_unix is
 *  stale; one that does not match the device leaves info unchanged. */
void rm_calibration_apply_checked(const char *dir, rm_device_info *info,
                                  uint32_t max_age_days, int64_t now_unix,
                                  rm_calibration_status *out);

/** Ring size that rides out a consumer stall of stall_s seconds at rate_hz
 *  (at least 1024 samples). */
size_t rm_capture_ring_size(uint32_t rate_hz, double stall_s);

typedef struct rm_capture_status {
    rm_recorder_status recorder;
    bool connected;
    bool source_ended;           /**< EOF seen and everything consumed */
    rm_device_info device;       /**< valid when device_known */
    bool device_known;
    rm_calibration_status calibration; /**< valid when device_known */
    uint64_t samples_received;   /**< from the source */
    uint64_t samples_consumed;   /**< taken from the ring */
    uint64_t ring_dropped;       /**< overflow (also written as gaps) */
    size_t ring_capacity;
    size_t ring_high_water;      /**< most samples ever waiting */
    uint64_t reconnects;
    uint64_t messages_dropped;   /**< events/gaps lost to a full message
                                      ring (a consumer stalled for long) */
    uint64_t frames_ok, frames_rejected, frames_lost;
    char last_source_error[512];
} rm_capture_status;

typedef struct rm_capture rm_capture;

/** Create the ring and recorder and start both threads. The source is
 *  opened by the I/O thread (and reopened after an unplug). A live device
 *  is never made to wait: a full ring drops and counts. A replay (file:,
 *  stdin, an unpaced ?fast source) waits for room instead. */
rm_status rm_capture_start(rm_capture **out, const rm_capture_options *o,
                           rm_error *err);
/** Stop both threads, drain the ring into the recorder, close the session
 *  cleanly and free. final (may be NULL) gets the status once everything
 *  is consumed, just before the session is closed. */
void rm_capture_stop(rm_capture *c, rm_capture_status *final);
/** Thread-safe: any thread (e.g. the live server's) may call these. */
rm_status rm_capture_record_start(rm_capture *c, const rm_session_meta *meta,
                                  const char *path, rm_error *err);
rm_status rm_capture_record_stop(rm_capture *c, rm_error *err);
/** Withdraw a start still waiting for the device; false when there was
 *  none (the session may have opened meanwhile). */
bool rm_capture_record_withdraw(rm_capture *c);
rm_status rm_capture_record_meta(rm_capture *c, const rm_session_meta *meta,
                                 rm_error *err);
rm_status rm_capture_record_note(rm_capture *c, rm_event_kind kind,
                                 int32_t value, const char *text,
                                 rm_error *err);
/** Ask the I/O thread to send TARE to the device (done within 100 ms). */
void rm_capture_request_tare(rm_capture *c);
/** Have the I/O thread set the device's sample rate (rm_source_set_rate)
 *  and wait for the outcome: refused while a session is open (a session
 *  has one rate), without a device, or by the device. */
rm_status rm_capture_set_rate(rm_capture *c, uint32_t rate_hz, rm_error *err);
void rm_capture_set_recorder_options(rm_capture *c,
                                     const rm_recorder_options *o);
void rm_capture_get_status(rm_capture *c, rm_capture_status *out);

/* ------------------------------------------------------------------------ */
/* rollmapd configuration (INI; docs/man/rollmapd.8)                        */
/* ------------------------------------------------------------------------ */

typedef enum rm_log_target { RM_LOG_TO_STDERR = 0, RM_LOG_TO_SYSLOG = 1 }
    rm_log_target;

typedef struct rm_daemon_config {
    /* [device] */
    char source[512];            /**< source name (rm_source_parse) */
    char profile[256];           /**< text-mode device profile, or "" */
    rm_reconnect_policy reconnect; /**< initial_ms and max_ms are settings */
    char calibration_dir[4096];  /**< stored calibrations by serial */
    uint32_t calibration_max_age_days; /**< older ones are flagged stale */
    char usb_ids[256];           /**< more candidate rollers for auto:
                                      "VID:PID, VID:*" */
    uint32_t max_rate_hz;        /**< highest rate expected (ring size) */
    double ring_stall_s;         /**< consumer stall the ring rides out */
    /* [session] */
    rm_recorder_options recorder; /**< auto start, thresholds, idle, resume
                                      and pre-roll times, the library folder
                                      and the writer's flush interval and
                                      fsync (its callbacks stay NULL) */
    char database[4096];         /**< session library rollmapd adds each
                                      recorded session to ("" = none) */
    uint64_t upload_interval_us; /**< a library that stores session data
                                      (PostgreSQL) gets a recording in
                                      progress this often */
    uint64_t database_retry_max_us; /**< longest pause between tries while
                                      the library's server does not answer */
    /* [socket] */
    char socket_path[108];       /**< sockaddr_un limit */
    /* [log] */
    uint8_t log_target;          /**< rm_log_target */
    uint8_t log_level;           /**< rm_log_level: this and more severe */
} rm_daemon_config;

/** Defaults: the recorder's, reconnect's and writer's own *_default()
 *  and the default paths of core/. */
void rm_daemon_config_default(rm_daemon_config *c);
/** Apply an INI file over c; errors name the file, line and key, and
 *  leave c unchanged. Unknown sections and keys are errors. */
rm_status rm_daemon_config_load(rm_daemon_config *c, const char *path,
                                rm_error *err);
rm_status rm_daemon_config_apply(rm_daemon_config *c, const rm_ini *ini,
                                 rm_error *err);
/** One override "section.key=value" (rollmapd --set); checks the value
 *  alone: call rm_daemon_config_check after the last one. */
rm_status rm_daemon_config_set(rm_daemon_config *c, const char *assignment,
                               rm_error *err);
/** Settings that depend on each other (thresholds, reconnect times);
 *  where prefixes the message. */
rm_status rm_daemon_config_check(const rm_daemon_config *c, const char *where,
                                 rm_error *err);
/** Add the configured usb_ids to the known list (rm_usb_id_add); call
 *  once at start-up. Errors name the id at fault. */
rm_status rm_daemon_config_add_usb_ids(const rm_daemon_config *c, rm_error *err);
/** Capture options from a configuration (source parsed: errors say so). */
rm_status rm_daemon_config_capture_options(const rm_daemon_config *c,
                                           rm_capture_options *o,
                                           rm_error *err);

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
    double dwell_radius_cm;     /**< steady = position within +/- this (1.5 cm) */
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
    double lean_mm;         /**< centre of pressure toward the roller's
                                 right end from the line the person rolls on
                                 (docs/LIVE.md); NaN unloaded or unknown */
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
/** Use this device's channels and geometry; resets the live state, but
 *  the same device back after a replug keeps its time base (returns true
 *  then). */
bool rm_live_set_device(rm_live *live, const rm_device_info *info);
/** Forget position reference, dwell and clock (a new session starts; also
 *  done by rm_live_update when the device clock goes back). A dwell in
 *  progress is dropped without a DWELL_END event. */
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
    rm_calibration_status calibration; /**< valid when device_connected */
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
    char library_db[512];       /**< the library they are added to ("" none) */
    rm_library_indexer_state indexing; /**< sessions waiting to be added */
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
    /** The device's sample rate, answered once it is set (or refused). */
    rm_status (*rate)(void *user, uint32_t rate_hz, rm_error *err);
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


typedef struct rm_server rm_server;

/** Listen on opt->path (mode 0660, parent folder created 0700 if missing;
 *  a stale socket is replaced, a live one is RM_ERR_BUSY) and start the
 *  server thread. handlers is copied. */
rm_status rm_server_open(rm_server **out, const rm_server_options *opt,
                         const rm_server_handlers *handlers, rm_error *err);
/** Listen on path ("" = default path) instead, as rm_server_open would.
 *  Only once that works are the clients told, and disconnected, and the
 *  old socket closed and its file removed; on failure to listen nothing
 *  changes. The live state and status are kept. */
rm_status rm_server_move(rm_server *srv, const char *path, rm_error *err);
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

/** The socket a client uses without --socket, into out: user_path (the
 *  user's own rollmapd) when a socket is there, else system_path (the
 *  system service) when one is there, else user_path, so that the error
 *  names the user's socket. */
void rm_client_choose_path(char *out, size_t cap, const char *user_path,
                           const char *system_path);

/** Connect (path NULL or "" = rm_client_choose_path between
 *  rm_default_socket_path and RM_SYSTEM_SOCKET_PATH) and read the VERSION line.
 *  No daemon listening is RM_ERR_NOT_FOUND with the path in the message. */
rm_status rm_client_connect(rm_client **out, const char *path,
                            rm_error *err);
void rm_client_close(rm_client *c);
int rm_client_fd(const rm_client *c);
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
