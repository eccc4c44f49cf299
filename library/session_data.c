/* Session files' bytes in the database, for a library that several
 * machines share (PostgreSQL): uploaded in chunks that each carry their
 * CRC-32C, and read back into a local cache file that the session reader
 * opens like any other. Tables: schema.c, version 5. */
#include "library_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the database holds of one session's content. */
typedef struct stored_content {
    bool found;
    uint64_t length;
    uint32_t crc;
    size_t chunk_bytes;
    bool complete;
} stored_content;

/* What the database holds of one chunk (nbytes 0: nothing). */
typedef struct chunk_sig {
    uint32_t crc;
    size_t nbytes;
} chunk_sig;

/* A local session file being uploaded or compared. */
typedef struct local_file {
    const char *path;
    char session_id[40];
    bool complete;
    int fd;
    uint64_t size;
} local_file;

bool rm_library_stores_data(const rm_library *lib)
{
    return lib->ops->stores_data;
}

static size_t chunk_count(uint64_t length, size_t chunk_bytes)
{
    return (size_t)((length + chunk_bytes - 1) / chunk_bytes);
}

/* The length of chunk idx of content of length bytes. */
static size_t chunk_length(uint64_t length, size_t chunk_bytes, size_t idx)
{
    uint64_t start = (uint64_t)idx * chunk_bytes;
    uint64_t left = length - start;
    return left < chunk_bytes ? (size_t)left : chunk_bytes;
}

static rm_status read_stored_content(rm_library *lib, const char *session_id,
                                     stored_content *c, rm_error *err)
{
    memset(c, 0, sizeof *c);
    library_stmt *stmt;
    rm_status st = library_prepare(
        lib, "SELECT content_length, content_crc32c, chunk_bytes, complete "
             "FROM session_data WHERE session_id = ?", &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, session_id);
    int rc = library_step(stmt);
    if (rc == LIBRARY_ROW) {
        c->found = true;
        c->length = (uint64_t)library_column_int64(stmt, 0);
        c->crc = (uint32_t)library_column_int64(stmt, 1);
        c->chunk_bytes = (size_t)library_column_int64(stmt, 2);
        c->complete = library_column_int64(stmt, 3) != 0;
    } else if (rc != LIBRARY_DONE) {
        st = library_sql_error(lib, "reading a session's stored length", err);
    }
    library_finalize(stmt);
    return st;
}

rm_status library_stored_file_get(rm_library *lib, const char *session_id,
                                  library_stored_file *out, rm_error *err)
{
    stored_content c;
    rm_status st = read_stored_content(lib, session_id, &c, err);
    *out = (library_stored_file){.length = c.length, .crc32c = c.crc};
    return st;
}

/* The chunks below count the database holds: held[idx]. */
static rm_status read_chunk_sigs(rm_library *lib, const char *session_id,
                                 size_t count, chunk_sig *held, rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(
        lib, "SELECT idx, crc32c, nbytes FROM session_chunks "
             "WHERE session_id = ? AND idx < ?", &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, session_id);
    library_bind_int64(stmt, 2, (int64_t)count);
    int rc;
    while ((rc = library_step(stmt)) == LIBRARY_ROW) {
        size_t idx = (size_t)library_column_int64(stmt, 0);
        held[idx].crc = (uint32_t)library_column_int64(stmt, 1);
        held[idx].nbytes = (size_t)library_column_int64(stmt, 2);
    }
    if (rc != LIBRARY_DONE)
        st = library_sql_error(lib, "reading which chunks are stored", err);
    library_finalize(stmt);
    return st;
}

/* Open the file, its session id and whether it was closed, then its
 * length: a file found closed does not grow, so a complete upload holds
 * all of it. */
static rm_status open_local(const char *path, local_file *f, rm_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = -1;
    rm_session *s;
    rm_status st = rm_session_open(&s, path, err);
    if (st != RM_OK)
        return st;
    snprintf(f->session_id, sizeof f->session_id, "%s",
             rm_session_meta_of(s)->session_id);
    f->complete = rm_session_integrity(s)->closed_cleanly;
    rm_session_close(s);
    if (!f->session_id[0])
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: the session has no session id", path);
    struct stat sb;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &sb) != 0)
        return rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                            "%s: %s", path, strerror(errno));
    f->size = (uint64_t)sb.st_size;
    return RM_OK;
}

static void close_local(local_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
}

/* n bytes at offset, all of them. */
static rm_status read_at(const local_file *f, void *buf, size_t n,
                         uint64_t offset, rm_error *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(f->fd, (char *)buf + done, n - done,
                            (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return rm_error_set(err, RM_ERR_IO, "%s: read failed at offset "
                                "%llu: %s", f->path,
                                (unsigned long long)(offset + done),
                                got < 0 ? strerror(errno) : "the file shrank");
        done += (size_t)got;
    }
    return RM_OK;
}

/* One chunk in its own transaction: an interrupted upload leaves whole
 * chunks behind, each matching its checksum. */
static rm_status put_chunk(rm_library *lib, const char *session_id,
                           size_t idx, const void *bytes, size_t n,
                           uint32_t crc, rm_error *err)
{
    rm_status st = library_begin_write(lib, err);
    library_stmt *stmt = NULL;
    if (st == RM_OK)
        st = library_prepare(
            lib, "INSERT INTO session_chunks "
                 "(session_id, idx, crc32c, nbytes, bytes) "
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(session_id, idx) "
                 "DO UPDATE SET crc32c = ?3, nbytes = ?4, bytes = ?5",
            &stmt, err);
    if (st == RM_OK) {
        library_bind_text(stmt, 1, session_id);
        library_bind_int64(stmt, 2, (int64_t)idx);
        library_bind_int64(stmt, 3, crc);
        library_bind_int64(stmt, 4, (int64_t)n);
        library_bind_blob(stmt, 5, bytes, n);
        st = library_step_done(lib, stmt, "storing a chunk of a session", err);
    }
    if (st == RM_OK)
        return library_commit(lib, err);
    library_rollback(lib);
    return st;
}

static rm_status run_with_text(rm_library *lib, const char *sql,
                               const char *session_id, int64_t number,
                               const char *doing, rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(lib, sql, &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, session_id);
    library_bind_int64(stmt, 2, number);
    return library_step_done(lib, stmt, doing, err);
}

/* The session's length and checksum, once its chunks are all stored;
 * chunks past its end (none unless the file shrank) go. */
static rm_status put_content(rm_library *lib, const local_file *f,
                             uint32_t crc, size_t chunk_bytes, rm_error *err)
{
    rm_status st = library_begin_write(lib, err);
    library_stmt *stmt = NULL;
    if (st == RM_OK)
        st = library_prepare(
            lib, "INSERT INTO session_data (session_id, content_length, "
                 "content_crc32c, chunk_bytes, complete, uploaded_us) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(session_id) "
                 "DO UPDATE SET content_length = ?2, content_crc32c = ?3, "
                 "chunk_bytes = ?4, complete = ?5, uploaded_us = ?6",
            &stmt, err);
    if (st == RM_OK) {
        library_bind_text(stmt, 1, f->session_id);
        library_bind_int64(stmt, 2, (int64_t)f->size);
        library_bind_int64(stmt, 3, crc);
        library_bind_int64(stmt, 4, (int64_t)chunk_bytes);
        library_bind_int64(stmt, 5, f->complete);
        library_bind_int64(stmt, 6, rm_wallclock_us());
        st = library_step_done(lib, stmt, "storing a session's length", err);
    }
    if (st == RM_OK)
        st = run_with_text(lib, "DELETE FROM session_chunks "
                                "WHERE session_id = ?1 AND idx >= ?2",
                           f->session_id,
                           (int64_t)chunk_count(f->size, chunk_bytes),
                           "removing chunks past the end", err);
    if (st == RM_OK)
        return library_commit(lib, err);
    library_rollback(lib);
    return st;
}

static bool same_content(const stored_content *c, const local_file *f,
                         uint32_t crc, size_t chunk_bytes)
{
    return c->found && c->length == f->size && c->crc == crc &&
           c->chunk_bytes == chunk_bytes && c->complete == f->complete;
}

/* Chunk idx's row (crc32c, nbytes, bytes) in *stmt when *found; the
 * caller finalizes *stmt after RM_OK. */
static rm_status select_chunk(rm_library *lib, const char *session_id,
                              size_t idx, library_stmt **stmt, bool *found,
                              rm_error *err)
{
    rm_status st = library_prepare_binary(
        lib, "SELECT crc32c, nbytes, bytes FROM session_chunks "
             "WHERE session_id = ? AND idx = ?", stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(*stmt, 1, session_id);
    library_bind_int64(*stmt, 2, (int64_t)idx);
    int rc = library_step(*stmt);
    *found = rc == LIBRARY_ROW;
    if (rc != LIBRARY_ROW && rc != LIBRARY_DONE) {
        st = library_sql_error(lib, "reading a chunk of a session", err);
        library_finalize(*stmt);
    }
    return st;
}

/* Whether the database holds chunk idx as the local bytes[0..n) are, judged
 * by the stored bytes themselves (a repair: the stored checksum may be the
 * bytes' own while the bytes are damaged). */
static rm_status held_as_bytes(rm_library *lib, const local_file *f,
                               size_t idx, const unsigned char *bytes,
                               size_t n, uint32_t crc, bool *held,
                               rm_error *err)
{
    library_stmt *stmt;
    bool found;
    rm_status st = select_chunk(lib, f->session_id, idx, &stmt, &found, err);
    if (st != RM_OK)
        return st;
    size_t stored = 0;
    const void *blob = found ? library_column_blob(stmt, 2, &stored) : NULL;
    *held = found && (uint32_t)library_column_int64(stmt, 0) == crc &&
            (size_t)library_column_int64(stmt, 1) == n && stored == n &&
            memcmp(blob, bytes, n) == 0;
    library_finalize(stmt);
    return RM_OK;
}

/* Send the chunks the database does not hold as the file does, judged by
 * the stored lengths and checksums sigs (an upload, which never reads the
 * stored bytes) or, with sigs NULL, by the stored bytes; *crc is the whole
 * file's. */
static rm_status send_chunks(rm_library *lib, const local_file *f,
                             size_t chunk_bytes, const chunk_sig *sigs,
                             unsigned char *buf, uint32_t *crc,
                             rm_library_upload *out, rm_error *err)
{
    size_t count = chunk_count(f->size, chunk_bytes);
    rm_status st = RM_OK;
    *crc = 0;
    for (size_t i = 0; st == RM_OK && i < count; i++) {
        size_t n = chunk_length(f->size, chunk_bytes, i);
        bool held = false;
        st = read_at(f, buf, n, (uint64_t)i * chunk_bytes, err);
        if (st != RM_OK)
            break;
        uint32_t c = rm_crc32c(0, buf, n);
        *crc = rm_crc32c(*crc, buf, n);
        if (sigs)
            held = sigs[i].nbytes == n && sigs[i].crc == c;
        else
            st = held_as_bytes(lib, f, i, buf, n, c, &held, err);
        if (st != RM_OK || held) {
            out->chunks_kept += held;
            continue;
        }
        st = put_chunk(lib, f->session_id, i, buf, n, c, err);
        if (st == RM_OK)
            out->chunks_sent++;
    }
    return st;
}

/* The file's chunks that the database does not hold (send_chunks; by the
 * stored bytes when compare_bytes), then its length and checksum where
 * they differ. chunk_bytes 0: those the session is stored in, else
 * RM_LIBRARY_CHUNK_BYTES. */
static rm_status upload_open_file(rm_library *lib, const local_file *f,
                                  size_t chunk_bytes, bool compare_bytes,
                                  rm_library_upload *out, rm_error *err)
{
    stored_content before;
    rm_status st = read_stored_content(lib, f->session_id, &before, err);
    if (st != RM_OK)
        return st;
    if (!chunk_bytes)
        chunk_bytes = before.found && before.chunk_bytes
                          ? before.chunk_bytes
                          : RM_LIBRARY_CHUNK_BYTES;
    size_t count = chunk_count(f->size, chunk_bytes);
    chunk_sig *sigs =
        compare_bytes ? NULL : calloc(count ? count : 1, sizeof *sigs);
    unsigned char *buf = malloc(chunk_bytes);
    if ((!compare_bytes && !sigs) || !buf)
        st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    if (st == RM_OK && sigs)
        st = read_chunk_sigs(lib, f->session_id, count, sigs, err);
    uint32_t crc = 0;
    if (st == RM_OK)
        st = send_chunks(lib, f, chunk_bytes, sigs, buf, &crc, out, err);
    if (st == RM_OK && !same_content(&before, f, crc, chunk_bytes))
        st = put_content(lib, f, crc, chunk_bytes, err);
    free(sigs);
    free(buf);
    return st;
}

rm_status library_upload_file(rm_library *lib, const char *path,
                              size_t chunk_bytes, rm_library_upload *out,
                              rm_error *err)
{
    rm_library_upload ignored;
    if (!out)
        out = &ignored;
    memset(out, 0, sizeof *out);
    local_file f;
    rm_status st = open_local(path, &f, err);
    if (st == RM_OK) {
        snprintf(out->session_id, sizeof out->session_id, "%s",
                 f.session_id);
        out->bytes = f.size;
        out->complete = f.complete;
        st = upload_open_file(lib, &f, chunk_bytes, false, out, err);
    }
    close_local(&f);
    return st;
}

rm_status library_rewrite_stored(rm_library *lib, const char *path,
                                 const char *session_id,
                                 rm_library_upload *out, rm_error *err)
{
    memset(out, 0, sizeof *out);
    local_file f;
    rm_status st = open_local(path, &f, err);
    if (st == RM_OK && strcmp(f.session_id, session_id))
        st = rm_error_set(err, RM_ERR_FORMAT, "%s holds session %s, not %s",
                          path, f.session_id, session_id);
    if (st == RM_OK) {
        snprintf(out->session_id, sizeof out->session_id, "%s", session_id);
        out->bytes = f.size;
        out->complete = f.complete;
        st = upload_open_file(lib, &f, 0, true, out, err);
    }
    close_local(&f);
    return st;
}

rm_status rm_library_upload_session(rm_library *lib, const char *path,
                                    rm_library_upload *out, rm_error *err)
{
    if (!rm_library_stores_data(lib)) {
        if (out)
            memset(out, 0, sizeof *out);
        return RM_OK;
    }
    return library_upload_file(lib, path, RM_LIBRARY_CHUNK_BYTES, out, err);
}

static rm_status file_crc(const local_file *f, uint32_t *crc, rm_error *err)
{
    unsigned char *buf = malloc(RM_LIBRARY_CHUNK_BYTES);
    if (!buf)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = RM_OK;
    *crc = 0;
    for (uint64_t at = 0; st == RM_OK && at < f->size;
         at += RM_LIBRARY_CHUNK_BYTES) {
        size_t n = chunk_length(f->size, RM_LIBRARY_CHUNK_BYTES,
                                (size_t)(at / RM_LIBRARY_CHUNK_BYTES));
        st = read_at(f, buf, n, at, err);
        if (st == RM_OK)
            *crc = rm_crc32c(*crc, buf, n);
    }
    free(buf);
    return st;
}

rm_status library_upload_state(rm_library *lib, const char *path, bool quick,
                               rm_library_upload_state *out, rm_error *err)
{
    memset(out, 0, sizeof *out);
    local_file f;
    stored_content c = {0};
    rm_status st = open_local(path, &f, err);
    if (st == RM_OK) {
        snprintf(out->session_id, sizeof out->session_id, "%s",
                 f.session_id);
        out->local_bytes = f.size;
    }
    if (st == RM_OK && rm_library_stores_data(lib))
        st = read_stored_content(lib, f.session_id, &c, err);
    if (st == RM_OK && rm_library_stores_data(lib)) {
        out->stored_bytes = c.length;
        uint32_t crc = 0;
        bool same = c.found && c.length == f.size &&
                    c.complete == f.complete;
        bool trusted = quick && same && f.complete;
        if (same && !trusted)
            st = file_crc(&f, &crc, err);
        out->pending = !same || (!trusted && crc != c.crc);
    }
    close_local(&f);
    return st;
}

rm_status rm_library_upload_state_get(rm_library *lib, const char *path,
                                      rm_library_upload_state *out,
                                      rm_error *err)
{
    return library_upload_state(lib, path, false, out, err);
}

rm_status library_drop_data(rm_library *lib, const char *session_id,
                            rm_error *err)
{
    static const char *const sql[] = {
        "DELETE FROM session_chunks WHERE session_id = ?",
        "DELETE FROM session_data WHERE session_id = ?",
    };
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < sizeof sql / sizeof sql[0]; i++) {
        library_stmt *stmt;
        st = library_prepare(lib, sql[i], &stmt, err);
        if (st != RM_OK)
            break;
        library_bind_text(stmt, 1, session_id);
        st = library_step_done(lib, stmt, "removing a session's bytes", err);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

/* cache_dir/<session id>.rms, with any character that does not belong in
 * a file name as '_'. */
static rm_status cache_path(const char *cache_dir, const char *session_id,
                            char *path, size_t cap, rm_error *err)
{
    char name[sizeof ((rm_library_entry *)0)->session_id];
    snprintf(name, sizeof name, "%s", session_id);
    for (char *c = name; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_.", *c) || (c == name && *c == '.'))
            *c = '_';
    int n = snprintf(path, cap, "%s/%s%s", cache_dir, name,
                     RM_LIBRARY_SESSION_SUFFIX);
    if (n < 0 || (size_t)n >= cap)
        return rm_error_set(err, RM_ERR_ARG, "%s: cache path too long",
                            cache_dir);
    return RM_OK;
}

/* Whether path holds exactly the stored content already. */
static bool cache_is_current(const char *path, const stored_content *c)
{
    local_file f = {.path = path};
    struct stat sb;
    f.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f.fd < 0)
        return false;
    bool current = fstat(f.fd, &sb) == 0 && (uint64_t)sb.st_size == c->length;
    uint32_t crc = 0;
    rm_error ignored;
    f.size = c->length;
    current = current && file_crc(&f, &crc, &ignored) == RM_OK &&
              crc == c->crc;
    close_local(&f);
    return current;
}

rm_status library_cached_copy(rm_library *lib, const char *session_id,
                              const char *cache_dir, char *path, size_t cap,
                              bool *found, rm_error *err)
{
    stored_content c;
    *found = false;
    rm_status st = cache_path(cache_dir, session_id, path, cap, err);
    if (st == RM_OK)
        st = read_stored_content(lib, session_id, &c, err);
    if (st == RM_OK)
        *found = c.found && cache_is_current(path, &c);
    return st;
}

static void note_damage(rm_library_fetched *out, const char *session_id,
                        size_t idx, uint64_t offset, size_t n,
                        const char *what)
{
    size_t used = strlen(out->damage), cap = sizeof out->damage;
    out->damaged_chunks++;
    if (used + 1 >= cap)
        return;
    snprintf(out->damage + used, cap - used, "%ssession %s chunk %zu "
             "(bytes %llu-%llu) %s", used ? "; " : "", session_id, idx,
             (unsigned long long)offset,
             (unsigned long long)(offset + n - 1), what);
}

/* Chunk idx into buf (want bytes); NULL what when it is sound, else why
 * it is not. */
static rm_status fetch_chunk(rm_library *lib, const char *session_id,
                             size_t idx, unsigned char *buf, size_t want,
                             const char **what, rm_error *err)
{
    library_stmt *stmt;
    bool found;
    rm_status st = select_chunk(lib, session_id, idx, &stmt, &found, err);
    if (st != RM_OK)
        return st;
    *what = "is missing";
    if (found) {
        uint32_t crc = (uint32_t)library_column_int64(stmt, 0);
        size_t n = 0;
        const void *bytes = library_column_blob(stmt, 2, &n);
        if (n < want || (size_t)library_column_int64(stmt, 1) != n)
            *what = "is shorter than the session says";
        else if (rm_crc32c(0, bytes, n) != crc)
            *what = "fails its checksum";
        else
            *what = NULL;
        if (!*what)
            memcpy(buf, bytes, want);
    }
    library_finalize(stmt);
    return RM_OK;
}

/* Where each chunk read goes, in order: n bytes (zeros for a damaged
 * chunk). */
typedef rm_status (*chunk_sink)(void *to, const char *session_id,
                                const unsigned char *bytes, size_t n,
                                rm_error *err);

/* Every chunk of the stored content into sink, the damaged ones named in
 * out. */
static rm_status read_chunks(rm_library *lib, const char *session_id,
                             const stored_content *c, chunk_sink sink,
                             void *to, rm_library_fetched *out, rm_error *err)
{
    unsigned char *buf = malloc(c->chunk_bytes ? c->chunk_bytes : 1);
    if (!buf)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = RM_OK;
    size_t count = chunk_count(c->length, c->chunk_bytes);
    for (size_t i = 0; st == RM_OK && i < count; i++) {
        size_t n = chunk_length(c->length, c->chunk_bytes, i);
        const char *what = NULL;
        st = fetch_chunk(lib, session_id, i, buf, n, &what, err);
        if (st == RM_OK && what) {
            note_damage(out, session_id, i, (uint64_t)i * c->chunk_bytes, n,
                        what);
            memset(buf, 0, n);
        }
        if (st == RM_OK)
            st = sink(to, session_id, buf, n, err);
    }
    free(buf);
    return st;
}

static rm_status write_to_file(void *to, const char *session_id,
                               const unsigned char *bytes, size_t n,
                               rm_error *err)
{
    if (fwrite(bytes, 1, n, to) != n)
        return rm_error_set(err, RM_ERR_IO, "writing the cached session %s "
                            "failed", session_id);
    return RM_OK;
}

static rm_status fetch_into(rm_library *lib, const char *session_id,
                            const stored_content *c, const char *path,
                            rm_library_fetched *out, rm_error *err)
{
    rm_atomic_file af;
    rm_status st = rm_make_parent_dirs(path, 0700, err);
    if (st == RM_OK)
        st = rm_atomic_open(&af, path, 0600, false, err);
    if (st != RM_OK)
        return st;
    st = read_chunks(lib, session_id, c, write_to_file, af.f, out, err);
    if (st != RM_OK) {
        rm_atomic_abort(&af);
        return st;
    }
    return rm_atomic_commit(&af, err);
}

rm_status rm_library_fetch_session(rm_library *lib, const char *session_id,
                                   const char *cache_dir, char *path,
                                   size_t cap, rm_library_fetched *out,
                                   rm_error *err)
{
    rm_library_fetched ignored;
    if (!out)
        out = &ignored;
    memset(out, 0, sizeof *out);
    stored_content c;
    rm_status st = cache_path(cache_dir, session_id, path, cap, err);
    if (st == RM_OK)
        st = read_stored_content(lib, session_id, &c, err);
    if (st != RM_OK)
        return st;
    if (!c.found || !c.chunk_bytes)
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "%s holds no bytes of session %s (the machine "
                            "that recorded it has not uploaded it: 'rollmap "
                            "library sync' there sends it)", lib->path,
                            session_id);
    out->bytes = c.length;
    if (cache_is_current(path, &c)) {
        out->from_cache = true;
        return RM_OK;
    }
    return fetch_into(lib, session_id, &c, path, out, err);
}

static rm_status add_to_crc(void *to, const char *session_id,
                            const unsigned char *bytes, size_t n,
                            rm_error *err)
{
    (void)session_id;
    (void)err;
    uint32_t *crc = to;
    *crc = rm_crc32c(*crc, bytes, n);
    return RM_OK;
}

rm_status library_check_stored(rm_library *lib, const char *session_id,
                               rm_library_fetched *out, rm_error *err)
{
    memset(out, 0, sizeof *out);
    stored_content c;
    rm_status st = read_stored_content(lib, session_id, &c, err);
    if (st != RM_OK || !c.found || !c.chunk_bytes)
        return st;
    out->bytes = c.length;
    uint32_t crc = 0;
    st = read_chunks(lib, session_id, &c, add_to_crc, &crc, out, err);
    size_t used = strlen(out->damage), cap = sizeof out->damage;
    if (st == RM_OK && !out->damaged_chunks && crc != c.crc)
        snprintf(out->damage + used, cap - used, "session %s: its %llu "
                 "bytes fail the whole content's CRC-32C (stored %08x, "
                 "read %08x)", session_id, (unsigned long long)c.length,
                 c.crc, crc);
    return st;
}

rm_status rm_library_session_file(rm_library *lib, const rm_library_entry *e,
                                  const char *cache_dir, char *path,
                                  size_t cap, rm_library_fetched *fetched,
                                  rm_error *err)
{
    if (fetched)
        memset(fetched, 0, sizeof *fetched);
    if (e->path && access(e->path, R_OK) == 0) {
        int n = snprintf(path, cap, "%s", e->path);
        return n >= 0 && (size_t)n < cap
                   ? RM_OK
                   : rm_error_set(err, RM_ERR_ARG, "%s: path too long",
                                  e->path);
    }
    char dir[4096];
    if (!cache_dir) {
        rm_status st = rm_default_cache_dir(dir, sizeof dir, err);
        if (st != RM_OK)
            return st;
        cache_dir = dir;
    }
    rm_status st = rm_library_fetch_session(lib, e->session_id, cache_dir,
                                            path, cap, fetched, err);
    if (st == RM_ERR_NOT_FOUND)
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "session %lld (%s): its file %s is not on this "
                            "machine and %s holds no bytes of it%s",
                            (long long)e->id, e->session_id,
                            e->path ? e->path : "", lib->path,
                            rm_library_stores_data(lib)
                                ? " (the machine that recorded it has not "
                                  "uploaded it: 'rollmap library sync' "
                                  "there sends it)"
                                : "");
    return st;
}
