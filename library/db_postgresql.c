/* The PostgreSQL backend, through libpq: one connection per rm_library,
 * statements written with SQLite's "?" parameters run as PQexecParams
 * with "$N", values passed and read as text (bytea passed in binary, and
 * read in binary by statements with binary_rows: hex text would double
 * the bytes on the wire and cost a decode). */
#include "library_internal.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs of bound parameters (PostgreSQL's pg_type.dat). A typed
 * parameter also lets a statement leave some numbers unused (the
 * filters bind only the ones their WHERE names). */
enum { OID_UNKNOWN = 0, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21,
       OID_INT4 = 23, OID_TEXT = 25, OID_FLOAT8 = 701 };

/* Most parameters of one statement: the session upsert binds about 110. */
#define PG_MAX_PARAMS 256

/* Serialises migrations between processes: an arbitrary key of
 * pg_advisory_xact_lock, "rm" in ASCII. */
#define MIGRATION_LOCK_KEY "29293"

#define TEXT_OF(x) #x
#define NUMBER_TEXT(x) TEXT_OF(x)

typedef struct pg_stmt {
    library_stmt base;
    char *sql;                 /* with $N parameters */
    int nparams;
    Oid types[PG_MAX_PARAMS];
    char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    PGresult *result;
    int row;                   /* the current row; -1 before the first */
    unsigned char *blob;       /* the last column_blob of a text row,
                                  unescaped */
} pg_stmt;

static PGconn *conn_of(const rm_library *lib)
{
    return lib->conn;
}

static pg_stmt *pg(library_stmt *s)
{
    return (pg_stmt *)s;
}

static library_fail_kind kind_of(PGconn *conn, const char *sqlstate)
{
    if (PQstatus(conn) != CONNECTION_OK || !sqlstate)
        return LIBRARY_FAIL_IO;
    /* 55P03 lock_not_available (lock_timeout), 40001 serialization
     * failure, 40P01 deadlock: another session holds what we need */
    if (!strcmp(sqlstate, "55P03") || !strcmp(sqlstate, "40001") ||
        !strcmp(sqlstate, "40P01"))
        return LIBRARY_FAIL_BUSY;
    if (!strcmp(sqlstate, "53100"))  /* disk_full */
        return LIBRARY_FAIL_FULL;
    if (!strncmp(sqlstate, "08", 2) || !strncmp(sqlstate, "57P", 3))
        return LIBRARY_FAIL_IO;      /* connection gone, server shutting down */
    if (!strcmp(sqlstate, "XX001") || !strcmp(sqlstate, "XX002"))
        return LIBRARY_FAIL_DAMAGED; /* data_corrupted, index_corrupted */
    return LIBRARY_FAIL_OTHER;
}

/* Remember why a result failed (res may be NULL); returns LIBRARY_FAIL. */
static int note(rm_library *lib, const PGresult *res)
{
    PGconn *conn = conn_of(lib);
    const char *message = res ? PQresultErrorMessage(res) : "";
    if (!message[0])
        message = PQerrorMessage(conn);
    char detail[sizeof lib->fail_detail];
    snprintf(detail, sizeof detail, "%s", message);
    size_t n = strlen(detail);
    while (n && isspace((unsigned char)detail[n - 1]))
        detail[--n] = '\0';
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    library_fail_set(lib, kind_of(conn, state), detail);
    return LIBRARY_FAIL;
}

static bool succeeded(const PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static int setup_session(rm_library *lib);

/* A connection the server dropped (a restart, the network) is made again
 * before the next statement: libpq does not do that by itself. A
 * transaction it was in is gone with it, and its caller has already
 * failed on that. */
static void reconnect_if_lost(rm_library *lib)
{
    PGconn *conn = conn_of(lib);
    if (PQstatus(conn) == CONNECTION_OK)
        return;
    PQreset(conn);
    if (PQstatus(conn) == CONNECTION_OK)
        setup_session(lib);
}

static int pg_exec(rm_library *lib, const char *sql)
{
    reconnect_if_lost(lib);
    PGresult *res = PQexec(conn_of(lib), sql);
    int rc = succeeded(res) ? LIBRARY_DONE : note(lib, res);
    PQclear(res);
    return rc;
}

/* ---- statements ---------------------------------------------------------- */

static size_t skip_quoted(const char *sql, size_t i, char quote)
{
    for (i++; sql[i] && sql[i] != quote; i++)
        ;
    return sql[i] ? i + 1 : i;
}

/* "?" and "?N" (SQLite) become "$N" (PostgreSQL); text in quotes is
 * copied as it is. Returns the highest parameter number, or -1 when the
 * statement has more than PG_MAX_PARAMS. */
static int translate_parameters(const char *sql, char *out)
{
    int next = 1, highest = 0;
    size_t o = 0;
    for (size_t i = 0; sql[i];) {
        if (sql[i] == '\'' || sql[i] == '"') {
            size_t end = skip_quoted(sql, i, sql[i]);
            memcpy(out + o, sql + i, end - i);
            o += end - i;
            i = end;
            continue;
        }
        if (sql[i] != '?') {
            out[o++] = sql[i++];
            continue;
        }
        i++;
        int number = next;
        if (isdigit((unsigned char)sql[i]))
            number = (int)strtol(sql + i, NULL, 10);
        while (isdigit((unsigned char)sql[i]))
            i++;
        next = number + 1;
        if (number > highest)
            highest = number;
        if (highest > PG_MAX_PARAMS)
            return -1;
        o += (size_t)sprintf(out + o, "$%d", number);
    }
    out[o] = '\0';
    return highest;
}

static int fail_with(rm_library *lib, const char *detail)
{
    library_fail_set(lib, LIBRARY_FAIL_OTHER, detail);
    return LIBRARY_FAIL;
}

static int pg_prepare(rm_library *lib, const char *sql, library_stmt **out)
{
    reconnect_if_lost(lib);
    pg_stmt *s = calloc(1, sizeof *s);
    /* "?" (1 byte) becomes at most "$256" (4 bytes) */
    char *text = malloc(strlen(sql) * 4 + 1);
    if (!s || !text) {
        free(s);
        free(text);
        return fail_with(lib, "out of memory");
    }
    s->base.lib = lib;
    s->sql = text;
    s->row = -1;
    s->nparams = translate_parameters(sql, text);
    if (s->nparams < 0) {
        free(text);
        free(s);
        return fail_with(lib, "a statement with too many parameters");
    }
    for (int i = 0; i < s->nparams; i++)
        s->types[i] = OID_TEXT;  /* unused numbers: typed, NULL */
    *out = &s->base;
    return LIBRARY_DONE;
}

/* The slot of parameter i (1-based), emptied; NULL when out of range. */
static char **slot(pg_stmt *s, int i, Oid type)
{
    if (i < 1 || i > s->nparams)
        return NULL;
    free(s->values[i - 1]);
    s->values[i - 1] = NULL;
    s->types[i - 1] = type;
    s->lengths[i - 1] = 0;
    s->formats[i - 1] = 0;
    return &s->values[i - 1];
}

static void bind_formatted(library_stmt *st, int i, Oid type, const char *v)
{
    char **p = slot(pg(st), i, type);
    if (p)
        *p = strdup(v);
}

static void pg_bind_int64(library_stmt *s, int i, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)v);
    bind_formatted(s, i, OID_INT8, text);
}

static void pg_bind_double(library_stmt *s, int i, double v)
{
    char text[32];
    if (isinf(v))
        snprintf(text, sizeof text, "%sInfinity", v < 0 ? "-" : "");
    else
        snprintf(text, sizeof text, "%.17g", v);  /* round-trips exactly */
    bind_formatted(s, i, OID_FLOAT8, text);
}

static void pg_bind_text(library_stmt *s, int i, const char *v)
{
    bind_formatted(s, i, OID_TEXT, v);
}

static void pg_bind_blob(library_stmt *st, int i, const void *v, size_t n)
{
    pg_stmt *s = pg(st);
    char **p = slot(s, i, OID_BYTEA);
    if (!p || !(*p = malloc(n ? n : 1)))
        return;
    memcpy(*p, v, n);
    s->lengths[i - 1] = (int)n;
    s->formats[i - 1] = 1;  /* binary: the bytes as they are */
}

static void pg_bind_null(library_stmt *s, int i)
{
    slot(pg(s), i, OID_UNKNOWN);  /* typed by where it goes */
}

static int run(pg_stmt *s)
{
    rm_library *lib = s->base.lib;
    s->result = PQexecParams(conn_of(lib), s->sql, s->nparams, s->types,
                             (const char *const *)s->values, s->lengths,
                             s->formats, s->base.binary_rows ? 1 : 0);
    if (!succeeded(s->result))
        return note(lib, s->result);
    return LIBRARY_DONE;
}

static int pg_step(library_stmt *st)
{
    pg_stmt *s = pg(st);
    if (!s->result && run(s) != LIBRARY_DONE)
        return LIBRARY_FAIL;
    if (PQresultStatus(s->result) != PGRES_TUPLES_OK)
        return LIBRARY_DONE;
    if (s->row + 1 >= PQntuples(s->result))
        return LIBRARY_DONE;
    s->row++;
    return LIBRARY_ROW;
}

static void pg_reset(library_stmt *st)
{
    pg_stmt *s = pg(st);
    PQclear(s->result);
    s->result = NULL;
    s->row = -1;
}

static void pg_finalize(library_stmt *st)
{
    pg_stmt *s = pg(st);
    pg_reset(st);
    for (int i = 0; i < s->nparams; i++)
        free(s->values[i]);
    PQfreemem(s->blob);
    free(s->sql);
    free(s);
}

static bool pg_column_null(library_stmt *st, int c)
{
    pg_stmt *s = pg(st);
    return PQgetisnull(s->result, s->row, c);
}

static bool is_binary(const pg_stmt *s, int c)
{
    return PQfformat(s->result, c) == 1;
}

/* A binary value: big-endian, n bytes. */
static uint64_t big_endian(const pg_stmt *s, int c, int n)
{
    const unsigned char *p =
        (const unsigned char *)PQgetvalue(s->result, s->row, c);
    uint64_t v = 0;
    for (int i = 0; i < n && i < PQgetlength(s->result, s->row, c); i++)
        v = v << 8 | p[i];
    return v;
}

/* A binary integer column (int2, int4, int8), sign extended. */
static int64_t binary_int64(const pg_stmt *s, int c)
{
    switch (PQftype(s->result, c)) {
    case OID_INT2: return (int16_t)big_endian(s, c, 2);
    case OID_INT4: return (int32_t)big_endian(s, c, 4);
    default: return (int64_t)big_endian(s, c, 8);
    }
}

static int64_t pg_column_int64(library_stmt *st, int c)
{
    pg_stmt *s = pg(st);
    if (PQgetisnull(s->result, s->row, c))
        return 0;
    if (is_binary(s, c))
        return binary_int64(s, c);
    return strtoll(PQgetvalue(s->result, s->row, c), NULL, 10);
}

static double pg_column_double(library_stmt *st, int c)
{
    pg_stmt *s = pg(st);
    if (PQgetisnull(s->result, s->row, c))
        return 0;
    return strtod(PQgetvalue(s->result, s->row, c), NULL);
}

static const char *pg_column_text(library_stmt *st, int c)
{
    pg_stmt *s = pg(st);
    if (PQgetisnull(s->result, s->row, c))
        return NULL;
    return PQgetvalue(s->result, s->row, c);
}

static const void *pg_column_blob(library_stmt *st, int c, size_t *n)
{
    pg_stmt *s = pg(st);
    PQfreemem(s->blob);
    s->blob = NULL;
    *n = 0;
    if (PQgetisnull(s->result, s->row, c))
        return NULL;
    if (is_binary(s, c)) {
        *n = (size_t)PQgetlength(s->result, s->row, c);
        return PQgetvalue(s->result, s->row, c);
    }
    s->blob = PQunescapeBytea(
        (const unsigned char *)PQgetvalue(s->result, s->row, c), n);
    return s->blob;
}

/* ---- the database -------------------------------------------------------- */

/* The server keeps its own pages sound (checksums, WAL); what a client
 * can check is that it answers. */
static rm_status pg_verify(rm_library *lib, bool full, rm_error *err)
{
    (void)full;
    if (pg_exec(lib, "SELECT 1") != LIBRARY_DONE)
        return library_sql_error(lib, "checking the database", err);
    return RM_OK;
}

static bool pg_in_transaction(rm_library *lib)
{
    return PQtransactionStatus(conn_of(lib)) != PQTRANS_IDLE;
}

/* One row, one column, as text; LIBRARY_ROW with *out filled (NULL for
 * NULL), or LIBRARY_FAIL. */
static int query_value(rm_library *lib, const char *sql, char *out, size_t cap)
{
    PGresult *res = PQexec(conn_of(lib), sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int rc = note(lib, res);
        PQclear(res);
        return rc;
    }
    out[0] = '\0';
    if (!PQgetisnull(res, 0, 0))
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return LIBRARY_ROW;
}

static int pg_schema_version(rm_library *lib, int *version)
{
    char text[32];
    if (query_value(lib, "SELECT to_regclass('rollmap_schema')", text,
                    sizeof text) != LIBRARY_ROW)
        return LIBRARY_FAIL;
    *version = 0;
    if (!text[0])
        return LIBRARY_DONE;  /* a new database */
    if (query_value(lib, "SELECT max(version) FROM rollmap_schema", text,
                    sizeof text) != LIBRARY_ROW)
        return LIBRARY_FAIL;
    *version = atoi(text);
    return LIBRARY_DONE;
}

/* Settings SQLite has no words for, for the tables of the schema version
 * they follow; each may run again. Session chunks are stored as they
 * are: compressing each 1 MiB chunk again (pglz) halved the upload speed
 * to save a third of the space (docs/PERFORMANCE.md). */
static const struct { int version; const char *sql; } postgresql_only[] = {
    {5, "ALTER TABLE session_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL"},
};

static int pg_set_schema_version(rm_library *lib, int version)
{
    for (size_t i = 0; i < sizeof postgresql_only / sizeof postgresql_only[0];
         i++)
        if (postgresql_only[i].version <= version &&
            pg_exec(lib, postgresql_only[i].sql) != LIBRARY_DONE)
            return LIBRARY_FAIL;
    char sql[200];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS rollmap_schema "
             "(version integer NOT NULL); DELETE FROM rollmap_schema; "
             "INSERT INTO rollmap_schema VALUES (%d)", version);
    return pg_exec(lib, sql);
}

/* SQLite's column types as PostgreSQL's: its INTEGER is 64-bit, REAL a
 * double; tables without rowid are what PostgreSQL's are anyway. */
static const struct { const char *sqlite, *postgresql; } type_map[] = {
    {"INTEGER PRIMARY KEY AUTOINCREMENT",
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
    {"INTEGER", "BIGINT"},
    {"REAL", "DOUBLE PRECISION"},
    {"BLOB", "BYTEA"},
    {" WITHOUT ROWID", ""},
};

static bool word_at(const char *sql, size_t i, const char *word)
{
    size_t n = strlen(word);
    return !strncmp(sql + i, word, n) &&
           (i == 0 || !isalnum((unsigned char)sql[i - 1])) &&
           !isalnum((unsigned char)sql[i + n]) && sql[i + n] != '_';
}

/* The migration step in PostgreSQL's types; malloc'd. */
static char *postgresql_types(const char *sql)
{
    /* the longest replacement grows "REAL" by 12 characters per word */
    char *out = malloc(strlen(sql) * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; out && sql[i];) {
        size_t m = 0;
        while (m < sizeof type_map / sizeof type_map[0] &&
               !word_at(sql, i, type_map[m].sqlite))
            m++;
        if (m == sizeof type_map / sizeof type_map[0]) {
            out[o++] = sql[i++];
            continue;
        }
        o += (size_t)sprintf(out + o, "%s", type_map[m].postgresql);
        i += strlen(type_map[m].sqlite);
    }
    if (out)
        out[o] = '\0';
    return out;
}

static int pg_migrate_step(rm_library *lib, const char *sql)
{
    char *translated = postgresql_types(sql);
    if (!translated)
        return fail_with(lib, "out of memory");
    int rc = pg_exec(lib, translated);
    free(translated);
    return rc;
}

/* "postgresql://user@host:port/dbname" from the connection: what messages
 * name, without a password whatever the target held. */
static char *display_name(PGconn *conn)
{
    const char *host = PQhost(conn);
    char *name = NULL;
    if (asprintf(&name, "postgresql://%s@%s%s:%s/%s", PQuser(conn),
                 host && host[0] == '/' ? "" : host ? host : "",
                 host && host[0] == '/' ? host : "", PQport(conn),
                 PQdb(conn)) < 0)
        return NULL;
    return name;
}

/* A password on the command line or in the configuration would show in
 * ps and logs: libpq reads it from ~/.pgpass or a service file instead. */
static rm_status refuse_password(const char *target, rm_error *err)
{
    char *message = NULL;
    PQconninfoOption *opts = PQconninfoParse(target, &message);
    if (!opts) {
        rm_status st = rm_error_set(err, RM_ERR_ARG,
                                    "not a PostgreSQL connection "
                                    "string: %s", message ? message
                                                          : "out of memory");
        PQfreemem(message);
        return st;
    }
    bool has_password = false;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && o->val[0])
            has_password = true;
    PQconninfoFree(opts);
    if (has_password)
        return rm_error_set(err, RM_ERR_ARG,
                            "the PostgreSQL connection string holds "
                            "a password; put it in ~/.pgpass (or "
                            "PGPASSFILE) or a service file instead, where "
                            "ps and logs do not show it (docs/CLINIC.md)");
    return RM_OK;
}

/* Every connection: the busy timeout as a lock timeout (milliseconds),
 * and no NOTICEs on stderr (a library never prints). */
static int setup_session(rm_library *lib)
{
    char sql[120];
    snprintf(sql, sizeof sql,
             "SET lock_timeout = %d; SET client_min_messages = warning",
             RM_LIBRARY_BUSY_TIMEOUT_MS);
    return pg_exec(lib, sql);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* libpq waits for a server that does not answer (a host that is down, a
 * firewall that drops packets) as long as the operating system's TCP
 * timeouts, minutes; a connection string or PGCONNECT_TIMEOUT that sets
 * connect_timeout still decides. */
static PGconn *connect_with_timeout(const char *target)
{
    static const char *const keywords[] = {"connect_timeout", "dbname", NULL};
    const char *values[] = {NUMBER_TEXT(RM_LIBRARY_CONNECT_TIMEOUT_S), target,
                            NULL};
    const char *env = getenv("PGCONNECT_TIMEOUT");
    /* keywords after "dbname" would override the target's, ones before
     * it are overridden by them */
    if (env && env[0])
        return PQconnectdbParams(keywords + 1, values + 1, 1);
    return PQconnectdbParams(keywords, values, 1);
}

static rm_status pg_open(rm_library *lib, const char *target, rm_error *err)
{
    rm_status st = refuse_password(target, err);
    if (st != RM_OK)
        return st;
    PGconn *conn = connect_with_timeout(target);
    lib->conn = conn;
    if (!conn)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    if (PQstatus(conn) != CONNECTION_OK) {
        char detail[sizeof lib->fail_detail];
        snprintf(detail, sizeof detail, "%s", PQerrorMessage(conn));
        detail[strcspn(detail, "\n")] = '\0';
        return rm_error_set(err, RM_ERR_IO,
                            "cannot connect to the PostgreSQL "
                            "server: %s", detail);
    }
    if (!(lib->path = display_name(conn)))
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    if (setup_session(lib) != LIBRARY_DONE)
        return library_sql_error(lib, "opening", err);
    return RM_OK;
}

static void pg_close(rm_library *lib)
{
    PQfinish(conn_of(lib));
    lib->conn = NULL;
}

const library_backend library_postgresql_backend = {
    .name = "postgresql",
    .stores_data = true,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .column_null = pg_column_null,
    .column_int64 = pg_column_int64,
    .column_double = pg_column_double,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .verify = pg_verify,
    .in_transaction = pg_in_transaction,
    .begin_read_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    .begin_write_sql = "BEGIN",
    .begin_migration_sql =
        "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")",
    .schema_version = pg_schema_version,
    .set_schema_version = pg_set_schema_version,
    .migrate_step = pg_migrate_step,
};
