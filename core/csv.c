/*
 * CSV export of sessions and the CSV importer (docs/FORMAT.md).
 *
 * Export writes '#' comment lines with the metadata, device and channel
 * calibration, then one row per sample. The importer reads rows whose
 * header names the columns, turning newtons back into counts through the
 * inverse calibration and position_cm into encoder counts.
 */
#include "session_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_CHUNK 4096         /* samples read per rm_session_read */
#define RATE_ESTIMATE_ROWS 64     /* rows whose time steps set the rate */
#define GENERIC_GAIN_N 0.001      /* 1 mN per count: finer than any export */
#define GENERIC_ENCODER_COUNTS 4096 /* a 12-bit magnetic angle encoder */
#define GENERIC_DIAMETER_MM 150.0f  /* a standard foam roller */
#define GENERIC_WIDTH_MM 330.0f
#define INVERSE_ITERATIONS 50
#define NEWTONS_PER_KG 9.80665      /* standard gravity (CGPM 1901) */
#define NEWTONS_PER_LBF 4.4482216152605 /* the international pound-force */

/* ------------------------------------------------------------------------ */
/* Geometry and calibration                                                 */
/* ------------------------------------------------------------------------ */

/* Centimetres along the leg per encoder count (0 without an encoder). */
static double cm_per_count(const rm_device_info *info)
{
    if (!info->encoder_counts_per_turn || info->roller_diameter_mm <= 0)
        return 0;
    int direction = info->distal_direction < 0 ? -1 : 1;
    return direction * M_PI * info->roller_diameter_mm / 10.0 /
           info->encoder_counts_per_turn;
}

/* Counts whose calibrated force is newtons (Newton's method on the
 * calibration polynomial, from the linear solution). */
static bool counts_for_newtons(const rm_channel_info *ch, double newtons,
                               double *counts)
{
    const double *c = ch->cal.coef;
    if (c[1] == 0)
        return false;
    double x = (newtons - c[0]) / c[1];
    for (int i = 0; i < INVERSE_ITERATIONS && (c[2] != 0 || c[3] != 0); i++) {
        double f = c[0] + x * (c[1] + x * (c[2] + x * c[3])) - newtons;
        double slope = c[1] + x * (2 * c[2] + x * 3 * c[3]);
        if (slope == 0)
            return false;
        x -= f / slope;
    }
    *counts = x + ch->cal.tare_counts;
    return isfinite(*counts);
}

/* Load cells sit in the end caps of a roller: two cells at 0 and the full
 * width, one in the middle, more spread evenly from end to end. */
static float generic_cell_position_mm(unsigned cell, unsigned cells)
{
    if (cells < 2)
        return GENERIC_WIDTH_MM / 2;
    return GENERIC_WIDTH_MM * (float)cell / (float)(cells - 1);
}

void rm_device_info_generic(rm_device_info *info, unsigned channels,
                            uint32_t rate_hz, bool has_encoder)
{
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "generic-csv");
    info->device_kind = has_encoder ? RM_DEVICE_ROLLER : RM_DEVICE_PROBE;
    info->sample_rate_hz = rate_hz;
    info->channel_count = (uint8_t)(channels < RM_MAX_CHANNELS ? channels : RM_MAX_CHANNELS);
    info->roller_width_mm = GENERIC_WIDTH_MM;
    info->distal_direction = 1;
    for (unsigned i = 0; i < info->channel_count; i++) {
        rm_channel_info *ch = &info->channels[i];
        ch->kind = RM_CHANNEL_LOAD_CELL;
        ch->position_mm = generic_cell_position_mm(i, info->channel_count);
        ch->gain_n_per_count = (float)GENERIC_GAIN_N;
    }
    rm_device_info_default_calibration(info);
    for (unsigned i = 0; i < info->channel_count; i++) {
        info->channels[i].cal.coef[1] = GENERIC_GAIN_N; /* exact, not the float */
        snprintf(info->channels[i].cal.origin, sizeof info->channels[i].cal.origin,
                 "generic");
    }
    if (has_encoder) {
        info->encoder_counts_per_turn = GENERIC_ENCODER_COUNTS;
        info->roller_diameter_mm = GENERIC_DIAMETER_MM;
    }
}

/* ------------------------------------------------------------------------ */
/* Export                                                                   */
/* ------------------------------------------------------------------------ */

/* Text with newlines and backslashes escaped, to keep a comment one line. */
static void print_escaped(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\\')
            fputs("\\\\", out);
        else if (*p != '\r')
            fputc(*p, out);
    }
}

static void print_time(FILE *out, uint64_t t_us)
{
    fprintf(out, "%llu.%06llu", (unsigned long long)(t_us / 1000000),
            (unsigned long long)(t_us % 1000000));
}

static void export_metadata(FILE *out, const rm_session_meta *m)
{
    char start[32];
    rm_format_iso8601(start, m->start_unix_us);
    fputs("# rollmap session export (docs/FORMAT.md)\n", out);
    fprintf(out, "# session_id: %s\n# client: ", m->session_id);
    print_escaped(out, m->client);
    fprintf(out, "\n# side: %s\n# muscle: ", rm_side_name((rm_side)m->side));
    print_escaped(out, m->muscle);
    fprintf(out, "\n# start: %s\n# start_unix_us: %lld\n# notes: ",
            m->start_unix_us ? start : "unknown", (long long)m->start_unix_us);
    print_escaped(out, m->notes);
    fputc('\n', out);
}

static void export_device(FILE *out, const rm_device_info *d)
{
    fputs("# device: ", out);
    print_escaped(out, d->model);
    fputs(" firmware ", out);
    print_escaped(out, d->firmware);
    fputs(" serial ", out);
    print_escaped(out, d->serial);
    fprintf(out, "\n# sample_rate_hz: %u\n", d->sample_rate_hz);
    if (cm_per_count(d) != 0)
        fprintf(out, "# encoder: %u counts/turn, roller %.1f mm, position_cm = "
                "encoder * %.9g\n", d->encoder_counts_per_turn,
                d->roller_diameter_mm, cm_per_count(d));
    for (unsigned i = 0; i < d->channel_count; i++) {
        const rm_channel_info *ch = &d->channels[i];
        const double *c = ch->cal.coef;
        fprintf(out, "# ch%u: %s at %.1f mm, N = %.9g + %.9g x + %.9g x^2 + "
                "%.9g x^3, x = counts - %.9g (%s)\n", i,
                ch->kind == RM_CHANNEL_PRESSURE_CELL ? "pressure cell" : "load cell",
                ch->position_mm, c[0], c[1], c[2], c[3], ch->cal.tare_counts,
                ch->cal.origin[0] ? ch->cal.origin : "unknown");
    }
}

static void export_gaps_and_events(FILE *out, const rm_session *s)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(s, &n);
    for (size_t i = 0; i < n; i++) {
        fputs("# gap: ", out);
        print_time(out, gaps[i].start_us);
        fputs(" to ", out);
        print_time(out, gaps[i].end_us);
        fprintf(out, " s, %llu samples lost (%s)\n",
                (unsigned long long)gaps[i].lost_samples,
                rm_gap_reason_name((rm_gap_reason)gaps[i].reason));
    }
    const rm_event *events = rm_session_events(s, &n);
    for (size_t i = 0; i < n; i++) {
        fputs("# event: ", out);
        print_time(out, events[i].t_us);
        fprintf(out, " s %s %d ", rm_event_kind_name((rm_event_kind)events[i].kind),
                events[i].value);
        print_escaped(out, events[i].text);
        fputc('\n', out);
    }
}

static void export_column_names(FILE *out, const rm_device_info *d)
{
    fputs("t_s", out);
    for (unsigned i = 0; i < d->channel_count; i++)
        fprintf(out, ",ch%u_N", i);
    for (unsigned i = 0; i < d->channel_count; i++)
        fprintf(out, ",ch%u_counts", i);
    fputs(",encoder", out);
    if (cm_per_count(d) != 0)
        fputs(",position_cm", out);
    fputs(",mark\n", out);
}

static void export_row(FILE *out, const rm_device_info *d, const rm_sample *s)
{
    print_time(out, s->t_us);
    for (unsigned i = 0; i < d->channel_count; i++)
        fprintf(out, ",%.4f", rm_channel_newtons(&d->channels[i], s->counts[i]));
    for (unsigned i = 0; i < d->channel_count; i++)
        fprintf(out, ",%d", s->counts[i]);
    fprintf(out, ",%d", s->encoder);
    if (cm_per_count(d) != 0)
        fprintf(out, ",%.3f", s->encoder * cm_per_count(d));
    fprintf(out, ",%d\n", (s->flags & RM_SAMPLE_MARK) ? 1 : 0);
}

rm_status rm_session_export_csv(rm_session *s, FILE *out, rm_error *err)
{
    const rm_device_info *d = rm_session_device(s);
    export_metadata(out, rm_session_meta_of(s));
    export_device(out, d);
    export_gaps_and_events(out, s);
    export_column_names(out, d);
    rm_sample *buf = malloc(EXPORT_CHUNK * sizeof *buf);
    if (!buf)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", s->path);
    rm_status st = RM_OK;
    uint64_t at = 0, count = rm_session_sample_count(s);
    while (st == RM_OK && at < count) {
        size_t got = 0;
        st = rm_session_read(s, at, buf, EXPORT_CHUNK, &got, err);
        for (size_t i = 0; i < got; i++)
            export_row(out, d, &buf[i]);
        at += got;
    }
    free(buf);
    if (st == RM_OK && (fflush(out) != 0 || ferror(out)))
        st = rm_error_set(err, RM_ERR_IO, "writing the CSV failed: %s",
                          strerror(errno));
    return st;
}

/* ------------------------------------------------------------------------ */
/* Import                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum column_role {
    COL_IGNORE,     /* a column the column map does not name */
    COL_TIME,
    COL_NEWTONS,
    COL_COUNTS,
    COL_ENCODER,
    COL_POSITION,
    COL_MARK
} column_role;

typedef struct csv_column {
    column_role role;
    unsigned channel;
    double scale;   /* value * scale = seconds, newtons or cm */
    char name[64];  /* as the header row spells it */
} csv_column;

#define MAX_COLUMNS (2 * RM_MAX_CHANNELS + 4)

struct rm_csv_reader {
    char *path;
    FILE *in;
    char *line;
    size_t line_cap;
    unsigned long line_no;
    csv_column columns[MAX_COLUMNS];
    unsigned column_count;
    unsigned channel_count;
    bool has_counts[RM_MAX_CHANNELS];
    bool has_newtons[RM_MAX_CHANNELS];
    bool has_encoder, has_position, has_mark;
    const rm_csv_column_map *map; /* NULL: rollmap's own column names */
    uint64_t last_t_us;
    rm_session_meta meta;
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Split line at commas in place; returns the field count (at most max). */
static unsigned split_fields(char *line, char **fields, unsigned max)
{
    unsigned n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n < max)
            fields[n] = trim(p);
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

/* Undo print_escaped. */
static void unescape_into(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (const char *p = src; *p && n + 1 < size; p++) {
        if (*p == '\\' && (p[1] == 'n' || p[1] == '\\'))
            dst[n++] = *++p == 'n' ? '\n' : '\\';
        else
            dst[n++] = *p;
    }
    dst[n] = '\0';
}

/* "# key: value" above the header row. */
static void read_meta_comment(rm_csv_reader *r, char *text)
{
    char *colon = strchr(text, ':');
    if (!colon)
        return;
    *colon = '\0';
    const char *key = trim(text + 1);
    const char *value = trim(colon + 1);
    rm_session_meta *m = &r->meta;
    rm_side side;
    if (!strcmp(key, "session_id"))
        unescape_into(m->session_id, sizeof m->session_id, value);
    else if (!strcmp(key, "client"))
        unescape_into(m->client, sizeof m->client, value);
    else if (!strcmp(key, "muscle"))
        unescape_into(m->muscle, sizeof m->muscle, value);
    else if (!strcmp(key, "notes"))
        unescape_into(m->notes, sizeof m->notes, value);
    else if (!strcmp(key, "side") && rm_side_parse(value, &side) == RM_OK)
        m->side = (uint8_t)side;
    else if (!strcmp(key, "start_unix_us"))
        m->start_unix_us = strtoll(value, NULL, 10);
}

static rm_status csv_error(const rm_csv_reader *r, rm_error *err,
                           const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* RM_ERR_FORMAT with "FILE:LINE: " before the message. */
static rm_status csv_error(const rm_csv_reader *r, rm_error *err,
                           const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%lu: %s", r->path, r->line_no, detail);
}

/* The next line that is not blank and not a comment, or RM_ERR_EOF. */
static rm_status next_line(rm_csv_reader *r, bool before_header, rm_error *err)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->line_cap, r->in);
        if (n < 0)
            return errno ? rm_error_set(err, RM_ERR_IO, "%s: read failed: %s",
                                        r->path, strerror(errno))
                         : RM_ERR_EOF;
        r->line_no++;
        if ((size_t)n != strlen(r->line))
            return csv_error(r, err, "a NUL byte in the line");
        char *text = trim(r->line);
        if (text[0] == '#' && before_header)
            read_meta_comment(r, text);
        if (text[0] != '\0' && text[0] != '#')
            return RM_OK;
    }
}

typedef struct column_unit {
    const char *name;
    column_role role;
    double scale;
} column_unit;

static bool parse_channel_column(const char *name, csv_column *col)
{
    static const column_unit units[] = {
        {"N", COL_NEWTONS, 1}, {"n", COL_NEWTONS, 1},
        {"kg", COL_NEWTONS, NEWTONS_PER_KG}, {"lbf", COL_NEWTONS, NEWTONS_PER_LBF},
        {"counts", COL_COUNTS, 1},
    };
    char suffix[16];
    int used = 0;
    if (sscanf(name, "ch%u_%15[A-Za-z]%n", &col->channel, suffix, &used) != 2 ||
        name[used] != '\0' || col->channel >= RM_MAX_CHANNELS)
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(suffix, units[i].name)) {
            col->role = units[i].role;
            col->scale = units[i].scale;
            return true;
        }
    return false;
}

/* A rollmap column name (the unit is part of it) into col's role, channel
 * and scale. */
static bool parse_column_name(const char *name, csv_column *col)
{
    static const column_unit fixed[] = {
        {"t_s", COL_TIME, 1}, {"t_ms", COL_TIME, 1e-3}, {"t_us", COL_TIME, 1e-6},
        {"encoder", COL_ENCODER, 1}, {"position_cm", COL_POSITION, 1},
        {"position_mm", COL_POSITION, 0.1}, {"mark", COL_MARK, 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(name, fixed[i].name)) {
            col->role = fixed[i].role;
            col->scale = fixed[i].scale;
            return true;
        }
    return parse_channel_column(name, col);
}

#define COLUMN_NAMES "t_s, t_ms, t_us, ch<N>_N, ch<N>_kg, ch<N>_lbf, " \
                     "ch<N>_counts, encoder, position_cm, position_mm or mark"

/* ------------------------------------------------------------------------ */
/* Column maps                                                              */
/* ------------------------------------------------------------------------ */

static rm_status map_entry(rm_csv_column_map *map, unsigned index, char *entry,
                           rm_error *err)
{
    char *eq = strchr(entry, '=');
    if (!eq)
        return rm_error_set(err, RM_ERR_ARG, "entry %u '%s' is not FROM=TO",
                            index + 1, entry);
    *eq = '\0';
    const char *from = trim(entry), *to = trim(eq + 1);
    csv_column col;
    if (!*from || strlen(from) >= sizeof map->entries[0].from)
        return rm_error_set(err, RM_ERR_ARG, "entry %u: the file's column name "
                            "'%s' is empty or too long", index + 1, from);
    if (strlen(to) >= sizeof map->entries[0].to || !parse_column_name(to, &col))
        return rm_error_set(err, RM_ERR_ARG, "entry %u (%s): '%s' is not one of "
                            COLUMN_NAMES, index + 1, from, to);
    for (unsigned i = 0; i < index; i++)
        if (!strcmp(map->entries[i].from, from) || !strcmp(map->entries[i].to, to))
            return rm_error_set(err, RM_ERR_ARG, "entry %u (%s=%s) repeats a "
                                "name of entry %u", index + 1, from, to, i + 1);
    snprintf(map->entries[index].from, sizeof map->entries[index].from, "%s", from);
    snprintf(map->entries[index].to, sizeof map->entries[index].to, "%s", to);
    return RM_OK;
}

rm_status rm_csv_column_map_parse(rm_csv_column_map *map, const char *text,
                                  rm_error *err)
{
    memset(map, 0, sizeof *map);
    char *copy = strdup(text);
    if (!copy)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    char *save = NULL;
    rm_status st = RM_OK;
    for (char *entry = strtok_r(copy, ",", &save); entry && st == RM_OK;
         entry = strtok_r(NULL, ",", &save)) {
        if (map->count == RM_CSV_MAP_MAX)
            st = rm_error_set(err, RM_ERR_ARG, "more than %d entries", RM_CSV_MAP_MAX);
        else
            st = map_entry(map, map->count++, entry, err);
    }
    free(copy);
    if (st == RM_OK && map->count == 0)
        st = rm_error_set(err, RM_ERR_ARG, "no FROM=TO entries in '%s'", text);
    return st;
}

/* The rollmap name the map gives the file's column name, or NULL. */
static const char *mapped_name(const rm_csv_column_map *map, const char *from)
{
    for (unsigned i = 0; i < map->count; i++)
        if (!strcmp(map->entries[i].from, from))
            return map->entries[i].to;
    return NULL;
}

/* Record what column col brings; false if it repeats an earlier one. */
static bool note_column(rm_csv_reader *r, const csv_column *col)
{
    bool *seen;
    bool time_seen = false;
    for (unsigned i = 0; i < r->column_count; i++)
        time_seen |= r->columns[i].role == COL_TIME;
    switch (col->role) {
    case COL_IGNORE: return true;
    case COL_TIME: return !time_seen;
    case COL_NEWTONS: seen = &r->has_newtons[col->channel]; break;
    case COL_COUNTS: seen = &r->has_counts[col->channel]; break;
    case COL_ENCODER: seen = &r->has_encoder; break;
    case COL_POSITION: seen = &r->has_position; break;
    default: seen = &r->has_mark; break;
    }
    if (*seen)
        return false;
    *seen = true;
    if ((col->role == COL_NEWTONS || col->role == COL_COUNTS) &&
        col->channel + 1 > r->channel_count)
        r->channel_count = col->channel + 1;
    return true;
}

static rm_status check_channels_complete(const rm_csv_reader *r, rm_error *err)
{
    for (unsigned i = 0; i < r->channel_count; i++)
        if (!r->has_counts[i] && !r->has_newtons[i]) {
            return csv_error(r, err, "the header row has no column for channel "
                             "%u (ch%u_N or ch%u_counts)", i, i, i);
        }
    return RM_OK;
}

/* A header field without the double quotes some loggers put around it. */
static char *unquote(char *field)
{
    size_t n = strlen(field);
    if (n >= 2 && field[0] == '"' && field[n - 1] == '"') {
        field[n - 1] = '\0';
        return field + 1;
    }
    return field;
}

/* Header field i: rollmap's own name, or with a map the name the map gives
 * it (a column the map does not name is skipped). */
static rm_status read_column_name(const rm_csv_reader *r, unsigned i,
                                  const char *name, csv_column *col, rm_error *err)
{
    snprintf(col->name, sizeof col->name, "%s", name);
    const char *own = r->map ? mapped_name(r->map, name) : name;
    if (!own) {
        col->role = COL_IGNORE;
        return RM_OK;
    }
    if (!parse_column_name(own, col))
        return csv_error(r, err, "column %u: unknown column name '%s' (expected "
                         COLUMN_NAMES ", or a column map)", i + 1, name);
    return RM_OK;
}

/* Every column the map names must be in the header row. */
static rm_status check_map_used(const rm_csv_reader *r, rm_error *err)
{
    for (unsigned m = 0; m < r->map->count; m++) {
        bool found = false;
        for (unsigned i = 0; i < r->column_count && !found; i++)
            found = !strcmp(r->columns[i].name, r->map->entries[m].from);
        if (!found)
            return csv_error(r, err, "the column map names '%s' (as %s), but "
                             "the header row has no such column",
                             r->map->entries[m].from, r->map->entries[m].to);
    }
    return RM_OK;
}

static rm_status read_header_row(rm_csv_reader *r, rm_error *err)
{
    rm_status st = next_line(r, true, err);
    if (st == RM_ERR_EOF)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: no header row (the file has "
                            "only comments or is empty)", r->path);
    if (st != RM_OK)
        return st;
    char *fields[MAX_COLUMNS];
    unsigned n = split_fields(r->line, fields, MAX_COLUMNS);
    if (n > MAX_COLUMNS)
        return csv_error(r, err, "the header row has %u columns, at most %d "
                         "are supported", n, MAX_COLUMNS);
    for (unsigned i = 0; i < n; i++) {
        csv_column *col = &r->columns[i];
        st = read_column_name(r, i, unquote(fields[i]), col, err);
        if (st != RM_OK)
            return st;
        if (!note_column(r, col))
            return csv_error(r, err, "column %u: '%s' appears twice", i + 1,
                             col->name);
        r->column_count = i + 1;
    }
    if (r->map && (st = check_map_used(r, err)) != RM_OK)
        return st;
    bool has_time = false;
    for (unsigned i = 0; i < n; i++)
        has_time |= r->columns[i].role == COL_TIME;
    if (!has_time)
        return csv_error(r, err, "the header row has no time column (t_s, t_ms "
                         "or t_us)");
    return check_channels_complete(r, err);
}

rm_status rm_csv_reader_open(rm_csv_reader **out, const char *path,
                             const rm_csv_column_map *map, rm_error *err)
{
    *out = NULL;
    rm_csv_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    r->map = map;
    r->in = fopen(path, "r");
    if (!r->in) {
        rm_status st = rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                                    "%s: cannot open: %s", path, strerror(errno));
        rm_csv_reader_close(r);
        return st;
    }
    rm_status st = read_header_row(r, err);
    if (st != RM_OK) {
        rm_csv_reader_close(r);
        return st;
    }
    *out = r;
    return RM_OK;
}

void rm_csv_reader_close(rm_csv_reader *r)
{
    if (!r)
        return;
    if (r->in)
        fclose(r->in);
    free(r->line);
    free(r->path);
    free(r);
}

unsigned rm_csv_reader_channel_count(const rm_csv_reader *r)
{
    return r->channel_count;
}

bool rm_csv_reader_has_position(const rm_csv_reader *r)
{
    return r->has_encoder || r->has_position;
}

static rm_status field_error(const rm_csv_reader *r, unsigned column,
                             const char *problem, const char *text, rm_error *err)
{
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%lu: column %u (%s): '%s' %s",
                        r->path, r->line_no, column + 1, r->columns[column].name,
                        text, problem);
}

static rm_status parse_number(const rm_csv_reader *r, unsigned column,
                              const char *text, double *value, rm_error *err)
{
    char *end;
    errno = 0;
    *value = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(*value) || errno == ERANGE)
        return field_error(r, column, "is not a number", text, err);
    return RM_OK;
}

/* An integer quantity (counts, encoder) that must fit in 32 bits. */
static rm_status to_int32(const rm_csv_reader *r, unsigned column, const char *text,
                          double v, int32_t *out, rm_error *err)
{
    double rounded = nearbyint(v);
    if (rounded < INT32_MIN || rounded > INT32_MAX)
        return field_error(r, column, "is out of the 32-bit count range", text, err);
    *out = (int32_t)rounded;
    return RM_OK;
}

static rm_status apply_time(rm_csv_reader *r, unsigned column, const char *text,
                            double seconds, rm_sample *s, rm_error *err)
{
    if (seconds < 0 || seconds > 1.8e13) /* about 570,000 years in us */
        return field_error(r, column, "is not a time in seconds >= 0", text, err);
    s->t_us = (uint64_t)llround(seconds * 1e6);
    if (s->t_us < r->last_t_us)
        return field_error(r, column, "goes back in time from the row before",
                           text, err);
    return RM_OK;
}

static rm_status apply_field(rm_csv_reader *r, const rm_device_info *info,
                             unsigned column, const char *text, rm_sample *s,
                             rm_error *err)
{
    const csv_column *col = &r->columns[column];
    if (col->role == COL_IGNORE)
        return RM_OK;
    double v;
    rm_status st = parse_number(r, column, text, &v, err);
    if (st != RM_OK)
        return st;
    v *= col->scale;
    switch (col->role) {
    case COL_IGNORE:
        return RM_OK;
    case COL_TIME:
        return apply_time(r, column, text, v, s, err);
    case COL_COUNTS:
        return to_int32(r, column, text, v, &s->counts[col->channel], err);
    case COL_NEWTONS:
        if (r->has_counts[col->channel])
            return RM_OK; /* exact counts win over rounded newtons */
        if (!counts_for_newtons(&info->channels[col->channel], v, &v))
            return field_error(r, column, "cannot be turned into counts: the "
                               "channel's calibration has no inverse", text, err);
        return to_int32(r, column, text, v, &s->counts[col->channel], err);
    case COL_ENCODER:
        return to_int32(r, column, text, v, &s->encoder, err);
    case COL_POSITION:
        if (r->has_encoder)
            return RM_OK;
        if (cm_per_count(info) == 0)
            return field_error(r, column, "needs a device with an encoder and a "
                               "roller diameter", text, err);
        return to_int32(r, column, text, v / cm_per_count(info), &s->encoder, err);
    case COL_MARK:
        if (v != 0)
            s->flags |= RM_SAMPLE_MARK;
        return RM_OK;
    }
    return RM_OK;
}

rm_status rm_csv_reader_next(rm_csv_reader *r, const rm_device_info *info,
                             rm_sample *out, rm_error *err)
{
    if (r->channel_count > info->channel_count)
        return rm_error_set(err, RM_ERR_ARG, "%s: the CSV has %u channels, the "
                            "device only %u", r->path, r->channel_count,
                            info->channel_count);
    rm_status st = next_line(r, false, err);
    if (st != RM_OK)
        return st;
    char *fields[MAX_COLUMNS];
    unsigned n = split_fields(r->line, fields, MAX_COLUMNS);
    if (n != r->column_count)
        return csv_error(r, err, "%u fields, the header row has %u", n,
                         r->column_count);
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < n && st == RM_OK; i++)
        st = apply_field(r, info, i, fields[i], out, err);
    if (st == RM_OK)
        r->last_t_us = out->t_us;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Import into a session file                                               */
/* ------------------------------------------------------------------------ */

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Rate from the median time step of the first rows (0 if unknown). */
static uint32_t estimate_rate(const rm_sample *s, size_t n)
{
    uint64_t steps[RATE_ESTIMATE_ROWS];
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        if (s[i].t_us > s[i - 1].t_us)
            steps[k++] = s[i].t_us - s[i - 1].t_us;
    if (k == 0)
        return 0;
    qsort(steps, k, sizeof steps[0], compare_u64);
    return (uint32_t)llround(1e6 / (double)steps[k / 2]);
}

/* The generic device's rate from the rows; without one, the session
 * would be unusable for analysis, so the import fails. */
static rm_status set_estimated_rate(rm_device_info *device, const rm_sample *head,
                                    size_t n, const char *csv_path, rm_error *err)
{
    device->sample_rate_hz = estimate_rate(head, n);
    if (device->sample_rate_hz)
        return RM_OK;
    return rm_error_set(err, RM_ERR_FORMAT,
                        "%s: cannot work out the sample rate from %zu data row%s: "
                        "it needs rows with increasing time at most 2 s apart, "
                        "or a device profile that gives the rate",
                        csv_path, n, n == 1 ? "" : "s");
}

static void merge_meta(rm_session_meta *base, const rm_session_meta *over)
{
    rm_session_meta_merge(base, over);
    if (over->session_id[0])
        memcpy(base->session_id, over->session_id, sizeof base->session_id);
    if (over->start_unix_us)
        base->start_unix_us = over->start_unix_us;
}

static void complete_meta(rm_session_meta *meta)
{
    if (!meta->muscle[0])
        snprintf(meta->muscle, sizeof meta->muscle, "hamstring");
    if (!meta->session_id[0])
        rm_session_id_new(meta->session_id,
                          meta->start_unix_us ? meta->start_unix_us : rm_wallclock_us());
}

/* Read up to RATE_ESTIMATE_ROWS rows into head; *n gets how many. */
static rm_status read_head(rm_csv_reader *r, const rm_device_info *info,
                           rm_sample *head, size_t *n, rm_error *err)
{
    *n = 0;
    while (*n < RATE_ESTIMATE_ROWS) {
        rm_status st = rm_csv_reader_next(r, info, &head[*n], err);
        if (st == RM_ERR_EOF)
            return RM_OK;
        if (st != RM_OK)
            return st;
        (*n)++;
    }
    return RM_OK;
}

static rm_status copy_rows(rm_csv_reader *r, rm_session_writer *w,
                           const rm_device_info *info, rm_error *err)
{
    rm_sample s;
    rm_status st;
    while ((st = rm_csv_reader_next(r, info, &s, err)) == RM_OK)
        if ((st = rm_session_writer_append(w, &s, 1, err)) != RM_OK)
            return st;
    return st == RM_ERR_EOF ? RM_OK : st;
}

rm_status rm_session_import_csv(const char *csv_path, const char *session_path,
                                const rm_device_info *info,
                                const rm_csv_column_map *map,
                                const rm_session_meta *meta, rm_error *err)
{
    rm_csv_reader *r = NULL;
    rm_status st = rm_csv_reader_open(&r, csv_path, map, err);
    if (st != RM_OK)
        return st;
    rm_device_info device;
    if (info)
        device = *info;
    else
        rm_device_info_generic(&device, r->channel_count, 0, rm_csv_reader_has_position(r));
    rm_sample head[RATE_ESTIMATE_ROWS];
    size_t head_count = 0;
    st = read_head(r, &device, head, &head_count, err);
    if (st == RM_OK && !info)
        st = set_estimated_rate(&device, head, head_count, csv_path, err);
    rm_session_meta session_meta = r->meta;
    if (meta)
        merge_meta(&session_meta, meta);
    complete_meta(&session_meta);
    rm_session_writer *w = NULL;
    if (st == RM_OK)
        st = rm_session_writer_create(&w, session_path, &device, &session_meta, NULL, err);
    if (st == RM_OK && head_count > 0)
        st = rm_session_writer_append(w, head, head_count, err);
    if (st == RM_OK)
        st = copy_rows(r, w, &device, err);
    rm_csv_reader_close(r);
    if (!w)
        return st;
    rm_error close_err;
    rm_status closed = rm_session_writer_close(w, &close_err);
    if (st == RM_OK && closed != RM_OK) {
        st = closed;
        if (err)
            *err = close_err;
    }
    if (st != RM_OK)
        remove(session_path); /* a half import is worse than none */
    return st;
}
