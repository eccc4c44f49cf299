/* The SQLite backend: one database file, its folder and file permissions,
 * WAL, the busy timeout and PRAGMA user_version as the schema version. */
#include "library_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sqlite_stmt {
    library_stmt base;
    sqlite3_stmt *stmt;
} sqlite_stmt;

static sqlite3 *db_of(const rm_library *lib)
{
    return lib->conn;
}

static sqlite3_stmt *raw(library_stmt *s)
{
    return ((sqlite_stmt *)s)->stmt;
}

/* The first finding of PRAGMA quick_check, to say which page is damaged. */
static void quick_check_detail(sqlite3 *db, char *out, size_t cap)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &stmt, NULL) !=
        SQLITE_OK)
        return;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "; %s",
                 (const char *)sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
}

static library_fail_kind kind_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return LIBRARY_FAIL_BUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return LIBRARY_FAIL_DAMAGED;
    case SQLITE_FULL: return LIBRARY_FAIL_FULL;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM: return LIBRARY_FAIL_IO;
    default: return LIBRARY_FAIL_OTHER;
    }
}

/* Remember a failed call's result code; returns LIBRARY_FAIL. */
static int note(rm_library *lib, int rc)
{
    sqlite3 *db = db_of(lib);
    char detail[sizeof lib->fail_detail];
    snprintf(detail, sizeof detail, "%s",
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if ((rc & 0xff) == SQLITE_CORRUPT && db)
        quick_check_detail(db, detail, sizeof detail);
    library_fail_set(lib, kind_of(rc), detail);
    return LIBRARY_FAIL;
}

static int sqlite_exec(rm_library *lib, const char *sql)
{
    int rc = sqlite3_exec(db_of(lib), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? LIBRARY_DONE : note(lib, rc);
}

static int sqlite_prepare(rm_library *lib, const char *sql,
                          library_stmt **out)
{
    sqlite_stmt *s = calloc(1, sizeof *s);
    if (!s) {
        library_fail_set(lib, LIBRARY_FAIL_OTHER, "out of memory");
        return LIBRARY_FAIL;
    }
    s->base.lib = lib;
    int rc = sqlite3_prepare_v2(db_of(lib), sql, -1, &s->stmt, NULL);
    if (rc != SQLITE_OK) {
        free(s);
        return note(lib, rc);
    }
    *out = &s->base;
    return LIBRARY_DONE;
}

static void sqlite_bind_int64(library_stmt *s, int i, int64_t v)
{
    sqlite3_bind_int64(raw(s), i, v);
}

static void sqlite_bind_double(library_stmt *s, int i, double v)
{
    sqlite3_bind_double(raw(s), i, v);
}

static void sqlite_bind_text(library_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(raw(s), i, v, -1, SQLITE_TRANSIENT);
}

static void sqlite_bind_blob(library_stmt *s, int i, const void *v, size_t n)
{
    sqlite3_bind_blob64(raw(s), i, v, n, SQLITE_TRANSIENT);
}

static void sqlite_bind_null(library_stmt *s, int i)
{
    sqlite3_bind_null(raw(s), i);
}

static int sqlite_step(library_stmt *s)
{
    int rc = sqlite3_step(raw(s));
    if (rc == SQLITE_ROW)
        return LIBRARY_ROW;
    if (rc == SQLITE_DONE)
        return LIBRARY_DONE;
    return note(s->lib, rc);
}

static void sqlite_reset(library_stmt *s)
{
    sqlite3_reset(raw(s));
}

static void sqlite_finalize(library_stmt *s)
{
    sqlite3_finalize(raw(s));
    free(s);
}

static bool sqlite_column_null(library_stmt *s, int c)
{
    return sqlite3_column_type(raw(s), c) == SQLITE_NULL;
}

static int64_t sqlite_column_int64(library_stmt *s, int c)
{
    return sqlite3_column_int64(raw(s), c);
}

static double sqlite_column_double(library_stmt *s, int c)
{
    return sqlite3_column_double(raw(s), c);
}

static const char *sqlite_column_text(library_stmt *s, int c)
{
    return (const char *)sqlite3_column_text(raw(s), c);
}

static const void *sqlite_column_blob(library_stmt *s, int c, size_t *n)
{
    const void *p = sqlite3_column_blob(raw(s), c);
    *n = (size_t)sqlite3_column_bytes(raw(s), c);
    return p;
}

static rm_status sqlite_verify(rm_library *lib, bool full, rm_error *err)
{
    const char *doing = full ? "checking the whole database"
                             : "checking the database";
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db_of(lib), full ? "PRAGMA integrity_check(1)"
                                                 : "PRAGMA quick_check(1)",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        note(lib, rc);
        return library_sql_error(lib, doing, err);
    }
    char first[200] = "";
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        snprintf(first, sizeof first, "%s",
                 (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW) {
        note(lib, rc);
        return library_sql_error(lib, doing, err);
    }
    if (strcmp(first, "ok")) {
        /* one line: "*** in database main *** Page 14: ..." */
        library_fail_set(lib, LIBRARY_FAIL_DAMAGED, first);
        return library_damaged(lib->path, lib->fail_detail, doing, err);
    }
    return RM_OK;
}

static bool sqlite_in_transaction(rm_library *lib)
{
    return !sqlite3_get_autocommit(db_of(lib));
}

static int sqlite_schema_version(rm_library *lib, int *version)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db_of(lib), "PRAGMA user_version", -1, &stmt,
                                NULL);
    if (rc != SQLITE_OK)
        return note(lib, rc);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? LIBRARY_DONE : note(lib, rc);
}

static int sqlite_set_schema_version(rm_library *lib, int version)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
    return sqlite_exec(lib, sql);
}

/* Create the file 0600 before SQLite does (it would use the umask); its
 * -wal and -shm files take the database file's mode. */
static rm_status create_private_file(const char *path, rm_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    close(fd);
    return RM_OK;
}

/* Memory for reading large libraries: listing 10,000 sessions walks the
 * index and the rows of a 50 MB database; SQLite's default cache (2 MB)
 * rereads pages. Negative cache_size is in KiB. */
#define LIBRARY_CACHE_KIB "-32768"
#define LIBRARY_MMAP_BYTES "268435456"

/* Databases up to this size (about 3,000 sessions) are checked (PRAGMA
 * quick_check) on every open, so that reading commands notice damage too:
 * it reads every page, about 25 ms of CPU for 16 MiB (docs/PERFORMANCE.md).
 * Larger ones are checked before their first write. */
#define QUICK_CHECK_ON_OPEN_BYTES (16 * 1024 * 1024)

static bool cheap_to_check(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_size <= QUICK_CHECK_ON_OPEN_BYTES;
}

static rm_status configure(rm_library *lib, rm_error *err)
{
    sqlite3_busy_timeout(db_of(lib), RM_LIBRARY_BUSY_TIMEOUT_MS);
    /* before anything that may write (switching to WAL writes the header) */
    if (cheap_to_check(lib->path)) {
        rm_status st = library_verify(lib, false, err);
        if (st != RM_OK)
            return st;
    }
    if (sqlite_exec(lib, "PRAGMA journal_mode = WAL") != LIBRARY_DONE ||
        sqlite_exec(lib, "PRAGMA foreign_keys = ON; "
                         "PRAGMA synchronous = NORMAL; "
                         "PRAGMA cache_size = " LIBRARY_CACHE_KIB "; "
                         "PRAGMA mmap_size = " LIBRARY_MMAP_BYTES) !=
            LIBRARY_DONE)
        return library_sql_error(lib, "opening", err);
    return RM_OK;
}

static rm_status sqlite_open(rm_library *lib, const char *path, rm_error *err)
{
    /* missing folders 0700: session data is health data */
    rm_status st = rm_make_parent_dirs(path, 0700, err);
    if (st == RM_OK)
        st = create_private_file(path, err);
    if (st != RM_OK)
        return st;
    if (!(lib->path = strdup(path)))
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    lib->conn = db;
    if (rc != SQLITE_OK) {
        note(lib, rc);
        return library_sql_error(lib, "opening", err);
    }
    return configure(lib, err);
}

static void sqlite_close(rm_library *lib)
{
    sqlite3_close(db_of(lib));
    lib->conn = NULL;
}

const library_backend library_sqlite_backend = {
    .name = "sqlite",
    .stores_data = false,
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .prepare = sqlite_prepare,
    .bind_int64 = sqlite_bind_int64,
    .bind_double = sqlite_bind_double,
    .bind_text = sqlite_bind_text,
    .bind_blob = sqlite_bind_blob,
    .bind_null = sqlite_bind_null,
    .step = sqlite_step,
    .reset = sqlite_reset,
    .finalize = sqlite_finalize,
    .column_null = sqlite_column_null,
    .column_int64 = sqlite_column_int64,
    .column_double = sqlite_column_double,
    .column_text = sqlite_column_text,
    .column_blob = sqlite_column_blob,
    .verify = sqlite_verify,
    .in_transaction = sqlite_in_transaction,
    .begin_read_sql = "BEGIN",
    .begin_write_sql = "BEGIN IMMEDIATE",
    .begin_migration_sql = "BEGIN IMMEDIATE",
    .schema_version = sqlite_schema_version,
    .set_schema_version = sqlite_set_schema_version,
    .migrate_step = sqlite_exec,
};
