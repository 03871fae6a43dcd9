/* SPDX-License-Identifier: MIT */
/* The action runner: dispatches decisions to the executors in order, holds them in a queue behind a
 * running dump (the barrier), keeps the outcome ring and its status JSON, and drains what still runs
 * at exit. See actions.h for the contract and runner-internal.h for what the executors share. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "runner-internal.h"
#include "strv.h"
#include "time-util.h"

/* clang-format off */
DEFINE_STRING_TABLE_TO_STRING(action_outcome, ActionOutcome, _ACTION_OUTCOME_MAX,
                              [ACTION_OUTCOME_OK] = "ok",
                              [ACTION_OUTCOME_FAILED] = "failed",
                              [ACTION_OUTCOME_SKIPPED] = "skipped",
                              [ACTION_OUTCOME_WOULD] = "would")
/* clang-format on */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

const char *runner_kind_name(PolicyActionKind k)
{
        return policy_action_kind_to_string(k) ?: "?";
}

const char *runner_when_name(PolicyWhen w)
{
        return policy_when_to_string(w) ?: "?";
}

const char *runner_stage_name(const ActionRunner *r, unsigned level)
{
        const char *n = r->policy ? policy_stage_name(r->policy, level) : NULL;
        return n ?: (level == 0 ? "normal" : "?");
}

pid_t runner_main_pid(const ActionRunner *r)
{
        return r->cb.get_main_pid ? r->cb.get_main_pid(r->cb.userdata) : 0;
}

const char *runner_leaf(const ActionRunner *r)
{
        return actuator_leaf_path(r->act) ?: "";
}

/* ---- the outcome ring --------------------------------------------------------------------------- */

/* The current stage declares "ready": false (never in dry-run: that publishes nothing new), or oomless
 * was told to stop the workload (not a policy action: in dry-run too). */
static bool runner_not_ready(const ActionRunner *r)
{
        return r->stopping || (!r->dry_run && r->policy && !policy_stage_ready(r->policy, r->stage));
}

int actions_set_stopping(ActionRunner *r)
{
        if (r->stopping)
                return 0;
        r->stopping = true;
        return runner_publish(r);
}

/* Writes the runner's half of what the control page carries: the stage, the cap, the watermark, the
 * budget, the weight and the readiness. */
int runner_publish(ActionRunner *r)
{
        unsigned count = r->policy ? policy_stage_count(r->policy) : 0;

        if (!r->control)
                return 0;
        return control_publish(r->control, r->published_stage, MAX(count, r->published_stage), r->heap_cap,
                               r->wake_watermark, r->dry_run, r->budget_permille, r->weight,
                               runner_not_ready(r));
}

static void record_outcome(ActionRunner *r, PolicyActionKind kind, unsigned stage, PolicyWhen when,
                           ActionOutcome outcome, const char *detail)
{
        ActionRecord *rec = &r->ring[r->ring_next];
        LogLevel level = outcome == ACTION_OUTCOME_FAILED ? LOG_LEVEL_WARNING : LOG_LEVEL_NOTICE;

        *rec = (ActionRecord){
                .kind = kind,
                .stage = stage,
                .when = when,
                .outcome = outcome,
                .realtime_usec = now_usec(CLOCK_REALTIME),
        };
        snprintf(rec->detail, sizeof(rec->detail), "%s", detail);
        r->ring_next = (r->ring_next + 1) % ACTIONS_RING_SIZE;
        r->ring_len = MIN(r->ring_len + 1, (size_t)ACTIONS_RING_SIZE);
        if ((unsigned)kind < _POLICY_ACTION_KIND_MAX)
                r->counts[kind][outcome]++;

        log_struct(level,
                   LOG_FIELDS(LOG_STR("event", "action"), LOG_STR("action", runner_kind_name(kind)),
                              LOG_U64("stage", stage), LOG_STR("stage_name", runner_stage_name(r, stage)),
                              LOG_STR("when", runner_when_name(when)),
                              LOG_STR("outcome", action_outcome_table[outcome]),
                              LOG_STR("detail", rec->detail), LOG_BOOL("dry_run", r->dry_run)),
                   "Action %s of stage %u%s%s%s on %s: %s: %s", runner_kind_name(kind), stage,
                   r->policy ? " (" : "", r->policy ? runner_stage_name(r, stage) : "", r->policy ? ")" : "",
                   runner_when_name(when), action_outcome_table[outcome], detail);
}

void runner_record(ActionRunner *r, PolicyActionKind kind, unsigned stage, PolicyWhen when, const char *fmt,
                   ...)
{
        char buf[ACTIONS_DETAIL_MAX + 16];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        for (ActionOutcome o = 0; o < _ACTION_OUTCOME_MAX; o++) {
                size_t n = strlen(action_outcome_table[o]);
                if (strncmp(buf, action_outcome_table[o], n) == 0 && strncmp(buf + n, ": ", 2) == 0) {
                        record_outcome(r, kind, stage, when, o, buf + n + 2);
                        return;
                }
        }
        record_outcome(r, kind, stage, when, ACTION_OUTCOME_FAILED, buf);
}

uint64_t actions_count(const ActionRunner *r, PolicyActionKind kind, ActionOutcome outcome)
{
        if (!r || (unsigned)kind >= _POLICY_ACTION_KIND_MAX || (unsigned)outcome >= _ACTION_OUTCOME_MAX)
                return 0;
        return r->counts[kind][outcome];
}

size_t actions_records(const ActionRunner *r, const ActionRecord **ret, size_t max)
{
        size_t n = MIN(max, r->ring_len);
        for (size_t i = 0; i < n; i++)
                ret[i] = &r->ring[(r->ring_next + ACTIONS_RING_SIZE - 1 - i) % ACTIONS_RING_SIZE];
        return n;
}

cJSON *actions_status_json(const ActionRunner *r)
{
        const ActionRecord *recs[ACTIONS_RING_SIZE];
        size_t n = actions_records(r, recs, ACTIONS_RING_SIZE);
        cJSON *a = cJSON_CreateArray();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();
                if (!o) {
                        cJSON_Delete(a);
                        return NULL;
                }
                cJSON_AddStringToObject(o, "action", runner_kind_name(recs[i]->kind));
                cJSON_AddNumberToObject(o, "stage", recs[i]->stage);
                cJSON_AddStringToObject(o, "when", runner_when_name(recs[i]->when));
                cJSON_AddStringToObject(o, "outcome", action_outcome_table[recs[i]->outcome]);
                cJSON_AddStringToObject(o, "detail", recs[i]->detail);
                cJSON_AddItemToArray(a, o);
        }
        return a;
}

/* ---- actions that report later ------------------------------------------------------------------ */

/* How long an action may run through its own timeouts, with a little slack so that an outcome it
 * reaches by itself wins over the exit drain's cancel. */
static uint64_t action_bound(const PolicyAction *a)
{
        const uint64_t slack = 500 * USEC_PER_MSEC;
        uint64_t t, backoff, total;

        switch (a->kind) {
        case POLICY_ACTION_EXEC:
        case POLICY_ACTION_DUMP:
                if (a->timeout_usec == 0)
                        return USEC_INFINITY;
                return add_sat(add_sat(a->timeout_usec, HOOK_KILL_GRACE_DEFAULT), slack);
        case POLICY_ACTION_WEBHOOK:
                t = a->timeout_usec ?: WEBHOOK_TIMEOUT_DEFAULT;
                backoff = a->backoff_usec ?: WEBHOOK_BACKOFF_DEFAULT;
                total = t;
                for (unsigned i = 0; i < a->retries; i++) {
                        total = add_sat(total, add_sat(MIN(backoff, WEBHOOK_BACKOFF_MAX_DEFAULT), t));
                        backoff = add_sat(backoff, backoff);
                }
                return add_sat(total, slack);
        case POLICY_ACTION_RECLAIM:
                return a->timeout_usec == 0 ? USEC_INFINITY : add_sat(a->timeout_usec, slack);
        default:
                return USEC_INFINITY;
        }
}

Pending *pending_new(ActionRunner *r, const PolicyDecision *d)
{
        const PolicyAction *a = d->action;
        const char *what = NULL;
        Pending *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->runner = r;
        p->kind = a->kind;
        if (IN_SET(a->kind, POLICY_ACTION_EXEC, POLICY_ACTION_DUMP) && a->argv)
                what = a->argv[0];
        else if (a->kind == POLICY_ACTION_WEBHOOK)
                what = a->url;
        if (what)
                snprintf(p->label, sizeof(p->label), "%s %s", runner_kind_name(a->kind), what);
        else
                snprintf(p->label, sizeof(p->label), "%s", runner_kind_name(a->kind));
        p->deadline_usec = add_sat(now_usec(CLOCK_MONOTONIC), action_bound(a));
        p->stage = d->stage;
        p->when = d->when;
        p->next = r->pending;
        r->pending = p;
        return p;
}

Pending *pending_start(ActionRunner *r, const PolicyDecision *d)
{
        Pending *p = pending_new(r, d);
        if (!p)
                RECORD(r, d, "failed: out of memory");
        return p;
}

void pending_free(Pending *p)
{
        ActionRunner *r = p->runner;
        for (Pending **i = &r->pending; *i; i = &(*i)->next)
                if (*i == p) {
                        *i = p->next;
                        break;
                }
        free(p);
}

/* After an asynchronous outcome: tell the manager when nothing is left running. */
static void maybe_idle(ActionRunner *r)
{
        if (!actions_busy(r) && r->cb.idle)
                r->cb.idle(r->cb.userdata);
}

void pending_done(Pending *p)
{
        ActionRunner *r = p->runner;
        pending_free(p);
        maybe_idle(r);
}

/* ---- dispatch and the dump barrier -------------------------------------------------------------- */

static const Executor executors[_POLICY_ACTION_KIND_MAX] = {
        [POLICY_ACTION_NOTIFY] = executor_notify,     [POLICY_ACTION_SIGNAL] = executor_signal,
        [POLICY_ACTION_EXEC] = executor_exec,         [POLICY_ACTION_WEBHOOK] = executor_webhook,
        [POLICY_ACTION_SCAVENGE] = executor_scavenge, [POLICY_ACTION_RECLAIM] = executor_reclaim,
        [POLICY_ACTION_THROTTLE] = executor_throttle, [POLICY_ACTION_RESTART] = executor_restart,
        [POLICY_ACTION_KILL] = executor_kill,         [POLICY_ACTION_DUMP] = executor_dump,
        [POLICY_ACTION_SHED] = executor_shed,         [POLICY_ACTION_WEIGHT] = executor_weight,
};

/* Runs one decision now; a dump sets the barrier for the ones after it. */
static void run_one(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        PolicyActionKind k = d->action->kind;

        if (k >= 0 && k < _POLICY_ACTION_KIND_MAX && executors[k])
                executors[k](r, d, s);
        else
                RECORD(r, d, "failed: unknown action kind %d", (int)k);
}

/* Takes the oldest queued decision off the queue into *ret; false when it is empty. */
static bool queue_pop(ActionRunner *r, QueuedDecision *ret)
{
        if (r->queue_len == 0)
                return false;
        *ret = r->queue[r->queue_head];
        r->queue_head = (r->queue_head + 1) % ACTIONS_QUEUE_MAX;
        r->queue_len--;
        return true;
}

/* Records every queued decision as skipped with the reason and empties the queue. */
static void queue_drop(ActionRunner *r, const char *reason)
{
        QueuedDecision q;
        while (queue_pop(r, &q))
                RECORD(r, &q.d, "skipped: %s", reason);
}

static void queue_resume(ActionRunner *r)
{
        QueuedDecision q;
        while (!r->barrier && queue_pop(r, &q))
                run_one(r, &q.d, &q.s);
}

static int on_resume(sd_event_source *s, void *userdata)
{
        ActionRunner *r = userdata;

        r->resume_source = sd_event_source_disable_unref(r->resume_source);
        queue_resume(r);
        maybe_idle(r);
        return 0;
}

/* The decisions behind a finished dump run from the loop, not from inside whoever reported the hook's
 * end (that may be the manager's own SIGCHLD reaper, which a restart must not re-enter). */
void runner_barrier_lift(ActionRunner *r)
{
        int q;

        r->barrier = false;
        if (r->resume_source || r->queue_len == 0)
                return;
        q = sd_event_add_defer(r->event, &r->resume_source, on_resume, r);
        if (q < 0) {
                log_warning_errno(q, "Cannot defer the actions queued behind a dump, running them now: %m");
                queue_resume(r);
        }
}

int actions_execute(ActionRunner *r, const PolicyDecision *d, const OomlessSample *sample)
{
        if (!r || !d || !d->action || !sample)
                return -EINVAL;
        /* Behind a running dump, or behind decisions still waiting for their deferred turn. */
        if (r->barrier || r->queue_len > 0) {
                if (r->queue_len >= ACTIONS_QUEUE_MAX) {
                        RECORD(r, d, "skipped: %u decisions already wait behind a running dump",
                               (unsigned)ACTIONS_QUEUE_MAX);
                        return 0;
                }
                r->queue[(r->queue_head + r->queue_len) % ACTIONS_QUEUE_MAX] =
                    (QueuedDecision){ .d = *d, .s = *sample };
                r->queue_len++;
                return 0;
        }
        run_one(r, d, sample);
        return 0;
}

int actions_execute_all(ActionRunner *r, const PolicyDecisions *ds, const OomlessSample *sample)
{
        if (!ds)
                return -EINVAL;
        for (size_t i = 0; i < ds->n; i++) {
                int q = actions_execute(r, &ds->items[i], sample);
                if (q < 0)
                        return q;
        }
        return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

int actions_new(const ActionRunnerConfig *cfg, ActionRunner **ret)
{
        ActionRunner *r;

        if (!cfg || !cfg->event || !ret)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(cfg->event);
        r->act = cfg->actuator;
        r->control = cfg->control;
        r->policy = cfg->policy;
        r->dry_run = cfg->dry_run;
        r->webhook_queue_max = cfg->webhook_queue_max;
        r->budget_permille = OOMLESS_BUDGET_NORMAL;
        r->weight = OOMLESS_WEIGHT_NORMAL;
        r->cb = cfg->callbacks;
        snprintf(r->instance_id, sizeof(r->instance_id), "%s", cfg->instance_id ?: "");
        if (cfg->command && !(r->command = strv_copy(cfg->command))) {
                actions_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

void actions_set_policy(ActionRunner *r, const Policy *p)
{
        queue_drop(r, "the policy was reloaded first");
        r->policy = p;
}

void actions_set_dry_run(ActionRunner *r, bool dry_run)
{
        r->dry_run = dry_run;
        /* A reload into dry-run takes back what the policy had published: the stage stays 0, the
         * budget and the weight are the normal ones. */
        if (dry_run && (r->published_stage > 0 || r->budget_permille != OOMLESS_BUDGET_NORMAL ||
                        r->weight != OOMLESS_WEIGHT_NORMAL)) {
                r->published_stage = 0;
                r->budget_permille = OOMLESS_BUDGET_NORMAL;
                r->weight = OOMLESS_WEIGHT_NORMAL;
                (void)runner_publish(r);
        }
}

/* The lower of two watermarks, 0 being none. */
static uint64_t watermark_min(uint64_t a, uint64_t b)
{
        return a == 0 ? b : b == 0 ? a : MIN(a, b);
}

int actions_set_heap_cap(ActionRunner *r, uint64_t heap_cap, uint64_t wake_watermark)
{
        r->heap_cap = heap_cap;
        r->cap_watermark = wake_watermark;
        r->wake_watermark = watermark_min(r->cap_watermark, r->level_watermark);
        return runner_publish(r);
}

int actions_set_wake(ActionRunner *r, uint64_t above, uint64_t below)
{
        uint64_t w;
        int r1 = 0;

        if (!r->control)
                return 0;
        r->level_watermark = above;
        w = watermark_min(r->cap_watermark, above);
        if (r->wake_watermark != w) {
                r->wake_watermark = w;
                r1 = runner_publish(r);
        }
        int r2 = control_set_wake_below(r->control, below);
        return r1 < 0 ? r1 : r2;
}

void actions_note_transition(ActionRunner *r, const PolicyTransition *t)
{
        if (!t || !t->changed)
                return;
        r->prev_stage = t->from;
        r->stage = t->to;
        /* Recovery must reach the app even when the lower stage has no notify action of its own:
         * an app told to shed at stage 2 would otherwise stay degraded after the policy stepped down. */
        if (t->to < r->published_stage) {
                r->published_stage = t->to;
                (void)runner_publish(r);
        } else if (r->policy && !r->dry_run &&
                   policy_stage_ready(r->policy, t->from) != policy_stage_ready(r->policy, t->to))
                (void)runner_publish(r); /* the readiness flag follows the stage */
}

bool actions_busy(const ActionRunner *r)
{
        return r->pending || r->queue_len > 0;
}

ActionRunner *actions_free(ActionRunner *r)
{
        if (!r)
                return NULL;
        /* Drop what is in flight without calling back into a manager that is going away. */
        r->resume_source = sd_event_source_disable_unref(r->resume_source);
        r->webhook = webhook_free(r->webhook);
        r->reclaimer = reclaimer_free(r->reclaimer);
        while (r->pending) {
                Pending *p = r->pending;
                if (p->hook)
                        hook_cancel(p->hook);
                if (p->kind == POLICY_ACTION_DUMP && p->restore_max)
                        (void)actuator_set_memory_max(r->act, p->old_max);
                pending_free(p);
        }
        strv_free(r->command);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

/* ---- exit drain --------------------------------------------------------------------------------- */

unsigned actions_describe_running(const ActionRunner *r, char *buf, size_t len)
{
        unsigned n = 0;
        size_t used = 0;

        if (len > 0)
                buf[0] = 0;
        for (const Pending *p = r->pending; p; p = p->next, n++)
                if (used < len) {
                        int k = snprintf(buf + used, len - used, "%s%s", n > 0 ? ", " : "", p->label);
                        used += k > 0 ? (size_t)k : 0;
                }
        return n;
}

uint64_t actions_drain_deadline(const ActionRunner *r)
{
        uint64_t d = 0;

        for (const Pending *p = r->pending; p; p = p->next)
                d = MAX(d, p->deadline_usec);
        return d;
}

void actions_cancel_at_exit(ActionRunner *r)
{
        bool drop_webhooks = false, drop_reclaim = false;

        queue_drop(r, "cancelled at exit");
        r->resume_source = sd_event_source_disable_unref(r->resume_source);

        for (Pending *p = r->pending; p; p = p->next) {
                if (p->hook) {
                        /* Recorded by the hook's callback once it ended. */
                        p->cancelled = true;
                        hook_terminate(p->hook);
                } else if (p->kind == POLICY_ACTION_WEBHOOK)
                        drop_webhooks = true;
                else if (p->kind == POLICY_ACTION_RECLAIM)
                        drop_reclaim = true;
        }
        /* Freeing them takes the transfers off the curl multi handle and joins the reclaim worker,
         * neither calls back, so their outcomes are recorded here. */
        if (drop_webhooks)
                r->webhook = webhook_free(r->webhook);
        if (drop_reclaim)
                r->reclaimer = reclaimer_free(r->reclaimer);
        for (Pending *p = r->pending, *next; p; p = next) {
                next = p->next;
                if ((drop_webhooks && p->kind == POLICY_ACTION_WEBHOOK) ||
                    (drop_reclaim && p->kind == POLICY_ACTION_RECLAIM)) {
                        PRECORD(p, "failed: cancelled at exit: %s still running", p->label);
                        pending_free(p);
                }
        }
}
