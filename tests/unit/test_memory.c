/* rm_prefault: the pages of a fresh mapping are mapped in bulk, only
 * whole pages inside the range given. rm_alloc_large: large arrays on
 * huge-page boundaries, advised for huge pages. */
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 64

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static bool resident(uint8_t *p, size_t page)
{
    unsigned char in_core = 0;
    assert_int_equal(mincore(p + page * page_size(), page_size(), &in_core),
                     0);
    return in_core & 1;
}

/* Kernels before 5.14 refuse MADV_POPULATE_WRITE (rm_prefault then does
 * nothing, which is allowed). */
static bool kernel_can_populate(uint8_t *p)
{
#ifdef MADV_POPULATE_WRITE
    return madvise(p, page_size(), MADV_POPULATE_WRITE) == 0;
#else
    (void)p;
    return false;
#endif
}

static void prefault_maps_the_whole_pages_inside_the_range(void **state)
{
    (void)state;
    size_t bytes = PAGES * page_size();
    uint8_t *p = mmap(NULL, bytes + page_size(), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    if (!kernel_can_populate(p + bytes)) {
        munmap(p, bytes + page_size());
        skip();
    }
    for (size_t k = 0; k < PAGES; k++)
        assert_false(resident(p, k));
    /* from inside the first page to inside the last: those two are only
     * partly in the range and stay unmapped */
    rm_prefault(p + 100, bytes - 200);
    assert_false(resident(p, 0));
    for (size_t k = 1; k + 1 < PAGES; k++)
        assert_true(resident(p, k));
    assert_false(resident(p, PAGES - 1));
    munmap(p, bytes + page_size());
}

static void prefault_of_less_than_a_page_does_nothing(void **state)
{
    (void)state;
    uint8_t *p = mmap(NULL, 2 * page_size(), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    rm_prefault(p + page_size() / 2, page_size());
    assert_false(resident(p, 0));
    assert_false(resident(p, 1));
    munmap(p, 2 * page_size());
}

#define HUGE_PAGE ((uintptr_t)2 << 20)

/* The VmFlags line of /proc/self/smaps for the mapping holding p, or ""
 * if there is none. */
static void vm_flags_of(const void *p, char *flags, size_t size)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool inside = false;
    flags[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        unsigned long from, to;
        if (sscanf(line, "%lx-%lx ", &from, &to) == 2)
            inside = from <= (uintptr_t)p && (uintptr_t)p < to;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, size, "%s", line);
            break;
        }
    }
    fclose(f);
}

static bool kernel_has_huge_pages(void)
{
    return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

static void large_arrays_start_on_a_huge_page_advised_for_huge_pages(void **state)
{
    (void)state;
    size_t bytes = 3 * HUGE_PAGE + 12345;
    uint8_t *p = rm_alloc_large(bytes);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % HUGE_PAGE, 0);
    memset(p, 0xA5, bytes); /* all of it is usable */
    if (kernel_has_huge_pages()) {
        char flags[512];
        vm_flags_of(p + bytes - 1, flags, sizeof flags);
        if (!strstr(flags, " hg"))
            fail_msg("no huge-page advice on the array's last page: %s", flags);
    }
    free(p);
}

static void a_megabyte_is_large_and_less_is_plain_memory(void **state)
{
    (void)state;
    uint8_t *large = rm_alloc_large(HUGE_PAGE / 2);
    assert_non_null(large);
    assert_int_equal((uintptr_t)large % HUGE_PAGE, 0);
    memset(large, 1, HUGE_PAGE / 2);
    uint8_t *plain = rm_alloc_large(100);
    assert_non_null(plain);
    memset(plain, 2, 100);
    if (kernel_has_huge_pages()) {
        char flags[512];
        vm_flags_of(plain, flags, sizeof flags);
        assert_null(strstr(flags, " hg"));
    }
    free(plain);
    free(large);
}

static void an_impossible_size_is_out_of_memory(void **state)
{
    (void)state;
    assert_null(rm_alloc_large(SIZE_MAX - 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefault_maps_the_whole_pages_inside_the_range),
        cmocka_unit_test(prefault_of_less_than_a_page_does_nothing),
        cmocka_unit_test(large_arrays_start_on_a_huge_page_advised_for_huge_pages),
        cmocka_unit_test(a_megabyte_is_large_and_less_is_plain_memory),
        cmocka_unit_test(an_impossible_size_is_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
