/*
 * rollmap analysis: signal conditioning, position along the hamstring,
 * spectra (FFTW), dwell and tender-spot detection, and comparing sessions.
 * Methods and thresholds: docs/ANALYSIS.md. Presenting the results
 * (reports, graphs) is report/'s work (rollmap_report.h).
 *
 * The only public header of analysis/. Functions never print; they return
 * an rm_status and fill an rm_error.
 */
#ifndef ROLLMAP_ANALYSIS_H
#define ROLLMAP_ANALYSIS_H

#include "rollmap_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

typedef struct rm_analysis_config {
    double analysis_rate_hz;     /**< conditioned series rate (default 100) */
    double load_threshold_n;     /**< "under load" above this (default 20) */
    double dwell_radius_cm;      /**< contact stays within +/- this (1.5) */
    double dwell_min_s;          /**< shortest dwell (default 10) */
    double target_hold_s;        /**< recommended hold (30, domain.md) */
    double target_speed_cm_s;    /**< recommended pace (2.5) */
    double tremor_lo_hz;         /**< guarding/tremor band (6) */
    double tremor_hi_hz;         /**< (12) */
    double mains_hz;             /**< 50 or 60; 0 = detect */
    double profile_bin_cm;       /**< bin of the profile along the leg (1) */
    double spot_min_score;       /**< report spots scoring at least (3) */
    double spot_merge_cm;        /**< evidence within this is one spot (3) */
    double fsr_creep_pct;        /**< FSR reading loss 5 s -> 60 s (12) */
    double calibration_max_days; /**< older calibration is stale (180) */
} rm_analysis_config;

void rm_analysis_config_default(rm_analysis_config *cfg);

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

/** Medial/lateral on the leg: <0 medial, >0 lateral, in [-1, 1].
 *  Unknown: a tender spot that nobody held or marked and whose passes kept
 *  the load centred, which says nothing of where across the leg it lies. */
typedef enum rm_ml_side { RM_ML_SIDE_CENTRE = 0, RM_ML_SIDE_MEDIAL = 1,
                          RM_ML_SIDE_LATERAL = 2,
                          RM_ML_SIDE_UNKNOWN = 3 } rm_ml_side;
const char *rm_ml_side_name(rm_ml_side side); /* "medial" ... */

/** Conditioned series at analysis_rate_hz (all arrays have n entries).
 *  rm_analysis_free releases the arrays: those of an analysis made by
 *  rm_analyse_* lie in one allocation (rm_analysis.series_memory); code
 *  filling an rm_analysis itself mallocs each array on its own and leaves
 *  series_memory NULL. */
typedef struct rm_series {
    size_t n;
    double rate_hz;
    double *t_s;            /**< seconds from session start */
    double *force_n;        /**< total force, tared, drift removed */
    double *pressure_kpa;   /**< mean pressure over loaded cells (NaN none) */
    double *position_cm;    /**< from the most proximal point (NaN none) */
    double *ml;             /**< centre of pressure, -1 medial .. +1 lateral
                                 (NaN when not loaded) */
    double *speed_cm_s;     /**< signed: + distal */
    double *tremor;         /**< tremor-band power over time (N^2) */
    uint8_t *loaded;        /**< 1 when force >= load_threshold_n */
    uint8_t *in_gap;        /**< 1 inside a recorded gap */
} rm_series;

typedef struct rm_dwell {
    double start_s, end_s, duration_s;
    double position_cm, position_pct;   /**< NaN without position */
    double ml;                          /**< -1 .. 1 */
    uint8_t side;                       /**< rm_ml_side */
    double mean_force_n, peak_force_n;
    double mean_pressure_kpa, peak_pressure_kpa; /**< NaN without cells */
    double pressure_time_kpa_s;         /**< pressure-time integral */
    double force_stability;             /**< coefficient of variation */
    double tremor_power;                /**< 6-12 Hz band power, N^2 */
    uint32_t marks;                     /**< marks inside it */
} rm_dwell;

/** Evidence behind a tender spot, each normalised 0..1. */
typedef struct rm_spot_evidence {
    double dwell_s;          /**< time dwelt here */
    double slowing;          /**< speed drop on passes over it */
    double unloading;        /**< force eased off on passes over it */
    double tremor;           /**< tremor/guarding power vs elsewhere */
    uint32_t marks;          /**< user marks here */
    double mark_rating;      /**< mean rating of marks (-1 none) */
} rm_spot_evidence;

typedef struct rm_spot {
    double position_cm, position_pct;
    double ml;               /**< where held or marked; else the passes'
                                  lean against their own centre lines */
    uint8_t side;            /**< rm_ml_side */
    double side_confidence;  /**< 1 held or marked; else the probability
                                  that the passes' lean is not noise */
    double score;            /**< 0-10 */
    double strength;         /**< the score without its ceiling: equal up
                                  to 6.3, then growing on linearly */
    double strength_se;      /**< its standard error from the scatter
                                  between passes (NaN < 2 passes) */
    double confidence;       /**< 0-1 */
    rm_spot_evidence evidence;
    double threshold_force_n;     /**< force at marks here (PPT), NaN none */
    double threshold_pressure_kpa;
} rm_spot;

typedef struct rm_mark {
    double t_s;
    double position_cm;      /**< NaN without position */
    double force_n, pressure_kpa;
    int rating;              /**< 0-10, -1 none */
    int spot;                /**< index into spots, -1 none */
} rm_mark;

typedef struct rm_stroke {
    double start_s, end_s;
    double from_cm, to_cm;
    double mean_speed_cm_s;
    double mean_force_n;
} rm_stroke;

/** Profile along the leg: one bin per profile_bin_cm. */
typedef struct rm_profile_bin {
    double position_cm;
    double time_s;           /**< time under load in the bin */
    double mean_force_n, peak_force_n;
    double mean_pressure_kpa;
    double tenderness;       /**< 0-10 combined evidence */
    double medial_force_n, lateral_force_n;
    double tremor;           /**< mean tremor-band power under load (N^2) */
    size_t passes;           /**< passes over the bin under load */
} rm_profile_bin;

typedef struct rm_spectrogram {
    size_t frames, bins;
    double dt_s, df_hz;
    double *power;           /**< frames x bins, row-major, N^2/Hz */
} rm_spectrogram;

typedef struct rm_quality {
    size_t gaps;
    double gap_s;
    uint64_t lost_samples;
    uint64_t crc_errors;     /**< link.crc_errors (0 when not recorded) */
    rm_link_stats link;      /**< the session's serial link figures */
    double saturation_pct;
    double calibration_age_days; /**< NaN if unknown */
    bool calibration_stale;
    bool mains_hum_removed;
    double mains_hz;
    uint64_t blocks_skipped; /**< file integrity */
} rm_quality;

typedef struct rm_summary {
    double duration_s;
    double rolled_length_cm;   /**< NaN without position */
    double time_under_load_s;
    double mean_force_n, peak_force_n;
    double mean_pressure_kpa, peak_pressure_kpa;
    size_t strokes;
    double cadence_per_min;    /**< one-way passes per minute */
    double spectral_cadence_per_min; /**< the same from the peak of the
                                          position's spectrum (NaN none) */
    double hold_tremor_hz;     /**< tremor-band peak of the force during
                                    holds (NaN: no hold long enough) */
    double hold_tremor_power_n2; /**< tremor-band power during holds */
    double hold_tremor_pct;    /**< its RMS over the mean force held, % */
    double mean_speed_cm_s;
    double time_too_fast_s;    /**< rolling faster than target speed */
    double vibration_hz;       /**< vibrating roller frequency, 0 none */
} rm_summary;

typedef struct rm_analysis {
    rm_device_info device;
    rm_session_meta meta;
    rm_analysis_config config;
    bool has_position;         /**< false for balls and probes */
    bool has_pressure;
    rm_summary summary;
    rm_quality quality;
    rm_series series;
    void *series_memory;       /**< the one allocation holding every array
                                    of series and the spectrogram's power,
                                    or NULL: each is malloc'd */
    size_t dwell_count;  rm_dwell *dwells;
    size_t spot_count;   rm_spot *spots;
    size_t mark_count;   rm_mark *marks;
    size_t stroke_count; rm_stroke *strokes;
    size_t bin_count;    rm_profile_bin *profile;
    size_t psd_bins; double psd_df_hz; double *psd; /**< Welch PSD of force */
    rm_spectrogram spectrogram;
    const rm_gap *gaps; size_t gap_count;      /**< copied, owned */
} rm_analysis;

/** Analyse a session file. */
rm_status rm_analyse_session(rm_session *s, const rm_analysis_config *cfg,
                             rm_analysis **out, rm_error *err);
/** Analyse samples in memory (the simulator's, or a test's). */
rm_status rm_analyse_samples(const rm_device_info *info,
                             const rm_session_meta *meta,
                             const rm_sample *samples, size_t n,
                             const rm_event *events, size_t n_events,
                             const rm_gap *gaps, size_t n_gaps,
                             const rm_analysis_config *cfg,
                             rm_analysis **out, rm_error *err);
void rm_analysis_free(rm_analysis *a);

/* ------------------------------------------------------------------------ */
/* Spectra (FFTW; plans created once per size and reused)                   */
/* ------------------------------------------------------------------------ */

/** Welch PSD: Hann window of nfft, 50 % overlap, one-sided, density
 *  scaling (units^2/Hz). psd must hold nfft/2+1 values. */
rm_status rm_welch_psd(const double *x, size_t n, double rate_hz,
                       size_t nfft, double *psd, rm_error *err);
/** Power in [lo, hi] Hz of a one-sided PSD. */
double rm_band_power(const double *psd, size_t bins, double df_hz,
                     double lo_hz, double hi_hz);
/** Free cached FFTW plans (at exit; optional). */
void rm_spectra_cleanup(void);

/* ------------------------------------------------------------------------ */
/* Comparing sessions (docs/COMPARE.md)                                     */
/* ------------------------------------------------------------------------ */

typedef struct rm_compare_options {
    double match_cm;          /**< one spot across sessions within (3 cm) */
    double score_mdc;         /**< smallest real strength change; NaN (the
                                   default): from the two sessions' own
                                   pass-to-pass repeatability */
    double score_mdc_min;     /**< the repeatability's MDC is at least
                                   this (1.5 points) */
    double pressure_mdc_kpa;  /**< smallest real tolerated-pressure change
                                   (6.4 kPa, docs/COMPARE.md) */
    double force_mdc_n;       /**< smallest real force change (15 N) */
    double cover_passes;      /**< a spot can be gone only where the later
                                   session rolled over it this often (3) */
    double min_under_load_s;  /**< shorter sessions are not judged (30 s) */
    double min_rolled_cm;     /**< nor those rolling less of the leg (10) */
    double max_lost_pct;      /**< nor those missing more of their time in
                                   gaps, or with damaged blocks (10 %) */
    bool force_mix;           /**< compare different muscles, clients or
                                   devices anyway */
} rm_compare_options;

void rm_compare_options_default(rm_compare_options *opt);

/** How a matched spot changed from the first to the last session of its
 *  leg. */
typedef enum rm_spot_change {
    RM_SPOT_UNCHANGED = 0,   /**< changes within the MDC */
    RM_SPOT_EASED = 1,
    RM_SPOT_WORSE = 2,
    RM_SPOT_NEW = 3,         /**< absent in the first session, present last */
    RM_SPOT_GONE = 4,        /**< absent in the last session, which rolled
                                  over it often enough to find it */
    RM_SPOT_NOT_COVERED = 5  /**< absent in the first or last session,
                                  which did not roll over it enough */
} rm_spot_change;
const char *rm_spot_change_name(rm_spot_change change); /* "eased" ... */

/** A value followed over sessions. */
typedef struct rm_trend {
    size_t n;                /**< sessions with a value */
    double first, last;      /**< first and last value (NaN none) */
    double change;           /**< last - first */
    double slope_per_week;   /**< least squares over the session dates;
                                  NaN with < 2 values or < 1 day apart */
    double mdc;              /**< smallest real change (NaN: none known) */
    bool within_mdc;         /**< |change| < mdc */
} rm_trend;

/** One matched spot in one session. */
typedef struct rm_spot_visit {
    int spot;                      /**< index into the session's spots, -1
                                        when the spot was not found there */
    double position_cm, score;
    double strength, strength_se;  /**< rm_spot's; NaN not found */
    size_t passes;                 /**< the session's passes over the
                                        matched spot's position */
    double tolerated_force_n;      /**< at marks, else mean over dwells on
                                        the spot, else NaN */
    double tolerated_pressure_kpa; /**< the same for pressure */
    double dwell_s;                /**< time dwelt on the spot */
} rm_spot_visit;

/** What a matched spot's verdict rests on (report/ puts it in words). */
typedef enum rm_spot_basis {
    RM_BASIS_MEASURED = 0,       /**< found first and last: the changes */
    RM_BASIS_NO_SESSION = 1,     /**< no judged session of its leg */
    RM_BASIS_ONE_SESSION = 2,    /**< one judged session of its leg */
    RM_BASIS_NOT_IN_FIRST = 3,   /**< new: the first session rolled over it */
    RM_BASIS_NOT_IN_LAST = 4,    /**< gone: the last session rolled over it */
    RM_BASIS_ONLY_BETWEEN = 5,   /**< found only in sessions in between */
    RM_BASIS_FIRST_UNCOVERED = 6,/**< the first session rolled over it too
                                      few times (uncovered_passes) */
    RM_BASIS_LAST_UNCOVERED = 7  /**< the same for the last session */
} rm_spot_basis;

typedef struct rm_matched_spot {
    uint8_t leg;             /**< rm_side of the sessions it belongs to */
    uint8_t side;            /**< rm_ml_side */
    double position_cm;      /**< median over the sessions holding it */
    rm_spot_visit *visits;   /**< one per session (sorted order); spot -1
                                  for sessions of the other leg too */
    size_t present;          /**< sessions holding it */
    rm_trend score, strength, tolerated_force_n, tolerated_pressure_kpa,
             dwell_s;
    double strength_mdc;     /**< the MDC its verdict used (NaN none) */
    rm_spot_change change;
    bool within_mdc;         /**< unchanged because every change between
                                  the first and last session is < its MDC */
    rm_spot_basis basis;     /**< what the verdict rests on */
    double strength_change;  /**< last - first strength (the score for
                                  analyses without strength); NaN */
    double pressure_change_kpa; /**< last - first tolerated pressure; NaN */
    bool mdc_from_passes;    /**< strength_mdc came from the passes */
    bool disagree;           /**< strength and pressure point opposite ways */
    size_t uncovered_passes; /**< passes of the session that did not roll
                                  over it enough (*_UNCOVERED) */
} rm_matched_spot;

/** Overall trends of the sessions of one leg. */
typedef struct rm_leg_trends {
    size_t sessions;
    rm_trend time_under_load_s, mean_force_n, peak_force_n;
    rm_trend spot_count, spot_score_total, cadence_per_min;
} rm_leg_trends;

/** One metric of the left/right comparison. SI = (R - L) / ((R + L) / 2)
 *  * 100 %: 0 symmetric, > 0 right higher; NaN when both are 0. */
typedef struct rm_symmetry_metric {
    const char *name;        /**< e.g. "mean_force_n" */
    double left, right, si_pct;
} rm_symmetry_metric;

enum { RM_SYMMETRY_METRICS = 5 };

typedef struct rm_symmetry {
    bool available;          /**< sessions of both legs were given */
    size_t left, right;      /**< index of the latest session of each leg */
    rm_symmetry_metric metrics[RM_SYMMETRY_METRICS];
} rm_symmetry;

/** Why a session is not judged; what value and limit hold for each. */
typedef enum rm_gate_reason {
    RM_GATE_JUDGED,            /**< it is judged */
    RM_GATE_SHORT_UNDER_LOAD,  /**< value: s under load; limit: s needed */
    RM_GATE_SHORT_ROLLED,      /**< value: cm rolled; limit: cm needed */
    RM_GATE_DAMAGED_BLOCKS,    /**< value: blocks left out of the file */
    RM_GATE_LOST_TIME          /**< value: % of time in gaps; limit: max */
} rm_gate_reason;

/** Whether a session is judged: used for trends, verdicts and symmetry.
 *  Sessions too short or too damaged are shown but not used. */
typedef struct rm_session_gate {
    bool judged;
    rm_gate_reason reason;
    double value, limit;
} rm_session_gate;

/** Sessions that should not be compared: what differs first. */
typedef enum rm_mix_kind {
    RM_MIX_NONE,
    RM_MIX_MUSCLES,
    RM_MIX_CLIENTS,
    RM_MIX_DEVICES           /**< device kind, or position vs none */
} rm_mix_kind;

typedef struct rm_mix {
    rm_mix_kind kind;
    size_t first, other;     /**< the two sessions (indexes, by start) */
} rm_mix;

typedef struct rm_comparison {
    rm_compare_options options;
    size_t session_count;
    const rm_analysis **sessions;  /**< sorted by start; borrowed: the
                                        analyses must outlive this */
    rm_session_gate *gates;        /**< one per session, same order */
    size_t spot_count;
    rm_matched_spot *spots;        /**< by leg, then position */
    rm_leg_trends legs[3];         /**< indexed by rm_side */
    rm_symmetry symmetry;
    rm_mix mix;                    /**< the first pair of sessions that
                                        should not be compared */
    char client_name[128];         /**< the client's display name, which
                                        the caller may fill in (the library
                                        keeps it); "" none */
} rm_comparison;

/** Compare n >= 2 analysed sessions (full, or rebuilt from the library
 *  without series). Sessions of different muscles, clients or devices
 *  (with and without position) are compared too, and c->mix says so:
 *  callers that show the result refuse such a mix unless opt->force_mix
 *  (rm_compare_checked in report/ does both). opt NULL = defaults. */
rm_status rm_compare(const rm_analysis *const *sessions, size_t n,
                     const rm_compare_options *opt, rm_comparison **out,
                     rm_error *err);
void rm_comparison_free(rm_comparison *c);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_ANALYSIS_H */
