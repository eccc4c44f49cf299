/* Memory: mapping the pages of large arrays in bulk. */
#include "rollmap_core.h"

#include <stdint.h>
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
