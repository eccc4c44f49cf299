/* Device profiles (docs/PROTOCOL.md, "Device profiles"): an INI file that
 * says what an INFO frame would say about a device that cannot send one,
 * plus how its text lines map to sample fields; or, for a binary-protocol
 * device, what its INFO says, for its files when it is not connected. */
#include "rollmap_hw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>

#define DEFAULT_BAUD 115200
#define MAX_SAMPLE_RATE_HZ 100000
#define MAX_BAUD 4000000
#define US_PER_S 1e6
#define MM_PER_CM 10.0

/* Keys a profile may use, per section; anything else is a typo to report. */
static const char *const device_keys[] = {
    "model", "firmware", "serial", "kind", "sample_rate_hz", "baud",
    "encoder_counts_per_turn", "roller_diameter_mm", "roller_width_mm",
    "distal_direction", "usb_vid", "usb_pid", "protocol", NULL};
static const char *const text_keys[] = {"separator", "columns", "time_unit",
                                        "skip_lines", NULL};
static const char *const csv_keys[] = {"columns", NULL};
static const char *const channel_keys[] = {"kind", "position_mm", "area_mm2",
                                           "gain_n_per_count", "offset_counts",
                                           NULL};

/* ------------------------------------------------------------------------ */
/* Sections and keys                                                        */
/* ------------------------------------------------------------------------ */

/* "ch1".."ch16" -> 1..16, else 0. */
static unsigned channel_number(const char *section)
{
    if (strncmp(section, "ch", 2) != 0 || section[2] < '1' || section[2] > '9')
        return 0;
    char *end;
    unsigned long n = strtoul(section + 2, &end, 10);
    return *end == '\0' && n <= RM_MAX_CHANNELS ? (unsigned)n : 0;
}

static const char *const *keys_of_section(const char *section)
{
    if (!strcmp(section, "device"))
        return device_keys;
    if (!strcmp(section, "text"))
        return text_keys;
    if (!strcmp(section, "csv"))
        return csv_keys;
    return channel_number(section) ? channel_keys : NULL;
}

static bool key_in(const char *const *keys, const char *key)
{
    for (; *keys; keys++)
        if (!strcmp(*keys, key))
            return true;
    return false;
}

static rm_status check_known_keys(const rm_ini *ini, rm_error *err)
{
    size_t n;
    const rm_ini_entry *e = rm_ini_entries(ini, &n);
    for (size_t i = 0; i < n; i++) {
        const char *const *keys = keys_of_section(e[i].section);
        if (!keys)
            return rm_error_set(err, RM_ERR_FORMAT,
                                "%s:%d: %s: not in [device], [text], [csv] or [ch1] "
                                "to [ch16]", rm_ini_name(ini), e[i].line,
                                e[i].key);
        if (!key_in(keys, e[i].key))
            return rm_error_set(err, RM_ERR_FORMAT,
                                "%s:%d: %s: unknown key in [%s]",
                                rm_ini_name(ini), e[i].line, e[i].key,
                                e[i].section);
    }
    return RM_OK;
}

static rm_status missing_key(const rm_ini *ini, const char *section,
                             const char *key, rm_error *err)
{
    return rm_error_set(err, RM_ERR_FORMAT, "%s: [%s] %s: missing",
                        rm_ini_name(ini), section, key);
}

static rm_status out_of_range(const rm_ini *ini, const char *section,
                              const char *key, const char *expected,
                              rm_error *err)
{
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: %s: '%s' is out of range "
                        "(expected %s)", rm_ini_name(ini),
                        rm_ini_line(ini, section, key), key,
                        rm_ini_get(ini, section, key), expected);
}

/* A number in [min, max]; absent leaves *out alone unless required. */
static rm_status get_number(const rm_ini *ini, const char *section,
                            const char *key, double min, double max,
                            bool required, double *out, rm_error *err)
{
    double v;
    rm_status st = rm_ini_get_double(ini, section, key, &v, err);
    if (st == RM_ERR_NOT_FOUND)
        return required ? missing_key(ini, section, key, err) : RM_OK;
    if (st != RM_OK)
        return st;
    if (v < min || v > max) {
        char expected[64];
        snprintf(expected, sizeof expected, "%g to %g", min, max);
        return out_of_range(ini, section, key, expected, err);
    }
    *out = v;
    return RM_OK;
}

/* A whole number in [min, max]: the same rules as get_number. */
static rm_status get_whole(const rm_ini *ini, const char *section,
                           const char *key, long min, long max, bool required,
                           long *out, rm_error *err)
{
    long v;
    rm_status st = rm_ini_get_long(ini, section, key, &v, err);
    if (st == RM_ERR_NOT_FOUND)
        return required ? missing_key(ini, section, key, err) : RM_OK;
    if (st != RM_OK)
        return st;
    if (v < min || v > max) {
        char expected[64];
        snprintf(expected, sizeof expected, "%ld to %ld", min, max);
        return out_of_range(ini, section, key, expected, err);
    }
    *out = v;
    return RM_OK;
}

/* One of words[] (case-insensitive); its index goes to *out. */
static rm_status get_word(const rm_ini *ini, const char *section,
                          const char *key, const char *const *words,
                          const char *expected, int *out, rm_error *err)
{
    const char *text = rm_ini_get(ini, section, key);
    if (!text)
        return RM_OK;
    for (int i = 0; words[i]; i++) {
        if (!strcasecmp(text, words[i])) {
            *out = i;
            return RM_OK;
        }
    }
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: %s: '%s' is not %s",
                        rm_ini_name(ini), rm_ini_line(ini, section, key), key,
                        text, expected);
}

static rm_status get_string(const rm_ini *ini, const char *section,
                            const char *key, char *out, size_t size,
                            rm_error *err)
{
    const char *text = rm_ini_get(ini, section, key);
    if (!text)
        return RM_OK;
    if (strlen(text) >= size)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s:%d: %s: longer than %zu characters",
                            rm_ini_name(ini), rm_ini_line(ini, section, key),
                            key, size - 1);
    strcpy(out, text);
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* [device]                                                                 */
/* ------------------------------------------------------------------------ */

static rm_status read_device_strings(rm_profile *p, const rm_ini *ini,
                                     rm_error *err)
{
    static const char *const kinds[] = {"roller", "ball", "probe", NULL};
    static const char *const protocols[] = {"text", "binary", NULL};
    rm_device_info *info = &p->info;
    if (!rm_ini_get(ini, "device", "model"))
        return missing_key(ini, "device", "model", err);
    int kind = RM_DEVICE_ROLLER;
    rm_status st = get_string(ini, "device", "model", info->model,
                              sizeof info->model, err);
    if (st == RM_OK)
        st = get_string(ini, "device", "firmware", info->firmware,
                        sizeof info->firmware, err);
    if (st == RM_OK)
        st = get_string(ini, "device", "serial", info->serial,
                        sizeof info->serial, err);
    if (st == RM_OK)
        st = get_word(ini, "device", "kind", kinds, "roller, ball or probe",
                      &kind, err);
    int protocol = 0;
    if (st == RM_OK)
        st = get_word(ini, "device", "protocol", protocols, "text or binary",
                      &protocol, err);
    info->device_kind = (uint8_t)kind;
    p->binary = protocol == 1;
    return st;
}

static rm_status read_device_numbers(rm_profile *p, const rm_ini *ini,
                                     rm_error *err)
{
    rm_device_info *info = &p->info;
    long rate = 0, baud = DEFAULT_BAUD, cpt = 0, distal = 1, vid = 0, pid = 0;
    double diameter = 0, width = 0;
    rm_status st = get_whole(ini, "device", "sample_rate_hz", 1,
                             MAX_SAMPLE_RATE_HZ, true, &rate, err);
    if (st == RM_OK)
        st = get_whole(ini, "device", "baud", 1, MAX_BAUD, false, &baud, err);
    if (st == RM_OK)
        st = get_whole(ini, "device", "encoder_counts_per_turn", 0, INT32_MAX,
                       false, &cpt, err);
    if (st == RM_OK)
        st = get_number(ini, "device", "roller_diameter_mm", 0, 1000, false,
                        &diameter, err);
    if (st == RM_OK)
        st = get_number(ini, "device", "roller_width_mm", 0, 2000, false,
                        &width, err);
    if (st == RM_OK)
        st = get_whole(ini, "device", "usb_vid", 0, UINT16_MAX, false, &vid, err);
    if (st == RM_OK)
        st = get_whole(ini, "device", "usb_pid", 0, UINT16_MAX, false, &pid, err);
    if (st == RM_OK)
        st = get_whole(ini, "device", "distal_direction", -1, 1, false,
                       &distal, err);
    if (st == RM_OK && distal == 0)
        st = out_of_range(ini, "device", "distal_direction", "+1 or -1", err);
    if (st == RM_OK && cpt > 0 && diameter <= 0)
        st = rm_error_set(err, RM_ERR_FORMAT,
                          "%s:%d: encoder_counts_per_turn: needs "
                          "roller_diameter_mm to map counts to positions",
                          rm_ini_name(ini),
                          rm_ini_line(ini, "device", "encoder_counts_per_turn"));
    info->sample_rate_hz = (uint32_t)rate;
    p->baud = (uint32_t)baud;
    info->encoder_counts_per_turn = (uint32_t)cpt;
    info->roller_diameter_mm = (float)diameter;
    info->roller_width_mm = (float)width;
    info->distal_direction = (int8_t)distal;
    info->usb_vid = (uint16_t)vid;
    info->usb_pid = (uint16_t)pid;
    return st;
}

/* ------------------------------------------------------------------------ */
/* [chN]                                                                    */
/* ------------------------------------------------------------------------ */

static rm_status read_channel(rm_channel_info *ch, const rm_ini *ini,
                              const char *section, rm_error *err)
{
    static const char *const kinds[] = {"load_cell", "pressure_cell", NULL};
    int kind = RM_CHANNEL_LOAD_CELL;
    double position = 0, area = 0, gain = 0, offset = 0;
    rm_status st = get_word(ini, section, "kind", kinds,
                            "load_cell or pressure_cell", &kind, err);
    if (st == RM_OK)
        st = get_number(ini, section, "position_mm", 0, 2000, false, &position,
                        err);
    if (st == RM_OK)
        st = get_number(ini, section, "area_mm2", 0, 1e6, false, &area, err);
    if (st == RM_OK)
        st = get_number(ini, section, "gain_n_per_count", -1e6, 1e6, true,
                        &gain, err);
    if (st == RM_OK)
        st = get_number(ini, section, "offset_counts", -1e9, 1e9, false,
                        &offset, err);
    if (st == RM_OK && gain == 0)
        st = out_of_range(ini, section, "gain_n_per_count", "a non-zero gain",
                          err);
    if (st == RM_OK && kind == RM_CHANNEL_PRESSURE_CELL && area <= 0)
        st = rm_error_set(err, RM_ERR_FORMAT,
                          "%s: [%s] area_mm2: a pressure_cell needs its "
                          "sensing area", rm_ini_name(ini), section);
    ch->kind = (uint8_t)kind;
    ch->position_mm = (float)position;
    ch->area_mm2 = (float)area;
    ch->gain_n_per_count = (float)gain;
    ch->offset_counts = (float)offset;
    return st;
}

/* Channels are the sections [ch1]..[chN] with no number missing. */
static rm_status read_channels(rm_profile *p, const rm_ini *ini, rm_error *err)
{
    size_t n;
    const char *const *sections = rm_ini_sections(ini, &n);
    unsigned count = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned number = channel_number(sections[i]);
        if (number > count)
            count = number;
    }
    for (unsigned c = 1; c <= count; c++) {
        char section[8];
        snprintf(section, sizeof section, "ch%u", c);
        if (!rm_ini_get(ini, section, "gain_n_per_count"))
            return missing_key(ini, section, "gain_n_per_count", err);
        rm_status st = read_channel(&p->info.channels[c - 1], ini, section, err);
        if (st != RM_OK)
            return st;
    }
    p->info.channel_count = (uint8_t)count;
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* [text]                                                                   */
/* ------------------------------------------------------------------------ */

static double time_scale_us(const rm_ini *ini, rm_status *st, rm_error *err)
{
    static const char *const units[] = {"us", "ms", "s", NULL};
    static const double scale[] = {1.0, 1000.0, US_PER_S};
    int unit = 1; /* Arduino's millis() */
    *st = get_word(ini, "text", "time_unit", units, "us, ms or s", &unit, err);
    return scale[unit];
}

/* Encoder counts per cm along the leg, signed so that positions grow
 * distally (docs/PROTOCOL.md, "Channel geometry"). */
static double counts_per_cm(const rm_device_info *info)
{
    double cm_per_turn = M_PI * info->roller_diameter_mm / MM_PER_CM;
    return (double)info->distal_direction * info->encoder_counts_per_turn /
           cm_per_turn;
}

static rm_status column_error(const rm_ini *ini, const char *name,
                              const char *why, rm_error *err)
{
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: columns: '%s' %s",
                        rm_ini_name(ini), rm_ini_line(ini, "text", "columns"),
                        name, why);
}

/* Parses one column name into col. */
static rm_status parse_column(rm_profile *p, const rm_ini *ini,
                              const char *name, double time_scale,
                              rm_profile_column *col, rm_error *err)
{
    static const struct { const char *name; uint8_t kind; } simple[] = {
        {"ignore", RM_COL_IGNORE}, {"-", RM_COL_IGNORE},
        {"encoder", RM_COL_ENCODER}, {"mark", RM_COL_MARK},
        {"time", RM_COL_TIME}, {"position_cm", RM_COL_POSITION_CM}};
    col->scale = 1.0;
    col->channel_index = 0;
    unsigned channel = channel_number(name);
    if (channel) {
        if (channel > p->info.channel_count)
            return column_error(ini, name, "has no [section] with its gain", err);
        col->kind = RM_COL_CHANNEL;
        col->channel_index = (uint8_t)(channel - 1);
        return RM_OK;
    }
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcasecmp(name, simple[i].name) != 0)
            continue;
        col->kind = simple[i].kind;
        if (col->kind == RM_COL_TIME)
            col->scale = time_scale;
        if (col->kind == RM_COL_POSITION_CM) {
            if (p->info.encoder_counts_per_turn == 0)
                return column_error(ini, name, "needs encoder_counts_per_turn "
                                    "and roller_diameter_mm in [device]", err);
            col->scale = counts_per_cm(&p->info);
        }
        return RM_OK;
    }
    return column_error(ini, name, "is not time, chN, encoder, position_cm, "
                        "mark or ignore", err);
}

/* Each of time, encoder/position_cm, mark and every channel at most once,
 * and every channel exactly once. */
static rm_status check_columns(const rm_profile *p, const rm_ini *ini,
                               rm_error *err)
{
    unsigned seen[RM_COL_MARK + 1] = {0}, channel_seen[RM_MAX_CHANNELS] = {0};
    for (unsigned i = 0; i < p->column_count; i++) {
        const rm_profile_column *c = &p->columns[i];
        if (c->kind == RM_COL_CHANNEL)
            channel_seen[c->channel_index]++;
        else
            seen[c->kind]++;
    }
    if (seen[RM_COL_TIME] > 1 || seen[RM_COL_MARK] > 1 ||
        seen[RM_COL_ENCODER] + seen[RM_COL_POSITION_CM] > 1)
        return column_error(ini, rm_ini_get(ini, "text", "columns"),
                            "names time, mark or the encoder twice", err);
    for (unsigned c = 0; c < p->info.channel_count; c++) {
        if (channel_seen[c] != 1) {
            char name[8];
            snprintf(name, sizeof name, "ch%u", c + 1);
            return column_error(ini, name, channel_seen[c] ? "appears twice"
                                : "has a [section] but no column", err);
        }
    }
    return RM_OK;
}

static rm_status read_columns(rm_profile *p, const rm_ini *ini, rm_error *err)
{
    const char *list = rm_ini_get(ini, "text", "columns");
    if (!list)
        return missing_key(ini, "text", "columns", err);
    rm_status st;
    double time_scale = time_scale_us(ini, &st, err);
    if (st != RM_OK)
        return st;
    char copy[512], *save = NULL;
    if (strlen(list) >= sizeof copy)
        return column_error(ini, "...", "is a list too long to be real", err);
    strcpy(copy, list);
    p->column_count = 0;
    for (char *name = strtok_r(copy, ", \t", &save); name;
         name = strtok_r(NULL, ", \t", &save)) {
        if (p->column_count == sizeof p->columns / sizeof p->columns[0])
            return column_error(ini, name, "is one column too many", err);
        st = parse_column(p, ini, name, time_scale,
                          &p->columns[p->column_count++], err);
        if (st != RM_OK)
            return st;
    }
    if (p->column_count == 0)
        return column_error(ini, list, "names no column", err);
    for (unsigned i = 0; i < p->column_count; i++)
        p->has_time_column |= p->columns[i].kind == RM_COL_TIME;
    return check_columns(p, ini, err);
}

static rm_status read_text_format(rm_profile *p, const rm_ini *ini,
                                  rm_error *err)
{
    static const char *const separators[] = {"comma", "semicolon",
                                             "whitespace", NULL};
    static const char separator_chars[] = {',', ';', 0};
    int sep = 0;
    long skip = 0;
    rm_status st = get_word(ini, "text", "separator", separators,
                            "comma, semicolon or whitespace", &sep, err);
    if (st == RM_OK)
        st = get_whole(ini, "text", "skip_lines", 0, 1000, false, &skip, err);
    p->separator = separator_chars[sep];
    p->skip_lines = (uint32_t)skip;
    return st == RM_OK ? read_columns(p, ini, err) : st;
}

/* ------------------------------------------------------------------------ */
/* [csv]                                                                    */
/* ------------------------------------------------------------------------ */

static bool has_section(const rm_ini *ini, const char *name)
{
    size_t n;
    const char *const *sections = rm_ini_sections(ini, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sections[i], name))
            return true;
    return false;
}

static rm_status read_csv_columns(rm_profile *p, const rm_ini *ini, rm_error *err)
{
    const char *list = rm_ini_get(ini, "csv", "columns");
    if (!list)
        return missing_key(ini, "csv", "columns", err);
    rm_error why;
    if (rm_csv_column_map_parse(&p->csv_columns, list, &why) != RM_OK)
        return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: columns: %s", rm_ini_name(ini),
                            rm_ini_line(ini, "csv", "columns"), why.message);
    return RM_OK;
}

/* [text] and [csv] are each optional, but a text device's profile has at
 * least one; a binary-protocol device has no text lines. */
static rm_status read_formats(rm_profile *p, const rm_ini *ini, rm_error *err)
{
    bool text = has_section(ini, "text"), csv = has_section(ini, "csv");
    if (text && p->binary)
        return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: protocol: a binary "
                            "device sends frames, not the lines [text] describes",
                            rm_ini_name(ini), rm_ini_line(ini, "device", "protocol"));
    rm_status st = RM_OK;
    if (text || (!csv && !p->binary))
        st = read_text_format(p, ini, err);
    if (st == RM_OK && csv)
        st = read_csv_columns(p, ini, err);
    return st;
}

/* ------------------------------------------------------------------------ */

rm_status rm_profile_from_ini(rm_profile *p, const rm_ini *ini, rm_error *err)
{
    memset(p, 0, sizeof *p);
    rm_status st = check_known_keys(ini, err);
    if (st == RM_OK)
        st = read_device_strings(p, ini, err);
    if (st == RM_OK)
        st = read_device_numbers(p, ini, err);
    if (st == RM_OK)
        st = read_channels(p, ini, err);
    if (st == RM_OK)
        st = read_formats(p, ini, err);
    if (st != RM_OK)
        return st;
    rm_device_info_default_calibration(&p->info);
    for (unsigned i = 0; i < p->info.channel_count; i++)
        strcpy(p->info.channels[i].cal.origin, "profile");
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Finding a profile by name                                                */
/* ------------------------------------------------------------------------ */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name or dir/name.ini when one is a file. */
static bool find_in(char *out, size_t cap, const char *dir, const char *name)
{
    static const char *const suffixes[] = {"", ".ini"};
    for (size_t i = 0; i < 2; i++) {
        int n = snprintf(out, cap, "%s/%s%s", dir, name, suffixes[i]);
        if (n > 0 && (size_t)n < cap && is_file(out))
            return true;
    }
    return false;
}

/* The profiles installed beside the programs: ROLLMAP_PROFILES_FROM_BIN
 * (from CMake) is relative to the folder of the running program, so the
 * lookup follows whatever prefix the programs were installed under. */
static bool installed_profiles_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int len = snprintf(out, cap, "%s/%s", exe, ROLLMAP_PROFILES_FROM_BIN);
    return len > 0 && (size_t)len < cap;
}

rm_status rm_profile_find(char *out, size_t cap, const char *name, rm_error *err)
{
    char user_dir[PATH_MAX] = "", installed_dir[PATH_MAX] = "";
    bool bare = strchr(name, '/') == NULL;
    if (is_file(name) || !bare) {
        snprintf(out, cap, "%s", name);
        return RM_OK; /* a path: rm_ini_load names it if it cannot be read */
    }
    if (rm_default_profiles_dir(user_dir, sizeof user_dir, NULL) == RM_OK &&
        find_in(out, cap, user_dir, name))
        return RM_OK;
    if (installed_profiles_dir(installed_dir, sizeof installed_dir) &&
        find_in(out, cap, installed_dir, name))
        return RM_OK;
    return rm_error_set(err, RM_ERR_NOT_FOUND, "profile '%s': no such file here, "
                        "in %s or in %s", name, user_dir[0] ? user_dir : "(no home)",
                        installed_dir[0] ? installed_dir : "(installed profiles)");
}

rm_status rm_profile_load(rm_profile *p, const char *path, rm_error *err)
{
    char found[PATH_MAX];
    rm_status st = rm_profile_find(found, sizeof found, path, err);
    if (st != RM_OK)
        return st;
    rm_ini *ini;
    st = rm_ini_load(&ini, found, err);
    if (st != RM_OK)
        return st;
    st = rm_profile_from_ini(p, ini, err);
    rm_ini_free(ini);
    return st;
}
