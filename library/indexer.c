/* A thread that adds session files to the library while its caller goes
 * on recording: the analysis, the upload of the file's bytes to a library
 * that stores them (PostgreSQL) and any wait for the database lock happen
 * here, never on the caller's thread. A locked database, or a PostgreSQL
 * server that does not answer, is waited out: the file is tried again
 * until it goes in, the files behind it stay queued. */
#include "library_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000L
#define NS_PER_S 1000000000L

struct rm_library_indexer {
    rm_library *lib;       /* NULL until a remote server answers */
    char *target;
    bool remote;           /* a server: unreachable is waited out */
    rm_library_indexed_fn report;
    void *user;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct index_job *queue;               /* ring of
                                              RM_LIBRARY_INDEXER_QUEUE */
    size_t head, count;
    char **swept;                          /* from sweeps, owned */
    size_t swept_count, swept_next;
    bool stopping;
    bool working;                          /* a job taken, not finished */
    const char *working_path;              /* its file (the job owns it) */
    bool working_upload_only;
    bool working_unchecked;                /* swept, not looked up yet */
    /* The session of the upload under way ended and waits in the queue
     * to be added, which uploads it too: the upload need not go on. */
    bool working_superseded;
    long max_backoff_ms;                   /* under lock */
    rm_library_indexer_state state;        /* under lock */
};

/* One file to add (and upload), or a recording in progress to upload:
 * queued, or found by a sweep. */
typedef struct index_job {
    char *path;   /* owned */
    bool swept;
    bool upload_only;
} index_job;

static bool next_job(rm_library_indexer *ix, index_job *job)
{
    pthread_mutex_lock(&ix->lock);
    while (ix->count == 0 && !ix->stopping &&
           ix->swept_next == ix->swept_count)
        pthread_cond_wait(&ix->wake, &ix->lock);
    *job = (index_job){NULL, false, false};
    if (ix->count > 0) {
        *job = ix->queue[ix->head];
        ix->head = (ix->head + 1) % RM_LIBRARY_INDEXER_QUEUE;
        ix->count--;
    } else if (!ix->stopping && ix->swept_next < ix->swept_count) {
        job->path = ix->swept[ix->swept_next];
        ix->swept[ix->swept_next++] = NULL;
        job->swept = true;
    }
    ix->working = job->path != NULL;
    ix->working_path = job->path;
    ix->working_upload_only = job->upload_only;
    ix->working_unchecked = job->swept;
    ix->working_superseded = false;
    pthread_mutex_unlock(&ix->lock);
    return job->path != NULL;
}

static bool is_stopping(rm_library_indexer *ix)
{
    pthread_mutex_lock(&ix->lock);
    bool stopping = ix->stopping;
    pthread_mutex_unlock(&ix->lock);
    return stopping;
}

static bool is_superseded(rm_library_indexer *ix)
{
    pthread_mutex_lock(&ix->lock);
    bool superseded = ix->working_superseded;
    pthread_mutex_unlock(&ix->lock);
    return superseded;
}

/* Sleep between tries; a stop, or the add of the session being uploaded,
 * wakes it. False when it need not try again. */
static bool pause_before_retry(rm_library_indexer *ix, long pause_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + pause_ms * NS_PER_MS;
    until.tv_sec += ns / NS_PER_S;
    until.tv_nsec = ns % NS_PER_S;
    pthread_mutex_lock(&ix->lock);
    int rc = 0;
    while (!ix->stopping && !ix->working_superseded && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&ix->wake, &ix->lock, &until);
    bool go_on = !ix->stopping && !ix->working_superseded;
    pthread_mutex_unlock(&ix->lock);
    return go_on;
}

static void report(rm_library_indexer *ix, const rm_library_indexed *r)
{
    if (ix->report)
        ix->report(ix->user, r);
}

/* Whether a file with a row still lacks some of its bytes in the
 * database (a server that was down when it ended). */
static bool upload_pending(rm_library_indexer *ix, rm_library_indexed *r,
                           rm_error *err)
{
    rm_library_upload_state state;
    r->status = library_upload_state(ix->lib, r->path, true, &state, err);
    return r->status == RM_OK && state.pending;
}

/* The swept file being worked on was looked up in the library: it waits
 * to be added or uploaded now. */
static void note_looked_up(rm_library_indexer *ix)
{
    pthread_mutex_lock(&ix->lock);
    ix->working_unchecked = false;
    pthread_mutex_unlock(&ix->lock);
}

/* A swept file: when it has a row by now, only its upload if that is not
 * done; close it when its recorder never did. False when there is nothing
 * to do. */
static bool prepare_swept(rm_library_indexer *ix, index_job *job,
                          rm_library_indexed *r, rm_error *err)
{
    bool indexed = false;
    r->status = rm_library_is_indexed(ix->lib, r->path, &indexed, err);
    if (r->status == RM_OK)
        note_looked_up(ix);
    if (r->status == RM_OK && indexed) {
        job->upload_only = true;
        return rm_library_stores_data(ix->lib) && upload_pending(ix, r, err);
    }
    if (r->status == RM_OK)
        r->status = rm_library_close_unclosed(r->path, &r->recovered, err);
    return r->status == RM_OK;
}

/* A server that did not answer (connection refused, lost, shut down) is
 * waited out like a lock; a file that cannot be read is not. */
static bool retryable(const rm_library_indexer *ix, rm_status st)
{
    return st == RM_ERR_BUSY || (ix->remote && st == RM_ERR_IO);
}

static void note_state(rm_library_indexer *ix, const rm_library_indexed *r)
{
    pthread_mutex_lock(&ix->lock);
    ix->state.retrying = r->retrying;
    snprintf(ix->state.problem, sizeof ix->state.problem, "%s",
             r->retrying ? r->err->message : "");
    pthread_mutex_unlock(&ix->lock);
}

/* A lock is tried again every RM_LIBRARY_INDEXER_RETRY_MS; a server that
 * does not answer with a pause that doubles up to the maximum. */
static long next_pause(rm_library_indexer *ix, rm_status st, long pause_ms)
{
    if (st == RM_ERR_BUSY)
        return RM_LIBRARY_INDEXER_RETRY_MS;
    pthread_mutex_lock(&ix->lock);
    long max_ms = ix->max_backoff_ms;
    pthread_mutex_unlock(&ix->lock);
    long doubled = pause_ms * 2;
    return doubled > max_ms ? max_ms : doubled;
}

/* The connection, opened now when the server did not answer before. */
static rm_status ensure_open(rm_library_indexer *ix, rm_error *err)
{
    return ix->lib ? RM_OK : rm_library_open(&ix->lib, ix->target, err);
}

static rm_status add_file(rm_library_indexer *ix, index_job *job,
                          rm_library_indexed *r, rm_error *err)
{
    r->upload = NULL;
    rm_status st = ensure_open(ix, err);
    if (st == RM_OK && job->swept && !prepare_swept(ix, job, r, err))
        return r->status == RM_OK ? RM_ERR_AGAIN : r->status;
    r->upload_only = job->upload_only;
    if (st == RM_OK && !job->upload_only)
        st = rm_library_add(ix->lib, job->path, &r->id, err);
    if (st == RM_OK && rm_library_stores_data(ix->lib)) {
        st = rm_library_upload_session(ix->lib, job->path, &r->uploaded, err);
        r->upload = st == RM_OK ? &r->uploaded : NULL;
    }
    return st;
}

static void index_one(rm_library_indexer *ix, index_job *job)
{
    rm_error err = {0};
    rm_library_indexed r = {.path = job->path, .err = &err,
                            .found = job->swept};
    long pause_ms = RM_LIBRARY_INDEXER_RETRY_MS / 2;
    for (;;) {
        r.tries++;
        r.status = add_file(ix, job, &r, &err);
        if (r.status == RM_ERR_AGAIN)
            return;  /* swept, and has its row and bytes by now */
        if (r.status != RM_OK && is_superseded(ix))
            return;  /* the add queued behind it tries again, and uploads */
        r.retrying = retryable(ix, r.status) && !is_stopping(ix);
        note_state(ix, &r);
        report(ix, &r);
        pause_ms = next_pause(ix, r.status, pause_ms);
        if (!r.retrying || !pause_before_retry(ix, pause_ms))
            return;
    }
}

static void *indexer_main(void *arg)
{
    rm_library_indexer *ix = arg;
    index_job job;
    while (next_job(ix, &job)) {
        index_one(ix, &job);
        pthread_mutex_lock(&ix->lock);
        ix->working = false;
        ix->working_path = NULL;
        pthread_mutex_unlock(&ix->lock);
        free(job.path);
    }
    return NULL;
}

rm_status rm_library_indexer_start(rm_library_indexer **out,
                                   const char *db_path,
                                   rm_library_indexed_fn report_fn, void *user,
                                   rm_error *err)
{
    *out = NULL;
    rm_library_indexer *ix = calloc(1, sizeof *ix);
    if (!ix)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    const char *file;
    ix->remote = rm_library_target_kind(db_path, &file) != RM_LIBRARY_SQLITE;
    rm_status st = (ix->target = strdup(db_path))
                       ? rm_library_open(&ix->lib, db_path, err)
                       : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    if (st == RM_ERR_IO && ix->remote)
        st = RM_OK;  /* connects when it has a file to add */
    if (st != RM_OK) {
        free(ix->target);
        free(ix);
        return st;
    }
    ix->report = report_fn;
    ix->user = user;
    ix->queue = calloc(RM_LIBRARY_INDEXER_QUEUE, sizeof *ix->queue);
    if (!ix->queue) {
        rm_library_close(ix->lib);
        free(ix->target);
        free(ix);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    ix->max_backoff_ms = RM_LIBRARY_INDEXER_MAX_BACKOFF_MS;
    pthread_mutex_init(&ix->lock, NULL);
    pthread_cond_init(&ix->wake, NULL);
    if (pthread_create(&ix->thread, NULL, indexer_main, ix) != 0) {
        pthread_cond_destroy(&ix->wake);
        pthread_mutex_destroy(&ix->lock);
        rm_library_close(ix->lib);
        free(ix->queue);
        free(ix->target);
        free(ix);
        return rm_error_set(err, RM_ERR_NOMEM,
                            "library: cannot start the indexer thread");
    }
    *out = ix;
    return RM_OK;
}

void rm_library_indexer_set_max_backoff(rm_library_indexer *ix, long max_ms)
{
    pthread_mutex_lock(&ix->lock);
    ix->max_backoff_ms = max_ms > RM_LIBRARY_INDEXER_RETRY_MS / 2
                             ? max_ms : RM_LIBRARY_INDEXER_RETRY_MS / 2;
    pthread_mutex_unlock(&ix->lock);
}

/* The same job waits in the queue already (under lock). */
static bool queued(const rm_library_indexer *ix, const index_job *job)
{
    for (size_t i = 0; i < ix->count; i++) {
        const index_job *q = &ix->queue[(ix->head + i) %
                                        RM_LIBRARY_INDEXER_QUEUE];
        if (q->upload_only == job->upload_only && !strcmp(q->path, job->path))
            return true;
    }
    return false;
}

/* A session that ended is uploaded when it is added: the uploads of its
 * recording, queued or under way, would only send nothing (under lock). */
static void drop_queued_uploads(rm_library_indexer *ix, const char *path)
{
    if (ix->working_path && ix->working_upload_only &&
        !strcmp(ix->working_path, path))
        ix->working_superseded = true;
    size_t kept = 0;
    for (size_t i = 0; i < ix->count; i++) {
        index_job *q = &ix->queue[(ix->head + i) % RM_LIBRARY_INDEXER_QUEUE];
        if (q->upload_only && !strcmp(q->path, path)) {
            free(q->path);
            continue;
        }
        ix->queue[(ix->head + kept++) % RM_LIBRARY_INDEXER_QUEUE] = *q;
    }
    ix->count = kept;
}

static rm_status submit(rm_library_indexer *ix, const char *path,
                        bool upload_only, rm_error *err)
{
    index_job job = {strdup(path), false, upload_only};
    if (!job.path)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&ix->lock);
    if (!upload_only)
        drop_queued_uploads(ix, path);
    bool full = ix->count == RM_LIBRARY_INDEXER_QUEUE;
    bool again = !full && queued(ix, &job);
    if (!full && !again) {
        ix->queue[(ix->head + ix->count) % RM_LIBRARY_INDEXER_QUEUE] = job;
        ix->count++;
        pthread_cond_signal(&ix->wake);
    }
    pthread_mutex_unlock(&ix->lock);
    if (full || again)
        free(job.path);
    if (full)
        return rm_error_set(err, RM_ERR_BUSY,
                            "%s: not added to the library: %d files are "
                            "already waiting; add it later with 'rollmap "
                            "library add'", path, RM_LIBRARY_INDEXER_QUEUE);
    return RM_OK;
}

rm_status rm_library_indexer_submit(rm_library_indexer *ix, const char *path,
                                    rm_error *err)
{
    return submit(ix, path, false, err);
}

rm_status rm_library_indexer_submit_upload(rm_library_indexer *ix,
                                           const char *path, rm_error *err)
{
    return ix->remote ? submit(ix, path, true, err) : RM_OK;
}

/* Append paths to the sweep list; takes them over (freed on failure). */
static rm_status append_swept(rm_library_indexer *ix, char **paths, size_t n,
                              rm_error *err)
{
    pthread_mutex_lock(&ix->lock);
    char **grown = realloc(ix->swept, (ix->swept_count + n) * sizeof *grown);
    if (grown) {
        ix->swept = grown;
        memcpy(grown + ix->swept_count, paths, n * sizeof *paths);
        ix->swept_count += n;
        pthread_cond_signal(&ix->wake);
    }
    pthread_mutex_unlock(&ix->lock);
    if (!grown) {
        rm_library_paths_free(paths, n);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    free(paths);
    return RM_OK;
}

rm_status rm_library_indexer_sweep(rm_library_indexer *ix, const char *folder,
                                   rm_error *err)
{
    char **paths;
    size_t n;
    rm_status st = rm_library_folder_sessions(folder, &paths, &n, err);
    if (st != RM_OK || n == 0) {
        free(paths);
        return st;
    }
    return append_swept(ix, paths, n, err);
}

void rm_library_indexer_stop(rm_library_indexer *ix)
{
    if (!ix)
        return;
    pthread_mutex_lock(&ix->lock);
    ix->stopping = true;
    pthread_cond_signal(&ix->wake);
    pthread_mutex_unlock(&ix->lock);
    pthread_join(ix->thread, NULL);
    pthread_cond_destroy(&ix->wake);
    pthread_mutex_destroy(&ix->lock);
    rm_library_paths_free(ix->swept, ix->swept_count);
    free(ix->queue);
    rm_library_close(ix->lib);
    free(ix->target);
    free(ix);
}

void rm_library_indexer_state_get(rm_library_indexer *ix,
                                  rm_library_indexer_state *out)
{
    pthread_mutex_lock(&ix->lock);
    *out = ix->state;
    bool working = ix->working && !ix->working_superseded;
    out->waiting = ix->count + (working && !ix->working_unchecked ? 1 : 0);
    out->unchecked = (ix->swept_count - ix->swept_next) +
                     (working && ix->working_unchecked ? 1 : 0);
    out->uploads = ix->remote;
    pthread_mutex_unlock(&ix->lock);
}
