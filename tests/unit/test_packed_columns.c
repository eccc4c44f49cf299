/* Bit-packed sample columns (format version 3) read back exactly: every
 * column width from 0 to 32 bits, runs of samples that are and are not
 * whole groups of the unpacker's lanes, values that wrap around 32 bits,
 * through both rm_session_read (rows) and rm_session_read_columns. The
 * reference is the samples written, so the writer and the two readers
 * are checked against data neither produced. */
#include "testutil.h"
#include "session_internal.h" /* a payload decoded on its own */

#include <unistd.h>

#define PERIOD_US 1000
#define WIDTHS 33             /* 0 to 32 bits */
#define FLAGS_WIDTH_MAX 16

typedef testutil_file_fixture fixture;

static int setup(void **state)
{
    return testutil_file_fixture_setup(state, "packed.rms");
}

static uint32_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 16);
}

static uint32_t low_bits(unsigned width)
{
    return width >= 32 ? UINT32_MAX : (UINT32_C(1) << width) - 1;
}

/* The k-th step above a column's smallest, `width` bits wide: the first
 * is 0 and the second all ones, so the writer packs exactly `width` bits
 * whenever there are two steps or more. */
static uint32_t step_above_smallest(size_t k, unsigned width, uint64_t *random)
{
    uint32_t r = next_random(random) & low_bits(width);
    return k == 0 ? 0 : k == 1 ? low_bits(width) : r;
}

/* One column of n values: a random first value, then a random smallest
 * step (negative as often as not) plus `width` random bits, so the
 * values wrap around 32 bits freely. */
static void make_column(uint32_t *v, size_t n, unsigned width, uint64_t *random)
{
    uint32_t smallest = next_random(random);
    v[0] = next_random(random);
    for (size_t i = 1; i < n; i++)
        v[i] = v[i - 1] + smallest + step_above_smallest(i - 1, width, random);
}

/* n samples from time *t_us on whose encoder, flags and channel columns
 * are `width` bits wide (flags at most FLAGS_WIDTH_MAX), each channel a
 * few bits more than the one before, so the columns start at every bit
 * of a byte; the times jitter by up to `width` % 20 bits. */
static void make_block(rm_sample *s, size_t n, uint64_t *t_us, unsigned width,
                       uint64_t *random)
{
    uint32_t *v = malloc(n * sizeof *v);
    memset(s, 0, n * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        s[i].t_us = *t_us;
        *t_us += PERIOD_US + (next_random(random) & low_bits(width % 20));
    }
    make_column(v, n, width, random);
    for (size_t i = 0; i < n; i++)
        s[i].encoder = (int32_t)v[i];
    /* flags are 16 bits: steps of up to 16 bits keep the column's width */
    unsigned flags_width = width < FLAGS_WIDTH_MAX ? width : FLAGS_WIDTH_MAX;
    uint16_t flags = (uint16_t)next_random(random);
    for (size_t i = 0; i < n; i++) {
        s[i].flags = flags;
        flags = (uint16_t)(flags + step_above_smallest(i, flags_width, random));
    }
    for (unsigned k = 0; k < RM_MAX_CHANNELS; k++) {
        make_column(v, n, (width + 7 * k) % WIDTHS, random);
        for (size_t i = 0; i < n; i++)
            s[i].counts[k] = (int32_t)v[i];
    }
    free(v);
}

static void make_device(rm_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "RM-Test");
    info->device_kind = RM_DEVICE_ROLLER;
    info->sample_rate_hz = 1000000 / PERIOD_US;
    info->channel_count = RM_MAX_CHANNELS;
    for (unsigned k = 0; k < RM_MAX_CHANNELS; k++)
        info->channels[k].gain_n_per_count = 0.001f;
    rm_device_info_default_calibration(info);
}

/* A file of one block of `per_block` samples for each width. */
static void write_session(const char *path, const rm_sample *s, size_t per_block)
{
    rm_device_info info;
    make_device(&info);
    rm_session_meta meta = {.side = RM_SIDE_LEFT};
    rm_writer_options opt;
    rm_writer_options_default(&opt);
    opt.block_samples = (uint32_t)per_block;
    opt.fsync = false;
    opt.flush_interval_ms = 1000;
    rm_session_writer *w = NULL;
    rm_error err;
    unlink(path);
    if (rm_session_writer_create(&w, path, &info, &meta, &opt, &err) != RM_OK ||
        rm_session_writer_append(w, s, per_block * WIDTHS, &err) != RM_OK ||
        rm_session_writer_close(w, &err) != RM_OK)
        fail_msg("%s: %s", path, err.message);
}

/* Sample i of the columns against the sample written. */
static void expect_column_sample(const rm_sample_columns *c, size_t i,
                                 const rm_sample *want, size_t at)
{
    if (c->t_us[i] != want->t_us || c->flags[i] != want->flags ||
        c->encoder[i] != want->encoder)
        fail_msg("columns, sample %zu: time, flags or encoder differ", at);
    for (unsigned k = 0; k < RM_MAX_CHANNELS; k++)
        if (c->counts[k][i] != want->counts[k])
            fail_msg("columns, sample %zu, channel %u: %d, written %d", at, k,
                     c->counts[k][i], want->counts[k]);
}

static void expect_columns(rm_session *s, const rm_sample *want, size_t total)
{
    rm_sample_columns c;
    rm_error err;
    assert_int_equal(rm_sample_columns_alloc(&c, RM_MAX_CHANNELS, total, &err), RM_OK);
    size_t got = 0;
    for (size_t at = 0; at < total; at += got) {
        assert_int_equal(rm_session_read_columns(s, at, &c, &got, &err), RM_OK);
        assert_true(got > 0);
        for (size_t i = 0; i < got; i++)
            expect_column_sample(&c, i, &want[at + i], at + i);
    }
    rm_sample_columns_free(&c);
}

static void expect_rows(rm_session *s, const rm_sample *want, size_t total)
{
    rm_sample *out = malloc(total * sizeof *out);
    rm_error err;
    size_t got = 0;
    assert_int_equal(rm_session_read(s, 0, out, total, &got, &err), RM_OK);
    assert_int_equal(got, total);
    for (size_t i = 0; i < total; i++)
        if (memcmp(&out[i], &want[i], sizeof *out) != 0)
            fail_msg("rows, sample %zu differs", i);
    free(out);
}

/* Runs of per_block samples, one for each width from 0 to 32 bits. */
static rm_sample *make_blocks(size_t per_block, uint64_t seed)
{
    rm_sample *s = malloc(per_block * WIDTHS * sizeof *s);
    uint64_t random = seed, t_us = PERIOD_US;
    for (unsigned width = 0; width < WIDTHS; width++)
        make_block(s + width * per_block, per_block, &t_us, width, &random);
    return s;
}

static const size_t block_lengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 25, 63, 64,
                                       65, 511, 4095};
#define BLOCK_LENGTHS (sizeof block_lengths / sizeof block_lengths[0])

static void every_width_and_length_reads_back_exactly(void **state)
{
    const fixture *f = *state;
    for (size_t k = 0; k < BLOCK_LENGTHS; k++) {
        size_t per_block = block_lengths[k], total = per_block * WIDTHS;
        rm_sample *s = make_blocks(per_block, 0x9E3779B97F4A7C15u + k);
        write_session(f->path, s, per_block);
        rm_session *session = NULL;
        rm_error err;
        assert_int_equal(rm_session_open(&session, f->path, &err), RM_OK);
        assert_int_equal(rm_session_sample_count(session), total);
        expect_rows(session, s, total);
        expect_columns(session, s, total);
        rm_session_close(session);
        free(s);
    }
}

/* The n samples at s packed, then decoded from a buffer of exactly the
 * payload's size: under AddressSanitizer (ROLLMAP_SANITIZE) any load
 * past the payload's end fails the test. */
static void decode_from_exact_payload(const rm_sample *s, size_t n)
{
    rm_bytes packed = {0};
    assert_true(core_samples_encode_packed(&packed, s, n, RM_MAX_CHANNELS, PERIOD_US));
    uint8_t *payload = malloc(packed.len);
    memcpy(payload, packed.data, packed.len);
    rm_block_entry e = {.t_first_us = s[0].t_us, .t_last_us = s[n - 1].t_us,
                        .payload_length = (uint32_t)packed.len,
                        .sample_count = (uint32_t)n};
    rm_sample_columns c;
    assert_int_equal(rm_sample_columns_alloc(&c, RM_MAX_CHANNELS, n, NULL), RM_OK);
    core_sample_sink sink = core_sink_columns(&c, 0);
    assert_true(core_samples_decode_packed(payload, &e, &sink));
    for (size_t i = 0; i < n; i++)
        expect_column_sample(&c, i, &s[i], i);
    rm_sample_columns_free(&c);
    free(payload);
    core_bytes_free(&packed);
}

static void no_load_reaches_past_the_payload(void **state)
{
    (void)state;
    for (size_t k = 0; k < BLOCK_LENGTHS; k++) {
        size_t per_block = block_lengths[k];
        rm_sample *s = make_blocks(per_block, 0x2545F4914F6CDD1Du + k);
        for (unsigned width = 0; width < WIDTHS; width++)
            decode_from_exact_payload(s + width * per_block, per_block);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_width_and_length_reads_back_exactly,
                                        setup, testutil_file_fixture_teardown),
        cmocka_unit_test(no_load_reaches_past_the_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
