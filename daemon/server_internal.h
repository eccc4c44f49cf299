/* Private to daemon/: the live socket's request parser (daemon/request.c),
 * shared by the server and its fuzz target. */
#ifndef ROLLMAP_SERVER_INTERNAL_H
#define ROLLMAP_SERVER_INTERNAL_H

#include "rollmap_daemon.h"

typedef enum rm_request_cmd {
    RM_REQ_WATCH,
    RM_REQ_STATUS,
    RM_REQ_START,
    RM_REQ_STOP,
    RM_REQ_TAG,
    RM_REQ_MARK,
    RM_REQ_TARE
} rm_request_cmd;

typedef struct rm_watch_request {
    bool samples, events, status;
    uint32_t rate_hz;
} rm_watch_request;

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
    } u;
} rm_request;

/** Parse one request line (without its newline). Errors say what is wrong
 *  with which field, e.g. "mark: 'rating' must be an integer from 0 to 10". */
rm_status rm_request_parse(const char *line, size_t len, rm_request *req,
                           rm_error *err);

#endif
