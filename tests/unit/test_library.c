/* The session library: schema and migrations, idempotent adds, filters,
 * tags, metadata set in the session files, removal, change detection, the
 * stored analysis, concurrent writers and clear errors for locked or
 * damaged databases. Sessions are real files written from the virtual
 * roller. One suite for both backends: on SQLite by default, on a
 * throwaway PostgreSQL server under tests/postgresql/with-cluster.sh
 * (ctest unit.test_library.postgresql); the tests of SQLite's own files
 * (WAL, damaged pages) run only on SQLite. */
#include "testutil.h"
#include "library_internal.h"
#include "rollmap_report.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SESSION_S 90.0            /* long enough for dwells and spots */
#define DAY_US 86400000000LL
#define T0_US 1795500444000000LL  /* 2026-11-24T06:07:24Z */

typedef struct fixture {
    char *dir;
    char *db;
    rm_library *lib;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = testutil_mkdtemp();
    assert_non_null(f->dir);
    f->db = testutil_library_target(f->dir, "data/rollmap/library.db");
    rm_error err;
    if (rm_library_open(&f->lib, f->db, &err) != RM_OK)
        fail_msg("open: %s", err.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rm_library_close(f->lib);
    testutil_library_drop(f->db);
    testutil_rmdir(f->dir);
    free(f->db);
    free(f->dir);
    free(f);
    return 0;
}

/* A session file of the virtual roller with the given metadata; without
 * close the writer is left as a killed recorder leaves it: flushed, never
 * closed (call it in a child process that exits after). */
static char *write_session(const char *dir, const char *name,
                           const char *client, rm_side side, int64_t start_us,
                           uint64_t seed, bool close)
{
    rm_sim_config c;
    rm_sim_config_default(&c);
    c.seed = seed;
    c.duration_s = SESSION_S;
    c.side = (uint8_t)side;
    rm_error err;
    rm_sim *sim;
    if (rm_sim_new(&sim, &c, &err) != RM_OK)
        fail_msg("sim: %s", err.message);
    rm_session_meta meta = {.side = (uint8_t)side, .start_unix_us = start_us};
    snprintf(meta.session_id, sizeof meta.session_id, "%s-%s", client, name);
    snprintf(meta.client, sizeof meta.client, "%s", client);
    snprintf(meta.muscle, sizeof meta.muscle, "hamstring");
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.fsync = false;
    char *path = testutil_path(dir, name);
    rm_session_writer *w;
    if (rm_session_writer_create(&w, path, rm_sim_info(sim), &meta, &opt,
                                 &err) != RM_OK)
        fail_msg("create %s: %s", path, err.message);
    rm_sample s;
    while (rm_sim_next_sample(sim, &s))
        assert_int_equal(rm_session_writer_append(w, &s, 1, &err), RM_OK);
    if (!close) {
        assert_int_equal(rm_session_writer_flush(w, &err), RM_OK);
        return path;
    }
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    rm_sim_free(sim);
    return path;
}

static char *make_session(const char *dir, const char *name,
                          const char *client, rm_side side, int64_t start_us,
                          uint64_t seed)
{
    return write_session(dir, name, client, side, start_us, seed, true);
}

static int64_t add(rm_library *lib, const char *path,
                   rm_library_add_outcome *outcome)
{
    int64_t id = 0;
    rm_error err;
    rm_library_add_outcome ignored;
    if (rm_library_add_ex(lib, path, NULL, &id, outcome ? outcome : &ignored,
                          &err) != RM_OK)
        fail_msg("add %s: %s", path, err.message);
    return id;
}

/* One number from the library's own connection (either backend). */
static int64_t query_int(rm_library *lib, const char *sql)
{
    library_stmt *stmt;
    rm_error err;
    if (library_prepare(lib, sql, &stmt, &err) != RM_OK)
        fail_msg("%s: %s", sql, err.message);
    assert_int_equal(library_step(stmt), LIBRARY_ROW);
    int64_t v = library_column_int64(stmt, 0);
    library_finalize(stmt);
    return v;
}

static void run_statement(rm_library *lib, const char *sql)
{
    library_stmt *stmt;
    rm_error err;
    if (library_prepare(lib, sql, &stmt, &err) != RM_OK ||
        library_step_done(lib, stmt, sql, &err) != RM_OK)
        fail_msg("%s: %s", sql, err.message);
}

/* Another process holds the write lock: SQLite's BEGIN IMMEDIATE, or on
 * PostgreSQL a transaction that locks the tables against every writer
 * (adding a tag locks its session row too, for its foreign key). */
typedef struct lock_holder {
    sqlite3 *sqlite;
    PGconn *pg;
} lock_holder;

static lock_holder hold_write_lock(const fixture *f)
{
    lock_holder h = {0};
    if (testutil_postgresql_server()) {
        h.pg = PQconnectdb(f->db);
        assert_int_equal(PQstatus(h.pg), CONNECTION_OK);
        /* EXCLUSIVE: no row may be written or locked, reads go on */
        PGresult *res = PQexec(h.pg, "BEGIN; LOCK TABLE sessions, tags IN "
                                     "EXCLUSIVE MODE");
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        return h;
    }
    assert_int_equal(sqlite3_open(f->db, &h.sqlite), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h.sqlite, "BEGIN IMMEDIATE", NULL, NULL,
                                  NULL), SQLITE_OK);
    return h;
}

static void release_write_lock(lock_holder *h)
{
    if (h->pg) {
        PQclear(PQexec(h->pg, "ROLLBACK"));
        PQfinish(h->pg);
    } else {
        sqlite3_exec(h->sqlite, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(h->sqlite);
    }
}

static int pragma_int(const char *db_path, const char *pragma)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db, pragma, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int v = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

/* ------------------------------------------------------------------------ */

static void a_new_library_is_private_wal_and_current(void **state)
{
    fixture *f = *state;
    struct stat st;
    assert_int_equal(stat(f->db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *folder = testutil_path(f->dir, "data/rollmap");
    assert_int_equal(stat(folder, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    free(folder);
    assert_int_equal(pragma_int(f->db, "PRAGMA user_version"),
                     RM_LIBRARY_SCHEMA_VERSION);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* A library of an older release (schema version from) with one session,
 * opened by this one. */
static void migrates_from(fixture *f, int from)
{
    rm_library_close(f->lib);
    f->lib = NULL;
    rm_library *old;
    rm_error err;
    if (library_open_at(&old, f->db, from, &err) != RM_OK)
        fail_msg("open at version %d: %s", from, err.message);
    assert_int_equal(rm_library_schema_version(old, &(int){0}, &err), RM_OK);
    library_stmt *stmt;
    assert_int_equal(library_prepare(old,
        "INSERT INTO sessions (session_id, path, client, side, muscle,"
        " start_us, duration_s) VALUES ('S-old', '/nowhere/old.rms', 'C07',"
        " 1, 'hamstring', 1795500444000000, 321.5)", &stmt, &err), RM_OK);
    assert_int_equal(library_step_done(old, stmt, "inserting", &err), RM_OK);
    int version = 0;
    assert_int_equal(rm_library_schema_version(old, &version, &err), RM_OK);
    assert_int_equal(version, from);
    rm_library_close(old);

    if (rm_library_open(&f->lib, f->db, &err) != RM_OK)
        fail_msg("open: %s", err.message);
    assert_int_equal(rm_library_schema_version(f->lib, &version, &err), RM_OK);
    assert_int_equal(version, RM_LIBRARY_SCHEMA_VERSION);
    /* version 2 added client names */
    assert_int_equal(rm_library_set_client_name(f->lib, "C07", "Ada", &err),
                     RM_OK);
    rm_library_entry *e;
    size_t n;
    assert_int_equal(rm_library_list(f->lib, NULL, &e, &n, &err), RM_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].session_id, "S-old");
    assert_string_equal(e[0].display_name, "Ada");
    assert_string_equal(e[0].damage, "");
    assert_true(e[0].summary.duration_s == 321.5);
    rm_library_entries_free(e, n);
}

static void a_version_1_database_is_migrated_with_its_rows(void **state)
{
    fixture *f = *state;
    testutil_library_drop(f->db);
    free(f->db);
    f->db = testutil_library_target(f->dir, "old.db");
    migrates_from(f, 1);
}

/* The schema of the build before the PostgreSQL backend (version 4). */
static void the_previous_release_s_database_is_migrated(void **state)
{
    fixture *f = *state;
    testutil_library_drop(f->db);
    free(f->db);
    f->db = testutil_library_target(f->dir, "previous.db");
    migrates_from(f, 4);
}

static void a_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    library_stmt *stmt;
    rm_error err;
    assert_int_equal(library_prepare(f->lib, testutil_postgresql_server()
                         ? "UPDATE rollmap_schema SET version = 99"
                         : "PRAGMA user_version = 99", &stmt, &err), RM_OK);
    assert_int_equal(library_step_done(f->lib, stmt, "setting", &err), RM_OK);
    rm_library *lib;
    assert_int_equal(rm_library_open(&lib, f->db, &err), RM_ERR_VERSION);
    assert_non_null(strstr(err.message, "99"));
    assert_non_null(strstr(err.message, rm_library_path(f->lib)));
}

static void adding_twice_keeps_one_session(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "a.rms", "C01", RM_SIDE_LEFT, T0_US, 1);
    rm_library_add_outcome o;
    int64_t id = add(f->lib, path, &o);
    assert_int_equal(o, RM_LIBRARY_ADDED);
    assert_int_equal(add(f->lib, path, &o), id);
    assert_int_equal(o, RM_LIBRARY_UNCHANGED);

    /* the same bytes elsewhere: the session moved, no second entry */
    char *copy = testutil_path(f->dir, "moved.rms");
    size_t len;
    uint8_t *bytes = testutil_read_file(path, &len);
    assert_int_equal(testutil_write_file(copy, bytes, len), 0);
    assert_int_equal(add(f->lib, copy, &o), id);
    assert_int_equal(o, RM_LIBRARY_UPDATED);

    rm_library_entry *e;
    size_t n;
    rm_error err;
    assert_int_equal(rm_library_list(f->lib, NULL, &e, &n, &err), RM_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(e[0].path, "moved.rms"));
    assert_int_equal(e[0].file_size, len);
    assert_int_equal(e[0].file_crc32c, rm_crc32c(0, bytes, len));
    rm_library_entries_free(e, n);
    free(bytes);
    free(copy);
    free(path);
}

static void assert_same(double got, double want, const char *what, size_t i)
{
    if (isnan(want) ? !isnan(got) : got != want)
        fail_msg("%s[%zu] = %.17g, analysis said %.17g", what, i, got, want);
}

static void assert_same_summary(const rm_summary *g, const rm_summary *w)
{
    assert_same(g->duration_s, w->duration_s, "duration_s", 0);
    assert_same(g->rolled_length_cm, w->rolled_length_cm, "rolled_length", 0);
    assert_same(g->time_under_load_s, w->time_under_load_s, "under_load", 0);
    assert_same(g->mean_force_n, w->mean_force_n, "mean_force", 0);
    assert_same(g->peak_force_n, w->peak_force_n, "peak_force", 0);
    assert_same(g->mean_pressure_kpa, w->mean_pressure_kpa, "mean_kpa", 0);
    assert_same(g->peak_pressure_kpa, w->peak_pressure_kpa, "peak_kpa", 0);
    assert_int_equal(g->strokes, w->strokes);
    assert_same(g->cadence_per_min, w->cadence_per_min, "cadence", 0);
    assert_same(g->mean_speed_cm_s, w->mean_speed_cm_s, "speed", 0);
    assert_same(g->time_too_fast_s, w->time_too_fast_s, "too_fast", 0);
    assert_same(g->vibration_hz, w->vibration_hz, "vibration", 0);
}

static void assert_same_spots(const rm_analysis *g, const rm_analysis *w)
{
    assert_int_equal(g->spot_count, w->spot_count);
    for (size_t i = 0; i < w->spot_count; i++) {
        const rm_spot *a = &g->spots[i], *b = &w->spots[i];
        assert_same(a->position_cm, b->position_cm, "spot.position_cm", i);
        assert_same(a->position_pct, b->position_pct, "spot.position_pct", i);
        assert_same(a->ml, b->ml, "spot.ml", i);
        assert_int_equal(a->side, b->side);
        assert_same(a->score, b->score, "spot.score", i);
        assert_same(a->confidence, b->confidence, "spot.confidence", i);
        assert_same(a->evidence.dwell_s, b->evidence.dwell_s, "ev.dwell", i);
        assert_same(a->evidence.slowing, b->evidence.slowing, "ev.slow", i);
        assert_same(a->evidence.unloading, b->evidence.unloading, "ev.unl", i);
        assert_same(a->evidence.tremor, b->evidence.tremor, "ev.tremor", i);
        assert_int_equal(a->evidence.marks, b->evidence.marks);
        assert_same(a->evidence.mark_rating, b->evidence.mark_rating,
                    "ev.rating", i);
        assert_same(a->threshold_force_n, b->threshold_force_n, "ppt_n", i);
        assert_same(a->threshold_pressure_kpa, b->threshold_pressure_kpa,
                    "ppt_kpa", i);
    }
}

static void assert_same_dwells(const rm_analysis *g, const rm_analysis *w)
{
    assert_int_equal(g->dwell_count, w->dwell_count);
    for (size_t i = 0; i < w->dwell_count; i++) {
        const rm_dwell *a = &g->dwells[i], *b = &w->dwells[i];
        assert_same(a->start_s, b->start_s, "dwell.start", i);
        assert_same(a->end_s, b->end_s, "dwell.end", i);
        assert_same(a->duration_s, b->duration_s, "dwell.duration", i);
        assert_same(a->position_cm, b->position_cm, "dwell.position", i);
        assert_same(a->ml, b->ml, "dwell.ml", i);
        assert_int_equal(a->side, b->side);
        assert_same(a->mean_force_n, b->mean_force_n, "dwell.mean_force", i);
        assert_same(a->peak_force_n, b->peak_force_n, "dwell.peak_force", i);
        assert_same(a->mean_pressure_kpa, b->mean_pressure_kpa, "dwell.kpa", i);
        assert_same(a->pressure_time_kpa_s, b->pressure_time_kpa_s, "dwell.pti",
                    i);
        assert_same(a->force_stability, b->force_stability, "dwell.cv", i);
        assert_same(a->tremor_power, b->tremor_power, "dwell.tremor", i);
        assert_int_equal(a->marks, b->marks);
    }
}

static void assert_same_marks_and_profile(const rm_analysis *g,
                                          const rm_analysis *w)
{
    assert_int_equal(g->mark_count, w->mark_count);
    for (size_t i = 0; i < w->mark_count; i++) {
        assert_same(g->marks[i].t_s, w->marks[i].t_s, "mark.t", i);
        assert_same(g->marks[i].position_cm, w->marks[i].position_cm,
                    "mark.position", i);
        assert_same(g->marks[i].force_n, w->marks[i].force_n, "mark.force", i);
        assert_int_equal(g->marks[i].rating, w->marks[i].rating);
        assert_int_equal(g->marks[i].spot, w->marks[i].spot);
    }
    assert_int_equal(g->bin_count, w->bin_count);
    for (size_t i = 0; i < w->bin_count; i++) {
        const rm_profile_bin *a = &g->profile[i], *b = &w->profile[i];
        assert_same(a->position_cm, b->position_cm, "bin.position", i);
        assert_same(a->time_s, b->time_s, "bin.time", i);
        assert_same(a->mean_force_n, b->mean_force_n, "bin.mean_force", i);
        assert_same(a->peak_force_n, b->peak_force_n, "bin.peak_force", i);
        assert_same(a->mean_pressure_kpa, b->mean_pressure_kpa, "bin.kpa", i);
        assert_same(a->tenderness, b->tenderness, "bin.tenderness", i);
        assert_same(a->medial_force_n, b->medial_force_n, "bin.medial", i);
        assert_same(a->lateral_force_n, b->lateral_force_n, "bin.lateral", i);
        assert_same(a->tremor, b->tremor, "bin.tremor", i);
    }
}

static rm_analysis *analyse_file(const char *path)
{
    rm_session *s;
    rm_analysis *a;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), RM_OK);
    assert_int_equal(rm_session_verify(s, &err), RM_OK);
    if (rm_analyse_session(s, NULL, &a, &err) != RM_OK)
        fail_msg("analyse: %s", err.message);
    rm_session_close(s);
    return a;
}

static void the_stored_analysis_equals_the_analysis(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "b.rms", "C02", RM_SIDE_RIGHT, T0_US, 7);
    int64_t id = add(f->lib, path, NULL);
    rm_analysis *want = analyse_file(path), *got;
    rm_error err;
    assert_int_equal(rm_library_load_analysis(f->lib, id, &got, &err), RM_OK);
    assert_true(want->spot_count > 0 && want->dwell_count > 0);
    assert_string_equal(got->meta.session_id, want->meta.session_id);
    assert_string_equal(got->meta.client, "C02");
    assert_int_equal(got->meta.side, RM_SIDE_RIGHT);
    assert_int_equal(got->meta.start_unix_us, T0_US);
    assert_string_equal(got->device.serial, want->device.serial);
    assert_int_equal(got->device.sample_rate_hz, want->device.sample_rate_hz);
    assert_int_equal(got->device.channel_count, want->device.channel_count);
    assert_int_equal(got->has_position, want->has_position);
    assert_int_equal(got->has_pressure, want->has_pressure);
    assert_same(got->config.profile_bin_cm, want->config.profile_bin_cm,
                "config.bin", 0);
    assert_same(got->config.spot_min_score, want->config.spot_min_score,
                "config.spot_min", 0);
    assert_int_equal(got->quality.gaps, want->quality.gaps);
    assert_same(got->quality.saturation_pct, want->quality.saturation_pct,
                "saturation", 0);
    assert_same(got->quality.calibration_age_days,
                want->quality.calibration_age_days, "calibration_age", 0);
    assert_same_summary(&got->summary, &want->summary);
    assert_same_spots(got, want);
    assert_same_dwells(got, want);
    assert_same_marks_and_profile(got, want);
    assert_int_equal(got->series.n, 0);
    assert_null(got->psd);

    rm_library_entry *e;
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_int_equal(e->spot_count, want->spot_count);
    double max = 0;
    for (size_t i = 0; i < want->spot_count; i++)
        max = fmax(max, want->spots[i].score);
    assert_same(e->spot_score_max, max, "spot_score_max", 0);
    rm_library_entries_free(e, 1);
    rm_analysis_free(got);
    rm_analysis_free(want);
    free(path);
}

/* Two clients, both legs, over four days. */
static void add_four(fixture *f, int64_t ids[4])
{
    static const struct { const char *name, *client; rm_side side; } s[4] = {
        {"d0.rms", "C10", RM_SIDE_LEFT}, {"d1.rms", "C10", RM_SIDE_RIGHT},
        {"d2.rms", "C11", RM_SIDE_LEFT}, {"d3.rms", "C10", RM_SIDE_LEFT},
    };
    for (int i = 0; i < 4; i++) {
        char *p = make_session(f->dir, s[i].name, s[i].client, s[i].side,
                               T0_US + i * DAY_US, 20 + (uint64_t)i);
        ids[i] = add(f->lib, p, NULL);
        free(p);
    }
}

static size_t list_ids(rm_library *lib, const rm_library_filter *flt,
                       int64_t *out)
{
    rm_library_entry *e;
    size_t n;
    rm_error err;
    assert_int_equal(rm_library_list(lib, flt, &e, &n, &err), RM_OK);
    for (size_t i = 0; i < n; i++)
        out[i] = e[i].id;
    rm_library_entries_free(e, n);
    return n;
}

static void filters_select_client_side_dates_and_last(void **state)
{
    fixture *f = *state;
    int64_t ids[4], got[4];
    add_four(f, ids);
    assert_int_equal(list_ids(f->lib, NULL, got), 4);
    assert_int_equal(got[0], ids[0]);
    assert_int_equal(got[3], ids[3]);

    rm_library_filter flt = {.client = "C10"};
    assert_int_equal(list_ids(f->lib, &flt, got), 3);
    flt.side = RM_SIDE_LEFT;
    assert_int_equal(list_ids(f->lib, &flt, got), 2);
    assert_int_equal(got[0], ids[0]);
    assert_int_equal(got[1], ids[3]);
    flt.last = 1;
    assert_int_equal(list_ids(f->lib, &flt, got), 1);
    assert_int_equal(got[0], ids[3]);

    rm_library_filter dates = {.since_unix_us = T0_US + DAY_US,
                               .until_unix_us = T0_US + 3 * DAY_US};
    assert_int_equal(list_ids(f->lib, &dates, got), 2);
    assert_int_equal(got[0], ids[1]);
    assert_int_equal(got[1], ids[2]);

    rm_library_filter last2 = {.last = 2};
    assert_int_equal(list_ids(f->lib, &last2, got), 2);
    assert_int_equal(got[0], ids[2]);
    assert_int_equal(got[1], ids[3]);

    rm_library_filter muscle = {.muscle = "calf"};
    assert_int_equal(list_ids(f->lib, &muscle, got), 0);
}

static void a_page_skips_the_newest_and_count_ignores_paging(void **state)
{
    fixture *f = *state;
    int64_t ids[4], got[4];
    add_four(f, ids);
    rm_library_filter page2 = {.last = 2, .skip = 2};
    assert_int_equal(list_ids(f->lib, &page2, got), 2);
    assert_int_equal(got[0], ids[0]);
    assert_int_equal(got[1], ids[1]);
    rm_library_filter beyond = {.last = 2, .skip = 4};
    assert_int_equal(list_ids(f->lib, &beyond, got), 0);
    size_t n = 0;
    rm_error err = {0};
    assert_int_equal(rm_library_count(f->lib, NULL, &n, &err), RM_OK);
    assert_int_equal(n, 4);
    rm_library_filter c10 = {.client = "C10", .last = 1, .skip = 1};
    assert_int_equal(rm_library_count(f->lib, &c10, &n, &err), RM_OK);
    assert_int_equal(n, 3);
}

static void clients_sum_up_each_code_first_and_last(void **state)
{
    fixture *f = *state;
    int64_t ids[4];
    add_four(f, ids);
    rm_error err = {0};
    assert_int_equal(rm_library_set_client_name(f->lib, "C11", "Ann <b>", &err), RM_OK);
    rm_library_entry *first, *last;
    assert_int_equal(rm_library_get(f->lib, ids[0], &first, &err), RM_OK);
    assert_int_equal(rm_library_get(f->lib, ids[3], &last, &err), RM_OK);
    rm_library_client *c = NULL;
    size_t n = 0;
    assert_int_equal(rm_library_clients(f->lib, &c, &n, &err), RM_OK);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].code, "C10");
    assert_null(c[0].display_name);
    assert_int_equal(c[0].sessions, 3);
    assert_true(c[0].first_unix_us == first->start_unix_us);
    assert_true(c[0].last_unix_us == last->start_unix_us);
    assert_near(c[0].first_score_total, first->spot_score_total, 1e-9);
    assert_near(c[0].last_score_total, last->spot_score_total, 1e-9);
    assert_string_equal(c[1].code, "C11");
    assert_string_equal(c[1].display_name, "Ann <b>");
    assert_int_equal(c[1].sessions, 1);
    rm_library_clients_free(c, n);
    rm_library_entries_free(first, 1);
    rm_library_entries_free(last, 1);
}

static void tags_are_set_replaced_and_removed(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "t.rms", "C03", RM_SIDE_LEFT, T0_US, 3);
    int64_t id = add(f->lib, path, NULL);
    rm_error err;
    assert_int_equal(rm_library_set_tag(f->lib, id, "phase", "rehab", &err), RM_OK);
    assert_int_equal(rm_library_set_tag(f->lib, id, "coach", "kim", &err), RM_OK);
    assert_int_equal(rm_library_set_tag(f->lib, id, "phase", "return", &err), RM_OK);
    assert_int_equal(rm_library_set_tag(f->lib, id, "bad=key", "x", &err),
                     RM_ERR_ARG);
    assert_int_equal(rm_library_set_tag(f->lib, id + 100, "k", "v", &err),
                     RM_ERR_NOT_FOUND);
    rm_library_entry *e;
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_int_equal(e->tag_count, 2);
    assert_string_equal(e->tags[0].key, "coach");
    assert_string_equal(e->tags[1].key, "phase");
    assert_string_equal(e->tags[1].value, "return");
    rm_library_entries_free(e, 1);

    assert_int_equal(rm_library_set_tag(f->lib, id, "coach", "", &err), RM_OK);
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_int_equal(e->tag_count, 1);
    rm_library_entries_free(e, 1);

    /* a changed file is analysed again; its tags and notes stay */
    assert_int_equal(rm_library_set_notes(f->lib, id, "felt better", &err), RM_OK);
    rm_session_meta meta = {.side = RM_SIDE_RIGHT};
    snprintf(meta.session_id, sizeof meta.session_id, "C03-t.rms");
    snprintf(meta.client, sizeof meta.client, "C03");
    snprintf(meta.muscle, sizeof meta.muscle, "hamstring");
    assert_int_equal(rm_session_file_set_meta(path, &meta, &err), RM_OK);
    rm_library_add_outcome o;
    assert_int_equal(add(f->lib, path, &o), id);
    assert_int_equal(o, RM_LIBRARY_UPDATED);
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_int_equal(e->side, RM_SIDE_RIGHT);
    assert_int_equal(e->tag_count, 1);
    assert_string_equal(e->notes, "felt better");
    rm_library_entries_free(e, 1);
    free(path);
}

static void remove_keeps_the_file_unless_purged(void **state)
{
    fixture *f = *state;
    char *a = make_session(f->dir, "r1.rms", "C04", RM_SIDE_LEFT, T0_US, 4);
    char *b = make_session(f->dir, "r2.rms", "C04", RM_SIDE_LEFT, T0_US + 1, 5);
    int64_t ia = add(f->lib, a, NULL), ib = add(f->lib, b, NULL);
    rm_error err;
    assert_int_equal(rm_library_set_tag(f->lib, ia, "k", "v", &err), RM_OK);
    assert_int_equal(rm_library_remove(f->lib, ia, false, &err), RM_OK);
    assert_int_equal(access(a, F_OK), 0);
    assert_int_equal(rm_library_remove(f->lib, ib, true, &err), RM_OK);
    assert_int_not_equal(access(b, F_OK), 0);
    rm_library_entry *e;
    size_t n;
    assert_int_equal(rm_library_list(f->lib, NULL, &e, &n, &err), RM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(rm_library_remove(f->lib, ia, false, &err),
                     RM_ERR_NOT_FOUND);
    /* no orphan rows */
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM spots"), 0);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM tags"), 0);
    free(a);
    free(b);
}

static rm_library_file_state check_state(rm_library *lib, bool hash)
{
    rm_library_check_item *items;
    size_t n;
    rm_error err;
    assert_int_equal(rm_library_check(lib, NULL, hash, &items, &n, &err), RM_OK);
    assert_int_equal(n, 1);
    rm_library_file_state st = items[0].state;
    rm_library_check_items_free(items, n);
    return st;
}

static void check_finds_changed_and_missing_files(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "c.rms", "C05", RM_SIDE_LEFT, T0_US, 6);
    add(f->lib, path, NULL);
    assert_int_equal(check_state(f->lib, true), RM_LIBRARY_FILE_OK);
    /* touched: same bytes, new mtime */
    assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);
    assert_int_equal(check_state(f->lib, false), RM_LIBRARY_FILE_OK);
    add(f->lib, path, NULL); /* the library takes the new mtime */

    /* one byte changed in place, size and mtime as before: only the hash */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    size_t len;
    uint8_t *bytes = testutil_read_file(path, &len);
    bytes[len / 2] ^= 0x55;
    assert_int_equal(testutil_write_file(path, bytes, len), 0);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    assert_int_equal(check_state(f->lib, false), RM_LIBRARY_FILE_OK);
    assert_int_equal(check_state(f->lib, true), RM_LIBRARY_FILE_CHANGED);

    assert_int_equal(testutil_write_file(path, bytes, len - 10), 0);
    assert_int_equal(check_state(f->lib, false), RM_LIBRARY_FILE_CHANGED);
    bool stores = rm_library_stores_data(f->lib);
    rm_error err;
    if (stores) { /* indexed and uploaded as it is now */
        add(f->lib, path, NULL);
        assert_int_equal(rm_library_upload_session(f->lib, path, NULL, &err),
                         RM_OK);
    }
    assert_int_equal(unlink(path), 0);
    if (stores) {
        /* as on another machine: the database holds the file's bytes */
        assert_int_equal(check_state(f->lib, false),
                         RM_LIBRARY_FILE_ELSEWHERE);
        run_statement(f->lib, "DELETE FROM session_data");
    }
    assert_int_equal(check_state(f->lib, false), RM_LIBRARY_FILE_MISSING);
    free(bytes);
    free(path);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void assert_file_meta(const char *path, const char *client,
                             rm_side side, const char *muscle)
{
    rm_session *s;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), RM_OK);
    const rm_session_meta *m = rm_session_meta_of(s);
    assert_string_equal(m->client, client);
    assert_int_equal(m->side, side);
    assert_string_equal(m->muscle, muscle);
    rm_session_close(s);
}

/* An automatic session: no client, side unknown. */
static char *make_auto_session(const char *dir, const char *name,
                               uint64_t seed)
{
    return make_session(dir, name, "", RM_SIDE_UNKNOWN, T0_US, seed);
}

static void set_meta_writes_the_file_and_the_rows_keeping_id_and_tags(
    void **state)
{
    fixture *f = *state;
    char *path = make_auto_session(f->dir, "auto.rms", 7);
    int64_t id = add(f->lib, path, NULL);
    rm_error err;
    assert_int_equal(rm_library_set_tag(f->lib, id, "phase", "rehab", &err), RM_OK);
    assert_int_equal(rm_library_set_notes(f->lib, id, "felt better", &err), RM_OK);

    rm_session_meta changes = {.side = RM_SIDE_LEFT};
    snprintf(changes.client, sizeof changes.client, "C-099");
    assert_int_equal(rm_library_set_meta(f->lib, id, &changes, &err), RM_OK);
    assert_file_meta(path, "C-099", RM_SIDE_LEFT, "hamstring");
    rm_library_entry *e;
    size_t n;
    rm_library_filter by_client = {.client = "C-099", .side = RM_SIDE_LEFT};
    assert_int_equal(rm_library_list(f->lib, &by_client, &e, &n, &err), RM_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e->id, id);
    assert_int_equal(e->file_size, file_size(path));
    assert_int_equal(e->tag_count, 1);
    assert_string_equal(e->notes, "felt better");
    rm_library_entries_free(e, n);
    assert_int_equal(check_state(f->lib, true), RM_LIBRARY_FILE_OK);

    /* the same again leaves the file as it is; notes go to both */
    uint64_t size = file_size(path);
    assert_int_equal(rm_library_set_meta(f->lib, id, &changes, &err), RM_OK);
    assert_int_equal(file_size(path), size);
    rm_session_meta notes = {0};
    snprintf(notes.notes, sizeof notes.notes, "tight distally");
    assert_int_equal(rm_library_set_meta(f->lib, id, &notes, &err), RM_OK);
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_string_equal(e->notes, "tight distally");
    assert_string_equal(e->client, "C-099");
    rm_library_entries_free(e, 1);

    rm_session_meta nothing = {0};
    assert_int_equal(rm_library_set_meta(f->lib, id, &nothing, &err),
                     RM_ERR_ARG);
    free(path);
}

static void set_meta_on_a_missing_file_names_it_and_keeps_the_rows(
    void **state)
{
    fixture *f = *state;
    char *gone = make_auto_session(f->dir, "gone.rms", 8);
    char *other = make_auto_session(f->dir, "other.rms", 9);
    int64_t id = add(f->lib, gone, NULL);
    add(f->lib, other, NULL);
    assert_int_equal(unlink(gone), 0);
    rm_session_meta changes = {.side = RM_SIDE_RIGHT};
    snprintf(changes.client, sizeof changes.client, "C-099");
    rm_error err;
    assert_int_not_equal(rm_library_set_meta(f->lib, id, &changes, &err), RM_OK);
    char id_text[32];
    snprintf(id_text, sizeof id_text, "session %lld: ", (long long)id);
    assert_non_null(strstr(err.message, id_text));
    assert_non_null(strstr(err.message, gone));

    /* a file that now holds another session is not written either */
    assert_int_equal(rename(other, gone), 0);
    uint64_t size = file_size(gone);
    assert_int_equal(rm_library_set_meta(f->lib, id, &changes, &err),
                     RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, gone));
    assert_int_equal(file_size(gone), size);
    assert_file_meta(gone, "", RM_SIDE_UNKNOWN, "hamstring");

    rm_library_entry *e;
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_string_equal(e->client, "");
    assert_int_equal(e->side, RM_SIDE_UNKNOWN);
    rm_library_entries_free(e, 1);
    free(gone);
    free(other);
}

/* What reanalyse reported: sessions in order, and the failures. */
typedef struct progress_log {
    size_t calls, failures;
    char failure[sizeof ((rm_error *)0)->message];
} progress_log;

static void log_progress(size_t done, size_t total, const rm_error *failure,
                         void *user)
{
    progress_log *log = user;
    assert_true(done <= total);
    assert_int_equal(done, ++log->calls);
    if (!failure)
        return;
    log->failures++;
    snprintf(log->failure, sizeof log->failure, "%s", failure->message);
}

static rm_library_reanalyse_options reanalyse_options(
    const rm_analysis_config *cfg, unsigned jobs, progress_log *log)
{
    rm_library_reanalyse_options opt;
    rm_library_reanalyse_options_default(&opt);
    opt.cfg = cfg;
    opt.jobs = jobs;
    opt.progress = log ? log_progress : NULL;
    opt.user = log;
    return opt;
}

static void reanalyse_applies_a_new_configuration(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "e.rms", "C06", RM_SIDE_LEFT, T0_US, 8);
    int64_t id = add(f->lib, path, NULL);
    rm_library_entry *e;
    rm_error err;
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_true(e->spot_count > 0);
    rm_library_entries_free(e, 1);

    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.spot_min_score = 11; /* above the 0-10 scale: no spot qualifies */
    size_t done = 0, failed = 0;
    progress_log log = {0};
    rm_library_reanalyse_options opt = reanalyse_options(&cfg, 0, &log);
    assert_int_equal(rm_library_reanalyse(f->lib, NULL, &opt, &done, &failed,
                                          &err), RM_OK);
    assert_int_equal(log.calls, 1);
    assert_int_equal(done, 1);
    assert_int_equal(failed, 0);
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_int_equal(e->spot_count, 0);
    rm_library_entries_free(e, 1);
    rm_analysis *a;
    assert_int_equal(rm_library_load_analysis(f->lib, id, &a, &err), RM_OK);
    assert_true(a->config.spot_min_score == 11);
    assert_int_equal(a->spot_count, 0);
    rm_analysis_free(a);

    unlink(path);
    assert_int_equal(rm_library_reanalyse(f->lib, NULL, NULL, &done, &failed,
                                          &err), RM_ERR_NOT_FOUND);
    assert_int_equal(failed, 1);
    assert_non_null(strstr(err.message, path));
    free(path);
}

#define PARALLEL_SESSIONS 6

/* Everything stored about the sessions, as the report's JSON of each. */
static char *stored_analyses(rm_library *lib, const int64_t *ids, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        rm_analysis *a;
        rm_error err;
        if (rm_library_load_analysis(lib, ids[i], &a, &err) != RM_OK ||
            rm_report_json(a, out, &err) != RM_OK)
            fail_msg("session %lld: %s", (long long)ids[i], err.message);
        rm_analysis_free(a);
    }
    fclose(out);
    return text;
}

static char *reanalysed(fixture *f, const rm_analysis_config *cfg,
                        unsigned jobs, const int64_t *ids)
{
    progress_log log = {0};
    rm_library_reanalyse_options opt = reanalyse_options(cfg, jobs, &log);
    size_t done = 0, failed = 0;
    rm_error err;
    if (rm_library_reanalyse(f->lib, NULL, &opt, &done, &failed, &err) != RM_OK)
        fail_msg("reanalyse --jobs %u: %s", jobs, err.message);
    assert_int_equal(done, PARALLEL_SESSIONS);
    assert_int_equal(log.calls, PARALLEL_SESSIONS);
    assert_int_equal(log.failures, 0);
    return stored_analyses(f->lib, ids, PARALLEL_SESSIONS);
}

static void reanalyse_on_four_workers_stores_what_one_does(void **state)
{
    fixture *f = *state;
    char *paths[PARALLEL_SESSIONS];
    int64_t ids[PARALLEL_SESSIONS];
    for (size_t i = 0; i < PARALLEL_SESSIONS; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%zu.rms", i);
        paths[i] = make_session(f->dir, name, "C40", i % 2 ? RM_SIDE_LEFT
                                : RM_SIDE_RIGHT, T0_US + (int64_t)i * DAY_US,
                                40 + i);
        ids[i] = add(f->lib, paths[i], NULL);
    }
    char *as_added = stored_analyses(f->lib, ids, PARALLEL_SESSIONS);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.spot_min_score = 11; /* no spot qualifies: every session changes */

    char *serial = reanalysed(f, &cfg, 1, ids);
    assert_string_not_equal(serial, as_added);
    char *back = reanalysed(f, NULL, 1, ids);
    assert_string_equal(back, as_added);
    char *parallel = reanalysed(f, &cfg, 4, ids);
    assert_string_equal(parallel, serial);

    /* a missing file in the middle: named, the others still stored */
    unlink(paths[2]);
    progress_log log = {0};
    rm_library_reanalyse_options opt = reanalyse_options(NULL, 4, &log);
    size_t done = 0, failed = 0;
    rm_error err;
    assert_int_equal(rm_library_reanalyse(f->lib, NULL, &opt, &done, &failed,
                                          &err), RM_ERR_NOT_FOUND);
    assert_int_equal(done, PARALLEL_SESSIONS - 1);
    assert_int_equal(failed, 1);
    assert_int_equal(log.failures, 1);
    assert_non_null(strstr(log.failure, paths[2]));
    assert_non_null(strstr(err.message, paths[2]));
    rm_library_entry *e;
    assert_int_equal(rm_library_get(f->lib, ids[3], &e, &err), RM_OK);
    assert_true(e->spot_count > 0); /* the default again, after the gap */
    rm_library_entries_free(e, 1);
    for (size_t i = 0; i < PARALLEL_SESSIONS; i++)
        free(paths[i]);
    free(as_added);
    free(serial);
    free(back);
    free(parallel);
}

static double stored_duration(rm_library *lib, int64_t id, char *damage,
                              size_t cap)
{
    rm_library_entry *e;
    rm_error err;
    assert_int_equal(rm_library_get(lib, id, &e, &err), RM_OK);
    double duration = e->summary.duration_s;
    snprintf(damage, cap, "%s", e->damage);
    rm_library_entries_free(e, 1);
    return duration;
}

/* The file cut to a tenth, as a copy that stopped early would leave it. */
static void cut_file(const char *path)
{
    size_t len;
    uint8_t *bytes = testutil_read_file(path, &len);
    assert_non_null(bytes);
    assert_int_equal(testutil_write_file(path, bytes, len / 10), 0);
    free(bytes);
}

static void reanalyse_keeps_a_changed_file_s_rows_unless_forced(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "cut.rms", "C16", RM_SIDE_LEFT, T0_US,
                              19);
    int64_t id = add(f->lib, path, NULL);
    char damage[160];
    double whole = stored_duration(f->lib, id, damage, sizeof damage);
    assert_string_equal(damage, "");
    cut_file(path);
    size_t done = 0, failed = 0;
    rm_error err;
    assert_int_equal(rm_library_reanalyse(f->lib, NULL, NULL, &done, &failed,
                                          &err), RM_ERR_ARG);
    assert_int_equal(done, 0);
    assert_int_equal(failed, 1);
    assert_non_null(strstr(err.message, "changed since it was indexed"));
    assert_non_null(strstr(err.message, "--force"));
    assert_true(stored_duration(f->lib, id, damage, sizeof damage) == whole);

    rm_library_reanalyse_options forced = reanalyse_options(NULL, 1, NULL);
    forced.force = true;
    assert_int_equal(rm_library_reanalyse(f->lib, NULL, &forced, &done,
                                          &failed, &err), RM_OK);
    assert_int_equal(done, 1);
    assert_true(stored_duration(f->lib, id, damage, sizeof damage) < whole / 2);
    assert_non_null(strstr(damage, "no closing index"));
    free(path);
}

/* ---- session bytes in the database (session_data.c) ---- */

#define TEST_CHUNK 65536 /* small chunks: a 90 s session has dozens */

static rm_library_upload upload(rm_library *lib, const char *path)
{
    rm_library_upload u;
    rm_error err;
    if (library_upload_file(lib, path, TEST_CHUNK, &u, &err) != RM_OK)
        fail_msg("upload %s: %s", path, err.message);
    return u;
}

static size_t chunks_of(size_t len)
{
    return (len + TEST_CHUNK - 1) / TEST_CHUNK;
}

static void an_upload_sends_each_chunk_once_and_resumes(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "up.rms", "C20", RM_SIDE_LEFT, T0_US,
                              20);
    size_t len;
    uint8_t *before = testutil_read_file(path, &len);
    struct stat st0, st1;
    assert_int_equal(stat(path, &st0), 0);
    size_t count = chunks_of(len);
    assert_true(count > 4);

    rm_library_upload u = upload(f->lib, path);
    assert_string_equal(u.session_id, "C20-up.rms");
    assert_int_equal(u.chunks_sent, count);
    assert_int_equal(u.chunks_kept, 0);
    assert_true(u.complete);
    u = upload(f->lib, path);
    assert_int_equal(u.chunks_sent, 0);
    assert_int_equal(u.chunks_kept, count);

    /* an upload cut off after some chunks: the rest go, once */
    run_statement(f->lib, "DELETE FROM session_chunks WHERE idx >= 3");
    u = upload(f->lib, path);
    assert_int_equal(u.chunks_sent, count - 3);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM session_chunks"),
                     count);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM session_data"),
                     1);
    assert_int_equal(query_int(f->lib, "SELECT content_length FROM "
                                       "session_data"), len);

    /* the local file is only read */
    size_t after_len;
    uint8_t *after = testutil_read_file(path, &after_len);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, before, len);
    assert_true(st1.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
                st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec);
    free(after);
    free(before);
    free(path);
}

static void a_growing_recording_sends_only_its_new_chunks(void **state)
{
    fixture *f = *state;
    char *whole = make_session(f->dir, "whole.rms", "C21", RM_SIDE_RIGHT,
                               T0_US, 21);
    size_t len;
    uint8_t *bytes = testutil_read_file(whole, &len);
    char *path = testutil_path(f->dir, "growing.rms");
    size_t part = len / 2 + 100; /* inside a chunk */
    assert_int_equal(testutil_write_file(path, bytes, part), 0);
    rm_library_upload u = upload(f->lib, path);
    assert_false(u.complete);
    assert_int_equal(u.chunks_sent, chunks_of(part));
    rm_library_upload_state state_now;
    rm_error err;

    assert_int_equal(testutil_write_file(path, bytes, len), 0);
    assert_int_equal(rm_library_upload_state_get(f->lib, path, &state_now,
                                                 &err), RM_OK);
    assert_int_equal(state_now.local_bytes, len);
    assert_int_equal(state_now.stored_bytes,
                     rm_library_stores_data(f->lib) ? part : 0);
    u = upload(f->lib, path);
    assert_true(u.complete);
    /* the grown last chunk and the new ones */
    assert_int_equal(u.chunks_sent, chunks_of(len) - part / TEST_CHUNK);
    assert_int_equal(u.chunks_kept, part / TEST_CHUNK);
    free(bytes);
    free(whole);
    free(path);
}

static void a_fetched_session_equals_its_file_and_is_cached(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "fetch.rms", "C22", RM_SIDE_LEFT, T0_US,
                              22);
    upload(f->lib, path);
    char *cache = testutil_path(f->dir, "cache/sessions");
    char got[4096];
    rm_library_fetched r;
    rm_error err;
    assert_int_equal(rm_library_fetch_session(f->lib, "C22-fetch.rms", cache,
                                              got, sizeof got, &r, &err),
                     RM_OK);
    assert_false(r.from_cache);
    assert_int_equal(r.damaged_chunks, 0);
    size_t len, fetched_len;
    uint8_t *want = testutil_read_file(path, &len);
    uint8_t *have = testutil_read_file(got, &fetched_len);
    assert_int_equal(fetched_len, len);
    assert_memory_equal(have, want, len);
    struct stat sb;
    assert_int_equal(stat(got, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(cache, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(rm_library_fetch_session(f->lib, "C22-fetch.rms", cache,
                                              got, sizeof got, &r, &err),
                     RM_OK);
    assert_true(r.from_cache);
    assert_int_equal(rm_library_fetch_session(f->lib, "C99-none", cache, got,
                                              sizeof got, &r, &err),
                     RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "C99-none"));
    free(have);
    free(want);
    free(cache);
    free(path);
}

/* A byte of one stored chunk changed behind the library's back. */
static void damage_chunk(rm_library *lib, int idx)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             testutil_postgresql_server()
                 ? "UPDATE session_chunks SET bytes = set_byte(bytes, 7, "
                   "get_byte(bytes, 7) # 255) WHERE idx = %d"
                 : "UPDATE session_chunks SET bytes = substr(bytes, 1, 7) || "
                   "x'5a' || substr(bytes, 9) WHERE idx = %d", idx);
    run_statement(lib, sql);
}

static void a_damaged_chunk_is_named_and_the_rest_is_read(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "dmg.rms", "C23", RM_SIDE_LEFT, T0_US,
                              23);
    int64_t id = add(f->lib, path, NULL);
    upload(f->lib, path);
    damage_chunk(f->lib, 3);
    /* this machine does not have the file */
    char *moved = testutil_path(f->dir, "elsewhere.rms");
    assert_int_equal(rename(path, moved), 0);
    rm_library_entry *e;
    rm_error err;
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    char *cache = testutil_path(f->dir, "cache");
    char got[4096];
    rm_library_fetched r;
    assert_int_equal(rm_library_session_file(f->lib, e, cache, got,
                                             sizeof got, &r, &err), RM_OK);
    assert_int_equal(r.damaged_chunks, 1);
    char offset[64];
    snprintf(offset, sizeof offset, "chunk 3 (bytes %d-%d) fails its "
             "checksum", 3 * TEST_CHUNK, 4 * TEST_CHUNK - 1);
    assert_non_null(strstr(r.damage, "session C23-dmg.rms"));
    assert_non_null(strstr(r.damage, offset));

    rm_session *whole, *read;
    assert_int_equal(rm_session_open(&whole, moved, &err), RM_OK);
    assert_int_equal(rm_session_open(&read, got, &err), RM_OK);
    assert_int_equal(rm_session_verify(read, &err), RM_OK);
    const rm_integrity *in = rm_session_integrity(read);
    assert_true(in->blocks_skipped >= 1);
    uint64_t kept = rm_session_sample_count(read);
    uint64_t all = rm_session_sample_count(whole);
    assert_true(kept < all && kept > all * 8 / 10);
    rm_session_close(read);
    rm_session_close(whole);
    rm_library_entries_free(e, 1);
    free(cache);
    free(moved);
    free(path);
}

/* Chunk idx's bytes replaced by zeros, and its checksum with theirs. */
static void replace_chunk_and_its_crc(rm_library *lib, int idx)
{
    unsigned char *zeros = calloc(1, TEST_CHUNK);
    assert_non_null(zeros);
    library_stmt *stmt;
    rm_error err;
    assert_int_equal(library_prepare(lib, "UPDATE session_chunks SET "
                                     "bytes = ?, crc32c = ? WHERE idx = ?",
                                     &stmt, &err), RM_OK);
    library_bind_blob(stmt, 1, zeros, TEST_CHUNK);
    library_bind_int64(stmt, 2, rm_crc32c(0, zeros, TEST_CHUNK));
    library_bind_int64(stmt, 3, idx);
    assert_int_equal(library_step_done(lib, stmt, "replacing", &err), RM_OK);
    free(zeros);
}

static void checking_the_stored_bytes_names_damaged_chunks_and_content(
    void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "chk.rms", "C24", RM_SIDE_LEFT, T0_US,
                              24);
    add(f->lib, path, NULL);
    upload(f->lib, path);
    rm_library_fetched found;
    rm_error err;
    assert_int_equal(library_check_stored(f->lib, "C24-chk.rms", &found,
                                          &err), RM_OK);
    assert_string_equal(found.damage, "");
    assert_true(found.bytes > 4 * TEST_CHUNK);
    /* each chunk sound, the whole content not */
    replace_chunk_and_its_crc(f->lib, 2);
    assert_int_equal(library_check_stored(f->lib, "C24-chk.rms", &found,
                                          &err), RM_OK);
    assert_int_equal(found.damaged_chunks, 0);
    assert_non_null(strstr(found.damage, "session C24-chk.rms: its "));
    assert_non_null(strstr(found.damage, "fail the whole content's CRC-32C"));
    damage_chunk(f->lib, 3);
    assert_int_equal(library_check_stored(f->lib, "C24-chk.rms", &found,
                                          &err), RM_OK);
    assert_int_equal(found.damaged_chunks, 1);
    char chunk[96];
    snprintf(chunk, sizeof chunk, "session C24-chk.rms chunk 3 (bytes %d-%d) "
             "fails its checksum", 3 * TEST_CHUNK, 4 * TEST_CHUNK - 1);
    assert_string_equal(found.damage, chunk);
    /* a session with nothing stored is not damaged */
    assert_int_equal(library_check_stored(f->lib, "C99-none", &found, &err),
                     RM_OK);
    assert_string_equal(found.damage, "");
    free(path);
}

/* A damaged stored copy is written again from the file: only the chunks
 * that differ, then the whole content's checksum. */
static void rewriting_the_stored_bytes_repairs_them_from_the_file(
    void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "fix.rms", "C25", RM_SIDE_LEFT, T0_US,
                              25);
    rm_library_upload u = upload(f->lib, path);
    size_t chunks = u.chunks_sent;
    replace_chunk_and_its_crc(f->lib, 2);
    damage_chunk(f->lib, 3);
    rm_library_fetched found;
    rm_error err;
    assert_int_equal(library_rewrite_stored(f->lib, path, "C25-fix.rms", &u,
                                            &err), RM_OK);
    assert_int_equal(u.chunks_sent, 2);
    assert_int_equal(u.chunks_kept, chunks - 2);
    assert_int_equal(library_check_stored(f->lib, "C25-fix.rms", &found,
                                          &err), RM_OK);
    assert_string_equal(found.damage, "");
    assert_int_equal(library_rewrite_stored(f->lib, path, "C25-fix.rms", &u,
                                            &err), RM_OK);
    assert_int_equal(u.chunks_sent, 0);
    /* a file of another session is never written over this one */
    assert_int_equal(library_rewrite_stored(f->lib, path, "C99-other", &u,
                                            &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "holds session C25-fix.rms, not "
                                        "C99-other"));
    free(path);
}

/* A sweep trusts a closed file of the stored length; sync reads it. */
static void a_quick_state_trusts_a_closed_file_of_the_stored_length(
    void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "q.rms", "C26", RM_SIDE_LEFT, T0_US, 27);
    upload(f->lib, path);
    size_t len;
    uint8_t *bytes = testutil_read_file(path, &len);
    bytes[len / 2] ^= 0xff;
    assert_int_equal(testutil_write_file(path, bytes, len), 0);
    rm_library_upload_state quick, thorough;
    rm_error err;
    assert_int_equal(library_upload_state(f->lib, path, true, &quick, &err),
                     RM_OK);
    assert_int_equal(rm_library_upload_state_get(f->lib, path, &thorough,
                                                 &err), RM_OK);
    assert_false(quick.pending);
    assert_int_equal(thorough.pending, rm_library_stores_data(f->lib));
    free(bytes);
    free(path);
}

static void purge_also_removes_the_stored_bytes(void **state)
{
    fixture *f = *state;
    char *a = make_session(f->dir, "p1.rms", "C25", RM_SIDE_LEFT, T0_US, 25);
    char *b = make_session(f->dir, "p2.rms", "C25", RM_SIDE_LEFT, T0_US + 1,
                           26);
    int64_t ia = add(f->lib, a, NULL), ib = add(f->lib, b, NULL);
    upload(f->lib, a);
    upload(f->lib, b);
    int64_t a_chunks = query_int(f->lib, "SELECT count(*) FROM session_chunks "
                                         "WHERE session_id = 'C25-p1.rms'");
    rm_error err;
    assert_int_equal(rm_library_remove(f->lib, ia, false, &err), RM_OK);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM session_data"),
                     2);
    assert_int_equal(rm_library_remove(f->lib, ib, true, &err), RM_OK);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM session_data"),
                     1);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM session_chunks"),
                     a_chunks);
    free(a);
    free(b);
}

static void only_a_server_library_stores_the_bytes(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "pub.rms", "C24", RM_SIDE_LEFT, T0_US,
                              24);
    rm_library_upload u;
    rm_library_upload_state s;
    rm_error err;
    assert_int_equal(rm_library_upload_state_get(f->lib, path, &s, &err),
                     RM_OK);
    bool server = testutil_postgresql_server() != NULL;
    assert_int_equal(rm_library_stores_data(f->lib), server);
    assert_int_equal(s.pending, server);
    assert_int_equal(rm_library_upload_session(f->lib, path, &u, &err),
                     RM_OK);
    assert_int_equal(u.chunks_sent > 0, server);
    assert_int_equal(query_int(f->lib, "SELECT count(*) FROM session_data"),
                     server ? 1 : 0);
    assert_int_equal(rm_library_upload_state_get(f->lib, path, &s, &err),
                     RM_OK);
    assert_false(s.pending);
    if (server) /* chunks are not compressed again by the server */
        assert_int_equal(query_int(f->lib, "SELECT count(*) FROM pg_attribute "
                                           "WHERE attrelid = 'session_chunks'"
                                           "::regclass AND attname = 'bytes' "
                                           "AND attstorage = 'e'"), 1);
    free(path);
}

/* Fold the WAL into the database file so that its bytes are all there. */
static uint8_t *database_bytes(fixture *f, size_t *len)
{
    rm_library_close(f->lib);
    f->lib = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = DELETE", NULL,
                                  NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    uint8_t *bytes = testutil_read_file(f->db, len);
    assert_non_null(bytes);
    return bytes;
}

static void a_damaged_row_is_an_error_not_a_garbage_path(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "g.rms", "C17", RM_SIDE_LEFT, T0_US, 20);
    add(f->lib, path, NULL);
    size_t len, plen = strlen(path);
    uint8_t *bytes = database_bytes(f, &len);
    uint8_t *at = memmem(bytes, len, path, plen);
    assert_non_null(at);
    for (size_t i = 0; i < plen; i++)  /* same length: the record parses */
        at[i] = (uint8_t)(i * 7 + 1) % 32;
    assert_int_equal(testutil_write_file(f->db, bytes, len), 0);

    rm_error err;
    assert_int_equal(rm_library_open(&f->lib, f->db, &err), RM_OK);
    rm_library_entry *e;
    size_t n;
    assert_int_equal(rm_library_list(f->lib, NULL, &e, &n, &err),
                     RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "file path of session row 1"));
    assert_non_null(strstr(err.message, "rollmap library rebuild"));
    assert_int_equal(rm_library_get(f->lib, 1, &e, &err), RM_ERR_FORMAT);
    free(bytes);
    free(path);
}

static void nothing_is_written_into_a_database_that_fails_its_check(
    void **state)
{
    fixture *f = *state;
    char *a = make_session(f->dir, "h1.rms", "C18", RM_SIDE_LEFT, T0_US, 21);
    char *b = make_session(f->dir, "h2.rms", "C18", RM_SIDE_RIGHT, T0_US, 22);
    add(f->lib, a, NULL);
    size_t len;
    uint8_t *bytes = database_bytes(f, &len);
    size_t page = (size_t)bytes[16] << 8 | bytes[17];
    for (size_t i = len - page; i < len; i++)  /* the last page */
        bytes[i] = (uint8_t)(i * 13);
    assert_int_equal(testutil_write_file(f->db, bytes, len), 0);

    rm_error err;
    rm_library *lib;
    rm_status st = rm_library_open(&lib, f->db, &err);
    if (st == RM_OK) {
        st = rm_library_add(lib, b, NULL, &err);
        rm_library_close(lib);
    }
    assert_int_equal(st, RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "damaged"));
    assert_non_null(strstr(err.message, "rollmap library rebuild"));
    size_t after_len;
    uint8_t *after = testutil_read_file(f->db, &after_len);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, bytes, len);
    free(after);
    free(bytes);
    free(b);
    free(a);
}

typedef struct indexed_log {
    int ok, failed, retried, found, recovered;
    char last_error[512];
} indexed_log;

static void note_indexed(void *user, const rm_library_indexed *r)
{
    indexed_log *log = user;
    if (r->status == RM_OK && r->id > 0) {
        log->ok++;
        log->found += r->found;
        log->recovered += r->recovered;
    } else if (r->retrying) {
        log->retried++;
    } else {
        log->failed++;
        snprintf(log->last_error, sizeof log->last_error, "%s",
                 r->err->message);
    }
}

static rm_library_indexer *start_indexer(fixture *f, indexed_log *log)
{
    rm_library_indexer *ix;
    rm_error err;
    if (rm_library_indexer_start(&ix, f->db, note_indexed, log, &err) != RM_OK)
        fail_msg("indexer: %s", err.message);
    return ix;
}

static void the_indexer_adds_queued_files_before_it_stops(void **state)
{
    fixture *f = *state;
    char *a = make_session(f->dir, "i1.rms", "C13", RM_SIDE_LEFT, T0_US, 13);
    char *b = make_session(f->dir, "i2.rms", "C13", RM_SIDE_RIGHT, T0_US, 14);
    char *gone = testutil_path(f->dir, "never-recorded.rms");
    indexed_log log = {0};
    rm_library_indexer *ix = start_indexer(f, &log);
    rm_error err;
    assert_int_equal(rm_library_indexer_submit(ix, a, &err), RM_OK);
    assert_int_equal(rm_library_indexer_submit(ix, gone, &err), RM_OK);
    assert_int_equal(rm_library_indexer_submit(ix, b, &err), RM_OK);
    rm_library_indexer_stop(ix);
    assert_int_equal(log.ok, 2);
    assert_int_equal(log.failed, 1);
    assert_non_null(strstr(log.last_error, "never-recorded.rms"));
    rm_library_filter flt = {.client = "C13"};
    int64_t ids[4];
    assert_int_equal(list_ids(f->lib, &flt, ids), 2);
    free(gone);
    free(b);
    free(a);
}

/* Longer than the three tries (analysis, then up to 5 s for the lock) that
 * the indexer made before it gave up on a locked database. */
#define LOCK_HELD_S 25

static void *release_lock_later(void *other)
{
    sleep(LOCK_HELD_S);
    release_write_lock(other);
    return NULL;
}

/* Polls the library until it lists n sessions (the indexer thread works
 * on its own connection). */
static void wait_for_sessions(rm_library *lib, size_t n, int seconds)
{
    int64_t ids[16];
    for (int i = 0; i < seconds * 10 && list_ids(lib, NULL, ids) < n; i++)
        usleep(100000);
    assert_int_equal(list_ids(lib, NULL, ids), n);
}

static void the_indexer_retries_a_locked_database_until_the_file_is_added(
    void **state)
{
    fixture *f = *state;
    char *a = make_session(f->dir, "locked.rms", "C14", RM_SIDE_LEFT, T0_US,
                           15);
    lock_holder other = hold_write_lock(f);
    pthread_t releaser;
    assert_int_equal(pthread_create(&releaser, NULL, release_lock_later,
                                    &other), 0);
    indexed_log log = {0};
    rm_library_indexer *ix = start_indexer(f, &log);
    rm_error err;
    assert_int_equal(rm_library_indexer_submit(ix, a, &err), RM_OK);
    /* while locked, the state says one file waits and why */
    rm_library_indexer_state waiting = {0};
    for (int i = 0; i < 200 && !waiting.retrying; i++) {
        usleep(50000);
        rm_library_indexer_state_get(ix, &waiting);
    }
    assert_true(waiting.retrying);
    assert_int_equal(waiting.waiting, 1);
    assert_int_equal(waiting.unchecked, 0);   /* submitted: no sweep's */
    assert_non_null(strstr(waiting.problem, "is locked by another process"));
    wait_for_sessions(f->lib, 1, LOCK_HELD_S + 20);
    rm_library_indexer_state done;
    rm_library_indexer_state_get(ix, &done);
    for (int i = 0; i < 100 && done.waiting; i++) {  /* reporting the add */
        usleep(20000);
        rm_library_indexer_state_get(ix, &done);
    }
    rm_library_indexer_stop(ix);
    pthread_join(releaser, NULL);
    assert_int_equal(done.waiting, 0);
    assert_false(done.retrying);
    assert_int_equal(log.ok, 1);
    assert_int_equal(log.failed, 0);
    assert_true(log.retried >= 2);
    free(a);
}

/* A server that is not there: a socket folder without a server. */
static rm_library_indexer *start_unreachable_indexer(fixture *f,
                                                     indexed_log *log)
{
    char *target = NULL;
    assert_true(asprintf(&target, "host=%s/no-server dbname=rollmap",
                         f->dir) > 0);
    rm_library_indexer *ix;
    rm_error err;
    if (rm_library_indexer_start(&ix, target, note_indexed, log, &err) !=
        RM_OK)
        fail_msg("indexer: %s", err.message);
    free(target);
    return ix;
}

static rm_library_indexer_state retrying_state(rm_library_indexer *ix)
{
    rm_library_indexer_state state = {0};
    for (int i = 0; i < 200 && !state.retrying; i++) {
        usleep(50000);
        rm_library_indexer_state_get(ix, &state);
    }
    assert_true(state.retrying);
    return state;
}

static void a_recording_s_upload_and_its_add_wait_as_one_session(
    void **state)
{
    fixture *f = *state;
    char *a = testutil_path(f->dir, "recording.rms");
    char *b = testutil_path(f->dir, "next.rms");
    indexed_log log = {0};
    rm_library_indexer *ix = start_unreachable_indexer(f, &log);
    rm_error err;
    /* the recording's upload is under way (the server does not answer)
     * when the session ends and is queued to be added */
    assert_int_equal(rm_library_indexer_submit_upload(ix, a, &err), RM_OK);
    assert_int_equal(retrying_state(ix).waiting, 1);
    assert_int_equal(rm_library_indexer_submit(ix, a, &err), RM_OK);
    assert_int_equal(rm_library_indexer_submit_upload(ix, b, &err), RM_OK);
    rm_library_indexer_state waiting;
    rm_library_indexer_state_get(ix, &waiting);
    assert_int_equal(waiting.waiting, 2);
    assert_true(waiting.retrying);
    rm_library_indexer_stop(ix);
    assert_int_equal(log.ok, 0);
    free(b);
    free(a);
}

/* In a child process: a recorder killed mid-session. */
static void leave_unclosed_session(const char *dir, const char *name)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        write_session(dir, name, "C15", RM_SIDE_RIGHT, T0_US + 2, 17, false);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool closed_cleanly(const char *path)
{
    rm_session *s;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), RM_OK);
    bool closed = rm_session_integrity(s)->closed_cleanly;
    rm_session_close(s);
    return closed;
}

static void a_sweep_closes_unclosed_sessions_and_adds_files_without_a_row(
    void **state)
{
    fixture *f = *state;
    char *folder = testutil_path(f->dir, "sessions");
    assert_int_equal(mkdir(folder, 0700), 0);
    char *known = make_session(folder, "known.rms", "C15", RM_SIDE_LEFT,
                               T0_US, 16);
    char *rowless = make_session(folder, "rowless.rms", "C15", RM_SIDE_LEFT,
                                 T0_US + 1, 18);
    leave_unclosed_session(folder, "killed.rms");
    char *killed = testutil_path(folder, "killed.rms");
    assert_false(closed_cleanly(killed));
    add(f->lib, known, NULL);
    indexed_log log = {0};
    rm_library_indexer *ix = start_indexer(f, &log);
    rm_error err;
    assert_int_equal(rm_library_indexer_sweep(ix, folder, &err), RM_OK);
    wait_for_sessions(f->lib, 3, 60);
    rm_library_indexer_stop(ix);
    assert_int_equal(log.ok, 2);
    assert_int_equal(log.found, 2);
    assert_int_equal(log.recovered, 1);
    assert_true(closed_cleanly(killed));
    int64_t id;
    assert_int_equal(rm_library_resolve(f->lib, killed, &id, &err), RM_OK);
    assert_int_equal(rm_library_resolve(f->lib, rowless, &id, &err), RM_OK);
    free(killed);
    free(rowless);
    free(known);
    free(folder);
}

/* Whether a recorder could create (and so later finish) a session file
 * at path: it creates each file new, never opens one that exists. */
static bool recorder_can_create(const char *path)
{
    rm_sim_config c;
    rm_sim_config_default(&c);
    rm_error err;
    rm_sim *sim;
    if (rm_sim_new(&sim, &c, &err) != RM_OK)
        fail_msg("sim: %s", err.message);
    rm_session_meta meta = {.start_unix_us = T0_US};
    snprintf(meta.session_id, sizeof meta.session_id, "again");
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    rm_session_writer *w = NULL;
    rm_status st = rm_session_writer_create(&w, path, rm_sim_info(sim), &meta,
                                            &opt, &err);
    if (st == RM_OK)
        rm_session_writer_close(w, &err);
    rm_sim_free(sim);
    return st == RM_OK;
}

/* rollmapd sweeps its folder before its capture starts, then queues each
 * session its recorder ends. Could a file be both swept and queued, the
 * status would count it twice. It cannot: the sweep lists the folder at
 * once, and the recorder only creates files, so a file it ends was not
 * there to be listed. While the database is locked, of two swept files
 * the first has been looked up and waits, the second is unchecked; with
 * two sessions that ended after the sweep, three wait and one is
 * unchecked, and each is added once. */
static void sessions_that_end_after_a_sweep_are_counted_once_each(
    void **state)
{
    fixture *f = *state;
    char *folder = testutil_path(f->dir, "sessions");
    assert_int_equal(mkdir(folder, 0700), 0);
    char *old[2] = {
        make_session(folder, "old1.rms", "C16", RM_SIDE_LEFT, T0_US, 19),
        make_session(folder, "old2.rms", "C16", RM_SIDE_LEFT, T0_US + 1, 20)};
    lock_holder other = hold_write_lock(f);
    indexed_log log = {0};
    rm_library_indexer *ix = start_indexer(f, &log);
    rm_error err;
    assert_int_equal(rm_library_indexer_sweep(ix, folder, &err), RM_OK);
    for (int i = 0; i < 2; i++)
        assert_false(recorder_can_create(old[i]));
    char *ended[2] = {
        make_session(folder, "new1.rms", "C16", RM_SIDE_RIGHT, T0_US + 2, 21),
        make_session(folder, "new2.rms", "C16", RM_SIDE_RIGHT, T0_US + 3, 22)};
    for (int i = 0; i < 2; i++)
        assert_int_equal(rm_library_indexer_submit(ix, ended[i], &err), RM_OK);
    rm_library_indexer_state locked = retrying_state(ix);
    assert_int_equal(locked.waiting, 3);
    assert_int_equal(locked.unchecked, 1);
    release_write_lock(&other);
    wait_for_sessions(f->lib, 4, 60);
    rm_library_indexer_state done = {.waiting = 1};
    for (int i = 0; i < 100 && done.waiting; i++) {  /* reporting the add */
        usleep(20000);
        rm_library_indexer_state_get(ix, &done);
    }
    rm_library_indexer_stop(ix);
    assert_int_equal(done.waiting, 0);
    assert_int_equal(done.unchecked, 0);
    assert_int_equal(log.ok, 4);
    assert_int_equal(log.failed, 0);
    for (int i = 0; i < 2; i++) {
        free(ended[i]);
        free(old[i]);
    }
    free(folder);
}

enum { WRITERS = 2, WRITES = 150 };

/* A child process: its own connection, one tag per transaction. */
static int write_tags(const char *db, int64_t id, int writer)
{
    rm_library *lib;
    rm_error err;
    if (rm_library_open(&lib, db, &err) != RM_OK)
        return 1;
    for (int i = 0; i < WRITES; i++) {
        char key[32];
        snprintf(key, sizeof key, "w%d-%d", writer, i);
        if (rm_library_set_tag(lib, id, key, "x", &err) != RM_OK) {
            fprintf(stderr, "writer %d: %s\n", writer, err.message);
            rm_library_close(lib);
            return 1;
        }
    }
    rm_library_close(lib);
    return 0;
}

static void two_processes_write_without_losing_rows(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "w.rms", "C08", RM_SIDE_LEFT, T0_US, 9);
    int64_t id = add(f->lib, path, NULL);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0)
            _exit(write_tags(f->db, id, w));
    }
    /* meanwhile this process reads and adds */
    char *other = make_session(f->dir, "w2.rms", "C08", RM_SIDE_RIGHT,
                               T0_US + 1, 10);
    add(f->lib, other, NULL);
    for (int w = 0; w < WRITERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    rm_library_entry *e;
    rm_error err;
    assert_int_equal(rm_library_get(f->lib, id, &e, &err), RM_OK);
    assert_int_equal(e->tag_count, WRITERS * WRITES);
    rm_library_entries_free(e, 1);
    free(other);
    free(path);
}

static void a_locked_database_is_a_clear_error(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "l.rms", "C09", RM_SIDE_LEFT, T0_US, 11);
    int64_t id = add(f->lib, path, NULL);
    lock_holder other = hold_write_lock(f);
    rm_error err;
    assert_int_equal(rm_library_set_tag(f->lib, id, "k", "v", &err),
                     RM_ERR_BUSY);
    assert_non_null(strstr(err.message, "is locked by another process"));
    assert_non_null(strstr(err.message, rm_library_path(f->lib)));
    /* readers are not held up by a writer, nor is opening one */
    rm_library *reader;
    assert_int_equal(rm_library_open(&reader, f->db, &err), RM_OK);
    rm_library_entry *e;
    size_t n;
    assert_int_equal(rm_library_list(reader, NULL, &e, &n, &err), RM_OK);
    assert_int_equal(n, 1);
    rm_library_entries_free(e, n);
    rm_library_close(reader);
    release_write_lock(&other);
    assert_int_equal(rm_library_set_tag(f->lib, id, "k", "v", &err), RM_OK);
    free(path);
}

static void a_file_that_is_no_database_is_a_clear_error(void **state)
{
    fixture *f = *state;
    char *bad = testutil_path(f->dir, "garbage.db");
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 37 + 11);
    assert_int_equal(testutil_write_file(bad, junk, sizeof junk), 0);
    rm_library *lib;
    rm_error err;
    assert_int_equal(rm_library_open(&lib, bad, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, bad));
    assert_non_null(strstr(err.message, "damaged"));
    size_t len;
    uint8_t *after = testutil_read_file(bad, &len);
    assert_int_equal(len, sizeof junk);
    assert_memory_equal(after, junk, len);
    free(after);
    free(bad);
}

static void a_damaged_page_is_a_clear_error_not_a_crash(void **state)
{
    fixture *f = *state;
    char *path = make_session(f->dir, "k.rms", "C12", RM_SIDE_LEFT, T0_US, 12);
    add(f->lib, path, NULL);
    /* scribble over everything after the header page */
    size_t len;
    uint8_t *bytes = database_bytes(f, &len);
    size_t page = (size_t)bytes[16] << 8 | bytes[17];
    assert_true(len > 2 * page);
    for (size_t i = page; i < len; i++)
        bytes[i] = (uint8_t)(i * 13);
    assert_int_equal(testutil_write_file(f->db, bytes, len), 0);

    rm_error err;
    rm_status st = rm_library_open(&f->lib, f->db, &err);
    if (st == RM_OK) {
        rm_library_entry *e;
        size_t n;
        st = rm_library_list(f->lib, NULL, &e, &n, &err);
    }
    assert_int_equal(st, RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, f->db));
    assert_non_null(strstr(err.message, "damaged"));
    free(bytes);
    free(path);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest both_backends[] = {
        T(a_version_1_database_is_migrated_with_its_rows),
        T(the_previous_release_s_database_is_migrated),
        T(a_newer_schema_is_refused),
        T(adding_twice_keeps_one_session),
        T(the_stored_analysis_equals_the_analysis),
        T(filters_select_client_side_dates_and_last),
        T(a_page_skips_the_newest_and_count_ignores_paging),
        T(clients_sum_up_each_code_first_and_last),
        T(tags_are_set_replaced_and_removed),
        T(remove_keeps_the_file_unless_purged),
        T(check_finds_changed_and_missing_files),
        T(set_meta_writes_the_file_and_the_rows_keeping_id_and_tags),
        T(set_meta_on_a_missing_file_names_it_and_keeps_the_rows),
        T(reanalyse_applies_a_new_configuration),
        T(reanalyse_on_four_workers_stores_what_one_does),
        T(the_indexer_adds_queued_files_before_it_stops),
        T(two_processes_write_without_losing_rows),
        T(a_locked_database_is_a_clear_error),
        T(the_indexer_retries_a_locked_database_until_the_file_is_added),
        T(a_recording_s_upload_and_its_add_wait_as_one_session),
        T(a_sweep_closes_unclosed_sessions_and_adds_files_without_a_row),
        T(sessions_that_end_after_a_sweep_are_counted_once_each),
        T(reanalyse_keeps_a_changed_file_s_rows_unless_forced),
        T(an_upload_sends_each_chunk_once_and_resumes),
        T(a_growing_recording_sends_only_its_new_chunks),
        T(a_fetched_session_equals_its_file_and_is_cached),
        T(a_damaged_chunk_is_named_and_the_rest_is_read),
        T(checking_the_stored_bytes_names_damaged_chunks_and_content),
        T(rewriting_the_stored_bytes_repairs_them_from_the_file),
        T(a_quick_state_trusts_a_closed_file_of_the_stored_length),
        T(purge_also_removes_the_stored_bytes),
        T(only_a_server_library_stores_the_bytes),
    };
    /* SQLite's own file: its mode, WAL, and damaged pages */
    const struct CMUnitTest sqlite_file[] = {
        T(a_new_library_is_private_wal_and_current),
        T(a_file_that_is_no_database_is_a_clear_error),
        T(a_damaged_page_is_a_clear_error_not_a_crash),
        T(a_damaged_row_is_an_error_not_a_garbage_path),
        T(nothing_is_written_into_a_database_that_fails_its_check),
    };
#undef T
    int failed = cmocka_run_group_tests(both_backends, NULL, NULL);
    if (!testutil_postgresql_server())
        failed += cmocka_run_group_tests(sqlite_file, NULL, NULL);
    return failed;
}
