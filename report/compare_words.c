/*
 * The comparison's cautions in words: why a session is not judged, and
 * which sessions should not have been compared. Analysis records them as
 * reasons and figures; the reports, the CLI and the browser say them.
 */
#include "compare_internal.h"

#include <string.h>

void rm_compare_gate_text(const rm_session_gate *g, char *out, size_t size)
{
    switch (g->reason) {
    case RM_GATE_JUDGED:
        snprintf(out, size, "%s", "");
        return;
    case RM_GATE_SHORT_UNDER_LOAD:
        snprintf(out, size, "too short: %.0f s under load (%.0f s needed)",
                 g->value, g->limit);
        return;
    case RM_GATE_SHORT_ROLLED:
        snprintf(out, size, "too short: %.1f cm of the leg rolled (%.0f cm "
                 "needed)", g->value, g->limit);
        return;
    case RM_GATE_DAMAGED_BLOCKS:
        snprintf(out, size, "damaged: %.0f block%s of the file failed their "
                 "check and were left out", g->value,
                 g->value == 1 ? "" : "s");
        return;
    case RM_GATE_LOST_TIME:
        snprintf(out, size, "damaged: %.0f %% of its time lost in gaps (at "
                 "most %.0f %%)", g->value, g->limit);
        return;
    }
    snprintf(out, size, "%s", "not judged");
}

static const char *muscle_of(const rm_analysis *a)
{
    return a->meta.muscle[0] ? a->meta.muscle : "hamstring";
}

static const char *device_kind_word(uint8_t kind)
{
    switch (kind) {
    case RM_DEVICE_ROLLER: return "a roller";
    case RM_DEVICE_BALL: return "a ball";
    case RM_DEVICE_PROBE: return "a probe";
    }
    return "an unknown device";
}

static const char *position_word(const rm_analysis *a)
{
    return a->has_position ? "position along the leg" : "no position";
}

void rm_compare_mix_text(const rm_comparison *c, char *out, size_t size)
{
    if (c->mix.kind == RM_MIX_NONE) {
        snprintf(out, size, "%s", "");
        return;
    }
    const rm_analysis *a = c->sessions[c->mix.first];
    const rm_analysis *b = c->sessions[c->mix.other];
    const char *ida = a->meta.session_id, *idb = b->meta.session_id;
    switch (c->mix.kind) {
    case RM_MIX_MUSCLES:
        snprintf(out, size, "session %s is of the %s, session %s of the %s: "
                 "different muscles", ida, muscle_of(a), idb, muscle_of(b));
        return;
    case RM_MIX_CLIENTS:
        snprintf(out, size, "session %s is of client %s, session %s of "
                 "client %s: different clients", ida, a->meta.client, idb,
                 b->meta.client);
        return;
    case RM_MIX_DEVICES:
    case RM_MIX_NONE:
        break;
    }
    snprintf(out, size, "session %s was recorded with %s (%s), session %s "
             "with %s (%s): incompatible devices", ida,
             device_kind_word(a->device.device_kind), position_word(a), idb,
             device_kind_word(b->device.device_kind), position_word(b));
}

void rm_compare_warning_text(const rm_comparison *c, char *out, size_t size)
{
    char why[RM_COMPARE_WARNING_MAX - 32];
    rm_compare_mix_text(c, why, sizeof why);
    snprintf(out, size, "%s%s", why[0] ? "compared although " : "", why);
}

rm_status rm_compare_checked(const rm_analysis *const *sessions, size_t n,
                             const rm_compare_options *opt,
                             rm_comparison **out, rm_error *err)
{
    rm_status st = rm_compare(sessions, n, opt, out, err);
    if (st != RM_OK || (*out)->mix.kind == RM_MIX_NONE ||
        (*out)->options.force_mix)
        return st;
    char why[RM_COMPARE_WARNING_MAX];
    rm_compare_mix_text(*out, why, sizeof why);
    rm_comparison_free(*out);
    *out = NULL;
    return rm_error_set(err, RM_ERR_ARG, "%s (compare them anyway with "
                        "--force-mix)", why);
}
