/* Status codes and error messages. */
#include "rollmap_core.h"

#include <stdarg.h>
#include <string.h>

#undef rm_error_set /* the analyzer-only macro of rollmap_core.h */

const char *rm_strerror(rm_status status)
{
    switch (status) {
    case RM_OK: return "success";
    case RM_ERR_ARG: return "invalid argument";
    case RM_ERR_NOMEM: return "out of memory";
    case RM_ERR_IO: return "input/output error";
    case RM_ERR_FORMAT: return "bad format";
    case RM_ERR_VERSION: return "unsupported version";
    case RM_ERR_CRC: return "checksum mismatch";
    case RM_ERR_TRUNCATED: return "truncated";
    case RM_ERR_NOT_FOUND: return "not found";
    case RM_ERR_TIMEOUT: return "timed out";
    case RM_ERR_UNSUPPORTED: return "not supported";
    case RM_ERR_NO_SPACE: return "no space left";
    case RM_ERR_AGAIN: return "try again";
    case RM_ERR_EOF: return "end of input";
    case RM_ERR_BUSY: return "busy";
    case RM_ERR_CLOSED: return "device closed";
    }
    return "unknown error";
}

rm_status rm_error_set(rm_error *err, rm_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

void rm_error_clear(rm_error *err)
{
    if (err) {
        err->code = RM_OK;
        err->message[0] = '\0';
    }
}
