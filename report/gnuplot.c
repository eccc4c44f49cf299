/*
 * gnuplot: the start of every graph script, the numbers in its data files,
 * and the runner that draws the scripts of a graph folder. gnuplot runs as
 * a program in the folder (one process per image, all at once), reading
 * the script by name so `gnuplot NAME.gp` there redraws the same image; its
 * messages go to a log that is kept, and named, when it fails.
 */
#include "report_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const format_names[] = {
    [RM_GRAPH_PNG] = "png", [RM_GRAPH_SVG] = "svg", [RM_GRAPH_PDF] = "pdf"};

rm_status rm_graph_format_parse(const char *text, rm_graph_format *fmt)
{
    for (size_t i = 0; i < sizeof format_names / sizeof *format_names; i++)
        if (!strcasecmp(text, format_names[i])) {
            *fmt = (rm_graph_format)i;
            return RM_OK;
        }
    return RM_ERR_ARG;
}

const char *report_graph_format_name(rm_graph_format fmt)
{
    return format_names[fmt];
}

/* ------------------------------------------------------------------------ */
/* Scripts and data                                                         */
/* ------------------------------------------------------------------------ */

void report_gnuplot_value(FILE *f, double v, char sep)
{
    if (isfinite(v))
        fprintf(f, "%.6g%c", v, sep);
    else
        fprintf(f, "NaN%c", sep);
}

void report_gnuplot_preamble(FILE *f, const char *name, const char *title,
                             rm_graph_format fmt, int width_px, int height_px)
{
    fprintf(f, "# rollmap graph: %s.\n# Redraw from this folder: gnuplot %s.gp\n"
            "# In another format: gnuplot -e \"format='svg'\" %s.gp "
            "(png, svg or pdf)\n", title, name, name);
    fprintf(f, "if (!exists(\"format\")) format = \"%s\"\nreset\n",
            report_graph_format_name(fmt));
    fprintf(f, "if (format eq \"svg\") {\n"
            "    set terminal svg size %d,%d dynamic font \"sans,11\" "
            "background \"white\"\n"
            "} else {\n    if (format eq \"pdf\") {\n"
            "        set terminal pdfcairo size %.2fin,%.2fin font \"sans,9\"\n"
            "    } else {\n"
            "        if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "            set terminal pngcairo size %d,%d font \"sans,10\"\n"
            "        } else {\n"
            "            set terminal png size %d,%d\n"
            "        }\n    }\n}\n",
            width_px, height_px, width_px / 100.0, height_px / 100.0,
            width_px, height_px, width_px, height_px);
    fprintf(f, "set output \"%s.\" . format\n", name);
    fprintf(f, "set title \"%s\"\nset grid lc rgb \"#dddddd\"\n", title);
}

/** Open NAME.gp of graph g in dir and write its preamble. */
static rm_status open_script(rm_atomic_file *rf, const char *dir,
                             const report_graph_desc *g, rm_graph_format fmt,
                             rm_error *err)
{
    char name[64];
    snprintf(name, sizeof name, "%s.gp", g->name);
    rm_status st = report_file_open(rf, dir, name, err);
    if (st == RM_OK)
        report_gnuplot_preamble(rf->f, g->name, g->title, fmt, g->width_px,
                                g->height_px);
    return st;
}

/** One gnuplot run: NAME.gp in a folder drawn as NAME.<fmt>. */
typedef struct gnuplot_job {
    const char *name;
    rm_graph_format fmt;
    pid_t pid;
    char log_name[64];
} gnuplot_job;

/* ------------------------------------------------------------------------ */
/* Running gnuplot                                                          */
/* ------------------------------------------------------------------------ */

/** Look for gnuplot in PATH as the shell would; false when it is absent. */
static bool find_gnuplot(char *path, size_t size)
{
    const char *search = getenv("PATH");
    if (!search || !*search)
        search = "/usr/bin:/bin";
    while (*search) {
        size_t len = strcspn(search, ":");
        snprintf(path, size, "%.*s/gnuplot", (int)(len ? len : 1),
                 len ? search : ".");
        if (access(path, X_OK) == 0)
            return true;
        search += len + (search[len] == ':');
    }
    return false;
}

static rm_status spawn_gnuplot(const char *gnuplot, const char *dir,
                               gnuplot_job *job, rm_error *err)
{
    const char *name = job->name;
    char script[64], format_expr[32];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(format_expr, sizeof format_expr, "format='%s'",
             report_graph_format_name(job->fmt));
    snprintf(job->log_name, sizeof job->log_name, "%s.%s.log", name,
             report_graph_format_name(job->fmt));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, dir);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, job->log_name,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    char *argv[] = {"gnuplot", "-e", format_expr, script, NULL};
    int rc = posix_spawn(&job->pid, gnuplot, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return rm_error_set(err, RM_ERR_IO, "%s: cannot run %s: %s", dir,
                            gnuplot, strerror(rc));
    return RM_OK;
}

/** First line of a gnuplot log, for an error message. */
static void read_first_error(const char *dir, const char *log_name,
                            char *out, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, log_name);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(out, (int)size, f) && strspn(out, " \t\r\n") == strlen(out))
        ;
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* gnuplot creates the image under the umask: it is made private (0600)
 * like every other file of a report. */
static bool output_rendered(const char *dir, const gnuplot_job *job)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.%s", dir, job->name,
             report_graph_format_name(job->fmt));
    return stat(path, &st) == 0 && st.st_size > 0 && chmod(path, 0600) == 0;
}

static double cpu_seconds(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

/** Wait for a job, adding its CPU time to *cpu_s; a failure keeps its log
 *  and is described in err. */
static rm_status finish_gnuplot(const char *dir, const gnuplot_job *job,
                                double *cpu_s, rm_error *err)
{
    int status;
    struct rusage ru;
    while (wait4(job->pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return rm_error_set(err, RM_ERR_IO, "gnuplot: wait: %s",
                                strerror(errno));
    *cpu_s += cpu_seconds(&ru);
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/%s", dir, job->log_name);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && output_rendered(dir, job)) {
        unlink(log_path);
        return RM_OK;
    }
    char first[200];
    read_first_error(dir, job->log_name, first, sizeof first);
    return rm_error_set(err, RM_ERR_IO, "%s/%s.gp: gnuplot failed to draw %s "
                        "(%s; details in %s)", dir, job->name,
                        report_graph_format_name(job->fmt), first[0] ? first : "no message",
                        log_path);
}

/* ------------------------------------------------------------------------ */
/* A set of graphs                                                          */
/* ------------------------------------------------------------------------ */

/** Images, scripts and data an earlier report left in dir would be taken
 *  for this one's (the HTML embeds whatever SVG it finds). */
static void remove_previous_graphs(const char *dir,
                                   const report_graph_row *rows, size_t count)
{
    static const char *const extensions[] = {"png", "svg", "pdf", "gp", "dat"};
    char path[PATH_MAX];
    for (size_t i = 0; i < count; i++)
        for (size_t e = 0; e < sizeof extensions / sizeof *extensions; e++) {
            snprintf(path, sizeof path, "%s/%s.%s", dir, rows[i].desc.name,
                     extensions[e]);
            unlink(path);
        }
}

/** One graph's data files and its script NAME.gp. */
static rm_status write_graph(const char *dir, const report_graph_row *g,
                             const void *subject, rm_graph_format fmt,
                             rm_error *err)
{
    rm_status st = g->write_data(dir, subject, err);
    if (st != RM_OK)
        return st;
    rm_atomic_file rf;
    st = open_script(&rf, dir, &g->desc, fmt, err);
    if (st != RM_OK)
        return st;
    g->write_script(rf.f, subject);
    return rm_atomic_commit(&rf, err);
}

/** Graphs being drawn: each graph's gnuplot runs start as soon as its
 *  files are written, so gnuplot draws while the rest is written. */
struct report_graph_run {
    const char *dir;       /* the caller's, valid until finish */
    char gnuplot[PATH_MAX];
    bool gnuplot_found;
    gnuplot_job *jobs;
    size_t job_count;      /* started */
    size_t graphs, total;  /* graphs written, of all in the set */
    rm_status failed;      /* the first run that could not start */
    rm_error failure;
    uint64_t start_us;
};

static void start_job(report_graph_run *run, const char *name,
                      rm_graph_format fmt)
{
    gnuplot_job *job = &run->jobs[run->job_count];
    *job = (gnuplot_job){.name = name, .fmt = fmt};
    if (run->failed == RM_OK)
        run->failed = spawn_gnuplot(run->gnuplot, run->dir, job, &run->failure);
    if (run->failed == RM_OK)
        run->job_count++;
}

/** The runs drawing graph name in fmt and, for the HTML page, which embeds
 *  SVG whatever format was asked for, in SVG too. */
static void start_graph(report_graph_run *run, const char *name,
                        rm_graph_format fmt)
{
    run->graphs++;
    if (!run->gnuplot_found)
        return;
    start_job(run, name, fmt);
    if (fmt != RM_GRAPH_SVG)
        start_job(run, name, RM_GRAPH_SVG);
}

/** Data and script of every graph the subject can have, each drawn as
 *  soon as it is written. */
static rm_status write_graph_sources(report_graph_run *run,
                                     const report_graph_row *rows,
                                     size_t count, const void *subject,
                                     rm_graph_format fmt, rm_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (rows[i].missing_reason(subject))
            continue;
        rm_status st = write_graph(run->dir, &rows[i], subject, fmt, err);
        if (st != RM_OK)
            return st;
        start_graph(run, rows[i].desc.name, fmt);
    }
    return RM_OK;
}

static void note_missing_gnuplot(rm_graphs_result *res, const char *dir)
{
    snprintf(res->message, sizeof res->message,
             "gnuplot is not installed (not found in PATH): graphs not drawn; "
             "their scripts are in %s (install gnuplot, then run gnuplot "
             "NAME.gp there)", dir);
}

/** Wait for every run started; the first failure (to start one, or of a
 *  run) is reported, naming the script and its log. */
static rm_status wait_for_runs(report_graph_run *run, rm_graphs_result *res,
                               rm_error *err)
{
    rm_status first = run->failed;
    if (first != RM_OK && err)
        *err = run->failure;
    for (size_t i = 0; i < run->job_count; i++) {
        rm_error job_err;
        if (finish_gnuplot(run->dir, &run->jobs[i], &res->gnuplot_cpu_s,
                           &job_err) != RM_OK && first == RM_OK) {
            first = job_err.code;
            if (err)
                *err = job_err;
        }
    }
    res->gnuplot_s = (double)(rm_monotonic_us() - run->start_us) / 1e6;
    return first;
}

static void graph_run_free(report_graph_run *run)
{
    free(run->jobs);
    free(run);
}

rm_status report_graphs_finish(report_graph_run *run, rm_graphs_result *res,
                               rm_error *err)
{
    memset(res, 0, sizeof *res);
    res->gnuplot_found = run->gnuplot_found;
    rm_status st = RM_OK;
    if (!run->gnuplot_found)
        note_missing_gnuplot(res, run->dir);
    else
        st = wait_for_runs(run, res, err);
    if (st != RM_OK)
        snprintf(res->message, sizeof res->message, "gnuplot failed: %.200s",
                 err ? err->message : rm_strerror(st));
    else if (run->gnuplot_found) {
        res->rendered = run->graphs;
        snprintf(res->message, sizeof res->message,
                 "%zu of %zu graphs drawn in %s", run->graphs, run->total,
                 run->dir);
    }
    graph_run_free(run);
    return st;
}

static rm_status graph_run_new(const char *dir, size_t count,
                               report_graph_run **out, rm_error *err)
{
    report_graph_run *run = calloc(1, sizeof *run);
    if (run)
        run->jobs = calloc(2 * count + 1, sizeof *run->jobs);
    if (!run || !run->jobs) {
        free(run);
        return rm_error_set(err, RM_ERR_NOMEM, "%s: no memory for the graphs",
                            dir);
    }
    run->dir = dir;
    run->total = count;
    run->gnuplot_found = find_gnuplot(run->gnuplot, sizeof run->gnuplot);
    run->start_us = rm_monotonic_us();
    *out = run;
    return RM_OK;
}

rm_status report_graphs_start(const report_graph_row *rows, size_t count,
                              const void *subject, const char *dir,
                              rm_graph_format fmt, report_graph_run **out,
                              rm_error *err)
{
    *out = NULL;
    rm_status st = rm_make_dirs(dir, REPORT_DIR_MODE, err);
    if (st != RM_OK)
        return st;
    remove_previous_graphs(dir, rows, count);
    report_graph_run *run = NULL;
    st = graph_run_new(dir, count, &run, err);
    if (st == RM_OK)
        st = write_graph_sources(run, rows, count, subject, fmt, err);
    if (st != RM_OK && run) {
        rm_graphs_result ignored;
        report_graphs_finish(run, &ignored, NULL); /* reap what started */
        return st;
    }
    *out = run;
    return st;
}

rm_status report_render_graphs(const report_graph_row *rows, size_t count,
                               const void *subject, const char *dir,
                               rm_graph_format fmt, rm_graphs_result *res,
                               rm_error *err)
{
    report_graph_run *run;
    memset(res, 0, sizeof *res);
    rm_status st = report_graphs_start(rows, count, subject, dir, fmt, &run,
                                       err);
    return st == RM_OK ? report_graphs_finish(run, res, err) : st;
}
