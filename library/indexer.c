/* A thread that adds session files to the library while its caller goes
 * on recording: the analysis and any wait for the database lock happen
 * here, never on the caller's thread. */
#include "library_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A file that finds the database locked is tried this many times (each
 * try waits up to RM_LIBRARY_BUSY_TIMEOUT_MS) before it is reported. */
#define BUSY_TRIES 3

struct rm_library_indexer {
    rm_library *lib;
    rm_library_indexed_fn report;
    void *user;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *queue[RM_LIBRARY_INDEXER_QUEUE]; /* ring of owned paths */
    size_t head, count;
    bool stopping;
};

/* The next queued path (owned by the caller now), or NULL once stopping
 * with nothing left. */
static char *next_path(rm_library_indexer *ix)
{
    pthread_mutex_lock(&ix->lock);
    while (ix->count == 0 && !ix->stopping)
        pthread_cond_wait(&ix->wake, &ix->lock);
    char *path = NULL;
    if (ix->count > 0) {
        path = ix->queue[ix->head];
        ix->head = (ix->head + 1) % RM_LIBRARY_INDEXER_QUEUE;
        ix->count--;
    }
    pthread_mutex_unlock(&ix->lock);
    return path;
}

static void index_one(rm_library_indexer *ix, const char *path)
{
    int64_t id = 0;
    rm_error err = {0};
    rm_status st;
    int tries = 0;
    do
        st = rm_library_add(ix->lib, path, &id, &err);
    while (st == RM_ERR_BUSY && ++tries < BUSY_TRIES);
    if (ix->report)
        ix->report(ix->user, path, st, id, &err);
}

static void *indexer_main(void *arg)
{
    rm_library_indexer *ix = arg;
    char *path;
    while ((path = next_path(ix)) != NULL) {
        index_one(ix, path);
        free(path);
    }
    return NULL;
}

rm_status rm_library_indexer_start(rm_library_indexer **out,
                                   const char *db_path,
                                   rm_library_indexed_fn report, void *user,
                                   rm_error *err)
{
    *out = NULL;
    rm_library_indexer *ix = calloc(1, sizeof *ix);
    if (!ix)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = rm_library_open(&ix->lib, db_path, err);
    if (st != RM_OK) {
        free(ix);
        return st;
    }
    ix->report = report;
    ix->user = user;
    pthread_mutex_init(&ix->lock, NULL);
    pthread_cond_init(&ix->wake, NULL);
    if (pthread_create(&ix->thread, NULL, indexer_main, ix) != 0) {
        pthread_cond_destroy(&ix->wake);
        pthread_mutex_destroy(&ix->lock);
        rm_library_close(ix->lib);
        free(ix);
        return rm_error_set(err, RM_ERR_NOMEM,
                            "library: cannot start the indexer thread");
    }
    *out = ix;
    return RM_OK;
}

rm_status rm_library_indexer_submit(rm_library_indexer *ix, const char *path,
                                    rm_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&ix->lock);
    bool full = ix->count == RM_LIBRARY_INDEXER_QUEUE;
    if (!full) {
        ix->queue[(ix->head + ix->count) % RM_LIBRARY_INDEXER_QUEUE] = copy;
        ix->count++;
        pthread_cond_signal(&ix->wake);
    }
    pthread_mutex_unlock(&ix->lock);
    if (full) {
        free(copy);
        return rm_error_set(err, RM_ERR_BUSY,
                            "%s: not added to the library: %d files are "
                            "already waiting; add it later with 'rollmap "
                            "library add'", path, RM_LIBRARY_INDEXER_QUEUE);
    }
    return RM_OK;
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
    rm_library_close(ix->lib);
    free(ix);
}
