/*
 * Private to library/: the connection, the schema and the tables that map
 * analysis structs to database columns.
 */
#ifndef ROLLMAP_LIBRARY_INTERNAL_H
#define ROLLMAP_LIBRARY_INTERNAL_H

#include "rollmap_library.h"

#include <sqlite3.h>

struct rm_library {
    sqlite3 *db;
    char *path;
    bool verified;   /* PRAGMA quick_check passed on this connection */
};

/* ---- schema.c ----------------------------------------------------------- */

/** Bring the schema from its PRAGMA user_version up to target (at most
 *  RM_LIBRARY_SCHEMA_VERSION) in one transaction. Tests call it with an
 *  older target to make an old database. */
rm_status library_migrate(sqlite3 *db, const char *path, int target,
                          rm_error *err);

/** Turn an SQLite failure into an rm_error naming the database file:
 *  SQLITE_BUSY is RM_ERR_BUSY ("... is locked by another process"),
 *  SQLITE_CORRUPT/NOTADB RM_ERR_FORMAT, SQLITE_FULL RM_ERR_NO_SPACE. */
rm_status library_sql_error(sqlite3 *db, const char *path, int rc,
                            const char *doing, rm_error *err);
/** The error for a damaged database: names the file and what is wrong,
 *  and how to rebuild it from the session files. */
rm_status library_damaged(const char *path, const char *detail,
                          const char *doing, rm_error *err);
/** PRAGMA quick_check (integrity_check with full): RM_OK when it says
 *  "ok", else library_damaged with its first finding. */
rm_status library_verify(rm_library *lib, bool full, rm_error *err);
/** BEGIN (deferred): the reads that follow see one snapshot; end it with
 *  library_rollback. */
rm_status library_begin_read(rm_library *lib, rm_error *err);
rm_status library_prepare(rm_library *lib, const char *sql,
                          sqlite3_stmt **stmt, rm_error *err);
/** Step a statement that returns no rows; finalizes it. */
rm_status library_step_done(rm_library *lib, sqlite3_stmt *stmt,
                            const char *doing, rm_error *err);
/** BEGIN IMMEDIATE (take the write lock now, waiting up to the busy
 *  timeout), after a quick_check if this connection has not passed one:
 *  nothing is written into a damaged database; COMMIT; ROLLBACK that
 *  keeps the first error. */
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
int library_fields_bind(sqlite3_stmt *stmt, int first, const library_fields *f,
                        const void *base);
/** Read the fields of base from columns first, first+1, ...; returns the
 *  next column index. NULL reads as NaN (doubles) or 0. */
int library_fields_read(sqlite3_stmt *stmt, int first, const library_fields *f,
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
/** Index one session file: unchanged files are left alone unless force
 *  (reanalyse), which analyses and replaces the rows regardless. */
rm_status library_index_file(rm_library *lib, const char *session_path,
                             const rm_analysis_config *cfg, bool force,
                             int64_t *id, rm_library_add_outcome *outcome,
                             rm_error *err);

/* ---- tags.c ------------------------------------------------------------- */

/** Set the tags that the session file's tag notes carry (in file order). */
rm_status library_store_file_tags(rm_library *lib, int64_t id,
                                  const rm_session *s, rm_error *err);

#endif /* ROLLMAP_LIBRARY_INTERNAL_H */
