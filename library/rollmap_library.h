/*
 * rollmap library: the session library (SQLite index of session files with
 * their analysis summaries), comparison of client sessions, and exports
 * (EDF+, CSV folders). docs/LIBRARY.md.
 *
 * The only public header of library/. It sits above analysis and below
 * daemon and cli: core <- hw, analysis <- library <- daemon, cli.
 */
#ifndef ROLLMAP_LIBRARY_H
#define ROLLMAP_LIBRARY_H

#include "rollmap_core.h"
#include "rollmap_analysis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* The library: an SQLite index of session files (docs/LIBRARY.md)          */
/* ------------------------------------------------------------------------ */

/** Schema version this build writes (SQLite: PRAGMA user_version;
 *  PostgreSQL: table rollmap_schema); older databases
 *  are migrated on open, newer ones are refused. */
#define RM_LIBRARY_SCHEMA_VERSION 5

/** How long opening a PostgreSQL library waits for a server that does
 *  not answer, unless the connection string's connect_timeout or
 *  PGCONNECT_TIMEOUT says otherwise (seconds). */
#define RM_LIBRARY_CONNECT_TIMEOUT_S 10

/** How long a connection waits for another process's write lock before
 *  RM_ERR_BUSY ("library.db is locked by another process"). */
#define RM_LIBRARY_BUSY_TIMEOUT_MS 5000

typedef struct rm_library rm_library;

/** Where a library lives (docs/LIBRARY.md, "Backends"). */
typedef enum rm_library_backend_kind {
    RM_LIBRARY_SQLITE,      /**< a file: PATH or sqlite:PATH */
    RM_LIBRARY_POSTGRESQL,  /**< postgresql://... or a libpq "key=value"
                                 connection string */
} rm_library_backend_kind;

/** Which backend a target names; for SQLite, *file is its file path
 *  (else NULL). */
rm_library_backend_kind rm_library_target_kind(const char *target,
                                               const char **file);

/** Open (or create) a library. target is a database file (PATH or
 *  sqlite:PATH: its folder 0700, the file 0600, WAL journal) or a
 *  PostgreSQL server (postgresql://... or a libpq connection string,
 *  without a password: libpq's password and service files supply it).
 *  Busy timeout, schema migrated. A damaged file is RM_ERR_FORMAT naming
 *  the file; it is never rewritten. One rm_library is used by one thread
 *  at a time; other threads and processes open their own. */
rm_status rm_library_open(rm_library **out, const char *target,
                          rm_error *err);
void rm_library_close(rm_library *lib);
/** What messages name: the database file, or the server and database
 *  (never a password). */
const char *rm_library_path(const rm_library *lib);
/** "sqlite" or "postgresql". */
const char *rm_library_backend_name(const rm_library *lib);
/** The schema version the database has (RM_LIBRARY_SCHEMA_VERSION once
 *  opened). */
rm_status rm_library_schema_version(rm_library *lib, int *version,
                                    rm_error *err);

/** Add a session file: open it, analyse it (default configuration) and
 *  store its index rows. Idempotent by session id: a file with the size
 *  and mtime indexed, or with the same content (CRC-32C) at another path
 *  or mtime, is not analysed again (a move only updates the path); a
 *  changed file replaces the rows of its session, keeping its id, tags
 *  and notes. *id (may be NULL) is the library id. */
rm_status rm_library_add(rm_library *lib, const char *session_path,
                         int64_t *id, rm_error *err);

/** What rm_library_add_ex did with a file. */
typedef enum rm_library_add_outcome {
    RM_LIBRARY_ADDED = 0,     /**< new session */
    RM_LIBRARY_UNCHANGED = 1, /**< already indexed, file unchanged */
    RM_LIBRARY_UPDATED = 2    /**< file changed or moved: re-indexed */
} rm_library_add_outcome;

/** rm_library_add with an analysis configuration (NULL = default) and the
 *  outcome (may be NULL). */
rm_status rm_library_add_ex(rm_library *lib, const char *session_path,
                            const rm_analysis_config *cfg, int64_t *id,
                            rm_library_add_outcome *outcome, rm_error *err);

typedef struct rm_library_tag {
    char *key;
    char *value;
} rm_library_tag;

/** One indexed session: what list and show print. Strings that may be
 *  long or absent are pointers owned by the entry (NULL when absent). */
typedef struct rm_library_entry {
    int64_t id;                 /**< library id (stable, never reused) */
    char session_id[40];
    char *path;                 /**< the session file as added (absolute) */
    char client[64];            /**< pseudonymous code */
    char *display_name;         /**< optional real name from the clients
                                     table; NULL none. Exports that must
                                     drop names ignore this field. */
    int64_t start_unix_us;
    uint8_t side;               /**< rm_side */
    char muscle[32];
    char *notes;                /**< NULL when empty */
    char device_model[32];
    char device_serial[32];
    uint8_t device_kind;        /**< rm_device_kind */
    uint32_t sample_rate_hz;
    uint8_t channel_count;
    bool has_position, has_pressure;
    rm_summary summary;         /**< the stored analysis summary */
    size_t dwell_count, spot_count, mark_count;
    double spot_score_total;    /**< sum of spot scores */
    double spot_score_max;      /**< highest spot score (0 none) */
    uint64_t file_size;
    int64_t file_mtime_ns;
    uint32_t file_crc32c;       /**< CRC-32C of the whole file when added */
    int64_t added_unix_us, analysed_unix_us;
    char damage[160];           /**< "" when the file read whole when it
                                     was analysed; else what was wrong
                                     (damaged blocks skipped, cut short, no
                                     closing index): the stored analysis
                                     covers only what could be read */
    size_t tag_count;
    rm_library_tag *tags;       /**< sorted by key */
} rm_library_entry;

/** Which sessions list, check and reanalyse consider. Zero = everything. */
typedef struct rm_library_filter {
    const char *client;         /**< exact client code, NULL any */
    uint8_t side;               /**< rm_side; RM_SIDE_UNKNOWN = any */
    const char *muscle;         /**< NULL any */
    int64_t since_unix_us;      /**< start >= this (0 open) */
    int64_t until_unix_us;      /**< start < this (0 open) */
    size_t last;                /**< only the newest N (0 all) */
    size_t skip;                /**< with last: after skipping the newest
                                     skip (a page of a list, newest first) */
} rm_library_filter;

/** Sessions matching f (NULL = all), oldest first; free with
 *  rm_library_entries_free. */
rm_status rm_library_list(rm_library *lib, const rm_library_filter *f,
                          rm_library_entry **out, size_t *n, rm_error *err);
/** How many sessions match f (NULL = all); last and skip are ignored. */
rm_status rm_library_count(rm_library *lib, const rm_library_filter *f,
                           size_t *n, rm_error *err);

/** One client's sessions at a glance: what a client list shows. */
typedef struct rm_library_client {
    char code[64];              /**< "" for sessions without a client */
    char *display_name;         /**< NULL none */
    size_t sessions;
    int64_t first_unix_us, last_unix_us;  /**< oldest and newest start */
    double first_score_total;   /**< spot_score_total of the oldest */
    double last_score_total;    /**< and of the newest session */
} rm_library_client;

/** Every client code (and "" when sessions lack one), sorted by code, in
 *  one query; free with rm_library_clients_free. */
rm_status rm_library_clients(rm_library *lib, rm_library_client **out,
                             size_t *n, rm_error *err);
void rm_library_clients_free(rm_library_client *clients, size_t n);

/** One session by library id (RM_ERR_NOT_FOUND names the id). Free with
 *  rm_library_entries_free(entry, 1). */
rm_status rm_library_get(rm_library *lib, int64_t id, rm_library_entry **out,
                         rm_error *err);
/** The library id of a session given as an id, a session id or a file
 *  path that was added. */
rm_status rm_library_resolve(rm_library *lib, const char *text, int64_t *id,
                             rm_error *err);
void rm_library_entries_free(rm_library_entry *entries, size_t n);

/** The stored analysis of a session, without reading its file: meta,
 *  device basics (model, serial, kind, rate, channel count), config,
 *  has_position/has_pressure, summary, quality, dwells, spots, marks and
 *  profile bins. series, psd, spectrogram, strokes and gaps are empty
 *  (counts 0). Free with rm_analysis_free. */
rm_status rm_library_load_analysis(rm_library *lib, int64_t id,
                                   rm_analysis **out, rm_error *err);

/** A free tag set while recording travels in the session file as a note
 *  event "tag:KEY=VALUE" (an empty VALUE removes the tag); adding the file
 *  to the library sets its tags from them, in file order. This writes that
 *  text into out (cap at least the event text size, 64); RM_ERR_ARG when
 *  the key is empty or has '=', or key and value together are longer than
 *  RM_LIBRARY_TAG_NOTE_MAX bytes. */
#define RM_LIBRARY_TAG_NOTE_PREFIX "tag:"
#define RM_LIBRARY_TAG_NOTE_MAX 58 /* 63 event text bytes - "tag:" - "=" */
rm_status rm_library_tag_note(const char *key, const char *value, char *out,
                              size_t cap, rm_error *err);

/** Set a tag; an empty or NULL value removes it. */
rm_status rm_library_set_tag(rm_library *lib, int64_t id, const char *key,
                             const char *value, rm_error *err);
/** Replace a session's notes in the library (not in the file). */
rm_status rm_library_set_notes(rm_library *lib, int64_t id, const char *notes,
                               rm_error *err);
/** Set a session's metadata where it lives, in its session file, and index
 *  the file again so the rows agree (docs/LIBRARY.md, "Assigning automatic
 *  sessions to a client"). The fields of changes that are set (client,
 *  muscle, notes non-empty; side not unknown; the rest is ignored) are
 *  merged into the file's metadata and appended to the file as a metadata
 *  record (rm_session_file_set_meta; nothing when they are there already).
 *  The session keeps its library id and tags; notes given also replace the
 *  library's notes. The file is never renamed. A missing or unwritable
 *  file, or one that now holds another session, is an error naming the
 *  library id and the file that changes nothing; when the file was written
 *  but the rows could not be (a locked database), the error says so and
 *  calling again (or rm_library_add) brings the rows up to date. */
rm_status rm_library_set_meta(rm_library *lib, int64_t id,
                              const rm_session_meta *changes, rm_error *err);
/** A client's display name, kept only in the database; NULL or "" removes
 *  it. */
rm_status rm_library_set_client_name(rm_library *lib, const char *client,
                                     const char *display_name, rm_error *err);
/** Remove a session's rows; with purge also delete its file and the
 *  bytes a PostgreSQL library holds of it. */
rm_status rm_library_remove(rm_library *lib, int64_t id, bool purge,
                            rm_error *err);

/** What check found about one session file. */
typedef enum rm_library_file_state {
    RM_LIBRARY_FILE_OK = 0,
    RM_LIBRARY_FILE_MISSING = 1,
    RM_LIBRARY_FILE_CHANGED = 2,  /**< size, mtime or content differ */
    RM_LIBRARY_FILE_ELSEWHERE = 3 /**< not on this machine, and the
                                       database holds the file's bytes as
                                       indexed (another room's session in
                                       a clinic's library): nothing lost */
} rm_library_file_state;

typedef struct rm_library_check_item {
    int64_t id;
    char session_id[40];
    char *path;
    rm_library_file_state state;
    char detail[224];             /**< e.g. "size 1200 -> 1400 bytes" */
    bool stored_damaged;          /**< with hash, on a library that stores
                                       the bytes: the database's copy
                                       fails its checksums */
    char stored_detail[512];      /**< which chunks (session id, chunk
                                       index, byte range) or the whole
                                       content's CRC-32C; "" when sound */
    bool stored_repaired;         /**< rm_library_repair_stored wrote the
                                       database's copy again */
    char repair_detail[768];      /**< what rm_library_repair_stored did:
                                       from which file, or why not */
} rm_library_check_item;

/** Compare every matching session's file with what was indexed: its size,
 *  and the CRC-32C of its content where the mtime moved (a touched file
 *  with the same bytes is fine) or, with hash, always. A file that is not
 *  on this machine is missing unless the library holds its bytes as they
 *  were indexed (elsewhere). With hash, a
 *  library that stores the bytes (PostgreSQL) also reads them: each chunk
 *  against its CRC-32C and the whole content against its own, so a copy
 *  damaged on the server is found although a reader's cache still holds
 *  a good one. Items for every session checked; free with
 *  rm_library_check_items_free. */
rm_status rm_library_check(rm_library *lib, const rm_library_filter *f,
                           bool hash, rm_library_check_item **out, size_t *n,
                           rm_error *err);
void rm_library_check_items_free(rm_library_check_item *items, size_t n);

/** Repair the database's copy of a session that rm_library_check (with
 *  hash) found damaged, from a good copy on this machine: the session's
 *  own file when check found it unchanged, else a copy in cache_dir
 *  (NULL: rm_default_cache_dir) that matches the stored length and
 *  checksum. Every stored chunk is compared with it and the ones that
 *  differ are written again. item->repair_detail says from which file,
 *  or why it was not repaired (no good copy here, or what failed, the
 *  database or the file); an item that is not damaged is left alone. */
void rm_library_repair_stored(rm_library *lib, rm_library_check_item *item,
                              const char *cache_dir);

/* ------------------------------------------------------------------------ */
/* Session files the library does not know yet                              */
/* ------------------------------------------------------------------------ */

/** The name ending of session files that folders are searched for. */
#define RM_LIBRARY_SESSION_SUFFIX ".rms"

/** The session files directly in folder (absolute paths, sorted); a
 *  missing folder has none. Free with rm_library_paths_free. */
rm_status rm_library_folder_sessions(const char *folder, char ***out,
                                     size_t *n, rm_error *err);
void rm_library_paths_free(char **paths, size_t n);
/** Whether a session row points at path (absolute). */
rm_status rm_library_is_indexed(rm_library *lib, const char *path,
                                bool *indexed, rm_error *err);
/** The session files in folder that no session row points at: left
 *  behind by a recorder that was killed, a database that was locked or
 *  damaged when they ended, or copied in. Free with rm_library_paths_free. */
rm_status rm_library_unindexed(rm_library *lib, const char *folder,
                               char ***out, size_t *n, rm_error *err);
/** Give a session file that its recorder never closed (killed) the
 *  closing index, after cutting off a torn last block; *was_unclosed says
 *  whether it needed it. Only for files no recorder is writing. */
rm_status rm_library_close_unclosed(const char *path, bool *was_unclosed,
                                    rm_error *err);

/* ------------------------------------------------------------------------ */
/* Session bytes in the database (docs/CLINIC.md, "How the data flows")     */
/* ------------------------------------------------------------------------ */

/** The size of the pieces a session file is stored in. */
#define RM_LIBRARY_CHUNK_BYTES (1024 * 1024)

/** Whether the library keeps session files' bytes (PostgreSQL: every
 *  machine reads them from the server) or only points at the files
 *  (SQLite: the file in the session folder is the data). */
bool rm_library_stores_data(const rm_library *lib);

/** What an upload did. */
typedef struct rm_library_upload {
    char session_id[40];
    uint64_t bytes;          /**< the file's length, all now held */
    size_t chunks_sent;      /**< chunks written by this call */
    size_t chunks_kept;      /**< chunks the database held already */
    bool complete;           /**< the file was closed (has its index) */
} rm_library_upload;

/** Store a session file's bytes in the library, chunk by chunk, each in
 *  its own statement: a chunk the database holds already (same index,
 *  length and CRC-32C) is not sent again, so a second upload of the same
 *  file sends nothing, an interrupted one resumes, and a recording in
 *  progress sends only its new chunks and its grown last one. The
 *  session's length and content checksum are written last. The file is
 *  only read. On a library that does not store data (SQLite) this does
 *  nothing and *out says 0 chunks. out may be NULL. */
rm_status rm_library_upload_session(rm_library *lib, const char *path,
                                    rm_library_upload *out, rm_error *err);

/** How a local session file stands against what the database holds. */
typedef struct rm_library_upload_state {
    char session_id[40];
    uint64_t local_bytes;    /**< the file's length */
    uint64_t stored_bytes;   /**< what the database holds (0 none) */
    bool pending;            /**< the database lacks some of it */
} rm_library_upload_state;

/** Compare a local session file with its stored bytes (length, then the
 *  content checksum). Never pending on a library that does not store
 *  data. */
rm_status rm_library_upload_state_get(rm_library *lib, const char *path,
                                      rm_library_upload_state *out,
                                      rm_error *err);

/** What reading a session's bytes from the database found. */
typedef struct rm_library_fetched {
    uint64_t bytes;          /**< the file's length */
    bool from_cache;         /**< the cached copy was whole and current */
    size_t damaged_chunks;   /**< chunks missing or failing their
                                  checksum: written as zeros */
    char damage[512];        /**< which ("" none): session id, chunk
                                  index and byte offset of each */
} rm_library_fetched;

/** A readable local file of session session_id from its stored bytes:
 *  cache_dir/<session id>.rms (the folder 0700, the file 0600, written
 *  whole through rm_atomic_open), reused while it matches the stored
 *  length and checksum. A chunk that is missing or fails its CRC-32C is
 *  written as zeros and named in out->damage: the session reader skips
 *  the blocks it held and reads the rest, as it does in a damaged file.
 *  RM_ERR_NOT_FOUND when the database holds no bytes of it. */
rm_status rm_library_fetch_session(rm_library *lib, const char *session_id,
                                   const char *cache_dir, char *path,
                                   size_t cap, rm_library_fetched *out,
                                   rm_error *err);

/** The file to read for an indexed session: its own file when this
 *  machine has it, else its bytes from the database through
 *  rm_library_fetch_session (cache_dir NULL: rm_default_cache_dir).
 *  fetched (may be NULL) is zeroed when the local file is used. */
rm_status rm_library_session_file(rm_library *lib,
                                  const rm_library_entry *e,
                                  const char *cache_dir, char *path,
                                  size_t cap, rm_library_fetched *fetched,
                                  rm_error *err);

/* ------------------------------------------------------------------------ */
/* Copying a library (rollmap library copy, docs/CLINIC.md)                 */
/* ------------------------------------------------------------------------ */

/** What a copy did with one session. */
typedef struct rm_library_copied {
    const rm_library_entry *entry;  /**< the source's */
    size_t done, total;             /**< sessions so far, of total */
    bool rows_written;              /**< the target's rows were missing or
                                         differed */
    bool data_written;              /**< bytes uploaded, or a file written */
    char problem[512];              /**< why its bytes could not be copied
                                         ("" none): its row is copied */
} rm_library_copied;

typedef void (*rm_library_copy_fn)(void *user, const rm_library_copied *c);

typedef struct rm_library_copy_totals {
    size_t sessions;       /**< in the source, all looked at */
    size_t rows_written;   /**< sessions whose rows were written */
    size_t data_written;   /**< sessions whose bytes were written */
    size_t data_missing;   /**< sessions whose bytes were nowhere to read */
    size_t names_written;  /**< client display names written */
} rm_library_copy_totals;

/** Copy every session of from into to: its analysis rows, when it was
 *  added and analysed, its notes, tags and file stamp, and its bytes
 *  (into a target that stores them, from the file on this machine or
 *  the source's database; into a target that names files, the file on
 *  this machine, else the bytes fetched from the source as
 *  folder/<session id>.rms); then the client display names. Sessions
 *  are matched by session id: what the target has already as it is, is
 *  not written again, so a second copy writes nothing and one that was
 *  stopped completes. Each session's rows go in one transaction after its
 *  bytes. progress (may be NULL) is called after each session. */
rm_status rm_library_copy(rm_library *from, rm_library *to,
                          const char *folder, rm_library_copy_fn progress,
                          void *user, rm_library_copy_totals *totals,
                          rm_error *err);

/* ------------------------------------------------------------------------ */
/* Damage                                                                   */
/* ------------------------------------------------------------------------ */

/** Check the database's structure: PRAGMA quick_check, or with full
 *  integrity_check (also every index against its table; slower).
 *  RM_ERR_FORMAT names the file and the first problem and says how to
 *  rebuild it. rm_library_open runs the quick check itself on databases
 *  up to 16 MiB, and every connection before its first write: nothing is
 *  ever written into a damaged database. */
rm_status rm_library_verify(rm_library *lib, bool full, rm_error *err);
/** Move a database aside, never deleting it: path becomes
 *  path.damaged-<UTC time> (moved), its -wal and -shm files go with it.
 *  A new database can then be created at path and the session files
 *  added to it again (rollmap library rebuild). */
rm_status rm_library_move_aside(const char *path, char *moved, size_t cap,
                                rm_error *err);

/** Adding sessions from a program that must not wait for the analysis or
 *  the database (rollmapd): a thread with its own connection adds the
 *  files queued to it, in order, and then those a sweep found. */
typedef struct rm_library_indexer rm_library_indexer;

/** Files queued and not yet added, at most. */
#define RM_LIBRARY_INDEXER_QUEUE 64
/** Pause between tries of a file that found the database locked (each
 *  try itself waits up to RM_LIBRARY_BUSY_TIMEOUT_MS for the lock). */
#define RM_LIBRARY_INDEXER_RETRY_MS 2000
/** While a PostgreSQL server does not answer, the pause doubles from
 *  RM_LIBRARY_INDEXER_RETRY_MS up to this (unless
 *  rm_library_indexer_set_max_backoff says otherwise). */
#define RM_LIBRARY_INDEXER_MAX_BACKOFF_MS 60000

/** What the indexer did with one file. */
typedef struct rm_library_indexed {
    const char *path;
    rm_status status;    /**< RM_OK, or why it is not added (err) */
    int64_t id;          /**< the library id when RM_OK */
    const rm_error *err;
    unsigned tries;      /**< tries so far (more than 1: the database was
                              locked or its server unreachable) */
    bool retrying;       /**< locked or unreachable: it will be tried
                              again */
    bool found;          /**< from a sweep: the file had no row */
    bool recovered;      /**< from a sweep: its recorder never closed it,
                              it was given its closing index */
    bool upload_only;    /**< a recording in progress, or a file with a
                              row whose bytes were not all uploaded */
    const rm_library_upload *upload; /**< what was uploaded (a library
                              that stores data, RM_OK); else NULL */
    rm_library_upload uploaded;      /**< where upload points */
} rm_library_indexed;

/** After each try of a file; on the indexer thread. */
typedef void (*rm_library_indexed_fn)(void *user, const rm_library_indexed *r);

/** Open the library at db_path (errors here, on the caller's thread) and
 *  start the thread. report may be NULL. A PostgreSQL server that does not
 *  answer yet is no error: the thread connects when it has a file to add
 *  and keeps the files queued, trying again with a growing pause, until
 *  the server answers. */
rm_status rm_library_indexer_start(rm_library_indexer **out,
                                   const char *db_path,
                                   rm_library_indexed_fn report, void *user,
                                   rm_error *err);
/** Queue a session file (the path is copied); returns at once.
 *  RM_ERR_BUSY when RM_LIBRARY_INDEXER_QUEUE files are waiting. A file
 *  that finds the database locked is tried again until it is added (or
 *  the indexer stops); other failures are reported once. */
rm_status rm_library_indexer_submit(rm_library_indexer *ix, const char *path,
                                    rm_error *err);
/** Queue the upload of a recording in progress (a library that stores
 *  data; otherwise nothing): its new chunks go to the database, it is
 *  not added. The same upload already waiting is not queued twice. */
rm_status rm_library_indexer_submit_upload(rm_library_indexer *ix,
                                           const char *path, rm_error *err);

/** The longest pause between tries while a server does not answer
 *  (milliseconds, at least RM_LIBRARY_INDEXER_RETRY_MS / 2): a clinic
 *  that wants sessions in sooner after an outage, or a test that cuts the
 *  server for seconds rather than a minute, shortens it. */
void rm_library_indexer_set_max_backoff(rm_library_indexer *ix, long max_ms);

/** What the indexer is waiting on, for status displays. */
typedef struct rm_library_indexer_state {
    size_t waiting;     /**< session files queued or being tried, not
                             yet added (or uploaded); a recording's
                             upload gives way to its session's add */
    size_t unchecked;   /**< files of the folder's sweeps not yet looked
                             up in the library: most are usually in it
                             already, so they are not counted as waiting */
    bool uploads;       /**< the library stores data: each waiting file
                             is also uploaded */
    bool retrying;      /**< the current file found the database locked or
                             its server unreachable */
    char problem[512];  /**< why, while retrying ("" otherwise) */
} rm_library_indexer_state;

void rm_library_indexer_state_get(rm_library_indexer *ix,
                                  rm_library_indexer_state *out);
/** List folder's session files now, on the caller's thread (so that files
 *  a recorder creates afterwards are not among them), and have the thread,
 *  when nothing is queued, close those never closed
 *  (rm_library_close_unclosed) and add those without a row. Only for a
 *  folder whose recorder is this program and is not yet recording: a
 *  file already queued when the sweep lists it would be tried, and
 *  counted (in `waiting` and `unchecked`), twice. rollmapd sweeps before its capture starts
 *  and its recorder only creates new files, so none is. */
rm_status rm_library_indexer_sweep(rm_library_indexer *ix, const char *folder,
                                   rm_error *err);
/** Add what is still queued (one try each while stopping; sweep files
 *  not reached are left for the next sweep), stop the thread, close the
 *  library. */
void rm_library_indexer_stop(rm_library_indexer *ix);

/** Called after each session reanalysed (failure NULL) or not (failure
 *  names its file and why), in the order of the list: done of total. */
typedef void (*rm_library_progress_fn)(size_t done, size_t total,
                                       const rm_error *failure, void *user);

/** How rm_library_reanalyse works. */
typedef struct rm_library_reanalyse_options {
    const rm_analysis_config *cfg;   /**< NULL: the default */
    bool force;                      /**< also files changed since they were
                                          indexed */
    unsigned jobs;                   /**< sessions analysed at once, each on
                                          its own thread; 0: one per online
                                          CPU; 1: one after the other on the
                                          caller's thread */
    rm_library_progress_fn progress; /**< NULL: none */
    void *user;                      /**< for progress */
} rm_library_reanalyse_options;

/** Everything off, one job per online CPU. */
void rm_library_reanalyse_options_default(rm_library_reanalyse_options *o);

/** Re-run the analysis for the matching sessions from their files and
 *  replace their rows. Worker threads only read files and analyse; the
 *  calling thread alone uses lib and stores the results, in the order of
 *  the list, so the rows are the same whatever opt->jobs. A missing or
 *  unreadable file stops nothing: it is counted in *failed (may be NULL)
 *  and the first error is kept in err while the others go on; a database
 *  that is locked or full stops the run. A file that changed since it was
 *  indexed (rm_library_check: size, or content where the mtime moved) is
 *  left alone unless opt->force: its rows may hold the analysis of a good
 *  file that was since damaged or cut short. It counts in *failed with an
 *  RM_ERR_ARG error naming it. opt NULL: the defaults. */
rm_status rm_library_reanalyse(rm_library *lib, const rm_library_filter *f,
                               const rm_library_reanalyse_options *opt,
                               size_t *done, size_t *failed, rm_error *err);

/* ------------------------------------------------------------------------ */
/* Exports: EDF+ and researcher folders (docs/LIBRARY.md, "Exports")        */
/* ------------------------------------------------------------------------ */

/** What rm_export_edf wrote. */
typedef struct rm_edf_summary {
    unsigned signals;          /**< data signals: channels, total, position */
    uint32_t rate_hz;          /**< samples per second of every signal */
    uint64_t records;          /**< data records of 1 s written */
    size_t annotations;        /**< dwells, marks, tender spots and gaps */
    uint64_t held_samples;     /**< grid samples with no sample of their
                                    own (gaps), held at the last value */
    bool discontinuous;        /**< EDF+D: records inside gaps left out */
} rm_edf_summary;

/** How rm_export_edf treats data records wholly inside a gap. */
typedef enum rm_edf_flags {
    RM_EDF_DEFAULT = 0,        /**< left out: EDF+D where any is */
    RM_EDF_CONTIGUOUS = 1 << 0 /**< written, held flat: always EDF+C, for
                                    readers without EDF+D (EDFbrowser) */
} rm_edf_flags;

/** Write session s as EDF+ (16-bit) at path: one signal per channel in
 *  newtons, the total force and, with an encoder, the position along the
 *  leg in cm; a (s's analysis) gives the dwell, mark and tender-spot
 *  annotations, the session's gaps "gap" annotations. Data records of 1 s
 *  wholly inside a gap are left out and the file is EDF+D (each record's
 *  time-keeping TAL gives its true onset); where none is, or with
 *  RM_EDF_CONTIGUOUS in flags, EDF+C. Places without a sample in a
 *  written record hold the last value. The file is written beside path
 *  and renamed over it when complete (mode 0600). summary may be NULL. */
rm_status rm_export_edf(rm_session *s, const rm_analysis *a, const char *path,
                        unsigned flags, rm_edf_summary *summary,
                        rm_error *err);

/** One session of a researcher folder export. */
typedef struct rm_folder_session {
    const char *path;          /**< the session file */
    const char *display_name;  /**< the client's name, NULL none */
    const char *notes;         /**< notes to write instead of the file's,
                                    NULL: the file's own */
} rm_folder_session;

/** What rm_export_folder wrote. */
typedef struct rm_folder_summary {
    size_t sessions;           /**< session folders written */
    size_t participants;       /**< rows in participants.tsv */
    size_t skipped;            /**< sessions left out (see rm_export_folder) */
} rm_folder_summary;

/** Called for each session left out of a folder export, with why. */
typedef void (*rm_folder_skipped_fn)(void *user, const char *path,
                                     const rm_error *why);

/** Write sessions into dir in a BIDS-like layout: dir/participants.tsv
 *  (+ .json), and per session dir/sub-<code>/ses-<date>/
 *  sub-<code>_ses-<date>_task-<muscle>_acq-<side>_run-<n>_force.csv with a
 *  JSON sidecar (metadata, units, analysis summary). Rows of other
 *  participants already in participants.tsv are kept. With redact, display
 *  names and notes are left out. cfg NULL: the default analysis.
 *  A session whose file is missing, unreadable or cannot be analysed is
 *  left out, reported to skipped (may be NULL) and counted in
 *  summary->skipped; the others are still written (RM_OK). When none can
 *  be written, or on a refusal (two client codes sharing a label) or a
 *  failed write, the result is an error. summary may be NULL. */
rm_status rm_export_folder(const char *dir, const rm_folder_session *sessions,
                           size_t count, bool redact,
                           const rm_analysis_config *cfg,
                           rm_folder_skipped_fn skipped, void *user,
                           rm_folder_summary *summary, rm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_LIBRARY_H */
