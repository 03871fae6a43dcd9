/* SPDX-License-Identifier: MIT */
/* The executors that address processes: signal (main, its group, every member of the leaf), kill
 * (the victim the decision names, the main process's group, the whole leaf) and restart (through the
 * manager). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runner-internal.h"

/* The main process's group, refusing our own: signalling it would hit the supervisor. */
static int main_pgid(ActionRunner *r, pid_t *ret)
{
        pid_t pid = runner_main_pid(r), pgid;

        if (pid <= 0)
                return -ESRCH;
        pgid = getpgid(pid);
        if (pgid < 0)
                return negative_errno();
        if (pgid == getpgrp())
                return -EPERM;
        *ret = pgid;
        return 0;
}

/* Sends sig to the main process's group, for the signal (target "group") and kill (scope "group")
 * actions; `scopes` names the alternatives in the refusal. */
static void signal_group(ActionRunner *r, const PolicyDecision *d, int signo, const char *scopes)
{
        const char *sig = units_signal_to_string(signo) ?: "?";
        pid_t pid;
        int q = main_pgid(r, &pid);

        if (q == -EPERM)
                RECORD(r, d, "failed: the main process shares oomless's process group; use %s", scopes);
        else if (q < 0)
                RECORD(r, d, "skipped: no main process group: %s", strerror(-q));
        else if (r->dry_run)
                RECORD(r, d, "would: would send %s to process group %d", sig, (int)pid);
        else if (kill(-pid, signo) < 0)
                RECORD(r, d, "failed: %s to process group %d: %m", sig, (int)pid);
        else
                RECORD(r, d, "ok: sent %s to process group %d", sig, (int)pid);
}

static int signal_leaf_once(ActionRunner *r, int sig, unsigned *ret_n)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        unsigned sent = 0;
        int q;

        if (!actuator_can(r->act, ACTUATOR_CAP_LIST_PIDS))
                return -EOPNOTSUPP;
        q = actuator_list_pids(r->act, &pids, &n);
        if (q < 0)
                return q;
        for (size_t i = 0; i < n; i++) {
                if (pids[i] == getpid())
                        continue;
                if (actuator_signal_pid(r->act, pids[i], sig) >= 0)
                        sent++;
        }
        *ret_n = sent;
        return 0;
}

void executor_signal(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        const char *sig = units_signal_to_string(a->signal) ?: "?";
        const char *target = policy_signal_target_to_string(a->target) ?: "?";
        unsigned n = 0;
        pid_t pid;
        int q;

        if (r->dry_run) {
                RECORD(r, d, "would: would send %s to %s", sig, target);
                return;
        }
        switch (a->target) {
        case POLICY_TARGET_MAIN:
                pid = runner_main_pid(r);
                if (pid <= 0) {
                        RECORD(r, d, "skipped: no main process runs");
                        return;
                }
                q = actuator_pidfd_signal(pid, a->signal);
                if (q < 0)
                        RECORD(r, d, "failed: %s to pid %d: %s", sig, (int)pid, strerror(-q));
                else
                        RECORD(r, d, "ok: sent %s to pid %d", sig, (int)pid);
                return;
        case POLICY_TARGET_GROUP:
                signal_group(r, d, a->signal, "target \"main\" or \"leaf\"");
                return;
        case POLICY_TARGET_LEAF:
                q = signal_leaf_once(r, a->signal, &n);
                if (q == -EOPNOTSUPP)
                        RECORD(r, d, "skipped: no cgroup to list processes from");
                else if (q < 0)
                        RECORD(r, d, "failed: listing the leaf's processes: %s", strerror(-q));
                else
                        RECORD(r, d, "ok: sent %s to %u process(es) in the leaf", sig, n);
                return;
        default:
                RECORD(r, d, "failed: unknown signal target %d", (int)a->target);
        }
}

static void kill_victim(ActionRunner *r, const PolicyDecision *d)
{
        const char *sig = units_signal_to_string(d->action->kill_signal) ?: "?";
        uint64_t rss = 0;
        pid_t pid;
        int q;

        if (!actuator_can(r->act, ACTUATOR_CAP_LIST_PIDS)) {
                RECORD(r, d, "skipped: no cgroup to list processes from");
                return;
        }
        if (d->victim != POLICY_VICTIM_LARGEST_RSS) {
                RECORD(r, d, "failed: the decision names no victim (not resolved)");
                return;
        }
        /* Resolved now, not when decided: the processes may have changed behind a dump. */
        q = actuator_resolve_victim(r->act, d->victim, &pid, &rss);
        if (q < 0) {
                RECORD(r, d, "failed: listing the leaf's processes: %s", strerror(-q));
                return;
        }
        if (pid == 0) {
                RECORD(r, d, "skipped: no process in the leaf");
                return;
        }
        if (r->dry_run) {
                RECORD(r, d,
                       "would: would send %s to pid %d, the largest RSS in the leaf (%" PRIu64 " bytes)",
                       sig, (int)pid, rss);
                return;
        }
        q = actuator_signal_pid(r->act, pid, d->action->kill_signal);
        if (q < 0)
                RECORD(r, d, "failed: %s to pid %d: %s", sig, (int)pid, strerror(-q));
        else
                RECORD(r, d, "ok: sent %s to pid %d, the largest RSS in the leaf (%" PRIu64 " bytes)", sig,
                       (int)pid, rss);
}

static void kill_leaf(ActionRunner *r, const PolicyDecision *d)
{
        const char *sig = units_signal_to_string(d->action->kill_signal) ?: "?";
        int q;

        if (!actuator_can(r->act, ACTUATOR_CAP_KILL_ALL)) {
                RECORD(r, d, "skipped: no cgroup");
                return;
        }
        if (r->dry_run) {
                RECORD(r, d, "would: would send %s to every process in %s", sig, runner_leaf(r));
                return;
        }
        q = actuator_kill_all(r->act, d->action->kill_signal);
        if (q < 0)
                RECORD(r, d, "failed: killing the leaf %s: %s", runner_leaf(r), strerror(-q));
        else
                RECORD(r, d, "ok: sent %s to every process in %s", sig, runner_leaf(r));
}

void executor_kill(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        switch (d->action->kill_scope) {
        case POLICY_KILL_PROCESS:
                kill_victim(r, d);
                return;
        case POLICY_KILL_GROUP:
                signal_group(r, d, d->action->kill_signal, "scope \"process\" or \"leaf\"");
                return;
        case POLICY_KILL_LEAF:
                kill_leaf(r, d);
                return;
        default:
                RECORD(r, d, "failed: unknown kill scope %d", (int)d->action->kill_scope);
        }
}

void executor_restart(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        const char *sig = units_signal_to_string(a->stop_signal) ?: "?";
        char reason[96];
        int q;

        if (r->dry_run) {
                RECORD(r, d, "would: would restart the workload (%s, grace %" PRIu64 " ms)", sig,
                       a->grace_usec / USEC_PER_MSEC);
                return;
        }
        if (!r->cb.request_restart) {
                RECORD(r, d, "skipped: restarts are not possible in this mode");
                return;
        }
        snprintf(reason, sizeof(reason), "policy stage %u (%s) %s", d->stage, runner_stage_name(r, d->stage),
                 runner_when_name(d->when));
        q = r->cb.request_restart(r->cb.userdata, a->stop_signal, a->grace_usec, reason);
        if (q == -EOPNOTSUPP) /* attach without a way back for the workload: said at start */
                RECORD(r, d, "skipped: the workload cannot be restarted in this mode");
        else if (q < 0)
                RECORD(r, d, "failed: the restart was refused: %s", strerror(-q));
        else
                RECORD(r, d, "ok: restart requested (%s, grace %" PRIu64 " ms)", sig,
                       a->grace_usec / USEC_PER_MSEC);
}
