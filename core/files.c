/*
 * Writing files so that a reader never sees half of one: a temporary file
 * in the same folder, renamed over the target only when it is complete
 * (rename within one file system is atomic), then the folder synced so
 * that the rename itself survives a power cut. Folders are made with
 * their parents, like mkdir -p.
 */
#include "rollmap_core.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A full disk, a quota or a file size limit: RM_ERR_NO_SPACE. */
static rm_status io_failure(rm_error *err, int errnum, const char *path,
                            const char *what)
{
    bool no_space = errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG;
    return rm_error_set(err, no_space ? RM_ERR_NO_SPACE : RM_ERR_IO,
                        "%s: %s: %s", path, what, strerror(errnum));
}

static rm_status make_one_dir(const char *path, mode_t mode, rm_error *err)
{
    struct stat st;
    if (mkdir(path, mode) == 0)
        return RM_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return RM_OK;
    if (errno == EEXIST)
        return rm_error_set(err, RM_ERR_IO, "%s: exists and is not a folder",
                            path);
    return io_failure(err, errno, path, "cannot create folder");
}

rm_status rm_make_dirs(const char *dir, unsigned mode, rm_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        rm_status st = make_one_dir(path, (mode_t)mode, err);
        *p = '/';
        if (st != RM_OK)
            return st;
    }
    return make_one_dir(path, (mode_t)mode, err);
}

rm_status rm_make_parent_dirs(const char *path, unsigned mode, rm_error *err)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return RM_OK;
    *slash = '\0';
    return rm_make_dirs(dir, mode, err);
}

/* ".name.XXXXXX" beside path: hidden, and unique for mkstemp. */
static rm_status temporary_name(rm_atomic_file *af, rm_error *err)
{
    const char *slash = strrchr(af->path, '/');
    int dir_len = slash ? (int)(slash - af->path + 1) : 0;
    const char *name = af->path + dir_len;
    int n = snprintf(af->tmp_path, sizeof af->tmp_path, "%.*s.%s.XXXXXX",
                     dir_len, af->path, name);
    if (n < 0 || (size_t)n >= sizeof af->tmp_path)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", af->path);
    return RM_OK;
}

rm_status rm_atomic_open(rm_atomic_file *af, const char *path, unsigned mode,
                         bool sync, rm_error *err)
{
    memset(af, 0, sizeof *af);
    af->sync = sync;
    if (snprintf(af->path, sizeof af->path, "%s", path) >= (int)sizeof af->path)
        return rm_error_set(err, RM_ERR_ARG, "%s: path too long", path);
    rm_status st = temporary_name(af, err);
    if (st != RM_OK)
        return st;
    int fd = mkstemp(af->tmp_path); /* O_EXCL, mode 0600 whatever the umask */
    if (fd < 0)
        return io_failure(err, errno, path, "cannot create");
    if ((mode && mode != 0600 && fchmod(fd, (mode_t)mode) != 0) ||
        !(af->f = fdopen(fd, "w"))) {
        st = io_failure(err, errno, path, "cannot create");
        close(fd);
        unlink(af->tmp_path);
    }
    return st;
}

/* fsync the folder holding path, so that a rename into it is on disk. */
static rm_status sync_folder(const char *path, rm_error *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_failure(err, errno, path, "cannot open its folder");
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    return rc == 0 ? RM_OK : io_failure(err, saved, path, "cannot sync its folder");
}

/* Everything written reaches the file (and the disk when asked);
 * 0 or the errno of the first failure. */
static int finish_writing(rm_atomic_file *af)
{
    int failed = ferror(af->f) ? (errno ? errno : EIO) : 0;
    if (!failed && fflush(af->f) != 0)
        failed = errno;
    if (!failed && af->sync && fsync(fileno(af->f)) != 0)
        failed = errno;
    if (fclose(af->f) != 0 && !failed)
        failed = errno;
    af->f = NULL;
    return failed;
}

rm_status rm_atomic_commit(rm_atomic_file *af, rm_error *err)
{
    int failed = finish_writing(af);
    if (!failed && rename(af->tmp_path, af->path) != 0)
        failed = errno;
    if (failed) {
        unlink(af->tmp_path);
        return io_failure(err, failed, af->path, "cannot write");
    }
    return sync_folder(af->path, err);
}

void rm_atomic_abort(rm_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0])
        unlink(af->tmp_path);
}

rm_status rm_atomic_write(const char *path, unsigned mode, bool sync,
                          rm_fill_fn fill, const void *ctx, rm_error *err)
{
    rm_atomic_file af;
    rm_status st = rm_atomic_open(&af, path, mode, sync, err);
    if (st != RM_OK)
        return st;
    st = fill(af.f, ctx, err);
    if (st != RM_OK) {
        rm_atomic_abort(&af);
        return st;
    }
    return rm_atomic_commit(&af, err);
}
