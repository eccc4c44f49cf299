/* libFuzzer target for the text-mode line decoder, with a fixed profile
 * built here (time in ms, two channels, encoder, mark; comma separated).
 * The first input byte picks a read size; chunking must not change what
 * is decoded, and every byte must be consumed. */
#include "rollmap_hw.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const rm_profile *fixed_profile(void)
{
    static rm_profile p;
    if (p.column_count)
        return &p;
    strcpy(p.info.model, "fuzz");
    p.info.sample_rate_hz = 80;
    p.info.channel_count = 2;
    p.separator = ',';
    p.skip_lines = 1;
    p.has_time_column = true;
    const rm_profile_column columns[] = {
        {.kind = RM_COL_TIME, .scale = 1000.0},
        {.kind = RM_COL_CHANNEL, .channel_index = 0, .scale = 1.0},
        {.kind = RM_COL_CHANNEL, .channel_index = 1, .scale = 1.0},
        {.kind = RM_COL_ENCODER, .scale = 1.0},
        {.kind = RM_COL_MARK, .scale = 1.0},
    };
    memcpy(p.columns, columns, sizeof columns);
    p.column_count = sizeof columns / sizeof columns[0];
    return &p;
}

typedef struct outcome {
    rm_text_stats stats;
    uint32_t samples_crc;      /* CRC over every decoded sample */
    size_t consumed;
} outcome;

static void decode(const uint8_t *data, size_t size, size_t piece,
                   outcome *out)
{
    static rm_text_decoder d;
    rm_text_decoder_init(&d, fixed_profile());
    memset(out, 0, sizeof *out);
    for (size_t at = 0; at < size;) {
        size_t end = size - at > piece ? at + piece : size;
        while (at < end) {
            bool have;
            rm_sample s;
            size_t used = rm_text_decoder_push(&d, data + at, end - at, &s, &have);
            if (used == 0)
                abort(); /* no progress */
            at += used;
            out->consumed += used;
            if (have)
                out->samples_crc = rm_crc32c(out->samples_crc, &s, sizeof s);
        }
    }
    out->stats = d.stats;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    outcome whole, pieces;
    decode(data + 1, size - 1, size, &whole);
    decode(data + 1, size - 1, piece, &pieces);
    if (memcmp(&whole, &pieces, sizeof whole) != 0 || whole.consumed != size - 1)
        abort();
    return 0;
}
