/* Adding sessions to the library and editing what it keeps about them. */
#include "library_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SQL_CAP 4096 /* longest generated statement (the session upsert) */

/* Columns of a session row that do not come from the field tables, in the
 * order bind_identity binds them. */
static const char *const identity_columns[] = {
    "session_id", "path", "client", "side", "muscle", "start_us", "notes",
    "device_model", "device_serial", "device_firmware", "device_kind",
    "sample_rate_hz", "channel_count", "has_position", "has_pressure",
    "file_size", "file_mtime_ns", "file_crc32c", "added_us", "analysed_us",
    "dwell_count", "spot_count", "mark_count", "spot_score_total",
    "spot_score_max", "damage",
};
#define IDENTITY_COUNT (sizeof identity_columns / sizeof identity_columns[0])

/* Kept by an update: the library's own edits and history. */
static bool kept_on_update(const char *column)
{
    return !strcmp(column, "session_id") || !strcmp(column, "notes") ||
           !strcmp(column, "added_us");
}

static const library_fields *const session_field_lists[] = {
    &library_summary_fields, &library_quality_fields, &library_config_fields,
};
#define FIELD_LIST_COUNT \
    (sizeof session_field_lists / sizeof session_field_lists[0])

static const library_table *const detail_tables[] = {
    &library_dwell_table, &library_spot_table, &library_mark_table,
    &library_profile_table,
};
#define DETAIL_COUNT (sizeof detail_tables / sizeof detail_tables[0])

static bool append(char *buf, size_t cap, const char *text)
{
    size_t used = strlen(buf), n = strlen(text);
    if (used + n >= cap)
        return false;
    memcpy(buf + used, text, n + 1);
    return true;
}

/* Append ", column = ?N": the value bound for the insert again, not
 * excluded.column, which PostgreSQL lets only a role that may read the
 * column use (a recorder may not: dist/clinic-roles.sql). */
static bool append_update(char *buf, size_t cap, const char *column,
                          size_t parameter)
{
    char number[24];
    snprintf(number, sizeof number, " = ?%zu", parameter);
    return append(buf, cap, ", ") && append(buf, cap, column) &&
           append(buf, cap, number);
}

/* "INSERT INTO sessions (...) VALUES (?...) ON CONFLICT(session_id) DO
 * UPDATE SET col = ?N, ...". */
static bool session_upsert_sql(char *sql, size_t cap)
{
    char columns[SQL_CAP] = "", updates[SQL_CAP] = "";
    size_t count = IDENTITY_COUNT;
    for (size_t i = 0; i < IDENTITY_COUNT; i++) {
        const char *c = identity_columns[i];
        if (!append(columns, sizeof columns, i ? ", " : "") ||
            !append(columns, sizeof columns, c) ||
            (!kept_on_update(c) &&
             !append_update(updates, sizeof updates, c, i + 1)))
            return false;
    }
    for (size_t i = 0; i < FIELD_LIST_COUNT; i++) {
        const library_fields *f = session_field_lists[i];
        if (!library_fields_columns(f, "", columns, sizeof columns))
            return false;
        for (size_t k = 0; k < f->count; k++)
            if (!append_update(updates, sizeof updates, f->fields[k].column,
                               count + k + 1))
                return false;
        count += f->count;
    }
    int n = snprintf(sql, cap, "INSERT INTO sessions (%s) VALUES (?", columns);
    for (size_t i = 1; n > 0 && (size_t)n < cap && i < count; i++)
        n += snprintf(sql + n, cap - (size_t)n, ", ?");
    /* updates starts with ", " */
    return n > 0 && (size_t)n < cap &&
           append(sql, cap, ") ON CONFLICT(session_id) DO UPDATE SET ") &&
           append(sql, cap, updates + 2);
}

static void spot_scores(const rm_analysis *a, double *total, double *max)
{
    *total = 0;
    *max = 0;
    for (size_t i = 0; i < a->spot_count; i++) {
        *total += a->spots[i].score;
        if (a->spots[i].score > *max)
            *max = a->spots[i].score;
    }
}

/* Binds identity_columns in their order; returns the next index. */
static int bind_identity(library_stmt *stmt, const rm_analysis *a,
                         const char *path, const library_file_stamp *stamp)
{
    const rm_session_meta *m = &a->meta;
    const rm_device_info *d = &a->device;
    double total, max;
    spot_scores(a, &total, &max);
    int64_t now = rm_wallclock_us();
    int i = 1;
    library_bind_text(stmt, i++, m->session_id);
    library_bind_text(stmt, i++, path);
    library_bind_text(stmt, i++, m->client);
    library_bind_int64(stmt, i++, m->side);
    library_bind_text(stmt, i++, m->muscle);
    library_bind_int64(stmt, i++, m->start_unix_us);
    library_bind_text(stmt, i++, m->notes);
    library_bind_text(stmt, i++, d->model);
    library_bind_text(stmt, i++, d->serial);
    library_bind_text(stmt, i++, d->firmware);
    library_bind_int64(stmt, i++, d->device_kind);
    library_bind_int64(stmt, i++, d->sample_rate_hz);
    library_bind_int64(stmt, i++, d->channel_count);
    library_bind_int64(stmt, i++, a->has_position);
    library_bind_int64(stmt, i++, a->has_pressure);
    library_bind_int64(stmt, i++, (int64_t)stamp->size);
    library_bind_int64(stmt, i++, stamp->mtime_ns);
    library_bind_int64(stmt, i++, stamp->crc32c);
    library_bind_int64(stmt, i++, now);
    library_bind_int64(stmt, i++, now);
    library_bind_int64(stmt, i++, (int64_t)a->dwell_count);
    library_bind_int64(stmt, i++, (int64_t)a->spot_count);
    library_bind_int64(stmt, i++, (int64_t)a->mark_count);
    library_bind_double(stmt, i++, total);
    library_bind_double(stmt, i++, max);
    library_bind_text(stmt, i++, stamp->damage);
    return i;
}

static rm_status upsert_session(rm_library *lib, const rm_analysis *a,
                                const char *path,
                                const library_file_stamp *stamp, rm_error *err)
{
    char sql[SQL_CAP * 2];
    if (!session_upsert_sql(sql, sizeof sql))
        return rm_error_set(err, RM_ERR_ARG, "library: session row too wide");
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    int i = bind_identity(stmt, a, path, stamp);
    i = library_fields_bind(stmt, i, &library_summary_fields, &a->summary);
    i = library_fields_bind(stmt, i, &library_quality_fields, &a->quality);
    library_fields_bind(stmt, i, &library_config_fields, &a->config);
    return library_step_done(lib, stmt, "storing a session", err);
}

static rm_status lookup_int64(rm_library *lib, const char *sql,
                              const char *text, int64_t *out, bool *found,
                              rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, text);
    int rc = library_step(stmt);
    *found = rc == LIBRARY_ROW;
    if (*found)
        *out = library_column_int64(stmt, 0);
    else if (rc != LIBRARY_DONE)
        st = library_sql_error(lib, "looking up", err);
    library_finalize(stmt);
    return st;
}

static rm_status delete_details(rm_library *lib, int64_t id, rm_error *err)
{
    rm_status st = RM_OK;
    for (size_t t = 0; st == RM_OK && t < DETAIL_COUNT; t++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE session = ?",
                 detail_tables[t]->name);
        library_stmt *stmt;
        st = library_prepare(lib, sql, &stmt, err);
        if (st != RM_OK)
            break;
        library_bind_int64(stmt, 1, id);
        st = library_step_done(lib, stmt, "replacing a session's rows", err);
    }
    return st;
}

static rm_status insert_rows(rm_library *lib, int64_t id,
                             const library_table *t, const void *rows,
                             size_t count, rm_error *err)
{
    char sql[SQL_CAP * 2], columns[SQL_CAP] = "session, idx";
    if (!library_fields_columns(&t->fields, "", columns, sizeof columns))
        return rm_error_set(err, RM_ERR_ARG, "library: %s row too wide",
                            t->name);
    int n = snprintf(sql, sizeof sql, "INSERT INTO %s (%s) VALUES (?, ?",
                     t->name, columns);
    for (size_t i = 0; i < t->fields.count; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", ?");
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    library_stmt *stmt = NULL;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    for (size_t r = 0; st == RM_OK && r < count; r++) {
        library_reset(stmt);
        library_bind_int64(stmt, 1, id);
        library_bind_int64(stmt, 2, (int64_t)r);
        library_fields_bind(stmt, 3, &t->fields,
                            (const char *)rows + r * t->stride);
        int rc = library_step(stmt);
        if (rc != LIBRARY_DONE)
            st = library_sql_error(lib, "storing rows",
                                   err);
    }
    library_finalize(stmt);
    return st;
}

static rm_status store_details(rm_library *lib, int64_t id,
                               const rm_analysis *a, rm_error *err)
{
    /* in the order of detail_tables */
    const struct { const void *rows; size_t count; } parts[DETAIL_COUNT] = {
        {a->dwells, a->dwell_count}, {a->spots, a->spot_count},
        {a->marks, a->mark_count}, {a->profile, a->bin_count},
    };
    rm_status st = delete_details(lib, id, err);
    for (size_t t = 0; st == RM_OK && t < DETAIL_COUNT; t++)
        st = insert_rows(lib, id, detail_tables[t], parts[t].rows,
                         parts[t].count, err);
    return st;
}

/* The session row and its detail rows, inside the caller's transaction;
 * *found false when the row cannot be read back (nothing more to do). */
static rm_status store_rows(rm_library *lib, const rm_analysis *a,
                            const char *path, const library_file_stamp *stamp,
                            int64_t *id, bool *found, rm_error *err)
{
    *found = false;
    rm_status st = upsert_session(lib, a, path, stamp, err);
    if (st == RM_OK)
        st = lookup_int64(lib, "SELECT id FROM sessions WHERE session_id = ?",
                          a->meta.session_id, id, found, err);
    if (st == RM_OK && *found)
        st = store_details(lib, *id, a, err);
    return st;
}

/* What the library itself keeps of a session besides its analysis: when
 * it was added and analysed, its notes, its tags (replacing any). */
static rm_status store_history(rm_library *lib, int64_t id,
                               const rm_library_entry *e, rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(
        lib, "UPDATE sessions SET added_us = ?2, analysed_us = ?3, "
             "notes = ?4 WHERE id = ?1", &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_int64(stmt, 1, id);
    library_bind_int64(stmt, 2, e->added_unix_us);
    library_bind_int64(stmt, 3, e->analysed_unix_us);
    library_bind_text(stmt, 4, e->notes ? e->notes : "");
    st = library_step_done(lib, stmt, "copying a session's notes", err);
    if (st == RM_OK)
        st = library_prepare(lib, "DELETE FROM tags WHERE session = ?", &stmt,
                             err);
    if (st == RM_OK) {
        library_bind_int64(stmt, 1, id);
        st = library_step_done(lib, stmt, "copying a session's tags", err);
    }
    for (size_t i = 0; st == RM_OK && i < e->tag_count; i++)
        st = rm_library_set_tag(lib, id, e->tags[i].key, e->tags[i].value,
                                err);
    return st;
}

/* One session in one transaction: its rows, then the tags its file's
 * notes carry (tags_from) or the history of the library it is copied
 * from (copied); either may be NULL. */
static rm_status store_session(rm_library *lib, const rm_analysis *a,
                               const char *path,
                               const library_file_stamp *stamp,
                               const rm_session *tags_from,
                               const rm_library_entry *copied, int64_t *id,
                               rm_error *err)
{
    rm_status st = library_begin_write(lib, err);
    if (st != RM_OK)
        return st;
    bool found;
    st = store_rows(lib, a, path, stamp, id, &found, err);
    if (st == RM_OK && found && tags_from)
        st = library_store_file_tags(lib, *id, tags_from, err);
    if (st == RM_OK && found && copied)
        st = store_history(lib, *id, copied, err);
    if (st == RM_OK)
        return library_commit(lib, err);
    library_rollback(lib);
    return st;
}

rm_status library_store_analysis(rm_library *lib, const rm_analysis *a,
                                 const char *path,
                                 const library_file_stamp *stamp,
                                 const rm_session *tags_from, int64_t *id,
                                 rm_error *err)
{
    return store_session(lib, a, path, stamp, tags_from, NULL, id, err);
}

rm_status library_store_entry(rm_library *lib, const rm_analysis *a,
                              const rm_library_entry *e, const char *path,
                              const library_file_stamp *stamp, int64_t *id,
                              rm_error *err)
{
    return store_session(lib, a, path, stamp, NULL, e, id, err);
}

/* What the library knows of a session id already. */
typedef struct known_session {
    bool found;
    int64_t id;
    char *path;
    library_file_stamp stamp;
} known_session;

static rm_status find_known(rm_library *lib, const char *session_id,
                            known_session *k, rm_error *err)
{
    memset(k, 0, sizeof *k);
    library_stmt *stmt;
    rm_status st = library_prepare(
        lib, "SELECT id, path, file_size, file_mtime_ns, file_crc32c "
             "FROM sessions WHERE session_id = ?", &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, session_id);
    int rc = library_step(stmt);
    if (rc == LIBRARY_ROW) {
        k->found = true;
        k->id = library_column_int64(stmt, 0);
        k->path = strdup(library_column_text(stmt, 1));
        k->stamp.size = (uint64_t)library_column_int64(stmt, 2);
        k->stamp.mtime_ns = library_column_int64(stmt, 3);
        k->stamp.crc32c = (uint32_t)library_column_int64(stmt, 4);
        if (!k->path)
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    } else if (rc != LIBRARY_DONE) {
        st = library_sql_error(lib, "looking up", err);
    }
    library_finalize(stmt);
    return st;
}

/* The file was copied, moved or touched: same bytes, new path or mtime. */
static rm_status update_location(rm_library *lib, int64_t id, const char *path,
                                 const library_file_stamp *stamp,
                                 rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(
        lib, "UPDATE sessions SET path = ?, file_mtime_ns = ? WHERE id = ?",
        &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, path);
    library_bind_int64(stmt, 2, stamp->mtime_ns);
    library_bind_int64(stmt, 3, id);
    return library_step_done(lib, stmt, "updating a session's file", err);
}

static rm_status analyse_file(rm_session *s, const rm_analysis_config *cfg,
                              rm_analysis **a, rm_error *err)
{
    rm_status st = rm_session_verify(s, err);
    return st == RM_OK ? rm_analyse_session(s, cfg, a, err) : st;
}

/* The outcome for a session already indexed, or RM_ERR_AGAIN when its file
 * must be analysed again. The content checksum is read only when the size
 * matches but the path or mtime do not. */
static rm_status try_unchanged(rm_library *lib, const known_session *k,
                               const char *path, library_file_stamp *stamp,
                               rm_library_add_outcome *outcome, rm_error *err)
{
    bool same_path = !strcmp(k->path, path);
    if (same_path && k->stamp.size == stamp->size &&
        k->stamp.mtime_ns == stamp->mtime_ns) {
        *outcome = RM_LIBRARY_UNCHANGED;
        return RM_OK;
    }
    if (k->stamp.size != stamp->size)
        return RM_ERR_AGAIN;
    rm_status st = library_file_crc(path, &stamp->crc32c, err);
    if (st != RM_OK)
        return st;
    if (stamp->crc32c != k->stamp.crc32c)
        return RM_ERR_AGAIN;
    *outcome = same_path ? RM_LIBRARY_UNCHANGED : RM_LIBRARY_UPDATED;
    return update_location(lib, k->id, path, stamp, err);
}

/* The file's checksum and analysis; stamp->damage says what the reader
 * could not read. */
static rm_status analyse_into(rm_session *s, const char *path,
                              library_file_stamp *stamp,
                              const rm_analysis_config *cfg, rm_analysis **a,
                              rm_error *err)
{
    rm_status st = library_file_crc(path, &stamp->crc32c, err);
    if (st == RM_OK)
        st = analyse_file(s, cfg, a, err);
    library_describe_damage(rm_session_integrity(s), stamp);
    return st;
}

static rm_status analyse_and_store(rm_library *lib, rm_session *s,
                                   const char *path,
                                   library_file_stamp *stamp,
                                   const rm_analysis_config *cfg,
                                   const rm_session *tags_from, int64_t *id,
                                   rm_error *err)
{
    rm_analysis *a = NULL;
    rm_status st = analyse_into(s, path, stamp, cfg, &a, err);
    if (st == RM_OK)
        st = library_store_analysis(lib, a, path, stamp, tags_from, id, err);
    rm_analysis_free(a);
    return st;
}

static rm_status index_session(rm_library *lib, rm_session *s,
                               const char *path, library_file_stamp *stamp,
                               const rm_analysis_config *cfg, int64_t *id,
                               rm_library_add_outcome *outcome, rm_error *err)
{
    const char *sid = rm_session_meta_of(s)->session_id;
    if (!sid[0])
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: the session has no session id", path);
    known_session k;
    rm_status st = find_known(lib, sid, &k, err);
    if (st == RM_OK && k.found) {
        *id = k.id;
        st = try_unchanged(lib, &k, path, stamp, outcome, err);
        if (st != RM_ERR_AGAIN) {
            free(k.path);
            return st;
        }
        st = RM_OK;
    }
    free(k.path);
    if (st != RM_OK)
        return st;
    *outcome = k.found ? RM_LIBRARY_UPDATED : RM_LIBRARY_ADDED;
    /* a new session takes the file's tags; one indexed before keeps the
     * library's, which may have been edited since */
    return analyse_and_store(lib, s, path, stamp, cfg, k.found ? NULL : s, id,
                             err);
}

static rm_status absolute_path(const char *path, char *out, rm_error *err)
{
    if (!realpath(path, out))
        return rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                            "%s: %s", path, strerror(errno));
    return RM_OK;
}

rm_status library_index_file(rm_library *lib, const char *session_path,
                             const rm_analysis_config *cfg, int64_t *id,
                             rm_library_add_outcome *outcome, rm_error *err)
{
    char path[PATH_MAX];
    library_file_stamp stamp;
    rm_status st = absolute_path(session_path, path, err);
    if (st == RM_OK)
        st = library_file_stat(path, &stamp, err);
    rm_session *s = NULL;
    if (st == RM_OK)
        st = rm_session_open(&s, path, err);
    if (st == RM_OK)
        st = index_session(lib, s, path, &stamp, cfg, id, outcome, err);
    rm_session_close(s);
    return st;
}

rm_status library_analyse_opened(library_analysed *out,
                                 const char *session_path,
                                 const rm_analysis_config *cfg, rm_error *err)
{
    rm_status st = absolute_path(session_path, out->path, err);
    if (st == RM_OK)
        st = library_file_stat(out->path, &out->stamp, err);
    if (st == RM_OK)
        st = analyse_into(out->session, out->path, &out->stamp, cfg,
                          &out->analysis, err);
    return st;
}

rm_status library_store_analysed(rm_library *lib, const library_analysed *in,
                                 int64_t *id, rm_error *err)
{
    known_session k;
    rm_status st = find_known(lib, rm_session_meta_of(in->session)->session_id,
                              &k, err);
    free(k.path);
    if (st == RM_OK)
        st = library_store_analysis(lib, in->analysis, in->path, &in->stamp,
                                    k.found ? NULL : in->session, id, err);
    return st;
}

void library_analysed_free(library_analysed *in)
{
    rm_analysis_free(in->analysis);
    rm_session_close(in->session);
    in->analysis = NULL;
    in->session = NULL;
}

rm_status rm_library_add_ex(rm_library *lib, const char *session_path,
                            const rm_analysis_config *cfg, int64_t *id,
                            rm_library_add_outcome *outcome, rm_error *err)
{
    int64_t ignored_id;
    rm_library_add_outcome ignored_outcome;
    return library_index_file(lib, session_path, cfg, id ? id : &ignored_id,
                              outcome ? outcome : &ignored_outcome, err);
}

rm_status rm_library_add(rm_library *lib, const char *session_path,
                         int64_t *id, rm_error *err)
{
    return rm_library_add_ex(lib, session_path, NULL, id, NULL, err);
}

/* ------------------------------------------------------------------------ */
/* Edits                                                                    */
/* ------------------------------------------------------------------------ */

static rm_status require_session(rm_library *lib, int64_t id, rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(lib, "SELECT 1 FROM sessions WHERE id = ?",
                                   &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_int64(stmt, 1, id);
    int rc = library_step(stmt);
    library_finalize(stmt);
    if (rc == LIBRARY_ROW)
        return RM_OK;
    if (rc != LIBRARY_DONE)
        return library_sql_error(lib, "looking up", err);
    return rm_error_set(err, RM_ERR_NOT_FOUND, "%s: no session with id %lld",
                        lib->path, (long long)id);
}

/* Run one edit statement on a session that must exist. */
static rm_status edit_session(rm_library *lib, int64_t id, const char *sql,
                              const char *a, const char *b, const char *doing,
                              rm_error *err)
{
    rm_status st = require_session(lib, id, err);
    library_stmt *stmt = NULL;
    if (st == RM_OK)
        st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_int64(stmt, 1, id);
    if (a)
        library_bind_text(stmt, 2, a);
    if (b)
        library_bind_text(stmt, 3, b);
    return library_step_done(lib, stmt, doing, err);
}

rm_status rm_library_set_tag(rm_library *lib, int64_t id, const char *key,
                             const char *value, rm_error *err)
{
    if (!key || !key[0] || strchr(key, '='))
        return rm_error_set(err, RM_ERR_ARG,
                            "tag key '%s': must be non-empty without '='",
                            key ? key : "");
    if (!value || !value[0])
        return edit_session(lib, id,
                            "DELETE FROM tags WHERE session = ?1 AND key = ?2",
                            key, NULL, "removing a tag", err);
    return edit_session(lib, id,
                        "INSERT INTO tags (session, key, value) "
                        "VALUES (?1, ?2, ?3) ON CONFLICT(session, key) "
                        "DO UPDATE SET value = ?3",
                        key, value, "setting a tag", err);
}

rm_status rm_library_set_notes(rm_library *lib, int64_t id, const char *notes,
                               rm_error *err)
{
    return edit_session(lib, id, "UPDATE sessions SET notes = ?2 WHERE id = ?1",
                        notes ? notes : "", NULL, "setting notes", err);
}

rm_status rm_library_set_client_name(rm_library *lib, const char *client,
                                     const char *display_name, rm_error *err)
{
    if (!client || !client[0])
        return rm_error_set(err, RM_ERR_ARG, "client code is empty");
    bool remove = !display_name || !display_name[0];
    library_stmt *stmt;
    rm_status st = library_prepare(
        lib, remove ? "DELETE FROM clients WHERE code = ?1"
                    : "INSERT INTO clients (code, display_name) VALUES (?1, ?2)"
                      " ON CONFLICT(code) DO UPDATE SET"
                      " display_name = excluded.display_name",
        &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, client);
    if (!remove)
        library_bind_text(stmt, 2, display_name);
    return library_step_done(lib, stmt, "naming a client", err);
}

static rm_status delete_file(const char *path, rm_error *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot delete: %s", path,
                            strerror(errno));
    return RM_OK;
}

/* The file goes only after the transaction that removed its rows has
 * committed: whatever fails, the recording itself is never the only thing
 * lost (a file left behind can be added again). */
rm_status rm_library_remove(rm_library *lib, int64_t id, bool purge,
                            rm_error *err)
{
    rm_library_entry *e = NULL;
    rm_status st = rm_library_get(lib, id, &e, err);
    if (st == RM_OK)
        st = library_begin_write(lib, err);
    if (st != RM_OK) {
        rm_library_entries_free(e, e ? 1 : 0);
        return st;
    }
    st = edit_session(lib, id, "DELETE FROM sessions WHERE id = ?1", NULL,
                      NULL, "removing a session", err);
    if (st == RM_OK && purge)
        st = library_drop_data(lib, e->session_id, err);
    if (st == RM_OK)
        st = library_commit(lib, err);
    else
        library_rollback(lib);
    if (st == RM_OK && purge)
        st = delete_file(e->path, err);
    rm_library_entries_free(e, 1);
    return st;
}

static bool all_digits(const char *text)
{
    if (!*text)
        return false;
    for (; *text; text++)
        if (*text < '0' || *text > '9')
            return false;
    return true;
}

rm_status rm_library_resolve(rm_library *lib, const char *text, int64_t *id,
                             rm_error *err)
{
    if (all_digits(text)) {
        *id = strtoll(text, NULL, 10);
        return require_session(lib, *id, err);
    }
    bool found = false;
    rm_status st = lookup_int64(lib,
                                "SELECT id FROM sessions WHERE session_id = ?",
                                text, id, &found, err);
    char path[PATH_MAX];
    if (st == RM_OK && !found && realpath(text, path))
        st = lookup_int64(lib, "SELECT id FROM sessions WHERE path = ?", path,
                          id, &found, err);
    if (st == RM_OK && !found)
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "%s: no session '%s' (give a library id, a "
                            "session id or an added file)", lib->path, text);
    return st;
}
