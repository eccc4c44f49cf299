/* Fuzz the JSON parser; whatever it accepts must survive a round trip
 * through the writer and parse again to the same shape. */
#include "rollmap_core.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_value(rm_json_writer *w, const rm_json *v)
{
    switch (rm_json_type_of(v)) {
    case RM_JSON_NULL: rm_json_null(w); break;
    case RM_JSON_BOOL: rm_json_bool(w, rm_json_as_bool(v, false)); break;
    case RM_JSON_NUMBER: rm_json_number(w, rm_json_as_number(v, 0)); break;
    case RM_JSON_STRING: rm_json_string(w, rm_json_as_string(v, "")); break;
    case RM_JSON_ARRAY:
        rm_json_array_open(w);
        for (size_t i = 0; i < rm_json_length(v); i++)
            write_value(w, rm_json_at(v, i));
        rm_json_array_close(w);
        break;
    case RM_JSON_OBJECT:
        rm_json_object_open(w);
        for (size_t i = 0; i < rm_json_length(v); i++) {
            rm_json_key(w, rm_json_key_at(v, i));
            write_value(w, rm_json_at(v, i));
        }
        rm_json_object_close(w);
        break;
    }
}

static bool same_shape(const rm_json *a, const rm_json *b)
{
    if (rm_json_type_of(a) != rm_json_type_of(b) ||
        rm_json_length(a) != rm_json_length(b))
        return false;
    for (size_t i = 0; i < rm_json_length(a); i++)
        if (!same_shape(rm_json_at(a, i), rm_json_at(b, i)))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_json *root = NULL;
    if (rm_json_parse(&root, (const char *)data, size, NULL) != RM_OK)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    rm_json_writer w;
    rm_json_begin(&w, f, size % 2 == 0);
    write_value(&w, root);
    rm_json_end(&w);
    fclose(f);
    rm_json *again = NULL;
    rm_error err;
    if (rm_json_parse(&again, text, len, &err) != RM_OK || !same_shape(root, again))
        abort(); /* the writer produced text its own parser rejects */
    rm_json_free(again);
    rm_json_free(root);
    free(text);
    return 0;
}
