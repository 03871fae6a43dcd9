/* SPDX-License-Identifier: MIT */
/* What a mode (run, attach) can carry out here, and which of a policy's actions it cannot: the lines
 * `oomless check --mode` prints and the one line `oomless attach` logs at start. Pure: the caller
 * fills ModeCaps from what it found (the Cg's capabilities, --follow, the control page). */
#pragma once

#include <stdbool.h>

#include "policy.h"

typedef struct ModeCaps {
        bool attach;
        /* NULL when the mode can do it; else why each is skipped ("memory.high is read-only"). */
        const char *no_high;    /* throttle */
        const char *no_reclaim; /* reclaim */
        const char *no_max;     /* dump's headroom (memory.max raised while the hook runs) */
        const char *no_restart; /* restart */
        const char *no_control; /* scavenge, shed, weight (and notify's stage for the app) */
} ModeCaps;

/* One line per action kind that the policy uses and the mode cannot carry out, "throttle (stage
 * \"pressure\"): skipped: memory.high is read-only"; NULL-terminated strv in *ret (empty when all can).
 * Returns the count or -ENOMEM. */
int mode_caps_unsupported(const Policy *p, const ModeCaps *mc, char ***ret);
