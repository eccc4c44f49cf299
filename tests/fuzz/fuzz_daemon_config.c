/* libFuzzer target for rollmapd's configuration (an INI file the user
 * writes): any text either applies or is refused with a message naming
 * the place, a refused file leaves the configuration as it was, and an
 * accepted one keeps every setting within its documented range. */
#include "rollmap_daemon.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ranges(const rm_daemon_config *c)
{
    const rm_recorder_options *r = &c->recorder;
    if (r->stop_threshold_n > r->start_threshold_n || r->idle_us < 1000000 ||
        c->max_rate_hz < 1 || c->reconnect.max_ms < c->reconnect.initial_ms ||
        c->log_level > RM_LOG_DEBUG || c->log_target > RM_LOG_TO_SYSLOG ||
        !memchr(r->library, '\0', sizeof r->library) ||
        !memchr(c->socket_path, '\0', sizeof c->socket_path))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    rm_ini *ini;
    rm_error err;
    if (rm_ini_parse(&ini, text, "fuzz.conf", &err) == RM_OK) {
        rm_daemon_config c, before;
        rm_daemon_config_default(&c);
        before = c;
        rm_status st = rm_daemon_config_apply(&c, ini, &err);
        if (st == RM_OK)
            check_ranges(&c);
        else if (!strstr(err.message, "fuzz.conf") ||
                 memcmp(&c, &before, sizeof c) != 0)
            abort(); /* a refusal names the file and changes nothing */
        rm_ini_free(ini);
    }
    free(text);
    return 0;
}
