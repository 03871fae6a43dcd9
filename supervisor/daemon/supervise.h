/* SPDX-License-Identifier: MIT */
/*
 * Supervision: the policy's side of the supervisor, without the loop. Owns the Policy, its evaluation
 * state, the restart state, the dry-run flag, the kernel OOM-kill accounting and the heap cap last
 * published. Every input is explicit (the sample, the time, whether a workload runs, how it ended) and
 * every output is returned (the decisions for the action runner, the restart verdict and its delay);
 * the log lines that belong to a decision are written here. Nothing here touches the event loop, the
 * cgroup or the action runner, so it runs under a fake clock in tests/daemon/test-supervise.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "oomless/sample.h"
#include "policy.h"
#include "status.h"
#include "units.h"

typedef struct Supervise Supervise;

/* Called by supervise_reload() after the swap to np and before the old Policy is freed, so whoever
 * borrowed it (the action runner) can move over first. */
typedef void (*SupervisePolicyChanged)(const Policy *np, bool dry_run, void *userdata);

typedef struct SuperviseConfig {
        const char *policy_path; /* NULL: the built-in policy */
        bool dry_run;            /* --dry-run; the policy's own dry_run is or'ed in */
        bool run;                /* run mode: between two runs of the workload nothing is decided */
        SizeSpec heap_cap;       /* --heap-cap; unset: nothing is published unless heap_cap_auto */
        bool heap_cap_auto;      /* --heap-cap=auto (the default): the live cap, see supervise_heap_cap() */
        bool user_heap_cap;      /* OOMLESS_HEAP_CAP is set by the user: never publish over it */
        SupervisePolicyChanged policy_changed;
        void *userdata;
} SuperviseConfig;

/* Outputs of one tick, child exit or reset: the decisions to hand to the action runner (in order) and
 * the stage change, if any (already logged). */
typedef struct SuperviseDecisions {
        PolicyDecisions ds;
        PolicyTransition t;
        /* The budget controller took a step (of the climb back, or back to normal after a reset):
         * publish budget_permille through the runner (a shed decision carries its own). */
        bool budget_step;
        uint32_t budget_permille;
} SuperviseDecisions;

typedef enum SuperviseVerdict {
        SUPERVISE_STOP,    /* do not restart: oomless exits with the workload's status */
        SUPERVISE_RESTART, /* start it again after the delay */
        SUPERVISE_GIVE_UP, /* too many restarts: oomless exits POLICY_EXIT_GAVE_UP */
} SuperviseVerdict;

/* Loads the policy (cfg->policy_path or the built-in one) with its stage clock starting at now_usec.
 * A bad file prints its diagnostics; errors are logged. */
int supervise_new(const SuperviseConfig *cfg, uint64_t now_usec, Supervise **ret);
Supervise *supervise_free(Supervise *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Supervise *, supervise_free)

const Policy *supervise_policy(const Supervise *s);
bool supervise_dry_run(const Supervise *s);
/* The sampling interval the policy asks for, 0 for no opinion. */
uint64_t supervise_interval(const Supervise *s);
/* The policy's PSI trigger arm strings, at most max; returns how many. */
size_t supervise_psi_triggers(const Supervise *s, const char **ret, size_t max);

/* The heap cap to publish for this sample, or 0 when nothing new is to be published (--heap-cap=none,
 * the user's own OOMLESS_HEAP_CAP, an unknown limit, or about the cap published already). With
 * --heap-cap=auto, the live rule: the effective limit minus what the cgroup holds outside the heap
 * (nonfile minus the heap held, the least over the last 100 ms and the sample before) minus a reserve (1/64
 * of the limit, at least 4M), never under the allocator's floor; republished when it moves by 1/256 of the
 * limit. *ret_watermark is where the allocator wakes us: 85% of the limit, or with auto, the heap at which
 * nonfile passes SUPERVISE_WAKE_PERMYRIAD. Call supervise_heap_cap_published() once it is out. */
#define SUPERVISE_HEAP_RESERVE_MIN (UINT64_C(4) << 20)
/* With the live cap, the allocator wakes us when its heap puts nonfile past this share of the limit
 * (permyriad), the built-in policy's restart line. */
#define SUPERVISE_WAKE_PERMYRIAD 9400
/* "Outside the heap" is the least of the samples within this window and the one before (at most
 * this many of them): one sample's is too high while the heap grows faster than the allocator
 * publishes it. */
#define SUPERVISE_OUTSIDE_WINDOW_USEC (100 * USEC_PER_MSEC)
#define SUPERVISE_OUTSIDE_SLOTS       16
uint64_t supervise_heap_cap(Supervise *s, const OomlessSample *sample, uint64_t *ret_watermark);
void supervise_heap_cap_published(Supervise *s, uint64_t cap);
/* Forgets the samples behind "outside the heap": a new workload process, or a new target. */
void supervise_heap_cap_reset(Supervise *s);

/* One sample at now_usec: counts kernel OOM kills inside the leaf toward max_restarts while a
 * workload runs, then evaluates the policy unless this is run mode between two runs. Returns true when
 * *ret holds an evaluation (decisions to run, a transition to note). */
bool supervise_tick(Supervise *s, const OomlessSample *sample, bool child_running, uint64_t now_usec,
                    SuperviseDecisions *ret);

/* What the loop watches until the next sample (policy_watch() for the current stage against sample),
 * and when a running hold ends by the clock (UINT64_MAX: none). Returns the current stage. */
unsigned supervise_watch(const Supervise *s, const OomlessSample *sample, uint64_t now_usec,
                         PolicyWatch *ret, uint64_t *ret_deadline_usec);

/* The next stop of the workload is the restart action's (it restarts even with mode on-failure). */
void supervise_restart_requested(Supervise *s);

/* The workload ended with status (code, or 128+signal) at now_usec after starting at started_usec;
 * sample is the last one, for the log and the decisions. RESTART: *ret_delay_usec and, in *ret, the
 * stage reset's decisions (exit actions, throttle undos) to run before the next start. */
SuperviseVerdict supervise_child_exited(Supervise *s, int status, bool oom_killed, uint64_t started_usec,
                                        const OomlessSample *sample, uint64_t now_usec,
                                        uint64_t *ret_delay_usec, SuperviseDecisions *ret);

/* SIGHUP at now_usec: reloads the policy file. A bad file keeps the policy in force; a good one carries
 * the stage over, and the budget controller's episode where the new policy still sheds at its stage
 * (else the budget is back to normal: *ret then asks to publish it). Returns 0 when the new policy is
 * in force (the caller re-arms its PSI triggers, supervise_psi_triggers()), negative errno otherwise
 * (logged; *ret untouched). */
int supervise_reload(Supervise *s, uint64_t now_usec, SuperviseDecisions *ret);

/* What the metrics count about supervision, at now_usec. */
typedef struct SuperviseStats {
        unsigned stage;
        bool ready;                                 /* the current stage does not declare "ready": false */
        uint64_t transitions;                       /* stage changes since start */
        uint64_t oom_kills;                         /* kernel OOM kills seen in the leaf since start */
        uint64_t stage_usec[POLICY_STAGES_MAX + 1]; /* time at each level, the current stay included */
        PolicyBudget budget;                        /* the budget controller's state */
        uint32_t weight;                            /* the weight the actions set, 0..100 */
} SuperviseStats;
void supervise_stats(Supervise *s, uint64_t now_usec, SuperviseStats *ret);

/* The budget controller's state and the weight (what the page carries, or would in dry-run). */
const PolicyBudget *supervise_budget(const Supervise *s);
uint32_t supervise_weight(const Supervise *s);

/* The policy's part of `oomless status` at now_usec: name, dry run, stage, its name and age, the
 * budget controller and the weight. */
void supervise_status(const Supervise *s, uint64_t now_usec, StatusInfo *info);
