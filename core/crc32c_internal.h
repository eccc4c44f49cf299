/* The two CRC-32C implementations behind rm_crc32c, for the test that
 * checks they agree and the benchmark that compares them. */
#ifndef ROLLMAP_CRC32C_INTERNAL_H
#define ROLLMAP_CRC32C_INTERNAL_H

#include "rollmap_core.h"

typedef uint32_t (*core_crc32c_fn)(uint32_t crc, const void *data, size_t len);

/** The slicing-by-8 table code (every processor). */
core_crc32c_fn core_crc32c_table_code(void);
/** The processor's CRC-32C instruction, or NULL when it has none. */
core_crc32c_fn core_crc32c_processor_code(void);

#endif
