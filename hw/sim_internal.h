/*
 * The virtual roller inside hw/: options (sim_options.c), the session planner
 * (sim_plan.c), the per-sample model (sim.c), the ground truth (sim_truth.c)
 * and the firmware that puts it on the wire (sim_wire.c) share the rm_sim
 * state declared here.
 */
#ifndef ROLLMAP_SIM_INTERNAL_H
#define ROLLMAP_SIM_INTERNAL_H

#include "rollmap_hw.h"

/* ---- Random numbers: xoshiro256** seeded through splitmix64 ------------ */

typedef struct sim_rng {
    uint64_t s[4];
    double spare_gauss;    /**< Box-Muller makes normals in pairs */
    bool has_spare;
} sim_rng;

/** One independent stream per purpose, so that (say) a drop rate never
 *  changes what the person does. */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(sim_rng *r);
/** Uniform in [0, 1). */
double sim_rng_uniform(sim_rng *r);
double sim_rng_range(sim_rng *r, double lo, double hi);
/** Standard normal. */
double sim_rng_gauss(sim_rng *r);

/* ---- Sine oscillators: a phasor turned by a fixed step per sample ------ */

typedef struct sim_osc {
    double hz;
    double c, s;           /**< cos and sin of the current phase */
    double step_c, step_s; /**< the turn per sample */
} sim_osc;

/* ---- The script the person acts out ------------------------------------ */

typedef enum sim_segment_kind {
    SIM_SEG_MOVE,   /**< roll from p0 to p1, load from load0 to load1 */
    SIM_SEG_STILL,  /**< stay at p0, load from load0 to load1 */
    SIM_SEG_DWELL   /**< hold at p0, rocking the roller slightly */
} sim_segment_kind;

typedef struct sim_segment {
    uint8_t kind;          /**< sim_segment_kind */
    double t0, t1;         /**< model seconds */
    double p0, p1;         /**< cm from the proximal end */
    double load0, load1;   /**< fraction of the session's force level */
    double lean_mm;        /**< medial shift the person aims for */
} sim_segment;

/* ---- Sensor state per channel ------------------------------------------ */

typedef struct sim_channel {
    double true_gain;      /**< N per count the part really has */
    double offset_counts;  /**< counts at zero force at t = 0 */
    double drift_per_s;    /**< offset drift, counts per second */
    double hum_cos, hum_sin; /**< hum phase of this channel's wiring */
    double loaded_s;       /**< how long an FSR has carried load (creep) */
    double creep_factor;   /**< reading / force from creep, 0 = not yet */
    double creep_at_s;     /**< loaded_s when creep_factor was worked out */
    double recent_newtons; /**< slow follower of the load (hysteresis) */
    int32_t adc_max;       /**< full scale; the minimum is 0 */
} sim_channel;

/* ---- The firmware ------------------------------------------------------ */

/* Sample rates the firmware accepts (config "rate" and SET_RATE). */
#define SIM_RATE_MIN_HZ 10
#define SIM_RATE_MAX_HZ 4000

/** Bytes queued for the wire; large enough for the answers to a burst of
 *  commands plus one period's frames. */
#define SIM_WIRE_QUEUE 16384

typedef struct sim_wire {
    bool plugged;
    bool streaming;
    bool tare_pending;     /**< flag the next sample RM_SAMPLE_TARED */
    uint16_t seq;
    uint64_t boot_us;      /**< model time of the last boot: wire clock 0 */
    uint64_t next_status_us;
    uint8_t unplug_index;  /**< next unplug window to act out */
    bool reset_done;
    double next_error_bit; /**< bits until the next flipped bit */
    uint8_t queue[SIM_WIRE_QUEUE];
    size_t queued, taken;
    uint64_t device_dropped; /**< samples that did not fit the queue */
    rm_decoder commands;
    rm_sim_wire_stats stats;
} sim_wire;

/* ---- The whole virtual roller ------------------------------------------ */

struct rm_sim {
    rm_sim_config cfg;
    rm_device_info info;
    sim_rng plan_rng, signal_rng, wire_rng;

    rm_sim_spot spots[RM_SIM_MAX_SPOTS];
    size_t spot_count;
    sim_segment *segments;
    size_t segment_count, segment_cap, segment_index;
    rm_sim_dwell *dwells;
    size_t dwell_count, dwell_cap;
    rm_sim_mark *marks;
    size_t mark_count, mark_cap, next_mark;

    double mean_load_fraction; /**< drawn mean force under load / weight */
    double load_fraction;  /**< force level / weight that gives that mean */
    double tremor_hz;
    double tremor_phase;
    sim_osc voluntary[3];  /**< slow voluntary force fluctuation */
    sim_osc tremor_wander; /**< slow wander of the tremor frequency */
    sim_osc hum;           /**< mains hum */
    sim_osc rock;          /**< rocking while dwelling */
    double lean_mm;        /**< current medial shift (random walk) */
    int32_t encoder_origin;
    double covered_min_cm, covered_max_cm; /**< rolled under load so far */
    bool covered_any;

    uint32_t rate_hz;      /**< current rate (SET_RATE changes it) */
    uint64_t index_since_rate; /**< samples since the rate was set */
    double rate_base_s;    /**< model time when the rate was set */
    double t_s;            /**< model time of the next sample */

    sim_channel channels[RM_MAX_CHANNELS];
    sim_wire wire;
};

/* ---- Options (sim_options.c) ------------------------------------------- */

/** Every option with its value, as the JSON member "config". */
void sim_config_write_json(rm_json_writer *w, const rm_sim_config *c);
/** "medial", "lateral" or "centre". */
const char *sim_ml_name(uint8_t ml);

/* ---- The session planner (sim_plan.c) ---------------------------------- */

/** The tender spots: pinned by the options or drawn from plan_rng. */
void sim_place_spots(rm_sim *sim);
/** The script of segments, dwells and marks for the whole session. */
rm_status sim_plan_script(rm_sim *sim, rm_error *err);

/* ---- The per-sample model (sim.c) -------------------------------------- */

/** Tenderness felt at a position: the nearest severe spot dominates. */
double sim_tenderness_at(const rm_sim *sim, double position_cm);

/** Set up the firmware side at power-up (sim_wire.c). */
void sim_wire_init(rm_sim *sim);
/** Change the sample rate from the next sample on (sim.c). */
void sim_set_rate(rm_sim *sim, uint32_t rate_hz);

#endif
