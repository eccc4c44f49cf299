/*
 * The virtual roller's ground truth: what the person really did and which
 * spots were really tender, written as truth.json (docs/SIMULATOR.md).
 */
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Ground truth (docs/SIMULATOR.md, "truth.json")                           */
/* ------------------------------------------------------------------------ */



static void write_person(rm_json_writer *w, const rm_sim *sim)
{
    const rm_sim_config *c = &sim->cfg;
    rm_json_member_string(w, "device_kind", rm_device_kind_name((rm_device_kind)c->device_kind));
    rm_json_member_number(w, "body_mass_kg", c->body_mass_kg);
    rm_json_member_number(w, "leg_length_cm", c->leg_length_cm);
    rm_json_member_string(w, "side", rm_side_name(c->side));
    rm_json_member_string(w, "medial_toward", c->side == RM_SIDE_LEFT
                                               ? "larger position_mm"
                                               : "smaller position_mm");
    rm_json_member_number(w, "load_pct_bw", 100 * sim->mean_load_fraction);
    rm_json_member_number(w, "tremor_hz", sim->tremor_hz);
    rm_json_member_int(w, "encoder_origin", sim->encoder_origin);
    rm_json_key(w, "covered_cm");
    rm_json_array_open(w);
    if (sim->covered_any) {
        rm_json_number(w, sim->covered_min_cm);
        rm_json_number(w, sim->covered_max_cm);
    }
    rm_json_array_close(w);
    rm_json_member_number(w, "acted_until_s", sim->t_s);
}

static void write_spots(rm_json_writer *w, const rm_sim *sim)
{
    rm_json_key(w, "spots");
    rm_json_array_open(w);
    for (size_t i = 0; i < sim->spot_count; i++) {
        const rm_sim_spot *s = &sim->spots[i];
        rm_json_object_open(w);
        rm_json_member_int(w, "index", (int64_t)i);
        rm_json_member_number(w, "position_cm", s->position_cm);
        rm_json_member_string(w, "side", sim_ml_name(s->side));
        rm_json_member_number(w, "severity", s->severity);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void write_dwells(rm_json_writer *w, const rm_sim *sim)
{
    size_t n;
    const rm_sim_dwell *d = rm_sim_dwells(sim, &n);
    rm_json_key(w, "dwells");
    rm_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(w);
        rm_json_member_number(w, "start_s", d[i].start_s);
        rm_json_member_number(w, "end_s", fmin(d[i].end_s, sim->t_s));
        rm_json_member_number(w, "position_cm", d[i].position_cm);
        rm_json_member_int(w, "spot", d[i].spot);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void write_marks(rm_json_writer *w, const rm_sim *sim)
{
    size_t n;
    const rm_sim_mark *m = rm_sim_marks(sim, &n);
    rm_json_key(w, "marks");
    rm_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        rm_json_object_open(w);
        rm_json_member_number(w, "t_s", m[i].t_s);
        rm_json_member_number(w, "position_cm", m[i].position_cm);
        rm_json_member_int(w, "spot", m[i].spot);
        rm_json_object_close(w);
    }
    rm_json_array_close(w);
}

static void write_wire(rm_json_writer *w, const rm_sim *sim)
{
    const rm_sim_wire_stats *s = &sim->wire.stats;
    rm_json_key(w, "wire");
    rm_json_object_open(w);
    rm_json_member_int(w, "frames_sent", (int64_t)s->frames_sent);
    rm_json_member_int(w, "frames_dropped", (int64_t)s->frames_dropped);
    rm_json_member_int(w, "frames_corrupted", (int64_t)s->frames_corrupted);
    rm_json_member_int(w, "bits_flipped", (int64_t)s->bits_flipped);
    rm_json_member_int(w, "boots", (int64_t)s->boots);
    rm_json_member_int(w, "commands", (int64_t)s->commands);
    rm_json_object_close(w);
}

rm_status rm_sim_write_truth(const rm_sim *sim, FILE *out, rm_error *err)
{
    rm_json_writer w;
    rm_json_begin(&w, out, true);
    rm_json_object_open(&w);
    rm_json_member_string(&w, "format", "rollmap-sim-truth");
    rm_json_member_int(&w, "version", 1);
    sim_config_write_json(&w, &sim->cfg);
    write_person(&w, sim);
    write_spots(&w, sim);
    write_dwells(&w, sim);
    write_marks(&w, sim);
    write_wire(&w, sim);
    rm_json_object_close(&w);
    rm_json_end(&w);
    if (fflush(out) != 0 || ferror(out))
        return rm_error_set(err, RM_ERR_IO, "writing the simulator truth: %s",
                            strerror(errno));
    return RM_OK;
}
