/*
 * The summary fields: one row per figure of rm_summary, iterated by every
 * writer that shows the summary (report.json, summary.txt, report.html and
 * the researcher-folder sidecars), so a new figure is one new row.
 */
#include "report_internal.h"

#include <stddef.h>

#define FIGURE(member) offsetof(rm_summary, member), false
#define COUNT(member) offsetof(rm_summary, member), true

/* Rows in the order people read them; duration has no label because the
 * reports show it with the session's identity. */
static const rm_summary_field summary_fields[] = {
    {"duration_s", NULL, "s", 0, RM_SUMMARY_CLOCK, FIGURE(duration_s)},
    {"time_under_load_s", "Time under load", "s", 0, RM_SUMMARY_CLOCK,
     FIGURE(time_under_load_s)},
    {"rolled_length_cm", "Rolled length", "cm", 1, RM_SUMMARY_NUMBER,
     FIGURE(rolled_length_cm)},
    {"mean_force_n", "Mean force", "N", 1, RM_SUMMARY_NUMBER,
     FIGURE(mean_force_n)},
    {"peak_force_n", "Peak force", "N", 1, RM_SUMMARY_NUMBER,
     FIGURE(peak_force_n)},
    {"mean_pressure_kpa", "Mean pressure", "kPa", 1, RM_SUMMARY_NUMBER,
     FIGURE(mean_pressure_kpa)},
    {"peak_pressure_kpa", "Peak pressure", "kPa", 1, RM_SUMMARY_NUMBER,
     FIGURE(peak_pressure_kpa)},
    {"strokes", "Strokes", "", 0, RM_SUMMARY_NUMBER, COUNT(strokes)},
    {"cadence_per_min", "Cadence", "strokes/min", 1, RM_SUMMARY_NUMBER,
     FIGURE(cadence_per_min)},
    {"spectral_cadence_per_min", "Cadence (spectrum)", "strokes/min", 1,
     RM_SUMMARY_NUMBER, FIGURE(spectral_cadence_per_min)},
    {"hold_tremor_hz", "Tremor peak in holds", "Hz", 1, RM_SUMMARY_NUMBER,
     FIGURE(hold_tremor_hz)},
    {"hold_tremor_pct", "Tremor in holds", "% of force", 2, RM_SUMMARY_NUMBER,
     FIGURE(hold_tremor_pct)},
    {"hold_tremor_power_n2", "Tremor power in holds", "N^2", 3,
     RM_SUMMARY_NUMBER, FIGURE(hold_tremor_power_n2)},
    {"mean_speed_cm_s", "Mean speed", "cm/s", 2, RM_SUMMARY_NUMBER,
     FIGURE(mean_speed_cm_s)},
    {"time_too_fast_s", "Faster than", "s", 0, RM_SUMMARY_TOO_FAST_CLOCK,
     FIGURE(time_too_fast_s)},
    {"vibration_hz", "Vibration", "Hz", 1, RM_SUMMARY_NUMBER_OR_NONE,
     FIGURE(vibration_hz)},
};

const rm_summary_field *rm_summary_fields(size_t *count)
{
    *count = sizeof summary_fields / sizeof *summary_fields;
    return summary_fields;
}

double rm_summary_field_value(const rm_summary_field *f, const rm_summary *s)
{
    const char *at = (const char *)s + f->offset;
    return f->is_count ? (double)*(const size_t *)at : *(const double *)at;
}

void rm_summary_field_label(char out[64], const rm_summary_field *f,
                            const rm_analysis_config *cfg)
{
    if (f->style == RM_SUMMARY_TOO_FAST_CLOCK)
        snprintf(out, 64, "%s %.1f cm/s", f->label, cfg->target_speed_cm_s);
    else
        snprintf(out, 64, "%s", f->label ? f->label : f->key);
}

void rm_summary_field_text(char out[64], const rm_summary_field *f,
                           const rm_summary *s)
{
    double value = rm_summary_field_value(f, s);
    switch (f->style) {
    case RM_SUMMARY_CLOCK:
    case RM_SUMMARY_TOO_FAST_CLOCK:
        report_format_clock(out, value);
        return;
    case RM_SUMMARY_NUMBER_OR_NONE:
        if (!(value > 0)) {
            snprintf(out, 64, "none");
            return;
        }
        break;
    case RM_SUMMARY_NUMBER:
        break;
    }
    report_format_quantity(out, value, f->decimals, f->unit);
}

void report_put_summary(FILE *out, const rm_analysis *a,
                        report_row_writer put)
{
    const rm_summary shown = report_summary(a);
    size_t count;
    const rm_summary_field *fields = rm_summary_fields(&count);
    for (size_t i = 0; i < count; i++) {
        if (!fields[i].label)
            continue;
        char label[64], text[64];
        rm_summary_field_label(label, &fields[i], &a->config);
        rm_summary_field_text(text, &fields[i], &shown);
        put(out, label, text);
    }
}

void rm_summary_json_members(rm_json_writer *w, const rm_summary *s)
{
    size_t count;
    const rm_summary_field *fields = rm_summary_fields(&count);
    for (size_t i = 0; i < count; i++) {
        double value = rm_summary_field_value(&fields[i], s);
        if (fields[i].is_count)
            rm_json_member_int(w, fields[i].key, (int64_t)value);
        else
            rm_json_member_number(w, fields[i].key, value);
    }
}
