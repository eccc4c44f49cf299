/* Helpers shared by the unit tests (cmocka). */
#ifndef ROLLMAP_TESTUTIL_H
#define ROLLMAP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>

#include "rollmap_daemon.h"

/** Fail unless |actual - expected| <= tolerance (NaN never passes). */
#define assert_near(actual, expected, tolerance)                               \
    do {                                                                       \
        double got_ = (actual), want_ = (expected);                            \
        if (!(fabs(got_ - want_) <= (tolerance)))                              \
            fail_msg("%s = %.17g, expected %.17g", #actual, got_, want_);      \
    } while (0)

/** A fresh temporary directory (removed by testutil_rmdir). */
char *testutil_mkdtemp(void);
/** Remove a directory tree. */
void testutil_rmdir(const char *path);
/** path = dir/name in a static-free malloc'd string. */
char *testutil_path(const char *dir, const char *name);
/** A test's own temporary directory and the path of a file in it, as a
 *  cmocka state. */
typedef struct testutil_file_fixture {
    char *dir;
    char *path;
} testutil_file_fixture;
/** *state = a new fixture whose path is dir/name: for a test's setup.
 *  -1 when the directory cannot be made. */
int testutil_file_fixture_setup(void **state, const char *name);
/** Remove the fixture's directory and free it: a cmocka teardown. */
int testutil_file_fixture_teardown(void **state);
/** Read a whole file; *len gets its size. NULL on failure. */
uint8_t *testutil_read_file(const char *path, size_t *len);
/** The text of dir/name, NUL-terminated (malloc'd); NULL on failure. */
char *testutil_read_text(const char *dir, const char *name);
/** Write a whole file. 0 on success. */
int testutil_write_file(const char *path, const void *data, size_t len);
/** Load a profile shipped in docs/profiles (found from the source tree);
 *  fails the test if it does not load. */
void testutil_load_shipped_profile(rm_profile *p, const char *file);

/** The PostgreSQL server of tests/postgresql/with-cluster.sh
 *  ($ROLLMAP_TEST_POSTGRESQL), or NULL: the library tests then run on
 *  SQLite. */
const char *testutil_postgresql_server(void);
/** A new, empty library target for the backend under test: the SQLite
 *  file dir/name, or a new database on the test server (dropped by
 *  testutil_library_drop). malloc'd. */
char *testutil_library_target(const char *dir, const char *name);
/** Drop a target's PostgreSQL database (nothing for a file). */
void testutil_library_drop(const char *target);

#endif
