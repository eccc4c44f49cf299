/*
 * Samples as columns (rm_sample_columns), and the sinks through which the
 * session reader's decoders write either rm_samples or columns.
 */
#include "session_internal.h"

#include <stdlib.h>
#include <string.h>

rm_status rm_sample_columns_alloc(rm_sample_columns *c, unsigned channels,
                                  size_t cap, rm_error *err)
{
    memset(c, 0, sizeof *c);
    if (channels > RM_MAX_CHANNELS)
        return rm_error_set(err, RM_ERR_ARG, "sample columns: %u channels, at "
                            "most %d", channels, RM_MAX_CHANNELS);
    size_t room = cap ? cap : 1;
    c->channels = channels;
    c->cap = cap;
    c->t_us = malloc(room * sizeof *c->t_us);
    c->flags = malloc(room * sizeof *c->flags);
    c->encoder = malloc(room * sizeof *c->encoder);
    bool ok = c->t_us && c->flags && c->encoder;
    for (unsigned k = 0; k < channels && ok; k++)
        ok = (c->counts[k] = malloc(room * sizeof *c->counts[k])) != NULL;
    if (ok)
        return RM_OK;
    rm_sample_columns_free(c);
    return rm_error_set(err, RM_ERR_NOMEM, "sample columns: out of memory "
                        "for %zu samples", cap);
}

void rm_sample_columns_free(rm_sample_columns *c)
{
    free(c->t_us);
    free(c->flags);
    free(c->encoder);
    for (unsigned k = 0; k < RM_MAX_CHANNELS; k++)
        free(c->counts[k]);
    memset(c, 0, sizeof *c);
}

void rm_sample_columns_put(rm_sample_columns *c, size_t at, const rm_sample *s,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->t_us[at + i] = s[i].t_us;
        c->flags[at + i] = s[i].flags;
        c->encoder[at + i] = s[i].encoder;
    }
    for (unsigned k = 0; k < c->channels; k++)
        for (size_t i = 0; i < n; i++)
            c->counts[k][at + i] = s[i].counts[k];
}

core_sample_sink core_sink_samples(rm_sample *out, size_t n)
{
    memset(out, 0, n * sizeof *out);
    core_sample_sink sink = {(uint8_t *)&out->t_us, (uint8_t *)&out->flags,
                             (uint8_t *)&out->encoder, {NULL}, RM_MAX_CHANNELS,
                             sizeof *out, sizeof *out, sizeof *out, true};
    for (unsigned k = 0; k < RM_MAX_CHANNELS; k++)
        sink.counts[k] = (uint8_t *)&out->counts[k];
    return sink;
}

core_sample_sink core_sink_columns(rm_sample_columns *c, size_t at)
{
    core_sample_sink sink = {(uint8_t *)(c->t_us + at), (uint8_t *)(c->flags + at),
                             (uint8_t *)(c->encoder + at), {NULL}, c->channels,
                             sizeof *c->t_us, sizeof *c->flags,
                             sizeof *c->encoder, false};
    for (unsigned k = 0; k < c->channels; k++)
        sink.counts[k] = (uint8_t *)(c->counts[k] + at);
    return sink;
}

void core_sink_zero_channels(const core_sample_sink *out, unsigned from, size_t n)
{
    if (out->zeroed)
        return;
    static const int32_t zero = 0;
    for (unsigned k = from; k < out->channels; k++)
        for (size_t i = 0; i < n; i++)
            memcpy(out->counts[k] + i * out->int32_stride, &zero, sizeof zero);
}
