/* Checking indexed files against the library. */
#include "library_internal.h"

#include <stdlib.h>
#include <string.h>

/* Why a file cannot be checked; the item names the path already. */
static void unreadable(rm_library_check_item *item, const rm_error *ferr)
{
    item->state = RM_LIBRARY_FILE_MISSING;
    if (ferr->code == RM_ERR_NOT_FOUND)
        snprintf(item->detail, sizeof item->detail, "file is missing");
    else
        snprintf(item->detail, sizeof item->detail, "unreadable: %.140s",
                 ferr->message);
}

void library_check_entry(const rm_library_entry *e, bool hash,
                         rm_library_check_item *item)
{
    library_file_stamp now;
    rm_error ferr;
    item->id = e->id;
    snprintf(item->session_id, sizeof item->session_id, "%s", e->session_id);
    if (library_file_stat(e->path, &now, &ferr) != RM_OK) {
        unreadable(item, &ferr);
        return;
    }
    item->state = RM_LIBRARY_FILE_CHANGED;
    if (now.size != e->file_size) {
        snprintf(item->detail, sizeof item->detail,
                 "size %llu -> %llu bytes", (unsigned long long)e->file_size,
                 (unsigned long long)now.size);
    } else if ((hash || now.mtime_ns != e->file_mtime_ns) &&
               library_file_crc(e->path, &now.crc32c, &ferr) != RM_OK) {
        unreadable(item, &ferr);
    } else if ((hash || now.mtime_ns != e->file_mtime_ns) &&
               now.crc32c != e->file_crc32c) {
        snprintf(item->detail, sizeof item->detail,
                 "content differs (CRC-32C %08x, was %08x)", now.crc32c,
                 e->file_crc32c);
    } else {
        item->state = RM_LIBRARY_FILE_OK;
    }
}

/* A file that is not on this machine, in a library that keeps the files'
 * bytes: another room's session, which is not missing when the database
 * holds its whole file as it was indexed. */
static rm_status check_elsewhere(rm_library *lib, const rm_library_entry *e,
                                 rm_library_check_item *item, rm_error *err)
{
    library_file_stamp now;
    rm_error ferr;
    if (library_file_stat(e->path, &now, &ferr) != RM_ERR_NOT_FOUND)
        return RM_OK;   /* here, but unreadable: that is what it says */
    library_stored_file held;
    rm_status st = library_stored_file_get(lib, e->session_id, &held, err);
    if (st != RM_OK)
        return st;
    if (held.length == e->file_size && held.crc32c == e->file_crc32c) {
        item->state = RM_LIBRARY_FILE_ELSEWHERE;
        snprintf(item->detail, sizeof item->detail, "not on this machine; "
                 "the database holds its %llu bytes",
                 (unsigned long long)held.length);
    } else if (!held.length) {
        snprintf(item->detail, sizeof item->detail, "file is missing, and "
                 "the database holds none of its bytes");
    } else if (held.length < e->file_size) {
        snprintf(item->detail, sizeof item->detail, "file is missing, and "
                 "the database holds only %llu of its %llu bytes ('rollmap "
                 "library sync' where it was recorded sends the rest)",
                 (unsigned long long)held.length,
                 (unsigned long long)e->file_size);
    } else {
        snprintf(item->detail, sizeof item->detail, "file is missing, and "
                 "the database holds other bytes than were indexed (%llu, "
                 "CRC-32C %08x; indexed %08x)",
                 (unsigned long long)held.length, held.crc32c,
                 e->file_crc32c);
    }
    return RM_OK;
}

static rm_status check_stored(rm_library *lib, rm_library_check_item *item,
                              rm_error *err)
{
    rm_library_fetched found;
    rm_status st = library_check_stored(lib, item->session_id, &found, err);
    item->stored_damaged = st == RM_OK && found.damage[0];
    snprintf(item->stored_detail, sizeof item->stored_detail, "%s",
             found.damage);
    return st;
}

rm_status rm_library_check(rm_library *lib, const rm_library_filter *f,
                           bool hash, rm_library_check_item **out, size_t *n,
                           rm_error *err)
{
    rm_library_entry *entries;
    size_t count;
    *out = NULL;
    *n = 0;
    rm_status st = rm_library_list(lib, f, &entries, &count, err);
    if (st != RM_OK)
        return st;
    rm_library_check_item *items = calloc(count ? count : 1, sizeof *items);
    if (!items) {
        rm_library_entries_free(entries, count);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    bool stores = rm_library_stores_data(lib);
    for (size_t i = 0; st == RM_OK && i < count; i++) {
        library_check_entry(&entries[i], hash, &items[i]);
        if (stores && items[i].state == RM_LIBRARY_FILE_MISSING)
            st = check_elsewhere(lib, &entries[i], &items[i], err);
        items[i].path = entries[i].path; /* moved: the entry lets go of it */
        entries[i].path = NULL;
        if (st == RM_OK && stores && hash)
            st = check_stored(lib, &items[i], err);
    }
    rm_library_entries_free(entries, count);
    if (st != RM_OK) {
        rm_library_check_items_free(items, count);
        return st;
    }
    *out = items;
    *n = count;
    return RM_OK;
}

/* A copy of the item's session on this machine that holds what the
 * library stored: its file, unchanged since it was indexed (check read it
 * with hash), or a cached copy matching the stored length and checksum.
 * Into path; false with why in the item when there is none. */
static bool good_copy(rm_library *lib, rm_library_check_item *item,
                      const char *cache_dir, char *path, size_t cap)
{
    char dir[4096], why[160] = "no cached copy";
    rm_error err;
    bool cached = false;
    if (item->state == RM_LIBRARY_FILE_OK) {
        snprintf(path, cap, "%s", item->path);
        return true;
    }
    if (!cache_dir && rm_default_cache_dir(dir, sizeof dir, &err) == RM_OK)
        cache_dir = dir;
    if (cache_dir &&
        library_cached_copy(lib, item->session_id, cache_dir, path, cap,
                            &cached, &err) != RM_OK)
        snprintf(why, sizeof why, "its cached copy: %.130s", err.message);
    if (cached)
        return true;
    snprintf(item->repair_detail, sizeof item->repair_detail,
             "not repaired: this machine has no good copy (%.300s: %s; %s); "
             "run 'rollmap library check --hash' on the machine that "
             "recorded it, or restore the session from the server's backups",
             item->path,
             item->state == RM_LIBRARY_FILE_ELSEWHERE ? "not on this machine"
                                                      : item->detail,
             why);
    return false;
}

void rm_library_repair_stored(rm_library *lib, rm_library_check_item *item,
                              const char *cache_dir)
{
    char from[4096];
    rm_library_upload up;
    rm_error err;
    if (!item->stored_damaged ||
        !good_copy(lib, item, cache_dir, from, sizeof from))
        return;
    if (library_rewrite_stored(lib, from, item->session_id, &up, &err) !=
        RM_OK) {
        snprintf(item->repair_detail, sizeof item->repair_detail,
                 "not repaired: %.700s", err.message);
        return;
    }
    item->stored_repaired = true;
    snprintf(item->repair_detail, sizeof item->repair_detail,
             "repaired: %zu of %zu chunks written again from %.600s",
             up.chunks_sent, up.chunks_sent + up.chunks_kept, from);
}

void rm_library_check_items_free(rm_library_check_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i].path);
    free(items);
}

rm_status library_open_indexed(const rm_library_entry *e, rm_session **out,
                               rm_error *err)
{
    rm_session *s;
    rm_status st = rm_session_open(&s, e->path, err);
    if (st != RM_OK)
        return st;
    if (strcmp(rm_session_meta_of(s)->session_id, e->session_id)) {
        rm_session_close(s);
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s: now holds another session than %s; run "
                            "'rollmap library add' on it instead",
                            e->path, e->session_id);
    }
    *out = s;
    return RM_OK;
}
