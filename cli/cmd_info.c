/* rollmap info: what a session file holds and what state it is in. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define CMD "info"
#define US_PER_S 1e6

typedef struct info_options {
    bool json;
    bool verify;
    const char *path;
} info_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap info SESSION [--json] [--no-verify]\n\n"
          "Show a session file: its metadata (session id, client, side, muscle,\n"
          "start, notes), the device and channel calibrations, duration, sample\n"
          "count and rate, gaps, events, the serial link figures the recorder\n"
          "counted (CRC errors, malformed frames, frames lost, bytes skipped) and\n"
          "integrity (blocks intact or skipped, whether it was truncated or\n"
          "closed cleanly). In --json the link figures are session.link, absent\n"
          "when the file does not record them.\n\n"
          "Options:\n"
          "  --json        machine-readable output\n"
          "  --no-verify   only read block headers (instant on large files);\n"
          "                by default every block's checksum is checked too\n"
          "  -h, --help    this help\n\n"
          "Example:\n"
          "  rollmap info sessions/20261124T060724Z-3f2a.rms --json\n", out);
}

static int parse_options(int argc, char **argv, info_options *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"no-verify", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = true; break;
        case 'n': o->verify = false; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_fail(CMD, optind == argc ? "missing SESSION file"
                                     : "expected one SESSION file");
        usage(stderr);
        return CLI_USAGE;
    }
    o->path = argv[optind];
    return CLI_OK;
}

static double duration_s(const rm_session *s)
{
    /* A device clock that restarted mid-file gives no duration. */
    uint64_t first = rm_session_first_us(s), last = rm_session_last_us(s);
    return last > first ? (double)(last - first) / US_PER_S : 0;
}

/* Samples per second between the first and the last sample (0 if unknown). */
static double measured_rate_hz(const rm_session *s)
{
    uint64_t n = rm_session_sample_count(s);
    double span = duration_s(s);
    return n > 1 && span > 0 ? (double)(n - 1) / span : 0;
}

static uint64_t samples_lost(const rm_session *s)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(s, &n);
    uint64_t lost = 0;
    for (size_t i = 0; i < n; i++)
        lost += gaps[i].lost_samples;
    return lost;
}

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

static void print_meta(const rm_session_meta *m)
{
    char start[32];
    rm_format_iso8601(start, m->start_unix_us);
    printf("session     %s\n", m->session_id);
    printf("client      %s\n", m->client[0] ? m->client : "(none)");
    printf("side        %s\n", rm_side_name((rm_side)m->side));
    printf("muscle      %s\n", m->muscle);
    printf("start       %s\n", m->start_unix_us ? start : "(unknown)");
    if (m->notes[0])
        printf("notes       %s\n", m->notes);
}

static void print_channel(unsigned index, const rm_channel_info *ch)
{
    const double *c = ch->cal.coef;
    printf("  ch%-2u %-13s at %6.1f mm  N = %.6g + %.6g x", index,
           ch->kind == RM_CHANNEL_PRESSURE_CELL ? "pressure cell" : "load cell",
           ch->position_mm, c[0], c[1]);
    if (c[2] != 0 || c[3] != 0)
        printf(" + %.6g x^2 + %.6g x^3", c[2], c[3]);
    printf(" (x = counts - %g), calibration: %s\n", ch->cal.tare_counts,
           ch->cal.origin[0] ? ch->cal.origin : "unknown");
}

static void print_device(const rm_device_info *d)
{
    printf("device      %s, firmware %s, serial %s\n", d->model[0] ? d->model : "?",
           d->firmware[0] ? d->firmware : "?", d->serial[0] ? d->serial : "(none)");
    if (d->encoder_counts_per_turn)
        printf("encoder     %u counts/turn, roller %.1f mm diameter\n",
               d->encoder_counts_per_turn, d->roller_diameter_mm);
    printf("channels    %u\n", d->channel_count);
    for (unsigned i = 0; i < d->channel_count; i++)
        print_channel(i, &d->channels[i]);
}

static void print_samples(const rm_session *s)
{
    const rm_device_info *d = rm_session_device(s);
    printf("samples     %llu\n", (unsigned long long)rm_session_sample_count(s));
    printf("duration    %.3f s (device time %.6f s to %.6f s)\n", duration_s(s),
           (double)rm_session_first_us(s) / US_PER_S,
           (double)rm_session_last_us(s) / US_PER_S);
    printf("rate        %u Hz nominal, %.1f Hz measured\n", d->sample_rate_hz,
           measured_rate_hz(s));
}

static void print_gaps_and_events(const rm_session *s)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(s, &n);
    printf("gaps        %zu (%llu samples lost)\n", n,
           (unsigned long long)samples_lost(s));
    for (size_t i = 0; i < n; i++)
        printf("  %.3f s to %.3f s  %llu lost  %s\n", (double)gaps[i].start_us / US_PER_S,
               (double)gaps[i].end_us / US_PER_S,
               (unsigned long long)gaps[i].lost_samples,
               rm_gap_reason_name((rm_gap_reason)gaps[i].reason));
    const rm_event *events = rm_session_events(s, &n);
    printf("events      %zu\n", n);
    for (size_t i = 0; i < n; i++)
        printf("  %.3f s  %s %d%s%s\n", (double)events[i].t_us / US_PER_S,
               rm_event_kind_name((rm_event_kind)events[i].kind), events[i].value,
               events[i].text[0] ? "  " : "", events[i].text);
}

static void print_link(const rm_link_stats *link)
{
    char text[128];
    rm_link_stats_describe(link, text, sizeof text);
    printf("link        %s\n", text);
    if (link->recorded && rm_link_stats_problems(link))
        printf("  %llu frames ok, %llu CRC errors, %llu malformed, %llu too long, "
               "%llu lost, %llu bytes skipped\n",
               (unsigned long long)link->frames_ok,
               (unsigned long long)link->crc_errors,
               (unsigned long long)link->malformed,
               (unsigned long long)link->oversized,
               (unsigned long long)link->frames_lost,
               (unsigned long long)link->bytes_discarded);
}

static void print_integrity(const rm_session *s, bool verified)
{
    const rm_integrity *in = rm_session_integrity(s);
    printf("integrity   %llu blocks intact, %llu skipped (%llu bytes)%s\n",
           (unsigned long long)in->blocks_ok, (unsigned long long)in->blocks_skipped,
           (unsigned long long)in->bytes_skipped,
           verified ? ", every checksum verified" : ", block headers only");
    printf("closed      %s\n", in->closed_cleanly
                                   ? "cleanly (closing index present)"
                                   : "not cleanly (recovered by walking blocks)");
    printf("truncated   %s\n", in->truncated ? "yes (ends inside a block)" : "no");
    for (size_t i = 0; i < in->skipped_count; i++)
        printf("  skipped %llu bytes at offset %llu: %s\n",
               (unsigned long long)in->skipped[i].length,
               (unsigned long long)in->skipped[i].offset, in->skipped[i].reason);
}

static void print_text(const rm_session *s, const char *path, bool verified)
{
    printf("file        %s (format version %u)\n", path, rm_session_format_version(s));
    print_meta(rm_session_meta_of(s));
    print_device(rm_session_device(s));
    print_samples(s);
    print_gaps_and_events(s);
    print_link(&rm_session_meta_of(s)->link);
    print_integrity(s, verified);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */
/* ------------------------------------------------------------------------ */

static void json_gaps_and_events(rm_json_writer *w, const rm_session *s)
{
    size_t n;
    const rm_gap *gaps = rm_session_gaps(s, &n);
    rm_json_key(w, "gaps");
    rm_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(w);
        rm_json_member_int(w, "start_us", (int64_t)gaps[i].start_us);
        rm_json_member_int(w, "end_us", (int64_t)gaps[i].end_us);
        rm_json_member_int(w, "lost_samples", (int64_t)gaps[i].lost_samples);
        rm_json_member_string(w, "reason", rm_gap_reason_name((rm_gap_reason)gaps[i].reason));
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
    const rm_event *events = rm_session_events(s, &n);
    rm_json_key(w, "events");
    rm_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(w);
        rm_json_member_int(w, "t_us", (int64_t)events[i].t_us);
        rm_json_member_string(w, "kind", rm_event_kind_name((rm_event_kind)events[i].kind));
        rm_json_member_int(w, "value", events[i].value);
        rm_json_member_string(w, "text", events[i].text);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void json_integrity(rm_json_writer *w, const rm_session *s, bool verified)
{
    const rm_integrity *in = rm_session_integrity(s);
    rm_json_key(w, "integrity");
    rm_json_object_open(w);
    rm_json_member_int(w, "blocks_ok", (int64_t)in->blocks_ok);
    rm_json_member_int(w, "blocks_skipped", (int64_t)in->blocks_skipped);
    rm_json_member_int(w, "bytes_skipped", (int64_t)in->bytes_skipped);
    rm_json_member_bool(w, "truncated", in->truncated);
    rm_json_member_bool(w, "closed_cleanly", in->closed_cleanly);
    rm_json_member_bool(w, "verified", verified);
    rm_json_key(w, "skipped");
    rm_json_array_open(w);
    for (size_t i = 0; i < in->skipped_count; i++) {
        rm_json_object_open(w);
        rm_json_member_int(w, "offset", (int64_t)in->skipped[i].offset);
        rm_json_member_int(w, "length", (int64_t)in->skipped[i].length);
        rm_json_member_string(w, "reason", in->skipped[i].reason);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
    rm_json_object_close(w);
}

static void print_json(const rm_session *s, const char *path, bool verified)
{
    rm_json_writer w;
    rm_json_begin(&w, stdout, true);
    rm_json_object_open(&w);
    rm_json_member_string(&w, "file", path);
    rm_json_member_int(&w, "format_version", rm_session_format_version(s));
    rm_json_key(&w, "session");
    rm_json_write_meta(&w, rm_session_meta_of(s));
    rm_json_key(&w, "device");
    rm_json_write_device(&w, rm_session_device(s));
    rm_json_member_int(&w, "samples", (int64_t)rm_session_sample_count(s));
    rm_json_member_int(&w, "first_us", (int64_t)rm_session_first_us(s));
    rm_json_member_int(&w, "last_us", (int64_t)rm_session_last_us(s));
    rm_json_member_number(&w, "duration_s", duration_s(s));
    rm_json_member_number(&w, "rate_hz_measured", measured_rate_hz(s));
    rm_json_member_int(&w, "samples_lost_in_gaps", (int64_t)samples_lost(s));
    json_gaps_and_events(&w, s);
    json_integrity(&w, s, verified);
    rm_json_object_close(&w);
    rm_json_end(&w);
}

int cmd_info(int argc, char **argv)
{
    info_options o = {.verify = true};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rm_session *s = NULL;
    rm_error err;
    rm_error_clear(&err);
    if (rm_session_open(&s, o.path, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    if (o.verify && rm_session_verify(s, &err) != RM_OK) {
        rm_session_close(s);
        return cli_fail_error(CMD, &err);
    }
    if (o.json)
        print_json(s, o.path, o.verify);
    else
        print_text(s, o.path, o.verify);
    rm_session_close(s);
    return CLI_OK;
}
