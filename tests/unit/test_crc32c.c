/* CRC-32C against published check values. */
#include "crc32c_internal.h"
#include "testutil.h"

#include <stdlib.h>

#include <string.h>

static void check_value_of_123456789(void **state)
{
    (void)state;
    /* The standard check value of CRC-32C (RFC 3720, "123456789"). */
    assert_int_equal(rm_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void thirty_two_zero_bytes(void **state)
{
    (void)state;
    uint8_t zeros[32] = {0};
    /* RFC 3720 appendix B.4 example. */
    assert_int_equal(rm_crc32c(0, zeros, sizeof zeros), 0x8A9136AAu);
}

static void incremental_equals_one_shot(void **state)
{
    (void)state;
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = rm_crc32c(0, data, sizeof data);
    for (size_t split = 0; split <= sizeof data; split += 37) {
        uint32_t part = rm_crc32c(0, data, split);
        assert_int_equal(rm_crc32c(part, data + split, sizeof data - split), whole);
    }
}

/* The processor's instruction and the tables agree on random bytes of
 * every length up to 300 at every alignment within 8 bytes, started from
 * random CRCs. */
static void instruction_agrees_with_tables(void **state)
{
    (void)state;
    core_crc32c_fn tables = core_crc32c_table_code();
    core_crc32c_fn instruction = core_crc32c_processor_code();
    if (!instruction)
        skip();
    uint8_t data[8 + 300];
    srand(14);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)rand();
    for (size_t align = 0; align < 8; align++)
        for (size_t len = 0; len + align <= sizeof data && len <= 300; len++) {
            uint32_t start = (uint32_t)rand() ^ (uint32_t)rand() << 16;
            assert_int_equal(instruction(start, data + align, len),
                             tables(start, data + align, len));
        }
}

static void chosen_code_is_one_of_the_two(void **state)
{
    (void)state;
    uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(rm_crc32c(0, data, sizeof data),
                     core_crc32c_table_code()(0, data, sizeof data));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_value_of_123456789),
        cmocka_unit_test(thirty_two_zero_bytes),
        cmocka_unit_test(incremental_equals_one_shot),
        cmocka_unit_test(instruction_agrees_with_tables),
        cmocka_unit_test(chosen_code_is_one_of_the_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
