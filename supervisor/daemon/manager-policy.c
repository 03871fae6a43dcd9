/* SPDX-License-Identifier: MIT */
/* The manager's policy driving: loads the policy, evaluates it on each sample, hands the decisions to
 * the action runner, logs stage transitions, reloads on SIGHUP and decides restarts. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "control.h"
#include "hook.h"
#include "log.h"
#include "manager.h"
#include "policy-file.h"
#include "policy.h"
#include "units.h"
#include "strv.h"

struct ManagerPolicy {
        Policy *policy;
        PolicyState *state;
        PolicyRestartState restart;
        ActionRunner *runner;
        Control *control;
        bool dry_run;
        bool restart_requested; /* the running stop is a restart action's */
        uint64_t oom_kill_seen; /* events counter at the last tick, to count kills of non-main processes */
        bool oom_kill_seen_valid;
        bool user_heap_cap;     /* OOMLESS_HEAP_CAP was set by the user: never publish over it */
        uint64_t published_cap; /* last cap written to the control page, 0 = none yet */
        sd_event_source *drain_timer;
};

/* Cancelled hooks end within their kill grace; this only guards against one that never gets reaped. */
#define DRAIN_CANCEL_WAIT_USEC (HOOK_KILL_GRACE_DEFAULT + 1 * USEC_PER_SEC)

static Policy *current(Manager *m)
{
        return m->policy ? m->policy->policy : NULL;
}

/* Loads FILE or the built-in policy; a bad file prints every diagnostic and fails. */
static int load(const char *path, Policy **ret)
{
        PolicyDiags diags = { 0 };
        int r;

        if (!path) {
                *ret = policy_default();
                return *ret ? 0 : log_error_errno(-ENOMEM, "Out of memory");
        }
        r = policy_load_file(path, ret, &diags);
        if (r == -EINVAL) {
                policy_diags_print(stderr, path, &diags);
                fflush(stderr);
        }
        policy_diags_done(&diags);
        return r;
}

int manager_policy_load(Manager *m)
{
        _cleanup_free_ ManagerPolicy *mp = calloc(1, sizeof(*mp));
        int r;

        if (!mp)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = load(m->cfg.policy_path, &mp->policy);
        if (r == -EINVAL)
                return log_error_errno(r,
                                       "The policy %s is invalid (see above); the workload was not started. "
                                       "Fix it and check it with `oomless check %s`.",
                                       m->cfg.policy_path, m->cfg.policy_path);
        if (r < 0)
                return log_error_errno(r, "Cannot load the policy %s: %m",
                                       m->cfg.policy_path ?: "(built-in)");
        mp->dry_run = m->cfg.dry_run || policy_dry_run(mp->policy);
        mp->state = policy_state_new(mp->policy, manager_now());
        if (!mp->state) {
                policy_free(mp->policy);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        log_info("Policy \"%s\" from %s: %u stages, sampling every %" PRIu64 "ms%s.",
                 policy_name(mp->policy), policy_source(mp->policy), policy_stage_count(mp->policy),
                 policy_sampling_interval_usec(mp->policy) / USEC_PER_MSEC, mp->dry_run ? ", dry run" : "");
        m->policy = TAKE_PTR(mp);
        return 0;
}

static pid_t cb_main_pid(void *userdata)
{
        Manager *m = userdata;
        if (m->cfg.mode == MANAGER_RUN)
                return m->child_running ? m->child.pid : 0;
        return m->cfg.attach_pid;
}

static int cb_request_restart(void *userdata, int stop_signal, uint64_t grace_usec, const char *reason)
{
        Manager *m = userdata;

        if (m->cfg.mode != MANAGER_RUN)
                return -EOPNOTSUPP; /* attach: we did not start it, we cannot start it again */
        if (!m->child_running)
                return -ESRCH;
        log_notice("Restarting the workload: %s.", reason ?: "requested by the policy");
        m->policy->restart_requested = true;
        return manager_restart_workload(m, stop_signal, grace_usec);
}

static void cb_idle(void *userdata)
{
        Manager *m = userdata;

        if (!m->draining)
                return;
        log_info("The running actions finished; oomless exits.");
        (void)sd_event_exit(m->event, m->exit_status);
}

static int on_drain_gave_up(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        log_warning("Cancelled actions did not end within %" PRIu64 "s; oomless exits anyway.",
                    DRAIN_CANCEL_WAIT_USEC / USEC_PER_SEC);
        return sd_event_exit(m->event, m->exit_status);
}

static void drain_cancel(Manager *m)
{
        ManagerPolicy *mp = m->policy;
        int r;

        mp->drain_timer = sd_event_source_disable_unref(mp->drain_timer);
        actions_cancel_at_exit(mp->runner);
        if (!actions_busy(mp->runner)) {
                (void)sd_event_exit(m->event, m->exit_status);
                return;
        }
        r = sd_event_add_time_relative(m->event, &mp->drain_timer, CLOCK_MONOTONIC, DRAIN_CANCEL_WAIT_USEC,
                                       0, on_drain_gave_up, m);
        if (r < 0) {
                log_warning_errno(r, "Cannot wait for the cancelled actions, exiting now: %m");
                (void)sd_event_exit(m->event, m->exit_status);
        }
}

static int on_drain_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        char list[256];
        unsigned n = actions_describe_running(m->policy->runner, list, sizeof(list));
        (void)s;
        (void)usec;

        log_warning("%u action%s still running at the exit deadline, cancelling: %s.", n, n == 1 ? "" : "s",
                    list);
        drain_cancel(m);
        return 0;
}

bool manager_policy_drain_begin(Manager *m)
{
        ManagerPolicy *mp = m->policy;
        uint64_t now = manager_now(), deadline, wait;
        char list[256];
        unsigned n;
        int r;

        if (!mp || !mp->runner || m->draining || !actions_busy(mp->runner))
                return false;
        m->draining = true;
        deadline = MIN(now + MANAGER_DRAIN_MAX_USEC, actions_drain_deadline(mp->runner));
        wait = deadline > now ? deadline - now : 0;
        n = actions_describe_running(mp->runner, list, sizeof(list));
        log_notice("Waiting up to %" PRIu64 "s for %u running action%s (%s) before exiting.",
                   (wait + USEC_PER_SEC - 1) / USEC_PER_SEC, n, n == 1 ? "" : "s", n > 0 ? list : "queued");
        r = sd_event_add_time(m->event, &mp->drain_timer, CLOCK_MONOTONIC, deadline, 0, on_drain_deadline,
                              m);
        if (r < 0) {
                log_warning_errno(r, "Cannot arm the exit deadline, cancelling the running actions: %m");
                drain_cancel(m);
        }
        return true;
}

void manager_policy_drain_cancel(Manager *m, int sig)
{
        char list[256];

        if (!m->draining || !m->policy || !m->policy->runner)
                return;
        (void)actions_describe_running(m->policy->runner, list, sizeof(list));
        log_notice("%s: not waiting any longer, cancelling: %s.", units_signal_to_string(sig) ?: "Signal",
                   list);
        drain_cancel(m);
}

static void on_wake(Control *c, void *userdata)
{
        Manager *m = userdata;
        (void)c;
        /* The allocator crossed its watermark: decide now rather than at the next tick. */
        if (manager_sample(m) >= 0)
                manager_policy_tick(m);
}

int manager_policy_setup(Manager *m)
{
        ManagerPolicy *mp = m->policy;
        int r;

        /* The control page is for an allocator we preload into a workload we start. */
        if (m->cfg.mode == MANAGER_RUN) {
                r = control_create(m->instance_dir, &mp->control);
                if (r < 0)
                        log_warning_errno(r, "Cannot create the control page in %s, continuing without: %m",
                                          m->instance_dir);
                else if (control_add_wake_source(mp->control, m->event, on_wake, m) < 0)
                        log_warning("Cannot watch the allocator's wake FIFO; relying on the tick.");
                if (mp->control)
                        sampler_set_control(m->sampler, mp->control);
        }

        mp->user_heap_cap = getenv("OOMLESS_HEAP_CAP") != NULL;

        ActionRunnerConfig cfg = {
                .event = m->event,
                .cg = m->cg,
                .control = mp->control,
                .policy = mp->policy,
                .dry_run = mp->dry_run,
                .callbacks = {
                        .get_main_pid = cb_main_pid,
                        .request_restart = cb_request_restart,
                        .idle = cb_idle,
                        .userdata = m,
                },
        };
        r = actions_new(&cfg, &mp->runner);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the action runner: %m");
        return 0;
}

uint64_t manager_policy_interval(Manager *m)
{
        return current(m) ? policy_sampling_interval_usec(current(m)) : 0;
}

size_t manager_policy_psi_triggers(Manager *m, const char **ret, size_t max)
{
        size_t n = current(m) ? policy_psi_trigger_count(current(m)) : 0;

        n = MIN(n, max);
        for (size_t i = 0; i < n; i++)
                ret[i] = policy_psi_trigger(current(m), i)->arm;
        return n;
}

int manager_policy_child_env(Manager *m, char ***env)
{
        _cleanup_strv_free_ char **add = NULL;
        size_t n = 0, k = 0;
        int r;

        if (!m->policy || !m->policy->control || !m->cfg.preload)
                return 0;
        r = control_env(m->policy->control, &add);
        if (r < 0)
                return r;
        while (*env && (*env)[n])
                n++;
        while (add && add[k])
                k++;
        char **l = realloc(*env, (n + k + 1) * sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < k; i++) {
                l[n + i] = add[i];
                add[i] = NULL;
        }
        l[n + k] = NULL;
        *env = l;
        return 0;
}

static void log_transition(Manager *m, const PolicyTransition *t, const OomlessSample *s)
{
        const Policy *p = current(m);
        char cur[32], lim[32];
        double pct =
            s->limit && s->limit != OOMLESS_NO_LIMIT ? 100.0 * (double)s->current / (double)s->limit : 0;

        log_notice("stage %u -> %u (%s): %s; memory %s of %s (%.0f%%), psi full avg10 %.2f%%%s", t->from,
                   t->to, policy_stage_name(p, t->to) ?: "?", policy_reason_to_string(t->reason),
                   units_format_size(cur, sizeof(cur), s->current),
                   units_format_size(lim, sizeof(lim), s->limit), pct, s->psi_full.avg10,
                   m->policy->dry_run ? " (dry run)" : "");
}

static void run_decisions(Manager *m, const PolicyDecisions *ds, const PolicyTransition *t,
                          const OomlessSample *s)
{
        ManagerPolicy *mp = m->policy;

        if (t && t->changed) {
                log_transition(m, t, s);
                actions_note_transition(mp->runner, t);
        }
        if (ds && ds->n > 0)
                (void)actions_execute_all(mp->runner, ds, s);
}

/* The published cap follows the effective limit, which a parent cgroup may change while we run. The
 * allocator is woken near the danger zone (85%) so the policy can act within a millisecond rather
 * than at the next tick. */
void manager_policy_publish_heap_cap(Manager *m)
{
        ManagerPolicy *mp = m->policy;
        uint64_t limit = m->last.limit, cap;

        if (!mp || !mp->control || !m->cfg.heap_cap.set || mp->user_heap_cap)
                return;
        if (limit == 0 || limit == OOMLESS_NO_LIMIT)
                return;
        cap = units_size_spec_resolve(&m->cfg.heap_cap, limit);
        if (cap == mp->published_cap)
                return;
        if (actions_set_heap_cap(mp->runner, cap, limit / 100 * 85) >= 0)
                mp->published_cap = cap;
}

void manager_policy_tick(Manager *m)
{
        ManagerPolicy *mp = m->policy;
        PolicyDecisions ds;
        PolicyTransition t = { 0 };
        uint64_t now = manager_now();

        if (!mp || !mp->runner || m->draining)
                return; /* draining: no new decisions once oomless is to exit */
        if (mp->control)
                manager_policy_publish_heap_cap(m);

        /* Kernel OOM kills inside the leaf count toward max_restarts even when the main process lives. */
        if (m->last.events_valid) {
                if (mp->oom_kill_seen_valid && m->last.ev_oom_kill > mp->oom_kill_seen && m->child_running)
                        for (uint64_t i = mp->oom_kill_seen; i < m->last.ev_oom_kill; i++)
                                policy_restart_note_oom_kill(mp->policy, &mp->restart, now);
                mp->oom_kill_seen = m->last.ev_oom_kill;
                mp->oom_kill_seen_valid = true;
        }
        if (m->cfg.mode == MANAGER_RUN && !m->child_running)
                return; /* between runs: nothing to decide on */

        policy_evaluate(mp->policy, mp->state, &m->last, now, &ds, &t);
        run_decisions(m, &ds, &t, &m->last);
}

void manager_policy_reload(Manager *m)
{
        ManagerPolicy *mp = m->policy;
        Policy *np = NULL;
        PolicyState *ns;
        int r;

        if (!m->cfg.policy_path) {
                log_info("SIGHUP: no --policy file, the built-in policy stays.");
                return;
        }
        r = load(m->cfg.policy_path, &np);
        if (r < 0) {
                log_error_errno(
                    r, "Reloading %s failed (see above); the previous policy \"%s\" stays in force.",
                    m->cfg.policy_path, policy_name(mp->policy));
                return;
        }
        ns = policy_state_carry_over(np, mp->state);
        if (!ns) {
                policy_free(np);
                log_error("Out of memory reloading the policy; the previous one stays in force.");
                return;
        }
        /* The runner drops queued decisions pointing into the old policy before it goes. */
        actions_set_policy(mp->runner, np);
        mp->dry_run = m->cfg.dry_run || policy_dry_run(np);
        actions_set_dry_run(mp->runner, mp->dry_run);
        policy_state_free(mp->state);
        policy_free(mp->policy);
        mp->policy = np;
        mp->state = ns;
        log_notice("Reloaded the policy \"%s\" from %s: %u stages, stage %u carried over%s.",
                   policy_name(np), m->cfg.policy_path, policy_stage_count(np), policy_state_stage(ns),
                   mp->dry_run ? ", dry run" : "");
}

int manager_policy_child_exited(Manager *m, int status, bool oom_killed, uint64_t *ret_delay_usec)
{
        ManagerPolicy *mp = m->policy;
        PolicyDecisions ds;
        PolicyTransition t = { 0 };
        uint64_t now = manager_now(), delay = 0;
        bool requested;

        if (!mp)
                return 0;
        requested = mp->restart_requested;
        mp->restart_requested = false;

        PolicyExit e = {
                .signaled = status > 128,
                .code = status > 128 ? 0 : status,
                .signal = status > 128 ? status - 128 : 0,
                .oom_killed = oom_killed,
                .requested = requested,
                .started_usec = m->child.started_usec,
        };
        PolicyRestartVerdict v = policy_restart_decide(mp->policy, &mp->restart, &e, now, &delay);
        switch (v) {
        case POLICY_RESTART_VERDICT_RESTART:
                /* The new run starts at level 0: exit actions and throttle undos of the old stages. */
                policy_state_reset(mp->policy, mp->state, now, &ds, &t);
                run_decisions(m, &ds, &t, &m->last);
                *ret_delay_usec = delay;
                return 1;
        case POLICY_RESTART_VERDICT_GIVE_UP:
                log_error(
                    "The workload ended %u times within the restart window of policy \"%s\"; giving up.",
                    mp->restart.total_restarts + 1, policy_name(mp->policy));
                return -ELOOP;
        default:
                return 0;
        }
}

void manager_policy_status(Manager *m, StatusInfo *info)
{
        ManagerPolicy *mp = m->policy;
        uint64_t now = manager_now();

        if (!mp) {
                info->policy_name = "none";
                return;
        }
        info->policy_name = policy_name(mp->policy);
        info->dry_run = mp->dry_run;
        info->stage = policy_state_stage(mp->state);
        info->stage_name = policy_stage_name(mp->policy, info->stage);
        info->stage_since_sec = (double)(now - MIN(now, policy_state_stage_since_usec(mp->state))) / 1e6;
        info->recent_actions = mp->runner ? actions_status_json(mp->runner) : NULL;
        if (mp->control) {
                ControlAllocFigures f;
                if (control_read_alloc(mp->control, &f) >= 0) {
                        info->heap_valid = true;
                        info->heap_held = f.heap_held;
                        info->heap_in_use = f.heap_in_use;
                        info->heap_cap = f.heap_cap;
                        info->heap_cap_hits = f.cap_hits;
                        info->heap_scavenges = f.scavenges;
                }
        }
}

ManagerPolicy *manager_policy_free(ManagerPolicy *mp)
{
        if (!mp)
                return NULL;
        mp->drain_timer = sd_event_source_disable_unref(mp->drain_timer);
        mp->runner = actions_free(mp->runner);
        mp->control = control_free(mp->control);
        policy_state_free(mp->state);
        policy_free(mp->policy);
        free(mp);
        return NULL;
}
