/* Memory: mapping the pages of large arrays in bulk, or in huge pages. */
#include "rollmap_core.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void rm_prefault(void *p, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)p + bytes) & ~(page - 1);
    /* Only whole pages inside the allocation; a failure just leaves the
     * pages to fault one by one. */
    if (to > from)
        (void)madvise((void *)from, to - from, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)bytes;
#endif
}

/* The transparent huge page of x86-64 and of arm64 with 4 KiB pages. */
#define HUGE_PAGE ((size_t)2 << 20)

void *rm_alloc_large(size_t bytes)
{
    if (bytes < HUGE_PAGE / 2)
        return malloc(bytes);
    /* Whole huge pages from a huge-page boundary, so that none of the
     * array falls back to small pages at either end. */
    size_t whole = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = NULL;
    if (whole < bytes || posix_memalign(&p, HUGE_PAGE, whole) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* Refused where the kernel has no transparent huge pages: the array
     * then simply has small ones. */
    (void)madvise(p, whole, MADV_HUGEPAGE);
#endif
    return p;
}
