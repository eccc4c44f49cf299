/*
 * report.json: the analysis of one session as JSON (schema in
 * docs/REPORT.md). Every quantity carries its unit in its key; a value that
 * is unknown or not measurable (NaN) is written as null.
 */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/** Bumped when a field changes meaning or disappears (not on additions). */
#define REPORT_SCHEMA_VERSION 1

/** An integer where a negative value means "none" (ratings, indices). */
static void put_optional_int(rm_json_writer *w, const char *key, int64_t v)
{
    rm_json_key(w, key);
    if (v < 0)
        rm_json_null(w);
    else
        rm_json_int(w, v);
}

static void write_session(rm_json_writer *w, const rm_analysis *a)
{
    char start[32];
    rm_format_iso8601(start, a->meta.start_unix_us);
    rm_json_key(w, "session");
    rm_json_object_open(w);
    rm_json_member_string(w, "id", a->meta.session_id);
    rm_json_member_string(w, "client", a->meta.client);
    rm_json_member_string(w, "side", rm_side_name((rm_side)a->meta.side));
    rm_json_member_string(w, "muscle", a->meta.muscle);
    rm_json_key(w, "start");
    if (a->meta.start_unix_us == 0)
        rm_json_null(w); /* unknown, not 1970 */
    else
        rm_json_string(w, start);
    rm_json_member_int(w, "start_unix_us", a->meta.start_unix_us);
    rm_json_member_number(w, "duration_s", a->summary.duration_s);
    rm_json_member_string(w, "notes", a->meta.notes);
    rm_json_object_close(w);
}

static void write_device(rm_json_writer *w, const rm_analysis *a)
{
    rm_json_key(w, "device");
    rm_json_object_open(w);
    rm_json_member_string(w, "model", a->device.model);
    rm_json_member_string(w, "firmware", a->device.firmware);
    rm_json_member_string(w, "serial", a->device.serial);
    rm_json_member_string(w, "kind", rm_device_kind_name((rm_device_kind)a->device.device_kind));
    rm_json_member_int(w, "sample_rate_hz", a->device.sample_rate_hz);
    rm_json_member_int(w, "channels", a->device.channel_count);
    rm_json_member_bool(w, "has_position", a->has_position);
    rm_json_member_bool(w, "has_pressure", a->has_pressure);
    rm_json_object_close(w);
}

static void write_config(rm_json_writer *w, const rm_analysis_config *c)
{
    rm_json_key(w, "config");
    rm_json_object_open(w);
    rm_json_member_number(w, "analysis_rate_hz", c->analysis_rate_hz);
    rm_json_member_number(w, "load_threshold_n", c->load_threshold_n);
    rm_json_member_number(w, "dwell_radius_cm", c->dwell_radius_cm);
    rm_json_member_number(w, "dwell_min_s", c->dwell_min_s);
    rm_json_member_number(w, "target_hold_s", c->target_hold_s);
    rm_json_member_number(w, "target_speed_cm_s", c->target_speed_cm_s);
    rm_json_member_number(w, "tremor_lo_hz", c->tremor_lo_hz);
    rm_json_member_number(w, "tremor_hi_hz", c->tremor_hi_hz);
    rm_json_member_number(w, "profile_bin_cm", c->profile_bin_cm);
    rm_json_member_number(w, "spot_min_score", c->spot_min_score);
    rm_json_member_number(w, "spot_merge_cm", c->spot_merge_cm);
    rm_json_object_close(w);
}

static void write_summary(rm_json_writer *w, const rm_analysis *a)
{
    const rm_summary shown = report_summary(a);
    rm_json_key(w, "summary");
    rm_json_object_open(w);
    rm_summary_json_members(w, &shown);
    rm_json_object_close(w);
}

/** Writes the fields of item i of one of the analysis's arrays. */
typedef void (*item_writer)(rm_json_writer *w, const rm_analysis *a, size_t i);

/** key: [ {item 0}, {item 1}, ... ] */
static void write_array(rm_json_writer *w, const char *key, size_t count,
                        item_writer item, const rm_analysis *a)
{
    rm_json_key(w, key);
    rm_json_array_open(w);
    for (size_t i = 0; i < count; i++) {
        rm_json_object_open(w);
        item(w, a, i);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void dwell_item(rm_json_writer *w, const rm_analysis *a, size_t i)
{
    const rm_dwell *d = &a->dwells[i];
    rm_json_member_number(w, "start_s", d->start_s);
    rm_json_member_number(w, "end_s", d->end_s);
    rm_json_member_number(w, "duration_s", d->duration_s);
    rm_json_member_number(w, "position_cm", d->position_cm);
    rm_json_member_number(w, "position_pct", d->position_pct);
    rm_json_member_number(w, "ml", d->ml);
    rm_json_member_string(w, "side", rm_ml_side_name((rm_ml_side)d->side));
    rm_json_member_number(w, "mean_force_n", d->mean_force_n);
    rm_json_member_number(w, "peak_force_n", d->peak_force_n);
    rm_json_member_number(w, "mean_pressure_kpa", d->mean_pressure_kpa);
    rm_json_member_number(w, "peak_pressure_kpa", d->peak_pressure_kpa);
    rm_json_member_number(w, "pressure_time_kpa_s", d->pressure_time_kpa_s);
    rm_json_member_number(w, "force_cv", d->force_stability);
    rm_json_member_number(w, "tremor_power_n2", d->tremor_power);
    rm_json_member_int(w, "marks", d->marks);
    rm_json_member_bool(w, "reached_target_hold", d->duration_s >= a->config.target_hold_s);
}

static void write_evidence(rm_json_writer *w, const rm_spot_evidence *e)
{
    rm_json_key(w, "evidence");
    rm_json_object_open(w);
    rm_json_member_number(w, "dwell_s", e->dwell_s);
    rm_json_member_number(w, "slowing", e->slowing);
    rm_json_member_number(w, "unloading", e->unloading);
    rm_json_member_number(w, "tremor", e->tremor);
    rm_json_member_int(w, "marks", e->marks);
    rm_json_member_number(w, "mark_rating", e->mark_rating < 0 ? NAN : e->mark_rating);
    rm_json_object_close(w);
}

static void spot_item(rm_json_writer *w, const rm_analysis *a, size_t i)
{
    const rm_spot *s = &a->spots[i];
    rm_json_member_number(w, "position_cm", s->position_cm);
    rm_json_member_number(w, "position_pct", s->position_pct);
    rm_json_member_number(w, "ml", s->ml);
    rm_json_member_string(w, "side", rm_ml_side_name((rm_ml_side)s->side));
    rm_json_member_number(w, "score", s->score);
    rm_json_member_number(w, "confidence", s->confidence);
    rm_json_member_number(w, "threshold_force_n", s->threshold_force_n);
    rm_json_member_number(w, "threshold_pressure_kpa", s->threshold_pressure_kpa);
    write_evidence(w, &s->evidence);
}

static void mark_item(rm_json_writer *w, const rm_analysis *a, size_t i)
{
    const rm_mark *m = &a->marks[i];
    rm_json_member_number(w, "t_s", m->t_s);
    rm_json_member_number(w, "position_cm", m->position_cm);
    rm_json_member_number(w, "force_n", m->force_n);
    rm_json_member_number(w, "pressure_kpa", m->pressure_kpa);
    put_optional_int(w, "rating", m->rating);
    put_optional_int(w, "spot", m->spot);
}

static void profile_item(rm_json_writer *w, const rm_analysis *a, size_t i)
{
    const rm_profile_bin *b = &a->profile[i];
    rm_json_member_number(w, "position_cm", b->position_cm);
    rm_json_member_number(w, "time_s", b->time_s);
    rm_json_member_number(w, "mean_force_n", b->mean_force_n);
    rm_json_member_number(w, "peak_force_n", b->peak_force_n);
    rm_json_member_number(w, "mean_pressure_kpa", b->mean_pressure_kpa);
    rm_json_member_number(w, "tenderness", b->tenderness);
    rm_json_member_number(w, "medial_force_n", b->medial_force_n);
    rm_json_member_number(w, "lateral_force_n", b->lateral_force_n);
}

static void gap_item(rm_json_writer *w, const rm_analysis *a, size_t i)
{
    const rm_gap *g = &a->gaps[i];
    rm_json_member_int(w, "start_us", (int64_t)g->start_us);
    rm_json_member_int(w, "end_us", (int64_t)g->end_us);
    rm_json_member_number(w, "duration_s", g->end_us > g->start_us
                                    ? (double)(g->end_us - g->start_us) / 1e6 : 0.0);
    rm_json_member_int(w, "lost_samples", (int64_t)g->lost_samples);
    rm_json_member_string(w, "reason", rm_gap_reason_name((rm_gap_reason)g->reason));
}

static void write_quality(rm_json_writer *w, const rm_analysis *a)
{
    const rm_quality *q = &a->quality;
    rm_json_key(w, "quality");
    rm_json_object_open(w);
    rm_json_member_int(w, "gaps", (int64_t)q->gaps);
    rm_json_member_number(w, "gap_s", q->gap_s);
    rm_json_member_int(w, "lost_samples", (int64_t)q->lost_samples);
    rm_json_member_int(w, "crc_errors", (int64_t)q->crc_errors);
    rm_json_key(w, "link");
    rm_json_write_link_stats(w, &q->link);
    rm_json_member_number(w, "saturation_pct", q->saturation_pct);
    rm_json_member_number(w, "calibration_age_days", q->calibration_age_days);
    rm_json_member_bool(w, "calibration_stale", q->calibration_stale);
    rm_json_member_bool(w, "mains_hum_removed", q->mains_hum_removed);
    rm_json_member_number(w, "mains_hz", q->mains_hum_removed ? q->mains_hz : NAN);
    rm_json_member_int(w, "blocks_skipped", (int64_t)q->blocks_skipped);
    write_array(w, "gap_list", a->gap_count, gap_item, a);
    rm_json_object_close(w);
}

rm_status rm_report_json(const rm_analysis *a, FILE *out, rm_error *err)
{
    rm_json_writer w;
    rm_json_begin(&w, out, true);
    rm_json_object_open(&w);
    rm_json_member_string(&w, "schema", "rollmap-report");
    rm_json_member_int(&w, "schema_version", REPORT_SCHEMA_VERSION);
    rm_json_member_string(&w, "generator", "rollmap " RM_VERSION_STRING);
    write_session(&w, a);
    write_device(&w, a);
    write_config(&w, &a->config);
    write_summary(&w, a);
    write_array(&w, "dwells", a->dwell_count, dwell_item, a);
    write_array(&w, "tender_spots", a->spot_count, spot_item, a);
    write_array(&w, "marks", a->mark_count, mark_item, a);
    write_array(&w, "profile", a->bin_count, profile_item, a);
    write_quality(&w, a);
    rm_json_object_close(&w);
    rm_json_end(&w);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "report JSON: write failed: %s",
                            strerror(errno));
    return RM_OK;
}
