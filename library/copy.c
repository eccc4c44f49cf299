/* Copying a library into another (rollmap library copy): a room's SQLite
 * library into the clinic's PostgreSQL and back. Sessions are matched by
 * their session id, never by row id; each session's rows go in one
 * transaction, after its data, so a copy that is stopped anywhere leaves
 * whole sessions behind and a second run writes only what is missing. */
#include "library_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct copy_run {
    rm_library *from, *to;
    const char *folder;          /* where fetched session files go */
    rm_library_entry *have;      /* the target's sessions, by session id */
    size_t have_count;
    rm_library_copy_fn progress;
    void *user;
    rm_library_copy_totals *totals;
} copy_run;

static int by_session_id(const void *a, const void *b)
{
    return strcmp(((const rm_library_entry *)a)->session_id,
                  ((const rm_library_entry *)b)->session_id);
}

static const rm_library_entry *target_entry(const copy_run *run,
                                            const char *session_id)
{
    rm_library_entry key;
    snprintf(key.session_id, sizeof key.session_id, "%s", session_id);
    return bsearch(&key, run->have, run->have_count, sizeof key,
                   by_session_id);
}

static bool same_text(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static bool same_tags(const rm_library_entry *a, const rm_library_entry *b)
{
    if (a->tag_count != b->tag_count)
        return false;
    for (size_t i = 0; i < a->tag_count; i++)  /* both sorted by key */
        if (strcmp(a->tags[i].key, b->tags[i].key) ||
            strcmp(a->tags[i].value, b->tags[i].value))
            return false;
    return true;
}

/* Whether the target's row says what the copy would write. */
static bool same_row(const rm_library_entry *t, const rm_library_entry *e,
                     const char *path, const library_file_stamp *stamp)
{
    return same_text(t->path, path) && t->file_size == stamp->size &&
           t->file_mtime_ns == stamp->mtime_ns &&
           t->file_crc32c == stamp->crc32c &&
           !strcmp(t->damage, stamp->damage) &&
           t->added_unix_us == e->added_unix_us &&
           t->analysed_unix_us == e->analysed_unix_us &&
           !strcmp(t->client, e->client) && t->side == e->side &&
           !strcmp(t->muscle, e->muscle) && same_text(t->notes, e->notes) &&
           same_tags(t, e);
}

static void stamp_of_entry(const rm_library_entry *e, library_file_stamp *s)
{
    s->size = e->file_size;
    s->mtime_ns = e->file_mtime_ns;
    s->crc32c = e->file_crc32c;
    snprintf(s->damage, sizeof s->damage, "%s", e->damage);
}

/* The session's bytes into a target that keeps them (PostgreSQL): from
 * this machine's file, or fetched from the source's database. */
static rm_status upload_data(copy_run *run, const rm_library_entry *e,
                             rm_library_copied *c, rm_error *err)
{
    char file[4096];
    rm_status st = rm_library_session_file(run->from, e, NULL, file,
                                           sizeof file, NULL, err);
    rm_library_upload up = {0};
    if (st == RM_OK)
        st = rm_library_upload_session(run->to, file, &up, err);
    c->data_written = up.chunks_sent > 0;
    return st;
}

/* A target that names files (SQLite): this machine's file where it has
 * it, else the bytes from the source's database as folder/<session
 * id>.rms, with the stamp of that file. */
static rm_status place_file(copy_run *run, const rm_library_entry *e,
                            char *path, size_t cap, library_file_stamp *stamp,
                            rm_library_copied *c, rm_error *err)
{
    if (access(e->path, R_OK) == 0) {
        snprintf(path, cap, "%s", e->path);
        return RM_OK;
    }
    rm_library_fetched fetched;
    rm_status st = rm_make_dirs(run->folder, 0700, err);
    if (st == RM_OK)
        st = rm_library_fetch_session(run->from, e->session_id, run->folder,
                                      path, cap, &fetched, err);
    if (st == RM_OK)
        st = library_file_stat(path, stamp, err);
    if (st == RM_OK)
        st = library_file_crc(path, &stamp->crc32c, err);
    if (st != RM_OK)
        return st;
    /* what was unreadable, as much of it as the column holds */
    snprintf(stamp->damage, sizeof stamp->damage, "%.*s",
             (int)sizeof stamp->damage - 1,
             fetched.damaged_chunks ? fetched.damage : e->damage);
    c->data_written = !fetched.from_cache;
    return RM_OK;
}

/* The data where the target keeps it; path and stamp are what its row
 * will say. A session whose bytes are nowhere to be had is still copied
 * (its row, naming the file it had) and reported. */
static rm_status copy_data(copy_run *run, const rm_library_entry *e,
                           char *path, size_t cap, library_file_stamp *stamp,
                           rm_library_copied *c, rm_error *err)
{
    snprintf(path, cap, "%s", e->path);
    stamp_of_entry(e, stamp);
    rm_status st = rm_library_stores_data(run->to)
                       ? upload_data(run, e, c, err)
                       : place_file(run, e, path, cap, stamp, c, err);
    if (st == RM_ERR_NOT_FOUND) {
        snprintf(c->problem, sizeof c->problem, "%s", err->message);
        run->totals->data_missing++;
        return RM_OK;
    }
    return st;
}

static rm_status copy_rows(copy_run *run, const rm_library_entry *e,
                           const char *path, const library_file_stamp *stamp,
                           rm_library_copied *c, rm_error *err)
{
    const rm_library_entry *t = target_entry(run, e->session_id);
    if (t && same_row(t, e, path, stamp))
        return RM_OK;
    rm_analysis *a;
    rm_status st = rm_library_load_analysis(run->from, e->id, &a, err);
    if (st != RM_OK)
        return st;
    int64_t id;
    st = library_store_entry(run->to, a, e, path, stamp, &id, err);
    rm_analysis_free(a);
    c->rows_written = st == RM_OK;
    return st;
}

static rm_status copy_session(copy_run *run, const rm_library_entry *e,
                              rm_library_copied *c, rm_error *err)
{
    char path[4096];
    library_file_stamp stamp;
    rm_status st = copy_data(run, e, path, sizeof path, &stamp, c, err);
    if (st == RM_OK)
        st = copy_rows(run, e, path, &stamp, c, err);
    if (st != RM_OK)
        return st;
    run->totals->rows_written += c->rows_written;
    run->totals->data_written += c->data_written;
    return RM_OK;
}

static rm_status copy_sessions(copy_run *run, const rm_library_entry *all,
                               size_t n, rm_error *err)
{
    for (size_t i = 0; i < n; i++) {
        rm_library_copied c = {.entry = &all[i], .done = i + 1, .total = n};
        rm_status st = copy_session(run, &all[i], &c, err);
        if (st != RM_OK)
            return st;
        run->totals->sessions++;
        if (run->progress)
            run->progress(run->user, &c);
    }
    return RM_OK;
}

static const char *name_in(const rm_library_client *clients, size_t n,
                           const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(clients[i].code, code))
            return clients[i].display_name;
    return NULL;
}

/* Display names the target lacks or has otherwise. */
static rm_status copy_client_names(copy_run *run, rm_error *err)
{
    rm_library_client *from = NULL, *to = NULL;
    size_t nfrom = 0, nto = 0;
    rm_status st = rm_library_clients(run->from, &from, &nfrom, err);
    if (st == RM_OK)
        st = rm_library_clients(run->to, &to, &nto, err);
    for (size_t i = 0; st == RM_OK && i < nfrom; i++) {
        const char *name = from[i].display_name;
        if (!name || same_text(name, name_in(to, nto, from[i].code)))
            continue;
        st = rm_library_set_client_name(run->to, from[i].code, name, err);
        run->totals->names_written += st == RM_OK;
    }
    rm_library_clients_free(from, nfrom);
    rm_library_clients_free(to, nto);
    return st;
}

rm_status rm_library_copy(rm_library *from, rm_library *to,
                          const char *folder, rm_library_copy_fn progress,
                          void *user, rm_library_copy_totals *totals,
                          rm_error *err)
{
    memset(totals, 0, sizeof *totals);
    copy_run run = {.from = from, .to = to, .folder = folder,
                    .progress = progress, .user = user, .totals = totals};
    rm_library_entry *all = NULL;
    size_t n = 0;
    rm_status st = rm_library_list(from, NULL, &all, &n, err);
    if (st == RM_OK)
        st = rm_library_list(to, NULL, &run.have, &run.have_count, err);
    if (st == RM_OK) {
        qsort(run.have, run.have_count, sizeof *run.have, by_session_id);
        st = copy_sessions(&run, all, n, err);
    }
    if (st == RM_OK)
        st = copy_client_names(&run, err);
    rm_library_entries_free(all, n);
    rm_library_entries_free(run.have, run.have_count);
    return st;
}
