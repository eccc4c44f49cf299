/* bench_bits SESSION OUT: every result of rm_analyse_session on SESSION,
 * exactly, so two builds can be compared bit for bit with cmp(1):
 * OUT.bin holds every result series (the doubles as stored, then the
 * loaded and gap flags), OUT.txt every summary figure, dwell, spot,
 * stroke, profile bin and PSD bin, each double in C's %a notation (its
 * exact bits). A change meant to make the analysis faster must leave both
 * files unchanged (docs/PERFORMANCE.md). */
#include "rollmap_analysis.h"

#include <stdio.h>
#include <stdlib.h>

static void write_doubles(FILE *f, const double *x, size_t n)
{
    fwrite(x, sizeof *x, n, f);
}

static void write_series(FILE *f, const rm_series *s)
{
    const double *columns[] = {s->t_s, s->force_n, s->pressure_kpa,
                               s->position_cm, s->ml, s->speed_cm_s,
                               s->tremor};
    for (size_t k = 0; k < sizeof columns / sizeof *columns; k++)
        write_doubles(f, columns[k], s->n);
    fwrite(s->loaded, 1, s->n, f);
    fwrite(s->in_gap, 1, s->n, f);
}

/** A line: a name, then each of the n doubles in %a. */
static void write_line(FILE *f, const char *name, const double *x, size_t n)
{
    fputs(name, f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %a", x[i]);
    fputc('\n', f);
}

static void write_summary(FILE *f, const rm_analysis *a)
{
    const rm_summary *m = &a->summary;
    double figures[] = {
        m->duration_s, m->rolled_length_cm, m->time_under_load_s,
        m->mean_force_n, m->peak_force_n, m->mean_pressure_kpa,
        m->peak_pressure_kpa, (double)m->strokes, m->cadence_per_min,
        m->spectral_cadence_per_min, m->hold_tremor_hz,
        m->hold_tremor_power_n2, m->hold_tremor_pct, m->mean_speed_cm_s,
        m->time_too_fast_s, m->vibration_hz, a->quality.mains_hz,
        (double)a->quality.mains_hum_removed};
    write_line(f, "summary", figures, sizeof figures / sizeof *figures);
}

static void write_events(FILE *f, const rm_analysis *a)
{
    for (size_t i = 0; i < a->dwell_count; i++) {
        const rm_dwell *d = &a->dwells[i];
        double x[] = {d->start_s, d->end_s, d->position_cm, d->position_pct,
                      d->ml, d->side, d->mean_force_n, d->peak_force_n,
                      d->mean_pressure_kpa, d->peak_pressure_kpa,
                      d->pressure_time_kpa_s, d->force_stability,
                      d->tremor_power, d->marks};
        write_line(f, "dwell", x, sizeof x / sizeof *x);
    }
    for (size_t i = 0; i < a->spot_count; i++) {
        const rm_spot *s = &a->spots[i];
        double x[] = {s->position_cm, s->position_pct, s->ml, s->side,
                      s->side_confidence, s->score, s->strength,
                      s->strength_se, s->confidence, s->evidence.dwell_s,
                      s->evidence.slowing, s->evidence.unloading,
                      s->evidence.tremor, s->evidence.marks,
                      s->evidence.mark_rating};
        write_line(f, "spot", x, sizeof x / sizeof *x);
    }
    for (size_t i = 0; i < a->stroke_count; i++) {
        const rm_stroke *s = &a->strokes[i];
        double x[] = {s->start_s, s->end_s, s->from_cm, s->to_cm,
                      s->mean_speed_cm_s, s->mean_force_n};
        write_line(f, "stroke", x, sizeof x / sizeof *x);
    }
    for (size_t i = 0; i < a->bin_count; i++) {
        const rm_profile_bin *b = &a->profile[i];
        double x[] = {b->position_cm, b->time_s, b->mean_force_n,
                      b->peak_force_n, b->mean_pressure_kpa, b->tenderness,
                      b->medial_force_n, b->lateral_force_n, b->tremor,
                      (double)b->passes};
        write_line(f, "bin", x, sizeof x / sizeof *x);
    }
    write_line(f, "psd", a->psd, a->psd_bins);
}

/** OUT + suffix, opened for writing; NULL with a message on failure. */
static FILE *open_output(const char *out, const char *suffix, char *path,
                         size_t size)
{
    snprintf(path, size, "%s%s", out, suffix);
    FILE *f = fopen(path, "wb");
    if (!f)
        perror(path);
    return f;
}

static int write_results(const rm_analysis *a, const char *out)
{
    char bin_path[4096], txt_path[4096];
    FILE *bin = open_output(out, ".bin", bin_path, sizeof bin_path);
    FILE *txt = bin ? open_output(out, ".txt", txt_path, sizeof txt_path)
                    : NULL;
    if (!txt) {
        if (bin)
            fclose(bin);
        return 1;
    }
    write_series(bin, &a->series);
    write_summary(txt, a);
    write_events(txt, a);
    int failed = ferror(bin) | ferror(txt);
    failed |= fclose(bin) | fclose(txt);
    if (failed)
        fprintf(stderr, "bench_bits: writing %s or %s failed\n", bin_path,
                txt_path);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_bits SESSION OUT\n"
                        "writes OUT.bin and OUT.txt: every result, exactly\n");
        return 2;
    }
    rm_session *s;
    rm_analysis *a;
    rm_error err;
    if (rm_session_open(&s, argv[1], &err) != RM_OK) {
        fprintf(stderr, "bench_bits: %s\n", err.message);
        return 1;
    }
    rm_status st = rm_analyse_session(s, NULL, &a, &err);
    rm_session_close(s);
    if (st != RM_OK) {
        fprintf(stderr, "bench_bits: %s: %s\n", argv[1], err.message);
        return 1;
    }
    int status = write_results(a, argv[2]);
    rm_analysis_free(a);
    return status;
}
