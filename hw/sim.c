/*
 * The virtual roller's physical model: a person rolling a hamstring (or
 * pressing a ball or probe into it) and the sensors that measure it.
 *
 * rm_sim_new plans the whole session from the seed (sim_plan.c); every
 * sample then evaluates the script at its time, adds what the person's body
 * does to the force and passes it through the sensor model (this file).
 * Options are in sim_options.c, the ground truth in sim_truth.c and the
 * firmware in sim_wire.c. docs/SIMULATOR.md gives every figure with its
 * source.
 */
#include "sim_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STANDARD_GRAVITY 9.80665
#define TWO_PI (2.0 * M_PI)

/* ---- The person's body (docs/SIMULATOR.md, "The person") --------------- */

/* Above this share of its force level the leg counts as on the roller
 * (for the load calibration and covered_cm). */
#define LOADED_SHARE 0.5
/* Force falls from proximal to distal (Baumgart 2019): the total spread
 * over the rolled length (chosen default). */
#define DISTAL_DECLINE 0.10
/* A tender spot is felt within about this distance (Gaussian sigma, cm). */
#define SPOT_REACH_CM 2.0
/* While dwelling the roller rocks by this much (cm) at this rate (Hz). */
#define DWELL_ROCK_CM 0.3
#define DWELL_ROCK_HZ 0.25
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
/* Ischemic compression with a probe: 90-130 N (Travell & Simons, derived). */
#define PROBE_MIN_N 90.0
#define PROBE_MAX_N 130.0

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


/* Tenderness felt at a position: the nearest severe spot dominates. */
double sim_tenderness_at(const rm_sim *sim, double position_cm)
{
    double w = 0;
    for (size_t i = 0; i < sim->spot_count; i++) {
        double d = (position_cm - sim->spots[i].position_cm) / SPOT_REACH_CM;
        if (fabs(d) < 4) /* beyond 4 sigma nothing is felt */
            w = fmax(w, sim->spots[i].severity * exp(-0.5 * d * d));
    }
    return w;
}

/* The person's traits for the whole session: force level, tremor, the
 * phases of the slow voluntary fluctuation. */
static void draw_person(rm_sim *sim)
{
    const rm_sim_config *c = &sim->cfg;
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
        sum += script_factor(sim, p, load, sim_tenderness_at(sim, p));
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
    double force = person_force(sim, dt, p, load, sim_tenderness_at(sim, p));
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
    /* This order of draws from plan_rng keeps every seed's session. */
    sim_place_spots(sim);
    draw_person(sim);
    st = sim_plan_script(sim, err);
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
