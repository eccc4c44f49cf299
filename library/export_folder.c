/*
 * Researcher folders: sessions as plain CSV files with JSON sidecars in a
 * BIDS-like layout (docs/LIBRARY.md, "Exports").
 *
 *   DIR/participants.tsv, DIR/participants.json
 *   DIR/sub-<code>/ses-<yyyymmdd>/
 *       sub-<code>_ses-<yyyymmdd>_task-<muscle>_acq-<side>_run-<n>_force.csv
 *       ... _force.json
 *
 * Labels keep only the letters and digits of the client code and muscle
 * (BIDS labels are alphanumeric); runs number a client's sessions of one
 * day in start order. Every file is written beside its place and renamed
 * over it when complete; participants.tsv keeps the rows of participants
 * this export does not touch.
 */
#include "rollmap_library.h"
#include "rollmap_report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 4096           /* samples read per rm_session_read */
#define LABEL_MAX 64
#define FOLDER_MODE 0700          /* client data: owner only */
#define PARTICIPANTS "participants.tsv"
#define PARTICIPANTS_JSON "participants.json"

/** One session's place in the folder. */
typedef struct folder_plan {
    const rm_folder_session *in;
    rm_session_meta meta;
    char sub[LABEL_MAX], ses[16], task[LABEL_MAX];
    unsigned run;
} folder_plan;

/** A row of participants.tsv. */
typedef struct participant {
    char id[LABEL_MAX + 8];       /* sub-<label> */
    char *client_code;
    char *display_name;           /* NULL none */
} participant;

typedef struct participant_table {
    participant *rows;
    size_t count, cap;
} participant_table;

/* ------------------------------------------------------------------------ */
/* Writing a file whole                                                     */
/* ------------------------------------------------------------------------ */

static char *join(const char *a, const char *b)
{
    size_t len = strlen(a) + strlen(b) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", a, b);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Labels and the plan                                                      */
/* ------------------------------------------------------------------------ */

/* The letters and digits of text (BIDS labels are alphanumeric). */
static void label_of(const char *text, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < cap; p++)
        if (isalnum((unsigned char)*p))
            out[n++] = *p;
    out[n] = '\0';
}

static rm_status plan_session(const rm_folder_session *in, folder_plan *plan,
                              rm_error *err)
{
    rm_session *s = NULL;
    rm_status st = rm_session_open(&s, in->path, err);
    if (st != RM_OK)
        return st;
    plan->in = in;
    plan->meta = *rm_session_meta_of(s);
    rm_session_close(s);
    label_of(plan->meta.client, plan->sub, sizeof plan->sub);
    if (!plan->sub[0])
        return rm_error_set(err, RM_ERR_FORMAT, "%s: the session has no client "
                            "code with a letter or digit (\"%s\")", in->path,
                            plan->meta.client);
    label_of(plan->meta.muscle[0] ? plan->meta.muscle : "hamstring",
             plan->task, sizeof plan->task);
    time_t secs = (time_t)(plan->meta.start_unix_us / 1000000);
    struct tm tm;
    if (plan->meta.start_unix_us > 0 && gmtime_r(&secs, &tm))
        strftime(plan->ses, sizeof plan->ses, "%Y%m%d", &tm);
    else
        snprintf(plan->ses, sizeof plan->ses, "undated");
    return RM_OK;
}

static int compare_plans(const void *pa, const void *pb)
{
    const folder_plan *a = pa, *b = pb;
    int c = strcmp(a->sub, b->sub);
    if (c == 0)
        c = strcmp(a->ses, b->ses);
    if (c == 0)
        c = (a->meta.start_unix_us > b->meta.start_unix_us) -
            (a->meta.start_unix_us < b->meta.start_unix_us);
    return c;
}

/* Sort by participant, day and start, number the runs of each day, and
 * refuse two client codes that would share one participant label. */
static rm_status number_runs(folder_plan *plans, size_t n, rm_error *err)
{
    qsort(plans, n, sizeof *plans, compare_plans);
    for (size_t i = 0; i < n; i++) {
        bool same_sub = i > 0 && strcmp(plans[i].sub, plans[i - 1].sub) == 0;
        if (same_sub && strcmp(plans[i].meta.client, plans[i - 1].meta.client))
            return rm_error_set(err, RM_ERR_ARG, "client codes \"%s\" and \"%s\" "
                                "would both be sub-%s", plans[i - 1].meta.client,
                                plans[i].meta.client, plans[i].sub);
        bool same_day = same_sub && strcmp(plans[i].ses, plans[i - 1].ses) == 0;
        plans[i].run = same_day ? plans[i - 1].run + 1 : 1;
    }
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* The force CSV                                                            */
/* ------------------------------------------------------------------------ */

static double cm_per_count(const rm_device_info *d)
{
    if (!d->encoder_counts_per_turn || d->roller_diameter_mm <= 0)
        return 0.0;
    return (d->distal_direction < 0 ? -1 : 1) * M_PI * d->roller_diameter_mm /
           10.0 / d->encoder_counts_per_turn;
}

static bool has_load_cells(const rm_device_info *d)
{
    for (unsigned k = 0; k < d->channel_count; k++)
        if (d->channels[k].kind == RM_CHANNEL_LOAD_CELL)
            return true;
    return false;
}

static void write_header_row(FILE *out, const rm_device_info *d)
{
    fputs("t_s", out);
    for (unsigned k = 0; k < d->channel_count; k++)
        fprintf(out, ",ch%u_N", k);
    fputs(",total_N", out);
    if (cm_per_count(d) != 0.0)
        fputs(",encoder,position_cm", out);
    fputs(",mark\n", out);
}

static void write_row(FILE *out, const rm_device_info *d, rm_channel_kind total,
                      uint64_t first_us, const rm_sample *s)
{
    uint64_t t = s->t_us - first_us;
    fprintf(out, "%llu.%06llu", (unsigned long long)(t / 1000000),
            (unsigned long long)(t % 1000000));
    double sum = 0.0;
    for (unsigned k = 0; k < d->channel_count; k++) {
        double n = rm_channel_newtons(&d->channels[k], s->counts[k]);
        sum += d->channels[k].kind == total ? n : 0.0;
        fprintf(out, ",%.4f", n);
    }
    fprintf(out, ",%.4f", sum);
    if (cm_per_count(d) != 0.0)
        fprintf(out, ",%d,%.3f", s->encoder, s->encoder * cm_per_count(d));
    fprintf(out, ",%d\n", (s->flags & RM_SAMPLE_MARK) ? 1 : 0);
}

static rm_status fill_force_csv(FILE *out, const void *ctx, rm_error *err)
{
    rm_session *s = (rm_session *)ctx;
    const rm_device_info *d = rm_session_device(s);
    rm_channel_kind total = has_load_cells(d) ? RM_CHANNEL_LOAD_CELL
                                              : RM_CHANNEL_PRESSURE_CELL;
    rm_sample *buf = malloc(READ_CHUNK * sizeof *buf);
    if (!buf)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    write_header_row(out, d);
    uint64_t at = 0, count = rm_session_sample_count(s);
    uint64_t first = rm_session_first_us(s);
    rm_status st = RM_OK;
    while (st == RM_OK && at < count) {
        size_t got = 0;
        st = rm_session_read(s, at, buf, READ_CHUNK, &got, err);
        for (size_t i = 0; i < got; i++)
            write_row(out, d, total, first, &buf[i]);
        at += got;
    }
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The JSON sidecar                                                         */
/* ------------------------------------------------------------------------ */

typedef struct sidecar {
    const folder_plan *plan;
    rm_session *session;
    const rm_analysis *analysis;
    bool redact;
} sidecar;

static void column(rm_json_writer *w, const char *name, const char *units,
                   const char *description)
{
    rm_json_key(w, name);
    rm_json_object_open(w);
    rm_json_member_string(w, "Description", description);
    if (units)
        rm_json_member_string(w, "Units", units);
    rm_json_object_close(w);
}

static void write_columns(rm_json_writer *w, const rm_device_info *d)
{
    rm_json_key(w, "Columns");
    rm_json_object_open(w);
    column(w, "t_s", "s", "time since the first sample");
    for (unsigned k = 0; k < d->channel_count; k++) {
        char name[16], what[96];
        const rm_channel_info *ch = &d->channels[k];
        snprintf(name, sizeof name, "ch%u_N", k);
        snprintf(what, sizeof what, "force on the %s at %.1f mm across the "
                 "roller", ch->kind == RM_CHANNEL_PRESSURE_CELL
                               ? "pressure cell" : "load cell", ch->position_mm);
        column(w, name, "N", what);
    }
    column(w, "total_N", "N", has_load_cells(d)
           ? "sum of the load cells" : "sum of the pressure cells");
    if (cm_per_count(d) != 0.0) {
        column(w, "encoder", NULL, "cumulative encoder count");
        column(w, "position_cm", "cm", "contact-point travel from encoder "
               "count 0, positive distally");
    }
    column(w, "mark", NULL, "1 where the \"tender here\" button was pressed");
    rm_json_object_close(w);
}

static void write_session_facts(rm_json_writer *w, const sidecar *sc)
{
    const rm_device_info *d = rm_session_device(sc->session);
    const rm_session_meta *m = &sc->plan->meta;
    char start[32];
    rm_format_iso8601(start, m->start_unix_us);
    rm_json_member_int(w, "SamplingFrequency", d->sample_rate_hz);
    rm_json_member_string(w, "Manufacturer", "rollmap");
    rm_json_member_string(w, "ManufacturersModelName", d->model);
    rm_json_member_string(w, "DeviceSerialNumber", d->serial);
    rm_json_member_string(w, "SoftwareVersions", "rollmap " RM_VERSION_STRING);
    rm_json_member_string(w, "AcquisitionDateTime",
                          m->start_unix_us > 0 ? start : "unknown");
    rm_json_member_string(w, "SessionID", m->session_id);
    rm_json_member_string(w, "ClientCode", m->client);
    rm_json_member_string(w, "Side", rm_side_name((rm_side)m->side));
    rm_json_member_string(w, "Muscle", m->muscle);
    if (!sc->redact)
        rm_json_member_string(w, "Notes", sc->plan->in->notes
                                              ? sc->plan->in->notes : m->notes);
    rm_json_key(w, "Device");
    rm_json_write_device(w, d);
}

static void write_gaps(rm_json_writer *w, rm_session *s)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(s, &n);
    uint64_t first = rm_session_first_us(s);
    rm_json_key(w, "Gaps");
    rm_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(w);
        rm_json_member_number(w, "onset_s",
                              ((double)gaps[i].start_us - (double)first) / 1e6);
        rm_json_member_number(w, "duration_s",
                              (double)(gaps[i].end_us - gaps[i].start_us) / 1e6);
        rm_json_member_int(w, "lost_samples", (int64_t)gaps[i].lost_samples);
        rm_json_member_string(w, "reason",
                              rm_gap_reason_name((rm_gap_reason)gaps[i].reason));
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void write_summary(rm_json_writer *w, const rm_analysis *a)
{
    rm_json_key(w, "Analysis");
    rm_json_object_open(w);
    rm_summary_json_members(w, &a->summary);
    rm_json_member_int(w, "dwells", (int64_t)a->dwell_count);
    rm_json_member_int(w, "marks", (int64_t)a->mark_count);
    rm_json_key(w, "tender_spots");
    rm_json_array_open(w);
    for (size_t i = 0; i < a->spot_count; i++) {
        rm_json_object_open(w);
        rm_json_member_number(w, "position_cm", a->spots[i].position_cm);
        rm_json_member_string(w, "side",
                              rm_ml_side_name((rm_ml_side)a->spots[i].side));
        rm_json_member_number(w, "score", a->spots[i].score);
        rm_json_member_number(w, "confidence", a->spots[i].confidence);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
    rm_json_object_close(w);
}

static rm_status fill_sidecar(FILE *out, const void *ctx, rm_error *err)
{
    (void)err;
    const sidecar *sc = ctx;
    rm_json_writer w;
    rm_json_begin(&w, out, true);
    rm_json_object_open(&w);
    write_session_facts(&w, sc);
    write_columns(&w, rm_session_device(sc->session));
    write_gaps(&w, sc->session);
    write_summary(&w, sc->analysis);
    rm_json_object_close(&w);
    rm_json_end(&w);
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* One session                                                              */
/* ------------------------------------------------------------------------ */

/* dir/sub-X/ses-D, created as needed. */
static rm_status session_dir(const char *dir, const folder_plan *p,
                             char **out, rm_error *err)
{
    char sub[LABEL_MAX + 8], ses[32];
    snprintf(sub, sizeof sub, "sub-%s", p->sub);
    snprintf(ses, sizeof ses, "ses-%s", p->ses);
    char *sub_dir = join(dir, sub);
    char *ses_dir = sub_dir ? join(sub_dir, ses) : NULL;
    rm_status st = ses_dir ? RM_OK : rm_error_set(err, RM_ERR_NOMEM,
                                                  "out of memory");
    if (st == RM_OK)
        st = rm_make_dirs(ses_dir, FOLDER_MODE, err);
    free(sub_dir);
    if (st != RM_OK)
        free(ses_dir);
    else
        *out = ses_dir;
    return st;
}

/* ses_dir/sub-X_ses-D_task-M_acq-S_run-N_<suffix> */
static char *session_file(const char *ses_dir, const folder_plan *p,
                          const char *suffix)
{
    char name[3 * LABEL_MAX + 96];
    snprintf(name, sizeof name, "sub-%s_ses-%s_task-%s_acq-%s_run-%u_%s",
             p->sub, p->ses, p->task, rm_side_name((rm_side)p->meta.side),
             p->run, suffix);
    return join(ses_dir, name);
}

static rm_status write_files(const char *ses_dir, const sidecar *sc,
                             rm_error *err)
{
    char *csv = session_file(ses_dir, sc->plan, "force.csv");
    char *json = session_file(ses_dir, sc->plan, "force.json");
    rm_status st = csv && json ? RM_OK
                               : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    if (st == RM_OK)
        st = rm_atomic_write(csv, 0, false, fill_force_csv, sc->session, err);
    if (st == RM_OK)
        st = rm_atomic_write(json, 0, false, fill_sidecar, sc, err);
    free(csv);
    free(json);
    return st;
}

/* Open, verify and analyse one session; a failure here leaves the session
 * out of the export and names its file. */
static rm_status load_session(const folder_plan *p,
                              const rm_analysis_config *cfg, rm_session **s,
                              rm_analysis **a, rm_error *err)
{
    rm_status st = rm_session_open(s, p->in->path, err);
    if (st == RM_OK)
        st = rm_session_verify(*s, err);
    if (st == RM_OK && (st = rm_analyse_session(*s, cfg, a, err)) != RM_OK) {
        rm_error inner = *err;
        rm_error_set(err, st, "%s: %s", p->in->path, inner.message);
    }
    return st;
}

static rm_status write_session(const char *dir, const folder_plan *p,
                               bool redact, rm_session *s, const rm_analysis *a,
                               rm_error *err)
{
    char *ses_dir = NULL;
    rm_status st = session_dir(dir, p, &ses_dir, err);
    if (st == RM_OK) {
        sidecar sc = {p, s, a, redact};
        st = write_files(ses_dir, &sc, err);
    }
    free(ses_dir);
    return st;
}

/* ------------------------------------------------------------------------ */
/* participants.tsv                                                         */
/* ------------------------------------------------------------------------ */

static void participants_free(participant_table *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->rows[i].client_code);
        free(t->rows[i].display_name);
    }
    free(t->rows);
}

static participant *find_participant(participant_table *t, const char *id)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->rows[i].id, id) == 0)
            return &t->rows[i];
    return NULL;
}

/* Set (or add) the row of id; a NULL or "" name keeps the row's name. */
static rm_status put_participant(participant_table *t, const char *id,
                                 const char *code, const char *name,
                                 rm_error *err)
{
    participant *p = find_participant(t, id);
    if (!p) {
        if (t->count == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 16;
            participant *rows = realloc(t->rows, cap * sizeof *rows);
            if (!rows)
                return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
            t->rows = rows;
            t->cap = cap;
        }
        p = &t->rows[t->count++];
        memset(p, 0, sizeof *p);
        snprintf(p->id, sizeof p->id, "%s", id);
    }
    free(p->client_code);
    p->client_code = strdup(code);
    if (name && *name && strcmp(name, "n/a") != 0) {
        free(p->display_name);
        p->display_name = strdup(name);
        if (!p->display_name)
            return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    return p->client_code ? RM_OK
                          : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
}

/* Index of name among the tab-separated header fields, or -1. */
static int header_index(char **fields, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0)
            return i;
    return -1;
}

enum { MAX_TSV_FIELDS = 16 };

static int split_tabs(char *line, char **fields)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < MAX_TSV_FIELDS; ) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

/* The rows already in path (none when it does not exist). */
static rm_status read_participants(const char *path, participant_table *t,
                                   rm_error *err)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return errno == ENOENT ? RM_OK
                               : rm_error_set(err, RM_ERR_IO, "%s: %s", path,
                                              strerror(errno));
    char *line = NULL, *fields[MAX_TSV_FIELDS];
    size_t cap = 0;
    int id = -1, code = -1, name = -1, n;
    rm_status st = RM_OK;
    if (getline(&line, &cap, in) > 0) {
        n = split_tabs(line, fields);
        id = header_index(fields, n, "participant_id");
        code = header_index(fields, n, "client_code");
        name = header_index(fields, n, "display_name");
    }
    if (id < 0 || code < 0)
        st = rm_error_set(err, RM_ERR_FORMAT, "%s: line 1: expected the columns "
                          "participant_id and client_code", path);
    for (unsigned long line_no = 2; st == RM_OK && getline(&line, &cap, in) > 0;
         line_no++) {
        n = split_tabs(line, fields);
        if (n <= id || n <= code)
            st = rm_error_set(err, RM_ERR_FORMAT, "%s: line %lu: %d fields, "
                              "expected at least %d", path, line_no, n,
                              (id > code ? id : code) + 1);
        else
            st = put_participant(t, fields[id], fields[code],
                                 name >= 0 && n > name ? fields[name] : NULL,
                                 err);
    }
    free(line);
    fclose(in);
    return st;
}

/* Text for one TSV field: tabs and line breaks become spaces. */
static void put_field(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++)
        fputc(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p, out);
}

typedef struct participants_out {
    const participant_table *table;
    bool with_names;
} participants_out;

static int compare_participants(const void *pa, const void *pb)
{
    return strcmp(((const participant *)pa)->id, ((const participant *)pb)->id);
}

static rm_status fill_participants(FILE *out, const void *ctx, rm_error *err)
{
    (void)err;
    const participants_out *po = ctx;
    fputs(po->with_names ? "participant_id\tclient_code\tdisplay_name\n"
                         : "participant_id\tclient_code\n", out);
    for (size_t i = 0; i < po->table->count; i++) {
        const participant *p = &po->table->rows[i];
        put_field(out, p->id);
        fputc('\t', out);
        put_field(out, p->client_code);
        if (po->with_names) {
            fputc('\t', out);
            put_field(out, p->display_name ? p->display_name : "n/a");
        }
        fputc('\n', out);
    }
    return RM_OK;
}

static rm_status fill_participants_json(FILE *out, const void *ctx,
                                        rm_error *err)
{
    (void)err;
    const participants_out *po = ctx;
    rm_json_writer w;
    rm_json_begin(&w, out, true);
    rm_json_object_open(&w);
    column(&w, "participant_id", NULL, "sub-<letters and digits of the client "
           "code>");
    column(&w, "client_code", NULL, "the pseudonymous client code in rollmap");
    if (po->with_names)
        column(&w, "display_name", NULL, "the client's name from the session "
               "library (n/a: none)");
    rm_json_object_close(&w);
    rm_json_end(&w);
    return RM_OK;
}

/* A participant label already used by another client code. */
static rm_status check_label_free(const participant_table *t, const char *id,
                                  const char *code, const char *path,
                                  rm_error *err)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->rows[i].id, id) == 0 &&
            strcmp(t->rows[i].client_code, code) != 0)
            return rm_error_set(err, RM_ERR_ARG, "%s: %s is client \"%s\", not "
                                "\"%s\"", path, id, t->rows[i].client_code, code);
    return RM_OK;
}

/* The table already in dir, refusing a label of this export that another
 * client code already has there. */
static rm_status read_and_check_participants(const char *tsv,
                                             const folder_plan *plans,
                                             size_t n, participant_table *t,
                                             rm_error *err)
{
    rm_status st = read_participants(tsv, t, err);
    for (size_t i = 0; st == RM_OK && i < n; i++) {
        char id[LABEL_MAX + 8];
        snprintf(id, sizeof id, "sub-%s", plans[i].sub);
        st = check_label_free(t, id, plans[i].meta.client, tsv, err);
    }
    return st;
}

static rm_status put_exported(participant_table *t, const folder_plan *p,
                              rm_error *err)
{
    char id[LABEL_MAX + 8];
    snprintf(id, sizeof id, "sub-%s", p->sub);
    return put_participant(t, id, p->meta.client, p->in->display_name, err);
}

static rm_status write_participants(const char *dir, participant_table *t,
                                    bool redact, rm_error *err)
{
    char *tsv = join(dir, PARTICIPANTS), *json = join(dir, PARTICIPANTS_JSON);
    rm_status st = tsv && json ? RM_OK
                               : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    qsort(t->rows, t->count, sizeof *t->rows, compare_participants);
    participants_out po = {t, !redact};
    if (st == RM_OK)
        st = rm_atomic_write(tsv, 0, false, fill_participants, &po, err);
    if (st == RM_OK)
        st = rm_atomic_write(json, 0, false, fill_participants_json, &po, err);
    free(tsv);
    free(json);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The export                                                               */
/* ------------------------------------------------------------------------ */

/* Where an export is: the plans of the sessions still in it, and those
 * left out so far. */
typedef struct folder_export {
    const char *dir;
    folder_plan *plans;
    size_t count;
    bool redact;
    const rm_analysis_config *cfg;
    rm_folder_skipped_fn skipped;
    void *user;
    size_t skip_count;
    rm_error first_skip;
} folder_export;

static void skip_session(folder_export *x, const char *path,
                         const rm_error *why)
{
    if (x->skip_count++ == 0)
        x->first_skip = *why;
    if (x->skipped)
        x->skipped(x->user, path, why);
}

static rm_status nothing_exported(const folder_export *x, size_t count,
                                  rm_error *err)
{
    return rm_error_set(err, x->first_skip.code, "%s: none of the %zu "
                        "sessions could be exported (first: %s)", x->dir,
                        count, x->first_skip.message);
}

/* A plan for each session whose file can be read; the others are left
 * out and reported. */
static rm_status plan_sessions(folder_export *x,
                               const rm_folder_session *sessions, size_t count,
                               rm_error *err)
{
    for (size_t i = 0; i < count; i++) {
        rm_error why;
        rm_error_clear(&why);
        if (plan_session(&sessions[i], &x->plans[x->count], &why) == RM_OK)
            x->count++;
        else
            skip_session(x, sessions[i].path, &why);
    }
    return x->count > 0 ? RM_OK : nothing_exported(x, count, err);
}

/* Each session's files, then its participant row; a session that cannot
 * be analysed is left out, a failed write stops the export. */
static rm_status export_sessions(folder_export *x, participant_table *t,
                                 size_t *written, rm_error *err)
{
    rm_status st = RM_OK;
    for (size_t i = 0; st == RM_OK && i < x->count; i++) {
        rm_session *s = NULL;
        rm_analysis *a = NULL;
        rm_error why;
        rm_error_clear(&why);
        if (load_session(&x->plans[i], x->cfg, &s, &a, &why) != RM_OK) {
            skip_session(x, x->plans[i].in->path, &why);
        } else {
            st = write_session(x->dir, &x->plans[i], x->redact, s, a, err);
            if (st == RM_OK)
                st = put_exported(t, &x->plans[i], err);
            *written += st == RM_OK;
        }
        rm_analysis_free(a);
        rm_session_close(s);
    }
    return st;
}

rm_status rm_export_folder(const char *dir, const rm_folder_session *sessions,
                           size_t count, bool redact,
                           const rm_analysis_config *cfg,
                           rm_folder_skipped_fn skipped, void *user,
                           rm_folder_summary *summary, rm_error *err)
{
    if (count == 0)
        return rm_error_set(err, RM_ERR_ARG, "%s: no sessions to export", dir);
    folder_export x = {.dir = dir, .plans = calloc(count, sizeof *x.plans),
                       .redact = redact, .cfg = cfg, .skipped = skipped,
                       .user = user};
    char *tsv = join(dir, PARTICIPANTS);
    participant_table table = {0};
    size_t written = 0;
    rm_status st = x.plans && tsv ? RM_OK
                                  : rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    if (st == RM_OK)
        st = plan_sessions(&x, sessions, count, err);
    if (st == RM_OK)
        st = number_runs(x.plans, x.count, err);
    /* every refusal comes before the first file is written */
    if (st == RM_OK)
        st = read_and_check_participants(tsv, x.plans, x.count, &table, err);
    if (st == RM_OK)
        st = rm_make_dirs(dir, FOLDER_MODE, err);
    if (st == RM_OK)
        st = export_sessions(&x, &table, &written, err);
    if (st == RM_OK && written > 0)
        st = write_participants(dir, &table, redact, err);
    else if (st == RM_OK)
        st = nothing_exported(&x, count, err);
    if (st == RM_OK && summary)
        *summary = (rm_folder_summary){written, table.count, x.skip_count};
    participants_free(&table);
    free(tsv);
    free(x.plans);
    return st;
}
