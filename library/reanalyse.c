/*
 * Analysing the library's sessions again from their files. Worker threads
 * only read and analyse files; the calling thread alone uses the library's
 * connection (neither backend's is shared between threads) and stores the
 * results in the order of the list, so the rows come out the same for any
 * number of workers.
 */
#include "library_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** Sessions analysed ahead of the one being stored, per job: enough that a
 *  worker rarely waits for the writer, few enough that the analyses
 *  waiting in memory stay a handful. */
#define AHEAD_PER_JOB 2

/* One session's turn: its analysis, or why there is none. */
typedef struct turn {
    library_analysed result;
    rm_status st;
    rm_error err;
    bool ready;             /* analysed (or failed), waiting to be stored */
} turn;

typedef struct reanalysis {
    const rm_library_entry *entries;
    size_t count;
    const rm_library_reanalyse_options *opt;
    turn *turns;            /* entry i is in turns[i % window] */
    size_t window;
    size_t workers;         /* 0: the caller analyses each in turn */
    size_t next_taken;      /* the entry the next free worker analyses */
    size_t next_stored;     /* the entry the writer stores next */
    bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t changed;
} reanalysis;

void rm_library_reanalyse_options_default(rm_library_reanalyse_options *o)
{
    *o = (rm_library_reanalyse_options){0};
}

/* A file changed since it was indexed is reanalysed only with force. */
static rm_status refuse_changed(const rm_library_entry *e, rm_error *err)
{
    rm_library_check_item item = {0};
    library_check_entry(e, false, &item);
    if (item.state != RM_LIBRARY_FILE_CHANGED)
        return RM_OK;
    return rm_error_set(err, RM_ERR_ARG, "%s (session %lld): changed since it "
                        "was indexed (%s); its rows were kept. Look at the "
                        "file (rollmap info) and reanalyse it with --force "
                        "if the change is wanted", e->path, (long long)e->id,
                        item.detail);
}

/* Reads files only: runs on any thread. */
static void analyse_turn(const reanalysis *r, size_t i, turn *t)
{
    const rm_library_entry *e = &r->entries[i];
    t->st = r->opt->force ? RM_OK : refuse_changed(e, &t->err);
    if (t->st == RM_OK)
        t->st = library_open_indexed(e, &t->result.session, &t->err);
    if (t->st == RM_OK)
        t->st = library_analyse_opened(&t->result, e->path, r->opt->cfg,
                                       &t->err);
}

static void *worker_main(void *arg)
{
    reanalysis *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping && r->next_taken < r->count) {
        if (r->next_taken >= r->next_stored + r->window) {
            pthread_cond_wait(&r->changed, &r->lock);
            continue;
        }
        size_t i = r->next_taken++;
        turn *t = &r->turns[i % r->window];
        pthread_mutex_unlock(&r->lock);
        analyse_turn(r, i, t);
        pthread_mutex_lock(&r->lock);
        t->ready = true;
        pthread_cond_broadcast(&r->changed);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* opt->jobs, or one per online CPU; never more than sessions. */
static size_t job_count(const rm_library_reanalyse_options *opt, size_t count)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    size_t jobs = opt->jobs ? opt->jobs : online > 0 ? (size_t)online : 1;
    return jobs < count ? jobs : count;
}

/* One job needs no thread. A thread that cannot be started leaves its
 * share to the others, or the run to the caller. */
static void start_workers(reanalysis *r, pthread_t *threads, size_t jobs)
{
    if (jobs < 2)
        return;
    for (size_t w = 0; w < jobs; w++)
        if (pthread_create(&threads[r->workers], NULL, worker_main, r) == 0)
            r->workers++;
}

static void stop_workers(reanalysis *r, pthread_t *threads)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    for (size_t w = 0; w < r->workers; w++)
        pthread_join(threads[w], NULL);
}

static turn *wait_for_turn(reanalysis *r, size_t i)
{
    turn *t = &r->turns[i % r->window];
    if (r->workers == 0) {
        analyse_turn(r, i, t);
        return t;
    }
    pthread_mutex_lock(&r->lock);
    while (!t->ready)
        pthread_cond_wait(&r->changed, &r->lock);
    pthread_mutex_unlock(&r->lock);
    return t;
}

/* Its slot is free for the entry window places further on. */
static void end_turn(reanalysis *r, turn *t)
{
    library_analysed_free(&t->result);
    pthread_mutex_lock(&r->lock);
    t->ready = false;
    r->next_stored++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static rm_status store_turn(rm_library *lib, turn *t)
{
    int64_t id;
    if (t->st == RM_OK)
        t->st = library_store_analysed(lib, &t->result, &id, &t->err);
    return t->st;
}

/* Store every turn as it comes; *first keeps the first failure. */
static void store_all(rm_library *lib, reanalysis *r, size_t *ok, size_t *bad,
                      rm_status *first, rm_error *err)
{
    for (size_t i = 0; i < r->count; i++) {
        turn *t = wait_for_turn(r, i);
        rm_status st = store_turn(lib, t);
        if (st == RM_OK) {
            (*ok)++;
        } else if ((*bad)++ == 0) {
            *first = st;
            if (err)
                *err = t->err;
        }
        if (r->opt->progress)
            r->opt->progress(i + 1, r->count, st == RM_OK ? NULL : &t->err,
                             r->opt->user);
        end_turn(r, t);
        if (st == RM_ERR_BUSY || st == RM_ERR_NO_SPACE)
            return; /* the database itself is unusable for now */
    }
}

static rm_status reanalyse_entries(rm_library *lib, reanalysis *r,
                                   size_t *ok, size_t *bad, rm_error *err)
{
    size_t jobs = job_count(r->opt, r->count);
    r->window = jobs ? AHEAD_PER_JOB * jobs : 1;
    r->turns = calloc(r->window, sizeof *r->turns);
    pthread_t *threads = calloc(jobs ? jobs : 1, sizeof *threads);
    if (!r->turns || !threads) {
        free(r->turns);
        free(threads);
        return rm_error_set(err, RM_ERR_NOMEM, "reanalyse: out of memory");
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    rm_status first = RM_OK;
    start_workers(r, threads, jobs);
    store_all(lib, r, ok, bad, &first, err);
    stop_workers(r, threads);
    for (size_t k = 0; k < r->window; k++)
        library_analysed_free(&r->turns[k].result);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->lock);
    free(threads);
    free(r->turns);
    return first;
}

rm_status rm_library_reanalyse(rm_library *lib, const rm_library_filter *f,
                               const rm_library_reanalyse_options *opt,
                               size_t *done, size_t *failed, rm_error *err)
{
    rm_library_reanalyse_options defaults;
    if (!opt) {
        rm_library_reanalyse_options_default(&defaults);
        opt = &defaults;
    }
    rm_library_entry *entries;
    size_t count, ok = 0, bad = 0;
    rm_status st = rm_library_list(lib, f, &entries, &count, err);
    if (st != RM_OK)
        return st;
    reanalysis r = {.entries = entries, .count = count, .opt = opt};
    st = reanalyse_entries(lib, &r, &ok, &bad, err);
    rm_library_entries_free(entries, count);
    if (done)
        *done = ok;
    if (failed)
        *failed = bad;
    return st;
}
