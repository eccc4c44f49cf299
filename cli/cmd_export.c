/* rollmap export: a session as CSV or EDF+, or sessions as a researcher
 * folder (BIDS-like), from files or from the session library. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "export"

typedef struct export_options {
    char **sessions;      /* the SESSION arguments */
    int session_count;
    const char *output;   /* CSV file; NULL: stdout */
    const char *edf;      /* --edf FILE */
    const char *folder;   /* --folder DIR, or DIR after --client ... --csv */
    const char *client;   /* --client CODE: the library's sessions */
    const char *db;       /* --db PATH; NULL: the default library */
    bool csv, redact;
    bool contiguous;      /* --contiguous: EDF+C even over gaps */
} export_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap export SESSION [--csv] [-o FILE]\n"
          "       rollmap export SESSION --edf FILE [--contiguous]\n"
          "       rollmap export --client CODE --csv DIR [--db URI] [--redact]\n"
          "       rollmap export SESSION... --folder DIR [--redact]\n\n"
          "Write a session as CSV: '#' comment lines with the metadata, device,\n"
          "channel calibrations, gaps and events, then a header row and one row\n"
          "per sample with t_s, force per channel in newtons (ch<N>_N), raw\n"
          "counts (ch<N>_counts), encoder, position_cm (devices with an encoder)\n"
          "and mark. 'rollmap import' reads it back. Damaged blocks are skipped\n"
          "with a warning. See docs/FORMAT.md.\n\n"
          "With --edf, write EDF+ for EDFbrowser, MNE and other EDF readers:\n"
          "each channel and the total force in N, the position along the leg\n"
          "in cm (0 = proximal end), and dwells, marks, tender spots and gaps\n"
          "as annotations, in data records of 1 s. A gap within a record is\n"
          "held flat and annotated. Records wholly inside a gap are left out\n"
          "and the file is EDF+D (discontinuous), which keeps every sample at\n"
          "its true time; EDFbrowser shows EDF+D only after its Tools > EDF+D\n"
          "to EDF+C converter, and MNE joins the records as if continuous.\n"
          "With --contiguous those records are written held flat instead, and\n"
          "the file is EDF+C, which every EDF reader opens as it is.\n\n"
          "With --client (or --folder), write a folder for researchers:\n"
          "DIR/participants.tsv and DIR/sub-<code>/ses-<date>/..._force.csv\n"
          "with a JSON sidecar (metadata, units, analysis summary) per\n"
          "session. A session whose file is missing or unreadable is skipped\n"
          "and named; the others are written and the exit status is 1.\n"
          "See docs/LIBRARY.md, \"Exports\".\n\n"
          "Options:\n"
          "  --csv          CSV output (the default); with --client, DIR\n"
          "                 follows it\n"
          "  -o, --output FILE\n"
          "                 write FILE (replaced whole, only once complete)\n"
          "                 instead of standard output\n"
          "  --edf FILE     write EDF+ to FILE (replaced only once complete)\n"
          "  --contiguous   with --edf: EDF+C even across long gaps, held flat\n"
          "  --client CODE  every session of client CODE in the library\n"
          "  --folder DIR   the researcher folder to write (created if missing)\n"
          "  --db URI       the library: a file or a PostgreSQL server\n"
          "                 (rollmap library --help); also --library-db\n"
          "                 (default $ROLLMAP_LIBRARY_DB, else\n"
          "                 $XDG_DATA_HOME/rollmap/library.db)\n"
          "  --redact       leave out display names and notes\n"
          "  -h, --help     this help\n\n"
          "Example:\n"
          "  rollmap export session.rms --csv -o session.csv\n"
          "  rollmap export session.rms --edf session.edf\n"
          "  rollmap export session.rms --edf session.edf --contiguous\n"
          "  rollmap export --client C-042 --csv study/ --redact\n", out);
}

enum { OPT_EDF = 256, OPT_CONTIGUOUS, OPT_CLIENT, OPT_FOLDER, OPT_DB,
       OPT_REDACT };

/* CLI_OK to go on, -1 after --help, or the usage status. */
static int read_options(int argc, char **argv, export_options *o)
{
    static const struct option longopts[] = {
        {"csv", no_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"edf", required_argument, NULL, OPT_EDF},
        {"contiguous", no_argument, NULL, OPT_CONTIGUOUS},
        {"client", required_argument, NULL, OPT_CLIENT},
        {"folder", required_argument, NULL, OPT_FOLDER},
        {"db", required_argument, NULL, OPT_DB},
        {"library-db", required_argument, NULL, OPT_DB},
        {"redact", no_argument, NULL, OPT_REDACT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->csv = true; break;
        case 'o': o->output = optarg; break;
        case OPT_EDF: o->edf = optarg; break;
        case OPT_CONTIGUOUS: o->contiguous = true; break;
        case OPT_CLIENT: o->client = optarg; break;
        case OPT_FOLDER: o->folder = optarg; break;
        case OPT_DB: o->db = optarg; break;
        case OPT_REDACT: o->redact = true; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    o->sessions = argv + optind;
    o->session_count = argc - optind;
    return CLI_OK;
}

/* With --client, the one argument is the folder (after --csv). */
static const char *check_client_mode(export_options *o)
{
    if (o->output || o->edf)
        return "--client writes a folder: -o and --edf do not apply";
    if (!o->folder) {
        if (!o->csv || o->session_count != 1)
            return "--client needs --csv DIR (or --folder DIR)";
        o->folder = o->sessions[0];
        o->session_count = 0;
    }
    return o->session_count ? "--client takes no SESSION files" : NULL;
}

static const char *check_file_mode(const export_options *o)
{
    if (o->session_count == 0)
        return "missing SESSION file";
    if (o->db)
        return "--db goes with --client";
    if (o->folder)
        return o->output || o->edf ? "--folder writes a folder: -o and --edf "
                                     "do not apply" : NULL;
    if (o->redact)
        return "--redact goes with --client or --folder";
    if (o->session_count > 1)
        return "expected one SESSION file";
    if (o->edf && (o->output || o->csv))
        return "--edf writes EDF+: -o and --csv do not apply";
    return NULL;
}

static int parse_options(int argc, char **argv, export_options *o)
{
    int rc = read_options(argc, argv, o);
    if (rc != CLI_OK)
        return rc;
    const char *problem = o->contiguous && !o->edf
                          ? "--contiguous goes with --edf"
                          : o->client ? check_client_mode(o)
                                      : check_file_mode(o);
    if (problem) {
        cli_fail(CMD, "%s", problem);
        usage(stderr);
        return CLI_USAGE;
    }
    return CLI_OK;
}

static bool same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                      */
/* ------------------------------------------------------------------------ */

/* Export into a temporary file beside path, renamed over it when done. */
static int export_to_file(rm_session *s, const char *path)
{
    rm_atomic_file af;
    rm_error err;
    rm_error_clear(&err);
    if (rm_atomic_open(&af, path, 0, false, &err) != RM_OK)
        return cli_fail(CMD, "%s", err.message);
    if (rm_session_export_csv(s, af.f, &err) != RM_OK) {
        rm_atomic_abort(&af);
        return cli_fail(CMD, "%s: %s", path, err.message);
    }
    if (rm_atomic_commit(&af, &err) != RM_OK)
        return cli_fail(CMD, "%s", err.message);
    return CLI_OK;
}

static int export_to_stdout(rm_session *s)
{
    rm_error err;
    rm_error_clear(&err);
    if (rm_session_export_csv(s, stdout, &err) != RM_OK)
        return cli_fail(CMD, "standard output: %s", err.message);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* EDF+                                                                     */
/* ------------------------------------------------------------------------ */

/* What an EDF+D file means for the readers a user is likely to try. */
static void explain_discontinuous(void)
{
    printf("  records wholly inside gaps are left out (EDF+D); EDFbrowser shows\n"
           "  EDF+D only through Tools > EDF+D to EDF+C converter, and MNE joins\n"
           "  the records; --contiguous writes EDF+C with those records held flat\n");
}

static int export_edf(rm_session *s, const char *session_path, const char *path,
                      bool contiguous)
{
    rm_error err;
    rm_error_clear(&err);
    rm_analysis *a = NULL;
    if (rm_analyse_session(s, NULL, &a, &err) != RM_OK)
        return cli_fail(CMD, "%s: %s", session_path, err.message);
    rm_edf_summary sum;
    rm_status st = rm_export_edf(s, a, path,
                                 contiguous ? RM_EDF_CONTIGUOUS : RM_EDF_DEFAULT,
                                 &sum, &err);
    rm_analysis_free(a);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("wrote %s: %s with %u signals at %u Hz, %llu records of 1 s, "
           "%zu annotations", path, sum.discontinuous ? "EDF+D" : "EDF+C",
           sum.signals, sum.rate_hz,
           (unsigned long long)sum.records, sum.annotations);
    if (sum.held_samples)
        printf(" (%llu samples held flat where there were none)",
               (unsigned long long)sum.held_samples);
    putchar('\n');
    if (sum.discontinuous)
        explain_discontinuous();
    return CLI_OK;
}

static int export_one_session(const export_options *o)
{
    const char *session = o->sessions[0];
    const char *target = o->edf ? o->edf : o->output;
    if (target && same_file(session, target))
        return cli_fail(CMD, "%s: the output would overwrite the session file",
                        target);
    rm_session *s = NULL;
    rm_error err;
    rm_error_clear(&err);
    if (rm_session_open(&s, session, &err) != RM_OK ||
        rm_session_verify(s, &err) != RM_OK) {
        rm_session_close(s);
        return cli_fail_error(CMD, &err);
    }
    cli_warn_damage(CMD, s);
    int rc = o->edf ? export_edf(s, session, o->edf, o->contiguous)
             : o->output ? export_to_file(s, o->output) : export_to_stdout(s);
    rm_session_close(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Researcher folders                                                       */
/* ------------------------------------------------------------------------ */

static void report_skipped(void *user, const char *path, const rm_error *why)
{
    (void)user;
    fprintf(stderr, "rollmap export: skipped %s: %s\n", path, why->message);
}

/* Sessions that cannot be read are skipped and named; the others are
 * written, and the exit status says that not all were. */
static int write_folder(const export_options *o, const rm_folder_session *list,
                        size_t count)
{
    rm_error err;
    rm_error_clear(&err);
    rm_folder_summary sum;
    if (rm_export_folder(o->folder, list, count, o->redact, NULL,
                         report_skipped, NULL, &sum, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("wrote %s: %zu sessions, %zu participants in participants.tsv%s\n",
           o->folder, sum.sessions, sum.participants,
           o->redact ? " (redacted: no names or notes)" : "");
    if (sum.skipped)
        return cli_fail(CMD, "%zu of %zu sessions skipped (named above); "
                        "the others were written", sum.skipped, count);
    return CLI_OK;
}

static int export_files_to_folder(const export_options *o)
{
    size_t n = (size_t)o->session_count;
    rm_folder_session *list = calloc(n, sizeof *list);
    if (!list)
        return cli_fail(CMD, "out of memory");
    for (size_t i = 0; i < n; i++)
        list[i].path = o->sessions[i];
    int rc = write_folder(o, list, n);
    free(list);
    return rc;
}

/* Each session's own file, or its bytes from a PostgreSQL library in the
 * cache (a session recorded on another machine); a session that has
 * neither keeps its path, and the export skips it and names it. */
static int export_entries(rm_library *lib, const export_options *o,
                          rm_library_entry *entries, rm_folder_session *list,
                          size_t n)
{
    char (*files)[PATH_MAX] = calloc(n, sizeof *files);
    if (!files)
        return cli_fail(CMD, "out of memory");
    rm_library_fetched fetched;
    rm_error err;
    for (size_t i = 0; i < n; i++) {
        if (rm_library_session_file(lib, &entries[i], NULL, files[i],
                                    sizeof files[i], &fetched, &err) != RM_OK)
            snprintf(files[i], sizeof files[i], "%s", entries[i].path);
        else if (fetched.damaged_chunks)
            fprintf(stderr, "rollmap %s: warning: %s\n", CMD, fetched.damage);
        list[i] = (rm_folder_session){files[i], entries[i].display_name,
                                      entries[i].notes ? entries[i].notes : ""};
    }
    int rc = write_folder(o, list, n);
    free(files);
    return rc;
}

static int export_client_from(rm_library *lib, const export_options *o)
{
    rm_library_filter f = {.client = o->client};
    rm_library_entry *entries = NULL;
    size_t n = 0;
    rm_error err;
    rm_error_clear(&err);
    if (rm_library_list(lib, &f, &entries, &n, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_folder_session *list = n ? calloc(n, sizeof *list) : NULL;
    int rc;
    if (n == 0)
        rc = cli_fail(CMD, "%s: no sessions of client \"%s\"",
                      rm_library_path(lib), o->client);
    else if (!list)
        rc = cli_fail(CMD, "out of memory");
    else
        rc = export_entries(lib, o, entries, list, n);
    free(list);
    rm_library_entries_free(entries, n);
    return rc;
}

static int export_client(const export_options *o)
{
    char db[4096];
    rm_error err;
    rm_error_clear(&err);
    if (!o->db && rm_default_library_db(db, sizeof db, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    const char *path = o->db ? o->db : db;
    const char *file;
    if (rm_library_target_kind(path, &file) == RM_LIBRARY_SQLITE &&
        access(file, F_OK) != 0)
        return cli_fail(CMD, "%s: no library there (add sessions with "
                        "'rollmap library add')", path);
    rm_library *lib = NULL;
    if (rm_library_open(&lib, path, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    int rc = export_client_from(lib, o);
    rm_library_close(lib);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    export_options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (o.client)
        return export_client(&o);
    if (o.folder)
        return export_files_to_folder(&o);
    return export_one_session(&o);
}
