/* SPDX-License-Identifier: MIT */
/* The executors that run hook programs: exec, and dump (memory.max raised by the headroom while the
 * evidence hook runs, a barrier for the decisions after it), with the environment both hooks get. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "runner-internal.h"
#include "strv.h"

/*
 * OOMLESS_STAGE, OOMLESS_STAGE_NAME     the current level and its name (after the transition)
 * OOMLESS_PREV_STAGE, _PREV_STAGE_NAME  the level before it
 * OOMLESS_ACTION_STAGE                  the level whose list holds this action
 * OOMLESS_EVENT                         enter | while | exit | max_dwell
 * OOMLESS_ACTION                        exec | dump
 * OOMLESS_MEMORY_CURRENT, _LIMIT, _HIGH, _PEAK   bytes ("max" for no limit)
 * OOMLESS_PSI_SOME_AVG10, _FULL_AVG10   percent, when PSI is available
 * OOMLESS_HEAP_HELD, _IN_USE, _CAP      bytes, when the allocator publishes
 * OOMLESS_LEAF, OOMLESS_PID, OOMLESS_SUPERVISOR_PID, OOMLESS_INSTANCE_ID, OOMLESS_POLICY,
 * OOMLESS_DRY_RUN
 * Documented one by one in docs/policy.md ("The hook environment").
 */
int executor_hook_env(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        char b[32];
        int q = 0;

#define PUSH(...)                                                                                           \
        do {                                                                                                \
                if (q >= 0)                                                                                 \
                        q = strv_pushf(&l, __VA_ARGS__);                                                    \
        } while (0)
        PUSH("OOMLESS_STAGE=%u", r->stage);
        PUSH("OOMLESS_STAGE_NAME=%s", runner_stage_name(r, r->stage));
        PUSH("OOMLESS_PREV_STAGE=%u", r->prev_stage);
        PUSH("OOMLESS_PREV_STAGE_NAME=%s", runner_stage_name(r, r->prev_stage));
        PUSH("OOMLESS_ACTION_STAGE=%u", d->stage);
        PUSH("OOMLESS_EVENT=%s", runner_when_name(d->when));
        PUSH("OOMLESS_ACTION=%s", runner_kind_name(d->action->kind));
        PUSH("OOMLESS_MEMORY_CURRENT=%" PRIu64, s->current);
        PUSH("OOMLESS_MEMORY_LIMIT=%s", units_format_limit(b, sizeof(b), s->limit));
        PUSH("OOMLESS_MEMORY_HIGH=%s", units_format_limit(b, sizeof(b), s->high));
        PUSH("OOMLESS_MEMORY_PEAK=%" PRIu64, s->peak);
        if (s->psi_valid) {
                PUSH("OOMLESS_PSI_SOME_AVG10=%.2f", s->psi_some.avg10);
                PUSH("OOMLESS_PSI_FULL_AVG10=%.2f", s->psi_full.avg10);
        }
        if (s->heap_valid) {
                PUSH("OOMLESS_HEAP_HELD=%" PRIu64, s->heap_held);
                PUSH("OOMLESS_HEAP_IN_USE=%" PRIu64, s->heap_in_use);
                PUSH("OOMLESS_HEAP_CAP=%" PRIu64, s->heap_cap);
        }
        PUSH("OOMLESS_LEAF=%s", runner_leaf(r));
        PUSH("OOMLESS_PID=%d", (int)runner_main_pid(r));
        PUSH("OOMLESS_SUPERVISOR_PID=%d", (int)getpid());
        PUSH("OOMLESS_INSTANCE_ID=%s", r->instance_id);
        PUSH("OOMLESS_POLICY=%s", r->policy ? policy_name(r->policy) ?: "" : "");
        PUSH("OOMLESS_DRY_RUN=%d", r->dry_run ? 1 : 0);
#undef PUSH
        if (q < 0)
                return q;
        *ret = TAKE_PTR(l);
        return 0;
}

void executor_dump_restore_max(ActionRunner *r, Pending *p, char *buf, size_t len)
{
        int q;

        buf[0] = 0;
        if (!p->restore_max)
                return;
        q = actuator_set_memory_max(r->act, p->old_max);
        if (q < 0) {
                /* v1 refuses a limit below the usage (EBUSY); the hook's leftovers may still be
                 * charged. Say so: the raised limit stays until someone lowers it. */
                snprintf(buf, len, "; restoring memory.max to %" PRIu64 " failed: %s", p->old_max,
                         strerror(-q));
                log_error_errno(q, "Failed to restore memory.max of %s to %" PRIu64 " after the dump: %m",
                                runner_leaf(r), p->old_max);
        } else
                snprintf(buf, len, "; memory.max restored to %" PRIu64, p->old_max);
}

static void on_hook_done(const HookResult *res, void *userdata)
{
        Pending *p = userdata;
        ActionRunner *r = p->runner;
        HookResult shown = *res;
        char desc[96], restored[160] = "";
        bool ok = res->status_known ? (res->code == CLD_EXITED && res->status == 0) : !res->timed_out;
        bool was_dump = p->kind == POLICY_ACTION_DUMP;

        /* A cancelled hook's end came from the exit drain, not from its own timeout. */
        if (p->cancelled)
                shown.timed_out = false;
        hook_result_describe(&shown, desc, sizeof(desc));
        if (was_dump)
                executor_dump_restore_max(r, p, restored, sizeof(restored));
        if (p->cancelled)
                PRECORD(p, "failed: cancelled at exit: hook pid %d %s in %" PRIu64 " ms%s", (int)res->pid,
                        desc, res->duration_usec / USEC_PER_MSEC, restored);
        else
                PRECORD(p, "%s: hook pid %d %s in %" PRIu64 " ms%s", ok ? "ok" : "failed", (int)res->pid,
                        desc, res->duration_usec / USEC_PER_MSEC, restored);

        if (was_dump)
                runner_barrier_lift(r);
        pending_done(p);
}

static int start_hook(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s, Pending *p)
{
        _cleanup_strv_free_ char **env = NULL;
        HookSpec spec = {
                .argv = d->action->argv,
                .timeout_usec = d->action->timeout_usec,
                .stdout_fd = STDERR_FILENO, /* the hook's output goes to our log stream, not stdout */
                .stderr_fd = -1,
        };
        int q;

        q = executor_hook_env(r, d, s, &env);
        if (q < 0)
                return q;
        spec.env_extra = env;
        return hook_run(r->event, &spec, on_hook_done, p, &p->hook);
}

/* The checks exec and dump share before anything runs; false when the outcome is already recorded. */
static bool hook_argv_ok(ActionRunner *r, const PolicyDecision *d)
{
        if (!d->action->argv || !d->action->argv[0]) {
                RECORD(r, d, "failed: no argv");
                return false;
        }
        return true;
}

void executor_exec(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        Pending *p;
        int q;

        if (!hook_argv_ok(r, d))
                return;
        if (r->dry_run) {
                RECORD(r, d, "would: would run %s", a->argv[0]);
                return;
        }
        p = pending_start(r, d);
        if (!p)
                return;
        q = start_hook(r, d, s, p);
        if (q < 0) {
                pending_free(p);
                RECORD(r, d, "failed: cannot run %s: %s", a->argv[0], strerror(-q));
        }
}

/* Raises memory.max by the headroom, runs the evidence hook, restores memory.max on completion;
 * the queue waits for it (r->barrier). */
void executor_dump(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        uint64_t old_max = OOMLESS_NO_LIMIT;
        bool raise = false;
        Pending *p;
        int q;

        if (!hook_argv_ok(r, d))
                return;
        if (r->act && a->headroom > 0) {
                q = actuator_get_memory_max(r->act, &old_max);
                if (q >= 0 && old_max != OOMLESS_NO_LIMIT)
                        raise = true;
                else if (q < 0 && q != -EOPNOTSUPP)
                        log_warning_errno(q, "Cannot read memory.max of %s, dumping without headroom: %m",
                                          runner_leaf(r));
        }
        if (r->dry_run) {
                if (raise)
                        RECORD(r, d,
                               "would: would raise memory.max from %" PRIu64 " by %" PRIu64
                               ", run %s, then restore it",
                               old_max, a->headroom, a->argv[0]);
                else
                        RECORD(r, d, "would: would run %s", a->argv[0]);
                return;
        }

        p = pending_start(r, d);
        if (!p)
                return;
        if (raise) {
                uint64_t raised =
                    old_max > UINT64_MAX - a->headroom ? OOMLESS_NO_LIMIT : old_max + a->headroom;
                q = actuator_set_memory_max(r->act, raised);
                if (q < 0)
                        log_warning_errno(
                            q, "Cannot raise memory.max of %s for the dump, running it anyway: %m",
                            runner_leaf(r));
                else {
                        p->restore_max = true;
                        p->old_max = old_max;
                }
        }
        q = start_hook(r, d, s, p);
        if (q < 0) {
                char restored[160];
                executor_dump_restore_max(r, p, restored, sizeof(restored));
                pending_free(p);
                RECORD(r, d, "failed: cannot run %s: %s%s", a->argv[0], strerror(-q), restored);
                return;
        }
        r->barrier = true;
}
