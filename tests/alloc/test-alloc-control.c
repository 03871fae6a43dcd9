/* SPDX-License-Identifier: MIT */
/*
 * The control page, allocator side. The test plays the supervisor: it creates the control file
 * (and the wake FIFO) as include/oomless/control.h describes, starts a child (this binary, "child",
 * under LD_PRELOAD) with OOMLESS_CONTROL/OOMLESS_WAKE set, then writes stage, cap, wake watermark
 * and scavenge requests under the seqlock, and checks that the child's allocator delivers the stage
 * to its callback, obeys the cap, serves the scavenge (scavenge_ack), publishes its figures, and
 * pokes the FIFO when its heap crosses the watermark. A page with a bad magic gets one warning and
 * the child runs standalone. The example cache-app sheds its cache when the stage rises. A page that
 * appears only after the child started, in a child whose background thread cannot be created
 * (alloc-nothread.c), is still found: by its slow paths (about 0.5 s). Cap hits under the
 * supervisor's cap open no cgroup file (alloc-stall.c counts opens; about 0.4 s).
 */
#include <fcntl.h>
#include <poll.h>
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
#include "alloc-nothread.h"
#include "alloc-stall.h"

static const char *lib;
static const char *cache_app; /* examples/workloads/cache-app, optional */
static char self[1024];
static char dir[256];

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- child side ---- */

static volatile int seen_stage = -1, seen_prev = -1, stage_calls;

static void on_stage(int stage, int prev, void *ud)
{
        seen_prev = prev;
        seen_stage = stage;
        stage_calls++;
}

static int child_main(void)
{
        if (!oomless_available())
                return 3;
        if (oomless_try_on_stage(on_stage, NULL) < 0)
                return 4;
        /* Phase 1: wait (allocating a little, as real programs do) for stage 2. */
        for (int i = 0; i < 500 && seen_stage != 2; i++) {
                free(malloc(100));
                at_sleep_ms(10);
        }
        if (seen_stage != 2 || seen_prev != 0 || oomless_try_stage() != 2)
                return 5;
        /* Phase 2: grow past the wake watermark (32 MiB), then until the supervisor's cap (64 MiB). */
        unsigned long long total = 0;
        for (;;) {
                void *p = malloc(1 << 20);
                if (!p)
                        break;
                memset(p, 1, 1 << 20);
                total += 1 << 20;
                if (total > (512ull << 20))
                        return 6;
        }
        if (errno != ENOMEM)
                return 7;
        printf("%llu\n", total);
        fflush(stdout);
        /* Phase 3: stay alive so the supervisor can ask for a scavenge and read the figures. */
        at_sleep_ms(3000);
        return 0;
}

/* Without a background thread: large allocations (slow paths) until the page that appears later
 * is found and says stage 2. Prints "ok REFUSED" (the threads refused) or "timeout REFUSED". */
static int child_late_main(void)
{
        bool ok = false;
        for (int i = 0; i < 500 && !ok; i++) {
                void *volatile p = malloc(1 << 20);
                free(p);
                ok = oomless_try_stage() == 2;
                at_sleep_ms(10);
        }
        printf("%s %u\n", ok ? "ok" : "timeout", alloc_nothread_refused());
        fflush(stdout);
        return 0;
}

/* Under the supervisor's cap, 20 cap hits 12 ms apart (each may refresh the default cap). Prints
 * "opens N" (the files opened meanwhile), or "unsupervised CAP". */
static int child_hits_main(void)
{
        struct oomless_stats st = { .size = sizeof(st) };
        free(malloc(16));
        oomless_try_stats(&st);
        if (st.cap != (64ull << 20)) {
                printf("unsupervised %llu\n", (unsigned long long)st.cap);
                return 0;
        }
        unsigned before = alloc_stall_opens();
        for (int i = 0; i < 20; i++) {
                void *volatile p = malloc(1ull << 30); /* over the whole cap: a hit, ENOMEM */
                free(p);
                at_sleep_ms(12);
        }
        printf("opens %u\n", alloc_stall_opens() - before);
        fflush(stdout);
        return 0;
}

/* ---- supervisor side ---- */

static pid_t spawn(const char *ctl, const char *wake, int *out_fd, int *err_fd)
{
        pid_t pid = at_fork_piped(out_fd, err_fd);
        if (pid == 0) {
                char e1[1200], e2[300], e3[300];
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
                snprintf(e3, sizeof(e3), "%s=%s", OOMLESS_WAKE_ENV, wake);
                char *envp[] = { e1, e2, e3, (char *)"OOMLESS_HEAP_CAP=1G", NULL };
                char *argv[] = { self, (char *)"child", NULL };
                execve(self, argv, envp);
                _exit(99);
        }
        return pid;
}

static bool wait_for(struct oomless_control *c, struct oomless_control_alloc *a,
                     bool (*pred)(const struct oomless_control_alloc *), long ms)
{
        for (long t = 0; t < ms; t += 10) {
                if (ap_alloc_read(c, a) && pred(a))
                        return true;
                at_sleep_ms(10);
        }
        return false;
}

static bool published(const struct oomless_control_alloc *a)
{
        return a->pid != 0 && a->heap_held > 0;
}
static bool stage2(const struct oomless_control_alloc *a)
{
        return a->stage_seen == 2;
}
static bool capped(const struct oomless_control_alloc *a)
{
        return a->cap_hits >= 1;
}
static bool acked(const struct oomless_control_alloc *a)
{
        return a->scavenge_ack == 7;
}

TEST(supervised_child)
{
        char ctl[300], wake[300];
        snprintf(ctl, sizeof(ctl), "%s/control", dir);
        snprintf(wake, sizeof(wake), "%s/wake", dir);
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        ASSERT_EQ(mkfifo(wake, 0600), 0);
        int wfd = open(wake, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ASSERT_TRUE(wfd >= 0);
        ap_sup_write(c, 0, 64ull << 20, 0, 32ull << 20);

        int out, err;
        pid_t pid = spawn(ctl, wake, &out, &err);
        struct oomless_control_alloc a;
        ASSERT_TRUE(wait_for(c, &a, published, 5000));
        ASSERT_EQ(a.pid, pid);
        ASSERT_U64_EQ(a.heap_cap, 64ull << 20); /* the supervisor's cap overrides OOMLESS_HEAP_CAP=1G */
        ASSERT_TRUE(a.updated_ns <= now_ns() && a.updated_ns + 5000000000ull > now_ns());

        ap_sup_write(c, 2, 64ull << 20, 0, 32ull << 20);
        ASSERT_TRUE(wait_for(c, &a, stage2, 5000));

        /* The child now grows to the cap; it crosses the watermark on the way. */
        ASSERT_TRUE(wait_for(c, &a, capped, 10000));
        struct pollfd pfd = { .fd = wfd, .events = POLLIN };
        ASSERT_EQ(poll(&pfd, 1, 2000), 1);
        char b;
        ASSERT_EQ(read(wfd, &b, 1), 1);
        char buf[256] = "";
        ssize_t n = read(out, buf, sizeof(buf) - 1);
        ASSERT_TRUE(n > 0);
        buf[n] = 0;
        unsigned long long total = strtoull(buf, NULL, 10);
        printf("  child reached %llu MiB under a 64 MiB cap\n", total >> 20);
        ASSERT_TRUE(total <= (64ull << 20) && total >= (54ull << 20));

        uint64_t returned_before = a.heap_returned, scav_before = a.scavenges;
        ap_sup_write(c, 2, 64ull << 20, 7, 32ull << 20);
        ASSERT_TRUE(wait_for(c, &a, acked, 5000));
        ASSERT_TRUE(a.scavenges > scav_before);
        ASSERT_TRUE(a.heap_returned >= returned_before);
        ASSERT_TRUE(a.heap_in_use <= a.heap_held);
        ASSERT_TRUE(a.heap_held <= (64ull << 20) + (4ull << 20));

        int status = at_wait(pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                TEST_FAIL("child status 0x%x", status);
        close(out);
        close(err);
        close(wfd);
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(bad_magic_runs_standalone)
{
        char ctl[300];
        snprintf(ctl, sizeof(ctl), "%s/control-bad", dir);
        struct oomless_control *c = ap_make_file(ctl, 0x1234);
        int out, err;
        pid_t pid = spawn(ctl, "/nonexistent", &out, &err);
        char buf[1024] = "";
        ssize_t n = read(err, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        printf("  stderr: %s", buf);
        ASSERT_TRUE(strstr(buf, "ignoring OOMLESS_CONTROL=") && strstr(buf, "bad magic"));
        kill(pid, SIGKILL); /* it waits for a stage that never comes */
        at_wait(pid);
        close(out);
        close(err);
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(cache_app_sheds_on_stage)
{
        /* The example workload under a control page: raising the stage makes it shed its cache. */
        if (!cache_app) {
                printf("  (no cache-app path given; not run)\n");
                return;
        }
        char ctl[300];
        snprintf(ctl, sizeof(ctl), "%s/control-app", dir);
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        ap_sup_write(c, 0, 0, 0, 0);
        int out;
        pid_t pid = at_fork_piped(&out, NULL);
        if (pid == 0) {
                char e1[1200], e2[400];
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
                char *envp[] = { e1, e2, NULL };
                execle(cache_app, cache_app, "--cache-mib", "64", "--seconds", "4", "--quiet", (char *)NULL,
                       envp);
                _exit(99);
        }
        at_sleep_ms(1000);
        ap_sup_write(c, 1, 0, 0, 0);
        at_sleep_ms(800);
        ap_sup_write(c, 2, 0, 0, 0);
        char buf[4096];
        at_read_all(out, buf, sizeof(buf));
        close(out);
        int status = at_wait(pid);
        printf("%s", buf);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(strstr(buf, "liboomless present") != NULL);
        ASSERT_TRUE(strstr(buf, "stage 0 -> 1") != NULL);
        ASSERT_TRUE(strstr(buf, "stage 1 -> 2, cache now 0 entries") != NULL);
        munmap(c, OOMLESS_CONTROL_SIZE);
}

/* This test binary re-run as MODE under liboomless, with the page at ctl and one more variable;
 * returns its pid, its stdout in *out. */
static pid_t spawn_child(const char *ctl, const char *extra_env, const char *mode, int *out)
{
        pid_t pid = at_fork_piped(out, NULL);
        if (pid == 0) {
                char e1[1200], e2[400];
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
                char *envp[] = { e1, e2, (char *)extra_env, NULL };
                char *argv[] = { self, (char *)mode, NULL };
                execve(self, argv, envp);
                _exit(99);
        }
        return pid;
}

TEST(late_page_without_background_thread)
{
        char ctl[300], tmp[300], buf[256] = "";
        snprintf(ctl, sizeof(ctl), "%s/control-late", dir);
        snprintf(tmp, sizeof(tmp), "%s/control-late.tmp", dir);
        int out;
        pid_t pid = spawn_child(ctl, "TEST_NO_THREADS=1", "child-late", &out);
        at_sleep_ms(300); /* the child is up, its page pending, its background thread refused */
        /* As the supervisor does: complete under another name, then renamed into place. */
        struct oomless_control *c = ap_make_file(tmp, OOMLESS_CONTROL_MAGIC);
        ap_sup_write(c, 2, 0, 0, 0);
        ASSERT_EQ(rename(tmp, ctl), 0);
        at_read_all(out, buf, sizeof(buf));
        close(out);
        int status = at_wait(pid);
        printf("  child: %s", buf);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(strncmp(buf, "ok ", 3) == 0);
        ASSERT_TRUE(strtoul(buf + 3, NULL, 10) >= 1); /* it did try to start the thread */
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(cap_hits_under_supervisor_cap_read_no_cgroup_files)
{
        char ctl[300], buf[256] = "";
        snprintf(ctl, sizeof(ctl), "%s/control-hits", dir);
        struct oomless_control *c = ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
        ap_sup_write(c, 0, 64ull << 20, 0, 0);
        int out;
        pid_t pid = spawn_child(ctl, "OOMLESS_BACKGROUND=0", "child-hits", &out);
        at_read_all(out, buf, sizeof(buf));
        close(out);
        int status = at_wait(pid);
        printf("  child: %s", buf);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_STREQ(buf, "opens 0\n");
        munmap(c, OOMLESS_CONTROL_SIZE);
}

static void cleanup(void)
{
        char p[300];
        snprintf(p, sizeof(p), "%s/control", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/control-bad", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/control-app", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/control-hits", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/control-late", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/control-late.tmp", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/wake", dir);
        unlink(p);
        rmdir(dir);
}

int main(int argc, char **argv)
{
        if (argc >= 2 && strcmp(argv[1], "child") == 0)
                return child_main();
        if (argc >= 2 && strcmp(argv[1], "child-late") == 0)
                return child_late_main();
        if (argc >= 2 && strcmp(argv[1], "child-hits") == 0)
                return child_hits_main();
        if (argc < 2)
                TEST_FAIL("usage: %s /path/to/liboomless.so", argv[0]);
        lib = argv[1];
        if (argc >= 3 && argv[2][0] == '/') {
                cache_app = argv[2];
                argv++;
                argc--;
        }
        at_setup_self_and_dir(self, sizeof(self), dir, sizeof(dir), "alloc-control", cleanup);
        return test_main(argc - 1, argv + 1);
}
