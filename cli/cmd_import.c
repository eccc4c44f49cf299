/* rollmap import: CSV samples into a new session file. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

#define CMD "import"

typedef struct import_options {
    const char *csv;
    const char *output;
    const char *profile;  /* NULL: the generic device */
    const char *columns;  /* column map; NULL: the profile's [csv] or our names */
    rm_session_meta meta; /* fields set here override the CSV's comments */
} import_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap import FILE.csv -o SESSION [--profile PROFILE]\n"
          "                      [--columns MAP] [--client C] [--side left|right]\n"
          "                      [--muscle M] [--notes TEXT] [--session-id ID]\n\n"
          "Make a session file from CSV. The header row names the columns:\n"
          "time as t_s, t_ms or t_us (required); force per channel 0..N as\n"
          "ch<N>_N, ch<N>_kg, ch<N>_lbf or ch<N>_counts; encoder (counts),\n"
          "position_cm or position_mm; mark (non-zero = tender here). A file\n"
          "from another logger keeps its own names: --columns (or a [csv]\n"
          "section in the profile) maps them, and columns it does not name are\n"
          "skipped. Lines starting with '#' are comments; '# client: C01'\n"
          "style comments above the header row set the metadata (a file from\n"
          "'rollmap export' keeps its own). See docs/FORMAT.md.\n\n"
          "Options:\n"
          "  -o, --output SESSION  the session file to create (must not exist)\n"
          "  --profile PROFILE     device profile (INI; a path, or the name of an\n"
          "                        installed one such as hx711-arduino) giving\n"
          "                        the device INFO and calibration; without it a\n"
          "                        generic device is assumed: load cells of\n"
          "                        0.001 N/count in the end caps of a 330 mm\n"
          "                        roller, a 4096-count encoder on a 150 mm\n"
          "                        roller, the rate from the median time step\n"
          "                        (a file whose rows give none is refused)\n"
          "  --columns MAP         FROM=TO,... : the file's column FROM is\n"
          "                        rollmap's TO (the unit is in TO), e.g.\n"
          "                        time=t_ms,left=ch0_kg,right=ch1_kg,pos=position_mm\n"
          "  --client C            pseudonymous client code\n"
          "  --side left|right     leg side\n"
          "  --muscle M            muscle (default hamstring)\n"
          "  --notes TEXT          free notes\n"
          "  --session-id ID       session id (default: made up)\n"
          "  -h, --help            this help\n\n"
          "Example:\n"
          "  rollmap import rolls.csv -o rolls.rms --client C-017 --side left\n"
          "  rollmap import logger.csv -o rolls.rms --columns "
          "'Time (ms)=t_ms,Load A=ch0_kg,Load B=ch1_kg'\n",
          out);
}

static int parse_meta_option(int c, const char *value, rm_session_meta *m)
{
    switch (c) {
    case 'c': return cli_parse_meta(CMD, CLI_META_CLIENT, value, m);
    case 's': return cli_parse_meta(CMD, CLI_META_SIDE, value, m);
    case 'm': return cli_parse_meta(CMD, CLI_META_MUSCLE, value, m);
    case 'n': return cli_parse_meta(CMD, CLI_META_NOTES, value, m);
    default:
        return cli_option_text(CMD, "session-id", value, m->session_id,
                               sizeof m->session_id);
    }
}

static int parse_options(int argc, char **argv, import_options *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"profile", required_argument, NULL, 'p'},
        {"columns", required_argument, NULL, 'C'},
        {"client", required_argument, NULL, 'c'},
        {"side", required_argument, NULL, 's'},
        {"muscle", required_argument, NULL, 'm'},
        {"notes", required_argument, NULL, 'n'},
        {"session-id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = CLI_OK;
    optind = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'p': o->profile = optarg; break;
        case 'C': o->columns = optarg; break;
        case 'h': usage(stdout); return -1;
        case 'c': case 's': case 'm': case 'n': case 'i':
            rc = parse_meta_option(c, optarg, &o->meta);
            break;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (rc != CLI_OK)
        return rc;
    if (optind != argc - 1 || !o->output) {
        cli_fail(CMD, optind != argc - 1 ? "expected one CSV file"
                                         : "missing -o SESSION");
        usage(stderr);
        return CLI_USAGE;
    }
    o->csv = argv[optind];
    return CLI_OK;
}

int cmd_import(int argc, char **argv)
{
    import_options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rm_error err;
    rm_error_clear(&err);
    rm_profile profile;
    if (o.profile && rm_profile_load(&profile, o.profile, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    const rm_device_info *info = o.profile ? &profile.info : NULL;
    rm_csv_column_map map;
    const rm_csv_column_map *columns = NULL;
    if (o.columns) {
        if (rm_csv_column_map_parse(&map, o.columns, &err) != RM_OK)
            return cli_fail_usage(CMD, "--columns: %s", err.message);
        columns = &map;
    } else if (o.profile && profile.csv_columns.count) {
        columns = &profile.csv_columns;
    }
    if (rm_session_import_csv(o.csv, o.output, info, columns, &o.meta, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_session *s = NULL;
    if (rm_session_open(&s, o.output, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("%s: %llu samples, %u channels at %u Hz, session %s\n", o.output,
           (unsigned long long)rm_session_sample_count(s),
           rm_session_device(s)->channel_count, rm_session_device(s)->sample_rate_hz,
           rm_session_meta_of(s)->session_id);
    rm_session_close(s);
    return CLI_OK;
}
