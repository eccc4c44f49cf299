/*
 * The virtual roller's options: defaults, the "key=value,..." parser of
 * sim: sources and `rollmap simulate`, the checks across keys, and the
 * same keys written back as JSON (docs/SIMULATOR.md, "Options").
 */
#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

void rm_sim_config_default(rm_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->duration_s = 600;
    c->sample_rate_hz = 1000;
    c->device_kind = RM_DEVICE_ROLLER;
    c->load_cells = 2;
    c->pressure_cells = 6;
    c->body_mass_kg = 75;
    c->leg_length_cm = 35;
    c->side = RM_SIDE_RIGHT;
    c->spot_count = 3;
    c->noise_counts = 3;
    c->hum_hz = 50;
    c->hum_counts = 2;
    c->reset_at_s = -1;
    c->unplug_for_s = 3;
    c->load_min_pct = 25;
    c->load_max_pct = 55;
    c->stroke_speed_cm_s = 2.5;
    c->cadence_per_min = 30;
    c->rest_min_s = 10;
    c->rest_max_s = 30;
    c->dwell_min_s = 20;
    c->dwell_max_s = 90;
    c->other_dwell_chance = 0.3;
    c->slowdown = 0.5;
    c->unload = 0.3;
    c->tremor_pct = 4;
    c->mark_threshold = 0.6;
    c->fsr_creep = 0.12;
    c->fsr_hysteresis = 0.10;
    c->drift_counts_per_min = 10;
    c->roller_diameter_mm = 150;
    c->roller_width_mm = 330;
    c->encoder_counts_per_turn = 4096;
    c->distal_direction = 1;
    c->batch = 10;
    c->autostart = false;
}

typedef enum sim_key_type {
    KEY_DOUBLE, KEY_U8, KEY_U32, KEY_U64, KEY_BOOL, KEY_KIND, KEY_SIDE,
    KEY_TIMES, KEY_DIRECTION, KEY_SPOTS
} sim_key_type;

typedef struct sim_key {
    const char *name;
    uint8_t type;     /* sim_key_type */
    size_t offset;    /* in rm_sim_config */
    double min, max;  /* for numbers */
} sim_key;

#define KEY(name, type, field, lo, hi) \
    {name, type, offsetof(rm_sim_config, field), lo, hi}

static const sim_key sim_keys[] = {
    KEY("seed", KEY_U64, seed, 0, 0),
    KEY("duration", KEY_DOUBLE, duration_s, 1, 7 * 86400),
    KEY("rate", KEY_U32, sample_rate_hz, SIM_RATE_MIN_HZ, SIM_RATE_MAX_HZ),
    KEY("kind", KEY_KIND, device_kind, 0, 0),
    KEY("load_cells", KEY_U8, load_cells, 0, 2),
    KEY("pressure_cells", KEY_U8, pressure_cells, 0, RM_MAX_CHANNELS),
    KEY("mass", KEY_DOUBLE, body_mass_kg, 20, 250),
    KEY("leg", KEY_DOUBLE, leg_length_cm, 10, 60),
    KEY("side", KEY_SIDE, side, 0, 0),
    KEY("spots", KEY_U8, spot_count, 0, RM_SIM_MAX_SPOTS),
    KEY("spot_at", KEY_SPOTS, pinned_spots, 0, 0),
    KEY("noise", KEY_DOUBLE, noise_counts, 0, 1e6),
    KEY("hum", KEY_DOUBLE, hum_hz, 0, 1000),
    KEY("hum_counts", KEY_DOUBLE, hum_counts, 0, 1e6),
    KEY("drop", KEY_DOUBLE, drop_rate, 0, 1),
    KEY("ber", KEY_DOUBLE, bit_error_rate, 0, 0.01),
    KEY("unplug", KEY_TIMES, unplug_at_s, 0, 7 * 86400),
    KEY("unplug_for", KEY_DOUBLE, unplug_for_s, 0.01, 3600),
    KEY("reset", KEY_DOUBLE, reset_at_s, -1, 7 * 86400),
    KEY("load_min", KEY_DOUBLE, load_min_pct, 1, 100),
    KEY("load_max", KEY_DOUBLE, load_max_pct, 1, 100),
    KEY("speed", KEY_DOUBLE, stroke_speed_cm_s, 0.2, 20),
    KEY("cadence", KEY_DOUBLE, cadence_per_min, 2, 120),
    KEY("rest_min", KEY_DOUBLE, rest_min_s, 0, 600),
    KEY("rest_max", KEY_DOUBLE, rest_max_s, 0, 600),
    KEY("dwell_min", KEY_DOUBLE, dwell_min_s, 1, 600),
    KEY("dwell_max", KEY_DOUBLE, dwell_max_s, 1, 600),
    KEY("other_dwells", KEY_DOUBLE, other_dwell_chance, 0, 1),
    KEY("slowdown", KEY_DOUBLE, slowdown, 0, 0.9),
    KEY("unload", KEY_DOUBLE, unload, 0, 0.9),
    KEY("pass_lean", KEY_DOUBLE, pass_lean_mm, -50, 50),
    KEY("tremor", KEY_DOUBLE, tremor_pct, 0, 50),
    KEY("mark_at", KEY_DOUBLE, mark_threshold, 0, 2),
    KEY("creep", KEY_DOUBLE, fsr_creep, 0, 0.5),
    KEY("hysteresis", KEY_DOUBLE, fsr_hysteresis, 0, 0.5),
    KEY("drift", KEY_DOUBLE, drift_counts_per_min, 0, 1e6),
    KEY("diameter", KEY_DOUBLE, roller_diameter_mm, 20, 400),
    KEY("width", KEY_DOUBLE, roller_width_mm, 50, 2000),
    KEY("cpr", KEY_U32, encoder_counts_per_turn, 0, 1 << 24),
    KEY("distal", KEY_DIRECTION, distal_direction, 0, 0),
    KEY("batch", KEY_U8, batch, 1, RM_FRAME_MAX_BATCH),
    KEY("autostart", KEY_BOOL, autostart, 0, 0),
};

static const sim_key *find_key(const char *name)
{
    for (size_t i = 0; i < sizeof sim_keys / sizeof sim_keys[0]; i++)
        if (!strcmp(sim_keys[i].name, name))
            return &sim_keys[i];
    return NULL;
}

static rm_status parse_number(const sim_key *key, const char *value,
                              double *out, rm_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(v))
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option '%s': '%s' is not a number",
                            key->name, value);
    if (key->min < key->max && (v < key->min || v > key->max))
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option '%s': %s is outside %g..%g",
                            key->name, value, key->min, key->max);
    *out = v;
    return RM_OK;
}

static rm_status parse_whole(const sim_key *key, const char *value,
                             double *out, rm_error *err)
{
    rm_status st = parse_number(key, value, out, err);
    if (st == RM_OK && *out != floor(*out))
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option '%s': '%s' is not a whole number",
                            key->name, value);
    return st;
}

static rm_status parse_seed(const char *value, uint64_t *out, rm_error *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 0);
    if (end == value || *end || errno || *value == '-')
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option 'seed': '%s' is not a whole number "
                            "from 0 to 2^64-1", value);
    *out = v;
    return RM_OK;
}

static rm_status parse_bool(const char *value, bool *out, rm_error *err)
{
    if (rm_bool_parse(value, out) != RM_OK)
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option 'autostart': '%s' is not 1/0, "
                            "yes/no, true/false or on/off", value);
    return RM_OK;
}

/* The channels each kind has unless told otherwise. */
static void apply_kind(rm_sim_config *c, rm_device_kind kind)
{
    c->device_kind = (uint8_t)kind;
    bool roller = kind == RM_DEVICE_ROLLER;
    c->load_cells = roller ? 2 : 1;
    c->pressure_cells = roller ? 6 : 0;
}

static rm_status parse_kind(rm_sim_config *c, const char *value,
                            rm_error *err)
{
    rm_device_kind kind;
    if (rm_device_kind_parse(value, &kind) != RM_OK)
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option 'kind': '%s' is not roller, ball "
                            "or probe", value);
    apply_kind(c, kind);
    return RM_OK;
}

/* "30/95.5/200": unplug times in seconds. */
static rm_status parse_times(rm_sim_config *c, const sim_key *key,
                             const char *value, rm_error *err)
{
    char buf[512];
    if (strlen(value) >= sizeof buf)
        return rm_error_set(err, RM_ERR_ARG, "sim option 'unplug': too long");
    strcpy(buf, value);
    c->unplug_count = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        size_t max = sizeof c->unplug_at_s / sizeof c->unplug_at_s[0];
        if (c->unplug_count == max)
            return rm_error_set(err, RM_ERR_ARG,
                                "sim option 'unplug': more than %zu times",
                                max);
        double v = 0;
        rm_status st = parse_number(key, t, &v, err);
        if (st != RM_OK)
            return st;
        if (c->unplug_count && v <= c->unplug_at_s[c->unplug_count - 1])
            return rm_error_set(err, RM_ERR_ARG,
                                "sim option 'unplug': times must rise "
                                "('%s' after %g)", t,
                                c->unplug_at_s[c->unplug_count - 1]);
        c->unplug_at_s[c->unplug_count++] = v;
    }
    return RM_OK;
}

static rm_status parse_ml(const char *text, uint8_t *ml)
{
    if (!strcasecmp(text, "medial"))
        *ml = RM_ML_MEDIAL;
    else if (!strcasecmp(text, "lateral"))
        *ml = RM_ML_LATERAL;
    else
        return RM_ERR_ARG;
    return RM_OK;
}

/* One "POSITION_CM:medial|lateral:SEVERITY" item of spot_at. */
static rm_status parse_spot(char *item, rm_sim_spot *spot, rm_error *err)
{
    char *save = NULL;
    char *pos = strtok_r(item, ":", &save);
    char *side = strtok_r(NULL, ":", &save);
    char *severity = strtok_r(NULL, ":", &save);
    char *end_pos = NULL, *end_sev = NULL;
    if (pos && severity) {
        spot->position_cm = strtod(pos, &end_pos);
        spot->severity = strtod(severity, &end_sev);
    }
    if (!pos || !side || !severity || strtok_r(NULL, ":", &save) ||
        *end_pos || *end_sev || parse_ml(side, &spot->side) != RM_OK ||
        !(spot->position_cm >= 0) || !(spot->severity >= 0 && spot->severity <= 1))
        return rm_error_set(err, RM_ERR_ARG,
                            "sim option 'spot_at': expected POSITION_CM:"
                            "medial|lateral:SEVERITY(0-1), e.g. 14:medial:0.8");
    return RM_OK;
}

/* "14:medial:0.8/25:lateral:0.4": tender spots placed by hand. */
static rm_status parse_spots(rm_sim_config *c, const char *value, rm_error *err)
{
    char buf[512];
    if (strlen(value) >= sizeof buf)
        return rm_error_set(err, RM_ERR_ARG, "sim option 'spot_at': too long");
    strcpy(buf, value);
    c->pinned_spot_count = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (c->pinned_spot_count == RM_SIM_MAX_SPOTS)
            return rm_error_set(err, RM_ERR_ARG, "sim option 'spot_at': more "
                                "than %d spots", RM_SIM_MAX_SPOTS);
        rm_status st = parse_spot(t, &c->pinned_spots[c->pinned_spot_count], err);
        if (st != RM_OK)
            return st;
        c->pinned_spot_count++;
    }
    c->spot_count = c->pinned_spot_count;
    return RM_OK;
}

static rm_status apply_key(rm_sim_config *c, const sim_key *key,
                           const char *value, rm_error *err)
{
    void *field = (char *)c + key->offset;
    double v = 0;
    rm_status st = RM_OK;
    switch ((sim_key_type)key->type) {
    case KEY_DOUBLE:
        st = parse_number(key, value, field, err);
        break;
    case KEY_U8:
        if ((st = parse_whole(key, value, &v, err)) == RM_OK)
            *(uint8_t *)field = (uint8_t)v;
        break;
    case KEY_U32:
        if ((st = parse_whole(key, value, &v, err)) == RM_OK)
            *(uint32_t *)field = (uint32_t)v;
        break;
    case KEY_U64:
        st = parse_seed(value, field, err);
        break;
    case KEY_BOOL:
        st = parse_bool(value, field, err);
        break;
    case KEY_KIND:
        st = parse_kind(c, value, err);
        break;
    case KEY_SIDE: {
        rm_side side;
        if (rm_side_parse(value, &side) != RM_OK)
            return rm_error_set(err, RM_ERR_ARG, "sim option 'side': '%s' "
                                "is not left or right", value);
        c->side = (uint8_t)side;
        break;
    }
    case KEY_TIMES:
        st = parse_times(c, key, value, err);
        break;
    case KEY_SPOTS:
        st = parse_spots(c, value, err);
        break;
    case KEY_DIRECTION:
        if (!strcmp(value, "1") || !strcmp(value, "+1"))
            c->distal_direction = 1;
        else if (!strcmp(value, "-1"))
            c->distal_direction = -1;
        else
            return rm_error_set(err, RM_ERR_ARG, "sim option 'distal': '%s' "
                                "is not +1 or -1", value);
        break;
    }
    return st;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static rm_status apply_item(rm_sim_config *c, char *item, rm_error *err)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return rm_error_set(err, RM_ERR_ARG, "sim option '%s': expected "
                            "key=value", trim(item));
    *eq = '\0';
    char *name = trim(item), *value = trim(eq + 1);
    const sim_key *key = find_key(name);
    if (!key)
        return rm_error_set(err, RM_ERR_ARG, "sim option '%s': unknown key "
                            "(see docs/SIMULATOR.md)", name);
    if (!*value)
        return rm_error_set(err, RM_ERR_ARG, "sim option '%s': no value",
                            name);
    return apply_key(c, key, value, err);
}

rm_status rm_sim_config_parse(rm_sim_config *c, const char *options,
                              rm_error *err)
{
    char *copy = strdup(options ? options : "");
    if (!copy)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = RM_OK;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && st == RM_OK;
         item = strtok_r(NULL, ",", &save))
        if (*trim(item))
            st = apply_item(c, item, err);
    free(copy);
    return st;
}

/* Bytes of a SAMPLES frame body: header, count fields, then per sample a
 * time offset, the encoder, flags and the channels (docs/PROTOCOL.md). */
static size_t samples_frame_body(unsigned channels, unsigned batch)
{
    return 7 + 2 + batch * (10 + 4u * channels) + 4;
}

static rm_status check_ranges(const rm_sim_config *c, rm_error *err)
{
    if (c->load_min_pct > c->load_max_pct)
        return rm_error_set(err, RM_ERR_ARG, "sim options: load_min %g is "
                            "above load_max %g", c->load_min_pct,
                            c->load_max_pct);
    if (c->rest_min_s > c->rest_max_s)
        return rm_error_set(err, RM_ERR_ARG, "sim options: rest_min %g is "
                            "above rest_max %g", c->rest_min_s, c->rest_max_s);
    if (c->dwell_min_s > c->dwell_max_s)
        return rm_error_set(err, RM_ERR_ARG, "sim options: dwell_min %g is "
                            "above dwell_max %g", c->dwell_min_s,
                            c->dwell_max_s);
    for (unsigned i = 0; i < c->pinned_spot_count; i++)
        if (c->pinned_spots[i].position_cm > c->leg_length_cm)
            return rm_error_set(err, RM_ERR_ARG, "sim options: spot_at %g cm "
                                "is beyond the leg (%g cm)",
                                c->pinned_spots[i].position_cm,
                                c->leg_length_cm);
    return RM_OK;
}

rm_status rm_sim_config_check(const rm_sim_config *c, rm_error *err)
{
    unsigned channels = (unsigned)c->load_cells + c->pressure_cells;
    if (channels == 0 || channels > RM_MAX_CHANNELS)
        return rm_error_set(err, RM_ERR_ARG, "sim options: load_cells + "
                            "pressure_cells is %u, must be 1..%d", channels,
                            RM_MAX_CHANNELS);
    if (c->device_kind > RM_DEVICE_PROBE)
        return rm_error_set(err, RM_ERR_ARG, "sim options: unknown device "
                            "kind %u", c->device_kind);
    if (c->batch == 0 ||
        samples_frame_body(channels, c->batch) > RM_FRAME_MAX_BODY)
        return rm_error_set(err, RM_ERR_ARG, "sim options: batch %u with %u "
                            "channels does not fit a %d-byte frame",
                            c->batch, channels, RM_FRAME_MAX_BODY);
    if (c->distal_direction != 1 && c->distal_direction != -1)
        return rm_error_set(err, RM_ERR_ARG, "sim options: distal must be "
                            "+1 or -1");
    if (c->sample_rate_hz < SIM_RATE_MIN_HZ ||
        c->sample_rate_hz > SIM_RATE_MAX_HZ || !(c->duration_s > 0))
        return rm_error_set(err, RM_ERR_ARG, "sim options: rate must be "
                            "%d..%d Hz and duration above 0 s",
                            SIM_RATE_MIN_HZ, SIM_RATE_MAX_HZ);
    return check_ranges(c, err);
}

const char *sim_ml_name(uint8_t ml)
{
    return ml == RM_ML_MEDIAL ? "medial" : ml == RM_ML_LATERAL ? "lateral"
                                                               : "centre";
}

/* Every config key with its value, so the run can be repeated. */
void sim_config_write_json(rm_json_writer *w, const rm_sim_config *c)
{
    rm_json_key(w, "config");
    rm_json_object_open(w);
    for (size_t i = 0; i < sizeof sim_keys / sizeof sim_keys[0]; i++) {
        const sim_key *key = &sim_keys[i];
        const void *field = (const char *)c + key->offset;
        rm_json_key(w, key->name);
        switch ((sim_key_type)key->type) {
        case KEY_DOUBLE: rm_json_number(w, *(const double *)field); break;
        case KEY_U8: rm_json_int(w, *(const uint8_t *)field); break;
        case KEY_U32: rm_json_int(w, *(const uint32_t *)field); break;
        /* a string: JSON numbers lose 64-bit precision in most readers */
        case KEY_U64: {
            char seed[24];
            snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
            rm_json_string(w, seed);
            break;
        }
        case KEY_BOOL: rm_json_bool(w, *(const bool *)field); break;
        case KEY_KIND: rm_json_string(w, rm_device_kind_name((rm_device_kind)c->device_kind)); break;
        case KEY_SIDE: rm_json_string(w, rm_side_name(c->side)); break;
        case KEY_DIRECTION: rm_json_int(w, c->distal_direction); break;
        case KEY_TIMES:
            rm_json_array_open(w);
            for (unsigned u = 0; u < c->unplug_count; u++)
                rm_json_number(w, c->unplug_at_s[u]);
            rm_json_array_close(w);
            break;
        case KEY_SPOTS:
            rm_json_array_open(w);
            for (unsigned u = 0; u < c->pinned_spot_count; u++) {
                const rm_sim_spot *p = &c->pinned_spots[u];
                char text[64];
                snprintf(text, sizeof text, "%g:%s:%g", p->position_cm,
                         sim_ml_name(p->side), p->severity);
                rm_json_string(w, text);
            }
            rm_json_array_close(w);
            break;
        }
    }
    rm_json_object_close(w);
}
