/* Text mode (docs/PROTOCOL.md, "Text mode"): one sample per line, fields
 * mapped to sample members by a device profile. Lines may end in LF, CR or
 * CRLF; a line too long for the buffer is dropped whole. */
#include "rollmap_hw.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S 1000000u

void rm_text_decoder_init(rm_text_decoder *d, const rm_profile *profile)
{
    memset(d, 0, sizeof *d);
    d->profile = profile;
}

static bool is_line_end(uint8_t c)
{
    return c == '\n' || c == '\r';
}

/* Text before the first sample that is not data: a banner or column names. */
static bool is_header_line(const rm_text_decoder *d, const char *line)
{
    if (line[0] == '#')
        return true;
    if (d->line_number <= d->profile->skip_lines)
        return true;
    return d->stats.lines_ok == 0 && isalpha((unsigned char)line[0]);
}

/* Splits line in place into at most max fields; returns the count, or
 * max + 1 when there are more. */
static size_t split_fields(char *line, char separator, char **fields,
                           size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (separator == 0 && *p == '\0')
            return n;
        if (n == max)
            return max + 1;
        fields[n++] = p;
        while (*p && *p != separator && (separator || !isspace((unsigned char)*p)))
            p++;
        char *end = p;
        while (end > fields[n - 1] && isspace((unsigned char)end[-1]))
            end--;
        bool last = *p == '\0';
        *end = '\0';
        if (last)
            return n;
        p++;
    }
}

static bool parse_value(const char *field, double *out)
{
    char *end;
    *out = strtod(field, &end);
    return end != field && *end == '\0' && isfinite(*out);
}

static bool fits_int32(double v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

/* Stores one field's value in the sample; false if it does not fit. */
static bool apply_column(const rm_profile_column *col, double v, rm_sample *s)
{
    double scaled = round(v * col->scale);
    switch ((rm_column_kind)col->kind) {
    case RM_COL_IGNORE:
        return true;
    case RM_COL_TIME:
        if (scaled < 0 || scaled > (double)UINT64_MAX / 2)
            return false;
        s->t_us = (uint64_t)scaled;
        return true;
    case RM_COL_CHANNEL:
        if (!fits_int32(scaled))
            return false;
        s->counts[col->channel_index] = (int32_t)scaled;
        return true;
    case RM_COL_ENCODER:
    case RM_COL_POSITION_CM:
        if (!fits_int32(scaled))
            return false;
        s->encoder = (int32_t)scaled;
        return true;
    case RM_COL_MARK:
        if (v != 0)
            s->flags |= RM_SAMPLE_MARK;
        return true;
    }
    return false;
}

static bool parse_sample(rm_text_decoder *d, char *line, rm_sample *out)
{
    const rm_profile *p = d->profile;
    char *fields[sizeof p->columns / sizeof p->columns[0]];
    if (split_fields(line, p->separator, fields, p->column_count) !=
        p->column_count)
        return false;
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < p->column_count; i++) {
        double v;
        if (!parse_value(fields[i], &v) || !apply_column(&p->columns[i], v, out))
            return false;
    }
    if (!p->has_time_column)
        out->t_us = d->index * US_PER_S / p->info.sample_rate_hz;
    return true;
}

/* A whole line is in d->line: classify it and maybe produce a sample. */
static bool finish_line(rm_text_decoder *d, rm_sample *out)
{
    d->line[d->len] = '\0';
    if (d->overlong) {
        d->stats.lines_too_long++;
        return false;
    }
    char *line = d->line;
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\0')
        return false; /* blank, or the LF of a CRLF */
    d->line_number++;
    if (is_header_line(d, line)) {
        d->stats.lines_skipped++;
        return false;
    }
    bool has_nul = memchr(d->line, '\0', d->len) != NULL; /* binary noise */
    if (has_nul || !parse_sample(d, line, out)) {
        d->stats.lines_bad++;
        return false;
    }
    d->stats.lines_ok++;
    d->index++;
    return true;
}

static void append_to_line(rm_text_decoder *d, const uint8_t *data, size_t n)
{
    if (d->overlong)
        return;
    if (d->len + n >= sizeof d->line) {
        d->overlong = true;
        return;
    }
    memcpy(d->line + d->len, data, n);
    d->len += n;
}

size_t rm_text_decoder_push(rm_text_decoder *d, const uint8_t *data,
                            size_t len, rm_sample *out, bool *have_sample)
{
    size_t used = 0;
    *have_sample = false;
    while (used < len && !*have_sample) {
        size_t run = 0;
        while (used + run < len && !is_line_end(data[used + run]))
            run++;
        append_to_line(d, data + used, run);
        used += run;
        if (used == len)
            break;
        used++; /* the line end */
        *have_sample = finish_line(d, out);
        d->len = 0;
        d->overlong = false;
    }
    return used;
}
