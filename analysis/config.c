/* Analysis defaults; each is explained in docs/ANALYSIS.md. */
#include "rollmap_analysis.h"

void rm_analysis_config_default(rm_analysis_config *cfg)
{
    cfg->analysis_rate_hz = 100.0;  /* tremor band (<= 12 Hz) well below Nyquist */
    cfg->load_threshold_n = 20.0;
    cfg->dwell_radius_cm = 1.5;
    cfg->dwell_min_s = 10.0;
    cfg->target_hold_s = 30.0;      /* domain.md: 20-30 s on a roller, 30 s-1 min */
    cfg->target_speed_cm_s = 2.5;   /* domain.md: about 1 inch per second */
    cfg->tremor_lo_hz = 6.0;        /* domain.md: physiological tremor 6-12 Hz */
    cfg->tremor_hi_hz = 12.0;
    cfg->mains_hz = 0.0;
    cfg->profile_bin_cm = 1.0;
    cfg->spot_min_score = 3.0;
    cfg->spot_merge_cm = 3.0;
    cfg->fsr_creep_pct = 12.0;      /* domain.md: FSR 406 creep 5 s -> 60 s */
    cfg->calibration_max_days = 180.0;
}
