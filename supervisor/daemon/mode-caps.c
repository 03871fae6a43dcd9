/* SPDX-License-Identifier: MIT */
/* The actions a mode cannot carry out, one line each (mode-caps.h). */
#define _GNU_SOURCE 1
#include "mode-caps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "strv.h"

int mode_caps_unsupported(const Policy *p, const ModeCaps *mc, char ***ret)
{
        const struct {
                PolicyActionKind kind;
                const char *why;
                const char *effect;
        } rows[] = {
                { POLICY_ACTION_THROTTLE, mc->no_high, "skipped" },
                { POLICY_ACTION_RECLAIM, mc->no_reclaim, "skipped" },
                { POLICY_ACTION_DUMP, mc->no_max, "runs without raising memory.max" },
                { POLICY_ACTION_RESTART, mc->no_restart, "skipped" },
                { POLICY_ACTION_SCAVENGE, mc->no_control, "skipped" },
                { POLICY_ACTION_SHED, mc->no_control, "skipped" },
                { POLICY_ACTION_WEIGHT, mc->no_control, "skipped" },
                { POLICY_ACTION_NOTIFY, mc->no_control, "logged only, the app does not see the stage" },
        };
        _cleanup_strv_free_ char **l = NULL;
        int n = 0;

        l = calloc(ELEMENTSOF(rows) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const char *stage;
                if (!rows[i].why || !(stage = policy_action_used(p, rows[i].kind)))
                        continue;
                if (asprintf(&l[n], "%s (stage \"%s\"): %s: %s", policy_action_kind_to_string(rows[i].kind),
                             stage, rows[i].effect, rows[i].why) < 0) {
                        l[n] = NULL;
                        return -ENOMEM;
                }
                n++;
        }
        *ret = TAKE_PTR(l);
        return n;
}
