/* rollmap export: a session file as CSV. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "export"

typedef struct export_options {
    const char *session;
    const char *output;   /* NULL: stdout */
} export_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap export SESSION [--csv] [-o FILE]\n\n"
          "Write a session as CSV: '#' comment lines with the metadata, device,\n"
          "channel calibrations, gaps and events, then a header row and one row\n"
          "per sample with t_s, force per channel in newtons (ch<N>_N), raw\n"
          "counts (ch<N>_counts), encoder, position_cm (devices with an encoder)\n"
          "and mark. 'rollmap import' reads it back. Damaged blocks are skipped\n"
          "with a warning. See docs/FORMAT.md.\n\n"
          "Options:\n"
          "  --csv          CSV output (the default and only format)\n"
          "  -o, --output FILE\n"
          "                 write FILE (replaced whole, only once complete)\n"
          "                 instead of standard output\n"
          "  -h, --help     this help\n\n"
          "Example:\n"
          "  rollmap export session.rms --csv -o session.csv\n", out);
}

static int parse_options(int argc, char **argv, export_options *o)
{
    static const struct option longopts[] = {
        {"csv", no_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': break;
        case 'o': o->output = optarg; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_fail(CMD, optind == argc ? "missing SESSION file"
                                     : "expected one SESSION file");
        usage(stderr);
        return CLI_USAGE;
    }
    o->session = argv[optind];
    return CLI_OK;
}

static bool same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

static void warn_about_damage(const rm_session *s)
{
    const rm_integrity *in = rm_session_integrity(s);
    for (size_t i = 0; i < in->skipped_count; i++)
        fprintf(stderr, "rollmap export: warning: skipped %llu damaged bytes at "
                "offset %llu (%s)\n", (unsigned long long)in->skipped[i].length,
                (unsigned long long)in->skipped[i].offset, in->skipped[i].reason);
}

/* Export into a temporary file beside path, renamed over it when done. */
static int export_to_file(rm_session *s, const char *path)
{
    size_t len = strlen(path) + sizeof ".XXXXXX";
    char *tmp = malloc(len);
    if (!tmp)
        return cli_fail(CMD, "out of memory");
    snprintf(tmp, len, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        int rc = cli_fail(CMD, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(tmp);
        return rc;
    }
    rm_error err;
    rm_error_clear(&err);
    rm_status st = rm_session_export_csv(s, out, &err);
    int rc = CLI_OK;
    if (fclose(out) != 0 && st == RM_OK)
        rc = cli_fail(CMD, "%s: %s", tmp, strerror(errno));
    else if (st != RM_OK)
        rc = cli_fail(CMD, "%s: %s", path, err.message);
    else if (rename(tmp, path) != 0)
        rc = cli_fail(CMD, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc != CLI_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int export_to_stdout(rm_session *s)
{
    rm_error err;
    rm_error_clear(&err);
    if (rm_session_export_csv(s, stdout, &err) != RM_OK)
        return cli_fail(CMD, "standard output: %s", err.message);
    return CLI_OK;
}

int cmd_export(int argc, char **argv)
{
    export_options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (o.output && same_file(o.session, o.output))
        return cli_fail(CMD, "%s: the output would overwrite the session file",
                        o.output);
    rm_session *s = NULL;
    rm_error err;
    rm_error_clear(&err);
    if (rm_session_open(&s, o.session, &err) != RM_OK ||
        rm_session_verify(s, &err) != RM_OK) {
        rm_session_close(s);
        return cli_fail_error(CMD, &err);
    }
    warn_about_damage(s);
    rc = o.output ? export_to_file(s, o.output) : export_to_stdout(s);
    rm_session_close(s);
    return rc;
}
