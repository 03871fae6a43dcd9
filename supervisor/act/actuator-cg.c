/* SPDX-License-Identifier: MIT */
/* The real Actuator: the host's cgroup (Cg) on whichever tier it runs. See actuator.h. */
#define _GNU_SOURCE
#include "actuator.h"

#include <stdlib.h>

#include "cgroup.h"

typedef struct ActuatorCg {
        Actuator base; /* first: the Actuator * handed out points here */
        Cg *cg;        /* borrowed */
} ActuatorCg;

static Cg *cg_of(Actuator *a)
{
        return ((ActuatorCg *)a)->cg;
}

static unsigned acg_caps(Actuator *a)
{
        const Cg *cg = cg_of(a);
        unsigned c = ACTUATOR_CAP_LIST_PIDS | ACTUATOR_CAP_KILL_ALL;

        if (cg_has(cg, CG_CAP_MAX))
                c |= ACTUATOR_CAP_MEMORY_MAX;
        /* v1's soft limit does not throttle, so it does not count as a memory.high. */
        if (cg_has(cg, CG_CAP_HIGH))
                c |= ACTUATOR_CAP_MEMORY_HIGH;
        if (cg_has(cg, CG_CAP_RECLAIM))
                c |= ACTUATOR_CAP_RECLAIM;
        return c;
}

static const char *acg_tier_name(Actuator *a)
{
        return cg_tier_to_string(cg_tier(cg_of(a)));
}

static const char *acg_leaf_path(Actuator *a)
{
        return cg_leaf_path(cg_of(a));
}

static int acg_get_memory_high(Actuator *a, uint64_t *ret)
{
        return cg_get_memory_high(cg_of(a), ret);
}

static int acg_set_memory_high(Actuator *a, uint64_t bytes)
{
        return cg_set_memory_high(cg_of(a), bytes);
}

static int acg_get_memory_max(Actuator *a, uint64_t *ret)
{
        return cg_get_memory_max(cg_of(a), ret);
}

static int acg_set_memory_max(Actuator *a, uint64_t bytes)
{
        return cg_set_memory_max(cg_of(a), bytes);
}

static int acg_kill_all(Actuator *a, int sig)
{
        return cg_kill_all(cg_of(a), sig);
}

static int acg_list_pids(Actuator *a, pid_t **ret, size_t *ret_n)
{
        return cg_list_pids(cg_of(a), ret, ret_n);
}

static int acg_reclaim(Actuator *a, uint64_t bytes)
{
        return cg_reclaim(cg_of(a), bytes);
}

static int acg_signal_pid(Actuator *a, pid_t pid, int sig)
{
        return actuator_pidfd_signal(pid, sig);
}

static int acg_resolve_victim(Actuator *a, PolicyVictim v, pid_t *ret_pid, uint64_t *ret_rss)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int q;

        if (v != POLICY_VICTIM_LARGEST_RSS)
                return -EINVAL;
        q = cg_list_pids(cg_of(a), &pids, &n);
        if (q < 0)
                return q;
        q = actuator_largest_rss(pids, n, ret_pid, ret_rss);
        if (q == -ESRCH) {
                *ret_pid = 0; /* nobody */
                return 0;
        }
        return q;
}

static int acg_is_populated(Actuator *a)
{
        return cg_is_populated(cg_of(a));
}

static void acg_free(Actuator *a)
{
        free(a);
}

static const ActuatorOps actuator_cg_ops = {
        .caps = acg_caps,
        .tier_name = acg_tier_name,
        .leaf_path = acg_leaf_path,
        .get_memory_high = acg_get_memory_high,
        .set_memory_high = acg_set_memory_high,
        .get_memory_max = acg_get_memory_max,
        .set_memory_max = acg_set_memory_max,
        .kill_all = acg_kill_all,
        .list_pids = acg_list_pids,
        .reclaim = acg_reclaim,
        .signal_pid = acg_signal_pid,
        .resolve_victim = acg_resolve_victim,
        .is_populated = acg_is_populated,
        .free = acg_free,
};

int actuator_cg_new(Cg *cg, Actuator **ret)
{
        ActuatorCg *a;

        if (!cg || !ret)
                return -EINVAL;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->base.ops = &actuator_cg_ops;
        a->cg = cg;
        *ret = &a->base;
        return 0;
}
