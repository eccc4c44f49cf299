/* JSON writer and parser: escaping, number precision, layout, strictness,
 * limits and error offsets. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A writer into memory; finish() returns the text (caller frees). */
typedef struct memory_writer {
    rm_json_writer w;
    FILE *f;
    char *text;
    size_t len;
} memory_writer;

static void start(memory_writer *m, bool pretty)
{
    m->text = NULL;
    m->len = 0;
    m->f = open_memstream(&m->text, &m->len);
    assert_non_null(m->f);
    rm_json_begin(&m->w, m->f, pretty);
}

static char *finish(memory_writer *m)
{
    rm_json_end(&m->w);
    fclose(m->f);
    return m->text;
}

static char *string_as_json(const char *s)
{
    memory_writer m;
    start(&m, false);
    rm_json_string(&m.w, s);
    return finish(&m);
}

static char *number_as_json(double v)
{
    memory_writer m;
    start(&m, false);
    rm_json_number(&m.w, v);
    return finish(&m);
}

static rm_json *parse_ok(const char *text)
{
    rm_json *root = NULL;
    rm_error err;
    rm_error_clear(&err);
    rm_status st = rm_json_parse(&root, text, strlen(text), &err);
    if (st != RM_OK)
        fail_msg("parse of '%s' failed: %s", text, err.message);
    return root;
}

/* Parse text that must fail; returns the error message (static storage). */
static const char *parse_error(const char *text, size_t len)
{
    static rm_error err;
    rm_json *root = (rm_json *)1;
    rm_error_clear(&err);
    assert_int_equal(rm_json_parse(&root, text, len, &err), RM_ERR_FORMAT);
    assert_null(root);
    return err.message;
}

static void writer_escapes_quotes_backslashes_and_control_chars(void **state)
{
    (void)state;
    char *json = string_as_json("a\"b\\c\n\t\r\b\f\x01\x1f/");
    assert_string_equal(json, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/\"");
    free(json);
}

static void writer_passes_valid_utf8_through(void **state)
{
    (void)state;
    const char *text = "Oberschenkel \xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\xb5";
    char *json = string_as_json(text);
    char expected[128];
    snprintf(expected, sizeof expected, "\"%s\"", text);
    assert_string_equal(json, expected);
    free(json);
}

static void writer_replaces_invalid_utf8_with_replacement_char(void **state)
{
    (void)state;
    /* A lone continuation byte, an overlong '/', and a cut-short sequence. */
    char *json = string_as_json("a\x80" "b\xc0\xaf" "c\xe2\x82");
    assert_string_equal(json, "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\"");
    free(json);
}

static void writer_prints_shortest_round_trip_numbers(void **state)
{
    (void)state;
    struct {
        double v;
        const char *text;
    } cases[] = {
        {0.1, "0.1"}, {-2.5, "-2.5"}, {1e300, "1e+300"}, {100, "100"},
        {1.0 / 3.0, "0.3333333333333333"}, {0.1 + 0.2, "0.30000000000000004"},
        {5e-324, "4.94065645841247e-324"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = number_as_json(cases[i].v);
        assert_string_equal(json, cases[i].text);
        assert_true(strtod(json, NULL) == cases[i].v);
        free(json);
    }
}

static void writer_turns_nan_and_infinity_into_null(void **state)
{
    (void)state;
    char *json = number_as_json(NAN);
    assert_string_equal(json, "null");
    free(json);
    json = number_as_json(-INFINITY);
    assert_string_equal(json, "null");
    free(json);
}

static void writer_compact_layout(void **state)
{
    (void)state;
    memory_writer m;
    start(&m, false);
    rm_json_object_open(&m.w);
    rm_json_key(&m.w, "n");
    rm_json_int(&m.w, INT64_MIN);
    rm_json_key(&m.w, "list");
    rm_json_array_open(&m.w);
    rm_json_bool(&m.w, true);
    rm_json_bool(&m.w, false);
    rm_json_null(&m.w);
    rm_json_array_open(&m.w);
    rm_json_array_close(&m.w);
    rm_json_array_close(&m.w);
    rm_json_key(&m.w, "empty");
    rm_json_object_open(&m.w);
    rm_json_object_close(&m.w);
    rm_json_key(&m.w, "s");
    rm_json_string(&m.w, NULL);
    rm_json_object_close(&m.w);
    char *json = finish(&m);
    assert_string_equal(json, "{\"n\":-9223372036854775808,\"list\":[true,false,"
                              "null,[]],\"empty\":{},\"s\":null}");
    free(json);
}

static void writer_pretty_layout_indents_two_spaces(void **state)
{
    (void)state;
    memory_writer m;
    start(&m, true);
    rm_json_object_open(&m.w);
    rm_json_key(&m.w, "a");
    rm_json_int(&m.w, 1);
    rm_json_key(&m.w, "b");
    rm_json_array_open(&m.w);
    rm_json_int(&m.w, 2);
    rm_json_object_open(&m.w);
    rm_json_object_close(&m.w);
    rm_json_array_close(&m.w);
    rm_json_object_close(&m.w);
    char *json = finish(&m);
    assert_string_equal(json, "{\n  \"a\": 1,\n  \"b\": [\n    2,\n    {}\n  ]\n}\n");
    free(json);
}

static void written_numbers_parse_back_to_the_same_doubles(void **state)
{
    (void)state;
    enum { COUNT = 2000 };
    double values[COUNT];
    memory_writer m;
    start(&m, false);
    rm_json_array_open(&m.w);
    srand(7);
    for (int i = 0; i < COUNT; i++) {
        double mantissa = (double)rand() / RAND_MAX - 0.5;
        values[i] = ldexp(mantissa, rand() % 200 - 100);
        rm_json_number(&m.w, values[i]);
    }
    rm_json_array_close(&m.w);
    char *json = finish(&m);
    rm_json *root = parse_ok(json);
    assert_int_equal(rm_json_length(root), COUNT);
    for (int i = 0; i < COUNT; i++)
        assert_true(rm_json_as_number(rm_json_at(root, (size_t)i), NAN) == values[i]);
    rm_json_free(root);
    free(json);
}

static void written_strings_parse_back_byte_for_byte(void **state)
{
    (void)state;
    const char *text = "tab\there \"quoted\" back\\slash \x7f \xc3\xa9\x01";
    char *json = string_as_json(text);
    rm_json *root = parse_ok(json);
    assert_string_equal(rm_json_as_string(root, NULL), text);
    rm_json_free(root);
    free(json);
}

static void parser_builds_a_tree_with_lookups(void **state)
{
    (void)state;
    rm_json *root = parse_ok(" {\"device\": {\"rate\": 1000, \"ok\": true},"
                             " \"channels\": [1.5, -2e3, \"x\", null], \"k\": 1, \"k\": 2}\r\n");
    assert_int_equal(rm_json_type_of(root), RM_JSON_OBJECT);
    const rm_json *device = rm_json_get(root, "device");
    assert_int_equal(rm_json_as_number(rm_json_get(device, "rate"), 0), 1000);
    assert_true(rm_json_as_bool(rm_json_get(device, "ok"), false));
    const rm_json *channels = rm_json_get(root, "channels");
    assert_int_equal(rm_json_length(channels), 4);
    assert_true(rm_json_as_number(rm_json_at(channels, 0), 0) == 1.5);
    assert_true(rm_json_as_number(rm_json_at(channels, 1), 0) == -2000);
    assert_string_equal(rm_json_as_string(rm_json_at(channels, 2), ""), "x");
    assert_int_equal(rm_json_type_of(rm_json_at(channels, 3)), RM_JSON_NULL);
    assert_null(rm_json_at(channels, 4));
    /* Duplicate keys: the last one wins; key_at keeps file order. */
    assert_int_equal(rm_json_as_number(rm_json_get(root, "k"), 0), 2);
    assert_string_equal(rm_json_key_at(root, 0), "device");
    assert_string_equal(rm_json_key_at(root, 3), "k");
    assert_null(rm_json_key_at(root, 4));
    assert_null(rm_json_get(root, "missing"));
    /* Fallbacks for the wrong type. */
    assert_string_equal(rm_json_as_string(device, "fallback"), "fallback");
    assert_true(rm_json_as_number(rm_json_at(channels, 2), -1) == -1);
    rm_json_free(root);
}

static void parser_decodes_escapes_and_surrogate_pairs(void **state)
{
    (void)state;
    rm_json *root = parse_ok("\"\\u00e9\\u20ac\\ud83e\\uddb5\\n\\/\\\"\"");
    assert_string_equal(rm_json_as_string(root, NULL),
                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\xb5\n/\"");
    rm_json_free(root);
}

static void parser_errors_name_the_byte_offset(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"{\"a\" 1}", "byte 5: expected ':' after an object key"},
        {"[1, 2", "byte 5: expected ',' or ']' in an array"},
        {"[1,]", "byte 3: expected a value"},
        {"{\"a\":1,}", "byte 7: expected a string key in an object"},
        {"01", "byte 1: unexpected text after the JSON value"},
        {"1.", "byte 2: expected a digit after '.' in a number"},
        {"-", "byte 1: expected a digit in a number"},
        {"1e+", "byte 3: expected a digit in a number's exponent"},
        {"\"abc", "byte 0: string not terminated"},
        {"\"a\\x\"", "byte 2: invalid escape in a string"},
        {"\"\\ud800\"", "byte 1: high surrogate not followed by a low one"},
        {"\"\\udc00\"", "byte 1: unpaired low surrogate in \\u escape"},
        {"\"\\u12g4\"", "byte 5: expected 4 hex digits after \\u"},
        {"\"a\tb\"", "byte 2: control character in a string"},
        {"\"a\xff\"", "byte 2: invalid UTF-8 in a string"},
        {"tru", "byte 0: expected a value"},
        {"1e999", "byte 0: number out of range"},
        {"  ", "byte 2: expected a value, found the end of input"},
        {"{} x", "byte 3: unexpected text after the JSON value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(parse_error(cases[i].text, strlen(cases[i].text)),
                            cases[i].message);
}

static void parser_stops_at_len_not_at_nul(void **state)
{
    (void)state;
    const char text[] = "[1]garbage";
    rm_json *root = NULL;
    assert_int_equal(rm_json_parse(&root, text, 3, NULL), RM_OK);
    assert_int_equal(rm_json_length(root), 1);
    rm_json_free(root);
    assert_string_equal(parse_error("[1]\0", 4),
                        "byte 3: unexpected text after the JSON value");
}

static char *nested_arrays(int depth)
{
    char *text = malloc((size_t)depth * 2 + 1);
    assert_non_null(text);
    memset(text, '[', (size_t)depth);
    memset(text + depth, ']', (size_t)depth);
    text[depth * 2] = '\0';
    return text;
}

static void parser_limits_nesting_depth(void **state)
{
    (void)state;
    char *deepest_allowed = nested_arrays(RM_JSON_MAX_DEPTH);
    rm_json *root = parse_ok(deepest_allowed);
    rm_json_free(root);
    free(deepest_allowed);

    char *too_deep = nested_arrays(RM_JSON_MAX_DEPTH + 1);
    const char *message = parse_error(too_deep, strlen(too_deep));
    assert_non_null(strstr(message, "byte 64: arrays and objects nested more than 64 levels deep"));
    free(too_deep);
}

static void parser_refuses_input_beyond_the_size_limit(void **state)
{
    (void)state;
    /* The size check comes before any byte is read. */
    const char *message = parse_error("[]", (size_t)RM_JSON_MAX_BYTES + 1);
    assert_non_null(strstr(message, "exceeds the limit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_escapes_quotes_backslashes_and_control_chars),
        cmocka_unit_test(writer_passes_valid_utf8_through),
        cmocka_unit_test(writer_replaces_invalid_utf8_with_replacement_char),
        cmocka_unit_test(writer_prints_shortest_round_trip_numbers),
        cmocka_unit_test(writer_turns_nan_and_infinity_into_null),
        cmocka_unit_test(writer_compact_layout),
        cmocka_unit_test(writer_pretty_layout_indents_two_spaces),
        cmocka_unit_test(written_numbers_parse_back_to_the_same_doubles),
        cmocka_unit_test(written_strings_parse_back_byte_for_byte),
        cmocka_unit_test(parser_builds_a_tree_with_lookups),
        cmocka_unit_test(parser_decodes_escapes_and_surrogate_pairs),
        cmocka_unit_test(parser_errors_name_the_byte_offset),
        cmocka_unit_test(parser_stops_at_len_not_at_nul),
        cmocka_unit_test(parser_limits_nesting_depth),
        cmocka_unit_test(parser_refuses_input_beyond_the_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
