/* libFuzzer target for requests on the live socket (one JSON line from a
 * client). Besides crashes it checks that every accepted request is within
 * the documented ranges and that every refusal says why. */
#include "server_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t cap)
{
    if (strnlen(s, cap) == cap)
        abort(); /* not terminated inside its field */
}

static void check_accepted(const rm_request *req)
{
    switch (req->cmd) {
    case RM_REQ_WATCH:
        if (req->u.watch.rate_hz < 1 || req->u.watch.rate_hz > RM_WATCH_RATE_MAX_HZ)
            abort();
        break;
    case RM_REQ_START:
        check_string(req->u.start.client, sizeof req->u.start.client);
        check_string(req->u.start.muscle, sizeof req->u.start.muscle);
        check_string(req->u.start.notes, sizeof req->u.start.notes);
        if (req->u.start.side > RM_SIDE_RIGHT)
            abort();
        break;
    case RM_REQ_TAG:
        check_string(req->u.tag.key, sizeof req->u.tag.key);
        check_string(req->u.tag.value, sizeof req->u.tag.value);
        if (!req->u.tag.key[0])
            abort();
        break;
    case RM_REQ_MARK:
        if (req->u.rating < -1 || req->u.rating > 10)
            abort();
        break;
    case RM_REQ_RATE:
        if (req->u.rate_hz < 1 || req->u.rate_hz > RM_REQUEST_RATE_MAX_HZ)
            abort();
        break;
    case RM_REQ_STATUS:
    case RM_REQ_STOP:
    case RM_REQ_TARE:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > RM_SERVER_MAX_REQUEST)
        return 0; /* the server cuts longer lines off before parsing */
    static rm_request req;
    rm_error err = {0};
    if (daemon_request_parse((const char *)data, size, &req, &err) == RM_OK)
        check_accepted(&req);
    else if (!err.message[0])
        abort(); /* a refusal must say what is wrong */
    return 0;
}
