/* A session file recorded from the virtual roller, for the benchmarks that
 * need real files on disk. */
#ifndef ROLLMAP_BENCH_SIM_FILE_H
#define ROLLMAP_BENCH_SIM_FILE_H

#include "rollmap_hw.h"

#include <stdlib.h>

/** Samples handed to the session writer per call. */
#define BENCH_SIM_BATCH 1024

/** Record the virtual roller of cfg into a session file at path (no fsync:
 *  the benchmarks time other things than the disk). */
static inline rm_status bench_record_sim(const char *path,
                                         const rm_sim_config *cfg,
                                         const rm_session_meta *meta,
                                         uint64_t *samples, rm_error *err)
{
    rm_sim *sim = NULL;
    rm_status st = rm_sim_new(&sim, cfg, err);
    if (st != RM_OK)
        return st;
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.fsync = false;
    rm_session_writer *w = NULL;
    rm_sample *batch = malloc(sizeof *batch * BENCH_SIM_BATCH);
    st = batch ? rm_session_writer_create(&w, path, rm_sim_info(sim), meta,
                                          &opt, err)
               : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    size_t n = 0;
    while (st == RM_OK && rm_sim_next_sample(sim, &batch[n])) {
        if (++n == BENCH_SIM_BATCH) {
            st = rm_session_writer_append(w, batch, n, err);
            n = 0;
        }
    }
    if (st == RM_OK && n > 0)
        st = rm_session_writer_append(w, batch, n, err);
    if (w) {
        *samples = rm_session_writer_sample_count(w);
        rm_status closed = rm_session_writer_close(w, err);
        if (st == RM_OK)
            st = closed;
    }
    free(batch);
    rm_sim_free(sim);
    return st;
}

#endif
