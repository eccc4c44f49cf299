/*
 * summary.txt: the report for a terminal, fixed width, never wider than
 * 80 columns. Client text is printed with control characters replaced so a
 * hostile note cannot drive the terminal.
 */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/** Widest line the text report writes (a classic terminal). */
#define TEXT_WIDTH 80
/** Wrapped text ends this far short of TEXT_WIDTH. */
#define TEXT_WRAP_MARGIN 2

void report_format_start(char out[32], int64_t start_unix_us)
{
    if (start_unix_us == 0)
        strcpy(out, "(unknown)");
    else
        rm_format_iso8601(out, start_unix_us);
}

void report_format_clock(char out[24], double seconds)
{
    if (!isfinite(seconds)) {
        strcpy(out, "-");
        return;
    }
    const char *sign = seconds < 0 ? "-" : "";
    long long total = llround(fabs(seconds));
    long long h = total / 3600, m = total / 60 % 60, s = total % 60;
    if (h > 0)
        snprintf(out, 24, "%s%lld:%02lld:%02lld", sign, h, m, s);
    else
        snprintf(out, 24, "%s%lld:%02lld", sign, m, s);
}

void report_format_number(char out[32], double value, int decimals)
{
    if (!isfinite(value))
        strcpy(out, "-");
    else
        snprintf(out, 32, "%.*f", decimals, value);
}

void report_format_quantity(char out[64], double value, int decimals,
                            const char *unit)
{
    char number[32];
    report_format_number(number, value, decimals);
    bool with_unit = isfinite(value) && unit[0];
    snprintf(out, 64, "%s%s%s", number, with_unit ? " " : "",
             with_unit ? unit : "");
}

rm_summary report_summary(const rm_analysis *a)
{
    rm_summary s = a->summary;
    if (!a->has_position) {
        s.rolled_length_cm = s.cadence_per_min = NAN;
        s.mean_speed_cm_s = s.time_too_fast_s = NAN;
    }
    if (!a->has_pressure)
        s.mean_pressure_kpa = s.peak_pressure_kpa = NAN;
    return s;
}

const char *report_positions_note(const rm_analysis *a)
{
    return a->has_position ? "cm from the gluteal fold; % of the rolled length"
                           : NULL;
}

void report_dwell_rule(char out[160], const rm_analysis *a)
{
    const rm_analysis_config *c = &a->config;
    if (a->has_position)
        snprintf(out, 160, "Contact held within +/-%.1f cm for at least %.0f s "
                 "(recommended hold %.0f s).", c->dwell_radius_cm,
                 c->dwell_min_s, c->target_hold_s);
    else
        snprintf(out, 160, "Load held for at least %.0f s (recommended hold "
                 "%.0f s).", c->dwell_min_s, c->target_hold_s);
}

bool report_lateral_on_left(const rm_analysis *a)
{
    /* Seen from behind, the midline lies to the viewer's right of a left
     * leg, so its lateral side (biceps femoris) is on the viewer's left. */
    return a->meta.side == RM_SIDE_LEFT;
}

/** How many bytes of s fit in max bytes without splitting a UTF-8
 *  sequence. */
static size_t utf8_fit(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

void report_text_clean(FILE *out, const char *s, size_t max)
{
    size_t len = utf8_fit(s, max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

static void put_rule(FILE *out, char c, size_t width)
{
    for (size_t i = 0; i < width; i++)
        fputc(c, out);
    fputc('\n', out);
}

static void put_heading(FILE *out, const char *title)
{
    fprintf(out, "\n%s\n", title);
    put_rule(out, '-', strlen(title));
}

/** A "label   value" line; value truncated to keep within TEXT_WIDTH. */
static void put_field(FILE *out, const char *label, const char *value)
{
    enum { LABEL_WIDTH = 22 };
    fprintf(out, "%-*s", LABEL_WIDTH, label);
    report_text_clean(out, value, TEXT_WIDTH - LABEL_WIDTH);
    fputc('\n', out);
}

/** Length of the next line of at most `width` bytes of s, broken at a space
 *  where possible and never inside a UTF-8 sequence. */
static size_t wrap_length(const char *s, size_t width)
{
    size_t len = strcspn(s, "\n");
    if (len <= width)
        return len;
    for (size_t i = width; i > 0; i--)
        if (s[i] == ' ')
            return i;
    size_t cut = utf8_fit(s, width);
    return cut > 0 ? cut : width;
}

void report_put_wrapped(FILE *out, const char *s, int indent)
{
    size_t width = (size_t)(TEXT_WIDTH - TEXT_WRAP_MARGIN - indent);
    while (*s) {
        size_t len = wrap_length(s, width);
        fprintf(out, "%*s", indent, "");
        report_text_clean(out, s, len);
        fputc('\n', out);
        s += len;
        while (*s == ' ' || *s == '\n')
            s++;
    }
}

static void write_header(FILE *out, const rm_analysis *a)
{
    char start[32], duration[24];
    report_format_start(start, a->meta.start_unix_us);
    report_format_clock(duration, a->summary.duration_s);
    fprintf(out, "%-64s%16s\n", "rollmap session report",
            "rollmap " RM_VERSION_STRING);
    put_rule(out, '=', TEXT_WIDTH);
    put_field(out, "Session", a->meta.session_id);
    put_field(out, "Client", a->meta.client);
    put_field(out, "Side", a->meta.side == RM_SIDE_UNKNOWN
                               ? "unknown (medial, lateral as on a right leg)"
                               : rm_side_name((rm_side)a->meta.side));
    put_field(out, "Muscle", a->meta.muscle);
    put_field(out, "Start (UTC)", start);
    put_field(out, "Duration", duration);
    put_field(out, "Device", a->device.model[0] ? a->device.model : "-");
    if (report_positions_note(a))
        put_field(out, "Positions", report_positions_note(a));
}

static void put_quantity(FILE *out, const char *label, double value,
                         int decimals, const char *unit)
{
    char text[64];
    report_format_quantity(text, value, decimals, unit);
    put_field(out, label, text);
}

static void write_summary(FILE *out, const rm_analysis *a)
{
    put_heading(out, "Summary");
    report_put_summary(out, a, put_field);
    if (!a->has_position)
        fputs("\nNo position along the leg: the device has no rotation encoder\n"
              "(ball or probe), so there is no profile or map.\n", out);
}

static void write_dwells(FILE *out, const rm_analysis *a)
{
    char rule[160];
    report_dwell_rule(rule, a);
    put_heading(out, "Dwells");
    fprintf(out, "%s\n", rule);
    if (a->dwell_count == 0) {
        fputs("None.\n", out);
        return;
    }
    fputs("  #    start      end  dur s  pos cm  pos %  side      "
          "mean N  peak N   kPa  mk\n", out);
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        char start[24], end[24], pos[32], pct[32], kpa[32];
        report_format_clock(start, d->start_s);
        report_format_clock(end, d->end_s);
        report_format_number(pos, d->position_cm, 1);
        report_format_number(pct, d->position_pct, 0);
        report_format_number(kpa, d->mean_pressure_kpa, 1);
        fprintf(out, "%3zu %8.8s %8.8s %6.1f %7.7s %6.6s  %-8.8s %7.1f %7.1f "
                "%5.5s %3u\n", i + 1, start, end, d->duration_s, pos, pct,
                rm_ml_side_name((rm_ml_side)d->side), d->mean_force_n,
                d->peak_force_n, kpa, d->marks);
    }
}

static void write_spots(FILE *out, const rm_analysis *a)
{
    put_heading(out, "Tender spots");
    fprintf(out, "Score 0-10 from the evidence: dwell time (s); slowing, "
            "unloading and\ntremor (0-1); marks and their mean rating. Shown "
            "from score %.1f.\n", a->config.spot_min_score);
    if (a->spot_count == 0) {
        fputs("None found.\n", out);
        return;
    }
    fputs("  # pos cm pos %  side     score conf dwell s  slow unload "
          "tremor marks rate\n", out);
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *s = &a->spots[i];
        const rm_spot_evidence *e = &s->evidence;
        char pos[32], pct[32], rating[32];
        report_format_number(pos, s->position_cm, 1);
        report_format_number(pct, s->position_pct, 0);
        report_format_number(rating, e->mark_rating < 0 ? NAN : e->mark_rating, 1);
        fprintf(out, "%3zu %6.6s %5.5s  %-8.8s %5.1f %4.2f %7.1f %5.2f %6.2f "
                "%6.2f %5u %4.4s\n", i + 1, pos, pct,
                rm_ml_side_name((rm_ml_side)s->side), s->score, s->confidence,
                e->dwell_s, e->slowing, e->unloading, e->tremor,
                e->marks, rating);
    }
}

static void write_marks(FILE *out, const rm_analysis *a)
{
    if (a->mark_count == 0)
        return;
    put_heading(out, "Marks (\"tender here\" button)");
    fputs("  #     time  pos cm  force N    kPa  rating  spot\n", out);
    for (size_t i = 0; i < a->mark_count; i++) {
        const rm_mark *m = &a->marks[i];
        char t[24], pos[32], force[32], kpa[32], rating[32], spot[32];
        report_format_clock(t, m->t_s);
        report_format_number(pos, m->position_cm, 1);
        report_format_number(force, m->force_n, 1);
        report_format_number(kpa, m->pressure_kpa, 1);
        report_format_number(rating, m->rating < 0 ? NAN : m->rating, 0);
        report_format_number(spot, m->spot < 0 ? NAN : m->spot + 1, 0);
        fprintf(out, "%3zu %8.8s %7.7s %8.8s %6.6s %7.7s %5.5s\n", i + 1, t,
                pos, force, kpa, rating, spot);
    }
}

static void write_quality(FILE *out, const rm_analysis *a)
{
    const rm_quality *q = &a->quality;
    char text[80], days[32];
    put_heading(out, "Recording quality");
    snprintf(text, sizeof text, "%zu (%.1f s, %llu samples lost)", q->gaps,
             q->gap_s, (unsigned long long)q->lost_samples);
    put_field(out, "Gaps", text);
    rm_link_stats_describe(&q->link, text, sizeof text);
    put_field(out, "Serial link", text);
    put_quantity(out, "Saturated samples", q->saturation_pct, 2, "%");
    report_format_number(days, q->calibration_age_days, 0);
    snprintf(text, sizeof text, "%s%s", isfinite(q->calibration_age_days) ?
             days : "unknown", q->calibration_stale ? " days (stale: recalibrate)" :
             isfinite(q->calibration_age_days) ? " days" : "");
    put_field(out, "Calibration age", text);
    if (q->mains_hum_removed)
        snprintf(text, sizeof text, "removed (%.0f Hz)", q->mains_hz);
    else
        snprintf(text, sizeof text, "none found");
    put_field(out, "Mains hum", text);
    snprintf(text, sizeof text, "%llu", (unsigned long long)q->blocks_skipped);
    put_field(out, "Damaged file blocks", text);
    if (rm_link_stats_problems(&q->link))
        report_put_wrapped(out, "Warning: the serial link rejected or lost "
                           "data during this session; check the cable and "
                           "the USB port.", 2);
}

static void write_notes(FILE *out, const rm_analysis *a)
{
    if (!a->meta.notes[0])
        return;
    put_heading(out, "Notes");
    report_put_wrapped(out, a->meta.notes, 2);
}

rm_status rm_report_text(const rm_analysis *a, FILE *out, rm_error *err)
{
    write_header(out, a);
    write_summary(out, a);
    write_dwells(out, a);
    write_spots(out, a);
    write_marks(out, a);
    write_quality(out, a);
    write_notes(out, a);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "text report: write failed: %s",
                            strerror(errno));
    return RM_OK;
}
