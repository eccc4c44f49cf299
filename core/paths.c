/* Per-user folders after the XDG base directory rules. */
#include "rollmap_core.h"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

static const char *home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && *home)
        return home;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_dir : NULL;
}

/* $var/rollmap/sub when var holds an absolute path (the XDG rules say to
 * ignore a relative one), else ~/fallback/rollmap/sub. */
static rm_status xdg_path(char *out, size_t cap, const char *var,
                          const char *fallback, const char *sub, rm_error *err)
{
    const char *base = getenv(var);
    const char *home = home_dir();
    const char *sep = *sub ? "/" : "";
    int n;
    if (base && base[0] == '/')
        n = snprintf(out, cap, "%s/rollmap%s%s", base, sep, sub);
    else if (home)
        n = snprintf(out, cap, "%s/%s/rollmap%s%s", home, fallback, sep, sub);
    else
        return rm_error_set(err, RM_ERR_NOT_FOUND,
                            "no home folder: neither %s nor HOME is set", var);
    if (n < 0 || (size_t)n >= cap)
        return rm_error_set(err, RM_ERR_ARG, "path under %s too long", var);
    return RM_OK;
}

rm_status rm_data_path(char *out, size_t cap, const char *sub, rm_error *err)
{
    return xdg_path(out, cap, "XDG_DATA_HOME", ".local/share", sub, err);
}

rm_status rm_config_path(char *out, size_t cap, const char *sub, rm_error *err)
{
    return xdg_path(out, cap, "XDG_CONFIG_HOME", ".config", sub, err);
}
