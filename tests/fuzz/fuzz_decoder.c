/* libFuzzer target for the binary wire protocol decoder. The first input
 * byte picks a read size; the rest is the stream. Besides crashes it checks
 * that chunking does not change the outcome and that every frame the
 * decoder accepts can be encoded again. */
#include "rollmap_hw.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    rm_decoder_stats stats;
    uint64_t frames;
    uint32_t types_crc;        /* CRC over the types and seqs seen */
} outcome;

static void decode(const uint8_t *data, size_t size, size_t piece,
                   outcome *out)
{
    static rm_decoder d;
    static rm_frame f;
    static uint8_t wire[RM_FRAME_MAX_WIRE];
    rm_decoder_init(&d);
    memset(out, 0, sizeof *out);
    for (size_t at = 0; at < size;) {
        size_t end = size - at > piece ? at + piece : size;
        while (at < end) {
            bool have;
            at += rm_decoder_push(&d, data + at, end - at, &f, &have);
            if (!have)
                continue;
            out->frames++;
            uint8_t id[3] = {f.type, (uint8_t)f.seq, (uint8_t)(f.seq >> 8)};
            out->types_crc = rm_crc32c(out->types_crc, id, sizeof id);
            if (rm_frame_encode(&f, wire, sizeof wire) == 0)
                abort(); /* the decoder accepted what cannot be sent */
        }
    }
    out->stats = d.stats;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    outcome whole, pieces;
    decode(data + 1, size - 1, size, &whole);
    decode(data + 1, size - 1, piece, &pieces);
    if (memcmp(&whole, &pieces, sizeof whole) != 0)
        abort(); /* chunking changed the result */
    if (whole.stats.bytes != size - 1)
        abort();
    return 0;
}
