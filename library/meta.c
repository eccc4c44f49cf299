/* Setting a session's metadata in its file, then indexing the file again. */
#include "library_internal.h"

#include <string.h>

static bool has_changes(const rm_session_meta *changes)
{
    return changes->client[0] || changes->muscle[0] || changes->notes[0] ||
           changes->side != RM_SIDE_UNKNOWN;
}

static bool same_meta(const rm_session_meta *a, const rm_session_meta *b)
{
    return !strcmp(a->client, b->client) && !strcmp(a->muscle, b->muscle) &&
           !strcmp(a->notes, b->notes) && a->side == b->side;
}

/* Merge the changes into the file's own metadata and append the result. */
static rm_status write_file_meta(const rm_library_entry *e,
                                 const rm_session_meta *changes,
                                 rm_error *err)
{
    rm_session *s;
    rm_status st = library_open_indexed(e, &s, err);
    if (st != RM_OK)
        return st;
    rm_session_meta before = *rm_session_meta_of(s), after = before;
    rm_session_close(s);
    rm_session_meta_merge(&after, changes);
    if (same_meta(&before, &after))
        return RM_OK; /* setting it again does not grow the file */
    return rm_session_file_set_meta(e->path, &after, err);
}

/* Say which session err is about; its message names the file already. */
static rm_status name_session(const rm_library_entry *e, rm_status st,
                              const char *outcome, rm_error *err)
{
    if (err) {
        char message[sizeof err->message];
        memcpy(message, err->message, sizeof message);
        rm_error_set(err, st, "session %lld: %s%s", (long long)e->id, message,
                     outcome);
    }
    return st;
}

static rm_status index_again(rm_library *lib, const rm_library_entry *e,
                             const rm_session_meta *changes, rm_error *err)
{
    int64_t id;
    rm_library_add_outcome outcome;
    rm_status st = library_index_file(lib, e->path, NULL, &id, &outcome, err);
    if (st == RM_OK && changes->notes[0])
        st = rm_library_set_notes(lib, e->id, changes->notes, err);
    return st;
}

static rm_status set_entry_meta(rm_library *lib, const rm_library_entry *e,
                                const rm_session_meta *changes, rm_error *err)
{
    rm_status st = write_file_meta(e, changes, err);
    if (st != RM_OK)
        return name_session(e, st, "; nothing changed", err);
    st = index_again(lib, e, changes, err);
    if (st != RM_OK)
        return name_session(e, st, "; the file has the new metadata but the "
                            "library does not yet: set it again or run "
                            "'rollmap library add' on the file", err);
    return RM_OK;
}

rm_status rm_library_set_meta(rm_library *lib, int64_t id,
                              const rm_session_meta *changes, rm_error *err)
{
    if (!has_changes(changes))
        return rm_error_set(err, RM_ERR_ARG, "session %lld: no metadata to "
                            "set (client, side, muscle or notes)",
                            (long long)id);
    rm_library_entry *e;
    rm_status st = rm_library_get(lib, id, &e, err);
    if (st != RM_OK)
        return st;
    st = set_entry_meta(lib, e, changes, err);
    rm_library_entries_free(e, 1);
    return st;
}
