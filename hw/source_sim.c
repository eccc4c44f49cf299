/*
 * sim: sources run the virtual roller in-process: its firmware's bytes go
 * through the same decoder as a real device's, paced to real time (or as
 * fast as possible with ?fast). Its unplugs look like a real unplug
 * (RM_ERR_CLOSED, then rm_source_reopen once it is back).
 */
#include "source_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sim_state {
    rm_sim *sim;
    bool fast;
    uint64_t start_mono_us;   /**< real time of model time 0 */
} sim_state;

static rm_status sim_open(void **state, const rm_source_spec *spec,
                          rm_error *err)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    rm_status st = rm_sim_config_parse(&cfg, spec->sim_options, err);
    if (st != RM_OK)
        return st;
    sim_state *s = calloc(1, sizeof *s);
    if (!s)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    st = rm_sim_new(&s->sim, &cfg, err);
    if (st != RM_OK) {
        free(s);
        return st;
    }
    s->fast = spec->fast;
    s->start_mono_us = rm_monotonic_us();
    *state = s;
    return RM_OK;
}

static void sim_close(void *state)
{
    sim_state *s = state;
    rm_sim_free(s->sim);
    free(s);
}

static int sim_fd(const void *state)
{
    (void)state;
    return -1;
}

/** Real time corresponding to the model's next sample has come. */
static bool model_due(const sim_state *s)
{
    return s->fast ||
           rm_sim_time_us(s->sim) <= rm_monotonic_us() - s->start_mono_us;
}

/** Run the model up to real time; the bytes it sends land in buf. */
static size_t run_model(sim_state *s, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap && !rm_sim_finished(s->sim) && model_due(s)) {
        got += rm_sim_next_bytes(s->sim, buf + got, cap - got);
        /* An unplug is reported, not run through. */
        if (rm_sim_unplugged(s->sim) || (s->fast && got))
            break;
    }
    return got;
}

static rm_status sim_read(void *state, uint8_t *buf, size_t cap, size_t *got,
                          rm_error *err)
{
    sim_state *s = state;
    *got = run_model(s, buf, cap);
    if (*got)
        return RM_OK;
    if (rm_sim_unplugged(s->sim))
        return rm_error_set(err, RM_ERR_CLOSED,
                            "virtual roller: unplugged at %.3f s",
                            (double)rm_sim_time_us(s->sim) / 1e6);
    if (rm_sim_finished(s->sim))
        return rm_error_set(err, RM_ERR_EOF,
                            "virtual roller: session over at %.3f s",
                            (double)rm_sim_time_us(s->sim) / 1e6);
    return RM_OK;
}

static rm_status sim_write(void *state, const uint8_t *data, size_t len,
                           rm_error *err)
{
    (void)err;
    sim_state *s = state;
    rm_sim_receive(s->sim, data, len);
    return RM_OK;
}

static rm_status sim_wait(void *state, int timeout_ms, rm_error *err)
{
    (void)err;
    sim_state *s = state;
    if (model_due(s) || rm_sim_finished(s->sim))
        return RM_OK;
    uint64_t due = s->start_mono_us + rm_sim_time_us(s->sim);
    uint64_t now = rm_monotonic_us();
    uint64_t sleep_us = due > now ? due - now : 0;
    if (timeout_ms >= 0 && sleep_us > (uint64_t)timeout_ms * 1000u)
        sleep_us = (uint64_t)timeout_ms * 1000u;
    struct timespec ts = {(time_t)(sleep_us / 1000000u),
                          (long)(sleep_us % 1000000u) * 1000};
    nanosleep(&ts, NULL);
    return model_due(s) ? RM_OK : RM_ERR_TIMEOUT;
}

/** Back after an unplug? The model keeps running while we look. */
static rm_status sim_resume(void *state, rm_error *err)
{
    sim_state *s = state;
    /* What it sends at power-up is dropped: identify asks again. */
    uint8_t scratch[RM_FRAME_MAX_WIRE];
    while (rm_sim_unplugged(s->sim) && !rm_sim_finished(s->sim) &&
           model_due(s))
        rm_sim_next_bytes(s->sim, scratch, sizeof scratch);
    if (rm_sim_unplugged(s->sim))
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "virtual roller: still unplugged at %.3f s",
                            (double)rm_sim_time_us(s->sim) / 1e6);
    return RM_OK;
}

const rm_source_ops hw_source_sim_ops = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .fd = sim_fd,
    .read = sim_read,
    .write = sim_write,
    .wait = sim_wait,
    .due = NULL,
    .resume = sim_resume,
    .handshake = true,
};
