/* SPDX-License-Identifier: MIT */
/*
 * The policy engine's public API: parse and validate a JSON policy into an immutable Policy, print it
 * back normalized, and evaluate it against samples with a caller-supplied clock.
 *
 * Everything here is pure: no I/O, no clock, no logging, no global state. The supervisor reads the
 * file (supervisor/policy-file.h), takes samples, passes the time in, and executes the decisions.
 *
 * Lifetimes: a Policy is immutable after policy_parse() and owns every PolicyAction; the decisions
 * returned by policy_evaluate() point into it, so they stay valid as long as that Policy lives. On a
 * reload, build the new Policy, move the state over with policy_state_carry_over(), then free the old
 * Policy (after the executor stopped using its actions).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oomless/sample.h"
#include "units.h"

/* Hard limits on what a policy may contain, so that a hostile file cannot make us allocate or loop
 * without bound. The parser rejects anything beyond them with a message naming the limit. */
#define POLICY_FILE_SIZE_MAX  (1024 * 1024) /* bytes of JSON */
#define POLICY_JSON_DEPTH_MAX 32            /* nesting of JSON arrays/objects */
#define POLICY_COND_DEPTH_MAX 4             /* nesting of all/any groups inside one condition */
#define POLICY_COND_ITEMS_MAX 32            /* entries in one all/any list */
#define POLICY_STAGES_MAX     16            /* stages 1..N, not counting the normal level 0 */
#define POLICY_ACTIONS_MAX    16            /* actions in one on_enter/while/on_exit/on_max_dwell list */
#define POLICY_ARGV_MAX       64            /* entries of an exec/dump argv */
#define POLICY_STRING_MAX     4096          /* bytes of any string value */
#define POLICY_DIAGS_MAX      100           /* diagnostics kept; more are summarized in one line */
/* A webhook's own headers: how many, and the bytes of one value. */
#define POLICY_HEADERS_MAX      16
#define POLICY_HEADER_VALUE_MAX 1024
/* Decisions of one policy_evaluate() or policy_state_reset() call: the worst case leaves every stage at
 * once (on_exit plus one throttle undo per on_enter entry), so nothing is ever dropped. */
#define POLICY_DECISIONS_MAX     (POLICY_STAGES_MAX * 2 * POLICY_ACTIONS_MAX + POLICY_ACTIONS_MAX)
#define POLICY_EVENT_HISTORY_MAX 128 /* memory.events change points kept in PolicyState */
#define POLICY_RESTART_HISTORY   64  /* restart/OOM-kill timestamps kept in PolicyRestartState */

/* Exit status of `oomless run` when the restart policy gives up (max_restarts within window reached).
 * Distinct from 125/126/127 (oomless failed / not executable / not found) and from 128+signal. */
#define POLICY_EXIT_GAVE_UP 124

typedef struct Policy Policy;           /* immutable, opaque */
typedef struct PolicyState PolicyState; /* evaluation state, opaque */

/* ---- Diagnostics ---------------------------------------------------------------------------------- */

/* One problem found in a policy. Syntax errors carry line/column (1-based) and path == NULL; semantic
 * errors carry the JSON path ("stages[1].enter.all[0]", "" for the document root) and line == 0. */
typedef struct PolicyDiag {
        unsigned line, column;
        char *path;
        char *message; /* what is wrong, never NULL */
        char *hint;    /* how to fix it, or NULL */
} PolicyDiag;

typedef struct PolicyDiags {
        size_t n;
        PolicyDiag *items;
        size_t dropped; /* diagnostics beyond POLICY_DIAGS_MAX that were not kept */
} PolicyDiags;

/* Frees the contents and resets to empty; the struct itself is the caller's (usually on the stack). */
void policy_diags_done(PolicyDiags *d);
/* Adds one diagnostic (used by policy-file.c for file-level problems too). -ENOMEM on failure. */
int policy_diags_add(PolicyDiags *d, unsigned line, unsigned column, const char *path, const char *hint,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Renders one diagnostic as a single line without newline: "FILE:LINE:COL: msg (hint: ...)" for
 * syntax errors, "FILE: PATH: msg (hint: ...)" for semantic ones. filename may be NULL. Returns a
 * malloc'd string or NULL on OOM. */
char *policy_diag_format(const PolicyDiag *diag, const char *filename);

/* ---- Parsing, printing ---------------------------------------------------------------------------- */

/* Parses and validates buf (len bytes, need not be NUL-terminated; must be UTF-8). On success returns 0
 * and *ret_policy. On an invalid policy returns -EINVAL and fills *diags with every problem found (not
 * only the first). -ENOMEM on allocation failure. filename is only recorded (policy_source()).
 * *ret_policy is untouched on failure. diags must be zero-initialized by the caller. */
int policy_parse(const char *buf, size_t len, const char *filename, Policy **ret_policy, PolicyDiags *diags);

/* The built-in policy used when no --policy is given (see docs/policy.md). Never NULL except on OOM. */
Policy *policy_default(void);
/* The built-in policy as written (static, NUL-terminated); policy_to_json() gives the normalized form. */
const char *policy_default_json(void);

/* Normalized JSON of the policy with every default filled in, pretty-printed with a trailing newline.
 * It parses back to an identical Policy; printing that again yields byte-identical text. */
int policy_to_json(const Policy *p, char **ret_json);

Policy *policy_free(Policy *p);

/* Formats a duration the way policies write it, exactly and with the largest unit that divides it
 * ("30m", "1500ms", "0s"). Returns buf. */
char *policy_format_duration(char *buf, size_t len, uint64_t usec);

/* ---- Signals, conditions (exposed for status output and tests) ------------------------------------ */

typedef enum PolicySignal {
        POLICY_SIGNAL_MEMORY,        /* sample.current; bytes or % of sample.limit */
        POLICY_SIGNAL_HEADROOM,      /* sample.limit - sample.current; bytes or % of sample.limit */
        POLICY_SIGNAL_HEAP,          /* sample.heap_held; bytes or % of sample.heap_cap */
        POLICY_SIGNAL_WORKING_SET,   /* sample.current - sample.inactive_file (floor 0); bytes or % */
        POLICY_SIGNAL_ANON,          /* sample.anon; bytes or % of sample.limit */
        POLICY_SIGNAL_FILE,          /* sample.file (page cache); bytes or % of sample.limit */
        POLICY_SIGNAL_SHMEM,         /* sample.shmem (tmpfs, shared memory); bytes or % of sample.limit */
        POLICY_SIGNAL_KERNEL,        /* sample.kernel (slab, stacks, ...); bytes or % of sample.limit */
        POLICY_SIGNAL_NONFILE,       /* oomless_sample_nonfile(): current less all page cache; bytes or % */
        POLICY_SIGNAL_WS_RATE,       /* growth of the working set, bytes per second over a window (signed) */
        POLICY_SIGNAL_NONFILE_RATE,  /* growth of nonfile, bytes per second over a window (signed) */
        POLICY_SIGNAL_SOME10,        /* psi some avg10, percent */
        POLICY_SIGNAL_SOME60,        /* psi some avg60 */
        POLICY_SIGNAL_FULL10,        /* psi full avg10 */
        POLICY_SIGNAL_FULL60,        /* psi full avg60 */
        POLICY_SIGNAL_EV_HIGH,       /* memory.events high increments within a window */
        POLICY_SIGNAL_EV_MAX,        /* ... max */
        POLICY_SIGNAL_EV_OOM,        /* ... oom */
        POLICY_SIGNAL_EV_OOMKILL,    /* ... oom_kill */
        POLICY_SIGNAL_HEAP_CAP_HITS, /* allocations the allocator refused at the cap, within a window */
        POLICY_SIGNAL_PSI_TRIGGER,   /* a kernel PSI trigger fired within a window */
        POLICY_SIGNAL_STAGE_TIME,    /* time spent in the current stage */
        _POLICY_SIGNAL_MAX,
        _POLICY_SIGNAL_INVALID = -22,
} PolicySignal;

/* The JSON key naming a signal ("memory", "psi.full.avg10", "events.max", "psi_trigger", ...). */
const char *policy_signal_to_string(PolicySignal s);
/* Whether the signal is a size: bytes ("512M", "100B") or a percent ("80%"), never a bare number. */
bool policy_signal_is_size(PolicySignal s);

/* A kernel PSI trigger the supervisor must arm on the workload's memory.pressure file. Its index in
 * policy_psi_trigger() is the index into OomlessSample.psi_trigger_fired[]. */
typedef struct PolicyPsiTrigger {
        bool full;            /* "full" vs "some" */
        uint64_t stall_usec;  /* stall threshold within the window */
        uint64_t window_usec; /* tracking window, 500ms..10s */
        char arm[64];         /* what to write to memory.pressure, e.g. "full 100000 1000000" */
        char text[48];        /* as written in the policy, normalized: "full 100ms per 1s" */
} PolicyPsiTrigger;

/* ---- Actions -------------------------------------------------------------------------------------- */

typedef enum PolicyActionKind {
        POLICY_ACTION_NOTIFY,   /* publish the stage (control page, MEMORY_PRESSURE protocol, hook env) */
        POLICY_ACTION_SIGNAL,   /* send .signal to .target */
        POLICY_ACTION_EXEC,     /* run .argv (no shell) */
        POLICY_ACTION_WEBHOOK,  /* POST a JSON event to .url */
        POLICY_ACTION_SCAVENGE, /* ask the allocator to return free memory */
        POLICY_ACTION_RECLAIM,  /* write .amount to memory.reclaim */
        POLICY_ACTION_THROTTLE, /* set memory.high to .memory_high; undone on leaving the stage */
        POLICY_ACTION_RESTART,  /* .stop_signal, wait .grace, kill the leaf, restart per restart policy */
        POLICY_ACTION_KILL,     /* send .kill_signal to .kill_scope */
        POLICY_ACTION_DUMP,     /* run .argv with memory.max raised by .headroom while it runs */
        POLICY_ACTION_SHED,   /* publish the budget .shed_permille; it climbs back in steps (policy_budget_*)
                               */
        POLICY_ACTION_WEIGHT, /* publish the weight .weight; back to normal when the stage is left */
        _POLICY_ACTION_KIND_MAX,
        _POLICY_ACTION_KIND_INVALID = -22,
} PolicyActionKind;

typedef enum PolicySignalTarget {
        POLICY_TARGET_MAIN,  /* the main (child) process */
        POLICY_TARGET_GROUP, /* the main process's process group */
        POLICY_TARGET_LEAF,  /* every process in the leaf cgroup */
        _POLICY_TARGET_MAX,
        _POLICY_TARGET_INVALID = -22,
} PolicySignalTarget;

typedef enum PolicyKillScope {
        POLICY_KILL_PROCESS, /* the process with the largest RSS in the leaf */
        POLICY_KILL_GROUP,   /* the main process's process group */
        POLICY_KILL_LEAF,    /* every process in the leaf (cgroup.kill where available) */
        _POLICY_KILL_SCOPE_MAX,
        _POLICY_KILL_SCOPE_INVALID = -22,
} PolicyKillScope;

/* Plain data, owned by the Policy. Only the fields of .kind are meaningful; the parser fills every
 * default, so the executor never needs its own. Every action has a timeout after which the executor
 * gives up on it and records the outcome "failed". */
typedef struct PolicyAction {
        PolicyActionKind kind;
        uint64_t timeout_usec;

        /* SIGNAL */
        int signal;
        PolicySignalTarget target;

        /* EXEC, DUMP: NULL-terminated, argv[0] non-empty; run without a shell */
        char **argv;

        /* WEBHOOK */
        char *url; /* http:// or https:// */
        unsigned retries;
        uint64_t backoff_usec; /* delay before the first retry, doubled for each further one */
        bool tls_verify;
        char **headers;          /* "Name: value" lines, NULL-terminated; NULL when none */
        char *bearer_token_file; /* absolute path: "Authorization: Bearer <its content>", read per send */

        /* RECLAIM: bytes to reclaim, absolute or % of the effective limit (resolve with the sample) */
        SizeSpec amount;

        /* THROTTLE: memory.high to set, absolute or % of the effective limit */
        SizeSpec memory_high;

        /* RESTART */
        int stop_signal;
        uint64_t grace_usec; /* < timeout_usec */

        /* KILL */
        PolicyKillScope kill_scope;
        int kill_signal;

        /* DUMP: memory.max is raised by this many bytes while the hook runs, then restored */
        uint64_t headroom;

        /* SHED: the budget to shed to, permille of the app's normal size (1..1000); the climb back
         * adds step_permille every recover_every_usec (see policy_budget_*) */
        uint32_t shed_permille;
        uint32_t step_permille;
        uint64_t recover_every_usec;

        /* WEIGHT: the routing weight to publish, 0..100 (100 normal, "low" = POLICY_WEIGHT_LOW) */
        uint32_t weight;
} PolicyAction;

#define POLICY_WEIGHT_LOW    10u  /* "weight": "low" */
#define POLICY_WEIGHT_NORMAL 100u /* "weight": "normal" */

const char *policy_action_kind_to_string(PolicyActionKind k);
const char *policy_signal_target_to_string(PolicySignalTarget t);
const char *policy_kill_scope_to_string(PolicyKillScope s);

/* ---- Policy accessors ----------------------------------------------------------------------------- */

const char *policy_name(const Policy *p);
const char *policy_source(const Policy *p); /* filename given to policy_parse(), or "(built-in)" */
uint64_t policy_sampling_interval_usec(const Policy *p);
bool policy_dry_run(const Policy *p); /* the policy asks for dry-run; OR it with --dry-run */

size_t policy_psi_trigger_count(const Policy *p);
const PolicyPsiTrigger *policy_psi_trigger(const Policy *p, size_t i);

/* The HTTP endpoint the policy asks for ("http.listen", normalized HOST:PORT), NULL for none; and
 * whether it may listen beyond loopback ("http.public"). --listen and --listen-public override both. */
const char *policy_http_listen(const Policy *p);
bool policy_http_public(const Policy *p);

/* Number of stages N (levels 1..N); level 0 is "normal" and has no actions. */
unsigned policy_stage_count(const Policy *p);
/* "normal" for level 0, the stage's name for 1..N, NULL beyond. */
const char *policy_stage_name(const Policy *p, unsigned level);
/* The name of the first stage with an action of kind k (in any of its lists), NULL when none has. */
const char *policy_action_used(const Policy *p, PolicyActionKind k);
/* false while level declares "ready": false (the HTTP /readyz answers 503); true for level 0 and
 * beyond the last stage. */
bool policy_stage_ready(const Policy *p, unsigned level);

typedef enum PolicyRestartMode {
        POLICY_RESTART_NEVER,
        POLICY_RESTART_ON_FAILURE,
        POLICY_RESTART_ALWAYS,
        _POLICY_RESTART_MODE_MAX,
        _POLICY_RESTART_MODE_INVALID = -22,
} PolicyRestartMode;

typedef struct PolicyRestart {
        PolicyRestartMode mode;
        uint64_t initial_delay_usec; /* first restart delay; doubled per consecutive failure */
        uint64_t max_delay_usec;     /* cap of the doubling */
        uint64_t reset_after_usec;   /* a run at least this long resets the doubling */
        unsigned max_restarts;       /* restarts (plus kernel OOM kills) tolerated within window */
        uint64_t window_usec;
} PolicyRestart;

const PolicyRestart *policy_restart(const Policy *p);
const char *policy_restart_mode_to_string(PolicyRestartMode m);

/* ---- Evaluation ----------------------------------------------------------------------------------- */

typedef enum PolicyWhen {
        POLICY_WHEN_ENTER, /* the stage was entered */
        POLICY_WHEN_WHILE, /* repeated every stage.repeat while in the stage */
        POLICY_WHEN_EXIT,  /* the stage was left downwards (recovery) */
        POLICY_WHEN_DWELL, /* the stage's max_dwell elapsed and on_max_dwell names actions */
        _POLICY_WHEN_MAX,
        _POLICY_WHEN_INVALID = -22,
} PolicyWhen;

/* "enter", "while", "exit", "max_dwell" */
const char *policy_when_to_string(PolicyWhen w);

/* Whom a kill of one process picks. The decision names the criterion, not the pid: the executor
 * resolves it when the kill runs, because the processes may have changed while the decision waited
 * (e.g. behind a dump). */
typedef enum PolicyVictim {
        POLICY_VICTIM_NONE,        /* the decision kills no single process */
        POLICY_VICTIM_LARGEST_RSS, /* the member with the largest resident set, never the supervisor */
        _POLICY_VICTIM_MAX,
        _POLICY_VICTIM_INVALID = -22,
} PolicyVictim;

/* One action to execute. Decisions of one evaluation are ordered: run them in order; within one list
 * the policy author relies on that order (e.g. dump before restart).
 *
 * Everything the executor needs from the sample is resolved here (policy_decision_resolve(), which
 * policy_evaluate() calls), so the executor only acts: it never reads percentages or picks victims. */
typedef struct PolicyDecision {
        unsigned stage; /* level the action belongs to, 1..N */
        PolicyWhen when;
        const PolicyAction *action;
        bool undo; /* THROTTLE: restore memory.high to what it was before this stage set it; WEIGHT:
                    * back to POLICY_WEIGHT_NORMAL */
        /* SHED: the budget to publish, permille, as the budget controller decided it (the caller
         * fills it in; policy_budget_shed()). 0 means the action's own shed_permille. */
        uint32_t budget_permille;

        bool resolved; /* the fields below are filled in */
        /* THROTTLE: the memory.high to set (UINT64_MAX for "max"), never below policy_throttle_floor();
         * RECLAIM: the bytes to reclaim (a
         * percentage of the effective limit, or of memory.current when there is no limit). */
        uint64_t bytes;
        /* .bytes could not be resolved: THROTTLE, a percentage of an unknown limit; RECLAIM, the amount
         * came to nothing or to an unknown limit. The executor skips the action. */
        bool bytes_unknown;
        PolicyVictim victim; /* KILL: whom scope "process" picks; POLICY_VICTIM_NONE otherwise */
} PolicyDecision;

typedef struct PolicyDecisions {
        size_t n;
        PolicyDecision items[POLICY_DECISIONS_MAX];
} PolicyDecisions;

typedef enum PolicyReason {
        POLICY_REASON_NONE,
        POLICY_REASON_ENTER,     /* a higher stage's enter condition held */
        POLICY_REASON_EXIT,      /* the current stage's exit condition held (recovery) */
        POLICY_REASON_MAX_DWELL, /* escalated to the next stage after max_dwell */
        POLICY_REASON_RESET,     /* policy_state_reset() */
        _POLICY_REASON_MAX,
} PolicyReason;

const char *policy_reason_to_string(PolicyReason r);

typedef struct PolicyTransition {
        bool changed;
        unsigned from, to;
        PolicyReason reason;
        uint64_t at_usec;
} PolicyTransition;

/* A fresh state at level 0. now_usec starts the clock of level 0. NULL on OOM. */
PolicyState *policy_state_new(const Policy *p, uint64_t now_usec);
PolicyState *policy_state_free(PolicyState *s);

/* For a reload: a state for new_policy that keeps the current level (clamped to the new stage count),
 * its entry time, the throttles in force and the memory.events history; hold timers start over because
 * the conditions changed. old_state stays valid (free it yourself). NULL on OOM. */
PolicyState *policy_state_carry_over(const Policy *new_policy, const PolicyState *old_state);

unsigned policy_state_stage(const PolicyState *s);
uint64_t policy_state_stage_since_usec(const PolicyState *s);
/* Whether the exit condition of stage level held on the last evaluated sample (its "for" not counted).
 * Evaluated for every stage on every sample, so it answers for a stage already left too. */
bool policy_state_exit_holds(const PolicyState *s, unsigned level);

/* The earliest time after now_usec at which a hold that is running ends by the clock alone: an enter
 * or exit "for", a cooldown in the way of an exit or of the while actions, max_dwell, repeat.
 * UINT64_MAX when none runs. The loop evaluates again then, so a hold is decided at its end, not at
 * the next tick; the conditions are checked again on that sample as on any other. */
uint64_t policy_state_next_deadline(const Policy *p, const PolicyState *s, uint64_t now_usec);

/* ---- What to watch between samples (policy-watch.c) ------------------------------------------------ */

/* The memory levels (in the sample's `current` figure, bytes) at which the next evaluation may change
 * the stage: the lowest level at which a comparison on memory or headroom in the enter condition of a
 * stage above the current one turns true, and the highest level under which one in the current stage's
 * exit condition does. Percentages are resolved against the sample's limit (skipped when unknown). */
typedef struct PolicyWatch {
        uint64_t above; /* UINT64_MAX: none */
        uint64_t below; /* 0: none */
        /* The usage below which no stage above can be entered, whatever the other signals say (every
         * enter condition needs memory at least this high): 0 when some can be entered at any usage,
         * UINT64_MAX when none can be entered at all (e.g. percentages of an unknown limit). */
        uint64_t guard;
} PolicyWatch;

void policy_watch(const Policy *p, unsigned stage, const OomlessSample *sample, PolicyWatch *ret);

/* Growth the adaptive interval assumes at least, and at most (earlyoom's worst case), bytes/s. */
#define POLICY_ADAPT_MIN_RATE   (UINT64_C(256) << 20)
#define POLICY_ADAPT_WORST_RATE UINT64_C(6000000000)

/* The sampling interval for headroom_bytes left before the nearest watched level, when the usage grew
 * by rate_bytes_per_sec since the last sample: half the time the headroom lasts at the larger of four
 * times that rate and POLICY_ADAPT_MIN_RATE (capped at POLICY_ADAPT_WORST_RATE), clamped to
 * [floor_usec, max_usec]. Pure. */
uint64_t policy_adaptive_interval(uint64_t headroom_bytes, uint64_t rate_bytes_per_sec, uint64_t floor_usec,
                                  uint64_t max_usec);

/* Evaluates one sample at time now_usec (monotonic, never going back; the sample's own timestamp is
 * not used for timing). Updates *s, appends the actions to run to *ret_decisions (which it resets
 * first) and describes any level change in *ret_transition. Both out parameters may be NULL. At most
 * one level change per call: upward to the highest stage whose enter condition holds (skipping
 * levels), or max_dwell escalation by one, or downward by one level (or to 0 with "recovery":
 * "direct") when the current stage's exit condition holds and its cooldown passed. */
void policy_evaluate(const Policy *p, PolicyState *s, const OomlessSample *sample, uint64_t now_usec,
                     PolicyDecisions *ret_decisions, PolicyTransition *ret_transition);

/* The lowest memory.high a throttle sets: the working set plus a margin (1/32 of the limit, at least
 * POLICY_THROTTLE_MARGIN_MIN), so that throttling slows growth but never reclaims what is in use. */
#define POLICY_THROTTLE_MARGIN_MIN (UINT64_C(4) << 20)
uint64_t policy_throttle_floor(const OomlessSample *sample);

/* Fills the resolved fields of d (see PolicyDecision) from its action and the sample. Pure and
 * idempotent. */
void policy_decision_resolve(PolicyDecision *d, const OomlessSample *sample);
/* The same for every decision in ds. */
void policy_decisions_resolve(PolicyDecisions *ds, const OomlessSample *sample);

/* Back to level 0 at now_usec, e.g. after the workload was restarted: emits the exit actions and
 * throttle undos of the stages that were active, forgets hold timers and the event history (the new
 * workload's counters start over). It has no sample: resolve its decisions with
 * policy_decisions_resolve() against the last one before executing them. */
void policy_state_reset(const Policy *p, PolicyState *s, uint64_t now_usec, PolicyDecisions *ret_decisions,
                        PolicyTransition *ret_transition);

/* ---- The budget controller (policy-budget.c) ------------------------------------------------------ */

#define POLICY_BUDGET_FULL      1000u /* permille: the app's normal size */
#define POLICY_BUDGET_STEP_MIN  25u   /* the smallest climb step, permille */
#define POLICY_BUDGET_FLOOR_MIN 50u   /* a re-entry lowers the floor no further than this */

typedef enum PolicyBudgetPhase {
        POLICY_BUDGET_NORMAL,  /* full budget, no shed in force */
        POLICY_BUDGET_SHED,    /* at the floor while the shedding stage is current */
        POLICY_BUDGET_CLIMB,   /* the stage was left: one step per recover_every while its exit holds */
        POLICY_BUDGET_SETTLED, /* reached the ceiling below the level that failed; stays there */
        _POLICY_BUDGET_PHASE_MAX,
        _POLICY_BUDGET_PHASE_INVALID = -22,
} PolicyBudgetPhase;

/* The controller's state; plain data, initialize with policy_budget_init(). Permille throughout. */
typedef struct PolicyBudget {
        PolicyBudgetPhase phase;
        unsigned stage;          /* the level whose shed started the episode; 0 when normal */
        uint32_t budget;         /* in force */
        uint32_t floor;          /* where a climb starts: the shed's "to", lowered by each re-entry */
        uint32_t step;           /* one climb step: the shed's "step", halved by each re-entry */
        uint32_t ceiling;        /* where a climb stops: full, or the last level that held */
        uint32_t failed;         /* the level at which pressure last came back; 0: none yet */
        uint64_t every_usec;     /* recover_every */
        uint64_t next_step_usec; /* when the next step is due if the exit condition keeps holding */
        unsigned sheds;          /* shed actions applied */
        unsigned reentries;      /* sheds that came during a climb (or after settling) */
        unsigned steps;          /* climb steps taken */
} PolicyBudget;

const char *policy_budget_phase_to_string(PolicyBudgetPhase p);
void policy_budget_init(PolicyBudget *b);
/* The shed action a of stage `stage` runs at now_usec. Returns the budget to publish. */
uint32_t policy_budget_shed(PolicyBudget *b, const PolicyAction *a, unsigned stage, uint64_t now_usec);
/* One sample: level is the current level, exit_holds whether the shedding stage's exit condition holds
 * (policy_state_exit_holds()). Returns true when the budget changed (one climb step). */
bool policy_budget_tick(PolicyBudget *b, unsigned level, bool exit_holds, uint64_t now_usec);
/* A reload to p at now_usec (the stage numbers carry over, policy_state_carry_over()). An episode
 * goes on only when level b->stage of p still sheds on entering: from the budget in force, with what
 * it learned (ceiling, failed level), at the new action's step and recover_every and with its floor.
 * Otherwise (that stage is gone, or sheds no more) the budget is back to normal at once. Returns true
 * when the budget in force changed: publish b->budget. */
bool policy_budget_revalidate(PolicyBudget *b, const Policy *p, uint64_t now_usec);

/* ---- Restart policy ------------------------------------------------------------------------------- */

/* How the workload's main process ended. */
typedef struct PolicyExit {
        bool signaled; /* died of .signal, else exited with .code */
        int code;
        int signal;
        bool oom_killed;       /* the kernel OOM killer killed it (memory.events oom_kill rose) */
        bool requested;        /* ended because a restart action asked for it */
        uint64_t started_usec; /* when this run started (for reset_after) */
} PolicyExit;

/* Zero-initialize ({0}) before the first use; the functions below keep it up to date. */
typedef struct PolicyRestartState {
        unsigned consecutive;                    /* failures in a row (runs shorter than reset_after) */
        size_t n_events;                         /* entries used in events[] */
        uint64_t events[POLICY_RESTART_HISTORY]; /* restart / OOM-kill times, oldest first */
        unsigned total_restarts;                 /* since the supervisor started, for status */
} PolicyRestartState;

typedef enum PolicyRestartVerdict {
        POLICY_RESTART_VERDICT_RESTART, /* start again after *ret_delay_usec */
        POLICY_RESTART_VERDICT_STOP,    /* do not restart; oomless exits with the child's status */
        POLICY_RESTART_VERDICT_GIVE_UP, /* too many restarts within window: exit POLICY_EXIT_GAVE_UP */
        _POLICY_RESTART_VERDICT_MAX,
} PolicyRestartVerdict;

const char *policy_restart_verdict_to_string(PolicyRestartVerdict v);

/* Decides what to do after the main process ended at now_usec. A requested restart (restart action)
 * restarts even with mode on-failure and exit code 0; mode never never restarts (the parser rejects
 * restart actions with mode never). Records the restart in *st when the verdict is RESTART. */
PolicyRestartVerdict policy_restart_decide(const Policy *p, PolicyRestartState *st, const PolicyExit *exit,
                                           uint64_t now_usec, uint64_t *ret_delay_usec);

/* A kernel OOM kill inside the leaf that did not end the main process still counts toward
 * max_restarts within the window. */
void policy_restart_note_oom_kill(const Policy *p, PolicyRestartState *st, uint64_t now_usec);

/* The largest part of the working set, named for people: "anon" (heaps, stacks), "shmem" (tmpfs,
 * shared memory), "kernel" (slab, stacks, page tables), "file" (page cache in active use). NULL when
 * the sample has no breakdown. */
const char *policy_memory_cause(const OomlessSample *sample);
/* Whether a restart would leave the trouble in place: shmem (tmpfs files, shared memory) holds at
 * least half of nonfile (file cache is not the trouble), and it outlives the processes that wrote
 * it. */
bool policy_restart_futile(const OomlessSample *sample);

/* Exit status of `oomless run` when the workload was stopped, once and for good, because restarting
 * it would not free its memory (policy_restart_futile()): tmpfs or shared memory fills the limit. */
#define POLICY_EXIT_SHMEM 123
