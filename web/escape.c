/* Escaping what goes into pages: every text that came from a user, a file
 * or the library passes through web_html or web_url_encode. */
#include "web_internal.h"

#include <ctype.h>

void web_html(FILE *out, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*c, out);
        }
    }
}

void web_url_encode(FILE *out, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (isalnum(*c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
            fputc(*c, out);
        else
            fprintf(out, "%%%02X", *c);
    }
}
