/* Which struct member each database column holds, and moving values
 * between the two. */
#include "library_internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define F(column, type, st, member) {column, type, offsetof(st, member)}
#define FIELDS(array) {array, sizeof array / sizeof array[0]}

static const library_field summary_fields[] = {
    F("duration_s", FIELD_DOUBLE, rm_summary, duration_s),
    F("rolled_length_cm", FIELD_DOUBLE, rm_summary, rolled_length_cm),
    F("time_under_load_s", FIELD_DOUBLE, rm_summary, time_under_load_s),
    F("mean_force_n", FIELD_DOUBLE, rm_summary, mean_force_n),
    F("peak_force_n", FIELD_DOUBLE, rm_summary, peak_force_n),
    F("mean_pressure_kpa", FIELD_DOUBLE, rm_summary, mean_pressure_kpa),
    F("peak_pressure_kpa", FIELD_DOUBLE, rm_summary, peak_pressure_kpa),
    F("strokes", FIELD_SIZE, rm_summary, strokes),
    F("cadence_per_min", FIELD_DOUBLE, rm_summary, cadence_per_min),
    F("spectral_cadence_per_min", FIELD_DOUBLE, rm_summary,
      spectral_cadence_per_min),
    F("hold_tremor_hz", FIELD_DOUBLE, rm_summary, hold_tremor_hz),
    F("hold_tremor_power_n2", FIELD_DOUBLE, rm_summary, hold_tremor_power_n2),
    F("hold_tremor_pct", FIELD_DOUBLE, rm_summary, hold_tremor_pct),
    F("mean_speed_cm_s", FIELD_DOUBLE, rm_summary, mean_speed_cm_s),
    F("time_too_fast_s", FIELD_DOUBLE, rm_summary, time_too_fast_s),
    F("vibration_hz", FIELD_DOUBLE, rm_summary, vibration_hz),
};
const library_fields library_summary_fields = FIELDS(summary_fields);

static const library_field quality_fields[] = {
    F("q_gaps", FIELD_SIZE, rm_quality, gaps),
    F("q_gap_s", FIELD_DOUBLE, rm_quality, gap_s),
    F("q_lost_samples", FIELD_U64, rm_quality, lost_samples),
    F("q_crc_errors", FIELD_U64, rm_quality, crc_errors),
    F("q_saturation_pct", FIELD_DOUBLE, rm_quality, saturation_pct),
    F("q_calibration_age_days", FIELD_DOUBLE, rm_quality, calibration_age_days),
    F("q_calibration_stale", FIELD_BOOL, rm_quality, calibration_stale),
    F("q_mains_hum_removed", FIELD_BOOL, rm_quality, mains_hum_removed),
    F("q_mains_hz", FIELD_DOUBLE, rm_quality, mains_hz),
    F("q_blocks_skipped", FIELD_U64, rm_quality, blocks_skipped),
};
const library_fields library_quality_fields = FIELDS(quality_fields);

static const library_field config_fields[] = {
    F("cfg_analysis_rate_hz", FIELD_DOUBLE, rm_analysis_config, analysis_rate_hz),
    F("cfg_load_threshold_n", FIELD_DOUBLE, rm_analysis_config, load_threshold_n),
    F("cfg_dwell_radius_cm", FIELD_DOUBLE, rm_analysis_config, dwell_radius_cm),
    F("cfg_dwell_min_s", FIELD_DOUBLE, rm_analysis_config, dwell_min_s),
    F("cfg_target_hold_s", FIELD_DOUBLE, rm_analysis_config, target_hold_s),
    F("cfg_target_speed_cm_s", FIELD_DOUBLE, rm_analysis_config, target_speed_cm_s),
    F("cfg_tremor_lo_hz", FIELD_DOUBLE, rm_analysis_config, tremor_lo_hz),
    F("cfg_tremor_hi_hz", FIELD_DOUBLE, rm_analysis_config, tremor_hi_hz),
    F("cfg_mains_hz", FIELD_DOUBLE, rm_analysis_config, mains_hz),
    F("cfg_profile_bin_cm", FIELD_DOUBLE, rm_analysis_config, profile_bin_cm),
    F("cfg_spot_min_score", FIELD_DOUBLE, rm_analysis_config, spot_min_score),
    F("cfg_spot_merge_cm", FIELD_DOUBLE, rm_analysis_config, spot_merge_cm),
    F("cfg_fsr_creep_pct", FIELD_DOUBLE, rm_analysis_config, fsr_creep_pct),
    F("cfg_calibration_max_days", FIELD_DOUBLE, rm_analysis_config,
      calibration_max_days),
};
const library_fields library_config_fields = FIELDS(config_fields);

static const library_field dwell_fields[] = {
    F("start_s", FIELD_DOUBLE, rm_dwell, start_s),
    F("end_s", FIELD_DOUBLE, rm_dwell, end_s),
    F("duration_s", FIELD_DOUBLE, rm_dwell, duration_s),
    F("position_cm", FIELD_DOUBLE, rm_dwell, position_cm),
    F("position_pct", FIELD_DOUBLE, rm_dwell, position_pct),
    F("ml", FIELD_DOUBLE, rm_dwell, ml),
    F("side", FIELD_U8, rm_dwell, side),
    F("mean_force_n", FIELD_DOUBLE, rm_dwell, mean_force_n),
    F("peak_force_n", FIELD_DOUBLE, rm_dwell, peak_force_n),
    F("mean_pressure_kpa", FIELD_DOUBLE, rm_dwell, mean_pressure_kpa),
    F("peak_pressure_kpa", FIELD_DOUBLE, rm_dwell, peak_pressure_kpa),
    F("pressure_time_kpa_s", FIELD_DOUBLE, rm_dwell, pressure_time_kpa_s),
    F("force_stability", FIELD_DOUBLE, rm_dwell, force_stability),
    F("tremor_power", FIELD_DOUBLE, rm_dwell, tremor_power),
    F("marks", FIELD_U32, rm_dwell, marks),
};
const library_table library_dwell_table = {"dwells", FIELDS(dwell_fields),
                                           sizeof(rm_dwell)};

static const library_field spot_fields[] = {
    F("position_cm", FIELD_DOUBLE, rm_spot, position_cm),
    F("position_pct", FIELD_DOUBLE, rm_spot, position_pct),
    F("ml", FIELD_DOUBLE, rm_spot, ml),
    F("side", FIELD_U8, rm_spot, side),
    F("score", FIELD_DOUBLE, rm_spot, score),
    F("strength", FIELD_DOUBLE, rm_spot, strength),
    F("strength_se", FIELD_DOUBLE, rm_spot, strength_se),
    F("side_confidence", FIELD_DOUBLE, rm_spot, side_confidence),
    F("confidence", FIELD_DOUBLE, rm_spot, confidence),
    F("ev_dwell_s", FIELD_DOUBLE, rm_spot, evidence.dwell_s),
    F("ev_slowing", FIELD_DOUBLE, rm_spot, evidence.slowing),
    F("ev_unloading", FIELD_DOUBLE, rm_spot, evidence.unloading),
    F("ev_tremor", FIELD_DOUBLE, rm_spot, evidence.tremor),
    F("ev_marks", FIELD_U32, rm_spot, evidence.marks),
    F("ev_mark_rating", FIELD_DOUBLE, rm_spot, evidence.mark_rating),
    F("threshold_force_n", FIELD_DOUBLE, rm_spot, threshold_force_n),
    F("threshold_pressure_kpa", FIELD_DOUBLE, rm_spot, threshold_pressure_kpa),
};
const library_table library_spot_table = {"spots", FIELDS(spot_fields),
                                          sizeof(rm_spot)};

static const library_field mark_fields[] = {
    F("t_s", FIELD_DOUBLE, rm_mark, t_s),
    F("position_cm", FIELD_DOUBLE, rm_mark, position_cm),
    F("force_n", FIELD_DOUBLE, rm_mark, force_n),
    F("pressure_kpa", FIELD_DOUBLE, rm_mark, pressure_kpa),
    F("rating", FIELD_INT, rm_mark, rating),
    F("spot", FIELD_INT, rm_mark, spot),
};
const library_table library_mark_table = {"marks", FIELDS(mark_fields),
                                          sizeof(rm_mark)};

static const library_field profile_fields[] = {
    F("position_cm", FIELD_DOUBLE, rm_profile_bin, position_cm),
    F("time_s", FIELD_DOUBLE, rm_profile_bin, time_s),
    F("mean_force_n", FIELD_DOUBLE, rm_profile_bin, mean_force_n),
    F("peak_force_n", FIELD_DOUBLE, rm_profile_bin, peak_force_n),
    F("mean_pressure_kpa", FIELD_DOUBLE, rm_profile_bin, mean_pressure_kpa),
    F("tenderness", FIELD_DOUBLE, rm_profile_bin, tenderness),
    F("medial_force_n", FIELD_DOUBLE, rm_profile_bin, medial_force_n),
    F("lateral_force_n", FIELD_DOUBLE, rm_profile_bin, lateral_force_n),
    F("tremor", FIELD_DOUBLE, rm_profile_bin, tremor),
    F("passes", FIELD_SIZE, rm_profile_bin, passes),
};
const library_table library_profile_table = {"profile", FIELDS(profile_fields),
                                             sizeof(rm_profile_bin)};

bool library_fields_columns(const library_fields *f, const char *prefix,
                            char *buf, size_t cap)
{
    size_t used = strlen(buf);
    for (size_t i = 0; i < f->count; i++) {
        int n = snprintf(buf + used, cap - used, ", %s%s", prefix,
                         f->fields[i].column);
        if (n < 0 || (size_t)n >= cap - used)
            return false;
        used += (size_t)n;
    }
    return true;
}

/* The integer member at p, whatever its type (memcpy: no alignment or
 * aliasing assumptions). */
static int64_t integer_at(library_field_type type, const char *p)
{
    size_t z;
    uint64_t u64;
    uint32_t u32;
    int i;
    bool b;
    switch (type) {
    case FIELD_SIZE: memcpy(&z, p, sizeof z); return (int64_t)z;
    case FIELD_U64: memcpy(&u64, p, sizeof u64); return (int64_t)u64;
    case FIELD_U32: memcpy(&u32, p, sizeof u32); return u32;
    case FIELD_U8: return (uint8_t)*p;
    case FIELD_INT: memcpy(&i, p, sizeof i); return i;
    case FIELD_BOOL: memcpy(&b, p, sizeof b); return b;
    default: return 0;
    }
}

static void set_integer(library_field_type type, char *p, int64_t v)
{
    size_t z = (size_t)v;
    uint64_t u64 = (uint64_t)v;
    uint32_t u32 = (uint32_t)v;
    int i = (int)v;
    bool b = v != 0;
    switch (type) {
    case FIELD_SIZE: memcpy(p, &z, sizeof z); break;
    case FIELD_U64: memcpy(p, &u64, sizeof u64); break;
    case FIELD_U32: memcpy(p, &u32, sizeof u32); break;
    case FIELD_U8: *(uint8_t *)p = (uint8_t)v; break;
    case FIELD_INT: memcpy(p, &i, sizeof i); break;
    case FIELD_BOOL: memcpy(p, &b, sizeof b); break;
    default: break;
    }
}

static void bind_field(library_stmt *stmt, int index, const library_field *fd,
                       const char *p)
{
    if (fd->type != FIELD_DOUBLE) {
        library_bind_int64(stmt, index, integer_at(fd->type, p));
        return;
    }
    double v;
    memcpy(&v, p, sizeof v);
    if (isfinite(v))
        library_bind_double(stmt, index, v);
    else
        library_bind_null(stmt, index);
}

int library_fields_bind(library_stmt *stmt, int first, const library_fields *f,
                        const void *base)
{
    for (size_t i = 0; i < f->count; i++)
        bind_field(stmt, first++, &f->fields[i],
                   (const char *)base + f->fields[i].offset);
    return first;
}

static void read_field(library_stmt *stmt, int col, const library_field *fd,
                       char *p)
{
    if (fd->type != FIELD_DOUBLE) {
        set_integer(fd->type, p, library_column_int64(stmt, col));
        return;
    }
    double v = library_column_null(stmt, col)
                   ? NAN : library_column_double(stmt, col);
    memcpy(p, &v, sizeof v);
}

int library_fields_read(library_stmt *stmt, int first, const library_fields *f,
                        void *base)
{
    for (size_t i = 0; i < f->count; i++)
        read_field(stmt, first++, &f->fields[i],
                   (char *)base + f->fields[i].offset);
    return first;
}
