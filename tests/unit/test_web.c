/* web/: request input (URL decoding, forms, routes, static names), HTML
 * and URL escaping, --listen and [web] parsing, the password hash and the
 * login rules. The HTTP side is tested end to end in
 * tests/integration/test_web.sh and tests/browser/. */
#include "testutil.h"
#include "web_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

static void url_decode_turns_escapes_and_plus_into_bytes(void **state)
{
    (void)state;
    char text[] = "a%41+b%2fc%2E";
    assert_true(web_url_decode(text));
    assert_string_equal(text, "aA b/c.");
}

static void url_decode_refuses_bad_escapes_and_nul(void **state)
{
    (void)state;
    char short_escape[] = "abc%4", not_hex[] = "%zz", nul[] = "a%00b";
    assert_false(web_url_decode(short_escape));
    assert_false(web_url_decode(not_hex));
    assert_false(web_url_decode(nul));
}

static void form_parse_splits_and_decodes_fields(void **state)
{
    (void)state;
    web_form f;
    rm_error err = {0};
    const char body[] = "client=C-1&notes=sore+left%21&flag&empty=";
    assert_int_equal(web_form_parse(&f, body, strlen(body), &err), RM_OK);
    assert_int_equal(f.count, 4);
    assert_string_equal(web_form_get(&f, "client"), "C-1");
    assert_string_equal(web_form_get(&f, "notes"), "sore left!");
    assert_string_equal(web_form_get(&f, "flag"), "");
    assert_string_equal(web_form_get(&f, "empty"), "");
    assert_null(web_form_get(&f, "missing"));
    web_form_free(&f);
}

static void form_parse_names_the_offset_of_a_bad_escape(void **state)
{
    (void)state;
    web_form f;
    rm_error err = {0};
    const char body[] = "a=1&b=%G1";
    assert_int_equal(web_form_parse(&f, body, strlen(body), &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "offset 4"));
}

static void form_parse_refuses_too_many_fields(void **state)
{
    (void)state;
    char body[WEB_FORM_MAX_FIELDS * 4 + 8] = "";
    for (int i = 0; i <= WEB_FORM_MAX_FIELDS; i++)
        strcat(body, "a=1&");
    web_form f;
    rm_error err = {0};
    assert_int_equal(web_form_parse(&f, body, strlen(body), &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "more than"));
}

static void form_parse_refuses_a_nul_byte(void **state)
{
    (void)state;
    web_form f;
    rm_error err = {0};
    const char body[] = {'a', '=', '\0', 'b'};
    assert_int_equal(web_form_parse(&f, body, sizeof body, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "offset 2"));
}

static void routes_find_pages_ids_and_names(void **state)
{
    (void)state;
    web_route r = web_route_match("GET", "/session/12");
    assert_int_equal(r.id, WEB_SESSION_PAGE);
    assert_int_equal(r.session, 12);
    r = web_route_match("GET", "/session/7/report.json");
    assert_int_equal(r.id, WEB_SESSION_FILE);
    assert_int_equal(r.session, 7);
    assert_string_equal(r.name, "report.json");
    r = web_route_match("POST", "/session/7/assign");
    assert_int_equal(r.id, WEB_SESSION_ASSIGN);
    assert_int_equal(web_route_match("POST", "/session/7/remove").id, WEB_SESSION_REMOVE);
    r = web_route_match("POST", "/api/live/mark");
    assert_int_equal(r.id, WEB_LIVE_COMMAND);
    assert_string_equal(r.name, "mark");
    assert_int_equal(web_route_match("GET", "/library").id, WEB_CLIENTS_PAGE);
    assert_int_equal(web_route_match("GET", "/").id, WEB_HOME);
}

static void routes_refuse_odd_paths_and_methods(void **state)
{
    (void)state;
    assert_int_equal(web_route_match("GET", "/session/0").id, WEB_NOT_FOUND);
    assert_int_equal(web_route_match("GET", "/session/-3").id, WEB_NOT_FOUND);
    assert_int_equal(web_route_match("GET", "/session/12abc").id, WEB_NOT_FOUND);
    assert_int_equal(web_route_match("GET", "/session/99999999999999999999").id,
                     WEB_NOT_FOUND);
    assert_int_equal(web_route_match("GET", "/static/../etc/passwd").id,
                     WEB_NOT_FOUND);
    assert_int_equal(web_route_match("GET", "/session/1/a/b").id, WEB_NOT_FOUND);
    assert_int_equal(web_route_match("POST", "/session/1/dance").id, WEB_NOT_FOUND);
    assert_int_equal(web_route_match("DELETE", "/library").id,
                     WEB_METHOD_NOT_ALLOWED);
    assert_int_equal(web_route_match("POST", "/library").id,
                     WEB_METHOD_NOT_ALLOWED);
}

static void only_changes_need_the_csrf_token(void **state)
{
    (void)state;
    assert_true(web_route_changes_state(WEB_SESSION_ASSIGN));
    assert_true(web_route_changes_state(WEB_SESSION_REMOVE));
    assert_true(web_route_changes_state(WEB_LIVE_COMMAND));
    assert_false(web_route_changes_state(WEB_SESSION_PAGE));
    assert_false(web_route_changes_state(WEB_LOGIN));
}

static void static_names_cannot_leave_their_folder(void **state)
{
    (void)state;
    assert_true(web_static_name_ok("live.js"));
    assert_true(web_static_name_ok("style-2_x.css"));
    assert_false(web_static_name_ok(".."));
    assert_false(web_static_name_ok("..js"));
    assert_false(web_static_name_ok(".htaccess"));
    assert_false(web_static_name_ok("a/b.js"));
    assert_false(web_static_name_ok("a..js"));
    assert_false(web_static_name_ok("noextension"));
    assert_false(web_static_name_ok(""));
    assert_false(web_static_name_ok("a%2fb.js"));
}

static char *escaped(void (*fn)(FILE *, const char *), const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    fn(out, text);
    fclose(out);
    return buf;
}

static void html_escaping_leaves_no_markup(void **state)
{
    (void)state;
    char *s = escaped(web_html, "\"><img src=x onerror='alert(1)'>&<script>");
    assert_string_equal(s, "&quot;&gt;&lt;img src=x onerror=&#39;alert(1)&#39;"
                           "&gt;&amp;&lt;script&gt;");
    free(s);
    s = escaped(web_html, NULL);
    assert_string_equal(s, "");
    free(s);
}

static void url_encoding_keeps_only_unreserved_bytes(void **state)
{
    (void)state;
    char *s = escaped(web_url_encode, "C 17/<a>&é");
    assert_string_equal(s, "C%2017%2F%3Ca%3E%26%C3%A9");
    free(s);
}

static void listen_accepts_ipv4_ipv6_and_port_alone(void **state)
{
    (void)state;
    rm_web_options o;
    rm_error err = {0};
    rm_web_options_default(&o);
    assert_string_equal(o.address, "127.0.0.1");
    assert_int_equal(o.port, 8117);
    assert_int_equal(rm_web_parse_listen("0.0.0.0:9000", &o, &err), RM_OK);
    assert_string_equal(o.address, "0.0.0.0");
    assert_int_equal(o.port, 9000);
    assert_int_equal(rm_web_parse_listen("[::1]:8118", &o, &err), RM_OK);
    assert_string_equal(o.address, "::1");
    assert_int_equal(o.port, 8118);
    assert_int_equal(rm_web_parse_listen(":7000", &o, &err), RM_OK);
    assert_string_equal(o.address, "::1");
    assert_int_equal(o.port, 7000);
    assert_int_equal(rm_web_parse_listen("fe80::1", &o, &err), RM_OK);
    assert_string_equal(o.address, "fe80::1");
}

static void listen_refuses_names_and_bad_ports(void **state)
{
    (void)state;
    rm_web_options o;
    rm_error err = {0};
    rm_web_options_default(&o);
    assert_int_equal(rm_web_parse_listen("localhost:80", &o, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "'localhost'"));
    assert_int_equal(rm_web_parse_listen("127.0.0.1:99999", &o, &err), RM_ERR_ARG);
    assert_non_null(strstr(err.message, "port"));
    assert_int_equal(rm_web_parse_listen("[::1", &o, &err), RM_ERR_ARG);
    assert_string_equal(o.address, "127.0.0.1");
    assert_int_equal(o.port, 8117);
}

static void ini_web_section_sets_options_and_names_unknown_keys(void **state)
{
    (void)state;
    rm_ini *ini = NULL;
    rm_error err = {0};
    const char text[] = "[device]\nsource = auto\n[web]\nlisten = 0.0.0.0:8200\n"
                        "database = /srv/lib.db\n";
    assert_int_equal(rm_ini_parse(&ini, text, "rollmapd.conf", &err), RM_OK);
    rm_web_options o;
    rm_web_options_default(&o);
    assert_int_equal(rm_web_options_apply_ini(&o, ini, &err), RM_OK);
    assert_string_equal(o.address, "0.0.0.0");
    assert_int_equal(o.port, 8200);
    assert_string_equal(o.db_path, "/srv/lib.db");
    rm_ini_free(ini);
    const char bad[] = "[web]\nlisten = 127.0.0.1\nport = 3\n";
    assert_int_equal(rm_ini_parse(&ini, bad, "x.conf", &err), RM_OK);
    assert_int_equal(rm_web_options_apply_ini(&o, ini, &err), RM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "x.conf:3"));
    assert_non_null(strstr(err.message, "'port'"));
    rm_ini_free(ini);
}

static void password_is_stored_as_a_slow_hash_never_plain(void **state)
{
    (void)state;
    char *dir = testutil_mkdtemp();
    char *path = testutil_path(dir, "web-password");
    rm_error err = {0};
    assert_int_equal(rm_web_set_password(path, "short", &err), RM_ERR_ARG);
    assert_int_equal(rm_web_set_password(path, "correct horse", &err), RM_OK);
    size_t len = 0;
    char *stored = (char *)testutil_read_file(path, &len);
    assert_non_null(stored);
    assert_memory_equal(stored, "$argon2id$", 10);
    assert_null(memmem(stored, len, "correct horse", 13));
    free(stored);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(path);
    testutil_rmdir(dir);
    free(dir);
}

static web_auth *auth_with_password(char **dir)
{
    *dir = testutil_mkdtemp();
    char *path = testutil_path(*dir, "pw");
    rm_error err = {0};
    assert_int_equal(rm_web_set_password(path, "correct horse", &err), RM_OK);
    web_auth *a = NULL;
    assert_int_equal(web_auth_open(&a, path, &err), RM_OK);
    free(path);
    return a;
}

static void login_gives_a_token_with_its_own_csrf_token(void **state)
{
    (void)state;
    char *dir;
    web_auth *a = auth_with_password(&dir);
    assert_true(web_auth_required(a));
    char token[128], csrf[160];
    rm_error err = {0};
    assert_null(web_auth_session_csrf(a, NULL, csrf, sizeof csrf));
    assert_int_equal(web_auth_login(a, "10.0.0.2", "wrong one", token,
                                    sizeof token, &err), RM_ERR_ARG);
    assert_int_equal(web_auth_login(a, "10.0.0.2", "correct horse", token,
                                    sizeof token, &err), RM_OK);
    assert_int_equal(strlen(token), 64);
    assert_non_null(web_auth_session_csrf(a, token, csrf, sizeof csrf));
    assert_int_equal(strlen(csrf), 64);
    assert_string_not_equal(csrf, token);
    assert_null(web_auth_session_csrf(a, "0000", csrf, sizeof csrf));
    web_auth_logout(a, token);
    assert_null(web_auth_session_csrf(a, token, csrf, sizeof csrf));
    web_auth_close(a);
    testutil_rmdir(dir);
    free(dir);
}

static void failed_logins_are_rate_limited_per_address(void **state)
{
    (void)state;
    char *dir;
    web_auth *a = auth_with_password(&dir);
    char token[128];
    rm_error err = {0};
    for (int i = 0; i < WEB_LOGIN_ATTEMPTS; i++)
        assert_int_equal(web_auth_login(a, "10.0.0.9", "nope nope", token,
                                        sizeof token, &err), RM_ERR_ARG);
    /* Now even the right password is refused from there, not elsewhere. */
    assert_int_equal(web_auth_login(a, "10.0.0.9", "correct horse", token,
                                    sizeof token, &err), RM_ERR_BUSY);
    assert_non_null(strstr(err.message, "too many"));
    assert_int_equal(web_auth_login(a, "10.0.0.10", "correct horse", token,
                                    sizeof token, &err), RM_OK);
    web_auth_close(a);
    testutil_rmdir(dir);
    free(dir);
}

static void without_a_password_file_no_login_is_needed(void **state)
{
    (void)state;
    web_auth *a = NULL;
    rm_error err = {0};
    assert_int_equal(web_auth_open(&a, "/nonexistent/pw", &err), RM_OK);
    assert_false(web_auth_required(a));
    char csrf[160];
    assert_non_null(web_auth_session_csrf(a, NULL, csrf, sizeof csrf));
    assert_int_equal(strlen(csrf), 64);
    web_auth_close(a);
}

static void tokens_compare_equal_only_when_identical(void **state)
{
    (void)state;
    assert_true(web_token_equal("abcd", "abcd"));
    assert_false(web_token_equal("abcd", "abce"));
    assert_false(web_token_equal("abcd", "abc"));
    assert_false(web_token_equal("", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_decode_turns_escapes_and_plus_into_bytes),
        cmocka_unit_test(url_decode_refuses_bad_escapes_and_nul),
        cmocka_unit_test(form_parse_splits_and_decodes_fields),
        cmocka_unit_test(form_parse_names_the_offset_of_a_bad_escape),
        cmocka_unit_test(form_parse_refuses_too_many_fields),
        cmocka_unit_test(form_parse_refuses_a_nul_byte),
        cmocka_unit_test(routes_find_pages_ids_and_names),
        cmocka_unit_test(routes_refuse_odd_paths_and_methods),
        cmocka_unit_test(only_changes_need_the_csrf_token),
        cmocka_unit_test(static_names_cannot_leave_their_folder),
        cmocka_unit_test(html_escaping_leaves_no_markup),
        cmocka_unit_test(url_encoding_keeps_only_unreserved_bytes),
        cmocka_unit_test(listen_accepts_ipv4_ipv6_and_port_alone),
        cmocka_unit_test(listen_refuses_names_and_bad_ports),
        cmocka_unit_test(ini_web_section_sets_options_and_names_unknown_keys),
        cmocka_unit_test(password_is_stored_as_a_slow_hash_never_plain),
        cmocka_unit_test(login_gives_a_token_with_its_own_csrf_token),
        cmocka_unit_test(failed_logins_are_rate_limited_per_address),
        cmocka_unit_test(without_a_password_file_no_login_is_needed),
        cmocka_unit_test(tokens_compare_equal_only_when_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
