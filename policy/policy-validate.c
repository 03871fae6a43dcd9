/* SPDX-License-Identifier: MIT */
/*
 * Checks that look across values rather than at one: contradictions (grace vs timeout, initial_delay vs
 * max_delay, "while" without "repeat"), where an action may be placed, and across stages (duplicate
 * names, hysteresis between enter and exit, stages ordered from mildest to most severe).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "policy-validate.h"
#include "strv.h"

bool validate_action(Parser *ps, const char *path, PolicyWhen when, const PolicyAction *a)
{
        const char *kind = policy_action_kind_to_string(a->kind);
        bool ok = true;

        if (a->kind == POLICY_ACTION_RESTART && a->grace_usec >= a->timeout_usec) {
                char p[PATH_LEN], b1[32], b2[32];
                json_error(ps, json_subpath(p, path, "grace"), "raise \"timeout\" or shorten \"grace\"",
                           "grace %s is not below timeout %s",
                           policy_format_duration(b1, sizeof(b1), a->grace_usec),
                           policy_format_duration(b2, sizeof(b2), a->timeout_usec));
                ok = false;
        }
        /* Repeating these would restart, kill or re-throttle on every tick of "repeat". */
        if (when == POLICY_WHEN_WHILE &&
            IN_SET(a->kind, POLICY_ACTION_RESTART, POLICY_ACTION_KILL, POLICY_ACTION_THROTTLE)) {
                json_error(ps, path, "put it in \"on_enter\" or \"on_max_dwell\"",
                           "action \"%s\" is not repeatable", kind);
                ok = false;
        }
        /* A throttle or a weight is undone when its stage is left, which only pairs up with entering
         * it; a shed starts the climb back when its stage is left. */
        if (IN_SET(a->kind, POLICY_ACTION_THROTTLE, POLICY_ACTION_SHED, POLICY_ACTION_WEIGHT) &&
            when != POLICY_WHEN_ENTER) {
                json_error(ps, path, "put it in \"on_enter\"; it is undone when the stage is left",
                           "action \"%s\" belongs in on_enter", kind);
                ok = false;
        }
        return ok;
}

bool validate_stage_repeat(Parser *ps, const char *path, const PolicyStage *st)
{
        if (st->while_.n == 0 || st->repeat_usec != 0)
                return true;
        json_error(ps, path, "add e.g. \"repeat\": \"5s\"", "\"while\" actions need a \"repeat\" interval");
        return false;
}

void validate_restart(Parser *ps, const char *path)
{
        const PolicyRestart *r = &ps->p->restart;
        char p[PATH_LEN];

        if (r->initial_delay_usec > r->max_delay_usec)
                json_error(ps, json_subpath(p, path, "initial_delay"),
                           "raise max_delay or lower initial_delay", "initial_delay is above max_delay");
}

/* Returns a comparable magnitude and unit class of a threshold, or false if the comparison has no
 * ordered threshold. Percent and bytes are different classes and are never compared. */
static bool cmp_key(const PolicyCmp *c, int *ret_class, uint64_t *ret_value)
{
        switch (c->signal) {
        POLICY_SIZE_SIGNAL_CASES:
                *ret_class = c->size.percent;
                *ret_value = c->size.percent ? c->size.permyriad : c->size.bytes;
                return true;
        case POLICY_SIGNAL_SOME10:
        case POLICY_SIGNAL_SOME60:
        case POLICY_SIGNAL_FULL10:
        case POLICY_SIGNAL_FULL60:
                *ret_class = 2;
                *ret_value = c->centi;
                return true;
        POLICY_RATE_SIGNAL_CASES:
                *ret_class = 3;
                *ret_value = c->size.bytes;
                return true;
        default:
                return false;
        }
}

static void fmt_cmp(char *buf, size_t len, const PolicyCmp *c)
{
        char v[48];
        if (c->signal == POLICY_SIGNAL_SOME10 || c->signal == POLICY_SIGNAL_SOME60 ||
            c->signal == POLICY_SIGNAL_FULL10 || c->signal == POLICY_SIGNAL_FULL60)
                policy_format_centi(v, sizeof(v), c->centi);
        else
                policy_format_size_spec(v, sizeof(v), &c->size);
        snprintf(buf, len, "%s %s %s%s", policy_signal_to_string(c->signal), policy_op_to_string(c->op), v,
                 policy_signal_is_rate(c->signal) ? "/s" : "");
}

/* The direct comparisons of a condition (the top-level all/any lists), with their paths. */
typedef struct TopCmp {
        const PolicyCmp *cmp;
        char path[PATH_LEN];
} TopCmp;

static size_t top_cmps(const PolicyCondition *c, const char *path, TopCmp *out, size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < c->root.n_all && n < max; i++)
                if (!c->root.all[i].group) {
                        out[n].cmp = &c->root.all[i].cmp;
                        snprintf(out[n].path, PATH_LEN, "%s.all[%zu]", path, i);
                        n++;
                }
        for (size_t i = 0; i < c->root.n_any && n < max; i++)
                if (!c->root.any[i].group) {
                        out[n].cmp = &c->root.any[i].cmp;
                        snprintf(out[n].path, PATH_LEN, "%s.any[%zu]", path, i);
                        n++;
                }
        return n;
}

/* Whether a and b bound the same signal in the same unit class, pointing the same way (or opposite
 * ways when !same_way); their thresholds go to *ret_a and *ret_b. */
static bool comparable(const PolicyCmp *a, const PolicyCmp *b, bool same_way, uint64_t *ret_a,
                       uint64_t *ret_b)
{
        int ca, cb;

        return a->signal == b->signal && (policy_op_above(a->op) == policy_op_above(b->op)) == same_way &&
               cmp_key(a, &ca, ret_a) && cmp_key(b, &cb, ret_b) && ca == cb;
}

/* An exit comparison must share its unit with some enter comparison on the same signal: "memory < 500M"
 * cannot be ordered against "memory >= 80%", so the hysteresis between them is anyone's guess. Returns
 * false when it reported one. */
static bool check_units(Parser *ps, const TopCmp *en, size_t n_en, const TopCmp *x)
{
        char b1[96], b2[96];
        size_t other = SIZE_MAX;
        int cx, ce;
        uint64_t vx, ve;

        if (!policy_signal_is_size(x->cmp->signal) || !cmp_key(x->cmp, &cx, &vx))
                return true;
        for (size_t a = 0; a < n_en; a++) {
                if (en[a].cmp->signal != x->cmp->signal || !cmp_key(en[a].cmp, &ce, &ve))
                        continue;
                if (ce == cx)
                        return true;
                if (other == SIZE_MAX)
                        other = a;
        }
        if (other == SIZE_MAX)
                return true;
        fmt_cmp(b1, sizeof(b1), x->cmp);
        fmt_cmp(b2, sizeof(b2), en[other].cmp);
        json_error(ps, x->path,
                   cx ? "give the exit in bytes like the enter (K, M, G suffixes)"
                      : "give the exit as a percent of the limit like the enter",
                   "exit threshold \"%s\" mixes units with the enter threshold \"%s\" (%s)", b1, b2,
                   en[other].path);
        return false;
}

/* Hysteresis: an exit threshold must point away from the enter threshold on the same signal (a ">="
 * enter wants a "<" or "<=" exit) and lie strictly on the far side of it. An exit on a signal that the
 * enter bounds only in the same direction never undoes the enter, and is refused. */
static void check_hysteresis(Parser *ps, const TopCmp *en, size_t n_en, const TopCmp *ex, size_t n_ex)
{
        char b1[96], b2[96];

        for (size_t b = 0; b < n_ex; b++) {
                const PolicyCmp *x = ex[b].cmp;
                size_t same_way = SIZE_MAX;
                bool opposite = false;

                if (!check_units(ps, en, n_en, &ex[b]))
                        continue;
                for (size_t a = 0; a < n_en; a++) {
                        const PolicyCmp *e = en[a].cmp;
                        bool above = policy_op_above(e->op);
                        uint64_t ve, vx;

                        if (comparable(e, x, true, &ve, &vx) && same_way == SIZE_MAX)
                                same_way = a;
                        if (!comparable(e, x, false, &ve, &vx))
                                continue;
                        opposite = true;
                        if (above ? vx < ve : vx > ve)
                                continue;
                        fmt_cmp(b1, sizeof(b1), x);
                        fmt_cmp(b2, sizeof(b2), e);
                        json_error(
                            ps, ex[b].path,
                            above ? "make the exit threshold lower than the enter threshold, leaving room "
                                    "for hysteresis"
                                  : "make the exit threshold higher than the enter threshold, leaving "
                                    "room for hysteresis",
                            "exit threshold \"%s\" is at or %s the enter threshold \"%s\" (%s)", b1,
                            above ? "above" : "below", b2, en[a].path);
                }
                if (opposite || same_way == SIZE_MAX)
                        continue;
                fmt_cmp(b1, sizeof(b1), x);
                fmt_cmp(b2, sizeof(b2), en[same_way].cmp);
                json_error(ps, ex[b].path,
                           policy_op_above(x->op)
                               ? "make the exit point away from the enter: \"<\" or \"<=\" a lower value"
                               : "make the exit point away from the enter: \">\" or \">=\" a higher value",
                           "exit threshold \"%s\" points the same way as the enter threshold \"%s\" (%s)",
                           b1, b2, en[same_way].path);
        }
}

/* Ordering: a later stage's threshold on the same signal must be more severe than the previous one's. */
static void check_ordering(Parser *ps, const TopCmp *en, size_t n_en, const TopCmp *prev, size_t n_prev)
{
        char b1[96], b2[96];

        for (size_t a = 0; a < n_en; a++)
                for (size_t b = 0; b < n_prev; b++) {
                        const PolicyCmp *e = en[a].cmp, *q = prev[b].cmp;
                        uint64_t ve, vq;

                        if (!comparable(e, q, true, &ve, &vq) ||
                            (policy_op_above(e->op) ? ve > vq : ve < vq))
                                continue;
                        fmt_cmp(b1, sizeof(b1), e);
                        fmt_cmp(b2, sizeof(b2), q);
                        json_error(ps, en[a].path, "order stages from mildest to most severe",
                                   "stages out of order: \"%s\" is not more severe than \"%s\" (%s)", b1, b2,
                                   prev[b].path);
                }
}

/* Only stages that parsed completely take part, so that every problem is reported in one run without
 * comparing half-built conditions. */
void validate_stages(Parser *ps, const bool *stage_ok)
{
        Policy *p = ps->p;
        TopCmp prev[2 * POLICY_COND_ITEMS_MAX];
        size_t n_prev = 0;

        for (unsigned i = 0; i < p->n_stages; i++) {
                TopCmp en[2 * POLICY_COND_ITEMS_MAX], ex[2 * POLICY_COND_ITEMS_MAX];
                char path[64], ep[80], xp[80];
                size_t n_en, n_ex;

                snprintf(path, sizeof(path), "stages[%u]", i);
                for (unsigned k = 0; k < i; k++)
                        if (p->stages[k].name && p->stages[i].name &&
                            streq(p->stages[k].name, p->stages[i].name)) {
                                json_error(ps, path, "give every stage its own name",
                                           "duplicate stage name \"%s\"", p->stages[i].name);
                                break;
                        }

                if (!stage_ok[i]) {
                        n_prev = 0;
                        continue;
                }
                snprintf(ep, sizeof(ep), "%s.enter", path);
                snprintf(xp, sizeof(xp), "%s.exit", path);
                n_en = top_cmps(&p->stages[i].enter, ep, en, ELEMENTSOF(en));
                n_ex = top_cmps(&p->stages[i].exit, xp, ex, ELEMENTSOF(ex));

                check_hysteresis(ps, en, n_en, ex, n_ex);
                check_ordering(ps, en, n_en, prev, n_prev);
                memcpy(prev, en, sizeof(TopCmp) * n_en);
                n_prev = n_en;
        }
}
