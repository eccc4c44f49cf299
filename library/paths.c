/* Where the library keeps its database. */
#include "rollmap_library.h"

rm_status rm_library_default_db(char *out, size_t cap, rm_error *err)
{
    return rm_data_path(out, cap, "library.db", err);
}
