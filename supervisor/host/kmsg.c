/* SPDX-License-Identifier: MIT */
/* Kernel OOM kill victims from /dev/kmsg (kmsg.h). Each read(2) returns one record,
 * "PRI,SEQ,USEC,FLAGS;MESSAGE\n" followed by continuation lines; EAGAIN at the end, EPIPE when the
 * ring overwrote records we had not read yet (then reading resumes at the oldest one kept). */
#define _GNU_SOURCE 1
#include "kmsg.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kmsg_open(void)
{
        int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        if (lseek(fd, 0, SEEK_END) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* "key:NkB" somewhere in msg, in bytes; 0 when absent. */
static uint64_t kb_field(const char *msg, const char *key)
{
        const char *p = strstr(msg, key);
        unsigned long long v;

        if (!p || sscanf(p + strlen(key), "%llu", &v) != 1)
                return 0;
        return (uint64_t)v * 1024;
}

/* The last occurrence of needle in [hay, end), or NULL. */
static const char *last_in(const char *hay, const char *end, const char *needle)
{
        const char *last = NULL;

        for (const char *p = strstr(hay, needle); p && p < end; p = strstr(p + 1, needle))
                last = p;
        return last;
}

char *kmsg_record_message(char *rec)
{
        unsigned long pri;
        char *end, *msg;

        if (*rec < '0' || *rec > '9')
                return NULL;
        errno = 0;
        pri = strtoul(rec, &end, 10);
        if (errno != 0 || *end != ',' || (pri >> 3) != 0)
                return NULL;
        msg = strchr(end, ';');
        if (!msg)
                return NULL;
        msg++;
        msg[strcspn(msg, "\n")] = '\0';
        return msg;
}

bool kmsg_parse_killed(const char *msg, KmsgOomKill *ret)
{
        const char *p = strstr(msg, "Killed process ");
        const char *open_paren, *close_paren;
        long pid;
        char *end;

        /* The first "Killed process " is the kernel's: the victim's name only comes after it. */
        if (!p)
                return false;
        p += strlen("Killed process ");
        pid = strtol(p, &end, 10);
        if (end == p || pid <= 0 || *end != ' ')
                return false;
        open_paren = end[1] == '(' ? end + 1 : NULL;
        /* The name may itself hold ")" and even ") total-vm:" (a process names itself): its end is
         * the last ") total-vm:", as nothing the kernel prints after the name holds that text. */
        const char *tail = last_in(end, end + strlen(end), ") total-vm:");
        close_paren = tail ? tail : (open_paren ? strchr(open_paren, ')') : NULL);
        if (!open_paren || !close_paren || close_paren < open_paren)
                return false;
        *ret = (KmsgOomKill){ .pid = (pid_t)pid };
        snprintf(ret->comm, sizeof(ret->comm), "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
        ret->total_vm = kb_field(close_paren, "total-vm:");
        ret->anon_rss = kb_field(close_paren, "anon-rss:");
        ret->file_rss = kb_field(close_paren, "file-rss:");
        ret->shmem_rss = kb_field(close_paren, "shmem-rss:");
        return true;
}

/* Whether some memcg path after key, in [msg, end), is ".../name" or ".../name/...". Every occurrence
 * counts, not only the first: text a workload controls (the cpuset path, its own cgroups' names, its
 * name) comes before or inside the kernel's fields and must not hide them. */
static bool memcg_is(const char *msg, const char *end, const char *key, const char *name)
{
        size_t ln = strlen(name), kl = strlen(key);

        if (ln == 0)
                return false;
        for (const char *p = strstr(msg, key); p && p < end; p = strstr(p + 1, key)) {
                const char *v = p + kl;
                size_t n = strcspn(v, ",\n");

                for (const char *s = memchr(v, '/', n); s; s = memchr(s + 1, '/', n - (size_t)(s + 1 - v))) {
                        if ((size_t)(v + n - s - 1) >= ln && strncmp(s + 1, name, ln) == 0 &&
                            (s + 1 + ln == v + n || s[1 + ln] == '/'))
                                return true;
                }
        }
        return false;
}

/* The kernel ends the line with ",task=COMM,pid=N,uid=N" (mm/oom_kill.c, dump_oom_victim()): what a
 * workload chooses (its cpuset and memory cgroups' names, its own name COMM, which may well hold
 * ",pid=9") all comes before, and only the number uid follows. So the last ",pid=" is the kernel's;
 * it must be followed by digits and then "," or the end, else the line is not taken (and the kill is
 * reported with its victim unknown rather than a wrong one). Finding "task=" first would not help: a
 * cgroup name may hold ",task=" as well. */
static bool victim_pid(const char *msg, const char **ret_at, pid_t *ret)
{
        const char *p = last_in(msg, msg + strlen(msg), ",pid=");
        char *end;
        long pid;

        if (!p || p[5] < '0' || p[5] > '9')
                return false;
        errno = 0;
        pid = strtol(p + 5, &end, 10);
        if (errno != 0 || pid <= 0 || pid > INT32_MAX || (*end != ',' && *end != '\0'))
                return false;
        *ret_at = p;
        *ret = (pid_t)pid;
        return true;
}

bool kmsg_parse_constraint(const char *msg, const char *memcg_name, pid_t *ret_pid)
{
        const char *at;
        pid_t pid;

        if (!memcg_name || strncmp(msg, "oom-kill:constraint=", strlen("oom-kill:constraint=")) != 0)
                return false;
        if (!victim_pid(msg, &at, &pid))
                return false;
        if (!memcg_is(msg, at, ",oom_memcg=", memcg_name) && !memcg_is(msg, at, ",task_memcg=", memcg_name))
                return false;
        *ret_pid = pid;
        return true;
}

int kmsg_read_oom_kills(int fd, const char *memcg_name, KmsgMatch *match, KmsgOomKill *ret, size_t max)
{
        char rec[8192];
        size_t n = 0;

        while (n < max) {
                ssize_t len = read(fd, rec, sizeof(rec) - 1);
                if (len < 0) {
                        if (errno == EINTR || errno == EPIPE)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                if (len == 0)
                        break;
                rec[len] = '\0';
                char *msg = kmsg_record_message(rec);
                if (!msg)
                        continue;

                KmsgOomKill k;
                pid_t pid;
                if (kmsg_parse_constraint(msg, memcg_name, &pid))
                        match->pid = pid;
                else if (match->pid > 0 && kmsg_parse_killed(msg, &k) && k.pid == match->pid) {
                        ret[n++] = k;
                        match->pid = 0;
                }
        }
        return (int)n;
}
