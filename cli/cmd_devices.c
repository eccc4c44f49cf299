/* rollmap devices: serial ports, which of them are rollers, and the
 * calibrations stored per device serial. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "devices"
/** Calibrations older than this are flagged stale (about six months). */
#define DEFAULT_STALE_DAYS 180
#define SECONDS_PER_DAY 86400

typedef struct devices_options {
    bool json;
    bool probe;
    long stale_days;
    char dir[4096];
} devices_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap devices [--json] [--no-probe] [--dir DIR]\n"
          "                       [--stale-days N] [--usb-id VID:PID]...\n\n"
          "List serial ports with their transport and USB details (VID:PID,\n"
          "manufacturer, product, serial number), ask each USB port whether\n"
          "it is a roller (identify -> INFO) and show what it reports, and\n"
          "list the calibrations stored per device serial.\n\n"
          "Options:\n"
          "  --json            machine-readable output\n"
          "  --no-probe        do not talk to the ports, only list them\n"
          "  --dir DIR         calibration folder (default\n"
          "                    $XDG_DATA_HOME/rollmap/calibration)\n"
          "  --stale-days N    flag calibrations older than N days (default "
          "180)\n"
          "  --usb-id VID:PID  also treat this USB id as a candidate roller\n"
          "                    (VID:* for every product of a vendor)\n"
          "  -h, --help        this help\n\n"
          "Example:\n"
          "  rollmap devices --json --no-probe\n", out);
}

static int parse_options(int argc, char **argv, devices_options *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"no-probe", no_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"stale-days", required_argument, NULL, 's'},
        {"usb-id", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rm_error err = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'j': o->json = true; break;
        case 'n': o->probe = false; break;
        case 'd': snprintf(o->dir, sizeof o->dir, "%s", optarg); break;
        case 's':
            o->stale_days = strtol(optarg, &end, 10);
            if (*end || !*optarg || o->stale_days < 0) {
                cli_fail(CMD, "--stale-days '%s': expected a number of days",
                         optarg);
                return CLI_USAGE;
            }
            break;
        case 'u':
            if (rm_usb_id_add(optarg, &err) != RM_OK) {
                cli_fail_error(CMD, &err);
                return CLI_USAGE;
            }
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    if (!o->dir[0] &&
        rm_default_calibration_dir(o->dir, sizeof o->dir, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    return CLI_OK;
}

static long age_days(int64_t date_unix, int64_t now_unix)
{
    return date_unix ? (long)((now_unix - date_unix) / SECONDS_PER_DAY) : -1;
}

/** Everything one listing shows. */
typedef struct listing {
    const devices_options *o;
    const rm_port_info *ports;
    size_t port_count;
    const rm_calibration_entry *cals;
    size_t cal_count;
    int64_t now_unix;
} listing;

static bool is_stale(const listing *l, const rm_calibration_entry *e)
{
    long age = age_days(e->date_unix, l->now_unix);
    return age < 0 || age > l->o->stale_days;
}

/** The stored calibration of a device serial, or NULL. */
static const rm_calibration_entry *stored_for(const listing *l,
                                              const char *serial)
{
    for (size_t i = 0; serial[0] && i < l->cal_count; i++)
        if (!strcmp(l->cals[i].serial, serial))
            return &l->cals[i];
    return NULL;
}

/** "2026-11-24" or "unknown". */
static void format_day(char out[32], int64_t date_unix)
{
    if (date_unix)
        rm_format_iso8601(out, date_unix * 1000000);
    else
        snprintf(out, 32, "unknown");
    out[10] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Text output                                                              */
/* ------------------------------------------------------------------------ */

static void print_stored(const listing *l, const rm_device_info *info)
{
    const rm_calibration_entry *e = stored_for(l, info->serial);
    if (!e) {
        puts("    calibration: none stored, the device's own is used");
        return;
    }
    char day[32];
    format_day(day, e->date_unix);
    printf("    calibration: stored %s, %ld days old%s\n", day,
           age_days(e->date_unix, l->now_unix),
           is_stale(l, e) ? "  STALE: calibrate again" : "");
}

static void print_roller(const listing *l, const rm_device_info *info)
{
    printf("    roller: %s %s, firmware %s, serial %s: %u channels at %u Hz",
           rm_device_kind_name((rm_device_kind)info->device_kind), info->model, info->firmware,
           info->serial[0] ? info->serial : "(none)", info->channel_count,
           info->sample_rate_hz);
    if (info->encoder_counts_per_turn)
        printf(", encoder %u counts/turn, %.0f mm roller",
               info->encoder_counts_per_turn, info->roller_diameter_mm);
    putchar('\n');
    print_stored(l, info);
}

static void print_port(const listing *l, const rm_port_info *p)
{
    printf("  %-16s %-9s", p->path, p->transport);
    if (!strcmp(p->transport, "usb"))
        printf(" %04x:%04x  %s / %s  serial %s%s", p->vid, p->pid,
               p->manufacturer[0] ? p->manufacturer : "?",
               p->product[0] ? p->product : "?",
               p->serial[0] ? p->serial : "(none)",
               p->known_id ? "  [known id]" : "");
    putchar('\n');
    if (p->is_roller)
        print_roller(l, &p->info);
    else if (p->problem[0])
        printf("    no roller: %s\n", p->problem);
}

static void print_text(const listing *l)
{
    printf("Serial ports (%zu):\n", l->port_count);
    for (size_t i = 0; i < l->port_count; i++)
        print_port(l, &l->ports[i]);
    if (l->port_count == 0)
        puts("  none found (see docs/DEVICES.md for permissions)");
    printf("\nStored calibrations in %s (%zu):\n", l->o->dir, l->cal_count);
    for (size_t i = 0; i < l->cal_count; i++) {
        const rm_calibration_entry *e = &l->cals[i];
        char day[32];
        format_day(day, e->date_unix);
        printf("  %-20s %-16s %s  %ld days old%s\n", e->serial,
               e->model[0] ? e->model : "?", day,
               age_days(e->date_unix, l->now_unix),
               is_stale(l, e) ? "  STALE: calibrate again" : "");
    }
}

/* ------------------------------------------------------------------------ */
/* JSON output                                                              */
/* ------------------------------------------------------------------------ */

static void json_hex4(rm_json_writer *w, const char *key, uint16_t value)
{
    char text[8];
    snprintf(text, sizeof text, "%04x", value);
    rm_json_key(w, key);
    rm_json_string(w, text);
}

/** serial, model, date, age_days, stale of a stored calibration. */
static void json_calibration(rm_json_writer *w, const listing *l,
                             const rm_calibration_entry *e)
{
    char date[32];
    rm_format_iso8601(date, e->date_unix * 1000000);
    rm_json_object_open(w);
    rm_json_member_string(w, "serial", e->serial);
    rm_json_member_string(w, "model", e->model);
    rm_json_key(w, "date");
    if (e->date_unix)
        rm_json_string(w, date);
    else
        rm_json_null(w);
    rm_json_key(w, "age_days");
    rm_json_int(w, age_days(e->date_unix, l->now_unix));
    rm_json_key(w, "stale");
    rm_json_bool(w, is_stale(l, e));
    rm_json_object_close(w);
}

static void json_roller(rm_json_writer *w, const listing *l,
                        const rm_device_info *info)
{
    rm_json_key(w, "info");
    rm_json_object_open(w);
    rm_json_member_string(w, "kind", rm_device_kind_name((rm_device_kind)info->device_kind));
    rm_json_member_string(w, "model", info->model);
    rm_json_member_string(w, "firmware", info->firmware);
    rm_json_member_string(w, "serial", info->serial);
    rm_json_key(w, "channels");
    rm_json_int(w, info->channel_count);
    rm_json_key(w, "sample_rate_hz");
    rm_json_int(w, info->sample_rate_hz);
    rm_json_key(w, "encoder_counts_per_turn");
    rm_json_int(w, info->encoder_counts_per_turn);
    rm_json_object_close(w);
    const rm_calibration_entry *e = stored_for(l, info->serial);
    rm_json_key(w, "calibration");
    if (e)
        json_calibration(w, l, e);
    else
        rm_json_null(w);
}

static void json_port(rm_json_writer *w, const listing *l,
                      const rm_port_info *p)
{
    rm_json_object_open(w);
    rm_json_member_string(w, "path", p->path);
    rm_json_member_string(w, "transport", p->transport);
    if (!strcmp(p->transport, "usb")) {
        json_hex4(w, "vid", p->vid);
        json_hex4(w, "pid", p->pid);
        rm_json_member_string(w, "manufacturer", p->manufacturer);
        rm_json_member_string(w, "product", p->product);
        rm_json_member_string(w, "serial", p->serial);
    }
    rm_json_key(w, "known_id");
    rm_json_bool(w, p->known_id);
    rm_json_key(w, "roller");
    rm_json_bool(w, p->is_roller);
    if (p->is_roller)
        json_roller(w, l, &p->info);
    if (p->problem[0])
        rm_json_member_string(w, "problem", p->problem);
    rm_json_object_close(w);
}

static void print_json(const listing *l)
{
    rm_json_writer w;
    rm_json_begin(&w, stdout, true);
    rm_json_object_open(&w);
    rm_json_key(&w, "probed");
    rm_json_bool(&w, l->o->probe);
    rm_json_key(&w, "ports");
    rm_json_array_open(&w);
    for (size_t i = 0; i < l->port_count; i++)
        json_port(&w, l, &l->ports[i]);
    rm_json_array_close(&w);
    rm_json_member_string(&w, "calibration_dir", l->o->dir);
    rm_json_key(&w, "stale_days");
    rm_json_int(&w, l->o->stale_days);
    rm_json_key(&w, "calibrations");
    rm_json_array_open(&w);
    for (size_t i = 0; i < l->cal_count; i++)
        json_calibration(&w, l, &l->cals[i]);
    rm_json_array_close(&w);
    rm_json_object_close(&w);
    rm_json_end(&w);
}

int cmd_devices(int argc, char **argv)
{
    devices_options o = {.probe = true, .stale_days = DEFAULT_STALE_DAYS};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rm_error err = {0};
    rm_port_info *ports;
    rm_calibration_entry *cals;
    listing l = {.o = &o, .now_unix = rm_wallclock_us() / 1000000};
    if (rm_ports_list(&ports, &l.port_count, o.probe, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    if (rm_calibration_list(o.dir, &cals, &l.cal_count, &err) != RM_OK) {
        rm_ports_free(ports);
        return cli_fail_error(CMD, &err);
    }
    l.ports = ports;
    l.cals = cals;
    if (o.json)
        print_json(&l);
    else
        print_text(&l);
    rm_calibration_list_free(cals);
    rm_ports_free(ports);
    return fflush(stdout) == 0 ? CLI_OK
                               : cli_fail(CMD, "cannot write the output");
}
