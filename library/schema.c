/* The backend-independent part of the library's storage: choosing the
 * backend from the target, the schema and its migrations, transactions,
 * and turning a backend's failure into an rm_error. */
#include "library_internal.h"

#include <stdlib.h>
#include <string.h>

/* Each step takes the schema from version i to i+1; steps never change
 * once released, a new version appends one. They are written in SQLite's
 * dialect; the PostgreSQL backend maps its column types (db_postgresql.c),
 * so both backends have one schema and one version number. */
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
    /* 5: the bytes of session files (session_data.c), by session id so
     * that a recording in progress is uploaded before it has a row in
     * sessions: each chunk with its CRC-32C, and per session the length
     * and CRC-32C of the content the chunks hold so far and whether the
     * file was closed. */
    "CREATE TABLE session_data ("
    " session_id TEXT PRIMARY KEY, content_length INTEGER NOT NULL,"
    " content_crc32c INTEGER NOT NULL, chunk_bytes INTEGER NOT NULL,"
    " complete INTEGER NOT NULL, uploaded_us INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE session_chunks ("
    " session_id TEXT NOT NULL, idx INTEGER NOT NULL,"
    " crc32c INTEGER NOT NULL, nbytes INTEGER NOT NULL, bytes BLOB NOT NULL,"
    " PRIMARY KEY (session_id, idx)) WITHOUT ROWID;",
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

void library_fail_set(rm_library *lib, library_fail_kind kind,
                      const char *detail)
{
    lib->fail = kind;
    snprintf(lib->fail_detail, sizeof lib->fail_detail, "%s",
             detail ? detail : "");
    /* one line: SQLite's quick_check and PostgreSQL's DETAIL span several */
    for (char *nl = strchr(lib->fail_detail, '\n'); nl;
         nl = strchr(nl, '\n'))
        *nl = ' ';
}

rm_status library_sql_error(rm_library *lib, const char *doing, rm_error *err)
{
    const char *detail = lib->fail_detail;
    switch (lib->fail) {
    case LIBRARY_FAIL_BUSY:
        return rm_error_set(err, RM_ERR_BUSY,
                            "%s is locked by another process (waited %d s "
                            "while %s); try again when it is done", lib->path,
                            RM_LIBRARY_BUSY_TIMEOUT_MS / 1000, doing);
    case LIBRARY_FAIL_DAMAGED:
        return library_damaged(lib->path, detail, doing, err);
    case LIBRARY_FAIL_FULL:
        return rm_error_set(err, RM_ERR_NO_SPACE, "%s: disk full while %s",
                            lib->path, doing);
    case LIBRARY_FAIL_IO:
        return rm_error_set(err, RM_ERR_IO, "%s: %s while %s", lib->path,
                            detail, doing);
    default:
        return rm_error_set(err, RM_ERR_IO, "%s: database error while %s: %s",
                            lib->path, doing, detail);
    }
}

static rm_status exec_sql(rm_library *lib, const char *sql, const char *doing,
                          rm_error *err)
{
    if (lib->ops->exec(lib, sql) != LIBRARY_DONE)
        return library_sql_error(lib, doing, err);
    return RM_OK;
}

rm_status library_begin_read(rm_library *lib, rm_error *err)
{
    return exec_sql(lib, lib->ops->begin_read_sql, "starting a read", err);
}

rm_status library_prepare(rm_library *lib, const char *sql,
                          library_stmt **stmt, rm_error *err)
{
    *stmt = NULL;
    if (lib->ops->prepare(lib, sql, stmt) != LIBRARY_DONE)
        return library_sql_error(lib, "preparing a query", err);
    return RM_OK;
}

rm_status library_prepare_binary(rm_library *lib, const char *sql,
                                 library_stmt **stmt, rm_error *err)
{
    rm_status st = library_prepare(lib, sql, stmt, err);
    if (st == RM_OK)
        (*stmt)->binary_rows = true;
    return st;
}

rm_status library_step_done(rm_library *lib, library_stmt *stmt,
                            const char *doing, rm_error *err)
{
    int rc = library_step(stmt);
    rm_status st = RM_OK;
    if (rc == LIBRARY_FAIL)
        st = library_sql_error(lib, doing, err);
    library_finalize(stmt);
    return st;
}

rm_status library_verify(rm_library *lib, bool full, rm_error *err)
{
    rm_status st = lib->ops->verify(lib, full, err);
    if (st == RM_OK)
        lib->verified = true;
    return st;
}

rm_status library_begin_write(rm_library *lib, rm_error *err)
{
    if (!lib->verified) {
        rm_status st = library_verify(lib, false, err);
        if (st != RM_OK)
            return st;
    }
    return exec_sql(lib, lib->ops->begin_write_sql, "starting a write", err);
}

rm_status library_commit(rm_library *lib, rm_error *err)
{
    rm_status st = exec_sql(lib, "COMMIT", "committing", err);
    if (st != RM_OK)
        library_rollback(lib);
    return st;
}

void library_rollback(rm_library *lib)
{
    if (lib->ops->in_transaction(lib))
        lib->ops->exec(lib, "ROLLBACK");
}

static int apply_steps(rm_library *lib, int from, int target)
{
    for (int v = from; v < target; v++)
        if (lib->ops->migrate_step(lib, migrations[v]) != LIBRARY_DONE)
            return LIBRARY_FAIL;
    return lib->ops->set_schema_version(lib, target);
}

static rm_status newer_schema(const char *path, int version, rm_error *err)
{
    return rm_error_set(err, RM_ERR_VERSION,
                        "%s: schema version %d is newer than this rollmap "
                        "understands (%d); use a newer rollmap", path, version,
                        RM_LIBRARY_SCHEMA_VERSION);
}

/* Under the migration lock: the version again (another process may have
 * just migrated), then the missing steps. */
static rm_status migrate_locked(rm_library *lib, int target, rm_error *err)
{
    const char *doing = "migrating the schema";
    rm_status st = exec_sql(lib, lib->ops->begin_migration_sql, doing, err);
    if (st != RM_OK)
        return st;
    int version = 0;
    int rc = lib->ops->schema_version(lib, &version);
    if (rc == LIBRARY_DONE && version < target)
        rc = apply_steps(lib, version, target);
    if (rc == LIBRARY_DONE)
        rc = lib->ops->exec(lib, "COMMIT");
    if (rc != LIBRARY_DONE) {
        st = library_sql_error(lib, doing, err);
        library_rollback(lib);
    }
    return st;
}

/* A current schema is only read: opening to list never waits for a
 * writer. */
rm_status library_migrate(rm_library *lib, int target, rm_error *err)
{
    int version = 0;
    if (lib->ops->schema_version(lib, &version) != LIBRARY_DONE)
        return library_sql_error(lib, "reading the schema", err);
    if (version > RM_LIBRARY_SCHEMA_VERSION)
        return newer_schema(lib->path, version, err);
    if (version >= target)
        return RM_OK;
    return migrate_locked(lib, target, err);
}

rm_status rm_library_schema_version(rm_library *lib, int *version,
                                    rm_error *err)
{
    if (lib->ops->schema_version(lib, version) != LIBRARY_DONE)
        return library_sql_error(lib, "reading the schema", err);
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Targets                                                                  */
/* ------------------------------------------------------------------------ */

static bool starts_with(const char *text, const char *prefix)
{
    return !strncmp(text, prefix, strlen(prefix));
}

/* A libpq connection string: a URI, or keyword=value pairs, whose first
 * keyword is letters and '_' (a file whose name looks like that is given
 * as sqlite:PATH). */
static bool is_postgresql(const char *target)
{
    if (starts_with(target, "postgresql://") ||
        starts_with(target, "postgres://"))
        return true;
    size_t word = strspn(target, "abcdefghijklmnopqrstuvwxyz_");
    return word > 0 && target[word] == '=';
}

rm_library_backend_kind rm_library_target_kind(const char *target,
                                               const char **file)
{
    if (starts_with(target, "sqlite:")) {
        *file = target + strlen("sqlite:");
        return RM_LIBRARY_SQLITE;
    }
    if (is_postgresql(target)) {
        *file = NULL;
        return RM_LIBRARY_POSTGRESQL;
    }
    *file = target;
    return RM_LIBRARY_SQLITE;
}

rm_status library_open_at(rm_library **out, const char *target,
                          int version, rm_error *err)
{
    *out = NULL;
    if (!target || !target[0])
        return rm_error_set(err, RM_ERR_ARG, "library: no database path");
    const char *file;
    rm_library_backend_kind kind = rm_library_target_kind(target, &file);
    if (kind == RM_LIBRARY_SQLITE && !file[0])
        return rm_error_set(err, RM_ERR_ARG, "%s: no database path", target);
    rm_library *lib = calloc(1, sizeof *lib);
    if (!lib)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    lib->ops = kind == RM_LIBRARY_SQLITE ? &library_sqlite_backend
                                         : &library_postgresql_backend;
    rm_status st = lib->ops->open(lib, kind == RM_LIBRARY_SQLITE ? file
                                                                 : target,
                                  err);
    if (st == RM_OK)
        st = library_migrate(lib, version, err);
    if (st != RM_OK) {
        rm_library_close(lib);
        return st;
    }
    *out = lib;
    return RM_OK;
}

rm_status rm_library_open(rm_library **out, const char *target,
                          rm_error *err)
{
    return library_open_at(out, target, RM_LIBRARY_SCHEMA_VERSION, err);
}

void rm_library_close(rm_library *lib)
{
    if (!lib)
        return;
    if (lib->conn)
        lib->ops->close(lib);
    free(lib->path);
    free(lib);
}

const char *rm_library_path(const rm_library *lib)
{
    return lib->path;
}

const char *rm_library_backend_name(const rm_library *lib)
{
    return lib->ops->name;
}
