/* A damaged database is never repaired in place: it is moved aside, and a
 * new one is filled from the session files, which hold the sessions. */
#include "library_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rename from to to when from exists. */
static rm_status rename_if_there(const char *from, const char *to,
                                 rm_error *err)
{
    if (rename(from, to) != 0 && errno != ENOENT)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot move it to %s: %s",
                            from, to, strerror(errno));
    return RM_OK;
}

rm_status rm_library_move_aside(const char *path, char *moved, size_t cap,
                                rm_error *err)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    int n = snprintf(moved, cap, "%s.damaged-%s", path, stamp);
    if (n < 0 || (size_t)n >= cap)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", path);
    rm_status st = rename_if_there(path, moved, err);
    /* SQLite's journal files go with it: they belong to that file */
    static const char *const journals[] = {"-wal", "-shm"};
    for (size_t i = 0; st == RM_OK && i < 2; i++) {
        char from[4096 + 8], to[4096 + 8];
        snprintf(from, sizeof from, "%s%s", path, journals[i]);
        snprintf(to, sizeof to, "%s%s", moved, journals[i]);
        st = rename_if_there(from, to, err);
    }
    return st;
}

rm_status rm_library_verify(rm_library *lib, bool full, rm_error *err)
{
    return library_verify(lib, full, err);
}
