/* SPDX-License-Identifier: MIT */
/* Instance names and the instance lock (instance.h). */
#define _GNU_SOURCE 1
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

void instance_id_new(InstanceId *ret)
{
        uint32_t nonce = 0;
        struct timespec ts;

        if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t)sizeof(nonce)) {
                /* Early boot without entropy: the clock still tells two starts apart. */
                clock_gettime(CLOCK_MONOTONIC, &ts);
                nonce = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u;
        }
        *ret = (InstanceId){ .pid = getpid(), .nonce = nonce };
}

int instance_leaf_name(char *buf, size_t size, const InstanceId *id, const char *role)
{
        int n = role ? snprintf(buf, size, INSTANCE_LEAF_PREFIX "%d-%08" PRIx32 "-%s", (int)id->pid,
                                id->nonce, role)
                     : snprintf(buf, size, INSTANCE_LEAF_PREFIX "%d-%08" PRIx32, (int)id->pid, id->nonce);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int instance_rundir_name(char *buf, size_t size, const InstanceId *id)
{
        int n = snprintf(buf, size, "%d-%08" PRIx32, (int)id->pid, id->nonce);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Leading decimal pid of s (no sign, no leading zero); *ret_end after it. */
static int parse_pid(const char *s, pid_t *ret_pid, const char **ret_end)
{
        char *end;
        long v;

        if (*s < '1' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || v <= 0 || v > INT32_MAX)
                return -EINVAL;
        *ret_pid = (pid_t)v;
        *ret_end = end;
        return 0;
}

/* Skips "-<8 lowercase hex>" at s, the nonce; s itself when there is none. */
static const char *skip_nonce(const char *s)
{
        if (*s != '-')
                return s;
        for (int i = 1; i <= 8; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return s;
        return s + 9;
}

int instance_leaf_name_parse(const char *name, pid_t *ret_pid)
{
        const char *end;
        pid_t pid;

        if (!strneq(name, INSTANCE_LEAF_PREFIX, STRLEN(INSTANCE_LEAF_PREFIX)))
                return -EINVAL;
        if (parse_pid(name + STRLEN(INSTANCE_LEAF_PREFIX), &pid, &end) < 0)
                return -EINVAL;
        end = skip_nonce(end);
        /* The roles instance_leaf_name() is given (cgroup-v2.c); anything else is not ours. */
        if (*end && !streq(end, "-supervisor") && !streq(end, "-workload"))
                return -EINVAL;
        *ret_pid = pid;
        return 0;
}

int instance_rundir_name_parse(const char *name, pid_t *ret_pid)
{
        const char *end;
        pid_t pid;

        if (parse_pid(name, &pid, &end) < 0 || *skip_nonce(end))
                return -EINVAL;
        *ret_pid = pid;
        return 0;
}

int instance_lock(int dir_fd)
{
        if (flock(dir_fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EWOULDBLOCK : negative_errno();
        return 0;
}

int instance_read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n <= 0)
                return n < 0 ? negative_errno() : -EIO;
        buf[n] = 0;
        return (int)n;
}

/* When pid started, in seconds of CLOCK_REALTIME (to the second: /proc/stat's btime is whole). */
static int process_start(pid_t pid, long long *ret)
{
        char buf[1024];
        const char *p;
        long long btime = -1, ticks;
        long hz = sysconf(_SC_CLK_TCK);
        _cleanup_fclose_ FILE *f = NULL;

        if (instance_read_proc_file(pid, "stat", buf, sizeof(buf)) < 0)
                return -EIO;
        /* The comm may hold spaces and parentheses: the fields start after the last ')'. starttime is
         * field 22, the 20th after it. */
        p = strrchr(buf, ')');
        if (!p || hz <= 0)
                return -EIO;
        p++;
        for (int i = 0; i < 19; i++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        if (sscanf(p, " %lld", &ticks) != 1)
                return -EIO;

        f = fopen("/proc/stat", "re");
        if (!f)
                return negative_errno();
        while (fgets(buf, sizeof(buf), f))
                if (sscanf(buf, "btime %lld", &btime) == 1)
                        break;
        if (btime < 0)
                return -EIO;
        *ret = btime + ticks / hz;
        return 0;
}

/* Slack for comparing whole seconds of two clocks. */
#define START_SLACK_SEC 2

bool instance_may_be_alive(int dir_fd, pid_t pid)
{
        struct stat st;
        long long start;

        if (instance_lock(dir_fd) == -EWOULDBLOCK)
                return true;
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return false;
        /* The pid exists: the instance may be between creating the directory and locking it, or the
         * pid was reused. A process that started after the directory was made (its ctime only moves
         * later) cannot have made it. Unknown counts as alive: leaving a leftover for a later run is
         * the safe mistake. */
        if (fstat(dir_fd, &st) < 0 || process_start(pid, &start) < 0)
                return true;
        return start <= (long long)st.st_ctim.tv_sec + START_SLACK_SEC;
}
