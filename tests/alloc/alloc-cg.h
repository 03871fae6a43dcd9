/* SPDX-License-Identifier: MIT */
/* Test helper for the allocator's cgroup tests: create a child memory cgroup under this process's
 * own memory cgroup (v1 memory controller, or v2 when that is what the host has), set its limit,
 * read its usage, run a process in it, and remove it again. Only ever touches the cgroup it made. */
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct AllocCg {
        char dir[1400];
        bool v2;
} AllocCg;

static inline bool acg_read(const char *dir, const char *file, char *buf, size_t n)
{
        char path[1600];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t r = read(fd, buf, n - 1);
        close(fd);
        if (r < 0)
                return false;
        buf[r] = 0;
        return true;
}

static inline bool acg_write(const char *dir, const char *file, const char *val)
{
        char path[1600];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t r = write(fd, val, strlen(val));
        close(fd);
        return r == (ssize_t)strlen(val);
}

/* Finds our memory cgroup directory. Returns false when there is no memory controller. */
static inline bool acg_own(char *out, size_t n, bool *v2)
{
        char line[4096], v1path[1024] = "", v2path[1024] = "", v1mnt[1024] = "", v2mnt[1024] = "";
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                if (!b)
                        continue;
                *b = 0;
                if (a == line + 1 && line[0] == '0' && a[1] == 0) /* "0::" is the v2 line */
                        snprintf(v2path, sizeof(v2path), "%s", b + 1);
                else if (strstr(a + 1, "memory"))
                        snprintf(v1path, sizeof(v1path), "%s", b + 1);
        }
        fclose(f);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char root[1024], mnt[1024], fstype[64], super[1024];
                char *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2 ||
                    sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
                        continue;
                if (strcmp(fstype, "cgroup") == 0 && strstr(super, "memory") && strcmp(root, "/") == 0)
                        snprintf(v1mnt, sizeof(v1mnt), "%s", mnt);
                if (strcmp(fstype, "cgroup2") == 0 && strcmp(root, "/") == 0 && !v2mnt[0])
                        snprintf(v2mnt, sizeof(v2mnt), "%s", mnt);
        }
        fclose(f);
        if (v1mnt[0] && v1path[0]) {
                snprintf(out, n, "%s%s", v1mnt, strcmp(v1path, "/") ? v1path : "");
                *v2 = false;
                return true;
        }
        if (v2mnt[0] && v2path[0]) {
                char ctl[256];
                snprintf(out, n, "%s%s", v2mnt, strcmp(v2path, "/") ? v2path : "");
                if (!acg_read(out, "cgroup.controllers", ctl, sizeof(ctl)) || !strstr(ctl, "memory"))
                        return false;
                *v2 = true;
                return true;
        }
        return false;
}

/* Creates <own>/<name>-<pid> with a memory limit. Returns false (caller skips) when not allowed. */
static inline bool acg_create(AllocCg *cg, const char *name, unsigned long long limit)
{
        char own[1024], val[64];
        if (!acg_own(own, sizeof(own), &cg->v2))
                return false;
        snprintf(cg->dir, sizeof(cg->dir), "%s/%s-%d", own, name, (int)getpid());
        if (mkdir(cg->dir, 0755) < 0)
                return false;
        snprintf(val, sizeof(val), "%llu", limit);
        if (!acg_write(cg->dir, cg->v2 ? "memory.max" : "memory.limit_in_bytes", val)) {
                rmdir(cg->dir);
                return false;
        }
        if (cg->v2)
                acg_write(cg->dir, "memory.swap.max", "0");
        else
                acg_write(cg->dir, "memory.memsw.limit_in_bytes", val); /* no swapping out of the test */
        return true;
}

static inline bool acg_attach(const AllocCg *cg, pid_t pid)
{
        char val[32];
        snprintf(val, sizeof(val), "%d", (int)pid);
        return acg_write(cg->dir, "cgroup.procs", val);
}

static inline unsigned long long acg_usage(const AllocCg *cg)
{
        char buf[64];
        if (!acg_read(cg->dir, cg->v2 ? "memory.current" : "memory.usage_in_bytes", buf, sizeof(buf)))
                return 0;
        return strtoull(buf, NULL, 10);
}

/* oom_kill count from memory.oom_control (v1) or memory.events (v2); -1 when unknown. */
static inline long long acg_oom_kills(const AllocCg *cg)
{
        char buf[1024];
        if (!acg_read(cg->dir, cg->v2 ? "memory.events" : "memory.oom_control", buf, sizeof(buf)))
                return -1;
        char *p = strstr(buf, "oom_kill ");
        return p ? atoll(p + 9) : -1;
}

/* Removes the cgroup, first killing anything we left in it. */
static inline void acg_destroy(AllocCg *cg)
{
        char buf[4096];
        if (!cg->dir[0])
                return;
        for (int i = 0; i < 100 && rmdir(cg->dir) < 0; i++) {
                if (acg_read(cg->dir, "cgroup.procs", buf, sizeof(buf)))
                        for (char *p = buf; *p;) {
                                long pid = strtol(p, &p, 10);
                                if (pid > 0)
                                        kill((pid_t)pid, SIGKILL);
                                while (*p == '\n')
                                        p++;
                        }
                usleep(20000);
        }
        cg->dir[0] = 0;
}
