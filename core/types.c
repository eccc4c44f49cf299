/* Names, calibration arithmetic and ids for the shared types. */
#include "rollmap_core.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void rm_device_info_default_calibration(rm_device_info *info)
{
    for (unsigned i = 0; i < info->channel_count && i < RM_MAX_CHANNELS; i++) {
        rm_channel_info *ch = &info->channels[i];
        memset(&ch->cal, 0, sizeof ch->cal);
        ch->cal.coef[1] = ch->gain_n_per_count;
        ch->cal.tare_counts = ch->offset_counts;
        strcpy(ch->cal.origin, "device");
    }
}

const char *rm_device_kind_name(rm_device_kind kind)
{
    switch (kind) {
    case RM_DEVICE_ROLLER: return "roller";
    case RM_DEVICE_BALL: return "ball";
    case RM_DEVICE_PROBE: return "probe";
    }
    return "unknown";
}

rm_status rm_device_kind_parse(const char *name, rm_device_kind *kind)
{
    static const rm_device_kind kinds[] = {RM_DEVICE_ROLLER, RM_DEVICE_BALL,
                                           RM_DEVICE_PROBE};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!strcasecmp(name, rm_device_kind_name(kinds[i]))) {
            *kind = kinds[i];
            return RM_OK;
        }
    }
    return RM_ERR_ARG;
}

const char *rm_side_name(rm_side side)
{
    switch (side) {
    case RM_SIDE_LEFT: return "left";
    case RM_SIDE_RIGHT: return "right";
    case RM_SIDE_UNKNOWN: break;
    }
    return "unknown";
}

rm_status rm_side_parse(const char *text, rm_side *side)
{
    if (!strcasecmp(text, "l") || !strcasecmp(text, "left"))
        *side = RM_SIDE_LEFT;
    else if (!strcasecmp(text, "r") || !strcasecmp(text, "right"))
        *side = RM_SIDE_RIGHT;
    else if (!strcasecmp(text, "unknown") || !*text)
        *side = RM_SIDE_UNKNOWN;
    else
        return RM_ERR_ARG;
    return RM_OK;
}

rm_status rm_bool_parse(const char *text, bool *out)
{
    static const char *const truths[] = {"true", "yes", "on", "1"};
    static const char *const falsehoods[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        if (!strcasecmp(text, truths[i]) || !strcasecmp(text, falsehoods[i])) {
            *out = !strcasecmp(text, truths[i]);
            return RM_OK;
        }
    }
    return RM_ERR_FORMAT;
}

void rm_session_meta_merge(rm_session_meta *into, const rm_session_meta *from)
{
    if (from->client[0])
        memcpy(into->client, from->client, sizeof into->client);
    if (from->muscle[0])
        memcpy(into->muscle, from->muscle, sizeof into->muscle);
    if (from->notes[0])
        memcpy(into->notes, from->notes, sizeof into->notes);
    if (from->side != RM_SIDE_UNKNOWN)
        into->side = from->side;
}

const char *rm_gap_reason_name(rm_gap_reason reason)
{
    switch (reason) {
    case RM_GAP_LOST_FRAMES: return "lost-frames";
    case RM_GAP_UNPLUGGED: return "unplugged";
    case RM_GAP_OVERFLOW: return "overflow";
    case RM_GAP_WRITE_ERROR: return "write-error";
    case RM_GAP_DEVICE_RESET: return "device-reset";
    }
    return "unknown";
}

const char *rm_event_kind_name(rm_event_kind kind)
{
    switch (kind) {
    case RM_EVENT_MARK: return "mark";
    case RM_EVENT_TARE: return "tare";
    case RM_EVENT_OVERLOAD: return "overload";
    case RM_EVENT_BUTTON: return "button";
    case RM_EVENT_PLUG: return "plug";
    case RM_EVENT_UNPLUG: return "unplug";
    case RM_EVENT_NOTE: return "note";
    }
    return "unknown";
}

void rm_session_id_new(char out[40], int64_t start_unix_us)
{
    time_t secs = (time_t)(start_unix_us / 1000000);
    struct tm tm;
    char stamp[20];
    unsigned suffix = (unsigned)(rm_monotonic_us() ^ (uint64_t)getpid() * 2654435761u) & 0xFFFF;
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, 40, "%s-%04x", stamp, suffix);
}
