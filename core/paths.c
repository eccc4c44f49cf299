/* Every default location rollmap uses, after the XDG base directory rules:
 * the one place to look for (or change) where a file goes by default. */
#include "rollmap_core.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && *home)
        return home;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_dir : NULL;
}

static rm_status path_fits(char *out, size_t cap, int n, const char *what,
                           rm_error *err)
{
    if (n >= 0 && (size_t)n < cap)
        return RM_OK;
    out[0] = '\0';
    return rm_error_set(err, RM_ERR_ARG, "path under %s too long", what);
}

/* $var/rollmap/sub when var holds an absolute path (the XDG rules say to
 * ignore a relative one), else ~/fallback/rollmap/sub. */
static rm_status xdg_path(char *out, size_t cap, const char *var,
                          const char *fallback, const char *sub, rm_error *err)
{
    const char *base = getenv(var);
    const char *home = home_dir();
    if (base && base[0] == '/')
        return path_fits(out, cap, snprintf(out, cap, "%s/rollmap/%s", base, sub),
                         var, err);
    if (home)
        return path_fits(out, cap, snprintf(out, cap, "%s/%s/rollmap/%s", home,
                                            fallback, sub), var, err);
    out[0] = '\0';
    return rm_error_set(err, RM_ERR_NOT_FOUND,
                        "no home folder: neither %s nor HOME is set", var);
}

static rm_status data_path(char *out, size_t cap, const char *sub, rm_error *err)
{
    return xdg_path(out, cap, "XDG_DATA_HOME", ".local/share", sub, err);
}

static rm_status config_path(char *out, size_t cap, const char *sub,
                             rm_error *err)
{
    return xdg_path(out, cap, "XDG_CONFIG_HOME", ".config", sub, err);
}

rm_status rm_default_cache_dir(char *out, size_t cap, rm_error *err)
{
    return xdg_path(out, cap, "XDG_CACHE_HOME", ".cache", "sessions", err);
}

rm_status rm_default_config_path(char *out, size_t cap, rm_error *err)
{
    return config_path(out, cap, "rollmapd.conf", err);
}

rm_status rm_default_web_password_path(char *out, size_t cap, rm_error *err)
{
    return config_path(out, cap, "web-password", err);
}

rm_status rm_default_profiles_dir(char *out, size_t cap, rm_error *err)
{
    return config_path(out, cap, "profiles", err);
}

rm_status rm_default_library_dir(char *out, size_t cap, rm_error *err)
{
    return data_path(out, cap, "sessions", err);
}

rm_status rm_default_library_db(char *out, size_t cap, rm_error *err)
{
    const char *chosen = getenv("ROLLMAP_LIBRARY_DB");
    if (chosen && chosen[0])
        return path_fits(out, cap, snprintf(out, cap, "%s", chosen),
                         "ROLLMAP_LIBRARY_DB", err);
    return data_path(out, cap, "library.db", err);
}

rm_status rm_default_calibration_dir(char *out, size_t cap, rm_error *err)
{
    return data_path(out, cap, "calibration", err);
}

/* The XDG rules ignore a relative $XDG_RUNTIME_DIR; one that names no
 * folder (a login without a session manager, `su`, a service started
 * before the user's runtime folder) is no use either. */
static bool usable_runtime_dir(const char *dir)
{
    struct stat st;
    return dir && dir[0] == '/' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

rm_status rm_default_socket_path(char *out, size_t cap, rm_error *err)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (usable_runtime_dir(runtime))
        return path_fits(out, cap, snprintf(out, cap, "%s/rollmap/rollmapd.sock",
                                            runtime), "XDG_RUNTIME_DIR", err);
    return path_fits(out, cap, snprintf(out, cap, "/tmp/rollmap-%u/rollmapd.sock",
                                        (unsigned)getuid()), "/tmp", err);
}
