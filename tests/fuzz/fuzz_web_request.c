/* libFuzzer target for the request input rollmap serve parses itself:
 * the first line is "METHOD PATH", the rest a form body. Besides crashes it
 * checks what the parsers promise: decoded fields hold no NUL-cut surprises,
 * a routed name never holds a '/', and an accepted static name has no "..". */
#include "web_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_route(const char *method, char *path)
{
    web_route r = web_route_match(method, path);
    if (strchr(r.name, '/'))
        abort();
    if ((r.id == WEB_SESSION_PAGE || r.id == WEB_SESSION_FILE) && r.session <= 0)
        abort();
    if (web_url_decode(path) && web_static_name_ok(path) && strstr(path, ".."))
        abort();
}

static void check_form(const char *body, size_t len)
{
    web_form f;
    rm_error err = {0};
    if (web_form_parse(&f, body, len, &err) != RM_OK) {
        if (!err.message[0])
            abort(); /* a refusal says why */
        return;
    }
    if (f.count > WEB_FORM_MAX_FIELDS)
        abort();
    for (size_t i = 0; i < f.count; i++)
        if (web_form_get(&f, f.fields[i].key) == NULL)
            abort();
    web_form_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *newline = memchr(text, '\n', size);
    size_t head_len = newline ? (size_t)(newline - text) : size;
    char *head = strndup(text, head_len);
    char *space = head ? strchr(head, ' ') : NULL;
    if (space) {
        *space = '\0';
        check_route(head, space + 1);
        rm_web_options o;
        rm_error err = {0};
        rm_web_options_default(&o);
        rm_web_parse_listen(space + 1, &o, &err);
    }
    if (newline)
        check_form(newline + 1, size - head_len - 1);
    free(head);
    free(text);
    return 0;
}
