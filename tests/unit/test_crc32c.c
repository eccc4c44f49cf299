/* CRC-32C against published check values. */
#include "testutil.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_value_of_123456789),
        cmocka_unit_test(thirty_two_zero_bytes),
        cmocka_unit_test(incremental_equals_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
