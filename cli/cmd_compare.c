/* rollmap compare: compare a client's sessions (docs/COMPARE.md). */
#include "cli.h"
#include "rollmap_report.h"

#include "rollmap_library.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "compare"

/** Long options without a short form. */
enum { OPT_FORCE_MIX = 256, OPT_MATCH_CM, OPT_SCORE_MDC, OPT_PRESSURE_MDC,
       OPT_COVER_PASSES, OPT_CLIENT, OPT_SIDE, OPT_LAST, OPT_SINCE, OPT_DB };

typedef struct compare_cli {
    const char *dir;             /* NULL: text summary on stdout */
    rm_graph_format format;
    rm_compare_options options;
    char **files;
    size_t file_count;
    rm_library_filter filter;    /* with --client: sessions from the library */
    const char *db;              /* NULL: the default library */
    char client_name[128];       /* the library's display name, "" none */
} compare_cli;

static void usage(FILE *out)
{
    fputs("usage: rollmap compare SESSION SESSION [SESSION...] [OPTIONS]\n"
          "       rollmap compare --client CODE [--side left|right]\n"
          "                       [--last N] [--since DATE] [--db URI] "
          "[OPTIONS]\n\n"
          "Compare sessions of one client: tender spots matched across the\n"
          "sessions (eased, worse, unchanged within the minimal detectable\n"
          "change, new, gone), overall trends of each leg, and left vs right\n"
          "with a symmetry index. Session files given by name are analysed\n"
          "now; with --client the analyses stored in the session library\n"
          "are used (see rollmap library).\n\n"
          "Without -o, print the text summary. With -o, write into DIR:\n"
          "  compare.html  one self-contained page to print (A4); opens with\n"
          "                the table of which spots eased\n"
          "  compare.json  every figure, machine-readable (docs/COMPARE.md)\n"
          "  summary.txt   the text summary\n"
          "  graphs/       profiles overlaid, spot scores over time, spots on\n"
          "                one thigh, left vs right; gnuplot scripts and data\n\n"
          "Library selection:\n"
          "  --client CODE       the client's sessions, oldest first\n"
          "  --side left|right   one leg only (default both)\n"
          "  --last N            only the newest N sessions\n"
          "  --since DATE        sessions from DATE on (YYYY-MM-DD or\n"
          "                      YYYY-MM-DDTHH:MM:SSZ, UTC)\n"
          "  --db URI            the library: a file or a PostgreSQL\n"
          "                      server (rollmap library --help); also\n"
          "                      --library-db (default $ROLLMAP_LIBRARY_DB,\n"
          "                      else $XDG_DATA_HOME/rollmap/library.db)\n\n"
          "Options:\n"
          "  -o, --output DIR    write the comparison folder DIR\n"
          "  -f, --format FMT    graph files: png (default), svg or pdf\n"
          "  --match-cm CM       one spot across sessions within CM (default 3)\n"
          "  --score-mdc POINTS  smallest strength change taken as real; the\n"
          "                      default 'passes' derives it for each spot\n"
          "                      from how its passes scatter in both sessions\n"
          "  --pressure-mdc KPA  smallest tolerated-pressure change taken as\n"
          "                      real (default 6.4)\n"
          "  --cover-passes N    a spot is gone only where the last session\n"
          "                      rolled over it N times (default 3); else it\n"
          "                      is 'not covered'\n"
          "  --force-mix         compare sessions of different muscles, clients\n"
          "                      or devices anyway (a warning says so)\n"
          "  -h, --help          this help\n\n"
          "Examples:\n"
          "  rollmap compare 2026-11-03.rms 2026-11-17.rms -o c017\n"
          "  rollmap compare --client C-017 --side left --last 4 -o c017\n",
          out);
}

/** A number in [lo, hi] (above lo when lo_open) for option `name`. */
static int parse_limit(const char *name, const char *text, const char *what,
                       double lo, bool lo_open, double hi, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(lo_open ? v > lo : v >= lo) || !(v <= hi)) {
        cli_fail(CMD, "%s '%s': expected %s, %s %g and at most %g", name,
                 text, what, lo_open ? "above" : "at least", lo, hi);
        return CLI_USAGE;
    }
    *out = v;
    return -1;
}

/** Limits a clinic sets (docs/COMPARE.md); 'passes' for the score MDC. */
static int parse_threshold(int opt, const char *text, compare_cli *o)
{
    rm_compare_options *t = &o->options;
    switch (opt) {
    case OPT_MATCH_CM:
        return parse_limit("--match-cm", text, "a distance in cm", 0, true,
                           20, &t->match_cm);
    case OPT_SCORE_MDC:
        if (strcmp(text, "passes") == 0) {
            t->score_mdc = NAN;
            return -1;
        }
        return parse_limit("--score-mdc", text, "points or 'passes'", 0, true,
                           10, &t->score_mdc);
    case OPT_PRESSURE_MDC:
        return parse_limit("--pressure-mdc", text, "a pressure in kPa", 0,
                           true, 500, &t->pressure_mdc_kpa);
    default:
        return parse_limit("--cover-passes", text, "a number of passes", 0,
                           false, 100, &t->cover_passes);
    }
}

static int parse_count(const char *text, size_t *out)
{
    char *end;
    long n = strtol(text, &end, 10);
    if (end == text || *end || n < 2 || n > INT_MAX) {
        cli_fail(CMD, "--last '%s': expected a number of sessions, at least 2",
                 text);
        return CLI_USAGE;
    }
    *out = (size_t)n;
    return -1;
}

static int parse_side(const char *text, compare_cli *o)
{
    rm_side side;
    if (rm_side_parse(text, &side) != RM_OK || side == RM_SIDE_UNKNOWN) {
        cli_fail(CMD, "--side '%s': expected left or right", text);
        return CLI_USAGE;
    }
    o->filter.side = (uint8_t)side;
    return -1;
}

/** Files or --client, not both; the library options only with --client. */
static int check_sources(compare_cli *o, bool library_options)
{
    if (o->filter.client && o->file_count > 0) {
        cli_fail(CMD, "give session files or --client, not both");
        return CLI_USAGE;
    }
    if (!o->filter.client && library_options) {
        cli_fail(CMD, "--side, --last, --since and --db select sessions of "
                 "--client CODE");
        return CLI_USAGE;
    }
    if (!o->filter.client && o->file_count < 2) {
        cli_fail(CMD, "give at least two session files to compare, or "
                 "--client CODE");
        return CLI_USAGE;
    }
    return -1;
}

/** -1 to go on, or the exit status to return now. */
static int parse_options(int argc, char **argv, compare_cli *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"match-cm", required_argument, NULL, OPT_MATCH_CM},
        {"score-mdc", required_argument, NULL, OPT_SCORE_MDC},
        {"pressure-mdc", required_argument, NULL, OPT_PRESSURE_MDC},
        {"cover-passes", required_argument, NULL, OPT_COVER_PASSES},
        {"force-mix", no_argument, NULL, OPT_FORCE_MIX},
        {"client", required_argument, NULL, OPT_CLIENT},
        {"side", required_argument, NULL, OPT_SIDE},
        {"last", required_argument, NULL, OPT_LAST},
        {"since", required_argument, NULL, OPT_SINCE},
        {"db", required_argument, NULL, OPT_DB},
        {"library-db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    bool library_options = false;
    optind = 1;
    while (status < 0 && (c = getopt_long(argc, argv, "o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->dir = cli_folder(optarg); break;
        case 'f':
            if (rm_graph_format_parse(optarg, &o->format) != RM_OK) {
                cli_fail(CMD, "--format '%s': expected png, svg or pdf", optarg);
                status = CLI_USAGE;
            }
            break;
        case OPT_MATCH_CM:
        case OPT_SCORE_MDC:
        case OPT_PRESSURE_MDC:
        case OPT_COVER_PASSES: status = parse_threshold(c, optarg, o); break;
        case OPT_FORCE_MIX: o->options.force_mix = true; break;
        case OPT_CLIENT: o->filter.client = optarg; break;
        case OPT_SIDE: status = parse_side(optarg, o); break;
        case OPT_LAST: status = parse_count(optarg, &o->filter.last); break;
        case OPT_SINCE:
            if (cli_parse_date(CMD, "--since", optarg, false,
                               &o->filter.since_unix_us) != CLI_OK)
                status = CLI_USAGE;
            break;
        case OPT_DB: o->db = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_USAGE;
        }
        library_options |= c == OPT_SIDE || c == OPT_LAST || c == OPT_SINCE ||
                           c == OPT_DB;
    }
    if (status >= 0)
        return status;
    o->files = argv + optind;
    o->file_count = (size_t)(argc - optind);
    status = check_sources(o, library_options);
    if (status >= 0)
        usage(stderr);
    return status;
}

static void free_analyses(rm_analysis **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rm_analysis_free(a[i]);
    free(a);
}

static int write_folder(const rm_comparison *c, const compare_cli *o)
{
    rm_graphs_result res;
    rm_error err = {0};
    rm_status st = rm_compare_write_dir(c, o->dir, o->format, &res, &err);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    if (!res.gnuplot_found)
        fprintf(stderr, "rollmap %s: warning: %s\n", CMD, res.message);
    printf("%s/compare.html\n%s/compare.json\n%s/summary.txt\n", o->dir,
           o->dir, o->dir);
    if (res.rendered > 0)
        printf("%s/graphs/ (%zu graphs)\n", o->dir, res.rendered);
    return CLI_OK;
}

static int compare_and_write(rm_analysis **a, size_t n, const compare_cli *o)
{
    rm_comparison *c = NULL;
    rm_error err = {0};
    if (rm_compare_checked((const rm_analysis *const *)a, n, &o->options, &c,
                           &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    int status = CLI_OK;
    snprintf(c->client_name, sizeof c->client_name, "%s", o->client_name);
    char warning[RM_COMPARE_WARNING_MAX];
    rm_compare_warning_text(c, warning, sizeof warning);
    if (warning[0])
        fprintf(stderr, "rollmap %s: warning: %s\n", CMD, warning);
    if (o->dir)
        status = write_folder(c, o);
    else if (rm_compare_text(c, stdout, &err) != RM_OK)
        status = cli_fail_error(CMD, &err);
    rm_comparison_free(c);
    return status;
}

static int compare_files(const compare_cli *o)
{
    rm_analysis **a = calloc(o->file_count, sizeof *a);
    if (!a)
        return cli_fail(CMD, "out of memory");
    rm_error err = {0};
    for (size_t i = 0; i < o->file_count; i++)
        if (cli_analyse_file(CMD, o->files[i], &a[i], &err) != RM_OK) {
            free_analyses(a, o->file_count);
            return cli_fail_error(CMD, &err);
        }
    int status = compare_and_write(a, o->file_count, o);
    free_analyses(a, o->file_count);
    return status;
}

/** The library's database: --db, or the default one, which must exist
 *  (opening it would create an empty one). */
static int library_path(const compare_cli *o, char *path, size_t size)
{
    rm_error err = {0};
    if (o->db) {
        snprintf(path, size, "%s", o->db);
    } else if (rm_default_library_db(path, size, &err) != RM_OK) {
        return cli_fail_error(CMD, &err);
    }
    const char *file;
    if (rm_library_target_kind(path, &file) == RM_LIBRARY_SQLITE &&
        access(file, F_OK) != 0)
        return cli_fail(CMD, "%s: no session library there (add sessions "
                        "with: rollmap library add FILE...)", path);
    return -1;
}

/** The stored analyses of the selected sessions, oldest first. */
static rm_status load_client(rm_library *lib, compare_cli *o,
                             rm_analysis ***out, size_t *n, rm_error *err)
{
    rm_library_entry *entries = NULL;
    rm_status st = rm_library_list(lib, &o->filter, &entries, n, err);
    if (st != RM_OK)
        return st;
    if (*n < 2) {
        rm_library_entries_free(entries, *n);
        return rm_error_set(err, RM_ERR_NOT_FOUND, "%s: client %s has %zu "
                            "matching session%s; at least two are needed",
                            rm_library_path(lib), o->filter.client, *n,
                            *n == 1 ? "" : "s");
    }
    if (entries[0].display_name)
        snprintf(o->client_name, sizeof o->client_name, "%s",
                 entries[0].display_name);
    rm_analysis **a = calloc(*n, sizeof *a);
    if (!a)
        st = rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; a && i < *n && st == RM_OK; i++)
        st = rm_library_load_analysis(lib, entries[i].id, &a[i], err);
    rm_library_entries_free(entries, *n);
    if (st != RM_OK && a) {
        free_analyses(a, *n);
        a = NULL;
    }
    *out = a;
    return st;
}

static int compare_client(compare_cli *o)
{
    char path[PATH_MAX];
    int status = library_path(o, path, sizeof path);
    if (status >= 0)
        return status;
    rm_library *lib = NULL;
    rm_error err = {0};
    if (rm_library_open(&lib, path, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_analysis **a = NULL;
    size_t n = 0;
    rm_status st = load_client(lib, o, &a, &n, &err);
    rm_library_close(lib);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    status = compare_and_write(a, n, o);
    free_analyses(a, n);
    return status;
}

int cmd_compare(int argc, char **argv)
{
    compare_cli o = {.format = RM_GRAPH_PNG};
    rm_compare_options_default(&o.options);
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    return o.filter.client ? compare_client(&o) : compare_files(&o);
}
