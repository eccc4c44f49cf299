/* What the library remembers about a session file to notice changes. */
#include "library_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define CRC_CHUNK (64 * 1024) /* read size: a few pages, fits any stack */

rm_status library_file_stat(const char *path, library_file_stamp *st,
                            rm_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                            "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return rm_error_set(err, RM_ERR_ARG, "%s: not a regular file", path);
    st->size = (uint64_t)sb.st_size;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * NS_PER_S + sb.st_mtim.tv_nsec;
    st->crc32c = 0;
    st->damage[0] = '\0';
    return RM_OK;
}

void library_describe_damage(const rm_integrity *in, library_file_stamp *st)
{
    size_t used = 0, cap = sizeof st->damage;
    st->damage[0] = '\0';
    if (in->blocks_skipped)
        used += (size_t)snprintf(st->damage, cap, "%llu damaged blocks "
                                 "skipped (%llu bytes)",
                                 (unsigned long long)in->blocks_skipped,
                                 (unsigned long long)in->bytes_skipped);
    if (in->truncated && used < cap)
        used += (size_t)snprintf(st->damage + used, cap - used, "%sthe file "
                                 "ends inside a block (cut short)",
                                 used ? "; " : "");
    if (!in->closed_cleanly && used < cap)
        snprintf(st->damage + used, cap - used, "%sno closing index (the "
                 "recording was cut off or the file cut short)",
                 used ? "; " : "");
}

rm_status library_file_crc(const char *path, uint32_t *crc, rm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                            "%s: %s", path, strerror(errno));
    unsigned char buf[CRC_CHUNK];
    uint32_t c = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        c = rm_crc32c(c, buf, (size_t)got);
    int saved = errno;
    close(fd);
    if (got < 0)
        return rm_error_set(err, RM_ERR_IO, "%s: read failed: %s", path,
                            strerror(saved));
    *crc = c;
    return RM_OK;
}
