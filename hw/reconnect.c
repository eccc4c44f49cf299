/* Reconnect policy: exponential back-off with a cap. */
#include "rollmap_hw.h"

void rm_reconnect_policy_default(rm_reconnect_policy *p)
{
    p->initial_ms = 100;
    p->max_ms = 2000;
}

void rm_reconnect_start(rm_reconnect *r, const rm_reconnect_policy *p,
                        uint64_t now_us)
{
    r->policy = *p;
    r->next_delay_ms = p->initial_ms;
    r->next_try_us = now_us + (uint64_t)p->initial_ms * 1000u;
    r->attempts = 0;
}

bool rm_reconnect_due(rm_reconnect *r, uint64_t now_us)
{
    if (now_us < r->next_try_us)
        return false;
    r->attempts++;
    uint32_t delay = r->next_delay_ms * 2;
    r->next_delay_ms = delay > r->policy.max_ms ? r->policy.max_ms : delay;
    r->next_try_us = now_us + (uint64_t)r->next_delay_ms * 1000u;
    return true;
}
