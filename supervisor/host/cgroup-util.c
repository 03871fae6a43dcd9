/* SPDX-License-Identifier: MIT */
/* Small cgroupfs and /proc helpers for the cgroup module: held-fd reads, flat-keyed parsing, limit
 * values, file writes that keep the kernel's errno. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgroup-internal.h"

char *cg_strdup_printf(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

void cg_set_msg(char **reterr_msg, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        if (!reterr_msg)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*reterr_msg);
        *reterr_msg = s;
}

char *cg_path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (!*b)
                return strndup(a, la);
        return cg_strdup_printf("%.*s/%s", (int)la, a, b);
}

int cg_open_ro(const char *dir, const char *file)
{
        _cleanup_free_ char *p = cg_path_join(dir, file);
        int fd;

        if (!p)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int cg_open_at_ro(int dirfd, const char *file)
{
        int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int cg_write_file(const char *dir, const char *file, const char *value)
{
        _cleanup_free_ char *p = cg_path_join(dir, file);
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);
        ssize_t w;

        if (!p)
                return -ENOMEM;
        fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* cgroupfs takes a whole value per write(); a short write is an error, not a partial value. */
        w = write(fd, value, n);
        if (w < 0)
                return negative_errno();
        if ((size_t)w != n)
                return -EIO;
        return 0;
}

int cg_read_file(const char *path, char **ret)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                if (cap - len < 4096) {
                        if (cap > (64u << 20))
                                return -EFBIG;
                        char *n = realloc(buf, cap ? cap * 2 : 8192);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        cap = cap ? cap * 2 : 8192;
                }
                size_t k = fread(buf + len, 1, cap - len - 1, f);
                len += k;
                if (k == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

ssize_t cg_pread_fd(int fd, char *buf, size_t size)
{
        ssize_t n;

        if (fd < 0)
                return -ENOENT;
        n = pread(fd, buf, size - 1, 0);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}

int cg_parse_limit(const char *s, uint64_t *ret)
{
        uint64_t v = 0;
        const char *p = s;

        while (*p == ' ')
                p++;
        if (strncmp(p, "max", 3) == 0 && (p[3] == '\0' || p[3] == '\n')) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*p != '\0' && *p != '\n' && *p != ' ')
                return -EINVAL;
        *ret = v >= CG_V1_UNLIMITED ? UINT64_MAX : v;
        return 0;
}

int cg_read_limit_fd(int fd, uint64_t *ret)
{
        char buf[64];
        ssize_t n = cg_pread_fd(fd, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        return cg_parse_limit(buf, ret);
}

int cg_keyed_get(const char *text, const char *key, uint64_t *ret)
{
        size_t kl = strlen(key);

        for (const char *p = text; p && *p;) {
                if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
                        return cg_parse_limit(p + kl + 1, ret);
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return -ENOENT;
}

uint64_t cg_read_memtotal(const char *sysroot)
{
        _cleanup_free_ char *p = cg_strdup_printf("%s/proc/meminfo", sysroot);
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        unsigned long long kb;

        if (!p)
                return UINT64_MAX;
        f = fopen(p, "re");
        if (!f)
                return UINT64_MAX;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
                        return (uint64_t)kb * 1024;
        return UINT64_MAX;
}

int cg_count_procs_fd(int fd, uint32_t *ret)
{
        char buf[4096];
        uint32_t lines = 0;
        off_t off = 0;

        if (fd < 0)
                return -ENOENT;
        for (;;) {
                ssize_t n = pread(fd, buf, sizeof(buf), off);
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                for (ssize_t i = 0; i < n; i++)
                        lines += buf[i] == '\n';
                off += n;
        }
        *ret = lines;
        return 0;
}

int cg_list_procs_fd(int fd, pid_t **ret, size_t *ret_n)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        char buf[4096];
        off_t off = 0;
        long cur = -1;

        if (fd < 0)
                return -ENOENT;
        for (;;) {
                ssize_t k = pread(fd, buf, sizeof(buf), off);
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                for (ssize_t i = 0; i < k; i++) {
                        char c = buf[i];
                        if (c >= '0' && c <= '9') {
                                cur = (cur < 0 ? 0 : cur * 10) + (c - '0');
                                if (cur > INT32_MAX)
                                        return -EINVAL;
                        } else if (c == '\n') {
                                if (cur < 0)
                                        return -EINVAL;
                                if (n == cap) {
                                        pid_t *np = realloc(pids, (cap ? cap * 2 : 16) * sizeof(pid_t));
                                        if (!np)
                                                return -ENOMEM;
                                        pids = np;
                                        cap = cap ? cap * 2 : 16;
                                }
                                pids[n++] = (pid_t)cur;
                                cur = -1;
                        } else
                                return -EINVAL;
                }
                off += k;
        }
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

bool cg_controller_listed(const char *list, const char *name)
{
        size_t nl = strlen(name);

        for (const char *p = list; p && *p;) {
                while (*p == ' ' || *p == '\n')
                        p++;
                size_t wl = strcspn(p, " \n");
                if (wl == nl && strncmp(p, name, nl) == 0)
                        return true;
                p += wl;
        }
        return false;
}

int cg_rmdir_retry(const char *dir)
{
        /* A cgroup whose last process just exited can stay busy for a moment while the kernel
         * finishes tearing down its css: retry for up to ~2 s. */
        for (int i = 0; i < 200; i++) {
                if (rmdir(dir) >= 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return negative_errno();
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return -EBUSY;
}

uint64_t cg_now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}
