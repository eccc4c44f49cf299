/* Fuzz the CSV importer's parser: open the input as a CSV file (through an
 * in-memory file) and read every row for the generic device and for one
 * with a curved calibration. Errors are fine; crashes and leaks are not. */
#include "rollmap_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_rows(const char *path, bool curved)
{
    rm_csv_reader *r = NULL;
    if (rm_csv_reader_open(&r, path, NULL) != RM_OK)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_csv", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    read_rows(path, false);
    read_rows(path, true);
    close(fd);
    return 0;
}
