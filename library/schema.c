/* Opening the database: folder and file permissions, WAL, busy timeout,
 * and the schema with its migrations (PRAGMA user_version). */
#include "library_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each step takes the schema from version i to i+1; steps never change
 * once released, a new version appends one. */
static const char *const migrations[RM_LIBRARY_SCHEMA_VERSION] = {
    /* 1: sessions and their analysis rows. */
    "CREATE TABLE sessions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " session_id TEXT NOT NULL UNIQUE, path TEXT NOT NULL,"
    " client TEXT NOT NULL, side INTEGER NOT NULL, muscle TEXT NOT NULL,"
    " start_us INTEGER NOT NULL, notes TEXT NOT NULL DEFAULT '',"
    " device_model TEXT, device_serial TEXT, device_firmware TEXT,"
    " device_kind INTEGER, sample_rate_hz INTEGER, channel_count INTEGER,"
    " has_position INTEGER, has_pressure INTEGER,"
    " file_size INTEGER, file_mtime_ns INTEGER, file_crc32c INTEGER,"
    " added_us INTEGER, analysed_us INTEGER,"
    " dwell_count INTEGER, spot_count INTEGER, mark_count INTEGER,"
    " spot_score_total REAL, spot_score_max REAL,"
    " duration_s REAL, rolled_length_cm REAL, time_under_load_s REAL,"
    " mean_force_n REAL, peak_force_n REAL, mean_pressure_kpa REAL,"
    " peak_pressure_kpa REAL, strokes INTEGER, cadence_per_min REAL,"
    " mean_speed_cm_s REAL, time_too_fast_s REAL, vibration_hz REAL,"
    " q_gaps INTEGER, q_gap_s REAL, q_lost_samples INTEGER,"
    " q_crc_errors INTEGER, q_saturation_pct REAL,"
    " q_calibration_age_days REAL, q_calibration_stale INTEGER,"
    " q_mains_hum_removed INTEGER, q_mains_hz REAL, q_blocks_skipped INTEGER,"
    " cfg_analysis_rate_hz REAL, cfg_load_threshold_n REAL,"
    " cfg_dwell_radius_cm REAL, cfg_dwell_min_s REAL, cfg_target_hold_s REAL,"
    " cfg_target_speed_cm_s REAL, cfg_tremor_lo_hz REAL,"
    " cfg_tremor_hi_hz REAL, cfg_mains_hz REAL, cfg_profile_bin_cm REAL,"
    " cfg_spot_min_score REAL, cfg_spot_merge_cm REAL,"
    " cfg_fsr_creep_pct REAL, cfg_calibration_max_days REAL);"
    "CREATE TABLE dwells ("
    " session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, start_s REAL, end_s REAL, duration_s REAL,"
    " position_cm REAL, position_pct REAL, ml REAL, side INTEGER,"
    " mean_force_n REAL, peak_force_n REAL, mean_pressure_kpa REAL,"
    " peak_pressure_kpa REAL, pressure_time_kpa_s REAL,"
    " force_stability REAL, tremor_power REAL, marks INTEGER,"
    " PRIMARY KEY (session, idx)) WITHOUT ROWID;"
    "CREATE TABLE spots ("
    " session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, position_cm REAL, position_pct REAL, ml REAL,"
    " side INTEGER, score REAL, confidence REAL, ev_dwell_s REAL,"
    " ev_slowing REAL, ev_unloading REAL, ev_tremor REAL, ev_marks INTEGER,"
    " ev_mark_rating REAL, threshold_force_n REAL,"
    " threshold_pressure_kpa REAL,"
    " PRIMARY KEY (session, idx)) WITHOUT ROWID;"
    "CREATE TABLE marks ("
    " session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, t_s REAL, position_cm REAL, force_n REAL,"
    " pressure_kpa REAL, rating INTEGER, spot INTEGER,"
    " PRIMARY KEY (session, idx)) WITHOUT ROWID;"
    "CREATE TABLE profile ("
    " session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, position_cm REAL, time_s REAL,"
    " mean_force_n REAL, peak_force_n REAL, mean_pressure_kpa REAL,"
    " tenderness REAL, medial_force_n REAL, lateral_force_n REAL,"
    " tremor REAL, PRIMARY KEY (session, idx)) WITHOUT ROWID;"
    "CREATE TABLE tags ("
    " session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (session, key)) WITHOUT ROWID;",
    /* 2: client display names (kept only here, never in file names) and
     * the indexes that keep list fast on large libraries. */
    "CREATE TABLE clients ("
    " code TEXT PRIMARY KEY, display_name TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX sessions_by_client ON sessions(client, start_us);"
    "CREATE INDEX sessions_by_start ON sessions(start_us);",
    /* 3: what the reader could not read of a session's file when it was
     * analysed ('' whole). */
    "ALTER TABLE sessions ADD COLUMN damage TEXT NOT NULL DEFAULT '';",
    /* 4: what compare needs to judge change and coverage: a spot's
     * strength (the score without its ceiling), its standard error from
     * the passes, the side's confidence, and the passes over each profile
     * bin; the figures of the spectra (tremor during holds, cadence from
     * the position). Rows analysed before stay NULL (unknown) until
     * reanalysed. */
    "ALTER TABLE sessions ADD COLUMN spectral_cadence_per_min REAL;"
    "ALTER TABLE sessions ADD COLUMN hold_tremor_hz REAL;"
    "ALTER TABLE sessions ADD COLUMN hold_tremor_power_n2 REAL;"
    "ALTER TABLE sessions ADD COLUMN hold_tremor_pct REAL;"
    "ALTER TABLE spots ADD COLUMN strength REAL;"
    "ALTER TABLE spots ADD COLUMN strength_se REAL;"
    "ALTER TABLE spots ADD COLUMN side_confidence REAL;"
    "ALTER TABLE profile ADD COLUMN passes INTEGER;",
};

rm_status library_damaged(const char *path, const char *detail,
                          const char *doing, rm_error *err)
{
    return rm_error_set(err, RM_ERR_FORMAT,
                        "%s: the library database is damaged or not a "
                        "database (%s, while %s); nothing was written to it. "
                        "The session files hold the sessions: 'rollmap "
                        "library rebuild --db %s' moves it aside and indexes "
                        "them again (tags, notes and client names come back "
                        "only from a backup)", path, detail, doing, path);
}

rm_status library_sql_error(sqlite3 *db, const char *path, int rc,
                            const char *doing, rm_error *err)
{
    const char *detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return rm_error_set(err, RM_ERR_BUSY,
                            "%s is locked by another process (waited %d s "
                            "while %s); try again when it is done", path,
                            RM_LIBRARY_BUSY_TIMEOUT_MS / 1000, doing);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return library_damaged(path, detail, doing, err);
    case SQLITE_FULL:
        return rm_error_set(err, RM_ERR_NO_SPACE, "%s: disk full while %s",
                            path, doing);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return rm_error_set(err, RM_ERR_IO, "%s: %s while %s", path, detail,
                            doing);
    default:
        return rm_error_set(err, RM_ERR_IO, "%s: database error while %s: %s",
                            path, doing, detail);
    }
}

rm_status library_begin_read(rm_library *lib, rm_error *err)
{
    int rc = sqlite3_exec(lib->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return library_sql_error(lib->db, lib->path, rc, "starting a read",
                                 err);
    return RM_OK;
}

rm_status library_prepare(rm_library *lib, const char *sql,
                          sqlite3_stmt **stmt, rm_error *err)
{
    int rc = sqlite3_prepare_v2(lib->db, sql, -1, stmt, NULL);
    if (rc != SQLITE_OK)
        return library_sql_error(lib->db, lib->path, rc, "preparing a query",
                                 err);
    return RM_OK;
}

rm_status library_step_done(rm_library *lib, sqlite3_stmt *stmt,
                            const char *doing, rm_error *err)
{
    int rc = sqlite3_step(stmt);
    rm_status st = RM_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = library_sql_error(lib->db, lib->path, rc, doing, err);
    sqlite3_finalize(stmt);
    return st;
}

rm_status library_verify(rm_library *lib, bool full, rm_error *err)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(lib->db, full ? "PRAGMA integrity_check(1)"
                                              : "PRAGMA quick_check(1)",
                                -1, &stmt, NULL);
    const char *doing = full ? "checking the whole database"
                             : "checking the database";
    if (rc != SQLITE_OK)
        return library_sql_error(lib->db, lib->path, rc, doing, err);
    char first[200] = "";
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        snprintf(first, sizeof first, "%s",
                 (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return library_sql_error(lib->db, lib->path, rc, doing, err);
    if (strcmp(first, "ok")) {
        for (char *nl = strchr(first, '\n'); nl; nl = strchr(nl, '\n'))
            *nl = ' ';  /* one line: "*** in database main *** Page 14: ..." */
        return library_damaged(lib->path, first, doing, err);
    }
    lib->verified = true;
    return RM_OK;
}

rm_status library_begin_write(rm_library *lib, rm_error *err)
{
    if (!lib->verified) {
        rm_status st = library_verify(lib, false, err);
        if (st != RM_OK)
            return st;
    }
    int rc = sqlite3_exec(lib->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return library_sql_error(lib->db, lib->path, rc, "starting a write",
                                 err);
    return RM_OK;
}

rm_status library_commit(rm_library *lib, rm_error *err)
{
    int rc = sqlite3_exec(lib->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rm_status st = library_sql_error(lib->db, lib->path, rc,
                                         "committing", err);
        library_rollback(lib);
        return st;
    }
    return RM_OK;
}

void library_rollback(rm_library *lib)
{
    if (!sqlite3_get_autocommit(lib->db))
        sqlite3_exec(lib->db, "ROLLBACK", NULL, NULL, NULL);
}

static int user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int apply_steps(sqlite3 *db, int from, int target)
{
    for (int v = from; v < target; v++) {
        int rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", target);
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static rm_status newer_schema(const char *path, int version, rm_error *err)
{
    return rm_error_set(err, RM_ERR_VERSION,
                        "%s: schema version %d is newer than this rollmap "
                        "understands (%d); use a newer rollmap", path, version,
                        RM_LIBRARY_SCHEMA_VERSION);
}

/* Under the write lock: the version again (another process may have just
 * migrated), then the missing steps. */
static rm_status migrate_locked(sqlite3 *db, const char *path, int target,
                                rm_error *err)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return library_sql_error(db, path, rc, "migrating the schema", err);
    int version = 0;
    rc = user_version(db, &version);
    if (rc == SQLITE_OK && version < target)
        rc = apply_steps(db, version, target);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rm_status st = library_sql_error(db, path, rc, "migrating the schema",
                                         err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return RM_OK;
}

/* A current schema is only read: opening to list never waits for a
 * writer. */
rm_status library_migrate(sqlite3 *db, const char *path, int target,
                          rm_error *err)
{
    int version = 0;
    int rc = user_version(db, &version);
    if (rc != SQLITE_OK)
        return library_sql_error(db, path, rc, "reading the schema", err);
    if (version > RM_LIBRARY_SCHEMA_VERSION)
        return newer_schema(path, version, err);
    if (version >= target)
        return RM_OK;
    return migrate_locked(db, path, target, err);
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

/* Why SQLite refused the file: quick_check says which page is damaged. */
static rm_status explain_open_failure(rm_library *lib, int rc,
                                      const char *doing, rm_error *err)
{
    int code = rc & 0xff;
    if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB)
        return library_sql_error(lib->db, lib->path, rc, doing, err);
    char detail[300];
    snprintf(detail, sizeof detail, "%s", sqlite3_errstr(rc));
    sqlite3_stmt *stmt;
    if (code == SQLITE_CORRUPT &&
        sqlite3_prepare_v2(lib->db, "PRAGMA quick_check(1)", -1, &stmt,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW)
            snprintf(detail, sizeof detail, "%s; %s", sqlite3_errstr(rc),
                     (const char *)sqlite3_column_text(stmt, 0));
        sqlite3_finalize(stmt);
    }
    return library_damaged(lib->path, detail, doing, err);
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
    sqlite3_busy_timeout(lib->db, RM_LIBRARY_BUSY_TIMEOUT_MS);
    /* before anything that may write (switching to WAL writes the header) */
    if (cheap_to_check(lib->path)) {
        rm_status st = library_verify(lib, false, err);
        if (st != RM_OK)
            return st;
    }
    int rc = sqlite3_exec(lib->db, "PRAGMA journal_mode = WAL", NULL, NULL,
                          NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(lib->db,
                          "PRAGMA foreign_keys = ON; "
                          "PRAGMA synchronous = NORMAL; "
                          "PRAGMA cache_size = " LIBRARY_CACHE_KIB "; "
                          "PRAGMA mmap_size = " LIBRARY_MMAP_BYTES,
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return explain_open_failure(lib, rc, "opening", err);
    rm_status st = library_migrate(lib->db, lib->path,
                                   RM_LIBRARY_SCHEMA_VERSION, err);
    if (st == RM_ERR_FORMAT || st == RM_ERR_IO) {
        int code = sqlite3_errcode(lib->db);
        if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
            return explain_open_failure(lib, code, "reading the schema", err);
    }
    return st;
}

rm_status rm_library_open(rm_library **out, const char *path, rm_error *err)
{
    *out = NULL;
    if (!path || !path[0])
        return rm_error_set(err, RM_ERR_ARG, "library: no database path");
    /* missing folders 0700: session data is health data */
    rm_status st = rm_make_parent_dirs(path, 0700, err);
    if (st == RM_OK)
        st = create_private_file(path, err);
    if (st != RM_OK)
        return st;
    rm_library *lib = calloc(1, sizeof *lib);
    if (!lib || !(lib->path = strdup(path))) {
        free(lib);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    int rc = sqlite3_open_v2(path, &lib->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    st = rc == SQLITE_OK ? configure(lib, err)
                         : library_sql_error(lib->db, path, rc, "opening",
                                             err);
    if (st != RM_OK) {
        rm_library_close(lib);
        return st;
    }
    *out = lib;
    return RM_OK;
}

void rm_library_close(rm_library *lib)
{
    if (!lib)
        return;
    sqlite3_close(lib->db);
    free(lib->path);
    free(lib);
}

const char *rm_library_path(const rm_library *lib)
{
    return lib->path;
}
