/*
 * rollmap web: `rollmap serve`, the browser screens (docs/WEB.md): the live
 * screen relayed from rollmapd's socket, the session library, session
 * reports and comparisons, over HTTP (libmicrohttpd).
 *
 * The only public header of web/. It sits above library and daemon (for the
 * live socket client) and below cli: nothing lower includes it.
 */
#ifndef ROLLMAP_WEB_H
#define ROLLMAP_WEB_H

#include "rollmap_daemon.h"
#include "rollmap_library.h"
#include "rollmap_report.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default listener: loopback only, so no password is needed. */
#define RM_WEB_DEFAULT_ADDRESS "127.0.0.1"
#define RM_WEB_DEFAULT_PORT 8117

typedef struct rm_web_options {
    char address[64];        /**< numeric IPv4 or IPv6 address to listen on */
    uint16_t port;           /**< 0: any free port (rm_web_port tells) */
    char db_path[4096];      /**< "" = the default library */
    char socket_path[108];   /**< "" = rollmapd's default live socket */
    char static_dir[4096];   /**< "" = installed, else the source tree's */
    char password_file[4096];/**< "" = rm_default_web_password_path */
    char cert_path[4096];    /**< TLS: both or neither */
    char key_path[4096];
} rm_web_options;

/** Loopback, port 8117, every path its default. */
void rm_web_options_default(rm_web_options *o);
/** "ADDR:PORT", "[V6]:PORT", "ADDR" or ":PORT" into o. */
rm_status rm_web_parse_listen(const char *text, rm_web_options *o,
                              rm_error *err);
/** The [web] section of a configuration file (listen, database, socket,
 *  static_dir, password_file, cert, key) over o; unknown keys are errors
 *  naming the file and line. */
rm_status rm_web_options_apply_ini(rm_web_options *o, const rm_ini *ini,
                                   rm_error *err);

/** Store a libsodium crypto_pwhash_str hash of password (never the
 *  password) at path, mode 0600, replacing the file atomically. */
rm_status rm_web_set_password(const char *path, const char *password,
                              rm_error *err);

typedef struct rm_web_server rm_web_server;

/** Start serving on a thread of its own. A non-loopback address without a
 *  password file is RM_ERR_ARG and nothing listens. */
rm_status rm_web_start(rm_web_server **out, const rm_web_options *o,
                       rm_error *err);
/** The port listened on (useful with port 0). */
uint16_t rm_web_port(const rm_web_server *srv);
/** Whether the listener requires login (a password is set). */
bool rm_web_requires_login(const rm_web_server *srv);
/** Stop listening, end the live relay, remove the cache. */
void rm_web_stop(rm_web_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_WEB_H */
