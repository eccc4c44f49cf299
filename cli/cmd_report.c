/* rollmap report: analyse a session and write its report and graphs. */
#include "cli.h"
#include "rollmap_report.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define CMD "report"

typedef struct report_options {
    const char *session;
    const char *db;              /* --db URI; NULL: the default library */
    const char *dir;             /* NULL: text summary on stdout */
    rm_graph_format format;
} report_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap report SESSION [-o DIR] [--format png|svg|pdf] "
          "[--db URI]\n\n"
          "Analyse a session file: where the roller went along the hamstring,\n"
          "dwells, tender spots, marks and recording quality. SESSION is a\n"
          "file, or a library id or session id: a session that another\n"
          "machine recorded into a PostgreSQL library is read from the\n"
          "server into ~/.cache/rollmap/sessions (docs/CLINIC.md).\n\n"
          "Without -o, print the text summary. With -o, write into DIR:\n"
          "  report.html  one self-contained page to print (A4) or file\n"
          "  report.json  every figure, machine-readable (docs/REPORT.md)\n"
          "  summary.txt  the text summary\n"
          "  graphs/      the graphs, with their gnuplot scripts and data;\n"
          "               redraw one with: cd DIR/graphs && gnuplot force.gp\n"
          "Graphs need gnuplot; without it the reports are still written\n"
          "and a warning says so.\n\n"
          "Options:\n"
          "  -o, --output DIR      write the report folder DIR (created if "
          "missing)\n"
          "  -f, --format FORMAT   graph files: png (default), svg or pdf\n"
          "  --db URI              the library for an id (default\n"
          "                        $ROLLMAP_LIBRARY_DB, else\n"
          "                        $XDG_DATA_HOME/rollmap/library.db); also\n"
          "                        --library-db\n"
          "  -h, --help            this help\n\n"
          "Example:\n"
          "  rollmap report 20261124T060724Z-3f2a.rms -o report-2026-11-24\n",
          out);
}

/** 0 to go on, or the exit status to return now. */
static int parse_options(int argc, char **argv, report_options *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"db", required_argument, NULL, 'd'},
        {"library-db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->dir = cli_folder(optarg); break;
        case 'd': o->db = optarg; break;
        case 'f':
            if (rm_graph_format_parse(optarg, &o->format) != RM_OK) {
                cli_fail(CMD, "--format '%s': expected png, svg or pdf", optarg);
                return CLI_USAGE;
            }
            break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_fail(CMD, optind == argc ? "no session file given"
                                     : "one session file at a time");
        usage(stderr);
        return CLI_USAGE;
    }
    o->session = argv[optind];
    return -1;
}

rm_status cli_analyse_file(const char *cmd, const char *path, rm_analysis **out,
                           rm_error *err)
{
    rm_session *s = NULL;
    rm_status st = rm_session_open(&s, path, err);
    if (st != RM_OK)
        return st;
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    st = rm_analyse_session(s, &cfg, out, err);
    if (st == RM_OK)
        cli_warn_damage(cmd, s);
    rm_session_close(s);
    return st;
}

static int write_folder(const rm_analysis *a, const report_options *o)
{
    rm_graphs_result res;
    rm_error err = {0};
    if (rm_report_write_dir(a, o->dir, o->format, &res, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    if (!res.gnuplot_found)
        fprintf(stderr, "rollmap %s: warning: %s\n", CMD, res.message);
    printf("%s/report.html\n%s/report.json\n%s/summary.txt\n", o->dir,
           o->dir, o->dir);
    if (res.rendered > 0)
        printf("%s/graphs/ (%zu graphs)\n", o->dir, res.rendered);
    return CLI_OK;
}

int cmd_report(int argc, char **argv)
{
    report_options o = {.format = RM_GRAPH_PNG};
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    char path[PATH_MAX];
    status = cli_session_file(CMD, o.db, o.session, path, sizeof path);
    if (status != CLI_OK)
        return status;
    rm_analysis *a = NULL;
    rm_error err = {0};
    if (cli_analyse_file(CMD, path, &a, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    if (o.dir)
        status = write_folder(a, &o);
    else if (rm_report_text(a, stdout, &err) != RM_OK)
        status = cli_fail_error(CMD, &err);
    else
        status = CLI_OK;
    rm_analysis_free(a);
    return status;
}
