/*
 * CRC-32C (Castagnoli): the processor's CRC-32C instruction where there is
 * one (x86-64 SSE4.2 `crc32`, ARMv8 CRC extension), chosen once at run
 * time, else slicing-by-8 tables built once.
 */
#include "crc32c_internal.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <sys/auxv.h>
#endif

#define CRC32C_POLY_REFLECTED 0x82F63B78u

/* ------------------------------------------------------------------------ */
/* Tables (any processor)                                                   */
/* ------------------------------------------------------------------------ */

static uint32_t crc_table[8][256];

static void crc_table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xFF];
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t crc32c_tables(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = load_le32(p) ^ crc;
        uint32_t hi = load_le32(p + 4);
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
              crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

/* ------------------------------------------------------------------------ */
/* The processor's instruction                                              */
/* ------------------------------------------------------------------------ */

/* Both instructions take the CRC register as it is kept between bytes
 * (without the final inversion) and eight little-endian bytes at a time;
 * memcpy loads them whatever the buffer's alignment. */
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_instruction(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        c = _mm_crc32_u64(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static bool processor_has_crc32c(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#elif defined(__aarch64__) && defined(HWCAP_CRC32)
__attribute__((target("+crc")))
static uint32_t crc32c_instruction(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        c = __crc32cd(c, word);
    }
    while (len--)
        c = __crc32cb(c, *p++);
    return ~c;
}

static bool processor_has_crc32c(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#else
#define crc32c_instruction NULL
static bool processor_has_crc32c(void)
{
    return false;
}
#endif

/* ------------------------------------------------------------------------ */
/* Choice at run time                                                       */
/* ------------------------------------------------------------------------ */

static core_crc32c_fn crc32c_chosen;
static pthread_once_t crc32c_choice_once = PTHREAD_ONCE_INIT;

static void crc32c_choose(void)
{
    crc_table_build();
    crc32c_chosen = processor_has_crc32c() ? crc32c_instruction
                                           : crc32c_tables;
}

core_crc32c_fn core_crc32c_table_code(void)
{
    pthread_once(&crc32c_choice_once, crc32c_choose);
    return crc32c_tables;
}

core_crc32c_fn core_crc32c_processor_code(void)
{
    pthread_once(&crc32c_choice_once, crc32c_choose);
    return processor_has_crc32c() ? crc32c_instruction : NULL;
}

uint32_t rm_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc32c_choice_once, crc32c_choose);
    return crc32c_chosen(crc, data, len);
}
