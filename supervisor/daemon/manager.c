/* SPDX-License-Identifier: MIT */
/* Manager: one supervisor instance. Owns the sd-event loop, the cgroup, the workload (run) or the
 * target (attach), the timers, the signal sources, the status socket, and the runtime directory. */
#define _GNU_SOURCE 1
#include "manager.h"
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "log.h"
#include "notify.h"
#include "reaper.h"
#include "runtime-env.h"
#include "units.h"
#include "strv.h"

/* How long the exit path waits for killed leftovers to leave the leaf before removing it. */
#define LEFTOVER_WAIT_USEC (3 * USEC_PER_SEC)
/* The kernel bumps oom_kill just after it delivers the SIGKILL; give it a moment to show. */
#define OOM_COUNTER_SETTLE_TRIES 10

uint64_t manager_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

/* Ends the loop with status, unless policy actions (hooks, webhooks) still run: their outcomes are
 * the point of e.g. an on_exit hook, so the loop keeps going until they finished or the drain's
 * deadline cancelled them (manager_policy_drain_begin()). */
static int manager_exit(Manager *m, int status)
{
        m->exit_status = status;
        if (m->draining)
                return 0; /* ends when the drain does, with this status */
        if (manager_policy_drain_begin(m)) {
                (void)sd_event_source_set_enabled(m->tick, SD_EVENT_OFF);
                return 0;
        }
        return sd_event_exit(m->event, status);
}

static double usec_to_sec(uint64_t usec)
{
        return (double)usec / (double)USEC_PER_SEC;
}

/* ---- runtime directory ---- */

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

/* Removes what we put in the instance directory (socket, control page, FIFO) and the directory. */
static void remove_instance_dir(const char *dir)
{
        _cleanup_closedir_ DIR *d = NULL;

        if (!dir)
                return;
        d = opendir(dir);
        if (d)
                for (struct dirent *de; (de = readdir(d));) {
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        (void)unlinkat(dirfd(d), de->d_name, 0);
                }
        (void)rmdir(dir);
}

static int setup_runtime_dir(Manager *m)
{
        char buf[PATH_MAX];
        int r;

        r = mkdir_p(m->cfg.runtime_dir, 0755);
        if (r < 0)
                return log_error_errno(
                    r,
                    "Cannot create the runtime directory %s: %m (pass --runtime-dir or set "
                    "$OOMLESS_RUNTIME_DIR to a writable directory)",
                    m->cfg.runtime_dir);
        snprintf(buf, sizeof(buf), "%s/%d", m->cfg.runtime_dir, (int)getpid());
        /* A directory with our pid is a leftover of a dead instance: ours now. */
        remove_instance_dir(buf);
        if (mkdir(buf, 0755) < 0)
                return log_error_errno(negative_errno(), "Cannot create %s: %m", buf);
        m->instance_dir = strdup(buf);
        if (!m->instance_dir)
                return log_error_errno(-ENOMEM, "Out of memory");
        return 0;
}

/* ---- status ---- */

static char *render_status(void *userdata)
{
        Manager *m = userdata;
        uint64_t now = manager_now(), v;
        StatusInfo info = {
                .mode = m->cfg.mode == MANAGER_RUN ? "run" : "attach",
                .supervisor_pid = getpid(),
                .tier = cg_tier_to_string(cg_tier(m->cg)),
                .leaf = cg_leaf_path(m->cg),
                .uptime_sec = usec_to_sec(now - m->start_usec),
                .restarts = m->restarts,
                .dry_run = m->cfg.dry_run,
        };

        /* Fresh numbers: a status reader compares them with the cgroup files right now. */
        (void)manager_sample(m);
        info.sample_valid = m->have_sample;
        info.sample = m->last;
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
                info.child_started_sec_ago = info.uptime_sec;
        }
        if (m->last_exit_valid) {
                info.last_exit_valid = true;
                info.last_exit_status = m->last_exit_status;
                info.last_exit_signal = m->last_exit_signal;
                info.last_exit_oom_killed = m->last_exit_oom_killed;
                info.last_exit_sec_ago = usec_to_sec(now - m->last_exit_usec);
        }
        info.stage_since_sec = info.uptime_sec;
        manager_policy_status(m, &info);
        return status_render_json(&info);
}

/* ---- sampling ---- */

int manager_sample(Manager *m)
{
        OomlessSample s;
        int r;

        r = sampler_acquire(m->sampler, &s);
        if (r < 0) {
                log_debug_errno(r, "Sampling %s failed: %m", cg_leaf_path(m->cg) ?: "the cgroup");
                return r;
        }
        m->last = s;
        m->have_sample = true;
        return 0;
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

static void sample_and_decide(Manager *m)
{
        if (manager_sample(m) < 0)
                return;
        manager_policy_tick(m);
        publish_status(m);
}

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

        sample_and_decide(m);
        /* Also with a populated fd: on hybrid hosts it may watch a unified cgroup that never empties. */
        if (m->cfg.mode == MANAGER_ATTACH && m->cfg.attach_cgroup && attached_cgroup_populated(m) == 0) {
                log_info("The cgroup %s is empty: nothing left to supervise, oomless attach ends.",
                         cg_leaf_path(m->cg));
                return manager_exit(m, 0);
        }
        (void)sd_event_source_set_time(s, usec + m->interval_usec);
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
        sample_and_decide(m);
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
        sample_and_decide(m);
        return 0;
}

static int arm_watches(Manager *m)
{
        const char *triggers[OOMLESS_PSI_TRIGGERS_MAX];
        size_t n;
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

        n = manager_policy_psi_triggers(m, triggers, ELEMENTSOF(triggers));
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
                }
        }
        return 0;
}

/* ---- the workload ---- */

/* A policy hook is our child too; it normally reaps itself through its pidfd first. */
static void on_other_reaped(const siginfo_t *si, void *userdata)
{
        (void)userdata;
        (void)hook_child_reaped(si->si_pid, si->si_code, si->si_status);
}

static void kill_leftovers(Manager *m)
{
        uint64_t deadline;
        CgTier t = cg_tier(m->cg);

        if (m->cfg.mode != MANAGER_RUN)
                return;
        /* On observe/none the cgroup is not ours alone: only our own descendants go. */
        if (t == CG_TIER_V2 || t == CG_TIER_V1) {
                int r = cg_is_populated(m->cg);
                if (r == 0)
                        return;
                r = cg_kill_all(m->cg, SIGKILL);
                if (r < 0)
                        log_warning_errno(r, "Cannot kill the processes left in %s: %m",
                                          cg_leaf_path(m->cg));
        } else {
                if (m->child_running)
                        (void)workload_signal(&m->child, SIGKILL);
                if (reaper_kill_children(SIGKILL, hook_owns_pid) <= 0)
                        return;
        }

        /* They are our descendants (subreaper): reap them so the leaf can go. */
        deadline = manager_now() + LEFTOVER_WAIT_USEC;
        for (;;) {
                (void)reaper_drain(0, NULL, NULL, on_other_reaped, m);
                if (t == CG_TIER_V2 || t == CG_TIER_V1) {
                        if (cg_is_populated(m->cg) <= 0)
                                break;
                } else if (reaper_kill_children(SIGKILL, hook_owns_pid) <= 0)
                        break;
                if (manager_now() > deadline) {
                        log_warning("Processes are still left in %s after SIGKILL; giving up waiting.",
                                    cg_leaf_path(m->cg) ?: "the process tree");
                        break;
                }
                (void)usleep(10000);
        }
}

static void report_oom(Manager *m)
{
        char lim[32], peak[32];
        CgTier t = cg_tier(m->cg);

        log_error("workload OOM-killed by the kernel in %s: limit %s, peak %s, oom_kill %" PRIu64
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

static int start_child(Manager *m);

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        if (m->stopping)
                return manager_exit(m, m->exit_status);
        m->restarts++;
        log_notice("Restarting the workload (restart %u).", m->restarts);
        if (start_child(m) < 0) {
                m->exit_status = WORKLOAD_EXIT_FAILURE;
                return manager_exit(m, m->exit_status);
        }
        return 0;
}

static void child_ended(Manager *m, const siginfo_t *si)
{
        int status = workload_exit_status(si->si_code, si->si_status);
        bool killed = si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED;
        bool oom = false;
        uint64_t delay = 0;
        int r;

        m->child_running = false;
        m->child_source = sd_event_source_disable_unref(m->child_source);
        m->stop_timer = sd_event_source_disable_unref(m->stop_timer);
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
        else if (killed)
                log_info("The workload (pid %d) was killed by %s.", (int)si->si_pid,
                         units_signal_to_string(si->si_status) ?: "a signal");
        else
                log_info("The workload (pid %d) exited with status %d.", (int)si->si_pid, si->si_status);

        m->last_exit_valid = true;
        m->last_exit_status = status;
        m->last_exit_signal = killed ? si->si_status : 0;
        m->last_exit_oom_killed = oom;
        m->last_exit_usec = manager_now();
        m->exit_status = status;

        /* Daemonized grandchildren do not outlive the workload, so a restart starts clean. */
        kill_leftovers(m);

        if (!m->stopping) {
                r = manager_policy_child_exited(m, status, oom, &delay);
                if (r > 0) {
                        char d[32];
                        log_notice("Restarting the workload in %s.",
                                   units_format_duration(d, sizeof(d), delay));
                        r = sd_event_add_time_relative(m->event, &m->restart_timer, CLOCK_MONOTONIC, delay,
                                                       0, on_restart_timer, m);
                        if (r >= 0)
                                return;
                        log_error_errno(r, "Cannot schedule the restart: %m");
                } else if (r < 0) {
                        log_error("The restart policy gives up; oomless exits %d.", POLICY_EXIT_GAVE_UP);
                        m->exit_status = POLICY_EXIT_GAVE_UP;
                }
        }
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

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        drain_children(userdata);
        return 0;
}

static const char *preload_candidates(char *buf, size_t len, int i)
{
        char exe[PATH_MAX - 64];
        const char *env = getenv("OOMLESS_LIBDIR");
        ssize_t n;

        switch (i) {
        case 0:
                if (!env || !*env)
                        return "";
                snprintf(buf, len, "%s/liboomless.so", env);
                return buf;
        case 1:
        case 2:
        case 3: {
                n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
                if (n <= 0)
                        return "";
                exe[n] = 0;
                char *slash = strrchr(exe, '/');
                if (!slash)
                        return "";
                *slash = 0;
                /* Next to the binary, the build tree (build/supervisor/oomless and
                 * build/allocator/liboomless.so), and the install's ../lib. */
                static const char *const rel[] = { "", "/../allocator", "/../lib" };
                snprintf(buf, len, "%s%s/liboomless.so", exe, rel[i - 1]);
                return buf;
        }
        case 4:
                snprintf(buf, len, "%s/liboomless.so", OOMLESS_LIBDIR);
                return buf;
        default:
                return NULL;
        }
}

/* Finds liboomless.so and returns "LD_PRELOAD=<lib>[:<existing>]", or NULL (warned once). */
static char *preload_env(void)
{
        char buf[PATH_MAX], real[PATH_MAX];
        static bool warned = false;
        const char *p;

        for (int i = 0; (p = preload_candidates(buf, sizeof(buf), i)); i++) {
                if (!*p || access(p, R_OK) < 0 || !realpath(p, real))
                        continue;
                const char *old = getenv("LD_PRELOAD");
                char *e = NULL;
                if (old && *old) {
                        if (asprintf(&e, "LD_PRELOAD=%s:%s", real, old) < 0)
                                return NULL;
                } else if (asprintf(&e, "LD_PRELOAD=%s", real) < 0)
                        return NULL;
                return e;
        }
        if (!warned)
                log_warning(
                    "liboomless.so not found (looked in $OOMLESS_LIBDIR, next to the oomless binary and "
                    "in %s); the workload runs without the oomless allocator. Set OOMLESS_LIBDIR or pass "
                    "--no-preload.",
                    OOMLESS_LIBDIR);
        warned = true;
        return NULL;
}

static char *base64(const char *s)
{
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t len = strlen(s), o = 0;
        char *out = malloc(4 * ((len + 2) / 3) + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t)(unsigned char)s[i + 1] << 8;
                if (i + 2 < len)
                        v |= (uint32_t)(unsigned char)s[i + 2];
                out[o++] = tbl[(v >> 18) & 63];
                out[o++] = tbl[(v >> 12) & 63];
                out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < len ? tbl[v & 63] : '=';
        }
        out[o] = 0;
        return out;
}

static int child_env(Manager *m, char ***ret)
{
        _cleanup_strv_free_ char **env = NULL;
        char *e;
        int r;

        if (m->cfg.preload) {
                e = preload_env();
                if (e && (r = strv_push(&env, e)) < 0)
                        return r;
        }
        /* systemd's memory pressure protocol, for apps that speak it (sd-event, GLib). systemd's
         * default is 100ms per 1s; the same ratio over 2s, because without CAP_SYS_RESOURCE the
         * kernel only accepts windows that are a multiple of 2s and the app would fail to arm it. */
        const char *pressure = cg_pressure_path(m->cg);
        if (pressure && cg_tier(m->cg) != CG_TIER_OBSERVE) {
                _cleanup_free_ char *b64 = base64("some 200000 2000000");
                if (!b64)
                        return -ENOMEM;
                if ((r = strv_pushf(&env, "MEMORY_PRESSURE_WATCH=%s", pressure)) < 0)
                        return r;
                if ((r = strv_pushf(&env, "MEMORY_PRESSURE_WRITE=%s", b64)) < 0)
                        return r;
        }
        r = manager_policy_child_env(m, &env);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

static bool env_name_in(const char *entry, char *const *list, bool list_has_values)
{
        size_t n = strcspn(entry, "=");
        for (char *const *l = list; l && *l; l++)
                if (strneq(entry, *l, n) && (*l)[n] == (list_has_values ? '=' : 0))
                        return true;
        return false;
}

/* The workload's whole environment: ours minus the service manager's variables, plus what the child
 * needs from us, plus heap caps for Go, the JVM and Node.js computed from the effective limit (a value
 * the user set wins). */
static int full_env(Manager *m, char **add, char ***ret)
{
        static char *const unset[] = { (char *)"NOTIFY_SOCKET", (char *)"WATCHDOG_USEC",
                                       (char *)"WATCHDOG_PID", NULL };
        _cleanup_strv_free_ char **merged = NULL;
        size_t n = 0, k = 0, j = 0;
        unsigned added = 0;
        int r;

        for (char **e = environ; e && *e; e++)
                n++;
        while (add && add[k])
                k++;
        merged = calloc(n + k + 1, sizeof(char *));
        if (!merged)
                return -ENOMEM;
        for (char **e = environ; e && *e; e++) {
                if (env_name_in(*e, unset, false) || env_name_in(*e, add, true))
                        continue;
                if (!(merged[j++] = strdup(*e)))
                        return -ENOMEM;
        }
        for (size_t i = 0; i < k; i++)
                if (!(merged[j++] = strdup(add[i])))
                        return -ENOMEM;

        RuntimeEnvOptions opts = { .go = true, .java = true, .node = true };
        uint64_t limit = m->have_sample ? m->last.limit : UINT64_MAX;
        r = runtime_env_apply(merged, limit, &opts, ret, &added);
        if (r < 0)
                return r;
        if (added > 0)
                log_debug("Heap caps for %u runtime(s) added to the workload's environment.", added);
        return 0;
}

static int start_child(Manager *m)
{
        _cleanup_strv_free_ char **add = NULL, **env = NULL;
        const int *join_fds = NULL;
        int dirfd = -1, r;

        /* The baseline, so an OOM kill is told from other SIGKILLs by the counter rising; and the
         * effective limit the runtime heap caps derive from. */
        if (manager_sample(m) >= 0 && m->last.events_valid)
                m->oom_kill_baseline = m->last.ev_oom_kill;
        manager_policy_publish_heap_cap(m);

        r = child_env(m, &add);
        if (r >= 0)
                r = full_env(m, add, &env);
        if (r < 0)
                return log_error_errno(r, "Cannot build the workload's environment: %m");
        r = cg_spawn_fds(m->cg, &dirfd, &join_fds);
        if (r < 0)
                return log_error_errno(r, "Cannot get the cgroup leaf's fds for the workload: %m");

        WorkloadSpawn spec = {
                .argv = m->cfg.argv,
                .envp = env,
                .cgroup_dirfd = dirfd,
                .join_fds = join_fds,
                .new_pgrp = true,
        };
        r = workload_spawn(&spec, &m->child);
        if (r < 0)
                return r;
        m->child_running = true;

        if (m->child.exec_errno > 0) {
                int st = workload_exec_errno_to_status(m->child.exec_errno);
                log_error_errno(-m->child.exec_errno, "Cannot execute %s: %m (%s).", m->cfg.argv[0],
                                st == WORKLOAD_EXIT_NOT_FOUND
                                    ? "not found: check the path or $PATH"
                                    : "not executable: check its permissions and format");
        } else
                log_debug("Workload %s started as pid %d%s.", m->cfg.argv[0], (int)m->child.pid,
                          m->child.into_cgroup ? " (CLONE_INTO_CGROUP)" : "");

        r = sd_event_add_io(m->event, &m->child_source, m->child.pidfd, EPOLLIN, on_child_pidfd, m);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the workload's pidfd, relying on SIGCHLD: %m");
        return 0;
}

/* ---- stop and signals ---- */

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        char d[32];
        (void)s;
        (void)usec;

        log_warning("The workload did not stop within %s of %s; killing everything left in %s.",
                    units_format_duration(d, sizeof(d), m->stop_grace_usec),
                    units_signal_to_string(m->stop_signal) ?: "the stop signal",
                    cg_leaf_path(m->cg) ?: "its process tree");
        if (m->child_running)
                (void)workload_signal(&m->child, SIGKILL);
        CgTier t = cg_tier(m->cg);
        if (t == CG_TIER_V2 || t == CG_TIER_V1)
                (void)cg_kill_all(m->cg, SIGKILL);
        else
                (void)reaper_kill_children(SIGKILL, hook_owns_pid);
        return 0;
}

static int signal_and_arm(Manager *m, int sig, uint64_t grace_usec)
{
        int r;

        m->stop_signal = sig;
        r = workload_signal(&m->child, sig);
        if (r < 0 && r != -ESRCH)
                log_warning_errno(r, "Cannot send %s to the workload: %m", units_signal_to_string(sig));
        if (!m->stop_timer) {
                m->stop_grace_usec = grace_usec;
                r = sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_MONOTONIC, grace_usec, 0,
                                               on_stop_timeout, m);
                if (r < 0)
                        return log_warning_errno(r, "Cannot arm the stop timeout: %m");
        }
        return 0;
}

int manager_restart_workload(Manager *m, int sig, uint64_t grace_usec)
{
        if (!m->child_running || m->stopping)
                return -ESRCH;
        m->restarting = true;
        return signal_and_arm(m, sig, grace_usec);
}

void manager_stop_workload(Manager *m, int sig)
{

        if (!m->stopping)
                notify_stopping();
        m->stopping = true;
        if (m->restart_timer) {
                /* Between two runs: nothing to stop. */
                (void)manager_exit(m, m->exit_status);
                return;
        }
        if (!m->child_running)
                return;
        /* A restart's shorter grace must not cut the user's stop short. */
        if (m->restarting) {
                m->stop_timer = sd_event_source_disable_unref(m->stop_timer);
                m->restarting = false;
        }
        (void)signal_and_arm(m, sig, m->cfg.stop_timeout_usec);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        int sig = (int)si->ssi_signo;
        (void)s;

        if (m->draining && IN_SET(sig, SIGTERM, SIGINT, SIGQUIT)) {
                manager_policy_drain_cancel(m, sig);
                return 0;
        }
        if (sig == SIGHUP && !m->cfg.forward_hup) {
                log_info("SIGHUP: reloading the policy.");
                manager_policy_reload(m);
                return 0;
        }

        if (m->cfg.mode == MANAGER_ATTACH) {
                if (IN_SET(sig, SIGTERM, SIGINT, SIGQUIT)) {
                        log_info("%s: oomless attach ends; the target keeps running.",
                                 units_signal_to_string(sig));
                        return manager_exit(m, 0);
                }
                return 0;
        }

        if (IN_SET(sig, SIGTERM, SIGINT)) {
                log_info("%s: stopping the workload.", units_signal_to_string(sig));
                manager_stop_workload(m, sig);
                return 0;
        }
        if (m->child_running) {
                int r = workload_signal(&m->child, sig);
                if (r < 0 && r != -ESRCH)
                        log_warning_errno(r, "Cannot forward %s to the workload: %m",
                                          units_signal_to_string(sig));
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
                r = sd_event_add_signal(m->event, &src, SIGCHLD, on_sigchld, m);
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

/* ---- attach target ---- */

static int on_target_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)fd;
        (void)revents;

        log_info("The target process %d exited: nothing left to supervise, oomless attach ends.",
                 (int)m->cfg.attach_pid);
        m->target_pidfd = safe_close(m->target_pidfd);
        return manager_exit(m, 0);
}

static int start_attach(Manager *m)
{
        int r;

        if (m->cfg.attach_pid <= 0)
                return 0;
        m->target_pidfd = (int)syscall(SYS_pidfd_open, m->cfg.attach_pid, 0);
        if (m->target_pidfd < 0)
                return log_error_errno(negative_errno(), "Cannot watch process %d (pidfd_open): %m",
                                       (int)m->cfg.attach_pid);
        r = sd_event_add_io(m->event, &m->target_source, m->target_pidfd, EPOLLIN, on_target_exit, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch process %d: %m", (int)m->cfg.attach_pid);
        return 0;
}

/* ---- life cycle ---- */

int manager_new(const ManagerConfig *cfg, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_error_errno(-ENOMEM, "Out of memory");
        m->cfg = *cfg;
        m->target_pidfd = -EBADF;
        m->child.pidfd = -EBADF;
        for (size_t i = 0; i < ELEMENTSOF(m->psi_fds); i++)
                m->psi_fds[i] = -EBADF;
        m->start_usec = manager_now();

        /* A bad policy refuses to start anything. */
        r = manager_policy_load(m);
        if (r < 0)
                return r;

        if (cfg->mode == MANAGER_RUN)
                r = cg_setup_run(&cfg->cg, &m->cg, &msg);
        else
                r = cg_setup_attach(&cfg->cg, cfg->attach_pid, cfg->attach_cgroup, &m->cg, &msg);
        if (r < 0) {
                if (msg)
                        return log_error_errno(r, "%s", msg);
                return log_error_errno(r, "Cannot set up the cgroup: %m");
        }
        log_info("%s", cg_describe(m->cg));
        r = sampler_new(m->cg, NULL, &m->sampler);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the sampler: %m");

        r = sd_event_new(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        (void)sd_event_set_watchdog(m->event, true);

        r = setup_runtime_dir(m);
        if (r < 0)
                return r;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/" STATUS_SOCKET_NAME, m->instance_dir);
        r = status_server_new(m->event, path, render_status, m, &m->status);
        if (r < 0)
                return r;

        r = add_signals(m);
        if (r < 0)
                return r;

        m->interval_usec = cfg->interval_usec ?: manager_policy_interval(m) ?: MANAGER_DEFAULT_INTERVAL_USEC;

        r = manager_policy_setup(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_run(Manager *m)
{
        int r;

        if (m->cfg.mode == MANAGER_RUN) {
                r = start_child(m);
                if (r < 0)
                        return WORKLOAD_EXIT_FAILURE;
                if (m->child.exec_errno > 0) {
                        /* Reap it so no zombie outlives us, and report 126/127. */
                        siginfo_t si;
                        (void)waitid(P_PID, (id_t)m->child.pid, &si, WEXITED);
                        m->child_running = false;
                        m->child_source = sd_event_source_disable_unref(m->child_source);
                        workload_done(&m->child);
                        return workload_exec_errno_to_status(m->child.exec_errno);
                }
        } else {
                r = start_attach(m);
                if (r < 0)
                        return WORKLOAD_EXIT_FAILURE;
        }

        (void)arm_watches(m);
        r = sd_event_add_time_relative(m->event, &m->tick, CLOCK_MONOTONIC, 0, 0, on_tick, m);
        if (r < 0) {
                log_error_errno(r, "Cannot arm the sampling timer: %m");
                return WORKLOAD_EXIT_FAILURE;
        }
        (void)sd_event_source_set_enabled(m->tick, SD_EVENT_ON);

        notify_ready();
        r = sd_event_loop(m->event);
        notify_stopping();
        if (r < 0) {
                log_error_errno(r, "The event loop failed: %m");
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
                kill_leftovers(m);
        }
        workload_done(&m->child);

        m->sampler = sampler_free(m->sampler);
        m->policy = manager_policy_free(m->policy);
        m->child_source = sd_event_source_disable_unref(m->child_source);
        m->target_source = sd_event_source_disable_unref(m->target_source);
        m->stop_timer = sd_event_source_disable_unref(m->stop_timer);
        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        m->tick = sd_event_source_disable_unref(m->tick);
        m->events_source = sd_event_source_disable_unref(m->events_source);
        m->populated_source = sd_event_source_disable_unref(m->populated_source);
        for (unsigned i = 0; i < m->n_psi; i++) {
                m->psi_sources[i] = sd_event_source_disable_unref(m->psi_sources[i]);
                m->psi_fds[i] = safe_close(m->psi_fds[i]);
        }
        m->target_pidfd = safe_close(m->target_pidfd);
        m->status = status_server_free(m->status);
        m->cg = cg_free(m->cg);
        remove_instance_dir(m->instance_dir);
        free(m->instance_dir);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
