/*
 * The rollmap command: one file per subcommand (cmd_<name>.c), each a thin
 * layer over the libraries. Commands print to stdout, errors to stderr as
 * "rollmap <cmd>: message", and return the process exit status.
 */
#ifndef ROLLMAP_CLI_H
#define ROLLMAP_CLI_H

#include <stdio.h>

#include "rollmap_daemon.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} cli_command;

/** Exit statuses. */
enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2 };

/** Print "rollmap CMD: message" to stderr; returns CLI_FAILURE. */
int cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Print an rm_error as "rollmap CMD: message"; returns CLI_FAILURE. */
int cli_fail_error(const char *cmd, const rm_error *err);
/** cli_fail for a bad option or argument: returns CLI_USAGE. */
int cli_fail_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#ifdef __clang_analyzer__
/* As for rm_error_set: tell the static analyzer what these variadic
 * functions, which it does not look into, return (scripts/analyze). */
#define cli_fail(cmd, ...) (cli_fail((cmd), __VA_ARGS__), CLI_FAILURE)
#define cli_fail_usage(cmd, ...) (cli_fail_usage((cmd), __VA_ARGS__), CLI_USAGE)
#endif
/** Open a session file and analyse it with the default configuration,
 *  warning about its damaged stretches as cli_warn_damage (cmd_report.c). */
rm_status cli_analyse_file(const char *cmd, const char *path, rm_analysis **out,
                           rm_error *err);
/** "rollmap CMD: warning: FILE: skipped N damaged bytes at offset X (why)"
 *  on stderr for each stretch reading s has skipped so far. */
void cli_warn_damage(const char *cmd, const rm_session *s);
/** The file to read for SESSION text: the file itself when it exists,
 *  else, unless the text names a file (a slash, or ".rms" at its end),
 *  the session with that library id or session id in the library db
 *  (NULL: the default), from its bytes in the database when this machine
 *  lacks its file (damaged chunks are warned about on stderr). Errors are
 *  printed; CLI_OK or CLI_FAILURE. */
int cli_session_file(const char *cmd, const char *db, const char *text,
                     char *path, size_t cap);
/** true when argv holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);
/** The value of a date option, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ"
 *  (UTC), as microseconds since the epoch in *us. A date alone is its
 *  midnight, or with end_of_day the next midnight (for "up to DATE"). A
 *  bad value prints "rollmap CMD: OPTION 'TEXT': expected ..." and returns
 *  CLI_USAGE; CLI_OK otherwise. */
int cli_parse_date(const char *cmd, const char *option, const char *text,
                   bool end_of_day, int64_t *us);

/** A folder option's value without its trailing slashes ("/" stays), so
 *  that the paths printed under it read "report/report.html". */
char *cli_folder(char *value);
/** Copy an option's text value into a field of cap bytes; one that does
 *  not fit prints "rollmap CMD: --OPTION: longer than N characters" and
 *  returns CLI_USAGE. */
int cli_option_text(const char *cmd, const char *option, const char *value,
                    char *field, size_t cap);
/** The failure of an option getopt_long did not know or found without its
 *  value (for commands that set opterr = 0 to print their own message):
 *  prints "rollmap CMD: option 'ARG' is unknown or lacks its value" and
 *  then the command's usage to stderr; returns CLI_USAGE. */
int cli_fail_option(const char *cmd, const char *arg, void (*usage)(FILE *));
/** The metadata options of record, import and library set. */
typedef enum cli_meta_option {
    CLI_META_CLIENT,   /**< --client CODE */
    CLI_META_SIDE,     /**< --side left|right */
    CLI_META_MUSCLE,   /**< --muscle NAME */
    CLI_META_NOTES     /**< --notes TEXT */
} cli_meta_option;
/** Set the field of *meta that option stands for from its value: text that
 *  fits the field, a side that is left or right. A bad value prints
 *  "rollmap CMD: --OPTION ..." and returns CLI_USAGE; CLI_OK otherwise. */
int cli_parse_meta(const char *cmd, cli_meta_option option, const char *value,
                   rm_session_meta *meta);

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_rate(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_library(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/** The command table, terminated by a NULL name. */
extern const cli_command cli_commands[];

#endif /* ROLLMAP_CLI_H */
