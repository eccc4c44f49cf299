/* rollmap: entry point, subcommand dispatch and the helpers of cli.h. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#undef cli_fail /* the analyzer-only macros of cli.h */
#undef cli_fail_usage

const cli_command cli_commands[] = {
    {"help", "show help for rollmap or a command", cmd_help},
    {"version", "print the version", cmd_version},
    {"info", "show a session file: metadata, device, samples, integrity",
     cmd_info},
    {"export", "write a session as CSV or EDF+, or a researcher folder", cmd_export},
    {"import", "make a session file from CSV", cmd_import},
    {"simulate", "run the virtual roller into a file, stdout or a pty",
     cmd_simulate},
    {"devices", "list serial ports, rollers and stored calibrations",
     cmd_devices},
    {"calibrate", "tare or calibrate a device with known weights",
     cmd_calibrate},
    {"record", "record sessions: tell rollmapd, or capture in the foreground",
     cmd_record},
    {"live", "live view for the person on the roller", cmd_live},
    {"status", "what the running rollmapd is doing", cmd_status},
    {"rate", "set the sample rate of rollmapd's roller", cmd_rate},
    {"report", "analyse a session: report, graphs, tender spots", cmd_report},
    {"library",
     "the session library: add, list, show, set, tag, check sessions",
     cmd_library},
    {"compare", "compare a client's sessions: which spots eased", cmd_compare},
    {"serve", "rollmap in the browser: live screen, library, reports",
     cmd_serve},
    {NULL, NULL, NULL},
};

static void print_failure(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "rollmap %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_failure(cmd, fmt, ap);
    va_end(ap);
    return CLI_FAILURE;
}

int cli_fail_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_failure(cmd, fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail_error(const char *cmd, const rm_error *err)
{
    return cli_fail(cmd, "%s", err->message[0] ? err->message
                                                : rm_strerror(err->code));
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

/** Microseconds per second and seconds per day. */
#define US_PER_S 1000000LL
#define DAY_S 86400

/** Read "YYYY-MM-DD", optionally followed by "THH:MM:SS" and "Z", into
 *  tm; *whole_day says there was no time. */
static bool read_date(const char *text, struct tm *tm, bool *whole_day)
{
    const char *end = strptime(text, "%Y-%m-%d", tm);
    if (!end)
        return false;
    *whole_day = *end == '\0';
    if (*whole_day)
        return true;
    end = strptime(end, "T%H:%M:%S", tm);
    return end && (*end == '\0' || !strcmp(end, "Z"));
}

int cli_parse_date(const char *cmd, const char *option, const char *text,
                   bool end_of_day, int64_t *us)
{
    struct tm tm = {0};
    bool whole_day;
    if (!read_date(text, &tm, &whole_day))
        return cli_fail_usage(cmd, "%s '%s': expected YYYY-MM-DD or "
                              "YYYY-MM-DDTHH:MM:SSZ", option, text);
    struct tm read = tm;
    time_t t = timegm(&tm);
    /* timegm moves 2026-02-30 to March 2: such a day is not in the calendar */
    if (tm.tm_mday != read.tm_mday || tm.tm_mon != read.tm_mon)
        return cli_fail_usage(cmd, "%s '%s': no such day", option, text);
    *us = (int64_t)t * US_PER_S;
    if (end_of_day && whole_day)
        *us += DAY_S * US_PER_S;
    return CLI_OK;
}

void cli_warn_damage(const char *cmd, const rm_session *s)
{
    const rm_integrity *in = rm_session_integrity(s);
    for (size_t i = 0; i < in->skipped_count; i++)
        fprintf(stderr, "rollmap %s: warning: %s: skipped %llu damaged bytes at "
                "offset %llu (%s)\n", cmd, rm_session_path(s),
                (unsigned long long)in->skipped[i].length,
                (unsigned long long)in->skipped[i].offset, in->skipped[i].reason);
}

char *cli_folder(char *value)
{
    size_t len = strlen(value);
    while (len > 1 && value[len - 1] == '/')
        value[--len] = '\0';
    return value;
}

int cli_option_text(const char *cmd, const char *option, const char *value,
                    char *field, size_t cap)
{
    size_t len = strlen(value);
    if (len >= cap)
        return cli_fail_usage(cmd, "--%s: longer than %zu characters", option,
                              cap - 1);
    memcpy(field, value, len + 1);
    return CLI_OK;
}

int cli_fail_option(const char *cmd, const char *arg, void (*usage)(FILE *))
{
    cli_fail(cmd, "option '%s' is unknown or lacks its value", arg);
    usage(stderr);
    return CLI_USAGE;
}

int cli_parse_meta(const char *cmd, cli_meta_option option, const char *value,
                   rm_session_meta *meta)
{
    rm_side side;
    switch (option) {
    case CLI_META_CLIENT:
        return cli_option_text(cmd, "client", value, meta->client,
                               sizeof meta->client);
    case CLI_META_MUSCLE:
        return cli_option_text(cmd, "muscle", value, meta->muscle,
                               sizeof meta->muscle);
    case CLI_META_NOTES:
        return cli_option_text(cmd, "notes", value, meta->notes,
                               sizeof meta->notes);
    case CLI_META_SIDE:
        break;
    }
    if (rm_side_parse(value, &side) != RM_OK || side == RM_SIDE_UNKNOWN)
        return cli_fail_usage(cmd, "--side '%s': expected left or right",
                              value);
    meta->side = (uint8_t)side;
    return CLI_OK;
}

static const cli_command *find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

static void print_usage(FILE *out)
{
    fputs("usage: rollmap <command> [options]\n"
          "       rollmap help <command>   (or rollmap <command> --help)\n\n"
          "Commands:\n", out);
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-11s %s\n", c->name, c->summary);
    fputs("\nrollmap turns an instrumented foam roller into a measuring "
          "instrument.\nSee rollmap(1) and the docs/ pages, installed in\n"
          "share/doc/rollmap under the prefix (/usr/local by default).\n", out);
}

int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return CLI_OK;
    }
    const cli_command *c = find_command(argv[1]);
    if (!c)
        return cli_fail("help", "unknown command '%s' (try 'rollmap help')",
                        argv[1]);
    char *help_argv[] = {(char *)c->name, "--help", NULL};
    return c->run(2, help_argv);
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("rollmap %s\n", RM_VERSION_STRING);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return cmd_version(0, NULL);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(1, argv + 1);
    const cli_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "rollmap: unknown command '%s'\n\n", argv[1]);
        print_usage(stderr);
        return CLI_USAGE;
    }
    /* getopt names argv[0] in its messages: make them "rollmap CMD: ..." */
    char name[32];
    snprintf(name, sizeof name, "rollmap %s", c->name);
    argv[1] = name;
    return c->run(argc - 1, argv + 1);
}
