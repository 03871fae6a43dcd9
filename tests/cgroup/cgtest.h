/* SPDX-License-Identifier: MIT */
/* Helpers shared by the real-kernel cgroup tests: a controllable child process ("kid") that
 * allocates, forks and exits on command, started through the Cg's join fds or clone3, and small
 * file readers. */
#pragma once

#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test.h"
#include "cgroup.h"

/* Every Cg a test sets up is registered here so that a failing assertion (exit(1)) still kills what
 * runs in the leaves and removes every cgroup created. */
static Cg *cgtest_live[16];

static inline void cgtest_cleanup(void)
{
        for (size_t i = 0; i < sizeof(cgtest_live) / sizeof(cgtest_live[0]); i++)
                if (cgtest_live[i]) {
                        /* Only writable v2/v1 cgroups (ours): observe/none Cgs cover processes that are not
                         * ours. */
                        if (cg_has(cgtest_live[i], CG_CAP_MAX))
                                (void)cg_kill_all(cgtest_live[i], SIGKILL);
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                        cgtest_live[i] = cg_free(cgtest_live[i]);
                }
}

static inline Cg *cgtest_track(Cg *cg)
{
        static bool registered;
        if (!registered) {
                atexit(cgtest_cleanup);
                registered = true;
        }
        for (size_t i = 0; i < sizeof(cgtest_live) / sizeof(cgtest_live[0]); i++)
                if (!cgtest_live[i]) {
                        cgtest_live[i] = cg;
                        break;
                }
        return cg;
}

/* cg_setup_run() that must succeed, tracked. */
static inline Cg *cgtest_setup(CgOptions *o)
{
        char *msg = NULL;
        Cg *cg = NULL;
        int r = cg_setup_run(o, &cg, &msg);
        if (r < 0)
                TEST_FAIL("cg_setup_run: %s: %s", strerror(-r), msg ? msg : "");
        free(msg);
        return cgtest_track(cg);
}

/* cg_free() that also unregisters. */
static inline void cgtest_free(Cg *cg)
{
        for (size_t i = 0; i < sizeof(cgtest_live) / sizeof(cgtest_live[0]); i++)
                if (cgtest_live[i] == cg)
                        cgtest_live[i] = NULL;
        cg_free(cg);
}

#define KID_CHUNK (8u << 20)

typedef struct Kid {
        pid_t pid;
        int cmd, ack;
} Kid;

static inline void kid_loop(int cmd, int ack)
{
        char c;
        while (read(cmd, &c, 1) == 1) {
                if (c == 'a') {
                        char *p = malloc(KID_CHUNK);
                        if (!p)
                                _exit(3);
                        memset(p, 0x5a, KID_CHUNK); /* touch every page so it is charged */
                } else if (c == 'f') {
                        if (fork() == 0) {
                                close(cmd);
                                close(ack);
                                for (;;)
                                        pause();
                        }
                } else if (c == 'q')
                        _exit(0);
                if (write(ack, "k", 1) != 1)
                        _exit(4);
        }
        _exit(0);
}

/* Starts a kid: joins every fd in join_fds (writing "0", as the supervisor's child does before exec),
 * or, with clone_dirfd >= 0, starts directly in that cgroup with clone3(CLONE_INTO_CGROUP). */
static inline int kid_start(Kid *k, const int *join_fds, int clone_dirfd)
{
        int c[2], a[2];
        pid_t pid;

        if (pipe2(c, O_CLOEXEC) < 0 || pipe2(a, O_CLOEXEC) < 0)
                return -errno;
        if (clone_dirfd >= 0) {
                struct clone_args args = { .flags = CLONE_INTO_CGROUP,
                                           .exit_signal = SIGCHLD,
                                           .cgroup = (uint64_t)clone_dirfd };
                pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        } else
                pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(c[1]);
                close(a[0]);
                for (const int *f = join_fds; f && *f >= 0; f++)
                        if (write(*f, "0", 1) != 1)
                                _exit(5);
                kid_loop(c[0], a[1]);
        }
        close(c[0]);
        close(a[1]);
        *k = (Kid){ pid, c[1], a[0] };
        return 0;
}

/* Sends a command; 0 when acknowledged, -1 when the kid died (EOF) or did not answer in 20 s. */
static inline int kid_cmd(Kid *k, char c)
{
        struct pollfd p = { .fd = k->ack, .events = POLLIN };
        char r;
        if (write(k->cmd, &c, 1) != 1)
                return -1;
        if (poll(&p, 1, 20000) != 1)
                return -1;
        return read(k->ack, &r, 1) == 1 ? 0 : -1;
}

/* Waits for the kid; returns the raw wait status. */
static inline int kid_wait(Kid *k)
{
        int st = 0;
        close(k->cmd);
        close(k->ack);
        while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
                ;
        return st;
}

/* Tells the kid to quit (it may be gone already: no answer is fine) and waits for it. */
static inline int kid_quit(Kid *k)
{
        (void)kid_cmd(k, 'q');
        return kid_wait(k);
}

static inline char *read_text(const char *path)
{
        static char buf[65536];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return buf;
}

static inline uint64_t read_u64_at(const char *dir, const char *file)
{
        char p[8192];
        snprintf(p, sizeof(p), "%s/%s", dir, file);
        char *t = read_text(p);
        if (!t)
                TEST_FAIL("cannot read %s: %s", p, strerror(errno));
        if (strncmp(t, "max", 3) == 0)
                return UINT64_MAX;
        return strtoull(t, NULL, 10);
}

/* A process's cgroup path: in the unified tree ("0::" line) or in the v1 memory hierarchy. */
static inline const char *proc_cgroup_path(pid_t pid, bool unified)
{
        static char out[4096];
        char p[64], *save = NULL;
        snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
        char *t = read_text(p);
        if (!t)
                return NULL;
        for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *id = strsep(&line, ":"), *ctrl = line ? strsep(&line, ":") : NULL;
                if (!ctrl || !line)
                        continue;
                bool is_v2 = strcmp(id, "0") == 0 && !*ctrl;
                bool is_mem = false;
                for (char *c = ctrl, *w; (w = strsep(&c, ","));)
                        is_mem = is_mem || strcmp(w, "memory") == 0;
                if ((unified && is_v2) || (!unified && is_mem)) {
                        snprintf(out, sizeof(out), "%s", line);
                        return out;
                }
        }
        return NULL;
}

/* Attaches to pid's cgroup as `oomless attach --pid` does, checks the tier and the leaf found, and
 * takes one sample into *s. */
static inline Cg *cgtest_attach_pid(pid_t pid, CgTier tier, const char *leaf, OomlessSample *s)
{
        CgOptions o = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
        char *msg = NULL;
        Cg *cg = NULL;
        if (cg_setup_attach(&o, pid, NULL, &cg, &msg) < 0)
                TEST_FAIL("attach --pid %d: %s", (int)pid, msg ? msg : "");
        free(msg);
        ASSERT_EQ(cg_tier(cg), tier);
        ASSERT_STREQ(cg_leaf_path(cg), leaf);
        *s = (OomlessSample){};
        ASSERT_OK(cg_sample(cg, s));
        return cg;
}

static inline bool dir_exists(const char *p)
{
        struct stat st;
        return stat(p, &st) >= 0 && S_ISDIR(st.st_mode);
}

/* cgtest_free(), which must remove the leaf it created at path leaf (a copy: cg's own goes with it). */
static inline void cgtest_free_removed(Cg *cg, const char *leaf)
{
        cgtest_free(cg);
        ASSERT_TRUE(!dir_exists(leaf));
}

static inline bool wait_pollpri(int fd, int timeout_ms)
{
        struct pollfd p = { .fd = fd, .events = POLLPRI };
        return poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLPRI | POLLERR));
}

#ifdef FIXTURE_DIR
/* tests/fixtures/cgroupfs/<case>/ (a fake proc/self/{mountinfo,cgroup}, proc/meminfo and the cgroupfs
 * files detection and sampling read), copied to a scratch directory first so that the checkout's
 * permissions cannot change the verdict; read-only cases are read-only through their mountinfo
 * flags. The scratch directory goes at exit. */
static char cgtest_scratch[256];

static inline void cgtest_fixture_cleanup(void)
{
        char cmd[512];
        if (cgtest_scratch[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cgtest_scratch);
                (void)!system(cmd);
        }
}

static inline const char *cgtest_fixture(const char *name)
{
        static char root[512];
        char cmd[2048];
        if (!cgtest_scratch[0]) {
                snprintf(cgtest_scratch, sizeof(cgtest_scratch), "/tmp/oomless-cgfix-XXXXXX");
                if (!mkdtemp(cgtest_scratch))
                        TEST_FAIL("mkdtemp: %s", strerror(errno));
                atexit(cgtest_fixture_cleanup);
        }
        snprintf(root, sizeof(root), "%s/%s", cgtest_scratch, name);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s/%s' '%s'", root, FIXTURE_DIR, name, root);
        if (system(cmd) != 0)
                TEST_FAIL("cannot copy fixture %s", name);
        return root;
}

/* A Cg over a fixture tree: attach to cgroup_path, or run (which creates nothing on observe/none)
 * when it is NULL. */
static inline Cg *cgtest_fixture_cg(const char *root, const char *cgroup_path, uint64_t tree_limit)
{
        CgOptions o = { .requested = CG_TIER_AUTO, .root = root, .oom_group = -1, .tree_limit = tree_limit };
        char *msg = NULL;
        Cg *cg = NULL;
        int r = cgroup_path ? cg_setup_attach(&o, 0, cgroup_path, &cg, &msg) : cg_setup_run(&o, &cg, &msg);
        if (r < 0)
                TEST_FAIL("fixture %s: %s", root, msg ? msg : strerror(-r));
        free(msg);
        return cg;
}
#endif
