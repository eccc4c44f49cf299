/* The live screen's markup (static/live.js brings it to life from the
 * /api/live stream) and the commands it posts, passed on to rollmapd's
 * live socket: mark, start, stop. */
#include "web_internal.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

/* The thigh seen from behind, proximal (gluteal fold) at the top: the
 * contact point and the heat trail are drawn over it by live.js. */
static const char thigh_svg[] =
    "<svg id=\"thigh\" viewBox=\"0 0 120 300\" role=\"img\" aria-labelledby="
    "\"thigh-title\">\n<title id=\"thigh-title\">Back of the thigh, hip at the "
    "top, knee at the bottom</title>\n"
    "<path class=\"leg\" d=\"M18 8 Q60 -6 102 8 L94 250 Q60 270 26 250 Z\"/>\n"
    "<text x=\"60\" y=\"22\" class=\"leg-label\">hip</text>\n"
    "<text x=\"60\" y=\"292\" class=\"leg-label\">knee</text>\n"
    "<text x=\"8\" y=\"150\" class=\"leg-label side\" id=\"thigh-left\">inner"
    "</text>\n<text x=\"112\" y=\"150\" class=\"leg-label side\" "
    "id=\"thigh-right\">outer</text>\n<g id=\"heat\"></g>\n<g id=\"marks\"></g>\n"
    "<circle id=\"contact\" cx=\"60\" cy=\"130\" r=\"9\" hidden/>\n</svg>\n";

static const char live_body[] =
    "<h1 class=\"visually-hidden\">Live</h1>\n"
    "<div id=\"state\" class=\"state state-wait\" role=\"status\" aria-live=\"polite\">"
    "<span id=\"state-head\" class=\"state-head\">Connecting...</span> "
    "<span id=\"state-detail\" class=\"state-detail\">to rollmapd</span></div>\n"
    "<div id=\"calibration\" class=\"alert\" role=\"alert\" hidden></div>\n"
    "<div class=\"live-grid\">\n"
    "<section class=\"card force\" aria-label=\"Force\">\n"
    "<div class=\"big\"><span id=\"force\">-</span> <span class=\"unit\">N</span></div>\n"
    "<div class=\"gauge\" aria-hidden=\"true\"><div id=\"band\" class=\"band\"></div>"
    "<div id=\"needle\" class=\"needle\"></div></div>\n"
    "<div class=\"sub\">target <span id=\"band-text\">-</span> &middot; pressure "
    "<span id=\"pressure\">-</span> kPa</div>\n</section>\n"
    "<section class=\"card map\" aria-label=\"Where the roller is\">\n%s"
    "<div class=\"sub\">position <span id=\"position\">-</span> cm</div>\n"
    "<div class=\"sub\">lean <span id=\"lean\">-</span></div>\n</section>\n"
    "<section class=\"card hold\" aria-label=\"Hold and pace\">\n"
    "<div class=\"label\">Hold</div><div class=\"big\"><span id=\"hold\">0</span>"
    " <span class=\"unit\">s</span> <span class=\"of\">/ <span id=\"hold-target\">"
    "30</span> s</span></div>\n"
    "<progress id=\"hold-progress\" max=\"30\" value=\"0\">0 s</progress>\n"
    "<div class=\"label\">Pace</div><div id=\"pace\" class=\"pace\">-</div>\n"
    "<div class=\"sub\"><span id=\"speed\">-</span> cm/s (good: up to "
    "<span id=\"speed-target\">2.5</span> cm/s)</div>\n</section>\n"
    "<section class=\"card actions\" aria-label=\"Tender here\">\n"
    "<button id=\"tender\" class=\"tender\" type=\"button\">Tender here</button>\n"
    "<div id=\"rating\" class=\"rating\" hidden role=\"group\" aria-label=\"How "
    "tender, 0 to 10\"><p>How tender? 0 none, 10 worst</p><div class=\"digits\">"
    "</div><button type=\"button\" id=\"no-rating\">No rating</button></div>\n"
    "<div id=\"mark-note\" class=\"sub\" aria-live=\"polite\"></div>\n</section>\n"
    "</div>\n"
    "<details class=\"card settings\"><summary>Session and settings</summary>\n"
    "<form id=\"start-form\" class=\"filters\">\n"
    "<label for=\"live-client\">Client code</label><input id=\"live-client\" "
    "name=\"client\" maxlength=\"63\">\n"
    "<label for=\"live-side\">Leg</label><select id=\"live-side\" name=\"side\">"
    "<option value=\"\">unknown</option><option>left</option><option>right</option>"
    "</select>\n<label for=\"live-muscle\">Muscle</label><input id=\"live-muscle\" "
    "name=\"muscle\" maxlength=\"31\" value=\"hamstring\">\n"
    "<label for=\"live-notes\">Name or notes</label><input id=\"live-notes\" "
    "name=\"notes\" maxlength=\"1023\">\n"
    "<button type=\"submit\" id=\"start\">Start recording</button>\n"
    "<button type=\"button\" id=\"stop\">Stop recording</button>\n</form>\n"
    "<form id=\"settings-form\" class=\"filters\">\n"
    "<label for=\"target-lo\">Target from</label><input id=\"target-lo\" "
    "type=\"number\" min=\"0\" step=\"any\" value=\"150\">\n"
    "<label for=\"target-hi\">to</label><input id=\"target-hi\" type=\"number\" "
    "min=\"0\" step=\"any\" value=\"300\">\n"
    "<label for=\"target-unit\">in</label><select id=\"target-unit\">"
    "<option value=\"N\">N</option><option value=\"bw\">%% of body weight</option>"
    "</select>\n<label for=\"body-weight\">Body weight (kg)</label><input "
    "id=\"body-weight\" type=\"number\" min=\"20\" max=\"300\" value=\"70\">\n"
    "<label for=\"hold-goal\">Hold goal (s)</label><input id=\"hold-goal\" "
    "type=\"number\" min=\"5\" max=\"600\" value=\"30\">\n"
    "<label for=\"rate\">Updates a second</label><select id=\"rate\">"
    "<option>5</option><option>10</option><option selected>20</option>"
    "<option>50</option></select>\n"
    "<label class=\"check\"><input type=\"checkbox\" id=\"sound\"> Sound cues "
    "(hold reached, too fast)</label>\n</form>\n"
    "<p class=\"muted\">The target is kept per client in this browser.</p>\n"
    "</details>\n"
    "<script src=\"/static/live.js\"></script>\n";

void web_handle_live_page(web_server_state *s, const web_request *q,
                          web_reply *r)
{
    web_page p;
    web_page_begin(&p, s, "Live", q->csrf);
    fprintf(p.out, live_body, thigh_svg);
    web_page_end(&p, r);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static void member_if_set(rm_json_writer *w, const web_form *form,
                          const char *key)
{
    const char *v = web_form_get(form, key);
    if (v && v[0])
        rm_json_member_string(w, key, v);
}

/* The request line for rollmapd, or false with the problem. */
static bool build_request(const web_request *q, char **line, char *problem,
                          size_t cap)
{
    const char *cmd = q->route->name;
    size_t len = 0;
    FILE *out = open_memstream(line, &len);
    if (!out)
        return false;
    rm_json_writer w;
    rm_json_begin(&w, out, false);
    rm_json_object_open(&w);
    rm_json_member_string(&w, "cmd", cmd);
    bool ok = true;
    if (strcmp(cmd, "mark") == 0) {
        const char *rating = web_form_get(q->form, "rating");
        if (rating && rating[0]) {
            char *end;
            long v = strtol(rating, &end, 10);
            ok = !*end && v >= 0 && v <= 10;
            rm_json_member_int(&w, "rating", v);
        }
        if (!ok)
            snprintf(problem, cap, "rating: a whole number from 0 to 10");
    } else if (strcmp(cmd, "start") == 0) {
        member_if_set(&w, q->form, "client");
        member_if_set(&w, q->form, "side");
        member_if_set(&w, q->form, "muscle");
        member_if_set(&w, q->form, "notes");
    } else if (strcmp(cmd, "stop") != 0 && strcmp(cmd, "tare") != 0) {
        ok = false;
        snprintf(problem, cap, "unknown command (expected mark, start, stop "
                 "or tare)");
    }
    rm_json_object_close(&w);
    rm_json_end(&w);
    fclose(out);
    return ok;
}

static void json_answer(web_reply *r, unsigned status, bool ok,
                        const char *message, const char *session_id)
{
    size_t len = 0;
    FILE *out = open_memstream(&r->body, &len);
    if (!out)
        return;
    rm_json_writer w;
    rm_json_begin(&w, out, false);
    rm_json_object_open(&w);
    rm_json_member_bool(&w, "ok", ok);
    if (message)
        rm_json_member_string(&w, "message", message);
    if (session_id)
        rm_json_member_string(&w, "session_id", session_id);
    rm_json_object_close(&w);
    rm_json_end(&w);
    fclose(out);
    r->body_len = len;
    r->status = status;
    r->content_type = "application/json";
    r->no_store = true;
}

void web_handle_live_command(web_server_state *s, const web_request *q,
                             web_reply *r)
{
    char *line = NULL, problem[128] = "";
    if (!build_request(q, &line, problem, sizeof problem)) {
        json_answer(r, MHD_HTTP_BAD_REQUEST, false, problem, NULL);
        free(line);
        return;
    }
    rm_json *reply = NULL;
    rm_error err = {0};
    rm_status st = web_relay_command(s->opt.socket_path, line, &reply, &err);
    free(line);
    if (st == RM_OK)
        json_answer(r, MHD_HTTP_OK, true, NULL,
                    rm_json_as_string(rm_json_get(reply, "session_id"), NULL));
    else
        json_answer(r, st == RM_ERR_ARG ? MHD_HTTP_CONFLICT
                                        : MHD_HTTP_SERVICE_UNAVAILABLE,
                    false, err.message, NULL);
    rm_json_free(reply);
}
