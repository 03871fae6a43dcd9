/* SPDX-License-Identifier: MIT */
/*
 * The actuator: what the action runner may do to the workload's processes and memory controls, and
 * nothing else. The runner and its executors call these instead of a concrete cgroup, so they can be
 * tested against a fake (tests/actions/test-runner.c) and stay tier-agnostic: what a tier cannot do
 * shows as a missing capability, which the executor records as "skipped" with the reason.
 *
 * An implementation fills an ActuatorOps table and embeds Actuator as the first member of its own
 * struct. actuator-cg.c wraps the host's Cg (actuator_cg_new()). Every operation except .reclaim runs
 * on the event-loop thread; .reclaim runs on the reclaim worker thread (see reclaim.h) and must be
 * safe there. Errors are negative errno; a missing op or a NULL Actuator is -EOPNOTSUPP.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "policy.h"

typedef enum ActuatorCap {
        ACTUATOR_CAP_LIST_PIDS = 1u << 0,   /* list_pids, and through it signalling every member */
        ACTUATOR_CAP_KILL_ALL = 1u << 1,    /* kill_all */
        ACTUATOR_CAP_MEMORY_MAX = 1u << 2,  /* get/set memory.max (v1 limit_in_bytes included) */
        ACTUATOR_CAP_MEMORY_HIGH = 1u << 3, /* a memory.high that throttles (v2; v1's soft limit does not) */
        ACTUATOR_CAP_RECLAIM = 1u << 4,     /* memory.reclaim (v2) */
} ActuatorCap;

typedef struct Actuator Actuator;

typedef struct ActuatorOps {
        unsigned (*caps)(Actuator *a);         /* ActuatorCap bits */
        const char *(*tier_name)(Actuator *a); /* for messages: "v2", "v1", "observe", "none" */
        const char *(*leaf_path)(Actuator *a); /* the workload leaf, for messages and hook env */
        int (*get_memory_high)(Actuator *a, uint64_t *ret);
        int (*set_memory_high)(Actuator *a, uint64_t bytes); /* UINT64_MAX: "max" */
        int (*get_memory_max)(Actuator *a, uint64_t *ret);
        int (*set_memory_max)(Actuator *a, uint64_t bytes);
        int (*kill_all)(Actuator *a, int sig);                     /* every member, never the caller */
        int (*list_pids)(Actuator *a, pid_t **ret, size_t *ret_n); /* *ret malloc'd */
        int (*reclaim)(Actuator *a, uint64_t bytes);               /* worker thread; may block */
        int (*signal_pid)(Actuator *a, pid_t pid, int sig);
        /* The member the criterion picks, now: 0 with *ret_pid = 0 when there is none, so that a
         * listing that failed keeps its own errno (ESRCH included). ret_rss may be NULL. */
        int (*resolve_victim)(Actuator *a, PolicyVictim v, pid_t *ret_pid, uint64_t *ret_rss);
        /* 1 while a member other than the caller is left, 0 when none (stop.c's sweep waits on it) */
        int (*is_populated)(Actuator *a);
        void (*free)(Actuator *a);
} ActuatorOps;

struct Actuator {
        const ActuatorOps *ops;
};

unsigned actuator_caps(Actuator *a); /* 0 for NULL */
static inline bool actuator_can(Actuator *a, ActuatorCap c)
{
        return (actuator_caps(a) & c) == c;
}
const char *actuator_tier_name(Actuator *a); /* "?" when unknown */
const char *actuator_leaf_path(Actuator *a); /* NULL when none */
int actuator_get_memory_high(Actuator *a, uint64_t *ret);
int actuator_set_memory_high(Actuator *a, uint64_t bytes);
int actuator_get_memory_max(Actuator *a, uint64_t *ret);
int actuator_set_memory_max(Actuator *a, uint64_t bytes);
int actuator_kill_all(Actuator *a, int sig);
int actuator_list_pids(Actuator *a, pid_t **ret, size_t *ret_n);
int actuator_reclaim(Actuator *a, uint64_t bytes);
int actuator_signal_pid(Actuator *a, pid_t pid, int sig);
int actuator_resolve_victim(Actuator *a, PolicyVictim v, pid_t *ret_pid, uint64_t *ret_rss);
int actuator_is_populated(Actuator *a);
Actuator *actuator_free(Actuator *a); /* NULL-safe, returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(Actuator *, actuator_free)

/* Helpers for implementations. */
/* Signals pid through a pidfd, so a pid reused since it was listed is never hit. */
int actuator_pidfd_signal(pid_t pid, int sig);
/* The pid in `pids` with the largest resident set (/proc/PID/statm), excluding the caller; -ESRCH
 * when none is readable. ret_rss may be NULL. */
int actuator_largest_rss(const pid_t *pids, size_t n, pid_t *ret_pid, uint64_t *ret_rss);

/* The real actuator over the host's cgroup; borrows cg, which must outlive it. Capabilities follow
 * cg_tier(): throttle and reclaim need v2, memory.max v1 or v2, listing and killing work on every
 * tier. */
typedef struct Cg Cg;
int actuator_cg_new(Cg *cg, Actuator **ret);
