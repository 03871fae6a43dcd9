/* SPDX-License-Identifier: MIT */
/* The run mode's workload on the loop: starts it with its environment, watches its pidfd and SIGCHLD,
 * tells an OOM kill from other ends, asks supervision whether to restart it and schedules that, and
 * stops it (stop.h) for good or for a restart. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"
#include "log.h"
#include "manager-internal.h"
#include "notify.h"
#include "policy.h"
#include "reaper.h"
#include "strv.h"
#include "time-util.h"
#include "units.h"
#include "workload-env.h"

/* The kernel bumps oom_kill just after it delivers the SIGKILL; give it a moment to show. */
#define OOM_COUNTER_SETTLE_TRIES 10

/* A policy hook is our child too; it normally reaps itself through its pidfd first. */
static void on_other_reaped(const siginfo_t *si, void *userdata)
{
        (void)userdata;
        (void)hook_child_reaped(si->si_pid, si->si_code, si->si_status);
}

static int stop_kill_children(int sig, void *userdata)
{
        (void)userdata;
        return reaper_kill_children(sig, hook_owns_pid);
}

static int stop_dying_children(void *userdata)
{
        (void)userdata;
        return reaper_count_dying_children(hook_owns_pid);
}

static void stop_reap(void *userdata)
{
        (void)reaper_drain(0, NULL, NULL, on_other_reaped, userdata);
}

void manager_stop_init(Manager *m)
{
        stop_init(&m->stop, m->event, m->actuator,
                  &(StopOps){ .kill_children = stop_kill_children,
                              .dying_children = stop_dying_children,
                              .reap = stop_reap,
                              .userdata = m });
}

void manager_kill_leftovers(Manager *m)
{
        if (m->cfg.mode == MANAGER_RUN)
                stop_sweep_leftovers(&m->stop);
}

static void report_oom(Manager *m)
{
        char lim[32], peak[32];
        CgTier t = cg_tier(m->cg);

        log_struct(LOG_LEVEL_ERROR,
                   LOG_FIELDS(LOG_STR("event", "oom_kill"), LOG_STR("leaf", cg_leaf_path(m->cg)),
                              LOG_U64("memory_limit", m->last.limit), LOG_U64("memory_peak", m->last.peak),
                              LOG_U64("oom_kill", m->last.ev_oom_kill),
                              LOG_U64("events_max", m->last.ev_max), LOG_U64("events_oom", m->last.ev_oom)),
                   "workload OOM-killed by the kernel in %s: limit %s, peak %s, oom_kill %" PRIu64
                   " (%s: max %" PRIu64 ", oom %" PRIu64 ")",
                   cg_leaf_path(m->cg) ?: "(no cgroup)", units_format_size(lim, sizeof(lim), m->last.limit),
                   m->last.peak ? units_format_size(peak, sizeof(peak), m->last.peak) : "unknown",
                   m->last.ev_oom_kill,
                   t == CG_TIER_V1 ? "memory.oom_control, failcnt as max" : "memory.events", m->last.ev_max,
                   m->last.ev_oom);
}

/* True when the kernel's oom_kill counter rose since the child started. */
static bool detect_oom_kill(Manager *m)
{
        for (int i = 0; i < OOM_COUNTER_SETTLE_TRIES; i++) {
                if (manager_sample(m) >= 0 && m->last.events_valid &&
                    m->last.ev_oom_kill > m->oom_kill_baseline)
                        return true;
                (void)usleep(20000);
        }
        return false;
}

static int on_child_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata);

int manager_start_child(Manager *m)
{
        _cleanup_strv_free_ char **control_vars = NULL, **env = NULL;
        const int *join_fds = NULL;
        int dirfd = -1, r;

        /* The baseline, so an OOM kill is told from other SIGKILLs by the counter rising; and the
         * effective limit the runtime heap caps derive from. */
        if (manager_sample(m) >= 0 && m->last.events_valid)
                m->oom_kill_baseline = m->last.ev_oom_kill;
        manager_publish_heap_cap(m);
        /* The empty leaf's figures say nothing of what the new process will hold outside its heap. */
        supervise_heap_cap_reset(m->supervise);

        WorkloadEnvSpec es = {
                .preload = m->cfg.preload,
                .pressure_path = cg_has(m->cg, CG_CAP_PSI_TRIGGER) ? cg_pressure_path(m->cg) : NULL,
                .limit = m->have_sample ? m->last.limit : UINT64_MAX,
        };
        /* The control page's fd, named in control_vars, when it is a sealed memfd. */
        int keep_fds[2] = { -1, -1 };
        if (m->control && m->cfg.preload && !control_path(m->control))
                keep_fds[0] = control_fd(m->control);
        r = m->control && m->cfg.preload ? control_env(m->control, &control_vars) : 0;
        es.extra = control_vars;
        if (r >= 0)
                r = workload_env_build(&es, &env);
        if (r < 0)
                return log_error_errno(r, "Cannot build the workload's environment: %m");
        r = cg_spawn_fds(m->cg, &dirfd, &join_fds);
        if (r < 0)
                return log_error_errno(r, "Cannot get the cgroup leaf's fds for the workload: %m");

        /* By default the workload does not outlive a supervisor that is SIGKILLed: nothing would watch
         * its memory any more (oomless(1), --keep-on-supervisor-death). */
        int death_signal = m->cfg.keep_on_supervisor_death ? 0 : SIGKILL;
        r = workload_spawn(&(WorkloadSpawn){ .argv = m->cfg.argv,
                                             .envp = env,
                                             .cgroup_dirfd = dirfd,
                                             .join_fds = join_fds,
                                             .keep_fds = keep_fds,
                                             .new_pgrp = true,
                                             .parent_death_signal = death_signal },
                           &m->child);
        if (r < 0)
                return r;
        m->child_running = true;

        if (m->child.exec_errno > 0) {
                int st = workload_exec_errno_to_status(m->child.exec_errno);
                log_error_errno(-m->child.exec_errno, "Cannot execute %s: %m (%s).", m->cfg.argv[0],
                                st == WORKLOAD_EXIT_NOT_FOUND
                                    ? "not found: check the path or $PATH"
                                    : "not executable: check its permissions and format");
                run_report_set_reason(&m->report, true, "cannot execute %s: %s", m->cfg.argv[0],
                                      st == WORKLOAD_EXIT_NOT_FOUND ? "not found" : "not executable");
        } else
                log_struct(m->restarts > 0 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
                           LOG_FIELDS(LOG_STR("event", "workload_started"), LOG_I64("pid", m->child.pid),
                                      LOG_U64("restarts", m->restarts)),
                           "Workload %s started as pid %d%s.", m->cfg.argv[0], (int)m->child.pid,
                           m->child.into_cgroup ? " (CLONE_INTO_CGROUP)" : "");

        r = sd_event_add_io(m->event, &m->child_source, m->child.pidfd, EPOLLIN, on_child_pidfd, m);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the workload's pidfd, relying on SIGCHLD: %m");
        return 0;
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        if (m->stopping)
                return manager_exit(m, m->exit_status);
        m->restarts++;
        log_struct(LOG_LEVEL_NOTICE,
                   LOG_FIELDS(LOG_STR("event", "restart"), LOG_U64("restarts", m->restarts)),
                   "Restarting the workload (restart %u).", m->restarts);
        if (manager_start_child(m) < 0) {
                m->exit_status = WORKLOAD_EXIT_FAILURE;
                return manager_exit(m, m->exit_status);
        }
        return 0;
}

/* Asks supervision whether to start the workload again; schedules the restart. True when one is. */
static bool schedule_restart(Manager *m, int status, bool oom)
{
        SuperviseDecisions d;
        uint64_t delay = 0;
        char buf[32], last[sizeof(m->report.exit_reason)];
        int r;

        switch (supervise_child_exited(m->supervise, status, oom, m->child.started_usec, &m->last,
                                       now_usec(CLOCK_MONOTONIC), &delay, &d)) {
        case SUPERVISE_RESTART:
                manager_run_decisions(m, &d);
                log_struct(LOG_LEVEL_NOTICE,
                           LOG_FIELDS(LOG_STR("event", "restart_scheduled"),
                                      LOG_DBL("delay_sec", (double)delay / 1e6),
                                      LOG_I64("last_status", status), LOG_BOOL("oom_killed", oom)),
                           "Restarting the workload in %s.", units_format_duration(buf, sizeof(buf), delay));
                manager_k8s_restart(m, status, oom, delay);
                r = sd_event_add_time_relative(m->event, &m->restart_timer, CLOCK_MONOTONIC, delay, 0,
                                               on_restart_timer, m);
                if (r >= 0)
                        return true;
                log_error_errno(r, "Cannot schedule the restart: %m");
                return false;
        case SUPERVISE_GIVE_UP:
                snprintf(last, sizeof(last), "%s", m->report.exit_reason);
                log_error("The restart policy gives up; oomless exits %d.", POLICY_EXIT_GAVE_UP);
                run_report_set_reason(
                    &m->report, true,
                    "the restart policy gave up after %u restarts (the last run ended: %s)", m->restarts,
                    last);
                manager_k8s_gave_up(m);
                m->exit_status = POLICY_EXIT_GAVE_UP;
                return false;
        default:
                return false;
        }
}

/* --success-exit: the workload's own way of ending well (a JVM that exits 143 by its SIGTERM). */
static bool counts_as_success(const Manager *m, int status)
{
        return status >= 1 && status <= 255 && (m->cfg.success_exit[status / 64] >> (status % 64) & 1);
}

static void child_ended(Manager *m, const siginfo_t *si)
{
        int status = workload_exit_status(si->si_code, si->si_status);
        bool killed = si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED;
        bool oom = false;
        char how[96];

        bool stop_was_delayed = m->stop_delay_timer != NULL;

        m->child_running = false;
        m->last_exit_pid = si->si_pid;
        m->child_source = sd_event_source_disable_unref(m->child_source);
        stop_cancel(&m->stop);
        m->restarting = false;
        workload_done(&m->child);

        if (m->child.exec_errno > 0) {
                status = workload_exec_errno_to_status(m->child.exec_errno);
                m->exit_status = status;
                m->stopping = true;
                (void)manager_exit(m, status);
                return;
        }

        if (killed && si->si_status == SIGKILL && !m->stopping)
                oom = detect_oom_kill(m);
        else
                (void)manager_sample(m);
        if (oom)
                report_oom(m);
        if (oom)
                snprintf(how, sizeof(how), "was OOM-killed by the kernel");
        else if (killed)
                snprintf(how, sizeof(how), "was killed by %s%s",
                         units_signal_to_string(si->si_status) ?: "a signal",
                         m->stopping ? " (oomless stopped it)" : "");
        else
                snprintf(how, sizeof(how), "exited with status %d%s", si->si_status,
                         m->stopping ? " (oomless stopped it)" : "");
        run_report_set_reason(&m->report, true, "the workload %s", how);
        log_struct(LOG_LEVEL_INFO,
                   LOG_FIELDS(LOG_STR("event", "exit"), LOG_I64("pid", si->si_pid),
                              LOG_I64("exit_status", status),
                              LOG_STR("signal", killed ? units_signal_to_string(si->si_status) : NULL),
                              LOG_BOOL("oom_killed", oom)),
                   "The workload (pid %d) %s.", (int)si->si_pid, how);

        m->last_exit_valid = true;
        m->last_exit_status = status;
        m->last_exit_signal = killed ? si->si_status : 0;
        m->last_exit_oom_killed = oom;
        m->last_exit_usec = now_usec(CLOCK_MONOTONIC);
        if (counts_as_success(m, status)) {
                /* The restart policy sees a success too: on-failure does not restart it. */
                log_info("Exit status %d counts as success (--success-exit).", status);
                run_report_set_reason(&m->report, true, "the workload %s, which counts as success", how);
                status = 0;
        }
        m->exit_status = status;
        if (m->shmem_stop) {
                m->exit_status = POLICY_EXIT_SHMEM;
                run_report_set_reason(&m->report, true,
                                      "the workload was stopped because shmem (tmpfs, shared memory) filled "
                                      "the limit, which a restart would not free (it %s)",
                                      how);
        }

        /* Daemonized grandchildren do not outlive the workload, so a restart starts clean. */
        manager_kill_leftovers(m);

        /* Told to stop while --stop-delay ran: the workload ended first, and is not restarted. */
        m->stop_delay_timer = sd_event_source_disable_unref(m->stop_delay_timer);
        if (!m->stopping && !stop_was_delayed && schedule_restart(m, status, oom))
                return;
        m->stopping = true;
        (void)manager_exit(m, m->exit_status);
}

/* SIGCHLD and the pidfd both land here. Every zombie is reaped (orphans included); the workload's
 * own status is picked out by pid. The pidfd is watched as plain I/O rather than through sd-event's
 * child sources so that exactly one place calls waitid(). */
static void drain_children(Manager *m)
{
        bool main_exited = false;
        siginfo_t si = { 0 };

        (void)reaper_drain(m->child_running ? m->child.pid : 0, &main_exited, &si, on_other_reaped, m);
        if (main_exited)
                child_ended(m, &si);
}

static int on_child_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        (void)revents;
        drain_children(userdata);
        return 0;
}

int manager_on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        drain_children(userdata);
        return 0;
}

/* The restart action: stop with sig, kill the leaf after grace_usec, and let the restart policy start
 * it again. */
int manager_restart_workload(Manager *m, int sig, uint64_t grace_usec)
{
        if (!m->child_running || m->stopping)
                return -ESRCH;
        m->restarting = true;
        return stop_begin(&m->stop, m->child.pidfd, sig, grace_usec);
}

/* Restarting frees nothing that tmpfs or shared memory holds: the files outlive the processes, and
 * the next run would meet the same full limit (a restart loop until the policy gives up). So the
 * workload is stopped once, with the restart's signal and grace, and oomless exits
 * POLICY_EXIT_SHMEM with the reason. */
int manager_stop_for_shmem(Manager *m, int sig, uint64_t grace_usec)
{
        char shm[32], ws[32], lim[32];
        uint64_t working_set = oomless_sample_working_set(&m->last);

        if (!m->child_running || m->stopping)
                return -ESRCH;
        log_struct(LOG_LEVEL_ERROR,
                   LOG_FIELDS(LOG_STR("event", "shmem_stop"), LOG_STR("cause", "shmem"),
                              LOG_U64("shmem", m->last.shmem), LOG_U64("working_set", working_set),
                              LOG_U64("memory_limit", m->last.limit),
                              LOG_I64("exit_status", POLICY_EXIT_SHMEM)),
                   "shmem (tmpfs, shared memory) holds %s of the %s working set (limit %s): a restart would "
                   "not free it, so the workload is stopped once instead (%s, grace %.1fs) and oomless "
                   "exits %d. Remove the files (e.g. in /dev/shm) or raise the limit.",
                   units_format_size(shm, sizeof(shm), m->last.shmem),
                   units_format_size(ws, sizeof(ws), working_set),
                   units_format_size(lim, sizeof(lim), m->last.limit),
                   units_signal_to_string(sig) ?: "signal", (double)grace_usec / 1e6, POLICY_EXIT_SHMEM);
        m->shmem_stop = true;
        if (!m->stopping)
                notify_stopping();
        m->stopping = true;
        if (m->runner)
                (void)actions_set_stopping(m->runner);
        return stop_begin(&m->stop, m->child.pidfd, sig, grace_usec);
}

bool manager_stop_requested(const Manager *m)
{
        return m->stopping || m->stop_delay_timer;
}

static int on_stop_delay(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        m->stop_delay_timer = sd_event_source_disable_unref(m->stop_delay_timer);
        if (m->stopping)
                return 0; /* a shmem stop began meanwhile, with its own signal and grace */
        log_info("The stop delay is over: stopping the workload.");
        manager_stop_workload(m, m->stop_delay_signal);
        return 0;
}

/* SIGTERM or SIGINT to oomless run. With --stop-delay the workload keeps serving while /readyz says
 * 503, so that load balancers stop sending before it gets the signal (what a preStop sleep does,
 * without a sleep binary in the image). A second signal cuts the delay short. */
void manager_request_stop(Manager *m, int sig)
{
        char buf[32];
        int r;

        if (m->stop_delay_timer) {
                m->stop_delay_timer = sd_event_source_disable_unref(m->stop_delay_timer);
                log_info("%s again: stopping the workload now.", units_signal_to_string(sig));
                manager_stop_workload(m, sig);
                return;
        }
        /* No delay while a policy restart stops the workload already: it is not serving. */
        if (m->cfg.stop_delay_usec == 0 || m->stopping || m->restarting || !m->child_running) {
                log_info("%s: stopping the workload.", units_signal_to_string(sig));
                manager_stop_workload(m, sig);
                return;
        }
        r = sd_event_add_time_relative(m->event, &m->stop_delay_timer, CLOCK_MONOTONIC,
                                       m->cfg.stop_delay_usec, 0, on_stop_delay, m);
        if (r < 0) {
                log_warning_errno(r, "Cannot arm the stop delay, stopping the workload now: %m");
                manager_stop_workload(m, sig);
                return;
        }
        m->stop_delay_signal = sig;
        notify_stopping();
        if (m->runner)
                (void)actions_set_stopping(m->runner);
        log_struct(LOG_LEVEL_INFO,
                   LOG_FIELDS(LOG_STR("event", "stop_delay"), LOG_STR("signal", units_signal_to_string(sig)),
                              LOG_DBL("delay_sec", (double)m->cfg.stop_delay_usec / 1e6)),
                   "%s: not ready; the workload gets it in %s (--stop-delay).", units_signal_to_string(sig),
                   units_format_duration(buf, sizeof(buf), m->cfg.stop_delay_usec));
}

/* A graceful stop with sig, escalating to SIGKILL of the whole leaf after --stop-timeout. */
void manager_stop_workload(Manager *m, int sig)
{
        if (!m->stopping)
                notify_stopping();
        m->stopping = true;
        if (m->runner)
                (void)actions_set_stopping(m->runner);
        if (m->restart_timer) {
                /* Between two runs: nothing to stop. */
                run_report_set_reason(&m->report, true, "oomless was stopped between two runs (%s)",
                                      units_signal_to_string(sig) ?: "signal");
                (void)manager_exit(m, m->exit_status);
                return;
        }
        if (!m->child_running)
                return;
        /* A restart's shorter grace must not cut the user's stop short. */
        if (m->restarting) {
                stop_cancel(&m->stop);
                m->restarting = false;
        }
        (void)stop_begin(&m->stop, m->child.pidfd, sig, m->cfg.stop_timeout_usec);
}
