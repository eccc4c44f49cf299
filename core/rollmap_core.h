/*
 * rollmap core: shared types, errors, the session file format and the small
 * text formats (INI, JSON) every other module uses.
 *
 * This is the only public header of core/. Nothing here does I/O policy or
 * threading; functions return an rm_status and, where an rm_error is given,
 * leave a message that names the file, offset or field at fault.
 */
#ifndef ROLLMAP_CORE_H
#define ROLLMAP_CORE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rollmap_version.h" /* RM_VERSION_STRING, from CMake */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum rm_status {
    RM_OK = 0,
    RM_ERR_ARG = -1,         /**< invalid argument or option value */
    RM_ERR_NOMEM = -2,       /**< allocation failed */
    RM_ERR_IO = -3,          /**< read/write/open failed (errno in message) */
    RM_ERR_FORMAT = -4,      /**< input is not in the expected format */
    RM_ERR_VERSION = -5,     /**< format version not supported */
    RM_ERR_CRC = -6,         /**< checksum mismatch */
    RM_ERR_TRUNCATED = -7,   /**< input ends early */
    RM_ERR_NOT_FOUND = -8,   /**< no such device, file, key or record */
    RM_ERR_TIMEOUT = -9,     /**< the peer did not answer in time */
    RM_ERR_UNSUPPORTED = -10,/**< not supported here (platform, device) */
    RM_ERR_NO_SPACE = -11,   /**< disk full or file size limit */
    RM_ERR_AGAIN = -12,      /**< nothing available now, try later */
    RM_ERR_EOF = -13,        /**< end of stream */
    RM_ERR_BUSY = -14,       /**< resource in use (lock, socket, port) */
    RM_ERR_CLOSED = -15      /**< device or peer went away */
} rm_status;

/** Detail for the last failure: filled by functions that take one. */
typedef struct rm_error {
    rm_status code;
    char message[512];
} rm_error;

/** A short fixed phrase for a status ("checksum mismatch"). */
const char *rm_strerror(rm_status status);

/** Record a failure in err (which may be NULL) and return status. */
rm_status rm_error_set(rm_error *err, rm_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#ifdef __clang_analyzer__
/* The static analyzer does not look into variadic functions, so it would
 * take "return rm_error_set(...)" for a possible RM_OK; spell out that the
 * result is status (scripts/analyze). */
#define rm_error_set(err, status, ...) \
    (rm_error_set((err), (status), __VA_ARGS__), (status))
#endif

/** Clear err (which may be NULL). */
void rm_error_clear(rm_error *err);

/* ------------------------------------------------------------------------ */
/* Devices, channels and samples                                            */
/* ------------------------------------------------------------------------ */

/** Most force/pressure channels a device may have. */
#define RM_MAX_CHANNELS 16

typedef enum rm_device_kind {
    RM_DEVICE_ROLLER = 0, /**< foam roller with encoder */
    RM_DEVICE_BALL = 1,   /**< trigger-point ball: no encoder */
    RM_DEVICE_PROBE = 2   /**< handheld probe / algometer: no encoder */
} rm_device_kind;

typedef enum rm_channel_kind {
    RM_CHANNEL_LOAD_CELL = 0,    /**< total force through an end cap */
    RM_CHANNEL_PRESSURE_CELL = 1 /**< FSR/pressure cell of known area */
} rm_channel_kind;

/** Counts-to-newtons polynomial: N = c[0] + c[1] x + c[2] x^2 + c[3] x^3,
 *  where x = counts - tare_counts. A device INFO gives the linear part. */
typedef struct rm_calibration {
    double coef[4];
    double tare_counts;
    int64_t date_unix;   /**< when it was made; 0 = factory / unknown */
    char origin[16];     /**< "device", "user", "profile" */
} rm_calibration;

typedef struct rm_channel_info {
    uint8_t kind;              /**< rm_channel_kind */
    float position_mm;         /**< across the roller width, from the left end */
    float area_mm2;            /**< sensing area of a pressure cell, else 0 */
    float gain_n_per_count;    /**< device calibration: N per ADC count */
    float offset_counts;       /**< device calibration: counts at zero force */
    rm_calibration cal;        /**< calibration in force for this session */
} rm_channel_info;

/** What a device says about itself (protocol INFO frame or a profile). */
typedef struct rm_device_info {
    char model[32];
    char firmware[16];
    char serial[32];
    uint8_t device_kind;           /**< rm_device_kind */
    uint32_t sample_rate_hz;
    uint8_t channel_count;
    rm_channel_info channels[RM_MAX_CHANNELS];
    uint32_t encoder_counts_per_turn; /**< 0 = no encoder */
    float roller_diameter_mm;
    float roller_width_mm;
    int8_t distal_direction;       /**< +1: rising encoder count moves the
                                        contact point distally; -1 opposite */
    uint16_t usb_vid, usb_pid;     /**< where known (0 otherwise) */
} rm_device_info;

/** Sample flags. */
enum {
    RM_SAMPLE_MARK = 1u << 0,      /**< user pressed the "tender here" button */
    RM_SAMPLE_SATURATED = 1u << 1, /**< at least one channel at ADC full scale */
    RM_SAMPLE_OVERLOAD = 1u << 2,  /**< device reports overload */
    RM_SAMPLE_TARED = 1u << 3      /**< first sample after a tare */
};

/** One sample: raw counts as the device measured them. */
typedef struct rm_sample {
    uint64_t t_us;                  /**< device time, microseconds, unwrapped */
    int32_t encoder;                /**< cumulative encoder count */
    uint16_t flags;                 /**< RM_SAMPLE_* */
    int32_t counts[RM_MAX_CHANNELS];
} rm_sample;

/** "roller", "ball", "probe" or "unknown". */
const char *rm_device_kind_name(rm_device_kind kind);
/** The kind named by rm_device_kind_name (any case); RM_ERR_ARG for
 *  another name, kind untouched. */
rm_status rm_device_kind_parse(const char *name, rm_device_kind *kind);

/** Force in newtons of one channel of a sample, with its calibration
 *  (inline: the analysis calls it for every channel of every sample). */
static inline double rm_channel_newtons(const rm_channel_info *ch,
                                        int32_t counts)
{
    const double *c = ch->cal.coef;
    double x = (double)counts - ch->cal.tare_counts;
    return c[0] + x * (c[1] + x * (c[2] + x * c[3]));
}

/** Fill the calibration of every channel from its device gain/offset. */
void rm_device_info_default_calibration(rm_device_info *info);

/* ------------------------------------------------------------------------ */
/* Session metadata, events and gaps                                        */
/* ------------------------------------------------------------------------ */

typedef enum rm_side {
    RM_SIDE_UNKNOWN = 0,
    RM_SIDE_LEFT = 1,
    RM_SIDE_RIGHT = 2
} rm_side;

const char *rm_side_name(rm_side side);          /* "left", "right", "unknown" */
rm_status rm_side_parse(const char *text, rm_side *side); /* l/left/r/right */

/** true/yes/on/1 or false/no/off/0 (any case), as configuration files and
 *  source options write a switch; RM_ERR_FORMAT for anything else. */
rm_status rm_bool_parse(const char *text, bool *out);

/** How the serial link behaved while a session was recorded: counts since
 *  the session started, summed across reconnects (see hw's
 *  rm_decoder_stats; for a text-mode device malformed counts bad lines and
 *  oversized lines too long). Sessions written without them read back with
 *  recorded false and every count 0, meaning unknown. */
typedef struct rm_link_stats {
    bool recorded;            /**< the counts below were written */
    uint64_t frames_ok;
    uint64_t crc_errors;
    uint64_t malformed;
    uint64_t oversized;
    uint64_t frames_lost;     /**< missing according to the sequence counter */
    uint64_t bytes_discarded; /**< garbage skipped while resynchronising */
} rm_link_stats;

/** The link figures with a problem in them (everything but frames_ok). */
uint64_t rm_link_stats_problems(const rm_link_stats *link);
/** For people, in at most about 60 characters: "unknown (not recorded)",
 *  "clean (8000 frames)" or the non-zero problems, e.g. "12 CRC errors,
 *  3 malformed, 20 lost, 77 B skipped" (frames, except the bytes). */
void rm_link_stats_describe(const rm_link_stats *link, char *out, size_t size);

typedef struct rm_session_meta {
    char session_id[40];    /**< unique id, e.g. 20261124T060724Z-3f2a */
    char client[64];        /**< pseudonymous client code */
    uint8_t side;           /**< rm_side */
    char muscle[32];        /**< "hamstring" by default */
    int64_t start_unix_us;  /**< wall-clock start */
    char notes[1024];
    rm_link_stats link;     /**< a metadata record without it keeps the last */
} rm_session_meta;

/** Copy the fields of from that are set (client, muscle, notes non-empty;
 *  side not unknown) into into. */
void rm_session_meta_merge(rm_session_meta *into, const rm_session_meta *from);

typedef enum rm_event_kind {
    RM_EVENT_MARK = 1,       /**< "tender here"; value = rating 0-10 or -1 */
    RM_EVENT_TARE = 2,
    RM_EVENT_OVERLOAD = 3,
    RM_EVENT_BUTTON = 4,
    RM_EVENT_PLUG = 5,       /**< device (re)connected */
    RM_EVENT_UNPLUG = 6,
    RM_EVENT_NOTE = 7        /**< free text in event text */
} rm_event_kind;

typedef struct rm_event {
    uint64_t t_us;         /**< on the session's sample clock */
    uint8_t kind;          /**< rm_event_kind */
    int32_t value;
    char text[64];
} rm_event;

typedef enum rm_gap_reason {
    RM_GAP_LOST_FRAMES = 1,  /**< sequence gap or CRC-rejected frames */
    RM_GAP_UNPLUGGED = 2,
    RM_GAP_OVERFLOW = 3,     /**< ring buffer overflow in the daemon */
    RM_GAP_WRITE_ERROR = 4,  /**< samples lost to a failed write */
    RM_GAP_DEVICE_RESET = 5
} rm_gap_reason;

typedef struct rm_gap {
    uint64_t start_us, end_us; /**< time span with no samples */
    uint64_t lost_samples;     /**< estimate (0 if unknown) */
    uint8_t reason;            /**< rm_gap_reason */
} rm_gap;

const char *rm_gap_reason_name(rm_gap_reason reason);
const char *rm_event_kind_name(rm_event_kind kind);

/** A new unique session id from the wall clock and a random suffix. */
void rm_session_id_new(char out[40], int64_t start_unix_us);

/* ------------------------------------------------------------------------ */
/* Session files (docs/FORMAT.md)                                           */
/* ------------------------------------------------------------------------ */

typedef struct rm_writer_options {
    uint32_t flush_interval_ms;  /**< default 500; never more than 1000 */
    uint32_t block_samples;      /**< samples per block at most (default 512,
                                      at most 65535) */
    uint32_t queue_limit_bytes;  /**< encoded blocks kept while writes fail
                                      (default 8 MiB); samples beyond it are
                                      dropped and recorded as a gap */
    bool fsync;                  /**< fsync after each flush (default true) */
} rm_writer_options;

void rm_writer_options_default(rm_writer_options *opt);

typedef struct rm_session_writer rm_session_writer;

/** Create a new session file (mode 0600; fails if it exists). */
rm_status rm_session_writer_create(rm_session_writer **out, const char *path,
                                   const rm_device_info *info,
                                   const rm_session_meta *meta,
                                   const rm_writer_options *opt, rm_error *err);

/** Reopen an existing session file to append (resume after a crash or a
 *  replug). Any torn block at the end is cut off first. */
rm_status rm_session_writer_reopen(rm_session_writer **out, const char *path,
                                   const rm_writer_options *opt, rm_error *err);

/** Queue samples; they are written as a block when the block is full or the
 *  flush interval has passed (checked on each call and on flush). */
rm_status rm_session_writer_append(rm_session_writer *w, const rm_sample *s,
                                   size_t count, rm_error *err);
rm_status rm_session_writer_add_gap(rm_session_writer *w, const rm_gap *gap,
                                    rm_error *err);
rm_status rm_session_writer_add_event(rm_session_writer *w,
                                      const rm_event *ev, rm_error *err);
/** Append a metadata record: later records override earlier ones. */
rm_status rm_session_writer_set_meta(rm_session_writer *w,
                                     const rm_session_meta *meta,
                                     rm_error *err);
/** Write whatever is queued as a block now. On RM_ERR_NO_SPACE / RM_ERR_IO
 *  as many whole blocks as fit are written, the file is left ending at its
 *  last complete block and the rest stays queued (up to a bound; samples
 *  beyond it are dropped and recorded as a write-error gap), so a later
 *  flush can go on when space returns. */
rm_status rm_session_writer_flush(rm_session_writer *w, rm_error *err);
/** Flush, write the closing index and close. Always frees w. Samples
 *  that still cannot be written become a write-error gap. */
rm_status rm_session_writer_close(rm_session_writer *w, rm_error *err);

/** What a closed writer left in the file. */
typedef struct rm_writer_summary {
    uint64_t samples_written; /**< in complete sample blocks in the file */
    uint64_t samples_lost;    /**< given to the writer but not in the file
                                   (disk full, write errors): inside the
                                   write-error gaps when those fit */
    uint64_t gaps_written;    /**< gap blocks in the file, of every reason */
} rm_writer_summary;

/** rm_session_writer_close that also says what reached the file (filled
 *  whether or not the close succeeded). */
rm_status rm_session_writer_finish(rm_session_writer *w, rm_writer_summary *out,
                                   rm_error *err);
uint64_t rm_session_writer_sample_count(const rm_session_writer *w);

/** Append a metadata record to a closed session file (metadata after). */
rm_status rm_session_file_set_meta(const char *path,
                                   const rm_session_meta *meta, rm_error *err);

/** What a reader found wrong with a file and skipped. */
typedef struct rm_skipped_range {
    uint64_t offset, length;   /**< bytes in the file */
    char reason[64];           /**< "block CRC mismatch", "truncated block" */
} rm_skipped_range;

typedef struct rm_integrity {
    uint64_t blocks_ok;
    uint64_t blocks_skipped;
    uint64_t bytes_skipped;
    bool truncated;            /**< file ends inside a block */
    bool closed_cleanly;       /**< the closing index is present and valid */
    size_t skipped_count;
    const rm_skipped_range *skipped;
} rm_integrity;

typedef struct rm_session rm_session;

/** Open a session file for reading; recovers every intact block. A file
 *  that is not a session file or has an unknown version is an error. */
rm_status rm_session_open(rm_session **out, const char *path, rm_error *err);
void rm_session_close(rm_session *s);

/** The path the session was opened from (for messages). */
const char *rm_session_path(const rm_session *s);
const rm_device_info *rm_session_device(const rm_session *s);
const rm_session_meta *rm_session_meta_of(const rm_session *s);
uint32_t rm_session_format_version(const rm_session *s);
uint64_t rm_session_sample_count(const rm_session *s);
uint64_t rm_session_first_us(const rm_session *s);
uint64_t rm_session_last_us(const rm_session *s);
const rm_gap *rm_session_gaps(const rm_session *s, size_t *count);
const rm_event *rm_session_events(const rm_session *s, size_t *count);
const rm_integrity *rm_session_integrity(const rm_session *s);

/** Check the CRC of every sample block's payload (open reads only block
 *  headers) and drop bad blocks, reporting them in rm_session_integrity;
 *  sample indices after a dropped block move down. Call it right after
 *  open to read a damaged file without CRC errors later; costs one read of
 *  the file. RM_OK even when blocks were dropped. */
rm_status rm_session_verify(rm_session *s, rm_error *err);

/** Copy samples [first, first+max) into out; *got is how many were read.
 *  A block whose payload fails its CRC (not yet dropped by verify) stops
 *  the read with RM_ERR_CRC naming the file, offset and samples lost. */
rm_status rm_session_read(rm_session *s, uint64_t first, rm_sample *out,
                          size_t max, size_t *got, rm_error *err);
/** Index of the first sample at or after t_us (the index makes it fast). */
uint64_t rm_session_find_time(const rm_session *s, uint64_t t_us);

/** Samples as columns: each field of rm_sample in an array of its own,
 *  the layout a sample block of format version 3 stores, so a block is
 *  decoded straight into them and a consumer that goes field by field
 *  (the analysis) reads each from a short array instead of picking it out
 *  of 80-byte samples. Every array has room for cap samples. */
typedef struct rm_sample_columns {
    uint64_t *t_us;
    uint16_t *flags;
    int32_t *encoder;
    int32_t *counts[RM_MAX_CHANNELS]; /**< the first `channels`; the rest NULL */
    unsigned channels;
    size_t cap;
} rm_sample_columns;

/** Arrays for cap samples of `channels` channels (at most RM_MAX_CHANNELS). */
rm_status rm_sample_columns_alloc(rm_sample_columns *c, unsigned channels,
                                  size_t cap, rm_error *err);
void rm_sample_columns_free(rm_sample_columns *c);
/** Copy s[0..n) into c from index at (at + n <= c->cap); channels past
 *  c->channels are left out. */
void rm_sample_columns_put(rm_sample_columns *c, size_t at, const rm_sample *s,
                           size_t n);

/** Read the run of samples that starts at `first` into out (index 0 on):
 *  whole blocks as long as they fit in out->cap, each decoded straight
 *  into the columns, so *got may stay below out->cap and the next read
 *  (at first + *got) starts on a block; only a run's first block is read
 *  in part (when first is inside it or it is larger than out->cap). *got
 *  is 0 only when first is past the last sample. Channels past
 *  out->channels are left out; channels a block lacks read as 0. Errors
 *  as rm_session_read. */
rm_status rm_session_read_columns(rm_session *s, uint64_t first,
                                  rm_sample_columns *out, size_t *got,
                                  rm_error *err);

/* ------------------------------------------------------------------------ */
/* CSV import/export of sessions (docs/FORMAT.md)                           */
/* ------------------------------------------------------------------------ */

/** Write a session as CSV with a '#'-commented metadata header, then the
 *  columns t_s, ch<N>_N..., ch<N>_counts..., encoder, position_cm (devices
 *  with an encoder) and mark. Reads the file once: verify it first to skip
 *  damaged blocks instead of failing on them. */
rm_status rm_session_export_csv(rm_session *s, FILE *out, rm_error *err);

/** Column names of another logger's CSV mapped to rollmap's own
 *  ("time=t_ms,left=ch0_kg,right=ch1_kg,pos=position_mm"); the unit is part
 *  of the target name (docs/FORMAT.md, "Column maps"). */
#define RM_CSV_MAP_MAX (2 * RM_MAX_CHANNELS + 4)

typedef struct rm_csv_column_map {
    unsigned count;
    struct {
        char from[64];        /**< the column name in the file's header row */
        char to[16];          /**< t_s, ch0_kg, position_mm, ... */
    } entries[RM_CSV_MAP_MAX];
} rm_csv_column_map;

/** Parse "FROM=TO,..." into map. Errors name the entry and say what is
 *  wrong, without a prefix: the caller adds "--columns: " or "FILE:LINE: ". */
rm_status rm_csv_column_map_parse(rm_csv_column_map *map, const char *text,
                                  rm_error *err);

/** Reading CSV sample files. Lines starting with '#' are comments ("# key:
 *  value" comments before the header row fill the session metadata); the
 *  header row names the columns: t_s or t_ms (required), ch<N>_N,
 *  ch<N>_kg, ch<N>_lbf or ch<N>_counts for channels 0..N, encoder,
 *  position_cm or position_mm, mark. With a column map (may be NULL) the
 *  header row's names are looked up in the map instead, and columns the
 *  map does not name are skipped. */
typedef struct rm_csv_reader rm_csv_reader;

rm_status rm_csv_reader_open(rm_csv_reader **out, const char *path,
                             const rm_csv_column_map *map, rm_error *err);
void rm_csv_reader_close(rm_csv_reader *r);
/** Channels the header row names (highest N + 1). */
unsigned rm_csv_reader_channel_count(const rm_csv_reader *r);
/** True when there is an encoder or a position_cm column. */
bool rm_csv_reader_has_position(const rm_csv_reader *r);
/** The next row as a sample of device info: newtons become counts through
 *  the inverse of each channel's calibration, position_cm becomes encoder
 *  counts through the roller geometry. RM_ERR_EOF after the last row;
 *  errors name the file, line and column. */
rm_status rm_csv_reader_next(rm_csv_reader *r, const rm_device_info *info,
                             rm_sample *out, rm_error *err);

/** The device assumed for CSV data without a profile (docs/FORMAT.md):
 *  load cells of 0.001 N per count at the end caps of a 330 mm roller (one
 *  cell: in the middle; more than two: evenly from end to end), a
 *  4096-count encoder on a 150 mm roller when has_encoder, rate_hz as
 *  given (0 = unknown). */
void rm_device_info_generic(rm_device_info *info, unsigned channels,
                            uint32_t rate_hz, bool has_encoder);

/** Import CSV into a new session file. info NULL: the generic device, its
 *  rate estimated from the time column. map NULL: the file uses rollmap's
 *  own column names. Metadata comes from the CSV's
 *  comments; the fields set in meta (non-empty, side known, start not 0)
 *  override them; meta may be NULL. A missing session id is made up. */
rm_status rm_session_import_csv(const char *csv_path, const char *session_path,
                                const rm_device_info *info,
                                const rm_csv_column_map *map,
                                const rm_session_meta *meta, rm_error *err);

/* ------------------------------------------------------------------------ */
/* Checksums                                                                */
/* ------------------------------------------------------------------------ */

/** CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF). Pass 0 as crc
 *  to start; feed the result back in to continue over more bytes. */
uint32_t rm_crc32c(uint32_t crc, const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* INI files (device profiles, config)                                      */
/* ------------------------------------------------------------------------ */

typedef struct rm_ini rm_ini;

/** Parse an INI file: [section], key = value, '#' or ';' comments. */
rm_status rm_ini_load(rm_ini **out, const char *path, rm_error *err);
rm_status rm_ini_parse(rm_ini **out, const char *text, const char *name,
                       rm_error *err);
void rm_ini_free(rm_ini *ini);
/** Value of key in section ("" for keys before any section), or NULL. */
const char *rm_ini_get(const rm_ini *ini, const char *section,
                       const char *key);
/** Typed getters: RM_ERR_NOT_FOUND leaves *out untouched; a value that does
 *  not parse is RM_ERR_FORMAT with "FILE:LINE: key: ..." in err. */
rm_status rm_ini_get_double(const rm_ini *ini, const char *section,
                            const char *key, double *out, rm_error *err);
rm_status rm_ini_get_long(const rm_ini *ini, const char *section,
                          const char *key, long *out, rm_error *err);
/** Section names in file order; count in *n. */
const char *const *rm_ini_sections(const rm_ini *ini, size_t *n);

/** One "key = value" line of an INI file. */
typedef struct rm_ini_entry {
    const char *section;       /**< "" before any [section] */
    const char *key;
    const char *value;         /**< trimmed; may be "" */
    int line;                  /**< 1-based line in the file */
} rm_ini_entry;

/** Every entry in file order (to reject unknown keys); count in *n. */
const rm_ini_entry *rm_ini_entries(const rm_ini *ini, size_t *n);
/** The name given to rm_ini_parse (the path for rm_ini_load). */
const char *rm_ini_name(const rm_ini *ini);
/** Line of key in section, or 0 when absent: for "FILE:LINE:" messages. */
int rm_ini_line(const rm_ini *ini, const char *section, const char *key);

/* ------------------------------------------------------------------------ */
/* JSON: a streaming writer and a small DOM reader                          */
/* ------------------------------------------------------------------------ */

/** Containers the writer tracks (as deep as the parser accepts); deeper
 *  nesting shares the innermost comma slot and may be written wrongly. */
#define RM_JSON_WRITER_DEPTH 64

typedef struct rm_json_writer {
    FILE *out;
    int depth;
    bool need_comma[RM_JSON_WRITER_DEPTH];
    bool after_key;              /**< next value belongs to the last key */
    bool pretty;
} rm_json_writer;

void rm_json_begin(rm_json_writer *w, FILE *out, bool pretty);
void rm_json_object_open(rm_json_writer *w);
void rm_json_object_close(rm_json_writer *w);
void rm_json_array_open(rm_json_writer *w);
void rm_json_array_close(rm_json_writer *w);
void rm_json_key(rm_json_writer *w, const char *key);
void rm_json_string(rm_json_writer *w, const char *s);
void rm_json_number(rm_json_writer *w, double v); /* NaN/inf -> null */
void rm_json_int(rm_json_writer *w, int64_t v);
void rm_json_bool(rm_json_writer *w, bool v);
void rm_json_null(rm_json_writer *w);
/** A key and its value in one call (inside an object). */
void rm_json_member_string(rm_json_writer *w, const char *key, const char *s);
void rm_json_member_number(rm_json_writer *w, const char *key, double v);
void rm_json_member_int(rm_json_writer *w, const char *key, int64_t v);
void rm_json_member_bool(rm_json_writer *w, const char *key, bool v);
/** Finish the document (newline when pretty). */
void rm_json_end(rm_json_writer *w);
/** A device INFO / session metadata as one JSON object, with the keys the
 *  session file header uses (docs/FORMAT.md). */
void rm_json_write_device(rm_json_writer *w, const rm_device_info *info);
void rm_json_write_meta(rm_json_writer *w, const rm_session_meta *meta);
/** The link figures as a JSON object, null when not recorded. */
void rm_json_write_link_stats(rm_json_writer *w, const rm_link_stats *link);

typedef enum rm_json_type {
    RM_JSON_NULL, RM_JSON_BOOL, RM_JSON_NUMBER, RM_JSON_STRING,
    RM_JSON_ARRAY, RM_JSON_OBJECT
} rm_json_type;

typedef struct rm_json rm_json;

/** Parser limits: nesting depth and input size (RM_ERR_FORMAT beyond). */
#define RM_JSON_MAX_DEPTH 64
#define RM_JSON_MAX_BYTES (64u * 1024 * 1024)

/** Parse text (len bytes, strict RFC 8259, UTF-8) into a tree; errors name
 *  the byte offset ("byte 17: expected ':' after an object key"). */
rm_status rm_json_parse(rm_json **out, const char *text, size_t len,
                        rm_error *err);
void rm_json_free(rm_json *root);
rm_json_type rm_json_type_of(const rm_json *v);
/** Member of an object, or NULL. */
const rm_json *rm_json_get(const rm_json *obj, const char *key);
size_t rm_json_length(const rm_json *arr_or_obj);
/** Element i of an array, or value i of an object (file order); NULL past
 *  the end. */
const rm_json *rm_json_at(const rm_json *arr, size_t i);
/** Key i of an object (file order), or NULL. */
const char *rm_json_key_at(const rm_json *obj, size_t i);
double rm_json_as_number(const rm_json *v, double fallback);
const char *rm_json_as_string(const rm_json *v, const char *fallback);
bool rm_json_as_bool(const rm_json *v, bool fallback);

/* ------------------------------------------------------------------------ */
/* Time                                                                     */
/* ------------------------------------------------------------------------ */

/** Monotonic clock, microseconds. */
uint64_t rm_monotonic_us(void);
/** Wall clock, microseconds since the Unix epoch. */
int64_t rm_wallclock_us(void);
struct timespec;
/** *at = clock_id's time now plus ms: the deadline of a timed wait
 *  (pthread_cond_timedwait on a condition with that clock). */
void rm_deadline_after_ms(int clock_id, int ms, struct timespec *at);
/** Format a wall-clock time as ISO 8601 UTC ("2026-11-24T06:07:24Z"). */
void rm_format_iso8601(char out[32], int64_t unix_us);

/* ------------------------------------------------------------------------ */
/* Writing files and folders                                                */
/* ------------------------------------------------------------------------ */

/** Create dir and its missing parents (mkdir -p) with mode; folders that
 *  exist keep theirs. Errors name the folder (one that is a file is
 *  "exists and is not a folder"). */
rm_status rm_make_dirs(const char *dir, unsigned mode, rm_error *err);
/** rm_make_dirs for the folder that holds path. */
rm_status rm_make_parent_dirs(const char *path, unsigned mode, rm_error *err);

/** A file being written in place of path: readers see the old file (or
 *  none) until rm_atomic_commit renames the finished one over it. */
typedef struct rm_atomic_file {
    FILE *f;                 /**< write here (or write tmp_path by name) */
    char path[4096];         /**< the file it becomes */
    char tmp_path[4096 + 16];/**< ".name.XXXXXX" in the same folder */
    bool sync;               /**< fsync the file before the rename */
} rm_atomic_file;

/** Start writing path through a temporary file beside it with mode (0 =
 *  0600, the umask does not apply); sync asks for an fsync before the
 *  rename. Errors name path. */
rm_status rm_atomic_open(rm_atomic_file *af, const char *path, unsigned mode,
                         bool sync, rm_error *err);
/** Flush (and fsync if asked), rename over path, fsync the folder. On a
 *  failure the temporary file is removed and path is as it was; a full
 *  disk is RM_ERR_NO_SPACE. */
rm_status rm_atomic_commit(rm_atomic_file *af, rm_error *err);
/** Give up: remove the temporary file; path is as it was. */
void rm_atomic_abort(rm_atomic_file *af);

/** Fills a file; a failure leaves a message in err. */
typedef rm_status (*rm_fill_fn)(FILE *out, const void *ctx, rm_error *err);
/** The whole of path from fill, through rm_atomic_open and _commit (or
 *  _abort when fill fails). */
rm_status rm_atomic_write(const char *path, unsigned mode, bool sync,
                          rm_fill_fn fill, const void *ctx, rm_error *err);

/* ------------------------------------------------------------------------ */
/* Small numerics                                                           */
/* ------------------------------------------------------------------------ */

/** x limited to [lo, hi]. */
double rm_clamp(double x, double lo, double hi);
/** What glibc's x86-64 fmax(a, b) answers, written out for hot loops (the
 *  call per value cost more than the comparison): a > b ? a : b, the
 *  other operand where one is NaN, a where both are (signalling NaNs,
 *  which no arithmetic makes, aside). So of two equal zeros, b. A loop
 *  that called fmax passes the operands in the order GCC passed them to
 *  the library (it may swap them: fmax is commutative as a value), which
 *  keeps its results' bits. */
static inline double rm_fmax_libm(double a, double b)
{
    double larger = a > b ? a : b;   /* one maxsd */
    return isnan(b) ? a : larger;
}
/** The same for glibc's fmin(a, b): a < b ? a : b, NaNs as rm_fmax_libm. */
static inline double rm_fmin_libm(double a, double b)
{
    double smaller = a < b ? a : b;  /* one minsd */
    return isnan(b) ? a : smaller;
}
/** Move the finite values of x[0..n) to its front, in order; their count. */
size_t rm_keep_finite(double *x, size_t n);
/** Median of x[0..n), sorting x in place; NaN for n == 0. */
double rm_median_inplace(double *x, size_t n);
/** The same median, reordering x[0..n) without sorting it (linear time on
 *  average); NaN for n == 0. Its bits are those of Hoare's selection of
 *  the middle over all of x; of many values it selects among those near
 *  the middle where that cannot change them. */
double rm_median_select(double *x, size_t n);
/** The outermost values of x[0..n) (finite; reordered) that have at least
 *  `need` values, themselves included, within `reach` inward: *low the
 *  smallest x with #{y : x <= y <= x + reach} >= need, *high the largest
 *  with #{y : x - reach <= y <= x} >= need (need is capped at n); the value
 *  at n/2 of the sorted x where no value has that support, NaN for n == 0.
 *  Only the ends of x are sorted when the answer lies there. */
void rm_supported_ends(double *x, size_t n, double reach, size_t need,
                       double *low, double *high);
/** Value at fraction q (0..1) of the sorted finite values of x, which is
 *  copied first; NaN if none are finite. */
double rm_quantile(const double *x, size_t n, double q);

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/** Ask the kernel to map every page of p[0..bytes) now, in one call,
 *  rather than one page fault per page on first write (on a virtual
 *  machine each fault costs microseconds). For large arrays that will be
 *  written whole; does nothing where the kernel cannot (before Linux
 *  5.14) or for small ones. */
void rm_prefault(void *p, size_t bytes);

/** Memory for a large array, released with free(). From a megabyte up it
 *  is whole 2 MiB pages aligned to 2 MiB, advised for transparent huge
 *  pages: one fault then maps 2 MiB instead of 4 KiB, which matters where
 *  faults are dear (a VM's first touch of a page costs 11-17 us here,
 *  docs/PERFORMANCE.md). The price is up to 2 MiB of rounding per array.
 *  NULL when out of memory. */
void *rm_alloc_large(size_t bytes);

/* ------------------------------------------------------------------------ */
/* Default paths (XDG base directories)                                     */
/* ------------------------------------------------------------------------ */

/* Each fills out (and leaves it "" on failure, so a caller without a
 * fallback may ignore the status). $XDG_DATA_HOME, $XDG_CONFIG_HOME and
 * $XDG_CACHE_HOME count only when absolute, else ~/.local/share,
 * ~/.config and ~/.cache. */

/** rollmapd's configuration: $XDG_CONFIG_HOME/rollmap/rollmapd.conf. */
rm_status rm_default_config_path(char *out, size_t cap, rm_error *err);
/** rollmap serve's password hash: $XDG_CONFIG_HOME/rollmap/web-password. */
rm_status rm_default_web_password_path(char *out, size_t cap, rm_error *err);
/** Session files: $XDG_DATA_HOME/rollmap/sessions. */
rm_status rm_default_library_dir(char *out, size_t cap, rm_error *err);
/** The session library's database: $ROLLMAP_LIBRARY_DB when set (a file,
 *  sqlite:PATH or a PostgreSQL connection string, docs/LIBRARY.md), else
 *  $XDG_DATA_HOME/rollmap/library.db. */
rm_status rm_default_library_db(char *out, size_t cap, rm_error *err);
/** Session files read from a PostgreSQL library that this machine does
 *  not have: $XDG_CACHE_HOME/rollmap/sessions (~/.cache/...). */
rm_status rm_default_cache_dir(char *out, size_t cap, rm_error *err);
/** Stored calibrations: $XDG_DATA_HOME/rollmap/calibration. */
rm_status rm_default_calibration_dir(char *out, size_t cap, rm_error *err);
/** The user's text-mode device profiles: $XDG_CONFIG_HOME/rollmap/profiles. */
rm_status rm_default_profiles_dir(char *out, size_t cap, rm_error *err);
/** A user's rollmapd's live socket: $XDG_RUNTIME_DIR/rollmap/rollmapd.sock
 *  when that variable names an existing folder by an absolute path, else
 *  /tmp/rollmap-$UID/rollmapd.sock. */
rm_status rm_default_socket_path(char *out, size_t cap, rm_error *err);
/** The system service's live socket (dist/rollmapd.conf). */
#define RM_SYSTEM_SOCKET_PATH "/run/rollmap/rollmapd.sock"

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_CORE_H */
