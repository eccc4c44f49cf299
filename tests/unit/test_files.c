/* The file-writing layer: folders made with their parents, files that
 * appear whole or not at all, private modes whatever the umask, and a full
 * disk reported as such. All on real files. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fixture {
    char *dir;
    mode_t umask_before;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = testutil_mkdtemp();
    f->umask_before = umask(0); /* the modes asked for must not need a umask */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    umask(f->umask_before);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static size_t entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void expect_text(const char *path, const char *text)
{
    size_t len;
    char *got = (char *)testutil_read_file(path, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(got, text, len);
    free(got);
}

static rm_status fill_text(FILE *out, const void *ctx, rm_error *err)
{
    (void)err;
    fputs(ctx, out);
    return RM_OK;
}

static rm_status fill_fails(FILE *out, const void *ctx, rm_error *err)
{
    fputs(ctx, out);
    return rm_error_set(err, RM_ERR_FORMAT, "the data ran out");
}

static void make_dirs_creates_parents_with_the_mode(void **state)
{
    fixture *f = *state;
    char *deep = testutil_path(f->dir, "a/b//c");
    rm_error err;
    assert_int_equal(rm_make_dirs(deep, 0700, &err), RM_OK);
    char *a = testutil_path(f->dir, "a");
    assert_int_equal(mode_of(a), 0700);
    assert_int_equal(mode_of(deep), 0700);
    assert_int_equal(rm_make_dirs(deep, 0700, &err), RM_OK); /* again: fine */
    free(a);
    free(deep);
}

static void make_dirs_over_a_file_names_it(void **state)
{
    fixture *f = *state;
    char *file = testutil_path(f->dir, "plain");
    assert_int_equal(testutil_write_file(file, "x", 1), 0);
    char *below = testutil_path(file, "sub");
    rm_error err;
    assert_int_equal(rm_make_dirs(file, 0700, &err), RM_ERR_IO);
    assert_non_null(strstr(err.message, "exists and is not a folder"));
    assert_int_not_equal(rm_make_dirs(below, 0700, &err), RM_OK);
    assert_non_null(strstr(err.message, file));
    free(below);
    free(file);
}

static void make_parent_dirs_leaves_the_file_to_the_caller(void **state)
{
    fixture *f = *state;
    char *file = testutil_path(f->dir, "x/y/report.json");
    char *parent = testutil_path(f->dir, "x/y");
    rm_error err;
    assert_int_equal(rm_make_parent_dirs(file, 0700, &err), RM_OK);
    assert_int_equal(mode_of(parent), 0700);
    assert_int_not_equal(access(file, F_OK), 0);
    free(parent);
    free(file);
}

static void atomic_write_is_private_under_umask_000(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "notes.txt");
    rm_error err;
    assert_int_equal(rm_atomic_write(path, 0, true, fill_text, "client C-017\n",
                                     &err), RM_OK);
    expect_text(path, "client C-017\n");
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(entries_in(f->dir), 1); /* no temporary file left */
    free(path);
}

static void atomic_write_takes_the_mode_asked_for(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "shared.ini");
    rm_error err;
    assert_int_equal(rm_atomic_write(path, 0644, false, fill_text, "a = 1\n",
                                     &err), RM_OK);
    assert_int_equal(mode_of(path), 0644);
    free(path);
}

static void atomic_write_replaces_the_old_file_whole(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "report.json");
    assert_int_equal(testutil_write_file(path, "old", 3), 0);
    rm_atomic_file af;
    rm_error err;
    assert_int_equal(rm_atomic_open(&af, path, 0, false, &err), RM_OK);
    fputs("new contents", af.f);
    fflush(af.f);
    expect_text(path, "old"); /* readers see the old file until the commit */
    assert_int_equal(rm_atomic_commit(&af, &err), RM_OK);
    expect_text(path, "new contents");
    assert_int_equal(entries_in(f->dir), 1);
    free(path);
}

static void abort_and_failed_fill_keep_the_old_file(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "summary.txt");
    assert_int_equal(testutil_write_file(path, "old", 3), 0);
    rm_atomic_file af;
    rm_error err;
    assert_int_equal(rm_atomic_open(&af, path, 0, false, &err), RM_OK);
    fputs("half", af.f);
    rm_atomic_abort(&af);
    expect_text(path, "old");
    assert_int_equal(rm_atomic_write(path, 0, false, fill_fails, "half", &err),
                     RM_ERR_FORMAT);
    assert_string_equal(err.message, "the data ran out");
    expect_text(path, "old");
    assert_int_equal(entries_in(f->dir), 1);
    free(path);
}

static void missing_folder_is_an_error_naming_the_file(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "no/such/x.edf");
    rm_error err;
    assert_int_equal(rm_atomic_write(path, 0, false, fill_text, "x", &err),
                     RM_ERR_IO);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "cannot create"));
    free(path);
}

static void full_disk_is_no_space_and_keeps_the_old_file(void **state)
{
    fixture *f = *state;
    char *path = testutil_path(f->dir, "big.csv");
    assert_int_equal(testutil_write_file(path, "old", 3), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* A file size limit fails the write the way a full disk does. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        static char big[65536];
        memset(big, 'x', sizeof big - 1);
        rm_error err;
        rm_status st = rm_atomic_write(path, 0, true, fill_text, big, &err);
        _exit(st == RM_ERR_NO_SPACE && strstr(err.message, path) ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_text(path, "old");
    assert_int_equal(entries_in(f->dir), 1);
    free(path);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(make_dirs_creates_parents_with_the_mode),
        T(make_dirs_over_a_file_names_it),
        T(make_parent_dirs_leaves_the_file_to_the_caller),
        T(atomic_write_is_private_under_umask_000),
        T(atomic_write_takes_the_mode_asked_for),
        T(atomic_write_replaces_the_old_file_whole),
        T(abort_and_failed_fill_keep_the_old_file),
        T(missing_folder_is_an_error_naming_the_file),
        T(full_disk_is_no_space_and_keeps_the_old_file),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
