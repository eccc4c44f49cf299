/*
 * JSON: a streaming writer (rm_json_begin ... rm_json_end) and a strict
 * RFC 8259 parser that builds a small tree.
 *
 * The writer escapes quotes, backslashes and control characters, passes
 * valid UTF-8 through and replaces invalid bytes with U+FFFD, and prints
 * numbers with the fewest digits that read back to the same double.
 * The parser limits nesting depth and input size and names the byte offset
 * of every error.
 */
#include "rollmap_core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence starting at s (at most len bytes), or
 * 0 when it is not valid (overlong, surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    static const uint32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* Encode code point cp (<= U+10FFFF, not a surrogate) as UTF-8; returns the
 * number of bytes written to out (room for 4). */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

static int comma_slot(const rm_json_writer *w)
{
    if (w->depth < 0)
        return 0;
    return w->depth < RM_JSON_WRITER_DEPTH ? w->depth : RM_JSON_WRITER_DEPTH - 1;
}

static void write_indent(rm_json_writer *w)
{
    fputc('\n', w->out);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->out);
}

/* Separator and indentation before a value or a key. */
static void before_item(rm_json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    int slot = comma_slot(w);
    if (w->need_comma[slot])
        fputc(',', w->out);
    if (w->pretty && w->depth > 0)
        write_indent(w);
    w->need_comma[slot] = true;
}

void rm_json_begin(rm_json_writer *w, FILE *out, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->pretty = pretty;
}

static void open_container(rm_json_writer *w, char bracket)
{
    before_item(w);
    fputc(bracket, w->out);
    w->depth++;
    w->need_comma[comma_slot(w)] = false;
}

static void close_container(rm_json_writer *w, char bracket)
{
    bool had_items = w->need_comma[comma_slot(w)];
    if (w->depth > 0)
        w->depth--;
    if (w->pretty && had_items)
        write_indent(w);
    fputc(bracket, w->out);
}

void rm_json_object_open(rm_json_writer *w) { open_container(w, '{'); }
void rm_json_object_close(rm_json_writer *w) { close_container(w, '}'); }
void rm_json_array_open(rm_json_writer *w) { open_container(w, '['); }
void rm_json_array_close(rm_json_writer *w) { close_container(w, ']'); }

static void write_escaped(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    fputc('"', out);
    while (left > 0) {
        unsigned char c = *p;
        size_t n = 1;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20) {
                fprintf(out, "\\u%04x", c);
            } else {
                n = utf8_sequence_length(p, left);
                if (n == 0) {
                    fputs("\\ufffd", out); /* replacement character */
                    n = 1;
                } else {
                    fwrite(p, 1, n, out);
                }
            }
        }
        p += n;
        left -= n;
    }
    fputc('"', out);
}

void rm_json_key(rm_json_writer *w, const char *key)
{
    before_item(w);
    write_escaped(w->out, key);
    fputs(w->pretty ? ": " : ":", w->out);
    w->after_key = true;
}

void rm_json_string(rm_json_writer *w, const char *s)
{
    if (!s) {
        rm_json_null(w);
        return;
    }
    before_item(w);
    write_escaped(w->out, s);
}

/* Shortest "%.*g" text that reads back as exactly v: 15 significant digits
 * always survive a round trip through a double, 17 always suffice. */
static void format_shortest(char *buf, size_t size, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void rm_json_number(rm_json_writer *w, double v)
{
    if (!isfinite(v)) {
        rm_json_null(w);
        return;
    }
    char buf[40];
    format_shortest(buf, sizeof buf, v);
    before_item(w);
    fputs(buf, w->out);
}

void rm_json_int(rm_json_writer *w, int64_t v)
{
    before_item(w);
    fprintf(w->out, "%lld", (long long)v);
}

void rm_json_bool(rm_json_writer *w, bool v)
{
    before_item(w);
    fputs(v ? "true" : "false", w->out);
}

void rm_json_null(rm_json_writer *w)
{
    before_item(w);
    fputs("null", w->out);
}

void rm_json_member_string(rm_json_writer *w, const char *key, const char *s)
{
    rm_json_key(w, key);
    rm_json_string(w, s);
}

void rm_json_member_number(rm_json_writer *w, const char *key, double v)
{
    rm_json_key(w, key);
    rm_json_number(w, v);
}

void rm_json_member_int(rm_json_writer *w, const char *key, int64_t v)
{
    rm_json_key(w, key);
    rm_json_int(w, v);
}

void rm_json_member_bool(rm_json_writer *w, const char *key, bool v)
{
    rm_json_key(w, key);
    rm_json_bool(w, v);
}

void rm_json_end(rm_json_writer *w)
{
    if (w->pretty)
        fputc('\n', w->out);
    fflush(w->out);
}

/* ------------------------------------------------------------------------ */
/* Tree                                                                     */
/* ------------------------------------------------------------------------ */

struct rm_json {
    rm_json_type type;
    union {
        bool boolean;
        double number;
        struct {
            char *text;     /* NUL-terminated; may hold \u0000 inside */
            size_t len;
        } string;
        struct {
            rm_json **items;
            char **keys;    /* objects only, one per item */
            size_t count, cap;
        } list;
    } as;
};

void rm_json_free(rm_json *v)
{
    if (!v)
        return;
    if (v->type == RM_JSON_STRING) {
        free(v->as.string.text);
    } else if (v->type == RM_JSON_ARRAY || v->type == RM_JSON_OBJECT) {
        for (size_t i = 0; i < v->as.list.count; i++) {
            rm_json_free(v->as.list.items[i]);
            if (v->as.list.keys)
                free(v->as.list.keys[i]);
        }
        free(v->as.list.items);
        free(v->as.list.keys);
    }
    free(v);
}

rm_json_type rm_json_type_of(const rm_json *v)
{
    return v ? v->type : RM_JSON_NULL;
}

static bool is_list(const rm_json *v)
{
    return v && (v->type == RM_JSON_ARRAY || v->type == RM_JSON_OBJECT);
}

const rm_json *rm_json_get(const rm_json *obj, const char *key)
{
    if (!obj || obj->type != RM_JSON_OBJECT)
        return NULL;
    /* Search from the end: with duplicate keys the last one wins. */
    for (size_t i = obj->as.list.count; i-- > 0;)
        if (!strcmp(obj->as.list.keys[i], key))
            return obj->as.list.items[i];
    return NULL;
}

size_t rm_json_length(const rm_json *v)
{
    return is_list(v) ? v->as.list.count : 0;
}

const rm_json *rm_json_at(const rm_json *v, size_t i)
{
    return is_list(v) && i < v->as.list.count ? v->as.list.items[i] : NULL;
}

const char *rm_json_key_at(const rm_json *obj, size_t i)
{
    if (!obj || obj->type != RM_JSON_OBJECT || i >= obj->as.list.count)
        return NULL;
    return obj->as.list.keys[i];
}

double rm_json_as_number(const rm_json *v, double fallback)
{
    return v && v->type == RM_JSON_NUMBER ? v->as.number : fallback;
}

const char *rm_json_as_string(const rm_json *v, const char *fallback)
{
    return v && v->type == RM_JSON_STRING ? v->as.string.text : fallback;
}

bool rm_json_as_bool(const rm_json *v, bool fallback)
{
    return v && v->type == RM_JSON_BOOL ? v->as.boolean : fallback;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct parser {
    const char *text;
    size_t len, pos;
    int depth;
    rm_error *err;
} parser;

static rm_status parse_value(parser *p, rm_json **out);

static rm_status fail_at(parser *p, size_t offset, const char *what)
{
    return rm_error_set(p->err, RM_ERR_FORMAT, "byte %zu: %s", offset, what);
}

static void skip_whitespace(parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static int peek(const parser *p)
{
    return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static rm_json *new_node(rm_json_type type)
{
    rm_json *v = calloc(1, sizeof *v);
    if (v)
        v->type = type;
    return v;
}

static rm_status out_of_memory(parser *p)
{
    return rm_error_set(p->err, RM_ERR_NOMEM, "byte %zu: out of memory",
                        p->pos);
}

static rm_status parse_literal(parser *p, rm_json **out)
{
    static const struct {
        const char *word;
        rm_json_type type;
        bool value;
    } literals[] = {
        {"true", RM_JSON_BOOL, true},
        {"false", RM_JSON_BOOL, false},
        {"null", RM_JSON_NULL, false},
    };
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i].word);
        if (p->len - p->pos >= n && !memcmp(p->text + p->pos, literals[i].word, n)) {
            rm_json *v = new_node(literals[i].type);
            if (!v)
                return out_of_memory(p);
            v->as.boolean = literals[i].value;
            p->pos += n;
            *out = v;
            return RM_OK;
        }
    }
    return fail_at(p, p->pos, "expected a value");
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static void skip_digits(parser *p)
{
    while (is_digit(peek(p)))
        p->pos++;
}

/* Number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static rm_status parse_number(parser *p, rm_json **out)
{
    size_t start = p->pos;
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0')
        p->pos++;
    else if (is_digit(peek(p)))
        skip_digits(p);
    else
        return fail_at(p, p->pos, "expected a digit in a number");
    if (peek(p) == '.') {
        p->pos++;
        if (!is_digit(peek(p)))
            return fail_at(p, p->pos, "expected a digit after '.' in a number");
        skip_digits(p);
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!is_digit(peek(p)))
            return fail_at(p, p->pos, "expected a digit in a number's exponent");
        skip_digits(p);
    }
    char buf[512];
    size_t n = p->pos - start;
    if (n >= sizeof buf)
        return fail_at(p, start, "number too long");
    memcpy(buf, p->text + start, n);
    buf[n] = '\0';
    errno = 0;
    double value = strtod(buf, NULL);
    if (errno == ERANGE && isinf(value))
        return fail_at(p, start, "number out of range");
    rm_json *v = new_node(RM_JSON_NUMBER);
    if (!v)
        return out_of_memory(p);
    v->as.number = value;
    *out = v;
    return RM_OK;
}

/* A growable byte buffer for string contents. */
typedef struct text_buffer {
    char *data;
    size_t len, cap;
} text_buffer;

static bool buffer_add(text_buffer *b, const char *bytes, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return false;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u" at p->pos; advances past them. */
static rm_status parse_hex4(parser *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(peek(p));
        if (h < 0)
            return fail_at(p, p->pos, "expected 4 hex digits after \\u");
        v = v << 4 | (uint32_t)h;
        p->pos++;
    }
    *out = v;
    return RM_OK;
}

/* p->pos is just after "\u": read one code point, joining a surrogate pair. */
static rm_status parse_unicode_escape(parser *p, uint32_t *cp)
{
    size_t start = p->pos - 2;
    rm_status st = parse_hex4(p, cp);
    if (st != RM_OK)
        return st;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return fail_at(p, start, "unpaired low surrogate in \\u escape");
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return RM_OK;
    if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
        return fail_at(p, start, "high surrogate not followed by a low one");
    p->pos += 2;
    uint32_t low;
    st = parse_hex4(p, &low);
    if (st != RM_OK)
        return st;
    if (low < 0xDC00 || low > 0xDFFF)
        return fail_at(p, start, "high surrogate not followed by a low one");
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    return RM_OK;
}

/* p->pos is just after a backslash: append the escaped character to b. */
static rm_status parse_escape(parser *p, text_buffer *b)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    int c = peek(p);
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (hit) {
        p->pos++;
        return buffer_add(b, &to[hit - from], 1) ? RM_OK : out_of_memory(p);
    }
    if (c != 'u')
        return fail_at(p, p->pos - 1, "invalid escape in a string");
    p->pos++;
    uint32_t cp;
    rm_status st = parse_unicode_escape(p, &cp);
    if (st != RM_OK)
        return st;
    char utf8[4];
    return buffer_add(b, utf8, utf8_encode(cp, utf8)) ? RM_OK : out_of_memory(p);
}

/* Reads a string whose opening quote is at p->pos into b. */
static rm_status parse_string_into(parser *p, text_buffer *b)
{
    size_t start = p->pos++;
    if (!buffer_add(b, "", 0))
        return out_of_memory(p);
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return fail_at(p, start, "string not terminated");
        if (c == '"') {
            p->pos++;
            return RM_OK;
        }
        if (c == '\\') {
            p->pos++;
            rm_status st = parse_escape(p, b);
            if (st != RM_OK)
                return st;
            continue;
        }
        if (c < 0x20)
            return fail_at(p, p->pos, "control character in a string");
        size_t n = utf8_sequence_length((const unsigned char *)p->text + p->pos,
                                        p->len - p->pos);
        if (n == 0)
            return fail_at(p, p->pos, "invalid UTF-8 in a string");
        if (!buffer_add(b, p->text + p->pos, n))
            return out_of_memory(p);
        p->pos += n;
    }
}

static rm_status parse_string(parser *p, rm_json **out)
{
    text_buffer b = {0};
    rm_status st = parse_string_into(p, &b);
    rm_json *v = st == RM_OK ? new_node(RM_JSON_STRING) : NULL;
    if (st == RM_OK && !v)
        st = out_of_memory(p);
    if (st != RM_OK) {
        free(b.data);
        return st;
    }
    v->as.string.text = b.data;
    v->as.string.len = b.len;
    *out = v;
    return RM_OK;
}

/* Append item (and key, for objects) to a list node; takes ownership. */
static bool list_add(rm_json *list, char *key, rm_json *item)
{
    if (list->as.list.count == list->as.list.cap) {
        size_t cap = list->as.list.cap ? list->as.list.cap * 2 : 4;
        rm_json **items = realloc(list->as.list.items, cap * sizeof *items);
        if (!items)
            return false;
        list->as.list.items = items;
        if (list->type == RM_JSON_OBJECT) {
            char **keys = realloc(list->as.list.keys, cap * sizeof *keys);
            if (!keys)
                return false;
            list->as.list.keys = keys;
        }
        list->as.list.cap = cap;
    }
    list->as.list.items[list->as.list.count] = item;
    if (list->type == RM_JSON_OBJECT)
        list->as.list.keys[list->as.list.count] = key;
    list->as.list.count++;
    return true;
}

/* One "key": value member of an object, added to obj. */
static rm_status parse_member(parser *p, rm_json *obj)
{
    if (peek(p) != '"')
        return fail_at(p, p->pos, "expected a string key in an object");
    text_buffer key = {0};
    rm_status st = parse_string_into(p, &key);
    if (st == RM_OK) {
        skip_whitespace(p);
        if (peek(p) != ':')
            st = fail_at(p, p->pos, "expected ':' after an object key");
    }
    rm_json *value = NULL;
    if (st == RM_OK) {
        p->pos++;
        st = parse_value(p, &value);
    }
    if (st == RM_OK && !list_add(obj, key.data, value))
        st = out_of_memory(p);
    if (st != RM_OK) {
        free(key.data);
        rm_json_free(value);
    }
    return st;
}

static rm_status parse_element(parser *p, rm_json *arr)
{
    rm_json *value = NULL;
    rm_status st = parse_value(p, &value);
    if (st == RM_OK && !list_add(arr, NULL, value)) {
        rm_json_free(value);
        st = out_of_memory(p);
    }
    return st;
}

/* An array or object whose opening bracket is at p->pos. */
static rm_status parse_container(parser *p, rm_json **out)
{
    bool is_object = peek(p) == '{';
    char closing = is_object ? '}' : ']';
    if (++p->depth > RM_JSON_MAX_DEPTH)
        return rm_error_set(p->err, RM_ERR_FORMAT, "byte %zu: arrays and "
                            "objects nested more than %d levels deep", p->pos,
                            RM_JSON_MAX_DEPTH);
    p->pos++;
    rm_json *v = new_node(is_object ? RM_JSON_OBJECT : RM_JSON_ARRAY);
    if (!v)
        return out_of_memory(p);
    rm_status st = RM_OK;
    skip_whitespace(p);
    if (peek(p) == closing) {
        p->pos++;
    } else {
        for (;;) {
            skip_whitespace(p);
            st = is_object ? parse_member(p, v) : parse_element(p, v);
            if (st != RM_OK)
                break;
            skip_whitespace(p);
            int c = peek(p);
            p->pos++;
            if (c == closing)
                break;
            if (c != ',') {
                st = fail_at(p, p->pos - 1, is_object
                                 ? "expected ',' or '}' in an object"
                                 : "expected ',' or ']' in an array");
                break;
            }
        }
    }
    p->depth--;
    if (st != RM_OK) {
        rm_json_free(v);
        return st;
    }
    *out = v;
    return RM_OK;
}

static rm_status parse_value(parser *p, rm_json **out)
{
    skip_whitespace(p);
    int c = peek(p);
    if (c < 0)
        return fail_at(p, p->pos, "expected a value, found the end of input");
    if (c == '{' || c == '[')
        return parse_container(p, out);
    if (c == '"')
        return parse_string(p, out);
    if (c == '-' || is_digit(c))
        return parse_number(p, out);
    return parse_literal(p, out);
}

rm_status rm_json_parse(rm_json **out, const char *text, size_t len,
                        rm_error *err)
{
    *out = NULL;
    if (len > RM_JSON_MAX_BYTES)
        return rm_error_set(err, RM_ERR_FORMAT,
                            "JSON text of %zu bytes exceeds the limit of %u",
                            len, RM_JSON_MAX_BYTES);
    parser p = {.text = text, .len = len, .err = err};
    rm_json *root = NULL;
    rm_status st = parse_value(&p, &root);
    if (st != RM_OK)
        return st;
    skip_whitespace(&p);
    if (p.pos != p.len) {
        rm_json_free(root);
        return fail_at(&p, p.pos, "unexpected text after the JSON value");
    }
    *out = root;
    return RM_OK;
}

