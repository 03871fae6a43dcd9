/* SPDX-License-Identifier: MIT */
/* Stopping the workload: signal, grace timer, kill of the leaf, and the leftover sweep at exit. */
#define _GNU_SOURCE 1
#include "stop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "time-util.h"
#include "units.h"

void stop_init(Stop *st, sd_event *e, Actuator *act, const StopOps *ops)
{
        *st = (Stop){ .event = e, .act = act, .ops = *ops, .pidfd = -EBADF };
}

void stop_done(Stop *st)
{
        stop_cancel(st);
}

static int signal_pidfd(int pidfd, int sig)
{
        if (pidfd < 0)
                return -ESRCH;
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
                return negative_errno();
        return 0;
}

static bool has_leaf(const Stop *st)
{
        /* A writable cgroup of the workload's own (v2 or v1): every member is the workload's. On observe
         * the cgroup holds oomless too, and on tier none there is no cgroup. */
        return actuator_can(st->act, ACTUATOR_CAP_MEMORY_MAX);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Stop *st = userdata;
        char d[32];
        (void)s;
        (void)usec;

        log_warning("The workload did not stop within %s of %s; killing everything left in %s.",
                    units_format_duration(d, sizeof(d), st->grace_usec),
                    units_signal_to_string(st->signal) ?: "the stop signal",
                    actuator_leaf_path(st->act) ?: "its process tree");
        (void)signal_pidfd(st->pidfd, SIGKILL);
        if (has_leaf(st))
                (void)actuator_kill_all(st->act, SIGKILL);
        else
                (void)st->ops.kill_children(SIGKILL, st->ops.userdata);
        log_struct(LOG_LEVEL_INFO,
                   LOG_FIELDS(LOG_STR("event", "stop_kill"), LOG_STR("signal", "SIGKILL"),
                              LOG_STR("leaf", actuator_leaf_path(st->act))),
                   "Sent SIGKILL to %s.",
                   has_leaf(st) ? "every process in the leaf" : "our own child processes");
        return 0;
}

int stop_begin(Stop *st, int pidfd, int sig, uint64_t grace_usec)
{
        int r;

        st->pidfd = pidfd;
        st->signal = sig;
        r = signal_pidfd(pidfd, sig);
        if (r < 0 && r != -ESRCH)
                log_warning_errno(r, "Cannot send %s to the workload: %m", units_signal_to_string(sig));
        else if (r >= 0)
                log_struct(
                    LOG_LEVEL_INFO,
                    LOG_FIELDS(LOG_STR("event", "stop"), LOG_STR("signal", units_signal_to_string(sig)),
                               LOG_DBL("grace_sec", (double)grace_usec / 1e6)),
                    "Sent %s to the workload's main process to stop it.", units_signal_to_string(sig));
        if (!st->timer) {
                st->grace_usec = grace_usec;
                r = sd_event_add_time_relative(st->event, &st->timer, CLOCK_MONOTONIC, grace_usec, 0,
                                               on_timeout, st);
                if (r < 0)
                        return log_warning_errno(r, "Cannot arm the stop timeout: %m");
        }
        return 0;
}

void stop_cancel(Stop *st)
{
        st->timer = sd_event_source_disable_unref(st->timer);
        st->pidfd = -EBADF;
}

/* "Killed 2 leftover processes in LEAF with SIGKILL: 123 456." */
static void log_leftovers(const Stop *st, const pid_t *pids, size_t n)
{
        char list[512] = "", json[512] = "[";
        size_t used = 0, jused = 1;

        for (size_t i = 0; i < n; i++) {
                int k = snprintf(list + used, sizeof(list) - used, "%s%d", i ? " " : "", (int)pids[i]);
                int kj =
                    snprintf(json + jused, sizeof(json) - jused - 1, "%s%d", i ? "," : "", (int)pids[i]);
                if (k < 0 || (size_t)k >= sizeof(list) - used || kj < 0 ||
                    (size_t)kj >= sizeof(json) - jused - 1)
                        break; /* a long list is cut; the count stays exact */
                used += (size_t)k;
                jused += (size_t)kj;
        }
        json[jused] = ']';
        json[jused + 1] = 0;
        log_struct(LOG_LEVEL_NOTICE,
                   LOG_FIELDS(LOG_STR("event", "leftovers_killed"), LOG_U64("count", n),
                              LOG_JSON("pids", json), LOG_STR("leaf", actuator_leaf_path(st->act))),
                   "Killed %zu leftover process%s in %s with SIGKILL%s%s.", n, n == 1 ? "" : "es",
                   actuator_leaf_path(st->act) ?: "the leaf", n ? ": " : "", list);
}

void stop_sweep_leftovers(Stop *st)
{
        uint64_t deadline;

        /* On observe/none the cgroup is not ours alone: only our own descendants go. */
        if (has_leaf(st)) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                int r = actuator_is_populated(st->act);
                if (r != 0) {
                        /* Who is killed is logged: a leftover daemon of the workload dies here, unasked. */
                        if (actuator_list_pids(st->act, &pids, &n) < 0)
                                n = 0;
                        r = actuator_kill_all(st->act, SIGKILL);
                        if (r < 0)
                                log_warning_errno(r, "Cannot kill the processes left in %s: %m",
                                                  actuator_leaf_path(st->act));
                        else
                                log_leftovers(st, pids, n);
                }
        } else {
                int n = st->ops.kill_children(SIGKILL, st->ops.userdata);
                if (n > 0)
                        log_struct(LOG_LEVEL_NOTICE,
                                   LOG_FIELDS(LOG_STR("event", "leftovers_killed"), LOG_U64("count", n)),
                                   "Killed %d leftover process%s of the workload with SIGKILL.", n,
                                   n == 1 ? "" : "es");
        }

        /* They are our descendants (subreaper): reap them, so none is left a zombie for whoever reaps
         * after we exit. An empty leaf is not enough: a task leaves its cgroup early in exit, before it
         * is handed to us and can be reaped, so the children still dying are waited for too. A dying
         * parent hands its children to us before it becomes reapable itself, so when none of ours is
         * dying, nothing of the leaf is left. */
        deadline = now_usec(CLOCK_MONOTONIC) + STOP_LEFTOVER_WAIT_USEC;
        for (;;) {
                bool left;

                st->ops.reap(st->ops.userdata);
                if (has_leaf(st))
                        left = actuator_is_populated(st->act) > 0 ||
                               st->ops.dying_children(st->ops.userdata) > 0;
                else
                        left = st->ops.kill_children(SIGKILL, st->ops.userdata) > 0;
                if (!left)
                        break;
                if (now_usec(CLOCK_MONOTONIC) > deadline) {
                        log_warning(
                            "Processes of the workload are still left after SIGKILL (in %s, or not yet "
                            "reaped); giving up waiting.",
                            actuator_leaf_path(st->act) ?: "its process tree");
                        break;
                }
                (void)usleep(10000);
        }
}
