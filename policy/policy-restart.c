/* SPDX-License-Identifier: MIT */
/* The restart policy as a pure function: exit info + history -> restart after a delay, stop, or give
 * up. Backoff doubles per consecutive short run, like kubelet's CrashLoopBackOff. */
#include <string.h>

#include "macro.h"
#include "policy-internal.h"

static void prune(PolicyRestartState *st, uint64_t window, uint64_t now)
{
        size_t drop = 0;

        while (drop < st->n_events && now > st->events[drop] && now - st->events[drop] >= window)
                drop++;
        if (drop > 0) {
                memmove(st->events, st->events + drop, (st->n_events - drop) * sizeof(uint64_t));
                st->n_events -= drop;
        }
}

static void push(PolicyRestartState *st, uint64_t now)
{
        if (st->n_events == POLICY_RESTART_HISTORY) {
                memmove(st->events, st->events + 1, (POLICY_RESTART_HISTORY - 1) * sizeof(uint64_t));
                st->n_events--;
        }
        st->events[st->n_events++] = now;
}

PolicyRestartVerdict policy_restart_decide(const Policy *p, PolicyRestartState *st, const PolicyExit *exit,
                                           uint64_t now, uint64_t *ret_delay_usec)
{
        const PolicyRestart *r = &p->restart;
        bool failed = exit->signaled || exit->code != 0 || exit->oom_killed;
        uint64_t delay;

        prune(st, r->window_usec, now);
        /* The mode speaks for exits nobody asked for; a restart action's own stop always restarts,
         * within max_restarts, however the workload then died (even if the kernel won the race). */
        if (!exit->requested) {
                if (r->mode == POLICY_RESTART_NEVER)
                        return POLICY_RESTART_VERDICT_STOP;
                if (r->mode == POLICY_RESTART_ON_FAILURE && !failed)
                        return POLICY_RESTART_VERDICT_STOP;
        }
        if (r->max_restarts > 0 && st->n_events >= r->max_restarts)
                return POLICY_RESTART_VERDICT_GIVE_UP;

        if (now >= exit->started_usec && now - exit->started_usec >= r->reset_after_usec)
                st->consecutive = 0;
        delay = r->initial_delay_usec;
        for (unsigned i = 0; i < st->consecutive && delay < r->max_delay_usec; i++)
                delay = delay > UINT64_MAX / 2 ? UINT64_MAX : delay * 2;
        delay = MIN(delay, r->max_delay_usec);

        st->consecutive++;
        st->total_restarts++;
        push(st, now);
        if (ret_delay_usec)
                *ret_delay_usec = delay;
        return POLICY_RESTART_VERDICT_RESTART;
}

void policy_restart_note_oom_kill(const Policy *p, PolicyRestartState *st, uint64_t now)
{
        prune(st, p->restart.window_usec, now);
        push(st, now);
}

const char *policy_memory_cause(const OomlessSample *x)
{
        /* v2's file and v1's total_cache both include shmem; the inactive part is no working set. */
        uint64_t file = x->file - MIN(x->file, x->shmem);
        uint64_t active_file = file - MIN(file, x->inactive_file);
        const struct {
                const char *name;
                uint64_t v;
        } parts[] = {
                { "anon", x->anon },
                { "shmem", x->shmem },
                { "kernel", x->kernel },
                { "file", active_file },
        };
        size_t best = 0;

        for (size_t i = 1; i < ELEMENTSOF(parts); i++)
                if (parts[i].v > parts[best].v)
                        best = i;
        return parts[best].v > 0 ? parts[best].name : NULL;
}

bool policy_restart_futile(const OomlessSample *x)
{
        uint64_t nonfile = oomless_sample_nonfile(x);

        return x->shmem > 0 && x->shmem >= nonfile / 2;
}
