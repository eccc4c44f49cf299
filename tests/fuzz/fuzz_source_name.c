/* libFuzzer target for source names (rm_source_parse): names come from
 * command lines and config files. Every name either parses, and then
 * formats to a name that parses to the same spec, or fails with a
 * message; nothing is read past the input. */
#include "rollmap_hw.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Longest name worth trying: every part of a spec fits in 600 bytes. */
#define MAX_NAME 1024

static void check_round_trip(const rm_source_spec *spec)
{
    char formatted[MAX_NAME];
    rm_source_format(spec, formatted, sizeof formatted);
    rm_source_spec again;
    rm_error err = {0};
    if (rm_source_parse(formatted, &again, &err) != RM_OK ||
        memcmp(spec, &again, sizeof again) != 0)
        abort(); /* a parsed name must format back to the same spec */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= MAX_NAME)
        return 0;
    char *name = malloc(size + 1);
    memcpy(name, data, size);
    name[size] = '\0';
    rm_source_spec spec;
    rm_error err = {0};
    rm_status st = rm_source_parse(name, &spec, &err);
    if (st == RM_OK)
        check_round_trip(&spec);
    else if (st != RM_ERR_ARG || !err.message[0])
        abort(); /* failures are argument errors that say why */
    free(name);
    return 0;
}
