/*
 * bench_report: the full report (JSON, text, HTML and all five graphs,
 * PNG plus the SVGs for the HTML) of a long session, by default one hour at
 * 1 kHz with 8 channels from the virtual roller. Prints the time of each
 * stage; the target for the report itself is 3 s (docs/PERFORMANCE.md).
 * The report folder is left in /tmp to look at.
 *
 *   bench_report [SECONDS]
 */
#include "rollmap_daemon.h"
#include "rollmap_report.h"
#include "bench_sim_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define DEFAULT_DURATION_S 3600.0

static double seconds_since(uint64_t start_us)
{
    return (double)(rm_monotonic_us() - start_us) / 1e6;
}

static int fail(const char *what, const rm_error *err)
{
    fprintf(stderr, "bench_report: %s: %s\n", what, err->message);
    return 1;
}

/** Record the virtual roller into a session file at path. */
static rm_status record_session(const char *path, double duration_s,
                                uint64_t *samples, rm_error *err)
{
    rm_sim_config cfg;
    rm_sim_config_default(&cfg);
    cfg.duration_s = duration_s;
    cfg.side = RM_SIDE_LEFT;
    rm_session_meta meta = {.side = RM_SIDE_LEFT, .start_unix_us = rm_wallclock_us()};
    strcpy(meta.client, "BENCH");
    strcpy(meta.muscle, "hamstring");
    rm_session_id_new(meta.session_id, meta.start_unix_us);
    return bench_record_sim(path, &cfg, &meta, samples, err);
}

static long peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

int main(int argc, char **argv)
{
    double duration_s = argc > 1 ? atof(argv[1]) : DEFAULT_DURATION_S;
    char dir[] = "/tmp/bench_report-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_report: mkdtemp");
        return 1;
    }
    char session_path[64], report_dir[64];
    snprintf(session_path, sizeof session_path, "%s/session.rms", dir);
    snprintf(report_dir, sizeof report_dir, "%s/report", dir);
    rm_error err = {0};
    uint64_t samples = 0, t0 = rm_monotonic_us();
    if (record_session(session_path, duration_s, &samples, &err) != RM_OK)
        return fail("recording the virtual roller", &err);
    printf("session: %.0f s, %llu samples at 1 kHz, 8 channels "
           "(recorded in %.2f s)\n", duration_s, (unsigned long long)samples,
           seconds_since(t0));

    rm_session *s = NULL;
    rm_analysis *a = NULL;
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    t0 = rm_monotonic_us();
    if (rm_session_open(&s, session_path, &err) != RM_OK ||
        rm_analyse_session(s, &cfg, &a, &err) != RM_OK)
        return fail(session_path, &err);
    printf("open + analyse:             %6.3f s\n", seconds_since(t0));

    rm_graphs_result res;
    t0 = rm_monotonic_us();
    if (rm_report_write_dir(a, report_dir, RM_GRAPH_PNG, &res, &err) != RM_OK)
        return fail(report_dir, &err);
    double report_s = seconds_since(t0);
    printf("report (json, text, html, %zu graphs png+svg): %6.3f s "
           "(target 3 s)%s\n", res.rendered, report_s,
           res.gnuplot_found ? "" : "  [gnuplot missing: graphs not drawn]");
    char graphs_dir[80];
    snprintf(graphs_dir, sizeof graphs_dir, "%s/graphs-only", dir);
    t0 = rm_monotonic_us();
    if (rm_graphs_render(a, graphs_dir, RM_GRAPH_PNG, &res, &err) != RM_OK)
        return fail(graphs_dir, &err);
    printf("  of which graphs alone:    %6.3f s (%zu gnuplot runs, all "
           "started at once)\n", seconds_since(t0), 2 * res.rendered);
    printf("peak RSS:                   %6ld MB\n", peak_rss_mb());
    rm_analysis_free(a);
    rm_session_close(s);
    unlink(session_path);
    printf("report kept in %s (delete it when done)\n", report_dir);
    return 0;
}
