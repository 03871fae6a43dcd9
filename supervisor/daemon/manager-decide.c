/* SPDX-License-Identifier: MIT */
/* The manager's sampling and deciding: takes the loop's sample, hands it to supervision, gives the
 * decisions to the action runner, publishes the heap cap, wires the runner's calls back, and renders
 * `oomless status`. The supervisor's calls into host/ (sampling, the control page) and act/ (the
 * runner) sit here. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "kmsg.h"
#include "log.h"
#include "manager-internal.h"
#include "notify.h"
#include "time-util.h"
#include "units.h"

/* At most one wake-triggered sample and tick per this interval. A lone crossing is still handled at
 * once; a workload writing to the wake FIFO in a loop gets 200 ticks a second at most instead of one
 * per byte (issue 14, finding 5), and its last crossing is handled when the interval ends. */
#define MANAGER_WAKE_MIN_INTERVAL_USEC (5 * USEC_PER_MSEC)

static double usec_to_sec(uint64_t usec)
{
        return (double)usec / (double)USEC_PER_SEC;
}

/* A fresh sample into *ret: the cgroup's figures, PSI trigger counts and the heap's. */
static int sample_into(Manager *m, OomlessSample *ret)
{
        int r = sampler_acquire(m->sampler, ret);
        if (r < 0)
                log_debug_errno(r, "Sampling %s failed: %m", cg_leaf_path(m->cg) ?: "the cgroup");
        return r;
}

/* How long a rise of the oom_kill counter waits for the kernel's log line naming its victim: the
 * kernel counts the kill before it logs it. */
#define OOM_VICTIM_WAIT_USEC (1 * USEC_PER_SEC)

static void log_oom_victim(Manager *m, const KmsgOomKill *k)
{
        char anon[32], file[32], shm[32], cg_shm[32];
        bool main_process = m->child_running ? k->pid == m->child.pid : k->pid == m->last_exit_pid;

        log_struct(LOG_LEVEL_ERROR,
                   LOG_FIELDS(LOG_STR("event", "oom_kill_victim"), LOG_I64("pid", k->pid),
                              LOG_STR("comm", k->comm), LOG_U64("anon_rss", k->anon_rss),
                              LOG_U64("file_rss", k->file_rss), LOG_U64("shmem_rss", k->shmem_rss),
                              LOG_BOOL("main_process", main_process), LOG_U64("shmem", m->last.shmem),
                              LOG_STR("leaf", cg_leaf_path(m->cg))),
                   "The kernel OOM-killed pid %d (%s) in the workload's cgroup: anon-rss %s, file-rss %s, "
                   "shmem-rss %s%s; the cgroup's shmem %s.",
                   (int)k->pid, k->comm, units_format_size(anon, sizeof(anon), k->anon_rss),
                   units_format_size(file, sizeof(file), k->file_rss),
                   units_format_size(shm, sizeof(shm), k->shmem_rss),
                   main_process ? " (the main process)" : " (not the main process)",
                   units_format_size(cg_shm, sizeof(cg_shm), m->last.shmem));
        run_report_oom_victim(&m->report, (int)k->pid, k->comm);
}

/* Every kernel OOM kill inside the leaf, whichever process it hit, reported once: the counter says
 * that one happened, the kernel log which process it was. A kill whose victim the log does not name
 * within OOM_VICTIM_WAIT_USEC (no /dev/kmsg, or a ring that overflowed) is reported unnamed. */
static void report_oom_kills(Manager *m)
{
        KmsgOomKill k[8];
        const char *leaf = cg_leaf_path(m->cg), *memcg = cg_memcg_path(m->cg), *name;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int n = 0;

        if (!m->last.events_valid || !leaf)
                return;
        if (!m->oom_seen_valid || m->last.ev_oom_kill < m->oom_seen) {
                /* The first sample, or a counter that started over (a new leaf). */
                m->oom_seen = m->last.ev_oom_kill;
                m->oom_seen_valid = true;
                m->kmsg_match = (KmsgMatch){};
                m->kmsg_fd = m->kmsg_fd == -EBADF ? kmsg_open() : m->kmsg_fd;
                return;
        }
        if (m->last.ev_oom_kill == m->oom_seen)
                return;
        /* The kernel prints the memcg's path from its hierarchy's root, which our view of the tree
         * (a cgroup namespace, or /proc/PID/root for attach) may not share: its last component is. */
        memcg = memcg ?: leaf;
        name = strrchr(memcg, '/') ? strrchr(memcg, '/') + 1 : memcg;
        if (m->kmsg_fd >= 0) {
                /* No more than the counter rose by: a kill logged since stays for its own rise. */
                n = kmsg_read_oom_kills(m->kmsg_fd, name, &m->kmsg_match, k,
                                        MIN(ELEMENTSOF(k), (size_t)(m->last.ev_oom_kill - m->oom_seen)));
                if (n < 0)
                        n = 0;
        }
        for (int i = 0; i < n && m->oom_seen < m->last.ev_oom_kill; i++, m->oom_seen++)
                log_oom_victim(m, &k[i]);
        if (m->oom_seen == m->last.ev_oom_kill) {
                m->oom_pending_since = 0;
                return;
        }
        if (m->oom_pending_since == 0)
                m->oom_pending_since = now;
        if (now - m->oom_pending_since < OOM_VICTIM_WAIT_USEC && m->kmsg_fd >= 0)
                return;
        log_struct(LOG_LEVEL_ERROR,
                   LOG_FIELDS(LOG_STR("event", "oom_kill_victim"), LOG_STR("comm", NULL),
                              LOG_U64("kills", m->last.ev_oom_kill - m->oom_seen), LOG_STR("leaf", leaf)),
                   "The kernel OOM-killed %" PRIu64 " process(es) in the workload's cgroup; the victim is "
                   "unknown (%s).",
                   m->last.ev_oom_kill - m->oom_seen,
                   m->kmsg_fd >= 0 ? "the kernel log did not name it" : "/dev/kmsg cannot be read");
        m->oom_seen = m->last.ev_oom_kill;
        m->oom_pending_since = 0;
        m->kmsg_match = (KmsgMatch){};
}

/* The loop's sample, the one supervision decides on. */
int manager_sample(Manager *m)
{
        int r = sample_into(m, &m->last);
        if (r >= 0) {
                m->have_sample = true;
                m->samples++;
                run_report_sample(&m->report, &m->last);
                manager_k8s_sample(m);
                report_oom_kills(m);
        }
        return r;
}

void manager_publish_heap_cap(Manager *m)
{
        uint64_t cap, watermark = 0;
        char buf[32];

        if (!m->control)
                return;
        cap = supervise_heap_cap(m->supervise, &m->last, &watermark);
        if (cap == 0)
                return;
        /* A percent of a small limit can come to less than the allocator's floor, which it would
         * refuse (a cap that small fails every allocation): publish none, and let it decide. Noted
         * as published so that this is decided, and logged, once per limit. */
        if (cap < CONTROL_HEAP_CAP_MIN) {
                log_warning("The heap cap (--heap-cap) comes to %s, under the allocator's floor of 4M; "
                            "publishing none, the allocator's own cap applies.",
                            units_format_size(buf, sizeof(buf), cap));
                if (actions_set_heap_cap(m->runner, 0, watermark) >= 0)
                        supervise_heap_cap_published(m->supervise, cap);
                return;
        }
        if (actions_set_heap_cap(m->runner, cap, watermark) >= 0) {
                supervise_heap_cap_published(m->supervise, cap);
                /* The policy decides on this sample with the cap now in force, not last tick's. */
                if (m->last.heap_valid)
                        m->last.heap_cap = cap;
        }
}

void manager_run_decisions(Manager *m, const SuperviseDecisions *d)
{
        if (d->t.changed) {
                actions_note_transition(m->runner, &d->t);
                run_report_transition(&m->report, &d->t, now_usec(CLOCK_MONOTONIC));
                manager_k8s_transition(m, &d->t);
        }
        if (d->ds.n > 0)
                (void)actions_execute_all(m->runner, &d->ds, &m->last);
        if (d->budget_step)
                (void)actions_set_budget(m->runner, d->budget_permille);
}

void manager_decide(Manager *m)
{
        SuperviseDecisions d;

        if (!m->runner || m->draining)
                return; /* draining: no new decisions once oomless is to exit */
        /* The cap follows the live figures still: the kernel can kill a workload that grows while it
         * shuts down. */
        manager_publish_heap_cap(m);
        /* Once the workload is being stopped for good, its memory falls: deciding on it would log
         * stage changes and run on_exit hooks for a workload that is going away. A restart is not a
         * stop for good and keeps deciding. */
        if (m->stopping)
                return;
        if (supervise_tick(m->supervise, &m->last, m->child_running, now_usec(CLOCK_MONOTONIC), &d))
                manager_run_decisions(m, &d);
        manager_react_update(m);
}

static void publish_status(Manager *m)
{
        char cur[32], lim[32];
        if (!m->have_sample)
                return;
        notify_status("tier %s, memory %s of %s, stage %s", cg_tier_to_string(cg_tier(m->cg)),
                      units_format_size(cur, sizeof(cur), m->last.current),
                      units_format_size(lim, sizeof(lim), m->last.limit),
                      m->stopping ? "stopping" : "running");
}

void manager_sample_and_decide(Manager *m)
{
        if (manager_sample(m) < 0)
                return;
        manager_decide(m);
        publish_status(m);
}

/* ---- status ---- */

/* Renders from a sample of its own: a status reader compares the numbers with the cgroup files right
 * now, and the loop's sample stays the one the policy decided on. */
char *manager_render_status(void *userdata)
{
        Manager *m = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC), v;
        OomlessSample fresh;
        StatusInfo info = {
                .mode = m->cfg.mode == MANAGER_RUN ? "run" : "attach",
                .supervisor_pid = getpid(),
                .tier = cg_tier_to_string(cg_tier(m->cg)),
                .leaf = cg_leaf_path(m->cg),
                .uptime_sec = usec_to_sec(now - m->start_usec),
                .restarts = m->restarts,
                .dry_run = m->cfg.dry_run,
                .instance_id = m->instance_id,
                .command = m->command,
        };

        if (sample_into(m, &fresh) >= 0) {
                info.sample_valid = true;
                info.sample = fresh;
        } else {
                info.sample_valid = m->have_sample;
                info.sample = m->last;
        }
        if (cg_get_memory_max(m->cg, &v) >= 0) {
                info.leaf_max = v;
                info.leaf_max_known = true;
        }
        if (cg_get_memory_high(m->cg, &v) >= 0) {
                info.leaf_high = v;
                info.leaf_high_known = true;
        }
        if (m->cfg.mode == MANAGER_RUN && m->child_running) {
                info.child_pid = m->child.pid;
                info.child_started_sec_ago = usec_to_sec(now - m->child.started_usec);
        } else if (m->cfg.mode == MANAGER_ATTACH && m->cfg.attach_pid > 0 && m->target_pidfd >= 0) {
                info.child_pid = m->cfg.attach_pid;
                info.child_started_sec_ago = usec_to_sec(now - m->target.since_usec);
        }
        if (m->last_exit_valid) {
                info.last_exit_valid = true;
                info.last_exit_status = m->last_exit_status;
                info.last_exit_signal = m->last_exit_signal;
                info.last_exit_oom_killed = m->last_exit_oom_killed;
                info.last_exit_sec_ago = usec_to_sec(now - m->last_exit_usec);
        }
        supervise_status(m->supervise, now, &info);
        info.ready = info.ready && !manager_stop_requested(m);
        info.recent_actions = m->runner ? actions_status_json(m->runner) : NULL;
        /* The heap as the sampler bounded it (held clamped to the charge, our own cap), not as the
         * workload wrote it. */
        ControlAllocFigures f;
        if (info.sample_valid && info.sample.heap_valid && m->control &&
            control_last_alloc(m->control, &f)) {
                info.heap_valid = true;
                info.heap_held = info.sample.heap_held;
                info.heap_in_use = info.sample.heap_in_use;
                info.heap_cap = info.sample.heap_cap;
                info.heap_cap_hits = info.sample.heap_cap_hits;
                info.heap_scavenges = f.scavenges;
        }
        return status_render_json(&info);
}

/* The allocator crossed its watermark: decide now rather than at the next tick. Control calls this
 * at most once per MANAGER_WAKE_MIN_INTERVAL_USEC, however fast the workload writes. */
static void on_wake(Control *c, void *userdata)
{
        Manager *m = userdata;
        (void)c;
        log_debug("The allocator crossed a wake threshold: deciding now.");
        if (manager_sample(m) >= 0)
                manager_decide(m);
}

/* ---- the action runner's calls back ---- */

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

        if (m->cfg.mode != MANAGER_RUN) {
                /* attach: stopped here, started again by the container runtime, found by --follow. */
                int r = target_restart(m, stop_signal, grace_usec);
                if (r >= 0)
                        supervise_restart_requested(m->supervise);
                return r;
        }
        if (!m->child_running)
                return -ESRCH;
        if (m->have_sample && policy_restart_futile(&m->last))
                return manager_stop_for_shmem(m, stop_signal, grace_usec);
        log_notice("Restarting the workload: %s.", reason ?: "requested by the policy");
        supervise_restart_requested(m->supervise);
        return manager_restart_workload(m, stop_signal, grace_usec);
}

static void cb_idle(void *userdata)
{
        manager_drain_idle(userdata);
}

static void on_policy_changed(const Policy *np, bool dry_run, void *userdata)
{
        Manager *m = userdata;

        /* The runner drops queued decisions pointing into the old policy before it goes. */
        actions_set_policy(m->runner, np);
        actions_set_dry_run(m->runner, dry_run);
}

/* Loads the policy into supervision. */
int manager_setup_supervise(Manager *m)
{
        return supervise_new(&(SuperviseConfig){ .policy_path = m->cfg.policy_path,
                                                 .dry_run = m->cfg.dry_run,
                                                 .run = m->cfg.mode == MANAGER_RUN,
                                                 .heap_cap = m->cfg.heap_cap,
                                                 .heap_cap_auto = m->cfg.heap_cap_auto,
                                                 .user_heap_cap = getenv("OOMLESS_HEAP_CAP") != NULL,
                                                 .policy_changed = on_policy_changed,
                                                 .userdata = m },
                             m->start_usec, &m->supervise);
}

/* The control page (for an allocator we preload into a workload we start) and the action runner. */
int manager_setup_acting(Manager *m)
{
        int r;

        if (m->cfg.mode == MANAGER_RUN) {
                /* We start the workload, so it gets a sealed memfd it cannot truncate; a file only on
                 * a kernel without memfd_create (before 3.17) or where it is forbidden. */
                r = control_create_sealed(m->instance_dir, &m->control);
                if (r < 0) {
                        log_warning_errno(r, "Cannot create a sealed control page, using a file: %m");
                        r = control_create(m->instance_dir, &m->control);
                }
                if (r < 0)
                        log_warning_errno(r, "Cannot create the control page in %s, continuing without: %m",
                                          m->instance_dir);
                else {
                        sampler_set_control(m->sampler, m->control);
                        if (control_add_wake_source(m->control, m->event, MANAGER_WAKE_MIN_INTERVAL_USEC,
                                                    on_wake, m) < 0)
                                log_warning("Cannot watch the allocator's wake FIFO; relying on the tick.");
                }
        }
        if (m->cg && (r = actuator_cg_new(m->cg, &m->actuator)) < 0)
                return log_error_errno(r, "Cannot set up the actuator: %m");
        r = actions_new(&(ActionRunnerConfig){ .event = m->event,
                                               .actuator = m->actuator,
                                               .control = m->control,
                                               .policy = supervise_policy(m->supervise),
                                               .dry_run = supervise_dry_run(m->supervise),
                                               .instance_id = m->instance_id,
                                               .command = m->command,
                                               .callbacks = { .get_main_pid = cb_main_pid,
                                                              .request_restart = cb_request_restart,
                                                              .idle = cb_idle,
                                                              .userdata = m } },
                        &m->runner);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the action runner: %m");
        return 0;
}
