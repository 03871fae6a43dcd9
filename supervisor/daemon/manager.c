/* SPDX-License-Identifier: MIT */
/* Manager: the event loop's wiring. Signals (forwarding, SIGHUP reload, SIGTERM), SIGCHLD, the tick,
 * the watched fds (memory events, populated, PSI triggers), the watchdog, the status socket, the
 * attach target's pidfd, and the life cycle. What happens on each lives next door: sampling and
 * deciding in manager-decide.c, the run mode's workload in manager-workload.c, the exit drain in
 * manager-drain.c. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"
#include "notify.h"
#include "reaper.h"
#include "runtime-dir.h"
#include "strv.h"
#include "time-util.h"
#include "units.h"

/* ---- watched fds: tick, memory events, populated, PSI triggers ---- */

/* 0 when the attached cgroup has no process left. Reads cgroup.procs through a fresh open: a v1
 * cgroup.procs fd read again within a second serves the pid list cached at the previous read. */
static int attached_cgroup_populated(Manager *m)
{
        const char *leaf = cg_leaf_path(m->cg);
        char path[PATH_MAX], buf[64];
        _cleanup_fclose_ FILE *f = NULL;

        if (!leaf)
                return cg_is_populated(m->cg);
        snprintf(path, sizeof(path), "%s/cgroup.procs", leaf);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : cg_is_populated(m->cg);
        while (fgets(buf, sizeof(buf), f))
                if (atoi(buf) > 0 && atoi(buf) != getpid())
                        return 1;
        return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        manager_sample_and_decide(m);
        /* Also with a populated fd: on hybrid hosts it may watch a unified cgroup that never empties. */
        if (m->cfg.mode == MANAGER_ATTACH && m->cfg.attach_cgroup && attached_cgroup_populated(m) == 0) {
                log_info("The cgroup %s is empty: nothing left to supervise, oomless attach ends.",
                         cg_leaf_path(m->cg));
                run_report_set_reason(&m->report, false, "the cgroup emptied");
                return manager_exit(m, 0);
        }
        uint64_t next = manager_react_tick_interval(m);
        (void)sd_event_source_set_time(s, usec + next);
        (void)sd_event_source_set_time_accuracy(s, manager_tick_accuracy(next));
        (void)sd_event_source_set_enabled(s, SD_EVENT_ON); /* timers are one-shot by default */
        return 0;
}

static void rearm_kernfs(int fd)
{
        char buf[512];
        struct stat st;

        /* A kernfs file keeps reporting POLLPRI until it is read again; an eventfd (v1
         * cgroup.event_control) until its counter is consumed. */
        ssize_t n;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                n = pread(fd, buf, sizeof(buf), 0);
        else
                n = read(fd, buf, sizeof(uint64_t));
        (void)n;
}

static uint32_t kernfs_events(int fd)
{
        struct stat st;
        return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? EPOLLPRI : EPOLLIN;
}

static int on_events(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;

        rearm_kernfs(fd);
        if (revents & EPOLLERR && !(revents & EPOLLPRI)) {
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        log_debug("memory events changed in %s", cg_leaf_path(m->cg));
        manager_sample_and_decide(m);
        return 0;
}

static int on_populated(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        (void)revents;

        rearm_kernfs(fd);
        if (m->cfg.mode == MANAGER_ATTACH && m->cfg.attach_cgroup && attached_cgroup_populated(m) == 0) {
                log_info("The cgroup %s is empty: nothing left to supervise, oomless attach ends.",
                         cg_leaf_path(m->cg));
                run_report_set_reason(&m->report, false, "the cgroup emptied");
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return manager_exit(m, 0);
        }
        return 0;
}

static int on_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        (void)fd;

        for (unsigned i = 0; i < m->n_psi; i++)
                if (m->psi_sources[i] == s) {
                        if (revents & EPOLLERR) {
                                /* The cgroup went away; the pidfd/populated watch ends the run. */
                                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                                return 0;
                        }
                        sampler_note_psi_fired(m->sampler, i);
                        log_debug("PSI trigger %u fired (%" PRIu64 " so far)", i,
                                  sampler_psi_fired(m->sampler, i));
                }
        manager_sample_and_decide(m);
        return 0;
}

static void disarm_psi(Manager *m)
{
        for (unsigned i = 0; i < m->n_psi; i++) {
                m->psi_sources[i] = sd_event_source_disable_unref(m->psi_sources[i]);
                m->psi_fds[i] = safe_close(m->psi_fds[i]);
        }
        m->n_psi = 0;
}

/* The policy's PSI triggers (or the default one) on the leaf's memory.pressure; returns how many are
 * armed. */
static unsigned arm_psi(Manager *m)
{
        const char *triggers[OOMLESS_PSI_TRIGGERS_MAX];
        unsigned armed = 0;
        size_t n;
        int fd, r;

        n = supervise_psi_triggers(m->supervise, triggers, ELEMENTSOF(triggers));
        if (n == 0) {
                triggers[0] = MANAGER_DEFAULT_PSI_TRIGGER;
                n = 1;
        }
        /* Slot i is the policy's trigger i (OomlessSample.psi_trigger_fired[i]), armed or not. */
        m->n_psi = (unsigned)n;
        sampler_set_psi_triggers(m->sampler, m->n_psi);
        for (size_t i = 0; i < n; i++) {
                fd = cg_psi_trigger_open(m->cg, triggers[i]);
                if (fd == -EINVAL) {
                        /* Without CAP_SYS_RESOURCE the kernel only takes windows that are a multiple
                         * of 2s: keep the stall ratio over the next such window. */
                        char kind[8], scaled[64];
                        unsigned long stall, window;
                        if (sscanf(triggers[i], "%7s %lu %lu", kind, &stall, &window) == 3 && window > 0 &&
                            window % 2000000 != 0) {
                                unsigned long w2 = (window / 2000000 + 1) * 2000000;
                                snprintf(scaled, sizeof(scaled), "%s %lu %lu", kind, stall * (w2 / window),
                                         w2);
                                if (w2 % window != 0)
                                        snprintf(
                                            scaled, sizeof(scaled), "%s %lu %lu", kind,
                                            (unsigned long)((double)stall * (double)w2 / (double)window),
                                            w2);
                                fd = cg_psi_trigger_open(m->cg, scaled);
                                if (fd >= 0)
                                        log_debug("PSI trigger \"%s\" needs CAP_SYS_RESOURCE; armed \"%s\" "
                                                  "instead.",
                                                  triggers[i], scaled);
                        }
                }
                if (fd == -EOPNOTSUPP) {
                        log_debug("No per-cgroup PSI on this tier; PSI triggers not armed.");
                        break;
                }
                if (fd < 0) {
                        log_warning_errno(fd,
                                          "Cannot arm the PSI trigger \"%s\" on %s, relying on the tick: %m",
                                          triggers[i], cg_pressure_path(m->cg) ?: "the leaf");
                        continue;
                }
                m->psi_fds[i] = fd;
                r = sd_event_add_io(m->event, &m->psi_sources[i], fd, EPOLLPRI, on_psi, m);
                if (r < 0) {
                        m->psi_fds[i] = safe_close(fd);
                        log_warning_errno(r, "Cannot watch the PSI trigger: %m");
                } else
                        armed++;
        }
        return armed;
}

int manager_arm_watches(Manager *m)
{
        int fd, r;

        fd = cg_events_fd(m->cg);
        if (fd >= 0) {
                r = sd_event_add_io(m->event, &m->events_source, fd, kernfs_events(fd), on_events, m);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch memory events, relying on the tick: %m");
        }
        fd = cg_populated_fd(m->cg);
        if (fd >= 0 && m->cfg.mode == MANAGER_ATTACH) {
                r = sd_event_add_io(m->event, &m->populated_source, fd, kernfs_events(fd), on_populated, m);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch cgroup.events, relying on the tick: %m");
        }

        (void)arm_psi(m);
        return 0;
}

/* SIGHUP: the new policy takes over with its own PSI triggers (the old ones are dropped, and their
 * slots start over, as the policy's trigger history does: policy_state_carry_over()), and a budget the
 * old one shed is published again if the reload restored it. */
static void manager_reload(Manager *m)
{
        SuperviseDecisions d;
        unsigned armed;

        if (supervise_reload(m->supervise, now_usec(CLOCK_MONOTONIC), &d) < 0)
                return;
        if (m->cg) {
                disarm_psi(m);
                armed = arm_psi(m);
                log_info("PSI triggers re-armed for the new policy: %u of %u on %s.", armed, m->n_psi,
                         cg_pressure_path(m->cg) ?: "no memory.pressure");
        }
        if (m->runner)
                manager_run_decisions(m, &d);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        int sig = (int)si->ssi_signo;
        (void)s;

        if (m->draining && IN_SET(sig, SIGTERM, SIGINT, SIGQUIT)) {
                manager_drain_cancel(m, sig);
                return 0;
        }
        if (sig == SIGHUP && !m->cfg.forward_hup) {
                log_info("SIGHUP: reloading the policy.");
                manager_reload(m);
                return 0;
        }

        if (m->cfg.mode == MANAGER_ATTACH) {
                if (IN_SET(sig, SIGTERM, SIGINT, SIGQUIT)) {
                        if (m->target.waiting)
                                log_info("%s: oomless attach ends while waiting for the target (--wait=%s).",
                                         units_signal_to_string(sig), m->cfg.wait.text);
                        else
                                log_info("%s: oomless attach ends; the target keeps running.",
                                         units_signal_to_string(sig));
                        run_report_set_reason(&m->report, false, "%s: oomless was told to stop",
                                              units_signal_to_string(sig));
                        return manager_exit(m, 0);
                }
                return 0;
        }

        if (IN_SET(sig, SIGTERM, SIGINT)) {
                manager_request_stop(m, sig);
                return 0;
        }
        if (m->child_running) {
                int r = workload_signal(&m->child, sig);
                if (r < 0 && r != -ESRCH)
                        log_warning_errno(r, "Cannot forward %s to the workload: %m",
                                          units_signal_to_string(sig));
                else if (r >= 0) /* a terminal resize is no news */
                        log_struct(sig == SIGWINCH ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
                                   LOG_FIELDS(LOG_STR("event", "signal_forwarded"),
                                              LOG_STR("signal", units_signal_to_string(sig)),
                                              LOG_I64("pid", m->child.pid)),
                                   "Forwarded %s to the workload (pid %d).", units_signal_to_string(sig),
                                   (int)m->child.pid);
        }
        return 0;
}

static int add_signals(Manager *m)
{
        int r;

        for (size_t i = 0; i < reaper_forwarded_signals_n; i++) {
                r = sd_event_add_signal(m->event, NULL, reaper_forwarded_signals[i], on_signal, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot watch %s: %m",
                                               units_signal_to_string(reaper_forwarded_signals[i]));
        }
        r = sd_event_add_signal(m->event, NULL, SIGHUP, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch SIGHUP: %m");
        if (m->cfg.mode == MANAGER_RUN) {
                sd_event_source *src = NULL;
                r = sd_event_add_signal(m->event, &src, SIGCHLD, manager_on_sigchld, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot watch SIGCHLD: %m");
                /* After the pidfd sources (the workload's, the hooks'), so each child is normally
                 * collected by its owner and this only sweeps up orphans. */
                (void)sd_event_source_set_priority(src, SD_EVENT_PRIORITY_NORMAL + 10);
                (void)sd_event_source_set_floating(src, true);
                sd_event_source_unref(src);
        }
        return 0;
}

/* ---- status ---- */

char *manager_status_document(void *userdata)
{
        Manager *m = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (!m->target.waiting)
                return manager_render_status(m);
        if (m->sampler) {
                /* Between targets (--follow): the cgroup and the page as last bound, and that attach
                 * looks for the next process. */
                char *doc = manager_render_status(m), *out;
                cJSON *root = doc ? cJSON_Parse(doc) : NULL;
                if (!root ||
                    !cJSON_ReplaceItemInObject(root, "waiting", cJSON_CreateString(m->cfg.wait.text))) {
                        cJSON_Delete(root);
                        return doc;
                }
                out = cJSON_PrintUnformatted(root);
                cJSON_Delete(root);
                if (!out)
                        return doc;
                free(doc);
                return out;
        }
        /* No target found yet: who we are, the policy, the counters, and what we wait for. */
        StatusInfo info = {
                .mode = "attach",
                .supervisor_pid = getpid(),
                .tier = m->cg ? cg_tier_to_string(cg_tier(m->cg)) : cg_tier_to_string(CG_TIER_NONE),
                .leaf = m->cg ? cg_leaf_path(m->cg) : NULL,
                .uptime_sec = (double)(now - m->start_usec) / (double)USEC_PER_SEC,
                .restarts = m->restarts,
                .dry_run = m->cfg.dry_run,
                .instance_id = m->instance_id,
                .waiting = m->cfg.wait.text,
        };
        supervise_status(m->supervise, now, &info);
        info.recent_actions = m->runner ? actions_status_json(m->runner) : NULL;
        return status_render_json(&info);
}

/* ---- life cycle ---- */

static int manager_run_loop(Manager *m);

/* Options that the tier in force cannot carry out are errors, not silently ignored: --memory-max needs
 * a writable leaf (v2, v1), --memory-limit stands in for a cgroup limit on the others (observe, none). */
static int check_tier_options(const ManagerConfig *cfg, CgTier tier)
{
        bool writable = tier == CG_TIER_V2 || tier == CG_TIER_V1;

        if (cfg->cg.memory_max.set && !writable)
                return log_error_errno(
                    -EINVAL,
                    "--memory-max does not apply to tier %s (no writable cgroup leaf); give the "
                    "limit with --memory-limit, or run where cgroupfs is writable",
                    cg_tier_to_string(tier));
        if (cfg->cg.tree_limit && cfg->cg.tree_limit != UINT64_MAX && writable)
                return log_error_errno(
                    -EINVAL,
                    "--memory-limit does not apply to tier %s, which reads the cgroup's own "
                    "limit; use --memory-max to set one",
                    cg_tier_to_string(tier));
        return 0;
}

/* The cgroup and the sampler: at start, or for attach --wait once the target appeared. */
static int setup_cgroup(Manager *m)
{
        _cleanup_free_ char *msg = NULL;
        int r;

        if (m->cfg.mode == MANAGER_RUN)
                r = cg_setup_run(&m->cfg.cg, &m->cg, &msg);
        else
                r = cg_setup_attach(&m->cfg.cg, m->cfg.attach_pid, m->cfg.attach_cgroup, &m->cg, &msg);
        if (r < 0) {
                if (msg)
                        return log_error_errno(r, "%s", msg);
                return log_error_errno(r, "Cannot set up the cgroup: %m");
        }
        log_info("%s", cg_describe(m->cg));
        r = check_tier_options(&m->cfg, cg_tier(m->cg));
        if (r < 0)
                return r;
        r = sampler_new(m->cg, NULL, &m->sampler);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the sampler: %m");
        return 0;
}

int manager_new(const ManagerConfig *cfg, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        char path[PATH_MAX];
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_error_errno(-ENOMEM, "Out of memory");
        m->cfg = *cfg;
        m->target_pidfd = -EBADF;
        m->kmsg_fd = -EBADF;
        m->child.pidfd = -EBADF;
        m->stop.pidfd = -EBADF;
        for (size_t i = 0; i < ELEMENTSOF(m->psi_fds); i++)
                m->psi_fds[i] = -EBADF;
        m->start_usec = now_usec(CLOCK_MONOTONIC);
        run_report_init(&m->report, m->start_usec);
        r = manager_setup_identity(m);
        if (r < 0)
                return r;

        /* A bad policy refuses to start anything. */
        r = manager_setup_supervise(m);
        if (r < 0)
                return r;

        if (cfg->mode == MANAGER_ATTACH) {
                r = target_prepare(m); /* --control-page; --wait finds the target on the loop */
                if (r < 0)
                        return r;
        }
        /* While attach waits for its target there is no cgroup yet: that, the sampler and the action
         * runner come once it appeared (manager_target_found()). */
        if (!m->target.waiting) {
                r = setup_cgroup(m);
                if (r < 0)
                        return r;
        }

        r = sd_event_new(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        (void)sd_event_set_watchdog(m->event, true);

        r = runtime_dir_create(m->cfg.runtime_dir, &m->rundir);
        if (r < 0)
                return r;
        m->instance_dir = m->rundir->path;
        snprintf(path, sizeof(path), "%s/" STATUS_SOCKET_NAME, m->instance_dir);
        r = status_server_new(m->event, path, manager_status_document, m, &m->status);
        if (r < 0)
                return r;

        r = add_signals(m);
        if (r < 0)
                return r;

        m->interval_usec = cfg->interval_usec ?: supervise_interval(m->supervise) ?: MANAGER_DEFAULT_INTERVAL_USEC;
        if (cfg->interval_usec && cfg->interval_usec != supervise_interval(m->supervise))
                log_info("Sampling every %" PRIu64 "ms (--interval), not the policy's %" PRIu64 "ms.",
                         m->interval_usec / USEC_PER_MSEC, supervise_interval(m->supervise) / USEC_PER_MSEC);

        if (!m->target.waiting) {
                r = manager_setup_acting(m);
                if (r < 0)
                        return r;
                manager_stop_init(m); /* stops through the actuator, which exists from here on */
        }
        r = manager_setup_http(m);
        if (r < 0)
                return r;
        r = manager_setup_k8s(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_run(Manager *m)
{
        int r;

        r = manager_run_loop(m);
        manager_log_summary(m, r);
        return r;
}

/* The sampling from now on: the start record, the watches and the tick. */
static int start_supervising(Manager *m)
{
        int r;

        manager_log_start(m);
        (void)manager_arm_watches(m);
        r = sd_event_add_time_relative(m->event, &m->tick, CLOCK_MONOTONIC, 0,
                                       manager_tick_accuracy(m->interval_usec), on_tick, m);
        if (r < 0)
                return log_error_errno(r, "Cannot arm the sampling timer: %m");
        (void)sd_event_source_set_enabled(m->tick, SD_EVENT_ON);
        (void)manager_react_start(m);
        return 0;
}

int manager_target_found(Manager *m)
{
        int r;

        r = setup_cgroup(m);
        if (r < 0)
                return r;
        r = manager_setup_acting(m);
        if (r < 0)
                return r;
        manager_stop_init(m);
        r = target_start(m);
        if (r < 0)
                return r;
        return start_supervising(m);
}

static int manager_run_loop(Manager *m)
{
        int r;

        if (m->cfg.mode == MANAGER_RUN) {
                r = manager_start_child(m);
                if (r < 0) {
                        run_report_set_reason(&m->report, false, "the workload could not be started");
                        return WORKLOAD_EXIT_FAILURE;
                }
                if (m->child.exec_errno > 0) {
                        /* Reap it so no zombie outlives us, and report 126/127. */
                        siginfo_t si;
                        (void)waitid(P_PID, (id_t)m->child.pid, &si, WEXITED);
                        m->child_running = false;
                        m->child_source = sd_event_source_disable_unref(m->child_source);
                        workload_done(&m->child);
                        return workload_exec_errno_to_status(m->child.exec_errno);
                }
        } else if (m->target.waiting) {
                r = target_wait_start(m);
                if (r < 0) {
                        run_report_set_reason(&m->report, false, "the target could not be looked for");
                        return WORKLOAD_EXIT_FAILURE;
                }
        } else {
                r = target_start(m);
                if (r < 0) {
                        run_report_set_reason(&m->report, false, "the target could not be watched");
                        return WORKLOAD_EXIT_FAILURE;
                }
        }

        if (!m->target.waiting) {
                r = start_supervising(m);
                if (r < 0) {
                        run_report_set_reason(&m->report, false, "oomless failed");
                        return WORKLOAD_EXIT_FAILURE;
                }
        }

        notify_ready();
        r = sd_event_loop(m->event);
        notify_stopping();
        if (r < 0) {
                log_error_errno(r, "The event loop failed: %m");
                run_report_set_reason(&m->report, true, "the event loop failed");
                return WORKLOAD_EXIT_FAILURE;
        }
        return r;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;

        if (m->cfg.mode == MANAGER_RUN && m->cg) {
                if (m->child_running) {
                        (void)workload_signal(&m->child, SIGKILL);
                        siginfo_t si;
                        (void)waitid(P_PID, (id_t)m->child.pid, &si, WEXITED);
                        m->child_running = false;
                }
                if (m->stop.event)
                        manager_kill_leftovers(m);
        }
        workload_done(&m->child);
        m->command = strv_free(m->command);

        stop_done(&m->stop);
        m->kmsg_fd = safe_close(m->kmsg_fd);
        m->drain_timer = sd_event_source_disable_unref(m->drain_timer);
        m->runner = actions_free(m->runner);
        m->actuator = actuator_free(m->actuator);
        m->control = control_free(m->control);
        m->supervise = supervise_free(m->supervise);
        m->sampler = sampler_free(m->sampler);
        m->child_source = sd_event_source_disable_unref(m->child_source);
        m->target_source = sd_event_source_disable_unref(m->target_source);
        target_done(&m->target);
        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        m->stop_delay_timer = sd_event_source_disable_unref(m->stop_delay_timer);
        m->tick = sd_event_source_disable_unref(m->tick);
        m->react = manager_react_free(m->react);
        m->events_source = sd_event_source_disable_unref(m->events_source);
        m->populated_source = sd_event_source_disable_unref(m->populated_source);
        for (unsigned i = 0; i < m->n_psi; i++) {
                m->psi_sources[i] = sd_event_source_disable_unref(m->psi_sources[i]);
                m->psi_fds[i] = safe_close(m->psi_fds[i]);
        }
        m->target_pidfd = safe_close(m->target_pidfd);
        m->http = http_server_free(m->http);
        m->k8s = k8s_events_free(m->k8s);
        m->k8s_flush = sd_event_source_disable_unref(m->k8s_flush);
        m->status = status_server_free(m->status);
        m->cg = cg_free(m->cg);
        m->rundir = runtime_dir_free(m->rundir);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
