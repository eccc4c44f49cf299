/* rollmap library: the session library (add, list, show, set, tag, rm,
 * check, reanalyse, name, notes). docs/LIBRARY.md, rollmap-library(1). */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    OPT_META = 1 << 6     /* set: --client --side --muscle --notes */
};

typedef struct library_options {
    char db[PATH_MAX];
    rm_library_filter filter;
    unsigned given;        /* OPT_* bits of the options used */
    bool json, csv, yes, purge, hash, names;
    bool setting_meta;     /* set: --client --side --muscle are META */
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
"       rollmap library check [FILTER] [--hash] [--json]\n"
"       rollmap library reanalyse [FILTER]\n"
"Every form takes --db PATH.\n\n"
"The library indexes session files in one SQLite database: client,\n"
"date, device, side, muscle, tags, notes, the analysis summary, dwells\n"
"and tender spots. Raw samples stay in the session files. ID is the\n"
"library id that add and list print, a session id or an added file.\n\n"
"  add        index session files (again: only if they changed)\n"
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
"             added (size; content where the mtime moved; --hash: every\n"
"             file's content); exit 1 if any\n"
"  reanalyse  analyse the sessions again from their files (after a\n"
"             detector change), with a progress bar on a terminal\n\n"
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
"  --db PATH         the database (default $XDG_DATA_HOME/rollmap/library.db)\n"
"  --json, --csv     machine-readable output\n"
"  --names           list: add client display names\n"
"  --hash            check: compare every file's content checksum\n"
"  -y, --yes         rm: do not ask\n"
"  --purge           rm: also delete the session file\n"
"  -h, --help        this help\n\n"
"Examples:\n"
"  rollmap library add sessions/*.rms\n"
"  rollmap library list --client C-017 --side left --last 5\n"
"  rollmap library set 12 13 --client C-017 --side left\n"
"  rollmap library tag 12 phase=rehab\n", out);
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
    case 'd':
        if (strlen(arg) >= sizeof o->db)
            return cli_fail_usage(CMD, "--db: path too long");
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
    default: return 0;
    }
}

static const struct option longopts[] = {
    {"db", required_argument, NULL, 'd'},
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
        putchar('\n');
    }
}

static void list_csv(const rm_library_entry *e, size_t n, bool names)
{
    printf("id,session_id,start,client,%sside,muscle,duration_s,"
           "time_under_load_s,mean_force_n,peak_force_n,cadence_per_min,"
           "dwells,spots,spot_score_total,spot_score_max,tags,path\n",
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
        csv_field(stdout, e[i].path, true);
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

/* Every file is tried; the exit status says whether all went in. */
static int run_add(rm_library *lib, library_options *o)
{
    int status = CLI_OK;
    for (int i = 0; i < o->argc; i++) {
        int64_t id;
        rm_library_add_outcome outcome;
        rm_error err;
        if (rm_library_add_ex(lib, o->argv[i], NULL, &id, &outcome, &err)
            != RM_OK) {
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
    default: return "ok";
    }
}

static void check_json(const rm_library_check_item *items, size_t n)
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
        rm_json_object_close(&w);
    }
    rm_json_array_close(&w);
    rm_json_end(&w);
}

static int run_check(rm_library *lib, library_options *o)
{
    rm_library_check_item *items;
    size_t n, missing = 0, changed = 0;
    rm_error err;
    if (rm_library_check(lib, &o->filter, o->hash, &items, &n, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    for (size_t i = 0; i < n; i++) {
        missing += items[i].state == RM_LIBRARY_FILE_MISSING;
        changed += items[i].state == RM_LIBRARY_FILE_CHANGED;
        if (!o->json && items[i].state != RM_LIBRARY_FILE_OK)
            printf("%lld\t%s\t%s\t%s\n", (long long)items[i].id,
                   state_name(items[i].state), items[i].path, items[i].detail);
    }
    if (o->json)
        check_json(items, n);
    else
        printf("%zu sessions checked%s: %zu missing, %zu changed\n", n,
               o->hash ? " with content" : "", missing, changed);
    rm_library_check_items_free(items, n);
    return missing || changed ? CLI_FAILURE : CLI_OK;
}

typedef struct progress_bar {
    uint64_t start_us;
    bool tty, shown;
} progress_bar;

static void draw_progress(size_t done, size_t total, void *user)
{
    progress_bar *bar = user;
    if (!bar->tty || rm_monotonic_us() - bar->start_us < PROGRESS_AFTER_US)
        return;
    int filled = total ? (int)(PROGRESS_WIDTH * done / total) : PROGRESS_WIDTH;
    fprintf(stderr, "\rreanalysing [%-*.*s] %zu/%zu", PROGRESS_WIDTH, filled,
            "##############################", done, total);
    bar->shown = true;
}

static int run_reanalyse(rm_library *lib, library_options *o)
{
    progress_bar bar = {rm_monotonic_us(), isatty(STDERR_FILENO) != 0, false};
    size_t done = 0, failed = 0;
    rm_error err;
    rm_status st = rm_library_reanalyse(lib, &o->filter, NULL, draw_progress,
                                        &bar, &done, &failed, &err);
    if (bar.shown)
        fputc('\n', stderr);
    printf("reanalysed %zu sessions, %zu failed\n", done, failed);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */

static const subcommand subcommands[] = {
    {"add", "FILE...", 0, 1, -1, run_add},
    {"list", "", OPT_FILTER | OPT_FORMAT | OPT_JSON | OPT_NAMES, 0, 0, run_list},
    {"show", "ID", OPT_JSON, 1, 1, run_show},
    {"set", "ID... [--client CODE] [--side left|right] [--muscle NAME] "
            "[--notes TEXT]", OPT_META, 1, -1, run_set},
    {"tag", "ID KEY=VALUE...", 0, 2, -1, run_tag},
    {"notes", "ID TEXT", 0, 2, 2, run_notes},
    {"name", "CLIENT [NAME]", 0, 1, 2, run_name},
    {"rm", "ID...", OPT_REMOVE, 1, -1, run_rm},
    {"check", "", OPT_FILTER | OPT_JSON | OPT_HASH, 0, 0, run_check},
    {"reanalyse", "", OPT_FILTER, 0, 0, run_reanalyse},
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
    if (!o->db[0] && rm_library_default_db(o->db, sizeof o->db, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
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
