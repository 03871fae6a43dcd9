/* SPDX-License-Identifier: MIT */
/* Stopping the workload: signal, grace timer, kill of the leaf, and the leftover sweep at exit. */
#define _GNU_SOURCE 1
#include "stop.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "time-util.h"
#include "units.h"

void stop_init(Stop *st, sd_event *e, Cg *cg, const StopOps *ops)
{
        *st = (Stop){ .event = e, .cg = cg, .ops = *ops, .pidfd = -EBADF };
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
        return cg_has(st->cg, CG_CAP_MAX);
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
                    cg_leaf_path(st->cg) ?: "its process tree");
        (void)signal_pidfd(st->pidfd, SIGKILL);
        if (has_leaf(st))
                (void)cg_kill_all(st->cg, SIGKILL);
        else
                (void)st->ops.kill_children(SIGKILL, st->ops.userdata);
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

void stop_sweep_leftovers(Stop *st)
{
        uint64_t deadline;

        /* On observe/none the cgroup is not ours alone: only our own descendants go. */
        if (has_leaf(st)) {
                int r = cg_is_populated(st->cg);
                if (r == 0)
                        return;
                r = cg_kill_all(st->cg, SIGKILL);
                if (r < 0)
                        log_warning_errno(r, "Cannot kill the processes left in %s: %m",
                                          cg_leaf_path(st->cg));
        } else if (st->ops.kill_children(SIGKILL, st->ops.userdata) <= 0)
                return;

        /* They are our descendants (subreaper): reap them so the leaf can go. */
        deadline = now_usec(CLOCK_MONOTONIC) + STOP_LEFTOVER_WAIT_USEC;
        for (;;) {
                st->ops.reap(st->ops.userdata);
                if (has_leaf(st)) {
                        if (cg_is_populated(st->cg) <= 0)
                                break;
                } else if (st->ops.kill_children(SIGKILL, st->ops.userdata) <= 0)
                        break;
                if (now_usec(CLOCK_MONOTONIC) > deadline) {
                        log_warning("Processes are still left in %s after SIGKILL; giving up waiting.",
                                    cg_leaf_path(st->cg) ?: "the process tree");
                        break;
                }
                (void)usleep(10000);
        }
}
