/* SPDX-License-Identifier: MIT */
/*
 * The stage machine: turns a sample and the time into a level change and the actions to run. Pure:
 * all time comes from the caller, all memory is allocated in policy_state_new().
 *
 * Hold timers: each stage's enter and exit condition remembers since when it has been true. An enter
 * condition holds once it has been true for its "for" duration, counted from no earlier than the last
 * time the stage was left (so a stage cannot bounce straight back in); an exit condition holds once it
 * has been true for "for" within the current stage.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-internal.h"

#define NEVER UINT64_MAX

/* Time since t, 0 if the caller's clock went backwards (a contract violation that must not turn
 * into a huge unsigned difference). */
static uint64_t elapsed(uint64_t now, uint64_t t)
{
        return now > t ? now - t : 0;
}

/* In PolicySignal order from POLICY_SIGNAL_EV_HIGH: the allocator's cap hits ride along with the
 * kernel's counters, so one history serves every "within" count. */
enum { EV_HIGH, EV_MAX, EV_OOM, EV_OOMKILL, EV_CAPHITS, _EV_N };

/* The history of working_set_rate and nonfile_rate: one point per RATE_SPACING at most, so the ring
 * spans POLICY_RATE_WINDOW_MAX_USEC however often the supervisor samples (a wake can sample every
 * 5 ms). */
#define RATE_POINTS  256
#define RATE_SPACING (POLICY_RATE_WINDOW_MAX_USEC / (RATE_POINTS - 16))

typedef struct RatePoint {
        uint64_t t;
        uint64_t ws, nonfile;
} RatePoint;

typedef struct EventPoint {
        uint64_t t;
        uint64_t c[_EV_N];
} EventPoint;

typedef struct StageHold {
        uint64_t enter_since; /* NEVER while the enter condition is false */
        uint64_t exit_since;
        uint64_t left_at; /* last time this stage was left downwards, 0 if never */
} StageHold;

struct PolicyState {
        unsigned stage;
        uint64_t stage_since;
        uint64_t dwell_since; /* max_dwell counts from here (stage entry or last dwell actions) */
        uint64_t last_action; /* last action of the current stage, for cooldown; NEVER if none */
        uint64_t next_while;  /* when the while actions are due next */
        uint32_t entered;     /* bit s: on_enter of stage s ran and on_exit did not yet */

        StageHold hold[POLICY_STAGES_MAX + 1];

        /* memory.events change points, oldest first, as a ring. */
        EventPoint ev[POLICY_EVENT_HISTORY_MAX];
        size_t ev_head, ev_n;
        /* The last counters of each source, so that a source that is missing from one sample (the
         * allocator between runs) does not read as a counter going back. */
        uint64_t ev_last[_EV_N];

        RatePoint ws[RATE_POINTS];
        size_t ws_head, ws_n;

        bool trig_seen;
        uint64_t trig_count[OOMLESS_PSI_TRIGGERS_MAX];
        uint64_t trig_last_fire[OOMLESS_PSI_TRIGGERS_MAX]; /* NEVER until one fired */
};

static void holds_reset(PolicyState *s)
{
        for (size_t i = 0; i < ELEMENTSOF(s->hold); i++) {
                s->hold[i].enter_since = NEVER;
                s->hold[i].exit_since = NEVER;
        }
}

static void triggers_reset(PolicyState *s)
{
        s->trig_seen = false;
        for (size_t i = 0; i < OOMLESS_PSI_TRIGGERS_MAX; i++)
                s->trig_last_fire[i] = NEVER;
}

PolicyState *policy_state_new(const Policy *p, uint64_t now_usec)
{
        PolicyState *s = calloc(1, sizeof(PolicyState));

        (void)p; /* kept in the API so the state can size itself per policy later */
        if (!s)
                return NULL;
        s->stage_since = s->dwell_since = now_usec;
        s->last_action = NEVER;
        s->next_while = NEVER;
        holds_reset(s);
        triggers_reset(s);
        return s;
}

PolicyState *policy_state_free(PolicyState *s)
{
        free(s);
        return NULL;
}

PolicyState *policy_state_carry_over(const Policy *new_policy, const PolicyState *old)
{
        PolicyState *s = malloc(sizeof(PolicyState));
        if (!s)
                return NULL;
        *s = *old;
        if (s->stage > new_policy->n_stages) {
                s->stage = new_policy->n_stages;
                s->last_action = NEVER;
        }
        s->entered &= (uint32_t)((UINT64_C(2) << new_policy->n_stages) - 1);
        if (s->stage > 0 && new_policy->stages[s->stage - 1].while_.n > 0 && s->next_while == NEVER)
                s->next_while = s->stage_since + new_policy->stages[s->stage - 1].repeat_usec;
        holds_reset(s);
        /* Trigger indexes may mean different triggers now; the supervisor re-arms them. */
        triggers_reset(s);
        return s;
}

unsigned policy_state_stage(const PolicyState *s)
{
        return s->stage;
}

bool policy_state_exit_holds(const PolicyState *s, unsigned level)
{
        return level >= 1 && level <= POLICY_STAGES_MAX && s->hold[level].exit_since != NEVER;
}

uint64_t policy_state_stage_since_usec(const PolicyState *s)
{
        return s->stage_since;
}

/* ---- history ---- */

static void events_record(PolicyState *s, const OomlessSample *x, uint64_t now)
{
        uint64_t c[_EV_N];
        EventPoint *last;

        if (!x->events_valid && !x->heap_valid)
                return;
        memcpy(c, s->ev_last, sizeof(c));
        if (x->events_valid) {
                c[EV_HIGH] = x->ev_high;
                c[EV_MAX] = x->ev_max;
                c[EV_OOM] = x->ev_oom;
                c[EV_OOMKILL] = x->ev_oom_kill;
        }
        if (x->heap_valid)
                c[EV_CAPHITS] = x->heap_cap_hits;
        memcpy(s->ev_last, c, sizeof(c));
        if (s->ev_n > 0) {
                last = &s->ev[(s->ev_head + s->ev_n - 1) % POLICY_EVENT_HISTORY_MAX];
                if (memcmp(last->c, c, sizeof(c)) == 0)
                        return;
                for (int i = 0; i < _EV_N; i++)
                        if (c[i] < last->c[i]) {
                                /* Counters went back: a new cgroup. Start the history over. */
                                s->ev_n = 0;
                                break;
                        }
        }
        if (s->ev_n == POLICY_EVENT_HISTORY_MAX) {
                /* Dropping the oldest point can only under-count a window that already saw more
                 * than POLICY_EVENT_HISTORY_MAX changes. */
                s->ev_head = (s->ev_head + 1) % POLICY_EVENT_HISTORY_MAX;
                s->ev_n--;
        }
        EventPoint *e = &s->ev[(s->ev_head + s->ev_n) % POLICY_EVENT_HISTORY_MAX];
        e->t = now;
        memcpy(e->c, c, sizeof(c));
        s->ev_n++;
}

static void rate_record(PolicyState *s, const OomlessSample *x, uint64_t now)
{
        if (s->ws_n > 0) {
                const RatePoint *last = &s->ws[(s->ws_head + s->ws_n - 1) % RATE_POINTS];
                if (now < last->t + RATE_SPACING)
                        return;
        }
        if (s->ws_n == RATE_POINTS) {
                s->ws_head = (s->ws_head + 1) % RATE_POINTS;
                s->ws_n--;
        }
        s->ws[(s->ws_head + s->ws_n) % RATE_POINTS] = (RatePoint){ .t = now,
                                                                   .ws = oomless_sample_working_set(x),
                                                                   .nonfile = oomless_sample_nonfile(x) };
        s->ws_n++;
}

/* The growth of the working set (nonfile: of nonfile) in bytes per second over the last `window`, from
 * the newest point at least that old to the current sample. Unknown (false) until the history spans
 * half the window: a rate over a sliver of time is noise. Shrinking gives a negative rate. */
static bool rate_get(const PolicyState *s, const OomlessSample *x, uint64_t now, uint64_t window,
                     bool nonfile, double *ret)
{
        const RatePoint *base = NULL;
        uint64_t from = now > window ? now - window : 0;

        for (size_t i = 0; i < s->ws_n; i++) {
                const RatePoint *e = &s->ws[(s->ws_head + i) % RATE_POINTS];
                if (e->t > from)
                        break;
                base = e;
        }
        if (!base && s->ws_n > 0)
                base = &s->ws[s->ws_head];
        if (!base || elapsed(now, base->t) == 0 || elapsed(now, base->t) < window / 2)
                return false;
        double delta = nonfile ? (double)oomless_sample_nonfile(x) - (double)base->nonfile
                               : (double)oomless_sample_working_set(x) - (double)base->ws;

        *ret = delta * (double)USEC_PER_SEC / (double)elapsed(now, base->t);
        return true;
}

/* Increment of counter k within (now - window, now]. */
static bool events_increment(const PolicyState *s, int k, uint64_t now, uint64_t window, uint64_t *ret)
{
        const EventPoint *cur, *base;
        uint64_t from = now > window ? now - window : 0;

        if (s->ev_n == 0)
                return false;
        cur = &s->ev[(s->ev_head + s->ev_n - 1) % POLICY_EVENT_HISTORY_MAX];
        base = &s->ev[s->ev_head];
        for (size_t i = 0; i < s->ev_n; i++) {
                const EventPoint *e = &s->ev[(s->ev_head + i) % POLICY_EVENT_HISTORY_MAX];
                if (e->t > from)
                        break;
                base = e;
        }
        *ret = cur->c[k] - base->c[k];
        return true;
}

static void triggers_record(PolicyState *s, const Policy *p, const OomlessSample *x, uint64_t now)
{
        size_t n = MIN((size_t)x->psi_trigger_count, MIN(p->n_triggers, (size_t)OOMLESS_PSI_TRIGGERS_MAX));

        for (size_t i = 0; i < n; i++) {
                if (s->trig_seen && x->psi_trigger_fired[i] > s->trig_count[i])
                        s->trig_last_fire[i] = now;
                s->trig_count[i] = x->psi_trigger_fired[i];
        }
        if (n > 0)
                s->trig_seen = true;
}

/* ---- conditions ---- */

static bool compare_u128(__uint128_t a, PolicyOp op, __uint128_t b)
{
        switch (op) {
        case POLICY_OP_GE:
                return a >= b;
        case POLICY_OP_GT:
                return a > b;
        case POLICY_OP_LE:
                return a <= b;
        case POLICY_OP_LT:
                return a < b;
        default:
                return false;
        }
}

/* value vs spec, where a percent spec is relative to base; unknown (false) when base is unknown. */
static bool compare_size(uint64_t value, const PolicyCmp *c, uint64_t base)
{
        if (!c->size.percent)
                return compare_u128(value, c->op, c->size.bytes);
        if (base == 0 || base == OOMLESS_NO_LIMIT)
                return false;
        return compare_u128((__uint128_t)value * 10000, c->op, (__uint128_t)base * c->size.permyriad);
}

static bool compare_psi(bool valid, double avg, const PolicyCmp *c)
{
        /* Compare in hundredths, rounded, so that "20%" matches a kernel-reported 20.00 exactly. */
        if (!valid || !(avg >= 0.0))
                return false;
        uint64_t v = (uint64_t)(avg * 100.0 + 0.5);
        return compare_u128(v, c->op, c->centi);
}

static bool cmp_true(const Policy *p, const PolicyState *s, const PolicyCmp *c, const OomlessSample *x,
                     uint64_t now)
{
        uint64_t inc;

        switch (c->signal) {
        case POLICY_SIGNAL_MEMORY:
                return compare_size(x->current, c, x->limit);
        case POLICY_SIGNAL_HEADROOM:
                if (x->limit == 0 || x->limit == OOMLESS_NO_LIMIT)
                        return false;
                return compare_size(x->limit > x->current ? x->limit - x->current : 0, c, x->limit);
        case POLICY_SIGNAL_HEAP:
                if (!x->heap_valid)
                        return false;
                return compare_size(x->heap_held, c, x->heap_cap);
        case POLICY_SIGNAL_WORKING_SET:
                return compare_size(oomless_sample_working_set(x), c, x->limit);
        case POLICY_SIGNAL_KERNEL:
                return compare_size(x->kernel, c, x->limit);
        case POLICY_SIGNAL_NONFILE:
                return compare_size(oomless_sample_nonfile(x), c, x->limit);
        POLICY_RATE_SIGNAL_CASES : {
                double rate;
                if (!rate_get(s, x, now, c->within_usec, c->signal == POLICY_SIGNAL_NONFILE_RATE, &rate))
                        return false;
                /* Compare in whole bytes per second; a negative rate is below every threshold. */
                return compare_u128(rate <= 0 ? 0 : (__uint128_t)rate, c->op, c->size.bytes) &&
                       !(rate < 0 && (c->op == POLICY_OP_GE || c->op == POLICY_OP_GT));
        }
        case POLICY_SIGNAL_ANON:
                return compare_size(x->anon, c, x->limit);
        case POLICY_SIGNAL_FILE:
                return compare_size(x->file, c, x->limit);
        case POLICY_SIGNAL_SHMEM:
                return compare_size(x->shmem, c, x->limit);
        case POLICY_SIGNAL_SOME10:
                return compare_psi(x->psi_valid, x->psi_some.avg10, c);
        case POLICY_SIGNAL_SOME60:
                return compare_psi(x->psi_valid, x->psi_some.avg60, c);
        case POLICY_SIGNAL_FULL10:
                return compare_psi(x->psi_valid, x->psi_full.avg10, c);
        case POLICY_SIGNAL_FULL60:
                return compare_psi(x->psi_valid, x->psi_full.avg60, c);
        case POLICY_SIGNAL_HEAP_CAP_HITS:
                if (!events_increment(s, EV_CAPHITS, now, c->within_usec, &inc))
                        return false;
                return compare_u128(inc, c->op, c->count);
        case POLICY_SIGNAL_EV_HIGH:
        case POLICY_SIGNAL_EV_MAX:
        case POLICY_SIGNAL_EV_OOM:
        case POLICY_SIGNAL_EV_OOMKILL:
                if (!x->events_valid ||
                    !events_increment(s, c->signal - POLICY_SIGNAL_EV_HIGH, now, c->within_usec, &inc))
                        return false;
                return compare_u128(inc, c->op, c->count);
        case POLICY_SIGNAL_PSI_TRIGGER:
                if (c->trigger >= p->n_triggers || s->trig_last_fire[c->trigger] == NEVER)
                        return false;
                return elapsed(now, s->trig_last_fire[c->trigger]) <= c->within_usec;
        case POLICY_SIGNAL_STAGE_TIME:
                return compare_u128(elapsed(now, s->stage_since), c->op, c->usec);
        default:
                return false;
        }
}

static bool cond_true(const Policy *p, const PolicyState *s, const PolicyCond *c, const OomlessSample *x,
                      uint64_t now)
{
        if (!c->group)
                return cmp_true(p, s, &c->cmp, x, now);
        if (c->has_all)
                for (size_t i = 0; i < c->n_all; i++)
                        if (!cond_true(p, s, &c->all[i], x, now))
                                return false;
        if (c->has_any) {
                for (size_t i = 0; i < c->n_any; i++)
                        if (cond_true(p, s, &c->any[i], x, now))
                                return true;
                return false;
        }
        return true;
}

static void track(uint64_t *since, bool now_true, uint64_t now)
{
        if (!now_true)
                *since = NEVER;
        else if (*since == NEVER)
                *since = now;
}

static bool held(uint64_t since, uint64_t floor, uint64_t for_usec, uint64_t now)
{
        if (since == NEVER)
                return false;
        return elapsed(now, MAX(since, floor)) >= for_usec;
}

/* ---- decisions ---- */

static void emit(PolicyDecisions *d, unsigned stage, PolicyWhen when, const PolicyAction *a, bool undo)
{
        if (!d || d->n >= POLICY_DECISIONS_MAX)
                return;
        d->items[d->n++] = (PolicyDecision){ .stage = stage, .when = when, .action = a, .undo = undo };
}

static size_t emit_list(PolicyDecisions *d, unsigned stage, PolicyWhen when, const PolicyActionList *l)
{
        for (size_t i = 0; i < l->n; i++)
                emit(d, stage, when, &l->items[i], false);
        return l->n;
}

static void enter_stage(const Policy *p, PolicyState *s, unsigned to, PolicyReason reason, uint64_t now,
                        PolicyDecisions *d, PolicyTransition *t)
{
        const PolicyStage *st = &p->stages[to - 1];

        *t = (PolicyTransition){
                .changed = true, .from = s->stage, .to = to, .reason = reason, .at_usec = now
        };
        s->stage = to;
        s->stage_since = s->dwell_since = now;
        s->last_action = emit_list(d, to, POLICY_WHEN_ENTER, &st->on_enter) > 0 ? now : NEVER;
        s->next_while = st->while_.n > 0 ? now + st->repeat_usec : NEVER;
        s->entered |= UINT32_C(1) << to;
}

/* Runs on_exit and undoes throttles of every entered stage above `to`, highest first. */
static void leave_down_to(const Policy *p, PolicyState *s, unsigned to, uint64_t now, PolicyDecisions *d)
{
        for (unsigned l = s->stage; l > to; l--) {
                const PolicyStage *st = &p->stages[l - 1];

                s->hold[l].left_at = now;
                if (!(s->entered & (UINT32_C(1) << l)))
                        continue;
                emit_list(d, l, POLICY_WHEN_EXIT, &st->on_exit);
                for (size_t i = 0; i < st->on_enter.n; i++)
                        if (IN_SET(st->on_enter.items[i].kind, POLICY_ACTION_THROTTLE, POLICY_ACTION_WEIGHT))
                                emit(d, l, POLICY_WHEN_EXIT, &st->on_enter.items[i], true);
                s->entered &= ~(UINT32_C(1) << l);
        }
}

static void settle_down(const Policy *p, PolicyState *s, unsigned to, PolicyReason reason, uint64_t now,
                        PolicyTransition *t)
{
        *t = (PolicyTransition){
                .changed = true, .from = s->stage, .to = to, .reason = reason, .at_usec = now
        };
        s->stage = to;
        s->stage_since = s->dwell_since = now;
        s->last_action = NEVER;
        s->next_while =
            to > 0 && p->stages[to - 1].while_.n > 0 ? now + p->stages[to - 1].repeat_usec : NEVER;
}

/* ---- resolution ---- */

uint64_t policy_throttle_floor(const OomlessSample *x)
{
        uint64_t margin = POLICY_THROTTLE_MARGIN_MIN;

        if (x->limit != 0 && x->limit != OOMLESS_NO_LIMIT)
                margin = MAX(margin, x->limit / 32);
        return oomless_sample_working_set(x) + margin;
}

void policy_decision_resolve(PolicyDecision *d, const OomlessSample *x)
{
        const PolicyAction *a = d->action;

        d->resolved = true;
        d->bytes = 0;
        d->bytes_unknown = false;
        d->victim = POLICY_VICTIM_NONE;
        if (!a)
                return;
        switch (a->kind) {
        case POLICY_ACTION_THROTTLE:
                d->bytes = units_size_spec_resolve(&a->memory_high, x->limit);
                d->bytes_unknown = a->memory_high.percent && x->limit == OOMLESS_NO_LIMIT;
                /* memory.high below the working set makes the kernel reclaim what the workload is
                 * using: it stalls, and a healthy service is made sick. Never below what it needs. */
                if (!d->undo && !d->bytes_unknown && d->bytes != UINT64_MAX && x->current > 0)
                        d->bytes = MAX(d->bytes, policy_throttle_floor(x));
                break;
        case POLICY_ACTION_RECLAIM:
                d->bytes = units_size_spec_resolve(&a->amount,
                                                   x->limit != OOMLESS_NO_LIMIT ? x->limit : x->current);
                d->bytes_unknown = d->bytes == 0 || d->bytes == UINT64_MAX;
                break;
        case POLICY_ACTION_KILL:
                if (a->kill_scope == POLICY_KILL_PROCESS)
                        d->victim = POLICY_VICTIM_LARGEST_RSS;
                break;
        default:
                break;
        }
}

void policy_decisions_resolve(PolicyDecisions *ds, const OomlessSample *x)
{
        for (size_t i = 0; ds && i < ds->n; i++)
                policy_decision_resolve(&ds->items[i], x);
}

void policy_evaluate(const Policy *p, PolicyState *s, const OomlessSample *x, uint64_t now,
                     PolicyDecisions *ret_decisions, PolicyTransition *ret_transition)
{
        PolicyTransition t = { .from = s->stage, .to = s->stage, .at_usec = now };
        unsigned cur = s->stage, up = 0;

        if (ret_decisions)
                ret_decisions->n = 0;

        events_record(s, x, now);
        triggers_record(s, p, x, now);
        for (unsigned l = 1; l <= p->n_stages; l++) {
                const PolicyStage *st = &p->stages[l - 1];
                track(&s->hold[l].enter_since, cond_true(p, s, &st->enter.root, x, now), now);
                track(&s->hold[l].exit_since, cond_true(p, s, &st->exit.root, x, now), now);
        }

        rate_record(s, x, now);

        for (unsigned l = p->n_stages; l > cur; l--)
                if (held(s->hold[l].enter_since, s->hold[l].left_at, p->stages[l - 1].enter.for_usec, now)) {
                        up = l;
                        break;
                }

        if (up > 0) {
                /* Escalation is never held back by a cooldown: the next stage is the safety net. */
                enter_stage(p, s, up, POLICY_REASON_ENTER, now, ret_decisions, &t);
        } else if (cur > 0) {
                const PolicyStage *st = &p->stages[cur - 1];
                bool cooled = s->last_action == NEVER || elapsed(now, s->last_action) >= st->cooldown_usec;

                if (st->max_dwell_usec > 0 && elapsed(now, s->dwell_since) >= st->max_dwell_usec) {
                        if (st->dwell_next)
                                enter_stage(p, s, cur + 1, POLICY_REASON_MAX_DWELL, now, ret_decisions, &t);
                        else {
                                emit_list(ret_decisions, cur, POLICY_WHEN_DWELL, &st->on_max_dwell);
                                s->dwell_since = now;
                                s->last_action = now;
                        }
                } else if (cooled && held(s->hold[cur].exit_since, s->stage_since, st->exit.for_usec, now)) {
                        unsigned to = p->recovery_direct ? 0 : cur - 1;
                        leave_down_to(p, s, to, now, ret_decisions);
                        settle_down(p, s, to, POLICY_REASON_EXIT, now, &t);
                } else if (cooled && st->while_.n > 0 && now >= s->next_while) {
                        emit_list(ret_decisions, cur, POLICY_WHEN_WHILE, &st->while_);
                        s->next_while = now + st->repeat_usec;
                        s->last_action = now;
                }
        }

        policy_decisions_resolve(ret_decisions, x);
        if (ret_transition)
                *ret_transition = t;
}

void policy_state_reset(const Policy *p, PolicyState *s, uint64_t now, PolicyDecisions *ret_decisions,
                        PolicyTransition *ret_transition)
{
        PolicyTransition t = { .from = s->stage, .to = s->stage, .at_usec = now };

        if (ret_decisions)
                ret_decisions->n = 0;
        if (s->stage > 0) {
                leave_down_to(p, s, 0, now, ret_decisions);
                settle_down(p, s, 0, POLICY_REASON_RESET, now, &t);
        }
        s->entered = 0;
        holds_reset(s);
        for (size_t i = 0; i < ELEMENTSOF(s->hold); i++)
                s->hold[i].left_at = 0;
        s->ev_n = 0;
        s->ev_head = 0;
        memset(s->ev_last, 0, sizeof(s->ev_last));
        /* The new run's working set starts over: its growth from the old one's is no trend. */
        s->ws_n = 0;
        s->ws_head = 0;
        triggers_reset(s);
        if (ret_transition)
                *ret_transition = t;
}

static void earliest(uint64_t *best, uint64_t t, uint64_t now)
{
        if (t > now && t < *best)
                *best = t;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t policy_state_next_deadline(const Policy *p, const PolicyState *s, uint64_t now)
{
        uint64_t best = UINT64_MAX;
        unsigned cur = s->stage;

        for (unsigned l = cur + 1; l <= p->n_stages; l++)
                if (s->hold[l].enter_since != NEVER)
                        earliest(&best,
                                 add_sat(MAX(s->hold[l].enter_since, s->hold[l].left_at),
                                         p->stages[l - 1].enter.for_usec),
                                 now);
        if (cur > 0 && cur <= p->n_stages) {
                const PolicyStage *st = &p->stages[cur - 1];
                uint64_t cooled = s->last_action == NEVER ? 0 : add_sat(s->last_action, st->cooldown_usec);

                if (s->hold[cur].exit_since != NEVER)
                        earliest(
                            &best,
                            MAX(add_sat(MAX(s->hold[cur].exit_since, s->stage_since), st->exit.for_usec),
                                cooled),
                            now);
                if (st->max_dwell_usec > 0)
                        earliest(&best, add_sat(s->dwell_since, st->max_dwell_usec), now);
                if (st->while_.n > 0)
                        earliest(&best, MAX(s->next_while, cooled), now);
        }
        return best;
}
