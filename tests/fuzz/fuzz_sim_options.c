/* libFuzzer target for the virtual roller's options ("key=value,...", from
 * command lines and sim: source names). A rejected input must say why; an
 * accepted short session must build, power up with a decodable INFO when
 * the wire is clean, and write a truth that parses as JSON. */
#include "rollmap_hw.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest session the target runs: keeps each input quick. */
#define MAX_FUZZ_DURATION_S 30.0
/* Batch periods of device output to decode. */
#define FUZZ_PERIODS 50

static void check_truth(const rm_sim *sim)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    if (rm_sim_write_truth(sim, f, NULL) != RM_OK)
        abort();
    fclose(f);
    rm_json *root;
    if (rm_json_parse(&root, text, len, NULL) != RM_OK)
        abort();
    rm_json_free(root);
    free(text);
}

static void run_device(rm_sim *sim, const rm_sim_config *c)
{
    rm_decoder d;
    rm_decoder_init(&d);
    uint8_t buf[RM_FRAME_MAX_WIRE * 4];
    for (int i = 0; i < FUZZ_PERIODS && !rm_sim_finished(sim); i++) {
        size_t n = rm_sim_next_bytes(sim, buf, sizeof buf), used = 0;
        while (used < n) {
            rm_frame f;
            bool have;
            used += rm_decoder_push(&d, buf + used, n - used, &f, &have);
        }
    }
    if (c->bit_error_rate == 0 && d.stats.frames_ok == 0)
        abort(); /* RESET and INFO at power-up at least */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *options = malloc(size + 1);
    if (!options)
        return 0;
    memcpy(options, data, size);
    options[size] = '\0';
    rm_sim_config c;
    rm_error err = {0};
    rm_sim_config_default(&c);
    c.duration_s = 5;
    rm_status st = rm_sim_config_parse(&c, options, &err);
    free(options);
    if (st != RM_OK) {
        if (!err.message[0])
            abort();
        return 0;
    }
    rm_sim *sim;
    if (c.duration_s > MAX_FUZZ_DURATION_S)
        return 0;
    if (rm_sim_new(&sim, &c, &err) != RM_OK) {
        if (!err.message[0])
            abort();
        return 0;
    }
    run_device(sim, &c);
    check_truth(sim);
    rm_sim_free(sim);
    return 0;
}
