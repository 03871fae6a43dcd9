/* SPDX-License-Identifier: MIT */
/*
 * The action runner: executes the policy engine's decisions (notify, signal, exec, webhook, scavenge,
 * reclaim, throttle, restart, kill, dump) against the workload, honours dry-run, and keeps the
 * outcome of each (ok, failed, skipped, would) in a bounded ring for `oomless status`, logging one
 * line per outcome. Decisions arrive resolved (policy_decision_resolve()): byte amounts are computed
 * against the sample and a kill of one process names its victim criterion, which the Actuator turns
 * into a pid when the kill runs.
 *
 * Files of act/:
 *   actions.h           this API
 *   runner.c            dispatch, the queue and the dump barrier, the outcome ring and its status
 *                       JSON, the exit drain (runner-internal.h: what the executors share with it)
 *   executor-signal.c   signal, kill, restart
 *   executor-hook.c     exec and dump, and the hook environment
 *   executor-webhook.c  webhook, and its JSON body
 *   executor-memory.c   notify, scavenge, reclaim, throttle
 *   actuator.h/.c       what the executors may do to the workload (an ops table; NULL-safe calls)
 *   actuator-cg.c       the Actuator over the host's Cg
 *   hook.c, webhook.c, reclaim.c   the mechanisms: child processes, curl multi, the reclaim worker
 *
 * Threading and ownership: event-loop thread only; nothing here blocks the loop. Hooks and dumps run
 * as children watched through pidfds (see hook.h for the reaping contract), webhooks go through curl
 * multi on the loop, reclaim runs on a worker thread. Decisions run in the order given; a dump is a
 * barrier: the decisions queued after it (e.g. a restart) wait until the evidence hook finished and
 * memory.max was restored. The runner borrows the Actuator, the Control and the Policy; a queued
 * decision points into its Policy, so on reload call actions_set_policy() (which drops decisions not
 * yet started) before freeing the old Policy.
 *
 * An action's timeout_usec bounds: exec/dump, the hook (then SIGTERM to its process group, SIGKILL
 * 2 s later); webhook, each attempt (retries and backoff as the action says); reclaim, the whole
 * request (checked between 16 MiB chunks). The other kinds finish synchronously. In dry-run every
 * kind records "would ..." and changes nothing, except that notify still publishes the stage on the
 * control page with OOMLESS_SUP_F_DRY_RUN set, which is what that flag exists for.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "actuator.h"
#include "control.h"
#include "macro.h"
#include "oomless/sample.h"
#include "policy.h"

#define ACTIONS_RING_SIZE       32  /* outcomes kept for status */
#define ACTIONS_QUEUE_MAX       64  /* decisions waiting behind a dump */
#define ACTIONS_DETAIL_MAX      200 /* bytes of an outcome's detail */
#define ACTIONS_INSTANCE_ID_MAX 33  /* 32 hex digits */

typedef enum ActionOutcome {
        ACTION_OUTCOME_OK,
        ACTION_OUTCOME_FAILED,
        ACTION_OUTCOME_SKIPPED,
        ACTION_OUTCOME_WOULD, /* dry-run */
        _ACTION_OUTCOME_MAX,
} ActionOutcome;

const char *action_outcome_to_string(ActionOutcome o); /* "ok", "failed", "skipped", "would" */

typedef struct ActionRecord {
        PolicyActionKind kind;
        unsigned stage;
        PolicyWhen when;
        ActionOutcome outcome;
        uint64_t realtime_usec; /* when the outcome was known */
        char detail[ACTIONS_DETAIL_MAX];
} ActionRecord;

/* Calls into the manager. Every member may be NULL. */
typedef struct ActionCallbacks {
        /* The workload's main pid, 0 when none runs. */
        pid_t (*get_main_pid)(void *userdata);
        /* The restart action: stop with stop_signal, wait grace_usec, kill the leaf, restart under the
         * restart policy. Returns negative errno when it cannot. */
        int (*request_restart)(void *userdata, int stop_signal, uint64_t grace_usec, const char *reason);
        /* notify ran: the stage the workload is told about (for $MEMORY_PRESSURE_WATCH-style
         * watchers). */
        void (*stage_notified)(void *userdata, unsigned stage, unsigned prev_stage);
        /* The last running or queued action finished (actions_busy() turned false), from the loop. */
        void (*idle)(void *userdata);
        void *userdata;
} ActionCallbacks;

typedef struct ActionRunnerConfig {
        sd_event *event;
        Actuator *actuator;       /* borrowed; may be NULL (tests), then cgroup actions are skipped */
        Control *control;         /* NULL when the workload runs without the allocator */
        const Policy *policy;     /* for stage names and the policy name; may be NULL */
        bool dry_run;             /* --dry-run or the policy's dry_run */
        size_t webhook_queue_max; /* 0 = WEBHOOK_QUEUE_MAX_DEFAULT */
        const char *instance_id;  /* the supervisor's instance id (webhook payload, hook env); may be NULL */
        char *const *command;     /* the workload's command line, copied; NULL when unknown */
        ActionCallbacks callbacks;
} ActionRunnerConfig;

typedef struct ActionRunner ActionRunner;

int actions_new(const ActionRunnerConfig *cfg, ActionRunner **ret);
ActionRunner *actions_free(ActionRunner *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(ActionRunner *, actions_free)

/* On reload: stage names come from the new policy; decisions still queued behind a dump are dropped
 * (recorded as skipped) because they point into the old one. */
void actions_set_policy(ActionRunner *r, const Policy *p);
void actions_set_dry_run(ActionRunner *r, bool dry_run);
/* The heap cap the control page carries along with the stage, and the cap's wake watermark (held
 * bytes; 0 = none). Republishes. */
int actions_set_heap_cap(ActionRunner *r, uint64_t heap_cap, uint64_t wake_watermark);
/* The allocator's wake thresholds (held bytes; 0 = none): above, the next enter threshold, and below,
 * the current stage's exit. The page's wake_watermark is the lower of above and the cap's watermark.
 * Republishes what changed. */
int actions_set_wake(ActionRunner *r, uint64_t above, uint64_t below);

/* oomless was told to stop the workload: the page says not ready from now on (oomless_ready() in the
 * app), as /readyz does. */
int actions_set_stopping(ActionRunner *r);
/* A step of the budget's climb back (the budget controller in supervise.c decided it): publishes
 * budget_permille. In dry-run nothing is published; returns 0 then, or without a control page. */
int actions_set_budget(ActionRunner *r, uint32_t budget_permille);
/* What the page carries (or would, in dry-run: then the page keeps the normal values). */
uint32_t actions_budget(const ActionRunner *r);
uint32_t actions_weight(const ActionRunner *r);

/* Tells the runner about a stage change before the decisions of that evaluation run, so hooks,
 * webhooks and notify see the current and previous stage. */
void actions_note_transition(ActionRunner *r, const PolicyTransition *t);

/* Executes one decision (or queues it behind a running dump). Returns 0 when it was started or
 * queued; the outcome is recorded asynchronously for hooks, webhooks, reclaim and dumps. Returns
 * negative errno only for invalid arguments: failures of the action itself are outcomes. */
int actions_execute(ActionRunner *r, const PolicyDecision *d, const OomlessSample *sample);
/* All decisions of one evaluation, in order. */
int actions_execute_all(ActionRunner *r, const PolicyDecisions *ds, const OomlessSample *sample);

/* True while a hook, webhook, reclaim or dump started by the runner is still running or queued. */
bool actions_busy(const ActionRunner *r);

/* Exit drain. The running actions as "exec /bin/sh, webhook http://..." (truncated to len); returns
 * how many run. */
unsigned actions_describe_running(const ActionRunner *r, char *buf, size_t len);
/* CLOCK_MONOTONIC time by which every running action ends through its own timeouts (a hook's timeout
 * plus its kill grace, a webhook's attempts and backoffs, a reclaim's timeout); USEC_INFINITY when
 * one has no timeout. */
uint64_t actions_drain_deadline(const ActionRunner *r);
/* Gives up on what still runs, recording "failed: cancelled at exit" for each: queued decisions are
 * skipped, webhooks and reclaims dropped at once, hooks get SIGTERM (SIGKILL after the grace) and are
 * recorded when they ended, after which the idle callback runs. */
void actions_cancel_at_exit(ActionRunner *r);

/* Outcomes of kind recorded since the runner started (what the ring has forgotten included). */
uint64_t actions_count(const ActionRunner *r, PolicyActionKind kind, ActionOutcome outcome);
/* The newest outcomes first, at most ACTIONS_RING_SIZE. */
size_t actions_records(const ActionRunner *r, const ActionRecord **ret, size_t max);
/* `oomless status` "recent_actions": [{"action","stage","when","outcome","detail"}], newest first. */
cJSON *actions_status_json(const ActionRunner *r);
