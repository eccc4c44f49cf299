/* INI files: sections, keys, comments, typed values and error messages. */
#include "testutil.h"

#include <string.h>

static rm_ini *parse_ok(const char *text)
{
    rm_ini *ini = NULL;
    rm_error err;
    rm_status st = rm_ini_parse(&ini, text, "test.ini", &err);
    if (st != RM_OK)
        fail_msg("parse failed: %s", err.message);
    return ini;
}

static void expect_parse_error(const char *text, const char *message)
{
    rm_ini *ini = (rm_ini *)1;
    rm_error err;
    assert_int_equal(rm_ini_parse(&ini, text, "bad.ini", &err), RM_ERR_FORMAT);
    assert_null(ini);
    assert_string_equal(err.message, message);
}

static void keys_are_found_in_their_sections(void **state)
{
    (void)state;
    rm_ini *ini = parse_ok("top = 1\n"
                           "[device]\n"
                           "model = HX711 roller\n"
                           "[channel.1]\n"
                           "model = other\n");
    assert_string_equal(rm_ini_get(ini, "", "top"), "1");
    assert_string_equal(rm_ini_get(ini, "device", "model"), "HX711 roller");
    assert_string_equal(rm_ini_get(ini, "channel.1", "model"), "other");
    assert_null(rm_ini_get(ini, "device", "top"));
    assert_null(rm_ini_get(ini, "nowhere", "model"));
    assert_int_equal(rm_ini_line(ini, "channel.1", "model"), 5);
    assert_int_equal(rm_ini_line(ini, "channel.1", "absent"), 0);
    assert_string_equal(rm_ini_name(ini), "test.ini");
    rm_ini_free(ini);
}

static void comments_blank_lines_crlf_and_spaces_are_ignored(void **state)
{
    (void)state;
    rm_ini *ini = parse_ok("# a comment\r\n"
                           "; another\r\n"
                           "\r\n"
                           "  [ device ]  \r\n"
                           "\tbaud   =   115200  \r\n"
                           "empty =\r\n"
                           "text = a = b ; not a comment");
    assert_string_equal(rm_ini_get(ini, "device", "baud"), "115200");
    assert_string_equal(rm_ini_get(ini, "device", "empty"), "");
    assert_string_equal(rm_ini_get(ini, "device", "text"), "a = b ; not a comment");
    rm_ini_free(ini);
}

static void sections_are_listed_once_in_file_order(void **state)
{
    (void)state;
    rm_ini *ini = parse_ok("[b]\nx=1\n[a]\ny=2\n[b]\nz=3\n");
    size_t n;
    const char *const *s = rm_ini_sections(ini, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s[0], "b");
    assert_string_equal(s[1], "a");
    assert_string_equal(rm_ini_get(ini, "b", "z"), "3");
    rm_ini_free(ini);
}

static void entries_list_every_key_with_its_line(void **state)
{
    (void)state;
    rm_ini *ini = parse_ok("[s]\n\nk1 = v1\n# c\nk2 = v2\n");
    size_t n;
    const rm_ini_entry *e = rm_ini_entries(ini, &n);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].key, "k1");
    assert_int_equal(e[0].line, 3);
    assert_string_equal(e[1].section, "s");
    assert_string_equal(e[1].value, "v2");
    assert_int_equal(e[1].line, 5);
    rm_ini_free(ini);
}

static void syntax_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_parse_error("[ok]\njust words\n",
                       "bad.ini:2: expected 'key = value' or '[section]'");
    expect_parse_error("\n\n[open\n",
                       "bad.ini:3: a section header must be '[name]' alone on its line");
    expect_parse_error("[]\n", "bad.ini:1: empty section name");
    expect_parse_error("[s]\n = 3\n", "bad.ini:2: a value without a key");
    expect_parse_error("[s]\nk = 1\n\nk = 2\n",
                       "bad.ini:4: k: set twice in [s] (first on line 2)");
}

static void numbers_parse_and_bad_ones_name_line_and_key(void **state)
{
    (void)state;
    rm_ini *ini = parse_ok("[n]\nrate = 80\nvid = 0x1A86\nneg = -12\n"
                           "gain = 2.5e-3\nbad = 12abc\nhuge = 1e999\n"
                           "octal = 010\nfrac = 1.5\n");
    rm_error err;
    long l = 0;
    double d = 0;
    assert_int_equal(rm_ini_get_long(ini, "n", "rate", &l, &err), RM_OK);
    assert_int_equal(l, 80);
    assert_int_equal(rm_ini_get_long(ini, "n", "vid", &l, &err), RM_OK);
    assert_int_equal(l, 0x1A86);
    assert_int_equal(rm_ini_get_long(ini, "n", "neg", &l, &err), RM_OK);
    assert_int_equal(l, -12);
    assert_int_equal(rm_ini_get_long(ini, "n", "octal", &l, &err), RM_OK);
    assert_int_equal(l, 10);
    assert_int_equal(rm_ini_get_double(ini, "n", "gain", &d, &err), RM_OK);
    assert_true(d == 2.5e-3);

    assert_int_equal(rm_ini_get_long(ini, "n", "bad", &l, &err), RM_ERR_FORMAT);
    assert_string_equal(err.message, "test.ini:6: bad: '12abc' is not a whole number");
    assert_int_equal(rm_ini_get_long(ini, "n", "frac", &l, &err), RM_ERR_FORMAT);
    assert_int_equal(rm_ini_get_double(ini, "n", "huge", &d, &err), RM_ERR_FORMAT);
    assert_string_equal(err.message, "test.ini:7: huge: '1e999' is not a finite number");
    assert_int_equal(rm_ini_get_double(ini, "n", "bad", &d, &err), RM_ERR_FORMAT);

    /* absent keys leave the value alone */
    l = 42;
    assert_int_equal(rm_ini_get_long(ini, "n", "absent", &l, &err), RM_ERR_NOT_FOUND);
    assert_int_equal(l, 42);
    rm_ini_free(ini);
}

static void switches_accept_the_usual_words(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool value;
    } words[] = {{"yes", true}, {"Off", false}, {"TRUE", true}, {"0", false},
                 {"on", true}, {"no", false}, {"1", true}, {"false", false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        bool v = !words[i].value;
        assert_int_equal(rm_bool_parse(words[i].text, &v), RM_OK);
        assert_int_equal(v, words[i].value);
    }
    bool v = true;
    assert_int_equal(rm_bool_parse("maybe", &v), RM_ERR_FORMAT);
    assert_int_equal(rm_bool_parse("", &v), RM_ERR_FORMAT);
    assert_true(v);
}

static void load_reads_a_real_file_and_reports_missing_ones(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "conf.ini");
    const char text[] = "[log]\nlevel = debug\n";
    assert_int_equal(testutil_write_file(path, text, strlen(text)), 0);
    rm_ini *ini = NULL;
    rm_error err;
    assert_int_equal(rm_ini_load(&ini, path, &err), RM_OK);
    assert_string_equal(rm_ini_get(ini, "log", "level"), "debug");
    assert_string_equal(rm_ini_name(ini), path);
    rm_ini_free(ini);

    char *missing = testutil_path(dir, "missing.ini");
    assert_int_equal(rm_ini_load(&ini, missing, &err), RM_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, missing));

    const char binary[] = "[a]\nk = v\n\0\x01";
    assert_int_equal(testutil_write_file(path, binary, sizeof binary - 1), 0);
    assert_int_equal(rm_ini_load(&ini, path, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "offset 10: a NUL byte"));
    free(missing);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_are_found_in_their_sections),
        cmocka_unit_test(comments_blank_lines_crlf_and_spaces_are_ignored),
        cmocka_unit_test(sections_are_listed_once_in_file_order),
        cmocka_unit_test(entries_list_every_key_with_its_line),
        cmocka_unit_test(syntax_errors_name_file_and_line),
        cmocka_unit_test(numbers_parse_and_bad_ones_name_line_and_key),
        cmocka_unit_test(switches_accept_the_usual_words),
        cmocka_unit_test(load_reads_a_real_file_and_reports_missing_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
