/* SPDX-License-Identifier: MIT */
/* The executors that tell a cooperating app how much to hold and how much traffic to take: shed (the
 * capacity budget on the control page, in permille of the app's normal size) and weight (its routing
 * weight, 0..100). The budget's climb back is decided by the controller in daemon/supervise.c and
 * published here too (actions_set_budget()). In dry-run each records "would ..." and the page keeps
 * the normal values. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "runner-internal.h"

/* "40%", "42.5%" */
static const char *permille_str(char *buf, size_t len, uint32_t permille)
{
        if (permille % 10 == 0)
                snprintf(buf, len, "%u%%", permille / 10);
        else
                snprintf(buf, len, "%u.%u%%", permille / 10, permille % 10);
        return buf;
}

static void record_published(ActionRunner *r, const PolicyDecision *d, int q, const char *what)
{
        if (q < 0)
                RECORD(r, d, "failed: %s not published to the control page: %s", what, strerror(-q));
        else
                RECORD(r, d, "ok: %s published%s", what,
                       r->control ? " to the control page" : " (no control page)");
}

void executor_shed(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        uint32_t to = d->budget_permille ?: d->action->shed_permille;
        char what[64], b[16];

        snprintf(what, sizeof(what), "budget %s", permille_str(b, sizeof(b), to));
        if (r->dry_run) {
                RECORD(r, d, "would: would shed to %s", what);
                return;
        }
        r->budget_permille = to;
        record_published(r, d, runner_publish(r), what);
}

void executor_weight(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        uint32_t w = d->undo ? POLICY_WEIGHT_NORMAL : d->action->weight;
        char what[32];

        snprintf(what, sizeof(what), "weight %u", w);
        if (r->dry_run) {
                RECORD(r, d, "would: would publish %s", what);
                return;
        }
        r->weight = w;
        record_published(r, d, runner_publish(r), what);
}

int actions_set_budget(ActionRunner *r, uint32_t budget_permille)
{
        if (r->dry_run || r->budget_permille == budget_permille)
                return 0;
        r->budget_permille = budget_permille;
        return runner_publish(r);
}

uint32_t actions_budget(const ActionRunner *r)
{
        return r->budget_permille;
}

uint32_t actions_weight(const ActionRunner *r)
{
        return r->weight;
}
