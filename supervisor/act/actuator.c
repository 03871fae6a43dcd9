/* SPDX-License-Identifier: MIT */
/* The Actuator's dispatch (NULL-safe wrappers over the ops table) and the helpers implementations
 * share: signalling through a pidfd and picking the largest resident set. See actuator.h. */
#define _GNU_SOURCE
#include "actuator.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "instance.h"

/* Calls op when the actuator has it, else -EOPNOTSUPP. */
#define CALL(a, op, ...) ((a) && (a)->ops->op ? (a)->ops->op((a), ##__VA_ARGS__) : -EOPNOTSUPP)

unsigned actuator_caps(Actuator *a)
{
        return a && a->ops->caps ? a->ops->caps(a) : 0;
}

const char *actuator_tier_name(Actuator *a)
{
        const char *n = a && a->ops->tier_name ? a->ops->tier_name(a) : NULL;
        return n ?: "?";
}

const char *actuator_leaf_path(Actuator *a)
{
        return a && a->ops->leaf_path ? a->ops->leaf_path(a) : NULL;
}

int actuator_get_memory_high(Actuator *a, uint64_t *ret)
{
        return CALL(a, get_memory_high, ret);
}

int actuator_set_memory_high(Actuator *a, uint64_t bytes)
{
        return CALL(a, set_memory_high, bytes);
}

int actuator_get_memory_max(Actuator *a, uint64_t *ret)
{
        return CALL(a, get_memory_max, ret);
}

int actuator_set_memory_max(Actuator *a, uint64_t bytes)
{
        return CALL(a, set_memory_max, bytes);
}

int actuator_kill_all(Actuator *a, int sig)
{
        return CALL(a, kill_all, sig);
}

int actuator_list_pids(Actuator *a, pid_t **ret, size_t *ret_n)
{
        return CALL(a, list_pids, ret, ret_n);
}

int actuator_is_populated(Actuator *a)
{
        return CALL(a, is_populated);
}

int actuator_reclaim(Actuator *a, uint64_t bytes)
{
        return CALL(a, reclaim, bytes);
}

int actuator_signal_pid(Actuator *a, pid_t pid, int sig)
{
        return CALL(a, signal_pid, pid, sig);
}

int actuator_resolve_victim(Actuator *a, PolicyVictim v, pid_t *ret_pid, uint64_t *ret_rss)
{
        return CALL(a, resolve_victim, v, ret_pid, ret_rss);
}

Actuator *actuator_free(Actuator *a)
{
        if (a && a->ops->free)
                a->ops->free(a);
        return NULL;
}

int actuator_pidfd_signal(pid_t pid, int sig)
{
        _cleanup_close_ int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        if (fd < 0)
                return negative_errno();
        if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
                return negative_errno();
        return 0;
}

static int read_statm_rss(pid_t pid, uint64_t *ret)
{
        char buf[128];
        unsigned long long size, resident;
        int r;

        r = instance_read_proc_file(pid, "statm", buf, sizeof(buf));
        if (r < 0)
                return r;
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return -EIO;
        *ret = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
        return 0;
}

int actuator_largest_rss(const pid_t *pids, size_t n, pid_t *ret_pid, uint64_t *ret_rss)
{
        pid_t best = 0;
        uint64_t best_rss = 0;

        for (size_t i = 0; i < n; i++) {
                uint64_t rss;
                if (pids[i] <= 0 || pids[i] == getpid())
                        continue;
                if (read_statm_rss(pids[i], &rss) < 0)
                        continue; /* gone meanwhile, or a kernel thread without statm figures */
                if (best == 0 || rss > best_rss) {
                        best = pids[i];
                        best_rss = rss;
                }
        }
        if (best == 0)
                return -ESRCH;
        *ret_pid = best;
        if (ret_rss)
                *ret_rss = best_rss;
        return 0;
}
