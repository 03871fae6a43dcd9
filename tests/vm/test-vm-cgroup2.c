/* SPDX-License-Identifier: MIT */
/* Proves the guest that tests/vm/vm-run builds: the environment it promises (pure cgroup2 with every
 * controller, root cgroup, RAM overlay root, tmpfs, shared working directory) and the cgroup v2 kernel
 * behaviours oomless's v2 tier is built on. Everything lives under /sys/fs/cgroup/vmcheck-<pid>/ and is
 * removed at exit. Outside a vm-run guest it exits 77 without touching anything: pure v2 on a real host
 * belongs to someone else. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define streq(a, b)     (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

#define CGROOT          "/sys/fs/cgroup"
#define MiB             (1024 * 1024)

static char scratch[128]; /* CGROOT/vmcheck-<pid>, created by the first test */

static int write_file(const char *path, const char *value)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, value, strlen(value));
        int r = n < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Reads a small file into buf without its trailing newline; returns its length or -errno. */
static int read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int r = n < 0 ? -errno : (int)n;
        close(fd);
        if (n < 0)
                n = 0;
        buf[n] = 0;
        if (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        return r;
}

static int cg_write(const char *cg, const char *file, const char *value)
{
        char p[512];
        snprintf(p, sizeof p, "%s/%s/%s", scratch, cg, file);
        return write_file(p, value);
}

static const char *cg_read(const char *cg, const char *file)
{
        static char buf[4096];
        char p[512];
        snprintf(p, sizeof p, "%s/%s/%s", scratch, cg, file);
        if (read_file(p, buf, sizeof buf) < 0)
                snprintf(buf, sizeof buf, "<unreadable %s: %s>", p, strerror(errno));
        return buf;
}

/* The value of "key N" in a flat-keyed file (memory.events, memory.stat); -1 when absent. */
static long long cg_key(const char *cg, const char *file, const char *key)
{
        const char *s = cg_read(cg, file);
        size_t kl = strlen(key);
        for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strneq(l, key, kl) && l[kl] == ' ')
                        return atoll(l + kl + 1);
        return -1;
}

static void cg_make(const char *cg)
{
        char p[512];
        snprintf(p, sizeof p, "%s/%s", scratch, cg);
        if (mkdir(p, 0755) < 0)
                TEST_FAIL("mkdir %s: %s", p, strerror(errno));
}

static int cg_open(const char *cg)
{
        char p[512];
        snprintf(p, sizeof p, "%s/%s", scratch, cg);
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                TEST_FAIL("open %s: %s", p, strerror(errno));
        return fd;
}

/* Starts a child directly inside cg (clone3 CLONE_INTO_CGROUP); in the child, runs fn and _exits. */
static pid_t spawn_into(const char *cg, void (*fn)(void))
{
        int cgfd = cg_open(cg);
        struct clone_args args = {
                .flags = CLONE_INTO_CGROUP,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t)cgfd,
        };
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0) {
                fn();
                _exit(0);
        }
        int e = errno;
        close(cgfd);
        if (pid < 0)
                TEST_FAIL("clone3(CLONE_INTO_CGROUP) into %s: %s", cg, strerror(e));
        return (pid_t)pid;
}

static void touch_anon(size_t bytes)
{
        char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                _exit(90);
        for (size_t i = 0; i < bytes; i += 4096)
                m[i] = 1;
}

static void child_idle(void)
{
        pause();
}

static void child_touch_256m(void)
{
        touch_anon(256 * MiB);
}

static void child_touch_64m_and_wait(void)
{
        touch_anon(64 * MiB);
        pause();
}

static void child_report_cgroup(void)
{
        char buf[256];
        if (read_file("/proc/self/cgroup", buf, sizeof buf) < 0)
                _exit(2);
        size_t n = strlen(buf);
        _exit(strneq(buf, "0::/vmcheck-", 12) && n > 6 && streq(buf + n - 6, "/clone") ? 0 : 1);
}

static double now_sec(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Kills and removes everything under dir, depth first; used at exit so a failed check leaves nothing. */
static void cg_purge(const char *dir)
{
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                                char p[512];
                                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                                cg_purge(p);
                        }
                closedir(d);
        }
        char p[512];
        snprintf(p, sizeof p, "%s/cgroup.kill", dir);
        (void)write_file(p, "1");
        /* Killed members leave the cgroup asynchronously; rmdir says EBUSY until they have. */
        for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
                usleep(20000);
}

static void purge_scratch(void)
{
        if (scratch[0])
                cg_purge(scratch);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* Every test starts here: refuse (77) outside a vm-run guest, then make the scratch cgroup once. The
 * harness runs tests in no promised order, so none may rely on another having run. */
static void require_guest(void)
{
        struct statfs sfs;
        if (statfs(CGROOT, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
                test_skip(CGROOT " is not a cgroup2 mount: run this under tests/vm/vm-run");
        if (!getenv("OOMLESS_VM"))
                test_skip(
                    "OOMLESS_VM is not set: this test only writes to the root cgroup of a vm-run guest");
        if (getuid() != 0)
                test_skip("not root");
        if (scratch[0])
                return;
        snprintf(scratch, sizeof scratch, CGROOT "/vmcheck-%d", (int)getpid());
        if (mkdir(scratch, 0755) < 0)
                TEST_FAIL("mkdir %s: %s", scratch, strerror(errno));
        atexit(purge_scratch);
        ASSERT_OK(cg_write("", "cgroup.subtree_control", "+memory +pids +cpu +io"));
}

/* What vm-run promises: root in the root cgroup, only cgroup2, every controller on at the root, an
 * overlay root, tmpfs scratch mounts, and a working directory that reaches the host. */
TEST(guest_environment)
{
        require_guest();
        struct statfs sfs;
        char buf[4096], ctl[4096];
        ASSERT_TRUE(read_file("/proc/self/cgroup", buf, sizeof buf) >= 0);
        ASSERT_STREQ(buf, "0::/");
        ASSERT_TRUE(read_file(CGROOT "/cgroup.controllers", ctl, sizeof ctl) >= 0);
        ASSERT_TRUE(read_file(CGROOT "/cgroup.subtree_control", buf, sizeof buf) >= 0);
        ASSERT_STREQ(buf, ctl);
        for (const char *c = "memory\0pids\0cpu\0io\0"; *c; c += strlen(c) + 1)
                if (!strstr(ctl, c))
                        TEST_FAIL("controller %s missing from the root's cgroup.controllers: %s", c, ctl);

        FILE *f = fopen("/proc/self/mounts", "re");
        ASSERT_TRUE(f != NULL);
        char line[1024];
        while (fgets(line, sizeof line, f))
                if (strstr(line, " cgroup "))
                        TEST_FAIL("a cgroup v1 hierarchy is mounted in the guest: %s", line);
        fclose(f);

        ASSERT_TRUE(statfs("/", &sfs) == 0);
        ASSERT_EQ(sfs.f_type, OVERLAYFS_SUPER_MAGIC);
        for (const char *d = "/tmp\0/run\0/dev/shm\0"; *d; d += strlen(d) + 1) {
                ASSERT_TRUE(statfs(d, &sfs) == 0);
                if (sfs.f_type != TMPFS_MAGIC)
                        TEST_FAIL("%s is not a tmpfs (f_type 0x%lx)", d, (unsigned long)sfs.f_type);
        }
        /* The working directory reaches the host: a file made here is visible through the shared root. */
        int fd = open(".vm-check-probe", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                TEST_FAIL("the working directory is not writable: %s", strerror(errno));
        close(fd);
        ASSERT_TRUE(unlink(".vm-check-probe") == 0);
}

/* A cgroup that has members cannot enable controllers for children ("no internal processes"); moving
 * the member into a leaf of its own first is what oomless's evacuation does. */
TEST(no_internal_processes_and_evacuation)
{
        require_guest();
        cg_make("parent");
        pid_t pid = spawn_into("parent", child_idle);
        ASSERT_EQ(cg_write("parent", "cgroup.subtree_control", "+memory"), -EBUSY);
        cg_make("parent/supervisor");
        char s[32];
        snprintf(s, sizeof s, "%d", (int)pid);
        ASSERT_OK(cg_write("parent/supervisor", "cgroup.procs", s));
        ASSERT_OK(cg_write("parent", "cgroup.subtree_control", "+memory +pids"));
        ASSERT_STREQ(cg_read("parent", "cgroup.subtree_control"), "memory pids");
        cg_make("parent/workload");
        ASSERT_OK(cg_write("parent/workload", "memory.max", "64M"));
        ASSERT_STREQ(cg_read("parent/workload", "memory.max"), "67108864");
        kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
}

TEST(limits_write_and_read_back)
{
        require_guest();
        cg_make("limits");
        ASSERT_OK(cg_write("limits", "memory.max", "256M"));
        ASSERT_STREQ(cg_read("limits", "memory.max"), "268435456");
        ASSERT_OK(cg_write("limits", "memory.high", "200M"));
        ASSERT_STREQ(cg_read("limits", "memory.high"), "209715200");
        ASSERT_OK(cg_write("limits", "memory.swap.max", "0"));
        ASSERT_STREQ(cg_read("limits", "memory.swap.max"), "0");
        ASSERT_OK(cg_write("limits", "memory.oom.group", "1"));
        ASSERT_STREQ(cg_read("limits", "memory.oom.group"), "1");
        ASSERT_OK(cg_write("limits", "memory.max", "max"));
        ASSERT_STREQ(cg_read("limits", "memory.max"), "max");
}

TEST(clone_into_cgroup)
{
        require_guest();
        cg_make("clone");
        int st;
        pid_t pid = spawn_into("clone", child_report_cgroup);
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* memory.max 32M, no swap: a 256M toucher is SIGKILLed and memory.events counts the kill. */
TEST(oom_kill_counted_in_memory_events)
{
        require_guest();
        cg_make("oom");
        ASSERT_OK(cg_write("oom", "memory.max", "32M"));
        ASSERT_OK(cg_write("oom", "memory.swap.max", "0"));
        int st;
        pid_t pid = spawn_into("oom", child_touch_256m);
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
                TEST_FAIL("the toucher was not OOM-killed: status 0x%x", st);
        ASSERT_TRUE(cg_key("oom", "memory.events", "oom_kill") >= 1);
        ASSERT_TRUE(cg_key("oom", "memory.events", "max") >= 1);
}

/* memory.high 16M throttles a 64M toucher; a PSI trigger on the leaf's memory.pressure wakes poll. */
TEST(psi_trigger_fires)
{
        require_guest();
        cg_make("psi");
        ASSERT_OK(cg_write("psi", "memory.high", "16M"));
        char p[512];
        snprintf(p, sizeof p, "%s/psi/memory.pressure", scratch);
        int fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        const char *trigger = "some 150000 1000000";
        ASSERT_EQ(write(fd, trigger, strlen(trigger) + 1), (ssize_t)strlen(trigger) + 1);
        pid_t pid = spawn_into("psi", child_touch_64m_and_wait);
        struct pollfd pfd = { .fd = fd, .events = POLLPRI };
        double t0 = now_sec();
        int r = poll(&pfd, 1, 30000);
        printf("PSI trigger: poll=%d revents=0x%x after %.2fs\n", r, pfd.revents, now_sec() - t0);
        ASSERT_EQ(r, 1);
        ASSERT_TRUE(pfd.revents & POLLPRI);
        ASSERT_TRUE(cg_key("psi", "memory.events", "high") > 0);
        kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        close(fd);
}

/* cgroup.kill takes every member; cgroup.events then reports populated 0 through POLLPRI. */
TEST(cgroup_kill_and_populated_event)
{
        require_guest();
        cg_make("kill");
        pid_t pids[3];
        for (int i = 0; i < 3; i++)
                pids[i] = spawn_into("kill", child_idle);
        char p[512], buf[256];
        snprintf(p, sizeof p, "%s/kill/cgroup.events", scratch);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(pread(fd, buf, sizeof buf - 1, 0) > 0);
        ASSERT_OK(cg_write("kill", "cgroup.kill", "1"));
        for (int i = 0; i < 3; i++) {
                int st;
                ASSERT_EQ(waitpid(pids[i], &st, 0), pids[i]);
                ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        }
        struct pollfd pfd = { .fd = fd, .events = POLLPRI };
        for (double t0 = now_sec(); now_sec() - t0 < 10;) {
                ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
                buf[n > 0 ? n : 0] = 0;
                if (strstr(buf, "populated 0"))
                        break;
                (void)poll(&pfd, 1, 1000);
        }
        if (!strstr(buf, "populated 0"))
                TEST_FAIL("cgroup.events still says: %s", buf);
        close(fd);
}

/* Writing a byte count to memory.reclaim shrinks a leaf holding clean page cache. The cache comes from
 * the shared working directory (virtiofs): /tmp and the overlay's upper layer are tmpfs, whose pages
 * are shmem and cannot be dropped without swap. */
static int reclaim_pipe[2];
static void child_fill_cache(void)
{
        static char block[1 << 16];
        int fd = open(".vm-check-cache", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                _exit(91);
        for (int i = 0; i < 512; i++)
                if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
                        _exit(92);
        if (fsync(fd) < 0 || write(reclaim_pipe[1], "x", 1) != 1)
                _exit(93);
        pause();
}

TEST(memory_reclaim)
{
        require_guest();
        cg_make("reclaim");
        ASSERT_TRUE(pipe2(reclaim_pipe, O_CLOEXEC) == 0);
        pid_t pid = spawn_into("reclaim", child_fill_cache);
        char c;
        ASSERT_EQ(read(reclaim_pipe[0], &c, 1), 1);
        long long before = atoll(cg_read("reclaim", "memory.current"));
        long long file = cg_key("reclaim", "memory.stat", "file");
        int r = cg_write("reclaim", "memory.reclaim", "10M");
        long long after = atoll(cg_read("reclaim", "memory.current"));
        printf("memory.reclaim 10M: r=%d file=%lld current %lld -> %lld\n", r, file, before, after);
        kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        (void)unlink(".vm-check-cache");
        ASSERT_TRUE(file >= 16 * MiB);
        ASSERT_TRUE(r == 0 || r == -EAGAIN);
        ASSERT_TRUE(after < before);
}

/* The observe tier's test setup: a read-only bind of /sys/fs/cgroup in a private mount namespace
 * refuses writes with EROFS while reads keep working. */
TEST(read_only_cgroupfs_in_private_namespace)
{
        require_guest();
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount(CGROOT, CGROOT, NULL, MS_BIND, NULL) < 0 ||
                    mount(NULL, CGROOT, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
                        _exit(10);
                char p[512], buf[256];
                snprintf(p, sizeof p, "%s/ro-probe", scratch);
                if (mkdir(p, 0755) == 0 || errno != EROFS)
                        _exit(11);
                snprintf(p, sizeof p, "%s/cgroup.procs", scratch);
                if (write_file(p, "0") != -EROFS)
                        _exit(12);
                if (read_file(CGROOT "/cgroup.controllers", buf, sizeof buf) <= 0)
                        _exit(13);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ(WEXITSTATUS(st), 0);
        /* The host side of the namespace stayed writable. */
        cg_make("still-writable");
}

TEST_MAIN()
