/* SPDX-License-Identifier: MIT */
/* Small cgroupfs and /proc helpers for the cgroup module: held-fd reads, flat-keyed parsing, limit
 * values, file writes that keep the kernel's errno, and the member-by-member kill every backend uses. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "log.h"

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

void *cg_grow(void *p, size_t *cap, size_t need, size_t size, size_t first)
{
        size_t n;
        void *q;

        if (need <= *cap)
                return p;
        n = MAX(*cap ? *cap * 2 : first, need);
        q = realloc(p, n * size);
        if (q)
                *cap = n;
        return q;
}

/* Reads a whole file from offset 0 through a held fd, chunk by chunk, without allocating. */
static int pread_chunks(int fd, int (*chunk)(const char *buf, size_t n, void *userdata), void *userdata)
{
        char buf[4096];
        off_t off = 0;

        if (fd < 0)
                return -ENOENT;
        for (;;) {
                ssize_t n = pread(fd, buf, sizeof(buf), off);
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 0;
                int r = chunk(buf, (size_t)n, userdata);
                if (r < 0)
                        return r;
                off += n;
        }
}

static int count_lines(const char *buf, size_t n, void *userdata)
{
        uint32_t *lines = userdata;
        for (size_t i = 0; i < n; i++)
                *lines += buf[i] == '\n';
        return 0;
}

int cg_count_procs_fd(int fd, uint32_t *ret)
{
        uint32_t lines = 0;
        int r = pread_chunks(fd, count_lines, &lines);
        if (r < 0)
                return r;
        *ret = lines;
        return 0;
}

typedef struct PidList {
        pid_t *pids;
        size_t n, cap;
        long cur;
} PidList;

static int parse_pids(const char *buf, size_t k, void *userdata)
{
        PidList *l = userdata;

        for (size_t i = 0; i < k; i++) {
                char c = buf[i];
                if (c >= '0' && c <= '9') {
                        l->cur = (l->cur < 0 ? 0 : l->cur * 10) + (c - '0');
                        if (l->cur > INT32_MAX)
                                return -EINVAL;
                } else if (c == '\n') {
                        if (l->cur < 0)
                                return -EINVAL;
                        pid_t *np = cg_grow(l->pids, &l->cap, l->n + 1, sizeof(pid_t), 16);
                        if (!np)
                                return -ENOMEM;
                        l->pids = np;
                        l->pids[l->n++] = (pid_t)l->cur;
                        l->cur = -1;
                } else
                        return -EINVAL;
        }
        return 0;
}

int cg_list_procs_fd(int fd, pid_t **ret, size_t *ret_n)
{
        PidList l = { .cur = -1 };
        int r = pread_chunks(fd, parse_pids, &l);
        if (r < 0) {
                free(l.pids);
                return r;
        }
        *ret = l.pids;
        *ret_n = l.n;
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

int cg_read_small(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return (int)n;
}

const char *cg_proc_stat(const char *sysroot, pid_t pid, char *buf, size_t size)
{
        char path[128];
        const char *p;

        snprintf(path, sizeof(path), "%s/proc/%d/stat", sysroot, (int)pid);
        if (cg_read_small(path, buf, size) <= 0)
                return NULL;
        /* comm may contain spaces and parentheses: the state follows the last ')'. */
        p = strrchr(buf, ')');
        return p ? p + 1 : NULL;
}

char *cg_format_v1_limit(char *buf, size_t n, uint64_t v)
{
        if (v != UINT64_MAX)
                return units_format_limit(buf, n, v);
        snprintf(buf, n, "-1");
        return buf;
}

int cg_observe_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg)
{
        return cg->ops->setup_attach(cg, h, 0, NULL, reterr_msg);
}

void cg_remove_created(char *dir, bool *created)
{
        if (!*created || !dir)
                return;
        int r = cg_rmdir_retry(dir);
        if (r < 0)
                log_warning_errno(r, "cannot remove %s: %m", dir);
        *created = false;
}

/* Members other than ourselves and zombies: a zombie has released its memory and cannot be killed
 * again; v1 cgroup.procs still lists it until it is reaped (by us as subreaper, or by init). */
static bool is_zombie(const char *sysroot, pid_t pid)
{
        char buf[512];
        const char *p = cg_proc_stat(sysroot, pid, buf, sizeof(buf));
        return !p || (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'));
}

static bool self_in_leaf(Cg *cg)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cg->ops->list_pids(cg, &pids, &n) < 0)
                return true; /* unknown: be safe, never use cgroup.kill */
        for (size_t i = 0; i < n; i++)
                if (pids[i] == getpid())
                        return true;
        return false;
}

int cg_kill_members(Cg *cg, int sig)
{
        _cleanup_free_ pid_t *done = NULL;
        size_t ndone = 0, cap = 0;
        int signalled = 0;
        pid_t self = getpid();

        /* The pids of a fixture tree (CgOptions.root) are not processes of this system. */
        if (cg->sysroot && cg->sysroot[0])
                return -EPERM;

        if (sig == SIGKILL && cg_caps_have(cg, CG_CAP_KILL) && !self_in_leaf(cg)) {
                int r = cg_write_file(cg->uni_leaf, "cgroup.kill", "1");
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "cgroup.kill in %s failed, signalling members one by one: %m",
                                        cg->uni_leaf);
        }

        /* Signal members pass by pass: a child forked just before its parent got the signal shows up
         * in the next pass. Each pid is signalled once; the loop ends when a pass finds nobody new.
         * Killed processes may stay listed while the kernel frees their memory (long for big heaps):
         * waiting for that is the caller's business (cg_populated_fd / cg_is_populated). */
        for (int pass = 0; pass < CG_KILL_PASSES; pass++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0, fresh = 0;
                int r = cg->ops->list_pids(cg, &pids, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (pids[i] == self || pids[i] <= 0 || is_zombie(cg->sysroot, pids[i]))
                                continue;
                        bool seen = false;
                        for (size_t j = 0; j < ndone && !seen; j++)
                                seen = done[j] == pids[i];
                        if (seen)
                                continue;
                        if (kill(pids[i], sig) >= 0)
                                signalled++;
                        fresh++;
                        pid_t *nd = cg_grow(done, &cap, ndone + 1, sizeof(pid_t), 16);
                        if (!nd)
                                return -ENOMEM;
                        done = nd;
                        done[ndone++] = pids[i];
                }
                if (fresh == 0)
                        return signalled;
                struct timespec ts = { 0, 2 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return signalled;
}
