/* SPDX-License-Identifier: MIT */
/* Names of enums, accessors, diagnostics and exact formatting helpers shared by the policy modules. */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-internal.h"
#include "strv.h"

/* Signals first, in PolicySignal order, so that the table also names them. */
const char *const policy_cmp_keys[] = {
        "memory",
        "headroom",
        "heap",
        "working_set",
        "anon",
        "file",
        "shmem",
        "kernel",
        "nonfile",
        "working_set_rate",
        "nonfile_rate",
        "psi.some.avg10",
        "psi.some.avg60",
        "psi.full.avg10",
        "psi.full.avg60",
        "events.high",
        "events.max",
        "events.oom",
        "events.oom_kill",
        "heap.cap_hits",
        "psi_trigger",
        "stage_time",
        "within",
        "all",
        "any",
        NULL,
};
static_assert(ELEMENTSOF(policy_cmp_keys) == _POLICY_SIGNAL_MAX + 4, "every signal, within, all, any, NULL");

const char *policy_signal_to_string(PolicySignal s)
{
        return s >= 0 && s < _POLICY_SIGNAL_MAX ? policy_cmp_keys[s] : NULL;
}

bool policy_signal_is_size(PolicySignal s)
{
        switch (s) {
        POLICY_SIZE_SIGNAL_CASES:
                return true;
        default:
                return false;
        }
}

/* In PolicyActionKind order: the grammar reads a kind as its index here. */
const char *const policy_action_kinds[] = { "notify",  "signal",   "exec",    "webhook", "scavenge",
                                            "reclaim", "throttle", "restart", "kill",    "dump",
                                            "shed",    "weight",   NULL };
static_assert(ELEMENTSOF(policy_action_kinds) == _POLICY_ACTION_KIND_MAX + 1, "every action kind, NULL");

const char *policy_action_kind_to_string(PolicyActionKind k)
{
        return k >= 0 && k < _POLICY_ACTION_KIND_MAX ? policy_action_kinds[k] : NULL;
}

const char *policy_signal_target_to_string(PolicySignalTarget t)
{
        static const char *const n[_POLICY_TARGET_MAX] = { "main", "group", "leaf" };
        return t >= 0 && t < _POLICY_TARGET_MAX ? n[t] : NULL;
}

const char *policy_kill_scope_to_string(PolicyKillScope s)
{
        static const char *const n[_POLICY_KILL_SCOPE_MAX] = { "process", "group", "leaf" };
        return s >= 0 && s < _POLICY_KILL_SCOPE_MAX ? n[s] : NULL;
}

const char *policy_restart_mode_to_string(PolicyRestartMode m)
{
        static const char *const n[_POLICY_RESTART_MODE_MAX] = { "never", "on-failure", "always" };
        return m >= 0 && m < _POLICY_RESTART_MODE_MAX ? n[m] : NULL;
}

const char *policy_when_to_string(PolicyWhen w)
{
        static const char *const n[_POLICY_WHEN_MAX] = { "enter", "while", "exit", "max_dwell" };
        return w >= 0 && w < _POLICY_WHEN_MAX ? n[w] : NULL;
}

const char *policy_reason_to_string(PolicyReason r)
{
        static const char *const n[_POLICY_REASON_MAX] = { "none", "enter", "exit", "max_dwell", "reset" };
        return r < _POLICY_REASON_MAX ? n[r] : NULL;
}

const char *policy_restart_verdict_to_string(PolicyRestartVerdict v)
{
        static const char *const n[_POLICY_RESTART_VERDICT_MAX] = { "restart", "stop", "give-up" };
        return v < _POLICY_RESTART_VERDICT_MAX ? n[v] : NULL;
}

const char *policy_op_to_string(PolicyOp op)
{
        static const char *const n[_POLICY_OP_MAX] = { ">=", ">", "<=", "<" };
        return op < _POLICY_OP_MAX ? n[op] : NULL;
}

bool policy_op_above(PolicyOp op)
{
        return op == POLICY_OP_GE || op == POLICY_OP_GT;
}

/* ---- accessors ---- */

const char *policy_name(const Policy *p)
{
        return p->name;
}

const char *policy_source(const Policy *p)
{
        return p->source;
}

uint64_t policy_sampling_interval_usec(const Policy *p)
{
        return p->interval_usec;
}

bool policy_dry_run(const Policy *p)
{
        return p->dry_run;
}

size_t policy_psi_trigger_count(const Policy *p)
{
        return p->n_triggers;
}

const PolicyPsiTrigger *policy_psi_trigger(const Policy *p, size_t i)
{
        return i < p->n_triggers ? &p->triggers[i] : NULL;
}

unsigned policy_stage_count(const Policy *p)
{
        return p->n_stages;
}

const char *policy_stage_name(const Policy *p, unsigned level)
{
        if (level == 0)
                return "normal";
        if (level > p->n_stages)
                return NULL;
        return p->stages[level - 1].name;
}

static bool list_has(const PolicyActionList *l, PolicyActionKind k)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].kind == k)
                        return true;
        return false;
}

const char *policy_action_used(const Policy *p, PolicyActionKind k)
{
        for (unsigned i = 0; i < p->n_stages; i++) {
                const PolicyStage *st = &p->stages[i];
                if (list_has(&st->on_enter, k) || list_has(&st->while_, k) || list_has(&st->on_exit, k) ||
                    list_has(&st->on_max_dwell, k))
                        return st->name;
        }
        return NULL;
}

bool policy_stage_ready(const Policy *p, unsigned level)
{
        if (level == 0 || level > p->n_stages)
                return true;
        return p->stages[level - 1].ready;
}

const char *policy_http_listen(const Policy *p)
{
        return p->http_listen;
}

bool policy_http_public(const Policy *p)
{
        return p->http_public;
}

const PolicyRestart *policy_restart(const Policy *p)
{
        return &p->restart;
}

/* ---- freeing ---- */

void policy_cond_done(PolicyCond *c)
{
        if (!c || !c->group)
                return;
        for (size_t i = 0; i < c->n_all; i++)
                policy_cond_done(&c->all[i]);
        for (size_t i = 0; i < c->n_any; i++)
                policy_cond_done(&c->any[i]);
        free(c->all);
        free(c->any);
        c->all = c->any = NULL;
        c->n_all = c->n_any = 0;
}

static void action_list_done(PolicyActionList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                strv_free(l->items[i].argv);
                free(l->items[i].url);
                strv_free(l->items[i].headers);
                free(l->items[i].bearer_token_file);
        }
        free(l->items);
        *l = (PolicyActionList){ 0 };
}

Policy *policy_free(Policy *p)
{
        if (!p)
                return NULL;
        for (unsigned i = 0; i < p->n_stages; i++) {
                PolicyStage *s = &p->stages[i];
                free(s->name);
                free(s->description);
                policy_cond_done(&s->enter.root);
                policy_cond_done(&s->exit.root);
                action_list_done(&s->on_max_dwell);
                action_list_done(&s->on_enter);
                action_list_done(&s->while_);
                action_list_done(&s->on_exit);
        }
        free(p->name);
        free(p->description);
        free(p->http_listen);
        free(p->source);
        free(p);
        return NULL;
}

/* ---- diagnostics ---- */

void policy_diags_done(PolicyDiags *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].path);
                free(d->items[i].message);
                free(d->items[i].hint);
        }
        free(d->items);
        *d = (PolicyDiags){ 0 };
}

int policy_diags_add(PolicyDiags *d, unsigned line, unsigned column, const char *path, const char *hint,
                     const char *fmt, ...)
{
        PolicyDiag diag = { .line = line, .column = column };
        va_list ap;
        int r;

        if (d->n >= POLICY_DIAGS_MAX) {
                d->dropped++;
                return 0;
        }
        va_start(ap, fmt);
        r = vasprintf(&diag.message, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (path && !(diag.path = strdup(path)))
                goto oom;
        if (hint && !(diag.hint = strdup(hint)))
                goto oom;
        if (d->n % 16 == 0) {
                PolicyDiag *n = reallocarray(d->items, d->n + 16, sizeof(PolicyDiag));
                if (!n)
                        goto oom;
                d->items = n;
        }
        d->items[d->n++] = diag;
        return 0;
oom:
        free(diag.message);
        free(diag.path);
        free(diag.hint);
        return -ENOMEM;
}

char *policy_diag_format(const PolicyDiag *diag, const char *filename)
{
        char *s = NULL, loc[256];
        int r;

        if (diag->line > 0)
                snprintf(loc, sizeof(loc), "%s%s%u:%u", filename ?: "", filename ? ":" : "", diag->line,
                         diag->column);
        else if (diag->path && diag->path[0])
                snprintf(loc, sizeof(loc), "%s%s%s", filename ?: "", filename ? ": " : "", diag->path);
        else
                snprintf(loc, sizeof(loc), "%s", filename ?: "");

        r = asprintf(&s, "%s%s%s%s%s%s", loc, loc[0] ? ": " : "", diag->message,
                     diag->hint ? " (hint: " : "", diag->hint ?: "", diag->hint ? ")" : "");
        return r < 0 ? NULL : s;
}

/* ---- exact formatting ---- */

char *policy_format_centi(char *buf, size_t len, uint32_t centi)
{
        if (centi % 100 == 0)
                snprintf(buf, len, "%" PRIu32 "%%", centi / 100);
        else if (centi % 10 == 0)
                snprintf(buf, len, "%" PRIu32 ".%" PRIu32 "%%", centi / 100, (centi % 100) / 10);
        else
                snprintf(buf, len, "%" PRIu32 ".%02" PRIu32 "%%", centi / 100, centi % 100);
        return buf;
}

char *policy_format_size_spec(char *buf, size_t len, const SizeSpec *s)
{
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };

        if (s->percent)
                return policy_format_centi(buf, len, s->permyriad);
        if (s->bytes == UINT64_MAX) {
                snprintf(buf, len, "max");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                uint64_t u = UINT64_C(1) << units[i].shift;
                if (s->bytes >= u && s->bytes % u == 0) {
                        snprintf(buf, len, "%" PRIu64 "%c", s->bytes / u, units[i].suffix);
                        return buf;
                }
        }
        snprintf(buf, len, "%" PRIu64 "B", s->bytes); /* a bare number is refused in conditions */
        return buf;
}

char *policy_format_duration(char *buf, size_t len, uint64_t usec)
{
        if (usec != 0 && usec % (3600 * USEC_PER_SEC) == 0)
                snprintf(buf, len, "%" PRIu64 "h", usec / (3600 * USEC_PER_SEC));
        else if (usec != 0 && usec % (60 * USEC_PER_SEC) == 0)
                snprintf(buf, len, "%" PRIu64 "m", usec / (60 * USEC_PER_SEC));
        else
                units_format_duration(buf, len, usec);
        return buf;
}

char *policy_format_signal(char *buf, size_t len, int sig)
{
        const char *n = units_signal_to_string(sig);
        if (n)
                snprintf(buf, len, "%s", n);
        else
                snprintf(buf, len, "%d", sig);
        return buf;
}
