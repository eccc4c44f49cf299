/* rollmap compare: compare a client's sessions (docs/COMPARE.md). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "compare"

/** Long options without a short form. */
enum { OPT_FORCE_MIX = 256, OPT_MATCH_CM };

typedef struct compare_cli {
    const char *dir;             /* NULL: text summary on stdout */
    rm_graph_format format;
    rm_compare_options options;
    char **files;
    size_t file_count;
} compare_cli;

static void usage(FILE *out)
{
    fputs("usage: rollmap compare SESSION SESSION [SESSION...] [-o DIR]\n"
          "                       [--format png|svg|pdf] [--match-cm CM]\n"
          "                       [--force-mix]\n\n"
          "Compare sessions of one client: tender spots matched across the\n"
          "sessions (eased, worse, unchanged within the minimal detectable\n"
          "change, new, gone), overall trends of each leg, and left vs right\n"
          "with a symmetry index. The session files are analysed now.\n\n"
          "Without -o, print the text summary. With -o, write into DIR:\n"
          "  compare.html  one self-contained page to print (A4); opens with\n"
          "                the table of which spots eased\n"
          "  compare.json  every figure, machine-readable (docs/COMPARE.md)\n"
          "  summary.txt   the text summary\n"
          "  graphs/       profiles overlaid, spot scores over time, spots on\n"
          "                one thigh, left vs right; gnuplot scripts and data\n\n"
          "Options:\n"
          "  -o, --output DIR    write the comparison folder DIR\n"
          "  -f, --format FMT    graph files: png (default), svg or pdf\n"
          "  --match-cm CM       one spot across sessions within CM (default 3)\n"
          "  --force-mix         compare sessions of different muscles, clients\n"
          "                      or devices anyway (a warning says so)\n"
          "  -h, --help          this help\n\n"
          "Example:\n"
          "  rollmap compare 2026-11-03.rms 2026-11-17.rms 2026-12-01.rms "
          "-o c017\n", out);
}

static int parse_match_cm(const char *text, compare_cli *o)
{
    char *end;
    double cm = strtod(text, &end);
    if (end == text || *end || !(cm > 0 && cm <= 20)) {
        cli_fail(CMD, "--match-cm '%s': expected a distance in cm, above 0 "
                 "and at most 20", text);
        return CLI_USAGE;
    }
    o->options.match_cm = cm;
    return -1;
}

/** -1 to go on, or the exit status to return now. */
static int parse_options(int argc, char **argv, compare_cli *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"match-cm", required_argument, NULL, OPT_MATCH_CM},
        {"force-mix", no_argument, NULL, OPT_FORCE_MIX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status = -1;
    optind = 1;
    while (status < 0 && (c = getopt_long(argc, argv, "o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->dir = optarg; break;
        case 'f':
            if (rm_graph_format_parse(optarg, &o->format) != RM_OK) {
                cli_fail(CMD, "--format '%s': expected png, svg or pdf", optarg);
                status = CLI_USAGE;
            }
            break;
        case OPT_MATCH_CM: status = parse_match_cm(optarg, o); break;
        case OPT_FORCE_MIX: o->options.force_mix = true; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (status >= 0)
        return status;
    o->files = argv + optind;
    o->file_count = (size_t)(argc - optind);
    if (o->file_count < 2) {
        cli_fail(CMD, "give at least two session files to compare");
        usage(stderr);
        return CLI_USAGE;
    }
    return -1;
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
    if (rm_compare((const rm_analysis *const *)a, n, &o->options, &c, &err)
        != RM_OK)
        return cli_fail_error(CMD, &err);
    int status = CLI_OK;
    if (c->warning[0])
        fprintf(stderr, "rollmap %s: warning: %s\n", CMD, c->warning);
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
        if (cli_analyse_file(o->files[i], &a[i], &err) != RM_OK) {
            free_analyses(a, o->file_count);
            return cli_fail_error(CMD, &err);
        }
    int status = compare_and_write(a, o->file_count, o);
    free_analyses(a, o->file_count);
    return status;
}

int cmd_compare(int argc, char **argv)
{
    compare_cli o = {.format = RM_GRAPH_PNG};
    rm_compare_options_default(&o.options);
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    return compare_files(&o);
}
