/* Private to daemon/: the live socket's request parser (daemon/request.c,
 * shared by the server and its fuzz target) and its STATUS members
 * (daemon/status_json.c). */
#ifndef ROLLMAP_SERVER_INTERNAL_H
#define ROLLMAP_SERVER_INTERNAL_H

#include "rollmap_daemon.h"

#include <math.h>

typedef enum rm_request_cmd {
    RM_REQ_WATCH,
    RM_REQ_STATUS,
    RM_REQ_START,
    RM_REQ_STOP,
    RM_REQ_TAG,
    RM_REQ_MARK,
    RM_REQ_TARE,
    RM_REQ_RATE
} rm_request_cmd;

typedef struct rm_watch_request {
    bool samples, events, status;
    uint32_t rate_hz;
} rm_watch_request;

/* The highest device rate a "rate" request may ask for: a text
 * profile's highest. */
#define RM_REQUEST_RATE_MAX_HZ 100000

/* Sample lines per second a watcher may ask for, and the default. */
#define RM_WATCH_RATE_MAX_HZ 1000
#define RM_WATCH_RATE_DEFAULT_HZ 10

typedef struct rm_request {
    rm_request_cmd cmd;
    union {
        rm_watch_request watch;
        rm_session_meta start;
        struct {
            char key[64];
            char value[256];
        } tag;
        int rating;            /* mark: 0-10, -1 for none */
        uint32_t rate_hz;      /* rate: samples a second */
    } u;
} rm_request;

/** Parse one request line (without its newline). Errors say what is wrong
 *  with which field, e.g. "mark: 'rating' must be an integer from 0 to 10". */
rm_status daemon_request_parse(const char *line, size_t len, rm_request *req,
                               rm_error *err);

/** Two decimals: finer than any live quantity is measured. */
static inline double daemon_round_hundredths(double v)
{
    return round(v * 100.0) / 100.0;
}

/** Free space of the library folder. */
typedef struct rm_disk_space {
    bool known;                /* false when the folder cannot be examined */
    int64_t free_bytes, total_bytes;
} rm_disk_space;

rm_disk_space daemon_disk_space_measure(const char *dir);

/** Write the members of a STATUS line (after its "class") to w. */
void daemon_status_json_members(rm_json_writer *w, const rm_daemon_status *st,
                                size_t clients, const rm_disk_space *disk);

#endif
