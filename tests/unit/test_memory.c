/* rm_prefault: the pages of a fresh mapping are mapped in bulk, only
 * whole pages inside the range given. */
#include "testutil.h"

#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefault_maps_the_whole_pages_inside_the_range),
        cmocka_unit_test(prefault_of_less_than_a_page_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
