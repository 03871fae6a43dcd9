/* SPDX-License-Identifier: MIT */
/* The kernel log (/dev/kmsg) as the source of a kernel OOM kill's victim: which process it hit, by
 * pid and name, and how much memory it had. The cgroup's counters (memory.events oom_kill, v1
 * memory.oom_control) say that a kill happened; only the kernel's own report names the victim. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct KmsgOomKill {
        pid_t pid;
        char comm[32];
        uint64_t total_vm, anon_rss, file_rss, shmem_rss; /* bytes */
} KmsgOomKill;

/* Opens /dev/kmsg at its end (only what is logged from now on is read). -errno when it cannot be read
 * (no CAP_SYSLOG with dmesg_restrict, a container without it): victims are then reported unknown. */
int kmsg_open(void);

/* Parses the message text of one record ("Memory cgroup out of memory: Killed process 123 (dd)
 * total-vm:..kB, anon-rss:..kB, file-rss:..kB, shmem-rss:..kB, ..."). Pure. */
bool kmsg_parse_killed(const char *msg, KmsgOomKill *ret);

/* Whether an "oom-kill:constraint=...,oom_memcg=PATH,task_memcg=PATH,...,pid=N" record names a memcg
 * whose last component is leaf_name; *ret_pid gets its pid. Pure. */
bool kmsg_parse_constraint(const char *msg, const char *leaf_name, pid_t *ret_pid);

/* Reads every record logged since the last call (never blocks) and stores the OOM kills inside the
 * cgroup named leaf_name (its last path component), at most max, in ret. Returns how many, or -errno. */
int kmsg_read_oom_kills(int fd, const char *leaf_name, KmsgOomKill *ret, size_t max);
