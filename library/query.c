/* Reading the library: lists of sessions and their stored analyses. */
#include "library_internal.h"

#include <stdlib.h>
#include <string.h>

#define SQL_CAP 4096 /* longest generated query */

/* Parameters of the filter's WHERE clause (numbered so that any subset
 * may appear). */
enum { P_CLIENT = 1, P_SIDE, P_MUSCLE, P_SINCE, P_UNTIL, P_LAST, P_ID,
       P_SKIP };

static const char entry_columns[] =
    "s.id, s.session_id, s.path, s.client, c.display_name, s.start_us,"
    " s.side, s.muscle, s.notes, s.device_model, s.device_serial,"
    " s.device_kind, s.sample_rate_hz, s.channel_count, s.has_position,"
    " s.has_pressure, s.dwell_count, s.spot_count, s.mark_count,"
    " s.spot_score_total, s.spot_score_max, s.file_size, s.file_mtime_ns,"
    " s.file_crc32c, s.added_us, s.analysed_us, s.damage";

/* " WHERE ..." for a filter and/or one id (id 0: any). */
static void filter_where(const rm_library_filter *f, int64_t id, char *buf,
                         size_t cap)
{
    buf[0] = '\0';
    const char *and = " WHERE ";
    size_t used = 0;
#define CLAUSE(cond, text)                                                   \
    if (cond) {                                                              \
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", and, text); \
        and = " AND ";                                                       \
    }
    CLAUSE(f && f->client, "s.client = ?1")
    CLAUSE(f && f->side, "s.side = ?2")
    CLAUSE(f && f->muscle, "s.muscle = ?3")
    CLAUSE(f && f->since_unix_us, "s.start_us >= ?4")
    CLAUSE(f && f->until_unix_us, "s.start_us < ?5")
    CLAUSE(id, "s.id = ?7")
#undef CLAUSE
}

static void filter_bind(library_stmt *stmt, const rm_library_filter *f,
                        int64_t id)
{
    if (id)
        library_bind_int64(stmt, P_ID, id);
    if (!f)
        return;
    if (f->client)
        library_bind_text(stmt, P_CLIENT, f->client);
    if (f->side)
        library_bind_int64(stmt, P_SIDE, f->side);
    if (f->muscle)
        library_bind_text(stmt, P_MUSCLE, f->muscle);
    if (f->since_unix_us)
        library_bind_int64(stmt, P_SINCE, f->since_unix_us);
    if (f->until_unix_us)
        library_bind_int64(stmt, P_UNTIL, f->until_unix_us);
    if (f->last) {
        library_bind_int64(stmt, P_LAST, (int64_t)f->last);
        library_bind_int64(stmt, P_SKIP, (int64_t)f->skip);
    }
}

/* With last, the newest N, oldest first; without, in no order (the
 * caller sorts: a server need not sort a whole library, often on disk,
 * and SQLite reads the rows in their stored order instead of one by one
 * along the index of start times). */
static bool entries_sql(const rm_library_filter *f, const char *where,
                        char *sql, size_t cap)
{
    char columns[SQL_CAP];
    snprintf(columns, sizeof columns, "%s", entry_columns);
    if (!library_fields_columns(&library_summary_fields, "s.", columns,
                                sizeof columns))
        return false;
    const char *from = "FROM sessions s LEFT JOIN clients c ON c.code = s.client";
    int n;
    if (f && f->last)
        n = snprintf(sql, cap,
                     "SELECT * FROM (SELECT %s %s%s ORDER BY s.start_us DESC,"
                     " s.id DESC LIMIT ?6 OFFSET ?8) AS newest ORDER BY start_us, id",
                     columns, from, where);
    else
        n = snprintf(sql, cap, "SELECT %s %s%s", columns, from, where);
    return n > 0 && (size_t)n < cap;
}

static void copy_text(char *dst, size_t cap, library_stmt *stmt, int col)
{
    const char *t = library_column_text(stmt, col);
    size_t n = t ? strlen(t) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* A malloc'd copy, or NULL for NULL and "". */
static char *dup_text(library_stmt *stmt, int col)
{
    const char *t = library_column_text(stmt, col);
    return t && t[0] ? strdup(t) : NULL;
}

static bool read_entry(library_stmt *stmt, rm_library_entry *e)
{
    int c = 0;
    e->id = library_column_int64(stmt, c++);
    copy_text(e->session_id, sizeof e->session_id, stmt, c++);
    e->path = dup_text(stmt, c++);
    copy_text(e->client, sizeof e->client, stmt, c++);
    e->display_name = dup_text(stmt, c++);
    e->start_unix_us = library_column_int64(stmt, c++);
    e->side = (uint8_t)library_column_int64(stmt, c++);
    copy_text(e->muscle, sizeof e->muscle, stmt, c++);
    e->notes = dup_text(stmt, c++);
    copy_text(e->device_model, sizeof e->device_model, stmt, c++);
    copy_text(e->device_serial, sizeof e->device_serial, stmt, c++);
    e->device_kind = (uint8_t)library_column_int64(stmt, c++);
    e->sample_rate_hz = (uint32_t)library_column_int64(stmt, c++);
    e->channel_count = (uint8_t)library_column_int64(stmt, c++);
    e->has_position = library_column_int64(stmt, c++) != 0;
    e->has_pressure = library_column_int64(stmt, c++) != 0;
    e->dwell_count = (size_t)library_column_int64(stmt, c++);
    e->spot_count = (size_t)library_column_int64(stmt, c++);
    e->mark_count = (size_t)library_column_int64(stmt, c++);
    e->spot_score_total = library_column_double(stmt, c++);
    e->spot_score_max = library_column_double(stmt, c++);
    e->file_size = (uint64_t)library_column_int64(stmt, c++);
    e->file_mtime_ns = library_column_int64(stmt, c++);
    e->file_crc32c = (uint32_t)library_column_int64(stmt, c++);
    e->added_unix_us = library_column_int64(stmt, c++);
    e->analysed_unix_us = library_column_int64(stmt, c++);
    copy_text(e->damage, sizeof e->damage, stmt, c++);
    library_fields_read(stmt, c, &library_summary_fields, &e->summary);
    return e->path != NULL;
}

/* Grow an array of elem-sized items to hold one more. */
static bool grow(void **items, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t want = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, want * elem);
    if (!p)
        return false;
    memset((char *)p + *cap * elem, 0, (want - *cap) * elem);
    *items = p;
    *cap = want;
    return true;
}

/* Text the library wrote has no control characters. */
static bool plain_text(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; p && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Which field of a row read back cannot be what the library stored: a
 * damaged page whose bytes still parse as a record. NULL when none. */
static const char *damaged_field(const rm_library_entry *e)
{
    if (!e->session_id[0] || !plain_text(e->session_id))
        return "session id";
    if (e->path[0] != '/' || !plain_text(e->path))
        return "file path";
    if (!plain_text(e->client))
        return "client";
    if (!plain_text(e->muscle))
        return "muscle";
    if (e->side > RM_SIDE_RIGHT)
        return "side";
    return NULL;
}

static rm_status check_entry(rm_library *lib, const rm_library_entry *e,
                             rm_error *err)
{
    const char *field = damaged_field(e);
    if (!field)
        return RM_OK;
    char detail[96];
    snprintf(detail, sizeof detail, "the %s of session row %lld is not what "
             "was stored", field, (long long)e->id);
    return library_damaged(lib->path, detail, "listing sessions", err);
}

static rm_status read_entries(rm_library *lib, library_stmt *stmt,
                              rm_library_entry **out, size_t *n, rm_error *err)
{
    void *items = NULL;
    size_t count = 0, cap = 0;
    rm_status st = RM_OK;
    int rc;
    while (st == RM_OK && (rc = library_step(stmt)) == LIBRARY_ROW) {
        if (!grow(&items, &cap, count, sizeof(rm_library_entry)) ||
            !read_entry(stmt, (rm_library_entry *)items + count++))
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
        else
            st = check_entry(lib, (rm_library_entry *)items + count - 1, err);
    }
    if (st == RM_OK && rc != LIBRARY_DONE)
        st = library_sql_error(lib, "listing sessions", err);
    if (st != RM_OK) {
        rm_library_entries_free(items, count);
        return st;
    }
    *out = items;
    *n = count;
    return RM_OK;
}

static int oldest_first(const void *a, const void *b)
{
    const rm_library_entry *x = a, *y = b;
    if (x->start_unix_us != y->start_unix_us)
        return x->start_unix_us < y->start_unix_us ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int compare_by_id(const void *a, const void *b)
{
    int64_t x = (*(rm_library_entry *const *)a)->id;
    int64_t y = (*(rm_library_entry *const *)b)->id;
    return (x > y) - (x < y);
}

static rm_library_entry *find_by_id(rm_library_entry **by_id, size_t n,
                                    int64_t id)
{
    rm_library_entry key = {.id = id}, *k = &key;
    rm_library_entry **hit = bsearch(&k, by_id, n, sizeof *by_id,
                                     compare_by_id);
    return hit ? *hit : NULL;
}

static bool add_tag(rm_library_entry *e, library_stmt *stmt)
{
    rm_library_tag *t = realloc(e->tags, (e->tag_count + 1) * sizeof *t);
    if (!t)
        return false;
    e->tags = t;
    t += e->tag_count;
    t->key = strdup(library_column_text(stmt, 1));
    t->value = strdup(library_column_text(stmt, 2));
    e->tag_count++;
    return t->key && t->value;
}

/* The listed sessions by id, for the tags to find theirs. */
static rm_library_entry **index_by_id(rm_library_entry *items, size_t n)
{
    rm_library_entry **by_id = malloc((n ? n : 1) * sizeof *by_id);
    if (!by_id)
        return NULL;
    for (size_t i = 0; i < n; i++)
        by_id[i] = &items[i];
    qsort(by_id, n, sizeof *by_id, compare_by_id);
    return by_id;
}

/* Tags of the listed sessions, in one query over the same filter; the
 * index by id is made only when there is a tag to place. */
static rm_status read_tags(rm_library *lib, library_stmt *stmt,
                           rm_library_entry *items, size_t n, rm_error *err)
{
    rm_library_entry **by_id = NULL;
    rm_status st = RM_OK;
    int rc;
    while (st == RM_OK && (rc = library_step(stmt)) == LIBRARY_ROW) {
        if (!by_id && !(by_id = index_by_id(items, n))) {
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
            break;
        }
        rm_library_entry *e =
            find_by_id(by_id, n, library_column_int64(stmt, 0));
        if (e && !add_tag(e, stmt))
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    if (st == RM_OK && rc != LIBRARY_DONE)
        st = library_sql_error(lib, "reading tags", err);
    free(by_id);
    return st;
}

static rm_status attach_tags(rm_library *lib, const rm_library_filter *f,
                             int64_t id, const char *where,
                             rm_library_entry *items, size_t n, rm_error *err)
{
    char sql[SQL_CAP];
    snprintf(sql, sizeof sql,
             "SELECT session, key, value FROM tags WHERE session IN "
             "(SELECT s.id FROM sessions s%s) ORDER BY session, key", where);
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st == RM_OK) {
        filter_bind(stmt, f, id);
        st = read_tags(lib, stmt, items, n, err);
        library_finalize(stmt);
    }
    return st;
}

static rm_status query_entries(rm_library *lib, const rm_library_filter *f,
                               int64_t id, rm_library_entry **out, size_t *n,
                               rm_error *err)
{
    char where[512], sql[SQL_CAP * 2];
    filter_where(f, id, where, sizeof where);
    if (!entries_sql(f, where, sql, sizeof sql))
        return rm_error_set(err, RM_ERR_ARG, "library: query too long");
    library_stmt *stmt;
    /* One read transaction: the tags belong to the same snapshot. */
    rm_status st = library_begin_read(lib, err);
    if (st != RM_OK)
        return st;
    st = library_prepare(lib, sql, &stmt, err);
    if (st == RM_OK) {
        filter_bind(stmt, f, id);
        st = read_entries(lib, stmt, out, n, err);
        library_finalize(stmt);
    }
    if (st == RM_OK && *n > 1)   /* no list at all is NULL */
        qsort(*out, *n, sizeof **out, oldest_first);
    if (st == RM_OK) {
        st = attach_tags(lib, f, id, where, *out, *n, err);
        if (st != RM_OK)
            rm_library_entries_free(*out, *n);
    }
    library_rollback(lib);
    return st;
}

rm_status rm_library_list(rm_library *lib, const rm_library_filter *f,
                          rm_library_entry **out, size_t *n, rm_error *err)
{
    *out = NULL;
    *n = 0;
    return query_entries(lib, f, 0, out, n, err);
}

rm_status rm_library_count(rm_library *lib, const rm_library_filter *f,
                           size_t *n, rm_error *err)
{
    char where[512], sql[640];
    filter_where(f, 0, where, sizeof where);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sessions s%s", where);
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    rm_library_filter without_paging = f ? *f : (rm_library_filter){0};
    without_paging.last = 0;
    filter_bind(stmt, &without_paging, 0);
    int rc = library_step(stmt);
    if (rc == LIBRARY_ROW)
        *n = (size_t)library_column_int64(stmt, 0);
    else
        st = library_sql_error(lib, "counting sessions", err);
    library_finalize(stmt);
    return st;
}

/* Per client: count, first and last start, and the spot score totals of
 * the first and last session (the index on (client, start_us) makes the
 * two lookups cheap). */
static const char clients_sql[] =
    "SELECT g.client, c.display_name, g.n, g.first_us, g.last_us,"
    " (SELECT spot_score_total FROM sessions WHERE client = g.client"
    "  ORDER BY start_us, id LIMIT 1),"
    " (SELECT spot_score_total FROM sessions WHERE client = g.client"
    "  ORDER BY start_us DESC, id DESC LIMIT 1)"
    " FROM (SELECT client, COUNT(*) AS n, MIN(start_us) AS first_us,"
    "       MAX(start_us) AS last_us FROM sessions GROUP BY client) g"
    " LEFT JOIN clients c ON c.code = g.client ORDER BY g.client";

static bool read_client(library_stmt *stmt, rm_library_client *c)
{
    copy_text(c->code, sizeof c->code, stmt, 0);
    const char *name = library_column_text(stmt, 1);
    c->display_name = dup_text(stmt, 1);
    c->sessions = (size_t)library_column_int64(stmt, 2);
    c->first_unix_us = library_column_int64(stmt, 3);
    c->last_unix_us = library_column_int64(stmt, 4);
    c->first_score_total = library_column_double(stmt, 5);
    c->last_score_total = library_column_double(stmt, 6);
    return !(name && name[0]) || c->display_name; /* false: out of memory */
}

rm_status rm_library_clients(rm_library *lib, rm_library_client **out,
                             size_t *n, rm_error *err)
{
    *out = NULL;
    *n = 0;
    library_stmt *stmt;
    rm_status st = library_prepare(lib, clients_sql, &stmt, err);
    if (st != RM_OK)
        return st;
    void *items = NULL;
    size_t count = 0, cap = 0;
    int rc;
    while (st == RM_OK && (rc = library_step(stmt)) == LIBRARY_ROW) {
        if (!grow(&items, &cap, count, sizeof(rm_library_client)) ||
            !read_client(stmt, (rm_library_client *)items + count++))
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    if (st == RM_OK && rc != LIBRARY_DONE)
        st = library_sql_error(lib, "listing clients", err);
    library_finalize(stmt);
    if (st != RM_OK) {
        rm_library_clients_free(items, count);
        return st;
    }
    *out = items;
    *n = count;
    return RM_OK;
}

void rm_library_clients_free(rm_library_client *clients, size_t n)
{
    for (size_t i = 0; clients && i < n; i++)
        free(clients[i].display_name);
    free(clients);
}

rm_status rm_library_get(rm_library *lib, int64_t id, rm_library_entry **out,
                         rm_error *err)
{
    size_t n = 0;
    *out = NULL;
    rm_status st = query_entries(lib, NULL, id, out, &n, err);
    if (st == RM_OK && n == 0)
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "%s: no session with id %lld", lib->path,
                            (long long)id);
    return st;
}

void rm_library_entries_free(rm_library_entry *entries, size_t n)
{
    for (size_t i = 0; entries && i < n; i++) {
        rm_library_entry *e = &entries[i];
        free(e->path);
        free(e->display_name);
        free(e->notes);
        for (size_t t = 0; t < e->tag_count; t++) {
            free(e->tags[t].key);
            free(e->tags[t].value);
        }
        free(e->tags);
    }
    free(entries);
}

/* ------------------------------------------------------------------------ */
/* The stored analysis                                                      */
/* ------------------------------------------------------------------------ */

static const char analysis_columns[] =
    "session_id, client, side, muscle, start_us, notes, device_model,"
    " device_serial, device_firmware, device_kind, sample_rate_hz,"
    " channel_count, has_position, has_pressure";

static void read_analysis_row(library_stmt *stmt, rm_analysis *a)
{
    int c = 0;
    rm_session_meta *m = &a->meta;
    rm_device_info *d = &a->device;
    copy_text(m->session_id, sizeof m->session_id, stmt, c++);
    copy_text(m->client, sizeof m->client, stmt, c++);
    m->side = (uint8_t)library_column_int64(stmt, c++);
    copy_text(m->muscle, sizeof m->muscle, stmt, c++);
    m->start_unix_us = library_column_int64(stmt, c++);
    copy_text(m->notes, sizeof m->notes, stmt, c++);
    copy_text(d->model, sizeof d->model, stmt, c++);
    copy_text(d->serial, sizeof d->serial, stmt, c++);
    copy_text(d->firmware, sizeof d->firmware, stmt, c++);
    d->device_kind = (uint8_t)library_column_int64(stmt, c++);
    d->sample_rate_hz = (uint32_t)library_column_int64(stmt, c++);
    d->channel_count = (uint8_t)library_column_int64(stmt, c++);
    a->has_position = library_column_int64(stmt, c++) != 0;
    a->has_pressure = library_column_int64(stmt, c++) != 0;
    c = library_fields_read(stmt, c, &library_summary_fields, &a->summary);
    c = library_fields_read(stmt, c, &library_quality_fields, &a->quality);
    library_fields_read(stmt, c, &library_config_fields, &a->config);
}

static rm_status load_session_row(rm_library *lib, int64_t id, rm_analysis *a,
                                  rm_error *err)
{
    char columns[SQL_CAP], sql[SQL_CAP + 64];
    snprintf(columns, sizeof columns, "%s", analysis_columns);
    if (!library_fields_columns(&library_summary_fields, "", columns,
                                sizeof columns) ||
        !library_fields_columns(&library_quality_fields, "", columns,
                                sizeof columns) ||
        !library_fields_columns(&library_config_fields, "", columns,
                                sizeof columns))
        return rm_error_set(err, RM_ERR_ARG, "library: query too long");
    snprintf(sql, sizeof sql, "SELECT %s FROM sessions WHERE id = ?", columns);
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_int64(stmt, 1, id);
    int rc = library_step(stmt);
    if (rc == LIBRARY_ROW)
        read_analysis_row(stmt, a);
    else if (rc == LIBRARY_DONE)
        st = rm_error_set(err, RM_ERR_NOT_FOUND, "%s: no session with id %lld",
                          lib->path, (long long)id);
    else
        st = library_sql_error(lib, "loading a session",
                               err);
    library_finalize(stmt);
    return st;
}

static rm_status load_rows(rm_library *lib, int64_t id, const library_table *t,
                           void **rows, size_t *count, rm_error *err)
{
    char columns[SQL_CAP] = "idx", sql[SQL_CAP + 128];
    if (!library_fields_columns(&t->fields, "", columns, sizeof columns))
        return rm_error_set(err, RM_ERR_ARG, "library: query too long");
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE session = ? ORDER BY idx",
             columns, t->name);
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_int64(stmt, 1, id);
    size_t cap = 0;
    int rc;
    while (st == RM_OK && (rc = library_step(stmt)) == LIBRARY_ROW) {
        if (!grow(rows, &cap, *count, t->stride))
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
        else
            library_fields_read(stmt, 1, &t->fields,
                                (char *)*rows + (*count)++ * t->stride);
    }
    if (st == RM_OK && rc != LIBRARY_DONE)
        st = library_sql_error(lib, "loading rows", err);
    library_finalize(stmt);
    return st;
}

static rm_status load_details(rm_library *lib, int64_t id, rm_analysis *a,
                              rm_error *err)
{
    void *dwells = NULL, *spots = NULL, *marks = NULL, *bins = NULL;
    rm_status st = load_rows(lib, id, &library_dwell_table, &dwells,
                             &a->dwell_count, err);
    if (st == RM_OK)
        st = load_rows(lib, id, &library_spot_table, &spots, &a->spot_count,
                       err);
    if (st == RM_OK)
        st = load_rows(lib, id, &library_mark_table, &marks, &a->mark_count,
                       err);
    if (st == RM_OK)
        st = load_rows(lib, id, &library_profile_table, &bins, &a->bin_count,
                       err);
    /* owned by a from here, also on failure (rm_analysis_free) */
    a->dwells = dwells;
    a->spots = spots;
    a->marks = marks;
    a->profile = bins;
    return st;
}

rm_status rm_library_load_analysis(rm_library *lib, int64_t id,
                                   rm_analysis **out, rm_error *err)
{
    *out = NULL;
    rm_analysis *a = calloc(1, sizeof *a);
    if (!a)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = library_begin_read(lib, err);
    if (st == RM_OK) {
        st = load_session_row(lib, id, a, err);
        if (st == RM_OK)
            st = load_details(lib, id, a, err);
        library_rollback(lib);
    }
    if (st != RM_OK) {
        rm_analysis_free(a);
        return st;
    }
    *out = a;
    return RM_OK;
}
