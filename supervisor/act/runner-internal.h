/* SPDX-License-Identifier: MIT */
/* What the runner (runner.c) shares with its executors (executor-*.c): the ActionRunner itself, the
 * record of outcomes, the list of actions that report later, and one entry point per executor. Not
 * for use outside act/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "actions.h"
#include "actuator.h"
#include "hook.h"
#include "reclaim.h"
#include "webhook.h"

typedef struct Pending Pending;

/* An action that started and reports later (hook, webhook, reclaim, dump). */
struct Pending {
        Pending *next;
        ActionRunner *runner;
        PolicyActionKind kind;
        unsigned stage;
        PolicyWhen when;
        Hook *hook;
        char label[80];         /* "exec /bin/sh", "webhook http://...", for the exit drain's log */
        uint64_t deadline_usec; /* CLOCK_MONOTONIC end through its own timeouts, USEC_INFINITY: none */
        bool cancelled;         /* given up on at exit; the outcome says so */
        /* dump: memory.max to restore; restore_max false when nothing was raised */
        bool restore_max;
        uint64_t old_max;
};

typedef struct QueuedDecision {
        PolicyDecision d;
        OomlessSample s;
} QueuedDecision;

struct ActionRunner {
        sd_event *event;
        Actuator *act; /* borrowed; NULL: cgroup actions are skipped */
        Control *control;
        const Policy *policy;
        bool dry_run;
        size_t webhook_queue_max;
        ActionCallbacks cb;

        Webhook *webhook;
        Reclaimer *reclaimer;
        sd_event_source *resume_source;
        Pending *pending;

        /* Decisions behind a running dump, oldest first (a ring). */
        bool barrier;
        QueuedDecision queue[ACTIONS_QUEUE_MAX];
        size_t queue_head, queue_len;

        /* Stage bookkeeping from the last transition. */
        unsigned stage, prev_stage;

        /* The control page's supervisor half as we last published it. */
        unsigned published_stage;
        uint64_t heap_cap, wake_watermark;
        /* The two sources of wake_watermark, which is the lower of those set: the heap cap's (where
         * the heap puts nonfile past the built-in restart line) and the policy's next level. */
        uint64_t cap_watermark, level_watermark;
        uint32_t budget_permille, weight; /* shed and weight actions, the budget's climb */
        bool stopping; /* oomless is to stop the workload: not ready, whatever the stage */
        bool said_no_allocator;

        /* throttle: memory.high before the stage set it, per level */
        bool high_saved[POLICY_STAGES_MAX + 1];
        uint64_t high_before[POLICY_STAGES_MAX + 1];

        ActionRecord ring[ACTIONS_RING_SIZE];
        size_t ring_next, ring_len;
        /* Every outcome since start, by kind: the ring forgets, the metrics' counters must not. */
        uint64_t counts[_POLICY_ACTION_KIND_MAX][_ACTION_OUTCOME_MAX];

        /* who we are, for webhook payloads and the hook environment (ActionRunnerConfig) */
        char instance_id[ACTIONS_INSTANCE_ID_MAX];
        char **command;
};

/* ---- runner.c ---- */

const char *runner_kind_name(PolicyActionKind k);
const char *runner_when_name(PolicyWhen w);
const char *runner_stage_name(const ActionRunner *r, unsigned level);
/* The workload's main pid from the manager, 0 when none runs. */
pid_t runner_main_pid(const ActionRunner *r);
/* The workload leaf for messages and the hook environment; "" when there is none. */
const char *runner_leaf(const ActionRunner *r);

/* Records one outcome: fmt starts with the outcome word ("ok", "failed", "skipped", "would"), then
 * ": detail" (anything else counts as failed). One log line each. */
void runner_record(ActionRunner *r, PolicyActionKind kind, unsigned stage, PolicyWhen when, const char *fmt,
                   ...) _printf_(5, 6);
#define RECORD(r, d, ...) runner_record((r), (d)->action->kind, (d)->stage, (d)->when, __VA_ARGS__)
#define PRECORD(p, ...)   runner_record((p)->runner, (p)->kind, (p)->stage, (p)->when, __VA_ARGS__)

/* Registers an action that reports later; NULL on OOM. pending_done() frees it and tells the manager
 * when nothing is left running. */
Pending *pending_new(ActionRunner *r, const PolicyDecision *d);
/* pending_new() that records "failed: out of memory" itself when it returns NULL. */
Pending *pending_start(ActionRunner *r, const PolicyDecision *d);
void pending_free(Pending *p);
void pending_done(Pending *p);
/* A dump ended: lets the decisions queued behind it run, from the loop. */
void runner_barrier_lift(ActionRunner *r);

/* Every executor records the decision's outcome (now, or when it reports later). s is the sample the
 * decision was made on. */
typedef void (*Executor)(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);

/* ---- executor-signal.c: signal, kill, restart ---- */
void executor_signal(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_kill(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_restart(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);

/* ---- executor-hook.c: exec, dump ---- */
void executor_exec(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
/* Sets r->barrier when the hook started: the decisions after it wait until it ended. */
void executor_dump(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
/* Puts memory.max back after a dump (or when the runner is freed); describes it in buf. */
void executor_dump_restore_max(ActionRunner *r, Pending *p, char *buf, size_t len);

/* ---- executor-webhook.c ---- */
void executor_webhook(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);

/* ---- executor-budget.c: shed, weight ---- */
void executor_shed(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_weight(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);

/* ---- executor-memory.c: notify, scavenge, reclaim, throttle ---- */
/* Writes the control page's supervisor half as it stands; 0 without a control page. */
int runner_publish(ActionRunner *r);
/* The environment given to exec and dump hooks (see executor-hook.c for the variable list). */
int executor_hook_env(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s, char ***ret);
/* The JSON body of a webhook. */
char *executor_webhook_body(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_notify(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_scavenge(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_reclaim(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
void executor_throttle(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s);
