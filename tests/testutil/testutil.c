#include "testutil.h"

#include <ftw.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *testutil_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *path = testutil_path(base ? base : "/tmp", "rollmap-test-XXXXXX");
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

int testutil_file_fixture_setup(void **state, const char *name)
{
    testutil_file_fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = testutil_mkdtemp())) {
        free(f);
        return -1;
    }
    f->path = testutil_path(f->dir, name);
    *state = f;
    return 0;
}

int testutil_file_fixture_teardown(void **state)
{
    testutil_file_fixture *f = *state;
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void testutil_rmdir(const char *path)
{
    if (path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *testutil_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (path)
        snprintf(path, len, "%s/%s", dir, name);
    return path;
}

uint8_t *testutil_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data)
        *len = (size_t)size;
    return data;
}

char *testutil_read_text(const char *dir, const char *name)
{
    char *path = testutil_path(dir, name);
    size_t len = 0;
    char *text = (char *)testutil_read_file(path, &len);
    free(path);
    char *z = text ? realloc(text, len + 1) : NULL;
    if (!z) {
        free(text);
        return NULL;
    }
    z[len] = '\0';
    return z;
}

/* docs/profiles is found from the test data folder (SOURCE/tests/data),
 * which need not exist. */
void testutil_load_shipped_profile(rm_profile *p, const char *file)
{
    const char data[] = ROLLMAP_TEST_DATA, tail[] = "tests/data";
    char path[512];
    snprintf(path, sizeof path, "%.*sdocs/profiles/%s",
             (int)(sizeof data - sizeof tail), data, file);
    rm_error err;
    if (rm_profile_load(p, path, &err) != RM_OK)
        fail_msg("%s", err.message);
}

int testutil_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t written = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && written == len) ? 0 : -1;
}

const char *testutil_postgresql_server(void)
{
    const char *server = getenv("ROLLMAP_TEST_POSTGRESQL");
    return server && server[0] ? server : NULL;
}

/* Run one statement on the test server's maintenance database. */
static void run_on_server(const char *sql)
{
    PGconn *conn = PQconnectdb(testutil_postgresql_server());
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("test server: %s", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(conn);
}

char *testutil_library_target(const char *dir, const char *name)
{
    if (!testutil_postgresql_server())
        return testutil_path(dir, name);
    static int count;
    char db[64], sql[128];
    snprintf(db, sizeof db, "rm_test_%ld_%d", (long)getpid(), ++count);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    run_on_server(sql);
    char *target = NULL;
    if (asprintf(&target, "%s dbname=%s", testutil_postgresql_server(),
                 db) < 0)
        fail_msg("out of memory");
    return target;
}

void testutil_library_drop(const char *target)
{
    const char *name = strstr(target, " dbname=rm_test_");
    if (!testutil_postgresql_server() || !name)
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             name + strlen(" dbname="));
    run_on_server(sql);
}
