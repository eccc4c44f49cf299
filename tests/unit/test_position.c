/* The centre of pressure (ana_combine_channels) and ml (analysis/position.c)
 * against their definition, worked out here sample by sample: cell loads
 * of both signs, both zeros and NaN, loaded and unloaded samples, lengths
 * around the four samples worked out at a time. The same for the series'
 * peaks of the summary. */
#include "testutil.h"
#include "analysis_internal.h"

#include <stdlib.h>
#include <string.h>

#define CELLS 6
#define RATE_HZ 100.0
#define ML_FULL_SCALE_MM 30.0   /* docs/ANALYSIS.md */
#define ROLLING_CM_S 0.5

static rm_device_info roller_with_cells(void)
{
    rm_device_info info;
    memset(&info, 0, sizeof info);
    info.device_kind = RM_DEVICE_ROLLER;
    info.sample_rate_hz = 1000;
    info.encoder_counts_per_turn = 4096;
    info.roller_diameter_mm = 150.0f;
    info.distal_direction = 1;
    info.channel_count = CELLS + 2;
    info.roller_width_mm = 330.0f;
    for (unsigned k = 0; k < info.channel_count; k++) {
        bool cell = k < CELLS;
        info.channels[k].kind =
            cell ? RM_CHANNEL_PRESSURE_CELL : RM_CHANNEL_LOAD_CELL;
        info.channels[k].position_mm =
            cell ? 20.0f + 50.0f * (float)k : (k == CELLS ? 0.0f : 330.0f);
    }
    return info;
}

static float awkward_load(void)
{
    static const float loads[] = {-5.0f, -0.0f, 0.0f, NAN, 1e-30f, 0.5f,
                                  3.0f, 40.0f, 40.0f, 120.0f};
    return loads[rand() % (int)(sizeof loads / sizeof *loads)];
}

/* The definition: force-weighted mean place of the channels of `kind`
 * that push (negative, zero and missing loads count as none), NaN
 * unloaded. */
static double cop_by_definition(const rm_device_info *info,
                                const ana_channels *ch, const uint8_t *loaded,
                                size_t i, rm_channel_kind kind)
{
    if (!loaded[i])
        return NAN;
    double moment = 0.0, total = 0.0;
    for (unsigned k = 0; k < ch->count; k++) {
        if (info->channels[k].kind != kind)
            continue;
        double f = ch->newtons[k][i];
        f = f > 0.0 ? f : 0.0;
        moment += f * info->channels[k].position_mm;
        total += f;
    }
    return total > 0.0 ? moment / total : NAN;
}

/* The median centre of pressure while rolling (by sorting), else over all
 * samples. */
static double centre_by_definition(const double *cop, const double *speed,
                                   size_t n)
{
    double *v = malloc(sizeof *v * n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(cop[i]) && fabs(speed[i]) >= ROLLING_CM_S)
            v[m++] = cop[i];
    double centre = m ? rm_median_inplace(v, m) : rm_quantile(cop, n, 0.5);
    free(v);
    return centre;
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_ml(size_t n, rm_side side)
{
    rm_device_info info = roller_with_cells();
    rm_session_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.side = side;
    float *loads = malloc(sizeof *loads * CELLS * n);
    ana_channels ch = {.n = n, .rate_hz = RATE_HZ, .count = CELLS + 2};
    for (unsigned k = 0; k < CELLS; k++)
        ch.newtons[k] = loads + k * n;
    for (unsigned k = CELLS; k < CELLS + 2; k++)
        ch.newtons[k] = loads;   /* load cells: not used for the centre */
    double *position = malloc(sizeof *position * n);
    double *speed = malloc(sizeof *speed * n);
    double *ml = malloc(sizeof *ml * n);
    double *scratch = malloc(sizeof *scratch * n);
    double *cop = malloc(sizeof *cop * n);
    uint8_t *loaded = malloc(n);
    for (size_t i = 0; i < n; i++) {
        for (unsigned k = 0; k < CELLS; k++)
            ch.newtons[k][i] = awkward_load();
        loaded[i] = rand() % 4 != 0;
        /* back and forth, with stops */
        position[i] = (double)(i % 200 < 100 ? i % 200 : 200 - i % 200) *
                      (i % 50 < 10 ? 0.0 : 20.0);
    }
    for (size_t i = 0; i < n; i++)
        cop[i] = cop_by_definition(&info, &ch, loaded, i,
                                   RM_CHANNEL_PRESSURE_CELL);
    memcpy(ml, cop, sizeof *ml * n);   /* as ana_combine_channels leaves it */
    rm_series s = {.n = n, .rate_hz = RATE_HZ, .position_cm = position,
                   .speed_cm_s = speed, .ml = ml, .loaded = loaded};
    ana_position_fill(&info, &meta, &s, scratch);
    double centre = centre_by_definition(cop, speed, n);
    double sign = side == RM_SIDE_LEFT ? -1.0 : 1.0;
    for (size_t i = 0; i < n; i++) {
        double expected =
            isfinite(cop[i])
                ? rm_clamp(sign * (cop[i] - centre) / ML_FULL_SCALE_MM, -1.0,
                           1.0)
                : NAN;
        assert_true(same_bits(ml[i], expected));
    }
    free(loads);
    free(position);
    free(speed);
    free(ml);
    free(scratch);
    free(cop);
    free(loaded);
}

/* Counts to cm, zeroed at the first sample when nothing was loaded, and
 * the speed as the slope over +/- 0.1 s cut short at the ends, NaN where
 * the position is not finite: both encoder directions, missing and
 * infinite counts, lengths around the window (10 samples each side). */
static void positions_and_speed_follow_their_definition(void **state)
{
    (void)state;
    static const size_t lengths[] = {1, 2, 3, 11, 20, 21, 22, 23, 101, 1000};
    double counts[1000], position[1000], speed[1000], ml[1000], scratch[1000];
    uint8_t loaded[1000] = {0};
    srand(18);
    for (int direction = -1; direction <= 1; direction += 2)
        for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            size_t n = lengths[l];
            rm_device_info info = roller_with_cells();
            info.distal_direction = (int8_t)direction;
            for (size_t i = 0; i < n; i++) {
                int r = rand() % 40;
                counts[i] = r == 0 ? NAN : r == 1 ? INFINITY
                                         : (double)(rand() % 2001 - 1000);
            }
            counts[0] = 17.0;
            memcpy(position, counts, n * sizeof *counts);
            for (size_t i = 0; i < n; i++)
                ml[i] = NAN;      /* no centre of pressure: nothing loaded */
            rm_series s = {.n = n, .rate_hz = RATE_HZ, .position_cm = position,
                           .speed_cm_s = speed, .ml = ml, .loaded = loaded};
            ana_position_fill(&info, NULL, &s, scratch);
            double mm = ana_mm_per_count(&info);
            double zero = direction * counts[0] * mm / 10.0;
            for (size_t i = 0; i < n; i++)
                assert_true(same_bits(position[i],
                                      direction * counts[i] * mm / 10.0 - zero));
            for (size_t i = 0; i < n; i++) {
                size_t a = i >= 10 ? i - 10 : 0;
                size_t b = i + 10 < n ? i + 10 : n - 1;
                double expected =
                    !isfinite(position[i]) ? NAN
                    : b > a ? (position[b] - position[a]) * RATE_HZ /
                                  (double)(b - a)
                            : 0.0;
                assert_true(same_bits(speed[i], expected));
            }
        }
}

/* The profile bin by its definition: the floor of position / bin width,
 * 0 below the first bin and for NaN, the last beyond the last. */
static size_t bin_by_definition(double position_cm, double bin_cm,
                                size_t bins)
{
    double b = floor(position_cm / bin_cm);
    if (!(b > 0.0))
        return 0;
    return b >= (double)bins ? bins - 1 : (size_t)b;
}

/* Zeros of both signs, NaN, infinities, the edges of bins and of the
 * profile and just either side of them, huge positions. */
static void profile_bin_follows_its_definition(void **state)
{
    (void)state;
    static const double widths[] = {0.5, 1.0, 0.3, 2.5};
    static const size_t bins[] = {1, 2, 3, 40, 101};
    double positions[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1e300, -1e300,
                          -0.1, 0.1, 0.3, 0.5, 1.0, 2.5, 12.0, 30.0, 50.5,
                          100.0, 250.0, 1e19, 2e19};
    size_t count = sizeof positions / sizeof *positions;
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
        for (size_t b = 0; b < sizeof bins / sizeof *bins; b++)
            for (size_t p = 0; p < count; p++)
                for (int side = -1; side <= 1; side++) {
                    double x = side == 0 ? positions[p]
                             : nextafter(positions[p], side * INFINITY);
                    assert_int_equal(
                        ana_profile_bin(x, widths[w], bins[b]),
                        bin_by_definition(x, widths[w], bins[b]));
                }
}

static void ml_follows_its_definition(void **state)
{
    (void)state;
    static const size_t lengths[] = {1, 2, 3, 4, 5, 7, 64, 101, 1000, 4099};
    srand(17);
    for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
        check_ml(lengths[l], RM_SIDE_RIGHT);
        check_ml(lengths[l], RM_SIDE_LEFT);
    }
}

/* The channels as ana_combine_channels sees them: the load cells' total
 * force awkward too, so that samples are loaded and not; every tenth
 * sample in a gap. */
static void combine(const rm_device_info *info, ana_channels *ch,
                    rm_series *s)
{
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    for (size_t i = 0; i < s->n; i++)
        s->in_gap[i] = i % 10 == 9;
    ana_combine_channels(info, &cfg, ch, s);
}

/* ana_combine_channels puts each loaded sample's centre of pressure into
 * ml with its definition's bits, four samples at a time and the rest:
 * from the pressure cells, and from the load cells when the cells all sit
 * at one place. */
static void combine_puts_the_centre_of_pressure_in_ml(void **state)
{
    (void)state;
    static const size_t lengths[] = {1, 2, 3, 4, 5, 6, 7, 64, 101, 1003};
    enum { MOST = 1003 };
    float loads[CELLS + 2][MOST];
    double force[MOST], kpa[MOST], ml[MOST];
    uint8_t loaded[MOST], in_gap[MOST];
    srand(19);
    for (int cells_spread = 0; cells_spread < 2; cells_spread++)
        for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            size_t n = lengths[l], loaded_count = 0;
            rm_device_info info = roller_with_cells();
            for (unsigned k = 0; k < CELLS && !cells_spread; k++)
                info.channels[k].position_mm = 100.0f;
            ana_channels ch = {.n = n, .rate_hz = RATE_HZ,
                               .count = CELLS + 2};
            for (unsigned k = 0; k < CELLS + 2; k++) {
                ch.newtons[k] = loads[k];
                for (size_t i = 0; i < n; i++)
                    loads[k][i] = awkward_load();
            }
            rm_series s = {.n = n, .rate_hz = RATE_HZ, .force_n = force,
                           .pressure_kpa = kpa, .ml = ml, .loaded = loaded,
                           .in_gap = in_gap};
            combine(&info, &ch, &s);
            rm_channel_kind kind = cells_spread ? RM_CHANNEL_PRESSURE_CELL
                                                : RM_CHANNEL_LOAD_CELL;
            for (size_t i = 0; i < n; i++) {
                double want = cop_by_definition(&info, &ch, loaded, i, kind);
                if (!same_bits(ml[i], want))
                    fail_msg("%zu samples, sample %zu: %a mm, defined %a mm",
                             n, i, ml[i], want);
                loaded_count += loaded[i];
            }
            assert_true(n < 64 || (loaded_count > 0 && loaded_count < n));
        }
}

/* Every cell pushing nothing (zeros, negative, NaN) while the load cells
 * carry the leg: no centre of pressure, so ml is NaN, never a division's
 * 0/0 or inf. */
static void ml_without_cell_load_is_nan(void **state)
{
    (void)state;
    rm_device_info info = roller_with_cells();
    enum { N = 5 };
    static const float nothing[N] = {0.0f, -0.0f, -1.0f, NAN, 0.0f};
    float loads[CELLS][N], carried[N] = {80.0f, 80.0f, 80.0f, 80.0f, 80.0f};
    ana_channels ch = {.n = N, .rate_hz = RATE_HZ, .count = CELLS + 2};
    for (unsigned k = 0; k < CELLS; k++) {
        ch.newtons[k] = loads[k];
        memcpy(loads[k], nothing, sizeof nothing);
    }
    ch.newtons[CELLS] = ch.newtons[CELLS + 1] = carried;
    double position[N] = {0}, speed[N], ml[N], scratch[N], force[N], kpa[N];
    uint8_t loaded[N], in_gap[N];
    rm_series s = {.n = N, .rate_hz = RATE_HZ, .position_cm = position,
                   .speed_cm_s = speed, .ml = ml, .loaded = loaded,
                   .force_n = force, .pressure_kpa = kpa, .in_gap = in_gap};
    combine(&info, &ch, &s);
    ana_position_fill(&info, NULL, &s, scratch);
    for (size_t i = 0; i < N; i++) {
        assert_true(loaded[i] || in_gap[i]);
        assert_true(isnan(ml[i]));
    }
}

static void peak_from_zero_follows_its_definition(void **state)
{
    (void)state;
    static const double awkward[] = {0.0, -0.0, NAN, -NAN, INFINITY,
                                     -INFINITY, -1.0, 1.0, 3.5, 1e300};
    enum { MOST = 40 };
    double x[MOST];
    srand(14);
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand() % (MOST + 1));
        for (size_t i = 0; i < n; i++)
            x[i] = rand() % 3 ? awkward[rand() % 10]
                              : (double)(rand() % 200 - 100) / 8.0;
        double peak = 0.0;
        for (size_t i = 0; i < n; i++)
            peak = rm_fmax_libm(x[i], peak);
        double fast = ana_peak_from_zero(x, n);
        assert_memory_equal(&fast, &peak, sizeof peak);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profile_bin_follows_its_definition),
        cmocka_unit_test(positions_and_speed_follow_their_definition),
        cmocka_unit_test(ml_follows_its_definition),
        cmocka_unit_test(combine_puts_the_centre_of_pressure_in_ml),
        cmocka_unit_test(ml_without_cell_load_is_nan),
        cmocka_unit_test(peak_from_zero_follows_its_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
