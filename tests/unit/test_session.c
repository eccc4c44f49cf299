/* Session files: round trips, crash recovery, corruption, versions, failed
 * writes, reopening and time lookup, all on real files. */
#include "testutil.h"
#include "session_internal.h" /* block offsets, to damage the right bytes */

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PERIOD_US 1000
#define FIRST_T_US 5000000u

typedef struct fixture {
    char *dir;
    char *path;
    rm_device_info info;
    rm_session_meta meta;
    rm_writer_options opt;
} fixture;

static void make_device(rm_device_info *info, unsigned channels)
{
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "RM-Test");
    snprintf(info->firmware, sizeof info->firmware, "1.2.3");
    snprintf(info->serial, sizeof info->serial, "SN\"0042\"");
    info->device_kind = RM_DEVICE_ROLLER;
    info->sample_rate_hz = 1000000 / PERIOD_US;
    info->channel_count = (uint8_t)channels;
    for (unsigned i = 0; i < channels; i++) {
        rm_channel_info *ch = &info->channels[i];
        ch->kind = i < 2 ? RM_CHANNEL_LOAD_CELL : RM_CHANNEL_PRESSURE_CELL;
        ch->position_mm = 10.5f + 40.0f * (float)i;
        ch->area_mm2 = i < 2 ? 0.0f : 78.5f;
        ch->gain_n_per_count = 0.0123f + 0.001f * (float)i;
        ch->offset_counts = 1000.0f + (float)i;
    }
    rm_device_info_default_calibration(info);
    info->channels[0].cal.coef[2] = 1e-9;
    info->encoder_counts_per_turn = 4096;
    info->roller_diameter_mm = 150.0f;
    info->roller_width_mm = 330.0f;
    info->distal_direction = -1;
    info->usb_vid = 0x1209;
    info->usb_pid = 0x0001;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = testutil_mkdtemp();
    f->path = testutil_path(f->dir, "s.rms");
    make_device(&f->info, 3);
    snprintf(f->meta.session_id, sizeof f->meta.session_id, "20261124T060724Z-3f2a");
    snprintf(f->meta.client, sizeof f->meta.client, "C-017");
    f->meta.side = RM_SIDE_LEFT;
    snprintf(f->meta.muscle, sizeof f->meta.muscle, "hamstring");
    f->meta.start_unix_us = 1795500000000000;
    snprintf(f->meta.notes, sizeof f->meta.notes, "line one\nline \xc3\xa9 two");
    rm_writer_options_default(&f->opt);
    f->opt.block_samples = 256;
    f->opt.fsync = false;
    f->opt.flush_interval_ms = 1000; /* tests flush explicitly */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* Deterministic sample i: some jitter in time, drifting counts, a mark now
 * and then, counts on channels the device does not have stay zero. */
static rm_sample sample_at(uint64_t i, unsigned channels)
{
    rm_sample s;
    memset(&s, 0, sizeof s);
    s.t_us = FIRST_T_US + i * PERIOD_US + (i % 7 == 3 ? 13 : 0);
    s.encoder = (int32_t)(i * 3) - 500;
    s.flags = i % 97 == 0 ? RM_SAMPLE_MARK : 0;
    for (unsigned c = 0; c < channels; c++)
        s.counts[c] = (int32_t)(((i * 2654435761u) >> (c + 3)) % 4000) - 1000 +
                      (int32_t)(c * 100000);
    return s;
}

static rm_session_writer *create_writer(fixture *f)
{
    rm_session_writer *w = NULL;
    rm_error err;
    rm_status st = rm_session_writer_create(&w, f->path, &f->info, &f->meta, &f->opt, &err);
    if (st != RM_OK)
        fail_msg("create: %s", err.message);
    return w;
}

static void append_range(rm_session_writer *w, uint64_t first, uint64_t count,
                         unsigned channels)
{
    rm_error err;
    for (uint64_t i = first; i < first + count; i++) {
        rm_sample s = sample_at(i, channels);
        if (rm_session_writer_append(w, &s, 1, &err) != RM_OK)
            fail_msg("append: %s", err.message);
    }
}

static rm_session *open_ok(const char *path)
{
    rm_session *s = NULL;
    rm_error err;
    if (rm_session_open(&s, path, &err) != RM_OK)
        fail_msg("open: %s", err.message);
    return s;
}

/* Samples [0, count) of the file must be generator samples [from, ...). */
static void expect_samples(rm_session *s, uint64_t count, const uint64_t *source_index,
                           unsigned channels)
{
    assert_int_equal(rm_session_sample_count(s), count);
    rm_sample buf[300];
    uint64_t at = 0;
    while (at < count) {
        size_t got = 0;
        rm_error err;
        if (rm_session_read(s, at, buf, 300, &got, &err) != RM_OK)
            fail_msg("read: %s", err.message);
        assert_true(got > 0);
        for (size_t k = 0; k < got; k++) {
            uint64_t src = source_index ? source_index[at + k] : at + k;
            rm_sample want = sample_at(src, channels);
            assert_memory_equal(&buf[k], &want, sizeof want);
        }
        at += got;
    }
    size_t got = 1;
    assert_int_equal(rm_session_read(s, count, buf, 10, &got, NULL), RM_OK);
    assert_int_equal(got, 0);
}

static void write_closed_session(fixture *f, uint64_t samples)
{
    rm_session_writer *w = create_writer(f);
    append_range(w, 0, samples, f->info.channel_count);
    rm_error err;
    if (rm_session_writer_close(w, &err) != RM_OK)
        fail_msg("close: %s", err.message);
}

/* The bytes a crash leaves: everything flushed, no closing index. */
static uint8_t *crashed_session_bytes(fixture *f, uint64_t samples, size_t *len)
{
    rm_session_writer *w = create_writer(f);
    append_range(w, 0, samples, f->info.channel_count);
    rm_error err;
    if (rm_session_writer_flush(w, &err) != RM_OK)
        fail_msg("flush: %s", err.message);
    uint8_t *bytes = testutil_read_file(f->path, len);
    assert_non_null(bytes);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    return bytes;
}

static void write_bytes(const char *path, const uint8_t *data, size_t len)
{
    unlink(path);
    assert_int_equal(testutil_write_file(path, data, len), 0);
}

static void expect_same_device(const rm_device_info *a, const rm_device_info *b)
{
    assert_string_equal(a->model, b->model);
    assert_string_equal(a->firmware, b->firmware);
    assert_string_equal(a->serial, b->serial);
    assert_int_equal(a->device_kind, b->device_kind);
    assert_int_equal(a->sample_rate_hz, b->sample_rate_hz);
    assert_int_equal(a->channel_count, b->channel_count);
    assert_int_equal(a->encoder_counts_per_turn, b->encoder_counts_per_turn);
    assert_true(a->roller_diameter_mm == b->roller_diameter_mm);
    assert_true(a->roller_width_mm == b->roller_width_mm);
    assert_int_equal(a->distal_direction, b->distal_direction);
    assert_int_equal(a->usb_vid, b->usb_vid);
    assert_int_equal(a->usb_pid, b->usb_pid);
    for (unsigned i = 0; i < a->channel_count; i++) {
        const rm_channel_info *x = &a->channels[i], *y = &b->channels[i];
        assert_int_equal(x->kind, y->kind);
        assert_true(x->position_mm == y->position_mm);
        assert_true(x->area_mm2 == y->area_mm2);
        assert_true(x->gain_n_per_count == y->gain_n_per_count);
        assert_true(x->offset_counts == y->offset_counts);
        assert_memory_equal(x->cal.coef, y->cal.coef, sizeof x->cal.coef);
        assert_true(x->cal.tare_counts == y->cal.tare_counts);
        assert_string_equal(x->cal.origin, y->cal.origin);
    }
}

static void expect_same_meta(const rm_session_meta *a, const rm_session_meta *b)
{
    assert_string_equal(a->session_id, b->session_id);
    assert_string_equal(a->client, b->client);
    assert_int_equal(a->side, b->side);
    assert_string_equal(a->muscle, b->muscle);
    assert_int_equal(a->start_unix_us, b->start_unix_us);
    assert_string_equal(a->notes, b->notes);
}

static void round_trip_keeps_samples_gaps_events_and_metadata(void **state)
{
    fixture *f = *state;
    rm_session_writer *w = create_writer(f);
    rm_error err;
    append_range(w, 0, 1000, 3);
    rm_gap gap = {.start_us = 6000000, .end_us = 6100000, .lost_samples = 100,
                  .reason = RM_GAP_LOST_FRAMES};
    assert_int_equal(rm_session_writer_add_gap(w, &gap, &err), RM_OK);
    rm_event mark = {.t_us = 5500000, .kind = RM_EVENT_MARK, .value = 7};
    rm_event note = {.t_us = 5600000, .kind = RM_EVENT_NOTE, .value = -1};
    snprintf(note.text, sizeof note.text, "sharp, distal third");
    assert_int_equal(rm_session_writer_add_event(w, &mark, &err), RM_OK);
    assert_int_equal(rm_session_writer_add_event(w, &note, &err), RM_OK);
    append_range(w, 1000, 1500, 3);
    rm_session_meta later = f->meta;
    snprintf(later.client, sizeof later.client, "C-018");
    later.side = RM_SIDE_RIGHT;
    assert_int_equal(rm_session_writer_set_meta(w, &later, &err), RM_OK);
    append_range(w, 2500, 7, 3);
    assert_int_equal(rm_session_writer_sample_count(w), 2507);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);

    rm_session *s = open_ok(f->path);
    expect_samples(s, 2507, NULL, 3);
    expect_same_device(rm_session_device(s), &f->info);
    expect_same_meta(rm_session_meta_of(s), &later);
    assert_int_equal(rm_session_format_version(s), 3);
    assert_int_equal(rm_session_first_us(s), sample_at(0, 3).t_us);
    assert_int_equal(rm_session_last_us(s), sample_at(2506, 3).t_us);
    size_t n;
    const rm_gap *gaps = rm_session_gaps(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(gaps[0].start_us, gap.start_us);
    assert_int_equal(gaps[0].end_us, gap.end_us);
    assert_int_equal(gaps[0].lost_samples, gap.lost_samples);
    assert_int_equal(gaps[0].reason, gap.reason);
    const rm_event *events = rm_session_events(s, &n);
    assert_int_equal(n, 2);
    assert_int_equal(events[0].kind, RM_EVENT_MARK);
    assert_int_equal(events[0].value, 7);
    assert_string_equal(events[1].text, "sharp, distal third");
    const rm_integrity *in = rm_session_integrity(s);
    assert_true(in->closed_cleanly);
    assert_false(in->truncated);
    assert_int_equal(in->blocks_skipped, 0);
    assert_int_equal(in->skipped_count, 0);
    /* Sample blocks: 3 full + 6 full + the 196 flushed by set_meta + the
     * last 7; then a gap, two events and a metadata block. */
    assert_int_equal(in->blocks_ok, 11 + 1 + 2 + 1);
    rm_session_close(s);
}

static void samples_are_compact(void **state)
{
    fixture *f = *state;
    make_device(&f->info, 8);
    rm_session_writer *w = create_writer(f);
    append_range(w, 0, 20000, 8);
    assert_int_equal(rm_session_writer_close(w, NULL), RM_OK);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    /* In memory a sample takes 80 bytes; 8 channels of 12-bit noise plus
     * time, encoder and flags must code in well under half of that. */
    double per_sample = (double)st.st_size / 20000;
    assert_true(per_sample < 24.0);
    rm_session *s = open_ok(f->path);
    expect_samples(s, 20000, NULL, 8);
    rm_session_close(s);
}

static void file_is_private_and_never_overwritten(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 10);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    rm_session_writer *w = NULL;
    rm_error err;
    assert_int_equal(rm_session_writer_create(&w, f->path, &f->info, &f->meta, &f->opt, &err),
                     RM_ERR_BUSY);
    assert_null(w);
    assert_non_null(strstr(err.message, f->path));
    rm_session *s = open_ok(f->path);
    assert_int_equal(rm_session_sample_count(s), 10);
    rm_session_close(s);
}

static void bad_writer_options_are_refused(void **state)
{
    fixture *f = *state;
    rm_session_writer *w = NULL;
    rm_error err;
    f->opt.flush_interval_ms = 1500;
    assert_int_equal(rm_session_writer_create(&w, f->path, &f->info, &f->meta, &f->opt, &err),
                     RM_ERR_ARG);
    assert_non_null(strstr(err.message, "flush interval 1500 ms"));
    f->opt.flush_interval_ms = 500;
    f->opt.block_samples = 70000;
    assert_int_equal(rm_session_writer_create(&w, f->path, &f->info, &f->meta, &f->opt, &err),
                     RM_ERR_ARG);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void crashed_file_opens_by_walking_block_headers(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *bytes = crashed_session_bytes(f, 1000, &len);
    char *crashed = testutil_path(f->dir, "crashed.rms");
    write_bytes(crashed, bytes, len);
    rm_session *s = open_ok(crashed);
    const rm_integrity *in = rm_session_integrity(s);
    assert_false(in->closed_cleanly);
    assert_false(in->truncated);
    assert_int_equal(in->skipped_count, 0);
    expect_samples(s, 1000, NULL, 3);
    rm_session_close(s);
    free(crashed);
    free(bytes);
}

/* Sample block i of a file (a negative i counts from the end). Blocks
 * are usually block_samples long, but a slow run may flush one early. */
static rm_sample_block sample_block(const char *path, int i)
{
    rm_session *s = open_ok(path);
    size_t at = i < 0 ? s->sample_block_count - (size_t)-i : (size_t)i;
    assert_true(at < s->sample_block_count);
    rm_sample_block b = s->sample_blocks[at];
    rm_session_close(s);
    return b;
}

/* Generator indices of a file whose sample block `lost` was dropped. */
static uint64_t *indices_without(const rm_sample_block *lost, uint64_t total)
{
    uint64_t *idx = malloc(total * sizeof *idx);
    for (uint64_t i = 0, k = 0; i < total; i++)
        if (i < lost->first || i >= lost->first + lost->entry.sample_count)
            idx[k++] = i;
    return idx;
}

static void truncation_anywhere_in_the_last_block_keeps_earlier_blocks(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *bytes = crashed_session_bytes(f, 1000, &len);
    char *torn = testutil_path(f->dir, "torn.rms");
    write_bytes(torn, bytes, len);
    rm_sample_block last_block = sample_block(torn, -1);
    size_t last = (size_t)last_block.entry.offset;
    for (size_t cut = last; cut < len; cut++) {
        write_bytes(torn, bytes, cut);
        rm_session *s = open_ok(torn);
        const rm_integrity *in = rm_session_integrity(s);
        assert_int_equal(in->truncated, cut > last);
        assert_int_equal(in->blocks_skipped, cut > last);
        if (cut > last) {
            assert_int_equal(in->skipped[0].offset, last);
            assert_int_equal(in->skipped[0].length, cut - last);
        }
        expect_samples(s, last_block.first, NULL, 3);
        rm_session_close(s);
    }
    free(torn);
    free(bytes);
}

static void truncated_closing_index_falls_back_to_walking(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 600);
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    char *cut_path = testutil_path(f->dir, "cut.rms");
    rm_session *s = open_ok(f->path);
    size_t data_end = (size_t)s->good_end; /* the index block starts here */
    rm_session_close(s);
    for (size_t cut = data_end; cut < len; cut++) {
        write_bytes(cut_path, bytes, cut);
        s = open_ok(cut_path);
        assert_false(rm_session_integrity(s)->closed_cleanly);
        expect_samples(s, 600, NULL, 3);
        rm_session_close(s);
    }
    free(cut_path);
    free(bytes);
}

/* An index of more entries than the reader takes at a time (256): read
 * whole when intact; a flipped bit in an entry past the first 256, in a
 * field the layout checks cannot catch, fails the index's CRC, and the
 * blocks are walked instead. */
static void long_closing_index_is_read_in_pieces(void **state)
{
    fixture *f = *state;
    f->opt.block_samples = 8;
    write_closed_session(f, 8 * 600);
    rm_session *s = open_ok(f->path);
    assert_true(rm_session_integrity(s)->closed_cleanly);
    assert_int_equal(s->sample_block_count, 600);
    expect_samples(s, 8 * 600, NULL, 3);
    size_t entry = (size_t)s->good_end + RM_BLOCK_HEADER_SIZE + 4 +
                   400 * RM_INDEX_ENTRY_SIZE;
    rm_session_close(s);
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    bytes[entry + 8] ^= 0x01; /* its first_sample */
    write_bytes(f->path, bytes, len);
    s = open_ok(f->path);
    assert_false(rm_session_integrity(s)->closed_cleanly);
    assert_int_equal(s->sample_block_count, 600);
    expect_samples(s, 8 * 600, NULL, 3);
    rm_session_close(s);
    free(bytes);
}

static void corrupt_payload_in_the_middle_is_skipped_and_reported(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 1000);
    rm_sample_block b = sample_block(f->path, 1);
    uint64_t second = b.entry.offset;
    uint32_t second_len = RM_BLOCK_HEADER_SIZE + b.entry.payload_length;
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    bytes[second + RM_BLOCK_HEADER_SIZE + 40] ^= 0x10;
    write_bytes(f->path, bytes, len);

    /* Reading straight through stops at the bad block and names it. */
    rm_session *s = open_ok(f->path);
    rm_sample buf[1000];
    size_t got;
    rm_error err;
    assert_int_equal(rm_session_read(s, 0, buf, 1000, &got, &err), RM_ERR_CRC);
    assert_int_equal(got, b.first);
    char where[160];
    snprintf(where, sizeof where, "samples %llu-%llu lost: block CRC mismatch in the "
             "block at offset %llu", (unsigned long long)b.first,
             (unsigned long long)(b.first + b.entry.sample_count - 1),
             (unsigned long long)second);
    assert_non_null(strstr(err.message, where));
    rm_session_close(s);

    /* Verified first, the file reads as the blocks that are intact. */
    s = open_ok(f->path);
    assert_int_equal(rm_session_verify(s, &err), RM_OK);
    const rm_integrity *in = rm_session_integrity(s);
    assert_true(in->closed_cleanly);
    assert_int_equal(in->skipped_count, 1);
    assert_int_equal(in->skipped[0].offset, second);
    assert_int_equal(in->skipped[0].length, second_len);
    assert_string_equal(in->skipped[0].reason, "block CRC mismatch");
    uint64_t *sources = indices_without(&b, 1000);
    expect_samples(s, 1000 - b.entry.sample_count, sources, 3);
    rm_session_close(s);
    free(sources);
    free(bytes);
}

static void damaged_header_in_the_middle_is_skipped_and_later_blocks_recovered(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *bytes = crashed_session_bytes(f, 1000, &len);
    char *damaged = testutil_path(f->dir, "damaged.rms");
    write_bytes(damaged, bytes, len);
    rm_sample_block b = sample_block(damaged, 1);
    uint64_t second = b.entry.offset;
    uint64_t third = sample_block(damaged, 2).entry.offset;
    bytes[second + 20] ^= 0xFF; /* inside first_sample */
    write_bytes(damaged, bytes, len);

    rm_session *s = open_ok(damaged);
    const rm_integrity *in = rm_session_integrity(s);
    assert_false(in->truncated);
    assert_int_equal(in->skipped_count, 1);
    assert_int_equal(in->skipped[0].offset, second);
    assert_int_equal(in->skipped[0].length, third - second);
    assert_string_equal(in->skipped[0].reason, "damaged block header");
    assert_int_equal(in->bytes_skipped, third - second);
    uint64_t *sources = indices_without(&b, 1000);
    expect_samples(s, 1000 - b.entry.sample_count, sources, 3);
    rm_session_close(s);
    free(sources);
    free(damaged);
    free(bytes);
}

static void expect_open_error(const char *path, rm_status status, const char *phrase)
{
    rm_session *s = (rm_session *)1;
    rm_error err;
    assert_int_equal(rm_session_open(&s, path, &err), status);
    assert_null(s);
    assert_non_null(strstr(err.message, path));
    if (!strstr(err.message, phrase))
        fail_msg("'%s' does not contain '%s'", err.message, phrase);
}

/* Bytes of one copy of the file header of a session file. */
static size_t header_copy_size(const uint8_t *bytes)
{
    return RM_FILE_PREFIX_SIZE + rm_get_le32(bytes + 12) + 4;
}

static void newer_format_version_is_a_clear_error(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 10);
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    size_t copy = header_copy_size(bytes);
    bytes[8] = bytes[copy + 8] = 4; /* the version field of both copies */
    write_bytes(f->path, bytes, len);
    expect_open_error(f->path, RM_ERR_VERSION, "session format version 4 is not "
                      "supported (this rollmap reads versions 1 to 3)");
    free(bytes);
}

/* A file of the fuzz corpus, written by an older rollmap. */
static rm_session *open_corpus_file(const char *name)
{
    const char data[] = ROLLMAP_TEST_DATA, tail[] = "tests/data";
    char path[512];
    snprintf(path, sizeof path, "%.*stests/fuzz/corpus/fuzz_session/%s",
             (int)(sizeof data - sizeof tail), data, name);
    return open_ok(path);
}

/* What the fuzz corpus's intact version 1 and 2 files hold: 40 samples
 * of 2 channels rising or falling in straight lines, marked at sample 20
 * (as `rollmap export --csv` shows them). */
typedef struct old_file {
    const char *name;
    uint32_t version;
    uint64_t t0_us, period_us;
    int32_t ch0, ch0_step, ch1, ch1_step, encoder_step;
} old_file;

static const old_file old_files[] = {
    {"valid_closed.rms", 1, 1000000, 10000, 100, 1, 2000, -3, 5},
    {"valid_v2_closed.rms", 2, 0, 1000, 100000, 500, 90000, 250, 3},
};

static rm_sample old_file_sample(const old_file *o, uint32_t i)
{
    rm_sample want;
    memset(&want, 0, sizeof want);
    want.t_us = o->t0_us + i * o->period_us;
    want.flags = i == 20 ? RM_SAMPLE_MARK : 0;
    want.encoder = o->encoder_step * (int32_t)i;
    want.counts[0] = o->ch0 + o->ch0_step * (int32_t)i;
    want.counts[1] = o->ch1 + o->ch1_step * (int32_t)i;
    return want;
}

/* Read samples first .. first + count - 1 of s and compare them with the
 * file's. */
static void expect_old_samples(rm_session *s, const old_file *o, uint32_t first,
                               uint32_t count)
{
    rm_sample got[400];
    size_t n = 0;
    assert_true(count <= 400);
    assert_int_equal(rm_session_read(s, first, got, count, &n, NULL), RM_OK);
    assert_int_equal(n, count);
    for (uint32_t i = 0; i < count; i++) {
        rm_sample want = old_file_sample(o, first + i);
        assert_int_equal(got[i].t_us, want.t_us);
        assert_int_equal(got[i].flags, want.flags);
        assert_int_equal(got[i].encoder, want.encoder);
        assert_memory_equal(got[i].counts, want.counts, sizeof want.counts);
    }
}

/* Version 1 (one header copy) and version 2 (varint sample blocks) files
 * still read, sample for sample. */
static void versions_1_and_2_still_read_every_sample(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof old_files / sizeof old_files[0]; k++) {
        rm_session *s = open_corpus_file(old_files[k].name);
        assert_int_equal(rm_session_format_version(s), old_files[k].version);
        assert_true(rm_session_integrity(s)->closed_cleanly);
        assert_int_equal(rm_session_verify(s, NULL), RM_OK);
        assert_int_equal(rm_session_integrity(s)->skipped_count, 0);
        assert_int_equal(rm_session_sample_count(s), 40);
        expect_old_samples(s, &old_files[k], 0, 40);
        rm_session_close(s);
    }
}

/* Appending to a version 2 file codes the new blocks as version 2 too. */
static void appending_to_a_version_2_file_keeps_its_coding(void **state)
{
    fixture *f = *state;
    rm_session *old = open_corpus_file("valid_v2_closed.rms");
    uint64_t count = rm_session_sample_count(old);
    char old_path[512];
    snprintf(old_path, sizeof old_path, "%s", old->path);
    rm_session_close(old);
    size_t len;
    uint8_t *bytes = testutil_read_file(old_path, &len);
    write_bytes(f->path, bytes, len);
    free(bytes);
    rm_session_writer *w = NULL;
    rm_error err;
    assert_int_equal(rm_session_writer_reopen(&w, f->path, &f->opt, &err), RM_OK);
    rm_sample more[300];
    for (uint32_t i = 0; i < 300; i++)
        more[i] = old_file_sample(&old_files[1], (uint32_t)count + i);
    assert_int_equal(rm_session_writer_append(w, more, 300, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    assert_int_equal(rm_session_format_version(s), 2);
    assert_int_equal(rm_session_verify(s, NULL), RM_OK);
    assert_int_equal(rm_session_integrity(s)->skipped_count, 0);
    assert_int_equal(rm_session_sample_count(s), count + 300);
    expect_old_samples(s, &old_files[1], 0, (uint32_t)count + 300);
    rm_session_close(s);
}

/* The widest deltas each column can hold: counts and encoder swinging
 * across the whole 32-bit range, flags flipping every bit, time jumping
 * forwards and backwards by 2^63; a block of one sample; quiet channels. */
static void packed_blocks_keep_the_widest_values(void **state)
{
    fixture *f = *state;
    make_device(&f->info, RM_MAX_CHANNELS);
    rm_session_writer *w = create_writer(f);
    enum { N = 301 };
    rm_sample in[N];
    memset(in, 0, sizeof in);
    for (size_t i = 0; i < N; i++) {
        in[i].t_us = FIRST_T_US + i * PERIOD_US + (i % 2 ? UINT64_C(1) << 63 : 0);
        in[i].flags = i % 3 ? 0xFFFF : 0;
        in[i].encoder = i % 2 ? INT32_MIN : INT32_MAX;
        in[i].counts[0] = i % 5 ? INT32_MIN : INT32_MAX;
        in[i].counts[1] = -7;
        in[i].counts[RM_MAX_CHANNELS - 1] = (int32_t)(i * 2654435761u);
    }
    rm_error err;
    assert_int_equal(rm_session_writer_append(w, in, N, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK); /* 256 + 45 */
    rm_session *s = open_ok(f->path);
    assert_int_equal(rm_session_verify(s, NULL), RM_OK);
    assert_int_equal(rm_session_integrity(s)->skipped_count, 0);
    rm_sample out[N];
    size_t got = 0;
    assert_int_equal(rm_session_read(s, 0, out, N, &got, &err), RM_OK);
    assert_int_equal(got, N);
    assert_memory_equal(out, in, sizeof in);
    rm_session_close(s);

    w = NULL;
    assert_int_equal(rm_session_writer_reopen(&w, f->path, &f->opt, &err), RM_OK);
    rm_sample lone = in[0];
    lone.t_us = in[N - 1].t_us + PERIOD_US;
    assert_int_equal(rm_session_writer_append(w, &lone, 1, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    s = open_ok(f->path);
    assert_int_equal(rm_session_read(s, N, out, 1, &got, &err), RM_OK);
    assert_int_equal(got, 1);
    assert_memory_equal(&out[0], &lone, sizeof lone);
    rm_session_close(s);
}

/* A packed block whose CRC is right but whose layout is not (a column
 * wider than 32 bits, a length that does not match the widths) is
 * reported as malformed, not read. */
static void malformed_packed_block_is_reported(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *bytes = crashed_session_bytes(f, 10, &len); /* one block, no index */
    rm_sample_block b = sample_block(f->path, 0);
    uint8_t *header = bytes + b.entry.offset, *payload = header + RM_BLOCK_HEADER_SIZE;
    /* after the time's and flags' headers (9 bytes each), the encoder's
     * first value and smallest step */
    const size_t encoder_width = RM_SAMPLES_PREFIX_SIZE + 9 + 9 + 8;
    for (int damage = 0; damage < 2; damage++) {
        uint8_t saved = payload[encoder_width];
        payload[encoder_width] = damage == 0 ? 33 : (uint8_t)(saved + 1);
        core_put_le32(header + 40, rm_crc32c(0, payload, b.entry.payload_length));
        core_put_le32(header + 44, rm_crc32c(0, header, 44));
        write_bytes(f->path, bytes, len);
        payload[encoder_width] = saved;
        rm_session *s = open_ok(f->path);
        assert_int_equal(rm_session_verify(s, NULL), RM_OK);
        const rm_integrity *in = rm_session_integrity(s);
        assert_int_equal(in->skipped_count, 1);
        assert_string_equal(in->skipped[0].reason, "malformed sample block");
        assert_int_equal(rm_session_sample_count(s), 0);
        rm_session_close(s);
    }
    free(bytes);
}

/* Flip one bit of the header JSON in the copy at `copy_offset`: the file
 * still opens, whole, from the other copy. */
static void survives_a_flipped_bit_in_one_header_copy(const fixture *f, size_t copy_index)
{
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    size_t copy = header_copy_size(bytes);
    bytes[copy_index * copy + 30] ^= 1;
    write_bytes(f->path, bytes, len);
    rm_session *s = open_ok(f->path);
    expect_same_device(rm_session_device(s), &f->info);
    expect_same_meta(rm_session_meta_of(s), &f->meta);
    expect_samples(s, 10, NULL, 3);
    const rm_integrity *in = rm_session_integrity(s);
    assert_true(in->closed_cleanly);
    assert_int_equal(in->skipped_count, copy_index == 0 ? 1 : 0);
    rm_session_close(s);
    bytes[copy_index * copy + 30] ^= 1;
    write_bytes(f->path, bytes, len);
    free(bytes);
}

static void a_flipped_bit_in_either_header_copy_loses_nothing(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 10);
    survives_a_flipped_bit_in_one_header_copy(f, 0);
    survives_a_flipped_bit_in_one_header_copy(f, 1);
}

static void other_files_are_not_session_files(void **state)
{
    fixture *f = *state;
    const char *text = "t_s,ch0_N\n0.0,1.5\n";
    write_bytes(f->path, (const uint8_t *)text, strlen(text));
    expect_open_error(f->path, RM_ERR_FORMAT, "not a rollmap session file");
    write_bytes(f->path, (const uint8_t *)"", 0);
    expect_open_error(f->path, RM_ERR_FORMAT, "not a rollmap session file");
    expect_open_error(f->dir, RM_ERR_FORMAT, "not a regular file");
    char *missing = testutil_path(f->dir, "missing.rms");
    expect_open_error(missing, RM_ERR_NOT_FOUND, "cannot open");
    free(missing);
}

static void damaged_file_header_is_a_clear_error(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 10);
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    size_t copy = header_copy_size(bytes);
    bytes[30] ^= 1; /* inside the header JSON, in both copies */
    bytes[copy + 30] ^= 1;
    write_bytes(f->path, bytes, len);
    expect_open_error(f->path, RM_ERR_CRC, "header CRC mismatch");
    write_bytes(f->path, bytes, 40);
    expect_open_error(f->path, RM_ERR_TRUNCATED, "header truncated");
    free(bytes);
}

/* Replace text in the header JSON with text of the same length and fix
 * the header CRC, as a writer that wrote it would have. */
/* Both header copies, as a writer would have written them. */
static void rewrite_header_json(uint8_t *bytes, const char *from, const char *to)
{
    size_t copy = header_copy_size(bytes);
    for (uint8_t *header = bytes; header <= bytes + copy; header += copy) {
        uint32_t json_len = rm_get_le32(header + 12);
        char *json = (char *)header + RM_FILE_PREFIX_SIZE;
        char *at = memmem(json, json_len, from, strlen(from));
        assert_non_null(at);
        assert_int_equal(strlen(from), strlen(to));
        memcpy(at, to, strlen(to));
        size_t covered = RM_FILE_PREFIX_SIZE + json_len;
        core_put_le32(header + covered, rm_crc32c(0, header, covered));
    }
}

static void unknown_device_kind_is_an_error_naming_it(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 10);
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    rewrite_header_json(bytes, "\"kind\":\"roller\"", "\"kind\":\"rocket\"");
    write_bytes(f->path, bytes, len);
    expect_open_error(f->path, RM_ERR_FORMAT,
                      "device.kind 'rocket' is not roller, ball or probe");
    free(bytes);
}

static void every_device_kind_reads_back(void **state)
{
    fixture *f = *state;
    const rm_device_kind kinds[] = {RM_DEVICE_ROLLER, RM_DEVICE_BALL,
                                    RM_DEVICE_PROBE};
    for (size_t i = 0; i < 3; i++) {
        unlink(f->path);
        f->info.device_kind = (uint8_t)kinds[i];
        write_closed_session(f, 10);
        rm_session *s;
        rm_error err;
        assert_int_equal(rm_session_open(&s, f->path, &err), RM_OK);
        assert_int_equal(rm_session_device(s)->device_kind, kinds[i]);
        rm_session_close(s);
    }
}

/* Runs in a forked child: failures exit with a message. */
#define CHILD_CHECK(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: %s (%s)\n", __FILE__, __LINE__, #cond,    \
                    err.message);                                             \
            _exit(1);                                                         \
        }                                                                     \
    } while (0)

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void set_file_size_limit(rlim_t limit)
{
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = limit;
    setrlimit(RLIMIT_FSIZE, &rl);
}

/* In the child: a writer whose first 1000 samples are in the file, with
 * at most queue_limit bytes queued while writes fail. */
static rm_session_writer *writer_with_1000_samples(fixture *f, uint32_t queue_limit)
{
    rm_error err;
    rm_error_clear(&err);
    signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of a signal */
    f->opt.queue_limit_bytes = queue_limit;
    rm_session_writer *w = NULL;
    CHILD_CHECK(rm_session_writer_create(&w, f->path, &f->info, &f->meta, &f->opt,
                                         &err) == RM_OK);
    for (uint64_t i = 0; i < 1000; i++) {
        rm_sample s = sample_at(i, 3);
        CHILD_CHECK(rm_session_writer_append(w, &s, 1, &err) == RM_OK);
    }
    CHILD_CHECK(rm_session_writer_flush(w, &err) == RM_OK);
    return w;
}

static void fill_the_disk_then_recover(fixture *f)
{
    rm_error err;
    rm_error_clear(&err);
    rm_session_writer *w = writer_with_1000_samples(f, 8192);
    uint64_t good_size = file_size(f->path);
    set_file_size_limit((rlim_t)good_size + 100);
    for (uint64_t i = 1000; i < 3000; i++) {
        rm_sample s = sample_at(i, 3);
        rm_session_writer_append(w, &s, 1, &err);
    }
    CHILD_CHECK(rm_session_writer_flush(w, &err) == RM_ERR_NO_SPACE);
    CHILD_CHECK(strstr(err.message, "File too large") != NULL);
    CHILD_CHECK(file_size(f->path) == good_size); /* cut back to whole blocks */
    rm_session *s = NULL;
    CHILD_CHECK(rm_session_open(&s, f->path, &err) == RM_OK);
    CHILD_CHECK(rm_session_sample_count(s) == 1000);
    CHILD_CHECK(rm_session_integrity(s)->skipped_count == 0);
    rm_session_close(s);

    set_file_size_limit(RLIM_INFINITY);
    CHILD_CHECK(rm_session_writer_flush(w, &err) == RM_OK);
    CHILD_CHECK(rm_session_writer_close(w, &err) == RM_OK);
    CHILD_CHECK(rm_session_open(&s, f->path, &err) == RM_OK);
    uint64_t kept = rm_session_sample_count(s);
    size_t gap_count;
    const rm_gap *gaps = rm_session_gaps(s, &gap_count);
    CHILD_CHECK(kept > 1000 && kept < 3000); /* the queue bound dropped some */
    CHILD_CHECK(gap_count == 1 && gaps[0].reason == RM_GAP_WRITE_ERROR);
    CHILD_CHECK(gaps[0].lost_samples == 3000 - kept);
    CHILD_CHECK(gaps[0].start_us == sample_at(kept, 3).t_us);
    CHILD_CHECK(gaps[0].end_us == sample_at(2999, 3).t_us);
    rm_sample last;
    size_t got;
    CHILD_CHECK(rm_session_read(s, kept - 1, &last, 1, &got, &err) == RM_OK && got == 1);
    rm_sample want = sample_at(kept - 1, 3);
    CHILD_CHECK(!memcmp(&last, &want, sizeof want));
    CHILD_CHECK(rm_session_integrity(s)->closed_cleanly);
    rm_session_close(s);
    _exit(0);
}

/* File size limits stay in a child: the test process keeps none. */
static void run_in_child(fixture *f, void (*body)(fixture *f))
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        body(f);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void failed_flush_leaves_a_readable_file_and_a_later_flush_succeeds(void **state)
{
    run_in_child(*state, fill_the_disk_then_recover);
}

/* Every sample 0..total-1 is in the file, in order, or inside a
 * write-error gap. */
static bool every_sample_is_kept_or_in_a_gap(rm_session *s, uint64_t total)
{
    size_t gap_count;
    const rm_gap *gaps = rm_session_gaps(s, &gap_count);
    uint64_t in_file = rm_session_sample_count(s), next = 0;
    rm_error err;
    for (uint64_t i = 0; i < total; i++) {
        rm_sample want = sample_at(i, 3), got;
        size_t n = 0;
        if (next < in_file && rm_session_read(s, next, &got, 1, &n, &err) == RM_OK &&
            n == 1 && !memcmp(&got, &want, sizeof got)) {
            next++;
            continue;
        }
        bool covered = false;
        for (size_t g = 0; g < gap_count && !covered; g++)
            covered = gaps[g].reason == RM_GAP_WRITE_ERROR &&
                      gaps[g].start_us <= want.t_us && want.t_us <= gaps[g].end_us;
        if (!covered) {
            fprintf(stderr, "sample %llu is neither in the file nor in a gap\n",
                    (unsigned long long)i);
            return false;
        }
    }
    return next == in_file;
}

static void free_less_than_the_backlog_then_close(fixture *f)
{
    rm_error err;
    rm_error_clear(&err);
    rm_session_writer *w = writer_with_1000_samples(f, 512 << 10);
    uint64_t full_size = file_size(f->path);
    set_file_size_limit((rlim_t)full_size); /* the disk is full */
    uint64_t total = 1000;
    for (; total < 120000; total++) {
        rm_sample s = sample_at(total, 3);
        rm_session_writer_append(w, &s, 1, &err);
    }
    CHILD_CHECK(rm_session_writer_flush(w, &err) == RM_ERR_NO_SPACE);
    /* half the queue bound frees up: less than the backlog */
    set_file_size_limit((rlim_t)full_size + (256 << 10));
    CHILD_CHECK(rm_session_writer_flush(w, &err) == RM_ERR_NO_SPACE);
    CHILD_CHECK(file_size(f->path) > full_size + (128 << 10)); /* it went on */
    for (; total < 140000; total++) {
        rm_sample s = sample_at(total, 3);
        rm_session_writer_append(w, &s, 1, &err);
    }
    rm_writer_summary summary;
    CHILD_CHECK(rm_session_writer_finish(w, &summary, &err) == RM_ERR_NO_SPACE);
    rm_session *s = NULL;
    CHILD_CHECK(rm_session_open(&s, f->path, &err) == RM_OK);
    CHILD_CHECK(rm_session_integrity(s)->skipped_count == 0);
    CHILD_CHECK(rm_session_integrity(s)->closed_cleanly);
    CHILD_CHECK(rm_session_sample_count(s) == summary.samples_written);
    CHILD_CHECK(summary.samples_written + summary.samples_lost == total);
    CHILD_CHECK(summary.samples_written > 1000 && summary.samples_lost > 0);
    size_t gap_count;
    rm_session_gaps(s, &gap_count);
    CHILD_CHECK(gap_count == summary.gaps_written);
    CHILD_CHECK(every_sample_is_kept_or_in_a_gap(s, total));
    rm_session_close(s);
    _exit(0);
}

static void space_short_of_the_backlog_writes_what_fits_and_gaps_the_rest(void **state)
{
    run_in_child(*state, free_less_than_the_backlog_then_close);
}

static void a_full_queue_is_written_early_not_dropped(void **state)
{
    fixture *f = *state;
    f->opt.queue_limit_bytes = 4096; /* a few blocks: reached long before a flush */
    write_closed_session(f, 20000);
    rm_session *s = open_ok(f->path);
    size_t gaps;
    rm_session_gaps(s, &gaps);
    assert_int_equal(gaps, 0);
    expect_samples(s, 20000, NULL, 3);
    rm_session_close(s);
}

static void reopen_appends_after_a_clean_close(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 300);
    rm_session_writer *w = NULL;
    rm_error err;
    assert_int_equal(rm_session_writer_reopen(&w, f->path, &f->opt, &err), RM_OK);
    assert_int_equal(rm_session_writer_sample_count(w), 300);
    append_range(w, 300, 400, 3);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    assert_true(rm_session_integrity(s)->closed_cleanly);
    assert_int_equal(rm_session_integrity(s)->skipped_count, 0);
    expect_samples(s, 700, NULL, 3);
    rm_session_close(s);
}

static void reopen_cuts_a_torn_tail_before_appending(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *bytes = crashed_session_bytes(f, 600, &len);
    write_bytes(f->path, bytes, len - 25); /* a torn last block */
    rm_sample_block intact = sample_block(f->path, -1);
    uint64_t kept = intact.first + intact.entry.sample_count;
    rm_session_writer *w = NULL;
    rm_error err;
    assert_int_equal(rm_session_writer_reopen(&w, f->path, &f->opt, &err), RM_OK);
    assert_int_equal(rm_session_writer_sample_count(w), kept);
    append_range(w, kept, 100, 3);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    const rm_integrity *in = rm_session_integrity(s);
    assert_true(in->closed_cleanly);
    assert_int_equal(in->skipped_count, 0);
    expect_samples(s, kept + 100, NULL, 3);
    rm_session_close(s);
    free(bytes);
}

static void metadata_set_after_close_overrides_the_header(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 50);
    rm_session_meta after = f->meta;
    snprintf(after.notes, sizeof after.notes, "tender at 12 cm, rated 8/10");
    snprintf(after.muscle, sizeof after.muscle, "biceps femoris");
    rm_error err;
    assert_int_equal(rm_session_file_set_meta(f->path, &after, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    expect_same_meta(rm_session_meta_of(s), &after);
    assert_true(rm_session_integrity(s)->closed_cleanly);
    expect_samples(s, 50, NULL, 3);
    rm_session_close(s);
}

static void expect_same_link(const rm_link_stats *a, const rm_link_stats *b)
{
    assert_int_equal(a->recorded, b->recorded);
    assert_int_equal(a->frames_ok, b->frames_ok);
    assert_int_equal(a->crc_errors, b->crc_errors);
    assert_int_equal(a->malformed, b->malformed);
    assert_int_equal(a->oversized, b->oversized);
    assert_int_equal(a->frames_lost, b->frames_lost);
    assert_int_equal(a->bytes_discarded, b->bytes_discarded);
}

static void file_without_link_stats_reads_them_as_unknown(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 50);
    rm_session *s = open_ok(f->path);
    const rm_link_stats unknown = {0};
    expect_same_link(&rm_session_meta_of(s)->link, &unknown);
    rm_session_close(s);
}

static void link_stats_round_trip_and_the_latest_record_wins(void **state)
{
    fixture *f = *state;
    f->meta.link = (rm_link_stats){.recorded = true};
    rm_session_writer *w = create_writer(f);
    append_range(w, 0, 300, f->info.channel_count);
    rm_session_meta during = f->meta;
    during.link = (rm_link_stats){true, 290, 7, 2, 1, 9, 31};
    rm_error err;
    assert_int_equal(rm_session_writer_set_meta(w, &during, &err), RM_OK);
    append_range(w, 300, 300, f->info.channel_count);
    rm_session_meta at_close = during;
    at_close.link = (rm_link_stats){true, 9000000000ull, 12, 3, 1, 20, 77};
    assert_int_equal(rm_session_writer_set_meta(w, &at_close, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);

    rm_session *s = open_ok(f->path);
    expect_same_link(&rm_session_meta_of(s)->link, &at_close.link);
    assert_int_equal(rm_link_stats_problems(&rm_session_meta_of(s)->link),
                     12 + 3 + 1 + 20 + 77);
    rm_session_close(s);
}

static void metadata_without_link_stats_keeps_the_recorded_ones(void **state)
{
    fixture *f = *state;
    f->meta.link = (rm_link_stats){true, 100, 4, 0, 0, 5, 0};
    write_closed_session(f, 50);
    rm_session_meta edit = f->meta;
    edit.link = (rm_link_stats){0};
    snprintf(edit.notes, sizeof edit.notes, "edited after the session");
    rm_error err;
    assert_int_equal(rm_session_file_set_meta(f->path, &edit, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    assert_string_equal(rm_session_meta_of(s)->notes, edit.notes);
    expect_same_link(&rm_session_meta_of(s)->link, &f->meta.link);
    rm_session_close(s);
}

static void find_time_returns_the_first_sample_at_or_after(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 1000);
    rm_session *s = open_ok(f->path);
    assert_int_equal(rm_session_find_time(s, 0), 0);
    assert_int_equal(rm_session_find_time(s, FIRST_T_US), 0);
    assert_int_equal(rm_session_find_time(s, FIRST_T_US + 1), 1);
    assert_int_equal(rm_session_find_time(s, UINT64_MAX), 1000);
    srand(11);
    for (int k = 0; k < 500; k++) {
        uint64_t t = FIRST_T_US - 500 + (uint64_t)(rand() % 1002000);
        uint64_t expected = 0;
        while (expected < 1000 && sample_at(expected, 3).t_us < t)
            expected++;
        assert_int_equal(rm_session_find_time(s, t), expected);
    }
    rm_session_close(s);
}

/* ------------------------------------------------------------------------ */
/* Reading as columns                                                       */
/* ------------------------------------------------------------------------ */

/* Sample i of columns c must be `want`, channel by channel up to c's; a
 * channel the file lacks reads as 0. */
static void expect_column_sample(const rm_sample_columns *c, size_t i,
                                 const rm_sample *want, unsigned file_channels)
{
    assert_int_equal(c->t_us[i], want->t_us);
    assert_int_equal(c->flags[i], want->flags);
    assert_int_equal(c->encoder[i], want->encoder);
    for (unsigned k = 0; k < c->channels; k++)
        assert_int_equal(c->counts[k][i], k < file_channels ? want->counts[k] : 0);
}

static size_t runs_total(const size_t *runs, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += runs[i];
    return total;
}

/* Read s as columns of `channels` channels, cap at a time, from `first`
 * to the end; every sample must be the one rm_session_read gives. The
 * length of each run goes to runs (at most max_runs); returns how many. */
static size_t read_as_columns(rm_session *s, uint64_t first, unsigned channels,
                              size_t cap, size_t *runs, size_t max_runs)
{
    rm_sample_columns c;
    rm_error err;
    assert_int_equal(rm_sample_columns_alloc(&c, channels, cap, &err), RM_OK);
    rm_sample *want = malloc(cap * sizeof *want);
    unsigned file_channels = rm_session_device(s)->channel_count;
    size_t count = 0, got = 0;
    for (uint64_t at = first;; at += got) {
        if (rm_session_read_columns(s, at, &c, &got, &err) != RM_OK)
            fail_msg("read columns: %s", err.message);
        if (got == 0)
            break;
        assert_true(count < max_runs);
        runs[count++] = got;
        size_t same = 0;
        assert_int_equal(rm_session_read(s, at, want, got, &same, &err), RM_OK);
        assert_int_equal(same, got);
        for (size_t i = 0; i < got; i++)
            expect_column_sample(&c, i, &want[i], file_channels);
    }
    assert_int_equal(first + runs_total(runs, count), rm_session_sample_count(s));
    free(want);
    rm_sample_columns_free(&c);
    return count;
}

static void expect_runs(rm_session *s, uint64_t first, unsigned channels,
                        size_t cap, const size_t *want, size_t want_count)
{
    size_t runs[64];
    size_t count = read_as_columns(s, first, channels, cap, runs, 64);
    assert_int_equal(count, want_count);
    assert_memory_equal(runs, want, want_count * sizeof *want);
}

/* Runs of whole blocks (256 samples here) as far as they fit; a run's
 * first block in part when the read starts inside it or it is larger
 * than the room; the samples those give are rm_session_read's, across a
 * gap in time and a gap block, with fewer or more channels than the
 * file's. */
static void columns_are_read_in_runs_of_whole_blocks(void **state)
{
    fixture *f = *state;
    rm_session_writer *w = create_writer(f);
    rm_error err;
    append_range(w, 0, 600, 3);
    rm_gap gap = {.start_us = sample_at(600, 3).t_us,
                  .end_us = sample_at(700, 3).t_us, .lost_samples = 100,
                  .reason = RM_GAP_LOST_FRAMES};
    assert_int_equal(rm_session_writer_add_gap(w, &gap, &err), RM_OK);
    append_range(w, 700, 400, 3);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    assert_int_equal(s->sample_block_count, 4);   /* 256 256 256 232 */
    assert_int_equal(s->sample_blocks[3].entry.sample_count, 232);

    expect_runs(s, 0, 3, 600, (size_t[]){512, 488}, 2);
    expect_runs(s, 100, 3, 600, (size_t[]){412, 488}, 2);
    expect_runs(s, 0, 3, 100, (size_t[]){100, 100, 56, 100, 100, 56, 100, 100,
                                         56, 100, 100, 32}, 12);
    expect_runs(s, 0, 3, 999, (size_t[]){768, 232}, 2);
    expect_runs(s, 0, 2, 4096, (size_t[]){1000}, 1);
    expect_runs(s, 999, 5, 4096, (size_t[]){1}, 1);
    rm_sample_columns c;
    size_t got = 1;
    assert_int_equal(rm_sample_columns_alloc(&c, 3, 10, &err), RM_OK);
    assert_int_equal(rm_session_read_columns(s, 1000, &c, &got, &err), RM_OK);
    assert_int_equal(got, 0);
    rm_sample_columns_free(&c);
    rm_session_close(s);
}

/* Versions 1 and 2 (varint blocks) read as columns too, whole and in
 * parts. */
static void columns_read_versions_1_and_2(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof old_files / sizeof old_files[0]; k++) {
        rm_session *s = open_corpus_file(old_files[k].name);
        size_t runs[64];
        assert_int_equal(read_as_columns(s, 0, 2, 400, runs, 64), 1);
        assert_int_equal(read_as_columns(s, 7, 4, 16, runs, 64), 3);
        rm_sample_columns c;
        size_t got = 0;
        assert_int_equal(rm_sample_columns_alloc(&c, 2, 40, NULL), RM_OK);
        assert_int_equal(rm_session_read_columns(s, 0, &c, &got, NULL), RM_OK);
        assert_int_equal(got, 40);
        for (uint32_t i = 0; i < 40; i++) {
            rm_sample want = old_file_sample(&old_files[k], i);
            expect_column_sample(&c, i, &want, 2);
        }
        rm_sample_columns_free(&c);
        rm_session_close(s);
    }
}

/* Columns that change by the same step every sample (steady timing,
 * flags held, an encoder turning evenly, a channel ramping down) are
 * stored without bits and come back exact, as samples and as columns. */
static void steady_columns_read_back(void **state)
{
    fixture *f = *state;
    rm_session_writer *w = create_writer(f);
    enum { N = 600 };
    rm_sample *in = calloc(N, sizeof *in);
    for (size_t i = 0; i < N; i++) {
        in[i].t_us = FIRST_T_US + i * PERIOD_US;
        in[i].flags = RM_SAMPLE_OVERLOAD;
        in[i].encoder = 7 * (int32_t)i - 3;
        in[i].counts[0] = 5 - 2 * (int32_t)i;
        in[i].counts[1] = (int32_t)(i % 3);     /* one noisy column beside them */
    }
    rm_error err;
    assert_int_equal(rm_session_writer_append(w, in, N, &err), RM_OK);
    assert_int_equal(rm_session_writer_close(w, &err), RM_OK);
    rm_session *s = open_ok(f->path);
    rm_sample *out = calloc(N, sizeof *out);
    size_t got = 0;
    assert_int_equal(rm_session_read(s, 0, out, N, &got, &err), RM_OK);
    assert_int_equal(got, N);
    assert_memory_equal(out, in, N * sizeof *in);
    size_t runs[8];
    assert_int_equal(read_as_columns(s, 0, 3, N, runs, 8), 1); /* 256 256 88 */
    free(in);
    free(out);
    rm_session_close(s);
}

/* A block that fails its CRC stops a column read as it stops
 * rm_session_read, naming the samples lost. */
static void damaged_block_stops_a_column_read(void **state)
{
    fixture *f = *state;
    write_closed_session(f, 1000);
    rm_sample_block b = sample_block(f->path, 1);
    size_t len;
    uint8_t *bytes = testutil_read_file(f->path, &len);
    bytes[b.entry.offset + RM_BLOCK_HEADER_SIZE + 20] ^= 0x10;
    write_bytes(f->path, bytes, len);
    free(bytes);
    rm_session *s = open_ok(f->path);
    rm_sample_columns c;
    rm_error err;
    size_t got = 0;
    assert_int_equal(rm_sample_columns_alloc(&c, 3, 1000, &err), RM_OK);
    assert_int_equal(rm_session_read_columns(s, 0, &c, &got, &err), RM_ERR_CRC);
    assert_non_null(strstr(err.message, "samples 256-511 lost"));
    assert_int_equal(rm_session_verify(s, &err), RM_OK);
    assert_int_equal(rm_session_read_columns(s, 0, &c, &got, &err), RM_OK);
    assert_int_equal(got, 744);
    rm_sample_columns_free(&c);
    rm_session_close(s);
}

static void adding_nothing_to_an_empty_buffer_keeps_it_empty(void **state)
{
    (void)state;
    rm_bytes b = {0};
    assert_true(core_bytes_add(&b, "", 0));
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    core_bytes_free(&b);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(round_trip_keeps_samples_gaps_events_and_metadata),
        T(samples_are_compact),
        T(file_is_private_and_never_overwritten),
        T(bad_writer_options_are_refused),
        T(crashed_file_opens_by_walking_block_headers),
        T(truncation_anywhere_in_the_last_block_keeps_earlier_blocks),
        T(truncated_closing_index_falls_back_to_walking),
        T(long_closing_index_is_read_in_pieces),
        T(corrupt_payload_in_the_middle_is_skipped_and_reported),
        T(damaged_header_in_the_middle_is_skipped_and_later_blocks_recovered),
        T(newer_format_version_is_a_clear_error),
        T(versions_1_and_2_still_read_every_sample),
        T(appending_to_a_version_2_file_keeps_its_coding),
        T(packed_blocks_keep_the_widest_values),
        T(malformed_packed_block_is_reported),
        T(a_flipped_bit_in_either_header_copy_loses_nothing),
        T(other_files_are_not_session_files),
        T(damaged_file_header_is_a_clear_error),
        T(unknown_device_kind_is_an_error_naming_it),
        T(every_device_kind_reads_back),
        T(failed_flush_leaves_a_readable_file_and_a_later_flush_succeeds),
        T(space_short_of_the_backlog_writes_what_fits_and_gaps_the_rest),
        T(a_full_queue_is_written_early_not_dropped),
        T(reopen_appends_after_a_clean_close),
        T(reopen_cuts_a_torn_tail_before_appending),
        T(metadata_set_after_close_overrides_the_header),
        T(find_time_returns_the_first_sample_at_or_after),
        T(file_without_link_stats_reads_them_as_unknown),
        T(link_stats_round_trip_and_the_latest_record_wins),
        T(metadata_without_link_stats_keeps_the_recorded_ones),
        T(columns_are_read_in_runs_of_whole_blocks),
        T(columns_read_versions_1_and_2),
        T(steady_columns_read_back),
        T(damaged_block_stops_a_column_read),
        T(adding_nothing_to_an_empty_buffer_keeps_it_empty),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
