/* The frame every page shares: head, navigation, the CSRF token for the
 * scripts, and the end of the page. */
#include "web_internal.h"

#include <microhttpd.h>
#include <stdlib.h>

void web_page_begin(web_page *p, const web_server_state *s, const char *title,
                    const char *csrf)
{
    p->buf = NULL;
    p->len = 0;
    p->out = open_memstream(&p->buf, &p->len);
    if (!p->out)
        abort(); /* open_memstream fails only without memory */
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, "
          "initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n<title>", p->out);
    web_html(p->out, title);
    fputs(" - rollmap</title>\n<link rel=\"stylesheet\" href=\"/vendor/dygraph.min.css\">\n"
          "<link rel=\"stylesheet\" href=\"/static/style.css\">\n", p->out);
    if (csrf) {
        fputs("<meta name=\"csrf-token\" content=\"", p->out);
        web_html(p->out, csrf);
        fputs("\">\n", p->out);
    }
    fputs("</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n"
          "<header><nav aria-label=\"Main\">\n<span class=\"brand\">rollmap</span>\n",
          p->out);
    if (csrf) {
        fputs("<a href=\"/live\">Live</a>\n<a href=\"/library\">Clients</a>\n"
              "<a href=\"/library/sessions\">Sessions</a>\n"
              "<a href=\"/library/unassigned\">Unassigned</a>\n"
              "<a href=\"/compare\">Compare</a>\n", p->out);
        if (s && web_auth_required(s->auth)) {
            fputs("<form method=\"post\" action=\"/logout\" class=\"inline\">"
                  "<input type=\"hidden\" name=\"csrf\" value=\"", p->out);
            web_html(p->out, csrf);
            fputs("\"><button type=\"submit\" class=\"link\">Log out</button>"
                  "</form>\n", p->out);
        }
    }
    fputs("</nav></header>\n<main id=\"main\">\n", p->out);
}

void web_page_end(web_page *p, web_reply *r)
{
    fputs("</main>\n<script src=\"/vendor/dygraph.min.js\"></script>\n"
          "<script src=\"/static/app.js\"></script>\n</body>\n</html>\n", p->out);
    fclose(p->out);
    r->status = MHD_HTTP_OK;
    r->content_type = "text/html; charset=utf-8";
    r->body = p->buf;
    r->body_len = p->len;
    r->no_store = true;
}

void web_csrf_field(FILE *out, const char *csrf)
{
    fputs("<input type=\"hidden\" name=\"csrf\" value=\"", out);
    web_html(out, csrf);
    fputs("\">", out);
}
