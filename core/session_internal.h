/*
 * Session file format internals shared by the writer, the reader and the
 * CSV code (docs/FORMAT.md describes the bytes). All integers are little
 * endian.
 */
#ifndef ROLLMAP_SESSION_INTERNAL_H
#define ROLLMAP_SESSION_INTERNAL_H

#include "rollmap_core.h"

/* File header: magic, version, JSON length, JSON, CRC-32C of all before;
 * from version 2 written twice in a row, so one damaged copy loses
 * nothing. */
#define RM_FILE_MAGIC "\x89RMS\r\n\x1a\n" /* PNG-style: catches text-mode mangling */
#define RM_FILE_MAGIC_SIZE 8
#define RM_FORMAT_VERSION 3u              /* written */
#define RM_FORMAT_VERSION_OLDEST 1u       /* still read: one header copy */
#define RM_FORMAT_VERSION_PACKED 3u       /* sample blocks bit-packed, not varints */
#define RM_FILE_PREFIX_SIZE 16            /* magic + version + JSON length */
#define RM_HEADER_JSON_MAX (1u << 20)     /* 1 MiB: far above any real header */

/* Block header: 48 bytes, then the payload. */
#define RM_BLOCK_MAGIC 0x4B424D52u        /* "RMBK" */
#define RM_BLOCK_HEADER_SIZE 48
#define RM_BLOCK_PAYLOAD_MAX (16u << 20)  /* 16 MiB: a sanity bound */
#define RM_BLOCK_SAMPLES_MAX 65535u
#define RM_SAMPLES_PREFIX_SIZE 8          /* period, channel count, reserved */

/* Trailer after the closing index block. */
#define RM_TRAILER_MAGIC 0x58494D52u      /* "RMIX" */
#define RM_TRAILER_SIZE 16
#define RM_INDEX_ENTRY_SIZE 48

typedef enum rm_block_type {
    RM_BLOCK_SAMPLES = 1,
    RM_BLOCK_GAP = 2,
    RM_BLOCK_EVENT = 3,
    RM_BLOCK_META = 4,
    RM_BLOCK_INDEX = 5
} rm_block_type;

/* One block as its header (or an index entry) describes it. */
typedef struct rm_block_entry {
    uint64_t offset;          /* of the block header in the file */
    uint64_t first_sample;    /* writer's index of its first sample */
    uint64_t t_first_us, t_last_us;
    uint32_t payload_length;
    uint32_t sample_count;
    uint32_t payload_crc;
    uint8_t type;             /* rm_block_type */
} rm_block_entry;

/* A growable byte buffer. */
typedef struct rm_bytes {
    uint8_t *data;
    size_t len, cap;
} rm_bytes;

/* A sample block as the reader sees it. */
typedef struct rm_sample_block {
    rm_block_entry entry;
    uint64_t first;           /* reader's index of its first sample */
    bool verified;            /* payload CRC checked and decoded once */
    bool bad;                 /* payload failed; reported in the integrity */
} rm_sample_block;

struct rm_session {
    char *path;
    int fd;
    uint64_t file_size;
    uint32_t version;
    uint64_t header_end;      /* the first block starts here */
    uint64_t good_end;        /* end of the last intact block */
    rm_device_info info;
    rm_session_meta meta;

    rm_block_entry *blocks;   /* every intact block but the index */
    size_t block_count, block_cap;
    rm_sample_block *sample_blocks;
    size_t sample_block_count, sample_block_cap;
    uint64_t sample_count;

    rm_gap *gaps;
    size_t gap_count, gap_cap;
    rm_event *events;
    size_t event_count, event_cap;

    rm_integrity integrity;
    rm_skipped_range *skipped;
    size_t skipped_cap;

    /* The block decoded last, for sequential reads. */
    size_t cached_block;      /* index into sample_blocks, or SIZE_MAX */
    rm_sample *cache;
    /* File bytes read for sample payloads: one read brings in the blocks
     * that follow too, so reading a session straight through makes a
     * system call per few dozen blocks, not per block. */
    uint8_t *window;
    size_t window_cap, window_len;
    uint64_t window_offset;
};

/* Byte order helpers. */
void core_put_le16(uint8_t *p, uint16_t v);
void core_put_le32(uint8_t *p, uint32_t v);
void core_put_le64(uint8_t *p, uint64_t v);
uint16_t rm_get_le16(const uint8_t *p);
uint32_t rm_get_le32(const uint8_t *p);
uint64_t rm_get_le64(const uint8_t *p);

bool core_bytes_reserve(rm_bytes *b, size_t more);
bool core_bytes_add(rm_bytes *b, const void *data, size_t n);
void core_bytes_free(rm_bytes *b);

/* Grow a malloc'd array of *cap items of size item so one more fits. */
bool core_array_grow(void **items, size_t count, size_t *cap, size_t item);

/* Block header bytes for entry (payload CRC already in it). */
void core_block_header_encode(uint8_t out[RM_BLOCK_HEADER_SIZE],
                              const rm_block_entry *e);
/* Parse a block header at file offset; false if magic or CRC is wrong. */
bool core_block_header_decode(const uint8_t in[RM_BLOCK_HEADER_SIZE],
                              uint64_t offset, rm_block_entry *e);

/* Where a block's decoded samples go: field f of sample i at f's base
 * plus i times f's stride. Into rm_samples every stride is
 * sizeof(rm_sample) (core_sink_samples); into rm_sample_columns each is
 * the field's own size (core_sink_columns). */
typedef struct core_sample_sink {
    uint8_t *t_us, *flags, *encoder;
    uint8_t *counts[RM_MAX_CHANNELS];
    unsigned channels;        /* counts[] filled; a block's others are skipped */
    size_t t_stride, flags_stride, int32_stride;
    bool zeroed;              /* all 0 already: channels a block lacks need no filling */
} core_sample_sink;

/* The n samples at out, zeroed. */
core_sample_sink core_sink_samples(rm_sample *out, size_t n);
/* The columns of c from index at on. */
core_sample_sink core_sink_columns(rm_sample_columns *c, size_t at);
/* Zero channels [from, out->channels) of samples [0, n) unless already 0. */
void core_sink_zero_channels(const core_sample_sink *out, unsigned from, size_t n);

/* Payload encoders (writer) and decoders (reader). Sample blocks are
 * coded as the file's format version says: varints before
 * RM_FORMAT_VERSION_PACKED, bit-packed columns from it on. */
bool core_samples_encode(rm_bytes *out, const rm_sample *s, size_t count,
                         uint8_t channel_count, uint32_t period_us,
                         uint32_t version);
/* Decode e->sample_count samples; false if the payload is malformed. */
bool core_samples_decode(const uint8_t *payload, const rm_block_entry *e,
                         uint32_t version, const core_sample_sink *out);
/* The 8 bytes every sample payload starts with; returns the byte after. */
uint8_t *core_samples_prefix_put(uint8_t *p, uint8_t channel_count, uint32_t period_us);
bool core_samples_encode_packed(rm_bytes *out, const rm_sample *s, size_t count,
                                uint8_t channel_count, uint32_t period_us);
bool core_samples_decode_packed(const uint8_t *payload, const rm_block_entry *e,
                                const core_sample_sink *out);
void core_gap_encode(rm_bytes *out, const rm_gap *gap);
bool core_gap_decode(const uint8_t *payload, size_t len, rm_gap *gap);
void core_event_encode(rm_bytes *out, const rm_event *ev);
bool core_event_decode(const uint8_t *payload, size_t len, rm_event *ev);

/* Reading the device and session JSON of the header and metadata blocks
 * (writing them is public: rm_json_write_device, rm_json_write_meta). */
rm_status core_json_read_device(const rm_json *obj, rm_device_info *info,
                                const char *where, rm_error *err);
void core_json_read_meta(const rm_json *obj, rm_session_meta *meta);

/* Nominal sample period in microseconds (0 when the rate is unknown). */
uint32_t rm_period_us(const rm_device_info *info);

#endif
