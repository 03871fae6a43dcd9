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

/* The message text of one record read from /dev/kmsg ("PRI,SEQ,USEC,FLAGS;MESSAGE\n" and
 * continuation lines), cut at its end of line in place; NULL unless the record is the kernel's own
 * (facility 0): whatever a process writes to /dev/kmsg carries facility LOG_USER at least, so it
 * cannot forge an OOM report. Pure. */
char *kmsg_record_message(char *rec);

/* Parses the message text of one record ("Memory cgroup out of memory: Killed process 123 (dd)
 * total-vm:..kB, anon-rss:..kB, file-rss:..kB, shmem-rss:..kB, ..."). The name ends at the last
 * ") total-vm:": the process chooses its name, and nothing after the kernel's own holds that text.
 * Pure. */
bool kmsg_parse_killed(const char *msg, KmsgOomKill *ret);

/* Whether an "oom-kill:constraint=...,oom_memcg=PATH,task_memcg=PATH,task=COMM,pid=N,uid=N" record
 * names a memcg whose last path component is memcg_name, or one below it; *ret_pid gets the victim's
 * pid, from the last ",pid=" (see kmsg.c for why). Pure. */
bool kmsg_parse_constraint(const char *msg, const char *memcg_name, pid_t *ret_pid);

/* What kmsg_read_oom_kills() carries from one call to the next, owned by the caller and zeroed before
 * the first: the kernel logs the line naming the victim's memcg, then counts the kill (memory.events
 * oom_kill), then logs "Killed process", so a read woken by the counter can end between the two. */
typedef struct KmsgMatch {
        pid_t pid; /* the victim of our memcg's constraint line whose "Killed process" is not read yet */
} KmsgMatch;

/* Reads the records logged since the last call (never blocks) and stores the OOM kills inside the
 * memcg named memcg_name (its last path component, as the kernel prints it) in ret. Stops after max
 * of them: the records after stay for the next call, so a kill logged before the counter that wakes
 * the caller showed it is named by the next rise. Returns how many, or -errno. */
int kmsg_read_oom_kills(int fd, const char *memcg_name, KmsgMatch *match, KmsgOomKill *ret, size_t max);
