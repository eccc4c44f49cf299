/* Fuzz the session reader: open the input as a session file (through an
 * in-memory file), check every payload, read every sample (as rm_samples
 * and as columns, which must agree) and look up times. Damage must be
 * reported, never crash or leak. */
#include "rollmap_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_everything(rm_session *s)
{
    rm_sample buf[256];
    uint64_t at = 0, count = rm_session_sample_count(s);
    while (at < count) {
        size_t got = 0;
        if (rm_session_read(s, at, buf, 256, &got, NULL) != RM_OK || got == 0)
            abort(); /* verify dropped every bad block: reads cannot fail */
        at += got;
    }
    size_t n;
    rm_session_gaps(s, &n);
    rm_session_events(s, &n);
    /* Whatever the order of times in a damaged file, the sample found is
     * at or after the time asked for. */
    uint64_t t = rm_session_first_us(s) / 2 + rm_session_last_us(s) / 2;
    uint64_t found = rm_session_find_time(s, t);
    if (found > count)
        abort();
    if (found < count && (rm_session_read(s, found, buf, 1, &n, NULL) != RM_OK ||
                          n != 1 || buf[0].t_us < t))
        abort();
}

static bool same_sample(const rm_sample_columns *c, size_t i, const rm_sample *s)
{
    for (unsigned k = 0; k < c->channels; k++)
        if (c->counts[k][i] != s->counts[k])
            return false;
    return c->t_us[i] == s->t_us && c->flags[i] == s->flags &&
           c->encoder[i] == s->encoder;
}

/* Every sample again as columns of all channels, runs of up to 100. */
static void read_as_columns(rm_session *s)
{
    rm_sample_columns c;
    rm_sample want[100];
    if (rm_sample_columns_alloc(&c, RM_MAX_CHANNELS, 100, NULL) != RM_OK)
        abort();
    uint64_t at = 0, count = rm_session_sample_count(s);
    while (at < count) {
        size_t got = 0, same = 0;
        if (rm_session_read_columns(s, at, &c, &got, NULL) != RM_OK || got == 0 ||
            rm_session_read(s, at, want, got, &same, NULL) != RM_OK || same != got)
            abort();
        for (size_t i = 0; i < got; i++)
            if (!same_sample(&c, i, &want[i]))
                abort();
        at += got;
    }
    rm_sample_columns_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_session", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rm_session *s = NULL;
    if (rm_session_open(&s, path, NULL) == RM_OK) {
        if (rm_session_verify(s, NULL) != RM_OK)
            abort();
        read_everything(s);
        read_as_columns(s);
        rm_session_close(s);
    }
    close(fd);
    return 0;
}
