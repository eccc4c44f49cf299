/*
 * Private to library/: the connection, the schema and the tables that map
 * analysis structs to database columns.
 */
#ifndef ROLLMAP_LIBRARY_INTERNAL_H
#define ROLLMAP_LIBRARY_INTERNAL_H

#include "rollmap_library.h"

#include <limits.h>

/* ---- backends ----------------------------------------------------------- */

/* A statement of either backend; each backend's own statement struct
 * starts with this. Values bound or read are those of a SQLite statement:
 * 64-bit integers, doubles, text, blobs and NULL; parameters are written
 * "?" or "?N" in every backend's SQL. */
typedef struct library_stmt {
    rm_library *lib;
    /* Its rows may come in the backend's binary form (PostgreSQL: bytea
     * as its bytes, not hex text); library_prepare_binary sets it. */
    bool binary_rows;
} library_stmt;

/* What step and prepare return. */
enum { LIBRARY_FAIL = -1, LIBRARY_DONE = 0, LIBRARY_ROW = 1 };

/* Why the last call failed, for library_sql_error. */
typedef enum library_fail_kind {
    LIBRARY_FAIL_OTHER,
    LIBRARY_FAIL_BUSY,        /* a lock held by another process or session */
    LIBRARY_FAIL_DAMAGED,     /* the database is damaged or not a database */
    LIBRARY_FAIL_FULL,        /* no space */
    LIBRARY_FAIL_IO,          /* cannot open, read or write; server gone */
} library_fail_kind;

/* The table of operations of one storage backend (db_sqlite.c,
 * db_postgresql.c). */
typedef struct library_backend {
    const char *name;
    /* Session files' bytes are kept in the database (session_data.c). */
    bool stores_data;
    /* Connect to target (a file path, or a connection string) and set
     * lib->conn and lib->path (the name shown in messages: never a
     * password). */
    rm_status (*open)(rm_library *lib, const char *target, rm_error *err);
    void (*close)(rm_library *lib);
    /* Run statements that return no rows; LIBRARY_DONE or LIBRARY_FAIL. */
    int (*exec)(rm_library *lib, const char *sql);
    int (*prepare)(rm_library *lib, const char *sql, library_stmt **out);
    void (*bind_int64)(library_stmt *s, int index, int64_t v);
    void (*bind_double)(library_stmt *s, int index, double v);
    void (*bind_text)(library_stmt *s, int index, const char *v);
    void (*bind_blob)(library_stmt *s, int index, const void *v, size_t n);
    void (*bind_null)(library_stmt *s, int index);
    int (*step)(library_stmt *s);
    /* Ready to step again from the start; the bindings stay. */
    void (*reset)(library_stmt *s);
    void (*finalize)(library_stmt *s);
    bool (*column_null)(library_stmt *s, int col);
    int64_t (*column_int64)(library_stmt *s, int col);
    double (*column_double)(library_stmt *s, int col);
    /* NULL for NULL; valid until the next step */
    const char *(*column_text)(library_stmt *s, int col);
    const void *(*column_blob)(library_stmt *s, int col, size_t *n);
    /* Structural check of the database (RM_OK: sound). */
    rm_status (*verify)(rm_library *lib, bool full, rm_error *err);
    bool (*in_transaction)(rm_library *lib);
    /* SQL that starts a transaction whose reads see one snapshot */
    const char *begin_read_sql;
    /* SQL that starts a write transaction holding the write lock, and one
     * that serialises schema migrations. */
    const char *begin_write_sql;
    const char *begin_migration_sql;
    int (*schema_version)(rm_library *lib, int *version);
    int (*set_schema_version)(rm_library *lib, int version);
    /* Run one migration step written in SQLite's dialect. */
    int (*migrate_step)(rm_library *lib, const char *sql);
} library_backend;

extern const library_backend library_sqlite_backend;
extern const library_backend library_postgresql_backend;

struct rm_library {
    const library_backend *ops;
    void *conn;      /* the backend's connection */
    char *path;      /* what messages name: the file, or the server without
                        its password */
    bool verified;   /* the structural check passed on this connection */
    library_fail_kind fail;
    char fail_detail[512];
};

/** Remember why a call failed (backends). */
void library_fail_set(rm_library *lib, library_fail_kind kind,
                      const char *detail);

/* Statement calls through the backend's table. */
static inline void library_bind_int64(library_stmt *s, int i, int64_t v)
{ s->lib->ops->bind_int64(s, i, v); }
static inline void library_bind_double(library_stmt *s, int i, double v)
{ s->lib->ops->bind_double(s, i, v); }
static inline void library_bind_text(library_stmt *s, int i, const char *v)
{ s->lib->ops->bind_text(s, i, v); }
static inline void library_bind_blob(library_stmt *s, int i, const void *v,
                                     size_t n)
{ s->lib->ops->bind_blob(s, i, v, n); }
static inline void library_bind_null(library_stmt *s, int i)
{ s->lib->ops->bind_null(s, i); }
static inline int library_step(library_stmt *s)
{ return s->lib->ops->step(s); }
static inline void library_reset(library_stmt *s)
{ s->lib->ops->reset(s); }
static inline void library_finalize(library_stmt *s)
{ if (s) s->lib->ops->finalize(s); }
static inline bool library_column_null(library_stmt *s, int c)
{ return s->lib->ops->column_null(s, c); }
static inline int64_t library_column_int64(library_stmt *s, int c)
{ return s->lib->ops->column_int64(s, c); }
static inline double library_column_double(library_stmt *s, int c)
{ return s->lib->ops->column_double(s, c); }
static inline const char *library_column_text(library_stmt *s, int c)
{ return s->lib->ops->column_text(s, c); }
static inline const void *library_column_blob(library_stmt *s, int c,
                                              size_t *n)
{ return s->lib->ops->column_blob(s, c, n); }

/* ---- schema.c ----------------------------------------------------------- */

/** Bring the schema from its stored version up to target (at most
 *  RM_LIBRARY_SCHEMA_VERSION) in one transaction. */
rm_status library_migrate(rm_library *lib, int target, rm_error *err);
/** rm_library_open with the schema brought only up to version: tests make
 *  a database of an older release with it. */
rm_status library_open_at(rm_library **out, const char *target, int version,
                          rm_error *err);

/** Turn the last failure into an rm_error naming the database: a lock is
 *  RM_ERR_BUSY ("... is locked by another process"), damage
 *  RM_ERR_FORMAT, a full disk RM_ERR_NO_SPACE. */
rm_status library_sql_error(rm_library *lib, const char *doing,
                            rm_error *err);
/** The error for a damaged database: names the file and what is wrong,
 *  and how to rebuild it from the session files. */
rm_status library_damaged(const char *path, const char *detail,
                          const char *doing, rm_error *err);
/** The backend's structural check; sets lib->verified when it passes. */
rm_status library_verify(rm_library *lib, bool full, rm_error *err);
/** Start a transaction whose reads see one snapshot; end it with
 *  library_rollback. */
rm_status library_begin_read(rm_library *lib, rm_error *err);
/** library_prepare of a statement whose rows carry session bytes: read
 *  in the backend's binary form where it has one. Its columns may be
 *  integers read with column_int64, and text and blobs read as such. */
rm_status library_prepare_binary(rm_library *lib, const char *sql,
                                 library_stmt **stmt, rm_error *err);
rm_status library_prepare(rm_library *lib, const char *sql,
                          library_stmt **stmt, rm_error *err);
/** Step a statement that returns no rows; finalizes it. */
rm_status library_step_done(rm_library *lib, library_stmt *stmt,
                            const char *doing, rm_error *err);
/** Start a write transaction holding the write lock (waiting up to the
 *  busy timeout), after the structural check if this connection has not
 *  passed one: nothing is written into a damaged database; COMMIT;
 *  ROLLBACK that keeps the first error. */
rm_status library_begin_write(rm_library *lib, rm_error *err);
rm_status library_commit(rm_library *lib, rm_error *err);
void library_rollback(rm_library *lib);

/* ---- fields.c ----------------------------------------------------------- */

typedef enum library_field_type {
    FIELD_DOUBLE,   /**< double; NaN is stored as NULL */
    FIELD_SIZE,     /**< size_t */
    FIELD_U64,      /**< uint64_t */
    FIELD_U32,      /**< uint32_t */
    FIELD_U8,       /**< uint8_t */
    FIELD_INT,      /**< int */
    FIELD_BOOL      /**< bool */
} library_field_type;

/** One column and where its value lives in a struct. */
typedef struct library_field {
    const char *column;
    library_field_type type;
    size_t offset;
} library_field;

/** A list of fields of one struct. */
typedef struct library_fields {
    const library_field *fields;
    size_t count;
} library_fields;

/** Rows of one detail table (dwells, spots, marks, profile): the fields of
 *  one array element and the element size. */
typedef struct library_table {
    const char *name;
    library_fields fields;
    size_t stride;
} library_table;

extern const library_fields library_summary_fields;  /* rm_summary */
extern const library_fields library_quality_fields;  /* rm_quality */
extern const library_fields library_config_fields;   /* rm_analysis_config */
extern const library_table library_dwell_table;      /* rm_dwell */
extern const library_table library_spot_table;       /* rm_spot */
extern const library_table library_mark_table;       /* rm_mark */
extern const library_table library_profile_table;    /* rm_profile_bin */

/** Append ", col, col..." (each column with prefix, e.g. "excluded.") to
 *  buf. false when it does not fit. */
bool library_fields_columns(const library_fields *f, const char *prefix,
                            char *buf, size_t cap);
/** Bind the fields of base to parameters first, first+1, ...; returns the
 *  next parameter index. */
int library_fields_bind(library_stmt *stmt, int first, const library_fields *f,
                        const void *base);
/** Read the fields of base from columns first, first+1, ...; returns the
 *  next column index. NULL reads as NaN (doubles) or 0. */
int library_fields_read(library_stmt *stmt, int first, const library_fields *f,
                        void *base);

/* ---- files.c ------------------------------------------------------------ */

/** Size, mtime and (when wanted) content checksum of a session file. */
typedef struct library_file_stamp {
    uint64_t size;
    int64_t mtime_ns;
    uint32_t crc32c;
    char damage[160];  /* what the reader could not read; "" none */
} library_file_stamp;

rm_status library_file_stat(const char *path, library_file_stamp *st,
                            rm_error *err);
rm_status library_file_crc(const char *path, uint32_t *crc, rm_error *err);

/** Fill st->damage from what the reader found wrong with the file. */
void library_describe_damage(const rm_integrity *in, library_file_stamp *st);

/* ---- check.c ------------------------------------------------------------ */

/** Compare a session's file with what was indexed (size, and content where
 *  the mtime moved or with hash): item gets the state and detail. */
void library_check_entry(const rm_library_entry *e, bool hash,
                         rm_library_check_item *item);

/** Open the file of an indexed session; RM_ERR_FORMAT naming the file when
 *  it now holds another session. */
rm_status library_open_indexed(const rm_library_entry *e, rm_session **out,
                               rm_error *err);

/* ---- library.c ---------------------------------------------------------- */

/** Store an analysis as the rows of its session in one transaction: the
 *  session row is inserted or updated in place (its id, tags and notes
 *  stay) and its detail rows replaced; with tags_from, the tags its tag
 *  notes carry are set too. The benchmark fills libraries with it without
 *  session files. */
rm_status library_store_analysis(rm_library *lib, const rm_analysis *a,
                                 const char *path,
                                 const library_file_stamp *stamp,
                                 const rm_session *tags_from, int64_t *id,
                                 rm_error *err);
/** library_store_analysis for a copy: the rows of entry e of another
 *  library (its analysis a, when it was added and analysed, its notes and
 *  tags) as the session at path, in one transaction. */
rm_status library_store_entry(rm_library *lib, const rm_analysis *a,
                              const rm_library_entry *e, const char *path,
                              const library_file_stamp *stamp, int64_t *id,
                              rm_error *err);
/** Index one session file: an unchanged file is left alone. */
rm_status library_index_file(rm_library *lib, const char *session_path,
                             const rm_analysis_config *cfg, int64_t *id,
                             rm_library_add_outcome *outcome, rm_error *err);

/** A session file analysed without the database (reanalyse's workers),
 *  waiting for the thread that owns the library to store it. */
typedef struct library_analysed {
    rm_session *session;    /* open; a session the library no longer has
                               takes its file's tags when stored */
    char path[PATH_MAX];    /* absolute */
    library_file_stamp stamp;
    rm_analysis *analysis;
} library_analysed;

/** Analyse out->session, opened from session_path, touching no database:
 *  fills the rest of out. */
rm_status library_analyse_opened(library_analysed *out,
                                 const char *session_path,
                                 const rm_analysis_config *cfg, rm_error *err);
/** Replace the session's rows with the analysis (in one transaction). */
rm_status library_store_analysed(rm_library *lib, const library_analysed *in,
                                 int64_t *id, rm_error *err);
/** Close the session and free the analysis; in may be reused. */
void library_analysed_free(library_analysed *in);

/* ---- session_data.c ----------------------------------------------------- */

/** rm_library_upload_session in chunks of chunk_bytes, on any backend
 *  (tests use small chunks, and SQLite). */
rm_status library_upload_file(rm_library *lib, const char *path,
                              size_t chunk_bytes, rm_library_upload *out,
                              rm_error *err);

/** rm_library_upload_state_get; with quick, a closed file as long as
 *  its stored closed content is taken to be the same without reading it
 *  (session files only grow: every change appends a record), so that a
 *  sweep of years of sessions reads none of them. */
rm_status library_upload_state(rm_library *lib, const char *path, bool quick,
                               rm_library_upload_state *out, rm_error *err);
/** What the database holds of a session's file: its length (0: none)
 *  and the CRC-32C of those bytes. */
typedef struct library_stored_file {
    uint64_t length;
    uint32_t crc32c;
} library_stored_file;
rm_status library_stored_file_get(rm_library *lib, const char *session_id,
                                  library_stored_file *out, rm_error *err);
/** Write again, from the session file at path (which must hold
 *  session_id), every chunk that the database holds otherwise (missing,
 *  failing its checksum, other bytes: each stored chunk is read and
 *  compared), then the length and checksum where they differ. For a
 *  stored copy found damaged; only the file is trusted. */
rm_status library_rewrite_stored(rm_library *lib, const char *path,
                                 const char *session_id,
                                 rm_library_upload *out, rm_error *err);
/** Whether cache_dir holds a copy of the session that matches the stored
 *  length and checksum (*found), and its path. */
rm_status library_cached_copy(rm_library *lib, const char *session_id,
                              const char *cache_dir, char *path, size_t cap,
                              bool *found, rm_error *err);
/** Read the stored bytes of a session: every chunk against its CRC-32C,
 *  then, when all are sound, the whole content against its own. What
 *  fails is named in out->damage (damaged_chunks counts the chunks); out
 *  stays zero when nothing is stored. */
rm_status library_check_stored(rm_library *lib, const char *session_id,
                               rm_library_fetched *out, rm_error *err);
/** Remove the stored bytes of a session (inside the caller's
 *  transaction). */
rm_status library_drop_data(rm_library *lib, const char *session_id,
                            rm_error *err);

/* ---- tags.c ------------------------------------------------------------- */

/** Set the tags that the session file's tag notes carry (in file order). */
rm_status library_store_file_tags(rm_library *lib, int64_t id,
                                  const rm_session *s, rm_error *err);

#endif /* ROLLMAP_LIBRARY_INTERNAL_H */
