/*
 * Continuing a live device's clock after it restarted (a replug, a reset).
 *
 * The host only sees when frames arrive, and a frame can arrive late (a
 * busy machine reads late, a USB bridge batches) but never early. So the
 * relation between the device's clock and the host's shows best in the
 * least delayed frame: the one whose arrival less its last sample's device
 * time is smallest. The first frames of a restarted clock are held back
 * and the least delayed of them anchors the new clock to the old, whose
 * least delayed frame is looked for among as many of its last reads:
 * equal chances on both sides to be read on time. The held frames then go
 * on in their order with the new offset: holding delays them, it loses
 * none.
 */
#include "source_internal.h"

#include <string.h>

/* The first frames of a restarted clock are held until this many of them
 * carry samples, or until the first has waited HOLD_US: long enough that
 * one of them is read on time on a loaded machine (with 8 processes per
 * core, 100 ms still left about 1 ms per replug), short enough for the
 * live view. As many of the old clock's last reads span about as long
 * (longer after a stall): over 300 ms even a ceramic resonator (0.5 %)
 * drifts only 1.5 ms. */
#define HOLD_SAMPLE_FRAMES 32
#define HOLD_US 300000u

static int64_t lateness(uint64_t arrival_us, uint64_t device_us)
{
    return (int64_t)arrival_us - (int64_t)device_us;
}

static uint64_t last_sample_time(const rm_frame *f)
{
    return f->u.samples.samples[f->u.samples.count - 1].t_us;
}

bool hw_frame_has_samples(const rm_frame *f)
{
    return f->type == RM_FRAME_SAMPLES && f->u.samples.count;
}

void hw_clock_note(hw_clock_hold *h, uint64_t arrival_us, uint64_t last_us)
{
    h->recent[h->recent_next] = lateness(arrival_us, last_us);
    h->recent_arrival_us[h->recent_next] = arrival_us;
    h->recent_next = (h->recent_next + 1) % HW_CLOCK_RECENT;
    if (h->recent_count < HW_CLOCK_RECENT)
        h->recent_count++;
}

bool hw_clock_collecting(const hw_clock_hold *h)
{
    return h->count && !h->releasing;
}

bool hw_clock_releasing(const hw_clock_hold *h)
{
    return h->releasing;
}

void hw_clock_keep(hw_clock_hold *h, const rm_frame *f, uint64_t arrival_us)
{
    h->frames[h->count] = *f;
    h->arrival_us[h->count] = arrival_us;
    h->count++;
    h->sample_frames += hw_frame_has_samples(f);
}

uint64_t hw_clock_deadline(const hw_clock_hold *h)
{
    return h->arrival_us[0] + HOLD_US;
}

bool hw_clock_complete(const hw_clock_hold *h, uint64_t now_us)
{
    return h->sample_frames >= HOLD_SAMPLE_FRAMES ||
           h->count == HW_CLOCK_HOLD_FRAMES || now_us >= hw_clock_deadline(h);
}

/** The smallest lateness of the old clock's frames that came in its last
 *  `reads` reads (the frames of one read share their arrival). Counting
 *  reads, not time, reaches past a host's stall before the restart: its
 *  frames all came late, in one read (the old clock's last 300 ms alone
 *  put the clock 242 ms back at load 18). */
static int64_t old_lateness(const hw_clock_hold *h, unsigned reads)
{
    int64_t least = INT64_MAX;
    unsigned seen = 0;
    for (unsigned back = 1; back <= h->recent_count; back++) {
        unsigned i = (h->recent_next + HW_CLOCK_RECENT - back) % HW_CLOCK_RECENT;
        unsigned newer = (i + 1) % HW_CLOCK_RECENT;
        bool new_read = back == 1 ||
                        h->recent_arrival_us[i] != h->recent_arrival_us[newer];
        if (new_read && seen++ == reads)
            break;
        if (h->recent[i] < least)
            least = h->recent[i];
    }
    return least;
}

/** How many reads brought the held frames with samples. */
static unsigned held_reads(const hw_clock_hold *h)
{
    unsigned reads = 0;
    uint64_t last_arrival = 0;
    for (unsigned i = 0; i < h->count; i++) {
        if (!hw_frame_has_samples(&h->frames[i]))
            continue;
        reads += reads == 0 || h->arrival_us[i] != last_arrival;
        last_arrival = h->arrival_us[i];
    }
    return reads;
}

/** The held frame with samples whose lateness is smallest. */
static int64_t new_lateness(const hw_clock_hold *h)
{
    int64_t least = INT64_MAX;
    for (unsigned i = 0; i < h->count; i++) {
        const rm_frame *f = &h->frames[i];
        int64_t l = hw_frame_has_samples(f)
                        ? lateness(h->arrival_us[i], last_sample_time(f))
                        : INT64_MAX;
        if (l < least)
            least = l;
    }
    return least;
}

int64_t hw_clock_release_start(hw_clock_hold *h)
{
    h->releasing = true;
    h->released = 0;
    if (h->recent_count == 0 || h->sample_frames == 0)
        return INT64_MIN;
    /* The same lateness on both sides of the restart: new device time plus
     * the offset is old device time. */
    int64_t offset = new_lateness(h) - old_lateness(h, held_reads(h));
    /* The next restart is anchored by this clock's frames. */
    h->recent_count = h->recent_next = 0;
    return offset;
}

bool hw_clock_release(hw_clock_hold *h, rm_frame *out, uint64_t *arrival_us)
{
    if (!h->releasing)
        return false;
    *out = h->frames[h->released];
    *arrival_us = h->arrival_us[h->released];
    if (++h->released == h->count) {
        h->releasing = false;
        h->count = h->sample_frames = h->released = 0;
    }
    return true;
}
