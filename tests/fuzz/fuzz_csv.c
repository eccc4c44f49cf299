/* Fuzz the CSV importer's parser: open the input as a CSV file (through an
 * in-memory file) and read every row for the generic device and for one
 * with a curved calibration. An input whose first line starts with "map:"
 * gives the rest of that line to the column map parser and reads the
 * remaining lines through the map. Errors are fine; crashes and leaks are
 * not. */
#include "rollmap_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAP_PREFIX "map:"

static void read_rows(const char *path, const rm_csv_column_map *map, bool curved)
{
    rm_csv_reader *r = NULL;
    if (rm_csv_reader_open(&r, path, map, NULL) != RM_OK)
        return;
    rm_device_info info;
    rm_device_info_generic(&info, rm_csv_reader_channel_count(r), 100,
                           rm_csv_reader_has_position(r));
    for (unsigned i = 0; curved && i < info.channel_count; i++)
        info.channels[i].cal.coef[2] = 1e-6;
    rm_sample s;
    uint64_t last_t = 0;
    rm_status st;
    while ((st = rm_csv_reader_next(r, &info, &s, NULL)) == RM_OK) {
        if (s.t_us < last_t)
            abort(); /* the reader promises rows in time order */
        last_t = s.t_us;
    }
    if (st == RM_OK)
        abort();
    rm_csv_reader_close(r);
}

/* The column map on a leading "map:" line (its text in *map_text, which
 * the caller frees), and the size of that line; 0 without one. */
static size_t split_map_line(const uint8_t *data, size_t size, char **map_text)
{
    *map_text = NULL;
    size_t prefix = strlen(MAP_PREFIX);
    if (size < prefix || memcmp(data, MAP_PREFIX, prefix) != 0)
        return 0;
    const uint8_t *newline = memchr(data, '\n', size);
    size_t line = newline ? (size_t)(newline - data) + 1 : size;
    *map_text = strndup((const char *)data + prefix, line - prefix);
    if (!*map_text)
        abort();
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *map_text;
    size_t skip = split_map_line(data, size, &map_text);
    rm_csv_column_map map;
    const rm_csv_column_map *use = NULL;
    if (map_text && rm_csv_column_map_parse(&map, map_text, NULL) == RM_OK)
        use = &map;
    free(map_text);
    int fd = memfd_create("fuzz_csv", 0);
    if (fd < 0 || write(fd, data + skip, size - skip) != (ssize_t)(size - skip))
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    read_rows(path, use, false);
    read_rows(path, use, true);
    close(fd);
    return 0;
}
