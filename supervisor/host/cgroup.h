/* SPDX-License-Identifier: MIT */
/*
 * The workload's cgroup, on whichever tier this host offers. Everything above this module (the
 * manager, the sampler's callers, actions) is tier-agnostic: it asks for a sample, for a kill, for a
 * limit, and this module maps that onto cgroup v2, v1 (+ the unified tree for PSI on hybrid hosts), a
 * read-only observed cgroup, or plain /proc when no memory controller is visible.
 *
 * Errors are negative errno. Functions that fail for a reason the user can fix fill *reterr_msg
 * (malloc'd, may be NULL) with one sentence naming the path, the reason and the way out; the caller
 * logs it once.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oomless/sample.h"
#include "macro.h"
#include "units.h"

typedef enum CgTier {
        CG_TIER_V2,      /* pure v2, writable: own leaves, all controls */
        CG_TIER_V1,      /* v1 memory controller (hybrid or legacy), writable */
        CG_TIER_OBSERVE, /* cgroupfs read-only: read our own cgroup, act on processes */
        CG_TIER_NONE,    /* no memory controller: /proc RSS of the process tree */
        _CG_TIER_MAX,
        CG_TIER_AUTO = 100, /* only as a request: detect */
        _CG_TIER_INVALID = -EINVAL,
} CgTier;

const char *cg_tier_to_string(CgTier t); /* "v2", "v1", "observe", "none", "auto" */
CgTier cg_tier_from_string(const char *s);

typedef struct CgOptions {
        CgTier requested;         /* CG_TIER_AUTO unless --cgroup-mode */
        const char *root;         /* fixture root for tests: prefixed to /proc/self/{mountinfo,cgroup},
                                   * /proc/meminfo and every mount point; NULL = the real system */
        SizeSpec memory_max;      /* --memory-max; percent of the effective limit above the leaf */
        SizeSpec memory_high;     /* --memory-high */
        SizeSpec memory_swap_max; /* --memory-swap-max */
        int oom_group;            /* --oom-group: -1 unset, 0/1 */
        bool want_cpu;            /* enable +cpu when present (v2) */
        uint64_t tree_limit;      /* tier none: limit from the command line, UINT64_MAX when none */
} CgOptions;

typedef struct Cg Cg;

/* Detects what this host offers and, for --cgroup-mode, whether the requested tier is possible.
 * *ret_tier is the tier that would be used; *reterr_msg explains a refusal. Touches nothing. */
int cg_detect(const CgOptions *opts, CgTier *ret_tier, char **reterr_msg);

/* `oomless run`: creates the leaves ("oomless-<pid>-supervisor" and "oomless-<pid>-workload" next
 * to each other in our own cgroup on v2; a "oomless-<pid>" child of our own v1 memory cgroup plus a
 * matching unified leaf for PSI, cgroup.events and cgroup.kill on hybrid), moves the supervisor into
 * its leaf on v2, enables controllers, applies limits, opens hot-path fds. Observe/none create
 * nothing. On failure everything created so far is removed. */
int cg_setup_run(const CgOptions *opts, Cg **ret, char **reterr_msg);

/* `oomless attach`: watches an existing cgroup (found from /proc/PID/cgroup, or given as a path
 * relative to the cgroupfs mount or absolute). Creates nothing, moves nothing. */
int cg_setup_attach(const CgOptions *opts, pid_t pid, const char *cgroup_path, Cg **ret, char **reterr_msg);

/* attach --follow: points cg, in place, at the cgroup of pid (the restarted target), so that whoever
 * holds cg reads the new one. Fds from cg_events_fd() and friends are closed: re-arm the watches. */
int cg_rebind_attach(Cg *cg, const CgOptions *opts, pid_t pid, char **reterr_msg);

/* For starting the child directly in the leaf. On v2 *ret_dirfd is an O_PATH|O_DIRECTORY fd of the
 * workload leaf for clone3(CLONE_INTO_CGROUP) (or -1 when not applicable). join_fds[] (terminated by
 * -1, at most 4) are O_WRONLY|O_CLOEXEC fds of cgroup.procs files the child writes "0" into before
 * exec, as the fallback and for the v1 + unified pair on hybrid hosts. Both stay owned by Cg. */
int cg_spawn_fds(Cg *cg, int *ret_dirfd, const int **ret_join_fds);

/* Moves an already started, single-threaded process (one we started) into the workload leaf(s);
 * a no-op on observe/none (tier none watches the supervisor's descendants anyway). */
int cg_attach_pid(Cg *cg, pid_t pid);

/* What one Cg can do, fixed once at setup from the tier, the mode (run/attach) and the files that
 * exist. Callers ask cg_has() instead of comparing tiers. */
typedef enum CgCap {
        CG_CAP_LEAVES = 1u << 0,      /* oomless created the leaves and owns them (run on v2/v1): the child
                                       * starts in them, cg_attach_pid() moves, teardown removes, and
                                       * everything in them may be killed */
        CG_CAP_MAX = 1u << 1,         /* cg_set_memory_max() writes a hard limit (memory.max, v1
                                       * memory.limit_in_bytes): writable v2/v1, run or attach */
        CG_CAP_HIGH = 1u << 2,        /* a memory.high that throttles (writable v2 only) */
        CG_CAP_SOFT_LIMIT = 1u << 3,  /* cg_set_memory_high() writes v1's memory.soft_limit_in_bytes
                                       * instead, which steers reclaim but does not throttle */
        CG_CAP_RECLAIM = 1u << 4,     /* memory.reclaim (writable v2) */
        CG_CAP_PSI = 1u << 5,         /* per-cgroup memory.pressure is sampled (v2, the hybrid twin, or
                                       * observe); cg_pressure_path() is set */
        CG_CAP_PSI_TRIGGER = 1u << 6, /* ... and a trigger can be written into it (not on observe) */
        CG_CAP_KILL = 1u << 7,        /* cgroup.kill in the unified leaf (v2 or the hybrid twin), tried
                                       * first by cg_kill_all(SIGKILL) */
        CG_CAP_EVENTS = 1u << 8,      /* cg_events_fd() exists: memory.events POLLPRI, or the v1 OOM
                                       * eventfd */
        CG_CAP_SWAP = 1u << 9,        /* swap use is sampled (memory.swap.current, or v1 total_swap with
                                       * memsw accounting) */
} CgCap;

/* True when every capability in caps is present. */
bool cg_has(const Cg *cg, unsigned caps);
unsigned cg_caps(const Cg *cg);

/* The cgroup's part of a sample, as the tier's files give it. host/sample.c turns it into an
 * OomlessSample (adding the time, PSI trigger counts and heap figures); the field meanings are the
 * OomlessSample fields of the same names. */
typedef struct CgFigures {
        uint64_t current, peak, limit, high, anon, file, shmem, inactive_file, active_file, swap_current;
        /* memory.stat kernel (v2, 5.18+) or kmem.usage_in_bytes (v1); kernel_parts sums v2's
         * kernel_stack, slab and percpu, the figure older kernels give instead. */
        uint64_t kernel, kernel_parts;
        bool events_valid;
        uint64_t ev_low, ev_high, ev_max, ev_oom, ev_oom_kill, ev_oom_group_kill;
        bool psi_valid;
        OomlessPsi psi_some, psi_full;
        uint32_t nr_processes; /* without the supervisor itself on observe */
} CgFigures;

/* Reads the cgroup figures through held fds (re-arming cg_events_fd()). */
int cg_read_figures(Cg *cg, CgFigures *ret);

/* Reads one sample through held fds. Fills everything except the heap and PSI-trigger fields.
 * Defined in host/sample.c, the one place an OomlessSample is written; a daemon wants a Sampler. */
int cg_sample(Cg *cg, OomlessSample *ret);

/* Arms a kernel PSI trigger ("some 150000 1000000") on the leaf's memory.pressure; returns an fd to
 * poll for POLLPRI (owned by the caller). -EOPNOTSUPP when the tier has no per-cgroup PSI. */
int cg_psi_trigger_open(Cg *cg, const char *trigger);
/* The same, filling *reterr_msg with the reason on failure (e.g. the kernel's rule that without
 * CAP_SYS_RESOURCE the window must be a multiple of 2 s). */
int cg_psi_trigger_open_msg(Cg *cg, const char *trigger, char **reterr_msg);

/* fds to poll that change when memory.events / cgroup.events change (POLLPRI on v2 files, or an
 * eventfd registered through cgroup.event_control for v1 memory.oom_control: POLLIN). -1 when absent.
 * Owned by Cg. Both stay readable until re-read: after cg_events_fd() fires call cg_sample(), after
 * cg_populated_fd() fires call cg_is_populated(); those re-read the same fd and re-arm it. */
int cg_events_fd(Cg *cg);
int cg_populated_fd(Cg *cg);

/* Pids in the leaf (or the tree on tier none). *ret is malloc'd. */
int cg_list_pids(Cg *cg, pid_t **ret, size_t *ret_n);
/* 1 if any process is in the leaf, 0 if empty. */
int cg_is_populated(Cg *cg);
/* Kills every member with sig (cgroup.kill for SIGKILL on v2 and on the unified twin on hybrid
 * hosts; then passes over the members, each pid signalled once, until a pass finds no new member or
 * a bounded number of passes). Never signals the caller's own pid; zombies count as gone. Returns
 * the number of processes signalled (the killed may still be listed while their memory is freed:
 * wait on cg_populated_fd()/cg_is_populated() for the end). */
int cg_kill_all(Cg *cg, int sig);

/* Limit writes for actions; -EOPNOTSUPP on tiers without them. UINT64_MAX means "max". */
int cg_set_memory_high(Cg *cg, uint64_t bytes);
int cg_set_memory_max(Cg *cg, uint64_t bytes);
int cg_get_memory_high(Cg *cg, uint64_t *ret);
int cg_get_memory_max(Cg *cg, uint64_t *ret);
/* memory.reclaim (v2 only). Blocks in the kernel: never call it on the event loop thread. */
int cg_reclaim(Cg *cg, uint64_t bytes);

CgTier cg_tier(const Cg *cg);
/* Absolute path of the workload leaf in the memory hierarchy (/sys/fs/cgroup/... ). */
const char *cg_leaf_path(const Cg *cg);
/* The leaf's path as the kernel's log names its memcg, where that differs from cg_leaf_path() in more
 * than a prefix (attach through /proc/PID/root: "/../x.scope" from /proc/PID/cgroup); else NULL. */
const char *cg_memcg_path(const Cg *cg);
/* Absolute path of the leaf's memory.pressure, or NULL; for $MEMORY_PRESSURE_WATCH. */
const char *cg_pressure_path(const Cg *cg);
/* Directory in the unified tree used for PSI, cgroup.events and cgroup.kill: the leaf itself on v2,
 * its twin under the cgroup2 mount on hybrid v1 hosts, NULL when there is none. */
const char *cg_unified_leaf_path(const Cg *cg);
/* The line for the log at start: tier, why, leaf. */
const char *cg_describe(const Cg *cg);

/* Removes every leaf created (after the workload is gone; moves the supervisor back on v2), closes
 * fds, frees. NULL-safe, returns NULL. */
Cg *cg_free(Cg *cg);
DEFINE_TRIVIAL_CLEANUP_FUNC(Cg *, cg_free)
