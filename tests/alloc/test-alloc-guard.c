/* SPDX-License-Identifier: MIT */
/*
 * Hardening of the allocator's side of the control channel (issue 14, findings 2, 4, 6 and 9). The
 * test plays the supervisor and runs this binary again as the workload ("child <mode>") under
 * LD_PRELOAD:
 *   - a file page truncated by the workload's own child while the parent allocates: no SIGBUS, the
 *     allocator detaches (with the background thread polling, and with program threads polling);
 *   - a sealed memfd page handed over by OOMLESS_CONTROL_FD: cannot be truncated (EPERM), works, and
 *     wins over OOMLESS_CONTROL; a bad fd gets one line and no page;
 *   - the guard chains: a program's own SIGBUS (raised, or a real fault elsewhere) still kills it
 *     with SIGBUS; a program that installs its own handler gets its signals, and liboomless detaches;
 *   - the instance id: different per process, new after exec (same pid) and in a fork child;
 *   - the wake path: a symlink to a file, or a regular file, never receives a byte;
 *   - cap floors: OOMLESS_HEAP_CAP=1 and heap_cap = 1 on the page are refused with one line.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oomless/control.h"
#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"
#include "alloc-page.h"

static const char *lib;
static char self[1024];
static char dir[256];

/* ---- the workload side ---- */

static uint64_t ms_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Allocates and frees a mix of sizes for ms milliseconds, asking for the stage now and then. */
static void churn(long ms, uint64_t seed)
{
        void *keep[64] = { 0 };
        uint64_t end = ms_now() + (uint64_t)ms;
        while (ms_now() < end) {
                for (int i = 0; i < 256; i++) {
                        unsigned k = (unsigned)(at_rnd(&seed) % 64);
                        free(keep[k]);
                        size_t n = (size_t)(at_rnd(&seed) % 3 == 0 ? 40000 + at_rnd(&seed) % 200000
                                                                   : 16 + at_rnd(&seed) % 2000);
                        keep[k] = malloc(n);
                        if (!keep[k])
                                exit(20);
                        memset(keep[k], 1, n < 64 ? n : 64);
                }
                (void)oomless_try_stage();
                at_sleep_ms(1);
        }
        for (int k = 0; k < 64; k++)
                free(keep[k]);
}

static bool supervised(void)
{
        struct oomless_stats st = { .size = sizeof(st) };
        return oomless_try_stats(&st) == 0 && st.supervised;
}

static int child_truncated(void)
{
        const char *path = getenv("TEST_TRUNCATE");
        if (!path || !supervised())
                return 10;
        churn(300, 1);
        pid_t pid = fork();
        if (pid == 0) {
                /* What `truncate -s 0 "$OOMLESS_CONTROL"` does, from inside the workload. */
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                _exit(fd >= 0 && ftruncate(fd, 0) == 0 ? 0 : 1);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
                return 11;
        churn(1200, 2);
        return supervised() ? 12 : 0; /* detached */
}

static int child_memfd(void)
{
        int fd = atoi(getenv(OOMLESS_CONTROL_FD_ENV));
        if (ftruncate(fd, 0) == 0 || errno != EPERM)
                return 10;
        if (!supervised())
                return 11;
        churn(400, 9); /* polls publish, and deliver the stage */
        for (int i = 0; i < 500 && oomless_try_stage() != 2; i++) {
                free(malloc(100));
                at_sleep_ms(10);
        }
        if (oomless_try_stage() != 2)
                return 12;
        /* Still inheritable: an exec'd image finds the page through the same fd. */
        return fcntl(fd, F_GETFD) == 0 ? 0 : 13;
}

static void own_handler(int sig)
{
        _exit(42);
}

static int child_sigbus(const char *how)
{
        if (!supervised())
                return 10;
        churn(200, 3);
        if (strcmp(how, "raise") == 0)
                raise(SIGBUS);
        else if (strcmp(how, "fault") == 0) {
                /* A real bus error on a mapping of the program's own, not the control page. */
                char path[300];
                snprintf(path, sizeof(path), "%s/own-XXXXXX", getenv("TEST_DIR"));
                int fd = mkstemp(path);
                if (fd < 0 || ftruncate(fd, 8192) < 0)
                        return 11;
                volatile char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                unlink(path);
                if (p == MAP_FAILED || ftruncate(fd, 0) < 0)
                        return 12;
                p[0] = 1;
        } else if (strcmp(how, "handler") == 0) {
                struct sigaction sa = { .sa_handler = own_handler };
                sigaction(SIGBUS, &sa, NULL);
                churn(400, 4); /* polls notice the handler and detach */
                if (supervised())
                        return 13;
                raise(SIGBUS);
        }
        return 0;
}

static int child_idle(long ms)
{
        churn(ms, (uint64_t)getpid());
        return 0;
}

static int child_exec(void)
{
        churn(700, 5);
        char *argv[] = { self, (char *)"child", (char *)"idle", NULL };
        extern char **environ;
        execve(self, argv, environ);
        return 10;
}

static int child_forker(void)
{
        churn(500, 6);
        pid_t pid = fork();
        if (pid == 0)
                _exit(child_idle(2500));
        at_sleep_ms(200);
        return pid > 0 ? 0 : 10;
}

static int child_grow(void)
{
        /* 48 MiB in 1 MiB blocks, well past an 8 MiB wake watermark. */
        for (int i = 0; i < 48; i++) {
                char *p = malloc(1 << 20);
                if (!p)
                        return 10;
                memset(p, 1, 1 << 20);
        }
        churn(800, 7);
        return 0;
}

static int child_main(const char *mode)
{
        if (!oomless_available())
                return 3;
        if (strcmp(mode, "truncated") == 0)
                return child_truncated();
        if (strcmp(mode, "memfd") == 0)
                return child_memfd();
        if (strcmp(mode, "standalone") == 0) {
                churn(300, 8);
                return supervised() ? 10 : 0;
        }
        if (strncmp(mode, "sigbus-", 7) == 0)
                return child_sigbus(mode + 7);
        if (strcmp(mode, "idle") == 0)
                return child_idle(1500);
        if (strcmp(mode, "exec") == 0)
                return child_exec();
        if (strcmp(mode, "forker") == 0)
                return child_forker();
        if (strcmp(mode, "grow") == 0)
                return child_grow();
        return 2;
}

/* ---- the supervisor side ---- */

/* Runs "self child <mode>" with LD_PRELOAD, TEST_DIR and the given environment entries; inherit_fd
 * (when >= 0) is passed on as fd 10 without O_CLOEXEC. stderr goes to *err. */
static pid_t spawn(const char *mode, char *const *env, int inherit_fd, int *err)
{
        pid_t pid = at_fork_piped(NULL, err);
        if (pid == 0) {
                char e1[1200], e2[300];
                char *envp[16];
                int n = 0;
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "TEST_DIR=%s", dir);
                envp[n++] = e1;
                envp[n++] = e2;
                for (; env && *env && n < 15; env++)
                        envp[n++] = *env;
                envp[n] = NULL;
                if (inherit_fd >= 0 && dup2(inherit_fd, 10) != 10)
                        _exit(98);
                char *argv[] = { self, (char *)"child", (char *)mode, NULL };
                execve(self, argv, envp);
                _exit(99);
        }
        return pid;
}

static void path_in_dir(char *buf, size_t n, const char *name)
{
        snprintf(buf, n, "%s/%s", dir, name);
}

/* Waits for the child and collects everything it wrote to stderr. */
static int finish(pid_t pid, int err, char *buf, size_t n)
{
        at_read_all(err, buf, n);
        close(err);
        int status = at_wait(pid);
        printf("  status 0x%x, stderr: %s%s", status, buf, *buf && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
        return status;
}

static bool exited_ok(int status)
{
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void truncated_run(const char *name, bool background)
{
        char ctl[300], e1[400], e2[400];
        path_in_dir(ctl, sizeof(ctl), name);
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        ap_sup_write(c, 1, 0, 0, 0);
        snprintf(e1, sizeof(e1), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
        snprintf(e2, sizeof(e2), "TEST_TRUNCATE=%s", ctl);
        char *env[] = { e1, e2, (char *)(background ? "OOMLESS_BACKGROUND=1" : "OOMLESS_BACKGROUND=0"),
                        NULL };
        int err;
        char buf[4096];
        pid_t pid = spawn("truncated", env, -1, &err);
        int status = finish(pid, err, buf, sizeof(buf));
        ASSERT_TRUE(exited_ok(status)); /* no SIGBUS (status 135 from a shell) */
        ASSERT_TRUE(strstr(buf, "detaching from the control page") != NULL);
        munmap(c, OOMLESS_CONTROL_SIZE);
        unlink(ctl);
}

TEST(truncated_file_page_background)
{
        truncated_run("control-trunc-bg", true);
}

TEST(truncated_file_page_program_threads)
{
        truncated_run("control-trunc-fg", false);
}

TEST(sealed_memfd_page)
{
        int fd, err;
        struct oomless_control *c = ap_make_memfd(&fd);
        ASSERT_TRUE(ftruncate(fd, 0) < 0 && errno == EPERM);
        ap_sup_write(c, 2, 0, 0, 0);
        /* The fd wins over a path (here one that does not exist). */
        char *env[] = { (char *)OOMLESS_CONTROL_FD_ENV "=10", (char *)OOMLESS_CONTROL_ENV "=/nonexistent",
                        NULL };
        char buf[4096];
        pid_t pid = spawn("memfd", env, fd, &err);
        int status = finish(pid, err, buf, sizeof(buf));
        ASSERT_TRUE(exited_ok(status));
        ASSERT_TRUE(strstr(buf, "liboomless") == NULL);
        struct oomless_control_alloc a;
        ASSERT_TRUE(ap_alloc_read(c, &a));
        ASSERT_EQ(a.pid, pid);
        ASSERT_U64_EQ(a.stage_seen, 2);
        munmap(c, OOMLESS_CONTROL_SIZE);
        close(fd);
}

TEST(bad_control_fd)
{
        char ctl[300], e1[400], buf[4096];
        int err;
        path_in_dir(ctl, sizeof(ctl), "control-badfd");
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        snprintf(e1, sizeof(e1), "%s=%s", OOMLESS_CONTROL_ENV, ctl);

        /* Not open: one line, and no fallback to the (valid) path. */
        char *env1[] = { (char *)OOMLESS_CONTROL_FD_ENV "=99", e1, NULL };
        pid_t pid = spawn("standalone", env1, -1, &err);
        ASSERT_TRUE(exited_ok(finish(pid, err, buf, sizeof(buf))));
        ASSERT_TRUE(strstr(buf, "ignoring OOMLESS_CONTROL_FD=99: not an open file descriptor") != NULL);

        /* An open file that is not a sealed memfd. */
        int fd = open(ctl, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        char *env2[] = { (char *)OOMLESS_CONTROL_FD_ENV "=10", NULL };
        pid = spawn("standalone", env2, fd, &err);
        ASSERT_TRUE(exited_ok(finish(pid, err, buf, sizeof(buf))));
        ASSERT_TRUE(strstr(buf, "not a memfd sealed against shrinking") != NULL);
        close(fd);

        /* Not a number. */
        char *env3[] = { (char *)OOMLESS_CONTROL_FD_ENV "=ten", NULL };
        pid = spawn("standalone", env3, -1, &err);
        ASSERT_TRUE(exited_ok(finish(pid, err, buf, sizeof(buf))));
        ASSERT_TRUE(strstr(buf, "not a file descriptor number") != NULL);
        munmap(c, OOMLESS_CONTROL_SIZE);
        unlink(ctl);
}

static int run_sigbus(const char *mode, char *buf, size_t n)
{
        char ctl[300], e1[400];
        int err;
        path_in_dir(ctl, sizeof(ctl), "control-sigbus");
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        snprintf(e1, sizeof(e1), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
        char *env[] = { e1, NULL };
        pid_t pid = spawn(mode, env, -1, &err);
        int status = finish(pid, err, buf, n);
        munmap(c, OOMLESS_CONTROL_SIZE);
        unlink(ctl);
        return status;
}

TEST(program_sigbus_still_kills)
{
        char buf[4096];
        int status = run_sigbus("sigbus-raise", buf, sizeof(buf));
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
        status = run_sigbus("sigbus-fault", buf, sizeof(buf));
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
}

TEST(program_sigbus_handler_wins)
{
        char buf[4096];
        int status = run_sigbus("sigbus-handler", buf, sizeof(buf));
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42);
        ASSERT_TRUE(strstr(buf, "replaced liboomless's SIGBUS handler") != NULL);
}

/* Polls the allocator half for up to ms, reaping pid when it exits; records each distinct
 * (pid, instance id) seen. Returns the number recorded. */
static int collect_ids(struct oomless_control *c, pid_t pid, long ms, uint32_t pids[8], uint64_t ids[8])
{
        int n = 0;
        bool reaped = false;
        for (long t = 0; t < ms; t += 5) {
                struct oomless_control_alloc a;
                if (ap_alloc_read(c, &a) && a.pid != 0 &&
                    (n == 0 || ids[n - 1] != a.instance_id || pids[n - 1] != a.pid) && n < 8) {
                        pids[n] = a.pid;
                        ids[n] = a.instance_id;
                        n++;
                }
                int status;
                if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
                        reaped = true;
                        ASSERT_TRUE(exited_ok(status));
                }
                at_sleep_ms(5);
        }
        if (!reaped)
                ASSERT_TRUE(exited_ok(at_wait(pid)));
        for (int i = 0; i < n; i++)
                printf("  pid %u instance %016llx\n", pids[i], (unsigned long long)ids[i]);
        return n;
}

/* Runs mode on a fresh page and collects the (pid, instance id) pairs it publishes. */
static int run_ids(const char *mode, long ms, pid_t *pid, uint32_t pids[8], uint64_t ids[8])
{
        char ctl[300], e1[400];
        path_in_dir(ctl, sizeof(ctl), "control-id");
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        snprintf(e1, sizeof(e1), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
        char *env[] = { e1, NULL };
        *pid = spawn(mode, env, -1, NULL);
        int n = collect_ids(c, *pid, ms, pids, ids);
        munmap(c, OOMLESS_CONTROL_SIZE);
        unlink(ctl);
        return n;
}

TEST(instance_id_per_process_and_exec)
{
        uint32_t pids[8];
        uint64_t ids[8], first;
        pid_t pid;

        ASSERT_EQ(run_ids("idle", 2500, &pid, pids, ids), 1);
        ASSERT_EQ(pids[0], pid);
        ASSERT_TRUE(ids[0] != 0);
        first = ids[0];

        /* Another process: another id. */
        ASSERT_EQ(run_ids("idle", 2500, &pid, pids, ids), 1);
        ASSERT_TRUE(ids[0] != 0 && ids[0] != first);

        /* An exec under the same pid publishes under a new id. */
        ASSERT_EQ(run_ids("exec", 3500, &pid, pids, ids), 2);
        ASSERT_TRUE(pids[0] == (uint32_t)pid && pids[1] == (uint32_t)pid);
        ASSERT_TRUE(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1]);
}

TEST(instance_id_fork_child)
{
        uint32_t pids[8];
        uint64_t ids[8];
        pid_t pid;
        /* The child forks and exits; its child takes the page over once its parent is gone. */
        int n = run_ids("forker", 4000, &pid, pids, ids);
        ASSERT_TRUE(n >= 2);
        ASSERT_EQ(pids[0], pid);
        ASSERT_TRUE(pids[n - 1] != (uint32_t)pid);
        ASSERT_TRUE(ids[n - 1] != 0 && ids[n - 1] != ids[0]);
}

/* A child grows past the watermark with OOMLESS_WAKE pointing at something that is not a FIFO. */
static void wake_run(const char *wake, const char *expect)
{
        char ctl[300], e1[400], e2[400], buf[4096];
        int err;
        path_in_dir(ctl, sizeof(ctl), "control-wake");
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        ap_sup_write(c, 0, 0, 0, 8ull << 20);
        snprintf(e1, sizeof(e1), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
        snprintf(e2, sizeof(e2), "%s=%s", OOMLESS_WAKE_ENV, wake);
        char *env[] = { e1, e2, NULL };
        pid_t pid = spawn("grow", env, -1, &err);
        ASSERT_TRUE(exited_ok(finish(pid, err, buf, sizeof(buf))));
        ASSERT_TRUE(strstr(buf, expect) != NULL);
        munmap(c, OOMLESS_CONTROL_SIZE);
        unlink(ctl);
}

static void assert_sentinel(const char *path)
{
        char buf[64] = "";
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        ASSERT_EQ(n, 9);
        ASSERT_TRUE(memcmp(buf, "sentinel\n", 9) == 0);
}

static void make_sentinel(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "sentinel\n", 9), 9);
        close(fd);
}

TEST(wake_symlink_to_file)
{
        char target[300], link[300];
        path_in_dir(target, sizeof(target), "unrelated");
        path_in_dir(link, sizeof(link), "wake-link");
        make_sentinel(target);
        ASSERT_EQ(symlink(target, link), 0);
        wake_run(link, "it is a symlink");
        assert_sentinel(target);
        unlink(link);
        unlink(target);
}

TEST(wake_regular_file)
{
        char file[300];
        path_in_dir(file, sizeof(file), "wake-file");
        make_sentinel(file);
        wake_run(file, "it is not a FIFO");
        assert_sentinel(file);
        unlink(file);
}

TEST(cap_floor_env)
{
        char buf[4096];
        int err;
        /* 48 MiB must fit: the default cap is used, not a 1-byte one. */
        char *env[] = { (char *)"OOMLESS_HEAP_CAP=1", (char *)"OOMLESS_SCAVENGE_DELAY=soon",
                        (char *)"OOMLESS_BACKGROUND_MIN=lots", NULL };
        pid_t pid = spawn("grow", env, -1, &err);
        ASSERT_TRUE(exited_ok(finish(pid, err, buf, sizeof(buf))));
        ASSERT_TRUE(strstr(buf, "ignoring OOMLESS_HEAP_CAP=\"1\"") != NULL);
        ASSERT_TRUE(strstr(buf, ": under the floor of 4M; using the default cap, now ") != NULL);
        /* The messages name the real defaults. */
        ASSERT_TRUE(strstr(buf, "OOMLESS_SCAVENGE_DELAY=\"soon\": expected a duration like 500ms, 2s or 250 "
                                "(ms); using 250ms") != NULL);
        ASSERT_TRUE(
            strstr(buf, "OOMLESS_BACKGROUND_MIN=\"lots\": expected a size like 16M or 1.5G; using 16M") !=
            NULL);
}

TEST(cap_floor_page)
{
        char ctl[300], e1[400], buf[4096];
        int err;
        path_in_dir(ctl, sizeof(ctl), "control-cap");
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        ap_sup_write(c, 0, 1, 0, 0);
        snprintf(e1, sizeof(e1), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
        char *env[] = { e1, (char *)"OOMLESS_HEAP_CAP=1G", NULL };
        pid_t pid = spawn("grow", env, -1, &err);
        ASSERT_TRUE(exited_ok(finish(pid, err, buf, sizeof(buf))));
        ASSERT_TRUE(strstr(buf, "ignoring heap_cap 1 from the control page: under the floor of 4M; using "
                                "1073741824 bytes") != NULL);
        struct oomless_control_alloc a;
        ASSERT_TRUE(ap_alloc_read(c, &a));
        ASSERT_U64_EQ(a.heap_cap, 1ull << 30);
        ASSERT_U64_EQ(a.cap_hits, 0);
        munmap(c, OOMLESS_CONTROL_SIZE);
        unlink(ctl);
}

static void cleanup(void)
{
        char cmd[400];
        if (!dir[0])
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)!system(cmd);
}

int main(int argc, char **argv)
{
        if (argc >= 3 && strcmp(argv[1], "child") == 0) {
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                self[n > 0 ? n : 0] = 0;
                return child_main(argv[2]);
        }
        if (argc < 2)
                TEST_FAIL("usage: %s /path/to/liboomless.so [test...]", argv[0]);
        lib = argv[1];
        at_setup_self_and_dir(self, sizeof(self), dir, sizeof(dir), "alloc-guard", cleanup);
        return test_main(argc - 1, argv + 1);
}
