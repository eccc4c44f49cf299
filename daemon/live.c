/* Live state: force, pressure, position, speed and a streaming dwell
 * detector, computed sample by sample for the live view (docs/LIVE.md).
 *
 * Position along the leg is the roll distance r * theta of a roller that
 * rolls without slipping, measured from the most proximal point seen under
 * load so far. The dwell detector and the speed estimate run on "ticks"
 * taken every TICK_US of sample time, so their cost does not depend on the
 * sample rate and the detector's window has a fixed size. */
#include "rollmap_daemon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 20 ticks a second: fine enough for a 1.5 cm / 10 s dwell and for a pace
 * of a few cm/s, coarse enough to keep the window small. */
#define TICK_US 50000u
/* Smoothing of the speed: each tick moves the estimate this far toward the
 * latest 50 ms difference (time constant about 150 ms). */
#define SPEED_SMOOTHING 0.3
/* Below this much pressure-cell force there is no centre of pressure. */
#define ML_MIN_FORCE_N 1.0
/* The lean is the centre of pressure against the line the person rolls
 * on: its average while rolling (faster than ROLLING_CM_S, as the session
 * analysis takes the leg's centre line), following where they sit with
 * this time constant (a pass or two, so a lean over one spot stands out). */
#define ROLLING_CM_S 0.5
#define CENTRE_TAU_S 10.0
/* position_pct needs at least this much range to mean anything. */
#define PCT_MIN_RANGE_CM 0.5

typedef struct tick {
    double t_s;
    double position;
} tick;

struct rm_live {
    rm_live_config cfg;
    rm_device_info info;
    bool have_device;
    double cm_per_count;       /* 0 when there is no encoder */

    bool have_t0;
    uint64_t t0_us;
    uint64_t last_tick_us;
    bool have_tick;

    bool have_range;           /* positions seen under load */
    double min_raw_cm, max_raw_cm;

    double last_tick_position;
    double speed_cm_s;

    bool have_centre;          /* centre_ml follows the rolling */
    double centre_ml;

    /* steady window: the latest ticks within +/- dwell_radius_cm of their
     * midrange, oldest first */
    tick *window;
    size_t window_cap, window_start, window_len;
    bool dwelling;
    double dwell_start_s, dwell_min, dwell_max, dwell_last_s;
    double dwell_s;
};

void rm_live_config_default(rm_live_config *cfg)
{
    cfg->load_threshold_n = 30.0;   /* about 10 % of a typical rolling force */
    cfg->dwell_radius_cm = 1.5;  /* as the session analysis (analysis/dwell.c) */
    cfg->dwell_min_s = 10.0;
    cfg->target_speed_cm_s = 2.5;   /* about 1 inch/s, domain.md */
}

const char *rm_live_event_kind_name(rm_live_event_kind kind)
{
    switch (kind) {
    case RM_LIVE_SESSION_START: return "session_start";
    case RM_LIVE_SESSION_END: return "session_end";
    case RM_LIVE_DWELL_START: return "dwell_start";
    case RM_LIVE_DWELL_END: return "dwell_end";
    case RM_LIVE_MARK: return "mark";
    case RM_LIVE_TARE: return "tare";
    case RM_LIVE_PLUG: return "plug";
    case RM_LIVE_UNPLUG: return "unplug";
    case RM_LIVE_ERROR: return "error";
    case RM_LIVE_NOTICE: return "notice";
    }
    return "unknown";
}

rm_status rm_live_new(rm_live **out, const rm_live_config *cfg, rm_error *err)
{
    if (!(cfg->dwell_min_s > 0 && cfg->dwell_min_s <= 3600) ||
        !(cfg->dwell_radius_cm > 0) || !(cfg->load_threshold_n >= 0))
        return rm_error_set(err, RM_ERR_ARG,
                            "live config: dwell_min_s must be in (0, 3600], "
                            "dwell_radius_cm > 0 and load_threshold_n >= 0");
    rm_live *live = calloc(1, sizeof *live);
    /* enough ticks to span dwell_min_s, plus the tick that completes it */
    size_t cap = (size_t)(cfg->dwell_min_s * 1e6 / TICK_US) + 2;
    tick *window = calloc(cap, sizeof *window);
    if (!live || !window) {
        free(live);
        free(window);
        return rm_error_set(err, RM_ERR_NOMEM, "live state: out of memory");
    }
    live->cfg = *cfg;
    live->window = window;
    live->window_cap = cap;
    rm_live_reset(live);
    *out = live;
    return RM_OK;
}

void rm_live_free(rm_live *live)
{
    if (live) {
        free(live->window);
        free(live);
    }
}

void rm_live_reset(rm_live *live)
{
    live->have_t0 = false;
    live->have_tick = false;
    live->have_range = false;
    live->speed_cm_s = 0;
    live->have_centre = false;
    live->window_start = live->window_len = 0;
    live->dwelling = false;
    live->dwell_s = 0;
}

/* The same roller back after a replug keeps its time base: the capture
 * hands on the session's unwrapped times, so t_s goes on (a clock that
 * really went back still starts a new one, in rm_live_update). */
bool rm_live_set_device(rm_live *live, const rm_device_info *info)
{
    bool same = live->have_device && !strcmp(live->info.serial, info->serial) &&
                !strcmp(live->info.model, info->model);
    bool had_t0 = live->have_t0;
    uint64_t t0_us = live->t0_us;
    live->info = *info;
    live->have_device = true;
    live->cm_per_count = 0;
    if (info->encoder_counts_per_turn > 0 && info->roller_diameter_mm > 0) {
        /* r * theta per count = pi * D / counts, in cm */
        double direction = info->distal_direction < 0 ? -1.0 : 1.0;
        live->cm_per_count = direction * M_PI * info->roller_diameter_mm /
                             10.0 / info->encoder_counts_per_turn;
    }
    rm_live_reset(live);
    live->have_t0 = same && had_t0;
    live->t0_us = t0_us;
    return live->have_t0;
}

/* ---- force, pressure, centre of pressure ---- */

static bool has_load_cells(const rm_device_info *info)
{
    for (unsigned i = 0; i < info->channel_count; i++)
        if (info->channels[i].kind == RM_CHANNEL_LOAD_CELL)
            return true;
    return false;
}

static double total_force(const rm_device_info *info, const rm_sample *s)
{
    uint8_t kind = has_load_cells(info) ? RM_CHANNEL_LOAD_CELL
                                        : RM_CHANNEL_PRESSURE_CELL;
    double sum = 0;
    for (unsigned i = 0; i < info->channel_count; i++)
        if (info->channels[i].kind == kind)
            sum += rm_channel_newtons(&info->channels[i], s->counts[i]);
    return sum;
}

/* The highest pressure of any pressure cell: a tender spot shows up as a
 * local peak, which an average over the strip would hide. */
static double peak_pressure_kpa(const rm_device_info *info, const rm_sample *s)
{
    double peak = NAN;
    for (unsigned i = 0; i < info->channel_count; i++) {
        const rm_channel_info *ch = &info->channels[i];
        if (ch->kind != RM_CHANNEL_PRESSURE_CELL || ch->area_mm2 <= 0)
            continue;
        /* N/mm^2 is MPa; times 1000 is kPa */
        double kpa = rm_channel_newtons(ch, s->counts[i]) / ch->area_mm2 * 1000.0;
        if (isnan(peak) || kpa > peak)
            peak = kpa;
    }
    return peak;
}

static double centre_of_pressure(const rm_device_info *info, const rm_sample *s)
{
    double sum = 0, moment = 0, lo = INFINITY, hi = -INFINITY;
    for (unsigned i = 0; i < info->channel_count; i++) {
        const rm_channel_info *ch = &info->channels[i];
        if (ch->kind != RM_CHANNEL_PRESSURE_CELL)
            continue;
        double f = fmax(0.0, rm_channel_newtons(ch, s->counts[i]));
        sum += f;
        moment += f * ch->position_mm;
        lo = fmin(lo, ch->position_mm);
        hi = fmax(hi, ch->position_mm);
    }
    if (sum < ML_MIN_FORCE_N)
        return NAN;
    double width = info->roller_width_mm;
    double centre = width > 0 ? width / 2 : (lo + hi) / 2;
    double half = width > 0 ? width / 2 : (hi - lo) / 2;
    if (half <= 0)
        return NAN;
    return fmax(-1.0, fmin(1.0, (moment / sum - centre) / half));
}

/* ---- the steady window and the dwell detector ---- */

static tick *window_at(rm_live *live, size_t i)
{
    return &live->window[(live->window_start + i) % live->window_cap];
}

static void window_drop_oldest(rm_live *live)
{
    live->window_start = (live->window_start + 1) % live->window_cap;
    live->window_len--;
}

static double window_range(rm_live *live)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < live->window_len; i++) {
        lo = fmin(lo, window_at(live, i)->position);
        hi = fmax(hi, window_at(live, i)->position);
    }
    return hi - lo;
}

static void window_push(rm_live *live, double t_s, double position)
{
    if (live->window_len == live->window_cap)
        window_drop_oldest(live);
    *window_at(live, live->window_len++) = (tick){t_s, position};
    while (live->window_len > 1 &&
           window_range(live) > 2 * live->cfg.dwell_radius_cm)
        window_drop_oldest(live);
}

static double window_span_s(rm_live *live, double now_s)
{
    return live->window_len ? now_s - window_at(live, 0)->t_s : 0;
}

static size_t end_dwell(rm_live *live, rm_live_event *ev)
{
    live->dwelling = false;
    *ev = (rm_live_event){
        .kind = RM_LIVE_DWELL_END,
        .t_s = live->dwell_last_s,
        .position_cm = (live->dwell_min + live->dwell_max) / 2 - live->min_raw_cm,
        .duration_s = live->dwell_last_s - live->dwell_start_s,
        .rating = -1,
    };
    return 1;
}

static size_t start_dwell(rm_live *live, double t_s, rm_live_event *ev)
{
    live->dwelling = true;
    live->dwell_start_s = window_at(live, 0)->t_s;
    live->dwell_last_s = t_s;
    live->dwell_min = INFINITY;
    live->dwell_max = -INFINITY;
    for (size_t i = 0; i < live->window_len; i++) {
        live->dwell_min = fmin(live->dwell_min, window_at(live, i)->position);
        live->dwell_max = fmax(live->dwell_max, window_at(live, i)->position);
    }
    *ev = (rm_live_event){
        .kind = RM_LIVE_DWELL_START,
        .t_s = live->dwell_start_s,
        .position_cm = (live->dwell_min + live->dwell_max) / 2 - live->min_raw_cm,
        .duration_s = NAN,
        .rating = -1,
    };
    return 1;
}

/* The window holds the latest ticks that lie within +/- dwell_radius_cm of
 * one centre, at most dwell_min_s of them. A dwell starts when it spans
 * dwell_min_s and lasts while it keeps spanning that long: a slow drift
 * keeps a dwell going, a jump or a roll away ends it. */
static size_t detector_tick(rm_live *live, double t_s, double position,
                            bool loaded, rm_live_event events[2])
{
    if (!loaded || isnan(position)) {
        size_t n = live->dwelling ? end_dwell(live, &events[0]) : 0;
        live->window_len = 0;
        live->dwell_s = 0;
        return n;
    }
    window_push(live, t_s, position);
    double span = window_span_s(live, t_s);
    bool steady = span + 1e-9 >= live->cfg.dwell_min_s;
    size_t n = 0;
    if (live->dwelling && !steady)
        n = end_dwell(live, &events[0]);
    else if (!live->dwelling && steady)
        n = start_dwell(live, t_s, &events[0]);
    if (live->dwelling) {
        live->dwell_min = fmin(live->dwell_min, position);
        live->dwell_max = fmax(live->dwell_max, position);
        live->dwell_last_s = t_s;
        live->dwell_s = t_s - live->dwell_start_s;
    } else {
        live->dwell_s = span;
    }
    return n;
}

static void speed_tick(rm_live *live, double position, double dt_s)
{
    if (isnan(position) || dt_s <= 0)
        return;
    double instant = (position - live->last_tick_position) / dt_s;
    live->speed_cm_s += SPEED_SMOOTHING * (instant - live->speed_cm_s);
}

/* ---- one sample ---- */

static void track_range(rm_live *live, double raw_cm)
{
    if (!live->have_range) {
        live->min_raw_cm = live->max_raw_cm = raw_cm;
        live->have_range = true;
    }
    live->min_raw_cm = fmin(live->min_raw_cm, raw_cm);
    live->max_raw_cm = fmax(live->max_raw_cm, raw_cm);
}

/* The rolling centre line moves toward the centre of pressure while the
 * roller moves along the leg (holds lean on purpose and are left out). */
static void centre_tick(rm_live *live, double ml, double dt_s)
{
    if (isnan(ml) || !(fabs(live->speed_cm_s) >= ROLLING_CM_S))
        return;
    if (!live->have_centre)
        live->centre_ml = ml;
    else
        live->centre_ml += (ml - live->centre_ml) * fmin(dt_s / CENTRE_TAU_S, 1.0);
    live->have_centre = true;
}

/* mm the centre of pressure lies toward the roller's right end from the
 * rolling centre line (NaN before there is one). */
static double lean_mm(const rm_live *live, double ml)
{
    if (!live->have_centre || isnan(ml) || !(live->info.roller_width_mm > 0))
        return NAN;
    return (ml - live->centre_ml) * live->info.roller_width_mm / 2.0;
}

static void fill_position(const rm_live *live, double raw_cm, rm_live_values *out)
{
    out->position_cm = out->position_pct = NAN;
    if (isnan(raw_cm) || !live->have_range)
        return;
    out->position_cm = raw_cm - live->min_raw_cm;
    double range = live->max_raw_cm - live->min_raw_cm;
    if (range >= PCT_MIN_RANGE_CM)
        out->position_pct = fmax(0.0, fmin(100.0, 100.0 * out->position_cm / range));
}

size_t rm_live_update(rm_live *live, const rm_sample *s, rm_live_values *out,
                      rm_live_event events[2])
{
    const rm_device_info *info = &live->info;
    /* a device clock that went back (a reset without a new INFO) starts a
     * new time base: differences across it mean nothing */
    if (live->have_t0 && (s->t_us < live->t0_us ||
                          (live->have_tick && s->t_us < live->last_tick_us)))
        rm_live_reset(live);
    if (!live->have_t0) {
        live->t0_us = s->t_us;
        live->have_t0 = true;
    }
    memset(out, 0, sizeof *out);
    out->t_s = (double)(s->t_us - live->t0_us) / 1e6;
    out->flags = s->flags & 0xff;
    out->force_n = live->have_device ? total_force(info, s) : NAN;
    out->pressure_kpa = live->have_device ? peak_pressure_kpa(info, s) : NAN;
    out->ml = live->have_device ? centre_of_pressure(info, s) : NAN;
    bool loaded = out->force_n >= live->cfg.load_threshold_n;
    double raw_cm = live->cm_per_count != 0 ? s->encoder * live->cm_per_count : NAN;
    if (loaded && !isnan(raw_cm))
        track_range(live, raw_cm);
    fill_position(live, raw_cm, out);

    size_t n = 0;
    if (!live->have_tick || s->t_us - live->last_tick_us >= TICK_US) {
        double dt_s = live->have_tick ? (double)(s->t_us - live->last_tick_us) / 1e6 : 0;
        speed_tick(live, raw_cm, dt_s);
        if (loaded)
            centre_tick(live, out->ml, dt_s);
        n = detector_tick(live, out->t_s, raw_cm, loaded, events);
        live->last_tick_us = s->t_us;
        live->last_tick_position = raw_cm;
        live->have_tick = true;
    }
    out->speed_cm_s = isnan(raw_cm) ? NAN : live->speed_cm_s;
    out->lean_mm = loaded ? lean_mm(live, out->ml) : NAN;
    out->dwell_s = live->dwell_s;
    if (loaded)
        out->flags |= RM_LIVE_LOADED;
    if (live->dwelling)
        out->flags |= RM_LIVE_DWELLING;
    if (loaded && fabs(out->speed_cm_s) > live->cfg.target_speed_cm_s)
        out->flags |= RM_LIVE_TOO_FAST;
    return n;
}
