/*
 * The virtual roller's physical model: a person rolling a hamstring (or
 * pressing a ball or probe into it) and the sensors that measure it.
 *
 * rm_sim_new plans the whole session from the seed as a script of segments
 * (roll from here to there, stay still, rest with the leg lifted) and keeps
 * the ground truth (tender spots, dwells, marks) it implies. Every sample
 * then evaluates the script at its time and passes the force through the
 * sensor model. docs/SIMULATOR.md gives every figure with its source.
 */
#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STANDARD_GRAVITY 9.80665
#define TWO_PI (2.0 * M_PI)

/* ---- The person (docs/SIMULATOR.md, "The person") ---------------------- */

/* Back strokes are this fraction of the forward stroke, so the worked
 * section creeps along the leg (chosen default). */
#define BACK_STROKE_RATIO 0.5
/* Each stroke's speed and duration vary by up to +/- this fraction. */
#define STROKE_VARIATION 0.2
/* Above this share of its force level the leg counts as on the roller
 * (for the load calibration and covered_cm). */
#define LOADED_SHARE 0.5
/* No stroke is quicker than this, however short (s). */
#define MIN_STROKE_S 0.2
/* Sitting down on the roller or lifting the leg off it takes this long. */
#define LOAD_CHANGE_S 0.7
/* The leg is lifted this long before the person first sits down. */
#define FIRST_REST_S 1.0
/* Force level of a set, and of one stroke within it: +/- these fractions. */
#define SET_LEVEL_VARIATION 0.1
#define STROKE_LEVEL_VARIATION 0.07
/* Force falls from proximal to distal (Baumgart 2019): the total spread
 * over the rolled length (chosen default). */
#define DISTAL_DECLINE 0.10
/* A tender spot is felt within about this distance (Gaussian sigma, cm). */
#define SPOT_REACH_CM 2.0
/* Tender spots lie mostly from the middle toward the distal end; keep them
 * this far inside the rolled length, and this far apart. */
#define SPOT_EDGE_FRACTION 0.08
#define SPOT_SEPARATION_CM 4.0
/* This share of the spots lies distal of this fraction of the leg. */
#define SPOT_DISTAL_SHARE 0.8
#define SPOT_MIDDLE_FRACTION 0.35
/* Severity of a spot: uniform in this range (0 would not be a spot). */
#define SPOT_MIN_SEVERITY 0.3
#define SPOT_MAX_SEVERITY 1.0
/* Tries at a random position that keeps its distance before settling. */
#define PLACEMENT_TRIES 100
/* Other dwells, and presses where there is no spot, stay within this
 * middle part of the leg. */
#define OTHER_DWELL_LO 0.1
#define OTHER_DWELL_HI 0.9
/* A dwell elsewhere keeps this far from every tender spot. */
#define OTHER_DWELL_CLEARANCE_CM 4.0
/* Passing a tender spot, the person stops on it with this chance plus
 * this much more per unit of severity (chosen defaults). */
#define DWELL_CHANCE_BASE 0.25
#define DWELL_CHANCE_SEVERITY 0.5
/* While dwelling the roller rocks by this much (cm) at this rate (Hz). */
#define DWELL_ROCK_CM 0.3
#define DWELL_ROCK_HZ 0.25
/* Leaning toward a medial or lateral spot shifts the load this far (mm). */
#define LEAN_MIN_MM 12.0
#define LEAN_MAX_MM 25.0
/* The lean wanders: time constant (s) and spread (mm) of its random walk. */
#define LEAN_TAU_S 1.5
#define LEAN_WANDER_MM 6.0
/* Voluntary force fluctuation, < 4 Hz (Novak & Newell 2017): three slow
 * components (Hz) and their amplitudes (fraction of force). */
static const double voluntary_hz[3] = {0.23, 0.61, 1.7};
static const double voluntary_amp[3] = {0.04, 0.03, 0.015};
/* Physiological tremor 6-12 Hz (Lakie 2015): always present at this
 * fraction of force, more at tender spots (tremor_pct). */
#define TREMOR_BASE 0.005
#define TREMOR_MIN_HZ 6.0
#define TREMOR_MAX_HZ 12.0
#define TREMOR_WANDER_HZ 0.5
#define TREMOR_WANDER_RATE_HZ 0.1
/* Ball and probe: the press builds up over this long (s), is released over
 * this long, and the person rests and moves on for this long. */
#define PRESS_RAMP_MIN_S 5.0
#define PRESS_RAMP_MAX_S 10.0
#define PRESS_RELEASE_S 1.5
#define PRESS_MOVE_MIN_S 5.0
#define PRESS_MOVE_MAX_S 15.0
/* Ischemic compression with a probe: 90-130 N (Travell & Simons, derived). */
#define PROBE_MIN_N 90.0
#define PROBE_MAX_N 130.0
/* The mark button is pressed this long into a dwell (s). */
#define MARK_DELAY_MIN_S 2.0
#define MARK_DELAY_MAX_S 8.0

/* ---- The sensor (docs/SIMULATOR.md, "The sensor") ---------------------- */

/* Load cells: 24-bit ADC, 5 mN per count, zero near 20000 counts. */
#define LOAD_CELL_GAIN 0.005
#define LOAD_CELL_ADC_MAX 16777215
#define LOAD_CELL_OFFSET 20000.0
#define LOAD_CELL_OFFSET_SPREAD 5000.0
#define LOAD_CELL_GAIN_ERROR 0.002
/* FSR strip: 12-bit ADC over about 20 N (FSR 400 series range). */
#define FSR_GAIN (20.0 / 4000.0)
#define FSR_ADC_MAX 4095
/* A divider with a bias: about 0.2 V (200 counts) with nothing on it. */
#define FSR_OFFSET 200.0
#define FSR_OFFSET_SPREAD 50.0
/* FSR repeatability +/-2 % (Interlink): the part differs from its INFO. */
#define FSR_GAIN_ERROR 0.02
/* A 14.7 mm round sensing area (chosen default). */
#define FSR_AREA_MM2 169.0
/* The strip spans this much of the roller width, centred (chosen). */
#define FSR_STRIP_MM 150.0
/* Creep follows 1 - a*log10(1 + t/1 s) under load; unloaded it recovers
 * this many times faster than it crept. */
#define CREEP_RECOVERY_RATE 5.0
/* Creep changes slowly: it is worked out again after this much load time. */
#define CREEP_STEP_S 0.05
/* FSRs respond from about 0.2 N (FSR 400 series). */
#define FSR_MIN_N 0.2
/* Hysteresis: the load the FSR remembers follows with this lag (s). */
#define HYSTERESIS_TAU_S 1.0
/* Offset drift (an amplifier warming up) starts at the channel's rate and
 * settles with this time constant: at most rate x 10 min in all. */
#define DRIFT_TAU_S 600.0
/* Contact patch of a thigh on a foam roller: about 68 cm2 (Curran 2008),
 * modelled as this length along the leg times a Gaussian across it. */
#define CONTACT_LENGTH_MM 57.0
#define CONTACT_SIGMA_MM 40.0

/* ------------------------------------------------------------------------ */
/* Random numbers                                                           */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = false;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_uniform(sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53; /* 53-bit mantissa */
}

double sim_rng_range(sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_uniform(r);
}

double sim_rng_gauss(sim_rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare_gauss;
    }
    double u = 1.0 - sim_rng_uniform(r); /* (0, 1]: log is finite */
    double radius = sqrt(-2.0 * log(u));
    double angle = TWO_PI * sim_rng_uniform(r);
    r->spare_gauss = radius * sin(angle);
    r->has_spare = true;
    return radius * cos(angle);
}

/* ------------------------------------------------------------------------ */
/* Oscillators                                                              */
/* ------------------------------------------------------------------------ */

static void osc_start(sim_osc *o, double hz, double phase)
{
    o->hz = hz;
    o->c = cos(phase);
    o->s = sin(phase);
}

static void osc_tune(sim_osc *o, uint32_t rate_hz)
{
    double step = TWO_PI * o->hz / rate_hz;
    o->step_c = cos(step);
    o->step_s = sin(step);
}

static void osc_advance(sim_osc *o)
{
    double c = o->c * o->step_c - o->s * o->step_s;
    double s = o->s * o->step_c + o->c * o->step_s;
    double fix = 1.5 - 0.5 * (c * c + s * s); /* keep |phasor| = 1 */
    o->c = c * fix;
    o->s = s * fix;
}

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
    if (!strcmp(value, "1") || !strcasecmp(value, "yes") ||
        !strcasecmp(value, "true") || !strcasecmp(value, "on"))
        *out = true;
    else if (!strcmp(value, "0") || !strcasecmp(value, "no") ||
             !strcasecmp(value, "false") || !strcasecmp(value, "off"))
        *out = false;
    else
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
        double v;
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

/* ------------------------------------------------------------------------ */
/* The device and its channels                                              */
/* ------------------------------------------------------------------------ */

static void describe_load_cell(rm_sim *sim, rm_channel_info *ch,
                               sim_channel *state, double position_mm)
{
    ch->kind = RM_CHANNEL_LOAD_CELL;
    ch->position_mm = (float)position_mm;
    ch->gain_n_per_count = (float)LOAD_CELL_GAIN;
    ch->offset_counts = (float)(LOAD_CELL_OFFSET +
        sim_rng_range(&sim->plan_rng, -1, 1) * LOAD_CELL_OFFSET_SPREAD);
    state->true_gain = LOAD_CELL_GAIN *
        (1 + LOAD_CELL_GAIN_ERROR * sim_rng_gauss(&sim->plan_rng));
    state->adc_max = LOAD_CELL_ADC_MAX;
}

static void describe_pressure_cell(rm_sim *sim, rm_channel_info *ch,
                                   sim_channel *state, double position_mm)
{
    ch->kind = RM_CHANNEL_PRESSURE_CELL;
    ch->position_mm = (float)position_mm;
    ch->area_mm2 = (float)FSR_AREA_MM2;
    ch->gain_n_per_count = (float)FSR_GAIN;
    ch->offset_counts = (float)(FSR_OFFSET +
        sim_rng_range(&sim->plan_rng, -1, 1) * FSR_OFFSET_SPREAD);
    state->true_gain = FSR_GAIN *
        (1 + FSR_GAIN_ERROR * sim_rng_gauss(&sim->plan_rng));
    state->adc_max = FSR_ADC_MAX;
}

/* Pressure cells sit evenly across a strip centred on the roller. */
static double pressure_cell_position(const rm_sim_config *c, unsigned i)
{
    double strip = fmin(FSR_STRIP_MM, c->roller_width_mm);
    double start = (c->roller_width_mm - strip) / 2;
    if (c->pressure_cells == 1)
        return c->roller_width_mm / 2;
    return start + strip * i / (c->pressure_cells - 1);
}

static void describe_channels(rm_sim *sim)
{
    const rm_sim_config *c = &sim->cfg;
    rm_device_info *info = &sim->info;
    unsigned n = 0;
    for (unsigned i = 0; i < c->load_cells; i++, n++) {
        /* One load cell carries the whole load; two sit in the end caps. */
        double at = c->load_cells == 1 ? c->roller_width_mm / 2
                                       : (i ? c->roller_width_mm : 0);
        describe_load_cell(sim, &info->channels[n], &sim->channels[n], at);
    }
    for (unsigned i = 0; i < c->pressure_cells; i++, n++)
        describe_pressure_cell(sim, &info->channels[n], &sim->channels[n],
                               pressure_cell_position(c, i));
    info->channel_count = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        sim_channel *ch = &sim->channels[i];
        ch->offset_counts = info->channels[i].offset_counts;
        ch->drift_per_s = c->drift_counts_per_min / 60.0 *
                          sim_rng_range(&sim->plan_rng, -1, 1);
        double phase = sim_rng_range(&sim->plan_rng, 0, TWO_PI);
        ch->hum_cos = cos(phase);
        ch->hum_sin = sin(phase);
    }
    rm_device_info_default_calibration(info);
}

static void describe_device(rm_sim *sim)
{
    const rm_sim_config *c = &sim->cfg;
    rm_device_info *info = &sim->info;
    bool roller = c->device_kind == RM_DEVICE_ROLLER;
    snprintf(info->model, sizeof info->model, "rollmap virtual %s",
             rm_device_kind_name((rm_device_kind)c->device_kind));
    snprintf(info->firmware, sizeof info->firmware, "sim-%s",
             RM_VERSION_STRING);
    snprintf(info->serial, sizeof info->serial, "SIM-%016" PRIx64, c->seed);
    info->device_kind = c->device_kind;
    info->sample_rate_hz = c->sample_rate_hz;
    info->encoder_counts_per_turn = roller ? c->encoder_counts_per_turn : 0;
    info->roller_diameter_mm = roller ? (float)c->roller_diameter_mm : 0;
    info->roller_width_mm = (float)c->roller_width_mm;
    info->distal_direction = c->distal_direction;
    describe_channels(sim);
    if (info->encoder_counts_per_turn)
        sim->encoder_origin = (int32_t)(sim_rng_next(&sim->plan_rng) %
                                        info->encoder_counts_per_turn);
}

/* ------------------------------------------------------------------------ */
/* Planning: tender spots and the script                                    */
/* ------------------------------------------------------------------------ */

static bool far_from_spots(const rm_sim *sim, double position_cm,
                           double clearance_cm)
{
    for (size_t i = 0; i < sim->spot_count; i++)
        if (fabs(sim->spots[i].position_cm - position_cm) < clearance_cm)
            return false;
    return true;
}

/* Mostly from the middle toward the distal end (domain.md), a few more
 * proximal; apart from each other where the leg has room. */
static void place_spots(rm_sim *sim)
{
    if (sim->cfg.pinned_spot_count) {
        sim->spot_count = sim->cfg.pinned_spot_count;
        memcpy(sim->spots, sim->cfg.pinned_spots,
               sim->spot_count * sizeof sim->spots[0]);
        return;
    }
    double leg = sim->cfg.leg_length_cm;
    double lo = leg * SPOT_EDGE_FRACTION, hi = leg * (1 - SPOT_EDGE_FRACTION);
    for (unsigned i = 0; i < sim->cfg.spot_count; i++) {
        rm_sim_spot *s = &sim->spots[sim->spot_count];
        double mid_lo = fmax(lo, leg * SPOT_MIDDLE_FRACTION);
        for (int attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
            bool distal = sim_rng_uniform(&sim->plan_rng) < SPOT_DISTAL_SHARE;
            s->position_cm = distal ? sim_rng_range(&sim->plan_rng, mid_lo, hi)
                                    : sim_rng_range(&sim->plan_rng, lo, mid_lo);
            if (far_from_spots(sim, s->position_cm, SPOT_SEPARATION_CM))
                break;
        }
        bool medial = sim_rng_uniform(&sim->plan_rng) < 0.5; /* even odds */
        s->side = medial ? RM_ML_MEDIAL : RM_ML_LATERAL;
        s->severity = sim_rng_range(&sim->plan_rng, SPOT_MIN_SEVERITY,
                                    SPOT_MAX_SEVERITY);
        sim->spot_count++;
    }
}

static void *grow(void *array, size_t *cap, size_t elem)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *p = realloc(array, n * elem);
    if (p)
        *cap = n;
    return p;
}

static bool add_segment(rm_sim *sim, const sim_segment *seg)
{
    if (sim->segment_count == sim->segment_cap) {
        sim_segment *p = grow(sim->segments, &sim->segment_cap, sizeof *p);
        if (!p)
            return false;
        sim->segments = p;
    }
    sim->segments[sim->segment_count++] = *seg;
    return true;
}

static bool add_dwell(rm_sim *sim, double start, double end, double position,
                      int spot)
{
    if (start >= sim->cfg.duration_s)
        return true;
    if (sim->dwell_count == sim->dwell_cap) {
        rm_sim_dwell *p = grow(sim->dwells, &sim->dwell_cap, sizeof *p);
        if (!p)
            return false;
        sim->dwells = p;
    }
    sim->dwells[sim->dwell_count++] = (rm_sim_dwell){
        start, fmin(end, sim->cfg.duration_s), position, spot};
    return true;
}

static bool add_mark(rm_sim *sim, double t, double position, int spot)
{
    if (t >= sim->cfg.duration_s)
        return true;
    if (sim->mark_count == sim->mark_cap) {
        rm_sim_mark *p = grow(sim->marks, &sim->mark_cap, sizeof *p);
        if (!p)
            return false;
        sim->marks = p;
    }
    sim->marks[sim->mark_count++] = (rm_sim_mark){t, position, spot};
    return true;
}

/* Where the script stands while it is being written. */
typedef struct sim_planner {
    rm_sim *sim;
    double t, p;        /* time and position reached */
    double load;        /* load fraction reached */
    double level;       /* force level of the current set */
    bool ok;            /* no allocation failed */
} sim_planner;

static void plan_hold(sim_planner *pl, sim_segment_kind kind,
                      double duration, double load_to, double lean_mm)
{
    sim_segment seg = {(uint8_t)kind, pl->t, pl->t + duration, pl->p, pl->p,
                       pl->load, load_to, lean_mm};
    pl->ok = pl->ok && add_segment(pl->sim, &seg);
    pl->t += duration;
    pl->load = load_to;
}

static void plan_still(sim_planner *pl, double duration, double load_to)
{
    plan_hold(pl, SIM_SEG_STILL, duration, load_to, 0);
}

static void plan_move(sim_planner *pl, double to, double duration,
                      double load_to)
{
    sim_segment seg = {SIM_SEG_MOVE, pl->t, pl->t + duration, pl->p, to,
                       pl->load, load_to, 0};
    pl->ok = pl->ok && add_segment(pl->sim, &seg);
    pl->t += duration;
    pl->p = to;
    pl->load = load_to;
}

/* Tenderness felt at a position: the nearest severe spot dominates. */
static double tenderness_at(const rm_sim *sim, double position_cm)
{
    double w = 0;
    for (size_t i = 0; i < sim->spot_count; i++) {
        double d = (position_cm - sim->spots[i].position_cm) / SPOT_REACH_CM;
        if (fabs(d) < 4) /* beyond 4 sigma nothing is felt */
            w = fmax(w, sim->spots[i].severity * exp(-0.5 * d * d));
    }
    return w;
}

/* How long a stroke from a to b takes at `speed`, slowed over tender
 * ground (integrated in STROKE_STEP_CM steps). */
#define STROKE_STEP_CM 0.5
static double stroke_duration(const rm_sim *sim, double a, double b,
                              double speed)
{
    double length = fabs(b - a), duration = 0;
    int steps = (int)ceil(length / STROKE_STEP_CM);
    for (int i = 0; i < steps; i++) {
        double at = a + (b - a) * (i + 0.5) / steps;
        double slowed = 1 - sim->cfg.slowdown * tenderness_at(sim, at);
        duration += length / steps / (speed * slowed);
    }
    return duration;
}

static double vary(sim_rng *r, double value, double fraction)
{
    return value * (1 + sim_rng_range(r, -fraction, fraction));
}

/* One stroke to `to` at the person's pace, slower over tender ground. */
static void plan_stroke(sim_planner *pl, double to)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    double speed = vary(&sim->plan_rng, c->stroke_speed_cm_s, STROKE_VARIATION);
    double duration = stroke_duration(sim, pl->p, to, speed);
    double load = vary(&sim->plan_rng, pl->level, STROKE_LEVEL_VARIATION);
    plan_move(pl, to, fmax(duration, MIN_STROKE_S), load);
}

static double lean_toward(sim_rng *r, const rm_sim_spot *spot)
{
    double lean = sim_rng_range(r, LEAN_MIN_MM, LEAN_MAX_MM);
    return spot->side == RM_ML_LATERAL ? -lean : lean;
}

static void plan_mark(sim_planner *pl, double start, double duration,
                      int spot)
{
    rm_sim *sim = pl->sim;
    double delay = sim_rng_range(&sim->plan_rng, MARK_DELAY_MIN_S,
                                 MARK_DELAY_MAX_S);
    if (delay < duration)
        pl->ok = pl->ok && add_mark(sim, start + delay, pl->p, spot);
}

/* Hold still at the current position: on a spot (index) or elsewhere (-1).
 * The truth's dwell reaches lead_s before and trail_s after the hold (a
 * press counts from half load to half load). */
static void plan_dwell(sim_planner *pl, int spot, double lead_s,
                       double trail_s)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    double duration = sim_rng_range(&sim->plan_rng, c->dwell_min_s,
                                    c->dwell_max_s);
    double lean = spot >= 0 ? lean_toward(&sim->plan_rng, &sim->spots[spot])
                            : 0;
    double start = pl->t;
    pl->ok = pl->ok && add_dwell(sim, start - lead_s,
                                 start + duration + trail_s, pl->p, spot);
    if (spot >= 0 && sim->spots[spot].severity >= c->mark_threshold)
        plan_mark(pl, start, duration, spot);
    plan_hold(pl, SIM_SEG_DWELL, duration, pl->load, lean);
}

/* The first spot not yet dwelt on this set between a and b, or -1. */
static int spot_between(const rm_sim *sim, double a, double b,
                        const bool *dwelt)
{
    double lo = fmin(a, b), hi = fmax(a, b);
    int best = -1;
    for (size_t i = 0; i < sim->spot_count; i++) {
        double at = sim->spots[i].position_cm;
        if (dwelt[i] || at <= lo || at > hi)
            continue;
        if (best < 0 ||
            fabs(at - a) < fabs(sim->spots[best].position_cm - a))
            best = (int)i;
    }
    return best;
}

/* Where this set dwells away from the spots, or NAN for nowhere. */
static double pick_other_dwell(rm_sim *sim)
{
    if (sim_rng_uniform(&sim->plan_rng) >= sim->cfg.other_dwell_chance)
        return NAN;
    double leg = sim->cfg.leg_length_cm;
    for (int attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
        double at = sim_rng_range(&sim->plan_rng, OTHER_DWELL_LO * leg,
                                  OTHER_DWELL_HI * leg);
        if (far_from_spots(sim, at, OTHER_DWELL_CLEARANCE_CM))
            return at;
    }
    return NAN;
}

/* A forward stroke toward `to`, stopping to dwell at a spot on the way. */
static void plan_forward(sim_planner *pl, double to, bool *dwelt,
                         double *other_at)
{
    rm_sim *sim = pl->sim;
    int spot = spot_between(sim, pl->p, to, dwelt);
    if (spot >= 0) {
        dwelt[spot] = true;
        /* The more it hurts, the surer the person stops on it. */
        double chance = DWELL_CHANCE_BASE +
                        DWELL_CHANCE_SEVERITY * sim->spots[spot].severity;
        if (sim_rng_uniform(&sim->plan_rng) < chance) {
            plan_stroke(pl, sim->spots[spot].position_cm);
            plan_dwell(pl, spot, 0, 0);
            return;
        }
    }
    if (isfinite(*other_at) && *other_at > fmin(pl->p, to) &&
        *other_at <= fmax(pl->p, to)) {
        plan_stroke(pl, *other_at);
        *other_at = NAN;
        plan_dwell(pl, -1, 0, 0);
        return;
    }
    plan_stroke(pl, to);
}

/* One set: from one end of the leg to the other in short strokes, two
 * forward and one back, dwelling on the way. */
static void plan_set(sim_planner *pl, int direction)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    double leg = c->leg_length_cm;
    double end = direction > 0 ? leg : 0;
    bool dwelt[RM_SIM_MAX_SPOTS] = {false};
    double other_at = pick_other_dwell(sim);
    pl->level = vary(&sim->plan_rng, 1.0, SET_LEVEL_VARIATION);
    plan_still(pl, LOAD_CHANGE_S, pl->level);
    double stroke_s = 60.0 / c->cadence_per_min;
    while (pl->t < c->duration_s && pl->p != end) {
        double forward = 2 * c->stroke_speed_cm_s * stroke_s /
                         (1 + BACK_STROKE_RATIO);
        forward = vary(&sim->plan_rng, forward, STROKE_VARIATION);
        double to = pl->p + direction * forward;
        to = direction > 0 ? fmin(to, leg) : fmax(to, 0);
        plan_forward(pl, to, dwelt, &other_at);
        if (pl->p == end)
            break;
        if (pl->p == to) {
            double back = pl->p - direction * forward * BACK_STROKE_RATIO;
            plan_stroke(pl, fmin(fmax(back, 0), leg));
        }
    }
    plan_still(pl, LOAD_CHANGE_S, 0);
}

/* A first long pass over the whole leg and back: every session rolls
 * 0..leg under load early on, so the analysis's position 0 (the most
 * proximal point rolled under load) is the truth's proximal end. */
static void plan_warm_up(sim_planner *pl)
{
    pl->level = vary(&pl->sim->plan_rng, 1.0, SET_LEVEL_VARIATION);
    plan_still(pl, LOAD_CHANGE_S, pl->level);
    plan_stroke(pl, pl->sim->cfg.leg_length_cm);
    plan_stroke(pl, 0);
}

static void plan_roller(sim_planner *pl)
{
    const rm_sim_config *c = &pl->sim->cfg;
    plan_still(pl, FIRST_REST_S, 0);
    plan_warm_up(pl);
    int direction = 1; /* the first set starts at 0 and reaches the far end */
    while (pl->t < c->duration_s && pl->ok) {
        plan_set(pl, direction);
        plan_still(pl, sim_rng_range(&pl->sim->plan_rng, c->rest_min_s,
                                     c->rest_max_s), 0);
        direction = -direction;
    }
}

/* One press of a ball or probe at the current position. */
static void plan_press(sim_planner *pl, int spot)
{
    rm_sim *sim = pl->sim;
    double ramp = sim_rng_range(&sim->plan_rng, PRESS_RAMP_MIN_S,
                                PRESS_RAMP_MAX_S);
    double level = vary(&sim->plan_rng, 1.0, SET_LEVEL_VARIATION);
    plan_still(pl, ramp, level);
    plan_dwell(pl, spot, ramp / 2, PRESS_RELEASE_S / 2);
    plan_still(pl, PRESS_RELEASE_S, 0);
}

/* Ball and probe: press each spot in turn (and sometimes elsewhere), lift,
 * move on; dwells in time only, there is no encoder. */
static void plan_presses(sim_planner *pl)
{
    rm_sim *sim = pl->sim;
    const rm_sim_config *c = &sim->cfg;
    plan_still(pl, FIRST_REST_S, 0);
    size_t next = 0;
    while (pl->t < c->duration_s && pl->ok) {
        int spot = -1;
        double at = pick_other_dwell(sim);
        if (!isfinite(at) && sim->spot_count) {
            spot = (int)(next++ % sim->spot_count);
            at = sim->spots[spot].position_cm;
        } else if (!isfinite(at)) {
            at = sim_rng_range(&sim->plan_rng, OTHER_DWELL_LO,
                               OTHER_DWELL_HI) * c->leg_length_cm;
        }
        plan_move(pl, at, sim_rng_range(&sim->plan_rng, PRESS_MOVE_MIN_S,
                                        PRESS_MOVE_MAX_S), 0);
        plan_press(pl, spot);
    }
}

static rm_status plan_session(rm_sim *sim, rm_error *err)
{
    const rm_sim_config *c = &sim->cfg;
    place_spots(sim);
    sim->load_fraction = sim_rng_range(&sim->plan_rng, c->load_min_pct,
                                       c->load_max_pct) / 100;
    if (c->device_kind == RM_DEVICE_PROBE)
        sim->load_fraction = sim_rng_range(&sim->plan_rng, PROBE_MIN_N,
                                           PROBE_MAX_N) /
                             (c->body_mass_kg * STANDARD_GRAVITY);
    sim->mean_load_fraction = sim->load_fraction;
    sim->tremor_hz = sim_rng_range(&sim->plan_rng, TREMOR_MIN_HZ,
                                   TREMOR_MAX_HZ);
    for (int i = 0; i < 3; i++)
        osc_start(&sim->voluntary[i], voluntary_hz[i],
                  sim_rng_range(&sim->plan_rng, 0, TWO_PI));
    osc_start(&sim->tremor_wander, TREMOR_WANDER_RATE_HZ, 0);
    osc_start(&sim->hum, c->hum_hz, 0);
    osc_start(&sim->rock, DWELL_ROCK_HZ, 0);
    sim_planner pl = {sim, 0, 0, 0, 0, true};
    if (c->device_kind == RM_DEVICE_ROLLER)
        plan_roller(&pl);
    else
        plan_presses(&pl);
    if (!pl.ok)
        return rm_error_set(err, RM_ERR_NOMEM, "virtual roller: out of "
                            "memory planning %g s", c->duration_s);
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* One sample                                                               */
/* ------------------------------------------------------------------------ */

static double smoothstep(double u)
{
    u = fmin(fmax(u, 0), 1);
    return u * u * (3 - 2 * u);
}

static const sim_segment *segment_at(rm_sim *sim, double t)
{
    while (sim->segment_index + 1 < sim->segment_count &&
           t >= sim->segments[sim->segment_index].t1)
        sim->segment_index++;
    return &sim->segments[sim->segment_index];
}

static double segment_progress(const sim_segment *seg, double t)
{
    return fmin(fmax((t - seg->t0) / (seg->t1 - seg->t0), 0), 1);
}

/* Position along the leg: strokes start and end at rest (no jerk at the
 * turns); a loaded still rocks the roller a little. */
static double position_at(const rm_sim *sim, const sim_segment *seg,
                          double t, double load)
{
    double u = segment_progress(seg, t);
    if (seg->kind == SIM_SEG_MOVE)
        return seg->p0 + (seg->p1 - seg->p0) *
                             (u - sin(TWO_PI * u) / TWO_PI);
    if (seg->kind == SIM_SEG_DWELL)
        return seg->p0 + load * DWELL_ROCK_CM * sim->rock.s;
    return seg->p0;
}

static double load_at(const sim_segment *seg, double t)
{
    double u = segment_progress(seg, t);
    double shape = seg->kind == SIM_SEG_MOVE ? u : smoothstep(u);
    return seg->load0 + (seg->load1 - seg->load0) * shape;
}

static double voluntary_fluctuation(const rm_sim *sim)
{
    double v = 0;
    for (int i = 0; i < 3; i++)
        v += voluntary_amp[i] * sim->voluntary[i].s;
    return v;
}

static double tremor(rm_sim *sim, double dt)
{
    /* The tremor frequency wanders slowly around the person's own. */
    double hz = sim->tremor_hz + TREMOR_WANDER_HZ * sim->tremor_wander.s;
    sim->tremor_phase = fmod(sim->tremor_phase + TWO_PI * hz * dt, TWO_PI);
    return sin(sim->tremor_phase);
}

/* The script's share of the force level: load shape, the fall from
 * proximal to distal, and unloading over tender ground. */
static double script_factor(const rm_sim *sim, double p, double load,
                            double w)
{
    const rm_sim_config *c = &sim->cfg;
    double decline = 1 + DISTAL_DECLINE * (0.5 - p / c->leg_length_cm);
    return load * decline * (1 - c->unload * w);
}

/* Total force the leg puts on the roller, newtons. */
static double person_force(rm_sim *sim, double dt, double p, double load,
                           double w)
{
    const rm_sim_config *c = &sim->cfg;
    double weight = c->body_mass_kg * STANDARD_GRAVITY;
    double f = sim->load_fraction * weight * script_factor(sim, p, load, w) *
               (1 + voluntary_fluctuation(sim));
    double tremor_amp = TREMOR_BASE + c->tremor_pct / 100 * w;
    return fmax(0, f * (1 + tremor_amp * tremor(sim, dt)));
}

/* Scale the force level so that the session's mean force under load is
 * the drawn share of body weight, whatever the script's dwells and
 * unloading do to it (the script is sampled every LEVEL_STEP_S). */
#define LEVEL_STEP_S 0.1
static void calibrate_level(rm_sim *sim)
{
    double sum = 0;
    size_t n = 0;
    for (double t = 0; t < sim->cfg.duration_s; t += LEVEL_STEP_S) {
        const sim_segment *seg = segment_at(sim, t);
        double load = load_at(seg, t);
        if (load < LOADED_SHARE)
            continue;
        double p = position_at(sim, seg, t, load);
        sum += script_factor(sim, p, load, tenderness_at(sim, p));
        n++;
    }
    sim->segment_index = 0;
    if (n > 0 && sum > 0)
        sim->load_fraction *= n / sum;
}

/* The person's lean, mm toward medial: a wandering random walk pulled
 * toward where they aim (a spot's side while dwelling on it). */
static double lean(rm_sim *sim, const sim_segment *seg, double dt)
{
    double pull = dt / LEAN_TAU_S;
    double wander = LEAN_WANDER_MM * sqrt(2 * pull);
    sim->lean_mm += (seg->lean_mm - sim->lean_mm) * pull +
                    wander * sim_rng_gauss(&sim->signal_rng);
    return sim->lean_mm;
}

/* While rolling over a tender spot the person shifts the load toward its
 * side by pass_lean mm at severity 1 (away from it when negative), in
 * proportion to how tender the spot is under the roller. */
static double pass_lean_mm(const rm_sim *sim, const sim_segment *seg,
                           double position_cm)
{
    if (seg->kind != SIM_SEG_MOVE || sim->cfg.pass_lean_mm == 0)
        return 0;
    double toward_medial = 0;
    for (size_t i = 0; i < sim->spot_count; i++) {
        double d = (position_cm - sim->spots[i].position_cm) / SPOT_REACH_CM;
        double w = sim->spots[i].severity * exp(-0.5 * d * d);
        toward_medial += sim->spots[i].side == RM_ML_LATERAL ? -w : w;
    }
    return sim->cfg.pass_lean_mm * toward_medial;
}

/* Load centre across the roller, mm from its left end. For a right leg
 * medial is toward the left end (smaller mm), for a left leg the right. */
static double load_centre_mm(const rm_sim *sim, double lean_mm)
{
    double toward_medial = sim->cfg.side == RM_SIDE_LEFT ? 1 : -1;
    double centre = sim->cfg.roller_width_mm / 2 + toward_medial * lean_mm;
    return fmin(fmax(centre, 0), sim->cfg.roller_width_mm);
}

static double channel_force(const rm_sim *sim, const rm_channel_info *ch,
                            double force, double centre_mm)
{
    double width = sim->cfg.roller_width_mm;
    if (ch->kind == RM_CHANNEL_PRESSURE_CELL) {
        double d = (ch->position_mm - centre_mm) / CONTACT_SIGMA_MM;
        double peak_kpa_area = force /
            (CONTACT_LENGTH_MM * CONTACT_SIGMA_MM * sqrt(TWO_PI));
        return peak_kpa_area * ch->area_mm2 * exp(-0.5 * d * d);
    }
    if (sim->cfg.load_cells == 1)
        return force;
    /* A beam on two supports: each end carries the lever share. */
    double share = ch->position_mm > 0 ? centre_mm / width
                                       : (width - centre_mm) / width;
    return force * share;
}

/* What an FSR reports of the force it carries: creep and hysteresis. */
static double fsr_response(const rm_sim *sim, sim_channel *ch, double f,
                           double dt)
{
    const rm_sim_config *c = &sim->cfg;
    if (f > FSR_MIN_N)
        ch->loaded_s += dt;
    else
        ch->loaded_s = fmax(0, ch->loaded_s - CREEP_RECOVERY_RATE * dt);
    if (fabs(ch->loaded_s - ch->creep_at_s) >= CREEP_STEP_S ||
        ch->creep_factor == 0) {
        /* a: the creep law's slope such that 60 s reads `creep` below 5 s */
        double a = c->fsr_creep /
                   (log10(61.0) - (1 - c->fsr_creep) * log10(6.0));
        ch->creep_factor = 1 - a * log10(1 + ch->loaded_s);
        ch->creep_at_s = ch->loaded_s;
    }
    double creep = ch->creep_factor;
    ch->recent_newtons += (f - ch->recent_newtons) * dt / HYSTERESIS_TAU_S;
    double unloading = fmax(0, ch->recent_newtons - f);
    return f * creep + c->fsr_hysteresis * unloading;
}

/* counts = offset + drift + force / gain + hum + noise, then the ADC's
 * rounding and range. settled (0..1) is how far the drift has come. */
static int32_t to_counts(rm_sim *sim, sim_channel *ch, double newtons,
                         double settled, bool *saturated)
{
    const rm_sim_config *c = &sim->cfg;
    /* sin(hum phase + this channel's phase) */
    double hum = c->hum_counts *
                 (sim->hum.s * ch->hum_cos + sim->hum.c * ch->hum_sin);
    double counts = ch->offset_counts + ch->drift_per_s * DRIFT_TAU_S * settled +
                    newtons / ch->true_gain + hum +
                    c->noise_counts * sim_rng_gauss(&sim->signal_rng);
    counts = nearbyint(counts);
    if (counts >= ch->adc_max || counts <= 0)
        *saturated = true;
    return (int32_t)fmin(fmax(counts, 0), ch->adc_max);
}

static int32_t encoder_at(const rm_sim *sim, double p)
{
    const rm_device_info *info = &sim->info;
    if (!info->encoder_counts_per_turn)
        return 0;
    /* The contact point moves r * theta along the leg. */
    double turns = p * 10 / (M_PI * sim->cfg.roller_diameter_mm);
    return sim->encoder_origin +
           info->distal_direction *
               (int32_t)lrint(turns * info->encoder_counts_per_turn);
}

static void measure(rm_sim *sim, double t, double dt, double force,
                    double centre_mm, rm_sample *out)
{
    bool saturated = false;
    double settled = 1 - exp(-t / DRIFT_TAU_S);
    for (unsigned i = 0; i < sim->info.channel_count; i++) {
        const rm_channel_info *info = &sim->info.channels[i];
        sim_channel *ch = &sim->channels[i];
        double f = channel_force(sim, info, force, centre_mm);
        if (info->kind == RM_CHANNEL_PRESSURE_CELL)
            f = fsr_response(sim, ch, f, dt);
        out->counts[i] = to_counts(sim, ch, f, settled, &saturated);
    }
    if (saturated)
        out->flags |= RM_SAMPLE_SATURATED;
}

static void note_coverage(rm_sim *sim, double p, double load)
{
    if (load < LOADED_SHARE)
        return;
    if (!sim->covered_any || p < sim->covered_min_cm)
        sim->covered_min_cm = p;
    if (!sim->covered_any || p > sim->covered_max_cm)
        sim->covered_max_cm = p;
    sim->covered_any = true;
}

static sim_osc *oscillator(rm_sim *sim, unsigned i)
{
    sim_osc *others[] = {&sim->tremor_wander, &sim->hum, &sim->rock};
    return i < 3 ? &sim->voluntary[i] : others[i - 3];
}

#define OSCILLATORS 6

static void advance_clock(rm_sim *sim)
{
    for (unsigned i = 0; i < OSCILLATORS; i++)
        osc_advance(oscillator(sim, i));
    sim->index_since_rate++;
    sim->t_s = sim->rate_base_s + (double)sim->index_since_rate / sim->rate_hz;
}

bool rm_sim_next_sample(rm_sim *sim, rm_sample *out)
{
    double t = sim->t_s, dt = 1.0 / sim->rate_hz;
    if (t >= sim->cfg.duration_s)
        return false;
    memset(out, 0, sizeof *out);
    out->t_us = (uint64_t)llround(t * 1e6);
    const sim_segment *seg = segment_at(sim, t);
    double load = load_at(seg, t);
    double p = position_at(sim, seg, t, load);
    double force = person_force(sim, dt, p, load, tenderness_at(sim, p));
    double centre = load_centre_mm(sim, lean(sim, seg, dt) +
                                        pass_lean_mm(sim, seg, p));
    measure(sim, t, dt, force, centre, out);
    out->encoder = encoder_at(sim, p);
    if (sim->next_mark < sim->mark_count &&
        sim->marks[sim->next_mark].t_s <= t) {
        out->flags |= RM_SAMPLE_MARK;
        sim->next_mark++;
    }
    note_coverage(sim, p, load);
    advance_clock(sim);
    return true;
}

void sim_set_rate(rm_sim *sim, uint32_t rate_hz)
{
    sim->rate_base_s = sim->t_s;
    sim->index_since_rate = 0;
    sim->rate_hz = rate_hz;
    sim->info.sample_rate_hz = rate_hz;
    for (unsigned i = 0; i < OSCILLATORS; i++)
        osc_tune(oscillator(sim, i), rate_hz);
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

rm_status rm_sim_new(rm_sim **out, const rm_sim_config *c, rm_error *err)
{
    *out = NULL;
    rm_status st = rm_sim_config_check(c, err);
    if (st != RM_OK)
        return st;
    rm_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    sim->cfg = *c;
    sim_rng_seed(&sim->plan_rng, c->seed, 1);
    sim_rng_seed(&sim->signal_rng, c->seed, 2);
    sim_rng_seed(&sim->wire_rng, c->seed, 3);
    describe_device(sim);
    st = plan_session(sim, err);
    if (st != RM_OK) {
        rm_sim_free(sim);
        return st;
    }
    calibrate_level(sim);
    sim_set_rate(sim, c->sample_rate_hz);
    sim_wire_init(sim);
    *out = sim;
    return RM_OK;
}

void rm_sim_free(rm_sim *sim)
{
    if (!sim)
        return;
    free(sim->segments);
    free(sim->dwells);
    free(sim->marks);
    free(sim);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */
/* ------------------------------------------------------------------------ */

const rm_sim_config *rm_sim_config_of(const rm_sim *sim)
{
    return &sim->cfg;
}

const rm_device_info *rm_sim_info(const rm_sim *sim)
{
    return &sim->info;
}

uint64_t rm_sim_time_us(const rm_sim *sim)
{
    return (uint64_t)llround(sim->t_s * 1e6);
}

const rm_sim_spot *rm_sim_spots(const rm_sim *sim, size_t *count)
{
    *count = sim->spot_count;
    return sim->spots;
}

const rm_sim_dwell *rm_sim_dwells(const rm_sim *sim, size_t *count)
{
    size_t n = 0;
    while (n < sim->dwell_count && sim->dwells[n].start_s < sim->t_s)
        n++;
    *count = n;
    return sim->dwells;
}

const rm_sim_mark *rm_sim_marks(const rm_sim *sim, size_t *count)
{
    *count = sim->next_mark;
    return sim->marks;
}

/* ------------------------------------------------------------------------ */
/* Ground truth (docs/SIMULATOR.md, "truth.json")                           */
/* ------------------------------------------------------------------------ */

static const char *ml_name(uint8_t ml)
{
    return ml == RM_ML_MEDIAL ? "medial" : ml == RM_ML_LATERAL ? "lateral"
                                                               : "centre";
}

/* Every config key with its value, so the run can be repeated. */
static void write_config(rm_json_writer *w, const rm_sim_config *c)
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
                         ml_name(p->side), p->severity);
                rm_json_string(w, text);
            }
            rm_json_array_close(w);
            break;
        }
    }
    rm_json_object_close(w);
}

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
        rm_json_member_string(w, "side", ml_name(s->side));
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
    write_config(&w, &sim->cfg);
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
