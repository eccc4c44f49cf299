/* rollmap serve: the browser screens (docs/WEB.md), a thin layer over the
 * web module. */
#include "cli.h"

#include "rollmap_web.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CMD "serve"

enum { OPT_LISTEN = 256, OPT_DB, OPT_SOCKET, OPT_CONFIG, OPT_SET_PASSWORD,
       OPT_PASSWORD_FILE, OPT_CERT, OPT_KEY, OPT_STATIC };

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct serve_cli {
    rm_web_options opt;
    const char *config;          /* NULL: rollmapd.conf if it exists */
    bool set_password;
} serve_cli;

static void usage(FILE *out)
{
    fputs("usage: rollmap serve [--listen ADDR:PORT] [--db URI] [--socket PATH]\n"
          "                     [--cert FILE --key FILE] [--config FILE]\n"
          "       rollmap serve --set-password [--password-file FILE]\n\n"
          "Serve rollmap in the browser: the live screen for the person on\n"
          "the roller (relayed from rollmapd), the session library, session\n"
          "reports and comparisons. Open http://127.0.0.1:8117/ .\n\n"
          "A listener on any address other than loopback (127.0.0.1, ::1)\n"
          "refuses to start until a password is set, and then asks for it.\n\n"
          "Options:\n"
          "  --listen ADDR:PORT     where to listen (default 127.0.0.1:8117;\n"
          "                         0.0.0.0:8117 for every network)\n"
          "  --db URI               the session library: a file or a\n"
          "                         PostgreSQL server (rollmap library\n"
          "                         --help); also --library-db (default\n"
          "                         $ROLLMAP_LIBRARY_DB, else\n"
          "                         $XDG_DATA_HOME/rollmap/library.db)\n"
          "  --socket PATH          rollmapd's live socket (default as rollmapd)\n"
          "  --cert FILE, --key FILE  serve HTTPS with this PEM certificate/key\n"
          "  --config FILE          read the [web] section of FILE (default\n"
          "                         $XDG_CONFIG_HOME/rollmap/rollmapd.conf)\n"
          "  --password-file FILE   where the password hash is kept (default\n"
          "                         $XDG_CONFIG_HOME/rollmap/web-password)\n"
          "  --set-password         read a new password (twice on a terminal)\n"
          "                         and store its slow salted hash, then exit\n"
          "  --static DIR           the web files (default: installed ones)\n"
          "  -h, --help             this help\n\n"
          "Examples:\n"
          "  rollmap serve\n"
          "  rollmap serve --set-password && rollmap serve --listen 0.0.0.0:8117\n",
          out);
}

static int copy_option(const char *option, const char *value, char *field,
                       size_t cap)
{
    return cli_option_text(CMD, option, value, field, cap) == CLI_OK ? -1
                                                                      : CLI_USAGE;
}

static int listen_option(const char *value, rm_web_options *o)
{
    rm_error err = {0};
    if (rm_web_parse_listen(value, o, &err) != RM_OK)
        return cli_fail_usage(CMD, "--%s", err.message);
    return -1;
}

static int parse_options(int argc, char **argv, serve_cli *c)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"db", required_argument, NULL, OPT_DB},
        {"library-db", required_argument, NULL, OPT_DB},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"set-password", no_argument, NULL, OPT_SET_PASSWORD},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"static", required_argument, NULL, OPT_STATIC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rm_web_options *o = &c->opt;
    int ch, status = -1;
    optind = 1;
    opterr = 0;
    while (status < 0 && (ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_LISTEN: status = listen_option(optarg, o); break;
        case OPT_DB: status = copy_option("db", optarg, o->db_path, sizeof o->db_path); break;
        case OPT_SOCKET: status = copy_option("socket", optarg, o->socket_path, sizeof o->socket_path); break;
        case OPT_CONFIG: c->config = optarg; break;
        case OPT_SET_PASSWORD: c->set_password = true; break;
        case OPT_PASSWORD_FILE: status = copy_option("password-file", optarg, o->password_file, sizeof o->password_file); break;
        case OPT_CERT: status = copy_option("cert", optarg, o->cert_path, sizeof o->cert_path); break;
        case OPT_KEY: status = copy_option("key", optarg, o->key_path, sizeof o->key_path); break;
        case OPT_STATIC: status = copy_option("static", optarg, o->static_dir, sizeof o->static_dir); break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            return cli_fail_option(CMD, argv[optind - 1], usage);
        }
    }
    if (status < 0 && optind < argc)
        return cli_fail_usage(CMD, "unexpected argument '%s'", argv[optind]);
    return status;
}

/* The [web] section of the configuration, under the command line's
 * options: options given win, so the file is applied to a fresh set and
 * the options parsed again on top. */
static int apply_config(serve_cli *c, int argc, char **argv)
{
    char path[4096];
    rm_default_config_path(path, sizeof path, NULL);
    if (c->config)
        snprintf(path, sizeof path, "%s", c->config);
    else if (!path[0] || access(path, F_OK) != 0)
        return -1;
    rm_ini *ini = NULL;
    rm_error err = {0};
    if (rm_ini_load(&ini, path, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_web_options_default(&c->opt);
    rm_status st = rm_web_options_apply_ini(&c->opt, ini, &err);
    rm_ini_free(ini);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    return parse_options(argc, argv, c);
}

static bool read_line(const char *prompt, char *out, size_t cap)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios saved, quiet;
    if (tty) {
        fputs(prompt, stderr);
        tcgetattr(STDIN_FILENO, &saved);
        quiet = saved;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    bool ok = fgets(out, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fputc('\n', stderr);
    }
    out[strcspn(out, "\r\n")] = '\0';
    return ok;
}

static int set_password(rm_web_options *o)
{
    rm_error err = {0};
    if (!o->password_file[0] &&
        rm_default_web_password_path(o->password_file, sizeof o->password_file,
                                     &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    char password[256], again[256];
    if (!read_line("New password: ", password, sizeof password))
        return cli_fail(CMD, "no password given on standard input");
    if (isatty(STDIN_FILENO) &&
        (!read_line("Again: ", again, sizeof again) || strcmp(password, again)))
        return cli_fail(CMD, "the two passwords differ: nothing changed");
    rm_status st = rm_web_set_password(o->password_file, password, &err);
    memset(password, 0, sizeof password);
    memset(again, 0, sizeof again);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("password hash stored in %s\n", o->password_file);
    return CLI_OK;
}

static int serve(const rm_web_options *o)
{
    rm_web_server *srv = NULL;
    rm_error err = {0};
    if (rm_web_start(&srv, o, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    bool v6 = strchr(o->address, ':') != NULL;
    printf("rollmap serve: open %s://%s%s%s:%u/%s\n",
           o->cert_path[0] ? "https" : "http", v6 ? "[" : "", o->address,
           v6 ? "]" : "", rm_web_port(srv),
           rm_web_requires_login(srv) ? " (password required)" : "");
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stop_requested)
        sleep(1); /* a signal ends the sleep at once */
    rm_web_stop(srv);
    return CLI_OK;
}

int cmd_serve(int argc, char **argv)
{
    serve_cli c = {0};
    rm_web_options_default(&c.opt);
    int status = parse_options(argc, argv, &c);
    if (status < 0)
        status = apply_config(&c, argc, argv);
    if (status >= 0)
        return status;
    if (c.set_password)
        return set_password(&c.opt);
    return serve(&c.opt);
}
