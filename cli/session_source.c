/* A session named on the command line that this machine may not have as a
 * file: a library id or session id whose bytes a PostgreSQL library holds
 * (docs/CLINIC.md, "Reading a session recorded elsewhere"). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The library's file of entry e into path, with what was damaged in its
 * stored bytes as warnings. */
static int entry_file(const char *cmd, rm_library *lib,
                      const rm_library_entry *e, char *path, size_t cap)
{
    rm_library_fetched fetched;
    rm_error err;
    if (rm_library_session_file(lib, e, NULL, path, cap, &fetched, &err) !=
        RM_OK)
        return cli_fail_error(cmd, &err);
    if (fetched.damaged_chunks)
        fprintf(stderr, "rollmap %s: warning: %zu damaged chunk%s in %s "
                "(read as missing samples): %s\n", cmd,
                fetched.damaged_chunks,
                fetched.damaged_chunks == 1 ? "" : "s", rm_library_path(lib),
                fetched.damage);
    return CLI_OK;
}

/* A path the library cannot stand in for: it finds an added file only
 * while the file exists, and ids have neither a slash nor ".rms". */
static bool names_a_file(const char *text)
{
    size_t len = strlen(text);
    return strchr(text, '/') || (len > 4 && !strcmp(text + len - 4, ".rms"));
}

int cli_session_file(const char *cmd, const char *db, const char *text,
                     char *path, size_t cap)
{
    if (access(text, F_OK) == 0) {
        snprintf(path, cap, "%s", text);
        return CLI_OK;
    }
    if (names_a_file(text))
        return cli_fail(cmd, "%s: cannot open: %s", text, strerror(errno));
    char target[PATH_MAX];
    rm_error err;
    if (!db && rm_default_library_db(target, sizeof target, &err) != RM_OK)
        return cli_fail_error(cmd, &err);
    rm_library *lib = NULL;
    rm_library_entry *e = NULL;
    int64_t id = 0;
    rm_status st = rm_library_open(&lib, db ? db : target, &err);
    if (st == RM_OK)
        st = rm_library_resolve(lib, text, &id, &err);
    if (st == RM_OK)
        st = rm_library_get(lib, id, &e, &err);
    int status = st == RM_OK ? entry_file(cmd, lib, e, path, cap)
                             : cli_fail_error(cmd, &err);
    rm_library_entries_free(e, e ? 1 : 0);
    rm_library_close(lib);
    return status;
}
