/* Session files in a folder that the library does not know yet: after a
 * crash of the recorder, a database that was locked or damaged when the
 * session ended, or files copied in by hand. */
#include "library_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static bool has_session_suffix(const char *name)
{
    size_t n = strlen(name), k = strlen(RM_LIBRARY_SESSION_SUFFIX);
    return n > k && !strcmp(name + n - k, RM_LIBRARY_SESSION_SUFFIX);
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool push_path(char ***paths, size_t *n, size_t *cap, const char *dir,
                      const char *name)
{
    if (*n == *cap) {
        size_t want = *cap ? *cap * 2 : 16;
        char **p = realloc(*paths, want * sizeof *p);
        if (!p)
            return false;
        *paths = p;
        *cap = want;
    }
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    if (!path)
        return false;
    sprintf(path, "%s/%s", dir, name);
    (*paths)[(*n)++] = path;
    return true;
}

rm_status rm_library_folder_sessions(const char *folder, char ***out,
                                     size_t *n, rm_error *err)
{
    *out = NULL;
    *n = 0;
    char dir[PATH_MAX];
    if (!realpath(folder, dir))
        return errno == ENOENT ? RM_OK
                               : rm_error_set(err, RM_ERR_IO, "%s: %s", folder,
                                              strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot list: %s", dir,
                            strerror(errno));
    size_t cap = 0;
    rm_status st = RM_OK;
    struct dirent *e;
    while (st == RM_OK && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && has_session_suffix(e->d_name) &&
            !push_path(out, n, &cap, dir, e->d_name))
            st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    closedir(d);
    if (st != RM_OK) {
        rm_library_paths_free(*out, *n);
        *out = NULL;
        *n = 0;
        return st;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, compare_paths);
    return RM_OK;
}

void rm_library_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

rm_status rm_library_is_indexed(rm_library *lib, const char *path,
                                bool *indexed, rm_error *err)
{
    library_stmt *stmt;
    rm_status st = library_prepare(lib, "SELECT 1 FROM sessions WHERE path = ?",
                                   &stmt, err);
    if (st != RM_OK)
        return st;
    library_bind_text(stmt, 1, path);
    int rc = library_step(stmt);
    *indexed = rc == LIBRARY_ROW;
    if (rc != LIBRARY_ROW && rc != LIBRARY_DONE)
        st = library_sql_error(lib, "looking up a file",
                               err);
    library_finalize(stmt);
    return st;
}

rm_status rm_library_unindexed(rm_library *lib, const char *folder,
                               char ***out, size_t *n, rm_error *err)
{
    char **paths;
    size_t count, kept = 0;
    rm_status st = rm_library_folder_sessions(folder, &paths, &count, err);
    for (size_t i = 0; st == RM_OK && i < count; i++) {
        bool indexed = false;
        st = rm_library_is_indexed(lib, paths[i], &indexed, err);
        if (indexed)
            free(paths[i]);
        else
            paths[kept++] = paths[i];
    }
    if (st != RM_OK) {
        rm_library_paths_free(paths, count);
        return st;
    }
    *out = paths;
    *n = kept;
    return RM_OK;
}

rm_status rm_library_close_unclosed(const char *path, bool *was_unclosed,
                                    rm_error *err)
{
    *was_unclosed = false;
    rm_session *s;
    rm_status st = rm_session_open(&s, path, err);
    if (st != RM_OK)
        return st;
    *was_unclosed = !rm_session_integrity(s)->closed_cleanly;
    rm_session_close(s);
    if (!*was_unclosed)
        return RM_OK;
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    rm_session_writer *w;
    st = rm_session_writer_reopen(&w, path, &opt, err);
    return st == RM_OK ? rm_session_writer_close(w, err) : st;
}
