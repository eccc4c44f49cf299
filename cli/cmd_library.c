/* rollmap library: the session library (add, list, show, set, tag, rm,
 * check, reanalyse, name, notes, rebuild, migrate, copy). docs/LIBRARY.md, rollmap-library(1). */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CMD "library"
#define PROGRESS_AFTER_US 1000000 /* show a progress bar after 1 s */
#define PROGRESS_WIDTH 30         /* characters of the bar */

/* Options; each subcommand accepts a subset (OPT_* bits). */
enum {
    OPT_FILTER = 1 << 0,  /* --client --side --muscle --since --until --last */
    OPT_FORMAT = 1 << 1,  /* --json --csv */
    OPT_JSON = 1 << 2,    /* --json only */
    OPT_REMOVE = 1 << 3,  /* --yes --purge */
    OPT_HASH = 1 << 4,    /* --hash */
    OPT_NAMES = 1 << 5,   /* --names */
    OPT_META = 1 << 6,    /* set: --client --side --muscle --notes */
    OPT_FOLDER = 1 << 7,  /* check, rebuild: --folder */
    OPT_FORCE = 1 << 8,   /* rebuild: --force */
    OPT_DRY_RUN = 1 << 9, /* sync: --dry-run */
    OPT_JOBS = 1 << 10,   /* reanalyse: --jobs */
    OPT_COPY = 1 << 11    /* copy: --from --to */
};

#define MAX_FOLDERS 8             /* --folder options on one command line */
#define MAX_JOBS 1024             /* --jobs: more threads than this is a typo */
/* An unclosed session file written this recently may still be recording:
 * check leaves it to the recorder (rollmapd flushes every 0.5 s and
 * updates the metadata every 10 s while it records). */
#define RECORDING_RECENT_S 120

typedef struct library_options {
    char db[PATH_MAX];
    rm_library_filter filter;
    unsigned given;        /* OPT_* bits of the options used */
    bool json, csv, yes, purge, hash, names, force, dry_run;
    unsigned jobs;         /* reanalyse: 0 one per online CPU */
    bool setting_meta;     /* set: --client --side --muscle are META */
    const char *folders[MAX_FOLDERS]; /* check: --folder, in order */
    const char *from, *to; /* copy */
    int folder_count;
    rm_session_meta meta;  /* what set sets */
    int argc;              /* positional arguments after the subcommand */
    char **argv;
} library_options;

typedef struct subcommand {
    const char *name;
    const char *args;      /* positional arguments, for usage */
    unsigned options;      /* OPT_* allowed */
    int min_args, max_args; /* max -1: any */
    int (*run)(rm_library *lib, library_options *o);
    int (*run_unopened)(library_options *o); /* opens the database itself */
} subcommand;

static void usage(FILE *out)
{
    fputs(
"usage: rollmap library add FILE...\n"
"       rollmap library list [FILTER] [--json | --csv] [--names]\n"
"       rollmap library show ID [--json]\n"
"       rollmap library set ID... META\n"
"       rollmap library tag ID KEY=VALUE...       (KEY= removes the tag)\n"
"       rollmap library notes ID TEXT\n"
"       rollmap library name CLIENT [DISPLAY NAME]\n"
"       rollmap library rm ID... [--yes] [--purge]\n"
"       rollmap library check [FILTER] [--hash] [--folder DIR]... [--json]\n"
"       rollmap library reanalyse [FILTER] [--force] [--jobs N]\n"
"       rollmap library rebuild [--folder DIR]... [FILE...] [--force]\n"
"       rollmap library migrate\n"
"       rollmap library sync [--folder DIR]... [FILE...] [--dry-run]\n"
"       rollmap library copy --from URI --to URI [--folder DIR]\n"
"Every form takes --db URI.\n\n"
"The library indexes session files in one database (an SQLite file, or\n"
"a clinic's PostgreSQL server, docs/CLINIC.md): client,\n"
"date, device, side, muscle, tags, notes, the analysis summary, dwells\n"
"and tender spots. Raw samples stay in the session files (a PostgreSQL\n"
"library also keeps a copy of their bytes, for the other machines).\n"
"ID is the library id that add and list print, a session id or an added\n"
"file.\n\n"
"  add        index session files (again: only if they changed); a\n"
"             PostgreSQL library also stores their bytes\n"
"  list       sessions, oldest first: a table, JSON or CSV\n"
"  show       everything stored about one session, with spots and dwells\n"
"  set        set client, side, muscle or notes of sessions in their\n"
"             files (e.g. automatic ones) and index them again\n"
"  tag        set or remove tags (key=value) on a session; client, side\n"
"             and muscle are not tags: use set\n"
"  notes      replace a session's notes in the library\n"
"  name       give a client code a display name, kept only in the\n"
"             database (never in file names); no name removes it\n"
"  rm         remove sessions from the library; asks on a terminal; the\n"
"             file is kept unless --purge\n"
"  check      find files that are missing or changed since they were\n"
"             added (on PostgreSQL a file not on this machine is missing\n"
"             only when the server lacks its bytes too; size; content\n"
"             where the mtime moved; --hash: every\n"
"             file's content, and on PostgreSQL every stored chunk\n"
"             against its checksum, and a damaged one is written again\n"
"             from this machine's good copy: the unchanged file or a\n"
"             cached one), and session files in the session\n"
"             folder (or each --folder) that are not in the library, and\n"
"             add those; exit 1 if it found any of these\n"
"  reanalyse  analyse the sessions again from their files (after a\n"
"             detector change), with a progress bar on a terminal; files\n"
"             changed since they were indexed are listed and, on a\n"
"             terminal, asked about; otherwise they need --force; every\n"
"             CPU analyses a session at a time (--jobs) and the failures\n"
"             are named at the end\n"
"  rebuild    after damage: move the database aside (never deleted) and\n"
"             index the session files of the session folder (or each\n"
"             --folder) and the FILEs again into a new one; tags, notes\n"
"             and client names come back only from a backup. A database\n"
"             that is not damaged is rebuilt only with --force (SQLite\n"
"             only: a PostgreSQL library comes back from the server's\n"
"             backups)\n"
"  migrate    bring the database's schema up to this rollmap's version\n"
"             (every command does so on first use) and print it\n"
"  sync       a PostgreSQL library keeps the sessions' bytes too: list\n"
"             the session files of the session folder (or each --folder,\n"
"             or the FILEs) that the server lacks or holds less of, then\n"
"             add and upload them (--dry-run: only list); exit 1 if one\n"
"             could not be, with why. rollmapd does this by itself\n"
"  copy       copy every session of one library into another (a room's\n"
"             SQLite file into the clinic's PostgreSQL, or back): rows,\n"
"             tags, notes, client names and the sessions' data (uploaded\n"
"             into PostgreSQL; from PostgreSQL, a file this machine lacks\n"
"             is written into --folder DIR as SESSION-ID.rms). Sessions\n"
"             are matched by session id: running it again writes only\n"
"             what is missing or different, so a copy that was stopped\n"
"             completes. Progress on standard error; exit 1 when a\n"
"             session's data could not be read (its row is copied)\n\n"
"FILTER:\n"
"  --client CODE     one client\n"
"  --side left|right\n"
"  --muscle NAME\n"
"  --since DATE      sessions from DATE on (YYYY-MM-DD or\n"
"                    YYYY-MM-DDTHH:MM:SSZ, UTC)\n"
"  --until DATE      sessions up to DATE (a whole day when only a date)\n"
"  --last N          only the newest N\n\n"
"META (set; at least one):\n"
"  --client CODE     pseudonymous client code (never in file names)\n"
"  --side left|right\n"
"  --muscle NAME\n"
"  --notes TEXT      in the file and the library\n\n"
"Options:\n"
"  --db URI, --library-db URI\n"
"                    the database: a file (PATH or sqlite:PATH) or a\n"
"                    PostgreSQL server (postgresql://USER@HOST/DB or\n"
"                    \"host=... dbname=...\"; the password comes from\n"
"                    ~/.pgpass or a service file, never from here);\n"
"                    default $ROLLMAP_LIBRARY_DB, else\n"
"                    $XDG_DATA_HOME/rollmap/library.db\n"
"  --json, --csv     machine-readable output\n"
"  --names           list: add client display names\n"
"  --hash            check: compare every file's content checksum, and\n"
"                    read the bytes a PostgreSQL library holds (and\n"
"                    repair them)\n"
"  --folder DIR      check, rebuild, sync: the session files in DIR; copy:\n"
"                    where files fetched from the source go (default:\n"
"                    rollmapd's default session folder,\n"
"                    $XDG_DATA_HOME/rollmap/sessions)\n"
"  --dry-run         sync: list what is to be uploaded, upload nothing\n"
"  --from URI, --to URI\n"
"                    copy: the library read and the one written (either\n"
"                    may be a file or a PostgreSQL server, as --db)\n"
"  --force           reanalyse: also files changed since they were indexed;\n"
"                    rebuild: also a database that is not damaged\n"
"  --jobs N          reanalyse: N sessions at once (default: one per\n"
"                    online CPU; 1: one after the other)\n"
"  -y, --yes         rm: do not ask\n"
"  --purge           rm: also delete the session file (and its bytes\n"
"                    on a PostgreSQL server)\n"
"  -h, --help        this help\n\n"
"Examples:\n"
"  rollmap library add sessions/*.rms\n"
"  rollmap library list --client C-017 --side left --last 5\n"
"  rollmap library set 12 13 --client C-017 --side left\n"
"  rollmap library tag 12 phase=rehab\n"
"  rollmap library copy --from ~/.local/share/rollmap/library.db \\\n"
"      --to postgresql://dr_lee@db.clinic.lan/rollmap\n", out);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

static int option_value(int c, const char *arg, library_options *o)
{
    rm_side side;
    char *end;
    switch (c) {
    case 'c': o->filter.client = arg; return CLI_OK;
    case 'm': o->filter.muscle = arg; return CLI_OK;
    case 's':
        if (rm_side_parse(arg, &side) != RM_OK || side == RM_SIDE_UNKNOWN)
            return cli_fail_usage(CMD, "--side '%s': expected left or right",
                                  arg);
        o->filter.side = (uint8_t)side;
        return CLI_OK;
    case 'S':
        return cli_parse_date(CMD, "--since", arg, false,
                              &o->filter.since_unix_us);
    case 'U':
        return cli_parse_date(CMD, "--until", arg, true,
                              &o->filter.until_unix_us);
    case 'l':
        o->filter.last = (size_t)strtoul(arg, &end, 10);
        if (*end || !o->filter.last || arg[0] == '-')
            return cli_fail_usage(CMD, "--last '%s': expected a count of 1 "
                                  "or more", arg);
        return CLI_OK;
    case 'F':
        if (o->folder_count == MAX_FOLDERS)
            return cli_fail_usage(CMD, "at most %d --folder options",
                                  MAX_FOLDERS);
        o->folders[o->folder_count++] = arg;
        return CLI_OK;
    case 'J':
        o->jobs = (unsigned)strtoul(arg, &end, 10);
        if (*end || !o->jobs || arg[0] == '-' || o->jobs > MAX_JOBS)
            return cli_fail_usage(CMD, "--jobs '%s': expected a count of "
                                  "1 to %d", arg, MAX_JOBS);
        return CLI_OK;
    case 'R': o->from = arg; return CLI_OK;
    case 'T': o->to = arg; return CLI_OK;
    case 'd':
        if (strlen(arg) >= sizeof o->db)
            return cli_fail_usage(CMD, "--db: too long");
        snprintf(o->db, sizeof o->db, "%s", arg);
        return CLI_OK;
    default:
        return CLI_OK;
    }
}

/* Which OPT_* group an option belongs to (0: every subcommand). */
static unsigned option_group(int c)
{
    switch (c) {
    case 'c': case 's': case 'm': case 'S': case 'U': case 'l':
        return OPT_FILTER;
    case 'j': return OPT_JSON;
    case 'v': return OPT_FORMAT;
    case 'y': case 'p': return OPT_REMOVE;
    case 'H': return OPT_HASH;
    case 'n': return OPT_NAMES;
    case 'N': return OPT_META;
    case 'F': return OPT_FOLDER;
    case 'f': return OPT_FORCE;
    case 'D': return OPT_DRY_RUN;
    case 'J': return OPT_JOBS;
    case 'R': case 'T': return OPT_COPY;
    default: return 0;
    }
}

static const struct option longopts[] = {
    {"db", required_argument, NULL, 'd'},
    {"library-db", required_argument, NULL, 'd'},
    {"client", required_argument, NULL, 'c'},
    {"side", required_argument, NULL, 's'},
    {"muscle", required_argument, NULL, 'm'},
    {"since", required_argument, NULL, 'S'},
    {"until", required_argument, NULL, 'U'},
    {"last", required_argument, NULL, 'l'},
    {"notes", required_argument, NULL, 'N'},
    {"json", no_argument, NULL, 'j'},
    {"csv", no_argument, NULL, 'v'},
    {"names", no_argument, NULL, 'n'},
    {"hash", no_argument, NULL, 'H'},
    {"folder", required_argument, NULL, 'F'},
    {"force", no_argument, NULL, 'f'},
    {"dry-run", no_argument, NULL, 'D'},
    {"jobs", required_argument, NULL, 'J'},
    {"from", required_argument, NULL, 'R'},
    {"to", required_argument, NULL, 'T'},
    {"yes", no_argument, NULL, 'y'},
    {"purge", no_argument, NULL, 'p'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Whether arg is a long option whose value is the next argument. */
static bool takes_next_value(const char *arg)
{
    if (strncmp(arg, "--", 2) || strchr(arg, '='))
        return false;
    for (const struct option *opt = longopts; opt->name; opt++)
        if (!strcmp(arg + 2, opt->name))
            return opt->has_arg == required_argument;
    return false;
}

/* For set, --client --side --muscle and --notes are the META to set. */
static bool meta_option(int c, cli_meta_option *option)
{
    switch (c) {
    case 'c': *option = CLI_META_CLIENT; return true;
    case 's': *option = CLI_META_SIDE; return true;
    case 'm': *option = CLI_META_MUSCLE; return true;
    case 'N': *option = CLI_META_NOTES; return true;
    default: return false;
    }
}

static int take_option(int c, const char *arg, library_options *o)
{
    cli_meta_option meta;
    if (o->setting_meta && meta_option(c, &meta)) {
        o->given |= OPT_META;
        return cli_parse_meta(CMD, meta, arg, &o->meta);
    }
    o->given |= option_group(c);
    o->json |= c == 'j';
    o->csv |= c == 'v';
    o->names |= c == 'n';
    o->hash |= c == 'H';
    o->yes |= c == 'y';
    o->purge |= c == 'p';
    o->force |= c == 'f';
    o->dry_run |= c == 'D';
    return option_value(c, arg, o);
}

static int parse_options(int argc, char **argv, library_options *o)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "yh", longopts, NULL)) != -1) {
        if (c == '?') {
            usage(stderr);
            return CLI_USAGE;
        }
        int st = take_option(c, optarg, o);
        if (st != CLI_OK)
            return st;
    }
    o->argc = argc - optind;
    o->argv = argv + optind;
    return CLI_OK;
}

/* Options may come before or after the subcommand's arguments: move the
 * subcommand out and let getopt permute the rest. */
static int parse_all(int argc, char **argv, const char *sub,
                     library_options *o)
{
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return cli_fail(CMD, "out of memory");
    int n = 0;
    args[n++] = argv[0];
    bool skipped = false;
    for (int i = 1; i < argc; i++) {
        if (!skipped && argv[i] == sub) {
            skipped = true;
            continue;
        }
        args[n++] = argv[i];
    }
    int st = parse_options(n, args, o);
    /* the positional arguments stay valid: they point into argv */
    char **positional = calloc((size_t)o->argc + 1, sizeof *positional);
    if (positional && o->argc > 0)
        memcpy(positional, o->argv, (size_t)o->argc * sizeof *positional);
    free(args);
    o->argv = positional;
    return positional ? st : cli_fail(CMD, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Printing helpers                                                         */
/* ------------------------------------------------------------------------ */

static void date_text(char out[32], int64_t us)
{
    if (us)
        rm_format_iso8601(out, us);
    else
        snprintf(out, 32, "(unknown)");
}

static void csv_field(FILE *out, const char *text, bool last)
{
    if (strpbrk(text, ",\"\n\r")) {
        fputc('"', out);
        for (const char *p = text; *p; p++) {
            if (*p == '"')
                fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else {
        fputs(text, out);
    }
    fputc(last ? '\n' : ',', out);
}

static void csv_number(FILE *out, double v)
{
    if (v == v)
        fprintf(out, "%.6g,", v);
    else
        fputc(',', out);
}

static void tags_text(const rm_library_entry *e, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < e->tag_count && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s",
                                 i ? " " : "", e->tags[i].key,
                                 e->tags[i].value);
}

static void json_entry(rm_json_writer *w, const rm_library_entry *e,
                       bool names)
{
    char date[32];
    date_text(date, e->start_unix_us);
    rm_json_member_int(w, "id", e->id);
    rm_json_member_string(w, "session_id", e->session_id);
    rm_json_member_string(w, "path", e->path);
    rm_json_member_string(w, "client", e->client);
    if (names && e->display_name)
        rm_json_member_string(w, "display_name", e->display_name);
    rm_json_member_string(w, "start", date);
    rm_json_member_string(w, "side", rm_side_name((rm_side)e->side));
    rm_json_member_string(w, "muscle", e->muscle);
    rm_json_member_string(w, "device_model", e->device_model);
    rm_json_member_string(w, "device_serial", e->device_serial);
    rm_json_member_number(w, "duration_s", e->summary.duration_s);
    rm_json_member_number(w, "time_under_load_s", e->summary.time_under_load_s);
    rm_json_member_number(w, "mean_force_n", e->summary.mean_force_n);
    rm_json_member_number(w, "peak_force_n", e->summary.peak_force_n);
    rm_json_member_number(w, "cadence_per_min", e->summary.cadence_per_min);
    rm_json_member_int(w, "dwells", (int64_t)e->dwell_count);
    rm_json_member_int(w, "spots", (int64_t)e->spot_count);
    rm_json_member_int(w, "marks", (int64_t)e->mark_count);
    rm_json_member_number(w, "spot_score_total", e->spot_score_total);
    rm_json_member_number(w, "spot_score_max", e->spot_score_max);
    rm_json_member_string(w, "notes", e->notes ? e->notes : "");
    rm_json_member_string(w, "damage", e->damage);
    rm_json_key(w, "tags");
    rm_json_object_open(w);
    for (size_t i = 0; i < e->tag_count; i++)
        rm_json_member_string(w, e->tags[i].key, e->tags[i].value);
    rm_json_object_close(w);
}

/* ------------------------------------------------------------------------ */
/* list                                                                     */
/* ------------------------------------------------------------------------ */

static void list_table(const rm_library_entry *e, size_t n, bool names)
{
    printf("%5s  %-20s  %-10s  %-5s  %-9s  %7s  %7s  %5s  %5s  %s\n", "ID",
           "START", "CLIENT", "SIDE", "MUSCLE", "MIN", "LOAD_S", "SPOTS",
           "MAX", "TAGS");
    for (size_t i = 0; i < n; i++) {
        char date[32], tags[256];
        date_text(date, e[i].start_unix_us);
        tags_text(&e[i], tags, sizeof tags);
        printf("%5lld  %-20s  %-10s  %-5s  %-9s  %7.1f  %7.0f  %5zu  %5.1f  %s",
               (long long)e[i].id, date, e[i].client,
               rm_side_name((rm_side)e[i].side), e[i].muscle,
               e[i].summary.duration_s / 60, e[i].summary.time_under_load_s,
               e[i].spot_count, e[i].spot_score_max, tags);
        if (names && e[i].display_name)
            printf("%s(%s)", tags[0] ? " " : "", e[i].display_name);
        if (e[i].damage[0])
            printf(" [damaged file: analysis of what could be read]");
        putchar('\n');
    }
}

static void list_csv(const rm_library_entry *e, size_t n, bool names)
{
    printf("id,session_id,start,client,%sside,muscle,duration_s,"
           "time_under_load_s,mean_force_n,peak_force_n,cadence_per_min,"
           "dwells,spots,spot_score_total,spot_score_max,tags,path,damage\n",
           names ? "display_name," : "");
    for (size_t i = 0; i < n; i++) {
        char date[32], tags[256];
        date_text(date, e[i].start_unix_us);
        tags_text(&e[i], tags, sizeof tags);
        printf("%lld,", (long long)e[i].id);
        csv_field(stdout, e[i].session_id, false);
        csv_field(stdout, date, false);
        csv_field(stdout, e[i].client, false);
        if (names)
            csv_field(stdout, e[i].display_name ? e[i].display_name : "", false);
        printf("%s,", rm_side_name((rm_side)e[i].side));
        csv_field(stdout, e[i].muscle, false);
        csv_number(stdout, e[i].summary.duration_s);
        csv_number(stdout, e[i].summary.time_under_load_s);
        csv_number(stdout, e[i].summary.mean_force_n);
        csv_number(stdout, e[i].summary.peak_force_n);
        csv_number(stdout, e[i].summary.cadence_per_min);
        printf("%zu,%zu,", e[i].dwell_count, e[i].spot_count);
        csv_number(stdout, e[i].spot_score_total);
        csv_number(stdout, e[i].spot_score_max);
        csv_field(stdout, tags, false);
        csv_field(stdout, e[i].path, false);
        csv_field(stdout, e[i].damage, true);
    }
}

static void list_json(const rm_library_entry *e, size_t n, bool names)
{
    rm_json_writer w;
    rm_json_begin(&w, stdout, true);
    rm_json_array_open(&w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(&w);
        json_entry(&w, &e[i], names);
        rm_json_object_close(&w);
    }
    rm_json_array_close(&w);
    rm_json_end(&w);
}

static int run_list(rm_library *lib, library_options *o)
{
    if (o->json && o->csv)
        return cli_fail_usage(CMD, "list: --json or --csv, not both");
    rm_library_entry *e;
    size_t n;
    rm_error err;
    if (rm_library_list(lib, &o->filter, &e, &n, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    if (o->json)
        list_json(e, n, o->names);
    else if (o->csv)
        list_csv(e, n, o->names);
    else
        list_table(e, n, o->names);
    rm_library_entries_free(e, n);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* show                                                                     */
/* ------------------------------------------------------------------------ */

static void show_text_entry(const rm_library_entry *e, const rm_analysis *a)
{
    char date[32];
    date_text(date, e->start_unix_us);
    printf("id          %lld\nsession     %s\nfile        %s\n",
           (long long)e->id, e->session_id, e->path);
    printf("            %llu bytes, CRC-32C %08x\n",
           (unsigned long long)e->file_size, e->file_crc32c);
    if (e->damage[0])
        printf("damage      %s: the analysis covers only what could be "
               "read\n", e->damage);
    printf("client      %s%s%s%s\n", e->client, e->display_name ? " (" : "",
           e->display_name ? e->display_name : "", e->display_name ? ")" : "");
    printf("start       %s\nside        %s\nmuscle      %s\n", date,
           rm_side_name((rm_side)e->side), e->muscle);
    printf("device      %s, serial %s, %u Hz, %u channels\n",
           e->device_model[0] ? e->device_model : "?",
           e->device_serial[0] ? e->device_serial : "(none)",
           e->sample_rate_hz, e->channel_count);
    if (e->notes)
        printf("notes       %s\n", e->notes);
    for (size_t i = 0; i < e->tag_count; i++)
        printf("tag         %s=%s\n", e->tags[i].key, e->tags[i].value);
    const rm_summary *s = &a->summary;
    printf("duration    %.1f s, %.1f s under load\n", s->duration_s,
           s->time_under_load_s);
    printf("force       mean %.1f N, peak %.1f N\n", s->mean_force_n,
           s->peak_force_n);
    if (a->has_pressure)
        printf("pressure    mean %.1f kPa, peak %.1f kPa\n",
               s->mean_pressure_kpa, s->peak_pressure_kpa);
    if (a->has_position)
        printf("rolling     %.1f cm rolled, %zu strokes, %.1f/min, "
               "%.2f cm/s, %.1f s too fast\n", s->rolled_length_cm, s->strokes,
               s->cadence_per_min, s->mean_speed_cm_s, s->time_too_fast_s);
    printf("quality     %zu gaps (%.2f s), %llu samples lost, %.2f %% "
           "saturated%s\n", a->quality.gaps, a->quality.gap_s,
           (unsigned long long)a->quality.lost_samples,
           a->quality.saturation_pct,
           a->quality.calibration_stale ? ", calibration stale" : "");
    printf("profile     %zu bins of %.1f cm\n", a->bin_count,
           a->config.profile_bin_cm);
}

static void show_text_details(const rm_analysis *a)
{
    printf("\ntender spots (%zu)\n", a->spot_count);
    if (a->spot_count)
        printf("  %8s  %6s  %-8s  %5s  %5s  %6s  %5s\n", "POS_CM", "POS_%",
               "SIDE", "SCORE", "CONF", "DWELL", "MARKS");
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *p = &a->spots[i];
        printf("  %8.1f  %6.0f  %-8s  %5.1f  %5.2f  %6.2f  %5u\n",
               p->position_cm, p->position_pct,
               rm_ml_side_name((rm_ml_side)p->side), p->score, p->confidence,
               p->evidence.dwell_s, p->evidence.marks);
    }
    printf("\ndwells (%zu)\n", a->dwell_count);
    if (a->dwell_count)
        printf("  %8s  %8s  %8s  %-8s  %7s  %7s\n", "START_S", "LEN_S",
               "POS_CM", "SIDE", "MEAN_N", "PEAK_N");
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        printf("  %8.1f  %8.1f  %8.1f  %-8s  %7.1f  %7.1f\n", d->start_s,
               d->duration_s, d->position_cm,
               rm_ml_side_name((rm_ml_side)d->side), d->mean_force_n,
               d->peak_force_n);
    }
    printf("\nmarks (%zu)\n", a->mark_count);
    for (size_t i = 0; i < a->mark_count; i++) {
        const rm_mark *m = &a->marks[i];
        printf("  at %.1f s, %.1f cm, %.1f N", m->t_s, m->position_cm,
               m->force_n);
        if (m->rating >= 0)
            printf(", rated %d/10", m->rating);
        putchar('\n');
    }
}

static void json_spots(rm_json_writer *w, const rm_analysis *a)
{
    rm_json_key(w, "spots");
    rm_json_array_open(w);
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *p = &a->spots[i];
        rm_json_object_open(w);
        rm_json_member_number(w, "position_cm", p->position_cm);
        rm_json_member_number(w, "position_pct", p->position_pct);
        rm_json_member_string(w, "side", rm_ml_side_name((rm_ml_side)p->side));
        rm_json_member_number(w, "score", p->score);
        rm_json_member_number(w, "confidence", p->confidence);
        rm_json_member_number(w, "dwell_s", p->evidence.dwell_s);
        rm_json_member_int(w, "marks", p->evidence.marks);
        rm_json_member_number(w, "threshold_force_n", p->threshold_force_n);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void json_dwells(rm_json_writer *w, const rm_analysis *a)
{
    rm_json_key(w, "dwells");
    rm_json_array_open(w);
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        rm_json_object_open(w);
        rm_json_member_number(w, "start_s", d->start_s);
        rm_json_member_number(w, "duration_s", d->duration_s);
        rm_json_member_number(w, "position_cm", d->position_cm);
        rm_json_member_string(w, "side", rm_ml_side_name((rm_ml_side)d->side));
        rm_json_member_number(w, "mean_force_n", d->mean_force_n);
        rm_json_member_number(w, "peak_force_n", d->peak_force_n);
        rm_json_member_number(w, "mean_pressure_kpa", d->mean_pressure_kpa);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void json_profile(rm_json_writer *w, const rm_analysis *a)
{
    rm_json_key(w, "profile");
    rm_json_array_open(w);
    for (size_t i = 0; i < a->bin_count; i++) {
        const rm_profile_bin *b = &a->profile[i];
        rm_json_object_open(w);
        rm_json_member_number(w, "position_cm", b->position_cm);
        rm_json_member_number(w, "time_s", b->time_s);
        rm_json_member_number(w, "mean_force_n", b->mean_force_n);
        rm_json_member_number(w, "tenderness", b->tenderness);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void show_json(const rm_library_entry *e, const rm_analysis *a)
{
    rm_json_writer w;
    rm_json_begin(&w, stdout, true);
    rm_json_object_open(&w);
    json_entry(&w, e, true);
    rm_json_member_int(&w, "file_size", (int64_t)e->file_size);
    rm_json_member_int(&w, "gaps", (int64_t)a->quality.gaps);
    rm_json_member_number(&w, "gap_s", a->quality.gap_s);
    rm_json_member_number(&w, "saturation_pct", a->quality.saturation_pct);
    json_spots(&w, a);
    json_dwells(&w, a);
    json_profile(&w, a);
    rm_json_object_close(&w);
    rm_json_end(&w);
}

static int run_show(rm_library *lib, library_options *o)
{
    int64_t id;
    rm_library_entry *e = NULL;
    rm_analysis *a = NULL;
    rm_error err;
    if (rm_library_resolve(lib, o->argv[0], &id, &err) != RM_OK ||
        rm_library_get(lib, id, &e, &err) != RM_OK ||
        rm_library_load_analysis(lib, id, &a, &err) != RM_OK) {
        rm_library_entries_free(e, e ? 1 : 0);
        return cli_fail_error(CMD, &err);
    }
    if (o->json) {
        show_json(e, a);
    } else {
        show_text_entry(e, a);
        show_text_details(a);
    }
    rm_analysis_free(a);
    rm_library_entries_free(e, 1);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* add, set, tag, notes, name, rm                                           */
/* ------------------------------------------------------------------------ */

static const char *outcome_name(rm_library_add_outcome outcome)
{
    switch (outcome) {
    case RM_LIBRARY_ADDED: return "added";
    case RM_LIBRARY_UPDATED: return "updated";
    default: return "unchanged";
    }
}

/* Every file is tried; the exit status says whether all went in. A
 * library that stores session data (PostgreSQL) gets the file's bytes
 * too, so that other machines can read it. */
static int run_add(rm_library *lib, library_options *o)
{
    int status = CLI_OK;
    for (int i = 0; i < o->argc; i++) {
        int64_t id;
        rm_library_add_outcome outcome;
        rm_error err;
        if (rm_library_add_ex(lib, o->argv[i], NULL, &id, &outcome, &err)
            != RM_OK ||
            rm_library_upload_session(lib, o->argv[i], NULL, &err) != RM_OK) {
            status = cli_fail_error(CMD, &err);
            if (err.code == RM_ERR_BUSY || err.code == RM_ERR_NO_SPACE)
                break;
            continue;
        }
        printf("%lld\t%s\t%s\n", (long long)id, outcome_name(outcome),
               o->argv[i]);
    }
    return status;
}

static int resolve(rm_library *lib, const char *text, int64_t *id)
{
    rm_error err;
    if (rm_library_resolve(lib, text, id, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    return CLI_OK;
}

static rm_status set_one(rm_library *lib, const char *text,
                         const rm_session_meta *meta)
{
    int64_t id;
    rm_library_entry *e;
    rm_error err;
    if (rm_library_resolve(lib, text, &id, &err) != RM_OK ||
        rm_library_set_meta(lib, id, meta, &err) != RM_OK ||
        rm_library_get(lib, id, &e, &err) != RM_OK) {
        cli_fail_error(CMD, &err);
        return err.code;
    }
    printf("%lld\t%s\t%s\t%s\t%s\n", (long long)id, e->client,
           rm_side_name((rm_side)e->side), e->muscle, e->path);
    rm_library_entries_free(e, 1);
    return RM_OK;
}

/* Every session is tried; the exit status says whether all were set. */
static int run_set(rm_library *lib, library_options *o)
{
    int status = CLI_OK;
    for (int i = 0; i < o->argc; i++) {
        rm_status st = set_one(lib, o->argv[i], &o->meta);
        if (st != RM_OK)
            status = CLI_FAILURE;
        if (st == RM_ERR_BUSY || st == RM_ERR_NO_SPACE)
            break;
    }
    return status;
}

/* Client, side and muscle live in the session file and are changed with
 * set: a tag of that name would look like them but change nothing.
 * Removing one (KEY=) stays possible. */
static int check_tag(const char *id, const char *arg)
{
    static const char *const meta_keys[] = {"client", "side", "muscle"};
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_fail_usage(CMD, "tag '%s': expected KEY=VALUE (KEY= "
                              "removes)", arg);
    if (!eq[1])
        return CLI_OK;
    size_t len = (size_t)(eq - arg);
    /* the suggested command must paste into a shell as it is */
    const char *quote = strpbrk(eq + 1, " \t'") ? "\"" : "";
    for (size_t k = 0; k < sizeof meta_keys / sizeof meta_keys[0]; k++)
        if (strlen(meta_keys[k]) == len && !strncasecmp(arg, meta_keys[k], len))
            return cli_fail_usage(CMD, "tag '%s': %s is the session's "
                                  "metadata, not a tag; use 'rollmap "
                                  "library set %s --%s %s%s%s'", arg,
                                  meta_keys[k], id, meta_keys[k], quote,
                                  eq + 1, quote);
    return CLI_OK;
}

static int run_tag(rm_library *lib, library_options *o)
{
    for (int i = 1; i < o->argc; i++)
        if (check_tag(o->argv[0], o->argv[i]) != CLI_OK)
            return CLI_USAGE;
    int64_t id;
    if (resolve(lib, o->argv[0], &id) != CLI_OK)
        return CLI_FAILURE;
    for (int i = 1; i < o->argc; i++) {
        char *eq = strchr(o->argv[i], '=');
        *eq = '\0';
        rm_error err;
        if (rm_library_set_tag(lib, id, o->argv[i], eq + 1, &err) != RM_OK)
            return cli_fail_error(CMD, &err);
    }
    return CLI_OK;
}

static int run_notes(rm_library *lib, library_options *o)
{
    int64_t id;
    rm_error err;
    if (resolve(lib, o->argv[0], &id) != CLI_OK)
        return CLI_FAILURE;
    if (rm_library_set_notes(lib, id, o->argv[1], &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    return CLI_OK;
}

static int run_name(rm_library *lib, library_options *o)
{
    rm_error err;
    if (rm_library_set_client_name(lib, o->argv[0],
                                   o->argc > 1 ? o->argv[1] : NULL, &err)
        != RM_OK)
        return cli_fail_error(CMD, &err);
    return CLI_OK;
}

static bool confirm_remove(const rm_library_entry *e, bool purge)
{
    char date[32];
    date_text(date, e->start_unix_us);
    fprintf(stderr, "Remove session %lld (%s, client %s, %s) from the "
            "library%s? [y/N] ", (long long)e->id, date, e->client,
            rm_side_name((rm_side)e->side),
            purge ? " AND DELETE ITS FILE" : "; the file is kept");
    char answer[16];
    return fgets(answer, sizeof answer, stdin) &&
           (answer[0] == 'y' || answer[0] == 'Y');
}

static int remove_one(rm_library *lib, const char *text, library_options *o)
{
    int64_t id;
    rm_library_entry *e;
    rm_error err;
    if (rm_library_resolve(lib, text, &id, &err) != RM_OK ||
        rm_library_get(lib, id, &e, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    bool go = o->yes || confirm_remove(e, o->purge);
    rm_library_entries_free(e, 1);
    if (!go) {
        fprintf(stderr, "kept session %lld\n", (long long)id);
        return CLI_OK;
    }
    if (rm_library_remove(lib, id, o->purge, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("removed %lld%s\n", (long long)id, o->purge ? " and its file" : "");
    return CLI_OK;
}

static int run_rm(rm_library *lib, library_options *o)
{
    if (!o->yes && !isatty(STDIN_FILENO))
        return cli_fail_usage(CMD, "rm: not asking without a terminal; add "
                              "--yes to remove");
    int status = CLI_OK;
    for (int i = 0; i < o->argc; i++)
        if (remove_one(lib, o->argv[i], o) != CLI_OK)
            status = CLI_FAILURE;
    return status;
}

/* ------------------------------------------------------------------------ */
/* check, reanalyse                                                         */
/* ------------------------------------------------------------------------ */

static const char *state_name(rm_library_file_state state)
{
    switch (state) {
    case RM_LIBRARY_FILE_MISSING: return "missing";
    case RM_LIBRARY_FILE_CHANGED: return "changed";
    case RM_LIBRARY_FILE_ELSEWHERE: return "elsewhere";
    default: return "ok";
    }
}

/* What check did with a session file that had no row. */
typedef struct unindexed_result {
    char *path;
    int64_t id;         /* 0: not added */
    char detail[600];
} unindexed_result;

/* An unclosed file written within RECORDING_RECENT_S is left alone. */
static bool being_recorded(const char *path, char *why, size_t cap)
{
    rm_session *s;
    rm_error err;
    struct stat sb;
    if (rm_session_open(&s, path, &err) != RM_OK)
        return false;   /* the add names what is wrong with it */
    bool unclosed = !rm_session_integrity(s)->closed_cleanly;
    rm_session_close(s);
    time_t age = stat(path, &sb) == 0 ? time(NULL) - sb.st_mtime : 0;
    if (!unclosed || age >= RECORDING_RECENT_S)
        return false;
    snprintf(why, cap, "not added: never closed and written %lld s ago, so "
             "probably still being recorded; rollmapd adds it when the "
             "session ends", (long long)age);
    return true;
}

static void add_unindexed(rm_library *lib, unindexed_result *r)
{
    rm_error err;
    if (being_recorded(r->path, r->detail, sizeof r->detail))
        return;
    if (rm_library_add(lib, r->path, &r->id, &err) != RM_OK)
        snprintf(r->detail, sizeof r->detail, "not added: %s", err.message);
    else
        snprintf(r->detail, sizeof r->detail, "was not in the library: "
                 "added as %lld", (long long)r->id);
}

/* The --folder options, or else rollmapd's default session folder (in
 * only[0], PATH_MAX bytes; none without a home folder). */
static const char *const *session_folders(const library_options *o,
                                          char fallback[PATH_MAX],
                                          const char **only, int *count)
{
    *count = o->folder_count;
    if (*count)
        return o->folders;
    rm_default_library_dir(fallback, PATH_MAX, NULL);
    only[0] = fallback;
    *count = fallback[0] ? 1 : 0;
    return only;
}

/* Lists the session files of one folder (all of them, or those without a
 * row). */
typedef rm_status (*folder_lister)(rm_library *lib, const char *folder,
                                   char ***out, size_t *n, rm_error *err);

static rm_status every_session_file(rm_library *lib, const char *folder,
                                    char ***out, size_t *n, rm_error *err)
{
    (void)lib;
    return rm_library_folder_sessions(folder, out, n, err);
}

/* What list finds in each of the folders, in one list; free with
 * rm_library_paths_free. */
static int folder_files(rm_library *lib, const library_options *o,
                        folder_lister list, char ***out, size_t *n)
{
    int count;
    char fallback[PATH_MAX];
    const char *only[1];
    const char *const *folders = session_folders(o, fallback, only, &count);
    *out = NULL;
    *n = 0;
    for (int f = 0; f < count; f++) {
        char **paths;
        size_t found;
        rm_error err;
        if (list(lib, folders[f], &paths, &found, &err) != RM_OK)
            return cli_fail_error(CMD, &err);
        char **grown = realloc(*out, (*n + found + 1) * sizeof *grown);
        if (!grown) {
            rm_library_paths_free(paths, found);
            return cli_fail(CMD, "out of memory");
        }
        *out = grown;
        memcpy(grown + *n, paths, found * sizeof *paths);
        *n += found;
        free(paths);  /* the paths now belong to *out */
    }
    return CLI_OK;
}

/* The session files of the folders that had no row, each added (or why
 * not). */
static int sweep_folders(rm_library *lib, const library_options *o,
                         unindexed_result **out, size_t *n)
{
    char **paths;
    int status = folder_files(lib, o, rm_library_unindexed, &paths, n);
    *out = status == CLI_OK ? calloc(*n + 1, sizeof **out) : NULL;
    if (status == CLI_OK && !*out)
        status = cli_fail(CMD, "out of memory");
    if (status != CLI_OK) {
        rm_library_paths_free(paths, *n);
        *n = 0;
        return status;
    }
    for (size_t i = 0; i < *n; i++) {
        (*out)[i] = (unindexed_result){.path = paths[i]};
        add_unindexed(lib, &(*out)[i]);
    }
    free(paths);  /* the paths now belong to the results */
    return CLI_OK;
}

static void unindexed_free(unindexed_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].path);
    free(r);
}

static void check_json(const rm_library_check_item *items, size_t n,
                       bool stored, const unindexed_result *found,
                       size_t n_found)
{
    rm_json_writer w;
    rm_json_begin(&w, stdout, true);
    rm_json_array_open(&w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(&w);
        rm_json_member_int(&w, "id", items[i].id);
        rm_json_member_string(&w, "session_id", items[i].session_id);
        rm_json_member_string(&w, "path", items[i].path);
        rm_json_member_string(&w, "state", state_name(items[i].state));
        rm_json_member_string(&w, "detail", items[i].detail);
        if (stored) {
            rm_json_member_bool(&w, "stored_damaged", items[i].stored_damaged);
            rm_json_member_string(&w, "stored_detail", items[i].stored_detail);
            rm_json_member_bool(&w, "stored_repaired",
                                items[i].stored_repaired);
            rm_json_member_string(&w, "repair_detail",
                                  items[i].repair_detail);
        }
        rm_json_object_close(&w);
    }
    for (size_t i = 0; i < n_found; i++) {
        rm_json_object_open(&w);
        rm_json_member_int(&w, "id", found[i].id);
        rm_json_member_string(&w, "path", found[i].path);
        rm_json_member_string(&w, "state", found[i].id ? "added" : "not-indexed");
        rm_json_member_string(&w, "detail", found[i].detail);
        rm_json_object_close(&w);
    }
    rm_json_array_close(&w);
    rm_json_end(&w);
}

static size_t print_unindexed(const unindexed_result *found, size_t n)
{
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        added += found[i].id != 0;
        printf("%lld\t%s\t%s\t%s\n", (long long)found[i].id,
               found[i].id ? "added" : "not-indexed", found[i].path,
               found[i].detail);
    }
    return added;
}

/* What check found among the indexed sessions. */
typedef struct check_counts {
    size_t missing, changed, elsewhere, damaged, repaired;
} check_counts;

/* Counts the item and, without --json, prints its lines. */
static void take_item(const rm_library_check_item *item, bool json,
                      check_counts *c)
{
    c->missing += item->state == RM_LIBRARY_FILE_MISSING;
    c->changed += item->state == RM_LIBRARY_FILE_CHANGED;
    c->elsewhere += item->state == RM_LIBRARY_FILE_ELSEWHERE;
    c->damaged += item->stored_damaged;
    c->repaired += item->stored_repaired;
    if (json)
        return;
    if (item->state == RM_LIBRARY_FILE_MISSING ||
        item->state == RM_LIBRARY_FILE_CHANGED)
        printf("%lld\t%s\t%s\t%s\n", (long long)item->id,
               state_name(item->state), item->path, item->detail);
    if (item->stored_damaged)
        printf("%lld\t%s\t%s\t%s; %s\n", (long long)item->id,
               item->stored_repaired ? "repaired-in-database"
                                     : "damaged-in-database",
               item->path, item->stored_detail, item->repair_detail);
}

static void print_check_summary(rm_library *lib, const library_options *o,
                                size_t n, const check_counts *c,
                                size_t n_found, size_t added)
{
    printf("%zu sessions checked%s: %zu missing, %zu changed", n,
           o->hash ? " with content" : "", c->missing, c->changed);
    if (rm_library_stores_data(lib))
        printf(", %zu on other machines (their bytes in the database)",
               c->elsewhere);
    if (o->hash && rm_library_stores_data(lib))
        printf(", %zu damaged in the database: %zu repaired", c->damaged,
               c->repaired);
    printf("; %zu files not in the library: %zu added\n", n_found, added);
}

static int run_check(rm_library *lib, library_options *o)
{
    rm_library_check_item *items;
    unindexed_result *found = NULL;
    size_t n, n_found = 0;
    check_counts counts = {0};
    rm_error err;
    if (rm_library_verify(lib, true, &err) != RM_OK ||
        rm_library_check(lib, &o->filter, o->hash, &items, &n, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    int status = sweep_folders(lib, o, &found, &n_found);
    for (size_t i = 0; status == CLI_OK && i < n; i++) {
        rm_library_repair_stored(lib, &items[i], NULL);
        take_item(&items[i], o->json, &counts);
    }
    bool stored = o->hash && rm_library_stores_data(lib);
    if (status == CLI_OK && o->json)
        check_json(items, n, stored, found, n_found);
    else if (status == CLI_OK)
        print_check_summary(lib, o, n, &counts, n_found,
                            print_unindexed(found, n_found));
    rm_library_check_items_free(items, n);
    unindexed_free(found, n_found);
    if (status != CLI_OK)
        return status;
    return counts.missing || counts.changed || counts.damaged || n_found
               ? CLI_FAILURE
               : CLI_OK;
}

/* The bar on a terminal, and the failures to name when it is done. */
typedef struct progress_bar {
    uint64_t start_us;
    bool tty, shown;
    size_t total;
    char **failures;
    size_t failure_count;
} progress_bar;

static void keep_failure(progress_bar *bar, const rm_error *failure)
{
    char **grown = realloc(bar->failures,
                           (bar->failure_count + 1) * sizeof *grown);
    char *copy = strdup(failure->message);
    if (!grown || !copy) {
        free(copy);
        cli_fail_error(CMD, failure);  /* named now rather than lost */
        if (grown)
            bar->failures = grown;
        return;
    }
    bar->failures = grown;
    bar->failures[bar->failure_count++] = copy;
}

static void draw_progress(size_t done, size_t total, const rm_error *failure,
                          void *user)
{
    progress_bar *bar = user;
    bar->total = total;
    if (failure)
        keep_failure(bar, failure);
    if (!bar->tty || rm_monotonic_us() - bar->start_us < PROGRESS_AFTER_US)
        return;
    int filled = total ? (int)(PROGRESS_WIDTH * done / total) : PROGRESS_WIDTH;
    fprintf(stderr, "\rreanalysing [%-*.*s] %zu/%zu", PROGRESS_WIDTH, filled,
            "##############################", done, total);
    bar->shown = true;
}

/* After the bar: each failure on a line of its own. */
static void name_failures(progress_bar *bar)
{
    if (bar->shown)
        fputc('\n', stderr);
    for (size_t i = 0; i < bar->failure_count; i++) {
        cli_fail(CMD, "%s", bar->failures[i]);
        free(bar->failures[i]);
    }
    free(bar->failures);
}

/* The matching sessions whose files changed since they were indexed,
 * listed on standard error; -1 when the check itself failed. */
static long list_changed(rm_library *lib, const library_options *o)
{
    rm_library_check_item *items;
    size_t n, changed = 0;
    rm_error err;
    if (rm_library_check(lib, &o->filter, false, &items, &n, &err) != RM_OK) {
        cli_fail_error(CMD, &err);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].state == RM_LIBRARY_FILE_CHANGED)
            fprintf(stderr, "%s%lld\tchanged\t%s\t%s\n",
                    changed++ ? "" : "changed since they were indexed:\n",
                    (long long)items[i].id, items[i].path, items[i].detail);
    rm_library_check_items_free(items, n);
    return (long)changed;
}

/* A file that changed since it was indexed may have been damaged or cut
 * short: its rows are replaced only when the user says so (a terminal) or
 * with --force. Without either, nothing is reanalysed. */
static int confirm_changed(rm_library *lib, library_options *o)
{
    long changed = o->force ? 0 : list_changed(lib, o);
    if (changed <= 0)
        return changed < 0 ? CLI_FAILURE : CLI_OK;
    if (!isatty(STDIN_FILENO))
        return cli_fail(CMD, "%ld files changed since they were indexed "
                        "(listed above): nothing was reanalysed. Look at "
                        "them (rollmap library check, rollmap info FILE) "
                        "and add --force to analyse them as they are now",
                        changed);
    fprintf(stderr, "Replace the stored analysis of these %ld changed files "
            "with what they hold now? [y/N] ", changed);
    char answer[16];
    o->force = fgets(answer, sizeof answer, stdin) &&
               (answer[0] == 'y' || answer[0] == 'Y');
    if (!o->force)
        fprintf(stderr, "keeping their rows; reanalysing the others\n");
    return CLI_OK;
}

static int run_reanalyse(rm_library *lib, library_options *o)
{
    if (confirm_changed(lib, o) != CLI_OK)
        return CLI_FAILURE;
    progress_bar bar = {.start_us = rm_monotonic_us(),
                        .tty = isatty(STDERR_FILENO) != 0};
    rm_library_reanalyse_options opt;
    rm_library_reanalyse_options_default(&opt);
    opt.force = o->force;
    opt.jobs = o->jobs;
    opt.progress = draw_progress;
    opt.user = &bar;
    size_t done = 0, failed = 0;
    rm_error err;
    rm_status st = rm_library_reanalyse(lib, &o->filter, &opt, &done, &failed,
                                        &err);
    name_failures(&bar);
    size_t not_reached = bar.total - done - failed;
    printf("reanalysed %zu sessions, %zu failed", done, failed);
    if (not_reached)
        printf(", %zu not reached (the run stopped at the database error "
               "above)", not_reached);
    putchar('\n');
    if (st != RM_OK && failed == 0)
        return cli_fail_error(CMD, &err);
    return st == RM_OK ? CLI_OK : CLI_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* rebuild                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether the database may be rebuilt: it is damaged (the check says so)
 * or --force; a database that does not exist has nothing to move. */
static int may_rebuild(const library_options *o, bool *exists)
{
    *exists = access(o->db, F_OK) == 0;
    if (!*exists || o->force)
        return CLI_OK;
    rm_library *lib;
    rm_error err;
    rm_status st = rm_library_open(&lib, o->db, &err);
    if (st == RM_OK) {
        st = rm_library_verify(lib, true, &err);
        rm_library_close(lib);
    }
    if (st == RM_ERR_FORMAT)
        return CLI_OK;
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    return cli_fail(CMD, "%s is not damaged: rebuilding would lose its tags, "
                    "notes and client names; add --force to rebuild anyway",
                    o->db);
}

static size_t add_all(rm_library *lib, char *const *paths, size_t n,
                      size_t *failed)
{
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        rm_library_add_outcome outcome;
        rm_error err;
        if (rm_library_add_ex(lib, paths[i], NULL, &id, &outcome, &err) != RM_OK) {
            cli_fail_error(CMD, &err);
            ++*failed;
            continue;
        }
        added += outcome == RM_LIBRARY_ADDED;
        printf("%lld\t%s\t%s\n", (long long)id, outcome_name(outcome),
               paths[i]);
    }
    return added;
}

/* The session files of the folders, then the FILE arguments. */
static int fill_library(rm_library *lib, const library_options *o,
                        size_t *added, size_t *failed)
{
    char fallback[PATH_MAX];
    const char *only[1];
    int count;
    const char *const *folders = session_folders(o, fallback, only, &count);
    for (int f = 0; f < count; f++) {
        char **paths;
        size_t n;
        rm_error err;
        if (rm_library_folder_sessions(folders[f], &paths, &n, &err) != RM_OK)
            return cli_fail_error(CMD, &err);
        *added += add_all(lib, paths, n, failed);
        rm_library_paths_free(paths, n);
    }
    *added += add_all(lib, o->argv, (size_t)o->argc, failed);
    return CLI_OK;
}

static int run_rebuild(library_options *o)
{
    const char *file;
    if (rm_library_target_kind(o->db, &file) != RM_LIBRARY_SQLITE)
        return cli_fail(CMD, "rebuild moves a damaged SQLite file aside; a "
                        "PostgreSQL library is restored from the server's "
                        "backups (docs/CLINIC.md)");
    memmove(o->db, file, strlen(file) + 1);  /* sqlite:PATH: the file */
    bool exists;
    int status = may_rebuild(o, &exists);
    char moved[PATH_MAX + 32] = "";
    rm_error err;
    if (status == CLI_OK && exists &&
        rm_library_move_aside(o->db, moved, sizeof moved, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_library *lib;
    if (status != CLI_OK || rm_library_open(&lib, o->db, &err) != RM_OK)
        return status != CLI_OK ? status : cli_fail_error(CMD, &err);
    size_t added = 0, failed = 0;
    status = fill_library(lib, o, &added, &failed);
    rm_library_close(lib);
    printf("rebuilt %s: %zu sessions added, %zu files failed%s%s\n", o->db,
           added, failed, moved[0] ? "; the old database is kept as " : "",
           moved);
    return status == CLI_OK && failed == 0 ? CLI_OK : CLI_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* migrate                                                                  */
/* ------------------------------------------------------------------------ */

/* Opening migrated it: this says where it stands. */
static int run_migrate(rm_library *lib, library_options *o)
{
    (void)o;
    int version = 0;
    rm_error err;
    if (rm_library_schema_version(lib, &version, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("%s: %s library, schema version %d (current)\n",
           rm_library_path(lib), rm_library_backend_name(lib), version);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* sync                                                                     */
/* ------------------------------------------------------------------------ */

/* The FILEs, or the session files of the folders; free with
 * rm_library_paths_free. */
static int sync_candidates(rm_library *lib, const library_options *o,
                           char ***out, size_t *n)
{
    if (!o->argc)
        return folder_files(lib, o, every_session_file, out, n);
    *n = 0;
    if (!(*out = calloc((size_t)o->argc, sizeof **out)))
        return cli_fail(CMD, "out of memory");
    for (int i = 0; i < o->argc; i++)
        if (!((*out)[(*n)++] = strdup(o->argv[i])))
            return cli_fail(CMD, "out of memory");
    return CLI_OK;
}

/* Add the file (unless its recording is still going on) and upload it. */
static rm_status push_one(rm_library *lib, const char *path,
                          rm_library_upload *u, rm_error *err)
{
    char recording[600];
    rm_status st = RM_OK;
    if (!being_recorded(path, recording, sizeof recording))
        st = rm_library_add(lib, path, NULL, err);
    return st == RM_OK ? rm_library_upload_session(lib, path, u, err) : st;
}

/* One line of the queue: "pending|uploaded|failed|error TAB session TAB
 * path TAB detail". */
static bool sync_one(rm_library *lib, const char *path, bool dry_run)
{
    rm_library_upload_state state;
    rm_library_upload u;
    rm_error err;
    if (rm_library_upload_state_get(lib, path, &state, &err) != RM_OK) {
        printf("failed\t-\t%s\t%s\n", path, err.message);
        return false;
    }
    if (!state.pending)
        return true;
    if (dry_run) {
        printf("pending\t%s\t%s\t%llu bytes here, %llu in the database\n",
               state.session_id, path,
               (unsigned long long)state.local_bytes,
               (unsigned long long)state.stored_bytes);
        return true;
    }
    if (push_one(lib, path, &u, &err) != RM_OK) {
        printf("failed\t%s\t%s\t%s\n", state.session_id, path, err.message);
        return false;
    }
    printf("uploaded\t%s\t%s\t%llu bytes: %zu chunks sent, %zu there "
           "already\n", u.session_id, path, (unsigned long long)u.bytes,
           u.chunks_sent, u.chunks_kept);
    return true;
}

static int run_sync(rm_library *lib, library_options *o)
{
    if (!rm_library_stores_data(lib)) {
        printf("%s: an SQLite library keeps no session data (the session "
               "files are the data); nothing to sync\n", rm_library_path(lib));
        return CLI_OK;
    }
    char **paths;
    size_t n;
    int status = sync_candidates(lib, o, &paths, &n);
    size_t failed = 0;
    for (size_t i = 0; status == CLI_OK && i < n; i++)
        failed += !sync_one(lib, paths[i], o->dry_run);
    rm_library_paths_free(paths, n);
    if (status == CLI_OK && failed)
        return cli_fail(CMD, "%zu of %zu session files not uploaded (see "
                        "above); run sync again when the cause is fixed",
                        failed, n);
    return status;
}

/* ------------------------------------------------------------------------ */
/* copy                                                                     */
/* ------------------------------------------------------------------------ */

/* A line on standard error for each session the copy wrote something of
 * or could not read the data of; on a terminal, also a count. */
static void copy_progress(void *user, const rm_library_copied *c)
{
    const bool *tty = user;
    const rm_library_entry *e = c->entry;
    char started[32];
    date_text(started, e->start_unix_us);
    if (c->problem[0])
        fprintf(stderr, "%scopy: %zu/%zu %s %s %s: its data was not copied: "
                "%s\n", *tty ? "\r" : "", c->done, c->total, e->session_id,
                e->client, started, c->problem);
    else if (c->rows_written || c->data_written)
        fprintf(stderr, "%scopy: %zu/%zu %s %s %s: %s%s%s\n",
                *tty ? "\r" : "", c->done, c->total, e->session_id, e->client,
                started, c->rows_written ? "rows" : "",
                c->rows_written && c->data_written ? " and " : "",
                c->data_written ? "data" : "");
    else if (*tty)
        fprintf(stderr, "\rcopy: %zu/%zu", c->done, c->total);
}

static rm_status open_pair(const library_options *o, rm_library **from,
                           rm_library **to, rm_error *err)
{
    *to = NULL;
    rm_status st = rm_library_open(from, o->from, err);
    if (st == RM_OK && (st = rm_library_open(to, o->to, err)) != RM_OK)
        rm_library_close(*from);
    return st;
}

static int run_copy(library_options *o)
{
    if (!o->from || !o->to || o->folder_count > 1)
        return cli_fail_usage(CMD, "usage: rollmap library copy --from URI "
                              "--to URI [--folder DIR]");
    char folder[PATH_MAX];
    rm_error err;
    if (o->folder_count)
        snprintf(folder, sizeof folder, "%s", o->folders[0]);
    else if (rm_default_library_dir(folder, sizeof folder, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    const char *file;
    if (rm_library_target_kind(o->from, &file) == RM_LIBRARY_SQLITE &&
        access(file, F_OK) != 0)
        return cli_fail(CMD, "--from %s: no library there", o->from);
    rm_library *from, *to;
    if (open_pair(o, &from, &to, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    bool tty = isatty(STDERR_FILENO) != 0;
    rm_library_copy_totals t;
    rm_status st = rm_library_copy(from, to, folder, copy_progress, &tty, &t,
                                   &err);
    if (tty && t.sessions)
        fputc('\n', stderr);
    printf("%s -> %s: %zu sessions, rows written for %zu, data for %zu, "
           "%zu without data; %zu client names written\n",
           rm_library_path(from), rm_library_path(to), t.sessions,
           t.rows_written, t.data_written, t.data_missing, t.names_written);
    rm_library_close(from);
    rm_library_close(to);
    if (st != RM_OK)
        return cli_fail(CMD, "%s (run the copy again: it goes on from "
                        "there)", err.message);
    return t.data_missing ? CLI_FAILURE : CLI_OK;
}

/* ------------------------------------------------------------------------ */

static const subcommand subcommands[] = {
    {"add", "FILE...", 0, 1, -1, run_add, NULL},
    {"list", "", OPT_FILTER | OPT_FORMAT | OPT_JSON | OPT_NAMES, 0, 0, run_list,
     NULL},
    {"show", "ID", OPT_JSON, 1, 1, run_show, NULL},
    {"set", "ID... [--client CODE] [--side left|right] [--muscle NAME] "
            "[--notes TEXT]", OPT_META, 1, -1, run_set, NULL},
    {"tag", "ID KEY=VALUE...", 0, 2, -1, run_tag, NULL},
    {"notes", "ID TEXT", 0, 2, 2, run_notes, NULL},
    {"name", "CLIENT [NAME]", 0, 1, 2, run_name, NULL},
    {"rm", "ID...", OPT_REMOVE, 1, -1, run_rm, NULL},
    {"check", "", OPT_FILTER | OPT_JSON | OPT_HASH | OPT_FOLDER, 0, 0,
     run_check, NULL},
    {"reanalyse", "", OPT_FILTER | OPT_FORCE | OPT_JOBS, 0, 0, run_reanalyse,
     NULL},
    {"rebuild", "[--folder DIR]... [FILE...] [--force]",
     OPT_FOLDER | OPT_FORCE, 0, -1, NULL, run_rebuild},
    {"migrate", "", 0, 0, 0, run_migrate, NULL},
    {"sync", "[--folder DIR]... [FILE...] [--dry-run]",
     OPT_FOLDER | OPT_DRY_RUN, 0, -1, run_sync, NULL},
    {"copy", "--from URI --to URI [--folder DIR]", OPT_COPY | OPT_FOLDER, 0,
     0, NULL, run_copy},
};
#define SUBCOMMAND_COUNT (sizeof subcommands / sizeof subcommands[0])

static const subcommand *find_subcommand(int argc, char **argv,
                                         const char **name)
{
    /* the first argument that is neither an option nor an option's value */
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            i += takes_next_value(argv[i]);
            continue;
        }
        *name = argv[i];
        for (size_t k = 0; k < SUBCOMMAND_COUNT; k++)
            if (!strcmp(subcommands[k].name, argv[i]))
                return &subcommands[k];
        return NULL;
    }
    *name = NULL;
    return NULL;
}

static int check_usage(const subcommand *sub, const library_options *o)
{
    unsigned extra = o->given & ~sub->options;
    if (extra)
        return cli_fail_usage(CMD, "%s: option not accepted here (see "
                              "rollmap library --help)", sub->name);
    if (o->argc < sub->min_args ||
        (sub->max_args >= 0 && o->argc > sub->max_args) ||
        ((sub->options & OPT_META) && !(o->given & OPT_META)))
        return cli_fail_usage(CMD, "usage: rollmap library %s %s",
                              sub->name, sub->args);
    return CLI_OK;
}

static int open_and_run(const subcommand *sub, library_options *o)
{
    rm_error err;
    if (!o->db[0] && rm_default_library_db(o->db, sizeof o->db, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    if (sub->run_unopened)
        return sub->run_unopened(o);
    rm_library *lib;
    if (rm_library_open(&lib, o->db, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    int status = sub->run(lib, o);
    rm_library_close(lib);
    return status;
}

int cmd_library(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_OK;
    }
    const char *name;
    const subcommand *sub = find_subcommand(argc, argv, &name);
    if (!sub) {
        if (name)
            cli_fail(CMD, "unknown subcommand '%s'", name);
        else
            cli_fail(CMD, "no subcommand given");
        usage(stderr);
        return CLI_USAGE;
    }
    library_options o = {.setting_meta = (sub->options & OPT_META) != 0};
    int status = parse_all(argc, argv, name, &o);
    if (status == CLI_OK)
        status = check_usage(sub, &o);
    if (status == CLI_OK)
        status = open_and_run(sub, &o);
    free(o.argv);
    return status;
}
