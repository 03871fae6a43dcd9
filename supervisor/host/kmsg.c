/* SPDX-License-Identifier: MIT */
/* Kernel OOM kill victims from /dev/kmsg (kmsg.h). Each read(2) returns one record,
 * "PRI,SEQ,USEC,FLAGS;MESSAGE\n" followed by continuation lines; EAGAIN at the end, EPIPE when the
 * ring overwrote records we had not read yet (then reading resumes at the oldest one kept). */
#define _GNU_SOURCE 1
#include "kmsg.h"

#include <errno.h>
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

bool kmsg_parse_killed(const char *msg, KmsgOomKill *ret)
{
        const char *p = strstr(msg, "Killed process ");
        const char *open_paren, *close_paren;
        long pid;
        char *end;

        if (!p)
                return false;
        p += strlen("Killed process ");
        pid = strtol(p, &end, 10);
        if (end == p || pid <= 0 || *end != ' ')
                return false;
        open_paren = strchr(end, '(');
        /* The name may itself hold ')': its end is the last ')' before " total-vm". */
        const char *tail = strstr(end, ") total-vm:");
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

/* Whether the memcg path after key (up to ',' or the end) ends in "/leaf_name". */
static bool memcg_is(const char *msg, const char *key, const char *leaf_name)
{
        const char *p = strstr(msg, key);
        size_t n, ln = strlen(leaf_name);

        if (!p || ln == 0)
                return false;
        p += strlen(key);
        n = strcspn(p, ",\n");
        return n > ln && p[n - ln - 1] == '/' && strncmp(p + n - ln, leaf_name, ln) == 0;
}

bool kmsg_parse_constraint(const char *msg, const char *leaf_name, pid_t *ret_pid)
{
        const char *p;
        long pid;

        if (!strstr(msg, "oom-kill:constraint="))
                return false;
        if (!memcg_is(msg, "oom_memcg=", leaf_name) && !memcg_is(msg, "task_memcg=", leaf_name))
                return false;
        p = strstr(msg, ",pid=");
        if (!p || (pid = strtol(p + 5, NULL, 10)) <= 0)
                return false;
        *ret_pid = (pid_t)pid;
        return true;
}

int kmsg_read_oom_kills(int fd, const char *leaf_name, KmsgOomKill *ret, size_t max)
{
        char rec[8192];
        size_t n = 0;
        pid_t ours = 0;

        for (;;) {
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
                char *msg = strchr(rec, ';');
                if (!msg)
                        continue;
                msg++;
                msg[strcspn(msg, "\n")] = '\0';

                KmsgOomKill k;
                pid_t pid;
                if (kmsg_parse_constraint(msg, leaf_name, &pid))
                        ours = pid;
                else if (ours > 0 && kmsg_parse_killed(msg, &k) && k.pid == ours) {
                        if (n < max)
                                ret[n++] = k;
                        ours = 0;
                }
        }
        return (int)n;
}
