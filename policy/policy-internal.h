/* SPDX-License-Identifier: MIT */
/* The in-memory form of a validated policy, shared by the parser, the printer and the evaluator. */
#pragma once

#include "policy.h"

/* The signals measured in bytes or in percent of the effective limit, as case labels, so that every
 * switch over signals lists them alike; policy_signal_is_size() answers the same question. */
#define POLICY_SIZE_SIGNAL_CASES                                                                            \
        case POLICY_SIGNAL_MEMORY:                                                                          \
        case POLICY_SIGNAL_HEADROOM:                                                                        \
        case POLICY_SIGNAL_HEAP:                                                                            \
        case POLICY_SIGNAL_WORKING_SET:                                                                     \
        case POLICY_SIGNAL_ANON:                                                                            \
        case POLICY_SIGNAL_FILE:                                                                            \
        case POLICY_SIGNAL_SHMEM:                                                                           \
        case POLICY_SIGNAL_KERNEL:                                                                          \
        case POLICY_SIGNAL_NONFILE

/* The signals that measure growth in bytes per second over a window ("within"). */
#define POLICY_RATE_SIGNAL_CASES                                                                            \
        case POLICY_SIGNAL_WS_RATE:                                                                         \
        case POLICY_SIGNAL_NONFILE_RATE

/* The signals that count increments of a counter within a window ("within"). */
#define POLICY_COUNT_SIGNAL_CASES                                                                           \
        case POLICY_SIGNAL_EV_HIGH:                                                                         \
        case POLICY_SIGNAL_EV_MAX:                                                                          \
        case POLICY_SIGNAL_EV_OOM:                                                                          \
        case POLICY_SIGNAL_EV_OOMKILL:                                                                      \
        case POLICY_SIGNAL_HEAP_CAP_HITS

/* The longest window of a rate: the evaluator keeps the working set's and nonfile's history this long. */
#define POLICY_RATE_WINDOW_MAX_USEC (10 * USEC_PER_SEC)

static inline bool policy_signal_is_rate(PolicySignal s)
{
        return s == POLICY_SIGNAL_WS_RATE || s == POLICY_SIGNAL_NONFILE_RATE;
}

/* Whether "within" applies to a signal: the counters, psi_trigger and the rates. */
static inline bool policy_signal_windowed(PolicySignal s)
{
        return s == POLICY_SIGNAL_PSI_TRIGGER || policy_signal_is_rate(s) ||
               (s >= POLICY_SIGNAL_EV_HIGH && s <= POLICY_SIGNAL_HEAP_CAP_HITS);
}

typedef enum PolicyOp {
        POLICY_OP_GE,
        POLICY_OP_GT,
        POLICY_OP_LE,
        POLICY_OP_LT,
        _POLICY_OP_MAX,
} PolicyOp;

/* One comparison "signal OP value". Which value field is used depends on the signal. */
typedef struct PolicyCmp {
        PolicySignal signal;
        PolicyOp op;
        SizeSpec size;        /* the size signals; rates: bytes per second (never a percent) */
        uint32_t centi;       /* PSI averages, hundredths of a percent (0..10000) */
        uint64_t count;       /* EV_* increments */
        uint64_t usec;        /* STAGE_TIME */
        uint64_t within_usec; /* EV_*, HEAP_CAP_HITS, PSI_TRIGGER, rates */
        unsigned trigger;     /* PSI_TRIGGER: index into Policy.triggers */
} PolicyCmp;

/* A node of a condition: a comparison, or a group that is true when all of .all (if present) and
 * at least one of .any (if present) are true. */
typedef struct PolicyCond {
        bool group;
        PolicyCmp cmp;
        bool has_all, has_any;
        struct PolicyCond *all, *any;
        size_t n_all, n_any;
} PolicyCond;

typedef struct PolicyCondition {
        PolicyCond root; /* always a group */
        uint64_t for_usec;
} PolicyCondition;

typedef struct PolicyActionList {
        PolicyAction *items;
        size_t n;
} PolicyActionList;

typedef struct PolicyStage {
        char *name;
        char *description; /* NULL when absent */
        PolicyCondition enter, exit;
        uint64_t max_dwell_usec; /* 0 = none */
        bool dwell_next;         /* on_max_dwell: "next" */
        PolicyActionList on_max_dwell;
        uint64_t cooldown_usec;
        uint64_t repeat_usec;
        PolicyActionList on_enter, while_, on_exit;
        bool ready; /* "ready": false makes the HTTP /readyz answer 503 while in this stage */
} PolicyStage;

struct Policy {
        char *name;
        char *description; /* NULL when absent */
        char *source;
        uint64_t interval_usec;
        bool dry_run;
        bool recovery_direct;
        char *http_listen; /* "http.listen", normalized (listen-addr.h); NULL: no HTTP endpoint */
        bool http_public;  /* "http.public": a non-loopback listen address is allowed */
        PolicyRestart restart;
        PolicyPsiTrigger triggers[OOMLESS_PSI_TRIGGERS_MAX];
        size_t n_triggers;
        PolicyStage stages[POLICY_STAGES_MAX]; /* stages[0] is level 1 */
        unsigned n_stages;
};

/* Action defaults, used by the parser to fill and by the printer (which always prints them). */
#define POLICY_DEFAULT_INTERVAL_USEC (250 * USEC_PER_MSEC)

/* The keys a comparison object may have: every signal name (indexed by PolicySignal), then "within",
 * "all", "any"; NULL-terminated. */
extern const char *const policy_cmp_keys[];
/* The action kind names, indexed by PolicyActionKind; NULL-terminated. */
extern const char *const policy_action_kinds[];

const char *policy_op_to_string(PolicyOp op);
bool policy_op_above(PolicyOp op); /* >= or > */

/* Formats a size spec the way the parser reads it back exactly: "70%", "12.5%", "256M", "1000". */
char *policy_format_size_spec(char *buf, size_t len, const SizeSpec *s);
/* Formats hundredths of a percent: "20%", "20.5%", "0.05%". */
char *policy_format_centi(char *buf, size_t len, uint32_t centi);
/* "SIGTERM", or the number for signals without a name. */
char *policy_format_signal(char *buf, size_t len, int sig);

void policy_cond_done(PolicyCond *c);
