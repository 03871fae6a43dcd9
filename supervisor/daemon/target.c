/* SPDX-License-Identifier: MIT */
/* attach's target: --wait, --follow, the restart action in attach mode, and the capability line at
 * start (target.h). */
#define _GNU_SOURCE 1
#include "target.h"

#include <ctype.h>
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
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"
#include "mode-caps.h"
#include "oomless/control.h"
#include "strv.h"
#include "time-util.h"
#include "units.h"

static const char *const prefixes[_TARGET_KIND_MAX] = {
        [TARGET_COMM] = "comm:",
        [TARGET_CMDLINE] = "cmdline:",
        [TARGET_PIDFILE] = "pidfile:",
        [TARGET_CONTROL] = "control:",
};

int target_spec_parse(const char *s, TargetSpec *ret)
{
        for (int k = 0; k < _TARGET_KIND_MAX; k++) {
                size_t l = strlen(prefixes[k]);
                if (strncmp(s, prefixes[k], l) != 0)
                        continue;
                if (!s[l])
                        return -EINVAL;
                if ((k == TARGET_PIDFILE || k == TARGET_CONTROL) && s[l] != '/')
                        return -EINVAL;
                if (k == TARGET_COMM && strlen(s + l) > 15)
                        return -EINVAL; /* the kernel keeps 15 characters of comm */
                *ret = (TargetSpec){ .kind = (TargetKind)k, .arg = s + l, .text = s };
                return 0;
        }
        return -EINVAL;
}

/* /proc/PID/stat: the state, the parent and the start time (clock ticks after boot). */
static int proc_stat(pid_t pid, char *state, pid_t *ppid, unsigned long long *start)
{
        char path[64], buf[1024];
        const char *p;
        int fd, n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = (int)read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = 0;
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        int ppid_i = 0;
        char st = 0;
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
         * cstime priority nice num_threads itrealvalue starttime */
        if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                   &st, &ppid_i, start) != 3)
                return -EIO;
        *state = st;
        *ppid = ppid_i;
        return 0;
}

/* Whether pid is us, one of our ancestors or one of our descendants: the waiting oomless's own
 * command line names what it waits for. */
static bool related_to_us(pid_t pid)
{
        pid_t self = getpid(), p;
        char st;
        unsigned long long start;

        for (p = self; p > 1;) {
                if (p == pid)
                        return true;
                if (proc_stat(p, &st, &p, &start) < 0)
                        break;
        }
        for (p = pid; p > 1;) {
                if (p == self)
                        return true;
                if (proc_stat(p, &st, &p, &start) < 0)
                        break;
        }
        return false;
}

static int read_small(const char *path, char *buf, size_t size)
{
        /* O_NONBLOCK and regular files only: a pidfile's directory is shared with the workload, and
         * a FIFO planted there would block the loop in open() or read() for good. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        ssize_t n;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -EBADFD;
        }
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -EIO;
        buf[n] = 0;
        return (int)n;
}

static bool alive(pid_t pid)
{
        char st;
        pid_t ppid;
        unsigned long long start;

        return pid > 0 && proc_stat(pid, &st, &ppid, &start) == 0 && st != 'Z' && st != 'X';
}

static bool proc_matches(const TargetSpec *spec, pid_t pid)
{
        char path[64], buf[4096];
        int n;

        if (spec->kind == TARGET_COMM) {
                snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
                if (read_small(path, buf, sizeof(buf)) <= 0)
                        return false;
                buf[strcspn(buf, "\n")] = 0;
                return streq(buf, spec->arg);
        }
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        n = read_small(path, buf, sizeof(buf));
        if (n <= 0)
                return false; /* kernel threads and zombies have none */
        for (int i = 0; i < n; i++)
                if (buf[i] == 0)
                        buf[i] = ' ';
        return strstr(buf, spec->arg) != NULL;
}

/* The oldest live process that matches: a main process is older than the workers it forks. */
static int find_in_proc(const TargetSpec *spec, pid_t gone, pid_t *ret)
{
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        unsigned long long best_start = ULLONG_MAX;
        pid_t best = 0;
        unsigned n = 0;
        struct dirent *de;

        if (!d)
                return log_error_errno(errno, "Cannot read /proc: %m");
        while ((de = readdir(d))) {
                char *end, st;
                pid_t ppid;
                unsigned long long start;
                long v = strtol(de->d_name, &end, 10);
                if (*end || v <= 0 || (pid_t)v == gone)
                        continue;
                if (!proc_matches(spec, (pid_t)v) || proc_stat((pid_t)v, &st, &ppid, &start) < 0 ||
                    st == 'Z' || st == 'X' || related_to_us((pid_t)v))
                        continue;
                n++;
                if (start < best_start) {
                        best_start = start;
                        best = (pid_t)v;
                }
        }
        if (!best)
                return 0;
        if (n > 1)
                log_info("%u processes match --wait=%s; taking the oldest, pid %d.", n, spec->text,
                         (int)best);
        *ret = best;
        return 1;
}

static int find_in_pidfile(const TargetSpec *spec, pid_t gone, pid_t *ret)
{
        char buf[32], *end;
        long v;

        if (read_small(spec->arg, buf, sizeof(buf)) <= 0)
                return 0;
        v = strtol(buf, &end, 10);
        if (end == buf || (*end && !isspace((unsigned char)*end)) || v <= 0 || v > INT32_MAX)
                return 0; /* being written, or not a pid: look again later */
        if ((pid_t)v == gone || !alive((pid_t)v))
                return 0;
        *ret = (pid_t)v;
        return 1;
}

/* Whether pid maps the file st names (/proc/PID/maps: "addr perms offset MAJ:MIN inode path"). */
static bool maps_file(pid_t pid, const struct stat *st)
{
        char path[64], line[512];
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned maj, min;
                unsigned long long ino;
                if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) == 3)
                        found = ino == (unsigned long long)st->st_ino && maj == major(st->st_dev) &&
                                min == minor(st->st_dev);
        }
        fclose(f);
        return found;
}

/* The page is live once an allocator published its pid there and that process lives. The pid is
 * written by the workload, so it is taken only from a process that maps the page (an allocator
 * does; oomless never maps it), and never for init or oomless's own family: a forged pid must not
 * point attach's restarts and signals at another container or at the pod's pause process. */
static int find_in_control(const TargetSpec *spec, Control *own, pid_t gone, pid_t *ret)
{
        struct oomless_control page;
        struct stat st;
        pid_t pid;
        ssize_t n;
        int fd = open(spec->arg, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);

        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(page)) {
                close(fd);
                return 0;
        }
        if (own && control_path(own) && streq(control_path(own), spec->arg)) {
                ControlAllocFigures f;
                close(fd);
                if (control_read_alloc(own, &f) < 0)
                        return 0;
                pid = f.pid;
        } else {
                n = pread(fd, &page, sizeof(page), 0);
                close(fd);
                if (n != (ssize_t)sizeof(page) || page.magic != OOMLESS_CONTROL_MAGIC ||
                    (page.alloc.seq & 1))
                        return 0;
                pid = (pid_t)page.alloc.pid;
        }
        if (pid <= 1 || pid == gone || !alive(pid) || related_to_us(pid) || !maps_file(pid, &st))
                return 0;
        *ret = pid;
        return 1;
}

int target_find(const TargetSpec *spec, Control *own, pid_t gone, pid_t *ret)
{
        switch (spec->kind) {
        case TARGET_COMM:
        case TARGET_CMDLINE:
                return find_in_proc(spec, gone, ret);
        case TARGET_PIDFILE:
                return find_in_pidfile(spec, gone, ret);
        case TARGET_CONTROL:
                return find_in_control(spec, own, gone, ret);
        default:
                return -EINVAL;
        }
}

int target_prepare(Manager *m)
{
        int r;

        if (m->cfg.control_page) {
                r = control_open_page(m->cfg.control_page, &m->control);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up the control page %s: %m",
                                               m->cfg.control_page);
        }
        m->target.waiting = m->cfg.wait_set;
        return 0;
}

static int on_wait_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        Target *t = &m->target;
        char d[32];
        pid_t pid = 0;
        int r;

        r = target_find(&m->cfg.wait, m->control, 0, &pid);
        if (r < 0) {
                run_report_set_reason(&m->report, false, "the target could not be looked for");
                return manager_exit(m, WORKLOAD_EXIT_FAILURE);
        }
        if (r == 0) {
                if (m->cfg.wait_timeout_usec &&
                    now_usec(CLOCK_MONOTONIC) - t->wait_start_usec >= m->cfg.wait_timeout_usec) {
                        log_error_errno(-ETIMEDOUT,
                                        "No target matching --wait=%s appeared within %s; is the app "
                                        "running and visible (shareProcessNamespace)?",
                                        m->cfg.wait.text,
                                        units_format_duration(d, sizeof(d), m->cfg.wait_timeout_usec));
                        run_report_set_reason(&m->report, false, "no target appeared (--wait-timeout)");
                        t->wait_timer = sd_event_source_disable_unref(t->wait_timer);
                        return manager_exit(m, WORKLOAD_EXIT_FAILURE);
                }
                (void)sd_event_source_set_time(s, usec + TARGET_POLL_USEC);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        t->wait_timer = sd_event_source_disable_unref(t->wait_timer);
        t->waiting = false;
        log_info("Found the target: pid %d (--wait=%s).", (int)pid, m->cfg.wait.text);
        m->cfg.attach_pid = pid;
        m->command = strv_free(m->command);
        (void)workload_read_cmdline(pid, &m->command);
        r = manager_target_found(m);
        if (r < 0 && !alive(pid)) {
                /* It ended between being found and being set up (its cgroup went with it): the
                 * same as ending a moment later, not a failure of ours. */
                log_info("The target process %d exited while oomless attached to it: nothing left to "
                         "supervise, oomless attach ends.",
                         (int)pid);
                run_report_set_reason(&m->report, false, "the target process %d exited", (int)pid);
                return manager_exit(m, 0);
        }
        if (r < 0) {
                run_report_set_reason(&m->report, false, "the target could not be supervised");
                return manager_exit(m, WORKLOAD_EXIT_FAILURE);
        }
        return 0;
}

int target_wait_start(Manager *m)
{
        Target *t = &m->target;
        char d[32];
        int r;

        if (m->cfg.wait_timeout_usec)
                log_info("Waiting up to %s for the target (--wait=%s).",
                         units_format_duration(d, sizeof(d), m->cfg.wait_timeout_usec), m->cfg.wait.text);
        else
                log_info("Waiting for the target (--wait=%s).", m->cfg.wait.text);
        t->wait_start_usec = now_usec(CLOCK_MONOTONIC);
        /* The first look at once: a target already there is taken without delay. */
        r = sd_event_add_time(m->event, &t->wait_timer, CLOCK_MONOTONIC, t->wait_start_usec, 0,
                              on_wait_timer, m);
        if (r < 0)
                return log_error_errno(r, "Cannot arm the timer that looks for the target: %m");
        return 0;
}

/* ---- the capability line ---- */

static void log_capabilities(Manager *m)
{
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *skipped = NULL;
        Target *t = &m->target;
        bool can_kill = m->cfg.attach_pid > 0 && (kill(m->cfg.attach_pid, 0) == 0 || errno != EPERM);
        char ro[128] = "";

        if (m->cfg.attach_pid <= 0)
                t->restart_skip = "attach --cgroup has no process to stop";
        else if (!m->cfg.follow)
                t->restart_skip = "without --follow nothing would find the restarted process (give "
                                  "--wait=SPEC --follow)";
        else if (!can_kill)
                t->restart_skip = "no permission to signal the target";
        t->restart_ok = !t->restart_skip;

        if (!cg_has(m->cg, CG_CAP_MAX))
                strcat(ro, "memory.max");
        if (!cg_has(m->cg, CG_CAP_HIGH) && !cg_has(m->cg, CG_CAP_SOFT_LIMIT))
                strcat(ro, *ro ? ", memory.high" : "memory.high");
        if (!cg_has(m->cg, CG_CAP_RECLAIM))
                strcat(ro, *ro ? ", memory.reclaim" : "memory.reclaim");

        ModeCaps mc = {
                .attach = true,
                .no_high = cg_has(m->cg, CG_CAP_HIGH) || cg_has(m->cg, CG_CAP_SOFT_LIMIT)
                               ? NULL
                               : "memory.high is not writable here",
                .no_reclaim = cg_has(m->cg, CG_CAP_RECLAIM) ? NULL : "memory.reclaim is not writable here",
                .no_max = cg_has(m->cg, CG_CAP_MAX) ? NULL : "memory.max is not writable here",
                .no_restart = t->restart_skip,
                .no_control = m->control ? NULL
                                         : "no control page (give --control-page=PATH and start the app "
                                           "with LD_PRELOAD=liboomless.so OOMLESS_CONTROL=PATH)",
        };
        if (mode_caps_unsupported(supervise_policy(m->supervise), &mc, &lines) >= 0 && lines && lines[0])
                skipped = strv_join(lines, "; ", false);

        log_struct(
            LOG_LEVEL_INFO,
            LOG_FIELDS(LOG_STR("event", "capabilities"), LOG_STR("tier", cg_tier_to_string(cg_tier(m->cg))),
                       LOG_STR("read_only", *ro ? ro : NULL), LOG_BOOL("restart", t->restart_ok),
                       LOG_STR("skipped", skipped)),
            "attach can here: tier %s, reading %s; not writable: %s; restart: %s%s; skipped actions: %s.",
            cg_tier_to_string(cg_tier(m->cg)), cg_leaf_path(m->cg) ?: "/proc", *ro ? ro : "none",
            t->restart_ok ? "stops the target (stop signal, grace, SIGKILL) and follows the new process"
                          : "no, ",
            t->restart_ok ? "" : t->restart_skip, skipped ?: "none");
}

/* ---- watching and following ---- */

static int on_target_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int watch(Manager *m, pid_t pid)
{
        int r;

        m->target_source = sd_event_source_disable_unref(m->target_source);
        m->target_pidfd = safe_close(m->target_pidfd);
        m->target_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (m->target_pidfd < 0)
                return log_error_errno(negative_errno(), "Cannot watch process %d (pidfd_open): %m",
                                       (int)pid);
        r = sd_event_add_io(m->event, &m->target_source, m->target_pidfd, EPOLLIN, on_target_exit, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch process %d: %m", (int)pid);
        return 0;
}

static void disarm_watches(Manager *m)
{
        m->events_source = sd_event_source_disable_unref(m->events_source);
        m->populated_source = sd_event_source_disable_unref(m->populated_source);
        for (unsigned i = 0; i < m->n_psi; i++) {
                m->psi_sources[i] = sd_event_source_disable_unref(m->psi_sources[i]);
                m->psi_fds[i] = safe_close(m->psi_fds[i]);
        }
}

static int on_follow_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        Target *t = &m->target;
        _cleanup_free_ char *msg = NULL, *old_leaf = NULL;
        pid_t pid = 0;
        int r;

        r = target_find(&m->cfg.wait, m->control, t->gone, &pid);
        if (r <= 0) {
                (void)sd_event_source_set_time(s, usec + TARGET_POLL_USEC);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        t->follow_timer = sd_event_source_disable_unref(t->follow_timer);
        t->kill_timer = sd_event_source_disable_unref(t->kill_timer);
        t->waiting = false;

        /* Its cgroup may be a new one (a container is restarted in a new cgroup), and a cgroup read
         * through /proc/PID/root must be read through the new pid. */
        disarm_watches(m);
        /* The memcg's own path, not the leaf: read through /proc/PID/root the leaf names the pid. */
        old_leaf = strdup(cg_memcg_path(m->cg) ?: cg_leaf_path(m->cg) ?: "");
        r = cg_rebind_attach(m->cg, &m->cfg.cg, pid, &msg);
        if (r < 0)
                log_warning_errno(r, "Cannot read the cgroup of the new process %d, keeping %s: %s",
                                  (int)pid, cg_leaf_path(m->cg) ?: "the old one", msg ?: "unknown reason");
        (void)manager_arm_watches(m);
        manager_react_rebind(m);
        supervise_heap_cap_reset(m->supervise);
        /* A new cgroup's oom_kill counter is not the old one's: kills from before we followed it are
         * not ours to report. In the same cgroup it goes on, and a kill that caused this restart is. */
        if (!old_leaf || !streq(old_leaf, cg_memcg_path(m->cg) ?: cg_leaf_path(m->cg) ?: "")) {
                m->oom_seen_valid = false;
                m->k8s_oom_seen_valid = false;
                m->oom_pending_since = 0;
        }
        if (m->control)
                control_rebaseline(m->control, t->gone);

        m->cfg.attach_pid = pid;
        m->command = strv_free(m->command);
        (void)workload_read_cmdline(pid, &m->command);
        t->follows++;
        t->since_usec = now_usec(CLOCK_MONOTONIC);
        if (t->restarting)
                m->restarts++;
        t->restarting = false;
        log_struct(LOG_LEVEL_NOTICE,
                   LOG_FIELDS(LOG_STR("event", "following"), LOG_I64("pid", pid),
                              LOG_U64("follows", t->follows), LOG_STR("leaf", cg_leaf_path(m->cg))),
                   "now following pid %d (in %s).", (int)pid, cg_leaf_path(m->cg) ?: "no cgroup");
        if (watch(m, pid) < 0)
                return manager_exit(m, WORKLOAD_EXIT_FAILURE);
        manager_sample_and_decide(m);
        return 0;
}

static int on_target_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        Target *t = &m->target;
        pid_t pid = m->cfg.attach_pid;
        int r;
        (void)s;
        (void)fd;
        (void)revents;

        m->target_source = sd_event_source_disable_unref(m->target_source);
        m->target_pidfd = safe_close(m->target_pidfd);
        t->kill_timer = sd_event_source_disable_unref(t->kill_timer);
        if (!m->cfg.follow || m->draining) {
                log_info("The target process %d exited: nothing left to supervise, oomless attach ends.",
                         (int)pid);
                run_report_set_reason(&m->report, false, "the target process %d exited", (int)pid);
                return manager_exit(m, 0);
        }
        t->gone = pid;
        t->waiting = true;
        log_struct(LOG_LEVEL_NOTICE, LOG_FIELDS(LOG_STR("event", "target_exited"), LOG_I64("pid", pid)),
                   "target pid %d exited; following (--wait=%s).", (int)pid, m->cfg.wait.text);
        r = sd_event_add_time_relative(m->event, &t->follow_timer, CLOCK_MONOTONIC, TARGET_POLL_USEC / 4, 0,
                                       on_follow_timer, m);
        if (r < 0) {
                log_error_errno(r, "Cannot look for the restarted target: %m");
                return manager_exit(m, WORKLOAD_EXIT_FAILURE);
        }
        return 0;
}

/* As run's wake-ups (manager-decide.c): at most one wake-triggered sample per 5 ms. */
#define TARGET_WAKE_MIN_INTERVAL_USEC (5 * USEC_PER_MSEC)

/* The allocator's heap crossed the watermark (the page's wake FIFO): decide now, not at the tick. */
static void on_page_wake(Control *c, void *userdata)
{
        Manager *m = userdata;
        (void)c;

        if (m->target.waiting || !m->sampler)
                return; /* between targets: the next one is found first */
        if (manager_sample(m) >= 0)
                manager_decide(m);
}

int target_start(Manager *m)
{
        int r;

        m->target.since_usec = now_usec(CLOCK_MONOTONIC);
        if (m->control) {
                sampler_set_control(m->sampler, m->control);
                if (control_wake_fd(m->control) >= 0 &&
                    control_add_wake_source(m->control, m->event, TARGET_WAKE_MIN_INTERVAL_USEC,
                                            on_page_wake, m) < 0)
                        log_warning("Cannot watch the control page's wake FIFO; relying on the tick.");
        }
        if (m->cfg.attach_pid > 0) {
                r = watch(m, m->cfg.attach_pid);
                if (r < 0)
                        return r;
        }
        log_capabilities(m);
        return 0;
}

/* ---- the restart action ---- */

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        m->target.kill_timer = sd_event_source_disable_unref(m->target.kill_timer);
        if (m->target_pidfd < 0)
                return 0;
        log_warning("The target (pid %d) did not stop within its grace; sending SIGKILL.",
                    (int)m->cfg.attach_pid);
        if (syscall(SYS_pidfd_send_signal, m->target_pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_warning_errno(errno, "Cannot send SIGKILL to pid %d: %m", (int)m->cfg.attach_pid);
        return 0;
}

int target_restart(Manager *m, int stop_signal, uint64_t grace_usec)
{
        Target *t = &m->target;
        char d[32];
        int r;

        if (!t->restart_ok)
                return log_full_errno(LOG_LEVEL_NOTICE, -EOPNOTSUPP, "Skipping the restart: %s.",
                                      t->restart_skip ?: "not possible");
        if (m->target_pidfd < 0 || t->restarting)
                return -ESRCH;
        if (syscall(SYS_pidfd_send_signal, m->target_pidfd, stop_signal, NULL, 0) < 0)
                return log_warning_errno(errno, "Cannot send %s to the target (pid %d): %m",
                                         units_signal_to_string(stop_signal), (int)m->cfg.attach_pid);
        t->restarting = true;
        log_struct(
            LOG_LEVEL_NOTICE,
            LOG_FIELDS(LOG_STR("event", "stop"), LOG_STR("signal", units_signal_to_string(stop_signal)),
                       LOG_I64("pid", m->cfg.attach_pid), LOG_DBL("grace_sec", (double)grace_usec / 1e6)),
            "Sent %s to the target (pid %d) to restart it; SIGKILL in %s if it is still there; the "
            "container runtime starts it again.",
            units_signal_to_string(stop_signal), (int)m->cfg.attach_pid,
            units_format_duration(d, sizeof(d), grace_usec));
        r = sd_event_add_time_relative(m->event, &t->kill_timer, CLOCK_MONOTONIC, grace_usec, 0,
                                       on_kill_timer, m);
        if (r < 0)
                log_warning_errno(r, "Cannot arm the grace timer: %m");
        return 0;
}

void target_done(Target *t)
{
        t->wait_timer = sd_event_source_disable_unref(t->wait_timer);
        t->follow_timer = sd_event_source_disable_unref(t->follow_timer);
        t->kill_timer = sd_event_source_disable_unref(t->kill_timer);
}
