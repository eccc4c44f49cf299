/*
 * rollmap hw: the wire protocol codec (docs/PROTOCOL.md), text-mode device
 * profiles, sources (serial, tty, file, simulator, stdin), USB discovery and
 * hotplug, calibration storage, and the virtual roller.
 *
 * The only public header of hw/. The codec is pure: no I/O, no allocation
 * per frame. Sources do I/O but never print; they report through rm_error.
 */
#ifndef ROLLMAP_HW_H
#define ROLLMAP_HW_H

#include "rollmap_core.h"
#include "wire/rm_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Wire protocol: frames                                                    */
/* ------------------------------------------------------------------------ */

/** Largest frame body (type .. payload, before COBS and the delimiter). */
#define RM_FRAME_MAX_BODY RM_WIRE_MAX_BODY
/** Largest number of samples in one SAMPLES frame. */
#define RM_FRAME_MAX_BATCH RM_WIRE_MAX_BATCH

typedef enum rm_frame_type {
    /* device -> host */
    RM_FRAME_INFO = RM_WIRE_INFO,
    RM_FRAME_SAMPLES = RM_WIRE_SAMPLES,
    RM_FRAME_EVENT = RM_WIRE_EVENT,
    RM_FRAME_STATUS = RM_WIRE_STATUS,
    RM_FRAME_ERROR = RM_WIRE_ERROR,
    RM_FRAME_ACK = RM_WIRE_ACK,
    /* host -> device */
    RM_CMD_IDENTIFY = RM_WIRE_IDENTIFY,
    RM_CMD_START = RM_WIRE_START,
    RM_CMD_STOP = RM_WIRE_STOP,
    RM_CMD_TARE = RM_WIRE_TARE,
    RM_CMD_SET_RATE = RM_WIRE_SET_RATE
} rm_frame_type;

typedef enum rm_device_event {
    RM_DEV_EVENT_BUTTON = RM_WIRE_EVENT_BUTTON,
    RM_DEV_EVENT_TARE_DONE = RM_WIRE_EVENT_TARE_DONE,
    RM_DEV_EVENT_OVERLOAD = RM_WIRE_EVENT_OVERLOAD,
    RM_DEV_EVENT_RESET = RM_WIRE_EVENT_RESET     /**< device (re)booted */
} rm_device_event;

typedef struct rm_frame_status {
    uint8_t streaming;         /**< 1 while sending samples */
    uint32_t sample_rate_hz;
    uint32_t dropped;          /**< samples the device itself dropped */
    uint16_t error_code;       /**< for ERROR frames */
    char text[64];             /**< for ERROR frames */
} rm_frame_status;

/** A decoded frame. Which member is valid depends on type. */
typedef struct rm_frame {
    uint8_t type;              /**< rm_frame_type */
    uint16_t seq;              /**< wraps at 65536 */
    uint64_t t_us;             /**< device timestamp, unwrapped by decoder */
    union {
        rm_device_info info;
        struct {
            uint8_t channel_count;
            uint8_t count;
            rm_sample samples[RM_FRAME_MAX_BATCH];
        } samples;
        struct {
            uint8_t kind;      /**< rm_device_event */
            int32_t value;
        } event;
        rm_frame_status status;
        struct {
            uint8_t acked_type;
            int16_t result;    /**< 0 ok, negative error */
        } ack;
        uint32_t rate_hz;      /**< RM_CMD_SET_RATE */
    } u;
} rm_frame;

/** Decoder statistics: every kind of bad input is counted. */
typedef struct rm_decoder_stats {
    uint64_t bytes;
    uint64_t frames_ok;
    uint64_t crc_errors;
    uint64_t malformed;        /**< bad COBS, bad length, unknown type */
    uint64_t oversized;        /**< longer than RM_FRAME_MAX_BODY */
    uint64_t seq_gaps;         /**< gaps in the sequence counter */
    uint64_t frames_lost;      /**< frames missing according to seq */
    uint64_t bytes_discarded;  /**< garbage skipped while resynchronising */
} rm_decoder_stats;

/** Streaming decoder; the caller owns the memory (no allocation). */
typedef struct rm_decoder {
    uint8_t buf[RM_FRAME_MAX_BODY + 16]; /**< COBS-decoded body + CRC */
    size_t len;                /**< decoded bytes of the current frame */
    size_t wire_len;           /**< encoded bytes of the current frame */
    uint8_t cobs_left;         /**< data bytes left in the current block */
    bool cobs_zero_next;       /**< the current block ends with a 0x00 */
    bool discarding;           /**< skipping an oversized frame */
    bool have_seq;             /**< a valid frame was seen (seq and clock) */
    uint16_t last_seq;
    uint32_t last_t32;         /**< device clock of the last valid frame */
    uint64_t last_t_us;        /**< the same, unwrapped to 64 bits */
    rm_decoder_stats stats;
} rm_decoder;

void rm_decoder_init(rm_decoder *d);
/** Consume bytes until one frame is complete or the input runs out. Returns
 *  the number of bytes consumed; *have_frame says whether *out holds a new
 *  frame. Call again with the rest. Never fails: bad input is counted. */
size_t rm_decoder_push(rm_decoder *d, const uint8_t *data, size_t len,
                       rm_frame *out, bool *have_frame);

/** Encode a frame (COBS, CRC-32C, trailing 0x00). Returns the number of
 *  bytes written to out, or 0 if cap is too small or the frame is invalid. */
size_t rm_frame_encode(const rm_frame *f, uint8_t *out, size_t cap);
/** Upper bound of an encoded frame. */
#define RM_FRAME_MAX_WIRE (RM_FRAME_MAX_BODY + RM_FRAME_MAX_BODY / 254 + 16)

const char *rm_frame_type_name(rm_frame_type type);

/* ------------------------------------------------------------------------ */
/* Text mode (do-it-yourself devices) and device profiles                   */
/* ------------------------------------------------------------------------ */

typedef enum rm_column_kind {
    RM_COL_IGNORE = 0,
    RM_COL_TIME,          /**< scaled to microseconds by the profile */
    RM_COL_CHANNEL,       /**< channel index in channel_index */
    RM_COL_ENCODER,
    RM_COL_POSITION_CM,   /**< converted to encoder counts via the geometry */
    RM_COL_MARK
} rm_column_kind;

typedef struct rm_profile_column {
    uint8_t kind;             /**< rm_column_kind */
    uint8_t channel_index;
    double scale;             /**< value * scale = counts / us / cm */
} rm_profile_column;

/** A device profile (INI, docs/PROTOCOL.md): what INFO would carry plus the
 *  text-line column mapping ([text]; column_count 0 when a profile only
 *  describes CSV files or a binary-protocol device) and the CSV column map
 *  ([csv]). */
typedef struct rm_profile {
    rm_device_info info;
    bool binary;              /**< protocol = binary: the device sends INFO itself */
    uint32_t baud;
    char separator;           /**< ',' ';' or 0 for whitespace */
    uint8_t column_count;
    rm_profile_column columns[RM_MAX_CHANNELS + 4];
    bool has_time_column;     /**< else time comes from sample_rate_hz */
    uint32_t skip_lines;      /**< header lines to skip */
    rm_csv_column_map csv_columns; /**< [csv] columns for rollmap import; count 0: none */
} rm_profile;

/** The file for a profile given by path or by name: a path (anything with
 *  a '/', or a file in the current folder) as it is; a bare name such as
 *  "hx711-arduino" in $XDG_CONFIG_HOME/rollmap/profiles, then among the
 *  profiles installed with the programs (share/rollmap/profiles), with or
 *  without ".ini". RM_ERR_NOT_FOUND names the folders searched. */
rm_status rm_profile_find(char *out, size_t cap, const char *name, rm_error *err);
/** Load a profile file (found by rm_profile_find); errors say
 *  "FILE:LINE: key: ...". */
rm_status rm_profile_load(rm_profile *p, const char *path, rm_error *err);
/** The same from a parsed INI (errors name rm_ini_name(ini)). */
rm_status rm_profile_from_ini(rm_profile *p, const rm_ini *ini, rm_error *err);

typedef struct rm_text_stats {
    uint64_t lines_ok;
    uint64_t lines_bad;       /**< wrong column count, not a number */
    uint64_t lines_too_long;
    uint64_t lines_skipped;   /**< skip_lines, headers before data, '#' */
} rm_text_stats;

/** Streaming line decoder for text-mode devices. */
typedef struct rm_text_decoder {
    const rm_profile *profile;
    char line[512];
    size_t len;
    bool overlong;            /**< the current line is too long: drop it */
    uint64_t line_number;     /**< non-empty lines seen (for skip_lines) */
    uint64_t index;           /**< samples produced (clock when no time col) */
    rm_text_stats stats;
} rm_text_decoder;

void rm_text_decoder_init(rm_text_decoder *d, const rm_profile *profile);
/** Like rm_decoder_push: consumes up to one line, *have_sample tells. */
size_t rm_text_decoder_push(rm_text_decoder *d, const uint8_t *data,
                            size_t len, rm_sample *out, bool *have_sample);

/* ------------------------------------------------------------------------ */
/* Sources                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum rm_source_kind {
    RM_SOURCE_AUTO,    /**< "auto": the first roller found */
    RM_SOURCE_SERIAL,  /**< "serial:/dev/ttyACM0[@baud]" (libserialport) */
    RM_SOURCE_USB,     /**< "usb:VID:PID[:SERIAL]" (resolved to a serial port) */
    RM_SOURCE_TTY,     /**< "tty:PATH": plain termios (ptys, socat) */
    RM_SOURCE_FILE,    /**< "file:capture.bin": replay a raw byte capture */
    RM_SOURCE_SIM,     /**< "sim:[key=value,...]": the virtual roller */
    RM_SOURCE_STDIN    /**< "-" */
} rm_source_kind;

typedef struct rm_source_spec {
    uint8_t kind;             /**< rm_source_kind */
    char path[256];           /**< device path, file path */
    uint32_t baud;            /**< 0 = default */
    uint16_t vid, pid;
    char serial[64];
    char sim_options[256];    /**< the key=value list of sim: */
    bool fast;                /**< file replay as fast as possible */
    char profile_path[256];   /**< text-mode device profile, or "" */
    uint32_t rate_hz;         /**< ?rate=N: set at every connect; 0 = the
                                   device's own */
} rm_source_spec;

/** Parse a source name; errors say which part is wrong. Any kind may end
 *  in "?option,option": "fast" (replay without pacing), "profile=PATH"
 *  (a text-mode device profile) and "rate=N" (samples a second, set at
 *  every connect), e.g. "file:cap.bin?fast", "tty:/dev/pts/3?rate=80". */
rm_status rm_source_parse(const char *text, rm_source_spec *spec,
                          rm_error *err);
/** For a sim: source whose options do not set key, add key=value (the
 *  virtual roller acts out what the session says, e.g. its leg side);
 *  other sources are left as they are. */
rm_status rm_source_sim_default(rm_source_spec *spec, const char *key,
                                const char *value, rm_error *err);
/** Format a spec back to its canonical name. */
void rm_source_format(const rm_source_spec *spec, char *out, size_t cap);

/** What a source can do, from its kind's row and its options. */
typedef struct rm_source_caps {
    /** A USB serial port: hotplug events tell when it comes and goes. */
    bool hotplug;
    /** Recorded bytes or a model run as fast as possible (file:, -,
     *  ?fast): no live device, no real-time clock. */
    bool replay;
    /** Takes commands (identify, START, SET_RATE, TARE): binary-protocol
     *  devices; text-mode devices and replays do not. */
    bool commands;
} rm_source_caps;

rm_source_caps rm_source_caps_of(const rm_source_spec *spec);
/** Whether a hotplug event for VID:PID may be this source's device. */
bool rm_source_hotplug_concerns(const rm_source_spec *spec, uint16_t vid,
                                uint16_t pid);
/** Check what can be checked without opening (a sim: source's options),
 *  so that a mistake is reported at start-up, not retried for ever. */
rm_status rm_source_check(const rm_source_spec *spec, rm_error *err);

typedef struct rm_source rm_source;

/** What a source delivers. */
typedef enum rm_source_item {
    RM_ITEM_NONE = 0,
    RM_ITEM_SAMPLES,   /**< batch in samples/count */
    RM_ITEM_INFO,      /**< device info (re)read */
    RM_ITEM_EVENT,     /**< device event */
    RM_ITEM_STATUS,
    RM_ITEM_GAP        /**< frames lost: gap */
} rm_source_item;

typedef struct rm_source_output {
    uint8_t item;               /**< rm_source_item */
    size_t count;
    rm_sample samples[RM_FRAME_MAX_BATCH];
    rm_device_info info;
    rm_event event;
    rm_frame_status status;
    rm_gap gap;
} rm_source_output;

/** Open a source. For device sources this identifies the device and
 *  starts streaming (with timeouts and retries). */
rm_status rm_source_open(rm_source **out, const rm_source_spec *spec,
                         rm_error *err);
void rm_source_close(rm_source *src);
/** File descriptor to poll for input; -1 when input is made or paced
 *  in-process (sim:, file:): then wait with rm_source_wait. */
int rm_source_fd(const rm_source *src);
/** Read what is available without blocking and decode the next item.
 *  RM_ERR_AGAIN: nothing yet; RM_ERR_CLOSED: device gone (reconnect);
 *  RM_ERR_EOF: end of a file or simulated session. */
rm_status rm_source_next(rm_source *src, rm_source_output *out,
                         rm_error *err);
/** Wait up to timeout_ms for the source to have input. */
rm_status rm_source_wait(rm_source *src, int timeout_ms, rm_error *err);
const rm_device_info *rm_source_info(const rm_source *src);
/** What this open source can do (rm_source_caps_of its spec). */
rm_source_caps rm_source_capabilities(const rm_source *src);
const rm_decoder_stats *rm_source_stats(const rm_source *src);
/** Send a command (RM_CMD_*); SET_RATE goes through rm_source_set_rate. */
rm_status rm_source_command(rm_source *src, rm_frame_type cmd, uint32_t arg,
                            rm_error *err);
/** Change the device's sample rate: SET_RATE, its ACK awaited, then
 *  identify again, so that rm_source_info (and an INFO item) carries the
 *  new rate; the rate is set again at every reconnect. Samples that arrive
 *  meanwhile are dropped. A refusal names the rates the device supports
 *  when it says (an ERROR before its ACK -1); text-mode devices and
 *  replays cannot change their rate. */
rm_status rm_source_set_rate(rm_source *src, uint32_t rate_hz, rm_error *err);
/** After RM_ERR_CLOSED: open the device again (a usb: or auto source is
 *  looked up again), identify it and re-send START and the sample rate last
 *  set. On success the next items are INFO, then an RM_GAP_UNPLUGGED gap
 *  from the last sample before the loss to the first one after it. */
rm_status rm_source_reopen(rm_source *src, rm_error *err);

/** Reconnect policy: exponential back-off between attempts, for as long
 *  as the device is away (a daemon never gives up on it). */
typedef struct rm_reconnect_policy {
    uint32_t initial_ms;      /**< first delay (default 100) */
    uint32_t max_ms;          /**< cap (default 2000) */
} rm_reconnect_policy;

typedef struct rm_reconnect {
    rm_reconnect_policy policy;
    uint32_t next_delay_ms;
    uint64_t next_try_us;
    uint32_t attempts;
} rm_reconnect;

void rm_reconnect_policy_default(rm_reconnect_policy *p);
void rm_reconnect_start(rm_reconnect *r, const rm_reconnect_policy *p,
                        uint64_t now_us);
/** true when it is time for an attempt (and schedules the next one). */
bool rm_reconnect_due(rm_reconnect *r, uint64_t now_us);

/* ------------------------------------------------------------------------ */
/* Discovery and hotplug                                                    */
/* ------------------------------------------------------------------------ */

typedef struct rm_port_info {
    char path[256];
    char transport[16];       /**< "usb", "native", "bluetooth" */
    uint16_t vid, pid;
    char manufacturer[64];
    char product[64];
    char serial[64];
    bool known_id;            /**< VID:PID in the known list */
    bool is_roller;           /**< answered identify with INFO */
    /** Probed but no roller: why (the open error with what to do about
     *  it, or no answer to identify). */
    char problem[512];
    rm_device_info info;      /**< valid when is_roller */
} rm_port_info;

/** List serial ports; with probe, ask each candidate for INFO. */
rm_status rm_ports_list(rm_port_info **out, size_t *count, bool probe,
                        rm_error *err);
void rm_ports_free(rm_port_info *ports);

/** Add a configured VID:PID ("1a86:7523", or "239a:*" for a vendor) to
 *  the built-in USB serial bridges and CDC boards rollmap treats as
 *  candidate rollers. At start-up only: the list is process-wide and not
 *  locked. */
rm_status rm_usb_id_add(const char *text, rm_error *err);
bool rm_usb_id_known(uint16_t vid, uint16_t pid);

typedef struct rm_hotplug rm_hotplug;
typedef enum rm_hotplug_event { RM_HOTPLUG_ARRIVED, RM_HOTPLUG_LEFT }
    rm_hotplug_event;
/** Called from rm_hotplug_poll(), never from libusb's own callback. */
typedef void (*rm_hotplug_cb)(rm_hotplug_event ev, uint16_t vid, uint16_t pid,
                              void *user);

/** Watch for known devices: libusb hotplug where supported, else a rescan
 *  about once a second. */
rm_status rm_hotplug_open(rm_hotplug **out, rm_hotplug_cb cb, void *user,
                          rm_error *err);
/** Process pending events, waiting up to timeout_ms. */
rm_status rm_hotplug_poll(rm_hotplug *h, int timeout_ms, rm_error *err);
bool rm_hotplug_is_native(const rm_hotplug *h);
void rm_hotplug_close(rm_hotplug *h);

/* ------------------------------------------------------------------------ */
/* Calibration store (per device serial, in the library folder)             */
/* ------------------------------------------------------------------------ */

/** Fit counts->newtons per channel from (counts, newtons) pairs; degree 1
 *  (linear) or 3 (cubic), least squares. tare_counts becomes the counts of
 *  the lightest pair (the tare, at 0 N), x is measured from there; the date
 *  is now and the origin "user". */
rm_status rm_calibration_fit(const double *counts, const double *newtons,
                             size_t n, int degree, rm_calibration *out,
                             rm_error *err);
/** Write the channels' calibrations as DIR/SERIAL.ini (DIR is created). */
rm_status rm_calibration_save(const char *dir, const char *serial,
                              const rm_device_info *info, rm_error *err);
/** Load the stored calibration of info->serial into info's channels.
 *  RM_ERR_NOT_FOUND when none is stored (info is left as it was);
 *  RM_ERR_FORMAT naming the file and field when it is for another channel
 *  count or serial, or unreadable (info is left as it was). */
rm_status rm_calibration_load(const char *dir, rm_device_info *info,
                              rm_error *err);

/** A stored calibration, as listed by rm_calibration_list. */
typedef struct rm_calibration_entry {
    char serial[64];
    char model[32];
    int64_t date_unix;        /**< when it was made */
    unsigned channel_count;
} rm_calibration_entry;

/** Mean counts of every channel over `seconds` of device time, once the
 *  load has come to rest: what a live device queued before the call is
 *  discarded, then the reading must hold still (every channel's 0.1 s
 *  means within 0.5 N of each other) for `settle_s`; any gap restarts
 *  that. RM_ERR_TIMEOUT when it does not settle within 20 s of device
 *  time (the message says by how much it still moves) or after 5 s
 *  without samples. mean_counts has room for RM_MAX_CHANNELS. */
rm_status rm_calibration_measure(rm_source *src, double settle_s,
                                 double seconds, double *mean_counts,
                                 rm_error *err);

/** Every calibration stored in dir, by serial; a missing dir is empty. */
rm_status rm_calibration_list(const char *dir, rm_calibration_entry **out,
                              size_t *count, rm_error *err);
void rm_calibration_list_free(rm_calibration_entry *entries);

/* ------------------------------------------------------------------------ */
/* The virtual roller                                                       */
/* ------------------------------------------------------------------------ */

/** Most tender spots a session can have. */
#define RM_SIM_MAX_SPOTS 16

typedef struct rm_sim_spot {
    double position_cm;     /**< from the proximal end */
    uint8_t side;           /**< medial = 1, lateral = 2 (rm_sim_ml) */
    double severity;        /**< 0-1 */
} rm_sim_spot;

/* Every field has a key for rm_sim_config_parse ("mass=80,spots=4"); the
 * keys, defaults and sources are listed in docs/SIMULATOR.md. */
typedef struct rm_sim_config {
    uint64_t seed;                /**< seed: every random choice follows it */
    double duration_s;            /**< duration: session length */
    uint32_t sample_rate_hz;      /**< rate: default 1000 */
    uint8_t device_kind;          /**< kind: rm_device_kind */
    uint8_t load_cells;           /**< load_cells: end-cap load cells (0-2) */
    uint8_t pressure_cells;       /**< pressure_cells: strip across the width */
    double body_mass_kg;          /**< mass */
    double leg_length_cm;         /**< leg: rolled hamstring length */
    uint8_t side;                 /**< side: rm_side (unknown acts as right) */
    uint8_t spot_count;           /**< spots: tender spots */
    rm_sim_spot pinned_spots[RM_SIM_MAX_SPOTS]; /**< spot_at: spots placed by
                                       hand ("14:medial:0.8/25:lateral:0.4");
                                       when given they replace random ones */
    uint8_t pinned_spot_count;
    double noise_counts;          /**< noise: ADC noise, counts RMS */
    double hum_hz;                /**< hum: 0, 50 or 60 */
    double hum_counts;            /**< hum_counts: hum amplitude */
    double drop_rate;             /**< drop: fraction of frames dropped */
    double bit_error_rate;        /**< ber: corrupted bits on the wire */
    double unplug_at_s[32];       /**< unplug: times ("30/90") */
    double unplug_for_s;          /**< unplug_for: how long each lasts */
    uint8_t unplug_count;
    double reset_at_s;            /**< reset: device reset, <0 for none */
    /* the person */
    double load_min_pct;          /**< load_min: session mean force, % BW */
    double load_max_pct;          /**< load_max */
    double stroke_speed_cm_s;     /**< speed: mean stroke speed */
    double cadence_per_min;       /**< cadence: one-way strokes per minute */
    double rest_min_s;            /**< rest_min: leg lifted between sets */
    double rest_max_s;            /**< rest_max */
    double dwell_min_s;           /**< dwell_min */
    double dwell_max_s;           /**< dwell_max */
    double other_dwell_chance;    /**< other_dwells: per set, away from spots */
    double slowdown;              /**< slowdown: speed lost at a severe spot */
    double unload;                /**< unload: force lost at a severe spot */
    double pass_lean_mm;          /**< pass_lean: load shift toward a severe
                                       spot's side while rolling over it
                                       (negative: away; default 0) */
    double tremor_pct;            /**< tremor: 6-12 Hz tremor at a severe
                                       spot, % of force */
    double mark_threshold;        /**< mark_at: severity from which the
                                       person presses the mark button */
    /* the sensor */
    double fsr_creep;             /**< creep: FSR loss from 5 s to 60 s */
    double fsr_hysteresis;        /**< hysteresis: FSR unloading excess */
    double drift_counts_per_min;  /**< drift: offset drift, counts/min */
    double roller_diameter_mm;    /**< diameter */
    double roller_width_mm;       /**< width */
    uint32_t encoder_counts_per_turn; /**< cpr */
    int8_t distal_direction;      /**< distal: +1 or -1 */
    /* the firmware */
    uint8_t batch;                /**< batch: samples per SAMPLES frame */
    bool autostart;               /**< autostart: stream without START */
} rm_sim_config;

void rm_sim_config_default(rm_sim_config *c);
/** Apply "key=value,key=value" (the sim: source options). Errors name the
 *  key and the value at fault; c is left partly applied on error. */
rm_status rm_sim_config_parse(rm_sim_config *c, const char *options,
                              rm_error *err);
/** Check the options together (channel count, frame size, ranges that
 *  depend on each other), as rm_sim_new does. */
rm_status rm_sim_config_check(const rm_sim_config *c, rm_error *err);

typedef struct rm_sim_dwell {
    double start_s, end_s;  /**< model clock (rm_sample t_us / 1e6) */
    double position_cm;
    int spot;               /**< index of the spot, -1 if elsewhere */
} rm_sim_dwell;

typedef struct rm_sim_mark {
    double t_s;             /**< model clock */
    double position_cm;
    int spot;
} rm_sim_mark;

enum rm_sim_ml { RM_ML_CENTRE = 0, RM_ML_MEDIAL = 1, RM_ML_LATERAL = 2 };

/** What the virtual firmware did to the wire. */
typedef struct rm_sim_wire_stats {
    uint64_t frames_sent;       /**< frames that reached the wire */
    uint64_t frames_dropped;    /**< SAMPLES frames never sent (seq gap) */
    uint64_t frames_corrupted;  /**< sent frames with at least one bad bit */
    uint64_t bits_flipped;
    uint64_t boots;             /**< power-ups, replugs and resets */
    uint64_t commands;          /**< host frames answered */
} rm_sim_wire_stats;

typedef struct rm_sim rm_sim;

rm_status rm_sim_new(rm_sim **out, const rm_sim_config *c, rm_error *err);
void rm_sim_free(rm_sim *sim);
const rm_sim_config *rm_sim_config_of(const rm_sim *sim);
const rm_device_info *rm_sim_info(const rm_sim *sim);
/** Produce the next sample of the physical model; false at the end. Its
 *  t_us is the model clock, starting at 0. Use either this or
 *  rm_sim_next_bytes on one rm_sim, not both. */
bool rm_sim_next_sample(rm_sim *sim, rm_sample *out);
/** Run the virtual device for one batch period (batch samples at the
 *  current rate) and write what it sends meanwhile: answers to commands,
 *  INFO at power-up, EVENTs, STATUS, SAMPLES, with the configured faults.
 *  Returns the bytes written: 0 when the device sent nothing in that period
 *  (idle before START, unplugged, a dropped frame). If cap is too small the
 *  rest stays queued and the next calls only drain it. Check
 *  rm_sim_finished() for the end. Wire times restart at each boot. */
size_t rm_sim_next_bytes(rm_sim *sim, uint8_t *out, size_t cap);
/** true once the session is over and every byte has been taken. */
bool rm_sim_finished(const rm_sim *sim);
/** Feed host->device bytes (commands) to the virtual device. */
void rm_sim_receive(rm_sim *sim, const uint8_t *data, size_t len);
/** Model time of the next sample, microseconds. */
uint64_t rm_sim_time_us(const rm_sim *sim);
/** Whether the virtual device is unplugged at its current time. */
bool rm_sim_unplugged(const rm_sim *sim);
const rm_sim_wire_stats *rm_sim_wire_stats_of(const rm_sim *sim);
/** Ground truth acted out so far (the spots from the start). */
const rm_sim_spot *rm_sim_spots(const rm_sim *sim, size_t *count);
const rm_sim_dwell *rm_sim_dwells(const rm_sim *sim, size_t *count);
const rm_sim_mark *rm_sim_marks(const rm_sim *sim, size_t *count);
/** Write the ground truth as JSON (docs/SIMULATOR.md). */
rm_status rm_sim_write_truth(const rm_sim *sim, FILE *out, rm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_HW_H */
