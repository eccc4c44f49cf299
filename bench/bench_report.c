/*
 * bench_report: the full report (JSON, text, HTML and all five graphs,
 * PNG plus the SVGs for the HTML) of a long session, by default one hour at
 * 1 kHz with 8 channels from the virtual roller. Prints the time of each
 * stage: the whole report three times (its gnuplot runs' own wall and CPU
 * time apart: the target is 0.5 s plus gnuplot's time), then each writer
 * alone, the graphs' data files alone and the graphs with gnuplot, and how
 * many points each graph's data file holds (docs/PERFORMANCE.md). The
 * report folder is left in /tmp to look at.
 *
 *   bench_report [SECONDS]
 */
#include "rollmap_daemon.h"
#include "rollmap_report.h"
#include "bench_sim_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define DEFAULT_DURATION_S 3600.0
#define RUNS 3 /* of the whole report */

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

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef rm_status (*part_writer)(const rm_analysis *a, FILE *out,
                                 rm_error *err);

static rm_status html_without_graphs(const rm_analysis *a, FILE *out,
                                     rm_error *err)
{
    return rm_report_html(a, NULL, out, err);
}

static int time_writer(const char *name, part_writer write,
                       const rm_analysis *a)
{
    FILE *out = fopen("/dev/null", "w");
    rm_error err;
    double cpu0 = cpu_seconds();
    uint64_t t0 = rm_monotonic_us();
    rm_status st = out ? write(a, out, &err) : RM_ERR_IO;
    printf("  %-34s %6.3f s %6.3f s\n", name, seconds_since(t0),
           cpu_seconds() - cpu0);
    if (out)
        fclose(out);
    return st == RM_OK ? 0 : fail(name, &err);
}

/* The graphs' data files and scripts without gnuplot: with PATH pointing
 * nowhere the runner finds none and writes only those. */
static int time_graph_sources(const rm_analysis *a, const char *dir)
{
    char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char graphs_dir[PATH_MAX];
    snprintf(graphs_dir, sizeof graphs_dir, "%s/graph-sources", dir);
    setenv("PATH", "/nonexistent", 1);
    rm_graphs_result res;
    rm_error err;
    double cpu0 = cpu_seconds();
    uint64_t t0 = rm_monotonic_us();
    rm_status st = rm_graphs_render(a, graphs_dir, RM_GRAPH_PNG, &res, &err);
    printf("  %-34s %6.3f s %6.3f s\n", "graph data files and scripts",
           seconds_since(t0), cpu_seconds() - cpu0);
    setenv("PATH", path, 1);
    free(path);
    return st == RM_OK ? 0 : fail(graphs_dir, &err);
}

static int time_parts(const rm_analysis *a, const char *dir)
{
    char graphs_dir[PATH_MAX];
    snprintf(graphs_dir, sizeof graphs_dir, "%s/graphs-only", dir);
    int status = time_writer("report.json", rm_report_json, a);
    if (status == 0)
        status = time_writer("summary.txt", rm_report_text, a);
    if (status == 0)
        status = time_writer("report.html (without the SVGs)",
                             html_without_graphs, a);
    if (status == 0)
        status = time_graph_sources(a, dir);
    if (status != 0)
        return status;
    rm_graphs_result res;
    rm_error err;
    uint64_t t0 = rm_monotonic_us();
    if (rm_graphs_render(a, graphs_dir, RM_GRAPH_PNG, &res, &err) != RM_OK)
        return fail(graphs_dir, &err);
    printf("  %-34s %6.3f s (%zu gnuplot runs, each started once its files "
           "are written: %.3f s CPU)\n", "graphs with gnuplot",
           seconds_since(t0), 2 * res.rendered, res.gnuplot_cpu_s);
    return 0;
}

/* Points (data lines) each graph's data file holds: what gnuplot draws. */
static void print_points(const char *graphs_dir)
{
    DIR *d = opendir(graphs_dir);
    struct dirent *entry;
    printf("points drawn (data lines per file):");
    while (d && (entry = readdir(d))) {
        size_t len = strlen(entry->d_name);
        if (len < 4 || strcmp(entry->d_name + len - 4, ".dat"))
            continue;
        char line[256];
        int fd = openat(dirfd(d), entry->d_name, O_RDONLY);
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        size_t points = 0;
        while (f && fgets(line, sizeof line, f))
            points += line[0] != '#' && line[0] != '\n';
        if (f)
            fclose(f);
        printf(" %s %zu", entry->d_name, points);
    }
    putchar('\n');
    if (d)
        closedir(d);
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
    for (int run = 0; run < RUNS; run++) {
        double cpu0 = cpu_seconds();
        t0 = rm_monotonic_us();
        if (rm_report_write_dir(a, report_dir, RM_GRAPH_PNG, &res, &err) != RM_OK)
            return fail(report_dir, &err);
        double report_s = seconds_since(t0);
        printf("report (json, text, html, %zu graphs png+svg): %6.3f s wall, "
               "%.3f s CPU; gnuplot runs %.3f s wall, %.3f s CPU; "
               "report - gnuplot wall %.3f s (target 0.5 s)%s\n",
               res.rendered, report_s, cpu_seconds() - cpu0, res.gnuplot_s,
               res.gnuplot_cpu_s, report_s - res.gnuplot_s,
               res.gnuplot_found ? "" : "  [gnuplot missing: graphs not drawn]");
    }
    printf("each part alone (wall, CPU of this process):\n");
    int status = time_parts(a, dir);
    if (status != 0)
        return status;
    char graphs_dir[PATH_MAX];
    snprintf(graphs_dir, sizeof graphs_dir, "%s/graphs", report_dir);
    print_points(graphs_dir);
    printf("peak RSS:                   %6ld MB\n", peak_rss_mb());
    rm_analysis_free(a);
    rm_session_close(s);
    unlink(session_path);
    printf("report kept in %s (delete it when done)\n", report_dir);
    return 0;
}
