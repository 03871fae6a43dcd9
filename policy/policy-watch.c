/* SPDX-License-Identifier: MIT */
/*
 * What the loop watches between samples: the memory levels at which the stage machine may move (the
 * allocator's wake thresholds and v1's kernel thresholds are armed there), and the adaptive sampling
 * interval that stands in for kernel thresholds where there are none (cgroup v2). Pure.
 */
#include "macro.h"
#include "policy-internal.h"

/* The byte level of a size spec against base, rounded up; false when a percent has no base. */
static bool spec_level(const SizeSpec *sz, uint64_t base, uint64_t *ret)
{
        if (!sz->percent) {
                *ret = sz->bytes;
                return true;
        }
        if (base == 0 || base == OOMLESS_NO_LIMIT)
                return false;
        __uint128_t v = ((__uint128_t)base * sz->permyriad + 9999) / 10000;
        *ret = v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
        return true;
}

/* Signals that are current less some cache, so never above current. */
static bool below_current(PolicySignal s)
{
        return s == POLICY_SIGNAL_WORKING_SET || s == POLICY_SIGNAL_NONFILE;
}

/* Folds one comparison into *w: where `current` makes it turn true, upward (enter) or downward (exit). */
static void watch_cmp(const PolicyCmp *c, const OomlessSample *x, bool enter, PolicyWatch *w)
{
        uint64_t v, level;
        bool up;

        if (c->signal == POLICY_SIGNAL_MEMORY || below_current(c->signal)) {
                /* The working set and nonfile are current less some cache, never more than current:
                 * they cannot rise past a level before current does, so an upward level is watched
                 * on current (early at worst). A downward one cannot be: current may stay above it,
                 * held by cache, while the working set is already below. */
                if (!spec_level(&c->size, x->limit, &v))
                        return;
                up = policy_op_above(c->op);
                if (below_current(c->signal) && !(enter && up))
                        return;
                /* current >= v, current > v, current <= v, current < v */
                level = c->op == POLICY_OP_GT || c->op == POLICY_OP_LE ? (v == UINT64_MAX ? v : v + 1) : v;
        } else if (c->signal == POLICY_SIGNAL_HEADROOM) {
                if (x->limit == 0 || x->limit == OOMLESS_NO_LIMIT || !spec_level(&c->size, x->limit, &v))
                        return;
                /* headroom = limit - current: a ceiling on headroom is a floor on current. */
                up = !policy_op_above(c->op);
                if (v > x->limit)
                        v = x->limit;
                level = x->limit - v;
                if (c->op == POLICY_OP_LT || c->op == POLICY_OP_GE)
                        level++;
        } else
                return;

        if (enter && up)
                w->above = MIN(w->above, level);
        else if (!enter && !up)
                w->below = MAX(w->below, level);
}

static void watch_cond(const PolicyCond *c, const OomlessSample *x, bool enter, PolicyWatch *w)
{
        if (!c->group) {
                watch_cmp(&c->cmp, x, enter, w);
                return;
        }
        for (size_t i = 0; c->has_all && i < c->n_all; i++)
                watch_cond(&c->all[i], x, enter, w);
        for (size_t i = 0; c->has_any && i < c->n_any; i++)
                watch_cond(&c->any[i], x, enter, w);
}

/* The usage below which c cannot be true: 0 when there is no such floor, UINT64_MAX when it cannot be
 * true at all (a percentage of an unknown limit compares false). */
static uint64_t need(const PolicyCond *c, const OomlessSample *x)
{
        uint64_t r = 0, v;

        if (!c->group) {
                const PolicyCmp *m = &c->cmp;
                bool unknown = x->limit == 0 || x->limit == OOMLESS_NO_LIMIT;
                /* nonfile <= working_set <= current: a floor on either is one on current too. */
                if (m->signal == POLICY_SIGNAL_MEMORY || below_current(m->signal)) {
                        if (m->size.percent && unknown)
                                return UINT64_MAX;
                        if (!policy_op_above(m->op) || !spec_level(&m->size, x->limit, &v))
                                return 0;
                        return m->op == POLICY_OP_GT && v != UINT64_MAX ? v + 1 : v;
                }
                if (m->signal == POLICY_SIGNAL_HEADROOM) {
                        if (unknown)
                                return UINT64_MAX;
                        if (policy_op_above(m->op) || !spec_level(&m->size, x->limit, &v))
                                return 0;
                        v = MIN(v, x->limit);
                        return x->limit - v + (m->op == POLICY_OP_LT ? 1 : 0);
                }
                return 0;
        }
        for (size_t i = 0; c->has_all && i < c->n_all; i++)
                r = MAX(r, need(&c->all[i], x));
        if (c->has_any) {
                uint64_t a = UINT64_MAX;
                for (size_t i = 0; i < c->n_any; i++)
                        a = MIN(a, need(&c->any[i], x));
                r = MAX(r, a);
        }
        return r;
}

void policy_watch(const Policy *p, unsigned stage, const OomlessSample *x, PolicyWatch *ret)
{
        PolicyWatch w = { .above = UINT64_MAX, .below = 0, .guard = UINT64_MAX };

        for (unsigned l = stage + 1; l <= p->n_stages; l++) {
                watch_cond(&p->stages[l - 1].enter.root, x, true, &w);
                w.guard = MIN(w.guard, need(&p->stages[l - 1].enter.root, x));
        }
        if (stage > 0 && stage <= p->n_stages)
                watch_cond(&p->stages[stage - 1].exit.root, x, false, &w);
        *ret = w;
}

uint64_t policy_adaptive_interval(uint64_t headroom, uint64_t rate, uint64_t floor_usec, uint64_t max_usec)
{
        uint64_t assumed = rate > POLICY_ADAPT_WORST_RATE / 4 ? POLICY_ADAPT_WORST_RATE : rate * 4;
        __uint128_t t;

        assumed = MAX(assumed, POLICY_ADAPT_MIN_RATE);
        t = (__uint128_t)headroom * USEC_PER_SEC / assumed / 2;
        if (t > max_usec)
                return MAX(max_usec, floor_usec);
        return MAX((uint64_t)t, floor_usec);
}
