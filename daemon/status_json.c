/* The STATUS line of the live socket (docs/LIVE.md): what rollmapd reports
 * about itself, as JSON members. */
#include "server_internal.h"

#include <math.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Which calibration the newtons come from, and what is wrong with it. */
static void write_calibration(rm_json_writer *w, const rm_calibration_status *c)
{
    rm_json_key(w, "calibration");
    rm_json_object_open(w);
    rm_json_key(w, "state");
    rm_json_string(w, rm_calibration_state_name((rm_calibration_state)c->state));
    if (c->date_unix > 0) {
        char made[32];
        rm_format_iso8601(made, c->date_unix * 1000000);
        rm_json_key(w, "date");
        rm_json_string(w, made);
        rm_json_key(w, "age_days");
        rm_json_int(w, c->age_days);
    }
    if (c->problem[0]) {
        rm_json_key(w, "problem");
        rm_json_string(w, c->problem);
    }
    rm_json_object_close(w);
}

static void write_device(rm_json_writer *w, const rm_daemon_status *st)
{
    rm_json_key(w, "device");
    rm_json_object_open(w);
    rm_json_key(w, "connected");
    rm_json_bool(w, st->device_connected);
    if (st->device_connected) {
        const rm_device_info *d = &st->device;
        rm_json_key(w, "model");
        rm_json_string(w, d->model);
        rm_json_key(w, "serial");
        rm_json_string(w, d->serial);
        rm_json_key(w, "firmware");
        rm_json_string(w, d->firmware);
        rm_json_key(w, "kind");
        rm_json_string(w, rm_device_kind_name((rm_device_kind)d->device_kind));
        rm_json_key(w, "sample_rate_hz");
        rm_json_int(w, d->sample_rate_hz);
        rm_json_key(w, "channels");
        rm_json_int(w, d->channel_count);
        write_calibration(w, &st->calibration);
    }
    rm_json_object_close(w);
}

static void write_session(rm_json_writer *w, const rm_daemon_status *st)
{
    rm_json_key(w, "session");
    rm_json_object_open(w);
    rm_json_key(w, "recording");
    rm_json_bool(w, st->recording);
    if (st->recording) {
        const rm_session_meta *m = &st->session;
        rm_json_key(w, "id");
        rm_json_string(w, m->session_id);
        rm_json_key(w, "client");
        rm_json_string(w, m->client);
        rm_json_key(w, "side");
        rm_json_string(w, rm_side_name((rm_side)m->side));
        rm_json_key(w, "muscle");
        rm_json_string(w, m->muscle);
        if (m->start_unix_us > 0) {
            char started[32];
            rm_format_iso8601(started, m->start_unix_us);
            rm_json_key(w, "started");
            rm_json_string(w, started);
        }
        rm_json_key(w, "path");
        rm_json_string(w, st->session_path);
        rm_json_key(w, "samples");
        rm_json_int(w, (int64_t)st->samples_recorded);
    }
    rm_json_object_close(w);
}

static void write_counters(rm_json_writer *w, const rm_daemon_status *st)
{
    rm_json_key(w, "rates");
    rm_json_object_open(w);
    rm_json_key(w, "nominal_hz");
    rm_json_int(w, st->device_connected ? st->device.sample_rate_hz : 0);
    rm_json_key(w, "measured_hz");
    rm_json_number(w, daemon_round_hundredths(st->measured_rate_hz));
    rm_json_object_close(w);
    rm_json_key(w, "samples_received");
    rm_json_int(w, (int64_t)st->samples_received);
    rm_json_key(w, "drops");
    rm_json_object_open(w);
    rm_json_key(w, "ring");
    rm_json_int(w, (int64_t)st->ring_dropped);
    rm_json_key(w, "frames_lost");
    rm_json_int(w, (int64_t)st->frames_lost);
    rm_json_object_close(w);
    rm_json_key(w, "crc_errors");
    rm_json_int(w, (int64_t)st->crc_errors);
}

static void write_library(rm_json_writer *w, const rm_daemon_status *st,
                          const rm_disk_space *disk)
{
    rm_json_key(w, "library");
    rm_json_object_open(w);
    rm_json_key(w, "path");
    rm_json_string(w, st->library_dir);
    if (disk->known) {
        rm_json_key(w, "free_bytes");
        rm_json_int(w, disk->free_bytes);
        rm_json_key(w, "total_bytes");
        rm_json_int(w, disk->total_bytes);
    }
    rm_json_key(w, "database");
    rm_json_string(w, st->library_db);
    rm_json_key(w, "waiting");
    rm_json_int(w, (int64_t)st->indexing.waiting);
    rm_json_key(w, "unchecked");
    rm_json_int(w, (int64_t)st->indexing.unchecked);
    rm_json_key(w, "uploads");
    rm_json_bool(w, st->indexing.uploads);
    rm_json_key(w, "problem");
    rm_json_string(w, st->indexing.problem);
    rm_json_object_close(w);
}

rm_disk_space daemon_disk_space_measure(const char *dir)
{
    struct statvfs fs;
    if (!dir[0] || statvfs(dir, &fs) != 0)
        return (rm_disk_space){.known = false};
    return (rm_disk_space){
        .known = true,
        .free_bytes = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize,
        .total_bytes = (int64_t)fs.f_blocks * (int64_t)fs.f_frsize};
}

void daemon_status_json_members(rm_json_writer *w, const rm_daemon_status *st,
                                size_t clients, const rm_disk_space *disk)
{
    rm_json_key(w, "release");
    rm_json_string(w, RM_VERSION_STRING);
    rm_json_key(w, "pid");
    rm_json_int(w, getpid());
    rm_json_key(w, "uptime_s");
    rm_json_number(w, st->started_unix_us
                          ? daemon_round_hundredths((double)(rm_wallclock_us() -
                                                         st->started_unix_us) / 1e6)
                          : NAN);
    rm_json_key(w, "clients");
    rm_json_int(w, (int64_t)clients);
    rm_json_key(w, "source");
    rm_json_string(w, st->source);
    write_device(w, st);
    write_session(w, st);
    write_counters(w, st);
    write_library(w, st, disk);
}
