/* INI files: "[section]" headers, "key = value" lines, whole-line comments
 * starting with '#' or ';'. Errors say "FILE:LINE: what". */
#include "rollmap_core.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rm_ini {
    char *name;
    char *text;                /* our copy, cut into the strings below */
    rm_ini_entry *entries;
    size_t entry_count, entry_cap;
    const char **sections;
    size_t section_count, section_cap;
};

static const char *const empty_section = "";

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

static bool grow(void **items, size_t *cap, size_t count, size_t item_size)
{
    if (count < *cap)
        return true;
    size_t next = *cap ? *cap * 2 : 16;
    void *grown = realloc(*items, next * item_size);
    if (!grown)
        return false;
    *items = grown;
    *cap = next;
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static const rm_ini_entry *find_entry(const rm_ini *ini, const char *section,
                                      const char *key)
{
    for (size_t i = 0; i < ini->entry_count; i++) {
        const rm_ini_entry *e = &ini->entries[i];
        if (!strcmp(e->section, section) && !strcmp(e->key, key))
            return e;
    }
    return NULL;
}

static rm_status add_section(rm_ini *ini, const char *name, rm_error *err)
{
    for (size_t i = 0; i < ini->section_count; i++)
        if (!strcmp(ini->sections[i], name))
            return RM_OK; /* a repeated header continues the section */
    if (!grow((void **)&ini->sections, &ini->section_cap, ini->section_count,
              sizeof *ini->sections))
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", ini->name);
    ini->sections[ini->section_count++] = name;
    return RM_OK;
}

static rm_status parse_section_header(rm_ini *ini, char *line, int lineno,
                                      const char **section, rm_error *err)
{
    char *close = strchr(line, ']');
    if (!close || *trim(close + 1) != '\0')
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s:%d: a section header must be '[name]' alone on "
                            "its line", ini->name, lineno);
    *close = '\0';
    char *name = trim(line + 1);
    if (!*name)
        return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: empty section name",
                            ini->name, lineno);
    *section = name;
    return add_section(ini, name, err);
}

static rm_status parse_assignment(rm_ini *ini, char *line, int lineno,
                                  const char *section, rm_error *err)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s:%d: expected 'key = value' or '[section]'",
                            ini->name, lineno);
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    if (!*key)
        return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: a value without a key",
                            ini->name, lineno);
    const rm_ini_entry *before = find_entry(ini, section, key);
    if (before)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "%s:%d: %s: set twice in [%s] (first on line %d)",
                            ini->name, lineno, key, section, before->line);
    if (!grow((void **)&ini->entries, &ini->entry_cap, ini->entry_count,
              sizeof *ini->entries))
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", ini->name);
    ini->entries[ini->entry_count++] =
        (rm_ini_entry){.section = section, .key = key, .value = value,
                       .line = lineno};
    return RM_OK;
}

static rm_status parse_lines(rm_ini *ini, rm_error *err)
{
    const char *section = empty_section;
    char *next = ini->text;
    for (int lineno = 1; next; lineno++) {
        char *line = next;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line = trim(line); /* also drops the CR of CRLF files */
        rm_status st = RM_OK;
        if (*line == '\0' || *line == '#' || *line == ';')
            continue;
        if (*line == '[')
            st = parse_section_header(ini, line, lineno, &section, err);
        else
            st = parse_assignment(ini, line, lineno, section, err);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}

rm_status rm_ini_parse(rm_ini **out, const char *text, const char *name,
                       rm_error *err)
{
    *out = NULL;
    rm_ini *ini = calloc(1, sizeof *ini);
    if (!ini)
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
    ini->name = strdup(name);
    ini->text = strdup(text);
    if (!ini->name || !ini->text) {
        rm_ini_free(ini);
        return rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
    }
    rm_status st = parse_lines(ini, err);
    if (st != RM_OK) {
        rm_ini_free(ini);
        return st;
    }
    *out = ini;
    return RM_OK;
}

static rm_status read_text_file(const char *path, char **text, rm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rm_error_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                            "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    rm_status st = RM_OK;
    for (;;) {
        if (len + 1 >= cap && !grow((void **)&buf, &cap, len + 1, 1)) {
            st = rm_error_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = rm_error_set(err, RM_ERR_IO, "%s: read failed: %s", path,
                                  strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st == RM_OK && memchr(buf, '\0', len))
        st = rm_error_set(err, RM_ERR_FORMAT,
                          "%s: offset %zu: a NUL byte; not a text file", path,
                          (size_t)((char *)memchr(buf, '\0', len) - buf));
    if (st != RM_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *text = buf;
    return RM_OK;
}

rm_status rm_ini_load(rm_ini **out, const char *path, rm_error *err)
{
    char *text = NULL;
    *out = NULL;
    rm_status st = read_text_file(path, &text, err);
    if (st != RM_OK)
        return st;
    st = rm_ini_parse(out, text, path, err);
    free(text);
    return st;
}

void rm_ini_free(rm_ini *ini)
{
    if (!ini)
        return;
    free(ini->name);
    free(ini->text);
    free(ini->entries);
    free(ini->sections);
    free(ini);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

const char *rm_ini_get(const rm_ini *ini, const char *section, const char *key)
{
    const rm_ini_entry *e = find_entry(ini, section, key);
    return e ? e->value : NULL;
}

int rm_ini_line(const rm_ini *ini, const char *section, const char *key)
{
    const rm_ini_entry *e = find_entry(ini, section, key);
    return e ? e->line : 0;
}

const char *rm_ini_name(const rm_ini *ini)
{
    return ini->name;
}

const rm_ini_entry *rm_ini_entries(const rm_ini *ini, size_t *n)
{
    *n = ini->entry_count;
    return ini->entries;
}

const char *const *rm_ini_sections(const rm_ini *ini, size_t *n)
{
    *n = ini->section_count;
    return ini->sections;
}

static rm_status bad_value(const rm_ini_entry *e, const rm_ini *ini,
                           const char *expected, rm_error *err)
{
    return rm_error_set(err, RM_ERR_FORMAT, "%s:%d: %s: '%s' is not %s",
                        ini->name, e->line, e->key, e->value, expected);
}

rm_status rm_ini_get_double(const rm_ini *ini, const char *section,
                            const char *key, double *out, rm_error *err)
{
    const rm_ini_entry *e = find_entry(ini, section, key);
    if (!e)
        return RM_ERR_NOT_FOUND;
    char *end;
    errno = 0;
    double v = strtod(e->value, &end);
    if (end == e->value || *end != '\0' || errno == ERANGE || !isfinite(v))
        return bad_value(e, ini, "a finite number", err);
    *out = v;
    return RM_OK;
}

rm_status rm_ini_get_long(const rm_ini *ini, const char *section,
                          const char *key, long *out, rm_error *err)
{
    const rm_ini_entry *e = find_entry(ini, section, key);
    if (!e)
        return RM_ERR_NOT_FOUND;
    /* decimal, or hexadecimal with 0x (USB ids); never octal */
    const char *digits = e->value;
    bool negative = *digits == '-';
    if (negative || *digits == '+')
        digits++;
    int base = 10;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        base = 16;
        digits += 2;
    }
    /* strtol would accept a sign, spaces or a second 0x here */
    if (!isalnum((unsigned char)digits[0]) || digits[1] == 'x' || digits[1] == 'X')
        return bad_value(e, ini, "a whole number", err);
    char *end;
    errno = 0;
    long v = strtol(digits, &end, base);
    if (*end != '\0' || errno == ERANGE)
        return bad_value(e, ini, "a whole number", err);
    *out = negative ? -v : v;
    return RM_OK;
}

