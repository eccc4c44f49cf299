/* Free tags set while recording: carried in the session file as note
 * events, set in the library when the file is added. */
#include "library_internal.h"

#include <string.h>

rm_status rm_library_tag_note(const char *key, const char *value, char *out,
                              size_t cap, rm_error *err)
{
    size_t k = strlen(key), v = strlen(value);
    if (!k || strchr(key, '='))
        return rm_error_set(err, RM_ERR_ARG, "tag key '%s': must be "
                            "non-empty without '='", key);
    if (k + v > RM_LIBRARY_TAG_NOTE_MAX)
        return rm_error_set(err, RM_ERR_ARG, "tag %s = '%s': key and value "
                            "together are %zu bytes, at most %d", key, value,
                            k + v, RM_LIBRARY_TAG_NOTE_MAX);
    snprintf(out, cap, RM_LIBRARY_TAG_NOTE_PREFIX "%s=%s", key, value);
    return RM_OK;
}

/* The key and value of a tag note, or false for any other note. */
static bool split_tag_note(const rm_event *ev, char *key, size_t kcap,
                           const char **value)
{
    size_t plen = strlen(RM_LIBRARY_TAG_NOTE_PREFIX);
    if (ev->kind != RM_EVENT_NOTE ||
        strncmp(ev->text, RM_LIBRARY_TAG_NOTE_PREFIX, plen))
        return false;
    const char *body = ev->text + plen, *eq = strchr(body, '=');
    if (!eq || eq == body || (size_t)(eq - body) >= kcap)
        return false;
    memcpy(key, body, (size_t)(eq - body));
    key[eq - body] = '\0';
    *value = eq + 1;
    return true;
}

rm_status library_store_file_tags(rm_library *lib, int64_t id,
                                  const rm_session *s, rm_error *err)
{
    size_t n;
    const rm_event *events = rm_session_events(s, &n);
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < n; i++) {
        char key[sizeof events[i].text];
        const char *value;
        if (split_tag_note(&events[i], key, sizeof key, &value))
            st = rm_library_set_tag(lib, id, key, value, err);
    }
    return st;
}
